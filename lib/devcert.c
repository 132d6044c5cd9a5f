#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "sprov/devcert.h"
#include "sprov/str.h"
#include "x509-int.h"

#define PART_MAX	512	/* one encoded piece: name, SPKI, extensions */

struct sp_devtpl {
	struct sp_issuer	*is;
	EVP_MD_CTX		*mctx;
	EVP_MD_CTX		*proto;		/* initialised once, copied */
	EVP_MD			*md;		/* fetched once */
	int			 days;
	unsigned char		 sigalg[32];	/* AlgorithmIdentifier */
	size_t			 sigalglen;
	unsigned char		 issuer[PART_MAX];	/* Name */
	size_t			 issuerlen;
	/* bc, ku (EC and RSA), eku clientAuth, aki: Extension DERs */
	unsigned char		 bc[64], ku_ec[64], ku_rsa[64], eku[64];
	unsigned char		 aki[64];
	size_t			 bclen, ku_eclen, ku_rsalen, ekulen, akilen;
};

static int
ext_der(X509_EXTENSION *e, unsigned char *dst, size_t dstsz, size_t *len)
{
	unsigned char *p = NULL;
	int n;

	if ((n = i2d_X509_EXTENSION(e, &p)) <= 0 || (size_t)n > dstsz) {
		OPENSSL_free(p);
		return -1;
	}
	memcpy(dst, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	return 0;
}

struct sp_devtpl *
sp_devtpl_new(struct sp_issuer *is, int days, struct sp_err *err)
{
	struct sp_devtpl *t;
	const X509_ALGOR *alg;
	unsigned char *p = NULL;
	X509 *probe = NULL;
	int n;

	if (days < 1 || days > SP_DAYS_MAX) {
		sp_err_set(err, "validity must be 1 to %d days", SP_DAYS_MAX);
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	t->is = is;
	t->days = days;
	/* Copying an initialised context skips a provider fetch per cert. */
	if ((t->mctx = EVP_MD_CTX_new()) == NULL ||
	    (t->proto = EVP_MD_CTX_new()) == NULL ||
	    (t->md = EVP_MD_fetch(NULL, EVP_MD_get0_name(is->md),
	    NULL)) == NULL ||
	    EVP_DigestSignInit(t->proto, NULL, t->md, NULL, is->key) != 1)
		goto fail;
	/* The signature AlgorithmIdentifier exactly as X509_sign() writes it. */
	if ((probe = X509_new()) == NULL ||
	    X509_set_pubkey(probe, is->key) != 1 ||
	    X509_sign(probe, is->key, is->md) <= 0)
		goto fail;
	X509_get0_signature(NULL, &alg, probe);
	if ((n = i2d_X509_ALGOR(alg, &p)) <= 0 ||
	    (size_t)n > sizeof(t->sigalg))
		goto fail;
	memcpy(t->sigalg, p, (size_t)n);
	t->sigalglen = (size_t)n;
	OPENSSL_free(p);
	p = NULL;
	if ((n = i2d_X509_NAME(X509_get_subject_name(is->ca), &p)) <= 0 ||
	    (size_t)n > sizeof(t->issuer))
		goto fail;
	memcpy(t->issuer, p, (size_t)n);
	t->issuerlen = (size_t)n;
	if (ext_der(is->bc, t->bc, sizeof(t->bc), &t->bclen) == -1 ||
	    ext_der(is->ku_ec, t->ku_ec, sizeof(t->ku_ec), &t->ku_eclen) == -1 ||
	    ext_der(is->ku_rsa, t->ku_rsa, sizeof(t->ku_rsa),
	    &t->ku_rsalen) == -1 ||
	    ext_der(is->eku_client, t->eku, sizeof(t->eku), &t->ekulen) == -1 ||
	    ext_der(is->aki, t->aki, sizeof(t->aki), &t->akilen) == -1)
		goto fail;
	OPENSSL_free(p);
	X509_free(probe);
	return t;
fail:
	sp_err_ssl(err, "cannot prepare the device certificate template");
	OPENSSL_free(p);
	X509_free(probe);
	sp_devtpl_free(t);
	return NULL;
}

void
sp_devtpl_free(struct sp_devtpl *t)
{
	if (t == NULL)
		return;
	EVP_MD_CTX_free(t->mctx);
	EVP_MD_CTX_free(t->proto);
	EVP_MD_free(t->md);
	free(t);
}

/* Appends bytes to a piece under construction. */
static int
put(unsigned char *dst, size_t dstsz, size_t *len, const void *p, size_t n)
{
	if (n > dstsz - *len)
		return -1;
	memcpy(dst + *len, p, n);
	*len += n;
	return 0;
}

/* Appends TLV(tag, v) to a piece under construction. */
static int
put_tlv(unsigned char *dst, size_t dstsz, size_t *len, unsigned char tag,
    const void *v, size_t vlen)
{
	size_t n = sp_der_tlv(dst + *len, dstsz - *len, tag, v, vlen);

	if (n == 0)
		return -1;
	*len += n;
	return 0;
}

/* Wraps the whole piece in a tag, in place. */
static int
wrap(unsigned char *dst, size_t dstsz, size_t *len, unsigned char tag)
{
	size_t n = sp_der_tlv(dst, dstsz, tag, dst, *len);

	if (n == 0)
		return -1;
	*len = n;
	return 0;
}

/* One RDN: SET { SEQUENCE { OID, UTF8String } }, as MBSTRING_ASC makes. */
static int
put_rdn(unsigned char *dst, size_t dstsz, size_t *len, unsigned char attr,
    const char *v)
{
	unsigned char atv[128];
	size_t n = 0;
	const unsigned char oid[] = { 0x55, 0x04, attr };

	if (put_tlv(atv, sizeof(atv), &n, V_ASN1_OBJECT, oid,
	    sizeof(oid)) == -1 || put_tlv(atv, sizeof(atv), &n,
	    V_ASN1_UTF8STRING, v, strlen(v)) == -1 ||
	    wrap(atv, sizeof(atv), &n, 0x30) == -1 ||
	    wrap(atv, sizeof(atv), &n, 0x31) == -1)
		return -1;
	return put(dst, dstsz, len, atv, n);
}

/* UTCTime for 1950-2049, GeneralizedTime after, as ASN1_TIME_set does. */
static int
put_time(unsigned char *dst, size_t dstsz, size_t *len, time_t t)
{
	char s[20];
	struct tm tm;
	int n;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (tm.tm_year >= 50 && tm.tm_year < 150) {
		n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ",
		    tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		return put_tlv(dst, dstsz, len, V_ASN1_UTCTIME, s, (size_t)n);
	}
	n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return put_tlv(dst, dstsz, len, V_ASN1_GENERALIZEDTIME, s, (size_t)n);
}

/*
 * SubjectPublicKeyInfo.  For P-256/P-384 keys it is built from the encoded
 * point (what X509_set_pubkey would write, without its encoder); *bits and
 * *bitslen point at the key bits inside it, for the SKI.
 */
static int
put_spki(unsigned char *dst, size_t dstsz, size_t *len, EVP_PKEY *k,
    const unsigned char **bits, size_t *bitslen, struct sp_devcert *out)
{
	static const unsigned char alg256[] = { 0x30, 0x13, 0x06, 0x07, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
	    0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const unsigned char alg384[] = { 0x30, 0x10, 0x06, 0x07, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
	    0x00, 0x22 };
	unsigned char spki[PART_MAX], bs[1 + 133], *p = NULL;
	const unsigned char *q;
	size_t n = 0, plen = 0, start;
	int nid = sp_x509_ec_curve_nid(k), dl;
	X509_PUBKEY *xpk = NULL;
	const unsigned char *pk;
	int pklen;

	start = *len;
	if (nid == NID_undef) {
		/* RSA and the rest: the general encoder (keygen dwarfs it). */
		if ((dl = i2d_PUBKEY(k, &p)) <= 0)
			return -1;
		q = p;
		if ((xpk = d2i_X509_PUBKEY(NULL, &q, dl)) == NULL ||
		    X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL,
		    xpk) != 1 || put(dst, dstsz, len, p, (size_t)dl) == -1) {
			X509_PUBKEY_free(xpk);
			OPENSSL_free(p);
			return -1;
		}
		/* pk points into xpk; find the same bytes in our copy. */
		*bits = dst + start + (size_t)dl - (size_t)pklen;
		*bitslen = (size_t)pklen;
		X509_PUBKEY_free(xpk);
		OPENSSL_free(p);
		return 0;
	}
	bs[0] = 0;
	if (EVP_PKEY_get_octet_string_param(k,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, bs + 1, sizeof(bs) - 1,
	    &plen) != 1)
		return -1;
	/* Kept for sp_devcert_key_pem(): exporting a point costs 4 us. */
	memcpy(out->pub, bs + 1, plen);
	out->publen = plen;
	if (nid == NID_secp384r1)
		put(spki, sizeof(spki), &n, alg384, sizeof(alg384));
	else
		put(spki, sizeof(spki), &n, alg256, sizeof(alg256));
	if (put_tlv(spki, sizeof(spki), &n, V_ASN1_BIT_STRING, bs,
	    plen + 1) == -1 || wrap(spki, sizeof(spki), &n, 0x30) == -1 ||
	    put(dst, dstsz, len, spki, n) == -1)
		return -1;
	*bits = dst + *len - plen;
	*bitslen = plen;
	return 0;
}

void
sp_devcert_subject(const char *mac, const char *serial, const char *model,
    char *dst, size_t dstsz)
{
	/* Fields are [A-Za-z0-9._-]: nothing RFC 2253 would escape. */
	snprintf(dst, dstsz, "%s%s%s%s%s%sST=%s,CN=%s",
	    model ? "OU=" : "", model ? model : "", model ? "," : "",
	    serial ? "L=" : "", serial ? serial : "", serial ? "," : "",
	    mac, mac);
}

int
sp_devtpl_issue_at(struct sp_devtpl *t, const char *mac, const char *serial,
    const char *model, EVP_PKEY *key, const unsigned char sn[16], time_t now,
    struct sp_devcert *out, struct sp_err *err)
{
	static const unsigned char version[] = { 0xa0, 0x03, 0x02, 0x01,
	    0x02 };
	static const unsigned char ski_head[] = { 0x30, 0x1d, 0x06, 0x03,
	    0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04, 0x14 };
	unsigned char *tbs = out->der, part[PART_MAX], sig[1024], bs[1025];
	unsigned char ski[EVP_MAX_MD_SIZE];
	const unsigned char *bits;
	size_t n = 0, pn, bitslen, siglen = sizeof(sig);
	unsigned int skilen;
	time_t from = now - SP_BACKDATE_SECONDS;
	time_t until = from + (time_t)t->days * 86400;
	int rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;

	if (sp_x509_device_fields_check(mac, serial, model, err) == -1)
		return -1;
	if ((sn[0] & 0x80) || sn[0] == 0)
		return sp_err_set(err, "serial must be positive, full width");
	if (X509_cmp_time(X509_get0_notAfter(t->is->ca), &until) < 0)
		return sp_err_set(err, "a validity of %d days would outlast the "
		    "issuing CA's own certificate; choose fewer days", t->days);
	/* TBSCertificate, built in out->der and wrapped in place. */
	if (put(tbs, SP_DEVCERT_MAX, &n, version, sizeof(version)) == -1 ||
	    put_tlv(tbs, SP_DEVCERT_MAX, &n, V_ASN1_INTEGER, sn, 16) == -1 ||
	    put(tbs, SP_DEVCERT_MAX, &n, t->sigalg, t->sigalglen) == -1 ||
	    put(tbs, SP_DEVCERT_MAX, &n, t->issuer, t->issuerlen) == -1)
		goto toolong;
	pn = 0;
	if (put_time(part, sizeof(part), &pn, from) == -1 ||
	    put_time(part, sizeof(part), &pn, until) == -1 ||
	    wrap(part, sizeof(part), &pn, 0x30) == -1 ||
	    put(tbs, SP_DEVCERT_MAX, &n, part, pn) == -1)
		goto toolong;
	pn = 0;
	if ((model != NULL && put_rdn(part, sizeof(part), &pn, 0x0b,
	    model) == -1) ||
	    (serial != NULL && put_rdn(part, sizeof(part), &pn, 0x07,
	    serial) == -1) ||
	    put_rdn(part, sizeof(part), &pn, 0x08, mac) == -1 ||
	    put_rdn(part, sizeof(part), &pn, 0x03, mac) == -1 ||
	    wrap(part, sizeof(part), &pn, 0x30) == -1 ||
	    put(tbs, SP_DEVCERT_MAX, &n, part, pn) == -1)
		goto toolong;
	out->publen = 0;
	if (put_spki(tbs, SP_DEVCERT_MAX, &n, key, &bits, &bitslen,
	    out) == -1)
		return sp_err_ssl(err, "cannot encode the device public key");
	/* SKI: SHA-1 of the key bits, as X509_pubkey_digest computes it. */
	if (EVP_Digest(bits, bitslen, ski, &skilen, t->is->sha1,
	    NULL) != 1 || skilen != 20)
		return sp_err_ssl(err, "cannot compute the key identifier");
	pn = 0;
	if (put(part, sizeof(part), &pn, t->bc, t->bclen) == -1 ||
	    put(part, sizeof(part), &pn, rsa ? t->ku_rsa : t->ku_ec,
	    rsa ? t->ku_rsalen : t->ku_eclen) == -1 ||
	    put(part, sizeof(part), &pn, t->eku, t->ekulen) == -1 ||
	    put(part, sizeof(part), &pn, ski_head, sizeof(ski_head)) == -1 ||
	    put(part, sizeof(part), &pn, ski, 20) == -1 ||
	    put(part, sizeof(part), &pn, t->aki, t->akilen) == -1 ||
	    wrap(part, sizeof(part), &pn, 0x30) == -1 ||
	    wrap(part, sizeof(part), &pn, 0xa3) == -1 ||
	    put(tbs, SP_DEVCERT_MAX, &n, part, pn) == -1 ||
	    wrap(tbs, SP_DEVCERT_MAX, &n, 0x30) == -1)
		goto toolong;
	/* Signature over the TBS, then Certificate ::= SEQ { tbs, alg, sig }. */
	if (EVP_MD_CTX_copy_ex(t->mctx, t->proto) != 1 ||
	    EVP_DigestSign(t->mctx, sig, &siglen, tbs, n) != 1)
		return sp_err_ssl(err, "cannot sign the device certificate");
	bs[0] = 0;
	memcpy(bs + 1, sig, siglen);
	if (put(tbs, SP_DEVCERT_MAX, &n, t->sigalg, t->sigalglen) == -1 ||
	    put_tlv(tbs, SP_DEVCERT_MAX, &n, V_ASN1_BIT_STRING, bs,
	    siglen + 1) == -1 || wrap(tbs, SP_DEVCERT_MAX, &n, 0x30) == -1)
		goto toolong;
	out->derlen = n;
	sp_str_hex(out->serial, sn, 16);
	for (n = 0; out->serial[n] != '\0'; n++)
		if (out->serial[n] >= 'a' && out->serial[n] <= 'f')
			out->serial[n] = (char)(out->serial[n] - 'a' + 'A');
	out->not_before = from;
	out->not_after = until;
	return 0;
toolong:
	return sp_err_set(err, "device certificate larger than %d bytes",
	    SP_DEVCERT_MAX);
}

int
sp_devtpl_issue(struct sp_devtpl *t, const char *mac, const char *serial,
    const char *model, EVP_PKEY *key, struct sp_devcert *out,
    struct sp_err *err)
{
	unsigned char sn[SP_SERIAL_BITS / 8];

	do {
		if (RAND_bytes(sn, sizeof(sn)) != 1)
			return sp_err_ssl(err, "no randomness for the serial");
		sn[0] &= 0x7f;		/* positive */
	} while (sn[0] == 0);		/* full width */
	return sp_devtpl_issue_at(t, mac, serial, model, key, sn, time(NULL),
	    out, err);
}

int
sp_devcert_key_pem(const struct sp_devcert *dc, EVP_PKEY *key,
    struct sp_buf *out, struct sp_err *err)
{
	if (dc->publen == 0)
		return sp_x509_key_pem(key, NULL, out, err);
	return sp_x509_ec_key_pem(key, dc->pub, dc->publen, out, err);
}
