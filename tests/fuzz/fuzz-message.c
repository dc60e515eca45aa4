/* fuzz-message: msg_parse on any bytes, then every part decoded, converted,
 * named and numbered; offsets must stay in bounds and every section number
 * must lead back to its part. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/message.h"

/* Section look-ups walk sibling lists; checking the first parts is enough
 * and keeps a 10000-part input from being quadratic. */
#define FUZZ_SECTION_CHECKS 2000

static int is_multipart(const struct msg_part *p)
{
	return p->ctype.type && strcmp(p->ctype.type, "multipart") == 0;
}

static void check_part(const struct msg_message *m, const struct msg_part *p,
                       size_t n, struct buf *out)
{
	if (!p->ctype.type || p->offset + p->header_len != p->body_offset ||
	    p->body_offset > m->len || p->body_len > m->len - p->body_offset)
		abort();
	if (p->parent && (p->offset < p->parent->body_offset ||
	                  p->body_offset + p->body_len >
	                  p->parent->body_offset + p->parent->body_len))
		abort();
	buf_reset(out);
	(void)msg_part_decode(m, p, out);
	buf_reset(out);
	(void)msg_part_text(m, p, out);
	free(msg_part_filename(p));
	(void)msg_part_is_attachment(p);
	if (n >= FUZZ_SECTION_CHECKS)
		return;
	buf_reset(out);
	if (msg_part_section(p, out) < 0)
		return;
	const struct msg_part *f = msg_part_find(m, buf_cstr(out));
	/* the multipart root of an embedded message has its message/rfc822
	 * part's number (RFC 3501), so the look-up finds that part */
	const struct msg_part *want =
		p->parent && !is_multipart(p->parent) && is_multipart(p) ?
		p->parent : p;
	if (f != want)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_message *m = msg_parse((const char *)data, size, NULL);
	if (!m)
		return 0;
	struct buf out;
	buf_init(&out, 1 << 20);
	size_t n = 0;
	for (const struct msg_part *p = m->root; p; p = msg_part_walk(p))
		check_part(m, p, n++, &out);
	if (n != m->nparts)
		abort();
	const struct msg_part *t = msg_text_part(m);
	if (t && (!t->ctype.type || strcmp(t->ctype.type, "text") != 0))
		abort();
	buf_free(&out);
	msg_message_free(&m);
	return 0;
}
