/*
 * Unit tests for lib/account.c: opening (0600, reopening keeps data),
 * validation of orgs, domains, users and passwords (each refusal names the
 * field and the rule; SQL metacharacters refused or kept inert), domain
 * coverage on label boundaries, login outcomes, the stand-in scrypt for
 * unknown users, the persisted throttle per user and per address, and the
 * listing.  Each case works in a fresh directory.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"

#include "sprov/account.h"
#include "sprov/err.h"
#include "sprov/fsutil.h"
#include "sprov/limits.h"

#define PW	"correct horse battery"
#define PW2	"another long passphrase"
#define IP	"192.0.2.10"
#define T0	((time_t)1700000000)
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* ---------------------------------------------------------------- helpers */

struct scratch {
	char	*dir;
	char	 db[PATH_MAX];
};

static struct sp_accounts *
scratch_open(struct scratch *s)
{
	struct sp_accounts *a;
	struct sp_err err;

	s->dir = t_tmpdir();
	snprintf(s->db, sizeof(s->db), "%s/portal.db", s->dir);
	if ((a = sp_accounts_open(s->db, &err)) == NULL)
		printf("# open: %s\n", err.msg);
	return a;
}

static void
scratch_done(struct scratch *s, struct sp_accounts *a)
{
	struct sp_err err;

	sp_accounts_close(a);
	if (sp_fs_rmtree(s->dir, &err) == -1)
		printf("# rmtree: %s\n", err.msg);
	free(s->dir);
}

/* An org "Telco" with domain telco.net and user alice (password PW). */
static int
populate(struct sp_accounts *a)
{
	if (sp_accounts_org_add(a, "Telco") == -1 ||
	    sp_accounts_domain_add(a, "Telco", "telco.net") == -1 ||
	    sp_accounts_user_add(a, "Telco", "alice", PW) == -1) {
		printf("# populate: %s\n", sp_accounts_error(a));
		return -1;
	}
	return 0;
}

static int
login(struct sp_accounts *a, const char *user, const char *pw,
    const char *ip, time_t now, char *org, int *retry)
{
	return sp_accounts_login(a, user, pw, ip, now, org, retry);
}

/* One integer from the raw file, for looking at what is stored. */
static int64_t
raw_int(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* The stored hash of alice, copied into out. */
static void
raw_hash(const char *db, const char *user, char *out, size_t n)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	const unsigned char *t;

	out[0] = '\0';
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "SELECT hash FROM users WHERE name=?1", -1,
	    &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW &&
	    (t = sqlite3_column_text(st, 0)) != NULL)
		snprintf(out, n, "%s", (const char *)t);
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* A table row's outcome: accepted (msg NULL), or -1 naming msg. */
static void
row_check(struct sp_accounts *a, const char *what, int rc, const char *msg)
{
	const char *e = sp_accounts_error(a);

	if (msg == NULL ? rc == 0 : rc == -1 && strstr(e, msg) != NULL)
		return;
	printf("#   row '%s': %d, \"%s\"; expected %s\n", what != NULL ?
	    what : "(null)", rc, e, msg != NULL ? msg : "success");
	t_check_failed(__FILE__, __LINE__, "row");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ cases */

static void
t_open_mode_reopen(void)
{
	struct scratch s;
	struct sp_accounts *a;
	struct sp_err err;
	struct stat sb;
	char org[SP_ACCOUNT_ORG_MAX + 1];
	int retry;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(stat(s.db, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	CHECK(populate(a) == 0);
	sp_accounts_close(a);
	a = sp_accounts_open(s.db, &err);
	CHECK(a != NULL);
	if (a != NULL) {
		CHECK(login(a, "alice", PW, IP, T0, org, &retry) == 0);
		CHECK_STR(org, "Telco");
		CHECK(sp_accounts_domain_allowed(a, "Telco", "telco.net") == 1);
		CHECK(sp_accounts_org_add(a, "Telco") == -1);
	}
	CHECK(raw_int(s.db, "SELECT version FROM schema_version") == 3);
	CHECK(raw_int(s.db, "SELECT count(*) FROM pragma_journal_mode "
	    "WHERE journal_mode='wal'") == 1);
	scratch_done(&s, a);
	sp_accounts_close(NULL);
	CHECK_STR(sp_accounts_error(NULL), "no accounts database");
}

static void
t_open_refused(void)
{
	struct scratch s;
	struct sp_accounts *a;
	struct sp_err err;
	char path[PATH_MAX + 16];
	sqlite3 *h = NULL;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	sp_accounts_close(a);
	a = NULL;
	/* Password hashes: a group-readable file is refused. */
	CHECK(chmod(s.db, 0640) == 0);
	CHECK(sp_accounts_open(s.db, &err) == NULL);
	CHECK_HAS(err.msg, "group");
	CHECK(chmod(s.db, 0600) == 0);
	/* Some other SQLite database is not taken over. */
	snprintf(path, sizeof(path), "%s/other.db", s.dir);
	CHECK(sqlite3_open(path, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, "CREATE TABLE t(x)", NULL, NULL, NULL) ==
	    SQLITE_OK);
	sqlite3_close(h);
	CHECK(chmod(path, 0600) == 0);
	CHECK(sp_accounts_open(path, &err) == NULL);
	CHECK_HAS(err.msg, "not a sprov accounts database");
	CHECK(sp_accounts_open("", &err) == NULL);
	scratch_done(&s, a);
}

static void
t_org_validation(void)
{
	static const struct {
		const char	*org;
		const char	*msg;	/* NULL: accepted */
	} rows[] = {
		{ "Telco", NULL },
		{ "Telco Networks Ltd.", NULL },
		{ "a_b-c.d 9", NULL },
		/* Kept inert: only letters, spaces and '-'. */
		{ "Robert -- DROP TABLE orgs", NULL },
		{ "", "org: 1 to 64 characters" },
		{ A64 "a",
		    "org: 1 to 64 characters" },
		{ "x'; DROP TABLE orgs; --", "org 'x'; DROP TABLE orgs; --': "
		    "only letters, digits" },
		{ "a/b", "only letters, digits, '.', '_', '-' and spaces" },
		{ "caf\xc3\xa9", "org 'caf?" "?': only letters" },
		{ " lead", "must not begin or end with a space" },
		{ "trail ", "must not begin or end with a space" },
	};
	struct scratch s;
	struct sp_accounts *a;
	size_t i;
	int rc;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = sp_accounts_org_add(a, rows[i].org);
		row_check(a, rows[i].org, rc, rows[i].msg);
	}
	/* Unique regardless of case; the message says so. */
	CHECK(sp_accounts_org_add(a, "telco") == -1);
	CHECK_HAS(sp_accounts_error(a), "already exists");
	CHECK(sp_accounts_org_add(a, NULL) == -1);
	CHECK(raw_int(s.db, "SELECT count(*) FROM orgs") == 4);
	CHECK(raw_int(s.db, "SELECT count(*) FROM orgs WHERE name="
	    "'Robert -- DROP TABLE orgs'") == 1);
	scratch_done(&s, a);
}

static void
t_domain_validation(void)
{
	static const struct {
		const char	*dom;
		const char	*msg;	/* NULL: accepted */
	} rows[] = {
		{ "telco.net", NULL },
		{ "PV.Example.COM", NULL },
		{ "a-b.x1.org", NULL },
		{ "", "domain: empty" },
		{ "net", "domain 'net': at least two labels" },
		{ "telco.net.", "no trailing dot" },
		{ "a..b", "empty label" },
		{ ".a.b", "empty label" },
		{ "-a.b", "must not begin with '-'" },
		{ "a-.b", "must not end with '-'" },
		{ "*.telco.org", "no wildcards" },
		{ "a_b.org", "letters, digits and '-' only" },
		{ "x'.org", "letters, digits and '-' only" },
		{ "10.0.0.1", "all digits" },
		{ A64 ".org", "at most 63" },
	};
	char big[300];
	struct scratch s;
	struct sp_accounts *a;
	size_t i;
	int rc;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(sp_accounts_org_add(a, "Telco") == 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = sp_accounts_domain_add(a, "Telco", rows[i].dom);
		row_check(a, rows[i].dom, rc, rows[i].msg);
	}
	/* 254 characters: over the limit. */
	memset(big, 'a', sizeof(big));
	for (i = 60; i < 254; i += 61)
		big[i] = '.';
	big[254] = '\0';
	CHECK(sp_accounts_domain_add(a, "Telco", big) == -1);
	CHECK_HAS(sp_accounts_error(a), "over 253");
	/* Stored lower-case; a duplicate in another case is a duplicate. */
	CHECK(raw_int(s.db, "SELECT count(*) FROM domains WHERE "
	    "name='pv.example.com'") == 1);
	CHECK(sp_accounts_domain_add(a, "Telco", "TELCO.net") == -1);
	CHECK_HAS(sp_accounts_error(a), "already has it");
	CHECK(sp_accounts_domain_add(a, "Nobody", "nobody.net") == -1);
	CHECK_HAS(sp_accounts_error(a), "unknown org 'Nobody'");
	/* Removal. */
	CHECK(sp_accounts_domain_remove(a, "Telco", "a-b.x1.org") == 0);
	CHECK(sp_accounts_domain_remove(a, "Telco", "a-b.x1.org") == -1);
	CHECK_HAS(sp_accounts_error(a), "not a domain of org 'Telco'");
	CHECK(sp_accounts_domain_allowed(a, "Telco", "a-b.x1.org") == 0);
	scratch_done(&s, a);
}

static void
t_domain_other_org(void)
{
	struct scratch s;
	struct sp_accounts *a;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(populate(a) == 0);
	CHECK(sp_accounts_org_add(a, "Evil") == 0);
	/* Equal, below, above: certified for one org only. */
	CHECK(sp_accounts_domain_add(a, "Evil", "telco.net") == -1);
	CHECK_HAS(sp_accounts_error(a), "overlaps 'telco.net' of org 'Telco'");
	CHECK(sp_accounts_domain_add(a, "Evil", "pv.telco.net") == -1);
	CHECK_HAS(sp_accounts_error(a), "overlaps");
	CHECK(sp_accounts_domain_add(a, "Evil", "net.") == -1);
	CHECK(sp_accounts_domain_add(a, "Telco", "pv.other.org") == 0);
	CHECK(sp_accounts_domain_add(a, "Evil", "other.org") == -1);
	CHECK_HAS(sp_accounts_error(a), "overlaps 'pv.other.org'");
	/* A name that only ends with the same letters is another name. */
	CHECK(sp_accounts_domain_add(a, "Evil", "eviltelco.net") == 0);
	CHECK(sp_accounts_domain_allowed(a, "Evil", "eviltelco.net") == 1);
	CHECK(sp_accounts_domain_allowed(a, "Evil", "telco.net") == 0);
	CHECK(sp_accounts_domain_allowed(a, "Telco", "eviltelco.net") == 0);
	scratch_done(&s, a);
}

static void
t_domain_allowed(void)
{
	static const struct {
		const char	*name;
		int		 want;
	} rows[] = {
		{ "telco.net", 1 },
		{ "pv.telco.net", 1 },
		{ "a.b.c.pv.telco.net", 1 },
		{ "PV.TELCO.NET", 1 },
		{ "Telco.Net", 1 },
		{ "eviltelco.net", 0 },
		{ "telco.net.evil.org", 0 },
		{ "net", 0 },
		{ "elco.net", 0 },
		{ "telco.org", 0 },
		{ "pv.telco.net.", 0 },
		{ "pv..telco.net", 0 },
		{ ".telco.net", 0 },
		{ "*.telco.net", 0 },
		{ "", 0 },
	};
	struct scratch s;
	struct sp_accounts *a;
	size_t i;
	int rc;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(populate(a) == 0);
	CHECK(sp_accounts_org_add(a, "Other") == 0);
	CHECK(sp_accounts_domain_add(a, "Other", "other.org") == 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = sp_accounts_domain_allowed(a, "Telco", rows[i].name);
		if (rc != rows[i].want) {
			printf("#   '%s': %d, expected %d (%s)\n", rows[i].name,
			    rc, rows[i].want, sp_accounts_error(a));
			t_check_failed(__FILE__, __LINE__, "allowed row");
		}
	}
	/* Each refusal says why. */
	CHECK(sp_accounts_domain_allowed(a, "Telco", "pv.telco.net.") == 0);
	CHECK_HAS(sp_accounts_error(a), "no trailing dot");
	CHECK(sp_accounts_domain_allowed(a, "Telco", "pv..telco.net") == 0);
	CHECK_HAS(sp_accounts_error(a), "empty label");
	CHECK(sp_accounts_domain_allowed(a, "Telco", "eviltelco.net") == 0);
	CHECK_HAS(sp_accounts_error(a), "not a domain of org 'Telco'");
	/* The other org's domain is not Telco's, and the reverse. */
	CHECK(sp_accounts_domain_allowed(a, "Telco", "x.other.org") == 0);
	CHECK(sp_accounts_domain_allowed(a, "Other", "x.other.org") == 1);
	CHECK(sp_accounts_domain_allowed(a, "Other", "pv.telco.net") == 0);
	CHECK(sp_accounts_domain_allowed(a, "Nobody", "pv.telco.net") == 0);
	CHECK_HAS(sp_accounts_error(a), "unknown org");
	CHECK(sp_accounts_domain_allowed(a, "bad/org", "pv.telco.net") == -1);
	scratch_done(&s, a);
}

static void
t_user_validation(void)
{
	static const struct {
		const char	*user;
		const char	*pw;
		const char	*msg;	/* NULL: accepted */
	} rows[] = {
		{ "bob", PW, NULL },
		{ "ops.team_1@telco-net", PW, NULL },
		{ "", PW, "user: 1 to 64 characters" },
		{ A64 "a",
		    PW, "user: 1 to 64 characters" },
		{ "Bob", PW, "user 'Bob': only lower-case letters" },
		{ "bob'--", PW, "user 'bob'--': only lower-case letters" },
		{ "b o", PW, "only lower-case letters, digits, '.', '_', '@' "
		    "and '-'" },
		{ "carol", "short", "password: 12 to 1024 bytes" },
		{ "carol", "elevenchars", "password: 12 to 1024 bytes" },
		{ "longusername", "LongUserName", "password: must not be the "
		    "user name" },
		{ "carol", NULL, "password: missing" },
	};
	char big[SP_ACCOUNT_PASSWORD_MAX + 2];
	struct scratch s;
	struct sp_accounts *a;
	size_t i;
	int rc;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(sp_accounts_org_add(a, "Telco") == 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		rc = sp_accounts_user_add(a, "Telco", rows[i].user, rows[i].pw);
		row_check(a, rows[i].user, rc, rows[i].msg);
	}
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(sp_accounts_user_add(a, "Telco", "carol", big) == -1);
	CHECK_HAS(sp_accounts_error(a), "password: 12 to 1024 bytes");
	big[SP_ACCOUNT_PASSWORD_MAX] = '\0';
	CHECK(sp_accounts_user_add(a, "Telco", "carol", big) == 0);
	/* Unique across orgs. */
	CHECK(sp_accounts_org_add(a, "Other") == 0);
	CHECK(sp_accounts_user_add(a, "Other", "bob", PW) == -1);
	CHECK_HAS(sp_accounts_error(a), "user 'bob' already exists");
	CHECK(sp_accounts_user_add(a, "Nobody", "dave", PW) == -1);
	CHECK_HAS(sp_accounts_error(a), "unknown org");
	CHECK(sp_accounts_password_set(a, "nobody", PW) == -1);
	CHECK_HAS(sp_accounts_error(a), "unknown user 'nobody'");
	CHECK(sp_accounts_user_disable(a, "nobody", true) == -1);
	CHECK_HAS(sp_accounts_error(a), "unknown user 'nobody'");
	CHECK(raw_int(s.db, "SELECT count(*) FROM users") == 3);
	scratch_done(&s, a);
}

static void
t_hash_stored(void)
{
	struct scratch s;
	struct sp_accounts *a;
	char h1[300], h2[300];

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(populate(a) == 0);
	CHECK(sp_accounts_user_add(a, "Telco", "bob", PW) == 0);
	raw_hash(s.db, "alice", h1, sizeof(h1));
	raw_hash(s.db, "bob", h2, sizeof(h2));
	CHECK(strncmp(h1, "scrypt$15$8$1$", 14) == 0);
	CHECK(strstr(h1, PW) == NULL);
	/* 14 + 32 hex of salt + '$' + 64 hex of key. */
	CHECK(strlen(h1) == 14 + 32 + 1 + 64);
	/* Same password, different salts. */
	CHECK(strcmp(h1, h2) != 0);
	scratch_done(&s, a);
}

static void
t_login(void)
{
	struct scratch s;
	struct sp_accounts *a;
	char org[SP_ACCOUNT_ORG_MAX + 1], h1[300], h2[300];
	int retry = -1;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(populate(a) == 0);
	CHECK(login(a, "alice", PW, IP, T0, org, &retry) == 0);
	CHECK_STR(org, "Telco");
	CHECK(retry == 0);
	CHECK(raw_int(s.db, "SELECT last_login FROM users") == (int64_t)T0);
	/* Wrong password, unknown user, disabled: one outcome, one message. */
	CHECK(login(a, "alice", PW2, IP, T0, org, &retry) == 1);
	CHECK_STR(sp_accounts_error(a), "login refused");
	CHECK(login(a, "nobody", PW, IP, T0, org, &retry) == 1);
	CHECK_STR(sp_accounts_error(a), "login refused");
	CHECK(login(a, "Alice", PW, IP, T0, org, &retry) == 1);
	CHECK(login(a, "alice", "", IP, T0, org, &retry) == 1);
	CHECK(sp_accounts_user_disable(a, "alice", true) == 0);
	CHECK(login(a, "alice", PW, IP, T0, org, &retry) == 1);
	CHECK_STR(sp_accounts_error(a), "login refused");
	CHECK(sp_accounts_user_disable(a, "alice", false) == 0);
	CHECK(login(a, "alice", PW, IP, T0, org, &retry) == 0);
	/* A new password replaces the old one. */
	raw_hash(s.db, "alice", h1, sizeof(h1));
	CHECK(sp_accounts_password_set(a, "alice", PW2) == 0);
	raw_hash(s.db, "alice", h2, sizeof(h2));
	CHECK(strcmp(h1, h2) != 0);
	CHECK(login(a, "alice", PW, IP, T0, org, &retry) == 1);
	CHECK(login(a, "alice", PW2, IP, T0, org, &retry) == 0);
	CHECK(sp_accounts_password_set(a, "alice", "alice") == -1);
	CHECK(sp_accounts_password_set(a, "alice", "ALICE") == -1);
	/* Bad address: a caller's error. */
	CHECK(login(a, "alice", PW2, "not-an-ip", T0, org, &retry) == -1);
	CHECK_HAS(sp_accounts_error(a), "ip 'not-an-ip'");
	CHECK(login(a, "alice", PW2, "2001:db8::1", T0, org, &retry) == 0);
	scratch_done(&s, a);
}

/* An unknown user costs one scrypt too: timing does not tell. */
static void
t_login_unknown_timing(void)
{
	struct scratch s;
	struct sp_accounts *a;
	char org[SP_ACCOUNT_ORG_MAX + 1];
	double t, known = 1e9, unknown = 1e9;
	int i, retry;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(populate(a) == 0);
	/* The fastest of a few of each, from different addresses. */
	for (i = 0; i < 3; i++) {
		t = now_s();
		CHECK(login(a, "alice", PW2, "198.51.100.1", T0, org,
		    &retry) == 1);
		t = now_s() - t;
		known = t < known ? t : known;
		t = now_s();
		CHECK(login(a, "nobody", PW2, "198.51.100.2", T0, org,
		    &retry) == 1);
		t = now_s() - t;
		unknown = t < unknown ? t : unknown;
	}
	printf("# wrong password %.1f ms, unknown user %.1f ms\n",
	    known * 1e3, unknown * 1e3);
	/* Skipping scrypt would be some thousand times faster. */
	CHECK(unknown * 10 > known);
	/* A malformed name too. */
	t = now_s();
	CHECK(login(a, "NO SUCH'USER", PW2, "198.51.100.3", T0, org,
	    &retry) == 1);
	CHECK((now_s() - t) * 10 > known);
	scratch_done(&s, a);
}

static void
t_throttle_user(void)
{
	struct scratch s;
	struct sp_accounts *a;
	struct sp_err err;
	char org[SP_ACCOUNT_ORG_MAX + 1];
	time_t now = T0;
	int i, retry = 0, first;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(populate(a) == 0);
	for (i = 0; i < SP_ACCOUNT_FAILS_USER; i++)
		CHECK(login(a, "alice", PW2, IP, now + i, org, &retry) == 1);
	now += SP_ACCOUNT_FAILS_USER - 1;
	/* Locked out: the right password too, from another address too. */
	CHECK(login(a, "alice", PW, IP, now, org, &retry) == 2);
	CHECK(retry >= SP_ACCOUNT_LOCK_MIN_S);
	CHECK_HAS(sp_accounts_error(a), "too many failed logins");
	CHECK(login(a, "alice", PW, "203.0.113.7", now + 30, org, &retry) ==
	    2);
	CHECK(retry >= 1 && retry <= SP_ACCOUNT_LOCK_MIN_S - 30);
	/* Survives a reopen (another process, a restart). */
	sp_accounts_close(a);
	if ((a = sp_accounts_open(s.db, &err)) == NULL) {
		printf("# reopen: %s\n", err.msg);
		CHECK(0);
		scratch_done(&s, NULL);
		return;
	}
	CHECK(login(a, "alice", PW, IP, now + 1, org, &retry) == 2);
	/* Other users are not affected. */
	CHECK(sp_accounts_user_add(a, "Telco", "bob", PW) == 0);
	CHECK(login(a, "bob", PW, IP, now + 1, org, &retry) == 0);
	/* Past the lockout: the right password works and resets. */
	now += SP_ACCOUNT_LOCK_MIN_S + 1;
	CHECK(login(a, "alice", PW, IP, now, org, &retry) == 0);
	CHECK_STR(org, "Telco");
	CHECK(raw_int(s.db, "SELECT count(*) FROM login_fails WHERE "
	    "kind='user'") == 0);
	for (i = 0; i < SP_ACCOUNT_FAILS_USER - 1; i++)
		CHECK(login(a, "alice", PW2, IP, now, org, &retry) == 1);
	CHECK(login(a, "alice", PW, IP, now, org, &retry) == 0);
	/* Lockouts in a row grow: 60, 120, 240... at most an hour. */
	for (i = 0; i < SP_ACCOUNT_FAILS_USER; i++)
		CHECK(login(a, "alice", PW2, IP, now, org, &retry) == 1);
	CHECK(login(a, "alice", PW2, IP, now, org, &retry) == 2);
	first = retry;
	CHECK(first == SP_ACCOUNT_LOCK_MIN_S);
	now += first;
	CHECK(login(a, "alice", PW2, IP, now, org, &retry) == 1);
	CHECK(login(a, "alice", PW, IP, now, org, &retry) == 2);
	CHECK(retry == 2 * SP_ACCOUNT_LOCK_MIN_S);
	for (i = 0; i < 8; i++) {
		now += retry;
		CHECK(login(a, "alice", PW2, IP, now, org, &retry) == 1);
		CHECK(login(a, "alice", PW, IP, now, org, &retry) == 2);
	}
	CHECK(retry == SP_ACCOUNT_LOCK_MAX_S);
	/* Failures of an unknown name are counted alike (no telling). */
	for (i = 0; i < SP_ACCOUNT_FAILS_USER; i++)
		CHECK(login(a, "ghost", PW2, "203.0.113.9", now, org,
		    &retry) == 1);
	CHECK(login(a, "ghost", PW2, "203.0.113.9", now, org, &retry) == 2);
	scratch_done(&s, a);
}

static void
t_throttle_ip(void)
{
	struct scratch s;
	struct sp_accounts *a;
	char org[SP_ACCOUNT_ORG_MAX + 1], user[32], addr[64];
	time_t now = T0;
	int i, retry = 0;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(populate(a) == 0);
	/* Different users, one address: each user under its own limit. */
	for (i = 0; i < SP_ACCOUNT_FAILS_IP; i++) {
		snprintf(user, sizeof(user), "user%d", i % 10);
		CHECK(login(a, user, PW2, IP, now, org, &retry) == 1);
	}
	CHECK(login(a, "alice", PW, IP, now, org, &retry) == 2);
	CHECK(retry >= SP_ACCOUNT_LOCK_MIN_S);
	/* IPv4-mapped IPv6 is the same address. */
	CHECK(login(a, "alice", PW, "::ffff:192.0.2.10", now, org, &retry) ==
	    2);
	/* Another address is not affected; the user was not locked. */
	CHECK(login(a, "alice", PW, "192.0.2.11", now, org, &retry) == 0);
	/* A success does not clear the address's count. */
	CHECK(login(a, "alice", PW, IP, now + 1, org, &retry) == 2);
	now += SP_ACCOUNT_LOCK_MIN_S + 1;
	CHECK(login(a, "alice", PW, IP, now, org, &retry) == 0);
	/* IPv6: one /64 is one client. */
	for (i = 0; i < SP_ACCOUNT_FAILS_IP; i++) {
		snprintf(user, sizeof(user), "v6user%d", i % 10);
		snprintf(addr, sizeof(addr), "2001:db8:1:2::%x", i + 1);
		CHECK(login(a, user, PW2, addr, now, org, &retry) == 1);
	}
	CHECK(login(a, "alice", PW, "2001:db8:1:2:ffff::1", now, org,
	    &retry) == 2);
	CHECK(login(a, "alice", PW, "2001:db8:1:3::1", now, org, &retry) ==
	    0);
	/* The window slides: old failures stop counting and are pruned. */
	now += SP_ACCOUNT_FAIL_WINDOW_S + SP_ACCOUNT_LOCK_MAX_S;
	CHECK(login(a, "alice", PW2, IP, now, org, &retry) == 1);
	CHECK(raw_int(s.db, "SELECT count(*) FROM login_fails") == 2);
	CHECK(login(a, "alice", PW, IP, now, org, &retry) == 0);
	scratch_done(&s, a);
}

struct listed {
	char	out[1024];
	size_t	len;
	int	stop_after;
	int	n;
};

static int
list_cb(void *arg, const struct sp_account_row *r)
{
	struct listed *l = arg;
	int n;

	if (l->stop_after > 0 && l->n >= l->stop_after)
		return -1;
	l->n++;
	n = snprintf(l->out + l->len, sizeof(l->out) - l->len, "%d:%s:%s%s|",
	    (int)r->kind, r->org, r->name != NULL ? r->name : "-",
	    r->kind == SP_ACCOUNT_USER ? (r->disabled ? ":off" : ":on") : "");
	if (n > 0 && (size_t)n < sizeof(l->out) - l->len)
		l->len += (size_t)n;
	return 0;
}

static void
t_list(void)
{
	struct scratch s;
	struct sp_accounts *a;
	struct listed l;

	if ((a = scratch_open(&s)) == NULL) {
		CHECK(0);
		return;
	}
	memset(&l, 0, sizeof(l));
	CHECK(sp_accounts_list(a, list_cb, &l) == 0);
	CHECK_STR(l.out, "");
	CHECK(populate(a) == 0);
	CHECK(sp_accounts_org_add(a, "Acme") == 0);
	CHECK(sp_accounts_domain_add(a, "Telco", "pv.example.com") == 0);
	CHECK(sp_accounts_user_add(a, "Telco", "bob", PW) == 0);
	CHECK(sp_accounts_user_disable(a, "bob", true) == 0);
	memset(&l, 0, sizeof(l));
	CHECK(sp_accounts_list(a, list_cb, &l) == 0);
	CHECK_STR(l.out, "0:Acme:-|0:Telco:-|1:Telco:pv.example.com|"
	    "1:Telco:telco.net|2:Telco:alice:on|2:Telco:bob:off|");
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	CHECK(sp_accounts_list(a, list_cb, &l) == -1);
	CHECK(l.n == 2);
	/* Usable again after a stop. */
	memset(&l, 0, sizeof(l));
	CHECK(sp_accounts_list(a, list_cb, &l) == 0);
	CHECK(l.n == 6);
	scratch_done(&s, a);
}

int
main(void)
{
	RUN(t_open_mode_reopen);
	RUN(t_open_refused);
	RUN(t_org_validation);
	RUN(t_domain_validation);
	RUN(t_domain_other_org);
	RUN(t_domain_allowed);
	RUN(t_user_validation);
	RUN(t_hash_stored);
	RUN(t_login);
	RUN(t_login_unknown_timing);
	RUN(t_throttle_user);
	RUN(t_throttle_ip);
	RUN(t_list);
	return t_done();
}
