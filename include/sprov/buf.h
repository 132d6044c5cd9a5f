/*
 * Capped growable buffer.  Every growth path in sprov goes through one of
 * these, so that no input can make a buffer exceed the cap its owner chose.
 *
 * Ownership: struct sp_buf is embedded by its owner (no _new); its storage
 * is released by sp_buf_release(), which accepts a zeroed or released buffer.
 * The data is always NUL-terminated (the NUL is not counted in len), so text
 * can be handed to C string functions; binary data may contain NULs.
 */
#ifndef SPROV_BUF_H
#define SPROV_BUF_H

#include <stddef.h>

struct sp_buf {
	char	*data;		/* owned; NULL until the first append */
	size_t	 len;
	size_t	 cap;		/* allocated, including room for the NUL */
	size_t	 max;		/* the cap: len never exceeds it */
	int	 secret;	/* wipe storage on growth and release */
};

void	sp_buf_init(struct sp_buf *, size_t max);
/* 0, or -1 when the result would exceed max or memory is short (unchanged). */
int	sp_buf_append(struct sp_buf *, const void *, size_t);
int	sp_buf_printf(struct sp_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	sp_buf_reset(struct sp_buf *);
/* Frees storage (wiping it first when secret) and resets to empty. */
void	sp_buf_release(struct sp_buf *);

#endif
