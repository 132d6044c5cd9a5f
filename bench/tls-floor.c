/*
 * The library floor of a mutual-TLS handshake: what OpenSSL alone costs the
 * server, with no sockets and no server program around it.  Client and
 * server run in this one process over a BIO pair; only the CPU time of the
 * server's calls (SSL_new through SSL_free) is counted, read from the
 * thread's CPU clock.  Same files and settings as the servers under test:
 * the server certificate and key, the device CA as client CA with
 * SSL_VERIFY_PEER | FAIL_IF_NO_PEER_CERT, the CRL checked when given, and
 * the client verifying the server against the server CA.  Each handshake
 * uses the next device identity, as phones would.
 *
 *	tls-floor --cert F --key F --client-ca F [--crl F] --server-ca F
 *	    --ids DIR [-n N] [--tls 1.2|1.3] [--tickets K] [--seconds S]
 *
 * Prints one line: "floor tls=1.3 tickets=K handshakes=H server_us=U
 * per_core_s=R".
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "sprov/err.h"
#include "sprov/x509.h"

struct id {
	X509		*cert;
	EVP_PKEY	*key;
};

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "tls-floor: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static int
load_one(const char *crt, struct id *id)
{
	char keyf[4096];
	struct sp_err err;
	size_t n = strlen(crt);

	if (n < 4 || n + 1 > sizeof(keyf))
		return -1;
	memcpy(keyf, crt, n - 4);
	memcpy(keyf + n - 4, ".key", 5);
	id->cert = sp_x509_cert_load(crt, &err);
	id->key = id->cert ? sp_x509_key_load(keyf, NULL, &err) : NULL;
	return id->cert != NULL && id->key != NULL ? 0 : -1;
}

/* Device identities from sprov-ca issue-device(s) output: DIR or DIR/xx/. */
static size_t
load_ids(const char *dir, struct id *ids, size_t max, int depth)
{
	char path[4096];
	struct dirent *de;
	size_t n = 0, len;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (n < max && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = strlen(de->d_name);
		if (de->d_type == DT_DIR && depth == 0)
			n += load_ids(path, ids + n, max - n, 1);
		else if (len > 4 && strcmp(de->d_name + len - 4, ".crt") == 0 &&
		    load_one(path, &ids[n]) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Drives both ends until both are done; returns the server's CPU time. */
static double
handshake(SSL_CTX *sctx, SSL_CTX *cctx, const struct id *id)
{
	BIO *sb, *cb;
	SSL *s, *c;
	double t, spent = 0;
	int sr = 0, cr = 0, rounds = 0;
	char buf[256];

	if (BIO_new_bio_pair(&sb, 0, &cb, 0) != 1)
		die("BIO_new_bio_pair");
	if ((c = SSL_new(cctx)) == NULL ||
	    SSL_use_certificate(c, id->cert) != 1 ||
	    SSL_use_PrivateKey(c, id->key) != 1)
		die("client SSL");
	SSL_set_bio(c, cb, cb);
	SSL_set_connect_state(c);
	t = cpu_now();
	if ((s = SSL_new(sctx)) == NULL)
		die("server SSL_new");
	SSL_set_bio(s, sb, sb);
	SSL_set_accept_state(s);
	spent += cpu_now() - t;
	while (sr != 1 || cr != 1) {
		if (++rounds > 20)
			die("handshake does not finish");
		if (cr != 1) {
			cr = SSL_do_handshake(c);
			if (cr != 1 && SSL_get_error(c, cr) != SSL_ERROR_WANT_READ)
				die("client handshake");
		}
		if (sr != 1) {
			t = cpu_now();
			sr = SSL_do_handshake(s);
			spent += cpu_now() - t;
			if (sr != 1 && SSL_get_error(s, sr) != SSL_ERROR_WANT_READ)
				die("server handshake");
		}
	}
	/* The client reads what the server sent after its Finished
	 * (TLS 1.3 tickets), as a real client does; not counted. */
	(void)SSL_read(c, buf, sizeof(buf));
	if (SSL_get_verify_result(s) != X509_V_OK ||
	    SSL_get_verify_result(c) != X509_V_OK)
		die("peer not verified");
	t = cpu_now();
	SSL_free(s);
	spent += cpu_now() - t;
	SSL_free(c);
	return spent;
}

int
main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "client-ca", required_argument, NULL, 'a' },
		{ "crl", required_argument, NULL, 'r' },
		{ "server-ca", required_argument, NULL, 's' },
		{ "ids", required_argument, NULL, 'i' },
		{ "tls", required_argument, NULL, 't' },
		{ "tickets", required_argument, NULL, 'T' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "stateful", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cert = NULL, *key = NULL, *cca = NULL, *crl = NULL,
	    *sca = NULL, *dir = NULL, *tls = "1.3";
	size_t max = 1000, nid, i;
	long tickets = 0;
	int stateful = 0;
	double secs = 5, t0, spent = 0;
	struct id *ids;
	SSL_CTX *sctx, *cctx;
	X509_STORE *st;
	int o, ver;

	while ((o = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (o) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'a': cca = optarg; break;
		case 'r': crl = optarg; break;
		case 's': sca = optarg; break;
		case 'i': dir = optarg; break;
		case 't': tls = optarg; break;
		case 'T': tickets = atol(optarg); break;
		case 'S': secs = atof(optarg); break;
		case 'n': max = (size_t)atol(optarg); break;
		case 'F': stateful = 1; break;
		default:
			return 2;
		}
	}
	if (cert == NULL || key == NULL || cca == NULL || sca == NULL ||
	    dir == NULL || max == 0) {
		fprintf(stderr, "usage: tls-floor --cert F --key F --client-ca F "
		    "[--crl F] --server-ca F --ids DIR [-n N] [--tls 1.2|1.3] "
		    "[--tickets K] [--seconds S]\n");
		return 2;
	}
	ver = strcmp(tls, "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
	if ((ids = calloc(max, sizeof(*ids))) == NULL)
		die("out of memory");
	if ((nid = load_ids(dir, ids, max, 0)) == 0)
		die("no device identity (NAME.crt + NAME.key) found");

	/* The server: as a careful mutual-TLS server is configured. */
	if ((sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(sctx, ver) != 1 ||
	    SSL_CTX_set_max_proto_version(sctx, ver) != 1 ||
	    SSL_CTX_use_certificate_chain_file(sctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(sctx, cca, NULL) != 1)
		die("server context");
	SSL_CTX_set_client_CA_list(sctx, SSL_load_client_CA_file(cca));
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_session_id_context(sctx, (const unsigned char *)"f", 1);
	SSL_CTX_set_num_tickets(sctx, (size_t)tickets);
	if (tickets == 0 || stateful)
		SSL_CTX_set_options(sctx, SSL_OP_NO_TICKET);
	/* Stateful: TLS 1.3 tickets that only name a session kept in the
	 * server's cache (no encryption). */
	SSL_CTX_set_session_cache_mode(sctx, stateful ? SSL_SESS_CACHE_SERVER :
	    SSL_SESS_CACHE_OFF);
	if (crl != NULL) {
		st = SSL_CTX_get_cert_store(sctx);
		if (X509_STORE_load_file(st, crl) != 1)
			die("CRL");
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	if ((cctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(cctx, ver) != 1 ||
	    SSL_CTX_set_max_proto_version(cctx, ver) != 1 ||
	    SSL_CTX_load_verify_locations(cctx, sca, NULL) != 1)
		die("client context");
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);

	for (i = 0; i < 20; i++)	/* warm-up, not counted */
		(void)handshake(sctx, cctx, &ids[i % nid]);
	t0 = wall_now();
	for (i = 0; wall_now() - t0 < secs; i++)
		spent += handshake(sctx, cctx, &ids[i % nid]);
	printf("floor tls=%s tickets=%ld%s handshakes=%zu server_us=%.1f "
	    "per_core_s=%.0f\n", tls, tickets, stateful ? " stateful" : "", i, spent / (double)i * 1e6,
	    (double)i / spent);
	for (i = 0; i < nid; i++) {
		X509_free(ids[i].cert);
		EVP_PKEY_free(ids[i].key);
	}
	free(ids);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}
