/*
 * Unit tests for lib/x509.c: key types, key generation, CSR parsing and
 * policy, device subjects and identities, issuing, serials, CRLs, key and
 * certificate encodings.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "harness.h"

#include "sprov/buf.h"
#include "sprov/fsutil.h"
#include "sprov/x509.h"

#define GOOD_CN		"pv.telco.net/mailto:admin@telco.net"
#define DEV_MAC		"000e08abcdef"

/* Keys shared by the cases: generating them once keeps the file fast. */
static EVP_PKEY *g_ec256;	/* CSR key */
static EVP_PKEY *g_rsa2048;	/* CSR key */
static EVP_PKEY *g_rootkey;	/* root key (EC P-256) */
static X509 *g_root;		/* self-signed root, 3650 days */
static struct sp_issuer *g_is;	/* issuer over g_root */
static char *g_tmp;		/* scratch directory */

/* ---------------------------------------------------------------- helpers */

static EVP_PKEY *
gen_ec(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

	if (k == NULL) {
		printf("# cannot generate EC %s key\n", curve);
		abort();
	}
	return k;
}

static EVP_PKEY *
gen_rsa(size_t bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);

	if (k == NULL) {
		printf("# cannot generate RSA %zu key\n", bits);
		abort();
	}
	return k;
}

static void
name_add(X509_NAME *n, int nid, const char *v)
{
	if (X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8,
	    (const unsigned char *)v, -1, -1, 0) != 1)
		abort();
}

/* A name with one CN (or none when cn is NULL). */
static X509_NAME *
name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL)
		abort();
	if (cn != NULL)
		name_add(n, NID_commonName, cn);
	return n;
}

/*
 * A CSR for k with subject n (borrowed), optional extension requests, signed
 * with md (NULL for ed25519).  NULL if OpenSSL refuses to sign.
 */
static X509_REQ *
csr_make(EVP_PKEY *k, const X509_NAME *n, STACK_OF(X509_EXTENSION) *exts,
    const EVP_MD *md)
{
	X509_REQ *r = X509_REQ_new();

	if (r == NULL || X509_REQ_set_version(r, 0) != 1 ||
	    X509_REQ_set_subject_name(r, n) != 1 ||
	    X509_REQ_set_pubkey(r, k) != 1)
		abort();
	if (exts != NULL && X509_REQ_add_extensions(r, exts) != 1)
		abort();
	if (X509_REQ_sign(r, k, md) <= 0) {
		X509_REQ_free(r);
		ERR_clear_error();
		return NULL;
	}
	return r;
}

static X509_REQ *
csr_cn(EVP_PKEY *k, const char *cn, const EVP_MD *md)
{
	X509_NAME *n = name_cn(cn);
	X509_REQ *r = csr_make(k, n, NULL, md);

	X509_NAME_free(n);
	return r;
}

/* Takes the content of a memory BIO into a malloc'ed, NUL-ended copy. */
static char *
bio_take(BIO *b, size_t *len)
{
	char *p, *out;
	long n = BIO_get_mem_data(b, &p);

	if (n < 0 || (out = malloc((size_t)n + 1)) == NULL)
		abort();
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

static char *
csr_pem(X509_REQ *r, size_t *len, int newlabel)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out;

	if (b == NULL || (newlabel ? PEM_write_bio_X509_REQ_NEW(b, r) :
	    PEM_write_bio_X509_REQ(b, r)) != 1)
		abort();
	out = bio_take(b, len);
	BIO_free(b);
	return out;
}

static unsigned char *
csr_der(X509_REQ *r, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509_REQ(r, &der);

	if (n <= 0)
		abort();
	*len = (size_t)n;
	return der;
}

static X509 *
issue(struct sp_issuer *is, enum sp_cert_kind kind, const X509_NAME *subj,
    EVP_PKEY *pub, const char *dns, int days, struct sp_err *err)
{
	struct sp_issue rq;

	memset(&rq, 0, sizeof(rq));
	rq.kind = kind;
	rq.subject = subj;
	rq.pubkey = pub;
	rq.dns = dns;
	rq.days = days;
	return sp_issuer_sign(is, &rq, err);
}

/* A device-kind certificate with the given subject, from g_is. */
static X509 *
issue_name(const X509_NAME *n)
{
	struct sp_err err = { "" };
	X509 *x = issue(g_is, SP_KIND_DEVICE, n, g_ec256, NULL, 30, &err);

	if (x == NULL)
		printf("# issue failed: %s\n", err.msg);
	return x;
}

static int
write_file(const char *path, const void *p, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t w;

	if (fd == -1)
		return -1;
	w = write(fd, p, len);
	if (fchmod(fd, mode) == -1 || w != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static bool
has_eku(X509 *x, uint32_t bit)
{
	return (X509_get_extended_key_usage(x) & bit) != 0;
}

/* ------------------------------------------------------ types and keygen */

static void
t_keytype_names(void)
{
	static const enum sp_keytype all[] = { SP_KEY_EC_P256, SP_KEY_EC_P384,
	    SP_KEY_RSA2048, SP_KEY_RSA3072, SP_KEY_RSA4096 };
	enum sp_keytype t;
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *name = sp_x509_keytype_name(all[i]);

		CHECK(name != NULL);
		t = (enum sp_keytype)99;
		CHECK(sp_x509_keytype_parse(name, &t) == 0);
		CHECK(t == all[i]);
	}
	CHECK_STR(sp_x509_keytype_name(SP_KEY_EC_P256), "ec-p256");
	CHECK_STR(sp_x509_keytype_name(SP_KEY_EC_P384), "ec-p384");
	CHECK_STR(sp_x509_keytype_name(SP_KEY_RSA2048), "rsa2048");
	CHECK(sp_x509_keytype_parse("rsa1024", &t) == -1);
	CHECK(sp_x509_keytype_parse("ec-p521", &t) == -1);
	CHECK(sp_x509_keytype_parse("", &t) == -1);
	CHECK(sp_x509_keytype_parse("ec-p256 ", &t) == -1);
	CHECK(sp_x509_keytype_parse("ed25519", &t) == -1);
}

static void
t_kind_names(void)
{
	static const enum sp_cert_kind all[] = { SP_KIND_SERVER,
	    SP_KIND_DEVICE, SP_KIND_ADMIN, SP_KIND_ROOT };
	enum sp_cert_kind k;
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		k = (enum sp_cert_kind)99;
		CHECK(sp_x509_kind_parse(sp_x509_kind_name(all[i]), &k) == 0);
		CHECK(k == all[i]);
	}
	CHECK(sp_x509_kind_parse("server", &k) == 0 && k == SP_KIND_SERVER);
	CHECK(sp_x509_kind_parse("device", &k) == 0 && k == SP_KIND_DEVICE);
	CHECK(sp_x509_kind_parse("admin", &k) == 0 && k == SP_KIND_ADMIN);
	CHECK(sp_x509_kind_parse("root", &k) == 0 && k == SP_KIND_ROOT);
	CHECK(sp_x509_kind_parse("phone", &k) == -1);
	CHECK(sp_x509_kind_parse("", &k) == -1);
}

static void
keygen_case(enum sp_keytype t, const char *want, int nkeys)
{
	struct sp_err err = { "" };
	struct sp_keygen *kg;
	EVP_PKEY *k[3] = { NULL, NULL, NULL };
	char desc[32];
	int i, j;

	kg = sp_keygen_new(t, &err);
	CHECK(kg != NULL);
	if (kg == NULL)
		return;
	for (i = 0; i < nkeys; i++) {
		k[i] = sp_keygen_run(kg, &err);
		CHECK(k[i] != NULL);
		if (k[i] == NULL)
			continue;
		desc[0] = '\0';
		sp_x509_key_describe(k[i], desc, sizeof(desc));
		CHECK_STR(desc, want);
	}
	for (i = 0; i < nkeys; i++)
		for (j = i + 1; j < nkeys; j++)
			if (k[i] != NULL && k[j] != NULL)
				CHECK(EVP_PKEY_eq(k[i], k[j]) != 1);
	for (i = 0; i < nkeys; i++)
		EVP_PKEY_free(k[i]);
	sp_keygen_free(kg);
}

static void
t_keygen_ec_p256(void)
{
	keygen_case(SP_KEY_EC_P256, "EC P-256", 3);
}

static void
t_keygen_ec_p384(void)
{
	keygen_case(SP_KEY_EC_P384, "EC P-384", 3);
}

static void
t_keygen_rsa2048(void)
{
	keygen_case(SP_KEY_RSA2048, "RSA 2048", 2);
}

/* ---------------------------------------------------------- CSR parsing */

static void
t_csr_parse_pem(void)
{
	struct sp_err err = { "" };
	X509_REQ *r = csr_cn(g_ec256, GOOD_CN, EVP_sha256()), *p;
	size_t len;
	char *pem = csr_pem(r, &len, 0);

	CHECK_HAS(pem, "-----BEGIN CERTIFICATE REQUEST-----");
	p = sp_x509_csr_parse(pem, len, &err);
	CHECK(p != NULL);
	if (p != NULL) {
		CHECK(X509_NAME_cmp(X509_REQ_get_subject_name(p),
		    X509_REQ_get_subject_name(r)) == 0);
		CHECK(EVP_PKEY_eq(X509_REQ_get0_pubkey(p), g_ec256) == 1);
	} else
		printf("# %s\n", err.msg);
	X509_REQ_free(p);
	X509_REQ_free(r);
	free(pem);
}

static void
t_csr_parse_new_label(void)
{
	struct sp_err err = { "" };
	X509_REQ *r = csr_cn(g_ec256, GOOD_CN, EVP_sha256()), *p;
	size_t len;
	char *pem = csr_pem(r, &len, 1);

	CHECK_HAS(pem, "-----BEGIN NEW CERTIFICATE REQUEST-----");
	CHECK_HAS(pem, "-----END NEW CERTIFICATE REQUEST-----");
	p = sp_x509_csr_parse(pem, len, &err);
	CHECK(p != NULL);
	if (p != NULL)
		CHECK(X509_NAME_cmp(X509_REQ_get_subject_name(p),
		    X509_REQ_get_subject_name(r)) == 0);
	else
		printf("# %s\n", err.msg);
	X509_REQ_free(p);
	X509_REQ_free(r);
	free(pem);
}

static void
t_csr_parse_der(void)
{
	struct sp_err err = { "" };
	X509_REQ *r = csr_cn(g_rsa2048, GOOD_CN, EVP_sha256()), *p;
	size_t len;
	unsigned char *der = csr_der(r, &len);

	p = sp_x509_csr_parse((const char *)der, len, &err);
	CHECK(p != NULL);
	if (p != NULL) {
		CHECK(X509_NAME_cmp(X509_REQ_get_subject_name(p),
		    X509_REQ_get_subject_name(r)) == 0);
		CHECK(EVP_PKEY_eq(X509_REQ_get0_pubkey(p), g_rsa2048) == 1);
	} else
		printf("# %s\n", err.msg);
	X509_REQ_free(p);
	X509_REQ_free(r);
	OPENSSL_free(der);
}

static void
t_csr_parse_empty(void)
{
	struct sp_err err = { "" };

	CHECK(sp_x509_csr_parse("", 0, &err) == NULL);
	CHECK_HAS(err.msg, "empty");
}

static void
t_csr_parse_garbage(void)
{
	static const char junk[] = "\x01\x02\xff\xfe this is not a CSR \x80";
	struct sp_err err = { "" };

	CHECK(sp_x509_csr_parse(junk, sizeof(junk) - 1, &err) == NULL);
	CHECK_HAS(err.msg, "neither a PEM nor a DER");
}

static void
t_csr_parse_truncated_pem(void)
{
	struct sp_err err = { "" };
	X509_REQ *r = csr_cn(g_ec256, GOOD_CN, EVP_sha256());
	size_t len;
	char *pem = csr_pem(r, &len, 0), *end;

	end = strstr(pem, "-----END");
	CHECK(end != NULL);
	if (end != NULL) {
		/* Cut in the middle of the base64, before the END line. */
		len = (size_t)(end - pem) / 2;
		CHECK(sp_x509_csr_parse(pem, len, &err) == NULL);
		CHECK_HAS(err.msg, "truncated");
		/* And just before the END line. */
		err.msg[0] = '\0';
		len = (size_t)(end - pem);
		CHECK(sp_x509_csr_parse(pem, len, &err) == NULL);
		CHECK_HAS(err.msg, "truncated");
	}
	X509_REQ_free(r);
	free(pem);
}

static void
t_csr_parse_cert_not_csr(void)
{
	struct sp_err err = { "" };
	struct sp_buf b;

	sp_buf_init(&b, 1 << 16);
	CHECK(sp_x509_cert_pem(g_root, &b, &err) == 0);
	CHECK(sp_x509_csr_parse(b.data, b.len, &err) == NULL);
	CHECK_HAS(err.msg, "no CERTIFICATE REQUEST");
	sp_buf_release(&b);
}

static void
t_csr_parse_der_trailing(void)
{
	struct sp_err err = { "" };
	X509_REQ *r = csr_cn(g_ec256, GOOD_CN, EVP_sha256());
	size_t len;
	unsigned char *der = csr_der(r, &len), *more;

	more = malloc(len + 3);
	CHECK(more != NULL);
	if (more != NULL) {
		memcpy(more, der, len);
		memcpy(more + len, "\0\0\x30", 3);
		CHECK(sp_x509_csr_parse((const char *)more, len + 3,
		    &err) == NULL);
		CHECK_HAS(err.msg, "followed by 3");
		free(more);
	}
	X509_REQ_free(r);
	OPENSSL_free(der);
}

static void
t_csr_parse_damaged_base64(void)
{
	struct sp_err err = { "" };
	X509_REQ *r = csr_cn(g_ec256, GOOD_CN, EVP_sha256());
	size_t len;
	char *pem = csr_pem(r, &len, 0), *body;

	/* Replace part of the base64 body with characters outside it. */
	body = strchr(pem, '\n');
	CHECK(body != NULL);
	if (body != NULL && strlen(body) > 40) {
		memset(body + 10, '!', 20);
		CHECK(sp_x509_csr_parse(pem, len, &err) == NULL);
		CHECK_HAS(err.msg, "malformed");
	}
	X509_REQ_free(r);
	free(pem);
}

/* ------------------------------------------------------ CSR policy table */

static X509_REQ *
b_good_ec(void)
{
	return csr_cn(g_ec256, GOOD_CN, EVP_sha256());
}

static X509_REQ *
b_good_rsa(void)
{
	return csr_cn(g_rsa2048, "Prov.Telco.NET", EVP_sha256());
}

static X509_REQ *
b_good_p384(void)
{
	EVP_PKEY *k = gen_ec("P-384");
	X509_REQ *r = csr_cn(k, "pv.telco.net", EVP_sha384());

	EVP_PKEY_free(k);
	return r;
}

static X509_REQ *
b_rsa1024(void)
{
	EVP_PKEY *k = gen_rsa(1024);
	X509_REQ *r = csr_cn(k, "pv.telco.net", EVP_sha256());

	EVP_PKEY_free(k);
	return r;
}

static X509_REQ *
b_sha1(void)
{
	return csr_cn(g_ec256, "pv.telco.net", EVP_sha1());
}

static X509_REQ *
b_md5(void)
{
	return csr_cn(g_rsa2048, "pv.telco.net", EVP_md5());
}

static X509_REQ *
with_ext(int nid, const char *value)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
	X509_NAME *n = name_cn("pv.telco.net");
	X509_REQ *r;

	if (exts == NULL || e == NULL || sk_X509_EXTENSION_push(exts, e) == 0)
		abort();
	r = csr_make(g_ec256, n, exts, EVP_sha256());
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(n);
	return r;
}

static X509_REQ *
b_ca_true(void)
{
	return with_ext(NID_basic_constraints, "critical,CA:TRUE");
}

static X509_REQ *
b_ku_certsign(void)
{
	return with_ext(NID_key_usage, "critical,digitalSignature,keyCertSign");
}

static X509_REQ *
b_ku_crlsign(void)
{
	return with_ext(NID_key_usage, "cRLSign");
}

static X509_REQ *
b_ca_false_ok(void)
{
	return with_ext(NID_basic_constraints, "CA:FALSE");
}

static X509_REQ *
b_tampered(void)
{
	X509_REQ *r = csr_cn(g_rsa2048, "pv.telco.net", EVP_sha256()), *t;
	const unsigned char *p;
	unsigned char *der;
	size_t len;

	der = csr_der(r, &len);
	X509_REQ_free(r);
	/* The signature is the last 256 bytes of the DER. */
	der[len - 20] ^= 0x01;
	p = der;
	t = d2i_X509_REQ(NULL, &p, (long)len);
	OPENSSL_free(der);
	return t;
}

static X509_REQ *
b_cn_wild(void)
{
	return csr_cn(g_ec256, "*.telco.net", EVP_sha256());
}

static X509_REQ *
b_cn_ip(void)
{
	return csr_cn(g_ec256, "192.168.1.1", EVP_sha256());
}

static X509_REQ *
b_cn_localhost(void)
{
	return csr_cn(g_ec256, "localhost", EVP_sha256());
}

static X509_REQ *
b_cn_dot(void)
{
	return csr_cn(g_ec256, "pv.telco.net.", EVP_sha256());
}

static X509_REQ *
b_cn_slash(void)
{
	return csr_cn(g_ec256, "pv.telco.net/", EVP_sha256());
}

static X509_REQ *
b_no_cn(void)
{
	X509_NAME *n = name_cn(NULL);
	X509_REQ *r;

	name_add(n, NID_organizationName, "Telco");
	r = csr_make(g_ec256, n, NULL, EVP_sha256());
	X509_NAME_free(n);
	return r;
}

static X509_REQ *
b_two_cn(void)
{
	X509_NAME *n = name_cn("pv.telco.net");
	X509_REQ *r;

	name_add(n, NID_commonName, "evil.example.com");
	r = csr_make(g_ec256, n, NULL, EVP_sha256());
	X509_NAME_free(n);
	return r;
}

static X509_REQ *
b_cn_long(void)
{
	char cn[80];
	X509_NAME *n = X509_NAME_new();
	X509_REQ *r;

	/* 65 bytes: "pv.telco.net/" + 52 'x'. */
	snprintf(cn, sizeof(cn), "pv.telco.net/%s",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	if (n == NULL || strlen(cn) != 65 ||
	    X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_UTF8STRING,
	    (const unsigned char *)cn, -1, -1, 0) != 1)
		abort();
	r = csr_make(g_ec256, n, NULL, EVP_sha256());
	X509_NAME_free(n);
	return r;
}

static X509_REQ *
b_cn_nul(void)
{
	static const char cn[] = "pv.telco.net\0.evil.com";
	X509_NAME *n = X509_NAME_new();
	X509_REQ *r;

	if (n == NULL || X509_NAME_add_entry_by_NID(n, NID_commonName,
	    V_ASN1_UTF8STRING, (const unsigned char *)cn,
	    (int)sizeof(cn) - 1, -1, 0) != 1)
		abort();
	r = csr_make(g_ec256, n, NULL, EVP_sha256());
	X509_NAME_free(n);
	return r;
}

static X509_REQ *
b_cn_utf8(void)
{
	/* "pv.télco.net" in UTF-8. */
	return csr_cn(g_ec256, "pv.t\xc3\xa9lco.net", EVP_sha256());
}

static X509_REQ *
b_ed25519(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509_REQ *r;

	if (k == NULL)
		abort();
	r = csr_cn(k, "pv.telco.net", NULL);
	EVP_PKEY_free(k);
	return r;
}

static X509_REQ *
b_secp256k1(void)
{
	EVP_PKEY *k = gen_ec("secp256k1");
	X509_REQ *r = csr_cn(k, "pv.telco.net", EVP_sha256());

	EVP_PKEY_free(k);
	return r;
}

struct csr_row {
	const char	*name;
	X509_REQ	*(*build)(void);
	int		 rc;		/* expected sp_x509_csr_check */
	const char	*msg;		/* substring of the error */
	const char	*cn, *fqdn, *key, *sig;	/* expected info on success */
};

static const struct csr_row csr_rows[] = {
	{ "csr_check good EC P-256", b_good_ec, 0, NULL, GOOD_CN,
	    "pv.telco.net", "EC P-256", "SHA256" },
	{ "csr_check good RSA 2048 (fqdn lower-cased)", b_good_rsa, 0, NULL,
	    "Prov.Telco.NET", "prov.telco.net", "RSA 2048", "SHA256" },
	{ "csr_check good EC P-384", b_good_p384, 0, NULL, "pv.telco.net",
	    "pv.telco.net", "EC P-384", "SHA384" },
	{ "csr_check CA:FALSE request is fine", b_ca_false_ok, 0, NULL,
	    "pv.telco.net", "pv.telco.net", "EC P-256", "SHA256" },
	{ "csr_check RSA 1024 refused", b_rsa1024, -1, "1024", NULL, NULL,
	    NULL, NULL },
	{ "csr_check SHA-1 refused", b_sha1, -1, "SHA-1", NULL, NULL, NULL,
	    NULL },
	{ "csr_check MD5 refused", b_md5, -1, "MD5", NULL, NULL, NULL, NULL },
	{ "csr_check CA:TRUE request refused", b_ca_true, -1, "CA:TRUE", NULL,
	    NULL, NULL, NULL },
	{ "csr_check keyCertSign request refused", b_ku_certsign, -1,
	    "keyCertSign", NULL, NULL, NULL, NULL },
	{ "csr_check cRLSign request refused", b_ku_crlsign, -1, "cRLSign",
	    NULL, NULL, NULL, NULL },
	{ "csr_check tampered signature refused", b_tampered, -1,
	    "signature does not verify", NULL, NULL, NULL, NULL },
	{ "csr_check CN *.telco.net refused", b_cn_wild, -1, "CN rule", NULL,
	    NULL, NULL, NULL },
	{ "csr_check CN 192.168.1.1 refused", b_cn_ip, -1, "CN rule", NULL,
	    NULL, NULL, NULL },
	{ "csr_check CN localhost refused", b_cn_localhost, -1, "CN rule",
	    NULL, NULL, NULL, NULL },
	{ "csr_check CN pv.telco.net. refused", b_cn_dot, -1, "CN rule", NULL,
	    NULL, NULL, NULL },
	{ "csr_check CN pv.telco.net/ refused", b_cn_slash, -1, "CN rule",
	    NULL, NULL, NULL, NULL },
	{ "csr_check no CN refused", b_no_cn, -1, "no CN", NULL, NULL, NULL,
	    NULL },
	{ "csr_check two CNs refused", b_two_cn, -1, "more than one CN", NULL,
	    NULL, NULL, NULL },
	{ "csr_check CN of 65 bytes refused", b_cn_long, -1, "64", NULL, NULL,
	    NULL, NULL },
	{ "csr_check non-ASCII CN refused", b_cn_utf8, -1, "printable", NULL,
	    NULL, NULL, NULL },
	{ "csr_check CN with a NUL byte refused", b_cn_nul, -1, "printable",
	    NULL, NULL, NULL, NULL },
	{ "csr_check ed25519 refused", b_ed25519, -1, "only RSA", NULL, NULL,
	    NULL, NULL },
	{ "csr_check secp256k1 refused", b_secp256k1, -1, "curve", NULL, NULL,
	    NULL, NULL },
};

static void
run_csr_rows(void)
{
	struct sp_csr_info info;
	struct sp_err err;
	size_t i;
	X509_REQ *r;
	int rc;

	for (i = 0; i < sizeof(csr_rows) / sizeof(csr_rows[0]); i++) {
		const struct csr_row *row = &csr_rows[i];

		if ((r = row->build()) == NULL && row->build == b_md5) {
			printf("# skipped: %s (OpenSSL will not sign a CSR "
			    "with MD5)\n", row->name);
			continue;
		}
		ROW_BEGIN();
		CHECK(r != NULL);
		if (r != NULL) {
			memset(&err, 0, sizeof(err));
			memset(&info, 0x55, sizeof(info));
			rc = sp_x509_csr_check(r, &info, &err);
			CHECK(rc == row->rc);
			if (rc != row->rc)
				printf("#   message: %s\n", err.msg);
			if (row->rc == -1) {
				CHECK_HAS(err.msg, row->msg);
				if (row->build == b_rsa1024)
					CHECK_HAS(err.msg, "2048");
			} else if (rc == 0) {
				CHECK_STR(info.cn, row->cn);
				CHECK_STR(info.fqdn, row->fqdn);
				CHECK_STR(info.key, row->key);
				CHECK_STR(info.sig, row->sig);
			}
			X509_REQ_free(r);
		}
		ROW_END(row->name);
	}
}

/* ------------------------------------------------- device subject, identity */

static void
t_device_subject_roundtrip(void)
{
	static const int order[] = { NID_organizationalUnitName,
	    NID_localityName, NID_stateOrProvinceName, NID_commonName };
	struct sp_err err = { "" };
	struct sp_identity id;
	X509_NAME *n;
	X509 *x = NULL;
	int i;

	n = sp_x509_device_subject(DEV_MAC, "FCH1234ABCD", "CP-8845", &err);
	CHECK(n != NULL);
	if (n == NULL) {
		printf("# %s\n", err.msg);
		return;
	}
	CHECK(X509_NAME_entry_count(n) == 4);
	for (i = 0; i < 4 && i < X509_NAME_entry_count(n); i++)
		CHECK(OBJ_obj2nid(X509_NAME_ENTRY_get_object(
		    X509_NAME_get_entry(n, i))) == order[i]);
	x = issue_name(n);
	CHECK(x != NULL);
	if (x != NULL) {
		/* Field order survives issuing. */
		const X509_NAME *s = X509_get_subject_name(x);

		CHECK(X509_NAME_entry_count(s) == 4);
		for (i = 0; i < 4 && i < X509_NAME_entry_count(s); i++)
			CHECK(OBJ_obj2nid(X509_NAME_ENTRY_get_object(
			    X509_NAME_get_entry(s, i))) == order[i]);
		memset(&id, 0x55, sizeof(id));
		CHECK(sp_x509_device_identity(x, &id, &err) == 0);
		CHECK_STR(id.mac, DEV_MAC);
		CHECK_STR(id.serial, "FCH1234ABCD");
		CHECK_STR(id.model, "CP-8845");
		CHECK(!id.generic);
	}
	X509_free(x);
	X509_NAME_free(n);
}

/* A subject with two ST (two MACs) names no single device. */
static void
t_device_identity_repeated_fields(void)
{
	static const int nids[] = { NID_stateOrProvinceName,
	    NID_organizationalUnitName, NID_localityName, NID_commonName };
	struct sp_err err = { "" };
	struct sp_identity id;
	X509_NAME *n;
	X509 *x;
	size_t i;

	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		n = sp_x509_device_subject(DEV_MAC, "FCH1", "CP-8845", &err);
		CHECK(n != NULL);
		if (n == NULL)
			return;
		CHECK(X509_NAME_add_entry_by_NID(n, nids[i], MBSTRING_ASC,
		    (const unsigned char *)"000e08000002", -1, -1, 0) == 1);
		x = issue_name(n);
		CHECK(x != NULL);
		if (x != NULL) {
			CHECK(sp_x509_device_identity(x, &id, &err) == -1);
			CHECK(strstr(err.msg, "repeats") != NULL);
		}
		X509_free(x);
		X509_NAME_free(n);
	}
}

static void
t_device_subject_optional_fields(void)
{
	struct sp_err err = { "" };
	X509_NAME *n;

	n = sp_x509_device_subject(DEV_MAC, NULL, NULL, &err);
	CHECK(n != NULL);
	if (n != NULL) {
		CHECK(X509_NAME_entry_count(n) == 2);
		CHECK(X509_NAME_get_index_by_NID(n,
		    NID_organizationalUnitName, -1) < 0);
		CHECK(X509_NAME_get_index_by_NID(n, NID_localityName, -1) < 0);
	}
	X509_NAME_free(n);
}

static void
t_device_subject_refusals(void)
{
	struct sp_err err = { "" };
	X509_NAME *n;

	n = sp_x509_device_subject(DEV_MAC, "FCH 12/34", "CP-8845", &err);
	CHECK(n == NULL);
	CHECK_HAS(err.msg, "serial");
	X509_NAME_free(n);

	err.msg[0] = '\0';
	n = sp_x509_device_subject(DEV_MAC, "", "CP-8845", &err);
	CHECK(n == NULL);
	CHECK_HAS(err.msg, "serial");
	X509_NAME_free(n);

	err.msg[0] = '\0';
	n = sp_x509_device_subject(DEV_MAC, "FCH1", "CP 8845,O=x", &err);
	CHECK(n == NULL);
	CHECK_HAS(err.msg, "model");
	X509_NAME_free(n);

	err.msg[0] = '\0';
	n = sp_x509_device_subject("00:0E:08:AB:CD:EF", "FCH1", NULL, &err);
	CHECK(n == NULL);
	CHECK_HAS(err.msg, "MAC");
	X509_NAME_free(n);

	err.msg[0] = '\0';
	n = sp_x509_device_subject("000E08ABCDEF", "FCH1", NULL, &err);
	CHECK(n == NULL);
	CHECK_HAS(err.msg, "MAC");
	X509_NAME_free(n);
}

static void
t_identity_from_cn(void)
{
	struct sp_err err = { "" };
	struct sp_identity id;
	X509_NAME *n = name_cn(NULL);
	X509 *x;

	name_add(n, NID_organizationalUnitName, "CP-7975G");
	name_add(n, NID_commonName, "00:0E:08:AB:CD:EF");
	x = issue_name(n);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK(sp_x509_device_identity(x, &id, &err) == 0);
		CHECK_STR(id.mac, DEV_MAC);
		CHECK_STR(id.model, "CP-7975G");
		CHECK_STR(id.serial, "");
		CHECK(!id.generic);
	}
	X509_free(x);
	X509_NAME_free(n);
}

static void
t_identity_generic(void)
{
	struct sp_err err = { "" };
	struct sp_identity id;
	X509_NAME *n = name_cn(NULL);
	X509 *x;

	name_add(n, NID_organizationalUnitName, "cisco.com");
	name_add(n, NID_localityName, "ciscogeneric");
	name_add(n, NID_stateOrProvinceName, "ciscogeneric");
	name_add(n, NID_commonName, "CP-7975G-SEP000E08ABCDEF");
	x = issue_name(n);
	CHECK(x != NULL);
	if (x != NULL) {
		memset(&id, 0x55, sizeof(id));
		CHECK(sp_x509_device_identity(x, &id, &err) == 0);
		CHECK(id.generic);
		CHECK_STR(id.mac, "");
	}
	X509_free(x);
	X509_NAME_free(n);
}

static void
t_identity_bad_st(void)
{
	struct sp_err err = { "" };
	struct sp_identity id;
	X509_NAME *n = name_cn(NULL);
	X509 *x;

	name_add(n, NID_stateOrProvinceName, "California");
	name_add(n, NID_commonName, DEV_MAC);
	x = issue_name(n);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK(sp_x509_device_identity(x, &id, &err) == -1);
		CHECK_HAS(err.msg, "ST");
	}
	X509_free(x);
	X509_NAME_free(n);
}

static void
t_identity_no_mac(void)
{
	struct sp_err err = { "" };
	struct sp_identity id;
	X509_NAME *n = name_cn("pv.telco.net");
	X509 *x = issue_name(n);

	CHECK(x != NULL);
	if (x != NULL) {
		CHECK(sp_x509_device_identity(x, &id, &err) == -1);
		CHECK_HAS(err.msg, "no MAC");
	}
	X509_free(x);
	X509_NAME_free(n);
}

/* ---------------------------------------------------------------- issuing */

static void
t_root_properties(void)
{
	char o[80], cn[80];

	CHECK(X509_check_ca(g_root) > 0);
	CHECK(X509_check_issued(g_root, g_root) == X509_V_OK);
	CHECK(X509_verify(g_root, g_rootkey) == 1);
	CHECK(sp_x509_name_get(X509_get_subject_name(g_root),
	    NID_organizationName, o, sizeof(o)) == 0);
	CHECK_STR(o, "Telco");
	CHECK(sp_x509_name_get(X509_get_subject_name(g_root), NID_commonName,
	    cn, sizeof(cn)) == 0);
	CHECK_STR(cn, "Telco Test Root");
	CHECK(X509_get_key_usage(g_root) & KU_KEY_CERT_SIGN);
	CHECK(X509_get_key_usage(g_root) & KU_CRL_SIGN);
	CHECK(X509_get0_subject_key_id(g_root) != NULL);
	CHECK(sp_x509_key_matches(g_root, g_rootkey));
}

static void
t_issue_server(void)
{
	struct sp_err err = { "" };
	GENERAL_NAMES *gens;
	const GENERAL_NAME *gn;
	X509_NAME *n = name_cn(GOOD_CN);
	X509_EXTENSION *bc;
	BIGNUM *bn;
	X509 *x;
	int idx;

	x = issue(g_is, SP_KIND_SERVER, n, g_rsa2048, "pv.telco.net", 397,
	    &err);
	CHECK(x != NULL);
	if (x == NULL) {
		printf("# %s\n", err.msg);
		X509_NAME_free(n);
		return;
	}
	CHECK(X509_verify(x, g_rootkey) == 1);
	CHECK(X509_verify(x, g_ec256) != 1);
	ERR_clear_error();
	CHECK(X509_check_ca(x) == 0);
	CHECK(X509_check_ca(g_root) > 0);
	CHECK(X509_check_issued(g_root, x) == X509_V_OK);
	CHECK(has_eku(x, XKU_SSL_SERVER));
	CHECK(!has_eku(x, XKU_SSL_CLIENT));
	CHECK(X509_NAME_cmp(X509_get_subject_name(x), n) == 0);
	CHECK(X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(g_root)) == 0);
	CHECK(sp_x509_key_matches(x, g_rsa2048));
	/* RSA keys get keyEncipherment too. */
	CHECK(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	CHECK(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT);
	CHECK(!(X509_get_key_usage(x) & KU_KEY_CERT_SIGN));

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	CHECK(gens != NULL);
	if (gens != NULL) {
		CHECK(sk_GENERAL_NAME_num(gens) == 1);
		gn = sk_GENERAL_NAME_value(gens, 0);
		CHECK(gn != NULL && gn->type == GEN_DNS);
		if (gn != NULL && gn->type == GEN_DNS) {
			const ASN1_IA5STRING *s = gn->d.dNSName;

			CHECK(ASN1_STRING_length(s) == 12 &&
			    memcmp(ASN1_STRING_get0_data(s), "pv.telco.net",
			    12) == 0);
		}
		GENERAL_NAMES_free(gens);
	}

	idx = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
	CHECK(idx >= 0);
	bc = idx >= 0 ? X509_get_ext(x, idx) : NULL;
	CHECK(bc != NULL && X509_EXTENSION_get_critical(bc) == 1);
	CHECK(X509_get_ext_by_NID(x, NID_authority_key_identifier, -1) >= 0);
	CHECK(X509_get_ext_by_NID(x, NID_subject_key_identifier, -1) >= 0);
	CHECK(X509_get_version(x) == X509_VERSION_3);

	/* Serial: positive, 128 bits wide with the sign bit clear. */
	CHECK(ASN1_STRING_type(X509_get0_serialNumber(x)) == V_ASN1_INTEGER);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	CHECK(bn != NULL);
	if (bn != NULL) {
		CHECK(!BN_is_negative(bn));
		CHECK(BN_num_bits(bn) >= 121 && BN_num_bits(bn) <= 128);
		BN_free(bn);
	}
	/* Validity: about days from now, backdated by a few minutes. */
	{
		time_t now = time(NULL), lo = now - 3600,
		    hi = now + 397L * 86400 + 60;
		CHECK(X509_cmp_time(X509_get0_notBefore(x), &now) < 0);
		CHECK(X509_cmp_time(X509_get0_notBefore(x), &lo) > 0);
		CHECK(X509_cmp_time(X509_get0_notAfter(x), &hi) < 0);
		hi = now + 396L * 86400;
		CHECK(X509_cmp_time(X509_get0_notAfter(x), &hi) > 0);
	}
	X509_free(x);
	X509_NAME_free(n);
}

static void
t_issue_serials_distinct(void)
{
	struct sp_err err = { "" };
	X509_NAME *n = name_cn("pv.telco.net");
	X509 *a, *b;

	a = issue(g_is, SP_KIND_SERVER, n, g_ec256, "pv.telco.net", 30, &err);
	b = issue(g_is, SP_KIND_SERVER, n, g_ec256, "pv.telco.net", 30, &err);
	CHECK(a != NULL && b != NULL);
	if (a != NULL && b != NULL) {
		CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
		    X509_get0_serialNumber(b)) != 0);
		CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
		    X509_get0_serialNumber(g_root)) != 0);
	}
	X509_free(a);
	X509_free(b);
	X509_NAME_free(n);
}

static void
t_issue_device_kind(void)
{
	struct sp_err err = { "" };
	X509_NAME *n = sp_x509_device_subject(DEV_MAC, "FCH1", "CP-8845", &err);
	X509 *x = NULL;

	CHECK(n != NULL);
	if (n != NULL)
		x = issue(g_is, SP_KIND_DEVICE, n, g_ec256, NULL, 365, &err);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK(has_eku(x, XKU_SSL_CLIENT));
		CHECK(!has_eku(x, XKU_SSL_SERVER));
		CHECK(X509_check_ca(x) == 0);
		CHECK(X509_verify(x, g_rootkey) == 1);
		/* No SAN was asked for. */
		CHECK(X509_get_ext_by_NID(x, NID_subject_alt_name, -1) < 0);
		/* EC keys: digitalSignature only. */
		CHECK(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
		CHECK(!(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT));
	}
	X509_free(x);
	X509_NAME_free(n);
}

static void
t_issue_days_refused(void)
{
	struct sp_err err = { "" };
	X509_NAME *n = name_cn("pv.telco.net");
	X509 *x;

	/* The root lasts 3650 days. */
	x = issue(g_is, SP_KIND_SERVER, n, g_ec256, "pv.telco.net", 4000,
	    &err);
	CHECK(x == NULL);
	CHECK_HAS(err.msg, "outlast");
	X509_free(x);

	err.msg[0] = '\0';
	x = issue(g_is, SP_KIND_SERVER, n, g_ec256, "pv.telco.net", 0, &err);
	CHECK(x == NULL);
	CHECK_HAS(err.msg, "1 to");
	X509_free(x);

	err.msg[0] = '\0';
	x = issue(g_is, SP_KIND_SERVER, n, g_ec256, "pv.telco.net", -5, &err);
	CHECK(x == NULL);
	CHECK_HAS(err.msg, "1 to");
	X509_free(x);

	/* Just within the root's life is fine. */
	x = issue(g_is, SP_KIND_SERVER, n, g_ec256, "pv.telco.net", 3649,
	    &err);
	CHECK(x != NULL);
	X509_free(x);
	X509_NAME_free(n);
}

static void
t_issuer_key_mismatch(void)
{
	struct sp_err err = { "" };
	struct sp_issuer *is;

	is = sp_issuer_new(g_root, g_ec256, &err);
	CHECK(is == NULL);
	CHECK_HAS(err.msg, "does not match");
	sp_issuer_free(is);
}

static void
t_issuer_dup(void)
{
	struct sp_err err = { "" };
	struct sp_issuer *d = sp_issuer_dup(g_is, &err);
	X509_NAME *n = name_cn("pv.telco.net");
	X509 *x = NULL;

	CHECK(d != NULL);
	if (d != NULL) {
		CHECK(X509_cmp(sp_issuer_cert(d), g_root) == 0);
		x = issue(d, SP_KIND_SERVER, n, g_ec256, "pv.telco.net", 30,
		    &err);
		CHECK(x != NULL);
		if (x != NULL)
			CHECK(X509_verify(x, g_rootkey) == 1);
	}
	X509_free(x);
	X509_NAME_free(n);
	sp_issuer_free(d);
}

/* Round trip through DER: what a phone or a file reader will see. */
static X509 *
reparse(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y = NULL;
	int len;

	if ((len = i2d_X509(x, &der)) > 0) {
		p = der;
		y = d2i_X509(NULL, &p, len);
	}
	OPENSSL_free(der);
	return y;
}

/* The DER of a certificate's SubjectPublicKeyInfo; caller frees. */
static unsigned char *
spki_der(X509 *x, int *len)
{
	unsigned char *der = NULL;

	*len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	return *len > 0 ? der : NULL;
}

/*
 * sp_issuer_sign_lean() writes an EC key straight into the certificate (the
 * fast path of bulk issuance); sp_issuer_sign() goes through OpenSSL.  Both
 * must give the same SubjectPublicKeyInfo, and the lean certificate read
 * back from DER must carry the very key it was issued for.
 */
static void
lean_case(EVP_PKEY *k)
{
	struct sp_issue rq;
	struct sp_err err = { "" };
	X509_NAME *n = name_cn(DEV_MAC);
	unsigned char *a = NULL, *b = NULL;
	X509 *lean, *full, *y = NULL;
	int alen = 0, blen = 0;

	memset(&rq, 0, sizeof(rq));
	rq.kind = SP_KIND_DEVICE;
	rq.subject = n;
	rq.pubkey = k;
	rq.days = 30;
	lean = sp_issuer_sign_lean(g_is, &rq, &err);
	full = sp_issuer_sign(g_is, &rq, &err);
	CHECK(lean != NULL && full != NULL);
	if (lean == NULL || full == NULL) {
		printf("# %s\n", err.msg);
		goto out;
	}
	/* Fields are there on the lean certificate as returned. */
	CHECK(X509_NAME_cmp(X509_get_subject_name(lean), n) == 0);
	CHECK(has_eku(lean, XKU_SSL_CLIENT));
	CHECK(X509_check_ca(lean) == 0);

	a = spki_der(lean, &alen);
	b = spki_der(full, &blen);
	CHECK(a != NULL && b != NULL && alen == blen &&
	    memcmp(a, b, (size_t)alen) == 0);

	y = reparse(lean);
	CHECK(y != NULL);
	if (y != NULL) {
		CHECK(X509_get0_pubkey(y) != NULL &&
		    EVP_PKEY_eq(X509_get0_pubkey(y), k) == 1);
		CHECK(sp_x509_key_matches(y, k));
		CHECK(!sp_x509_key_matches(y, g_ec256));
		CHECK(X509_verify(y, g_rootkey) == 1);
		CHECK(X509_check_issued(g_root, y) == X509_V_OK);
	}
out:
	ERR_clear_error();
	OPENSSL_free(a);
	OPENSSL_free(b);
	X509_free(y);
	X509_free(lean);
	X509_free(full);
	X509_NAME_free(n);
}

static void
t_issue_lean_ec_p256(void)
{
	EVP_PKEY *k = gen_ec("P-256");

	lean_case(k);
	EVP_PKEY_free(k);
}

static void
t_issue_lean_ec_p384(void)
{
	EVP_PKEY *k = gen_ec("P-384");

	lean_case(k);
	EVP_PKEY_free(k);
}

/* Keys off the fast path (RSA) still come out right. */
static void
t_issue_lean_rsa(void)
{
	lean_case(g_rsa2048);
}

/*
 * The certificate sp_issuer_sign() returns, used as it is (not re-parsed):
 * unlike the lean one, its public key is there for X509_get0_pubkey(),
 * sp_x509_key_matches() and X509_verify() of what it signs.
 */
static void
ec_inmemory_case(const char *curve)
{
	struct sp_err err = { "" };
	EVP_PKEY *k = gen_ec(curve);
	X509_NAME *n = name_cn(DEV_MAC);
	X509 *x, *y = NULL;

	x = issue(g_is, SP_KIND_DEVICE, n, k, NULL, 30, &err);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK(X509_get0_pubkey(x) != NULL &&
		    EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1);
		CHECK(sp_x509_key_matches(x, k));
		CHECK(!sp_x509_key_matches(x, g_ec256));
		y = reparse(x);
		CHECK(y != NULL && sp_x509_key_matches(y, k));
	}
	ERR_clear_error();
	X509_free(y);
	X509_free(x);
	X509_NAME_free(n);
	EVP_PKEY_free(k);
}

static void
t_issue_ec_p256_inmemory_pubkey(void)
{
	ec_inmemory_case("P-256");
}

static void
t_issue_ec_p384_inmemory_pubkey(void)
{
	ec_inmemory_case("P-384");
}

/* ---------------------------------------------------------------- serials */

static void
t_serial_norm(void)
{
	char out[80];

	CHECK(sp_x509_serial_norm("0x0a1b", out, sizeof(out)) == 0);
	CHECK_STR(out, "0A1B");
	CHECK(sp_x509_serial_norm("a1b", out, sizeof(out)) == 0);
	CHECK_STR(out, "0A1B");
	CHECK(sp_x509_serial_norm("00:0A:1B", out, sizeof(out)) == 0);
	CHECK_STR(out, "0A1B");
	CHECK(sp_x509_serial_norm("0X0000A1B", out, sizeof(out)) == 0);
	CHECK_STR(out, "0A1B");
	CHECK(sp_x509_serial_norm("7f", out, sizeof(out)) == 0);
	CHECK_STR(out, "7F");
	CHECK(sp_x509_serial_norm("zz", out, sizeof(out)) == -1);
	CHECK(sp_x509_serial_norm("", out, sizeof(out)) == -1);
	CHECK(sp_x509_serial_norm("0x", out, sizeof(out)) == -1);
	CHECK(sp_x509_serial_norm("0a 1b", out, sizeof(out)) == -1);
	CHECK(sp_x509_serial_norm("-0a1b", out, sizeof(out)) == -1);
	/* Too small a destination is an error, not a cut. */
	CHECK(sp_x509_serial_norm("0a1b", out, 4) == -1);
}

static void
t_serial_hex(void)
{
	struct sp_err err = { "" };
	X509_NAME *n = name_cn(DEV_MAC);
	char hex[80], norm[80];
	ASN1_INTEGER *ai;
	BIGNUM *bn;
	char *want;
	X509 *x;

	x = issue(g_is, SP_KIND_DEVICE, n, g_ec256, NULL, 30, &err);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK(sp_x509_serial_hex(x, hex, sizeof(hex)) == 0);
		bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		want = bn ? BN_bn2hex(bn) : NULL;
		CHECK_STR(hex, want);
		CHECK(strlen(hex) == 32);
		/* Normalising what we print gives it back. */
		CHECK(sp_x509_serial_norm(hex, norm, sizeof(norm)) == 0);
		CHECK_STR(norm, hex);
		OPENSSL_free(want);
		BN_free(bn);
		/* Too small a destination is refused. */
		CHECK(sp_x509_serial_hex(x, hex, 32) == -1);

		/* A small serial prints as whole bytes. */
		ai = ASN1_INTEGER_new();
		CHECK(ai != NULL && ASN1_INTEGER_set(ai, 0x0a1b) == 1 &&
		    X509_set_serialNumber(x, ai) == 1);
		CHECK(sp_x509_serial_hex(x, hex, sizeof(hex)) == 0);
		CHECK_STR(hex, "0A1B");
		ASN1_INTEGER_free(ai);
	}
	X509_free(x);
	X509_NAME_free(n);
}

/* ------------------------------------------------------------ reasons, CRL */

static void
t_reason_names(void)
{
	static const char *const names[] = { "unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "privilegeWithdrawn" };
	size_t i;
	int code;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		code = -99;
		CHECK(sp_x509_reason_parse(names[i], &code) == 0);
		CHECK_STR(sp_x509_reason_name(code), names[i]);
	}
	CHECK(sp_x509_reason_parse("keyCompromise", &code) == 0);
	CHECK(code == CRL_REASON_KEY_COMPROMISE);
	CHECK(sp_x509_reason_parse("KEYCOMPROMISE", &code) == 0);
	CHECK(code == CRL_REASON_KEY_COMPROMISE);
	CHECK(sp_x509_reason_parse("superSEDED", &code) == 0);
	CHECK(code == CRL_REASON_SUPERSEDED);
	CHECK(sp_x509_reason_parse("certificateHold", &code) == -1);
	CHECK(sp_x509_reason_parse("removeFromCRL", &code) == -1);
	CHECK(sp_x509_reason_parse("", &code) == -1);
	CHECK(sp_x509_reason_parse("keyCompromise ", &code) == -1);
}

static void
t_crl(void)
{
	struct sp_err err = { "" };
	struct sp_revoked revs[2];
	X509_NAME *n = name_cn(DEV_MAC);
	X509 *x[3] = { NULL, NULL, NULL };
	char hex[2][80];
	X509_REVOKED *rev;
	ASN1_INTEGER *num;
	ASN1_ENUMERATED *reason;
	X509_CRL *crl;
	time_t when = time(NULL) - 3600;
	int i;

	for (i = 0; i < 3; i++) {
		x[i] = issue(g_is, SP_KIND_DEVICE, n, g_ec256, NULL, 30, &err);
		CHECK(x[i] != NULL);
		if (x[i] == NULL)
			goto out;
	}
	for (i = 0; i < 2; i++)
		CHECK(sp_x509_serial_hex(x[i], hex[i], sizeof(hex[i])) == 0);
	revs[0].serial_hex = hex[0];
	revs[0].when = when;
	revs[0].reason = CRL_REASON_KEY_COMPROMISE;
	revs[1].serial_hex = hex[1];
	revs[1].when = when;
	revs[1].reason = CRL_REASON_UNSPECIFIED;
	crl = sp_issuer_crl(g_is, revs, 2, 42, 7, &err);
	CHECK(crl != NULL);
	if (crl == NULL) {
		printf("# %s\n", err.msg);
		goto out;
	}
	CHECK(X509_CRL_verify(crl, g_rootkey) == 1);
	CHECK(X509_CRL_verify(crl, g_ec256) != 1);
	ERR_clear_error();
	CHECK(X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(g_root)) == 0);
	CHECK(X509_CRL_get_version(crl) == X509_CRL_VERSION_2);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	CHECK(num != NULL && ASN1_INTEGER_get(num) == 42);
	ASN1_INTEGER_free(num);
	CHECK(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) == 2);

	rev = NULL;
	CHECK(X509_CRL_get0_by_serial(crl, &rev,
	    X509_get0_serialNumber(x[0])) == 1);
	if (rev != NULL) {
		reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL,
		    NULL);
		CHECK(reason != NULL &&
		    ASN1_ENUMERATED_get(reason) == CRL_REASON_KEY_COMPROMISE);
		ASN1_ENUMERATED_free(reason);
		CHECK(ASN1_TIME_cmp_time_t(
		    X509_REVOKED_get0_revocationDate(rev), when) == 0);
	}
	rev = NULL;
	CHECK(X509_CRL_get0_by_serial(crl, &rev,
	    X509_get0_serialNumber(x[1])) == 1);
	if (rev != NULL) {
		reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL,
		    NULL);
		CHECK(reason == NULL ||
		    ASN1_ENUMERATED_get(reason) == CRL_REASON_UNSPECIFIED);
		ASN1_ENUMERATED_free(reason);
	}
	rev = NULL;
	CHECK(X509_CRL_get0_by_serial(crl, &rev,
	    X509_get0_serialNumber(x[2])) == 0);
	/* nextUpdate is days after lastUpdate. */
	{
		int day = 0, sec = 0;

		CHECK(X509_CRL_get0_nextUpdate(crl) != NULL &&
		    ASN1_TIME_diff(&day, &sec, X509_CRL_get0_lastUpdate(crl),
		    X509_CRL_get0_nextUpdate(crl)) == 1 && day == 7 &&
		    sec == 0);
	}
	X509_CRL_free(crl);

	/* An empty CRL is fine too. */
	crl = sp_issuer_crl(g_is, NULL, 0, 1, 7, &err);
	CHECK(crl != NULL);
	if (crl != NULL) {
		CHECK(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
		CHECK(X509_CRL_verify(crl, g_rootkey) == 1);
	}
	X509_CRL_free(crl);
out:
	for (i = 0; i < 3; i++)
		X509_free(x[i]);
	X509_NAME_free(n);
}

/* ------------------------------------------------------- key encodings */

/* Compares sp_x509_key_pem() with OpenSSL's own PKCS#8 PEM for k. */
static int
pem_same_as_openssl(EVP_PKEY *k, int verbose)
{
	struct sp_err err = { "" };
	struct sp_buf b;
	BIO *m = BIO_new(BIO_s_mem());
	char *want;
	size_t wlen;
	int same;

	sp_buf_init(&b, 1 << 16);
	if (m == NULL || PEM_write_bio_PKCS8PrivateKey(m, k, NULL, NULL, 0,
	    NULL, NULL) != 1)
		abort();
	want = bio_take(m, &wlen);
	BIO_free(m);
	if (sp_x509_key_pem(k, NULL, &b, &err) != 0) {
		printf("# sp_x509_key_pem: %s\n", err.msg);
		same = 0;
	} else
		same = b.len == wlen && memcmp(b.data, want, wlen) == 0;
	if (!same && verbose)
		printf("# ours:\n%s# OpenSSL's:\n%s", b.data ? b.data : "",
		    want);
	OPENSSL_cleanse(want, wlen);
	free(want);
	sp_buf_release(&b);
	return same;
}

static void
key_pem_case(const char *curve, int nkeys)
{
	int i, bad = 0;
	EVP_PKEY *k;

	for (i = 0; i < nkeys; i++) {
		k = gen_ec(curve);
		if (!pem_same_as_openssl(k, bad == 0))
			bad++;
		EVP_PKEY_free(k);
	}
	if (bad != 0)
		printf("# %d of %d %s keys differ\n", bad, nkeys, curve);
	CHECK(bad == 0);
}

static void
t_key_pem_p256_like_openssl(void)
{
	key_pem_case("P-256", 50);
}

static void
t_key_pem_p384_like_openssl(void)
{
	key_pem_case("P-384", 50);
}

/*
 * A private scalar with a leading zero byte (1 key in 256) must still be
 * encoded at full width, as OpenSSL does.
 */
static void
t_key_pem_ec_short_scalar(void)
{
	const char *curves[] = { "P-256", "P-384" };
	int c, i, found;

	for (c = 0; c < 2; c++) {
		size_t full = c == 0 ? 32 : 48;

		found = 0;
		for (i = 0; i < 20000 && !found; i++) {
			EVP_PKEY *k = gen_ec(curves[c]);
			BIGNUM *d = NULL;

			if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
			    (size_t)BN_num_bytes(d) < full) {
				found = 1;
				CHECK(pem_same_as_openssl(k, 1));
			}
			BN_clear_free(d);
			EVP_PKEY_free(k);
		}
		CHECK(found);
	}
}

static void
t_key_pem_rsa_roundtrip(void)
{
	struct sp_err err = { "" };
	struct sp_buf b;
	EVP_PKEY *k = NULL;
	BIO *m;

	sp_buf_init(&b, 1 << 16);
	CHECK(sp_x509_key_pem(g_rsa2048, NULL, &b, &err) == 0);
	CHECK_HAS(b.data, "-----BEGIN PRIVATE KEY-----");
	if (b.data != NULL && (m = BIO_new_mem_buf(b.data, (int)b.len)) !=
	    NULL) {
		k = PEM_read_bio_PrivateKey(m, NULL, NULL, NULL);
		BIO_free(m);
	}
	CHECK(k != NULL && EVP_PKEY_eq(k, g_rsa2048) == 1);
	EVP_PKEY_free(k);
	sp_buf_release(&b);
	CHECK(pem_same_as_openssl(g_rsa2048, 1));
}

static void
t_key_pem_encrypted(void)
{
	static const char pass[] = "correct horse battery";
	struct sp_err err = { "" };
	struct sp_buf b;
	char path[512];
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/enc.key", g_tmp);
	sp_buf_init(&b, 1 << 16);
	CHECK(sp_x509_key_pem(g_ec256, pass, &b, &err) == 0);
	CHECK_HAS(b.data, "-----BEGIN ENCRYPTED PRIVATE KEY-----");
	CHECK(b.data == NULL || strstr(b.data, "BEGIN PRIVATE KEY") == NULL);
	CHECK(b.data != NULL && write_file(path, b.data, b.len, 0600) == 0);
	sp_buf_release(&b);

	k = sp_x509_key_load(path, pass, &err);
	CHECK(k != NULL && EVP_PKEY_eq(k, g_ec256) == 1);
	EVP_PKEY_free(k);

	err.msg[0] = '\0';
	k = sp_x509_key_load(path, "wrong horse battery", &err);
	CHECK(k == NULL);
	CHECK_HAS(err.msg, "passphrase");
	EVP_PKEY_free(k);

	err.msg[0] = '\0';
	k = sp_x509_key_load(path, NULL, &err);
	CHECK(k == NULL);
	CHECK_HAS(err.msg, "--passphrase-file");
	EVP_PKEY_free(k);
	unlink(path);
}

static void
t_key_load_plain_and_perms(void)
{
	struct sp_err err = { "" };
	struct sp_buf b;
	char path[512];
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/plain.key", g_tmp);
	sp_buf_init(&b, 1 << 16);
	CHECK(sp_x509_key_pem(g_ec256, NULL, &b, &err) == 0);
	CHECK(b.data != NULL && write_file(path, b.data, b.len, 0600) == 0);

	k = sp_x509_key_load(path, NULL, &err);
	CHECK(k != NULL && EVP_PKEY_eq(k, g_ec256) == 1);
	EVP_PKEY_free(k);

	CHECK(chmod(path, 0644) == 0);
	err.msg[0] = '\0';
	k = sp_x509_key_load(path, NULL, &err);
	CHECK(k == NULL);
	CHECK_HAS(err.msg, "group/others");
	EVP_PKEY_free(k);

	CHECK(chmod(path, 0620) == 0);
	err.msg[0] = '\0';
	k = sp_x509_key_load(path, NULL, &err);
	CHECK(k == NULL);
	CHECK_HAS(err.msg, "group/others");
	EVP_PKEY_free(k);
	unlink(path);
	sp_buf_release(&b);
}

/* ------------------------------------------------------ certificate parse */

static void
t_cert_parse(void)
{
	struct sp_err err = { "" };
	struct sp_buf b;
	unsigned char *der = NULL;
	char *end;
	X509 *x;
	int len;

	sp_buf_init(&b, 1 << 16);
	CHECK(sp_x509_cert_pem(g_root, &b, &err) == 0);
	CHECK_HAS(b.data, "-----BEGIN CERTIFICATE-----");

	x = sp_x509_cert_parse(b.data, b.len, &err);
	CHECK(x != NULL && X509_cmp(x, g_root) == 0);
	X509_free(x);

	len = i2d_X509(g_root, &der);
	CHECK(len > 0);
	x = sp_x509_cert_parse((const char *)der, (size_t)len, &err);
	CHECK(x != NULL && X509_cmp(x, g_root) == 0);
	X509_free(x);
	OPENSSL_free(der);

	err.msg[0] = '\0';
	CHECK(sp_x509_cert_parse("", 0, &err) == NULL);
	CHECK_HAS(err.msg, "empty");

	end = b.data != NULL ? strstr(b.data, "-----END") : NULL;
	CHECK(end != NULL);
	if (end != NULL) {
		err.msg[0] = '\0';
		CHECK(sp_x509_cert_parse(b.data, (size_t)(end - b.data),
		    &err) == NULL);
		CHECK_HAS(err.msg, "truncated");
	}
	sp_buf_release(&b);

	err.msg[0] = '\0';
	CHECK(sp_x509_cert_parse("not a certificate", 17, &err) == NULL);
	CHECK_HAS(err.msg, "neither a PEM nor a DER");
}

static void
t_cert_parse_csr_is_not_cert(void)
{
	struct sp_err err = { "" };
	X509_REQ *r = csr_cn(g_ec256, GOOD_CN, EVP_sha256());
	size_t len;
	char *pem = csr_pem(r, &len, 0);

	CHECK(sp_x509_cert_parse(pem, len, &err) == NULL);
	CHECK_HAS(err.msg, "no CERTIFICATE block");
	X509_REQ_free(r);
	free(pem);
}

/* ------------------------------------------------------------------ main */

static void
setup(void)
{
	struct sp_err err = { "" };

	g_tmp = t_tmpdir();
	g_ec256 = gen_ec("P-256");
	g_rsa2048 = gen_rsa(2048);
	g_rootkey = gen_ec("P-256");
	g_root = sp_x509_make_root(g_rootkey, "Telco Test Root", "Telco",
	    3650, &err);
	if (g_root == NULL) {
		printf("# make_root: %s\n", err.msg);
		abort();
	}
	if ((g_is = sp_issuer_new(g_root, g_rootkey, &err)) == NULL) {
		printf("# issuer_new: %s\n", err.msg);
		abort();
	}
}

static void
teardown(void)
{
	struct sp_err err;

	sp_issuer_free(g_is);
	X509_free(g_root);
	EVP_PKEY_free(g_rootkey);
	EVP_PKEY_free(g_rsa2048);
	EVP_PKEY_free(g_ec256);
	sp_fs_rmtree(g_tmp, &err);
	free(g_tmp);
}

int
main(void)
{
	int rc;

	setup();
	RUN(t_keytype_names);
	RUN(t_kind_names);
	RUN(t_keygen_ec_p256);
	RUN(t_keygen_ec_p384);
	RUN(t_keygen_rsa2048);
	RUN(t_csr_parse_pem);
	RUN(t_csr_parse_new_label);
	RUN(t_csr_parse_der);
	RUN(t_csr_parse_empty);
	RUN(t_csr_parse_garbage);
	RUN(t_csr_parse_truncated_pem);
	RUN(t_csr_parse_cert_not_csr);
	RUN(t_csr_parse_der_trailing);
	RUN(t_csr_parse_damaged_base64);
	run_csr_rows();
	RUN(t_device_subject_roundtrip);
	RUN(t_device_identity_repeated_fields);
	RUN(t_device_subject_optional_fields);
	RUN(t_device_subject_refusals);
	RUN(t_identity_from_cn);
	RUN(t_identity_generic);
	RUN(t_identity_bad_st);
	RUN(t_identity_no_mac);
	RUN(t_root_properties);
	RUN(t_issue_server);
	RUN(t_issue_serials_distinct);
	RUN(t_issue_device_kind);
	RUN(t_issue_days_refused);
	RUN(t_issuer_key_mismatch);
	RUN(t_issuer_dup);
	RUN(t_issue_lean_ec_p256);
	RUN(t_issue_lean_ec_p384);
	RUN(t_issue_lean_rsa);
	RUN(t_issue_ec_p256_inmemory_pubkey);
	RUN(t_issue_ec_p384_inmemory_pubkey);
	RUN(t_serial_norm);
	RUN(t_serial_hex);
	RUN(t_reason_names);
	RUN(t_crl);
	RUN(t_key_pem_p256_like_openssl);
	RUN(t_key_pem_p384_like_openssl);
	RUN(t_key_pem_ec_short_scalar);
	RUN(t_key_pem_rsa_roundtrip);
	RUN(t_key_pem_encrypted);
	RUN(t_key_load_plain_and_perms);
	RUN(t_cert_parse);
	RUN(t_cert_parse_csr_is_not_cert);
	rc = t_done();
	teardown();
	return rc;
}
