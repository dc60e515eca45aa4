/* Unit tests for src/lib/log: the stderr line format, the sanitiser
 * (controls, DEL, C1, invalid UTF-8), the 2000-byte cut and level filtering.
 * stderr is swapped for a pipe while a line is written. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/lib/log.h"

/* What log_msg wrote to stderr while fn ran; "" when nothing. */
static void capture(void (*fn)(void), char *out, size_t size)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
	close(fds[1]);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	size_t n = 0;
	ssize_t r;
	while (n < size - 1 && (r = read(fds[0], out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
}

/* Checks "YYYY-MM-DDTHH:MM:SSZ " and returns what follows it. */
static const char *after_stamp(const char *line)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ ";
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd')
			assert_true(line[i] >= '0' && line[i] <= '9');
		else
			assert_int_equal(line[i], shape[i]);
	}
	return line + sizeof shape - 1;
}

/* Asserts one line "STAMP test[PID]: rest\n". */
static void expect_line(const char *got, const char *rest)
{
	size_t size = strlen(rest) + 64;
	char *want = malloc(size);
	assert_non_null(want);
	snprintf(want, size, "test[%ld]: %s\n", (long)getpid(), rest);
	assert_string_equal(after_stamp(got), want);
	free(want);
}

static char text_arg[4096];
static const char *session_arg;
static enum log_level level_arg;

static void log_text(void)
{
	log_msg(level_arg, session_arg, "%s", text_arg);
}

/* The line for text at info level with session "s1". */
static void log_capture(const char *text, char *out, size_t size)
{
	snprintf(text_arg, sizeof text_arg, "%s", text);
	session_arg = "s1";
	level_arg = LOG_LVL_INFO;
	capture(log_text, out, size);
}

static int setup(void **state)
{
	(void)state;
	log_open("test", 1, LOG_LVL_INFO);
	return 0;
}

static void test_format(void **state)
{
	(void)state;
	char out[8192];
	log_capture("hello world", out, sizeof out);
	expect_line(out, "info: [s1] hello world");
	session_arg = NULL;
	capture(log_text, out, sizeof out);
	expect_line(out, "info: hello world");
	level_arg = LOG_LVL_ERROR;
	capture(log_text, out, sizeof out);
	expect_line(out, "error: hello world");
	level_arg = LOG_LVL_WARN;
	capture(log_text, out, sizeof out);
	expect_line(out, "warning: hello world");
}

static void log_formatted(void)
{
	log_info("a1b2c3d4", "MAIL FROM:<%s> size=%d", "x@example.org", 42);
}

static void test_printf_arguments(void **state)
{
	(void)state;
	char out[8192];
	capture(log_formatted, out, sizeof out);
	expect_line(out, "info: [a1b2c3d4] MAIL FROM:<x@example.org> size=42");
}

static void log_levels(void)
{
	log_debug(NULL, "hidden");
	log_info(NULL, "shown");
}

static void test_level_filter(void **state)
{
	(void)state;
	char out[8192];
	capture(log_levels, out, sizeof out);
	expect_line(out, "info: shown");
	log_open("test", 1, LOG_LVL_DEBUG);
	capture(log_levels, out, sizeof out);
	char *second = strchr(out, '\n');
	assert_non_null(second);
	char first[512];
	snprintf(first, sizeof first, "%.*s", (int)(second + 1 - out), out);
	expect_line(first, "debug: hidden");
	expect_line(second + 1, "info: shown");
	log_open("test", 1, LOG_LVL_ERROR);
	capture(log_levels, out, sizeof out);
	assert_string_equal(out, "");
	log_open("test", 1, LOG_LVL_INFO);
}

static void test_sanitise_controls(void **state)
{
	(void)state;
	char out[8192];
	log_capture("a\r\nb\tc\x1b[31md\x7f" "e\x01", out, sizeof out);
	expect_line(out, "info: [s1] a\\x0D\\x0Ab\\x09c\\x1B[31md\\x7Fe\\x01");
	/* a forged log line cannot start on a line of its own */
	log_capture("x\n2026-01-01T00:00:00Z posthornd[1]: info: fake", out,
	            sizeof out);
	assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1);
}

static void test_sanitise_utf8(void **state)
{
	(void)state;
	char out[8192];
	/* é, 中, 😀 and U+00A0 are valid and kept */
	log_capture("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xc2\xa0", out,
	            sizeof out);
	expect_line(out, "info: [s1] caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xc2\xa0");
	/* a lone continuation byte, 0xff, an overlong '/', a surrogate, a
	 * code point above U+10FFFF and a sequence cut short at the end */
	log_capture("\x80|\xff|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82",
	            out, sizeof out);
	expect_line(out, "info: [s1] \\x80|\\xFF|\\xC0\\xAF|\\xED\\xA0\\x80|"
	            "\\xF4\\x90\\x80\\x80|\\xE2\\x82");
	/* overlong three- and four-byte forms */
	log_capture("\xe0\x80\xaf|\xf0\x80\x80\xaf", out, sizeof out);
	expect_line(out, "info: [s1] \\xE0\\x80\\xAF|\\xF0\\x80\\x80\\xAF");
	/* a truncated sequence followed by ASCII keeps the ASCII */
	log_capture("\xe4\xb8x", out, sizeof out);
	expect_line(out, "info: [s1] \\xE4\\xB8x");
	/* the C1 control CSI (U+009B) is escaped */
	log_capture("\xc2\x9b" "2J", out, sizeof out);
	expect_line(out, "info: [s1] \\xC2\\x9B2J");
}

static void test_session_sanitised(void **state)
{
	(void)state;
	char out[8192];
	snprintf(text_arg, sizeof text_arg, "t");
	session_arg = "id\n";
	level_arg = LOG_LVL_INFO;
	capture(log_text, out, sizeof out);
	expect_line(out, "info: [id\\x0A] t");
}

static void test_cut_at_2000(void **state)
{
	(void)state;
	char out[8192], want[8192];
	char text[4096];
	/* exactly 2000 bytes: kept whole */
	memset(text, 'a', 2000);
	text[2000] = '\0';
	log_capture(text, out, sizeof out);
	snprintf(want, sizeof want, "info: [s1] %s", text);
	expect_line(out, want);
	/* 2001 bytes: 2000 and "..." */
	strcat(text, "b");
	log_capture(text, out, sizeof out);
	text[2000] = '\0';
	snprintf(want, sizeof want, "info: [s1] %s...", text);
	expect_line(out, want);
	/* escapes are never split: 1999 bytes and then a control byte */
	memset(text, 'a', 1999);
	text[1999] = '\x01';
	text[2000] = '\0';
	log_capture(text, out, sizeof out);
	text[1999] = '\0';
	snprintf(want, sizeof want, "info: [s1] %s...", text);
	expect_line(out, want);
	/* nor are characters: 1998 bytes and then a 3-byte character */
	memset(text, 'a', 1998);
	strcpy(text + 1998, "\xe4\xb8\xad");
	log_capture(text, out, sizeof out);
	text[1998] = '\0';
	snprintf(want, sizeof want, "info: [s1] %s...", text);
	expect_line(out, want);
	/* far longer than the formatting buffer */
	memset(text, '\x02', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	log_capture(text, out, sizeof out);
	const char *rest = after_stamp(out);
	assert_int_equal(strlen(strstr(rest, "] ") + 2), 2000 + 3 + 1);
}

static void log_keeps_errno(void)
{
	errno = ENOSPC;
	log_error(NULL, "disk: %m");
	assert_int_equal(errno, ENOSPC);
}

static void test_errno_preserved(void **state)
{
	(void)state;
	char out[8192];
	capture(log_keeps_errno, out, sizeof out);
	char want[256];
	snprintf(want, sizeof want, "error: disk: %s", strerror(ENOSPC));
	expect_line(out, want);
}

static void test_syslog_and_back(void **state)
{
	(void)state;
	/* syslog cannot be read back here; it must simply not fail or write
	 * to stderr, and switching back must work. */
	log_open("test-syslog", 0, LOG_LVL_DEBUG);
	char out[8192];
	log_capture("to syslog \x01", out, sizeof out);
	assert_string_equal(out, "");
	session_arg = NULL;
	capture(log_text, out, sizeof out);
	assert_string_equal(out, "");
	log_open(NULL, 1, LOG_LVL_INFO);
	log_capture("back", out, sizeof out);
	char want[128];
	snprintf(want, sizeof want, "posthorn[%ld]: info: [s1] back\n", (long)getpid());
	assert_string_equal(after_stamp(out), want);
	log_open("test", 1, LOG_LVL_INFO);
}

static void log_bad_level(void)
{
	log_msg((enum log_level)42, NULL, "odd");
}

static void test_bad_level(void **state)
{
	(void)state;
	char out[8192];
	log_open("test", 1, LOG_LVL_DEBUG);
	capture(log_bad_level, out, sizeof out);
	expect_line(out, "debug: odd");
	log_open("test", 1, LOG_LVL_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_format, setup),
		cmocka_unit_test_setup(test_printf_arguments, setup),
		cmocka_unit_test_setup(test_level_filter, setup),
		cmocka_unit_test_setup(test_sanitise_controls, setup),
		cmocka_unit_test_setup(test_sanitise_utf8, setup),
		cmocka_unit_test_setup(test_session_sanitised, setup),
		cmocka_unit_test_setup(test_cut_at_2000, setup),
		cmocka_unit_test_setup(test_errno_preserved, setup),
		cmocka_unit_test_setup(test_syslog_and_back, setup),
		cmocka_unit_test_setup(test_bad_level, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
