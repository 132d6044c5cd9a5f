/*
 * The operator's side of the portal's queue mode (sprov-ca requests,
 * approve, reject) and its audit trail (sprov-ca audit).  approve runs
 * where the CA key is (offline, with the passphrase), re-checks the
 * request as the portal did (policy, the organisation's domains today),
 * signs, records in the index, then hands the certificate to portal.db
 * for the provider to download.  It also carries out a revocation a
 * provider asked for.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sprov/account.h"
#include "sprov/ca.h"
#include "sprov/certreq.h"
#include "sprov/x509.h"
#include "sprov-ca/sprov-ca.h"

#define OPERATOR	"operator"

struct sp_accounts *
open_portal_db(const struct ca_opts *o, bool create, bool *failed)
{
	struct sp_accounts *a;
	struct sp_err err;
	char path[PATH_MAX];

	*failed = false;
	if (snprintf(path, sizeof(path), "%s/portal.db", o->dir) >=
	    (int)sizeof(path)) {
		*failed = true;
		fail("CA directory path too long");
		return NULL;
	}
	if (!create && access(path, F_OK) == -1 && errno == ENOENT)
		return NULL;
	if ((a = sp_accounts_open(path, &err)) == NULL) {
		*failed = true;
		fail("%s", err.msg);
	}
	return a;
}

static struct sp_accounts *
portal_db(const struct ca_opts *o)
{
	bool failed;

	return open_portal_db(o, true, &failed);
}

static int
parse_id(const char *s, long long *id)
{
	char *end;

	errno = 0;
	*id = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *id <= 0)
		return fail("%s: not a request number", s);
	return 0;
}

static void
audit(struct sp_accounts *a, const struct sp_certreq *r, const char *action,
    const char *outcome, const char *detail)
{
	struct sp_portal_audit e;
	char obj[32];

	snprintf(obj, sizeof(obj), "%lld", r->id);
	memset(&e, 0, sizeof(e));
	e.actor = OPERATOR;
	e.org = r->org;
	e.action = action;
	e.object = obj;
	e.outcome = outcome;
	e.detail = detail;
	if (sp_portal_audit_add(a, &e) == -1)
		fail("audit: %s", sp_accounts_error(a));
}

static int
row_print(void *arg, const struct sp_certreq *r)
{
	char when[32];
	struct tm tm;

	(void)arg;
	when[0] = '\0';
	if (gmtime_r(&r->created, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (strcmp(r->state, "pending") == 0)
		printf("%lld\t%s\t%s\t%s\t%s\t%d days\t%s\t%s\n", r->id,
		    r->reenroll ? "reenroll" : "sign", r->org, r->user, r->cn,
		    r->days, r->via, when);
	else
		printf("%lld\trevoke\t%s\t%s\t%s\tserial %s\t%s\t%s\n", r->id,
		    r->org, r->user, r->cn, r->serial, r->via, when);
	return 0;
}

int
cmd_requests(struct ca_opts *o)
{
	struct sp_accounts *a;
	int rc = EXIT_OK;

	if ((a = portal_db(o)) == NULL)
		return EXIT_ERR;
	if (sp_certreq_list(a, NULL, true, row_print, NULL) == -1)
		rc = fail("requests: %s", sp_accounts_error(a));
	sp_accounts_close(a);
	return rc;
}

/*
 * A re-enrolment waited for the operator: the certificate that asked must
 * still be this CA's server certificate, in the index, unrevoked,
 * unexpired, and for the same CN.  0, or -1 with the reason said.
 */
static int
reenroll_check(struct sp_ca *ca, const struct sp_certreq *r,
    const struct sp_csr_info *info)
{
	const unsigned char *p = r->prev;
	struct sp_err err;
	char cn[SP_CN_MAX + 1];
	X509 *old;
	int rc = -1;

	if ((old = d2i_X509(NULL, &p, (long)r->prevlen)) == NULL)
		fail("request %lld: the stored certificate that asked is "
		    "damaged (reject it with --why)", r->id);
	else if (sp_ca_check_current(ca, old, SP_CA_SERVER, SP_KIND_SERVER,
	    time(NULL)) == -1)
		fail("request %lld: re-enrolment: %s (reject it with --why)",
		    r->id, sp_ca_error(ca));
	else if (sp_x509_name_cn(X509_get_subject_name(old), cn, sizeof(cn),
	    &err) == -1 || strcmp(cn, info->cn) != 0)
		fail("request %lld: re-enrolment: the CSR's CN differs from "
		    "the certificate that asked (reject it with --why)", r->id);
	else
		rc = 0;
	X509_free(old);
	return rc;
}

/* A pending request: checked again, signed, recorded, handed over. */
static int
approve_sign(const struct ca_opts *o, struct sp_accounts *a,
    struct sp_certreq *r)
{
	struct sp_csr_info info;
	struct sp_err err;
	const unsigned char *p = r->csr;
	struct sp_ca *ca = NULL;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	char serial[80];
	int rc = EXIT_ERR, intx = 0;

	if ((req = d2i_X509_REQ(NULL, &p, (long)r->csrlen)) == NULL ||
	    sp_x509_csr_check(req, &info, &err) == -1) {
		fail("request %lld: %s", r->id, req == NULL ? "the stored CSR "
		    "is damaged" : err.msg);
		goto out;
	}
	if (sp_accounts_domain_allowed(a, r->org, info.fqdn) != 1) {
		fail("request %lld: %s is no longer among the domains of %s "
		    "(reject it with --why)", r->id, info.fqdn, r->org);
		goto out;
	}
	if ((ca = open_ca(o, false)) == NULL)
		goto out;
	if (r->prev != NULL && reenroll_check(ca, r, &info) == -1)
		goto out;
	if ((x = sp_ca_sign_server(ca, req, r->days, &info)) == NULL ||
	    sp_ca_begin(ca) == -1 || (intx = 1, sp_ca_record(ca, x,
	    SP_KIND_SERVER, SP_CA_SERVER, NULL) == -1) ||
	    sp_ca_commit(ca) == -1) {
		fail("request %lld: %s", r->id, sp_ca_error(ca));
		goto out;
	}
	intx = 0;
	sp_x509_serial_hex(x, serial, sizeof(serial));
	if (sp_certreq_issue(a, r->id, x, OPERATOR) == -1) {
		fail("request %lld: signed as serial %s and recorded in the "
		    "index, but portal.db refused it: %s", r->id, serial,
		    sp_accounts_error(a));
		goto out;
	}
	audit(a, r, "approve", "issued", serial);
	printf("request %lld: signed CN=%s for %s, serial %s\n", r->id,
	    info.cn, r->org, serial);
	rc = EXIT_OK;
out:
	if (intx)
		sp_ca_rollback(ca);
	X509_free(x);
	X509_REQ_free(req);
	sp_ca_free(ca);
	return rc;
}

static int
approve_revoke(const struct ca_opts *o, struct sp_accounts *a,
    struct sp_certreq *r)
{
	struct sp_ca *ca;
	int rc = EXIT_ERR;

	if ((ca = open_ca(o, false)) == NULL)
		return EXIT_ERR;
	if (sp_ca_begin(ca) == -1 || sp_ca_revoke_serial(ca, r->serial,
	    r->revoke_reason) == -1 || sp_ca_commit(ca) == -1) {
		fail("request %lld: %s", r->id, sp_ca_error(ca));
		sp_ca_rollback(ca);
		goto out;
	}
	if (sp_certreq_revoke_done(a, r->id, r->revoke_reason) == -1)
		fail("request %lld: revoked in the index, but portal.db "
		    "refused it: %s", r->id, sp_accounts_error(a));
	audit(a, r, "approve-revoke", "revoked", r->serial);
	printf("request %lld: revoked serial %s (%s)\npublish it with: "
	    "sprov-ca -d %s crl --ca server\n", r->id, r->serial,
	    sp_x509_reason_name(r->revoke_reason), o->dir);
	rc = EXIT_OK;
out:
	sp_ca_free(ca);
	return rc;
}

int
cmd_approve(struct ca_opts *o)
{
	struct sp_accounts *a;
	struct sp_certreq r;
	long long id;
	int rc = EXIT_ERR, got;

	memset(&r, 0, sizeof(r));
	if (parse_id(o->argv[0], &id) == -1 || (a = portal_db(o)) == NULL)
		return EXIT_ERR;
	if ((got = sp_certreq_get(a, id, &r)) != 0)
		fail("approve: %s", got == 1 ? "no such request" :
		    sp_accounts_error(a));
	else if (strcmp(r.state, "pending") == 0)
		rc = approve_sign(o, a, &r);
	else if (strcmp(r.state, "issued") == 0 &&
	    strcmp(r.revoke, "requested") == 0)
		rc = approve_revoke(o, a, &r);
	else
		fail("approve: request %lld is %s%s: nothing waits", id,
		    r.state, strcmp(r.revoke, "done") == 0 ? " and revoked" :
		    "");
	sp_certreq_release(&r);
	sp_accounts_close(a);
	return rc;
}

int
cmd_reject(struct ca_opts *o)
{
	struct sp_accounts *a;
	struct sp_certreq r;
	long long id;
	int rc = EXIT_ERR, got;

	memset(&r, 0, sizeof(r));
	if (o->why == NULL)
		return fail("reject: --why TEXT is needed: the provider sees "
		    "it");
	if (parse_id(o->argv[0], &id) == -1 || (a = portal_db(o)) == NULL)
		return EXIT_ERR;
	if ((got = sp_certreq_get(a, id, &r)) != 0)
		fail("reject: %s", got == 1 ? "no such request" :
		    sp_accounts_error(a));
	else if (sp_certreq_reject(a, id, o->why, OPERATOR) == -1)
		fail("reject: %s", sp_accounts_error(a));
	else {
		audit(a, &r, "reject", "rejected", o->why);
		printf("request %lld rejected\n", id);
		rc = EXIT_OK;
	}
	sp_certreq_release(&r);
	sp_accounts_close(a);
	return rc;
}

/* A field as recorded (a user name typed at the login form, say) may
 * hold anything: printed with control bytes as '?', on one line. */
static void
put_field(const char *v, const char *none, char sep)
{
	const unsigned char *p = (const unsigned char *)(v != NULL ? v : none);

	for (; *p != '\0'; p++)
		putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
	putchar(sep);
}

static int
audit_print(void *arg, const struct sp_portal_audit *e)
{
	char when[32];
	struct tm tm;

	(void)arg;
	when[0] = '\0';
	if (gmtime_r(&e->time, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%lld\t%s\t", e->seq, when);
	put_field(e->actor, "-", '\t');
	put_field(e->org, "-", '\t');
	put_field(e->ip, "local", '\t');
	put_field(e->action, "-", '\t');
	put_field(e->object, "-", '\t');
	put_field(e->outcome, "-", '\t');
	put_field(e->detail, "", '\n');
	return 0;
}

int
cmd_audit(struct ca_opts *o)
{
	struct sp_accounts *a;
	long long n = 0;
	int rc = EXIT_OK;

	if ((a = portal_db(o)) == NULL)
		return EXIT_ERR;
	if (sp_portal_audit_walk(a, o->verify ? NULL : audit_print, NULL,
	    &n) == -1)
		rc = fail("audit: %s", sp_accounts_error(a));
	else if (o->verify)
		printf("audit: %lld entries, chain intact\n", n);
	sp_accounts_close(a);
	return rc;
}
