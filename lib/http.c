#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "sprov/http.h"
#include "sprov/str.h"

static const struct {
	int		 status;
	const char	*reason;
} reasons[] = {
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
	{ 204, "No Content" }, { 303, "See Other" },
	{ 206, "Partial Content" }, { 304, "Not Modified" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 415, "Unsupported Media Type" },
	{ 429, "Too Many Requests" },
	{ 405, "Method Not Allowed" }, { 408, "Request Timeout" },
	{ 411, "Length Required" }, { 413, "Content Too Large" },
	{ 414, "URI Too Long" }, { 416, "Range Not Satisfiable" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
	{ 503, "Service Unavailable" }, { 505, "HTTP Version Not Supported" },
};

const char *
sp_http_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

/*
 * Paths phones use are plain: letters, digits, '.', '_', '~', '-', '/'.
 * Everything else ('%', '\', ';', control bytes) is refused, and so is any
 * "." or ".." segment: no decoding means no decoding tricks.
 */
static bool
path_ok(const char *p, size_t n)
{
	size_t i, seg = 0;

	if (n == 0 || p[0] != '/')
		return false;
	if (!sp_str_charset(p, n, "._~/-"))
		return false;
	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		if ((i - seg == 1 && p[seg] == '.') ||
		    (i - seg == 2 && p[seg] == '.' && p[seg + 1] == '.'))
			return false;
		seg = i + 1;
	}
	return true;
}

static bool
query_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return false;
	return true;
}

/* Connection header: a comma list; "close" and "keep-alive" count. */
static void
connection(struct sp_http_req *r, const char *v, size_t n)
{
	const char *f;
	size_t fl;

	while (sp_str_field(&v, &n, ',', &f, &fl)) {
		sp_str_trim(&f, &fl);
		if (sp_str_ieq(f, fl, "close"))
			r->keep_alive = false;
		else if (sp_str_ieq(f, fl, "keep-alive"))
			r->keep_alive = true;
	}
}

static int
keep(char *dst, const char *v, size_t n)
{
	if (n > SP_HTTP_VALUE_MAX)
		return -431;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int
request_line(struct sp_http_req *r, const char *l, size_t n)
{
	const char *sp1, *sp2, *target, *q;
	size_t mlen, tlen;

	if ((sp1 = memchr(l, ' ', n)) == NULL)
		return -400;
	mlen = (size_t)(sp1 - l);
	if ((sp2 = memchr(sp1 + 1, ' ', n - mlen - 1)) == NULL)
		return -400;
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);
	if (mlen == 0 || !sp_str_charset(l, mlen, NULL))
		return -400;
	if (mlen == 3 && memcmp(l, "GET", 3) == 0)
		r->method = SP_HTTP_GET;
	else if (mlen == 4 && memcmp(l, "HEAD", 4) == 0)
		r->method = SP_HTTP_HEAD;
	else if (mlen == 4 && memcmp(l, "POST", 4) == 0)
		r->method = SP_HTTP_POST;
	else if (mlen == 3 && memcmp(l, "PUT", 3) == 0)
		r->method = SP_HTTP_PUT;
	else if (mlen == 6 && memcmp(l, "DELETE", 6) == 0)
		r->method = SP_HTTP_DELETE;
	else
		r->method = SP_HTTP_OTHER;
	if (n - (size_t)(sp2 + 1 - l) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7))
		return (n - (size_t)(sp2 + 1 - l) == 8 &&
		    memcmp(sp2 + 1, "HTTP/", 5) == 0) ? -505 : -400;
	if (sp2[8] == '1')
		r->minor = 1;
	else if (sp2[8] == '0')
		r->minor = 0;
	else
		return -505;
	if (tlen > SP_HTTP_TARGET_MAX)
		return -414;
	if ((q = memchr(target, '?', tlen)) != NULL) {
		size_t plen = (size_t)(q - target);

		if (!query_ok(q + 1, tlen - plen - 1))
			return -400;
		memcpy(r->query, q + 1, tlen - plen - 1);
		r->query[tlen - plen - 1] = '\0';
		tlen = plen;
	}
	if (!path_ok(target, tlen))
		return -400;
	memcpy(r->path, target, tlen);
	r->path[tlen] = '\0';
	r->keep_alive = (r->minor == 1);
	return 0;
}

int
sp_http_parse(const char *buf, size_t len, size_t max_head,
    struct sp_http_req *r)
{
	const char *p = buf, *end, *eol, *colon, *v;
	size_t n, vlen, nheaders = 0;
	bool seen_host = false, seen_cl = false;
	int seen_auth = 0, seen_ctype = 0, seen_cookie = 0, seen_origin = 0;
	uint64_t cl;
	int rc;

	if (max_head > SP_HTTP_HEAD_MAX)
		max_head = SP_HTTP_HEAD_MAX;
	/* Find the end of the head: the first CRLF CRLF. */
	for (end = NULL, n = 0; n + 3 < len && n + 4 <= max_head; n++)
		if (buf[n] == '\r' && buf[n + 1] == '\n' &&
		    buf[n + 2] == '\r' && buf[n + 3] == '\n') {
			end = buf + n + 2;	/* just past the last header CRLF */
			break;
		}
	if (end == NULL) {
		/* Bytes that can never start a valid head fail early. */
		for (n = 0; n < len; n++)
			if (buf[n] == '\0' || (buf[n] == '\n' && (n == 0 ||
			    buf[n - 1] != '\r')))
				return -400;
		return len >= max_head ? -431 : 0;
	}
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->head_len = (size_t)(end - buf) + 2;
	/* Request line. */
	eol = memchr(p, '\r', (size_t)(end - p));
	if (eol == NULL || eol[1] != '\n')
		return -400;
	if ((rc = request_line(r, p, (size_t)(eol - p))) != 0)
		return rc;
	p = eol + 2;
	while (p < end) {
		if ((eol = memchr(p, '\r', (size_t)(end - p))) == NULL ||
		    eol[1] != '\n')
			return -400;
		n = (size_t)(eol - p);
		if (++nheaders > SP_HTTP_HEADERS_MAX)
			return -431;
		if (n == 0 || p[0] == ' ' || p[0] == '\t')
			return -400;		/* obs-fold or empty */
		if ((colon = memchr(p, ':', n)) == NULL || colon == p)
			return -400;
		for (v = p; v < colon; v++)
			if (!sp_str_tchar(*v))
				return -400;	/* also: space before ':' */
		v = colon + 1;
		vlen = n - (size_t)(v - p);
		sp_str_trim(&v, &vlen);
		if (memchr(v, '\n', vlen) || memchr(v, '\0', vlen) ||
		    memchr(v, '\r', vlen))
			return -400;
#define IS(name) ((size_t)(colon - p) == sizeof(name) - 1 && \
	strncasecmp(p, name, sizeof(name) - 1) == 0)
		if (IS("Host")) {
			if (seen_host)
				return -400;
			seen_host = true;
			if ((rc = keep(r->host, v, vlen)) != 0)
				return rc;
		} else if (IS("Content-Length")) {
			if (seen_cl || sp_str_u64(v, vlen, 0, (uint64_t)1 << 40,
			    &cl) == -1)
				return -400;
			seen_cl = true;
			r->content_length = (off_t)cl;
		} else if (IS("Transfer-Encoding"))
			return -501;
		else if (IS("Connection"))
			connection(r, v, vlen);
		else if (IS("User-Agent")) {
			if ((rc = keep(r->user_agent, v, vlen)) != 0)
				return rc;
		} else if (IS("If-None-Match")) {
			if ((rc = keep(r->if_none_match, v, vlen)) != 0)
				return rc;
		} else if (IS("Range")) {
			if ((rc = keep(r->range, v, vlen)) != 0)
				return rc;
		} else if (IS("Authorization")) {
			if (seen_auth++ || (rc = keep(r->authorization, v,
			    vlen)) != 0)
				return seen_auth > 1 ? -400 : rc;
		} else if (IS("Content-Type")) {
			if (seen_ctype++ || (rc = keep(r->content_type, v,
			    vlen)) != 0)
				return seen_ctype > 1 ? -400 : rc;
		} else if (IS("Cookie")) {
			if (seen_cookie++ || (rc = keep(r->cookie, v, vlen)) !=
			    0)
				return seen_cookie > 1 ? -400 : rc;		} else if (IS("Origin")) {
			if (seen_origin++ || (rc = keep(r->origin, v, vlen)) !=
			    0)
				return seen_origin > 1 ? -400 : rc;
		}
#undef IS
		p = eol + 2;
	}
	if (r->minor == 1 && !seen_host)
		return -400;
	return 1;
}

int
sp_http_range(const char *range, off_t size, off_t *first, off_t *last)
{
	const char *dash;
	uint64_t a, b;
	size_t n;

	if (range == NULL || strncmp(range, "bytes=", 6) != 0)
		return 1;
	range += 6;
	n = strlen(range);
	if (memchr(range, ',', n) != NULL ||
	    (dash = memchr(range, '-', n)) == NULL)
		return 1;		/* multiple ranges: send it all */
	if (dash == range) {		/* suffix: the last b bytes */
		if (sp_str_u64z(dash + 1, 1, UINT64_MAX, &b) == -1)
			return 1;
		if (size == 0)
			return -1;
		*first = (uint64_t)size > b ? size - (off_t)b : 0;
		*last = size - 1;
		return 0;
	}
	if (sp_str_u64(range, (size_t)(dash - range), 0, UINT64_MAX,
	    &a) == -1)
		return 1;
	if (dash[1] == '\0')
		b = (uint64_t)size - 1;
	else if (sp_str_u64z(dash + 1, 0, UINT64_MAX, &b) == -1 || b < a)
		return 1;
	if (a >= (uint64_t)size)
		return -1;
	if (b >= (uint64_t)size)
		b = (uint64_t)size - 1;
	*first = (off_t)a;
	*last = (off_t)b;
	return 0;
}
