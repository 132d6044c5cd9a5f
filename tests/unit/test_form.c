/*
 * Unit tests for lib/form.c: urlencoded and multipart form bodies as
 * browsers send them, the Cookie header; every refusal names its cause
 * and leaves the form empty.
 */
#include "harness.h"

#include "sprov/form.h"
#include "sprov/limits.h"

#define CT_XYZ	"multipart/form-data; boundary=XyZ"

/* A body under construction (binary-safe). */
struct body {
	char	b[SP_FORM_BODY_MAX + 4096];
	size_t	len;
};

static void
add(struct body *b, const void *p, size_t n)
{
	if (b->len + n > sizeof(b->b))
		abort();
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void
adds(struct body *b, const char *s)
{
	add(b, s, strlen(s));
}

/* A table row's name for TAP: one line, control bytes as '.', cut. */
static const char *
rowname(char *dst, size_t dsz, const char *what, const char *s)
{
	size_t i, o;

	o = (size_t)snprintf(dst, dsz, "%s: ", what);
	for (i = 0; s != NULL && s[i] != '\0' && o + 4 < dsz; i++)
		dst[o++] = ((unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f) ? '.' : s[i];
	if (s != NULL && s[i] != '\0')
		dst[o++] = '.', dst[o++] = '.', dst[o++] = '.';
	dst[o] = '\0';
	return dst;
}

/* A refused form is empty, so that release is harmless. */
static int
empty(const struct sp_form *f)
{
	return f->n == 0 && f->mem == NULL;
}

static void
t_urlencoded_good(void)
{
	static const char body[] = "profile=device&cn=pv+1.telco.net&"
	    "note=a%0D%0Ab%09c&empty=&pct=%41%2b%2B%c3%a9&a%20b=x%3Dy";
	struct sp_form f;
	struct sp_err err = { "" };
	const struct sp_form_field *fd;

	CHECK(sp_form_parse_urlencoded(&f, body, strlen(body), &err) == 0);
	CHECK(f.n == 6);
	fd = sp_form_get(&f, "cn");
	CHECK(fd != NULL && strcmp(fd->value, "pv 1.telco.net") == 0 &&
	    fd->len == 14 && fd->filename == NULL);
	fd = sp_form_get(&f, "note");
	CHECK(fd != NULL && strcmp(fd->value, "a\r\nb\tc") == 0);
	fd = sp_form_get(&f, "empty");
	CHECK(fd != NULL && fd->len == 0 && fd->value[0] == '\0');
	fd = sp_form_get(&f, "pct");
	CHECK(fd != NULL && strcmp(fd->value, "A++\xc3\xa9") == 0);
	fd = sp_form_get(&f, "a b");
	CHECK(fd != NULL && strcmp(fd->value, "x=y") == 0);
	CHECK(sp_form_get(&f, "absent") == NULL);
	CHECK(sp_form_get(&f, "Profile") == NULL);	/* case matters */
	CHECK(f.f[0].name == f.mem);
	sp_form_release(&f);
	CHECK(empty(&f));
	sp_form_release(&f);		/* twice is harmless */

	/* No fields at all (a form without inputs). */
	CHECK(sp_form_parse_urlencoded(&f, "", 0, &err) == 0);
	CHECK(f.n == 0);
	sp_form_release(&f);
	/* An empty body may come as NULL. */
	CHECK(sp_form_parse_urlencoded(&f, NULL, 0, &err) == 0 && f.n == 0);
	CHECK(sp_form_parse_multipart(&f, CT_XYZ, NULL, 0, &err) == -1);
	CHECK_HAS(err.msg, "multipart: no boundary");
	/* The length is what counts, not a NUL. */
	CHECK(sp_form_parse_urlencoded(&f, "a=1&b=2", 3, &err) == 0);
	CHECK(f.n == 1 && strcmp(f.f[0].value, "1") == 0);
	sp_form_release(&f);
}

static void
t_urlencoded_limits(void)
{
	static struct body b;
	struct sp_form f;
	struct sp_err err = { "" };
	char name[SP_FORM_NAME_MAX + 2];
	int i;

	/* SP_FORM_FIELDS_MAX fields, then one more. */
	b.len = 0;
	for (i = 0; i < SP_FORM_FIELDS_MAX; i++) {
		char one[32];

		snprintf(one, sizeof(one), "%sf%d=%d", i ? "&" : "", i, i);
		adds(&b, one);
	}
	CHECK(sp_form_parse_urlencoded(&f, b.b, b.len, &err) == 0);
	CHECK(f.n == SP_FORM_FIELDS_MAX);
	sp_form_release(&f);
	adds(&b, "&one=more");
	CHECK(sp_form_parse_urlencoded(&f, b.b, b.len, &err) == -1);
	CHECK_HAS(err.msg, "more than 16 fields");
	CHECK(empty(&f));

	/* A name of SP_FORM_NAME_MAX bytes, then one longer. */
	memset(name, 'n', sizeof(name));
	name[SP_FORM_NAME_MAX] = '=';
	CHECK(sp_form_parse_urlencoded(&f, name, SP_FORM_NAME_MAX + 1,
	    &err) == 0);
	CHECK(f.n == 1 && strlen(f.f[0].name) == SP_FORM_NAME_MAX);
	sp_form_release(&f);
	name[SP_FORM_NAME_MAX] = 'n';
	name[SP_FORM_NAME_MAX + 1] = '=';
	CHECK(sp_form_parse_urlencoded(&f, name, sizeof(name), &err) == -1);
	CHECK_HAS(err.msg, "longer than 64 bytes");

	/* A body of SP_FORM_BODY_MAX bytes, then one longer. */
	b.len = 0;
	adds(&b, "v=");
	memset(b.b + b.len, 'x', SP_FORM_BODY_MAX - b.len);
	b.len = SP_FORM_BODY_MAX;
	CHECK(sp_form_parse_urlencoded(&f, b.b, b.len, &err) == 0);
	CHECK(f.n == 1 && f.f[0].len == SP_FORM_BODY_MAX - 2);
	sp_form_release(&f);
	b.b[b.len++] = 'x';
	CHECK(sp_form_parse_urlencoded(&f, b.b, b.len, &err) == -1);
	CHECK_HAS(err.msg, "at most 98304");
	CHECK(empty(&f));
}

static void
t_urlencoded_refused(void)
{
	static const struct {
		const char	*body;
		const char	*why;
	} rows[] = {
		{ "days=1&days=2", "form: field \"days\" given twice" },
		{ "a=1&b=2&a=1", "field \"a\" given twice" },
		{ "a%3d=1&a%3D=2", "field \"a=\" given twice" },
		{ "a%3d=1&a==2&a=3", "field \"a\" given twice" },
		{ "=1", "empty field name" },
		{ "%20=1&=2", "empty field name" },
		{ "a=1&&b=2", "empty field at offset 4" },
		{ "a=1&", "empty field at offset 4" },
		{ "&a=1", "empty field at offset 0" },
		{ "a", "field \"a\" has no '='" },
		{ "a=1&b", "field \"b\" has no '='" },
		{ "a=%4", "bad %-escape \"%4\" at offset 2" },
		{ "a=%zz1", "bad %-escape \"%zz\" at offset 2" },
		{ "a=%", "bad %-escape" },
		{ "a=%+1", "bad %-escape" },
		{ "a%=1", "bad %-escape \"%\" at offset 1" },
		{ "a%4=1", "bad %-escape \"%4\" at offset 1" },
		{ "x=1&a=%0g",
		    "field \"a\": bad %-escape \"%0g\" at offset 6" },
		{ "a=x%00y", "field \"a\": NUL byte" },
		{ "a=%01", "field \"a\": control byte 0x01" },
		{ "a=%7F", "control byte 0x7f" },
		{ "a=%1b[31m", "control byte 0x1b" },
		{ "a=\x01", "control byte 0x01" },
		{ "%01=1", "field name \"\\x01\" is not printable ASCII" },
		{ "%c3%a9=1", "is not printable ASCII" },
		{ "a%0a=1", "is not printable ASCII" },
		{ "q%22=1&q%22=2", "field \"q\\x22\" given twice" },
	};
	struct sp_form f;
	struct sp_err err;
	char nm[80];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		f.n = 99;
		CHECK(sp_form_parse_urlencoded(&f, rows[i].body,
		    strlen(rows[i].body), &err) == -1);
		CHECK_HAS(err.msg, rows[i].why);
		CHECK(empty(&f));
		sp_form_release(&f);
		ROW_END(rowname(nm, sizeof(nm), "urlencoded refused",
		    rows[i].body));
	}
}

#define WK	"----WebKitFormBoundaryq7Hc2d9BVgx3A1zr"

/*
 * The bytes of the uploaded file: DER-like, with NUL, CR LF, "--", a
 * near miss of the delimiter (its last byte differs) and the boundary
 * with neither CR LF nor "--" before it, all of which are data.
 */
static void
file_bytes(struct body *b)
{
	static const unsigned char der[] = {
		0x30, 0x82, 0x01, 0x0a, 0x00, 0x00, '\r', '\n', '-', '-',
		'\r', '\n', '-', '-', '-', '-', 'W', 'e', 'b', 0x00, 0xff,
		'\r', '\r', '\n', '\n', 0x80, 0x00,
	};
	char wk[] = WK;

	add(b, der, sizeof(der));
	wk[sizeof(wk) - 2] = 'X';
	adds(b, "\r\n--");
	adds(b, wk);
	adds(b, "\r\n" WK "--" WK "\n--" WK "\r--" WK "\r\n-" WK);
	add(b, "\0\r\n\0", 4);
}

/*
 * What Chrome sends for the portal's request form: two text inputs, a
 * textarea (CRLF line ends), a file input holding a binary file, and an
 * empty file input; with a preamble or not.
 */
static void
browser_body(struct body *b, int preamble)
{
	b->len = 0;
	if (preamble)
		adds(b, "A preamble that names --" WK " but not on a line of "
		    "its own.\r\n");
	adds(b, "--" WK "\r\n"
	    "Content-Disposition: form-data; name=\"profile\"\r\n\r\n"
	    "device\r\n"
	    "--" WK "\r\n"
	    "Content-Disposition: form-data; name=\"days\"\r\n\r\n"
	    "397\r\n"
	    "--" WK "\r\n"
	    "Content-Disposition: form-data; name=\"note\"\r\n\r\n"
	    "first line\r\nsecond line\r\n\r\n"
	    "--" WK "\r\n"
	    "Content-Disposition: form-data; name=\"csr\"; "
	    "filename=\"req.der\"\r\n"
	    "Content-Type: application/x-x509-ca-cert\r\n\r\n");
	file_bytes(b);
	adds(b, "\r\n"
	    "--" WK "\r\n"
	    "Content-Disposition: form-data; name=\"extra\"; filename=\"\"\r\n"
	    "Content-Type: application/octet-stream\r\n\r\n"
	    "\r\n"
	    "--" WK "--\r\n");
}

static void
t_multipart_browser(void)
{
	static const char *cts[] = {
		"multipart/form-data; boundary=" WK,
		"multipart/form-data; boundary=\"" WK "\"",
		"Multipart/Form-Data;BOUNDARY=" WK,
		"multipart/form-data ; charset=utf-8 ;\tboundary=" WK " ",
	};
	static struct body b, file;
	struct sp_form f;
	struct sp_err err = { "" };
	char nm[80];
	const struct sp_form_field *fd;
	size_t i;
	int pre;

	file.len = 0;
	file_bytes(&file);
	for (pre = 0; pre < 2; pre++) {
		browser_body(&b, pre);
		for (i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
			ROW_BEGIN();
			err.msg[0] = '\0';
			CHECK(sp_form_parse_multipart(&f, cts[i], b.b, b.len,
			    &err) == 0);
			CHECK_STR(err.msg, "");
			CHECK(f.n == 5);
			fd = sp_form_get(&f, "profile");
			CHECK(fd != NULL && fd->len == 6 &&
			    strcmp(fd->value, "device") == 0 &&
			    fd->filename == NULL);
			fd = sp_form_get(&f, "days");
			CHECK(fd != NULL && strcmp(fd->value, "397") == 0);
			fd = sp_form_get(&f, "note");
			CHECK(fd != NULL && strcmp(fd->value,
			    "first line\r\nsecond line\r\n") == 0);
			fd = sp_form_get(&f, "csr");
			CHECK(fd != NULL && fd->len == file.len);
			if (fd != NULL && fd->len == file.len) {
				CHECK(memcmp(fd->value, file.b, file.len) == 0);
				CHECK(fd->value[fd->len] == '\0');
				CHECK(fd->filename != NULL &&
				    strcmp(fd->filename, "req.der") == 0);
			}
			fd = sp_form_get(&f, "extra");
			CHECK(fd != NULL && fd->len == 0 && fd->filename !=
			    NULL && fd->filename[0] == '\0');
			sp_form_release(&f);
			CHECK(empty(&f));
			ROW_END(rowname(nm, sizeof(nm), pre ?
			    "browser body, preamble" : "browser body",
			    cts[i]));
		}
	}
	/* Through the dispatcher too. */
	ROW_BEGIN();
	CHECK(sp_form_parse(&f, cts[0], b.b, b.len, &err) == 0 && f.n == 5);
	sp_form_release(&f);
	ROW_END("multipart through sp_form_parse");
}

static void
t_multipart_shapes(void)
{
	static const struct {
		const char	*ct;
		const char	*body;
		size_t		 n;
		const char	*name, *value, *filename;
	} rows[] = {
		/* No part at all: what a browser sends for no inputs. */
		{ CT_XYZ, "--XyZ--\r\n", 0, NULL, NULL, NULL },
		{ CT_XYZ, "--XyZ--", 0, NULL, NULL, NULL },
		/* The epilogue is ignored, boundary-looking or not. */
		{ CT_XYZ, "--XyZ\r\nContent-Disposition: form-data; name=a"
		    "\r\n\r\nv\r\n--XyZ--  \r\n--XyZ\r\nanything", 1, "a", "v",
		    NULL },
		/* Transport padding after a delimiter. */
		{ CT_XYZ, "--XyZ \t\r\nContent-Disposition: form-data; "
		    "name=a\r\n\r\nv\r\n--XyZ--", 1, "a", "v", NULL },
		/* A preamble that mentions the boundary (not on its own). */
		{ CT_XYZ, "preamble --XyZ XyZ\r\n--XyZ\r\nContent-Disposition: "
		    "form-data; name=a\r\n\r\nv\r\n--XyZ--", 1, "a", "v",
		    NULL },
		/* The boundary inside data without CRLF-- before it. */
		{ CT_XYZ, "--XyZ\r\nContent-Disposition: form-data; name=a"
		    "\r\n\r\n--XyZ\n--XyZ\r-XyZ\r\n-XyZ XyZ--\r\n--XyZ--", 1,
		    "a", "--XyZ\n--XyZ\r-XyZ\r\n-XyZ XyZ--", NULL },
		/* Header and parameter names in any case; token values;
		 * other headers ignored; empty value. */
		{ CT_XYZ, "--XyZ\r\ncontent-type: text/plain\r\nX-Other: 1\r\n"
		    "CONTENT-DISPOSITION:FORM-DATA;NAME=a;FILENAME=b.pem;"
		    "size=3\r\n\r\n\r\n--XyZ--", 1, "a", "", "b.pem" },
		/* A quoted boundary with a space inside, and RFC 2046's
		 * other bchars. */
		{ "multipart/form-data; boundary=\"a b'()+_,-./:=?\"",
		    "--a b'()+_,-./:=?\r\nContent-Disposition: form-data; "
		    "name=\"x\"\r\n\r\n1\r\n--a b'()+_,-./:=?--", 1, "x", "1",
		    NULL },
		/* A file name of UTF-8 and spaces. */
		{ CT_XYZ, "--XyZ\r\nContent-Disposition: form-data; name=f; "
		    "filename=\"my r\xc3\xa9q 1.csr\"\r\n\r\nv\r\n--XyZ--", 1,
		    "f", "v", "my r\xc3\xa9q 1.csr" },
		/* A 70-character boundary. */
		{ "multipart/form-data; boundary=0123456789012345678901234567"
		    "890123456789012345678901234567890123456789",
		    "--01234567890123456789012345678901234567890123456789012345"
		    "67890123456789\r\nContent-Disposition: form-data; name=a"
		    "\r\n\r\nv\r\n--012345678901234567890123456789012345678901"
		    "2345678901234567890123456789--", 1, "a", "v", NULL },
	};
	struct sp_form f;
	struct sp_err err;
	char nm[80];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		CHECK(sp_form_parse_multipart(&f, rows[i].ct, rows[i].body,
		    strlen(rows[i].body), &err) == 0);
		CHECK_STR(err.msg, "");
		CHECK(f.n == rows[i].n);
		if (rows[i].n == 1 && f.n == 1) {
			CHECK_STR(f.f[0].name, rows[i].name);
			CHECK_STR(f.f[0].value, rows[i].value);
			CHECK(f.f[0].len == strlen(rows[i].value));
			if (rows[i].filename == NULL)
				CHECK(f.f[0].filename == NULL);
			else
				CHECK_STR(f.f[0].filename, rows[i].filename);
		}
		sp_form_release(&f);
		ROW_END(rowname(nm, sizeof(nm), "multipart accepted",
		    rows[i].body));
	}
}

#define CD	"Content-Disposition: form-data; "
static void
t_multipart_refused(void)
{
	static const struct {
		const char	*ct;
		const char	*body;
		const char	*why;
	} rows[] = {
		/* The Content-Type. */
		{ NULL, "--XyZ--", "multipart: no Content-Type" },
		{ "multipart/mixed; boundary=XyZ", "--XyZ--",
		    "\"multipart/mixed; boundary=XyZ\" is not multipart/form-"
		    "data" },
		{ "multipart/form-data", "--XyZ--", "has no boundary" },
		{ "multipart/form-data; charset=utf-8", "--XyZ--",
		    "has no boundary" },
		{ "multipart/form-data; boundary=", "--XyZ--",
		    "empty parameter value" },
		{ "multipart/form-data; boundary=\"\"", "----",
		    "boundary of 0 characters" },
		{ "multipart/form-data; boundary=012345678901234567890123456"
		    "7890123456789012345678901234567890123456789X", "--XyZ--",
		    "boundary of 71 characters (1 to 70)" },
		{ "multipart/form-data; boundary=\"a\\b\"", "--XyZ--",
		    "backslash in a quoted string" },
		{ "multipart/form-data; boundary=ab!", "--ab!--",
		    "outside RFC 2046 bchars" },
		{ "multipart/form-data; boundary=\"ab \"", "--ab --",
		    "outside RFC 2046 bchars" },
		{ "multipart/form-data; boundary=a; boundary=b", "--a--",
		    "boundary given twice" },
		{ "multipart/form-data; boundary=\"XyZ", "--XyZ--",
		    "unterminated quoted string" },
		{ "multipart/form-data boundary=XyZ", "--XyZ--",
		    "';' expected" },
		{ "multipart/form-data; boundary=XyZ;", "--XyZ--",
		    "empty parameter name" },
		{ "multipart/form-data; boundary XyZ", "--XyZ--",
		    "parameter without '='" },
		{ "multipart/form-data; boundary=\"a\x01\"", "--XyZ--",
		    "control byte in a quoted string" },
		/* The framing. */
		{ CT_XYZ, "", "no boundary \"--XyZ\" in the body" },
		{ CT_XYZ, "--xyz--", "no boundary \"--XyZ\" in the body" },
		{ CT_XYZ, "x--XyZ--", "no boundary" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\nv",
		    "multipart: no closing boundary" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\nv\r\n--XyZ",
		    "no closing boundary" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\nv\r\n--XyZ-",
		    "no closing boundary" },
		{ CT_XYZ, "--XyZjunk\r\n" CD "name=a\r\n\r\nv\r\n--XyZ--",
		    "bytes after a boundary at offset 5" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\nv\r\n--XyZW\r\n--XyZ--",
		    "bytes after a boundary" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\nv\r\n--XyZ--junk",
		    "not on a line of their own" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\nv\r\n--XyZ--\r",
		    "not on a line of their own" },
		{ CT_XYZ, "--XyZ\n" CD "name=a\n\nv\n--XyZ--",
		    "bytes after a boundary" },
		/* A part's head. */
		{ CT_XYZ, "--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n"
		    "--XyZ--", "part 1: no Content-Disposition" },
		{ CT_XYZ, "--XyZ\r\n\r\nv\r\n--XyZ--",
		    "part 1: no Content-Disposition" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n" CD "name=b\r\n\r\nv\r\n"
		    "--XyZ--", "Content-Disposition given twice" },
		{ CT_XYZ, "--XyZ\r\nContent-Disposition: attachment; name=a"
		    "\r\n\r\nv\r\n--XyZ--", "\"attachment; name=a\" is not "
		    "form-data" },
		{ CT_XYZ, "--XyZ\r\nContent-Disposition: form-datax; name=a"
		    "\r\n\r\nv\r\n--XyZ--", "is not form-data" },
		{ CT_XYZ, "--XyZ\r\nContent-Disposition: form-data\r\n\r\nv"
		    "\r\n--XyZ--", "Content-Disposition has no name" },
		{ CT_XYZ, "--XyZ\r\n" CD "filename=\"a\"\r\n\r\nv\r\n--XyZ--",
		    "has no name" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=\"\"\r\n\r\nv\r\n--XyZ--",
		    "multipart: empty field name" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; NAME=b\r\n\r\nv\r\n--XyZ--",
		    "part 1: name given twice" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; filename=x; filename=y\r\n"
		    "\r\nv\r\n--XyZ--", "filename given twice" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; filename=\"../etc/passwd\""
		    "\r\n\r\nv\r\n--XyZ--", "file name \"../etc/passwd\" is "
		    "not a base name" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; filename=\"..\"\r\n\r\nv\r\n"
		    "--XyZ--", "not a base name" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; filename=\".\"\r\n\r\nv\r\n"
		    "--XyZ--", "not a base name" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; filename=\"a\tb\"\r\n\r\nv"
		    "\r\n--XyZ--", "file name \"a\\x09b\" is not a base name" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; filename=\"C:\\x.der\"\r\n"
		    "\r\nv\r\n--XyZ--", "backslash in a quoted string" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; filename=a/b\r\n\r\nv\r\n"
		    "--XyZ--", "';' expected" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=\"a\r\nb\"\r\n\r\nv\r\n--XyZ--",
		    "unterminated quoted string" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=\"a\x01\"\r\n\r\nv\r\n--XyZ--",
		    "control byte in a quoted string" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=\"\xc3\xa9\"\r\n\r\nv\r\n"
		    "--XyZ--", "field name \"\\xc3\\xa9\" is not printable" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=\"0123456789012345678901234567"
		    "8901234567890123456789012345678901234567890123X\"\r\n\r\n"
		    "v\r\n--XyZ--",
		    "longer than 64 bytes" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a; junk\r\n\r\nv\r\n--XyZ--",
		    "parameter without '='" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n Content-Type: x\r\n\r\n"
		    "v\r\n--XyZ--", "folded header line" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\nX: y\r\n\r\nv\r\n--XyZ--",
		    "bare CR or LF in the head" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\rX: y\r\n\r\nv\r\n--XyZ--",
		    "bare CR or LF in the head" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\nNo colon here\r\n\r\nv\r\n"
		    "--XyZ--", "bad header line \"No colon here\"" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n: x\r\n\r\nv\r\n--XyZ--",
		    "bad header line" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\nContent-Transfer-Encoding: "
		    "base64\r\n\r\ndg==\r\n--XyZ--",
		    "Content-Transfer-Encoding is not supported" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\n1\r\n--XyZ\r\n" CD
		    "name=b\r\n\r\n2\r\n--XyZ\r\n" CD "name=a\r\n\r\n3\r\n"
		    "--XyZ--", "multipart: field \"a\" given twice" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\n1\r\n--XyZ\r\n" CD
		    "name=b\r\n\r\n2\r\n--XyZ\r\n" CD "name=a\r\n\r\n",
		    "field \"a\" given twice" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n",
		    "part 1: body ends in the head" },
		{ CT_XYZ, "--XyZ\r\n" CD "name=a\r\n\r\n1\r\n--XyZ\r\n" CD,
		    "part 2: body ends in the head" },
	};
	struct sp_form f;
	struct sp_err err;
	char nm[80];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		f.n = 99;
		CHECK(sp_form_parse_multipart(&f, rows[i].ct, rows[i].body,
		    strlen(rows[i].body), &err) == -1);
		CHECK_HAS(err.msg, rows[i].why);
		CHECK(empty(&f));
		sp_form_release(&f);
		ROW_END(rowname(nm, sizeof(nm), "multipart refused",
		    rows[i].why));
	}
}

static void
t_multipart_limits(void)
{
	static struct body b;
	struct sp_form f;
	struct sp_err err = { "" };
	char pad[SP_FORM_PART_HEADERS_MAX + 1];
	size_t hl;
	int i;

	/* SP_FORM_FIELDS_MAX parts, then one more. */
	b.len = 0;
	for (i = 0; i < SP_FORM_FIELDS_MAX; i++) {
		char one[128];

		snprintf(one, sizeof(one), "--XyZ\r\n" CD "name=\"f%d\"\r\n"
		    "\r\n%d\r\n", i, i);
		adds(&b, one);
	}
	hl = b.len;
	adds(&b, "--XyZ--\r\n");
	CHECK(sp_form_parse_multipart(&f, CT_XYZ, b.b, b.len, &err) == 0);
	CHECK(f.n == SP_FORM_FIELDS_MAX);
	sp_form_release(&f);
	b.len = hl;
	adds(&b, "--XyZ\r\n" CD "name=\"more\"\r\n\r\nx\r\n--XyZ--\r\n");
	CHECK(sp_form_parse_multipart(&f, CT_XYZ, b.b, b.len, &err) == -1);
	CHECK_HAS(err.msg, "multipart: more than 16 fields");
	CHECK(empty(&f));

	/* A head of SP_FORM_PART_HEADERS_MAX bytes, then one more. */
	b.len = 0;
	adds(&b, "--XyZ\r\n" CD "name=a\r\nX-Pad: ");
	hl = strlen(CD "name=a\r\nX-Pad: ") + 4;
	memset(pad, 'p', sizeof(pad));
	add(&b, pad, SP_FORM_PART_HEADERS_MAX - hl);
	adds(&b, "\r\n\r\nv\r\n--XyZ--");
	CHECK(sp_form_parse_multipart(&f, CT_XYZ, b.b, b.len, &err) == 0);
	CHECK(f.n == 1 && strcmp(f.f[0].value, "v") == 0);
	sp_form_release(&f);
	b.len = 0;
	adds(&b, "--XyZ\r\n" CD "name=a\r\nX-Pad: ");
	add(&b, pad, SP_FORM_PART_HEADERS_MAX - hl + 1);
	adds(&b, "\r\n\r\nv\r\n--XyZ--");
	CHECK(sp_form_parse_multipart(&f, CT_XYZ, b.b, b.len, &err) == -1);
	CHECK_HAS(err.msg, "part 1: head longer than 1024 bytes");

	/* A body of SP_FORM_BODY_MAX bytes, then one longer. */
	b.len = 0;
	adds(&b, "--XyZ\r\n" CD "name=a; filename=\"big.der\"\r\n\r\n");
	hl = b.len;
	memset(b.b + hl, 0, SP_FORM_BODY_MAX - hl - 9);
	b.len = SP_FORM_BODY_MAX - 9;
	adds(&b, "\r\n--XyZ--");
	CHECK(b.len == SP_FORM_BODY_MAX);
	CHECK(sp_form_parse_multipart(&f, CT_XYZ, b.b, b.len, &err) == 0);
	CHECK(f.n == 1 && f.f[0].len == SP_FORM_BODY_MAX - 9 - hl);
	sp_form_release(&f);
	adds(&b, "\r\n");
	CHECK(sp_form_parse_multipart(&f, CT_XYZ, b.b, b.len, &err) == -1);
	CHECK_HAS(err.msg, "multipart: body of 98306 bytes (at most 98304)");
}

/*
 * Every prefix of a browser body is refused with a cause, but for the one
 * that ends right after the closing "--boundary--" (the CRLF after it is
 * optional in RFC 2046), run under ASan to catch any read past the end.
 */
static void
t_multipart_truncated(void)
{
	static struct body b;
	struct sp_form f;
	struct sp_err err;
	const char *ct = "multipart/form-data; boundary=" WK;
	char *copy;
	size_t k, refused = 0;
	int pre;

	for (pre = 0; pre < 2; pre++) {
		browser_body(&b, pre);
		for (k = 0; k < b.len; k++) {
			/* An exact-size copy: ASan sees a read past it. */
			if ((copy = malloc(k + 1)) == NULL)
				abort();
			memcpy(copy, b.b, k);
			err.msg[0] = '\0';
			if (k == b.len - 2) {
				CHECK(sp_form_parse_multipart(&f, ct, copy, k,
				    &err) == 0);
				CHECK(f.n == 5);
			} else {
				f.n = 99;
				if (sp_form_parse_multipart(&f, ct, copy, k,
				    &err) == -1 && err.msg[0] != '\0' &&
				    empty(&f))
					refused++;
				else
					printf("# prefix of %zu bytes: %s\n",
					    k, err.msg);
			}
			sp_form_release(&f);
			free(copy);
		}
	}
	/* Both bodies' prefixes, less the two complete ones. */
	browser_body(&b, 0);
	k = b.len;
	browser_body(&b, 1);
	CHECK(refused == k - 1 + b.len - 1);
}

static void
t_parse_dispatch(void)
{
	static const struct {
		const char	*ct;
		const char	*why;	/* NULL: accepted */
	} rows[] = {
		{ "application/x-www-form-urlencoded", NULL },
		{ "Application/X-WWW-Form-URLEncoded; charset=UTF-8", NULL },
		{ "  application/x-www-form-urlencoded ; charset=\"utf-8\" ",
		    NULL },
		{ NULL, "form: unsupported Content-Type (none given)" },
		{ "", "form: unsupported Content-Type \"\"" },
		{ "text/plain",
		    "form: unsupported Content-Type \"text/plain\"" },
		{ "application/json", "unsupported Content-Type" },
		{ "application/x-www-form-urlencoded-not", "unsupported" },
		{ "application/x-www-form-urlencoded\r\nX: y",
		    "form: Content-Type \"application/x-www-form-"
		    "urlencoded\\x0d\\x0aX: y\": ';' expected" },
		{ "application/x-www-form-urlencoded;", "empty parameter "
		    "name" },
		{ "application/x-www-form-urlencoded; charset", "without '='" },
		{ "multipart/form-data", "multipart: Content-Type has no "
		    "boundary" },
		{ "multipart/mixed; boundary=XyZ", "unsupported Content-Type" },
	};
	struct sp_form f;
	struct sp_err err;
	char nm[80];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		if (rows[i].why == NULL) {
			CHECK(sp_form_parse(&f, rows[i].ct, "a=1&b=%41", 9,
			    &err) == 0);
			CHECK(f.n == 2 && sp_form_get(&f, "b") != NULL &&
			    strcmp(sp_form_get(&f, "b")->value, "A") == 0);
		} else {
			CHECK(sp_form_parse(&f, rows[i].ct, "a=1&b=%41", 9,
			    &err) == -1);
			CHECK_HAS(err.msg, rows[i].why);
			CHECK(empty(&f));
		}
		sp_form_release(&f);
		ROW_END(rowname(nm, sizeof(nm), "Content-Type",
		    rows[i].ct != NULL ? rows[i].ct : "(null)"));
	}
	/* The refusal of the chosen parser comes through. */
	ROW_BEGIN();
	CHECK(sp_form_parse(&f, "application/x-www-form-urlencoded", "a=1&a=2",
	    7, &err) == -1);
	CHECK_HAS(err.msg, "form: field \"a\" given twice");
	CHECK(sp_form_parse(&f, CT_XYZ, "--XyZ\r\n", 7, &err) == -1);
	CHECK_HAS(err.msg, "multipart: part 1: body ends in the head");
	ROW_END("sp_form_parse passes refusals through");
}

static void
t_cookie(void)
{
	static const struct {
		const char	*hdr;
		int		 rc;
		const char	*out;	/* rc 1: the value; -1: the cause */
	} rows[] = {
		{ "sid=abc", 1, "abc" },
		{ "sid=abc; theme=dark", 1, "abc" },
		{ "theme=dark; sid=abc", 1, "abc" },
		{ "theme=dark;  sid=abc", 1, "abc" },
		{ "  sid=abc\t", 1, "abc" },
		{ "theme=dark; sid=\"a-b_c\"", 1, "a-b_c" },
		{ "sid=\"\"", 1, "" },
		{ "sid=", 1, "" },
		{ "sid=!#$%&'()*+-./:<=>?@[]^_`{|}~", 1,
		    "!#$%&'()*+-./:<=>?@[]^_`{|}~" },
		{ "SID=x; sid=abc; Sid=y", 1, "abc" },	/* names: case */
		{ "a=1; a=2; sid=abc", 1, "abc" },	/* not ours */
		{ "sidx=1; xsid=2", 0, "" },
		{ "theme=dark", 0, "" },
		/* Cookie tossing: a second sid from a sibling host. */
		{ "sid=abc; sid=evil", -1, "cookie: \"sid\" given twice" },
		{ "sid=evil; theme=x; sid=\"abc\"", -1, "given twice" },
		{ "sid=abc; sid=abc", -1, "given twice" },
		/* Malformed. */
		{ "", -1, "cookie: malformed (empty header)" },
		{ "   ", -1, "cookie: malformed (empty header)" },
		{ "sid", -1, "cookie: malformed (no name=value at offset 0)" },
		{ "=abc", -1, "malformed (no name=value" },
		{ "theme=dark; =abc", -1, "no name=value at offset 12" },
		{ "sid=abc;theme=dark", -1, "malformed (byte 0x3b at offset "
		    "7)" },
		{ "sid=abc;", -1, "malformed" },
		{ "sid=abc; ", -1, "malformed" },
		{ "sid=abc,theme=dark", -1, "malformed (byte 0x2c" },
		{ "sid=a b", -1, "malformed (byte 0x20" },
		{ "sid=a\\b", -1, "malformed (byte 0x5c" },
		{ "sid=\"abc", -1, "bad quoted value" },
		{ "sid=\"a\"b", -1, "malformed" },
		{ "sid=\"a b\"", -1, "bad quoted value" },
		{ "sid=a\"b", -1, "malformed" },
		{ "s d=abc", -1, "malformed" },
		{ "sid=abc; the me=dark", -1, "malformed" },
		{ "sid=\x01", -1, "malformed (byte 0x01" },
		{ "sid=\xc3\xa9", -1, "malformed (byte 0xc3" },
		/* A malformed cookie after ours still spoils the header. */
		{ "sid=abc; other=a b", -1, "malformed" },
	};
	struct sp_err err;
	char out[64], nm[80];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		memset(out, 'Z', sizeof(out));
		rc = sp_form_cookie(rows[i].hdr, "sid", out, sizeof(out),
		    &err);
		CHECK(rc == rows[i].rc);
		if (rows[i].rc == -1) {
			CHECK_HAS(err.msg, rows[i].out);
			CHECK_STR(out, "");
		} else
			CHECK_STR(out, rows[i].out);
		ROW_END(rowname(nm, sizeof(nm), "cookie", rows[i].hdr));
	}
}

static void
t_cookie_edges(void)
{
	struct sp_err err = { "" };
	char out[8], big[40];

	CHECK(sp_form_cookie(NULL, "sid", out, sizeof(out), &err) == 0);
	CHECK_STR(out, "");
	/* outsz bounds the value with its NUL. */
	CHECK(sp_form_cookie("sid=1234567", "sid", out, sizeof(out),
	    &err) == 1);
	CHECK_STR(out, "1234567");
	CHECK(sp_form_cookie("sid=12345678", "sid", out, sizeof(out),
	    &err) == -1);
	CHECK_HAS(err.msg, "cookie: value of \"sid\" longer than 7 bytes");
	CHECK_STR(out, "");
	CHECK(sp_form_cookie("sid=\"12345678\"", "sid", out, sizeof(out),
	    &err) == -1);
	CHECK_HAS(err.msg, "longer than 7 bytes");
	/* The name asked for must itself be a token. */
	CHECK(sp_form_cookie("a b=1", "a b", big, sizeof(big), &err) == -1);
	CHECK_HAS(err.msg, "cookie: name \"a b\" is not a token");
	CHECK(sp_form_cookie("a=1", "", big, sizeof(big), &err) == -1);
	CHECK_HAS(err.msg, "not a token");
	CHECK(sp_form_cookie("a=1", "a", big, 0, &err) == -1);
	CHECK_HAS(err.msg, "no room");
}

int
main(void)
{
	RUN(t_urlencoded_good);
	RUN(t_urlencoded_limits);
	t_urlencoded_refused();
	t_multipart_browser();
	t_multipart_shapes();
	t_multipart_refused();
	RUN(t_multipart_limits);
	RUN(t_multipart_truncated);
	t_parse_dispatch();
	t_cookie();
	RUN(t_cookie_edges);
	return t_done();
}
