/* Unit tests for src/store/maildir.c: creating Maildirs, user paths,
 * delivery by link and by copy, unique names, and failures that must leave
 * nothing behind. With POSTHORN_MAILDIR_BENCH=N in the environment it
 * instead delivers N 4 KB messages and prints messages/s (a measurement,
 * not a test). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/lib/fs.h"
#include "../../src/store/maildir.h"
#include "../../src/store/spool.h"

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static char *make_temp_dir(const char *base, const char *tag)
{
	char *dir = malloc(4096);
	snprintf(dir, 4096, "%s/%s.XXXXXX", base, tag);
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

static const char *tmp_base(void)
{
	const char *base = getenv("TMPDIR");
	return base && *base ? base : "/tmp";
}

static int setup_dir(void **state)
{
	*state = make_temp_dir(tmp_base(), "test-maildir");
	return *state ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char *dir = *state;
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return 0;
}

/* dir/a/b... joined into b (reset first); returns the C string. */
static const char *path_of(struct buf *b, const char *dir, const char *rest)
{
	buf_reset(b);
	buf_printf(b, "%s/%s", dir, rest);
	return buf_cstr(b);
}

/* Number of entries in dir other than . and ..; the first one's name goes
 * to first (when given). -1 when dir cannot be opened. */
static int count_entries(const char *dir, struct buf *first)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n++ == 0 && first) {
			buf_reset(first);
			buf_puts(first, e->d_name);
		}
	}
	closedir(d);
	return n;
}

static void assert_is_dir(const char *path, mode_t mode)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
}

static struct spool *finished_spool(const char *dir, const char *id,
                                    const char *text, size_t len)
{
	struct spool *sp = spool_open(dir, id, NULL);
	assert_non_null(sp);
	assert_int_equal(spool_write(sp, text, len), 0);
	assert_int_equal(spool_finish(sp), 0);
	return sp;
}

static void test_create_makes_tree(void **state)
{
	const char *dir = *state;
	struct buf p = BUF_INIT, q = BUF_INIT;
	const char *md = path_of(&p, dir, "data/mail/bob");
	assert_int_equal(maildir_create(md), 0);
	assert_is_dir(path_of(&q, dir, "data"), 0700);
	assert_is_dir(path_of(&q, dir, "data/mail"), 0700);
	assert_is_dir(md, 0700);
	assert_is_dir(path_of(&q, dir, "data/mail/bob/tmp"), 0700);
	assert_is_dir(path_of(&q, dir, "data/mail/bob/new"), 0700);
	assert_is_dir(path_of(&q, dir, "data/mail/bob/cur"), 0700);
	/* Again: nothing to do, still fine. */
	assert_int_equal(maildir_create(md), 0);
	/* A trailing slash is the same directory. */
	assert_int_equal(maildir_create(path_of(&p, dir, "data/mail/bob/")), 0);
	buf_free(&p);
	buf_free(&q);
}

static void test_create_errors(void **state)
{
	const char *dir = *state;
	struct buf p = BUF_INIT, q = BUF_INIT;
	const char *file = path_of(&p, dir, "plain");
	assert_int_equal(fs_write_atomic(file, "x", 1, 0600), 0);
	assert_int_equal(maildir_create(file), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(maildir_create(path_of(&q, dir, "plain/below")), -1);
	assert_int_equal(errno, ENOTDIR);

	/* A Maildir whose new/ is a file is broken, not repairable. */
	const char *md = path_of(&p, dir, "broken");
	assert_int_equal(mkdir(md, 0700), 0);
	assert_int_equal(fs_write_atomic(path_of(&q, dir, "broken/new"), "x", 1,
	                                 0600), 0);
	assert_int_equal(maildir_create(md), -1);
	assert_int_equal(errno, ENOTDIR);

	assert_int_equal(maildir_create(""), -1);
	assert_int_equal(maildir_create(NULL), -1);
	buf_free(&p);
	buf_free(&q);
}

static void test_user_path(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	assert_int_equal(maildir_user_path("/srv/data", "bob", &out), 0);
	assert_string_equal(buf_cstr(&out), "/srv/data/mail/bob");
	buf_reset(&out);
	buf_puts(&out, "keep:");
	assert_int_equal(maildir_user_path("/srv/data/", "a.b_c-9", &out), 0);
	assert_string_equal(buf_cstr(&out), "keep:/srv/data/mail/a.b_c-9");

	char long_name[66];
	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	const char *bad[] = {"", ".", "..", "../root", "a/b", ".hidden", "-x",
	                     "Bob", "a b", "a\n", "a:b", "\xc3\xa9", long_name};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		buf_reset(&out);
		buf_puts(&out, "keep");
		errno = 0;
		assert_int_equal(maildir_user_path("/srv/data", bad[i], &out), -1);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(buf_cstr(&out), "keep");
	}
	assert_int_equal(maildir_user_path("/srv/data", NULL, &out), -1);
	assert_int_equal(maildir_user_path(NULL, "bob", &out), -1);
	assert_string_equal(buf_cstr(&out), "keep");
	long_name[64] = '\0';
	buf_reset(&out);
	assert_int_equal(maildir_user_path("/d", long_name, &out), 0);
	buf_free(&out);
}

/* "SECONDS.R<16 hex>.HOST,S=SIZE,W=VSIZE": checks every part. */
static void assert_name_format(const char *name, const char *host,
                               size_t size, unsigned long long vsize)
{
	char *end;
	time_t now = time(NULL);
	long long secs = strtoll(name, &end, 10);
	assert_true(end > name);
	assert_true(secs > now - 60 && secs <= now);
	assert_memory_equal(end, ".R", 2);
	end += 2;
	for (int i = 0; i < 16; i++)
		assert_non_null(strchr("0123456789abcdef", end[i]));
	assert_int_equal(end[16], '.');
	char tail[512];
	snprintf(tail, sizeof tail, "%s,S=%zu,W=%llu", host, size, vsize);
	assert_string_equal(end + 17, tail);
}

static void test_deliver_links_into_fresh_maildir(void **state)
{
	const char *dir = *state;
	const char text[] = "From: a@b\r\nSubject: hi\r\n\r\nhello\r\n";
	struct spool *sp = finished_spool(dir, "m1", text, sizeof text - 1);
	struct buf md = BUF_INIT, name = BUF_INIT, err = BUF_INIT, p = BUF_INIT,
	           got = BUF_INIT, entry = BUF_INIT;
	path_of(&md, dir, "mail/alice");
	buf_puts(&name, "prefix:");
	assert_int_equal(spool_crlf_size(sp), sizeof text - 1);
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), spool_size(sp),
	                                 spool_crlf_size(sp), "mx.example.org",
	                                 &name, &err), 0);
	assert_int_equal(err.len, 0);
	assert_memory_equal(name.data, "prefix:", 7);
	const char *base = buf_cstr(&name) + 7;
	assert_name_format(base, "mx.example.org", sizeof text - 1,
	                   sizeof text - 1);

	assert_int_equal(count_entries(path_of(&p, md.data, "new"), &entry), 1);
	assert_string_equal(buf_cstr(&entry), base);
	assert_int_equal(count_entries(path_of(&p, md.data, "tmp"), NULL), 0);
	assert_int_equal(count_entries(path_of(&p, md.data, "cur"), NULL), 0);

	buf_reset(&p);
	buf_printf(&p, "%s/new/%s", md.data, base);
	assert_int_equal(fs_read_file(buf_cstr(&p), 1 << 20, &got), 0);
	assert_int_equal(got.len, sizeof text - 1);
	assert_memory_equal(got.data, text, got.len);
	struct stat a, b;
	assert_int_equal(stat(p.data, &a), 0);
	assert_int_equal(stat(spool_path(sp), &b), 0);
	assert_int_equal(a.st_ino, b.st_ino); /* a link, not a copy */

	/* The spool file may go; the delivered message stays. */
	spool_discard(&sp);
	buf_reset(&got);
	assert_int_equal(fs_read_file(p.data, 1 << 20, &got), 0);
	assert_int_equal(got.len, sizeof text - 1);
	buf_free(&md); buf_free(&name); buf_free(&err); buf_free(&p);
	buf_free(&got); buf_free(&entry);
}

static void test_deliver_many_gets_distinct_names(void **state)
{
	const char *dir = *state;
	struct spool *sp = finished_spool(dir, "m", "x\r\n", 3);
	struct buf md = BUF_INIT, name = BUF_INIT, first = BUF_INIT, p = BUF_INIT;
	path_of(&md, dir, "mail/bob");
	assert_int_equal(maildir_create(md.data), 0);
	for (int i = 0; i < 50; i++) {
		buf_reset(&name);
		assert_int_equal(maildir_deliver(md.data, spool_path(sp), 3, 3,
		                                 "h", &name, NULL), 0);
		if (i == 0)
			buf_puts(&first, buf_cstr(&name));
		else
			assert_string_not_equal(buf_cstr(&name), buf_cstr(&first));
	}
	assert_int_equal(count_entries(path_of(&p, md.data, "new"), NULL), 50);
	assert_int_equal(count_entries(path_of(&p, md.data, "tmp"), NULL), 0);
	spool_discard(&sp);
	buf_free(&md); buf_free(&name); buf_free(&first); buf_free(&p);
}

static void test_host_is_sanitised(void **state)
{
	const char *dir = *state;
	struct spool *sp = finished_spool(dir, "h", "", 0);
	struct buf md = BUF_INIT, name = BUF_INIT;
	path_of(&md, dir, "mail/h");
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 0, 0,
	                                 "a/b:c,d\\e f\x01\xc3", &name, NULL), 0);
	assert_name_format(buf_cstr(&name),
	                   "a\\057b\\072c\\054d\\134e\\040f\\001\\303", 0, 0);

	/* A host name too long for NAME_MAX is cut, never split in an escape. */
	char long_host[301];
	memset(long_host, 'h', 300);
	long_host[300] = '\0';
	long_host[126] = '/';
	buf_reset(&name);
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 0, 0,
	                                 long_host, &name, NULL), 0);
	char want[129];
	memset(want, 'h', 126);
	want[126] = '\0'; /* "\057" would pass 128 bytes */
	assert_name_format(buf_cstr(&name), want, 0, 0);

	/* No hostname: this machine's name, never an empty host part. */
	buf_reset(&name);
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 0, 0, NULL,
	                                 &name, NULL), 0);
	const char *host = strchr(strchr(buf_cstr(&name), '.') + 1, '.') + 1;
	assert_true(host[0] != ',');
	assert_null(strchr(host, '/'));
	spool_discard(&sp);
	buf_free(&md); buf_free(&name);
}

/* The host part alone: escapes, the cut at 128 bytes, appending after what
 * out holds, and this machine's name for NULL or "". */
static void test_host_part(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	assert_int_equal(buf_puts(&out, "x."), 0);
	assert_int_equal(maildir_host_part(&out, "mx1.example"), 0);
	assert_string_equal(buf_cstr(&out), "x.mx1.example");
	buf_reset(&out);
	assert_int_equal(maildir_host_part(&out, "a/b:c,d\\e f\x7f"), 0);
	assert_string_equal(buf_cstr(&out), "a\\057b\\072c\\054d\\134e\\040f\\177");

	char long_host[301];
	memset(long_host, ':', 300);
	long_host[300] = '\0';
	buf_reset(&out);
	assert_int_equal(maildir_host_part(&out, long_host), 0);
	assert_int_equal(out.len, 128); /* 32 whole escapes, none split */

	for (int i = 0; i < 2; i++) {
		buf_reset(&out);
		assert_int_equal(maildir_host_part(&out, i ? "" : NULL), 0);
		assert_true(out.len > 0 && out.len <= 128);
		assert_null(strpbrk(buf_cstr(&out), "/:,"));
	}
	buf_free(&out);
}

/* A rename never replaces: EEXIST leaves both files as they were. */
static void test_rename_noreplace(void **state)
{
	const char *dir = *state;
	struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT, data = BUF_INIT;
	path_of(&a, dir, "a");
	path_of(&b, dir, "b");
	path_of(&c, dir, "c");
	assert_int_equal(fs_write_atomic(a.data, "A", 1, 0600), 0);
	assert_int_equal(fs_write_atomic(b.data, "B", 1, 0600), 0);

	errno = 0;
	assert_int_equal(maildir_rename_noreplace(a.data, b.data), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(fs_read_file(a.data, 16, &data), 0);
	assert_int_equal(fs_read_file(b.data, 16, &data), 0);
	assert_memory_equal(data.data, "AB", 2);

	assert_int_equal(maildir_rename_noreplace(a.data, c.data), 0);
	assert_int_equal(access(a.data, F_OK), -1);
	buf_reset(&data);
	assert_int_equal(fs_read_file(c.data, 16, &data), 0);
	assert_memory_equal(data.data, "A", 1);

	errno = 0;
	assert_int_equal(maildir_rename_noreplace(a.data, b.data), -1);
	assert_int_equal(errno, ENOENT);
	buf_free(&a); buf_free(&b); buf_free(&c); buf_free(&data);
}

/* The base name and its ",S=" / ",W=" fields, and every way a field can be
 * missing or malformed. */
static void test_name_fields(void **state)
{
	(void)state;
	const char *name = "1700000000.R0123.host,S=1234,W=1260:2,RS";
	size_t len = maildir_base_len(name);
	assert_int_equal(len, strlen("1700000000.R0123.host,S=1234,W=1260"));
	assert_int_equal(maildir_base_len("no-info"), 7);
	assert_int_equal(maildir_base_len(":2,S"), 0);

	unsigned long long v = 99;
	assert_int_equal(maildir_name_field(name, len, 'S', &v), 1);
	assert_int_equal(v, 1234);
	assert_int_equal(maildir_name_field(name, len, 'W', &v), 1);
	assert_int_equal(v, 1260);
	assert_int_equal(maildir_name_field(name, len, 'X', &v), 0);
	/* only the first len bytes count: W= is cut off */
	assert_int_equal(maildir_name_field(name, len - 10, 'W', &v), 0);
	assert_int_equal(v, 1260);

	static const char *const bad[] = {
		"1.R1.host",               /* none */
		"1.R1.host,S=",            /* no digits */
		"1.R1.host,S=12x",         /* junk after the digits */
		"1.R1.host,S=-1",          /* sign */
		"1.R1.hostS=12",           /* no comma before it */
		"1.R1.host,S=18446744073709551616", /* 2^64 does not fit */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		v = 7;
		assert_int_equal(maildir_name_field(bad[i], strlen(bad[i]), 'S',
		                                    &v), 0);
		assert_int_equal(v, 7);
	}
	const char *max = "1.R1.host,S=18446744073709551615,W=1";
	assert_int_equal(maildir_name_field(max, strlen(max), 'S', &v), 1);
	assert_true(v == 18446744073709551615ULL);
	/* a malformed first field does not hide a good later one */
	const char *two = "1.R1.h,S=x,S=5";
	assert_int_equal(maildir_name_field(two, strlen(two), 'S', &v), 1);
	assert_int_equal(v, 5);
}

/* A Maildir with tmp/ but without new/ (half created by someone else) is
 * completed on the way. */
static void test_deliver_completes_half_made_maildir(void **state)
{
	const char *dir = *state;
	struct spool *sp = finished_spool(dir, "half", "abc", 3);
	struct buf md = BUF_INIT, p = BUF_INIT;
	path_of(&md, dir, "half");
	assert_int_equal(mkdir(md.data, 0700), 0);
	assert_int_equal(mkdir(path_of(&p, md.data, "tmp"), 0700), 0);
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 3, 5, "h",
	                                 NULL, NULL), 0);
	assert_int_equal(count_entries(path_of(&p, md.data, "new"), NULL), 1);
	assert_int_equal(count_entries(path_of(&p, md.data, "tmp"), NULL), 0);
	assert_is_dir(path_of(&p, md.data, "cur"), 0700);
	spool_discard(&sp);
	buf_free(&md); buf_free(&p);
}

static void test_deliver_errors_leave_nothing(void **state)
{
	const char *dir = *state;
	struct spool *sp = finished_spool(dir, "e", "12345", 5);
	struct buf md = BUF_INIT, err = BUF_INIT, p = BUF_INIT, name = BUF_INIT;

	/* The Maildir path is a regular file. */
	path_of(&md, dir, "notadir");
	assert_int_equal(fs_write_atomic(md.data, "x", 1, 0600), 0);
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 5, 7, "h",
	                                 &name, &err), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(buf_cstr(&err), "notadir"));
	assert_int_equal(name.len, 0);

	/* S= must be the true size. */
	path_of(&md, dir, "good");
	buf_reset(&err);
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 4, 7, "h",
	                                 NULL, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "expected 4"));
	assert_int_equal(count_entries(path_of(&p, md.data, "new"), NULL), -1);

	/* The spool file is gone. */
	buf_reset(&err);
	assert_int_equal(maildir_deliver(md.data, path_of(&p, dir, "nope"), 5,
	                                 7, "h", NULL, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(err.len > 0);

	/* A directory is not a message. */
	assert_int_equal(maildir_deliver(md.data, dir, 5, 7, "h", NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);

	/* new/ is a file: the link into tmp/ is undone. */
	assert_int_equal(maildir_create(md.data), 0);
	assert_int_equal(rmdir(path_of(&p, md.data, "new")), 0);
	assert_int_equal(fs_write_atomic(p.data, "x", 1, 0600), 0);
	buf_reset(&err);
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 5, 7, "h",
	                                 NULL, &err), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(count_entries(path_of(&p, md.data, "tmp"), NULL), 0);

	assert_int_equal(maildir_deliver(NULL, spool_path(sp), 5, 7, "h", NULL,
	                                 NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(maildir_deliver("", spool_path(sp), 5, 7, "h", NULL,
	                                 NULL), -1);
	assert_int_equal(maildir_deliver(md.data, NULL, 5, 7, "h", NULL, NULL),
	                 -1);
	spool_discard(&sp);
	buf_free(&md); buf_free(&err); buf_free(&p); buf_free(&name);
}

/* W= is the RFC 1939 size, counted by the spool as the message streams in
 * (pieces split between CR and LF on purpose): bare LFs become CRLF and an
 * open last line gets one. */
static void test_deliver_records_crlf_size(void **state)
{
	const char *dir = *state;
	struct spool *sp = spool_open(dir, "lf", NULL);
	assert_non_null(sp);
	const char *pieces[] = {"a\nb\r", "\n\nla", "st"};
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(spool_write(sp, pieces[i], strlen(pieces[i])), 0);
	assert_int_equal(spool_finish(sp), 0);
	/* "a\r\n" "b\r\n" "\r\n" "last\r\n" */
	assert_int_equal(spool_size(sp), 10);
	assert_int_equal(spool_crlf_size(sp), 14);
	assert_int_equal(spool_crlf_size(sp), 14); /* asking twice is fine */
	struct buf md = BUF_INIT, name = BUF_INIT, err = BUF_INIT;
	path_of(&md, dir, "mail/lf");
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 10,
	                                 spool_crlf_size(sp), "h", &name, &err),
	                 0);
	assert_name_format(buf_cstr(&name), "h", 10, 14);
	assert_non_null(strstr(name.data, ",S=10,W=14"));

	/* No CRLF conversion shrinks a message: W= below S= is a bug. */
	buf_reset(&name);
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), 10, 9, "h",
	                                 &name, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(name.len, 0);
	assert_non_null(strstr(buf_cstr(&err), "less than"));
	assert_int_equal(spool_crlf_size(NULL), 0);
	spool_discard(&sp);
	buf_free(&md); buf_free(&name); buf_free(&err);
}

/* Spool on another file system: link(2) fails with EXDEV and the message
 * is copied into tmp/ instead. */
static void test_deliver_copies_across_file_systems(void **state)
{
	const char *dir = *state;
	struct stat here, shm;
	if (stat(dir, &here) < 0 || stat("/dev/shm", &shm) < 0 ||
	    here.st_dev == shm.st_dev || access("/dev/shm", W_OK) < 0) {
		print_message("skipped: /dev/shm is missing or on the same file "
		              "system as %s, so no EXDEV can be provoked\n", dir);
		skip();
	}
	char *shmdir = make_temp_dir("/dev/shm", "test-maildir");
	assert_non_null(shmdir);
	size_t len = 200000; /* several copy chunks */
	char *text = malloc(len);
	for (size_t i = 0; i < len; i++)
		text[i] = (char)(i % 251);
	struct spool *sp = finished_spool(shmdir, "far", text, len);
	struct buf md = BUF_INIT, name = BUF_INIT, p = BUF_INIT, got = BUF_INIT;
	path_of(&md, dir, "mail/carol");
	assert_int_equal(maildir_deliver(md.data, spool_path(sp), len,
	                                 spool_crlf_size(sp), "h", &name, NULL),
	                 0);
	/* Bytes i % 251: every 10 is a bare LF (one more octet each), no 13
	 * is followed by 10, and the last line is open (a CRLF added). */
	unsigned long long vsize = len + 2;
	for (size_t i = 0; i < len; i++)
		vsize += text[i] == '\n';
	assert_name_format(buf_cstr(&name), "h", len, vsize);
	buf_reset(&p);
	buf_printf(&p, "%s/new/%s", md.data, name.data);
	assert_int_equal(fs_read_file(buf_cstr(&p), 1 << 20, &got), 0);
	assert_int_equal(got.len, len);
	assert_memory_equal(got.data, text, len);
	struct stat st;
	assert_int_equal(stat(p.data, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(path_of(&p, md.data, "tmp"), NULL), 0);
	spool_discard(&sp);
	nftw(shmdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(shmdir);
	free(text);
	buf_free(&md); buf_free(&name); buf_free(&p); buf_free(&got);
}

/* Delivers n 4 KB messages (each spooled, fsync'd, delivered with its
 * fsyncs and discarded, as smtpd does) and prints the rate. */
static int bench(int n)
{
	char *dir = make_temp_dir(tmp_base(), "bench-maildir");
	if (!dir)
		return 1;
	char text[4096];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (i % 78 == 77) ? '\n' : (char)('a' + i % 26);
	struct buf md = BUF_INIT, err = BUF_INIT, id = BUF_INIT;
	path_of(&md, dir, "mail/bench");
	struct timespec t0, t1, t2;
	double deliver = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		buf_reset(&id);
		buf_printf(&id, "b%d", i);
		struct spool *sp = spool_open(dir, buf_cstr(&id), &err);
		if (!sp || spool_write(sp, text, sizeof text) < 0 ||
		    spool_finish(sp) < 0) {
			fprintf(stderr, "spool: %s\n", buf_cstr(&err));
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (maildir_deliver(md.data, spool_path(sp), sizeof text,
		                    spool_crlf_size(sp), "bench", NULL, &err) < 0) {
			fprintf(stderr, "%s\n", buf_cstr(&err));
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t2);
		deliver += (t2.tv_sec - t1.tv_sec) + (t2.tv_nsec - t1.tv_nsec) / 1e9;
		spool_discard(&sp);
	}
	double total = (t2.tv_sec - t0.tv_sec) + (t2.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%d messages of 4 KB in %s: %.0f msg/s spool+deliver "
	       "(%.0f msg/s maildir_deliver alone)\n", n, dir, n / total,
	       n / deliver);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	buf_free(&md); buf_free(&err); buf_free(&id);
	return 0;
}

int main(void)
{
	const char *n = getenv("POSTHORN_MAILDIR_BENCH");
	if (n && atoi(n) > 0)
		return bench(atoi(n));
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
		T(test_create_makes_tree),
		T(test_create_errors),
		T(test_user_path),
		T(test_deliver_links_into_fresh_maildir),
		T(test_deliver_many_gets_distinct_names),
		T(test_host_is_sanitised),
		T(test_host_part),
		T(test_rename_noreplace),
		T(test_name_fields),
		T(test_deliver_completes_half_made_maildir),
		T(test_deliver_errors_leave_nothing),
		T(test_deliver_records_crlf_size),
		T(test_deliver_copies_across_file_systems),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
