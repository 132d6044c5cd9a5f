/*
 * A sprov CA directory: three independent roots (server-ca, device-ca,
 * admin-ca), their keys, and an SQLite index of every certificate issued.
 *
 *   DIR/server-ca.crt  DIR/server-ca.key   (0600, optionally encrypted)
 *   DIR/device-ca.crt  DIR/device-ca.key
 *   DIR/admin-ca.crt   DIR/admin-ca.key
 *   DIR/index.db       DIR/crl/
 *
 * Ownership: sp_ca_open() returns an object freed with sp_ca_free().
 * Certificates and issuers it returns are borrowed until sp_ca_free().
 * Errors are read with sp_ca_error().
 */
#ifndef SPROV_CA_H
#define SPROV_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "sprov/err.h"
#include "sprov/x509.h"

enum sp_ca_root {
	SP_CA_SERVER = 0,
	SP_CA_DEVICE,
	SP_CA_ADMIN,
	SP_CA_NROOTS
};

struct sp_ca_init_opts {
	enum sp_keytype	 keytype;
	int		 days;
	const char	*org;		/* NULL: "sprov" */
	const char	*pass;		/* NULL: keys not encrypted */
};

/* Creates a new CA in dir (absent or empty); all or nothing. */
int		 sp_ca_init(const char *dir, const struct sp_ca_init_opts *,
		    struct sp_err *);

struct sp_ca;
struct sp_ca	*sp_ca_open(const char *dir, const char *pass,
		    struct sp_err *);
void		 sp_ca_free(struct sp_ca *);
const char	*sp_ca_error(const struct sp_ca *);
const char	*sp_ca_dir(const struct sp_ca *);
const char	*sp_ca_root_name(enum sp_ca_root);	/* "server-ca" */
int		 sp_ca_root_parse(const char *, enum sp_ca_root *);
X509		*sp_ca_root_cert(struct sp_ca *, enum sp_ca_root);
/* Loads the root's key on first use (needs the passphrase if any). */
struct sp_issuer *sp_ca_issuer(struct sp_ca *, enum sp_ca_root);

/* Index transactions: a write is recorded only when commit succeeds. */
int		 sp_ca_begin(struct sp_ca *);
int		 sp_ca_commit(struct sp_ca *);
void		 sp_ca_rollback(struct sp_ca *);
/* Records an issued certificate (within a transaction). */
int		 sp_ca_record(struct sp_ca *, X509 *, enum sp_cert_kind,
		    enum sp_ca_root, const char *mac);

/*
 * What the index keeps of a certificate, computed without the database so
 * that bulk workers can prepare it in parallel.  sp_ca_rec_fill() allocates
 * der and subject; sp_ca_rec_release() frees them.
 */
struct sp_ca_rec {
	char		 serial[80];
	enum sp_cert_kind kind;
	enum sp_ca_root	 issuer;
	char		 mac[SP_MAC_HEXLEN + 1];	/* "" if none */
	char		 cn[SP_CN_MAX + 1];		/* "" if none */
	char		*subject;
	time_t		 not_before, not_after;
	unsigned char	*der;
	int		 derlen;
};
int		 sp_ca_rec_fill(struct sp_ca_rec *, X509 *, enum sp_cert_kind,
		    enum sp_ca_root, const char *mac, struct sp_err *);
void		 sp_ca_rec_release(struct sp_ca_rec *);
int		 sp_ca_record_rec(struct sp_ca *, const struct sp_ca_rec *);

/* Valid device certificates: (mac, serial) pairs sorted by mac. */
struct sp_ca_macserial {
	char	mac[SP_MAC_HEXLEN + 1];
	char	serial[80];
};
int		 sp_ca_valid_devices(struct sp_ca *,
		    struct sp_ca_macserial **, size_t *);

/* Checks a CSR against policy and signs it; records nothing. */
X509		*sp_ca_sign_server(struct sp_ca *, X509_REQ *, int days,
		    struct sp_csr_info *);
/* Fresh key and device certificate; records nothing. */
X509		*sp_ca_make_device(struct sp_ca *, struct sp_keygen *,
		    const char *mac, const char *serial, const char *model,
		    int days, EVP_PKEY **key);

/*
 * A certificate presented to renew itself (EST re-enrolment): signed and
 * issued by root, in the index as kind, neither revoked nor expired at
 * now.  0, or -1 with the reason in sp_ca_error().
 */
int		 sp_ca_check_current(struct sp_ca *, X509 *, enum sp_ca_root,
		    enum sp_cert_kind, time_t now);
/* A device certificate for key with the identity (MAC, serial, model)
 * of old, which the caller has verified; records nothing. */
X509		*sp_ca_renew_device(struct sp_ca *, X509 *old, EVP_PKEY *key,
		    int days);

/* Whether mac has a valid (unrevoked, unexpired) device certificate. */
int		 sp_ca_mac_has_valid(struct sp_ca *, const char *mac,
		    bool *yes);

struct sp_ca_row {
	char		 serial[80];
	enum sp_cert_kind kind;
	char		 issuer[16];
	char		 subject[512];
	char		 cn[SP_CN_MAX + 1];
	char		 mac[SP_MAC_HEXLEN + 1];
	time_t		 not_before;
	time_t		 not_after;
	time_t		 issued_at;
	bool		 revoked;
	time_t		 revoked_at;
	int		 reason;
};

struct sp_ca_filter {
	int		 kind;		/* -1: any, else enum sp_cert_kind */
	bool		 revoked_only;
	long		 expiring_days;	/* -1: any */
	const char	*mac;		/* NULL: any */
	const char	*serial;	/* NULL: any */
};
/* Calls fn for each matching row; stops and returns -1 if fn does. */
int		 sp_ca_list(struct sp_ca *, const struct sp_ca_filter *,
		    int (*fn)(void *, const struct sp_ca_row *), void *arg);
/* Looks up a certificate by serial; 0 found, 1 not found, -1 error. */
int		 sp_ca_lookup(struct sp_ca *, const char *serial_hex,
		    struct sp_ca_row *);

/*
 * Revocation.  By serial: the certificate must be in the index and valid.
 * By MAC: every valid device certificate of that MAC; *count says how many.
 */
int		 sp_ca_revoke_serial(struct sp_ca *, const char *serial_hex,
		    int reason);
int		 sp_ca_revoke_mac(struct sp_ca *, const char *mac, int reason,
		    int *count);
/* A new CRL for one root, with the next CRL number. */
X509_CRL	*sp_ca_crl(struct sp_ca *, enum sp_ca_root, int days);

/* Converts an ASN1_TIME to time_t; -1 on error. */
time_t		 sp_ca_asn1_time(const ASN1_TIME *);

#endif
