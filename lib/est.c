/*
 * EST bodies (RFC 7030): base64 DER in and out, HTTP Basic credentials.
 * Base64 is decoded by OpenSSL (EVP_DecodeBlock) after this file has
 * removed line breaks and checked the alphabet and the padding itself:
 * EVP_DecodeBlock pads its output with zero bytes for "=" and accepts
 * leading and trailing white space, so the true length and the accepted
 * bytes are decided here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "sprov/est.h"
#include "sprov/limits.h"

static int
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Strict base64: white space (CR, LF, space, tab) skipped, any other byte
 * outside the alphabet refused, "=" only as the last one or two of a
 * multiple of four.  The decoded bytes into *out (caller frees), their
 * count into *outlen.
 */
static int
b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen,
    struct sp_err *err)
{
	unsigned char *clean = NULL, *dec = NULL;
	size_t i, n = 0, pad = 0;
	int got, rc = -1;

	*out = NULL;
	*outlen = 0;
	if ((clean = malloc(len + 1)) == NULL) {
		sp_err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			clean[n++] = c;
			continue;
		}
		if (!b64_char(c) || pad > 0) {
			sp_err_set(err, "not base64: byte 0x%02x at offset %zu",
			    c, i);
			goto out;
		}
		clean[n++] = c;
	}
	if (n == 0) {
		sp_err_set(err, "empty body: expected base64 of DER");
		goto out;
	}
	if (n % 4 != 0 || pad > 2) {
		sp_err_set(err, "not base64: %zu characters (a multiple of 4 "
		    "is needed, with at most two '=' at the end)", n);
		goto out;
	}
	if ((dec = malloc(n / 4 * 3 + 1)) == NULL) {
		sp_err_set(err, "out of memory");
		goto out;
	}
	got = EVP_DecodeBlock(dec, clean, (int)n);
	if (got < 0 || (size_t)got != n / 4 * 3) {
		sp_err_set(err, "not base64");
		goto out;
	}
	*outlen = (size_t)got - pad;
	*out = dec;
	dec = NULL;
	rc = 0;
out:
	free(clean);
	free(dec);
	return rc;
}

/* An EST body (what, for the message): bounded, then strict base64. */
static int
body_decode(const char *what, const char *body, size_t len,
    unsigned char **der, size_t *n, struct sp_err *err)
{
	if (len > SP_EST_BODY_MAX)
		return sp_err_set(err, "%s of %zu bytes: at most %d", what, len,
		    SP_EST_BODY_MAX);
	return b64_decode(body, len, der, n, err);
}

/*
 * DER as base64 appended to out: in lines of wrap characters, each ending
 * in a line feed (wrap > 0), or in one piece.  -1 when out is full.
 */
static int
b64_append(struct sp_buf *out, const unsigned char *der, int len,
    size_t wrap)
{
	size_t i, blen = ((size_t)len + 2) / 3 * 4;
	char *b64;
	int rc = -1;

	if ((b64 = malloc(blen + 1)) == NULL ||
	    EVP_EncodeBlock((unsigned char *)b64, der, len) != (int)blen)
		goto out;
	if (wrap == 0)
		rc = sp_buf_append(out, b64, blen);
	else
		for (i = 0, rc = 0; rc == 0 && i < blen; i += wrap)
			rc = sp_buf_append(out, b64 + i, blen - i < wrap ?
			    blen - i : wrap) == -1 ||
			    sp_buf_append(out, "\n", 1) == -1 ? -1 : 0;
out:
	free(b64);
	return rc;
}

X509_REQ *
sp_est_csr_parse(const char *body, size_t len, struct sp_err *err)
{
	const unsigned char *p;
	unsigned char *der = NULL;
	X509_REQ *req = NULL;
	size_t n;

	if (body_decode("request body", body, len, &der, &n, err) == -1)
		return NULL;
	p = der;
	if (n > (size_t)INT32_MAX ||
	    (req = d2i_X509_REQ(NULL, &p, (long)n)) == NULL)
		sp_err_set(err, "not a PKCS#10 certificate request (base64 of "
		    "DER expected, as `openssl req -outform DER | base64` "
		    "makes)");
	else if ((size_t)(p - der) != n) {
		sp_err_set(err, "%zu bytes after the PKCS#10 request",
		    n - (size_t)(p - der));
		X509_REQ_free(req);
		req = NULL;
	}
	free(der);
	return req;
}

int
sp_est_certs_only(X509 *const *certs, size_t n, struct sp_buf *out,
    struct sp_err *err)
{
	unsigned char *der = NULL;
	PKCS7 *p7 = NULL;
	size_t i;
	int len, rc = -1;

	if ((p7 = PKCS7_new()) == NULL ||
	    PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
	    PKCS7_content_new(p7, NID_pkcs7_data) != 1) {
		sp_err_set(err, "cannot build a PKCS#7");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (PKCS7_add_certificate(p7, certs[i]) != 1) {
			sp_err_set(err, "cannot add a certificate to the PKCS#7");
			goto out;
		}
	if ((len = i2d_PKCS7(p7, &der)) <= 0) {
		sp_err_set(err, "cannot encode the PKCS#7");
		goto out;
	}
	/* Lines of 64, as PEM bodies are: what curl users will see. */
	if (b64_append(out, der, len, 64) == -1) {
		sp_err_set(err, "PKCS#7 too large");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_free(der);
	PKCS7_free(p7);
	return rc;
}

int
sp_est_basic_auth(const char *header, char *user, size_t usz, char *pass,
    size_t psz, struct sp_err *err)
{
	unsigned char *dec = NULL;
	const char *colon;
	size_t n, i, ul;
	int rc = -1;

	user[0] = pass[0] = '\0';
	if (strncasecmp(header, "Basic ", 6) != 0)
		return sp_err_set(err, "Authorization: Basic expected");
	header += 6;
	while (*header == ' ')
		header++;
	if (strlen(header) > SP_EST_CRED_MAX * 4 / 3 + 4)
		return sp_err_set(err, "Authorization: too long");
	if (b64_decode(header, strlen(header), &dec, &n, err) == -1) {
		sp_err_prefix(err, "Authorization");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (dec[i] < 0x20 || dec[i] == 0x7f) {
			sp_err_set(err, "Authorization: a control byte in the "
			    "credentials");
			goto out;
		}
	if ((colon = memchr(dec, ':', n)) == NULL) {
		sp_err_set(err, "Authorization: user:password expected");
		goto out;
	}
	ul = (size_t)(colon - (const char *)dec);
	if (ul == 0 || ul >= usz || n - ul - 1 >= psz) {
		sp_err_set(err, "Authorization: user or password too long or "
		    "empty user");
		goto out;
	}
	memcpy(user, dec, ul);
	user[ul] = '\0';
	memcpy(pass, colon + 1, n - ul - 1);
	pass[n - ul - 1] = '\0';
	rc = 0;
out:
	OPENSSL_cleanse(dec, n);
	free(dec);
	return rc;
}

int
sp_est_reenroll_csr(X509 *cur, EVP_PKEY *key, struct sp_buf *out,
    struct sp_err *err)
{
	X509_REQ *req = NULL;
	unsigned char *der = NULL;
	int len, rc = -1;

	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_subject_name(req, X509_get_subject_name(cur)) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(req, &der)) <= 0) {
		sp_err_set(err, "cannot make the certificate request");
		goto out;
	}
	if (b64_append(out, der, len, 0) == -1) {
		sp_err_set(err, "cannot encode the certificate request");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_free(der);
	X509_REQ_free(req);
	return rc;
}

X509 *
sp_est_certs_find(const char *body, size_t len, EVP_PKEY *key,
    struct sp_err *err)
{
	STACK_OF(X509) *certs;
	const unsigned char *p;
	unsigned char *der = NULL;
	PKCS7 *p7 = NULL;
	X509 *x = NULL, *c;
	size_t n;
	int i;

	if (body_decode("answer", body, len, &der, &n, err) == -1)
		return NULL;
	p = der;
	if (n > (size_t)INT32_MAX ||
	    (p7 = d2i_PKCS7(NULL, &p, (long)n)) == NULL ||
	    (size_t)(p - der) != n) {
		sp_err_set(err, "not a PKCS#7 (base64 of DER expected)");
		goto out;
	}
	if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
	    (certs = p7->d.sign->cert) == NULL) {
		sp_err_set(err, "the PKCS#7 holds no certificate");
		goto out;
	}
	if (sk_X509_num(certs) > SP_EST_CERTS_MAX) {
		sp_err_set(err, "the PKCS#7 holds %d certificates: at most %d",
		    sk_X509_num(certs), SP_EST_CERTS_MAX);
		goto out;
	}
	for (i = 0; i < sk_X509_num(certs); i++) {
		c = sk_X509_value(certs, i);
		if (EVP_PKEY_eq(X509_get0_pubkey(c), key) == 1) {
			if (X509_up_ref(c) == 1)
				x = c;
			break;
		}
	}
	if (x == NULL)
		sp_err_set(err, "no certificate in the answer is for the new "
		    "key");
out:
	free(der);
	PKCS7_free(p7);
	return x;
}
