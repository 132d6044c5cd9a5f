/*
 * Unit tests for lib/ca.c: creating and opening a CA directory, signing
 * server CSRs and devices, the index, revocation, CRLs, listing, and the
 * protection of the root keys.  Each case works in its own fresh directory.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "harness.h"

#include "sprov/ca.h"
#include "sprov/fsutil.h"
#include "sprov/x509.h"

#define MAC_A	"000e08abcdef"
#define MAC_B	"000e08abcd01"
#define GOOD_CN	"pv.telco.net/mailto:admin@telco.net"

static const char *const files[] = { "server-ca.crt", "server-ca.key",
    "device-ca.crt", "device-ca.key", "admin-ca.crt", "admin-ca.key",
    "index.db" };

/* ---------------------------------------------------------------- helpers */

/* A case's scratch space: base (fresh, removed after) and base/ca. */
struct scratch {
	char	*base;
	char	 ca[PATH_MAX];
};

static void
scratch_new(struct scratch *s)
{
	s->base = t_tmpdir();
	snprintf(s->ca, sizeof(s->ca), "%s/ca", s->base);
}

static void
scratch_free(struct scratch *s)
{
	struct sp_err err;

	if (sp_fs_rmtree(s->base, &err) == -1)
		printf("# cleanup: %s\n", err.msg);
	free(s->base);
}

static struct sp_ca_init_opts
opts(const char *org, const char *pass)
{
	struct sp_ca_init_opts o;

	memset(&o, 0, sizeof(o));
	o.keytype = SP_KEY_EC_P256;
	o.days = 3650;
	o.org = org;
	o.pass = pass;
	return o;
}

/* A fresh CA in s->ca, opened; NULL (with a failed check) on error. */
static struct sp_ca *
ca_fresh(struct scratch *s, const char *pass)
{
	struct sp_ca_init_opts o = opts("Telco", pass);
	struct sp_err err = { "" };
	struct sp_ca *ca;

	scratch_new(s);
	if (sp_ca_init(s->ca, &o, &err) == -1) {
		printf("# init: %s\n", err.msg);
		CHECK(!"sp_ca_init");
		return NULL;
	}
	if ((ca = sp_ca_open(s->ca, pass, &err)) == NULL) {
		printf("# open: %s\n", err.msg);
		CHECK(!"sp_ca_open");
	}
	return ca;
}

static X509_REQ *
make_csr(EVP_PKEY *k, const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	X509_REQ *r = X509_REQ_new();

	if (n == NULL || r == NULL ||
	    X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_REQ_set_version(r, 0) != 1 ||
	    X509_REQ_set_subject_name(r, n) != 1 ||
	    X509_REQ_set_pubkey(r, k) != 1 ||
	    X509_REQ_sign(r, k, EVP_sha256()) <= 0)
		abort();
	X509_NAME_free(n);
	return r;
}

static EVP_PKEY *
gen_ec(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (k == NULL)
		abort();
	return k;
}

/* Signs a server CSR for cn and records it; returns the cert or NULL. */
static X509 *
server_cert(struct sp_ca *ca, const char *cn, char *serial, size_t sz)
{
	struct sp_csr_info info;
	EVP_PKEY *k = gen_ec();
	X509_REQ *r = make_csr(k, cn);
	X509 *x;

	x = sp_ca_sign_server(ca, r, 397, &info);
	if (x == NULL)
		printf("# sign_server: %s\n", sp_ca_error(ca));
	else if (sp_ca_begin(ca) == -1 ||
	    sp_ca_record(ca, x, SP_KIND_SERVER, SP_CA_SERVER, NULL) == -1 ||
	    sp_ca_commit(ca) == -1 ||
	    sp_x509_serial_hex(x, serial, sz) == -1) {
		printf("# record: %s\n", sp_ca_error(ca));
		sp_ca_rollback(ca);
		X509_free(x);
		x = NULL;
	}
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	return x;
}

/* Makes and records a device certificate; its serial into serial. */
static int
device_cert(struct sp_ca *ca, struct sp_keygen *kg, const char *mac,
    int days, char *serial, size_t sz)
{
	EVP_PKEY *k = NULL;
	X509 *x;
	int rc = -1;

	x = sp_ca_make_device(ca, kg, mac, "FCH1234ABCD", "CP-8845", days, &k);
	if (x == NULL) {
		printf("# make_device: %s\n", sp_ca_error(ca));
		return -1;
	}
	if (sp_ca_begin(ca) == 0 &&
	    sp_ca_record(ca, x, SP_KIND_DEVICE, SP_CA_DEVICE, mac) == 0 &&
	    sp_ca_commit(ca) == 0 &&
	    sp_x509_serial_hex(x, serial, sz) == 0)
		rc = 0;
	else {
		printf("# record: %s\n", sp_ca_error(ca));
		sp_ca_rollback(ca);
	}
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

static struct sp_keygen *
keygen(void)
{
	struct sp_err err = { "" };
	struct sp_keygen *kg = sp_keygen_new(SP_KEY_EC_P256, &err);

	if (kg == NULL) {
		printf("# keygen: %s\n", err.msg);
		abort();
	}
	return kg;
}

static mode_t
mode_of(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) == -1)
		return (mode_t)-1;
	return st.st_mode;
}

static char *
read_all(const char *dir, const char *name, size_t *len)
{
	struct sp_err err = { "" };
	char path[PATH_MAX], *data = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (sp_fs_read(path, 1 << 20, &data, len, &err) == -1)
		return NULL;
	return data;
}

/* Sorted list of a directory's entries, one "name\n" each, with sizes. */
static char *
dir_listing(const char *dir)
{
	char *names[64], *out;
	struct dirent *de;
	size_t n = 0, i, j, len = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL && n < 64) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((names[n] = strdup(de->d_name)) == NULL)
			abort();
		len += strlen(names[n]) + 1;
		n++;
	}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	if ((out = malloc(len + 1)) == NULL)
		abort();
	out[0] = '\0';
	for (i = 0, len = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, strlen(names[i]) + 2, "%s\n",
		    names[i]);
		free(names[i]);
	}
	return out;
}

static long
crl_number(X509_CRL *crl)
{
	ASN1_INTEGER *ai = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL,
	    NULL);
	long v = ai != NULL ? ASN1_INTEGER_get(ai) : -1;

	ASN1_INTEGER_free(ai);
	return v;
}

/* Whether the CRL lists the serial given in hex. */
static bool
crl_lists(X509_CRL *crl, const char *hex)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *ai;
	BIGNUM *bn = NULL;
	bool yes = false;

	if (BN_hex2bn(&bn, hex) == 0)
		return false;
	if ((ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL)
		yes = X509_CRL_get0_by_serial(crl, &rev, ai) == 1;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return yes;
}

/* Collects serials from sp_ca_list. */
struct seen {
	int	n;
	char	serial[16][80];
	struct sp_ca_row last;
};

static int
collect(void *arg, const struct sp_ca_row *r)
{
	struct seen *s = arg;

	if (s->n < 16)
		snprintf(s->serial[s->n], sizeof(s->serial[0]), "%s",
		    r->serial);
	s->n++;
	s->last = *r;
	return 0;
}

static bool
seen_has(const struct seen *s, const char *serial)
{
	int i;

	for (i = 0; i < s->n && i < 16; i++)
		if (strcmp(s->serial[i], serial) == 0)
			return true;
	return false;
}

static struct sp_ca_filter
filter_any(void)
{
	struct sp_ca_filter f;

	memset(&f, 0, sizeof(f));
	f.kind = -1;
	f.expiring_days = -1;
	return f;
}

/* ------------------------------------------------------------------- init */

static void
t_init_creates_layout(void)
{
	struct sp_ca_init_opts o = opts("Telco Inc", NULL);
	struct sp_err err = { "" };
	struct scratch s;
	X509 *root[SP_CA_NROOTS] = { NULL, NULL, NULL };
	char path[PATH_MAX], org[80], *listing;
	size_t i, j;
	mode_t m;

	scratch_new(&s);
	CHECK(sp_ca_init(s.ca, &o, &err) == 0);
	if (err.msg[0] != '\0')
		printf("# %s\n", err.msg);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		m = mode_of(s.ca, files[i]);
		CHECK(m != (mode_t)-1 && S_ISREG(m));
		if (m == (mode_t)-1)
			printf("# missing %s\n", files[i]);
	}
	CHECK((mode_of(s.ca, "server-ca.key") & 07777) == 0600);
	CHECK((mode_of(s.ca, "device-ca.key") & 07777) == 0600);
	CHECK((mode_of(s.ca, "admin-ca.key") & 07777) == 0600);
	m = mode_of(s.ca, "crl");
	CHECK(m != (mode_t)-1 && S_ISDIR(m));
	m = mode_of(s.base, "ca");
	CHECK(m != (mode_t)-1 && S_ISDIR(m) && (m & 07777) == 0700);
	/* Nothing left beside it (no half-built temporary directory). */
	listing = dir_listing(s.base);
	CHECK_STR(listing, "ca\n");
	free(listing);

	for (i = 0; i < SP_CA_NROOTS; i++) {
		snprintf(path, sizeof(path), "%s/%s.crt", s.ca,
		    sp_ca_root_name((enum sp_ca_root)i));
		root[i] = sp_x509_cert_load(path, &err);
		CHECK(root[i] != NULL);
		if (root[i] == NULL)
			continue;
		CHECK(X509_check_issued(root[i], root[i]) == X509_V_OK);
		CHECK(X509_verify(root[i], X509_get0_pubkey(root[i])) == 1);
		CHECK(X509_check_ca(root[i]) > 0);
		CHECK(sp_x509_name_get(X509_get_subject_name(root[i]),
		    NID_organizationName, org, sizeof(org)) == 0);
		CHECK_STR(org, "Telco Inc");
	}
	for (i = 0; i < SP_CA_NROOTS; i++)
		for (j = i + 1; j < SP_CA_NROOTS; j++)
			if (root[i] != NULL && root[j] != NULL) {
				CHECK(X509_cmp(root[i], root[j]) != 0);
				CHECK(X509_NAME_cmp(
				    X509_get_subject_name(root[i]),
				    X509_get_subject_name(root[j])) != 0);
				CHECK(EVP_PKEY_eq(X509_get0_pubkey(root[i]),
				    X509_get0_pubkey(root[j])) != 1);
				/* Independent: neither issued the other. */
				CHECK(X509_check_issued(root[i], root[j]) !=
				    X509_V_OK);
			}
	for (i = 0; i < SP_CA_NROOTS; i++)
		X509_free(root[i]);
	ERR_clear_error();
	scratch_free(&s);
}

static void
t_init_default_org_and_open(void)
{
	struct sp_ca_init_opts o = opts(NULL, NULL);
	struct sp_err err = { "" };
	struct scratch s;
	struct sp_ca *ca;
	struct sp_ca_row row;
	char org[80], serial[80];
	int i;

	scratch_new(&s);
	CHECK(sp_ca_init(s.ca, &o, &err) == 0);
	ca = sp_ca_open(s.ca, NULL, &err);
	CHECK(ca != NULL);
	if (ca != NULL) {
		CHECK_STR(sp_ca_dir(ca), s.ca);
		for (i = 0; i < SP_CA_NROOTS; i++) {
			X509 *r = sp_ca_root_cert(ca, (enum sp_ca_root)i);

			CHECK(r != NULL);
			if (r == NULL)
				continue;
			CHECK(sp_x509_name_get(X509_get_subject_name(r),
			    NID_organizationName, org, sizeof(org)) == 0);
			CHECK_STR(org, "sprov");
			/* The roots are in the index, as roots. */
			CHECK(sp_x509_serial_hex(r, serial,
			    sizeof(serial)) == 0);
			CHECK(sp_ca_lookup(ca, serial, &row) == 0);
			CHECK(row.kind == SP_KIND_ROOT);
			CHECK_STR(row.issuer,
			    sp_ca_root_name((enum sp_ca_root)i));
		}
		/* The issuers hold keys that match the roots. */
		for (i = 0; i < SP_CA_NROOTS; i++)
			CHECK(sp_ca_issuer(ca, (enum sp_ca_root)i) != NULL);
	}
	sp_ca_free(ca);
	scratch_free(&s);
}

static void
t_init_refuses_nonempty(void)
{
	static const char note[] = "my notes, do not touch\n";
	struct sp_ca_init_opts o = opts("Telco", NULL);
	struct sp_err err = { "" };
	struct scratch s;
	char path[PATH_MAX], *before, *after, *data;
	size_t len;
	int fd;

	scratch_new(&s);
	CHECK(mkdir(s.ca, 0755) == 0);
	snprintf(path, sizeof(path), "%s/notes.txt", s.ca);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(fd != -1 && write(fd, note, sizeof(note) - 1) ==
	    (ssize_t)(sizeof(note) - 1));
	if (fd != -1)
		close(fd);
	snprintf(path, sizeof(path), "%s/sub", s.ca);
	CHECK(mkdir(path, 0755) == 0);
	before = dir_listing(s.ca);

	CHECK(sp_ca_init(s.ca, &o, &err) == -1);
	CHECK_HAS(err.msg, "not empty");

	after = dir_listing(s.ca);
	CHECK_STR(after, before);
	CHECK_STR(before, "notes.txt\nsub\n");
	data = read_all(s.ca, "notes.txt", &len);
	CHECK(data != NULL && len == sizeof(note) - 1 &&
	    memcmp(data, note, len) == 0);
	CHECK((mode_of(s.ca, "notes.txt") & 07777) == 0644);
	CHECK((mode_of(s.base, "ca") & 07777) == 0755);
	free(data);
	free(before);
	free(after);
	/* Nothing was created beside it either. */
	before = dir_listing(s.base);
	CHECK_STR(before, "ca\n");
	free(before);

	/* A regular file in the way is refused as well. */
	snprintf(path, sizeof(path), "%s/file", s.base);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(fd != -1);
	if (fd != -1)
		close(fd);
	err.msg[0] = '\0';
	CHECK(sp_ca_init(path, &o, &err) == -1);
	CHECK_HAS(err.msg, "not a directory");
	scratch_free(&s);
}

static void
t_init_refuses_bad_options(void)
{
	char org65[66];
	struct sp_ca_init_opts o = opts("Telco", NULL);
	struct sp_err err = { "" };
	struct scratch s;

	scratch_new(&s);
	o.days = 0;
	CHECK(sp_ca_init(s.ca, &o, &err) == -1);
	CHECK_HAS(err.msg, "--days");
	CHECK(mode_of(s.ca, ".") == (mode_t)-1);

	o.days = SP_DAYS_MAX + 1;
	err.msg[0] = '\0';
	CHECK(sp_ca_init(s.ca, &o, &err) == -1);
	CHECK_HAS(err.msg, "--days");

	o.days = 3650;
	memset(org65, 'A', 65);
	org65[65] = '\0';
	o.org = org65;
	err.msg[0] = '\0';
	CHECK(sp_ca_init(s.ca, &o, &err) == -1);
	CHECK_HAS(err.msg, "--org");
	CHECK_HAS(err.msg, "64");
	CHECK(mode_of(s.ca, ".") == (mode_t)-1);

	o.org = "";
	err.msg[0] = '\0';
	CHECK(sp_ca_init(s.ca, &o, &err) == -1);
	CHECK_HAS(err.msg, "--org");

	o.org = "Tel\nco";
	err.msg[0] = '\0';
	CHECK(sp_ca_init(s.ca, &o, &err) == -1);
	CHECK_HAS(err.msg, "--org");
	CHECK(mode_of(s.ca, ".") == (mode_t)-1);
	scratch_free(&s);
}

/*
 * The --org limit is 64 (SP_ORG_MAX) and sp_ca_init() checks exactly that:
 * an org of 64 characters is valid input, so the CA must be created and
 * carry it as O.
 */
static void
t_init_org_at_limit(void)
{
	char org[SP_ORG_MAX + 1], got[SP_ORG_MAX + 1];
	struct sp_ca_init_opts o;
	struct sp_err err = { "" };
	struct scratch s;
	X509 *x = NULL;
	char path[PATH_MAX];

	scratch_new(&s);
	memset(org, 'A', SP_ORG_MAX);
	org[SP_ORG_MAX] = '\0';
	o = opts(org, NULL);
	CHECK(sp_ca_init(s.ca, &o, &err) == 0);
	if (err.msg[0] != '\0')
		printf("# org of %d: %s\n", SP_ORG_MAX, err.msg);
	snprintf(path, sizeof(path), "%s/server-ca.crt", s.ca);
	if (mode_of(s.ca, "server-ca.crt") != (mode_t)-1 &&
	    (x = sp_x509_cert_load(path, &err)) != NULL) {
		CHECK(sp_x509_name_get(X509_get_subject_name(x),
		    NID_organizationName, got, sizeof(got)) == 0);
		CHECK_STR(got, org);
	}
	X509_free(x);
	scratch_free(&s);
}

/*
 * "All or nothing": when sp_ca_init() is given an existing empty directory
 * and does not complete, the directory must still be there afterwards.
 * An org of 50 characters passes the option check; whether or not the CA
 * then gets created, the directory must exist when the call returns.
 */
static void
t_init_failure_keeps_empty_dir(void)
{
	char org[51];
	struct sp_ca_init_opts o;
	struct sp_err err = { "" };
	struct scratch s;
	mode_t m;
	int rc;

	scratch_new(&s);
	memset(org, 'B', 50);
	org[50] = '\0';
	o = opts(org, NULL);
	CHECK(mkdir(s.ca, 0755) == 0);
	rc = sp_ca_init(s.ca, &o, &err);
	if (rc == -1)
		printf("# init failed: %s\n", err.msg);
	m = mode_of(s.base, "ca");
	CHECK(m != (mode_t)-1 && S_ISDIR(m));
	if (rc == 0)
		CHECK(mode_of(s.ca, "index.db") != (mode_t)-1);
	scratch_free(&s);
}

static void
t_init_existing_empty_dir(void)
{
	struct sp_ca_init_opts o = opts("Telco", NULL);
	struct sp_err err = { "" };
	struct scratch s;
	struct sp_ca *ca;
	char path[PATH_MAX];

	scratch_new(&s);
	CHECK(mkdir(s.ca, 0755) == 0);
	CHECK(sp_ca_init(s.ca, &o, &err) == 0);
	if (err.msg[0] != '\0')
		printf("# %s\n", err.msg);
	CHECK((mode_of(s.base, "ca") & 07777) == 0700);
	CHECK(mode_of(s.ca, "index.db") != (mode_t)-1);
	ca = sp_ca_open(s.ca, NULL, &err);
	CHECK(ca != NULL);
	sp_ca_free(ca);

	/* A trailing slash names the same directory. */
	snprintf(path, sizeof(path), "%s/ca2/", s.base);
	CHECK(mkdir(path, 0755) == 0);
	CHECK(sp_ca_init(path, &o, &err) == 0);
	CHECK(mode_of(path, "server-ca.key") != (mode_t)-1);
	scratch_free(&s);
}

static void
t_open_without_ca(void)
{
	struct sp_err err = { "" };
	struct scratch s;
	struct sp_ca *ca;

	scratch_new(&s);
	ca = sp_ca_open(s.ca, NULL, &err);
	CHECK(ca == NULL);
	CHECK_HAS(err.msg, "init");
	sp_ca_free(ca);

	/* An existing but empty directory: same answer. */
	CHECK(mkdir(s.ca, 0700) == 0);
	err.msg[0] = '\0';
	ca = sp_ca_open(s.ca, NULL, &err);
	CHECK(ca == NULL);
	CHECK_HAS(err.msg, "init");
	sp_ca_free(ca);
	scratch_free(&s);
}

static void
t_root_names(void)
{
	enum sp_ca_root r;
	int i;

	for (i = 0; i < SP_CA_NROOTS; i++) {
		r = (enum sp_ca_root)99;
		CHECK(sp_ca_root_parse(sp_ca_root_name((enum sp_ca_root)i),
		    &r) == 0);
		CHECK(r == (enum sp_ca_root)i);
	}
	CHECK_STR(sp_ca_root_name(SP_CA_SERVER), "server-ca");
	CHECK_STR(sp_ca_root_name(SP_CA_DEVICE), "device-ca");
	CHECK_STR(sp_ca_root_name(SP_CA_ADMIN), "admin-ca");
	CHECK(sp_ca_root_parse("device", &r) == 0 && r == SP_CA_DEVICE);
	CHECK(sp_ca_root_parse("root", &r) == -1);
	CHECK(sp_ca_root_parse("", &r) == -1);
}

/* ------------------------------------------------------------ sign server */

static void
t_sign_server(void)
{
	struct sp_csr_info info;
	struct sp_ca_row row;
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	EVP_PKEY *k = gen_ec();
	X509_REQ *r = make_csr(k, GOOD_CN);
	char serial[80];
	X509 *x = NULL;

	if (ca == NULL)
		goto out;
	x = sp_ca_sign_server(ca, r, 397, &info);
	CHECK(x != NULL);
	if (x == NULL) {
		printf("# %s\n", sp_ca_error(ca));
		goto out;
	}
	CHECK_STR(info.fqdn, "pv.telco.net");
	CHECK_STR(info.cn, GOOD_CN);
	CHECK(sp_ca_begin(ca) == 0);
	CHECK(sp_ca_record(ca, x, SP_KIND_SERVER, SP_CA_SERVER, NULL) == 0);
	CHECK(sp_ca_commit(ca) == 0);
	CHECK(sp_x509_serial_hex(x, serial, sizeof(serial)) == 0);

	CHECK(sp_ca_lookup(ca, serial, &row) == 0);
	CHECK_STR(row.serial, serial);
	CHECK(row.kind == SP_KIND_SERVER);
	CHECK(!row.revoked);
	CHECK_STR(row.issuer, "server-ca");
	CHECK_STR(row.cn, GOOD_CN);
	CHECK_STR(row.mac, "");
	CHECK(row.not_after > time(NULL) + 396L * 86400);
	CHECK(row.not_after == sp_ca_asn1_time(X509_get0_notAfter(x)));

	CHECK(X509_verify(x, X509_get0_pubkey(sp_ca_root_cert(ca,
	    SP_CA_SERVER))) == 1);
	CHECK(X509_verify(x, X509_get0_pubkey(sp_ca_root_cert(ca,
	    SP_CA_DEVICE))) != 1);
	CHECK(X509_verify(x, X509_get0_pubkey(sp_ca_root_cert(ca,
	    SP_CA_ADMIN))) != 1);
	ERR_clear_error();
	CHECK(X509_check_issued(sp_ca_root_cert(ca, SP_CA_SERVER), x) ==
	    X509_V_OK);
	CHECK((X509_get_extended_key_usage(x) & XKU_SSL_SERVER) != 0);

	/* Recording the same certificate twice is refused. */
	CHECK(sp_ca_begin(ca) == 0);
	CHECK(sp_ca_record(ca, x, SP_KIND_SERVER, SP_CA_SERVER, NULL) == -1);
	CHECK_HAS(sp_ca_error(ca), "already issued");
	sp_ca_rollback(ca);
out:
	X509_free(x);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	sp_ca_free(ca);
	scratch_free(&s);
}

static void
t_sign_server_bad_csr(void)
{
	struct sp_csr_info info;
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	EVP_PKEY *k = gen_ec();
	X509_REQ *r = make_csr(k, "localhost");
	X509 *x = NULL;

	if (ca != NULL) {
		x = sp_ca_sign_server(ca, r, 397, &info);
		CHECK(x == NULL);
		CHECK_HAS(sp_ca_error(ca), "CN rule");
	}
	X509_free(x);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	sp_ca_free(ca);
	scratch_free(&s);
}

static void
t_rollback_leaves_no_row(void)
{
	struct sp_ca_row row;
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_keygen *kg = keygen();
	struct seen seen;
	struct sp_ca_filter f = filter_any();
	EVP_PKEY *k = NULL;
	char serial[80];
	X509 *x = NULL;

	if (ca == NULL)
		goto out;
	x = sp_ca_make_device(ca, kg, MAC_A, NULL, NULL, 30, &k);
	CHECK(x != NULL);
	if (x == NULL)
		goto out;
	CHECK(sp_x509_serial_hex(x, serial, sizeof(serial)) == 0);
	CHECK(sp_ca_begin(ca) == 0);
	CHECK(sp_ca_record(ca, x, SP_KIND_DEVICE, SP_CA_DEVICE, MAC_A) == 0);
	/* Visible inside the transaction... */
	CHECK(sp_ca_lookup(ca, serial, &row) == 0);
	sp_ca_rollback(ca);
	/* ...and gone after the rollback. */
	CHECK(sp_ca_lookup(ca, serial, &row) == 1);
	memset(&seen, 0, sizeof(seen));
	f.kind = SP_KIND_DEVICE;
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 0);
	/* A new transaction can begin (the old one is closed). */
	CHECK(sp_ca_begin(ca) == 0);
	CHECK(sp_ca_commit(ca) == 0);
out:
	X509_free(x);
	EVP_PKEY_free(k);
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

/* ---------------------------------------------------------------- devices */

static void
t_make_device(void)
{
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_keygen *kg = keygen();
	struct sp_ca_macserial *v = NULL;
	struct sp_identity id;
	struct sp_err err = { "" };
	struct sp_ca_row row;
	EVP_PKEY *k = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	char serial[80];
	X509 *x = NULL, *y = NULL;
	size_t n = 0, i;
	bool yes;
	int len, found;

	if (ca == NULL)
		goto out;
	x = sp_ca_make_device(ca, kg, MAC_A, "FCH1234ABCD", "CP-8845", 3000,
	    &k);
	CHECK(x != NULL && k != NULL);
	if (x == NULL) {
		printf("# %s\n", sp_ca_error(ca));
		goto out;
	}
	CHECK(sp_ca_begin(ca) == 0);
	CHECK(sp_ca_record(ca, x, SP_KIND_DEVICE, SP_CA_DEVICE, MAC_A) == 0);
	CHECK(sp_ca_commit(ca) == 0);
	CHECK(sp_x509_serial_hex(x, serial, sizeof(serial)) == 0);

	CHECK(X509_verify(x, X509_get0_pubkey(sp_ca_root_cert(ca,
	    SP_CA_DEVICE))) == 1);
	CHECK(X509_verify(x, X509_get0_pubkey(sp_ca_root_cert(ca,
	    SP_CA_SERVER))) != 1);
	ERR_clear_error();
	CHECK((X509_get_extended_key_usage(x) & XKU_SSL_CLIENT) != 0);
	CHECK(sp_x509_device_identity(x, &id, &err) == 0);
	CHECK_STR(id.mac, MAC_A);
	CHECK_STR(id.serial, "FCH1234ABCD");
	CHECK_STR(id.model, "CP-8845");
	/* The key handed back is the certificate's. */
	len = i2d_X509(x, &der);
	p = der;
	y = len > 0 ? d2i_X509(NULL, &p, len) : NULL;
	CHECK(y != NULL && sp_x509_key_matches(y, k));

	CHECK(sp_ca_lookup(ca, serial, &row) == 0);
	CHECK(row.kind == SP_KIND_DEVICE);
	CHECK_STR(row.mac, MAC_A);
	CHECK_STR(row.issuer, "device-ca");

	yes = false;
	CHECK(sp_ca_mac_has_valid(ca, MAC_A, &yes) == 0);
	CHECK(yes);
	yes = true;
	CHECK(sp_ca_mac_has_valid(ca, MAC_B, &yes) == 0);
	CHECK(!yes);

	CHECK(sp_ca_valid_devices(ca, &v, &n) == 0);
	CHECK(n == 1);
	for (i = 0, found = 0; i < n; i++)
		if (strcmp(v[i].mac, MAC_A) == 0 &&
		    strcmp(v[i].serial, serial) == 0)
			found++;
	CHECK(found == 1);
	free(v);

	/* A bad MAC issues nothing and says why. */
	EVP_PKEY_free(k);
	k = NULL;
	X509_free(y);
	y = sp_ca_make_device(ca, kg, "00:0e:08:ab:cd:ef", NULL, NULL, 30, &k);
	CHECK(y == NULL && k == NULL);
	CHECK_HAS(sp_ca_error(ca), "MAC");
out:
	X509_free(x);
	X509_free(y);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

static void
t_valid_devices_sorted(void)
{
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_keygen *kg = keygen();
	struct sp_ca_macserial *v = NULL;
	char s1[80], s2[80], s3[80];
	size_t n = 0;

	if (ca == NULL)
		goto out;
	CHECK(device_cert(ca, kg, "00aa00000003", 30, s1, sizeof(s1)) == 0);
	CHECK(device_cert(ca, kg, "00aa00000001", 30, s2, sizeof(s2)) == 0);
	CHECK(device_cert(ca, kg, "00aa00000002", 30, s3, sizeof(s3)) == 0);
	CHECK(sp_ca_revoke_serial(ca, s3, CRL_REASON_SUPERSEDED) == 0);
	CHECK(sp_ca_valid_devices(ca, &v, &n) == 0);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(v[0].mac, "00aa00000001");
		CHECK_STR(v[0].serial, s2);
		CHECK_STR(v[1].mac, "00aa00000003");
		CHECK_STR(v[1].serial, s1);
	}
	free(v);
out:
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

/* ------------------------------------------------------------- revocation */

static void
t_revoke_serial(void)
{
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_keygen *kg = keygen();
	struct sp_ca_row row;
	char serial[80], rootser[80];
	bool yes;

	if (ca == NULL)
		goto out;
	CHECK(device_cert(ca, kg, MAC_A, 30, serial, sizeof(serial)) == 0);
	CHECK(sp_ca_revoke_serial(ca, serial, CRL_REASON_KEY_COMPROMISE) == 0);
	CHECK(sp_ca_lookup(ca, serial, &row) == 0);
	CHECK(row.revoked);
	CHECK(row.reason == CRL_REASON_KEY_COMPROMISE);
	CHECK(row.revoked_at >= time(NULL) - 60 &&
	    row.revoked_at <= time(NULL) + 1);
	yes = true;
	CHECK(sp_ca_mac_has_valid(ca, MAC_A, &yes) == 0);
	CHECK(!yes);

	CHECK(sp_ca_revoke_serial(ca, serial, CRL_REASON_KEY_COMPROMISE) ==
	    -1);
	CHECK_HAS(sp_ca_error(ca), "already revoked");

	CHECK(sp_ca_revoke_serial(ca, "0A1B", CRL_REASON_UNSPECIFIED) == -1);
	CHECK_HAS(sp_ca_error(ca), "not issued");

	CHECK(sp_x509_serial_hex(sp_ca_root_cert(ca, SP_CA_SERVER), rootser,
	    sizeof(rootser)) == 0);
	CHECK(sp_ca_revoke_serial(ca, rootser, CRL_REASON_UNSPECIFIED) == -1);
	CHECK_HAS(sp_ca_error(ca), "root");
	CHECK(sp_ca_lookup(ca, rootser, &row) == 0);
	CHECK(!row.revoked);
out:
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

static void
t_revoke_mac(void)
{
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_keygen *kg = keygen();
	struct sp_ca_row row;
	char a1[80], a2[80], b1[80];
	bool yes;
	int count;

	if (ca == NULL)
		goto out;
	CHECK(device_cert(ca, kg, MAC_A, 30, a1, sizeof(a1)) == 0);
	CHECK(device_cert(ca, kg, MAC_A, 30, a2, sizeof(a2)) == 0);
	CHECK(device_cert(ca, kg, MAC_B, 30, b1, sizeof(b1)) == 0);

	count = -1;
	CHECK(sp_ca_revoke_mac(ca, MAC_A, CRL_REASON_CESSATION_OF_OPERATION,
	    &count) == 0);
	CHECK(count == 2);
	CHECK(sp_ca_lookup(ca, a1, &row) == 0 && row.revoked &&
	    row.reason == CRL_REASON_CESSATION_OF_OPERATION);
	CHECK(sp_ca_lookup(ca, a2, &row) == 0 && row.revoked);
	CHECK(sp_ca_lookup(ca, b1, &row) == 0 && !row.revoked);
	yes = true;
	CHECK(sp_ca_mac_has_valid(ca, MAC_A, &yes) == 0 && !yes);
	yes = false;
	CHECK(sp_ca_mac_has_valid(ca, MAC_B, &yes) == 0 && yes);

	/* Nothing valid left for MAC_A; a MAC never seen. */
	count = -1;
	CHECK(sp_ca_revoke_mac(ca, MAC_A, CRL_REASON_UNSPECIFIED, &count) ==
	    -1);
	CHECK_HAS(sp_ca_error(ca), MAC_A);
	count = -1;
	CHECK(sp_ca_revoke_mac(ca, "00aa00000099", CRL_REASON_UNSPECIFIED,
	    &count) == -1);
	CHECK_HAS(sp_ca_error(ca), "no valid device certificate");
	CHECK(count == 0);
out:
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

/* ------------------------------------------------------------------- CRLs */

static void
t_crl(void)
{
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_keygen *kg = keygen();
	X509_CRL *c1 = NULL, *c2 = NULL, *cs = NULL;
	char d1[80], d2[80], d3[80], sv[80];
	X509 *droot, *sroot, *x = NULL;
	X509_REVOKED *rev;
	ASN1_ENUMERATED *reason;
	int i, n;

	if (ca == NULL)
		goto out;
	droot = sp_ca_root_cert(ca, SP_CA_DEVICE);
	sroot = sp_ca_root_cert(ca, SP_CA_SERVER);
	CHECK(device_cert(ca, kg, MAC_A, 30, d1, sizeof(d1)) == 0);
	CHECK(device_cert(ca, kg, MAC_A, 30, d2, sizeof(d2)) == 0);
	CHECK(device_cert(ca, kg, MAC_B, 30, d3, sizeof(d3)) == 0);
	x = server_cert(ca, "pv.telco.net", sv, sizeof(sv));
	CHECK(x != NULL);
	CHECK(sp_ca_revoke_serial(ca, d1, CRL_REASON_KEY_COMPROMISE) == 0);
	CHECK(sp_ca_revoke_serial(ca, d3, CRL_REASON_SUPERSEDED) == 0);
	CHECK(sp_ca_revoke_serial(ca, sv, CRL_REASON_UNSPECIFIED) == 0);

	c1 = sp_ca_crl(ca, SP_CA_DEVICE, 7);
	CHECK(c1 != NULL);
	c2 = sp_ca_crl(ca, SP_CA_DEVICE, 7);
	CHECK(c2 != NULL);
	if (c1 == NULL || c2 == NULL) {
		printf("# %s\n", sp_ca_error(ca));
		goto out;
	}
	CHECK(crl_number(c1) == 1);
	CHECK(crl_number(c2) == 2);
	for (i = 0; i < 2; i++) {
		X509_CRL *c = i == 0 ? c1 : c2;

		CHECK(X509_CRL_verify(c, X509_get0_pubkey(droot)) == 1);
		CHECK(X509_CRL_verify(c, X509_get0_pubkey(sroot)) != 1);
		ERR_clear_error();
		CHECK(X509_NAME_cmp(X509_CRL_get_issuer(c),
		    X509_get_subject_name(droot)) == 0);
		n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(c));
		CHECK(n == 2);
		CHECK(crl_lists(c, d1));
		CHECK(crl_lists(c, d3));
		CHECK(!crl_lists(c, d2));
		CHECK(!crl_lists(c, sv));
	}
	/* The reason given at revocation is carried. */
	{
		BIGNUM *bn = NULL;
		ASN1_INTEGER *ai = NULL;

		rev = NULL;
		if (BN_hex2bn(&bn, d1) != 0)
			ai = BN_to_ASN1_INTEGER(bn, NULL);
		CHECK(ai != NULL && X509_CRL_get0_by_serial(c1, &rev,
		    ai) == 1);
		reason = rev != NULL ? X509_REVOKED_get_ext_d2i(rev,
		    NID_crl_reason, NULL, NULL) : NULL;
		CHECK(reason != NULL &&
		    ASN1_ENUMERATED_get(reason) == CRL_REASON_KEY_COMPROMISE);
		ASN1_ENUMERATED_free(reason);
		ASN1_INTEGER_free(ai);
		BN_free(bn);
	}

	/* The server root keeps its own numbering and its own list. */
	cs = sp_ca_crl(ca, SP_CA_SERVER, 7);
	CHECK(cs != NULL);
	if (cs != NULL) {
		CHECK(crl_number(cs) == 1);
		CHECK(X509_CRL_verify(cs, X509_get0_pubkey(sroot)) == 1);
		CHECK(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(cs)) == 1);
		CHECK(crl_lists(cs, sv));
		CHECK(!crl_lists(cs, d1));
	}
	/* days out of range is refused. */
	CHECK(sp_ca_crl(ca, SP_CA_DEVICE, 0) == NULL);
	CHECK_HAS(sp_ca_error(ca), "--days");
out:
	X509_CRL_free(c1);
	X509_CRL_free(c2);
	X509_CRL_free(cs);
	X509_free(x);
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

static void
t_crl_number_persists(void)
{
	struct sp_err err = { "" };
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	X509_CRL *c = NULL;

	if (ca == NULL)
		goto out;
	c = sp_ca_crl(ca, SP_CA_ADMIN, 7);
	CHECK(c != NULL && crl_number(c) == 1);
	CHECK(c != NULL &&
	    sk_X509_REVOKED_num(X509_CRL_get_REVOKED(c)) <= 0);
	X509_CRL_free(c);
	sp_ca_free(ca);
	/* Reopened: the next number follows on. */
	ca = sp_ca_open(s.ca, NULL, &err);
	CHECK(ca != NULL);
	if (ca == NULL)
		goto out;
	c = sp_ca_crl(ca, SP_CA_ADMIN, 7);
	CHECK(c != NULL && crl_number(c) == 2);
	X509_CRL_free(c);
out:
	sp_ca_free(ca);
	scratch_free(&s);
}

/* -------------------------------------------------------------- listing */

static void
t_list_filters(void)
{
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_keygen *kg = keygen();
	struct sp_ca_filter f;
	struct seen seen;
	char shortd[80], longd[80], revd[80], other[80], sv[80];
	X509 *x = NULL;

	if (ca == NULL)
		goto out;
	CHECK(device_cert(ca, kg, MAC_A, 10, shortd, sizeof(shortd)) == 0);
	CHECK(device_cert(ca, kg, MAC_A, 365, longd, sizeof(longd)) == 0);
	CHECK(device_cert(ca, kg, MAC_A, 10, revd, sizeof(revd)) == 0);
	CHECK(device_cert(ca, kg, MAC_B, 365, other, sizeof(other)) == 0);
	x = server_cert(ca, "pv.telco.net", sv, sizeof(sv));
	CHECK(x != NULL);
	CHECK(sp_ca_revoke_serial(ca, revd, CRL_REASON_SUPERSEDED) == 0);

	/* Everything: 3 roots, 4 devices, 1 server. */
	f = filter_any();
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 8);

	f = filter_any();
	f.kind = SP_KIND_DEVICE;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 4);
	CHECK(seen_has(&seen, shortd) && seen_has(&seen, longd) &&
	    seen_has(&seen, revd) && seen_has(&seen, other));
	CHECK(!seen_has(&seen, sv));

	f = filter_any();
	f.kind = SP_KIND_SERVER;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 1 && seen_has(&seen, sv));
	CHECK(seen.last.kind == SP_KIND_SERVER);

	f = filter_any();
	f.kind = SP_KIND_ROOT;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 3);

	f = filter_any();
	f.revoked_only = true;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 1 && seen_has(&seen, revd));
	CHECK(seen.last.revoked && seen.last.reason == CRL_REASON_SUPERSEDED);

	f = filter_any();
	f.expiring_days = 30;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	/* The revoked 10-day one is not "expiring": it is already dead. */
	CHECK(seen.n == 1 && seen_has(&seen, shortd));

	f = filter_any();
	f.expiring_days = 5;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 0);
	CHECK(!seen_has(&seen, shortd));

	f = filter_any();
	f.mac = MAC_B;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 1 && seen_has(&seen, other));
	CHECK_STR(seen.last.mac, MAC_B);

	f = filter_any();
	f.mac = MAC_A;
	f.kind = SP_KIND_DEVICE;
	f.revoked_only = false;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 3 && !seen_has(&seen, other));

	/* Filters combine: MAC_A and expiring within 30 days. */
	f.expiring_days = 30;
	memset(&seen, 0, sizeof(seen));
	CHECK(sp_ca_list(ca, &f, collect, &seen) == 0);
	CHECK(seen.n == 1 && seen_has(&seen, shortd));
out:
	X509_free(x);
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

static int
stop_at_first(void *arg, const struct sp_ca_row *r)
{
	int *n = arg;

	(void)r;
	(*n)++;
	return -1;
}

static void
t_list_callback_stops(void)
{
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_ca_filter f = filter_any();
	int n = 0;

	if (ca != NULL) {
		CHECK(sp_ca_list(ca, &f, stop_at_first, &n) == -1);
		CHECK(n == 1);
	}
	sp_ca_free(ca);
	scratch_free(&s);
}

/* -------------------------------------------------------- key protection */

static void
t_encrypted_ca(void)
{
	static const char pass[] = "correct horse battery";
	struct sp_err err = { "" };
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, pass);
	struct sp_keygen *kg = keygen();
	const char *roots[] = { "server-ca.key", "device-ca.key",
	    "admin-ca.key" };
	char *text, serial[80];
	size_t len;
	int i;

	if (ca == NULL)
		goto out;
	for (i = 0; i < 3; i++) {
		text = read_all(s.ca, roots[i], &len);
		CHECK_HAS(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----");
		CHECK(text == NULL ||
		    strstr(text, "BEGIN PRIVATE KEY") == NULL);
		free(text);
	}
	/* With the passphrase the issuer loads and signs. */
	CHECK(sp_ca_issuer(ca, SP_CA_DEVICE) != NULL);
	CHECK(device_cert(ca, kg, MAC_A, 30, serial, sizeof(serial)) == 0);
	sp_ca_free(ca);

	/* Without it, the CA opens (reading needs no key) but cannot sign. */
	ca = sp_ca_open(s.ca, NULL, &err);
	CHECK(ca != NULL);
	if (ca == NULL)
		goto out;
	CHECK(sp_ca_root_cert(ca, SP_CA_SERVER) != NULL);
	CHECK(sp_ca_issuer(ca, SP_CA_SERVER) == NULL);
	CHECK_HAS(sp_ca_error(ca), "--passphrase-file");
	CHECK(sp_ca_crl(ca, SP_CA_DEVICE, 7) == NULL);
	CHECK_HAS(sp_ca_error(ca), "--passphrase-file");
	sp_ca_free(ca);

	/* A wrong passphrase says so. */
	ca = sp_ca_open(s.ca, "wrong horse battery", &err);
	CHECK(ca != NULL);
	if (ca == NULL)
		goto out;
	CHECK(sp_ca_issuer(ca, SP_CA_SERVER) == NULL);
	CHECK_HAS(sp_ca_error(ca), "passphrase");
	sp_ca_free(ca);

	ca = sp_ca_open(s.ca, pass, &err);
	CHECK(ca != NULL);
	if (ca != NULL)
		CHECK(sp_ca_issuer(ca, SP_CA_SERVER) != NULL);
out:
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

static void
t_key_readable_by_others(void)
{
	struct scratch s;
	struct sp_ca *ca = ca_fresh(&s, NULL);
	struct sp_keygen *kg = keygen();
	char path[PATH_MAX];
	EVP_PKEY *k = NULL;
	X509 *x = NULL;

	if (ca == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/device-ca.key", s.ca);
	CHECK(chmod(path, 0644) == 0);
	CHECK(sp_ca_issuer(ca, SP_CA_DEVICE) == NULL);
	CHECK_HAS(sp_ca_error(ca), "group/others");
	x = sp_ca_make_device(ca, kg, MAC_A, NULL, NULL, 30, &k);
	CHECK(x == NULL && k == NULL);
	CHECK_HAS(sp_ca_error(ca), "group/others");
	/* The other roots are unaffected. */
	CHECK(sp_ca_issuer(ca, SP_CA_SERVER) != NULL);
	/* Put right, it loads. */
	CHECK(chmod(path, 0600) == 0);
	CHECK(sp_ca_issuer(ca, SP_CA_DEVICE) != NULL);
out:
	X509_free(x);
	EVP_PKEY_free(k);
	sp_keygen_free(kg);
	sp_ca_free(ca);
	scratch_free(&s);
}

int
main(void)
{
	RUN(t_init_creates_layout);
	RUN(t_init_default_org_and_open);
	RUN(t_init_refuses_nonempty);
	RUN(t_init_refuses_bad_options);
	RUN(t_init_org_at_limit);
	RUN(t_init_existing_empty_dir);
	RUN(t_init_failure_keeps_empty_dir);
	RUN(t_open_without_ca);
	RUN(t_root_names);
	RUN(t_sign_server);
	RUN(t_sign_server_bad_csr);
	RUN(t_rollback_leaves_no_row);
	RUN(t_make_device);
	RUN(t_valid_devices_sorted);
	RUN(t_revoke_serial);
	RUN(t_revoke_mac);
	RUN(t_crl);
	RUN(t_crl_number_persists);
	RUN(t_list_filters);
	RUN(t_list_callback_stops);
	RUN(t_encrypted_ca);
	RUN(t_key_readable_by_others);
	return t_done();
}
