/* Unit tests for codec: base64 and quoted-printable, clean and hostile. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/msg/codec.h"

/* Decodes base64 and checks the bytes and the count of skipped garbage. */
static void check_b64_decode(const char *in, const char *want, size_t want_len,
                             size_t want_bad)
{
	struct buf b = BUF_INIT;
	size_t bad = 99;
	assert_int_equal(msg_base64_decode(in, strlen(in), &b, &bad), 0);
	assert_int_equal(b.len, want_len);
	if (want_len)
		assert_memory_equal(b.data, want, want_len);
	assert_int_equal(bad, want_bad);
	buf_free(&b);
}

static void check_b64_encode(const char *in, size_t line_len, const char *want)
{
	struct buf b = BUF_INIT;
	assert_int_equal(msg_base64_encode(in, strlen(in), line_len, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_base64_padding(void **state)
{
	(void)state;
	/* The seed's rules: one pad for two bytes left, two for one. */
	check_b64_encode("Man", 0, "TWFu");
	check_b64_encode("Ma", 0, "TWE=");
	check_b64_encode("M", 0, "TQ==");
	check_b64_encode("", 76, "");
	check_b64_encode("M", 76, "TQ==\r\n");
	check_b64_decode("TWFu", "Man", 3, 0);
	check_b64_decode("TWE=", "Ma", 2, 0);
	check_b64_decode("TQ==", "M", 1, 0);
	check_b64_decode("", "", 0, 0);
}

static void test_base64_tolerant(void **state)
{
	(void)state;
	check_b64_decode("TWE", "Ma", 2, 0);           /* missing padding */
	check_b64_decode("TQ", "M", 1, 0);
	check_b64_decode("T", "", 0, 0);               /* 6 bits: no byte */
	check_b64_decode(" T W\r\nF u\t", "Man", 3, 0);
	check_b64_decode("T!W*F#u", "Man", 3, 3);      /* garbage skipped */
	check_b64_decode("TQ==TWFu", "M", 1, 0);       /* stops at '=' */
	check_b64_decode("TW=Fu", "M", 1, 0);
	check_b64_decode("\xff\x80TWFu\x01", "Man", 3, 3);
	check_b64_decode("====", "", 0, 0);
}

static void test_base64_lines(void **state)
{
	(void)state;
	char in[200];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (char)('a' + i % 26);
	struct buf b = BUF_INIT;
	assert_int_equal(msg_base64_encode(in, sizeof in, 76, &b), 0);
	/* 200 bytes = 268 chars: lines of 76, 76, 76, 40, each with CRLF. */
	assert_int_equal(b.len, 268 + 4 * 2);
	assert_memory_equal(b.data + 76, "\r\n", 2);
	assert_memory_equal(b.data + 78 + 76, "\r\n", 2);
	assert_memory_equal(b.data + b.len - 2, "\r\n", 2);
	struct buf d = BUF_INIT;
	size_t bad;
	assert_int_equal(msg_base64_decode(b.data, b.len, &d, &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(d.len, sizeof in);
	assert_memory_equal(d.data, in, sizeof in);
	/* A line length that is not a multiple of 4 is rounded down. */
	buf_reset(&b);
	assert_int_equal(msg_base64_encode("abcdefgh", 8, 6, &b), 0);
	assert_string_equal(buf_cstr(&b), "YWJj\r\nZGVm\r\nZ2g=\r\n");
	buf_free(&b);
	buf_free(&d);
}

/* Round trips of random data through every path: the SIMD and scalar fast
 * paths, whitespace between groups and inside them, garbage. */
static void test_base64_roundtrip_random(void **state)
{
	(void)state;
	srand(7);
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)rand() % 700;
		unsigned char *raw = malloc(n + 1);
		for (size_t i = 0; i < n; i++)
			raw[i] = (unsigned char)rand();
		size_t line = (size_t)(rand() % 3) * 36; /* 0, 36, 72 */
		struct buf e = BUF_INIT, d = BUF_INIT;
		assert_int_equal(msg_base64_encode(raw, n, line, &e), 0);
		/* Sprinkle whitespace and garbage into a copy. */
		struct buf noisy = BUF_INIT;
		size_t garbage = 0;
		for (size_t i = 0; i < e.len; i++) {
			int r = rand() % 50;
			if (r == 0)
				buf_putc(&noisy, ' ');
			if (r == 1) {
				buf_putc(&noisy, '*');
				/* the decoder stops at the pad: not counted */
				garbage += memchr(e.data, '=', i) == NULL;
			}
			buf_putc(&noisy, e.data[i]);
		}
		size_t bad;
		assert_int_equal(msg_base64_decode(noisy.data, noisy.len, &d, &bad), 0);
		assert_int_equal(bad, garbage);
		assert_int_equal(d.len, n);
		if (n)
			assert_memory_equal(d.data, raw, n);
		/* The raw form writes no more than its bound promises. */
		unsigned char *out = malloc(MSG_BASE64_DECODED_MAX(e.len));
		assert_int_equal(msg_base64_decode_raw(e.data, e.len, out, NULL), n);
		free(out);
		free(raw);
		buf_free(&e);
		buf_free(&d);
		buf_free(&noisy);
	}
}

static void test_base64_limit(void **state)
{
	(void)state;
	struct buf b;
	/* Exactly enough room: the worst-case estimate must not refuse it. */
	buf_init(&b, 3);
	assert_int_equal(msg_base64_decode("TWFu\r\n", 6, &b, NULL), 0);
	assert_int_equal(b.len, 3);
	buf_free(&b);
	buf_init(&b, 2);
	assert_int_equal(msg_base64_decode("TWFu", 4, &b, NULL), -1);
	buf_free(&b);
	buf_init(&b, 4);
	assert_int_equal(msg_base64_encode("Man", 3, 0, &b), 0);
	assert_int_equal(msg_base64_encode("Man", 3, 0, &b), -1);
	assert_int_equal(b.len, 4);
	buf_free(&b);
}

static void check_qp_decode(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	assert_int_equal(msg_qp_decode(in, strlen(in), &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_qp_decode(void **state)
{
	(void)state;
	check_qp_decode("=CF=B5=CD=B3", "\xcf\xb5\xcd\xb3");
	check_qp_decode("=cf=b5", "\xcf\xb5");              /* lowercase hex */
	check_qp_decode("ABCDEFG=\r\nHIJ=\nKL", "ABCDEFGHIJKL");
	check_qp_decode("soft= \t\r\nbreak", "softbreak");  /* WSP after = */
	check_qp_decode("trail   \r\nnext\t\n", "trail\r\nnext\n");
	check_qp_decode("a = b", "a = b");                   /* bare = kept */
	check_qp_decode("=G1=4", "=G1=4");                   /* non-hex kept */
	check_qp_decode("x=3", "x=3");
	check_qp_decode("end=", "end");
	check_qp_decode("1+1=3D2", "1+1=2");
	check_qp_decode("lf\nand\r\ncrlf\n", "lf\nand\r\ncrlf\n");
	check_qp_decode("", "");
	check_qp_decode("=\r\n", "");
	check_qp_decode("a\rb", "a\rb");
}

static void check_qp_encode(const char *in, unsigned flags, const char *want)
{
	struct buf b = BUF_INIT;
	assert_int_equal(msg_qp_encode(in, strlen(in), flags, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_qp_encode(void **state)
{
	(void)state;
	/* The seed's example: "系统" in GB2312. */
	check_qp_encode("\xcf\xb5\xcd\xb3", 0, "=CF=B5=CD=B3");
	check_qp_encode("a=b", 0, "a=3Db");
	check_qp_encode("trail \nx\t\r\n", 0, "trail=20\r\nx=09\r\n");
	check_qp_encode("end ", 0, "end=20");
	check_qp_encode(".\nFrom me\nFrom", 0, "=2E\r\n=46rom me\r\nFrom");
	check_qp_encode("a.b From x", 0, "a.b From x");
	check_qp_encode("a\r\nb", MSG_QP_BINARY, "a=0D=0Ab");
	check_qp_encode("cr\ronly", 0, "cr=0Donly");
	check_qp_encode("", 0, "");
}

/* Every line at most 76 characters, no =XX split, and it decodes back. */
static void check_qp_lines(const char *in, size_t n, unsigned flags)
{
	struct buf e = BUF_INIT, d = BUF_INIT;
	assert_int_equal(msg_qp_encode(in, n, flags, &e), 0);
	const char *p = buf_cstr(&e);
	size_t col = 0;
	for (size_t i = 0; i < e.len; i++) {
		if (p[i] == '\r') {
			assert_true(i + 1 < e.len && p[i + 1] == '\n');
			/* no bare trailing whitespace */
			assert_true(i == 0 || (p[i - 1] != ' ' && p[i - 1] != '\t'));
			col = 0;
			i++;
			continue;
		}
		assert_true(p[i] != '\n');
		assert_true(((unsigned char)p[i] >= 32 && (unsigned char)p[i] < 127) || p[i] == '\t');
		if (p[i] == '=' && !(i + 1 < e.len && p[i + 1] == '\r')) {
			assert_true(i + 2 < e.len);
			assert_true(strchr("0123456789ABCDEF", p[i + 1]) != NULL);
			assert_true(strchr("0123456789ABCDEF", p[i + 2]) != NULL);
		}
		col++;
		assert_true(col <= 76);
	}
	assert_int_equal(msg_qp_decode(e.data, e.len, &d), 0);
	assert_int_equal(d.len, n);
	if (n)
		assert_memory_equal(d.data, in, n);
	buf_free(&e);
	buf_free(&d);
}

static void test_qp_long_lines(void **state)
{
	(void)state;
	char line[300];
	memset(line, 'x', sizeof line);
	check_qp_lines(line, sizeof line, 0);
	/* An escape near the break point must move whole to the next line. */
	for (size_t at = 70; at < 80; at++) {
		memset(line, 'y', sizeof line);
		line[at] = '=';
		line[at + 1] = (char)0xe4;
		check_qp_lines(line, 160, 0);
	}
	/* Dots and "From " that land at a line start after a soft break. */
	memset(line, 'z', sizeof line);
	memcpy(line + 75, "From x", 6);
	memcpy(line + 150, "....", 4);
	struct buf e = BUF_INIT;
	assert_int_equal(msg_qp_encode(line, 200, 0, &e), 0);
	assert_null(strstr(buf_cstr(&e), "\nFrom "));
	assert_null(strstr(buf_cstr(&e), "\n."));
	buf_free(&e);
}

static void test_qp_roundtrip_random(void **state)
{
	(void)state;
	srand(11);
	static const char pool[] = "ab =.\t\r\nF\xe4\x00~";
	for (int round = 0; round < 500; round++) {
		char in[400];
		size_t n = (size_t)rand() % sizeof in;
		for (size_t i = 0; i < n; i++)
			in[i] = pool[rand() % (int)(sizeof pool - 1)];
		check_qp_lines(in, n, MSG_QP_BINARY);
		/* Text mode keeps CRLF pairs; make every LF part of one. */
		for (size_t i = 0; i < n; i++)
			if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
				in[i] = 'n';
			else if (in[i] == '\r' && (i + 1 == n || in[i + 1] != '\n'))
				in[i] = 'r';
		check_qp_lines(in, n, 0);
	}
}

static void test_qp_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 5);
	assert_int_equal(msg_qp_encode("\xff\xff", 2, 0, &b), -1);
	buf_free(&b);
	buf_init(&b, 3);
	assert_int_equal(msg_qp_decode("abcd", 4, &b), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_padding),
		cmocka_unit_test(test_base64_tolerant),
		cmocka_unit_test(test_base64_lines),
		cmocka_unit_test(test_base64_roundtrip_random),
		cmocka_unit_test(test_base64_limit),
		cmocka_unit_test(test_qp_decode),
		cmocka_unit_test(test_qp_encode),
		cmocka_unit_test(test_qp_long_lines),
		cmocka_unit_test(test_qp_roundtrip_random),
		cmocka_unit_test(test_qp_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
