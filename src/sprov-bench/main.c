/*
 * sprov-bench: a fleet of simulated phones against a provisioning server.
 * One epoll loop drives many non-blocking OpenSSL connections.  Every
 * phone has its own identity (sprov-ca issue-devices output), verifies
 * the server as sprov-agent does (chain to the server CA, CN rule, the
 * name it asked for), presents its certificate and fetches its own
 * profile.  See sprov-bench(1).
 *
 * The server's CPU time comes from the kernel (/proc/PID/stat of the
 * server's processes and their children), so the per-request figure
 * holds although client and server share the machine's cores.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "sprov/cnrule.h"
#include "sprov/err.h"
#include "sprov/limits.h"
#include "sprov/str.h"
#include "sprov/x509.h"

#define BENCH_RESP_MAX		(256 * 1024)	/* one response, head + body */
#define BENCH_CAUSES_MAX	32
#define BENCH_PIDS_MAX		64
#define BENCH_LADDER_MAX	16
#define BENCH_ADDRS_MAX		16	/* --connect addresses */

enum mode { M_FULL, M_RESUME, M_KEEPALIVE, M_STORM };

struct phone {
	X509		*cert;
	EVP_PKEY	*key;
	char		 mac[SP_MAC_HEXLEN + 1];
	SSL_SESSION	*sess;		/* resume: the last ticket */
	double		 due;		/* storm: next attempt */
	uint32_t	 fails;		/* storm: failed attempts so far */
	bool		 done;		/* storm: holds its profile */
	bool		 busy;
};

enum cstate { C_FREE, C_CONNECT, C_HANDSHAKE, C_WRITE, C_READ };

struct conn {
	int		 fd;
	SSL		*ssl;
	struct phone	*ph;
	enum cstate	 st;
	uint32_t	 events;
	double		 t0;		/* when the request was due */
	double		 deadline;
	char		 out[512];
	size_t		 outlen, outoff;
	char		*in;
	size_t		 inlen;
	size_t		 need;		/* head + body, once the head is in */
	int		 status;
	bool		 server_close;
	bool		 counted;	/* inside the measured phase */
};

struct cause {
	char		 what[96];
	uint64_t	 n;
};

struct opts {
	const char	*ids, *ca, *name, *path;
	/* --connect, repeatable: phone i uses address i % naddr (nodes
	 * behind one name, each phone on the one its resolver gave it). */
	struct sockaddr_storage addr[BENCH_ADDRS_MAX];
	socklen_t	 addrlen[BENCH_ADDRS_MAX];
	size_t		 naddr;
	enum mode	 mode;
	int		 tls;		/* TLS1_2_VERSION or TLS1_3_VERSION */
	size_t		 nphones;
	size_t		 conns;
	uint64_t	 requests;	/* measured requests (0: duration) */
	uint64_t	 warmup;
	double		 duration;
	double		 rate;		/* arrivals/s; 0: closed loop */
	double		 timeout;
	bool		 check;
	pid_t		 pids[BENCH_PIDS_MAX];
	size_t		 npids;
	/* storm */
	double		 window, random_delay, retry_scale, deadline_s;
	double		 ladder[BENCH_LADDER_MAX];
	size_t		 nladder;
	double		 peak_rate;	/* for the completion bound, if known */
};

struct bench {
	struct opts	*o;
	SSL_CTX		*ctx;
	struct phone	*phones;
	size_t		 nphones;
	struct conn	*conns;
	size_t		 nconns, inflight;
	size_t		*freel;		/* indices of free connections */
	size_t		 nfree;
	int		 ep;
	size_t		 next_phone;
	uint64_t	 started, ok, failed, resumed, retries;
	uint64_t	 measured_started;
	uint32_t	*lat;		/* microseconds, measured requests */
	size_t		 nlat, latcap;
	struct cause	 causes[BENCH_CAUSES_MAX];
	size_t		 ncauses;
	double		 t_measure, t_end, next_arrival;
	bool		 measuring, stop_launch;
	/* storm: phones by due time */
	size_t		*heap;
	size_t		 nheap;
	size_t		 ndone;
	double		 last_done;
	long		 rss_max_kib, anon_max_kib;
	double		 client_cpu;	/* seconds, measured phase */
};

static volatile sig_atomic_t interrupted;

static double
cpu_self(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sprov-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* --- failures by cause ------------------------------------------------ */

static void
cause_add(struct bench *b, const char *what)
{
	size_t i;

	for (i = 0; i < b->ncauses; i++)
		if (strcmp(b->causes[i].what, what) == 0)
			break;
	if (i == b->ncauses) {
		if (b->ncauses == BENCH_CAUSES_MAX)
			i = BENCH_CAUSES_MAX - 1;	/* the last bin: other */
		else
			snprintf(b->causes[b->ncauses++].what,
			    sizeof(b->causes[0].what), "%s", what);
	}
	b->causes[i].n++;
}

/* --- identities ------------------------------------------------------- */

/* MAC.crt and the MAC.key beside it (refused when group/world readable). */
static int
load_pem(const char *crt, struct phone *p, struct sp_err *err)
{
	char keyf[4096];
	size_t n = strlen(crt);

	if (n < 4 || n >= sizeof(keyf))
		return sp_err_set(err, "%s: path too long", crt);
	memcpy(keyf, crt, n - 4);
	memcpy(keyf + n - 4, ".key", 5);
	if ((p->cert = sp_x509_cert_load(crt, err)) == NULL ||
	    (p->key = sp_x509_key_load(keyf, NULL, err)) == NULL)
		return -1;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects DIR/MAC.crt and DIR/xx/MAC.crt (issue-devices shards), sorted. */
static void
collect(const char *dir, int depth, char ***names, size_t *n, size_t *cap)
{
	struct dirent *de;
	char path[4096];
	size_t len;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = strlen(de->d_name);
		if (de->d_type == DT_DIR && depth == 0) {
			collect(path, 1, names, n, cap);
			continue;
		}
		if (len != SP_MAC_HEXLEN + 4 ||
		    strcmp(de->d_name + SP_MAC_HEXLEN, ".crt") != 0)
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			if ((*names = realloc(*names, *cap * sizeof(char *))) ==
			    NULL)
				fatal("%s", "out of memory");
		}
		if (((*names)[(*n)++] = strdup(path)) == NULL)
			fatal("%s", "out of memory");
	}
	closedir(d);
}

static void
load_phones(struct bench *b)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i, want = b->o->nphones;
	const char *base;
	struct sp_err err;

	collect(b->o->ids, 0, &names, &n, &cap);
	if (n == 0)
		fatal("%s: no device identity (MAC.crt with MAC.key)",
		    b->o->ids);
	qsort(names, n, sizeof(*names), name_cmp);
	if (want == 0 || want > n)
		want = n;
	if ((b->phones = calloc(want, sizeof(*b->phones))) == NULL)
		fatal("%s", "out of memory");
	for (i = 0; i < want; i++) {
		if (load_pem(names[i], &b->phones[i], &err) == -1)
			fatal("%s", err.msg);
		base = strrchr(names[i], '/');
		base = base ? base + 1 : names[i];
		memcpy(b->phones[i].mac, base, SP_MAC_HEXLEN);
	}
	b->nphones = want;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* --- the server's processes ------------------------------------------- */

/* The start of the field after skipping n space-separated ones. */
static char *
field(char *p, int n)
{
	while (*p == ' ')
		p++;
	while (n-- > 0) {
		p += strcspn(p, " ");
		while (*p == ' ')
			p++;
	}
	return *p != '\0' ? p : NULL;
}

/* utime + stime in ticks, and VmRSS/VmHWM/RssAnon in KiB, of one
 * process.  RssAnon is the process's own memory; the rest of RSS is file
 * pages (a mapped database), the page cache under another name. */
static int
proc_read(pid_t pid, unsigned long long *ticks, long *rss, long *hwm,
    long *anon)
{
	char path[64], buf[4096], *p;
	unsigned long long ut, st;
	ssize_t n;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces: fields count from the last ')'.
	 * After it: state, then 10 numbers, then utime and stime. */
	if ((p = strrchr(buf, ')')) == NULL || (p = field(p + 1, 11)) == NULL)
		return -1;
	ut = strtoull(p, &p, 10);
	st = strtoull(p, NULL, 10);
	*ticks = ut + st;
	*rss = *hwm = *anon = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL) {
			if (strncmp(buf, "VmRSS:", 6) == 0)
				*rss = strtol(buf + 6, NULL, 10);
			else if (strncmp(buf, "VmHWM:", 6) == 0)
				*hwm = strtol(buf + 6, NULL, 10);
			else if (strncmp(buf, "RssAnon:", 8) == 0)
				*anon = strtol(buf + 8, NULL, 10);
		}
		fclose(f);
	}
	return 0;
}

/* Adds the children of the given processes (nginx's workers). */
static void
add_children(struct opts *o)
{
	size_t given = o->npids, i;
	char path[300], buf[512], *p;
	struct dirent *de;
	DIR *d;
	int ppid, fd;
	ssize_t n;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL && o->npids < BENCH_PIDS_MAX) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL ||
		    (p = field(p + 1, 1)) == NULL)
			continue;
		ppid = (int)strtol(p, NULL, 10);
		for (i = 0; i < given; i++)
			if (o->pids[i] == ppid)
				o->pids[o->npids++] = (pid_t)strtol(de->d_name,
				    NULL, 10);
	}
	closedir(d);
}

struct sample {
	unsigned long long ticks;
	long rss, hwm, anon;
};

static void
server_sample(const struct opts *o, struct sample *s)
{
	unsigned long long t;
	long rss, hwm, anon;
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < o->npids; i++)
		if (proc_read(o->pids[i], &t, &rss, &hwm, &anon) == 0) {
			s->ticks += t;
			s->rss += rss;
			s->hwm += hwm;
			s->anon += anon;
		}
}

/* --- connections ------------------------------------------------------ */

static void
watch(struct bench *b, struct conn *c, uint32_t ev)
{
	struct epoll_event e;

	if (c->events == ev)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(b->ep, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD,
	    c->fd, &e) == -1)
		fatal("epoll_ctl: %s", strerror(errno));
	c->events = ev;
}

static void
conn_release(struct bench *b, struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1)
		close(c->fd);	/* also leaves the epoll set */
	c->ssl = NULL;
	c->fd = -1;
	c->events = 0;
	c->st = C_FREE;
	if (c->ph != NULL)
		c->ph->busy = false;
	c->ph = NULL;
	b->inflight--;
	b->freel[b->nfree++] = (size_t)(c - b->conns);
}

static void
heap_push(struct bench *b, size_t idx);

static double
ladder_delay(const struct opts *o, uint32_t fails)
{
	size_t k = fails - 1;

	if (k >= o->nladder)
		k = o->nladder - 1;
	return o->ladder[k] / o->retry_scale;
}

static void
conn_fail(struct bench *b, struct conn *c, const char *why)
{
	struct phone *ph = c->ph;

	/* Every failure counts, warm-up included. */
	b->failed++;
	cause_add(b, why);
	if (b->o->mode == M_STORM && ph != NULL) {
		ph->fails++;
		b->retries++;
		ph->due = now() + ladder_delay(b->o, ph->fails);
		heap_push(b, (size_t)(ph - b->phones));
	}
	conn_release(b, c);
}

static void
lat_add(struct bench *b, double secs)
{
	if (b->nlat == b->latcap) {
		b->latcap = b->latcap ? b->latcap * 2 : 65536;
		if ((b->lat = realloc(b->lat, b->latcap * sizeof(*b->lat))) ==
		    NULL)
			fatal("%s", "out of memory");
	}
	b->lat[b->nlat++] = secs * 1e6 > 4e9 ? 4000000000u :
	    (uint32_t)(secs * 1e6);
}

static void
request_prepare(struct bench *b, struct conn *c)
{
	const char *p = b->o->path, *pct = strstr(p, "%s");
	int n;

	if (pct != NULL)
		n = snprintf(c->out, sizeof(c->out), "GET %.*s%s%s HTTP/1.1\r\n"
		    "Host: %s\r\nUser-Agent: sprov-bench\r\n%s\r\n",
		    (int)(pct - p), p, c->ph->mac, pct + 2, b->o->name,
		    b->o->mode == M_KEEPALIVE ? "" : "Connection: close\r\n");
	else
		n = snprintf(c->out, sizeof(c->out), "GET %s HTTP/1.1\r\n"
		    "Host: %s\r\nUser-Agent: sprov-bench\r\n%s\r\n", p,
		    b->o->name, b->o->mode == M_KEEPALIVE ? "" :
		    "Connection: close\r\n");
	c->outlen = n > 0 && (size_t)n < sizeof(c->out) ? (size_t)n : 0;
	c->outoff = 0;
	c->inlen = c->need = 0;
	c->status = 0;
	c->server_close = false;
	c->st = C_WRITE;
}

/* The server, checked as the agent checks it: chain, CN rule, name. */
static const char *
server_check(struct bench *b, SSL *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	char cn[SP_CN_MAX + 1], fqdn[SP_FQDN_MAX + 1];
	struct sp_err err;

	if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return "server certificate not trusted";
	if (sp_x509_name_cn(X509_get_subject_name(peer), cn, sizeof(cn),
	    &err) == -1)
		return "server certificate: no usable CN";
	if (sp_cnrule_check(cn, strlen(cn), fqdn, sizeof(fqdn)) != SP_CN_OK)
		return "server certificate breaks the CN rule";
	if (strcasecmp(fqdn, b->o->name) != 0)
		return "server certificate names another server";
	return NULL;
}

static const char *
ssl_cause(SSL *ssl, int r, const char *stage)
{
	static char buf[96];
	unsigned long e;
	int err = SSL_get_error(ssl, r);

	if (err == SSL_ERROR_SSL && (e = ERR_peek_last_error()) != 0) {
		snprintf(buf, sizeof(buf), "%s: %s", stage,
		    ERR_reason_error_string(e) ? ERR_reason_error_string(e) :
		    "TLS error");
		ERR_clear_error();
		return buf;
	}
	ERR_clear_error();
	if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL &&
	    (errno == 0 || errno == ECONNRESET || errno == EPIPE)))
		snprintf(buf, sizeof(buf), "%s: connection closed by the "
		    "server", stage);
	else
		snprintf(buf, sizeof(buf), "%s: %s", stage, errno ?
		    strerror(errno) : "TLS error");
	return buf;
}

/* Parses the head once it is complete; -1 on a malformed response. */
static int
parse_head(struct conn *c)
{
	char *end, *p, *line;
	long status;
	long long clen = -1;

	if ((end = memmem(c->in, c->inlen, "\r\n\r\n", 4)) == NULL)
		return c->inlen >= BENCH_RESP_MAX ? -1 : 0;
	*end = '\0';
	if (strncmp(c->in, "HTTP/1.", 7) != 0 || c->inlen < 12)
		return -1;
	status = strtol(c->in + 9, NULL, 10);
	if (status < 100 || status > 599)
		return -1;
	c->status = (int)status;
	for (line = strstr(c->in, "\r\n"); line != NULL;
	    line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			clen = strtoll(line + 15, &p, 10);
			if (clen < 0 || clen > BENCH_RESP_MAX)
				return -1;
		} else if (strncasecmp(line, "Connection:", 11) == 0 &&
		    strcasestr(line, "close") != NULL)
			c->server_close = true;
	}
	if (clen < 0)
		return -1;	/* both servers under test always send it */
	*end = '\r';
	c->need = (size_t)(end + 4 - c->in) + (size_t)clen;
	return c->need > BENCH_RESP_MAX ? -1 : 1;
}

static void launch(struct bench *b, struct conn *c, struct phone *ph,
    double due);

/* After an SSL call that did not finish: wait for the socket, or fail. */
static void
io_wait(struct bench *b, struct conn *c, int r, const char *stage)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		watch(b, c, EPOLLIN);
		break;
	case SSL_ERROR_WANT_WRITE:
		watch(b, c, EPOLLOUT);
		break;
	default:
		conn_fail(b, c, ssl_cause(c->ssl, r, stage));
	}
}

static void
complete(struct bench *b, struct conn *c)
{
	struct phone *ph = c->ph;
	char want[SP_MAC_HEXLEN + 3];
	const char *body;
	size_t bodylen;
	SSL_SESSION *s;
	char why[64];

	if (c->status != 200) {
		snprintf(why, sizeof(why), "HTTP %d", c->status);
		conn_fail(b, c, why);
		return;
	}
	body = (const char *)memmem(c->in, c->inlen, "\r\n\r\n", 4) + 4;
	bodylen = c->need - (size_t)(body - c->in);
	/* Each fleet profile carries its device's MAC as a value. */
	snprintf(want, sizeof(want), ">%s<", ph->mac);
	if (b->o->check && (memmem(body, bodylen, want, strlen(want)) ==
	    NULL || memmem(body, bodylen, "<flat-profile>", 14) == NULL)) {
		conn_fail(b, c, "wrong profile (not this device's)");
		return;
	}
	if (c->counted || b->o->mode == M_STORM) {
		b->ok++;
		lat_add(b, now() - c->t0);
		if (SSL_session_reused(c->ssl))
			b->resumed++;
	}
	if (b->o->mode == M_RESUME && (s = SSL_get1_session(c->ssl)) != NULL) {
		if (SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(ph->sess);
			ph->sess = s;
		} else
			SSL_SESSION_free(s);
	}
	if (b->o->mode == M_STORM && !ph->done) {
		ph->done = true;
		b->ndone++;
		b->last_done = now();
	}
	if (b->o->mode == M_KEEPALIVE && !c->server_close && !b->stop_launch &&
	    !interrupted && !(b->measuring && b->o->requests > 0 &&
	    b->measured_started >= b->o->requests)) {
		/* The next request of the same phone on the same connection. */
		c->counted = b->measuring;
		if (c->counted)
			b->measured_started++;
		b->started++;
		c->t0 = now();
		c->deadline = c->t0 + b->o->timeout;
		request_prepare(b, c);
		return;
	}
	/* A clean end: without this SSL_free() marks the session as not
	 * resumable (the server closes after the response). */
	SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	conn_release(b, c);
}

static void
step(struct bench *b, struct conn *c)
{
	const char *why;
	int r, soerr;
	socklen_t sl = sizeof(soerr);

	for (;;) {
		switch (c->st) {
		case C_FREE:
			return;
		case C_CONNECT:
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &sl) == -1 || soerr != 0) {
				char m[96];

				snprintf(m, sizeof(m), "connect: %s",
				    strerror(soerr ? soerr : errno));
				conn_fail(b, c, m);
				return;
			}
			c->st = C_HANDSHAKE;
			break;
		case C_HANDSHAKE:
			ERR_clear_error();
			errno = 0;
			r = SSL_do_handshake(c->ssl);
			if (r == 1) {
				if ((why = server_check(b, c->ssl)) != NULL) {
					conn_fail(b, c, why);
					return;
				}
				request_prepare(b, c);
				break;
			}
			io_wait(b, c, r, "handshake");
			return;
		case C_WRITE:
			ERR_clear_error();
			errno = 0;
			r = SSL_write(c->ssl, c->out + c->outoff,
			    (int)(c->outlen - c->outoff));
			if (r > 0) {
				c->outoff += (size_t)r;
				if (c->outoff == c->outlen)
					c->st = C_READ;
				break;
			}
			io_wait(b, c, r, "sending the request");
			return;
		case C_READ:
			if (c->inlen == BENCH_RESP_MAX) {
				conn_fail(b, c, "response too large");
				return;
			}
			ERR_clear_error();
			errno = 0;
			r = SSL_read(c->ssl, c->in + c->inlen,
			    (int)(BENCH_RESP_MAX - c->inlen));
			if (r > 0) {
				c->inlen += (size_t)r;
				if (c->need == 0) {
					int h = parse_head(c);

					if (h == -1) {
						conn_fail(b, c, "malformed "
						    "HTTP response");
						return;
					}
					if (h == 0)
						break;
				}
				if (c->inlen >= c->need) {
					complete(b, c);
					if (c->st == C_FREE)
						return;
				}
				break;
			}
			io_wait(b, c, r, c->inlen ? "reading the response" :
			    "waiting for the response");
			return;
		}
	}
}

static void
launch(struct bench *b, struct conn *c, struct phone *ph, double due)
{
	size_t ai;
	int one = 1;

	c->ph = ph;
	ph->busy = true;
	c->t0 = due;
	c->deadline = now() + b->o->timeout;
	c->counted = b->measuring && b->o->mode != M_STORM;
	if (c->counted)
		b->measured_started++;
	b->started++;
	b->inflight++;
	c->events = 0;
	c->need = c->inlen = 0;
	ai = (size_t)(ph - b->phones) % b->o->naddr;
	c->fd = socket(b->o->addr[ai].ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		conn_fail(b, c, "socket: out of descriptors?");
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c->ssl = SSL_new(b->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_use_certificate(c->ssl, ph->cert) != 1 ||
	    SSL_use_PrivateKey(c->ssl, ph->key) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, b->o->name) != 1)
		fatal("%s", "cannot set up a TLS connection");
	SSL_set_app_data(c->ssl, c);
	if (b->o->mode == M_RESUME && ph->sess != NULL)
		SSL_set_session(c->ssl, ph->sess);
	SSL_set_connect_state(c->ssl);
	if (connect(c->fd, (struct sockaddr *)&b->o->addr[ai],
	    b->o->addrlen[ai]) ==
	    -1 && errno != EINPROGRESS) {
		char m[96];

		snprintf(m, sizeof(m), "connect: %s", strerror(errno));
		conn_fail(b, c, m);
		return;
	}
	c->st = C_CONNECT;
	watch(b, c, EPOLLOUT);
}

static struct conn *
free_conn(struct bench *b)
{
	return b->nfree > 0 ? &b->conns[b->freel[--b->nfree]] : NULL;
}

/* --- storm: phones ordered by due time -------------------------------- */

static bool
heap_less(const struct bench *b, size_t x, size_t y)
{
	return b->phones[b->heap[x]].due < b->phones[b->heap[y]].due;
}

static void
heap_push(struct bench *b, size_t idx)
{
	size_t i = b->nheap++, p, t;

	b->heap[i] = idx;
	while (i > 0 && heap_less(b, i, p = (i - 1) / 2)) {
		t = b->heap[i];
		b->heap[i] = b->heap[p];
		b->heap[p] = t;
		i = p;
	}
}

static size_t
heap_pop(struct bench *b)
{
	size_t top = b->heap[0], i = 0, l, m, t;

	b->heap[0] = b->heap[--b->nheap];
	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < b->nheap && heap_less(b, l, m))
			m = l;
		if (l + 1 < b->nheap && heap_less(b, l + 1, m))
			m = l + 1;
		if (m == i)
			break;
		t = b->heap[i];
		b->heap[i] = b->heap[m];
		b->heap[m] = t;
		i = m;
	}
	return top;
}

static double
uniform(void)
{
	uint64_t r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		fatal("%s", "RAND_bytes");
	return (double)(r >> 11) / 9007199254740992.0;
}

/* --- the loop --------------------------------------------------------- */

/* Starts what is due; returns the seconds until something else is. */
static double
start_due(struct bench *b, double t)
{
	struct conn *c;
	struct phone *ph;
	const struct opts *o = b->o;
	size_t tries;

	if (b->stop_launch)
		return 0.05;
	if (o->mode == M_STORM) {
		while (b->nheap > 0 && b->phones[b->heap[0]].due <= t &&
		    (c = free_conn(b)) != NULL) {
			ph = &b->phones[heap_pop(b)];
			launch(b, c, ph, ph->due);
		}
		if (b->nheap == 0)
			return 0.05;
		return b->phones[b->heap[0]].due - t;
	}
	for (;;) {
		if (o->requests > 0 && b->measuring &&
		    b->measured_started >= o->requests)
			return 0.05;
		if (o->rate > 0 && b->measuring && b->next_arrival > t)
			return b->next_arrival - t;
		if ((c = free_conn(b)) == NULL)
			return 0.05;
		/* The next phone not already connected (one connection per
		 * phone at a time, as a real phone). */
		for (tries = 0; tries < b->nphones; tries++) {
			ph = &b->phones[b->next_phone];
			b->next_phone = (b->next_phone + 1) % b->nphones;
			if (!ph->busy)
				break;
		}
		if (tries == b->nphones)
			return 0.05;
		if (o->rate > 0 && b->measuring) {
			launch(b, c, ph, b->next_arrival);
			b->next_arrival += 1.0 / o->rate;
		} else
			launch(b, c, ph, t);
	}
}

static void
expire(struct bench *b, double t)
{
	size_t i;

	for (i = 0; i < b->nconns; i++)
		if (b->conns[i].st != C_FREE && b->conns[i].deadline < t)
			conn_fail(b, &b->conns[i], b->conns[i].st ==
			    C_CONNECT ? "timeout: connecting" :
			    b->conns[i].st == C_HANDSHAKE ?
			    "timeout: handshake" : "timeout: response");
}

static bool
phase_over(struct bench *b, double t)
{
	const struct opts *o = b->o;

	if (o->mode == M_STORM)
		return b->ndone == b->nphones ||
		    t - b->t_measure > o->deadline_s;
	if (o->requests > 0)
		return b->measured_started >= o->requests;
	return t - b->t_measure >= o->duration;
}

static void
run(struct bench *b, uint64_t warmup)
{
	struct epoll_event ev[256];
	double t, wait, last_expire = 0, last_rss = 0;
	struct sample s;
	int n, i, ms;

	b->measuring = warmup == 0;
	for (;;) {
		t = now();
		if (!b->measuring && b->started >= warmup && b->inflight == 0) {
			b->measuring = true;
			b->t_measure = b->next_arrival = t;
			return;		/* the caller samples and calls again */
		}
		if (b->measuring && !b->stop_launch && phase_over(b, t))
			b->stop_launch = true;
		if (interrupted)
			b->stop_launch = true;
		if (b->stop_launch && b->inflight == 0)
			break;
		if (!b->measuring && b->started >= warmup)
			wait = 0.05;
		else
			wait = start_due(b, t);
		if (b->o->mode == M_STORM && t - last_rss > 0.2) {
			server_sample(b->o, &s);
			if (s.rss > b->rss_max_kib)
				b->rss_max_kib = s.rss;
			if (s.anon > b->anon_max_kib)
				b->anon_max_kib = s.anon;
			last_rss = t;
		}
		ms = (int)(wait * 1000);
		ms = ms < 0 ? 0 : ms > 50 ? 50 : ms;
		n = epoll_wait(b->ep, ev, 256, ms);
		for (i = 0; i < n; i++)
			step(b, ev[i].data.ptr);
		t = now();
		if (t - last_expire > 0.1) {
			expire(b, t);
			last_expire = t;
		}
	}
	b->t_end = now();
}

/* --- results ---------------------------------------------------------- */

static int
u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const struct bench *b, double p)
{
	size_t i;

	if (b->nlat == 0)
		return 0;
	i = (size_t)ceil(p / 100.0 * (double)b->nlat);
	i = i == 0 ? 0 : i - 1;
	return b->lat[i < b->nlat ? i : b->nlat - 1] / 1000.0;
}

static void
report(struct bench *b, const struct sample *s0, const struct sample *s1)
{
	const struct opts *o = b->o;
	double secs = b->t_end - b->t_measure, cpu, hz;
	const char *mode;
	size_t i;

	if (b->nlat > 0)
		qsort(b->lat, b->nlat, sizeof(*b->lat), u32cmp);
	hz = (double)sysconf(_SC_CLK_TCK);
	cpu = (double)(s1->ticks - s0->ticks) / hz;
	mode = o->mode == M_FULL ? "full" : o->mode == M_RESUME ? "resume" :
	    o->mode == M_KEEPALIVE ? "keepalive" : "storm";
	printf("sprov-bench: %s, TLS %s, %zu phones, %zu connections%s\n",
	    mode, o->tls == TLS1_3_VERSION ? "1.3" : "1.2", b->nphones,
	    b->nconns, o->check ? ", every profile checked" : "");
	printf("  requests   %llu ok, %llu failed in %.2f s: %.0f/s",
	    (unsigned long long)b->ok, (unsigned long long)b->failed, secs,
	    (double)b->ok / secs);
	if (o->mode == M_RESUME || b->resumed > 0)
		printf(" (%llu resumed)", (unsigned long long)b->resumed);
	printf("\n  latency    p50 %.2f ms, p90 %.2f, p99 %.2f, max %.2f\n",
	    pct(b, 50), pct(b, 90), pct(b, 99), pct(b, 100));
	for (i = 0; i < b->ncauses; i++)
		printf("  failure    %llu x %s\n",
		    (unsigned long long)b->causes[i].n, b->causes[i].what);
	printf("  client     %.0f %% of one core (this process; above ~90 %% "
	    "it is the bottleneck and its queueing is in the latency)\n",
	    b->client_cpu / secs * 100);
	if (o->npids > 0)
		printf("  server     %zu process%s, %.2f s CPU: %.0f us per "
		    "request, %.0f requests per core-second; peak RSS %ld "
		    "KiB (anonymous %ld)\n", o->npids, o->npids == 1 ? "" : "es", cpu,
		    b->ok ? cpu / (double)b->ok * 1e6 : 0,
		    cpu > 0 ? (double)b->ok / cpu : 0,
		    b->rss_max_kib > s1->rss ? b->rss_max_kib : s1->rss,
		    b->anon_max_kib > s1->anon ? b->anon_max_kib : s1->anon);
	if (o->mode == M_STORM) {
		size_t never = b->nphones - b->ndone;
		double done = b->last_done - b->t_measure;

		printf("  storm      %zu of %zu phones provisioned in %.2f s, "
		    "%llu retries, %zu never succeeded\n", b->ndone,
		    b->nphones, done, (unsigned long long)b->retries, never);
		if (o->peak_rate > 0)
			printf("  bound      N / peak rate = %.2f s; completion "
			    "is %.2fx of it\n", (double)b->nphones /
			    o->peak_rate, done / ((double)b->nphones /
			    o->peak_rate));
	}
	/* One line for scripts. */
	printf("RESULT mode=%s ok=%llu failed=%llu secs=%.3f rps=%.1f "
	    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f resumed=%llu "
	    "server_cpu_s=%.3f server_us_per_req=%.1f server_per_core_s=%.1f "
	    "server_rss_peak_kib=%ld server_anon_peak_kib=%ld "
	    "server_hwm_kib=%ld client_cpu_pct=%.0f",
	    mode, (unsigned long long)b->ok, (unsigned long long)b->failed,
	    secs, (double)b->ok / secs, pct(b, 50), pct(b, 90), pct(b, 99),
	    pct(b, 100), (unsigned long long)b->resumed, cpu,
	    b->ok ? cpu / (double)b->ok * 1e6 : 0,
	    cpu > 0 ? (double)b->ok / cpu : 0,
	    b->rss_max_kib > s1->rss ? b->rss_max_kib : s1->rss,
	    b->anon_max_kib > s1->anon ? b->anon_max_kib : s1->anon, s1->hwm,
	    b->client_cpu / secs * 100);
	if (o->mode == M_STORM)
		printf(" done=%zu never=%zu retries=%llu completion_s=%.3f",
		    b->ndone, b->nphones - b->ndone,
		    (unsigned long long)b->retries,
		    b->last_done - b->t_measure);
	printf("\n");
}

/* --- options ---------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr,
"usage: sprov-bench --ids DIR --server-ca F --connect IP:PORT... --name FQDN\n"
"           [--path /prov/%%s.xml] [--mode full|resume|keepalive|storm]\n"
"           [--tls 1.2|1.3] [-n PHONES] [-c CONNS] [-r REQUESTS | -d SECS]\n"
"           [--rate R] [--warmup N] [--timeout S] [--check] [--server-pid PID]...\n"
"       storm: [--window S] [--random-delay S] [--retry-ladder L]\n"
"           [--retry-scale F] [--deadline S] [--peak-rate R]\n");
	exit(2);
}

static void
parse_addr(struct opts *o, const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	struct sockaddr_in *a4;
	struct sockaddr_in6 *a6;
	long port;
	size_t hl;

	if (o->naddr == BENCH_ADDRS_MAX)
		fatal("--connect %s: at most %d addresses", s, BENCH_ADDRS_MAX);
	a4 = (struct sockaddr_in *)&o->addr[o->naddr];
	a6 = (struct sockaddr_in6 *)&o->addr[o->naddr];

	if (colon == NULL || (hl = (size_t)(colon - s)) == 0 ||
	    hl >= sizeof(host))
		fatal("--connect %s: want IP:PORT", s);
	port = strtol(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		fatal("--connect %s: bad port", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl);
	}
	memset(&o->addr[o->naddr], 0, sizeof(o->addr[0]));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		o->addrlen[o->naddr++] = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		o->addrlen[o->naddr++] = sizeof(*a6);
	} else
		fatal("--connect %s: not an IP address (the bench takes the "
		    "address as the name's, like curl --resolve)", s);
}

static void
parse_ladder(struct opts *o, const char *s)
{
	char *end;
	double v;

	o->nladder = 0;
	while (*s != '\0' && o->nladder < BENCH_LADDER_MAX) {
		v = strtod(s, &end);
		if (end == s || v < 0)
			fatal("--retry-ladder %s: want seconds, comma "
			    "separated", s);
		o->ladder[o->nladder++] = v;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			fatal("--retry-ladder: bad list at %s", end);
	}
	if (o->nladder == 0)
		fatal("%s", "--retry-ladder: empty");
}

static double
num(const char *opt, const char *v, double min)
{
	char *end;
	double d = strtod(v, &end);

	if (end == v || *end != '\0' || d < min || !isfinite(d))
		fatal("%s: bad number", opt);
	return d;
}

static void
parse(struct opts *o, int argc, char *argv[])
{
	static const struct option lo[] = {
		{ "ids", required_argument, NULL, 'i' },
		{ "server-ca", required_argument, NULL, 'a' },
		{ "connect", required_argument, NULL, 'C' },
		{ "name", required_argument, NULL, 'N' },
		{ "path", required_argument, NULL, 'P' },
		{ "mode", required_argument, NULL, 'm' },
		{ "tls", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'R' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "check", no_argument, NULL, 'k' },
		{ "server-pid", required_argument, NULL, 'p' },
		{ "window", required_argument, NULL, 'W' },
		{ "random-delay", required_argument, NULL, 'D' },
		{ "retry-ladder", required_argument, NULL, 'L' },
		{ "retry-scale", required_argument, NULL, 'S' },
		{ "deadline", required_argument, NULL, 'E' },
		{ "peak-rate", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	bool warm_set = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->path = "/prov/%s.xml";
	o->mode = M_FULL;
	o->tls = TLS1_3_VERSION;
	o->conns = 64;
	o->timeout = 10;
	o->window = 10;
	o->random_delay = 40;	/* Resync_Random_Delay 2 x 20 s */
	o->retry_scale = 60;
	o->deadline_s = 600;
	parse_ladder(o, "60,120,240,480,960,1920,3840,7680,15360,30720,"
	    "61440,86400");
	while ((c = getopt_long(argc, argv, "n:c:r:d:h", lo, NULL)) != -1) {
		switch (c) {
		case 'i': o->ids = optarg; break;
		case 'a': o->ca = optarg; break;
		case 'C': parse_addr(o, optarg); break;
		case 'N': o->name = optarg; break;
		case 'P': o->path = optarg; break;
		case 'm':
			if (strcmp(optarg, "full") == 0)
				o->mode = M_FULL;
			else if (strcmp(optarg, "resume") == 0)
				o->mode = M_RESUME;
			else if (strcmp(optarg, "keepalive") == 0)
				o->mode = M_KEEPALIVE;
			else if (strcmp(optarg, "storm") == 0)
				o->mode = M_STORM;
			else
				fatal("--mode %s: full, resume, keepalive or "
				    "storm", optarg);
			break;
		case 't':
			if (strcmp(optarg, "1.2") == 0)
				o->tls = TLS1_2_VERSION;
			else if (strcmp(optarg, "1.3") == 0)
				o->tls = TLS1_3_VERSION;
			else
				fatal("--tls %s: 1.2 or 1.3", optarg);
			break;
		case 'n': o->nphones = (size_t)num("-n", optarg, 1); break;
		case 'c': o->conns = (size_t)num("-c", optarg, 1); break;
		case 'r': o->requests = (uint64_t)num("-r", optarg, 1); break;
		case 'd': o->duration = num("-d", optarg, 0.1); break;
		case 'R': o->rate = num("--rate", optarg, 0.001); break;
		case 'w':
			o->warmup = (uint64_t)num("--warmup", optarg, 0);
			warm_set = true;
			break;
		case 'T': o->timeout = num("--timeout", optarg, 0.01); break;
		case 'k': o->check = true; break;
		case 'p':
			if (o->npids == BENCH_PIDS_MAX)
				fatal("%s", "too many --server-pid");
			o->pids[o->npids++] = (pid_t)num("--server-pid",
			    optarg, 1);
			break;
		case 'W': o->window = num("--window", optarg, 0); break;
		case 'D': o->random_delay = num("--random-delay", optarg, 0);
			break;
		case 'L': parse_ladder(o, optarg); break;
		case 'S': o->retry_scale = num("--retry-scale", optarg, 0.001);
			break;
		case 'E': o->deadline_s = num("--deadline", optarg, 1); break;
		case 'K': o->peak_rate = num("--peak-rate", optarg, 0.001);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->ids == NULL || o->ca == NULL ||
	    o->naddr == 0 || o->name == NULL)
		usage();
	if (o->requests == 0 && o->duration == 0 && o->mode != M_STORM)
		o->duration = 10;
	if (!warm_set && o->mode == M_RESUME)
		o->warmup = UINT64_MAX;	/* one pass: every phone's ticket */
	if (o->mode == M_STORM && o->conns == 64)
		o->conns = 2000;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	struct bench b;
	struct sample s0, s1;
	struct rlimit rl;
	size_t i;

	parse(&o, argc, argv);
	memset(&b, 0, sizeof(b));
	b.o = &o;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* Connections need descriptors: take the hard limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (o.conns + 16 > rl.rlim_cur)
			o.conns = rl.rlim_cur > 64 ? rl.rlim_cur - 16 : 48;
	}
	load_phones(&b);
	if (o.warmup == UINT64_MAX)
		o.warmup = b.nphones;
	if (o.conns > b.nphones)
		o.conns = b.nphones;	/* one connection per phone at most */
	if ((b.ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(b.ctx, o.tls) != 1 ||
	    SSL_CTX_set_max_proto_version(b.ctx, o.tls) != 1 ||
	    SSL_CTX_load_verify_locations(b.ctx, o.ca, NULL) != 1)
		fatal("%s: cannot load the server CA", o.ca);
	SSL_CTX_set_verify(b.ctx, SSL_VERIFY_NONE, NULL);	/* checked
								 * after, as
								 * the agent */
	SSL_CTX_set_verify_depth(b.ctx, 4);
	SSL_CTX_set_session_cache_mode(b.ctx, SSL_SESS_CACHE_OFF);
	b.nconns = o.conns;
	if ((b.conns = calloc(b.nconns, sizeof(*b.conns))) == NULL ||
	    (b.freel = calloc(b.nconns, sizeof(*b.freel))) == NULL)
		fatal("%s", "out of memory");
	for (i = 0; i < b.nconns; i++) {
		b.conns[i].fd = -1;
		b.freel[b.nfree++] = b.nconns - 1 - i;
		if ((b.conns[i].in = malloc(BENCH_RESP_MAX)) == NULL)
			fatal("%s", "out of memory");
	}
	if ((b.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll: %s", strerror(errno));
	add_children(&o);
	if (o.mode == M_STORM) {
		/* Power returns: each phone boots within the window, then
		 * waits its own Resync_Random_Delay draw. */
		double t = now();

		if ((b.heap = calloc(b.nphones, sizeof(*b.heap))) == NULL)
			fatal("%s", "out of memory");
		for (i = 0; i < b.nphones; i++) {
			b.phones[i].due = t + uniform() * o.window +
			    uniform() * o.random_delay;
			heap_push(&b, i);
		}
	}
	if (o.warmup > 0)
		run(&b, o.warmup);	/* returns when the warm-up is done */
	b.measuring = true;
	b.t_measure = b.next_arrival = now();
	server_sample(&o, &s0);
	b.rss_max_kib = s0.rss;
	b.anon_max_kib = s0.anon;
	b.client_cpu = cpu_self();
	run(&b, 0);
	b.client_cpu = cpu_self() - b.client_cpu;
	server_sample(&o, &s1);
	report(&b, &s0, &s1);
	for (i = 0; i < b.nphones; i++) {
		X509_free(b.phones[i].cert);
		EVP_PKEY_free(b.phones[i].key);
		SSL_SESSION_free(b.phones[i].sess);
	}
	for (i = 0; i < b.nconns; i++)
		free(b.conns[i].in);
	free(b.conns);
	free(b.freel);
	free(b.phones);
	free(b.lat);
	free(b.heap);
	SSL_CTX_free(b.ctx);
	close(b.ep);
	if (o.mode == M_STORM)
		return b.ndone == b.nphones ? 0 : 1;
	return b.failed == 0 ? 0 : 1;
}
