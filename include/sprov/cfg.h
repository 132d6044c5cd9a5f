/*
 * Configuration files: one "key value" per line, '#' starts a comment
 * (outside double quotes), blank lines ignored.  A value may be wrapped in
 * double quotes to keep '#' or surrounding spaces; \" and \\ escape inside.
 * Keys are checked against the caller's schema: an unknown key, a repeated
 * key not marked repeatable, or a missing required key is an error reported
 * as "file:line: message".
 *
 * Ownership: sp_cfg_new() returns an object the caller frees with
 * sp_cfg_free(); strings returned by getters are borrowed until then.
 */
#ifndef SPROV_CFG_H
#define SPROV_CFG_H

#include <stddef.h>
#include <stdint.h>

#define SP_CFG_REPEAT	0x1	/* may appear more than once */
#define SP_CFG_REQUIRED	0x2	/* must appear */
#define SP_CFG_FLAG	0x4	/* takes no value */

struct sp_cfg_key {
	const char	*name;
	unsigned	 flags;
};

struct sp_cfg;

struct sp_cfg	*sp_cfg_new(const struct sp_cfg_key *schema, size_t nkeys);
void		 sp_cfg_free(struct sp_cfg *);
/* Parses a file; 0, or -1 with sp_cfg_error() set ("file:line: ..."). */
int		 sp_cfg_load(struct sp_cfg *, const char *path);
/* Parses text held in memory; name is used in error messages. */
int		 sp_cfg_parse(struct sp_cfg *, const char *name,
		    const char *text, size_t len);
const char	*sp_cfg_error(const struct sp_cfg *);
/* Value of the last occurrence of key, or NULL. */
const char	*sp_cfg_get(const struct sp_cfg *, const char *key);
/* Iterates occurrences: start with *idx = 0; NULL when done. */
const char	*sp_cfg_next(const struct sp_cfg *, const char *key,
		    size_t *idx);
/* Line of the last occurrence of key (0 if absent), for messages. */
size_t		 sp_cfg_line(const struct sp_cfg *, const char *key);
/*
 * Integer value within [min, max], or def when absent.  -1 on a bad value,
 * with "file:line: key: ..." in sp_cfg_error().
 */
int		 sp_cfg_get_u64(struct sp_cfg *, const char *key,
		    uint64_t min, uint64_t max, uint64_t def, uint64_t *out);

#endif
