/* Unit tests for src/auth/aliases.c: parsing (continuations, comments,
 * errors with file:line), expansion (cycles, self-reference, diamonds,
 * local-domain and remote targets, unknown targets, depth), the table
 * check, line-preserving edits and the strlist helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/auth/aliases.h"

static char *domains[] = {"example.org", "mail.example.org"};
static struct posthorn_config cfg = {.domains = domains, .ndomains = 2};

static struct user user_items[] = {
	{.name = "alice", .hash = "$y$x"},
	{.name = "bob", .hash = "$y$x"},
	{.name = "carol", .hash = "$y$x"},
};
static struct users db = {user_items, 3};

static void parse_ok(const char *text, struct aliases *al)
{
	struct buf err = BUF_INIT;
	if (aliases_parse("aliases", text, strlen(text), al, &err) != 0)
		fail_msg("parse failed: %s", buf_cstr(&err));
	buf_free(&err);
}

static void parse_fails(const char *text, const char *want)
{
	struct aliases al = {(void *)1, 7};
	struct buf err = BUF_INIT;
	assert_int_equal(aliases_parse("aliases", text, strlen(text), &al, &err), -1);
	assert_null(al.items);
	assert_int_equal(al.count, 0);
	if (strcmp(buf_cstr(&err), want) != 0)
		fail_msg("\"%s\": error \"%s\", want \"%s\"", text, err.data, want);
	buf_free(&err);
}

/* Expands name in text; want_users/want_remote are comma-joined, in order. */
static void expand(const char *text, const char *name, int want_rc,
                   const char *want_users, const char *want_remote,
                   const char *want_err)
{
	struct aliases al;
	struct strlist u = {0}, r = {0};
	struct buf err = BUF_INIT, got = BUF_INIT;
	parse_ok(text, &al);
	int rc = aliases_expand(&al, &db, &cfg, name, &u, &r, &err);
	if (rc != want_rc)
		fail_msg("expand %s: rc %d (%s), want %d", name, rc, buf_cstr(&err), want_rc);
	if (want_err && strcmp(buf_cstr(&err), want_err) != 0)
		fail_msg("expand %s: error \"%s\", want \"%s\"", name, err.data, want_err);
	if (want_users) {
		for (size_t i = 0; i < u.count; i++)
			buf_printf(&got, "%s%s", i ? "," : "", u.items[i]);
		assert_string_equal(buf_cstr(&got), want_users);
	}
	if (want_remote) {
		buf_reset(&got);
		for (size_t i = 0; i < r.count; i++)
			buf_printf(&got, "%s%s", i ? "," : "", r.items[i]);
		assert_string_equal(buf_cstr(&got), want_remote);
	}
	strlist_free(&u);
	strlist_free(&r);
	buf_free(&err);
	buf_free(&got);
	aliases_free(&al);
}

static void test_parse(void **state)
{
	(void)state;
	struct aliases al;
	parse_ok("# the aliases\n"
	         "\n"
	         "Postmaster: alice\n"
	         "team:alice,bob ,  carol\r\n"
	         "list: alice,\n"
	         "\tbob,\n"
	         "    friend@Remote.Example\n"
	         "  # a comment ends nothing above it, but ends the entry\n"
	         "abuse : postmaster", &al);
	assert_int_equal(al.count, 4);
	assert_string_equal(al.items[0].name, "abuse");
	assert_string_equal(al.items[1].name, "list");
	assert_string_equal(al.items[2].name, "postmaster");
	assert_string_equal(al.items[3].name, "team");
	const struct alias *list = aliases_find(&al, "list");
	assert_non_null(list);
	assert_int_equal(list->line, 5);
	assert_int_equal(list->ntargets, 3);
	assert_string_equal(list->targets[2], "friend@Remote.Example");
	const struct alias *team = aliases_find(&al, "team");
	assert_int_equal(team->ntargets, 3);
	assert_string_equal(team->targets[1], "bob");
	assert_string_equal(team->targets[2], "carol");
	assert_null(aliases_find(&al, "nobody"));
	aliases_free(&al);
	assert_null(al.items);
	parse_ok("", &al);
	assert_int_equal(al.count, 0);
	assert_null(aliases_find(&al, "x"));
	aliases_free(&al);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_fails("a: b\nno colon here\n", "aliases:2: expected \"name: target, ...\"");
	parse_fails("a b: c\n", "aliases:1: invalid alias name (a-z 0-9 . _ -, 1-64 bytes): \"a b\"");
	parse_fails(": c\n", "aliases:1: invalid alias name (a-z 0-9 . _ -, 1-64 bytes): \"\"");
	parse_fails("../x: c\n", "aliases:1: invalid alias name (a-z 0-9 . _ -, 1-64 bytes): \"../x\"");
	parse_fails("postmaster:\n", "aliases:1: alias \"postmaster\" has no targets");
	parse_fails("postmaster:   \n\n", "aliases:1: alias \"postmaster\" has no targets");
	parse_fails("a: b\n\n  c\n", "aliases:3: indented line continues no alias");
	parse_fails("  a: b\n", "aliases:1: indented line continues no alias");
	parse_fails("a: b\nx: y\nA: c\n", "aliases:3: duplicate alias \"a\" (first on line 1)");
	parse_fails("a: b,,c\n", "aliases:1: empty target");
	parse_fails("a: ,b\n", "aliases:1: empty target");
	parse_fails("a: b c\n", "aliases:1: invalid local name (a-z 0-9 . _ -) or address (user@domain): \"b c\"");
	parse_fails("a: |/bin/sh\n", "aliases:1: pipes and files are not supported as targets: \"|/bin/sh\"");
	parse_fails("a: /tmp/x\n", "aliases:1: pipes and files are not supported as targets: \"/tmp/x\"");
	parse_fails("a: x@\n", "aliases:1: invalid address: \"x@\"");
	parse_fails("a: @example.org\n", "aliases:1: invalid address: \"@example.org\"");
	parse_fails("a: x@-bad.org\n", "aliases:1: invalid address: \"x@-bad.org\"");
	parse_fails("a: x@a..b\n", "aliases:1: invalid address: \"x@a..b\"");
	parse_fails("a: <x@y.org>\n", "aliases:1: invalid address: \"<x@y.org>\"");
	parse_fails("a: x\"y@z.org\n", "aliases:1: invalid address: \"x\"y@z.org\"");
	parse_fails("a: b,\n c d\n", "aliases:2: invalid local name (a-z 0-9 . _ -) or address (user@domain): \"c d\"");
}

static void test_parse_nul(void **state)
{
	(void)state;
	struct aliases al;
	struct buf err = BUF_INIT;
	assert_int_equal(aliases_parse("f", "a: b\nc: d\0e\n", 12, &al, &err), -1);
	assert_string_equal(buf_cstr(&err), "f:2: NUL byte in line");
	buf_free(&err);
}

static void test_expand_basic(void **state)
{
	(void)state;
	const char *t = "postmaster: alice\n"
	                "team: alice, Bob, carol@EXAMPLE.org, dave@Remote.Example\n"
	                "fwd: Dave@remote.example, erin@Mail.Example.org\n";
	expand(t, "postmaster", 1, "alice", "", NULL);
	/* Local-domain addresses are local names; remote ones keep their local
	 * part and get a lowercase domain. */
	expand(t, "team", 1, "alice,bob,carol", "dave@remote.example", NULL);
	expand(t, "alice", 1, "alice", "", NULL);      /* a plain user */
	expand(t, "nobody", 0, "", "", "");            /* neither */
	expand(t, "fwd", -1, NULL, NULL, "alias \"fwd\": unknown target \"erin\"");
}

static void test_expand_diamond(void **state)
{
	(void)state;
	const char *t = "top: left, right, alice\n"
	                "left: shared, x@far.example\n"
	                "right: shared, X@FAR.example\n"
	                "shared: bob, alice\n";
	/* bob and alice reached several ways, each once; the two spellings of
	 * the remote differ in the local part, which is kept as written. */
	expand(t, "top", 1, "bob,alice", "x@far.example,X@far.example", NULL);
}

static void test_expand_loops(void **state)
{
	(void)state;
	expand("a: b\nb: a\n", "a", -1, NULL, NULL, "alias loop: a -> b -> a");
	expand("a: b\nb: c\nc: b\n", "a", -1, NULL, NULL, "alias loop: b -> c -> b");
	/* Self-reference of an alias that is no user: a loop. */
	expand("me: alice, me\n", "me", -1, NULL, NULL, "alias loop: me -> me");
	/* Self-reference through a local-domain address too. */
	expand("me: me@example.org\n", "me", -1, NULL, NULL, "alias loop: me -> me");
	/* An alias named like a user that lists itself keeps a local copy. */
	expand("bob: bob, bob@elsewhere.example\n", "bob", 1, "bob",
	       "bob@elsewhere.example", NULL);
	/* ... but only directly: through another alias it is a loop. */
	expand("bob: x\nx: bob\n", "bob", -1, NULL, NULL, "alias loop: bob -> x -> bob");
	/* A loop in a branch not taken does not matter for this name. */
	expand("ok: alice\nbad1: bad2\nbad2: bad1\n", "ok", 1, "alice", "", NULL);
}

static void test_expand_depth(void **state)
{
	(void)state;
	struct buf text = BUF_INIT;
	for (int i = 0; i < 32; i++)
		buf_printf(&text, "a%d: a%d\n", i, i + 1);
	buf_puts(&text, "a32: alice\n");
	/* a31 -> a32 -> alice: fine; a0 needs 33 nested aliases. */
	expand(buf_cstr(&text), "a1", 1, "alice", "", NULL);
	expand(text.data, "a0", -1, NULL, NULL,
	       "alias \"a0\": nested deeper than 32 aliases");
	buf_free(&text);
}

static void test_check(void **state)
{
	(void)state;
	struct aliases al;
	struct buf err = BUF_INIT;
	parse_ok("postmaster: alice\nx: y\ny: x\nz: ghost\nr: a@b.example\n", &al);
	assert_int_equal(aliases_check(&al, &db, &cfg, &err), -1);
	assert_string_equal(buf_cstr(&err),
	                    "line 2: alias loop: x -> y -> x\n"
	                    "line 3: alias loop: y -> x -> y\n"
	                    "line 4: alias \"z\": unknown target \"ghost\"");
	aliases_free(&al);
	buf_reset(&err);
	parse_ok("postmaster: alice\nr: a@b.example, postmaster\n", &al);
	assert_int_equal(aliases_check(&al, &db, &cfg, &err), 0);
	assert_int_equal(err.len, 0);
	aliases_free(&al);
	/* Without a config no domain is local. */
	parse_ok("r: alice@example.org\n", &al);
	assert_int_equal(aliases_check(&al, &db, NULL, &err), 0);
	aliases_free(&al);
	buf_free(&err);
}

static void edit(const char *text, const char *name, char *const *targets,
                 size_t n, int want_rc, const char *want)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	int rc = aliases_edit(text, strlen(text), name, targets, n, &out, &err);
	if (rc != want_rc)
		fail_msg("edit %s: rc %d (%s)", name, rc, buf_cstr(&err));
	assert_string_equal(rc == 0 ? buf_cstr(&out) : buf_cstr(&err), want);
	buf_free(&out);
	buf_free(&err);
}

static void test_edit(void **state)
{
	(void)state;
	const char *t = "# head\npostmaster: alice\nlist: a,\n  b\n# tail\nz: q";
	char *one[] = {"bob"}, *two[] = {"carol", "x@y.example"};
	edit(t, "LIST", two, 2, 0,
	     "# head\npostmaster: alice\nlist: carol, x@y.example\n# tail\nz: q");
	edit(t, "new", one, 1, 0,
	     "# head\npostmaster: alice\nlist: a,\n  b\n# tail\nz: q\nnew: bob\n");
	edit(t, "list", NULL, 0, 0, "# head\npostmaster: alice\n# tail\nz: q");
	edit(t, "z", NULL, 0, 0, "# head\npostmaster: alice\nlist: a,\n  b\n# tail\n");
	edit(t, "nope", NULL, 0, -1, "no alias \"nope\"");
	edit("", "postmaster", one, 1, 0, "postmaster: bob\n");
	char *bad[] = {"a b"};
	edit(t, "x", bad, 1, -1,
	     "target \"a b\": invalid local name (a-z 0-9 . _ -) or address (user@domain)");
	edit(t, "../x", one, 1, -1, "invalid alias name \"../x\": use a-z 0-9 . _ -");
}

static void test_set_delete_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-aliases-XXXXXX", path[64], cmd[80];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/aliases", dir);
	struct buf err = BUF_INIT;
	struct aliases al;
	char *one[] = {"alice"};
	assert_int_equal(aliases_load(dir, &al, &err), 0);  /* missing: none */
	assert_int_equal(al.count, 0);
	assert_int_equal(aliases_set(dir, "postmaster", one, 1, &err), 0);
	assert_int_equal(aliases_set(dir, "x", NULL, 0, &err), -1);
	assert_string_equal(buf_cstr(&err), "alias \"x\" needs at least one target");
	buf_reset(&err);
	assert_int_equal(aliases_load(dir, &al, &err), 0);
	assert_int_equal(al.count, 1);
	assert_string_equal(al.items[0].targets[0], "alice");
	aliases_free(&al);
	assert_int_equal(aliases_delete(dir, "postmaster", &err), 0);
	assert_int_equal(aliases_delete(dir, "postmaster", &err), -1);
	assert_string_equal(buf_cstr(&err), "no alias \"postmaster\"");
	buf_reset(&err);
	/* A broken file is never made worse: the change is refused. */
	FILE *f = fopen(path, "w");
	fputs("a: b\nbroken\n", f);
	fclose(f);
	assert_int_equal(aliases_set(dir, "c", one, 1, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "/aliases:2: expected"));
	buf_reset(&err);
	assert_int_equal(aliases_load(dir, &al, &err), -1);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	buf_free(&err);
}

static void test_strlist(void **state)
{
	(void)state;
	struct strlist l = {0};
	for (int i = 0; i < 100; i++) {
		char s[16];
		snprintf(s, sizeof s, "s%d", i % 37);
		assert_int_equal(strlist_add_unique(&l, s), 0);
	}
	assert_int_equal(l.count, 37);
	assert_string_equal(l.items[36], "s36");
	strlist_free(&l);
	assert_null(l.items);
	assert_int_equal(l.count, 0);
	strlist_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_expand_basic),
		cmocka_unit_test(test_expand_diamond),
		cmocka_unit_test(test_expand_loops),
		cmocka_unit_test(test_expand_depth),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_edit),
		cmocka_unit_test(test_set_delete_files),
		cmocka_unit_test(test_strlist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
