#include "harness.h"

#include "sprov/log.h"
#include "sprov/str.h"

static void
t_u64(void)
{
	uint64_t v = 99;

	CHECK(sp_str_u64("0", 1, 0, 10, &v) == 0 && v == 0);
	CHECK(sp_str_u64("007", 3, 0, 10, &v) == 0 && v == 7);
	CHECK(sp_str_u64("18446744073709551615", 20, 0, UINT64_MAX, &v) == 0);
	CHECK(v == UINT64_MAX);
	v = 5;
	CHECK(sp_str_u64("18446744073709551616", 20, 0, UINT64_MAX, &v) == -1);
	CHECK(v == 5);			/* untouched on failure */
	CHECK(sp_str_u64("", 0, 0, 10, &v) == -1);
	CHECK(sp_str_u64("+1", 2, 0, 10, &v) == -1);
	CHECK(sp_str_u64("-1", 2, 0, 10, &v) == -1);
	CHECK(sp_str_u64(" 1", 2, 0, 10, &v) == -1);
	CHECK(sp_str_u64("1x", 2, 0, 10, &v) == -1);
	CHECK(sp_str_u64("11", 2, 0, 10, &v) == -1);	/* above max */
	CHECK(sp_str_u64("1", 1, 2, 10, &v) == -1);	/* below min */
	CHECK(sp_str_u64("123", 2, 0, 100, &v) == 0 && v == 12); /* bounded */
	CHECK(sp_str_u64z("365", 1, 36500, &v) == 0 && v == 365);
	CHECK(sp_str_u64z("0", 1, 36500, &v) == -1);
}

static void
t_trim_and_fields(void)
{
	const char *p = "  a,, b ,c\t", *f;
	size_t n = strlen(p), fl;
	char got[4][8];
	int k = 0;

	sp_str_trim(&p, &n);
	CHECK(n == 8);
	while (sp_str_field(&p, &n, ',', &f, &fl) && k < 4) {
		sp_str_trim(&f, &fl);
		CHECK(sp_str_copy(got[k], sizeof(got[k]), f, fl) == 0);
		k++;
	}
	CHECK(k == 4);
	CHECK_STR(got[0], "a");
	CHECK_STR(got[1], "");
	CHECK_STR(got[2], "b");
	CHECK_STR(got[3], "c");
}

static void
t_predicates(void)
{
	CHECK(sp_str_printable("abc ~", 5));
	CHECK(!sp_str_printable("a\tb", 3));
	CHECK(!sp_str_printable("a\x80", 2));
	CHECK(sp_str_charset("ab-9", 4, "-"));
	CHECK(!sp_str_charset("ab_9", 4, "-"));
	CHECK(!sp_str_charset("a\0b", 3, "-"));
	CHECK(sp_str_ieq("MaC", 3, "mac"));
	CHECK(!sp_str_ieq("ma", 2, "mac"));
	CHECK(!sp_str_ieq("macs", 4, "mac"));
}

static void
t_copy_and_hex(void)
{
	char d[4], h[9];
	const unsigned char bin[] = { 0x00, 0x0e, 0xab, 0xff };

	CHECK(sp_str_copy(d, sizeof(d), "abc", 3) == 0);
	CHECK_STR(d, "abc");
	CHECK(sp_str_copy(d, sizeof(d), "abcd", 4) == -1);
	sp_str_hex(h, bin, sizeof(bin));
	CHECK_STR(h, "000eabff");
}

static void
t_log_escape(void)
{
	char out[64], tiny[8];

	sp_log_escape(out, sizeof(out), "ok\n\\\x01\xff", 6);
	CHECK_STR(out, "ok\\x0a\\x5c\\x01\\xff");
	sp_log_escape(tiny, sizeof(tiny), "abcdefghijkl", 12);
	CHECK(strlen(tiny) < sizeof(tiny));
	CHECK_HAS(tiny, "...");
	sp_log_escape(out, sizeof(out), "a\0b", 3);
	CHECK_STR(out, "a\\x00b");
}

/* Hex back to bytes: either case, whole digits only. */
static void
t_unhex(void)
{
	unsigned char b[4];
	char hx[9];

	CHECK(sp_str_unhex("00ff7Ab1", 8, b) == 0);
	CHECK(b[0] == 0x00 && b[1] == 0xff && b[2] == 0x7a && b[3] == 0xb1);
	sp_str_hex(hx, b, 4);
	CHECK_STR(hx, "00ff7ab1");
	CHECK(sp_str_unhex("abc", 3, b) == -1);
	CHECK(sp_str_unhex("0g", 2, b) == -1);
	CHECK(sp_str_unhex("g0", 2, b) == -1);
	CHECK(sp_str_unhex("", 0, b) == 0);
	CHECK(sp_str_hexval('F') == 15 && sp_str_hexval('0') == 0);
	CHECK(sp_str_hexval(':') == -1 && sp_str_hexval('\0') == -1);
}

int
main(void)
{
	RUN(t_u64);
	RUN(t_trim_and_fields);
	RUN(t_predicates);
	RUN(t_copy_and_hex);
	RUN(t_unhex);
	RUN(t_log_escape);
	return t_done();
}
