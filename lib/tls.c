#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sprov/buf.h"
#include "sprov/fsutil.h"
#include "sprov/limits.h"
#include "sprov/str.h"
#include "sprov/tls.h"
#include "sprov/x509.h"

struct sp_tls_server {
	SSL_CTX		*ctx;
	atomic_int	 refs;
	X509		*leaf[SP_TLS_MAX_CERTS];
	EVP_PKEY	*key[SP_TLS_MAX_CERTS];		/* kept for reloads */
	STACK_OF(X509)	*chain[SP_TLS_MAX_CERTS];	/* NULL: none */
	size_t		 nleaf;
	/* The client CAs loaded, for a refresh without the files. */
	STACK_OF(X509)	*cas;
	bool		 verify_clients;
	unsigned char	 tkeys[SP_TLS_TICKET_KEYS_MAX][SP_TLS_TICKET_KEY_LEN];
	size_t		 ntkeys;
	/* Verdicts on client certificates already verified here. */
	pthread_mutex_t	 vlock;
	struct verdict	*verdicts;	/* SP_TLS_VERDICTS_MAX, lazily */
	EVP_MD		*sha256;
	time_t		 crl_next;	/* earliest CRL nextUpdate, or 0 */
};

struct verdict {
	unsigned char	 h[32];
	time_t		 until;		/* 0: free slot */
};

struct sp_tls_conn {
	SSL			*ssl;
	struct sp_tls_server	*srv;
	char			 err[256];
};

static int
load_chain(SSL_CTX *ctx, const char *certfile, const char *keyfile,
    EVP_PKEY *kept, X509 **leaf, EVP_PKEY **keyp, STACK_OF(X509) **chainp,
    struct sp_err *err)
{
	STACK_OF(X509) *ch = NULL;
	EVP_PKEY *k = kept;

	/* The key's permissions first: a readable key is refused outright. */
	if (k == NULL && (k = sp_x509_key_load(keyfile, NULL, err)) == NULL)
		return -1;
	if (kept != NULL && EVP_PKEY_up_ref(k) != 1)
		return sp_err_ssl(err, "%s: cannot keep the key", keyfile);
	*keyp = k;
	if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1)
		return sp_err_ssl(err, "%s: cannot load certificate chain",
		    certfile);
	if (SSL_CTX_use_PrivateKey(ctx, k) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return sp_err_ssl(err, "%s does not match %s", keyfile,
		    certfile);
	/* The leaf just installed is the current one of the context. */
	if ((*leaf = SSL_CTX_get0_certificate(ctx)) == NULL ||
	    X509_up_ref(*leaf) != 1) {
		*leaf = NULL;
		return sp_err_ssl(err, "%s: no certificate", certfile);
	}
	if (SSL_CTX_get0_chain_certs(ctx, &ch) == 1 && ch != NULL &&
	    (*chainp = X509_chain_up_ref(ch)) == NULL)
		return sp_err_ssl(err, "%s: cannot keep the chain", certfile);
	return 0;
}

/* The same certificate, chain and key from memory (a refresh). */
static int
reuse_chain(SSL_CTX *ctx, const struct sp_tls_server *old, size_t i,
    X509 **leaf, EVP_PKEY **keyp, STACK_OF(X509) **chainp,
    struct sp_err *err)
{
	if (SSL_CTX_use_certificate(ctx, old->leaf[i]) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, old->key[i]) != 1 ||
	    (old->chain[i] != NULL &&
	    SSL_CTX_set1_chain(ctx, old->chain[i]) != 1))
		return sp_err_ssl(err, "cannot reuse the server certificate");
	if (X509_up_ref(old->leaf[i]) != 1 ||
	    EVP_PKEY_up_ref(old->key[i]) != 1)
		return sp_err_ssl(err, "cannot reuse the server certificate");
	*leaf = old->leaf[i];
	*keyp = old->key[i];
	if (old->chain[i] != NULL &&
	    (*chainp = X509_chain_up_ref(old->chain[i])) == NULL)
		return sp_err_ssl(err, "cannot reuse the chain");
	return 0;
}

static time_t
asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/* The CRLs of a PEM text (name: the file or "the store's CRL"). */
static int
add_crls(X509_STORE *st, const char *name, const char *data, size_t len,
    time_t *next, struct sp_err *err)
{
	STACK_OF(X509_INFO) *infos;
	BIO *b;
	int i, n = 0;

	if (len > INT_MAX)
		return sp_err_set(err, "%s: too large", name);
	b = BIO_new_mem_buf(data, (int)len);
	infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (infos == NULL)
		return sp_err_ssl(err, "%s: not a PEM CRL", name);
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		time_t t;

		if (xi->crl == NULL || X509_STORE_add_crl(st, xi->crl) != 1)
			continue;
		n++;
		t = asn1_time(X509_CRL_get0_nextUpdate(xi->crl));
		if (t != 0 && (*next == 0 || t < *next))
			*next = t;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (n == 0)
		return sp_err_set(err, "%s: holds no CRL", name);
	return 0;
}

static int
load_crl(X509_STORE *st, const char *path, time_t *next,
    struct sp_err *err)
{
	size_t len;
	char *data;
	int rc;

	if (sp_fs_read(path, 64L << 20, &data, &len, err) == -1)
		return -1;
	rc = add_crls(st, path, data, len, next, err);
	free(data);
	return rc;
}

/* Parses ticket keys, one per line (name: the file, for messages). */
static int
parse_ticket_keys(const char *name, const char *data, size_t len,
    unsigned char keys[][SP_TLS_TICKET_KEY_LEN], size_t *n,
    struct sp_err *err)
{
	const char *p = data, *l;
	size_t left = len, ll, line = 0;
	int rc = 0;

	*n = 0;
	while (rc == 0 && sp_str_field(&p, &left, '\n', &l, &ll)) {
		line++;
		if (ll == 0 || l[0] == '#')
			continue;
		if (ll != 2 * SP_TLS_TICKET_KEY_LEN) {
			rc = sp_err_set(err, "%s:%zu: a key is %d hex digits",
			    name, line, 2 * SP_TLS_TICKET_KEY_LEN);
			break;
		}
		if (*n == SP_TLS_TICKET_KEYS_MAX) {
			rc = sp_err_set(err, "%s:%zu: more than %d keys", name,
			    line, SP_TLS_TICKET_KEYS_MAX);
			break;
		}
		if (sp_str_unhex(l, ll, keys[*n]) == -1) {
			rc = sp_err_set(err, "%s:%zu: not hex", name, line);
			break;
		}
		(*n)++;
	}
	if (rc == 0 && *n == 0)
		rc = sp_err_set(err, "%s: no ticket key", name);
	return rc;
}

/* Reads a ticket key file (secret: refused when others may read it). */
static int
load_ticket_keys(const char *path,
    unsigned char keys[][SP_TLS_TICKET_KEY_LEN], size_t *n,
    struct sp_err *err)
{
	size_t len;
	char *data;
	int rc;

	*n = 0;
	if (sp_fs_read_secret(path, 64 * 1024, &data, &len, err) == -1)
		return -1;
	rc = parse_ticket_keys(path, data, len, keys, n, err);
	sp_fs_free_secret(data, len);
	return rc;
}

/*
 * RFC 5077 ticket protection with keys from the shared file: encrypt with
 * the first key, decrypt with any; a ticket under an older key is accepted
 * and renewed (return 2).
 */
static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct sp_tls_server *s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	OSSL_PARAM params[3];
	const unsigned char *k = NULL;
	size_t i;

	if (s == NULL || s->ntkeys == 0)
		return 0;
	if (enc) {
		k = s->tkeys[0];
		memcpy(name, k, 16);
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			return -1;
	} else {
		for (i = 0; i < s->ntkeys && k == NULL; i++)
			if (memcmp(name, s->tkeys[i], 16) == 0)
				k = s->tkeys[i];
		if (k == NULL)
			return 0;	/* unknown key: a full handshake */
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)(uintptr_t)(k + 16), 32);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)(uintptr_t)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + 48,
		    iv) == 1 ? 1 : -1;
	if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k + 48,
	    iv) != 1)
		return -1;
	return k == s->tkeys[0] ? 1 : 2;
}

int
sp_tls_ticket_keys_next(const char *old, size_t oldlen, struct sp_buf *out,
    struct sp_err *err)
{
	unsigned char keys[SP_TLS_TICKET_KEYS_MAX][SP_TLS_TICKET_KEY_LEN];
	char hex[2 * SP_TLS_TICKET_KEY_LEN + 1];
	size_t n = 0, i;
	int rc = -1;

	out->secret = 1;
	if (old != NULL && parse_ticket_keys("ticket keys", old, oldlen,
	    keys + 1, &n, err) == -1)
		goto out;
	if (n == SP_TLS_TICKET_KEYS_MAX)
		n--;			/* the oldest goes */
	if (RAND_bytes(keys[0], SP_TLS_TICKET_KEY_LEN) != 1) {
		sp_err_set(err, "no randomness for a ticket key");
		goto out;
	}
	sp_buf_printf(out, "# sprovd session-ticket keys: the first "
	    "encrypts, all decrypt\n");
	for (i = 0; i <= n; i++) {
		sp_str_hex(hex, keys[i], SP_TLS_TICKET_KEY_LEN);
		if (sp_buf_printf(out, "%s\n", hex) == -1) {
			sp_err_set(err, "ticket keys: out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	OPENSSL_cleanse(keys, sizeof(keys));
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

int
sp_tls_ticket_keys_rotate(const char *path, struct sp_err *err)
{
	struct sp_buf out;
	struct sp_err e2;
	size_t len = 0;
	char *data = NULL;
	int rc = -1;

	sp_buf_init(&out, 4096);
	out.secret = 1;
	if (access(path, F_OK) == 0 && sp_fs_read_secret(path, 64 * 1024,
	    &data, &len, err) == -1)
		goto out;
	if (sp_tls_ticket_keys_next(data, len, &out, err) == -1) {
		/* Say which file was bad. */
		sp_err_set(&e2, "%s: %s", path, err->msg);
		*err = e2;
		goto out;
	}
	rc = sp_fs_write_atomic(path, out.data, out.len, 0600, &e2);
	if (rc == -1)
		sp_err_set(err, "%s", e2.msg);
out:
	if (data != NULL)
		sp_fs_free_secret(data, len);
	sp_buf_release(&out);
	return rc;
}

/*
 * The verdict cache.  Verifying a client certificate (chain, CRL: two or
 * three signature checks and much parsing) is most of what a handshake
 * costs beyond the key exchange, and a phone presents the same certificate
 * every time.  A verdict is kept only for a success, keyed by the SHA-256
 * of the whole DER (any other certificate, even with the same subject and
 * key, is verified afresh), bounded in count and in time (see limits.h).
 */
static bool
cert_hash(struct sp_tls_server *s, X509 *x, unsigned char h[32])
{
	unsigned char *der = NULL;
	unsigned int hl = 0;
	int len;
	bool ok;

	if (s->sha256 == NULL || (len = i2d_X509(x, &der)) <= 0)
		return false;
	ok = EVP_Digest(der, (size_t)len, h, &hl, s->sha256, NULL) == 1 &&
	    hl == 32;
	OPENSSL_free(der);
	return ok;
}

static struct verdict *
verdict_slot(struct sp_tls_server *s, const unsigned char h[32], bool *found)
{
	struct verdict *v, *victim = NULL;
	uint64_t at;
	size_t i;

	memcpy(&at, h, sizeof(at));
	for (i = 0; i < SP_TLS_VERDICT_PROBES; i++) {
		v = &s->verdicts[(at + i) & (SP_TLS_VERDICTS_MAX - 1)];
		if (v->until != 0 && memcmp(v->h, h, 32) == 0) {
			*found = true;
			return v;
		}
		if (victim == NULL || v->until < victim->until)
			victim = v;	/* a free slot, or the oldest */
	}
	*found = false;
	return victim;
}

/* h: the certificate's cert_hash(). */
static bool
verdict_known(struct sp_tls_server *s, const unsigned char h[32])
{
	struct verdict *v;
	bool found = false, ok = false;

	pthread_mutex_lock(&s->vlock);
	if (s->verdicts != NULL) {
		v = verdict_slot(s, h, &found);
		ok = found && v->until > time(NULL);
	}
	pthread_mutex_unlock(&s->vlock);
	return ok;
}

/* Remembers the verdict of xs, a successful verification of the
 * certificate whose cert_hash() is h. */
static void
verdict_keep(struct sp_tls_server *s, X509_STORE_CTX *xs,
    const unsigned char h[32])
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(xs);
	struct verdict *v;
	time_t until = time(NULL) + SP_TLS_VERDICT_TTL_S, t;
	bool found;
	int i;

	for (i = 0; i < sk_X509_num(chain); i++) {
		t = asn1_time(X509_get0_notAfter(sk_X509_value(chain, i)));
		if (t == 0)
			return;		/* cannot bound it: do not keep */
		if (t < until)
			until = t;
	}
	if (s->crl_next != 0 && s->crl_next < until)
		until = s->crl_next;
	pthread_mutex_lock(&s->vlock);
	if (s->verdicts == NULL)
		s->verdicts = calloc(SP_TLS_VERDICTS_MAX, sizeof(*s->verdicts));
	if (s->verdicts != NULL) {
		v = verdict_slot(s, h, &found);
		memcpy(v->h, h, 32);
		v->until = until;
	}
	pthread_mutex_unlock(&s->vlock);
}

/* OpenSSL's chain verification, skipped for a certificate already
 * verified by this context (the handshake still checks the client's
 * signature with its key). */
/* client_cert_any: the application judges the certificate itself. */
static int
accept_any(int ok, X509_STORE_CTX *xs)
{
	(void)ok;
	(void)xs;
	return 1;
}

static int
verify_cb(X509_STORE_CTX *xs, void *arg)
{
	struct sp_tls_server *s = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned char h[32];
	bool hashed;
	int r;

	hashed = leaf != NULL && cert_hash(s, leaf, h);
	if (hashed && verdict_known(s, h))
		return 1;
	if ((r = X509_verify_cert(xs)) == 1 && hashed)
		verdict_keep(s, xs, h);
	return r > 0 ? r : 0;
}

/*
 * old: NULL for a new context; else its keys are reused, and with mem its
 * certificates, chains and client CAs too (no file is read but the CRL
 * and ticket key files, and not those when c carries them as data).
 */
static struct sp_tls_server *
server_build(const struct sp_tls_server *old, const struct sp_tls_config *c,
    bool mem, struct sp_err *err)
{
	struct sp_tls_server *s;
	X509_STORE *st;
	STACK_OF(X509_NAME) *names = NULL;
	size_t i;

	if (c->ncerts == 0) {
		sp_err_set(err, "no server certificate configured");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->vlock, NULL);
	if ((s->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		sp_err_ssl(err, "cannot create TLS context");
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(s->ctx, c->insecure_old_versions ?
	    TLS1_VERSION : TLS1_2_VERSION) != 1)
		goto sslfail;
	if (c->insecure_old_versions)
		SSL_CTX_set_security_level(s->ctx, 0);
	/* No renegotiation, server cipher order, no compression. */
	SSL_CTX_set_options(s->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* Read whole flights at once, not each record's header then body:
	 * a handshake takes a third of the read() calls. */
	SSL_CTX_set_read_ahead(s->ctx, 1);
	SSL_CTX_set_mode(s->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (old != NULL && old->nleaf != c->ncerts) {
		sp_err_set(err, "the number of certificates changed: restart "
		    "to load new keys");
		goto fail;
	}
	for (i = 0; i < c->ncerts; i++) {
		s->nleaf++;
		if (mem ? reuse_chain(s->ctx, old, i, &s->leaf[i], &s->key[i],
		    &s->chain[i], err) == -1 : load_chain(s->ctx, c->cert[i],
		    c->key[i], old ? old->key[i] : NULL, &s->leaf[i],
		    &s->key[i], &s->chain[i], err) == -1)
			goto fail;
	}
	if (mem && (old->cas != NULL) != (c->nclient_ca > 0)) {
		sp_err_set(err, "client CAs changed: a refresh keeps them");
		goto fail;
	}
	if (c->nclient_ca > 0) {
		st = SSL_CTX_get_cert_store(s->ctx);
		if ((names = sk_X509_NAME_new_null()) == NULL)
			goto sslfail;
		for (i = 0; !mem && i < c->nclient_ca; i++) {
			if (X509_STORE_load_file(st, c->client_ca[i]) != 1 ||
			    SSL_add_file_cert_subjects_to_stack(names,
			    c->client_ca[i]) != 1) {
				sp_err_ssl(err, "%s: cannot load client CA",
				    c->client_ca[i]);
				goto fail;
			}
		}
		for (i = 0; mem && i < (size_t)sk_X509_num(old->cas); i++) {
			X509 *ca = sk_X509_value(old->cas, (int)i);
			X509_NAME *nm = X509_NAME_dup(X509_get_subject_name(ca));

			if (X509_STORE_add_cert(st, ca) != 1 || nm == NULL ||
			    sk_X509_NAME_push(names, nm) <= 0) {
				X509_NAME_free(nm);
				goto sslfail;
			}
		}
		/* Kept for a later refresh without the files. */
		if ((s->cas = X509_STORE_get1_all_certs(st)) == NULL)
			goto sslfail;
		SSL_CTX_set_client_CA_list(s->ctx, names);
		names = NULL;
		if (c->crl_data != NULL) {
			if (add_crls(st, "the store's CRL", c->crl_data,
			    c->crl_len, &s->crl_next, err) == -1)
				goto fail;
			X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
		} else if (c->crl != NULL) {
			if (load_crl(st, c->crl, &s->crl_next, err) == -1)
				goto fail;
			X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
		}
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		if ((s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
			goto sslfail;
		SSL_CTX_set_cert_verify_callback(s->ctx, verify_cb, s);
		SSL_CTX_set_verify_depth(s->ctx, 4);
	}
	if (c->nclient_ca == 0 && c->client_cert_any)
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, accept_any);
	s->verify_clients = c->nclient_ca > 0;
	/*
	 * One ticket per handshake: a phone resumes one connection at a time.
	 * Without a shared key file, tickets are stateful (they name a session
	 * kept here): an encrypted ticket costs the server about a quarter of
	 * a full handshake, a cache entry almost nothing.  With the file,
	 * tickets are encrypted so that any process holding it resumes them.
	 */
	SSL_CTX_set_num_tickets(s->ctx, 1);
	if (c->ticket_keys == NULL && c->ticket_keys_data == NULL &&
	    c->session_cache > 0) {
		SSL_CTX_set_options(s->ctx, SSL_OP_NO_TICKET);
		/* No sweep of the whole cache every 255 handshakes: a full
		 * cache drops its oldest session, and lookups refuse expired
		 * ones. */
		SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_SERVER |
		    SSL_SESS_CACHE_NO_AUTO_CLEAR);
		SSL_CTX_sess_set_cache_size(s->ctx, (long)c->session_cache);
	} else
		SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_OFF);
	/* Resumed sessions must carry the same client identity. */
	SSL_CTX_set_session_id_context(s->ctx, (const unsigned char *)"sprov",
	    5);
	if (c->ticket_keys_data != NULL || c->ticket_keys != NULL) {
		if (c->ticket_keys_data != NULL ? parse_ticket_keys(
		    "the store's ticket keys", c->ticket_keys_data,
		    c->ticket_keys_len, s->tkeys, &s->ntkeys, err) == -1 :
		    load_ticket_keys(c->ticket_keys, s->tkeys, &s->ntkeys,
		    err) == -1)
			goto fail;
		SSL_CTX_set_app_data(s->ctx, s);
		if (SSL_CTX_set_tlsext_ticket_key_evp_cb(s->ctx,
		    ticket_cb) != 1)
			goto sslfail;
	}
	return s;
sslfail:
	sp_err_ssl(err, "cannot configure TLS");
fail:
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	sp_tls_server_unref(s);
	return NULL;
}

struct sp_tls_server *
sp_tls_server_new(const struct sp_tls_config *c, struct sp_err *err)
{
	return server_build(NULL, c, false, err);
}

struct sp_tls_server *
sp_tls_server_reload(const struct sp_tls_server *old,
    const struct sp_tls_config *c, struct sp_err *err)
{
	return server_build(old, c, false, err);
}

struct sp_tls_server *
sp_tls_server_refresh(const struct sp_tls_server *old,
    const struct sp_tls_config *c, struct sp_err *err)
{
	return server_build(old, c, true, err);
}

void
sp_tls_server_ref(struct sp_tls_server *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void
sp_tls_server_unref(struct sp_tls_server *s)
{
	size_t i;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	OPENSSL_cleanse(s->tkeys, sizeof(s->tkeys));
	for (i = 0; i < s->nleaf; i++) {
		X509_free(s->leaf[i]);
		EVP_PKEY_free(s->key[i]);
		sk_X509_pop_free(s->chain[i], X509_free);
	}
	sk_X509_pop_free(s->cas, X509_free);
	SSL_CTX_free(s->ctx);
	free(s->verdicts);
	EVP_MD_free(s->sha256);
	pthread_mutex_destroy(&s->vlock);
	free(s);
}

time_t
sp_tls_server_crl_next(const struct sp_tls_server *s)
{
	return s->crl_next;
}

size_t
sp_tls_server_ncerts(const struct sp_tls_server *s)
{
	return s->nleaf;
}

X509 *
sp_tls_server_cert(const struct sp_tls_server *s, size_t i)
{
	return i < s->nleaf ? s->leaf[i] : NULL;
}

struct sp_tls_conn *
sp_tls_accept(struct sp_tls_server *s, int fd, struct sp_err *err)
{
	struct sp_tls_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		sp_err_set(err, "out of memory");
		return NULL;
	}
	if ((c->ssl = SSL_new(s->ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		sp_err_ssl(err, "cannot set up TLS connection");
		SSL_free(c->ssl);
		free(c);
		return NULL;
	}
	SSL_set_accept_state(c->ssl);
	sp_tls_server_ref(s);
	c->srv = s;
	return c;
}

void
sp_tls_conn_free(struct sp_tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	sp_tls_server_unref(c->srv);
	free(c);
}

const char *
sp_tls_conn_error(const struct sp_tls_conn *c)
{
	return c->err;
}

/* Maps an OpenSSL result to the non-blocking contract; records errors. */
static int
result(struct sp_tls_conn *c, int r, const char *what)
{
	unsigned long e;
	long v;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return SP_TLS_WANT_POLLIN;
	case SSL_ERROR_WANT_WRITE:
		return SP_TLS_WANT_POLLOUT;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		snprintf(c->err, sizeof(c->err), "%s: %s", what, errno ?
		    strerror(errno) : "peer closed the connection");
		ERR_clear_error();
		return -1;
	default:
		v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK)
			snprintf(c->err, sizeof(c->err), "%s: client "
			    "certificate: %s", what,
			    X509_verify_cert_error_string(v));
		else if ((e = ERR_peek_last_error()) != 0) {
			char buf[160];

			ERR_error_string_n(e, buf, sizeof(buf));
			snprintf(c->err, sizeof(c->err), "%s: %s", what, buf);
		} else
			snprintf(c->err, sizeof(c->err), "%s failed", what);
		ERR_clear_error();
		return -1;
	}
}

/*
 * A resumed session skips certificate verification: verify the client's
 * certificate again against this context's CAs and CRL, so a device
 * revoked since its session began cannot resume it.
 */
static int
reverify(struct sp_tls_conn *c)
{
	X509_STORE *st = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(c->ssl));
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	X509_STORE_CTX *xs;
	unsigned char h[32];
	bool hashed;
	int ok = 0;

	if (peer == NULL) {
		snprintf(c->err, sizeof(c->err), "resumed session without a "
		    "client certificate");
		return -1;
	}
	hashed = cert_hash(c->srv, peer, h);
	if (hashed && verdict_known(c->srv, h))
		return 0;
	if ((xs = X509_STORE_CTX_new()) == NULL) {
		snprintf(c->err, sizeof(c->err), "resumed session: out of "
		    "memory");
		return -1;
	}
	if (X509_STORE_CTX_init(xs, st, peer, NULL) == 1 &&
	    X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_CLIENT) == 1 &&
	    (ok = X509_verify_cert(xs) == 1) && hashed)
		verdict_keep(c->srv, xs, h);
	if (!ok)
		snprintf(c->err, sizeof(c->err), "resumed session: client "
		    "certificate: %s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xs)));
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return ok ? 0 : -1;
}

int
sp_tls_handshake(struct sp_tls_conn *c)
{
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(c->ssl)) == 1) {
		if (c->srv->verify_clients && SSL_session_reused(c->ssl) &&
		    reverify(c) == -1)
			return -1;
		return 0;
	}
	r = result(c, r, "handshake");
	return r == 0 ? -1 : r;
}

ssize_t
sp_tls_read(struct sp_tls_conn *c, void *buf, size_t len)
{
	size_t got = 0;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read_ex(c->ssl, buf, len, &got)) == 1)
		return (ssize_t)got;
	return result(c, r, "read");
}

ssize_t
sp_tls_write(struct sp_tls_conn *c, const void *buf, size_t len)
{
	size_t put = 0;
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_write_ex(c->ssl, buf, len, &put)) == 1)
		return (ssize_t)put;
	r = result(c, r, "write");
	return r == 0 ? -1 : r;
}

void
sp_tls_close(struct sp_tls_conn *c)
{
	ERR_clear_error();
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

X509 *
sp_tls_peer_cert(const struct sp_tls_conn *c)
{
	if (SSL_get_verify_result(c->ssl) != X509_V_OK)
		return NULL;
	return SSL_get0_peer_certificate(c->ssl);
}

X509 *
sp_tls_peer_cert_unverified(const struct sp_tls_conn *c)
{
	if (c->srv->verify_clients)
		return NULL;
	return SSL_get0_peer_certificate(c->ssl);
}

STACK_OF(X509) *
sp_tls_peer_chain_unverified(const struct sp_tls_conn *c)
{
	if (c->srv->verify_clients)
		return NULL;
	return SSL_get_peer_cert_chain(c->ssl);
}

const char *
sp_tls_version(const struct sp_tls_conn *c)
{
	return SSL_get_version(c->ssl);
}

bool
sp_tls_resumed(const struct sp_tls_conn *c)
{
	return SSL_session_reused(c->ssl) == 1;
}

/*
 * The CRL number of the CRL of issuer iss the context s holds now, or NULL
 * (none held, or it has no number).  Caller frees.
 */
static ASN1_INTEGER *
crl_number_held(const struct sp_tls_server *s, const X509_NAME *iss)
{
	STACK_OF(X509_OBJECT) *objs;
	ASN1_INTEGER *best = NULL, *n;
	X509_CRL *c;
	int i;

	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(s->ctx));
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		c = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		if (c == NULL || X509_NAME_cmp(X509_CRL_get_issuer(c), iss) != 0)
			continue;
		n = X509_CRL_get_ext_d2i(c, NID_crl_number, NULL, NULL);
		if (n != NULL && (best == NULL || ASN1_INTEGER_cmp(n, best) > 0)) {
			ASN1_INTEGER_free(best);
			best = n;
		} else
			ASN1_INTEGER_free(n);
	}
	return best;
}

int
sp_tls_server_crl_check(const struct sp_tls_server *s, const char *pem,
    size_t len, bool current, struct sp_err *err)
{
	ASN1_INTEGER *num = NULL, *held = NULL;
	STACK_OF(X509_INFO) *infos = NULL;
	time_t now = time(NULL), t;
	BIO *b = NULL;
	int i, j, n = 0, rc = -1;
	char name[256];

	if (s->cas == NULL)
		return sp_err_set(err, "no client CA to check a CRL against");
	if (len == 0 || len > INT_MAX ||
	    (b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL)) == NULL) {
		sp_err_ssl(err, "not a PEM CRL");
		goto out;
	}
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_CRL *crl = sk_X509_INFO_value(infos, i)->crl;
		const X509_NAME *iss;
		EVP_PKEY *pk;
		int ok = 0;

		if (crl == NULL) {
			sp_err_set(err, "PEM block %d is not a CRL", i + 1);
			goto out;
		}
		n++;
		iss = X509_CRL_get_issuer(crl);
		X509_NAME_oneline(iss, name, sizeof(name));
		for (j = 0; !ok && j < sk_X509_num(s->cas); j++) {
			X509 *ca = sk_X509_value(s->cas, j);

			if (X509_NAME_cmp(X509_get_subject_name(ca), iss) != 0 ||
			    (pk = X509_get0_pubkey(ca)) == NULL)
				continue;
			ok = X509_CRL_verify(crl, pk) == 1;
		}
		if (!ok) {
			sp_err_set(err, "CRL %d (issuer %s): not signed by a "
			    "client CA of this server", n, name);
			goto out;
		}
		t = asn1_time(X509_CRL_get0_nextUpdate(crl));
		if (current && t != 0 && t <= now) {
			sp_err_set(err, "CRL %d (issuer %s): expired (its "
			    "nextUpdate is past)", n, name);
			goto out;
		}
		t = asn1_time(X509_CRL_get0_lastUpdate(crl));
		if (current && t > now + 300) {
			sp_err_set(err, "CRL %d (issuer %s): issued in the "
			    "future (check the clocks)", n, name);
			goto out;
		}
		/*
		 * An older CRL than the one in use would un-revoke what was
		 * revoked since: refused (RFC 5280 CRL numbers increase).
		 */
		ASN1_INTEGER_free(num);
		ASN1_INTEGER_free(held);
		num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
		held = crl_number_held(s, iss);
		if (held != NULL && (num == NULL ||
		    ASN1_INTEGER_cmp(num, held) < 0)) {
			sp_err_set(err, "CRL %d (issuer %s): CRL number %ld is "
			    "older than the one in use (%ld): it would "
			    "un-revoke certificates", n, name, num != NULL ?
			    ASN1_INTEGER_get(num) : -1L,
			    ASN1_INTEGER_get(held));
			goto out;
		}
	}
	if (n == 0) {
		sp_err_set(err, "not a PEM CRL (no X509 CRL block in it)");
		goto out;
	}
	rc = 0;
out:
	ASN1_INTEGER_free(num);
	ASN1_INTEGER_free(held);
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	return rc;
}
