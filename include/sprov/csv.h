/*
 * The device list for bulk issuance: CSV with columns mac,serial,model.
 * A header line is optional; when present it names the columns (any order,
 * serial and model optional).  Strict: no quoting, no embedded commas,
 * fields trimmed, '#' comment lines and blank lines skipped, CRLF accepted.
 *
 * Every problem is reported, not only the first: bad MACs, bad fields,
 * wrong column counts and duplicates within the file, each with its line.
 *
 * Ownership: sp_csv_devices() fills *rows with an array the caller frees
 * with free(); errors are appended to the caller's buffer.
 */
#ifndef SPROV_CSV_H
#define SPROV_CSV_H

#include <stddef.h>

#include "sprov/buf.h"
#include "sprov/limits.h"

struct sp_device_row {
	char	mac[SP_MAC_HEXLEN + 1];
	char	serial[SP_SERIAL_MAX + 1];	/* "" when absent */
	char	model[SP_MODEL_MAX + 1];	/* "" when absent */
	size_t	line;
};

/*
 * Parses text (len bytes; name used in messages).  Returns the number of
 * errors found (0 = all rows valid), or -1 when out of memory.  At most
 * SP_CSV_ERRORS_MAX errors are written to errs, then a count of the rest.
 */
long	sp_csv_devices(const char *name, const char *text, size_t len,
	    struct sp_device_row **rows, size_t *nrows, struct sp_buf *errs);

#endif
