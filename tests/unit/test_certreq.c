/*
 * Unit tests for lib/certreq.c: the request life cycle in portal.db
 * (pending -> issued or rejected, once; revocation asked then done), the
 * lookup of a retried CSR, listings per organisation and of what waits,
 * the operator's reason checked, and the portal audit trail: its chain
 * verifies, and an entry edited behind the triggers' back is found.
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <sqlite3.h>

#include "harness.h"

#include "sprov/account.h"
#include "sprov/certreq.h"
#include "sprov/err.h"
#include "sprov/fsutil.h"

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

/* A small self-signed certificate standing in for an issued one. */
static X509 *
make_cert(long serial, long days)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	if (k == NULL || x == NULL)
		goto fail;
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"pv.telco.net", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	if (X509_sign(x, k, EVP_sha256()) <= 0)
		goto fail;
	EVP_PKEY_free(k);
	return x;
fail:
	EVP_PKEY_free(k);
	X509_free(x);
	return NULL;
}

static void
fill(struct sp_certreq *r, const char *org, const char *cn,
    const unsigned char *csr, size_t len)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->org, sizeof(r->org), "%s", org);
	snprintf(r->user, sizeof(r->user), "ops@telco");
	snprintf(r->via, sizeof(r->via), "web");
	snprintf(r->cn, sizeof(r->cn), "%s", cn);
	snprintf(r->fqdn, sizeof(r->fqdn), "%s", cn);
	r->days = 90;
	r->csr = (unsigned char *)(uintptr_t)csr;
	r->csrlen = len;
}

static const unsigned char csr1[] = "csr one, DER in real life";
static const unsigned char csr2[] = "csr two";

static void
t_lifecycle(void)
{
	struct scratch s;
	struct sp_accounts *a = scratch_open(&s);
	struct sp_certreq r, g;
	X509 *x = make_cert(0x1234, 90);
	long long id = 0, id2 = 0;

	CHECK(a != NULL && x != NULL);
	fill(&r, "Telco SA", "pv.telco.net", csr1, sizeof(csr1));
	CHECK(sp_certreq_add(a, &r, NULL, &id) == 0 && id > 0);
	CHECK(sp_certreq_get(a, id, &g) == 0);
	CHECK_STR(g.state, "pending");
	CHECK_STR(g.revoke, "none");
	CHECK(g.csrlen == sizeof(csr1) && memcmp(g.csr, csr1,
	    sizeof(csr1)) == 0);
	CHECK(g.cert == NULL);
	sp_certreq_release(&g);
	CHECK(sp_certreq_get(a, id + 100, &g) == 1);
	/* Revocation of what is not issued: refused. */
	CHECK(sp_certreq_revoke_request(a, id, 1) == -1);
	CHECK(sp_certreq_issue(a, id, x, "operator") == 0);
	CHECK(sp_certreq_issue(a, id, x, "operator") == -1);
	CHECK_HAS(sp_accounts_error(a), "not pending");
	CHECK(sp_certreq_reject(a, id, "too late", "operator") == -1);
	CHECK(sp_certreq_get(a, id, &g) == 0);
	CHECK_STR(g.state, "issued");
	CHECK_STR(g.serial, "1234");
	CHECK_STR(g.decided_by, "operator");
	CHECK(g.not_after > time(NULL) + 89 * 86400);
	CHECK(g.cert != NULL && g.certlen > 100);
	sp_certreq_release(&g);
	CHECK(sp_certreq_revoke_request(a, id, 1) == 0);
	CHECK(sp_certreq_revoke_request(a, id, 1) == -1);
	CHECK(sp_certreq_revoke_done(a, id, 1) == 0);
	CHECK(sp_certreq_revoke_done(a, id, 1) == -1);
	CHECK(sp_certreq_get(a, id, &g) == 0);
	CHECK_STR(g.revoke, "done");
	CHECK(g.revoke_reason == 1);
	sp_certreq_release(&g);
	/* Issued at once (online mode), then revoked by the operator. */
	fill(&r, "Telco SA", "pv2.telco.net", csr2, sizeof(csr2));
	CHECK(sp_certreq_add(a, &r, x, &id2) == 0 && id2 > id);
	CHECK(sp_certreq_get(a, id2, &g) == 0);
	CHECK_STR(g.state, "issued");
	sp_certreq_release(&g);
	CHECK(sp_certreq_revoked_serial(a, "1234", 4) == 0);
	CHECK(sp_certreq_get(a, id2, &g) == 0);
	CHECK_STR(g.revoke, "done");
	CHECK(g.revoke_reason == 4);
	sp_certreq_release(&g);
	X509_free(x);
	scratch_done(&s, a);
}

static void
t_reject_and_find(void)
{
	struct scratch s;
	struct sp_accounts *a = scratch_open(&s);
	struct sp_certreq r, g;
	long long id = 0;
	char longwhy[SP_CERTREQ_WHY_MAX + 2];

	CHECK(a != NULL);
	fill(&r, "Telco SA", "pv.telco.net", csr1, sizeof(csr1));
	CHECK(sp_certreq_add(a, &r, NULL, &id) == 0);
	CHECK(sp_certreq_find_csr(a, "Telco SA", csr1, sizeof(csr1), &g) ==
	    0 && g.id == id);
	sp_certreq_release(&g);
	/* Another organisation posting the same bytes finds nothing. */
	CHECK(sp_certreq_find_csr(a, "Other Inc", csr1, sizeof(csr1), &g) ==
	    1);
	CHECK(sp_certreq_find_csr(a, "Telco SA", csr2, sizeof(csr2), &g) ==
	    1);
	CHECK(sp_certreq_reject(a, id, "", "operator") == -1);
	CHECK_HAS(sp_accounts_error(a), "1 to");
	CHECK(sp_certreq_reject(a, id, "bad\nline", "operator") == -1);
	CHECK_HAS(sp_accounts_error(a), "control");
	memset(longwhy, 'x', sizeof(longwhy) - 1);
	longwhy[sizeof(longwhy) - 1] = '\0';
	CHECK(sp_certreq_reject(a, id, longwhy, "operator") == -1);
	CHECK(sp_certreq_reject(a, id, "CN not ours", "operator") == 0);
	CHECK(sp_certreq_reject(a, id, "again", "operator") == -1);
	CHECK(sp_certreq_get(a, id, &g) == 0);
	CHECK_STR(g.state, "rejected");
	CHECK_STR(g.why, "CN not ours");
	sp_certreq_release(&g);
	scratch_done(&s, a);
}

struct count {
	int		 n;
	long long	 first;
	bool		 other;
};

static int
count_row(void *arg, const struct sp_certreq *r)
{
	struct count *c = arg;

	if (c->n++ == 0)
		c->first = r->id;
	if (strcmp(r->org, "Telco SA") != 0)
		c->other = true;
	return r->csr == NULL && r->cert == NULL ? 0 : -1;
}

static void
t_list(void)
{
	struct scratch s;
	struct sp_accounts *a = scratch_open(&s);
	struct sp_certreq r;
	struct count c;
	X509 *x = make_cert(7, 10);
	long long id1 = 0, id2 = 0, id3 = 0;

	CHECK(a != NULL && x != NULL);
	fill(&r, "Telco SA", "a.telco.net", csr1, sizeof(csr1));
	CHECK(sp_certreq_add(a, &r, NULL, &id1) == 0);
	fill(&r, "Telco SA", "b.telco.net", csr2, sizeof(csr2));
	CHECK(sp_certreq_add(a, &r, x, &id2) == 0);
	fill(&r, "Other Inc", "c.other.net", csr2, sizeof(csr2));
	CHECK(sp_certreq_add(a, &r, NULL, &id3) == 0);
	memset(&c, 0, sizeof(c));
	CHECK(sp_certreq_list(a, "Telco SA", false, count_row, &c) == 0);
	CHECK(c.n == 2 && c.first == id2 && !c.other);
	memset(&c, 0, sizeof(c));
	CHECK(sp_certreq_list(a, NULL, true, count_row, &c) == 0);
	CHECK(c.n == 2 && c.first == id3);	/* the two pending */
	CHECK(sp_certreq_revoke_request(a, id2, 0) == 0);
	memset(&c, 0, sizeof(c));
	CHECK(sp_certreq_list(a, NULL, true, count_row, &c) == 0);
	CHECK(c.n == 3);			/* and the revocation */
	X509_free(x);
	scratch_done(&s, a);
}

static int
audit_seen(void *arg, const struct sp_portal_audit *e)
{
	int *n = arg;

	if (e->seq == 2 && (e->org != NULL || strcmp(e->action, "login") != 0))
		return -1;
	(*n)++;
	return 0;
}

static void
t_audit(void)
{
	struct scratch s;
	struct sp_accounts *a = scratch_open(&s);
	struct sp_portal_audit e;
	sqlite3 *db = NULL;
	long long n = -1;
	int seen = 0;

	CHECK(a != NULL);
	CHECK(sp_portal_audit_walk(a, NULL, NULL, &n) == 0 && n == 0);
	memset(&e, 0, sizeof(e));
	e.actor = "ops@telco";
	e.org = "Telco SA";
	e.ip = "192.0.2.1";
	e.action = "request";
	e.object = "1";
	e.outcome = "issued";
	e.detail = "pv.telco.net";
	CHECK(sp_portal_audit_add(a, &e) == 0);
	e.org = NULL;
	e.action = "login";
	e.outcome = "refused";
	e.detail = NULL;
	CHECK(sp_portal_audit_add(a, &e) == 0);
	e.actor = "operator";
	e.action = "approve";
	e.ip = NULL;
	CHECK(sp_portal_audit_add(a, &e) == 0);
	e.outcome = NULL;
	CHECK(sp_portal_audit_add(a, &e) == -1);
	CHECK(sp_portal_audit_walk(a, audit_seen, &seen, &n) == 0);
	CHECK(n == 3 && seen == 3);
	/* Anyone can type a long user name: the entry is cut, marked. */
	{
		static char big[90 * 1024];
		long long len = 0;

		memset(big, 'u', sizeof(big) - 1);
		e.actor = big;
		e.outcome = "refused";
		CHECK(sp_portal_audit_add(a, &e) == 0);
		e.actor = "operator";
		CHECK(sqlite3_open(s.db, &db) == SQLITE_OK);
		CHECK(sqlite3_exec(db, "SELECT 1", NULL, NULL, NULL) ==
		    SQLITE_OK);
		{
			sqlite3_stmt *st = NULL;

			CHECK(sqlite3_prepare_v2(db, "SELECT length(actor), "
			    "substr(actor, -3) FROM portal_audit WHERE seq=4",
			    -1, &st, NULL) == SQLITE_OK);
			CHECK(sqlite3_step(st) == SQLITE_ROW);
			len = sqlite3_column_int64(st, 0);
			CHECK_STR((const char *)sqlite3_column_text(st, 1),
			    "...");
			sqlite3_finalize(st);
		}
		CHECK(len == SP_AUDIT_FIELD_MAX);
		sqlite3_close(db);
		db = NULL;
		CHECK(sp_portal_audit_walk(a, NULL, NULL, &n) == 0 && n == 4);
	}
	/* The triggers refuse an edit... */
	CHECK(sqlite3_open(s.db, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE portal_audit SET outcome='ok' WHERE "
	    "seq=2", NULL, NULL, NULL) != SQLITE_OK);
	/* ...and one made behind their back breaks the chain. */
	CHECK(sqlite3_exec(db, "DROP TRIGGER portal_audit_no_update; UPDATE "
	    "portal_audit SET outcome='ok' WHERE seq=2", NULL, NULL, NULL) ==
	    SQLITE_OK);
	CHECK(sp_portal_audit_walk(a, NULL, NULL, &n) == -1);
	CHECK_HAS(sp_accounts_error(a), "entry 2");
	CHECK(n == 1);
	CHECK(sqlite3_exec(db, "UPDATE portal_audit SET outcome='refused' "
	    "WHERE seq=2; DROP TRIGGER portal_audit_no_delete; DELETE FROM "
	    "portal_audit WHERE seq=1", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sp_portal_audit_walk(a, NULL, NULL, &n) == -1);
	CHECK_HAS(sp_accounts_error(a), "breaks the chain");
	sqlite3_close(db);
	scratch_done(&s, a);
}

int
main(void)
{
	RUN(t_lifecycle);
	RUN(t_reject_and_find);
	RUN(t_list);
	RUN(t_audit);
	return t_done();
}
