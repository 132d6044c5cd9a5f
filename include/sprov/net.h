/*
 * Listening sockets for sprov's servers (sprovd, sprov-ca serve): the
 * address syntax of their configuration files, the report of the ports
 * bound (for tests and scripts that listen on port 0), and a peer's
 * address as text, and the switch to an unprivileged user once a server
 * holds what needs root.  Errors name the address or the user; nothing
 * is logged.
 */
#ifndef SPROV_NET_H
#define SPROV_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "sprov/err.h"

/*
 * Binds and listens on "127.0.0.1:8443", "[::1]:0" or "*:443" (numeric
 * only; IPv6 sockets are v6-only), SO_REUSEADDR, close-on-exec, and
 * non-blocking when asked.  0 with *fd, or -1 with the reason.
 */
int	sp_net_listen(const char *spec, int backlog, bool nonblock, int *fd,
	    struct sp_err *);

/* The addresses fds are bound to, "ADDR:PORT" or "[ADDR]:PORT" a line,
 * written to path atomically. */
int	sp_net_report(const char *path, const int *fds, size_t n,
	    struct sp_err *);

/* The peer's address of a connected socket, "?" when unknown. */
void	sp_net_peer_ip(int fd, char *dst, size_t dstsz);

/*
 * The key a client's address is counted under (login throttling,
 * connections per client): IPv4 as text (an IPv4-mapped IPv6 address
 * too), IPv6 as its /64, the block one client usually holds.  -1 when ip
 * is not an address or out (at least INET6_ADDRSTRLEN + 3 bytes) too
 * small.
 */
int	sp_net_client_key(const char *ip, char *out, size_t n);

/*
 * Becomes pw (groups, real, effective and saved ids: no way back) when
 * root; when not root, succeeds only if already pw.  sp_net_drop looks
 * the user up by name.
 */
struct passwd;
int	sp_net_drop_to(const struct passwd *, struct sp_err *);
int	sp_net_drop(const char *user, struct sp_err *);

#endif
