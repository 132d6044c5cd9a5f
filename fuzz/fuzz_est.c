/*
 * EST bodies on arbitrary bytes: the first byte picks the parser (a
 * PKCS#10 request in base64, an EST answer (base64 PKCS#7) as the agent
 * reads it, or an Authorization header).  A refusal must
 * name its cause; an accepted request must re-encode to DER; accepted
 * credentials hold no control byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sprov/est.h"
#include "sprov/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char hdr[SP_HTTP_VALUE_MAX + 1], u[256], p[256];
	struct sp_err err;
	unsigned char *der = NULL;
	X509_REQ *req;
	size_t i;

	if (size < 1)
		return 0;
	err.msg[0] = '\0';
	if ((data[0] & 3) == 2) {
		/* An answer: a certificate found is one for the key. */
		static EVP_PKEY *key;
		X509 *x;

		if (key == NULL && (key = EVP_EC_gen("P-256")) == NULL)
			abort();
		x = sp_est_certs_find((const char *)data + 1, size - 1, key,
		    &err);
		if (x == NULL && err.msg[0] == '\0')
			abort();
		if (x != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1)
			abort();
		X509_free(x);
		return 0;
	}
	if (data[0] & 1) {
		req = sp_est_csr_parse((const char *)data + 1, size - 1, &err);
		if (req == NULL && err.msg[0] == '\0')
			abort();
		if (req != NULL && i2d_X509_REQ(req, &der) <= 0)
			abort();
		OPENSSL_free(der);
		X509_REQ_free(req);
		return 0;
	}
	/* The HTTP parser hands over one header value: no NUL, bounded. */
	if (size - 1 > SP_HTTP_VALUE_MAX || memchr(data + 1, '\0', size - 1))
		return 0;
	memcpy(hdr, data + 1, size - 1);
	hdr[size - 1] = '\0';
	if (sp_est_basic_auth(hdr, u, sizeof(u), p, sizeof(p), &err) == -1) {
		if (err.msg[0] == '\0' || u[0] != '\0' || p[0] != '\0')
			abort();
		return 0;
	}
	if (u[0] == '\0')
		abort();
	for (i = 0; u[i] != '\0'; i++)
		if ((unsigned char)u[i] < 0x20 || u[i] == ':')
			abort();
	for (i = 0; p[i] != '\0'; i++)
		if ((unsigned char)p[i] < 0x20)
			abort();
	return 0;
}
