/*
 * A plain unit-test harness: TAP output, one line per test case, read by
 * tests/run.  A case fails when any CHECK in it fails; the failing check
 * is printed with its file and line.  Tests may use globals: this is not
 * lib/.
 *
 *	static void t_thing(void) { CHECK(1 + 1 == 2); }
 *	int main(void) { RUN(t_thing); return t_done(); }
 */
#ifndef SPROV_TEST_HARNESS_H
#define SPROV_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_n, t_fail, t_cur_failed;

static void
t_check_failed(const char *file, int line, const char *what)
{
	printf("#   %s:%d: check failed: %s\n", file, line, what);
	t_cur_failed = 1;
}

#define CHECK(c) do {							\
	if (!(c))							\
		t_check_failed(__FILE__, __LINE__, #c);			\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {		\
		printf("#   got      \"%s\"\n#   expected \"%s\"\n",	\
		    a_ ? a_ : "(null)", b_ ? b_ : "(null)");		\
		t_check_failed(__FILE__, __LINE__, #a " == " #b);	\
	}								\
} while (0)

/* Substring check, for error messages that must name the cause. */
#define CHECK_HAS(hay, needle) do {					\
	const char *h_ = (hay), *n_ = (needle);				\
	if (h_ == NULL || strstr(h_, n_) == NULL) {			\
		printf("#   \"%s\"\n#   lacks \"%s\"\n", h_ ? h_ :	\
		    "(null)", n_);					\
		t_check_failed(__FILE__, __LINE__, #hay " has " #needle); \
	}								\
} while (0)

static void
t_report(const char *name, int failed)
{
	t_n++;
	if (failed) {
		t_fail++;
		printf("not ok %d - %s\n", t_n, name);
	} else
		printf("ok %d - %s\n", t_n, name);
	fflush(stdout);
}

static void
t_run(const char *name, void (*fn)(void))
{
	t_cur_failed = 0;
	fn();
	t_report(name, t_cur_failed);
}

#define RUN(fn) t_run(#fn, fn)

/* A case that does not apply here, with why: tests/run counts it skipped. */
static __attribute__((unused)) void
t_skip(const char *name, const char *why)
{
	t_n++;
	printf("ok %d - %s # SKIP %s\n", t_n, name, why);
	fflush(stdout);
}

/* For table rows: runs the row's checks as one case named name. */
#define ROW_BEGIN() (t_cur_failed = 0)
#define ROW_END(name) t_report((name), t_cur_failed)

static int
t_done(void)
{
	printf("1..%d\n", t_n);
	return t_fail ? 1 : 0;
}

/* A fresh temporary directory for this test program; caller frees. */
static __attribute__((unused)) char *
t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *d;

	if (base == NULL)
		base = "/tmp";
	if ((d = malloc(strlen(base) + 32)) == NULL)
		abort();
	snprintf(d, strlen(base) + 32, "%s/sprov-unit-XXXXXX", base);
	if (mkdtemp(d) == NULL)
		abort();
	return d;
}

#endif
