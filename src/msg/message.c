/* message: the MIME part tree of a whole message (see message.h). Parts are
 * byte ranges of the caller's buffer; boundaries are found with memmem on
 * the boundary string, so bodies are never scanned byte by byte, and
 * recursion is bounded by the depth limit. */
#include "message.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "codec.h"
#include "encword.h"

#define MSG_DEFAULT_DEPTH 50
#define MSG_DEFAULT_PARTS 10000
/* Whatever the caller asks, recursion never goes deeper than this. */
#define MSG_HARD_MAX_DEPTH 200

struct parse_ctx {
	const char *data;
	size_t len;
	int max_depth;
	size_t max_parts;
	size_t max_fields;
	size_t nparts;
	unsigned warnings;
};

static int is_type(const struct msg_ctype *ct, const char *type)
{
	return ct->type && strcmp(ct->type, type) == 0;
}

static int is_multipart(const struct msg_part *p)
{
	return is_type(&p->ctype, "multipart");
}

static int is_subtype(const struct msg_part *p, const char *subtype)
{
	return p->ctype.subtype && strcmp(p->ctype.subtype, subtype) == 0;
}

static int set_default_ctype(struct msg_part *p, int in_digest)
{
	static const char text[] = "text/plain; charset=us-ascii";
	static const char rfc822[] = "message/rfc822";
	msg_ctype_free(&p->ctype);
	if (in_digest)
		return msg_ctype_parse(rfc822, sizeof rfc822 - 1, &p->ctype);
	return msg_ctype_parse(text, sizeof text - 1, &p->ctype);
}

/* Content-ID without the angle brackets and surrounding space. */
static char *parse_content_id(const struct msg_field *f)
{
	struct buf b = BUF_INIT;
	if (msg_field_unfold(f, &b) < 0 || !buf_cstr(&b)) {
		buf_free(&b);
		return NULL;
	}
	char *s = b.data;
	char *lt = strchr(s, '<');
	char *gt = lt ? strchr(lt + 1, '>') : NULL;
	char *from = lt && gt ? lt + 1 : s;
	char *to = lt && gt ? gt : s + strlen(s);
	while (from < to && (*from == ' ' || *from == '\t'))
		from++;
	while (to > from && (to[-1] == ' ' || to[-1] == '\t'))
		to--;
	memmove(s, from, (size_t)(to - from));
	s[to - from] = '\0';
	return buf_steal(&b, NULL);
}

static char *parse_description(const struct msg_field *f)
{
	struct buf raw = BUF_INIT, text = BUF_INIT;
	char *s = NULL;
	if (msg_field_unfold(f, &raw) == 0 &&
	    msg_encword_decode(raw.data ? raw.data : "", raw.len, &text) >= 0)
		s = buf_steal(&text, NULL);
	buf_free(&raw);
	buf_free(&text);
	return s;
}

static int field_is(const struct msg_field *f, const char *name, size_t n)
{
	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

/* Reads the MIME fields of p's header in one pass (the first of each
 * wins). Returns 0 or -1 when out of memory. */
static int read_mime_fields(struct msg_part *p, int in_digest)
{
	const struct msg_field *ctype = NULL, *disp = NULL, *cte = NULL;
	const struct msg_field *id = NULL, *desc = NULL;
	for (size_t i = 0; i < p->header.count; i++) {
		const struct msg_field *f = &p->header.fields[i];
		if (f->name_len < 10 || strncasecmp(f->name, "content-", 8) != 0)
			continue;
		if (!ctype && field_is(f, "content-type", 12))
			ctype = f;
		else if (!disp && field_is(f, "content-disposition", 19))
			disp = f;
		else if (!cte && field_is(f, "content-transfer-encoding", 25))
			cte = f;
		else if (!id && field_is(f, "content-id", 10))
			id = f;
		else if (!desc && field_is(f, "content-description", 19))
			desc = f;
	}
	int r = ctype ? msg_ctype_parse(ctype->value, ctype->value_len, &p->ctype) : 1;
	if (r < 0)
		return -1;
	if (r == 1 && ctype)
		p->flags |= MSG_PART_BAD_CTYPE;
	if (r == 1 && set_default_ctype(p, in_digest) < 0)
		return -1;
	if (disp && msg_disposition_parse(disp->value, disp->value_len,
	                                  &p->disposition) < 0)
		return -1;
	if (cte)
		p->cte = msg_cte_parse(cte->value, cte->value_len);
	if (id && !(p->content_id = parse_content_id(id)))
		return -1;
	if (desc && !(p->description = parse_description(desc)))
		return -1;
	return 0;
}

/* Lines of the body as a reader sees them: line ends, plus one for a last
 * line without its own (the line end before a boundary is not the part's). */
static size_t count_lines(const char *s, size_t n)
{
	size_t lines = 0;
	const char *end = s + n, *p = s;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p++;
	}
	if (n > 0 && s[n - 1] != '\n')
		lines++;
	return lines;
}

static struct msg_part *new_part(struct parse_ctx *ctx, struct msg_part *parent)
{
	struct msg_part *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->parent = parent;
	p->depth = parent ? parent->depth + 1 : 0;
	ctx->nparts++;
	return p;
}

/* A delimiter line: "--boundary" at a line start, maybe "--" for the close
 * delimiter, then the line end or whitespace. RFC 2046 5.1.1 says the
 * boundary need only begin the line, so text after that whitespace is
 * ignored (mime4j and real mailers agree); but a boundary followed directly
 * by more boundary characters ("--b1" under "b") is some nested
 * multipart's delimiter or content, never ours. */
struct delimiter {
	size_t body_end;  /* end of the text before it: its CRLF belongs to us */
	size_t next;      /* first byte after the delimiter line */
	int close;
};

static int find_delimiter(const char *data, size_t from, size_t end,
                          const char *b, size_t blen, struct delimiter *d)
{
	size_t pos = from;
	while (pos < end) {
		const char *hit = memmem(data + pos, end - pos, b, blen);
		if (!hit)
			return 0;
		size_t h = (size_t)(hit - data);
		pos = h + 1;
		if (h < from + 2 || data[h - 1] != '-' || data[h - 2] != '-')
			continue;
		size_t line = h - 2, q = h + blen;
		if (line != from && data[line - 1] != '\n')
			continue;
		d->close = q + 1 < end && data[q] == '-' && data[q + 1] == '-';
		if (d->close)
			q += 2;
		if (q < end && data[q] != ' ' && data[q] != '\t' &&
		    data[q] != '\r' && data[q] != '\n')
			continue;
		const char *nl = memchr(data + q, '\n', end - q);
		q = nl ? (size_t)(nl - data) : end;
		d->next = q < end ? q + 1 : end;
		d->body_end = line;
		if (line > from && data[line - 1] == '\n')
			d->body_end--;
		if (d->body_end > from && data[d->body_end - 1] == '\r')
			d->body_end--;
		return 1;
	}
	return 0;
}

static int parse_part(struct parse_ctx *ctx, struct msg_part *p, size_t start,
                      size_t end, int in_digest);

/* Adds a child of p over data[start..end). 1 when added, 0 when the part
 * limit stopped it (flagged), -1 when out of memory. */
static int add_child(struct parse_ctx *ctx, struct msg_part *p,
                     struct msg_part ***link, size_t start, size_t end)
{
	if (ctx->nparts >= ctx->max_parts) {
		p->flags |= MSG_PART_PART_LIMIT;
		return 0;
	}
	struct msg_part *c = new_part(ctx, p);
	if (!c)
		return -1;
	**link = c;
	*link = &c->next;
	p->nchildren++;
	int in_digest = is_multipart(p) && is_subtype(p, "digest");
	return parse_part(ctx, c, start, end, in_digest) < 0 ? -1 : 1;
}

static int parse_multipart(struct parse_ctx *ctx, struct msg_part *p)
{
	const char *b = msg_ctype_param(&p->ctype, "boundary");
	size_t blen = b ? strlen(b) : 0;
	size_t from = p->body_offset, end = p->body_offset + p->body_len;
	struct msg_part **link = &p->child;
	struct delimiter d, next;

	p->preamble_offset = from;
	if (!find_delimiter(ctx->data, from, end, b, blen, &d)) {
		p->preamble_len = p->body_len;
		p->flags |= MSG_PART_NO_END_BOUNDARY;
		return 0;
	}
	p->preamble_len = d.body_end - from;
	while (!d.close) {
		int found = find_delimiter(ctx->data, d.next, end, b, blen, &next);
		size_t part_end = !found ? end :
		                  next.body_end > d.next ? next.body_end : d.next;
		int r = add_child(ctx, p, &link, d.next, part_end);
		if (r <= 0)
			return r;
		if (!found) {
			p->flags |= MSG_PART_NO_END_BOUNDARY;
			return 0;
		}
		d = next;
	}
	p->epilogue_offset = d.next;
	p->epilogue_len = end - d.next;
	return 0;
}

/* message/rfc822 and message/global: the body is a message of its own,
 * unless a (forbidden, but seen) transfer encoding hides it. */
static int parse_embedded(struct parse_ctx *ctx, struct msg_part *p)
{
	struct msg_part **link = &p->child;
	if (p->cte != MSG_CTE_7BIT && p->cte != MSG_CTE_8BIT &&
	    p->cte != MSG_CTE_BINARY)
		return 0;
	return add_child(ctx, p, &link, p->body_offset,
	                 p->body_offset + p->body_len) < 0 ? -1 : 0;
}

static int parse_part(struct parse_ctx *ctx, struct msg_part *p, size_t start,
                      size_t end, int in_digest)
{
	p->offset = start;
	if (msg_header_parse(ctx->data + start, end - start, ctx->max_fields,
	                     &p->header) < 0)
		return -1;
	p->header_len = p->header.body_offset <= end - start ?
	                p->header.body_offset : end - start;
	p->body_offset = start + p->header_len;
	p->body_len = end - p->body_offset;
	if ((p->header.flags & (MSG_HDR_BAD_LINES | MSG_HDR_TRUNCATED | MSG_HDR_NUL)) ||
	    ((p->header.flags & MSG_HDR_NO_BLANK) && p->body_len > 0))
		p->flags |= MSG_PART_BAD_HEADER;
	if (read_mime_fields(p, in_digest) < 0)
		return -1;

	int container = is_multipart(p) ||
	                (is_type(&p->ctype, "message") &&
	                 (is_subtype(p, "rfc822") || is_subtype(p, "global")));
	const char *b = msg_ctype_param(&p->ctype, "boundary");
	int r = 0;
	if (is_multipart(p) && (!b || !*b)) {
		p->flags |= MSG_PART_NO_BOUNDARY;
		r = set_default_ctype(p, 0);
	} else if (container && p->depth >= ctx->max_depth) {
		p->flags |= MSG_PART_DEPTH_LIMIT;
	} else if (is_multipart(p)) {
		r = parse_multipart(ctx, p);
	} else if (container) {
		r = parse_embedded(ctx, p);
	}
	if (!is_multipart(p))
		p->body_lines = count_lines(ctx->data + p->body_offset, p->body_len);
	ctx->warnings |= p->flags;
	return r < 0 ? -1 : 0;
}

struct msg_message *msg_parse(const char *data, size_t len,
                              const struct msg_limits *limits)
{
	struct parse_ctx ctx = {data ? data : "", data ? len : 0,
	                        MSG_DEFAULT_DEPTH, MSG_DEFAULT_PARTS, 0, 0, 0};
	if (limits) {
		if (limits->max_depth > 0)
			ctx.max_depth = limits->max_depth;
		if (limits->max_parts > 0)
			ctx.max_parts = limits->max_parts;
		ctx.max_fields = limits->max_fields;
	}
	if (ctx.max_depth > MSG_HARD_MAX_DEPTH)
		ctx.max_depth = MSG_HARD_MAX_DEPTH;

	struct msg_message *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->data = ctx.data;
	m->len = ctx.len;
	m->root = new_part(&ctx, NULL);
	if (!m->root || parse_part(&ctx, m->root, 0, ctx.len, 0) < 0) {
		msg_message_free(&m);
		return NULL;
	}
	m->nparts = ctx.nparts;
	m->warnings = ctx.warnings;
	return m;
}

static void free_part(struct msg_part *p)
{
	msg_header_free(&p->header);
	msg_ctype_free(&p->ctype);
	msg_ctype_free(&p->disposition);
	free(p->content_id);
	free(p->description);
	free(p);
}

void msg_message_free(struct msg_message **m)
{
	if (!m || !*m)
		return;
	/* Iterative post-order: detach a child before descending so each part
	 * is freed once its children are gone, without recursion. */
	struct msg_part *p = (*m)->root;
	while (p) {
		if (p->child) {
			struct msg_part *c = p->child;
			p->child = NULL;
			p = c;
			continue;
		}
		struct msg_part *next = p->next ? p->next : p->parent;
		free_part(p);
		p = next;
	}
	free(*m);
	*m = NULL;
}

int msg_part_decode(const struct msg_message *m, const struct msg_part *p,
                    struct buf *out)
{
	const char *body = m->data + p->body_offset;
	switch (p->cte) {
	case MSG_CTE_BASE64:
		return msg_base64_decode(body, p->body_len, out, NULL);
	case MSG_CTE_QP:
		return msg_qp_decode(body, p->body_len, out);
	default:
		return buf_append(out, body, p->body_len);
	}
}

int msg_part_text(const struct msg_message *m, const struct msg_part *p,
                  struct buf *out)
{
	const char *charset = msg_ctype_param(&p->ctype, "charset");
	/* "us-ascii" is mostly a default nobody chose: 8-bit text under it is
	 * better served by detection than by replacement characters */
	if (charset && (!*charset || strcasecmp(charset, "us-ascii") == 0 ||
	                strcasecmp(charset, "ascii") == 0))
		charset = NULL;
	if (p->cte != MSG_CTE_BASE64 && p->cte != MSG_CTE_QP)
		return msg_charset_to_utf8(charset, m->data + p->body_offset,
		                           p->body_len, out);
	/* the decoded bytes are bounded like the output they become */
	struct buf raw;
	buf_init(&raw, out->max);
	int r = msg_part_decode(m, p, &raw);
	if (r == 0)
		r = msg_charset_to_utf8(charset, raw.data ? raw.data : "", raw.len,
		                        out);
	buf_free(&raw);
	return r < 0 ? MSG_CHARSET_ERROR : r;
}

char *msg_part_filename(const struct msg_part *p)
{
	const char *name = msg_ctype_param(&p->disposition, "filename");
	if (!name || !*name)
		name = msg_ctype_param(&p->ctype, "name");
	return name && *name ? strdup(name) : NULL;
}

int msg_part_is_attachment(const struct msg_part *p)
{
	if (is_multipart(p))
		return 0;
	if (is_type(&p->disposition, "attachment"))
		return 1;
	const char *name = msg_ctype_param(&p->disposition, "filename");
	if ((name && *name) ||
	    ((name = msg_ctype_param(&p->ctype, "name")) && *name))
		return 1;
	/* a non-text leaf inside a multipart; the root and the root of an
	 * embedded message are the body itself */
	return !is_type(&p->ctype, "text") && p->parent && is_multipart(p->parent);
}

static size_t sibling_index(const struct msg_part *p)
{
	size_t i = 1;
	for (const struct msg_part *s = p->parent->child; s && s != p; s = s->next)
		i++;
	return i;
}

/* Appends the section of p to a buffer holding only its parents' part. */
static int append_section(const struct msg_part *p, struct buf *out)
{
	if (!p->parent)
		return is_multipart(p) ? 0 : buf_putc(out, '1');
	if (append_section(p->parent, out) < 0)
		return -1;
	if (is_multipart(p->parent))
		return buf_printf(out, "%s%zu", out->len ? "." : "", sibling_index(p));
	/* the root of a message/rfc822 body */
	return is_multipart(p) ? 0 : buf_puts(out, ".1");
}

int msg_part_section(const struct msg_part *p, struct buf *out)
{
	/* the section is built from out's current end; only our own bytes
	 * decide whether a '.' is needed, so work in a separate buffer */
	struct buf s = BUF_INIT;
	int r = append_section(p, &s);
	if (r == 0)
		r = buf_append(out, s.data, s.len);
	buf_free(&s);
	return r;
}

/* One step of msg_part_find: child n of cur, where a message/rfc822 part
 * stands for its embedded root, and at the root of a non-multipart message
 * only "1" (the message itself) exists. */
static const struct msg_part *section_step(const struct msg_part *cur,
                                           size_t n, int at_root)
{
	if (!is_multipart(cur)) {
		if (at_root)
			return n == 1 ? cur : NULL;
		if (!cur->child)
			return NULL;
		cur = cur->child;
		if (!is_multipart(cur))
			return n == 1 ? cur : NULL;
	}
	const struct msg_part *c = cur->child;
	while (c && --n > 0)
		c = c->next;
	return c;
}

const struct msg_part *msg_part_find(const struct msg_message *m,
                                     const char *section)
{
	const struct msg_part *cur = m->root;
	const char *s = section ? section : "";
	for (int at_root = 1; cur && *s; at_root = 0) {
		if (*s < '1' || *s > '9')
			return NULL; /* empty component or leading zero */
		size_t n = 0;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (n > ((size_t)-1 - 9) / 10)
				return NULL;
			n = n * 10 + (size_t)(*s - '0');
		}
		if (*s == '.' && s[1] != '\0')
			s++;
		else if (*s != '\0')
			return NULL;
		cur = section_step(cur, n, at_root);
	}
	return cur;
}

const struct msg_part *msg_part_walk(const struct msg_part *p)
{
	if (p->child)
		return p->child;
	for (; p; p = p->parent)
		if (p->next)
			return p->next;
	return NULL;
}

/* How readable a part is: 3 text/plain, 2 text/html, 1 other text, 0 not
 * readable text. */
static int text_rank(const struct msg_part *p)
{
	if (!is_type(&p->ctype, "text") || msg_part_is_attachment(p))
		return 0;
	if (is_subtype(p, "plain"))
		return 3;
	return is_subtype(p, "html") ? 2 : 1;
}

/* The best text under p with its rank. Alternatives give their best
 * child; other multiparts their first plain or HTML text, else their first
 * text of any kind (the body comes first; later parts are extras). */
static const struct msg_part *find_text(const struct msg_part *p, int *rank)
{
	*rank = text_rank(p);
	if (*rank > 0)
		return p;
	if (!is_multipart(p)) {
		/* the body of the message itself, not forwarded attachments */
		if (p->child && !msg_part_is_attachment(p))
			return find_text(p->child, rank);
		return NULL;
	}
	int alternative = is_subtype(p, "alternative");
	const struct msg_part *best = NULL;
	*rank = 0;
	for (const struct msg_part *c = p->child; c; c = c->next) {
		int r;
		const struct msg_part *t = find_text(c, &r);
		if (t && r > *rank) {
			best = t;
			*rank = r;
		}
		if (best && (*rank == 3 || (!alternative && *rank >= 2)))
			break;
	}
	return best;
}

const struct msg_part *msg_text_part(const struct msg_message *m)
{
	int rank;
	return m->root ? find_text(m->root, &rank) : NULL;
}
