/* The SQLite files of sprov: creation, one-off statements, migrations. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sqlfile-int.h"

int
sp_sqlfile_precreate(const char *path, struct sp_err *err)
{
	int fd;

	/* umask can only narrow 0600; SQLite gives -wal/-shm this mode. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return 0;
		return sp_err_set(err, "%s: %s", path, strerror(errno));
	}
	close(fd);
	return 0;
}

int
sp_sqlfile_exec(sqlite3 *db, const char *path, const char *sql,
    struct sp_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sp_err_set(err, "%s: %s", path, msg != NULL ? msg :
		    sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* One integer from a one-off statement (not cached: runs at open). */
int
sp_sqlfile_int(sqlite3 *db, const char *path, const char *sql,
    int64_t *out, struct sp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sp_err_set(err, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
		break;
	case SQLITE_DONE:
		sp_err_set(err, "%s: no row for %s", path, sql);
		break;
	default:
		sp_err_set(err, "%s: %s", path, sqlite3_errmsg(db));
		break;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* The schema version under the write lock; 0 for an empty file. */
static int
schema_version(sqlite3 *db, const char *path,
    const struct sp_sqlfile_schema *sc, int64_t *v, struct sp_err *err)
{
	char sql[160];
	int64_t n, marker;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_schema WHERE "
	    "type='table' AND name='%s'", sc->marker);
	if (sp_sqlfile_int(db, path, "SELECT count(*) FROM sqlite_schema "
	    "WHERE type='table' AND name='schema_version'", &n, err) == -1 ||
	    sp_sqlfile_int(db, path, sql, &marker, err) == -1)
		return -1;
	if (n == 1 && marker == 1)
		return sp_sqlfile_int(db, path, "SELECT version FROM "
		    "schema_version", v, err);
	if (sp_sqlfile_int(db, path, "SELECT count(*) FROM sqlite_schema "
	    "WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", &n, err) == -1)
		return -1;
	if (n != 0)
		return sp_err_set(err, "%s: not a sprov %s (tables, but not "
		    "this kind's)", path, sc->what);
	*v = 0;
	return 0;
}

int
sp_sqlfile_migrate(sqlite3 *db, const char *path,
    const struct sp_sqlfile_schema *sc, struct sp_err *err)
{
	char sql[64];
	int64_t v, max = (int64_t)sc->n;

	for (;;) {
		if (sp_sqlfile_exec(db, path, "BEGIN IMMEDIATE", err) == -1)
			return -1;
		if (schema_version(db, path, sc, &v, err) == -1)
			goto fail;
		if (v > max) {
			sp_err_set(err, "%s: %s schema version %lld is newer "
			    "than this sprov knows (%lld): upgrade sprov", path,
			    sc->what, (long long)v, (long long)max);
			goto fail;
		}
		if (v < 0) {
			sp_err_set(err, "%s: bad %s schema version %lld", path,
			    sc->what, (long long)v);
			goto fail;
		}
		if (v == max)
			return sp_sqlfile_exec(db, path, "COMMIT", err);
		/* A constant integer of ours, not a value from outside. */
		snprintf(sql, sizeof(sql), "UPDATE schema_version SET "
		    "version=%lld", (long long)(v + 1));
		if (sp_sqlfile_exec(db, path, sc->migrations[v], err) == -1 ||
		    sp_sqlfile_exec(db, path, sql, err) == -1 ||
		    sp_sqlfile_exec(db, path, "COMMIT", err) == -1)
			goto fail;
	}
fail:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
sp_sqlfile_setup(sqlite3 *db, const char *path, int busy_ms,
    const char *pragmas, struct sp_err *err)
{
	const unsigned char *mode;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, busy_ms);
	/* No schema tricks (writable_schema...), no functions in a schema. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sp_err_set(err, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	mode = sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
		sp_err_set(err, "%s: cannot use WAL mode (journal mode is %s)",
		    path, mode != NULL ? (const char *)mode : "?");
		goto out;
	}
	/* FULL: a commit reported to the caller is on disk. */
	if (sp_sqlfile_exec(db, path, "PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;", err) == -1 ||
	    (pragmas != NULL && sp_sqlfile_exec(db, path, pragmas, err) == -1))
		goto out;
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

sqlite3_stmt *
sp_sqlfile_stmt(sqlite3 *db, sqlite3_stmt **slot, const char *sql, int id,
    const char *who, struct sp_err *err)
{
	if (*slot == NULL && sqlite3_prepare_v3(db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
		sp_err_set(err, "%s: preparing statement %d: %s", who, id,
		    sqlite3_errmsg(db));
		*slot = NULL;
	}
	return *slot;
}

void
sp_sqlfile_reset(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

int
sp_sqlfile_step_done(sqlite3 *db, sqlite3_stmt *st, const char *who,
    struct sp_err *err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		sp_err_set(err, "%s: %s", who, sqlite3_errmsg(db));
	sp_sqlfile_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
sp_sqlfile_bind_text(sqlite3_stmt *st, int i, const char *v, size_t len)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, (int)len, SQLITE_STATIC);
}

void
sp_sqlfile_bind_str(sqlite3_stmt *st, int i, const char *v)
{
	sp_sqlfile_bind_text(st, i, v, v != NULL ? strlen(v) : 0);
}
