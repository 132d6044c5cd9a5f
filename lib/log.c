#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "sprov/log.h"

struct sp_log {
	char			 ident[32];
	int			 to_stderr;
	enum sp_log_level	 max;
};

struct sp_log *
sp_log_new(const char *ident, int to_stderr, enum sp_log_level max)
{
	struct sp_log *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	snprintf(l->ident, sizeof(l->ident), "%s", ident);
	l->to_stderr = to_stderr;
	l->max = max;
	if (!to_stderr)
		openlog(l->ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	return l;
}

void
sp_log_free(struct sp_log *l)
{
	if (l == NULL)
		return;
	if (!l->to_stderr)
		closelog();
	free(l);
}

void
sp_log(struct sp_log *l, enum sp_log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
	    LOG_DEBUG };
	char msg[2048];
	va_list ap;

	if (l == NULL || lvl > l->max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->to_stderr)
		fprintf(stderr, "%s: %s\n", l->ident, msg);
	else
		syslog(prio[lvl], "%s", msg);
}

const char *
sp_log_escape(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = (c < 0x20 || c > 0x7e || c == '\\') ? 4 : 1;

		if (o + need + 1 > dstsz) {
			/* Mark truncation so a reader knows text is missing. */
			while (o > 0 && o + 4 > dstsz)
				o--;
			if (o + 4 <= dstsz) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 4) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hx[c >> 4];
			dst[o++] = hx[c & 15];
		} else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return dst;
}
