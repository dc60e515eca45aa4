/* fuzz-dotstuff: the transmission form of arbitrary bytes in arbitrary
 * chunks. Every line of the output must end in CRLF with no line being a
 * lone ".", and the size counter must agree with the output less its
 * stuffed dots; a TOP limit may only shorten the output. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/dotstuff.h"

static void transmit(const uint8_t *data, size_t size, long long lines,
                     size_t step, struct buf *out)
{
	struct msg_dotstuff st;
	msg_dotstuff_init(&st, lines);
	for (size_t i = 0; i < size; i += step) {
		size_t n = size - i < step ? size - i : step;
		if (msg_dotstuff_feed(&st, (const char *)data + i, n, out) < 0)
			abort();
	}
	if (msg_dotstuff_end(&st, out) < 0)
		abort();
}

/* Checks the CRLF and stuffing invariants; returns the stuffed dots. */
static size_t check_lines(const struct buf *out)
{
	size_t dots = 0, start = 0;
	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] != '\n')
			continue;
		if (i == 0 || out->data[i - 1] != '\r')
			abort();
		if (out->data[start] == '.') {
			if (i - start < 2 || out->data[start + 1] != '.')
				abort(); /* an unstuffed dot line */
			dots++;
		}
		start = i + 1;
	}
	if (start != out->len)
		abort(); /* the last line has no CRLF */
	return dots;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
	struct buf all = BUF_INIT, top = BUF_INIT;
	transmit(data, size, -1, step, &all);
	size_t dots = check_lines(&all);
	struct msg_crlf_size cs;
	msg_crlf_size_init(&cs);
	for (size_t i = 0; i < size; i += step + 1)
		msg_crlf_size_feed(&cs, (const char *)data + i,
		                   size - i < step + 1 ? size - i : step + 1);
	if (msg_crlf_size_end(&cs) != all.len - dots)
		abort();
	transmit(data, size, size ? data[size - 1] % 4 : 0, step, &top);
	check_lines(&top);
	if (top.len > all.len || memcmp(top.data ? top.data : "", all.data ?
	                                all.data : "", top.len) != 0)
		abort();
	buf_free(&all);
	buf_free(&top);
	return 0;
}
