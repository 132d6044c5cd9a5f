/*
 * Every limit sprov enforces, in one place.  A limit that protects against
 * hostile or broken input is named here so that reviewers can see them all
 * and tests can refer to them by name.
 */
#ifndef SPROV_LIMITS_H
#define SPROV_LIMITS_H

/* X.509 upper bound for a commonName (RFC 5280, ub-common-name). */
#define SP_CN_MAX		64
/* DNS name in text form without trailing dot (RFC 1035: 255 octets wire). */
#define SP_FQDN_MAX		253
#define SP_LABEL_MAX		63

/* A MAC address normalised: 12 lower-case hex digits. */
#define SP_MAC_HEXLEN		12

/* Device subject fields (OU=model, L=serial). */
#define SP_MODEL_MAX		64
#define SP_SERIAL_MAX		64
#define SP_ADMIN_NAME_MAX	64
#define SP_ORG_MAX		64

/* Files we read whole. */
#define SP_CSR_FILE_MAX		(64 * 1024)
#define SP_CERT_FILE_MAX	(256 * 1024)
#define SP_PASSPHRASE_MAX	1024
#define SP_PASSPHRASE_MIN	8
#define SP_CFG_FILE_MAX		(1024 * 1024)
#define SP_CFG_LINE_MAX		4096
#define SP_CFG_ENTRIES_MAX	4096

/* Bulk issuance input. */
#define SP_CSV_FILE_MAX		(256L * 1024 * 1024)
#define SP_CSV_LINE_MAX		1024
#define SP_CSV_ROWS_MAX		10000000L
/* Errors listed before giving up on reporting more. */
#define SP_CSV_ERRORS_MAX	100
/*
 * Bulk output: one shard directory per last 2 hex digits of the MAC (256
 * shards), or 3 (4096) for batches over SP_SHARD_WIDE_FROM devices, so that
 * a directory holds at most a few thousand files either way.
 */
#define SP_SHARD_HEX_MAX	3
#define SP_SHARD_WIDE_FROM	500000
#define SP_JOBS_MAX		256

/* Validity periods, in days. */
#define SP_DAYS_MAX		36500
#define SP_DAYS_ROOT_DEFAULT	7300
#define SP_DAYS_SERVER_DEFAULT	397
#define SP_DAYS_DEVICE_DEFAULT	3650
#define SP_DAYS_ADMIN_DEFAULT	365
#define SP_DAYS_CRL_DEFAULT	7

/* Keys accepted in a provisioning-server CSR. */
#define SP_RSA_MIN_BITS		2048
#define SP_RSA_MAX_BITS		16384

/* Serial numbers: random positive integers of this many bits. */
#define SP_SERIAL_BITS		128

/* Flat profiles (profile.h). */
#define SP_PARAM_NAME_MAX	128
#define SP_PARAM_VALUE_MAX	(64 * 1024)
#define SP_PROFILE_PARAMS_MAX	20000
#define SP_PROFILE_XML_MAX	(8 * 1024 * 1024)
#define SP_PROFILE_DEPTH_MAX	4
/* Rule option --alias: entries in the map ("<= 30 params" per Cisco),
 * nesting of the foreign document, length of one element path. */
#define SP_ALIAS_ENTRIES_MAX	30
#define SP_ALIAS_DEPTH_MAX	32
#define SP_ALIAS_PATH_MAX	512

/* Store (store.h). */
#define SP_GROUP_NAME_MAX	64
#define SP_GROUPS_PER_DEVICE	16
#define SP_SCOPE_MAX		(6 + SP_GROUP_NAME_MAX + 1)
#define SP_USER_AGENT_MAX	255
#define SP_FIRMWARE_MAX		127
#define SP_ETAG_MAX		66	/* "\"" + 64 hex + "\"" */
#define SP_REPORT_MAX		(1024 * 1024)

/* HTTP (http.h). */
#define SP_HTTP_HEAD_MAX	16384	/* request line + headers */
#define SP_HTTP_TARGET_MAX	1024
#define SP_HTTP_HEADERS_MAX	64
#define SP_HTTP_VALUE_MAX	1024	/* one header value kept */
/* After refusing a request whose body is still arriving (413...), sprovd
 * reads and drops that body for at most this long and this much before it
 * closes: closing on unread data sends a RST that can destroy the answer
 * before the client reads it. */
#define SP_HTTP_LINGER_MS	2000
#define SP_HTTP_LINGER_BYTES	(4 * 1024 * 1024)

/* sprovd's store writer: jobs per transaction, and how long writes nobody
 * waits for (last seen, audit of profile fetches) may wait to share one
 * commit (one fsync) with later ones.  A report or an admin change is
 * committed at once. */
#define SP_WRITER_BATCH_MAX	1024
#define SP_WRITER_LINGER_MS	250
/*
 * Shared blobs in the store (the device CRL, the ticket keys): a name of
 * [a-z0-9_-], and a body size bound (a CRL listing a million revoked
 * phones is about 40 MB in PEM).
 */
#define SP_STORE_BLOB_NAME_MAX	32
#define SP_STORE_BLOB_MAX	(64L * 1024 * 1024)
/*
 * PostgreSQL: seconds to wait for a connection, and the back-off between
 * attempts while the database is away (doubling, capped).
 */
#define SP_PG_CONNECT_TIMEOUT	3
/* An admin API request body (operators only): a CRL at most. */
#define SP_ADMIN_BODY_MAX	SP_STORE_BLOB_MAX
#define SP_PG_BACKOFF_MIN_MS	200
#define SP_PG_BACKOFF_MAX_MS	1000

/* Client-certificate verdicts a TLS server context remembers (keyed by the
 * SHA-256 of the certificate's DER), and for how long at most; an entry
 * also ends at the certificate's or its chain's expiry and at the CRL's
 * nextUpdate, and the whole cache goes with the context on a reload (new
 * CRL or client CAs).  The client's signature (CertificateVerify) is
 * checked on every handshake regardless. */
#define SP_TLS_VERDICTS_MAX	(1 << 18)
#define SP_TLS_VERDICT_TTL_S	3600
#define SP_TLS_VERDICT_PROBES	8
/* Sessions a TLS server context keeps for resumption when no shared
 * ticket-key file is configured (stateful TLS 1.3 tickets and TLS 1.2
 * session IDs: sprovd.conf session_cache); the oldest goes first when
 * full.  About 10 KiB each (the session holds the parsed client
 * certificate). */
#define SP_TLS_SESSIONS_DEFAULT	16384
#define SP_TLS_SESSIONS_MAX	1000000

/* The agent's fetch (lib/fetch.c): what a server may make it read or wait. */
#define SP_FETCH_REDIRECTS	5	/* 301/302 followed, each verified */
#define SP_FETCH_TIMEOUT_S	60	/* a whole transfer */
#define SP_FETCH_CONNECT_S	10
#define SP_FETCH_HEADERS_MAX	(64 * 1024)	/* all response headers */
#define SP_FETCH_LOW_SPEED_BYTES 64	/* slower than this per second... */
#define SP_FETCH_LOW_SPEED_S	10	/* ...for this long: given up */
#define SP_FETCH_CHAIN_DEPTH	2	/* CAs between the server and the root */

/* Error messages carried on objects. */
#define SP_ERR_MAX		512

/* EST (sprov-ca serve): a request body (base64 of a PKCS#10), and HTTP
 * Basic credentials once decoded. */
#define SP_EST_BODY_MAX		(64 * 1024)
#define SP_EST_CRED_MAX		2048
/* Certificates in an EST answer a client reads (the issued one and its
 * chain). */
#define SP_EST_CERTS_MAX	8

/*
 * Provider accounts of the CA portal and EST (account.h).  Names: an org
 * of [A-Za-z0-9._ -], a user of [a-z0-9._@-].  Passwords are hashed with
 * scrypt, N = 2^LOG_N, r, p (about 32 MiB and 0.1 s per hash: costly to
 * guess offline); MAXMEM is the memory OpenSSL may use for one hash,
 * above the 32 MiB it allows by default (these parameters need 32 MiB
 * and a little more).  Login throttling: FAILS_USER failures of one user
 * name or FAILS_IP of one address (an IPv6 /64) within FAIL_WINDOW_S
 * lock it out for LOCK_MIN_S; each failure after a lockout, until the
 * key has been quiet for a window, locks it out again for twice as long,
 * at most LOCK_MAX_S.
 */
#define SP_ACCOUNT_ORG_MAX		64
#define SP_ACCOUNT_USER_MAX		64
#define SP_ACCOUNT_PASSWORD_MIN		12
#define SP_ACCOUNT_PASSWORD_MAX		1024
#define SP_ACCOUNT_SCRYPT_LOG_N		15
#define SP_ACCOUNT_SCRYPT_R		8
#define SP_ACCOUNT_SCRYPT_P		1
#define SP_ACCOUNT_SCRYPT_MAXMEM	(64L * 1024 * 1024)
#define SP_ACCOUNT_SALT_LEN		16
#define SP_ACCOUNT_KEY_LEN		32
#define SP_ACCOUNT_FAILS_USER		5
#define SP_ACCOUNT_FAILS_IP		20
#define SP_ACCOUNT_FAIL_WINDOW_S	(15 * 60)
#define SP_ACCOUNT_LOCK_MIN_S		60
#define SP_ACCOUNT_LOCK_MAX_S		3600

/*
 * sprov-ca serve: connections served at once (one thread each: the portal
 * sees providers, not phones), the deadline of a whole connection
 * (handshake, request and answer: a client trickling bytes holds its slot
 * no longer), and a message between the portal and its signer process (a PKCS#10 in DER and
 * the names of who asked; a certificate or a reason back).
 */
#define SP_PORTAL_CONNS_MAX	64
#define SP_PORTAL_REQUEST_S	30
/* Of those, at most this many from one address (IPv6: one /64): one
 * client holding connections open cannot take the portal from others. */
#define SP_PORTAL_CONNS_PER_IP	8
#define SP_SIGNER_MSG_MAX	(SP_EST_BODY_MAX + 512)
/*
 * Web sessions of the portal, kept in the portal process (a restart logs
 * everyone out; before login nothing is kept): at most SESSIONS_MAX at
 * once (the one idle longest is dropped), idle ones end after IDLE_S, any
 * after MAX_S.
 */
#define SP_PORTAL_SESSIONS_MAX	4096
#define SP_PORTAL_SESSION_IDLE_S	1800
#define SP_PORTAL_SESSION_MAX_S	(12 * 3600)
/* A page (the certificate list of an organisation is the largest). */
#define SP_PORTAL_PAGE_MAX	(512 * 1024)
/* Bytes of a refused (too large) body read and dropped before closing,
 * so that the client sees the 413 rather than a reset. */
#define SP_PORTAL_DRAIN_MAX	(1024 * 1024)
/* EST clients told to come back after this while a request waits. */
#define SP_PORTAL_RETRY_S	600
/* An operator's reason to reject; rows of a request list. */
#define SP_CERTREQ_WHY_MAX	200
#define SP_CERTREQ_LIST_MAX	500
/* A field of the portal's audit trail (longer ones are cut, marked). */
#define SP_AUDIT_FIELD_MAX	256

/*
 * Browser forms of the CA portal (form.h), all untrusted input.  FIELDS:
 * the portal's largest form has well under a dozen inputs, so more is an
 * attack or a bug.  NAME: field names are the portal's own short words.
 * BODY: a PKCS#10 file upload (SP_CSR_FILE_MAX in DER; its PEM is a third
 * larger) plus the other fields and the multipart framing.  PART_HEADERS:
 * the head of one multipart part (Content-Disposition with a file name,
 * Content-Type); browsers send about 150 bytes.  BOUNDARY: RFC 2046
 * section 5.1.1 allows 1 to 70 characters.
 */
#define SP_FORM_FIELDS_MAX	16
#define SP_FORM_NAME_MAX	64
#define SP_FORM_BODY_MAX	(96 * 1024)
#define SP_FORM_PART_HEADERS_MAX 1024
#define SP_FORM_BOUNDARY_MAX	70

#endif
