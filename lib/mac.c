#include <string.h>

#include "sprov/mac.h"
#include "sprov/str.h"

int
sp_mac_parse(const char *s, size_t len, char out[SP_MAC_HEXLEN + 1],
    const char **why)
{
	static const char hx[] = "0123456789abcdef";
	char sep = 0;
	size_t i, o = 0;

	if (len == SP_MAC_HEXLEN + 5) {
		sep = s[2];
		if (sep != ':' && sep != '-') {
			*why = "separator must be ':' or '-'";
			return -1;
		}
	} else if (len != SP_MAC_HEXLEN) {
		*why = "must be 12 hex digits, optionally in pairs separated "
		    "by ':' or '-'";
		return -1;
	}
	for (i = 0; i < len; i++) {
		int v;

		if (sep != 0 && i % 3 == 2) {
			if (s[i] != sep) {
				*why = "separators must be the same and "
				    "between every pair of digits";
				return -1;
			}
			continue;
		}
		if ((v = sp_str_hexval(s[i])) == -1) {
			*why = "not a hex digit";
			return -1;
		}
		out[o++] = hx[v];
	}
	out[o] = '\0';
	if (strcmp(out, "000000000000") == 0 ||
	    strcmp(out, "ffffffffffff") == 0) {
		*why = "all-zero and broadcast addresses are not device "
		    "addresses";
		return -1;
	}
	return 0;
}

bool
sp_mac_is_normal(const char *s, size_t len)
{
	size_t i;

	if (len != SP_MAC_HEXLEN)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}
