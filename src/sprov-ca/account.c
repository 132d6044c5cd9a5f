/*
 * sprov-ca account: the provider accounts of the portal and EST, in the
 * CA directory's portal.db (see account.h): organisations, the domains
 * each may obtain server certificates for, and their users.  Passwords
 * come from a file (first line), never from the command line, where
 * other users of the machine could read them in the process list.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sprov/account.h"
#include "sprov/fsutil.h"
#include "sprov-ca/sprov-ca.h"

static int
row_print(void *arg, const struct sp_account_row *r)
{
	char when[32] = "never";
	struct tm tm;

	(void)arg;
	switch (r->kind) {
	case SP_ACCOUNT_ORG:
		printf("org %s\n", r->org);
		break;
	case SP_ACCOUNT_DOMAIN:
		printf("  domain %s\n", r->name);
		break;
	case SP_ACCOUNT_USER:
		if (r->last_login != 0 && gmtime_r(&r->last_login, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
		printf("  user %s%s (last login %s)\n", r->name, r->disabled ?
		    " [disabled]" : "", when);
		break;
	}
	return 0;
}

#define ARGS(n) (o->argc == (n))
#define SUB(s) (strcmp(o->argv[0], (s)) == 0)

int
cmd_account(struct ca_opts *o)
{
	struct sp_accounts *a = NULL;
	struct sp_err err;
	char path[PATH_MAX], *pw = NULL;
	int rc = EXIT_ERR, r = -1;

	if (o->argc < 1)
		return fail("account: a subcommand is needed (org-add, "
		    "domain-add, domain-remove, user-add, passwd, disable, "
		    "enable, list)");
	if (snprintf(path, sizeof(path), "%s/portal.db", o->dir) >=
	    (int)sizeof(path))
		return fail("account: CA directory path too long");
	/* Passwords first: nothing is opened for a bad password file. */
	if ((SUB("user-add") && ARGS(3)) || (SUB("passwd") && ARGS(2))) {
		if (o->passfile == NULL)
			return fail("account %s: --passphrase-file F gives the "
			    "password (first line)", o->argv[0]);
		if (read_passphrase(o->passfile, &pw) != 0)
			return EXIT_ERR;
	}
	if ((a = sp_accounts_open(path, &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	if (SUB("org-add") && ARGS(2))
		r = sp_accounts_org_add(a, o->argv[1]);
	else if (SUB("domain-add") && ARGS(3))
		r = sp_accounts_domain_add(a, o->argv[1], o->argv[2]);
	else if (SUB("domain-remove") && ARGS(3))
		r = sp_accounts_domain_remove(a, o->argv[1], o->argv[2]);
	else if (SUB("user-add") && ARGS(3))
		r = sp_accounts_user_add(a, o->argv[1], o->argv[2], pw);
	else if (SUB("passwd") && ARGS(2))
		r = sp_accounts_password_set(a, o->argv[1], pw);
	else if ((SUB("disable") || SUB("enable")) && ARGS(2))
		r = sp_accounts_user_disable(a, o->argv[1], SUB("disable"));
	else if (SUB("list") && ARGS(1))
		r = sp_accounts_list(a, row_print, NULL);
	else {
		fail("account: usage: account org-add ORG | domain-add ORG "
		    "DOMAIN | domain-remove ORG DOMAIN | user-add ORG USER "
		    "--passphrase-file F | passwd USER --passphrase-file F | "
		    "disable USER | enable USER | list");
		goto out;
	}
	if (r == -1) {
		fail("account %s: %s", o->argv[0], sp_accounts_error(a));
		goto out;
	}
	rc = EXIT_OK;
out:
	free_passphrase(pw);
	sp_accounts_close(a);
	return rc;
}
