/*
 * Browser input of the CA portal (sprov-ca serve): form bodies
 * (application/x-www-form-urlencoded and multipart/form-data, RFC 7578)
 * and the Cookie header (RFC 6265).  Everything here is untrusted, so the
 * parsers are strict: what a browser would not send, or what could be
 * read two ways, is refused with its cause rather than guessed at.  Pure
 * functions over bytes: bounded by the SP_FORM_* limits, linear in the
 * input, one allocation per parsed form, no I/O.
 *
 * Ownership: struct sp_form is caller-owned (on the stack is fine).  The
 * strings of its fields live in form->mem, one allocation owned by the
 * form; they stay valid until sp_form_release(), which wipes them (a login
 * form holds a password) and frees them.
 */
#ifndef SPROV_FORM_H
#define SPROV_FORM_H

#include <stddef.h>

#include "sprov/err.h"
#include "sprov/limits.h"

struct sp_form_field {
	char		*name;		/* NUL-terminated, decoded */
	char		*value;		/* NUL-terminated, decoded */
	size_t		 len;		/* value length */
	char		*filename;	/* multipart only, else NULL */
};

struct sp_form {
	struct sp_form_field	f[SP_FORM_FIELDS_MAX];
	size_t			n;
	char			*mem;	/* one allocation holding all strings */
};

void	sp_form_init(struct sp_form *);
/* Wipes and frees; accepts an initialised, parsed or failed form. */
void	sp_form_release(struct sp_form *);

/*
 * The parsers below fill a form that holds nothing (a form from an earlier
 * parse must be released first: it would leak).  On failure they return -1
 * with the cause in err and leave the form empty (n 0, mem NULL), so that
 * sp_form_release() is harmless either way.
 *
 * Field names, in both encodings: 1 to SP_FORM_NAME_MAX bytes of
 * printable ASCII once decoded, each at most once in a form ("field
 * \"days\" given twice"); at most SP_FORM_FIELDS_MAX fields, bodies of at
 * most SP_FORM_BODY_MAX bytes.
 */

/*
 * application/x-www-form-urlencoded: name=value pairs joined by '&', '+'
 * for a space, %XX escapes (a bad one is refused).  Every pair needs its
 * '='; an empty pair ("a=1&&b=2", a trailing '&') is refused; an empty
 * body is a form with no fields.  Values: a decoded NUL is refused, and
 * so is any control byte but TAB, CR and LF (so values are C strings:
 * len == strlen(value)).  Bytes 0x80 and above are kept as they are (no
 * UTF-8 check).
 */
int	sp_form_parse_urlencoded(struct sp_form *, const char *body,
	    size_t len, struct sp_err *);

/*
 * multipart/form-data (RFC 7578), the boundary taken from content_type
 * ("multipart/form-data; boundary=----WebKitFormBoundaryabc", quoted or
 * not; 1 to 70 characters of RFC 2046 bchars).  A preamble is allowed,
 * the closing "--boundary--" is required (then optional white space and,
 * after a CRLF, an epilogue which is ignored).  Each part's head (at most
 * SP_FORM_PART_HEADERS_MAX bytes, CRLF line ends, no folding) needs one
 * Content-Disposition: form-data; name="x" [; filename="y"], header and
 * parameter names compared case-insensitively; other headers are ignored
 * except Content-Transfer-Encoding, which is refused (it would change what
 * the bytes mean).  Quoted strings may not hold a backslash: RFC 2045
 * reads it as an escape, browsers (WHATWG) send it literally, and that
 * ambiguity is refused.
 *
 * A value is every byte of the part's body and may hold any byte, NUL
 * included (a DER file): use len; it is NUL-terminated all the same.
 * filename is NULL when the part had none, "" when a file input was left
 * empty, else a base name: refused if it holds '/', '\', a control byte,
 * or is "." or "..".  No %-decoding is done on names or file names.
 */
int	sp_form_parse_multipart(struct sp_form *, const char *content_type,
	    const char *body, size_t len, struct sp_err *);

/*
 * Either of the above, chosen by the media type of content_type (compared
 * case-insensitively; parameters allowed).  Anything else, or NULL, is
 * refused: "form: unsupported Content-Type ...".
 */
int	sp_form_parse(struct sp_form *, const char *content_type,
	    const char *body, size_t len, struct sp_err *);

/* The field named name (borrowed from the form), or NULL. */
const struct sp_form_field *sp_form_get(const struct sp_form *,
	    const char *name);

/*
 * A Cookie header value (RFC 6265 section 4.2.1: "a=b; c=d"): the value of
 * the cookie named name (a token, compared case-sensitively) into out,
 * NUL-terminated, DQUOTEs around it stripped.  Returns 1 found, 0 absent
 * (header NULL included), -1 with the cause: a malformed header (cookie
 * names must be tokens, values RFC 6265 cookie-octets, pairs separated by
 * ';' and spaces), a value of outsz bytes or more, or the name given twice
 * (a second cookie of the same name is how cookie tossing from a sibling
 * host works: which one is ours cannot be told, so neither is used).  out
 * is "" unless 1 is returned.
 */
int	sp_form_cookie(const char *header, const char *name, char *out,
	    size_t outsz, struct sp_err *);

#endif
