/*
 * The cryptographic floor of issuing one device identity: one key
 * generation and one signature (over a certificate-sized message), through
 * the same OpenSSL that sprov-ca uses, on J threads for S seconds.
 * Prints "keygen_per_s sign_per_s devices_per_s" summed over the threads.
 *
 *	crypto-limit ec-p256|ec-p384|rsa2048 JOBS SECONDS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "sprov/x509.h"
#include "sprov/str.h"

static enum sp_keytype kt;
static double secs;

struct res {
	double	keygen, sign, both;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
run(void *arg)
{
	struct res *r = arg;
	unsigned char msg[450], sig[1024];
	struct sp_keygen *kg, *cakg;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	struct sp_err err;
	EVP_PKEY *ca, *k;
	double t0;
	long n;
	size_t sl;

	memset(msg, 0x5a, sizeof(msg));
	kg = sp_keygen_new(kt, &err);
	cakg = sp_keygen_new(SP_KEY_EC_P256, &err);
	if (kg == NULL || cakg == NULL || (ca = sp_keygen_run(cakg,
	    &err)) == NULL) {
		fprintf(stderr, "crypto-limit: %s\n", err.msg);
		exit(1);
	}
	for (n = 0, t0 = now(); now() - t0 < secs; n++)
		EVP_PKEY_free(sp_keygen_run(kg, &err));
	r->keygen = (double)n / (now() - t0);
	for (n = 0, t0 = now(); now() - t0 < secs; n++) {
		sl = sizeof(sig);
		EVP_MD_CTX_reset(mc);
		if (EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, ca) != 1 ||
		    EVP_DigestSign(mc, sig, &sl, msg, sizeof(msg)) != 1)
			exit(1);
	}
	r->sign = (double)n / (now() - t0);
	for (n = 0, t0 = now(); now() - t0 < secs; n++) {
		k = sp_keygen_run(kg, &err);
		sl = sizeof(sig);
		EVP_MD_CTX_reset(mc);
		if (k == NULL || EVP_DigestSignInit(mc, NULL, EVP_sha256(),
		    NULL, ca) != 1 || EVP_DigestSign(mc, sig, &sl, msg,
		    sizeof(msg)) != 1)
			exit(1);
		EVP_PKEY_free(k);
	}
	r->both = (double)n / (now() - t0);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(ca);
	sp_keygen_free(kg);
	sp_keygen_free(cakg);
	return NULL;
}

int
main(int argc, char *argv[])
{
	struct res r[64], sum = { 0, 0, 0 };
	pthread_t th[64];
	uint64_t jobs, s;
	int i;

	if (argc != 4 || sp_x509_keytype_parse(argv[1], &kt) == -1 ||
	    sp_str_u64z(argv[2], 1, 64, &jobs) == -1 ||
	    sp_str_u64z(argv[3], 1, 600, &s) == -1) {
		fprintf(stderr, "usage: crypto-limit KEYTYPE JOBS SECONDS\n");
		return 2;
	}
	secs = (double)s;
	for (i = 0; i < (int)jobs; i++)
		pthread_create(&th[i], NULL, run, &r[i]);
	for (i = 0; i < (int)jobs; i++) {
		pthread_join(th[i], NULL);
		sum.keygen += r[i].keygen;
		sum.sign += r[i].sign;
		sum.both += r[i].both;
	}
	printf("%.0f %.0f %.0f\n", sum.keygen, sum.sign, sum.both);
	return 0;
}
