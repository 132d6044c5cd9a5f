/* Placeholder while the PostgreSQL backend is written: refuses to open. */
#include <stddef.h>
#include "store-int.h"

struct sp_pg { int unused; };

struct sp_pg *
sp_pg_open(const char *url, struct sp_err *err)
{
	(void)url;
	sp_err_set(err, "postgresql: not built yet");
	return NULL;
}
void sp_pg_close(struct sp_pg *s) { (void)s; }
const char *sp_pg_error(const struct sp_pg *s) { (void)s; return "x"; }
int sp_pg_begin(struct sp_pg *s) { (void)s; return -1; }
int sp_pg_commit(struct sp_pg *s) { (void)s; return -1; }
void sp_pg_rollback(struct sp_pg *s) { (void)s; }
int sp_pg_generation(struct sp_pg *s, uint64_t *g) { (void)s; (void)g; return -1; }
int sp_pg_device_get(struct sp_pg *s, const char *m, struct sp_device *d) { (void)s; (void)m; (void)d; return -1; }
int sp_pg_device_put(struct sp_pg *s, const char *m, const char *a, const char *b) { (void)s; (void)m; (void)a; (void)b; return -1; }
int sp_pg_device_state(struct sp_pg *s, const char *m, enum sp_dev_state st) { (void)s; (void)m; (void)st; return -1; }
int sp_pg_device_delete(struct sp_pg *s, const char *m) { (void)s; (void)m; return -1; }
int sp_pg_device_list(struct sp_pg *s, int (*fn)(void *, const struct sp_device *), void *a) { (void)s; (void)fn; (void)a; return -1; }
int sp_pg_device_seen(struct sp_pg *s, const char *m, time_t w, const char *a, const char *b, const char *c, const char *d) { (void)s; (void)m; (void)w; (void)a; (void)b; (void)c; (void)d; return -1; }
int sp_pg_group_set(struct sp_pg *s, const char *m, const char *const *g, size_t n) { (void)s; (void)m; (void)g; (void)n; return -1; }
int sp_pg_group_get(struct sp_pg *s, const char *m, char g[][SP_GROUP_NAME_MAX + 1], size_t x, size_t *n) { (void)s; (void)m; (void)g; (void)x; (void)n; return -1; }
int sp_pg_param_set(struct sp_pg *s, const char *a, const char *b, const char *c, enum sp_ua u) { (void)s; (void)a; (void)b; (void)c; (void)u; return -1; }
int sp_pg_param_unset(struct sp_pg *s, const char *a, const char *b) { (void)s; (void)a; (void)b; return -1; }
int sp_pg_param_scope(struct sp_pg *s, const char *a, struct sp_profile *p) { (void)s; (void)a; (void)p; return -1; }
int sp_pg_profile(struct sp_pg *s, const char *a, const char *b, struct sp_profile *p) { (void)s; (void)a; (void)b; (void)p; return -1; }
int sp_pg_report_add(struct sp_pg *s, const char *m, time_t w, const char *k, const char *b, size_t l, const struct sp_profile *p) { (void)s; (void)m; (void)w; (void)k; (void)b; (void)l; (void)p; return -1; }
int sp_pg_report_last(struct sp_pg *s, const char *m, time_t *w, struct sp_buf *b) { (void)s; (void)m; (void)w; (void)b; return -1; }
int sp_pg_audit_append(struct sp_pg *s, const struct sp_audit *a) { (void)s; (void)a; return -1; }
int sp_pg_audit_list(struct sp_pg *s, size_t n, int (*fn)(void *, int64_t, const struct sp_audit *), void *a) { (void)s; (void)n; (void)fn; (void)a; return -1; }
int sp_pg_audit_verify(struct sp_pg *s, int64_t *b) { (void)s; (void)b; return -1; }
int sp_pg_blob_get(struct sp_pg *s, const char *n, struct sp_buf *b, int64_t *v) { (void)s; (void)n; (void)b; (void)v; return -1; }
int sp_pg_blob_put(struct sp_pg *s, const char *n, const void *b, size_t l) { (void)s; (void)n; (void)b; (void)l; return -1; }
int sp_pg_watch(struct sp_pg *s, int *fd) { (void)s; *fd = -1; return -1; }
int sp_pg_changes(struct sp_pg *s, unsigned *w, int *fd) { (void)s; (void)w; *fd = -1; return -1; }
