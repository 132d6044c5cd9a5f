#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "sprov/mac.h"
#include "sprov/cnrule.h"
#include "sprov/fsutil.h"
#include "sprov/str.h"
#include "sprov/x509.h"
#include "x509-int.h"

static const char *const keytypes[] = {
	[SP_KEY_EC_P256] = "ec-p256",
	[SP_KEY_EC_P384] = "ec-p384",
	[SP_KEY_RSA2048] = "rsa2048",
	[SP_KEY_RSA3072] = "rsa3072",
	[SP_KEY_RSA4096] = "rsa4096",
};

static const char *const kinds[] = {
	[SP_KIND_SERVER] = "server",
	[SP_KIND_DEVICE] = "device",
	[SP_KIND_ADMIN] = "admin",
	[SP_KIND_ROOT] = "root",
};

/* Index of s in a table of names, or -1. */
static int
name_index(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

int
sp_x509_keytype_parse(const char *s, enum sp_keytype *out)
{
	int i = name_index(keytypes, sizeof(keytypes) / sizeof(keytypes[0]),
	    s);

	if (i < 0)
		return -1;
	*out = (enum sp_keytype)i;
	return 0;
}

const char *
sp_x509_keytype_name(enum sp_keytype t)
{
	return keytypes[t];
}

const char *
sp_x509_kind_name(enum sp_cert_kind k)
{
	return kinds[k];
}

int
sp_x509_kind_parse(const char *s, enum sp_cert_kind *out)
{
	int i = name_index(kinds, sizeof(kinds) / sizeof(kinds[0]), s);

	if (i < 0)
		return -1;
	*out = (enum sp_cert_kind)i;
	return 0;
}

struct sp_keygen {
	EVP_PKEY_CTX	*ctx;
};

struct sp_keygen *
sp_keygen_new(enum sp_keytype t, struct sp_err *err)
{
	static const int rsabits[] = {
		[SP_KEY_RSA2048] = 2048, [SP_KEY_RSA3072] = 3072,
		[SP_KEY_RSA4096] = 4096,
	};
	struct sp_keygen *kg;
	int ec = (t == SP_KEY_EC_P256 || t == SP_KEY_EC_P384);

	if ((kg = calloc(1, sizeof(*kg))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	kg->ctx = EVP_PKEY_CTX_new_from_name(NULL, ec ? "EC" : "RSA", NULL);
	if (kg->ctx == NULL || EVP_PKEY_keygen_init(kg->ctx) <= 0)
		goto fail;
	if (ec && EVP_PKEY_CTX_set_group_name(kg->ctx,
	    t == SP_KEY_EC_P256 ? "P-256" : "P-384") <= 0)
		goto fail;
	if (!ec && EVP_PKEY_CTX_set_rsa_keygen_bits(kg->ctx, rsabits[t]) <= 0)
		goto fail;
	return kg;
fail:
	sp_err_ssl(err, "cannot set up %s key generation", keytypes[t]);
	sp_keygen_free(kg);
	return NULL;
}

EVP_PKEY *
sp_keygen_run(struct sp_keygen *kg, struct sp_err *err)
{
	EVP_PKEY *k = NULL;

	if (EVP_PKEY_keygen(kg->ctx, &k) <= 0) {
		sp_err_ssl(err, "key generation failed");
		return NULL;
	}
	return k;
}

void
sp_keygen_free(struct sp_keygen *kg)
{
	if (kg == NULL)
		return;
	EVP_PKEY_CTX_free(kg->ctx);
	free(kg);
}

static const char *
curve_display(const char *group)
{
	if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
		return "P-256";
	if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
		return "P-384";
	if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
		return "P-521";
	return NULL;
}

void
sp_x509_key_describe(EVP_PKEY *k, char *dst, size_t dstsz)
{
	char group[64];
	const char *c;

	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		snprintf(dst, dstsz, "RSA %d", EVP_PKEY_get_bits(k));
		break;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(k,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    NULL) != 1)
			snprintf(dst, dstsz, "EC (explicit curve)");
		else if ((c = curve_display(group)) != NULL)
			snprintf(dst, dstsz, "EC %s", c);
		else
			snprintf(dst, dstsz, "EC %s", group);
		break;
	default:
		snprintf(dst, dstsz, "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
	}
}

static int
has_pem(const char *p, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	size_t i;

	for (i = 0; i + sizeof(begin) - 1 <= len; i++)
		if (memcmp(p + i, begin, sizeof(begin) - 1) == 0)
			return 1;
	return 0;
}

static int
find(const char *p, size_t len, const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i + n <= len; i++)
		if (memcmp(p + i, s, n) == 0)
			return 1;
	return 0;
}

X509_REQ *
sp_x509_csr_parse(const char *p, size_t len, struct sp_err *err)
{
	const unsigned char *d = (const unsigned char *)p;
	X509_REQ *req = NULL;
	BIO *bio;

	if (len == 0) {
		sp_err_set(err, "empty file: no CSR in it");
		return NULL;
	}
	if (len > SP_CSR_FILE_MAX) {
		sp_err_set(err, "larger than %d bytes: not a CSR",
		    SP_CSR_FILE_MAX);
		return NULL;
	}
	if (has_pem(p, len)) {
		if (!find(p, len, "-----BEGIN CERTIFICATE REQUEST-----") &&
		    !find(p, len, "-----BEGIN NEW CERTIFICATE REQUEST-----")) {
			sp_err_set(err, "PEM file holds no CERTIFICATE REQUEST "
			    "block (is it a certificate or a key?)");
			return NULL;
		}
		if (!find(p, len, "-----END CERTIFICATE REQUEST-----") &&
		    !find(p, len, "-----END NEW CERTIFICATE REQUEST-----")) {
			sp_err_set(err, "truncated PEM: the END CERTIFICATE "
			    "REQUEST line is missing");
			return NULL;
		}
		if ((bio = BIO_new_mem_buf(p, (int)len)) == NULL) {
			sp_err_set(err, "out of memory");
			return NULL;
		}
		req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (req == NULL)
			sp_err_ssl(err, "malformed PEM certificate request "
			    "(damaged base64 or truncated DER inside)");
		return req;
	}
	req = d2i_X509_REQ(NULL, &d, (long)len);
	if (req == NULL) {
		sp_err_ssl(err, "neither a PEM nor a DER certificate request");
		return NULL;
	}
	if (d != (const unsigned char *)p + len) {
		sp_err_set(err, "DER certificate request followed by %zu "
		    "unexpected bytes", len - (size_t)(d -
		    (const unsigned char *)p));
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

/* Gets one text entry as UTF-8; -1 when absent; -2 when undecodable. */
static int
name_entry_utf8(const X509_NAME *n, int idx, char *dst, size_t dstsz,
    size_t *outlen)
{
	X509_NAME_ENTRY *e;
	unsigned char *u = NULL;
	int len;

	if ((e = X509_NAME_get_entry(n, idx)) == NULL)
		return -1;
	len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
	if (len < 0)
		return -2;
	*outlen = (size_t)len;
	if ((size_t)len >= dstsz) {
		OPENSSL_free(u);
		return -3;
	}
	memcpy(dst, u, (size_t)len);
	dst[len] = '\0';
	OPENSSL_free(u);
	return 0;
}

int
sp_x509_name_get(const X509_NAME *n, int nid, char *dst, size_t dstsz)
{
	size_t len;
	int idx;

	idx = X509_NAME_get_index_by_NID(n, nid, -1);
	if (idx < 0 || name_entry_utf8(n, idx, dst, dstsz, &len) != 0)
		return -1;
	if (memchr(dst, '\0', len) != NULL || !sp_str_printable(dst, len))
		return -1;
	return 0;
}

int
sp_x509_name_cn(const X509_NAME *n, char *dst, size_t dstsz,
    struct sp_err *err)
{
	char big[1024];
	size_t len;
	int idx, rc;

	idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (idx < 0)
		return sp_err_set(err, "%s", sp_cnrule_str(SP_CN_EMPTY));
	if (X509_NAME_get_index_by_NID(n, NID_commonName, idx) >= 0)
		return sp_err_set(err, "the subject has more than one CN: "
		    "a phone could read either");
	rc = name_entry_utf8(n, idx, big, sizeof(big), &len);
	if (rc == -2)
		return sp_err_set(err, "the CN is not a decodable string");
	if (rc == -3 || len > SP_CN_MAX)
		return sp_err_set(err, "%s", sp_cnrule_str(SP_CN_TOO_LONG));
	if (memchr(big, '\0', len) != NULL || !sp_str_printable(big, len))
		return sp_err_set(err, "%s",
		    sp_cnrule_str(SP_CN_NOT_PRINTABLE));
	if (sp_str_copy(dst, dstsz, big, len) == -1)
		return sp_err_set(err, "%s", sp_cnrule_str(SP_CN_TOO_LONG));
	return 0;
}

void
sp_x509_name_oneline(const X509_NAME *n, char *dst, size_t dstsz)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	dst[0] = '\0';
	if (b == NULL)
		return;
	/* RFC 2253 escaping, non-ASCII escaped: safe to print and log. */
	if (X509_NAME_print_ex(b, n, 0, (XN_FLAG_RFC2253 |
	    ASN1_STRFLGS_ESC_MSB) & ~XN_FLAG_DN_REV) >= 0) {
		len = BIO_get_mem_data(b, &p);
		snprintf(dst, dstsz, "%.*s", (int)len, p);
	}
	BIO_free(b);
}

static const char *
md_refused(int mdnid)
{
	switch (mdnid) {
	case NID_md2:
	case NID_md4:
	case NID_md5:
		return "MD5";
	case NID_sha1:
		return "SHA-1";
	case NID_sha224:
		return "SHA-224";
	default:
		return NULL;
	}
}

static int
check_ext_requests(X509_REQ *req, struct sp_err *err)
{
	STACK_OF(X509_EXTENSION) *exts;
	int i, rc = 0;

	if ((exts = X509_REQ_get_extensions(req)) == NULL)
		return 0;
	for (i = 0; i < sk_X509_EXTENSION_num(exts) && rc == 0; i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

		if (nid == NID_basic_constraints) {
			BASIC_CONSTRAINTS *bc = X509V3_EXT_d2i(e);

			if (bc == NULL)
				rc = sp_err_set(err, "the CSR's basicConstraints "
				    "request is malformed");
			else if (bc->ca)
				rc = sp_err_set(err, "the CSR asks for CA:TRUE; "
				    "a provisioning-server certificate is never "
				    "a CA: make the CSR without a CA extension "
				    "(no -addext basicConstraints=CA:TRUE, no "
				    "v3_ca section)");
			BASIC_CONSTRAINTS_free(bc);
		} else if (nid == NID_key_usage) {
			ASN1_BIT_STRING *ku = X509V3_EXT_d2i(e);

			if (ku == NULL)
				rc = sp_err_set(err, "the CSR's keyUsage "
				    "request is malformed");
			else if (ASN1_BIT_STRING_get_bit(ku, 5) ||
			    ASN1_BIT_STRING_get_bit(ku, 6))
				rc = sp_err_set(err, "the CSR asks for "
				    "keyCertSign or cRLSign key usage, which "
				    "only a CA may hold");
			ASN1_BIT_STRING_free(ku);
		}
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

int
sp_x509_csr_check(X509_REQ *req, struct sp_csr_info *info,
    struct sp_err *err)
{
	int mdnid = NID_undef, pknid = NID_undef, base, bits;
	enum sp_cn_verdict v;
	char group[64];
	const char *c;
	EVP_PKEY *pk;

	memset(info, 0, sizeof(*info));
	if ((pk = X509_REQ_get0_pubkey(req)) == NULL)
		return sp_err_ssl(err, "the CSR's public key cannot be read");
	if (X509_REQ_verify(req, pk) != 1)
		return sp_err_ssl(err, "the CSR's signature does not verify: "
		    "the file was altered, or not signed by the key it holds");
	base = EVP_PKEY_get_base_id(pk);
	sp_x509_key_describe(pk, info->key, sizeof(info->key));
	if (base == EVP_PKEY_RSA) {
		bits = EVP_PKEY_get_bits(pk);
		if (bits < SP_RSA_MIN_BITS)
			return sp_err_set(err, "the CSR holds a %d-bit RSA key; "
			    "at least %d bits are required (the 1024-bit "
			    "example of the phone's admin guide is too weak "
			    "today). Make a new key and CSR: openssl req -new "
			    "-newkey rsa:2048 -sha256 -keyout provserver.key "
			    "-out provserver.csr", bits, SP_RSA_MIN_BITS);
		if (bits > SP_RSA_MAX_BITS)
			return sp_err_set(err, "the CSR holds a %d-bit RSA key; "
			    "at most %d bits are accepted", bits,
			    SP_RSA_MAX_BITS);
	} else if (base == EVP_PKEY_EC) {
		if (EVP_PKEY_get_utf8_string_param(pk,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    NULL) != 1)
			return sp_err_set(err, "the CSR's EC key uses explicit "
			    "curve parameters; use a named curve (P-256 or "
			    "P-384)");
		if (curve_display(group) == NULL)
			return sp_err_set(err, "the CSR's EC key is on curve "
			    "%s, which is not accepted; use P-256 or P-384 "
			    "(openssl req -new -newkey ec -pkeyopt "
			    "ec_paramgen_curve:P-256 ...)", group);
	} else
		return sp_err_set(err, "the CSR holds a %s key; only RSA "
		    "(2048 bits or more) and EC P-256/P-384/P-521 keys are "
		    "accepted, as phones speak only those", info->key);
	if (!OBJ_find_sigid_algs(X509_REQ_get_signature_nid(req), &mdnid,
	    &pknid) || mdnid == NID_undef)
		return sp_err_set(err, "the CSR's signature algorithm %s is "
		    "not accepted: sign it with SHA-256 (openssl req -sha256)",
		    OBJ_nid2ln(X509_REQ_get_signature_nid(req)));
	if ((c = md_refused(mdnid)) != NULL)
		return sp_err_set(err, "the CSR is signed with %s, which is "
		    "refused as too weak: make it again with SHA-256 "
		    "(openssl req -new -sha256 ...)", c);
	snprintf(info->sig, sizeof(info->sig), "%s", OBJ_nid2sn(mdnid));
	if (check_ext_requests(req, err) == -1)
		return -1;
	if (sp_x509_name_cn(X509_REQ_get_subject_name(req), info->cn,
	    sizeof(info->cn), err) == -1)
		return sp_err_prefix(err, "CN rule");
	v = sp_cnrule_check(info->cn, strlen(info->cn), info->fqdn,
	    sizeof(info->fqdn));
	/* The CN is printable ASCII here, so it is safe to show. */
	if (v != SP_CN_OK)
		return sp_err_set(err, "CN rule: %s (CN=\"%s\"); the CN must "
		    "be the server's FQDN, optionally followed by '/' and "
		    "free text, e.g. CN=pv.telco.net/mailto:admin@telco.net",
		    sp_cnrule_str(v), info->cn);
	return 0;
}

static int
field_ok(const char *what, const char *v, size_t max, struct sp_err *err)
{
	size_t n = strlen(v);

	if (n == 0 || n > max)
		return sp_err_set(err, "%s must be 1 to %zu characters", what,
		    max);
	if (!sp_str_charset(v, n, "._-"))
		return sp_err_set(err, "%s may hold only letters, digits, "
		    "'.', '_' and '-'", what);
	return 0;
}

static int
name_add(X509_NAME *n, int nid, const char *v)
{
	return X509_NAME_add_entry_by_NID(n, nid, MBSTRING_ASC,
	    (const unsigned char *)v, -1, -1, 0) == 1 ? 0 : -1;
}

int
sp_x509_device_fields_check(const char *mac, const char *serial,
    const char *model, struct sp_err *err)
{
	if (!sp_mac_is_normal(mac, strlen(mac)))
		return sp_err_set(err, "MAC must be normalised (12 lower-case "
		    "hex)");
	if (serial != NULL && field_ok("serial", serial, SP_SERIAL_MAX,
	    err) == -1)
		return -1;
	if (model != NULL && field_ok("model", model, SP_MODEL_MAX,
	    err) == -1)
		return -1;
	return 0;
}

X509_NAME *
sp_x509_device_subject(const char *mac, const char *serial,
    const char *model, struct sp_err *err)
{
	X509_NAME *n;

	if (sp_x509_device_fields_check(mac, serial, model, err) == -1)
		return NULL;
	if ((n = X509_NAME_new()) == NULL)
		goto fail;
	if ((model != NULL && name_add(n, NID_organizationalUnitName,
	    model) == -1) ||
	    (serial != NULL && name_add(n, NID_localityName, serial) == -1) ||
	    name_add(n, NID_stateOrProvinceName, mac) == -1 ||
	    name_add(n, NID_commonName, mac) == -1)
		goto fail;
	return n;
fail:
	X509_NAME_free(n);
	sp_err_ssl(err, "cannot build device subject");
	return NULL;
}

X509_NAME *
sp_x509_admin_subject(const char *name, const char *org, struct sp_err *err)
{
	X509_NAME *n;
	size_t len = strlen(name);

	if (len == 0 || len > SP_ADMIN_NAME_MAX ||
	    !sp_str_charset(name, len, "._-@")) {
		sp_err_set(err, "operator name must be 1 to %d letters, "
		    "digits, '.', '_', '-' or '@'", SP_ADMIN_NAME_MAX);
		return NULL;
	}
	if ((n = X509_NAME_new()) == NULL ||
	    (org != NULL && name_add(n, NID_organizationName, org) == -1) ||
	    name_add(n, NID_organizationalUnitName, "sprov operators") == -1 ||
	    name_add(n, NID_commonName, name) == -1) {
		X509_NAME_free(n);
		sp_err_ssl(err, "cannot build operator subject");
		return NULL;
	}
	return n;
}

static int
repeated(const X509_NAME *n, int nid)
{
	int idx = X509_NAME_get_index_by_NID(n, nid, -1);

	return idx >= 0 && X509_NAME_get_index_by_NID(n, nid, idx) >= 0;
}

int
sp_x509_device_identity(X509 *x, struct sp_identity *id, struct sp_err *err)
{
	const X509_NAME *n = X509_get_subject_name(x);
	char st[128], cn[128];
	const char *why = NULL;

	memset(id, 0, sizeof(*id));
	/* Two MACs (or models, serials) in one subject: which one is it? */
	if (repeated(n, NID_stateOrProvinceName) ||
	    repeated(n, NID_organizationalUnitName) ||
	    repeated(n, NID_localityName) || repeated(n, NID_commonName))
		return sp_err_set(err, "the certificate's subject repeats ST, "
		    "OU, L or CN: it names no single device");
	if (sp_x509_name_get(n, NID_organizationalUnitName, id->model,
	    sizeof(id->model)) == -1)
		id->model[0] = '\0';
	if (sp_x509_name_get(n, NID_localityName, id->serial,
	    sizeof(id->serial)) == -1)
		id->serial[0] = '\0';
	if (sp_x509_name_get(n, NID_stateOrProvinceName, st,
	    sizeof(st)) == 0) {
		if (strcmp(st, "ciscogeneric") == 0) {
			id->generic = true;
			return 0;
		}
		if (sp_mac_parse(st, strlen(st), id->mac, &why) == 0)
			return 0;
		return sp_err_set(err, "the certificate's ST is not a MAC "
		    "address: %s", why);
	}
	if (sp_x509_name_get(n, NID_commonName, cn, sizeof(cn)) == 0 &&
	    sp_mac_parse(cn, strlen(cn), id->mac, &why) == 0)
		return 0;
	return sp_err_set(err, "the certificate carries no MAC address "
	    "(neither ST nor CN holds one)");
}

static int
rand_serial(X509 *x)
{
	unsigned char b[SP_SERIAL_BITS / 8];
	ASN1_INTEGER *ai;
	BIGNUM *bn;
	int rc = -1;

	do {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return -1;
		b[0] &= 0x7f;		/* positive */
	} while (b[0] == 0);		/* keep the full width */
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return -1;
	if ((ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(x, ai) == 1)
		rc = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

static const EVP_MD *
md_for(EVP_PKEY *k)
{
	char group[64];

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), NULL) == 1 &&
	    (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0))
		return EVP_sha384();
	return EVP_sha256();
}

static int
add_ext_conf(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e;
	int rc;

	if ((e = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(e);
	return rc;
}

static int
add_ski(X509 *x, const EVP_MD *sha1)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	ASN1_OCTET_STRING *oct;
	unsigned int len;
	int rc = -1;

	if (X509_pubkey_digest(x, sha1, md, &len) != 1)
		return -1;
	if ((oct = ASN1_OCTET_STRING_new()) != NULL &&
	    ASN1_OCTET_STRING_set(oct, md, (int)len) == 1 &&
	    X509_add1_ext_i2d(x, NID_subject_key_identifier, oct, 0,
	    X509V3_ADD_DEFAULT) == 1)
		rc = 0;
	ASN1_OCTET_STRING_free(oct);
	return rc;
}

int
sp_x509_ec_curve_nid(EVP_PKEY *k)
{
	char group[64];
	const char *c;

	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), NULL) != 1 ||
	    (c = curve_display(group)) == NULL)
		return NID_undef;
	if (strcmp(c, "P-256") == 0)
		return NID_X9_62_prime256v1;
	if (strcmp(c, "P-384") == 0)
		return NID_secp384r1;
	return NID_undef;
}

/*
 * X509_set_pubkey() runs OpenSSL 3.0's encoder machinery, which costs five
 * times an ECDSA signature.  For named-curve EC keys the SubjectPublicKeyInfo
 * is just (id-ecPublicKey, curve OID, encoded point): set it directly.  The
 * certificate then has no decoded key in memory (see sp_issuer_sign_lean).
 * Returns 1 on success like X509_set_pubkey().
 */
static int
set_pubkey_lean(X509 *x, EVP_PKEY *k)
{
	unsigned char *pt = NULL;
	size_t len = 0;
	int nid = sp_x509_ec_curve_nid(k);

	if (nid == NID_undef)
		return X509_set_pubkey(x, k);
	/* Room for any point we accept (P-521 uncompressed: 133 bytes). */
	len = 133;
	if ((pt = OPENSSL_malloc(len)) == NULL ||
	    EVP_PKEY_get_octet_string_param(k,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, len, &len) != 1 ||
	    X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x),
	    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(nid), pt, (int)len) != 1) {
		OPENSSL_free(pt);
		return 0;
	}
	return 1;
}

static int
set_validity(X509 *x, time_t from, int days)
{
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &from) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &from) == NULL)
		return -1;
	return 0;
}

X509 *
sp_x509_make_root(EVP_PKEY *key, const char *cn, const char *org, int days,
    struct sp_err *err)
{
	X509V3_CTX ctx;
	X509_NAME *n;
	X509 *x;

	if ((x = X509_new()) == NULL || (n = X509_NAME_new()) == NULL)
		goto fail;
	if ((org != NULL && name_add(n, NID_organizationName, org) == -1) ||
	    name_add(n, NID_commonName, cn) == -1 ||
	    X509_set_subject_name(x, n) != 1 ||
	    X509_set_issuer_name(x, n) != 1) {
		X509_NAME_free(n);
		goto fail;
	}
	X509_NAME_free(n);
	if (X509_set_version(x, X509_VERSION_3) != 1 || rand_serial(x) == -1 ||
	    set_validity(x, time(NULL) - SP_BACKDATE_SECONDS, days) == -1 ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext_conf(x, &ctx, NID_basic_constraints,
	    "critical,CA:TRUE") == -1 ||
	    add_ext_conf(x, &ctx, NID_key_usage,
	    "critical,keyCertSign,cRLSign") == -1 ||
	    add_ext_conf(x, &ctx, NID_subject_key_identifier, "hash") == -1)
		goto fail;
	if (X509_sign(x, key, md_for(key)) <= 0)
		goto fail;
	return x;
fail:
	sp_err_ssl(err, "cannot make root certificate '%s'", cn);
	X509_free(x);
	return NULL;
}


static X509_EXTENSION *
make_aki(X509 *ca, const EVP_MD *sha1)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	unsigned char md[EVP_MAX_MD_SIZE];
	AUTHORITY_KEYID *akid;
	X509_EXTENSION *e = NULL;
	unsigned int len;

	if ((akid = AUTHORITY_KEYID_new()) == NULL)
		return NULL;
	if (ski != NULL)
		akid->keyid = ASN1_OCTET_STRING_dup(ski);
	else if (X509_pubkey_digest(ca, sha1, md, &len) == 1 &&
	    (akid->keyid = ASN1_OCTET_STRING_new()) != NULL)
		ASN1_OCTET_STRING_set(akid->keyid, md, (int)len);
	if (akid->keyid != NULL)
		e = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid);
	AUTHORITY_KEYID_free(akid);
	return e;
}

struct sp_issuer *
sp_issuer_new(X509 *ca, EVP_PKEY *key, struct sp_err *err)
{
	struct sp_issuer *is;

	if (X509_check_private_key(ca, key) != 1) {
		sp_err_ssl(err, "the CA key does not match the CA certificate");
		return NULL;
	}
	if ((is = calloc(1, sizeof(*is))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	if (X509_up_ref(ca) != 1)
		goto fail;
	is->ca = ca;
	if (EVP_PKEY_up_ref(key) != 1)
		goto fail;
	is->key = key;
	is->md = md_for(key);
	if ((is->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)) == NULL)
		goto fail;
	is->bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
	    "critical,CA:FALSE");
	is->ku_ec = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
	    "critical,digitalSignature");
	is->ku_rsa = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment");
	is->eku_server = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage,
	    "serverAuth");
	is->eku_client = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage,
	    "clientAuth");
	is->aki = make_aki(ca, is->sha1);
	if (is->bc == NULL || is->ku_ec == NULL || is->ku_rsa == NULL ||
	    is->eku_server == NULL || is->eku_client == NULL ||
	    is->aki == NULL)
		goto fail;
	return is;
fail:
	sp_err_ssl(err, "cannot prepare the issuer");
	sp_issuer_free(is);
	return NULL;
}

struct sp_issuer *
sp_issuer_dup(const struct sp_issuer *is, struct sp_err *err)
{
	struct sp_issuer *n;
	EVP_PKEY *k;

	/* A private copy of the key avoids lock contention between threads. */
	if ((k = EVP_PKEY_dup(is->key)) == NULL) {
		sp_err_ssl(err, "cannot copy the CA key");
		return NULL;
	}
	n = sp_issuer_new(is->ca, k, err);
	EVP_PKEY_free(k);
	return n;
}

void
sp_issuer_free(struct sp_issuer *is)
{
	if (is == NULL)
		return;
	X509_free(is->ca);
	EVP_PKEY_free(is->key);
	EVP_MD_free(is->sha1);
	X509_EXTENSION_free(is->bc);
	X509_EXTENSION_free(is->ku_ec);
	X509_EXTENSION_free(is->ku_rsa);
	X509_EXTENSION_free(is->eku_server);
	X509_EXTENSION_free(is->eku_client);
	X509_EXTENSION_free(is->aki);
	free(is);
}

X509 *
sp_issuer_cert(const struct sp_issuer *is)
{
	return is->ca;
}

static int
add_san_dns(X509 *x, const char *dns)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gn;
	ASN1_IA5STRING *ia5;
	int rc = -1;

	if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
		return -1;
	if ((gn = GENERAL_NAME_new()) == NULL)
		goto out;
	if ((ia5 = ASN1_IA5STRING_new()) == NULL ||
	    ASN1_STRING_set(ia5, dns, (int)strlen(dns)) != 1) {
		ASN1_IA5STRING_free(ia5);
		GENERAL_NAME_free(gn);
		goto out;
	}
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	if (sk_GENERAL_NAME_push(gens, gn) == 0) {
		GENERAL_NAME_free(gn);
		goto out;
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) == 1)
		rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static X509 *
issue(struct sp_issuer *is, const struct sp_issue *rq, bool lean,
    struct sp_err *err)
{
	time_t now = time(NULL), end;
	const ASN1_TIME *caend;
	X509 *x;
	int rsa;

	if (rq->days < 1 || rq->days > SP_DAYS_MAX) {
		sp_err_set(err, "validity must be 1 to %d days", SP_DAYS_MAX);
		return NULL;
	}
	end = now + (time_t)rq->days * 86400;
	caend = X509_get0_notAfter(is->ca);
	if (X509_cmp_time(caend, &end) < 0) {
		sp_err_set(err, "a validity of %d days would outlast the "
		    "issuing CA's own certificate; choose fewer days",
		    rq->days);
		return NULL;
	}
	rsa = EVP_PKEY_get_base_id(rq->pubkey) == EVP_PKEY_RSA;
	if ((x = X509_new()) == NULL)
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 || rand_serial(x) == -1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(is->ca)) != 1 ||
	    X509_set_subject_name(x, rq->subject) != 1 ||
	    set_validity(x, now - SP_BACKDATE_SECONDS, rq->days) == -1 ||
	    (lean ? set_pubkey_lean(x, rq->pubkey) :
	    X509_set_pubkey(x, rq->pubkey)) != 1)
		goto fail;
	if (X509_add_ext(x, is->bc, -1) != 1 ||
	    X509_add_ext(x, rsa ? is->ku_rsa : is->ku_ec, -1) != 1 ||
	    X509_add_ext(x, rq->kind == SP_KIND_SERVER ? is->eku_server :
	    is->eku_client, -1) != 1 ||
	    add_ski(x, is->sha1) == -1 ||
	    X509_add_ext(x, is->aki, -1) != 1)
		goto fail;
	if (rq->dns != NULL && add_san_dns(x, rq->dns) == -1)
		goto fail;
	if (X509_sign(x, is->key, is->md) <= 0)
		goto fail;
	return x;
fail:
	sp_err_ssl(err, "cannot issue the certificate");
	X509_free(x);
	return NULL;
}

X509 *
sp_issuer_sign(struct sp_issuer *is, const struct sp_issue *rq,
    struct sp_err *err)
{
	return issue(is, rq, false, err);
}

X509 *
sp_issuer_sign_lean(struct sp_issuer *is, const struct sp_issue *rq,
    struct sp_err *err)
{
	return issue(is, rq, true, err);
}

int
sp_x509_serial_hex(const X509 *x, char *dst, size_t dstsz)
{
	BIGNUM *bn;
	char *h;
	int rc = -1;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	if (bn == NULL)
		return -1;
	if ((h = BN_bn2hex(bn)) != NULL) {
		if (strlen(h) < dstsz) {
			memcpy(dst, h, strlen(h) + 1);
			rc = 0;
		}
		OPENSSL_free(h);
	}
	BN_free(bn);
	return rc;
}

int
sp_x509_serial_norm(const char *in, char *dst, size_t dstsz)
{
	char tmp[64];
	size_t i, o = 0, start;

	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	for (i = 0; in[i] != '\0'; i++) {
		char c = in[i];

		if (c == ':')
			continue;
		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return -1;
		if (o + 1 >= sizeof(tmp))
			return -1;
		tmp[o++] = c;
	}
	if (o == 0)
		return -1;
	for (start = 0; start + 1 < o && tmp[start] == '0'; start++)
		;
	/* Whole bytes, as BN_bn2hex prints them. */
	if ((o - start) % 2 == 1) {
		if (start > 0)
			start--;
		else {
			memmove(tmp + 1, tmp, o);
			tmp[0] = '0';
			o++;
		}
	}
	if (o - start + 1 > dstsz)
		return -1;
	memcpy(dst, tmp + start, o - start);
	dst[o - start] = '\0';
	return 0;
}

static const struct {
	const char	*name;
	int		 code;
} reasons[] = {
	{ "unspecified", CRL_REASON_UNSPECIFIED },
	{ "keyCompromise", CRL_REASON_KEY_COMPROMISE },
	{ "cACompromise", CRL_REASON_CA_COMPROMISE },
	{ "affiliationChanged", CRL_REASON_AFFILIATION_CHANGED },
	{ "superseded", CRL_REASON_SUPERSEDED },
	{ "cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION },
	{ "privilegeWithdrawn", CRL_REASON_PRIVILEGE_WITHDRAWN },
};

int
sp_x509_reason_parse(const char *s, int *out)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcasecmp(s, reasons[i].name) == 0) {
			*out = reasons[i].code;
			return 0;
		}
	return -1;
}

const char *
sp_x509_reason_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return "unspecified";
}

static int
crl_add(X509_CRL *crl, const struct sp_revoked *r)
{
	X509_REVOKED *rev;
	ASN1_INTEGER *ai = NULL;
	ASN1_TIME *t = NULL;
	ASN1_ENUMERATED *e = NULL;
	BIGNUM *bn = NULL;
	int rc = -1;

	if ((rev = X509_REVOKED_new()) == NULL)
		return -1;
	if (BN_hex2bn(&bn, r->serial_hex) == 0 ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_REVOKED_set_serialNumber(rev, ai) != 1 ||
	    (t = ASN1_TIME_set(NULL, r->when)) == NULL ||
	    X509_REVOKED_set_revocationDate(rev, t) != 1)
		goto out;
	/* RFC 5280 5.3.1: the reason code "unspecified" SHOULD be absent. */
	if (r->reason != CRL_REASON_UNSPECIFIED) {
		if ((e = ASN1_ENUMERATED_new()) == NULL ||
		    ASN1_ENUMERATED_set(e, r->reason) != 1 ||
		    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, 0,
		    0) != 1)
			goto out;
	}
	if (X509_CRL_add0_revoked(crl, rev) != 1)
		goto out;
	rev = NULL;
	rc = 0;
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(ai);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(e);
	BN_free(bn);
	return rc;
}

X509_CRL *
sp_issuer_crl(struct sp_issuer *is, const struct sp_revoked *revs, size_t n,
    long crl_number, int days, struct sp_err *err)
{
	ASN1_INTEGER *num = NULL;
	ASN1_TIME *t = NULL;
	time_t now = time(NULL);
	X509_CRL *crl;
	size_t i;

	if ((crl = X509_CRL_new()) == NULL)
		goto fail;
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(is->ca)) != 1)
		goto fail;
	if ((t = ASN1_TIME_set(NULL, now)) == NULL ||
	    X509_CRL_set1_lastUpdate(crl, t) != 1)
		goto fail;
	ASN1_TIME_free(t);
	if ((t = X509_time_adj_ex(NULL, days, 0, &now)) == NULL ||
	    X509_CRL_set1_nextUpdate(crl, t) != 1)
		goto fail;
	for (i = 0; i < n; i++)
		if (crl_add(crl, &revs[i]) == -1)
			goto fail;
	X509_CRL_sort(crl);
	if ((num = ASN1_INTEGER_new()) == NULL ||
	    ASN1_INTEGER_set(num, crl_number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 ||
	    X509_CRL_add_ext(crl, is->aki, -1) != 1)
		goto fail;
	if (X509_CRL_sign(crl, is->key, is->md) <= 0)
		goto fail;
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	return crl;
fail:
	sp_err_ssl(err, "cannot make the CRL");
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	return NULL;
}

static int
bio_to_buf(BIO *b, struct sp_buf *out)
{
	char *p;
	long len;

	len = BIO_get_mem_data(b, &p);
	if (len < 0)
		return -1;
	return sp_buf_append(out, p, (size_t)len);
}

size_t
sp_der_tlv(unsigned char *dst, size_t dstsz, unsigned char tag,
    const unsigned char *v, size_t vlen)
{
	size_t h = vlen < 0x80 ? 2 : vlen < 0x100 ? 3 : 4;

	if (vlen > 0xffff || h + vlen > dstsz)
		return 0;
	/* Content first: it may start at dst (wrapping in place). */
	memmove(dst + h, v, vlen);
	dst[0] = tag;
	if (h == 2)
		dst[1] = (unsigned char)vlen;
	else if (h == 3) {
		dst[1] = 0x81;
		dst[2] = (unsigned char)vlen;
	} else {
		dst[1] = 0x82;
		dst[2] = (unsigned char)(vlen >> 8);
		dst[3] = (unsigned char)vlen;
	}
	return h + vlen;
}

/*
 * PKCS#8 PrivateKeyInfo of a named-curve EC key (RFC 5208, RFC 5915):
 *   SEQ { INT 0, SEQ { id-ecPublicKey, curve }, OCTET STRING {
 *     SEQ { INT 1, OCTET STRING d, [1] { BIT STRING point } } } }
 * the form OpenSSL itself writes, built without its per-call encoder
 * lookup (the dominant cost of bulk issuance).  Tests compare it with
 * OpenSSL's encoding byte for byte.
 */
static size_t
ec_pkcs8_der(EVP_PKEY *k, int nid, const unsigned char *point,
    size_t pointlen, unsigned char *out, size_t outsz)
{
	static const unsigned char alg256[] = { 0x30, 0x13, 0x06, 0x07, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
	    0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const unsigned char alg384[] = { 0x30, 0x10, 0x06, 0x07, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
	    0x00, 0x22 };
	unsigned char d[48], pt[2 + 2 * 48], t1[256], t2[256], t3[256];
	size_t dlen = nid == NID_secp384r1 ? 48 : 32, ptlen = 0, n1, n2, n;
	BIGNUM *bn = NULL;

	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1 ||
	    BN_bn2binpad(bn, d, (int)dlen) != (int)dlen) {
		BN_clear_free(bn);
		return 0;
	}
	BN_clear_free(bn);
	pt[0] = 0;		/* BIT STRING: no unused bits */
	if (point != NULL && pointlen <= sizeof(pt) - 1) {
		memcpy(pt + 1, point, pointlen);
		ptlen = pointlen;
	} else if (EVP_PKEY_get_octet_string_param(k,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt + 1, sizeof(pt) - 1,
	    &ptlen) != 1)
		goto fail;
	if (ptlen != 1 + 2 * dlen)
		goto fail;
	/* ECPrivateKey */
	memcpy(t1, "\x02\x01\x01", 3);
	n1 = 3;
	n1 += sp_der_tlv(t1 + n1, sizeof(t1) - n1, 0x04, d, dlen);
	n2 = sp_der_tlv(t2, sizeof(t2), 0x03, pt, ptlen + 1);
	n2 = sp_der_tlv(t3, sizeof(t3), 0xa1, t2, n2);
	memcpy(t1 + n1, t3, n2);
	n1 += n2;
	n1 = sp_der_tlv(t2, sizeof(t2), 0x30, t1, n1);
	/* PrivateKeyInfo */
	memcpy(t1, "\x02\x01\x00", 3);
	n = 3;
	if (nid == NID_secp384r1) {
		memcpy(t1 + n, alg384, sizeof(alg384));
		n += sizeof(alg384);
	} else {
		memcpy(t1 + n, alg256, sizeof(alg256));
		n += sizeof(alg256);
	}
	n += sp_der_tlv(t1 + n, sizeof(t1) - n, 0x04, t2, n1);
	n = sp_der_tlv(out, outsz, 0x30, t1, n);
	OPENSSL_cleanse(t1, sizeof(t1));
	OPENSSL_cleanse(t2, sizeof(t2));
	OPENSSL_cleanse(d, sizeof(d));
	return n;
fail:
	OPENSSL_cleanse(d, sizeof(d));
	return 0;
}

int
sp_x509_pem(const char *label, const unsigned char *der, size_t len,
    struct sp_buf *out)
{
	unsigned char line[65];
	size_t off;
	int n;

	if (sp_buf_printf(out, "-----BEGIN %s-----\n", label) == -1)
		return -1;
	/* 48 bytes of DER make one 64-character line, as PEM_write does. */
	for (off = 0; off < len; off += 48) {
		n = EVP_EncodeBlock(line, der + off, (int)(len - off > 48 ?
		    48 : len - off));
		if (sp_buf_append(out, line, (size_t)n) == -1 ||
		    sp_buf_append(out, "\n", 1) == -1)
			return -1;
	}
	OPENSSL_cleanse(line, sizeof(line));
	return sp_buf_printf(out, "-----END %s-----\n", label);
}

int
sp_x509_ec_key_pem(EVP_PKEY *k, const unsigned char *point, size_t pointlen,
    struct sp_buf *out, struct sp_err *err)
{
	unsigned char der[512];
	size_t dlen;
	int nid = sp_x509_ec_curve_nid(k), rc = -1;

	out->secret = 1;
	if (nid == NID_undef)
		return sp_err_set(err, "not a P-256 or P-384 key");
	if ((dlen = ec_pkcs8_der(k, nid, point, pointlen, der,
	    sizeof(der))) == 0)
		sp_err_ssl(err, "cannot encode the private key");
	else if (sp_x509_pem("PRIVATE KEY", der, dlen, out) == -1)
		sp_err_set(err, "private key too large for buffer");
	else
		rc = 0;
	OPENSSL_cleanse(der, sizeof(der));
	return rc;
}

int
sp_x509_key_pem(EVP_PKEY *k, const char *pass, struct sp_buf *out,
    struct sp_err *err)
{
	unsigned char der[512];
	size_t dlen;
	int nid = sp_x509_ec_curve_nid(k);
	BIO *b;
	int rc = -1;

	out->secret = 1;
	if ((b = BIO_new(BIO_s_secmem())) == NULL)
		return sp_err_ssl(err, "out of memory");
	if (pass == NULL && nid != NID_undef) {
		dlen = ec_pkcs8_der(k, nid, NULL, 0, der, sizeof(der));
		if (dlen == 0)
			sp_err_ssl(err, "cannot encode the private key");
		else if (sp_x509_pem("PRIVATE KEY", der, dlen, out) == -1)
			sp_err_set(err, "private key too large for buffer");
		else
			rc = 0;
		OPENSSL_cleanse(der, sizeof(der));
	} else if (PEM_write_bio_PKCS8PrivateKey(b, k, pass ?
	    EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
	    (void *)(uintptr_t)pass) != 1)
		sp_err_ssl(err, "cannot encode the private key");
	else if (bio_to_buf(b, out) == -1)
		sp_err_set(err, "private key too large for buffer");
	else
		rc = 0;
	BIO_free(b);
	return rc;
}

int
sp_x509_cert_pem(X509 *x, struct sp_buf *out, struct sp_err *err)
{
	BIO *b;
	int rc = -1;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return sp_err_ssl(err, "out of memory");
	if (PEM_write_bio_X509(b, x) != 1)
		sp_err_ssl(err, "cannot encode the certificate");
	else if (bio_to_buf(b, out) == -1)
		sp_err_set(err, "certificate too large for buffer");
	else
		rc = 0;
	BIO_free(b);
	return rc;
}

/* Never prompts: a missing passphrase is an error, not a terminal read. */
static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	size_t n;

	(void)rwflag;
	if (u == NULL)
		return -1;
	n = strlen(u);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, u, n);
	return (int)n;
}

EVP_PKEY *
sp_x509_key_load(const char *path, const char *pass, struct sp_err *err)
{
	EVP_PKEY *k = NULL;
	size_t len;
	char *data;
	BIO *b;

	if (sp_fs_read_secret(path, SP_CERT_FILE_MAX, &data, &len, err) == -1)
		return NULL;
	if ((b = BIO_new_mem_buf(data, (int)len)) != NULL) {
		k = PEM_read_bio_PrivateKey(b, NULL, pass_cb,
		    (void *)(uintptr_t)pass);
		BIO_free(b);
	}
	sp_fs_free_secret(data, len);
	if (k == NULL) {
		sp_err_ssl(err, "%s: cannot read the private key%s", path,
		    pass == NULL ? " (if it is encrypted, give "
		    "--passphrase-file)" : " (wrong passphrase?)");
	}
	return k;
}

X509 *
sp_x509_cert_parse(const char *p, size_t len, struct sp_err *err)
{
	const unsigned char *d = (const unsigned char *)p;
	X509 *x = NULL;
	BIO *b;

	if (len == 0) {
		sp_err_set(err, "empty file: no certificate in it");
		return NULL;
	}
	if (has_pem(p, len)) {
		if (!find(p, len, "-----BEGIN CERTIFICATE-----")) {
			sp_err_set(err, "PEM file holds no CERTIFICATE block");
			return NULL;
		}
		if (!find(p, len, "-----END CERTIFICATE-----")) {
			sp_err_set(err, "truncated PEM: the END CERTIFICATE "
			    "line is missing");
			return NULL;
		}
		if ((b = BIO_new_mem_buf(p, (int)len)) == NULL)
			return NULL;
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
		if (x == NULL)
			sp_err_ssl(err, "malformed PEM certificate");
		return x;
	}
	if ((x = d2i_X509(NULL, &d, (long)len)) == NULL)
		sp_err_ssl(err, "neither a PEM nor a DER certificate");
	return x;
}

X509 *
sp_x509_cert_load(const char *path, struct sp_err *err)
{
	size_t len;
	char *data;
	X509 *x;

	if (sp_fs_read(path, SP_CERT_FILE_MAX, &data, &len, err) == -1)
		return NULL;
	x = sp_x509_cert_parse(data, len, err);
	free(data);
	if (x == NULL)
		sp_err_prefix(err, "%s", path);
	return x;
}

bool
sp_x509_key_matches(X509 *x, EVP_PKEY *k)
{
	return X509_check_private_key(x, k) == 1;
}
