/* Flat profiles: a document that parses holds valid names and values, its
 * index finds every parameter, and rendering it then parsing the result
 * gives back the same parameters (names, values, ua) in the same order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/limits.h"
#include "sprov/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_valid(const struct sp_profile *p)
{
	const struct sp_param *q;
	size_t i;

	if (sp_profile_count(p) > SP_PROFILE_PARAMS_MAX ||
	    sp_profile_at(p, sp_profile_count(p)) != NULL)
		abort();
	for (i = 0; i < sp_profile_count(p); i++) {
		q = sp_profile_at(p, i);
		if (q == NULL || !sp_param_name_ok(q->name, strlen(q->name)) ||
		    q->valuelen > SP_PARAM_VALUE_MAX ||
		    strlen(q->value) != q->valuelen ||
		    (unsigned)q->ua > (unsigned)SP_UA_RW ||
		    sp_profile_get(p, q->name) != q)
			abort();
	}
}

static int
same(const struct sp_profile *a, const struct sp_profile *b)
{
	const struct sp_param *x, *y;
	size_t i;

	if (sp_profile_count(a) != sp_profile_count(b))
		return 0;
	for (i = 0; i < sp_profile_count(a); i++) {
		x = sp_profile_at(a, i);
		y = sp_profile_at(b, i);
		if (strcmp(x->name, y->name) != 0 || x->ua != y->ua ||
		    x->keep != y->keep || x->valuelen != y->valuelen ||
		    memcmp(x->value, y->value, x->valuelen) != 0)
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_profile *p, *q;
	struct sp_buf out;
	struct sp_err err;

	err.msg[0] = '\0';
	if ((p = sp_profile_parse((const char *)data, size, &err)) == NULL) {
		/* Every refusal says why, with a line number. */
		if (strncmp(err.msg, "line ", 5) != 0 &&
		    strstr(err.msg, "larger than") == NULL)
			abort();
		return 0;
	}
	check_valid(p);
	sp_buf_init(&out, 1 << 28);
	if (sp_profile_render(p, &out) == -1)
		abort();
	if ((q = sp_profile_parse(out.data, out.len, &err)) == NULL)
		abort();
	check_valid(q);
	if (!same(p, q))
		abort();
	sp_profile_free(q);
	sp_profile_free(p);
	sp_buf_release(&out);
	return 0;
}
