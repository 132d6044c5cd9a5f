/* Macro expansion on arbitrary bytes with a small fixed lookup: without
 * secrets, $SA..$SD are never looked up and their values never reach the
 * output (nor change it); text without '$' comes out unchanged; a capped
 * buffer is left as it was when the expansion does not fit. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The secret values carry a byte (0xa5) that no other value has. */
#define MARK	'\xa5'

struct vars {
	const char	*secret[4];	/* SA..SD */
	int		 asked;		/* lookups of SA..SD */
};

static const char *
lookup(void *arg, const char *name, size_t len)
{
	static const struct {
		const char	*name, *value;
	} vals[] = {
		{ "A", "gpp-a" }, { "B", "$A" }, { "E", "" },
		{ "MA", "000e08012345" }, { "MAU", "000E08012345" },
		{ "MAC", "00:0e:08:01:23:45" }, { "PN", "CP-8841-3PCC" },
		{ "SWVER", "sip88xx.11-3-2MPP0001-609" }, { "S", "s" },
		{ "SERIAL_NUMBER", "FCH1234" },
	};
	struct vars *v = arg;
	size_t i;

	if (len == 2 && name[0] == 'S' && name[1] >= 'A' && name[1] <= 'D') {
		v->asked++;
		return v->secret[name[1] - 'A'];
	}
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if (strlen(vals[i].name) == len &&
		    memcmp(vals[i].name, name, len) == 0)
			return vals[i].value;
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vars v1 = { { "\xa5SA-SECRET\xa5", "\xa5SB\xa5", "\xa5SC\xa5",
	    "\xa5SD\xa5" }, 0 };
	struct vars v2 = { { "other-sa", "other-sb", "other-sc", "other-sd" },
	    0 };
	struct sp_macro_ctx c1 = { lookup, &v1, false };
	struct sp_macro_ctx c2 = { lookup, &v2, false };
	const char *in = (const char *)data;
	struct sp_buf o1, o2, capped;
	size_t max = 16 * size + 64;

	if (size > 65536)
		return 0;
	sp_buf_init(&o1, max);
	sp_buf_init(&o2, max);
	sp_buf_init(&capped, size / 2 + 1);
	/* Every value is at most 25 bytes for 2 bytes of input: fits. */
	if (sp_macro_expand(&c1, in, size, &o1) == -1 ||
	    sp_macro_expand(&c2, in, size, &o2) == -1)
		abort();
	if (v1.asked != 0 || v2.asked != 0)
		abort();
	if (o1.len != o2.len || (o1.len > 0 && memcmp(o1.data, o2.data,
	    o1.len) != 0))
		abort();
	if (memchr(in, MARK, size) == NULL && o1.len > 0 &&
	    memchr(o1.data, MARK, o1.len) != NULL)
		abort();
	if (memchr(in, '$', size) == NULL && (o1.len != size ||
	    (size > 0 && memcmp(o1.data, in, size) != 0)))
		abort();
	/* A cap: all or nothing after what was there. */
	if (sp_buf_append(&capped, "x", 1) == -1)
		abort();
	if (sp_macro_expand(&c1, in, size, &capped) == 0) {
		if (capped.len != o1.len + 1 || (o1.len > 0 &&
		    memcmp(capped.data + 1, o1.data, o1.len) != 0))
			abort();
	} else if (capped.len != 1 || strcmp(capped.data, "x") != 0 ||
	    o1.len + 1 <= capped.max)
		abort();
	/* With secrets: they are looked up, and nothing else changes. */
	c1.secrets = true;
	sp_buf_reset(&o2);
	if (sp_macro_expand(&c1, in, size, &o2) == -1)
		abort();
	if (memchr(in, '$', size) == NULL && (o2.len != size ||
	    (size > 0 && memcmp(o2.data, in, size) != 0)))
		abort();
	sp_buf_release(&o1);
	sp_buf_release(&o2);
	sp_buf_release(&capped);
	return 0;
}
