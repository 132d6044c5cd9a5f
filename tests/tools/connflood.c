/*
 * A test client that holds many TLS connections open at once: it opens N
 * connections with a client certificate, sends one request on each, then,
 * with all of them still open, a second request on each (so every one was
 * kept alive concurrently).  Prints what it got; exits 0 when every
 * request of every connection that was accepted got 200.
 *
 *	connflood ADDR PORT SERVERNAME CERT KEY CAFILE N PATH
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sprov/str.h"

/* Reads one response; returns its status, or -1. */
static int
response(SSL *s)
{
	char buf[65536], *end, *cl;
	size_t have = 0, need;
	uint64_t len = 0;
	int status = -1;

	for (;;) {
		int n = SSL_read(s, buf + have, (int)(sizeof(buf) - 1 - have));

		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (have == sizeof(buf) - 1)
			return -1;
	}
	if (strncmp(buf, "HTTP/1.1 ", 9) == 0)
		sp_str_u64(buf + 9, 3, 100, 599, &len) == 0 ?
		    (void)(status = (int)len) : (void)0;
	len = 0;
	if ((cl = strstr(buf, "Content-Length: ")) != NULL && cl < end)
		sp_str_u64(cl + 16, strcspn(cl + 16, "\r"), 0, 1 << 30, &len);
	need = (size_t)(end + 4 - buf) + (size_t)len;
	while (have < need) {
		int n = SSL_read(s, buf, (int)(need - have < sizeof(buf) ?
		    need - have : sizeof(buf)));

		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return status;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	struct rlimit rl;
	char req[512];
	SSL_CTX *ctx;
	SSL **ssl;
	uint64_t n;
	size_t i, opened = 0, first = 0, second = 0, refused = 0;
	int fd;

	if (argc != 9 || sp_str_u64z(argv[7], 1, 100000, &n) == -1) {
		fprintf(stderr, "usage: connflood ADDR PORT SERVERNAME CERT KEY "
		    "CAFILE N PATH\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);	/* a refused connection is counted */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)strtoul(argv[2], NULL, 10));
	inet_pton(AF_INET, argv[1], &sin.sin_addr);
	ctx = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_use_certificate_chain_file(ctx, argv[4]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[5], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, argv[6], NULL) != 1) {
		ERR_print_errors_fp(stderr);
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	    argv[8], argv[3]);
	ssl = calloc(n, sizeof(*ssl));
	for (i = 0; i < n; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			perror("connect");
			if (fd != -1)
				close(fd);
			refused++;
			continue;
		}
		ssl[i] = SSL_new(ctx);
		SSL_set_fd(ssl[i], fd);
		SSL_set_tlsext_host_name(ssl[i], argv[3]);
		if (SSL_connect(ssl[i]) != 1 ||
		    SSL_write(ssl[i], req, (int)strlen(req)) <= 0) {
			ERR_clear_error();
			SSL_free(ssl[i]);
			ssl[i] = NULL;
			close(fd);
			refused++;
			continue;
		}
		opened++;
		if (response(ssl[i]) == 200)
			first++;
	}
	/* Every accepted connection is still open: a second request each. */
	for (i = 0; i < n; i++)
		if (ssl[i] != NULL && SSL_write(ssl[i], req,
		    (int)strlen(req)) > 0 && response(ssl[i]) == 200)
			second++;
	printf("opened %zu refused %zu first-200 %zu second-200 %zu\n", opened,
	    refused, first, second);
	for (i = 0; i < n; i++)
		if (ssl[i] != NULL) {
			fd = SSL_get_fd(ssl[i]);
			SSL_free(ssl[i]);
			close(fd);
		}
	free(ssl);
	SSL_CTX_free(ctx);
	return (opened > 0 && first == opened && second == opened) ? 0 : 1;
}
