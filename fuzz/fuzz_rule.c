/* Profile rules on arbitrary bytes: a rule or a message, never a crash.  A
 * parsed rule keeps the grammar's promises (a condition on every alternative
 * but the last, bounded counts), and evaluating it with fixed values gives
 * 1, 0 or -1 with a message; version comparison is antisymmetric. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Fixed values by the first letter; names starting with X are unknown. */
static const char *
lookup(void *arg, const char *name, size_t len)
{
	static const char *const vals[] = { "600", "sip88xx.11-3-2MPP0001-609",
	    "Installed", "", "$MA", "11-0-1MPP-376", "000e08012345",
	    "Not Installed", "-1", "a|b)?\"" };

	(void)arg;
	if (len == 0 || name[0] == 'X')
		return NULL;
	return vals[((unsigned char)name[0] + len) % 10];
}

static void
check_version(const char *a, const char *b)
{
	int ab, ba, aa;

	if (sp_version_cmp(a, b, &ab) == -1) {
		if (sp_version_cmp(b, a, &ba) != -1)
			abort();
		return;
	}
	if (sp_version_cmp(b, a, &ba) == -1 || sp_version_cmp(a, a, &aa) ==
	    -1 || aa != 0 || (ab > 0) != (ba < 0) || (ab == 0) != (ba == 0))
		abort();
}

static void
check_url(const struct sp_macro_ctx *ctx, const char *url)
{
	struct sp_buf b;
	struct sp_url u;
	struct sp_err err;

	sp_buf_init(&b, 8192);
	if (sp_macro_expand(ctx, url, strlen(url), &b) == 0 && b.data != NULL) {
		err.msg[0] = '\0';
		if (sp_url_parse(b.data, &u, &err) == 0) {
			if (u.path[0] != '/' || u.port < 1 || u.port > 65535 ||
			    (strcmp(u.scheme, "tftp") != 0 &&
			    strcmp(u.scheme, "http") != 0 &&
			    strcmp(u.scheme, "https") != 0) ||
			    u.host_given != (u.host[0] != '\0'))
				abort();
		} else if (err.msg[0] == '\0')
			abort();
	}
	sp_buf_release(&b);
}

static void
check_rule(const struct sp_rule *r)
{
	struct sp_macro_ctx ctx = { lookup, NULL, false };
	const struct sp_rule_alt *a;
	struct sp_err err;
	size_t i, j, n = sp_rule_count(r), which;
	int rc;

	if (n > 64 || sp_rule_alt(r, n) != NULL)
		abort();
	for (i = 0; i < n; i++) {
		a = sp_rule_alt(r, i);
		if (a == NULL || (i + 1 < n && a->ncmps == 0) ||
		    a->ncmps > 32 || a->nassigns > 64 ||
		    (a->ncmps > 0 && a->cmps == NULL) ||
		    (a->nassigns > 0 && a->assigns == NULL) ||
		    (a->post != 0 && (a->post < 'a' || a->post > 'p')) ||
		    (a->alias != 0 && (a->alias < 'a' || a->alias > 'p')))
			abort();
		for (j = 0; j < a->ncmps; j++) {
			if (a->cmps[j].left == NULL || a->cmps[j].right == NULL)
				abort();
			check_version(a->cmps[j].left, a->cmps[j].right);
		}
		for (j = 0; j < a->nassigns; j++)
			if (a->assigns[j].name == NULL ||
			    a->assigns[j].name[0] == '\0' ||
			    a->assigns[j].value == NULL)
				abort();
		err.msg[0] = '\0';
		rc = sp_rule_eval(a->cmps, a->ncmps, &ctx, &err);
		if (rc < -1 || rc > 1 || (rc == -1 && err.msg[0] == '\0'))
			abort();
		if (a->url != NULL)
			check_url(&ctx, a->url);
	}
	err.msg[0] = '\0';
	which = n;
	rc = sp_rule_select(r, &ctx, &which, &err);
	if ((rc == 0 && which >= n) || rc < -1 || rc > 1 ||
	    (rc == -1 && err.msg[0] == '\0'))
		abort();
	/* The last alternative without a condition always applies. */
	if (n > 0 && sp_rule_alt(r, n - 1)->ncmps == 0 && rc == 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_rule *r;
	struct sp_err err;
	char *wrapped;

	err.msg[0] = '\0';
	r = sp_rule_parse((const char *)data, size, &err);
	if (r == NULL) {
		if (err.msg[0] == '\0')
			abort();
	} else
		check_rule(r);
	sp_rule_free(r);
	/* The same bytes as a bare trigger expression, wrapped. */
	if (size > 8192 || (wrapped = malloc(size + 3)) == NULL)
		return 0;
	wrapped[0] = '(';
	memcpy(wrapped + 1, data, size);
	memcpy(wrapped + 1 + size, ")?", 2);
	err.msg[0] = '\0';
	r = sp_rule_parse(wrapped, size + 3, &err);
	if (r == NULL) {
		if (err.msg[0] == '\0')
			abort();
	} else
		check_rule(r);
	sp_rule_free(r);
	free(wrapped);
	return 0;
}
