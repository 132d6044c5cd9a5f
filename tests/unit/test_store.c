/*
 * Unit tests for lib/store.c and its backends: opening and migrating,
 * devices, groups, parameters and the merged profile, the generation
 * counter, input validation (and SQL metacharacters kept inert), reports,
 * provisioning contacts, the audit hash chain and shared blobs.
 *
 * One suite, two backends: with SPROV_TEST_PG set (tests/with-pg), every
 * case runs against PostgreSQL, each in a database of its own made from
 * that server; without it, against SQLite, each in a fresh directory.
 * Some cases look at rows or tamper with them directly (raw_exec,
 * raw_int: the SQLite API on the file, or libpq on the database).  Cases
 * that only make sense for one backend are reported skipped with why.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "harness.h"

#include "sprov/buf.h"
#include "sprov/fsutil.h"
#include "sprov/profile.h"
#include "sprov/store.h"

#define MAC_A	"000e08abcdef"
#define MAC_B	"000e08abcd01"
#define MAC_C	"000e08abcd02"
#define INERT	"'; DROP TABLE devices; --"
#define A64	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* The PostgreSQL server's URL (SPROV_TEST_PG), or NULL: SQLite. */
static const char *pg_url;
static unsigned pg_count;

/* ---------------------------------------------------------------- helpers */

struct scratch {
	char	*base;			/* SQLite: the directory */
	char	 db[PATH_MAX];		/* SQLite: the file; PG: database */
	char	 url[PATH_MAX + 16];
};

/* The first line of a libpq error, for a TAP comment. */
static const char *
pg_why(PGconn *c, const PGresult *r)
{
	static char buf[256];
	const char *m = r != NULL ?
	    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (m == NULL)
		m = PQerrorMessage(c);
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(m, "\n"), m);
	return buf;
}

/* Runs SQL on a PostgreSQL URL; 0, or -1 with the error printed. */
static int
pg_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r = NULL;
	ExecStatusType rs;
	int rc = -1;

	if (PQstatus(c) != CONNECTION_OK) {
		printf("# raw: connect: %s\n", pg_why(c, NULL));
		goto out;
	}
	r = PQexec(c, sql);
	rs = PQresultStatus(r);
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		printf("# raw: %s: %s\n", sql, pg_why(c, r));
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}

/* url with its database name replaced by db, into out. */
static void
pg_url_with_db(char *out, size_t n, const char *url, const char *db)
{
	const char *hp = strstr(url, "://"), *slash, *q;

	hp = hp != NULL ? hp + 3 : url;
	slash = strchr(hp, '/');
	if (slash == NULL)
		slash = hp + strlen(hp);
	q = strchr(slash, '?');
	snprintf(out, n, "%.*s/%s%s", (int)(slash - url), url, db,
	    q != NULL ? q : "");
}

static void
scratch_new(struct scratch *s)
{
	char sql[128];

	if (pg_url == NULL) {
		s->base = t_tmpdir();
		snprintf(s->db, sizeof(s->db), "%s/store.db", s->base);
		snprintf(s->url, sizeof(s->url), "sqlite:%s", s->db);
		return;
	}
	s->base = NULL;
	snprintf(s->db, sizeof(s->db), "sprov_t%ld_%u", (long)getpid(),
	    pg_count++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0",
	    s->db);
	if (pg_exec(pg_url, sql) == -1)
		CHECK(!"CREATE DATABASE");
	pg_url_with_db(s->url, sizeof(s->url), pg_url, s->db);
}

static void
scratch_free(struct scratch *s)
{
	struct sp_err err;
	char sql[128];

	if (pg_url != NULL) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s "
		    "WITH (FORCE)", s->db);
		if (pg_exec(pg_url, sql) == -1)
			printf("# cleanup: cannot drop %s\n", s->db);
		return;
	}
	if (sp_fs_rmtree(s->base, &err) == -1)
		printf("# cleanup: %s\n", err.msg);
	free(s->base);
}

/* A fresh store in a fresh directory; NULL (with a failed check) on error. */
static struct sp_store *
store_fresh(struct scratch *s)
{
	struct sp_err err = { "" };
	struct sp_store *st;

	scratch_new(s);
	if ((st = sp_store_open(s->url, &err)) == NULL) {
		printf("# open: %s\n", err.msg);
		CHECK(!"sp_store_open");
	}
	return st;
}

/* Reports a failed store call with its message. */
#define OK(call) do {							\
	if ((call) != 0) {						\
		printf("# %s\n", sp_store_error(st));			\
		CHECK(!#call);						\
	}								\
} while (0)

/* Runs SQL on the database directly (as someone tampering would). */
static int
raw_exec(const struct scratch *s, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc = -1;

	if (pg_url != NULL)
		return pg_exec(s->url, sql);
	if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		printf("# raw: %s: %s\n", sql, msg ? msg : "?");
		goto out;
	}
	rc = 0;
out:
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

/* One integer from a query on the database; -1 on error. */
static int64_t
raw_int(const struct scratch *s, const char *sql)
{
	sqlite3_stmt *q = NULL;
	sqlite3 *db = NULL;
	int64_t v = -1;

	if (pg_url != NULL) {
		PGconn *c = PQconnectdb(s->url);
		PGresult *r = PQexec(c, sql);
		char *end;

		if (PQresultStatus(r) == PGRES_TUPLES_OK &&
		    PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
			v = strtoll(PQgetvalue(r, 0, 0), &end, 10);
		else
			printf("# raw: %s: %s\n", sql, pg_why(c, r));
		PQclear(r);
		PQfinish(c);
		return v;
	}
	if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &q, NULL) ==
	    SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	else
		printf("# raw: %s: %s\n", sql, sqlite3_errmsg(db));
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The value and ua of name in prof as "value|ua", or "(absent)". */
static const char *
pv(const struct sp_profile *prof, const char *name)
{
	static char buf[256];
	const struct sp_param *p = sp_profile_get(prof, name);

	if (p == NULL)
		return "(absent)";
	snprintf(buf, sizeof(buf), "%.*s|%s", (int)p->valuelen, p->value,
	    sp_ua_name(p->ua));
	return buf;
}

static uint64_t
gen(struct sp_store *st)
{
	uint64_t g = 0;

	OK(sp_store_generation(st, &g));
	return g;
}

/* ------------------------------------------------------------- opening */

static void
t_open_creates_schema(void)
{
	struct sp_err err = { "" };
	struct sp_device d;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	struct stat sb;

	if (st == NULL)
		goto out;
	CHECK(pg_url != NULL || (stat(s.db, &sb) == 0 &&
	    (sb.st_mode & 0777) == 0600));
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	/* The WAL files SQLite makes beside it take the same mode. */
	if (pg_url == NULL) {
		char wal[PATH_MAX + 8];

		snprintf(wal, sizeof(wal), "%s-wal", s.db);
		CHECK(stat(wal, &sb) == 0 && (sb.st_mode & 0777) == 0600);
		snprintf(wal, sizeof(wal), "%s-shm", s.db);
		CHECK(stat(wal, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	}
	sp_store_close(st);
	CHECK(raw_int(&s, "SELECT version FROM schema_version") == 2);
	if (pg_url != NULL)
		CHECK(raw_int(&s, "SELECT count(*) FROM pg_tables WHERE "
		    "schemaname=current_schema() AND tablename IN ('devices',"
		    "'device_certs','device_groups','params','reports','audit',"
		    "'meta','schema_version','blobs')") == 9);
	else {
		CHECK(raw_int(&s, "SELECT count(*) FROM sqlite_schema WHERE "
		    "type='table' AND name IN ('devices','device_certs',"
		    "'device_groups','params','reports','audit','meta',"
		    "'schema_version','blobs')") == 9);
		CHECK(raw_int(&s, "SELECT count(*) FROM pragma_journal_mode "
		    "WHERE journal_mode='wal'") == 1);
	}
	/* Reopening migrates nothing and keeps the data. */
	if ((st = sp_store_open(s.url, &err)) == NULL) {
		printf("# reopen: %s\n", err.msg);
		CHECK(!"reopen");
		goto out;
	}
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK_STR(d.serial, "FCH1");
	CHECK_STR(d.model, "CP-8845-3PCC");
	sp_store_close(st);
	CHECK(pg_url != NULL || (stat(s.db, &sb) == 0 &&
	    (sb.st_mode & 0777) == 0600));
	CHECK(raw_int(&s, "SELECT version FROM schema_version") == 2);
out:
	scratch_free(&s);
}

/* A file removed or replaced under an open store takes no more writes. */
static void
t_file_removed(void)
{
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	char moved[PATH_MAX + 8];

	if (st == NULL)
		goto out;
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	snprintf(moved, sizeof(moved), "%s.moved", s.db);
	CHECK(rename(s.db, moved) == 0);
	CHECK(sp_store_device_put(st, MAC_B, "FCH2", "CP-8845-3PCC") == -1);
	CHECK(strstr(sp_store_error(st), "removed or replaced") != NULL);
	CHECK(sp_store_begin(st) == -1);
	/* Another file at the path: still not the one opened. */
	{
		struct sp_err err;

		CHECK(sp_fs_write_atomic(s.db, "x", 1, 0600, &err) == 0);
	}
	CHECK(sp_store_begin(st) == -1);
	CHECK(unlink(s.db) == 0);
	/* Back in place: writes again. */
	CHECK(rename(moved, s.db) == 0);
	OK(sp_store_device_put(st, MAC_B, "FCH2", "CP-8845-3PCC"));
	sp_store_close(st);
out:
	scratch_free(&s);
}

static void
t_open_newer_refused(void)
{
	struct sp_err err = { "" };
	struct scratch s;
	struct sp_store *st = store_fresh(&s);

	sp_store_close(st);
	CHECK(raw_exec(&s, "UPDATE schema_version SET version=99") == 0);
	CHECK(sp_store_open(s.url, &err) == NULL);
	CHECK_HAS(err.msg, "newer");
	CHECK_HAS(err.msg, "99");
	scratch_free(&s);
}

static void
t_open_not_a_store(void)
{
	struct sp_err err = { "" };
	struct scratch s;
	FILE *f;

	scratch_new(&s);
	if (pg_url != NULL) {
		/* A database of some other application's. */
		CHECK(raw_exec(&s, "CREATE TABLE foo(x int)") == 0);
		CHECK(sp_store_open(s.url, &err) == NULL);
		CHECK_HAS(err.msg, "not a sprov store");
		CHECK_HAS(err.msg, s.db);
		CHECK(raw_int(&s, "SELECT count(*) FROM pg_tables WHERE "
		    "schemaname=current_schema()") == 1);
		scratch_free(&s);
		return;
	}
	if ((f = fopen(s.db, "w")) != NULL) {
		fputs("not a database, just words long enough to be a header "
		    "of something else entirely\n", f);
		fclose(f);
	}
	CHECK(sp_store_open(s.url, &err) == NULL);
	CHECK_HAS(err.msg, s.db);
	unlink(s.db);
	/* Some other application's database is not migrated over. */
	{
		sqlite3 *db = NULL;

		CHECK(sqlite3_open(s.db, &db) == SQLITE_OK);
		CHECK(sqlite3_exec(db, "CREATE TABLE foo(x)", NULL, NULL,
		    NULL) == SQLITE_OK);
		sqlite3_close(db);
	}
	CHECK(sp_store_open(s.url, &err) == NULL);
	CHECK_HAS(err.msg, "not a sprov store");
	scratch_free(&s);
}

static void
t_url_refused(void)
{
	static const char *const bad[] = { "mysql://u:s3cret@db/sprov",
	    "mysql:x", "/var/lib/sprov/store.db", "", "sqlite:", "SQLITE:x" };
	struct sp_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		CHECK(sp_store_open(bad[i], &err) == NULL);
		CHECK_HAS(err.msg, "sqlite:PATH");
	}
	err.msg[0] = '\0';
	CHECK(sp_store_open("mysql://u:s3cret@db/sprov", &err) == NULL);
	CHECK_HAS(err.msg, "unsupported scheme");
	CHECK_HAS(err.msg, "mysql://");
	CHECK_HAS(err.msg, "@db/sprov");
	CHECK_HAS(err.msg, "postgresql://");
	CHECK(strstr(err.msg, "s3cret") == NULL);
	CHECK(sp_store_open(NULL, &err) == NULL);
	CHECK(sp_store_open("sqlite:/nonexistent-dir/x/store.db", &err) ==
	    NULL);
	CHECK_HAS(err.msg, "/nonexistent-dir/x/store.db");
}

/* ------------------------------------------------------------- devices */

struct listed {
	char	macs[8][SP_MAC_HEXLEN + 1];
	int	n;
	int	stop_at;
};

static int
list_cb(void *arg, const struct sp_device *d)
{
	struct listed *l = arg;

	if (l->n < 8)
		snprintf(l->macs[l->n], sizeof(l->macs[0]), "%s", d->mac);
	l->n++;
	return l->n == l->stop_at ? -1 : 0;
}

/* A callback that writes through the same store while the list runs. */
static int
quarantine_cb(void *arg, const struct sp_device *d)
{
	return sp_store_device_state(arg, d->mac, SP_DEV_QUARANTINED);
}

static int
relist_cb(void *arg, const struct sp_device *d)
{
	(void)d;
	return sp_store_device_list(arg, relist_cb, arg);
}

static void
t_devices(void)
{
	struct listed l;
	struct sp_device d;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);

	if (st == NULL)
		goto out;
	CHECK(sp_store_device_get(st, MAC_A, &d) == 1);
	OK(sp_store_device_put(st, MAC_B, "FCH2", "CP-7841-3PCC"));
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	OK(sp_store_device_put(st, MAC_C, NULL, NULL));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK_STR(d.mac, MAC_A);
	CHECK_STR(d.serial, "FCH1");
	CHECK_STR(d.model, "CP-8845-3PCC");
	CHECK(d.state == SP_DEV_ACTIVE);
	CHECK(d.first_seen == 0 && d.last_seen == 0 && d.last_report == 0);
	CHECK_STR(d.firmware, "");
	CHECK_STR(d.etag, "");
	CHECK(sp_store_device_get(st, MAC_C, &d) == 0);
	CHECK_STR(d.model, "");
	/* Update: serial and model change, the rest stays. */
	OK(sp_store_device_put(st, MAC_A, "FCH9", "CP-8851-3PCC"));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK_STR(d.serial, "FCH9");
	CHECK_STR(d.model, "CP-8851-3PCC");
	/* Listed by MAC. */
	memset(&l, 0, sizeof(l));
	OK(sp_store_device_list(st, list_cb, &l));
	CHECK(l.n == 3);
	CHECK_STR(l.macs[0], MAC_B);
	CHECK_STR(l.macs[1], MAC_C);
	CHECK_STR(l.macs[2], MAC_A);
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	CHECK(sp_store_device_list(st, list_cb, &l) == -1);
	CHECK(l.n == 2);
	/* The list statement is usable again after a stop. */
	memset(&l, 0, sizeof(l));
	OK(sp_store_device_list(st, list_cb, &l));
	CHECK(l.n == 3);
	/* The callback may write; it may not list again. */
	OK(sp_store_device_list(st, quarantine_cb, st));
	CHECK(sp_store_device_get(st, MAC_C, &d) == 0);
	CHECK(d.state == SP_DEV_QUARANTINED);
	CHECK(sp_store_device_list(st, relist_cb, st) == -1);
	CHECK_HAS(sp_store_error(st), "its own callback");
	memset(&l, 0, sizeof(l));
	OK(sp_store_device_list(st, list_cb, &l));
	CHECK(l.n == 3);
	/* Delete. */
	OK(sp_store_device_delete(st, MAC_B));
	CHECK(sp_store_device_get(st, MAC_B, &d) == 1);
	CHECK(sp_store_device_delete(st, MAC_B) == -1);
	CHECK_HAS(sp_store_error(st), "unknown device " MAC_B);
	/* Refused input. */
	CHECK(sp_store_device_get(st, "000E08ABCDEF", &d) == -1);
	CHECK_HAS(sp_store_error(st), "MAC '000E08ABCDEF'");
	CHECK(sp_store_device_put(st, "00:0e:08:ab:cd:ef", "x", "y") == -1);
	CHECK(sp_store_device_put(st, NULL, "x", "y") == -1);
	CHECK(sp_store_device_put(st, MAC_A, "x", "CP 8845") == -1);
	CHECK_HAS(sp_store_error(st), "model 'CP 8845'");
	CHECK(sp_store_device_put(st, MAC_A, "bad\nserial", "m") == -1);
	CHECK_HAS(sp_store_error(st), "serial 'bad\\x0aserial'");
	{
		char longs[SP_SERIAL_MAX + 2];

		memset(longs, 'S', sizeof(longs) - 1);
		longs[sizeof(longs) - 1] = '\0';
		CHECK(sp_store_device_put(st, MAC_A, longs, "m") == -1);
		longs[SP_SERIAL_MAX] = '\0';
		OK(sp_store_device_put(st, MAC_A, longs, "m"));
	}
	sp_store_close(st);
out:
	scratch_free(&s);
}

static void
t_quarantine(void)
{
	struct sp_device d;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);

	if (st == NULL)
		goto out;
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	OK(sp_store_device_state(st, MAC_A, SP_DEV_QUARANTINED));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK(d.state == SP_DEV_QUARANTINED);
	/* A put (certificate seen again) does not lift the quarantine. */
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK(d.state == SP_DEV_QUARANTINED);
	OK(sp_store_device_state(st, MAC_A, SP_DEV_ACTIVE));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK(d.state == SP_DEV_ACTIVE);
	CHECK(sp_store_device_state(st, MAC_B, SP_DEV_QUARANTINED) == -1);
	CHECK_HAS(sp_store_error(st), "unknown device " MAC_B);
	CHECK(sp_store_device_state(st, MAC_A, (enum sp_dev_state)7) == -1);
	sp_store_close(st);
out:
	scratch_free(&s);
}

/* -------------------------------------------------------------- groups */

static void
t_groups(void)
{
	static const char *const three[] = { "site-paris", "floor.3",
	    "Sales_EU" };
	static const char *const two[] = { "b", "a" };
	char got[SP_GROUPS_PER_DEVICE + 1][SP_GROUP_NAME_MAX + 1];
	const char *many[SP_GROUPS_PER_DEVICE + 1];
	char names[SP_GROUPS_PER_DEVICE + 1][8];
	const char *bad[1];
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	size_t n, i;

	if (st == NULL)
		goto out;
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	CHECK(sp_store_group_get(st, MAC_A, got, SP_GROUPS_PER_DEVICE,
	    &n) == 0);
	CHECK(n == 0);
	CHECK(sp_store_group_get(st, MAC_B, got, SP_GROUPS_PER_DEVICE,
	    &n) == 1);
	OK(sp_store_group_set(st, MAC_A, three, 3));
	CHECK(sp_store_group_get(st, MAC_A, got, SP_GROUPS_PER_DEVICE,
	    &n) == 0);
	CHECK(n == 3);
	CHECK_STR(got[0], "site-paris");
	CHECK_STR(got[1], "floor.3");
	CHECK_STR(got[2], "Sales_EU");
	/* Replaced as a whole, in the new order. */
	OK(sp_store_group_set(st, MAC_A, two, 2));
	CHECK(sp_store_group_get(st, MAC_A, got, SP_GROUPS_PER_DEVICE,
	    &n) == 0);
	CHECK(n == 2);
	CHECK_STR(got[0], "b");
	CHECK_STR(got[1], "a");
	/* A caller's array too small is an error, not a silent cut. */
	CHECK(sp_store_group_get(st, MAC_A, got, 1, &n) == -1);
	CHECK_HAS(sp_store_error(st), "more than 1 groups");
	/* The limit. */
	for (i = 0; i <= SP_GROUPS_PER_DEVICE; i++) {
		snprintf(names[i], sizeof(names[i]), "g%zu", i);
		many[i] = names[i];
	}
	OK(sp_store_group_set(st, MAC_A, many, SP_GROUPS_PER_DEVICE));
	CHECK(sp_store_group_get(st, MAC_A, got, SP_GROUPS_PER_DEVICE,
	    &n) == 0);
	CHECK(n == SP_GROUPS_PER_DEVICE);
	CHECK_STR(got[SP_GROUPS_PER_DEVICE - 1], "g15");
	CHECK(sp_store_group_set(st, MAC_A, many, SP_GROUPS_PER_DEVICE + 1) ==
	    -1);
	CHECK_HAS(sp_store_error(st), "at most 16");
	/* Refused names, duplicates, unknown devices; nothing changes. */
	bad[0] = "a b";
	CHECK(sp_store_group_set(st, MAC_A, bad, 1) == -1);
	CHECK_HAS(sp_store_error(st), "group 'a b'");
	bad[0] = "";
	CHECK(sp_store_group_set(st, MAC_A, bad, 1) == -1);
	bad[0] = "x;DROP";
	CHECK(sp_store_group_set(st, MAC_A, bad, 1) == -1);
	many[1] = many[0];
	CHECK(sp_store_group_set(st, MAC_A, many, 2) == -1);
	CHECK_HAS(sp_store_error(st), "twice");
	CHECK(sp_store_group_set(st, MAC_B, two, 2) == -1);
	CHECK_HAS(sp_store_error(st), "unknown device " MAC_B);
	CHECK(sp_store_group_get(st, MAC_A, got, SP_GROUPS_PER_DEVICE,
	    &n) == 0);
	CHECK(n == SP_GROUPS_PER_DEVICE);
	/* Cleared. */
	OK(sp_store_group_set(st, MAC_A, NULL, 0));
	CHECK(sp_store_group_get(st, MAC_A, got, SP_GROUPS_PER_DEVICE,
	    &n) == 0);
	CHECK(n == 0);
	/* Deleting the device removes its links. */
	OK(sp_store_group_set(st, MAC_A, two, 2));
	OK(sp_store_device_delete(st, MAC_A));
	CHECK(raw_int(&s, "SELECT count(*) FROM device_groups") == 0);
	sp_store_close(st);
out:
	scratch_free(&s);
}

/* ---------------------------------------------------------- parameters */

static void
t_params_profile_order(void)
{
	static const char *const g12[] = { "g1", "g2" };
	static const char *const g21[] = { "g2", "g1" };
	struct sp_profile *p = NULL;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);

	if (st == NULL)
		goto out;
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	OK(sp_store_group_set(st, MAC_A, g12, 2));
	/* All four levels set All; fewer set the others. */
	OK(sp_store_param_set(st, "default", "All", "default", SP_UA_NONE));
	OK(sp_store_param_set(st, "model:CP-8845-3PCC", "All", "model",
	    SP_UA_RO));
	OK(sp_store_param_set(st, "group:g1", "All", "g1", SP_UA_NONE));
	OK(sp_store_param_set(st, "group:g2", "All", "g2", SP_UA_NONE));
	OK(sp_store_param_set(st, "device:" MAC_A, "All", "device",
	    SP_UA_RW));
	OK(sp_store_param_set(st, "default", "Model_Wins", "default",
	    SP_UA_NONE));
	OK(sp_store_param_set(st, "model:CP-8845-3PCC", "Model_Wins",
	    "model", SP_UA_NA));
	OK(sp_store_param_set(st, "default", "Group_Order", "default",
	    SP_UA_NONE));
	OK(sp_store_param_set(st, "model:CP-8845-3PCC", "Group_Order",
	    "model", SP_UA_NONE));
	OK(sp_store_param_set(st, "group:g1", "Group_Order", "g1",
	    SP_UA_NONE));
	OK(sp_store_param_set(st, "group:g2", "Group_Order", "g2",
	    SP_UA_NONE));
	OK(sp_store_param_set(st, "group:g1", "Only_G1", "g1", SP_UA_NONE));
	OK(sp_store_param_set(st, "default", "Only_Default", "d",
	    SP_UA_NONE));
	/* Scopes that do not apply to this device. */
	OK(sp_store_param_set(st, "model:CP-7841-3PCC", "All", "other-model",
	    SP_UA_NONE));
	OK(sp_store_param_set(st, "group:g3", "All", "g3", SP_UA_NONE));
	OK(sp_store_param_set(st, "device:" MAC_B, "All", "other-device",
	    SP_UA_NONE));

	p = sp_profile_new();
	OK(sp_store_profile(st, MAC_A, "CP-8845-3PCC", p));
	CHECK_STR(pv(p, "All"), "device|rw");
	CHECK_STR(pv(p, "Model_Wins"), "model|na");
	CHECK_STR(pv(p, "Group_Order"), "g2|");
	CHECK_STR(pv(p, "Only_G1"), "g1|");
	CHECK_STR(pv(p, "Only_Default"), "d|");
	CHECK(sp_profile_count(p) == 5);
	/* Positions: first set wins the position (default's order first). */
	CHECK_STR(sp_profile_at(p, 0)->name, "All");
	CHECK_STR(sp_profile_at(p, 4)->name, "Only_G1");
	sp_profile_free(p);

	/* The group order decides between groups. */
	OK(sp_store_group_set(st, MAC_A, g21, 2));
	p = sp_profile_new();
	OK(sp_store_profile(st, MAC_A, "CP-8845-3PCC", p));
	CHECK_STR(pv(p, "Group_Order"), "g1|");
	sp_profile_free(p);

	/* No model: the model scope is skipped. */
	p = sp_profile_new();
	OK(sp_store_profile(st, MAC_A, NULL, p));
	CHECK_STR(pv(p, "Model_Wins"), "default|");
	sp_profile_free(p);
	p = sp_profile_new();
	OK(sp_store_profile(st, MAC_A, "", p));
	CHECK_STR(pv(p, "Model_Wins"), "default|");
	CHECK_STR(pv(p, "All"), "device|rw");
	sp_profile_free(p);

	/* A device without groups or parameters of its own. */
	p = sp_profile_new();
	OK(sp_store_profile(st, MAC_C, "CP-7841-3PCC", p));
	CHECK_STR(pv(p, "All"), "other-model|");
	CHECK_STR(pv(p, "Only_G1"), "(absent)");
	sp_profile_free(p);

	/* One scope on its own, over what the profile holds. */
	p = sp_profile_new();
	CHECK(sp_profile_set(p, "Keep", "k", 1, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(p, "All", "before", 6, SP_UA_NONE) == 0);
	OK(sp_store_param_scope(st, "group:g1", p));
	CHECK(sp_profile_count(p) == 4);
	CHECK_STR(pv(p, "Keep"), "k|");
	CHECK_STR(pv(p, "All"), "g1|");
	CHECK_STR(pv(p, "Group_Order"), "g1|");
	sp_profile_free(p);
	p = sp_profile_new();
	OK(sp_store_param_scope(st, "group:nobody", p));
	CHECK(sp_profile_count(p) == 0);
	CHECK(sp_store_param_scope(st, "nobody", p) == -1);
	CHECK(sp_store_profile(st, MAC_A, "CP 8845", p) == -1);
	CHECK_HAS(sp_store_error(st), "model 'CP 8845'");
	CHECK(sp_store_profile(st, "bad", NULL, p) == -1);
	sp_profile_free(p);
	p = NULL;

	/* Replacing a value; parameters of a deleted device go. */
	OK(sp_store_param_set(st, "default", "All", "default2", SP_UA_RO));
	p = sp_profile_new();
	OK(sp_store_param_scope(st, "default", p));
	CHECK_STR(pv(p, "All"), "default2|ro");
	sp_profile_free(p);
	p = NULL;
	OK(sp_store_device_delete(st, MAC_A));
	CHECK(raw_int(&s, "SELECT count(*) FROM params WHERE "
	    "scope='device:" MAC_A "'") == 0);
	CHECK(raw_int(&s, "SELECT count(*) FROM params WHERE "
	    "scope='device:" MAC_B "'") == 1);
	sp_store_close(st);
out:
	sp_profile_free(p);
	scratch_free(&s);
}

static void
t_param_unset(void)
{
	struct sp_profile *p = NULL;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);

	if (st == NULL)
		goto out;
	OK(sp_store_param_set(st, "default", "A", "1", SP_UA_NONE));
	OK(sp_store_param_set(st, "device:" MAC_A, "A", "2", SP_UA_NONE));
	OK(sp_store_param_unset(st, "device:" MAC_A, "A"));
	p = sp_profile_new();
	OK(sp_store_profile(st, MAC_A, NULL, p));
	CHECK_STR(pv(p, "A"), "1|");
	sp_profile_free(p);
	/* Unsetting what is not set is not an error. */
	OK(sp_store_param_unset(st, "device:" MAC_A, "A"));
	OK(sp_store_param_unset(st, "default", "A"));
	p = sp_profile_new();
	OK(sp_store_profile(st, MAC_A, NULL, p));
	CHECK(sp_profile_count(p) == 0);
	CHECK(sp_store_param_unset(st, "default", "1A") == -1);
	CHECK(sp_store_param_unset(st, "devices:" MAC_A, "A") == -1);
	sp_store_close(st);
out:
	sp_profile_free(p);
	scratch_free(&s);
}

static void
t_param_values_refused(void)
{
	char *big;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);

	if (st == NULL)
		goto out;
	CHECK(sp_store_param_set(st, "default", "A", NULL, SP_UA_NONE) == -1);
	CHECK(sp_store_param_set(st, "default", "A", "bad\x01", SP_UA_NONE) ==
	    -1);
	CHECK_HAS(sp_store_error(st), "parameter A");
	CHECK(sp_store_param_set(st, "default", "A", "\xc3\x28",
	    SP_UA_NONE) == -1);
	CHECK(sp_store_param_set(st, "default", "A", "x",
	    (enum sp_ua)9) == -1);
	if ((big = malloc(SP_PARAM_VALUE_MAX + 2)) == NULL)
		abort();
	memset(big, 'v', SP_PARAM_VALUE_MAX + 1);
	big[SP_PARAM_VALUE_MAX + 1] = '\0';
	CHECK(sp_store_param_set(st, "default", "A", big, SP_UA_NONE) == -1);
	big[SP_PARAM_VALUE_MAX] = '\0';
	OK(sp_store_param_set(st, "default", "A", big, SP_UA_NONE));
	free(big);
	/* UTF-8, tabs and newlines are values like any other. */
	OK(sp_store_param_set(st, "default", "B", "Caf\xc3\xa9\tline\n2",
	    SP_UA_NONE));
	OK(sp_store_param_set(st, "default", "C", "", SP_UA_NONE));
	CHECK(raw_int(&s, "SELECT count(*) FROM params") == 3);
	sp_store_close(st);
out:
	scratch_free(&s);
}

/* ---------------------------------------------------------- generation */

static void
t_generation(void)
{
	static const char *const g1[] = { "g1" };
	struct sp_profile *p = NULL;
	struct sp_device d;
	struct sp_buf b;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	struct sp_audit a;
	uint64_t g, g2;
	size_t n;
	char grp[SP_GROUPS_PER_DEVICE][SP_GROUP_NAME_MAX + 1];

	sp_buf_init(&b, 1024);
	if (st == NULL)
		goto out;
	g = gen(st);
	CHECK(g >= 1);
#define BUMPS(call) do {						\
	OK(call);							\
	g2 = gen(st);							\
	if (g2 != g + 1) {						\
		printf("# %s: generation %llu -> %llu\n", #call,	\
		    (unsigned long long)g, (unsigned long long)g2);	\
		CHECK(!"bumps");					\
	}								\
	g = g2;								\
} while (0)
#define KEEPS(call) do {						\
	CHECK((call) >= 0);						\
	g2 = gen(st);							\
	if (g2 != g) {							\
		printf("# %s: generation %llu -> %llu\n", #call,	\
		    (unsigned long long)g, (unsigned long long)g2);	\
		CHECK(!"keeps");					\
	}								\
} while (0)
	BUMPS(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	KEEPS(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	KEEPS(sp_store_device_put(st, MAC_A, "FCH2", "CP-8845-3PCC"));
	BUMPS(sp_store_device_put(st, MAC_A, "FCH2", "CP-8851-3PCC"));
	BUMPS(sp_store_param_set(st, "default", "A", "1", SP_UA_NONE));
	BUMPS(sp_store_param_set(st, "default", "A", "2", SP_UA_NONE));
	BUMPS(sp_store_param_set(st, "default", "A", "2", SP_UA_RO));
	/* The same value again changes no profile. */
	KEEPS(sp_store_param_set(st, "default", "A", "2", SP_UA_RO));
	BUMPS(sp_store_param_unset(st, "default", "A"));
	KEEPS(sp_store_param_unset(st, "default", "A"));
	BUMPS(sp_store_group_set(st, MAC_A, g1, 1));
	BUMPS(sp_store_device_state(st, MAC_A, SP_DEV_QUARANTINED));
	KEEPS(sp_store_device_state(st, MAC_A, SP_DEV_QUARANTINED));
	BUMPS(sp_store_device_state(st, MAC_A, SP_DEV_ACTIVE));
	/* Reads, contacts, reports and audit leave it. */
	KEEPS(sp_store_device_get(st, MAC_A, &d));
	KEEPS(sp_store_group_get(st, MAC_A, grp, SP_GROUPS_PER_DEVICE, &n));
	p = sp_profile_new();
	KEEPS(sp_store_profile(st, MAC_A, "CP-8851-3PCC", p));
	KEEPS(sp_store_param_scope(st, "default", p));
	KEEPS(sp_store_device_seen(st, MAC_A, 1000, "192.0.2.1", "UA",
	    "01AB", "\"e\""));
	KEEPS(sp_store_report_add(st, MAC_A, 1001, "status", "x", 1, NULL));
	KEEPS(sp_store_report_last(st, MAC_A, NULL, &b));
	memset(&a, 0, sizeof(a));
	a.event = "profile";
	a.ip = "192.0.2.1";
	a.route = "/prov/x";
	KEEPS(sp_store_audit_append(st, &a));
	/* Refused writes leave it. */
	KEEPS(sp_store_param_set(st, "bad", "A", "1", SP_UA_NONE) == -1 ?
	    0 : -1);
	BUMPS(sp_store_device_delete(st, MAC_A));
	/* It survives a reopen. */
	sp_store_close(st);
	{
		struct sp_err err;

		st = sp_store_open(s.url, &err);
		CHECK(st != NULL);
		if (st != NULL)
			CHECK(gen(st) == g);
	}
#undef BUMPS
#undef KEEPS
	sp_store_close(st);
out:
	sp_profile_free(p);
	sp_buf_release(&b);
	scratch_free(&s);
}

/* ---------------------------------------------------------- validation */

static void
t_scope_check(void)
{
	static const struct {
		const char	*scope;
		int		 ok;
		const char	*why;
	} tab[] = {
		{ "default", 1, NULL },
		{ "model:CP-8845-3PCC", 1, NULL },
		{ "model:a", 1, NULL },
		{ "model:" A64, 1, NULL },
		{ "group:site.paris_1-a", 1, NULL },
		{ "device:000e08abcdef", 1, NULL },
		{ "", 0, "expected default, model:, group: or device:" },
		{ "Default", 0, "expected default" },
		{ "default ", 0, "expected default" },
		{ "grp:x", 0, "scope 'grp:x': expected default, model:, "
		    "group: or device:" },
		{ "model:", 0, "a model name is 1 to 64" },
		{ "group:", 0, "a group name" },
		{ "model:" A64 "a", 0, "1 to 64" },
		{ "group:a b", 0, "a group name" },
		{ "group:x'; DROP TABLE params; --", 0, "a group name" },
		{ "group:x\n", 0, "'group:x\\x0a'" },
		{ "group:caf\xc3\xa9", 0, "a group name" },
		{ "device:000E08ABCDEF", 0, "12 lower-case hex digits" },
		{ "device:00:0e:08:ab:cd:ef", 0, "by its MAC" },
		{ "device:000e08abcdef0", 0, "by its MAC" },
		{ "device:", 0, "by its MAC" },
		{ "model:a:b", 0, "a model name" },
	};
	struct sp_err err;
	char name[128];
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		if (tab[i].ok)
			CHECK(sp_store_scope_check(tab[i].scope, &err) == 0);
		else {
			CHECK(sp_store_scope_check(tab[i].scope, &err) == -1);
			CHECK_HAS(err.msg, tab[i].why);
		}
		snprintf(name, sizeof(name), "scope_check row %zu", i);
		ROW_END(name);
	}
	ROW_BEGIN();
	CHECK(sp_store_scope_check(NULL, &err) == -1);
	ROW_END("scope_check NULL");
}

static void
t_sql_metachars(void)
{
	static const char *const values[] = { INERT, "a'b\"c", "x; --",
	    "Robert'); DROP TABLE params;--", "%s%n", "\\' OR 1=1 --",
	    "<tag attr=\"1\">&amp;</tag>" };
	struct sp_profile *p = NULL;
	struct sp_device d;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	char name[16];
	size_t i;

	if (st == NULL)
		goto out;
	OK(sp_store_device_put(st, MAC_A, "O'Brien\"; --", "CP-8845-3PCC"));
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(name, sizeof(name), "P%zu", i);
		OK(sp_store_param_set(st, "device:" MAC_A, name, values[i],
		    SP_UA_NONE));
	}
	p = sp_profile_new();
	OK(sp_store_profile(st, MAC_A, "CP-8845-3PCC", p));
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		const struct sp_param *q;

		snprintf(name, sizeof(name), "P%zu", i);
		q = sp_profile_get(p, name);
		CHECK(q != NULL && q->valuelen == strlen(values[i]) &&
		    memcmp(q->value, values[i], q->valuelen) == 0);
	}
	OK(sp_store_device_seen(st, MAC_A, 5, "1.2.3.4'--", INERT, NULL,
	    NULL));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK_STR(d.serial, "O'Brien\"; --");
	CHECK_STR(d.user_agent, INERT);
	CHECK_STR(d.last_ip, "1.2.3.4'--");
	/* Where the character set excludes them, they are refused. */
	CHECK(sp_store_param_set(st, "default", "A'; --", "x", SP_UA_NONE) ==
	    -1);
	CHECK_HAS(sp_store_error(st), "parameter name 'A\\'; --'");
	CHECK(sp_store_param_set(st, "model:x'--", "A", "x", SP_UA_NONE) ==
	    -1);
	CHECK(sp_store_device_put(st, "000e08abcde'", "s", "m") == -1);
	CHECK(sp_store_device_put(st, MAC_B, "s", "m';--") == -1);
	CHECK(sp_store_report_add(st, MAC_A, 1, "x';--", "b", 1, NULL) == -1);
	/* Every table is still there and holds what it should. */
	CHECK(raw_int(&s, "SELECT count(*) FROM devices") == 1);
	CHECK(raw_int(&s, "SELECT count(*) FROM params") ==
	    (int64_t)(sizeof(values) / sizeof(values[0])));
	sp_store_close(st);
out:
	sp_profile_free(p);
	scratch_free(&s);
}

/* ------------------------------------------------------------- reports */

static void
t_reports(void)
{
	static const char body1[] = "<flat-profile><Software_Version>"
	    "sip88xx.12-0-1</Software_Version></flat-profile>";
	static const char bin[] = { 'a', '\0', 'b', '\xff', '\0' };
	struct sp_profile *parsed = NULL;
	struct sp_err err = { "" };
	struct sp_device d;
	struct sp_buf b, small;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	time_t when = 0;

	sp_buf_init(&b, SP_REPORT_MAX);
	sp_buf_init(&small, 4);
	if (st == NULL)
		goto out;
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	CHECK(sp_store_report_last(st, MAC_A, &when, &b) == 1);
	parsed = sp_profile_parse(body1, strlen(body1), &err);
	CHECK(parsed != NULL);
	OK(sp_store_report_add(st, MAC_A, 1000, "config", body1,
	    strlen(body1), parsed));
	CHECK(sp_store_report_last(st, MAC_A, &when, &b) == 0);
	CHECK(when == 1000);
	CHECK(b.len == strlen(body1) && memcmp(b.data, body1, b.len) == 0);
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK(d.last_report == 1000);
	CHECK_STR(d.firmware, "sip88xx.12-0-1");
	CHECK(raw_int(&s, "SELECT count(*) FROM reports WHERE parsed "
	    "LIKE '%<Software_Version>sip88xx.12-0-1</Software_Version>%'") ==
	    1);
	/* A report that did not parse: body kept, firmware unchanged. */
	OK(sp_store_report_add(st, MAC_A, 1100, "status", bin, sizeof(bin),
	    NULL));
	CHECK(sp_store_report_last(st, MAC_A, &when, &b) == 0);
	CHECK(when == 1100);
	CHECK(b.len == sizeof(bin) && memcmp(b.data, bin, b.len) == 0);
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK(d.last_report == 1100);
	CHECK_STR(d.firmware, "sip88xx.12-0-1");
	CHECK(raw_int(&s, "SELECT count(*) FROM reports WHERE parsed IS "
	    "NULL") == 1);
	/* An empty body. */
	OK(sp_store_report_add(st, MAC_A, 1200, "status", NULL, 0, NULL));
	CHECK(sp_store_report_last(st, MAC_A, &when, &b) == 0);
	CHECK(b.len == 0 && when == 1200);
	/* A buffer too small says so. */
	OK(sp_store_report_add(st, MAC_A, 1300, "status", "123456", 6, NULL));
	CHECK(sp_store_report_last(st, MAC_A, NULL, &small) == -1);
	CHECK_HAS(sp_store_error(st), "does not fit");
	/* Unknown device, bad kind, oversized. */
	CHECK(sp_store_report_add(st, MAC_B, 1, "status", "x", 1, NULL) == -1);
	CHECK_HAS(sp_store_error(st), "unknown device " MAC_B);
	CHECK(sp_store_device_get(st, MAC_B, &d) == 1);
	CHECK(sp_store_report_add(st, MAC_A, 1, "", "x", 1, NULL) == -1);
	CHECK(sp_store_report_add(st, MAC_A, 1, "status", "x",
	    SP_REPORT_MAX + 1, NULL) == -1);
	CHECK(sp_store_report_add(st, MAC_A, 1, "status", NULL, 3, NULL) ==
	    -1);
	CHECK(raw_int(&s, "SELECT count(*) FROM reports") == 4);
	/* Deleting the device deletes its reports. */
	OK(sp_store_device_delete(st, MAC_A));
	CHECK(raw_int(&s, "SELECT count(*) FROM reports") == 0);
	sp_store_close(st);
out:
	sp_profile_free(parsed);
	sp_buf_release(&b);
	sp_buf_release(&small);
	scratch_free(&s);
}

/* ------------------------------------------------------------ contacts */

static void
t_device_seen(void)
{
	char ua[3 * SP_USER_AGENT_MAX];
	struct sp_device d;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	size_t i, len;

	if (st == NULL)
		goto out;
	OK(sp_store_device_put(st, MAC_A, "FCH1", "CP-8845-3PCC"));
	OK(sp_store_device_seen(st, MAC_A, 1000, "192.0.2.7",
	    "Cisco-CP-8845-3PCC/12.0.1 (00562b043615)", "01AB", "\"e1\""));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK(d.first_seen == 1000 && d.last_seen == 1000);
	CHECK_STR(d.last_ip, "192.0.2.7");
	CHECK_STR(d.user_agent, "Cisco-CP-8845-3PCC/12.0.1 (00562b043615)");
	CHECK_STR(d.cert_serial, "01AB");
	CHECK_STR(d.etag, "\"e1\"");
	/* NULL leaves a field; first_seen stays. */
	OK(sp_store_device_seen(st, MAC_A, 2000, "2001:db8::1", NULL, NULL,
	    NULL));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK(d.first_seen == 1000 && d.last_seen == 2000);
	CHECK_STR(d.last_ip, "2001:db8::1");
	CHECK_STR(d.user_agent, "Cisco-CP-8845-3PCC/12.0.1 (00562b043615)");
	CHECK_STR(d.cert_serial, "01AB");
	CHECK_STR(d.etag, "\"e1\"");
	/* A renewed certificate: a second device_certs row. */
	OK(sp_store_device_seen(st, MAC_A, 3000, "192.0.2.7", "UA", "02CD",
	    "\"e2\""));
	OK(sp_store_device_seen(st, MAC_A, 4000, "192.0.2.7", "UA", "02CD",
	    NULL));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK_STR(d.cert_serial, "02CD");
	CHECK_STR(d.etag, "\"e2\"");
	CHECK(raw_int(&s, "SELECT count(*) FROM device_certs WHERE mac='"
	    MAC_A "'") == 2);
	CHECK(raw_int(&s, "SELECT first_seen FROM device_certs WHERE "
	    "cert_serial='01AB'") == 1000);
	/* The contact at 2000 named no certificate. */
	CHECK(raw_int(&s, "SELECT last_seen FROM device_certs WHERE "
	    "cert_serial='01AB'") == 1000);
	CHECK(raw_int(&s, "SELECT first_seen FROM device_certs WHERE "
	    "cert_serial='02CD'") == 3000);
	CHECK(raw_int(&s, "SELECT last_seen FROM device_certs WHERE "
	    "cert_serial='02CD'") == 4000);
	/* A long User-Agent of 2-byte characters is cut between them. */
	for (i = 0; i + 2 < sizeof(ua); i += 2) {
		ua[i] = '\xc3';
		ua[i + 1] = '\xa9';
	}
	ua[i] = '\0';
	OK(sp_store_device_seen(st, MAC_A, 5000, NULL, ua, NULL, NULL));
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	len = strlen(d.user_agent);
	CHECK(len == SP_USER_AGENT_MAX - 1);	/* 255 is odd: 254 */
	CHECK(memcmp(d.user_agent, ua, len) == 0);
	/* Unknown devices are not created by a contact. */
	CHECK(sp_store_device_seen(st, MAC_B, 1, "192.0.2.8", "UA", "03",
	    NULL) == -1);
	CHECK_HAS(sp_store_error(st), "unknown device " MAC_B);
	CHECK(sp_store_device_get(st, MAC_B, &d) == 1);
	CHECK(raw_int(&s, "SELECT count(*) FROM device_certs WHERE mac='"
	    MAC_B "'") == 0);
	/* Identity fields too long are refused, not cut. */
	{
		char ser[100];

		memset(ser, 'A', sizeof(ser) - 1);
		ser[sizeof(ser) - 1] = '\0';
		CHECK(sp_store_device_seen(st, MAC_A, 1, NULL, NULL, ser,
		    NULL) == -1);
		CHECK(sp_store_device_seen(st, MAC_A, 1, NULL, NULL, NULL,
		    ser) == -1);
	}
	sp_store_close(st);
out:
	scratch_free(&s);
}

/* -------------------------------------------------------- transactions */

static void
t_transactions(void)
{
	struct sp_device d;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);

	if (st == NULL)
		goto out;
	OK(sp_store_begin(st));
	CHECK(sp_store_begin(st) == -1);
	OK(sp_store_device_put(st, MAC_A, "FCH1", "m"));
	sp_store_rollback(st);
	CHECK(sp_store_device_get(st, MAC_A, &d) == 1);
	OK(sp_store_begin(st));
	OK(sp_store_device_put(st, MAC_A, "FCH1", "m"));
	/* A failing operation undoes itself, not the transaction. */
	CHECK(sp_store_device_state(st, MAC_B, SP_DEV_QUARANTINED) == -1);
	CHECK(sp_store_report_add(st, MAC_B, 1, "status", "x", 1, NULL) ==
	    -1);
	OK(sp_store_device_put(st, MAC_C, "FCH3", "m"));
	OK(sp_store_commit(st));
	CHECK(sp_store_commit(st) == -1);
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	CHECK(sp_store_device_get(st, MAC_C, &d) == 0);
	sp_store_rollback(st);		/* none open: nothing happens */
	sp_store_close(st);
out:
	scratch_free(&s);
}

/* --------------------------------------------------------------- audit */

static void
audit_fill(struct sp_audit *a, int i)
{
	static char route[64];

	memset(a, 0, sizeof(*a));
	snprintf(route, sizeof(route), "/prov/%s.xml?i=%d", MAC_A, i);
	a->when = 1700000000 + i;
	a->event = i % 3 == 0 ? "refused" : "profile";
	a->mac = i % 5 == 0 ? NULL : MAC_A;
	a->cert_serial = i % 7 == 0 ? NULL : "01AB";
	a->ip = "192.0.2.1";
	a->route = route;
	a->status = i % 3 == 0 ? 403 : 200;
	a->etag = i % 2 ? "\"abc\"" : NULL;
}

/* A store with n entries; NULL (failed check) on error. */
static struct sp_store *
audit_fresh(struct scratch *s, int n)
{
	struct sp_store *st = store_fresh(s);
	struct sp_audit a;
	int i;

	for (i = 1; st != NULL && i <= n; i++) {
		audit_fill(&a, i);
		OK(sp_store_audit_append(st, &a));
	}
	return st;
}

struct audit_seen {
	int64_t	seq[8];
	int	status[8];
	char	route[8][64];
	size_t	n;
};

static int
listed_one(void *arg, int64_t seq, const struct sp_audit *a)
{
	struct audit_seen *l = arg;

	if (l->n == 8)
		return -1;
	l->seq[l->n] = seq;
	l->status[l->n] = a->status;
	snprintf(l->route[l->n], sizeof(l->route[0]), "%s", a->route ?
	    a->route : "");
	l->n++;
	return 0;
}

static void
t_audit_list(void)
{
	struct scratch s;
	struct sp_store *st = audit_fresh(&s, 10);
	struct audit_seen l;

	if (st == NULL)
		goto out;
	memset(&l, 0, sizeof(l));
	OK(sp_store_audit_list(st, 3, listed_one, &l));
	CHECK(l.n == 3);
	CHECK(l.seq[0] == 8 && l.seq[1] == 9 && l.seq[2] == 10);
	memset(&l, 0, sizeof(l));
	OK(sp_store_audit_list(st, 0, listed_one, &l));
	CHECK(l.n == 0);
	memset(&l, 0, sizeof(l));
	CHECK(sp_store_audit_list(st, 100, listed_one, &l) == -1); /* fn stops */
	CHECK(l.n == 8 && l.seq[0] == 1);
out:
	sp_store_close(st);
	scratch_free(&s);
}

/*
 * Appends inside one transaction (the writer's batches): they chain on each
 * other, a rolled-back batch leaves no trace, and the trail verifies after
 * both, with the head at the last entry.
 */
static void
t_audit_in_transaction(void)
{
	struct scratch s;
	struct sp_store *st = audit_fresh(&s, 3);
	struct sp_audit a;
	int64_t bad = -1;
	int i;

	if (st == NULL)
		goto out;
	OK(sp_store_begin(st));
	for (i = 0; i < 5; i++) {
		audit_fill(&a, 10 + i);
		OK(sp_store_audit_append(st, &a));
	}
	audit_fill(&a, 20);
	a.event = "bad event";
	CHECK(sp_store_audit_append(st, &a) == -1);
	audit_fill(&a, 21);
	OK(sp_store_audit_append(st, &a));
	OK(sp_store_commit(st));
	OK(sp_store_audit_verify(st, &bad));
	CHECK(bad == 0);
	CHECK(raw_int(&s, "SELECT count(*) FROM audit") == 9);
	OK(sp_store_begin(st));
	for (i = 0; i < 3; i++) {
		audit_fill(&a, 30 + i);
		OK(sp_store_audit_append(st, &a));
	}
	sp_store_rollback(st);
	OK(sp_store_audit_verify(st, &bad));
	CHECK(bad == 0);
	CHECK(raw_int(&s, "SELECT count(*) FROM audit") == 9);
	/* And on after the rolled-back batch, in and out of transactions. */
	audit_fill(&a, 40);
	OK(sp_store_audit_append(st, &a));
	OK(sp_store_begin(st));
	audit_fill(&a, 41);
	OK(sp_store_audit_append(st, &a));
	OK(sp_store_commit(st));
	OK(sp_store_audit_verify(st, &bad));
	CHECK(bad == 0);
	CHECK(raw_int(&s, "SELECT max(seq) FROM audit") == 11);
	sp_store_close(st);
out:
	scratch_free(&s);
}

static void
t_audit_chain(void)
{
	struct scratch s;
	struct sp_store *st = audit_fresh(&s, 100);
	int64_t bad = -7;

	if (st == NULL)
		goto out;
	OK(sp_store_audit_verify(st, &bad));
	CHECK(bad == 0);
	CHECK(raw_int(&s, "SELECT count(*) FROM audit") == 100);
	CHECK(raw_int(&s, "SELECT max(seq) FROM audit") == 100);
	CHECK(raw_int(&s, "SELECT count(*) FROM audit WHERE prev_hash="
	    "'0000000000000000000000000000000000000000000000000000000000000000'"
	    ) == 1);
	/* The table refuses edits from anyone who leaves the triggers. */
	CHECK(raw_exec(&s, "UPDATE audit SET status=200 WHERE seq=3") ==
	    -1);
	CHECK(raw_exec(&s, "DELETE FROM audit WHERE seq=3") == -1);
	/* An empty trail verifies. */
	{
		struct scratch s2;
		struct sp_store *st2 = store_fresh(&s2);

		if (st2 != NULL) {
			bad = -1;
			OK(sp_store_audit_verify(st2, &bad));
			CHECK(bad == 0);
		}
		sp_store_close(st2);
		scratch_free(&s2);
	}
	/* Refused entries. */
	{
		struct sp_audit a;

		audit_fill(&a, 1);
		a.event = NULL;
		CHECK(sp_store_audit_append(st, &a) == -1);
		a.event = "bad event";
		CHECK(sp_store_audit_append(st, &a) == -1);
		a.event = "profile";
		a.mac = "000E08ABCDEF";
		CHECK(sp_store_audit_append(st, &a) == -1);
		CHECK(sp_store_audit_append(st, NULL) == -1);
	}
	OK(sp_store_audit_verify(st, &bad));
	sp_store_close(st);
out:
	scratch_free(&s);
}

/* Tampering (SQL run on the file) that verify must catch at seq. */
static void
tamper_case(const char *sql, int64_t want)
{
	struct scratch s;
	struct sp_store *st = audit_fresh(&s, 100);
	int64_t bad = 0;

	if (st == NULL)
		goto out;
	CHECK(raw_exec(&s, pg_url != NULL ?
	    "DROP TRIGGER audit_no_update ON audit;"
	    "DROP TRIGGER audit_no_delete ON audit;" :
	    "DROP TRIGGER audit_no_update;"
	    "DROP TRIGGER audit_no_delete;") == 0);
	CHECK(raw_exec(&s, sql) == 0);
	CHECK(sp_store_audit_verify(st, &bad) == -1);
	if (bad != want) {
		printf("# %s: bad %lld, expected %lld (%s)\n", sql,
		    (long long)bad, (long long)want, sp_store_error(st));
		CHECK(bad == want);
	}
	CHECK_HAS(sp_store_error(st), "audit: ");
	sp_store_close(st);
out:
	scratch_free(&s);
}

static void
t_audit_tamper(void)
{
	/* pg: the same tampering in PostgreSQL's words, where they differ. */
	static const struct {
		const char	*sql;
		int64_t		 bad;
		const char	*pg;
	} tab[] = {
		{ "UPDATE audit SET route='/prov/other.xml' WHERE seq=37", 37,
		    NULL },
		{ "UPDATE audit SET status=200 WHERE seq=3", 3, NULL },
		{ "UPDATE audit SET time=time+1 WHERE seq=64", 64, NULL },
		{ "UPDATE audit SET mac=NULL WHERE seq=2", 2, NULL },
		{ "UPDATE audit SET etag='' WHERE seq=10", 10, NULL },
		{ "UPDATE audit SET event='profile' WHERE seq=99", 99, NULL },
		{ "UPDATE audit SET ip='192.0.2.1' || char(0) || 'x' "
		    "WHERE seq=5", 5,
		    "UPDATE audit SET ip='\\x3139322e302e322e310078' "
		    "WHERE seq=5" },
		{ "UPDATE audit SET status='200' WHERE seq=6", 6, NULL },
		/* Typed columns: a value past 32 bits instead of text. */
		{ "UPDATE audit SET status='403x' WHERE seq=9", 9,
		    "UPDATE audit SET status=status + 4294967296 WHERE seq=9" },
		/* An altered hash: caught at its entry. */
		{ "UPDATE audit SET hash=CASE WHEN substr(hash, 1, 1)='0' "
		    "THEN '1' ELSE '0' END || substr(hash, 2) WHERE seq=20",
		    20, NULL },
		{ "UPDATE audit SET prev_hash=(SELECT hash FROM audit WHERE "
		    "seq=40) WHERE seq=42", 42, NULL },
		/* Removed entries: the first missing one. */
		{ "DELETE FROM audit WHERE seq=50", 50, NULL },
		{ "DELETE FROM audit WHERE seq BETWEEN 60 AND 70", 60, NULL },
		{ "DELETE FROM audit WHERE seq=1", 1, NULL },
		{ "DELETE FROM audit WHERE seq=100", 100, NULL },
		{ "DELETE FROM audit", 1, NULL },
		/* Renumbered to hide a removal. */
		{ "DELETE FROM audit WHERE seq=100;"
		    "UPDATE audit SET seq=100 WHERE seq=99", 99, NULL },
		/* Head rewritten, trail not. */
		{ "UPDATE meta SET value=value+1 WHERE key='audit_seq'", 101,
		    "UPDATE meta SET value=(value::bigint + 1)::text "
		    "WHERE key='audit_seq'" },
	};
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		ROW_BEGIN();
		tamper_case(pg_url != NULL && tab[i].pg != NULL ? tab[i].pg :
		    tab[i].sql, tab[i].bad);
		snprintf(name, sizeof(name), "audit tamper row %zu", i);
		ROW_END(name);
	}
}

static void
t_audit_two_connections(void)
{
	struct sp_err err = { "" };
	struct sp_store *st2 = NULL;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	struct sp_audit a;
	int64_t bad = 0;
	int i;

	if (st == NULL)
		goto out;
	if ((st2 = sp_store_open(s.url, &err)) == NULL) {
		printf("# %s\n", err.msg);
		CHECK(!"second open");
		goto out;
	}
	for (i = 1; i <= 100; i++) {
		audit_fill(&a, i);
		if (i % 2)
			OK(sp_store_audit_append(st, &a));
		else
			CHECK(sp_store_audit_append(st2, &a) == 0);
	}
	OK(sp_store_audit_verify(st, &bad));
	CHECK(sp_store_audit_verify(st2, &bad) == 0);
	CHECK(raw_int(&s, "SELECT count(*) FROM audit") == 100);
	/* An append inside a caller's transaction joins the chain too. */
	OK(sp_store_begin(st));
	audit_fill(&a, 101);
	OK(sp_store_audit_append(st, &a));
	OK(sp_store_commit(st));
	audit_fill(&a, 102);
	CHECK(sp_store_audit_append(st2, &a) == 0);
	OK(sp_store_audit_verify(st, &bad));
out:
	sp_store_close(st2);
	sp_store_close(st);
	scratch_free(&s);
}

/* Processes appending at once, each with its own connection. */
static void
t_audit_processes(void)
{
	enum { NPROC = 4, EACH = 50 };
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	int64_t bad = 0;
	pid_t pids[NPROC];
	int i, status;

	if (st == NULL)
		goto out;
	/* No SQLite connection may cross a fork: children open their own. */
	sp_store_close(st);
	st = NULL;
	for (i = 0; i < NPROC; i++) {
		if ((pids[i] = fork()) == -1)
			abort();
		if (pids[i] == 0) {
			struct sp_err err;
			struct sp_store *c = sp_store_open(s.url, &err);
			struct sp_audit a;
			int j, rc = c == NULL;

			for (j = 0; c != NULL && j < EACH; j++) {
				audit_fill(&a, i * EACH + j);
				if (sp_store_audit_append(c, &a) == -1) {
					printf("# child: %s\n",
					    sp_store_error(c));
					rc = 1;
					break;
				}
			}
			sp_store_close(c);
			fflush(stdout);
			_exit(rc);
		}
	}
	for (i = 0; i < NPROC; i++) {
		CHECK(waitpid(pids[i], &status, 0) == pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	{
		struct sp_err err = { "" };

		if ((st = sp_store_open(s.url, &err)) == NULL) {
			printf("# %s\n", err.msg);
			CHECK(!"reopen");
			goto out;
		}
	}
	OK(sp_store_audit_verify(st, &bad));
	CHECK(raw_int(&s, "SELECT count(*) FROM audit") == NPROC * EACH);
	sp_store_close(st);
out:
	scratch_free(&s);
}

/* --------------------------------------------------------------- blobs */

static void
t_blobs(void)
{
	static const char body[] = { 'C', 'R', 'L', '\0', '\xff', '\0', 'x' };
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	struct sp_buf b;
	int64_t v = -1;
	char *big = NULL;

	sp_buf_init(&b, 1024);
	if (st == NULL)
		goto out;
	CHECK(sp_store_blob_get(st, "crl", &b, &v) == 1);
	CHECK(b.len == 0);
	OK(sp_store_blob_put(st, "crl", body, sizeof(body)));
	CHECK(sp_store_blob_get(st, "crl", &b, &v) == 0);
	CHECK(b.len == sizeof(body) && memcmp(b.data, body, b.len) == 0);
	CHECK(v == 1);
	OK(sp_store_blob_put(st, "crl", "new", 3));
	sp_buf_reset(&b);
	CHECK(sp_store_blob_get(st, "crl", &b, NULL) == 0);
	CHECK(sp_store_blob_get(st, "crl", &b, &v) == 0);
	CHECK(b.len == 6 && memcmp(b.data, "newnew", 6) == 0); /* appended */
	CHECK(v == 2);
	/* The version alone, without the body. */
	v = 0;
	CHECK(sp_store_blob_get(st, "crl", NULL, &v) == 0);
	CHECK(v == 2);
	CHECK(sp_store_blob_get(st, "nothing", NULL, &v) == 1);
	/* Empty, and another name beside it. */
	OK(sp_store_blob_put(st, "ticket_keys", NULL, 0));
	sp_buf_reset(&b);
	CHECK(sp_store_blob_get(st, "ticket_keys", &b, &v) == 0);
	CHECK(b.len == 0 && v == 1);
	/* Refused names. */
	CHECK(sp_store_blob_put(st, "CRL", "x", 1) == -1);
	CHECK_HAS(sp_store_error(st), "blob name 'CRL'");
	CHECK(sp_store_blob_get(st, "a'; --", &b, &v) == -1);
	CHECK_HAS(sp_store_error(st), "blob name");
	CHECK(sp_store_blob_put(st, "", "x", 1) == -1);
	CHECK(sp_store_blob_put(st, NULL, "x", 1) == -1);
	/* Over the limit: refused before anything is read or stored. */
	if ((big = calloc(1, (size_t)SP_STORE_BLOB_MAX + 1)) == NULL)
		abort();
	CHECK(sp_store_blob_put(st, "big", big,
	    (size_t)SP_STORE_BLOB_MAX + 1) == -1);
	CHECK_HAS(sp_store_error(st), "over the limit");
	CHECK(sp_store_blob_get(st, "big", &b, &v) == 1);
	CHECK(raw_int(&s, "SELECT count(*) FROM blobs") == 2);
	/* A caller's buffer too small says so. */
	{
		struct sp_buf small;

		sp_buf_init(&small, 2);
		CHECK(sp_store_blob_get(st, "crl", &small, &v) == -1);
		CHECK_HAS(sp_store_error(st), "blob 'crl'");
		sp_buf_release(&small);
	}
	sp_store_close(st);
out:
	free(big);
	sp_buf_release(&b);
	scratch_free(&s);
}

/* ------------------------------------------------- PostgreSQL: the server */

/* The password never shows; the host and port do. */
static void
t_pg_url(void)
{
	struct sp_err err = { "" };
	struct sp_store *st;

	st = sp_store_open("postgresql://u:s3cret@127.0.0.1:1/x", &err);
	CHECK(st == NULL);
	sp_store_close(st);
	CHECK_HAS(err.msg, "store postgresql://***@127.0.0.1:1/x: cannot "
	    "connect: ");
	CHECK_HAS(err.msg, "port 1");
	CHECK(strstr(err.msg, "s3cret") == NULL);
	CHECK(strchr(err.msg, '\n') == NULL);
	err.msg[0] = '\0';
	CHECK(sp_store_open("postgres://u:s3cret@h/x?nosuch=1", &err) == NULL);
	CHECK_HAS(err.msg, "postgres://***@h/x?nosuch=1");
	CHECK_HAS(err.msg, "nosuch");
	CHECK(strstr(err.msg, "s3cret") == NULL);
	/* libpq quotes the whole URL in some messages: not the password. */
	err.msg[0] = '\0';
	CHECK(sp_store_open("postgresql://u:s3cret@[::1/x", &err) == NULL);
	CHECK_HAS(err.msg, "postgresql://***@[::1/x");
	CHECK(strstr(err.msg, "s3cret") == NULL);
}

/* Polls fd up to ms for changes; what sp_store_changes reported. */
static unsigned
changes_within(struct sp_store *st, int fd, long ms)
{
	unsigned what = 0;
	struct pollfd pfd;
	long waited = 0;
	int nfd;

	for (;;) {
		if (sp_store_changes(st, &what, &nfd) == -1) {
			printf("# changes: %s\n", sp_store_error(st));
			return what;
		}
		if (what != 0 || waited >= ms)
			return what;
		pfd.fd = nfd >= 0 ? nfd : fd;
		pfd.events = POLLIN;
		poll(&pfd, 1, 50);
		waited += 50;
	}
}

static void
t_pg_change_feed(void)
{
	struct sp_err err = { "" };
	struct sp_store *b = NULL;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	unsigned what = 0;
	int fd = -1, fd2 = -1;

	if (st == NULL)
		goto out;
	if ((b = sp_store_open(s.url, &err)) == NULL) {
		printf("# %s\n", err.msg);
		CHECK(!"second open");
		goto out;
	}
	OK(sp_store_watch(st, &fd));
	CHECK(fd >= 0);
	OK(sp_store_changes(st, &what, &fd2));
	CHECK(what == 0 && fd2 == fd);
	/* Another connection's change. */
	CHECK(sp_store_param_set(b, "default", "A", "1", SP_UA_NONE) == 0);
	CHECK(changes_within(st, fd, 1000) == SP_STORE_CHANGED_GEN);
	CHECK(sp_store_blob_put(b, "crl", "x", 1) == 0);
	CHECK(changes_within(st, fd, 1000) == SP_STORE_CHANGED_BLOB);
	/* Rolled back: nothing sent. */
	CHECK(sp_store_begin(b) == 0);
	CHECK(sp_store_param_set(b, "default", "A", "2", SP_UA_NONE) == 0);
	CHECK(sp_store_blob_put(b, "crl", "y", 1) == 0);
	sp_store_rollback(b);
	CHECK(changes_within(st, fd, 300) == 0);
	/* Committed: sent at the commit. */
	CHECK(sp_store_begin(b) == 0);
	CHECK(sp_store_param_set(b, "default", "A", "3", SP_UA_NONE) == 0);
	CHECK(changes_within(st, fd, 200) == 0);
	CHECK(sp_store_commit(b) == 0);
	CHECK(changes_within(st, fd, 1000) == SP_STORE_CHANGED_GEN);
	/* What changes no profile is not announced. */
	CHECK(sp_store_param_set(b, "default", "A", "3", SP_UA_NONE) == 0);
	CHECK(changes_within(st, fd, 300) == 0);
	/* The watcher's own changes count too. */
	OK(sp_store_param_unset(st, "default", "A"));
	CHECK(changes_within(st, fd, 1000) == SP_STORE_CHANGED_GEN);
out:
	sp_store_close(b);
	sp_store_close(st);
	scratch_free(&s);
}

/* Ends the sessions of sprov stores on s's database from another one. */
static int
kill_sessions(const struct scratch *s)
{
	return raw_exec(s, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE application_name='sprov' AND "
	    "datname=current_database() AND pid <> pg_backend_pid()");
}

static void
t_pg_reconnect(void)
{
	struct sp_err err = { "" };
	struct sp_store *b = NULL;
	struct scratch s;
	struct sp_store *st = store_fresh(&s);
	unsigned what = 0;
	uint64_t g = 0;
	struct sp_device d;
	int fd = -1;

	if (st == NULL)
		goto out;
	OK(sp_store_device_put(st, MAC_A, "FCH1", "m"));
	OK(sp_store_watch(st, &fd));
	CHECK(kill_sessions(&s) == 0);
	sleep_ms(100);
	/* The call that finds it gone fails, and says so. */
	CHECK(sp_store_generation(st, &g) == -1);
	CHECK_HAS(sp_store_error(st), "store: database connection lost: ");
	/* Within the back-off: at once, with when and why. */
	CHECK(sp_store_device_get(st, MAC_A, &d) == -1);
	CHECK_HAS(sp_store_error(st), "store: database unreachable (");
	CHECK_HAS(sp_store_error(st), "next attempt in ");
	CHECK(sp_store_changes(st, &what, &fd) == -1);
	CHECK(fd == -1);
	/* After it: connected again, prepared again, listening again. */
	sleep_ms(SP_PG_BACKOFF_MIN_MS + 100);
	OK(sp_store_generation(st, &g));
	CHECK(g >= 2);
	CHECK(sp_store_device_get(st, MAC_A, &d) == 0);
	what = 0;
	OK(sp_store_changes(st, &what, &fd));
	CHECK(what == SP_STORE_CHANGED_ALL);
	CHECK(fd >= 0);
	what = 0;
	OK(sp_store_changes(st, &what, &fd));
	CHECK(what == 0);
	if ((b = sp_store_open(s.url, &err)) == NULL) {
		printf("# %s\n", err.msg);
		CHECK(!"second open");
		goto out;
	}
	CHECK(sp_store_param_set(b, "default", "A", "1", SP_UA_NONE) == 0);
	CHECK(changes_within(st, fd, 1000) == SP_STORE_CHANGED_GEN);
	sp_store_close(b);
	b = NULL;
	/* sp_store_changes reconnects by itself when the back-off allows. */
	CHECK(kill_sessions(&s) == 0);
	sleep_ms(100);
	what = 0;
	CHECK(sp_store_changes(st, &what, &fd) == -1 && fd == -1);
	sleep_ms(SP_PG_BACKOFF_MIN_MS + 100);
	what = 0;
	OK(sp_store_changes(st, &what, &fd));
	CHECK(what == SP_STORE_CHANGED_ALL && fd >= 0);
	/* A caller's transaction is not carried over a reconnect. */
	OK(sp_store_begin(st));
	OK(sp_store_device_put(st, MAC_B, "FCH2", "m"));
	CHECK(kill_sessions(&s) == 0);
	sleep_ms(100);
	CHECK(sp_store_device_put(st, MAC_C, "FCH3", "m") == -1);
	sleep_ms(SP_PG_BACKOFF_MIN_MS + 100);
	CHECK(sp_store_device_put(st, MAC_C, "FCH3", "m") == -1);
	CHECK_HAS(sp_store_error(st), "inside the transaction");
	CHECK(sp_store_commit(st) == -1);
	CHECK(sp_store_commit(st) == -1);
	CHECK_HAS(sp_store_error(st), "no transaction is open");
	sleep_ms(SP_PG_BACKOFF_MIN_MS + 100);
	CHECK(sp_store_device_get(st, MAC_B, &d) == 1);
	CHECK(sp_store_device_get(st, MAC_C, &d) == 1);
	/* The same, ended by a rollback; then the store works again. */
	OK(sp_store_begin(st));
	OK(sp_store_device_put(st, MAC_B, "FCH2", "m"));
	CHECK(kill_sessions(&s) == 0);
	sleep_ms(100);
	CHECK(sp_store_device_put(st, MAC_C, "FCH3", "m") == -1);
	sp_store_rollback(st);
	sleep_ms(SP_PG_BACKOFF_MIN_MS + 100);
	OK(sp_store_device_put(st, MAC_C, "FCH3", "m"));
	CHECK(sp_store_device_get(st, MAC_B, &d) == 1);
	CHECK(sp_store_device_get(st, MAC_C, &d) == 0);
out:
	sp_store_close(b);
	sp_store_close(st);
	scratch_free(&s);
}

/* Nodes opening a new database at once: migrated once, all open. */
static void
t_pg_open_race(void)
{
	enum { NPROC = 6 };
	struct scratch s;
	pid_t pids[NPROC];
	int i, status;

	scratch_new(&s);
	for (i = 0; i < NPROC; i++) {
		if ((pids[i] = fork()) == -1)
			abort();
		if (pids[i] == 0) {
			struct sp_err err;
			struct sp_store *c = sp_store_open(s.url, &err);

			if (c == NULL)
				printf("# child: %s\n", err.msg);
			sp_store_close(c);
			fflush(stdout);
			_exit(c == NULL);
		}
	}
	for (i = 0; i < NPROC; i++) {
		CHECK(waitpid(pids[i], &status, 0) == pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK(raw_int(&s, "SELECT version FROM schema_version") == 2);
	CHECK(raw_int(&s, "SELECT count(*) FROM schema_version") == 1);
	CHECK(raw_int(&s, "SELECT count(*) FROM meta") == 1);
	scratch_free(&s);
}

/* A case for one backend only: skipped on the other, with why. */
#define RUN_SQLITE(fn) do {						\
	if (pg_url != NULL)						\
		t_skip(#fn, "sqlite only: a PostgreSQL store has no file"); \
	else								\
		RUN(fn);						\
} while (0)
#define RUN_PG(fn) do {							\
	if (pg_url == NULL)						\
		t_skip(#fn, "postgresql only: SPROV_TEST_PG not set "	\
		    "(run under tests/with-pg)");			\
	else								\
		RUN(fn);						\
} while (0)

int
main(void)
{
	if ((pg_url = getenv("SPROV_TEST_PG")) != NULL && *pg_url == '\0')
		pg_url = NULL;
	printf("# backend: %s\n", pg_url != NULL ? "postgresql" : "sqlite");
	RUN(t_open_creates_schema);
	RUN_SQLITE(t_file_removed);
	RUN(t_open_newer_refused);
	RUN(t_open_not_a_store);
	RUN(t_url_refused);
	RUN(t_devices);
	RUN(t_quarantine);
	RUN(t_groups);
	RUN(t_params_profile_order);
	RUN(t_param_unset);
	RUN(t_param_values_refused);
	RUN(t_generation);
	RUN(t_scope_check);
	RUN(t_sql_metachars);
	RUN(t_reports);
	RUN(t_device_seen);
	RUN(t_transactions);
	RUN(t_audit_chain);
	RUN(t_audit_in_transaction);
	RUN(t_audit_list);
	RUN(t_audit_tamper);
	RUN(t_audit_two_connections);
	RUN(t_audit_processes);
	RUN(t_blobs);
	RUN_PG(t_pg_url);
	RUN_PG(t_pg_open_race);
	RUN_PG(t_pg_change_feed);
	RUN_PG(t_pg_reconnect);
	return t_done();
}
