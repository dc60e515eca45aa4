/* Unit tests for src/msg/msgid.c: msg-id lists and id generation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/msgid.h"

/* Parses s and checks the ids found equal want[] (NULL-terminated). */
static void check_ids(const char *s, const char *const *want)
{
	struct msg_id_list list = {0};
	size_t n = 0;
	while (want[n])
		n++;
	int rc = msg_id_parse(s, strlen(s), &list);
	if (rc != (int)n || list.count != n)
		fail_msg("\"%s\": %d ids, want %zu", s, rc, n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(list.ids[i], want[i]) != 0)
			fail_msg("\"%s\": id %zu is \"%s\", want \"%s\"", s, i,
			         list.ids[i], want[i]);
	msg_id_list_free(&list);
	assert_null(list.ids);
	assert_int_equal(list.count, 0);
}

#define IDS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_IDS ((const char *const[]){NULL})

static void test_simple(void **state)
{
	(void)state;
	check_ids("<a@b>", IDS("a@b"));
	check_ids(" <1234@local.machine.example>\r\n", IDS("1234@local.machine.example"));
	check_ids("<5678.21-Nov-1997@example.com>", IDS("5678.21-Nov-1997@example.com"));
	check_ids("<no-at-sign.example>", IDS("no-at-sign.example"));
	check_ids("<[1.2.3.4]@x>", IDS("[1.2.3.4]@x"));
	check_ids("<caf\xc3\xa9@example.org>", IDS("caf\xc3\xa9@example.org"));
}

static void test_references_folded(void **state)
{
	(void)state;
	check_ids("<a@b> <c@d>", IDS("a@b", "c@d"));
	check_ids(" <1234@local.machine.example>\r\n <3456@example.net>\r\n\t<x.y@z>",
	          IDS("1234@local.machine.example", "3456@example.net", "x.y@z"));
	check_ids("<a@b>\n <c@d> \n", IDS("a@b", "c@d"));
	check_ids("<a@b><c@d>,<e@f>", IDS("a@b", "c@d", "e@f"));
	/* An id folded in its middle. */
	check_ids("<very-long-id.12345\r\n @example.com>", IDS("very-long-id.12345@example.com"));
}

static void test_comments_and_phrases(void **state)
{
	(void)state;
	check_ids("<a@b> (first) <c@d> (second (nested) \\) ) <e@f>",
	          IDS("a@b", "c@d", "e@f"));
	/* Old In-Reply-To with a phrase around the id. */
	check_ids("<x@y> (John's message of \"Tue, 4 Dec 2004\")", IDS("x@y"));
	check_ids("Your message of \"Tue, 04 Dec 2004 <not@an.id>\" <x@y>", IDS("x@y"));
	check_ids("John Doe's message of Tue, 4 Dec 2004 16:18:08 +0800 <x@y>",
	          IDS("x@y"));
	/* A comment hiding an id is not an id. */
	check_ids("(<hidden@x>) <real@y>", IDS("real@y"));
	/* Obsolete CFWS inside the id. */
	check_ids("<1234   @   local(blah)  .machine .example>",
	          IDS("1234@local.machine.example"));
}

static void test_missing_brackets(void **state)
{
	(void)state;
	check_ids("malformed@id.machine.example\n", IDS("malformed@id.machine.example"));
	check_ids("   malformed2@id.machine.example \t  \n", IDS("malformed2@id.machine.example"));
	check_ids("a@b c@d", IDS("a@b", "c@d"));
	check_ids("a@b, (comment) c@d", IDS("a@b", "c@d"));
	check_ids("   m \n", NO_IDS);
	check_ids("no ids here", NO_IDS);
}

static void test_junk(void **state)
{
	(void)state;
	check_ids("", NO_IDS);
	check_ids("<>", NO_IDS);
	check_ids("< \r\n >", NO_IDS);
	check_ids("<", NO_IDS);
	check_ids(">", NO_IDS);
	check_ids("<a@b", NO_IDS);
	check_ids("<a@b> <c@d", IDS("a@b"));
	check_ids("<<a@b>>", IDS("a@b"));
	check_ids("<x<a@b>", IDS("a@b"));
	check_ids("<a\x01@b> <c@d>", IDS("c@d"));
	check_ids("(unterminated <a@b>", NO_IDS);
	check_ids("\"unterminated <a@b>", NO_IDS);
	check_ids("\\", NO_IDS);
	check_ids("(\\", NO_IDS);
	check_ids("<a(\\", NO_IDS);
	check_ids("<a(b)", NO_IDS);

	/* A NUL inside an id disqualifies it; the length is honoured. */
	static const char nul[] = "<a\0b@c> <d@e>";
	struct msg_id_list list = {0};
	assert_int_equal(msg_id_parse(nul, sizeof nul - 1, &list), 1);
	assert_string_equal(list.ids[0], "d@e");
	/* Appending to a list that already holds ids. */
	assert_int_equal(msg_id_parse("<f@g>", 3, &list), 0);
	assert_int_equal(msg_id_parse("<f@g>", 5, &list), 1);
	assert_int_equal(list.count, 2);
	assert_string_equal(list.ids[1], "f@g");
	msg_id_list_free(&list);
}

static void test_many_ids(void **state)
{
	(void)state;
	size_t n = 5000;
	char *s = malloc(n * 16);
	assert_non_null(s);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "\r\n <%zu@x.y>", i);
	struct msg_id_list list = {0};
	assert_int_equal(msg_id_parse(s, len, &list), (int)n);
	assert_string_equal(list.ids[4999], "4999@x.y");
	msg_id_list_free(&list);
	free(s);
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "<base36.base32x20@domain>" */
static void assert_well_formed(const char *id, const char *domain)
{
	size_t len = strlen(id), dlen = strlen(domain);
	assert_true(len > dlen + 24);
	assert_int_equal(id[0], '<');
	assert_int_equal(id[len - 1], '>');
	assert_int_equal(id[len - dlen - 2], '@');
	assert_memory_equal(id + len - dlen - 1, domain, dlen);
	const char *dot = strchr(id, '.');
	assert_non_null(dot);
	assert_true(dot > id + 1);
	for (const char *p = id + 1; p < dot; p++)
		assert_non_null(strchr("0123456789abcdefghijklmnopqrstuvwxyz", *p));
	assert_ptr_equal(dot + 21, id + len - dlen - 2);
	for (const char *p = dot + 1; p < dot + 21; p++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567", *p));
}

static void test_generate_unique(void **state)
{
	(void)state;
	enum { COUNT = 10000 };
	char **ids = calloc(COUNT, sizeof *ids);
	assert_non_null(ids);
	for (size_t i = 0; i < COUNT; i++) {
		char out[160];
		int n = msg_id_generate("mail.example.org", out, sizeof out);
		assert_true(n > 0);
		assert_int_equal((size_t)n, strlen(out));
		assert_well_formed(out, "mail.example.org");
		struct msg_id_list list = {0};
		assert_int_equal(msg_id_parse(out, (size_t)n, &list), 1);
		assert_int_equal(strlen(list.ids[0]), (size_t)n - 2);
		assert_memory_equal(list.ids[0], out + 1, (size_t)n - 2);
		msg_id_list_free(&list);
		ids[i] = strdup(out);
		assert_non_null(ids[i]);
	}
	qsort(ids, COUNT, sizeof *ids, compare_strings);
	for (size_t i = 1; i < COUNT; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	for (size_t i = 0; i < COUNT; i++)
		free(ids[i]);
	free(ids);
}

static void test_generate_edges(void **state)
{
	(void)state;
	char out[160];
	assert_true(msg_id_generate(NULL, out, sizeof out) > 0);
	assert_well_formed(out, "localhost");
	assert_true(msg_id_generate("", out, sizeof out) > 0);
	assert_well_formed(out, "localhost");
	assert_true(msg_id_generate("[192.0.2.1]", out, sizeof out) > 0);
	assert_well_formed(out, "[192.0.2.1]");

	/* Too small a buffer fails instead of truncating. */
	int n = msg_id_generate("x.org", out, sizeof out);
	assert_true(n > 0);
	assert_int_equal(msg_id_generate("x.org", out, (size_t)n), -1);
	assert_int_equal(msg_id_generate("x.org", out, (size_t)n + 1), n);
	assert_int_equal(msg_id_generate("x.org", out, 0), -1);

	/* Domains that would break the id's syntax are refused. */
	assert_int_equal(msg_id_generate("a b", out, sizeof out), -1);
	assert_int_equal(msg_id_generate("a>b", out, sizeof out), -1);
	assert_int_equal(msg_id_generate("a@b", out, sizeof out), -1);
	assert_int_equal(msg_id_generate("a\r\nb", out, sizeof out), -1);
}

/* Exactly n bytes are written, for n not a multiple of 8 too, and two
 * draws differ. */
static void test_random_bytes(void **state)
{
	(void)state;
	unsigned char a[24], b[24];
	memset(a, 0xAA, sizeof a);
	msg_random_bytes(a, 0);
	for (size_t i = 0; i < sizeof a; i++)
		assert_int_equal(a[i], 0xAA);
	for (size_t n = 1; n <= 17; n++) {
		memset(a, 0xAA, sizeof a);
		memset(b, 0xAA, sizeof b);
		msg_random_bytes(a, n);
		msg_random_bytes(b, n);
		for (size_t i = n; i < sizeof a; i++)
			assert_true(a[i] == 0xAA && b[i] == 0xAA);
		if (n >= 8)
			assert_memory_not_equal(a, b, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_references_folded),
		cmocka_unit_test(test_comments_and_phrases),
		cmocka_unit_test(test_missing_brackets),
		cmocka_unit_test(test_junk),
		cmocka_unit_test(test_many_ids),
		cmocka_unit_test(test_generate_unique),
		cmocka_unit_test(test_generate_edges),
		cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
