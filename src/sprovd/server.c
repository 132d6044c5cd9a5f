/*
 * Workers: each thread runs an epoll loop over non-blocking sockets.  A
 * connection moves HELLO (accepted, nothing received yet: no TLS state) ->
 * HANDSHAKE -> READ (head, then body) -> [WAIT for the store writer,
 * reports only] -> WRITE -> READ (keep-alive) or closed, through
 * conn_close() only.  Every state has a deadline; the loop sweeps
 * them four times a second.
 */
#include <sys/epoll.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sprov/buf.h"
#include "sprov/http.h"
#include "sprov/mac.h"
#include "sprov/net.h"
#include "sprov/profile.h"
#include "sprov/store.h"
#include "sprov/str.h"
#include "sprov/x509.h"
#include "sprovd/sprovd.h"

#define TICK_MS		250
#define EVENTS_MAX	256
#define PROFILE_MAX	(8 * 1024 * 1024)
#define FILE_CHUNK	(64 * 1024)
#define CACHE_SLOTS	4096	/* rendered profiles per worker */

/* Metrics: counters only (atomics), never a lock on the request path. */
static const int status_codes[] = { 200, 204, 206, 304, 400, 403, 404, 405,
    408, 411, 413, 416, 431, 500, 501, 503, 505 };
#define NSTATUS		(sizeof(status_codes) / sizeof(status_codes[0]))
static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5 };
#define NBUCKETS	(sizeof(buckets) / sizeof(buckets[0]))

struct metrics {
	atomic_ulong	 accepted, refused, hs_ok, hs_failed, paused, parked;
	atomic_ulong	 store_refused;
	atomic_ulong	 status[NSTATUS + 1];		/* last: other */
	atomic_ulong	 profile_bytes;
	atomic_ulong	 latency[NBUCKETS + 1];		/* last: +Inf */
	atomic_ulong	 latency_us;
};

enum tag_kind { TAG_LISTEN = 1, TAG_ADMIN_LISTEN, TAG_EVENT, TAG_CONN };

struct tag {
	enum tag_kind	 kind;
	int		 fd;
};

enum conn_state { C_HELLO, C_HANDSHAKE, C_READ, C_WAIT, C_WRITE, C_LINGER };

struct conn {
	struct tag		 tag;		/* first: epoll data points here */
	uint64_t		 id;
	struct worker		*w;
	struct sp_tls_conn	*tls;
	enum conn_state		 state;
	uint32_t		 events;	/* current epoll interest */
	int64_t			 deadline;	/* monotonic ms */
	char			 ip[46];
	bool			 admin;		/* on an admin listener */
	char			 operator_cn[SP_CN_MAX + 1];
	/* Identity from the verified certificate. */
	bool			 has_mac;
	bool			 generic;
	char			 mac[SP_MAC_HEXLEN + 1];
	char			 serial[SP_SERIAL_MAX + 1];
	char			 model[SP_MODEL_MAX + 1];
	char			 cert_serial[80];
	/* The request in progress. */
	struct sp_buf		 in;
	struct sp_http_req	*req;		/* from the handshake on */
	bool			 have_head;
	size_t			 body_len;
	bool			 keep_alive;
	size_t			 lingered;	/* bytes dropped (C_LINGER) */
	int			 status;
	int64_t			 t_start;	/* head complete, us */
	/* The response. */
	struct sp_buf		 out;
	size_t			 out_off;
	int			 file;		/* firmware being sent, or -1 */
	off_t			 file_off, file_end;
	size_t			 sent;
	struct conn		*prev, *next;
	/* HELLO with its ClientHello waiting for a handshake slot. */
	bool			 parked;
	struct conn		*pprev, *pnext;
};

/*
 * A rendered profile, valid while the store's generation is the one it was
 * built at (any parameter, group or device change bumps it) and for the
 * model it was built for.  Direct-mapped by MAC: bounded, no eviction
 * bookkeeping.  Bodies hold secrets and are wiped when replaced.
 */
struct cached {
	char		 mac[SP_MAC_HEXLEN + 1];
	char		 model[SP_MODEL_MAX + 1];
	uint64_t	 gen;
	bool		 known;		/* an active device at gen */
	char		 etag[SP_ETAG_MAX + 1];
	struct sp_buf	 body;
};

struct worker {
	int			 id;
	int			 reserve;	/* a spare fd for EMFILE */
	struct cached		*cache;		/* CACHE_SLOTS entries */
	pthread_t		 thread;
	struct server		*srv;
	int			 epfd;
	struct tag		 evtag;		/* completion eventfd */
	struct tag		 ltag[SPROVD_MAX_LISTEN];
	struct sp_store		*store;
	struct conn		*conns;
	pthread_mutex_t		 lock;
	struct job		*done;		/* completed reports */
	uint64_t		 next_id;
	long			 handshaking;	/* provisioning conns in TLS */
	bool			 paused;	/* listeners out of epoll */
	struct conn		*parked, *parked_tail;	/* FIFO */
};

/* Replaced by a reload, freed when the server stops. */
struct retired {
	struct sprovd_live	*live;
	struct sp_cfg		*cfg;
	struct retired		*next;
};

struct server {
	struct sprovd_conf	*conf;
	pthread_mutex_t		 tls_lock;	/* guards the swap of tls */
	struct sp_tls_server	*tls;
	struct sp_tls_server	*admin_tls;	/* NULL: no admin listener */
	size_t			 nadmin;	/* the last nadmin of lfds */
	struct writer		*writer;
	struct sp_log		*log;
	int			*lfds;
	size_t			 nlfds;
	int			 fwdir;		/* firmware_dir, or -1 */
	atomic_long		 nconns;
	atomic_int		 stop;
	struct metrics		 m;
	/*
	 * The settings SIGHUP may change: replaced whole.  A worker may still
	 * read the old copy, so what reloads replace is kept until exit.
	 */
	_Atomic(const struct sprovd_live *) live_p;
	struct retired		*retired;
	struct worker		 workers[SPROVD_MAX_WORKERS];
	long			 nworkers;
	/*
	 * The store's change feed (see feed_main): with it, workers take the
	 * generation from feed_gen instead of asking the database on every
	 * request; store_down is when the feed lost the database (ms,
	 * CLOCK_MONOTONIC; 0 while it is reachable).
	 */
	struct sp_store		*feed;
	pthread_t		 feed_thread;
	bool			 feed_running;
	bool			 feed_live;
	int			 feed_fd;	/* from sp_store_watch */
	_Atomic uint64_t	 feed_gen;
	atomic_llong		 store_down;
	/* The blobs the TLS contexts were built from (blob_lock). */
	pthread_mutex_t		 blob_lock;
	struct sp_buf		 crl, tickets;
	int64_t			 crl_ver, tickets_ver;
	struct admin_env	 env;
};

static const struct sprovd_live *
live(struct server *s)
{
	return atomic_load(&s->live_p);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
observe(struct server *s, int status, int64_t us)
{
	size_t i;

	for (i = 0; i < NSTATUS && status_codes[i] != status; i++)
		;
	atomic_fetch_add(&s->m.status[i], 1);
	for (i = 0; i < NBUCKETS && (double)us / 1e6 > buckets[i]; i++)
		;
	atomic_fetch_add(&s->m.latency[i], 1);
	atomic_fetch_add(&s->m.latency_us, (unsigned long)us);
}

/* Prometheus text exposition, built on demand from the counters. */
static void
metrics_text(struct server *s, struct sp_buf *b)
{
	unsigned long cum = 0;
	size_t i;

	sp_buf_printf(b, "# HELP sprovd_connections_total Connections "
	    "accepted.\n# TYPE sprovd_connections_total counter\n"
	    "sprovd_connections_total %lu\n", atomic_load(&s->m.accepted));
	sp_buf_printf(b, "# HELP sprovd_connections_refused_total Connections "
	    "refused by admission control.\n# TYPE "
	    "sprovd_connections_refused_total counter\n"
	    "sprovd_connections_refused_total %lu\n",
	    atomic_load(&s->m.refused));
	sp_buf_printf(b, "# HELP sprovd_connections_open Connections open.\n"
	    "# TYPE sprovd_connections_open gauge\nsprovd_connections_open "
	    "%ld\n", atomic_load(&s->nconns));
	sp_buf_printf(b, "# HELP sprovd_handshakes_total TLS handshakes.\n"
	    "# TYPE sprovd_handshakes_total counter\n"
	    "sprovd_handshakes_total{result=\"ok\"} %lu\n"
	    "sprovd_handshakes_total{result=\"failed\"} %lu\n",
	    atomic_load(&s->m.hs_ok), atomic_load(&s->m.hs_failed));
	sp_buf_printf(b, "# HELP sprovd_accept_paused_total Times a worker "
	    "stopped accepting at max_handshakes.\n# TYPE "
	    "sprovd_accept_paused_total counter\nsprovd_accept_paused_total "
	    "%lu\n", atomic_load(&s->m.paused));
	sp_buf_printf(b, "# HELP sprovd_hello_parked_total ClientHellos that "
	    "waited for a handshake slot (max_handshakes).\n# TYPE "
	    "sprovd_hello_parked_total counter\nsprovd_hello_parked_total "
	    "%lu\n", atomic_load(&s->m.parked));
	sp_buf_printf(b, "# HELP sprovd_store_reachable 1 while the store's "
	    "database answers (0: cached profiles only, for store_grace).\n"
	    "# TYPE sprovd_store_reachable gauge\nsprovd_store_reachable %d\n"
	    "# HELP sprovd_store_grace_refused_total Requests refused because "
	    "the database was away longer than store_grace.\n# TYPE "
	    "sprovd_store_grace_refused_total counter\n"
	    "sprovd_store_grace_refused_total %lu\n",
	    atomic_load(&s->store_down) == 0,
	    atomic_load(&s->m.store_refused));
	sp_buf_printf(b, "# HELP sprovd_requests_total Responses by status."
	    "\n# TYPE sprovd_requests_total counter\n");
	for (i = 0; i <= NSTATUS; i++)
		if (i < NSTATUS)
			sp_buf_printf(b, "sprovd_requests_total{status=\"%d\"} "
			    "%lu\n", status_codes[i],
			    atomic_load(&s->m.status[i]));
		else
			sp_buf_printf(b, "sprovd_requests_total{status="
			    "\"other\"} %lu\n", atomic_load(&s->m.status[i]));
	sp_buf_printf(b, "# HELP sprovd_profile_bytes_total Profile bytes "
	    "served.\n# TYPE sprovd_profile_bytes_total counter\n"
	    "sprovd_profile_bytes_total %lu\n",
	    atomic_load(&s->m.profile_bytes));
	sp_buf_printf(b, "# HELP sprovd_request_duration_seconds From the "
	    "first byte of a request to the last byte of its answer.\n# TYPE "
	    "sprovd_request_duration_seconds histogram\n");
	for (i = 0; i <= NBUCKETS; i++) {
		cum += atomic_load(&s->m.latency[i]);
		if (i < NBUCKETS)
			sp_buf_printf(b, "sprovd_request_duration_seconds_bucket"
			    "{le=\"%g\"} %lu\n", buckets[i], cum);
		else
			sp_buf_printf(b, "sprovd_request_duration_seconds_bucket"
			    "{le=\"+Inf\"} %lu\n", cum);
	}
	sp_buf_printf(b, "sprovd_request_duration_seconds_sum %.6f\n"
	    "sprovd_request_duration_seconds_count %lu\n",
	    (double)atomic_load(&s->m.latency_us) / 1e6, cum);
	sp_buf_printf(b, "# HELP sprovd_store_queue_depth Writes waiting for "
	    "the store writer.\n# TYPE sprovd_store_queue_depth gauge\n"
	    "sprovd_store_queue_depth %ld\n", writer_depth(s->writer));
}

static void
set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e;

	if (c->events == ev)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = &c->tag;
	if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->tag.fd, &e) == 0)
		c->events = ev;
}

/*
 * Handshakes in progress are what a storm of phones costs in memory (about
 * 80 KiB each inside OpenSSL).  Past the limit this worker stops accepting:
 * new connections wait in the kernel's listen queue, which costs nothing
 * here, and are taken as handshakes finish.  A connection that has sent
 * nothing yet is not a handshake: it holds no TLS state (HELLO), so idle
 * connections cannot stop the accepting; when its ClientHello comes while
 * the limit is reached it is parked until a slot frees.
 */
static long
handshake_limit(struct server *s)
{
	long n = live(s)->max_handshakes / s->nworkers;

	return n > 0 ? n : 1;
}

static void
listeners(struct worker *w, bool on)
{
	struct server *s = w->srv;
	struct epoll_event e;
	size_t k;

	if (w->paused == !on)
		return;
	for (k = 0; k < s->nlfds; k++) {
		if (w->ltag[k].kind != TAG_LISTEN)
			continue;
		memset(&e, 0, sizeof(e));
		e.events = EPOLLIN | EPOLLEXCLUSIVE;
		e.data.ptr = &w->ltag[k];
		epoll_ctl(w->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
		    w->ltag[k].fd, on ? &e : NULL);
	}
	w->paused = !on;
}

/* A provisioning connection leaves the handshake (done or closed). */
static void
handshake_left(struct conn *c)
{
	struct worker *w = c->w;

	if (c->admin)
		return;
	w->handshaking--;
	if (w->paused && w->handshaking <= handshake_limit(w->srv) * 3 / 4 &&
	    !atomic_load(&w->srv->stop))
		listeners(w, true);
}

/* Takes c out of its worker's parked FIFO. */
static void
unpark_one(struct conn *c)
{
	struct worker *w = c->w;

	if (c->pprev != NULL)
		c->pprev->pnext = c->pnext;
	else
		w->parked = c->pnext;
	if (c->pnext != NULL)
		c->pnext->pprev = c->pprev;
	else
		w->parked_tail = c->pprev;
	c->parked = false;
}

/* The single close path. */
static void
conn_close(struct conn *c)
{
	struct worker *w = c->w;

	if (c->state == C_HANDSHAKE)
		handshake_left(c);
	if (c->parked)
		unpark_one(c);
	if (c->tls != NULL) {
		sp_tls_close(c->tls);
		sp_tls_conn_free(c->tls);
	}
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->tag.fd, NULL);
	close(c->tag.fd);
	if (c->file != -1)
		close(c->file);
	sp_buf_release(&c->in);
	sp_buf_release(&c->out);
	free(c->req);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	atomic_fetch_sub(&w->srv->nconns, 1);
	free(c);
}

static struct job *
job_new(struct conn *c, enum job_kind kind)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->kind = kind;
	j->when = (int64_t)time(NULL);
	snprintf(j->mac, sizeof(j->mac), "%s", c->has_mac ? c->mac : "");
	snprintf(j->ip, sizeof(j->ip), "%s", c->ip);
	snprintf(j->cert_serial, sizeof(j->cert_serial), "%s",
	    c->cert_serial);
	snprintf(j->user_agent, sizeof(j->user_agent), "%s",
	    c->req->user_agent);
	j->worker = c->w->id;
	j->conn_id = c->id;
	return j;
}

/* A writer job of kind (JOB_AUDIT, or JOB_SEEN with its audit row) for
 * this request: event, status and etag recorded.  NULL when out of memory. */
static struct job *
audit_job(struct conn *c, enum job_kind kind, const char *event, int status,
    const char *etag)
{
	struct job *j = job_new(c, kind);

	if (j == NULL)
		return NULL;
	snprintf(j->event, sizeof(j->event), "%s", event);
	snprintf(j->route, sizeof(j->route), "%s", c->req->path);
	snprintf(j->etag, sizeof(j->etag), "%s", etag ? etag : "");
	j->status = status;
	return j;
}

static void
audit(struct conn *c, const char *event, int status, const char *etag)
{
	struct job *j = audit_job(c, JOB_AUDIT, event, status, etag);

	if (j != NULL)
		writer_submit(c->w->srv->writer, j);
}

static void
access_log(struct conn *c)
{
	static const char *const m[] = { "GET", "HEAD", "POST", "PUT",
	    "DELETE", "-" };
	char path[256], ua[160];

	sp_log(c->w->srv->log, SP_LOG_INFO, "%s %s %s %s %d %zu %s \"%s\"",
	    c->ip, c->admin ? c->operator_cn : c->has_mac ? c->mac : "-",
	    m[c->req->method],
	    sp_log_escape(path, sizeof(path), c->req->path,
	    strlen(c->req->path)), c->status, c->sent,
	    sp_tls_version(c->tls), sp_log_escape(ua, sizeof(ua),
	    c->req->user_agent, strlen(c->req->user_agent)));
}

/* Starts a response: head (and body unless HEAD) into c->out. */
static void
respond(struct conn *c, int status, const char *ctype, const char *body,
    size_t len, const char *extra)
{
	sp_buf_reset(&c->out);
	c->out_off = 0;
	c->status = status;
	if (status >= 400 && status != 404 && status != 403 && status != 416)
		c->keep_alive = false;
	sp_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nServer: sprovd\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: %s\r\n%s%s%s%s\r\n", status, sp_http_reason(status),
	    len, c->keep_alive ? "keep-alive" : "close",
	    ctype ? "Content-Type: " : "", ctype ? ctype : "",
	    ctype ? "\r\n" : "", extra ? extra : "");
	if (c->req->method != SP_HTTP_HEAD && body != NULL &&
	    sp_buf_append(&c->out, body, len) == -1) {
		sp_buf_reset(&c->out);
		c->status = 500;
		c->keep_alive = false;
		sp_buf_printf(&c->out, "HTTP/1.1 500 Internal Server Error\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
	}
	c->state = C_WRITE;
	c->deadline = now_ms() + live(c->w->srv)->timeout_request * 1000;
	set_events(c, EPOLLOUT);
}

static void
respond_error(struct conn *c, int status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", sp_http_reason(status));

	respond(c, status, "text/plain", body, (size_t)n, status == 503 ?
	    "Retry-After: 30\r\n" : NULL);
}

/* Reads the device's record; answers the refusal itself. 0 to go on. */
static int
device_allowed(struct conn *c, struct sp_device *d, const char *what)
{
	struct server *s = c->w->srv;
	struct job *j;
	int found;

	if (!c->has_mac) {
		sp_log(s->log, SP_LOG_WARN, "%s: %s certificate carries no "
		    "device identity", c->ip, c->generic ? "a generic" : "the");
		audit(c, "refused", 403, NULL);
		respond_error(c, 403);
		return -1;
	}
	found = sp_store_device_get(c->w->store, c->mac, d);
	if (found == -1) {
		sp_log(s->log, SP_LOG_ERR, "%s",
		    sp_store_error(c->w->store));
		respond_error(c, 503);
		return -1;
	}
	if (found == 1 && live(s)->unknown == UNKNOWN_REGISTER) {
		if ((j = job_new(c, JOB_REGISTER)) != NULL) {
			snprintf(j->serial, sizeof(j->serial), "%s", c->serial);
			snprintf(j->model, sizeof(j->model), "%s", c->model);
			writer_submit(s->writer, j);
		}
		memset(d, 0, sizeof(*d));
		d->state = SP_DEV_ACTIVE;
		return 0;
	}
	if (found == 1 || d->state != SP_DEV_ACTIVE) {
		sp_log(s->log, SP_LOG_WARN, "%s: %s %s refused: %s", c->ip,
		    what, c->mac, found == 1 ? "unknown device" :
		    "device quarantined");
		audit(c, "refused", 403, NULL);
		respond_error(c, 403);
		return -1;
	}
	return 0;
}

/*
 * The store generation profiles are cached at.  With a change feed it is
 * the feed's (no database round trip per request); while the database is
 * unreachable the last one known stays, so that profiles already cached
 * are still served, for store_grace seconds: a change made meanwhile on
 * another node (a quarantine) cannot reach this one, so the grace bounds
 * how long it may be missed.  Past it, 503 until the database is back.
 */
static int
store_gen(struct worker *w, uint64_t *gen)
{
	struct server *s = w->srv;
	long long down;

	if (!s->feed_live) {
		if (sp_store_generation(w->store, gen) == 0)
			return 0;
		sp_log(s->log, SP_LOG_ERR, "%s",
		    sp_store_error(w->store));
		return -1;
	}
	down = atomic_load(&s->store_down);
	if (down != 0 && now_ms() - down > live(s)->store_grace * 1000) {
		atomic_fetch_add(&s->m.store_refused, 1);
		return -1;
	}
	*gen = atomic_load(&s->feed_gen);
	return 0;
}

/* "000e08abcdef.xml" or "self.xml" in the path: the MAC asked for. */
static int
path_mac(struct conn *c, const char *name, char mac[SP_MAC_HEXLEN + 1])
{
	size_t n = strlen(name);
	const char *why;

	if (n < 5 || strcmp(name + n - 4, ".xml") != 0)
		return -1;
	if (n == 8 && memcmp(name, "self", 4) == 0) {
		if (!c->has_mac)
			return -2;
		memcpy(mac, c->mac, SP_MAC_HEXLEN + 1);
		return 0;
	}
	return sp_mac_parse(name, n - 4, mac, &why);
}

static bool
etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = inm;

	if (strcmp(inm, "*") == 0)
		return true;
	while ((p = strstr(p, etag)) != NULL) {
		if ((p == inm || p[-1] == ' ' || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		p += n;
	}
	return false;
}

static struct cached *
cache_slot(struct worker *w, const char *mac)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; mac[i] != '\0'; i++)
		h = (h ^ (unsigned char)mac[i]) * 1099511628211ULL;
	return &w->cache[h % CACHE_SLOTS];
}

/*
 * The device's profile at store generation gen, from its cache slot e or
 * rendered into it.  known: the device record was read at gen and is
 * active.  NULL on error.
 */
static bool
cache_fresh(const struct cached *e, const struct conn *c, uint64_t gen)
{
	return e->gen == gen && strcmp(e->mac, c->mac) == 0 &&
	    strcmp(e->model, c->model) == 0;
}

static struct cached *
profile_for(struct conn *c, struct cached *e, uint64_t gen, bool known)
{
	struct worker *w = c->w;
	struct sp_profile *prof;
	unsigned char md[32];

	if (cache_fresh(e, c, gen)) {
		e->known = e->known || known;
		return e;
	}
	if ((prof = sp_profile_new()) == NULL)
		return NULL;
	e->mac[0] = '\0';
	sp_buf_reset(&e->body);		/* wipes: secret */
	if (sp_store_profile(w->store, c->mac, c->model, prof) == -1 ||
	    sp_profile_render(prof, &e->body) == -1) {
		sp_profile_free(prof);
		return NULL;
	}
	sp_profile_free(prof);
	EVP_Digest(e->body.data, e->body.len, md, NULL, EVP_sha256(), NULL);
	e->etag[0] = '"';
	sp_str_hex(e->etag + 1, md, 32);
	e->etag[65] = '"';
	e->etag[66] = '\0';
	memcpy(e->mac, c->mac, sizeof(e->mac));
	snprintf(e->model, sizeof(e->model), "%s", c->model);
	e->gen = gen;
	e->known = known;
	return e;
}

/*
 * The binding: a path naming another device's MAC is refused (and logged
 * as a security event) before any lookup of it; a bad path is a 404.
 * rc is path_mac()'s.  0 to go on, -1 when answered.
 */
static int
own_mac(struct conn *c, int rc, const char *mac, const char *what)
{
	if (rc == -1) {
		respond_error(c, 404);
		return -1;
	}
	if (rc == 0 && c->has_mac && strcmp(mac, c->mac) != 0) {
		sp_log(c->w->srv->log, SP_LOG_WARN, "security: %s with the "
		    "certificate of %s %s %s", c->ip, c->mac, what, mac);
		audit(c, "refused", 403, NULL);
		respond_error(c, 403);
		return -1;
	}
	return 0;
}

static void
route_profile(struct conn *c, const char *name)
{
	char mac[SP_MAC_HEXLEN + 1], hdr[128];
	struct cached *e;
	struct sp_device d;
	struct job *j;
	uint64_t gen;
	bool known;
	int rc = path_mac(c, name, mac);

	if (own_mac(c, rc, mac, "asked for the profile of") == -1)
		return;
	if (store_gen(c->w, &gen) == -1) {
		respond_error(c, 503);
		return;
	}
	/*
	 * Every change to a device (state, deletion, model, groups) moves the
	 * generation: a profile cached at this generation for an active
	 * device needs no second look at the device's record.
	 */
	e = c->has_mac ? cache_slot(c->w, c->mac) : NULL;
	if (e != NULL && e->known && cache_fresh(e, c, gen))
		known = true;
	else {
		if (device_allowed(c, &d, "profile") == -1)
			return;
		known = d.mac[0] != '\0';	/* registering: not yet */
	}
	/* device_allowed() refused every certificate without a MAC. */
	if ((e = profile_for(c, e, gen, known)) == NULL) {
		sp_log(c->w->srv->log, SP_LOG_ERR, "profile of %s: %s", c->mac,
		    sp_store_error(c->w->store));
		respond_error(c, 503);
		return;
	}
	snprintf(hdr, sizeof(hdr), "ETag: %s\r\n", e->etag);
	if (c->req->if_none_match[0] != '\0' &&
	    etag_matches(c->req->if_none_match, e->etag))
		respond(c, 304, NULL, NULL, 0, hdr);
	else {
		respond(c, 200, "text/xml; charset=utf-8", e->body.data,
		    e->body.len, hdr);
		if (c->req->method == SP_HTTP_GET)
			atomic_fetch_add(&c->w->srv->m.profile_bytes,
			    e->body.len);
	}
	/* Last seen and the audit row: one job, one queue operation. */
	if ((j = audit_job(c, JOB_SEEN, "profile", c->status, e->etag)) !=
	    NULL)
		writer_submit(c->w->srv->writer, j);
}

static void
route_report_head(struct conn *c, const char *name)
{
	char mac[SP_MAC_HEXLEN + 1];
	struct sp_device d;
	int rc = path_mac(c, name, mac);

	if (own_mac(c, rc, mac, "tried to report as") == -1)
		return;
	if (c->req->content_length < 0) {
		respond_error(c, 411);
		return;
	}
	if (c->req->content_length > live(c->w->srv)->max_report) {
		respond_error(c, 413);
		return;
	}
	if (device_allowed(c, &d, "report") == -1)
		return;
	c->body_len = (size_t)c->req->content_length;
}

/* An admin request (body, if any, complete) goes to the writer. */
static void
route_admin_submit(struct conn *c)
{
	struct job *j = job_new(c, JOB_ADMIN);

	if (j == NULL || (j->body = malloc(c->body_len + 1)) == NULL) {
		free(j);
		respond_error(c, 503);
		return;
	}
	memcpy(j->body, c->in.data + c->req->head_len, c->body_len);
	j->body[c->body_len] = '\0';
	j->bodylen = c->body_len;
	j->method = (int)c->req->method;
	snprintf(j->route, sizeof(j->route), "%s", c->req->path + 7);
	c->state = C_WAIT;
	set_events(c, 0);
	c->deadline = now_ms() + live(c->w->srv)->timeout_request * 1000;
	writer_submit(c->w->srv->writer, j);
}

static void
route_admin(struct conn *c)
{
	struct sp_buf b;

	if (strcmp(c->req->path, "/metrics") == 0 &&
	    (c->req->method == SP_HTTP_GET || c->req->method == SP_HTTP_HEAD)) {
		sp_buf_init(&b, 1 << 16);
		metrics_text(c->w->srv, &b);
		respond(c, 200, "text/plain; version=0.0.4", b.data ? b.data :
		    "", b.len, NULL);
		sp_buf_release(&b);
		return;
	}
	if (strncmp(c->req->path, "/api/v1/", 8) != 0) {
		respond_error(c, 404);
		return;
	}
	if (c->req->content_length > SP_ADMIN_BODY_MAX) {
		respond_error(c, 413);
		return;
	}
	c->body_len = c->req->content_length > 0 ?
	    (size_t)c->req->content_length : 0;
	/* With no body to wait for, it goes now; else conn_read waits. */
	if (c->body_len == 0)
		route_admin_submit(c);
}

/* The body is in c->in after the head: hand it to the writer. */
static void
route_report_body(struct conn *c)
{
	struct job *j;

	if (c->admin) {
		route_admin_submit(c);
		return;
	}
	j = job_new(c, JOB_REPORT);

	if (j == NULL || (j->body = malloc(c->body_len + 1)) == NULL) {
		free(j);
		respond_error(c, 503);
		return;
	}
	memcpy(j->body, c->in.data + c->req->head_len, c->body_len);
	j->body[c->body_len] = '\0';
	j->bodylen = c->body_len;
	c->state = C_WAIT;
	set_events(c, 0);
	c->deadline = now_ms() + live(c->w->srv)->timeout_request * 1000;
	writer_submit(c->w->srv->writer, j);
}

static void
route_firmware(struct conn *c, const char *name)
{
	char hdr[256];
	struct sp_device d;
	struct stat st;
	off_t first, last;
	int fd, r;

	if (c->w->srv->fwdir == -1 || name[0] == '\0' ||
	    strchr(name, '/') != NULL || name[0] == '.') {
		respond_error(c, 404);
		return;
	}
	if (device_allowed(c, &d, "firmware") == -1)
		return;
	fd = openat(c->w->srv->fwdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (fd != -1)
			close(fd);
		respond_error(c, 404);
		return;
	}
	r = sp_http_range(c->req->range[0] ? c->req->range : NULL, st.st_size,
	    &first, &last);
	if (r == -1) {
		close(fd);
		snprintf(hdr, sizeof(hdr), "Content-Range: bytes */%lld\r\n",
		    (long long)st.st_size);
		respond(c, 416, "text/plain", "Range Not Satisfiable\n", 22,
		    hdr);
		return;
	}
	if (r == 1) {
		first = 0;
		last = st.st_size - 1;
	}
	if (r == 0)
		snprintf(hdr, sizeof(hdr), "Accept-Ranges: bytes\r\n"
		    "Content-Range: bytes %lld-%lld/%lld\r\n", (long long)first,
		    (long long)last, (long long)st.st_size);
	else
		snprintf(hdr, sizeof(hdr), "Accept-Ranges: bytes\r\n");
	/* Head now, file bytes streamed by conn_write(). */
	respond(c, r == 0 ? 206 : 200, "application/octet-stream", NULL,
	    (size_t)(last - first + 1), hdr);
	if (c->req->method == SP_HTTP_HEAD || st.st_size == 0)
		close(fd);
	else {
		c->file = fd;
		c->file_off = first;
		c->file_end = last + 1;
	}
	audit(c, "firmware", c->status, NULL);
}

/* A complete head is in c->req: decide what it is. */
static void
route(struct conn *c)
{
	const char *pre = live(c->w->srv)->prefix, *p = c->req->path;
	size_t pl = strlen(pre);
	bool get = c->req->method == SP_HTTP_GET ||
	    c->req->method == SP_HTTP_HEAD;
	bool put = c->req->method == SP_HTTP_POST ||
	    c->req->method == SP_HTTP_PUT;

	c->keep_alive = c->req->keep_alive;
	c->body_len = 0;
	if (c->admin) {
		route_admin(c);
		return;
	}
	if (strncmp(p, pre, pl) != 0) {
		respond_error(c, 404);
		return;
	}
	p += pl;
	if (get && c->req->content_length > 0) {
		respond_error(c, 400);
		return;
	}
	if (strncmp(p, "/prov/", 6) == 0 && get)
		route_profile(c, p + 6);
	else if (strncmp(p, "/report/", 8) == 0 && put)
		route_report_head(c, p + 8);
	else if (strncmp(p, "/fw/", 4) == 0 && get)
		route_firmware(c, p + 4);
	else if (strncmp(p, "/prov/", 6) == 0 ||
	    strncmp(p, "/report/", 8) == 0 || strncmp(p, "/fw/", 4) == 0)
		respond(c, 405, "text/plain", "Method Not Allowed\n", 19,
		    strncmp(p, "/report/", 8) == 0 ? "Allow: POST, PUT\r\n" :
		    "Allow: GET, HEAD\r\n");
	else
		respond_error(c, 404);
}

/* Reads and parses; moves to WRITE/WAIT when a request is complete. */
static void
conn_read(struct conn *c)
{
	struct server *s = c->w->srv;
	char buf[16384];
	ssize_t n;
	int rc;

	for (;;) {
		if (!c->have_head && c->in.len > 0) {
			rc = sp_http_parse(c->in.data, c->in.len,
			    (size_t)live(s)->max_header, c->req);
			if (rc < 0) {
				c->keep_alive = false;
				respond_error(c, -rc);
				return;
			}
			if (rc == 1) {
				c->have_head = true;
				route(c);
				if (c->state != C_READ)
					return;	/* answered already */
			}
		}
		if (c->have_head && c->in.len >= c->req->head_len + c->body_len) {
			route_report_body(c);
			return;
		}
		n = sp_tls_read(c->tls, buf, sizeof(buf));
		if (n == SP_TLS_WANT_POLLIN || n == SP_TLS_WANT_POLLOUT) {
			set_events(c, n == SP_TLS_WANT_POLLIN ? EPOLLIN :
			    EPOLLOUT);
			return;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		if (c->in.len == 0) {	/* first byte: the request clock runs */
			c->deadline = now_ms() + live(s)->timeout_request *
			    1000;
			c->t_start = now_us();
		}
		if (sp_buf_append(&c->in, buf, (size_t)n) == -1) {
			c->keep_alive = false;
			respond_error(c, c->have_head ? 413 : 431);
			return;
		}
	}
}

/* Lingering: the raw bytes are dropped unread (no TLS work on them). */
static void
conn_linger(struct conn *c)
{
	char scratch[16384];
	ssize_t n;

	for (;;) {
		n = recv(c->tag.fd, scratch, sizeof(scratch), 0);
		if (n > 0) {
			c->lingered += (size_t)n;
			if (c->lingered > SP_HTTP_LINGER_BYTES)
				break;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;				/* EOF or error */
	}
	conn_close(c);
}

/* After a response: the next request (possibly pipelined) or close. */
static void
conn_next(struct conn *c)
{
	size_t used = c->req->head_len + c->body_len;

	observe(c->w->srv, c->status, now_us() - c->t_start);
	access_log(c);
	if (!c->keep_alive && c->req->content_length > 0 &&
	    c->in.len < c->req->head_len + (size_t)c->req->content_length) {
		/* Refused before its body arrived: let the client finish
		 * sending so that it reads the answer (not a RST). */
		c->state = C_LINGER;
		c->lingered = 0;
		c->deadline = now_ms() + SP_HTTP_LINGER_MS;
		set_events(c, EPOLLIN);
		conn_linger(c);
		return;
	}
	if (!c->keep_alive || atomic_load(&c->w->srv->stop)) {
		conn_close(c);
		return;
	}
	if (used > c->in.len)
		used = c->in.len;
	memmove(c->in.data, c->in.data + used, c->in.len - used);
	c->in.len -= used;
	memset(c->req, 0, sizeof(*c->req));
	c->have_head = false;
	c->body_len = 0;
	c->sent = 0;
	sp_buf_reset(&c->out);
	c->out_off = 0;
	c->state = C_READ;
	c->deadline = now_ms() + live(c->w->srv)->timeout_idle * 1000;
	c->t_start = now_us();		/* pipelined bytes may be waiting */
	set_events(c, EPOLLIN);
	conn_read(c);
}

static void
conn_write(struct conn *c)
{
	char chunk[FILE_CHUNK];
	ssize_t n;

	for (;;) {
		if (c->out_off == c->out.len && c->file != -1 &&
		    c->file_off < c->file_end) {
			size_t want = (size_t)(c->file_end - c->file_off);

			if (want > sizeof(chunk))
				want = sizeof(chunk);
			n = pread(c->file, chunk, want, c->file_off);
			if (n <= 0) {
				conn_close(c);	/* file shrank: give up */
				return;
			}
			sp_buf_reset(&c->out);
			c->out_off = 0;
			sp_buf_append(&c->out, chunk, (size_t)n);
			c->file_off += n;
		}
		if (c->out_off == c->out.len) {
			if (c->file != -1) {
				close(c->file);
				c->file = -1;
			}
			conn_next(c);
			return;
		}
		n = sp_tls_write(c->tls, c->out.data + c->out_off,
		    c->out.len - c->out_off);
		if (n == SP_TLS_WANT_POLLIN || n == SP_TLS_WANT_POLLOUT) {
			set_events(c, n == SP_TLS_WANT_POLLIN ? EPOLLIN :
			    EPOLLOUT);
			return;
		}
		if (n < 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
		c->sent += (size_t)n;
		c->deadline = now_ms() + live(c->w->srv)->timeout_request *
		    1000;
	}
}

static void
identify(struct conn *c)
{
	struct sp_identity id;
	struct sp_err err;
	X509 *peer = sp_tls_peer_cert(c->tls);

	if (peer == NULL)
		return;
	sp_x509_serial_hex(peer, c->cert_serial, sizeof(c->cert_serial));
	if (c->admin) {
		if (sp_x509_name_get(X509_get_subject_name(peer), NID_commonName,
		    c->operator_cn, sizeof(c->operator_cn)) == -1)
			snprintf(c->operator_cn, sizeof(c->operator_cn), "?");
		return;
	}
	if (sp_x509_device_identity(peer, &id, &err) == -1) {
		/* Signed by a device CA we trust, yet no device: notable. */
		sp_log(c->w->srv->log, SP_LOG_WARN, "security: %s: client "
		    "certificate %s names no device: %s", c->ip,
		    c->cert_serial, err.msg);
		return;
	}
	c->generic = id.generic;
	if (id.generic)
		return;
	c->has_mac = true;
	memcpy(c->mac, id.mac, sizeof(c->mac));
	snprintf(c->serial, sizeof(c->serial), "%s", id.serial);
	snprintf(c->model, sizeof(c->model), "%s", id.model);
}

static void
conn_handshake(struct conn *c)
{
	int r = sp_tls_handshake(c->tls);

	if (r == SP_TLS_WANT_POLLIN || r == SP_TLS_WANT_POLLOUT) {
		set_events(c, r == SP_TLS_WANT_POLLIN ? EPOLLIN : EPOLLOUT);
		return;
	}
	if (r == -1) {
		atomic_fetch_add(&c->w->srv->m.hs_failed, 1);
		sp_log(c->w->srv->log, SP_LOG_INFO, "%s: %s", c->ip,
		    sp_tls_conn_error(c->tls));
		conn_close(c);
		return;
	}
	atomic_fetch_add(&c->w->srv->m.hs_ok, 1);
	/* 6 KiB that an idle or half-open connection does not hold. */
	if ((c->req = calloc(1, sizeof(*c->req))) == NULL) {
		conn_close(c);
		return;
	}
	handshake_left(c);
	identify(c);
	c->state = C_READ;
	c->deadline = now_ms() + live(c->w->srv)->timeout_idle * 1000;
	set_events(c, EPOLLIN);
	conn_read(c);
}

/* The first bytes arrived: TLS state now, within the handshake limit. */
static void
conn_hello(struct conn *c)
{
	struct worker *w = c->w;
	struct server *s = w->srv;
	struct sp_err err;
	ssize_t r;
	char b;

	/* Parked, it listens for nothing: an event is a hang-up or error. */
	if (c->parked) {
		conn_close(c);
		return;
	}
	r = recv(c->tag.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (r != 1) {
		conn_close(c);
		return;
	}
	if (!c->admin && w->handshaking >= handshake_limit(s)) {
		set_events(c, 0);
		atomic_fetch_add(&s->m.parked, 1);
		c->parked = true;
		c->pnext = NULL;
		c->pprev = w->parked_tail;
		if (w->parked_tail != NULL)
			w->parked_tail->pnext = c;
		else
			w->parked = c;
		w->parked_tail = c;
		c->deadline = now_ms() + live(s)->timeout_handshake * 1000;
		return;
	}
	/* The context current now; a reload swaps it for later ones. */
	pthread_mutex_lock(&s->tls_lock);
	c->tls = sp_tls_accept(c->admin ? s->admin_tls : s->tls, c->tag.fd,
	    &err);
	pthread_mutex_unlock(&s->tls_lock);
	if (c->tls == NULL) {
		conn_close(c);
		return;
	}
	if (!c->admin)
		w->handshaking++;
	c->state = C_HANDSHAKE;
	c->deadline = now_ms() + live(s)->timeout_handshake * 1000;
	conn_handshake(c);
}

/* Parked ClientHellos take the handshake slots that freed, in order. */
static void
unpark(struct worker *w)
{
	struct conn *c;

	while ((c = w->parked) != NULL &&
	    w->handshaking < handshake_limit(w->srv)) {
		unpark_one(c);
		set_events(c, EPOLLIN);
		conn_hello(c);
	}
}

static void
conn_event(struct conn *c)
{
	switch (c->state) {
	case C_HELLO:
		conn_hello(c);
		break;
	case C_HANDSHAKE:
		conn_handshake(c);
		break;
	case C_READ:
		conn_read(c);
		break;
	case C_WRITE:
		conn_write(c);
		break;
	case C_WAIT:
		break;
	case C_LINGER:
		conn_linger(c);
		break;
	}
}

static void
do_accept(struct worker *w, int lfd, bool admin)
{
	struct server *s = w->srv;
	struct epoll_event e;
	struct conn *c;
	int fd, one = 1;

	for (;;) {
		if (!admin && w->handshaking >= handshake_limit(s)) {
			listeners(w, false);
			atomic_fetch_add(&s->m.paused, 1);
			return;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
		    w->reserve != -1) {
			/*
			 * Out of descriptors: the pending connection would
			 * keep the listener readable and spin this loop.  Use
			 * the spare to take it and refuse it, then rearm.
			 */
			close(w->reserve);
			if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1)
				close(fd);
			w->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
			atomic_fetch_add(&s->m.refused, 1);
			sp_log(s->log, SP_LOG_WARN, "out of file descriptors: "
			    "refusing connections");
			return;
		}
		if (fd == -1)
			return;
		/* Admission control: refuse cheaply, before any TLS work. */
		if (atomic_fetch_add(&s->nconns, 1) >= live(s)->max_connections ||
		    atomic_load(&s->stop)) {
			atomic_fetch_sub(&s->nconns, 1);
			atomic_fetch_add(&s->m.refused, 1);
			close(fd);
			continue;
		}
		atomic_fetch_add(&s->m.accepted, 1);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			atomic_fetch_sub(&s->nconns, 1);
			close(fd);
			continue;
		}
		c->tag.kind = TAG_CONN;
		c->tag.fd = fd;
		c->w = w;
		c->admin = admin;
		c->id = ++w->next_id;
		c->file = -1;
		c->state = C_HELLO;
		c->deadline = now_ms() + live(s)->timeout_handshake * 1000;
		/* An operator may send a CRL (admin: larger bodies). */
		sp_buf_init(&c->in, (size_t)live(s)->max_header + (admin ?
		    (size_t)SP_ADMIN_BODY_MAX : (size_t)live(s)->max_report));
		sp_buf_init(&c->out, PROFILE_MAX + 4096);
		sp_net_peer_ip(fd, c->ip, sizeof(c->ip));
		c->next = w->conns;
		if (w->conns != NULL)
			w->conns->prev = c;
		w->conns = c;
		memset(&e, 0, sizeof(e));
		e.events = EPOLLIN;
		e.data.ptr = &c->tag;
		c->events = EPOLLIN;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e) == -1) {
			conn_close(c);
			continue;
		}
		/* A phone's ClientHello is usually here already. */
		conn_hello(c);
	}
}

/* Reports the writer has committed (or failed to). */
static void
completions(struct worker *w)
{
	struct job *done, *j, *next;
	struct conn *c;
	uint64_t v;

	if (read(w->evtag.fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&w->lock);
	done = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->lock);
	for (j = done; j != NULL; j = next) {
		next = j->next;
		for (c = w->conns; c != NULL; c = c->next)
			if (c->id == j->conn_id && c->state == C_WAIT)
				break;
		if (c != NULL && j->kind == JOB_ADMIN) {
			respond(c, j->resp_status, j->resp ?
			    "application/json" : NULL, j->resp, j->resplen,
			    NULL);
			audit(c, "admin", j->resp_status, NULL);
		} else if (c != NULL) {
			if (j->result == 0) {
				respond(c, 204, NULL, NULL, 0, NULL);
				audit(c, "report", 204, NULL);
			} else
				respond_error(c, 503);
		}
		free(j->resp);
		free(j);
	}
}

static void
complete(void *arg, struct job *j)
{
	struct server *s = arg;
	struct worker *w = &s->workers[j->worker];
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	j->next = w->done;
	w->done = j;
	pthread_mutex_unlock(&w->lock);
	if (write(w->evtag.fd, &one, sizeof(one)) < 0)
		return;
}

static void
sweep(struct worker *w)
{
	struct conn *c, *next;
	int64_t t = now_ms();

	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		/* Draining: connections between requests go now. */
		if (atomic_load(&w->srv->stop) && (c->state == C_HELLO ||
		    c->state == C_HANDSHAKE ||
		    (c->state == C_READ && c->in.len == 0))) {
			conn_close(c);
			continue;
		}
		if (t < c->deadline)
			continue;
		if (c->state == C_READ && c->in.len > 0 && !c->have_head) {
			/* A request that never finished: say so, then go. */
			c->keep_alive = false;
			respond_error(c, 408);
			conn_write(c);
		} else if (c->state != C_WAIT)
			conn_close(c);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->srv;
	struct epoll_event ev[EVENTS_MAX];
	struct sp_err err;
	int64_t last = now_ms();
	bool stopped = false;
	int n, i;

	if ((w->store = sp_store_open(s->conf->store, &err)) == NULL ||
	    (w->cache = calloc(CACHE_SLOTS, sizeof(*w->cache))) == NULL) {
		sp_log(s->log, SP_LOG_ERR, "worker %d: %s", w->id, w->store ?
		    "out of memory" : err.msg);
		sp_store_close(w->store);
		atomic_store(&s->stop, 1);
		return NULL;
	}
	for (i = 0; i < CACHE_SLOTS; i++) {
		sp_buf_init(&w->cache[i].body, PROFILE_MAX);
		w->cache[i].body.secret = 1;	/* SIP passwords live here */
	}
	while (!atomic_load(&s->stop) || w->conns != NULL) {
		if (atomic_load(&s->stop) && !stopped) {
			size_t k;

			/* Pending connections must not wake a draining loop. */
			for (k = 0; k < s->nlfds; k++)
				epoll_ctl(w->epfd, EPOLL_CTL_DEL, s->lfds[k],
				    NULL);
			stopped = true;
		}
		n = epoll_wait(w->epfd, ev, EVENTS_MAX, TICK_MS);
		for (i = 0; i < n; i++) {
			struct tag *t = ev[i].data.ptr;

			if (t->kind == TAG_LISTEN ||
			    t->kind == TAG_ADMIN_LISTEN) {
				if (!atomic_load(&s->stop))
					do_accept(w, t->fd,
					    t->kind == TAG_ADMIN_LISTEN);
			} else if (t->kind == TAG_EVENT)
				completions(w);
			else
				conn_event((struct conn *)t);
		}
		unpark(w);
		if (now_ms() - last >= TICK_MS) {
			last = now_ms();
			sweep(w);
		}
	}
	for (i = 0; i < CACHE_SLOTS; i++)
		sp_buf_release(&w->cache[i].body);
	free(w->cache);
	sp_store_close(w->store);
	return NULL;
}

/* An expired CRL refuses every phone: loud at start and at each reload. */
void
crl_warn(const struct sp_tls_server *tls, struct sp_log *log)
{
	time_t next = sp_tls_server_crl_next(tls);
	char when[32];

	if (next == 0 || next > time(NULL))
		return;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", gmtime(&next));
	sp_log(log, SP_LOG_ERR, "the CRL expired at %s: every device is "
	    "refused until a fresh one is installed (sprov-ca crl, then "
	    "SIGHUP)", when);
}

/* ---------------------------------------------------------- the feed */

/*
 * The TLS contexts again, from the configuration c with the blobs the
 * store holds (crl store, ticket_keys store); swapped in for what comes
 * next (established connections keep theirs).  Under blob_lock, which
 * every swap of s->tls holds: s->tls may be read under it without a
 * reference.
 */
static int
tls_rebuild(struct server *s, struct sp_tls_config *c, struct sp_err *err)
{
	struct sp_tls_server *fresh, *old;

	if (s->conf->crl_store) {
		c->crl_data = s->crl.data;
		c->crl_len = s->crl.len;
	}
	if (s->conf->tickets_store) {
		c->ticket_keys_data = s->tickets.data;
		c->ticket_keys_len = s->tickets.len;
	}
	fresh = sp_tls_server_refresh(s->tls, c, err);
	c->crl_data = c->ticket_keys_data = NULL;
	c->crl_len = c->ticket_keys_len = 0;
	if (fresh == NULL)
		return -1;
	pthread_mutex_lock(&s->tls_lock);
	old = s->tls;
	s->tls = fresh;
	pthread_mutex_unlock(&s->tls_lock);
	sp_tls_server_unref(old);
	return 0;
}

/*
 * Reads one blob into buf when its version moved; 1 when it did, 0 when
 * not, -1 on error (buf unchanged).
 */
static int
blob_fresh(struct server *s, const char *name, struct sp_buf *buf,
    int64_t *ver, struct sp_err *err)
{
	struct sp_buf tmp;
	int64_t v = 0;
	int rc;

	sp_buf_init(&tmp, SP_STORE_BLOB_MAX);
	tmp.secret = buf->secret;
	/* The version first: the body (a CRL may be megabytes) only when
	 * it moved. */
	rc = sp_store_blob_get(s->feed, name, NULL, &v);
	if (rc == 0 && v == *ver) {
		sp_buf_release(&tmp);
		return 0;
	}
	if (rc == 0)
		rc = sp_store_blob_get(s->feed, name, &tmp, &v);
	if (rc != 0) {
		if (rc == 1)
			sp_err_set(err, "the store holds no %s", name);
		else
			sp_err_set(err, "%s", sp_store_error(s->feed));
		sp_buf_release(&tmp);
		return -1;
	}
	/*
	 * What was written into the database directly (not through a
	 * node's admin API) is checked here too: a CRL not signed by our
	 * client CAs never replaces the one in use.
	 */
	if (strcmp(name, "crl") == 0 && sp_tls_server_crl_check(s->tls,
	    tmp.data, tmp.len, false, err) == -1) {
		sp_err_prefix(err, "the store's CRL, version %lld",
		    (long long)v);
		sp_buf_release(&tmp);
		return -1;
	}
	sp_buf_release(buf);
	*buf = tmp;
	*ver = v;
	return 1;
}

/*
 * The CRL and ticket keys from the store, when the configuration says so
 * and their versions moved; the TLS contexts rebuilt with them.  At start
 * (first) a store without ticket keys gets its first one; a store without
 * a CRL is refused (deny by default: a node must not serve without the
 * revocations the others apply).
 */
static int
blobs_apply(struct server *s, bool first, struct sp_err *err)
{
	struct sp_buf nk;
	int a = 0, b = 0, rc = -1;

	pthread_mutex_lock(&s->blob_lock);
	if (s->conf->crl_store &&
	    (a = blob_fresh(s, "crl", &s->crl, &s->crl_ver, err)) == -1) {
		if (first) {
			/* Not err->msg into itself: the buffers overlap. */
			struct sp_err why = *err;

			sp_err_set(err, "crl store: %s (before the first "
			    "node starts: sprovd -f CONF -C FILE; later: "
			    "sprovctl crl put FILE)", why.msg);
		}
		goto out;
	}
	if (s->conf->tickets_store) {
		b = blob_fresh(s, "ticket_keys", &s->tickets, &s->tickets_ver,
		    err);
		if (b == -1 && first && strstr(err->msg, "holds no") != NULL) {
			sp_buf_init(&nk, 64 * 1024);
			if (sp_tls_ticket_keys_next(NULL, 0, &nk, err) == 0 &&
			    sp_store_blob_put(s->feed, "ticket_keys", nk.data,
			    nk.len) == -1)
				sp_err_set(err, "%s", sp_store_error(s->feed));
			sp_buf_release(&nk);
			b = blob_fresh(s, "ticket_keys", &s->tickets,
			    &s->tickets_ver, err);
		}
		if (b == -1)
			goto out;
	}
	if ((a == 1 || b == 1) && tls_rebuild(s, &s->conf->tls, err) == -1)
		goto out;
	if (a == 1)
		sp_log(s->log, SP_LOG_INFO, "from the store: the CRL, version "
		    "%lld", (long long)s->crl_ver);
	if (b == 1)
		sp_log(s->log, SP_LOG_INFO, "from the store: the ticket keys, "
		    "version %lld", (long long)s->tickets_ver);
	if (a == 1)
		crl_warn(s->tls, s->log);
	rc = 0;
out:
	pthread_mutex_unlock(&s->blob_lock);
	return rc;
}

/* Probe the database this often when no notification came (seconds): a
 * dead connection shows itself only when used. */
#define FEED_PROBE_MS	2000
#define FEED_WAIT_MS	250

static void *
feed_main(void *arg)
{
	struct server *s = arg;
	struct pollfd p;
	struct sp_err err;
	int64_t probe = now_ms();
	uint64_t gen;
	unsigned what;
	int fd = s->feed_fd, rc;

	while (!atomic_load(&s->stop)) {
		p.fd = fd;
		p.events = POLLIN;
		if (fd == -1 || poll(&p, 1, FEED_WAIT_MS) <= 0) {
			if (fd == -1)
				poll(NULL, 0, FEED_WAIT_MS);
			if (now_ms() - probe < FEED_PROBE_MS)
				continue;
		}
		what = 0;
		rc = s->feed_live ? sp_store_changes(s->feed, &what, &fd) : 0;
		if (now_ms() - probe >= FEED_PROBE_MS) {
			probe = now_ms();
			what |= s->feed_live ? SP_STORE_CHANGED_GEN :
			    SP_STORE_CHANGED_BLOB;
		}
		if (rc == 0 && (what & SP_STORE_CHANGED_GEN)) {
			if ((rc = sp_store_generation(s->feed, &gen)) == 0)
				atomic_store(&s->feed_gen, gen);
		}
		if (rc == -1) {
			if (atomic_load(&s->store_down) == 0) {
				atomic_store(&s->store_down, now_ms());
				sp_log(s->log, SP_LOG_ERR, "store unreachable, "
				    "cached profiles served for %lds: %s",
				    live(s)->store_grace,
				    sp_store_error(s->feed));
			}
			continue;
		}
		if (atomic_load(&s->store_down) != 0) {
			sp_log(s->log, SP_LOG_INFO, "store reachable again "
			    "after %llds", (now_ms() -
			    atomic_load(&s->store_down)) / 1000);
			atomic_store(&s->store_down, 0);
		}
		if ((what & SP_STORE_CHANGED_BLOB) &&
		    blobs_apply(s, false, &err) == -1)
			sp_log(s->log, SP_LOG_ERR, "from the store, refused "
			    "(the running TLS configuration stays): %s",
			    err.msg);
	}
	return NULL;
}

/*
 * Starts the feed when the store has one (PostgreSQL) or the TLS blobs
 * come from the store; its first reads are done before any worker starts.
 */
static int
feed_start(struct server *s)
{
	struct sp_err err;
	uint64_t gen;
	int fd;

	if ((s->feed = sp_store_open(s->conf->store, &err)) == NULL) {
		sp_log(s->log, SP_LOG_ERR, "store feed: %s", err.msg);
		return -1;
	}
	if (sp_store_watch(s->feed, &fd) == -1) {
		sp_log(s->log, SP_LOG_ERR, "store feed: %s",
		    sp_store_error(s->feed));
		return -1;
	}
	s->feed_live = fd != -1;
	s->feed_fd = fd;
	if (!s->feed_live && !s->conf->crl_store && !s->conf->tickets_store) {
		/* SQLite, nothing to follow: no connection kept for it. */
		sp_store_close(s->feed);
		s->feed = NULL;
		return 0;
	}
	if (s->feed_live) {
		if (sp_store_generation(s->feed, &gen) == -1) {
			sp_log(s->log, SP_LOG_ERR, "store feed: %s",
			    sp_store_error(s->feed));
			return -1;
		}
		atomic_store(&s->feed_gen, gen);
	}
	if (blobs_apply(s, true, &err) == -1) {
		sp_log(s->log, SP_LOG_ERR, "%s", err.msg);
		return -1;
	}
	if (pthread_create(&s->feed_thread, NULL, feed_main, s) != 0) {
		sp_log(s->log, SP_LOG_ERR, "cannot start the store feed");
		return -1;
	}
	s->feed_running = true;
	return 0;
}

/* The admin API's check of a CRL: against the client CAs in use. */
static int
crl_check(void *arg, const char *pem, size_t len, struct sp_err *err)
{
	struct server *s = arg;
	struct sp_tls_server *t;
	int rc;

	pthread_mutex_lock(&s->tls_lock);
	t = s->tls;
	sp_tls_server_ref(t);
	pthread_mutex_unlock(&s->tls_lock);
	rc = sp_tls_server_crl_check(t, pem, len, true, err);
	sp_tls_server_unref(t);
	return rc;
}

/* Keys a running server cannot change: say so, keep the old values. */
static void
restart_only(struct server *s, const struct sprovd_conf *n)
{
	if (!conf_same_restart_keys(s->conf, n, 1))
		sp_log(s->log, SP_LOG_WARN, "reload: listen, admin_listen, "
		    "cert/key files, workers, store, user or firmware_dir "
		    "changed: they need a restart and keep their old values");
}

/*
 * SIGHUP: the configuration file again, all or nothing.  Limits, timeouts,
 * prefix and unknown_devices take effect for what comes next; client CAs,
 * CRL and ticket keys through new TLS contexts (established connections
 * keep theirs; keys are reused from memory).  On any error the running
 * configuration stays.
 */
static void
reload(struct server *s)
{
	struct sp_tls_server *fresh = NULL, *fresh_admin = NULL, *old,
	    *old_admin;
	struct sprovd_conf *n;
	struct sprovd_live *nl = NULL;
	struct retired *r = NULL;
	struct sp_cfg *cfg = NULL;
	struct sp_err err;

	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (nl = malloc(sizeof(*nl))) == NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		free(n);
		free(nl);
		sp_log(s->log, SP_LOG_ERR, "reload: out of memory");
		return;
	}
	if (conf_load(s->conf->path, n, &cfg, &err) == -1) {
		sp_log(s->log, SP_LOG_ERR, "reload refused, the old "
		    "configuration keeps serving: %s", err.msg);
		goto fail;
	}
	restart_only(s, n);
	/* The running certificate and key files, with the new CA and CRL. */
	memcpy(n->tls.cert, s->conf->tls.cert, sizeof(n->tls.cert));
	memcpy(n->tls.key, s->conf->tls.key, sizeof(n->tls.key));
	n->tls.ncerts = s->conf->tls.ncerts;
	memcpy(n->admin_tls.cert, s->conf->tls.cert, sizeof(n->tls.cert));
	memcpy(n->admin_tls.key, s->conf->tls.key, sizeof(n->tls.key));
	n->admin_tls.ncerts = s->conf->tls.ncerts;
	/* What comes from the store stays the store's (blob_lock). */
	pthread_mutex_lock(&s->blob_lock);
	if (s->conf->crl_store) {
		n->tls.crl = NULL;
		n->tls.crl_data = s->crl.data;
		n->tls.crl_len = s->crl.len;
	}
	if (s->conf->tickets_store) {
		n->tls.ticket_keys = NULL;
		n->tls.ticket_keys_data = s->tickets.data;
		n->tls.ticket_keys_len = s->tickets.len;
	}
	n->crl_store = s->conf->crl_store;
	n->tickets_store = s->conf->tickets_store;
	/*
	 * blob_lock is held until the swap: the feed builds from s->tls
	 * under it, and must not swap in between with older blobs or a
	 * context this one replaces.
	 */
	fresh = sp_tls_server_reload(s->tls, &n->tls, &err);
	n->tls.crl_data = n->tls.ticket_keys_data = NULL;
	n->tls.crl_len = n->tls.ticket_keys_len = 0;
	if (fresh == NULL ||
	    (s->admin_tls != NULL && (fresh_admin = sp_tls_server_reload(
	    s->admin_tls, &n->admin_tls, &err)) == NULL)) {
		pthread_mutex_unlock(&s->blob_lock);
		sp_log(s->log, SP_LOG_ERR, "reload refused, the old "
		    "configuration keeps serving: %s", err.msg);
		sp_tls_server_unref(fresh);
		goto fail;
	}
	pthread_mutex_lock(&s->tls_lock);
	old = s->tls;
	old_admin = s->admin_tls;
	s->tls = fresh;
	if (fresh_admin != NULL)
		s->admin_tls = fresh_admin;
	else
		old_admin = NULL;
	pthread_mutex_unlock(&s->tls_lock);
	pthread_mutex_unlock(&s->blob_lock);
	sp_tls_server_unref(old);
	sp_tls_server_unref(old_admin);
	/* Paths for the next reload; the strings live in the kept cfg. */
	s->conf->tls = n->tls;
	s->conf->admin_tls = n->admin_tls;
	*nl = n->live;
	atomic_store(&s->live_p, nl);
	/* This cfg's strings are in use; the live copy too: keep both. */
	r->live = nl;
	r->cfg = cfg;
	r->next = s->retired;
	s->retired = r;
	free(n);
	sp_log(s->log, SP_LOG_INFO, "reloaded the configuration, "
	    "certificates, client CAs, CRL and ticket keys");
	crl_warn(fresh, s->log);
	return;
fail:
	sp_cfg_free(cfg);
	free(nl);
	free(r);
	free(n);
}

int
server_run(struct sprovd_conf *conf, struct sp_tls_server *tls,
    struct sp_tls_server *admin_tls, int *lfds, size_t nlfds, size_t nadmin,
    struct writer *wr, struct sp_log *log)
{
	struct server *s;
	struct epoll_event e;
	sigset_t set;
	size_t k;
	long i;
	int sig, rc = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->conf = conf;
	atomic_init(&s->live_p, &conf->live);
	pthread_mutex_init(&s->tls_lock, NULL);
	sp_tls_server_ref(tls);
	s->tls = tls;
	if (admin_tls != NULL)
		sp_tls_server_ref(admin_tls);
	s->admin_tls = admin_tls;
	s->nadmin = nadmin;
	s->writer = wr;
	s->log = log;
	s->lfds = lfds;
	s->nlfds = nlfds;
	s->fwdir = -1;
	if (conf->firmware_dir != NULL && (s->fwdir = open(conf->firmware_dir,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		sp_log(log, SP_LOG_ERR, "firmware_dir %s: %s",
		    conf->firmware_dir, strerror(errno));
		free(s);
		return -1;
	}
	pthread_mutex_init(&s->blob_lock, NULL);
	sp_buf_init(&s->crl, SP_STORE_BLOB_MAX);
	sp_buf_init(&s->tickets, SP_STORE_BLOB_MAX);
	s->tickets.secret = 1;
	writer_set_completion(wr, complete, s);
	s->env.crl_check = crl_check;
	s->env.arg = s;
	writer_set_admin_env(wr, &s->env);
	/* Signals go to this thread only (sigwait below); the feed too. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->nworkers = conf->workers;
	if (feed_start(s) == -1) {
		atomic_store(&s->stop, 1);
		s->nworkers = 0;
		rc = -1;
	}
	for (i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];

		w->id = (int)i;
		w->srv = s;
		w->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
		pthread_mutex_init(&w->lock, NULL);
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->evtag.kind = TAG_EVENT;
		w->evtag.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		memset(&e, 0, sizeof(e));
		e.events = EPOLLIN;
		e.data.ptr = &w->evtag;
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evtag.fd, &e);
		for (k = 0; k < nlfds; k++) {
			/* The last nadmin listeners are the admin ones. */
			w->ltag[k].kind = k >= nlfds - nadmin ?
			    TAG_ADMIN_LISTEN : TAG_LISTEN;
			w->ltag[k].fd = lfds[k];
			/* One worker wakes per connection, not all. */
			e.events = EPOLLIN | EPOLLEXCLUSIVE;
			e.data.ptr = &w->ltag[k];
			epoll_ctl(w->epfd, EPOLL_CTL_ADD, lfds[k], &e);
		}
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			sp_log(log, SP_LOG_ERR, "cannot start worker %ld", i);
			atomic_store(&s->stop, 1);
			s->nworkers = i;
			rc = -1;
			break;
		}
	}
	while (!atomic_load(&s->stop)) {
		struct timespec ts = { 0, TICK_MS * 1000000L };

		if ((sig = sigtimedwait(&set, NULL, &ts)) == -1)
			continue;
		if (sig == SIGHUP) {
			reload(s);
			continue;
		}
		sp_log(log, SP_LOG_INFO, "%s: draining connections",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		atomic_store(&s->stop, 1);
	}
	for (i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i].thread, NULL);
	if (s->feed_running)
		pthread_join(s->feed_thread, NULL);
	writer_set_admin_env(wr, NULL);
	sp_store_close(s->feed);
	sp_buf_release(&s->crl);
	sp_buf_release(&s->tickets);
	pthread_mutex_destroy(&s->blob_lock);
	for (i = 0; i < s->nworkers; i++) {
		close(s->workers[i].epfd);
		close(s->workers[i].evtag.fd);
		if (s->workers[i].reserve != -1)
			close(s->workers[i].reserve);
		pthread_mutex_destroy(&s->workers[i].lock);
	}
	if (s->fwdir != -1)
		close(s->fwdir);
	sp_tls_server_unref(s->tls);
	sp_tls_server_unref(s->admin_tls);
	pthread_mutex_destroy(&s->tls_lock);
	/* Every worker has stopped: nothing reads these any more. */
	while (s->retired != NULL) {
		struct retired *next = s->retired->next;

		free(s->retired->live);
		sp_cfg_free(s->retired->cfg);
		free(s->retired);
		s->retired = next;
	}
	free(s);
	return rc;
}
