/* sprov-ca commands other than bulk issuance (bulk.c) and show (show.c). */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "sprov/buf.h"
#include "sprov/ca.h"
#include "sprov/certreq.h"
#include "sprov/fsutil.h"
#include "sprov/mac.h"
#include "sprov/str.h"
#include "sprov-ca/sprov-ca.h"

int
cmd_init(struct ca_opts *o)
{
	struct sp_ca_init_opts io;
	struct sp_err err;
	char *pass = NULL;
	int rc;

	memset(&io, 0, sizeof(io));
	io.keytype = o->keytype_set ? o->keytype : SP_KEY_EC_P256;
	io.days = o->days > 0 ? (int)o->days : SP_DAYS_ROOT_DEFAULT;
	io.org = o->org;
	if (read_passphrase(o->passfile, &pass) != 0)
		return EXIT_ERR;
	if (pass != NULL && strlen(pass) < SP_PASSPHRASE_MIN) {
		free_passphrase(pass);
		return fail("%s: the passphrase must have at least %d "
		    "characters", o->passfile, SP_PASSPHRASE_MIN);
	}
	io.pass = pass;
	rc = sp_ca_init(o->dir, &io, &err);
	free_passphrase(pass);
	if (rc == -1)
		return fail("init: %s", err.msg);
	printf("created CA in %s (%s keys%s): server-ca, device-ca, "
	    "admin-ca\n", o->dir, sp_x509_keytype_name(io.keytype),
	    io.pass ? ", encrypted" : "");
	printf("phones trust:   %s/server-ca.crt\n", o->dir);
	printf("servers trust:  %s/device-ca.crt\n", o->dir);
	printf("admin API:      %s/admin-ca.crt\n", o->dir);
	return EXIT_OK;
}

struct sp_ca *
open_ca(const struct ca_opts *o, bool pkcs12_uses_passfile)
{
	struct sp_err err;
	struct sp_ca *ca;
	char *pass = NULL;

	if (ca_passphrase(o, pkcs12_uses_passfile, &pass) != 0)
		return NULL;
	ca = sp_ca_open(o->dir, pass, &err);
	free_passphrase(pass);
	if (ca == NULL)
		fail("%s", err.msg);
	return ca;
}

void
fmt_time(time_t t, char *dst, size_t dstsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(dst, dstsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
cmd_sign_server(struct ca_opts *o)
{
	const char *path = o->argv[0];
	struct sp_csr_info info;
	struct sp_buf pem;
	struct sp_err err;
	struct sp_ca *ca = NULL;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	char *data = NULL, serial[80], until[32];
	size_t len;
	int rc = EXIT_ERR, intx = 0;

	sp_buf_init(&pem, 1 << 16);
	/* All checks first: a refused CSR leaves the CA untouched. */
	if (sp_fs_read(path, SP_CSR_FILE_MAX, &data, &len, &err) == -1) {
		fail("%s", err.msg);
		goto out;
	}
	if ((req = sp_x509_csr_parse(data, len, &err)) == NULL) {
		fail("%s: refused: %s", path, err.msg);
		goto out;
	}
	if (sp_x509_csr_check(req, &info, &err) == -1) {
		fail("%s: refused: %s", path, err.msg);
		goto out;
	}
	if ((ca = open_ca(o, false)) == NULL)
		goto out;
	x = sp_ca_sign_server(ca, req, o->days > 0 ? (int)o->days :
	    SP_DAYS_SERVER_DEFAULT, &info);
	if (x == NULL) {
		fail("%s: %s", path, sp_ca_error(ca));
		goto out;
	}
	if (sp_x509_cert_pem(x, &pem, &err) == -1) {
		fail("%s", err.msg);
		goto out;
	}
	if (sp_ca_begin(ca) == -1 || (intx = 1, sp_ca_record(ca, x,
	    SP_KIND_SERVER, SP_CA_SERVER, NULL) == -1)) {
		fail("%s", sp_ca_error(ca));
		goto out;
	}
	if (o->out != NULL) {
		if (sp_fs_write_atomic(o->out, pem.data, pem.len, 0644,
		    &err) == -1) {
			fail("%s", err.msg);
			goto out;
		}
	} else if (fwrite(pem.data, 1, pem.len, stdout) != pem.len ||
	    fflush(stdout) != 0) {
		fail("stdout: %s", strerror(errno));
		goto out;
	}
	if (sp_ca_commit(ca) == -1) {
		fail("%s", sp_ca_error(ca));
		if (o->out != NULL)
			unlink(o->out);
		goto out;
	}
	intx = 0;
	sp_x509_serial_hex(x, serial, sizeof(serial));
	fmt_time(sp_ca_asn1_time(X509_get0_notAfter(x)), until,
	    sizeof(until));
	fprintf(stderr, "signed CN=%s (%s, DNS:%s) serial %s, valid until "
	    "%s%s%s\n", info.cn, info.key, info.fqdn, serial, until,
	    o->out ? ", written to " : "", o->out ? o->out : "");
	rc = EXIT_OK;
out:
	if (intx)
		sp_ca_rollback(ca);
	sp_buf_release(&pem);
	free(data);
	X509_REQ_free(req);
	X509_free(x);
	sp_ca_free(ca);
	return rc;
}

/* Writes key and certificate (or a PKCS#12 bundle) for one identity. */
static int
write_identity(const char *dir, const char *base, EVP_PKEY *k, X509 *x,
    X509 *cacert, const char *p12pass, char written[3][PATH_MAX])
{
	struct sp_buf b;
	struct sp_err err;
	int rc = -1;

	sp_buf_init(&b, 1 << 20);
	b.secret = 1;
	if (sp_fs_mkdirs(dir, 0755, &err) == -1)
		goto fail;
	snprintf(written[1], PATH_MAX, "%s/%s.crt", dir, base);
	if (sp_x509_cert_pem(x, &b, &err) == -1 ||
	    sp_fs_write_atomic(written[1], b.data, b.len, 0644, &err) == -1)
		goto fail;
	sp_buf_reset(&b);
	if (p12pass != NULL) {
		STACK_OF(X509) *chain = sk_X509_new_null();
		unsigned char *der = NULL;
		PKCS12 *p12 = NULL;
		int len = -1;

		if (chain != NULL && sk_X509_push(chain, cacert) > 0)
			p12 = PKCS12_create(p12pass, base, k, x, chain, 0, 0,
			    0, 0, 0);
		sk_X509_free(chain);
		if (p12 == NULL || (len = i2d_PKCS12(p12, &der)) <= 0) {
			PKCS12_free(p12);
			sp_err_ssl(&err, "cannot make the PKCS#12 bundle");
			goto fail;
		}
		PKCS12_free(p12);
		snprintf(written[2], PATH_MAX, "%s/%s.p12", dir, base);
		rc = sp_fs_write_atomic(written[2], der, (size_t)len, 0600,
		    &err);
		OPENSSL_free(der);
	} else {
		snprintf(written[0], PATH_MAX, "%s/%s.key", dir, base);
		if (sp_x509_key_pem(k, NULL, &b, &err) == 0)
			rc = sp_fs_write_atomic(written[0], b.data, b.len,
			    0600, &err);
	}
	if (rc == -1)
		goto fail;
	sp_buf_release(&b);
	return 0;
fail:
	sp_buf_release(&b);
	fail("%s", err.msg);
	return -1;
}

static void
unlink_written(char written[3][PATH_MAX])
{
	int i;

	for (i = 0; i < 3; i++)
		if (written[i][0] != '\0')
			unlink(written[i]);
}

static int
check_pkcs12_opts(const struct ca_opts *o, char **p12pass)
{
	*p12pass = NULL;
	if (o->pkcs12 && o->passfile == NULL) {
		fprintf(stderr, "sprov-ca: --pkcs12 needs --passphrase-file F "
		    "(the bundle's password)\n");
		return EXIT_USAGE;
	}
	if (o->pkcs12 && read_passphrase(o->passfile, p12pass) != 0)
		return EXIT_ERR;
	return 0;
}

/*
 * Records an issued identity and writes its files, in one index
 * transaction: the files are written before the commit and removed if the
 * commit fails, so the index never names an identity that was not written
 * and no file outlives a refused record.  Prints what was issued.
 */
static int
record_identity(struct sp_ca *ca, X509 *x, EVP_PKEY *k, enum sp_cert_kind
    kind, enum sp_ca_root root, const char *mac, const char *dir,
    const char *base, const char *p12pass)
{
	char written[3][PATH_MAX] = { "", "", "" }, serial[80];

	if (sp_ca_begin(ca) == -1) {
		fail("%s", sp_ca_error(ca));
		return -1;
	}
	if (sp_ca_record(ca, x, kind, root, mac) == -1) {
		fail("%s", sp_ca_error(ca));
		sp_ca_rollback(ca);
		return -1;
	}
	/* write_identity() says what failed itself. */
	if (write_identity(dir, base, k, x, sp_ca_root_cert(ca, root),
	    p12pass, written) == -1) {
		sp_ca_rollback(ca);
		unlink_written(written);
		return -1;
	}
	if (sp_ca_commit(ca) == -1) {
		fail("%s", sp_ca_error(ca));
		sp_ca_rollback(ca);
		unlink_written(written);
		return -1;
	}
	sp_x509_serial_hex(x, serial, sizeof(serial));
	printf("issued %s %s serial %s: %s %s\n", kind == SP_KIND_DEVICE ?
	    "device" : "operator", base, serial, written[1],
	    p12pass ? written[2] : written[0]);
	return 0;
}

int
cmd_issue_device(struct ca_opts *o)
{
	char mac[SP_MAC_HEXLEN + 1], *p12pass = NULL;
	struct sp_keygen *kg = NULL;
	struct sp_err err;
	struct sp_ca *ca = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	const char *why, *dir = o->out ? o->out : ".";
	bool has = false;
	int rc = EXIT_ERR;

	if (o->mac == NULL) {
		fprintf(stderr, "sprov-ca: issue-device needs --mac MAC\n");
		return EXIT_USAGE;
	}
	if (sp_mac_parse(o->mac, strlen(o->mac), mac, &why) == -1)
		return fail("--mac '%s': %s", o->mac, why);
	if ((rc = check_pkcs12_opts(o, &p12pass)) != 0)
		return rc;
	rc = EXIT_ERR;
	if ((ca = open_ca(o, o->pkcs12)) == NULL)
		goto out;
	if (sp_ca_mac_has_valid(ca, mac, &has) == -1) {
		fail("%s", sp_ca_error(ca));
		goto out;
	}
	if (has && !o->renew) {
		fail("MAC %s already has a valid certificate; give --renew to "
		    "issue another (or revoke the old one first)", mac);
		goto out;
	}
	if ((kg = sp_keygen_new(o->keytype_set ? o->keytype : SP_KEY_EC_P256,
	    &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	x = sp_ca_make_device(ca, kg, mac, o->serial, o->model,
	    o->days > 0 ? (int)o->days : SP_DAYS_DEVICE_DEFAULT, &k);
	if (x == NULL) {
		fail("%s", sp_ca_error(ca));
		goto out;
	}
	if (record_identity(ca, x, k, SP_KIND_DEVICE, SP_CA_DEVICE, mac, dir,
	    mac, p12pass) == -1)
		goto out;
	rc = EXIT_OK;
out:
	free_passphrase(p12pass);
	sp_keygen_free(kg);
	EVP_PKEY_free(k);
	X509_free(x);
	sp_ca_free(ca);
	return rc;
}

int
cmd_issue_admin(struct ca_opts *o)
{
	const char *name = o->argv[0], *dir = o->out ? o->out : ".";
	struct sp_keygen *kg = NULL;
	struct sp_issuer *is;
	struct sp_issue rq;
	struct sp_err err;
	struct sp_ca *ca = NULL;
	X509_NAME *n = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	char *p12pass = NULL, org[SP_ORG_MAX + 1];
	int rc;

	if ((rc = check_pkcs12_opts(o, &p12pass)) != 0)
		return rc;
	rc = EXIT_ERR;
	if ((ca = open_ca(o, o->pkcs12)) == NULL)
		goto out;
	if (sp_x509_name_get(X509_get_subject_name(sp_ca_root_cert(ca,
	    SP_CA_ADMIN)), NID_organizationName, org, sizeof(org)) == -1)
		org[0] = '\0';
	if ((n = sp_x509_admin_subject(name, org[0] ? org : NULL,
	    &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	if ((is = sp_ca_issuer(ca, SP_CA_ADMIN)) == NULL) {
		fail("%s", sp_ca_error(ca));
		goto out;
	}
	if ((kg = sp_keygen_new(o->keytype_set ? o->keytype : SP_KEY_EC_P256,
	    &err)) == NULL || (k = sp_keygen_run(kg, &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	memset(&rq, 0, sizeof(rq));
	rq.kind = SP_KIND_ADMIN;
	rq.subject = n;
	rq.pubkey = k;
	rq.days = o->days > 0 ? (int)o->days : SP_DAYS_ADMIN_DEFAULT;
	if ((x = sp_issuer_sign(is, &rq, &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	if (record_identity(ca, x, k, SP_KIND_ADMIN, SP_CA_ADMIN, NULL, dir,
	    name, p12pass) == -1)
		goto out;
	rc = EXIT_OK;
out:
	free_passphrase(p12pass);
	sp_keygen_free(kg);
	EVP_PKEY_free(k);
	X509_free(x);
	X509_NAME_free(n);
	sp_ca_free(ca);
	return rc;
}

int
cmd_revoke(struct ca_opts *o)
{
	char serial[80], mac[SP_MAC_HEXLEN + 1];
	struct sp_ca *ca = NULL;
	struct sp_err err;
	const char *why;
	X509 *x = NULL;
	int reason = CRL_REASON_UNSPECIFIED, given, n = 0, rc = EXIT_ERR;

	given = (o->mac != NULL) + (o->serial != NULL) + (o->argc == 1);
	if (given != 1) {
		fprintf(stderr, "sprov-ca: revoke takes exactly one of --mac, "
		    "--serial or a certificate file\n");
		return EXIT_USAGE;
	}
	if (o->reason != NULL && sp_x509_reason_parse(o->reason,
	    &reason) == -1) {
		fprintf(stderr, "sprov-ca: --reason '%s': use unspecified, "
		    "keyCompromise, cACompromise, affiliationChanged, "
		    "superseded, cessationOfOperation or privilegeWithdrawn\n",
		    o->reason);
		return EXIT_USAGE;
	}
	if (o->mac != NULL && sp_mac_parse(o->mac, strlen(o->mac), mac,
	    &why) == -1)
		return fail("--mac '%s': %s", o->mac, why);
	if (o->serial != NULL && sp_x509_serial_norm(o->serial, serial,
	    sizeof(serial)) == -1)
		return fail("--serial '%s': not a hexadecimal serial number",
		    o->serial);
	if (o->argc == 1) {
		if ((x = sp_x509_cert_load(o->argv[0], &err)) == NULL)
			return fail("%s", err.msg);
		sp_x509_serial_hex(x, serial, sizeof(serial));
		X509_free(x);
	}
	if ((ca = open_ca(o, false)) == NULL)
		return EXIT_ERR;
	if (sp_ca_begin(ca) == -1)
		goto dberr;
	if (o->mac != NULL) {
		if (sp_ca_revoke_mac(ca, mac, reason, &n) == -1)
			goto dberr;
	} else if (sp_ca_revoke_serial(ca, serial, reason) == -1)
		goto dberr;
	if (sp_ca_commit(ca) == -1)
		goto dberr;
	if (o->mac != NULL)
		printf("revoked %d certificate%s of MAC %s (%s)\n", n,
		    n == 1 ? "" : "s", mac, sp_x509_reason_name(reason));
	else {
		struct sp_accounts *pa;
		bool pfail = false;

		printf("revoked serial %s (%s)\n", serial,
		    sp_x509_reason_name(reason));
		/* The portal shows its organisations the state too. */
		if ((pa = open_portal_db(o, false, &pfail)) != NULL) {
			struct sp_portal_audit e;

			memset(&e, 0, sizeof(e));
			e.actor = "operator";
			e.action = "revoke";
			e.object = serial;
			e.outcome = "revoked";
			e.detail = sp_x509_reason_name(reason);
			if (sp_certreq_revoked_serial(pa, serial, reason) ==
			    -1 || sp_portal_audit_add(pa, &e) == -1)
				fail("portal.db: %s", sp_accounts_error(pa));
		}
		sp_accounts_close(pa);
	}
	printf("publish it with: sprov-ca -d %s crl\n", o->dir);
	rc = EXIT_OK;
	goto out;
dberr:
	fail("revoke: %s", sp_ca_error(ca));
	sp_ca_rollback(ca);
out:
	sp_ca_free(ca);
	return rc;
}

int
cmd_crl(struct ca_opts *o)
{
	enum sp_ca_root root = SP_CA_DEVICE;
	char path[PATH_MAX];
	struct sp_buf b;
	struct sp_err err;
	struct sp_ca *ca;
	X509_CRL *crl;
	BIO *bio;
	char *p;
	long len;
	int rc = EXIT_ERR;

	if (o->ca != NULL && sp_ca_root_parse(o->ca, &root) == -1) {
		fprintf(stderr, "sprov-ca: --ca '%s': use device, server or "
		    "admin\n", o->ca);
		return EXIT_USAGE;
	}
	if ((ca = open_ca(o, false)) == NULL)
		return EXIT_ERR;
	crl = sp_ca_crl(ca, root, o->days > 0 ? (int)o->days :
	    SP_DAYS_CRL_DEFAULT);
	if (crl == NULL) {
		fail("crl: %s", sp_ca_error(ca));
		sp_ca_free(ca);
		return EXIT_ERR;
	}
	if (o->out != NULL)
		snprintf(path, sizeof(path), "%s", o->out);
	else
		snprintf(path, sizeof(path), "%s/crl/%s.crl", o->dir,
		    sp_ca_root_name(root));
	sp_buf_init(&b, 64L << 20);
	if ((bio = BIO_new(BIO_s_mem())) != NULL &&
	    PEM_write_bio_X509_CRL(bio, crl) == 1 &&
	    (len = BIO_get_mem_data(bio, &p)) > 0 &&
	    sp_buf_append(&b, p, (size_t)len) == 0) {
		if (sp_fs_write_atomic(path, b.data, b.len, 0644, &err) == 0) {
			printf("CRL of %s: %d revoked, written to %s\n",
			    sp_ca_root_name(root),
			    X509_CRL_get_REVOKED(crl) != NULL ?
			    sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) : 0,
			    path);
			rc = EXIT_OK;
		} else
			fail("%s", err.msg);
	} else
		fail("cannot encode the CRL");
	BIO_free(bio);
	sp_buf_release(&b);
	X509_CRL_free(crl);
	sp_ca_free(ca);
	return rc;
}

struct list_ctx {
	bool	 json;
	bool	 roots;
	json_t	*arr;
	long	 n;
};

static int
list_row(void *arg, const struct sp_ca_row *r)
{
	struct list_ctx *lc = arg;
	char nb[32], na[32];

	if (r->kind == SP_KIND_ROOT && !lc->roots)
		return 0;
	lc->n++;
	fmt_time(r->not_before, nb, sizeof(nb));
	fmt_time(r->not_after, na, sizeof(na));
	if (lc->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		    "s:s}", "serial", r->serial, "kind",
		    sp_x509_kind_name(r->kind), "issuer", r->issuer,
		    "subject", r->subject, "not_before", nb, "not_after", na,
		    "status", r->revoked ? "revoked" : (r->not_after <
		    time(NULL) ? "expired" : "valid"), "cn", r->cn);
		if (o == NULL)
			return -1;
		if (r->mac[0] != '\0')
			json_object_set_new(o, "mac", json_string(r->mac));
		if (r->revoked) {
			char ra[32];

			fmt_time(r->revoked_at, ra, sizeof(ra));
			json_object_set_new(o, "revoked_at", json_string(ra));
			json_object_set_new(o, "reason",
			    json_string(sp_x509_reason_name(r->reason)));
		}
		return json_array_append_new(lc->arr, o) == 0 ? 0 : -1;
	}
	printf("%-34s %-6s %-7s %s  %s\n", r->serial,
	    sp_x509_kind_name(r->kind), r->revoked ? "revoked" :
	    (r->not_after < time(NULL) ? "expired" : "valid"), na, r->subject);
	return 0;
}

int
cmd_list(struct ca_opts *o)
{
	struct sp_ca_filter f = { .kind = -1, .expiring_days = -1 };
	struct list_ctx lc = { .json = o->json };
	char mac[SP_MAC_HEXLEN + 1];
	struct sp_err err;
	struct sp_ca *ca;
	const char *why;
	int rc = EXIT_OK;

	if (o->kind != NULL) {
		enum sp_cert_kind k;

		if (sp_x509_kind_parse(o->kind, &k) == -1) {
			fprintf(stderr, "sprov-ca: --kind '%s': use server, "
			    "device, admin or root\n", o->kind);
			return EXIT_USAGE;
		}
		f.kind = (int)k;
		lc.roots = (k == SP_KIND_ROOT);
	}
	if (o->mac != NULL) {
		if (sp_mac_parse(o->mac, strlen(o->mac), mac, &why) == -1)
			return fail("--mac '%s': %s", o->mac, why);
		f.mac = mac;
	}
	f.revoked_only = o->revoked;
	f.expiring_days = o->expiring;
	if ((ca = sp_ca_open(o->dir, NULL, &err)) == NULL)
		return fail("%s", err.msg);
	if (lc.json && (lc.arr = json_array()) == NULL) {
		sp_ca_free(ca);
		return fail("out of memory");
	}
	if (!lc.json)
		printf("%-34s %-6s %-7s %-20s  %s\n", "SERIAL", "KIND",
		    "STATUS", "NOT AFTER", "SUBJECT");
	if (sp_ca_list(ca, &f, list_row, &lc) == -1)
		rc = fail("list: %s", sp_ca_error(ca)[0] ? sp_ca_error(ca) :
		    "out of memory");
	else if (lc.json) {
		if (json_dumpf(lc.arr, stdout, JSON_INDENT(1)) == -1 ||
		    fputc('\n', stdout) == EOF)
			rc = fail("stdout: %s", strerror(errno));
	}
	json_decref(lc.arr);
	sp_ca_free(ca);
	return rc;
}
