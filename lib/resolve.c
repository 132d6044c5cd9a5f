#include <sys/select.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

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

int
sp_resolve(const char *name, const char *servers, struct sp_addrs *out,
    struct sp_err *err)
{
	struct ares_addrinfo_hints hints;
	struct ares_options opts;
	unsigned char buf[16];
	ares_channel ch = NULL;
	struct query q;
	int rc = -1, r;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1) {
		snprintf(out->addr[0], sizeof(out->addr[0]), "%s", name);
		out->n = 1;
		return 0;
	}
	if ((r = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS)
		return sp_err_set(err, "DNS: %s", ares_strerror(r));
	memset(&opts, 0, sizeof(opts));
	opts.timeout = SP_RESOLVE_TIMEOUT_MS / 2;
	opts.tries = 2;
	if ((r = ares_init_options(&ch, &opts, ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES)) != ARES_SUCCESS) {
		sp_err_set(err, "DNS: %s", ares_strerror(r));
		goto out;
	}
	if (servers != NULL && servers[0] != '\0' &&
	    (r = ares_set_servers_ports_csv(ch, servers)) != ARES_SUCCESS) {
		sp_err_set(err, "DNS servers '%s': %s", servers,
		    ares_strerror(r));
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = ARES_AI_NOSORT;
	memset(&q, 0, sizeof(q));
	q.out = out;
	ares_getaddrinfo(ch, name, NULL, &hints, on_result, &q);
	while (!q.done) {
		struct timeval tv, *tvp;
		fd_set rfds, wfds;
		int nfds;

		FD_ZERO(&rfds);
		FD_ZERO(&wfds);
		nfds = ares_fds(ch, &rfds, &wfds);
		if (nfds == 0)
			break;
		tvp = ares_timeout(ch, NULL, &tv);
		if (select(nfds, &rfds, &wfds, NULL, tvp) < 0)
			break;
		ares_process(ch, &rfds, &wfds);
	}
	if (!q.done || q.status != ARES_SUCCESS)
		sp_err_set(err, "DNS lookup of %s: %s", name, q.done ?
		    ares_strerror(q.status) : "no answer");
	else if (out->n == 0)
		sp_err_set(err, "DNS lookup of %s: no A or AAAA record", name);
	else
		rc = 0;
out:
	if (ch != NULL)
		ares_destroy(ch);
	ares_library_cleanup();
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
