/*
 * Connection-level attacks on a TLS server, for the hostile-input suite.
 * Each prints one line of counts that the test checks.
 *
 *	hostile idle ADDR PORT N SECONDS
 *	    N TCP connections that never send a byte, held SECONDS; prints
 *	    "opened O closed-by-server C" (C: closed before SECONDS ended).
 *	hostile slowloris ADDR PORT N SECONDS CERT KEY CAFILE
 *	    N TLS connections (client certificate) that send a request head
 *	    one byte a second; prints "cut C answered-408 A after-max S"
 *	    (S: the longest a connection lived, in seconds).
 *	hostile flood ADDR PORT N
 *	    N connections that send a ClientHello and vanish (RST); prints
 *	    "sent N".
 *	hostile burst ADDR PORT N CERT KEY CAFILE
 *	    N TCP connections opened and left silent for a second (the server
 *	    has accepted them all), then all start their TLS handshake at
 *	    once and ask for /prov/self.xml; prints "served S of N" (S: 200
 *	    answers within 60 s).
 *	hostile garbage ADDR PORT
 *	    Bytes that are not TLS, then a TLS record header with a huge
 *	    length, then a valid-looking record of junk; prints how each
 *	    ended: "closed" or "alert" (bytes came back) or "open" (nothing
 *	    within 10 s).
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sprov/str.h"

static struct sockaddr_in sin_;

static void
die(const char *what)
{
	fprintf(stderr, "hostile: %s\n", what);
	exit(2);
}

static long
num(const char *s)
{
	uint64_t v;

	if (sp_str_u64z(s, 0, 10000000, &v) == -1)
		die("bad number");
	return (long)v;
}

static int
tcp(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin_, sizeof(sin_)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Closed by the peer: readable with 0 bytes or an error. */
static int
peer_closed(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b[256];
	ssize_t n;

	if (poll(&p, 1, 0) <= 0)
		return 0;
	n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A phone's client context: its certificate and key, the server CA. */
static SSL_CTX *
client_ctx(const char *cert, const char *key, const char *cafile)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
		die("cannot load the client certificate, key or CA");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* Something (an answer or the end) is waiting: leave it for SSL_read. */
static int
readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) > 0;
}

static int
idle(long n, long secs)
{
	int *fds = calloc((size_t)n, sizeof(int));
	long i, opened = 0, closed = 0;
	double end;

	if (fds == NULL)
		die("out of memory");
	for (i = 0; i < n; i++)
		if ((fds[i] = tcp()) != -1)
			opened++;
	printf("# %ld opened, holding %ld s\n", opened, secs);
	fflush(stdout);
	end = now() + (double)secs;
	while (now() < end)
		usleep(200000);
	for (i = 0; i < n; i++)
		if (fds[i] != -1) {
			closed += peer_closed(fds[i]);
			close(fds[i]);
		}
	printf("opened %ld closed-by-server %ld\n", opened, closed);
	fflush(stdout);
	free(fds);
	return 0;
}

static int
slowloris(long n, long secs, const char *cert, const char *key,
    const char *cafile)
{
	static const char head[] = "GET /prov/self.xml HTTP/1.1\r\nHost: x\r\n"
	    "X-Slow: a-long-header-sent-one-byte-a-second-for-ever-and-ever"
	    "-and-ever-and-ever-and-ever\r\n\r\n";
	SSL_CTX *ctx = client_ctx(cert, key, cafile);
	SSL **ss = calloc((size_t)n, sizeof(SSL *));
	double *born = calloc((size_t)n, sizeof(double)), end, maxlife = 0;
	long i, cut = 0, a408 = 0, live;
	size_t pos = 0;
	char buf[4096];
	int r;

	if (ss == NULL || born == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		int fd = tcp();

		if (fd == -1 || (ss[i] = SSL_new(ctx)) == NULL ||
		    SSL_set_fd(ss[i], fd) != 1 || SSL_connect(ss[i]) != 1)
			die("handshake failed");
		/* Reads must not wait: the drip goes on until an answer. */
		fcntl(fd, F_SETFL, O_NONBLOCK);
		born[i] = now();
	}
	end = now() + (double)secs;
	for (live = n; live > 0 && now() < end; pos++) {
		for (i = 0; i < n; i++) {
			if (ss[i] == NULL)
				continue;
			if (readable(SSL_get_fd(ss[i])) ||
			    SSL_pending(ss[i]) > 0) {
				/* Tickets (TLS 1.3) are not an answer. */
				r = SSL_read(ss[i], buf, sizeof(buf) - 1);
				if (r <= 0 && SSL_get_error(ss[i], r) ==
				    SSL_ERROR_WANT_READ)
					goto more;
				if (r > 0) {
					buf[r] = '\0';
					if (strncmp(buf, "HTTP/1.1 408", 12) == 0)
						a408++;
				}
				goto gone;
			}
more:
			if (pos < sizeof(head) - 1 &&
			    SSL_write(ss[i], head + pos, 1) == 1)
				continue;
			if (pos < sizeof(head) - 1)
				goto gone;
			continue;
gone:
			if (now() - born[i] > maxlife)
				maxlife = now() - born[i];
			cut++;
			live--;
			close(SSL_get_fd(ss[i]));
			SSL_free(ss[i]);
			ss[i] = NULL;
		}
		sleep(1);
	}
	printf("cut %ld answered-408 %ld after-max %.0f\n", cut, a408,
	    maxlife);
	fflush(stdout);
	for (i = 0; i < n; i++)
		if (ss[i] != NULL) {
			close(SSL_get_fd(ss[i]));
			SSL_free(ss[i]);
		}
	free(ss);
	free(born);
	SSL_CTX_free(ctx);
	return 0;
}

static int
flood(long n)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct linger lg = { 1, 0 };
	long i, sent = 0;

	if (ctx == NULL)
		die("SSL_CTX_new");
	for (i = 0; i < n; i++) {
		int fd = tcp();
		SSL *s;

		if (fd == -1)
			continue;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		if ((s = SSL_new(ctx)) != NULL && SSL_set_fd(s, fd) == 1) {
			/* The first flight goes out, then we are gone (on
			 * loopback the server may answer at once: a TLS 1.3
			 * client without a certificate then ends its side). */
			int r = SSL_connect(s);

			if (r == 1 || (r == -1 && SSL_get_error(s, r) ==
			    SSL_ERROR_WANT_READ))
				sent++;
			SSL_free(s);
		}
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	printf("sent %ld\n", sent);
	fflush(stdout);
	SSL_CTX_free(ctx);
	return 0;
}

static int
burst(long n, const char *cert, const char *key, const char *cafile)
{
	static const char req[] = "GET /prov/self.xml HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	SSL_CTX *ctx = client_ctx(cert, key, cafile);
	SSL **ss = calloc((size_t)n, sizeof(SSL *));
	int *st = calloc((size_t)n, sizeof(int));	/* 0 hs, 1 read, 2 done */
	long i, served = 0, left = n;
	char buf[8192];
	double end;
	int r;

	if (ss == NULL || st == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		int fd = tcp();

		if (fd == -1 || (ss[i] = SSL_new(ctx)) == NULL ||
		    SSL_set_fd(ss[i], fd) != 1)
			die("connect");
		fcntl(fd, F_SETFL, O_NONBLOCK);
	}
	sleep(1);
	end = now() + 60;
	while (left > 0 && now() < end) {
		for (i = 0; i < n; i++) {
			if (st[i] == 2)
				continue;
			if (st[i] == 0) {
				r = SSL_connect(ss[i]);
				if (r == 1) {
					if (SSL_write(ss[i], req, sizeof(req) -
					    1) <= 0)
						goto done;
					st[i] = 1;
				} else if (SSL_get_error(ss[i], r) !=
				    SSL_ERROR_WANT_READ && SSL_get_error(ss[i],
				    r) != SSL_ERROR_WANT_WRITE)
					goto done;
				continue;
			}
			r = SSL_read(ss[i], buf, sizeof(buf) - 1);
			if (r > 0) {
				buf[r] = '\0';
				if (strncmp(buf, "HTTP/1.1 200", 12) == 0)
					served++;
				goto done;
			}
			if (SSL_get_error(ss[i], r) == SSL_ERROR_WANT_READ)
				continue;
done:
			st[i] = 2;
			left--;
		}
		usleep(2000);
	}
	printf("served %ld of %ld\n", served, n);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		close(SSL_get_fd(ss[i]));
		SSL_free(ss[i]);
	}
	free(ss);
	free(st);
	SSL_CTX_free(ctx);
	return 0;
}

static const char *
outcome(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char b[4096];
	ssize_t n;

	if (poll(&p, 1, 10000) <= 0)
		return "open";
	n = recv(fd, b, sizeof(b), 0);
	return n > 0 ? "alert" : "closed";
}

static int
garbage(void)
{
	/* Not TLS at all; a record claiming 16 MiB; a record of junk. */
	static const unsigned char plain[] = "GET / HTTP/1.1\r\n\r\n";
	static const unsigned char huge[] = { 0x16, 0x03, 0x01, 0xff, 0xff };
	unsigned char junk[512];
	int fd;

	junk[0] = 0x16;
	junk[1] = 0x03;
	junk[2] = 0x03;
	junk[3] = 0x01;
	junk[4] = 0xfb;
	memset(junk + 5, 0xa5, sizeof(junk) - 5);
	if ((fd = tcp()) == -1 || send(fd, plain, sizeof(plain) - 1, 0) < 0)
		die("connect");
	printf("plain-http %s", outcome(fd));
	close(fd);
	if ((fd = tcp()) == -1 || send(fd, huge, sizeof(huge), 0) < 0)
		die("connect");
	printf(" huge-record %s", outcome(fd));
	close(fd);
	if ((fd = tcp()) == -1 || send(fd, junk, sizeof(junk), 0) < 0)
		die("connect");
	printf(" junk-record %s\n", outcome(fd));
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 4)
		die("usage: hostile idle|slowloris|flood|burst|garbage ADDR PORT "
		    "...");
	memset(&sin_, 0, sizeof(sin_));
	sin_.sin_family = AF_INET;
	sin_.sin_port = htons((unsigned short)num(argv[3]));
	if (inet_pton(AF_INET, argv[2], &sin_.sin_addr) != 1)
		die("bad address");
	/* Enough descriptors for the connections asked for. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (strcmp(argv[1], "idle") == 0 && argc == 6)
		return idle(num(argv[4]), num(argv[5]));
	if (strcmp(argv[1], "slowloris") == 0 && argc == 9)
		return slowloris(num(argv[4]), num(argv[5]), argv[6], argv[7],
		    argv[8]);
	if (strcmp(argv[1], "flood") == 0 && argc == 5)
		return flood(num(argv[4]));
	if (strcmp(argv[1], "burst") == 0 && argc == 8)
		return burst(num(argv[4]), argv[5], argv[6], argv[7]);
	if (strcmp(argv[1], "garbage") == 0 && argc == 4)
		return garbage();
	die("bad arguments");
	return 2;
}
