/* Listening sockets, the report of what was bound, a peer's address. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sprov/buf.h"
#include "sprov/fsutil.h"
#include "sprov/net.h"

int
sp_net_listen(const char *spec, int backlog, bool nonblock, int *fdp,
    struct sp_err *err)
{
	char host[64], port[8];
	struct addrinfo hints, *ai = NULL;
	const char *colon = strrchr(spec, ':');
	int fd = -1, one = 1, rc;
	size_t hl;

	if (colon == NULL || colon == spec || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= sizeof(port))
		goto bad;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hl < 3 || spec[hl - 1] != ']')
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), spec + 1);
	} else if (hl < sizeof(host))
		snprintf(host, sizeof(host), "%.*s", (int)hl, spec);
	else
		goto bad;
	snprintf(port, sizeof(port), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port,
	    &hints, &ai)) != 0)
		return sp_err_set(err, "listen %s: %s", spec, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd == -1)
		goto syserr;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, backlog) == -1)
		goto syserr;
	freeaddrinfo(ai);
	*fdp = fd;
	return 0;
syserr:
	sp_err_set(err, "listen %s: %s", spec, strerror(errno));
	if (fd != -1)
		close(fd);
	freeaddrinfo(ai);
	return -1;
bad:
	return sp_err_set(err, "listen %s: expected ADDR:PORT, [ADDR]:PORT or "
	    "*:PORT", spec);
}

int
sp_net_report(const char *path, const int *fds, size_t n, struct sp_err *err)
{
	struct sockaddr_storage ss;
	struct sp_buf b;
	char addr[INET6_ADDRSTRLEN];
	socklen_t len;
	size_t i;
	int rc;

	sp_buf_init(&b, 4096);
	for (i = 0; i < n; i++) {
		len = sizeof(ss);
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) == -1)
			continue;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
			sp_buf_printf(&b, "%s:%u\n", addr, ntohs(s4->sin_port));
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			sp_buf_printf(&b, "[%s]:%u\n", addr,
			    ntohs(s6->sin6_port));
		}
	}
	rc = sp_fs_write_atomic(path, b.data ? b.data : "", b.len, 0644, err);
	sp_buf_release(&b);
	return rc;
}

void
sp_net_peer_ip(int fd, char *dst, size_t dstsz)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	snprintf(dst, dstsz, "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, dst,
		    (socklen_t)dstsz);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    dst, (socklen_t)dstsz);
}

int
sp_net_drop_to(const struct passwd *pw, struct sp_err *err)
{
	if (geteuid() == 0) {
		if (setgroups(1, &pw->pw_gid) == -1 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
			return sp_err_set(err, "cannot become %s: %s",
			    pw->pw_name, strerror(errno));
	} else if (geteuid() != pw->pw_uid)
		return sp_err_set(err, "user %s: not root, cannot switch",
		    pw->pw_name);
	return 0;
}

int
sp_net_drop(const char *user, struct sp_err *err)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL)
		return sp_err_set(err, "user %s: no such user", user);
	return sp_net_drop_to(pw, err);
}

int
sp_net_client_key(const char *ip, char *out, size_t n)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (ip == NULL)
		return -1;
	if (inet_pton(AF_INET, ip, &v4) == 1)
		return inet_ntop(AF_INET, &v4, out, (socklen_t)n) != NULL ? 0 :
		    -1;
	if (inet_pton(AF_INET6, ip, &v6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&v6)) {
		memcpy(&v4, &v6.s6_addr[12], sizeof(v4));
		return inet_ntop(AF_INET, &v4, out, (socklen_t)n) != NULL ? 0 :
		    -1;
	}
	memset(&v6.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &v6, out, (socklen_t)n) == NULL ||
	    strlen(out) + 4 > n)
		return -1;
	memcpy(out + strlen(out), "/64", 4);
	return 0;
}
