#include "harness.h"

#include "sprov/buf.h"

static void
t_cap_enforced(void)
{
	struct sp_buf b;

	sp_buf_init(&b, 10);
	CHECK(sp_buf_append(&b, "0123456789", 10) == 0);
	CHECK(b.len == 10);
	CHECK(sp_buf_append(&b, "x", 1) == -1);
	CHECK(b.len == 10);
	CHECK(memcmp(b.data, "0123456789", 10) == 0);
	CHECK(b.data[10] == '\0');
	sp_buf_release(&b);
}

static void
t_overflowing_length_refused(void)
{
	struct sp_buf b;

	sp_buf_init(&b, 100);
	CHECK(sp_buf_append(&b, "abc", 3) == 0);
	CHECK(sp_buf_append(&b, "x", (size_t)-1) == -1);
	CHECK(b.len == 3);
	sp_buf_release(&b);
}

static void
t_printf_and_reset(void)
{
	struct sp_buf b;

	sp_buf_init(&b, 16);
	CHECK(sp_buf_printf(&b, "%s-%d", "ab", 42) == 0);
	CHECK_STR(b.data, "ab-42");
	CHECK(sp_buf_printf(&b, "%s", "0123456789abcdef") == -1);
	CHECK_STR(b.data, "ab-42");
	sp_buf_reset(&b);
	CHECK(b.len == 0);
	CHECK_STR(b.data, "");
	sp_buf_release(&b);
	CHECK(b.data == NULL);
	sp_buf_release(&b);		/* twice is fine */
}

static void
t_growth_keeps_content(void)
{
	struct sp_buf b;
	char chunk[100];
	int i;

	memset(chunk, 'q', sizeof(chunk));
	sp_buf_init(&b, 1 << 20);
	b.secret = 1;
	for (i = 0; i < 1000; i++)
		CHECK(sp_buf_append(&b, chunk, sizeof(chunk)) == 0);
	CHECK(b.len == 100000);
	CHECK(b.data[0] == 'q' && b.data[99999] == 'q');
	sp_buf_release(&b);
}

static void
t_empty_append(void)
{
	struct sp_buf b;

	sp_buf_init(&b, 0);
	CHECK(sp_buf_append(&b, "", 0) == 0);
	CHECK(b.len == 0);
	CHECK(sp_buf_append(&b, "a", 1) == -1);
	sp_buf_release(&b);
}

int
main(void)
{
	RUN(t_cap_enforced);
	RUN(t_overflowing_length_refused);
	RUN(t_printf_and_reset);
	RUN(t_growth_keeps_content);
	RUN(t_empty_append);
	return t_done();
}
