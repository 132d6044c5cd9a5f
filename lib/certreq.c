/*
 * Certificate requests and the portal's audit trail in portal.db (see
 * certreq.h).  Statements are prepared per call: the portal sees a few
 * requests a minute, and the accounts handle keeps the cached ones of the
 * login path.  Every state change is one UPDATE guarded by the state it
 * leaves, so a request is issued or rejected once even when the portal
 * and an operator act on it at the same moment.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <sqlite3.h>

#include "sprov/ca.h"
#include "sprov/certreq.h"
#include "sprov/err.h"
#include "sprov/str.h"
#include "sprov/x509.h"

#include "account-int.h"
#include "sqlfile-int.h"
#include "store-int.h"

#define REQ_COLS "id, org, user, via, state, cn, fqdn, days, created, " \
	"decided, decided_by, why, serial, not_after, revoke, revoke_reason, " \
	"prev_cert IS NOT NULL"
#define AUDIT_FIELDS 7

static int
db_fail(struct sp_accounts *a, const char *what)
{
	return sp_err_set(sp_accounts_err(a), "%s: %s", what,
	    sqlite3_errmsg(sp_accounts_db(a)));
}

static sqlite3_stmt *
prep(struct sp_accounts *a, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(sp_accounts_db(a), sql, -1, &st, NULL) !=
	    SQLITE_OK) {
		db_fail(a, "requests");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static void
col_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	snprintf(dst, n, "%s", v != NULL ? (const char *)v : "");
}

static void
row_fill(sqlite3_stmt *st, struct sp_certreq *r)
{
	r->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, r->org, sizeof(r->org));
	col_text(st, 2, r->user, sizeof(r->user));
	col_text(st, 3, r->via, sizeof(r->via));
	col_text(st, 4, r->state, sizeof(r->state));
	col_text(st, 5, r->cn, sizeof(r->cn));
	col_text(st, 6, r->fqdn, sizeof(r->fqdn));
	r->days = sqlite3_column_int(st, 7);
	r->created = (time_t)sqlite3_column_int64(st, 8);
	r->decided = (time_t)sqlite3_column_int64(st, 9);
	col_text(st, 10, r->decided_by, sizeof(r->decided_by));
	col_text(st, 11, r->why, sizeof(r->why));
	col_text(st, 12, r->serial, sizeof(r->serial));
	r->not_after = (time_t)sqlite3_column_int64(st, 13);
	col_text(st, 14, r->revoke, sizeof(r->revoke));
	r->revoke_reason = sqlite3_column_int(st, 15);
	r->reenroll = sqlite3_column_int(st, 16) != 0;
}

static int
blob_dup(sqlite3_stmt *st, int i, unsigned char **out, size_t *len)
{
	const void *p = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);

	*out = NULL;
	*len = 0;
	if (p == NULL || n <= 0)
		return 0;
	if ((*out = malloc((size_t)n)) == NULL)
		return -1;
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	return 0;
}

static int
sha256_hex(const unsigned char *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	sp_str_hex(out, md, sizeof(md));
	return 0;
}

/* What the index would say of cert: serial (hex) and expiry. */
static int
cert_facts(X509 *cert, char *serial, size_t n, time_t *not_after,
    unsigned char **der, int *derlen)
{
	if (sp_x509_serial_hex(cert, serial, n) == -1 ||
	    (*not_after = sp_ca_asn1_time(X509_get0_notAfter(cert))) == -1)
		return -1;
	*der = NULL;
	if ((*derlen = i2d_X509(cert, der)) <= 0)
		return -1;
	return 0;
}

void
sp_certreq_release(struct sp_certreq *r)
{
	if (r == NULL)
		return;
	free(r->csr);
	free(r->cert);
	free(r->prev);
	r->csr = r->cert = r->prev = NULL;
	r->csrlen = r->certlen = r->prevlen = 0;
}

int
sp_certreq_add(struct sp_accounts *a, const struct sp_certreq *r,
    X509 *cert, long long *id)
{
	sqlite3_stmt *st = NULL;
	unsigned char *der = NULL;
	char sha[65], serial[80] = "";
	time_t na = 0, now = time(NULL);
	int derlen = 0, rc = -1;

	if (sha256_hex(r->csr, r->csrlen, sha) == -1 || (cert != NULL &&
	    cert_facts(cert, serial, sizeof(serial), &na, &der, &derlen) ==
	    -1)) {
		sp_err_set(sp_accounts_err(a), "requests: cannot read the "
		    "request or certificate");
		goto out;
	}
	if ((st = prep(a, "INSERT INTO requests(org, user, via, state, cn, "
	    "fqdn, days, created, decided, decided_by, csr, csr_sha256, "
	    "cert, serial, not_after, prev_cert) VALUES(?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)")) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, r->org, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->via, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, cert != NULL ? "issued" : "pending", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->cn, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->fqdn, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, r->days);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 9, cert != NULL ? (sqlite3_int64)now : 0);
	sqlite3_bind_text(st, 10, cert != NULL ? r->user : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_blob(st, 11, r->csr, (int)r->csrlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, sha, -1, SQLITE_STATIC);
	if (cert != NULL)
		sqlite3_bind_blob(st, 13, der, derlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)na);
	if (r->prev != NULL)
		sqlite3_bind_blob(st, 16, r->prev, (int)r->prevlen,
		    SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(a, "requests");
		goto out;
	}
	*id = sqlite3_last_insert_rowid(sp_accounts_db(a));
	rc = 0;
out:
	sqlite3_finalize(st);
	OPENSSL_free(der);
	return rc;
}

/* One row of st into r, blobs included: 0, 1 none, -1. */
static int
get_one(struct sp_accounts *a, sqlite3_stmt *st, struct sp_certreq *r)
{
	int s = sqlite3_step(st);

	memset(r, 0, sizeof(*r));
	if (s == SQLITE_DONE)
		return 1;
	if (s != SQLITE_ROW)
		return db_fail(a, "requests");
	row_fill(st, r);
	if (blob_dup(st, 17, &r->csr, &r->csrlen) == -1 ||
	    blob_dup(st, 18, &r->cert, &r->certlen) == -1 ||
	    blob_dup(st, 19, &r->prev, &r->prevlen) == -1) {
		sp_certreq_release(r);
		return sp_err_set(sp_accounts_err(a), "out of memory");
	}
	return 0;
}

int
sp_certreq_get(struct sp_accounts *a, long long id, struct sp_certreq *r)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = prep(a, "SELECT " REQ_COLS ", csr, cert, prev_cert FROM "
	    "requests WHERE id=?1")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = get_one(a, st, r);
	sqlite3_finalize(st);
	return rc;
}

int
sp_certreq_find_csr(struct sp_accounts *a, const char *org,
    const unsigned char *csr, size_t csrlen, struct sp_certreq *r)
{
	sqlite3_stmt *st;
	char sha[65];
	int rc;

	if (sha256_hex(csr, csrlen, sha) == -1)
		return sp_err_set(sp_accounts_err(a), "requests: hash failed");
	if ((st = prep(a, "SELECT " REQ_COLS ", csr, cert, prev_cert FROM "
	    "requests WHERE org=?1 AND csr_sha256=?2 ORDER BY id DESC "
	    "LIMIT 1")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
	rc = get_one(a, st, r);
	sqlite3_finalize(st);
	return rc;
}

/* Runs a guarded UPDATE: -1 with msg when no row was in the state. */
static int
update_guarded(struct sp_accounts *a, sqlite3_stmt *st, long long id,
    const char *msg)
{
	int rc = -1;

	if (sqlite3_step(st) != SQLITE_DONE)
		db_fail(a, "requests");
	else if (sqlite3_changes(sp_accounts_db(a)) != 1)
		sp_err_set(sp_accounts_err(a), "request %lld %s", id, msg);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

int
sp_certreq_issue(struct sp_accounts *a, long long id, X509 *cert,
    const char *by)
{
	sqlite3_stmt *st;
	unsigned char *der = NULL;
	char serial[80];
	time_t na;
	int derlen, rc;

	if (cert_facts(cert, serial, sizeof(serial), &na, &der, &derlen) ==
	    -1) {
		OPENSSL_free(der);
		return sp_err_set(sp_accounts_err(a), "requests: cannot "
		    "encode the certificate");
	}
	if ((st = prep(a, "UPDATE requests SET state='issued', cert=?2, "
	    "serial=?3, not_after=?4, decided=?5, decided_by=?6 WHERE id=?1 "
	    "AND state='pending'")) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_blob(st, 2, der, derlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)na);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 6, by, -1, SQLITE_STATIC);
	rc = update_guarded(a, st, id, "is not pending");
	OPENSSL_free(der);
	return rc;
}

int
sp_certreq_reject(struct sp_accounts *a, long long id, const char *why,
    const char *by)
{
	sqlite3_stmt *st;
	size_t i;

	if (why == NULL || *why == '\0' || strlen(why) > SP_CERTREQ_WHY_MAX)
		return sp_err_set(sp_accounts_err(a), "the reason must be 1 "
		    "to %d characters", SP_CERTREQ_WHY_MAX);
	/* Shown on a page and in listings: printable text only. */
	for (i = 0; why[i] != '\0'; i++)
		if ((unsigned char)why[i] < 0x20 || why[i] == 0x7f)
			return sp_err_set(sp_accounts_err(a), "the reason "
			    "holds a control character");
	if ((st = prep(a, "UPDATE requests SET state='rejected', why=?2, "
	    "decided=?3, decided_by=?4 WHERE id=?1 AND state='pending'")) ==
	    NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
	return update_guarded(a, st, id, "is not pending");
}

int
sp_certreq_revoke_request(struct sp_accounts *a, long long id, int reason)
{
	sqlite3_stmt *st;

	if ((st = prep(a, "UPDATE requests SET revoke='requested', "
	    "revoke_reason=?2 WHERE id=?1 AND state='issued' AND "
	    "revoke='none'")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, reason);
	return update_guarded(a, st, id, "is not an issued certificate "
	    "(or its revocation was already asked for)");
}

int
sp_certreq_revoke_done(struct sp_accounts *a, long long id, int reason)
{
	sqlite3_stmt *st;

	if ((st = prep(a, "UPDATE requests SET revoke='done', "
	    "revoke_reason=?2 WHERE id=?1 AND state='issued' AND "
	    "revoke<>'done'")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, reason);
	return update_guarded(a, st, id, "is not an issued certificate "
	    "(or is already revoked)");
}

int
sp_certreq_revoked_serial(struct sp_accounts *a, const char *serial,
    int reason)
{
	sqlite3_stmt *st;
	int rc = 0;

	if ((st = prep(a, "UPDATE requests SET revoke='done', "
	    "revoke_reason=?2 WHERE serial=?1 AND serial<>'' AND "
	    "revoke<>'done'")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, reason);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(a, "requests");
	sqlite3_finalize(st);
	return rc;
}

int
sp_certreq_list(struct sp_accounts *a, const char *org, bool waiting,
    int (*fn)(void *, const struct sp_certreq *), void *arg)
{
	sqlite3_stmt *st;
	struct sp_certreq r;
	int s, rc = 0;

	if ((st = prep(a, "SELECT " REQ_COLS " FROM requests WHERE "
	    "(?1 IS NULL OR org=?1) AND (?2=0 OR state='pending' OR "
	    "revoke='requested') ORDER BY id DESC LIMIT ?3")) == NULL)
		return -1;
	if (org != NULL)
		sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, waiting ? 1 : 0);
	sqlite3_bind_int(st, 3, SP_CERTREQ_LIST_MAX);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		row_fill(st, &r);
		if (fn(arg, &r) == -1) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(a, "requests");
	sqlite3_finalize(st);
	return rc;
}

/* -------------------------------------------------------------- audit */

static void
audit_fields(const struct sp_portal_audit *e, const char **f, size_t *n)
{
	size_t i;

	f[0] = e->actor;
	f[1] = e->org;
	f[2] = e->ip;
	f[3] = e->action;
	f[4] = e->object;
	f[5] = e->outcome;
	f[6] = e->detail;
	for (i = 0; i < AUDIT_FIELDS; i++)
		n[i] = f[i] != NULL ? strlen(f[i]) : 0;
}

/* A field cut to SP_AUDIT_FIELD_MAX bytes, "..." marking the cut: what
 * anyone may type (a user name at the login form) must not grow an
 * append-only table by 96 KiB a request. */
static const char *
audit_cut(const char *v, char *buf)
{
	if (v == NULL || strlen(v) <= SP_AUDIT_FIELD_MAX)
		return v;
	memcpy(buf, v, SP_AUDIT_FIELD_MAX - 3);
	memcpy(buf + SP_AUDIT_FIELD_MAX - 3, "...", 4);
	return buf;
}

int
sp_portal_audit_add(struct sp_accounts *a, const struct sp_portal_audit *in)
{
	sqlite3 *db = sp_accounts_db(a);
	sqlite3_stmt *st = NULL;
	struct sp_portal_audit e = *in;
	const char *f[AUDIT_FIELDS];
	size_t n[AUDIT_FIELDS];
	char prev[65], hash[65], cut[AUDIT_FIELDS][SP_AUDIT_FIELD_MAX + 1];
	int rc = -1, intx = 0;

	if (e.actor == NULL || e.action == NULL || e.outcome == NULL)
		return sp_err_set(sp_accounts_err(a), "audit: actor, action "
		    "and outcome are needed");
	e.actor = audit_cut(e.actor, cut[0]);
	e.org = audit_cut(e.org, cut[1]);
	e.ip = audit_cut(e.ip, cut[2]);
	e.action = audit_cut(e.action, cut[3]);
	e.object = audit_cut(e.object, cut[4]);
	e.outcome = audit_cut(e.outcome, cut[5]);
	e.detail = audit_cut(e.detail, cut[6]);
	/* The head is read and extended under the write lock: one chain
	 * even with the portal and an operator writing at once. */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		db_fail(a, "audit");
		goto out;
	}
	intx = 1;
	if ((st = prep(a, "SELECT seq, hash FROM portal_audit ORDER BY seq "
	    "DESC LIMIT 1")) == NULL)
		goto out;
	memset(prev, '0', 64);
	prev[64] = '\0';
	e.seq = 1;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		e.seq = sqlite3_column_int64(st, 0) + 1;
		col_text(st, 1, prev, sizeof(prev));
		break;
	case SQLITE_DONE:
		break;
	default:
		db_fail(a, "audit");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (strlen(prev) != 64) {
		sp_err_set(sp_accounts_err(a), "audit: the head entry's hash "
		    "is damaged");
		goto out;
	}
	e.time = time(NULL);
	audit_fields(&e, f, n);
	if (sp_store_audit_hash(prev, e.seq, (int64_t)e.time, 0, f, n,
	    AUDIT_FIELDS, hash) == -1) {
		sp_err_set(sp_accounts_err(a), "audit: hash failed");
		goto out;
	}
	if ((st = prep(a, "INSERT INTO portal_audit(seq, time, actor, org, "
	    "ip, action, object, outcome, detail, prev_hash, hash) "
	    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")) == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, e.seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)e.time);
	sqlite3_bind_text(st, 3, e.actor, -1, SQLITE_STATIC);
	sp_sqlfile_bind_str(st, 4, e.org);
	sp_sqlfile_bind_str(st, 5, e.ip);
	sqlite3_bind_text(st, 6, e.action, -1, SQLITE_STATIC);
	sp_sqlfile_bind_str(st, 7, e.object);
	sqlite3_bind_text(st, 8, e.outcome, -1, SQLITE_STATIC);
	sp_sqlfile_bind_str(st, 9, e.detail);
	sqlite3_bind_text(st, 10, prev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(a, "audit");
		goto out;
	}
	intx = 0;
	rc = 0;
out:
	sqlite3_finalize(st);
	if (intx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static const char *
col_opt(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int
sp_portal_audit_walk(struct sp_accounts *a,
    int (*fn)(void *, const struct sp_portal_audit *), void *arg,
    long long *count)
{
	sqlite3_stmt *st;
	struct sp_portal_audit e;
	const char *f[AUDIT_FIELDS], *ph, *h;
	size_t n[AUDIT_FIELDS];
	char prev[65], want[65];
	long long seen = 0;
	int s, rc = 0;

	*count = 0;
	if ((st = prep(a, "SELECT seq, time, actor, org, ip, action, object, "
	    "outcome, detail, prev_hash, hash FROM portal_audit ORDER BY "
	    "seq")) == NULL)
		return -1;
	memset(prev, '0', 64);
	prev[64] = '\0';
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&e, 0, sizeof(e));
		e.seq = sqlite3_column_int64(st, 0);
		e.time = (time_t)sqlite3_column_int64(st, 1);
		e.actor = col_opt(st, 2);
		e.org = col_opt(st, 3);
		e.ip = col_opt(st, 4);
		e.action = col_opt(st, 5);
		e.object = col_opt(st, 6);
		e.outcome = col_opt(st, 7);
		e.detail = col_opt(st, 8);
		ph = col_opt(st, 9);
		h = col_opt(st, 10);
		audit_fields(&e, f, n);
		if (e.seq != seen + 1 || ph == NULL || h == NULL ||
		    strcmp(ph, prev) != 0 || sp_store_audit_hash(prev, e.seq,
		    (int64_t)e.time, 0, f, n, AUDIT_FIELDS, want) == -1 ||
		    strcmp(want, h) != 0) {
			rc = sp_err_set(sp_accounts_err(a), "audit: entry %lld "
			    "breaks the chain (edited, or one before it was "
			    "removed)", e.seq);
			break;
		}
		snprintf(prev, sizeof(prev), "%s", h);
		seen++;
		if (fn != NULL && fn(arg, &e) == -1) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(a, "audit");
	sqlite3_finalize(st);
	*count = seen;
	return rc;
}
