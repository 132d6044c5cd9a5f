/*
 * Provider accounts in SQLite (see account.h).
 *
 * Like the store's SQLite backend: WAL so that a reader never waits on a
 * writer, synchronous=FULL so that an acknowledged change survives a power
 * cut, foreign keys on, every write under BEGIN IMMEDIATE, every statement
 * a constant prepared once per connection with its values bound, and a
 * versioned schema migrated in order.
 *
 * A login runs its scrypt outside any transaction (a tenth of a second
 * holding the write lock would serialise every login of every process),
 * then records the outcome in one short write transaction that checks
 * again that the user is not locked out and that the hash it verified is
 * still the stored one and not disabled.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <sqlite3.h>

#include "sprov/account.h"
#include "sprov/err.h"
#include "sprov/fsutil.h"
#include "sprov/limits.h"
#include "sprov/net.h"
#include "sprov/str.h"

#include "account-int.h"
#include "sqlfile-int.h"

#define ACC_BUSY_MS		10000
#define HASH_SCHEME		"scrypt"
/* Bounds of a stored hash's own fields (ours, or raised ones later). */
#define HASH_SALT_MAX		64
#define HASH_KEY_MAX		64
#define HASH_TEXT_MAX		(64 + 2 * HASH_SALT_MAX + 2 * HASH_KEY_MAX)
/* The key of an address in the throttle: text form, maybe "/64". */
#define IP_KEY_MAX		(INET6_ADDRSTRLEN + 3)
/* Shown part of a refused value in a message. */
#define SHOWN_MAX		80

/* ------------------------------------------------------------- schema */

static const char schema_v1[] =
    "CREATE TABLE schema_version(version INTEGER NOT NULL);"
    "INSERT INTO schema_version VALUES(0);"
    "CREATE TABLE orgs("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE);"
    "CREATE TABLE domains("
    " org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " PRIMARY KEY(org_id, name));"
    "CREATE INDEX domains_name ON domains(name);"
    "CREATE TABLE users("
    " id INTEGER PRIMARY KEY,"
    " org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL UNIQUE,"
    " hash TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK(disabled IN (0, 1)),"
    " last_login INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX users_org ON users(org_id);"
    /* One row per failed login and key (a user name, an address). */
    "CREATE TABLE login_fails("
    " kind TEXT NOT NULL CHECK(kind IN ('user', 'ip')),"
    " key TEXT NOT NULL,"
    " time INTEGER NOT NULL);"
    "CREATE INDEX login_fails_key ON login_fails(kind, key, time);"
    "CREATE INDEX login_fails_time ON login_fails(time);"
    /* level: how many lockouts in a row (the delay doubles with each). */
    "CREATE TABLE login_locks("
    " kind TEXT NOT NULL CHECK(kind IN ('user', 'ip')),"
    " key TEXT NOT NULL,"
    " until INTEGER NOT NULL,"
    " level INTEGER NOT NULL,"
    " PRIMARY KEY(kind, key));";

/* Certificate requests and the portal's audit trail (certreq.h). */
static const char schema_v2[] =
    "CREATE TABLE requests("
    " id INTEGER PRIMARY KEY,"
    " org TEXT NOT NULL,"
    " user TEXT NOT NULL,"
    " via TEXT NOT NULL CHECK(via IN ('web', 'est')),"
    " state TEXT NOT NULL CHECK(state IN ('pending', 'issued', 'rejected')),"
    " cn TEXT NOT NULL,"
    " fqdn TEXT NOT NULL,"
    " days INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " decided INTEGER NOT NULL DEFAULT 0,"
    " decided_by TEXT NOT NULL DEFAULT '',"
    " why TEXT NOT NULL DEFAULT '',"
    " csr BLOB NOT NULL,"
    " csr_sha256 TEXT NOT NULL,"
    " cert BLOB,"
    " serial TEXT NOT NULL DEFAULT '',"
    " not_after INTEGER NOT NULL DEFAULT 0,"
    " revoke TEXT NOT NULL DEFAULT 'none'"
    "  CHECK(revoke IN ('none', 'requested', 'done')),"
    " revoke_reason INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX requests_org ON requests(org, id);"
    "CREATE INDEX requests_csr ON requests(org, csr_sha256);"
    "CREATE INDEX requests_serial ON requests(serial);"
    "CREATE TABLE portal_audit("
    " seq INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " org TEXT,"
    " ip TEXT,"
    " action TEXT NOT NULL,"
    " object TEXT,"
    " outcome TEXT NOT NULL,"
    " detail TEXT,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    "CREATE TRIGGER portal_audit_no_update BEFORE UPDATE ON portal_audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER portal_audit_no_delete BEFORE DELETE ON portal_audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;";

/* A re-enrolment request keeps the certificate that authenticated it,
 * for the operator's approval to check again. */
static const char schema_v3[] =
    "ALTER TABLE requests ADD COLUMN prev_cert BLOB;";

/* migrations[i] takes the schema from version i to i + 1. */
static const char *const migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
};

/* ---------------------------------------------------------- statements */

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_ORG_ADD,
	ST_ORG_ID,
	ST_DOM_CONFLICT,
	ST_DOM_ADD,
	ST_DOM_DEL,
	ST_DOM_LIST,
	ST_USER_ADD,
	ST_USER_PW,
	ST_USER_DIS,
	ST_USER_GET,
	ST_USER_OK,
	ST_LOCKED,
	ST_FAIL_ADD,
	ST_FAIL_COUNT,
	ST_FAIL_PRUNE,
	ST_FAIL_CLEAR,
	ST_LOCK_GET,
	ST_LOCK_SET,
	ST_LOCK_PRUNE,
	ST_LOCK_CLEAR,
	ST_LIST,
	ST_N
};

static const char *const stmt_sql[ST_N] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_ORG_ADD] = "INSERT OR IGNORE INTO orgs(name) VALUES(?1)",
	[ST_ORG_ID] = "SELECT id FROM orgs WHERE name=?1",
	/* A domain of another org equal to, above or below ?2. */
	[ST_DOM_CONFLICT] = "SELECT o.name, d.name FROM domains d "
	    "JOIN orgs o ON o.id=d.org_id WHERE d.org_id<>?1 AND "
	    "(d.name=?2 OR substr(?2, -length(d.name) - 1)='.' || d.name OR "
	    "substr(d.name, -length(?2) - 1)='.' || ?2) "
	    "ORDER BY o.name, d.name LIMIT 1",
	[ST_DOM_ADD] = "INSERT OR IGNORE INTO domains(org_id, name) "
	    "VALUES(?1, ?2)",
	[ST_DOM_DEL] = "DELETE FROM domains WHERE org_id=?1 AND name=?2",
	[ST_DOM_LIST] = "SELECT name FROM domains WHERE org_id=?1",
	[ST_USER_ADD] = "INSERT OR IGNORE INTO users(org_id, name, hash) "
	    "VALUES(?1, ?2, ?3)",
	[ST_USER_PW] = "UPDATE users SET hash=?2 WHERE name=?1",
	[ST_USER_DIS] = "UPDATE users SET disabled=?2 WHERE name=?1",
	[ST_USER_GET] = "SELECT u.hash, u.disabled, o.name FROM users u "
	    "JOIN orgs o ON o.id=u.org_id WHERE u.name=?1",
	[ST_USER_OK] = "UPDATE users SET last_login=?3 WHERE name=?1 AND "
	    "hash=?2 AND disabled=0",
	/* ?1 is NULL for a malformed user name: only the address counts. */
	[ST_LOCKED] = "SELECT max(until) FROM login_locks WHERE "
	    "((kind='user' AND key=?1) OR (kind='ip' AND key=?2)) AND "
	    "until>?3",
	[ST_FAIL_ADD] = "INSERT INTO login_fails(kind, key, time) "
	    "VALUES(?1, ?2, ?3)",
	[ST_FAIL_COUNT] = "SELECT count(*) FROM login_fails WHERE kind=?1 "
	    "AND key=?2 AND time>?3",
	[ST_FAIL_PRUNE] = "DELETE FROM login_fails WHERE time<=?1",
	[ST_FAIL_CLEAR] = "DELETE FROM login_fails WHERE kind='user' AND "
	    "key=?1",
	[ST_LOCK_GET] = "SELECT until, level FROM login_locks WHERE kind=?1 "
	    "AND key=?2",
	[ST_LOCK_SET] = "INSERT OR REPLACE INTO login_locks(kind, key, until, "
	    "level) VALUES(?1, ?2, ?3, ?4)",
	[ST_LOCK_PRUNE] = "DELETE FROM login_locks WHERE until<=?1",
	[ST_LOCK_CLEAR] = "DELETE FROM login_locks WHERE kind='user' AND "
	    "key=?1",
	[ST_LIST] = "SELECT o.name, 0, NULL, 0, 0 FROM orgs o "
	    "UNION ALL SELECT o.name, 1, d.name, 0, 0 FROM domains d "
	    "JOIN orgs o ON o.id=d.org_id "
	    "UNION ALL SELECT o.name, 2, u.name, u.disabled, u.last_login "
	    "FROM users u JOIN orgs o ON o.id=u.org_id "
	    "ORDER BY 1, 2, 3",
};

struct sp_accounts {
	sqlite3		*db;
	sqlite3_stmt	*st[ST_N];
	struct sp_err	 err;
};

/* A password hash taken apart. */
struct pwhash {
	uint64_t	log_n, r, p;
	unsigned char	salt[HASH_SALT_MAX];
	size_t		saltlen;
	unsigned char	key[HASH_KEY_MAX];
	size_t		keylen;
};

/* ------------------------------------------------------------ helpers */

/* A refused value for a message: printable ASCII, others '?', cut. */
static const char *
shown(char *dst, size_t n, const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0' && i < n - 1 && i < SHOWN_MAX; i++)
		dst[i] = (v[i] >= 0x20 && v[i] <= 0x7e) ? v[i] : '?';
	dst[i] = '\0';
	return dst;
}

static int
db_fail(struct sp_accounts *a)
{
	return sp_err_set(&a->err, "accounts: %s", sqlite3_errmsg(a->db));
}

static sqlite3_stmt *
stmt(struct sp_accounts *a, enum stmt id)
{
	return sp_sqlfile_stmt(a->db, &a->st[id], stmt_sql[id], (int)id,
	    "accounts", &a->err);
}

/* Steps a statement that returns no row; resets it. */
static int
step_done(struct sp_accounts *a, sqlite3_stmt *st)
{
	return sp_sqlfile_step_done(a->db, st, "accounts", &a->err);
}

/*
 * Steps a statement expected to return one integer (or none: *out = dflt).
 * Resets it.
 */
static int
step_int(struct sp_accounts *a, sqlite3_stmt *st, int64_t dflt,
    int64_t *out)
{
	int rc = sqlite3_step(st);

	*out = dflt;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*out = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(a);
	sp_sqlfile_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int
exec_id(struct sp_accounts *a, enum stmt id)
{
	sqlite3_stmt *st;

	if ((st = stmt(a, id)) == NULL)
		return -1;
	return step_done(a, st);
}

static int
tx_begin(struct sp_accounts *a)
{
	return exec_id(a, ST_BEGIN);
}

/* Undoes the transaction; keeps the message that caused it. */
static void
tx_abort(struct sp_accounts *a)
{
	struct sp_err keep = a->err;

	/* SQLite may already have rolled back (I/O error, full disk...). */
	if (!sqlite3_get_autocommit(a->db))
		exec_id(a, ST_ROLLBACK);
	a->err = keep;
}

static int
tx_commit(struct sp_accounts *a)
{
	if (exec_id(a, ST_COMMIT) == -1) {
		tx_abort(a);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- validation */

static int
org_check(struct sp_accounts *a, const char *org)
{
	char q[SHOWN_MAX + 1];
	size_t len;

	if (org == NULL || (len = strnlen(org, SP_ACCOUNT_ORG_MAX + 1)) == 0 ||
	    len > SP_ACCOUNT_ORG_MAX)
		return sp_err_set(&a->err, "org: 1 to %d characters",
		    SP_ACCOUNT_ORG_MAX);
	if (!sp_str_charset(org, len, "._ -"))
		return sp_err_set(&a->err, "org '%s': only letters, digits, "
		    "'.', '_', '-' and spaces", shown(q, sizeof(q), org));
	if (org[0] == ' ' || org[len - 1] == ' ')
		return sp_err_set(&a->err, "org '%s': must not begin or end "
		    "with a space", shown(q, sizeof(q), org));
	return 0;
}

/* The user name rule without a message: login checks it silently. */
static bool
user_valid(const char *user)
{
	size_t i;

	if (user == NULL)
		return false;
	for (i = 0; user[i] != '\0'; i++) {
		char c = user[i];

		if (i >= SP_ACCOUNT_USER_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '@' || c == '-'))
			return false;
	}
	return i > 0;
}

static int
user_check(struct sp_accounts *a, const char *user)
{
	char q[SHOWN_MAX + 1];

	if (user == NULL || *user == '\0' ||
	    strnlen(user, SP_ACCOUNT_USER_MAX + 1) > SP_ACCOUNT_USER_MAX)
		return sp_err_set(&a->err, "user: 1 to %d characters",
		    SP_ACCOUNT_USER_MAX);
	if (!user_valid(user))
		return sp_err_set(&a->err, "user '%s': only lower-case "
		    "letters, digits, '.', '_', '@' and '-'",
		    shown(q, sizeof(q), user));
	return 0;
}

/* Never quotes the password, not even in part. */
static int
password_check(struct sp_accounts *a, const char *user, const char *pw)
{
	size_t len;

	if (pw == NULL)
		return sp_err_set(&a->err, "password: missing");
	len = strnlen(pw, SP_ACCOUNT_PASSWORD_MAX + 1);
	if (len < SP_ACCOUNT_PASSWORD_MIN || len > SP_ACCOUNT_PASSWORD_MAX)
		return sp_err_set(&a->err, "password: %d to %d bytes",
		    SP_ACCOUNT_PASSWORD_MIN, SP_ACCOUNT_PASSWORD_MAX);
	if (strcasecmp(pw, user) == 0)
		return sp_err_set(&a->err, "password: must not be the user "
		    "name");
	return 0;
}

/*
 * A DNS name (what: "domain" or "name" in the message) checked and
 * lower-cased into out (SP_FQDN_MAX + 1 bytes).
 */
static int
dns_norm(struct sp_accounts *a, const char *what, const char *in, char *out)
{
	char q[SHOWN_MAX + 1];
	const char *why = NULL;
	size_t len, i, label = 0, labels = 1, digits = 0, lastlen = 0;
	size_t lastdigits = 0;

	if (in == NULL || *in == '\0')
		return sp_err_set(&a->err, "%s: empty", what);
	len = strnlen(in, SP_FQDN_MAX + 1);
	if (len > SP_FQDN_MAX)
		return sp_err_set(&a->err, "%s '%s...': over %d characters",
		    what, shown(q, sizeof(q), in), SP_FQDN_MAX);
	if (in[len - 1] == '.') {
		why = "no trailing dot";
		goto bad;
	}
	for (i = 0; i <= len; i++) {
		char c = i < len ? in[i] : '.';

		if (c == '.') {
			if (label == 0) {
				why = "empty label";
				goto bad;
			}
			if (out[i - 1] == '-') {
				why = "a label must not end with '-'";
				goto bad;
			}
			if (i < len)
				labels++;
			lastlen = label;
			lastdigits = digits;
			label = 0;
			digits = 0;
			out[i] = c;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-')) {
			why = c == '*' ? "no wildcards" : "labels are letters, "
			    "digits and '-' only";
			goto bad;
		}
		if (c == '-' && label == 0) {
			why = "a label must not begin with '-'";
			goto bad;
		}
		if (++label > SP_LABEL_MAX) {
			why = "a label is at most 63 characters";
			goto bad;
		}
		if (c >= '0' && c <= '9')
			digits++;
		out[i] = c;
	}
	out[len] = '\0';
	if (labels < 2) {
		why = "at least two labels";
		goto bad;
	}
	if (lastdigits == lastlen) {
		why = "the last label is all digits (an IP address?)";
		goto bad;
	}
	return 0;
bad:
	return sp_err_set(&a->err, "%s '%s': %s", what,
	    shown(q, sizeof(q), in), why);
}

/* The throttle key of a client address (sp_net_client_key). */
static int
ip_key(struct sp_accounts *a, const char *ip, char *out, size_t n)
{
	char q[SHOWN_MAX + 1];

	if (ip == NULL)
		return sp_err_set(&a->err, "ip: missing");
	if (sp_net_client_key(ip, out, n) == -1)
		return sp_err_set(&a->err, "ip '%s': not an IPv4 or IPv6 "
		    "address", shown(q, sizeof(q), ip));
	return 0;
}

/* ----------------------------------------------------------- hashing */

static int
unhex(const char *p, size_t len, unsigned char *out, size_t max,
    size_t *outlen)
{
	/* Lower case only: what sp_str_hex wrote, nothing else. */
	if (len == 0 || len % 2 != 0 || len / 2 > max ||
	    strspn(p, "0123456789abcdef") < len ||
	    sp_str_unhex(p, len, out) == -1)
		return -1;
	*outlen = len / 2;
	return 0;
}

/*
 * Takes a stored "scrypt$15$8$1$<salt hex>$<key hex>" apart.  OpenSSL
 * refuses parameters over SP_ACCOUNT_SCRYPT_MAXMEM when it runs them.
 */
static int
hash_parse(const char *text, struct pwhash *h)
{
	const char *p = text, *f;
	size_t len = strlen(text), flen;

	memset(h, 0, sizeof(*h));
	if (!sp_str_field(&p, &len, '$', &f, &flen) ||
	    flen != strlen(HASH_SCHEME) || memcmp(f, HASH_SCHEME, flen) != 0)
		return -1;
	if (!sp_str_field(&p, &len, '$', &f, &flen) ||
	    sp_str_u64(f, flen, 1, 62, &h->log_n) == -1)
		return -1;
	if (!sp_str_field(&p, &len, '$', &f, &flen) ||
	    sp_str_u64(f, flen, 1, 1024, &h->r) == -1)
		return -1;
	if (!sp_str_field(&p, &len, '$', &f, &flen) ||
	    sp_str_u64(f, flen, 1, 1024, &h->p) == -1)
		return -1;
	if (!sp_str_field(&p, &len, '$', &f, &flen) ||
	    unhex(f, flen, h->salt, sizeof(h->salt), &h->saltlen) == -1)
		return -1;
	if (!sp_str_field(&p, &len, '$', &f, &flen) ||
	    unhex(f, flen, h->key, sizeof(h->key), &h->keylen) == -1)
		return -1;
	/* Nothing after the key. */
	return p == NULL ? 0 : -1;
}

/* scrypt of pw with h's parameters and salt into key (h->keylen bytes). */
static int
hash_run(struct sp_accounts *a, const char *pw, size_t pwlen,
    const struct pwhash *h, unsigned char *key)
{
	if (EVP_PBE_scrypt(pw, pwlen, h->salt, h->saltlen,
	    (uint64_t)1 << h->log_n, h->r, h->p,
	    (uint64_t)SP_ACCOUNT_SCRYPT_MAXMEM, key, h->keylen) != 1)
		return sp_err_ssl(&a->err, "accounts: scrypt (N=2^%u, r=%u, "
		    "p=%u)", (unsigned)h->log_n, (unsigned)h->r,
		    (unsigned)h->p);
	return 0;
}

/* A new hash of pw in the text form, into out (HASH_TEXT_MAX + 1). */
static int
hash_new(struct sp_accounts *a, const char *pw, char *out, size_t n)
{
	char salthex[2 * SP_ACCOUNT_SALT_LEN + 1];
	char keyhex[2 * SP_ACCOUNT_KEY_LEN + 1];
	struct pwhash h;
	unsigned char key[SP_ACCOUNT_KEY_LEN];
	int rc = -1;

	memset(&h, 0, sizeof(h));
	h.log_n = SP_ACCOUNT_SCRYPT_LOG_N;
	h.r = SP_ACCOUNT_SCRYPT_R;
	h.p = SP_ACCOUNT_SCRYPT_P;
	h.saltlen = SP_ACCOUNT_SALT_LEN;
	h.keylen = SP_ACCOUNT_KEY_LEN;
	if (RAND_bytes(h.salt, (int)h.saltlen) != 1) {
		sp_err_ssl(&a->err, "accounts: no random salt");
		goto out;
	}
	if (hash_run(a, pw, strlen(pw), &h, key) == -1)
		goto out;
	sp_str_hex(salthex, h.salt, h.saltlen);
	sp_str_hex(keyhex, key, h.keylen);
	if ((size_t)snprintf(out, n, HASH_SCHEME "$%d$%d$%d$%s$%s",
	    SP_ACCOUNT_SCRYPT_LOG_N, SP_ACCOUNT_SCRYPT_R, SP_ACCOUNT_SCRYPT_P,
	    salthex, keyhex) >= n) {
		sp_err_set(&a->err, "accounts: hash text too long");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(keyhex, sizeof(keyhex));
	return rc;
}

/*
 * Checks pw against h; *match says.  The stand-in hash for a user who
 * does not exist: current parameters, a fixed salt, a key no password
 * gives (all zero: finding one is a preimage of scrypt).
 */
static int
hash_verify(struct sp_accounts *a, const char *pw, size_t pwlen,
    const struct pwhash *h, bool *match)
{
	unsigned char key[HASH_KEY_MAX];
	int rc;

	*match = false;
	rc = hash_run(a, pw, pwlen, h, key);
	if (rc == 0)
		*match = CRYPTO_memcmp(key, h->key, h->keylen) == 0;
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static void
hash_dummy(struct pwhash *h)
{
	static const char salt[SP_ACCOUNT_SALT_LEN] = "sprov-no-user...";

	memset(h, 0, sizeof(*h));
	h->log_n = SP_ACCOUNT_SCRYPT_LOG_N;
	h->r = SP_ACCOUNT_SCRYPT_R;
	h->p = SP_ACCOUNT_SCRYPT_P;
	memcpy(h->salt, salt, sizeof(salt));
	h->saltlen = sizeof(salt);
	h->keylen = SP_ACCOUNT_KEY_LEN;
}

/* ------------------------------------------------------ open and close */

static const struct sp_sqlfile_schema acc_schema = {
	"orgs", "accounts database", migrations,
	sizeof(migrations) / sizeof(migrations[0]),
};

struct sp_accounts *
sp_accounts_open(const char *path, struct sp_err *err)
{
	struct sp_accounts *a = NULL;

	if (path == NULL || *path == '\0') {
		sp_err_set(err, "accounts database path missing");
		return NULL;
	}
	if (sp_sqlfile_precreate(path, err) == -1)
		return NULL;
	/* Password hashes: the file is a secret like a key. */
	if (sp_fs_check_secret(path, err) == -1)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sp_err_set(&a->err, "%s: %s", path, a->db != NULL ?
		    sqlite3_errmsg(a->db) : "cannot open");
		goto fail;
	}
	if (sp_sqlfile_setup(a->db, path, ACC_BUSY_MS, NULL, &a->err) == -1)
		goto fail;
	if (sp_sqlfile_migrate(a->db, path, &acc_schema, &a->err) == -1)
		goto fail;
	return a;
fail:
	sp_err_set(err, "%s", a->err.msg);
	sp_accounts_close(a);
	return NULL;
}

void
sp_accounts_close(struct sp_accounts *a)
{
	int i;

	if (a == NULL)
		return;
	for (i = 0; i < ST_N; i++)
		sqlite3_finalize(a->st[i]);
	sqlite3_close(a->db);
	free(a);
}

sqlite3 *
sp_accounts_db(struct sp_accounts *a)
{
	return a->db;
}

struct sp_err *
sp_accounts_err(struct sp_accounts *a)
{
	return &a->err;
}

const char *
sp_accounts_error(const struct sp_accounts *a)
{
	if (a == NULL)
		return "no accounts database";
	return a->err.msg;
}

/* --------------------------------------------------------------- orgs */

int
sp_accounts_org_add(struct sp_accounts *a, const char *org)
{
	sqlite3_stmt *st;

	if (org_check(a, org) == -1)
		return -1;
	if ((st = stmt(a, ST_ORG_ADD)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, org);
	if (step_done(a, st) == -1)
		return -1;
	if (sqlite3_changes(a->db) == 0)
		return sp_err_set(&a->err, "org '%s' already exists", org);
	return 0;
}

/* The id of org: 0 found, -1 unknown (message says so) or error. */
static int
org_id(struct sp_accounts *a, const char *org, int64_t *id)
{
	sqlite3_stmt *st;

	if ((st = stmt(a, ST_ORG_ID)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, org);
	if (step_int(a, st, -1, id) == -1)
		return -1;
	if (*id == -1)
		return sp_err_set(&a->err, "unknown org '%s'", org);
	return 0;
}

/* ------------------------------------------------------------ domains */

/* 0 when no other org holds dom or a name above or below it. */
static int
domain_conflict(struct sp_accounts *a, int64_t id, const char *dom)
{
	char other[SP_ACCOUNT_ORG_MAX + 1], name[SP_FQDN_MAX + 1];
	sqlite3_stmt *st;
	const unsigned char *o, *d;
	int rc;

	if ((st = stmt(a, ST_DOM_CONFLICT)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sp_sqlfile_bind_str(st, 2, dom);
	switch ((rc = sqlite3_step(st))) {
	case SQLITE_ROW:
		o = sqlite3_column_text(st, 0);
		d = sqlite3_column_text(st, 1);
		snprintf(other, sizeof(other), "%s", o != NULL ?
		    (const char *)o : "?");
		snprintf(name, sizeof(name), "%s", d != NULL ?
		    (const char *)d : "?");
		sp_err_set(&a->err, "domain '%s': overlaps '%s' of org '%s' "
		    "(a name is certified for one org only)", dom, name,
		    other);
		break;
	case SQLITE_DONE:
		break;
	default:
		db_fail(a);
		break;
	}
	sp_sqlfile_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
sp_accounts_domain_add(struct sp_accounts *a, const char *org,
    const char *domain)
{
	char dom[SP_FQDN_MAX + 1];
	sqlite3_stmt *st;
	int64_t id;

	if (org_check(a, org) == -1 || dns_norm(a, "domain", domain, dom) == -1)
		return -1;
	if (tx_begin(a) == -1)
		return -1;
	if (org_id(a, org, &id) == -1 || domain_conflict(a, id, dom) == -1)
		goto fail;
	if ((st = stmt(a, ST_DOM_ADD)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sp_sqlfile_bind_str(st, 2, dom);
	if (step_done(a, st) == -1)
		goto fail;
	if (sqlite3_changes(a->db) == 0) {
		sp_err_set(&a->err, "domain '%s': org '%s' already has it",
		    dom, org);
		goto fail;
	}
	return tx_commit(a);
fail:
	tx_abort(a);
	return -1;
}

int
sp_accounts_domain_remove(struct sp_accounts *a, const char *org,
    const char *domain)
{
	char dom[SP_FQDN_MAX + 1];
	sqlite3_stmt *st;
	int64_t id;

	if (org_check(a, org) == -1 || dns_norm(a, "domain", domain, dom) == -1)
		return -1;
	if (tx_begin(a) == -1)
		return -1;
	if (org_id(a, org, &id) == -1 || (st = stmt(a, ST_DOM_DEL)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sp_sqlfile_bind_str(st, 2, dom);
	if (step_done(a, st) == -1)
		goto fail;
	if (sqlite3_changes(a->db) == 0) {
		sp_err_set(&a->err, "domain '%s': not a domain of org '%s'",
		    dom, org);
		goto fail;
	}
	return tx_commit(a);
fail:
	tx_abort(a);
	return -1;
}

/* True when name is dom or below it, on a label boundary. */
static bool
name_under(const char *name, const char *dom)
{
	size_t nl = strlen(name), dl = strlen(dom);

	if (dl == 0 || nl < dl)
		return false;
	if (nl == dl)
		return strcasecmp(name, dom) == 0;
	return name[nl - dl - 1] == '.' && strcasecmp(name + nl - dl, dom) == 0;
}

int
sp_accounts_domain_allowed(struct sp_accounts *a, const char *org,
    const char *fqdn)
{
	char name[SP_FQDN_MAX + 1];
	sqlite3_stmt *st;
	const unsigned char *d;
	int64_t id;
	int rc, allowed = 0;

	if (org_check(a, org) == -1)
		return -1;
	if (dns_norm(a, "name", fqdn, name) == -1)
		return 0;
	if ((st = stmt(a, ST_ORG_ID)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, org);
	if (step_int(a, st, -1, &id) == -1)
		return -1;
	if (id == -1) {
		sp_err_set(&a->err, "unknown org '%s'", org);
		return 0;
	}
	if ((st = stmt(a, ST_DOM_LIST)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		d = sqlite3_column_text(st, 0);
		if (d != NULL && name_under(name, (const char *)d)) {
			allowed = 1;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(a);
		allowed = -1;
	} else if (!allowed)
		sp_err_set(&a->err, "name '%s' is not a domain of org '%s' nor "
		    "below one", name, org);
	sp_sqlfile_reset(st);
	return allowed;
}

int
sp_accounts_domain_owner(struct sp_accounts *a, const char *fqdn,
    char *org)
{
	char name[SP_FQDN_MAX + 1];
	sqlite3_stmt *st = NULL;
	const unsigned char *d, *o;
	int rc, found = 0;

	if (dns_norm(a, "name", fqdn, name) == -1)
		return 0;
	if (sqlite3_prepare_v2(a->db, "SELECT d.name, o.name FROM domains d "
	    "JOIN orgs o ON o.id=d.org_id", -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return db_fail(a);
	}
	/* Domains never overlap across orgs (domain_add): one owner. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		d = sqlite3_column_text(st, 0);
		o = sqlite3_column_text(st, 1);
		if (d != NULL && o != NULL && name_under(name,
		    (const char *)d)) {
			snprintf(org, SP_ACCOUNT_ORG_MAX + 1, "%s",
			    (const char *)o);
			found = 1;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		found = db_fail(a);
	else if (!found)
		sp_err_set(&a->err, "name '%s' is not a domain of any org nor "
		    "below one", name);
	sqlite3_finalize(st);
	return found;
}

/* -------------------------------------------------------------- users */

int
sp_accounts_user_add(struct sp_accounts *a, const char *org,
    const char *user, const char *password)
{
	char hash[HASH_TEXT_MAX + 1];
	sqlite3_stmt *st;
	int64_t id;
	int rc = -1;

	if (org_check(a, org) == -1 || user_check(a, user) == -1 ||
	    password_check(a, user, password) == -1)
		return -1;
	/* Hashed before the write lock is taken: scrypt is slow. */
	if (hash_new(a, password, hash, sizeof(hash)) == -1)
		goto out;
	if (tx_begin(a) == -1)
		goto out;
	if (org_id(a, org, &id) == -1 || (st = stmt(a, ST_USER_ADD)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sp_sqlfile_bind_str(st, 2, user);
	sp_sqlfile_bind_str(st, 3, hash);
	if (step_done(a, st) == -1)
		goto fail;
	if (sqlite3_changes(a->db) == 0) {
		sp_err_set(&a->err, "user '%s' already exists", user);
		goto fail;
	}
	rc = tx_commit(a);
	goto out;
fail:
	tx_abort(a);
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int
sp_accounts_password_set(struct sp_accounts *a, const char *user,
    const char *password)
{
	char hash[HASH_TEXT_MAX + 1];
	sqlite3_stmt *st;
	int rc = -1;

	if (user_check(a, user) == -1 ||
	    password_check(a, user, password) == -1)
		return -1;
	if (hash_new(a, password, hash, sizeof(hash)) == -1)
		goto out;
	if ((st = stmt(a, ST_USER_PW)) == NULL)
		goto out;
	sp_sqlfile_bind_str(st, 1, user);
	sp_sqlfile_bind_str(st, 2, hash);
	if (step_done(a, st) == -1)
		goto out;
	if (sqlite3_changes(a->db) == 0) {
		sp_err_set(&a->err, "unknown user '%s'", user);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int
sp_accounts_user_disable(struct sp_accounts *a, const char *user,
    bool disabled)
{
	sqlite3_stmt *st;

	if (user_check(a, user) == -1)
		return -1;
	if ((st = stmt(a, ST_USER_DIS)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, user);
	sqlite3_bind_int(st, 2, disabled ? 1 : 0);
	if (step_done(a, st) == -1)
		return -1;
	if (sqlite3_changes(a->db) == 0)
		return sp_err_set(&a->err, "unknown user '%s'", user);
	return 0;
}

/* -------------------------------------------------------------- login */

/*
 * The latest lockout of the user (NULL: not counted) or the address still
 * running at now, into *until (0: none).
 */
static int
locked_until(struct sp_accounts *a, const char *user, const char *ipk,
    time_t now, int64_t *until)
{
	sqlite3_stmt *st;

	if ((st = stmt(a, ST_LOCKED)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, user);
	sp_sqlfile_bind_str(st, 2, ipk);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	return step_int(a, st, 0, until);
}

/*
 * Records one failure of key, in the caller's transaction, and locks key
 * out when it makes max within the window (LOCK_MIN_S), or when key is on
 * probation: its last lockout ended less than a window ago.  Then the
 * lockout is twice the last one, at most LOCK_MAX_S: an attacker who
 * waits out each lockout gets one guess per ever longer wait.
 */
static int
fail_record(struct sp_accounts *a, const char *kind, const char *key,
    time_t now, int64_t max)
{
	sqlite3_stmt *st;
	int64_t n, until = 0, level = 0, delay;
	int rc;

	if ((st = stmt(a, ST_FAIL_ADD)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, kind);
	sp_sqlfile_bind_str(st, 2, key);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	if (step_done(a, st) == -1)
		return -1;
	if ((st = stmt(a, ST_LOCK_GET)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, kind);
	sp_sqlfile_bind_str(st, 2, key);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		until = sqlite3_column_int64(st, 0);
		level = sqlite3_column_int64(st, 1);
	} else if (rc != SQLITE_DONE)
		db_fail(a);
	sp_sqlfile_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (rc == SQLITE_DONE || until + SP_ACCOUNT_FAIL_WINDOW_S <= now ||
	    level < 1) {
		/* Not on probation: the count decides. */
		level = 0;
		if ((st = stmt(a, ST_FAIL_COUNT)) == NULL)
			return -1;
		sp_sqlfile_bind_str(st, 1, kind);
		sp_sqlfile_bind_str(st, 2, key);
		sqlite3_bind_int64(st, 3,
		    (sqlite3_int64)now - SP_ACCOUNT_FAIL_WINDOW_S);
		if (step_int(a, st, 0, &n) == -1)
			return -1;
		if (n < max)
			return 0;
	}
	level++;
	for (delay = SP_ACCOUNT_LOCK_MIN_S, n = 1;
	    n < level && delay < SP_ACCOUNT_LOCK_MAX_S; n++)
		delay *= 2;
	if (delay > SP_ACCOUNT_LOCK_MAX_S)
		delay = SP_ACCOUNT_LOCK_MAX_S;
	if ((st = stmt(a, ST_LOCK_SET)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, kind);
	sp_sqlfile_bind_str(st, 2, key);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now + delay);
	sqlite3_bind_int64(st, 4, level);
	return step_done(a, st);
}

/* Forgets failures and lockouts that can no longer count. */
static int
fail_prune(struct sp_accounts *a, time_t now)
{
	sqlite3_stmt *st;

	if ((st = stmt(a, ST_FAIL_PRUNE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1,
	    (sqlite3_int64)now - SP_ACCOUNT_FAIL_WINDOW_S);
	if (step_done(a, st) == -1)
		return -1;
	if ((st = stmt(a, ST_LOCK_PRUNE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1,
	    (sqlite3_int64)now - SP_ACCOUNT_FAIL_WINDOW_S);
	return step_done(a, st);
}

/* A success: the user's failures and lockouts are forgotten. */
static int
user_clear(struct sp_accounts *a, const char *user)
{
	sqlite3_stmt *st;

	if ((st = stmt(a, ST_FAIL_CLEAR)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, user);
	if (step_done(a, st) == -1)
		return -1;
	if ((st = stmt(a, ST_LOCK_CLEAR)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, user);
	return step_done(a, st);
}

/*
 * The stored hash, disabled flag and org of user: 0 found, 1 unknown,
 * -1 error.
 */
static int
user_get(struct sp_accounts *a, const char *user, char *hash, size_t n,
    bool *disabled, char *org)
{
	sqlite3_stmt *st;
	const unsigned char *h, *o;
	int rc = -1;

	if ((st = stmt(a, ST_USER_GET)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, user);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		h = sqlite3_column_text(st, 0);
		o = sqlite3_column_text(st, 2);
		if (h == NULL || o == NULL ||
		    sp_str_copy(hash, n, (const char *)h,
		    (size_t)sqlite3_column_bytes(st, 0)) == -1 ||
		    sp_str_copy(org, SP_ACCOUNT_ORG_MAX + 1, (const char *)o,
		    (size_t)sqlite3_column_bytes(st, 2)) == -1) {
			sp_err_set(&a->err, "user '%s': malformed row", user);
			break;
		}
		*disabled = sqlite3_column_int(st, 1) != 0;
		rc = 0;
		break;
	case SQLITE_DONE:
		rc = 1;
		break;
	default:
		db_fail(a);
		break;
	}
	sp_sqlfile_reset(st);
	return rc;
}

int
sp_accounts_user_state(struct sp_accounts *a, const char *user, char *org,
    char *stamp)
{
	char hash[HASH_TEXT_MAX + 1];
	unsigned char md[32];
	unsigned int mdlen = 0;
	bool disabled = false;
	int rc;

	if ((rc = user_get(a, user, hash, sizeof(hash), &disabled, org)) != 0)
		return rc == 1 ? 0 : -1;
	if (disabled)
		return 0;
	/* A new password is a new salt and key: a new stamp. */
	if (EVP_Digest(hash, strlen(hash), md, &mdlen, EVP_sha256(), NULL) !=
	    1 || mdlen != 32)
		return sp_err_set(&a->err, "accounts: hash failed");
	sp_str_hex(stamp, md, SP_ACCOUNT_STAMP_LEN / 2);
	OPENSSL_cleanse(hash, sizeof(hash));
	return 1;
}

static int
throttled(struct sp_accounts *a, int64_t until, time_t now, int *retry)
{
	int64_t wait = until - (int64_t)now;

	if (retry != NULL)
		*retry = (int)(wait < 1 ? 1 : wait);
	sp_err_set(&a->err, "too many failed logins: try again in %lld s",
	    (long long)wait);
	return SP_ACCOUNT_LOGIN_THROTTLED;
}

/*
 * Records the outcome of a checked password (ok: right, user enabled) in
 * one write transaction; returns the login's result.
 */
static int
login_record(struct sp_accounts *a, const char *user, const char *ipk,
    const char *hash, bool ok, time_t now, int *retry)
{
	sqlite3_stmt *st;
	int64_t until;
	int rc = SP_ACCOUNT_LOGIN_REFUSED;

	if (tx_begin(a) == -1)
		return -1;
	if (ok) {
		/* Another process may have locked the user out meanwhile. */
		if (locked_until(a, user, ipk, now, &until) == -1)
			goto fail;
		if (until > 0) {
			rc = throttled(a, until, now, retry);
			return tx_commit(a) == -1 ? -1 : rc;
		}
		/* Same hash and still enabled, or the check is stale. */
		if ((st = stmt(a, ST_USER_OK)) == NULL)
			goto fail;
		sp_sqlfile_bind_str(st, 1, user);
		sp_sqlfile_bind_str(st, 2, hash);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
		if (step_done(a, st) == -1)
			goto fail;
		ok = sqlite3_changes(a->db) == 1;
	}
	if (ok) {
		if (user_clear(a, user) == -1)
			goto fail;
		rc = SP_ACCOUNT_LOGIN_OK;
	} else {
		if (fail_prune(a, now) == -1 ||
		    fail_record(a, "ip", ipk, now, SP_ACCOUNT_FAILS_IP) == -1)
			goto fail;
		if (user_valid(user) && fail_record(a, "user", user, now,
		    SP_ACCOUNT_FAILS_USER) == -1)
			goto fail;
		sp_err_set(&a->err, "login refused");
	}
	return tx_commit(a) == -1 ? -1 : rc;
fail:
	tx_abort(a);
	return -1;
}

int
sp_accounts_login(struct sp_accounts *a, const char *user,
    const char *password, const char *ip, time_t now, char *org,
    int *retry_after)
{
	char ipk[IP_KEY_MAX], hash[HASH_TEXT_MAX + 1];
	char uorg[SP_ACCOUNT_ORG_MAX + 1];
	struct pwhash h;
	size_t pwlen;
	int64_t until;
	bool valid, found = false, disabled = false, match = false;
	int rc = -1;

	memset(&h, 0, sizeof(h));
	hash[0] = '\0';
	if (retry_after != NULL)
		*retry_after = 0;
	if (user == NULL || password == NULL || org == NULL) {
		sp_err_set(&a->err, "login: user, password or org buffer "
		    "missing");
		goto out;
	}
	if (ip_key(a, ip, ipk, sizeof(ipk)) == -1)
		goto out;
	valid = user_valid(user);
	/* Locked out: refused before any scrypt (which an attacker pays). */
	if (locked_until(a, valid ? user : NULL, ipk, now, &until) == -1)
		goto out;
	if (until > 0) {
		rc = throttled(a, until, now, retry_after);
		goto out;
	}
	if (valid) {
		switch (user_get(a, user, hash, sizeof(hash), &disabled,
		    uorg)) {
		case 0:
			found = true;
			break;
		case 1:
			break;
		default:
			goto out;
		}
	}
	if (found && hash_parse(hash, &h) == -1) {
		sp_err_set(&a->err, "user '%s': the stored password hash is "
		    "malformed (set a new password)", user);
		goto out;
	}
	/* No such user: the same work against a stand-in, so that the time
	 * taken does not tell. */
	if (!found)
		hash_dummy(&h);
	pwlen = strnlen(password, SP_ACCOUNT_PASSWORD_MAX + 1);
	if (hash_verify(a, password, pwlen > SP_ACCOUNT_PASSWORD_MAX ?
	    SP_ACCOUNT_PASSWORD_MAX : pwlen, &h, &match) == -1)
		goto out;
	rc = login_record(a, user, ipk, hash, found && !disabled && match &&
	    pwlen <= SP_ACCOUNT_PASSWORD_MAX, now, retry_after);
	if (rc == SP_ACCOUNT_LOGIN_OK)
		memcpy(org, uorg, sizeof(uorg));
out:
	OPENSSL_cleanse(&h, sizeof(h));
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

/* --------------------------------------------------------------- list */

int
sp_accounts_list(struct sp_accounts *a,
    int (*fn)(void *, const struct sp_account_row *), void *arg)
{
	struct sp_account_row row;
	sqlite3_stmt *st;
	int rc;

	if ((st = stmt(a, ST_LIST)) == NULL)
		return -1;
	if (sqlite3_stmt_busy(st))
		return sp_err_set(&a->err, "accounts: list called from its "
		    "own callback");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.org = (const char *)sqlite3_column_text(st, 0);
		switch (sqlite3_column_int(st, 1)) {
		case 0:
			row.kind = SP_ACCOUNT_ORG;
			break;
		case 1:
			row.kind = SP_ACCOUNT_DOMAIN;
			break;
		default:
			row.kind = SP_ACCOUNT_USER;
			break;
		}
		row.name = (const char *)sqlite3_column_text(st, 2);
		row.disabled = sqlite3_column_int(st, 3) != 0;
		row.last_login = (time_t)sqlite3_column_int64(st, 4);
		if (row.org == NULL || (row.kind != SP_ACCOUNT_ORG &&
		    row.name == NULL)) {
			sp_err_set(&a->err, "accounts: malformed row");
			sp_sqlfile_reset(st);
			return -1;
		}
		if (fn(arg, &row) == -1) {
			sp_err_set(&a->err, "accounts: list stopped by its "
			    "callback");
			sp_sqlfile_reset(st);
			return -1;
		}
	}
	if (rc != SQLITE_DONE)
		db_fail(a);
	sp_sqlfile_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}
