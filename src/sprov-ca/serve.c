/*
 * sprov-ca serve -f portal.conf: the CA's online face.  HTTPS with the
 * provider pages (web.c) and EST (RFC 7030): /.well-known/est/cacerts,
 * /simpleenroll (an account, HTTP Basic over TLS) and /simplereenroll
 * (the current certificate as TLS client certificate).
 *
 * Where the key lives (`mode`):
 *  - online: a signer process is forked first, before anything reads the
 *    network: it alone opens the CA (and so its keys), and takes requests
 *    over a SOCK_SEQPACKET socketpair as typed, size-checked messages.  A
 *    request the portal has checked (login, CSR policy, the
 *    organisation's domains) is checked again where the signer can
 *    (policy, the current certificate's signature and status in the
 *    index), signed, recorded in the CA index, and returned.
 *  - queue: no signer and no key: requests wait in portal.db until an
 *    operator signs them offline (`sprov-ca approve ID`).
 *
 * The portal serves each connection on its own thread with blocking
 * sockets and deadlines (providers, not a fleet of phones).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sprov/account.h"
#include "sprov/buf.h"
#include "sprov/ca.h"
#include "sprov/certreq.h"
#include "sprov/cfg.h"
#include "sprov/est.h"
#include "sprov/form.h"
#include "sprov/fsutil.h"
#include "sprov/http.h"
#include "sprov/limits.h"
#include "sprov/net.h"
#include "sprov/tls.h"
#include "sprov/x509.h"
#include "sprov-ca/serve.h"
#include "sprov-ca/sprov-ca.h"

#define EST_PREFIX	"/.well-known/est"
#define PORTAL_BACKLOG	128
#define PORTAL_LISTEN_MAX	8
#define SIGN_MAGIC_REQ	0x53505251u	/* "SPRQ" */
#define SIGN_MAGIC_REP	0x53505250u	/* "SPRP" */
#define BODY_MAX	(SP_FORM_BODY_MAX > SP_EST_BODY_MAX ? \
			    SP_FORM_BODY_MAX : SP_EST_BODY_MAX)

/* Portal -> signer: the header, then len_a bytes (a PKCS#10 in DER) and
 * len_b bytes (the current certificate in DER, re-enrolment). */
struct sign_req {
	uint32_t	magic;
	uint32_t	type;
	uint32_t	days;
	uint32_t	reason;
	uint32_t	len_a;
	uint32_t	len_b;
	char		org[SP_ACCOUNT_ORG_MAX + 1];
	char		user[SP_ACCOUNT_USER_MAX + 1];
	char		serial[80];
};

/* Signer -> portal: the header, then len bytes (DER, or a reason). */
struct sign_rep {
	uint32_t	magic;
	uint32_t	status;		/* 0 done, 1 refused */
	uint32_t	len;
};

static const struct sp_cfg_key schema[] = {
	{ "listen", SP_CFG_REPEAT | SP_CFG_REQUIRED },
	{ "listen_report", 0 },
	{ "cert", SP_CFG_REQUIRED },
	{ "key", SP_CFG_REQUIRED },
	{ "mode", 0 },
	{ "days", 0 },
	{ "days_max", 0 },
	{ "device_renewal", 0 },
	{ "user", 0 },
};

/* ------------------------------------------------------------- signer */

/* What the signer enforces whatever the portal asks (set before the fork). */
struct signer_policy {
	bool		device_renewal;
	long		days_max;		/* server certificates */
};

/* A renewed device certificate keeps the lifetime of the current one. */
static long
cert_days(X509 *x)
{
	int d = 0, sec = 0;

	if (ASN1_TIME_diff(&d, &sec, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)) != 1 || d < 1)
		return SP_DAYS_DEVICE_DEFAULT;
	return d > SP_DAYS_MAX ? SP_DAYS_MAX : d;
}


static void
signer_reply(int fd, uint32_t status, const void *p, size_t len)
{
	unsigned char buf[sizeof(struct sign_rep) + SP_SIGNER_MSG_MAX];
	struct sign_rep h = { SIGN_MAGIC_REP, status, (uint32_t)len };

	if (len > SP_SIGNER_MSG_MAX)
		return;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), p, len);
	(void)send(fd, buf, sizeof(h) + len, MSG_NOSIGNAL);
}

/* A device's new key: what the device CA issues for (as for bulk). */
static const char *
device_key_refused(X509_REQ *req)
{
	EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
	char group[64];

	if (pk == NULL || X509_REQ_verify(req, pk) != 1)
		return "the CSR's signature does not verify";
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(pk) < SP_RSA_MIN_BITS ||
		    EVP_PKEY_get_bits(pk) > SP_RSA_MAX_BITS)
			return "the CSR's RSA key must have 2048 to 4096 bits";
		return NULL;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pk,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    NULL) != 1 || (strcmp(group, "prime256v1") != 0 &&
		    strcmp(group, "secp384r1") != 0))
			return "the CSR's EC key must be on P-256 or P-384";
		return NULL;
	default:
		return "the CSR's key must be RSA or EC";
	}
}

/* One request: checked again, signed (or revoked), recorded. */
static void
signer_one(struct sp_ca *ca, const struct signer_policy *pol, int fd,
    const unsigned char *msg, size_t n)
{
	struct sign_req h;
	struct sp_csr_info info;
	struct sp_ca_row row;
	struct sp_err err;
	const unsigned char *p;
	unsigned char *der = NULL;
	X509_REQ *req = NULL;
	X509 *x = NULL, *old = NULL;
	char why[SP_ERR_MAX + 64], cn[SP_CN_MAX + 1], mac[SP_MAC_HEXLEN + 1];
	const char *bad = NULL;
	int len, intx = 0;

	if (n < sizeof(h)) {
		signer_reply(fd, 1, "signer: short message", 21);
		return;
	}
	memcpy(&h, msg, sizeof(h));
	if (h.magic != SIGN_MAGIC_REQ || h.type < SIGN_SERVER ||
	    h.type > SIGN_REVOKE || (uint64_t)h.len_a + h.len_b !=
	    n - sizeof(h) || h.days > SP_DAYS_MAX ||
	    memchr(h.org, '\0', sizeof(h.org)) == NULL ||
	    memchr(h.user, '\0', sizeof(h.user)) == NULL ||
	    memchr(h.serial, '\0', sizeof(h.serial)) == NULL) {
		bad = "signer: malformed request";
		goto out;
	}
	if (h.type == SIGN_REVOKE) {
		/* Only the reasons the pages offer reach a CRL. */
		if (h.reason != 0 && h.reason != 1 && h.reason != 4 &&
		    h.reason != 5)
			bad = "signer: revocation reason refused";
		else if (sp_ca_lookup(ca, h.serial, &row) != 0 ||
		    row.kind != SP_KIND_SERVER)
			bad = "signer: no such server certificate";
		else if (sp_ca_revoke_serial(ca, h.serial, (int)h.reason) ==
		    -1) {
			snprintf(why, sizeof(why), "%s", sp_ca_error(ca));
			bad = why;
		} else {
			fprintf(stderr, "sprov-ca serve: revoked %s for %s "
			    "(%s)\n", h.serial, h.user, h.org);
			signer_reply(fd, 0, "", 0);
		}
		goto out;
	}
	if (h.type == SIGN_RENEW_DEVICE && !pol->device_renewal) {
		bad = "signer: device renewal is not enabled";
		goto out;
	}
	if (h.type != SIGN_RENEW_DEVICE && (h.days == 0 ||
	    h.days > (uint32_t)pol->days_max)) {
		bad = "signer: validity out of policy";
		goto out;
	}
	p = msg + sizeof(h);
	if ((req = d2i_X509_REQ(NULL, &p, (long)h.len_a)) == NULL ||
	    p != msg + sizeof(h) + h.len_a) {
		bad = "signer: not one PKCS#10 request";
		goto out;
	}
	if (h.type != SIGN_SERVER && ((old = d2i_X509(NULL, &p,
	    (long)h.len_b)) == NULL || p != msg + n)) {
		bad = "signer: not one current certificate";
		goto out;
	}
	if (h.type == SIGN_RENEW_DEVICE) {
		if (sp_ca_check_current(ca, old, SP_CA_DEVICE, SP_KIND_DEVICE,
		    time(NULL)) == -1) {
			snprintf(why, sizeof(why), "%s", sp_ca_error(ca));
			bad = why;
			goto out;
		}
		if ((bad = device_key_refused(req)) != NULL)
			goto out;
		if (X509_NAME_cmp(X509_REQ_get_subject_name(req),
		    X509_get_subject_name(old)) != 0) {
			bad = "the CSR's subject differs from the current "
			    "certificate's";
			goto out;
		}
		if (sp_x509_name_get(X509_get_subject_name(old),
		    NID_stateOrProvinceName, mac, sizeof(mac)) == -1) {
			bad = "the current certificate names no MAC";
			goto out;
		}
		x = sp_ca_renew_device(ca, old, X509_REQ_get0_pubkey(req),
		    (int)cert_days(old));
	} else {
		if (sp_x509_csr_check(req, &info, &err) == -1) {
			snprintf(why, sizeof(why), "%s", err.msg);
			bad = why;
			goto out;
		}
		if (h.type == SIGN_RENEW_SERVER && sp_ca_check_current(ca,
		    old, SP_CA_SERVER, SP_KIND_SERVER, time(NULL)) == -1) {
			snprintf(why, sizeof(why), "%s", sp_ca_error(ca));
			bad = why;
			goto out;
		}
		if (h.type == SIGN_RENEW_SERVER && (sp_x509_name_cn(
		    X509_get_subject_name(old), cn, sizeof(cn), &err) == -1 ||
		    strcmp(cn, info.cn) != 0)) {
			bad = "the CSR's CN differs from the current "
			    "certificate's";
			goto out;
		}
		x = sp_ca_sign_server(ca, req, (int)h.days, &info);
	}
	if (x == NULL || sp_ca_begin(ca) == -1 || (intx = 1,
	    sp_ca_record(ca, x, h.type == SIGN_RENEW_DEVICE ? SP_KIND_DEVICE :
	    SP_KIND_SERVER, h.type == SIGN_RENEW_DEVICE ? SP_CA_DEVICE :
	    SP_CA_SERVER, h.type == SIGN_RENEW_DEVICE ? mac : NULL) == -1) ||
	    sp_ca_commit(ca) == -1) {
		snprintf(why, sizeof(why), "signer: %s", sp_ca_error(ca));
		bad = why;
		goto out;
	}
	intx = 0;
	if ((len = i2d_X509(x, &der)) <= 0) {
		bad = "signer: cannot encode the certificate";
		goto out;
	}
	fprintf(stderr, "sprov-ca serve: signed %s%s for %s (%s)\n",
	    h.type == SIGN_RENEW_DEVICE ? "device " : "CN=",
	    h.type == SIGN_RENEW_DEVICE ? mac : info.cn, h.user, h.org);
	signer_reply(fd, 0, der, (size_t)len);
out:
	if (bad != NULL)
		signer_reply(fd, 1, bad, strlen(bad));
	if (intx)
		sp_ca_rollback(ca);
	OPENSSL_free(der);
	X509_free(x);
	X509_free(old);
	X509_REQ_free(req);
}

static volatile sig_atomic_t signer_stopping, portal_stopping;
static volatile sig_atomic_t portal_reload, signer_gone;

static void
portal_stop(int sig)
{
	if (sig == SIGHUP)
		portal_reload = 1;
	else
		portal_stopping = 1;
}

/*
 * SIGHUP: the portal's certificate (and key) read again.  After `user`
 * the key file is out of reach: the certificate is re-read and must
 * match the key in use.  A failure keeps the running context.
 */
static void
reload_tls(struct portal *pt, const struct sp_tls_config *tc, bool dropped)
{
	struct sp_tls_server *n;
	struct sp_err err;

	n = dropped ? sp_tls_server_reload(pt->tls, tc, &err) :
	    sp_tls_server_new(tc, &err);
	if (n == NULL) {
		fprintf(stderr, "sprov-ca serve: reload refused, still "
		    "serving the old certificate: %s\n", err.msg);
		return;
	}
	sp_tls_server_unref(pt->tls);
	pt->tls = n;
	fprintf(stderr, "sprov-ca serve: reloaded %s\n", tc->cert[0]);
}


static void
signer_stop(int sig)
{
	(void)sig;
	signer_stopping = 1;
}

static void
signer_main(const struct ca_opts *o, const struct signer_policy *pol, int fd)
{
	unsigned char msg[sizeof(struct sign_req) + SP_SIGNER_MSG_MAX + 1];
	struct sigaction sa;
	struct sp_ca *ca;
	ssize_t n;

	/* SIGTERM (sent too when the portal dies) interrupts the wait
	 * (no SA_RESTART): the signer closes the CA and leaves. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = signer_stop;
	sigaction(SIGTERM, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	prctl(PR_SET_DUMPABLE, 0);
	if ((ca = open_ca(o, false)) == NULL)
		_exit(1);
	while (!signer_stopping) {
		n = recv(fd, msg, sizeof(msg), MSG_TRUNC);
		if (n <= 0)
			break;
		if ((size_t)n >= sizeof(msg)) {
			signer_reply(fd, 1, "signer: message too large", 25);
			continue;
		}
		signer_one(ca, pol, fd, msg, (size_t)n);
	}
	sp_ca_free(ca);
	_exit(0);
}

/* The portal side: one request at a time on the shared socket. */
static int
signer_call(struct portal *pt, const struct sign_req *hin,
    const unsigned char *a, const unsigned char *b, X509 **out, char *why,
    size_t whysz)
{
	unsigned char msg[sizeof(struct sign_req) + SP_SIGNER_MSG_MAX + 1];
	struct sign_req h = *hin;
	struct sign_rep r;
	const unsigned char *p;
	ssize_t n;

	if (out != NULL)
		*out = NULL;
	if (pt->signer == -1) {
		snprintf(why, whysz, "this portal has no signer (mode queue)");
		return -1;
	}
	if ((uint64_t)h.len_a + h.len_b > SP_SIGNER_MSG_MAX) {
		snprintf(why, whysz, "request too large for the signer");
		return 1;
	}
	h.magic = SIGN_MAGIC_REQ;
	memcpy(msg, &h, sizeof(h));
	if (h.len_a > 0)
		memcpy(msg + sizeof(h), a, h.len_a);
	if (h.len_b > 0)
		memcpy(msg + sizeof(h) + h.len_a, b, h.len_b);
	pthread_mutex_lock(&pt->signer_lock);
	if (send(pt->signer, msg, sizeof(h) + h.len_a + h.len_b,
	    MSG_NOSIGNAL) == -1)
		n = -1;
	else
		n = recv(pt->signer, msg, sizeof(msg), MSG_TRUNC);
	pthread_mutex_unlock(&pt->signer_lock);
	if (n <= 0) {
		/* The signer is gone: a portal that can never sign again
		 * stops, for its supervisor to start both anew. */
		snprintf(why, whysz, "the signer process is gone: the portal "
		    "stops");
		fprintf(stderr, "sprov-ca serve: %s\n", why);
		signer_gone = 1;
		kill(getpid(), SIGTERM);
		return -1;
	}
	if (n < (ssize_t)sizeof(r) || (size_t)n >= sizeof(msg)) {
		snprintf(why, whysz, "the signer's answer is malformed");
		return -1;
	}
	memcpy(&r, msg, sizeof(r));
	if (r.magic != SIGN_MAGIC_REP || r.len != (size_t)n - sizeof(r)) {
		snprintf(why, whysz, "the signer's answer is malformed");
		return -1;
	}
	if (r.status != 0) {
		snprintf(why, whysz, "%.*s", (int)r.len, msg + sizeof(r));
		return 1;
	}
	if (out == NULL)
		return 0;
	p = msg + sizeof(r);
	if ((*out = d2i_X509(NULL, &p, (long)r.len)) == NULL) {
		snprintf(why, whysz, "the signer's certificate is malformed");
		return -1;
	}
	return 0;
}

int
portal_sign(struct portal *pt, unsigned type, const char *org,
    const char *user, long days, X509_REQ *req, X509 *old, X509 **out,
    char *why, size_t whysz)
{
	struct sign_req h;
	unsigned char *a = NULL, *b = NULL;
	int la, lb = 0, rc;

	memset(&h, 0, sizeof(h));
	if ((la = i2d_X509_REQ(req, &a)) <= 0 || (old != NULL &&
	    (lb = i2d_X509(old, &b)) <= 0)) {
		snprintf(why, whysz, "cannot encode the request");
		rc = -1;
		goto out;
	}
	h.type = type;
	h.days = (uint32_t)days;
	h.len_a = (uint32_t)la;
	h.len_b = (uint32_t)lb;
	snprintf(h.org, sizeof(h.org), "%s", org);
	snprintf(h.user, sizeof(h.user), "%s", user);
	rc = signer_call(pt, &h, a, b, out, why, whysz);
out:
	OPENSSL_free(a);
	OPENSSL_free(b);
	return rc;
}

int
portal_revoke(struct portal *pt, const char *org, const char *user,
    const char *serial, int reason, char *why, size_t whysz)
{
	struct sign_req h;

	memset(&h, 0, sizeof(h));
	h.type = SIGN_REVOKE;
	h.reason = (uint32_t)reason;
	snprintf(h.org, sizeof(h.org), "%s", org);
	snprintf(h.user, sizeof(h.user), "%s", user);
	snprintf(h.serial, sizeof(h.serial), "%s", serial);
	return signer_call(pt, &h, NULL, NULL, NULL, why, whysz);
}

/* ------------------------------------------------------------- portal */

int
portal_login(struct portal *pt, const char *user, const char *password,
    const char *ip, char *org, int *retry_after)
{
	int rc;

	pthread_mutex_lock(&pt->login_lock);
	rc = sp_accounts_login(pt->acc_login, user, password, ip, time(NULL),
	    org, retry_after);
	pthread_mutex_unlock(&pt->login_lock);
	return rc;
}

void
portal_audit(struct portal *pt, const char *actor, const char *org,
    const char *ip, const char *action, const char *object,
    const char *outcome, const char *detail)
{
	struct sp_portal_audit e;

	memset(&e, 0, sizeof(e));
	e.actor = actor != NULL && *actor != '\0' ? actor : "-";
	e.org = org;
	e.ip = ip;
	e.action = action;
	e.object = object;
	e.outcome = outcome;
	e.detail = detail;
	pthread_mutex_lock(&pt->acc_lock);
	if (sp_portal_audit_add(pt->acc, &e) == -1)
		fprintf(stderr, "sprov-ca serve: audit: %s\n",
		    sp_accounts_error(pt->acc));
	pthread_mutex_unlock(&pt->acc_lock);
}

/*
 * The connection this thread serves: its socket is non-blocking, and
 * every wait for it is bounded by one deadline for the whole connection
 * (handshake, request, answer), so a client trickling a byte at a time
 * holds its slot for SP_PORTAL_REQUEST_S at most.
 */
static __thread int io_fd = -1;
static __thread time_t io_deadline;

/* 0 when the socket is ready for what TLS wants, -1 past the deadline. */
static int
io_wait(ssize_t want)
{
	struct pollfd p;
	time_t left = io_deadline - time(NULL);

	if (left <= 0 || io_fd == -1)
		return -1;
	p.fd = io_fd;
	p.events = want == SP_TLS_WANT_POLLOUT ? POLLOUT : POLLIN;
	p.revents = 0;
	return poll(&p, 1, (int)left * 1000) == 1 ? 0 : -1;
}

/* Bytes read (> 0), or -1: closed, failed, or past the deadline. */
static ssize_t
read_some(struct sp_tls_conn *t, char *p, size_t n)
{
	ssize_t r;

	while ((r = sp_tls_read(t, p, n)) == SP_TLS_WANT_POLLIN ||
	    r == SP_TLS_WANT_POLLOUT)
		if (io_wait(r) == -1)
			return -1;
	return r > 0 ? r : -1;
}

static int
send_all(struct sp_tls_conn *t, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = sp_tls_write(t, p, n);
		if (w == SP_TLS_WANT_POLLIN || w == SP_TLS_WANT_POLLOUT) {
			if (io_wait(w) == -1)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void
portal_respond(struct sp_tls_conn *t, int status, const char *ctype,
    const char *extra, const char *body, size_t len)
{
	char head[2048];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "%s\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "Cache-Control: no-store\r\nStrict-Transport-Security: "
	    "max-age=31536000\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
	    status, sp_http_reason(status), ctype, len,
	    extra != NULL ? extra : "");
	if (n > 0 && (size_t)n < sizeof(head) &&
	    send_all(t, head, (size_t)n) == 0 && len > 0)
		send_all(t, body, len);
}

static void
respond_text(struct sp_tls_conn *t, int status, const char *extra,
    const char *msg)
{
	char body[SP_ERR_MAX + 256];
	int n = snprintf(body, sizeof(body), "%s\n", msg);

	portal_respond(t, status, "text/plain; charset=utf-8", extra, body,
	    n > 0 ? (size_t)n : 0);
}

static void
respond_p7(struct sp_tls_conn *t, X509 *const *certs, size_t n)
{
	struct sp_buf b;
	struct sp_err err;

	sp_buf_init(&b, 1 << 20);
	if (sp_est_certs_only(certs, n, &b, &err) == -1)
		respond_text(t, 500, NULL, err.msg);
	else
		portal_respond(t, 200, "application/pkcs7-mime; "
		    "smime-type=certs-only", "Content-Transfer-Encoding: "
		    "base64\r\n", b.data, b.len);
	sp_buf_release(&b);
}

/* A stored certificate (DER) as PKCS#7. */
static void
respond_p7_der(struct sp_tls_conn *t, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x == NULL)
		respond_text(t, 500, NULL, "the stored certificate is damaged");
	else
		respond_p7(t, &x, 1);
	X509_free(x);
}

static int
respond_accepted(struct sp_tls_conn *t, long long id)
{
	char extra[64], msg[128];

	snprintf(extra, sizeof(extra), "Retry-After: %d\r\n",
	    SP_PORTAL_RETRY_S);
	snprintf(msg, sizeof(msg), "request %lld waits for the CA's operator: "
	    "post the same CSR again later", id);
	respond_text(t, 202, extra, msg);
	return 202;
}

/*
 * Queue mode: the request is recorded (or found again: an EST client
 * retries with the same CSR) and answered with its state.
 */
static int
est_queue(struct cx *c, struct sp_tls_conn *t, const char *org,
    const char *user, const struct sp_csr_info *info, X509_REQ *req,
    X509 *old)
{
	struct portal *pt = c->pt;
	struct sp_certreq r;
	unsigned char *der = NULL, *prev = NULL;
	char obj[32], why[SP_CERTREQ_WHY_MAX + 64];
	long long id = 0;
	int len, plen = 0, rc, status;

	memset(&r, 0, sizeof(r));
	if ((len = i2d_X509_REQ(req, &der)) <= 0 ||
	    (old != NULL && (plen = i2d_X509(old, &prev)) <= 0)) {
		OPENSSL_free(der);
		respond_text(t, 500, NULL, "cannot encode the request");
		return 500;
	}
	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_certreq_find_csr(pt->acc, org, der, (size_t)len, &r);
	if (rc == 1) {
		sp_certreq_release(&r);
		memset(&r, 0, sizeof(r));
		snprintf(r.org, sizeof(r.org), "%s", org);
		snprintf(r.user, sizeof(r.user), "%s", user);
		snprintf(r.via, sizeof(r.via), "est");
		snprintf(r.cn, sizeof(r.cn), "%s", info->cn);
		snprintf(r.fqdn, sizeof(r.fqdn), "%s", info->fqdn);
		r.days = (int)pt->days;
		r.csr = der;
		r.csrlen = (size_t)len;
		r.prev = prev;
		r.prevlen = (size_t)plen;
		rc = sp_certreq_add(pt->acc, &r, NULL, &id) == -1 ? -1 : 2;
		r.csr = r.prev = NULL;
		r.csrlen = r.prevlen = 0;
	}
	pthread_mutex_unlock(&pt->acc_lock);
	if (rc == -1) {
		respond_text(t, 500, NULL, "the request could not be recorded");
		status = 500;
	} else if (rc == 2) {
		snprintf(obj, sizeof(obj), "%lld", id);
		portal_audit(pt, user, org, c->ip, "request", obj, "pending",
		    info->cn);
		status = respond_accepted(t, id);
	} else if (strcmp(r.state, "issued") == 0 &&
	    strcmp(r.revoke, "done") == 0) {
		snprintf(why, sizeof(why), "request %lld: its certificate is "
		    "revoked", r.id);
		respond_text(t, 403, NULL, why);
		status = 403;
	} else if (strcmp(r.state, "issued") == 0) {
		respond_p7_der(t, r.cert, r.certlen);
		status = 200;
	} else if (strcmp(r.state, "rejected") == 0) {
		snprintf(why, sizeof(why), "request %lld was rejected: %s",
		    r.id, r.why);
		respond_text(t, 403, NULL, why);
		status = 403;
	} else
		status = respond_accepted(t, r.id);
	sp_certreq_release(&r);
	OPENSSL_free(der);
	OPENSSL_free(prev);
	return status;
}

/* Online: signed now, and kept with the organisation's requests. */
static int
est_online(struct cx *c, struct sp_tls_conn *t, unsigned type,
    const char *org, const char *user, const struct sp_csr_info *info,
    X509_REQ *req, X509 *old)
{
	struct portal *pt = c->pt;
	struct sp_certreq r;
	unsigned char *der = NULL;
	char why[SP_ERR_MAX + 128], obj[32];
	long long id = 0;
	X509 *x = NULL;
	int rc, len, status;

	rc = portal_sign(pt, type, org, user, pt->days, req, old, &x, why,
	    sizeof(why));
	if (rc != 0) {
		portal_audit(pt, user, org, c->ip, type == SIGN_SERVER ?
		    "enroll" : "reenroll", info->cn, "refused", why);
		respond_text(t, rc == 1 ? 400 : 503, NULL, why);
		return rc == 1 ? 400 : 503;
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.org, sizeof(r.org), "%s", org);
	snprintf(r.user, sizeof(r.user), "%s", user);
	snprintf(r.via, sizeof(r.via), "est");
	snprintf(r.cn, sizeof(r.cn), "%s", info->cn);
	snprintf(r.fqdn, sizeof(r.fqdn), "%s", info->fqdn);
	r.days = (int)pt->days;
	if ((len = i2d_X509_REQ(req, &der)) > 0) {
		r.csr = der;
		r.csrlen = (size_t)len;
		pthread_mutex_lock(&pt->acc_lock);
		if (sp_certreq_add(pt->acc, &r, x, &id) == -1)
			fprintf(stderr, "sprov-ca serve: recording request: "
			    "%s\n", sp_accounts_error(pt->acc));
		pthread_mutex_unlock(&pt->acc_lock);
	}
	snprintf(obj, sizeof(obj), "%lld", id);
	portal_audit(pt, user, org, c->ip, type == SIGN_SERVER ? "enroll" :
	    "reenroll", obj, "issued", info->cn);
	respond_p7(t, &x, 1);
	status = 200;
	OPENSSL_free(der);
	X509_free(x);
	return status;
}

/* POST /simpleenroll: who, what, whether it may; then sign or queue. */
static int
enroll(struct cx *c, struct sp_tls_conn *t, const struct sp_http_req *r,
    const char *body, size_t len)
{
	struct portal *pt = c->pt;
	char user[SP_ACCOUNT_USER_MAX + 2], pw[SP_ACCOUNT_PASSWORD_MAX + 2];
	char org[SP_ACCOUNT_ORG_MAX + 1], why[SP_ERR_MAX + 128], ra[64];
	struct sp_csr_info info;
	struct sp_err err;
	X509_REQ *req = NULL;
	int rc, after = 0, status;

	if (r->authorization[0] == '\0' || sp_est_basic_auth(
	    r->authorization, user, sizeof(user), pw, sizeof(pw), &err) ==
	    -1) {
		respond_text(t, 401, "WWW-Authenticate: Basic realm=\"sprov "
		    "EST\"\r\n", r->authorization[0] == '\0' ? "an account is "
		    "needed (HTTP Basic)" : err.msg);
		status = 401;
		goto out;
	}
	rc = portal_login(pt, user, pw, c->ip, org, &after);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc != SP_ACCOUNT_LOGIN_OK)
		portal_audit(pt, user, NULL, c->ip, "est-login", NULL,
		    rc == SP_ACCOUNT_LOGIN_THROTTLED ? "throttled" : "refused",
		    NULL);
	if (rc == SP_ACCOUNT_LOGIN_THROTTLED) {
		snprintf(ra, sizeof(ra), "Retry-After: %d\r\n", after);
		respond_text(t, 429, ra, "too many failed logins: try again "
		    "later");
		status = 429;
		goto out;
	}
	if (rc != SP_ACCOUNT_LOGIN_OK) {
		respond_text(t, 401, "WWW-Authenticate: Basic realm=\"sprov "
		    "EST\"\r\n", rc == -1 ? "the account database failed" :
		    "wrong user or password");
		status = 401;
		goto out;
	}
	if ((req = sp_est_csr_parse(body, len, &err)) == NULL ||
	    sp_x509_csr_check(req, &info, &err) == -1) {
		portal_audit(pt, user, org, c->ip, "enroll", NULL, "refused",
		    err.msg);
		respond_text(t, 400, NULL, err.msg);
		status = 400;
		goto out;
	}
	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_accounts_domain_allowed(pt->acc, org, info.fqdn);
	pthread_mutex_unlock(&pt->acc_lock);
	if (rc != 1) {
		snprintf(why, sizeof(why), "%s is not among the domains of %s: "
		    "ask the CA's operator to add it", info.fqdn, org);
		portal_audit(pt, user, org, c->ip, "enroll", info.cn,
		    "refused", why);
		respond_text(t, 403, NULL, why);
		status = 403;
		goto out;
	}
	status = pt->queue ? est_queue(c, t, org, user, &info, req, NULL) :
	    est_online(c, t, SIGN_SERVER, org, user, &info, req, NULL);
out:
	X509_REQ_free(req);
	return status;
}

/*
 * The client certificate of this connection, verified against the
 * server-CA and device-CA roots (any purpose: a provisioning server's
 * certificate says serverAuth).  Which root issued it in *root.
 */
static X509 *
peer_current(struct portal *pt, struct sp_tls_conn *t, enum sp_ca_root *root,
    char *why, size_t whysz)
{
	X509 *leaf = sp_tls_peer_cert_unverified(t);
	X509_STORE *st = NULL;
	X509_STORE_CTX *xs = NULL;
	STACK_OF(X509) *chain;
	X509 *top, *ok = NULL;

	if (leaf == NULL) {
		snprintf(why, whysz, "re-enrolment needs the current "
		    "certificate as TLS client certificate");
		return NULL;
	}
	if ((st = X509_STORE_new()) == NULL || X509_STORE_add_cert(st,
	    pt->cacert) != 1 || X509_STORE_add_cert(st, pt->devcacert) != 1 ||
	    (xs = X509_STORE_CTX_new()) == NULL || X509_STORE_CTX_init(xs, st,
	    leaf, sp_tls_peer_chain_unverified(t)) != 1) {
		snprintf(why, whysz, "out of memory");
		goto out;
	}
	X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_ANY);
	if (X509_verify_cert(xs) != 1) {
		snprintf(why, whysz, "the client certificate is not valid "
		    "under this CA: %s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xs)));
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(xs);
	top = sk_X509_value(chain, sk_X509_num(chain) - 1);
	*root = X509_cmp(top, pt->cacert) == 0 ? SP_CA_SERVER : SP_CA_DEVICE;
	ok = leaf;
out:
	X509_STORE_CTX_free(xs);
	X509_STORE_free(st);
	return ok;
}

/* POST /simplereenroll: the current certificate authenticates. */
static int
reenroll(struct cx *c, struct sp_tls_conn *t, const char *body, size_t len)
{
	struct portal *pt = c->pt;
	char why[SP_ERR_MAX + 128], org[SP_ACCOUNT_ORG_MAX + 1];
	char serial[80], who[96], cn[SP_CN_MAX + 1];
	struct sp_csr_info info;
	struct sp_err err;
	enum sp_ca_root root = SP_CA_SERVER;
	X509_REQ *req = NULL;
	X509 *old, *x = NULL;
	int rc, status;

	if ((old = peer_current(pt, t, &root, why, sizeof(why))) == NULL) {
		portal_audit(pt, NULL, NULL, c->ip, "reenroll", NULL,
		    "refused", why);
		respond_text(t, 401, NULL, why);
		return 401;
	}
	sp_x509_serial_hex(old, serial, sizeof(serial));
	snprintf(who, sizeof(who), "cert:%s", serial);
	if ((req = sp_est_csr_parse(body, len, &err)) == NULL) {
		respond_text(t, 400, NULL, err.msg);
		status = 400;
		goto out;
	}
	if (root == SP_CA_DEVICE) {
		if (!pt->device_renewal || pt->queue) {
			snprintf(why, sizeof(why), "device certificates are "
			    "not renewed here: the operator has not enabled "
			    "device_renewal%s", pt->queue ? " (it needs mode "
			    "online)" : "");
			portal_audit(pt, who, NULL, c->ip, "device-renew",
			    NULL, "refused", why);
			respond_text(t, 403, NULL, why);
			status = 403;
			goto out;
		}
		/* The signer decides the lifetime (the current one's). */
		rc = portal_sign(pt, SIGN_RENEW_DEVICE, "-", who, 0, req, old,
		    &x, why, sizeof(why));
		portal_audit(pt, who, NULL, c->ip, "device-renew", serial,
		    rc == 0 ? "issued" : "refused", rc == 0 ? NULL : why);
		if (rc != 0) {
			respond_text(t, rc == 1 ? 400 : 503, NULL, why);
			status = rc == 1 ? 400 : 503;
		} else {
			respond_p7(t, &x, 1);
			status = 200;
		}
		goto out;
	}
	if (sp_x509_csr_check(req, &info, &err) == -1) {
		respond_text(t, 400, NULL, err.msg);
		status = 400;
		goto out;
	}
	/* RFC 7030 4.2.2: the same subject.  Checked here for both modes
	 * (in queue mode nothing else sees it before the operator). */
	if (sp_x509_name_cn(X509_get_subject_name(old), cn, sizeof(cn),
	    &err) == -1 || strcmp(cn, info.cn) != 0) {
		snprintf(why, sizeof(why), "the CSR's CN differs from the "
		    "current certificate's (%s)", cn);
		portal_audit(pt, who, NULL, c->ip, "reenroll", info.cn,
		    "refused", why);
		respond_text(t, 400, NULL, why);
		status = 400;
		goto out;
	}
	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_accounts_domain_owner(pt->acc, info.fqdn, org);
	pthread_mutex_unlock(&pt->acc_lock);
	if (rc != 1) {
		snprintf(why, sizeof(why), "%s is not among the domains of any "
		    "organisation of this CA", info.fqdn);
		portal_audit(pt, who, NULL, c->ip, "reenroll", info.cn,
		    "refused", why);
		respond_text(t, 403, NULL, why);
		status = 403;
		goto out;
	}
	status = pt->queue ? est_queue(c, t, org, who, &info, req, old) :
	    est_online(c, t, SIGN_RENEW_SERVER, org, who, &info, req, old);
out:
	X509_free(x);
	X509_REQ_free(req);
	return status;
}

static int
est_route(struct cx *c, struct sp_tls_conn *t, const struct sp_http_req *r,
    const char *body, size_t len)
{
	const char *p = r->path + sizeof(EST_PREFIX) - 1;

	if (strcmp(p, "/cacerts") == 0) {
		if (r->method != SP_HTTP_GET) {
			respond_text(t, 405, "Allow: GET\r\n", "GET only");
			return 405;
		}
		respond_p7(t, &c->pt->cacert, 1);
		return 200;
	}
	if (strcmp(p, "/simpleenroll") != 0 &&
	    strcmp(p, "/simplereenroll") != 0) {
		respond_text(t, 404, NULL, "no such EST operation");
		return 404;
	}
	if (r->method != SP_HTTP_POST) {
		respond_text(t, 405, "Allow: POST\r\n", "POST only");
		return 405;
	}
	/* RFC 7030 4.2.1; a form of another site cannot send it either
	 * (re-enrolment authenticates by client certificate alone). */
	if (strncasecmp(r->content_type, "application/pkcs10", 18) != 0 ||
	    (r->content_type[18] != '\0' && r->content_type[18] != ';' &&
	    r->content_type[18] != ' ')) {
		respond_text(t, 415, NULL, "Content-Type: application/pkcs10 "
		    "expected (a base64 DER PKCS#10)");
		return 415;
	}
	return strcmp(p, "/simpleenroll") == 0 ? enroll(c, t, r, body, len) :
	    reenroll(c, t, body, len);
}

/* Counts a connection from ip: false when that address has too many. */
static bool
ip_enter(struct portal *pt, const char *ip)
{
	size_t i, free_slot = SP_PORTAL_CONNS_MAX;
	bool ok = false;

	pthread_mutex_lock(&pt->ip_lock);
	for (i = 0; i < SP_PORTAL_CONNS_MAX; i++) {
		if (pt->per_ip[i].n > 0 && strcmp(pt->per_ip[i].ip, ip) == 0)
			break;
		if (pt->per_ip[i].n == 0 && free_slot == SP_PORTAL_CONNS_MAX)
			free_slot = i;
	}
	if (i == SP_PORTAL_CONNS_MAX && free_slot < SP_PORTAL_CONNS_MAX) {
		i = free_slot;
		snprintf(pt->per_ip[i].ip, sizeof(pt->per_ip[i].ip), "%s", ip);
	}
	if (i < SP_PORTAL_CONNS_MAX && pt->per_ip[i].n <
	    SP_PORTAL_CONNS_PER_IP) {
		pt->per_ip[i].n++;
		ok = true;
	}
	pthread_mutex_unlock(&pt->ip_lock);
	return ok;
}

static void
ip_leave(struct portal *pt, const char *ip)
{
	size_t i;

	pthread_mutex_lock(&pt->ip_lock);
	for (i = 0; i < SP_PORTAL_CONNS_MAX; i++)
		if (pt->per_ip[i].n > 0 && strcmp(pt->per_ip[i].ip, ip) == 0) {
			pt->per_ip[i].n--;
			break;
		}
	pthread_mutex_unlock(&pt->ip_lock);
}

static void *
conn_main(void *arg)
{
	struct cx *c = arg;
	struct portal *pt = c->pt;
	struct sp_tls_conn *t = NULL;
	struct sp_http_req r;
	struct sp_err err;
	char *buf = NULL;
	size_t have = 0, need, cap = SP_HTTP_HEAD_MAX + BODY_MAX;
	ssize_t n;
	int rc = 0, status = 0, fl;

	io_fd = c->fd;
	io_deadline = time(NULL) + SP_PORTAL_REQUEST_S;
	if ((fl = fcntl(c->fd, F_GETFL)) == -1 ||
	    fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (buf = malloc(cap)) == NULL ||
	    (t = sp_tls_accept(c->tls, c->fd, &err)) == NULL)
		goto out;
	while ((rc = sp_tls_handshake(t)) == SP_TLS_WANT_POLLIN ||
	    rc == SP_TLS_WANT_POLLOUT)
		if (io_wait(rc) == -1)
			goto out;
	if (rc != 0)
		goto out;
	/* The head, then the body it announces (bounded). */
	while ((rc = sp_http_parse(buf, have, SP_HTTP_HEAD_MAX, &r)) == 0) {
		if ((n = read_some(t, buf + have, SP_HTTP_HEAD_MAX - have)) <
		    0)
			goto out;
		have += (size_t)n;
	}
	if (rc < 0) {
		respond_text(t, -rc, NULL, "malformed request");
		status = -rc;
		snprintf(r.path, sizeof(r.path), "-");
		goto log;
	}
	if (r.content_length > (off_t)BODY_MAX) {
		respond_text(t, 413, NULL, "request body too large");
		status = 413;
		/* Read (and drop) some of what the client is still sending:
		 * closing at once would reset the connection before it
		 * reads the answer.  Bounded by size and the deadline. */
		for (have = 0; have < SP_PORTAL_DRAIN_MAX; have += (size_t)n)
			if ((n = read_some(t, buf, cap)) < 0)
				break;
		goto log;
	}
	need = r.head_len + (size_t)(r.content_length > 0 ?
	    r.content_length : 0);
	while (have < need) {
		if ((n = read_some(t, buf + have, need - have)) < 0)
			goto out;
		have += (size_t)n;
	}
	if (strncmp(r.path, EST_PREFIX "/", sizeof(EST_PREFIX)) == 0)
		status = est_route(c, t, &r, buf + r.head_len,
		    need - r.head_len);
	else if ((status = web_route(c, t, &r, buf + r.head_len,
	    need - r.head_len)) == 0) {
		respond_text(t, 404, NULL, "no such page");
		status = 404;
	}
log:
	fprintf(stderr, "sprov-ca serve: %s %s %d\n", c->ip, r.path, status);
out:
	if (t != NULL)
		sp_tls_close(t);
	sp_tls_conn_free(t);
	close(c->fd);
	free(buf);
	sp_tls_server_unref(c->tls);
	ip_leave(pt, c->ipkey);
	atomic_fetch_sub(&pt->conns, 1);
	free(c);
	return NULL;
}

static X509 *
read_root(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct sp_err err;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	if ((x = sp_x509_cert_load(path, &err)) == NULL)
		fail("%s: %s", path, err.msg);
	return x;
}

int
cmd_serve(struct ca_opts *o)
{
	struct sp_tls_config tc;
	struct portal pt;
	struct sp_cfg *cfg = NULL;
	struct sp_err err;
	const char *v, *mode;
	char path[PATH_MAX];
	int sv[2] = { -1, -1 }, lfd[PORTAL_LISTEN_MAX], rc = EXIT_ERR;
	struct pollfd pfd[PORTAL_LISTEN_MAX];
	nfds_t nl = 0, k, next = 0;
	struct sigaction sa;
	sigset_t stopset, runset;
	bool dropped = false;
	size_t idx = 0;
	uint64_t days, days_max;
	int i;

	memset(&pt, 0, sizeof(pt));
	pt.signer = -1;
	if (o->conf == NULL)
		return fail("serve: -f portal.conf is needed");
	if ((cfg = sp_cfg_new(schema, sizeof(schema) / sizeof(schema[0]))) ==
	    NULL || sp_cfg_load(cfg, o->conf) == -1) {
		fail("%s", cfg != NULL ? sp_cfg_error(cfg) : "out of memory");
		goto out;
	}
	mode = sp_cfg_get(cfg, "mode");
	if (mode != NULL && strcmp(mode, "online") != 0 &&
	    strcmp(mode, "queue") != 0) {
		fail("%s: mode %s: `online` (a signer process holds the key) "
		    "or `queue` (an operator signs with sprov-ca approve)",
		    o->conf, mode);
		goto out;
	}
	pt.queue = mode != NULL && strcmp(mode, "queue") == 0;
	if ((v = sp_cfg_get(cfg, "device_renewal")) != NULL &&
	    strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
		fail("%s: device_renewal %s: yes or no", o->conf, v);
		goto out;
	}
	pt.device_renewal = v != NULL && strcmp(v, "yes") == 0;
	if (sp_cfg_get_u64(cfg, "days_max", 1, 825, 825, &days_max) == -1 ||
	    sp_cfg_get_u64(cfg, "days", 1, days_max,
	    days_max < SP_DAYS_SERVER_DEFAULT ? days_max :
	    SP_DAYS_SERVER_DEFAULT, &days) == -1) {
		fail("%s", sp_cfg_error(cfg));
		goto out;
	}
	pt.days = (long)days;
	pt.days_max = (long)days_max;
	/* The signer first: nothing of the network has been touched. */
	if (!pt.queue) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) == -1) {
			fail("socketpair: %s", strerror(errno));
			goto out;
		}
		if ((pt.signer_pid = fork()) == -1) {
			fail("fork: %s", strerror(errno));
			goto out;
		}
		if (pt.signer_pid == 0) {
			close(sv[0]);
			struct signer_policy pol = { pt.device_renewal,
			    pt.days_max };

			sp_cfg_free(cfg);	/* the portal's, not the signer's */
			signer_main(o, &pol, sv[1]);
		}
		close(sv[1]);
		sv[1] = -1;
		pt.signer = sv[0];
		sv[0] = -1;
	}
	pthread_mutex_init(&pt.signer_lock, NULL);
	pthread_mutex_init(&pt.acc_lock, NULL);
	pthread_mutex_init(&pt.login_lock, NULL);
	pthread_mutex_init(&pt.ip_lock, NULL);
	/* Public material only: the root certificates and the accounts. */
	if ((pt.cacert = read_root(o->dir, "server-ca")) == NULL ||
	    (pt.devcacert = read_root(o->dir, "device-ca")) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/portal.db", o->dir);
	if ((pt.acc = sp_accounts_open(path, &err)) == NULL ||
	    (pt.acc_login = sp_accounts_open(path, &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	if ((pt.sess = web_sessions_new()) == NULL) {
		fail("out of memory");
		goto out;
	}
	memset(&tc, 0, sizeof(tc));
	tc.cert[0] = sp_cfg_get(cfg, "cert");
	tc.key[0] = sp_cfg_get(cfg, "key");
	tc.ncerts = 1;
	tc.session_cache = 1024;
	tc.client_cert_any = true;
	if ((pt.tls = sp_tls_server_new(&tc, &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	while ((v = sp_cfg_next(cfg, "listen", &idx)) != NULL) {
		if (nl == PORTAL_LISTEN_MAX) {
			fail("%s: at most %d listen lines", o->conf,
			    PORTAL_LISTEN_MAX);
			goto out;
		}
		/* Non-blocking: poll says which one has a connection. */
		if (sp_net_listen(v, PORTAL_BACKLOG, true, &lfd[nl],
		    &err) == -1) {
			fail("%s", err.msg);
			goto out;
		}
		nl++;
	}
	if ((v = sp_cfg_get(cfg, "listen_report")) != NULL &&
	    sp_net_report(v, lfd, nl, &err) == -1) {
		fail("listen_report: %s", err.msg);
		goto out;
	}
	/*
	 * Everything that needs the invoking user is open: the listener,
	 * the portal's TLS key (in memory), portal.db.  The signer keeps
	 * that user (it holds the CA key); the network-facing process
	 * becomes `user`, which should be able to read neither key.
	 */
	if ((v = sp_cfg_get(cfg, "user")) != NULL) {
		if (sp_net_drop(v, &err) == -1) {
			fail("%s", err.msg);
			goto out;
		}
		dropped = true;
	}
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	/* SIGTERM and SIGINT (stop) and SIGHUP (reload) interrupt accept
	 * (no SA_RESTART). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = portal_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stopset, &runset);
	if (pt.queue)
		fprintf(stderr, "sprov-ca serve: portal and EST on %s (queue: "
		    "no CA key here; sign with sprov-ca approve)\n",
		    sp_cfg_get(cfg, "listen"));
	else
		fprintf(stderr, "sprov-ca serve: portal and EST on %s (online: "
		    "signer process %ld holds the CA keys)\n",
		    sp_cfg_get(cfg, "listen"), (long)pt.signer_pid);
	while (!portal_stopping) {
		struct cx *c;
		pthread_t th;
		int fd;

		if (portal_reload) {
			portal_reload = 0;
			reload_tls(&pt, &tc, dropped);
		}
		if (next == 0) {
			for (k = 0; k < nl; k++) {
				pfd[k].fd = lfd[k];
				pfd[k].events = POLLIN;
				pfd[k].revents = 0;
			}
			/* The stop and reload signals are blocked but
			 * here: one that comes between the flag checks
			 * above and the wait still ends the wait. */
			if (ppoll(pfd, nl, NULL, &runset) == -1) {
				if (errno == EINTR)
					continue;
				fail("poll: %s", strerror(errno));
				break;
			}
		}
		/* Each ready listener in turn, one connection each. */
		while (next < nl && (pfd[next].revents & POLLIN) == 0)
			next++;
		if (next == nl) {
			next = 0;
			continue;
		}
		fd = accept4(lfd[next++], NULL, NULL, SOCK_CLOEXEC);
		if (next == nl)
			next = 0;
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE ||
			    errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			fail("accept: %s", strerror(errno));
			break;
		}
		if (atomic_fetch_add(&pt.conns, 1) >= SP_PORTAL_CONNS_MAX ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			atomic_fetch_sub(&pt.conns, 1);
			close(fd);
			continue;
		}
		c->pt = &pt;
		c->fd = fd;
		/* Taken here, where a reload swaps pt.tls: the thread's
		 * context cannot be freed under it. */
		c->tls = pt.tls;
		sp_tls_server_ref(c->tls);
		sp_net_peer_ip(fd, c->ip, sizeof(c->ip));
		/* IPv6 by /64: the block one client usually holds. */
		if (sp_net_client_key(c->ip, c->ipkey, sizeof(c->ipkey)) == -1)
			snprintf(c->ipkey, sizeof(c->ipkey), "%s", c->ip);
		if (!ip_enter(&pt, c->ipkey)) {
			sp_tls_server_unref(c->tls);
			atomic_fetch_sub(&pt.conns, 1);
			close(fd);
			free(c);
			continue;
		}
		/* Born with the stop signals blocked (this thread's mask):
		 * they reach this one, in ppoll. */
		if (pthread_create(&th, NULL, conn_main, c) != 0) {
			sp_tls_server_unref(c->tls);
			ip_leave(&pt, c->ipkey);
			atomic_fetch_sub(&pt.conns, 1);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(th);
	}
	if (portal_stopping) {
		/* Connections end within their deadlines; then clean up. */
		for (i = 0; atomic_load(&pt.conns) > 0 &&
		    i < 20 * (SP_PORTAL_REQUEST_S + 1); i++)
			usleep(50000);
		if (atomic_load(&pt.conns) == 0) {
			fprintf(stderr, "sprov-ca serve: stopped\n");
			rc = signer_gone ? EXIT_ERR : EXIT_OK;
		} else {
			/* A thread still runs: leave its memory alone. */
			fprintf(stderr, "sprov-ca serve: stopped with %d "
			    "connections open\n", atomic_load(&pt.conns));
			_exit(signer_gone ? EXIT_ERR : EXIT_OK);
		}
	}
out:
	for (k = 0; k < nl; k++)
		close(lfd[k]);
	if (pt.signer != -1)
		close(pt.signer);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	if (pt.signer_pid > 0)
		waitpid(pt.signer_pid, NULL, 0);
	sp_tls_server_unref(pt.tls);
	web_sessions_free(pt.sess);
	sp_accounts_close(pt.acc);
	sp_accounts_close(pt.acc_login);
	X509_free(pt.cacert);
	X509_free(pt.devcacert);
	sp_cfg_free(cfg);
	return rc;
}
