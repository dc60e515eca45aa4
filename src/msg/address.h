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
	char *domain;  /* domain without brackets' removal of literals
	                * ("[1.2.3.4]" stays), "" when missing; owned */
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
 * appends to list. Returns 0 on success; -1 on a syntax error, with
 * *err_pos (if not NULL) the byte offset where parsing failed and *err (if
 * not NULL) a static English description; the list then holds every
 * address that could be recovered. Returns -2 when out of memory. */
int msg_address_parse(const char *s, size_t len, struct msg_address_list *list,
                      size_t *err_pos, const char **err);

/* Frees every item; list is empty afterwards. */
void msg_address_list_free(struct msg_address_list *list);

/* Appends "local@domain" (local quoted when needed) to out. 0 or -1. */
int msg_address_spec(const struct msg_address *a, struct buf *out);

/* Appends the address formatted for a header: `Name <local@domain>` with the
 * name quoted when needed or RFC 2047-encoded when not ASCII; bare
 * local@domain when there is no name. 0 or -1. */
int msg_address_format(const struct msg_address *a, struct buf *out);

#endif
