/*
 * Profile rules (Profile_Rule.._D, Upgrade_Rule, Report_Rule) and resync
 * triggers, as in reference section 2:
 *
 *   rule   = alt *( "|" alt )          ; a leading '#' comments it all out
 *   alt    = [ "(" cond ")?" ] [ "(" assign ")!" ] [ "[" options "]" ] [ url ]
 *   cond   = cmp *( "and" cmp )        ; cmp = operand op operand
 *   op     = "=" / "eq" / "!=" / "ne" / "<" / "lt" / "<=" / "le" /
 *            ">" / "gt" / ">=" / "ge"
 *   assign = 1*( name "=" quoted-value ";" )   ; gpp_a..p may be a..p
 *   options= --key K / --uid U / --pwd P / --post X / --alias X / --srv /
 *            --delta / --status            (several in one bracket)
 *
 * Every alternative but the last must have a condition; the first whose
 * condition holds (or that has none) is chosen.  Parsing keeps operands,
 * values, option arguments and the URL unexpanded; evaluation expands
 * them with the caller's macro context.
 *
 * Ownership: sp_rule_parse() returns a rule freed with sp_rule_free();
 * strings in it are borrowed until then.
 */
#ifndef SPROV_RULE_H
#define SPROV_RULE_H

#include <stdbool.h>
#include <stddef.h>

#include "sprov/err.h"
#include "sprov/macro.h"

enum sp_rule_op { SP_OP_EQ, SP_OP_NE, SP_OP_LT, SP_OP_LE, SP_OP_GT,
    SP_OP_GE };

struct sp_rule_cmp {
	const char	*left, *right;		/* unexpanded, unquoted text */
	bool		 lquoted, rquoted;	/* quoted operands are strings */
	enum sp_rule_op	 op;
};

struct sp_rule_assign {
	const char	*name;			/* normalised: a -> GPP_A */
	const char	*value;			/* unexpanded */
};

struct sp_rule_alt {
	const struct sp_rule_cmp	*cmps;
	size_t				 ncmps;		/* 0: unconditional */
	const struct sp_rule_assign	*assigns;
	size_t				 nassigns;
	const char			*key, *uid, *pwd;	/* NULL: absent */
	char				 post, alias;	/* 'a'..'p' or 0 */
	bool				 srv, delta, status;
	const char			*url;		/* NULL: none */
};

struct sp_rule;

/* NULL with the reason (and byte offset) in err on a syntax error. */
struct sp_rule		*sp_rule_parse(const char *, size_t, struct sp_err *);
void			 sp_rule_free(struct sp_rule *);
size_t			 sp_rule_count(const struct sp_rule *);
const struct sp_rule_alt *sp_rule_alt(const struct sp_rule *, size_t);

/*
 * Evaluates a condition list (expanding operands with ctx): integers and
 * version numbers compare by value with all six operators; other (or
 * quoted) operands compare as strings, eq/ne only (an ordering operator on
 * strings is an error).  Returns 1 true, 0 false, -1 error.
 */
int			 sp_rule_eval(const struct sp_rule_cmp *, size_t n,
			    const struct sp_macro_ctx *, struct sp_err *);
/* The first alternative that applies: 0 with *which, 1 none, -1 error. */
int			 sp_rule_select(const struct sp_rule *,
			    const struct sp_macro_ctx *, size_t *which,
			    struct sp_err *);

/*
 * Firmware versions ("sip88xx.11-3-2MPP0001-609", "11-0-1MPP-376",
 * "sip78xx.11-0-1MPP"), compared field by field (major, minor, micro,
 * build), the model prefix and ".loads" ignored.  0 with *cmp <0/0/>0, or
 * -1 when either is not a version.
 */
int			 sp_version_cmp(const char *a, const char *b, int *cmp);

/*
 * [scheme://][server[:port]]/path after expansion: scheme tftp (default),
 * http or https, default ports 69/80/443; a missing server is allowed
 * (host_given false: the DHCP TFTP server).
 */
struct sp_url {
	char		 scheme[8];
	char		 host[256];
	unsigned	 port;
	bool		 host_given;
	char		 path[2048];		/* with the query */
};
int			 sp_url_parse(const char *, struct sp_url *,
			    struct sp_err *);

#endif
