/*
 * Certificates for sprov: CSR parsing and policy checks, key generation,
 * issuing (roots, provisioning servers, devices, operators), identities as
 * phones and servers read them, and CRLs.  A thin layer over OpenSSL 3 that
 * encodes sprov's policy in one place.
 *
 * Ownership: functions returning OpenSSL objects (X509 *, EVP_PKEY *,
 * X509_REQ *, X509_CRL *) hand the caller a reference it frees with the
 * matching OpenSSL *_free().  Objects passed in are borrowed.
 */
#ifndef SPROV_X509_H
#define SPROV_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sprov/buf.h"
#include "sprov/err.h"
#include "sprov/limits.h"

enum sp_keytype {
	SP_KEY_EC_P256 = 0,
	SP_KEY_EC_P384,
	SP_KEY_RSA2048,
	SP_KEY_RSA3072,
	SP_KEY_RSA4096,
};

enum sp_cert_kind {
	SP_KIND_SERVER = 0,	/* provisioning server, from server-ca */
	SP_KIND_DEVICE,		/* phone client certificate, from device-ca */
	SP_KIND_ADMIN,		/* operator, from admin-ca */
	SP_KIND_ROOT,
};

int		 sp_x509_keytype_parse(const char *, enum sp_keytype *);
const char	*sp_x509_keytype_name(enum sp_keytype);
const char	*sp_x509_kind_name(enum sp_cert_kind);
int		 sp_x509_kind_parse(const char *, enum sp_cert_kind *);

/*
 * A reusable key generator.  Not thread-safe: one per thread.  Reusing the
 * context avoids a provider fetch per key, which matters in bulk.
 */
struct sp_keygen;
struct sp_keygen	*sp_keygen_new(enum sp_keytype, struct sp_err *);
EVP_PKEY		*sp_keygen_run(struct sp_keygen *, struct sp_err *);
void			 sp_keygen_free(struct sp_keygen *);

/* "EC P-256", "RSA 2048" ...; dst at least 32 bytes. */
void		 sp_x509_key_describe(EVP_PKEY *, char *dst, size_t dstsz);

/*
 * Parses a PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or DER
 * CSR.  The error names the problem: empty input, truncated PEM, garbage.
 */
X509_REQ	*sp_x509_csr_parse(const char *, size_t, struct sp_err *);

struct sp_csr_info {
	char	cn[SP_CN_MAX + 1];
	char	fqdn[SP_FQDN_MAX + 1];	/* name part of CN, lower case */
	char	key[32];		/* "RSA 2048", "EC P-256" */
	char	sig[32];		/* "SHA256", ... */
};

/*
 * The policy for a provisioning-server CSR: its own signature verifies,
 * exactly one CN that obeys the CN rule, RSA >= 2048 bits or EC on P-256,
 * P-384 or P-521, signature hash SHA-256 or stronger, no request for
 * CA:TRUE or for certificate/CRL signing key usages.  Fills info on success;
 * the error says what is wrong and how to fix it.
 */
int		 sp_x509_csr_check(X509_REQ *, struct sp_csr_info *,
		    struct sp_err *);

/* Exactly one CN in name, printable ASCII, at most 64 bytes. */
int		 sp_x509_name_cn(const X509_NAME *, char *dst, size_t dstsz,
		    struct sp_err *);
/* First entry of nid as text (any string type, printable only); -1 none. */
int		 sp_x509_name_get(const X509_NAME *, int nid, char *dst,
		    size_t dstsz);
/* One-line RFC 2253 form, escaped, for display. */
void		 sp_x509_name_oneline(const X509_NAME *, char *dst,
		    size_t dstsz);

/*
 * Device subject as Cisco phones carry it: OU=model, L=serial, ST=mac,
 * CN=mac; OU and L left out when NULL.  Fields are validated.
 */
X509_NAME	*sp_x509_device_subject(const char *mac, const char *serial,
		    const char *model, struct sp_err *);
/* Operator subject: O=org (if any), CN=name. */
X509_NAME	*sp_x509_admin_subject(const char *name, const char *org,
		    struct sp_err *);

/*
 * What a server reads from a device certificate.  generic is set for the
 * Cisco "generic" certificate (OU=cisco.com, L=ciscogeneric,
 * ST=ciscogeneric), which identifies no device; mac is then empty.
 */
struct sp_identity {
	char	mac[SP_MAC_HEXLEN + 1];
	char	serial[SP_SERIAL_MAX + 1];
	char	model[SP_MODEL_MAX + 1];
	bool	generic;
};
int		 sp_x509_device_identity(X509 *, struct sp_identity *,
		    struct sp_err *);

/* A self-signed root: CA:TRUE critical, keyCertSign|cRLSign, SKI. */
X509		*sp_x509_make_root(EVP_PKEY *, const char *cn, const char *org,
		    int days, struct sp_err *);

/*
 * An issuer: a CA certificate and its key, with the constant extensions
 * prepared once.  One per thread for bulk work (sp_issuer_dup).
 * The issuer takes its own references to cert and key.
 */
struct sp_issuer;
struct sp_issuer	*sp_issuer_new(X509 *cacert, EVP_PKEY *cakey,
			    struct sp_err *);
struct sp_issuer	*sp_issuer_dup(const struct sp_issuer *,
			    struct sp_err *);
void			 sp_issuer_free(struct sp_issuer *);
X509			*sp_issuer_cert(const struct sp_issuer *);

struct sp_issue {
	enum sp_cert_kind	 kind;
	const X509_NAME		*subject;
	EVP_PKEY		*pubkey;
	const char		*dns;	/* SAN dNSName (servers), or NULL */
	int			 days;
};
/* Signs a new end-entity certificate; random positive 128-bit serial. */
X509		*sp_issuer_sign(struct sp_issuer *, const struct sp_issue *,
		    struct sp_err *);
/*
 * The same certificate, built for bulk issuance where it is only encoded:
 * for EC keys the public key is written straight into the certificate,
 * skipping OpenSSL 3.0's per-call encoder (which costs more than the
 * signature), so X509_get0_pubkey() and everything that needs it
 * (X509_check_private_key, PKCS12_create, X509_verify of children) do not
 * work on the result.  Use it for i2d/PEM and field reads only.
 */
X509		*sp_issuer_sign_lean(struct sp_issuer *,
		    const struct sp_issue *, struct sp_err *);

/* Serial as upper-case hex without leading zero bytes (as openssl prints). */
int		 sp_x509_serial_hex(const X509 *, char *dst, size_t dstsz);
/* Normalises user input ("0x", case, leading zeros). */
int		 sp_x509_serial_norm(const char *in, char *dst, size_t dstsz);

struct sp_revoked {
	const char	*serial_hex;
	time_t		 when;
	int		 reason;	/* CRL_REASON_* */
};
/* reason names as in RFC 5280: keyCompromise, superseded, ... */
int		 sp_x509_reason_parse(const char *, int *);
const char	*sp_x509_reason_name(int);
X509_CRL	*sp_issuer_crl(struct sp_issuer *, const struct sp_revoked *,
		    size_t n, long crl_number, int days, struct sp_err *);

/* PEM of any DER ("CERTIFICATE", ...), as PEM_write_bio() lays it out. */
int		 sp_x509_pem(const char *label, const unsigned char *der,
		    size_t len, struct sp_buf *out);
/* PEM encodings into a buffer; key as PKCS#8, AES-256-CBC when pass set. */
int		 sp_x509_key_pem(EVP_PKEY *, const char *pass,
		    struct sp_buf *, struct sp_err *);
int		 sp_x509_cert_pem(X509 *, struct sp_buf *, struct sp_err *);
/* Loads a PEM private key file, refusing one readable by group/others. */
EVP_PKEY	*sp_x509_key_load(const char *path, const char *pass,
		    struct sp_err *);
/* Loads a PEM or DER certificate. */
X509		*sp_x509_cert_load(const char *path, struct sp_err *);
X509		*sp_x509_cert_parse(const char *, size_t, struct sp_err *);
/* True when cert's public key matches key. */
bool		 sp_x509_key_matches(X509 *, EVP_PKEY *);

#endif
