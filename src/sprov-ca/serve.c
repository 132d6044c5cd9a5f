/*
 * sprov-ca serve -f portal.conf: the CA's online face.  Today: EST (RFC
 * 7030) on HTTPS, /.well-known/est/cacerts and /simpleenroll for provider
 * accounts (HTTP Basic over TLS), in "online" mode.
 *
 * Two processes.  The signer is forked first, before anything reads the
 * network: it alone opens the CA (and so its server-CA key), and takes
 * requests over a SOCK_SEQPACKET socketpair as typed, size-checked
 * messages: a request the portal has already checked (login, CSR policy,
 * the organisation's domains) is checked again (the CSR policy) and
 * signed, recorded in the CA's index, and the certificate returned.  The
 * portal process holds no CA key: what it can do with the signer is ask
 * for server certificates that pass the policy.
 *
 * The portal serves each connection on its own thread with blocking
 * sockets and deadlines (providers, not a fleet of phones).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sprov/account.h"
#include "sprov/buf.h"
#include "sprov/ca.h"
#include "sprov/cfg.h"
#include "sprov/est.h"
#include "sprov/fsutil.h"
#include "sprov/http.h"
#include "sprov/limits.h"
#include "sprov/net.h"
#include "sprov/tls.h"
#include "sprov/x509.h"
#include "sprov-ca/sprov-ca.h"

#define EST_PREFIX	"/.well-known/est"
#define PORTAL_BACKLOG	128
#define SIGN_MAGIC_REQ	0x53505251u	/* "SPRQ" */
#define SIGN_MAGIC_REP	0x53505250u	/* "SPRP" */
#define SIGN_SERVER	1u

/* Portal -> signer: the header, then der_len bytes of PKCS#10. */
struct sign_req {
	uint32_t	magic;
	uint32_t	type;
	uint32_t	days;
	uint32_t	der_len;
	char		org[SP_ACCOUNT_ORG_MAX + 1];
	char		user[SP_ACCOUNT_USER_MAX + 1];
};

/* Signer -> portal: the header, then len bytes (DER, or a reason). */
struct sign_rep {
	uint32_t	magic;
	uint32_t	status;		/* 0 signed, 1 refused */
	uint32_t	len;
};

struct portal {
	struct sp_tls_server	*tls;
	struct sp_accounts	*acc;
	pthread_mutex_t		 acc_lock;
	X509			*cacert;	/* server-ca root, for cacerts */
	int			 signer;	/* socket to the signer */
	pthread_mutex_t		 signer_lock;
	pid_t			 signer_pid;
	long			 days;
	atomic_int		 conns;
};

static const struct sp_cfg_key schema[] = {
	{ "listen", SP_CFG_REPEAT | SP_CFG_REQUIRED },
	{ "listen_report", 0 },
	{ "cert", SP_CFG_REQUIRED },
	{ "key", SP_CFG_REQUIRED },
	{ "mode", 0 },
	{ "days", 0 },
};

/* ------------------------------------------------------------- signer */

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

static void
signer_refuse(int fd, const char *why)
{
	signer_reply(fd, 1, why, strlen(why));
}

/* One request: checked again, signed, recorded. */
static void
signer_one(struct sp_ca *ca, int fd, const unsigned char *msg, size_t n)
{
	struct sign_req h;
	struct sp_csr_info info;
	struct sp_err err;
	const unsigned char *p;
	unsigned char *der = NULL;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	char why[SP_ERR_MAX + 64];
	int len, intx = 0;

	if (n < sizeof(h)) {
		signer_refuse(fd, "signer: short message");
		return;
	}
	memcpy(&h, msg, sizeof(h));
	if (h.magic != SIGN_MAGIC_REQ || h.type != SIGN_SERVER ||
	    h.der_len != n - sizeof(h) || h.days == 0 || h.days > 825 ||
	    memchr(h.org, '\0', sizeof(h.org)) == NULL ||
	    memchr(h.user, '\0', sizeof(h.user)) == NULL) {
		signer_refuse(fd, "signer: malformed request");
		return;
	}
	p = msg + sizeof(h);
	if ((req = d2i_X509_REQ(NULL, &p, (long)h.der_len)) == NULL ||
	    p != msg + n) {
		signer_refuse(fd, "signer: not one PKCS#10 request");
		goto out;
	}
	if (sp_x509_csr_check(req, &info, &err) == -1) {
		snprintf(why, sizeof(why), "%s", err.msg);
		signer_refuse(fd, why);
		goto out;
	}
	if ((x = sp_ca_sign_server(ca, req, (int)h.days, &info)) == NULL ||
	    sp_ca_begin(ca) == -1 || (intx = 1, sp_ca_record(ca, x,
	    SP_KIND_SERVER, SP_CA_SERVER, NULL) == -1) ||
	    sp_ca_commit(ca) == -1) {
		snprintf(why, sizeof(why), "signer: %s", sp_ca_error(ca));
		signer_refuse(fd, why);
		goto out;
	}
	intx = 0;
	if ((len = i2d_X509(x, &der)) <= 0) {
		signer_refuse(fd, "signer: cannot encode the certificate");
		goto out;
	}
	fprintf(stderr, "sprov-ca serve: signed CN=%s for %s (%s)\n",
	    info.cn, h.user, h.org);
	signer_reply(fd, 0, der, (size_t)len);
out:
	if (intx)
		sp_ca_rollback(ca);
	OPENSSL_free(der);
	X509_free(x);
	X509_REQ_free(req);
}

static void
signer_main(const struct ca_opts *o, int fd)
{
	unsigned char msg[sizeof(struct sign_req) + SP_SIGNER_MSG_MAX + 1];
	struct sp_ca *ca;
	ssize_t n;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	prctl(PR_SET_DUMPABLE, 0);
	if ((ca = open_ca(o, false)) == NULL)
		_exit(1);
	for (;;) {
		n = recv(fd, msg, sizeof(msg), MSG_TRUNC);
		if (n <= 0)
			break;
		if ((size_t)n >= sizeof(msg)) {
			signer_refuse(fd, "signer: message too large");
			continue;
		}
		signer_one(ca, fd, msg, (size_t)n);
	}
	sp_ca_free(ca);
	_exit(0);
}

/* The portal side: one request at a time on the shared socket. */
static int
sign(struct portal *pt, const char *org, const char *user, X509_REQ *req,
    X509 **out, char *why, size_t whysz)
{
	unsigned char msg[sizeof(struct sign_req) + SP_SIGNER_MSG_MAX + 1];
	unsigned char *der = NULL;
	struct sign_req h;
	struct sign_rep r;
	const unsigned char *p;
	ssize_t n;
	int len, rc = -1;

	*out = NULL;
	memset(&h, 0, sizeof(h));
	if ((len = i2d_X509_REQ(req, &der)) <= 0 ||
	    (size_t)len > SP_SIGNER_MSG_MAX) {
		snprintf(why, whysz, "request too large for the signer");
		goto out;
	}
	h.magic = SIGN_MAGIC_REQ;
	h.type = SIGN_SERVER;
	h.days = (uint32_t)pt->days;
	h.der_len = (uint32_t)len;
	snprintf(h.org, sizeof(h.org), "%s", org);
	snprintf(h.user, sizeof(h.user), "%s", user);
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), der, (size_t)len);
	pthread_mutex_lock(&pt->signer_lock);
	if (send(pt->signer, msg, sizeof(h) + (size_t)len, MSG_NOSIGNAL) ==
	    -1)
		n = -1;
	else
		n = recv(pt->signer, msg, sizeof(msg), MSG_TRUNC);
	pthread_mutex_unlock(&pt->signer_lock);
	if (n < (ssize_t)sizeof(r) || (size_t)n >= sizeof(msg)) {
		snprintf(why, whysz, "the signer is not answering");
		goto out;
	}
	memcpy(&r, msg, sizeof(r));
	if (r.magic != SIGN_MAGIC_REP || r.len != (size_t)n - sizeof(r)) {
		snprintf(why, whysz, "the signer's answer is malformed");
		goto out;
	}
	if (r.status != 0) {
		snprintf(why, whysz, "%.*s", (int)r.len, msg + sizeof(r));
		rc = 1;
		goto out;
	}
	p = msg + sizeof(r);
	if ((*out = d2i_X509(NULL, &p, (long)r.len)) == NULL) {
		snprintf(why, whysz, "the signer's certificate is malformed");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_free(der);
	return rc;
}

/* ------------------------------------------------------------- portal */

struct cx {
	struct portal		*pt;
	int			 fd;
	char			 ip[INET6_ADDRSTRLEN];
};

static int
send_all(struct sp_tls_conn *t, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = sp_tls_write(t, p, n)) <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
respond(struct sp_tls_conn *t, int status, const char *ctype,
    const char *extra, const char *body, size_t len)
{
	char head[1024];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "%s\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "Cache-Control: no-store\r\n%s\r\n", status,
	    sp_http_reason(status), ctype, len, extra != NULL ? extra : "");
	if (n > 0 && (size_t)n < sizeof(head) &&
	    send_all(t, head, (size_t)n) == 0 && len > 0)
		send_all(t, body, len);
}

static void
respond_text(struct sp_tls_conn *t, int status, const char *extra,
    const char *msg)
{
	char body[SP_ERR_MAX + 128];
	int n = snprintf(body, sizeof(body), "%s\n", msg);

	respond(t, status, "text/plain; charset=utf-8", extra, body,
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
		respond(t, 200, "application/pkcs7-mime; smime-type=certs-only",
		    "Content-Transfer-Encoding: base64\r\n", b.data, b.len);
	sp_buf_release(&b);
}

/* POST /simpleenroll: who, what, whether it may; then the signer. */
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
	X509 *x = NULL;
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
	pthread_mutex_lock(&pt->acc_lock);
	rc = sp_accounts_login(pt->acc, user, pw, c->ip, time(NULL), org,
	    &after);
	pthread_mutex_unlock(&pt->acc_lock);
	OPENSSL_cleanse(pw, sizeof(pw));
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
	if ((req = sp_est_csr_parse(body, len, &err)) == NULL) {
		respond_text(t, 400, NULL, err.msg);
		status = 400;
		goto out;
	}
	if (sp_x509_csr_check(req, &info, &err) == -1) {
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
		respond_text(t, 403, NULL, why);
		status = 403;
		goto out;
	}
	rc = sign(pt, org, user, req, &x, why, sizeof(why));
	if (rc != 0) {
		respond_text(t, rc == 1 ? 400 : 503, NULL, why);
		status = rc == 1 ? 400 : 503;
		goto out;
	}
	respond_p7(t, &x, 1);
	status = 200;
out:
	X509_free(x);
	X509_REQ_free(req);
	return status;
}

static void *
conn_main(void *arg)
{
	struct cx *c = arg;
	struct portal *pt = c->pt;
	struct sp_tls_conn *t = NULL;
	struct sp_http_req r;
	struct sp_err err;
	struct timeval tv = { SP_PORTAL_TIMEOUT_S, 0 };
	char *buf = NULL;
	size_t have = 0, need, cap = SP_HTTP_HEAD_MAX + SP_EST_BODY_MAX;
	ssize_t n;
	int rc = 0, status = 0;

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((buf = malloc(cap)) == NULL ||
	    (t = sp_tls_accept(pt->tls, c->fd, &err)) == NULL ||
	    sp_tls_handshake(t) != 0)
		goto out;
	/* The head, then the body it announces (bounded). */
	while ((rc = sp_http_parse(buf, have, SP_HTTP_HEAD_MAX, &r)) == 0) {
		if ((n = sp_tls_read(t, buf + have, SP_HTTP_HEAD_MAX - have)) <=
		    0)
			goto out;
		have += (size_t)n;
	}
	if (rc < 0) {
		respond_text(t, -rc, NULL, "malformed request");
		status = -rc;
		goto log;
	}
	if (r.content_length > (off_t)SP_EST_BODY_MAX) {
		respond_text(t, 413, NULL, "request body too large");
		status = 413;
		goto log;
	}
	need = r.head_len + (size_t)(r.content_length > 0 ?
	    r.content_length : 0);
	while (have < need) {
		if ((n = sp_tls_read(t, buf + have, need - have)) <= 0)
			goto out;
		have += (size_t)n;
	}
	if (strcmp(r.path, EST_PREFIX "/cacerts") == 0) {
		if (r.method != SP_HTTP_GET) {
			respond_text(t, 405, "Allow: GET\r\n", "GET only");
			status = 405;
		} else {
			respond_p7(t, &pt->cacert, 1);
			status = 200;
		}
	} else if (strcmp(r.path, EST_PREFIX "/simpleenroll") == 0) {
		if (r.method != SP_HTTP_POST) {
			respond_text(t, 405, "Allow: POST\r\n", "POST only");
			status = 405;
		} else
			status = enroll(c, t, &r, buf + r.head_len,
			    need - r.head_len);
	} else {
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
	atomic_fetch_sub(&pt->conns, 1);
	free(c);
	return NULL;
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
	int sv[2] = { -1, -1 }, lfd = -1, rc = EXIT_ERR;
	size_t idx = 0;
	uint64_t days;
	FILE *fp;

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
	if (mode != NULL && strcmp(mode, "online") != 0) {
		fail("%s: mode %s: only `online` is built so far (a signer "
		    "process holds the key)", o->conf, mode);
		goto out;
	}
	if (sp_cfg_get_u64(cfg, "days", 1, 825, SP_DAYS_SERVER_DEFAULT,
	    &days) == -1) {
		fail("%s", sp_cfg_error(cfg));
		goto out;
	}
	pt.days = (long)days;
	/* The signer first: nothing of the network has been touched. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		fail("socketpair: %s", strerror(errno));
		goto out;
	}
	if ((pt.signer_pid = fork()) == -1) {
		fail("fork: %s", strerror(errno));
		goto out;
	}
	if (pt.signer_pid == 0) {
		close(sv[0]);
		signer_main(o, sv[1]);
	}
	close(sv[1]);
	sv[1] = -1;
	pt.signer = sv[0];
	sv[0] = -1;
	pthread_mutex_init(&pt.signer_lock, NULL);
	pthread_mutex_init(&pt.acc_lock, NULL);
	/* Public material only: the root certificate and the accounts. */
	snprintf(path, sizeof(path), "%s/server-ca.crt", o->dir);
	if ((fp = fopen(path, "r")) == NULL ||
	    (pt.cacert = PEM_read_X509(fp, NULL, NULL, NULL)) == NULL) {
		fail("%s: cannot read the server CA certificate", path);
		if (fp != NULL)
			fclose(fp);
		goto out;
	}
	fclose(fp);
	snprintf(path, sizeof(path), "%s/portal.db", o->dir);
	if ((pt.acc = sp_accounts_open(path, &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	memset(&tc, 0, sizeof(tc));
	tc.cert[0] = sp_cfg_get(cfg, "cert");
	tc.key[0] = sp_cfg_get(cfg, "key");
	tc.ncerts = 1;
	tc.session_cache = 1024;
	if ((pt.tls = sp_tls_server_new(&tc, &err)) == NULL) {
		fail("%s", err.msg);
		goto out;
	}
	v = sp_cfg_next(cfg, "listen", &idx);
	if (sp_cfg_next(cfg, "listen", &idx) != NULL) {
		fail("%s: one listen line (more are not served yet)", o->conf);
		goto out;
	}
	if (sp_net_listen(v, PORTAL_BACKLOG, false, &lfd, &err) == -1) {
		fail("%s", err.msg);
		goto out;
	}
	if ((v = sp_cfg_get(cfg, "listen_report")) != NULL &&
	    sp_net_report(v, &lfd, 1, &err) == -1) {
		fail("listen_report: %s", err.msg);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "sprov-ca serve: EST on %s (online: signer process "
	    "%ld holds the server-CA key)\n", sp_cfg_get(cfg, "listen"),
	    (long)pt.signer_pid);
	for (;;) {
		struct cx *c;
		pthread_t th;
		int fd;

		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
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
		sp_net_peer_ip(fd, c->ip, sizeof(c->ip));
		if (pthread_create(&th, NULL, conn_main, c) != 0) {
			atomic_fetch_sub(&pt.conns, 1);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(th);
	}
out:
	if (lfd != -1)
		close(lfd);
	if (pt.signer != -1)
		close(pt.signer);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	if (pt.signer_pid > 0)
		waitpid(pt.signer_pid, NULL, 0);
	sp_tls_server_unref(pt.tls);
	sp_accounts_close(pt.acc);
	X509_free(pt.cacert);
	sp_cfg_free(cfg);
	return rc;
}
