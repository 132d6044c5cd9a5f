#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "sprov/buf.h"
#include "sprov/ca.h"
#include "sprov/fsutil.h"
#include "sprov/str.h"

#define CA_SCHEMA_VERSION	1
#define CA_BUSY_MS		10000

static const char *const root_names[SP_CA_NROOTS] = {
	[SP_CA_SERVER] = "server-ca",
	[SP_CA_DEVICE] = "device-ca",
	[SP_CA_ADMIN] = "admin-ca",
};

static const char *const root_titles[SP_CA_NROOTS] = {
	[SP_CA_SERVER] = "Provisioning Server CA",
	[SP_CA_DEVICE] = "Device CA",
	[SP_CA_ADMIN] = "Admin CA",
};

static const char schema[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE certs("
    " serial TEXT PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK(kind IN ('root','server','device','admin')),"
    " issuer TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " cn TEXT,"
    " mac TEXT,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " issued_at INTEGER NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'valid'"
    "  CHECK(status IN ('valid','revoked')),"
    " revoked_at INTEGER,"
    " reason INTEGER,"
    " der BLOB NOT NULL);"
    "CREATE INDEX certs_mac ON certs(mac) WHERE mac IS NOT NULL;"
    "CREATE INDEX certs_kind ON certs(kind, not_after);";

struct sp_ca {
	char			 dir[PATH_MAX];
	sqlite3			*db;
	sqlite3_stmt		*ins;
	X509			*roots[SP_CA_NROOTS];
	struct sp_issuer	*issuers[SP_CA_NROOTS];
	char			*pass;
	struct sp_err		 err;
};

const char *
sp_ca_root_name(enum sp_ca_root r)
{
	return root_names[r];
}

int
sp_ca_root_parse(const char *s, enum sp_ca_root *out)
{
	static const char *const shortn[SP_CA_NROOTS] = { "server", "device",
	    "admin" };
	int i;

	for (i = 0; i < SP_CA_NROOTS; i++)
		if (strcmp(s, shortn[i]) == 0 || strcmp(s, root_names[i]) == 0) {
			*out = (enum sp_ca_root)i;
			return 0;
		}
	return -1;
}

const char *
sp_ca_error(const struct sp_ca *ca)
{
	return ca->err.msg;
}

const char *
sp_ca_dir(const struct sp_ca *ca)
{
	return ca->dir;
}

time_t
sp_ca_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	return timegm(&tm);
}

static int
db_exec(sqlite3 *db, const char *sql, struct sp_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sp_err_set(err, "index: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
db_open(const char *path, int create, sqlite3 **out, struct sp_err *err)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    (create ? SQLITE_OPEN_CREATE : 0);

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		sp_err_set(err, "%s: %s", path, db ? sqlite3_errmsg(db) :
		    "cannot open index");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, CA_BUSY_MS);
	sqlite3_extended_result_codes(db, 1);
	/*
	 * Rollback journal, not WAL: reading the index leaves the directory
	 * byte-for-byte as it was, and full sync makes a commit durable.
	 */
	/*
	 * A bulk batch inserts at random places in the serial index: give it
	 * room to stay in memory (64 MiB, allocated only as used) and read
	 * the file through a mapping rather than a copy per page.
	 */
	if (db_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;"
	    "PRAGMA mmap_size=1073741824;", err) == -1) {
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

int
sp_ca_rec_fill(struct sp_ca_rec *r, X509 *x, enum sp_cert_kind kind,
    enum sp_ca_root issuer, const char *mac, struct sp_err *err)
{
	char subject[512];

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->issuer = issuer;
	if (mac != NULL)
		snprintf(r->mac, sizeof(r->mac), "%s", mac);
	if (sp_x509_serial_hex(x, r->serial, sizeof(r->serial)) == -1)
		return sp_err_set(err, "cannot read serial");
	sp_x509_name_oneline(X509_get_subject_name(x), subject,
	    sizeof(subject));
	if (sp_x509_name_get(X509_get_subject_name(x), NID_commonName, r->cn,
	    sizeof(r->cn)) == -1)
		r->cn[0] = '\0';
	r->not_before = sp_ca_asn1_time(X509_get0_notBefore(x));
	r->not_after = sp_ca_asn1_time(X509_get0_notAfter(x));
	if ((r->subject = strdup(subject)) == NULL)
		return sp_err_set(err, "out of memory");
	if ((r->derlen = i2d_X509(x, &r->der)) <= 0) {
		sp_ca_rec_release(r);
		return sp_err_ssl(err, "cannot encode certificate");
	}
	return 0;
}

void
sp_ca_rec_release(struct sp_ca_rec *r)
{
	if (r == NULL)
		return;
	free(r->subject);
	OPENSSL_free(r->der);
	r->subject = NULL;
	r->der = NULL;
}

static int
record_rec(sqlite3 *db, sqlite3_stmt **stp, const struct sp_ca_rec *r,
    struct sp_err *err)
{
	static const char sql[] = "INSERT INTO certs(serial, kind, issuer, "
	    "subject, cn, mac, not_before, not_after, issued_at, der) "
	    "VALUES(?,?,?,?,?,?,?,?,?,?)";
	sqlite3_stmt *st = *stp;
	int rc;

	if (st == NULL && sqlite3_prepare_v2(db, sql, -1, &st, NULL) !=
	    SQLITE_OK)
		return sp_err_set(err, "index: %s", sqlite3_errmsg(db));
	*stp = st;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, r->serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sp_x509_kind_name(r->kind), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, 3, root_names[r->issuer], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->subject, -1, SQLITE_STATIC);
	if (r->cn[0] != '\0')
		sqlite3_bind_text(st, 5, r->cn, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	if (r->mac[0] != '\0')
		sqlite3_bind_text(st, 6, r->mac, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, r->not_before);
	sqlite3_bind_int64(st, 8, r->not_after);
	sqlite3_bind_int64(st, 9, time(NULL));
	sqlite3_bind_blob(st, 10, r->der, r->derlen, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return sp_err_set(err, "index: serial %s already "
			    "issued", r->serial);
		return sp_err_set(err, "index: %s", sqlite3_errmsg(db));
	}
	return 0;
}

static int
record(sqlite3 *db, sqlite3_stmt **stp, X509 *x, enum sp_cert_kind kind,
    enum sp_ca_root issuer, const char *mac, struct sp_err *err)
{
	struct sp_ca_rec r;
	int rc;

	if (sp_ca_rec_fill(&r, x, kind, issuer, mac, err) == -1)
		return -1;
	rc = record_rec(db, stp, &r, err);
	sp_ca_rec_release(&r);
	return rc;
}

static int
write_pem_key(const char *path, EVP_PKEY *k, const char *pass,
    struct sp_err *err)
{
	struct sp_buf b;
	int rc;

	sp_buf_init(&b, 1 << 16);
	b.secret = 1;
	rc = sp_x509_key_pem(k, pass, &b, err);
	if (rc == 0)
		rc = sp_fs_write_new(path, b.data, b.len, 0600, 0, err);
	sp_buf_release(&b);
	return rc;
}

static int
write_pem_cert(const char *path, X509 *x, struct sp_err *err)
{
	struct sp_buf b;
	int rc;

	sp_buf_init(&b, 1 << 16);
	rc = sp_x509_cert_pem(x, &b, err);
	if (rc == 0)
		rc = sp_fs_write_new(path, b.data, b.len, 0644, 0, err);
	sp_buf_release(&b);
	return rc;
}

static int
dir_empty_or_absent(const char *dir, struct sp_err *err)
{
	struct dirent *de;
	struct stat st;
	int entries = 0;
	DIR *d;

	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		return sp_err_set(err, "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return sp_err_set(err, "%s exists and is not a directory", dir);
	if ((d = opendir(dir)) == NULL)
		return sp_err_set(err, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			entries++;
	closedir(d);
	/* An empty directory is replaced by the rename at the end. */
	if (entries > 0)
		return sp_err_set(err, "%s is not empty: refusing to touch an "
		    "existing CA (choose another directory with -d)", dir);
	return 0;
}

static int
init_in(const char *tmp, const struct sp_ca_init_opts *o, struct sp_err *err)
{
	char path[PATH_MAX], cn[128];
	struct sp_keygen *kg = NULL;
	sqlite3_stmt *ins = NULL;
	sqlite3 *db = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int i, rc = -1;

	snprintf(path, sizeof(path), "%s/index.db", tmp);
	if (db_open(path, 1, &db, err) == -1)
		goto out;
	if (db_exec(db, "BEGIN", err) == -1 || db_exec(db, schema, err) == -1)
		goto out;
	if ((kg = sp_keygen_new(o->keytype, err)) == NULL)
		goto out;
	for (i = 0; i < SP_CA_NROOTS; i++) {
		if ((k = sp_keygen_run(kg, err)) == NULL)
			goto out;
		/* The org is in O; the CN names it too when both fit. */
		if (snprintf(cn, sizeof(cn), "%s %s", o->org ? o->org :
		    "sprov", root_titles[i]) > SP_CN_MAX)
			snprintf(cn, sizeof(cn), "sprov %s", root_titles[i]);
		if ((x = sp_x509_make_root(k, cn, o->org ? o->org : "sprov",
		    o->days, err)) == NULL)
			goto out;
		snprintf(path, sizeof(path), "%s/%s.key", tmp, root_names[i]);
		if (write_pem_key(path, k, o->pass, err) == -1)
			goto out;
		snprintf(path, sizeof(path), "%s/%s.crt", tmp, root_names[i]);
		if (write_pem_cert(path, x, err) == -1)
			goto out;
		if (record(db, &ins, x, SP_KIND_ROOT, (enum sp_ca_root)i,
		    NULL, err) == -1)
			goto out;
		EVP_PKEY_free(k);
		X509_free(x);
		k = NULL;
		x = NULL;
	}
	snprintf(path, sizeof(path), "INSERT INTO meta VALUES"
	    "('schema_version','%d'),('key_type','%s'),"
	    "('crl_number_server-ca','0'),('crl_number_device-ca','0'),"
	    "('crl_number_admin-ca','0')", CA_SCHEMA_VERSION,
	    sp_x509_keytype_name(o->keytype));
	if (db_exec(db, path, err) == -1 || db_exec(db, "COMMIT", err) == -1)
		goto out;
	snprintf(path, sizeof(path), "%s/crl", tmp);
	if (mkdir(path, 0755) == -1) {
		sp_err_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(ins);
	if (db != NULL && sqlite3_close(db) != SQLITE_OK && rc == 0)
		rc = sp_err_set(err, "index: cannot close");
	sp_keygen_free(kg);
	EVP_PKEY_free(k);
	X509_free(x);
	return rc;
}

int
sp_ca_init(const char *dir, const struct sp_ca_init_opts *o,
    struct sp_err *err)
{
	char tmp[PATH_MAX], parent[PATH_MAX], *slash;
	int rc = -1;

	if (o->days < 1 || o->days > SP_DAYS_MAX)
		return sp_err_set(err, "--days must be 1 to %d", SP_DAYS_MAX);
	if (o->org != NULL && (strlen(o->org) == 0 ||
	    strlen(o->org) > SP_ORG_MAX ||
	    !sp_str_printable(o->org, strlen(o->org))))
		return sp_err_set(err, "--org must be 1 to %d printable ASCII "
		    "characters", SP_ORG_MAX);
	snprintf(parent, sizeof(parent), "%s", dir);
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' &&
	    slash != parent)
		*slash = '\0';		/* trailing slashes */
	if (dir_empty_or_absent(parent, err) == -1)
		return -1;
	/* Build beside the target, then rename: a CA appears whole or not. */
	if (snprintf(tmp, sizeof(tmp), "%s.init-XXXXXX", parent) >=
	    (int)sizeof(tmp))
		return sp_err_set(err, "%s: path too long", dir);
	if (mkdtemp(tmp) == NULL)
		return sp_err_set(err, "%s: %s", tmp, strerror(errno));
	if (chmod(tmp, 0700) == -1) {
		sp_err_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (init_in(tmp, o, err) == -1 || sp_fs_sync_dir(tmp, err) == -1)
		goto out;
	if (rename(tmp, parent) == -1) {
		sp_err_set(err, "%s: %s", parent, strerror(errno));
		goto out;
	}
	if ((slash = strrchr(parent, '/')) != NULL)
		*(slash == parent ? slash + 1 : slash) = '\0';
	else
		snprintf(parent, sizeof(parent), ".");
	rc = sp_fs_sync_dir(parent, err);
	return rc;
out:
	{
		struct sp_err e2;

		sp_fs_rmtree(tmp, &e2);
	}
	return rc;
}

struct sp_ca *
sp_ca_open(const char *dir, const char *pass, struct sp_err *err)
{
	char path[PATH_MAX], ver[16] = "";
	sqlite3_stmt *st = NULL;
	struct sp_ca *ca;
	int i;

	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	snprintf(ca->dir, sizeof(ca->dir), "%s", dir);
	if (pass != NULL && (ca->pass = strdup(pass)) == NULL) {
		sp_err_set(err, "out of memory");
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/index.db", dir);
	if (access(path, F_OK) == -1) {
		sp_err_set(err, "%s: no CA here (%s); create one with "
		    "'sprov-ca -d %s init'", dir, strerror(errno), dir);
		goto fail;
	}
	if (db_open(path, 0, &ca->db, err) == -1)
		goto fail;
	if (sqlite3_prepare_v2(ca->db, "SELECT value FROM meta WHERE "
	    "key='schema_version'", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sp_err_set(err, "%s: not a sprov CA index (%s)", path,
		    sqlite3_errmsg(ca->db));
		sqlite3_finalize(st);
		goto fail;
	}
	snprintf(ver, sizeof(ver), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (strcmp(ver, "1") != 0) {
		sp_err_set(err, "%s: index schema version %s is not supported",
		    path, ver);
		goto fail;
	}
	for (i = 0; i < SP_CA_NROOTS; i++) {
		snprintf(path, sizeof(path), "%s/%s.crt", dir, root_names[i]);
		if ((ca->roots[i] = sp_x509_cert_load(path, err)) == NULL)
			goto fail;
	}
	return ca;
fail:
	sp_ca_free(ca);
	return NULL;
}

void
sp_ca_free(struct sp_ca *ca)
{
	int i;

	if (ca == NULL)
		return;
	sqlite3_finalize(ca->ins);
	sqlite3_close(ca->db);
	for (i = 0; i < SP_CA_NROOTS; i++) {
		X509_free(ca->roots[i]);
		sp_issuer_free(ca->issuers[i]);
	}
	if (ca->pass != NULL) {
		OPENSSL_cleanse(ca->pass, strlen(ca->pass));
		free(ca->pass);
	}
	free(ca);
}

X509 *
sp_ca_root_cert(struct sp_ca *ca, enum sp_ca_root r)
{
	return ca->roots[r];
}

struct sp_issuer *
sp_ca_issuer(struct sp_ca *ca, enum sp_ca_root r)
{
	char path[PATH_MAX];
	EVP_PKEY *k;

	if (ca->issuers[r] != NULL)
		return ca->issuers[r];
	snprintf(path, sizeof(path), "%s/%s.key", ca->dir, root_names[r]);
	if ((k = sp_x509_key_load(path, ca->pass, &ca->err)) == NULL)
		return NULL;
	ca->issuers[r] = sp_issuer_new(ca->roots[r], k, &ca->err);
	EVP_PKEY_free(k);
	return ca->issuers[r];
}

int
sp_ca_begin(struct sp_ca *ca)
{
	return db_exec(ca->db, "BEGIN IMMEDIATE", &ca->err);
}

int
sp_ca_commit(struct sp_ca *ca)
{
	return db_exec(ca->db, "COMMIT", &ca->err);
}

void
sp_ca_rollback(struct sp_ca *ca)
{
	struct sp_err e;

	if (!sqlite3_get_autocommit(ca->db))
		db_exec(ca->db, "ROLLBACK", &e);
}

int
sp_ca_record(struct sp_ca *ca, X509 *x, enum sp_cert_kind kind,
    enum sp_ca_root issuer, const char *mac)
{
	return record(ca->db, &ca->ins, x, kind, issuer, mac, &ca->err);
}

int
sp_ca_record_rec(struct sp_ca *ca, const struct sp_ca_rec *r)
{
	return record_rec(ca->db, &ca->ins, r, &ca->err);
}

int
sp_ca_valid_devices(struct sp_ca *ca, struct sp_ca_macserial **out,
    size_t *nout)
{
	struct sp_ca_macserial *v = NULL, *nv;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (sqlite3_prepare_v2(ca->db, "SELECT mac, serial FROM certs WHERE "
	    "kind='device' AND status='valid' AND not_after>? ORDER BY mac",
	    -1, &st, NULL) != SQLITE_OK)
		return sp_err_set(&ca->err, "index: %s",
		    sqlite3_errmsg(ca->db));
	sqlite3_bind_int64(st, 1, time(NULL));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				sqlite3_finalize(st);
				free(v);
				return sp_err_set(&ca->err, "out of memory");
			}
			v = nv;
		}
		snprintf(v[n].mac, sizeof(v[n].mac), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		snprintf(v[n].serial, sizeof(v[n].serial), "%s",
		    (const char *)sqlite3_column_text(st, 1));
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return sp_err_set(&ca->err, "index: %s",
		    sqlite3_errmsg(ca->db));
	}
	*out = v;
	*nout = n;
	return 0;
}

X509 *
sp_ca_sign_server(struct sp_ca *ca, X509_REQ *req, int days,
    struct sp_csr_info *info)
{
	struct sp_issuer *is;
	struct sp_issue rq;

	if (sp_x509_csr_check(req, info, &ca->err) == -1)
		return NULL;
	if ((is = sp_ca_issuer(ca, SP_CA_SERVER)) == NULL)
		return NULL;
	memset(&rq, 0, sizeof(rq));
	rq.kind = SP_KIND_SERVER;
	rq.subject = X509_REQ_get_subject_name(req);
	rq.pubkey = X509_REQ_get0_pubkey(req);
	rq.dns = info->fqdn;
	rq.days = days;
	return sp_issuer_sign(is, &rq, &ca->err);
}

/* A device certificate for subject n and key, by the device CA. */
static X509 *
device_sign(struct sp_ca *ca, struct sp_issuer *is, X509_NAME *n,
    EVP_PKEY *key, int days)
{
	struct sp_issue rq;

	memset(&rq, 0, sizeof(rq));
	rq.kind = SP_KIND_DEVICE;
	rq.subject = n;
	rq.pubkey = key;
	rq.days = days;
	return sp_issuer_sign(is, &rq, &ca->err);
}

X509 *
sp_ca_make_device(struct sp_ca *ca, struct sp_keygen *kg, const char *mac,
    const char *serial, const char *model, int days, EVP_PKEY **keyp)
{
	struct sp_issuer *is;
	X509_NAME *n = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;

	if ((is = sp_ca_issuer(ca, SP_CA_DEVICE)) == NULL)
		return NULL;
	if ((n = sp_x509_device_subject(mac, serial, model, &ca->err)) == NULL)
		goto out;
	if ((k = sp_keygen_run(kg, &ca->err)) == NULL)
		goto out;
	if ((x = device_sign(ca, is, n, k, days)) == NULL)
		goto out;
	*keyp = k;
	k = NULL;
out:
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	return x;
}

int
sp_ca_check_current(struct sp_ca *ca, X509 *x, enum sp_ca_root root,
    enum sp_cert_kind kind, time_t now)
{
	X509 *rc = sp_ca_root_cert(ca, root);
	EVP_PKEY *pk = rc != NULL ? X509_get0_pubkey(rc) : NULL;
	struct sp_ca_row row;
	char serial[80];

	if (pk == NULL || X509_verify(x, pk) != 1 ||
	    X509_check_issued(rc, x) != X509_V_OK)
		return sp_err_set(&ca->err, "the certificate is not one of "
		    "this CA's (%s)", sp_ca_root_name(root));
	if (sp_x509_serial_hex(x, serial, sizeof(serial)) == -1 ||
	    sp_ca_lookup(ca, serial, &row) != 0 || row.kind != kind)
		return sp_err_set(&ca->err, "the certificate is not in the "
		    "CA's index as a %s certificate", sp_x509_kind_name(kind));
	if (row.revoked)
		return sp_err_set(&ca->err, "the certificate (serial %s) has "
		    "been revoked", serial);
	if (row.not_after <= now)
		return sp_err_set(&ca->err, "the certificate (serial %s) has "
		    "expired: enrol anew", serial);
	return 0;
}

X509 *
sp_ca_renew_device(struct sp_ca *ca, X509 *old, EVP_PKEY *key, int days)
{
	const X509_NAME *on = X509_get_subject_name(old);
	char mac[SP_MAC_HEXLEN + 1], serial[SP_CN_MAX + 1];
	char model[SP_CN_MAX + 1];
	struct sp_issuer *is;
	X509_NAME *n = NULL;
	X509 *x = NULL;

	if ((is = sp_ca_issuer(ca, SP_CA_DEVICE)) == NULL)
		return NULL;
	/* The identity is the old certificate's, field by field: the
	 * subject is rebuilt (and so validated) rather than copied. */
	if (sp_x509_name_get(on, NID_stateOrProvinceName, mac,
	    sizeof(mac)) == -1) {
		sp_err_set(&ca->err, "the certificate names no MAC (ST)");
		return NULL;
	}
	if (sp_x509_name_get(on, NID_localityName, serial, sizeof(serial)) ==
	    -1)
		serial[0] = '\0';
	if (sp_x509_name_get(on, NID_organizationalUnitName, model,
	    sizeof(model)) == -1)
		model[0] = '\0';
	if ((n = sp_x509_device_subject(mac, serial[0] ? serial : NULL,
	    model[0] ? model : NULL, &ca->err)) == NULL)
		goto out;
	if (X509_NAME_cmp(n, on) != 0) {
		sp_err_set(&ca->err, "the certificate's subject is not one "
		    "this CA issues to devices");
		goto out;
	}
	x = device_sign(ca, is, n, key, days);
out:
	X509_NAME_free(n);
	return x;
}

int
sp_ca_mac_has_valid(struct sp_ca *ca, const char *mac, bool *yes)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(ca->db, "SELECT 1 FROM certs WHERE kind="
	    "'device' AND mac=? AND status='valid' AND not_after>? LIMIT 1",
	    -1, &st, NULL) != SQLITE_OK)
		return sp_err_set(&ca->err, "index: %s",
		    sqlite3_errmsg(ca->db));
	sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, time(NULL));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sp_err_set(&ca->err, "index: %s",
		    sqlite3_errmsg(ca->db));
	*yes = (rc == SQLITE_ROW);
	return 0;
}

static void
row_from(sqlite3_stmt *st, struct sp_ca_row *r)
{
	const char *t;

	memset(r, 0, sizeof(*r));
	snprintf(r->serial, sizeof(r->serial), "%s",
	    (const char *)sqlite3_column_text(st, 0));
	t = (const char *)sqlite3_column_text(st, 1);
	if (t == NULL || sp_x509_kind_parse(t, &r->kind) == -1)
		r->kind = SP_KIND_ROOT;
	snprintf(r->issuer, sizeof(r->issuer), "%s",
	    (const char *)sqlite3_column_text(st, 2));
	snprintf(r->subject, sizeof(r->subject), "%s",
	    (const char *)sqlite3_column_text(st, 3));
	if ((t = (const char *)sqlite3_column_text(st, 4)) != NULL)
		snprintf(r->cn, sizeof(r->cn), "%s", t);
	if ((t = (const char *)sqlite3_column_text(st, 5)) != NULL)
		snprintf(r->mac, sizeof(r->mac), "%s", t);
	r->not_before = (time_t)sqlite3_column_int64(st, 6);
	r->not_after = (time_t)sqlite3_column_int64(st, 7);
	r->issued_at = (time_t)sqlite3_column_int64(st, 8);
	t = (const char *)sqlite3_column_text(st, 9);
	r->revoked = t != NULL && strcmp(t, "revoked") == 0;
	r->revoked_at = (time_t)sqlite3_column_int64(st, 10);
	r->reason = sqlite3_column_int(st, 11);
}

#define ROW_COLS "serial, kind, issuer, subject, cn, mac, not_before, " \
	"not_after, issued_at, status, revoked_at, reason"

int
sp_ca_list(struct sp_ca *ca, const struct sp_ca_filter *f,
    int (*fn)(void *, const struct sp_ca_row *), void *arg)
{
	static const char sql[] = "SELECT " ROW_COLS " FROM certs WHERE "
	    "(?1 IS NULL OR kind=?1) AND (?2=0 OR status='revoked') AND "
	    "(?3 IS NULL OR (not_after<=?3 AND not_after>?4 AND "
	    "status='valid')) AND (?5 IS NULL OR mac=?5) AND "
	    "(?6 IS NULL OR serial=?6) ORDER BY issued_at, rowid";
	sqlite3_stmt *st = NULL;
	struct sp_ca_row r;
	time_t now = time(NULL);
	int rc;

	if (sqlite3_prepare_v2(ca->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sp_err_set(&ca->err, "index: %s",
		    sqlite3_errmsg(ca->db));
	if (f->kind >= 0)
		sqlite3_bind_text(st, 1, sp_x509_kind_name(f->kind), -1,
		    SQLITE_STATIC);
	sqlite3_bind_int(st, 2, f->revoked_only);
	if (f->expiring_days >= 0)
		sqlite3_bind_int64(st, 3, now + f->expiring_days * 86400L);
	sqlite3_bind_int64(st, 4, now);
	if (f->mac != NULL)
		sqlite3_bind_text(st, 5, f->mac, -1, SQLITE_STATIC);
	if (f->serial != NULL)
		sqlite3_bind_text(st, 6, f->serial, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_from(st, &r);
		if (fn(arg, &r) == -1) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sp_err_set(&ca->err, "index: %s",
		    sqlite3_errmsg(ca->db));
	return 0;
}

static int
copy_row(void *arg, const struct sp_ca_row *r)
{
	memcpy(arg, r, sizeof(*r));
	return 0;
}

int
sp_ca_lookup(struct sp_ca *ca, const char *serial, struct sp_ca_row *r)
{
	struct sp_ca_filter f = { .kind = -1, .expiring_days = -1,
	    .serial = serial };

	r->serial[0] = '\0';
	if (sp_ca_list(ca, &f, copy_row, r) == -1)
		return -1;
	return r->serial[0] == '\0' ? 1 : 0;
}

static int
revoke_where(struct sp_ca *ca, const char *col, const char *val, int reason,
    int *count)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	int rc;

	snprintf(sql, sizeof(sql), "UPDATE certs SET status='revoked', "
	    "revoked_at=?, reason=? WHERE %s=? AND status='valid' AND "
	    "kind!='root'%s", col, strcmp(col, "mac") == 0 ?
	    " AND kind='device'" : "");
	if (sqlite3_prepare_v2(ca->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sp_err_set(&ca->err, "index: %s",
		    sqlite3_errmsg(ca->db));
	sqlite3_bind_int64(st, 1, time(NULL));
	sqlite3_bind_int(st, 2, reason);
	sqlite3_bind_text(st, 3, val, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sp_err_set(&ca->err, "index: %s",
		    sqlite3_errmsg(ca->db));
	*count = sqlite3_changes(ca->db);
	return 0;
}

int
sp_ca_revoke_serial(struct sp_ca *ca, const char *serial, int reason)
{
	struct sp_ca_row r;
	int n, found;

	if ((found = sp_ca_lookup(ca, serial, &r)) == -1)
		return -1;
	if (found == 1)
		return sp_err_set(&ca->err, "serial %s was not issued by this "
		    "CA", serial);
	if (r.kind == SP_KIND_ROOT)
		return sp_err_set(&ca->err, "serial %s is a root: a root is "
		    "not revoked by a CRL it signs itself", serial);
	if (r.revoked)
		return sp_err_set(&ca->err, "serial %s is already revoked",
		    serial);
	if (revoke_where(ca, "serial", serial, reason, &n) == -1)
		return -1;
	return 0;
}

int
sp_ca_revoke_mac(struct sp_ca *ca, const char *mac, int reason, int *count)
{
	if (revoke_where(ca, "mac", mac, reason, count) == -1)
		return -1;
	if (*count == 0)
		return sp_err_set(&ca->err, "MAC %s has no valid device "
		    "certificate to revoke", mac);
	return 0;
}

X509_CRL *
sp_ca_crl(struct sp_ca *ca, enum sp_ca_root root, int days)
{
	struct sp_revoked *revs = NULL, *nr;
	sqlite3_stmt *st = NULL, *up = NULL;
	struct sp_issuer *is;
	X509_CRL *crl = NULL;
	size_t n = 0, cap = 0, i;
	char key[64];
	long number = 0;
	int rc;

	if (days < 1 || days > SP_DAYS_MAX) {
		sp_err_set(&ca->err, "--days must be 1 to %d", SP_DAYS_MAX);
		return NULL;
	}
	if ((is = sp_ca_issuer(ca, root)) == NULL)
		return NULL;
	if (sp_ca_begin(ca) == -1)
		return NULL;
	/* Expired certificates may leave the CRL (RFC 5280, 3.3). */
	if (sqlite3_prepare_v2(ca->db, "SELECT serial, revoked_at, reason "
	    "FROM certs WHERE issuer=? AND status='revoked' AND not_after>?",
	    -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, root_names[root], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, time(NULL));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nr = realloc(revs, cap * sizeof(*revs))) == NULL) {
				sp_err_set(&ca->err, "out of memory");
				goto out;
			}
			revs = nr;
		}
		revs[n].serial_hex = strdup((const char *)
		    sqlite3_column_text(st, 0));
		revs[n].when = (time_t)sqlite3_column_int64(st, 1);
		revs[n].reason = sqlite3_column_int(st, 2);
		if (revs[n++].serial_hex == NULL) {
			sp_err_set(&ca->err, "out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		goto dberr;
	snprintf(key, sizeof(key), "crl_number_%s", root_names[root]);
	if (sqlite3_prepare_v2(ca->db, "UPDATE meta SET value="
	    "CAST(value AS INTEGER)+1 WHERE key=? RETURNING value", -1, &up,
	    NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(up, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(up) != SQLITE_ROW)
		goto dberr;
	number = sqlite3_column_int64(up, 0);
	sqlite3_finalize(up);
	up = NULL;
	if ((crl = sp_issuer_crl(is, revs, n, number, days,
	    &ca->err)) == NULL)
		goto out;
	if (sp_ca_commit(ca) == -1) {
		X509_CRL_free(crl);
		crl = NULL;
	}
	goto out;
dberr:
	sp_err_set(&ca->err, "index: %s", sqlite3_errmsg(ca->db));
out:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	if (crl == NULL)
		sp_ca_rollback(ca);
	for (i = 0; i < n; i++)
		free((void *)(uintptr_t)revs[i].serial_hex);
	free(revs);
	return crl;
}
