/* Unit tests for src/lib/buf: growth, limits, ownership transfer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lib/buf.h"

static void test_append_grows_and_terminates(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
	assert_int_equal(b.len, 10000);
	assert_true(b.cap > b.len);
	assert_int_equal(strlen(buf_cstr(&b)), 10000);
	assert_int_equal(b.data[26], 'a');
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_empty_cstr_is_empty_string(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

static void test_limit_refuses_and_keeps_contents(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "12345"), 0);
	assert_int_equal(buf_puts(&b, "6789"), -1); /* would make 9 > 8 */
	assert_int_equal(b.len, 5);
	assert_int_equal(buf_puts(&b, "678"), 0);   /* exactly 8 */
	assert_int_equal(buf_putc(&b, 'x'), -1);
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	assert_string_equal(buf_cstr(&b), "12345678");
	buf_free(&b);
}

static void test_printf_formats_long_output(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(buf_printf(&b, "%s=%d;", "x", 42), 0);
	char big[3000];
	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(buf_printf(&b, "%s", big), 0);
	assert_int_equal(b.len, 5 + 2999);
	assert_memory_equal(b.data, "x=42;", 5);
	buf_free(&b);
}

static void test_steal_transfers_ownership(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_puts(&b, "hello");
	size_t len = 0;
	char *s = buf_steal(&b, &len);
	assert_non_null(s);
	assert_int_equal(len, 5);
	assert_string_equal(s, "hello");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
	/* the emptied buffer is reusable */
	assert_int_equal(buf_puts(&b, "again"), 0);
	assert_string_equal(buf_cstr(&b), "again");
	buf_free(&b);
}

static void test_reset_and_truncate(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_puts(&b, "abcdef");
	buf_truncate(&b, 3);
	assert_string_equal(buf_cstr(&b), "abc");
	buf_truncate(&b, 10);
	assert_int_equal(b.len, 3);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_true(b.cap > 0);
	buf_free(&b);
}

static void test_reserve_overflow_is_refused(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_puts(&b, "x");
	assert_int_equal(buf_reserve(&b, (size_t)-1), -1);
	assert_int_equal(buf_append(&b, "y", 0), 0);
	assert_string_equal(buf_cstr(&b), "x");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_grows_and_terminates),
		cmocka_unit_test(test_empty_cstr_is_empty_string),
		cmocka_unit_test(test_limit_refuses_and_keeps_contents),
		cmocka_unit_test(test_printf_formats_long_output),
		cmocka_unit_test(test_steal_transfers_ownership),
		cmocka_unit_test(test_reset_and_truncate),
		cmocka_unit_test(test_reserve_overflow_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
