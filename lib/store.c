/*
 * The store's front: sp_store_open() picks the backend from the URL and
 * every public call goes to it.  And the parts that do not depend on a
 * backend: what a scope, a
 * group name and a MAC look like, how untrusted strings are quoted into
 * error messages and cut to their column sizes, and how an audit entry is
 * hashed into the chain.  Every backend (store_sqlite.c, store_pg.c)
 * validates with these before it touches its database, and must
 * hash audit entries with sp_store_audit_hash() so that a trail moved
 * between backends still verifies.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "sprov/err.h"
#include "sprov/limits.h"
#include "sprov/mac.h"
#include "sprov/profile.h"
#include "sprov/store.h"
#include "sprov/str.h"

#include "store-int.h"

/* Characters of a model or group name, besides letters and digits. */
#define NAME_EXTRA	"._-"
/* Bytes of an untrusted string shown in an error message. */
#define QUOTE_SHOWN	80
/* Domain separation: a v2 serialisation must never collide with v1. */
#define AUDIT_DOMAIN	"sprov-audit-v1"

/* A model or group name: 1 to SP_GROUP_NAME_MAX of [A-Za-z0-9._-]. */
bool
sp_store_name_ok(const char *s, size_t len)
{
	return len >= 1 && len <= SP_GROUP_NAME_MAX &&
	    sp_str_charset(s, len, NAME_EXTRA);
}

/*
 * Copies an untrusted string into dst for an error message: printable
 * ASCII as is (backslash and quote escaped), anything else as \xNN, cut
 * after QUOTE_SHOWN bytes with "...".  dst is always NUL-terminated.
 */
void
sp_store_quote(char *dst, size_t dstsz, const char *s)
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsz == 0)
		return;
	if (s == NULL)
		s = "(null)";
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == QUOTE_SHOWN) {
			if (o + 3 < dstsz) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = (char)c;
		} else if (c == '\\' || c == '\'') {
			if (o + 2 >= dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hx[c >> 4];
			dst[o++] = hx[c & 0xf];
		}
	}
	dst[o] = '\0';
}

int
sp_store_mac_check(const char *mac, struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];

	if (mac == NULL)
		return sp_err_set(err, "MAC missing");
	if (!sp_mac_is_normal(mac, strnlen(mac, SP_MAC_HEXLEN + 1))) {
		sp_store_quote(q, sizeof(q), mac);
		return sp_err_set(err, "MAC '%s': expected 12 lower-case hex "
		    "digits", q);
	}
	return 0;
}

/*
 * The length to keep of s so that it fits max bytes without splitting a
 * UTF-8 sequence: when a cut is needed, continuation bytes (10xxxxxx) at
 * the cut are dropped together with the lead byte they belong to.  Bytes
 * that are not UTF-8 are kept as bytes (the store does not repair them).
 */
size_t
sp_store_cut(const char *s, size_t max)
{
	size_t len = strnlen(s, max + 1), n = max;
	int k;

	if (len <= max)
		return len;
	/*
	 * s[n] is the first byte dropped: while it continues a sequence,
	 * move the cut back (at most 3 bytes, the longest continuation).
	 */
	for (k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80;
	    k++)
		n--;
	if (((unsigned char)s[n] & 0xc0) == 0x80)
		n = max;	/* not UTF-8 here: a plain byte cut */
	return n;
}

static int
hash_u64(EVP_MD_CTX *c, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return EVP_DigestUpdate(c, b, sizeof(b));
}

/*
 * The hash of one audit entry, hex into out (65 bytes):
 *
 *	SHA-256( "sprov-audit-v1" 0x00 || prev (64 hex bytes) ||
 *	    u64 seq || u64 when || u64 status || u64 nfields ||
 *	    for each field: 0x00 (NULL) | 0x01 u64 length bytes )
 *
 * Integers are big-endian.  Every variable-length part carries its length
 * and NULL differs from "", so no two different entries serialise alike.
 * Fields are passed with lengths (not NUL-terminated) so that a value
 * edited to carry a NUL cannot hash like its prefix.
 */
int
sp_store_audit_hash(const char *prev, int64_t seq, int64_t when,
    int64_t status, const char *const *f, const size_t *flen, size_t nf,
    char *out)
{
	unsigned char md[32], tag;
	unsigned int mdlen = 0;
	EVP_MD_CTX *c;
	size_t i;
	int ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, AUDIT_DOMAIN, sizeof(AUDIT_DOMAIN)) == 1 &&
	    EVP_DigestUpdate(c, prev, 64) == 1 &&
	    hash_u64(c, (uint64_t)seq) == 1 &&
	    hash_u64(c, (uint64_t)when) == 1 &&
	    hash_u64(c, (uint64_t)status) == 1 &&
	    hash_u64(c, (uint64_t)nf) == 1;
	for (i = 0; ok && i < nf; i++) {
		tag = f[i] == NULL ? 0 : 1;
		ok = EVP_DigestUpdate(c, &tag, 1) == 1;
		if (ok && f[i] != NULL)
			ok = hash_u64(c, (uint64_t)flen[i]) == 1 &&
			    EVP_DigestUpdate(c, f[i], flen[i]) == 1;
	}
	if (ok)
		ok = EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	sp_str_hex(out, md, sizeof(md));
	return 0;
}

int
sp_store_scope_check(const char *scope, struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];
	size_t len;

	if (scope == NULL)
		return sp_err_set(err, "scope missing");
	len = strnlen(scope, SP_SCOPE_MAX + 1);
	sp_store_quote(q, sizeof(q), scope);
	if (strcmp(scope, "default") == 0)
		return 0;
	if (strncmp(scope, "model:", 6) == 0 ||
	    strncmp(scope, "group:", 6) == 0) {
		if (!sp_store_name_ok(scope + 6, len - 6))
			return sp_err_set(err, "scope '%s': a %.5s name is 1 "
			    "to %d of A-Z a-z 0-9 . _ -", q, scope,
			    SP_GROUP_NAME_MAX);
		return 0;
	}
	if (strncmp(scope, "device:", 7) == 0) {
		if (!sp_mac_is_normal(scope + 7, len - 7))
			return sp_err_set(err, "scope '%s': a device is named "
			    "by its MAC, 12 lower-case hex digits", q);
		return 0;
	}
	return sp_err_set(err, "scope '%s': expected default, model:, group: "
	    "or device:", q);
}

int
sp_store_blob_name_check(const char *name, struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];
	size_t len;

	if (name == NULL)
		return sp_err_set(err, "blob name missing");
	len = strnlen(name, SP_STORE_BLOB_NAME_MAX + 1);
	if (len >= 1 && len <= SP_STORE_BLOB_NAME_MAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len)
		return 0;
	sp_store_quote(q, sizeof(q), name);
	return sp_err_set(err, "blob name '%s': expected 1 to %d of a-z 0-9 _ -",
	    q, SP_STORE_BLOB_NAME_MAX);
}

void
sp_store_url_shown(char *dst, size_t n, const char *url)
{
	const char *p, *at;
	char tmp[1024];

	if ((p = strstr(url, "://")) != NULL &&
	    (at = strchr(p + 3, '@')) != NULL &&
	    strcspn(p + 3, "/") > (size_t)(at - (p + 3))) {
		snprintf(tmp, sizeof(tmp), "%.*s***%s", (int)(p + 3 - url), url,
		    at);
		sp_store_quote(dst, n, tmp);
	} else
		sp_store_quote(dst, n, url);
}

/*
 * Checks of what callers pass, the same in every backend (they run before
 * any database work).  Each returns 0, or -1 with the reason in err.
 */
int
sp_store_param_name_check(const char *name, struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];

	if (name == NULL)
		return sp_err_set(err, "parameter name missing");
	if (!sp_param_name_ok(name, strnlen(name, SP_PARAM_NAME_MAX + 1))) {
		sp_store_quote(q, sizeof(q), name);
		return sp_err_set(err, "parameter name '%s': 1 to %d of "
		    "A-Z a-z 0-9 _, not starting with a digit", q,
		    SP_PARAM_NAME_MAX);
	}
	return 0;
}

int
sp_store_model_check(const char *model, struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];

	if (!sp_store_name_ok(model, strnlen(model, SP_MODEL_MAX + 1))) {
		sp_store_quote(q, sizeof(q), model);
		return sp_err_set(err, "model '%s': 1 to %d of A-Z a-z 0-9 . _ -",
		    q, SP_MODEL_MAX);
	}
	return 0;
}

/* serial: printable, bounded; model: "" or a name. */
int
sp_store_device_fields_check(const char *serial, const char *model,
    struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];
	size_t len;

	len = strnlen(serial, SP_SERIAL_MAX + 1);
	if (len > SP_SERIAL_MAX || !sp_str_printable(serial, len)) {
		sp_store_quote(q, sizeof(q), serial);
		return sp_err_set(err, "serial '%s': at most %d printable "
		    "ASCII characters", q, SP_SERIAL_MAX);
	}
	if (model[0] != '\0' && sp_store_model_check(model, err) == -1)
		return -1;
	return 0;
}

/* A contact's certificate serial and ETag (NULL: none). */
int
sp_store_seen_check(const char *cert_serial, const char *etag,
    struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];
	size_t len;

	if (cert_serial != NULL) {
		len = strnlen(cert_serial, STORE_CERT_SERIAL_MAX + 1);
		if (len > STORE_CERT_SERIAL_MAX ||
		    !sp_str_printable(cert_serial, len)) {
			sp_store_quote(q, sizeof(q), cert_serial);
			return sp_err_set(err, "certificate serial '%s': at most "
			    "%d printable ASCII characters", q,
			    STORE_CERT_SERIAL_MAX);
		}
	}
	if (etag != NULL) {
		len = strnlen(etag, SP_ETAG_MAX + 1);
		if (len > SP_ETAG_MAX || !sp_str_printable(etag, len)) {
			sp_store_quote(q, sizeof(q), etag);
			return sp_err_set(err, "ETag '%s': at most %d printable "
			    "ASCII characters", q, SP_ETAG_MAX);
		}
	}
	return 0;
}

/* A device's ordered groups: each a name, none twice, at most so many. */
int
sp_store_groups_check(const char *mac, const char *const *groups, size_t n,
    struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];
	size_t i, j;

	if (n > SP_GROUPS_PER_DEVICE)
		return sp_err_set(err, "device %s: %zu groups, at most %d", mac,
		    n, SP_GROUPS_PER_DEVICE);
	if (n > 0 && groups == NULL)
		return sp_err_set(err, "groups missing");
	for (i = 0; i < n; i++) {
		if (groups[i] == NULL || !sp_store_name_ok(groups[i],
		    strnlen(groups[i], SP_GROUP_NAME_MAX + 1))) {
			sp_store_quote(q, sizeof(q), groups[i]);
			return sp_err_set(err, "group '%s': 1 to %d of A-Z a-z "
			    "0-9 . _ -", q, SP_GROUP_NAME_MAX);
		}
		for (j = 0; j < i; j++)
			if (strcmp(groups[i], groups[j]) == 0)
				return sp_err_set(err, "group '%s' listed "
				    "twice", groups[i]);
	}
	return 0;
}

int
sp_store_report_check(const char *kind, const char *body, size_t len,
    struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];
	size_t n;

	if (kind == NULL || (n = strnlen(kind, STORE_KIND_MAX + 1)) >
	    STORE_KIND_MAX || n == 0 || !sp_str_charset(kind, n, "._-")) {
		sp_store_quote(q, sizeof(q), kind);
		return sp_err_set(err, "report kind '%s': 1 to %d of A-Z a-z "
		    "0-9 . _ -", q, STORE_KIND_MAX);
	}
	if (len > SP_REPORT_MAX)
		return sp_err_set(err, "report of %zu bytes: at most %d", len,
		    SP_REPORT_MAX);
	if (body == NULL && len > 0)
		return sp_err_set(err, "report body missing");
	return 0;
}

/* An audit entry: an event name, and a MAC when there is one. */
int
sp_store_audit_check(const struct sp_audit *a, struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];
	size_t n;

	if (a == NULL)
		return sp_err_set(err, "audit entry missing");
	n = a->event != NULL ? strnlen(a->event, STORE_EVENT_MAX + 1) : 0;
	if (n == 0 || n > STORE_EVENT_MAX ||
	    !sp_str_charset(a->event, n, "._-")) {
		sp_store_quote(q, sizeof(q), a->event);
		return sp_err_set(err, "audit event '%s': 1 to %d of A-Z a-z "
		    "0-9 . _ -", q, STORE_EVENT_MAX);
	}
	if (a->mac != NULL && sp_store_mac_check(a->mac, err) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ dispatch */

struct sp_store {
	struct sp_sqlite	*sq;
	struct sp_pg		*pg;
};

#define SCHEME_SQLITE	"sqlite:"

static bool
is_pg(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0;
}

struct sp_store *
sp_store_open(const char *url, struct sp_err *err)
{
	struct sp_store *s;
	char shown[400];

	if (url == NULL) {
		sp_err_set(err, "store URL missing");
		return NULL;
	}
	if (strncmp(url, SCHEME_SQLITE, strlen(SCHEME_SQLITE)) != 0 &&
	    !is_pg(url)) {
		sp_store_url_shown(shown, sizeof(shown), url);
		sp_err_set(err, "store URL '%s': unsupported scheme "
		    "(supported: sqlite:PATH, postgresql://[user@]host[:port]"
		    "/dbname[?param=value...])", shown);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	if (is_pg(url))
		s->pg = sp_pg_open(url, err);
	else
		s->sq = sp_sqlite_open(url, err);
	if (s->pg == NULL && s->sq == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
sp_store_close(struct sp_store *s)
{
	if (s == NULL)
		return;
	sp_pg_close(s->pg);
	sp_sqlite_close(s->sq);
	free(s);
}

const char *
sp_store_error(const struct sp_store *s)
{
	if (s == NULL)
		return "no store";
	return s->pg != NULL ? sp_pg_error(s->pg) : sp_sqlite_error(s->sq);
}

const char *
sp_store_backend(const struct sp_store *s)
{
	return s->pg != NULL ? "postgresql" : "sqlite";
}

/* The same call on whichever backend is open. */
#define CALL(s, fn, ...) ((s)->pg != NULL ? sp_pg_##fn((s)->pg, __VA_ARGS__) \
	: sp_sqlite_##fn((s)->sq, __VA_ARGS__))
#define CALL0(s, fn) ((s)->pg != NULL ? sp_pg_##fn((s)->pg) \
	: sp_sqlite_##fn((s)->sq))

int
sp_store_begin(struct sp_store *s)
{
	return CALL0(s, begin);
}

int
sp_store_commit(struct sp_store *s)
{
	return CALL0(s, commit);
}

void
sp_store_rollback(struct sp_store *s)
{
	if (s->pg != NULL)
		sp_pg_rollback(s->pg);
	else
		sp_sqlite_rollback(s->sq);
}

int
sp_store_generation(struct sp_store *s, uint64_t *out)
{
	return CALL(s, generation, out);
}

int
sp_store_device_get(struct sp_store *s, const char *mac, struct sp_device *d)
{
	return CALL(s, device_get, mac, d);
}

int
sp_store_device_put(struct sp_store *s, const char *mac, const char *serial,
    const char *model)
{
	return CALL(s, device_put, mac, serial, model);
}

int
sp_store_device_state(struct sp_store *s, const char *mac,
    enum sp_dev_state state)
{
	return CALL(s, device_state, mac, state);
}

int
sp_store_device_delete(struct sp_store *s, const char *mac)
{
	return CALL(s, device_delete, mac);
}

int
sp_store_device_list(struct sp_store *s,
    int (*fn)(void *, const struct sp_device *), void *arg)
{
	return CALL(s, device_list, fn, arg);
}

int
sp_store_device_seen(struct sp_store *s, const char *mac, time_t when,
    const char *ip, const char *user_agent, const char *cert_serial,
    const char *etag)
{
	return CALL(s, device_seen, mac, when, ip, user_agent, cert_serial,
	    etag);
}

int
sp_store_group_set(struct sp_store *s, const char *mac,
    const char *const *groups, size_t n)
{
	return CALL(s, group_set, mac, groups, n);
}

int
sp_store_group_get(struct sp_store *s, const char *mac,
    char groups[][SP_GROUP_NAME_MAX + 1], size_t max, size_t *n)
{
	return CALL(s, group_get, mac, groups, max, n);
}

int
sp_store_param_set(struct sp_store *s, const char *scope, const char *name,
    const char *value, enum sp_ua ua)
{
	return CALL(s, param_set, scope, name, value, ua);
}

int
sp_store_param_unset(struct sp_store *s, const char *scope, const char *name)
{
	return CALL(s, param_unset, scope, name);
}

int
sp_store_param_scope(struct sp_store *s, const char *scope,
    struct sp_profile *prof)
{
	return CALL(s, param_scope, scope, prof);
}

int
sp_store_profile(struct sp_store *s, const char *mac, const char *model,
    struct sp_profile *prof)
{
	return CALL(s, profile, mac, model, prof);
}

int
sp_store_report_add(struct sp_store *s, const char *mac, time_t when,
    const char *kind, const char *body, size_t len,
    const struct sp_profile *parsed)
{
	return CALL(s, report_add, mac, when, kind, body, len, parsed);
}

int
sp_store_report_last(struct sp_store *s, const char *mac, time_t *when,
    struct sp_buf *body)
{
	return CALL(s, report_last, mac, when, body);
}

int
sp_store_audit_append(struct sp_store *s, const struct sp_audit *a)
{
	return CALL(s, audit_append, a);
}

int
sp_store_audit_list(struct sp_store *s, size_t last,
    int (*fn)(void *, int64_t, const struct sp_audit *), void *arg)
{
	return CALL(s, audit_list, last, fn, arg);
}

int
sp_store_audit_verify(struct sp_store *s, int64_t *bad)
{
	return CALL(s, audit_verify, bad);
}

int
sp_store_blob_get(struct sp_store *s, const char *name, struct sp_buf *out,
    int64_t *version)
{
	return CALL(s, blob_get, name, out, version);
}

int
sp_store_blob_put(struct sp_store *s, const char *name, const void *body,
    size_t len)
{
	return CALL(s, blob_put, name, body, len);
}

int
sp_store_local_dir(const char *url, char *dir, size_t n, struct sp_err *err)
{
	PQconninfoOption *opts, *o;
	char *msg = NULL, tmp[PATH_MAX];
	const char *p;

	dir[0] = '\0';
	if (strncmp(url, SCHEME_SQLITE, strlen(SCHEME_SQLITE)) == 0) {
		p = url + strlen(SCHEME_SQLITE);
		if (snprintf(tmp, sizeof(tmp), "%s", p) >= (int)sizeof(tmp))
			return sp_err_set(err, "store path too long");
		if (realpath(dirname(tmp), dir) == NULL)
			return sp_err_set(err, "store directory of %s: %s", p,
			    strerror(errno));
		return 0;
	}
	if (!is_pg(url))
		return sp_err_set(err, "store URL: unsupported scheme");
	if ((opts = PQconninfoParse(url, &msg)) == NULL) {
		sp_err_set(err, "store URL: %s", msg ? msg : "out of memory");
		PQfreemem(msg);
		return -1;
	}
	/* A socket directory; several hosts: the first one is it. */
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "host") == 0 && o->val != NULL &&
		    o->val[0] == '/')
			snprintf(dir, n, "%.*s", (int)strcspn(o->val, ","),
			    o->val);
	PQconninfoFree(opts);
	return 0;
}

int
sp_store_watch(struct sp_store *s, int *fd)
{
	*fd = -1;
	return s->pg != NULL ? sp_pg_watch(s->pg, fd) : 1;
}

int
sp_store_changes(struct sp_store *s, unsigned *what, int *fd)
{
	if (s->pg == NULL) {
		*fd = -1;
		return 0;
	}
	return sp_pg_changes(s->pg, what, fd);
}
