/* The CN rule on arbitrary bytes: a verdict, never a crash; an accepted
 * name is a lower-case, LDH, dotted prefix of the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/cnrule.h"
#include "sprov/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char fqdn[SP_FQDN_MAX + 1];
	const char *cn = (const char *)data;
	enum sp_cn_verdict v, v2;
	size_t n, i;

	v = sp_cnrule_check(cn, size, fqdn, sizeof(fqdn));
	v2 = sp_cnrule_check(cn, size, NULL, 0);
	if (v != v2 || sp_cnrule_str(v) == NULL)
		abort();
	if (v != SP_CN_OK)
		return 0;
	n = strlen(fqdn);
	if (n == 0 || n > size || n > SP_CN_MAX || strchr(fqdn, '.') == NULL ||
	    !sp_str_charset(fqdn, n, "-.") || (n < size && cn[n] != '/'))
		abort();
	for (i = 0; i < n; i++)
		if ((fqdn[i] >= 'A' && fqdn[i] <= 'Z') ||
		    (cn[i] | 0x20) != (fqdn[i] | 0x20))
			abort();
	return 0;
}
