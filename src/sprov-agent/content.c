/* What a profile's bytes are: gzip, `openssl enc` (Salted__), or XML. */
#include <string.h>

#include <limits.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include "sprov/buf.h"
#include "sprov-agent/agent.h"

#define PROFILE_BYTES_MAX	(8 * 1024 * 1024)

static int
gunzip(const struct sp_buf *in, struct sp_buf *out, struct sp_err *err)
{
	unsigned char chunk[65536];
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return sp_err_set(err, "gzip: cannot start");
	z.next_in = (unsigned char *)in->data;
	z.avail_in = (unsigned)in->len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		r = inflate(&z, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END) {
			inflateEnd(&z);
			return sp_err_set(err, "gzip: corrupt or truncated (%s)",
			    z.msg ? z.msg : "no detail");
		}
		if (sp_buf_append(out, chunk, sizeof(chunk) - z.avail_out) ==
		    -1) {
			inflateEnd(&z);
			return sp_err_set(err, "gzip: more than %d bytes "
			    "uncompressed", PROFILE_BYTES_MAX);
		}
	} while (r != Z_STREAM_END && z.avail_in > 0);
	inflateEnd(&z);
	if (r != Z_STREAM_END)
		return sp_err_set(err, "gzip: truncated");
	return 0;
}

/*
 * openssl enc -aes-256-cbc -k KEY: "Salted__", 8 bytes of salt, then the
 * ciphertext; key and IV from EVP_BytesToKey with one iteration.  Firmware
 * of both eras exists: SHA-256 (OpenSSL >= 1.1) first, then MD5.
 */
static int
decrypt(const struct sp_buf *in, const char *pass, const EVP_MD *md,
    struct sp_buf *out)
{
	unsigned char key[32], iv[16];
	EVP_CIPHER_CTX *c;
	int n1 = 0, n2 = 0, ok = 0;
	unsigned char *p;

	if (in->len < 32 || (in->len - 16) % 16 != 0)
		return -1;
	if (EVP_BytesToKey(EVP_aes_256_cbc(), md,
	    (const unsigned char *)in->data + 8, (const unsigned char *)pass,
	    (int)strlen(pass), 1, key, iv) != 32)
		return -1;
	if ((p = OPENSSL_malloc(in->len)) == NULL ||
	    (c = EVP_CIPHER_CTX_new()) == NULL) {
		OPENSSL_cleanse(key, sizeof(key));
		OPENSSL_cleanse(iv, sizeof(iv));
		OPENSSL_free(p);
		return -1;
	}
	if (EVP_DecryptInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv) == 1 &&
	    EVP_DecryptUpdate(c, p, &n1, (const unsigned char *)in->data + 16,
	    (int)in->len - 16) == 1 && EVP_DecryptFinal_ex(c, p + n1, &n2) == 1)
		ok = sp_buf_append(out, p, (size_t)(n1 + n2)) == 0;
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_cleanse(p, in->len);
	OPENSSL_free(p);
	return ok ? 0 : -1;
}

static int
looks_gzip(const struct sp_buf *b)
{
	return b->len >= 2 && (unsigned char)b->data[0] == 0x1f &&
	    (unsigned char)b->data[1] == 0x8b;
}

/*
 * The reverse of decrypt(), for Report_Rule --key: what
 * `openssl enc -d -aes-256-cbc -md sha256 -k KEY` reads back.
 */
int
content_encrypt(const char *data, size_t len, const char *pass,
    struct sp_buf *out)
{
	unsigned char key[32], iv[16], salt[8], *p = NULL;
	EVP_CIPHER_CTX *c = NULL;
	int n1 = 0, n2 = 0, ok = 0;

	if (len > INT_MAX - 32 || RAND_bytes(salt, sizeof(salt)) != 1 ||
	    EVP_BytesToKey(EVP_aes_256_cbc(), EVP_sha256(), salt,
	    (const unsigned char *)pass, (int)strlen(pass), 1, key, iv) != 32)
		goto out;
	if ((p = OPENSSL_malloc(len + 16)) == NULL ||
	    (c = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv) == 1 &&
	    EVP_EncryptUpdate(c, p, &n1, (const unsigned char *)data,
	    (int)len) == 1 && EVP_EncryptFinal_ex(c, p + n1, &n2) == 1)
		ok = sp_buf_append(out, "Salted__", 8) == 0 &&
		    sp_buf_append(out, salt, sizeof(salt)) == 0 &&
		    sp_buf_append(out, p, (size_t)(n1 + n2)) == 0;
out:
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_free(p);
	return ok ? 0 : -1;
}

/* Turns fetched bytes into a profile; NULL with the reason in err. */
struct sp_profile *
content_profile(const struct sp_buf *raw, const char *key,
    const char *alias, struct sp_err *err)
{
	const EVP_MD *mds[2] = { EVP_sha256(), EVP_md5() };
	struct sp_buf plain, xml;
	struct sp_profile *p = NULL;
	int i;

	sp_buf_init(&plain, PROFILE_BYTES_MAX);
	plain.secret = 1;
	sp_buf_init(&xml, PROFILE_BYTES_MAX);
	xml.secret = 1;
	if (raw->len >= 8 && memcmp(raw->data, "Salted__", 8) == 0) {
		if (key == NULL) {
			sp_err_set(err, "the profile is encrypted and the rule "
			    "gives no --key");
			goto out;
		}
		for (i = 0; i < 2; i++) {
			sp_buf_reset(&plain);
			if (decrypt(raw, key, mds[i], &plain) == -1)
				continue;
			/* A wrong key can pass the padding check: what comes
			 * out must itself make sense. */
			if (looks_gzip(&plain) || (plain.len > 0 &&
			    memchr(plain.data, '<', plain.len) != NULL))
				break;
		}
		if (i == 2) {
			sp_err_set(err, "cannot decrypt the profile with the "
			    "rule's --key (tried SHA-256 and MD5 key "
			    "derivation)");
			goto out;
		}
	} else if (sp_buf_append(&plain, raw->data ? raw->data : "",
	    raw->len) == -1) {
		sp_err_set(err, "profile too large");
		goto out;
	}
	if (looks_gzip(&plain)) {
		if (gunzip(&plain, &xml, err) == -1)
			goto out;
	} else if (sp_buf_append(&xml, plain.data ? plain.data : "",
	    plain.len) == -1) {
		sp_err_set(err, "profile too large");
		goto out;
	}
	if (alias != NULL)
		p = sp_profile_parse_alias(xml.data ? xml.data : "", xml.len,
		    alias, strlen(alias), err);
	else
		p = sp_profile_parse(xml.data ? xml.data : "", xml.len, err);
	if (p == NULL)
		sp_err_prefix(err, "profile");
out:
	sp_buf_release(&plain);
	sp_buf_release(&xml);
	return p;
}
