/* Unit tests for src/auth/users.c: names, yescrypt hashing and verification,
 * the users and apop files (strict parsing with file:line errors, modes,
 * sorting) and every change function with its error paths. */
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

#include "../../src/auth/users.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test-users-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_whole(const char *name)
{
	static char text[8192];
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static mode_t file_mode(const char *name)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Loading must fail with exactly this message (after the dir prefix). */
static void expect_load_error(const char *want)
{
	struct users db = {(void *)1, 42};
	struct buf err = BUF_INIT;
	assert_int_equal(users_load(dir, &db, &err), -1);
	assert_null(db.items);
	assert_int_equal(db.count, 0);
	const char *e = buf_cstr(&err);
	size_t dl = strlen(dir);
	if (strncmp(e, dir, dl) != 0 || strcmp(e + dl, want) != 0)
		fail_msg("error \"%s\", want \"%s%s\"", e, dir, want);
	buf_free(&err);
}

static void test_name_valid(void **state)
{
	(void)state;
	assert_true(users_name_valid("alice"));
	assert_true(users_name_valid("a"));
	assert_true(users_name_valid("j.doe_2-x"));
	assert_true(users_name_valid("0day"));
	assert_false(users_name_valid(""));
	assert_false(users_name_valid("Alice"));
	assert_false(users_name_valid("a b"));
	assert_false(users_name_valid("../x"));
	assert_false(users_name_valid("a/b"));
	assert_false(users_name_valid(".hidden"));
	assert_false(users_name_valid("-opt"));
	assert_false(users_name_valid("a:b"));
	assert_false(users_name_valid("a@b"));
	assert_false(users_name_valid("caf\xc3\xa9"));
	char longname[70];
	memset(longname, 'a', 64);
	longname[64] = '\0';
	assert_true(users_name_valid(longname));
	longname[64] = 'a';
	longname[65] = '\0';
	assert_false(users_name_valid(longname));
}

static void test_hash_and_verify(void **state)
{
	(void)state;
	struct buf h = BUF_INIT, h2 = BUF_INIT;
	assert_int_equal(users_hash_password("s3cret pass", &h), 0);
	assert_int_equal(users_hash_password("s3cret pass", &h2), 0);
	assert_true(strncmp(buf_cstr(&h), "$y$", 3) == 0);
	/* A random salt: the same password never hashes the same twice. */
	assert_string_not_equal(buf_cstr(&h), buf_cstr(&h2));
	struct user u = {.name = "alice", .hash = h.data};
	assert_int_equal(users_verify(&u, "s3cret pass"), 1);
	assert_int_equal(users_verify(&u, "s3cret pas"), 0);
	assert_int_equal(users_verify(&u, "s3cret pass "), 0);
	assert_int_equal(users_verify(&u, ""), 0);
	assert_int_equal(users_verify(&u, NULL), 0);
	assert_int_equal(users_verify(NULL, "s3cret pass"), 0);
	u.hash = "!locked";
	assert_int_equal(users_verify(&u, "s3cret pass"), 0);
	u.hash = "$y$garbage";
	assert_int_equal(users_verify(&u, "s3cret pass"), 0);
	u.hash = NULL;
	assert_int_equal(users_verify(&u, "x"), 0);
	struct buf e = BUF_INIT;
	assert_int_equal(users_hash_password("", &e), -1);
	assert_int_equal(e.len, 0);
	buf_free(&h);
	buf_free(&h2);
}

static void test_missing_files_empty_db(void **state)
{
	(void)state;
	struct users db;
	struct buf err = BUF_INIT;
	assert_int_equal(users_load(dir, &db, &err), 0);
	assert_int_equal(db.count, 0);
	assert_null(users_find(&db, "alice"));
	users_free(&db);
	char missing[128];
	snprintf(missing, sizeof missing, "%s/nonexistent", dir);
	assert_int_equal(users_load(missing, &db, &err), 0);
	assert_int_equal(db.count, 0);
	buf_free(&err);
}

static void test_load_sorted_find_case(void **state)
{
	(void)state;
	write_file("users", "# comment\n\n"
	           "zed:$y$j9T$abc$def\n"
	           "   # indented comment\n"
	           "alice:$y$j9T$xyz$uvw:1048576\r\n"
	           "bob:!locked\n"
	           "carol:$6$salt$hash:0");
	write_file("apop", "alice:tanstaaf\n# c\nzed:x.y\n");
	struct users db;
	struct buf err = BUF_INIT;
	assert_int_equal(users_load(dir, &db, &err), 0);
	assert_int_equal(db.count, 4);
	assert_string_equal(db.items[0].name, "alice");
	assert_string_equal(db.items[1].name, "bob");
	assert_string_equal(db.items[2].name, "carol");
	assert_string_equal(db.items[3].name, "zed");
	const struct user *a = users_find(&db, "ALICE");
	assert_non_null(a);
	assert_ptr_equal(a, users_find(&db, "alice"));
	assert_ptr_equal(a, users_find(&db, "aLiCe"));
	assert_int_equal(a->quota, 1048576);
	assert_string_equal(a->hash, "$y$j9T$xyz$uvw");
	assert_string_equal(a->apop_secret, "tanstaaf");
	assert_null(users_find(&db, "bob")->apop_secret);
	assert_string_equal(users_find(&db, "zed")->apop_secret, "x.y");
	assert_null(users_find(&db, "nobody"));
	assert_null(users_find(&db, ""));
	assert_null(users_find(&db, "alice\n"));
	char longname[200];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_null(users_find(&db, longname));
	users_free(&db);
	assert_null(db.items);
	assert_int_equal(db.count, 0);
	buf_free(&err);
}

static void test_users_file_errors(void **state)
{
	(void)state;
	write_file("users", "alice:$y$a$b\nbob\n");
	expect_load_error("/users:2: expected name:hash[:quota]");
	write_file("users", "Alice:$y$a$b\n");
	expect_load_error("/users:1: invalid user name (lowercase a-z 0-9 . _ -, 1-64 bytes)");
	write_file("users", "\n\n../x:$y$a$b\n");
	expect_load_error("/users:3: invalid user name (lowercase a-z 0-9 . _ -, 1-64 bytes)");
	write_file("users", ":$y$a$b\n");
	expect_load_error("/users:1: invalid user name (lowercase a-z 0-9 . _ -, 1-64 bytes)");
	write_file("users", "alice:plaintext\n");
	expect_load_error("/users:1: invalid password hash (expected a crypt(3) hash such as $y$...)");
	write_file("users", "alice:\n");
	expect_load_error("/users:1: invalid password hash (expected a crypt(3) hash such as $y$...)");
	write_file("users", "alice:$y$a b$c\n");
	expect_load_error("/users:1: invalid password hash (expected a crypt(3) hash such as $y$...)");
	write_file("users", "alice:$y$a$b:12k\n");
	expect_load_error("/users:1: invalid quota (expected a number of bytes)");
	write_file("users", "alice:$y$a$b:\n");
	expect_load_error("/users:1: invalid quota (expected a number of bytes)");
	write_file("users", "alice:$y$a$b:99999999999999999999\n");
	expect_load_error("/users:1: invalid quota (expected a number of bytes)");
	write_file("users", "alice:$y$a$b:1:2\n");
	expect_load_error("/users:1: invalid quota (expected a number of bytes)");
	write_file("users", "bob:$y$a$b\nalice:$y$a$b\nbob:$y$c$d\n");
	expect_load_error("/users: duplicate user \"bob\"");
	/* A NUL byte can never hide the rest of a line. */
	char path[128];
	snprintf(path, sizeof path, "%s/users", dir);
	FILE *f = fopen(path, "w");
	fwrite("alice:$y$a$b\nbob:$y$\0x\n", 1, 23, f);
	fclose(f);
	expect_load_error("/users:2: NUL byte in line or out of memory");
}

static void test_apop_file_errors(void **state)
{
	(void)state;
	write_file("users", "alice:$y$a$b\n");
	write_file("apop", "bob:secret\n");
	expect_load_error("/apop:1: APOP secret for an unknown user");
	write_file("apop", "alice\n");
	expect_load_error("/apop:1: expected name:secret");
	write_file("apop", "alice:one\nalice:two\n");
	expect_load_error("/apop:2: duplicate APOP secret");
	write_file("apop", "alice:\n");
	expect_load_error("/apop:1: invalid secret (1-256 printable ASCII characters, no ':')");
	write_file("apop", "alice:a b\n");
	expect_load_error("/apop:1: invalid secret (1-256 printable ASCII characters, no ':')");
	write_file("apop", "ALICE:x\n");
	expect_load_error("/apop:1: invalid user name");
	unlink(strcat(strcpy((char[128]){0}, dir), "/apop"));
}

static void test_add_verify_delete(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct users db;
	assert_int_equal(users_add(dir, "Bob", "hunter2", &err), 0);
	assert_int_equal(users_add(dir, "alice", "correct horse", &err), 0);
	assert_int_equal(file_mode("users"), 0600);
	assert_int_equal(file_mode("apop"), 0600);
	assert_int_equal(users_load(dir, &db, &err), 0);
	assert_int_equal(db.count, 2);
	assert_string_equal(db.items[0].name, "alice");
	assert_string_equal(db.items[1].name, "bob");
	assert_int_equal(users_verify(users_find(&db, "BOB"), "hunter2"), 1);
	assert_int_equal(users_verify(users_find(&db, "bob"), "Hunter2"), 0);
	assert_int_equal(users_verify(users_find(&db, "alice"), "correct horse"), 1);
	users_free(&db);

	/* Duplicate (any case), invalid names, empty password: refused, file kept. */
	char before[8192];
	strcpy(before, read_whole("users"));
	assert_int_equal(users_add(dir, "ALICE", "x", &err), -1);
	assert_string_equal(buf_cstr(&err), "user \"alice\" already exists");
	buf_reset(&err);
	assert_int_equal(users_add(dir, "../x", "x", &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "invalid user name \"../x\""));
	buf_reset(&err);
	assert_int_equal(users_add(dir, "a b", "x", &err), -1);
	buf_reset(&err);
	assert_int_equal(users_add(dir, "carol", "", &err), -1);
	assert_string_equal(buf_cstr(&err), "empty password refused");
	buf_reset(&err);
	assert_string_equal(read_whole("users"), before);

	assert_int_equal(users_set_password(dir, "Alice", "new pass", &err), 0);
	assert_int_equal(users_set_password(dir, "nobody", "x", &err), -1);
	assert_string_equal(buf_cstr(&err), "no such user \"nobody\"");
	buf_reset(&err);
	assert_int_equal(users_set_password(dir, "alice", "", &err), -1);
	buf_reset(&err);
	assert_int_equal(users_load(dir, &db, &err), 0);
	assert_int_equal(users_verify(users_find(&db, "alice"), "new pass"), 1);
	assert_int_equal(users_verify(users_find(&db, "alice"), "correct horse"), 0);
	users_free(&db);

	assert_int_equal(users_delete(dir, "BOB", &err), 0);
	assert_int_equal(users_delete(dir, "bob", &err), -1);
	assert_string_equal(buf_cstr(&err), "no such user \"bob\"");
	buf_reset(&err);
	assert_int_equal(users_load(dir, &db, &err), 0);
	assert_int_equal(db.count, 1);
	assert_null(users_find(&db, "bob"));
	users_free(&db);
	buf_free(&err);
}

static void test_apop_set_clear(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct users db;
	write_file("users", "alice:$y$a$b:500\nbob:$y$c$d\n");
	assert_int_equal(users_set_apop(dir, "alice", "tanstaaf", &err), 0);
	assert_int_equal(users_set_apop(dir, "bob", "b0b", &err), 0);
	assert_int_equal(file_mode("apop"), 0600);
	assert_int_equal(users_load(dir, &db, &err), 0);
	assert_string_equal(users_find(&db, "alice")->apop_secret, "tanstaaf");
	/* Rewriting keeps what it does not change: quota and other hashes. */
	assert_int_equal(users_find(&db, "alice")->quota, 500);
	assert_string_equal(users_find(&db, "bob")->hash, "$y$c$d");
	users_free(&db);
	assert_int_equal(users_set_apop(dir, "alice", NULL, &err), 0);
	assert_int_equal(users_set_apop(dir, "alice", "bad secret", &err), -1);
	buf_reset(&err);
	assert_int_equal(users_set_apop(dir, "alice", "", &err), -1);
	buf_reset(&err);
	assert_int_equal(users_set_apop(dir, "carol", "x", &err), -1);
	assert_string_equal(buf_cstr(&err), "no such user \"carol\"");
	buf_reset(&err);
	assert_int_equal(users_load(dir, &db, &err), 0);
	assert_null(users_find(&db, "alice")->apop_secret);
	users_free(&db);
	/* Deleting a user takes its secret along, so the files stay loadable. */
	assert_int_equal(users_delete(dir, "bob", &err), 0);
	assert_null(strstr(read_whole("apop"), "bob"));
	assert_int_equal(users_load(dir, &db, &err), 0);
	assert_int_equal(db.count, 1);
	users_free(&db);
	buf_free(&err);
}

static void test_changes_refuse_broken_file(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	write_file("users", "alice:$y$a$b\ngarbage\n");
	assert_int_equal(users_add(dir, "bob", "x", &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "/users:2: expected name:hash"));
	buf_reset(&err);
	assert_int_equal(users_delete(dir, "alice", &err), -1);
	buf_reset(&err);
	assert_string_equal(read_whole("users"), "alice:$y$a$b\ngarbage\n");
	/* An unwritable directory is an error with a reason. */
	char missing[128];
	snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
	assert_int_equal(users_add(missing, "bob", "x", &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "No such file or directory"));
	buf_free(&err);
}

/* RFC 1939 7's example, and what must not pass. */
static void test_apop_digest(void **state)
{
	(void)state;
	struct user u = {.name = "mrose", .apop_secret = "tanstaaf"};
	const char *ts = "<1896.697170952@dbc.mtview.ca.us>";
	assert_true(users_verify_apop(&u, ts, "c4c9334bac560ecc979e58001b3e22fb"));
	assert_true(users_verify_apop(&u, ts, "C4C9334BAC560ECC979E58001B3E22FB"));
	assert_false(users_verify_apop(&u, ts, "c4c9334bac560ecc979e58001b3e22fc"));
	assert_false(users_verify_apop(&u, ts, "c4c9334bac560ecc979e58001b3e22f"));
	assert_false(users_verify_apop(&u, ts, "c4c9334bac560ecc979e58001b3e22fbb"));
	assert_false(users_verify_apop(&u, "<1896.697170953@dbc.mtview.ca.us>",
	                               "c4c9334bac560ecc979e58001b3e22fb"));
	u.apop_secret = NULL;
	assert_false(users_verify_apop(&u, ts, "c4c9334bac560ecc979e58001b3e22fb"));
	assert_false(users_verify_apop(NULL, ts, "c4c9334bac560ecc979e58001b3e22fb"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test_setup_teardown(test_missing_files_empty_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_sorted_find_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apop_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_verify_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apop_set_clear, setup, teardown),
		cmocka_unit_test(test_apop_digest),
		cmocka_unit_test_setup_teardown(test_changes_refuse_broken_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
