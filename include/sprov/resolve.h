/*
 * DNS for the agent through c-ares: the A and AAAA addresses of a name,
 * asked of the device's configured DNS servers when set ("127.0.0.1:5353,
 * [::1]:53", as c-ares' servers_ports_csv takes them), the system's
 * otherwise.  Phones compare the address they connected to with these.
 */
#ifndef SPROV_RESOLVE_H
#define SPROV_RESOLVE_H

#include <stddef.h>

#include "sprov/err.h"

#define SP_RESOLVE_MAX		16	/* addresses kept per name */
#define SP_RESOLVE_TIMEOUT_MS	5000

struct sp_addrs {
	char	addr[SP_RESOLVE_MAX][46];	/* numeric, in DNS order */
	size_t	n;
};

/*
 * Resolves name (A then AAAA, in the order DNS gives them).  A numeric
 * address resolves to itself.  0 with out->n >= 1, or -1 with the reason
 * (NXDOMAIN, timeout, no address) in err.
 */
int	sp_resolve(const char *name, const char *servers, struct sp_addrs *out,
	    struct sp_err *);
/* A DNS SRV record (rule option --srv). */
struct sp_srv {
	char		target[256];
	unsigned	port, priority, weight;
};

#define SP_RESOLVE_SRV_MAX	8	/* records kept per name */

/*
 * The SRV records of name, at most max, ordered lower priority first and,
 * for equal priority, lower weight first (Cisco's rule).  0 with *n >= 1,
 * or -1 with the reason in err.
 */
int	sp_resolve_srv(const char *name, const char *servers,
	    struct sp_srv *out, size_t max, size_t *n, struct sp_err *);
/* True when addr (numeric) is among out's addresses (IPv6 compared as
 * addresses, not as text). */
int	sp_addrs_contain(const struct sp_addrs *, const char *addr);

#endif
