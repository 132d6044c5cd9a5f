#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "sprov/err.h"

int
sp_err_set(struct sp_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
sp_err_prefix(struct sp_err *e, const char *fmt, ...)
{
	char pre[SP_ERR_MAX], old[SP_ERR_MAX];
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", pre, old);
	return -1;
}

int
sp_err_ssl(struct sp_err *e, const char *fmt, ...)
{
	char pre[SP_ERR_MAX], ssl[256];
	unsigned long code;
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	/* The last error is usually the outermost and most readable one. */
	code = ERR_peek_last_error();
	if (code != 0) {
		ERR_error_string_n(code, ssl, sizeof(ssl));
		snprintf(e->msg, sizeof(e->msg), "%s (%s)", pre, ssl);
	} else
		snprintf(e->msg, sizeof(e->msg), "%s", pre);
	ERR_clear_error();
	return -1;
}

void
sp_err_clear(struct sp_err *e)
{
	if (e != NULL)
		e->msg[0] = '\0';
}
