/*
 * A test tool over the store API (not the operator's CLI: sprovctl, over
 * the admin API, is that).  Integration tests use it to set up devices and
 * parameters and to read back what sprovd stored.
 *
 *	storectl URL device MAC [MODEL [SERIAL]]
 *	storectl URL state MAC active|quarantined
 *	storectl URL delete MAC
 *	storectl URL groups MAC G1 [G2 ...]
 *	storectl URL param SCOPE NAME VALUE [na|ro|rw]
 *	storectl URL report MAC		(prints the latest report body)
 *	storectl URL device-show MAC	(prints key=value lines)
 *	storectl URL audit-verify
 *	storectl URL bulk FILE		(lines "device MAC MODEL SERIAL" and
 *					 "param SCOPE NAME VALUE", tab separated,
 *					 in one transaction: fleets for benches)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/store.h"

static int
show(struct sp_store *st, const char *mac)
{
	struct sp_device d;
	int r = sp_store_device_get(st, mac, &d);

	if (r != 0)
		return r == 1 ? (fprintf(stderr, "no device %s\n", mac), 1) : -1;
	printf("mac=%s\nserial=%s\nmodel=%s\nstate=%s\nlast_seen=%lld\n"
	    "last_ip=%s\nuser_agent=%s\nfirmware=%s\netag=%s\nlast_report="
	    "%lld\ncert_serial=%s\n", d.mac, d.serial, d.model,
	    d.state == SP_DEV_ACTIVE ? "active" : "quarantined",
	    (long long)d.last_seen, d.last_ip, d.user_agent, d.firmware,
	    d.etag, (long long)d.last_report, d.cert_serial);
	return 0;
}

static int
bulk(struct sp_store *st, const char *path)
{
	char line[4096], *f[4], *p;
	FILE *fp;
	size_t n, lineno = 0;
	int rc = -1;

	if ((fp = fopen(path, "r")) == NULL) {
		perror(path);
		return -1;
	}
	if (sp_store_begin(st) == -1)
		goto out;
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		for (n = 0, p = line; n < 4 && p != NULL; n++)
			f[n] = strsep(&p, "\t");
		if (n == 4 && strcmp(f[0], "device") == 0)
			rc = sp_store_device_put(st, f[1], f[2], f[3]);
		else if (n == 4 && strcmp(f[0], "param") == 0)
			rc = sp_store_param_set(st, f[1], f[2], f[3], SP_UA_NONE);
		else {
			fprintf(stderr, "%s:%zu: want device or param with 3 "
			    "tab-separated fields\n", path, lineno);
			rc = -1;
		}
		if (rc == -1) {
			sp_store_rollback(st);
			goto out;
		}
	}
	rc = sp_store_commit(st);
out:
	fclose(fp);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct sp_store *st;
	struct sp_err err;
	struct sp_buf b;
	enum sp_ua ua = SP_UA_NONE;
	const char *cmd;
	int64_t bad;
	time_t when;
	int rc = -1;

	if (argc < 3) {
		fprintf(stderr, "usage: storectl URL COMMAND ...\n");
		return 2;
	}
	if ((st = sp_store_open(argv[1], &err)) == NULL) {
		fprintf(stderr, "storectl: %s\n", err.msg);
		return 1;
	}
	cmd = argv[2];
	if (strcmp(cmd, "device") == 0 && argc >= 4)
		rc = sp_store_device_put(st, argv[3], argc > 4 ? argv[4] : NULL,
		    argc > 5 ? argv[5] : NULL);
	else if (strcmp(cmd, "state") == 0 && argc == 5)
		rc = sp_store_device_state(st, argv[3], strcmp(argv[4],
		    "quarantined") == 0 ? SP_DEV_QUARANTINED : SP_DEV_ACTIVE);
	else if (strcmp(cmd, "delete") == 0 && argc == 4)
		rc = sp_store_device_delete(st, argv[3]);
	else if (strcmp(cmd, "groups") == 0 && argc >= 4)
		rc = sp_store_group_set(st, argv[3],
		    (const char *const *)argv + 4, (size_t)(argc - 4));
	else if (strcmp(cmd, "param") == 0 && (argc == 6 || argc == 7)) {
		if (argc == 7 && sp_ua_parse(argv[6], &ua) == -1) {
			fprintf(stderr, "storectl: bad ua %s\n", argv[6]);
			rc = -1;
		} else
			rc = sp_store_param_set(st, argv[3], argv[4], argv[5],
			    ua);
	} else if (strcmp(cmd, "report") == 0 && argc == 4) {
		sp_buf_init(&b, 4 << 20);
		rc = sp_store_report_last(st, argv[3], &when, &b);
		if (rc == 0)
			fwrite(b.data, 1, b.len, stdout);
		else if (rc == 1)
			fprintf(stderr, "storectl: no report\n");
		sp_buf_release(&b);
	} else if (strcmp(cmd, "device-show") == 0 && argc == 4)
		rc = show(st, argv[3]);
	else if (strcmp(cmd, "bulk") == 0 && argc == 4)
		rc = bulk(st, argv[3]);
	else if (strcmp(cmd, "audit-verify") == 0 && argc == 3) {
		rc = sp_store_audit_verify(st, &bad);
		if (rc == 0)
			printf("audit chain verifies\n");
		else
			fprintf(stderr, "storectl: audit chain broken at seq "
			    "%lld: %s\n", (long long)bad, sp_store_error(st));
	} else {
		fprintf(stderr, "storectl: bad command\n");
		sp_store_close(st);
		return 2;
	}
	if (rc == -1)
		fprintf(stderr, "storectl: %s\n", sp_store_error(st));
	sp_store_close(st);
	return rc == 0 ? 0 : 1;
}
