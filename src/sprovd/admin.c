/*
 * The admin API (JSON over HTTPS, operators' certificates only), as one
 * function from (method, path, body) to (status, JSON), run by the store
 * writer so that admin changes are ordered with every other write and the
 * event loops never touch the database for them.
 *
 *   GET    /api/v1/status
 *   GET    /api/v1/devices
 *   GET    /api/v1/devices/MAC            (with groups and merged profile)
 *   PUT    /api/v1/devices/MAC            {"model","serial","groups":[...]}
 *   DELETE /api/v1/devices/MAC
 *   POST   /api/v1/devices/MAC/quarantine | /activate
 *   GET    /api/v1/devices/MAC/report
 *   GET    /api/v1/params/SCOPE           SCOPE: default, model/M,
 *   PUT    /api/v1/params/SCOPE/NAME      group/G, device/MAC
 *   DELETE /api/v1/params/SCOPE/NAME      {"value": "...", "ua": "na"}
 *   POST   /api/v1/import                 CSV mac,serial,model (all or none)
 *   GET    /api/v1/audit                  (the last 100 entries)
 *   GET    /api/v1/audit/verify
 *   PUT    /api/v1/crl                    PEM CRLs of the client CAs
 *   GET    /api/v1/crl                    {"version","bytes"}
 *   POST   /api/v1/ticket-keys/rotate     (the keys never leave the store)
 *
 * The CRL and the ticket keys are blobs of the store that every node with
 * "crl store" / "ticket_keys store" follows (see sprovd.conf(5)).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "sprov/csv.h"
#include "sprov/mac.h"
#include "sprov/profile.h"
#include "sprov/store.h"
#include "sprov/str.h"
#include "sprov/tls.h"
#include "sprovd/sprovd.h"

struct reply {
	int		 status;
	json_t		*json;		/* owned */
};

static int
fail(struct reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct reply *r, int status, const char *fmt, ...)
{
	char msg[SP_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(r->json);
	r->status = status;
	r->json = json_pack("{s:s}", "error", msg);
	return -1;
}

static int
store_fail(struct reply *r, struct sp_store *st)
{
	const char *e = sp_store_error(st);

	/* Input the store refused is the client's error; the rest is ours. */
	return fail(r, strncmp(e, "store:", 6) == 0 ? 500 :
	    strstr(e, "unknown device") != NULL ? 404 : 400, "%s", e);
}

static json_t *
device_json(const struct sp_device *d)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, "
	    "s:I, s:s}", "mac", d->mac, "serial", d->serial, "model", d->model,
	    "state", d->state == SP_DEV_ACTIVE ? "active" : "quarantined",
	    "first_seen", (json_int_t)d->first_seen, "last_seen",
	    (json_int_t)d->last_seen, "last_ip", d->last_ip, "user_agent",
	    d->user_agent, "firmware", d->firmware, "etag", d->etag,
	    "last_report", (json_int_t)d->last_report, "cert_serial",
	    d->cert_serial);
}

static int
list_one(void *arg, const struct sp_device *d)
{
	json_t *o = device_json(d);

	return o != NULL && json_array_append_new(arg, o) == 0 ? 0 : -1;
}

static json_t *
profile_json(const struct sp_profile *p)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < sp_profile_count(p); i++) {
		const struct sp_param *pp = sp_profile_at(p, i);

		json_array_append_new(a, json_pack("{s:s, s:s%, s:s}", "name",
		    pp->name, "value", pp->value, pp->valuelen, "ua",
		    sp_ua_name(pp->ua)));
	}
	return a;
}

/* "default", "model/M", "group/G", "device/MAC" -> "model:M" etc. */
static int
scope_of(const char **p, char *scope, size_t sz, struct reply *r)
{
	const char *s = *p, *slash;
	struct sp_err err;
	size_t kl, sl;

	if (strncmp(s, "default", 7) == 0 && (s[7] == '\0' || s[7] == '/')) {
		snprintf(scope, sz, "default");
		*p = s + 7;
	} else {
		if ((slash = strchr(s, '/')) == NULL)
			return fail(r, 404, "expected default, model/M, "
			    "group/G or device/MAC");
		kl = (size_t)(slash - s);
		snprintf(scope, sz, "%.*s:", (int)kl, s);
		s = slash + 1;
		slash = strchr(s, '/');
		kl = slash ? (size_t)(slash - s) : strlen(s);
		sl = strlen(scope);
		if (sl + kl >= sz)
			return fail(r, 400, "scope too long");
		memcpy(scope + sl, s, kl);
		scope[sl + kl] = '\0';
		*p = s + kl;
	}
	if (sp_store_scope_check(scope, &err) == -1)
		return fail(r, 400, "%s", err.msg);
	return 0;
}

static int
params(struct sp_store *st, int method, const char *rest, json_t *in,
    struct reply *r)
{
	char scope[SP_SCOPE_MAX + 8];
	struct sp_profile *p;
	const char *name, *value, *ua = "";
	enum sp_ua u;

	if (scope_of(&rest, scope, sizeof(scope), r) == -1)
		return -1;
	if (rest[0] == '\0' && method == SP_HTTP_GET) {
		if ((p = sp_profile_new()) == NULL)
			return fail(r, 500, "out of memory");
		if (sp_store_param_scope(st, scope, p) == -1) {
			sp_profile_free(p);
			return store_fail(r, st);
		}
		r->json = json_pack("{s:s, s:o}", "scope", scope, "params",
		    profile_json(p));
		sp_profile_free(p);
		return 0;
	}
	if (rest[0] != '/' || rest[1] == '\0')
		return fail(r, 404, "no such route");
	name = rest + 1;
	if (!sp_param_name_ok(name, strlen(name)))
		return fail(r, 400, "bad parameter name");
	if (method == SP_HTTP_DELETE) {
		if (sp_store_param_unset(st, scope, name) == -1)
			return store_fail(r, st);
		r->status = 204;
		return 0;
	}
	if (method != SP_HTTP_PUT)
		return fail(r, 405, "use GET on a scope, PUT or DELETE on a "
		    "parameter");
	if (in == NULL || json_unpack(in, "{s:s, s?:s}", "value", &value,
	    "ua", &ua) == -1)
		return fail(r, 400, "expected {\"value\": \"...\", "
		    "\"ua\": \"na|ro|rw\"}");
	if (sp_ua_parse(ua, &u) == -1)
		return fail(r, 400, "ua must be na, ro, rw or empty");
	if (sp_store_param_set(st, scope, name, value, u) == -1)
		return store_fail(r, st);
	r->json = json_pack("{s:s, s:s, s:s, s:s}", "scope", scope, "name",
	    name, "value", value, "ua", ua);
	return 0;
}

static int
device_put(struct sp_store *st, const char *mac, json_t *in,
    struct reply *r)
{
	const char *model = NULL, *serial = NULL, *groups[SP_GROUPS_PER_DEVICE];
	json_t *ga = NULL, *g;
	size_t i, n = 0;

	if (in != NULL && json_unpack(in, "{s?:s, s?:s, s?:o}", "model",
	    &model, "serial", &serial, "groups", &ga) == -1)
		return fail(r, 400, "expected {\"model\", \"serial\", "
		    "\"groups\": [...]}");
	if (ga != NULL) {
		if (!json_is_array(ga) || json_array_size(ga) >
		    SP_GROUPS_PER_DEVICE)
			return fail(r, 400, "groups: an array of at most %d "
			    "names", SP_GROUPS_PER_DEVICE);
		json_array_foreach(ga, i, g) {
			if (!json_is_string(g))
				return fail(r, 400, "groups: names are strings");
			groups[n++] = json_string_value(g);
		}
	}
	if (sp_store_begin(st) == -1 ||
	    sp_store_device_put(st, mac, serial, model) == -1 ||
	    (ga != NULL && sp_store_group_set(st, mac, groups, n) == -1) ||
	    sp_store_commit(st) == -1) {
		store_fail(r, st);
		sp_store_rollback(st);
		return -1;
	}
	return 1;		/* show the device */
}

static int
device_show(struct sp_store *st, const char *mac, struct reply *r)
{
	char groups[SP_GROUPS_PER_DEVICE][SP_GROUP_NAME_MAX + 1];
	struct sp_profile *p;
	struct sp_device d;
	json_t *o, *ga;
	size_t n = 0, i;
	int found;

	if ((found = sp_store_device_get(st, mac, &d)) == -1)
		return store_fail(r, st);
	if (found == 1)
		return fail(r, 404, "unknown device %s", mac);
	if (sp_store_group_get(st, mac, groups, SP_GROUPS_PER_DEVICE,
	    &n) == -1)
		return store_fail(r, st);
	o = device_json(&d);
	ga = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(ga, json_string(groups[i]));
	json_object_set_new(o, "groups", ga);
	if ((p = sp_profile_new()) != NULL &&
	    sp_store_profile(st, mac, d.model, p) == 0)
		json_object_set_new(o, "profile", profile_json(p));
	sp_profile_free(p);
	r->json = o;
	return 0;
}

/*
 * A report body is usually XML, but a phone may send it encrypted
 * (Report_Rule --key): bytes JSON cannot carry go as body_base64.
 */
static json_t *
report_json(const char *mac, time_t when, const struct sp_buf *body)
{
	json_t *j, *b;
	unsigned char *enc;
	size_t n = body->len;

	if ((j = json_pack("{s:s, s:I}", "mac", mac, "time",
	    (json_int_t)when)) == NULL)
		return NULL;
	if ((b = json_stringn(body->data ? body->data : "", n)) != NULL) {
		json_object_set_new(j, "body", b);
		return j;
	}
	if (n > INT_MAX / 4 * 3 - 3 ||
	    (enc = malloc((n + 2) / 3 * 4 + 1)) == NULL) {
		json_decref(j);
		return NULL;
	}
	EVP_EncodeBlock(enc, (const unsigned char *)body->data, (int)n);
	json_object_set_new(j, "body_base64", json_string((char *)enc));
	free(enc);
	return j;
}

static int
devices(struct sp_store *st, int method, const char *rest, json_t *in,
    struct reply *r)
{
	char mac[SP_MAC_HEXLEN + 1];
	struct sp_buf body;
	const char *why, *sub;
	time_t when;
	size_t ml;
	int rc;

	if (rest[0] == '\0') {
		if (method != SP_HTTP_GET)
			return fail(r, 405, "GET lists devices");
		r->json = json_array();
		if (sp_store_device_list(st, list_one, r->json) == -1)
			return store_fail(r, st);
		r->json = json_pack("{s:o}", "devices", r->json);
		return 0;
	}
	rest++;
	sub = strchr(rest, '/');
	ml = sub ? (size_t)(sub - rest) : strlen(rest);
	if (sp_mac_parse(rest, ml, mac, &why) == -1)
		return fail(r, 400, "bad MAC: %s", why);
	if (sub == NULL) {
		if (method == SP_HTTP_GET)
			return device_show(st, mac, r);
		if (method == SP_HTTP_PUT) {
			if ((rc = device_put(st, mac, in, r)) != 1)
				return rc;
			return device_show(st, mac, r);
		}
		if (method == SP_HTTP_DELETE) {
			if (sp_store_device_delete(st, mac) == -1)
				return store_fail(r, st);
			r->status = 204;
			return 0;
		}
		return fail(r, 405, "GET, PUT or DELETE");
	}
	if ((strcmp(sub, "/quarantine") == 0 || strcmp(sub, "/activate") == 0)
	    && method == SP_HTTP_POST) {
		if (sp_store_device_state(st, mac, sub[1] == 'q' ?
		    SP_DEV_QUARANTINED : SP_DEV_ACTIVE) == -1)
			return store_fail(r, st);
		return device_show(st, mac, r);
	}
	if (strcmp(sub, "/report") == 0 && method == SP_HTTP_GET) {
		sp_buf_init(&body, SP_REPORT_MAX + 1);
		rc = sp_store_report_last(st, mac, &when, &body);
		if (rc == 0)
			r->json = report_json(mac, when, &body);
		sp_buf_release(&body);
		if (rc == 1)
			return fail(r, 404, "no report from %s", mac);
		return rc == -1 ? store_fail(r, st) : 0;
	}
	return fail(r, 404, "no such route");
}

static int
import(struct sp_store *st, const char *body, size_t len, struct reply *r)
{
	struct sp_device_row *rows = NULL;
	struct sp_buf errs;
	size_t n = 0, i;
	long nerr;

	sp_buf_init(&errs, 1 << 16);
	nerr = sp_csv_devices("import", body, len, &rows, &n, &errs);
	if (nerr != 0) {
		fail(r, 400, "%ld errors, nothing imported: %s", nerr,
		    errs.data ? errs.data : "out of memory");
		goto out;
	}
	if (sp_store_begin(st) == -1)
		goto dberr;
	for (i = 0; i < n; i++)
		if (sp_store_device_put(st, rows[i].mac, rows[i].serial[0] ?
		    rows[i].serial : NULL, rows[i].model[0] ? rows[i].model :
		    NULL) == -1) {
			sp_store_rollback(st);
			goto dberr;
		}
	if (sp_store_commit(st) == -1) {
		sp_store_rollback(st);
		goto dberr;
	}
	r->json = json_pack("{s:I}", "imported", (json_int_t)n);
	goto out;
dberr:
	store_fail(r, st);
out:
	free(rows);
	sp_buf_release(&errs);
	return r->status == 200 ? 0 : -1;
}

static int
audit_one(void *arg, int64_t seq, const struct sp_audit *a)
{
	json_t *o = json_pack("{s:I, s:I, s:s, s:s?, s:s?, s:s?, s:s?, s:i, "
	    "s:s?}", "seq", (json_int_t)seq, "time", (json_int_t)a->when,
	    "event", a->event ? a->event : "", "mac", a->mac, "cert_serial",
	    a->cert_serial, "ip", a->ip, "route", a->route, "status",
	    a->status, "etag", a->etag);

	return o != NULL && json_array_append_new(arg, o) == 0 ? 0 : -1;
}

struct counts {
	long	total, active, quarantined;
};

static int
count_one(void *arg, const struct sp_device *d)
{
	struct counts *c = arg;

	c->total++;
	if (d->state == SP_DEV_ACTIVE)
		c->active++;
	else
		c->quarantined++;
	return 0;
}

/* PUT /crl: checked against the client CAs, then shared. */
static void
crl_put(struct sp_store *st, const struct admin_env *env, const char *body,
    size_t len, struct reply *r)
{
	struct sp_err err;
	int64_t v = 0;

	if (env == NULL || env->crl_check == NULL) {
		fail(r, 422, "this server cannot check a CRL (no client CA)");
		return;
	}
	if (env->crl_check(env->arg, body, len, &err) == -1) {
		fail(r, 422, "CRL refused: %s", err.msg);
		return;
	}
	if (sp_store_blob_put(st, "crl", body, len) == -1) {
		store_fail(r, st);
		return;
	}
	if (sp_store_blob_get(st, "crl", NULL, &v) == -1)
		v = 0;
	r->status = 200;
	r->json = json_pack("{s:b, s:I, s:I}", "stored", 1, "version",
	    (json_int_t)v, "bytes", (json_int_t)len);
}

static void
crl_get(struct sp_store *st, struct reply *r)
{
	struct sp_buf b;
	int64_t v = 0;
	int rc;

	sp_buf_init(&b, SP_STORE_BLOB_MAX);
	rc = sp_store_blob_get(st, "crl", &b, &v);
	if (rc == -1)
		store_fail(r, st);
	else if (rc == 1)
		fail(r, 404, "the store holds no CRL");
	else
		r->json = json_pack("{s:I, s:I}", "version", (json_int_t)v,
		    "bytes", (json_int_t)b.len);
	sp_buf_release(&b);
}

/* A new ticket key first; the older ones still decrypt (rotation). */
static void
tickets_rotate(struct sp_store *st, struct reply *r)
{
	struct sp_buf old, next;
	struct sp_err err;
	int64_t v = 0;
	int rc;

	sp_buf_init(&old, 64 * 1024);
	sp_buf_init(&next, 64 * 1024);
	old.secret = next.secret = 1;
	if (sp_store_begin(st) == -1) {
		store_fail(r, st);
		goto out;
	}
	rc = sp_store_blob_get(st, "ticket_keys", &old, NULL);
	if (rc == -1 || (rc == 0 ? sp_tls_ticket_keys_next(old.data, old.len,
	    &next, &err) : sp_tls_ticket_keys_next(NULL, 0, &next, &err)) ==
	    -1) {
		if (rc == -1)
			store_fail(r, st);
		else
			fail(r, 422, "the ticket keys in the store: %s",
			    err.msg);
		sp_store_rollback(st);
		goto out;
	}
	if (sp_store_blob_put(st, "ticket_keys", next.data, next.len) == -1 ||
	    sp_store_commit(st) == -1) {
		store_fail(r, st);
		sp_store_rollback(st);
		goto out;
	}
	if (sp_store_blob_get(st, "ticket_keys", NULL, &v) == -1)
		v = 0;
	r->json = json_pack("{s:b, s:I}", "rotated", 1, "version",
	    (json_int_t)v);
out:
	sp_buf_release(&old);
	sp_buf_release(&next);
}

int
admin_exec(struct sp_store *st, const struct admin_env *env, int method,
    const char *path, const char *body, size_t len, int *status, char **out,
    size_t *outlen)
{
	struct reply r = { 200, NULL };
	struct counts cnt = { 0, 0, 0 };
	json_error_t jerr;
	json_t *in = NULL;
	int64_t bad = 0;

	*out = NULL;
	*outlen = 0;
	if (len > 0 && strcmp(path, "/import") != 0 &&
	    strcmp(path, "/crl") != 0 &&
	    (in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL)
		fail(&r, 400, "body: %s (line %d)", jerr.text, jerr.line);
	else if (strncmp(path, "/devices", 8) == 0 &&
	    (path[8] == '\0' || path[8] == '/'))
		devices(st, method, path + 8, in, &r);
	else if (strncmp(path, "/params/", 8) == 0)
		params(st, method, path + 8, in, &r);
	else if (strcmp(path, "/import") == 0 && method == SP_HTTP_POST)
		import(st, body, len, &r);
	else if (strcmp(path, "/audit") == 0 && method == SP_HTTP_GET) {
		/* The last 100 entries; the chain itself: /audit/verify. */
		r.json = json_array();
		if (sp_store_audit_list(st, 100, audit_one, r.json) == -1)
			store_fail(&r, st);
		else
			r.json = json_pack("{s:o}", "entries", r.json);
	} else if (strcmp(path, "/audit/verify") == 0 && method == SP_HTTP_GET) {
		if (sp_store_audit_verify(st, &bad) == 0)
			r.json = json_pack("{s:b}", "ok", 1);
		else
			r.json = json_pack("{s:b, s:I, s:s}", "ok", 0,
			    "bad_seq", (json_int_t)bad, "error",
			    sp_store_error(st));
	} else if (strcmp(path, "/crl") == 0 && method == SP_HTTP_PUT)
		crl_put(st, env, body, len, &r);
	else if (strcmp(path, "/crl") == 0 && method == SP_HTTP_GET)
		crl_get(st, &r);
	else if (strcmp(path, "/ticket-keys/rotate") == 0 &&
	    method == SP_HTTP_POST)
		tickets_rotate(st, &r);
	else if (strcmp(path, "/status") == 0 && method == SP_HTTP_GET) {
		if (sp_store_device_list(st, count_one, &cnt) == -1)
			store_fail(&r, st);
		else
			r.json = json_pack("{s:I, s:I, s:I}", "devices",
			    (json_int_t)cnt.total, "active",
			    (json_int_t)cnt.active, "quarantined",
			    (json_int_t)cnt.quarantined);
	} else
		fail(&r, 404, "no such route");
	json_decref(in);
	*status = r.status;
	if (r.json != NULL) {
		*out = json_dumps(r.json, JSON_INDENT(1) | JSON_SORT_KEYS);
		*outlen = *out ? strlen(*out) : 0;
		json_decref(r.json);
	}
	return 0;
}
