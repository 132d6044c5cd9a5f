/*
 * The CN rule for provisioning-server certificates, shared by the CA (to
 * refuse CSRs), the server (to check its own certificate) and the agent (to
 * check the server it reached).  See docs/CN-RULE.md for the definition.
 *
 * A CN is:  FQDN [ "/" TEXT ]
 *   - the whole CN is 1..64 bytes of printable ASCII (0x20..0x7e);
 *   - the name is everything before the first '/';
 *   - FQDN: at least two labels separated by '.', no empty label, no
 *     trailing dot, each label 1..63 bytes of [A-Za-z0-9-] neither starting
 *     nor ending with '-', at most 253 bytes in all, last label not all
 *     digits (so no IPv4 literal), no '*' (so no wildcard), compared
 *     case-insensitively;
 *   - TEXT, when the '/' is present, is 1 or more printable ASCII bytes
 *     (it may contain further '/').
 */
#ifndef SPROV_CNRULE_H
#define SPROV_CNRULE_H

#include <stddef.h>

#include "sprov/limits.h"

enum sp_cn_verdict {
	SP_CN_OK = 0,
	SP_CN_EMPTY,		/* no CN at all */
	SP_CN_TOO_LONG,		/* over 64 bytes */
	SP_CN_NOT_PRINTABLE,	/* byte outside printable ASCII */
	SP_CN_NAME_EMPTY,	/* nothing before '/' */
	SP_CN_TEXT_EMPTY,	/* '/' with nothing after it */
	SP_CN_WILDCARD,		/* '*' in the name */
	SP_CN_IP_LITERAL,	/* an IPv4 or IPv6 address, not a name */
	SP_CN_TRAILING_DOT,
	SP_CN_EMPTY_LABEL,	/* leading dot or ".." */
	SP_CN_ONE_LABEL,	/* no dot: not fully qualified */
	SP_CN_LABEL_TOO_LONG,	/* a label over 63 bytes */
	SP_CN_BAD_CHAR,		/* not a letter, digit or hyphen */
	SP_CN_HYPHEN_EDGE,	/* label starts or ends with '-' */
	SP_CN_NUMERIC_TLD,	/* last label all digits */
	SP_CN_NAME_TOO_LONG,	/* over 253 bytes (unreachable under 64) */
};

/*
 * Checks cn (cnlen bytes, no NUL needed).  On SP_CN_OK, and when fqdn is not
 * NULL, writes the name part in lower case into fqdn (fqdnsz >= 254).
 */
enum sp_cn_verdict	sp_cnrule_check(const char *cn, size_t cnlen,
			    char *fqdn, size_t fqdnsz);
/* A sentence saying what is wrong, e.g. "a label is longer than 63". */
const char		*sp_cnrule_str(enum sp_cn_verdict);

#endif
