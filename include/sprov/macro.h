/*
 * Macro expansion as Cisco MPP/SPA phones do it in profile rules, upgrade
 * rules, triggers and log messages (reference section 2.4):
 *   $NAME          NAME is the longest known prefix of the run of upper-
 *                  case letters and digits after '$'; with no known prefix
 *                  the text is left verbatim ("$STRANGE$MAU.cfg" ->
 *                  "$STRANGE000E08012345.cfg")
 *   $(NAME)        explicit name
 *   $(NAME:p)      the value from offset p (0-based) to its end
 *   $(NAME:p:q)    q bytes from offset p (clamped to the value)
 *   $$             a '$'
 * Not recursive: an expanded value is never expanded again.  $SA..$SD
 * expand only when the context allows secrets (--key, --uid, --pwd
 * arguments); elsewhere they stay verbatim.
 *
 * The caller supplies the values through a lookup function; the module
 * knows no macro names except SA..SD (for the secrecy rule).
 */
#ifndef SPROV_MACRO_H
#define SPROV_MACRO_H

#include <stdbool.h>
#include <stddef.h>

#include "sprov/buf.h"

/* Returns the value of name (len bytes, not NUL-terminated) or NULL. */
typedef const char *(*sp_macro_lookup)(void *arg, const char *name,
    size_t len);

struct sp_macro_ctx {
	sp_macro_lookup	 lookup;
	void		*arg;
	bool		 secrets;	/* expand $SA..$SD */
};

/* Appends the expansion of (in, len) to out; -1 when out's cap is hit. */
int	sp_macro_expand(const struct sp_macro_ctx *, const char *in,
	    size_t len, struct sp_buf *out);

#endif
