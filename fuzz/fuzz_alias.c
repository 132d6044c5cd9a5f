/* Rule option --alias: the first line of the input is the map, the rest the
 * foreign document.  A document that parses gives at most 30 parameters,
 * each a valid name the map names, with a bounded value free of line
 * breaks and edge blanks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/limits.h"
#include "sprov/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *nl;
	const struct sp_param *q;
	struct sp_profile *p;
	struct sp_err err;
	size_t maplen, i;
	char *needle;

	if ((nl = memchr(s, '\n', size)) == NULL)
		return 0;
	maplen = (size_t)(nl - s);
	p = sp_profile_parse_alias(nl + 1, size - maplen - 1, s, maplen, &err);
	if (p == NULL) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (sp_profile_count(p) > SP_ALIAS_ENTRIES_MAX)
		abort();
	for (i = 0; i < sp_profile_count(p); i++) {
		q = sp_profile_at(p, i);
		if (!sp_param_name_ok(q->name, strlen(q->name)) ||
		    q->valuelen > SP_PARAM_VALUE_MAX ||
		    strlen(q->value) != q->valuelen ||
		    memchr(q->value, '\n', q->valuelen) != NULL ||
		    memchr(q->value, '\r', q->valuelen) != NULL ||
		    (q->valuelen > 0 && (q->value[0] == ' ' ||
		    q->value[q->valuelen - 1] == ' ')))
			abort();
		/* The name came from the map. */
		if ((needle = malloc(strlen(q->name) + 15)) == NULL)
			abort();
		snprintf(needle, strlen(q->name) + 15, "/flat-profile/%s",
		    q->name);
		if (memmem(s, maplen, needle, strlen(needle)) == NULL)
			abort();
		free(needle);
	}
	sp_profile_free(p);
	return 0;
}
