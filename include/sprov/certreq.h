/*
 * What the CA portal (sprov-ca serve) and its operator commands keep in
 * portal.db next to the accounts: the certificate requests of each
 * organisation (from the web pages or EST), their outcome (the
 * certificate, or the operator's reason to reject), revocation requests,
 * and the portal's audit trail.
 *
 * A request moves pending -> issued or pending -> rejected, once; an
 * issued certificate may then be asked for revocation (revoke "requested")
 * and revoked ("done").  In online mode the portal records a request
 * already issued; in queue mode `sprov-ca approve` issues it.
 *
 * The audit trail is append-only and hash-chained (each entry's hash
 * covers the previous one's, as in the store's audit): `sprov-ca audit
 * --verify` finds an entry edited or removed in the file.
 *
 * Calls take the accounts handle (same file, same connection, same
 * not-thread-safe rule).  Errors: sp_accounts_error().  Ownership: a
 * struct sp_certreq filled by a call owns csr and cert; release it with
 * sp_certreq_release(), which accepts a zeroed struct.
 */
#ifndef SPROV_CERTREQ_H
#define SPROV_CERTREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "sprov/account.h"
#include "sprov/limits.h"

struct sp_certreq {
	long long	 id;
	char		 org[SP_ACCOUNT_ORG_MAX + 1];
	char		 user[SP_ACCOUNT_USER_MAX + 1];
	char		 via[8];		/* "web", "est" */
	char		 state[12];		/* pending, issued, rejected */
	char		 cn[SP_CN_MAX + 1];
	char		 fqdn[SP_FQDN_MAX + 1];
	int		 days;
	time_t		 created;
	time_t		 decided;		/* 0: pending */
	char		 decided_by[SP_ACCOUNT_USER_MAX + 1];
	char		 why[SP_CERTREQ_WHY_MAX + 1];	/* rejected */
	char		 serial[80];		/* issued: hex */
	time_t		 not_after;		/* issued */
	char		 revoke[12];		/* none, requested, done */
	int		 revoke_reason;		/* CRL reason code */
	unsigned char	*csr;			/* DER, owned */
	size_t		 csrlen;
	unsigned char	*cert;			/* DER, owned; NULL unless issued */
	size_t		 certlen;
	/* Re-enrolment: the certificate that authenticated the request
	 * (DER, owned), NULL otherwise; reenroll says which in lists. */
	unsigned char	*prev;
	size_t		 prevlen;
	bool		 reenroll;
};

void	sp_certreq_release(struct sp_certreq *);

/*
 * A new request from org/user (via, cn, fqdn, days, csr/csrlen and
 * prev/prevlen read from r), pending; or issued at once when cert is not NULL (online mode).
 * Its id in *id.
 */
int	sp_certreq_add(struct sp_accounts *, const struct sp_certreq *r,
	    X509 *cert, long long *id);
/* 0 found (r filled), 1 no such request, -1 error. */
int	sp_certreq_get(struct sp_accounts *, long long id,
	    struct sp_certreq *r);
/* The newest request of org for the same CSR (EST retries it): 0/1/-1. */
int	sp_certreq_find_csr(struct sp_accounts *, const char *org,
	    const unsigned char *csr, size_t csrlen, struct sp_certreq *r);
/* pending -> issued with cert; pending -> rejected with why.  -1 (and
 * nothing changed) if the request is not pending. */
int	sp_certreq_issue(struct sp_accounts *, long long id, X509 *cert,
	    const char *by);
int	sp_certreq_reject(struct sp_accounts *, long long id,
	    const char *why, const char *by);
/* Revocation: issued + none -> requested; requested or none -> done.
 * -1 with the reason otherwise. */
int	sp_certreq_revoke_request(struct sp_accounts *, long long id,
	    int reason);
int	sp_certreq_revoke_done(struct sp_accounts *, long long id,
	    int reason);
/* An operator revoked serial outside the portal: its request, if any,
 * is marked done.  0 either way. */
int	sp_certreq_revoked_serial(struct sp_accounts *, const char *serial,
	    int reason);

/*
 * Requests newest first: of org (NULL: every org), only those waiting for
 * the operator when waiting (pending, or revocation requested), at most
 * SP_CERTREQ_LIST_MAX.  csr and cert are NULL in the rows (borrowed for
 * the call).  Stops with -1 when fn returns -1.
 */
int	sp_certreq_list(struct sp_accounts *, const char *org, bool waiting,
	    int (*fn)(void *, const struct sp_certreq *), void *);

/* ------------------------------------------------------------- audit */

struct sp_portal_audit {
	long long	 seq;
	time_t		 time;
	const char	*actor;		/* user, "operator", or "-" */
	const char	*org;		/* NULL: none */
	const char	*ip;		/* NULL: local command */
	const char	*action;	/* "login", "sign", "approve", ... */
	const char	*object;	/* request id, serial, CN; NULL */
	const char	*outcome;	/* "ok", "refused", "error", ... */
	const char	*detail;	/* the reason; NULL */
};

/* Appends an entry (time and seq are set here). */
int	sp_portal_audit_add(struct sp_accounts *,
	    const struct sp_portal_audit *);
/*
 * Walks the trail in order, checking every link; fn (may be NULL) sees
 * each entry.  0 when the chain holds, -1 with the first broken entry
 * named (or a database error).  *n: entries seen.
 */
int	sp_portal_audit_walk(struct sp_accounts *,
	    int (*fn)(void *, const struct sp_portal_audit *), void *,
	    long long *n);

#endif
