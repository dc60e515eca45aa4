/* address: RFC 5322 address lists (From, To, Cc, Reply-To, ...): display
 * names from atoms, quoted strings and RFC 2047 encoded-words, angle
 * addresses, groups, comments and obsolete routes. Garbage gives an error
 * position and a best-effort partial list, never a crash. No I/O. */
#ifndef POSTHORN_MSG_ADDRESS_H
#define POSTHORN_MSG_ADDRESS_H

#include <stddef.h>

#include "../lib/buf.h"

struct msg_address {
	char *name;    /* display name as UTF-8, "" when none; owned */
	char *local;   /* local part, quotes removed ("" when missing); owned */
	char *domain;  /* domain, CFWS removed; literals keep their brackets
	                * ("[1.2.3.4]"), "" when missing; owned */
	char *group;   /* display name of the enclosing group as UTF-8, or NULL */
};

struct msg_address_list {
	struct msg_address *items; /* owned */
	size_t count;
	size_t cap;
	size_t groups;             /* groups seen, even empty ones like
	                            * "undisclosed-recipients:;" */
};

/* Parses s[0..len) (folded or not: CR and LF count as whitespace) and
 * appends to list (zero it before the first call). Returns 0 on success;
 * -1 on a syntax error, with *err_pos (if not NULL) the byte offset of the
 * first error and *err (if not NULL) a static English description; parsing
 * resumes after the next ',' so the list then holds every address that
 * could be recovered. Returns -2 when out of memory.
 * Details: names are trimmed ("" when none); with no phrase, the first
 * comment after the address names it ("a@b (John Doe)"); quoted strings
 * and encoded-words in names are decoded; an unquoted name holding '@'
 * ("a@b <a@b>") is taken as a name; "<>" gives local "" and domain "";
 * ';' outside a group separates like ','; groups do not nest. */
int msg_address_parse(const char *s, size_t len, struct msg_address_list *list,
                      size_t *err_pos, const char **err);

/* Frees every item; list is empty afterwards. */
void msg_address_list_free(struct msg_address_list *list);

/* Appends "local@domain" (local quoted unless a dot-atom; "@domain" left
 * out when the domain is "") to out. 0 or -1. */
int msg_address_spec(const struct msg_address *a, struct buf *out);

/* Appends the address formatted for a header: `Name <local@domain>` with the
 * name quoted when needed or RFC 2047-encoded when not ASCII; bare
 * local@domain when there is no name ("<>" for the null address). CR and
 * LF in a name become spaces, so the result is always one header line's
 * worth. 0 or -1. */
int msg_address_format(const struct msg_address *a, struct buf *out);

#endif
