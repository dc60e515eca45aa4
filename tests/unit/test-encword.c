/* Unit tests for encword: RFC 2047 decoding of real and broken headers,
 * encoding, and decode(encode(s)) == s for random text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/msg/charset.h"
#include "../../src/msg/encword.h"

static void check_decode(const char *in, const char *want, int want_r)
{
	struct buf b = BUF_INIT;
	assert_int_equal(msg_encword_decode(in, strlen(in), &b), want_r);
	assert_string_equal(buf_cstr(&b), want);
	assert_true(msg_utf8_valid(b.data, b.len));
	buf_free(&b);
}

static void test_decode_basic(void **state)
{
	(void)state;
	check_decode("plain text", "plain text", 0);
	check_decode("", "", 0);
	check_decode("=?utf-8?B?5Lit5paH?=", "中文", 0);
	check_decode("=?UTF-8?b?5Lit5paH?=", "中文", 0);
	check_decode("=?iso-8859-1?q?caf=E9_cr=e8me?=", "café crème", 0);
	check_decode("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab", 0);
	check_decode("=?ISO-8859-1?Q?a?=\r\n\t =?ISO-8859-1?Q?b?=", "ab", 0);
	check_decode("=?ISO-8859-1?Q?a?=  b", "a  b", 0);
	check_decode("a =?ISO-8859-1?Q?b?=", "a b", 0);
	check_decode("=?gb2312?B?1tDOxNPKvP4=?=", "中文邮件", 0);
	check_decode("=?utf-8*en?Q?hi?=", "hi", 0);                 /* RFC 2231 */
	check_decode("=?ISO-8859-1?Q?a?==?ISO-8859-1?Q?b?=", "ab", 0);
	check_decode("Subject: foo=?utf-8?q?bar?=baz", "Subject: foobarbaz", 0);
	check_decode("[SPAM]=?utf-8?B?VGhpcyBpcyB0aGUgb\n 3JpZ2luYWw=?=",
	             "[SPAM]This is the original", 0);
	check_decode("=?utf-8?Q?Hello\r\n   \t  _there!?=", "Hello there!", 0);
	check_decode("=?iso-8859-1?q?this is some text?=", "this is some text", 0);
	check_decode("=?utf-8?Q?\?=x", "x", 0);
	check_decode("=?utf-8?B?8J+YgA?=", "😀", 0);                /* no padding */
	check_decode("a\r\n b", "a b", 0);                          /* CR LF go */
}

static void test_decode_split_characters(void **state)
{
	(void)state;
	/* 中 (E4 B8 AD) split over two UTF-8 words. */
	check_decode("=?utf-8?Q?=E4=B8?= =?UTF-8?Q?=AD?=", "中", 0);
	check_decode("=?utf-8?B?5Lg=?= =?utf8?B?rQ==?=", "中", 0);
	/* 中 in GB2312 (D6 D0) split, the second word labelled GBK. */
	check_decode("=?gb2312?Q?=D6?=\r\n =?GBK?Q?=D0?=", "中", 0);
	/* Different charsets are converted separately. */
	check_decode("=?iso-8859-1?Q?=E9?= =?iso-8859-2?Q?=B3?=", "éł", 0);
	/* Plain text between breaks the run: a lone half is lossy. */
	check_decode("=?utf-8?Q?=E4=B8?= x =?utf-8?Q?=AD?=",
	             "\xef\xbf\xbd x \xef\xbf\xbd", 1);
}

static void test_decode_malformed(void **state)
{
	(void)state;
	check_decode("=?utf-8?B?####?=", "=?utf-8?B?####?=", 0);    /* bad b64 */
	check_decode("=?utf-8?X?abc?=", "=?utf-8?X?abc?=", 0);      /* encoding */
	check_decode("=?utf-8?Q?abc", "=?utf-8?Q?abc", 0);          /* no ?= */
	check_decode("=??Q?abc?=", "=??Q?abc?=", 0);                /* no charset */
	check_decode("=?*en?Q?abc?=", "=?*en?Q?abc?=", 0);
	check_decode("a = b =? c", "a = b =? c", 0);
	check_decode("=?utf-8 ", "=?utf-8 ", 0);
	check_decode("=?", "=?", 0);
	check_decode("=", "=", 0);
	check_decode("?=", "?=", 0);
	/* A bad word, then a good one: only the good one is decoded. */
	check_decode("=?x?B?!!?= =?utf-8?Q?ok?=", "=?x?B?!!?= ok", 0);
	/* Unknown charset: the bytes are kept (as UTF-8 or detected). */
	check_decode("=?x-unknown?Q?caf=C3=A9?=", "café", 1);
	check_decode("=?x-unknown?Q?=D6=D0?=", "中", 1);
	/* Invalid bytes in a known charset: U+FFFD and a lossy result. */
	check_decode("=?utf-8?Q?a=FFb?=", "a\xef\xbf\xbd" "b", 1);
}

static void test_decode_raw_8bit(void **state)
{
	(void)state;
	check_decode("ハロー・ワールド", "ハロー・ワールド", 0);
	check_decode("\xd6\xd0\xce\xc4 =?utf-8?Q?x?=", "中文 x", 0);   /* GB */
	check_decode("caf\xe9", "café", 0);                          /* 1252 */
}

/* Adversarial input must take linear time, not quadratic. */
static void test_decode_linear(void **state)
{
	(void)state;
	static const char *const units[] = {"=?a?b?!", "=?", "=?utf-8?Q?",
	                                    "=?a?q?x?= ", "=?a?b?AAAA"};
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t ulen = strlen(units[u]), reps = 200000;
		char *big = malloc(ulen * reps + 3);
		for (size_t i = 0; i < reps; i++)
			memcpy(big + i * ulen, units[u], ulen);
		memcpy(big + ulen * reps, "?=", 3);
		struct buf b = BUF_INIT;
		clock_t t = clock();
		assert_true(msg_encword_decode(big, ulen * reps + 2, &b) >= 0);
		double secs = (double)(clock() - t) / CLOCKS_PER_SEC;
		assert_true(secs < 5.0);
		buf_free(&b);
		free(big);
	}
}

static void test_decode_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 4);
	assert_int_equal(msg_encword_decode("=?utf-8?Q?abcdef?=", 18, &b), -1);
	buf_free(&b);
}

static void check_encode(const char *in, unsigned flags, const char *want)
{
	struct buf b = BUF_INIT;
	assert_int_equal(msg_encword_encode(in, strlen(in), flags, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_encode(void **state)
{
	(void)state;
	check_encode("Hello world", 0, "Hello world");
	check_encode("Doe, John", 0, "Doe, John");
	check_encode("Doe, John", MSG_EW_PHRASE, "\"Doe, John\"");
	check_encode("say \"hi\" \\o/", MSG_EW_PHRASE, "\"say \\\"hi\\\" \\\\o/\"");
	check_encode("John Doe", MSG_EW_PHRASE, "John Doe");
	check_encode("中文", 0, "=?UTF-8?B?5Lit5paH?=");
	check_encode("café au lait", 0, "=?UTF-8?B?Y2Fmw6k=?= au lait");
	check_encode("Größe", 0, "=?UTF-8?B?R3LDtsOfZQ==?=");
	check_encode("Übersetzungen", 0, "=?UTF-8?Q?=C3=9Cbersetzungen?=");
	check_encode("a 中 文 b", 0, "a =?UTF-8?B?5LitIOaWhw==?= b");
	check_encode("=?utf-8?q?x?=", 0, "=?UTF-8?B?PT91dGYtOD9xP3g/PQ==?=");
	check_encode("x\r\nBcc: y", 0, "=?UTF-8?Q?x=0D=0ABcc:?= y");
	/* In a phrase, specials next to encoded text are encoded too. */
	check_encode("Müller, Hans", MSG_EW_PHRASE,
	             "=?UTF-8?B?TcO8bGxlciw=?= Hans");
	check_encode("Äbersetzungen (x)", MSG_EW_PHRASE,
	             "=?UTF-8?B?w4RiZXJzZXR6dW5nZW4gKHgp?=");
	check_encode("Übersetzungsdienstleistungen, Ltd", MSG_EW_PHRASE,
	             "=?UTF-8?Q?=C3=9Cbersetzungsdienstleistungen=2C?= Ltd");
	check_encode("Ünter (Übersetzungsdienstleistungen)", MSG_EW_PHRASE,
	             "=?UTF-8?Q?=C3=9Cnter_=28=C3=9Cbersetzungsdienstleistungen=29?=");
	check_encode("", 0, "");
}

/* Every encoded-word in s is at most 75 characters. */
static void check_word_lengths(const char *s)
{
	const char *p = s;
	while ((p = strstr(p, "=?UTF-8?")) != NULL) {
		const char *end = strstr(p + 10, "?=");
		assert_non_null(end);
		assert_true(end + 2 - p <= 75);
		p = end + 2;
	}
}

static void check_roundtrip(const char *s, size_t n, unsigned flags)
{
	struct buf e = BUF_INIT, d = BUF_INIT;
	assert_int_equal(msg_encword_encode(s, n, flags, &e), 0);
	const char *enc = buf_cstr(&e);
	check_word_lengths(enc);
	for (size_t i = 0; i < e.len; i++)
		assert_true((enc[i] >= ' ' && enc[i] < 127) || enc[i] == '\t');
	if ((flags & MSG_EW_PHRASE) && e.len && enc[0] == '"') {
		/* A phrase needing no encoding came back as a quoted string. */
		assert_true(e.len >= 2 && enc[e.len - 1] == '"');
		for (size_t i = 1; i + 1 < e.len; i++) {
			if (enc[i] == '\\')
				i++;
			buf_putc(&d, enc[i]);
		}
	} else {
		assert_int_equal(msg_encword_decode(e.data, e.len, &d), 0);
	}
	if (d.len != n || (n && memcmp(d.data, s, n) != 0))
		fail_msg("round trip of '%.*s' gave '%s' via '%s'", (int)n, s,
		         buf_cstr(&d), enc);
	buf_free(&e);
	buf_free(&d);
}

static void test_encode_roundtrip(void **state)
{
	(void)state;
	static const char *const pieces[] = {
		"中", "文", "邮件", "😀", "é", "a", "Z", "9", " ", " ", "  ", "\t",
		"_", "=", "?", "=?", "?=", ",", "\"", "(", ".", "From", "ü", "한",
		"Привет", "x=?y", "—",
	};
	const size_t npieces = sizeof pieces / sizeof pieces[0];
	srand(3);
	for (int round = 0; round < 3000; round++) {
		char s[400];
		size_t n = 0, count = (size_t)rand() % 40;
		for (size_t i = 0; i < count; i++) {
			const char *p = pieces[rand() % (int)npieces];
			size_t len = strlen(p);
			if (n + len >= sizeof s)
				break;
			memcpy(s + n, p, len);
			n += len;
		}
		check_roundtrip(s, n, 0);
		check_roundtrip(s, n, MSG_EW_PHRASE);
	}
	/* One long word of Chinese: split at character boundaries. */
	char longword[3 * 100 + 1] = "";
	for (int i = 0; i < 100; i++)
		strcat(longword, "邮");
	check_roundtrip(longword, strlen(longword), 0);
}

static void test_encode_invalid_utf8(void **state)
{
	(void)state;
	struct buf e = BUF_INIT, d = BUF_INIT;
	assert_int_equal(msg_encword_encode("a\xff", 2, 0, &e), 0);
	assert_int_equal(msg_encword_decode(e.data, e.len, &d), 0);
	assert_string_equal(buf_cstr(&d), "a\xef\xbf\xbd");
	buf_free(&e);
	buf_free(&d);
}

/* A charset label of 63, 64 and 65 bytes: the longest fits, the others are
 * not encoded-words and stay literal (a fuzzer found the 64-byte overflow). */
static void test_decode_charset_length_limit(void **state)
{
	(void)state;
	for (int n = 63; n <= 65; n++) {
		char in[160];
		snprintf(in, sizeof in, "=?%.*s?Q?abc?=", n,
		         "utf-8___________________________________________________________________");
		struct buf out = BUF_INIT;
		assert_true(msg_encword_decode(in, strlen(in), &out) >= 0);
		if (n > 63)
			assert_string_equal(buf_cstr(&out), in);
		else
			assert_string_equal(buf_cstr(&out), "abc");
		buf_free(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_basic),
		cmocka_unit_test(test_decode_split_characters),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_decode_raw_8bit),
		cmocka_unit_test(test_decode_linear),
		cmocka_unit_test(test_decode_limit),
		cmocka_unit_test(test_decode_charset_length_limit),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_encode_invalid_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
