#include "harness.h"

#include "sprov/macro.h"

struct var {
	const char	*name, *value;
};

static const struct var vars[] = {
	{ "A", "Provisioned" },
	{ "B", "$MA" },		/* never expanded again */
	{ "D", "dir" },
	{ "E", "file" },
	{ "MA", "000e08012345" },
	{ "MAU", "000E08012345" },
	{ "MAC", "00:0e:08:01:23:45" },
	{ "PN", "CP-8841-3PCC" },
	{ "PSN", "8841" },
	{ "SN", "88012BA01234" },
	{ "SWVER", "sip88xx.11-3-2MPP0001-609" },
	{ "CCERT", "Not Installed" },
	{ "SCHEME", "https" },
	{ "SERVIP", "192.0.2.7" },
	{ "PORT", "443" },
	{ "PATH", "/cfg/000e08012345.xml" },
	{ "UID1", "4085550101" },
	{ "EMPTY", "" },
	{ "SERIAL_NUMBER", "FCH1234ABCD" },
	{ "SA", "sa-secret" },
	{ "SB", "sb-secret" },
	{ "SC", "sc-secret" },
	{ "SD", "sd-secret" },
};

static int asked_secret;

static const char *
lookup(void *arg, const char *name, size_t len)
{
	size_t i;

	(void)arg;
	if (len == 2 && name[0] == 'S' && name[1] >= 'A' && name[1] <= 'D')
		asked_secret++;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (strlen(vars[i].name) == len &&
		    memcmp(vars[i].name, name, len) == 0)
			return vars[i].value;
	return NULL;
}

/* Expands from an exact-size copy, so that ASan sees any overread. */
static int
expand(const char *in, bool secrets, size_t max, struct sp_buf *out)
{
	struct sp_macro_ctx ctx = { lookup, NULL, secrets };
	size_t n = strlen(in);
	char *copy;
	int rc;

	sp_buf_init(out, max);
	if ((copy = malloc(n ? n : 1)) == NULL)
		abort();
	memcpy(copy, in, n);
	rc = sp_macro_expand(&ctx, copy, n, out);
	free(copy);
	return rc;
}

static const struct {
	const char	*in, *out;
	bool		 secrets;
} rows[] = {
	/* Reference 2.4. */
	{ "$STRANGE$MAU.cfg", "$STRANGE000E08012345.cfg", false },
	{ "$(MA:0:6)", "000e08", false },
	{ "$(MA:6)", "012345", false },
	{ "$(MA)", "000e08012345", false },
	{ "$$", "$", false },
	/* Reference 2.2 URLs. */
	{ "/$MA.cfg", "/000e08012345.cfg", false },
	{ "tftp://prov.call.com/cpe/cisco$MA.cfg",
	    "tftp://prov.call.com/cpe/cisco000e08012345.cfg", false },
	{ "http://neptune.speak.net:8080/prov/$D/$E.cfg",
	    "http://neptune.speak.net:8080/prov/dir/file.cfg", false },
	{ "https://secure.me.com/profile?Linksys",
	    "https://secure.me.com/profile?Linksys", false },
	{ "/$PSN.xml", "/8841.xml", false },
	/* Reference 3.3/3.5 log messages. */
	{ "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
	    "CP-8841-3PCC 00:0e:08:01:23:45 -- Requesting resync "
	    "https://192.0.2.7:443/cfg/000e08012345.xml", false },
	/* Longest known prefix of the [A-Z0-9] run. */
	{ "$MAC", "00:0e:08:01:23:45", false },
	{ "$MAU", "000E08012345", false },
	{ "$MAX", "000e08012345X", false },
	{ "$MAcfg", "000e08012345cfg", false },
	{ "$UID1x", "4085550101x", false },
	{ "$UID12", "4085550101" "2", false },
	{ "$SWVER.loads", "sip88xx.11-3-2MPP0001-609.loads", false },
	{ "$CCERT", "Not Installed", false },
	{ "$EMPTY|", "|", false },
	{ "$A$D$E", "Provisioneddirfile", false },
	/* Substrings, clamped to the value. */
	{ "$(MA:10:5)", "45", false },
	{ "$(MA:12)", "", false },
	{ "$(MA:99:2)", "", false },
	{ "$(MA:0:0)", "", false },
	{ "$(MA:0:99)", "000e08012345", false },
	{ "$(MA:006:002)", "01", false },
	{ "$(MA:18446744073709551615:18446744073709551615)", "", false },
	{ "x$(MAU:6:6).cfg", "x012345.cfg", false },
	{ "$(SERIAL_NUMBER)", "FCH1234ABCD", false },
	/* Unknown or malformed forms stay verbatim, never an error. */
	{ "$", "$", false },
	{ "a$", "a$", false },
	{ "$(", "$(", false },
	{ "$()", "$()", false },
	{ "$(MA", "$(MA", false },
	{ "$(MA:", "$(MA:", false },
	{ "$(MA:)", "$(MA:)", false },
	{ "$(MA:x)", "$(MA:x)", false },
	{ "$(MA:1:)", "$(MA:1:)", false },
	{ "$(MA:1:2:3)", "$(MA:1:2:3)", false },
	{ "$(MA:-1)", "$(MA:-1)", false },
	{ "$(MA:99999999999999999999999)", "$(MA:99999999999999999999999)",
	    false },
	{ "$(ma)", "$(ma)", false },
	{ "$(NOPE)", "$(NOPE)", false },
	{ "$(NOPE:1:2)", "$(NOPE:1:2)", false },
	{ "$(MA $MA)", "$(MA 000e08012345)", false },
	{ "$ma", "$ma", false },
	{ "$-MA", "$-MA", false },
	{ "$ MA", "$ MA", false },
	{ "$STRANGE", "$STRANGE", false },
	{ "$$MA", "$MA", false },
	{ "$$$MA", "$000e08012345", false },
	{ "$$$$", "$$", false },
	{ "100$", "100$", false },
	/* Not recursive. */
	{ "$B", "$MA", false },
	{ "$(B:1)", "MA", false },
	/* $SA..$SD only where secrets are allowed. */
	{ "$SA", "$SA", false },
	{ "$SB$SC$SD", "$SB$SC$SD", false },
	{ "$(SA)", "$(SA)", false },
	{ "$(SB:0:2)", "$(SB:0:2)", false },
	{ "--key $SC", "--key $SC", false },
	{ "$SA", "sa-secret", true },
	{ "$SB$SC$SD", "sb-secretsc-secretsd-secret", true },
	{ "$(SB:0:2)", "sb", true },
	{ "$SAX", "sa-secretX", true },
	{ "$MA", "000e08012345", true },
	/* Backslashes and quotes are plain text here. */
	{ "\\$MA \"$PN\"", "\\000e08012345 \"CP-8841-3PCC\"", false },
	{ "", "", false },
	{ "no macro at all", "no macro at all", false },
};

static void
t_table(void)
{
	struct sp_buf out;
	char name[160];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		asked_secret = 0;
		CHECK(expand(rows[i].in, rows[i].secrets, 1 << 16, &out) == 0);
		CHECK_STR(out.data ? out.data : "", rows[i].out);
		CHECK(out.len == strlen(rows[i].out));
		if (!rows[i].secrets)
			CHECK(asked_secret == 0);
		sp_buf_release(&out);
		snprintf(name, sizeof(name), "expand '%s'%s", rows[i].in,
		    rows[i].secrets ? " with secrets" : "");
		ROW_END(name);
	}
}

static void
t_appends(void)
{
	struct sp_macro_ctx ctx = { lookup, NULL, false };
	struct sp_buf out;

	sp_buf_init(&out, 1024);
	CHECK(sp_buf_append(&out, "pre:", 4) == 0);
	CHECK(sp_macro_expand(&ctx, "$MA", 3, &out) == 0);
	CHECK_STR(out.data, "pre:000e08012345");
	/* Only len bytes are read: "$MAU" cut after "$MA". */
	CHECK(sp_macro_expand(&ctx, "/$MAU", 4, &out) == 0);
	CHECK_STR(out.data, "pre:000e08012345/000e08012345");
	/* "$(MA:0:2)" cut before ')' is malformed, so verbatim. */
	sp_buf_reset(&out);
	CHECK(sp_macro_expand(&ctx, "$(MA:0:2)", 8, &out) == 0);
	CHECK_STR(out.data, "$(MA:0:2");
	sp_buf_release(&out);
}

static void
t_cap(void)
{
	struct sp_macro_ctx ctx = { lookup, NULL, false };
	struct sp_buf out;

	/* Exactly fits. */
	CHECK(expand("/$MA.cfg", false, 17, &out) == 0);
	CHECK_STR(out.data, "/000e08012345.cfg");
	sp_buf_release(&out);
	/* One byte short: -1, and out is left as it was. */
	sp_buf_init(&out, 16);
	CHECK(sp_buf_append(&out, "ab", 2) == 0);
	CHECK(sp_macro_expand(&ctx, "/$MA.cfg", 8, &out) == -1);
	CHECK(out.len == 2);
	CHECK_STR(out.data, "ab");
	CHECK(sp_macro_expand(&ctx, "$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$", 34,
	    &out) == -1);
	CHECK_STR(out.data, "ab");
	CHECK(sp_macro_expand(&ctx, "0123456789abcdef", 16, &out) == -1);
	CHECK(out.len == 2);
	sp_buf_release(&out);
	/* A zero cap takes only an empty expansion. */
	CHECK(expand("$(MA:3:0)", false, 0, &out) == 0);
	CHECK(out.len == 0);
	sp_buf_release(&out);
	CHECK(expand("x", false, 0, &out) == -1);
	sp_buf_release(&out);
}

static void
t_no_lookup(void)
{
	struct sp_macro_ctx ctx = { NULL, NULL, true };
	struct sp_buf out;

	sp_buf_init(&out, 64);
	CHECK(sp_macro_expand(&ctx, "/$MA/$(SA)/$$", 13, &out) == 0);
	CHECK_STR(out.data, "/$MA/$(SA)/$");
	sp_buf_reset(&out);
	CHECK(sp_macro_expand(NULL, "$PN", 3, &out) == 0);
	CHECK_STR(out.data, "$PN");
	sp_buf_release(&out);
}

/* A run of name characters longer than any name: still bounded. */
static void
t_long_run(void)
{
	struct sp_buf out;
	char in[2000];

	memset(in, 'Z', sizeof(in) - 1);
	in[0] = '$';
	in[sizeof(in) - 1] = '\0';
	CHECK(expand(in, false, 1 << 16, &out) == 0);
	CHECK(out.len == sizeof(in) - 1);	/* "$ZZZ..." unknown */
	CHECK(out.data != NULL && strncmp(out.data, "$ZZZ", 4) == 0);
	sp_buf_release(&out);
	/* "$MAZZZ...": MA is the longest known prefix. */
	in[1] = 'M';
	in[2] = 'A';
	CHECK(expand(in, false, 1 << 16, &out) == 0);
	CHECK(out.len == 12 + sizeof(in) - 4);
	CHECK(out.data != NULL && strncmp(out.data, "000e08012345ZZ",
	    14) == 0);
	sp_buf_release(&out);
}

int
main(void)
{
	RUN(t_table);
	RUN(t_appends);
	RUN(t_cap);
	RUN(t_no_lookup);
	RUN(t_long_run);
	return t_done();
}
