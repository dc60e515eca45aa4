/* Unit tests for line: complete lines, waiting, and an overlong line
 * skipped across several inputs and reported once. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
