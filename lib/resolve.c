#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ares.h>

#include "sprov/resolve.h"

struct query {
	struct sp_addrs	*out;
	int		 status;
	int		 done;
};

static void
on_result(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct query *q = arg;
	struct ares_addrinfo_node *n;
	int fam;

	(void)timeouts;
	q->status = status;
	q->done = 1;
	if (status != ARES_SUCCESS || ai == NULL)
		goto out;
	/* IPv4 first, then IPv6, each in the order DNS gave them. */
	for (fam = 0; fam < 2; fam++)
		for (n = ai->nodes; n != NULL; n = n->ai_next) {
			const void *a;

			if (q->out->n == SP_RESOLVE_MAX)
				break;
			if (fam == 0 && n->ai_family == AF_INET)
				a = &((struct sockaddr_in *)
				    (void *)n->ai_addr)->sin_addr;
			else if (fam == 1 && n->ai_family == AF_INET6)
				a = &((struct sockaddr_in6 *)
				    (void *)n->ai_addr)->sin6_addr;
			else
				continue;
			if (inet_ntop(n->ai_family, a, q->out->addr[q->out->n],
			    sizeof(q->out->addr[0])) != NULL)
				q->out->n++;
		}
out:
	ares_freeaddrinfo(ai);
}

/* A channel asking the given servers (or the system's). */
static void
channel_close(ares_channel ch)
{
	if (ch != NULL)
		ares_destroy(ch);
	ares_library_cleanup();
}

static int
channel(ares_channel *ch, const char *servers, struct sp_err *err)
{
	struct ares_options opts;
	int r;

	*ch = NULL;
	memset(&opts, 0, sizeof(opts));
	opts.timeout = SP_RESOLVE_TIMEOUT_MS / 2;
	opts.tries = 2;
	if ((r = ares_init_options(ch, &opts, ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES)) != ARES_SUCCESS)
		return sp_err_set(err, "DNS: %s", ares_strerror(r));
	if (servers != NULL && servers[0] != '\0' &&
	    (r = ares_set_servers_ports_csv(*ch, servers)) != ARES_SUCCESS)
		return sp_err_set(err, "DNS servers '%s': %s", servers,
		    ares_strerror(r));
	return 0;
}

/* The library and a channel to servers; channel_close() undoes both. */
static int
channel_open(ares_channel *ch, const char *servers, struct sp_err *err)
{
	int r;

	*ch = NULL;
	if ((r = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
		return sp_err_set(err, "DNS: %s", ares_strerror(r));
	if (channel(ch, servers, err) == -1) {
		channel_close(*ch);
		return -1;
	}
	return 0;
}

/* c-ares' ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit. */
#define SOCK_R(bits, i)	(((unsigned)(bits) >> (i)) & 1u)
#define SOCK_W(bits, i)	(((unsigned)(bits) >> ((i) + ARES_GETSOCK_MAXNUM)) & 1u)

/* Until *done: poll(), not select(), so any descriptor number works. */
static void
wait_done(ares_channel ch, const int *done)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct pollfd pfd[ARES_GETSOCK_MAXNUM];
	struct timeval tv, *tvp;
	int bits, i, n, ms;

	struct timespec t0, t1;
	long spent;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!*done) {
		/* The whole lookup, retries included, within the limit. */
		clock_gettime(CLOCK_MONOTONIC, &t1);
		spent = (t1.tv_sec - t0.tv_sec) * 1000L +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000L;
		if (spent >= SP_RESOLVE_TIMEOUT_MS)
			break;
		bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		for (i = n = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			if (!SOCK_R(bits, i) && !SOCK_W(bits, i))
				continue;
			pfd[n].fd = socks[i];
			pfd[n].events = (short)((SOCK_R(bits, i) ? POLLIN : 0) |
			    (SOCK_W(bits, i) ? POLLOUT : 0));
			pfd[n++].revents = 0;
		}
		if (n == 0)
			break;
		tvp = ares_timeout(ch, NULL, &tv);
		ms = tvp ? (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) /
		    1000) : SP_RESOLVE_TIMEOUT_MS;
		if (ms > SP_RESOLVE_TIMEOUT_MS - spent)
			ms = (int)(SP_RESOLVE_TIMEOUT_MS - spent);
		if (poll(pfd, (nfds_t)n, ms) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n; i++)
			ares_process_fd(ch, pfd[i].revents & (POLLIN | POLLERR |
			    POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD,
			    pfd[i].revents & POLLOUT ? pfd[i].fd :
			    ARES_SOCKET_BAD);
		ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	}
}

int
sp_resolve(const char *name, const char *servers, struct sp_addrs *out,
    struct sp_err *err)
{
	struct ares_addrinfo_hints hints;
	unsigned char buf[16];
	ares_channel ch;
	struct query q;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1) {
		snprintf(out->addr[0], sizeof(out->addr[0]), "%s", name);
		out->n = 1;
		return 0;
	}
	if (channel_open(&ch, servers, err) == -1)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = ARES_AI_NOSORT;
	memset(&q, 0, sizeof(q));
	q.out = out;
	ares_getaddrinfo(ch, name, NULL, &hints, on_result, &q);
	wait_done(ch, &q.done);
	if (!q.done || q.status != ARES_SUCCESS)
		sp_err_set(err, "DNS lookup of %s: %s", name, q.done ?
		    ares_strerror(q.status) : "no answer");
	else if (out->n == 0)
		sp_err_set(err, "DNS lookup of %s: no A or AAAA record", name);
	else
		rc = 0;
	channel_close(ch);
	return rc;
}

struct srvq {
	struct sp_srv	*out;
	size_t		 max, n;
	int		 status;
	int		 done;
};

/* Lower priority first; for equal priority the lower weight first (as
 * Cisco documents it, not RFC 2782's weighted draw); then by name. */
static int
srv_cmp(const void *x, const void *y)
{
	const struct sp_srv *a = x, *b = y;

	if (a->priority != b->priority)
		return a->priority < b->priority ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	return strcmp(a->target, b->target);
}

static void
on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct srvq *q = arg;
	struct ares_srv_reply *srv = NULL, *r;

	(void)timeouts;
	q->done = 1;
	if ((q->status = status) != ARES_SUCCESS)
		return;
	if ((q->status = ares_parse_srv_reply(abuf, alen, &srv)) !=
	    ARES_SUCCESS)
		return;
	/* Every usable record competes for the max places: the best are
	 * kept whatever order DNS gave them in.  Port 0 or target "." is
	 * "no service here" (RFC 2782). */
	for (r = srv; r != NULL; r = r->next) {
		struct sp_srv c;
		size_t worst = 0, i;

		if (r->port == 0 || r->host[0] == '\0' ||
		    strcmp(r->host, ".") == 0 ||
		    strlen(r->host) >= sizeof(c.target))
			continue;
		snprintf(c.target, sizeof(c.target), "%s", r->host);
		c.port = r->port;
		c.priority = r->priority;
		c.weight = r->weight;
		if (q->n < q->max) {
			q->out[q->n++] = c;
			continue;
		}
		for (i = 1; i < q->n; i++)
			if (srv_cmp(&q->out[i], &q->out[worst]) > 0)
				worst = i;
		if (srv_cmp(&c, &q->out[worst]) < 0)
			q->out[worst] = c;
	}
	ares_free_data(srv);
}

int
sp_resolve_srv(const char *name, const char *servers, struct sp_srv *out,
    size_t max, size_t *n, struct sp_err *err)
{
	ares_channel ch;
	struct srvq q;
	int rc = -1;

	*n = 0;
	if (channel_open(&ch, servers, err) == -1)
		return -1;
	memset(&q, 0, sizeof(q));
	q.out = out;
	q.max = max;
	ares_query(ch, name, 1 /* C_IN */, 33 /* T_SRV */, on_srv, &q);
	wait_done(ch, &q.done);
	if (!q.done || q.status != ARES_SUCCESS)
		sp_err_set(err, "DNS SRV lookup of %s: %s", name, q.done ?
		    ares_strerror(q.status) : "no answer");
	else if (q.n == 0)
		sp_err_set(err, "DNS SRV lookup of %s: no record", name);
	else {
		qsort(out, q.n, sizeof(*out), srv_cmp);
		*n = q.n;
		rc = 0;
	}
	channel_close(ch);
	return rc;
}

int
sp_addrs_contain(const struct sp_addrs *a, const char *addr)
{
	unsigned char x[16], y[16];
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;
	size_t i, len = fam == AF_INET6 ? 16 : 4;

	if (inet_pton(fam, addr, x) != 1)
		return 0;
	for (i = 0; i < a->n; i++)
		if (inet_pton(fam, a->addr[i], y) == 1 &&
		    memcmp(x, y, len) == 0)
			return 1;
	return 0;
}
