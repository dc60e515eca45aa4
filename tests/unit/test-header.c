/* Unit tests for src/msg/header.c: splitting, folding, flags, lookups. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/header.h"

/* Parses s (a C string) into h, asserting success. */
static void parse(const char *s, struct msg_header *h)
{
	assert_int_equal(msg_header_parse(s, strlen(s), 0, h), 0);
}

static void assert_field(const struct msg_field *f, const char *name,
                         const char *value)
{
	assert_non_null(f);
	assert_int_equal(f->name_len, strlen(name));
	assert_memory_equal(f->name, name, f->name_len);
	assert_int_equal(f->value_len, strlen(value));
	assert_memory_equal(f->value, value, f->value_len);
}

static void assert_value(const struct msg_header *h, const char *name,
                         const char *want)
{
	char *v = msg_header_value(h, name);
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

/* The RFC 821/822 example from the seeds (004_*.txt, "Return-Path"). */
static const char rfc822_example[] =
	"Return-Path: <@GHI.ARPA,@DEF.ARPA,@ABC.ARPA:JOE@ABC.ARPA>\r\n"
	"Received: from GHI.ARPA by JKL.ARPA ; 27 Oct 81 15:27:39 PST\r\n"
	"Received: from DEF.ARPA by GHI.ARPA ; 27 Oct 81 15:15:13 PST\r\n"
	"Received: from ABC.ARPA by DEF.ARPA ; 27 Oct 81 15:01:59 PST\r\n"
	"Date: 27 Oct 81 15:01:01 PST\r\n"
	"From: JOE@ABC.ARPA\r\n"
	"Subject: Improved Mailing System Installed\r\n"
	"To: SAM@JKL.ARPA\r\n"
	"\r\n"
	"This is to inform you that ...\r\n";

static void test_seed_rfc822_example(void **state)
{
	(void)state;
	struct msg_header h;
	parse(rfc822_example, &h);
	assert_int_equal(h.count, 8);
	assert_int_equal(h.flags, 0);
	assert_string_equal(rfc822_example + h.body_offset,
	                    "This is to inform you that ...\r\n");
	assert_field(&h.fields[0], "Return-Path",
	             " <@GHI.ARPA,@DEF.ARPA,@ABC.ARPA:JOE@ABC.ARPA>");
	assert_int_equal(h.fields[0].offset, 0);
	size_t first = strlen("Return-Path: <@GHI.ARPA,@DEF.ARPA,@ABC.ARPA:JOE@ABC.ARPA>\r\n");
	assert_int_equal(h.fields[0].raw_len, first);
	assert_int_equal(h.fields[1].offset, first);
	assert_int_equal(msg_header_count(&h, "received"), 3);

	/* Walking every Received: in order. */
	const struct msg_field *f = msg_header_get(&h, "RECEIVED");
	assert_ptr_equal(f, &h.fields[1]);
	f = msg_header_next(&h, f);
	assert_ptr_equal(f, &h.fields[2]);
	f = msg_header_next(&h, f);
	assert_ptr_equal(f, &h.fields[3]);
	assert_null(msg_header_next(&h, f));

	assert_value(&h, "date", "27 Oct 81 15:01:01 PST");
	assert_value(&h, "To", "SAM@JKL.ARPA");
	assert_null(msg_header_get(&h, "Cc"));
	assert_null(msg_header_value(&h, "Cc"));
	assert_int_equal(msg_header_count(&h, "Cc"), 0);
	msg_header_free(&h);
	assert_null(h.fields);
	assert_int_equal(h.count, 0);
}

/* The seeds' folded "Subject: This is a test" unfolds to one line. */
static void test_seed_folded_subject(void **state)
{
	(void)state;
	static const char msg[] =
		"Subject: This\r\n"
		"    is a test\r\n"
		"\r\n";
	struct msg_header h;
	parse(msg, &h);
	assert_int_equal(h.count, 1);
	assert_field(&h.fields[0], "Subject", " This\r\n    is a test");
	assert_int_equal(h.fields[0].raw_len, strlen(msg) - 2);
	assert_value(&h, "subject", "This    is a test");
	assert_int_equal(h.body_offset, strlen(msg));
	msg_header_free(&h);
}

static void test_seed_received_wang(void **state)
{
	(void)state;
	static const char msg[] =
		"Received: from wang195.0.0.1 by li129.5.0.4\r\n"
		"\tTue dec 2003 12:18:02 +800\r\n"
		"Comments: example\r\n"
		"\r\n";
	struct msg_header h;
	parse(msg, &h);
	assert_int_equal(h.count, 2);
	assert_value(&h, "Received",
	             "from wang195.0.0.1 by li129.5.0.4\tTue dec 2003 12:18:02 +800");
	assert_value(&h, "comments", "example");
	msg_header_free(&h);
}

static void test_bare_lf_and_mixed(void **state)
{
	(void)state;
	static const char lf[] = "A: 1\nB: 2\n two\n\nbody\n";
	struct msg_header h;
	parse(lf, &h);
	assert_int_equal(h.count, 2);
	assert_true(h.flags & MSG_HDR_BARE_LF);
	assert_false(h.flags & MSG_HDR_NO_BLANK);
	assert_string_equal(lf + h.body_offset, "body\n");
	assert_field(&h.fields[1], "B", " 2\n two");
	assert_value(&h, "b", "2 two");
	msg_header_free(&h);

	static const char mixed[] = "A: 1\r\nB: 2\n\r\nbody";
	parse(mixed, &h);
	assert_int_equal(h.count, 2);
	assert_true(h.flags & MSG_HDR_BARE_LF);
	assert_string_equal(mixed + h.body_offset, "body");
	assert_field(&h.fields[0], "A", " 1");
	assert_field(&h.fields[1], "B", " 2");
	msg_header_free(&h);

	static const char crlf_then_lf_blank[] = "A: 1\r\n\nbody";
	parse(crlf_then_lf_blank, &h);
	assert_int_equal(h.count, 1);
	assert_true(h.flags & MSG_HDR_BARE_LF);
	assert_string_equal(crlf_then_lf_blank + h.body_offset, "body");
	msg_header_free(&h);
}

static void test_empty_header(void **state)
{
	(void)state;
	struct msg_header h;
	parse("\r\nbody", &h);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.body_offset, 2);
	assert_int_equal(h.flags, 0);
	msg_header_free(&h);

	parse("\nbody", &h);
	assert_int_equal(h.body_offset, 1);
	assert_int_equal(h.flags, MSG_HDR_BARE_LF);
	msg_header_free(&h);

	assert_int_equal(msg_header_parse("", 0, 0, &h), 0);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.body_offset, 0);
	assert_true(h.flags & MSG_HDR_NO_BLANK);
	msg_header_free(&h);

	/* A lone CR is not a blank line. */
	parse("\r", &h);
	assert_int_equal(h.count, 0);
	assert_true(h.flags & MSG_HDR_NO_BLANK);
	msg_header_free(&h);
}

static void test_missing_blank_line(void **state)
{
	(void)state;
	struct msg_header h;
	static const char msg[] = "A: 1\r\nB: 2";
	parse(msg, &h);
	assert_int_equal(h.count, 2);
	assert_true(h.flags & MSG_HDR_NO_BLANK);
	assert_int_equal(h.body_offset, strlen(msg));
	assert_field(&h.fields[1], "B", " 2");
	assert_int_equal(h.fields[1].raw_len, 4);
	msg_header_free(&h);

	/* Ends right after a field's CRLF. */
	parse("A: 1\r\n", &h);
	assert_int_equal(h.count, 1);
	assert_true(h.flags & MSG_HDR_NO_BLANK);
	assert_int_equal(h.body_offset, 6);
	msg_header_free(&h);
}

static void test_obsolete_colon_spacing(void **state)
{
	(void)state;
	struct msg_header h;
	parse("Subject \t : hi\r\nTo:x\r\n\r\n", &h);
	assert_int_equal(h.count, 2);
	assert_field(&h.fields[0], "Subject", " hi");
	assert_field(&h.fields[1], "To", "x");
	assert_non_null(msg_header_get(&h, "subject"));
	msg_header_free(&h);
}

static void test_mbox_from_line(void **state)
{
	(void)state;
	static const char msg[] =
		"From joe@example.org Mon Jan  1 00:00:00 2001\n"
		"Subject: x\n\nbody";
	struct msg_header h;
	parse(msg, &h);
	assert_int_equal(h.count, 1);
	assert_true(h.flags & MSG_HDR_BAD_LINES);
	assert_field(&h.fields[0], "Subject", " x");
	assert_string_equal(msg + h.body_offset, "body");
	msg_header_free(&h);

	/* "From:" is a field, not an envelope line. */
	parse("From: a@b\r\n\r\n", &h);
	assert_int_equal(h.count, 1);
	assert_int_equal(h.flags, 0);
	msg_header_free(&h);
}

static void test_leading_continuation(void **state)
{
	(void)state;
	static const char msg[] = "  stray\r\n\tmore\r\nA: 1\r\n\r\nbody";
	struct msg_header h;
	parse(msg, &h);
	assert_int_equal(h.count, 1);
	assert_true(h.flags & MSG_HDR_BAD_LINES);
	assert_field(&h.fields[0], "A", " 1");
	assert_int_equal(h.fields[0].offset, 16);
	assert_string_equal(msg + h.body_offset, "body");
	msg_header_free(&h);
}

static void test_garbage_first_line_is_body(void **state)
{
	(void)state;
	static const char msg[] = "Hello there, no header here\r\nA: 1\r\n\r\n";
	struct msg_header h;
	parse(msg, &h);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.body_offset, 0);
	assert_true(h.flags & MSG_HDR_NO_BLANK);
	msg_header_free(&h);

	parse(": no name\r\n\r\n", &h);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.body_offset, 0);
	assert_true(h.flags & MSG_HDR_NO_BLANK);
	msg_header_free(&h);
}

static void test_bad_line_between_fields(void **state)
{
	(void)state;
	/* A broken fold followed by a real field: skipped. */
	static const char skip[] = "A: 1\r\nbroken line\r\nB: 2\r\n\r\nbody";
	struct msg_header h;
	parse(skip, &h);
	assert_int_equal(h.count, 2);
	assert_true(h.flags & MSG_HDR_BAD_LINES);
	assert_false(h.flags & MSG_HDR_NO_BLANK);
	assert_field(&h.fields[0], "A", " 1");
	assert_field(&h.fields[1], "B", " 2");
	assert_string_equal(skip + h.body_offset, "body");
	msg_header_free(&h);

	/* Body text right after the header (no blank line). */
	static const char body[] = "A: 1\r\nDear Bob,\r\nhow are you?\r\n";
	parse(body, &h);
	assert_int_equal(h.count, 1);
	assert_true(h.flags & MSG_HDR_NO_BLANK);
	assert_false(h.flags & MSG_HDR_BAD_LINES);
	assert_string_equal(body + h.body_offset, "Dear Bob,\r\nhow are you?\r\n");
	msg_header_free(&h);

	/* A broken fold just before the blank line: skipped too. */
	static const char fold[] =
		"References: <baz@bar.net>, <invalid.   \n"
		"something@bar.net>\n"
		"\n"
		"body\n";
	parse(fold, &h);
	assert_int_equal(h.count, 1);
	assert_true(h.flags & MSG_HDR_BAD_LINES);
	assert_false(h.flags & MSG_HDR_NO_BLANK);
	assert_string_equal(fold + h.body_offset, "body\n");
	msg_header_free(&h);

	/* mime4j's malformedHeader-nocrlfcrlf.msg */
	static const char m4j[] =
		"Subject: this is a subject\r\n"
		"This is an invalid header\r\n"
		"AnotherHeader: is this an header or the first part of the body?\r\n"
		"\r\n"
		"Body text\r\n";
	parse(m4j, &h);
	assert_int_equal(h.count, 2);
	assert_non_null(msg_header_get(&h, "anotherheader"));
	assert_string_equal(m4j + h.body_offset, "Body text\r\n");
	msg_header_free(&h);

	/* A name with a space inside is not a field name. */
	static const char sp[] = "A: 1\r\nBad Name: x\r\n";
	parse(sp, &h);
	assert_int_equal(h.count, 1);
	assert_int_equal(h.body_offset, 6);
	msg_header_free(&h);
}

static void test_8bit_and_nul(void **state)
{
	(void)state;
	static const char utf8[] = "Subject: caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd\r\n\r\n";
	struct msg_header h;
	parse(utf8, &h);
	assert_int_equal(h.count, 1);
	assert_int_equal(h.flags, MSG_HDR_8BIT);
	assert_value(&h, "Subject", "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd");
	msg_header_free(&h);

	static const char nul[] = "A: x\0y\r\nB: z\r\n\r\nbody";
	assert_int_equal(msg_header_parse(nul, sizeof nul - 1, 0, &h), 0);
	assert_int_equal(h.count, 2);
	assert_true(h.flags & MSG_HDR_NUL);
	assert_false(h.flags & MSG_HDR_8BIT);
	assert_int_equal(h.fields[0].value_len, 4);
	assert_int_equal(h.body_offset, sizeof nul - 1 - 4);
	msg_header_free(&h);

	/* The scan works in 8-byte words plus a tail: hit both. */
	static const char tail_nul[] = "Subject: 0123456789abcdef\r\nC: \0\r\n\r\n";
	assert_int_equal(msg_header_parse(tail_nul, sizeof tail_nul - 1, 0, &h), 0);
	assert_int_equal(h.flags, MSG_HDR_NUL);
	msg_header_free(&h);
	static const char word_8bit[] = "Subject: 0123456789\xff\r\n\r\n";
	parse(word_8bit, &h);
	assert_int_equal(h.flags, MSG_HDR_8BIT);
	msg_header_free(&h);
	static const char tail_8bit[] = "Subject: 0123456\x80\r\n\r\n";
	parse(tail_8bit, &h);
	assert_int_equal(h.flags, MSG_HDR_8BIT);
	msg_header_free(&h);
	static const char clean[] = "Subject: 0123456789abcdefghijklmnopq\x7f\x01\r\n\r\n";
	parse(clean, &h);
	assert_int_equal(h.flags, 0);
	msg_header_free(&h);
}

static void test_max_fields(void **state)
{
	(void)state;
	static const char msg[] = "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\nbody";
	struct msg_header h;
	assert_int_equal(msg_header_parse(msg, strlen(msg), 2, &h), 0);
	assert_int_equal(h.count, 2);
	assert_true(h.flags & MSG_HDR_TRUNCATED);
	assert_string_equal(msg + h.body_offset, "body");
	assert_null(msg_header_get(&h, "C"));
	msg_header_free(&h);

	assert_int_equal(msg_header_parse(msg, strlen(msg), 4, &h), 0);
	assert_int_equal(h.count, 4);
	assert_false(h.flags & MSG_HDR_TRUNCATED);
	msg_header_free(&h);
}

/* Many fields: the array grows and every field keeps its order. */
static void test_many_fields(void **state)
{
	(void)state;
	size_t n = 20000;
	char *msg = malloc(n * 8 + 8);
	assert_non_null(msg);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(msg + len, "X%04zu:\n", i % 10000);
	memcpy(msg + len, "\nb", 2);
	len += 2;
	struct msg_header h;
	assert_int_equal(msg_header_parse(msg, len, 0, &h), 0);
	assert_int_equal(h.count, 10000);
	assert_true(h.flags & MSG_HDR_TRUNCATED);
	assert_int_equal(h.body_offset, len - 1);
	assert_int_equal(h.fields[9999].offset, 9999 * 7);
	assert_int_equal(h.fields[9999].value_len, 0);
	msg_header_free(&h);
	free(msg);
}

static void test_unfold_edges(void **state)
{
	(void)state;
	struct msg_header h;
	parse("Empty:\r\nSpaces:   \r\nFolded: a\r\n \r\n\tb \r\nCR: a\rb\r\n\r\n", &h);
	assert_int_equal(h.count, 4);
	assert_value(&h, "empty", "");
	assert_value(&h, "spaces", "");
	assert_value(&h, "folded", "a \tb");
	assert_value(&h, "cr", "a\rb");

	/* The unfolded value respects the buffer's limit. */
	struct buf small;
	buf_init(&small, 2);
	assert_int_equal(msg_field_unfold(msg_header_get(&h, "folded"), &small), -1);
	buf_free(&small);

	/* msg_header_next rejects a pointer that is not one of h's fields. */
	struct msg_field other = h.fields[0];
	assert_null(msg_header_next(&h, &other));
	assert_null(msg_header_next(&h, NULL));
	msg_header_free(&h);
}

/* Every prefix of a message parses with invariants intact: body_offset
 * within the input and every field inside [0, body_offset). */
static void test_every_prefix(void **state)
{
	(void)state;
	size_t len = strlen(rfc822_example);
	for (size_t n = 0; n <= len; n++) {
		char *copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, rfc822_example, n);
		struct msg_header h;
		assert_int_equal(msg_header_parse(copy, n, 0, &h), 0);
		assert_true(h.body_offset <= n);
		for (size_t i = 0; i < h.count; i++) {
			const struct msg_field *f = &h.fields[i];
			assert_true(f->offset + f->raw_len <= h.body_offset);
			assert_true(f->value + f->value_len <= copy + n);
		}
		msg_header_free(&h);
		free(copy);
	}
}

/* A UTF-8 byte order mark before the first field is skipped, not taken
 * as the start of the body. */
static void test_utf8_bom(void **state)
{
	(void)state;
	const char *in = "\xEF\xBB\xBFSubject: hi\r\nTo: a@b\r\n\r\nbody";
	struct msg_header h;
	assert_int_equal(msg_header_parse(in, strlen(in), 0, &h), 0);
	assert_int_equal(h.count, 2);
	assert_int_equal(h.fields[0].offset, 3);
	assert_int_equal(h.fields[0].name_len, 7);
	assert_memory_equal(h.fields[0].name, "Subject", 7);
	assert_int_equal(h.body_offset, strlen(in) - 4);
	assert_false(h.flags & MSG_HDR_NO_BLANK);
	msg_header_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_rfc822_example),
		cmocka_unit_test(test_seed_folded_subject),
		cmocka_unit_test(test_seed_received_wang),
		cmocka_unit_test(test_bare_lf_and_mixed),
		cmocka_unit_test(test_empty_header),
		cmocka_unit_test(test_missing_blank_line),
		cmocka_unit_test(test_obsolete_colon_spacing),
		cmocka_unit_test(test_mbox_from_line),
		cmocka_unit_test(test_leading_continuation),
		cmocka_unit_test(test_garbage_first_line_is_body),
		cmocka_unit_test(test_bad_line_between_fields),
		cmocka_unit_test(test_8bit_and_nul),
		cmocka_unit_test(test_max_fields),
		cmocka_unit_test(test_many_fields),
		cmocka_unit_test(test_unfold_edges),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_utf8_bom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
