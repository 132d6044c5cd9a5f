/*
 * Flat profiles: the Cisco MPP/SPA "open" XML configuration format.
 *
 *	<flat-profile>
 *	  <Station_Name ua="na">Lobby</Station_Name>
 *	  <Proxy_1_>sip.example.net</Proxy_1_>
 *	</flat-profile>
 *
 * A profile is an ordered set of parameters (name, value, ua).  Names are
 * Cisco element names: 1 to SP_PARAM_NAME_MAX bytes of [A-Za-z0-9_], not
 * starting with a digit; case-sensitive.  Values are UTF-8 without NUL, at
 * most SP_PARAM_VALUE_MAX bytes.  Setting an existing name replaces its
 * value and ua and keeps its position (the last duplicate wins, as on the
 * phone).
 *
 * Ownership: sp_profile_new()/sp_profile_parse() return a profile freed
 * with sp_profile_free(); parameter pointers are borrowed until the
 * profile is changed or freed.
 */
#ifndef SPROV_PROFILE_H
#define SPROV_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "sprov/buf.h"
#include "sprov/err.h"

enum sp_ua {
	SP_UA_NONE = 0,		/* no ua attribute */
	SP_UA_NA,		/* user: no access */
	SP_UA_RO,		/* user: read-only */
	SP_UA_RW,		/* user: read/write */
};

struct sp_param {
	const char	*name;
	const char	*value;
	size_t		 valuelen;
	enum sp_ua	 ua;
	/*
	 * Parsed from an empty-element tag, <X ua="rw"/>: phones leave the
	 * value alone and apply only ua (reference 4.1; <X></X> sets an
	 * empty value).  Set only by sp_profile_parse(); rendered back as
	 * <X/>; sp_profile_merge() honours it.
	 */
	bool		 keep;
};

struct sp_profile;

struct sp_profile	*sp_profile_new(void);
void			 sp_profile_free(struct sp_profile *);
const char		*sp_profile_error(const struct sp_profile *);

/* "na", "ro", "rw" or "" (none); -1 for anything else. */
int			 sp_ua_parse(const char *, enum sp_ua *);
const char		*sp_ua_name(enum sp_ua);	/* "" for NONE */
/* True when name is a valid parameter name (see above). */
bool			 sp_param_name_ok(const char *, size_t);

/* Adds or replaces; -1 with sp_profile_error() on a bad name or value. */
int			 sp_profile_set(struct sp_profile *, const char *name,
			    const char *value, size_t valuelen, enum sp_ua);
int			 sp_profile_unset(struct sp_profile *, const char *name);
const struct sp_param	*sp_profile_get(const struct sp_profile *,
			    const char *name);
size_t			 sp_profile_count(const struct sp_profile *);
const struct sp_param	*sp_profile_at(const struct sp_profile *, size_t);
/*
 * Applies src over dst: every parameter of src set in dst, except that a
 * "keep" parameter of src changes only the ua of an existing one.
 */
int			 sp_profile_merge(struct sp_profile *dst,
			    const struct sp_profile *src);

/*
 * Renders the profile as flat-profile XML (with an XML declaration, one
 * element per line, values escaped: & < > " and control characters as
 * numeric references; ua attribute when set).  Appends to out; -1 when
 * out's cap is reached.
 */
int			 sp_profile_render(const struct sp_profile *,
			    struct sp_buf *out);

/*
 * Parses flat-profile XML as a phone reads it (and as the server reads a
 * phone's report): root <flat-profile>, optionally inside <device>; an
 * XML declaration and comments are allowed; each child element is a
 * parameter; values are trimmed and newlines become spaces; <X/> and
 * <X></X> give an empty value; the ua attribute is kept; unknown
 * attributes are ignored; the last duplicate wins.  Refused, with the
 * reason and line in err: malformed XML, another root, nested elements
 * inside a parameter, DOCTYPE/entities (no entity expansion at all), a bad
 * name, a value or document over the limits (SP_PROFILE_*_MAX).
 */
struct sp_profile	*sp_profile_parse(const char *xml, size_t len,
			    struct sp_err *);

/*
 * The rule option --alias: any XML document, its elements mapped onto
 * parameters by map ("/path/in/xml = /flat-profile/Name ; ...", at most 30
 * entries).  The text of the first element at each path becomes the
 * parameter's value (trimmed, line breaks as spaces); paths not in the
 * document are left out.  DOCTYPE refused, depth and sizes bounded.
 */
struct sp_profile	*sp_profile_parse_alias(const char *xml, size_t len,
			    const char *map, size_t maplen, struct sp_err *);

#endif
