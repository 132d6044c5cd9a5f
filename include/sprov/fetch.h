/*
 * The agent's fetch: HTTP(S) and TFTP through libcurl, with the server
 * verified exactly as the phone does it, before a single byte of the
 * request is sent:
 *   (a) the chain verifies to the trusted roots given (the server-CA root
 *       and a provider CA), never to the system store;
 *   (b) the subject CN obeys the CN rule (sp_cnrule_check);
 *   (c) the address connected to is among the A/AAAA addresses DNS gives
 *       for the CN's name.
 * libcurl's own host-name check is off on purpose: a URL may name the
 * server by IP or another name; what counts is (a) to (c).  The name's
 * addresses are tried in order until one answers, each verified anew;
 * 301/302 are followed (at most SP_FETCH_REDIRECTS), verified anew.
 * A chain with more than SP_FETCH_CHAIN_DEPTH CAs below the root, headers
 * over SP_FETCH_HEADERS_MAX, a body over max_bytes and a server slower than
 * SP_FETCH_LOW_SPEED_BYTES a second for SP_FETCH_LOW_SPEED_S are refused,
 * each with its own message.
 * With srv, the servers come from the domain's SRV records; the CN must
 * name that domain and (c) uses the SRV target's addresses.
 */
#ifndef SPROV_FETCH_H
#define SPROV_FETCH_H

#include <stddef.h>

#include "sprov/buf.h"
#include "sprov/err.h"
#include "sprov/limits.h"

struct sp_fetch_opts {
	const char	*url;		/* expanded */
	const char	*cert, *key;	/* the device's identity, or NULL */
	const char	*trust;		/* PEM bundle of trusted roots */
	const char	*dns;		/* DNS servers (resolve.h) or NULL */
	const char	*uid, *pwd;	/* answered to 401 challenges */
	const char	*method;	/* NULL: GET; "POST" or "PUT" */
	const char	*body;		/* for POST/PUT */
	const char	*content_type;	/* of body; NULL: libcurl's */
	size_t		 bodylen;
	size_t		 max_bytes;	/* response cap */
	long		 timeout;	/* seconds, whole transfer */
	int		 srv;		/* --srv: the host is a domain whose
					 * SRV records name the servers */
	/* Each verification step and its verdict (sprov-agent check). */
	void		(*trace)(void *, const char *step, int ok,
			    const char *detail);
	void		*trace_arg;
};

struct sp_fetch_result {
	long		 status;	/* HTTP status; 0 for TFTP success */
	struct sp_buf	 body;		/* caller inits, caller releases */
	char		 server_ip[46];	/* the address that answered */
	char		 cn[65];	/* its certificate's CN (https) */
	char		 err[SP_ERR_MAX];	/* $ERR: names the failed step */
};

/*
 * 0 when a server answered (any status: the caller decides), -1 when none
 * did or none passed verification; res->err says why.
 */
int	sp_fetch(const struct sp_fetch_opts *, struct sp_fetch_result *);

#endif
