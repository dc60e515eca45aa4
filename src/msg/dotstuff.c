/* dotstuff: the transmission form of a stored message (see dotstuff.h).
 * Lines are copied as runs between LFs with memchr, so a message of long
 * lines costs a few appends per line, not one per byte. */
#include "dotstuff.h"

#include <string.h>

void msg_dotstuff_init(struct msg_dotstuff *st, long long body_lines)
{
	memset(st, 0, sizeof *st);
	st->body_lines = body_lines;
}

/* A line ended (its LF was consumed): the header's end and TOP's count. */
static int dotstuff_line_done(struct msg_dotstuff *st)
{
	int empty = st->line_bytes == 0 || (st->line_bytes == 1 && st->prev_cr);
	st->line_bytes = 0;
	st->prev_cr = 0;
	if (!st->in_body) {
		if (empty)
			st->in_body = 1;
		else
			return 0;
		return st->body_lines == 0;
	}
	if (st->body_lines > 0)
		st->body_lines--;
	return st->body_lines == 0;
}

int msg_dotstuff_feed(struct msg_dotstuff *st, const char *data, size_t len,
                      struct buf *out)
{
	size_t old = out->len;
	size_t i = 0;
	while (i < len && !st->done) {
		if (st->line_bytes == 0 && !st->prev_cr && data[i] == '.' &&
		    buf_putc(out, '.') < 0)
			goto nomem;
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) : len;
		if (end > i) {
			if (buf_append(out, data + i, end - i) < 0)
				goto nomem;
			st->line_bytes += end - i;
			st->prev_cr = data[end - 1] == '\r';
		}
		i = end;
		if (!nl)
			break;
		if (buf_append(out, st->prev_cr ? "\n" : "\r\n",
		               st->prev_cr ? 1 : 2) < 0)
			goto nomem;
		i++;
		st->done = dotstuff_line_done(st);
	}
	return st->done;
nomem:
	buf_truncate(out, old);
	return -1;
}

int msg_dotstuff_end(struct msg_dotstuff *st, struct buf *out)
{
	if (st->done || st->line_bytes == 0)
		return 0;
	if (buf_append(out, "\r\n", 2) < 0)
		return -1;
	st->line_bytes = 0;
	st->prev_cr = 0;
	return 0;
}

void msg_crlf_size_init(struct msg_crlf_size *cs)
{
	memset(cs, 0, sizeof *cs);
}

void msg_crlf_size_feed(struct msg_crlf_size *cs, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	if (len == 0)
		return;
	cs->size += len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		int cr_before = nl > data ? nl[-1] == '\r' : cs->prev_cr;
		if (!cr_before)
			cs->size++;
		p = nl + 1;
	}
	cs->prev_cr = end[-1] == '\r';
	cs->line_open = end[-1] != '\n';
}

unsigned long long msg_crlf_size_end(struct msg_crlf_size *cs)
{
	return cs->size + (cs->line_open ? 2 : 0);
}
