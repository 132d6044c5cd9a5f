/* sprovd.conf(5): keys, defaults and limits. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sprov/cfg.h"
#include "sprov/str.h"
#include "sprovd/sprovd.h"

static const struct sp_cfg_key schema[] = {
	{ "listen", SP_CFG_REPEAT | SP_CFG_REQUIRED },
	{ "listen_report", 0 },
	{ "admin_listen", SP_CFG_REPEAT },
	{ "admin_ca", SP_CFG_REPEAT },
	{ "cert", SP_CFG_REPEAT | SP_CFG_REQUIRED },
	{ "key", SP_CFG_REPEAT | SP_CFG_REQUIRED },
	{ "client_ca", SP_CFG_REPEAT | SP_CFG_REQUIRED },
	{ "crl", 0 },
	{ "store", 0 },
	{ "firmware_dir", 0 },
	{ "user", 0 },
	{ "prefix", 0 },
	{ "workers", 0 },
	{ "unknown_devices", 0 },
	{ "max_connections", 0 },
	{ "max_header", 0 },
	{ "max_report", 0 },
	{ "timeout_handshake", 0 },
	{ "timeout_request", 0 },
	{ "timeout_idle", 0 },
	{ "insecure_old_versions", SP_CFG_FLAG },
	{ "ticket_keys", 0 },
	{ "session_cache", 0 },
	{ "max_handshakes", 0 },
	{ "store_grace", 0 },
};

static int
num(struct sp_cfg *c, const char *key, uint64_t min, uint64_t max,
    uint64_t def, long *out, struct sp_err *err)
{
	uint64_t v;

	if (sp_cfg_get_u64(c, key, min, max, def, &v) == -1)
		return sp_err_set(err, "%s", sp_cfg_error(c));
	*out = (long)v;
	return 0;
}

#define bad(c, path, key, why) sp_err_set(err, "%s:%zu: %s: %s", (path), \
	sp_cfg_line((c), (key)), (key), (why))

int
conf_load(const char *path, struct sprovd_conf *conf, struct sp_cfg **cfgp,
    struct sp_err *err)
{
	struct sp_cfg *c;
	const char *v;
	size_t idx;
	long n, sessions;

	memset(conf, 0, sizeof(*conf));
	conf->path = path;
	if ((c = sp_cfg_new(schema, sizeof(schema) / sizeof(schema[0]))) ==
	    NULL || sp_cfg_load(c, path) == -1) {
		sp_err_set(err, "%s", c ? sp_cfg_error(c) : "out of memory");
		sp_cfg_free(c);
		return -1;
	}
	*cfgp = c;
	for (idx = 0; (v = sp_cfg_next(c, "listen", &idx)) != NULL;) {
		if (conf->nlisten == SPROVD_MAX_LISTEN)
			return bad(c, path, "listen", "too many listen lines");
		if (strlen(v) >= sizeof(conf->listen[0]))
			return bad(c, path, "listen", "address too long");
		snprintf(conf->listen[conf->nlisten++], sizeof(conf->listen[0]),
		    "%s", v);
	}
	for (idx = 0; (v = sp_cfg_next(c, "admin_listen", &idx)) != NULL;) {
		if (conf->nadmin == SPROVD_MAX_LISTEN)
			return bad(c, path, "admin_listen", "too many lines");
		if (strlen(v) >= sizeof(conf->admin_listen[0]))
			return bad(c, path, "admin_listen", "address too long");
		snprintf(conf->admin_listen[conf->nadmin++],
		    sizeof(conf->admin_listen[0]), "%s", v);
	}
	for (idx = 0; (v = sp_cfg_next(c, "cert", &idx)) != NULL;) {
		if (conf->tls.ncerts == SP_TLS_MAX_CERTS)
			return bad(c, path, "cert", "too many certificates");
		conf->tls.cert[conf->tls.ncerts++] = v;
	}
	n = 0;
	for (idx = 0; (v = sp_cfg_next(c, "key", &idx)) != NULL;) {
		if (n == SP_TLS_MAX_CERTS)
			return bad(c, path, "key", "too many keys");
		conf->tls.key[n++] = v;
	}
	if ((size_t)n != conf->tls.ncerts)
		return bad(c, path, "key", "one key line is needed per cert line, "
		    "in the same order");
	for (idx = 0; (v = sp_cfg_next(c, "client_ca", &idx)) != NULL;) {
		if (conf->tls.nclient_ca == SP_TLS_MAX_CAS)
			return bad(c, path, "client_ca", "too many client CAs");
		conf->tls.client_ca[conf->tls.nclient_ca++] = v;
	}
	/*
	 * "store": the copy every node shares in the store (blobs "crl" and
	 * "ticket_keys"), followed through its change feed.
	 */
	conf->tls.crl = sp_cfg_get(c, "crl");
	if (conf->tls.crl != NULL && strcmp(conf->tls.crl, "store") == 0) {
		conf->crl_store = true;
		conf->tls.crl = NULL;
	}
	conf->tls.ticket_keys = sp_cfg_get(c, "ticket_keys");
	if (conf->tls.ticket_keys != NULL &&
	    strcmp(conf->tls.ticket_keys, "store") == 0) {
		conf->tickets_store = true;
		conf->tls.ticket_keys = NULL;
	}
	/* The admin listener: same server certificates, operators' CAs. */
	conf->admin_tls = conf->tls;
	conf->admin_tls.nclient_ca = 0;
	conf->admin_tls.crl = NULL;
	for (idx = 0; (v = sp_cfg_next(c, "admin_ca", &idx)) != NULL;) {
		if (conf->admin_tls.nclient_ca == SP_TLS_MAX_CAS)
			return bad(c, path, "admin_ca", "too many admin CAs");
		conf->admin_tls.client_ca[conf->admin_tls.nclient_ca++] = v;
	}
	if (conf->nadmin > 0 && conf->admin_tls.nclient_ca == 0)
		return bad(c, path, "admin_listen", "needs admin_ca: the admin "
		    "API takes operators' certificates only");
	conf->tls.insecure_old_versions =
	    sp_cfg_get(c, "insecure_old_versions") != NULL;
	conf->listen_report = sp_cfg_get(c, "listen_report");
	conf->store = sp_cfg_get(c, "store");
	if (conf->store == NULL)
		conf->store = "sqlite:var/sprov.db";
	conf->firmware_dir = sp_cfg_get(c, "firmware_dir");
	conf->user = sp_cfg_get(c, "user");
	v = sp_cfg_get(c, "prefix");
	if (v == NULL)
		conf->live.prefix[0] = '\0';
	else if (v[0] != '/' || v[strlen(v) - 1] == '/' || strlen(v) >= 64 ||
	    !sp_str_charset(v, strlen(v), "/_-."))
		return bad(c, path, "prefix", "must be like /provisioning (no "
		    "trailing '/')");
	else
		snprintf(conf->live.prefix, sizeof(conf->live.prefix), "%s", v);
	v = sp_cfg_get(c, "unknown_devices");
	if (v == NULL || strcmp(v, "reject") == 0)
		conf->live.unknown = UNKNOWN_REJECT;
	else if (strcmp(v, "register") == 0)
		conf->live.unknown = UNKNOWN_REGISTER;
	else
		return bad(c, path, "unknown_devices", "use reject or register");
	if (num(c, "workers", 1, SPROVD_MAX_WORKERS,
	    (uint64_t)sysconf(_SC_NPROCESSORS_ONLN), &conf->workers, err) == -1 ||
	    num(c, "max_connections", 16, 1000000, 20000,
	    &conf->live.max_connections, err) == -1 ||
	    num(c, "max_handshakes", 16, 1000000, 1024,
	    &conf->live.max_handshakes, err) == -1 ||
	    num(c, "max_header", 1024, SP_HTTP_HEAD_MAX, 8192,
	    &conf->live.max_header, err) == -1 ||
	    num(c, "max_report", 1024, SP_REPORT_MAX, 256 * 1024,
	    &conf->live.max_report, err) == -1 ||
	    num(c, "timeout_handshake", 1, 600, 10,
	    &conf->live.timeout_handshake, err) == -1 ||
	    num(c, "timeout_request", 1, 600, 10,
	    &conf->live.timeout_request, err) == -1 ||
	    num(c, "timeout_idle", 1, 3600, 30, &conf->live.timeout_idle, err) == -1 ||
	    num(c, "store_grace", 0, 86400, 60, &conf->live.store_grace,
	    err) == -1 ||
	    num(c, "session_cache", 0, SP_TLS_SESSIONS_MAX,
	    SP_TLS_SESSIONS_DEFAULT, &sessions, err) == -1)
		return -1;
	conf->tls.session_cache = (size_t)sessions;
	return 0;
}

/*
 * Whether the keys a running process cannot change are the same in o and
 * n: listeners, workers, store, user, firmware_dir and (with certs set) the
 * certificate and key files.
 */
int
conf_same_restart_keys(const struct sprovd_conf *o, const struct sprovd_conf *n,
    int certs)
{
	size_t i;
	int same = o->nlisten == n->nlisten && o->nadmin == n->nadmin &&
	    o->workers == n->workers;

	for (i = 0; same && i < o->nlisten; i++)
		same = strcmp(o->listen[i], n->listen[i]) == 0;
	for (i = 0; same && i < o->nadmin; i++)
		same = strcmp(o->admin_listen[i], n->admin_listen[i]) == 0;
	if (certs) {
		same = same && o->tls.ncerts == n->tls.ncerts;
		for (i = 0; same && i < o->tls.ncerts; i++)
			same = strcmp(o->tls.cert[i], n->tls.cert[i]) == 0 &&
			    strcmp(o->tls.key[i], n->tls.key[i]) == 0;
	}
#define SAMESTR(a, b) (((a) == NULL && (b) == NULL) || ((a) != NULL && \
	(b) != NULL && strcmp((a), (b)) == 0))
	same = same && o->crl_store == n->crl_store &&
	    o->tickets_store == n->tickets_store &&
	    SAMESTR(o->store, n->store) &&
	    SAMESTR(o->user, n->user) &&
	    SAMESTR(o->firmware_dir, n->firmware_dir);
#undef SAMESTR
	return same;
}
