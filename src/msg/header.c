/* header: splits an RFC 5322 header block into fields that point into the
 * caller's bytes (see header.h). One pass, memchr for line ends, no copies.
 *
 * Lines that are neither fields nor folds: before the first field such a
 * line starts the body (MSG_HDR_NO_BLANK: the header was empty or lost its
 * blank line). After fields it is skipped (MSG_HDR_BAD_LINES) when the next
 * line is a field or the blank line, as mime4j does by default: there it
 * is far more likely a broken fold (a References: id split without
 * indentation) than body text; otherwise it starts the body (NO_BLANK).
 * A fold before any field is dropped (BAD_LINES). */
#include "header.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { HEADER_DEFAULT_MAX_FIELDS = 10000 };

/* Field-name bytes (RFC 5322 3.6.8 ftext): printable ASCII except ':'. */
static int header_is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static int header_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* A cursor over the input; scanning state shared by the helpers below. */
struct header_scan {
	const char *data;
	size_t len;
	unsigned flags;
};

/* Offset just past the line starting at pos (past its LF, or len). */
static size_t header_line_end(struct header_scan *s, size_t pos)
{
	const char *nl = memchr(s->data + pos, '\n', s->len - pos);
	if (!nl)
		return s->len;
	size_t at = (size_t)(nl - s->data);
	if (at == pos || s->data[at - 1] != '\r')
		s->flags |= MSG_HDR_BARE_LF;
	return at + 1;
}

/* Length of the field name at pos if the line is a field ("Name:" or the
 * obsolete "Name  :"); *colon gets the colon's offset. 0 if not a field. */
static size_t header_field_name(const struct header_scan *s, size_t pos,
                                size_t *colon)
{
	size_t i = pos;
	while (i < s->len && header_is_ftext((unsigned char)s->data[i]))
		i++;
	size_t name_len = i - pos;
	while (i < s->len && header_is_wsp(s->data[i]))
		i++;
	if (name_len == 0 || i >= s->len || s->data[i] != ':')
		return 0;
	*colon = i;
	return name_len;
}

/* 1 if the line at pos is empty (just LF or CRLF). */
static int header_is_blank(const struct header_scan *s, size_t pos)
{
	if (pos < s->len && s->data[pos] == '\n')
		return 1;
	return pos + 1 < s->len && s->data[pos] == '\r' && s->data[pos + 1] == '\n';
}

/* Offset past the field at pos and all its folds. */
static size_t header_field_end(struct header_scan *s, size_t pos)
{
	size_t end = header_line_end(s, pos);
	while (end < s->len && header_is_wsp(s->data[end]))
		end = header_line_end(s, end);
	return end;
}

/* Length of raw field bytes without the final line end. */
static size_t header_strip_eol(const char *p, size_t n)
{
	if (n && p[n - 1] == '\n')
		n--;
	if (n && p[n - 1] == '\r')
		n--;
	return n;
}

static int header_push(struct msg_header *h, const struct msg_field *f)
{
	if (h->count == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct msg_field *p = realloc(h->fields, cap * sizeof *p);
		if (!p)
			return -1;
		h->fields = p;
		h->cap = cap;
	}
	h->fields[h->count++] = *f;
	return 0;
}

/* Sets the 8-bit and NUL flags for data[from..to), eight bytes at a time
 * (a header is scanned once, so this loop is the parser's hot spot). */
static void header_scan_bytes(struct header_scan *s, size_t from, size_t to)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t any = 0, zero = 0;
	size_t i = from;
	for (; i + 8 <= to; i += 8) {
		uint64_t w;
		memcpy(&w, s->data + i, 8);
		any |= w;
		zero |= (w - ones) & ~w & highs; /* high bit set where a byte is 0 */
	}
	for (; i < to; i++) {
		unsigned char c = (unsigned char)s->data[i];
		any |= c;
		zero |= c == 0;
	}
	if (any & highs)
		s->flags |= MSG_HDR_8BIT;
	if (zero)
		s->flags |= MSG_HDR_NUL;
}

/* Stores the field data[pos..end) whose name is name_len bytes long. */
static int header_add_field(struct msg_header *h, struct header_scan *s,
                            size_t max_fields, size_t pos, size_t name_len,
                            size_t colon, size_t end)
{
	if (h->count >= max_fields) {
		s->flags |= MSG_HDR_TRUNCATED;
		return 0;
	}
	struct msg_field f = {
		.name = s->data + pos,
		.name_len = name_len,
		.value = s->data + colon + 1,
		.value_len = header_strip_eol(s->data + colon + 1, end - colon - 1),
		.offset = pos,
		.raw_len = end - pos,
	};
	return header_push(h, &f);
}

int msg_header_parse(const char *data, size_t len, size_t max_fields,
                     struct msg_header *h)
{
	struct header_scan s = {data, len, 0};
	size_t pos = 0, seen = 0;

	memset(h, 0, sizeof *h);
	if (max_fields == 0)
		max_fields = HEADER_DEFAULT_MAX_FIELDS;
	/* Windows tools save messages with a UTF-8 byte order mark; it is
	 * not the start of a field name. */
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	/* An mbox envelope line is not part of the message's header. */
	if (len - pos >= 5 && memcmp(data + pos, "From ", 5) == 0) {
		pos = header_line_end(&s, pos);
		s.flags |= MSG_HDR_BAD_LINES;
	}
	for (;;) {
		if (pos >= len) {
			s.flags |= MSG_HDR_NO_BLANK;
			break;
		}
		if (header_is_blank(&s, pos)) {
			pos = header_line_end(&s, pos);
			break;
		}
		size_t colon, name_len = 0;
		if (!header_is_wsp(data[pos]))
			name_len = header_field_name(&s, pos, &colon);
		size_t end = header_field_end(&s, pos);
		if (name_len) {
			header_scan_bytes(&s, pos, end);
			if (header_add_field(h, &s, max_fields, pos, name_len,
			                     colon, end) < 0) {
				msg_header_free(h);
				return -1;
			}
			seen++;
		} else if (header_is_wsp(data[pos]) && seen == 0) {
			/* A fold with nothing to fold into: drop it. */
			s.flags |= MSG_HDR_BAD_LINES;
		} else if (seen == 0 || end >= len ||
		           (!header_is_blank(&s, end) &&
		            !header_field_name(&s, end, &colon))) {
			s.flags |= MSG_HDR_NO_BLANK;
			break;
		} else {
			s.flags |= MSG_HDR_BAD_LINES;
		}
		pos = end;
	}
	h->body_offset = pos;
	h->flags = s.flags;
	return 0;
}

void msg_header_free(struct msg_header *h)
{
	free(h->fields);
	memset(h, 0, sizeof *h);
}

static int header_name_is(const struct msg_field *f, const char *name,
                          size_t name_len)
{
	return f->name_len == name_len &&
	       strncasecmp(f->name, name, name_len) == 0;
}

const struct msg_field *msg_header_get(const struct msg_header *h,
                                       const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < h->count; i++)
		if (header_name_is(&h->fields[i], name, n))
			return &h->fields[i];
	return NULL;
}

const struct msg_field *msg_header_next(const struct msg_header *h,
                                        const struct msg_field *prev)
{
	if (!prev || h->count == 0 || prev < h->fields ||
	    prev >= h->fields + h->count)
		return NULL;
	for (const struct msg_field *f = prev + 1; f < h->fields + h->count; f++)
		if (header_name_is(f, prev->name, prev->name_len))
			return f;
	return NULL;
}

size_t msg_header_count(const struct msg_header *h, const char *name)
{
	size_t n = strlen(name), count = 0;
	for (size_t i = 0; i < h->count; i++)
		if (header_name_is(&h->fields[i], name, n))
			count++;
	return count;
}

int msg_field_unfold(const struct msg_field *f, struct buf *out)
{
	const char *p = f->value, *end = f->value + f->value_len;
	while (p < end && header_is_wsp(*p))
		p++;
	while (end > p && header_is_wsp(end[-1]))
		end--;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		/* The CR of a CRLF fold goes with the LF; a stray CR stays. */
		const char *keep = (nl && stop > p && stop[-1] == '\r') ? stop - 1 : stop;
		if (buf_append(out, p, (size_t)(keep - p)) < 0)
			return -1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

char *msg_header_value(const struct msg_header *h, const char *name)
{
	const struct msg_field *f = msg_header_get(h, name);
	if (!f)
		return NULL;
	struct buf b = BUF_INIT;
	if (msg_field_unfold(f, &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}
