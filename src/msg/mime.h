/* mime: the structured MIME fields: Content-Type and Content-Disposition
 * with their parameters (quoted strings, comments, RFC 2231 continuations
 * and charset'language' values, RFC 2047 words some mailers put in quoted
 * names), and Content-Transfer-Encoding. No I/O, no globals. */
#ifndef POSTHORN_MSG_MIME_H
#define POSTHORN_MSG_MIME_H

#include <stddef.h>

#include "../lib/buf.h"

struct msg_param {
	char *name;     /* lowercased, without any RFC 2231 "*0*" suffix; owned */
	char *value;    /* decoded to UTF-8 (continuations joined, %XX and the
	                 * charset converted, encoded-words decoded); owned */
	char *charset;  /* the RFC 2231 charset as written, or NULL; owned */
	char *lang;     /* the RFC 2231 language, or NULL; owned */
};

struct msg_ctype {
	char *type;     /* lowercased; for Content-Disposition the disposition
	                 * ("attachment", "inline"); owned; NULL when the field
	                 * was unusable */
	char *subtype;  /* lowercased; NULL for Content-Disposition; owned */
	struct msg_param *params; /* owned, in first-seen order, names unique
	                           * (the first occurrence wins) */
	size_t nparams;
};

/* Parses a Content-Type value (folded or not) into ct, which must be zeroed
 * or freed first. A value without "/" or with an empty type or subtype gives
 * ct->type NULL and returns 1 (the caller applies the default); the
 * parameters found are still filled in. Garbage parameters are skipped.
 * "boundary" is kept byte for byte (no RFC 2047 or charset decoding).
 * Returns 0, 1, or -1 when out of memory (ct is then empty). */
int msg_ctype_parse(const char *s, size_t len, struct msg_ctype *ct);

/* Parses a Content-Disposition value: type only, no subtype. Same returns;
 * a value that starts with a parameter ("filename=x") gives type NULL, 1,
 * and the parameters. */
int msg_disposition_parse(const char *s, size_t len, struct msg_ctype *ct);

/* The value of parameter name (case-insensitive), or NULL. Lives as ct. */
const char *msg_ctype_param(const struct msg_ctype *ct, const char *name);

/* Sets ct to type/subtype with no parameters (for defaults). 0 or -1. */
int msg_ctype_set(struct msg_ctype *ct, const char *type, const char *subtype);

void msg_ctype_free(struct msg_ctype *ct);

enum msg_cte {
	MSG_CTE_7BIT = 0, /* also the default when the field is absent */
	MSG_CTE_8BIT,
	MSG_CTE_BINARY,
	MSG_CTE_BASE64,
	MSG_CTE_QP,
	MSG_CTE_UNKNOWN,  /* something else (x-uuencode...): served undecoded */
};

/* Parses a Content-Transfer-Encoding value, case-insensitive, comments and
 * whitespace ignored. Absent or empty gives MSG_CTE_7BIT. */
enum msg_cte msg_cte_parse(const char *s, size_t len);

/* "7bit", "8bit", "binary", "base64", "quoted-printable" or "unknown". */
const char *msg_cte_name(enum msg_cte cte);

/* Appends the form of a parameter for a header: `; name=value`, with value
 * quoted when needed, or RFC 2231 `name*=utf-8''%E4...` when the value is
 * not ASCII, holds control characters or "=?" (which readers would take
 * for an RFC 2047 word). Values too long for a line are split into
 * `name*0*=...; name*1*=...` (or `name*0="..."`) continuations, never
 * inside a UTF-8 character, so no line exceeds 78 columns. *col is the
 * current column, updated; a fold (";\r\n ") is inserted before the
 * parameter when it would pass 76. name must be a token without '*'.
 * Returns 0, or -1 for a bad name, out's limit or memory. */
int msg_param_format(const char *name, const char *value, size_t *col,
                     struct buf *out);

#endif
