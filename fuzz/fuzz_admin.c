/*
 * The admin API as the writer runs it: any method, route and body give a
 * status the API documents and a JSON object; input the store refuses is
 * the client's error (4xx), never a 500; and nothing a refused request
 * sent stays in the store.  Input: byte 0 picks the method, then the route
 * up to '\n', then the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sprov/http.h"
#include "sprov/store.h"
#include "sprovd/sprovd.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct sp_store *st;
static char dir[] = "/tmp/fuzz_admin.XXXXXX";
static unsigned long runs;

/* A CRL check that takes any parseable text: what follows is the store. */
static int
crl_any(void *arg, const char *pem, size_t len, struct sp_err *err)
{
	(void)arg;
	if (len == 0 || memchr(pem, '\0', len) != NULL)
		return sp_err_set(err, "not PEM");
	return 0;
}
static const struct admin_env env = { crl_any, NULL };

/*
 * A fresh store every 256 inputs: the API commits what it accepts (as in
 * sprovd, where an admin request runs alone with its own transactions), so
 * the state drifts; the reset keeps a crash close to its cause.
 */
static void
cleanup(void)
{
	static const char *files[] = { "store.db", "store.db-wal",
	    "store.db-shm", "store.db-journal" };
	char path[64];
	size_t i;

	sp_store_close(st);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void
setup(void)
{
	char url[64], path[64];
	const char *g[] = { "lobby" };
	struct sp_err err;

	if (st == NULL) {
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(cleanup);
	}
	sp_store_close(st);
	snprintf(path, sizeof(path), "%s/store.db", dir);
	unlink(path);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	if ((st = sp_store_open(url, &err)) == NULL) {
		fprintf(stderr, "fuzz_admin: %s\n", err.msg);
		abort();
	}
	/* Something for reads, changes and deletions to find. */
	if (sp_store_begin(st) == -1 ||
	    sp_store_device_put(st, "0011223344aa", "CCQ1", "CP-8851") == -1 ||
	    sp_store_group_set(st, "0011223344aa", g, 1) == -1 ||
	    sp_store_param_set(st, "default", "Proxy_1_", "sip.example",
	    SP_UA_NA) == -1 || sp_store_commit(st) == -1)
		abort();
}

static int
documented(int status)
{
	static const int ok[] = { 200, 201, 204, 400, 404, 405, 409, 413,
	    415, 422 };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (status == ok[i])
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int methods[] = { SP_HTTP_GET, SP_HTTP_PUT, SP_HTTP_POST,
	    SP_HTTP_DELETE };
	char path[SP_HTTP_TARGET_MAX + 1];
	const uint8_t *nl;
	uint64_t gen0, gen1;
	json_t *j;
	char *out = NULL;
	size_t outlen, plen;
	int status = 0;

	if (runs++ % 256 == 0)
		setup();
	if (size < 1)
		return 0;
	nl = memchr(data + 1, '\n', size - 1);
	plen = nl ? (size_t)(nl - data - 1) : size - 1;
	if (plen > SP_HTTP_TARGET_MAX)
		return 0;
	memcpy(path, data + 1, plen);
	path[plen] = '\0';
	if (strlen(path) != plen)
		return 0;	/* the HTTP parser never passes a NUL on */
	if (sp_store_generation(st, &gen0) == -1)
		abort();
	admin_exec(st, &env, methods[data[0] % 4], path, nl ? (const char *)nl + 1 :
	    "", nl ? size - plen - 2 : 0, &status, &out, &outlen);
	if (!documented(status)) {
		fprintf(stderr, "status %d: %.*s\n", status, (int)outlen,
		    out ? out : "");
		abort();
	}
	if (out != NULL) {
		if ((j = json_loadb(out, outlen, 0, NULL)) == NULL ||
		    !json_is_object(j))
			abort();
		if (status >= 400 && !json_is_string(json_object_get(j,
		    "error")))
			abort();
		json_decref(j);
	}
	/* A refusal changes nothing a profile is built from. */
	if (status >= 400 && (sp_store_generation(st, &gen1) == -1 ||
	    gen1 != gen0))
		abort();
	free(out);
	return 0;
}
