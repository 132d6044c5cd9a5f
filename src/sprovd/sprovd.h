/*
 * sprovd: the provisioning server.  One process: the main thread parses
 * the configuration, binds, loads certificates and keys, drops privileges
 * and starts the workers (each an epoll loop over non-blocking TLS
 * connections) and the store writer (which batches every write so that no
 * event loop waits on the disk).  See sprovd(8) and docs/ARCHITECTURE.md.
 */
#ifndef SPROVD_H
#define SPROVD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sprov/cfg.h"
#include "sprov/limits.h"
#include "sprov/log.h"
#include "sprov/http.h"
#include "sprov/tls.h"

#define SPROVD_MAX_LISTEN	16
#define SPROVD_MAX_WORKERS	64
/* Privilege separation: server processes restarted at most this many
 * times a minute before the parent gives up. */
#define SPROVD_RESPAWN_MAX	5

enum unknown_policy { UNKNOWN_REJECT = 0, UNKNOWN_REGISTER };

/* What SIGHUP can change while serving (published as a whole). */
struct sprovd_live {
	char			 prefix[65];	/* "" or "/something" */
	enum unknown_policy	 unknown;
	long			 max_connections;	/* per process */
	long			 max_handshakes;	/* in progress, per process */
	long			 max_header;		/* bytes */
	long			 max_report;		/* bytes */
	long			 timeout_handshake;	/* seconds */
	long			 timeout_request;
	long			 timeout_idle;
	/* Seconds cached profiles are still served while the store's
	 * database is unreachable (0: never). */
	long			 store_grace;
};

struct sprovd_conf {
	const char		*path;		/* the file, for reloads */
	struct sprovd_live	 live;
	char			 listen[SPROVD_MAX_LISTEN][64];
	size_t			 nlisten;
	char			 admin_listen[SPROVD_MAX_LISTEN][64];
	size_t			 nadmin;
	struct sp_tls_config	 admin_tls;	/* same certs, admin_ca */
	const char		*listen_report;
	struct sp_tls_config	 tls;
	const char		*store;
	bool			 crl_store;	/* crl store */
	bool			 tickets_store;	/* ticket_keys store */
	const char		*firmware_dir;
	const char		*user;
	long			 workers;
};

/*
 * Parses FILE into conf (strings borrowed from *cfg, which the caller
 * frees with sp_cfg_free); -1 with "file:line: message" in err.
 */
int	conf_load(const char *path, struct sprovd_conf *, struct sp_cfg **,
	    struct sp_err *);

/* 1 when the keys only a restart applies are unchanged (see conf.c). */
int	conf_same_restart_keys(const struct sprovd_conf *,
	    const struct sprovd_conf *, int certs);

struct writer;
struct admin_env;
struct server;
struct sp_store;

/* What a request leaves for the writer (all strings copied). */
enum job_kind { JOB_SEEN, JOB_AUDIT, JOB_REPORT, JOB_REGISTER, JOB_ADMIN };

struct job {
	enum job_kind	 kind;
	int64_t		 when;
	char		 mac[SP_MAC_HEXLEN + 1];
	char		 serial[SP_SERIAL_MAX + 1];	/* register */
	char		 model[SP_MODEL_MAX + 1];	/* register */
	char		 ip[46];
	char		 user_agent[SP_USER_AGENT_MAX + 1];
	char		 cert_serial[80];
	char		 etag[SP_ETAG_MAX + 1];
	char		 event[16];
	char		 route[SP_HTTP_TARGET_MAX + 1];
	int		 status;
	char		*body;		/* report, owned by the job */
	size_t		 bodylen;
	/* Completion (reports): the worker and connection to answer. */
	int		 worker;
	uint64_t	 conn_id;
	int		 result;	/* 0 stored, -1 not stored */
	int		 method;	/* admin: enum sp_http_method */
	int		 resp_status;	/* admin: the answer */
	char		*resp;		/* admin: JSON, owned */
	size_t		 resplen;
	struct job	*next;
};

struct writer	*writer_start(const char *store_url, struct sp_log *,
		    struct sp_err *);
/* Takes ownership of job.  Never blocks on the store. */
void		 writer_submit(struct writer *, struct job *);
/* Jobs waiting for the writer (a gauge for metrics). */
long		 writer_depth(struct writer *);
/* Waits until every submitted job is committed, then stops. */
void		 writer_stop(struct writer *);
/* What admin requests need from the server (borrowed until stop). */
void		 writer_set_admin_env(struct writer *,
		    const struct admin_env *);
/* Where completed report jobs go back to: set by the server. */
void		 writer_set_completion(struct writer *,
		    void (*)(void *, struct job *), void *);

void		 crl_warn(const struct sp_tls_server *, struct sp_log *);
int		 server_run(struct sprovd_conf *, struct sp_tls_server *,
		    struct sp_tls_server *admin_tls, int *fds, size_t nfds,
		    size_t nadmin, struct writer *, struct sp_log *);

/*
 * What the admin API needs from the server beyond the store: a check of a
 * CRL against the client CAs in use (0, or -1 with the reason).
 */
struct admin_env {
	int	(*crl_check)(void *, const char *pem, size_t len,
		    struct sp_err *);
	void	*arg;
};

/*
 * The admin API: runs one request against the store (in the writer) and
 * gives the status and a JSON body (*out, caller frees; may be NULL).
 * path is what follows /api/v1.  env may be NULL (no CRL can be put).
 */
int		 admin_exec(struct sp_store *, const struct admin_env *,
		    int method, const char *path, const char *body,
		    size_t len, int *status, char **out, size_t *outlen);

#endif
