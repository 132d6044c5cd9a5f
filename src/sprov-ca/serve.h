/*
 * sprov-ca serve: what serve.c (listener, signer, EST) and web.c (the
 * pages) share.  One struct portal per process; each connection is a
 * struct cx on its own thread.
 */
#ifndef SPROV_CA_SERVE_H
#define SPROV_CA_SERVE_H

#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "sprov/account.h"
#include "sprov/certreq.h"
#include "sprov/http.h"
#include "sprov/limits.h"
#include "sprov/tls.h"
#include "sprov/x509.h"

struct sessions;

struct portal {
	struct sp_tls_server	*tls;
	struct sp_accounts	*acc;		/* under acc_lock */
	pthread_mutex_t		 acc_lock;
	/* Logins on a connection of their own: the scrypt of one (a tenth
	 * of a second) holds up other logins, not every page. */
	struct sp_accounts	*acc_login;	/* under login_lock */
	pthread_mutex_t		 login_lock;
	X509			*cacert;	/* server-ca root */
	X509			*devcacert;	/* device-ca root */
	bool			 queue;		/* mode queue: no signer */
	bool			 device_renewal;
	int			 signer;	/* socket; -1 in queue mode */
	pthread_mutex_t		 signer_lock;
	pid_t			 signer_pid;
	long			 days;		/* offered by default */
	long			 days_max;	/* a provider may choose */
	struct sessions		*sess;
	atomic_int		 conns;
	/* Connections open per client address (SP_PORTAL_CONNS_PER_IP). */
	pthread_mutex_t		 ip_lock;
	struct {
		char		 ip[INET6_ADDRSTRLEN + 4];
		int		 n;
	}			 per_ip[SP_PORTAL_CONNS_MAX];
};

struct cx {
	struct portal		*pt;
	struct sp_tls_server	*tls;		/* a reference of its own */
	int			 fd;
	char			 ip[INET6_ADDRSTRLEN];
	char			 ipkey[INET6_ADDRSTRLEN + 4];	/* ip, or /64 */
};

/* Signer requests (serve.c).  0 signed/done, 1 refused (why says
 * why), -1 the signer failed. */
#define SIGN_SERVER		1u	/* a: CSR */
#define SIGN_RENEW_SERVER	2u	/* a: CSR, b: the current cert */
#define SIGN_RENEW_DEVICE	3u	/* a: CSR, b: the current cert */
#define SIGN_REVOKE		4u	/* serial, reason */
int	portal_sign(struct portal *, unsigned type, const char *org,
	    const char *user, long days, X509_REQ *req, X509 *old,
	    X509 **out, char *why, size_t whysz);
int	portal_revoke(struct portal *, const char *org, const char *user,
	    const char *serial, int reason, char *why, size_t whysz);

/* sp_accounts_login on the login connection. */
int	portal_login(struct portal *, const char *user, const char *password,
	    const char *ip, char *org, int *retry_after);

/* One entry of the audit trail (portal.db); failures are logged. */
void	portal_audit(struct portal *, const char *actor, const char *org,
	    const char *ip, const char *action, const char *object,
	    const char *outcome, const char *detail);

/* Writes a whole response with Connection: close. */
void	portal_respond(struct sp_tls_conn *, int status, const char *ctype,
	    const char *extra, const char *body, size_t len);

/*
 * The pages (web.c).  web_new/web_free: the session table.  web_route:
 * answers r if it is one of the pages; returns the status sent, or 0
 * when the path is not a page (the caller answers 404).
 */
struct sessions	*web_sessions_new(void);
void		 web_sessions_free(struct sessions *);
int		 web_route(struct cx *, struct sp_tls_conn *,
		    const struct sp_http_req *, const char *body, size_t len);

#endif
