/*
 * sprovd: parses the command line and the configuration, checks its own
 * certificates, binds, drops privileges and runs.  See sprovd(8).
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sprov/buf.h"
#include "sprov/cnrule.h"
#include "sprov/fsutil.h"
#include "sprov/net.h"
#include "sprov/store.h"
#include "sprov/x509.h"
#include "sprovd/sprovd.h"

/* The kernel's queue of connections not yet accepted, per listener: a
 * storm of phones waits there while max_handshakes holds. */
#define LISTEN_BACKLOG	4096

static void
usage(void)
{
	fprintf(stderr, "usage: sprovd [-dnv] -f sprovd.conf\n"
	    "       sprovd -f sprovd.conf -C crl.pem\n"
	    "       sprovd -T ticket-key-file\n");
	exit(2);
}

/*
 * -C: the first CRL of a fleet whose nodes take theirs from the store
 * (crl store), before any node runs; later ones go through any node's
 * admin API (sprovctl crl put).  Checked against this configuration's
 * client CAs as the admin API does.
 */
static int
put_crl(const struct sp_tls_server *tls, const char *url, const char *path)
{
	struct sp_store *st = NULL;
	struct sp_err err;
	size_t len = 0;
	char *pem = NULL;
	int rc = -1;

	if (sp_fs_read(path, SP_STORE_BLOB_MAX, &pem, &len, &err) == -1 ||
	    sp_tls_server_crl_check(tls, pem, len, true, &err) == -1) {
		fprintf(stderr, "sprovd: %s%s%s\n", strstr(err.msg, path) ?
		    "" : path, strstr(err.msg, path) ? "" : ": ", err.msg);
		goto out;
	}
	if ((st = sp_store_open(url, &err)) == NULL) {
		fprintf(stderr, "sprovd: store: %s\n", err.msg);
		goto out;
	}
	if (sp_store_blob_put(st, "crl", pem, len) == -1) {
		fprintf(stderr, "sprovd: %s\n", sp_store_error(st));
		goto out;
	}
	printf("sprovd: %s: stored as the CRL every node with `crl store` "
	    "follows\n", path);
	rc = 0;
out:
	sp_store_close(st);
	free(pem);
	return rc;
}

/* Our own certificates must obey the rule phones apply to us. */
static int
check_certs(struct sp_tls_server *tls, const struct sprovd_conf *conf,
    struct sp_err *err)
{
	char cn[SP_CN_MAX + 1];
	enum sp_cn_verdict v;
	size_t i;

	for (i = 0; i < sp_tls_server_ncerts(tls); i++) {
		X509 *x = sp_tls_server_cert(tls, i);

		if (sp_x509_name_cn(X509_get_subject_name(x), cn, sizeof(cn),
		    err) == -1)
			return sp_err_prefix(err, "%s", conf->tls.cert[i]);
		if ((v = sp_cnrule_check(cn, strlen(cn), NULL, 0)) != SP_CN_OK)
			return sp_err_set(err, "%s: CN \"%s\" breaks the CN rule "
			    "phones apply: %s", conf->tls.cert[i], cn,
			    sp_cnrule_str(v));
		if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
			return sp_err_set(err, "%s: certificate expired",
			    conf->tls.cert[i]);
	}
	return 0;
}

/*
 * Enough descriptors for max_connections plus files, listeners and the
 * store; the soft limit (1024 by default) would cap far below it.
 */
static void
raise_fd_limit(const struct sprovd_conf *conf)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conf->live.max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
	    want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < want)
		fprintf(stderr, "sprovd: warning: only %llu descriptors for "
		    "max_connections %ld\n", (unsigned long long)rl.rlim_cur,
		    conf->live.max_connections);
}

/* mkdir -p under root (a path that starts with '/'). */
static int
mkdirs(const char *root, const char *path)
{
	char p[PATH_MAX];
	size_t i, rl = strlen(root);

	if (snprintf(p, sizeof(p), "%s%s", root, path) >= (int)sizeof(p))
		return -1;
	for (i = rl + 1; ; i++) {
		char c = p[i];

		if (c != '/' && c != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST)
			return -1;
		if ((p[i] = c) == '\0')
			return 0;
	}
}

/* Binds the directory open as fd (O_PATH) at root+path. */
static int
bind_dir(int fd, const char *root, const char *path, bool ro)
{
	char src[64], dst[PATH_MAX];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	snprintf(dst, sizeof(dst), "%s%s", root, path);
	if (mkdirs(root, path) == -1 ||
	    mount(src, dst, "none", MS_BIND, NULL) == -1)
		return -1;
	if (ro && mount("none", dst, "none", MS_BIND | MS_REMOUNT | MS_RDONLY |
	    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1)
		return -1;
	return 0;
}

/*
 * The file-system type argument of mount(2) is ignored for binds, remounts
 * and propagation changes; "none" rather than NULL (valgrind checks it).
 *
 * An empty mount view for the server process (root, before it drops
 * privileges): a private mount namespace whose root is a fresh read-only
 * tmpfs holding only the store's directory (read-write), the firmware
 * directory (read-only) and the syslog socket, at their own paths.  Keys,
 * CA files, the configuration and the rest of the file system are not in
 * it.  -1 with err: the caller goes on with the full view and says so.
 */
#define VIEW_ROOT	"/tmp"	/* a mount point every system has; private */
static int
empty_view(const struct sprovd_conf *conf, struct sp_err *err)
{
	char sdir[PATH_MAX], fdir[PATH_MAX], cwd[PATH_MAX];
	int sfd = -1, ffd = -1, rc = -1;
	bool mounted = false;

	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		sp_err_set(err, "current directory: %s", strerror(errno));
		goto out;
	}
	/* A PostgreSQL store over TCP needs no directory at all. */
	if (sp_store_local_dir(conf->store, sdir, sizeof(sdir), err) == -1)
		goto out;
	if (conf->firmware_dir != NULL &&
	    realpath(conf->firmware_dir, fdir) == NULL) {
		sp_err_set(err, "firmware_dir %s: %s", conf->firmware_dir,
		    strerror(errno));
		goto out;
	}
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == -1) {
		sp_err_set(err, "a private mount namespace: %s",
		    strerror(errno));
		goto out;
	}
	/* Opened in the new namespace (a bind source must be in it), before
	 * the tmpfs hides what is under VIEW_ROOT. */
	if ((sdir[0] != '\0' && (sfd = open(sdir, O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1) ||
	    (conf->firmware_dir != NULL && (ffd = open(fdir, O_PATH |
	    O_DIRECTORY | O_CLOEXEC)) == -1)) {
		sp_err_set(err, "%s: %s", sdir[0] != '\0' && sfd == -1 ? sdir : fdir,
		    strerror(errno));
		goto out;
	}
	if (mount("sprovd", VIEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV |
	    MS_NOEXEC, "mode=0755,size=64k") == -1) {
		sp_err_set(err, "tmpfs on %s: %s", VIEW_ROOT, strerror(errno));
		goto out;
	}
	mounted = true;
	if ((sfd != -1 && bind_dir(sfd, VIEW_ROOT, sdir, false) == -1) ||
	    (ffd != -1 && bind_dir(ffd, VIEW_ROOT, fdir, true) == -1) ||
	    mkdirs(VIEW_ROOT, cwd) == -1) {
		sp_err_set(err, "building the view: %s", strerror(errno));
		goto out;
	}
	/* syslog's socket, when there is one (not with -d). */
	if (access("/dev/log", F_OK) == 0 && mkdirs(VIEW_ROOT, "/dev") == 0) {
		int f = open(VIEW_ROOT "/dev/log", O_CREAT | O_WRONLY |
		    O_CLOEXEC, 0644);

		if (f != -1) {
			close(f);
			mount("/dev/log", VIEW_ROOT "/dev/log", "none",
			    MS_BIND, NULL);
		}
	}
	if (mount("none", VIEW_ROOT, "none", MS_REMOUNT | MS_RDONLY | MS_NOSUID |
	    MS_NODEV | MS_NOEXEC, NULL) == -1 || chdir(VIEW_ROOT) == -1 ||
	    chroot(".") == -1 || chdir(cwd) == -1) {
		sp_err_set(err, "entering the view: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	/* Half a view is worse than none: back to the whole one. */
	if (rc == -1 && mounted)
		umount2(VIEW_ROOT, MNT_DETACH);
	if (sfd != -1)
		close(sfd);
	if (ffd != -1)
		close(ffd);
	return rc;
}

/* What one server process is started with. */
struct gen {
	struct sprovd_conf	*conf;
	struct sp_cfg		*cfg;
	struct sp_tls_server	*tls, *admin_tls;
	struct gen		*older;		/* kept: conf strings borrowed */
};

/*
 * The server process of privilege separation: it drops to the configured
 * user, can gain no privilege and cannot be traced or dumped, then serves
 * (TLS, HTTP, store) until SIGTERM.  It gets what only root could read
 * (keys, configuration) in memory, from the parent, by fork.
 */
static pid_t
spawn(struct gen *g, int *fds, size_t nfds, struct sp_log *log)
{
	struct writer *wr;
	struct passwd *pw;
	struct sp_err err;
	sigset_t set;
	pid_t pid;
	int rc;

	if ((pid = fork()) != 0) {
		if (pid == -1)
			sp_log(log, SP_LOG_ERR, "fork: %s", strerror(errno));
		return pid;
	}
	/* The parent gone, the server goes too (draining first). */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	/* The user's ids first: no passwd file in the view. */
	if ((pw = getpwnam(g->conf->user)) == NULL) {
		sp_log(log, SP_LOG_ERR, "server process: user %s: no such user",
		    g->conf->user);
		_exit(1);
	}
	if (empty_view(g->conf, &err) == -1)
		sp_log(log, SP_LOG_WARN, "server process: no empty mount view "
		    "(%s): it sees the whole file system", err.msg);
	if (sp_net_drop_to(pw, &err) == -1) {
		sp_log(log, SP_LOG_ERR, "server process: %s", err.msg);
		_exit(1);
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if ((wr = writer_start(g->conf->store, log, &err)) == NULL) {
		sp_log(log, SP_LOG_ERR, "store writer: %s", err.msg);
		_exit(1);
	}
	rc = server_run(g->conf, g->tls, g->admin_tls, fds, nfds,
	    g->conf->nadmin, wr, log);
	writer_stop(wr);
	_exit(rc == 0 ? 0 : 1);
}

/*
 * SIGHUP in the parent: everything read again as root, checked, then a new
 * server process started with it; the old one drains.  Keys only a restart
 * applies keep their old values.  On any error the old process serves on.
 */
static int
regenerate(struct gen **gp, pid_t *cur, int *fds, size_t nfds,
    struct sp_log *log)
{
	struct gen *o = *gp, *n;
	struct sp_err err;
	pid_t pid;

	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->conf = calloc(1, sizeof(*n->conf))) == NULL) {
		sp_err_set(&err, "out of memory");
		goto refused;
	}
	if (conf_load(o->conf->path, n->conf, &n->cfg, &err) == -1)
		goto refused;
	if (!conf_same_restart_keys(o->conf, n->conf, 0)) {
		sp_log(log, SP_LOG_WARN, "reload: listen, admin_listen, "
		    "workers, store, user or firmware_dir changed: they need a "
		    "restart and keep their old values");
		memcpy(n->conf->listen, o->conf->listen,
		    sizeof(n->conf->listen));
		n->conf->nlisten = o->conf->nlisten;
		memcpy(n->conf->admin_listen, o->conf->admin_listen,
		    sizeof(n->conf->admin_listen));
		n->conf->nadmin = o->conf->nadmin;
		n->conf->workers = o->conf->workers;
		n->conf->store = o->conf->store;
		n->conf->user = o->conf->user;
		n->conf->firmware_dir = o->conf->firmware_dir;
	}
	if ((n->tls = sp_tls_server_new(&n->conf->tls, &err)) == NULL ||
	    check_certs(n->tls, n->conf, &err) == -1)
		goto refused;
	if (n->conf->nadmin > 0 && (n->admin_tls = sp_tls_server_new(
	    &n->conf->admin_tls, &err)) == NULL) {
		sp_err_prefix(&err, "%s", "admin");
		goto refused;
	}
	if ((pid = spawn(n, fds, nfds, log)) == -1) {
		sp_err_set(&err, "cannot start a server process");
		goto refused;
	}
	kill(*cur, SIGTERM);
	sp_log(log, SP_LOG_INFO, "reloaded the configuration, certificates, "
	    "client CAs, CRL and ticket keys: server process %ld replaces %ld",
	    (long)pid, (long)*cur);
	crl_warn(n->tls, log);
	/* The old contexts go; its strings stay (the new conf may borrow). */
	sp_tls_server_unref(o->tls);
	sp_tls_server_unref(o->admin_tls);
	o->tls = o->admin_tls = NULL;
	n->older = o;
	*gp = n;
	*cur = pid;
	return 0;
refused:
	sp_log(log, SP_LOG_ERR, "reload refused, the old configuration keeps "
	    "serving: %s", err.msg);
	if (n != NULL) {
		sp_tls_server_unref(n->tls);
		sp_tls_server_unref(n->admin_tls);
		sp_cfg_free(n->cfg);
		free(n->conf);
		free(n);
	}
	return -1;
}

/*
 * The parent of privilege separation: supervises the server process,
 * restarts it when it dies (at most SPROVD_RESPAWN_MAX times a minute),
 * replaces it on SIGHUP, stops it on SIGTERM/SIGINT and waits for every
 * server process to finish draining.
 */
static int
supervise(struct gen **gp, int *fds, size_t nfds, struct sp_log *log)
{
	time_t starts[SPROVD_RESPAWN_MAX] = { 0 };
	struct timespec ts = { 1, 0 };
	size_t nstart = 0;
	bool stopping = false;
	sigset_t set;
	pid_t cur, p;
	int sig, st;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((cur = spawn(*gp, fds, nfds, log)) == -1)
		return -1;
	starts[nstart++ % SPROVD_RESPAWN_MAX] = time(NULL);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &ts);
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p != cur || stopping) {
				sp_log(log, SP_LOG_INFO, "server process %ld "
				    "finished", (long)p);
				continue;
			}
			sp_log(log, SP_LOG_ERR, "server process %ld %s %d", (long)p,
			    WIFSIGNALED(st) ? "killed by signal" :
			    "exited with status", WIFSIGNALED(st) ?
			    WTERMSIG(st) : WEXITSTATUS(st));
			if (nstart >= SPROVD_RESPAWN_MAX && time(NULL) -
			    starts[nstart % SPROVD_RESPAWN_MAX] < 60) {
				sp_log(log, SP_LOG_ERR, "%d server processes "
				    "died within a minute: giving up",
				    SPROVD_RESPAWN_MAX);
				return -1;
			}
			if ((cur = spawn(*gp, fds, nfds, log)) == -1)
				return -1;
			starts[nstart++ % SPROVD_RESPAWN_MAX] = time(NULL);
			sp_log(log, SP_LOG_INFO, "server process %ld started",
			    (long)cur);
		}
		if (stopping && p == -1 && errno == ECHILD)
			return 0;
		if (sig == SIGHUP && !stopping)
			regenerate(gp, &cur, fds, nfds, log);
		else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			sp_log(log, SP_LOG_INFO, "%s: stopping the server "
			    "process", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			stopping = true;
			kill(cur, SIGTERM);
		}
	}
}

int
main(int argc, char *argv[])
{
	struct sprovd_conf conf;
	struct sp_tls_server *tls = NULL, *admin_tls = NULL;
	struct sp_store *st;
	struct writer *wr = NULL;
	struct sp_cfg *cfg = NULL;
	struct sp_log *log = NULL;
	struct sp_err err;
	const char *file = NULL, *putcrl = NULL;
	int fds[2 * SPROVD_MAX_LISTEN], ch, debug = 0, check = 0, verbose = 0;
	bool privsep;
	int rc = 1;
	size_t nfds = 0, i;

	while ((ch = getopt(argc, argv, "C:df:nT:v")) != -1) {
		switch (ch) {
		case 'C': putcrl = optarg; break;
		case 'T':
			/* Rotation, for cron: then SIGHUP every sprovd. */
			if (sp_tls_ticket_keys_rotate(optarg, &err) == -1) {
				fprintf(stderr, "sprovd: %s\n", err.msg);
				return 1;
			}
			return 0;
		case 'd': debug = 1; break;
		case 'f': file = optarg; break;
		case 'n': check = 1; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (file == NULL || optind != argc)
		usage();
	if (conf_load(file, &conf, &cfg, &err) == -1) {
		fprintf(stderr, "sprovd: %s\n", err.msg);
		goto out;
	}
	if ((tls = sp_tls_server_new(&conf.tls, &err)) == NULL) {
		fprintf(stderr, "sprovd: %s\n", err.msg);
		goto out;
	}
	if (check_certs(tls, &conf, &err) == -1) {
		fprintf(stderr, "sprovd: %s\n", err.msg);
		goto out;
	}
	if (conf.nadmin > 0 && (admin_tls = sp_tls_server_new(&conf.admin_tls,
	    &err)) == NULL) {
		fprintf(stderr, "sprovd: admin: %s\n", err.msg);
		goto out;
	}
	if (putcrl != NULL) {
		rc = put_crl(tls, conf.store, putcrl) == 0 ? 0 : 1;
		goto out;
	}
	/*
	 * With privilege separation the store is the server process's (run as
	 * user): root opening it here could create it as root.
	 */
	privsep = conf.user != NULL && geteuid() == 0;
	if (!privsep || check) {
		if ((st = sp_store_open(conf.store, &err)) == NULL) {
			fprintf(stderr, "sprovd: store %s: %s\n", conf.store,
			    err.msg);
			goto out;
		}
		sp_store_close(st);
	}
	if (check) {
		struct sp_log *l = sp_log_new("sprovd", 1, SP_LOG_INFO);

		crl_warn(tls, l);
		sp_log_free(l);
		printf("sprovd: %s: configuration OK\n", file);
		rc = 0;
		goto out;
	}
	for (i = 0; i < conf.nlisten; i++) {
		if (sp_net_listen(conf.listen[i], LISTEN_BACKLOG, true,
		    &fds[nfds], &err) == -1) {
			fprintf(stderr, "sprovd: %s\n", err.msg);
			goto out;
		}
		nfds++;
	}
	/* Admin listeners last: server_run tells them apart by position. */
	for (i = 0; i < conf.nadmin; i++) {
		if (nfds == sizeof(fds) / sizeof(fds[0])) {
			fprintf(stderr, "sprovd: too many listeners\n");
			goto out;
		}
		if (sp_net_listen(conf.admin_listen[i], LISTEN_BACKLOG, true,
		    &fds[nfds], &err) == -1) {
			fprintf(stderr, "sprovd: %s\n", err.msg);
			goto out;
		}
		nfds++;
	}
	if (conf.listen_report != NULL && sp_net_report(conf.listen_report,
	    fds, nfds, &err) == -1) {
		fprintf(stderr, "sprovd: listen_report: %s\n", err.msg);
		goto out;
	}
	raise_fd_limit(&conf);
	if (!privsep) {
		if (conf.user != NULL && sp_net_drop(conf.user, &err) ==
		    -1) {
			fprintf(stderr, "sprovd: %s\n", err.msg);
			goto out;
		}
		/* Nothing this process does later needs new privileges or a
		 * core. */
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	} else if (getpwnam(conf.user) == NULL) {
		fprintf(stderr, "sprovd: user %s: no such user\n", conf.user);
		goto out;
	}
	if (!debug && daemon(1, 0) == -1) {
		fprintf(stderr, "sprovd: daemon: %s\n", strerror(errno));
		goto out;
	}
	log = sp_log_new("sprovd", debug, verbose ? SP_LOG_DEBUG :
	    SP_LOG_INFO);
	crl_warn(tls, log);
	if (privsep) {
		struct gen first = { &conf, NULL, tls, admin_tls, NULL }, *g;

		sp_log(log, SP_LOG_INFO, "privilege separation: this process "
		    "keeps root to read keys and configuration; the server "
		    "process runs as %s", conf.user);
		g = &first;
		rc = supervise(&g, fds, nfds, log) == 0 ? 0 : 1;
		/* The first generation's contexts are freed below. */
		tls = first.tls;
		admin_tls = first.admin_tls;
		while (g != &first) {
			struct gen *older = g->older;

			sp_tls_server_unref(g->tls);
			sp_tls_server_unref(g->admin_tls);
			sp_cfg_free(g->cfg);
			free(g->conf);
			free(g);
			g = older;
		}
		sp_log(log, SP_LOG_INFO, "stopped");
		goto out;
	}
	if ((wr = writer_start(conf.store, log, &err)) == NULL) {
		sp_log(log, SP_LOG_ERR, "store writer: %s", err.msg);
		goto out;
	}
	sp_log(log, SP_LOG_INFO, "serving on %zu listener%s with %ld "
	    "worker%s", nfds, nfds == 1 ? "" : "s", conf.workers,
	    conf.workers == 1 ? "" : "s");
	rc = server_run(&conf, tls, admin_tls, fds, nfds, conf.nadmin, wr,
	    log) == 0 ? 0 : 1;
	sp_log(log, SP_LOG_INFO, "stopped");
out:
	writer_stop(wr);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	sp_tls_server_unref(tls);
	sp_tls_server_unref(admin_tls);
	sp_log_free(log);
	sp_cfg_free(cfg);
	OPENSSL_cleanup();
	return rc;
}
