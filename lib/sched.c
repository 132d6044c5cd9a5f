#include <string.h>
#include <strings.h>

#include "sprov/sched.h"
#include "sprov/str.h"

/* "60,120,240" -> steps; every step 0..604800 (a week). */
static int
steps(const char *name, const char *v, uint32_t *out, unsigned *n,
    uint32_t *extra, struct sp_err *err)
{
	const char *p = v, *f, *plus;
	size_t len = strlen(v), fl;
	uint64_t x;

	*n = 0;
	if (extra != NULL)
		*extra = 0;
	if (len == 0)
		return 0;
	if (extra != NULL && (plus = strchr(v, '+')) != NULL) {
		if (sp_str_u64z(plus + 1, 0, 604800, &x) == -1)
			return sp_err_set(err, "%s: '%s': the part after '+' is "
			    "not a number of seconds", name, v);
		*extra = (uint32_t)x;
		len = (size_t)(plus - v);
	}
	while (sp_str_field(&p, &len, ',', &f, &fl)) {
		sp_str_trim(&f, &fl);
		if (*n == SP_SCHED_STEPS)
			return sp_err_set(err, "%s: more than %d steps", name,
			    SP_SCHED_STEPS);
		if (sp_str_u64(f, fl, 0, 604800, &x) == -1)
			return sp_err_set(err, "%s: '%s' is not a list of "
			    "seconds", name, v);
		out[(*n)++] = (uint32_t)x;
	}
	return 0;
}

int
sp_sched_parse(struct sp_sched *s, const char *(*get)(void *, const char *),
    void *arg, struct sp_err *err)
{
	const char *v;
	uint64_t x;

	memset(s, 0, sizeof(*s));
	s->enabled = strcasecmp(get(arg, "Provision_Enable"), "No") != 0;
	s->on_reset = strcasecmp(get(arg, "Resync_On_Reset"), "No") != 0;
	v = get(arg, "Resync_Random_Delay");
	if (v[0] != '\0') {
		if (sp_str_u64z(v, 0, 65535, &x) == -1)
			return sp_err_set(err, "Resync_Random_Delay: '%s' is "
			    "not 0..65535", v);
		s->random_delay = (uint32_t)x * 20;	/* units of 20 s */
	}
	if (steps("Resync_Periodic", get(arg, "Resync_Periodic"), s->periodic,
	    &s->nperiodic, &s->periodic_extra, err) == -1)
		return -1;
	if (s->nperiodic == 1 && s->periodic[0] == 0)
		s->nperiodic = 0;		/* 0 disables */
	s->at_minutes = -1;
	v = get(arg, "Resync_At__HHmm_");
	if (v[0] != '\0') {
		if (strlen(v) != 4 || sp_str_u64z(v, 0, 2400, &x) == -1 ||
		    x % 100 > 59)
			return sp_err_set(err, "Resync_At__HHmm_: '%s' is not "
			    "HHmm", v);
		s->at_minutes = (int)(x / 100 * 60 + x % 100);
		v = get(arg, "Resync_At_Random_Delay");
		if (v[0] != '\0' && sp_str_u64z(v, 0, 65535, &x) == 0)
			s->at_random = (uint32_t)x;
		else
			s->at_random = 600;
	}
	return steps("Resync_Error_Retry_Delay",
	    get(arg, "Resync_Error_Retry_Delay"), s->retry, &s->nretry, NULL,
	    err);
}

/* The next periodic resync from now, advancing the sequence. */
static int64_t
periodic(const struct sp_sched *s, struct sp_sched_state *st, int64_t now,
    uint32_t rnd)
{
	int64_t day, t;
	uint32_t step;

	if (s->at_minutes >= 0) {
		day = now - now % 86400;
		t = day + (int64_t)s->at_minutes * 60;
		if (t <= now)
			t += 86400;
		return t + (s->at_random ? rnd % (s->at_random + 1) : 0);
	}
	if (s->nperiodic == 0)
		return SP_SCHED_NEVER;
	step = s->periodic[st->periodic_idx < s->nperiodic ?
	    st->periodic_idx : s->nperiodic - 1];
	if (st->periodic_idx + 1 < s->nperiodic)
		st->periodic_idx++;		/* the last repeats */
	if (step == 0)
		return SP_SCHED_NEVER;
	return now + step + (s->periodic_extra ?
	    rnd % (s->periodic_extra + 1) : 0);
}

int64_t
sp_sched_first(const struct sp_sched *s, int64_t now, uint32_t rnd)
{
	struct sp_sched_state st = { 0, 0 };

	if (!s->enabled)
		return SP_SCHED_NEVER;
	if (s->on_reset)
		return now + (s->random_delay ? rnd % (s->random_delay + 1) :
		    0);
	return periodic(s, &st, now, rnd);
}

int64_t
sp_sched_next(const struct sp_sched *s, struct sp_sched_state *st,
    int64_t now, bool success, uint32_t rnd)
{
	uint32_t delay;

	if (!s->enabled)
		return SP_SCHED_NEVER;
	if (success) {
		st->failures = 0;
		return periodic(s, st, now, rnd);
	}
	if (s->nretry == 0)
		return periodic(s, st, now, rnd);
	delay = s->retry[st->failures < s->nretry ? st->failures :
	    s->nretry - 1];
	if (st->failures < UINT32_MAX)
		st->failures++;
	if (delay == 0)			/* no retry: the periodic one */
		return periodic(s, st, now, rnd);
	return now + delay;
}
