#include <arpa/inet.h>
#include <string.h>

#include "sprov/cnrule.h"
#include "sprov/str.h"

static const char *const verdicts[] = {
	[SP_CN_OK] = "valid",
	[SP_CN_EMPTY] = "the subject has no CN",
	[SP_CN_TOO_LONG] = "the CN is longer than 64 characters (X.509 "
	    "upper bound)",
	[SP_CN_NOT_PRINTABLE] = "the CN holds a character that is not "
	    "printable ASCII",
	[SP_CN_NAME_EMPTY] = "the CN has nothing before '/': it must start "
	    "with the server's FQDN",
	[SP_CN_TEXT_EMPTY] = "the CN ends with '/': free text after '/' "
	    "must not be empty (drop the '/')",
	[SP_CN_WILDCARD] = "the name holds a wildcard '*': phones need the "
	    "exact FQDN of the server",
	[SP_CN_IP_LITERAL] = "the name is an IP address: the CN must be the "
	    "server's FQDN, which phones resolve and compare with the "
	    "address they reached",
	[SP_CN_TRAILING_DOT] = "the name ends with '.': write the FQDN "
	    "without the trailing dot",
	[SP_CN_EMPTY_LABEL] = "the name has an empty label (leading dot or "
	    "'..')",
	[SP_CN_ONE_LABEL] = "the name has a single label: a fully qualified "
	    "domain name has at least two (host.example)",
	[SP_CN_LABEL_TOO_LONG] = "a label of the name is longer than 63 "
	    "characters",
	[SP_CN_BAD_CHAR] = "the name holds a character other than letters, "
	    "digits, '-' and '.'",
	[SP_CN_HYPHEN_EDGE] = "a label of the name starts or ends with '-'",
	[SP_CN_NUMERIC_TLD] = "the last label of the name is all digits: "
	    "not a domain name",
	[SP_CN_NAME_TOO_LONG] = "the name is longer than 253 characters",
};

const char *
sp_cnrule_str(enum sp_cn_verdict v)
{
	if ((size_t)v >= sizeof(verdicts) / sizeof(verdicts[0]) ||
	    verdicts[v] == NULL)
		return "unknown CN verdict";
	return verdicts[v];
}

/* An IPv4 or IPv6 address, bare or in brackets. */
static int
is_ip_literal(const char *p, size_t n)
{
	unsigned char addr[16];
	char tmp[SP_CN_MAX + 1];

	if (n >= sizeof(tmp))
		return 0;
	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		p++;
		n -= 2;
	}
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET, tmp, addr) == 1 ||
	    inet_pton(AF_INET6, tmp, addr) == 1;
}

enum sp_cn_verdict
sp_cnrule_check(const char *cn, size_t cnlen, char *fqdn, size_t fqdnsz)
{
	const char *slash, *name, *lab;
	size_t nlen, i, llen, labels = 0;
	int alldigit;

	if (cnlen == 0)
		return SP_CN_EMPTY;
	if (cnlen > SP_CN_MAX)
		return SP_CN_TOO_LONG;
	if (!sp_str_printable(cn, cnlen))
		return SP_CN_NOT_PRINTABLE;
	name = cn;
	slash = memchr(cn, '/', cnlen);
	nlen = slash ? (size_t)(slash - cn) : cnlen;
	if (nlen == 0)
		return SP_CN_NAME_EMPTY;
	if (slash != NULL && (size_t)(slash - cn) + 1 == cnlen)
		return SP_CN_TEXT_EMPTY;
	if (nlen > SP_FQDN_MAX)
		return SP_CN_NAME_TOO_LONG;
	if (memchr(name, '*', nlen) != NULL)
		return SP_CN_WILDCARD;
	if (is_ip_literal(name, nlen))
		return SP_CN_IP_LITERAL;
	if (name[nlen - 1] == '.')
		return SP_CN_TRAILING_DOT;
	lab = name;
	for (i = 0; i <= nlen; i++) {
		if (i < nlen && name[i] != '.')
			continue;
		llen = (size_t)(name + i - lab);
		if (llen == 0)
			return SP_CN_EMPTY_LABEL;
		if (llen > SP_LABEL_MAX)
			return SP_CN_LABEL_TOO_LONG;
		if (!sp_str_charset(lab, llen, "-"))
			return SP_CN_BAD_CHAR;
		if (lab[0] == '-' || lab[llen - 1] == '-')
			return SP_CN_HYPHEN_EDGE;
		labels++;
		lab = name + i + 1;
	}
	if (labels < 2)
		return SP_CN_ONE_LABEL;
	/* An all-digit last label is no TLD: the name would read as a number. */
	for (i = nlen, alldigit = 1; i > 0 && name[i - 1] != '.'; i--)
		if (name[i - 1] < '0' || name[i - 1] > '9')
			alldigit = 0;
	if (alldigit)
		return SP_CN_NUMERIC_TLD;
	if (fqdn != NULL) {
		if (fqdnsz <= nlen)
			return SP_CN_NAME_TOO_LONG;
		for (i = 0; i < nlen; i++)
			fqdn[i] = (name[i] >= 'A' && name[i] <= 'Z') ?
			    (char)(name[i] - 'A' + 'a') : name[i];
		fqdn[nlen] = '\0';
	}
	return SP_CN_OK;
}
