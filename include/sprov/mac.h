/*
 * MAC addresses as sprov stores them: 12 lower-case hex digits, no
 * separators (the form Cisco phones put in their certificates and use in
 * the $MA macro).
 */
#ifndef SPROV_MAC_H
#define SPROV_MAC_H

#include <stdbool.h>
#include <stddef.h>

#include "sprov/limits.h"

/*
 * Accepts 000e08abcdef, 000E08ABCDEF, 00:0E:08:AB:CD:EF and 00-0e-08-ab-cd-ef
 * (one separator kind, between every pair).  Refuses the all-zero and the
 * broadcast address.  Writes the normalised form and a NUL into out.
 * Returns 0, or -1 with a reason in *why (a static string).
 */
int	sp_mac_parse(const char *, size_t, char out[SP_MAC_HEXLEN + 1],
	    const char **why);
/* True for an already-normalised MAC (12 lower-case hex digits). */
bool	sp_mac_is_normal(const char *, size_t);

#endif
