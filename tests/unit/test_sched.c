#include "harness.h"

#include "sprov/sched.h"

/* Parameters for a case: name=value pairs, NULL-terminated. */
static const char *const *cur;

static const char *
get(void *arg, const char *name)
{
	const char *const *p;

	(void)arg;
	for (p = cur; *p != NULL; p += 2)
		if (strcmp(p[0], name) == 0)
			return p[1];
	return "";
}

static struct sp_sched
parse(const char *const *kv)
{
	struct sp_sched s;
	struct sp_err err;

	cur = kv;
	CHECK(sp_sched_parse(&s, get, NULL, &err) == 0);
	return s;
}

#define T0 1764115200		/* 2025-11-26 00:00:00 UTC */

static void
t_defaults_of_the_reference(void)
{
	static const char *const kv[] = { "Resync_Random_Delay", "2",
	    "Resync_Periodic", "3600", "Resync_Error_Retry_Delay",
	    "60,120,240,480,960,1920,3840,7680,15360,30720,61440,86400",
	    NULL };
	struct sp_sched s = parse(kv);
	struct sp_sched_state st = { 0, 0 };

	/* Random_Delay 2 is 40 s (units of 20 s). */
	CHECK(sp_sched_first(&s, T0, 0) == T0);
	CHECK(sp_sched_first(&s, T0, 40) == T0 + 40);
	CHECK(sp_sched_first(&s, T0, 41) == T0);	/* rnd % 41 */
	CHECK(sp_sched_next(&s, &st, T0, true, 0) == T0 + 3600);
	/* The failure ladder, then its last step repeats. */
	CHECK(sp_sched_next(&s, &st, T0, false, 0) == T0 + 60);
	CHECK(sp_sched_next(&s, &st, T0, false, 0) == T0 + 120);
	CHECK(sp_sched_next(&s, &st, T0, false, 0) == T0 + 240);
	st.failures = 11;
	CHECK(sp_sched_next(&s, &st, T0, false, 0) == T0 + 86400);
	CHECK(sp_sched_next(&s, &st, T0, false, 0) == T0 + 86400);
	/* A success resets the ladder. */
	CHECK(sp_sched_next(&s, &st, T0, true, 0) == T0 + 3600);
	CHECK(sp_sched_next(&s, &st, T0, false, 0) == T0 + 60);
}

static void
t_periodic_sequence_and_extra(void)
{
	static const char *const seq[] = { "Resync_Periodic", "600,1200,300",
	    NULL };
	static const char *const plus[] = { "Resync_Periodic", "3600+600",
	    NULL };
	struct sp_sched s = parse(seq);
	struct sp_sched_state st = { 0, 0 };

	CHECK(sp_sched_next(&s, &st, T0, true, 0) == T0 + 600);
	CHECK(sp_sched_next(&s, &st, T0, true, 0) == T0 + 1200);
	CHECK(sp_sched_next(&s, &st, T0, true, 0) == T0 + 300);
	CHECK(sp_sched_next(&s, &st, T0, true, 0) == T0 + 300);	/* repeats */
	s = parse(plus);
	memset(&st, 0, sizeof(st));
	CHECK(sp_sched_next(&s, &st, T0, true, 0) == T0 + 3600);
	CHECK(sp_sched_next(&s, &st, T0, true, 600) == T0 + 4200);
	CHECK(sp_sched_next(&s, &st, T0, true, 601) == T0 + 3600);
}

static void
t_resync_at(void)
{
	static const char *const kv[] = { "Resync_At__HHmm_", "0230",
	    "Resync_At_Random_Delay", "600", "Resync_Periodic", "60", NULL };
	struct sp_sched s = parse(kv);
	struct sp_sched_state st = { 0, 0 };

	/* Resync_At replaces Resync_Periodic. */
	CHECK(sp_sched_next(&s, &st, T0, true, 0) == T0 + 2 * 3600 + 1800);
	CHECK(sp_sched_next(&s, &st, T0 + 3 * 3600, true, 0) ==
	    T0 + 86400 + 9000);
	CHECK(sp_sched_next(&s, &st, T0, true, 600) == T0 + 9000 + 600);
}

static void
t_disabled_and_off(void)
{
	static const char *const off[] = { "Provision_Enable", "No", NULL };
	static const char *const zero[] = { "Resync_Periodic", "0",
	    "Resync_On_Reset", "No", "Resync_Error_Retry_Delay", "0", NULL };
	struct sp_sched s = parse(off);
	struct sp_sched_state st = { 0, 0 };

	CHECK(sp_sched_first(&s, T0, 0) == SP_SCHED_NEVER);
	CHECK(sp_sched_next(&s, &st, T0, true, 0) == SP_SCHED_NEVER);
	s = parse(zero);
	CHECK(sp_sched_first(&s, T0, 0) == SP_SCHED_NEVER);
	CHECK(sp_sched_next(&s, &st, T0, false, 0) == SP_SCHED_NEVER);
}

static void
t_bad_values(void)
{
	static const char *const bad[][3] = {
		{ "Resync_Periodic", "often", NULL },
		{ "Resync_Periodic", "600,x", NULL },
		{ "Resync_Periodic", "3600+soon", NULL },
		{ "Resync_At__HHmm_", "2561", NULL },
		{ "Resync_At__HHmm_", "230", NULL },
		{ "Resync_Random_Delay", "70000", NULL },
		{ "Resync_Error_Retry_Delay", "60,,x", NULL },
	};
	struct sp_sched s;
	struct sp_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cur = bad[i];
		CHECK(sp_sched_parse(&s, get, NULL, &err) == -1);
		CHECK_HAS(err.msg, bad[i][0]);
	}
}

int
main(void)
{
	RUN(t_defaults_of_the_reference);
	RUN(t_periodic_sequence_and_extra);
	RUN(t_resync_at);
	RUN(t_disabled_and_off);
	RUN(t_bad_values);
	return t_done();
}
