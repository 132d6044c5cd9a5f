/*
 * What the agent does with fetched profile bytes: `openssl enc` container
 * (Salted__), gzip, XML, with and without a key.  Any bytes give a profile
 * or a named reason; never a crash, never more than the size bound.  Input:
 * byte 0 picks the key (none, "k", a long one), the rest is the download.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/buf.h"
#include "sprov/profile.h"
#include "sprov-agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *keys[] = { NULL, "k", "a-much-longer-key-that-"
	    "phones-accept-0123456789" };
	struct sp_profile *p;
	struct sp_buf raw;
	struct sp_err err;

	if (size < 1)
		return 0;
	sp_buf_init(&raw, 1 << 20);
	if (sp_buf_append(&raw, data + 1, size - 1) == -1)
		abort();
	err.msg[0] = '\0';
	p = content_profile(&raw, keys[data[0] % 3], NULL, &err);
	if (p == NULL && err.msg[0] == '\0')
		abort();
	if (p != NULL && sp_profile_count(p) > SP_PROFILE_PARAMS_MAX)
		abort();
	sp_profile_free(p);
	sp_buf_release(&raw);
	return 0;
}
