#include <stdint.h>

#include "harness.h"

#include "sprov/buf.h"
#include "sprov/rule.h"

struct var {
	const char	*name, *value;
};

static const struct var base_vars[] = {
	{ "A", "Provisioned" },
	{ "D", "dir" },
	{ "E", "file" },
	{ "MA", "000e08012345" },
	{ "MAU", "000E08012345" },
	{ "PN", "CP-8841-3PCC" },
	{ "SWVER", "sip88xx.11-3-2MPP0001-609" },
	{ "CCERT", "Installed" },
	{ "UPGTMR", "301" },
	{ "PRVTMR", "600" },
	{ "PRVST", "-1" },
	{ "EMPTY", "" },
	{ "SA", "sa-secret" },
	{ "SB", "sb-secret" },
	{ "SC", "sc-secret" },
	{ NULL, NULL },
};

/* The same phone before provisioning, with young timers. */
static const struct var new_vars[] = {
	{ "A", "" },
	{ "UPGTMR", "299" },
	{ "PRVTMR", "599" },
	{ "CCERT", "Not Installed" },
	{ "SWVER", "sip88xx.11-0-1MPP-376" },
	{ NULL, NULL },
};

/* arg: an override table searched before base_vars, or NULL. */
static const char *
lookup(void *arg, const char *name, size_t len)
{
	const struct var *t[2] = { arg, base_vars };
	size_t i, k;

	for (k = 0; k < 2; k++)
		for (i = 0; t[k] != NULL && t[k][i].name != NULL; i++)
			if (strlen(t[k][i].name) == len &&
			    memcmp(t[k][i].name, name, len) == 0)
				return t[k][i].value;
	return NULL;
}

/* Parses from an exact-size copy, so that ASan sees any overread. */
static struct sp_rule *
parse(const char *text, struct sp_err *err)
{
	struct sp_rule *r;
	size_t n = strlen(text);
	char *copy;

	if ((copy = malloc(n ? n : 1)) == NULL)
		abort();
	memcpy(copy, text, n);
	err->msg[0] = '\0';
	r = sp_rule_parse(copy, n, err);
	free(copy);
	return r;
}

/*
 * A resync trigger is a bare condition: the caller wraps it as "(" t ")?"
 * and must then find exactly one alternative that is only a condition
 * (otherwise the text closed the parenthesis itself).
 */
static struct sp_rule *
parse_trigger(const char *t, struct sp_err *err)
{
	const struct sp_rule_alt *a;
	struct sp_rule *r;
	struct sp_buf b;

	sp_buf_init(&b, 8192);
	if (sp_buf_printf(&b, "(%s)?", t) == -1)
		abort();
	r = parse(b.data, err);
	sp_buf_release(&b);
	if (r == NULL)
		return NULL;
	a = sp_rule_alt(r, 0);
	if (sp_rule_count(r) != 1 || a->nassigns > 0 || a->url != NULL ||
	    a->key != NULL || a->uid != NULL || a->pwd != NULL ||
	    a->post || a->alias || a->srv || a->delta || a->status) {
		sp_err_set(err, "not a bare condition");
		sp_rule_free(r);
		return NULL;
	}
	return r;
}

static void
dump_str(struct sp_buf *b, const char *s, bool quoted)
{
	sp_buf_printf(b, quoted ? "\"%s\"" : "%s", s);
}

/* A canonical text of a parsed rule, for table rows. */
static void
dump(const struct sp_rule *r, struct sp_buf *b)
{
	static const char *const opn[] = { "eq", "ne", "lt", "le", "gt",
	    "ge" };
	const struct sp_rule_alt *a;
	size_t i, j;

	for (i = 0; i < sp_rule_count(r); i++) {
		a = sp_rule_alt(r, i);
		if (i > 0)
			sp_buf_printf(b, " | ");
		if (a->ncmps > 0) {
			sp_buf_printf(b, "(");
			for (j = 0; j < a->ncmps; j++) {
				if (j > 0)
					sp_buf_printf(b, " and ");
				dump_str(b, a->cmps[j].left,
				    a->cmps[j].lquoted);
				sp_buf_printf(b, " %s ", opn[a->cmps[j].op]);
				dump_str(b, a->cmps[j].right,
				    a->cmps[j].rquoted);
			}
			sp_buf_printf(b, ")? ");
		}
		if (a->nassigns > 0) {
			sp_buf_printf(b, "(");
			for (j = 0; j < a->nassigns; j++)
				sp_buf_printf(b, "%s=\"%s\";",
				    a->assigns[j].name, a->assigns[j].value);
			sp_buf_printf(b, ")! ");
		}
		if (a->key || a->uid || a->pwd || a->post || a->alias ||
		    a->srv || a->delta || a->status) {
			sp_buf_printf(b, "[");
			if (a->key)
				sp_buf_printf(b, "key=<%s>", a->key);
			if (a->uid)
				sp_buf_printf(b, "uid=<%s>", a->uid);
			if (a->pwd)
				sp_buf_printf(b, "pwd=<%s>", a->pwd);
			if (a->post)
				sp_buf_printf(b, "post=%c", a->post);
			if (a->alias)
				sp_buf_printf(b, "alias=%c", a->alias);
			if (a->srv)
				sp_buf_printf(b, "srv");
			if (a->delta)
				sp_buf_printf(b, "delta");
			if (a->status)
				sp_buf_printf(b, "status");
			sp_buf_printf(b, "] ");
		}
		if (a->url)
			sp_buf_printf(b, "<%s>", a->url);
		if (b->len > 0 && b->data[b->len - 1] == ' ')
			b->data[--b->len] = '\0';
	}
}

static const struct {
	const char	*text, *want;
} parse_rows[] = {
	/* Reference 2.1, the assignment example. */
	{ "(\"$A\" ne \"Provisioned\")? (Line_Enable_1_ = \"No\";)! "
	    "https://p.tel.com/init-prov | https://p.tel.com/configs",
	    "(\"$A\" ne \"Provisioned\")? (Line_Enable_1_=\"No\";)! "
	    "<https://p.tel.com/init-prov> | <https://p.tel.com/configs>" },
	{ "(\"$CCERT\" eq \"Installed\")? https://a/x | http://a/x",
	    "(\"$CCERT\" eq \"Installed\")? <https://a/x> | <http://a/x>" },
	{ "($SWVER ge sip88xx.11-3-2MPP0001-609)? /new.xml",
	    "($SWVER ge sip88xx.11-3-2MPP0001-609)? </new.xml>" },
	/* Reference 2.2, the URL examples. */
	{ "/$MA.cfg", "</$MA.cfg>" },
	{ "/cisco/cfg.xml", "</cisco/cfg.xml>" },
	{ "192.168.1.130/profiles/init.cfg",
	    "<192.168.1.130/profiles/init.cfg>" },
	{ "tftp://prov.call.com/cpe/cisco$MA.cfg",
	    "<tftp://prov.call.com/cpe/cisco$MA.cfg>" },
	{ "http://neptune.speak.net:8080/prov/$D/$E.cfg",
	    "<http://neptune.speak.net:8080/prov/$D/$E.cfg>" },
	{ "https://secure.me.com/profile?Linksys",
	    "<https://secure.me.com/profile?Linksys>" },
	/* Reference 2.3, options. */
	{ "[--key $SC]", "[key=<$SC>]" },
	{ "[--key $SC] https://p.tel.com/$MA.cfg.enc",
	    "[key=<$SC>] <https://p.tel.com/$MA.cfg.enc>" },
	{ "[--uid $SA --pwd $SB] https://p.tel.com/$MA.xml",
	    "[uid=<$SA>pwd=<$SB>] <https://p.tel.com/$MA.xml>" },
	{ "[ --key secretphrase ] http://prov.serv.net/spa/$MA/rep.xml.enc",
	    "[key=<secretphrase>] <http://prov.serv.net/spa/$MA/rep.xml.enc>" },
	{ "[--delta] https://r/x", "[delta] <https://r/x>" },
	{ "[--status --key k --uid u --pwd p] https://r/x",
	    "[key=<k>uid=<u>pwd=<p>status] <https://r/x>" },
	{ "[--post a] https://p/cgi", "[post=a] <https://p/cgi>" },
	{ "[--alias P --srv] https://p/x", "[alias=psrv] <https://p/x>" },
	{ "[--post \"c\"] /x", "[post=c] </x>" },
	{ "[--key \"a b]c|d\"] /x", "[key=<a b]c|d>] </x>" },
	{ "[--key \"\"] /x", "[key=<>] </x>" },
	{ "[--key a|b] /x", "[key=<a|b>] </x>" },
	{ "[--key\t$(SC:0:4)]/x", "[key=<$(SC:0:4)>] </x>" },
	{ "[] /x", "</x>" },
	/* Reference 3.1: a trigger wrapped as a condition. */
	{ "($UPGTMR gt 300 and $PRVTMR ge 600)?",
	    "($UPGTMR gt 300 and $PRVTMR ge 600)?" },
	/* Assignments: a..p are GPP_A..GPP_P; quoted values hold anything. */
	{ "(a = \"x | y; z) $MA\";)! /x",
	    "(GPP_A=\"x | y; z) $MA\";)! </x>" },
	{ "(p=\"1\"; q=\"2\"; A=\"3\"; gpp_b=\"4\";)!",
	    "(GPP_P=\"1\";q=\"2\";A=\"3\";gpp_b=\"4\";)!" },
	{ "(Line_Enable_1_ = No ; b = \"\" ;)!",
	    "(Line_Enable_1_=\"No\";GPP_B=\"\";)!" },
	{ "(a = \"C:\\x\\\";)! /x", "(GPP_A=\"C:\\x\\\";)! </x>" },
	/* Every operator, by symbol and by word, any case. */
	{ "(1 = 2 and 1 eq 2 and 1 != 2 and 1 ne 2)?",
	    "(1 eq 2 and 1 eq 2 and 1 ne 2 and 1 ne 2)?" },
	{ "(1 < 2 and 1 lt 2 and 1 <= 2 and 1 le 2)?",
	    "(1 lt 2 and 1 lt 2 and 1 le 2 and 1 le 2)?" },
	{ "(1 > 2 and 1 gt 2 and 1 >= 2 and 1 GE 2 AND 1 Eq 2)?",
	    "(1 gt 2 and 1 gt 2 and 1 ge 2 and 1 ge 2 and 1 eq 2)?" },
	/* Whitespace is free between tokens. */
	{ "($A=1)?(b=\"x\";)![--key k]/x",
	    "($A eq 1)? (GPP_B=\"x\";)! [key=<k>] </x>" },
	{ " \t( $A  <=  1 ) \n?  /x  ", "($A le 1)? </x>" },
	{ "($A!=\"1\")?/x|/y", "($A ne \"1\")? </x> | </y>" },
	{ "($A>=$(MA:0:6))?/x", "($A ge $(MA:0:6))? </x>" },
	{ "($(MA:0:6) eq 000e08)? /a | /b",
	    "($(MA:0:6) eq 000e08)? </a> | </b>" },
	{ "(\"a b\"eq\"c)d\")? /x", "(\"a b\" eq \"c)d\")? </x>" },
	{ "(\"\" eq \"$EMPTY\")? /x", "(\"\" eq \"$EMPTY\")? </x>" },
	/* Quoted URL; a bare URL may hold parentheses and '#'. */
	{ "\"/path with space|bar\"", "</path with space|bar>" },
	{ "/x(1)#frag", "</x(1)#frag>" },
	/* A condition or an assignment alone. */
	{ "($A eq 1)? | /y", "($A eq 1)? | </y>" },
	{ "(a=\"1\";)!", "(GPP_A=\"1\";)!" },
	/* Three alternatives, the last unconditional. */
	{ "($A eq 1)? /a | ($A eq 2)? /b | /c",
	    "($A eq 1)? </a> | ($A eq 2)? </b> | </c>" },
	/* Comments and empty rules: zero alternatives. */
	{ "# (\"$A\" eq \"x\")? /y | broken (", "" },
	{ "   #/x", "" },
	{ "", "" },
	{ " \t\r\n", "" },
};

static const struct {
	const char	*text, *err;
} error_rows[] = {
	/* Unbalanced quotes, brackets and parentheses. */
	{ "(\"$A eq 1)? /x", "offset 1: unterminated quote" },
	{ "(a = \"x;)! /x", "offset 5: unterminated quote" },
	{ "[--key \"abc] /x", "offset 7: unterminated quote" },
	{ "\"/x", "offset 0: unterminated quote" },
	{ "[--key x /a", "offset 0: '[' without a closing ']'" },
	{ "[", "offset 0: '[' without a closing ']'" },
	{ "[--key a\" --uid \"]\"", "offset 0: '[' without a closing ']'" },
	{ "($A eq 1", "offset 0: '(' at offset 0 has no closing ')?'" },
	{ "($A eq", "'(' at offset 0 is not closed" },
	{ "(", "'(' at offset 0 is not closed" },
	{ "(a = \"x\";", "offset 0: '(' at offset 0 has no closing ')!'" },
	{ "($A eq 1 /a", "offset 9: expected 'and' or ')?' after a "
	    "comparison, found '/a'" },
	{ "/a ]", "offset 3: unexpected ']' after the URL" },
	{ "] /a", "offset 0: unbalanced ']'" },
	{ ") /a", "offset 0: unbalanced ')'" },
	/* A condition is needed on all but the last alternative. */
	{ "/a | /b", "offset 0: alternative 1 has no condition but is not "
	    "the last" },
	{ "($A eq 1)? /a | /b | /c", "offset 16: alternative 2 has no "
	    "condition but is not the last" },
	{ "(a=\"1\";)! /a | /b", "alternative 1 has no condition" },
	{ "/a |", "offset 4: empty alternative" },
	{ "| /a", "offset 0: empty alternative" },
	{ "($A eq 1)? /a || /b", "offset 15: empty alternative" },
	/* Operators. */
	{ "($A like 1)? /a", "offset 4: unknown operator 'like'" },
	{ "($A == 1)? /a", "offset 4: unknown operator '=='" },
	{ "($A =< 1)? /a", "offset 4: unknown operator '=<'" },
	{ "($A eq 1 or $B eq 2)? /a", "offset 9: expected 'and' or ')?' "
	    "after a comparison, found 'or'" },
	{ "($A)? /a", "offset 3: expected an operator" },
	{ "($A eq)? /a", "offset 6: expected an operand, found ')'" },
	{ "(eq 1)? /a", "offset 4: unknown operator '1'" },
	{ "()? /a", "offset 0: empty '()'" },
	{ "($A eq 1) /a", "offset 8: expected ')?' after a condition" },
	{ "($A eq 1 and)? /a", "offset 12: expected an operand, found ')'" },
	/* Options. */
	{ "[--cert c] /a", "offset 1: unknown option '--cert'" },
	{ "[-key c] /a", "unknown option '-key'" },
	{ "[--KEY c] /a", "unknown option '--KEY'" },
	{ "[--key] /a", "offset 1: option '--key' needs an argument" },
	{ "[--uid --pwd p] /a", "option '--uid' needs an argument" },
	{ "[--key a --key b] /a", "offset 9: option '--key' given twice" },
	{ "[--srv --srv] /a", "option '--srv' given twice" },
	{ "[--post z] /a", "offset 8: option '--post' takes a letter a..p" },
	{ "[--alias ab] /a", "option '--alias' takes a letter a..p" },
	{ "[--post \"\"] /a", "option '--post' takes a letter a..p" },
	{ "[--srv] [--key k] /a", "offset 8: a second '['" },
	{ "[--key k] ($A eq 1)? /a", "offset 10: '(' after options" },
	/* Assignments. */
	{ "(a = \"x\")! /a", "offset 8: expected ')?' after a condition (in "
	    "an assignment, every value ends with ';')" },
	{ "(a = \"x\"; b = \"y\")! /a", "offset 17: expected ';' after the "
	    "value of 'b'" },
	{ "(a = \"x\";)? /a", "offset 9: expected ')!' after an assignment" },
	{ "(a = \"x\"; b \"y\";)! /a", "offset 12: expected '=' after "
	    "parameter name 'b'" },
	{ "(a = \"x\"; b == \"y\";)! /a", "expected '=' after parameter name" },
	{ "(a = \"x\"; \"b\" = \"y\";)! /a",
	    "offset 10: bad parameter name 'b'" },
	{ "(a-b = \"x\";)! /a", "offset 10: unexpected ';'" },
	{ "(a eq \"x\";)! /a", "offset 9: unexpected ';'" },
	{ "(\"a\" = \"x\";)! /a", "unexpected ';'" },
	{ "($A eq 1 and a = \"x\";)! /a", "offset 20: unexpected ';'" },
	{ "(a = x y;)! /a", "offset 7: expected 'and' or ')?' after a "
	    "comparison, found 'y'" },
	{ "(a = \"1\"; b = x y;)! /a", "offset 16: expected ';' after the "
	    "value of 'b', found 'y'" },
	/* Order of the parts of an alternative. */
	{ "(a=\"1\";)! ($A eq 1)? /a", "offset 10: a condition after the "
	    "assignment" },
	{ "($A eq 1)? ($B eq 2)? /a", "offset 11: a second condition" },
	{ "(a=\"1\";)! (b=\"2\";)! /a", "offset 10: a second assignment" },
	{ "/a /b", "offset 3: unexpected '/' after the URL" },
	{ "/a [--key k]", "offset 3: unexpected '[' after the URL" },
	{ "\"/a\"/b", "offset 4: unexpected '/' after the URL" },
	{ "\"\"", "offset 0: empty quoted URL" },
	/* Bytes. */
	{ "/a\001b", "offset 2: control character 0x01" },
	{ "/a\177", "offset 2: control character 0x7f" },
	/* A bare trigger is not a rule: it must be wrapped first. */
	{ "$UPGTMR gt 300 and $PRVTMR ge 600", "offset 8: unexpected 'g' "
	    "after the URL" },
};

/* A TAP case name: prefix and text, control bytes shown as \xNN. */
static const char *
row_name(char *buf, size_t sz, const char *prefix, const char *text)
{
	size_t n;

	n = (size_t)snprintf(buf, sz, "%s '", prefix);
	for (; *text != '\0' && n + 6 < sz; text++) {
		if ((unsigned char)*text < 0x20 ||
		    (unsigned char)*text >= 0x7f)
			n += (size_t)snprintf(buf + n, sz - n, "\\x%02x",
			    (unsigned char)*text);
		else
			buf[n++] = *text;
	}
	snprintf(buf + n, sz - n, "'");
	return buf;
}

static void
t_parse_table(void)
{
	struct sp_rule *r;
	struct sp_err err;
	struct sp_buf b;
	char name[200];
	size_t i;

	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		ROW_BEGIN();
		sp_buf_init(&b, 1 << 16);
		r = parse(parse_rows[i].text, &err);
		CHECK(r != NULL);
		if (r == NULL)
			printf("#   %s\n", err.msg);
		dump(r, &b);
		CHECK_STR(b.data ? b.data : "", parse_rows[i].want);
		sp_rule_free(r);
		sp_buf_release(&b);
		ROW_END(row_name(name, sizeof(name), "parse",
		    parse_rows[i].text));
	}
}

static void
t_error_table(void)
{
	struct sp_rule *r;
	struct sp_err err;
	char name[200];
	size_t i;

	for (i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++) {
		ROW_BEGIN();
		r = parse(error_rows[i].text, &err);
		CHECK(r == NULL);
		CHECK_HAS(err.msg, error_rows[i].err);
		sp_rule_free(r);
		ROW_END(row_name(name, sizeof(name), "reject",
		    error_rows[i].text));
	}
}

static void
t_parse_api(void)
{
	const struct sp_rule_alt *a;
	struct sp_rule *r;
	struct sp_err err;

	r = parse("(\"$A\" ne \"Provisioned\")? (Line_Enable_1_ = \"No\";"
	    " b = \"$MA\";)! [--key $SC --post c] https://p.tel.com/init-prov"
	    " | https://p.tel.com/configs", &err);
	CHECK(r != NULL);
	CHECK(sp_rule_count(r) == 2);
	a = sp_rule_alt(r, 0);
	CHECK(a != NULL && a->ncmps == 1 && a->nassigns == 2);
	if (a != NULL && a->ncmps == 1 && a->nassigns == 2) {
		CHECK_STR(a->cmps[0].left, "$A");
		CHECK(a->cmps[0].lquoted && a->cmps[0].rquoted);
		CHECK(a->cmps[0].op == SP_OP_NE);
		CHECK_STR(a->assigns[0].name, "Line_Enable_1_");
		CHECK_STR(a->assigns[1].name, "GPP_B");
		CHECK_STR(a->assigns[1].value, "$MA");
		CHECK_STR(a->key, "$SC");
		CHECK(a->uid == NULL && a->pwd == NULL && a->post == 'c' &&
		    a->alias == 0 && !a->srv);
	}
	a = sp_rule_alt(r, 1);
	CHECK(a != NULL && a->ncmps == 0 && a->nassigns == 0 &&
	    a->cmps == NULL && a->assigns == NULL && a->key == NULL);
	CHECK(sp_rule_alt(r, 2) == NULL);
	sp_rule_free(r);
	CHECK(sp_rule_count(NULL) == 0);
	CHECK(sp_rule_alt(NULL, 0) == NULL);
	sp_rule_free(NULL);
	/* Only len bytes count. */
	r = sp_rule_parse("/a | garbage (", 2, &err);
	CHECK(r != NULL && sp_rule_count(r) == 1);
	CHECK_STR(r ? sp_rule_alt(r, 0)->url : NULL, "/a");
	sp_rule_free(r);
	r = sp_rule_parse(NULL, 0, &err);
	CHECK(r != NULL && sp_rule_count(r) == 0);
	sp_rule_free(r);
	/* A commented or empty rule has no alternative at all. */
	r = parse("#/x", &err);
	CHECK(r != NULL && sp_rule_count(r) == 0 && sp_rule_alt(r, 0) == NULL);
	sp_rule_free(r);
}

static void
t_limits(void)
{
	struct sp_rule *r;
	struct sp_err err;
	struct sp_buf b;
	int i;

	/* 4096 bytes pass, 4097 do not. */
	sp_buf_init(&b, 8192);
	sp_buf_printf(&b, "/");
	for (i = 1; i < 4096; i++)
		sp_buf_printf(&b, "a");
	r = parse(b.data, &err);
	CHECK(r != NULL && strlen(sp_rule_alt(r, 0)->url) == 4096);
	sp_rule_free(r);
	sp_buf_printf(&b, "a");
	CHECK(parse(b.data, &err) == NULL);
	CHECK_HAS(err.msg, "rule of 4097 bytes: longer than 4096 bytes");
	sp_buf_release(&b);

	/* 64 alternatives pass, 65 do not. */
	sp_buf_init(&b, 8192);
	for (i = 0; i < 63; i++)
		sp_buf_printf(&b, "(1=%d)?/%d|", i, i);
	sp_buf_printf(&b, "/last");
	r = parse(b.data, &err);
	CHECK(r != NULL && sp_rule_count(r) == 64);
	CHECK_STR(r ? sp_rule_alt(r, 63)->url : NULL, "/last");
	sp_rule_free(r);
	sp_buf_reset(&b);
	for (i = 0; i < 64; i++)
		sp_buf_printf(&b, "(1=%d)?/%d|", i, i);
	sp_buf_printf(&b, "/last");
	CHECK(parse(b.data, &err) == NULL);
	CHECK_HAS(err.msg, "more than 64 alternatives");
	sp_buf_release(&b);

	/* 32 comparisons pass, 33 do not. */
	sp_buf_init(&b, 8192);
	sp_buf_printf(&b, "(1=1");
	for (i = 1; i < 32; i++)
		sp_buf_printf(&b, " and %d=%d", i, i);
	sp_buf_printf(&b, ")?/x");
	r = parse(b.data, &err);
	CHECK(r != NULL && sp_rule_alt(r, 0)->ncmps == 32);
	sp_rule_free(r);
	sp_buf_reset(&b);
	sp_buf_printf(&b, "(1=1");
	for (i = 1; i < 33; i++)
		sp_buf_printf(&b, " and %d=%d", i, i);
	sp_buf_printf(&b, ")?/x");
	CHECK(parse(b.data, &err) == NULL);
	CHECK_HAS(err.msg, "more than 32 comparisons");
	sp_buf_release(&b);

	/* 64 assignments pass, 65 do not. */
	sp_buf_init(&b, 8192);
	sp_buf_printf(&b, "(");
	for (i = 0; i < 64; i++)
		sp_buf_printf(&b, "P%d=\"%d\";", i, i);
	sp_buf_printf(&b, ")!/x");
	r = parse(b.data, &err);
	CHECK(r != NULL && sp_rule_alt(r, 0)->nassigns == 64);
	CHECK_STR(r ? sp_rule_alt(r, 0)->assigns[63].value : NULL, "63");
	sp_rule_free(r);
	sp_buf_reset(&b);
	sp_buf_printf(&b, "(");
	for (i = 0; i < 65; i++)
		sp_buf_printf(&b, "P%d=\"%d\";", i, i);
	sp_buf_printf(&b, ")!/x");
	CHECK(parse(b.data, &err) == NULL);
	CHECK_HAS(err.msg, "more than 64 assignments");
	sp_buf_release(&b);

	/* The densest rule: many one-byte tokens. */
	sp_buf_init(&b, 8192);
	sp_buf_printf(&b, "(a=1");
	for (i = 1; i < 32; i++)
		sp_buf_printf(&b, " and a=1");
	sp_buf_printf(&b, ")?(");
	for (i = 0; i < 64; i++)
		sp_buf_printf(&b, "a=\"\";");
	sp_buf_printf(&b, ")![--key k --uid u --pwd p --post a --alias b"
	    " --srv --delta --status]/");
	r = parse(b.data, &err);
	CHECK(r != NULL);
	sp_rule_free(r);
	sp_buf_release(&b);
}

/* Conditions, each wrapped as a trigger and evaluated. */
static const struct {
	const char	*cond;
	const void	*vars;		/* override table, or NULL */
	int		 want;
	const char	*err;
} eval_rows[] = {
	/* Reference 3.1 trigger, both ways. */
	{ "$UPGTMR gt 300 and $PRVTMR ge 600", NULL, 1, NULL },
	{ "$UPGTMR gt 300 and $PRVTMR ge 600", new_vars, 0, NULL },
	/* Reference 2.1: quoted macros are strings. */
	{ "\"$CCERT\" eq \"Installed\"", NULL, 1, NULL },
	{ "\"$CCERT\" eq \"Installed\"", new_vars, 0, NULL },
	{ "\"$A\" ne \"Provisioned\"", NULL, 0, NULL },
	{ "\"$A\" ne \"Provisioned\"", new_vars, 1, NULL },
	/* Versions: unquoted $SWVER is parsed, model and .loads ignored. */
	{ "$SWVER ge sip88xx.11-3-2MPP0001-609", NULL, 1, NULL },
	{ "$SWVER eq 11-3-2MPP0001-609.loads", NULL, 1, NULL },
	{ "$SWVER lt sip88xx.11-3-2MPP0001-609", new_vars, 1, NULL },
	{ "$SWVER gt sip78xx.11-0-1MPP", new_vars, 1, NULL },
	{ "$SWVER ge 11-3-2", NULL, 1, NULL },
	{ "$SWVER ge 12", NULL, 0, NULL },
	{ "$SWVER gt 11", NULL, 1, NULL },
	{ "\"$SWVER\" eq \"sip88xx.11-3-2MPP0001-609\"", NULL, 1, NULL },
	{ "\"$SWVER\" ge sip88xx.11-3-2MPP0001-609", NULL, -1,
	    "ordering operator 'ge' on a string" },
	/* Integers compare by value, strings byte for byte. */
	{ "10 gt 9", NULL, 1, NULL },
	{ "010 eq 10", NULL, 1, NULL },
	{ "\"010\" eq \"10\"", NULL, 0, NULL },
	{ "010 eq \"10\"", NULL, 0, NULL },
	{ "123456789012345678901234567890 gt 123456789012345678901234567889",
	    NULL, 1, NULL },
	{ "99999999999999999999 lt 100000000000000000000", NULL, 1, NULL },
	{ "0 eq 000", NULL, 1, NULL },
	{ "5 le 5 and 5 ge 5 and 5 lt 6 and 6 gt 5 and 5 ne 6", NULL, 1,
	    NULL },
	{ "5 < 5", NULL, 0, NULL },
	{ "abc eq abc", NULL, 1, NULL },
	{ "abc ne abd", NULL, 1, NULL },
	{ "abc eq ABC", NULL, 0, NULL },
	{ "abc eq 1", NULL, 0, NULL },
	{ "\"a b\" eq \"a b\"", NULL, 1, NULL },
	{ "\"$EMPTY\" eq \"\"", NULL, 1, NULL },
	{ "$(MA:0:6) eq 000e08", NULL, 1, NULL },
	{ "$(MA:0:6) eq \"000e08\"", NULL, 1, NULL },
	{ "$PN eq CP-8841-3PCC", NULL, 1, NULL },
	{ "$NOPE eq \"$NOPE\"", NULL, 1, NULL },
	/* A sign is not a digit: $PRVST -1 is a string. */
	{ "$PRVST eq -1", NULL, 1, NULL },
	{ "$PRVST lt 0", NULL, -1, "ordering operator 'lt' on a string" },
	/* Ordering on strings is an error at evaluation time. */
	{ "abc lt abd", NULL, -1, "comparison 1 (abc lt abd): ordering "
	    "operator 'lt' on a string" },
	{ "\"$A\" gt \"x\"", NULL, -1, "comparison 1 (\"$A\" gt \"x\")" },
	{ "1 eq 1 and $PN le 5", NULL, -1, "comparison 2 ($PN le 5)" },
	{ "$EMPTY ge 1", NULL, -1, "ordering operator 'ge'" },
	{ "\"5\" gt 4", NULL, -1, "ordering operator 'gt'" },
	/* 'and' stops at the first false comparison. */
	{ "1 eq 2 and abc gt abd", NULL, 0, NULL },
	/* Conditions never see $SA..$SD. */
	{ "\"$SA\" eq \"sa-secret\"", NULL, 0, NULL },
	{ "\"$SA\" eq \"$SA\"", NULL, 1, NULL },
};

static void
t_eval_table(void)
{
	struct sp_macro_ctx ctx = { lookup, NULL, true };
	const struct sp_rule_alt *a;
	struct sp_rule *r;
	struct sp_err err;
	char name[200];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(eval_rows) / sizeof(eval_rows[0]); i++) {
		ROW_BEGIN();
		ctx.arg = (void *)(uintptr_t)eval_rows[i].vars;
		r = parse_trigger(eval_rows[i].cond, &err);
		CHECK(r != NULL);
		if (r != NULL) {
			a = sp_rule_alt(r, 0);
			err.msg[0] = '\0';
			rc = sp_rule_eval(a->cmps, a->ncmps, &ctx, &err);
			CHECK(rc == eval_rows[i].want);
			if (eval_rows[i].err != NULL)
				CHECK_HAS(err.msg, eval_rows[i].err);
			if (rc != eval_rows[i].want)
				printf("#   rc %d, %s\n", rc, err.msg);
		} else
			printf("#   %s\n", err.msg);
		sp_rule_free(r);
		snprintf(name, sizeof(name), "eval '%s'%s", eval_rows[i].cond,
		    eval_rows[i].vars ? " (new phone)" : "");
		ROW_END(name);
	}
}

static void
t_eval_edges(void)
{
	struct sp_macro_ctx ctx = { lookup, NULL, false };
	struct sp_rule_cmp c = { "$MA", "$MA", false, false, SP_OP_EQ };
	struct sp_err err;
	struct sp_rule *r;

	/* No comparison: true. */
	CHECK(sp_rule_eval(NULL, 0, &ctx, &err) == 1);
	CHECK(sp_rule_eval(&c, 1, &ctx, &err) == 1);
	CHECK(sp_rule_eval(&c, 1, NULL, &err) == 1);
	/* Trigger wrapping refuses text that closes the parenthesis. */
	CHECK(parse_trigger("1 eq 1)? /evil | (1 eq 1", &err) == NULL);
	CHECK(parse_trigger("1 eq 1)? (a=\"x\";)! (1 eq 1", &err) == NULL);
	CHECK(parse_trigger("", &err) == NULL);
	CHECK_HAS(err.msg, "empty '()'");
	r = parse_trigger("  $UPGTMR gt 300  ", &err);
	CHECK(r != NULL && sp_rule_alt(r, 0)->ncmps == 1);
	sp_rule_free(r);
}

static const struct {
	const char	*rule;
	const void	*vars;
	int		 want;
	size_t		 which;
	const char	*err;
} select_rows[] = {
	/* Reference 2.1 example: init-prov until provisioned. */
	{ "(\"$A\" ne \"Provisioned\")? (Line_Enable_1_ = \"No\";)! "
	    "https://p.tel.com/init-prov | https://p.tel.com/configs",
	    new_vars, 0, 0, NULL },
	{ "(\"$A\" ne \"Provisioned\")? (Line_Enable_1_ = \"No\";)! "
	    "https://p.tel.com/init-prov | https://p.tel.com/configs",
	    NULL, 0, 1, NULL },
	/* The first true alternative wins, not the last. */
	{ "(1 eq 2)? /a | (1 eq 1)? /b | (2 eq 2)? /c | /d", NULL, 0, 1,
	    NULL },
	{ "(1 eq 2)? /a | (1 eq 3)? /b | /d", NULL, 0, 2, NULL },
	{ "/only", NULL, 0, 0, NULL },
	/* None true, no unconditional alternative: 1. */
	{ "(1 eq 2)? /a | (1 eq 3)? /b", NULL, 1, 0, NULL },
	{ "($UPGTMR gt 300)? /x", new_vars, 1, 0, NULL },
	{ "", NULL, 1, 0, NULL },
	{ "# /x", NULL, 1, 0, NULL },
	/* An error stops the selection. */
	{ "(1 eq 2)? /a | (x gt y)? /b | /c", NULL, -1, 0,
	    "alternative 2: comparison 1 (x gt y): ordering operator 'gt'" },
	/* An error after the chosen alternative is not reached. */
	{ "(1 eq 1)? /a | (x gt y)? /b", NULL, 0, 0, NULL },
};

static void
t_select_table(void)
{
	struct sp_macro_ctx ctx = { lookup, NULL, false };
	struct sp_rule *r;
	struct sp_err err;
	char name[200];
	size_t i, which;
	int rc;

	for (i = 0; i < sizeof(select_rows) / sizeof(select_rows[0]); i++) {
		ROW_BEGIN();
		ctx.arg = (void *)(uintptr_t)select_rows[i].vars;
		r = parse(select_rows[i].rule, &err);
		CHECK(r != NULL);
		which = 99;
		err.msg[0] = '\0';
		rc = sp_rule_select(r, &ctx, &which, &err);
		CHECK(rc == select_rows[i].want);
		if (rc == 0)
			CHECK(which == select_rows[i].which);
		else
			CHECK(which == 99);
		if (select_rows[i].err != NULL)
			CHECK_HAS(err.msg, select_rows[i].err);
		sp_rule_free(r);
		snprintf(name, sizeof(name), "select '%s'%s",
		    select_rows[i].rule, select_rows[i].vars ? " (new phone)" :
		    "");
		ROW_END(name);
	}
}

static const struct {
	const char	*a, *b;
	int		 rc, cmp;
} version_rows[] = {
	/* Reference 2.1 formats, both orders. */
	{ "sip88xx.11-3-2MPP0001-609", "sip88xx.11-0-1MPP-376", 0, 1 },
	{ "sip88xx.11-0-1MPP-376", "sip88xx.11-3-2MPP0001-609", 0, -1 },
	{ "11-0-1MPP-376", "sip78xx.11-0-1MPP", 0, 1 },
	{ "sip78xx.11-0-1MPP", "11-0-1MPP-376", 0, -1 },
	{ "sip88xx.11-3-1MPP-376", "sip88xx.11-3-2MPP0001-609", 0, -1 },
	{ "sip88xx.11-3-2MPP0001-609", "sip88xx.11-3-1MPP-376", 0, 1 },
	/* Equal: model prefix and .loads ignored, missing fields are 0. */
	{ "sip88xx.11-3-2MPP0001-609", "11-3-2MPP0001-609", 0, 0 },
	{ "sip88xx.11-3-2MPP0001-609.loads", "sip78xx.11-3-2MPP0001-609", 0,
	    0 },
	{ "sip78xx.11-0-1MPP", "11-0-1MPP", 0, 0 },
	{ "11-0-1MPP", "11-0-1", 0, 0 },
	{ "11.3.1", "11-3-1", 0, 0 },
	{ "11.3", "11.3.0", 0, 0 },
	{ "11", "11-0-0MPP0000-0", 0, 0 },
	{ "11-3-2MPP0001-609", "11.3.2mpp1-609", 0, 0 },
	{ "SIP88XX.11-3-2MPP0001-609.LOADS", "11-3-2MPP0001-609", 0, 0 },
	/* Field by field: build last. */
	{ "11-3-2MPP0001-609", "11-3-2MPP0002-1", 0, -1 },
	{ "11-3-2MPP0002-1", "11-3-2MPP0001-609", 0, 1 },
	{ "11-3-2MPP0001-609", "11-3-2MPP0001-610", 0, -1 },
	{ "11-3-2MPP0001-609", "11-3-2MPP", 0, 1 },
	{ "12", "11-3-2MPP0001-609", 0, 1 },
	{ "2.0.1", "2.0.10", 0, -1 },
	{ "10-0-0", "9-9-9", 0, 1 },
	{ "11.3.1-5", "11.3.1-40", 0, -1 },
	/* Not versions. */
	{ "abc", "11", -1, 0 },
	{ "11", "", -1, 0 },
	{ "11-", "11", -1, 0 },
	{ "11-3-2MPP0001-609x", "11", -1, 0 },
	{ "sip88xx", "11", -1, 0 },
	{ "sip88xx.", "11", -1, 0 },
	{ "11--3", "11", -1, 0 },
	{ "-11", "11", -1, 0 },
	{ "11.3.1.4", "11", -1, 0 },
	{ "11-3-2MPP0001--609", "11", -1, 0 },
	{ "11-3MPP-5-6", "11", -1, 0 },
	{ "1 1", "11", -1, 0 },
	{ "CP-8841-3PCC", "11", -1, 0 },
	{ "11.loads.loads", "11", -1, 0 },
	{ ".loads", "11", -1, 0 },
	{ "99999999999999999999999", "11", -1, 0 },
};

static void
t_version_table(void)
{
	char name[200];
	size_t i;
	int cmp, rc;

	for (i = 0; i < sizeof(version_rows) / sizeof(version_rows[0]); i++) {
		ROW_BEGIN();
		cmp = 42;
		rc = sp_version_cmp(version_rows[i].a, version_rows[i].b, &cmp);
		CHECK(rc == version_rows[i].rc);
		if (rc == 0)
			CHECK((cmp > 0) - (cmp < 0) == version_rows[i].cmp);
		/* Either order: the same verdict. */
		CHECK(sp_version_cmp(version_rows[i].b, version_rows[i].a,
		    &cmp) == rc);
		snprintf(name, sizeof(name), "version '%s' vs '%s'",
		    version_rows[i].a, version_rows[i].b);
		ROW_END(name);
	}
}

static const struct {
	const char	*in, *scheme, *host;
	unsigned	 port;
	bool		 host_given;
	const char	*path, *err;
} url_rows[] = {
	/* Reference 2.2 examples, expanded and not. */
	{ "/$MA.cfg", "tftp", "", 69, false, "/$MA.cfg", NULL },
	{ "/000e08012345.cfg", "tftp", "", 69, false, "/000e08012345.cfg",
	    NULL },
	{ "/cisco/cfg.xml", "tftp", "", 69, false, "/cisco/cfg.xml", NULL },
	{ "192.168.1.130/profiles/init.cfg", "tftp", "192.168.1.130", 69,
	    true, "/profiles/init.cfg", NULL },
	{ "tftp://prov.call.com/cpe/cisco000e08012345.cfg", "tftp",
	    "prov.call.com", 69, true, "/cpe/cisco000e08012345.cfg", NULL },
	{ "http://neptune.speak.net:8080/prov/dir/file.cfg", "http",
	    "neptune.speak.net", 8080, true, "/prov/dir/file.cfg", NULL },
	{ "https://secure.me.com/profile?Linksys", "https", "secure.me.com",
	    443, true, "/profile?Linksys", NULL },
	{ "https://p.tel.com/init-prov", "https", "p.tel.com", 443, true,
	    "/init-prov", NULL },
	/* Edges. */
	{ "HTTPS://Secure.Me.com/x", "https", "Secure.Me.com", 443, true,
	    "/x", NULL },
	{ "http://a/", "http", "a", 80, true, "/", NULL },
	{ "tftp:///x", "tftp", "", 69, false, "/x", NULL },
	{ "prov.example.com:6969/x", "tftp", "prov.example.com", 6969, true,
	    "/x", NULL },
	{ "http://[2001:db8::1]:8080/x", "http", "2001:db8::1", 8080, true,
	    "/x", NULL },
	{ "https://h:1/x", "https", "h", 1, true, "/x", NULL },
	{ "https://h:65535/x", "https", "h", 65535, true, "/x", NULL },
	{ "https://h/a?u=http://x/y#z", "https", "h", 443, true,
	    "/a?u=http://x/y#z", NULL },
	{ "h_1.example/x", "tftp", "h_1.example", 69, true, "/x", NULL },
	/* Errors. */
	{ "gds://abc/x", NULL, NULL, 0, false, NULL,
	    "offset 0: unknown scheme 'gds' (tftp, http or https)" },
	{ "ftp://a/x", NULL, NULL, 0, false, NULL, "unknown scheme 'ftp'" },
	{ "://a/x", NULL, NULL, 0, false, NULL, "unknown scheme ''" },
	{ "http://a:0/x", NULL, NULL, 0, false, NULL,
	    "offset 9: port '0' is not in 1..65535" },
	{ "http://a:65536/x", NULL, NULL, 0, false, NULL,
	    "port '65536' is not in 1..65535" },
	{ "http://a:/x", NULL, NULL, 0, false, NULL,
	    "port '' is not in 1..65535" },
	{ "http://a:99999999999999999999999/x", NULL, NULL, 0, false, NULL,
	    "is not in 1..65535" },
	{ "http://:80/x", NULL, NULL, 0, false, NULL,
	    "offset 7: a port without a server name" },
	{ "cfg.xml", NULL, NULL, 0, false, NULL,
	    "offset 7: no path: the path must be absolute" },
	{ "http://host", NULL, NULL, 0, false, NULL,
	    "the path must be absolute" },
	{ "https://secure.me.com?Linksys", NULL, NULL, 0, false, NULL,
	    "offset 21: unexpected '?': after the server, the path must be "
	    "absolute" },
	{ "http://us@er/x", NULL, NULL, 0, false, NULL, "unexpected '@'" },
	{ "http://a:8x/x", NULL, NULL, 0, false, NULL, "unexpected 'x'" },
	{ "http:/x", NULL, NULL, 0, false, NULL, "port '' is not" },
	{ "/a b", NULL, NULL, 0, false, NULL,
	    "offset 2: byte 0x20 in the URL" },
	{ "/a\tb", NULL, NULL, 0, false, NULL, "byte 0x09" },
	{ "/a\xc3\xa9", NULL, NULL, 0, false, NULL, "offset 2: byte 0xc3" },
	{ "", NULL, NULL, 0, false, NULL, "empty URL" },
	{ "http://[zz]/x", NULL, NULL, 0, false, NULL,
	    "offset 7: bad IPv6 address" },
	{ "http://[::1/x", NULL, NULL, 0, false, NULL, "bad IPv6 address" },
	{ "http://[]/x", NULL, NULL, 0, false, NULL, "bad IPv6 address" },
};

static void
t_url_table(void)
{
	struct sp_url u;
	struct sp_err err;
	char name[200];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(url_rows) / sizeof(url_rows[0]); i++) {
		ROW_BEGIN();
		err.msg[0] = '\0';
		rc = sp_url_parse(url_rows[i].in, &u, &err);
		if (url_rows[i].err == NULL) {
			CHECK(rc == 0);
			if (rc != 0)
				printf("#   %s\n", err.msg);
			CHECK_STR(u.scheme, url_rows[i].scheme);
			CHECK_STR(u.host, url_rows[i].host);
			CHECK(u.port == url_rows[i].port);
			CHECK(u.host_given == url_rows[i].host_given);
			CHECK_STR(u.path, url_rows[i].path);
		} else {
			CHECK(rc == -1);
			CHECK_HAS(err.msg, url_rows[i].err);
		}
		ROW_END(row_name(name, sizeof(name), "url", url_rows[i].in));
	}
}

static void
t_url_lengths(void)
{
	struct sp_url u;
	struct sp_err err;
	char s[4200];

	/* A 2047-byte path fits, 2048 does not. */
	memcpy(s, "http://h", 8);
	memset(s + 8, 'p', 2047);
	s[8] = '/';
	s[8 + 2047] = '\0';
	CHECK(sp_url_parse(s, &u, &err) == 0 && strlen(u.path) == 2047);
	memset(s + 8, 'p', 2048);
	s[8] = '/';
	s[8 + 2048] = '\0';
	CHECK(sp_url_parse(s, &u, &err) == -1);
	CHECK_HAS(err.msg, "offset 8: path longer than 2047 bytes");
	/* A 253-byte server name fits, 254 does not. */
	memset(s, 'h', 253);
	memcpy(s + 253, "/x", 3);
	CHECK(sp_url_parse(s, &u, &err) == 0 && strlen(u.host) == 253);
	memset(s, 'h', 254);
	memcpy(s + 254, "/x", 3);
	CHECK(sp_url_parse(s, &u, &err) == -1);
	CHECK_HAS(err.msg, "server name longer than 253 bytes");
}

/* The whole path: parse, select, expand the URL, parse it. */
static void
t_end_to_end(void)
{
	struct sp_macro_ctx ctx = { lookup, NULL, false }, kctx;
	const struct sp_rule_alt *a;
	struct sp_rule *r;
	struct sp_err err;
	struct sp_buf url, key;
	struct sp_url u;
	size_t which;

	r = parse("($SWVER lt sip88xx.11-3-2MPP0001-609)? [--key $SC] "
	    "https://prov.example.com:8443/old/$MA.xml | [--uid $MA --pwd $SB]"
	    " https://prov.example.com/cfg/$(MA:0:6)/$MA.xml", &err);
	CHECK(r != NULL);
	CHECK(sp_rule_select(r, &ctx, &which, &err) == 0 && which == 1);
	a = sp_rule_alt(r, which);
	sp_buf_init(&url, 4096);
	CHECK(sp_macro_expand(&ctx, a->url, strlen(a->url), &url) == 0);
	CHECK(sp_url_parse(url.data, &u, &err) == 0);
	CHECK_STR(u.host, "prov.example.com");
	CHECK_STR(u.path, "/cfg/000e08/000e08012345.xml");
	/* Option arguments expand $SA..$SD; the URL does not. */
	kctx = ctx;
	kctx.secrets = true;
	sp_buf_init(&key, 256);
	key.secret = 1;
	CHECK(sp_macro_expand(&kctx, a->pwd, strlen(a->pwd), &key) == 0);
	CHECK_STR(key.data, "sb-secret");
	sp_buf_release(&key);
	ctx.arg = (void *)(uintptr_t)new_vars;
	CHECK(sp_rule_select(r, &ctx, &which, &err) == 0 && which == 0);
	sp_buf_reset(&url);
	a = sp_rule_alt(r, which);
	CHECK(sp_macro_expand(&ctx, a->url, strlen(a->url), &url) == 0);
	CHECK(sp_url_parse(url.data, &u, &err) == 0 && u.port == 8443);
	sp_buf_release(&url);
	sp_rule_free(r);
}

int
main(void)
{
	t_parse_table();
	t_error_table();
	RUN(t_parse_api);
	RUN(t_limits);
	t_eval_table();
	RUN(t_eval_edges);
	t_select_table();
	t_version_table();
	t_url_table();
	RUN(t_url_lengths);
	RUN(t_end_to_end);
	return t_done();
}
