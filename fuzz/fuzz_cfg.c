/* Config files: success or a "name:line: message" error; values are
 * printable and keys are from the schema. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/cfg.h"
#include "sprov/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct sp_cfg_key schema[] = {
	{ "listen", SP_CFG_REPEAT },
	{ "cert", SP_CFG_REPEAT },
	{ "workers", 0 },
	{ "debug", SP_CFG_FLAG },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_cfg *c = sp_cfg_new(schema, 4);
	const char *v;
	uint64_t w;
	size_t idx = 0;

	if (c == NULL)
		return 0;
	if (sp_cfg_parse(c, "f.conf", (const char *)data, size) == -1) {
		if (strncmp(sp_cfg_error(c), "f.conf", 6) != 0)
			abort();
	} else {
		while ((v = sp_cfg_next(c, "listen", &idx)) != NULL)
			if (!sp_str_printable(v, strlen(v)) &&
			    strchr(v, '\t') == NULL)
				abort();
		(void)sp_cfg_get_u64(c, "workers", 1, 64, 1, &w);
	}
	sp_cfg_free(c);
	return 0;
}
