/*
 * Internal to lib/store*.c: what the backends share (lib/store.c) and the
 * calls each backend provides.  lib/store.c owns struct sp_store and
 * dispatches every public call of sprov/store.h to the backend the URL
 * named: sp_sqlite_* (store_sqlite.c, "sqlite:PATH") or sp_pg_*
 * (store_pg.c, "postgresql://..." or "postgres://...").  A backend call
 * has the semantics written in sprov/store.h for the public call of the
 * same name; both backends pass the same tests (tests/unit/test_store.c).
 */
#ifndef SPROV_STORE_INT_H
#define SPROV_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sprov/buf.h"
#include "sprov/err.h"
#include "sprov/profile.h"
#include "sprov/store.h"

/* ------------------------------------------------ shared (store.c) */

bool	sp_store_name_ok(const char *, size_t);
void	sp_store_quote(char *, size_t, const char *);
int	sp_store_mac_check(const char *, struct sp_err *);
size_t	sp_store_cut(const char *, size_t);
int	sp_store_audit_hash(const char *, int64_t, int64_t, int64_t,
	    const char *const *, const size_t *, size_t, char *);
/* A blob name: 1 to SP_STORE_BLOB_NAME_MAX of [a-z0-9_-]. */
int	sp_store_blob_name_check(const char *, struct sp_err *);
/* Checks of caller input before any database work (see store.c). */
int	sp_store_param_name_check(const char *, struct sp_err *);
int	sp_store_model_check(const char *, struct sp_err *);
int	sp_store_device_fields_check(const char *serial, const char *model,
	    struct sp_err *);
int	sp_store_seen_check(const char *cert_serial, const char *etag,
	    struct sp_err *);
int	sp_store_groups_check(const char *mac, const char *const *, size_t,
	    struct sp_err *);
int	sp_store_report_check(const char *kind, const char *body, size_t,
	    struct sp_err *);
int	sp_store_audit_check(const struct sp_audit *, struct sp_err *);
/* The URL for a message, without any user:password@ part. */
void	sp_store_url_shown(char *, size_t, const char *);

/*
 * Column sizes of struct sp_device that limits.h does not name, audit
 * fields (an event name, the request route), a report kind: the same in
 * every backend.
 */
#define STORE_IP_MAX		45
#define STORE_CERT_SERIAL_MAX	79
#define STORE_EVENT_MAX		32
#define STORE_ROUTE_MAX		1024
#define STORE_KIND_MAX		32
#define STORE_HASH_HEXLEN	64
#define STORE_AUDIT_NFIELDS	6

/* ------------------------------------------- SQLite (store_sqlite.c) */

struct sp_sqlite;

struct sp_sqlite *sp_sqlite_open(const char *url, struct sp_err *);
void	 sp_sqlite_close(struct sp_sqlite *);
const char *sp_sqlite_error(const struct sp_sqlite *);
int	 sp_sqlite_begin(struct sp_sqlite *);
int	 sp_sqlite_commit(struct sp_sqlite *);
void	 sp_sqlite_rollback(struct sp_sqlite *);
int	 sp_sqlite_generation(struct sp_sqlite *, uint64_t *);
int	 sp_sqlite_device_get(struct sp_sqlite *, const char *,
	    struct sp_device *);
int	 sp_sqlite_device_put(struct sp_sqlite *, const char *, const char *,
	    const char *);
int	 sp_sqlite_device_state(struct sp_sqlite *, const char *,
	    enum sp_dev_state);
int	 sp_sqlite_device_delete(struct sp_sqlite *, const char *);
int	 sp_sqlite_device_list(struct sp_sqlite *,
	    int (*)(void *, const struct sp_device *), void *);
int	 sp_sqlite_device_seen(struct sp_sqlite *, const char *, time_t,
	    const char *, const char *, const char *, const char *);
int	 sp_sqlite_group_set(struct sp_sqlite *, const char *,
	    const char *const *, size_t);
int	 sp_sqlite_group_get(struct sp_sqlite *, const char *,
	    char [][SP_GROUP_NAME_MAX + 1], size_t, size_t *);
int	 sp_sqlite_param_set(struct sp_sqlite *, const char *, const char *,
	    const char *, enum sp_ua);
int	 sp_sqlite_param_unset(struct sp_sqlite *, const char *,
	    const char *);
int	 sp_sqlite_param_scope(struct sp_sqlite *, const char *,
	    struct sp_profile *);
int	 sp_sqlite_profile(struct sp_sqlite *, const char *, const char *,
	    struct sp_profile *);
int	 sp_sqlite_report_add(struct sp_sqlite *, const char *, time_t,
	    const char *, const char *, size_t, const struct sp_profile *);
int	 sp_sqlite_report_last(struct sp_sqlite *, const char *, time_t *,
	    struct sp_buf *);
int	 sp_sqlite_audit_append(struct sp_sqlite *, const struct sp_audit *);
int	 sp_sqlite_audit_list(struct sp_sqlite *, size_t,
	    int (*)(void *, int64_t, const struct sp_audit *), void *);
int	 sp_sqlite_audit_verify(struct sp_sqlite *, int64_t *);
int	 sp_sqlite_blob_get(struct sp_sqlite *, const char *, struct sp_buf *,
	    int64_t *);
int	 sp_sqlite_blob_put(struct sp_sqlite *, const char *, const void *,
	    size_t);

/* ----------------------------------------- PostgreSQL (store_pg.c) */

struct sp_pg;

struct sp_pg *sp_pg_open(const char *url, struct sp_err *);
void	 sp_pg_close(struct sp_pg *);
const char *sp_pg_error(const struct sp_pg *);
int	 sp_pg_begin(struct sp_pg *);
int	 sp_pg_commit(struct sp_pg *);
void	 sp_pg_rollback(struct sp_pg *);
int	 sp_pg_generation(struct sp_pg *, uint64_t *);
int	 sp_pg_device_get(struct sp_pg *, const char *, struct sp_device *);
int	 sp_pg_device_put(struct sp_pg *, const char *, const char *,
	    const char *);
int	 sp_pg_device_state(struct sp_pg *, const char *, enum sp_dev_state);
int	 sp_pg_device_delete(struct sp_pg *, const char *);
int	 sp_pg_device_list(struct sp_pg *,
	    int (*)(void *, const struct sp_device *), void *);
int	 sp_pg_device_seen(struct sp_pg *, const char *, time_t, const char *,
	    const char *, const char *, const char *);
int	 sp_pg_group_set(struct sp_pg *, const char *, const char *const *,
	    size_t);
int	 sp_pg_group_get(struct sp_pg *, const char *,
	    char [][SP_GROUP_NAME_MAX + 1], size_t, size_t *);
int	 sp_pg_param_set(struct sp_pg *, const char *, const char *,
	    const char *, enum sp_ua);
int	 sp_pg_param_unset(struct sp_pg *, const char *, const char *);
int	 sp_pg_param_scope(struct sp_pg *, const char *, struct sp_profile *);
int	 sp_pg_profile(struct sp_pg *, const char *, const char *,
	    struct sp_profile *);
int	 sp_pg_report_add(struct sp_pg *, const char *, time_t, const char *,
	    const char *, size_t, const struct sp_profile *);
int	 sp_pg_report_last(struct sp_pg *, const char *, time_t *,
	    struct sp_buf *);
int	 sp_pg_audit_append(struct sp_pg *, const struct sp_audit *);
int	 sp_pg_audit_list(struct sp_pg *, size_t,
	    int (*)(void *, int64_t, const struct sp_audit *), void *);
int	 sp_pg_audit_verify(struct sp_pg *, int64_t *);
int	 sp_pg_blob_get(struct sp_pg *, const char *, struct sp_buf *,
	    int64_t *);
int	 sp_pg_blob_put(struct sp_pg *, const char *, const void *, size_t);
int	 sp_pg_watch(struct sp_pg *, int *fd);
int	 sp_pg_changes(struct sp_pg *, unsigned *what, int *fd);

#endif
