#include "harness.h"

#include "sprov/http.h"

/* R() keeps each literal's true length, NULs inside included. */
#define R(s) s, sizeof(s) - 1

static const struct {
	const char	*raw;
	size_t		 len;
	int		 want;		/* 1 complete, 0 more, -status */
	const char	*path;
} rows[] = {
	{ R("GET /prov/000e08abcdef.xml HTTP/1.1\r\nHost: pv\r\n\r\n"), 1,
	    "/prov/000e08abcdef.xml" },
	{ R("GET /prov/self.xml?x=1&y=$MA HTTP/1.1\r\nHost: pv\r\n\r\n"), 1,
	    "/prov/self.xml" },
	{ R("HEAD /fw/sip88xx.11-3-1.loads HTTP/1.0\r\n\r\n"), 1,
	    "/fw/sip88xx.11-3-1.loads" },
	{ R("GET /prov/x.xml HTTP/1.1\r\nHost: pv\r\n"), 0, NULL },
	{ R("GET /prov/x.xml HTTP/1.1\r\n"), 0, NULL },
	{ R("GET /prov/x.xml HTTP/1.1\nHost: pv\n\n"), -400, NULL },
	{ R("GET /prov/x.xml HTTP/1.1\r\n\r\n"), -400, NULL },
	{ R("GET /prov/x.xml HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), -400,
	    NULL },
	{ R("GET /prov/x.xml HTTP/2.0\r\nHost: a\r\n\r\n"), -505, NULL },
	{ R("GET /prov/x.xml HTTP/1.2\r\nHost: a\r\n\r\n"), -505, NULL },
	{ R("GET /prov/x.xml FTP/1.1\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("GET /fw/../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("GET /fw/%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n"), -400,
	    NULL },
	{ R("GET /fw/..%2fetc HTTP/1.1\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("GET /fw/./x HTTP/1.1\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("GET /fw/a\\b HTTP/1.1\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("GET fw/x HTTP/1.1\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("GET http://a/fw/x HTTP/1.1\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("GET  /x HTTP/1.1\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("POST /report/000e08abcdef.xml HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"), -400, NULL },
	{ R("POST /report/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n"), -501, NULL },
	{ R("POST /report/x HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n"
	    "\r\n"), -400, NULL },
	{ R("POST /report/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n"
	    "\r\n"), -400, NULL },
	{ R("GET /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), -400, NULL },
	{ R("GET /x HTTP/1.1\r\nHost : a\r\n\r\n"), -400, NULL },
	{ R("GET /x HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n"), -400, NULL },
	{ R("GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n"), -400, NULL },
	{ R("G\0T /x HTTP/1.1\r\n"), -400, NULL },
	{ R("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"), 1, "/pot" },
	/* Who the client is and what its body means: said once only. */
	{ R("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: a\r\n"
	    "Authorization: Basic YTpi\r\nAuthorization: Basic Yzpk\r\n"
	    "\r\n"), -400, NULL },
	{ R("POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: a/b\r\n"
	    "Content-Type: c/d\r\n\r\n"), -400, NULL },
	{ R("GET /x HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\nCookie: s=2\r\n"
	    "\r\n"), -400, NULL },
};

static void
t_fields(void)
{
	struct sp_http_req r;
	const char *raw = "POST /report/000e08abcdef.xml HTTP/1.1\r\n"
	    "Host: pv.telco.net\r\nUser-Agent: Cisco-CP-8841-3PCC/11.3 "
	    "(000e08abcdef)\r\nContent-Length: 42\r\nConnection: close\r\n"
	    "If-None-Match: \"abc\"\r\nRange: bytes=0-9\r\n\r\nBODY";

	CHECK(sp_http_parse(raw, strlen(raw), SP_HTTP_HEAD_MAX, &r) == 1);
	CHECK(r.method == SP_HTTP_POST);
	CHECK(r.content_length == 42);
	CHECK(!r.keep_alive);
	CHECK_STR(r.host, "pv.telco.net");
	CHECK_STR(r.user_agent, "Cisco-CP-8841-3PCC/11.3 (000e08abcdef)");
	CHECK_STR(r.if_none_match, "\"abc\"");
	CHECK_STR(r.range, "bytes=0-9");
	CHECK_STR(r.authorization, "");
	CHECK(r.head_len == strlen(raw) - 4);
	CHECK(memcmp(raw + r.head_len, "BODY", 4) == 0);
	raw = "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: ca\r\n"
	    "Authorization: Basic dTpw\r\nContent-Type: application/pkcs10"
	    "\r\nCookie: sid=abc; csrf=x\r\nContent-Length: 3\r\n\r\n";
	CHECK(sp_http_parse(raw, strlen(raw), SP_HTTP_HEAD_MAX, &r) == 1);
	CHECK_STR(r.authorization, "Basic dTpw");
	CHECK_STR(r.content_type, "application/pkcs10");
	CHECK_STR(r.cookie, "sid=abc; csrf=x");
}

static void
t_keep_alive_defaults(void)
{
	struct sp_http_req r;
	const char *a = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *b = "GET /x HTTP/1.0\r\n\r\n";
	const char *c = "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";

	CHECK(sp_http_parse(a, strlen(a), 4096, &r) == 1 && r.keep_alive);
	CHECK(sp_http_parse(b, strlen(b), 4096, &r) == 1 && !r.keep_alive);
	CHECK(sp_http_parse(c, strlen(c), 4096, &r) == 1 && r.keep_alive);
}

static void
t_head_too_large(void)
{
	struct sp_http_req r;
	char big[20000];

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /x HTTP/1.1\r\nX-Long: ", 25);
	CHECK(sp_http_parse(big, sizeof(big), 8192, &r) == -431);
	CHECK(sp_http_parse(big, 100, 8192, &r) == 0);
}

static void
t_target_too_long(void)
{
	struct sp_http_req r;
	char line[1200];

	memset(line, 'a', sizeof(line));
	memcpy(line, "GET /", 5);
	memcpy(line + 1100, " HTTP/1.1\r\nHost: a\r\n\r\n", 23);
	CHECK(sp_http_parse(line, 1123, 8192, &r) == -414);
}

static void
t_range(void)
{
	off_t a = -1, b = -1;

	CHECK(sp_http_range("bytes=0-9", 100, &a, &b) == 0 && a == 0 &&
	    b == 9);
	CHECK(sp_http_range("bytes=90-", 100, &a, &b) == 0 && a == 90 &&
	    b == 99);
	CHECK(sp_http_range("bytes=-10", 100, &a, &b) == 0 && a == 90 &&
	    b == 99);
	CHECK(sp_http_range("bytes=-1000", 100, &a, &b) == 0 && a == 0);
	CHECK(sp_http_range("bytes=50-1000", 100, &a, &b) == 0 && b == 99);
	CHECK(sp_http_range("bytes=100-", 100, &a, &b) == -1);
	CHECK(sp_http_range("bytes=0-1,5-6", 100, &a, &b) == 1);
	CHECK(sp_http_range("bytes=9-1", 100, &a, &b) == 1);
	CHECK(sp_http_range("items=0-1", 100, &a, &b) == 1);
	CHECK(sp_http_range("", 100, &a, &b) == 1);
}

int
main(void)
{
	struct sp_http_req r;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = rows[i].len;
		int got;

		ROW_BEGIN();
		got = sp_http_parse(rows[i].raw, len, 8192, &r);
		if (got != rows[i].want)
			printf("#   row %zu: got %d want %d\n", i, got,
			    rows[i].want);
		CHECK(got == rows[i].want);
		if (got == 1 && rows[i].path != NULL)
			CHECK_STR(r.path, rows[i].path);
		snprintf(name, sizeof(name), "http row %zu", i);
		ROW_END(name);
	}
	RUN(t_fields);
	RUN(t_keep_alive_defaults);
	RUN(t_head_too_large);
	RUN(t_target_too_long);
	RUN(t_range);
	CHECK_STR(sp_http_reason(404), "Not Found");
	return t_done();
}
