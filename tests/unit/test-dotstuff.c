/* Unit tests for dotstuff: line ends, stuffing, TOP limits and the size
 * counter, whole and fed one byte at a time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/msg/dotstuff.h"

/* Transmits in with the given TOP limit, fed in chunks of step bytes
 * (0: whole), and returns the output as a NUL-terminated string. */
static char *transmit(const char *in, long long lines, size_t step)
{
	struct msg_dotstuff st;
	struct buf out = BUF_INIT;
	size_t len = strlen(in);
	msg_dotstuff_init(&st, lines);
	if (step == 0)
		step = len ? len : 1;
	for (size_t i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;
		int r = msg_dotstuff_feed(&st, in + i, n, &out);
		assert_true(r == 0 || r == 1);
	}
	assert_int_equal(msg_dotstuff_end(&st, &out), 0);
	assert_int_equal(buf_putc(&out, '\0'), 0);
	return out.data ? out.data : strdup("");
}

static unsigned long long crlf_size(const char *in, size_t step)
{
	struct msg_crlf_size cs;
	size_t len = strlen(in);
	msg_crlf_size_init(&cs);
	if (step == 0)
		step = len ? len : 1;
	for (size_t i = 0; i < len; i += step)
		msg_crlf_size_feed(&cs, in + i, len - i < step ? len - i : step);
	return msg_crlf_size_end(&cs);
}

/* Checks the output for every chunking, and for full transmissions that
 * the size counter agrees with the output minus the stuffed dots. */
static void check(const char *in, long long lines, const char *want)
{
	size_t steps[] = {0, 1, 2, 3, 7};
	for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
		char *got = transmit(in, lines, steps[k]);
		assert_string_equal(got, want);
		free(got);
		if (lines >= 0)
			continue;
		size_t dots = 0;
		for (const char *p = want; *p; p++)
			if (*p == '.' && p[1] == '.' &&
			    (p == want || p[-1] == '\n'))
				dots++;
		assert_int_equal(crlf_size(in, steps[k]), strlen(want) - dots);
	}
}

static void test_line_ends(void **state)
{
	(void)state;
	check("", -1, "");
	check("a\r\nb\r\n", -1, "a\r\nb\r\n");
	check("a\nb\n", -1, "a\r\nb\r\n");
	check("a\nb", -1, "a\r\nb\r\n");
	check("a\rb\n", -1, "a\rb\r\n");
	check("\n\n", -1, "\r\n\r\n");
	check("x\r", -1, "x\r\r\n");
}

static void test_stuffing(void **state)
{
	(void)state;
	check(".\r\n", -1, "..\r\n");
	check("a\r\n.\r\n.b\n..\n", -1, "a\r\n..\r\n..b\r\n...\r\n");
	check("a.\r\n .\r\n", -1, "a.\r\n .\r\n");
	check(".", -1, "..\r\n");
	/* A dot after a bare CR is not at a line start. */
	check("a\r.b\n", -1, "a\r.b\r\n");
}

static void test_top(void **state)
{
	(void)state;
	const char *msg = "Subject: x\r\nFrom: y\r\n\r\nl1\r\n.l2\r\nl3\r\n";
	check(msg, 0, "Subject: x\r\nFrom: y\r\n\r\n");
	check(msg, 1, "Subject: x\r\nFrom: y\r\n\r\nl1\r\n");
	check(msg, 2, "Subject: x\r\nFrom: y\r\n\r\nl1\r\n..l2\r\n");
	check(msg, 99, "Subject: x\r\nFrom: y\r\n\r\nl1\r\n..l2\r\nl3\r\n");
	check("A: b\n\nbody\n", 0, "A: b\r\n\r\n");
	/* No blank line: everything is header. */
	check("A: b\nC: d", 0, "A: b\r\nC: d\r\n");
	/* The blank line may be a bare LF after CRLF lines. */
	check("A: b\r\n\nx\ny\n", 1, "A: b\r\n\r\nx\r\n");
}

static void test_top_stops_reading(void **state)
{
	(void)state;
	struct msg_dotstuff st;
	struct buf out = BUF_INIT;
	msg_dotstuff_init(&st, 0);
	assert_int_equal(msg_dotstuff_feed(&st, "A: b\r\n\r\nmore", 12, &out), 1);
	assert_int_equal(msg_dotstuff_feed(&st, "ignored\r\n", 9, &out), 1);
	assert_int_equal(msg_dotstuff_end(&st, &out), 0);
	assert_int_equal(out.len, 8);
	assert_memory_equal(out.data, "A: b\r\n\r\n", 8);
	buf_free(&out);
}

static void test_out_of_room(void **state)
{
	(void)state;
	struct msg_dotstuff st;
	struct buf out;
	buf_init(&out, 4);
	assert_int_equal(buf_append(&out, "ab", 2), 0);
	msg_dotstuff_init(&st, -1);
	assert_int_equal(msg_dotstuff_feed(&st, "long line\n", 10, &out), -1);
	assert_int_equal(out.len, 2);
	buf_free(&out);
}

static void test_size_random(void **state)
{
	(void)state;
	static const char alphabet[] = "ab.\r\n";
	char in[200];
	srand(7);
	for (int round = 0; round < 500; round++) {
		size_t n = (size_t)(rand() % (int)(sizeof in - 1));
		for (size_t i = 0; i < n; i++)
			in[i] = alphabet[rand() % 5];
		in[n] = '\0';
		char *got = transmit(in, -1, (size_t)(rand() % 5));
		size_t dots = 0;
		for (size_t i = 0; got[i]; i++)
			if (got[i] == '.' && (i == 0 || got[i - 1] == '\n'))
				dots++, i++;
		assert_int_equal(crlf_size(in, (size_t)(rand() % 4)),
		                 strlen(got) - dots);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_stuffing),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_top_stops_reading),
		cmocka_unit_test(test_out_of_room),
		cmocka_unit_test(test_size_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
