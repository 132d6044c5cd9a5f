/* MAC parsing: an accepted MAC is normal and parses to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/mac.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SP_MAC_HEXLEN + 1], again[SP_MAC_HEXLEN + 1];
	const char *why = NULL;

	if (sp_mac_parse((const char *)data, size, out, &why) == -1) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (!sp_mac_is_normal(out, strlen(out)) ||
	    sp_mac_parse(out, strlen(out), again, &why) == -1 ||
	    strcmp(out, again) != 0)
		abort();
	return 0;
}
