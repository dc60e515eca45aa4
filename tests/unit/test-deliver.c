/* Unit tests for src/smtp/deliver.c, the local delivery smtpd and the queue
 * manager share: the lookup name (case, "+detail", length), resolving
 * through users and aliases (unknown, loops, remote targets), and
 * delivering into Maildirs in a temporary data directory (every user, a
 * bad user name, a missing message file). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/auth/aliases.h"
#include "../../src/auth/users.h"
#include "../../src/lib/fs.h"
#include "../../src/smtp/deliver.h"
#include "testlib.h"

static const char MESSAGE[] = "Subject: hi\r\n\r\nHello.\r\n";

struct env {
	char *dir;
	char *domains[1];
	struct posthorn_config cfg;
	struct users users;
	struct aliases aliases;
	char msg[4200];
};

static int setup(void **state)
{
	static const char aliases[] =
		"team: alice, bob\n"
		"ext: friend@remote.test, bob\n"
		"loop1: loop2\n"
		"loop2: loop1\n";
	struct env *e = calloc(1, sizeof *e);
	struct buf err = BUF_INIT;
	char path[4200];
	if (!e || testlib_dir_setup((void **)&e->dir) < 0)
		return -1;
	e->domains[0] = "example.org";
	e->cfg.hostname = "mx.example.org";
	e->cfg.domains = e->domains;
	e->cfg.ndomains = 1;
	e->cfg.data_dir = e->dir;
	snprintf(path, sizeof path, "%s/aliases", e->dir);
	snprintf(e->msg, sizeof e->msg, "%s/1.msg", e->dir);
	if (users_add(e->dir, "alice", "alice-pw", &err) < 0 ||
	    users_add(e->dir, "bob", "bob-pw", &err) < 0 ||
	    fs_write_atomic(path, aliases, strlen(aliases), 0600) < 0 ||
	    fs_write_atomic(e->msg, MESSAGE, strlen(MESSAGE), 0600) < 0 ||
	    users_load(e->dir, &e->users, &err) < 0 ||
	    aliases_load(e->dir, &e->aliases, &err) < 0) {
		fprintf(stderr, "setup: %s\n", buf_cstr(&err));
		return -1;
	}
	buf_free(&err);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	users_free(&e->users);
	aliases_free(&e->aliases);
	testlib_dir_teardown((void **)&e->dir);
	free(e);
	return 0;
}

/* ---- deliver_name ---- */

static void name_is(const char *local, size_t len, size_t outlen,
                    const char *want)
{
	char out[64];
	assert_true(outlen <= sizeof out);
	deliver_name(local, len, out, outlen);
	assert_string_equal(out, want);
}

static void test_name(void **state)
{
	(void)state;
	name_is("Alice", 5, 64, "alice");
	name_is("Bob+Lists", 9, 64, "bob");
	name_is("bob+a+b", 7, 64, "bob");
	name_is("+x", 2, 64, "+x");         /* a leading '+' is the name */
	name_is("ALICE@example.org", 5, 64, "alice"); /* len stops at '@' */
	name_is("abcdef", 6, 4, "abc");     /* truncated to outlen - 1 */
	name_is("ab\0cd", 5, 64, "ab");     /* NUL ends it */
	name_is("", 0, 64, "");
}

/* ---- deliver_resolve ---- */

struct resolved {
	int rc;
	struct strlist users, remote;
	struct buf why;
};

static void resolve(struct env *e, const char *local, struct resolved *r)
{
	memset(r, 0, sizeof *r);
	r->rc = deliver_resolve(&e->aliases, &e->users, &e->cfg, local,
	                      strcspn(local, "@"), &r->users, &r->remote,
	                      &r->why);
}

static void resolved_free(struct resolved *r)
{
	strlist_free(&r->users);
	strlist_free(&r->remote);
	buf_free(&r->why);
}

static void test_resolve_user(void **state)
{
	struct resolved r;
	resolve(*state, "Alice+Detail@example.org", &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.users.count, 1);
	assert_string_equal(r.users.items[0], "alice");
	assert_int_equal(r.remote.count, 0);
	assert_int_equal(r.why.len, 0);
	resolved_free(&r);
}

static void test_resolve_alias(void **state)
{
	struct resolved r;
	resolve(*state, "EXT", &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.users.count, 1);
	assert_string_equal(r.users.items[0], "bob");
	assert_int_equal(r.remote.count, 1);
	assert_string_equal(r.remote.items[0], "friend@remote.test");
	resolved_free(&r);
	resolve(*state, "team", &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.users.count, 2);
	resolved_free(&r);
}

static void test_resolve_unknown(void **state)
{
	struct resolved r;
	resolve(*state, "nobody@example.org", &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.users.count, 0);
	assert_int_equal(r.why.len, 0);
	resolved_free(&r);
}

static void test_resolve_loop(void **state)
{
	struct resolved r;
	resolve(*state, "Loop1+x@example.org", &r);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(buf_cstr(&r.why),
	                       "alias expansion of loop1 failed: "));
	resolved_free(&r);
}

/* ---- deliver_local ---- */

/* Files in DATA_DIR/mail/USER/new, -1 when there is no such directory. */
static int new_count(struct env *e, const char *user)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/mail/%s/new", e->dir, user);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static struct strlist list_of(const char *a, const char *b)
{
	struct strlist l = {0};
	assert_int_equal(strlist_add_unique(&l, a), 0);
	if (b)
		assert_int_equal(strlist_add_unique(&l, b), 0);
	return l;
}

static void test_deliver_all(void **state)
{
	struct env *e = *state;
	struct strlist users = list_of("alice", "bob");
	struct buf why = BUF_INIT;
	size_t n = 0, len = strlen(MESSAGE);
	assert_int_equal(deliver_local(&e->cfg, &users, e->msg, len, len, &n,
	                               &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(new_count(e, "alice"), 1);
	assert_int_equal(new_count(e, "bob"), 1);
	assert_int_equal(why.len, 0);
	strlist_free(&users);
	buf_free(&why);
}

static void test_deliver_bad_user_stops(void **state)
{
	struct env *e = *state;
	struct strlist users = list_of("alice", "Bad/Name");
	assert_int_equal(strlist_add_unique(&users, "bob"), 0);
	struct buf why = BUF_INIT;
	size_t n = 0, len = strlen(MESSAGE);
	errno = 0;
	assert_int_equal(deliver_local(&e->cfg, &users, e->msg, len, len, &n,
	                               &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(n, 1);             /* alice keeps hers */
	assert_int_equal(new_count(e, "alice"), 1);
	assert_int_equal(new_count(e, "bob"), -1); /* not reached */
	assert_non_null(strstr(buf_cstr(&why), " (user Bad/Name)"));
	strlist_free(&users);
	buf_free(&why);
}

static void test_deliver_missing_message(void **state)
{
	struct env *e = *state;
	struct strlist users = list_of("alice", NULL);
	struct buf why = BUF_INIT;
	char missing[4300];
	snprintf(missing, sizeof missing, "%s/none.msg", e->dir);
	size_t n = 0;
	errno = 0;
	assert_int_equal(deliver_local(&e->cfg, &users, missing, 10, 10, &n,
	                               &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(n, 0);
	assert_int_equal(new_count(e, "alice") > 0, 0);
	assert_non_null(strstr(buf_cstr(&why), "(user alice)"));
	strlist_free(&users);
	buf_free(&why);
}

static void test_deliver_none(void **state)
{
	struct env *e = *state;
	struct strlist users = {0};
	struct buf why = BUF_INIT;
	size_t n = 0;
	assert_int_equal(deliver_local(&e->cfg, &users, e->msg, 1, 1, &n, &why),
	                 0);
	assert_int_equal(n, 0);
	buf_free(&why);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		T(test_resolve_user),
		T(test_resolve_alias),
		T(test_resolve_unknown),
		T(test_resolve_loop),
		T(test_deliver_all),
		T(test_deliver_bad_user_stops),
		T(test_deliver_missing_message),
		T(test_deliver_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
