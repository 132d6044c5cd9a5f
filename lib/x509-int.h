/*
 * Internals shared by x509.c and devcert.c; not part of libsprov's API.
 */
#ifndef SPROV_X509_INT_H
#define SPROV_X509_INT_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sprov/buf.h"
#include "sprov/err.h"

/* Clock skew a fresh certificate tolerates on a phone whose clock lags. */
#define SP_BACKDATE_SECONDS	300

struct sp_issuer {
	X509		*ca;
	EVP_PKEY	*key;
	const EVP_MD	*md;
	EVP_MD		*sha1;
	X509_EXTENSION	*bc;		/* critical CA:FALSE */
	X509_EXTENSION	*ku_ec;		/* critical digitalSignature */
	X509_EXTENSION	*ku_rsa;	/* + keyEncipherment */
	X509_EXTENSION	*eku_server;
	X509_EXTENSION	*eku_client;
	X509_EXTENSION	*aki;
};

/*
 * A DER tag-length-value into dst (room dstsz); lengths up to 65535.  v may
 * overlap dst (content is moved), so content built at dst can be wrapped in
 * place.  Returns the bytes written, or 0 when dst is too small.
 */
size_t	sp_der_tlv(unsigned char *dst, size_t dstsz, unsigned char tag,
	    const unsigned char *v, size_t vlen);
/* The NID of a P-256 or P-384 key's curve, else NID_undef. */
int	sp_x509_ec_curve_nid(EVP_PKEY *);
/* Unencrypted PKCS#8 PEM of a P-256/P-384 key whose point is known. */
int	sp_x509_ec_key_pem(EVP_PKEY *, const unsigned char *point,
	    size_t pointlen, struct sp_buf *, struct sp_err *);
/* The checks sp_x509_device_subject() applies to its fields. */
int	sp_x509_device_fields_check(const char *mac, const char *serial,
	    const char *model, struct sp_err *);

#endif
