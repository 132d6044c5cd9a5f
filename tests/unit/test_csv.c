#include "harness.h"

#include "sprov/csv.h"

static long
parse(const char *text, struct sp_device_row **rows, size_t *n,
    struct sp_buf *errs)
{
	sp_buf_init(errs, 1 << 20);
	return sp_csv_devices("d.csv", text, strlen(text), rows, n, errs);
}

static void
t_header_and_rows(void)
{
	struct sp_device_row *rows;
	struct sp_buf errs;
	size_t n;

	CHECK(parse("mac,serial,model\r\n00:0E:08:AB:CD:EF, SN1 ,CP-8841-3PCC"
	    "\n# a comment\n\n000e08abcdf0,,\n000e08abcdf1\n", &rows, &n,
	    &errs) == 0);
	CHECK(n == 3);
	CHECK_STR(rows[0].mac, "000e08abcdef");
	CHECK_STR(rows[0].serial, "SN1");
	CHECK_STR(rows[0].model, "CP-8841-3PCC");
	CHECK(rows[0].line == 2);
	CHECK_STR(rows[1].serial, "");
	CHECK(rows[2].line == 6);
	free(rows);
	sp_buf_release(&errs);
}

static void
t_header_order(void)
{
	struct sp_device_row *rows;
	struct sp_buf errs;
	size_t n;

	CHECK(parse("MAC,model,serial\n000e08abcdef,CP-7841,SN9\n", &rows, &n,
	    &errs) == 0);
	CHECK(n == 1);
	CHECK_STR(rows[0].model, "CP-7841");
	CHECK_STR(rows[0].serial, "SN9");
	free(rows);
	sp_buf_release(&errs);
}

static void
t_no_header(void)
{
	struct sp_device_row *rows;
	struct sp_buf errs;
	size_t n;

	CHECK(parse("000e08abcdef,SN1,M1", &rows, &n, &errs) == 0);
	CHECK(n == 1 && rows[0].line == 1);
	CHECK_STR(rows[0].model, "M1");
	free(rows);
	sp_buf_release(&errs);
}

static void
t_errors_all_reported(void)
{
	struct sp_device_row *rows;
	struct sp_buf errs;
	size_t n;

	CHECK(parse("mac,serial,model\n"
	    "000e08abcdef,SN1,M\n"		/* 2 */
	    "000e08abcdeg,SN2,M\n"		/* 3: bad MAC */
	    "000e08abcd01,S N,M\n"		/* 4: bad serial */
	    "000e08abcd02,SN,M,extra\n"		/* 5: too many columns */
	    "\"000e08abcd03\",SN,M\n"		/* 6: quotes */
	    "00:0E:08:AB:CD:EF,SN9,M\n"		/* 7: duplicate of 2 */
	    "000000000000\n",			/* 8: not a device */
	    &rows, &n, &errs) == 6);
	CHECK_HAS(errs.data, "d.csv:3: bad MAC '000e08abcdeg'");
	CHECK_HAS(errs.data, "d.csv:4: bad serial");
	CHECK_HAS(errs.data, "d.csv:5: more than 3 columns");
	CHECK_HAS(errs.data, "d.csv:6: quoted fields are not supported");
	CHECK_HAS(errs.data, "d.csv:7: MAC 000e08abcdef is already on line 2");
	CHECK_HAS(errs.data, "d.csv:8: bad MAC");
	free(rows);
	sp_buf_release(&errs);
}

static void
t_bad_header(void)
{
	struct sp_device_row *rows;
	struct sp_buf errs;
	size_t n;

	CHECK(parse("mac,colour\n000e08abcdef,red\n", &rows, &n, &errs) == 1);
	CHECK_HAS(errs.data, "d.csv:1: header column 2");
	free(rows);
	sp_buf_release(&errs);
}

static void
t_error_cap(void)
{
	struct sp_device_row *rows;
	struct sp_buf errs, text;
	size_t n;
	int i;

	sp_buf_init(&text, 1 << 20);
	for (i = 0; i < 150; i++)
		sp_buf_printf(&text, "nonsense%d\n", i);
	CHECK(parse(text.data, &rows, &n, &errs) == 150);
	CHECK_HAS(errs.data, "... and 50 more errors");
	CHECK(strstr(errs.data, "d.csv:101:") == NULL);
	free(rows);
	sp_buf_release(&errs);
	sp_buf_release(&text);
}

static void
t_long_line_and_nul(void)
{
	struct sp_device_row *rows;
	struct sp_buf errs;
	char text[2100];
	size_t n;

	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	CHECK(parse(text, &rows, &n, &errs) == 1);
	CHECK_HAS(errs.data, "d.csv:1: line longer than 1024");
	free(rows);
	sp_buf_release(&errs);
	sp_buf_init(&errs, 1 << 16);
	CHECK(sp_csv_devices("d.csv", "000e08abcdef\n00\0e\n", 18, &rows, &n,
	    &errs) == 1);
	CHECK_HAS(errs.data, "d.csv:2: NUL byte");
	free(rows);
	sp_buf_release(&errs);
}

int
main(void)
{
	RUN(t_header_and_rows);
	RUN(t_header_order);
	RUN(t_no_header);
	RUN(t_errors_all_reported);
	RUN(t_bad_header);
	RUN(t_error_cap);
	RUN(t_long_line_and_nul);
	return t_done();
}
