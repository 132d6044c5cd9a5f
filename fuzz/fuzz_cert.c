/* Certificates as a server or the CA reads them: parse, identity (from a
 * single ST or CN, a valid MAC), CN. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/mac.h"
#include "sprov/x509.h"

#include <openssl/objects.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_identity id;
	struct sp_err err;
	char cn[SP_CN_MAX + 1], line[1024];
	X509 *x;

	if ((x = sp_x509_cert_parse((const char *)data, size, &err)) == NULL)
		return 0;
	if (sp_x509_device_identity(x, &id, &err) == 0) {
		const X509_NAME *n = X509_get_subject_name(x);
		int i = X509_NAME_get_index_by_NID(n, NID_stateOrProvinceName,
		    -1);

		/* An identity comes from one ST at most: never a choice. */
		if (i >= 0 && X509_NAME_get_index_by_NID(n,
		    NID_stateOrProvinceName, i) >= 0)
			abort();
		if (!id.generic && !sp_mac_is_normal(id.mac, strlen(id.mac)))
			abort();
	}
	(void)sp_x509_name_cn(X509_get_subject_name(x), cn, sizeof(cn), &err);
	sp_x509_name_oneline(X509_get_subject_name(x), line, sizeof(line));
	X509_free(x);
	return 0;
}
