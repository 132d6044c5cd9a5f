/*
 * EST (RFC 7030) bodies for `sprov-ca serve`: what crosses the wire is
 * base64 of DER (section 4: "Content-Transfer-Encoding: base64"), PKCS#10
 * in and a certs-only PKCS#7 out, and HTTP Basic credentials for
 * enrolment.  Pure functions over bytes: no I/O, bounded, strict.
 */
#ifndef SPROV_EST_H
#define SPROV_EST_H

#include <stddef.h>

#include <openssl/x509.h>

#include "sprov/buf.h"
#include "sprov/err.h"

/*
 * A simpleenroll / simplereenroll body: base64 (line breaks and spaces
 * allowed, nothing else) of a DER PKCS#10, at most SP_EST_BODY_MAX bytes.
 * Returns the request (caller frees with X509_REQ_free), or NULL with the
 * reason: empty, not base64, not a PKCS#10, trailing bytes.  The policy
 * (sp_x509_csr_check) is the caller's.
 */
X509_REQ	*sp_est_csr_parse(const char *body, size_t len, struct sp_err *);

/*
 * A certs-only PKCS#7 (SignedData without signers) holding certs[0..n),
 * DER in base64 with a line break every 64 characters, appended to out.
 */
int		 sp_est_certs_only(X509 *const *certs, size_t n,
		    struct sp_buf *out, struct sp_err *);

/*
 * "Basic <base64 of user:password>" (RFC 7617): user and password into
 * the caller's buffers (NUL-terminated).  -1 with the reason: another
 * scheme, bad base64, no colon, a control byte, too long.
 */
int		 sp_est_basic_auth(const char *header, char *user, size_t usz,
		    char *pass, size_t psz, struct sp_err *);

/*
 * The client's side (sprov-agent renew).  A re-enrolment request (RFC 7030
 * 4.2.2): a PKCS#10 for key with the subject of the current certificate
 * cur, signed with key (SHA-256), as base64 of DER appended to out.
 */
int		 sp_est_reenroll_csr(X509 *cur, EVP_PKEY *key,
		    struct sp_buf *out, struct sp_err *);
/*
 * An EST answer (a certs-only PKCS#7 in base64, at most SP_EST_BODY_MAX
 * bytes and SP_EST_CERTS_MAX certificates): the certificate for key's
 * public key (caller frees), or NULL with the reason.  Whom it is signed
 * by is the caller's to check.
 */
X509		*sp_est_certs_find(const char *body, size_t len, EVP_PKEY *key,
		    struct sp_err *);

#endif
