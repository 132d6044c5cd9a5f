/*
 * sprov-agent: the phone's side of provisioning.  This file parses the
 * command line and runs a command; see sprov-agent(8).
 *
 * State directory (-s DIR, default ./agent):
 *   identity.crt, identity.key (0600)	the device's certificate and key
 *   trust.pem				the server-CA root (+ a provider CA)
 *   params.xml (0600)			every parameter, flat-profile XML,
 *					replaced atomically
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "sprov/cfg.h"
#include "sprov/est.h"
#include "sprov/fetch.h"
#include "sprov/fsutil.h"
#include "sprov/macro.h"
#include "sprov/profile.h"
#include "sprov/rule.h"
#include "sprov/sched.h"
#include "sprov/str.h"
#include "sprov/x509.h"
#include "sprov-agent/agent.h"

/* The reference's defaults (section 3.1), for a fresh state. */
static const char *const defaults[][2] = {
	{ "Provision_Enable", "Yes" },
	{ "Resync_On_Reset", "Yes" },
	{ "Resync_Random_Delay", "2" },
	{ "Resync_Periodic", "3600" },
	{ "Resync_Error_Retry_Delay", "60,120,240,480,960,1920,3840,7680,"
	    "15360,30720,61440,86400" },
	{ "Resync_Fails_On_FNF", "Yes" },
	{ "Profile_Rule", "/$PSN.xml" },
	{ "Profile_Rule_B", "" },
	{ "Profile_Rule_C", "" },
	{ "Profile_Rule_D", "" },
	{ "Log_Request_Msg", "$PN $MAC -- Requesting resync "
	    "$SCHEME://$SERVIP:$PORT$PATH" },
	{ "Log_Success_Msg", "$PN $MAC -- Successful resync "
	    "$SCHEME://$SERVIP:$PORT$PATH" },
	{ "Log_Failure_Msg", "$PN $MAC -- Resync failed: $ERR" },
	{ "Primary_DNS", "" },
	{ "Report_Rule", "" },
	{ "Custom_CA_Rule", "" },
	{ "Upgrade_Enable", "Yes" },
	{ "Upgrade_Rule", "" },
	{ "Downgrade_Rev_Limit", "" },
	{ "Software_Version", "" },
	{ "Custom_CA_Provisioning_Status", "" },
	{ "Custom_CA_Info", "Not Installed" },
	{ "HTTP_Report_Method", "POST" },
	/* sprov's own (no Cisco phone has them): where and when the device
	 * renews its certificate through EST (sprov-agent(8)). */
	{ "Cert_Renew_Rule", "" },
	{ "Cert_Renew_Days", "30" },
};

struct agent {
	bool			 syslog;	/* run without -d */
	char			 dir[PATH_MAX];
	char			 path[4][PATH_MAX];	/* crt key trust params */
	struct sp_profile	*params;
	struct sp_identity	 id;
	char			 mac_colon[18], mau[13], psn[16];
	/* Context of the current fetch, for $SCHEME $SERV... $ERR. */
	struct sp_url		 url;
	char			 servip[46], port[8], err[SP_ERR_MAX];
	char			 tmp[SP_PARAM_VALUE_MAX + 1];
};

enum { P_CRT, P_KEY, P_TRUST, P_PARAMS };

static int
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sprov-agent: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILED;
}

static const char *
param(struct agent *a, const char *name)
{
	const struct sp_param *p = sp_profile_get(a->params, name);

	return p ? p->value : "";
}

/* Macro values: identity, GPP registers, the current URL, $ERR. */
static const char *
lookup(void *arg, const char *name, size_t len)
{
	struct agent *a = arg;
	char n[32];

	if (len >= sizeof(n))
		return NULL;
	memcpy(n, name, len);
	n[len] = '\0';
	if (strcmp(n, "MA") == 0)
		return a->id.mac;
	if (strcmp(n, "MAU") == 0)
		return a->mau;
	if (strcmp(n, "MAC") == 0)
		return a->mac_colon;
	if (strcmp(n, "PN") == 0)
		return a->id.model;
	if (strcmp(n, "PSN") == 0)
		return a->psn;
	if (strcmp(n, "SN") == 0)
		return a->id.serial;
	if (strcmp(n, "CCERT") == 0)
		return "Installed";
	if (strcmp(n, "SWVER") == 0)
		return param(a, "Software_Version");
	if (strcmp(n, "ERR") == 0)
		return a->err;
	if (strcmp(n, "SCHEME") == 0 || strcmp(n, "METH") == 0)
		return a->url.scheme;
	if (strcmp(n, "SERV") == 0)
		return a->url.host;
	if (strcmp(n, "SERVIP") == 0)
		return a->servip;
	if (strcmp(n, "PORT") == 0)
		return a->port;
	if (strcmp(n, "PATH") == 0)
		return a->url.path;
	if (len == 1 && n[0] >= 'A' && n[0] <= 'P') {
		snprintf(a->tmp, sizeof(a->tmp), "GPP_%c", n[0]);
		snprintf(a->tmp, sizeof(a->tmp), "%s", param(a, a->tmp));
		return a->tmp;
	}
	if (len == 2 && n[0] == 'S' && n[1] >= 'A' && n[1] <= 'D') {
		snprintf(a->tmp, sizeof(a->tmp), "GPP_S%c", n[1]);
		snprintf(a->tmp, sizeof(a->tmp), "%s", param(a, a->tmp));
		return a->tmp;
	}
	return NULL;
}

static int
expand(struct agent *a, const char *in, bool secrets, struct sp_buf *out)
{
	struct sp_macro_ctx ctx = { lookup, a, secrets };

	sp_buf_reset(out);
	if (sp_macro_expand(&ctx, in, strlen(in), out) == -1)
		return -1;
	if (out->data == NULL)
		sp_buf_append(out, "", 0);
	return 0;
}

static int
save(struct agent *a, struct sp_err *err)
{
	struct sp_buf b;
	int rc;

	sp_buf_init(&b, 64L << 20);
	b.secret = 1;
	if (sp_profile_render(a->params, &b) == -1) {
		sp_buf_release(&b);
		return sp_err_set(err, "parameters too large to save");
	}
	rc = sp_fs_write_atomic(a->path[P_PARAMS], b.data, b.len, 0600, err);
	sp_buf_release(&b);
	return rc;
}

/*
 * A crash during an atomic replace leaves its temporary file (which holds
 * parameters, secrets included): the agent is the state's only writer, so
 * any such file at start is a leftover.
 */
static void
remove_leftovers(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "params.xml.tmp-", 15) == 0 ||
		    strncmp(de->d_name, "identity.key.new.tmp-", 21) == 0 ||
		    strncmp(de->d_name, "identity.crt.new.tmp-", 21) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
}

/* An exclusive lock on the state directory (a renewal and a start of
 * another agent on the same state must not interleave); -1 if not had. */
static int
state_lock(struct agent *a, bool wait)
{
	int fd;

	if ((fd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A renewal cut short (install_identity): a certificate waiting beside the
 * key it belongs to is moved into place; anything else left is dropped
 * (the old identity is still whole).
 */
static void
finish_renewal(struct agent *a)
{
	char knew[PATH_MAX], cnew[PATH_MAX];
	struct sp_err err;
	EVP_PKEY *k;
	X509 *x;
	bool pair = false;
	int lk;

	/* Another agent renewing right now: its files, not leftovers. */
	if ((lk = state_lock(a, false)) == -1)
		return;
	snprintf(knew, sizeof(knew), "%s.new", a->path[P_KEY]);
	snprintf(cnew, sizeof(cnew), "%s.new", a->path[P_CRT]);
	unlink(knew);
	if ((x = sp_x509_cert_load(cnew, &err)) == NULL) {
		close(lk);
		return;
	}
	if ((k = sp_x509_key_load(a->path[P_KEY], NULL, &err)) != NULL)
		pair = EVP_PKEY_eq(X509_get0_pubkey(x), k) == 1;
	if (!pair || rename(cnew, a->path[P_CRT]) == -1)
		unlink(cnew);
	else
		sp_fs_sync_dir(a->dir, &err);
	EVP_PKEY_free(k);
	X509_free(x);
	close(lk);
}

static int
load(struct agent *a, const char *dir)
{
	static const char *const names[4] = { "identity.crt", "identity.key",
	    "trust.pem", "params.xml" };
	struct sp_err err;
	size_t len, i;
	char *data;
	X509 *x;

	snprintf(a->dir, sizeof(a->dir), "%s", dir);
	remove_leftovers(dir);
	for (i = 0; i < 4; i++)
		snprintf(a->path[i], sizeof(a->path[i]), "%s/%s", dir,
		    names[i]);
	finish_renewal(a);
	if (sp_fs_check_secret(a->path[P_KEY], &err) == -1 ||
	    sp_fs_read_secret(a->path[P_PARAMS], 64L << 20, &data, &len,
	    &err) == -1)
		return fail("%s (state %s: run 'sprov-agent init' first?)",
		    err.msg, dir);
	a->params = sp_profile_parse(data, len, &err);
	sp_fs_free_secret(data, len);
	if (a->params == NULL)
		return fail("%s: %s", a->path[P_PARAMS], err.msg);
	if ((x = sp_x509_cert_load(a->path[P_CRT], &err)) == NULL)
		return fail("%s", err.msg);
	if (sp_x509_device_identity(x, &a->id, &err) == -1 || a->id.generic) {
		X509_free(x);
		return fail("%s: %s", a->path[P_CRT], a->id.generic ?
		    "a generic certificate identifies no device" : err.msg);
	}
	X509_free(x);
	for (i = 0; i < 12; i++)
		a->mau[i] = (char)(a->id.mac[i] >= 'a' ? a->id.mac[i] - 32 :
		    a->id.mac[i]);
	for (i = 0; i < 6; i++)
		snprintf(a->mac_colon + 3 * i, 4, "%.2s%s", a->id.mac + 2 * i,
		    i < 5 ? ":" : "");
	/* PSN: the model's digits ("CP-8841-3PCC" -> "8841"). */
	for (i = 0; a->id.model[i] != '\0' && (a->id.model[i] < '0' ||
	    a->id.model[i] > '9'); i++)
		;
	snprintf(a->psn, sizeof(a->psn), "%.*s", (int)strspn(a->id.model + i,
	    "0123456789"), a->id.model + i);
	return 0;
}

static int
copy_file(const char *from, const char *to, mode_t mode, bool secret)
{
	struct sp_err err;
	size_t len;
	char *data;
	int rc;

	if ((secret ? sp_fs_read_secret(from, 1 << 20, &data, &len, &err) :
	    sp_fs_read(from, 1 << 20, &data, &len, &err)) == -1)
		return fail("%s", err.msg);
	rc = sp_fs_write_atomic(to, data, len, mode, &err);
	sp_fs_free_secret(data, len);
	if (rc == -1)
		return fail("%s", err.msg);
	return 0;
}

static int
cmd_init(const char *dir, const char *crt, const char *key, const char *ca)
{
	struct agent a;
	struct sp_err err;
	size_t i;

	memset(&a, 0, sizeof(a));
	if (crt == NULL || key == NULL || ca == NULL) {
		fprintf(stderr, "usage: sprov-agent init -s DIR --cert F --key "
		    "F --server-ca F\n");
		return EXIT_USAGE;
	}
	if (sp_fs_mkdirs(dir, 0700, &err) == -1)
		return fail("%s", err.msg);
	snprintf(a.path[P_PARAMS], sizeof(a.path[0]), "%s/params.xml", dir);
	if (access(a.path[P_PARAMS], F_OK) == 0)
		return fail("%s exists: this state is initialised", dir);
	snprintf(a.path[P_CRT], sizeof(a.path[0]), "%s/identity.crt", dir);
	snprintf(a.path[P_KEY], sizeof(a.path[0]), "%s/identity.key", dir);
	snprintf(a.path[P_TRUST], sizeof(a.path[0]), "%s/trust.pem", dir);
	snprintf(a.tmp, sizeof(a.tmp), "%s/server-ca.crt", dir);
	if (copy_file(crt, a.path[P_CRT], 0644, false) ||
	    copy_file(key, a.path[P_KEY], 0600, true) ||
	    copy_file(ca, a.tmp, 0644, false) ||
	    copy_file(ca, a.path[P_TRUST], 0644, false))
		return EXIT_FAILED;
	if ((a.params = sp_profile_new()) == NULL)
		return fail("out of memory");
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		sp_profile_set(a.params, defaults[i][0], defaults[i][1],
		    strlen(defaults[i][1]), SP_UA_NONE);
	if (save(&a, &err) == -1) {
		sp_profile_free(a.params);
		return fail("%s", err.msg);
	}
	sp_profile_free(a.params);
	if (load(&a, dir) != 0)
		return EXIT_FAILED;
	printf("initialised %s for device %s (%s)\n", dir, a.id.mac,
	    a.id.model[0] ? a.id.model : "no model");
	sp_profile_free(a.params);
	return 0;
}

static void
trace_print(void *arg, const char *step, int ok, const char *detail)
{
	(void)arg;
	printf("%-34s %-4s %s\n", step, ok ? "OK" : "FAIL", detail);
	fflush(stdout);
}

static void
fetch_opts(struct agent *a, struct sp_fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cert = a->path[P_CRT];
	o->key = a->path[P_KEY];
	o->trust = a->path[P_TRUST];
	o->dns = param(a, "Primary_DNS");
	o->max_bytes = SP_PROFILE_XML_MAX;
	o->timeout = SP_FETCH_TIMEOUT_S;
}


static void
log_msg(struct agent *a, const char *param_name)
{
	struct sp_buf b;

	sp_buf_init(&b, 4096);
	if (param(a, param_name)[0] != '\0' &&
	    expand(a, param(a, param_name), false, &b) == 0) {
		if (a->syslog)
			syslog(strstr(param_name, "Failure") ? LOG_WARNING :
			    LOG_INFO, "%s", b.data);
		else
			fprintf(stderr, "sprov-agent: %s\n", b.data);
	}
	sp_buf_release(&b);
}

/*
 * The state's agent.conf: what the device's platform tells the agent.
 * install_command: what installs an image; tftp_server: the TFTP server
 * the device's DHCP client learned (option 66/150), used when a rule's
 * URL names no server.  0, 1 when the key is not set, -1 on a bad file.
 */
static int
agent_conf(struct agent *a, const char *key, char *dst, size_t dstsz)
{
	static const struct sp_cfg_key schema[] = {
		{ "install_command", 0 },
		{ "tftp_server", 0 },
	};
	char path[PATH_MAX];
	struct sp_cfg *c;
	const char *v;
	int rc = -1;

	unsigned char v6[16];
	struct stat st;
	int r;

	snprintf(path, sizeof(path), "%s/agent.conf", a->dir);
	if ((c = sp_cfg_new(schema, 2)) == NULL) {
		snprintf(a->err, sizeof(a->err), "out of memory");
		return -1;
	}
	if ((r = stat(path, &st)) == -1 && errno == ENOENT)
		rc = 1;
	else if (r == 0 && ((st.st_mode & 022) != 0 ||
	    (st.st_uid != 0 && st.st_uid != geteuid())))
		/* It names a command the agent runs: only its owner (or
		 * root) may have written it. */
		snprintf(a->err, sizeof(a->err), "%s is writable by others "
		    "or owned by another user: refused", path);
	else if (sp_cfg_load(c, path) == -1)
		snprintf(a->err, sizeof(a->err), "%s", sp_cfg_error(c));
	else if ((v = sp_cfg_get(c, key)) == NULL)
		rc = 1;
	else if (strcmp(key, "tftp_server") == 0 && (v[0] == '\0' ||
	    v[0] == '-' || !sp_str_charset(v, strlen(v), ".-:") ||
	    strlen(v) >= dstsz || (strchr(v, ':') != NULL &&
	    inet_pton(AF_INET6, v, v6) != 1)))
		snprintf(a->err, sizeof(a->err), "%s: tftp_server must be a "
		    "host name or an address", path);
	else {
		snprintf(dst, dstsz, "%s", v);
		rc = 0;
	}
	sp_cfg_free(c);
	return rc;
}

/*
 * A rule's expanded URL made whole into full: the default scheme (tftp)
 * and port, and for a URL that names no server, the TFTP server the
 * device's DHCP gave.  Sets a->url; -1 with a->err set.
 */
static int
whole_url(struct agent *a, const char *in, char *full, size_t fullsz)
{
	struct sp_err err;
	int r;

	if (sp_url_parse(in, &a->url, &err) == -1) {
		snprintf(a->err, sizeof(a->err), "URL %s: %s", in, err.msg);
		return -1;
	}
	if (!a->url.host_given) {
		r = strcmp(a->url.scheme, "tftp") != 0 ? 1 : agent_conf(a,
		    "tftp_server", a->url.host, sizeof(a->url.host));
		if (r == 1)
			snprintf(a->err, sizeof(a->err), "URL %s names no "
			    "server and no DHCP TFTP server is known "
			    "(tftp_server in agent.conf)", in);
		if (r != 0)
			return -1;
	}
	if ((size_t)snprintf(full, fullsz, strchr(a->url.host, ':') ?
	    "%s://[%s]:%u%s" : "%s://%s:%u%s", a->url.scheme, a->url.host,
	    a->url.port, a->url.path) >= fullsz) {
		snprintf(a->err, sizeof(a->err), "URL %s: too long", in);
		return -1;
	}
	return 0;
}

static int
cmd_check(struct agent *a, const char *url)
{
	struct sp_fetch_result res;
	struct sp_fetch_opts o;
	struct sp_rule *rule = NULL;
	const struct sp_rule_alt *alt;
	struct sp_macro_ctx ctx = { lookup, a, false };
	struct sp_err err;
	struct sp_buf u;
	size_t which;
	char full[4096];
	int rc, ok, srv = 0;

	/* A rule ("[--srv] URL") is checked as its chosen URL. */
	if (url[0] == '[' || url[0] == '(') {
		if ((rule = sp_rule_parse(url, strlen(url), &err)) == NULL)
			return fail("rule: %s", err.msg);
		if (sp_rule_select(rule, &ctx, &which, &err) != 0 ||
		    (alt = sp_rule_alt(rule, which))->url == NULL) {
			sp_rule_free(rule);
			return fail("rule: no URL applies");
		}
		url = alt->url;
		srv = alt->srv;
	}
	sp_buf_init(&u, 4096);
	expand(a, url, false, &u);
	sp_rule_free(rule);
	if (whole_url(a, u.data, full, sizeof(full)) == -1) {
		sp_buf_release(&u);
		return fail("%s", a->err);
	}
	fetch_opts(a, &o);
	o.url = full;
	o.srv = srv;
	o.trace = trace_print;
	sp_buf_init(&res.body, o.max_bytes);
	res.body.secret = 1;
	printf("checking %s as device %s\n", u.data, a->id.mac);
	rc = sp_fetch(&o, &res);
	/* TFTP has no status: 0 is its success. */
	ok = rc == 0 && ((res.status >= 200 && res.status < 300) ||
	    (res.status == 0 && strcmp(a->url.scheme, "tftp") == 0));
	if (rc == 0)
		printf("%-34s %-4s HTTP %ld, %zu bytes from %s (CN=%s)\n",
		    "response", ok ? "OK" : "FAIL", res.status, res.body.len,
		    res.server_ip, res.cn[0] ? res.cn : "-");
	else
		printf("%-34s FAIL %s\n", "result", res.err);
	sp_buf_release(&res.body);
	sp_buf_release(&u);
	return ok ? 0 : EXIT_FAILED;
}

/* The key type of the current key, for its successor. */
static enum sp_keytype
same_keytype(EVP_PKEY *k)
{
	char group[64];

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		return EVP_PKEY_get_bits(k) >= 4096 ? SP_KEY_RSA4096 :
		    EVP_PKEY_get_bits(k) >= 3072 ? SP_KEY_RSA3072 :
		    SP_KEY_RSA2048;
	if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), NULL) == 1 &&
	    strcmp(group, "secp384r1") == 0)
		return SP_KEY_EC_P384;
	return SP_KEY_EC_P256;
}

/*
 * The new identity is written next to the old one (identity.key.new,
 * identity.crt.new), then renamed into place key first.  A crash between
 * the two renames leaves a new key with the old certificate and the new
 * certificate beside them: load() finishes the move (finish_renewal).
 */
static int
install_identity(struct agent *a, X509 *x, EVP_PKEY *key, struct sp_err *err)
{
	char knew[PATH_MAX], cnew[PATH_MAX];
	struct sp_buf kb, cb;
	int rc = -1, lk;

	if ((lk = state_lock(a, true)) == -1)
		return sp_err_set(err, "%s: cannot lock: %s", a->dir,
		    strerror(errno));
	sp_buf_init(&kb, 64 * 1024);
	kb.secret = 1;
	sp_buf_init(&cb, 64 * 1024);
	snprintf(knew, sizeof(knew), "%s.new", a->path[P_KEY]);
	snprintf(cnew, sizeof(cnew), "%s.new", a->path[P_CRT]);
	if (sp_x509_key_pem(key, NULL, &kb, err) == -1 ||
	    sp_x509_cert_pem(x, &cb, err) == -1 ||
	    sp_fs_write_atomic(knew, kb.data, kb.len, 0600, err) == -1 ||
	    sp_fs_write_atomic(cnew, cb.data, cb.len, 0644, err) == -1)
		goto out;
	if (rename(knew, a->path[P_KEY]) == -1 ||
	    rename(cnew, a->path[P_CRT]) == -1) {
		sp_err_set(err, "installing the new identity: %s",
		    strerror(errno));
		goto out;
	}
	rc = sp_fs_sync_dir(a->dir, err);
out:
	close(lk);
	sp_buf_release(&kb);
	sp_buf_release(&cb);
	return rc;
}

/*
 * sprov-agent renew URL: a new key, and a new device certificate for it
 * through EST re-enrolment (RFC 7030 simplereenroll), authenticated by the
 * current certificate.  The CA's portal is verified like a provisioning
 * server (chain to the server-CA root, CN rule, DNS).  The answer must be
 * a certificate for the new key with the same subject and issuer as the
 * current one, valid now; only then is the identity replaced.
 */
static int
cmd_renew(struct agent *a, const char *url)
{
	struct sp_fetch_result res;
	struct sp_fetch_opts o;
	struct sp_keygen *kg = NULL;
	struct sp_err err;
	struct sp_buf body;
	EVP_PKEY *cur = NULL, *key = NULL;
	X509 *old = NULL, *x = NULL;
	char sn[80];
	int rc = EXIT_FAILED;

	sp_buf_init(&body, SP_EST_BODY_MAX);
	sp_buf_init(&res.body, SP_EST_BODY_MAX);
	if (strncmp(url, "https://", 8) != 0) {
		fail("renew: %s: an https:// URL of the CA's EST service is "
		    "needed", url);
		goto out;
	}
	if ((old = sp_x509_cert_load(a->path[P_CRT], &err)) == NULL ||
	    (cur = sp_x509_key_load(a->path[P_KEY], NULL, &err)) == NULL ||
	    (kg = sp_keygen_new(same_keytype(cur), &err)) == NULL ||
	    (key = sp_keygen_run(kg, &err)) == NULL ||
	    sp_est_reenroll_csr(old, key, &body, &err) == -1) {
		fail("renew: %s", err.msg);
		goto out;
	}
	fetch_opts(a, &o);
	o.url = url;
	o.method = "POST";
	o.content_type = "application/pkcs10";
	o.body = body.data;
	o.bodylen = body.len;
	o.max_bytes = SP_EST_BODY_MAX;
	if (sp_fetch(&o, &res) == -1) {
		fail("renew: %s", res.err);
		goto out;
	}
	if (res.status != 200) {
		fail("renew: HTTP %ld from %s: %.*s", res.status, res.server_ip,
		    (int)(res.body.len > 200 ? 200 : res.body.len),
		    res.body.data != NULL ? res.body.data : "");
		goto out;
	}
	if ((x = sp_est_certs_find(res.body.data, res.body.len, key,
	    &err)) == NULL) {
		fail("renew: %s", err.msg);
		goto out;
	}
	if (X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_subject_name(old)) != 0 ||
	    X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_issuer_name(old)) != 0) {
		fail("renew: the new certificate's subject or issuer differs "
		    "from the current one: not installed");
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		fail("renew: the new certificate is not valid now: not "
		    "installed");
		goto out;
	}
	if (install_identity(a, x, key, &err) == -1) {
		fail("renew: %s", err.msg);
		goto out;
	}
	sp_x509_serial_hex(x, sn, sizeof(sn));
	printf("renewed device %s: serial %s, new key, from %s\n", a->id.mac,
	    sn, res.server_ip);
	rc = 0;
out:
	sp_buf_release(&body);
	sp_buf_release(&res.body);
	sp_keygen_free(kg);
	EVP_PKEY_free(cur);
	EVP_PKEY_free(key);
	X509_free(old);
	X509_free(x);
	return rc;
}

/*
 * After a resync in `run`: renews the certificate when Cert_Renew_Rule
 * names the EST service (macros expanded) and fewer than Cert_Renew_Days
 * days are left.  A failure is logged and retried after the next resync.
 */
static void
renew_if_due(struct agent *a)
{
	const char *rule = param(a, "Cert_Renew_Rule");
	struct sp_err err;
	struct sp_buf u;
	X509 *x;
	char *end;
	long days;
	int left = 0, sec = 0;

	if (rule[0] == '\0')
		return;
	errno = 0;
	days = strtol(param(a, "Cert_Renew_Days"), &end, 10);
	if (errno != 0 || *end != '\0' || days < 1 || days > 3650) {
		fprintf(stderr, "sprov-agent: Cert_Renew_Days must be 1 to "
		    "3650\n");
		return;
	}
	if ((x = sp_x509_cert_load(a->path[P_CRT], &err)) == NULL) {
		fprintf(stderr, "sprov-agent: %s\n", err.msg);
		return;
	}
	if (ASN1_TIME_diff(&left, &sec, NULL, X509_get0_notAfter(x)) != 1)
		left = 0;
	X509_free(x);
	if (left >= days)
		return;
	sp_buf_init(&u, 4096);
	if (expand(a, rule, false, &u) == 0) {
		fprintf(stderr, "sprov-agent: certificate expires in %d days: "
		    "renewing\n", left);
		cmd_renew(a, u.data);
	}
	sp_buf_release(&u);
}

/*
 * One rule: choose the alternative, run its assignments, fetch, apply.
 * 0 success, 1 nothing to do, -1 failure (a->err set).
 */
static int
run_rule(struct agent *a, const char *text, bool *changed)
{
	struct sp_fetch_result res;
	struct sp_fetch_opts o;
	const struct sp_rule_alt *alt;
	struct sp_profile *got = NULL, *work = NULL;
	struct sp_buf u, k, uid, pwd, v, am;
	char full[4096];
	struct sp_rule *rule;
	struct sp_err err;
	size_t which, i;
	int rc = -1, sel;

	a->err[0] = '\0';
	if ((rule = sp_rule_parse(text, strlen(text), &err)) == NULL) {
		snprintf(a->err, sizeof(a->err), "rule: %s", err.msg);
		return -1;
	}
	sp_buf_init(&u, 4096);
	sp_buf_init(&k, 1024);
	sp_buf_init(&uid, 1024);
	sp_buf_init(&pwd, 1024);
	sp_buf_init(&v, SP_PARAM_VALUE_MAX);
	sp_buf_init(&am, SP_PARAM_VALUE_MAX);
	k.secret = pwd.secret = 1;
	sp_buf_init(&res.body, 8 * 1024 * 1024);
	res.body.secret = 1;
	struct sp_macro_ctx ctx = { lookup, a, false };
	if ((sel = sp_rule_select(rule, &ctx, &which, &err)) == -1) {
		snprintf(a->err, sizeof(a->err), "rule: %s", err.msg);
		goto out;
	}
	if (sel == 1) {
		rc = 1;
		goto out;
	}
	alt = sp_rule_alt(rule, which);
	/* Assignments happen before the fetch, and stay if it fails. */
	for (i = 0; i < alt->nassigns; i++) {
		if (expand(a, alt->assigns[i].value, false, &v) == -1 ||
		    sp_profile_set(a->params, alt->assigns[i].name, v.data,
		    v.len, SP_UA_NONE) == -1) {
			snprintf(a->err, sizeof(a->err), "assignment to %s: %s",
			    alt->assigns[i].name, sp_profile_error(a->params));
			goto out;
		}
		*changed = true;
	}
	if (alt->url == NULL) {
		rc = 0;
		goto out;
	}
	if (expand(a, alt->url, false, &u) == -1) {
		snprintf(a->err, sizeof(a->err), "URL: too long once its "
		    "macros are expanded");
		goto out;
	}
	if (whole_url(a, u.data, full, sizeof(full)) == -1)
		goto out;
	snprintf(a->port, sizeof(a->port), "%u", a->url.port);
	snprintf(a->servip, sizeof(a->servip), "%s", a->url.host);
	log_msg(a, "Log_Request_Msg");
	fetch_opts(a, &o);
	o.url = full;
	o.srv = alt->srv;
	if (alt->key != NULL && (expand(a, alt->key, true, &k) == -1 ||
	    k.len == 0)) {
		snprintf(a->err, sizeof(a->err), "--key is empty or too long "
		    "once its macros are expanded");
		goto out;
	}
	if (alt->uid != NULL) {
		expand(a, alt->uid, true, &uid);
		expand(a, alt->pwd ? alt->pwd : "", true, &pwd);
		o.uid = uid.data;
		o.pwd = pwd.data;
	}
	if (alt->post != 0) {
		/* --post x: POST the macro-expanded GPP_X as the body. */
		char reg[8];

		snprintf(reg, sizeof(reg), "GPP_%c", alt->post - 'a' + 'A');
		expand(a, param(a, reg), false, &v);
		o.method = "POST";
		o.body = v.data;
		o.bodylen = v.len;
	}
	if (sp_fetch(&o, &res) == -1) {
		snprintf(a->err, sizeof(a->err), "%s", res.err);
		goto out;
	}
	snprintf(a->servip, sizeof(a->servip), "%s", res.server_ip);
	if (res.status == 404 && strcasecmp(param(a, "Resync_Fails_On_FNF"),
	    "No") == 0) {
		rc = 0;			/* not found counts as success */
		goto out;
	}
	if (res.status == 204) {
		rc = 0;			/* no content: nothing to apply */
		goto out;
	}
	if (res.status != 0 && (res.status < 200 || res.status > 299)) {
		snprintf(a->err, sizeof(a->err), "HTTP %ld from %s",
		    res.status, full);
		goto out;
	}
	if (alt->alias != 0) {
		/* --alias x: GPP_X maps a foreign XML document. */
		char reg[8];

		snprintf(reg, sizeof(reg), "GPP_%c", alt->alias - 'a' + 'A');
		expand(a, param(a, reg), false, &am);
	}
	if ((got = content_profile(&res.body, alt->key ? k.data : NULL,
	    alt->alias ? (am.data ? am.data : "") : NULL, &err)) == NULL) {
		snprintf(a->err, sizeof(a->err), "%s", err.msg);
		goto out;
	}
	/* The profile applies as a whole or not at all. */
	if ((work = sp_profile_new()) == NULL ||
	    sp_profile_merge(work, a->params) == -1 ||
	    sp_profile_merge(work, got) == -1) {
		snprintf(a->err, sizeof(a->err), "cannot apply the profile");
		goto out;
	}
	for (i = 0; i < sp_profile_count(got) && !*changed; i++) {
		const struct sp_param *n = sp_profile_at(got, i);
		const struct sp_param *old = sp_profile_get(a->params,
		    n->name);

		if (old == NULL || old->ua != n->ua || (!n->keep &&
		    (old->valuelen != n->valuelen ||
		    memcmp(old->value, n->value, n->valuelen) != 0)))
			*changed = true;
	}
	sp_profile_free(a->params);
	a->params = work;
	work = NULL;
	if (*changed && save(a, &err) == -1) {
		snprintf(a->err, sizeof(a->err), "%s", err.msg);
		goto out;
	}
	rc = 0;
out:
	sp_rule_free(rule);
	sp_profile_free(got);
	sp_profile_free(work);
	sp_buf_release(&u);
	sp_buf_release(&k);
	sp_buf_release(&uid);
	sp_buf_release(&pwd);
	sp_buf_release(&v);
	sp_buf_release(&am);
	sp_buf_release(&res.body);
	return rc;
}

/*
 * Report_Rule: the phone's parameters sent to the server (POST, or PUT per
 * HTTP_Report_Method), verified like a resync.  --status sends only the
 * status parameters (names starting with Software_ or Hardware_).
 */
static int
report_one(struct agent *a, const char *text)
{
	struct sp_fetch_result res;
	struct sp_fetch_opts o;
	const struct sp_rule_alt *alt;
	struct sp_profile *sel = NULL, *prev = NULL;
	struct sp_buf u, body, enc, k, uid, pwd;
	char lp[PATH_MAX];
	struct sp_rule *rule;
	struct sp_err err;
	char full[4096];
	size_t which, i;
	int rc = EXIT_FAILED;
	struct sp_macro_ctx ctx = { lookup, a, false };

	if (text[0] == '\0')
		return fail("no Report_Rule");
	if ((rule = sp_rule_parse(text, strlen(text), &err)) == NULL)
		return fail("Report_Rule: %s", err.msg);
	sp_buf_init(&u, 4096);
	sp_buf_init(&body, 64L << 20);
	body.secret = 1;
	sp_buf_init(&enc, (64L << 20) + 32);
	sp_buf_init(&k, 1024);
	sp_buf_init(&uid, 1024);
	sp_buf_init(&pwd, 1024);
	k.secret = pwd.secret = 1;
	sp_buf_init(&res.body, 1 << 20);
	if (sp_rule_select(rule, &ctx, &which, &err) != 0 ||
	    (alt = sp_rule_alt(rule, which))->url == NULL) {
		fail("Report_Rule: no URL applies");
		goto out;
	}
	if (expand(a, alt->url, false, &u) == -1) {
		fail("Report_Rule URL: too long once its macros are expanded");
		goto out;
	}
	if (sp_url_parse(u.data, &a->url, &err) == -1) {
		fail("Report_Rule URL %s: %s", u.data, err.msg);
		goto out;
	}
	if (!a->url.host_given) {
		fail("Report_Rule URL %s: no server", u.data);
		goto out;
	}
	snprintf(full, sizeof(full), strchr(a->url.host, ':') ?
	    "%s://[%s]:%u%s" : "%s://%s:%u%s", a->url.scheme, a->url.host,
	    a->url.port, a->url.path);
	/* What this server has from us: one state file per report URL, so
	 * two rules (or two servers) keep their own --delta. */
	{
		unsigned char md[32];
		unsigned int mdlen = 0;
		char *data;
		size_t dl;

		EVP_Digest(full, strlen(full), md, &mdlen, EVP_sha256(), NULL);
		snprintf(lp, sizeof(lp), "%s/last-report-%02x%02x%02x%02x%02x"
		    "%02x%02x%02x.xml", a->dir, md[0], md[1], md[2], md[3],
		    md[4], md[5], md[6], md[7]);
		if (sp_fs_read_secret(lp, 64L << 20, &data, &dl, &err) == 0) {
			prev = sp_profile_parse(data, dl, &err);
			sp_fs_free_secret(data, dl);
		}
	}
	if (alt->delta) {
		/* Only what changed since the last report to this URL (all,
		 * the first time). */
		if ((sel = sp_profile_new()) == NULL)
			goto out;
		for (i = 0; i < sp_profile_count(a->params); i++) {
			const struct sp_param *p = sp_profile_at(a->params, i);
			const struct sp_param *q = prev ?
			    sp_profile_get(prev, p->name) : NULL;

			if (q == NULL || q->valuelen != p->valuelen ||
			    q->ua != p->ua ||
			    memcmp(q->value, p->value, p->valuelen) != 0)
				sp_profile_set(sel, p->name, p->value,
				    p->valuelen, p->ua);
		}
	} else if (alt->status) {
		if ((sel = sp_profile_new()) == NULL)
			goto out;
		for (i = 0; i < sp_profile_count(a->params); i++) {
			const struct sp_param *p = sp_profile_at(a->params, i);

			if (strncmp(p->name, "Software_", 9) == 0 ||
			    strncmp(p->name, "Hardware_", 9) == 0)
				sp_profile_set(sel, p->name, p->value,
				    p->valuelen, p->ua);
		}
	}
	if (sp_profile_render(sel ? sel : a->params, &body) == -1) {
		fail("report too large");
		goto out;
	}
	fetch_opts(a, &o);
	o.url = full;
	o.srv = alt->srv;
	o.method = strcasecmp(param(a, "HTTP_Report_Method"), "PUT") == 0 ?
	    "PUT" : "POST";
	o.body = body.data;
	o.bodylen = body.len;
	if (alt->key != NULL) {
		/* --key: the report leaves the phone encrypted, as a profile
		 * arrives (openssl enc, SHA-256 key derivation). */
		if (expand(a, alt->key, true, &k) == -1 || k.len == 0) {
			fail("report: --key is empty or too long once its "
			    "macros are expanded");
			goto out;
		}
		if (content_encrypt(body.data ? body.data : "", body.len,
		    k.data, &enc) == -1) {
			fail("report: cannot encrypt with --key");
			goto out;
		}
		o.body = enc.data;
		o.bodylen = enc.len;
	}
	if (alt->uid != NULL) {
		expand(a, alt->uid, true, &uid);
		expand(a, alt->pwd ? alt->pwd : "", true, &pwd);
		o.uid = uid.data;
		o.pwd = pwd.data;
	}
	if (sp_fetch(&o, &res) == -1)
		fail("report: %s", res.err);
	else if (res.status < 200 || res.status > 299)
		fail("report: HTTP %ld from %s", res.status, full);
	else {
		printf("reported %zu bytes%s to %s (HTTP %ld)\n", body.len,
		    alt->key ? " (encrypted)" : "", full, res.status);
		rc = 0;
		/* What the server now has: what it had plus what was sent. */
		struct sp_profile *now = sp_profile_new();

		sp_buf_reset(&body);
		if (now == NULL || (prev != NULL &&
		    sp_profile_merge(now, prev) == -1) ||
		    sp_profile_merge(now, sel ? sel : a->params) == -1 ||
		    sp_profile_render(now, &body) == -1 ||
		    sp_fs_write_atomic(lp, body.data, body.len, 0600,
		    &err) == -1)
			fprintf(stderr, "sprov-agent: cannot record what was "
			    "reported (%s): the next --delta sends more\n",
			    lp);
		sp_profile_free(now);
	}
out:
	sp_profile_free(prev);
	sp_profile_free(sel);
	sp_rule_free(rule);
	sp_buf_release(&u);
	sp_buf_release(&body);
	sp_buf_release(&enc);
	sp_buf_release(&k);
	sp_buf_release(&uid);
	sp_buf_release(&pwd);
	sp_buf_release(&res.body);
	return rc;
}

/*
 * Where a second report rule starts in "RULE RULE" (MPP: up to two,
 * separated by a space), or NULL.  A rule is options in brackets then a
 * URL; a value with conditions or alternatives is one rule.
 */
static const char *
report_second(const char *s)
{
	char q = 0;

	const char *c;

	/* "|" or a "(" that is not "$(" (a macro) means one rule. */
	for (c = s; *c != '\0'; c++)
		if (*c == '|' || (*c == '(' && (c == s || c[-1] != '$')))
			return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	while (*s == '[') {
		for (s++; *s != '\0' && (q || *s != ']'); s++)
			if (*s == '"')
				q = !q;
		if (*s == '\0')
			return NULL;
		for (s++; *s == ' ' || *s == '\t'; s++)
			;
	}
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;			/* the URL */
	while (*s == ' ' || *s == '\t')
		s++;
	return *s != '\0' ? s : NULL;
}

/* Every rule of Report_Rule (or the one given) is sent; any failure fails. */
static int
cmd_report(struct agent *a, const char *rule_text)
{
	const char *text = rule_text ? rule_text : param(a, "Report_Rule");
	const char *second;
	char *first;
	int rc;

	if (text[0] == '\0')
		return fail("no Report_Rule");
	if ((second = report_second(text)) == NULL)
		return report_one(a, text);
	if (report_second(second) != NULL)
		return fail("Report_Rule: more than two rules");
	if ((first = strndup(text, (size_t)(second - text))) == NULL)
		return fail("out of memory");
	rc = report_one(a, first);
	free(first);
	return report_one(a, second) == 0 ? rc : EXIT_FAILED;
}

/*
 * Custom_CA_Rule: a provider CA installed beside the server-CA root.  It
 * is fetched like a profile, so only a server the phone already trusts can
 * install one; it must be a CA certificate (PEM or DER).  trust.pem is
 * rebuilt as server-CA root + provider CA, atomically.  Fetched again only
 * when the rule's URL changes.
 */
static int
custom_ca(struct agent *a)
{
	char path[PATH_MAX], urlfile[PATH_MAX], when[64], cn[SP_CN_MAX + 1];
	char full[4096];
	struct sp_fetch_result res;
	struct sp_fetch_opts o;
	struct sp_buf u, trust;
	struct sp_err err;
	size_t len = 0;
	char *root = NULL, *old = NULL;
	X509 *x = NULL;
	time_t now = time(NULL);
	int rc = -1;

	sp_buf_init(&u, 4096);
	sp_buf_init(&trust, 1 << 20);
	sp_buf_init(&res.body, 1 << 20);
	snprintf(urlfile, sizeof(urlfile), "%s/custom-ca.url", a->dir);
	if (param(a, "Custom_CA_Rule")[0] == '\0') {
		/* No rule: a provider CA installed earlier is removed. */
		rc = 0;
		if (access(urlfile, F_OK) == -1)
			goto out;
		snprintf(path, sizeof(path), "%s/server-ca.crt", a->dir);
		if (sp_fs_read(path, 1 << 20, &root, &len, &err) == -1 ||
		    sp_fs_write_atomic(a->path[P_TRUST], root, len, 0644,
		    &err) == -1) {
			snprintf(a->err, sizeof(a->err), "custom CA: %s",
			    err.msg);
			rc = -1;
			goto out;
		}
		unlink(urlfile);
		sp_profile_set(a->params, "Custom_CA_Info", "Not Installed", 13,
		    SP_UA_NONE);
		rc = 1;
		goto out;
	}
	expand(a, param(a, "Custom_CA_Rule"), false, &u);
	if (sp_fs_read(urlfile, 8192, &old, &len, &err) == 0 &&
	    strcmp(old, u.data) == 0) {
		rc = 0;			/* installed from this URL already */
		goto out;
	}
	if (whole_url(a, u.data, full, sizeof(full)) == -1)
		goto out;
	fetch_opts(a, &o);
	o.url = full;
	o.max_bytes = 1 << 20;
	strftime(when, sizeof(when), "%m/%d/%Y %H:%M:%S", gmtime(&now));
	if (sp_fetch(&o, &res) == -1 || res.status < 200 || res.status > 299) {
		snprintf(a->err, sizeof(a->err), "custom CA: %s", res.err[0] ?
		    res.err : "HTTP error");
		goto failed;
	}
	if ((x = sp_x509_cert_parse(res.body.data ? res.body.data : "",
	    res.body.len, &err)) == NULL || X509_check_ca(x) == 0) {
		snprintf(a->err, sizeof(a->err), "custom CA: %s", x ?
		    "not a CA certificate" : err.msg);
		goto failed;
	}
	snprintf(path, sizeof(path), "%s/server-ca.crt", a->dir);
	if (sp_fs_read(path, 1 << 20, &root, &len, &err) == -1 ||
	    sp_buf_append(&trust, root, len) == -1 ||
	    sp_x509_cert_pem(x, &trust, &err) == -1 ||
	    sp_fs_write_atomic(a->path[P_TRUST], trust.data, trust.len, 0644,
	    &err) == -1 ||
	    sp_fs_write_atomic(urlfile, u.data, u.len, 0600, &err) == -1) {
		snprintf(a->err, sizeof(a->err), "custom CA: %s", err.msg);
		goto failed;
	}
	if (sp_x509_name_get(X509_get_subject_name(x), NID_commonName, cn,
	    sizeof(cn)) == -1)
		snprintf(cn, sizeof(cn), "?");
	snprintf(a->tmp, sizeof(a->tmp), "Installed - %s", cn);
	sp_profile_set(a->params, "Custom_CA_Info", a->tmp, strlen(a->tmp),
	    SP_UA_NONE);
	snprintf(a->tmp, sizeof(a->tmp), "Last provisioning succeeded on %s",
	    when);
	sp_profile_set(a->params, "Custom_CA_Provisioning_Status", a->tmp,
	    strlen(a->tmp), SP_UA_NONE);
	rc = 1;				/* changed */
	goto out;
failed:
	snprintf(a->tmp, sizeof(a->tmp), "Last provisioning failed on %s",
	    when);
	sp_profile_set(a->params, "Custom_CA_Provisioning_Status", a->tmp,
	    strlen(a->tmp), SP_UA_NONE);
out:
	X509_free(x);
	free(old);
	free(root);
	sp_buf_release(&u);
	sp_buf_release(&trust);
	sp_buf_release(&res.body);
	return rc;
}

static int
install_command(struct agent *a, char *dst, size_t dstsz)
{
	int r = agent_conf(a, "install_command", dst, dstsz);

	if (r == 1)
		snprintf(a->err, sizeof(a->err), "%s/agent.conf: no "
		    "install_command", a->dir);
	return r == 0 ? 0 : -1;
}

/*
 * Upgrade_Rule: the image is downloaded (verified like a profile) to a
 * staging file, checked (not empty, its name's version within
 * Downgrade_Rev_Limit), and handed to the configured install command.  A
 * URL once attempted is never attempted again (its record survives
 * restarts); Software_Version becomes the image's version on success.
 * 0 installed, 1 nothing to do, -1 failed ($ERR set).
 */
static int
upgrade(struct agent *a)
{
	char stage[PATH_MAX], last[PATH_MAX], cmd[1024], ver[256], full[4096];
	const struct sp_rule_alt *alt;
	struct sp_fetch_result res;
	struct sp_fetch_opts o;
	struct sp_macro_ctx ctx = { lookup, a, false };
	struct sp_buf u;
	struct sp_rule *rule = NULL;
	struct sp_err err;
	const char *text = param(a, "Upgrade_Rule"), *base, *lim;
	char *old = NULL;
	size_t which, len;
	pid_t pid;
	int cmp, status, rc = -1;

	if (text[0] == '\0' || strcasecmp(param(a, "Upgrade_Enable"), "No") ==
	    0)
		return 1;
	sp_buf_init(&u, 4096);
	sp_buf_init(&res.body, 256L << 20);
	if ((rule = sp_rule_parse(text, strlen(text), &err)) == NULL) {
		snprintf(a->err, sizeof(a->err), "Upgrade_Rule: %s", err.msg);
		goto out;
	}
	if (sp_rule_select(rule, &ctx, &which, &err) != 0 ||
	    (alt = sp_rule_alt(rule, which))->url == NULL) {
		rc = 1;
		goto out;
	}
	expand(a, alt->url, false, &u);
	snprintf(last, sizeof(last), "%s/upgrade.last", a->dir);
	if (sp_fs_read(last, 8192, &old, &len, &err) == 0 &&
	    strcmp(old, u.data) == 0) {
		rc = 1;			/* never the same URL twice */
		goto out;
	}
	if (sp_fs_write_atomic(last, u.data, u.len, 0600, &err) == -1) {
		snprintf(a->err, sizeof(a->err), "%s", err.msg);
		goto out;
	}
	/* The version is the image's name: sip88xx.11-3-2MPP0001-609.loads */
	base = strrchr(u.data, '/') ? strrchr(u.data, '/') + 1 : u.data;
	snprintf(ver, sizeof(ver), "%.*s", (int)strcspn(base, "?"), base);
	if (strlen(ver) > 6 && strcmp(ver + strlen(ver) - 6, ".loads") == 0)
		ver[strlen(ver) - 6] = '\0';
	lim = param(a, "Downgrade_Rev_Limit");
	if (lim[0] != '\0' && (sp_version_cmp(ver, lim, &cmp) == -1 ||
	    cmp < 0)) {
		snprintf(a->err, sizeof(a->err), "upgrade to %s refused: below "
		    "Downgrade_Rev_Limit %s", ver, lim);
		goto out;
	}
	if (install_command(a, cmd, sizeof(cmd)) == -1)
		goto out;
	if (whole_url(a, u.data, full, sizeof(full)) == -1)
		goto out;
	fetch_opts(a, &o);
	o.url = full;
	o.srv = alt->srv;
	o.max_bytes = 256L << 20;
	if (sp_fetch(&o, &res) == -1 || (res.status != 0 &&
	    (res.status < 200 || res.status > 299)) || res.body.len == 0) {
		snprintf(a->err, sizeof(a->err), "image %s: %s", u.data,
		    res.err[0] ? res.err : res.body.len == 0 && res.status ==
		    200 ? "empty" : "HTTP error");
		goto out;
	}
	snprintf(stage, sizeof(stage), "%s/staging.img", a->dir);
	if (sp_fs_write_atomic(stage, res.body.data, res.body.len, 0600,
	    &err) == -1) {
		snprintf(a->err, sizeof(a->err), "%s", err.msg);
		goto out;
	}
	/* The command gets the staged file and the version, no shell. */
	if ((pid = fork()) == 0) {
		execl(cmd, cmd, stage, ver, (char *)NULL);
		_exit(127);
	}
	if (pid == -1 || waitpid(pid, &status, 0) == -1 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(a->err, sizeof(a->err), "install command %s failed "
		    "on %s", cmd, ver);
		unlink(stage);
		goto out;
	}
	unlink(stage);
	sp_profile_set(a->params, "Software_Version", ver, strlen(ver),
	    SP_UA_NONE);
	fprintf(stderr, "sprov-agent: upgraded to %s\n", ver);
	rc = 0;
out:
	free(old);
	sp_rule_free(rule);
	sp_buf_release(&u);
	sp_buf_release(&res.body);
	return rc;
}

static int
cmd_upgrade(struct agent *a)
{
	struct sp_err err;
	int r = upgrade(a);

	if (r == -1)
		return fail("upgrade: %s", a->err);
	if (r == 0 && save(a, &err) == -1)
		return fail("%s", err.msg);
	return r == 0 ? EXIT_CHANGED : EXIT_UNCHANGED;
}

static int
cmd_resync(struct agent *a, const char *rule)
{
	static const char *const rules[] = { "Profile_Rule", "Profile_Rule_B",
	    "Profile_Rule_C", "Profile_Rule_D" };
	struct sp_err err;
	bool changed = false;
	size_t i;
	int r;

	if (strcasecmp(param(a, "Provision_Enable"), "No") == 0)
		return fail("Provision_Enable is No: no resync");
	if ((r = custom_ca(a)) == -1) {
		log_msg(a, "Log_Failure_Msg");
		save(a, &err);			/* the status says it failed */
		return EXIT_FAILED;
	}
	if (r == 1)
		changed = true;
	for (i = 0; i < (rule ? 1 : 4); i++) {
		const char *text = rule ? rule : param(a, rules[i]);

		if (text[0] == '\0')
			continue;
		/* A failed rule interrupts the sequence (reference 2.1). */
		if ((r = run_rule(a, text, &changed)) == -1) {
			log_msg(a, "Log_Failure_Msg");
			if (changed)
				save(a, &err);	/* assignments stay */
			return EXIT_FAILED;
		}
		if (r == 0)
			log_msg(a, "Log_Success_Msg");
	}
	/* After the profiles, the upgrade they may have asked for. */
	if (rule == NULL && (r = upgrade(a)) == -1)
		fprintf(stderr, "sprov-agent: upgrade failed: %s\n", a->err);
	else if (rule == NULL && r == 0)
		changed = true;
	if (changed && save(a, &err) == -1)
		return fail("%s", err.msg);
	return changed ? EXIT_CHANGED : EXIT_UNCHANGED;
}

static const char *
param_get(void *arg, const char *name)
{
	return param(arg, name);
}

/*
 * Resync_Trigger_1/_2 (newer firmware): when set and false, the due
 * resync is suppressed.  A trigger is a bare condition, parsed as
 * "(text)?" and required to be nothing else.
 */
static int
triggers_allow(struct agent *a)
{
	static const char *const names[] = { "Resync_Trigger_1",
	    "Resync_Trigger_2" };
	struct sp_macro_ctx ctx = { lookup, a, false };
	const struct sp_rule_alt *alt;
	struct sp_rule *r;
	struct sp_err err;
	char wrapped[4200];
	size_t i;
	int v, allow = 1;

	for (i = 0; i < 2 && allow; i++) {
		const char *t = param(a, names[i]);

		if (t[0] == '\0' || t[0] == '#')
			continue;
		snprintf(wrapped, sizeof(wrapped), "(%s)?", t);
		if ((r = sp_rule_parse(wrapped, strlen(wrapped), &err)) ==
		    NULL || sp_rule_count(r) != 1 ||
		    (alt = sp_rule_alt(r, 0))->url != NULL ||
		    alt->nassigns != 0 || alt->ncmps == 0) {
			fprintf(stderr, "sprov-agent: %s ignored: not a "
			    "condition\n", names[i]);
			sp_rule_free(r);
			continue;
		}
		v = sp_rule_eval(alt->cmps, alt->ncmps, &ctx, &err);
		if (v == 0)
			allow = 0;
		sp_rule_free(r);
	}
	return allow;
}

/*
 * run: the daemon.  Timers from lib/sched.c; SIGHUP resyncs now, SIGTERM
 * and SIGINT stop.  The schedule is re-read after every resync (the
 * profile may change it).
 */
static int
cmd_run(struct agent *a)
{
	struct sp_sched_state st = { 0, 0 };
	struct sp_sched sch;
	struct sp_err err;
	struct timespec ts;
	sigset_t set;
	int64_t next, now;
	uint32_t rnd;
	int sig, rc;
	bool forced;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (sp_sched_parse(&sch, param_get, a, &err) == -1)
		return fail("%s", err.msg);
	RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	next = sp_sched_first(&sch, (int64_t)time(NULL), rnd);
	fprintf(stderr, "sprov-agent: running for %s; first resync %s\n",
	    a->id.mac, next == SP_SCHED_NEVER ? "never (until SIGHUP)" :
	    "scheduled");
	for (;;) {
		now = (int64_t)time(NULL);
		forced = false;
		if (next > now) {
			ts.tv_sec = next == SP_SCHED_NEVER ? 3600 :
			    (time_t)(next - now);
			ts.tv_nsec = 0;
			sig = sigtimedwait(&set, NULL, &ts);
			if (sig == SIGTERM || sig == SIGINT)
				break;
			if (sig == SIGHUP)
				forced = true;	/* resync now, no triggers */
			else if ((int64_t)time(NULL) < next)
				continue;
		}
		if (!forced && !triggers_allow(a)) {
			fprintf(stderr, "sprov-agent: resync suppressed by "
			    "Resync_Trigger\n");
			rc = EXIT_UNCHANGED;
		} else
			rc = cmd_resync(a, NULL);
		renew_if_due(a);
		if (sp_sched_parse(&sch, param_get, a, &err) == -1)
			fprintf(stderr, "sprov-agent: %s (keeping the old "
			    "schedule)\n", err.msg);
		RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
		next = sp_sched_next(&sch, &st, (int64_t)time(NULL),
		    rc != EXIT_FAILED, rnd);
	}
	fprintf(stderr, "sprov-agent: stopped\n");
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: sprov-agent [-s DIR] init --cert F --key F "
	    "--server-ca F\n"
	    "       sprov-agent [-s DIR] resync [RULE]\n"
	    "       sprov-agent [-d] [-s DIR] run\n"
	    "       sprov-agent [-s DIR] upgrade\n"
	    "       sprov-agent [-s DIR] check URL\n"
	    "       sprov-agent [-s DIR] report [RULE]\n"
	    "       sprov-agent [-s DIR] renew EST-URL\n"
	    "       sprov-agent [-s DIR] get NAME | set NAME VALUE | show\n");
	exit(EXIT_USAGE);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "server-ca", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "agent", *crt = NULL, *key = NULL, *ca = NULL;
	struct agent a;
	struct sp_err err;
	int ch, rc, debug = 0;

	while ((ch = getopt_long(argc, argv, "ds:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': debug = 1; break;
		case 's': dir = optarg; break;
		case 'C': crt = optarg; break;
		case 'K': key = optarg; break;
		case 'A': ca = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "init") == 0)
		return argc == 1 ? cmd_init(dir, crt, key, ca) : EXIT_USAGE;
	memset(&a, 0, sizeof(a));
	if (load(&a, dir) != 0)
		return EXIT_FAILED;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[0], "get") == 0 && argc == 2) {
		const struct sp_param *p = sp_profile_get(a.params, argv[1]);

		rc = p ? (printf("%s\n", p->value), 0) :
		    fail("no parameter %s", argv[1]);
	} else if (strcmp(argv[0], "set") == 0 && argc == 3) {
		if (sp_profile_set(a.params, argv[1], argv[2], strlen(argv[2]),
		    SP_UA_NONE) == -1)
			rc = fail("%s", sp_profile_error(a.params));
		else
			rc = save(&a, &err) == 0 ? 0 : fail("%s", err.msg);
	} else if (strcmp(argv[0], "show") == 0 && argc == 1) {
		struct sp_buf b;

		sp_buf_init(&b, 64L << 20);
		rc = sp_profile_render(a.params, &b) == 0 &&
		    fwrite(b.data, 1, b.len, stdout) == b.len ? 0 : EXIT_FAILED;
		sp_buf_release(&b);
	} else if (strcmp(argv[0], "check") == 0 && argc == 2)
		rc = cmd_check(&a, argv[1]);
	else if (strcmp(argv[0], "resync") == 0 && argc <= 2)
		rc = cmd_resync(&a, argc == 2 ? argv[1] : NULL);
	else if (strcmp(argv[0], "upgrade") == 0 && argc == 1)
		rc = cmd_upgrade(&a);
	else if (strcmp(argv[0], "run") == 0 && argc == 1) {
		/* The daemon logs to syslog unless -d keeps it on stderr. */
		if (!debug) {
			openlog("sprov-agent", LOG_PID, LOG_DAEMON);
			a.syslog = true;
		}
		rc = cmd_run(&a);
	}
	else if (strcmp(argv[0], "renew") == 0 && argc == 2)
		rc = cmd_renew(&a, argv[1]);
	else if (strcmp(argv[0], "report") == 0 && argc <= 2)
		rc = cmd_report(&a, argc == 2 ? argv[1] : NULL);
	else
		usage();
	sp_profile_free(a.params);
	curl_global_cleanup();
	OPENSSL_cleanup();
	return rc;
}
