/*
 * sprovctl: the operator's CLI over sprovd's admin API (HTTPS with an
 * operator certificate from admin-ca).  Tables for people, --json for
 * scripts.  See sprovctl(1).
 *
 * Where to connect and with which identity: -u URL --cert F --key F
 * --cacert F (or SPROVCTL_URL, SPROVCTL_CERT, SPROVCTL_KEY,
 * SPROVCTL_CACERT), and --resolve HOST:PORT:ADDR like curl's.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/types.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "sprov/buf.h"
#include "sprov/fsutil.h"
#include "sprov/limits.h"
#include "sprov/mac.h"

#define RESPONSE_MAX	(64 * 1024 * 1024)

struct ctl {
	const char	*url, *cert, *key, *cacert, *resolve;
	int		 json;
	const char	*scope_kind, *scope_arg, *ua, *model, *serial;
	const char	*groups[SP_GROUPS_PER_DEVICE];
	size_t		 ngroups;
};

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	return sp_buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

/* One API call; the JSON answer in *out (NULL for none).  HTTP status. */
static long
call(struct ctl *c, const char *method, const char *path, const char *body,
    const char *ctype, json_t **out)
{
	char url[2048], hdr[128], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL, *res = NULL;
	struct sp_buf b;
	json_error_t je;
	long status = 0;
	CURL *cu;

	*out = NULL;
	snprintf(url, sizeof(url), "%s/api/v1%s", c->url, path);
	sp_buf_init(&b, RESPONSE_MAX);
	if ((cu = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(cu, CURLOPT_SSLCERT, c->cert);
	curl_easy_setopt(cu, CURLOPT_SSLKEY, c->key);
	curl_easy_setopt(cu, CURLOPT_CAINFO, c->cacert);
	curl_easy_setopt(cu, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	if (c->resolve != NULL) {
		res = curl_slist_append(NULL, c->resolve);
		curl_easy_setopt(cu, CURLOPT_RESOLVE, res);
	}
	if (body != NULL) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
		h = curl_slist_append(NULL, hdr);
		curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (curl_easy_perform(cu) != CURLE_OK) {
		fprintf(stderr, "sprovctl: %s: %s\n", c->url, errbuf);
		status = -1;
	} else {
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
		if (b.len > 0 && (*out = json_loadb(b.data, b.len, 0,
		    &je)) == NULL) {
			fprintf(stderr, "sprovctl: the server's answer is not "
			    "JSON: %s\n", je.text);
			status = -1;
		}
	}
	curl_slist_free_all(h);
	curl_slist_free_all(res);
	curl_easy_cleanup(cu);
	sp_buf_release(&b);
	return status;
}

/* Prints an answer; 0 for 2xx, 1 otherwise (the error from the server). */
static int
finish(struct ctl *c, long status, json_t *j,
    void (*table)(json_t *))
{
	int rc = 0;

	if (status < 200 || status > 299) {
		const char *e = j ? json_string_value(json_object_get(j,
		    "error")) : NULL;

		if (status > 0)
			fprintf(stderr, "sprovctl: %ld: %s\n", status,
			    e ? e : "request refused");
		rc = 1;
	} else if (j != NULL && (c->json || table == NULL)) {
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else if (j != NULL)
		table(j);
	json_decref(j);
	return rc;
}

static const char *
str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v && v[0] ? v : "-";
}

static void
devices_table(json_t *j)
{
	json_t *d;
	size_t i;

	printf("%-13s %-14s %-16s %-11s %-15s %s\n", "MAC", "MODEL",
	    "SERIAL", "STATE", "LAST IP", "FIRMWARE");
	json_array_foreach(json_object_get(j, "devices"), i, d)
		printf("%-13s %-14s %-16s %-11s %-15s %s\n", str(d, "mac"),
		    str(d, "model"), str(d, "serial"), str(d, "state"),
		    str(d, "last_ip"), str(d, "firmware"));
}

static void
params_table(json_t *j)
{
	json_t *p;
	size_t i;

	printf("%-32s %-3s %s\n", "NAME", "UA", "VALUE");
	json_array_foreach(json_object_get(j, "params"), i, p)
		printf("%-32s %-3s %s\n", str(p, "name"), str(p, "ua"),
		    json_string_value(json_object_get(p, "value")));
}

static void
device_table(json_t *j)
{
	json_t *g, *p;
	size_t i;

	printf("mac        %s\nmodel      %s\nserial     %s\nstate      %s\n"
	    "last ip    %s\nfirmware   %s\ngroups    ", str(j, "mac"),
	    str(j, "model"), str(j, "serial"), str(j, "state"),
	    str(j, "last_ip"), str(j, "firmware"));
	json_array_foreach(json_object_get(j, "groups"), i, g)
		printf(" %s", json_string_value(g));
	printf("\nprofile:\n");
	json_array_foreach(json_object_get(j, "profile"), i, p)
		printf("  %-30s %-3s %s\n", str(p, "name"), str(p, "ua"),
		    json_string_value(json_object_get(p, "value")));
}

static void
status_table(json_t *j)
{
	printf("devices %lld (active %lld, quarantined %lld)\n",
	    (long long)json_integer_value(json_object_get(j, "devices")),
	    (long long)json_integer_value(json_object_get(j, "active")),
	    (long long)json_integer_value(json_object_get(j, "quarantined")));
}

static void
report_table(json_t *j)
{
	const char *b64 = json_string_value(json_object_get(j,
	    "body_base64"));
	unsigned char *raw;
	size_t n, pad = 0;
	int len;

	if (b64 == NULL) {
		json_t *b = json_object_get(j, "body");

		if (json_is_string(b))
			fwrite(json_string_value(b), 1, json_string_length(b),
			    stdout);
		return;
	}
	/* An encrypted report: its bytes, as the phone sent them. */
	n = strlen(b64);
	if (n > INT_MAX || (raw = malloc(n / 4 * 3 + 3)) == NULL)
		return;
	if ((len = EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    (int)n)) >= 0) {
		while (pad < 2 && n > pad && b64[n - 1 - pad] == '=')
			pad++;
		fwrite(raw, 1, (size_t)len - pad, stdout);
	} else
		fprintf(stderr, "sprovctl: the report's body_base64 is not "
		    "base64\n");
	free(raw);
}

static void
audit_table(json_t *j)
{
	if (json_is_true(json_object_get(j, "ok")))
		printf("audit chain verifies\n");
	else
		printf("audit chain BROKEN at seq %lld: %s\n",
		    (long long)json_integer_value(json_object_get(j,
		    "bad_seq")), str(j, "error"));
}

static void
audit_list_table(json_t *j)
{
	json_t *e;
	size_t i;

	printf("%-6s %-10s %-8s %-13s %-15s %-6s %s\n", "SEQ", "TIME", "EVENT",
	    "MAC", "IP", "STATUS", "ROUTE");
	json_array_foreach(json_object_get(j, "entries"), i, e)
		printf("%-6lld %-10lld %-8s %-13s %-15s %-6lld %s\n",
		    (long long)json_integer_value(json_object_get(e, "seq")),
		    (long long)json_integer_value(json_object_get(e, "time")),
		    str(e, "event"), str(e, "mac"), str(e, "ip"),
		    (long long)json_integer_value(json_object_get(e, "status")),
		    str(e, "route"));
}

static int
mac_arg(const char *in, char out[SP_MAC_HEXLEN + 1])
{
	const char *why;

	if (sp_mac_parse(in, strlen(in), out, &why) == -1) {
		fprintf(stderr, "sprovctl: MAC '%s': %s\n", in, why);
		return -1;
	}
	return 0;
}

/* The scope as a path: default, model/M, group/G, device/MAC. */
static int
scope_path(struct ctl *c, char *dst, size_t sz)
{
	char mac[SP_MAC_HEXLEN + 1];

	if (c->scope_kind == NULL) {
		fprintf(stderr, "sprovctl: say which scope: --default, "
		    "--model M, --group G or --device MAC\n");
		return -1;
	}
	if (strcmp(c->scope_kind, "default") == 0)
		snprintf(dst, sz, "default");
	else if (strcmp(c->scope_kind, "device") == 0) {
		if (mac_arg(c->scope_arg, mac) == -1)
			return -1;
		snprintf(dst, sz, "device/%s", mac);
	} else
		snprintf(dst, sz, "%s/%s", c->scope_kind, c->scope_arg);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: sprovctl [-u URL] [--cert F --key F --cacert F] "
	    "[--resolve H:P:A] [--json] COMMAND\n"
	    "  status\n"
	    "  device list | show MAC | delete MAC | quarantine MAC | "
	    "activate MAC\n"
	    "  device add MAC [--model PN] [--serial SN] [--group G]...\n"
	    "  param set SCOPE NAME VALUE [--ua na|ro|rw]\n"
	    "  param unset SCOPE NAME | param list SCOPE\n"
	    "      SCOPE: --default | --model PN | --group G | --device MAC\n"
	    "  import FILE.csv   (mac,serial,model; all or nothing)\n"
	    "  report MAC\n"
	    "  audit list | audit verify\n"
	    "  crl put FILE.pem | crl show   (the CRL nodes share: crl store)\n"
	    "  ticket-keys rotate            (ticket_keys store)\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "cacert", required_argument, NULL, 'A' },
		{ "resolve", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "default", no_argument, NULL, 'D' },
		{ "model", required_argument, NULL, 'M' },
		{ "group", required_argument, NULL, 'G' },
		{ "device", required_argument, NULL, 'V' },
		{ "serial", required_argument, NULL, 'S' },
		{ "ua", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c;
	char path[512], mac[SP_MAC_HEXLEN + 1], *body = NULL, *data;
	json_t *j = NULL, *ga;
	struct sp_err err;
	size_t len, i;
	long st;
	int ch, rc = 2;

	memset(&c, 0, sizeof(c));
	c.url = getenv("SPROVCTL_URL");
	c.cert = getenv("SPROVCTL_CERT");
	c.key = getenv("SPROVCTL_KEY");
	c.cacert = getenv("SPROVCTL_CACERT");
	while ((ch = getopt_long(argc, argv, "u:", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': c.url = optarg; break;
		case 'C': c.cert = optarg; break;
		case 'K': c.key = optarg; break;
		case 'A': c.cacert = optarg; break;
		case 'R': c.resolve = optarg; break;
		case 'j': c.json = 1; break;
		case 'D': c.scope_kind = "default"; break;
		case 'M': c.scope_kind = "model"; c.scope_arg = optarg;
			c.model = optarg; break;
		case 'G': c.scope_kind = "group"; c.scope_arg = optarg;
			if (c.ngroups == SP_GROUPS_PER_DEVICE)
				usage();
			c.groups[c.ngroups++] = optarg; break;
		case 'V': c.scope_kind = "device"; c.scope_arg = optarg; break;
		case 'S': c.serial = optarg; break;
		case 'U': c.ua = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (c.url == NULL || c.cert == NULL || c.key == NULL ||
	    c.cacert == NULL) {
		fprintf(stderr, "sprovctl: give -u URL, --cert, --key and "
		    "--cacert (or SPROVCTL_URL, _CERT, _KEY, _CACERT)\n");
		return 2;
	}
	if (sp_fs_check_secret(c.key, &err) == -1) {
		fprintf(stderr, "sprovctl: %s\n", err.msg);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
#define IS(n, s) (argc == (n) && strcmp(argv[0], s) == 0)
#define IS2(n, a, b) (argc == (n) && strcmp(argv[0], a) == 0 && \
	strcmp(argv[1], b) == 0)
	if (IS(1, "status")) {
		st = call(&c, "GET", "/status", NULL, NULL, &j);
		rc = finish(&c, st, j, status_table);
	} else if (IS2(2, "device", "list")) {
		st = call(&c, "GET", "/devices", NULL, NULL, &j);
		rc = finish(&c, st, j, devices_table);
	} else if (argc == 3 && strcmp(argv[0], "device") == 0 &&
	    strcmp(argv[1], "add") != 0) {
		const char *method = "GET", *sub = "";

		if (mac_arg(argv[2], mac) == -1)
			return 1;
		if (strcmp(argv[1], "delete") == 0)
			method = "DELETE";
		else if (strcmp(argv[1], "quarantine") == 0 ||
		    strcmp(argv[1], "activate") == 0) {
			method = "POST";
			sub = strcmp(argv[1], "activate") == 0 ? "/activate" :
			    "/quarantine";
		} else if (strcmp(argv[1], "show") != 0)
			usage();
		snprintf(path, sizeof(path), "/devices/%s%s", mac, sub);
		st = call(&c, method, path, NULL, NULL, &j);
		rc = finish(&c, st, j, device_table);
	} else if (IS2(3, "device", "add")) {
		json_t *o = json_object();

		if (mac_arg(argv[2], mac) == -1)
			return 1;
		if (c.model != NULL)
			json_object_set_new(o, "model", json_string(c.model));
		if (c.serial != NULL)
			json_object_set_new(o, "serial", json_string(c.serial));
		if (c.ngroups > 0) {
			ga = json_array();
			for (i = 0; i < c.ngroups; i++)
				json_array_append_new(ga,
				    json_string(c.groups[i]));
			json_object_set_new(o, "groups", ga);
		}
		body = json_dumps(o, 0);
		json_decref(o);
		snprintf(path, sizeof(path), "/devices/%s", mac);
		st = call(&c, "PUT", path, body, "application/json", &j);
		rc = finish(&c, st, j, device_table);
	} else if ((IS2(4, "param", "set") || IS2(3, "param", "unset") ||
	    IS2(2, "param", "list"))) {
		char scope[256];

		if (scope_path(&c, scope, sizeof(scope)) == -1)
			return 2;
		if (strcmp(argv[1], "list") == 0) {
			snprintf(path, sizeof(path), "/params/%s", scope);
			st = call(&c, "GET", path, NULL, NULL, &j);
			rc = finish(&c, st, j, params_table);
		} else {
			snprintf(path, sizeof(path), "/params/%s/%s", scope,
			    argv[2]);
			if (strcmp(argv[1], "set") == 0) {
				json_t *o = json_pack("{s:s, s:s}", "value",
				    argv[3], "ua", c.ua ? c.ua : "");

				body = json_dumps(o, 0);
				json_decref(o);
				st = call(&c, "PUT", path, body,
				    "application/json", &j);
			} else
				st = call(&c, "DELETE", path, NULL, NULL, &j);
			rc = finish(&c, st, j, NULL);
		}
	} else if (IS(2, "import")) {
		if (sp_fs_read(argv[1], SP_CSV_FILE_MAX, &data, &len,
		    &err) == -1) {
			fprintf(stderr, "sprovctl: %s\n", err.msg);
			return 1;
		}
		st = call(&c, "POST", "/import", data, "text/csv", &j);
		free(data);
		rc = finish(&c, st, j, NULL);
	} else if (IS(2, "report")) {
		if (mac_arg(argv[1], mac) == -1)
			return 1;
		snprintf(path, sizeof(path), "/devices/%s/report", mac);
		st = call(&c, "GET", path, NULL, NULL, &j);
		rc = finish(&c, st, j, report_table);
	} else if (IS2(2, "audit", "list")) {
		st = call(&c, "GET", "/audit", NULL, NULL, &j);
		rc = finish(&c, st, j, audit_list_table);
	} else if (IS2(2, "audit", "verify")) {
		st = call(&c, "GET", "/audit/verify", NULL, NULL, &j);
		/* A broken chain is an answer, and a failure to report. */
		if (st == 200 && j != NULL &&
		    !json_is_true(json_object_get(j, "ok"))) {
			finish(&c, st, j, audit_table);
			rc = 1;
		} else
			rc = finish(&c, st, j, audit_table);
	} else if (argc == 3 && strcmp(argv[0], "crl") == 0 &&
	    strcmp(argv[1], "put") == 0) {
		if (sp_fs_read(argv[2], SP_STORE_BLOB_MAX, &data, &len,
		    &err) == -1) {
			fprintf(stderr, "sprovctl: %s\n", err.msg);
			return 1;
		}
		if (memchr(data, '\0', len) != NULL) {
			fprintf(stderr, "sprovctl: %s: not a PEM file\n",
			    argv[2]);
			free(data);
			return 1;
		}
		st = call(&c, "PUT", "/crl", data, "application/x-pem-file",
		    &j);
		free(data);
		rc = finish(&c, st, j, NULL);
	} else if (IS2(2, "crl", "show")) {
		st = call(&c, "GET", "/crl", NULL, NULL, &j);
		rc = finish(&c, st, j, NULL);
	} else if (IS2(2, "ticket-keys", "rotate")) {
		st = call(&c, "POST", "/ticket-keys/rotate", NULL, NULL, &j);
		rc = finish(&c, st, j, NULL);
	} else
		usage();
	free(body);
	curl_global_cleanup();
	return rc;
}
