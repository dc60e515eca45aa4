/* Unit tests for charset: real text in the charsets mail uses, damaged
 * input, aliases, detection and UTF-8 validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../src/msg/charset.h"

static void check_to_utf8(const char *cs, const char *in, size_t n,
                          const char *want, enum msg_charset_result want_r)
{
	struct buf b = BUF_INIT;
	assert_int_equal(msg_charset_to_utf8(cs, in, n, &b), want_r);
	assert_string_equal(buf_cstr(&b), want);
	assert_true(msg_utf8_valid(b.data, b.len) || want_r == MSG_CHARSET_UNKNOWN);
	buf_free(&b);
}

#define TO_UTF8(cs, lit, want, r) check_to_utf8(cs, lit, sizeof lit - 1, want, r)

static void test_chinese(void **state)
{
	(void)state;
	static const char gb[] = "\xd6\xd0\xce\xc4\xd3\xca\xbc\xfe\xcf\xb5\xcd\xb3";
	TO_UTF8("gb2312", gb, "中文邮件系统", MSG_CHARSET_OK);
	TO_UTF8("GB2312", gb, "中文邮件系统", MSG_CHARSET_OK);
	TO_UTF8("euc-cn", gb, "中文邮件系统", MSG_CHARSET_OK);
	/* 镕 is in GBK but not GB2312: senders labelling GBK text gb2312. */
	TO_UTF8("gb2312", "\xd6\xec\xe9\x46\xbb\xf9", "朱镕基", MSG_CHARSET_OK);
	TO_UTF8("x-gbk", "\xd6\xec\xe9\x46\xbb\xf9", "朱镕基", MSG_CHARSET_OK);
	TO_UTF8("cp936", "\xd6\xec\xe9\x46\xbb\xf9", "朱镕基", MSG_CHARSET_OK);
	/* GB18030 four-byte sequences. */
	TO_UTF8("gb18030", "a\x94\x39\xfc\x36" "b", "a😀b", MSG_CHARSET_OK);
	TO_UTF8("big5", "\xc1\x63\xc5\xe9\xa4\xa4\xa4\xe5", "繁體中文", MSG_CHARSET_OK);
}

static void test_other_scripts(void **state)
{
	(void)state;
	TO_UTF8("shift_jis", "\x93\xfa\x96\x7b\x8c\xea\x83\x65\x83\x4c\x83\x58\x83\x67",
	        "日本語テキスト", MSG_CHARSET_OK);
	TO_UTF8("x-sjis", "\x93\xfa\x96\x7b", "日本", MSG_CHARSET_OK);
	TO_UTF8("euc-jp", "\xc6\xfc\xcb\xdc", "日本", MSG_CHARSET_OK);
	TO_UTF8("iso-2022-jp", "\x1b\x24\x42\x46\x7c\x4b\x5c\x1b\x28\x42", "日本",
	        MSG_CHARSET_OK);
	TO_UTF8("ks_c_5601-1987", "\xc7\xd1\xb1\xb9\xbe\xee", "한국어", MSG_CHARSET_OK);
	TO_UTF8("koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "Привет", MSG_CHARSET_OK);
	TO_UTF8("windows-1251", "\xcc\xe8\xf0", "Мир", MSG_CHARSET_OK);
	TO_UTF8("cp1251", "\xcc\xe8\xf0", "Мир", MSG_CHARSET_OK);
	TO_UTF8("iso-8859-2", "\xaf\xf3\xb3\xe6", "Żółć", MSG_CHARSET_OK);
	TO_UTF8("latin1", "caf\xe9", "café", MSG_CHARSET_OK);
	TO_UTF8("iso-8859-8-i", "\xf9\xec\xe5\xed", "שלום", MSG_CHARSET_OK);
	TO_UTF8("utf-16", "\xff\xfe\x68\x00\x69\x00\x2d\x4e", "hi中", MSG_CHARSET_OK);
	TO_UTF8("UTF-16BE", "\x00\x68\x00\x69\x4e\x2d", "hi中", MSG_CHARSET_OK);
	TO_UTF8("utf-7", "Hi +Ti0-", "Hi 中", MSG_CHARSET_OK);
}

static void test_damaged(void **state)
{
	(void)state;
	/* A multibyte character cut off by the end of the input. */
	TO_UTF8("gb2312", "\xd6\xd0\xce", "中\xef\xbf\xbd", MSG_CHARSET_LOSSY);
	TO_UTF8("utf-16le", "h\x00i", "h\xef\xbf\xbd", MSG_CHARSET_LOSSY);
	TO_UTF8("shift_jis", "\x93", "\xef\xbf\xbd", MSG_CHARSET_LOSSY);
	/* Invalid in the middle: replaced, and the rest still converts. */
	TO_UTF8("gb18030", "\xd6\xd0\xff\xce\xc4", "中\xef\xbf\xbd文", MSG_CHARSET_LOSSY);
	TO_UTF8("utf-8", "a\xc3(b", "a\xef\xbf\xbd(b", MSG_CHARSET_LOSSY);
	TO_UTF8("utf8", "\xe4\xb8\xad", "中", MSG_CHARSET_OK);
	TO_UTF8("us-ascii", "plain", "plain", MSG_CHARSET_OK);
	TO_UTF8("ascii", "\xe4\xb8\xad", "中", MSG_CHARSET_OK);
	TO_UTF8("utf-8", "", "", MSG_CHARSET_OK);
}

static void test_unknown(void **state)
{
	(void)state;
	TO_UTF8("x-no-such-charset", "ab\xff", "ab\xff", MSG_CHARSET_UNKNOWN);
	/* iconv options must not be smuggled in through a label. */
	TO_UTF8("latin1//TRANSLIT", "x\xe9", "x\xe9", MSG_CHARSET_UNKNOWN);
	TO_UTF8("../../etc/passwd", "x", "x", MSG_CHARSET_UNKNOWN);
	/* No label: detected. */
	TO_UTF8(NULL, "\xd6\xd0\xce\xc4", "中文", MSG_CHARSET_OK);
	TO_UTF8("", "caf\xe9 ok", "café ok", MSG_CHARSET_OK);
}

static void test_canonical(void **state)
{
	(void)state;
	assert_string_equal(msg_charset_canonical("GBK"), "GB18030");
	assert_string_equal(msg_charset_canonical("gb_2312-80"), "GB18030");
	assert_string_equal(msg_charset_canonical("Latin1"), "ISO-8859-1");
	assert_string_equal(msg_charset_canonical("ANSI_X3.4-1968"), "UTF-8");
	assert_string_equal(msg_charset_canonical("cp1252"), "WINDOWS-1252");
	assert_string_equal(msg_charset_canonical("cp1259"), "cp1259");
	assert_string_equal(msg_charset_canonical("euc-kr"), "CP949");
	assert_string_equal(msg_charset_canonical("iso-8859-15"), "iso-8859-15");
	assert_null(msg_charset_canonical(NULL));
}

static void test_from_utf8(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	/* The seed's example: 系统 in GB2312 is CF B5 CD B3. */
	assert_int_equal(msg_charset_from_utf8("gb2312", "系统", strlen("系统"), &b),
	                 MSG_CHARSET_OK);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "\xcf\xb5\xcd\xb3", 4);
	buf_reset(&b);
	assert_int_equal(msg_charset_from_utf8("iso-8859-1", "a中é", strlen("a中é"), &b),
	                 MSG_CHARSET_LOSSY);
	assert_string_equal(buf_cstr(&b), "a?\xe9");
	buf_reset(&b);
	assert_int_equal(msg_charset_from_utf8("koi8-r", "x\xffy", 3, &b),
	                 MSG_CHARSET_LOSSY);
	assert_string_equal(buf_cstr(&b), "x?y");
	buf_free(&b);
}

static void test_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 5);
	/* 中文 is 6 bytes of UTF-8: does not fit, and nothing is left behind. */
	assert_int_equal(msg_charset_to_utf8("gbk", "\xd6\xd0\xce\xc4", 4, &b),
	                 MSG_CHARSET_ERROR);
	assert_int_equal(b.len, 0);
	/* Exactly fitting output is accepted. */
	assert_int_equal(msg_charset_to_utf8("latin1", "\xe9\xe9", 2, &b),
	                 MSG_CHARSET_OK);
	assert_int_equal(b.len, 4);
	buf_free(&b);
}

static void test_detect(void **state)
{
	(void)state;
	assert_string_equal(msg_charset_detect("hello", 5), "US-ASCII");
	assert_string_equal(msg_charset_detect("", 0), "US-ASCII");
	assert_string_equal(msg_charset_detect("中文", strlen("中文")), "UTF-8");
	assert_string_equal(msg_charset_detect("\xd6\xd0\xce\xc4", 4), "GB18030");
	assert_string_equal(msg_charset_detect("a\x94\x39\xfc\x36", 5), "GB18030");
	assert_string_equal(msg_charset_detect("caf\xe9", 4), "windows-1252");
	assert_string_equal(msg_charset_detect("\xd6\xd0\xce", 3), "windows-1252");
	/* Latin-1 words that are also well-formed GB18030 (a letter as the
	 * second byte) must not turn Chinese. */
	assert_string_equal(msg_charset_detect("Heinz M\xfcller", strlen("Heinz M\xfcller")), "windows-1252");
	assert_string_equal(msg_charset_detect("Fr\xf6sche", strlen("Fr\xf6sche")), "windows-1252");
	/* GBK text with one low-trail character among GB2312 ones stays GB. */
	assert_string_equal(msg_charset_detect("\xd6\xd0\x81\x40\xce\xc4", 6), "GB18030");
}

static void test_utf8_valid(void **state)
{
	(void)state;
	assert_true(msg_utf8_valid("", 0));
	assert_true(msg_utf8_valid("a中😀\x7f", strlen("a中😀\x7f")));
	assert_true(msg_utf8_valid("\xf4\x8f\xbf\xbf", 4));   /* U+10FFFF */
	assert_true(msg_utf8_valid("\xed\x9f\xbf", 3));       /* U+D7FF */
	assert_false(msg_utf8_valid("\xc0\xaf", 2));          /* overlong / */
	assert_false(msg_utf8_valid("\xe0\x80\xaf", 3));
	assert_false(msg_utf8_valid("\xf0\x80\x80\xaf", 4));
	assert_false(msg_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	assert_false(msg_utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
	assert_false(msg_utf8_valid("\xf5\x80\x80\x80", 4));
	assert_false(msg_utf8_valid("\xe4\xb8", 2));          /* truncated */
	assert_false(msg_utf8_valid("\x80", 1));
	assert_false(msg_utf8_valid("\xff", 1));
}

static void check_sanitize(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT;
	assert_int_equal(msg_utf8_sanitize(in, n, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	assert_true(msg_utf8_valid(b.data, b.len));
	buf_free(&b);
}

static void test_utf8_sanitize(void **state)
{
	(void)state;
#define R "\xef\xbf\xbd"
	check_sanitize("ok中", strlen("ok中"), "ok中");
	check_sanitize("a\xe4\xb8" "b", 4, "a" R "b");  /* one U+FFFD for the cut */
	check_sanitize("\xc0\xaf", 2, R R);
	check_sanitize("\xed\xa0\x80", 3, R R R);
	check_sanitize("\xf0\x9f\x98", 3, R);
	check_sanitize("x\x80\x80y", 4, "x" R R "y");
	struct buf b = BUF_INIT;                          /* NUL is valid */
	assert_int_equal(msg_utf8_sanitize("a\0b", 3, &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 3);
	buf_free(&b);
#undef R
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chinese),
		cmocka_unit_test(test_other_scripts),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_from_utf8),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_sanitize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
