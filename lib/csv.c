#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/csv.h"
#include "sprov/mac.h"
#include "sprov/str.h"

enum { COL_MAC, COL_SERIAL, COL_MODEL, NCOLS };

struct csv {
	const char	*name;
	struct sp_buf	*errs;
	long		 nerr;
};

static void
csv_err(struct csv *c, size_t line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	c->nerr++;
	if (c->nerr > SP_CSV_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sp_buf_printf(c->errs, "%s:%zu: %s\n", c->name, line, msg);
}

/* A header starts with "mac", so the MAC is always the first column. */
static int
is_header(const char *l, size_t n)
{
	const char *f;
	size_t fl;

	if (!sp_str_field(&l, &n, ',', &f, &fl))
		return 0;
	sp_str_trim(&f, &fl);
	return sp_str_ieq(f, fl, "mac");
}

static int
parse_header(struct csv *c, size_t line, const char *l, size_t n,
    int map[NCOLS + 1], int *ncol)
{
	static const char *const names[NCOLS] = { "mac", "serial", "model" };
	const char *f;
	size_t fl;
	int i, k = 0, seen[NCOLS] = { 0 };

	while (sp_str_field(&l, &n, ',', &f, &fl)) {
		sp_str_trim(&f, &fl);
		if (k >= NCOLS) {
			csv_err(c, line, "header has more than %d columns",
			    NCOLS);
			return -1;
		}
		for (i = 0; i < NCOLS; i++)
			if (sp_str_ieq(f, fl, names[i]))
				break;
		if (i == NCOLS || seen[i]) {
			csv_err(c, line, "header column %d: expected mac, "
			    "serial or model, once each", k + 1);
			return -1;
		}
		seen[i] = 1;
		map[k++] = i;
	}
	*ncol = k;
	return 0;
}

static void
parse_row(struct csv *c, size_t line, const char *l, size_t n,
    const int map[NCOLS], int ncol, struct sp_device_row *r)
{
	static const char *const what[NCOLS] = { "MAC", "serial", "model" };
	const char *f, *why;
	size_t fl;
	int k = 0;

	memset(r, 0, sizeof(*r));
	r->line = line;
	if (memchr(l, '"', n) != NULL) {
		csv_err(c, line, "quoted fields are not supported");
		return;
	}
	while (sp_str_field(&l, &n, ',', &f, &fl)) {
		if (k >= ncol) {
			csv_err(c, line, "more than %d columns", ncol);
			return;
		}
		sp_str_trim(&f, &fl);
		switch (map[k]) {
		case COL_MAC:
			if (sp_mac_parse(f, fl, r->mac, &why) == -1) {
				char shown[40];

				snprintf(shown, sizeof(shown), "%.*s",
				    (int)(fl > 24 ? 24 : fl), f);
				csv_err(c, line, "bad MAC '%s': %s",
				    sp_str_printable(shown, strlen(shown)) ?
				    shown : "(binary)", why);
				r->mac[0] = '\0';
				return;
			}
			break;
		default:
			if (fl > SP_SERIAL_MAX ||
			    !sp_str_charset(f, fl, "._-")) {
				csv_err(c, line, "bad %s: at most %d letters, "
				    "digits, '.', '_' or '-'", what[map[k]],
				    SP_SERIAL_MAX);
				r->mac[0] = '\0';
				return;
			}
			memcpy(map[k] == COL_SERIAL ? r->serial : r->model, f,
			    fl);
		}
		k++;
	}
}

static int
cmp_mac(const void *a, const void *b)
{
	const struct sp_device_row *x = *(struct sp_device_row *const *)a;
	const struct sp_device_row *y = *(struct sp_device_row *const *)b;
	int d = strcmp(x->mac, y->mac);

	if (d != 0)
		return d;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void
find_duplicates(struct csv *c, struct sp_device_row *rows, size_t n)
{
	struct sp_device_row **idx;
	size_t i;

	if (n < 2)
		return;
	if ((idx = malloc(n * sizeof(*idx))) == NULL) {
		csv_err(c, 0, "out of memory checking duplicates");
		return;
	}
	for (i = 0; i < n; i++)
		idx[i] = &rows[i];
	qsort(idx, n, sizeof(*idx), cmp_mac);
	for (i = 1; i < n; i++) {
		size_t first = i - 1;

		while (first > 0 && strcmp(idx[first - 1]->mac,
		    idx[i]->mac) == 0)
			first--;
		if (strcmp(idx[i - 1]->mac, idx[i]->mac) == 0)
			csv_err(c, idx[i]->line, "MAC %s is already on line "
			    "%zu", idx[i]->mac, idx[first]->line);
	}
	free(idx);
}

long
sp_csv_devices(const char *name, const char *text, size_t len,
    struct sp_device_row **rowsp, size_t *nrowsp, struct sp_buf *errs)
{
	int map[NCOLS + 1] = { COL_MAC, COL_SERIAL, COL_MODEL }, ncol = NCOLS;
	struct sp_device_row *rows = NULL, *nr;
	struct csv c = { name, errs, 0 };
	const char *p = text, *l;
	size_t n = len, ll, line = 0, nrows = 0, cap = 0;
	int first = 1;

	while (sp_str_field(&p, &n, '\n', &l, &ll)) {
		line++;
		if (p == NULL && ll == 0)
			break;
		if (ll > 0 && l[ll - 1] == '\r')
			ll--;
		if (ll > SP_CSV_LINE_MAX) {
			csv_err(&c, line, "line longer than %d bytes",
			    SP_CSV_LINE_MAX);
			continue;
		}
		sp_str_trim(&l, &ll);
		if (ll == 0 || l[0] == '#')
			continue;
		if (memchr(l, '\0', ll) != NULL) {
			csv_err(&c, line, "NUL byte");
			continue;
		}
		if (first) {
			first = 0;
			if (is_header(l, ll)) {
				if (parse_header(&c, line, l, ll, map,
				    &ncol) == -1)
					break;
				continue;
			}
		}
		if (nrows >= (size_t)SP_CSV_ROWS_MAX) {
			csv_err(&c, line, "more than %ld devices in one file",
			    SP_CSV_ROWS_MAX);
			break;
		}
		if (nrows == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((nr = realloc(rows, cap * sizeof(*rows))) == NULL) {
				free(rows);
				return -1;
			}
			rows = nr;
		}
		parse_row(&c, line, l, ll, map, ncol, &rows[nrows]);
		if (rows[nrows].mac[0] != '\0')
			nrows++;
	}
	find_duplicates(&c, rows, nrows);
	if (c.nerr > SP_CSV_ERRORS_MAX)
		sp_buf_printf(errs, "%s: ... and %ld more errors\n", name,
		    c.nerr - SP_CSV_ERRORS_MAX);
	*rowsp = rows;
	*nrowsp = nrows;
	return c.nerr;
}
