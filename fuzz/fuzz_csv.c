/* The bulk CSV: every accepted row has a normal MAC, fields within their
 * limits, and no two rows share a MAC when no error was reported. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/csv.h"
#include "sprov/mac.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_device_row *rows = NULL;
	struct sp_buf errs;
	size_t n = 0, i, j;
	long nerr;

	sp_buf_init(&errs, 1 << 20);
	nerr = sp_csv_devices("f.csv", (const char *)data, size, &rows, &n,
	    &errs);
	if (nerr < 0)
		abort();
	for (i = 0; i < n; i++) {
		if (!sp_mac_is_normal(rows[i].mac, strlen(rows[i].mac)) ||
		    strlen(rows[i].serial) > SP_SERIAL_MAX ||
		    strlen(rows[i].model) > SP_MODEL_MAX || rows[i].line == 0)
			abort();
		if (nerr == 0 && n < 200)
			for (j = i + 1; j < n; j++)
				if (strcmp(rows[i].mac, rows[j].mac) == 0)
					abort();
	}
	if ((nerr > 0) != (errs.len > 0))
		abort();
	free(rows);
	sp_buf_release(&errs);
	return 0;
}
