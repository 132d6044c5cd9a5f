/*
 * A hostile HTTPS server for the agent's tests: it completes a normal TLS
 * handshake with the certificate (and chain) it is given, reads one
 * request, then misbehaves in the chosen way.  One process per connection
 * (fork), each ended after 120 s whatever happens.
 *
 *	evilsrv -c CHAIN.pem -k KEY.pem -a ADDR -P PORTFILE MODE [ARG]
 *
 * MODE:
 *   ok          a small valid profile (for the chain tests)
 *   headers     a status line, then header lines without end
 *   body        a profile that never ends (no Content-Length)
 *   bomb        a gzip file of 1 GiB of '<' (about 1 MiB on the wire)
 *   redirect    302 to ARG, where "PORT" stands for the server's own port
 *               (a loop when ARG names the server itself)
 *   drip        a valid profile, one byte a second
 *
 * Prints nothing; PORTFILE receives the port once listening.  The number
 * of requests served is appended to PORTFILE.hits, one line each.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

static const char *mode, *arg, *portfile;
static unsigned port;

static void
die(const char *what)
{
	fprintf(stderr, "evilsrv: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static int
put(SSL *s, const void *p, size_t n)
{
	return SSL_write(s, p, (int)n) == (int)n ? 0 : -1;
}

static int
puts_ssl(SSL *s, const char *p)
{
	return put(s, p, strlen(p));
}

/* gzip (windowBits 31) of `total` bytes of '<', made once. */
static unsigned char *
bomb(size_t total, size_t *len)
{
	static unsigned char in[1 << 16];
	unsigned char *out;
	size_t cap = 4 << 20, done = 0;
	z_stream z;

	memset(in, '<', sizeof(in));
	if ((out = malloc(cap)) == NULL)
		die("out of memory");
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		die("deflateInit2");
	z.next_out = out;
	z.avail_out = (uInt)cap;
	while (done < total) {
		z.next_in = in;
		z.avail_in = sizeof(in);
		done += sizeof(in);
		if (deflate(&z, done >= total ? Z_FINISH : Z_NO_FLUSH) ==
		    Z_STREAM_ERROR || z.avail_out == 0)
			die("deflate");
	}
	*len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static const char profile[] =
    "<flat-profile><GPP_A>from-evilsrv</GPP_A></flat-profile>\n";

static void
serve(SSL *s, const unsigned char *gz, size_t gzlen)
{
	char buf[8192], line[256];
	size_t i;
	int n;

	/* Read the request head (one read is enough for the agent's). */
	if ((n = SSL_read(s, buf, sizeof(buf) - 1)) <= 0)
		return;
	if (strcmp(mode, "ok") == 0) {
		snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "text/xml\r\nContent-Length: %zu\r\nConnection: close\r\n"
		    "\r\n", sizeof(profile) - 1);
		if (puts_ssl(s, line) == 0)
			puts_ssl(s, profile);
	} else if (strcmp(mode, "headers") == 0) {
		if (puts_ssl(s, "HTTP/1.1 200 OK\r\n") == -1)
			return;
		for (i = 0; ; i++) {
			snprintf(line, sizeof(line), "X-Pad-%zu: %0100zu\r\n",
			    i, i);
			if (puts_ssl(s, line) == -1)
				return;
		}
	} else if (strcmp(mode, "body") == 0) {
		if (puts_ssl(s, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
		    "Connection: close\r\n\r\n<flat-profile>\n") == -1)
			return;
		for (;;)
			if (puts_ssl(s, "<GPP_A>endless</GPP_A>\n") == -1)
				return;
	} else if (strcmp(mode, "bomb") == 0) {
		snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/octet-stream\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n", gzlen);
		if (puts_ssl(s, line) == 0)
			put(s, gz, gzlen);
	} else if (strcmp(mode, "redirect") == 0) {
		const char *p = strstr(arg, "PORT");
		char to[1024];

		if (p != NULL)
			snprintf(to, sizeof(to), "%.*s%u%s", (int)(p - arg),
			    arg, port, p + 4);
		else
			snprintf(to, sizeof(to), "%s", arg);
		snprintf(buf, sizeof(buf), "HTTP/1.1 302 Found\r\nLocation: %s"
		    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", to);
		puts_ssl(s, buf);
	} else if (strcmp(mode, "drip") == 0) {
		snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: "
		    "%zu\r\nConnection: close\r\n\r\n%s", sizeof(profile) - 1,
		    profile);
		for (i = 0; buf[i] != '\0'; i++) {
			if (put(s, buf + i, 1) == -1)
				return;
			sleep(1);
		}
	}
}

static void
hit(void)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s.hits", portfile);
	if ((f = fopen(path, "a")) != NULL) {
		fprintf(f, "%s\n", mode);
		fclose(f);
	}
}

int
main(int argc, char *argv[])
{
	const char *chain = NULL, *key = NULL, *addr = "127.0.0.1";
	struct sockaddr_in sin;
	unsigned char *gz = NULL;
	socklen_t sl = sizeof(sin);
	size_t gzlen = 0;
	SSL_CTX *ctx;
	FILE *f;
	int ch, lfd, fd, one = 1;

	while ((ch = getopt(argc, argv, "a:c:k:P:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'c': chain = optarg; break;
		case 'k': key = optarg; break;
		case 'P': portfile = optarg; break;
		default: die("bad option");
		}
	}
	if (chain == NULL || key == NULL || portfile == NULL || optind >=
	    argc)
		die("usage: evilsrv -c CHAIN -k KEY -a ADDR -P PORTFILE MODE "
		    "[ARG]");
	mode = argv[optind];
	arg = optind + 1 < argc ? argv[optind + 1] : "";
	if (strcmp(mode, "bomb") == 0)
		gz = bomb((size_t)1 << 30, &gzlen);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, chain) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("cannot load the certificate chain or key");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);	/* no zombies */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		die("bad address");
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 64) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) == -1)
		die(strerror(errno));
	if ((f = fopen(portfile, "w")) == NULL)
		die(portfile);
	port = ntohs(sin.sin_port);
	fprintf(f, "%u\n", port);
	fclose(f);
	for (;;) {
		SSL *s;

		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			if (errno == EINTR)
				continue;
			die(strerror(errno));
		}
		if (fork() == 0) {
			close(lfd);
			alarm(120);
			if ((s = SSL_new(ctx)) != NULL && SSL_set_fd(s, fd) ==
			    1 && SSL_accept(s) == 1) {
				hit();
				serve(s, gz, gzlen);
				SSL_shutdown(s);
			}
			_exit(0);
		}
		close(fd);
	}
}
