/* CSR parsing and the server-CSR policy on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/cnrule.h"
#include "sprov/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_csr_info info;
	struct sp_err err;
	X509_REQ *req;

	err.msg[0] = '\0';
	if ((req = sp_x509_csr_parse((const char *)data, size, &err)) == NULL) {
		if (err.msg[0] == '\0')
			abort();		/* a refusal names its cause */
		return 0;
	}
	if (sp_x509_csr_check(req, &info, &err) == 0 &&
	    sp_cnrule_check(info.cn, strlen(info.cn), NULL, 0) != SP_CN_OK)
		abort();
	X509_REQ_free(req);
	return 0;
}
