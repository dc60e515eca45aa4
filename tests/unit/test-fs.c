/* Unit tests for src/lib/fs: atomic writes, mkdir -p, bounded reads and the
 * traversal-proof join, each in a fresh mkdtemp directory. Tests run as
 * root, so failures come from ENOENT, ENOTDIR and EISDIR, not permissions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/lib/fs.h"

struct tmp {
	char dir[64];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/test-fs-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
	int r = system(cmd);
	free(t);
	return r == 0 ? 0 : -1;
}

/* Writes "DIR/rel" into out and returns it. */
static const char *path_in(struct tmp *t, const char *rel, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", t->dir, rel);
	return out;
}

static void write_plain(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_write_atomic_creates_and_replaces(void **state)
{
	struct tmp *t = *state;
	char p[256];
	path_in(t, "file", p, sizeof p);
	assert_int_equal(fs_write_atomic(p, "first", 5, 0600), 0);
	struct buf b = BUF_INIT;
	assert_int_equal(fs_read_file(p, 100, &b), 0);
	assert_string_equal(buf_cstr(&b), "first");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	assert_int_equal(fs_write_atomic(p, "second!", 7, 0644), 0);
	buf_reset(&b);
	assert_int_equal(fs_read_file(p, 100, &b), 0);
	assert_string_equal(buf_cstr(&b), "second!");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* no temporary file left behind */
	assert_int_equal(count_entries(t->dir), 1);
	buf_free(&b);
}

static void test_write_atomic_empty_file(void **state)
{
	struct tmp *t = *state;
	char p[256];
	path_in(t, "empty", p, sizeof p);
	assert_int_equal(fs_write_atomic(p, "", 0, 0600), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void test_write_atomic_failures_leave_nothing(void **state)
{
	struct tmp *t = *state;
	char p[256];
	/* missing directory */
	path_in(t, "nodir/file", p, sizeof p);
	errno = 0;
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600), -1);
	assert_int_equal(errno, ENOENT);
	/* a path through a regular file */
	char f[256];
	write_plain(path_in(t, "regular", f, sizeof f), "r");
	path_in(t, "regular/file", p, sizeof p);
	errno = 0;
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600), -1);
	assert_int_equal(errno, ENOTDIR);
	/* the target is a non-empty directory: rename fails after the temp
	 * file was written, which must be removed again */
	char d[256];
	path_in(t, "adir", d, sizeof d);
	assert_int_equal(mkdir(d, 0700), 0);
	path_in(t, "adir/inside", p, sizeof p);
	write_plain(p, "keep");
	errno = 0;
	assert_int_equal(fs_write_atomic(d, "x", 1, 0600), -1);
	assert_true(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
	assert_int_equal(count_entries(t->dir), 2); /* regular, adir */
}

static void test_mkdirs_nested_existing_and_slashes(void **state)
{
	struct tmp *t = *state;
	char p[256];
	path_in(t, "a/b//c/", p, sizeof p);
	assert_int_equal(fs_mkdirs(p, 0700), 0);
	struct stat st;
	path_in(t, "a/b/c", p, sizeof p);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* again: everything exists already */
	assert_int_equal(fs_mkdirs(p, 0700), 0);
	assert_int_equal(fs_mkdirs(t->dir, 0700), 0);
	assert_int_equal(fs_mkdirs("/", 0700), 0);
}

static void test_mkdirs_failures(void **state)
{
	struct tmp *t = *state;
	char f[256], p[256];
	write_plain(path_in(t, "file", f, sizeof f), "x");
	errno = 0;
	assert_int_equal(fs_mkdirs(path_in(t, "file/sub/deeper", p, sizeof p),
	                           0700), -1);
	assert_int_equal(errno, ENOTDIR);
	/* the last component exists but is a file */
	errno = 0;
	assert_int_equal(fs_mkdirs(f, 0700), -1);
	assert_int_equal(errno, ENOTDIR);
	errno = 0;
	assert_int_equal(fs_mkdirs("", 0700), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_mkdirs_relative(void **state)
{
	struct tmp *t = *state;
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(t->dir), 0);
	int r = fs_mkdirs("rel/x", 0755);
	struct stat st;
	int s = stat("rel/x", &st);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(r, 0);
	assert_int_equal(s, 0);
}

static void test_read_file_limits(void **state)
{
	struct tmp *t = *state;
	char p[256];
	path_in(t, "ten", p, sizeof p);
	write_plain(p, "0123456789");
	struct buf b = BUF_INIT;
	buf_puts(&b, "pre:");
	assert_int_equal(fs_read_file(p, 10, &b), 0); /* exactly max */
	assert_string_equal(buf_cstr(&b), "pre:0123456789");
	errno = 0;
	assert_int_equal(fs_read_file(p, 9, &b), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(b.len, 14); /* unchanged */
	/* a buffer limit that refuses the append: out stays as it was */
	struct buf small;
	buf_init(&small, 5);
	buf_puts(&small, "ab");
	errno = 0;
	assert_int_equal(fs_read_file(p, 100, &small), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(small.len, 2);
	buf_free(&small);
	buf_free(&b);
}

static void test_read_file_errors(void **state)
{
	struct tmp *t = *state;
	char p[256];
	struct buf b = BUF_INIT;
	errno = 0;
	assert_int_equal(fs_read_file(path_in(t, "missing", p, sizeof p),
	                              100, &b), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(fs_read_file(t->dir, 100, &b), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(b.len, 0);
	/* not a regular file: the size check happens while reading */
	errno = 0;
	assert_int_equal(fs_read_file("/dev/zero", 1000, &b), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_fsync_dir_and_parent(void **state)
{
	struct tmp *t = *state;
	char p[256];
	assert_int_equal(fs_fsync_dir(t->dir), 0);
	assert_int_equal(fs_fsync_parent(path_in(t, "whatever", p, sizeof p)), 0);
	assert_int_equal(fs_fsync_parent("relative-name"), 0); /* "." */
	assert_int_equal(fs_fsync_parent("/etc"), 0);          /* "/" */
	errno = 0;
	assert_int_equal(fs_fsync_dir(path_in(t, "missing", p, sizeof p)), -1);
	assert_int_equal(errno, ENOENT);
	write_plain(path_in(t, "f", p, sizeof p), "x");
	errno = 0;
	assert_int_equal(fs_fsync_dir(p), -1);
	assert_int_equal(errno, ENOTDIR);
	errno = 0;
	assert_int_equal(fs_fsync_parent(path_in(t, "no/such", p, sizeof p)), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_write_all_pipe(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fs_write_all(fds[1], "hello", 5), 0);
	char got[8] = {0};
	assert_int_equal(read(fds[0], got, sizeof got), 5);
	assert_string_equal(got, "hello");
	close(fds[0]);
	close(fds[1]);
	errno = 0;
	assert_int_equal(fs_write_all(fds[1], "x", 1), -1); /* closed fd */
	assert_int_equal(errno, EBADF);
}

static void test_join(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(fs_join("/var/mail", "alice", &b), 0);
	assert_string_equal(buf_cstr(&b), "/var/mail/alice");
	buf_reset(&b);
	assert_int_equal(fs_join("/", "etc", &b), 0);
	assert_string_equal(buf_cstr(&b), "/etc");
	buf_reset(&b);
	assert_int_equal(fs_join("dir/", "..x", &b), 0); /* a legal name */
	assert_string_equal(buf_cstr(&b), "dir/..x");
	buf_reset(&b);
	static const char *const bad[] = {"", ".", "..", "a/b", "/etc", "../x",
	                                  "x/"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		errno = 0;
		assert_int_equal(fs_join("/d", bad[i], &b), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(b.len, 0);
	}
	errno = 0;
	assert_int_equal(fs_join("", "x", &b), -1);
	assert_int_equal(errno, EINVAL);
	struct buf small;
	buf_init(&small, 4);
	errno = 0;
	assert_int_equal(fs_join("/dir", "name", &small), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(small.len, 0);
	buf_free(&small);
	buf_free(&b);
}

/* fsync then close; the fd is closed on every path, and the first
 * failure's errno is the one reported. */
static void test_fsync_close(void **state)
{
	struct tmp *t = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/f", t->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_all(fd, "abc", 3), 0);
	assert_int_equal(fs_fsync_close(fd, 0), 0);
	assert_int_equal(fcntl(fd, F_GETFD), -1);

	/* the caller's failure: no fsync, its errno kept, fd closed */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	errno = ENOSPC;
	assert_int_equal(fs_fsync_close(fd, -1), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(fcntl(fd, F_GETFD), -1);

	/* fsync fails (a pipe cannot be synced): still closed */
	int p[2];
	assert_int_equal(pipe(p), 0);
	errno = 0;
	assert_int_equal(fs_fsync_close(p[1], 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fcntl(p[1], F_GETFD), -1);
	close(p[0]);

	errno = 0;
	assert_int_equal(fs_fsync_close(-1, 0), -1);
	assert_int_equal(errno, EBADF);
}

/* 256 draws are distinct and every bit takes both values. */
static void test_random64(void **state)
{
	(void)state;
	uint64_t v[256], ones = 0, zeros = 0;
	for (size_t i = 0; i < 256; i++) {
		v[i] = fs_random64();
		ones |= v[i];
		zeros |= ~v[i];
		for (size_t j = 0; j < i; j++)
			assert_true(v[i] != v[j]);
	}
	assert_true(ones == UINT64_MAX && zeros == UINT64_MAX);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_write_atomic_creates_and_replaces),
		T(test_write_atomic_empty_file),
		T(test_write_atomic_failures_leave_nothing),
		T(test_mkdirs_nested_existing_and_slashes),
		T(test_mkdirs_failures),
		T(test_mkdirs_relative),
		T(test_read_file_limits),
		T(test_read_file_errors),
		T(test_fsync_dir_and_parent),
		T(test_write_all_pipe),
		T(test_join),
		T(test_random64),
		T(test_fsync_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
