/* header: the RFC 5322 header block. Splits a block into fields without
 * copying (every field points into the caller's bytes), keeps every
 * occurrence in order, and tolerates bare LF, 8-bit/UTF-8 bytes (RFC 6532),
 * obsolete "Name :" spacing and a missing blank line. No I/O, no globals. */
#ifndef POSTHORN_MSG_HEADER_H
#define POSTHORN_MSG_HEADER_H

#include <stddef.h>

#include "../lib/buf.h"

struct msg_field {
	const char *name;   /* field name, points into the input, not NUL-terminated */
	size_t name_len;    /* without trailing obsolete whitespace */
	const char *value;  /* body after the colon, still folded, leading WSP kept */
	size_t value_len;   /* up to but excluding the final line end */
	size_t offset;      /* offset of the field's first byte in the input */
	size_t raw_len;     /* whole field with folds and its final line end */
};

/* Flags reported in msg_header.flags. */
enum {
	MSG_HDR_BARE_LF = 1 << 0,     /* some line ended in LF without CR */
	MSG_HDR_NO_BLANK = 1 << 1,    /* no blank line: input ended in the header,
	                               * or a non-field line began the body */
	MSG_HDR_8BIT = 1 << 2,        /* bytes >= 0x80 in the header */
	MSG_HDR_BAD_LINES = 1 << 3,   /* lines that are neither fields nor folds
	                               * were skipped (leading "From " lines too) */
	MSG_HDR_TRUNCATED = 1 << 4,   /* more fields than max_fields; rest ignored */
	MSG_HDR_NUL = 1 << 5,         /* NUL bytes in the header */
};

struct msg_header {
	struct msg_field *fields; /* owned array (free with msg_header_free) */
	size_t count;
	size_t cap;
	size_t body_offset;       /* where the body starts: after the blank line,
	                           * or where the first non-header line starts */
	unsigned flags;
};

/* Parses the header block at the start of data[0..len). Fields point into
 * data, which must outlive h. max_fields bounds memory (0 = 10000).
 * Returns 0, or -1 only when out of memory (h is then empty). A block that is
 * empty or garbage still returns 0 with what could be found and flags set. */
int msg_header_parse(const char *data, size_t len, size_t max_fields,
                     struct msg_header *h);

/* Frees the field array; h becomes empty. */
void msg_header_free(struct msg_header *h);

/* First field whose name equals name case-insensitively, or NULL.
 * The pointer lives as long as h. */
const struct msg_field *msg_header_get(const struct msg_header *h,
                                       const char *name);

/* The next field after prev with the same name (prev must come from h),
 * or NULL. Lets a caller walk every Received: in order. */
const struct msg_field *msg_header_next(const struct msg_header *h,
                                        const struct msg_field *prev);

/* Number of fields with this name. */
size_t msg_header_count(const struct msg_header *h, const char *name);

/* Appends the unfolded value of f to out: CRLF/LF followed by WSP removed
 * (the WSP kept, as RFC 5322 3.2.2 says), leading and trailing WSP trimmed.
 * Returns 0 or -1 (out's limit or memory). */
int msg_field_unfold(const struct msg_field *f, struct buf *out);

/* Convenience: unfolded value of the first field named name as a new
 * NUL-terminated string the caller frees, or NULL if absent or no memory. */
char *msg_header_value(const struct msg_header *h, const char *name);

#endif
