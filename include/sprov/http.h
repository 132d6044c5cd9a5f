/*
 * HTTP/1.1 for sprov servers: a strict, bounded request-head parser and a
 * response-head writer.  Strict on purpose: what a phone or curl sends
 * parses; anything ambiguous (bare LF, obs-fold, duplicate Content-Length,
 * Transfer-Encoding on a request, odd bytes in the path) is refused, which
 * closes the doors request smuggling and path tricks come through.  A
 * header that decides who the client is or what its body means
 * (Authorization, Content-Type, Cookie, Origin) may appear once.
 *
 * No allocation: the request is parsed into a caller-owned struct.
 */
#ifndef SPROV_HTTP_H
#define SPROV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sprov/buf.h"
#include "sprov/limits.h"

enum sp_http_method {
	SP_HTTP_GET = 0,
	SP_HTTP_HEAD,
	SP_HTTP_POST,
	SP_HTTP_PUT,
	SP_HTTP_DELETE,
	SP_HTTP_OTHER,		/* parsed, answered 405/501 by the caller */
};

struct sp_http_req {
	enum sp_http_method	 method;
	char			 path[SP_HTTP_TARGET_MAX + 1];	/* no query */
	char			 query[SP_HTTP_TARGET_MAX + 1];
	int			 minor;		/* HTTP/1.<minor> */
	bool			 keep_alive;
	off_t			 content_length;	/* -1: none */
	char			 host[SP_HTTP_VALUE_MAX + 1];
	char			 user_agent[SP_HTTP_VALUE_MAX + 1];
	char			 if_none_match[SP_HTTP_VALUE_MAX + 1];
	char			 range[SP_HTTP_VALUE_MAX + 1];
	/* The CA portal and EST (sprov-ca serve); "" when absent. */
	char			 authorization[SP_HTTP_VALUE_MAX + 1];
	char			 content_type[SP_HTTP_VALUE_MAX + 1];
	char			 cookie[SP_HTTP_VALUE_MAX + 1];
	char			 origin[SP_HTTP_VALUE_MAX + 1];
	size_t			 head_len;	/* bytes of the head */
};

/*
 * Parses a request head at the start of buf.  Returns 1 when the head is
 * complete (req filled, req->head_len set), 0 when more bytes are needed
 * (and fewer than max_head have been seen), or a negative HTTP status:
 * -400 malformed, -414 target too long, -431 head too large, -501
 * Transfer-Encoding, -505 version.
 */
int	sp_http_parse(const char *buf, size_t len, size_t max_head,
	    struct sp_http_req *req);

/* The reason phrase of a status ("Not Found"). */
const char *sp_http_reason(int status);

/*
 * A byte range "bytes=a-b", "bytes=a-" or "bytes=-n" against a file of
 * size.  0 with [*first, *last] set, 1 when the header is absent or not
 * a single range we serve (send the whole file), -1 when unsatisfiable
 * (416).
 */
int	sp_http_range(const char *range, off_t size, off_t *first,
	    off_t *last);

#endif
