/*
 * The SQLite backend of the store ("sqlite:PATH").
 *
 * One connection per struct sp_sqlite.  The database runs in WAL mode so
 * that readers (workers rendering profiles) never wait on the writer, with
 * synchronous=FULL so that a write acknowledged to the caller survives a
 * power cut.  Every write takes the write lock up front (BEGIN IMMEDIATE,
 * or a savepoint inside a caller's transaction): a deferred transaction
 * that upgrades to a write in WAL mode fails with SQLITE_BUSY_SNAPSHOT
 * instead of waiting.
 *
 * Every statement is a constant in stmt_sql[], prepared once per
 * connection on first use and kept; values are always bound, never
 * formatted into SQL.
 *
 * The schema is versioned: migrations[] is the ordered list of changes,
 * each applied in its own transaction with the version bump; a database
 * newer than the last migration is refused.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sprov/buf.h"
#include "sprov/err.h"
#include "sprov/limits.h"
#include "sprov/mac.h"
#include "sprov/profile.h"
#include "sprov/store.h"
#include "sprov/str.h"

#include "sqlfile-int.h"
#include "store-int.h"

#define STORE_BUSY_MS		10000
#define STORE_URL_SCHEME	"sqlite:"

static const char zero_hash[STORE_HASH_HEXLEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* ------------------------------------------------------------- schema */

static const char schema_v1[] =
    "CREATE TABLE schema_version(version INTEGER NOT NULL);"
    "INSERT INTO schema_version VALUES(0);"
    /* generation, audit head; value untyped (integers stay integers). */
    "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value NOT NULL);"
    "INSERT INTO meta VALUES('generation', 1);"
    "CREATE TABLE devices("
    " mac TEXT PRIMARY KEY NOT NULL,"
    " serial TEXT NOT NULL DEFAULT '',"
    " model TEXT NOT NULL DEFAULT '',"
    " state TEXT NOT NULL DEFAULT 'active'"
    "  CHECK(state IN ('active','quarantined')),"
    " first_seen INTEGER NOT NULL DEFAULT 0,"
    " last_seen INTEGER NOT NULL DEFAULT 0,"
    " last_ip TEXT NOT NULL DEFAULT '',"
    " user_agent TEXT NOT NULL DEFAULT '',"
    " firmware TEXT NOT NULL DEFAULT '',"
    " etag TEXT NOT NULL DEFAULT '',"
    " last_report INTEGER NOT NULL DEFAULT 0,"
    " cert_serial TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE device_certs("
    " mac TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,"
    " cert_serial TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " PRIMARY KEY(mac, cert_serial));"
    "CREATE INDEX device_certs_serial ON device_certs(cert_serial);"
    "CREATE TABLE device_groups("
    " mac TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,"
    " grp TEXT NOT NULL,"
    " position INTEGER NOT NULL,"
    " PRIMARY KEY(mac, grp),"
    " UNIQUE(mac, position));"
    "CREATE INDEX device_groups_grp ON device_groups(grp);"
    /* Rowid kept: parameters of a scope come back in insertion order. */
    "CREATE TABLE params("
    " scope TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " ua TEXT NOT NULL DEFAULT '' CHECK(ua IN ('','na','ro','rw')),"
    " PRIMARY KEY(scope, name));"
    "CREATE TABLE reports("
    " id INTEGER PRIMARY KEY,"
    " mac TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,"
    " time INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " parsed TEXT);"
    "CREATE INDEX reports_mac ON reports(mac, id);"
    /* No foreign key: the trail outlives the devices it mentions. */
    "CREATE TABLE audit("
    " seq INTEGER PRIMARY KEY,"
    " time INTEGER NOT NULL,"
    " event TEXT NOT NULL,"
    " mac TEXT,"
    " cert_serial TEXT,"
    " ip TEXT,"
    " route TEXT,"
    " status INTEGER NOT NULL,"
    " etag TEXT,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    /*
     * Append-only for sprov itself and for an operator at the sqlite3
     * prompt; someone who drops these is caught by the hash chain.
     */
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;";

/*
 * v2: shared blobs (the device CRL, ticket keys), which PostgreSQL nodes
 * share through the database; SQLite has them too, so that a store keeps
 * one schema whatever its backend.
 */
static const char schema_v2[] =
    "CREATE TABLE blobs("
    " name TEXT PRIMARY KEY NOT NULL,"
    " version INTEGER NOT NULL,"
    " body BLOB NOT NULL);";

/* migrations[i] takes the schema from version i to i + 1. */
static const char *const migrations[] = {
	schema_v1,
	schema_v2,
};

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
	ST_DEV_INSERT,
	ST_DEV_UPDATE,
	ST_DEV_STATE,
	ST_DEV_DELETE,
	ST_DEV_SEEN,
	ST_CERT_SEEN,
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
	ST_AUDIT_LAST,
	ST_AUDIT_ADD,
	ST_AUDIT_HEAD_SET,
	ST_AUDIT_HEAD_GET,
	ST_AUDIT_ALL,
	ST_AUDIT_RECENT,
	ST_BLOB_GET,
	ST_BLOB_PUT,
	ST_N
};

#define DEV_COLS "mac, serial, model, state, first_seen, last_seen, " \
	"last_ip, user_agent, firmware, etag, last_report, cert_serial"

static const char *const stmt_sql[ST_N] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_BEGIN_READ] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT sp_store_op",
	[ST_RELEASE] = "RELEASE sp_store_op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO sp_store_op",
	[ST_GEN_GET] = "SELECT value FROM meta WHERE key='generation'",
	[ST_GEN_BUMP] = "UPDATE meta SET value=value+1 WHERE key='generation'",
	[ST_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE mac=?1",
	[ST_DEV_LIST] = "SELECT " DEV_COLS " FROM devices ORDER BY mac",
	[ST_DEV_MODEL] = "SELECT model FROM devices WHERE mac=?1",
	[ST_DEV_INSERT] = "INSERT INTO devices(mac, serial, model) "
	    "VALUES(?1, ?2, ?3)",
	[ST_DEV_UPDATE] = "UPDATE devices SET serial=?2, model=?3 "
	    "WHERE mac=?1",
	[ST_DEV_STATE] = "UPDATE devices SET state=?2 WHERE mac=?1 AND "
	    "state<>?2",
	[ST_DEV_DELETE] = "DELETE FROM devices WHERE mac=?1",
	[ST_DEV_SEEN] = "UPDATE devices SET last_seen=?2, "
	    "first_seen=CASE WHEN first_seen=0 THEN ?2 ELSE first_seen END, "
	    "last_ip=coalesce(?3, last_ip), "
	    "user_agent=coalesce(?4, user_agent), "
	    "cert_serial=coalesce(?5, cert_serial), "
	    "etag=coalesce(?6, etag) WHERE mac=?1",
	[ST_CERT_SEEN] = "INSERT INTO device_certs(mac, cert_serial, "
	    "first_seen, last_seen) VALUES(?1, ?2, ?3, ?3) "
	    "ON CONFLICT(mac, cert_serial) DO UPDATE SET "
	    "last_seen=excluded.last_seen",
	[ST_PARAM_DEL_SCOPE] = "DELETE FROM params WHERE scope=?1",
	[ST_GRP_CLEAR] = "DELETE FROM device_groups WHERE mac=?1",
	[ST_GRP_ADD] = "INSERT INTO device_groups(mac, grp, position) "
	    "VALUES(?1, ?2, ?3)",
	/* One row with grp NULL: a device without groups; none: unknown. */
	[ST_GRP_GET] = "SELECT g.grp FROM devices d LEFT JOIN device_groups g "
	    "ON g.mac=d.mac WHERE d.mac=?1 ORDER BY g.position",
	/* changes() is 0 when the parameter already held this value. */
	[ST_PARAM_SET] = "INSERT INTO params(scope, name, value, ua) "
	    "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(scope, name) DO UPDATE SET "
	    "value=excluded.value, ua=excluded.ua "
	    "WHERE value IS NOT excluded.value OR ua IS NOT excluded.ua",
	[ST_PARAM_UNSET] = "DELETE FROM params WHERE scope=?1 AND name=?2",
	[ST_PARAM_SCOPE] = "SELECT name, value, ua FROM params WHERE "
	    "scope=?1 ORDER BY rowid",
	/*
	 * The merged profile in one statement (one snapshot): each branch
	 * is a primary-key range lookup; rows come weakest scope first,
	 * groups in the device's order, parameters in insertion order.
	 */
	[ST_PROFILE] =
	    "SELECT 0, 0, rowid, name, value, ua FROM params "
	    " WHERE scope='default' "
	    "UNION ALL SELECT 1, 0, rowid, name, value, ua FROM params "
	    " WHERE scope='model:' || ?2 "
	    "UNION ALL SELECT 2, g.position, p.rowid, p.name, p.value, p.ua "
	    " FROM device_groups g JOIN params p ON p.scope='group:' || g.grp "
	    " WHERE g.mac=?1 "
	    "UNION ALL SELECT 3, 0, rowid, name, value, ua FROM params "
	    " WHERE scope='device:' || ?1 "
	    "ORDER BY 1, 2, 3",
	[ST_REPORT_DEV] = "UPDATE devices SET last_report=?2, "
	    "firmware=coalesce(?3, firmware) WHERE mac=?1",
	[ST_REPORT_ADD] = "INSERT INTO reports(mac, time, kind, body, parsed) "
	    "VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_REPORT_LAST] = "SELECT time, body FROM reports WHERE mac=?1 "
	    "ORDER BY id DESC LIMIT 1",
	[ST_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC "
	    "LIMIT 1",
	[ST_AUDIT_ADD] = "INSERT INTO audit(seq, time, event, mac, "
	    "cert_serial, ip, route, status, etag, prev_hash, hash) "
	    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_AUDIT_HEAD_SET] = "INSERT INTO meta(key, value) "
	    "VALUES('audit_seq', ?1), ('audit_hash', ?2) "
	    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
	[ST_AUDIT_HEAD_GET] = "SELECT "
	    "(SELECT value FROM meta WHERE key='audit_seq'), "
	    "(SELECT value FROM meta WHERE key='audit_hash')",
	[ST_AUDIT_ALL] = "SELECT seq, time, event, mac, cert_serial, ip, "
	    "route, status, etag, prev_hash, hash FROM audit ORDER BY seq",
	[ST_AUDIT_RECENT] = "SELECT seq, time, event, mac, cert_serial, ip, "
	    "route, status, etag FROM audit WHERE seq > "
	    "(SELECT COALESCE(MAX(seq), 0) FROM audit) - ? ORDER BY seq",
	[ST_BLOB_GET] = "SELECT version, body FROM blobs WHERE name=?1",
	[ST_BLOB_PUT] = "INSERT INTO blobs(name, version, body) "
	    "VALUES(?1, 1, ?2) ON CONFLICT(name) DO UPDATE SET "
	    "version=version+1, body=excluded.body",
};

struct sp_sqlite {
	sqlite3		*db;
	sqlite3_stmt	*st[ST_N];
	struct sp_err	 err;
	char		 path[PATH_MAX];
	dev_t		 dev;		/* the file opened, to notice a */
	ino_t		 ino;		/* removal or a replacement */
};

/* ------------------------------------------------------------ helpers */

static int
db_fail(struct sp_sqlite *s)
{
	return sp_err_set(&s->err, "store: %s", sqlite3_errmsg(s->db));
}

/* The cached statement id, prepared on first use; NULL on error. */
static sqlite3_stmt *
stmt(struct sp_sqlite *s, enum stmt id)
{
	return sp_sqlfile_stmt(s->db, &s->st[id], stmt_sql[id], (int)id,
	    "store", &s->err);
}

/* Steps a statement that returns no row; resets it. */
static int
step_done(struct sp_sqlite *s, sqlite3_stmt *st)
{
	return sp_sqlfile_step_done(s->db, st, "store", &s->err);
}

static int
exec_id(struct sp_sqlite *s, enum stmt id)
{
	sqlite3_stmt *st;

	if ((st = stmt(s, id)) == NULL)
		return -1;
	return step_done(s, st);
}

/* Copies a text column into dst (size n), cut to fit. */
static void
col_copy(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t len = (size_t)sqlite3_column_bytes(st, col);

	if (t == NULL)
		len = 0;
	if (len > n - 1)
		len = n - 1;
	if (len > 0)
		memcpy(dst, t, len);
	dst[len] = '\0';
}

/*
 * A write runs in its own IMMEDIATE transaction, or in a savepoint when
 * the caller holds one (sp_sqlite_begin), so that a failed operation undoes
 * only itself.  A read that takes several statements runs in a deferred
 * transaction so that they all see one snapshot.
 */
struct tx {
	int	own;
};

/*
 * A database file removed (or replaced) under an open store still takes
 * writes, into an inode nobody will open again: acknowledged writes would
 * be lost at the next start.  Writes stop instead, with the reason.
 */
static int
file_same(struct sp_sqlite *s)
{
	struct stat sb;

	if (stat(s->path, &sb) == 0 && sb.st_dev == s->dev &&
	    sb.st_ino == s->ino)
		return 0;
	return sp_err_set(&s->err, "store: the database file %s was removed "
	    "or replaced while open: nothing more is written to it (restore "
	    "it, or restart on the right file)", s->path);
}

static int
tx_begin(struct sp_sqlite *s, struct tx *t, int write)
{
	t->own = sqlite3_get_autocommit(s->db);
	if (t->own && write && file_same(s) == -1)
		return -1;
	if (t->own)
		return exec_id(s, write ? ST_BEGIN : ST_BEGIN_READ);
	return exec_id(s, ST_SAVEPOINT);
}

/* Undoes the operation; keeps the error message that caused it. */
static void
tx_abort(struct sp_sqlite *s, struct tx *t)
{
	struct sp_err keep = s->err;

	/* SQLite may already have rolled back (I/O error, full disk...). */
	if (sqlite3_get_autocommit(s->db))
		goto out;
	if (t->own)
		exec_id(s, ST_ROLLBACK);
	else if (exec_id(s, ST_ROLLBACK_TO) == 0)
		exec_id(s, ST_RELEASE);
out:
	s->err = keep;
}

static int
tx_commit(struct sp_sqlite *s, struct tx *t)
{
	if (exec_id(s, t->own ? ST_COMMIT : ST_RELEASE) == -1) {
		tx_abort(s, t);
		return -1;
	}
	return 0;
}

static int
gen_bump(struct sp_sqlite *s)
{
	sqlite3_stmt *st;

	if ((st = stmt(s, ST_GEN_BUMP)) == NULL)
		return -1;
	if (step_done(s, st) == -1)
		return -1;
	if (sqlite3_changes(s->db) != 1)
		return sp_err_set(&s->err, "store: generation counter missing");
	return 0;
}

static int
check_mac(struct sp_sqlite *s, const char *mac)
{
	return sp_store_mac_check(mac, &s->err);
}

static int
check_scope(struct sp_sqlite *s, const char *scope)
{
	return sp_store_scope_check(scope, &s->err);
}

static int
check_param_name(struct sp_sqlite *s, const char *name)
{
	return sp_store_param_name_check(name, &s->err);
}

static int
unknown_device(struct sp_sqlite *s, const char *mac)
{
	return sp_err_set(&s->err, "unknown device %s", mac);
}

/* ------------------------------------------------------ open and close */

static const struct sp_sqlfile_schema store_schema = {
	"devices", "store", migrations,
	sizeof(migrations) / sizeof(migrations[0]),
};

struct sp_sqlite *
sp_sqlite_open(const char *url, struct sp_err *err)
{
	struct sp_sqlite *s = NULL;
	const char *path;
	char shown[400];
	struct stat sb;

	if (url == NULL) {
		sp_err_set(err, "store URL missing");
		return NULL;
	}
	if (strncmp(url, STORE_URL_SCHEME, strlen(STORE_URL_SCHEME)) != 0) {
		sp_store_url_shown(shown, sizeof(shown), url);
		sp_err_set(err, "store URL '%s': unsupported scheme "
		    "(supported: sqlite:PATH)", shown);
		return NULL;
	}
	path = url + strlen(STORE_URL_SCHEME);
	if (*path == '\0' || strlen(path) >= PATH_MAX) {
		sp_store_url_shown(shown, sizeof(shown), url);
		sp_err_set(err, "store URL '%s': expected sqlite:PATH with a "
		    "file path", shown);
		return NULL;
	}
	if (sp_sqlfile_precreate(path, err) == -1)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sp_err_set(&s->err, "%s: %s", path, s->db != NULL ?
		    sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (stat(path, &sb) == -1) {
		sp_err_set(&s->err, "%s: %s", path, strerror(errno));
		goto fail;
	}
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	/* Reads through a shared mapping rather than one pread per page:
	 * every sprovd worker reads profiles on each request. */
	if (sp_sqlfile_setup(s->db, path, STORE_BUSY_MS,
	    "PRAGMA mmap_size=268435456;", &s->err) == -1)
		goto fail;
	if (sp_sqlfile_migrate(s->db, path, &store_schema, &s->err) == -1)
		goto fail;
	return s;
fail:
	sp_err_set(err, "%s", s->err.msg);
	sp_sqlite_close(s);
	return NULL;
}

void
sp_sqlite_close(struct sp_sqlite *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	/* An open transaction is rolled back by the close. */
	sqlite3_close(s->db);
	free(s);
}

const char *
sp_sqlite_error(const struct sp_sqlite *s)
{
	if (s == NULL)
		return "no store";
	return s->err.msg;
}

/* ------------------------------------------------------- transactions */

int
sp_sqlite_begin(struct sp_sqlite *s)
{
	if (!sqlite3_get_autocommit(s->db))
		return sp_err_set(&s->err, "store: a transaction is already "
		    "open");
	if (file_same(s) == -1)
		return -1;
	return exec_id(s, ST_BEGIN);
}

int
sp_sqlite_commit(struct sp_sqlite *s)
{
	struct tx t = { 1 };

	if (sqlite3_get_autocommit(s->db))
		return sp_err_set(&s->err, "store: no transaction is open");
	return tx_commit(s, &t);
}

void
sp_sqlite_rollback(struct sp_sqlite *s)
{
	struct sp_err keep = s->err;

	if (!sqlite3_get_autocommit(s->db))
		exec_id(s, ST_ROLLBACK);
	s->err = keep;
}

int
sp_sqlite_generation(struct sp_sqlite *s, uint64_t *out)
{
	sqlite3_stmt *st;
	int rc = -1;

	if ((st = stmt(s, ST_GEN_GET)) == NULL)
		return -1;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*out = (uint64_t)sqlite3_column_int64(st, 0);
		rc = 0;
		break;
	case SQLITE_DONE:
		sp_err_set(&s->err, "store: generation counter missing");
		break;
	default:
		db_fail(s);
		break;
	}
	sp_sqlfile_reset(st);
	return rc;
}

/* ------------------------------------------------------------ devices */

static int
device_row(struct sp_sqlite *s, sqlite3_stmt *st, struct sp_device *d)
{
	const unsigned char *state;

	memset(d, 0, sizeof(*d));
	col_copy(d->mac, sizeof(d->mac), st, 0);
	col_copy(d->serial, sizeof(d->serial), st, 1);
	col_copy(d->model, sizeof(d->model), st, 2);
	state = sqlite3_column_text(st, 3);
	if (state != NULL && strcmp((const char *)state, "active") == 0)
		d->state = SP_DEV_ACTIVE;
	else if (state != NULL &&
	    strcmp((const char *)state, "quarantined") == 0)
		d->state = SP_DEV_QUARANTINED;
	else
		return sp_err_set(&s->err, "store: device %s has an unknown "
		    "state", d->mac);
	d->first_seen = (time_t)sqlite3_column_int64(st, 4);
	d->last_seen = (time_t)sqlite3_column_int64(st, 5);
	col_copy(d->last_ip, sizeof(d->last_ip), st, 6);
	col_copy(d->user_agent, sizeof(d->user_agent), st, 7);
	col_copy(d->firmware, sizeof(d->firmware), st, 8);
	col_copy(d->etag, sizeof(d->etag), st, 9);
	d->last_report = (time_t)sqlite3_column_int64(st, 10);
	col_copy(d->cert_serial, sizeof(d->cert_serial), st, 11);
	return 0;
}

int
sp_sqlite_device_get(struct sp_sqlite *s, const char *mac, struct sp_device *d)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (check_mac(s, mac) == -1)
		return -1;
	if ((st = stmt(s, ST_DEV_GET)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, mac);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		rc = device_row(s, st, d);
		break;
	case SQLITE_DONE:
		rc = 1;
		break;
	default:
		db_fail(s);
		break;
	}
	sp_sqlfile_reset(st);
	return rc;
}

static int
check_device_fields(struct sp_sqlite *s, const char *serial, const char *model)
{
	return sp_store_device_fields_check(serial, model, &s->err);
}

int
sp_sqlite_device_put(struct sp_sqlite *s, const char *mac, const char *serial,
    const char *model)
{
	sqlite3_stmt *st;
	struct tx t;
	char old[SP_MODEL_MAX + 1];
	int rc, exists;

	if (serial == NULL)
		serial = "";
	if (model == NULL)
		model = "";
	if (check_mac(s, mac) == -1 ||
	    check_device_fields(s, serial, model) == -1)
		return -1;
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((st = stmt(s, ST_DEV_MODEL)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, mac);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		col_copy(old, sizeof(old), st, 0);
	else if (rc != SQLITE_DONE)
		db_fail(s);
	sp_sqlfile_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	exists = rc == SQLITE_ROW;
	if ((st = stmt(s, exists ? ST_DEV_UPDATE : ST_DEV_INSERT)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, mac);
	sp_sqlfile_bind_str(st, 2, serial);
	sp_sqlfile_bind_str(st, 3, model);
	if (step_done(s, st) == -1)
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
device_exists(struct sp_sqlite *s, const char *mac)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = stmt(s, ST_DEV_MODEL)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, mac);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(s);
	sp_sqlfile_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return unknown_device(s, mac);
	return -1;
}

int
sp_sqlite_device_state(struct sp_sqlite *s, const char *mac,
    enum sp_dev_state state)
{
	sqlite3_stmt *st;
	struct tx t;

	if (check_mac(s, mac) == -1)
		return -1;
	if (state != SP_DEV_ACTIVE && state != SP_DEV_QUARANTINED)
		return sp_err_set(&s->err, "device state %d: expected active "
		    "or quarantined", (int)state);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if (device_exists(s, mac) == -1)
		goto fail;
	if ((st = stmt(s, ST_DEV_STATE)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, mac);
	sp_sqlfile_bind_str(st, 2, state == SP_DEV_ACTIVE ? "active" : "quarantined");
	if (step_done(s, st) == -1)
		goto fail;
	if (sqlite3_changes(s->db) > 0 && gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

int
sp_sqlite_device_delete(struct sp_sqlite *s, const char *mac)
{
	char scope[SP_SCOPE_MAX + 1];
	sqlite3_stmt *st;
	struct tx t;

	if (check_mac(s, mac) == -1)
		return -1;
	snprintf(scope, sizeof(scope), "device:%s", mac);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	/* Groups, certificates and reports go by ON DELETE CASCADE. */
	if ((st = stmt(s, ST_DEV_DELETE)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, mac);
	if (step_done(s, st) == -1)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		unknown_device(s, mac);
		goto fail;
	}
	if ((st = stmt(s, ST_PARAM_DEL_SCOPE)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, scope);
	if (step_done(s, st) == -1 || gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

int
sp_sqlite_device_list(struct sp_sqlite *s,
    int (*fn)(void *, const struct sp_device *), void *arg)
{
	struct sp_device d;
	sqlite3_stmt *st;
	int rc;

	if ((st = stmt(s, ST_DEV_LIST)) == NULL)
		return -1;
	/* fn may use the store, but not list again from inside the list. */
	if (sqlite3_stmt_busy(st))
		return sp_err_set(&s->err, "store: device list called from "
		    "its own callback");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (device_row(s, st, &d) == -1) {
			sp_sqlfile_reset(st);
			return -1;
		}
		if (fn(arg, &d) == -1) {
			sp_sqlfile_reset(st);
			return -1;
		}
	}
	if (rc != SQLITE_DONE)
		db_fail(s);
	sp_sqlfile_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
sp_sqlite_device_seen(struct sp_sqlite *s, const char *mac, time_t when,
    const char *ip, const char *user_agent, const char *cert_serial,
    const char *etag)
{
	sqlite3_stmt *st;
	struct tx t;

	if (check_mac(s, mac) == -1)
		return -1;
	if (cert_serial != NULL && *cert_serial == '\0')
		cert_serial = NULL;
	if (sp_store_seen_check(cert_serial, etag, &s->err) == -1)
		return -1;
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((st = stmt(s, ST_DEV_SEEN)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, mac);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)when);
	/* The peer's strings are cut to their columns, not refused. */
	sp_sqlfile_bind_text(st, 3, ip, ip != NULL ? sp_store_cut(ip, STORE_IP_MAX) : 0);
	sp_sqlfile_bind_text(st, 4, user_agent, user_agent != NULL ?
	    sp_store_cut(user_agent, SP_USER_AGENT_MAX) : 0);
	sp_sqlfile_bind_str(st, 5, cert_serial);
	sp_sqlfile_bind_str(st, 6, etag);
	if (step_done(s, st) == -1)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		unknown_device(s, mac);
		goto fail;
	}
	if (cert_serial != NULL) {
		if ((st = stmt(s, ST_CERT_SEEN)) == NULL)
			goto fail;
		sp_sqlfile_bind_str(st, 1, mac);
		sp_sqlfile_bind_str(st, 2, cert_serial);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)when);
		if (step_done(s, st) == -1)
			goto fail;
	}
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

/* ------------------------------------------------------------- groups */

int
sp_sqlite_group_set(struct sp_sqlite *s, const char *mac,
    const char *const *groups, size_t n)
{
	sqlite3_stmt *st;
	struct tx t;
	size_t i;

	if (check_mac(s, mac) == -1)
		return -1;
	if (sp_store_groups_check(mac, groups, n, &s->err) == -1)
		return -1;
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if (device_exists(s, mac) == -1)
		goto fail;
	if ((st = stmt(s, ST_GRP_CLEAR)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, mac);
	if (step_done(s, st) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((st = stmt(s, ST_GRP_ADD)) == NULL)
			goto fail;
		sp_sqlfile_bind_str(st, 1, mac);
		sp_sqlfile_bind_str(st, 2, groups[i]);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)i);
		if (step_done(s, st) == -1)
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
sp_sqlite_group_get(struct sp_sqlite *s, const char *mac,
    char groups[][SP_GROUP_NAME_MAX + 1], size_t max, size_t *n)
{
	sqlite3_stmt *st;
	size_t count = 0;
	int rc, found = 0;

	*n = 0;
	if (check_mac(s, mac) == -1)
		return -1;
	if ((st = stmt(s, ST_GRP_GET)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, mac);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		found = 1;
		if (sqlite3_column_type(st, 0) == SQLITE_NULL)
			continue;	/* the device, without groups */
		if (count == max) {
			sp_err_set(&s->err, "device %s has more than %zu "
			    "groups", mac, max);
			sp_sqlfile_reset(st);
			return -1;
		}
		col_copy(groups[count], SP_GROUP_NAME_MAX + 1, st, 0);
		count++;
	}
	if (rc != SQLITE_DONE)
		db_fail(s);
	sp_sqlfile_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	*n = count;
	return found ? 0 : 1;
}

/* --------------------------------------------------------- parameters */

int
sp_sqlite_param_set(struct sp_sqlite *s, const char *scope, const char *name,
    const char *value, enum sp_ua ua)
{
	struct sp_profile *trial = NULL;
	sqlite3_stmt *st;
	struct tx t;
	size_t len;

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
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((st = stmt(s, ST_PARAM_SET)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, scope);
	sp_sqlfile_bind_str(st, 2, name);
	sp_sqlfile_bind_text(st, 3, value, len);
	sp_sqlfile_bind_str(st, 4, sp_ua_name(ua));
	if (step_done(s, st) == -1)
		goto fail;
	if (sqlite3_changes(s->db) > 0 && gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

int
sp_sqlite_param_unset(struct sp_sqlite *s, const char *scope,
    const char *name)
{
	sqlite3_stmt *st;
	struct tx t;

	if (check_scope(s, scope) == -1 || check_param_name(s, name) == -1)
		return -1;
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((st = stmt(s, ST_PARAM_UNSET)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, scope);
	sp_sqlfile_bind_str(st, 2, name);
	if (step_done(s, st) == -1)
		goto fail;
	if (sqlite3_changes(s->db) > 0 && gen_bump(s) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

/* Sets the rows of st (name, value, ua at col, col+1, col+2) into prof. */
static int
params_into(struct sp_sqlite *s, sqlite3_stmt *st, int col,
    struct sp_profile *prof)
{
	const char *name, *value, *uas;
	enum sp_ua ua;
	char q[400];
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, col);
		value = (const char *)sqlite3_column_text(st, col + 1);
		uas = (const char *)sqlite3_column_text(st, col + 2);
		if (name == NULL || value == NULL || uas == NULL ||
		    sp_ua_parse(uas, &ua) == -1) {
			sp_err_set(&s->err, "store: malformed parameter row");
			goto fail;
		}
		if (sp_profile_set(prof, name, value,
		    (size_t)sqlite3_column_bytes(st, col + 1), ua) == -1) {
			/* Checked when stored: the database was edited. */
			sp_store_quote(q, sizeof(q), name);
			sp_err_set(&s->err, "store: parameter '%s': %s", q,
			    sp_profile_error(prof));
			goto fail;
		}
	}
	if (rc != SQLITE_DONE) {
		db_fail(s);
		goto fail;
	}
	sp_sqlfile_reset(st);
	return 0;
fail:
	sp_sqlfile_reset(st);
	return -1;
}

int
sp_sqlite_param_scope(struct sp_sqlite *s, const char *scope,
    struct sp_profile *prof)
{
	sqlite3_stmt *st;

	if (check_scope(s, scope) == -1)
		return -1;
	if ((st = stmt(s, ST_PARAM_SCOPE)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, scope);
	return params_into(s, st, 0, prof);
}

int
sp_sqlite_profile(struct sp_sqlite *s, const char *mac, const char *model,
    struct sp_profile *prof)
{
	sqlite3_stmt *st;

	if (check_mac(s, mac) == -1)
		return -1;
	if (model != NULL && *model == '\0')
		model = NULL;
	if (model != NULL && sp_store_model_check(model, &s->err) == -1)
		return -1;
	if ((st = stmt(s, ST_PROFILE)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, mac);
	sp_sqlfile_bind_str(st, 2, model);
	return params_into(s, st, 3, prof);
}

/* ------------------------------------------------------------ reports */

int
sp_sqlite_report_add(struct sp_sqlite *s, const char *mac, time_t when,
    const char *kind, const char *body, size_t len,
    const struct sp_profile *parsed)
{
	char fw[SP_FIRMWARE_MAX + 2];
	const struct sp_param *p;
	struct sp_buf xml;
	sqlite3_stmt *st;
	struct tx t;
	size_t n, fwlen = 0;
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
		if ((p = sp_profile_get(parsed, "Software_Version")) != NULL &&
		    p->value != NULL && p->valuelen > 0) {
			n = p->valuelen < sizeof(fw) - 1 ? p->valuelen :
			    sizeof(fw) - 1;
			memcpy(fw, p->value, n);
			fw[n] = '\0';
			fwlen = sp_store_cut(fw, SP_FIRMWARE_MAX);
			have_fw = 1;
		}
	}
	if (tx_begin(s, &t, 1) == -1)
		goto out;
	if ((st = stmt(s, ST_REPORT_DEV)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, mac);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)when);
	sp_sqlfile_bind_text(st, 3, have_fw ? fw : NULL, fwlen);
	if (step_done(s, st) == -1)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		unknown_device(s, mac);
		goto fail;
	}
	if ((st = stmt(s, ST_REPORT_ADD)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, mac);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)when);
	sp_sqlfile_bind_str(st, 3, kind);
	/* A NULL pointer would bind SQL NULL: an empty body is "". */
	sqlite3_bind_blob(st, 4, len > 0 ? body : "", (int)len,
	    SQLITE_STATIC);
	if (parsed != NULL)
		sp_sqlfile_bind_text(st, 5, xml.data != NULL ? xml.data : "", xml.len);
	if (step_done(s, st) == -1)
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
sp_sqlite_report_last(struct sp_sqlite *s, const char *mac, time_t *when,
    struct sp_buf *body)
{
	sqlite3_stmt *st;
	const void *b;
	size_t len;
	int rc = -1;

	if (check_mac(s, mac) == -1)
		return -1;
	if ((st = stmt(s, ST_REPORT_LAST)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, mac);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		if (when != NULL)
			*when = (time_t)sqlite3_column_int64(st, 0);
		b = sqlite3_column_blob(st, 1);
		len = (size_t)sqlite3_column_bytes(st, 1);
		sp_buf_reset(body);
		if (sp_buf_append(body, b != NULL ? b : "", len) == -1) {
			sp_err_set(&s->err, "report of %zu bytes does not fit "
			    "the buffer (at most %zu)", len, body->max);
			break;
		}
		rc = 0;
		break;
	case SQLITE_DONE:
		rc = 1;
		break;
	default:
		db_fail(s);
		break;
	}
	sp_sqlfile_reset(st);
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
sp_sqlite_audit_append(struct sp_sqlite *s, const struct sp_audit *a)
{
	const char *f[STORE_AUDIT_NFIELDS];
	size_t fl[STORE_AUDIT_NFIELDS];
	char prev[STORE_HASH_HEXLEN + 1], hash[STORE_HASH_HEXLEN + 1];
	sqlite3_stmt *st;
	int64_t seq = 1;
	struct tx t;
	const unsigned char *h;
	int rc, i;

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
	if ((st = stmt(s, ST_AUDIT_LAST)) == NULL)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0) + 1;
		h = sqlite3_column_text(st, 1);
		if (h == NULL || sqlite3_column_bytes(st, 1) !=
		    STORE_HASH_HEXLEN) {
			sp_err_set(&s->err, "audit: entry %lld has a malformed "
			    "hash: verify the trail", (long long)(seq - 1));
			sp_sqlfile_reset(st);
			goto fail;
		}
		memcpy(prev, h, sizeof(prev));
	} else if (rc != SQLITE_DONE)
		db_fail(s);
	sp_sqlfile_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	if (sp_store_audit_hash(prev, seq, (int64_t)a->when,
	    (int64_t)a->status, f, fl, STORE_AUDIT_NFIELDS, hash) == -1) {
		sp_err_set(&s->err, "audit: cannot hash the entry");
		goto fail;
	}
	if ((st = stmt(s, ST_AUDIT_ADD)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)a->when);
	for (i = 0; i < 5; i++)
		sp_sqlfile_bind_text(st, 3 + i, f[i], fl[i]);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)a->status);
	sp_sqlfile_bind_text(st, 9, f[5], fl[5]);
	sp_sqlfile_bind_text(st, 10, prev, STORE_HASH_HEXLEN);
	sp_sqlfile_bind_text(st, 11, hash, STORE_HASH_HEXLEN);
	if (step_done(s, st) == -1)
		goto fail;
	/* The head, so that entries removed from the end show too. */
	if ((st = stmt(s, ST_AUDIT_HEAD_SET)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, seq);
	sp_sqlfile_bind_text(st, 2, hash, STORE_HASH_HEXLEN);
	if (step_done(s, st) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}

static bool
col_is(sqlite3_stmt *st, int col, int type, bool null_ok)
{
	int t = sqlite3_column_type(st, col);

	return t == type || (null_ok && t == SQLITE_NULL);
}

/*
 * Checks one row of ST_AUDIT_ALL against the expected seq and the previous
 * hash; copies its hash into prev.  0 good, 1 bad (message set), -1 error.
 */
static int
audit_row(struct sp_sqlite *s, sqlite3_stmt *st, int64_t expect, char *prev)
{
	const char *f[STORE_AUDIT_NFIELDS], *ph, *h, *why = NULL;
	size_t fl[STORE_AUDIT_NFIELDS];
	char hash[STORE_HASH_HEXLEN + 1];
	int i;

	if (sqlite3_column_int64(st, 0) != expect) {
		sp_err_set(&s->err, "audit: entry %lld is missing",
		    (long long)expect);
		return 1;
	}
	if (!col_is(st, 1, SQLITE_INTEGER, false) ||
	    !col_is(st, 2, SQLITE_TEXT, false) ||
	    !col_is(st, 3, SQLITE_TEXT, true) ||
	    !col_is(st, 4, SQLITE_TEXT, true) ||
	    !col_is(st, 5, SQLITE_TEXT, true) ||
	    !col_is(st, 6, SQLITE_TEXT, true) ||
	    !col_is(st, 7, SQLITE_INTEGER, false) ||
	    !col_is(st, 8, SQLITE_TEXT, true) ||
	    !col_is(st, 9, SQLITE_TEXT, false) ||
	    !col_is(st, 10, SQLITE_TEXT, false)) {
		why = "has a field of the wrong type";
		goto bad;
	}
	/* Columns 2-6 and 8: event, mac, cert_serial, ip, route, etag. */
	for (i = 0; i < STORE_AUDIT_NFIELDS; i++) {
		int col = i < 5 ? 2 + i : 8;

		f[i] = (const char *)sqlite3_column_text(st, col);
		fl[i] = (size_t)sqlite3_column_bytes(st, col);
	}
	ph = (const char *)sqlite3_column_text(st, 9);
	h = (const char *)sqlite3_column_text(st, 10);
	if (ph == NULL || h == NULL ||
	    sqlite3_column_bytes(st, 9) != STORE_HASH_HEXLEN ||
	    sqlite3_column_bytes(st, 10) != STORE_HASH_HEXLEN) {
		why = "has a malformed hash";
		goto bad;
	}
	if (memcmp(ph, prev, STORE_HASH_HEXLEN) != 0) {
		why = "does not follow the entry before it";
		goto bad;
	}
	if (sp_store_audit_hash(ph, expect, sqlite3_column_int64(st, 1),
	    sqlite3_column_int64(st, 7), f, fl, STORE_AUDIT_NFIELDS, hash) == -1)
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

int
sp_sqlite_audit_list(struct sp_sqlite *s, size_t last,
    int (*fn)(void *, int64_t, const struct sp_audit *), void *arg)
{
	struct sp_audit a;
	sqlite3_stmt *st;
	int rc;

	if ((st = stmt(s, ST_AUDIT_RECENT)) == NULL)
		return -1;
	if (sqlite3_stmt_busy(st))
		return sp_err_set(&s->err, "store: audit list called from its "
		    "own callback");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)last);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&a, 0, sizeof(a));
		a.when = (time_t)sqlite3_column_int64(st, 1);
		a.event = (const char *)sqlite3_column_text(st, 2);
		a.mac = (const char *)sqlite3_column_text(st, 3);
		a.cert_serial = (const char *)sqlite3_column_text(st, 4);
		a.ip = (const char *)sqlite3_column_text(st, 5);
		a.route = (const char *)sqlite3_column_text(st, 6);
		a.status = sqlite3_column_int(st, 7);
		a.etag = (const char *)sqlite3_column_text(st, 8);
		if (fn(arg, sqlite3_column_int64(st, 0), &a) == -1) {
			sp_sqlfile_reset(st);
			return -1;
		}
	}
	if (rc != SQLITE_DONE)
		db_fail(s);
	sp_sqlfile_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
sp_sqlite_audit_verify(struct sp_sqlite *s, int64_t *bad)
{
	char prev[STORE_HASH_HEXLEN + 1], head[STORE_HASH_HEXLEN + 1] = "";
	int64_t expect = 1, headseq = 0, dummy;
	sqlite3_stmt *st;
	struct tx t;
	int rc;

	if (bad == NULL)
		bad = &dummy;
	*bad = 0;
	memcpy(prev, zero_hash, sizeof(prev));
	/* The head and the entries from one snapshot. */
	if (tx_begin(s, &t, 0) == -1)
		return -1;
	if ((st = stmt(s, ST_AUDIT_HEAD_GET)) == NULL)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		headseq = sqlite3_column_int64(st, 0);
		col_copy(head, sizeof(head), st, 1);
	} else
		db_fail(s);
	sp_sqlfile_reset(st);
	if (rc != SQLITE_ROW)
		goto fail;
	if ((st = stmt(s, ST_AUDIT_ALL)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = audit_row(s, st, expect, prev)) != 0) {
			sp_sqlfile_reset(st);
			if (rc == 1)
				*bad = expect;
			goto fail;
		}
		expect++;
	}
	if (rc != SQLITE_DONE)
		db_fail(s);
	sp_sqlfile_reset(st);
	if (rc != SQLITE_DONE)
		goto fail;
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
sp_sqlite_blob_get(struct sp_sqlite *s, const char *name, struct sp_buf *out,
    int64_t *version)
{
	sqlite3_stmt *st;
	const void *p;
	int rc = -1, n;

	if (sp_store_blob_name_check(name, &s->err) == -1 ||
	    (st = stmt(s, ST_BLOB_GET)) == NULL)
		return -1;
	sp_sqlfile_bind_str(st, 1, name);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		/* Without out the body is never read (overflow pages). */
		p = out != NULL ? sqlite3_column_blob(st, 1) : NULL;
		n = out != NULL ? sqlite3_column_bytes(st, 1) : 0;
		if (n > 0 && sp_buf_append(out, p, (size_t)n) == -1) {
			sp_err_set(&s->err, "store: blob '%s' of %d bytes: out "
			    "of memory or over the buffer's limit", name, n);
			break;
		}
		if (version != NULL)
			*version = sqlite3_column_int64(st, 0);
		rc = 0;
		break;
	case SQLITE_DONE:
		rc = 1;
		break;
	default:
		db_fail(s);
		break;
	}
	sp_sqlfile_reset(st);
	return rc;
}

int
sp_sqlite_blob_put(struct sp_sqlite *s, const char *name, const void *body,
    size_t len)
{
	sqlite3_stmt *st;
	struct tx t;

	if (sp_store_blob_name_check(name, &s->err) == -1)
		return -1;
	if (len > (size_t)SP_STORE_BLOB_MAX)
		return sp_err_set(&s->err, "store: blob '%s' of %zu bytes: "
		    "over the limit of %ld", name, len, SP_STORE_BLOB_MAX);
	if (tx_begin(s, &t, 1) == -1)
		return -1;
	if ((st = stmt(s, ST_BLOB_PUT)) == NULL)
		goto fail;
	sp_sqlfile_bind_str(st, 1, name);
	if (sqlite3_bind_blob64(st, 2, len > 0 ? body : "", len,
	    SQLITE_STATIC) != SQLITE_OK) {
		db_fail(s);
		sp_sqlfile_reset(st);
		goto fail;
	}
	if (step_done(s, st) == -1)
		goto fail;
	return tx_commit(s, &t);
fail:
	tx_abort(s, &t);
	return -1;
}
