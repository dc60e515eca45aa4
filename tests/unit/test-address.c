/* Unit tests for src/msg/address.c: RFC 5322 address lists, obsolete
 * syntax, groups, encoded names, errors with partial results, formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/msg/address.h"

struct want {
	const char *name, *local, *domain, *group; /* group NULL: none */
};

/* Parses s, expecting return code rc and exactly the addresses in want
 * (terminated by an entry with local NULL). */
static void check(const char *s, int rc, const struct want *want)
{
	struct msg_address_list list = {0};
	size_t err_pos = 999999;
	const char *err = NULL;
	int got = msg_address_parse(s, strlen(s), &list, &err_pos, &err);
	if (got != rc)
		fail_msg("\"%s\": rc %d (%s at %zu), want %d", s, got,
		         err ? err : "-", err_pos, rc);
	if (rc == -1 && (!err || err_pos > strlen(s)))
		fail_msg("\"%s\": error without description or position", s);
	size_t n = 0;
	while (want[n].local)
		n++;
	if (list.count != n)
		fail_msg("\"%s\": %zu addresses, want %zu", s, list.count, n);
	for (size_t i = 0; i < n; i++) {
		const struct msg_address *a = &list.items[i];
		const struct want *w = &want[i];
		if (strcmp(a->name, w->name) || strcmp(a->local, w->local) ||
		    strcmp(a->domain, w->domain) ||
		    (w->group ? !a->group || strcmp(a->group, w->group) : a->group != NULL))
			fail_msg("\"%s\" #%zu: [%s] [%s] @ [%s] group [%s], want [%s] [%s] @ [%s] group [%s]",
			         s, i, a->name, a->local, a->domain,
			         a->group ? a->group : "(none)", w->name, w->local,
			         w->domain, w->group ? w->group : "(none)");
	}
	msg_address_list_free(&list);
	assert_null(list.items);
	assert_int_equal(list.count, 0);
}

#define W(...) ((const struct want[]){__VA_ARGS__, {NULL, NULL, NULL, NULL}})
#define NONE ((const struct want[]){{NULL, NULL, NULL, NULL}})

static void test_basic_mailboxes(void **state)
{
	(void)state;
	check("a@b", 0, W({"", "a", "b", NULL}));
	check("John Doe <jdoe@machine.example>\n", 0,
	      W({"John Doe", "jdoe", "machine.example", NULL}));
	check(" Mary Smith <mary@example.net>\n", 0,
	      W({"Mary Smith", "mary", "example.net", NULL}));
	check("\"Joe Q. Public\" <john.q.public@example.com>", 0,
	      W({"Joe Q. Public", "john.q.public", "example.com", NULL}));
	check("Joe Q. Public <john.q.public@example.com>", 0,
	      W({"Joe Q. Public", "john.q.public", "example.com", NULL}));
	check("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", 0,
	      W({"Mary Smith", "mary", "x.test", NULL},
	        {"", "jdoe", "example.org", NULL},
	        {"Who?", "one", "y.test", NULL}));
	check("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", 0,
	      W({"", "boss", "nil.test", NULL},
	        {"Giant; \"Big\" Box", "sysservices", "example.net", NULL}));
	check("\"Mary Smith: Personal Account\" <smith@home.example >", 0,
	      W({"Mary Smith: Personal Account", "smith", "home.example", NULL}));
	check("Mary Smith\n    \n\t<mary@example.net>", 0,
	      W({"Mary Smith", "mary", "example.net", NULL}));
	check("Greg Vaudreuil <gvaudre@NRI.Reston.VA.US>, Ned Freed\r\n"
	      "      <ned@innosoft.com>, Keith Moore <moore@cs.utk.edu>", 0,
	      W({"Greg Vaudreuil", "gvaudre", "NRI.Reston.VA.US", NULL},
	        {"Ned Freed", "ned", "innosoft.com", NULL},
	        {"Keith Moore", "moore", "cs.utk.edu", NULL}));
	check("\"John\r\n Doe\" <a@b.com>", 0, W({"John Doe", "a", "b.com", NULL}));
	check("\"\\\\\\\\S. NIG\\\\\\\\\" <first.last@host.com>", 0,
	      W({"\\\\S. NIG\\\\", "first.last", "host.com", NULL}));
	check("\"phil@example.com\" <phil@example.com>", 0,
	      W({"phil@example.com", "phil", "example.com", NULL}));
	check("\"<phil@example.com>\" <phil@example.com>", 0,
	      W({"<phil@example.com>", "phil", "example.com", NULL}));
	check("phil@example.com <phil@example.com>", 0,
	      W({"phil@example.com", "phil", "example.com", NULL}));
	check("\"  James Smythe\" <james@example.com>", 0,
	      W({"James Smythe", "james", "example.com", NULL}));
}

static void test_groups(void **state)
{
	(void)state;
	struct msg_address_list list = {0};
	const char *s = "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;";
	assert_int_equal(msg_address_parse(s, strlen(s), &list, NULL, NULL), 0);
	assert_int_equal(list.groups, 1);
	msg_address_list_free(&list);
	check(s, 0, W({"Ed Jones", "c", "a.test", "A Group"},
	              {"", "joe", "where.test", "A Group"},
	              {"John", "jdoe", "one.test", "A Group"}));

	s = "undisclosed-recipients:;";
	assert_int_equal(msg_address_parse(s, strlen(s), &list, NULL, NULL), 0);
	assert_int_equal(list.count, 0);
	assert_int_equal(list.groups, 1);
	msg_address_list_free(&list);
	assert_int_equal(list.groups, 0);

	check("Undisclosed recipients:;\n", 0, NONE);
	check("Friends: a@b, c@d;", 0, W({"", "a", "b", "Friends"}, {"", "c", "d", "Friends"}));
	check("A Group(Some people)\n        :Chris Jones <c@(Chris's host.)public.example>,\n"
	      "            joe@example.org,\n"
	      "     John <jdoe@one.test> (my dear friend); (the end of the group)\n", 0,
	      W({"Chris Jones", "c", "public.example", "A Group"},
	        {"", "joe", "example.org", "A Group"},
	        {"John", "jdoe", "one.test", "A Group"}));
	check("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;", 0, NONE);
	check("\"  James Smythe\" <james@example.com>, Friends:\n"
	      "  jane@example.com, John Smith\n   <john@example.com>;\n", 0,
	      W({"James Smythe", "james", "example.com", NULL},
	        {"", "jane", "example.com", "Friends"},
	        {"John Smith", "john", "example.com", "Friends"}));
	check("List 1: addr1@test.com, addr2@test.com; \"List 2\": addr3@test.com, "
	      "addr4@test.com; addr5@test.com, addr6@test.com", 0,
	      W({"", "addr1", "test.com", "List 1"}, {"", "addr2", "test.com", "List 1"},
	        {"", "addr3", "test.com", "List 2"}, {"", "addr4", "test.com", "List 2"},
	        {"", "addr5", "test.com", NULL}, {"", "addr6", "test.com", NULL}));
	/* A group without its ';' still counts. */
	check("G: a@b", 0, W({"", "a", "b", "G"}));
	/* Groups do not nest: the inner one is an error, the rest survives. */
	check("G: H: a@b; c@d", -1, W({"", "c", "d", NULL}));
	check(": a@b;", 0, W({"", "a", "b", ""}));
}

static void test_comments(void **state)
{
	(void)state;
	check("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", 0,
	      W({"Pete", "pete", "silly.test", NULL}));
	check("Pete(A nice \n \\) chap) <pete(his\n account)@silly\n .test(his host)>", 0,
	      W({"Pete", "pete", "silly.test", NULL}));
	/* Old style: the comment names the address when there is no phrase. */
	check("a@b (John Doe)", 0, W({"John Doe", "a", "b", NULL}));
	check("a@b (John (the \\) Doe) Doe), c@d (  Jane  )", 0,
	      W({"John (the ) Doe) Doe", "a", "b", NULL}, {"Jane", "c", "d", NULL}));
	check("<a@b> (Web Archive)", 0, W({"Web Archive", "a", "b", NULL}));
	check("NO (posting not allowed on this list)", 0,
	      W({"posting not allowed on this list", "NO", "", NULL}));
	check("Name (comment) <a@b>", 0, W({"Name", "a", "b", NULL}));
	check("Name <a@b> (comment)", 0, W({"Name", "a", "b", NULL}));
	check("John Doe <jdoe@machine(comment).  example>", 0,
	      W({"John Doe", "jdoe", "machine.example", NULL}));
	check("a@b (unterminated", -1, W({"", "a", "b", NULL}));
}

static void test_obsolete(void **state)
{
	(void)state;
	check("<@route1,@route2:user@domain>", 0, W({"", "user", "domain", NULL}));
	check("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example", 0,
	      W({"Mary Smith", "mary", "example.net", NULL},
	        {"", "jdoe", "test.example", NULL}));
	check("<@a.b,,@c.d :x@y>", 0, W({"", "x", "y", NULL}));
	check("john . q . public@example.com", 0,
	      W({"", "john.q.public", "example.com", NULL}));
	check("\"john q\".public@example.com", 0,
	      W({"", "john q.public", "example.com", NULL}));
	check("\"a b\"@c", 0, W({"", "a b", "c", NULL}));
	check("user@[1.2.3.4]", 0, W({"", "user", "[1.2.3.4]", NULL}));
	check("Joe <user@[IPv6:::1]>", 0, W({"Joe", "user", "[IPv6:::1]", NULL}));
	check("<user>", 0, W({"", "user", "", NULL}));
	check("user", 0, W({"", "user", "", NULL}));
	check("Joe <user>, other", 0, W({"Joe", "user", "", NULL}, {"", "other", "", NULL}));
	check("<>", 0, W({"", "", "", NULL}));
	check("a@b,,c@d", 0, W({"", "a", "b", NULL}, {"", "c", "d", NULL}));
	check(",,, a@b ,,,", 0, W({"", "a", "b", NULL}));
	check("a@b; c@d", 0, W({"", "a", "b", NULL}, {"", "c", "d", NULL}));
	check("caf\xc3\xa9@example.org", 0, W({"", "caf\xc3\xa9", "example.org", NULL}));
	check("", 0, NONE);
	check("   \r\n ", 0, NONE);
	check("(just a comment)", 0, NONE);
}

static void test_encoded_names(void **state)
{
	(void)state;
	check("=?US-ASCII*EN?Q?Keith_Moore?= <moore@cs.utk.edu>", 0,
	      W({"Keith Moore", "moore", "cs.utk.edu", NULL}));
	check("John =?US-ASCII*EN?Q?Doe?= <moore@cs.utk.edu>", 0,
	      W({"John Doe", "moore", "cs.utk.edu", NULL}));
	check("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", 0,
	      W({"Keld J\xc3\xb8rn Simonsen", "keld", "dkuug.dk", NULL}));
	check("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", 0,
	      W({"Andr\xc3\xa9 Pirard", "PIRARD", "vm1.ulg.ac.be", NULL}));
	check("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?= <test@test.com>", 0,
	      W({"ab", "test", "test.com", NULL}));
	check("=?ISO-8859-1?Q?a?=\n   =?ISO-8859-1?Q?b?= <test@test.com>", 0,
	      W({"ab", "test", "test.com", NULL}));
	check("\"=?ISO-8859-1?Q?a?= b\" <test@test.com>", 0,
	      W({"a b", "test", "test.com", NULL}));
	check("=? <name@domain.com>", 0, W({"=?", "name", "domain.com", NULL}));
	check("\"John\" =?utf-8?q?Doe?= <a@b.com>", 0, W({"John Doe", "a", "b.com", NULL}));
	check("\"foo =?utf-8?q?bar?=\" <a@b.com>", 0, W({"foo bar", "a", "b.com", NULL}));
	check("=?UTF-8?B?5byg5LiJ?= <zhang@example.cn>", 0,
	      W({"\xe5\xbc\xa0\xe4\xb8\x89", "zhang", "example.cn", NULL}));
	check("=?utf-8?b?VGjDrXMgw61zIHbDoWzDrWQgw5pURjg=?=: a@b;", 0,
	      W({"", "a", "b", "Th\xc3\xads \xc3\xads v\xc3\xa1l\xc3\xad" "d \xc3\x9aTF8"}));
	/* Raw 8-bit names: UTF-8 kept. */
	check("\xe5\xbc\xa0\xe4\xb8\x89 <zhang@example.cn>", 0,
	      W({"\xe5\xbc\xa0\xe4\xb8\x89", "zhang", "example.cn", NULL}));
	check("\"Jos\xc3\xa9\" <jose@example.es>", 0,
	      W({"Jos\xc3\xa9", "jose", "example.es", NULL}));
	/* Encoded old-style comment name. */
	check("a@b (=?UTF-8?Q?J=C3=B6rg?=)", 0, W({"J\xc3\xb6rg", "a", "b", NULL}));
}

/* GB18030 bytes in a raw name come out as valid UTF-8, whatever the
 * detector decides; the address itself is untouched. */
static void test_raw_gb18030_name(void **state)
{
	(void)state;
	const char *s = "\xd5\xc5\xc8\xfd <zhang@example.cn>";
	struct msg_address_list list = {0};
	assert_int_equal(msg_address_parse(s, strlen(s), &list, NULL, NULL), 0);
	assert_int_equal(list.count, 1);
	assert_string_equal(list.items[0].local, "zhang");
	assert_true(strlen(list.items[0].name) > 0);
	msg_address_list_free(&list);
}

static void test_errors(void **state)
{
	(void)state;
	struct msg_address_list list = {0};
	size_t pos = 0;
	const char *err = NULL;
	const char *s = "a@b, John Doe, c@d";
	assert_int_equal(msg_address_parse(s, strlen(s), &list, &pos, &err), -1);
	assert_int_equal(pos, 10); /* at "Doe" */
	assert_non_null(err);
	assert_int_equal(list.count, 2);
	assert_string_equal(list.items[1].local, "c");
	msg_address_list_free(&list);

	/* Errors with NULL out-parameters. */
	assert_int_equal(msg_address_parse("@", 1, &list, NULL, NULL), -1);
	msg_address_list_free(&list);

	check("a@b c@d", -1, W({"", "a", "b", NULL}));
	check("test@test.com\ninvalid@address.com", -1, W({"", "test", "test.com", NULL}));
	check("a@", -1, NONE);
	check("@b", -1, NONE);
	check("a@b, @, c@d", -1, W({"", "a", "b", NULL}, {"", "c", "d", NULL}));
	check("<a@b", -1, NONE);
	check("<a@b>>", -1, W({"", "a", "b", NULL}));
	check("Joe <a@b> trailing, c@d", -1, W({"Joe", "a", "b", NULL}, {"", "c", "d", NULL}));
	check("\"unterminated <a@b>", -1, NONE);
	check("a@[1.2.3.4", -1, NONE);
	check(">", -1, NONE);
	check("]]]", -1, NONE);
	check("\\", -1, NONE);
	check("<a@b@c>", -1, NONE);
	check("<@route a@b>", -1, W({"", "a", "b", NULL})); /* route lacks ":" */
	check("a@b.", 0, W({"", "a", "b.", NULL}));
	check("<http://www.host.com/list/archive/> (Web Archive)", -1, NONE);
	check("<a\x01@b>", -1, NONE);
	check("a@\"quoted.domain\"", -1, NONE);
	check("\"a\\\r\n b\"@c", 0, W({"", "a b", "c", NULL}));
	check("a@[1.2\\]\\\r\n .3]", 0, W({"", "a", "[1.2\\] .3]", NULL}));
	check("a,cb @d, <x, \xcd@\",cb @d\", ]", -1,
	      W({"", "a", "", NULL}, {"", "cb", "d", NULL}));
}

/* Appending keeps what the list already held. */
static void test_append(void **state)
{
	(void)state;
	struct msg_address_list list = {0};
	assert_int_equal(msg_address_parse("a@b", 3, &list, NULL, NULL), 0);
	assert_int_equal(msg_address_parse("G: c@d;", 7, &list, NULL, NULL), 0);
	assert_int_equal(list.count, 2);
	assert_int_equal(list.groups, 1);
	assert_string_equal(list.items[0].local, "a");
	assert_null(list.items[0].group);
	assert_string_equal(list.items[1].group, "G");
	/* The length is honoured: nothing read past it. */
	assert_int_equal(msg_address_parse("e@fgh", 3, &list, NULL, NULL), 0);
	assert_string_equal(list.items[2].domain, "f");
	msg_address_list_free(&list);
}

/* A long hostile list: bounded work, every address found. */
static void test_many(void **state)
{
	(void)state;
	size_t n = 20000;
	char *s = malloc(n * 8);
	assert_non_null(s);
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(s + len, "x@y, ((", 7);
		len += i % 2 ? 7 : 4;
	}
	struct msg_address_list list = {0};
	/* Ends inside an unterminated comment: an error, every address kept. */
	assert_int_equal(msg_address_parse(s, len, &list, NULL, NULL), -1);
	assert_int_equal(list.count, 2);
	msg_address_list_free(&list);
	len = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(s + len, "x@y, ", 5);
		len += 5;
	}
	assert_int_equal(msg_address_parse(s, len, &list, NULL, NULL), 0);
	assert_int_equal(list.count, n);
	msg_address_list_free(&list);
	free(s);
}

static void check_format(const char *name, const char *local,
                         const char *domain, const char *want)
{
	struct msg_address a = {(char *)name, (char *)local, (char *)domain, NULL};
	struct buf out = BUF_INIT;
	assert_int_equal(msg_address_format(&a, &out), 0);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void test_format(void **state)
{
	(void)state;
	check_format("", "a", "b", "a@b");
	check_format("John Doe", "jdoe", "example.com", "John Doe <jdoe@example.com>");
	check_format("Joe Q. Public", "john.q.public", "example.com",
	             "\"Joe Q. Public\" <john.q.public@example.com>");
	check_format("Giant; \"Big\" Box", "s", "x", "\"Giant; \\\"Big\\\" Box\" <s@x>");
	check_format("a\\b", "s", "x", "\"a\\\\b\" <s@x>");
	check_format("Evil\r\nBcc: x@y", "s", "x", "\"Evil  Bcc: x@y\" <s@x>");
	check_format(" lead", "s", "x", "\" lead\" <s@x>");
	check_format("=?x?=", "s", "x", "\"=?x?=\" <s@x>");
	check_format("", "john doe", "example.com", "\"john doe\"@example.com");
	check_format("", "a..b", "c", "\"a..b\"@c");
	check_format("", ".a", "c", "\".a\"@c");
	check_format("", "a.", "c", "\"a.\"@c");
	check_format("", "a\"b", "c", "\"a\\\"b\"@c");
	check_format("", "", "", "<>");
	check_format("", "user", "", "user");
	check_format("", "", "c", "\"\"@c");
	check_format("X", "user", "[1.2.3.4]", "X <user@[1.2.3.4]>");

	/* Non-ASCII names become encoded-words; the address stays plain. */
	struct msg_address a = {"\xe5\xbc\xa0\xe4\xb8\x89", "zhang", "example.cn", NULL};
	struct buf out = BUF_INIT;
	assert_int_equal(msg_address_format(&a, &out), 0);
	const char *s = buf_cstr(&out);
	assert_non_null(strstr(s, "=?UTF-8?"));
	assert_non_null(strstr(s, " <zhang@example.cn>"));
	for (const char *p = s; *p; p++)
		assert_true((unsigned char)*p < 0x80);

	/* ... and parse back to the same name. */
	struct msg_address_list list = {0};
	assert_int_equal(msg_address_parse(out.data, out.len, &list, NULL, NULL), 0);
	assert_int_equal(list.count, 1);
	assert_string_equal(list.items[0].name, a.name);
	msg_address_list_free(&list);
	buf_free(&out);

	/* The buffer's limit is respected. */
	struct buf small;
	buf_init(&small, 4);
	struct msg_address b = {"John Doe", "jdoe", "example.com", NULL};
	assert_int_equal(msg_address_format(&b, &small), -1);
	assert_int_equal(msg_address_spec(&b, &small), -1);
	buf_free(&small);
}

/* format -> parse is the identity on names, locals and domains. */
static void test_round_trip(void **state)
{
	(void)state;
	static const struct msg_address cases[] = {
		{"John Doe", "jdoe", "example.com", NULL},
		{"Joe Q. Public", "john.q.public", "example.com", NULL},
		{"Giant; \"Big\" Box", "sys", "example.net", NULL},
		{"a\\b (c) <d>", "x", "y", NULL},
		{"", "john doe", "example.com", NULL},
		{"", "we\"ird\\", "example.com", NULL},
		{"Caf\xc3\xa9 \xe5\xbc\xa0", "x.y", "[10.0.0.1]", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf out = BUF_INIT;
		assert_int_equal(msg_address_format(&cases[i], &out), 0);
		struct msg_address_list list = {0};
		if (msg_address_parse(out.data, out.len, &list, NULL, NULL) != 0 ||
		    list.count != 1 || strcmp(list.items[0].name, cases[i].name) ||
		    strcmp(list.items[0].local, cases[i].local) ||
		    strcmp(list.items[0].domain, cases[i].domain))
			fail_msg("round trip of \"%s\" via \"%s\"", cases[i].name,
			         buf_cstr(&out));
		msg_address_list_free(&list);
		buf_free(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_mailboxes),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_obsolete),
		cmocka_unit_test(test_encoded_names),
		cmocka_unit_test(test_raw_gb18030_name),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
