/*
 * Browser input of the CA portal: urlencoded and multipart form bodies and
 * the Cookie header.  Cursor-style parsing over (pointer, length), one
 * pass; the only searches are memmem for a multipart delimiter, each
 * starting where the previous one ended, so the work is linear in the body
 * (glibc's memmem is linear too).  All strings of a form are copied into
 * one allocation sized from the body up front: decoding only shrinks.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/form.h"
#include "sprov/limits.h"
#include "sprov/str.h"

/* Untrusted bytes quoted in an error message: at most this many. */
#define ESC_MAX		40
#define ESC_SZ		(ESC_MAX * 4 + 4)

/*
 * (s, len) for an error message: printable ASCII but '"' and '\' as is,
 * any other byte as \xNN, cut at ESC_MAX bytes with "...".  dst holds
 * ESC_SZ bytes.
 */
static const char *
esc(char *dst, const char *s, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len && i < ESC_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			dst[o++] = (char)c;
		else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hx[c >> 4];
			dst[o++] = hx[c & 15];
		}
	}
	if (i < len) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/* RFC 2046 bchars, less the space (allowed inside, checked apart). */
static bool
bchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("'()+_,-./:=?", c) != NULL);
}

/* RFC 6265 cookie-octet: printable ASCII but SP, '"', ',', ';', '\'. */
static bool
cookie_octet(char c)
{
	unsigned char u = (unsigned char)c;

	return u >= 0x21 && u <= 0x7e && c != '"' && c != ',' && c != ';' &&
	    c != '\\';
}

static bool
ows(char c)
{
	return c == ' ' || c == '\t';
}

static size_t
token_len(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && sp_str_tchar(p[i]))
		i++;
	return i;
}

/* A parameter of a header value: name, and value without its quotes. */
struct param {
	const char	*name;
	size_t		 nlen;
	const char	*val;
	size_t		 vlen;
};

/*
 * The next OWS ";" OWS token "=" (token / quoted-string) off the cursor
 * (*pp, *lenp), which stands after a media type or a previous parameter.
 * 1 with the parameter, 0 at the end (only white space left), -1 with the
 * reason in *why.  Quoted strings: RFC 9110 qdtext (TAB, printable ASCII
 * but '"', bytes from 0x80); a backslash is refused (see form.h).
 */
static int
next_param(const char **pp, size_t *lenp, struct param *pm, const char **why)
{
	const char *p = *pp;
	size_t len = *lenp, i = 0, s;
	unsigned char c;

	while (i < len && ows(p[i]))
		i++;
	if (i == len) {
		*pp = p + i;
		*lenp = 0;
		return 0;
	}
	if (p[i++] != ';') {
		*why = "';' expected before a parameter";
		return -1;
	}
	while (i < len && ows(p[i]))
		i++;
	s = i;
	i += token_len(p + i, len - i);
	if (i == s) {
		*why = "empty parameter name";
		return -1;
	}
	pm->name = p + s;
	pm->nlen = i - s;
	if (i == len || p[i++] != '=') {
		*why = "parameter without '='";
		return -1;
	}
	if (i < len && p[i] == '"') {
		s = ++i;
		for (; i < len && p[i] != '"'; i++) {
			c = (unsigned char)p[i];
			if (c == '\\') {
				*why = "backslash in a quoted string";
				return -1;
			}
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				*why = "control byte in a quoted string";
				return -1;
			}
		}
		if (i == len) {
			*why = "unterminated quoted string";
			return -1;
		}
		pm->val = p + s;
		pm->vlen = i - s;
		i++;
	} else {
		s = i;
		i += token_len(p + i, len - i);
		if (i == s) {
			*why = "empty parameter value";
			return -1;
		}
		pm->val = p + s;
		pm->vlen = i - s;
	}
	*pp = p + i;
	*lenp = len - i;
	return 1;
}

/*
 * OWS type "/" subtype at the start of a Content-Type value: the media
 * type into (*mt, *mtlen), the cursor left on the parameters.  -1 if
 * there is none.
 */
static int
media_type(const char **pp, size_t *lenp, const char **mt, size_t *mtlen)
{
	const char *p = *pp;
	size_t len = *lenp, i = 0, s, t;

	while (i < len && ows(p[i]))
		i++;
	s = i;
	if ((t = token_len(p + i, len - i)) == 0)
		return -1;
	i += t;
	if (i == len || p[i++] != '/')
		return -1;
	if ((t = token_len(p + i, len - i)) == 0)
		return -1;
	i += t;
	*mt = p + s;
	*mtlen = i - s;
	*pp = p + i;
	*lenp = len - i;
	return 0;
}

/*
 * The strings of a form being filled: mem of cap bytes, used so far.
 * Every byte written belongs to a field's name, value or file name (with
 * its NUL) once the field is added, which is what lets sp_form_release
 * wipe field by field.
 */
struct fill {
	char	*mem;
	size_t	 cap;
	size_t	 used;
};

static int
fill_start(struct sp_form *form, struct fill *fl, size_t cap,
    struct sp_err *err)
{
	fl->used = 0;
	fl->cap = cap;
	if ((fl->mem = malloc(cap)) == NULL)
		return sp_err_set(err, "form: out of memory");
	form->mem = fl->mem;
	return 0;
}

/* A failed parse: wipes what was copied so far and empties the form. */
static void
fill_fail(struct sp_form *form, struct fill *fl)
{
	if (fl->mem != NULL) {
		explicit_bzero(fl->mem, fl->cap);
		free(fl->mem);
	}
	fl->mem = NULL;
	sp_form_init(form);
}

/* Copies (p, n) and a NUL into the fill (room was reserved up front). */
static char *
fill_put(struct fill *fl, const char *p, size_t n)
{
	char *s = fl->mem + fl->used;

	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	fl->used += n + 1;
	return s;
}

/*
 * A field name (already decoded) for the next field: 1 to NAME_MAX bytes
 * of printable ASCII, not used by an earlier field.  (The callers have
 * checked that there is room for one more.)
 */
static int
check_name(const struct sp_form *form, const char *what, const char *name,
    size_t nlen, struct sp_err *err)
{
	char e[ESC_SZ];
	size_t i;

	if (nlen == 0)
		return sp_err_set(err, "%s: empty field name", what);
	if (nlen > SP_FORM_NAME_MAX)
		return sp_err_set(err, "%s: field name \"%s\" longer than %d "
		    "bytes", what, esc(e, name, nlen), SP_FORM_NAME_MAX);
	if (!sp_str_printable(name, nlen))
		return sp_err_set(err, "%s: field name \"%s\" is not "
		    "printable ASCII", what, esc(e, name, nlen));
	for (i = 0; i < form->n; i++)
		if (strlen(form->f[i].name) == nlen &&
		    memcmp(form->f[i].name, name, nlen) == 0)
			return sp_err_set(err, "%s: field \"%s\" given twice",
			    what, esc(e, name, nlen));
	return 0;
}

void
sp_form_init(struct sp_form *form)
{
	memset(form, 0, sizeof(*form));
}

void
sp_form_release(struct sp_form *form)
{
	struct sp_form_field *fd;
	size_t i;

	if (form == NULL)
		return;
	/* mem holds exactly the fields' strings (struct fill). */
	for (i = 0; i < form->n && i < SP_FORM_FIELDS_MAX; i++) {
		fd = &form->f[i];
		if (fd->name != NULL)
			explicit_bzero(fd->name, strlen(fd->name));
		if (fd->value != NULL)
			explicit_bzero(fd->value, fd->len);
		if (fd->filename != NULL)
			explicit_bzero(fd->filename, strlen(fd->filename));
	}
	free(form->mem);
	sp_form_init(form);
}

/*
 * %XX and '+' decoding of (p, n) into dst (room for n bytes; the output
 * is never longer).  The decoded length, or -1 with *bad the offset in p
 * of the bad escape.
 */
static int
pct_decode(const char *p, size_t n, char *dst, size_t *outlen, size_t *bad)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (p[i] == '+')
			dst[o++] = ' ';
		else if (p[i] != '%')
			dst[o++] = p[i];
		else {
			if (n - i < 3 || (hi = sp_str_hexval(p[i + 1])) == -1 ||
			    (lo = sp_str_hexval(p[i + 2])) == -1) {
				*bad = i;
				return -1;
			}
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		}
	}
	*outlen = o;
	return 0;
}

/* How much of a bad escape at bad in n bytes to quote: up to 3. */
static size_t
esc_len(size_t n, size_t bad)
{
	return n - bad < 3 ? n - bad : 3;
}

int
sp_form_parse_urlencoded(struct sp_form *form, const char *body, size_t len,
    struct sp_err *err)
{
	struct fill fl = { NULL, 0, 0 };
	struct sp_form_field *fd;
	const char *p = body, *pair, *eq;
	char e[ESC_SZ], en[ESC_SZ], *name, *val;
	size_t left = len, plen, off, nlen, vlen, vstart, bad, i;
	unsigned char c;
	int rc = -1;

	sp_form_init(form);
	if (len > SP_FORM_BODY_MAX) {
		sp_err_set(err, "form: body of %zu bytes (at most %d)", len,
		    SP_FORM_BODY_MAX);
		goto out;
	}
	if (len == 0) {
		rc = 0;
		goto out;
	}
	/*
	 * A pair decodes to at most its length less the '=', and takes two
	 * NULs: len + one byte per field is enough.
	 */
	if (fill_start(form, &fl, len + SP_FORM_FIELDS_MAX + 1, err) == -1)
		goto out;
	while (sp_str_field(&p, &left, '&', &pair, &plen)) {
		off = (size_t)(pair - body);
		if (plen == 0) {
			sp_err_set(err, "form: empty field at offset %zu", off);
			goto out;
		}
		if (form->n >= SP_FORM_FIELDS_MAX) {
			sp_err_set(err, "form: more than %d fields",
			    SP_FORM_FIELDS_MAX);
			goto out;
		}
		if ((eq = memchr(pair, '=', plen)) == NULL) {
			sp_err_set(err, "form: field \"%s\" has no '='",
			    esc(e, pair, plen));
			goto out;
		}
		name = fl.mem + fl.used;
		if (pct_decode(pair, (size_t)(eq - pair), name, &nlen,
		    &bad) == -1) {
			nlen = (size_t)(eq - pair);
			sp_err_set(err, "form: bad %%-escape \"%s\" at offset "
			    "%zu", esc(e, pair + bad, esc_len(nlen, bad)),
			    off + bad);
			goto out;
		}
		if (check_name(form, "form", name, nlen, err) == -1)
			goto out;
		name[nlen] = '\0';
		esc(en, name, nlen);
		val = name + nlen + 1;
		vstart = (size_t)(eq + 1 - body);
		if (pct_decode(eq + 1, plen - (vstart - off), val, &vlen,
		    &bad) == -1) {
			sp_err_set(err, "form: field \"%s\": bad %%-escape "
			    "\"%s\" at offset %zu", en, esc(e, body + vstart +
			    bad, esc_len(off + plen - vstart, bad)),
			    vstart + bad);
			goto out;
		}
		for (i = 0; i < vlen; i++) {
			c = (unsigned char)val[i];
			if (c == '\0') {
				sp_err_set(err, "form: field \"%s\": NUL byte",
				    en);
				goto out;
			}
			if ((c < 0x20 && c != '\t' && c != '\r' &&
			    c != '\n') || c == 0x7f) {
				sp_err_set(err, "form: field \"%s\": control "
				    "byte 0x%02x", en, c);
				goto out;
			}
		}
		val[vlen] = '\0';
		fl.used += nlen + 1 + vlen + 1;
		fd = &form->f[form->n++];
		fd->name = name;
		fd->value = val;
		fd->len = vlen;
		fd->filename = NULL;
	}
	rc = 0;
 out:
	if (rc == -1)
		fill_fail(form, &fl);
	return rc;
}

/*
 * The boundary of a multipart/form-data Content-Type into out (room for
 * SP_FORM_BOUNDARY_MAX + 1), NUL-terminated; its length into *blen.
 */
static int
boundary_get(const char *ct, char *out, size_t *blen, struct sp_err *err)
{
	struct param pm;
	const char *p = ct, *mt, *why = NULL, *b = NULL;
	char e[ESC_SZ];
	size_t len, mtlen, bl = 0, i;
	int r;

	if (ct == NULL)
		return sp_err_set(err, "multipart: no Content-Type");
	len = strlen(ct);
	if (media_type(&p, &len, &mt, &mtlen) == -1 ||
	    !sp_str_ieq(mt, mtlen, "multipart/form-data"))
		return sp_err_set(err, "multipart: Content-Type \"%s\" is not "
		    "multipart/form-data", esc(e, ct, strlen(ct)));
	while ((r = next_param(&p, &len, &pm, &why)) == 1) {
		if (!sp_str_ieq(pm.name, pm.nlen, "boundary"))
			continue;
		if (b != NULL)
			return sp_err_set(err, "multipart: boundary given "
			    "twice in the Content-Type");
		b = pm.val;
		bl = pm.vlen;
	}
	if (r == -1)
		return sp_err_set(err, "multipart: Content-Type \"%s\": %s",
		    esc(e, ct, strlen(ct)), why);
	if (b == NULL)
		return sp_err_set(err, "multipart: Content-Type has no "
		    "boundary");
	if (bl == 0 || bl > SP_FORM_BOUNDARY_MAX)
		return sp_err_set(err, "multipart: boundary of %zu characters "
		    "(1 to %d)", bl, SP_FORM_BOUNDARY_MAX);
	for (i = 0; i < bl; i++)
		if (!bchar(b[i]) && (b[i] != ' ' || i == bl - 1))
			return sp_err_set(err, "multipart: boundary \"%s\" has "
			    "a character outside RFC 2046 bchars",
			    esc(e, b, bl));
	memcpy(out, b, bl);
	out[bl] = '\0';
	*blen = bl;
	return 0;
}

/* What a part's head says. */
struct part {
	const char	*name;
	size_t		 nlen;
	const char	*fname;		/* NULL: no filename parameter */
	size_t		 flen;
};

/* The value of a part's Content-Disposition header. */
static int
disposition(const char *v, size_t vlen, size_t partno, struct part *pt,
    struct sp_err *err)
{
	struct param pm;
	const char *why = NULL;
	char e[ESC_SZ];
	size_t t, i;
	int r;

	t = token_len(v, vlen);
	if (!sp_str_ieq(v, t, "form-data"))
		return sp_err_set(err, "multipart: part %zu: Content-"
		    "Disposition \"%s\" is not form-data", partno,
		    esc(e, v, vlen));
	v += t;
	vlen -= t;
	while ((r = next_param(&v, &vlen, &pm, &why)) == 1) {
		if (sp_str_ieq(pm.name, pm.nlen, "name")) {
			if (pt->name != NULL)
				return sp_err_set(err, "multipart: part %zu: "
				    "name given twice", partno);
			pt->name = pm.val;
			pt->nlen = pm.vlen;
		} else if (sp_str_ieq(pm.name, pm.nlen, "filename")) {
			if (pt->fname != NULL)
				return sp_err_set(err, "multipart: part %zu: "
				    "filename given twice", partno);
			pt->fname = pm.val;
			pt->flen = pm.vlen;
		}
	}
	if (r == -1)
		return sp_err_set(err, "multipart: part %zu: Content-"
		    "Disposition: %s", partno, why);
	if (pt->name == NULL)
		return sp_err_set(err, "multipart: part %zu: Content-"
		    "Disposition has no name", partno);
	if (pt->fname == NULL)
		return 0;
	for (i = 0; i < pt->flen; i++) {
		unsigned char c = (unsigned char)pt->fname[i];

		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return sp_err_set(err, "multipart: part %zu: file name "
			    "\"%s\" is not a base name", partno,
			    esc(e, pt->fname, pt->flen));
	}
	if ((pt->flen == 1 && pt->fname[0] == '.') ||
	    (pt->flen == 2 && memcmp(pt->fname, "..", 2) == 0))
		return sp_err_set(err, "multipart: part %zu: file name \"%s\" "
		    "is not a base name", partno, esc(e, pt->fname, pt->flen));
	return 0;
}

/*
 * The head of a part, from p (just after the delimiter line) through the
 * empty line; its length into *used.  Lines end in CRLF (a bare CR or LF
 * is refused), folding is refused, SP_FORM_PART_HEADERS_MAX bounds the
 * whole head.
 */
static int
part_head(const char *p, size_t len, size_t partno, size_t *used,
    struct part *pt, struct sp_err *err)
{
	const char *v;
	char e[ESC_SZ];
	size_t max, pos = 0, eol, colon, vlen;
	bool have_cd = false;

	memset(pt, 0, sizeof(*pt));
	max = len < SP_FORM_PART_HEADERS_MAX ? len : SP_FORM_PART_HEADERS_MAX;
	for (;;) {
		for (eol = pos; eol < max && p[eol] != '\r' && p[eol] != '\n';
		    eol++)
			;
		if (eol + 1 >= max) {
			if (len > SP_FORM_PART_HEADERS_MAX)
				return sp_err_set(err, "multipart: part %zu: "
				    "head longer than %d bytes", partno,
				    SP_FORM_PART_HEADERS_MAX);
			return sp_err_set(err, "multipart: part %zu: body ends "
			    "in the head (no closing boundary)", partno);
		}
		if (p[eol] != '\r' || p[eol + 1] != '\n')
			return sp_err_set(err, "multipart: part %zu: bare CR "
			    "or LF in the head", partno);
		if (eol == pos) {
			pos += 2;
			break;
		}
		if (ows(p[pos]))
			return sp_err_set(err, "multipart: part %zu: folded "
			    "header line", partno);
		colon = pos + token_len(p + pos, eol - pos);
		if (colon == pos || colon == eol || p[colon] != ':')
			return sp_err_set(err, "multipart: part %zu: bad "
			    "header line \"%s\"", partno,
			    esc(e, p + pos, eol - pos));
		v = p + colon + 1;
		vlen = eol - colon - 1;
		sp_str_trim(&v, &vlen);
		if (sp_str_ieq(p + pos, colon - pos, "content-disposition")) {
			if (have_cd)
				return sp_err_set(err, "multipart: part %zu: "
				    "Content-Disposition given twice",
				    partno);
			have_cd = true;
			if (disposition(v, vlen, partno, pt, err) == -1)
				return -1;
		} else if (sp_str_ieq(p + pos, colon - pos,
		    "content-transfer-encoding"))
			return sp_err_set(err, "multipart: part %zu: Content-"
			    "Transfer-Encoding is not supported (RFC 7578 "
			    "4.7)", partno);
		pos = eol + 2;
	}
	if (!have_cd)
		return sp_err_set(err, "multipart: part %zu: no Content-"
		    "Disposition", partno);
	*used = pos;
	return 0;
}

int
sp_form_parse_multipart(struct sp_form *form, const char *content_type,
    const char *body, size_t len, struct sp_err *err)
{
	struct fill fl = { NULL, 0, 0 };
	struct sp_form_field *fd;
	struct part pt;
	/* "\r\n--" boundary: a delimiter; its first bytes: a dash-boundary */
	char delim[4 + SP_FORM_BOUNDARY_MAX + 1];
	const char *d;
	size_t blen = 0, dlen, pos, hlen = 0, vlen, partno = 0;
	int rc = -1;

	sp_form_init(form);
	if (boundary_get(content_type, delim + 4, &blen, err) == -1)
		goto out;
	memcpy(delim, "\r\n--", 4);
	dlen = 4 + blen;
	if (len > SP_FORM_BODY_MAX) {
		sp_err_set(err, "multipart: body of %zu bytes (at most %d)",
		    len, SP_FORM_BODY_MAX);
		goto out;
	}
	/* The first dash-boundary opens the body or follows a preamble. */
	if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
		pos = dlen - 2;
	else if (len > 0 && (d = memmem(body, len, delim, dlen)) != NULL)
		pos = (size_t)(d - body) + dlen;
	else {
		sp_err_set(err, "multipart: no boundary \"--%s\" in the body",
		    delim + 4);
		goto out;
	}
	/* Names, values and file names are disjoint pieces of the body. */
	if (fill_start(form, &fl, len + 3 * SP_FORM_FIELDS_MAX + 1,
	    err) == -1)
		goto out;
	for (;;) {
		/* pos is just after a "--boundary". */
		if (len - pos >= 2 && body[pos] == '-' &&
		    body[pos + 1] == '-') {
			pos += 2;
			while (pos < len && ows(body[pos]))
				pos++;
			if (pos < len && (len - pos < 2 ||
			    body[pos] != '\r' || body[pos + 1] != '\n')) {
				sp_err_set(err, "multipart: bytes after the "
				    "closing boundary are not on a line of "
				    "their own");
				goto out;
			}
			break;
		}
		while (pos < len && ows(body[pos]))
			pos++;
		if (len - pos < 2) {
			sp_err_set(err, "multipart: no closing boundary");
			goto out;
		}
		if (body[pos] != '\r' || body[pos + 1] != '\n') {
			sp_err_set(err, "multipart: bytes after a boundary "
			    "at offset %zu", pos);
			goto out;
		}
		pos += 2;
		partno++;
		if (form->n >= SP_FORM_FIELDS_MAX) {
			sp_err_set(err, "multipart: more than %d fields",
			    SP_FORM_FIELDS_MAX);
			goto out;
		}
		if (part_head(body + pos, len - pos, partno, &hlen, &pt,
		    err) == -1)
			goto out;
		if (check_name(form, "multipart", pt.name, pt.nlen, err) == -1)
			goto out;
		pos += hlen;
		if ((d = memmem(body + pos, len - pos, delim, dlen)) == NULL) {
			sp_err_set(err, "multipart: no closing boundary");
			goto out;
		}
		vlen = (size_t)(d - (body + pos));
		fd = &form->f[form->n++];
		fd->name = fill_put(&fl, pt.name, pt.nlen);
		fd->value = fill_put(&fl, body + pos, vlen);
		fd->len = vlen;
		fd->filename = pt.fname == NULL ? NULL :
		    fill_put(&fl, pt.fname, pt.flen);
		pos += vlen + dlen;
	}
	rc = 0;
 out:
	if (rc == -1)
		fill_fail(form, &fl);
	return rc;
}

int
sp_form_parse(struct sp_form *form, const char *content_type,
    const char *body, size_t len, struct sp_err *err)
{
	struct param pm;
	const char *p = content_type, *mt, *why = NULL;
	char e[ESC_SZ];
	size_t plen, mtlen;
	int r;

	sp_form_init(form);
	if (content_type == NULL)
		return sp_err_set(err, "form: unsupported Content-Type (none "
		    "given)");
	plen = strlen(content_type);
	if (media_type(&p, &plen, &mt, &mtlen) == 0) {
		if (sp_str_ieq(mt, mtlen, "multipart/form-data"))
			return sp_form_parse_multipart(form, content_type,
			    body, len, err);
		if (sp_str_ieq(mt, mtlen,
		    "application/x-www-form-urlencoded")) {
			/* Parameters (a charset) allowed, if well-formed. */
			while ((r = next_param(&p, &plen, &pm, &why)) == 1)
				;
			if (r == -1)
				return sp_err_set(err, "form: Content-Type "
				    "\"%s\": %s", esc(e, content_type,
				    strlen(content_type)), why);
			return sp_form_parse_urlencoded(form, body, len, err);
		}
	}
	return sp_err_set(err, "form: unsupported Content-Type \"%s\"",
	    esc(e, content_type, strlen(content_type)));
}

const struct sp_form_field *
sp_form_get(const struct sp_form *form, const char *name)
{
	size_t i;

	for (i = 0; i < form->n && i < SP_FORM_FIELDS_MAX; i++)
		if (strcmp(form->f[i].name, name) == 0)
			return &form->f[i];
	return NULL;
}

int
sp_form_cookie(const char *header, const char *name, char *out,
    size_t outsz, struct sp_err *err)
{
	const char *p = header, *v;
	char e[ESC_SZ];
	size_t len, i = 0, ns, nlen, vlen, want;
	int found = 0, rc = -1;

	if (out == NULL || outsz == 0 || name == NULL)
		return sp_err_set(err, "cookie: no room for the value");
	out[0] = '\0';
	want = strlen(name);
	if (want == 0 || token_len(name, want) != want) {
		sp_err_set(err, "cookie: name \"%s\" is not a token",
		    esc(e, name, want));
		goto out;
	}
	if (header == NULL) {
		rc = 0;
		goto out;
	}
	len = strlen(header);
	sp_str_trim(&p, &len);
	if (len == 0) {
		sp_err_set(err, "cookie: malformed (empty header)");
		goto out;
	}
	for (;;) {
		ns = i;
		i += token_len(p + i, len - i);
		nlen = i - ns;
		if (nlen == 0 || i == len || p[i] != '=') {
			sp_err_set(err, "cookie: malformed (no name=value at "
			    "offset %zu)", ns);
			goto out;
		}
		i++;
		if (i < len && p[i] == '"') {
			v = p + ++i;
			while (i < len && cookie_octet(p[i]))
				i++;
			if (i == len || p[i] != '"') {
				sp_err_set(err, "cookie: malformed (bad quoted "
				    "value at offset %zu)", ns);
				goto out;
			}
			vlen = (size_t)(p + i - v);
			i++;
		} else {
			v = p + i;
			while (i < len && cookie_octet(p[i]))
				i++;
			vlen = (size_t)(p + i - v);
		}
		if (nlen == want && memcmp(p + ns, name, want) == 0) {
			if (found) {
				sp_err_set(err, "cookie: \"%s\" given twice",
				    name);
				goto out;
			}
			found = 1;
			if (vlen >= outsz) {
				sp_err_set(err, "cookie: value of \"%s\" "
				    "longer than %zu bytes", name, outsz - 1);
				goto out;
			}
			memcpy(out, v, vlen);
			out[vlen] = '\0';
		}
		if (i == len)
			break;
		/* RFC 6265 sends "; "; more spaces are harmless. */
		if (p[i] != ';' || i + 1 == len || p[i + 1] != ' ') {
			sp_err_set(err, "cookie: malformed (byte 0x%02x at "
			    "offset %zu)", (unsigned char)p[i], i);
			goto out;
		}
		for (i++; i < len && p[i] == ' '; i++)
			;
	}
	rc = found;
 out:
	if (rc != 1)
		out[0] = '\0';
	return rc;
}
