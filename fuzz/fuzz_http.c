/* The request-head parser: a verdict for any bytes; a parsed head has a
 * plain path and a length within the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/http.h"
#include "sprov/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A "." or ".." segment anywhere ("a..b" is a plain name). */
static int
dot_segment(const char *p)
{
	const char *s, *e;
	size_t n;

	for (s = p; *s != '\0'; s = *e ? e + 1 : e) {
		if (*s == '/')
			s++;
		e = strchrnul(s, '/');
		n = (size_t)(e - s);
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' &&
		    s[1] == '.'))
			return 1;
		if (*e == '\0')
			break;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_http_req r;
	off_t a, b;
	int rc;

	rc = sp_http_parse((const char *)data, size, 8192, &r);
	if (rc == 1) {
		if (r.head_len > size || r.path[0] != '/' ||
		    dot_segment(r.path) || strchr(r.path, '%') ||
		    !sp_str_charset(r.path, strlen(r.path), "._~/-"))
			abort();
		if (sp_http_range(r.range, 1000, &a, &b) == 0 &&
		    (a < 0 || b >= 1000 || a > b))
			abort();
	} else if (rc != 0 && rc != -400 && rc != -414 && rc != -431 &&
	    rc != -501 && rc != -505)
		abort();
	return 0;
}
