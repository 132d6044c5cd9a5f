/*
 * The parts of the store that do not depend on a backend: what a scope, a
 * group name and a MAC look like, how untrusted strings are quoted into
 * error messages and cut to their column sizes, and how an audit entry is
 * hashed into the chain.  Every backend (store_sqlite.c today, store_pg.c
 * later) validates with these before it touches its database, and must
 * hash audit entries with sp_store_audit_hash() so that a trail moved
 * between backends still verifies.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "sprov/err.h"
#include "sprov/limits.h"
#include "sprov/mac.h"
#include "sprov/store.h"
#include "sprov/str.h"

/*
 * Internal to lib/store*.c: the same declarations open store_sqlite.c.
 * (They would live in a lib/store-int.h once a second backend exists.)
 */
bool	sp_store_name_ok(const char *, size_t);
void	sp_store_quote(char *, size_t, const char *);
int	sp_store_mac_check(const char *, struct sp_err *);
size_t	sp_store_cut(const char *, size_t);
int	sp_store_audit_hash(const char *, int64_t, int64_t, int64_t,
	    const char *const *, const size_t *, size_t, char *);

/* Characters of a model or group name, besides letters and digits. */
#define NAME_EXTRA	"._-"
/* Bytes of an untrusted string shown in an error message. */
#define QUOTE_SHOWN	80
/* Domain separation: a v2 serialisation must never collide with v1. */
#define AUDIT_DOMAIN	"sprov-audit-v1"

/* A model or group name: 1 to SP_GROUP_NAME_MAX of [A-Za-z0-9._-]. */
bool
sp_store_name_ok(const char *s, size_t len)
{
	return len >= 1 && len <= SP_GROUP_NAME_MAX &&
	    sp_str_charset(s, len, NAME_EXTRA);
}

/*
 * Copies an untrusted string into dst for an error message: printable
 * ASCII as is (backslash and quote escaped), anything else as \xNN, cut
 * after QUOTE_SHOWN bytes with "...".  dst is always NUL-terminated.
 */
void
sp_store_quote(char *dst, size_t dstsz, const char *s)
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsz == 0)
		return;
	if (s == NULL)
		s = "(null)";
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == QUOTE_SHOWN) {
			if (o + 3 < dstsz) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = (char)c;
		} else if (c == '\\' || c == '\'') {
			if (o + 2 >= dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstsz)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hx[c >> 4];
			dst[o++] = hx[c & 0xf];
		}
	}
	dst[o] = '\0';
}

int
sp_store_mac_check(const char *mac, struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];

	if (mac == NULL)
		return sp_err_set(err, "MAC missing");
	if (!sp_mac_is_normal(mac, strnlen(mac, SP_MAC_HEXLEN + 1))) {
		sp_store_quote(q, sizeof(q), mac);
		return sp_err_set(err, "MAC '%s': expected 12 lower-case hex "
		    "digits", q);
	}
	return 0;
}

/*
 * The length to keep of s so that it fits max bytes without splitting a
 * UTF-8 sequence: when a cut is needed, continuation bytes (10xxxxxx) at
 * the cut are dropped together with the lead byte they belong to.  Bytes
 * that are not UTF-8 are kept as bytes (the store does not repair them).
 */
size_t
sp_store_cut(const char *s, size_t max)
{
	size_t len = strnlen(s, max + 1), n = max;
	int k;

	if (len <= max)
		return len;
	/*
	 * s[n] is the first byte dropped: while it continues a sequence,
	 * move the cut back (at most 3 bytes, the longest continuation).
	 */
	for (k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80;
	    k++)
		n--;
	if (((unsigned char)s[n] & 0xc0) == 0x80)
		n = max;	/* not UTF-8 here: a plain byte cut */
	return n;
}

static int
hash_u64(EVP_MD_CTX *c, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return EVP_DigestUpdate(c, b, sizeof(b));
}

/*
 * The hash of one audit entry, hex into out (65 bytes):
 *
 *	SHA-256( "sprov-audit-v1" 0x00 || prev (64 hex bytes) ||
 *	    u64 seq || u64 when || u64 status || u64 nfields ||
 *	    for each field: 0x00 (NULL) | 0x01 u64 length bytes )
 *
 * Integers are big-endian.  Every variable-length part carries its length
 * and NULL differs from "", so no two different entries serialise alike.
 * Fields are passed with lengths (not NUL-terminated) so that a value
 * edited to carry a NUL cannot hash like its prefix.
 */
int
sp_store_audit_hash(const char *prev, int64_t seq, int64_t when,
    int64_t status, const char *const *f, const size_t *flen, size_t nf,
    char *out)
{
	unsigned char md[32], tag;
	unsigned int mdlen = 0;
	EVP_MD_CTX *c;
	size_t i;
	int ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, AUDIT_DOMAIN, sizeof(AUDIT_DOMAIN)) == 1 &&
	    EVP_DigestUpdate(c, prev, 64) == 1 &&
	    hash_u64(c, (uint64_t)seq) == 1 &&
	    hash_u64(c, (uint64_t)when) == 1 &&
	    hash_u64(c, (uint64_t)status) == 1 &&
	    hash_u64(c, (uint64_t)nf) == 1;
	for (i = 0; ok && i < nf; i++) {
		tag = f[i] == NULL ? 0 : 1;
		ok = EVP_DigestUpdate(c, &tag, 1) == 1;
		if (ok && f[i] != NULL)
			ok = hash_u64(c, (uint64_t)flen[i]) == 1 &&
			    EVP_DigestUpdate(c, f[i], flen[i]) == 1;
	}
	if (ok)
		ok = EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	sp_str_hex(out, md, sizeof(md));
	return 0;
}

int
sp_store_scope_check(const char *scope, struct sp_err *err)
{
	char q[4 * QUOTE_SHOWN + 8];
	size_t len;

	if (scope == NULL)
		return sp_err_set(err, "scope missing");
	len = strnlen(scope, SP_SCOPE_MAX + 1);
	sp_store_quote(q, sizeof(q), scope);
	if (strcmp(scope, "default") == 0)
		return 0;
	if (strncmp(scope, "model:", 6) == 0 ||
	    strncmp(scope, "group:", 6) == 0) {
		if (!sp_store_name_ok(scope + 6, len - 6))
			return sp_err_set(err, "scope '%s': a %.5s name is 1 "
			    "to %d of A-Z a-z 0-9 . _ -", q, scope,
			    SP_GROUP_NAME_MAX);
		return 0;
	}
	if (strncmp(scope, "device:", 7) == 0) {
		if (!sp_mac_is_normal(scope + 7, len - 7))
			return sp_err_set(err, "scope '%s': a device is named "
			    "by its MAC, 12 lower-case hex digits", q);
		return 0;
	}
	return sp_err_set(err, "scope '%s': expected default, model:, group: "
	    "or device:", q);
}
