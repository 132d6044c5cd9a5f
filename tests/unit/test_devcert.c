/*
 * The device-certificate template must produce exactly the certificate the
 * general path (sp_issuer_sign) produces: same fields, same extensions byte
 * for byte, and DER that OpenSSL re-encodes identically.
 */
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "harness.h"

#include "sprov/ca.h"
#include "sprov/devcert.h"
#include "sprov/x509.h"

static EVP_PKEY *cakey;
static X509 *root;
static struct sp_issuer *is;

/* Length of the DER element at p (header + content). */
static size_t
elem_len(const unsigned char *p)
{
	size_t i, n;

	if (p[1] < 0x80)
		return 2 + p[1];
	for (n = 0, i = 0; i < (size_t)(p[1] & 0x7f); i++)
		n = n * 256 + p[2 + i];
	return 2 + (size_t)(p[1] & 0x7f) + n;
}

/* The TBSCertificate inside a Certificate's DER. */
static const unsigned char *
tbs_of(const unsigned char *der, size_t *len)
{
	size_t h = der[1] < 0x80 ? 2 : 2 + (size_t)(der[1] & 0x7f);

	*len = elem_len(der + h);
	return der + h;
}

static void
ext_equal(X509 *a, X509 *b)
{
	int i, n = X509_get_ext_count(a);

	CHECK(n == X509_get_ext_count(b));
	for (i = 0; i < n && i < X509_get_ext_count(b); i++) {
		unsigned char *pa = NULL, *pb = NULL;
		int la = i2d_X509_EXTENSION(X509_get_ext(a, i), &pa);
		int lb = i2d_X509_EXTENSION(X509_get_ext(b, i), &pb);

		CHECK(la > 0 && la == lb && memcmp(pa, pb, (size_t)la) == 0);
		OPENSSL_free(pa);
		OPENSSL_free(pb);
	}
}

/* Issues through both paths for one key and compares. */
static void
compare(enum sp_keytype kt, const char *serial, const char *model)
{
	struct sp_keygen *kg;
	struct sp_devtpl *t;
	struct sp_devcert *dc = malloc(sizeof(*dc));
	struct sp_identity id;
	struct sp_issue rq;
	struct sp_err err;
	const unsigned char *p, *tbs;
	unsigned char *re = NULL;
	X509_NAME *n;
	EVP_PKEY *k;
	X509 *x = NULL, *ref = NULL;
	char hex[80], sub[512], one[512];
	size_t tbslen;
	int relen;

	kg = sp_keygen_new(kt, &err);
	k = sp_keygen_run(kg, &err);
	t = sp_devtpl_new(is, 3650, &err);
	CHECK(t != NULL);
	CHECK(sp_devtpl_issue(t, "000e08abcdef", serial, model, k, dc,
	    &err) == 0);
	p = dc->der;
	CHECK((x = d2i_X509(NULL, &p, (long)dc->derlen)) != NULL);
	if (x == NULL)
		goto out;
	CHECK(p == dc->der + dc->derlen);
	/* OpenSSL re-encodes the TBS it parsed to the very same bytes. */
	tbs = tbs_of(dc->der, &tbslen);
	relen = i2d_re_X509_tbs(x, &re);
	CHECK(relen > 0 && (size_t)relen == tbslen &&
	    memcmp(re, tbs, tbslen) == 0);
	CHECK(X509_verify(x, cakey) == 1);
	CHECK(EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1);
	/* Our PEM is OpenSSL's PEM, byte for byte. */
	{
		struct sp_buf pem;
		BIO *b = BIO_new(BIO_s_mem());
		char *bp;
		long bl;

		sp_buf_init(&pem, 1 << 16);
		CHECK(sp_x509_pem("CERTIFICATE", dc->der, dc->derlen,
		    &pem) == 0);
		PEM_write_bio_X509(b, x);
		bl = BIO_get_mem_data(b, &bp);
		CHECK(bl > 0 && (size_t)bl == pem.len &&
		    memcmp(bp, pem.data, pem.len) == 0);
		BIO_free(b);
		sp_buf_release(&pem);
	}
	/* The key PEM from the kept point is the general one, byte for byte. */
	{
		struct sp_buf a, bb;

		sp_buf_init(&a, 1 << 16);
		sp_buf_init(&bb, 1 << 16);
		CHECK(sp_devcert_key_pem(dc, k, &a, &err) == 0);
		CHECK(sp_x509_key_pem(k, NULL, &bb, &err) == 0);
		CHECK(a.len > 0 && a.len == bb.len &&
		    memcmp(a.data, bb.data, a.len) == 0);
		CHECK((kt == SP_KEY_RSA2048) == (dc->publen == 0));
		sp_buf_release(&a);
		sp_buf_release(&bb);
	}
	/* The general path, same key and subject. */
	n = sp_x509_device_subject("000e08abcdef", serial, model, &err);
	memset(&rq, 0, sizeof(rq));
	rq.kind = SP_KIND_DEVICE;
	rq.subject = n;
	rq.pubkey = k;
	rq.days = 3650;
	ref = sp_issuer_sign(is, &rq, &err);
	CHECK(ref != NULL);
	if (ref != NULL) {
		CHECK(X509_NAME_cmp(X509_get_subject_name(x),
		    X509_get_subject_name(ref)) == 0);
		CHECK(X509_NAME_cmp(X509_get_issuer_name(x),
		    X509_get_issuer_name(ref)) == 0);
		CHECK(X509_get_signature_nid(x) == X509_get_signature_nid(ref));
		CHECK(X509_get_version(x) == X509_get_version(ref));
		ext_equal(x, ref);
		CHECK(labs((long)(sp_ca_asn1_time(X509_get0_notAfter(x)) -
		    sp_ca_asn1_time(X509_get0_notAfter(ref)))) <= 2);
		CHECK(labs((long)(sp_ca_asn1_time(X509_get0_notBefore(x)) -
		    sp_ca_asn1_time(X509_get0_notBefore(ref)))) <= 2);
	}
	/* What the index records matches what OpenSSL reads. */
	CHECK(sp_x509_serial_hex(x, hex, sizeof(hex)) == 0);
	CHECK_STR(dc->serial, hex);
	CHECK(dc->not_before == sp_ca_asn1_time(X509_get0_notBefore(x)));
	CHECK(dc->not_after == sp_ca_asn1_time(X509_get0_notAfter(x)));
	sp_devcert_subject("000e08abcdef", serial, model, sub, sizeof(sub));
	sp_x509_name_oneline(X509_get_subject_name(x), one, sizeof(one));
	CHECK_STR(sub, one);
	CHECK(sp_x509_device_identity(x, &id, &err) == 0);
	CHECK_STR(id.mac, "000e08abcdef");
	CHECK_STR(id.serial, serial ? serial : "");
	CHECK_STR(id.model, model ? model : "");
	X509_NAME_free(n);
out:
	OPENSSL_free(re);
	X509_free(x);
	X509_free(ref);
	EVP_PKEY_free(k);
	sp_keygen_free(kg);
	sp_devtpl_free(t);
	free(dc);
}

static void t_same_as_general_p256(void) { compare(SP_KEY_EC_P256,
    "88012BA01234", "CP-8841-3PCC"); }
static void t_same_as_general_p384(void) { compare(SP_KEY_EC_P384,
    "SN1", "CP-7841"); }
static void t_same_as_general_rsa(void) { compare(SP_KEY_RSA2048,
    "SN2", "SPA-962"); }
static void t_same_without_serial_model(void) { compare(SP_KEY_EC_P256,
    NULL, NULL); }
static void t_same_without_model(void) { compare(SP_KEY_EC_P256, "S.1_x-2",
    NULL); }

/* Times from 2050 on are GeneralizedTime; before, UTCTime. */
static void
t_time_encodings(void)
{
	static const time_t when[] = { 2524607999, 2524608000 + 400,
	    2208988800 };		/* 2049-12-31, 2050-01-01, 2040 */
	struct sp_keygen *kg = sp_keygen_new(SP_KEY_EC_P256, NULL);
	struct sp_issuer *lis;
	struct sp_devtpl *t;
	struct sp_devcert *dc = malloc(sizeof(*dc));
	unsigned char sn[16], *re = NULL;
	const unsigned char *p, *tbs;
	struct sp_err err;
	EVP_PKEY *k = sp_keygen_run(kg, &err);
	X509 *lroot, *x;
	size_t i, tbslen;
	int relen;

	lroot = sp_x509_make_root(cakey, "long root", NULL, 36500, &err);
	lis = sp_issuer_new(lroot, cakey, &err);
	t = sp_devtpl_new(lis, 365, &err);
	memset(sn, 0x11, sizeof(sn));
	for (i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		CHECK(sp_devtpl_issue_at(t, "000e08abcdef", NULL, NULL, k, sn,
		    when[i], dc, &err) == 0);
		p = dc->der;
		x = d2i_X509(NULL, &p, (long)dc->derlen);
		CHECK(x != NULL);
		if (x == NULL)
			continue;
		tbs = tbs_of(dc->der, &tbslen);
		relen = i2d_re_X509_tbs(x, &re);
		CHECK((size_t)relen == tbslen && memcmp(re, tbs, tbslen) == 0);
		OPENSSL_free(re);
		re = NULL;
		CHECK(sp_ca_asn1_time(X509_get0_notBefore(x)) ==
		    when[i] - 300);
		CHECK(sp_ca_asn1_time(X509_get0_notAfter(x)) ==
		    when[i] - 300 + 365 * 86400);
		CHECK(X509_verify(x, cakey) == 1);
		CHECK_STR(dc->serial, "11111111111111111111111111111111");
		X509_free(x);
	}
	sp_devtpl_free(t);
	sp_issuer_free(lis);
	X509_free(lroot);
	EVP_PKEY_free(k);
	sp_keygen_free(kg);
	free(dc);
}

static void
t_refusals(void)
{
	struct sp_keygen *kg = sp_keygen_new(SP_KEY_EC_P256, NULL);
	struct sp_devcert *dc = malloc(sizeof(*dc));
	struct sp_devtpl *t = sp_devtpl_new(is, 365, NULL);
	unsigned char sn[16];
	struct sp_err err;
	EVP_PKEY *k = sp_keygen_run(kg, &err);

	memset(sn, 0x22, sizeof(sn));
	CHECK(sp_devtpl_issue(t, "000E08ABCDEF", NULL, NULL, k, dc,
	    &err) == -1);
	CHECK_HAS(err.msg, "normalised");
	CHECK(sp_devtpl_issue(t, "000e08abcdef", "a b", NULL, k, dc,
	    &err) == -1);
	CHECK_HAS(err.msg, "serial");
	sn[0] = 0x80;
	CHECK(sp_devtpl_issue_at(t, "000e08abcdef", NULL, NULL, k, sn,
	    time(NULL), dc, &err) == -1);
	sn[0] = 0;
	CHECK(sp_devtpl_issue_at(t, "000e08abcdef", NULL, NULL, k, sn,
	    time(NULL), dc, &err) == -1);
	sp_devtpl_free(t);
	CHECK(sp_devtpl_new(is, 0, &err) == NULL);
	t = sp_devtpl_new(is, 36000, &err);	/* past the root's expiry */
	CHECK(sp_devtpl_issue(t, "000e08abcdef", NULL, NULL, k, dc,
	    &err) == -1);
	CHECK_HAS(err.msg, "outlast");
	sp_devtpl_free(t);
	sp_devtpl_free(NULL);
	EVP_PKEY_free(k);
	sp_keygen_free(kg);
	free(dc);
}

/* Many certificates: all parse, verify, and carry distinct serials. */
static void
t_many(void)
{
	struct sp_keygen *kg = sp_keygen_new(SP_KEY_EC_P256, NULL);
	struct sp_devcert *dc = malloc(sizeof(*dc));
	struct sp_devtpl *t = sp_devtpl_new(is, 365, NULL);
	char prev[40] = "";
	struct sp_err err;
	const unsigned char *p;
	int i, ok = 0;

	for (i = 0; i < 300; i++) {
		EVP_PKEY *k = sp_keygen_run(kg, &err);
		char mac[13];
		X509 *x;

		snprintf(mac, sizeof(mac), "000e08%06x", i + 1);
		if (sp_devtpl_issue(t, mac, "SN", "M", k, dc, &err) == 0) {
			p = dc->der;
			x = d2i_X509(NULL, &p, (long)dc->derlen);
			if (x != NULL && X509_verify(x, cakey) == 1 &&
			    EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1 &&
			    strcmp(prev, dc->serial) != 0)
				ok++;
			X509_free(x);
			snprintf(prev, sizeof(prev), "%s", dc->serial);
		}
		EVP_PKEY_free(k);
	}
	CHECK(ok == 300);
	sp_devtpl_free(t);
	sp_keygen_free(kg);
	free(dc);
}

int
main(void)
{
	struct sp_keygen *kg;
	struct sp_err err;

	kg = sp_keygen_new(SP_KEY_EC_P256, &err);
	cakey = sp_keygen_run(kg, &err);
	sp_keygen_free(kg);
	root = sp_x509_make_root(cakey, "test device CA", "Test", 7300, &err);
	is = sp_issuer_new(root, cakey, &err);
	RUN(t_same_as_general_p256);
	RUN(t_same_as_general_p384);
	RUN(t_same_as_general_rsa);
	RUN(t_same_without_serial_model);
	RUN(t_same_without_model);
	RUN(t_time_encodings);
	RUN(t_refusals);
	RUN(t_many);
	sp_issuer_free(is);
	X509_free(root);
	EVP_PKEY_free(cakey);
	return t_done();
}
