#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sprov/cnrule.h"
#include "sprov/fetch.h"
#include "sprov/resolve.h"
#include "sprov/x509.h"

/* --srv: the domain the URL named, and the SRV target being tried. */
struct srvctx {
	const char		*domain;
	const char		*target;
	const struct sp_addrs	*addrs;		/* the target's */
};

struct attempt {
	const struct sp_fetch_opts	*o;
	const struct srvctx		*srv;
	struct sp_fetch_result		*res;
	CURL				*cu;
	int				 https;
	int				 verified;	/* prereq passed */
	size_t				 header_bytes;
	char				 curlerr[CURL_ERROR_SIZE];
	char				 why[SP_ERR_MAX];
};

static void
trace(const struct sp_fetch_opts *o, const char *step, int ok,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
trace(const struct sp_fetch_opts *o, const char *step, int ok,
    const char *fmt, ...)
{
	char detail[SP_ERR_MAX];
	va_list ap;

	if (o->trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	o->trace(o->trace_arg, step, ok, detail);
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct attempt *a = arg;

	if (sp_buf_append(&a->res->body, p, size * n) == 0)
		return size * n;
	snprintf(a->why, sizeof(a->why), "response body larger than %zu "
	    "bytes", a->o->max_bytes);
	return 0;
}

/* libcurl bounds one header line, not how many come: we bound the sum. */
static size_t
header(char *p, size_t size, size_t n, void *arg)
{
	struct attempt *a = arg;

	(void)p;
	a->header_bytes += size * n;
	if (a->header_bytes <= SP_FETCH_HEADERS_MAX)
		return size * n;
	snprintf(a->why, sizeof(a->why), "response headers larger than %d "
	    "bytes", SP_FETCH_HEADERS_MAX);
	return 0;
}

/* The phone trusts a server certificate signed by its root, or nearly. */
static CURLcode
ssl_ctx(CURL *cu, void *ctx, void *arg)
{
	(void)cu;
	(void)arg;
	SSL_CTX_set_verify_depth(ctx, SP_FETCH_CHAIN_DEPTH);
	return CURLE_OK;
}

/*
 * (b) and (c), after the TLS handshake (curl checked (a) in it) and before
 * the request: aborting here means the server never sees a request.
 */
static int
prereq(void *arg, char *primary_ip, char *local_ip, int primary_port,
    int local_port)
{
	struct attempt *a = arg;
	const struct sp_fetch_opts *o = a->o;
	struct curl_tlssessioninfo *ti = NULL;
	char cn[SP_CN_MAX + 1], fqdn[SP_FQDN_MAX + 1];
	enum sp_cn_verdict v;
	struct sp_addrs addrs;
	struct sp_err err;
	size_t i;
	X509 *peer;

	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	snprintf(a->res->server_ip, sizeof(a->res->server_ip), "%s",
	    primary_ip);
	if (!a->https) {		/* plain HTTP, TFTP: nothing to verify */
		a->verified = 1;
		return CURL_PREREQFUNC_OK;
	}
	/* HTTPS whose TLS we cannot inspect is refused: fail closed. */
	if (curl_easy_getinfo(a->cu, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK ||
	    ti == NULL || ti->backend != CURLSSLBACKEND_OPENSSL ||
	    ti->internals == NULL) {
		snprintf(a->why, sizeof(a->why), "cannot inspect the TLS "
		    "session to verify the server");
		return CURL_PREREQFUNC_ABORT;
	}
	peer = SSL_get0_peer_certificate(ti->internals);
	if (peer == NULL || SSL_get_verify_result(ti->internals) != X509_V_OK) {
		snprintf(a->why, sizeof(a->why), "server certificate not "
		    "trusted");
		trace(o, "(a) chain to the trusted root", 0, "%s", a->why);
		return CURL_PREREQFUNC_ABORT;
	}
	trace(o, "(a) chain to the trusted root", 1, "verified");
	if (sp_x509_name_cn(X509_get_subject_name(peer), cn, sizeof(cn),
	    &err) == -1) {
		snprintf(a->why, sizeof(a->why), "server certificate CN "
		    "rule: %s", err.msg);
		trace(o, "(b) CN rule", 0, "%s", err.msg);
		return CURL_PREREQFUNC_ABORT;
	}
	snprintf(a->res->cn, sizeof(a->res->cn), "%s", cn);
	if ((v = sp_cnrule_check(cn, strlen(cn), fqdn, sizeof(fqdn))) !=
	    SP_CN_OK) {
		snprintf(a->why, sizeof(a->why), "server certificate CN rule: "
		    "%s (CN=%s)", sp_cnrule_str(v), cn);
		trace(o, "(b) CN rule", 0, "CN=%s: %s", cn, sp_cnrule_str(v));
		return CURL_PREREQFUNC_ABORT;
	}
	trace(o, "(b) CN rule", 1, "CN=%s: name %s", cn, fqdn);
	if (a->srv != NULL) {
		/* SRV: the certificate names the domain the rule named, and
		 * the address is the SRV target's, as DNS gives them. */
		if (strcasecmp(fqdn, a->srv->domain) != 0) {
			snprintf(a->why, sizeof(a->why), "server certificate "
			    "CN name %s is not the SRV domain %s", fqdn,
			    a->srv->domain);
			trace(o, "(b) CN names the SRV domain", 0, "%s",
			    a->why);
			return CURL_PREREQFUNC_ABORT;
		}
		if (!sp_addrs_contain(a->srv->addrs, primary_ip)) {
			snprintf(a->why, sizeof(a->why), "server address %s "
			    "is not an address of %s", primary_ip,
			    a->srv->target);
			trace(o, "(c) address among the SRV target's", 0,
			    "%s", a->why);
			return CURL_PREREQFUNC_ABORT;
		}
		trace(o, "(c) address among the SRV target's", 1, "%s is an "
		    "address of %s (SRV of %s)", primary_ip, a->srv->target,
		    fqdn);
		a->verified = 1;
		return CURL_PREREQFUNC_OK;
	}
	if (sp_resolve(fqdn, o->dns, &addrs, &err) == -1) {
		snprintf(a->why, sizeof(a->why), "server address check: %s",
		    err.msg);
		trace(o, "(c) address among the name's", 0, "%s", err.msg);
		return CURL_PREREQFUNC_ABORT;
	}
	if (!sp_addrs_contain(&addrs, primary_ip)) {
		char list[256] = "";

		for (i = 0; i < addrs.n; i++)
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%s", i ? " " : "", addrs.addr[i]);
		snprintf(a->why, sizeof(a->why), "server address %s is not an "
		    "address of %s (%s)", primary_ip, fqdn, list);
		trace(o, "(c) address among the name's", 0, "%s", a->why);
		return CURL_PREREQFUNC_ABORT;
	}
	trace(o, "(c) address among the name's", 1, "%s is an address of %s",
	    primary_ip, fqdn);
	a->verified = 1;
	return CURL_PREREQFUNC_OK;
}

/* One request to one address.  Returns the curl code. */
static CURLcode
attempt_one(const struct sp_fetch_opts *o, const struct srvctx *srv,
    const char *url, int https, const char *host, long port,
    const char *addr, struct sp_fetch_result *res, char **redirect)
{
	struct curl_slist *resolve = NULL, *headers = NULL;
	char ctype[128];
	char entry[512], *loc = NULL;
	struct attempt a;
	CURLcode rc;
	CURL *cu;

	if ((cu = curl_easy_init()) == NULL)
		return CURLE_OUT_OF_MEMORY;
	memset(&a, 0, sizeof(a));
	a.o = o;
	a.srv = srv;
	a.res = res;
	a.cu = cu;
	a.https = https;
	snprintf(entry, sizeof(entry), strchr(addr, ':') ? "%s:%ld:[%s]" :
	    "%s:%ld:%s", host, port, addr);
	resolve = curl_slist_append(NULL, entry);
	sp_buf_reset(&res->body);
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "https,http,tftp");
	curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT, (long)SP_FETCH_CONNECT_S);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT,
	    (long)SP_FETCH_LOW_SPEED_BYTES);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, (long)SP_FETCH_LOW_SPEED_S);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, a.curlerr);
	curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, header);
	curl_easy_setopt(cu, CURLOPT_HEADERDATA, &a);
	curl_easy_setopt(cu, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, o->timeout > 0 ? o->timeout :
	    60L);
	curl_easy_setopt(cu, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)o->max_bytes);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	/* (a): only our roots; never the system store. */
	curl_easy_setopt(cu, CURLOPT_CAINFO, o->trust);
	curl_easy_setopt(cu, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 1L);
	/* The name check is (b)+(c) in prereq(), not curl's. */
	curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(cu, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (o->cert != NULL) {
		curl_easy_setopt(cu, CURLOPT_SSLCERT, o->cert);
		curl_easy_setopt(cu, CURLOPT_SSLKEY, o->key);
	}
	curl_easy_setopt(cu, CURLOPT_PREREQFUNCTION, prereq);
	curl_easy_setopt(cu, CURLOPT_PREREQDATA, &a);
	curl_easy_setopt(cu, CURLOPT_USERAGENT, "sprov-agent");
	if (o->uid != NULL) {
		curl_easy_setopt(cu, CURLOPT_USERNAME, o->uid);
		curl_easy_setopt(cu, CURLOPT_PASSWORD, o->pwd ? o->pwd : "");
		curl_easy_setopt(cu, CURLOPT_HTTPAUTH, (long)CURLAUTH_ANY);
	}
	if (o->content_type != NULL && (size_t)snprintf(ctype, sizeof(ctype),
	    "Content-Type: %s", o->content_type) < sizeof(ctype) &&
	    (headers = curl_slist_append(NULL, ctype)) != NULL)
		curl_easy_setopt(cu, CURLOPT_HTTPHEADER, headers);
	if (o->method != NULL) {
		curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, o->method);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, o->body ? o->body : "");
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)o->bodylen);
	}
	rc = curl_easy_perform(cu);
	if (a.why[0] != '\0')
		snprintf(res->err, sizeof(res->err), "%s", a.why);
	else if (rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE) {
		snprintf(res->err, sizeof(res->err), "server certificate not "
		    "trusted: %s", a.curlerr[0] ? a.curlerr :
		    curl_easy_strerror(rc));
		trace(o, "(a) chain to the trusted root", 0, "%s", res->err);
	} else if (rc != CURLE_OK)
		snprintf(res->err, sizeof(res->err), "%s: %s", addr,
		    a.curlerr[0] ? a.curlerr : curl_easy_strerror(rc));
	if (rc == CURLE_OK) {
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &res->status);
		if ((res->status == 301 || res->status == 302) &&
		    curl_easy_getinfo(cu, CURLINFO_REDIRECT_URL, &loc) ==
		    CURLE_OK && loc != NULL)
			*redirect = strdup(loc);
	}
	curl_slist_free_all(resolve);
	curl_slist_free_all(headers);
	curl_easy_cleanup(cu);
	return rc;
}

/*
 * A redirect may not leave HTTPS: the body, a report and the credentials
 * would go out in clear to a server nobody verified.  0 to follow.
 */
static int
redirect_refused(const struct sp_fetch_opts *o, const char *scheme,
    const char *to, struct sp_fetch_result *res)
{
	if (strcmp(scheme, "https") != 0 || strncasecmp(to, "https://", 8) == 0)
		return 0;
	snprintf(res->err, sizeof(res->err), "redirect from https to %.200s "
	    "refused (not https)", to);
	trace(o, "redirect", 0, "%s", res->err);
	return 1;
}

/*
 * --srv: the URL's host is a domain; _ciscoprov-https._tls.<domain> (or
 * _ciscoprov-http._tcp.) names the servers, tried in SRV order and each
 * of their addresses in DNS order until one answers.  Returns 1 when one
 * answered, 0 when none did (res->err says why).
 */
static int
fetch_srv(const struct sp_fetch_opts *o, CURLU *u, const char *host,
    const char *scheme, struct sp_fetch_result *res, char **redir)
{
	struct sp_srv recs[SP_RESOLVE_SRV_MAX];
	struct sp_addrs addrs;
	struct srvctx ctx;
	struct sp_err err;
	char name[512], portstr[16], *url = NULL;
	int https = strcmp(scheme, "https") == 0, answered = 0;
	size_t n, i, j;
	CURLcode rc;

	if (!https && strcmp(scheme, "http") != 0) {
		snprintf(res->err, sizeof(res->err), "%s scheme not "
		    "supported in SRV lookups", scheme);
		return 0;
	}
	snprintf(name, sizeof(name), https ? "_ciscoprov-https._tls.%s" :
	    "_ciscoprov-http._tcp.%s", host);
	if (sp_resolve_srv(name, o->dns, recs, SP_RESOLVE_SRV_MAX, &n,
	    &err) == -1) {
		snprintf(res->err, sizeof(res->err), "%s", err.msg);
		trace(o, "SRV lookup", 0, "%s", err.msg);
		return 0;
	}
	trace(o, "SRV lookup", 1, "%s: %zu record%s", name, n,
	    n == 1 ? "" : "s");
	ctx.domain = host;
	ctx.addrs = &addrs;
	for (i = 0; i < n && !answered; i++) {
		ctx.target = recs[i].target;
		if (sp_resolve(recs[i].target, o->dns, &addrs, &err) == -1) {
			snprintf(res->err, sizeof(res->err), "%s", err.msg);
			trace(o, "resolve the SRV target", 0, "%s", err.msg);
			continue;
		}
		snprintf(portstr, sizeof(portstr), "%u", recs[i].port);
		curl_free(url);
		url = NULL;
		if (curl_url_set(u, CURLUPART_PORT, portstr, 0) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
			snprintf(res->err, sizeof(res->err), "SRV port %s",
			    portstr);
			continue;
		}
		for (j = 0; j < addrs.n && !answered; j++) {
			rc = attempt_one(o, &ctx, url, https, host,
			    (long)recs[i].port, addrs.addr[j], res, redir);
			trace(o, "connect and request", rc == CURLE_OK,
			    "%s (%s) port %u: %s", addrs.addr[j],
			    recs[i].target, recs[i].port, rc == CURLE_OK ?
			    "answered" : res->err);
			answered = rc == CURLE_OK;
		}
	}
	curl_free(url);
	return answered;
}

int
sp_fetch(const struct sp_fetch_opts *o, struct sp_fetch_result *res)
{
	char *url = strdup(o->url), *host = NULL, *scheme = NULL, *redir;
	struct sp_addrs addrs;
	struct sp_err err;
	CURLUcode uc;
	CURLcode rc = CURLE_OK;
	CURLU *u = NULL;
	long port;
	size_t i;
	int hops, answered = 0;

	res->status = 0;
	res->err[0] = res->server_ip[0] = res->cn[0] = '\0';
	for (hops = 0; url != NULL && hops <= SP_FETCH_REDIRECTS; hops++) {
		char *p = NULL;

		curl_url_cleanup(u);
		curl_free(host);
		curl_free(scheme);
		host = scheme = NULL;
		if ((u = curl_url()) == NULL ||
		    (uc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) !=
		    CURLUE_OK ||
		    curl_url_get(u, CURLUPART_PORT, &p,
		    CURLU_DEFAULT_PORT) != CURLUE_OK) {
			snprintf(res->err, sizeof(res->err), "bad URL %s", url);
			break;
		}
		port = strtol(p, NULL, 10);
		curl_free(p);
		/* curl keeps IPv6 literals in brackets: resolve without. */
		if (host[0] == '[') {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
		redir = NULL;
		if (hops == 0 && o->srv) {
			answered = fetch_srv(o, u, host, scheme, res, &redir);
			free(url);
			url = NULL;
			if (answered && redir != NULL &&
			    redirect_refused(o, scheme, redir, res))
				answered = 0;
			else if (answered && redir != NULL) {
				trace(o, "redirect", 1, "%ld to %s",
				    res->status, redir);
				url = redir;
				continue;
			}
			free(redir);
			break;
		}
		if (sp_resolve(host, o->dns, &addrs, &err) == -1) {
			snprintf(res->err, sizeof(res->err), "%s", err.msg);
			trace(o, "resolve the URL's host", 0, "%s", err.msg);
			break;
		}
		trace(o, "resolve the URL's host", 1, "%s: %zu address%s",
		    host, addrs.n, addrs.n == 1 ? "" : "es");
		redir = NULL;
		answered = 0;
		/* Redundant servers: in order until one answers. */
		for (i = 0; i < addrs.n && !answered; i++) {
			rc = attempt_one(o, NULL, url, strcmp(scheme,
			    "https") == 0, host, port, addrs.addr[i], res,
			    &redir);
			trace(o, "connect and request", rc == CURLE_OK,
			    "%s port %ld: %s", addrs.addr[i], port,
			    rc == CURLE_OK ? "answered" : res->err);
			answered = rc == CURLE_OK;
		}
		free(url);
		url = NULL;
		if (answered && redir != NULL &&
		    redirect_refused(o, scheme, redir, res))
			answered = 0;
		else if (answered && redir != NULL &&
		    strcmp(scheme, "tftp") != 0) {
			trace(o, "redirect", 1, "%ld to %s", res->status, redir);
			url = redir;
			continue;
		}
		free(redir);
	}
	if (url != NULL && hops > SP_FETCH_REDIRECTS) {
		snprintf(res->err, sizeof(res->err), "more than %d redirects",
		    SP_FETCH_REDIRECTS);
		answered = 0;
	}
	free(url);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return answered ? 0 : -1;
}
