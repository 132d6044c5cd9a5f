#include "harness.h"

#include "sprov/mac.h"

static const struct {
	const char	*in;
	const char	*want;	/* NULL: refused */
} rows[] = {
	{ "00:0E:08:AB:CD:EF", "000e08abcdef" },
	{ "000e08abcdef", "000e08abcdef" },
	{ "000E08ABCDEF", "000e08abcdef" },
	{ "00-0e-08-ab-cd-ef", "000e08abcdef" },
	{ "00:0e:08:ab:cd:ef", "000e08abcdef" },
	{ "000e08abcde", NULL },		/* 11 digits */
	{ "000e08abcdef0", NULL },		/* 13 digits */
	{ "000e08abcdeg", NULL },
	{ "00:0e-08:ab:cd:ef", NULL },		/* mixed separators */
	{ "00.0e.08.ab.cd.ef", NULL },
	{ "000:e08:abc:def", NULL },
	{ "00:0e:08:ab:cd:e:", NULL },
	{ " 000e08abcdef", NULL },
	{ "000000000000", NULL },		/* not a device */
	{ "ff:ff:ff:ff:ff:ff", NULL },
	{ "", NULL },
	{ "00:0e:08:ab:cd:\xef\xbc", NULL },
};

static void
t_embedded_nul(void)
{
	char out[SP_MAC_HEXLEN + 1];
	const char *why = NULL;

	CHECK(sp_mac_parse("000e08ab\0def", 12, out, &why) == -1);
	CHECK(why != NULL);
}

static void
t_is_normal(void)
{
	CHECK(sp_mac_is_normal("000e08abcdef", 12));
	CHECK(!sp_mac_is_normal("000E08ABCDEF", 12));
	CHECK(!sp_mac_is_normal("000e08abcde", 11));
	CHECK(!sp_mac_is_normal("00:0e:08:ab:cd:ef", 17));
}

int
main(void)
{
	char out[SP_MAC_HEXLEN + 1], name[96];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *why = NULL;
		int rc;

		ROW_BEGIN();
		rc = sp_mac_parse(rows[i].in, strlen(rows[i].in), out, &why);
		if (rows[i].want != NULL) {
			CHECK(rc == 0);
			if (rc == 0)
				CHECK_STR(out, rows[i].want);
		} else {
			CHECK(rc == -1);
			CHECK(why != NULL && why[0] != '\0');
		}
		snprintf(name, sizeof(name), "mac row %zu", i);
		ROW_END(name);
	}
	RUN(t_embedded_nul);
	RUN(t_is_normal);
	return t_done();
}
