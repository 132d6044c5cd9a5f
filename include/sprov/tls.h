/*
 * TLS for sprov servers: one small, libtls-shaped wrapper over OpenSSL 3.
 * Safe defaults: TLS 1.2 and 1.3 only (1.0/1.1 only when
 * insecure_old_versions is set), client renegotiation refused, a client
 * certificate required and verified against the configured CAs and CRL
 * when client CAs are given.  Non-blocking contract: calls return
 * SP_TLS_WANT_POLLIN / SP_TLS_WANT_POLLOUT instead of OpenSSL codes.
 *
 * Ownership: sp_tls_server_new() returns a context freed with
 * sp_tls_server_free(); it is reference-counted so that a reload can swap
 * in a new one while connections keep the one they were accepted with
 * (sp_tls_server_ref/unref).  Connections are freed with
 * sp_tls_conn_free().  Everything returned is borrowed from its owner.
 */
#ifndef SPROV_TLS_H
#define SPROV_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#include <openssl/x509.h>

#include "sprov/buf.h"
#include "sprov/err.h"

#define SP_TLS_WANT_POLLIN	(-2)
#define SP_TLS_WANT_POLLOUT	(-3)
#define SP_TLS_MAX_CERTS	4
#define SP_TLS_MAX_CAS		8

struct sp_tls_config {
	const char	*cert[SP_TLS_MAX_CERTS];	/* PEM chain files */
	const char	*key[SP_TLS_MAX_CERTS];		/* matching keys */
	size_t		 ncerts;
	const char	*client_ca[SP_TLS_MAX_CAS];	/* PEM CA files */
	size_t		 nclient_ca;
	const char	*crl;		/* PEM CRL file(s) or NULL */
	bool		 insecure_old_versions;
	/*
	 * Session-ticket keys shared by every process that reads the file:
	 * one key per line, 160 hex digits (16-byte name, 32-byte HMAC key,
	 * 32-byte AES key); the first line encrypts new tickets, the others
	 * still decrypt (rotation).  NULL: random keys of this process.
	 */
	const char	*ticket_keys;
	/*
	 * Without ticket_keys: at most this many sessions kept in the
	 * process for resumption (stateful tickets, cheap in CPU, about
	 * 10 KiB each); 0: encrypted tickets under random keys of this
	 * process instead (no memory, a quarter of a handshake each).
	 */
	size_t		 session_cache;
	/*
	 * The CRL and the ticket keys as text in memory instead of files
	 * (nodes sharing a PostgreSQL store read them from it): when set,
	 * they win over crl and ticket_keys.  Borrowed for the call.
	 */
	/*
	 * Without client CAs: ask every client for a certificate, accept
	 * the handshake with or without one and verify nothing (TLS still
	 * proves the client holds its key); the caller judges the
	 * certificate with sp_tls_peer_cert_unverified().  For EST
	 * re-enrolment, where a certificate is one way among others to
	 * authenticate and is checked against the CA's own roots.
	 */
	bool		 client_cert_any;
	const char	*crl_data;
	size_t		 crl_len;
	const char	*ticket_keys_data;
	size_t		 ticket_keys_len;
};

struct sp_tls_server;
struct sp_tls_conn;

/*
 * Builds a server context: loads and checks every certificate and key
 * (key file refused when group/world readable; key must match), the client
 * CAs and the CRL.  All-or-nothing: on error nothing is kept.
 */
struct sp_tls_server	*sp_tls_server_new(const struct sp_tls_config *,
			    struct sp_err *);
/*
 * A new context from the same configuration, re-reading the certificate,
 * client CA and CRL files but reusing the keys of old (a process that has
 * dropped privileges can no longer read its key files).
 */
struct sp_tls_server	*sp_tls_server_reload(const struct sp_tls_server *old,
			    const struct sp_tls_config *, struct sp_err *);
/*
 * A new context with everything of old (certificates, chains, keys,
 * client CAs: no file read, for a process that can no longer see them)
 * but the CRL and ticket keys, taken from c (crl_data/ticket_keys_data,
 * or their files).
 */
struct sp_tls_server	*sp_tls_server_refresh(const struct sp_tls_server *old,
			    const struct sp_tls_config *, struct sp_err *);
/*
 * Checks a PEM text of CRLs: each is a CRL signed by a client CA of s and,
 * with current, neither expired nor issued in the future (what may be
 * shared with every node; a node applying one checks the signatures only,
 * an expired CRL then refuses every phone and is said loudly).  0, or -1
 * with the reason.
 */
int			 sp_tls_server_crl_check(const struct sp_tls_server *,
			    const char *pem, size_t len, bool current,
			    struct sp_err *);
void			 sp_tls_server_ref(struct sp_tls_server *);
void			 sp_tls_server_unref(struct sp_tls_server *);
/* The earliest nextUpdate of the CRLs loaded (0: no CRL).  Past it every
 * client certificate is refused ("CRL has expired"): deny by default. */
time_t			 sp_tls_server_crl_next(const struct sp_tls_server *);
/* The leaf certificates loaded, for checks at start (borrowed). */
size_t			 sp_tls_server_ncerts(const struct sp_tls_server *);
X509			*sp_tls_server_cert(const struct sp_tls_server *,
			    size_t);

/* Wraps an accepted, non-blocking socket.  Takes no ownership of fd. */
struct sp_tls_conn	*sp_tls_accept(struct sp_tls_server *, int fd,
			    struct sp_err *);
void			 sp_tls_conn_free(struct sp_tls_conn *);
const char		*sp_tls_conn_error(const struct sp_tls_conn *);
/* 0 when done, SP_TLS_WANT_*, or -1 (error on the connection). */
int			 sp_tls_handshake(struct sp_tls_conn *);
/* Bytes read, 0 at a clean close, SP_TLS_WANT_*, or -1. */
ssize_t			 sp_tls_read(struct sp_tls_conn *, void *, size_t);
/* Bytes written (> 0), SP_TLS_WANT_*, or -1. */
ssize_t			 sp_tls_write(struct sp_tls_conn *, const void *,
			    size_t);
/* Sends close_notify; best effort, never blocks. */
void			 sp_tls_close(struct sp_tls_conn *);
/* The verified peer certificate (borrowed), or NULL. */
X509			*sp_tls_peer_cert(const struct sp_tls_conn *);
/* The certificate the peer presented, verified or not (borrowed), or
 * NULL: only for a context built with client_cert_any. */
X509			*sp_tls_peer_cert_unverified(const struct sp_tls_conn *);
STACK_OF(X509)		*sp_tls_peer_chain_unverified(const struct sp_tls_conn *);
const char		*sp_tls_version(const struct sp_tls_conn *);
bool			 sp_tls_resumed(const struct sp_tls_conn *);

#define SP_TLS_TICKET_KEY_LEN	80
#define SP_TLS_TICKET_KEYS_MAX	4
/*
 * Rotates a ticket key file: a fresh random key on the first line, the
 * previous keys after it (at most SP_TLS_TICKET_KEYS_MAX), written
 * atomically with mode 0600.  Creates the file if absent.
 */
int			 sp_tls_ticket_keys_rotate(const char *path,
			    struct sp_err *);
/*
 * The same rotation on text: old (NULL for none) holds keys in the file's
 * format; the rotated text is appended to out (made secret: wiped on
 * release).  For the copy nodes share in their store.
 */
int			 sp_tls_ticket_keys_next(const char *old,
			    size_t oldlen, struct sp_buf *out,
			    struct sp_err *);

#endif
