/* The CN rule, edge by edge (docs/CN-RULE.md). */
#include "harness.h"

#include "sprov/cnrule.h"

struct row {
	const char		*cn;
	size_t			 len;	/* 0: strlen */
	enum sp_cn_verdict	 want;
	const char		*fqdn;	/* expected name part when OK */
};

static const char l62[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static const struct row rows[] = {
	/* The seed's three examples. */
	{ "sprov.callme.com", 0, SP_CN_OK, "sprov.callme.com" },
	{ "pv.telco.net/mailto:admin@telco.net", 0, SP_CN_OK, "pv.telco.net" },
	{ "prof.voice.com/info@voice.com", 0, SP_CN_OK, "prof.voice.com" },
	/* Case-insensitive: the name comes back lower case. */
	{ "PV.Telco.NET", 0, SP_CN_OK, "pv.telco.net" },
	{ "a.b", 0, SP_CN_OK, "a.b" },
	{ "1pv.telco.net", 0, SP_CN_OK, "1pv.telco.net" },
	{ "123.example", 0, SP_CN_OK, "123.example" },
	{ "xn--bcher-kva.example", 0, SP_CN_OK, "xn--bcher-kva.example" },
	{ "pv.telco.net/a/b c~", 0, SP_CN_OK, "pv.telco.net" },
	{ "pv.telco.net/ ", 0, SP_CN_OK, "pv.telco.net" },
	/* Length: 64 bytes is the X.509 bound. */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
	    0, SP_CN_OK, NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bc",
	    0, SP_CN_TOO_LONG, NULL },
	{ "pv.telco.net/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    0, SP_CN_TOO_LONG, NULL },
	{ "", 0, SP_CN_EMPTY, NULL },
	/* Free text. */
	{ "pv.telco.net/", 0, SP_CN_TEXT_EMPTY, NULL },
	{ "/mailto:admin@telco.net", 0, SP_CN_NAME_EMPTY, NULL },
	{ "pv.telco.net/\x01", 0, SP_CN_NOT_PRINTABLE, NULL },
	{ "pv.telco.net/caf\xc3\xa9", 0, SP_CN_NOT_PRINTABLE, NULL },
	{ "pv.t\xc3\xablco.net", 0, SP_CN_NOT_PRINTABLE, NULL },
	{ "pv.telco.net\0evil.com", 21, SP_CN_NOT_PRINTABLE, NULL },
	{ "pv.telco.net\x7f", 0, SP_CN_NOT_PRINTABLE, NULL },
	/* Wildcards and IP literals. */
	{ "*.telco.net", 0, SP_CN_WILDCARD, NULL },
	{ "pv*.telco.net", 0, SP_CN_WILDCARD, NULL },
	{ "192.168.1.10", 0, SP_CN_IP_LITERAL, NULL },
	{ "192.168.1.10/pv", 0, SP_CN_IP_LITERAL, NULL },
	{ "::1", 0, SP_CN_IP_LITERAL, NULL },
	{ "[2001:db8::1]", 0, SP_CN_IP_LITERAL, NULL },
	{ "2001:db8::1", 0, SP_CN_IP_LITERAL, NULL },
	{ "1.2.3.4.5", 0, SP_CN_NUMERIC_TLD, NULL },
	{ "pv.123", 0, SP_CN_NUMERIC_TLD, NULL },
	/* Labels. */
	{ "pv.telco.net.", 0, SP_CN_TRAILING_DOT, NULL },
	{ ".pv.telco.net", 0, SP_CN_EMPTY_LABEL, NULL },
	{ "pv..telco.net", 0, SP_CN_EMPTY_LABEL, NULL },
	{ "localhost", 0, SP_CN_ONE_LABEL, NULL },
	{ "localhost/admin@x.y", 0, SP_CN_ONE_LABEL, NULL },
	{ "pv_1.telco.net", 0, SP_CN_BAD_CHAR, NULL },
	{ "pv telco.net", 0, SP_CN_BAD_CHAR, NULL },
	{ " pv.telco.net", 0, SP_CN_BAD_CHAR, NULL },
	{ "pv.telco.net /x", 0, SP_CN_BAD_CHAR, NULL },
	{ "pv.telco.net:443", 0, SP_CN_BAD_CHAR, NULL },
	{ "pv.telco.net@x", 0, SP_CN_BAD_CHAR, NULL },
	{ "-pv.telco.net", 0, SP_CN_HYPHEN_EDGE, NULL },
	{ "pv-.telco.net", 0, SP_CN_HYPHEN_EDGE, NULL },
	{ "pv.telco-.net", 0, SP_CN_HYPHEN_EDGE, NULL },
	{ "pv.telco.-net", 0, SP_CN_HYPHEN_EDGE, NULL },
};

static void
t_labels_at_bounds(void)
{
	char cn[80], fqdn[SP_FQDN_MAX + 1];

	/* 62-byte label + ".b": 64 bytes, labels within 63. */
	snprintf(cn, sizeof(cn), "%s.b", l62);
	CHECK(sp_cnrule_check(cn, strlen(cn), fqdn, sizeof(fqdn)) ==
	    SP_CN_OK);
	CHECK_STR(fqdn, cn);
	/* A 63-byte label alone is one label, not a length problem. */
	snprintf(cn, sizeof(cn), "a%s", l62);
	CHECK(sp_cnrule_check(cn, strlen(cn), NULL, 0) == SP_CN_ONE_LABEL);
	/* Under the 64-byte cap a 64-byte label cannot occur: TOO_LONG. */
	snprintf(cn, sizeof(cn), "aa%s.b", l62);
	CHECK(sp_cnrule_check(cn, strlen(cn), NULL, 0) == SP_CN_TOO_LONG);
}

static void
t_fqdn_buffer_too_small(void)
{
	char small[4];

	CHECK(sp_cnrule_check("pv.telco.net", 12, small, sizeof(small)) !=
	    SP_CN_OK);
}

static void
t_every_verdict_has_a_sentence(void)
{
	int v;

	for (v = SP_CN_OK; v <= SP_CN_NAME_TOO_LONG; v++) {
		CHECK(sp_cnrule_str((enum sp_cn_verdict)v) != NULL);
		CHECK(strcmp(sp_cnrule_str((enum sp_cn_verdict)v),
		    "unknown CN verdict") != 0);
	}
	CHECK_HAS(sp_cnrule_str(SP_CN_WILDCARD), "wildcard");
	CHECK_HAS(sp_cnrule_str(SP_CN_IP_LITERAL), "IP address");
	CHECK_HAS(sp_cnrule_str(SP_CN_TOO_LONG), "64");
}

int
main(void)
{
	char name[160], fqdn[SP_FQDN_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		size_t len = r->len ? r->len : strlen(r->cn);
		enum sp_cn_verdict v;

		ROW_BEGIN();
		fqdn[0] = '\0';
		v = sp_cnrule_check(r->cn, len, fqdn, sizeof(fqdn));
		if (v != r->want)
			printf("#   CN row %zu: got %d (%s), want %d\n", i,
			    (int)v, sp_cnrule_str(v), (int)r->want);
		CHECK(v == r->want);
		if (r->want == SP_CN_OK && r->fqdn != NULL)
			CHECK_STR(fqdn, r->fqdn);
		snprintf(name, sizeof(name), "cn rule row %zu (%s)", i,
		    sp_cnrule_str(r->want));
		ROW_END(name);
	}
	RUN(t_labels_at_bounds);
	RUN(t_fqdn_buffer_too_small);
	RUN(t_every_verdict_has_a_sentence);
	return t_done();
}
