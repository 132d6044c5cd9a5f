#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprov/limits.h"
#include "sprov/rule.h"
#include "sprov/str.h"

/*
 * Bounds of one rule.  A rule is the value of one parameter (Profile_Rule,
 * Upgrade_Rule, Resync_Trigger_n ...); real rules stay well under 1 KB, so
 * these only stop hostile input.
 */
#define RULE_LEN_MAX		4096
#define RULE_ALTS_MAX		64
#define RULE_CMPS_MAX		32	/* per alternative */
#define RULE_ASSIGNS_MAX	64	/* per alternative */
/* An operand after expansion: at most one parameter value's worth. */
#define RULE_OPERAND_MAX	SP_PARAM_VALUE_MAX

/* Bytes that end a bare operand, value or name inside "( ... )". */
#define GROUP_STOPS		"\"()=!<>;|[]"

struct sp_rule {
	struct sp_rule_alt	*alts;
	size_t			 nalts;
	struct sp_rule_cmp	*cmps;		/* pooled */
	struct sp_rule_assign	*assigns;	/* pooled */
	char			*strs;		/* all the strings */
};

struct parser {
	const char		*s;
	size_t			 len, pos;
	struct sp_err		*err;
	struct sp_rule		*r;
	size_t			 ncmps, maxcmps;
	size_t			 nassigns, maxassigns;
	size_t			 slen, smax;
	size_t			 maxalts;
};

enum group { GROUP_COND, GROUP_ASSIGN };

static const char *const gpp_names[] = {
	"GPP_A", "GPP_B", "GPP_C", "GPP_D", "GPP_E", "GPP_F", "GPP_G",
	"GPP_H", "GPP_I", "GPP_J", "GPP_K", "GPP_L", "GPP_M", "GPP_N",
	"GPP_O", "GPP_P",
};

static const struct {
	const char	*name;
	enum sp_rule_op	 op;
} ops[] = {
	{ "=", SP_OP_EQ }, { "eq", SP_OP_EQ },
	{ "!=", SP_OP_NE }, { "ne", SP_OP_NE },
	{ "<", SP_OP_LT }, { "lt", SP_OP_LT },
	{ "<=", SP_OP_LE }, { "le", SP_OP_LE },
	{ ">", SP_OP_GT }, { "gt", SP_OP_GT },
	{ ">=", SP_OP_GE }, { "ge", SP_OP_GE },
};

static const char *const op_words[] = {
	[SP_OP_EQ] = "eq", [SP_OP_NE] = "ne", [SP_OP_LT] = "lt",
	[SP_OP_LE] = "le", [SP_OP_GT] = "gt", [SP_OP_GE] = "ge",
};

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A byte for a message: "'x'", or "byte 0xNN" when not printable. */
static const char *
show(char c, char buf[16])
{
	if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", (unsigned char)c);
	return buf;
}

static int
perr(struct parser *p, size_t off, const char *what)
{
	return sp_err_set(p->err, "offset %zu: %s", off, what);
}

static void
skip_ws(struct parser *p)
{
	while (p->pos < p->len && is_ws(p->s[p->pos]))
		p->pos++;
}

static bool
at_end(const struct parser *p)
{
	return p->pos >= p->len;
}

static const char *
store(struct parser *p, const char *src, size_t n)
{
	char *d;

	/* Cannot happen: every string comes from disjoint input bytes. */
	if (n >= p->smax - p->slen)
		return NULL;
	d = p->r->strs + p->slen;
	memcpy(d, src, n);
	d[n] = '\0';
	p->slen += n + 1;
	return d;
}

/* Length of a well-formed "$(NAME[:p[:q]])" at s[i], else 0. */
static size_t
macro_span(const struct parser *p, size_t i)
{
	size_t j;

	if (i + 1 >= p->len || p->s[i] != '$' || p->s[i + 1] != '(')
		return 0;
	for (j = i + 2; j < p->len; j++) {
		char c = p->s[j];

		if (c == ')')
			return j > i + 2 ? j + 1 - i : 0;
		if (!is_alpha(c) && !is_digit(c) && c != '_' && c != ':')
			return 0;
	}
	return 0;
}

/* A bare token at pos: up to whitespace or a byte of stops. */
static void
read_bare(struct parser *p, const char *stops, size_t *start, size_t *n)
{
	size_t m;

	*start = p->pos;
	while (p->pos < p->len) {
		if ((m = macro_span(p, p->pos)) > 0) {
			p->pos += m;
			continue;
		}
		if (is_ws(p->s[p->pos]) || strchr(stops, p->s[p->pos]) != NULL)
			break;
		p->pos++;
	}
	*n = p->pos - *start;
}

/* A "..." token at pos (no escapes: a backslash is literal). */
static int
read_quoted(struct parser *p, size_t *start, size_t *n)
{
	const char *q;
	size_t open = p->pos;

	q = memchr(p->s + open + 1, '"', p->len - open - 1);
	if (q == NULL)
		return perr(p, open, "unterminated quote: '\"' without a "
		    "closing '\"'");
	*start = open + 1;
	*n = (size_t)(q - (p->s + open + 1));
	p->pos = (size_t)(q - p->s) + 1;
	return 0;
}

/* An operand or value inside a group, quoted or bare. */
static int
read_operand(struct parser *p, size_t open, const char *what,
    const char **text, bool *quoted, size_t *at)
{
	char buf[256], cb[16];
	size_t start, n;

	skip_ws(p);
	*at = p->pos;
	if (at_end(p)) {
		snprintf(buf, sizeof(buf), "expected %s, found the end of the "
		    "rule ('(' at offset %zu is not closed)", what, open);
		return perr(p, p->pos, buf);
	}
	if (p->s[p->pos] == '"') {
		if (read_quoted(p, &start, &n) == -1)
			return -1;
		*quoted = true;
	} else {
		read_bare(p, GROUP_STOPS, &start, &n);
		if (n == 0) {
			snprintf(buf, sizeof(buf), "expected %s, found %s",
			    what, show(p->s[p->pos], cb));
			return perr(p, p->pos, buf);
		}
		*quoted = false;
	}
	if ((*text = store(p, p->s + start, n)) == NULL)
		return perr(p, start, "internal error: string space");
	return 0;
}

static int
read_op(struct parser *p, size_t open, enum sp_rule_op *op, bool *assign)
{
	char buf[256], cb[16];
	size_t start, n, i;

	skip_ws(p);
	start = p->pos;
	if (at_end(p)) {
		snprintf(buf, sizeof(buf), "expected an operator, found the "
		    "end of the rule ('(' at offset %zu is not closed)", open);
		return perr(p, start, buf);
	}
	if (strchr("=!<>", p->s[p->pos]) != NULL) {
		while (p->pos < p->len && strchr("=!<>", p->s[p->pos]) != NULL)
			p->pos++;
		n = p->pos - start;
	} else
		read_bare(p, GROUP_STOPS, &start, &n);
	if (n == 0) {
		snprintf(buf, sizeof(buf), "expected an operator (eq, ne, lt, "
		    "le, gt, ge, =, !=, <, <=, >, >=), found %s",
		    show(p->s[p->pos], cb));
		return perr(p, start, buf);
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (sp_str_ieq(p->s + start, n, ops[i].name)) {
			*op = ops[i].op;
			*assign = n == 1 && p->s[start] == '=';
			return 0;
		}
	snprintf(buf, sizeof(buf), "unknown operator '%.*s' (eq, ne, lt, le, "
	    "gt, ge, =, !=, <, <=, >, >=)", (int)(n > 32 ? 32 : n),
	    p->s + start);
	return perr(p, start, buf);
}

static bool
param_name(const char *s, size_t n)
{
	return n > 0 && n <= SP_PARAM_NAME_MAX && sp_str_charset(s, n, "_");
}

static const char *
norm_name(const char *name)
{
	if (name[0] >= 'a' && name[0] <= 'p' && name[1] == '\0')
		return gpp_names[name[0] - 'a'];
	return name;
}

static int
add_assign(struct parser *p, struct sp_rule_alt *alt, size_t at,
    const char *name, const char *value)
{
	struct sp_rule_assign *a;

	if (alt->nassigns >= RULE_ASSIGNS_MAX)
		return perr(p, at, "more than 64 assignments in one "
		    "alternative");
	if (p->nassigns >= p->maxassigns)
		return perr(p, at, "internal error: assignment space");
	a = &p->r->assigns[p->nassigns++];
	a->name = norm_name(name);
	a->value = value;
	alt->nassigns++;
	return 0;
}

/* After the first "name = value;" of a group: the rest and ")!". */
static int
parse_assigns(struct parser *p, struct sp_rule_alt *alt, size_t open)
{
	char buf[256], cb[16];
	const char *name, *value;
	size_t at, vat;
	bool quoted;

	for (;;) {
		skip_ws(p);
		if (at_end(p)) {
			snprintf(buf, sizeof(buf), "'(' at offset %zu has no "
			    "closing ')!'", open);
			return perr(p, open, buf);
		}
		if (p->s[p->pos] == ')') {
			at = p->pos++;
			skip_ws(p);
			if (!at_end(p) && p->s[p->pos] == '!') {
				p->pos++;
				return 0;
			}
			return perr(p, at, "expected ')!' after an "
			    "assignment");
		}
		if (read_operand(p, open, "a parameter name", &name, &quoted,
		    &at) == -1)
			return -1;
		if (quoted || !param_name(name, strlen(name))) {
			snprintf(buf, sizeof(buf), "bad parameter name '%.64s' "
			    "(letters, digits and '_')", name);
			return perr(p, at, buf);
		}
		skip_ws(p);
		if (at_end(p) || p->s[p->pos] != '=' || (p->pos + 1 < p->len &&
		    strchr("=!<>", p->s[p->pos + 1]) != NULL)) {
			snprintf(buf, sizeof(buf), "expected '=' after "
			    "parameter name '%.64s'", name);
			return perr(p, p->pos, buf);
		}
		p->pos++;
		if (read_operand(p, open, "a value", &value, &quoted,
		    &vat) == -1)
			return -1;
		skip_ws(p);
		if (at_end(p) || p->s[p->pos] != ';') {
			snprintf(buf, sizeof(buf), "expected ';' after the "
			    "value of '%.64s', found %s", name, at_end(p) ?
			    "the end of the rule" : show(p->s[p->pos], cb));
			return perr(p, p->pos, buf);
		}
		p->pos++;
		if (add_assign(p, alt, at, name, value) == -1)
			return -1;
	}
}

/*
 * "( cond )?" or "( assign )!" at pos.  The first item tells them apart:
 * "name = value" followed by ';' starts an assignment.
 */
static int
parse_group(struct parser *p, struct sp_rule_alt *alt, enum group *kind)
{
	char buf[256], cb[16];
	struct sp_rule_cmp c;
	size_t open = p->pos, at, start, n, first = p->ncmps;
	bool assign = false;

	p->pos++;
	skip_ws(p);
	if (!at_end(p) && p->s[p->pos] == ')')
		return perr(p, open, "empty '()': expected a condition or an "
		    "assignment");
	for (;;) {
		if (read_operand(p, open, "an operand", &c.left, &c.lquoted,
		    &at) == -1)
			return -1;
		if (read_op(p, open, &c.op, &assign) == -1)
			return -1;
		if (read_operand(p, open, "an operand", &c.right, &c.rquoted,
		    &start) == -1)
			return -1;
		skip_ws(p);
		if (!at_end(p) && p->s[p->pos] == ';') {
			if (p->ncmps > first || !assign || c.lquoted ||
			    !param_name(c.left, strlen(c.left)))
				return perr(p, p->pos, "unexpected ';': an "
				    "assignment is (name = \"value\"; ...)! "
				    "and a condition has no ';'");
			p->pos++;
			*kind = GROUP_ASSIGN;
			if (add_assign(p, alt, at, c.left, c.right) == -1)
				return -1;
			return parse_assigns(p, alt, open);
		}
		if (alt->ncmps >= RULE_CMPS_MAX)
			return perr(p, at, "more than 32 comparisons in one "
			    "condition");
		if (p->ncmps >= p->maxcmps)
			return perr(p, at, "internal error: comparison space");
		if (alt->ncmps == 0)
			alt->cmps = &p->r->cmps[p->ncmps];
		p->r->cmps[p->ncmps++] = c;
		alt->ncmps++;
		if (at_end(p)) {
			snprintf(buf, sizeof(buf), "'(' at offset %zu has no "
			    "closing ')?'", open);
			return perr(p, open, buf);
		}
		if (p->s[p->pos] == ')')
			break;
		read_bare(p, GROUP_STOPS, &start, &n);
		if (!sp_str_ieq(p->s + start, n, "and")) {
			if (n > 0)
				snprintf(buf, sizeof(buf), "expected 'and' or "
				    "')?' after a comparison, found '%.*s'",
				    (int)(n > 32 ? 32 : n), p->s + start);
			else
				snprintf(buf, sizeof(buf), "expected 'and' or "
				    "')?' after a comparison, found %s",
				    show(p->s[p->pos], cb));
			return perr(p, start, buf);
		}
	}
	at = p->pos++;
	skip_ws(p);
	if (!at_end(p) && p->s[p->pos] == '?') {
		p->pos++;
		*kind = GROUP_COND;
		return 0;
	}
	if (!at_end(p) && p->s[p->pos] == '!')
		return perr(p, at, "expected ')?' after a condition (in an "
		    "assignment, every value ends with ';')");
	return perr(p, at, "expected ')?' after a condition");
}

static int
parse_letter(struct parser *p, size_t at, const char *opt, const char *arg,
    char *out)
{
	char buf[256];
	char c = arg[0];

	if (c >= 'A' && c <= 'P')
		c = (char)(c - 'A' + 'a');
	if (c < 'a' || c > 'p' || arg[1] != '\0') {
		snprintf(buf, sizeof(buf), "option '%s' takes a letter a..p "
		    "(GPP_A..GPP_P), not '%.32s'", opt, arg);
		return perr(p, at, buf);
	}
	*out = c;
	return 0;
}

static int
opt_twice(struct parser *p, size_t at, const char *name)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "option '%s' given twice", name);
	return perr(p, at, buf);
}

/* "[ --opt [arg] ... ]" at pos. */
static int
parse_options(struct parser *p, struct sp_rule_alt *alt)
{
	static const char *const names[] = { "--key", "--uid", "--pwd",
	    "--post", "--alias", "--srv", "--delta", "--status" };
	char buf[256];
	const char *arg;
	size_t open = p->pos, at, start, n, i, aat;
	bool *flag;

	/* An unbalanced '[' is named as such, not by what follows it. */
	for (i = open + 1; i < p->len && p->s[i] != ']'; i++)
		if (p->s[i] == '"') {
			p->pos = i;
			if (read_quoted(p, &start, &n) == -1)
				return -1;
			i = p->pos - 1;
		}
	if (i >= p->len)
		return perr(p, open, "'[' without a closing ']'");
	p->pos = open + 1;
	for (;;) {
		skip_ws(p);
		/* A quoted argument may still run past the ']' found above. */
		if (at_end(p))
			return perr(p, open, "'[' without a closing ']'");
		if (p->s[p->pos] == ']') {
			p->pos++;
			return 0;
		}
		at = p->pos;
		read_bare(p, "]", &start, &n);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (n == strlen(names[i]) &&
			    memcmp(p->s + start, names[i], n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0])) {
			snprintf(buf, sizeof(buf), "unknown option '%.*s' "
			    "(--key, --uid, --pwd, --post, --alias, --srv, "
			    "--delta, --status)", (int)(n > 32 ? 32 : n),
			    p->s + start);
			return perr(p, at, buf);
		}
		if (i >= 5) {
			flag = i == 5 ? &alt->srv : i == 6 ? &alt->delta :
			    &alt->status;
			if (*flag)
				return opt_twice(p, at, names[i]);
			*flag = true;
			continue;
		}
		if ((i == 0 && alt->key != NULL) || (i == 1 &&
		    alt->uid != NULL) || (i == 2 && alt->pwd != NULL) ||
		    (i == 3 && alt->post != 0) || (i == 4 && alt->alias != 0))
			return opt_twice(p, at, names[i]);
		skip_ws(p);
		aat = p->pos;
		if (at_end(p) || p->s[p->pos] == ']' || (p->s[p->pos] == '-' &&
		    p->pos + 1 < p->len && p->s[p->pos + 1] == '-')) {
			snprintf(buf, sizeof(buf), "option '%s' needs an "
			    "argument", names[i]);
			return perr(p, at, buf);
		}
		if (p->s[p->pos] == '"') {
			if (read_quoted(p, &start, &n) == -1)
				return -1;
		} else
			read_bare(p, "]", &start, &n);
		if ((arg = store(p, p->s + start, n)) == NULL)
			return perr(p, start, "internal error: string space");
		switch (i) {
		case 0:
			alt->key = arg;
			break;
		case 1:
			alt->uid = arg;
			break;
		case 2:
			alt->pwd = arg;
			break;
		case 3:
			if (parse_letter(p, aat, names[i], arg,
			    &alt->post) == -1)
				return -1;
			break;
		default:
			if (parse_letter(p, aat, names[i], arg,
			    &alt->alias) == -1)
				return -1;
			break;
		}
	}
}

static int
parse_url(struct parser *p, struct sp_rule_alt *alt)
{
	size_t start, n;

	if (p->s[p->pos] == '"') {
		if (read_quoted(p, &start, &n) == -1)
			return -1;
		if (n == 0)
			return perr(p, start - 1, "empty quoted URL");
	} else
		read_bare(p, "|", &start, &n);
	if ((alt->url = store(p, p->s + start, n)) == NULL)
		return perr(p, start, "internal error: string space");
	return 0;
}

/* One alternative, from pos up to '|' or the end. */
static int
parse_alt(struct parser *p, struct sp_rule_alt *alt)
{
	enum { NONE, COND, ASSIGN, OPTIONS, URL } stage = NONE;
	enum group kind = GROUP_COND;
	char buf[128], cb[16];
	size_t at;
	char c;

	memset(alt, 0, sizeof(*alt));
	for (;;) {
		skip_ws(p);
		if (at_end(p) || p->s[p->pos] == '|')
			return 0;
		at = p->pos;
		c = p->s[p->pos];
		if (stage == URL) {
			snprintf(buf, sizeof(buf), "unexpected %s after the "
			    "URL: expected '|' or the end of the rule",
			    show(c, cb));
			return perr(p, at, buf);
		}
		switch (c) {
		case '(':
			if (stage >= OPTIONS)
				return perr(p, at, "'(' after options: a "
				    "condition and an assignment come before "
				    "options and the URL");
			if (parse_group(p, alt, &kind) == -1)
				return -1;
			if (kind == GROUP_COND && stage != NONE)
				return perr(p, at, stage == COND ? "a second "
				    "condition in one alternative (join "
				    "comparisons with 'and')" : "a condition "
				    "after the assignment: the condition comes "
				    "first");
			if (kind == GROUP_ASSIGN && stage == ASSIGN)
				return perr(p, at, "a second assignment in one "
				    "alternative (separate them with ';' in "
				    "one '( ... )!')");
			stage = kind == GROUP_COND ? COND : ASSIGN;
			break;
		case '[':
			if (stage == OPTIONS)
				return perr(p, at, "a second '[': give all "
				    "options in one bracket");
			if (parse_options(p, alt) == -1)
				return -1;
			stage = OPTIONS;
			break;
		case ')':
		case ']':
			snprintf(buf, sizeof(buf), "unbalanced %s",
			    show(c, cb));
			return perr(p, at, buf);
		default:
			if (parse_url(p, alt) == -1)
				return -1;
			stage = URL;
			break;
		}
	}
}

static void
rule_free(struct sp_rule *r)
{
	if (r == NULL)
		return;
	free(r->alts);
	free(r->cmps);
	free(r->assigns);
	free(r->strs);
	free(r);
}

struct sp_rule *
sp_rule_parse(const char *text, size_t len, struct sp_err *err)
{
	struct parser p;
	struct sp_rule *r = NULL;
	struct sp_rule_alt *alt;
	char buf[64];
	size_t i, at;

	memset(&p, 0, sizeof(p));
	p.s = text;
	p.len = len;
	p.err = err;
	if (text == NULL && len > 0) {
		sp_err_set(err, "no rule text");
		goto fail;
	}
	if (len > RULE_LEN_MAX) {
		sp_err_set(err, "rule of %zu bytes: longer than %d bytes", len,
		    RULE_LEN_MAX);
		goto fail;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		sp_err_set(err, "out of memory parsing a rule");
		goto fail;
	}
	p.r = r;
	skip_ws(&p);
	if (at_end(&p) || text[p.pos] == '#')
		return r;
	for (i = 0; i < len; i++)
		if (((unsigned char)text[i] < 0x20 && !is_ws(text[i])) ||
		    text[i] == 0x7f) {
			snprintf(buf, sizeof(buf), "control character 0x%02x",
			    (unsigned char)text[i]);
			perr(&p, i, buf);
			goto fail;
		}
	/* Each comparison takes 3 input bytes at least, each assignment 4. */
	p.maxalts = len / 2 + 1 < RULE_ALTS_MAX ? len / 2 + 1 : RULE_ALTS_MAX;
	p.maxcmps = len / 3 + 1;
	p.maxassigns = len / 4 + 1;
	p.smax = 2 * len + 2;
	if ((r->alts = calloc(p.maxalts, sizeof(*r->alts))) == NULL ||
	    (r->cmps = calloc(p.maxcmps, sizeof(*r->cmps))) == NULL ||
	    (r->assigns = calloc(p.maxassigns, sizeof(*r->assigns))) == NULL ||
	    (r->strs = malloc(p.smax)) == NULL) {
		sp_err_set(err, "out of memory parsing a rule");
		goto fail;
	}
	for (;;) {
		skip_ws(&p);
		at = p.pos;
		if (r->nalts >= p.maxalts) {
			perr(&p, at, "more than 64 alternatives");
			goto fail;
		}
		alt = &r->alts[r->nalts];
		if (parse_alt(&p, alt) == -1)
			goto fail;
		if (alt->ncmps == 0 && alt->nassigns == 0 && alt->key == NULL &&
		    alt->uid == NULL && alt->pwd == NULL && alt->post == 0 &&
		    alt->alias == 0 && !alt->srv && !alt->delta &&
		    !alt->status && alt->url == NULL) {
			perr(&p, at, "empty alternative");
			goto fail;
		}
		r->nalts++;
		if (at_end(&p))
			break;
		/* At '|': this alternative is not the last. */
		p.pos++;
		skip_ws(&p);
		if (at_end(&p) || text[p.pos] == '|') {
			perr(&p, p.pos, "empty alternative");
			goto fail;
		}
		if (alt->ncmps == 0) {
			snprintf(buf, sizeof(buf), "alternative %zu has no "
			    "condition but is not the last", r->nalts);
			perr(&p, at, buf);
			goto fail;
		}
	}
	/* Assignments are pooled in order: point each alt at its own. */
	for (i = 0, at = 0; i < r->nalts; i++) {
		r->alts[i].assigns = r->alts[i].nassigns ? &r->assigns[at] :
		    NULL;
		at += r->alts[i].nassigns;
	}
	return r;
fail:
	rule_free(r);
	return NULL;
}

void
sp_rule_free(struct sp_rule *r)
{
	rule_free(r);
}

size_t
sp_rule_count(const struct sp_rule *r)
{
	return r != NULL ? r->nalts : 0;
}

const struct sp_rule_alt *
sp_rule_alt(const struct sp_rule *r, size_t i)
{
	if (r == NULL || i >= r->nalts)
		return NULL;
	return &r->alts[i];
}

/* Version numbers. */

struct version {
	uint64_t	f[5];	/* major, minor, micro, MPP build, build */
};

static int
version_num(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t st = *i;

	while (*i < n && is_digit(s[*i]))
		(*i)++;
	return sp_str_u64(s + st, *i - st, 0, UINT64_MAX, v);
}

/*
 * [model "."] major [sep minor [sep micro]] ["MPP" [mppbuild]] ["-" build]
 * [".loads"], sep '-' or '.'; "-build" only after micro or "MPP".
 */
static int
version_parse(const char *s, size_t n, struct version *v)
{
	size_t i = 0, groups = 1;
	bool mpp = false;

	memset(v, 0, sizeof(*v));
	if (n >= 6 && sp_str_ieq(s + n - 6, 6, ".loads"))
		n -= 6;
	if (n > 0 && is_alpha(s[0])) {
		while (i < n && (is_alpha(s[i]) || is_digit(s[i]) ||
		    s[i] == '_' || s[i] == '-'))
			i++;
		if (i >= n || s[i] != '.')
			return -1;
		i++;
	}
	if (version_num(s, n, &i, &v->f[0]) == -1)
		return -1;
	while (groups < 3 && i + 1 < n && (s[i] == '-' || s[i] == '.') &&
	    is_digit(s[i + 1])) {
		i++;
		if (version_num(s, n, &i, &v->f[groups]) == -1)
			return -1;
		groups++;
	}
	if (n - i >= 3 && sp_str_ieq(s + i, 3, "MPP")) {
		i += 3;
		mpp = true;
		if (i < n && is_digit(s[i]) &&
		    version_num(s, n, &i, &v->f[3]) == -1)
			return -1;
	}
	if ((groups == 3 || mpp) && i + 1 < n && s[i] == '-' &&
	    is_digit(s[i + 1])) {
		i++;
		if (version_num(s, n, &i, &v->f[4]) == -1)
			return -1;
	}
	return i == n ? 0 : -1;
}

static int
version_order(const struct version *a, const struct version *b)
{
	size_t i;

	for (i = 0; i < 5; i++)
		if (a->f[i] != b->f[i])
			return a->f[i] < b->f[i] ? -1 : 1;
	return 0;
}

int
sp_version_cmp(const char *a, const char *b, int *cmp)
{
	struct version va, vb;

	if (a == NULL || b == NULL || version_parse(a, strlen(a), &va) == -1 ||
	    version_parse(b, strlen(b), &vb) == -1)
		return -1;
	*cmp = version_order(&va, &vb);
	return 0;
}

/* Evaluation. */

static bool
is_integer(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* Decimal digit strings of any length, by value. */
static int
integer_order(const char *a, size_t an, const char *b, size_t bn)
{
	int d;

	while (an > 1 && a[0] == '0') {
		a++;
		an--;
	}
	while (bn > 1 && b[0] == '0') {
		b++;
		bn--;
	}
	if (an != bn)
		return an < bn ? -1 : 1;
	d = memcmp(a, b, an);
	return d < 0 ? -1 : d > 0;
}

static bool
holds(enum sp_rule_op op, int order)
{
	switch (op) {
	case SP_OP_EQ:
		return order == 0;
	case SP_OP_NE:
		return order != 0;
	case SP_OP_LT:
		return order < 0;
	case SP_OP_LE:
		return order <= 0;
	case SP_OP_GT:
		return order > 0;
	case SP_OP_GE:
		return order >= 0;
	}
	return false;
}

static const char *
buf_text(const struct sp_buf *b)
{
	return b->data != NULL ? b->data : "";
}

/* 1 holds, 0 does not, -1 ordering on strings. */
static int
compare(const struct sp_rule_cmp *c, const struct sp_buf *l,
    const struct sp_buf *r)
{
	struct version vl, vr;
	const char *a = buf_text(l), *b = buf_text(r);
	int order;

	if (!c->lquoted && !c->rquoted) {
		if (is_integer(a, l->len) && is_integer(b, r->len))
			return holds(c->op, integer_order(a, l->len, b,
			    r->len));
		if (version_parse(a, l->len, &vl) == 0 &&
		    version_parse(b, r->len, &vr) == 0)
			return holds(c->op, version_order(&vl, &vr));
	}
	if (c->op != SP_OP_EQ && c->op != SP_OP_NE)
		return -1;
	order = l->len == r->len && memcmp(a, b, l->len) == 0 ? 0 : 1;
	return holds(c->op, order);
}

int
sp_rule_eval(const struct sp_rule_cmp *cmps, size_t n,
    const struct sp_macro_ctx *ctx, struct sp_err *err)
{
	struct sp_macro_ctx mc = { NULL, NULL, false };
	struct sp_buf l, r;
	const struct sp_rule_cmp *c;
	size_t i;
	int rc = -1, h;

	/* $SA..$SD never expand in a condition, whatever the caller says. */
	if (ctx != NULL) {
		mc.lookup = ctx->lookup;
		mc.arg = ctx->arg;
	}
	sp_buf_init(&l, RULE_OPERAND_MAX);
	sp_buf_init(&r, RULE_OPERAND_MAX);
	for (i = 0; i < n; i++) {
		c = &cmps[i];
		sp_buf_reset(&l);
		sp_buf_reset(&r);
		if (sp_macro_expand(&mc, c->left, strlen(c->left), &l) == -1 ||
		    sp_macro_expand(&mc, c->right, strlen(c->right),
		    &r) == -1) {
			sp_err_set(err, "comparison %zu: an operand expands to "
			    "more than %d bytes (or memory is short)", i + 1,
			    RULE_OPERAND_MAX);
			goto out;
		}
		if ((h = compare(c, &l, &r)) == -1) {
			sp_err_set(err, "comparison %zu (%s%.64s%s %s "
			    "%s%.64s%s): ordering operator '%s' on a string; "
			    "only integers and versions are ordered (quoted "
			    "operands are strings)", i + 1,
			    c->lquoted ? "\"" : "", c->left,
			    c->lquoted ? "\"" : "", op_words[c->op],
			    c->rquoted ? "\"" : "", c->right,
			    c->rquoted ? "\"" : "", op_words[c->op]);
			goto out;
		}
		if (!h) {
			rc = 0;
			goto out;
		}
	}
	rc = 1;
out:
	sp_buf_release(&l);
	sp_buf_release(&r);
	return rc;
}

int
sp_rule_select(const struct sp_rule *rule, const struct sp_macro_ctx *ctx,
    size_t *which, struct sp_err *err)
{
	const struct sp_rule_alt *a;
	size_t i;
	int rc;

	for (i = 0; i < sp_rule_count(rule); i++) {
		a = &rule->alts[i];
		rc = sp_rule_eval(a->cmps, a->ncmps, ctx, err);
		if (rc == -1) {
			sp_err_prefix(err, "alternative %zu", i + 1);
			return -1;
		}
		if (rc == 1) {
			*which = i;
			return 0;
		}
	}
	return 1;
}

/* URLs. */

static int
url_err(struct sp_err *err, size_t off, const char *what)
{
	return sp_err_set(err, "offset %zu: %s", off, what);
}

static bool
host_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
}

int
sp_url_parse(const char *s, struct sp_url *u, struct sp_err *err)
{
	static const struct {
		const char	*name;
		unsigned	 port;
	} schemes[] = { { "tftp", 69 }, { "http", 80 }, { "https", 443 } };
	char buf[128];
	const char *slash;
	size_t len, i, si, hs, he, ps, pe;
	uint64_t port;

	memset(u, 0, sizeof(*u));
	if (s == NULL || (len = strlen(s)) == 0)
		return sp_err_set(err, "empty URL");
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f) {
			snprintf(buf, sizeof(buf), "byte 0x%02x in the URL: no "
			    "spaces, control characters or non-ASCII bytes",
			    (unsigned char)s[i]);
			return url_err(err, i, buf);
		}
	/* A scheme is "name://" before the first '/'. */
	slash = memchr(s, '/', len);
	i = 0;
	si = 0;
	if (slash != NULL && slash > s && slash[-1] == ':' && slash[1] == '/') {
		size_t n = (size_t)(slash - s) - 1;

		for (si = 0; si < sizeof(schemes) / sizeof(schemes[0]); si++)
			if (sp_str_ieq(s, n, schemes[si].name))
				break;
		if (si == sizeof(schemes) / sizeof(schemes[0])) {
			snprintf(buf, sizeof(buf), "unknown scheme '%.*s' "
			    "(tftp, http or https)", (int)(n > 16 ? 16 : n), s);
			return url_err(err, 0, buf);
		}
		i = n + 3;
	}
	memcpy(u->scheme, schemes[si].name, strlen(schemes[si].name) + 1);
	u->port = schemes[si].port;
	/* The server: up to the path. */
	hs = i;
	if (i < len && s[i] == '[') {
		/* An IPv6 literal: the host is kept without the brackets. */
		hs = ++i;
		while (i < len && (is_digit(s[i]) || s[i] == ':' ||
		    s[i] == '.' || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			i++;
		if (i == len || s[i] != ']' || i == hs)
			return url_err(err, hs - 1, "bad IPv6 address in "
			    "brackets");
		he = i++;
	} else {
		while (i < len && host_char(s[i]))
			i++;
		he = i;
	}
	if (i < len && s[i] == ':') {
		ps = ++i;
		while (i < len && is_digit(s[i]))
			i++;
		pe = i;
		if (he == hs)
			return url_err(err, hs, "a port without a server name");
		if (sp_str_u64(s + ps, pe - ps, 1, 65535, &port) == -1) {
			snprintf(buf, sizeof(buf), "port '%.*s' is not in "
			    "1..65535", (int)(pe - ps > 24 ? 24 : pe - ps),
			    s + ps);
			return url_err(err, ps, buf);
		}
		u->port = (unsigned)port;
	}
	if (he > hs) {
		if (he - hs > SP_FQDN_MAX)
			return url_err(err, hs, "server name longer than 253 "
			    "bytes");
		memcpy(u->host, s + hs, he - hs);
		u->host[he - hs] = '\0';
		u->host_given = true;
	}
	if (i == len)
		return url_err(err, i, "no path: the path must be absolute "
		    "(start with '/')");
	if (s[i] != '/') {
		snprintf(buf, sizeof(buf), "unexpected '%c': after the server, "
		    "the path must be absolute (start with '/')", s[i]);
		return url_err(err, i, buf);
	}
	if (len - i >= sizeof(u->path))
		return url_err(err, i, "path longer than 2047 bytes");
	memcpy(u->path, s + i, len - i + 1);
	return 0;
}
