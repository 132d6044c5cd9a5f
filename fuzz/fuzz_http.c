/* The request-head parser: a verdict for any bytes; a parsed head has a
 * plain path and a length within the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/http.h"
#include "sprov/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_http_req r;
	off_t a, b;
	int rc;

	rc = sp_http_parse((const char *)data, size, 8192, &r);
	if (rc == 1) {
		if (r.head_len > size || r.path[0] != '/' ||
		    strstr(r.path, "..") != NULL || strchr(r.path, '%') ||
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
