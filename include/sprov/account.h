/*
 * Provider accounts of the CA portal (sprov-ca serve) and of EST: the
 * organisations (VoIP providers), the DNS domains each may obtain
 * provisioning-server certificates for, their users and passwords, and
 * the login throttle.  Kept in one SQLite file (the CA directory's
 * portal.db), created 0600 and refused when group or others may read it:
 * it holds password hashes.
 *
 * Passwords are stored as "scrypt$<log2 N>$<r>$<p>$<salt hex>$<key hex>"
 * (parameters in limits.h; a stored hash keeps its own, so they can be
 * raised later without invalidating passwords).
 *
 * The login throttle lives in the same file, so that it survives a
 * restart and is shared by every process using the file.  Failures are
 * counted per user name (whether or not the user exists: otherwise the
 * lockout itself would tell which names exist) and per client address
 * (IPv6: per /64, the block one client usually holds).  A success
 * clears the user's count, never the address's: one valid account must
 * not let an address go on guessing at the others.
 *
 * One struct sp_accounts per thread (a connection); not thread-safe.
 * Every change is its own transaction.
 *
 * Ownership: sp_accounts_open() returns a handle freed with
 * sp_accounts_close(); errors are read with sp_accounts_error() and name
 * the field and the rule (or the database's cause).  Strings passed in
 * are borrowed for the call.
 */
#ifndef SPROV_ACCOUNT_H
#define SPROV_ACCOUNT_H

#include <stdbool.h>
#include <time.h>

#include "sprov/err.h"
#include "sprov/limits.h"

struct sp_accounts;

/*
 * Opens the database at path, creating it (0600, never through a link)
 * and migrating its schema as needed.  NULL with the reason in err.
 */
struct sp_accounts	*sp_accounts_open(const char *path, struct sp_err *);
void			 sp_accounts_close(struct sp_accounts *);
const char		*sp_accounts_error(const struct sp_accounts *);

/*
 * Orgs: 1 to SP_ACCOUNT_ORG_MAX of [A-Za-z0-9._ -], not beginning or
 * ending with a space; unique regardless of case.  -1 if it exists.
 */
int	sp_accounts_org_add(struct sp_accounts *, const char *org);

/*
 * Domains: a DNS name org may obtain certificates for, covering the name
 * and every name below it.  Letters, digits and '-' in labels of 1 to 63
 * (not beginning or ending with '-'), at least two labels, no trailing
 * dot, at most SP_FQDN_MAX; stored lower-case.  A name that equals, is
 * below or is above a domain of another org is refused: a name is
 * certified for one org only.  -1 if org already has it, or (remove)
 * does not.
 */
int	sp_accounts_domain_add(struct sp_accounts *, const char *org,
	    const char *domain);
int	sp_accounts_domain_remove(struct sp_accounts *, const char *org,
	    const char *domain);

/*
 * Users: 1 to SP_ACCOUNT_USER_MAX of [a-z0-9._@-], unique across orgs
 * (a login names only the user).  Passwords: SP_ACCOUNT_PASSWORD_MIN to
 * SP_ACCOUNT_PASSWORD_MAX bytes, not the user name (in any case).
 * password_set and user_disable: -1 for an unknown user.
 */
int	sp_accounts_user_add(struct sp_accounts *, const char *org,
	    const char *user, const char *password);
int	sp_accounts_password_set(struct sp_accounts *, const char *user,
	    const char *password);
int	sp_accounts_user_disable(struct sp_accounts *, const char *user,
	    bool disabled);

/*
 * A login attempt from ip (the client's address as text) at now.
 * SP_ACCOUNT_LOGIN_OK: org (SP_ACCOUNT_ORG_MAX + 1 bytes) holds the user's
 * org, and the user's failure count is reset.  SP_ACCOUNT_LOGIN_REFUSED:
 * unknown user, wrong password or disabled user, one outcome that never
 * says which (the message is generic too; each takes one scrypt hash).
 * SP_ACCOUNT_LOGIN_THROTTLED: too many recent failures for this user or
 * address; *retry_after (may be NULL) is the seconds to wait; the password
 * was not checked, even if right.  -1: error (a malformed ip included).
 */
#define SP_ACCOUNT_LOGIN_OK		0
#define SP_ACCOUNT_LOGIN_REFUSED	1
#define SP_ACCOUNT_LOGIN_THROTTLED	2
int	sp_accounts_login(struct sp_accounts *, const char *user,
	    const char *password, const char *ip, time_t now, char *org,
	    int *retry_after);

/*
 * 1 when fqdn is one of org's domains or below one (case-insensitive, on
 * label boundaries: "pv.telco.net" is below "telco.net", "eviltelco.net"
 * is not).  0 when not, also for a malformed name (wildcards included)
 * or an unknown org: sp_accounts_error() says why.  -1 on error (a
 * malformed org name included: the caller's error, not the client's).
 */
int	sp_accounts_domain_allowed(struct sp_accounts *, const char *org,
	    const char *fqdn);

/*
 * What a session checks on every request: 1 when user exists and is not
 * disabled, with its org (SP_ACCOUNT_ORG_MAX + 1 bytes) and a stamp
 * (SP_ACCOUNT_STAMP_LEN + 1 bytes of hex) that changes with the password;
 * 0 unknown or disabled; -1 error.
 */
#define SP_ACCOUNT_STAMP_LEN	32
int	sp_accounts_user_state(struct sp_accounts *, const char *user,
	    char *org, char *stamp);

/*
 * The org whose domains cover fqdn, into org (SP_ACCOUNT_ORG_MAX + 1
 * bytes): 1 found, 0 none (or a malformed name), -1 error.  For a
 * certificate presented without an account (EST re-enrolment).
 */
int	sp_accounts_domain_owner(struct sp_accounts *, const char *fqdn,
	    char *org);

/*
 * Everything, for `sprov-ca account list`: orgs by name, each followed by
 * its domains then its users, by name.  The strings are borrowed for the
 * call.  Stops with -1 when fn returns -1.
 */
enum sp_account_kind {
	SP_ACCOUNT_ORG = 0,
	SP_ACCOUNT_DOMAIN,
	SP_ACCOUNT_USER,
};
struct sp_account_row {
	enum sp_account_kind	 kind;
	const char		*org;
	const char		*name;		/* domain or user; NULL: org */
	bool			 disabled;	/* user */
	time_t			 last_login;	/* user; 0: never */
};
int	sp_accounts_list(struct sp_accounts *,
	    int (*fn)(void *, const struct sp_account_row *), void *);

#endif
