/*
 * The provisioning store: devices, their groups, parameters at four levels,
 * reports, the audit trail, and shared blobs.  One interface, two backends
 * with the same schema, migrations and semantics: SQLite ("sqlite:PATH",
 * one machine) and PostgreSQL ("postgresql://..." or "postgres://...", a
 * libpq connection URI: several sprovd nodes sharing one database).
 *
 * Scopes of a parameter, weakest first:
 *   "default" < "model:<OU>" < "group:<name>" (in the device's group order)
 *   < "device:<mac>".
 *
 * One struct sp_store per thread (a connection); not thread-safe.  Every
 * write is its own transaction unless inside sp_store_begin/commit.
 *
 * Ownership: sp_store_open() returns a store freed with sp_store_close();
 * errors are read with sp_store_error() and name the cause.
 * Return values of lookups: 0 found, 1 not found, -1 error.
 */
#ifndef SPROV_STORE_H
#define SPROV_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sprov/buf.h"
#include "sprov/err.h"
#include "sprov/limits.h"
#include "sprov/profile.h"

enum sp_dev_state {
	SP_DEV_ACTIVE = 0,
	SP_DEV_QUARANTINED,
};

struct sp_device {
	char			mac[SP_MAC_HEXLEN + 1];
	char			serial[SP_SERIAL_MAX + 1];
	char			model[SP_MODEL_MAX + 1];
	enum sp_dev_state	state;
	time_t			first_seen;	/* 0: never */
	time_t			last_seen;
	char			last_ip[46];
	char			user_agent[SP_USER_AGENT_MAX + 1];
	char			firmware[SP_FIRMWARE_MAX + 1];
	char			etag[SP_ETAG_MAX + 1];	/* last served */
	time_t			last_report;
	char			cert_serial[80];	/* last seen */
};

struct sp_store;

/* Opens (creating and migrating the schema as needed). */
struct sp_store	*sp_store_open(const char *url, struct sp_err *);
void		 sp_store_close(struct sp_store *);
const char	*sp_store_error(const struct sp_store *);

int		 sp_store_begin(struct sp_store *);
int		 sp_store_commit(struct sp_store *);
void		 sp_store_rollback(struct sp_store *);

/*
 * A counter bumped by every change that can alter a rendered profile
 * (parameters, groups, device model/state, deletions): a cache of rendered
 * profiles is valid while the generation it was built at is current.
 */
int		 sp_store_generation(struct sp_store *, uint64_t *);

/* Devices. */
int		 sp_store_device_get(struct sp_store *, const char *mac,
		    struct sp_device *);
/* Creates the device, or updates serial and model of an existing one. */
int		 sp_store_device_put(struct sp_store *, const char *mac,
		    const char *serial, const char *model);
int		 sp_store_device_state(struct sp_store *, const char *mac,
		    enum sp_dev_state);
/* Deletes the device, its device-scope parameters and group links. */
int		 sp_store_device_delete(struct sp_store *, const char *mac);
/* Calls fn for every device, by MAC; stops if fn returns -1. */
int		 sp_store_device_list(struct sp_store *,
		    int (*fn)(void *, const struct sp_device *), void *);
/*
 * Records a provisioning contact: last/first seen, IP, User-Agent, the
 * certificate serial and the ETag served (NULL: unchanged).
 */
int		 sp_store_device_seen(struct sp_store *, const char *mac,
		    time_t, const char *ip, const char *user_agent,
		    const char *cert_serial, const char *etag);

/* Groups: a device's ordered list (position 0 is weakest). */
int		 sp_store_group_set(struct sp_store *, const char *mac,
		    const char *const *groups, size_t n);
int		 sp_store_group_get(struct sp_store *, const char *mac,
		    char groups[][SP_GROUP_NAME_MAX + 1], size_t max,
		    size_t *n);

/* Parameters.  scope as above; ua SP_UA_NONE for no attribute. */
int		 sp_store_param_set(struct sp_store *, const char *scope,
		    const char *name, const char *value, enum sp_ua);
int		 sp_store_param_unset(struct sp_store *, const char *scope,
		    const char *name);
/* All parameters of one scope into prof (set over what it holds). */
int		 sp_store_param_scope(struct sp_store *, const char *scope,
		    struct sp_profile *prof);
/*
 * The device's merged profile: default < model:<model> < its groups in
 * order < device:<mac>, set into prof.  model is the certificate's OU
 * (may be NULL or "").
 */
int		 sp_store_profile(struct sp_store *, const char *mac,
		    const char *model, struct sp_profile *prof);

/*
 * Reports: the body as received, and its parsed parameters when it parsed
 * (parsed may be NULL).  Updates the device's last_report and, when the
 * report carries one, firmware (from a Software_Version parameter).
 */
int		 sp_store_report_add(struct sp_store *, const char *mac,
		    time_t, const char *kind, const char *body, size_t len,
		    const struct sp_profile *parsed);
/* The latest report of a device: its body into out (caller's buffer). */
int		 sp_store_report_last(struct sp_store *, const char *mac,
		    time_t *when, struct sp_buf *body);

/*
 * The audit trail: append-only, each entry's hash is SHA-256 over the
 * previous entry's hash and this entry's fields, so an edited, removed or
 * reordered entry breaks the chain.
 */
struct sp_audit {
	time_t		 when;
	const char	*event;		/* "profile", "refused", "report"... */
	const char	*mac;		/* may be NULL */
	const char	*cert_serial;	/* may be NULL */
	const char	*ip;
	const char	*route;
	int		 status;
	const char	*etag;		/* may be NULL */
};
int		 sp_store_audit_append(struct sp_store *,
		    const struct sp_audit *);
/*
 * The last entries (at most last), oldest first; the strings passed to fn
 * are borrowed for that call (NULL where the field is empty).
 */
int		 sp_store_audit_list(struct sp_store *, size_t last,
		    int (*fn)(void *, int64_t seq, const struct sp_audit *),
		    void *);
/* 0 when the whole chain verifies; -1 with the first bad seq in *bad. */
int		 sp_store_audit_verify(struct sp_store *, int64_t *bad);

/*
 * Shared blobs: named byte strings that every node reads, each with a
 * version that moves on every put.  Names used: "crl" (the device CRL, PEM)
 * and "ticket_keys" (TLS session-ticket keys, the format of
 * sp_tls_ticket_keys_rotate).  get: 0 with the body in out (appended to
 * what it holds; out NULL: the version only, the body is not read) and the
 * version in *version (may be NULL), 1 when there is none, -1 on error.  put replaces the body; at most SP_STORE_BLOB_MAX.
 */
int		 sp_store_blob_get(struct sp_store *, const char *name,
		    struct sp_buf *out, int64_t *version);
int		 sp_store_blob_put(struct sp_store *, const char *name,
		    const void *body, size_t len);

/*
 * The change feed of a store that several processes on several machines
 * share (PostgreSQL LISTEN/NOTIFY; the notification is sent by the same
 * transaction as the change, so it arrives only if the change committed).
 * sp_store_watch subscribes this connection: 0 with the descriptor to wait
 * on for readability in *fd; 1 when the backend has no feed (SQLite: every
 * connection reads the file; ask sp_store_generation); -1 on error.
 * sp_store_changes never blocks: it ORs into *what what changed since the
 * last call and sets *fd to the descriptor to wait on now.  While the
 * database is away it returns -1 with *fd -1 (wait a little, call again:
 * each call reconnects when the back-off allows); after a reconnect, or
 * when notifications may have been missed, everything is reported changed.
 */
#define SP_STORE_CHANGED_GEN	0x1u	/* the generation moved */
#define SP_STORE_CHANGED_BLOB	0x2u	/* a blob was put */
#define SP_STORE_CHANGED_ALL	0x3u
int		 sp_store_watch(struct sp_store *, int *fd);
int		 sp_store_changes(struct sp_store *, unsigned *what, int *fd);

/*
 * The local directory a store needs to be reachable from (for a process
 * that sees only part of the file system): the SQLite file's directory,
 * PostgreSQL's socket directory when the URL names one, else "" (TCP).
 */
int		 sp_store_local_dir(const char *url, char *dir, size_t n,
		    struct sp_err *);

/* "sqlite" or "postgresql": the backend of an open store. */
const char	*sp_store_backend(const struct sp_store *);

/* Checks a scope string; 0 or -1 with the reason in err. */
int		 sp_store_scope_check(const char *scope, struct sp_err *);

#endif
