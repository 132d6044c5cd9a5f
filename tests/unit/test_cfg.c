#include <unistd.h>

#include "harness.h"

#include "sprov/cfg.h"

static const struct sp_cfg_key schema[] = {
	{ "listen", SP_CFG_REPEAT | SP_CFG_REQUIRED },
	{ "cert", 0 },
	{ "workers", 0 },
	{ "motd", 0 },
	{ "debug", SP_CFG_FLAG },
};
#define NKEYS (sizeof(schema) / sizeof(schema[0]))

static struct sp_cfg *
parse(const char *text, int *rc)
{
	struct sp_cfg *c = sp_cfg_new(schema, NKEYS);

	*rc = sp_cfg_parse(c, "t.conf", text, strlen(text));
	return c;
}

static void
t_good(void)
{
	struct sp_cfg *c;
	const char *v;
	size_t idx = 0;
	uint64_t w;
	int rc;

	c = parse("# comment\n\nlisten 127.0.0.1:0\r\n  listen [::1]:8443  "
	    "# trailing\ncert \"/etc/a b#c.pem\"\nmotd \"say \\\"hi\\\" \\\\\"\n"
	    "debug\nworkers 4\n", &rc);
	CHECK(rc == 0);
	CHECK_STR(sp_cfg_error(c), "");
	v = sp_cfg_next(c, "listen", &idx);
	CHECK_STR(v, "127.0.0.1:0");
	v = sp_cfg_next(c, "listen", &idx);
	CHECK_STR(v, "[::1]:8443");
	CHECK(sp_cfg_next(c, "listen", &idx) == NULL);
	CHECK_STR(sp_cfg_get(c, "cert"), "/etc/a b#c.pem");
	CHECK_STR(sp_cfg_get(c, "motd"), "say \"hi\" \\");
	CHECK_STR(sp_cfg_get(c, "debug"), "");
	CHECK(sp_cfg_line(c, "workers") == 8);
	CHECK(sp_cfg_get_u64(c, "workers", 1, 64, 2, &w) == 0 && w == 4);
	CHECK(sp_cfg_get_u64(c, "nonexistent", 1, 64, 2, &w) == 0 && w == 2);
	sp_cfg_free(c);
}

static const struct {
	const char	*text;
	const char	*msg;
} bad[] = {
	{ "listen a\nfoo bar\n", "t.conf:2: unknown key 'foo'" },
	{ "listen a\ncert x\ncert y\n", "t.conf:3: cert given twice (first "
	    "at line 2)" },
	{ "cert x\n", "t.conf: missing required key 'listen'" },
	{ "listen a\ncert\n", "t.conf:2: cert needs a value" },
	{ "listen a\ndebug yes\n", "t.conf:2: debug takes no value" },
	{ "listen a\ncert \"x\n", "t.conf:2: unterminated quoted value" },
	{ "listen a\ncert \"x\" y\n", "t.conf:2: text after closing quote" },
	{ "listen a\ncert x\x01y\n", "t.conf:2: control or non-ASCII byte "
	    "0x01" },
	{ "listen a\ncert \xc3\xa9\n", "t.conf:2: control or non-ASCII" },
	{ "listen a\nce$rt x\n", "t.conf:2: bad key 'ce$rt'" },
};

static void
t_bad(void)
{
	struct sp_cfg *c;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = parse(bad[i].text, &rc);
		CHECK(rc == -1);
		CHECK_HAS(sp_cfg_error(c), bad[i].msg);
		sp_cfg_free(c);
	}
}

static void
t_nul_and_long_lines(void)
{
	struct sp_cfg *c = sp_cfg_new(schema, NKEYS);
	char *big;

	CHECK(sp_cfg_parse(c, "t.conf", "listen a\ncert x\0y\n", 17) == -1);
	CHECK_HAS(sp_cfg_error(c), "t.conf:2: NUL byte");
	big = malloc(5000);
	memset(big, 'a', 4999);
	memcpy(big, "cert ", 5);
	big[4999] = '\0';
	CHECK(sp_cfg_parse(c, "t.conf", big, strlen(big)) == -1);
	CHECK_HAS(sp_cfg_error(c), "t.conf:1: line longer than 4096");
	free(big);
	sp_cfg_free(c);
}

static void
t_bad_number(void)
{
	struct sp_cfg *c;
	uint64_t w = 7;
	int rc;

	c = parse("listen a\nworkers 0x10\n", &rc);
	CHECK(rc == 0);
	CHECK(sp_cfg_get_u64(c, "workers", 1, 64, 2, &w) == -1);
	CHECK_HAS(sp_cfg_error(c), "t.conf:2: workers: '0x10' is not a whole "
	    "number from 1 to 64");
	sp_cfg_free(c);
	c = parse("listen a\nworkers 65\n", &rc);
	CHECK(sp_cfg_get_u64(c, "workers", 1, 64, 2, &w) == -1);
	sp_cfg_free(c);
}

static void
t_load_file(void)
{
	struct sp_cfg *c = sp_cfg_new(schema, NKEYS);
	char *d = t_tmpdir(), path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/x.conf", d);
	CHECK(sp_cfg_load(c, path) == -1);
	CHECK_HAS(sp_cfg_error(c), "No such file");
	f = fopen(path, "w");
	fputs("listen 1\nbogus 2\n", f);
	fclose(f);
	CHECK(sp_cfg_load(c, path) == -1);
	CHECK_HAS(sp_cfg_error(c), "x.conf:2: unknown key 'bogus'");
	unlink(path);
	rmdir(d);
	free(d);
	sp_cfg_free(c);
}

int
main(void)
{
	RUN(t_good);
	RUN(t_bad);
	RUN(t_nul_and_long_lines);
	RUN(t_bad_number);
	RUN(t_load_file);
	sp_cfg_free(NULL);
	return t_done();
}
