/* Unit tests for src/msg/mime.c: Content-Type, Content-Disposition, CTE and
 * parameter formatting, including RFC 2231/2047 values and hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/mime.h"

/* Parses s as a Content-Type into ct and returns the result. */
static int ctype(const char *s, struct msg_ctype *ct)
{
	memset(ct, 0, sizeof *ct);
	return msg_ctype_parse(s, strlen(s), ct);
}

static void check_param(const char *field, const char *name, const char *want)
{
	struct msg_ctype ct;
	int r = ctype(field, &ct);
	assert_true(r == 0 || r == 1);
	const char *v = msg_ctype_param(&ct, name);
	if (!want)
		assert_null(v);
	else {
		assert_non_null(v);
		assert_string_equal(v, want);
	}
	msg_ctype_free(&ct);
}

static void test_basic(void **state)
{
	(void)state;
	struct msg_ctype ct;
	assert_int_equal(ctype("text/plain; charset=us-ascii", &ct), 0);
	assert_string_equal(ct.type, "text");
	assert_string_equal(ct.subtype, "plain");
	assert_int_equal(ct.nparams, 1);
	assert_string_equal(ct.params[0].name, "charset");
	assert_string_equal(ct.params[0].value, "us-ascii");
	assert_null(ct.params[0].charset);
	assert_null(ct.params[0].lang);
	msg_ctype_free(&ct);
	assert_null(ct.type);
	assert_int_equal(ct.nparams, 0);

	assert_int_equal(ctype("TEXT/HTML; CHARSET=\"UTF-8\"", &ct), 0);
	assert_string_equal(ct.type, "text");
	assert_string_equal(ct.subtype, "html");
	assert_string_equal(ct.params[0].name, "charset");
	assert_string_equal(msg_ctype_param(&ct, "Charset"), "UTF-8");
	msg_ctype_free(&ct);
}

static void test_comments_and_folds(void **state)
{
	(void)state;
	struct msg_ctype ct;
	const char *s = " (lead) multipart (a (nested) \\) c) / mixed (x);\r\n"
	                "\tboundary=\"=_abc\" (comment; with=semicolon);\n"
	                " (c) charset (c) = (c) utf-8 (trailing)";
	assert_int_equal(ctype(s, &ct), 0);
	assert_string_equal(ct.type, "multipart");
	assert_string_equal(ct.subtype, "mixed");
	assert_int_equal(ct.nparams, 2);
	assert_string_equal(msg_ctype_param(&ct, "boundary"), "=_abc");
	assert_string_equal(msg_ctype_param(&ct, "charset"), "utf-8");
	assert_null(msg_ctype_param(&ct, "with"));
	msg_ctype_free(&ct);

	/* a fold inside a quoted string loses its line end, keeps the WSP */
	check_param("text/plain; name=\"long\r\n name.txt\"", "name",
	            "long name.txt");
}

static void test_quoted(void **state)
{
	(void)state;
	check_param("text/plain; name=\"quoted \\\" string\"", "name",
	            "quoted \" string");
	check_param("text/plain; name=\"a\\\\b;c=d\"; x=1", "name", "a\\b;c=d");
	check_param("text/plain; name=\"a\\\\b;c=d\"; x=1", "x", "1");
	check_param("text/plain; name=\"\"", "name", "");
	/* unterminated: runs to the end */
	check_param("text/plain; name=\"open ended", "name", "open ended");
	check_param("text/plain; name=\"trailing backslash\\", "name",
	            "trailing backslash");
}

static void test_missing_semicolon_and_garbage(void **state)
{
	(void)state;
	const char *s = "text/plain charset=utf-8 format=flowed";
	check_param(s, "charset", "utf-8");
	check_param(s, "format", "flowed");
	check_param("text/plain; name=\"a b\" size=10", "size", "10");

	s = "text/plain; ; =x; foo; \"junk\"; charset=utf-8; bar=; ===; baz";
	struct msg_ctype ct;
	assert_int_equal(ctype(s, &ct), 0);
	assert_string_equal(msg_ctype_param(&ct, "charset"), "utf-8");
	assert_string_equal(msg_ctype_param(&ct, "bar"), "");
	assert_null(msg_ctype_param(&ct, "foo"));
	assert_null(msg_ctype_param(&ct, "baz"));
	assert_int_equal(ct.nparams, 2);
	msg_ctype_free(&ct);

	/* unquoted values with spaces or tspecials, as real mailers write */
	check_param("application/pdf; name=my file.pdf; x=1", "name", "my file.pdf");
	check_param("application/pdf; name=my file.pdf  ", "name", "my file.pdf");
	check_param("multipart/mixed; boundary=----=_Part_1_2.3", "boundary",
	            "----=_Part_1_2.3");
	check_param("text/plain; charset=us-ascii (Plain text)", "charset",
	            "us-ascii");
	check_param("application/x; name=file(1).pdf; y=2", "name", "file(1).pdf");
	/* 8-bit bytes in a token value (already UTF-8: kept) */
	check_param("text/plain; name=caf\xc3\xa9.txt", "name", "caf\xc3\xa9.txt");
}

static void test_duplicates(void **state)
{
	(void)state;
	struct msg_ctype ct;
	assert_int_equal(ctype("text/plain; charset=a; CHARSET=b; charset=c", &ct), 0);
	assert_int_equal(ct.nparams, 1);
	assert_string_equal(msg_ctype_param(&ct, "charset"), "a");
	msg_ctype_free(&ct);
	/* order of first appearance is kept */
	assert_int_equal(ctype("a/b; z=1; y=2; z=3; x=4", &ct), 0);
	assert_int_equal(ct.nparams, 3);
	assert_string_equal(ct.params[0].name, "z");
	assert_string_equal(ct.params[1].name, "y");
	assert_string_equal(ct.params[2].name, "x");
	assert_string_equal(ct.params[0].value, "1");
	msg_ctype_free(&ct);
}

static void test_unusable_type(void **state)
{
	(void)state;
	const char *bad[] = {"", "   ", "text", "/plain", "text/", "text / ;",
	                     "; charset=utf-8", "(only a comment)", "\"text/plain\"",
	                     "@/plain"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct msg_ctype ct;
		assert_int_equal(ctype(bad[i], &ct), 1);
		assert_null(ct.type);
		assert_null(ct.subtype);
		msg_ctype_free(&ct);
	}
	/* parameters are still read when the type is unusable */
	check_param("text; charset=utf-8", "charset", "utf-8");
}

static void test_rfc2231(void **state)
{
	(void)state;
	struct msg_ctype ct;
	assert_int_equal(ctype("application/octet-stream; "
	                       "name*=utf-8''%E4%BD%A0%E5%A5%BD.txt", &ct), 0);
	assert_string_equal(ct.params[0].name, "name");
	assert_string_equal(ct.params[0].value, "\xe4\xbd\xa0\xe5\xa5\xbd.txt");
	assert_string_equal(ct.params[0].charset, "utf-8");
	assert_null(ct.params[0].lang);
	msg_ctype_free(&ct);

	assert_int_equal(ctype("message/external-body; access-type=URL; "
	                       "URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub\"", &ct), 0);
	assert_string_equal(msg_ctype_param(&ct, "url"), "ftp://cs.utk.edu/pub");
	msg_ctype_free(&ct);

	/* RFC 2231 section 4.1's example, mixing encoded and plain sections */
	assert_int_equal(ctype("application/x-stuff;\r\n"
	                       " title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
	                       " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
	                       " title*2=\"isn't it!\"", &ct), 0);
	assert_string_equal(msg_ctype_param(&ct, "title"),
	                    "This is even more ***fun*** isn't it!");
	assert_string_equal(ct.params[0].charset, "us-ascii");
	assert_string_equal(ct.params[0].lang, "en");
	msg_ctype_free(&ct);

	/* bad %-escapes stay as written */
	check_param("a/b; name*=''100%25%zz%4", "name", "100%%zz%4");
	/* an empty extended value as the only value of the field (fuzzer) */
	check_param("a/b; name*=", "name", "");
	check_param("a/b; name*0*=", "name", "");
	/* no charset'lang' prefix at all: still %-decoded */
	check_param("a/b; name*=a%20b", "name", "a b");
	/* %00 cannot hide the rest of a name from a C string user */
	check_param("a/b; name*=utf-8''evil.exe%00.txt", "name", "evil.exe.txt");
}

static void test_rfc2231_order(void **state)
{
	(void)state;
	/* sections joined by number, not text order or appearance */
	char field[512] = "a/b";
	const int order[] = {10, 1, 0, 11, 2, 9, 3, 8, 4, 7, 5, 6};
	for (size_t i = 0; i < 12; i++) {
		size_t n = strlen(field);
		snprintf(field + n, sizeof field - n, "; p*%d=%c", order[i],
		         'a' + order[i]);
	}
	check_param(field, "p", "abcdefghijkl");
	/* a repeated section number: the first wins */
	check_param("a/b; p*1=y; p*0=x; p*1=z", "p", "xy");
	/* a section number we refuse (too large) is dropped */
	check_param("a/b; p*0=x; p*99999=z", "p", "x");
	check_param("a/b; p*00000000000000000000001=z", "p", NULL);
	/* the 2231 form wins over the plain fallback mailers add */
	check_param("a/b; filename=\"fallback.txt\"; filename*=utf-8''real.txt",
	            "filename", "real.txt");
	check_param("a/b; filename*0=\"real\"; filename=\"fallback.txt\"",
	            "filename", "real");
	/* a name that is only "*", or "*" inside, is garbage */
	check_param("a/b; *=x; a*b=y; c=1", "c", "1");
	check_param("a/b; *=x; a*b=y; c=1", "a", NULL);
}

static void test_charset_conversion(void **state)
{
	(void)state;
	const char *nihao = "\xe4\xbd\xa0\xe5\xa5\xbd";
	check_param("a/b; name*0*=gb2312''%C4%E3; name*1*=%BA%C3", "name", nihao);
	/* continuation out of order; charset from section 0 */
	check_param("a/b; name*1*=%BA%C3; name*0*=gb2312''%C4%E3", "name", nihao);
	/* RFC 2047 inside a quoted value (not standard, very common) */
	check_param("a/b; name=\"=?gb2312?B?xOO6ww==?=\"", "name", nihao);
	check_param("a/b; name=\"=?UTF-8?Q?=E4=BD=A0=E5=A5=BD?=\"", "name", nihao);
	/* raw GB2312 bytes: detected */
	check_param("a/b; name=\"\xc4\xe3\xba\xc3\xc4\xe3\xba\xc3.txt\"", "name",
	            "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xbd\xa0\xe5\xa5\xbd.txt");
	/* a boundary is never decoded: it must match the body bytes */
	check_param("multipart/mixed; boundary=\"=?x?Q?y?=\"", "boundary",
	            "=?x?Q?y?=");
}

static void test_disposition(void **state)
{
	(void)state;
	struct msg_ctype ct;
	const char *s = "Attachment; filename=\"a b.pdf\"; size=123";
	memset(&ct, 0, sizeof ct);
	assert_int_equal(msg_disposition_parse(s, strlen(s), &ct), 0);
	assert_string_equal(ct.type, "attachment");
	assert_null(ct.subtype);
	assert_string_equal(msg_ctype_param(&ct, "filename"), "a b.pdf");
	assert_string_equal(msg_ctype_param(&ct, "SIZE"), "123");
	msg_ctype_free(&ct);

	s = "INLINE";
	assert_int_equal(msg_disposition_parse(s, strlen(s), &ct), 0);
	assert_string_equal(ct.type, "inline");
	assert_int_equal(ct.nparams, 0);
	msg_ctype_free(&ct);

	/* no type, only a parameter: type NULL, the file name kept */
	s = "filename=\"x.pdf\"";
	assert_int_equal(msg_disposition_parse(s, strlen(s), &ct), 1);
	assert_null(ct.type);
	assert_string_equal(msg_ctype_param(&ct, "filename"), "x.pdf");
	msg_ctype_free(&ct);

	s = "attachment; filename*=gb2312''%C4%E3%BA%C3.doc";
	assert_int_equal(msg_disposition_parse(s, strlen(s), &ct), 0);
	assert_string_equal(msg_ctype_param(&ct, "filename"),
	                    "\xe4\xbd\xa0\xe5\xa5\xbd.doc");
	assert_string_equal(ct.params[0].charset, "gb2312");
	msg_ctype_free(&ct);

	assert_int_equal(msg_disposition_parse("", 0, &ct), 1);
	assert_null(ct.type);
	msg_ctype_free(&ct);
}

static void test_cte(void **state)
{
	(void)state;
	const struct {
		const char *s;
		enum msg_cte cte;
	} cases[] = {
		{"7bit", MSG_CTE_7BIT}, {"8BIT", MSG_CTE_8BIT},
		{"Binary", MSG_CTE_BINARY}, {" base64 ", MSG_CTE_BASE64},
		{"(c) BASE64 (d)", MSG_CTE_BASE64},
		{"\r\n\tQuoted-Printable", MSG_CTE_QP},
		{"", MSG_CTE_7BIT}, {"   ", MSG_CTE_7BIT}, {"(only)", MSG_CTE_7BIT},
		{"x-uuencode", MSG_CTE_UNKNOWN}, {"base6", MSG_CTE_UNKNOWN},
		{"base64x", MSG_CTE_UNKNOWN}, {"quoted-printablee", MSG_CTE_UNKNOWN},
		{"8-bit", MSG_CTE_8BIT},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(msg_cte_parse(cases[i].s, strlen(cases[i].s)),
		                 cases[i].cte);
	/* the length is honoured, not the NUL */
	assert_int_equal(msg_cte_parse("base64", 4), MSG_CTE_UNKNOWN);
	assert_string_equal(msg_cte_name(MSG_CTE_7BIT), "7bit");
	assert_string_equal(msg_cte_name(MSG_CTE_QP), "quoted-printable");
	assert_string_equal(msg_cte_name(MSG_CTE_BASE64), "base64");
	assert_string_equal(msg_cte_name(MSG_CTE_UNKNOWN), "unknown");
	assert_string_equal(msg_cte_name((enum msg_cte)99), "unknown");
}

/* Formats name=value after "Content-Type: a/b", checks every line is at
 * most 78 columns, then parses it back and compares. */
static void format_round_trip(const char *name, const char *value,
                              const char *expect)
{
	struct buf out = BUF_INIT;
	buf_puts(&out, "a/b");
	size_t col = strlen("Content-Type: a/b");
	assert_int_equal(msg_param_format(name, value, &col, &out), 0);
	const char *s = buf_cstr(&out);
	if (expect)
		assert_string_equal(s, expect);
	size_t line = strlen("Content-Type: ");
	for (const char *p = s; *p; p++) {
		if (*p == '\n') {
			line = 0;
			continue;
		}
		if (*p != '\r')
			line++;
		assert_true(line <= 78);
	}
	assert_int_equal(col, line);
	check_param(s, name, value);
	buf_free(&out);
}

/* For names so long no line can hold them: only the round trip counts. */
static void format_round_trip_long(const char *name, const char *value)
{
	struct buf out = BUF_INIT;
	buf_puts(&out, "a/b");
	size_t col = 17;
	assert_int_equal(msg_param_format(name, value, &col, &out), 0);
	check_param(buf_cstr(&out), name, value);
	buf_free(&out);
}

static void test_param_format(void **state)
{
	(void)state;
	format_round_trip("charset", "utf-8", "a/b; charset=utf-8");
	format_round_trip("name", "a b.pdf", "a/b; name=\"a b.pdf\"");
	format_round_trip("name", "x\"y\\z", "a/b; name=\"x\\\"y\\\\z\"");
	format_round_trip("boundary", "=_part/1", "a/b; boundary=\"=_part/1\"");
	format_round_trip("name", "", "a/b; name=\"\"");
	/* a literal "=?" must not come back as an RFC 2047 word */
	format_round_trip("name", "=?utf-8?Q?x?=", "a/b; name*=utf-8''%3D%3Futf-8%3FQ%3Fx%3F%3D");
	format_round_trip("name", "a\r\nb\tc", "a/b; name*=utf-8''a%0D%0Ab%09c");
	format_round_trip("filename", "\xe4\xbd\xa0\xe5\xa5\xbd.txt",
	                  "a/b; filename*=utf-8''%E4%BD%A0%E5%A5%BD.txt");

	/* long non-ASCII: continuations, never splitting a character */
	char longname[400] = "";
	for (int i = 0; i < 40; i++)
		strcat(longname, "\xe4\xbd\xa0");
	strcat(longname, " report (final).pdf");
	format_round_trip("filename", longname, NULL);
	/* long ASCII: quoted continuations */
	char ascii[300];
	memset(ascii, 'x', sizeof ascii - 1);
	ascii[sizeof ascii - 1] = '\0';
	ascii[100] = ' ';
	ascii[150] = '"';
	format_round_trip("name", ascii, NULL);

	/* a name too long for one line still gets its empty value (fuzzer) */
	char longkey[100];
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	format_round_trip_long(longkey, "");
	format_round_trip_long(longkey, "v");

	/* a parameter that would pass column 76 starts a new line */
	struct buf out = BUF_INIT;
	size_t col = 70;
	assert_int_equal(msg_param_format("charset", "utf-8", &col, &out), 0);
	assert_string_equal(buf_cstr(&out), ";\r\n charset=utf-8");
	assert_int_equal(col, 1 + strlen("charset=utf-8"));
	buf_reset(&out);
	col = 10;
	assert_int_equal(msg_param_format("charset", "utf-8", &col, &out), 0);
	assert_string_equal(buf_cstr(&out), "; charset=utf-8");
	assert_int_equal(col, 10 + strlen("; charset=utf-8"));

	/* names that are not tokens are refused */
	assert_int_equal(msg_param_format("", "x", &col, &out), -1);
	assert_int_equal(msg_param_format("a b", "x", &col, &out), -1);
	assert_int_equal(msg_param_format("a*", "x", &col, &out), -1);
	assert_int_equal(msg_param_format("a=", "x", &col, &out), -1);
	/* a buffer limit is reported, not overrun */
	struct buf small;
	buf_init(&small, 8);
	col = 0;
	assert_int_equal(msg_param_format("filename", longname, &col, &small), -1);
	assert_true(small.len <= 8);
	buf_free(&small);
	buf_free(&out);
}

static void test_hostile(void **state)
{
	(void)state;
	/* many parameters: bounded work, the early ones still found */
	struct buf b = BUF_INIT;
	buf_puts(&b, "text/plain");
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "; p%d*%d*=%%41", i % 7, i % 1000);
	struct msg_ctype ct;
	assert_int_equal(msg_ctype_parse(b.data, b.len, &ct), 0);
	assert_true(ct.nparams <= 7);
	assert_non_null(msg_ctype_param(&ct, "p0"));
	msg_ctype_free(&ct);

	/* NUL bytes and a length that stops inside the field */
	const char nul[] = "text/pl\0ain; name=\"a\0b\"";
	assert_int_equal(msg_ctype_parse(nul, sizeof nul - 1, &ct), 0);
	assert_string_equal(ct.subtype, "pl");
	msg_ctype_free(&ct);

	/* every prefix of a complicated field parses without reading past it
	 * (ASan checks the heap copy's bounds) */
	const char *s = "multipart/mixed (c\\)) ; boundary=\"a\\\"b\"; "
	                "name*0*=gb2312''%C4%E3; name*1*=%BA; x=\"=?utf-8?B?5L2g?=\"";
	size_t n = strlen(s);
	for (size_t i = 0; i <= n; i++) {
		char *copy = malloc(i ? i : 1);
		memcpy(copy, s, i);
		int r = msg_ctype_parse(copy, i, &ct);
		assert_true(r == 0 || r == 1);
		msg_ctype_free(&ct);
		r = msg_disposition_parse(copy, i, &ct);
		assert_true(r == 0 || r == 1);
		msg_ctype_free(&ct);
		msg_cte_parse(copy, i);
		free(copy);
	}

	/* deeply nested and unclosed comments */
	buf_reset(&b);
	buf_puts(&b, "text/plain; ");
	for (int i = 0; i < 10000; i++)
		buf_putc(&b, '(');
	assert_int_equal(msg_ctype_parse(b.data, b.len, &ct), 0);
	assert_int_equal(ct.nparams, 0);
	msg_ctype_free(&ct);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_comments_and_folds),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_missing_semicolon_and_garbage),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_unusable_type),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_rfc2231_order),
		cmocka_unit_test(test_charset_conversion),
		cmocka_unit_test(test_disposition),
		cmocka_unit_test(test_cte),
		cmocka_unit_test(test_param_format),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
