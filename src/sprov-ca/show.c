/*
 * sprov-ca show CERT: what a phone or a provisioning server would read from
 * a certificate, and what this CA knows of it.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "sprov/ca.h"
#include "sprov/cnrule.h"
#include "sprov/log.h"
#include "sprov/x509.h"
#include "sprov-ca/sprov-ca.h"

static void
show_san(X509 *x)
{
	GENERAL_NAMES *gens;
	char esc[300];
	int i;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	printf("SAN:        ");
	if (gens == NULL) {
		printf("none\n");
		return;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS)
			printf("%sDNS:%s", i ? ", " : "", sp_log_escape(esc,
			    sizeof(esc), (const char *)ASN1_STRING_get0_data(
			    g->d.dNSName), (size_t)ASN1_STRING_length(
			    g->d.dNSName)));
		else
			printf("%s(type %d)", i ? ", " : "", g->type);
	}
	printf("\n");
	GENERAL_NAMES_free(gens);
}

static const char *
purpose(X509 *x)
{
	uint32_t xku = X509_get_extended_key_usage(x);

	if (X509_check_ca(x) > 0)
		return "CA";
	if ((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT))
		return "server and client";
	if (xku & XKU_SSL_SERVER)
		return "server (provisioning server)";
	if (xku & XKU_SSL_CLIENT)
		return "client (device or operator)";
	return "unspecified";
}

int
cmd_show(struct ca_opts *o)
{
	char buf[1024], cn[SP_CN_MAX + 1], fqdn[SP_FQDN_MAX + 1], serial[80];
	char path[PATH_MAX], nb[32], na[32];
	struct sp_identity id;
	struct sp_ca_row row;
	struct sp_err err;
	struct sp_ca *ca = NULL;
	enum sp_cn_verdict v;
	time_t t_na;
	X509 *x;
	int i, found;

	if ((x = sp_x509_cert_load(o->argv[0], &err)) == NULL)
		return fail("%s", err.msg);
	sp_x509_name_oneline(X509_get_subject_name(x), buf, sizeof(buf));
	printf("subject:    %s\n", buf);
	sp_x509_name_oneline(X509_get_issuer_name(x), buf, sizeof(buf));
	printf("issuer:     %s\n", buf);
	sp_x509_serial_hex(x, serial, sizeof(serial));
	printf("serial:     %s\n", serial);
	fmt_time(sp_ca_asn1_time(X509_get0_notBefore(x)), nb, sizeof(nb));
	t_na = sp_ca_asn1_time(X509_get0_notAfter(x));
	fmt_time(t_na, na, sizeof(na));
	printf("validity:   %s to %s%s\n", nb, na, t_na < time(NULL) ?
	    " (EXPIRED)" : "");
	sp_x509_key_describe(X509_get0_pubkey(x), buf, sizeof(buf));
	printf("key:        %s\n", buf);
	printf("purpose:    %s\n", purpose(x));
	show_san(x);
	if (sp_x509_name_cn(X509_get_subject_name(x), cn, sizeof(cn),
	    &err) == -1)
		printf("CN rule:    violated: %s\n", err.msg);
	else if ((v = sp_cnrule_check(cn, strlen(cn), fqdn,
	    sizeof(fqdn))) == SP_CN_OK)
		printf("CN rule:    valid; phones resolve %s and require the "
		    "address they reached among its addresses\n", fqdn);
	else
		printf("CN rule:    violated: %s\n", sp_cnrule_str(v));
	if (sp_x509_device_identity(x, &id, &err) == -1)
		printf("device:     none (%s)\n", err.msg);
	else if (id.generic)
		printf("device:     generic certificate: identifies no "
		    "device\n");
	else
		printf("device:     mac=%s serial=%s model=%s\n", id.mac,
		    id.serial[0] ? id.serial : "-", id.model[0] ? id.model :
		    "-");
	snprintf(path, sizeof(path), "%s/index.db", o->dir);
	if (access(path, F_OK) == -1) {
		printf("CA:         no CA at %s (give -d DIR to compare)\n",
		    o->dir);
		X509_free(x);
		return EXIT_OK;
	}
	if ((ca = sp_ca_open(o->dir, NULL, &err)) == NULL) {
		X509_free(x);
		return fail("%s", err.msg);
	}
	for (i = 0; i < SP_CA_NROOTS; i++) {
		X509 *root = sp_ca_root_cert(ca, (enum sp_ca_root)i);

		if (X509_check_issued(root, x) == X509_V_OK &&
		    X509_verify(x, X509_get0_pubkey(root)) == 1) {
			printf("chain:      signed by %s of %s\n",
			    sp_ca_root_name((enum sp_ca_root)i), o->dir);
			break;
		}
	}
	if (i == SP_CA_NROOTS)
		printf("chain:      not signed by any root of %s\n", o->dir);
	found = sp_ca_lookup(ca, serial, &row);
	if (found == -1)
		printf("index:      error: %s\n", sp_ca_error(ca));
	else if (found == 1)
		printf("index:      not in the index of %s\n", o->dir);
	else if (row.revoked) {
		fmt_time(row.revoked_at, nb, sizeof(nb));
		printf("index:      REVOKED at %s (%s)\n", nb,
		    sp_x509_reason_name(row.reason));
	} else
		printf("index:      %s\n", row.not_after < time(NULL) ?
		    "expired" : "valid");
	sp_ca_free(ca);
	X509_free(x);
	return EXIT_OK;
}
