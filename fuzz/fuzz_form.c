/*
 * Browser input on arbitrary bytes: the first byte picks the parser.
 *	0  an urlencoded body
 *	1  a multipart body under "multipart/form-data; boundary=XyZ"
 *	2  sp_form_parse with the Content-Type taken from the input up to the
 *	   first newline, the body after it
 *	3  a Cookie header, the cookie "sid" asked for
 * A refusal must name its cause and leave the form empty.  An accepted
 * form has at most SP_FORM_FIELDS_MAX fields with non-empty, printable,
 * unique names, each value NUL-terminated at len (urlencoded: a C string
 * without control bytes but TAB CR LF), base-name file names; and it
 * survives a round trip: encoded again (urlencoded, and multipart under
 * the fixed boundary) and parsed, it gives the same fields.  A cookie
 * found is made of cookie octets.  Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/form.h"
#include "sprov/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

enum { URLENC, MULTIPART, ANY };

static void
check_form(const struct sp_form *f, int kind)
{
	const struct sp_form_field *fd;
	size_t i, j, nl;

	if (f->n > SP_FORM_FIELDS_MAX || (f->n > 0 && f->mem == NULL))
		abort();
	for (i = 0; i < f->n; i++) {
		fd = &f->f[i];
		if (fd->name == NULL || fd->value == NULL)
			abort();
		nl = strlen(fd->name);
		if (nl == 0 || nl > SP_FORM_NAME_MAX)
			abort();
		for (j = 0; j < nl; j++)
			if ((unsigned char)fd->name[j] < 0x20 ||
			    (unsigned char)fd->name[j] > 0x7e)
				abort();
		for (j = 0; j < i; j++)
			if (strcmp(f->f[j].name, fd->name) == 0)
				abort();
		if (sp_form_get(f, fd->name) != fd)
			abort();
		if (fd->value[fd->len] != '\0')
			abort();
		if (kind == URLENC) {
			if (strlen(fd->value) != fd->len || fd->filename)
				abort();
			for (j = 0; j < fd->len; j++) {
				unsigned char c = (unsigned char)fd->value[j];

				if ((c < 0x20 && c != '\t' && c != '\r' &&
				    c != '\n') || c == 0x7f)
					abort();
			}
		}
		if (fd->filename != NULL) {
			if (strcmp(fd->filename, ".") == 0 ||
			    strcmp(fd->filename, "..") == 0)
				abort();
			for (j = 0; fd->filename[j] != '\0'; j++) {
				unsigned char c;

				c = (unsigned char)fd->filename[j];
				if (c < 0x20 || c == 0x7f || c == '/' ||
				    c == '\\')
					abort();
			}
		}
	}
}

static void
check_refused(const struct sp_form *f, const struct sp_err *err)
{
	if (err->msg[0] == '\0' || f->n != 0 || f->mem != NULL)
		abort();
}

/* The same fields, in the same order. */
static void
check_same(const struct sp_form *a, const struct sp_form *b)
{
	size_t i;

	if (a->n != b->n)
		abort();
	for (i = 0; i < a->n; i++) {
		if (strcmp(a->f[i].name, b->f[i].name) != 0 ||
		    a->f[i].len != b->f[i].len ||
		    memcmp(a->f[i].value, b->f[i].value, a->f[i].len) != 0 ||
		    (a->f[i].filename == NULL) != (b->f[i].filename == NULL) ||
		    (a->f[i].filename != NULL &&
		    strcmp(a->f[i].filename, b->f[i].filename) != 0))
			abort();
	}
}

static size_t
put(char *out, size_t o, const char *p, size_t n)
{
	memcpy(out + o, p, n);
	return o + n;
}

static size_t
putz(char *out, size_t o, const char *s)
{
	return put(out, o, s, strlen(s));
}

/* Everything but letters and digits as %XX. */
static size_t
pct(char *out, size_t o, const char *p, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hx[c >> 4];
			out[o++] = hx[c & 15];
		}
	}
	return o;
}

static void
roundtrip(const struct sp_form *f, int kind)
{
	struct sp_form g;
	struct sp_err err;
	char *out;
	size_t i, o = 0, max = 0;
	int rc;

	for (i = 0; i < f->n; i++)
		max += 3 * (strlen(f->f[i].name) + f->f[i].len) + 200 +
		    (f->f[i].filename ? strlen(f->f[i].filename) : 0);
	if ((out = malloc(max + 16)) == NULL)
		abort();
	for (i = 0; i < f->n; i++) {
		const struct sp_form_field *fd = &f->f[i];

		if (kind == URLENC) {
			if (i > 0)
				out[o++] = '&';
			o = pct(out, o, fd->name, strlen(fd->name));
			out[o++] = '=';
			o = pct(out, o, fd->value, fd->len);
			continue;
		}
		o = putz(out, o, "--XyZ\r\nContent-Disposition: form-data; "
		    "name=\"");
		o = put(out, o, fd->name, strlen(fd->name));
		o = putz(out, o, "\"");
		if (fd->filename != NULL) {
			o = putz(out, o, "; filename=\"");
			o = put(out, o, fd->filename, strlen(fd->filename));
			o = putz(out, o, "\"");
		}
		o = putz(out, o, "\r\n\r\n");
		o = put(out, o, fd->value, fd->len);
		o = putz(out, o, "\r\n");
	}
	if (kind == MULTIPART)
		o = putz(out, o, "--XyZ--\r\n");
	err.msg[0] = '\0';
	if (o <= SP_FORM_BODY_MAX) {
		rc = kind == URLENC ? sp_form_parse_urlencoded(&g, out, o,
		    &err) : sp_form_parse_multipart(&g,
		    "multipart/form-data; boundary=XyZ", out, o, &err);
		if (rc != 0) {
			fprintf(stderr, "round trip refused: %s\n", err.msg);
			abort();
		}
		check_same(f, &g);
		sp_form_release(&g);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_form f;
	struct sp_err err;
	char ct[SP_HTTP_VALUE_MAX + 1], out[64];
	const char *body = (const char *)data + 1, *nl;
	size_t len, i;
	int rc, mode;

	if (size < 1)
		return 0;
	mode = data[0] & 3;
	len = size - 1;
	err.msg[0] = '\0';
	switch (mode) {
	case 0:
		if (sp_form_parse_urlencoded(&f, body, len, &err) == -1)
			check_refused(&f, &err);
		else {
			check_form(&f, URLENC);
			roundtrip(&f, URLENC);
		}
		sp_form_release(&f);
		break;
	case 1:
		if (sp_form_parse_multipart(&f,
		    "multipart/form-data; boundary=XyZ", body, len, &err) == -1)
			check_refused(&f, &err);
		else {
			check_form(&f, MULTIPART);
			roundtrip(&f, MULTIPART);
		}
		sp_form_release(&f);
		break;
	case 2:
		/* The HTTP parser hands over a header value: no NUL. */
		if ((nl = memchr(body, '\n', len)) == NULL ||
		    (size_t)(nl - body) > SP_HTTP_VALUE_MAX ||
		    memchr(body, '\0', (size_t)(nl - body)) != NULL)
			return 0;
		memcpy(ct, body, (size_t)(nl - body));
		ct[nl - body] = '\0';
		len -= (size_t)(nl - body) + 1;
		if (sp_form_parse(&f, ct, nl + 1, len, &err) == -1)
			check_refused(&f, &err);
		else
			check_form(&f, ANY);
		sp_form_release(&f);
		break;
	default:
		if (len > SP_HTTP_VALUE_MAX || memchr(body, '\0', len))
			return 0;
		memcpy(ct, body, len);
		ct[len] = '\0';
		memset(out, 'Z', sizeof(out));
		rc = sp_form_cookie(ct, "sid", out, sizeof(out), &err);
		if (rc == -1 && (err.msg[0] == '\0' || out[0] != '\0'))
			abort();
		if (rc == 0 && out[0] != '\0')
			abort();
		if (rc == 1) {
			if (strlen(out) >= sizeof(out) || strstr(ct, "sid=") ==
			    NULL)
				abort();
			for (i = 0; out[i] != '\0'; i++)
				if ((unsigned char)out[i] <= 0x20 ||
				    (unsigned char)out[i] >= 0x7f ||
				    strchr("\",;\\", out[i]) != NULL)
					abort();
		}
		if (rc < -1 || rc > 1)
			abort();
		break;
	}
	return 0;
}
