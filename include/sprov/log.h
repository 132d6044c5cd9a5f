/*
 * Logging for programs.  The library itself never logs: programs create one
 * sp_log and decide what to say.  Untrusted strings (certificate subjects,
 * file contents, URLs) must pass through sp_log_escape() first.
 *
 * Ownership: sp_log_new() returns a log the caller frees with sp_log_free().
 */
#ifndef SPROV_LOG_H
#define SPROV_LOG_H

#include <stddef.h>

enum sp_log_level {
	SP_LOG_ERR = 0,
	SP_LOG_WARN,
	SP_LOG_INFO,
	SP_LOG_DEBUG,
};

struct sp_log;

/* to_stderr: 1 logs to stderr, 0 to syslog(3) with ident. */
struct sp_log	*sp_log_new(const char *ident, int to_stderr,
		    enum sp_log_level max);
void		 sp_log_free(struct sp_log *);
void		 sp_log(struct sp_log *, enum sp_log_level, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/*
 * Writes src as printable ASCII into dst (always NUL-terminated): bytes
 * outside 0x20..0x7e and the backslash become \xNN.  Truncates with "...".
 * Returns dst so it can be used inline in a log call.
 */
const char	*sp_log_escape(char *dst, size_t dstsz, const char *src,
		    size_t srclen);

#endif
