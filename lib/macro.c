#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sprov/macro.h"
#include "sprov/str.h"

/*
 * Longest name looked up.  The longest documented macro names
 * (SERIAL_NUMBER, DISPLAYNAMEn, INCOMINGNAME, REMOTENUMBER) have 13 or 14
 * bytes; the cap keeps the longest-prefix search of "$NAME" bounded.
 */
#define MACRO_NAME_MAX	32

static bool
name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
digit(char c)
{
	return c >= '0' && c <= '9';
}

/* $SA..$SD: GPP_SA..GPP_SD, only for --key, --uid and --pwd. */
static bool
secret_name(const char *name, size_t len)
{
	return len == 2 && name[0] == 'S' && name[1] >= 'A' && name[1] <= 'D';
}

static const char *
macro_value(const struct sp_macro_ctx *ctx, const char *name, size_t len)
{
	if (ctx == NULL || ctx->lookup == NULL || len == 0)
		return NULL;
	if (secret_name(name, len) && !ctx->secrets)
		return NULL;
	return ctx->lookup(ctx->arg, name, len);
}

/* A decimal offset or count of a substring form; -1 when absent or bad. */
static int
paren_num(const char *in, size_t len, size_t *i, uint64_t *v)
{
	size_t s = *i;

	while (*i < len && digit(in[*i]))
		(*i)++;
	return sp_str_u64(in + s, *i - s, 0, UINT64_MAX, v);
}

/*
 * "$(NAME)", "$(NAME:p)" or "$(NAME:p:q)" at in[0] (in[0..1] is "$(").
 * Returns its length, or 0 when it is not well formed (left verbatim).
 * The explicit form also accepts '_' in the name (SERIAL_NUMBER).
 */
static size_t
paren_form(const char *in, size_t len, const char **name, size_t *nlen,
    uint64_t *p, uint64_t *q)
{
	size_t i = 2;

	*p = 0;
	*q = UINT64_MAX;
	while (i < len && (name_char(in[i]) || in[i] == '_'))
		i++;
	if (i == 2 || i - 2 > MACRO_NAME_MAX)
		return 0;
	*name = in + 2;
	*nlen = i - 2;
	if (i < len && in[i] == ':') {
		i++;
		if (paren_num(in, len, &i, p) == -1)
			return 0;
		if (i < len && in[i] == ':') {
			i++;
			if (paren_num(in, len, &i, q) == -1)
				return 0;
		}
	}
	if (i >= len || in[i] != ')')
		return 0;
	return i + 1;
}

int
sp_macro_expand(const struct sp_macro_ctx *ctx, const char *in, size_t len,
    struct sp_buf *out)
{
	const char *d, *v, *name;
	size_t start = out->len, i = 0, lit, n, nlen, run, k, vlen;
	uint64_t p, q;

	while (i < len) {
		d = memchr(in + i, '$', len - i);
		lit = d != NULL ? (size_t)(d - (in + i)) : len - i;
		if (sp_buf_append(out, in + i, lit) == -1)
			goto fail;
		i += lit;
		if (d == NULL)
			break;
		if (i + 1 < len && in[i + 1] == '$') {
			if (sp_buf_append(out, "$", 1) == -1)
				goto fail;
			i += 2;
			continue;
		}
		if (i + 1 < len && in[i + 1] == '(') {
			n = paren_form(in + i, len - i, &name, &nlen, &p, &q);
			if (n > 0 && (v = macro_value(ctx, name, nlen)) !=
			    NULL) {
				vlen = strlen(v);
				if (p > vlen)
					p = vlen;
				if (q > vlen - p)
					q = vlen - p;
				if (sp_buf_append(out, v + p, (size_t)q) == -1)
					goto fail;
				i += n;
				continue;
			}
		} else {
			for (run = 0; i + 1 + run < len && run <
			    MACRO_NAME_MAX && name_char(in[i + 1 + run]); run++)
				;
			for (k = run; k > 0; k--)
				if ((v = macro_value(ctx, in + i + 1, k)) !=
				    NULL)
					break;
			if (k > 0) {
				if (sp_buf_append(out, v, strlen(v)) == -1)
					goto fail;
				i += 1 + k;
				continue;
			}
		}
		/* Unknown or malformed: the '$' and what follows stay. */
		if (sp_buf_append(out, "$", 1) == -1)
			goto fail;
		i++;
	}
	return 0;
fail:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}
