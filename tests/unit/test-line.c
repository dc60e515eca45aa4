/* Unit tests for line: complete lines, waiting, and an overlong line
 * skipped across several inputs and reported once; line_step's private
 * copies and its calls into the handler. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../src/lib/line.h"

static void test_lines(void **state)
{
	(void)state;
	struct line_reader r = {0};
	enum line_result res;
	size_t len = 99;
	assert_int_equal(line_next(&r, "NOOP\r\nQUIT", 10, 16, &res, &len), 6);
	assert_int_equal(res, LINE_OK);
	assert_int_equal(len, 4);
	assert_int_equal(line_next(&r, "QUIT", 4, 16, &res, &len), 0);
	assert_int_equal(res, LINE_MORE);
	assert_int_equal(line_next(&r, "bare\n", 5, 16, &res, &len), 5);
	assert_int_equal(res, LINE_OK);
	assert_int_equal(len, 4);
	assert_int_equal(line_next(&r, "\n", 1, 16, &res, &len), 1);
	assert_int_equal(len, 0);
}

static void test_limit(void **state)
{
	(void)state;
	struct line_reader r = {0};
	enum line_result res;
	size_t len;
	/* Exactly at the limit (LF included) is fine, one more is not. */
	assert_int_equal(line_next(&r, "abcdefg\n", 8, 8, &res, &len), 8);
	assert_int_equal(res, LINE_OK);
	assert_int_equal(line_next(&r, "abcdefgh\nNEXT\n", 14, 8, &res, &len), 8);
	assert_int_equal(res, LINE_SKIPPED);
	assert_int_equal(line_next(&r, "h\nNEXT\n", 7, 8, &res, &len), 2);
	assert_int_equal(res, LINE_TOO_LONG);
	assert_int_equal(line_next(&r, "NEXT\n", 5, 8, &res, &len), 5);
	assert_int_equal(res, LINE_OK);
	/* Skipping goes on over inputs without a LF. */
	assert_int_equal(line_next(&r, "xxxxxxxxxx", 10, 8, &res, &len), 8);
	assert_int_equal(res, LINE_SKIPPED);
	assert_int_equal(line_next(&r, "yy", 2, 8, &res, &len), 2);
	assert_int_equal(res, LINE_SKIPPED);
	assert_int_equal(line_next(&r, "z\r\n", 3, 8, &res, &len), 3);
	assert_int_equal(res, LINE_TOO_LONG);
}

/* What the handler saw, as a session's would. */
struct seen {
	char lines[4][32];
	size_t lens[4];
	int nlines;
	int too_long;
};

static void seen_line(void *ctx, char *line, size_t len)
{
	struct seen *sn = ctx;
	assert_true(sn->nlines < 4 && len < sizeof sn->lines[0]);
	assert_int_equal(line[len], '\0');
	memcpy(sn->lines[sn->nlines], line, len);
	sn->lens[sn->nlines++] = len;
	memset(line, 'X', len); /* the copy is the handler's to change */
}

static void seen_too_long(void *ctx)
{
	struct seen *sn = ctx;
	sn->too_long++;
}

static const struct line_handler seen_handler = {seen_line, seen_too_long};

static void test_step(void **state)
{
	(void)state;
	struct line_reader r = {0};
	struct seen sn = {0};
	size_t used = 99;
	char in[] = "PASS s\0cret\r\nQUIT";
	assert_int_equal(line_step(&r, in, sizeof in - 1, 16, &seen_handler,
	                           &sn, &used), 0);
	assert_int_equal(used, 13);
	assert_int_equal(sn.nlines, 1);
	/* The NUL byte is passed on with the rest, and the input is intact. */
	assert_int_equal(sn.lens[0], 11);
	assert_memory_equal(sn.lines[0], "PASS s\0cret", 11);
	assert_memory_equal(in, "PASS s\0cret\r\n", 13);
	/* No complete line: nothing is used or called. */
	assert_int_equal(line_step(&r, in + 13, 4, 16, &seen_handler, &sn,
	                           &used), 0);
	assert_int_equal(used, 0);
	assert_int_equal(sn.nlines, 1);
	assert_int_equal(sn.too_long, 0);
	/* An empty line is still a line. */
	assert_int_equal(line_step(&r, "\r\n", 2, 16, &seen_handler, &sn,
	                           &used), 0);
	assert_int_equal(used, 2);
	assert_int_equal(sn.nlines, 2);
	assert_int_equal(sn.lens[1], 0);
}

static void test_step_too_long(void **state)
{
	(void)state;
	struct line_reader r = {0};
	struct seen sn = {0};
	size_t used;
	/* Skipped parts call nothing; the end is reported once, not as a line. */
	assert_int_equal(line_step(&r, "abcdefghij", 10, 8, &seen_handler, &sn,
	                           &used), 0);
	assert_int_equal(used, 8);
	assert_int_equal(line_step(&r, "ij", 2, 8, &seen_handler, &sn, &used),
	                 0);
	assert_int_equal(used, 2);
	assert_int_equal(sn.too_long, 0);
	assert_int_equal(line_step(&r, "k\nNOOP\n", 7, 8, &seen_handler, &sn,
	                           &used), 0);
	assert_int_equal(used, 2);
	assert_int_equal(sn.too_long, 1);
	assert_int_equal(sn.nlines, 0);
	assert_int_equal(line_step(&r, "NOOP\n", 5, 8, &seen_handler, &sn,
	                           &used), 0);
	assert_int_equal(used, 5);
	assert_int_equal(sn.nlines, 1);
	assert_memory_equal(sn.lines[0], "NOOP", 4);
	assert_int_equal(sn.too_long, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_step_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
