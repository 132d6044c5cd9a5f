/*
 * Unit tests for lib/est.c: PKCS#10 requests in base64 (as curl
 * --data-binary sends them), certs-only PKCS#7 out, HTTP Basic
 * credentials; each refusal names its cause.
 */
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "harness.h"

#include "sprov/buf.h"
#include "sprov/est.h"
#include "sprov/limits.h"

static EVP_PKEY *
ec_key(void)
{
	return EVP_EC_gen("P-256");
}

/* A CSR for cn, DER in base64 with a line break every 64 characters. */
static void
csr_b64(const char *cn, struct sp_buf *out, unsigned char **derp, int *dlen)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *nm = X509_NAME_new();
	EVP_PKEY *k = ec_key();
	unsigned char *der = NULL;
	char b64[8192];
	int len, blen, i;

	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_REQ_set_subject_name(req, nm);
	X509_REQ_set_pubkey(req, k);
	X509_REQ_sign(req, k, EVP_sha256());
	len = i2d_X509_REQ(req, &der);
	blen = EVP_EncodeBlock((unsigned char *)b64, der, len);
	for (i = 0; i < blen; i += 64) {
		sp_buf_append(out, b64 + i, (size_t)(blen - i < 64 ? blen - i :
		    64));
		sp_buf_append(out, "\r\n", 2);
	}
	if (derp != NULL) {
		*derp = der;
		*dlen = len;
	} else
		OPENSSL_free(der);
	X509_NAME_free(nm);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

static void
t_csr_good(void)
{
	struct sp_buf b;
	struct sp_err err = { "" };
	X509_REQ *req;
	char cn[256];

	sp_buf_init(&b, 1 << 16);
	csr_b64("pv.telco.net", &b, NULL, NULL);
	req = sp_est_csr_parse(b.data, b.len, &err);
	CHECK(req != NULL);
	if (req != NULL) {
		X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
		    NID_commonName, cn, sizeof(cn));
		CHECK_STR(cn, "pv.telco.net");
	}
	X509_REQ_free(req);
	sp_buf_release(&b);
}

static void
t_csr_refused(void)
{
	struct sp_buf b, t;
	struct sp_err err;
	unsigned char *der = NULL, more[4096];
	int dlen = 0, n;
	char big[SP_EST_BODY_MAX + 2];

	err.msg[0] = '\0';
	CHECK(sp_est_csr_parse("", 0, &err) == NULL);
	CHECK_HAS(err.msg, "empty");
	CHECK(sp_est_csr_parse("MII!abcd", 8, &err) == NULL);
	CHECK_HAS(err.msg, "not base64: byte 0x21");
	CHECK(sp_est_csr_parse("aGVsbG8=", 8, &err) == NULL);
	CHECK_HAS(err.msg, "not a PKCS#10");
	CHECK(sp_est_csr_parse("aGVsbG8", 7, &err) == NULL);
	CHECK_HAS(err.msg, "multiple of 4");
	CHECK(sp_est_csr_parse("aG=sbG8=", 8, &err) == NULL);
	CHECK_HAS(err.msg, "not base64");
	/* PEM is not what EST carries: its header is refused by name. */
	CHECK(sp_est_csr_parse("-----BEGIN CERTIFICATE REQUEST-----", 35,
	    &err) == NULL);
	CHECK_HAS(err.msg, "not base64: byte 0x2d");
	/* Trailing bytes after the DER. */
	sp_buf_init(&b, 1 << 16);
	sp_buf_init(&t, 1 << 16);
	csr_b64("pv.telco.net", &b, &der, &dlen);
	memcpy(more, der, (size_t)dlen);
	memcpy(more + dlen, "XYZ", 3);
	n = EVP_EncodeBlock((unsigned char *)big, more, dlen + 3);
	CHECK(sp_est_csr_parse(big, (size_t)n, &err) == NULL);
	CHECK_HAS(err.msg, "3 bytes after");
	/* A byte changed inside: its signature or structure fails. */
	more[dlen - 5] ^= 0x01;
	n = EVP_EncodeBlock((unsigned char *)big, more, dlen);
	{
		X509_REQ *r = sp_est_csr_parse(big, (size_t)n, &err);

		CHECK(r == NULL || X509_REQ_verify(r,
		    X509_REQ_get0_pubkey(r)) != 1);
		X509_REQ_free(r);
	}
	memset(big, 'A', sizeof(big));
	CHECK(sp_est_csr_parse(big, sizeof(big), &err) == NULL);
	CHECK_HAS(err.msg, "at most");
	OPENSSL_free(der);
	sp_buf_release(&b);
	sp_buf_release(&t);
}

static void
t_certs_only(void)
{
	EVP_PKEY *k = ec_key();
	X509 *x = X509_new(), *certs[2];
	X509_NAME *nm = X509_NAME_new();
	struct sp_buf out;
	struct sp_err err = { "" };
	unsigned char der[8192];
	const unsigned char *p = der;
	PKCS7 *p7;
	int n;
	size_t i, j = 0;

	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"sprov Server CA", -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, nm);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_sign(x, k, EVP_sha256());
	certs[0] = certs[1] = x;
	sp_buf_init(&out, 1 << 16);
	CHECK(sp_est_certs_only(certs, 2, &out, &err) == 0);
	/* Lines of at most 64 characters, each ending in LF. */
	for (i = 0, n = 0; i < out.len; i++, n++)
		if (out.data[i] == '\n') {
			CHECK(n <= 64);
			n = -1;
		} else
			der[j++ % sizeof(der)] = (unsigned char)out.data[i];
	CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
	n = EVP_DecodeBlock(der, der, (int)j);
	CHECK(n > 0);
	/* EVP_DecodeBlock counts padding as zero bytes: DER ignores them. */
	p7 = d2i_PKCS7(NULL, &p, n);
	CHECK(p7 != NULL);
	if (p7 != NULL) {
		CHECK(PKCS7_type_is_signed(p7));
		CHECK(sk_X509_num(p7->d.sign->cert) == 2);
		CHECK(X509_cmp(sk_X509_value(p7->d.sign->cert, 0), x) == 0);
		CHECK(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info) == 0);
	}
	PKCS7_free(p7);
	sp_buf_release(&out);
	X509_NAME_free(nm);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
t_basic(void)
{
	struct sp_err err;
	char u[64], pw[64];

	/* "ops@telco:s3cret:with:colons" */
	CHECK(sp_est_basic_auth("Basic b3BzQHRlbGNvOnMzY3JldDp3aXRoOmNvbG9ucw==",
	    u, sizeof(u), pw, sizeof(pw), &err) == 0);
	CHECK_STR(u, "ops@telco");
	CHECK_STR(pw, "s3cret:with:colons");
	CHECK(sp_est_basic_auth("basic  dTpw", u, sizeof(u), pw, sizeof(pw),
	    &err) == 0);
	CHECK_STR(u, "u");
	CHECK_STR(pw, "p");
	CHECK(sp_est_basic_auth("Bearer abc", u, sizeof(u), pw, sizeof(pw),
	    &err) == -1);
	CHECK_HAS(err.msg, "Basic expected");
	CHECK(sp_est_basic_auth("Basic dXNlcg==", u, sizeof(u), pw,
	    sizeof(pw), &err) == -1);		/* "user" */
	CHECK_HAS(err.msg, "user:password");
	CHECK(sp_est_basic_auth("Basic OnB3", u, sizeof(u), pw, sizeof(pw),
	    &err) == -1);			/* ":pw" */
	CHECK_HAS(err.msg, "empty user");
	CHECK(sp_est_basic_auth("Basic dQpwOng=", u, sizeof(u), pw,
	    sizeof(pw), &err) == -1);		/* "u\np:x" */
	CHECK_HAS(err.msg, "control byte");
	CHECK(sp_est_basic_auth("Basic !!!!", u, sizeof(u), pw, sizeof(pw),
	    &err) == -1);
	CHECK_HAS(err.msg, "Authorization");
	CHECK(u[0] == '\0' && pw[0] == '\0');
	/* Longer than the caller's buffer: refused, not cut. */
	CHECK(sp_est_basic_auth("Basic dTpwcHBwcHBwcA==", u, sizeof(u), pw,
	    4, &err) == -1);
}

int
main(void)
{
	RUN(t_csr_good);
	RUN(t_csr_refused);
	RUN(t_certs_only);
	RUN(t_basic);
	return t_done();
}
