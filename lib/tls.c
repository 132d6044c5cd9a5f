#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sprov/fsutil.h"
#include "sprov/tls.h"
#include "sprov/x509.h"

struct sp_tls_server {
	SSL_CTX		*ctx;
	atomic_int	 refs;
	X509		*leaf[SP_TLS_MAX_CERTS];
	EVP_PKEY	*key[SP_TLS_MAX_CERTS];		/* kept for reloads */
	size_t		 nleaf;
};

struct sp_tls_conn {
	SSL			*ssl;
	struct sp_tls_server	*srv;
	char			 err[256];
};

static int
load_chain(SSL_CTX *ctx, const char *certfile, const char *keyfile,
    EVP_PKEY *kept, X509 **leaf, EVP_PKEY **keyp, struct sp_err *err)
{
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
	return 0;
}

static int
load_crl(X509_STORE *st, const char *path, struct sp_err *err)
{
	STACK_OF(X509_INFO) *infos;
	size_t len;
	char *data;
	BIO *b;
	int i, n = 0;

	if (sp_fs_read(path, 64L << 20, &data, &len, err) == -1)
		return -1;
	b = BIO_new_mem_buf(data, (int)len);
	infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	free(data);
	if (infos == NULL)
		return sp_err_ssl(err, "%s: not a PEM CRL", path);
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->crl != NULL && X509_STORE_add_crl(st, xi->crl) == 1)
			n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (n == 0)
		return sp_err_set(err, "%s: holds no CRL", path);
	return 0;
}

static struct sp_tls_server *
server_build(const struct sp_tls_server *old, const struct sp_tls_config *c,
    struct sp_err *err)
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
	SSL_CTX_set_mode(s->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (old != NULL && old->nleaf != c->ncerts) {
		sp_err_set(err, "the number of certificates changed: restart "
		    "to load new keys");
		goto fail;
	}
	for (i = 0; i < c->ncerts; i++) {
		s->nleaf++;
		if (load_chain(s->ctx, c->cert[i], c->key[i], old ?
		    old->key[i] : NULL, &s->leaf[i], &s->key[i], err) == -1)
			goto fail;
	}
	if (c->nclient_ca > 0) {
		st = SSL_CTX_get_cert_store(s->ctx);
		if ((names = sk_X509_NAME_new_null()) == NULL)
			goto sslfail;
		for (i = 0; i < c->nclient_ca; i++) {
			if (X509_STORE_load_file(st, c->client_ca[i]) != 1 ||
			    SSL_add_file_cert_subjects_to_stack(names,
			    c->client_ca[i]) != 1) {
				sp_err_ssl(err, "%s: cannot load client CA",
				    c->client_ca[i]);
				goto fail;
			}
		}
		SSL_CTX_set_client_CA_list(s->ctx, names);
		names = NULL;
		if (c->crl != NULL) {
			if (load_crl(st, c->crl, err) == -1)
				goto fail;
			X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
		}
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_verify_depth(s->ctx, 4);
	}
	/* Resumed sessions must carry the same client identity. */
	SSL_CTX_set_session_id_context(s->ctx, (const unsigned char *)"sprov",
	    5);
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
	return server_build(NULL, c, err);
}

struct sp_tls_server *
sp_tls_server_reload(const struct sp_tls_server *old,
    const struct sp_tls_config *c, struct sp_err *err)
{
	return server_build(old, c, err);
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
	for (i = 0; i < s->nleaf; i++) {
		X509_free(s->leaf[i]);
		EVP_PKEY_free(s->key[i]);
	}
	SSL_CTX_free(s->ctx);
	free(s);
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

int
sp_tls_handshake(struct sp_tls_conn *c)
{
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(c->ssl)) == 1)
		return 0;
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
