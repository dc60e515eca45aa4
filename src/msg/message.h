/* message: a whole message parsed into a MIME part tree. The tree keeps byte
 * offsets into the caller's bytes and copies no content, so a server can
 * serve any section (IMAP BODY[1.2]) straight from the file. Multiparts of
 * every subtype, message/rfc822 recursively, preambles, epilogues, missing
 * final boundaries and boundary-like lines are handled; depth and part counts
 * are bounded. No I/O, no globals. */
#ifndef POSTHORN_MSG_MESSAGE_H
#define POSTHORN_MSG_MESSAGE_H

#include <stddef.h>

#include "../lib/buf.h"
#include "header.h"
#include "mime.h"

/* Flags on a part (and OR-ed into msg_message.warnings). */
enum {
	MSG_PART_NO_END_BOUNDARY = 1 << 0, /* multipart ended without "--b--"
	                                    * (no delimiter at all: no children,
	                                    * the whole body is preamble) */
	MSG_PART_NO_BOUNDARY = 1 << 1,     /* multipart without boundary param:
	                                    * treated as a single text part (its
	                                    * ctype becomes text/plain) */
	MSG_PART_DEPTH_LIMIT = 1 << 2,     /* nesting cut here: not descended */
	MSG_PART_PART_LIMIT = 1 << 3,      /* too many parts: rest not split */
	MSG_PART_BAD_HEADER = 1 << 4,      /* header flags reported damage
	                                    * (bad lines, NULs, truncation, or a
	                                    * non-field line ending the header) */
	MSG_PART_BAD_CTYPE = 1 << 5,       /* Content-Type unusable: defaulted */
};

struct msg_part {
	struct msg_part *parent;
	struct msg_part *child;    /* first child; for message/rfc822 the single
	                            * child is the embedded message's root part */
	struct msg_part *next;     /* next sibling */
	size_t nchildren;

	size_t offset;             /* first byte of the part's header */
	size_t header_len;         /* header bytes, including the blank line */
	size_t body_offset;        /* == offset + header_len */
	size_t body_len;           /* body bytes, excluding the CRLF that belongs
	                            * to the following boundary line */
	size_t body_lines;         /* lines in the body (IMAP's body-fld-lines):
	                            * its LFs, plus one for a last line without
	                            * one; not counted (0) for multiparts */

	/* multipart only: the text before the first and after the last
	 * boundary (lengths 0 when absent) */
	size_t preamble_offset, preamble_len;
	size_t epilogue_offset, epilogue_len;

	struct msg_header header;  /* this part's fields (point into the input) */
	struct msg_ctype ctype;    /* always set: defaults to text/plain;
	                            * charset=us-ascii, or message/rfc822 inside
	                            * multipart/digest */
	struct msg_ctype disposition; /* .type NULL when absent */
	enum msg_cte cte;
	char *content_id;          /* without <>, or NULL; owned */
	char *description;         /* decoded UTF-8, or NULL; owned */
	int depth;                 /* 0 for the root */
	unsigned flags;
};

/* 0 (or a negative depth) means the default. */
struct msg_limits {
	int max_depth;             /* nesting of multiparts and messages (default
	                            * 50, at most 200 whatever is asked) */
	size_t max_parts;          /* parts in the whole tree (default 10000) */
	size_t max_fields;         /* fields per header block (default 10000) */
};

struct msg_message {
	const char *data;          /* the caller's bytes; not owned */
	size_t len;
	struct msg_part *root;     /* owned */
	size_t nparts;
	unsigned warnings;         /* OR of every part's flags */
};

/* Parses data[0..len) (CRLF or bare LF line ends) into a new message the
 * caller frees with msg_message_free. data must outlive it. limits NULL
 * means the defaults. Any bytes give a tree (damage shows in warnings);
 * returns NULL only when out of memory. */
struct msg_message *msg_parse(const char *data, size_t len,
                              const struct msg_limits *limits);

/* Frees the tree; *m becomes NULL. Accepts NULL and *m NULL. */
void msg_message_free(struct msg_message **m);

/* Appends the body of p with its transfer encoding undone. Returns 0, or -1
 * on out's limit or memory. */
int msg_part_decode(const struct msg_message *m, const struct msg_part *p,
                    struct buf *out);

/* Appends the decoded body of p converted to UTF-8 from its charset
 * parameter (8-bit text without one, or labelled us-ascii, is detected).
 * Returns a msg_charset_result (OK, LOSSY, UNKNOWN, ERROR). */
int msg_part_text(const struct msg_message *m, const struct msg_part *p,
                  struct buf *out);

/* The part's file name decoded to UTF-8: Content-Disposition filename
 * (RFC 2231 or RFC 2047 or raw 8-bit), else Content-Type name. A new string
 * the caller frees, or NULL when there is none. Not made safe for a file
 * system: that is the caller's job. */
char *msg_part_filename(const struct msg_part *p);

/* True when the part is an attachment to list or save: a disposition of
 * attachment, or a file name, or a non-text leaf that is not the body
 * (a non-multipart, non-text child of a multipart, message/rfc822 included;
 * never a multipart). */
int msg_part_is_attachment(const struct msg_part *p);

/* Appends the IMAP section number of p to out (RFC 3501 6.4.5): the root
 * of a message is "" when it is a multipart and "1" when it is not (BODY[1]
 * of a single-part message is its body); children of a multipart are
 * parent.1, parent.2, ...; the embedded root under a message/rfc822 part
 * numbered S is S itself when it is a multipart (its children are S.1, ...)
 * and S.1 when it is not. Returns 0 or -1. */
int msg_part_section(const struct msg_part *p, struct buf *out);

/* The part for an IMAP section number, or NULL ("" gives the root).
 * Where two parts share a number (a message/rfc822 part S and the
 * multipart root of its message, both "S"), the message/rfc822 part is
 * returned: BODY[S] is its body. Leading zeros and empty components are
 * refused. Cost is linear in the sibling positions named. */
const struct msg_part *msg_part_find(const struct msg_message *m,
                                     const char *section);

/* Depth-first pre-order walk: the part after p, or NULL at the end. */
const struct msg_part *msg_part_walk(const struct msg_part *p);

/* The part that carries the readable text: text/plain preferred inside
 * alternatives, else text/html, else the first text part that is not an
 * attachment. NULL when there is none. */
const struct msg_part *msg_text_part(const struct msg_message *m);

#endif
