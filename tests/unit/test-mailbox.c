/* Unit tests for src/store/mailbox.c: the POP3 snapshot of a Maildir
 * (order, sizes, uids), the session lock, following files other readers
 * rename, and UPDATE (delete, mark seen) including its failures. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/lib/fs.h"
#include "../../src/store/mailbox.h"
#include "../../src/store/maildir.h"
#include "../../src/store/spool.h"

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* The state of every test: a temporary directory and the Maildir path
 * DIR/mail inside it (not created: tests that fill it first create it). */
struct fixture {
	char *dir;
	struct buf md;
};

static int setup_dir(void **state)
{
	const char *base = getenv("TMPDIR");
	struct fixture *f = calloc(1, sizeof *f);
	f->dir = malloc(4096);
	snprintf(f->dir, 4096, "%s/test-mailbox.XXXXXX",
	         base && *base ? base : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f->dir);
		free(f);
		return -1;
	}
	buf_printf(&f->md, "%s/mail", f->dir);
	buf_cstr(&f->md);
	*state = f;
	return 0;
}

static int teardown_dir(void **state)
{
	struct fixture *f = *state;
	/* Undo chmods a test may have left so nftw can remove everything. */
	struct buf p = BUF_INIT;
	buf_printf(&p, "chmod -R u+rwx '%s' 2>/dev/null", f->dir);
	if (system(buf_cstr(&p)) != 0) {
		/* nothing to undo */
	}
	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	buf_free(&p);
	buf_free(&f->md);
	free(f->dir);
	free(f);
	return 0;
}

/* A fresh Maildir at f->md; its path. */
static const char *make_md(struct fixture *f)
{
	assert_int_equal(maildir_create(f->md.data), 0);
	return f->md.data;
}

/* md/rel into b (reset first); the C string. */
static const char *path_of(struct buf *b, const char *md, const char *rel)
{
	buf_reset(b);
	buf_printf(b, "%s/%s", md, rel);
	return buf_cstr(b);
}

/* Writes md/rel with len bytes of text; mtime >= 0 sets its mtime. */
static void put_file(const char *md, const char *rel, const char *text,
                     size_t len, long long mtime)
{
	struct buf p = BUF_INIT;
	int fd = open(path_of(&p, md, rel),
	              O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_all(fd, text, len), 0);
	assert_int_equal(close(fd), 0);
	if (mtime >= 0) {
		struct timespec ts[2] = {{(time_t)mtime, 0}, {(time_t)mtime, 0}};
		assert_int_equal(utimensat(AT_FDCWD, p.data, ts, 0), 0);
	}
	buf_free(&p);
}

/* For string literals only: their length is known. */
#define PUT(md, rel, text) put_file(md, rel, text, sizeof text - 1, -1)

static void move_file(const char *md, const char *from, const char *to)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	assert_int_equal(rename(path_of(&a, md, from), path_of(&b, md, to)), 0);
	buf_free(&a);
	buf_free(&b);
}

static void remove_file(const char *md, const char *rel)
{
	struct buf p = BUF_INIT;
	assert_int_equal(unlink(path_of(&p, md, rel)), 0);
	buf_free(&p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in md/sub, sorted and joined by single spaces, into out. */
static const char *list_names(const char *md, const char *sub,
                              struct buf *out)
{
	struct buf p = BUF_INIT;
	DIR *d = opendir(path_of(&p, md, sub));
	assert_non_null(d);
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			assert_true(n < 256);
			names[n++] = strdup(e->d_name);
		}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		buf_printf(out, "%s%s", i ? " " : "", names[i]);
		free(names[i]);
	}
	buf_free(&p);
	return buf_cstr(out);
}

static struct mailbox *open_ok(const char *md)
{
	struct mailbox *mb = NULL;
	struct buf err = BUF_INIT;
	enum mailbox_open_result r = mailbox_open(md, &mb, &err);
	if (r != MAILBOX_OK)
		print_error("mailbox_open: %d %s\n", r, buf_cstr(&err));
	assert_int_equal(r, MAILBOX_OK);
	assert_non_null(mb);
	assert_int_equal(err.len, 0);
	buf_free(&err);
	return mb;
}

/* Everything left to read on fd (which is closed) into out. */
static const char *read_fd(int fd, struct buf *out)
{
	char chunk[4096];
	ssize_t n;
	buf_reset(out);
	assert_true(fd >= 0);
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		buf_append(out, chunk, (size_t)n);
	assert_int_equal(n, 0);
	close(fd);
	return buf_cstr(out);
}

static void test_open_creates_missing_maildir(void **state)
{
	struct fixture *f = *state;
	struct buf p = BUF_INIT;
	struct mailbox *mb = open_ok(f->md.data);
	assert_int_equal(mb->count, 0);
	assert_int_equal(mb->total, 0);
	assert_string_equal(mb->path, f->md.data);
	const char *subs[] = {"tmp", "new", "cur"};
	struct stat st;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(stat(path_of(&p, f->md.data, subs[i]), &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
	assert_int_equal(stat(path_of(&p, f->md.data, "posthorn-pop3.lock"),
	                      &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Nothing to commit is not an error. */
	assert_int_equal(mailbox_commit(mb, NULL, NULL, NULL), 0);
	mailbox_close(&mb);
	assert_null(mb);

	/* An existing, empty Maildir, and the lock file left from before. */
	mb = open_ok(f->md.data);
	assert_int_equal(mb->count, 0);
	assert_null(mb->msgs);
	mailbox_close(&mb);
	buf_free(&p);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT, p = BUF_INIT;
	struct mailbox *keep = (struct mailbox *)&err, *mb = keep;

	assert_int_equal(mailbox_open(NULL, &mb, &err), MAILBOX_ERROR);
	assert_int_equal(errno, EINVAL);
	assert_true(err.len > 0);
	assert_int_equal(mailbox_open("", &mb, NULL), MAILBOX_ERROR);
	assert_int_equal(mailbox_open(f->md.data, NULL, NULL), MAILBOX_ERROR);
	assert_ptr_equal(mb, keep);

	/* The Maildir path is a plain file. */
	assert_int_equal(fs_write_atomic(f->md.data, "x", 1, 0600), 0);
	buf_reset(&err);
	assert_int_equal(mailbox_open(f->md.data, &mb, &err), MAILBOX_ERROR);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(buf_cstr(&err), f->md.data));
	assert_ptr_equal(mb, keep);
	assert_int_equal(unlink(f->md.data), 0);

	/* new/ is a file: a broken Maildir is reported, not repaired. */
	assert_int_equal(mkdir(f->md.data, 0700), 0);
	assert_int_equal(fs_write_atomic(path_of(&p, f->md.data, "new"), "x", 1,
	                                 0600), 0);
	buf_reset(&err);
	assert_int_equal(mailbox_open(f->md.data, &mb, &err), MAILBOX_ERROR);
	assert_true(err.len > 0);
	assert_int_equal(unlink(p.data), 0);

	/* The lock file is a directory, then a symlink (never followed: the
	 * target is not created). */
	assert_int_equal(mkdir(path_of(&p, f->md.data, "posthorn-pop3.lock"),
	                       0700), 0);
	buf_reset(&err);
	assert_int_equal(mailbox_open(f->md.data, &mb, &err), MAILBOX_ERROR);
	assert_non_null(strstr(buf_cstr(&err), "posthorn-pop3.lock"));
	assert_int_equal(rmdir(p.data), 0);
	struct buf target = BUF_INIT;
	path_of(&target, f->dir, "elsewhere");
	assert_int_equal(symlink(target.data, p.data), 0);
	assert_int_equal(mailbox_open(f->md.data, &mb, NULL), MAILBOX_ERROR);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(access(target.data, F_OK), -1);
	assert_int_equal(unlink(p.data), 0);
	assert_ptr_equal(mb, keep);

	/* An unreadable message without W= fails the open, and the lock is
	 * not kept by the failed attempt. Root reads anything: skipped. */
	if (geteuid() != 0) {
		PUT(f->md.data, "new/1.a.h", "x\n");
		assert_int_equal(chmod(path_of(&p, f->md.data, "new/1.a.h"), 0),
		                 0);
		buf_reset(&err);
		assert_int_equal(mailbox_open(f->md.data, &mb, &err),
		                 MAILBOX_ERROR);
		assert_int_equal(errno, EACCES);
		assert_non_null(strstr(buf_cstr(&err), "new/1.a.h"));
		assert_int_equal(chmod(p.data, 0600), 0);
		mb = open_ok(f->md.data);
		assert_int_equal(mb->count, 1);
		mailbox_close(&mb);
	}
	buf_free(&err);
	buf_free(&p);
	buf_free(&target);
}

/* Delivery order: the name's leading seconds (numerically), then mtime,
 * then the name; dot files, directories, symlinks and tmp/ are no mail. */
static void test_order_and_filtering(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	struct buf p = BUF_INIT, q = BUF_INIT;
	put_file(md, "new/1700000300.c.h", "c\n", 2, 1000);
	put_file(md, "new/1700000100.a.h", "a\n", 2, 5000);
	put_file(md, "new/1700000200.b2.h", "b\n", 2, 2000);
	put_file(md, "new/1700000200.b1.h", "b\n", 2, 3000);
	put_file(md, "new/1700000200.b0.h", "b\n", 2, 3000);
	put_file(md, "new/noseconds", "n\n", 2, 1700000250);
	put_file(md, "new/99.early", "e\n", 2, 9999999999LL);
	put_file(md, "cur/1700000150.d.h:2,S", "d\n", 2, 0);
	PUT(md, "new/.hidden", "x\n");
	PUT(md, "cur/.1700000000.x.h:2,S", "x\n");
	PUT(md, "tmp/1700000000.t.h", "x\n");
	assert_int_equal(mkdir(path_of(&p, md, "new/1700000000.dir"), 0700), 0);
	assert_int_equal(symlink(path_of(&q, md, "new/1700000100.a.h"),
	                         path_of(&p, md, "cur/1700000000.link")), 0);

	struct mailbox *mb = open_ok(md);
	const char *want[] = {
		"99.early", "1700000100.a.h", "1700000150.d.h:2,S",
		"1700000200.b2.h", "1700000200.b0.h", "1700000200.b1.h",
		"noseconds", "1700000300.c.h",
	};
	assert_int_equal(mb->count, 8);
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(mb->msgs[i].name, want[i]);
		assert_int_equal(mb->msgs[i].in_cur, i == 2);
		assert_int_equal(mb->msgs[i].size, 3);
	}
	assert_int_equal(mb->total, 24);
	assert_int_equal(mb->msgs[1].mtime, 5000);
	assert_int_equal(mb->msgs[6].mtime, 1700000250);
	mailbox_close(&mb);
	buf_free(&p);
	buf_free(&q);
}

/* RFC 1939 sizes as counted by the reference rule: every LF not after a
 * CR gains a CR, and an open last line gains a CRLF. */
static unsigned long long reference_size(const char *text, size_t len)
{
	unsigned long long n = len;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			n++;
	return n + (len && text[len - 1] != '\n' ? 2 : 0);
}

static void test_sizes(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	PUT(md, "new/1.lf", "a\nb\n");
	PUT(md, "new/2.crlf", "a\r\nb\r\n");
	PUT(md, "new/3.nofinal", "a\r\nb");
	PUT(md, "new/4.empty", "");
	PUT(md, "new/5.mixed", "x\n\r\n\ny");
	PUT(md, "cur/6.w.h,S=3,W=4200:2,S", "abc");      /* trusted */
	PUT(md, "new/7.w.h,W=12x", "ab\n");             /* malformed */
	PUT(md, "new/8.w.h,S=7,W=2", "abcdefg");        /* impossible */
	PUT(md, "new/9.w.h,W=99999999999999999999999", "z"); /* too big */
	PUT(md, "new/10.w.h,W=,S=1", "q");              /* no digits */
	PUT(md, "new/11.w.h,W=10,S=8", "12345678");     /* W= then S= */
	PUT(md, "cur/12.w.h:2,W=500", "k");             /* info, not base */

	/* Larger than one read: a CRLF split across the 64 KiB boundary is
	 * one line end, a bare LF first in the next chunk still gains a CR. */
	size_t big_len = 200000;
	char *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = i % 100 == 99 ? '\n' : 'a';
	big[65535] = '\r';
	big[65536] = '\n';
	big[131071] = 'a';
	big[131072] = '\n';
	big[big_len - 1] = 'z';
	put_file(md, "new/13.big", big, big_len, -1);

	struct mailbox *mb = open_ok(md);
	assert_int_equal(mb->count, 13);
	const struct { const char *name; unsigned long long size; } want[] = {
		{"1.lf", 6}, {"2.crlf", 6}, {"3.nofinal", 6}, {"4.empty", 0},
		{"5.mixed", 10}, {"6.w.h,S=3,W=4200:2,S", 4200},
		{"7.w.h,W=12x", 4}, {"8.w.h,S=7,W=2", 9},
		{"9.w.h,W=99999999999999999999999", 3}, {"10.w.h,W=,S=1", 3},
		{"11.w.h,W=10,S=8", 10}, {"12.w.h:2,W=500", 3},
		{"13.big", reference_size(big, big_len)},
	};
	unsigned long long total = 0;
	for (size_t i = 0; i < 13; i++) {
		/* msgs are in delivery (= numeric name) order here. */
		assert_string_equal(mb->msgs[i].name, want[i].name);
		assert_int_equal(mb->msgs[i].size, want[i].size);
		total += want[i].size;
	}
	/* 1999 line ends at i % 100 == 99 plus the one at 131072 are bare;
	 * the one after the CR at 65535 is not. */
	assert_int_equal(reference_size(big, big_len), big_len + 2000 + 2);
	assert_int_equal(mb->total, total);
	mailbox_close(&mb);
	free(big);
}

/* A posthorn delivery names its RFC 1939 size, so it is taken from the
 * name: proven by a file whose bytes no longer match it. */
static void test_size_from_own_delivery(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	const char text[] = "Subject: x\n\nbody\n";
	struct spool *sp = spool_open(f->dir, "s1", NULL);
	assert_non_null(sp);
	assert_int_equal(spool_write(sp, text, sizeof text - 1), 0);
	assert_int_equal(spool_finish(sp), 0);
	struct buf name = BUF_INIT, p = BUF_INIT;
	assert_int_equal(maildir_deliver(md, spool_path(sp), spool_size(sp),
	                                 spool_crlf_size(sp), "h", &name, NULL),
	                 0);
	spool_discard(&sp);
	struct mailbox *mb = open_ok(md);
	assert_int_equal(mb->count, 1);
	assert_string_equal(mb->msgs[0].name, buf_cstr(&name));
	assert_int_equal(mb->msgs[0].size, 20);
	mailbox_close(&mb);

	/* Same length, no bare LFs: counting would give 19, W= says 20. */
	buf_reset(&p);
	buf_printf(&p, "new/%s", name.data);
	const char other[] = "Subject: x\r\n\r\nbod";
	assert_int_equal(sizeof other - 1, sizeof text - 1);
	put_file(md, buf_cstr(&p), other, sizeof other - 1, -1);
	mb = open_ok(md);
	assert_int_equal(mb->msgs[0].size, 20);
	mailbox_close(&mb);
	buf_free(&name);
	buf_free(&p);
}

/* prefix padded with fill to len characters, into out (len + 1 bytes). */
static const char *long_name(char *out, const char *prefix, char fill,
                             size_t len)
{
	size_t n = strlen(prefix);
	memcpy(out, prefix, n);
	memset(out + n, fill, len - n);
	out[len] = '\0';
	return out;
}

/* The uid is the base name when RFC 1939 allows it (1..70 of 0x21..0x7E),
 * else "x" + MD5 hex of the base name; expected digests from md5sum. */
static void test_uids(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	char n80[81], n71[72], n70[71];
	struct buf p = BUF_INIT;
	put_file(md, path_of(&p, "new", long_name(n80, "1700000000.R", 'a', 80)),
	         "x\n", 2, -1);
	put_file(md, path_of(&p, "new", long_name(n71, "1700000003.", 'b', 71)),
	         "x\n", 2, -1);
	put_file(md, path_of(&p, "new", long_name(n70, "1700000004.", 'c', 70)),
	         "x\n", 2, -1);
	PUT(md, "new/1700000001.has space.h", "x\n");
	PUT(md, "new/1700000002.del\x7f.h", "x\n");
	PUT(md, "cur/1700000005.plain.h,S=1,W=3:2,RS", "x");
	PUT(md, "cur/1700000006.\xc3\xa9.h:2,", "x\n");

	const char *want[] = {
		"x08f108e627586602d0b48dd43becebbe",   /* 80 characters */
		"xc7028c9b43769bb4f8acc25fc79b905a",   /* a space */
		"xe1a18d224a5089a4bb6d82915b2c9dd3",   /* a DEL byte */
		"x0bea52ba7774eafd895a898b3a7285c8",   /* 71 characters */
		n70,                                   /* 70: as it is */
		"1700000005.plain.h,S=1,W=3",          /* info not part */
		"xdebc3ddbd3220aa63a55c7e54fa64b8d",   /* UTF-8 */
	};
	struct mailbox *mb = open_ok(md);
	assert_int_equal(mb->count, 7);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(mb->msgs[i].uid, want[i]);
	assert_int_equal(strlen(mb->msgs[4].uid), 70);
	mailbox_close(&mb);

	/* Flag changes and moves to cur/ keep every uid. */
	move_file(md, "cur/1700000005.plain.h,S=1,W=3:2,RS",
	          "cur/1700000005.plain.h,S=1,W=3:2,FRS");
	move_file(md, "new/1700000001.has space.h",
	          "cur/1700000001.has space.h:2,S");
	mb = open_ok(md);
	assert_int_equal(mb->count, 7);
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(mb->msgs[i].uid, want[i]);
	assert_int_equal(mb->msgs[1].in_cur, 1);
	mailbox_close(&mb);
	buf_free(&p);
}

/* A file another reader moved while we listed shows up once. */
static void test_duplicate_in_new_and_cur(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	PUT(md, "new/1.a.h", "x\n");
	PUT(md, "cur/1.a.h:2,S", "x\n");
	PUT(md, "new/2.b.h", "y\n");
	struct mailbox *mb = open_ok(md);
	assert_int_equal(mb->count, 2);
	assert_string_equal(mb->msgs[0].name, "1.a.h:2,S");
	assert_int_equal(mb->msgs[0].in_cur, 1);
	assert_string_equal(mb->msgs[1].name, "2.b.h");
	assert_int_equal(mb->total, 6);
	mailbox_close(&mb);
}

static void test_lock_conflict_and_release(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT, other = BUF_INIT;
	struct mailbox *a = open_ok(f->md.data);
	struct mailbox *keep = (struct mailbox *)&err, *b = keep;
	/* flock is per open file description: the same process conflicts. */
	assert_int_equal(mailbox_open(f->md.data, &b, &err), MAILBOX_LOCKED);
	assert_ptr_equal(b, keep);
	assert_int_equal(err.len, 0);
	/* Another spelling of the same directory is the same lock. */
	buf_printf(&other, "%s/./mail/", f->dir);
	assert_int_equal(mailbox_open(buf_cstr(&other), &b, &err),
	                 MAILBOX_LOCKED);
	mailbox_close(&a);
	assert_null(a);
	b = open_ok(f->md.data);
	mailbox_close(&b);
	b = open_ok(buf_cstr(&other));
	mailbox_close(&b);
	buf_free(&err);
	buf_free(&other);
}

/* Another process holds the lock until it dies without closing: the lock
 * goes with it, so a crashed session never locks a user out. */
static void test_lock_held_by_other_process(void **state)
{
	struct fixture *f = *state;
	int ready[2], done[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(done[1]); /* else our own end keeps the read below open */
		struct mailbox *mb = NULL;
		char c = mailbox_open(f->md.data, &mb, NULL) == MAILBOX_OK ? 'y'
		                                                           : 'n';
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(2);
		_exit(0); /* no mailbox_close: the lock dies with us */
	}
	close(ready[1]);
	close(done[0]);
	char c = 0;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	struct mailbox *mb = NULL;
	assert_int_equal(mailbox_open(f->md.data, &mb, NULL), MAILBOX_LOCKED);
	close(done[1]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	mb = open_ok(f->md.data);
	mailbox_close(&mb);
	close(ready[0]);
}

static void test_open_msg_follows_renames(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	struct buf got = BUF_INIT;
	PUT(md, "new/1.a.h", "hello\n");
	PUT(md, "new/2.b.h", "second\n");
	struct mailbox *mb = open_ok(md);
	assert_string_equal(read_fd(mailbox_open_msg(mb, 0), &got), "hello\n");
	assert_string_equal(read_fd(mailbox_open_msg(mb, 1), &got), "second\n");

	/* Another reader (a MUA, IMAP) moved it to cur/ and marked it. */
	move_file(md, "new/1.a.h", "cur/1.a.h:2,S");
	assert_string_equal(read_fd(mailbox_open_msg(mb, 0), &got), "hello\n");
	assert_string_equal(mb->msgs[0].name, "1.a.h:2,S");
	assert_int_equal(mb->msgs[0].in_cur, 1);
	move_file(md, "cur/1.a.h:2,S", "cur/1.a.h:2,RS");
	assert_string_equal(read_fd(mailbox_open_msg(mb, 0), &got), "hello\n");
	assert_string_equal(mb->msgs[0].name, "1.a.h:2,RS");
	/* The descriptor is an ordinary blocking one. */
	int fd = mailbox_open_msg(mb, 0);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE),
	                 O_RDONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* Gone for good. */
	remove_file(md, "cur/1.a.h:2,RS");
	errno = 0;
	assert_int_equal(mailbox_open_msg(mb, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(read_fd(mailbox_open_msg(mb, 1), &got), "second\n");

	assert_int_equal(mailbox_open_msg(mb, 2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mailbox_open_msg(NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	mailbox_close(&mb);
	buf_free(&got);
}

/* What replaced a message file is refused without being followed or
 * waited on (a FIFO would block an open without O_NONBLOCK forever). */
static void test_open_msg_refuses_non_regular(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	struct buf p = BUF_INIT, q = BUF_INIT;
	PUT(md, "new/1.fifo", "x\n");
	PUT(md, "new/2.link", "x\n");
	PUT(md, "new/3.dir", "x\n");
	PUT(md, "new/4.target", "secret\n");
	struct mailbox *mb = open_ok(md);
	assert_int_equal(mb->count, 4);

	remove_file(md, "new/1.fifo");
	assert_int_equal(mkfifo(path_of(&p, md, "new/1.fifo"), 0600), 0);
	assert_int_equal(mailbox_open_msg(mb, 0), -1);
	assert_int_equal(errno, EINVAL);

	remove_file(md, "new/2.link");
	assert_int_equal(symlink(path_of(&q, md, "new/4.target"),
	                         path_of(&p, md, "new/2.link")), 0);
	assert_int_equal(mailbox_open_msg(mb, 1), -1);
	assert_int_equal(errno, ELOOP);

	remove_file(md, "new/3.dir");
	assert_int_equal(mkdir(path_of(&p, md, "new/3.dir"), 0700), 0);
	assert_int_equal(mailbox_open_msg(mb, 2), -1);
	assert_int_equal(errno, EINVAL);
	mailbox_close(&mb);
	buf_free(&p);
	buf_free(&q);
}

static void test_commit_deletes_and_marks_seen(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	struct buf got = BUF_INIT, err = BUF_INIT;
	PUT(md, "new/1700000001.a.h", "a\n");          /* seen */
	PUT(md, "new/1700000002.b.h", "b\n");          /* deleted */
	PUT(md, "cur/1700000003.c.h:2,RF", "c\n");     /* seen */
	PUT(md, "cur/1700000004.d.h:2,S", "d\n");      /* seen already */
	PUT(md, "cur/1700000005.e.h:1,xyz", "e\n");    /* seen, odd info */
	PUT(md, "new/1700000006.f.h", "f\n");          /* untouched */
	PUT(md, "cur/1700000007.g.h:2,T", "g\n");      /* deleted + seen */
	PUT(md, "cur/1700000008.h.h:2,ZSa", "h\n");    /* seen, has S */
	PUT(md, "cur/1700000009.i.h", "i\n");          /* seen, no info */
	PUT(md, "cur/1700000010.j.h:2,", "j\n");       /* seen, no flags */
	PUT(md, "new/1700000011.k.h:2,F", "k\n");      /* seen, in new/ */
	PUT(md, "new/1700000012.l.h:2,S", "l\n");      /* seen, S, new/ */
	struct mailbox *mb = open_ok(md);
	assert_int_equal(mb->count, 12);
	char uids[12][MAILBOX_UID_MAX + 1];
	for (size_t i = 0; i < 12; i++)
		strcpy(uids[i], mb->msgs[i].uid);
	unsigned char deleted[12] = {0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
	unsigned char seen[12] = {1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1};
	assert_int_equal(mailbox_commit(mb, deleted, seen, &err), 0);
	assert_int_equal(err.len, 0);

	assert_string_equal(list_names(md, "new", &got), "1700000006.f.h");
	assert_string_equal(list_names(md, "cur", &got),
	                    "1700000001.a.h:2,S 1700000003.c.h:2,FRS "
	                    "1700000004.d.h:2,S 1700000005.e.h:1,xyz "
	                    "1700000008.h.h:2,ZSa 1700000009.i.h:2,S "
	                    "1700000010.j.h:2,S 1700000011.k.h:2,FS "
	                    "1700000012.l.h:2,S");
	/* The snapshot follows the renames. */
	assert_string_equal(mb->msgs[0].name, "1700000001.a.h:2,S");
	assert_int_equal(mb->msgs[0].in_cur, 1);
	assert_string_equal(mb->msgs[2].name, "1700000003.c.h:2,FRS");
	assert_string_equal(read_fd(mailbox_open_msg(mb, 2), &got), "c\n");
	mailbox_close(&mb);

	/* Survivors keep their uids and order. */
	mb = open_ok(md);
	assert_int_equal(mb->count, 10);
	for (size_t i = 0, j = 0; i < 12; i++)
		if (!deleted[i])
			assert_string_equal(mb->msgs[j++].uid, uids[i]);
	mailbox_close(&mb);
	buf_free(&got);
	buf_free(&err);
}

/* Other readers renamed or removed files between open and QUIT. */
static void test_commit_after_others_moved_files(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	struct buf got = BUF_INIT, err = BUF_INIT;
	PUT(md, "new/1.a.h", "a\n");
	PUT(md, "new/2.b.h", "b\n");
	PUT(md, "new/3.c.h", "c\n");
	PUT(md, "new/4.d.h", "d\n");
	PUT(md, "cur/5.e.h:2,S", "e\n");
	struct mailbox *mb = open_ok(md);
	assert_int_equal(mb->count, 5);
	remove_file(md, "new/1.a.h");                   /* deleted: gone */
	remove_file(md, "new/2.b.h");                   /* seen: gone */
	move_file(md, "new/3.c.h", "cur/3.c.h:2,S");    /* deleted: moved */
	move_file(md, "new/4.d.h", "cur/4.d.h:2,R");    /* seen: moved */
	move_file(md, "cur/5.e.h:2,S", "cur/5.e.h:2,FS"); /* seen: flagged */
	unsigned char deleted[5] = {1, 0, 1, 0, 0};
	unsigned char seen[5] = {0, 1, 0, 1, 1};
	assert_int_equal(mailbox_commit(mb, deleted, seen, &err), 0);
	assert_int_equal(err.len, 0);
	assert_string_equal(list_names(md, "new", &got), "");
	assert_string_equal(list_names(md, "cur", &got),
	                    "4.d.h:2,RS 5.e.h:2,FS");
	mailbox_close(&mb);
	buf_free(&got);
	buf_free(&err);
}

/* A failing step is reported and the others still happen. */
static void test_commit_reports_errors_and_goes_on(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	struct buf got = BUF_INIT, err = BUF_INIT, p = BUF_INIT;
	PUT(md, "new/1.a.h", "a\n");
	PUT(md, "new/2.b.h", "b\n");
	PUT(md, "new/3.c.h", "c\n");
	struct mailbox *mb = open_ok(md);
	/* 1 became a directory (unlink fails with EISDIR); cur/ became a
	 * file (marking 2 seen fails with ENOTDIR); 3 is deleted anyway. */
	remove_file(md, "new/1.a.h");
	assert_int_equal(mkdir(path_of(&p, md, "new/1.a.h"), 0700), 0);
	assert_int_equal(rmdir(path_of(&p, md, "cur")), 0);
	PUT(md, "cur", "not a directory");
	unsigned char deleted[3] = {1, 0, 1};
	unsigned char seen[3] = {0, 1, 0};
	assert_int_equal(mailbox_commit(mb, deleted, seen, &err), -1);
	const char *e = buf_cstr(&err);
	assert_non_null(strstr(e, "cannot delete"));
	assert_non_null(strstr(e, "new/1.a.h"));
	assert_non_null(strstr(e, "; "));
	assert_non_null(strstr(e, "cannot mark as seen"));
	assert_non_null(strstr(e, "new/2.b.h"));
	assert_string_equal(list_names(md, "new", &got), "1.a.h 2.b.h");
	mailbox_close(&mb);
	assert_int_equal(mailbox_commit(NULL, deleted, seen, NULL), -1);
	assert_int_equal(errno, EINVAL);
	buf_free(&got);
	buf_free(&err);
	buf_free(&p);
}

/* Mail delivered during a session waits for the next one, untouched. */
static void test_snapshot_ignores_later_delivery(void **state)
{
	struct fixture *f = *state;
	const char *md = make_md(f);
	struct buf got = BUF_INIT, name = BUF_INIT;
	PUT(md, "new/1.a.h", "a\n");
	struct mailbox *mb = open_ok(md);
	struct spool *sp = spool_open(f->dir, "later", NULL);
	assert_non_null(sp);
	assert_int_equal(spool_write(sp, "x\r\n", 3), 0);
	assert_int_equal(spool_finish(sp), 0);
	assert_int_equal(maildir_deliver(md, spool_path(sp), 3, 3, "h", &name,
	                                 NULL), 0);
	spool_discard(&sp);
	assert_int_equal(mb->count, 1);
	unsigned char seen[1] = {1};
	assert_int_equal(mailbox_commit(mb, NULL, seen, NULL), 0);
	assert_string_equal(list_names(md, "new", &got), buf_cstr(&name));
	assert_string_equal(list_names(md, "cur", &got), "1.a.h:2,S");
	mailbox_close(&mb);
	mb = open_ok(md);
	assert_int_equal(mb->count, 2);
	assert_string_equal(mb->msgs[1].name, name.data);
	assert_int_equal(mb->msgs[1].size, 3);
	mailbox_close(&mb);
	buf_free(&got);
	buf_free(&name);
}

static void test_close_is_null_safe(void **state)
{
	(void)state;
	struct mailbox *mb = NULL;
	mailbox_close(NULL);
	mailbox_close(&mb);
	assert_null(mb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
		T(test_open_creates_missing_maildir),
		T(test_open_errors),
		T(test_order_and_filtering),
		T(test_sizes),
		T(test_size_from_own_delivery),
		T(test_uids),
		T(test_duplicate_in_new_and_cur),
		T(test_lock_conflict_and_release),
		T(test_lock_held_by_other_process),
		T(test_open_msg_follows_renames),
		T(test_open_msg_refuses_non_regular),
		T(test_commit_deletes_and_marks_seen),
		T(test_commit_after_others_moved_files),
		T(test_commit_reports_errors_and_goes_on),
		T(test_snapshot_ignores_later_delivery),
		T(test_close_is_null_safe),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
