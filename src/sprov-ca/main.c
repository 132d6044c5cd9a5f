/*
 * sprov-ca: the CA of a sprov deployment.  This file only parses the
 * command line and dispatches; see sprov-ca(1).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sprov/fsutil.h"
#include "sprov/limits.h"
#include "sprov/str.h"
#include "sprov-ca/sprov-ca.h"

enum {
	O_DAYS = 256, O_KEYTYPE, O_ORG, O_PASS, O_CAPASS, O_MAC, O_SERIAL,
	O_MODEL, O_PKCS12, O_RENEW, O_CSV, O_REASON, O_CA, O_KIND, O_REVOKED,
	O_EXPIRING, O_JSON, O_WHY, O_VERIFY,
};

static const struct option longopts[] = {
	{ "dir", required_argument, NULL, 'd' },
	{ "config", required_argument, NULL, 'f' },
	{ "out", required_argument, NULL, 'o' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "days", required_argument, NULL, O_DAYS },
	{ "key-type", required_argument, NULL, O_KEYTYPE },
	{ "org", required_argument, NULL, O_ORG },
	{ "passphrase-file", required_argument, NULL, O_PASS },
	{ "ca-passphrase-file", required_argument, NULL, O_CAPASS },
	{ "mac", required_argument, NULL, O_MAC },
	{ "serial", required_argument, NULL, O_SERIAL },
	{ "model", required_argument, NULL, O_MODEL },
	{ "pkcs12", no_argument, NULL, O_PKCS12 },
	{ "renew", no_argument, NULL, O_RENEW },
	{ "csv", required_argument, NULL, O_CSV },
	{ "reason", required_argument, NULL, O_REASON },
	{ "ca", required_argument, NULL, O_CA },
	{ "kind", required_argument, NULL, O_KIND },
	{ "revoked", no_argument, NULL, O_REVOKED },
	{ "expiring", required_argument, NULL, O_EXPIRING },
	{ "json", no_argument, NULL, O_JSON },
	{ "why", required_argument, NULL, O_WHY },
	{ "verify", no_argument, NULL, O_VERIFY },
	{ NULL, 0, NULL, 0 },
};

/*
 * Each command names the options it takes (by getopt value); anything
 * else is a usage error rather than silently ignored.
 */
static const struct command {
	const char	*name;
	int		 (*fn)(struct ca_opts *);
	int		 minargs, maxargs;
	int		 allowed[12];
	const char	*usage;
} commands[] = {
	{ "init", cmd_init, 0, 0,
	    { O_KEYTYPE, O_DAYS, O_ORG, O_PASS },
	    "init [--key-type ec-p256|ec-p384|rsa2048|rsa3072|rsa4096] "
	    "[--days N] [--org NAME] [--passphrase-file F]" },
	{ "sign-server", cmd_sign_server, 1, 1,
	    { 'o', O_DAYS, O_PASS, O_CAPASS },
	    "sign-server CSR [-o CRT] [--days N]" },
	{ "issue-device", cmd_issue_device, 0, 0,
	    { O_MAC, O_SERIAL, O_MODEL, O_DAYS, 'o', O_PKCS12, O_PASS,
	    O_CAPASS, O_RENEW, O_KEYTYPE },
	    "issue-device --mac MAC [--serial SN] [--model PN] [--days N] "
	    "[-o DIR] [--pkcs12 --passphrase-file F] [--renew] "
	    "[--key-type T]" },
	{ "issue-devices", cmd_issue_devices, 0, 0,
	    { O_CSV, 'o', 'j', O_DAYS, O_KEYTYPE, O_PASS, O_CAPASS, 'q' },
	    "issue-devices --csv FILE -o DIR [-j JOBS] [--days N] "
	    "[--key-type T] [-q]" },
	{ "issue-admin", cmd_issue_admin, 1, 1,
	    { 'o', O_DAYS, O_PKCS12, O_PASS, O_CAPASS, O_KEYTYPE },
	    "issue-admin NAME [-o DIR] [--days N] "
	    "[--pkcs12 --passphrase-file F]" },
	{ "revoke", cmd_revoke, 0, 1,
	    { O_MAC, O_SERIAL, O_REASON, O_PASS, O_CAPASS },
	    "revoke (--mac MAC | --serial HEX | CERTFILE) [--reason R]" },
	{ "crl", cmd_crl, 0, 0,
	    { O_CA, 'o', O_DAYS, O_PASS, O_CAPASS },
	    "crl [--ca device|server|admin] [-o FILE] [--days N]" },
	{ "list", cmd_list, 0, 0,
	    { O_KIND, O_REVOKED, O_EXPIRING, O_JSON, O_MAC },
	    "list [--kind server|device|admin|root] [--revoked] "
	    "[--expiring DAYS] [--mac MAC] [--json]" },
	{ "show", cmd_show, 1, 1, { 0 },
	    "show CERT" },
	{ "serve", cmd_serve, 0, 0, { 'f', O_PASS, O_CAPASS },
	    "serve -f portal.conf [--ca-passphrase-file F]" },
	{ "requests", cmd_requests, 0, 0, { 0 },
	    "requests (those waiting for the operator, queue mode)" },
	{ "approve", cmd_approve, 1, 1, { O_PASS, O_CAPASS },
	    "approve ID [--ca-passphrase-file F]" },
	{ "reject", cmd_reject, 1, 1, { O_WHY },
	    "reject ID --why TEXT" },
	{ "audit", cmd_audit, 0, 0, { O_VERIFY },
	    "audit [--verify] (the portal's audit trail)" },
	{ "account", cmd_account, 1, 4, { O_PASS },
	    "account org-add ORG | domain-add ORG DOMAIN | domain-remove ORG "
	    "DOMAIN | user-add ORG USER --passphrase-file F | passwd USER "
	    "--passphrase-file F | disable USER | enable USER | list" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: sprov-ca [-d DIR] COMMAND [options]\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "       sprov-ca [-d DIR] %s\n", commands[i].usage);
	fprintf(f, "The CA directory defaults to ./ca.  See sprov-ca(1).\n");
}

int
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sprov-ca: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERR;
}

int
read_passphrase(const char *path, char **out)
{
	struct sp_err err;
	size_t len, n;
	char *data, *p;

	*out = NULL;
	if (path == NULL)
		return 0;
	if (sp_fs_read_secret(path, SP_PASSPHRASE_MAX + 2, &data, &len,
	    &err) == -1)
		return fail("passphrase: %s", err.msg);
	/* The passphrase is the first line, without its line ending. */
	for (n = 0; n < len && data[n] != '\n' && data[n] != '\r'; n++)
		;
	if (n == 0 || n > SP_PASSPHRASE_MAX || memchr(data, '\0', n)) {
		sp_fs_free_secret(data, len);
		return fail("%s: the passphrase (first line) must be 1 to %d "
		    "bytes", path, SP_PASSPHRASE_MAX);
	}
	if ((p = malloc(n + 1)) == NULL) {
		sp_fs_free_secret(data, len);
		return fail("out of memory");
	}
	memcpy(p, data, n);
	p[n] = '\0';
	sp_fs_free_secret(data, len);
	*out = p;
	return 0;
}

void
free_passphrase(char *p)
{
	if (p != NULL)
		sp_fs_free_secret(p, strlen(p));
}

int
ca_passphrase(const struct ca_opts *o, bool pkcs12_uses_passfile,
    char **out)
{
	if (o->ca_passfile != NULL)
		return read_passphrase(o->ca_passfile, out);
	if (pkcs12_uses_passfile) {
		*out = NULL;
		return 0;
	}
	return read_passphrase(o->passfile, out);
}

static int
num(const char *opt, const char *v, uint64_t min, uint64_t max, long *out)
{
	uint64_t u;

	if (sp_str_u64z(v, min, max, &u) == -1) {
		fprintf(stderr, "sprov-ca: %s: '%s' is not a whole number "
		    "from %llu to %llu\n", opt, v, (unsigned long long)min,
		    (unsigned long long)max);
		return -1;
	}
	*out = (long)u;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct ca_opts o;
	const struct command *cmd = NULL;
	int seen[512] = { 0 }, ch, i, rc;
	size_t k;

	memset(&o, 0, sizeof(o));
	o.dir = "ca";
	o.days = -1;
	o.expiring = -1;
	while ((ch = getopt_long(argc, argv, "d:f:o:j:qh", longopts,
	    NULL)) != -1) {
		if (ch >= 0 && ch < 512)
			seen[ch] = 1;
		switch (ch) {
		case 'd': o.dir = optarg; break;
		case 'f': o.conf = optarg; break;
		case 'o': o.out = optarg; break;
		case 'q': o.quiet = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'j':
			if (num("-j", optarg, 1, SP_JOBS_MAX, &o.jobs) == -1)
				return EXIT_USAGE;
			break;
		case O_DAYS:
			if (num("--days", optarg, 1, SP_DAYS_MAX, &o.days) == -1)
				return EXIT_USAGE;
			break;
		case O_EXPIRING:
			if (num("--expiring", optarg, 0, SP_DAYS_MAX,
			    &o.expiring) == -1)
				return EXIT_USAGE;
			break;
		case O_KEYTYPE:
			if (sp_x509_keytype_parse(optarg, &o.keytype) == -1) {
				fprintf(stderr, "sprov-ca: --key-type: '%s': "
				    "use ec-p256, ec-p384, rsa2048, rsa3072 "
				    "or rsa4096\n", optarg);
				return EXIT_USAGE;
			}
			o.keytype_set = true;
			break;
		case O_ORG: o.org = optarg; break;
		case O_PASS: o.passfile = optarg; break;
		case O_CAPASS: o.ca_passfile = optarg; break;
		case O_MAC: o.mac = optarg; break;
		case O_SERIAL: o.serial = optarg; break;
		case O_MODEL: o.model = optarg; break;
		case O_PKCS12: o.pkcs12 = true; break;
		case O_RENEW: o.renew = true; break;
		case O_CSV: o.csv = optarg; break;
		case O_REASON: o.reason = optarg; break;
		case O_CA: o.ca = optarg; break;
		case O_KIND: o.kind = optarg; break;
		case O_REVOKED: o.revoked = true; break;
		case O_JSON: o.json = true; break;
		case O_WHY: o.why = optarg; break;
		case O_VERIFY: o.verify = true; break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[optind], commands[k].name) == 0)
			cmd = &commands[k];
	if (cmd == NULL) {
		fprintf(stderr, "sprov-ca: unknown command '%s'\n",
		    argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	for (ch = 0; ch < 512; ch++) {
		int ok = (ch == 'd' || ch == 'h');

		if (!seen[ch])
			continue;
		for (i = 0; i < 12 && cmd->allowed[i] != 0; i++)
			if (cmd->allowed[i] == ch)
				ok = 1;
		if (!ok) {
			for (k = 0; longopts[k].name != NULL; k++)
				if (longopts[k].val == ch)
					break;
			fprintf(stderr, "sprov-ca: %s does not take --%s\n"
			    "usage: sprov-ca %s\n", cmd->name,
			    longopts[k].name ? longopts[k].name : "?",
			    cmd->usage);
			return EXIT_USAGE;
		}
	}
	o.argc = argc - optind - 1;
	o.argv = argv + optind + 1;
	if (o.argc < cmd->minargs || o.argc > cmd->maxargs) {
		fprintf(stderr, "usage: sprov-ca %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	rc = cmd->fn(&o);
	OPENSSL_cleanup();
	return rc;
}
