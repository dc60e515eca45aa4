/* Unit tests for src/store/spool.c: creating, buffered writing, fsync,
 * discarding, safe ids, errno on write errors, and spool_link's link and
 * copy paths. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/lib/fs.h"
#include "../../src/store/spool.h"
#include "testlib.h"

/* The whole file at path, NUL-terminated, in b (freed by the caller). */
static void read_all(const char *path, struct buf *b)
{
	buf_reset(b);
	assert_int_equal(fs_read_file(path, 64 << 20, b), 0);
	assert_non_null(buf_cstr(b));
}

static void test_write_finish_content_and_modes(void **state)
{
	const char *dir = *state;
	struct buf err = BUF_INIT, got = BUF_INIT, path = BUF_INIT;
	struct spool *sp = spool_open(dir, "msg-1", &err);
	assert_non_null(sp);
	assert_int_equal(err.len, 0);
	buf_printf(&path, "%s/spool/msg-1", dir);
	assert_string_equal(spool_path(sp), buf_cstr(&path));
	assert_int_equal(spool_write(sp, "Subject: x\r\n", 12), 0);
	assert_int_equal(spool_write(sp, "", 0), 0);
	assert_int_equal(spool_write(sp, "\r\nbody\r\n", 8), 0);
	assert_int_equal(spool_size(sp), 20);
	assert_int_equal(spool_finish(sp), 0);
	assert_int_equal(spool_finish(sp), 0); /* idempotent */
	read_all(spool_path(sp), &got);
	assert_string_equal(got.data, "Subject: x\r\n\r\nbody\r\n");

	struct stat st;
	assert_int_equal(stat(spool_path(sp), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	buf_reset(&path);
	buf_printf(&path, "%s/spool", dir);
	assert_int_equal(stat(buf_cstr(&path), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* Finished means finished: later writes are a caller bug. */
	assert_int_equal(spool_write(sp, "x", 1), -1);
	assert_int_equal(errno, EINVAL);
	buf_reset(&path);
	buf_puts(&path, spool_path(sp));
	spool_discard(&sp);
	assert_null(sp);
	assert_int_equal(access(buf_cstr(&path), F_OK), -1);
	assert_int_equal(errno, ENOENT);
	spool_discard(&sp); /* NULL is fine */
	spool_discard(NULL);
	buf_free(&err);
	buf_free(&got);
	buf_free(&path);
}

/* Byte-at-a-time writes, writes larger than the buffer and writes that
 * straddle it must all land in order. */
static void test_mixed_write_sizes(void **state)
{
	const char *dir = *state;
	size_t total = 300000;
	char *data = malloc(total);
	for (size_t i = 0; i < total; i++)
		data[i] = (char)('a' + (i * 7) % 26);
	struct spool *sp = spool_open(dir, "mixed", NULL);
	assert_non_null(sp);
	size_t pos = 0;
	for (; pos < 70000; pos++)
		assert_int_equal(spool_write(sp, data + pos, 1), 0);
	assert_int_equal(spool_write(sp, data + pos, 100000), 0);
	pos += 100000;
	assert_int_equal(spool_write(sp, data + pos, 65535), 0);
	pos += 65535;
	assert_int_equal(spool_write(sp, data + pos, total - pos), 0);
	assert_int_equal(spool_size(sp), total);
	assert_int_equal(spool_finish(sp), 0);
	struct buf got = BUF_INIT;
	read_all(spool_path(sp), &got);
	assert_int_equal(got.len, total);
	assert_memory_equal(got.data, data, total);
	spool_discard(&sp);
	buf_free(&got);
	free(data);
}

static void test_unsafe_ids_refused(void **state)
{
	const char *dir = *state;
	char long_id[130];
	memset(long_id, 'a', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = '\0';
	const char *bad[] = {"", ".", "..", "../x", "a/b", "-x", ".hidden",
	                     "a b", "a\n", "a:b", "\xc3\xa9", long_id};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct buf err = BUF_INIT;
		assert_false(spool_id_valid(bad[i]));
		errno = 0;
		assert_null(spool_open(dir, bad[i], &err));
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(buf_cstr(&err), "unsafe id"));
		buf_free(&err);
	}
	assert_false(spool_id_valid(NULL));
	assert_null(spool_open(dir, NULL, NULL));
	long_id[128] = '\0';
	assert_true(spool_id_valid(long_id));
	assert_true(spool_id_valid("A-b_c.9"));
	assert_true(spool_id_valid("x"));
}

static void test_open_errors(void **state)
{
	const char *dir = *state;
	struct buf err = BUF_INIT, p = BUF_INIT;

	struct spool *sp = spool_open(dir, "twice", NULL);
	assert_non_null(sp);
	assert_null(spool_open(dir, "twice", &err));
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(buf_cstr(&err), "twice"));
	spool_discard(&sp);

	/* A missing data directory is a configuration error, not something
	 * to create behind the administrator's back. */
	buf_printf(&p, "%s/nonexistent", dir);
	buf_reset(&err);
	assert_null(spool_open(buf_cstr(&p), "x", &err));
	assert_int_equal(errno, ENOENT);
	assert_true(err.len > 0);

	/* DATA_DIR/spool is a regular file. */
	buf_reset(&p);
	buf_printf(&p, "%s/filedata", dir);
	assert_int_equal(mkdir(buf_cstr(&p), 0700), 0);
	buf_puts(&p, "/spool");
	assert_int_equal(fs_write_atomic(buf_cstr(&p), "x", 1, 0600), 0);
	buf_truncate(&p, p.len - 6);
	buf_reset(&err);
	assert_null(spool_open(buf_cstr(&p), "x", &err));
	assert_int_equal(errno, ENOTDIR);

	assert_null(spool_open(NULL, "x", &err));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(spool_write(NULL, "x", 1), -1);
	assert_int_equal(spool_finish(NULL), -1);
	assert_int_equal(spool_size(NULL), 0);
	assert_null(spool_path(NULL));
	buf_free(&err);
	buf_free(&p);
}

/* A file-size limit makes write(2) fail with EFBIG the way a full disk
 * fails with ENOSPC: the errno must reach the caller, on that write and on
 * every later call. */
static void test_write_error_keeps_errno(void **state)
{
	const char *dir = *state;
	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	struct spool *sp = spool_open(dir, "toolarge", NULL);
	assert_non_null(sp);

	lim = old;
	lim.rlim_cur = 100000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	char *chunk = calloc(1, 40000);
	int r = 0;
	for (int i = 0; i < 10 && r == 0; i++)
		r = spool_write(sp, chunk, 40000);
	int e = errno;
	int finish = spool_finish(sp);
	int finish_errno = errno;
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(r, -1);
	assert_int_equal(e, EFBIG);
	assert_int_equal(spool_write(sp, "x", 1), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(finish, -1);
	assert_int_equal(finish_errno, EFBIG);
	spool_discard(&sp);
	free(chunk);
}

static struct spool *finished_spool(const char *dir, const char *id,
                                    const char *text)
{
	struct spool *sp = spool_open(dir, id, NULL);
	assert_non_null(sp);
	assert_int_equal(spool_write(sp, text, strlen(text)), 0);
	assert_int_equal(spool_finish(sp), 0);
	return sp;
}

static void test_link_same_file_system(void **state)
{
	const char *dir = *state;
	struct spool *sp = finished_spool(dir, "linkme", "hello\n");
	struct buf dst = BUF_INIT, got = BUF_INIT;
	buf_printf(&dst, "%s/linked", dir);
	assert_int_equal(spool_link(spool_path(sp), buf_cstr(&dst)), 0);
	struct stat a, b;
	assert_int_equal(stat(spool_path(sp), &a), 0);
	assert_int_equal(stat(dst.data, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(b.st_nlink, 2);

	/* Never replaces an existing file. */
	assert_int_equal(spool_link(spool_path(sp), dst.data), -1);
	assert_int_equal(errno, EEXIST);
	spool_discard(&sp);
	read_all(dst.data, &got);
	assert_string_equal(got.data, "hello\n");

	buf_reset(&dst);
	buf_printf(&dst, "%s/other", dir);
	assert_int_equal(spool_link("/nonexistent/src", buf_cstr(&dst)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(spool_link(NULL, dst.data), -1);
	assert_int_equal(errno, EINVAL);
	buf_free(&dst);
	buf_free(&got);
}

/* Across file systems link(2) says EXDEV and spool_link copies. */
static void test_link_falls_back_to_copy(void **state)
{
	const char *dir = *state;
	struct stat here, shm;
	if (stat(dir, &here) < 0 || stat("/dev/shm", &shm) < 0 ||
	    here.st_dev == shm.st_dev || access("/dev/shm", W_OK) < 0) {
		print_message("skipped: /dev/shm is missing or on the same file "
		              "system as %s, so no EXDEV can be provoked\n", dir);
		skip();
	}
	char shmdir[] = "/dev/shm/test-spool.XXXXXX";
	assert_non_null(mkdtemp(shmdir));
	struct spool *sp = finished_spool(shmdir, "cross", "copied\r\n");
	struct buf dst = BUF_INIT, got = BUF_INIT;
	buf_printf(&dst, "%s/copy", dir);
	assert_int_equal(spool_link(spool_path(sp), buf_cstr(&dst)), 0);
	struct stat st;
	assert_int_equal(stat(dst.data, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_mode & 07777, 0600);
	read_all(dst.data, &got);
	assert_string_equal(got.data, "copied\r\n");
	assert_int_equal(spool_link(spool_path(sp), dst.data), -1);
	assert_int_equal(errno, EEXIST);
	read_all(dst.data, &got);
	assert_string_equal(got.data, "copied\r\n");
	spool_discard(&sp);
	testlib_rmtree(shmdir);
	buf_free(&dst);
	buf_free(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) \
	cmocka_unit_test_setup_teardown(f, testlib_dir_setup, testlib_dir_teardown)
		T(test_write_finish_content_and_modes),
		T(test_mixed_write_sizes),
		T(test_unsafe_ids_refused),
		T(test_open_errors),
		T(test_write_error_keeps_errno),
		T(test_link_same_file_system),
		T(test_link_falls_back_to_copy),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
