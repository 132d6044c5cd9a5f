#include <string.h>

#include "sprov/str.h"

int
sp_str_u64(const char *p, size_t len, uint64_t min, uint64_t max,
    uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return -1;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
sp_str_u64z(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return sp_str_u64(s, strnlen(s, 21), min, max, out);
}

void
sp_str_trim(const char **p, size_t *len)
{
	while (*len > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
		(*len)--;
}

bool
sp_str_printable(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return false;
	return true;
}

bool
sp_str_charset(const char *p, size_t len, const char *extra)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = p[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (c == '\0' || extra == NULL || strchr(extra, c) == NULL)
			return false;
	}
	return true;
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool
sp_str_ieq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] == '\0' || lower(a[i]) != lower(b[i]))
			return false;
	return b[alen] == '\0';
}

bool
sp_str_field(const char **p, size_t *len, char sep, const char **f,
    size_t *flen)
{
	const char *s;

	if (*p == NULL)
		return false;
	s = memchr(*p, sep, *len);
	*f = *p;
	if (s == NULL) {
		*flen = *len;
		*p = NULL;
		*len = 0;
	} else {
		*flen = (size_t)(s - *p);
		*len -= *flen + 1;
		*p = s + 1;
	}
	return true;
}

int
sp_str_copy(char *dst, size_t dstsz, const char *p, size_t len)
{
	if (dstsz == 0 || len >= dstsz)
		return -1;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

void
sp_str_hex(char *dst, const unsigned char *bin, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = hx[bin[i] >> 4];
		dst[2 * i + 1] = hx[bin[i] & 15];
	}
	dst[2 * n] = '\0';
}

int
sp_str_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
sp_str_unhex(const char *hex, size_t len, unsigned char *out)
{
	size_t i;
	int hi, lo;

	if (len % 2 != 0)
		return -1;
	for (i = 0; i < len / 2; i++) {
		if ((hi = sp_str_hexval(hex[2 * i])) == -1 ||
		    (lo = sp_str_hexval(hex[2 * i + 1])) == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

bool
sp_str_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}
