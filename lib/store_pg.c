/*
 * The PostgreSQL backend of the store ("postgresql://..." or
 * "postgres://...", a libpq connection URI).
 *
 * A translation of store_sqlite.c, statement by statement: the same
 * validation (with the helpers of store.c), the same messages, return
 * codes, generation rules and audit chain.  What differs, and why:
 *
 * - Several sprovd nodes share one database.  Writers are serialised by
 *   row locks (the generation row) and, for the audit chain, by a
 *   transaction-level advisory lock taken before the head is read, so
 *   that appends from every connection form one chain.  The migration
 *   takes another advisory lock, so that nodes opening a new database at
 *   once migrate it once.
 * - Text and bytes.  SQLite keeps any bytes in a TEXT column; PostgreSQL
 *   text takes neither NUL nor invalid UTF-8.  Values the store validates
 *   (MAC, names, scopes, serials, ETags, parameter values, which
 *   sp_profile_set checks as UTF-8) stay text.  Values taken from a peer
 *   and recorded without refusal (a device's last IP and User-Agent; an
 *   audit entry's certificate serial, IP, route and ETag) are bytea: the
 *   store promises to keep them cut, never refused, and the audit hash
 *   covers their exact bytes (a NUL included).  Report and blob bodies
 *   are bytea as in SQLite.
 * - meta.value is text (SQLite's was untyped): integers are cast where
 *   they are read and bumped.
 * - Parameters keep their insertion order with an identity column where
 *   SQLite used the rowid; ON CONFLICT DO UPDATE keeps it.
 * - A device list and an audit list are read in pages (keyset), so that
 *   the callback may use the store between pages and memory stays
 *   bounded whatever the number of rows.
 * - Notifications (LISTEN/NOTIFY) make the change feed; every generation
 *   bump and blob put notifies in its own transaction.
 * - The connection can go away.  A call that finds it lost fails, and the
 *   next calls reconnect with a back-off (see up()); nothing is retried
 *   silently, and a caller's transaction that lost its connection fails
 *   until the caller rolls it back.
 *
 * Every statement is a constant in stmt_sql[], prepared once per
 * connection on first use (again after a reconnect); values are always
 * parameters, never formatted into SQL.  Strings and bytes travel in
 * binary format (exact lengths, no escaping), integers as decimal text;
 * results come back in binary (bigint columns as 8 bytes).
 */
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "sprov/buf.h"
#include "sprov/err.h"
#include "sprov/limits.h"
#include "sprov/mac.h"
#include "sprov/profile.h"
#include "sprov/store.h"
#include "sprov/str.h"

#include "store-int.h"

/* Like SQLite's busy timeout: a statement or a lock wait gives up. */
#define PG_STATEMENT_TIMEOUT_MS	10000
#define PG_LOCK_TIMEOUT_MS	10000
/*
 * Advisory lock keys (per database): "sprv" then a number, in decimal
 * since they are pasted into SQL.
 */
#define PG_LOCK_MIGRATE		32493894446153729
#define PG_LOCK_AUDIT		32493894446153730
/* Rows per page of a device or audit list. */
#define PG_PAGE_ROWS		"500"
/* The most parameters of one statement (ST_AUDIT_ADD). */
#define PG_PARAMS_MAX		11
#define PG_CHANNEL		"sprov_changes"
/* Reads of the socket by one sp_pg_changes call, at most. */
#define PG_CONSUME_ROUNDS	4
/* A shown URL, a kept libpq message. */
#define PG_SHOWN_MAX		400
#define PG_MSG_MAX		256

static const char zero_hash[STORE_HASH_HEXLEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* ------------------------------------------------------------- schema */

static const char schema_v1[] =
    "CREATE TABLE schema_version(version bigint NOT NULL);"
    "INSERT INTO schema_version VALUES(0);"
    /* generation, audit head: integers are kept as their decimal text. */
    "CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);"
    "INSERT INTO meta VALUES('generation', '1');"
    "CREATE TABLE devices("
    " mac text PRIMARY KEY,"
    " serial text NOT NULL DEFAULT '',"
    " model text NOT NULL DEFAULT '',"
    " state text NOT NULL DEFAULT 'active'"
    "  CHECK(state IN ('active','quarantined')),"
    " first_seen bigint NOT NULL DEFAULT 0,"
    " last_seen bigint NOT NULL DEFAULT 0,"
    /* The peer's, cut and never refused: any bytes (see the top). */
    " last_ip bytea NOT NULL DEFAULT '',"
    " user_agent bytea NOT NULL DEFAULT '',"
    " firmware text NOT NULL DEFAULT '',"
    " etag text NOT NULL DEFAULT '',"
    " last_report bigint NOT NULL DEFAULT 0,"
    " cert_serial text NOT NULL DEFAULT '');"
    "CREATE TABLE device_certs("
    " mac text NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,"
    " cert_serial text NOT NULL,"
    " first_seen bigint NOT NULL,"
    " last_seen bigint NOT NULL,"
    " PRIMARY KEY(mac, cert_serial));"
    "CREATE INDEX device_certs_serial ON device_certs(cert_serial);"
    "CREATE TABLE device_groups("
    " mac text NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,"
    " grp text NOT NULL,"
    " position bigint NOT NULL,"
    " PRIMARY KEY(mac, grp),"
    " UNIQUE(mac, position));"
    "CREATE INDEX device_groups_grp ON device_groups(grp);"
    /* id: parameters of a scope come back in insertion order. */
    "CREATE TABLE params("
    " id bigint GENERATED ALWAYS AS IDENTITY,"
    " scope text NOT NULL,"
    " name text NOT NULL,"
    " value text NOT NULL,"
    " ua text NOT NULL DEFAULT '' CHECK(ua IN ('','na','ro','rw')),"
    " PRIMARY KEY(scope, name));"
    "CREATE TABLE reports("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " mac text NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,"
    " time bigint NOT NULL,"
    " kind text NOT NULL,"
    " body bytea NOT NULL,"
    " parsed text);"
    "CREATE INDEX reports_mac ON reports(mac, id);"
    /* No foreign key: the trail outlives the devices it mentions. */
    "CREATE TABLE audit("
    " seq bigint PRIMARY KEY,"
    " time bigint NOT NULL,"
    " event text NOT NULL,"
    " mac text,"
    " cert_serial bytea,"
    " ip bytea,"
    " route bytea,"
    " status bigint NOT NULL,"
    " etag bytea,"
    " prev_hash text NOT NULL,"
    " hash text NOT NULL);"
    /*
     * Append-only for sprov itself and for an operator at the psql
     * prompt (TRUNCATE too, which SQLite lacks); someone who drops these
     * is caught by the hash chain.
     */
    "CREATE FUNCTION audit_append_only() RETURNS trigger "
    " LANGUAGE plpgsql AS "
    " $f$BEGIN RAISE EXCEPTION 'audit is append-only'; END$f$;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();";

/* v2: shared blobs (the device CRL, ticket keys), as in SQLite. */
static const char schema_v2[] =
    "CREATE TABLE blobs("
    " name text PRIMARY KEY,"
    " version bigint NOT NULL,"
    " body bytea NOT NULL);";

/* migrations[i] takes the schema from version i to i + 1. */
static const char *const migrations[] = {
	schema_v1,
	schema_v2,
};
#define STORE_SCHEMA_VERSION \
	((int64_t)(sizeof(migrations) / sizeof(migrations[0])))

/* ---------------------------------------------------------- statements */

enum stmt {
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_GEN_GET,
	ST_GEN_BUMP,
	ST_DEV_GET,
	ST_DEV_LIST,
	ST_DEV_MODEL,
	ST_DEV_LOCK,
	ST_DEV_INSERT,
	ST_DEV_UPDATE,
	ST_DEV_STATE,
	ST_DEV_DELETE,
	ST_DEV_SEEN,
	ST_PARAM_DEL_SCOPE,
	ST_GRP_CLEAR,
	ST_GRP_ADD,
	ST_GRP_GET,
	ST_PARAM_SET,
	ST_PARAM_UNSET,
	ST_PARAM_SCOPE,
	ST_PROFILE,
	ST_REPORT_DEV,
	ST_REPORT_ADD,
	ST_REPORT_LAST,
	ST_AUDIT_LOCK,
	ST_AUDIT_LAST,
	ST_AUDIT_ADD,
	ST_AUDIT_HEAD_SET,
	ST_AUDIT_HEAD_GET,
	ST_AUDIT_PAGE,
	ST_AUDIT_MAX,
	ST_AUDIT_RANGE,
	ST_BLOB_GET,
	ST_BLOB_VERSION,
	ST_BLOB_PUT,
	ST_N
};

#define DEV_COLS "mac, serial, model, state, first_seen, last_seen, " \
	"last_ip, user_agent, firmware, etag, last_report, cert_serial"
#define AUDIT_COLS "seq, time, event, mac, cert_serial, ip, route, status, " \
	"etag"

#define STR(x)	STR_(x)
#define STR_(x)	#x

static const char *const stmt_sql[ST_N] = {
	/*
	 * READ COMMITTED: each statement sees what committed before it,
	 * which the audit append relies on once it holds its lock.
	 */
	[ST_BEGIN] = "BEGIN",
	/* A read of several statements sees one snapshot. */
	[ST_BEGIN_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT sp_store_op",
	[ST_RELEASE] = "RELEASE sp_store_op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO sp_store_op",
	[ST_GEN_GET] = "SELECT value::bigint FROM meta "
	    "WHERE key='generation'",
	/* The notification goes out only if this transaction commits. */
	[ST_GEN_BUMP] = "UPDATE meta SET value=(value::bigint + 1)::text "
	    "WHERE key='generation' "
	    "RETURNING pg_notify('" PG_CHANNEL "', 'gen')",
	[ST_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE mac=$1",
	[ST_DEV_LIST] = "SELECT " DEV_COLS " FROM devices WHERE mac > $1 "
	    "ORDER BY mac LIMIT " PG_PAGE_ROWS,
	[ST_DEV_MODEL] = "SELECT model FROM devices WHERE mac=$1",
	/* Locked: a concurrent put of the same device waits for this one. */
	[ST_DEV_LOCK] = "SELECT model FROM devices WHERE mac=$1 FOR UPDATE",
	/*
	 * A device another node inserted since our look is updated, not
	 * refused: the caller asked for a put (the bump it then gets is
	 * one too many, never one too few).
	 */
	[ST_DEV_INSERT] = "INSERT INTO devices(mac, serial, model) "
	    "VALUES($1, $2, $3) ON CONFLICT(mac) DO UPDATE SET "
	    "serial=excluded.serial, model=excluded.model",
	[ST_DEV_UPDATE] = "UPDATE devices SET serial=$2, model=$3 "
	    "WHERE mac=$1",
	[ST_DEV_STATE] = "UPDATE devices SET state=$2 WHERE mac=$1 AND "
	    "state<>$2",
	[ST_DEV_DELETE] = "DELETE FROM devices WHERE mac=$1",
	/*
	 * The contact and the certificate seen, in one round trip (this
	 * runs for every request): the count of devices updated, 0 for an
	 * unknown device (then nothing is written).
	 */
	[ST_DEV_SEEN] = "WITH u AS (UPDATE devices SET last_seen=$2, "
	    "first_seen=CASE WHEN first_seen=0 THEN $2 ELSE first_seen END, "
	    "last_ip=coalesce($3, last_ip), "
	    "user_agent=coalesce($4, user_agent), "
	    "cert_serial=coalesce($5::text, cert_serial), "
	    "etag=coalesce($6, etag) WHERE mac=$1 RETURNING mac), "
	    "c AS (INSERT INTO device_certs(mac, cert_serial, first_seen, "
	    "last_seen) SELECT mac, $5::text, $2, $2 FROM u "
	    "WHERE $5::text IS NOT NULL "
	    "ON CONFLICT(mac, cert_serial) DO UPDATE SET "
	    "last_seen=excluded.last_seen) "
	    "SELECT count(*) FROM u",
	[ST_PARAM_DEL_SCOPE] = "DELETE FROM params WHERE scope=$1",
	[ST_GRP_CLEAR] = "DELETE FROM device_groups WHERE mac=$1",
	[ST_GRP_ADD] = "INSERT INTO device_groups(mac, grp, position) "
	    "VALUES($1, $2, $3)",
	/* One row with grp NULL: a device without groups; none: unknown. */
	[ST_GRP_GET] = "SELECT g.grp FROM devices d LEFT JOIN device_groups g "
	    "ON g.mac=d.mac WHERE d.mac=$1 ORDER BY g.position",
	/* Affects no row when the parameter already held this value. */
	[ST_PARAM_SET] = "INSERT INTO params(scope, name, value, ua) "
	    "VALUES($1, $2, $3, $4) ON CONFLICT(scope, name) DO UPDATE SET "
	    "value=excluded.value, ua=excluded.ua "
	    "WHERE params.value IS DISTINCT FROM excluded.value "
	    "OR params.ua IS DISTINCT FROM excluded.ua",
	[ST_PARAM_UNSET] = "DELETE FROM params WHERE scope=$1 AND name=$2",
	[ST_PARAM_SCOPE] = "SELECT name, value, ua FROM params WHERE "
	    "scope=$1 ORDER BY id",
	/*
	 * The merged profile in one statement (one snapshot): rows come
	 * weakest scope first, groups in the device's order, parameters in
	 * insertion order.
	 */
	[ST_PROFILE] =
	    "SELECT 0, 0::bigint, id, name, value, ua FROM params "
	    " WHERE scope='default' "
	    "UNION ALL SELECT 1, 0, id, name, value, ua FROM params "
	    " WHERE scope='model:' || $2::text "
	    "UNION ALL SELECT 2, g.position, p.id, p.name, p.value, p.ua "
	    " FROM device_groups g JOIN params p ON p.scope='group:' || g.grp "
	    " WHERE g.mac=$1::text "
	    "UNION ALL SELECT 3, 0, id, name, value, ua FROM params "
	    " WHERE scope='device:' || $1::text "
	    "ORDER BY 1, 2, 3",
	[ST_REPORT_DEV] = "UPDATE devices SET last_report=$2, "
	    "firmware=coalesce($3, firmware) WHERE mac=$1",
	[ST_REPORT_ADD] = "INSERT INTO reports(mac, time, kind, body, parsed) "
	    "VALUES($1, $2, $3, $4, $5)",
	[ST_REPORT_LAST] = "SELECT time, body FROM reports WHERE mac=$1 "
	    "ORDER BY id DESC LIMIT 1",
	/* Held to the end of the transaction: one appender at a time. */
	[ST_AUDIT_LOCK] = "SELECT pg_advisory_xact_lock("
	    STR(PG_LOCK_AUDIT) ")",
	[ST_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC "
	    "LIMIT 1",
	[ST_AUDIT_ADD] = "INSERT INTO audit(seq, time, event, mac, "
	    "cert_serial, ip, route, status, etag, prev_hash, hash) "
	    "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
	[ST_AUDIT_HEAD_SET] = "INSERT INTO meta(key, value) "
	    "VALUES('audit_seq', $1::text), ('audit_hash', $2::text) "
	    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
	[ST_AUDIT_HEAD_GET] = "SELECT "
	    "(SELECT value::bigint FROM meta WHERE key='audit_seq'), "
	    "(SELECT value FROM meta WHERE key='audit_hash')",
	[ST_AUDIT_PAGE] = "SELECT " AUDIT_COLS ", prev_hash, hash FROM audit "
	    "WHERE seq > $1 ORDER BY seq LIMIT " PG_PAGE_ROWS,
	[ST_AUDIT_MAX] = "SELECT COALESCE(MAX(seq), 0) FROM audit",
	[ST_AUDIT_RANGE] = "SELECT " AUDIT_COLS " FROM audit "
	    "WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT " PG_PAGE_ROWS,
	[ST_BLOB_GET] = "SELECT version, body FROM blobs WHERE name=$1",
	[ST_BLOB_VERSION] = "SELECT version FROM blobs WHERE name=$1",
	[ST_BLOB_PUT] = "INSERT INTO blobs(name, version, body) "
	    "VALUES($1, 1, $2) ON CONFLICT(name) DO UPDATE SET "
	    "version=blobs.version + 1, body=excluded.body "
	    "RETURNING pg_notify('" PG_CHANNEL "', 'blob:' || blobs.name)",
};

/*
 * One connection.  conn is NULL while the database is away (why says
 * why; up() reconnects at next_try_ms).  tx_lost: the connection of the
 * caller's open transaction went away.  listening: LISTEN again on a
 * reconnect; missed: a reconnect happened, report everything changed.
 */
struct sp_pg {
	PGconn		*conn;
	struct sp_err	 err;
	char		*url;		/* kept to reconnect */
	char		 shown[PG_SHOWN_MAX];	/* without the password */
	bool		 prepared[ST_N];
	bool		 in_tx;		/* sp_pg_begin and no end yet */
	bool		 tx_lost;
	bool		 listening;
	bool		 missed;
	bool		 in_dev_list, in_audit_list;
	unsigned	 backoff_ms;
	uint64_t	 next_try_ms;	/* monotonic */
	char		 why[PG_MSG_MAX];
	/*
	 * The audit head inside the caller's transaction: after the first
	 * append has taken the lock and read the head, later appends of the
	 * same transaction (the writer's batches) chain on from here, one
	 * INSERT each; the head row in meta is written once, at commit.
	 */
	bool		 head_valid, head_dirty;
	int64_t		 head_seq;
	char		 head_hash[STORE_HASH_HEXLEN + 1];
};

/* ------------------------------------------------------------ helpers */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The first line of a libpq message, without its trailing newline. */
static void
one_line(char *dst, size_t n, const char *msg)
{
	size_t len;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	len = strcspn(msg, "\r\n");
	snprintf(dst, n, "%.*s", (int)len, msg);
}

/* Connection setup that every connect does (open and reconnect). */
static void
notice_ignore(void *arg, const char *msg)
{
	/* The library never prints: notices and warnings are dropped. */
	(void)arg;
	(void)msg;
}

/*
 * Connects; NULL with the reason (one line) in why.  The URL's own
 * settings stand, except those sprov needs: a bounded connect, its
 * application name (operators and tests find sprov's sessions by it) and
 * UTF-8 (strings travel in binary format, as UTF-8).
 */
static PGconn *
pg_connect(const char *url, char *why, size_t whysz)
{
	static const char *const keys[] = { "dbname", "connect_timeout",
	    "application_name", "client_encoding", NULL };
	const char *vals[5];
	char timeout[16];
	const char *enc;
	PGconn *c;
	PGresult *r;

	snprintf(timeout, sizeof(timeout), "%d", SP_PG_CONNECT_TIMEOUT);
	vals[0] = url;
	vals[1] = timeout;
	vals[2] = "sprov";
	vals[3] = "UTF8";
	vals[4] = NULL;
	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		one_line(why, whysz, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, notice_ignore, NULL);
	enc = PQparameterStatus(c, "server_encoding");
	if (enc == NULL || strcmp(enc, "UTF8") != 0) {
		snprintf(why, whysz, "the database's encoding is %s: sprov "
		    "needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')",
		    enc != NULL ? enc : "unknown");
		PQfinish(c);
		return NULL;
	}
	r = PQexec(c, "SET client_min_messages=warning;"
	    "SET statement_timeout=" STR(PG_STATEMENT_TIMEOUT_MS) ";"
	    "SET lock_timeout=" STR(PG_LOCK_TIMEOUT_MS));
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		one_line(why, whysz, PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	return c;
}

/* An error that means the session is gone (or going). */
static bool
conn_lost(const struct sp_pg *s, const PGresult *r)
{
	const char *st;

	if (s->conn == NULL || PQstatus(s->conn) == CONNECTION_BAD)
		return true;
	st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (st == NULL)
		return true;	/* libpq's own: no answer from the server */
	return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
	    strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0;
}

/* Closes a lost connection; the next call reconnects after a back-off. */
static void
mark_down(struct sp_pg *s, const char *why)
{
	snprintf(s->why, sizeof(s->why), "%s", why);
	PQfinish(s->conn);
	s->conn = NULL;
	memset(s->prepared, 0, sizeof(s->prepared));
	if (s->in_tx)
		s->tx_lost = true;
	s->head_valid = s->head_dirty = false;
	if (s->backoff_ms == 0)
		s->backoff_ms = SP_PG_BACKOFF_MIN_MS;
	s->next_try_ms = now_ms() + s->backoff_ms;
	sp_err_set(&s->err, "store: database connection lost: %s", s->why);
}

/* Sets the error of a failed statement (r may be NULL); returns -1. */
static int
db_fail(struct sp_pg *s, const PGresult *r)
{
	char msg[PG_MSG_MAX];
	const char *m = NULL;

	if (r != NULL)
		m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	if (m == NULL && s->conn != NULL)
		m = PQerrorMessage(s->conn);
	one_line(msg, sizeof(msg), m);
	if (conn_lost(s, r)) {
		mark_down(s, msg);
		return -1;
	}
	return sp_err_set(&s->err, "store: %s", msg);
}

/*
 * Called before the first statement of every call: 0 when there is a
 * connection to use.  While the database is away, a call before the
 * back-off delay fails at once; a later one reconnects (blocking, at most
 * SP_PG_CONNECT_TIMEOUT), doubling the delay on failure up to
 * SP_PG_BACKOFF_MAX_MS.  A caller's transaction whose connection went
 * away is not carried over: it fails until the caller rolls it back.
 */
static int
up(struct sp_pg *s)
{
	char why[PG_MSG_MAX];
	uint64_t now;
	PGresult *r;

	if (s->in_tx && s->tx_lost)
		return sp_err_set(&s->err, "store: database connection lost "
		    "inside the transaction, which is rolled back: %s "
		    "(call sp_store_rollback)", s->why);
	/*
	 * An idle session the server has closed (a restart, a fail-over, an
	 * administrator) is readable at EOF: notice it here, without a round
	 * trip, and reconnect at once, rather than fail this call's first
	 * statement.  Inside a transaction nothing is retried.
	 */
	if (s->conn != NULL && (s->in_tx || (PQconsumeInput(s->conn) == 1 &&
	    PQstatus(s->conn) == CONNECTION_OK)))
		return 0;
	if (s->conn != NULL) {
		one_line(why, sizeof(why), PQerrorMessage(s->conn));
		mark_down(s, why);
		s->next_try_ms = 0;
	}
	now = now_ms();
	if (now < s->next_try_ms)
		return sp_err_set(&s->err, "store: database unreachable (%s), "
		    "next attempt in %llu ms: %s", s->shown,
		    (unsigned long long)(s->next_try_ms - now), s->why);
	if ((s->conn = pg_connect(s->url, why, sizeof(why))) == NULL) {
		snprintf(s->why, sizeof(s->why), "%s", why);
		s->backoff_ms = s->backoff_ms * 2 > SP_PG_BACKOFF_MAX_MS ?
		    SP_PG_BACKOFF_MAX_MS : s->backoff_ms * 2;
		s->next_try_ms = now_ms() + s->backoff_ms;
		return sp_err_set(&s->err, "store: database unreachable (%s), "
		    "next attempt in %u ms: %s", s->shown, s->backoff_ms,
		    s->why);
	}
	s->backoff_ms = SP_PG_BACKOFF_MIN_MS;
	memset(s->prepared, 0, sizeof(s->prepared));
	/* Notifications sent while away are lost: say everything changed. */
	s->missed = true;
	if (s->listening) {
		r = PQexec(s->conn, "LISTEN " PG_CHANNEL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			db_fail(s, r);
			PQclear(r);
			return -1;
		}
		PQclear(r);
	}
	return 0;
}

/* A statement parameter: a string or bytes (binary), or an integer. */
struct param {
	const void	*v;	/* NULL: SQL NULL */
	size_t		 len;
	int64_t		 i;
	bool		 is_int;
};

#define P_STR(x)	{ (x), (x) != NULL ? strlen(x) : 0, 0, false }
#define P_LEN(x, n)	{ (x), (n), 0, false }
#define P_INT(x)	{ NULL, 0, (int64_t)(x), true }

/*
 * Runs statement id (prepared on first use on this connection): the
 * result, or NULL with the error set.  Never reconnects: a connection
 * lost in the middle of an operation fails the operation (see up()).
 */
static PGresult *
run(struct sp_pg *s, enum stmt id, const struct param *p, int n)
{
	const char *vals[PG_PARAMS_MAX];
	int lens[PG_PARAMS_MAX], fmts[PG_PARAMS_MAX];
	char ints[PG_PARAMS_MAX][24], name[16];
	ExecStatusType rs;
	PGresult *r;
	int i;

	if (s->conn == NULL) {
		/* Lost earlier in this operation: the message is set. */
		if (s->err.msg[0] == '\0')
			sp_err_set(&s->err, "store: database connection lost");
		return NULL;
	}
	if (n > PG_PARAMS_MAX) {
		sp_err_set(&s->err, "store: statement %d: too many "
		    "parameters", (int)id);
		return NULL;
	}
	snprintf(name, sizeof(name), "sp_st%d", (int)id);
	if (!s->prepared[id]) {
		r = PQprepare(s->conn, name, stmt_sql[id], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			db_fail(s, r);
			if (s->conn != NULL)
				sp_err_prefix(&s->err, "store: preparing "
				    "statement %d", (int)id);
			PQclear(r);
			return NULL;
		}
		PQclear(r);
		s->prepared[id] = true;
	}
	for (i = 0; i < n; i++) {
		if (p[i].is_int) {
			snprintf(ints[i], sizeof(ints[i]), "%lld",
			    (long long)p[i].i);
			vals[i] = ints[i];
			lens[i] = 0;
			fmts[i] = 0;
		} else {
			vals[i] = p[i].v;
			lens[i] = (int)p[i].len;
			fmts[i] = 1;
		}
	}
	r = PQexecPrepared(s->conn, name, n, vals, lens, fmts, 1);
	rs = PQresultStatus(r);
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		db_fail(s, r);
		PQclear(r);
		return NULL;
	}
	return r;
}

/* Runs a statement whose rows do not matter; 0 or -1. */
static int
run_done(struct sp_pg *s, enum stmt id, const struct param *p, int n)
{
	PGresult *r = run(s, id, p, n);

	PQclear(r);
	return r != NULL ? 0 : -1;
}

static int
exec_id(struct sp_pg *s, enum stmt id)
{
	return run_done(s, id, NULL, 0);
}

/* The rows a write affected. */
static uint64_t
affected(PGresult *r)
{
	uint64_t n = 0;

	if (sp_str_u64z(PQcmdTuples(r), 0, UINT64_MAX, &n) == -1)
		return 0;
	return n;
}

/* A bigint (or smaller integer) column of a binary result. */
static int64_t
col_int(const PGresult *r, int row, int col)
{
	const unsigned char *p;
	uint64_t v = 0;
	int len, i;

	if (PQgetisnull(r, row, col))
		return 0;
	p = (const unsigned char *)PQgetvalue(r, row, col);
	len = PQgetlength(r, row, col);
	if (len != 2 && len != 4 && len != 8)
		return 0;
	for (i = 0; i < len; i++)
		v = v << 8 | p[i];
	if (len < 8 && (p[0] & 0x80))
		v |= ~(uint64_t)0 << (8 * len);
	return (int64_t)v;
}

/* A text or bytea column: its bytes (NUL-terminated by libpq), or NULL. */
static const char *
col_str(const PGresult *r, int row, int col, size_t *len)
{
	if (PQgetisnull(r, row, col)) {
		*len = 0;
		return NULL;
	}
	*len = (size_t)PQgetlength(r, row, col);
	return PQgetvalue(r, row, col);
}

/* Copies a text column into dst (size n), cut to fit. */
static void
col_copy(char *dst, size_t n, const PGresult *r, int row, int col)
{
	size_t len;
	const char *t = col_str(r, row, col, &len);

	if (t == NULL)
		len = 0;
	if (len > n - 1)
		len = n - 1;
	if (len > 0)
		memcpy(dst, t, len);
	dst[len] = '\0';
}

/*
 * A write runs in its own transaction, or in a savepoint when the caller
 * holds one (sp_pg_begin), so that a failed operation undoes only itself.
 * A read that takes several statements runs in a REPEATABLE READ
 * transaction so that they all see one snapshot.
 */
struct tx {
	int	own;
};

static int
tx_begin(struct sp_pg *s, struct tx *t, int write)
{
	t->own = !s->in_tx;
	if (up(s) == -1)
		return -1;
	if (t->own)
		return exec_id(s, write ? ST_BEGIN : ST_BEGIN_READ);
	return exec_id(s, ST_SAVEPOINT);
}

/* Undoes the operation; keeps the error message that caused it. */
static void
tx_abort(struct sp_pg *s, struct tx *t)
{
	struct sp_err keep = s->err;

	/* The connection is gone: so is what the operation did. */
	if (s->conn == NULL)
		goto out;
	if (t->own)
		exec_id(s, ST_ROLLBACK);
	else if (exec_id(s, ST_ROLLBACK_TO) == 0)
		exec_id(s, ST_RELEASE);
out:
	s->err = keep;
}

static int
tx_commit(struct sp_pg *s, struct tx *t)
{
	if (exec_id(s, t->own ? ST_COMMIT : ST_RELEASE) == -1) {
		if (t->own && s->conn == NULL)
			sp_err_prefix(&s->err, "store: COMMIT's outcome is "
			    "unknown (the change may or may not be stored)");
		tx_abort(s, t);
		return -1;
	}
	return 0;
}

static int
gen_bump(struct sp_pg *s)
{
	PGresult *r;
	int n;

	if ((r = run(s, ST_GEN_BUMP, NULL, 0)) == NULL)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	if (n != 1)
		return sp_err_set(&s->err, "store: generation counter missing");
	return 0;
}

static int
check_mac(struct sp_pg *s, const char *mac)
{
	return sp_store_mac_check(mac, &s->err);
}

static int
check_scope(struct sp_pg *s, const char *scope)
{
	return sp_store_scope_check(scope, &s->err);
}

static int
check_param_name(struct sp_pg *s, const char *name)
{
	return sp_store_param_name_check(name, &s->err);
}

static int
unknown_device(struct sp_pg *s, const char *mac)
{
	return sp_err_set(&s->err, "unknown device %s", mac);
}

/* ------------------------------------------------------ open and close */

/* The error of a statement run at open, naming the store. */
static int
open_fail(struct sp_pg *s, const PGresult *r)
{
	char msg[PG_MSG_MAX];
	const char *m = NULL;

	if (r != NULL)
		m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	one_line(msg, sizeof(msg), m != NULL ? m : PQerrorMessage(s->conn));
	return sp_err_set(&s->err, "store %s: %s", s->shown, msg);
}

/* Runs SQL at open (not prepared: once per connection). */
static int
open_exec(struct sp_pg *s, const char *sql)
{
	PGresult *r = PQexec(s->conn, sql);
	ExecStatusType rs = PQresultStatus(r);

	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		open_fail(s, r);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

/* One integer from a one-off query (text result). */
static int
open_int(struct sp_pg *s, const char *sql, int64_t *out)
{
	PGresult *r = PQexec(s->conn, sql);
	const char *v;
	uint64_t u;
	int rc = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		open_fail(s, r);
		goto out;
	}
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
		sp_err_set(&s->err, "store %s: no row for %s", s->shown, sql);
		goto out;
	}
	v = PQgetvalue(r, 0, 0);
	if (*v == '-') {
		if (sp_str_u64z(v + 1, 0, (uint64_t)INT64_MAX, &u) == -1)
			goto bad;
		*out = -(int64_t)u;
	} else {
		if (sp_str_u64z(v, 0, (uint64_t)INT64_MAX, &u) == -1)
			goto bad;
		*out = (int64_t)u;
	}
	rc = 0;
	goto out;
bad:
	sp_err_set(&s->err, "store %s: not an integer from %s", s->shown, sql);
out:
	PQclear(r);
	return rc;
}

/*
 * The schema version, in the connection's current schema, under the
 * migration lock; 0 for an empty schema.
 */
static int
schema_version(struct sp_pg *s, int64_t *v)
{
	int64_t n;

	if (open_int(s, "SELECT count(*) FROM pg_catalog.pg_class c "
	    "JOIN pg_catalog.pg_namespace n ON n.oid=c.relnamespace "
	    "WHERE n.nspname=current_schema() AND c.relkind IN ('r','p') "
	    "AND c.relname='schema_version'", &n) == -1)
		return -1;
	if (n == 1)
		return open_int(s, "SELECT version FROM schema_version", v);
	if (open_int(s, "SELECT count(*) FROM pg_catalog.pg_class c "
	    "JOIN pg_catalog.pg_namespace n ON n.oid=c.relnamespace "
	    "WHERE n.nspname=current_schema() AND "
	    "c.relkind IN ('r','p','v','m','f','S')", &n) == -1)
		return -1;
	if (n != 0)
		return sp_err_set(&s->err, "store %s: not a sprov store "
		    "(tables but no schema_version)", s->shown);
	*v = 0;
	return 0;
}

/*
 * Applies the migrations the database lacks, each in one transaction.
 * The version is read again under the advisory lock each time, so that
 * nodes opening a new store at once migrate it once.
 */
static int
migrate(struct sp_pg *s)
{
	char sql[64];
	int64_t v;

	for (;;) {
		if (open_exec(s, "BEGIN") == -1 ||
		    open_exec(s, "SELECT pg_advisory_xact_lock("
		    STR(PG_LOCK_MIGRATE) ")") == -1)
			goto fail;
		if (schema_version(s, &v) == -1)
			goto fail;
		if (v > STORE_SCHEMA_VERSION) {
			sp_err_set(&s->err, "store %s: store schema version "
			    "%lld is newer than this sprov knows (%lld): "
			    "upgrade sprov", s->shown, (long long)v,
			    (long long)STORE_SCHEMA_VERSION);
			goto fail;
		}
		if (v < 0) {
			sp_err_set(&s->err, "store %s: bad store schema "
			    "version %lld", s->shown, (long long)v);
			goto fail;
		}
		if (v == STORE_SCHEMA_VERSION)
			return open_exec(s, "COMMIT");
		/* A constant integer of ours, not a value from outside. */
		snprintf(sql, sizeof(sql), "UPDATE schema_version SET "
		    "version=%lld", (long long)(v + 1));
		if (open_exec(s, migrations[v]) == -1 ||
		    open_exec(s, sql) == -1 || open_exec(s, "COMMIT") == -1)
			goto fail;
	}
fail:
	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	return -1;
}

/*
 * libpq's message about a URL it cannot parse, without the password: some
 * messages quote the whole URL, which is replaced by the shown one; if
 * the password is still there, only a generic reason is given.
 */
static void
parse_why(char *dst, size_t n, const char *msg, const char *url,
    const char *shown)
{
	char line[PG_MSG_MAX];
	const char *p, *at, *colon, *u;
	size_t plen = 0;

	one_line(line, sizeof(line), msg != NULL ? msg : "out of memory");
	if ((u = strstr(line, url)) != NULL)
		snprintf(dst, n, "%.*s%s%s", (int)(u - line), line, shown,
		    u + strlen(url));
	else
		snprintf(dst, n, "%s", line);
	/* The password: between the first ':' and the '@' of the userinfo. */
	if ((p = strstr(url, "://")) == NULL)
		return;
	p += 3;
	if ((at = strchr(p, '@')) == NULL || strcspn(p, "/") < (size_t)(at - p))
		return;
	if ((colon = memchr(p, ':', (size_t)(at - p))) != NULL)
		plen = (size_t)(at - colon - 1);
	if (plen > 0 && memmem(dst, strlen(dst), colon + 1, plen) != NULL)
		snprintf(dst, n, "malformed (see the URI syntax of libpq)");
}

struct sp_pg *
sp_pg_open(const char *url, struct sp_err *err)
{
	struct sp_pg *s = NULL;
	PQconninfoOption *opts;
	char *msg = NULL, why[PG_MSG_MAX];

	if (url == NULL) {
		sp_err_set(err, "store URL missing");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	sp_store_url_shown(s->shown, sizeof(s->shown), url);
	if ((opts = PQconninfoParse(url, &msg)) == NULL) {
		parse_why(why, sizeof(why), msg, url, s->shown);
		PQfreemem(msg);
		sp_err_set(&s->err, "store URL '%s': %s", s->shown, why);
		goto fail;
	}
	PQconninfoFree(opts);
	if ((s->url = strdup(url)) == NULL) {
		sp_err_set(&s->err, "out of memory");
		goto fail;
	}
	if ((s->conn = pg_connect(url, why, sizeof(why))) == NULL) {
		sp_err_set(&s->err, "store %s: cannot connect: %s", s->shown,
		    why);
		goto fail;
	}
	s->backoff_ms = SP_PG_BACKOFF_MIN_MS;
	if (migrate(s) == -1)
		goto fail;
	return s;
fail:
	sp_err_set(err, "%s", s->err.msg);
	sp_pg_close(s);
	return NULL;
}

void
sp_pg_close(struct sp_pg *s)
{
	if (s == NULL)
		return;
	/* An open transaction is rolled back by the server at close. */
	PQfinish(s->conn);
	free(s->url);
	free(s);
}

const char *
sp_pg_error(const struct sp_pg *s)
{
	if (s == NULL)
		return "no store";
	return s->err.msg;
}

/* ------------------------------------------------------- transactions */

int
sp_pg_begin(struct sp_pg *s)
{
	if (s->in_tx)
		return sp_err_set(&s->err, "store: a transaction is already "
		    "open");
	if (up(s) == -1 || exec_id(s, ST_BEGIN) == -1)
		return -1;
	s->in_tx = true;
	s->tx_lost = false;
	s->head_valid = s->head_dirty = false;
	return 0;
}

int
sp_pg_commit(struct sp_pg *s)
{
	struct tx t = { 1 };
	int rc;

	if (!s->in_tx)
		return sp_err_set(&s->err, "store: no transaction is open");
	if (s->tx_lost) {
		s->in_tx = s->tx_lost = false;
		return sp_err_set(&s->err, "store: database connection lost "
		    "inside the transaction, which is rolled back: %s",
		    s->why);
	}
	rc = 0;
	if (s->head_dirty) {
		struct param p[2];

		p[0] = (struct param)P_INT(s->head_seq);
		p[1] = (struct param)P_LEN(s->head_hash, STORE_HASH_HEXLEN);
		rc = run_done(s, ST_AUDIT_HEAD_SET, p, 2);
	}
	s->head_valid = s->head_dirty = false;
	/* Whatever COMMIT answers, the transaction is over. */
	if (rc == 0)
		rc = tx_commit(s, &t);
	else if (s->conn != NULL)
		exec_id(s, ST_ROLLBACK);
	s->in_tx = s->tx_lost = false;
	return rc;
}

void
sp_pg_rollback(struct sp_pg *s)
{
	struct sp_err keep = s->err;

	if (s->in_tx && !s->tx_lost && s->conn != NULL)
		exec_id(s, ST_ROLLBACK);
	s->in_tx = s->tx_lost = false;
	s->head_valid = s->head_dirty = false;
	s->err = keep;
}

int
sp_pg_generation(struct sp_pg *s, uint64_t *out)
{
	PGresult *r;
	int rc = -1;

	if (up(s) == -1 || (r = run(s, ST_GEN_GET, NULL, 0)) == NULL)
		return -1;
	if (PQntuples(r) == 1) {
		*out = (uint64_t)col_int(r, 0, 0);
		rc = 0;
	} else
		sp_err_set(&s->err, "store: generation counter missing");
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------ devices */

static int
device_row(struct sp_pg *s, const PGresult *r, int row, struct sp_device *d)
{
	const char *state;
	size_t len;

	memset(d, 0, sizeof(*d));
	col_copy(d->mac, sizeof(d->mac), r, row, 0);
	col_copy(d->serial, sizeof(d->serial), r, row, 1);
	col_copy(d->model, sizeof(d->model), r, row, 2);
	state = col_str(r, row, 3, &len);
	if (state != NULL && strcmp(state, "active") == 0)
		d->state = SP_DEV_ACTIVE;
	else if (state != NULL && strcmp(state, "quarantined") == 0)
		d->state = SP_DEV_QUARANTINED;
	else
		return sp_err_set(&s->err, "store: device %s has an unknown "
		    "state", d->mac);
	d->first_seen = (time_t)col_int(r, row, 4);
	d->last_seen = (time_t)col_int(r, row, 5);
	col_copy(d->last_ip, sizeof(d->last_ip), r, row, 6);
	col_copy(d->user_agent, sizeof(d->user_agent), r, row, 7);
	col_copy(d->firmware, sizeof(d->firmware), r, row, 8);
	col_copy(d->etag, sizeof(d->etag), r, row, 9);
	d->last_report = (time_t)col_int(r, row, 10);
	col_copy(d->cert_serial, sizeof(d->cert_serial), r, row, 11);
	return 0;
}

int
sp_pg_device_get(struct sp_pg *s, const char *mac, struct sp_device *d)
{
	struct param p[] = { P_STR(mac) };
	PGresult *r;
	int rc;

	if (check_mac(s, mac) == -1)
		return -1;
	if (up(s) == -1 || (r = run(s, ST_DEV_GET, p, 1)) == NULL)
		return -1;
	rc = PQntuples(r) > 0 ? device_row(s, r, 0, d) : 1;
	PQclear(r);
	return rc;
}

static int
check_device_fields(struct sp_pg *s, const char *serial, const char *model)
{
	return sp_store_device_fields_check(serial, model, &s->err);
}

int
sp_pg_device_put(struct sp_pg *s, const char *mac, const char *serial,
    const char *model)
{
	struct param p[3];
	char old[SP_MODEL_MAX + 1];
	PGresult *r;
	struct tx t;
	int exists;

	if (serial == NULL)
		serial = "";
	if (model == NULL)
		model = "";
	if (check_mac(s, mac) == -1 ||
	    check_device_fields(s, serial, model) == -1)
		return -1;
	p[0] = (struct param)P_STR(mac);
	p[1] = (struct param)P_STR(serial);
	p[2] = (struct param)P_STR(model);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((r = run(s, ST_DEV_LOCK, p, 1)) == NULL)
		goto fail;
	if ((exists = PQntuples(r) > 0))
		col_copy(old, sizeof(old), r, 0, 0);
	PQclear(r);
	if (run_done(s, exists ? ST_DEV_UPDATE : ST_DEV_INSERT, p, 3) == -1)
		goto fail;
	/* A new device, or a new model: the model scope changes. */
	if ((!exists || strcmp(old, model) != 0) && gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

static int
device_exists(struct sp_pg *s, const char *mac)
{
	struct param p[] = { P_STR(mac) };
	PGresult *r;
	int n;

	if ((r = run(s, ST_DEV_MODEL, p, 1)) == NULL)
		return -1;
	n = PQntuples(r);
	PQclear(r);
	return n > 0 ? 0 : unknown_device(s, mac);
}

int
sp_pg_device_state(struct sp_pg *s, const char *mac, enum sp_dev_state state)
{
	struct param p[2];
	PGresult *r;
	struct tx t;
	uint64_t n;

	if (check_mac(s, mac) == -1)
		return -1;
	if (state != SP_DEV_ACTIVE && state != SP_DEV_QUARANTINED)
		return sp_err_set(&s->err, "device state %d: expected active "
		    "or quarantined", (int)state);
	p[0] = (struct param)P_STR(mac);
	p[1] = (struct param)P_STR(state == SP_DEV_ACTIVE ? "active" :
	    "quarantined");
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if (device_exists(s, mac) == -1)
		goto fail;
	if ((r = run(s, ST_DEV_STATE, p, 2)) == NULL)
		goto fail;
	n = affected(r);
	PQclear(r);
	if (n > 0 && gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

int
sp_pg_device_delete(struct sp_pg *s, const char *mac)
{
	char scope[SP_SCOPE_MAX + 1];
	struct param p[1], ps[1];
	PGresult *r;
	struct tx t;
	uint64_t n;

	if (check_mac(s, mac) == -1)
		return -1;
	snprintf(scope, sizeof(scope), "device:%s", mac);
	p[0] = (struct param)P_STR(mac);
	ps[0] = (struct param)P_STR(scope);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	/* Groups, certificates and reports go by ON DELETE CASCADE. */
	if ((r = run(s, ST_DEV_DELETE, p, 1)) == NULL)
		goto fail;
	n = affected(r);
	PQclear(r);
	if (n == 0) {
		unknown_device(s, mac);
		goto fail;
	}
	if (run_done(s, ST_PARAM_DEL_SCOPE, ps, 1) == -1 || gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

/*
 * Pages of devices by MAC (keyset): fn may use the store between rows,
 * which a result being read would forbid on one connection.
 */
int
sp_pg_device_list(struct sp_pg *s,
    int (*fn)(void *, const struct sp_device *), void *arg)
{
	char after[SP_MAC_HEXLEN + 1] = "";
	struct sp_device d;
	struct param p[1];
	PGresult *r = NULL;
	int i, n, rc = -1;

	/* fn may use the store, but not list again from inside the list. */
	if (s->in_dev_list)
		return sp_err_set(&s->err, "store: device list called from "
		    "its own callback");
	if (up(s) == -1)
		return -1;
	s->in_dev_list = true;
	do {
		p[0] = (struct param)P_STR(after);
		if ((r = run(s, ST_DEV_LIST, p, 1)) == NULL)
			goto out;
		n = PQntuples(r);
		for (i = 0; i < n; i++) {
			if (device_row(s, r, i, &d) == -1 || fn(arg, &d) == -1)
				goto out;
			snprintf(after, sizeof(after), "%s", d.mac);
		}
		PQclear(r);
		r = NULL;
	} while (n > 0);
	rc = 0;
out:
	PQclear(r);
	s->in_dev_list = false;
	return rc;
}

int
sp_pg_device_seen(struct sp_pg *s, const char *mac, time_t when,
    const char *ip, const char *user_agent, const char *cert_serial,
    const char *etag)
{
	struct param p[6];
	PGresult *r;
	struct tx t;
	uint64_t n;

	if (check_mac(s, mac) == -1)
		return -1;
	if (cert_serial != NULL && *cert_serial == '\0')
		cert_serial = NULL;
	if (sp_store_seen_check(cert_serial, etag, &s->err) == -1)
		return -1;
	p[0] = (struct param)P_STR(mac);
	p[1] = (struct param)P_INT(when);
	/* The peer's strings are cut to their columns, not refused. */
	p[2] = (struct param)P_LEN(ip, ip != NULL ?
	    sp_store_cut(ip, STORE_IP_MAX) : 0);
	p[3] = (struct param)P_LEN(user_agent, user_agent != NULL ?
	    sp_store_cut(user_agent, SP_USER_AGENT_MAX) : 0);
	p[4] = (struct param)P_STR(cert_serial);
	p[5] = (struct param)P_STR(etag);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((r = run(s, ST_DEV_SEEN, p, 6)) == NULL)
		goto fail;
	n = PQntuples(r) == 1 ? (uint64_t)col_int(r, 0, 0) : 0;
	PQclear(r);
	if (n == 0) {
		unknown_device(s, mac);
		goto fail;
	}
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

/* ------------------------------------------------------------- groups */

int
sp_pg_group_set(struct sp_pg *s, const char *mac, const char *const *groups,
    size_t n)
{
	struct param p[3];
	struct tx t;
	size_t i;

	if (check_mac(s, mac) == -1)
		return -1;
	if (sp_store_groups_check(mac, groups, n, &s->err) == -1)
		return -1;
	p[0] = (struct param)P_STR(mac);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if (device_exists(s, mac) == -1)
		goto fail;
	if (run_done(s, ST_GRP_CLEAR, p, 1) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		p[1] = (struct param)P_STR(groups[i]);
		p[2] = (struct param)P_INT(i);
		if (run_done(s, ST_GRP_ADD, p, 3) == -1)
			goto fail;
	}
	if (gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

int
sp_pg_group_get(struct sp_pg *s, const char *mac,
    char groups[][SP_GROUP_NAME_MAX + 1], size_t max, size_t *n)
{
	struct param p[] = { P_STR(mac) };
	size_t count = 0;
	PGresult *r;
	int i, rows, rc = -1;

	*n = 0;
	if (check_mac(s, mac) == -1)
		return -1;
	if (up(s) == -1 || (r = run(s, ST_GRP_GET, p, 1)) == NULL)
		return -1;
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		if (PQgetisnull(r, i, 0))
			continue;	/* the device, without groups */
		if (count == max) {
			sp_err_set(&s->err, "device %s has more than %zu "
			    "groups", mac, max);
			goto out;
		}
		col_copy(groups[count], SP_GROUP_NAME_MAX + 1, r, i, 0);
		count++;
	}
	*n = count;
	rc = rows > 0 ? 0 : 1;
out:
	PQclear(r);
	return rc;
}

/* --------------------------------------------------------- parameters */

int
sp_pg_param_set(struct sp_pg *s, const char *scope, const char *name,
    const char *value, enum sp_ua ua)
{
	struct sp_profile *trial = NULL;
	struct param p[4];
	PGresult *r;
	struct tx t;
	size_t len;
	uint64_t n;

	if (check_scope(s, scope) == -1 || check_param_name(s, name) == -1)
		return -1;
	if (value == NULL)
		return sp_err_set(&s->err, "parameter %s: value missing", name);
	if ((len = strnlen(value, SP_PARAM_VALUE_MAX + 1)) >
	    SP_PARAM_VALUE_MAX)
		return sp_err_set(&s->err, "parameter %s: value over %d bytes",
		    name, SP_PARAM_VALUE_MAX);
	if (ua != SP_UA_NONE && ua != SP_UA_NA && ua != SP_UA_RO &&
	    ua != SP_UA_RW)
		return sp_err_set(&s->err, "parameter %s: bad ua %d", name,
		    (int)ua);
	/* Stored only if a profile would take it (UTF-8, characters...). */
	if ((trial = sp_profile_new()) == NULL)
		return sp_err_set(&s->err, "out of memory");
	if (sp_profile_set(trial, name, value, len, ua) == -1) {
		sp_err_set(&s->err, "parameter %s: %s", name,
		    sp_profile_error(trial));
		sp_profile_free(trial);
		return -1;
	}
	sp_profile_free(trial);
	p[0] = (struct param)P_STR(scope);
	p[1] = (struct param)P_STR(name);
	p[2] = (struct param)P_LEN(value, len);
	p[3] = (struct param)P_STR(sp_ua_name(ua));
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((r = run(s, ST_PARAM_SET, p, 4)) == NULL)
		goto fail;
	n = affected(r);
	PQclear(r);
	if (n > 0 && gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

int
sp_pg_param_unset(struct sp_pg *s, const char *scope, const char *name)
{
	struct param p[2];
	PGresult *r;
	struct tx t;
	uint64_t n;

	if (check_scope(s, scope) == -1 || check_param_name(s, name) == -1)
		return -1;
	p[0] = (struct param)P_STR(scope);
	p[1] = (struct param)P_STR(name);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((r = run(s, ST_PARAM_UNSET, p, 2)) == NULL)
		goto fail;
	n = affected(r);
	PQclear(r);
	if (n > 0 && gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

/* Sets the rows of r (name, value, ua at col, col+1, col+2) into prof. */
static int
params_into(struct sp_pg *s, PGresult *r, int col, struct sp_profile *prof)
{
	const char *name, *value, *uas;
	size_t nlen, vlen, ulen;
	enum sp_ua ua;
	char q[400];
	int i, n, rc = -1;

	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		name = col_str(r, i, col, &nlen);
		value = col_str(r, i, col + 1, &vlen);
		uas = col_str(r, i, col + 2, &ulen);
		if (name == NULL || value == NULL || uas == NULL ||
		    sp_ua_parse(uas, &ua) == -1) {
			sp_err_set(&s->err, "store: malformed parameter row");
			goto out;
		}
		if (sp_profile_set(prof, name, value, vlen, ua) == -1) {
			/* Checked when stored: the database was edited. */
			sp_store_quote(q, sizeof(q), name);
			sp_err_set(&s->err, "store: parameter '%s': %s", q,
			    sp_profile_error(prof));
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

int
sp_pg_param_scope(struct sp_pg *s, const char *scope,
    struct sp_profile *prof)
{
	struct param p[] = { P_STR(scope) };
	PGresult *r;

	if (check_scope(s, scope) == -1)
		return -1;
	if (up(s) == -1 || (r = run(s, ST_PARAM_SCOPE, p, 1)) == NULL)
		return -1;
	return params_into(s, r, 0, prof);
}

int
sp_pg_profile(struct sp_pg *s, const char *mac, const char *model,
    struct sp_profile *prof)
{
	struct param p[2];
	PGresult *r;

	if (check_mac(s, mac) == -1)
		return -1;
	if (model != NULL && *model == '\0')
		model = NULL;
	if (model != NULL && sp_store_model_check(model, &s->err) == -1)
		return -1;
	p[0] = (struct param)P_STR(mac);
	p[1] = (struct param)P_STR(model);
	if (up(s) == -1 || (r = run(s, ST_PROFILE, p, 2)) == NULL)
		return -1;
	return params_into(s, r, 3, prof);
}

/* ------------------------------------------------------------ reports */

int
sp_pg_report_add(struct sp_pg *s, const char *mac, time_t when,
    const char *kind, const char *body, size_t len,
    const struct sp_profile *parsed)
{
	char fw[SP_FIRMWARE_MAX + 2];
	const struct sp_param *pp;
	struct param p[5];
	struct sp_buf xml;
	PGresult *r;
	struct tx t;
	size_t n, fwlen = 0;
	uint64_t changed;
	int have_fw = 0, rc = -1;

	sp_buf_init(&xml, SP_PROFILE_XML_MAX);
	if (check_mac(s, mac) == -1)
		return -1;
	if (sp_store_report_check(kind, body, len, &s->err) == -1)
		return -1;
	if (parsed != NULL) {
		if (sp_profile_render(parsed, &xml) == -1) {
			sp_err_set(&s->err, "report: parsed parameters over "
			    "%d bytes once rendered", SP_PROFILE_XML_MAX);
			goto out;
		}
		if ((pp = sp_profile_get(parsed, "Software_Version")) !=
		    NULL && pp->value != NULL && pp->valuelen > 0) {
			n = pp->valuelen < sizeof(fw) - 1 ? pp->valuelen :
			    sizeof(fw) - 1;
			memcpy(fw, pp->value, n);
			fw[n] = '\0';
			fwlen = sp_store_cut(fw, SP_FIRMWARE_MAX);
			have_fw = 1;
		}
	}
	if (tx_begin(s, &t, 1) == -1)
		goto out;
	p[0] = (struct param)P_STR(mac);
	p[1] = (struct param)P_INT(when);
	p[2] = (struct param)P_LEN(have_fw ? fw : NULL, fwlen);
	if ((r = run(s, ST_REPORT_DEV, p, 3)) == NULL)
		goto fail;
	changed = affected(r);
	PQclear(r);
	if (changed == 0) {
		unknown_device(s, mac);
		goto fail;
	}
	p[2] = (struct param)P_STR(kind);
	/* A NULL pointer would be SQL NULL: an empty body is "". */
	p[3] = (struct param)P_LEN(len > 0 ? body : "", len);
	p[4] = (struct param)P_LEN(parsed == NULL ? NULL :
	    xml.data != NULL ? xml.data : "", xml.len);
	if (run_done(s, ST_REPORT_ADD, p, 5) == -1)
		goto fail;
	rc = tx_commit(s, &t);
	goto out;
fail:
	tx_abort(s, &t);
out:
	sp_buf_release(&xml);
	return rc;
}

int
sp_pg_report_last(struct sp_pg *s, const char *mac, time_t *when,
    struct sp_buf *body)
{
	struct param p[] = { P_STR(mac) };
	const char *b;
	PGresult *r;
	size_t len;
	int rc = -1;

	if (check_mac(s, mac) == -1)
		return -1;
	if (up(s) == -1 || (r = run(s, ST_REPORT_LAST, p, 1)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		rc = 1;
		goto out;
	}
	if (when != NULL)
		*when = (time_t)col_int(r, 0, 0);
	b = col_str(r, 0, 1, &len);
	sp_buf_reset(body);
	if (sp_buf_append(body, b != NULL ? b : "", len) == -1) {
		sp_err_set(&s->err, "report of %zu bytes does not fit "
		    "the buffer (at most %zu)", len, body->max);
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* -------------------------------------------------------------- audit */

/* An optional audit string cut to max; its length in *len. */
static const char *
audit_field(const char *v, size_t max, size_t *len)
{
	*len = v != NULL ? sp_store_cut(v, max) : 0;
	return v;
}

int
sp_pg_audit_append(struct sp_pg *s, const struct sp_audit *a)
{
	const char *f[STORE_AUDIT_NFIELDS], *h;
	size_t fl[STORE_AUDIT_NFIELDS], hl;
	char prev[STORE_HASH_HEXLEN + 1], hash[STORE_HASH_HEXLEN + 1];
	struct param p[PG_PARAMS_MAX];
	int64_t seq = 1;
	PGresult *r;
	struct tx t;
	int i;

	if (sp_store_audit_check(a, &s->err) == -1)
		return -1;
	/* What the peer sent is recorded, cut to size, never refused. */
	f[0] = audit_field(a->event, STORE_EVENT_MAX, &fl[0]);
	f[1] = audit_field(a->mac, SP_MAC_HEXLEN, &fl[1]);
	f[2] = audit_field(a->cert_serial, STORE_CERT_SERIAL_MAX, &fl[2]);
	f[3] = audit_field(a->ip, STORE_IP_MAX, &fl[3]);
	f[4] = audit_field(a->route, STORE_ROUTE_MAX, &fl[4]);
	f[5] = audit_field(a->etag, SP_ETAG_MAX, &fl[5]);
	memcpy(prev, zero_hash, sizeof(prev));
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if (!t.own && s->head_valid) {
		/* The lock is ours until the caller's commit. */
		seq = s->head_seq + 1;
		memcpy(prev, s->head_hash, sizeof(prev));
		goto chained;
	}
	/*
	 * One appender at a time across all connections, and the head read
	 * after the lock (a new snapshot: READ COMMITTED), so that it is the
	 * last committed entry.
	 */
	if (exec_id(s, ST_AUDIT_LOCK) == -1)
		goto fail;
	if ((r = run(s, ST_AUDIT_LAST, NULL, 0)) == NULL)
		goto fail;
	if (PQntuples(r) == 1) {
		seq = col_int(r, 0, 0) + 1;
		h = col_str(r, 0, 1, &hl);
		if (h == NULL || hl != STORE_HASH_HEXLEN) {
			sp_err_set(&s->err, "audit: entry %lld has a malformed "
			    "hash: verify the trail", (long long)(seq - 1));
			PQclear(r);
			goto fail;
		}
		memcpy(prev, h, sizeof(prev));
	}
	PQclear(r);
chained:
	if (sp_store_audit_hash(prev, seq, (int64_t)a->when,
	    (int64_t)a->status, f, fl, STORE_AUDIT_NFIELDS, hash) == -1) {
		sp_err_set(&s->err, "audit: cannot hash the entry");
		goto fail;
	}
	p[0] = (struct param)P_INT(seq);
	p[1] = (struct param)P_INT(a->when);
	for (i = 0; i < 5; i++)
		p[2 + i] = (struct param)P_LEN(f[i], fl[i]);
	p[7] = (struct param)P_INT(a->status);
	p[8] = (struct param)P_LEN(f[5], fl[5]);
	p[9] = (struct param)P_LEN(prev, STORE_HASH_HEXLEN);
	p[10] = (struct param)P_LEN(hash, STORE_HASH_HEXLEN);
	if (run_done(s, ST_AUDIT_ADD, p, 11) == -1)
		goto fail;
	if (!t.own) {
		/* The savepoint is released below; a failure before this
		 * point leaves the cached head as it was. */
		if (tx_commit(s, &t) == -1)
			return -1;
		s->head_valid = s->head_dirty = true;
		s->head_seq = seq;
		memcpy(s->head_hash, hash, sizeof(s->head_hash));
		return 0;
	}
	/* The head, so that entries removed from the end show too. */
	p[0] = (struct param)P_INT(seq);
	p[1] = (struct param)P_LEN(hash, STORE_HASH_HEXLEN);
	if (run_done(s, ST_AUDIT_HEAD_SET, p, 2) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

/*
 * Checks row i of an ST_AUDIT_PAGE result against the expected seq and
 * the previous hash; copies its hash into prev.  0 good, 1 bad (message
 * set), -1 error.  The columns are typed: what SQLite had to check of a
 * value's type, PostgreSQL refuses when it is written.
 */
static int
audit_row(struct sp_pg *s, const PGresult *r, int i, int64_t expect,
    char *prev)
{
	const char *f[STORE_AUDIT_NFIELDS], *ph, *h, *why = NULL;
	size_t fl[STORE_AUDIT_NFIELDS], phl, hl;
	char hash[STORE_HASH_HEXLEN + 1];
	int k;

	if (col_int(r, i, 0) != expect) {
		sp_err_set(&s->err, "audit: entry %lld is missing",
		    (long long)expect);
		return 1;
	}
	/* Columns 2-6 and 8: event, mac, cert_serial, ip, route, etag. */
	for (k = 0; k < STORE_AUDIT_NFIELDS; k++)
		f[k] = col_str(r, i, k < 5 ? 2 + k : 8, &fl[k]);
	if (f[0] == NULL || PQgetisnull(r, i, 1) || PQgetisnull(r, i, 7)) {
		why = "has a field of the wrong type";
		goto bad;
	}
	ph = col_str(r, i, 9, &phl);
	h = col_str(r, i, 10, &hl);
	if (ph == NULL || h == NULL || phl != STORE_HASH_HEXLEN ||
	    hl != STORE_HASH_HEXLEN) {
		why = "has a malformed hash";
		goto bad;
	}
	if (memcmp(ph, prev, STORE_HASH_HEXLEN) != 0) {
		why = "does not follow the entry before it";
		goto bad;
	}
	if (sp_store_audit_hash(ph, expect, col_int(r, i, 1),
	    col_int(r, i, 7), f, fl, STORE_AUDIT_NFIELDS, hash) == -1)
		return sp_err_set(&s->err, "audit: cannot hash entry %lld",
		    (long long)expect);
	if (memcmp(hash, h, STORE_HASH_HEXLEN) != 0) {
		why = "does not match its hash";
		goto bad;
	}
	memcpy(prev, h, STORE_HASH_HEXLEN);
	return 0;
bad:
	sp_err_set(&s->err, "audit: entry %lld %s", (long long)expect, why);
	return 1;
}

/*
 * The last entries in pages: the end is fixed first, so that entries
 * appended while fn runs are not listed.
 */
int
sp_pg_audit_list(struct sp_pg *s, size_t last,
    int (*fn)(void *, int64_t, const struct sp_audit *), void *arg)
{
	struct param p[2];
	struct sp_audit a;
	PGresult *r = NULL;
	int64_t max, from, seq;
	size_t len;
	int i, n, rc = -1;

	if (s->in_audit_list)
		return sp_err_set(&s->err, "store: audit list called from its "
		    "own callback");
	if (up(s) == -1 || (r = run(s, ST_AUDIT_MAX, NULL, 0)) == NULL)
		return -1;
	max = PQntuples(r) == 1 ? col_int(r, 0, 0) : 0;
	PQclear(r);
	r = NULL;
	from = last >= (uint64_t)INT64_MAX || (int64_t)last > max ? 0 :
	    max - (int64_t)last;
	s->in_audit_list = true;
	do {
		p[0] = (struct param)P_INT(from);
		p[1] = (struct param)P_INT(max);
		if ((r = run(s, ST_AUDIT_RANGE, p, 2)) == NULL)
			goto out;
		n = PQntuples(r);
		for (i = 0; i < n; i++) {
			memset(&a, 0, sizeof(a));
			seq = col_int(r, i, 0);
			a.when = (time_t)col_int(r, i, 1);
			a.event = col_str(r, i, 2, &len);
			a.mac = col_str(r, i, 3, &len);
			a.cert_serial = col_str(r, i, 4, &len);
			a.ip = col_str(r, i, 5, &len);
			a.route = col_str(r, i, 6, &len);
			a.status = (int)col_int(r, i, 7);
			a.etag = col_str(r, i, 8, &len);
			if (fn(arg, seq, &a) == -1)
				goto out;
			from = seq;
		}
		PQclear(r);
		r = NULL;
	} while (n > 0);
	rc = 0;
out:
	PQclear(r);
	s->in_audit_list = false;
	return rc;
}

int
sp_pg_audit_verify(struct sp_pg *s, int64_t *bad)
{
	char prev[STORE_HASH_HEXLEN + 1], head[STORE_HASH_HEXLEN + 1] = "";
	int64_t expect = 1, headseq = 0, dummy;
	struct param p[1];
	PGresult *r;
	struct tx t;
	int i, n, rc;

	if (bad == NULL)
		bad = &dummy;
	*bad = 0;
	memcpy(prev, zero_hash, sizeof(prev));
	/* The head and the entries from one snapshot. */
	if (tx_begin(s, &t, 0) == -1)
		return -1;
	if ((r = run(s, ST_AUDIT_HEAD_GET, NULL, 0)) == NULL)
		goto fail;
	if (PQntuples(r) == 1) {
		headseq = col_int(r, 0, 0);
		col_copy(head, sizeof(head), r, 0, 1);
	}
	PQclear(r);
	do {
		p[0] = (struct param)P_INT(expect - 1);
		if ((r = run(s, ST_AUDIT_PAGE, p, 1)) == NULL)
			goto fail;
		n = PQntuples(r);
		for (i = 0; i < n; i++) {
			if ((rc = audit_row(s, r, i, expect, prev)) != 0) {
				PQclear(r);
				if (rc == 1)
					*bad = expect;
				goto fail;
			}
			expect++;
		}
		PQclear(r);
	} while (n > 0);
	/* expect - 1 is the last entry; the head must name it. */
	if (headseq != expect - 1) {
		*bad = (headseq < expect - 1 ? headseq : expect - 1) + 1;
		sp_err_set(&s->err, "audit: the trail ends at entry %lld but "
		    "its head is entry %lld", (long long)(expect - 1),
		    (long long)headseq);
		goto fail;
	}
	if (headseq > 0 && strcmp(head, prev) != 0) {
		*bad = headseq;
		sp_err_set(&s->err, "audit: entry %lld does not match the "
		    "head's hash", (long long)headseq);
		goto fail;
	}
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

/* -------------------------------------------------------------- blobs */

int
sp_pg_blob_get(struct sp_pg *s, const char *name, struct sp_buf *out,
    int64_t *version)
{
	struct param p[] = { P_STR(name) };
	const char *b;
	PGresult *r;
	size_t n;
	int rc = -1;

	if (sp_store_blob_name_check(name, &s->err) == -1)
		return -1;
	if (up(s) == -1 || (r = run(s, out != NULL ? ST_BLOB_GET :
	    ST_BLOB_VERSION, p, 1)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		rc = 1;
		goto out;
	}
	if (out != NULL && (b = col_str(r, 0, 1, &n)) != NULL && n > 0 &&
	    sp_buf_append(out, b, n) == -1) {
		sp_err_set(&s->err, "store: blob '%s' of %zu bytes: out of "
		    "memory or over the buffer's limit", name, n);
		goto out;
	}
	if (version != NULL)
		*version = col_int(r, 0, 0);
	rc = 0;
out:
	PQclear(r);
	return rc;
}

int
sp_pg_blob_put(struct sp_pg *s, const char *name, const void *body,
    size_t len)
{
	struct param p[2];
	struct tx t;

	if (sp_store_blob_name_check(name, &s->err) == -1)
		return -1;
	if (len > (size_t)SP_STORE_BLOB_MAX)
		return sp_err_set(&s->err, "store: blob '%s' of %zu bytes: "
		    "over the limit of %ld", name, len, SP_STORE_BLOB_MAX);
	p[0] = (struct param)P_STR(name);
	p[1] = (struct param)P_LEN(len > 0 ? body : "", len);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	/* The upsert notifies "blob:<name>" (sent if this commits). */
	if (run_done(s, ST_BLOB_PUT, p, 2) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

/* -------------------------------------------------------- change feed */

/*
 * LISTEN on this connection, remembered so that up() listens again after
 * a reconnect.  Inside a caller's transaction, LISTEN takes effect when
 * it commits.
 */
int
sp_pg_watch(struct sp_pg *s, int *fd)
{
	PGresult *r;

	*fd = -1;
	if (up(s) == -1)
		return -1;
	r = PQexec(s->conn, "LISTEN " PG_CHANNEL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		db_fail(s, r);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	s->listening = true;
	*fd = PQsocket(s->conn);
	return 0;
}

/*
 * Never blocks (but to reconnect, bounded by SP_PG_CONNECT_TIMEOUT, when
 * the back-off allows): reads what the socket holds and ORs in what the
 * notifications name.  Notifications that arrived while another call ran
 * wait in libpq's queue and are counted here too.  While the database is
 * away: -1 with *fd -1; after any reconnect, everything is reported
 * changed once, since notifications sent meanwhile are lost.
 */
int
sp_pg_changes(struct sp_pg *s, unsigned *what, int *fd)
{
	struct pollfd pfd;
	PGnotify *nf;
	char why[PG_MSG_MAX];
	int k;

	*fd = -1;
	if (s->conn == NULL && !s->in_tx && up(s) == -1)
		return -1;
	if (s->conn == NULL)
		return sp_err_set(&s->err, "store: database connection lost "
		    "inside the transaction: %s", s->why);
	if (s->missed) {
		*what |= SP_STORE_CHANGED_ALL;
		s->missed = false;
	}
	/*
	 * A server that ends the session sends an error, then closes: read
	 * while the socket has something (bounded), so that the close is
	 * seen by this call rather than the next.
	 */
	for (k = 0; k < PG_CONSUME_ROUNDS; k++) {
		if (PQconsumeInput(s->conn) == 0 ||
		    PQstatus(s->conn) == CONNECTION_BAD) {
			one_line(why, sizeof(why), PQerrorMessage(s->conn));
			mark_down(s, why);
			return -1;
		}
		pfd.fd = PQsocket(s->conn);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) <= 0)
			break;
	}
	while ((nf = PQnotifies(s->conn)) != NULL) {
		if (nf->extra != NULL && strcmp(nf->extra, "gen") == 0)
			*what |= SP_STORE_CHANGED_GEN;
		else if (nf->extra != NULL &&
		    strncmp(nf->extra, "blob:", 5) == 0)
			*what |= SP_STORE_CHANGED_BLOB;
		PQfreemem(nf);
	}
	*fd = PQsocket(s->conn);
	return 0;
}
