/*
 * Flat profiles (profile.h).
 *
 * Parameters live in an array kept in insertion order (rendering order);
 * an open-addressing hash table of indexes into that array makes set and
 * get O(1).  The hash is SipHash-2-4 keyed with random bytes per profile,
 * so that names chosen by a hostile document cannot all collide.
 *
 * Values must be representable in XML 1.0: besides NUL, the C0 controls
 * other than tab, LF and CR and the noncharacters U+FFFE/U+FFFF are
 * refused, since no XML parser accepts them, even as numeric references.
 *
 * Parsing distinguishes literal text from references: trimming and the
 * newline-to-space rule apply to literal text only, so that &#32; &#9;
 * &#10; &#13; survive.  The renderer relies on that to make
 * parse(render(p)) == p for every profile.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <expat.h>

#include "sprov/limits.h"
#include "sprov/profile.h"
#include "sprov/str.h"

struct sp_profile_ent {
	struct sp_param	 param;		/* first: sp_profile_at points here */
	size_t		 namelen;
	uint64_t	 hash;
};

struct sp_profile {
	struct sp_profile_ent	*ents;
	size_t			 n;
	size_t			 cap;
	uint32_t		*slots;		/* index + 1; 0 = empty */
	size_t			 nslots;	/* power of two, or 0 */
	uint64_t		 key[2];
	int			 keyed;
	char			 err[SP_ERR_MAX];
};

/* Parser state, one per sp_profile_parse() call. */
struct sp_profile_px {
	XML_Parser		 xp;
	struct sp_profile	*p;
	const char		*xml;
	size_t			 xmllen;
	struct sp_err		 err;
	int			 failed;
	int			 depth;
	int			 fpdepth;	/* of <flat-profile>; 0: out */
	int			 inparam;
	int			 incdata;
	char			 name[SP_PARAM_NAME_MAX + 1];
	enum sp_ua		 ua;
	struct sp_buf		 val;
	size_t			 keep;		/* val length after trimming */
};

static void	 sp_profile_seterr(struct sp_profile *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 sp_profile_pxfail(struct sp_profile_px *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
sp_profile_seterr(struct sp_profile *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

/*
 * Untrusted text shown in a message: printable ASCII, anything else as
 * '?', cut with "..." to fit dst.
 */
static const char *
sp_profile_shown(char *dst, size_t dstsz, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < dstsz; i++) {
		if (o + 4 >= dstsz && i + 1 < len) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	}
	dst[o] = '\0';
	return dst;
}

/* SipHash-2-4 (Aumasson, Bernstein). */
static uint64_t
sp_profile_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
sp_profile_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = sp_profile_rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = sp_profile_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = sp_profile_rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = sp_profile_rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = sp_profile_rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = sp_profile_rotl(v[2], 32);
}

static uint64_t
sp_profile_hash(const uint64_t key[2], const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint64_t v[4], m;
	size_t i, j, end = len - len % 8;

	v[0] = key[0] ^ 0x736f6d6570736575ULL;
	v[1] = key[1] ^ 0x646f72616e646f6dULL;
	v[2] = key[0] ^ 0x6c7967656e657261ULL;
	v[3] = key[1] ^ 0x7465646279746573ULL;
	for (i = 0; i < end; i += 8) {
		m = 0;
		for (j = 0; j < 8; j++)
			m |= (uint64_t)u[i + j] << (8 * j);
		v[3] ^= m;
		sp_profile_sipround(v);
		sp_profile_sipround(v);
		v[0] ^= m;
	}
	m = (uint64_t)len << 56;
	for (j = 0; i + j < len; j++)
		m |= (uint64_t)u[i + j] << (8 * j);
	v[3] ^= m;
	sp_profile_sipround(v);
	sp_profile_sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (j = 0; j < 4; j++)
		sp_profile_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static void
sp_profile_rekey(struct sp_profile *p)
{
	if (p->keyed)
		return;
	if (getrandom(p->key, sizeof(p->key), 0) != (ssize_t)sizeof(p->key)) {
		/* Only hash flooding resistance is lost. */
		p->key[0] = (uint64_t)(uintptr_t)p ^ 0x9e3779b97f4a7c15ULL;
		p->key[1] = (uint64_t)(uintptr_t)p ^ 0xc2b2ae3d27d4eb4fULL;
	}
	p->keyed = 1;
}

/* Slot holding name, or the empty slot where it would go. */
static size_t
sp_profile_slot(const struct sp_profile *p, const char *name, size_t len,
    uint64_t h)
{
	size_t mask = p->nslots - 1, i = (size_t)h & mask;
	const struct sp_profile_ent *e;

	while (p->slots[i] != 0) {
		e = &p->ents[p->slots[i] - 1];
		if (e->hash == h && e->namelen == len &&
		    memcmp(e->param.name, name, len) == 0)
			break;
		i = (i + 1) & mask;
	}
	return i;
}

static int
sp_profile_reindex(struct sp_profile *p, size_t nslots)
{
	uint32_t *slots;
	size_t i, s;
	int rc = -1;

	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		goto out;
	free(p->slots);
	p->slots = slots;
	p->nslots = nslots;
	for (i = 0; i < p->n; i++) {
		s = (size_t)p->ents[i].hash & (nslots - 1);
		while (slots[s] != 0)
			s = (s + 1) & (nslots - 1);
		slots[s] = (uint32_t)(i + 1);
	}
	rc = 0;
out:
	return rc;
}

static const struct sp_profile_ent *
sp_profile_find(const struct sp_profile *p, const char *name, size_t *lenp,
    uint64_t *hp)
{
	size_t len, s;
	uint64_t h;

	if (name == NULL)
		return NULL;
	len = strnlen(name, SP_PARAM_NAME_MAX + 1);
	*lenp = len;
	*hp = 0;
	if (len > SP_PARAM_NAME_MAX || !p->keyed)
		return NULL;
	*hp = h = sp_profile_hash(p->key, name, len);
	if (p->nslots == 0)
		return NULL;
	s = sp_profile_slot(p, name, len, h);
	return p->slots[s] ? &p->ents[p->slots[s] - 1] : NULL;
}

struct sp_profile *
sp_profile_new(void)
{
	return calloc(1, sizeof(struct sp_profile));
}

void
sp_profile_free(struct sp_profile *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		free((char *)(uintptr_t)p->ents[i].param.name);
		free((char *)(uintptr_t)p->ents[i].param.value);
	}
	free(p->ents);
	free(p->slots);
	free(p);
}

const char *
sp_profile_error(const struct sp_profile *p)
{
	return p->err;
}

int
sp_ua_parse(const char *s, enum sp_ua *ua)
{
	static const struct {
		const char	*name;
		enum sp_ua	 ua;
	} tab[] = {
		{ "", SP_UA_NONE }, { "na", SP_UA_NA }, { "ro", SP_UA_RO },
		{ "rw", SP_UA_RW },
	};
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(s, tab[i].name) == 0) {
			*ua = tab[i].ua;
			return 0;
		}
	return -1;
}

const char *
sp_ua_name(enum sp_ua ua)
{
	switch (ua) {
	case SP_UA_NA:
		return "na";
	case SP_UA_RO:
		return "ro";
	case SP_UA_RW:
		return "rw";
	case SP_UA_NONE:
		break;
	}
	return "";
}

bool
sp_param_name_ok(const char *s, size_t len)
{
	size_t i;
	char c;

	if (s == NULL || len == 0 || len > SP_PARAM_NAME_MAX ||
	    (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/*
 * 0 when (s, len) is UTF-8 that XML 1.0 can carry; else -1 with the
 * reason and the byte offset in why/at.
 */
static int
sp_profile_value_ok(const char *s, size_t len, const char **why, size_t *at)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n, k;
	unsigned char c, lo, hi;

	while (i < len) {
		c = u[i];
		*at = i;
		if (c < 0x80) {
			if (c == 0) {
				*why = "NUL byte";
				return -1;
			}
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
				*why = "control character (XML 1.0 allows "
				    "only tab, LF and CR)";
				return -1;
			}
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;		/* overlong */
			else if (c == 0xed)
				hi = 0x9f;		/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;		/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;		/* > U+10FFFF */
		} else {
			*why = "invalid UTF-8";
			return -1;
		}
		if (len - i <= n) {
			*why = "invalid UTF-8 (truncated sequence)";
			return -1;
		}
		for (k = 1; k <= n; k++)
			if (u[i + k] < (k == 1 ? lo : 0x80) ||
			    u[i + k] > (k == 1 ? hi : 0xbf)) {
				*why = "invalid UTF-8";
				return -1;
			}
		if (c == 0xef && u[i + 1] == 0xbf && u[i + 2] >= 0xbe) {
			*why = "U+FFFE/U+FFFF (not allowed in XML)";
			return -1;
		}
		i += n + 1;
	}
	return 0;
}

/* Copies (s, len) as a NUL-terminated string; NULL when out of memory. */
static char *
sp_profile_dup(const char *s, size_t len)
{
	char *d;

	if ((d = malloc(len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

int
sp_profile_set(struct sp_profile *p, const char *name, const char *value,
    size_t valuelen, enum sp_ua ua)
{
	const struct sp_profile_ent *found;
	struct sp_profile_ent *e, *ne;
	char shown[48], *nv = NULL, *nn = NULL;
	const char *why;
	size_t len, at, s, ncap;
	uint64_t h;
	int rc = -1;

	if (name == NULL)
		name = "";
	len = strnlen(name, SP_PARAM_NAME_MAX + 1);
	if (!sp_param_name_ok(name, len)) {
		sp_profile_seterr(p, "bad parameter name '%s': 1 to %d "
		    "letters, digits or '_', not starting with a digit",
		    sp_profile_shown(shown, sizeof(shown), name, len),
		    SP_PARAM_NAME_MAX);
		goto out;
	}
	if ((unsigned)ua > (unsigned)SP_UA_RW) {
		sp_profile_seterr(p, "parameter %s: bad ua %d", name, (int)ua);
		goto out;
	}
	if (value == NULL && valuelen > 0) {
		sp_profile_seterr(p, "parameter %s: no value", name);
		goto out;
	}
	if (valuelen > SP_PARAM_VALUE_MAX) {
		sp_profile_seterr(p, "parameter %s: value is longer than %d "
		    "bytes", name, SP_PARAM_VALUE_MAX);
		goto out;
	}
	if (sp_profile_value_ok(value, valuelen, &why, &at) == -1) {
		sp_profile_seterr(p, "parameter %s: %s at byte %zu of the "
		    "value", name, why, at);
		goto out;
	}
	sp_profile_rekey(p);
	if ((nv = sp_profile_dup(value, valuelen)) == NULL) {
		sp_profile_seterr(p, "parameter %s: out of memory", name);
		goto out;
	}
	if ((found = sp_profile_find(p, name, &len, &h)) != NULL) {
		e = &p->ents[found - p->ents];
		free((char *)(uintptr_t)e->param.value);
		e->param.value = nv;
		e->param.valuelen = valuelen;
		e->param.ua = ua;
		e->param.keep = false;
		nv = NULL;
		rc = 0;
		goto out;
	}
	if (p->n >= SP_PROFILE_PARAMS_MAX) {
		sp_profile_seterr(p, "parameter %s: a profile holds at most "
		    "%d parameters", name, SP_PROFILE_PARAMS_MAX);
		goto out;
	}
	if ((nn = sp_profile_dup(name, len)) == NULL) {
		sp_profile_seterr(p, "parameter %s: out of memory", name);
		goto out;
	}
	if (p->n == p->cap) {
		ncap = p->cap ? p->cap * 2 : 16;
		if ((ne = realloc(p->ents, ncap * sizeof(*ne))) == NULL) {
			sp_profile_seterr(p, "parameter %s: out of memory",
			    name);
			goto out;
		}
		p->ents = ne;
		p->cap = ncap;
	}
	if ((p->n + 1) * 2 > p->nslots &&
	    sp_profile_reindex(p, p->nslots ? p->nslots * 2 : 64) == -1) {
		sp_profile_seterr(p, "parameter %s: out of memory", name);
		goto out;
	}
	e = &p->ents[p->n];
	e->param.name = nn;
	e->param.value = nv;
	e->param.valuelen = valuelen;
	e->param.ua = ua;
	e->param.keep = false;
	e->namelen = len;
	e->hash = h;
	s = sp_profile_slot(p, nn, len, h);
	p->slots[s] = (uint32_t)(p->n + 1);
	p->n++;
	nn = nv = NULL;
	rc = 0;
out:
	free(nn);
	free(nv);
	return rc;
}

int
sp_profile_unset(struct sp_profile *p, const char *name)
{
	const struct sp_profile_ent *found;
	char shown[48];
	size_t len = 0, i;
	uint64_t h;
	int rc = -1;

	if ((found = sp_profile_find(p, name, &len, &h)) == NULL) {
		sp_profile_seterr(p, "no parameter '%s'", name == NULL ? "" :
		    sp_profile_shown(shown, sizeof(shown), name, len));
		goto out;
	}
	i = (size_t)(found - p->ents);
	free((char *)(uintptr_t)p->ents[i].param.name);
	free((char *)(uintptr_t)p->ents[i].param.value);
	memmove(&p->ents[i], &p->ents[i + 1],
	    (p->n - i - 1) * sizeof(p->ents[0]));
	p->n--;
	/* Same size: cannot fail for want of memory, but check anyway. */
	if (sp_profile_reindex(p, p->nslots) == -1) {
		sp_profile_seterr(p, "out of memory");
		goto out;
	}
	rc = 0;
out:
	return rc;
}

const struct sp_param *
sp_profile_get(const struct sp_profile *p, const char *name)
{
	const struct sp_profile_ent *e;
	size_t len;
	uint64_t h;

	if ((e = sp_profile_find(p, name, &len, &h)) == NULL)
		return NULL;
	return &e->param;
}

size_t
sp_profile_count(const struct sp_profile *p)
{
	return p->n;
}

const struct sp_param *
sp_profile_at(const struct sp_profile *p, size_t i)
{
	if (i >= p->n)
		return NULL;
	return &p->ents[i].param;
}

int
sp_profile_merge(struct sp_profile *dst, const struct sp_profile *src)
{
	const struct sp_param *sp;
	size_t i, added = 0;
	int rc = -1;

	/* All or nothing: check the count before changing anything. */
	for (i = 0; i < src->n; i++)
		if (sp_profile_get(dst, src->ents[i].param.name) == NULL)
			added++;
	if (added > (size_t)SP_PROFILE_PARAMS_MAX - dst->n) {
		sp_profile_seterr(dst, "merged profile would hold more than "
		    "%d parameters", SP_PROFILE_PARAMS_MAX);
		goto out;
	}
	for (i = 0; i < src->n; i++) {
		const struct sp_param *old;

		sp = &src->ents[i].param;
		old = sp->keep ? sp_profile_get(dst, sp->name) : NULL;
		if (old != NULL) {
			/* <X ua="rw"/>: the value stays, only ua changes. */
			((struct sp_profile_ent *)(uintptr_t)old)->param.ua =
			    sp->ua;
			continue;
		}
		if (sp_profile_set(dst, sp->name, sp->value, sp->valuelen,
		    sp->ua) == -1)
			goto out;
		if (sp->keep)
			((struct sp_profile_ent *)(uintptr_t)sp_profile_get(dst,
			    sp->name))->param.keep = true;
	}
	rc = 0;
out:
	return rc;
}

/* Appends value escaped for element content. */
static int
sp_profile_escape(struct sp_buf *out, const char *v, size_t len)
{
	const char *rep;
	char num[8];
	size_t i, run = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)v[i];
		rep = NULL;
		if (c == '&')
			rep = "&amp;";
		else if (c == '<')
			rep = "&lt;";
		else if (c == '>')
			rep = "&gt;";
		else if (c == '"')
			rep = "&quot;";
		else if (c < 0x20 || (c == ' ' && (i == 0 || i == len - 1))) {
			/* Leading/trailing spaces would be trimmed. */
			snprintf(num, sizeof(num), "&#%u;", (unsigned)c);
			rep = num;
		}
		if (rep == NULL)
			continue;
		if (sp_buf_append(out, v + run, i - run) == -1 ||
		    sp_buf_append(out, rep, strlen(rep)) == -1)
			return -1;
		run = i + 1;
	}
	return sp_buf_append(out, v + run, len - run);
}

int
sp_profile_render(const struct sp_profile *p, struct sp_buf *out)
{
	static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	    "\n<flat-profile>\n";
	static const char tail[] = "</flat-profile>\n";
	const struct sp_param *pr;
	size_t i, start = out->len;
	int rc = -1;

	if (sp_buf_append(out, head, sizeof(head) - 1) == -1)
		goto out;
	for (i = 0; i < p->n; i++) {
		pr = &p->ents[i].param;
		if (pr->keep) {		/* the empty-element form, as parsed */
			if (sp_buf_printf(out, "  <%s%s%s%s/>\n", pr->name,
			    pr->ua != SP_UA_NONE ? " ua=\"" : "",
			    sp_ua_name(pr->ua), pr->ua != SP_UA_NONE ? "\"" :
			    "") == -1)
				goto out;
			continue;
		}
		if (pr->ua != SP_UA_NONE) {
			if (sp_buf_printf(out, "  <%s ua=\"%s\">", pr->name,
			    sp_ua_name(pr->ua)) == -1)
				goto out;
		} else if (sp_buf_printf(out, "  <%s>", pr->name) == -1)
			goto out;
		if (sp_profile_escape(out, pr->value, pr->valuelen) == -1 ||
		    sp_buf_printf(out, "</%s>\n", pr->name) == -1)
			goto out;
	}
	if (sp_buf_append(out, tail, sizeof(tail) - 1) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1 && out->data != NULL) {
		/* Leave out as it was. */
		out->len = start;
		out->data[start] = '\0';
	}
	return rc;
}

static void
sp_profile_pxfail(struct sp_profile_px *px, const char *fmt, ...)
{
	char msg[SP_ERR_MAX];
	va_list ap;

	if (px->failed)
		return;
	px->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sp_err_set(&px->err, "line %llu: %s",
	    (unsigned long long)XML_GetCurrentLineNumber(px->xp), msg);
	XML_StopParser(px->xp, XML_FALSE);
}

static int
sp_profile_isws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void XMLCALL
sp_profile_xstart(void *arg, const XML_Char *el, const XML_Char **atts)
{
	struct sp_profile_px *px = arg;
	char shown[80], shown2[48];
	size_t len, i;

	if (px->failed)
		return;
	px->depth++;
	len = strlen(el);
	sp_profile_shown(shown, sizeof(shown), el, len);
	if (px->depth > SP_PROFILE_DEPTH_MAX) {
		sp_profile_pxfail(px, "elements nested deeper than %d levels",
		    SP_PROFILE_DEPTH_MAX);
		return;
	}
	if (px->inparam) {
		sp_profile_pxfail(px, "element <%s> is not allowed inside "
		    "parameter <%s>", shown, px->name);
		return;
	}
	if (px->depth == 1) {
		if (strcmp(el, "flat-profile") == 0)
			px->fpdepth = 1;
		else if (strcmp(el, "device") != 0)
			sp_profile_pxfail(px, "root element must be "
			    "<flat-profile> (optionally inside <device>), not "
			    "<%s>", shown);
		return;
	}
	if (px->fpdepth == 0) {
		/* Inside <device>. */
		if (strcmp(el, "flat-profile") == 0)
			px->fpdepth = px->depth;
		else
			sp_profile_pxfail(px, "element <%s> is not allowed "
			    "inside <device> (only <flat-profile>)", shown);
		return;
	}
	if (!sp_param_name_ok(el, len)) {
		sp_profile_pxfail(px, "bad parameter name <%s>: 1 to %d "
		    "letters, digits or '_', not starting with a digit", shown,
		    SP_PARAM_NAME_MAX);
		return;
	}
	memcpy(px->name, el, len + 1);
	px->ua = SP_UA_NONE;
	for (i = 0; atts[i] != NULL; i += 2) {
		if (strcmp(atts[i], "ua") != 0)
			continue;
		if (atts[i + 1][0] == '\0' ||
		    sp_ua_parse(atts[i + 1], &px->ua) == -1) {
			sp_profile_pxfail(px, "parameter <%s>: unknown ua "
			    "value \"%s\" (expected na, ro or rw)", px->name,
			    sp_profile_shown(shown2, sizeof(shown2),
			    atts[i + 1], strlen(atts[i + 1])));
			return;
		}
	}
	px->inparam = 1;
	px->keep = 0;
	sp_buf_reset(&px->val);
}

static void XMLCALL
sp_profile_xend(void *arg, const XML_Char *el)
{
	struct sp_profile_px *px = arg;

	(void)el;
	if (px->failed)
		return;
	if (px->inparam) {
		/* An empty-element tag <X/> ends with no bytes of its own. */
		bool selfclosing = XML_GetCurrentByteCount(px->xp) == 0;

		px->inparam = 0;
		if (sp_profile_set(px->p, px->name,
		    px->val.data ? px->val.data : "", px->keep, px->ua) == -1) {
			sp_profile_pxfail(px, "%s", sp_profile_error(px->p));
			return;
		}
		if (selfclosing)
			((struct sp_profile_ent *)(uintptr_t)sp_profile_get(
			    px->p, px->name))->param.keep = true;
	} else if (px->depth == px->fpdepth)
		px->fpdepth = 0;
	px->depth--;
}

static void XMLCALL
sp_profile_xtext(void *arg, const XML_Char *s, int n)
{
	struct sp_profile_px *px = arg;
	size_t len = (size_t)n, i, from;
	XML_Index at;
	int literal;

	if (px->failed || n <= 0)
		return;
	if (!px->inparam) {
		for (i = 0; i < len; i++)
			if (!sp_profile_isws(s[i])) {
				sp_profile_pxfail(px, "text outside a "
				    "parameter");
				return;
			}
		return;
	}
	/*
	 * A reference (&amp; &#10; ...) is reported on its own and its
	 * source starts with '&'; literal text is trimmed and its newlines
	 * become spaces, references are kept as they are.
	 */
	at = XML_GetCurrentByteIndex(px->xp);
	literal = px->incdata || at < 0 || (size_t)at >= px->xmllen ||
	    px->xml[at] != '&';
	if (literal && px->val.len == 0) {
		while (len > 0 && sp_profile_isws(*s)) {
			s++;
			len--;
		}
	}
	if (len == 0)
		return;
	from = px->val.len;
	if (sp_buf_append(&px->val, s, len) == -1) {
		sp_profile_pxfail(px, "value of <%s> is too long or out of "
		    "memory", px->name);
		return;
	}
	if (!literal)
		px->keep = px->val.len;
	else
		for (i = from; i < px->val.len; i++) {
			if (px->val.data[i] == '\n' || px->val.data[i] == '\r')
				px->val.data[i] = ' ';
			if (!sp_profile_isws(px->val.data[i]))
				px->keep = i + 1;
		}
	if (px->keep > SP_PARAM_VALUE_MAX)
		sp_profile_pxfail(px, "value of <%s> is longer than %d bytes",
		    px->name, SP_PARAM_VALUE_MAX);
}

static void XMLCALL
sp_profile_xcdata_start(void *arg)
{
	struct sp_profile_px *px = arg;

	px->incdata = 1;
}

static void XMLCALL
sp_profile_xcdata_end(void *arg)
{
	struct sp_profile_px *px = arg;

	px->incdata = 0;
}

static void XMLCALL
sp_profile_xdoctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	struct sp_profile_px *px = arg;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	sp_profile_pxfail(px, "DOCTYPE is not allowed");
}

static void XMLCALL
sp_profile_xentity(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_length, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	struct sp_profile_px *px = arg;

	(void)name;
	(void)is_param;
	(void)value;
	(void)value_length;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	sp_profile_pxfail(px, "entity declarations are not allowed");
}

static int XMLCALL
sp_profile_xextent(XML_Parser xp, const XML_Char *context,
    const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid)
{
	struct sp_profile_px *px = XML_GetUserData(xp);

	(void)context;
	(void)base;
	(void)sysid;
	(void)pubid;
	sp_profile_pxfail(px, "external entities are not allowed");
	return XML_STATUS_ERROR;
}

struct sp_profile *
sp_profile_parse(const char *xml, size_t len, struct sp_err *err)
{
	struct sp_profile_px px;
	struct sp_profile *p = NULL, *ret = NULL;

	memset(&px, 0, sizeof(px));
	sp_buf_init(&px.val, SP_PROFILE_XML_MAX);
	if (xml == NULL)
		xml = "";
	if (len > SP_PROFILE_XML_MAX) {
		sp_err_set(err, "profile is larger than %d bytes",
		    SP_PROFILE_XML_MAX);
		goto out;
	}
	if ((p = sp_profile_new()) == NULL) {
		sp_err_set(err, "out of memory");
		goto out;
	}
	/* Forced UTF-8 (the phones' only charset): the declaration's
	 * encoding is ignored. */
	if ((px.xp = XML_ParserCreate("UTF-8")) == NULL) {
		sp_err_set(err, "out of memory");
		goto out;
	}
	px.p = p;
	px.xml = xml;
	px.xmllen = len;
	XML_SetUserData(px.xp, &px);
	XML_SetElementHandler(px.xp, sp_profile_xstart, sp_profile_xend);
	XML_SetCharacterDataHandler(px.xp, sp_profile_xtext);
	XML_SetCdataSectionHandler(px.xp, sp_profile_xcdata_start,
	    sp_profile_xcdata_end);
	XML_SetStartDoctypeDeclHandler(px.xp, sp_profile_xdoctype);
	XML_SetEntityDeclHandler(px.xp, sp_profile_xentity);
	XML_SetExternalEntityRefHandler(px.xp, sp_profile_xextent);
	XML_SetParamEntityParsing(px.xp, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(px.xp, xml, (int)len, XML_TRUE) != XML_STATUS_OK &&
	    !px.failed) {
		px.failed = 1;
		sp_err_set(&px.err, "line %llu: %s",
		    (unsigned long long)XML_GetCurrentLineNumber(px.xp),
		    XML_ErrorString(XML_GetErrorCode(px.xp)));
	}
	if (px.failed) {
		sp_err_set(err, "%s", px.err.msg);
		goto out;
	}
	ret = p;
	p = NULL;
out:
	if (px.xp != NULL)
		XML_ParserFree(px.xp);
	sp_buf_release(&px.val);
	sp_profile_free(p);
	return ret;
}

/* --alias: foreign XML mapped onto parameters (reference 2.3). */
#define ALIAS_MAX	SP_ALIAS_ENTRIES_MAX
#define ALIAS_DEPTH	SP_ALIAS_DEPTH_MAX
#define ALIAS_PATH_MAX	SP_ALIAS_PATH_MAX

struct alias_ent {
	char		path[ALIAS_PATH_MAX];
	char		name[SP_PARAM_NAME_MAX + 1];
	struct sp_buf	val;
	int		active;		/* depth at which it captures, or 0 */
	int		seen;
};

struct alias_px {
	XML_Parser		 xp;
	struct alias_ent	 a[ALIAS_MAX];
	size_t			 n;
	char			 path[ALIAS_PATH_MAX];
	size_t			 lens[ALIAS_DEPTH + 1];
	int			 depth;
	int			 failed;
	struct sp_err		 err;
};

static void
alias_fail(struct alias_px *ax, const char *msg)
{
	if (ax->failed)
		return;
	ax->failed = 1;
	sp_err_set(&ax->err, "line %llu: %s",
	    (unsigned long long)XML_GetCurrentLineNumber(ax->xp), msg);
	XML_StopParser(ax->xp, XML_FALSE);
}

static void XMLCALL
alias_start(void *arg, const XML_Char *el, const XML_Char **attr)
{
	struct alias_px *ax = arg;
	size_t len = ax->lens[ax->depth], n = strlen(el), i;

	(void)attr;
	if (ax->failed)
		return;
	if (ax->depth == ALIAS_DEPTH || len + 1 + n >= ALIAS_PATH_MAX) {
		alias_fail(ax, "document nested too deeply");
		return;
	}
	ax->path[len] = '/';
	memcpy(ax->path + len + 1, el, n + 1);
	ax->lens[++ax->depth] = len + 1 + n;
	for (i = 0; i < ax->n; i++)
		if (!ax->a[i].seen && !ax->a[i].active &&
		    strcmp(ax->a[i].path, ax->path) == 0)
			ax->a[i].active = ax->depth;
}

static void XMLCALL
alias_end(void *arg, const XML_Char *el)
{
	struct alias_px *ax = arg;
	size_t i;

	(void)el;
	if (ax->failed)
		return;
	for (i = 0; i < ax->n; i++)
		if (ax->a[i].active == ax->depth) {
			ax->a[i].active = 0;
			ax->a[i].seen = 1;	/* the first one counts */
		}
	ax->path[ax->lens[--ax->depth]] = '\0';
}

static void XMLCALL
alias_text(void *arg, const XML_Char *t, int n)
{
	struct alias_px *ax = arg;
	size_t i;

	for (i = 0; i < ax->n && !ax->failed; i++)
		if (ax->a[i].active && sp_buf_append(&ax->a[i].val, t,
		    (size_t)n) == -1)
			alias_fail(ax, "value too long");
}

static void XMLCALL
alias_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	alias_fail(arg, "DOCTYPE is not allowed");
}

/* Maps are typed into forms and profiles: entries may sit on lines. */
static void
alias_trim(const char **p, size_t *len)
{
	while (*len > 0 && (**p == ' ' || **p == '\t' || **p == '\r' ||
	    **p == '\n')) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t' ||
	    (*p)[*len - 1] == '\r' || (*p)[*len - 1] == '\n'))
		(*len)--;
}

/* "/a/b = /flat-profile/Name ; ..." into ax->a. */
static int
alias_map(struct alias_px *ax, const char *map, size_t len,
    struct sp_err *err)
{
	const char *e, *eq, *l, *r;
	size_t el, ll, rl;

	while (sp_str_field(&map, &len, ';', &e, &el)) {
		alias_trim(&e, &el);
		if (el == 0)
			continue;
		if (ax->n == ALIAS_MAX)
			return sp_err_set(err, "alias map: more than %d entries",
			    ALIAS_MAX);
		if ((eq = memchr(e, '=', el)) == NULL)
			return sp_err_set(err, "alias map: entry %zu has no "
			    "'='", ax->n + 1);
		l = e;
		ll = (size_t)(eq - e);
		r = eq + 1;
		rl = el - ll - 1;
		alias_trim(&l, &ll);
		alias_trim(&r, &rl);
		if (ll == 0 || l[0] != '/' || ll >= ALIAS_PATH_MAX ||
		    !sp_str_printable(l, ll))
			return sp_err_set(err, "alias map: entry %zu: the XML "
			    "path must start with '/'", ax->n + 1);
		if (rl <= 14 || memcmp(r, "/flat-profile/", 14) != 0 ||
		    !sp_param_name_ok(r + 14, rl - 14))
			return sp_err_set(err, "alias map: entry %zu: the "
			    "target must be /flat-profile/<Name>", ax->n + 1);
		memcpy(ax->a[ax->n].path, l, ll);
		memcpy(ax->a[ax->n].name, r + 14, rl - 14);
		sp_buf_init(&ax->a[ax->n].val, SP_PARAM_VALUE_MAX);
		ax->n++;
	}
	if (ax->n == 0)
		return sp_err_set(err, "alias map is empty");
	return 0;
}

struct sp_profile *
sp_profile_parse_alias(const char *xml, size_t len, const char *map,
    size_t maplen, struct sp_err *err)
{
	struct alias_px *ax;
	struct sp_profile *p = NULL, *ret = NULL;
	size_t i, j;

	if ((ax = calloc(1, sizeof(*ax))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	if (len > SP_PROFILE_XML_MAX) {
		sp_err_set(err, "document is larger than %d bytes",
		    SP_PROFILE_XML_MAX);
		goto out;
	}
	if (alias_map(ax, map, maplen, err) == -1)
		goto out;
	if ((p = sp_profile_new()) == NULL ||
	    (ax->xp = XML_ParserCreate("UTF-8")) == NULL) {
		sp_err_set(err, "out of memory");
		goto out;
	}
	XML_SetUserData(ax->xp, ax);
	XML_SetElementHandler(ax->xp, alias_start, alias_end);
	XML_SetCharacterDataHandler(ax->xp, alias_text);
	XML_SetStartDoctypeDeclHandler(ax->xp, alias_doctype);
	XML_SetParamEntityParsing(ax->xp, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(ax->xp, xml ? xml : "", (int)len, XML_TRUE) !=
	    XML_STATUS_OK && !ax->failed)
		alias_fail(ax, XML_ErrorString(XML_GetErrorCode(ax->xp)));
	if (ax->failed) {
		sp_err_set(err, "%s", ax->err.msg);
		goto out;
	}
	for (i = 0; i < ax->n; i++) {
		struct alias_ent *a = &ax->a[i];
		const char *v = a->val.data ? a->val.data : "";
		size_t vl = a->val.len;

		if (!a->seen)
			continue;
		/* As for flat profiles: trimmed, line breaks as spaces. */
		for (j = 0; j < vl; j++)
			if (a->val.data[j] == '\r' || a->val.data[j] == '\n')
				a->val.data[j] = ' ';
		while (vl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (sp_profile_set(p, a->name, v, vl, SP_UA_NONE) == -1) {
			sp_err_set(err, "%s", sp_profile_error(p));
			goto out;
		}
	}
	ret = p;
	p = NULL;
out:
	for (i = 0; i < ax->n; i++)
		sp_buf_release(&ax->a[i].val);
	if (ax->xp != NULL)
		XML_ParserFree(ax->xp);
	free(ax);
	sp_profile_free(p);
	return ret;
}
