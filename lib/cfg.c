#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/cfg.h"
#include "sprov/fsutil.h"
#include "sprov/limits.h"
#include "sprov/str.h"

struct cfg_entry {
	const struct sp_cfg_key	*key;
	char			*value;
	size_t			 line;
};

struct sp_cfg {
	const struct sp_cfg_key	*schema;
	size_t			 nkeys;
	struct cfg_entry	*ents;
	size_t			 nents;
	char			 name[256];
	char			 err[SP_ERR_MAX];
};

struct sp_cfg *
sp_cfg_new(const struct sp_cfg_key *schema, size_t nkeys)
{
	struct sp_cfg *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->schema = schema;
	c->nkeys = nkeys;
	return c;
}

static void
cfg_clear(struct sp_cfg *c)
{
	size_t i;

	for (i = 0; i < c->nents; i++)
		free(c->ents[i].value);
	free(c->ents);
	c->ents = NULL;
	c->nents = 0;
}

void
sp_cfg_free(struct sp_cfg *c)
{
	if (c == NULL)
		return;
	cfg_clear(c);
	free(c);
}

const char *
sp_cfg_error(const struct sp_cfg *c)
{
	return c->err;
}

static int
cfg_fail(struct sp_cfg *c, size_t line, const char *fmt, ...)
{
	char msg[SP_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(c->err, sizeof(c->err), "%s:%zu: %s", c->name, line,
		    msg);
	else
		snprintf(c->err, sizeof(c->err), "%s: %s", c->name, msg);
	return -1;
}

static const struct sp_cfg_key *
cfg_key(const struct sp_cfg *c, const char *k, size_t klen)
{
	size_t i;

	for (i = 0; i < c->nkeys; i++)
		if (strlen(c->schema[i].name) == klen &&
		    memcmp(c->schema[i].name, k, klen) == 0)
			return &c->schema[i];
	return NULL;
}

/* Decodes a value: bare (up to a '#') or double-quoted with \" and \\. */
static int
cfg_value(struct sp_cfg *c, size_t line, const char *p, size_t n,
    char **out)
{
	char *v;
	size_t i, o = 0;

	if ((v = malloc(n + 1)) == NULL)
		return cfg_fail(c, line, "out of memory");
	if (n > 0 && p[0] == '"') {
		for (i = 1; i < n; i++) {
			if (p[i] == '\\' && i + 1 < n &&
			    (p[i + 1] == '"' || p[i + 1] == '\\')) {
				v[o++] = p[++i];
				continue;
			}
			if (p[i] == '"')
				break;
			v[o++] = p[i];
		}
		if (i >= n) {
			free(v);
			return cfg_fail(c, line, "unterminated quoted value");
		}
		for (i++; i < n; i++) {
			if (p[i] == '#')
				break;
			if (p[i] != ' ' && p[i] != '\t') {
				free(v);
				return cfg_fail(c, line, "text after closing "
				    "quote");
			}
		}
	} else {
		const char *h = memchr(p, '#', n);

		if (h != NULL)
			n = (size_t)(h - p);
		sp_str_trim(&p, &n);
		memcpy(v, p, n);
		o = n;
	}
	v[o] = '\0';
	*out = v;
	return 0;
}

static int
cfg_line(struct sp_cfg *c, size_t line, const char *p, size_t n)
{
	const struct sp_cfg_key *k;
	struct cfg_entry *ne;
	const char *key;
	size_t klen, i;
	char *val = NULL;

	sp_str_trim(&p, &n);
	if (n == 0 || p[0] == '#')
		return 0;
	if (!sp_str_printable(p, n)) {
		for (i = 0; i < n; i++)
			if (p[i] != '\t' && ((unsigned char)p[i] < 0x20 ||
			    (unsigned char)p[i] > 0x7e))
				return cfg_fail(c, line, "control or "
				    "non-ASCII byte 0x%02x",
				    (unsigned char)p[i]);
	}
	key = p;
	for (klen = 0; klen < n && p[klen] != ' ' && p[klen] != '\t'; klen++)
		;
	if (!sp_str_charset(key, klen, "_-.")) {
		char shown[80];

		snprintf(shown, sizeof(shown), "%.*s", (int)(klen > 60 ? 60 :
		    klen), key);
		return cfg_fail(c, line, "bad key '%s'", shown);
	}
	if ((k = cfg_key(c, key, klen)) == NULL)
		return cfg_fail(c, line, "unknown key '%.*s'",
		    (int)(klen > 60 ? 60 : klen), key);
	p += klen;
	n -= klen;
	sp_str_trim(&p, &n);
	if (cfg_value(c, line, p, n, &val) == -1)
		return -1;
	if ((k->flags & SP_CFG_FLAG) && val[0] != '\0') {
		free(val);
		return cfg_fail(c, line, "%s takes no value", k->name);
	}
	if (!(k->flags & SP_CFG_FLAG) && val[0] == '\0') {
		free(val);
		return cfg_fail(c, line, "%s needs a value", k->name);
	}
	if (!(k->flags & SP_CFG_REPEAT) && sp_cfg_line(c, k->name) != 0) {
		size_t first = sp_cfg_line(c, k->name);

		free(val);
		return cfg_fail(c, line, "%s given twice (first at line %zu)",
		    k->name, first);
	}
	if (c->nents >= SP_CFG_ENTRIES_MAX) {
		free(val);
		return cfg_fail(c, line, "more than %d entries",
		    SP_CFG_ENTRIES_MAX);
	}
	ne = realloc(c->ents, (c->nents + 1) * sizeof(*ne));
	if (ne == NULL) {
		free(val);
		return cfg_fail(c, line, "out of memory");
	}
	c->ents = ne;
	c->ents[c->nents].key = k;
	c->ents[c->nents].value = val;
	c->ents[c->nents].line = line;
	c->nents++;
	return 0;
}

int
sp_cfg_parse(struct sp_cfg *c, const char *name, const char *text,
    size_t len)
{
	const char *p = text, *l;
	size_t n = len, ll, line = 0, i;

	cfg_clear(c);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->err[0] = '\0';
	while (sp_str_field(&p, &n, '\n', &l, &ll)) {
		line++;
		if (p == NULL && ll == 0)
			break;		/* final newline */
		if (ll > 0 && l[ll - 1] == '\r')
			ll--;
		if (ll > SP_CFG_LINE_MAX)
			return cfg_fail(c, line, "line longer than %d bytes",
			    SP_CFG_LINE_MAX);
		if (memchr(l, '\0', ll) != NULL)
			return cfg_fail(c, line, "NUL byte");
		if (cfg_line(c, line, l, ll) == -1)
			return -1;
	}
	for (i = 0; i < c->nkeys; i++)
		if ((c->schema[i].flags & SP_CFG_REQUIRED) &&
		    sp_cfg_line(c, c->schema[i].name) == 0)
			return cfg_fail(c, 0, "missing required key '%s'",
			    c->schema[i].name);
	return 0;
}

int
sp_cfg_load(struct sp_cfg *c, const char *path)
{
	struct sp_err e;
	char *text;
	size_t len;
	int rc;

	if (sp_fs_read(path, SP_CFG_FILE_MAX, &text, &len, &e) == -1) {
		snprintf(c->err, sizeof(c->err), "%s", e.msg);
		return -1;
	}
	rc = sp_cfg_parse(c, path, text, len);
	free(text);
	return rc;
}

const char *
sp_cfg_next(const struct sp_cfg *c, const char *key, size_t *idx)
{
	for (; *idx < c->nents; (*idx)++)
		if (strcmp(c->ents[*idx].key->name, key) == 0)
			return c->ents[(*idx)++].value;
	return NULL;
}

const char *
sp_cfg_get(const struct sp_cfg *c, const char *key)
{
	size_t i;

	for (i = c->nents; i > 0; i--)
		if (strcmp(c->ents[i - 1].key->name, key) == 0)
			return c->ents[i - 1].value;
	return NULL;
}

size_t
sp_cfg_line(const struct sp_cfg *c, const char *key)
{
	size_t i;

	for (i = c->nents; i > 0; i--)
		if (strcmp(c->ents[i - 1].key->name, key) == 0)
			return c->ents[i - 1].line;
	return 0;
}

int
sp_cfg_get_u64(struct sp_cfg *c, const char *key, uint64_t min,
    uint64_t max, uint64_t def, uint64_t *out)
{
	const char *v = sp_cfg_get(c, key);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (sp_str_u64z(v, min, max, out) == -1)
		return cfg_fail(c, sp_cfg_line(c, key), "%s: '%s' is not a "
		    "whole number from %llu to %llu", key, v,
		    (unsigned long long)min, (unsigned long long)max);
	return 0;
}
