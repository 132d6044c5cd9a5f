#include <time.h>

#include "harness.h"

#include "sprov/limits.h"
#include "sprov/profile.h"

/* "name=value@ua|..." (no "@ua" when none), for table comparisons. */
static void
dump(const struct sp_profile *p, struct sp_buf *b)
{
	const struct sp_param *q;
	size_t i;

	sp_buf_init(b, 1 << 24);
	for (i = 0; i < sp_profile_count(p); i++) {
		q = sp_profile_at(p, i);
		sp_buf_printf(b, "%s%s=", i ? "|" : "", q->name);
		sp_buf_append(b, q->value, q->valuelen);
		if (q->ua != SP_UA_NONE)
			sp_buf_printf(b, "@%s", sp_ua_name(q->ua));
	}
	if (b->data == NULL)
		sp_buf_append(b, "", 0);
}

static int
same(const struct sp_profile *a, const struct sp_profile *b)
{
	const struct sp_param *x, *y;
	size_t i;

	if (sp_profile_count(a) != sp_profile_count(b))
		return 0;
	for (i = 0; i < sp_profile_count(a); i++) {
		x = sp_profile_at(a, i);
		y = sp_profile_at(b, i);
		if (strcmp(x->name, y->name) != 0 ||
		    x->valuelen != y->valuelen || x->ua != y->ua ||
		    memcmp(x->value, y->value, x->valuelen) != 0 ||
		    x->value[x->valuelen] != '\0')
			return 0;
	}
	return 1;
}

/* parse(render(p)) == p. */
static int
roundtrip(const struct sp_profile *p)
{
	struct sp_profile *q;
	struct sp_buf out;
	struct sp_err err;
	int ok;

	sp_buf_init(&out, 1 << 26);
	if (sp_profile_render(p, &out) == -1)
		return 0;
	if ((q = sp_profile_parse(out.data, out.len, &err)) == NULL) {
		printf("#   %s\n", err.msg);
		sp_buf_release(&out);
		return 0;
	}
	ok = same(p, q);
	sp_profile_free(q);
	sp_buf_release(&out);
	return ok;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
t_ua(void)
{
	static const struct {
		const char	*s;
		int		 rc;
		enum sp_ua	 ua;
	} rows[] = {
		{ "", 0, SP_UA_NONE }, { "na", 0, SP_UA_NA },
		{ "ro", 0, SP_UA_RO }, { "rw", 0, SP_UA_RW },
		{ "NA", -1, SP_UA_NONE }, { "r", -1, SP_UA_NONE },
		{ "rwx", -1, SP_UA_NONE }, { " rw", -1, SP_UA_NONE },
	};
	enum sp_ua ua;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ua = SP_UA_RW + 1;
		CHECK(sp_ua_parse(rows[i].s, &ua) == rows[i].rc);
		if (rows[i].rc == 0) {
			CHECK(ua == rows[i].ua);
			CHECK_STR(sp_ua_name(ua), rows[i].s);
		}
	}
	CHECK(sp_ua_parse(NULL, &ua) == -1);
	CHECK_STR(sp_ua_name(SP_UA_NONE), "");
}

static void
rows_name_ok(void)
{
	static const struct {
		const char	*name;
		bool		 ok;
	} rows[] = {
		{ "Proxy_1_", true }, { "_x", true }, { "a", true },
		{ "A9", true }, { "Station_Name", true },
		{ "", false }, { "1abc", false }, { "9", false },
		{ "a-b", false }, { "a.b", false }, { "a b", false },
		{ " a", false }, { "a:b", false },
		{ "\xc3\xa9t\xc3\xa9", false },
		{ "a[1]", false }, { "a/b", false },
	};
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		CHECK(sp_param_name_ok(rows[i].name, strlen(rows[i].name)) ==
		    rows[i].ok);
		snprintf(name, sizeof(name), "name row %zu (%s)", i,
		    rows[i].ok ? "ok" : "refused");
		ROW_END(name);
	}
}

static void
t_name_ok_edges(void)
{
	char n[SP_PARAM_NAME_MAX + 2];

	memset(n, 'a', sizeof(n));
	CHECK(sp_param_name_ok(n, SP_PARAM_NAME_MAX));
	CHECK(!sp_param_name_ok(n, SP_PARAM_NAME_MAX + 1));
	CHECK(!sp_param_name_ok("a\0b", 3));
	CHECK(!sp_param_name_ok(NULL, 0));
}

static void
t_set_get(void)
{
	struct sp_profile *p = sp_profile_new();
	const struct sp_param *q;

	CHECK(p != NULL);
	CHECK(sp_profile_count(p) == 0);
	CHECK(sp_profile_get(p, "A") == NULL);
	CHECK(sp_profile_at(p, 0) == NULL);
	CHECK_STR(sp_profile_error(p), "");
	CHECK(sp_profile_set(p, "Station_Name", "Lobby", 5, SP_UA_NA) == 0);
	CHECK(sp_profile_set(p, "Proxy_1_", "sip.example.net", 15,
	    SP_UA_NONE) == 0);
	CHECK(sp_profile_set(p, "Empty", NULL, 0, SP_UA_RW) == 0);
	CHECK(sp_profile_count(p) == 3);
	q = sp_profile_get(p, "Station_Name");
	CHECK(q != NULL && q->valuelen == 5 && q->ua == SP_UA_NA);
	CHECK_STR(q ? q->value : NULL, "Lobby");
	q = sp_profile_get(p, "Empty");
	CHECK(q != NULL && q->valuelen == 0 && q->ua == SP_UA_RW);
	CHECK_STR(q ? q->value : NULL, "");
	CHECK(sp_profile_get(p, "station_name") == NULL);	/* case */
	CHECK(sp_profile_get(p, "Proxy_1") == NULL);
	CHECK(sp_profile_get(p, NULL) == NULL);
	CHECK_STR(sp_profile_at(p, 1)->name, "Proxy_1_");
	CHECK(sp_profile_at(p, 3) == NULL);
	/* The value is copied: a later change of the caller's buffer is
	 * not seen. */
	{
		char v[] = "abc";

		CHECK(sp_profile_set(p, "Copy", v, 3, SP_UA_NONE) == 0);
		v[0] = 'X';
		CHECK_STR(sp_profile_get(p, "Copy")->value, "abc");
	}
	/* valuelen, not the NUL, bounds the value. */
	CHECK(sp_profile_set(p, "Part", "abcdef", 2, SP_UA_NONE) == 0);
	CHECK_STR(sp_profile_get(p, "Part")->value, "ab");
	/* Replacing with its own value. */
	q = sp_profile_get(p, "Part");
	CHECK(sp_profile_set(p, "Part", q->value, q->valuelen, SP_UA_RO) ==
	    0);
	CHECK_STR(sp_profile_get(p, "Part")->value, "ab");
	sp_profile_free(p);
	sp_profile_free(NULL);
}

static void
t_set_replace_keeps_position(void)
{
	struct sp_profile *p = sp_profile_new();
	struct sp_buf b;

	CHECK(sp_profile_set(p, "A", "1", 1, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(p, "B", "2", 1, SP_UA_RO) == 0);
	CHECK(sp_profile_set(p, "C", "3", 1, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(p, "B", "22", 2, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(p, "A", "11", 2, SP_UA_RW) == 0);
	dump(p, &b);
	CHECK_STR(b.data, "A=11@rw|B=22|C=3");
	sp_buf_release(&b);
	sp_profile_free(p);
}

static void
rows_set_errors(void)
{
	static const struct {
		const char	*what;
		const char	*name;
		const char	*value;
		size_t		 len;
		enum sp_ua	 ua;
		const char	*msg;
	} rows[] = {
		{ "empty name", "", "v", 1, SP_UA_NONE,
		    "bad parameter name ''" },
		{ "NULL name", NULL, "v", 1, SP_UA_NONE,
		    "bad parameter name ''" },
		{ "leading digit", "1x", "v", 1, SP_UA_NONE,
		    "bad parameter name '1x'" },
		{ "dash", "a-b", "v", 1, SP_UA_NONE,
		    "bad parameter name 'a-b'" },
		{ "dot", "a.b", "v", 1, SP_UA_NONE,
		    "bad parameter name 'a.b'" },
		{ "space", "a b", "v", 1, SP_UA_NONE,
		    "bad parameter name 'a b'" },
		{ "control in name", "a\nb", "v", 1, SP_UA_NONE,
		    "bad parameter name 'a?b'" },
		{ "bad ua", "A", "v", 1, (enum sp_ua)7, "A: bad ua 7" },
		{ "NULL value", "A", NULL, 1, SP_UA_NONE, "A: no value" },
		{ "NUL", "A", "a\0b", 3, SP_UA_NONE,
		    "A: NUL byte at byte 1" },
		{ "control 0x01", "A", "ab\x01", 3, SP_UA_NONE,
		    "A: control character" },
		{ "escape 0x1b", "A", "\x1b[0m", 4, SP_UA_NONE,
		    "control character (XML 1.0 allows only tab, LF and CR) "
		    "at byte 0" },
		{ "byte 0xff", "A", "a\xff", 2, SP_UA_NONE,
		    "A: invalid UTF-8 at byte 1" },
		{ "lone continuation", "A", "\x80", 1, SP_UA_NONE,
		    "invalid UTF-8 at byte 0" },
		{ "overlong /", "A", "\xc0\xaf", 2, SP_UA_NONE,
		    "invalid UTF-8" },
		{ "overlong 3-byte", "A", "\xe0\x80\xaf", 3, SP_UA_NONE,
		    "invalid UTF-8" },
		{ "overlong 4-byte", "A", "\xf0\x80\x80\xaf", 4, SP_UA_NONE,
		    "invalid UTF-8" },
		{ "surrogate", "A", "\xed\xa0\x80", 3, SP_UA_NONE,
		    "invalid UTF-8" },
		{ "above U+10FFFF", "A", "\xf4\x90\x80\x80", 4, SP_UA_NONE,
		    "invalid UTF-8" },
		{ "0xf5", "A", "\xf5\x80\x80\x80", 4, SP_UA_NONE,
		    "invalid UTF-8" },
		{ "truncated", "A", "x\xe2\x82", 3, SP_UA_NONE,
		    "invalid UTF-8 (truncated sequence) at byte 1" },
		{ "bad continuation", "A", "\xe2\x28\xa1", 3, SP_UA_NONE,
		    "invalid UTF-8" },
		{ "U+FFFE", "A", "\xef\xbf\xbe", 3, SP_UA_NONE,
		    "U+FFFE/U+FFFF" },
		{ "U+FFFF", "A", "\xef\xbf\xbf", 3, SP_UA_NONE,
		    "U+FFFE/U+FFFF" },
	};
	struct sp_profile *p;
	const struct sp_param *q;
	char name[80];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		p = sp_profile_new();
		CHECK(sp_profile_set(p, "A", "old", 3, SP_UA_RO) == 0);
		CHECK(sp_profile_set(p, rows[i].name, rows[i].value,
		    rows[i].len, rows[i].ua) == -1);
		CHECK_HAS(sp_profile_error(p), rows[i].msg);
		/* Unchanged. */
		CHECK(sp_profile_count(p) == 1);
		q = sp_profile_get(p, "A");
		CHECK(q != NULL && q->ua == SP_UA_RO);
		CHECK_STR(q ? q->value : NULL, "old");
		sp_profile_free(p);
		snprintf(name, sizeof(name), "set refused: %s", rows[i].what);
		ROW_END(name);
	}
}

static void
t_name_length(void)
{
	struct sp_profile *p = sp_profile_new();
	char n[SP_PARAM_NAME_MAX + 2];

	memset(n, 'N', sizeof(n));
	n[SP_PARAM_NAME_MAX] = '\0';
	CHECK(sp_profile_set(p, n, "v", 1, SP_UA_NONE) == 0);
	CHECK(sp_profile_get(p, n) != NULL);
	n[SP_PARAM_NAME_MAX] = 'N';
	n[SP_PARAM_NAME_MAX + 1] = '\0';
	CHECK(sp_profile_set(p, n, "v", 1, SP_UA_NONE) == -1);
	CHECK_HAS(sp_profile_error(p), "bad parameter name 'NNNN");
	CHECK_HAS(sp_profile_error(p), "1 to 128 letters");
	CHECK(sp_profile_get(p, n) == NULL);
	CHECK(sp_profile_count(p) == 1);
	sp_profile_free(p);
}

static void
t_value_utf8_ok(void)
{
	static const char *const vals[] = {
		"caf\xc3\xa9",			/* é */
		"\xe2\x82\xac 5",		/* € */
		"\xf0\x9d\x84\x9e",		/* U+1D11E */
		"\xf4\x8f\xbf\xbf",		/* U+10FFFF */
		"\xef\xbf\xbd",			/* U+FFFD */
		"\xed\x9f\xbf",			/* U+D7FF */
		"\xc2\x80\xc2\x9f\x7f",		/* C1 controls, DEL */
		"tab\there\nnl\rcr",
	};
	struct sp_profile *p = sp_profile_new();
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		CHECK(sp_profile_set(p, "V", vals[i], strlen(vals[i]),
		    SP_UA_NONE) == 0);
		CHECK_STR(sp_profile_get(p, "V")->value, vals[i]);
	}
	sp_profile_free(p);
}

static void
t_value_limit(void)
{
	struct sp_profile *p = sp_profile_new();
	char *v;

	if ((v = malloc(SP_PARAM_VALUE_MAX + 1)) == NULL)
		abort();
	memset(v, 'x', SP_PARAM_VALUE_MAX + 1);
	CHECK(sp_profile_set(p, "Big", v, SP_PARAM_VALUE_MAX, SP_UA_NONE) ==
	    0);
	CHECK(sp_profile_get(p, "Big")->valuelen == 65536);
	CHECK(sp_profile_set(p, "Big", v, SP_PARAM_VALUE_MAX + 1,
	    SP_UA_NONE) == -1);
	CHECK_HAS(sp_profile_error(p), "Big: value is longer than 65536");
	CHECK(sp_profile_get(p, "Big")->valuelen == 65536);
	CHECK(roundtrip(p));
	free(v);
	sp_profile_free(p);
}

static void
t_unset(void)
{
	struct sp_profile *p = sp_profile_new();
	struct sp_buf b;
	char n[16];
	int i;

	CHECK(sp_profile_unset(p, "A") == -1);
	CHECK_HAS(sp_profile_error(p), "no parameter 'A'");
	for (i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "P%d", i);
		CHECK(sp_profile_set(p, n, n, strlen(n), SP_UA_NONE) == 0);
	}
	CHECK(sp_profile_unset(p, "P0") == 0);
	CHECK(sp_profile_unset(p, "P50") == 0);
	CHECK(sp_profile_unset(p, "P99") == 0);
	CHECK(sp_profile_unset(p, "P50") == -1);
	CHECK_HAS(sp_profile_error(p), "no parameter 'P50'");
	CHECK(sp_profile_unset(p, NULL) == -1);
	CHECK(sp_profile_count(p) == 97);
	CHECK(sp_profile_get(p, "P50") == NULL);
	CHECK_STR(sp_profile_at(p, 0)->name, "P1");
	CHECK_STR(sp_profile_at(p, 49)->name, "P51");
	CHECK_STR(sp_profile_at(p, 96)->name, "P98");
	for (i = 1; i < 99; i++) {
		snprintf(n, sizeof(n), "P%d", i);
		if (i != 50)
			CHECK(sp_profile_get(p, n) != NULL &&
			    strcmp(sp_profile_get(p, n)->value, n) == 0);
	}
	/* Set again: goes to the end. */
	CHECK(sp_profile_set(p, "P0", "again", 5, SP_UA_NONE) == 0);
	CHECK_STR(sp_profile_at(p, 97)->name, "P0");
	while (sp_profile_count(p) > 0)
		CHECK(sp_profile_unset(p, sp_profile_at(p, 0)->name) == 0);
	dump(p, &b);
	CHECK_STR(b.data, "");
	sp_buf_release(&b);
	CHECK(sp_profile_set(p, "Z", "z", 1, SP_UA_NONE) == 0);
	CHECK(sp_profile_get(p, "Z") != NULL);
	sp_profile_free(p);
}

static void
t_merge(void)
{
	struct sp_profile *dflt = sp_profile_new(), *model = sp_profile_new();
	struct sp_profile *dev = sp_profile_new(), *m = sp_profile_new();
	struct sp_buf b;

	CHECK(sp_profile_set(dflt, "A", "dA", 2, SP_UA_NA) == 0);
	CHECK(sp_profile_set(dflt, "B", "dB", 2, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(dflt, "C", "dC", 2, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(model, "C", "mC", 2, SP_UA_RO) == 0);
	CHECK(sp_profile_set(model, "D", "mD", 2, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(dev, "E", "vE", 2, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(dev, "A", "vA", 2, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(dev, "D", "", 0, SP_UA_RW) == 0);
	CHECK(sp_profile_merge(m, dflt) == 0);
	CHECK(sp_profile_merge(m, model) == 0);
	CHECK(sp_profile_merge(m, dev) == 0);
	dump(m, &b);
	CHECK_STR(b.data, "A=vA|B=dB|C=mC@ro|D=@rw|E=vE");
	sp_buf_release(&b);
	/* Sources unchanged; merging a profile into itself is a no-op. */
	dump(dflt, &b);
	CHECK_STR(b.data, "A=dA@na|B=dB|C=dC");
	sp_buf_release(&b);
	CHECK(sp_profile_merge(m, m) == 0);
	dump(m, &b);
	CHECK_STR(b.data, "A=vA|B=dB|C=mC@ro|D=@rw|E=vE");
	sp_buf_release(&b);
	sp_profile_free(dflt);
	sp_profile_free(model);
	sp_profile_free(dev);
	sp_profile_free(m);
}

static void
t_merge_limit(void)
{
	struct sp_profile *a = sp_profile_new(), *b = sp_profile_new();
	char n[16];
	int i;

	for (i = 0; i < SP_PROFILE_PARAMS_MAX; i++) {
		snprintf(n, sizeof(n), "A%d", i);
		CHECK(sp_profile_set(a, n, "", 0, SP_UA_NONE) == 0);
	}
	CHECK(sp_profile_set(b, "A0", "x", 1, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(b, "New", "y", 1, SP_UA_NONE) == 0);
	CHECK(sp_profile_merge(a, b) == -1);
	CHECK_HAS(sp_profile_error(a), "more than 20000 parameters");
	/* All or nothing. */
	CHECK_STR(sp_profile_get(a, "A0")->value, "");
	CHECK(sp_profile_get(a, "New") == NULL);
	CHECK(sp_profile_unset(b, "New") == 0);
	CHECK(sp_profile_merge(a, b) == 0);
	CHECK_STR(sp_profile_get(a, "A0")->value, "x");
	sp_profile_free(a);
	sp_profile_free(b);
}

static void
t_many_params_fast(void)
{
	struct sp_profile *p = sp_profile_new();
	const struct sp_param *q;
	char n[32];
	double t0, dt;
	int i, bad = 0;

	t0 = now();
	for (i = 0; i < SP_PROFILE_PARAMS_MAX; i++) {
		snprintf(n, sizeof(n), "Param_%d_", i);
		if (sp_profile_set(p, n, n, strlen(n), SP_UA_NONE) == -1)
			bad++;
	}
	for (i = 0; i < SP_PROFILE_PARAMS_MAX; i++) {
		snprintf(n, sizeof(n), "Param_%d_", i);
		q = sp_profile_get(p, n);
		if (q == NULL || strcmp(q->value, n) != 0 ||
		    sp_profile_at(p, (size_t)i) != q)
			bad++;
	}
	/* Replacing all of them keeps the order and the count. */
	for (i = SP_PROFILE_PARAMS_MAX - 1; i >= 0; i--) {
		snprintf(n, sizeof(n), "Param_%d_", i);
		if (sp_profile_set(p, n, "r", 1, SP_UA_RW) == -1)
			bad++;
	}
	dt = now() - t0;
	CHECK(bad == 0);
	CHECK(sp_profile_count(p) == SP_PROFILE_PARAMS_MAX);
	CHECK_STR(sp_profile_at(p, 123)->name, "Param_123_");
	printf("#   60000 set/get with 20000 parameters: %.3f s\n", dt);
	CHECK(dt < 1.0);
	CHECK(sp_profile_get(p, "Param_20000_") == NULL);
	CHECK(sp_profile_set(p, "One_more", "x", 1, SP_UA_NONE) == -1);
	CHECK_HAS(sp_profile_error(p), "at most 20000 parameters");
	CHECK(sp_profile_count(p) == SP_PROFILE_PARAMS_MAX);
	sp_profile_free(p);
}

static void
t_render_exact(void)
{
	struct sp_profile *p = sp_profile_new();
	struct sp_buf out;

	CHECK(sp_profile_set(p, "Station_Name", "Lobby", 5, SP_UA_NA) == 0);
	CHECK(sp_profile_set(p, "Proxy_1_", "sip.example.net", 15,
	    SP_UA_NONE) == 0);
	CHECK(sp_profile_set(p, "Speed_Dial_2_Name", "", 0, SP_UA_RW) == 0);
	CHECK(sp_profile_set(p, "Empty", "", 0, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(p, "Ro", "a&b", 3, SP_UA_RO) == 0);
	sp_buf_init(&out, 1 << 16);
	CHECK(sp_buf_append(&out, "PREFIX", 6) == 0);
	CHECK(sp_profile_render(p, &out) == 0);
	CHECK_STR(out.data, "PREFIX"
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<flat-profile>\n"
	    "  <Station_Name ua=\"na\">Lobby</Station_Name>\n"
	    "  <Proxy_1_>sip.example.net</Proxy_1_>\n"
	    "  <Speed_Dial_2_Name ua=\"rw\"></Speed_Dial_2_Name>\n"
	    "  <Empty></Empty>\n"
	    "  <Ro ua=\"ro\">a&amp;b</Ro>\n"
	    "</flat-profile>\n");
	sp_buf_release(&out);
	sp_profile_free(p);
}

static void
t_render_empty(void)
{
	struct sp_profile *p = sp_profile_new();
	struct sp_buf out;

	sp_buf_init(&out, 1 << 16);
	CHECK(sp_profile_render(p, &out) == 0);
	CHECK_STR(out.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<flat-profile>\n</flat-profile>\n");
	CHECK(roundtrip(p));
	sp_buf_release(&out);
	sp_profile_free(p);
}

static void
rows_render_escape(void)
{
	static const struct {
		const char	*value;
		const char	*xml;
	} rows[] = {
		{ "a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e'f" },
		{ "]]>", "]]&gt;" },
		{ "&amp;", "&amp;amp;" },
		{ "t\tn\nr\r", "t&#9;n&#10;r&#13;" },
		{ "\t\n", "&#9;&#10;" },
		{ " lead and trail ", "&#32;lead and trail&#32;" },
		{ "  two  ", "&#32; two &#32;" },
		{ " ", "&#32;" },
		{ "  ", "&#32;&#32;" },
		{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },
		{ "\x7f\xc2\x85", "\x7f\xc2\x85" },
		{ "</A><B>x</B><A>",
		    "&lt;/A&gt;&lt;B&gt;x&lt;/B&gt;&lt;A&gt;" },
	};
	struct sp_profile *p;
	struct sp_buf out, want;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		p = sp_profile_new();
		CHECK(sp_profile_set(p, "A", rows[i].value,
		    strlen(rows[i].value), SP_UA_NONE) == 0);
		sp_buf_init(&out, 1 << 16);
		sp_buf_init(&want, 1 << 16);
		sp_buf_printf(&want, "<?xml version=\"1.0\" encoding=\"UTF-8\""
		    "?>\n<flat-profile>\n  <A>%s</A>\n</flat-profile>\n",
		    rows[i].xml);
		CHECK(sp_profile_render(p, &out) == 0);
		CHECK_STR(out.data, want.data);
		CHECK(roundtrip(p));
		sp_buf_release(&out);
		sp_buf_release(&want);
		sp_profile_free(p);
		snprintf(name, sizeof(name), "render escape row %zu", i);
		ROW_END(name);
	}
}

static void
t_render_cap(void)
{
	struct sp_profile *p = sp_profile_new();
	struct sp_buf out;
	size_t full, max;
	int bad = 0;

	CHECK(sp_profile_set(p, "A", "&&x&&", 5, SP_UA_NONE) == 0);
	CHECK(sp_profile_set(p, "B", " b ", 3, SP_UA_RO) == 0);
	sp_buf_init(&out, 1 << 16);
	CHECK(sp_profile_render(p, &out) == 0);
	full = out.len;
	sp_buf_release(&out);
	/* Every cap short of the whole: -1 and out as it was. */
	for (max = 2; max < full + 2; max++) {
		sp_buf_init(&out, max);
		if (sp_buf_append(&out, "xy", 2) == -1 ||
		    sp_profile_render(p, &out) != -1 || out.len != 2 ||
		    strcmp(out.data, "xy") != 0)
			bad++;
		sp_buf_release(&out);
	}
	CHECK(bad == 0);
	sp_buf_init(&out, full + 2);
	CHECK(sp_buf_append(&out, "xy", 2) == 0);
	CHECK(sp_profile_render(p, &out) == 0);
	CHECK(out.len == full + 2);
	sp_buf_release(&out);
	/* Nothing appended yet: stays empty. */
	sp_buf_init(&out, 10);
	CHECK(sp_profile_render(p, &out) == -1);
	CHECK(out.len == 0);
	sp_buf_release(&out);
	sp_profile_free(p);
}

static void
rows_roundtrip(void)
{
	static const struct {
		const char	*value;
		enum sp_ua	 ua;
	} rows[] = {
		{ "", SP_UA_NONE }, { "", SP_UA_NA }, { "", SP_UA_RW },
		{ "plain", SP_UA_RO },
		{ "& < > \" '", SP_UA_NONE },
		{ "&amp;&lt;&#10;&#x41;", SP_UA_NONE },
		{ "<![CDATA[x]]>", SP_UA_NONE },
		{ "<!-- c -->", SP_UA_NONE },
		{ "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\x9e \xd0\x96",
		    SP_UA_NONE },
		{ "\t", SP_UA_NONE }, { "\n", SP_UA_NONE },
		{ "\r", SP_UA_NONE }, { "\r\n", SP_UA_NONE },
		{ "a\r\nb\n\nc", SP_UA_NONE },
		{ " ", SP_UA_NONE }, { "   ", SP_UA_NONE },
		{ " \t x \n ", SP_UA_NONE },
		{ "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
		    SP_UA_NONE },
		{ "[--key \"Secret\"] https://p.example.net/$MA.xml",
		    SP_UA_NA },
		{ "(*xx|[3469]11|0|00|[2-9]xxxxxx|1xxx[2-9]xxxxxxS0)",
		    SP_UA_NONE },
		{ "\x7f\xc2\x80\xef\xbf\xbd\xf4\x8f\xbf\xbf", SP_UA_NONE },
	};
	struct sp_profile *p;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		p = sp_profile_new();
		CHECK(sp_profile_set(p, "Before", "b", 1, SP_UA_NONE) == 0);
		CHECK(sp_profile_set(p, "Value", rows[i].value,
		    strlen(rows[i].value), rows[i].ua) == 0);
		CHECK(sp_profile_set(p, "After", " a ", 3, SP_UA_RW) == 0);
		CHECK(roundtrip(p));
		sp_profile_free(p);
		snprintf(name, sizeof(name), "round trip row %zu", i);
		ROW_END(name);
	}
}

static unsigned long long rng = 88172645463325252ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Random valid values built from awkward pieces. */
static void
t_roundtrip_random(void)
{
	static const char *const pieces[] = {
		" ", "  ", "\t", "\n", "\r", "\r\n", "&", "<", ">", "\"", "'",
		"]]>", "&amp;", "a", "Z", "0", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x93\x9e", "\x7f", "\xc2\x85", "<![CDATA[", "-->",
	};
	struct sp_profile *p;
	char v[256], n[16];
	size_t len;
	int round, k, j;

	for (round = 0; round < 50; round++) {
		p = sp_profile_new();
		for (k = 0; k < 40; k++) {
			len = 0;
			for (j = (int)rnd(12); j > 0; j--) {
				const char *pc = pieces[rnd(sizeof(pieces) /
				    sizeof(pieces[0]))];

				memcpy(v + len, pc, strlen(pc));
				len += strlen(pc);
			}
			snprintf(n, sizeof(n), "P%u", rnd(30));
			CHECK(sp_profile_set(p, n, v, len,
			    (enum sp_ua)rnd(4)) == 0);
		}
		CHECK(roundtrip(p));
		sp_profile_free(p);
	}
}

static void
rows_parse_ok(void)
{
	static const struct {
		const char	*what;
		const char	*xml;
		const char	*want;
	} rows[] = {
		{ "basic", "<flat-profile>\n"
		    "  <Station_Name ua=\"na\">Lobby</Station_Name>\n"
		    "  <Proxy_1_>sip.example.net</Proxy_1_>\n"
		    "</flat-profile>\n",
		    "Station_Name=Lobby@na|Proxy_1_=sip.example.net" },
		{ "declaration, comments, PIs",
		    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<!-- top -->\n<?pi data?>\n<flat-profile>\n"
		    "<!-- <Hidden>x</Hidden> -->\n<A>a<!-- in -->b</A>"
		    "<?php echo 1; ?>\n<B>c<?x y?>d</B></flat-profile>\n"
		    "<!-- after -->\n",
		    "A=ab|B=cd" },
		{ "device wrapper", "<device>\n <flat-profile>\n"
		    "  <A ua=\"rw\">1</A>\n </flat-profile>\n</device>",
		    "A=1@rw" },
		{ "device, two flat-profiles", "<device><flat-profile><A>1</A>"
		    "</flat-profile><flat-profile><A>2</A><B>3</B>"
		    "</flat-profile></device>",
		    "A=2|B=3" },
		{ "empty device", "<device/>", "" },
		{ "empty flat-profile", "<flat-profile/>", "" },
		{ "empty forms", "<flat-profile><A/><B></B><C ua=\"rw\"/>"
		    "<D ua='ro'>   </D><E>\n\n</E></flat-profile>",
		    "A=|B=|C=@rw|D=@ro|E=" },
		{ "CDATA as text", "<flat-profile><A><![CDATA[<b>&amp;</b>]]>"
		    "</A><B>x<![CDATA[]]>y</B><C><![CDATA[  padded  ]]></C>"
		    "</flat-profile>",
		    "A=<b>&amp;</b>|B=xy|C=padded" },
		{ "trim and newlines", "<flat-profile><A>\n   first\nsecond"
		    "\r\nthird\rfourth \t\n</A></flat-profile>",
		    "A=first second third fourth" },
		{ "tab inside kept", "<flat-profile><A> a\tb </A>"
		    "</flat-profile>", "A=a\tb" },
		{ "references kept", "<flat-profile><A>&#32;x&#10;&#9;</A>"
		    "<B>  &#13;  </B><C>&lt;&gt;&amp;&quot;&apos;&#x41;&#66;"
		    "</C></flat-profile>",
		    "A= x\n\t|B=\r|C=<>&\"'AB" },
		{ "last duplicate wins", "<flat-profile><A>1</A><B>2</B>"
		    "<A ua=\"ro\">3</A><A>4</A></flat-profile>",
		    "A=4|B=2" },
		{ "unknown attributes", "<flat-profile><A x=\"1\" ua=\"na\" "
		    "preserve-value=\"y\">v</A><B group=\"2\">w</B>"
		    "</flat-profile>",
		    "A=v@na|B=w" },
		{ "utf-8 BOM and text", "\xef\xbb\xbf<flat-profile><A>caf"
		    "\xc3\xa9 \xf0\x9f\x93\x9e</A></flat-profile>",
		    "A=caf\xc3\xa9 \xf0\x9f\x93\x9e" },
		{ "declared encoding ignored",
		    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
		    "<flat-profile><A>\xc3\xa9</A></flat-profile>",
		    "A=\xc3\xa9" },
		{ "name edges", "<flat-profile><_a>1</_a><Z9>2</Z9>"
		    "<device>3</device><flat_profile>4</flat_profile>"
		    "</flat-profile>",
		    "_a=1|Z9=2|device=3|flat_profile=4" },
		{ "whitespace outside params", "<flat-profile>\n\t \r\n"
		    "<A>1</A>  &#32;\n</flat-profile>", "A=1" },
	};
	struct sp_profile *p;
	struct sp_err err;
	struct sp_buf b;
	char name[80];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		p = sp_profile_parse(rows[i].xml, strlen(rows[i].xml), &err);
		CHECK(p != NULL);
		if (p == NULL)
			printf("#   %s\n", err.msg);
		else {
			dump(p, &b);
			CHECK_STR(b.data, rows[i].want);
			CHECK(roundtrip(p));
			sp_buf_release(&b);
			sp_profile_free(p);
		}
		snprintf(name, sizeof(name), "parse: %s", rows[i].what);
		ROW_END(name);
	}
}

static void
rows_parse_errors(void)
{
	static const struct {
		const char	*what;
		const char	*xml;
		const char	*msg;
	} rows[] = {
		{ "empty document", "", "line 1: no element found" },
		{ "truncated", "<flat-profile>\n<A>1</A>\n<B>2",
		    "line 3: no element found" },
		{ "truncated in tag", "<flat-profile><A>1</A><B",
		    "unclosed token" },
		{ "unclosed root", "<flat-profile><A>1</A>",
		    "no element found" },
		{ "mismatched tag", "<flat-profile>\n<A>1</B>\n</flat-profile>",
		    "line 2: mismatched tag" },
		{ "junk after root", "<flat-profile/><A/>",
		    "junk after document element" },
		{ "wrong root", "<profile><A>1</A></profile>",
		    "line 1: root element must be <flat-profile>" },
		{ "wrong root named", "\n<config/>", "line 2: root element "
		    "must be <flat-profile> (optionally inside <device>), not "
		    "<config>" },
		{ "root is a parameter", "<A>1</A>",
		    "root element must be <flat-profile>" },
		{ "other element in device", "<device>\n<config/></device>",
		    "line 2: element <config> is not allowed inside <device>" },
		{ "device inside device", "<device><device/></device>",
		    "element <device> is not allowed inside <device>" },
		{ "element in parameter", "<flat-profile>\n<Proxy_1_>a\n"
		    "<x/></Proxy_1_>\n</flat-profile>",
		    "line 3: element <x> is not allowed inside parameter "
		    "<Proxy_1_>" },
		{ "element in parameter (device)", "<device><flat-profile>"
		    "<A><B><C/></B></A></flat-profile></device>",
		    "line 1: element <B> is not allowed inside parameter <A>" },
		{ "bad name dash", "<flat-profile>\n\n<a-b>1</a-b>"
		    "</flat-profile>", "line 3: bad parameter name <a-b>" },
		{ "bad name digit", "<flat-profile><_1>1</_1><1a>1</1a>"
		    "</flat-profile>", "not well-formed" },
		{ "bad name dot", "<flat-profile><a.b>1</a.b></flat-profile>",
		    "bad parameter name <a.b>" },
		{ "bad name colon", "<flat-profile><a:b>1</a:b>"
		    "</flat-profile>", "bad parameter name <a:b>" },
		{ "bad name unicode", "<flat-profile><\xc3\xa9>1</\xc3\xa9>"
		    "</flat-profile>", "bad parameter name <?" "?>" },
		{ "unknown ua", "<flat-profile>\n<A ua=\"bogus\">1</A>"
		    "</flat-profile>", "line 2: parameter <A>: unknown ua "
		    "value \"bogus\" (expected na, ro or rw)" },
		{ "empty ua", "<flat-profile><A ua=\"\">1</A></flat-profile>",
		    "unknown ua value \"\"" },
		{ "upper-case ua",
		    "<flat-profile><A ua=\"RW\"/></flat-profile>",
		    "unknown ua value \"RW\"" },
		{ "ua with control", "<flat-profile><A ua=\"r&#10;w\"/>"
		    "</flat-profile>", "unknown ua value \"r?w\"" },
		{ "duplicate ua", "<flat-profile><A ua=\"na\" ua=\"rw\"/>"
		    "</flat-profile>", "duplicate attribute" },
		{ "text outside", "<flat-profile>\n<A>1</A>junk"
		    "</flat-profile>", "line 2: text outside a parameter" },
		{ "reference outside", "<flat-profile>&amp;<A>1</A>"
		    "</flat-profile>", "text outside a parameter" },
		{ "text in device", "<device>x<flat-profile/></device>",
		    "text outside a parameter" },
		{ "invalid UTF-8", "<flat-profile><A>\xff</A></flat-profile>",
		    "not well-formed (invalid token)" },
		{ "latin-1 byte", "<?xml version=\"1.0\" encoding=\"ISO-8859-1"
		    "\"?><flat-profile><A>\xe9</A></flat-profile>",
		    "not well-formed" },
		{ "control character", "<flat-profile><A>\x01</A>"
		    "</flat-profile>", "not well-formed (invalid token)" },
		{ "control reference", "<flat-profile><A>&#1;</A>"
		    "</flat-profile>",
		    "reference to invalid character number" },
		{ "U+FFFE", "<flat-profile><A>\xef\xbf\xbe</A></flat-profile>",
		    "not well-formed" },
		{ "undefined entity", "<flat-profile><A>&foo;</A>"
		    "</flat-profile>", "undefined entity" },
		{ "DOCTYPE", "<?xml version=\"1.0\"?>\n<!DOCTYPE flat-profile>"
		    "\n<flat-profile/>", "line 2: DOCTYPE is not allowed" },
		{ "internal entity", "<!DOCTYPE f [<!ENTITY x \"evil\">]>"
		    "<flat-profile><A>&x;</A></flat-profile>",
		    "DOCTYPE is not allowed" },
		{ "billion laughs", "<?xml version=\"1.0\"?>\n"
		    "<!DOCTYPE lolz [\n"
		    " <!ENTITY lol \"lol\">\n"
		    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"
		    "&lol;&lol;\">\n"
		    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"
		    "&lol1;&lol1;&lol1;&lol1;\">\n"
		    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"
		    "&lol2;&lol2;&lol2;&lol2;\">\n"
		    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"
		    "&lol3;&lol3;&lol3;&lol3;\">\n"
		    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"
		    "&lol4;&lol4;&lol4;&lol4;\">\n"
		    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"
		    "&lol5;&lol5;&lol5;&lol5;\">\n"
		    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"
		    "&lol6;&lol6;&lol6;&lol6;\">\n"
		    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"
		    "&lol7;&lol7;&lol7;&lol7;\">\n"
		    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;"
		    "&lol8;&lol8;&lol8;&lol8;\">\n"
		    "]>\n<flat-profile><A>&lol9;</A></flat-profile>\n",
		    "line 2: DOCTYPE is not allowed" },
		{ "external entity", "<?xml version=\"1.0\"?>\n"
		    "<!DOCTYPE flat-profile [\n"
		    "<!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n"
		    "<flat-profile><A>&xxe;</A></flat-profile>",
		    "line 2: DOCTYPE is not allowed" },
		{ "external DTD", "<!DOCTYPE flat-profile SYSTEM "
		    "\"http://evil.example/x.dtd\"><flat-profile/>",
		    "DOCTYPE is not allowed" },
		{ "parameter entity", "<!DOCTYPE x [<!ENTITY % p SYSTEM "
		    "\"file:///etc/passwd\"> %p;]><flat-profile/>",
		    "DOCTYPE is not allowed" },
		{ "NUL in document", "<flat-profile><A>a\0b</A>"
		    "</flat-profile>", "not well-formed" },
	};
	struct sp_profile *p;
	struct sp_err err;
	char name[80];
	size_t i, len;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		len = strlen(rows[i].xml);
		if (strcmp(rows[i].what, "NUL in document") == 0)
			len += 3 + strlen("</A></flat-profile>");
		p = sp_profile_parse(rows[i].xml, len, &err);
		CHECK(p == NULL);
		CHECK_HAS(err.msg, rows[i].msg);
		sp_profile_free(p);
		snprintf(name, sizeof(name), "parse refused: %s",
		    rows[i].what);
		ROW_END(name);
	}
}

static void
t_parse_null_args(void)
{
	struct sp_err err;

	/* err may be NULL. */
	CHECK(sp_profile_parse("<x/>", 4, NULL) == NULL);
	CHECK(sp_profile_parse(NULL, 0, &err) == NULL);
	CHECK_HAS(err.msg, "no element found");
}

static void
t_parse_value_limit(void)
{
	struct sp_buf x;
	struct sp_profile *p;
	struct sp_err err;
	size_t i;

	sp_buf_init(&x, 1 << 20);
	sp_buf_printf(&x, "<flat-profile><A>");
	for (i = 0; i < SP_PARAM_VALUE_MAX; i++)
		sp_buf_append(&x, "v", 1);
	/* Whitespace to be trimmed does not count. */
	sp_buf_printf(&x, "\n   \n</A></flat-profile>");
	p = sp_profile_parse(x.data, x.len, &err);
	CHECK(p != NULL && sp_profile_get(p, "A")->valuelen == 65536);
	sp_profile_free(p);
	/* References count once decoded: 65536 x "&amp;". */
	sp_buf_reset(&x);
	sp_buf_printf(&x, "<flat-profile><A>");
	for (i = 0; i < SP_PARAM_VALUE_MAX; i++)
		sp_buf_append(&x, "&amp;", 5);
	sp_buf_printf(&x, "</A></flat-profile>");
	p = sp_profile_parse(x.data, x.len, &err);
	CHECK(p != NULL && sp_profile_get(p, "A")->valuelen == 65536);
	sp_profile_free(p);
	/* One more byte. */
	sp_buf_reset(&x);
	sp_buf_printf(&x, "<flat-profile>\n<A>");
	for (i = 0; i <= SP_PARAM_VALUE_MAX; i++)
		sp_buf_append(&x, "v", 1);
	sp_buf_printf(&x, "</A></flat-profile>");
	CHECK(sp_profile_parse(x.data, x.len, &err) == NULL);
	CHECK_HAS(err.msg, "line 2: value of <A> is longer than 65536 bytes");
	sp_buf_release(&x);
}

static void
t_parse_count_limit(void)
{
	struct sp_buf x;
	struct sp_profile *p;
	struct sp_err err;
	int i;

	sp_buf_init(&x, 1 << 22);
	sp_buf_printf(&x, "<flat-profile>\n");
	for (i = 0; i < SP_PROFILE_PARAMS_MAX; i++)
		sp_buf_printf(&x, "<P%d>%d</P%d>\n", i, i, i);
	/* Duplicates do not count. */
	sp_buf_printf(&x, "<P0>again</P0>\n");
	sp_buf_printf(&x, "</flat-profile>\n");
	p = sp_profile_parse(x.data, x.len, &err);
	CHECK(p != NULL && sp_profile_count(p) == SP_PROFILE_PARAMS_MAX);
	CHECK(p != NULL && strcmp(sp_profile_get(p, "P0")->value, "again") ==
	    0);
	CHECK(p != NULL && strcmp(sp_profile_get(p, "P19999")->value,
	    "19999") == 0);
	if (p != NULL)
		CHECK(roundtrip(p));
	sp_profile_free(p);
	x.len -= strlen("</flat-profile>\n");
	sp_buf_printf(&x, "<Extra>1</Extra>\n</flat-profile>\n");
	CHECK(sp_profile_parse(x.data, x.len, &err) == NULL);
	CHECK_HAS(err.msg, "line 20003: parameter Extra: a profile holds at "
	    "most 20000 parameters");
	sp_buf_release(&x);
}

static void
t_parse_size_limit(void)
{
	struct sp_profile *p;
	struct sp_err err;
	char *x;
	size_t n = SP_PROFILE_XML_MAX;
	static const char head[] = "<flat-profile><A>", tail[] =
	    "</A></flat-profile>";

	if ((x = malloc(n + 1)) == NULL)
		abort();
	/* Exactly the limit: parses (the value is mostly whitespace). */
	memset(x, ' ', n + 1);
	memcpy(x, head, strlen(head));
	x[strlen(head)] = 'v';
	memcpy(x + n - strlen(tail), tail, strlen(tail));
	p = sp_profile_parse(x, n, &err);
	CHECK(p != NULL && strcmp(sp_profile_get(p, "A")->value, "v") == 0);
	sp_profile_free(p);
	memcpy(x + n + 1 - strlen(tail), tail, strlen(tail));
	CHECK(sp_profile_parse(x, n + 1, &err) == NULL);
	CHECK_HAS(err.msg, "profile is larger than 8388608 bytes");
	free(x);
}

static void
t_parse_depth(void)
{
	struct sp_err err;

	/* Nesting ends at a parameter, well within SP_PROFILE_DEPTH_MAX. */
	CHECK(SP_PROFILE_DEPTH_MAX >= 3);
	CHECK(sp_profile_parse("<device><flat-profile><A><B><C><D/></C></B>"
	    "</A></flat-profile></device>", 68, &err) == NULL);
	CHECK_HAS(err.msg, "element <B> is not allowed inside parameter <A>");
}


/* <X ua="rw"/> keeps the value and changes ua; <X></X> empties it. */
static void
t_empty_element_keeps_value(void)
{
	static const char xml[] = "<flat-profile><A ua=\"rw\"/><B></B>"
	    "<C ua=\"na\"></C></flat-profile>";
	struct sp_profile *got, *dst = sp_profile_new();
	struct sp_buf b;
	struct sp_err err;
	const struct sp_param *p;

	got = sp_profile_parse(xml, sizeof(xml) - 1, &err);
	CHECK(got != NULL);
	if (got == NULL)
		goto out;
	CHECK(sp_profile_get(got, "A")->keep);
	CHECK(!sp_profile_get(got, "B")->keep);
	CHECK(!sp_profile_get(got, "C")->keep);
	sp_profile_set(dst, "A", "user value", 10, SP_UA_NA);
	sp_profile_set(dst, "B", "old", 3, SP_UA_NONE);
	CHECK(sp_profile_merge(dst, got) == 0);
	p = sp_profile_get(dst, "A");
	CHECK(p->valuelen == 10 && memcmp(p->value, "user value", 10) == 0);
	CHECK(p->ua == SP_UA_RW);
	CHECK(sp_profile_get(dst, "B")->valuelen == 0);
	CHECK(sp_profile_get(dst, "C")->ua == SP_UA_NA);
	/* Rendered back as <A ua="rw"/>, it parses back the same. */
	sp_buf_init(&b, 4096);
	CHECK(sp_profile_render(got, &b) == 0);
	CHECK_HAS(b.data, "<A ua=\"rw\"/>");
	sp_profile_free(got);
	got = sp_profile_parse(b.data, b.len, &err);
	CHECK(got != NULL && sp_profile_get(got, "A")->keep);
	sp_buf_release(&b);
	/* Set replaces and clears the flag. */
	if (got != NULL) {
		sp_profile_set(got, "A", "x", 1, SP_UA_NONE);
		CHECK(!sp_profile_get(got, "A")->keep);
	}
out:
	sp_profile_free(got);
	sp_profile_free(dst);
}

/* --alias: foreign XML onto parameters. */
static void
rows_alias(void)
{
	static const char doc[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<device><sip><proxy> sip.example.net </proxy>"
	    "<user>1001</user><user>1002</user></sip>"
	    "<display>Front\ndesk</display><x><y>deep &amp; far</y></x>"
	    "<empty/></device>";
	static const struct {
		const char *map, *want;
	} rows[] = {
		{ "/device/sip/proxy = /flat-profile/Proxy_1_",
		    "Proxy_1_=sip.example.net" },
		{ "/device/sip/proxy=/flat-profile/Proxy_1_;"
		    "/device/sip/user = /flat-profile/User_ID_1_ ;",
		    "Proxy_1_=sip.example.net|User_ID_1_=1001" },
		{ " ;\r\n /device/display = /flat-profile/Station_Name ;\n; ",
		    "Station_Name=Front desk" },
		{ "/device/x/y = /flat-profile/A;/device/empty = "
		    "/flat-profile/B", "A=deep & far|B=" },
		{ "/device/missing = /flat-profile/A;"
		    "/device/sip = /flat-profile/B",
		    "B=sip.example.net 10011002" },
		{ "/device/sip/proxy/nothing = /flat-profile/A", "" },
	};
	struct sp_profile *p;
	struct sp_err err;
	struct sp_buf b;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		p = sp_profile_parse_alias(doc, sizeof(doc) - 1, rows[i].map,
		    strlen(rows[i].map), &err);
		CHECK(p != NULL);
		if (p != NULL) {
			dump(p, &b);
			CHECK_STR(b.data, rows[i].want);
			sp_buf_release(&b);
		}
		sp_profile_free(p);
		snprintf(name, sizeof(name), "alias row %zu", i);
		ROW_END(name);
	}
}

static void
rows_alias_errors(void)
{
	static const struct {
		const char *doc, *map, *want;
	} rows[] = {
		{ "<a><b>1</b></a>", "", "alias map is empty" },
		{ "<a><b>1</b></a>", " ; ; ", "alias map is empty" },
		{ "<a><b>1</b></a>", "/a/b", "entry 1 has no '='" },
		{ "<a><b>1</b></a>", "/a/b = /flat-profile/X; a/b = "
		    "/flat-profile/Y", "entry 2: the XML path must start" },
		{ "<a><b>1</b></a>", "/a/b = /other/X",
		    "target must be /flat-profile/<Name>" },
		{ "<a><b>1</b></a>", "/a/b = /flat-profile/",
		    "target must be /flat-profile/<Name>" },
		{ "<a><b>1</b></a>", "/a/b = /flat-profile/Bad Name",
		    "target must be /flat-profile/<Name>" },
		{ "<a><b>1</b>", "/a/b = /flat-profile/X", "line 1:" },
		{ "<!DOCTYPE a [<!ENTITY e \"x\">]><a><b>&e;</b></a>",
		    "/a/b = /flat-profile/X", "DOCTYPE is not allowed" },
		{ "not xml", "/a/b = /flat-profile/X", "line 1:" },
	};
	struct sp_profile *p;
	struct sp_err err;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		p = sp_profile_parse_alias(rows[i].doc, strlen(rows[i].doc),
		    rows[i].map, strlen(rows[i].map), &err);
		CHECK(p == NULL);
		CHECK_HAS(err.msg, rows[i].want);
		sp_profile_free(p);
		snprintf(name, sizeof(name), "alias error row %zu", i);
		ROW_END(name);
	}
}

/* 30 entries is the documented maximum; 31 is refused; deep documents stop. */
static void
t_alias_limits(void)
{
	struct sp_buf map, doc;
	struct sp_profile *p;
	struct sp_err err;
	int i;

	sp_buf_init(&map, 1 << 20);
	sp_buf_init(&doc, 1 << 20);
	for (i = 0; i < SP_ALIAS_ENTRIES_MAX; i++)
		sp_buf_printf(&map, "/a/b%d = /flat-profile/P%d;", i, i);
	sp_buf_printf(&doc, "<a>");
	for (i = 0; i < SP_ALIAS_ENTRIES_MAX; i++)
		sp_buf_printf(&doc, "<b%d>v%d</b%d>", i, i, i);
	sp_buf_printf(&doc, "</a>");
	p = sp_profile_parse_alias(doc.data, doc.len, map.data, map.len, &err);
	CHECK(p != NULL && sp_profile_count(p) == SP_ALIAS_ENTRIES_MAX);
	if (p != NULL)
		CHECK_STR(sp_profile_get(p, "P29")->value, "v29");
	sp_profile_free(p);
	sp_buf_printf(&map, "/a/c = /flat-profile/Q");
	p = sp_profile_parse_alias(doc.data, doc.len, map.data, map.len, &err);
	CHECK(p == NULL);
	CHECK_HAS(err.msg, "more than 30 entries");
	sp_profile_free(p);

	sp_buf_reset(&doc);
	for (i = 0; i < SP_ALIAS_DEPTH_MAX + 1; i++)
		sp_buf_printf(&doc, "<a>");
	for (i = 0; i < SP_ALIAS_DEPTH_MAX + 1; i++)
		sp_buf_printf(&doc, "</a>");
	p = sp_profile_parse_alias(doc.data, doc.len, "/a = /flat-profile/X",
	    20, &err);
	CHECK(p == NULL);
	CHECK_HAS(err.msg, "nested too deeply");
	sp_profile_free(p);
	sp_buf_release(&map);
	sp_buf_release(&doc);
}

int
main(void)
{
	RUN(t_empty_element_keeps_value);
	RUN(t_ua);
	rows_name_ok();
	RUN(t_name_ok_edges);
	RUN(t_set_get);
	RUN(t_set_replace_keeps_position);
	rows_set_errors();
	RUN(t_name_length);
	RUN(t_value_utf8_ok);
	RUN(t_value_limit);
	RUN(t_unset);
	RUN(t_merge);
	RUN(t_merge_limit);
	RUN(t_many_params_fast);
	RUN(t_render_exact);
	RUN(t_render_empty);
	rows_render_escape();
	RUN(t_render_cap);
	rows_roundtrip();
	RUN(t_roundtrip_random);
	rows_parse_ok();
	rows_parse_errors();
	RUN(t_parse_null_args);
	RUN(t_parse_value_limit);
	RUN(t_parse_count_limit);
	RUN(t_parse_size_limit);
	RUN(t_parse_depth);
	rows_alias();
	rows_alias_errors();
	RUN(t_alias_limits);
	return t_done();
}
