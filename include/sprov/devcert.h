/*
 * Device certificates for bulk issuance, encoded straight to DER.
 *
 * The certificate is the one sp_issuer_sign() makes for SP_KIND_DEVICE
 * (same fields, same extensions in the same order, same encoding: tests
 * check that OpenSSL re-encodes it byte for byte), but assembled from a
 * template prepared once per issuer instead of through OpenSSL's generic
 * ASN.1 and encoder machinery, which costs more than the signature itself.
 * Only the serial, validity, subject, public key and SKI vary; the
 * signature is one EVP_DigestSign().
 *
 * Ownership: sp_devtpl_new() returns a template freed with
 * sp_devtpl_free(); it borrows the issuer, which must outlive it.  Not
 * thread-safe: one template per thread (with its own sp_issuer_dup()).
 */
#ifndef SPROV_DEVCERT_H
#define SPROV_DEVCERT_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "sprov/buf.h"
#include "sprov/err.h"
#include "sprov/x509.h"

#define SP_DEVCERT_MAX	4096	/* DER; a P-256 device certificate is ~480 */

struct sp_devcert {
	unsigned char	der[SP_DEVCERT_MAX];
	size_t		derlen;
	char		serial[2 * SP_SERIAL_BITS / 8 + 1];	/* upper hex */
	time_t		not_before;
	time_t		not_after;
	unsigned char	pub[133];	/* EC point of the key, if EC */
	size_t		publen;		/* 0 when not EC */
};

struct sp_devtpl;

struct sp_devtpl	*sp_devtpl_new(struct sp_issuer *, int days,
			    struct sp_err *);
void			 sp_devtpl_free(struct sp_devtpl *);
/* Issues a certificate for key with a random serial, valid from now. */
int			 sp_devtpl_issue(struct sp_devtpl *, const char *mac,
			    const char *serial, const char *model, EVP_PKEY *key,
			    struct sp_devcert *, struct sp_err *);
/* The same with the serial (positive, first byte non-zero) and clock given. */
int			 sp_devtpl_issue_at(struct sp_devtpl *, const char *mac,
			    const char *serial, const char *model, EVP_PKEY *key,
			    const unsigned char sn[SP_SERIAL_BITS / 8], time_t now,
			    struct sp_devcert *, struct sp_err *);
/*
 * The unencrypted PKCS#8 PEM of the key just issued in dc, reusing the
 * public point the issue step exported (the same bytes as
 * sp_x509_key_pem()).
 */
int			 sp_devcert_key_pem(const struct sp_devcert *dc,
			    EVP_PKEY *key, struct sp_buf *out, struct sp_err *);
/* "OU=model,L=serial,ST=mac,CN=mac", as sp_x509_name_oneline() prints it. */
void			 sp_devcert_subject(const char *mac, const char *serial,
			    const char *model, char *dst, size_t dstsz);

#endif
