/*
 * When a phone resyncs next (reference section 3.1), as pure functions of
 * the parameters, the clock and a random draw, so that tests inject both
 * and never sleep for real timer values.
 *
 *   Resync_On_Reset / Resync_Random_Delay  first resync after start, within
 *                                          Random_Delay x 20 s (newer MPP)
 *   Resync_Periodic   "3600", "600,1200,300" (a sequence, the last
 *                     repeats), "3600+600" (plus a random 0..600); 0: off
 *   Resync_At__HHmm_  "0230": daily at that time (UTC here), plus a random
 *                     0..Resync_At_Random_Delay; replaces Resync_Periodic
 *   Resync_Error_Retry_Delay  the ladder after failures, the last step
 *                     repeating; 0: no retry (wait for the periodic one)
 *   Provision_Enable  No: never
 */
#ifndef SPROV_SCHED_H
#define SPROV_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "sprov/err.h"

#define SP_SCHED_STEPS	16
#define SP_SCHED_NEVER	INT64_MAX

struct sp_sched {
	bool		 enabled;
	bool		 on_reset;
	uint32_t	 random_delay;		/* seconds (units x 20) */
	uint32_t	 periodic[SP_SCHED_STEPS];
	unsigned	 nperiodic;		/* 0: no periodic resync */
	uint32_t	 periodic_extra;	/* "+N" random extra */
	int		 at_minutes;		/* -1 none, else 0..1440 */
	uint32_t	 at_random;
	uint32_t	 retry[SP_SCHED_STEPS];
	unsigned	 nretry;
};

struct sp_sched_state {
	unsigned	 periodic_idx;
	unsigned	 failures;
};

/* Reads the parameters through get(name) -> value ("" when unset). */
int	sp_sched_parse(struct sp_sched *, const char *(*get)(void *,
	    const char *), void *arg, struct sp_err *);
/* The first resync after start (now in seconds since the epoch). */
int64_t	sp_sched_first(const struct sp_sched *, int64_t now, uint32_t rnd);
/* The next resync after one that succeeded or failed at now. */
int64_t	sp_sched_next(const struct sp_sched *, struct sp_sched_state *,
	    int64_t now, bool success, uint32_t rnd);

#endif
