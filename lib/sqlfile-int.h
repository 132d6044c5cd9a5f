/*
 * Internal to lib/: what the SQLite files of sprov share (the store,
 * store_sqlite.c, and the portal's accounts, account.c): creating the
 * file 0600, one-off statements at open, the cache of prepared
 * statements, and ordered migrations with a schema_version table.  Errors name the file.
 */
#ifndef SPROV_SQLFILE_INT_H
#define SPROV_SQLFILE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "sprov/err.h"

/* Creates path 0600 when absent (O_EXCL, never through a link). */
int	sp_sqlfile_precreate(const char *path, struct sp_err *);
int	sp_sqlfile_exec(sqlite3 *, const char *path, const char *sql,
	    struct sp_err *);
int	sp_sqlfile_int(sqlite3 *, const char *path, const char *sql,
	    int64_t *, struct sp_err *);

/*
 * Statements as both files use them.  sp_sqlfile_stmt: sql prepared once
 * (persistent) into *slot, NULL with "who: preparing statement id: ..."
 * in err.  sp_sqlfile_reset: ready for its next use (bindings are
 * borrowed), NULL accepted.  sp_sqlfile_step_done: steps a statement that
 * returns no row and resets it; -1 with "who: <the database's message>".
 * sp_sqlfile_bind_text/_str: text, or NULL for a NULL value.
 */
sqlite3_stmt	*sp_sqlfile_stmt(sqlite3 *, sqlite3_stmt **slot,
		    const char *sql, int id, const char *who,
		    struct sp_err *);
void		 sp_sqlfile_reset(sqlite3_stmt *);
int		 sp_sqlfile_step_done(sqlite3 *, sqlite3_stmt *,
		    const char *who, struct sp_err *);
void		 sp_sqlfile_bind_text(sqlite3_stmt *, int, const char *,
		    size_t);
void		 sp_sqlfile_bind_str(sqlite3_stmt *, int, const char *);

/*
 * A connection as sprov uses its files: extended result codes, the busy
 * timeout, defensive mode with an untrusted schema, WAL (refused if the
 * file cannot use it), synchronous=FULL, foreign keys, then pragmas (may
 * be NULL).
 */
int	sp_sqlfile_setup(sqlite3 *, const char *path, int busy_ms,
	    const char *pragmas, struct sp_err *);

/*
 * What a file must be: marker is a table only this kind of file has (a
 * store and an accounts file both have schema_version), what names the
 * kind in messages ("store", "accounts"), migrations[i] takes the schema
 * from version i to i + 1.
 */
struct sp_sqlfile_schema {
	const char		*marker;
	const char		*what;
	const char *const	*migrations;
	size_t			 n;
};

/*
 * Applies the migrations the file lacks, each in one transaction with its
 * version bump; the version is read again under the write lock each time,
 * so that two processes opening a new file migrate it once.  A newer
 * version than we know, or a file of something else, is refused.
 */
int	sp_sqlfile_migrate(sqlite3 *, const char *path,
	    const struct sp_sqlfile_schema *, struct sp_err *);

#endif
