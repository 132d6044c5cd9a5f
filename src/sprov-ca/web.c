/*
 * The provider pages of sprov-ca serve: log in, submit a CSR (pasted or
 * as a file) and see at once whether it passes and why not, choose a
 * validity, receive the certificate with its chain, list the
 * organisation's certificates, ask for a revocation.
 *
 * Plain HTML rendered here, one stylesheet, no script: the
 * Content-Security-Policy forbids everything else, so an injection that
 * slipped past the escaping could still run nothing.  Sessions live in
 * this process (a restart logs everyone out): a random 256-bit id in a
 * __Host- cookie (Secure, HttpOnly, SameSite=Strict, Path=/), rotated at
 * login, with a per-session CSRF token every form carries and every POST
 * must return; a POST whose Origin is another site is refused as well.
 * A request for something of another organisation is answered 404, as
 * if it did not exist.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "sprov/account.h"
#include "sprov/buf.h"
#include "sprov/certreq.h"
#include "sprov/form.h"
#include "sprov/limits.h"
#include "sprov/str.h"
#include "sprov/x509.h"
#include "sprov-ca/serve.h"

#define COOKIE		"__Host-sprov"
/* Before login: a nonce, and the login form's CSRF token is its HMAC
 * under a key of this process: nothing kept per visitor, so a flood of
 * login pages evicts no one. */
#define PRE_COOKIE	"__Host-sprov-pre"
#define TOKEN_HEX	64
#define HTML_HEADERS \
	"Content-Security-Policy: default-src 'none'; style-src 'self'; " \
	"img-src 'self'; form-action 'self'; frame-ancestors 'none'; " \
	"base-uri 'none'\r\nX-Frame-Options: DENY\r\n" \
	"Referrer-Policy: same-origin\r\n"
#define CSRF_REFUSED	"CSRF token missing or wrong"

static const int validity_choices[] = { 90, 180, 365, 397, 730, 825 };

static const struct {
	const char	*name;
	int		 code;		/* CRL reason (RFC 5280) */
} reasons[] = {
	{ "keyCompromise", 1 },
	{ "superseded", 4 },
	{ "cessationOfOperation", 5 },
	{ "unspecified", 0 },
};

static const char stylesheet[] =
    "body{font-family:sans-serif;margin:0;color:#1d2330;background:#f5f6f8}"
    "header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.5em;"
    "background:#1d3557;color:#fff}header a{color:#fff}"
    ".brand{font-weight:bold}nav{display:flex;gap:1em;flex:1}"
    "header form{margin:0}main{max-width:60em;margin:1.5em auto;"
    "padding:0 1.5em}table{border-collapse:collapse;width:100%;"
    "background:#fff}th,td{text-align:left;padding:.4em .6em;"
    "border-bottom:1px solid #dde}textarea{width:100%;height:14em;"
    "font-family:monospace}pre{background:#fff;padding:1em;"
    "overflow-x:auto;border:1px solid #dde}label{display:block;"
    "margin:.8em 0 .2em}.error{background:#fde8e8;border:1px solid #c53030;"
    "padding:.6em 1em}.ok{background:#e6f6ea;border:1px solid #2f855a;"
    "padding:.6em 1em}.muted{color:#667}dl{display:grid;grid-template-"
    "columns:max-content auto;gap:.3em 1em}dd{margin:0}"
    "button{margin:.8em .5em 0 0;padding:.4em 1em}"
    "form.login{max-width:22em}input[type=text],input[type=password]"
    "{width:100%}\n";

/* ------------------------------------------------------------ sessions */

struct session {
	char		id[TOKEN_HEX + 1];
	char		csrf[TOKEN_HEX + 1];
	char		user[SP_ACCOUNT_USER_MAX + 1];
	char		org[SP_ACCOUNT_ORG_MAX + 1];
	char		stamp[SP_ACCOUNT_STAMP_LEN + 1];	/* password */
	bool		in;		/* logged in */
	time_t		created;
	time_t		used;
};

struct sessions {
	pthread_mutex_t	 mu;
	struct session	*s;
	size_t		 n;
	unsigned char	 key[32];	/* login tokens (PRE_COOKIE) */
};

struct sessions *
web_sessions_new(void)
{
	struct sessions *ss;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return NULL;
	if ((ss->s = calloc(SP_PORTAL_SESSIONS_MAX, sizeof(*ss->s))) ==
	    NULL) {
		free(ss);
		return NULL;
	}
	if (RAND_bytes(ss->key, sizeof(ss->key)) != 1) {
		free(ss->s);
		free(ss);
		return NULL;
	}
	pthread_mutex_init(&ss->mu, NULL);
	return ss;
}

void
web_sessions_free(struct sessions *ss)
{
	if (ss == NULL)
		return;
	OPENSSL_cleanse(ss->s, SP_PORTAL_SESSIONS_MAX * sizeof(*ss->s));
	OPENSSL_cleanse(ss->key, sizeof(ss->key));
	free(ss->s);
	pthread_mutex_destroy(&ss->mu);
	free(ss);
}

static bool
expired(const struct session *s, time_t now)
{
	return now - s->used > SP_PORTAL_SESSION_IDLE_S ||
	    now - s->created > SP_PORTAL_SESSION_MAX_S;
}

static void
drop_at(struct sessions *ss, size_t i)
{
	OPENSSL_cleanse(&ss->s[i], sizeof(ss->s[i]));
	ss->s[i] = ss->s[--ss->n];
	memset(&ss->s[ss->n], 0, sizeof(ss->s[ss->n]));
}

/* The live session of cookie id, copied to out: true if found. */
static bool
sess_find(struct sessions *ss, const char *id, struct session *out)
{
	time_t now = time(NULL);
	bool found = false;
	size_t i;

	if (strlen(id) != TOKEN_HEX)
		return false;
	pthread_mutex_lock(&ss->mu);
	for (i = 0; i < ss->n; i++) {
		if (CRYPTO_memcmp(ss->s[i].id, id, TOKEN_HEX) != 0)
			continue;
		if (expired(&ss->s[i], now)) {
			drop_at(ss, i);
			break;
		}
		ss->s[i].used = now;
		*out = ss->s[i];
		found = true;
		break;
	}
	pthread_mutex_unlock(&ss->mu);
	return found;
}

static void
sess_drop(struct sessions *ss, const char *id)
{
	size_t i;

	pthread_mutex_lock(&ss->mu);
	for (i = 0; i < ss->n; i++)
		if (CRYPTO_memcmp(ss->s[i].id, id, TOKEN_HEX) == 0) {
			drop_at(ss, i);
			break;
		}
	pthread_mutex_unlock(&ss->mu);
}

static int
token(char out[TOKEN_HEX + 1])
{
	unsigned char r[TOKEN_HEX / 2];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	sp_str_hex(out, r, sizeof(r));
	OPENSSL_cleanse(r, sizeof(r));
	return 0;
}

/* The login form's token for a nonce: HMAC-SHA256 under ss->key. */
static int
login_token(struct sessions *ss, const char *nonce, char out[TOKEN_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (strlen(nonce) != TOKEN_HEX || HMAC(EVP_sha256(), ss->key,
	    sizeof(ss->key), (const unsigned char *)nonce, TOKEN_HEX, md,
	    &mdlen) == NULL || mdlen != TOKEN_HEX / 2)
		return -1;
	sp_str_hex(out, md, mdlen);
	return 0;
}

/*
 * A new logged-in session, copied to out.  When the table is full:
 * expired ones go first, then the one idle the longest.
 */
static int
sess_new(struct sessions *ss, const char *user, const char *org,
    const char *stamp, struct session *out)
{
	struct session s;
	time_t now = time(NULL);
	size_t i, victim;

	memset(&s, 0, sizeof(s));
	if (token(s.id) == -1 || token(s.csrf) == -1)
		return -1;
	snprintf(s.user, sizeof(s.user), "%s", user);
	snprintf(s.org, sizeof(s.org), "%s", org);
	snprintf(s.stamp, sizeof(s.stamp), "%s", stamp);
	s.in = true;
	s.created = s.used = now;
	pthread_mutex_lock(&ss->mu);
	for (i = 0; i < ss->n;)
		if (expired(&ss->s[i], now))
			drop_at(ss, i);
		else
			i++;
	if (ss->n == SP_PORTAL_SESSIONS_MAX) {
		victim = 0;
		for (i = 1; i < ss->n; i++)
			if (ss->s[i].used < ss->s[victim].used)
				victim = i;
		drop_at(ss, victim);
	}
	ss->s[ss->n++] = s;
	pthread_mutex_unlock(&ss->mu);
	*out = s;
	return 0;
}

/* --------------------------------------------------------------- pages */

struct page {
	struct sp_buf	 b;
	char		 extra[1024];	/* response headers besides ours */
};

static void
pg(struct page *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
pg(struct page *p, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sp_buf_append(&p->b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n :
		    sizeof(tmp) - 1);
}

/* Text into HTML (element content and quoted attribute values). */
static void
esc(struct page *p, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '&': sp_buf_append(&p->b, "&amp;", 5); break;
		case '<': sp_buf_append(&p->b, "&lt;", 4); break;
		case '>': sp_buf_append(&p->b, "&gt;", 4); break;
		case '"': sp_buf_append(&p->b, "&quot;", 6); break;
		case '\'': sp_buf_append(&p->b, "&#39;", 5); break;
		case '\0': break;
		default: sp_buf_append(&p->b, &s[i], 1); break;
		}
	}
}

static void
esc_s(struct page *p, const char *s)
{
	esc(p, s, strlen(s));
}

static void
page_begin(struct page *p, const char *title, const struct session *s)
{
	sp_buf_init(&p->b, SP_PORTAL_PAGE_MAX);
	p->extra[0] = '\0';
	pg(p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>");
	esc_s(p, title);
	pg(p, " - sprov CA</title><link rel=\"stylesheet\" "
	    "href=\"/static/portal.css\"></head><body><header>"
	    "<span class=\"brand\">sprov CA</span>");
	if (s != NULL && s->in) {
		pg(p, "<nav><a id=\"nav-certs\" href=\"/certs\">Certificates</a>"
		    "<a id=\"nav-new\" href=\"/new\">New certificate</a></nav>"
		    "<span id=\"whoami\">");
		esc_s(p, s->user);
		pg(p, " (");
		esc_s(p, s->org);
		pg(p, ")</span><form id=\"logout\" method=\"post\" "
		    "action=\"/logout\"><input type=\"hidden\" name=\"csrf\" "
		    "value=\"%s\"><button id=\"logout-submit\" type=\"submit\">"
		    "Log out</button></form>", s->csrf);
	}
	pg(p, "</header><main>\n");
}

static int
page_send(struct sp_tls_conn *t, struct page *p, int status)
{
	char extra[sizeof(p->extra) + 256];

	pg(p, "</main></body></html>\n");
	snprintf(extra, sizeof(extra), "%s%s", HTML_HEADERS, p->extra);
	portal_respond(t, status, "text/html; charset=utf-8", extra, p->b.data,
	    p->b.len);
	sp_buf_release(&p->b);
	return status;
}

/* Sets cookie name to value, or clears it (value NULL). */
static void
set_cookie_named(struct page *p, const char *name, const char *value)
{
	size_t n = strlen(p->extra);

	snprintf(p->extra + n, sizeof(p->extra) - n, "Set-Cookie: %s=%s; "
	    "Path=/; Secure; HttpOnly; SameSite=Strict%s\r\n", name,
	    value != NULL ? value : "", value != NULL ? "" : "; Max-Age=0");
}

static void
set_cookie(struct page *p, const struct session *s)
{
	set_cookie_named(p, COOKIE, s != NULL ? s->id : NULL);
}

static int
redirect(struct sp_tls_conn *t, const char *to, const struct session *set,
    bool clear)
{
	struct page p;

	page_begin(&p, "Moved", NULL);
	pg(&p, "<p><a href=\"%s\">Continue</a></p>", to);
	if (set != NULL || clear)
		set_cookie(&p, set);
	snprintf(p.extra + strlen(p.extra), sizeof(p.extra) -
	    strlen(p.extra), "Location: %s\r\n", to);
	return page_send(t, &p, 303);
}

static int
message(struct sp_tls_conn *t, const struct session *s, int status,
    const char *title, const char *text)
{
	struct page p;

	page_begin(&p, title, s);
	pg(&p, "<h1>");
	esc_s(&p, title);
	pg(&p, "</h1><p id=\"message\" class=\"error\">");
	esc_s(&p, text);
	pg(&p, "</p>");
	return page_send(t, &p, status);
}

/* UTC, the date alone or with the time; "" for none. */
static void
fmt_utc(time_t t, bool with_time, char *dst, size_t n)
{
	struct tm tm;

	if (t <= 0 || gmtime_r(&t, &tm) == NULL)
		dst[0] = '\0';
	else
		strftime(dst, n, with_time ? "%Y-%m-%d %H:%M UTC" :
		    "%Y-%m-%d", &tm);
}

static const char *
state_word(const struct sp_certreq *r)
{
	if (strcmp(r->state, "issued") != 0)
		return r->state;
	if (strcmp(r->revoke, "done") == 0)
		return "revoked";
	if (strcmp(r->revoke, "requested") == 0)
		return "revocation requested";
	return "issued";
}

/* ------------------------------------------------------------ requests */

struct req {
	struct cx			*c;
	struct sp_tls_conn		*t;
	const struct sp_http_req	*r;
	const char			*body;
	size_t				 len;
	bool				 have;	/* s is a live session */
	struct session			 s;
	char				 pre[TOKEN_HEX + 8];	/* nonce */
	struct sp_form			 form;
	char				 refused[SP_ERR_MAX + 64];
};

/*
 * A POST may change something only with the token its form was given
 * (want; NULL: there is none, for the reason nowhy), and not from another
 * site's page (Origin, when the browser sends it).  who: the session to
 * name in the audit trail, or NULL.
 */
static bool
form_allowed(struct req *q, const char *want, const char *nowhy,
    const struct session *who)
{
	const struct sp_form_field *f;
	char self[SP_HTTP_VALUE_MAX + 16];
	struct sp_err err;
	const char *why = NULL;
	bool foreign = false;

	snprintf(self, sizeof(self), "https://%s", q->r->host);
	/* Browsers send Origin with every POST (with Referrer-Policy
	 * same-origin, the real one, not "null"): it must be ours. */
	if (q->r->origin[0] != '\0' && strcmp(q->r->origin, self) != 0) {
		why = "Origin is not this portal";
		foreign = true;
	} else if (want == NULL)
		why = nowhy;
	else if (sp_form_parse(&q->form, q->r->content_type, q->body, q->len,
	    &err) == -1)
		why = err.msg;
	else if ((f = sp_form_get(&q->form, "csrf")) == NULL)
		why = "no CSRF token";
	else if (f->len != TOKEN_HEX ||
	    CRYPTO_memcmp(f->value, want, TOKEN_HEX) != 0)
		why = "wrong CSRF token";
	if (why == NULL)
		return true;
	portal_audit(q->c->pt, who != NULL ? who->user : NULL, who != NULL ?
	    who->org : NULL, q->c->ip, q->r->path, NULL, "refused", why);
	snprintf(q->refused, sizeof(q->refused), "%s (%s)", foreign ?
	    "the request comes from another site" : CSRF_REFUSED, why);
	return false;
}

/* A form of a logged-in page: the session's token. */
static bool
post_allowed(struct req *q)
{
	return form_allowed(q, q->have ? q->s.csrf : NULL, "no session",
	    q->have ? &q->s : NULL);
}

static const char *
field(const struct req *q, const char *name)
{
	const struct sp_form_field *f = sp_form_get(&q->form, name);

	/* Text fields are C strings: one holding a NUL is not read at all
	 * ("check\0junk" is not "check"). */
	return f != NULL && strlen(f->value) == f->len ? f->value : NULL;
}

static void
login_form(struct page *p, const char *csrf, const char *user)
{
	pg(p, "<h1>Log in</h1><p class=\"muted\">Your organisation's account "
	    "at this CA: it obtains the certificates of your provisioning "
	    "servers.</p><form id=\"login\" class=\"login\" method=\"post\" "
	    "action=\"/login\"><input type=\"hidden\" name=\"csrf\" "
	    "value=\"%s\"><label for=\"user\">User</label><input id=\"user\" "
	    "name=\"user\" type=\"text\" autocomplete=\"username\" value=\"",
	    csrf);
	esc_s(p, user);
	pg(p, "\" required><label for=\"password\">Password</label><input "
	    "id=\"password\" name=\"password\" type=\"password\" "
	    "autocomplete=\"current-password\" required><button "
	    "id=\"login-submit\" type=\"submit\">Log in</button></form>");
}

static int
get_login(struct req *q)
{
	char csrf[TOKEN_HEX + 1];
	struct page p;
	bool fresh = false;

	if (q->have && q->s.in)
		return redirect(q->t, "/certs", NULL, false);
	if (strlen(q->pre) != TOKEN_HEX) {
		if (token(q->pre) == -1)
			return message(q->t, NULL, 500, "Error", "no nonce");
		fresh = true;
	}
	if (login_token(q->c->pt->sess, q->pre, csrf) == -1)
		return message(q->t, NULL, 500, "Error", "no token");
	page_begin(&p, "Log in", NULL);
	login_form(&p, csrf, "");
	if (fresh)
		set_cookie_named(&p, PRE_COOKIE, q->pre);
	return page_send(q->t, &p, 200);
}

/* The login form's POST: its token is the one for its nonce cookie. */
static bool
login_allowed(struct req *q, char csrf[TOKEN_HEX + 1])
{
	return form_allowed(q, login_token(q->c->pt->sess, q->pre, csrf) == 0 ?
	    csrf : NULL, "no login cookie: load the login page again", NULL);
}

static int
post_login(struct req *q)
{
	struct portal *pt = q->c->pt;
	struct session ns;
	struct page p;
	const char *user, *pw;
	char org[SP_ACCOUNT_ORG_MAX + 1], csrf[TOKEN_HEX + 1];
	char stamp[SP_ACCOUNT_STAMP_LEN + 1];
	int rc, after = 0, status;

	if (!login_allowed(q, csrf))
		return message(q->t, NULL, 403, "Refused", q->refused);
	user = field(q, "user");
	pw = field(q, "password");
	if (user == NULL || pw == NULL)
		return message(q->t, NULL, 400, "Refused", "user and password "
		    "are needed");
	rc = portal_login(pt, user, pw, q->c->ip, org, &after);
	if (rc == SP_ACCOUNT_LOGIN_OK) {
		pthread_mutex_lock(&pt->acc_lock);
		if (sp_accounts_user_state(pt->acc, user, org, stamp) != 1)
			rc = -1;
		pthread_mutex_unlock(&pt->acc_lock);
	}
	if (rc == SP_ACCOUNT_LOGIN_OK) {
		/* A new random id: nothing planted before login counts. */
		if (q->have)
			sess_drop(pt->sess, q->s.id);
		if (sess_new(pt->sess, user, org, stamp, &ns) == -1)
			return message(q->t, NULL, 500, "Error", "no session");
		portal_audit(pt, user, org, q->c->ip, "login", NULL, "ok",
		    NULL);
		page_begin(&p, "Moved", NULL);
		pg(&p, "<p><a href=\"/certs\">Continue</a></p>");
		set_cookie(&p, &ns);
		set_cookie_named(&p, PRE_COOKIE, NULL);
		snprintf(p.extra + strlen(p.extra), sizeof(p.extra) -
		    strlen(p.extra), "Location: /certs\r\n");
		return page_send(q->t, &p, 303);
	}
	portal_audit(pt, user, NULL, q->c->ip, "login", NULL,
	    rc == SP_ACCOUNT_LOGIN_THROTTLED ? "throttled" : rc == -1 ?
	    "error" : "refused", NULL);
	page_begin(&p, "Log in", NULL);
	pg(&p, "<p id=\"error\" class=\"error\">");
	if (rc == SP_ACCOUNT_LOGIN_THROTTLED) {
		pg(&p, "too many failed logins: try again in %d minute%s, or "
		    "ask the CA's operator", (after + 59) / 60,
		    (after + 59) / 60 == 1 ? "" : "s");
		snprintf(p.extra, sizeof(p.extra), "Retry-After: %d\r\n",
		    after);
		status = 429;
	} else if (rc == -1) {
		pg(&p, "the account database failed: try again later");
		status = 503;
	} else {
		pg(&p, "wrong user or password");
		status = 401;
	}
	pg(&p, "</p>");
	login_form(&p, csrf, user);
	return page_send(q->t, &p, status);
}

static int
post_logout(struct req *q)
{
	if (!post_allowed(q))
		return message(q->t, q->have ? &q->s : NULL, 403, "Refused",
		    q->refused);
	sess_drop(q->c->pt->sess, q->s.id);
	portal_audit(q->c->pt, q->s.user, q->s.org, q->c->ip, "logout", NULL,
	    "ok", NULL);
	return redirect(q->t, "/login", NULL, true);
}

struct list_arg {
	struct page	*p;
	size_t		 n;
};

static int
list_row(void *arg, const struct sp_certreq *r)
{
	struct list_arg *a = arg;
	char exp[32];

	fmt_utc(r->not_after, false, exp, sizeof(exp));
	pg(a->p, "<tr data-id=\"%lld\"><td><a class=\"view\" href=\"/cert/"
	    "%lld\">%lld</a></td><td class=\"cn\">", r->id, r->id, r->id);
	esc_s(a->p, r->cn);
	pg(a->p, "</td><td class=\"state\">%s</td><td class=\"expires\">%s"
	    "</td><td>", state_word(r), exp);
	esc_s(a->p, r->user);
	pg(a->p, " (%s)</td></tr>\n", r->via);
	a->n++;
	return 0;
}

static int
get_certs(struct req *q)
{
	struct portal *pt = q->c->pt;
	struct list_arg a;
	struct page p;
	int rc;

	page_begin(&p, "Certificates", &q->s);
	pg(&p, "<h1>Certificates of ");
	esc_s(&p, q->s.org);
	pg(&p, "</h1><p><a id=\"new-link\" href=\"/new\">Request a "
	    "certificate</a></p><table id=\"certs\"><thead><tr><th>Request"
	    "</th><th>CN</th><th>State</th><th>Expires</th><th>By</th></tr>"
	    "</thead><tbody>\n");
	a.p = &p;
	a.n = 0;
	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_certreq_list(pt->acc, q->s.org, false, list_row, &a);
	pthread_mutex_unlock(&pt->acc_lock);
	pg(&p, "</tbody></table>");
	if (rc == -1)
		pg(&p, "<p class=\"error\">the list could not be read</p>");
	else if (a.n == 0)
		pg(&p, "<p id=\"empty\" class=\"muted\">No certificate yet.</p>");
	return page_send(q->t, &p, rc == -1 ? 503 : 200);
}

struct dom_arg {
	struct page	*p;
	const char	*org;
	size_t		 n;
};

static int
dom_row(void *arg, const struct sp_account_row *r)
{
	struct dom_arg *a = arg;

	if (r->kind != SP_ACCOUNT_DOMAIN || strcmp(r->org, a->org) != 0)
		return 0;
	pg(a->p, "%s<code>", a->n++ ? ", " : "");
	esc_s(a->p, r->name);
	pg(a->p, "</code>");
	return 0;
}

/* How to fix what the policy refused, as a provider would do it. */
static const char *
fix_for(const char *why)
{
	if (strstr(why, "not among the domains") != NULL)
		return "Use a name under one of your organisation's domains "
		    "(listed above) in the CN, or ask the CA's operator to add "
		    "the domain to your organisation.";
	if (strstr(why, "RSA key") != NULL || strstr(why, "EC key") != NULL ||
	    strstr(why, " key;") != NULL)
		return "Make a new key and CSR: openssl req -new -newkey "
		    "rsa:2048 -sha256 -nodes -keyout provserver.key -out "
		    "provserver.csr -subj \"/CN=pv.example.net\" (or an EC "
		    "key: -newkey ec -pkeyopt ec_paramgen_curve:P-256).";
	if (strstr(why, "signed with") != NULL ||
	    strstr(why, "signature algorithm") != NULL)
		return "Sign the CSR again with SHA-256: openssl req -new "
		    "-sha256 -key provserver.key -out provserver.csr.";
	if (strstr(why, "CN") != NULL)
		return "The CN must be the server's FQDN, optionally followed "
		    "by '/' and free text: -subj "
		    "\"/CN=pv.example.net/mailto:admin@example.net\".";
	if (strstr(why, "basicConstraints") != NULL ||
	    strstr(why, "keyUsage") != NULL || strstr(why, "CA:TRUE") != NULL)
		return "Make the CSR without CA extensions (no -addext "
		    "basicConstraints=CA:TRUE, no keyCertSign).";
	if (strstr(why, "validity") != NULL)
		return "Choose one of the validities offered.";
	return "Paste the whole file made by openssl req -new -out "
	    "provserver.csr, from -----BEGIN CERTIFICATE REQUEST----- to "
	    "-----END CERTIFICATE REQUEST-----, or upload it (PEM or DER).";
}

struct csr_form {
	const char	*pasted;	/* shown again; NULL: none */
	long		 days;
	int		 result;	/* 0 none, 1 ok, -1 refused */
	char		 why[SP_ERR_MAX + 128];
	struct sp_csr_info info;
};

static int
new_page(struct req *q, const struct csr_form *cf, int status)
{
	struct portal *pt = q->c->pt;
	struct dom_arg da;
	struct page p;
	size_t i;

	page_begin(&p, "New certificate", &q->s);
	pg(&p, "<h1>New provisioning-server certificate</h1><p>Your "
	    "organisation may obtain certificates for: ");
	da.p = &p;
	da.org = q->s.org;
	da.n = 0;
	pthread_mutex_lock(&pt->acc_lock);
	sp_accounts_list(pt->acc, dom_row, &da);
	pthread_mutex_unlock(&pt->acc_lock);
	if (da.n == 0)
		pg(&p, "<em>no domain yet: ask the CA's operator</em>");
	pg(&p, ".</p>");
	if (cf->result == 1) {
		pg(&p, "<div id=\"result\" class=\"ok\"><p>This request passes: "
		    "CN <code>");
		esc_s(&p, cf->info.cn);
		pg(&p, "</code> (server <code>");
		esc_s(&p, cf->info.fqdn);
		pg(&p, "</code>), %s key, signed with %s; valid %ld days once "
		    "signed.</p></div>", cf->info.key, cf->info.sig, cf->days);
	} else if (cf->result == -1) {
		pg(&p, "<div id=\"result\" class=\"error\"><p id=\"reason\">");
		esc_s(&p, cf->why);
		pg(&p, "</p><p id=\"fix\">");
		esc_s(&p, fix_for(cf->why));
		pg(&p, "</p></div>");
	}
	pg(&p, "<form id=\"csr-form\" method=\"post\" action=\"/new\" "
	    "enctype=\"multipart/form-data\"><input type=\"hidden\" "
	    "name=\"csrf\" value=\"%s\"><label for=\"csr\">Paste the CSR "
	    "(<code>openssl req -new -out provserver.csr</code>)</label>"
	    "<textarea id=\"csr\" name=\"csr\" spellcheck=\"false\">",
	    q->s.csrf);
	if (cf->pasted != NULL)
		esc_s(&p, cf->pasted);
	pg(&p, "</textarea><label for=\"csrfile\">or upload it (PEM or DER; "
	    "a file wins over the text)</label><input id=\"csrfile\" "
	    "name=\"csrfile\" type=\"file\"><label for=\"days\">Validity"
	    "</label><select id=\"days\" name=\"days\">");
	for (i = 0; i < sizeof(validity_choices) / sizeof(validity_choices[0]);
	    i++)
		if (validity_choices[i] <= pt->days_max)
			pg(&p, "<option value=\"%d\"%s>%d days</option>",
			    validity_choices[i], validity_choices[i] ==
			    cf->days ? " selected" : "", validity_choices[i]);
	pg(&p, "</select><div><button id=\"check\" type=\"submit\" "
	    "name=\"action\" value=\"check\">Check</button><button id=\"sign\" "
	    "type=\"submit\" name=\"action\" value=\"sign\">%s</button></div>"
	    "</form>", pt->queue ? "Submit to the CA" : "Sign");
	return page_send(q->t, &p, status);
}

static bool
days_allowed(const struct portal *pt, long d)
{
	size_t i;

	for (i = 0; i < sizeof(validity_choices) / sizeof(validity_choices[0]);
	    i++)
		if (validity_choices[i] == d && d <= pt->days_max)
			return true;
	return false;
}

static int
post_new(struct req *q)
{
	struct portal *pt = q->c->pt;
	const struct sp_form_field *file, *text;
	struct csr_form cf;
	struct sp_certreq r;
	struct sp_err err;
	const char *action, *days, *src = NULL;
	unsigned char *der = NULL;
	char obj[32], loc[64], *end;
	long long id = 0;
	size_t srclen = 0;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	int rc, status = 400, derlen;

	if (!post_allowed(q))
		return message(q->t, &q->s, 403, "Refused", q->refused);
	memset(&cf, 0, sizeof(cf));
	cf.days = pt->days;
	action = field(q, "action");
	text = sp_form_get(&q->form, "csr");
	file = sp_form_get(&q->form, "csrfile");
	if (text != NULL && text->len > 0 && strlen(text->value) == text->len)
		cf.pasted = text->value;
	if ((days = field(q, "days")) != NULL) {
		errno = 0;
		cf.days = strtol(days, &end, 10);
		if (errno != 0 || *end != '\0' || end == days)
			cf.days = -1;
	}
	if (action == NULL || (strcmp(action, "check") != 0 &&
	    strcmp(action, "sign") != 0)) {
		snprintf(cf.why, sizeof(cf.why), "the form's action is missing");
		goto refused;
	}
	if (!days_allowed(pt, cf.days)) {
		snprintf(cf.why, sizeof(cf.why), "validity of %s days refused: "
		    "the CA's policy offers at most %ld", days != NULL ? "those"
		    : "no", pt->days_max);
		cf.days = pt->days;
		goto refused;
	}
	if (file != NULL && file->len > 0) {
		src = file->value;
		srclen = file->len;
	} else if (text != NULL && text->len > 0) {
		src = text->value;
		srclen = text->len;
	} else {
		snprintf(cf.why, sizeof(cf.why), "no CSR: paste it or choose "
		    "its file");
		goto refused;
	}
	if ((req = sp_x509_csr_parse(src, srclen, &err)) == NULL ||
	    sp_x509_csr_check(req, &cf.info, &err) == -1) {
		snprintf(cf.why, sizeof(cf.why), "%s", err.msg);
		goto refused;
	}
	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_accounts_domain_allowed(pt->acc, q->s.org, cf.info.fqdn);
	pthread_mutex_unlock(&pt->acc_lock);
	if (rc != 1) {
		snprintf(cf.why, sizeof(cf.why), "%s is not among the domains "
		    "of %s", cf.info.fqdn, q->s.org);
		status = 403;
		goto refused;
	}
	if (strcmp(action, "check") == 0) {
		portal_audit(pt, q->s.user, q->s.org, q->c->ip, "check",
		    cf.info.cn, "passes", NULL);
		cf.result = 1;
		status = new_page(q, &cf, 200);
		goto out;
	}
	if (!pt->queue && (rc = portal_sign(pt, SIGN_SERVER, q->s.org,
	    q->s.user, cf.days, req, NULL, &x, cf.why, sizeof(cf.why))) !=
	    0) {
		status = rc == 1 ? 400 : 503;
		goto refused;
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.org, sizeof(r.org), "%s", q->s.org);
	snprintf(r.user, sizeof(r.user), "%s", q->s.user);
	snprintf(r.via, sizeof(r.via), "web");
	snprintf(r.cn, sizeof(r.cn), "%s", cf.info.cn);
	snprintf(r.fqdn, sizeof(r.fqdn), "%s", cf.info.fqdn);
	r.days = (int)cf.days;
	if ((derlen = i2d_X509_REQ(req, &der)) <= 0) {
		status = message(q->t, &q->s, 500, "Error", "cannot encode "
		    "the request");
		goto out;
	}
	r.csr = der;
	r.csrlen = (size_t)derlen;
	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_certreq_add(pt->acc, &r, x, &id);
	if (rc == -1)
		snprintf(cf.why, sizeof(cf.why), "%s",
		    sp_accounts_error(pt->acc));
	pthread_mutex_unlock(&pt->acc_lock);
	if (rc == -1) {
		char msg[SP_ERR_MAX + 256], sn[80] = "";

		/* Signed but not kept here: say so, with what the operator
		 * needs to find it in the CA's index. */
		if (x != NULL)
			sp_x509_serial_hex(x, sn, sizeof(sn));
		snprintf(msg, sizeof(msg), "%s%s%s: %s", x != NULL ?
		    "the certificate was signed (serial " : "the request could "
		    "not be recorded", sn, x != NULL ? ") but could not be "
		    "recorded here; give the serial to the CA's operator" : "",
		    cf.why);
		portal_audit(pt, q->s.user, q->s.org, q->c->ip, "request",
		    sn[0] ? sn : NULL, "error", cf.why);
		status = message(q->t, &q->s, 503, "Error", msg);
		goto out;
	}
	snprintf(obj, sizeof(obj), "%lld", id);
	portal_audit(pt, q->s.user, q->s.org, q->c->ip, "request", obj,
	    x != NULL ? "issued" : "pending", cf.info.cn);
	snprintf(loc, sizeof(loc), "/cert/%lld", id);
	status = redirect(q->t, loc, NULL, false);
	goto out;
refused:
	portal_audit(pt, q->s.user, q->s.org, q->c->ip, action != NULL &&
	    strcmp(action, "sign") == 0 ? "request" : "check", cf.info.cn[0] ?
	    cf.info.cn : NULL, "refused", cf.why);
	cf.result = -1;
	status = new_page(q, &cf, status);
out:
	OPENSSL_free(der);
	X509_free(x);
	X509_REQ_free(req);
	return status;
}

/* The request of id when it is the session's organisation's: 0, else
 * the status already sent. */
static int
own_request(struct req *q, const char *idtext, struct sp_certreq *r)
{
	struct portal *pt = q->c->pt;
	char *end;
	long long id;
	int rc;

	memset(r, 0, sizeof(*r));
	errno = 0;
	id = strtoll(idtext, &end, 10);
	if (errno != 0 || end == idtext || *end != '\0' || id <= 0)
		return message(q->t, &q->s, 404, "Not found", "no such "
		    "certificate");
	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_certreq_get(pt->acc, id, r);
	pthread_mutex_unlock(&pt->acc_lock);
	if (rc == -1)
		return message(q->t, &q->s, 503, "Error", "the request could "
		    "not be read");
	if (rc == 1 || strcmp(r->org, q->s.org) != 0) {
		sp_certreq_release(r);
		return message(q->t, &q->s, 404, "Not found", "no such "
		    "certificate");
	}
	return 0;
}

/* The certificate of r, then the server-CA root, as PEM. */
static int
chain_pem(struct portal *pt, const struct sp_certreq *r, struct sp_buf *out)
{
	const unsigned char *p = r->cert;
	struct sp_err err;
	X509 *x;
	int rc;

	if ((x = d2i_X509(NULL, &p, (long)r->certlen)) == NULL)
		return -1;
	rc = sp_x509_cert_pem(x, out, &err) == -1 ||
	    sp_x509_cert_pem(pt->cacert, out, &err) == -1 ? -1 : 0;
	X509_free(x);
	return rc;
}

static int
get_cert(struct req *q, const char *idtext)
{
	struct portal *pt = q->c->pt;
	struct sp_certreq r;
	struct sp_buf pem;
	struct page p;
	char t1[40], t2[40];
	size_t i;
	int rc;

	if ((rc = own_request(q, idtext, &r)) != 0)
		return rc;
	page_begin(&p, "Certificate", &q->s);
	pg(&p, "<h1>Request <span id=\"request-id\">%lld</span>: <span "
	    "id=\"cn\">", r.id);
	esc_s(&p, r.cn);
	pg(&p, "</span></h1><dl><dt>State</dt><dd><span id=\"state\">%s"
	    "</span></dd><dt>Requested</dt><dd>", state_word(&r));
	fmt_utc(r.created, true, t1, sizeof(t1));
	pg(&p, "%s by ", t1);
	esc_s(&p, r.user);
	pg(&p, " (%s)</dd><dt>Validity asked</dt><dd>%d days</dd>", r.via,
	    r.days);
	if (strcmp(r.state, "issued") == 0) {
		fmt_utc(r.not_after, false, t2, sizeof(t2));
		pg(&p, "<dt>Serial</dt><dd><span id=\"serial\">%s</span></dd>"
		    "<dt>Expires</dt><dd><span id=\"expires\">%s</span></dd>",
		    r.serial, t2);
	}
	pg(&p, "</dl>");
	if (strcmp(r.state, "pending") == 0)
		pg(&p, "<p id=\"pending\" class=\"muted\">Waiting for the CA's "
		    "operator to sign it; come back later.</p>");
	else if (strcmp(r.state, "rejected") == 0) {
		pg(&p, "<p class=\"error\">Rejected by the CA's operator: <span "
		    "id=\"why\">");
		esc_s(&p, r.why);
		pg(&p, "</span></p>");
	} else {
		sp_buf_init(&pem, 64 * 1024);
		if (chain_pem(pt, &r, &pem) == 0) {
			pg(&p, "<p><a id=\"download\" href=\"/cert/%lld/download"
			    "\">Download the certificate with its chain "
			    "(PEM)</a></p><pre id=\"pem\">", r.id);
			esc(&p, pem.data, pem.len);
			pg(&p, "</pre>");
		}
		sp_buf_release(&pem);
		if (strcmp(r.revoke, "none") == 0) {
			pg(&p, "<h2>Revocation</h2><form id=\"revoke\" "
			    "method=\"post\" action=\"/cert/%lld/revoke\">"
			    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			    "<label for=\"reason\">Reason</label><select "
			    "id=\"reason\" name=\"reason\">", r.id, q->s.csrf);
			for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]);
			    i++)
				pg(&p, "<option value=\"%s\">%s</option>",
				    reasons[i].name, reasons[i].name);
			pg(&p, "</select><div><button id=\"revoke-submit\" "
			    "type=\"submit\">%s</button></div></form>",
			    pt->queue ? "Request revocation" : "Revoke");
		}
	}
	sp_certreq_release(&r);
	return page_send(q->t, &p, 200);
}

static int
get_download(struct req *q, const char *idtext)
{
	struct portal *pt = q->c->pt;
	struct sp_certreq r;
	struct sp_buf pem;
	char extra[256], name[SP_FQDN_MAX + 1];
	int rc;

	if ((rc = own_request(q, idtext, &r)) != 0)
		return rc;
	if (strcmp(r.state, "issued") != 0) {
		sp_certreq_release(&r);
		return message(q->t, &q->s, 404, "Not found", "no certificate "
		    "issued for this request");
	}
	sp_buf_init(&pem, 64 * 1024);
	if (chain_pem(pt, &r, &pem) == -1) {
		rc = message(q->t, &q->s, 500, "Error", "the stored "
		    "certificate is damaged");
	} else {
		/* The FQDN is letters, digits, '-' and '.': a safe name. */
		snprintf(name, sizeof(name), "%s", r.fqdn);
		snprintf(extra, sizeof(extra), "Content-Disposition: "
		    "attachment; filename=\"%s.pem\"\r\n", name);
		portal_respond(q->t, 200, "application/x-pem-file", extra,
		    pem.data, pem.len);
		portal_audit(pt, q->s.user, q->s.org, q->c->ip, "download",
		    r.serial, "ok", NULL);
		rc = 200;
	}
	sp_buf_release(&pem);
	sp_certreq_release(&r);
	return rc;
}

static int
post_revoke(struct req *q, const char *idtext)
{
	struct portal *pt = q->c->pt;
	struct sp_certreq r;
	const char *why = NULL, *rs;
	char msg[SP_ERR_MAX + 64], loc[64], obj[32];
	int code = -1, rc;
	size_t i;

	if (!post_allowed(q))
		return message(q->t, &q->s, 403, "Refused", q->refused);
	if ((rc = own_request(q, idtext, &r)) != 0)
		return rc;
	rs = field(q, "reason");
	for (i = 0; rs != NULL && i < sizeof(reasons) / sizeof(reasons[0]);
	    i++)
		if (strcmp(rs, reasons[i].name) == 0)
			code = reasons[i].code;
	snprintf(obj, sizeof(obj), "%lld", r.id);
	if (code == -1)
		why = "choose a reason among those offered";
	else if (strcmp(r.state, "issued") != 0 ||
	    strcmp(r.revoke, "none") != 0)
		why = "this certificate is not issued, or its revocation was "
		    "already asked for";
	else if (pt->queue) {
		pthread_mutex_lock(&pt->acc_lock);
		if (sp_certreq_revoke_request(pt->acc, r.id, code) == -1) {
			snprintf(msg, sizeof(msg), "%s",
			    sp_accounts_error(pt->acc));
			why = msg;
		}
		pthread_mutex_unlock(&pt->acc_lock);
	} else if (portal_revoke(pt, q->s.org, q->s.user, r.serial, code, msg,
	    sizeof(msg)) != 0)
		why = msg;
	else {
		pthread_mutex_lock(&pt->acc_lock);
		if (sp_certreq_revoke_done(pt->acc, r.id, code) == -1)
			fprintf(stderr, "sprov-ca serve: %s\n",
			    sp_accounts_error(pt->acc));
		pthread_mutex_unlock(&pt->acc_lock);
	}
	portal_audit(pt, q->s.user, q->s.org, q->c->ip, pt->queue ?
	    "revoke-request" : "revoke", obj, why == NULL ? "ok" : "refused",
	    why != NULL ? why : rs);
	sp_certreq_release(&r);
	if (why != NULL)
		return message(q->t, &q->s, 400, "Refused", why);
	snprintf(loc, sizeof(loc), "/cert/%s", idtext);
	return redirect(q->t, loc, NULL, false);
}

static bool
account_current(struct portal *pt, const struct session *s)
{
	char org[SP_ACCOUNT_ORG_MAX + 1], stamp[SP_ACCOUNT_STAMP_LEN + 1];
	int rc;

	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_accounts_user_state(pt->acc, s->user, org, stamp);
	pthread_mutex_unlock(&pt->acc_lock);
	return rc == 1 && strcmp(org, s->org) == 0 &&
	    strcmp(stamp, s->stamp) == 0;
}

/* "/cert/ID" or "/cert/ID/what" into id and what ("" for none). */
static bool
cert_path(const char *path, char *id, size_t idsz, const char **what)
{
	const char *p = path + strlen("/cert/"), *slash;
	size_t n;

	if (strncmp(path, "/cert/", 6) != 0)
		return false;
	slash = strchr(p, '/');
	n = slash != NULL ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= idsz)
		return false;
	memcpy(id, p, n);
	id[n] = '\0';
	*what = slash != NULL ? slash + 1 : "";
	return true;
}

int
web_route(struct cx *c, struct sp_tls_conn *t, const struct sp_http_req *r,
    const char *body, size_t len)
{
	struct req q;
	struct sp_err err;
	char cookie[TOKEN_HEX + 8], id[24];
	const char *what = "", *p = r->path;
	bool get = r->method == SP_HTTP_GET, post = r->method == SP_HTTP_POST;
	int status;

	memset(&q, 0, sizeof(q));
	q.c = c;
	q.t = t;
	q.r = r;
	q.body = body;
	q.len = len;
	sp_form_init(&q.form);
	if (strcmp(p, "/static/portal.css") == 0) {
		if (!get)
			return message(t, NULL, 405, "Refused", "GET only");
		portal_respond(t, 200, "text/css; charset=utf-8", NULL,
		    stylesheet, sizeof(stylesheet) - 1);
		return 200;
	}
	/* A malformed or doubled cookie is no session at all. */
	if (sp_form_cookie(r->cookie, COOKIE, cookie, sizeof(cookie), &err) ==
	    1)
		q.have = sess_find(c->pt->sess, cookie, &q.s);
	OPENSSL_cleanse(cookie, sizeof(cookie));
	if (sp_form_cookie(r->cookie, PRE_COOKIE, q.pre, sizeof(q.pre),
	    &err) != 1 || strlen(q.pre) != TOKEN_HEX)
		q.pre[0] = '\0';
	/* The account as it is now: disabled, moved or given a new
	 * password since the login, the session ends. */
	if (q.have && !account_current(c->pt, &q.s)) {
		sess_drop(c->pt->sess, q.s.id);
		q.have = false;
	}
	if (strcmp(p, "/login") == 0) {
		status = get ? get_login(&q) : post ? post_login(&q) :
		    message(t, NULL, 405, "Refused", "GET or POST");
		goto out;
	}
	if (strcmp(p, "/") != 0 && strcmp(p, "/certs") != 0 &&
	    strcmp(p, "/new") != 0 && strcmp(p, "/logout") != 0 &&
	    !cert_path(p, id, sizeof(id), &what)) {
		status = 0;
		goto out;
	}
	if (!q.have || !q.s.in) {
		status = post ? message(t, NULL, 403, "Refused", "log in "
		    "first (" CSRF_REFUSED ")") : redirect(t, "/login", NULL,
		    false);
		goto out;
	}
	if (strcmp(p, "/") == 0 && get)
		status = redirect(t, "/certs", NULL, false);
	else if (strcmp(p, "/certs") == 0 && get)
		status = get_certs(&q);
	else if (strcmp(p, "/new") == 0 && get) {
		struct csr_form cf;

		memset(&cf, 0, sizeof(cf));
		cf.days = c->pt->days;
		status = new_page(&q, &cf, 200);
	} else if (strcmp(p, "/new") == 0 && post)
		status = post_new(&q);
	else if (strcmp(p, "/logout") == 0 && post)
		status = post_logout(&q);
	else if (strncmp(p, "/cert/", 6) == 0 && *what == '\0' && get)
		status = get_cert(&q, id);
	else if (strncmp(p, "/cert/", 6) == 0 &&
	    strcmp(what, "download") == 0 && get)
		status = get_download(&q, id);
	else if (strncmp(p, "/cert/", 6) == 0 &&
	    strcmp(what, "revoke") == 0 && post)
		status = post_revoke(&q, id);
	else if (strncmp(p, "/cert/", 6) == 0 && *what != '\0' &&
	    strcmp(what, "download") != 0 && strcmp(what, "revoke") != 0)
		status = message(t, &q.s, 404, "Not found", "no such page");
	else
		status = message(t, &q.s, 405, "Refused", "method not "
		    "allowed here");
out:
	sp_form_release(&q.form);
	OPENSSL_cleanse(&q.s, sizeof(q.s));
	return status;
}
