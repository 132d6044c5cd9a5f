/*
 * A small error carrier for functions that have no object of their own to
 * keep a message on.  Stack-allocated by the caller; never heap-owned.
 */
#ifndef SPROV_ERR_H
#define SPROV_ERR_H

#include <stddef.h>
#include "sprov/limits.h"

struct sp_err {
	char	msg[SP_ERR_MAX];
};

/* Sets the message; always returns -1 so callers can `return sp_err_set()`. */
int	sp_err_set(struct sp_err *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Prefixes the existing message with "prefix: ". Returns -1. */
int	sp_err_prefix(struct sp_err *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Appends the first OpenSSL error queue entry (and clears the queue). */
int	sp_err_ssl(struct sp_err *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	sp_err_clear(struct sp_err *);

#endif
