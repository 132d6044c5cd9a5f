/*
 * Bounded parsing helpers.  Every function takes (pointer, length) and never
 * reads past it; none relies on NUL termination of its input.  They replace
 * atoi/strtol/sscanf/strtok, which are banned in this tree.
 */
#ifndef SPROV_STR_H
#define SPROV_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal unsigned integer, digits only, within [min, max]. 0 or -1. */
int	sp_str_u64(const char *, size_t, uint64_t min, uint64_t max,
	    uint64_t *out);
/* Same for a NUL-terminated string. */
int	sp_str_u64z(const char *, uint64_t min, uint64_t max, uint64_t *out);
/* Strips ASCII spaces and tabs at both ends, in place on the (p, len) view. */
void	sp_str_trim(const char **, size_t *);
/* True when every byte is printable ASCII (0x20..0x7e). */
bool	sp_str_printable(const char *, size_t);
/* True when every byte is in [A-Za-z0-9] or in the extra set. */
bool	sp_str_charset(const char *, size_t, const char *extra);
/* Case-insensitive equality of (a, alen) with NUL-terminated b. */
bool	sp_str_ieq(const char *, size_t, const char *);
/*
 * Splits the next field ending at sep (or end) off the cursor (*p, *len).
 * Returns the field as (*f, *flen); advances past the separator.
 * Returns false when the cursor was already exhausted.
 */
bool	sp_str_field(const char **p, size_t *len, char sep, const char **f,
	    size_t *flen);
/* Copies (p, len) into dst of size dstsz, NUL-terminating. -1 if too long. */
int	sp_str_copy(char *dst, size_t dstsz, const char *, size_t);
/* Lower-case hex of bin into dst (2*n+1 bytes). */
void	sp_str_hex(char *dst, const unsigned char *, size_t n);
/* The value of a hex digit (either case), or -1. */
int	sp_str_hexval(char);
/* len hex digits (len even) into len / 2 bytes of out; -1 if one is not. */
int	sp_str_unhex(const char *hex, size_t len, unsigned char *out);
/* An RFC 9110 token character (header and cookie names). */
bool	sp_str_tchar(char);

#endif
