/* Unit tests for src/store/folder.c: the client's Maildir++ folders. Names
 * and their directories, creating, listing, renaming and deleting folders,
 * storing messages, flags, moves, and failures that must leave nothing
 * behind and say what happened. */
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
#include <time.h>
#include <unistd.h>

#include "../../src/lib/fs.h"
#include "../../src/store/folder.h"

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* The test's directory: base holds the Maildir root "Mail" and anything a
 * test puts outside it. */
struct env {
	char base[4096];
	char root[4200];
};

static int setup_dir(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	const char *tmp = getenv("TMPDIR");
	snprintf(e->base, sizeof e->base, "%s/test-folder.XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(e->base)) {
		free(e);
		return -1;
	}
	snprintf(e->root, sizeof e->root, "%s/Mail", e->base);
	*state = e;
	return 0;
}

static int teardown_dir(void **state)
{
	struct env *e = *state;
	nftw(e->base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(e);
	return 0;
}

/* A root made by folder_root_init. */
static int setup_root(void **state)
{
	if (setup_dir(state) < 0)
		return -1;
	struct env *e = *state;
	return folder_root_init(e->root, NULL);
}

/* dir/rest into b (reset first); the C string. */
static const char *path_of(struct buf *b, const char *dir, const char *rest)
{
	buf_reset(b);
	buf_printf(b, "%s/%s", dir, rest);
	return buf_cstr(b);
}

static int is_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Entries of dir other than . and ..; -1 when it cannot be opened. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void write_file(const char *path, const char *text)
{
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0600), 0);
}

static void assert_file_is(const char *path, const char *text)
{
	struct buf got = BUF_INIT;
	assert_int_equal(fs_read_file(path, 1 << 20, &got), 0);
	assert_int_equal(got.len, strlen(text));
	assert_memory_equal(buf_cstr(&got), text, got.len);
	buf_free(&got);
}

/* Lists folder name of e, expecting n messages. */
static void list_n(const struct env *e, const char *name,
                   struct folder_list *l, size_t n)
{
	struct buf why = BUF_INIT;
	assert_int_equal(folder_list(e->root, name, l, &why), 0);
	assert_int_equal(why.len, 0);
	assert_int_equal(l->n, n);
	buf_free(&why);
}

static void add_msg(const struct env *e, const char *folder, const char *text,
                    const char *flags, const char *tag, struct buf *name)
{
	struct buf why = BUF_INIT;
	if (name)
		buf_reset(name);
	assert_int_equal(folder_add(e->root, folder, text, strlen(text), flags,
	                            tag, name, &why), 0);
	assert_int_equal(why.len, 0);
	if (name)
		assert_non_null(buf_cstr(name));
	buf_free(&why);
}

static void test_root_init(void **state)
{
	struct env *e = *state;
	struct buf p = BUF_INIT, why = BUF_INIT;
	assert_int_equal(folder_root_init(e->root, &why), 0);
	assert_true(is_dir(path_of(&p, e->root, "tmp")));
	assert_true(is_dir(path_of(&p, e->root, "new")));
	assert_true(is_dir(path_of(&p, e->root, "cur")));
	assert_true(folder_exists(e->root, "INBOX"));
	assert_true(folder_exists(e->root, "inbox"));
	assert_int_equal(folder_root_init(e->root, &why), 0);
	assert_int_equal(why.len, 0);

	/* A file where the root should be. */
	write_file(path_of(&p, e->base, "file"), "x");
	assert_int_equal(folder_root_init(p.data, &why), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(buf_cstr(&why), "cannot create the mail "
	                       "directory"));
	assert_non_null(strstr(why.data, "Not a directory"));
	buf_reset(&why);
	assert_int_equal(folder_root_init("", &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(folder_root_init(NULL, NULL), -1);
	assert_false(folder_exists(p.data, "INBOX"));
	buf_free(&p);
	buf_free(&why);
}

static void test_path_good_names(void **state)
{
	(void)state;
	static const struct {
		const char *root, *name, *path;
	} good[] = {
		{"/m", "INBOX", "/m"},
		{"/m", "inbox", "/m"},
		{"/m/", "InBoX", "/m"},
		{"/m", "Work", "/m/.Work"},
		{"/m//", "Work/2026", "/m/.Work.2026"},
		{"/", "A", "/.A"},
		{"rel", "a b/c-d_e", "rel/.a b.c-d_e"},
		{"/m", "\xe5\xb7\xa5\xe4\xbd\x9c", "/m/.\xe5\xb7\xa5\xe4\xbd\x9c"},
		{"/m", "\xe5\xb7\xa5\xe4\xbd\x9c/\xf0\x9f\x93\xa7",
		 "/m/.\xe5\xb7\xa5\xe4\xbd\x9c.\xf0\x9f\x93\xa7"},
		{"/m", "Inboxes", "/m/.Inboxes"},
		{"/m", "x~y\\z[1]", "/m/.x~y\\z[1]"},
	};
	struct buf out = BUF_INIT, why = BUF_INIT;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		buf_reset(&out);
		assert_int_equal(folder_path(good[i].root, good[i].name, &out,
		                             &why), 0);
		assert_string_equal(buf_cstr(&out), good[i].path);
	}
	assert_int_equal(why.len, 0);

	/* 200 bytes is the limit, and the path is appended. */
	char longest[202];
	memset(longest, 'x', 200);
	longest[200] = '\0';
	buf_reset(&out);
	buf_puts(&out, "keep:");
	assert_int_equal(folder_path("/m", longest, &out, NULL), 0);
	assert_int_equal(out.len, 5 + 3 + 1 + 200);
	assert_memory_equal(out.data, "keep:/m/.x", 10);
	buf_free(&out);
	buf_free(&why);
}

static void test_path_bad_names(void **state)
{
	(void)state;
	char too_long[202];
	memset(too_long, 'x', 201);
	too_long[201] = '\0';
	static const char *const bad[] = {
		"", "../x", ".hidden", "a..b", "a.b", "a//b", "/a", "a/", "/",
		"INBOX/x", "inbox/Sub", " a", "a ", "a/ b", "a /b", "a\tb", "a\nb",
		"\x1b[31m", "a\x7f", "a\xc2\x85", "\xff", "a\xc3", "\xc0\xaf",
		"\xed\xa0\x80", "\xf4\x90\x80\x80",
	};
	struct buf out = BUF_INIT, why = BUF_INIT;
	buf_puts(&out, "keep");
	for (size_t i = 0; i < sizeof bad / sizeof *bad + 2; i++) {
		const char *name = i < sizeof bad / sizeof *bad ? bad[i]
		                   : i == sizeof bad / sizeof *bad ? too_long : NULL;
		buf_reset(&why);
		errno = 0;
		assert_int_equal(folder_path("/m", name, &out, &why), -1);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(buf_cstr(&out), "keep");
		/* One readable sentence, nothing a terminal would act on. */
		assert_memory_equal(buf_cstr(&why), "bad folder name '", 17);
		for (size_t j = 0; j < why.len; j++)
			assert_true((unsigned char)why.data[j] >= 0x20 &&
			            why.data[j] != 0x7f);
		assert_false(folder_exists("/m", name));
	}
	buf_reset(&why);
	folder_path("/m", "a.b", &out, &why);
	assert_non_null(strstr(buf_cstr(&why), "'a.b': it contains '.'"));
	buf_reset(&why);
	folder_path("/m", "a\nb", &out, &why);
	assert_string_equal(buf_cstr(&why), "bad folder name 'a\\x0ab': it "
	                    "contains a control character");
	buf_reset(&why);
	folder_path("/m", too_long, &out, &why);
	assert_non_null(strstr(buf_cstr(&why), "...': it is longer than 200"));
	/* No root, no why: still refused. */
	assert_int_equal(folder_path("", "A", &out, NULL), -1);
	assert_int_equal(folder_path(NULL, "A", &out, NULL), -1);
	assert_int_equal(errno, EINVAL);
	buf_free(&out);
	buf_free(&why);
}

static void test_create_nested(void **state)
{
	struct env *e = *state;
	struct buf p = BUF_INIT, why = BUF_INIT;
	/* The root is made on the way. */
	assert_int_equal(folder_create(e->root, "A/B/C", &why), 0);
	assert_int_equal(why.len, 0);
	const char *const dirs[] = {".A", ".A.B", ".A.B.C"};
	for (size_t i = 0; i < 3; i++) {
		struct buf q = BUF_INIT;
		path_of(&q, e->root, dirs[i]);
		assert_true(is_dir(path_of(&p, q.data, "cur")));
		assert_true(is_dir(path_of(&p, q.data, "new")));
		assert_true(is_dir(path_of(&p, q.data, "tmp")));
		assert_true(exists(path_of(&p, q.data, "maildirfolder")));
		buf_free(&q);
	}
	assert_true(folder_exists(e->root, "A"));
	assert_true(folder_exists(e->root, "A/B"));
	assert_true(folder_exists(e->root, "A/B/C"));
	assert_false(folder_exists(e->root, "A/C"));
	assert_false(folder_exists(e->root, "a"));
	/* Again, and INBOX: nothing to do. */
	assert_int_equal(folder_create(e->root, "A/B/C", &why), 0);
	assert_int_equal(folder_create(e->root, "INBOX", &why), 0);
	assert_int_equal(why.len, 0);

	/* A file in the way. */
	write_file(path_of(&p, e->root, ".X"), "x");
	assert_int_equal(folder_create(e->root, "X/Y", &why), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(buf_cstr(&why), "cannot create folder 'X' at "));
	assert_non_null(strstr(why.data, "Not a directory"));
	assert_false(exists(path_of(&p, e->root, ".X.Y")));
	buf_reset(&why);
	assert_int_equal(folder_create(e->root, "a.b", &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_false(exists(path_of(&p, e->root, ".a.b")));
	buf_free(&p);
	buf_free(&why);
}

static void test_names_order(void **state)
{
	struct env *e = *state;
	struct buf p = BUF_INIT, out = BUF_INIT, why = BUF_INIT;
	const char *const names[] = {"Work", "A B", "Sent", "A/B",
	                             "\xe5\xb7\xa5\xe4\xbd\x9c", "A-x", "A"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		assert_int_equal(folder_create(e->root, names[i], &why), 0);
	/* Junk that is no folder: a dot directory without cur/, a dot file,
	 * an invalid name with cur/, another program's ".INBOX", a symlink
	 * to nowhere. */
	assert_int_equal(mkdir(path_of(&p, e->root, ".junk"), 0700), 0);
	write_file(path_of(&p, e->root, ".file"), "x");
	assert_int_equal(fs_mkdirs(path_of(&p, e->root, ".bad..x/cur"), 0700), 0);
	assert_int_equal(fs_mkdirs(path_of(&p, e->root, ".inbox/cur"), 0700), 0);
	assert_int_equal(symlink("/nonexistent", path_of(&p, e->root, ".gone")),
	                 0);
	write_file(path_of(&p, e->root, "posthorn-pop3.lock"), "");

	buf_puts(&out, "keep\n");
	assert_int_equal(folder_names(e->root, &out, &why), 0);
	assert_string_equal(buf_cstr(&out), "keep\nINBOX\nA\nA/B\nA B\nA-x\n"
	                    "Sent\nWork\n\xe5\xb7\xa5\xe4\xbd\x9c\n");
	assert_int_equal(why.len, 0);

	/* No root: an error that names it. */
	buf_reset(&out);
	assert_int_equal(folder_names(path_of(&p, e->base, "none"), &out, &why),
	                 -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(buf_cstr(&why), "cannot read the mail directory "));
	assert_int_equal(folder_names("", &out, NULL), -1);
	buf_free(&p);
	buf_free(&out);
	buf_free(&why);
}

/* "SECONDS.R<16 hex>.HOST,S=SIZE" (or with "P<tag>_" before the hex):
 * checks the parts and returns the seconds. */
static long long check_name(const char *name, const char *tag, size_t size)
{
	char *end;
	long long secs = strtoll(name, &end, 10);
	time_t now = time(NULL);
	assert_true(end > name);
	assert_true(secs > now - 60 && secs <= now);
	if (tag) {
		assert_memory_equal(end, ".P", 2);
		assert_memory_equal(end + 2, tag, strlen(tag));
		end += 2 + strlen(tag);
		assert_int_equal(*end, '_');
		end++;
	} else {
		assert_memory_equal(end, ".R", 2);
		end += 2;
	}
	for (int i = 0; i < 16; i++)
		assert_non_null(strchr("0123456789abcdef", end[i]));
	assert_int_equal(end[16], '.');
	const char *host = end + 17;
	assert_null(strchr(host, '/'));
	char tail[64];
	snprintf(tail, sizeof tail, ",S=%zu", size);
	const char *s = strstr(host, tail);
	assert_non_null(s);
	assert_true(s[strlen(tail)] == '\0' || s[strlen(tail)] == ':');
	return secs;
}

static void test_add_without_flags(void **state)
{
	struct env *e = *state;
	const char text[] = "From: a@b\nSubject: hi\n\nhello\n";
	struct buf name = BUF_INIT, p = BUF_INIT;
	buf_puts(&name, "x:");
	assert_int_equal(folder_add(e->root, "INBOX", text, sizeof text - 1,
	                            NULL, NULL, &name, NULL), 0);
	const char *base = buf_cstr(&name) + 2;
	long long secs = check_name(base, NULL, sizeof text - 1);
	assert_null(strchr(base, ':'));
	buf_printf(&p, "%s/new/%s", e->root, base);
	assert_file_is(buf_cstr(&p), text);
	struct stat st;
	assert_int_equal(stat(p.data, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(path_of(&p, e->root, "tmp")), 0);
	assert_int_equal(count_entries(path_of(&p, e->root, "cur")), 0);

	struct folder_list l;
	list_n(e, "inbox", &l, 1);
	assert_string_equal(l.msgs[0].name, base);
	buf_reset(&p);
	buf_printf(&p, "%s/new/%s", e->root, base);
	assert_string_equal(l.msgs[0].path, buf_cstr(&p));
	assert_true(l.msgs[0].in_new);
	assert_string_equal(l.msgs[0].flags, "");
	assert_int_equal(l.msgs[0].time, secs);
	assert_int_equal(l.msgs[0].size, sizeof text - 1);
	folder_list_free(&l);
	assert_null(l.msgs);
	folder_list_free(&l);

	/* An empty message and "" flags are fine too. */
	add_msg(e, "INBOX", "", "", "", &name);
	check_name(name.data, NULL, 0);
	list_n(e, "INBOX", &l, 2);
	folder_list_free(&l);
	buf_free(&name);
	buf_free(&p);
}

static void test_add_with_flags(void **state)
{
	struct env *e = *state;
	const char text[] = "Subject: \xe4\xbd\xa0\xe5\xa5\xbd\r\n\r\nbody\r\n";
	struct buf name = BUF_INIT, p = BUF_INIT, why = BUF_INIT;
	assert_int_equal(folder_create(e->root, "Sent", &why), 0);
	add_msg(e, "Sent", text, "SFS", NULL, &name);
	check_name(name.data, NULL, sizeof text - 1);
	size_t len = strlen(name.data);
	assert_string_equal(name.data + len - 5, ":2,FS");
	buf_printf(&p, "%s/.Sent/cur/%s", e->root, name.data);
	assert_file_is(buf_cstr(&p), text);
	assert_int_equal(count_entries(path_of(&p, e->root, ".Sent/new")), 0);
	assert_int_equal(count_entries(path_of(&p, e->root, ".Sent/tmp")), 0);

	struct folder_list l;
	list_n(e, "Sent", &l, 1);
	assert_false(l.msgs[0].in_new);
	assert_string_equal(l.msgs[0].flags, "FS");
	assert_int_equal(l.msgs[0].size, sizeof text - 1);
	assert_string_equal(l.msgs[0].name, name.data);
	folder_list_free(&l);
	list_n(e, "INBOX", &l, 0);
	folder_list_free(&l);
	buf_free(&name);
	buf_free(&p);
	buf_free(&why);
}

static void test_add_errors(void **state)
{
	struct env *e = *state;
	struct buf why = BUF_INIT, name = BUF_INIT, p = BUF_INIT;
	char tag65[66];
	memset(tag65, 'a', 65);
	tag65[65] = '\0';
	assert_int_equal(folder_add(e->root, "Nope", "x", 1, NULL, NULL, &name,
	                            &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(buf_cstr(&why), "no folder 'Nope'");
	buf_reset(&why);
	assert_int_equal(folder_add(e->root, "INBOX", "x", 1, "Sx", NULL, &name,
	                            &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(buf_cstr(&why), "unknown message flag 'x'"));
	buf_reset(&why);
	assert_int_equal(folder_add(e->root, "INBOX", "x", 1, NULL, "a-b", &name,
	                            &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(buf_cstr(&why), "tag"));
	assert_int_equal(folder_add(e->root, "INBOX", "x", 1, NULL, tag65, &name,
	                            NULL), -1);
	assert_int_equal(folder_add(e->root, "INBOX", NULL, 1, NULL, NULL, &name,
	                            NULL), -1);
	assert_int_equal(folder_add(e->root, "a//b", "x", 1, NULL, NULL, &name,
	                            NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(name.len, 0);

	/* tmp/ is a file: cannot write, says where. */
	assert_int_equal(rmdir(path_of(&p, e->root, "tmp")), 0);
	write_file(p.data, "");
	buf_reset(&why);
	assert_int_equal(folder_add(e->root, "INBOX", "x", 1, NULL, NULL, &name,
	                            &why), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(buf_cstr(&why), "cannot write "));
	assert_non_null(strstr(why.data, "/Mail/tmp: Not a directory"));
	assert_int_equal(unlink(p.data), 0);
	assert_int_equal(mkdir(p.data, 0700), 0);

	/* new/ is gone: the rename fails and tmp/ is cleaned up. */
	assert_int_equal(rmdir(path_of(&p, e->root, "new")), 0);
	buf_reset(&why);
	assert_int_equal(folder_add(e->root, "INBOX", "x", 1, NULL, NULL, &name,
	                            &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(buf_cstr(&why), "cannot write "));
	assert_non_null(strstr(why.data, "/Mail/new: No such file"));
	assert_int_equal(count_entries(path_of(&p, e->root, "tmp")), 0);
	assert_int_equal(name.len, 0);
	buf_free(&why);
	buf_free(&name);
	buf_free(&p);
}

static void test_tag(void **state)
{
	struct env *e = *state;
	struct buf name = BUF_INIT;
	add_msg(e, "INBOX", "one\n", NULL, "abc123", &name);
	check_name(name.data, "abc123", 4);
	add_msg(e, "INBOX", "two\n", "S", "Zz9", &name);
	check_name(name.data, "Zz9", 4);
	add_msg(e, "INBOX", "three\n", NULL, NULL, NULL);
	struct folder_list l;
	list_n(e, "INBOX", &l, 3);
	assert_true(folder_has_tag(&l, "abc123"));
	assert_true(folder_has_tag(&l, "Zz9"));
	assert_false(folder_has_tag(&l, "abc"));
	assert_false(folder_has_tag(&l, "abc1234"));
	assert_false(folder_has_tag(&l, "zz9"));
	assert_false(folder_has_tag(&l, ""));
	assert_false(folder_has_tag(&l, "a_b"));
	assert_false(folder_has_tag(&l, NULL));
	assert_false(folder_has_tag(NULL, "abc123"));
	folder_list_free(&l);
	buf_free(&name);
}

static void test_set_flags(void **state)
{
	struct env *e = *state;
	struct buf name = BUF_INIT, why = BUF_INIT, p = BUF_INIT;
	add_msg(e, "INBOX", "hello\n", NULL, NULL, &name);
	struct folder_list l;
	list_n(e, "INBOX", &l, 1);
	struct folder_msg *m = &l.msgs[0];
	char *old_path = strdup(m->path);

	assert_int_equal(folder_set_flags(e->root, "INBOX", m, "S", NULL, &why),
	                 0);
	assert_false(m->in_new);
	assert_string_equal(m->flags, "S");
	buf_printf(&p, "%s:2,S", name.data);
	assert_string_equal(m->name, p.data);
	buf_reset(&p);
	buf_printf(&p, "%s/cur/%s:2,S", e->root, name.data);
	assert_string_equal(m->path, p.data);
	assert_file_is(m->path, "hello\n");
	assert_false(exists(old_path));
	free(old_path);

	assert_int_equal(folder_set_flags(e->root, "INBOX", m, "FR", NULL, &why),
	                 0);
	assert_string_equal(m->flags, "FRS");
	assert_int_equal(folder_set_flags(e->root, "INBOX", m, "T", "SR", &why),
	                 0);
	assert_string_equal(m->flags, "FT");
	/* Idempotent: the same flags again change nothing. */
	char *same = strdup(m->name);
	assert_int_equal(folder_set_flags(e->root, "INBOX", m, "F", "S", &why),
	                 0);
	assert_string_equal(m->name, same);
	free(same);
	assert_int_equal(folder_set_flags(e->root, "INBOX", m, NULL, "FT", &why),
	                 0);
	assert_string_equal(m->flags, "");
	assert_string_equal(m->name + strlen(m->name) - 3, ":2,");
	assert_int_equal(why.len, 0);
	assert_file_is(m->path, "hello\n");
	folder_list_free(&l);

	/* The listing agrees. */
	list_n(e, "INBOX", &l, 1);
	assert_false(l.msgs[0].in_new);
	assert_string_equal(l.msgs[0].flags, "");
	assert_int_equal(folder_set_flags(e->root, "INBOX", &l.msgs[0], "P",
	                                  NULL, NULL), 0);
	folder_list_free(&l);
	list_n(e, "INBOX", &l, 1);
	assert_string_equal(l.msgs[0].flags, "P");

	/* A bad letter changes nothing. */
	same = strdup(l.msgs[0].name);
	assert_int_equal(folder_set_flags(e->root, "INBOX", &l.msgs[0], "s",
	                                  NULL, &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(buf_cstr(&why), "unknown message flag 's'"));
	assert_string_equal(l.msgs[0].name, same);
	assert_true(exists(l.msgs[0].path));
	free(same);

	/* Gone meanwhile: ENOENT, m unchanged. */
	assert_int_equal(unlink(l.msgs[0].path), 0);
	buf_reset(&why);
	assert_int_equal(folder_set_flags(e->root, "INBOX", &l.msgs[0], "S",
	                                  NULL, &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(buf_cstr(&why), "is gone"));
	assert_string_equal(l.msgs[0].flags, "P");
	folder_list_free(&l);
	buf_free(&name);
	buf_free(&why);
	buf_free(&p);
}

/* Flags written by other programs (Dovecot keywords are lowercase) are
 * kept; a name without ":2," in cur/ has none. */
static void test_set_flags_keeps_foreign(void **state)
{
	struct env *e = *state;
	struct buf p = BUF_INIT;
	write_file(path_of(&p, e->root, "cur/100.M1.host:2,Sa"), "a");
	write_file(path_of(&p, e->root, "cur/200.M2.host"), "bb");
	struct folder_list l;
	list_n(e, "INBOX", &l, 2);
	assert_string_equal(l.msgs[0].flags, "S");
	assert_string_equal(l.msgs[1].flags, "");
	assert_int_equal(l.msgs[1].size, 2);
	assert_int_equal(folder_set_flags(e->root, "INBOX", &l.msgs[0], "R",
	                                  NULL, NULL), 0);
	assert_string_equal(l.msgs[0].name, "100.M1.host:2,RSa");
	assert_string_equal(l.msgs[0].flags, "RS");
	assert_int_equal(folder_set_flags(e->root, "INBOX", &l.msgs[1], "S",
	                                  NULL, NULL), 0);
	assert_string_equal(l.msgs[1].name, "200.M2.host:2,S");
	assert_file_is(path_of(&p, e->root, "cur/200.M2.host:2,S"), "bb");
	assert_false(exists(path_of(&p, e->root, "cur/200.M2.host")));
	folder_list_free(&l);
	buf_free(&p);
}

static void test_move(void **state)
{
	struct env *e = *state;
	struct buf why = BUF_INIT, p = BUF_INIT;
	assert_int_equal(folder_create(e->root, "A", &why), 0);
	assert_int_equal(folder_create(e->root, "B/C", &why), 0);
	add_msg(e, "A", "new one\n", NULL, NULL, NULL);
	add_msg(e, "A", "seen one\n", "S", NULL, NULL);
	struct folder_list l, t;
	list_n(e, "A", &l, 2);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(folder_move(e->root, "A", &l.msgs[i], "B/C", &why),
		                 0);
	assert_int_equal(why.len, 0);
	list_n(e, "A", &t, 0);
	folder_list_free(&t);
	list_n(e, "B/C", &t, 2);
	for (size_t i = 0; i < 2; i++) {
		/* Same name, same subdirectory, same contents. */
		size_t j = strcmp(t.msgs[0].name, l.msgs[i].name) == 0 ? 0 : 1;
		assert_string_equal(t.msgs[j].name, l.msgs[i].name);
		assert_int_equal(t.msgs[j].in_new, l.msgs[i].in_new);
		assert_string_equal(t.msgs[j].flags, l.msgs[i].flags);
		assert_int_equal(t.msgs[j].size, l.msgs[i].size);
		assert_non_null(strstr(t.msgs[j].path, "/.B.C/"));
	}
	folder_list_free(&l);

	/* Back to INBOX, where a file of the same name already is: the
	 * message gets a fresh name and neither file is lost. */
	struct folder_msg *m = &t.msgs[0];
	buf_printf(&p, "%s/%s/%s", e->root, m->in_new ? "new" : "cur", m->name);
	write_file(buf_cstr(&p), "other\n");
	assert_int_equal(folder_move(e->root, "B/C", m, "inbox", &why), 0);
	assert_file_is(p.data, "other\n");
	list_n(e, "INBOX", &l, 2);
	size_t moved = strcmp(l.msgs[0].name, m->name) == 0 ? 1 : 0;
	assert_string_not_equal(l.msgs[moved].name, m->name);
	assert_int_equal(l.msgs[moved].time, m->time);
	assert_string_equal(l.msgs[moved].flags, m->flags);
	assert_int_equal(l.msgs[moved].in_new, m->in_new);
	assert_int_equal(l.msgs[moved].size, m->size);
	assert_false(exists(m->path));
	folder_list_free(&l);

	/* No such target; the same folder; a source gone meanwhile. */
	buf_reset(&why);
	assert_int_equal(folder_move(e->root, "B/C", &t.msgs[1], "Nope", &why),
	                 -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(buf_cstr(&why), "no folder 'Nope'");
	buf_reset(&why);
	assert_int_equal(folder_move(e->root, "B/C", &t.msgs[1], "B/C", &why),
	                 -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(buf_cstr(&why), "already in folder 'B/C'"));
	assert_true(exists(t.msgs[1].path));
	assert_int_equal(unlink(t.msgs[1].path), 0);
	buf_reset(&why);
	assert_int_equal(folder_move(e->root, "B/C", &t.msgs[1], "A", &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(buf_cstr(&why), "is gone"));
	folder_list_free(&t);
	buf_free(&why);
	buf_free(&p);
}

static void test_rename_with_subfolders(void **state)
{
	struct env *e = *state;
	struct buf why = BUF_INIT, p = BUF_INIT, names = BUF_INIT;
	assert_int_equal(folder_create(e->root, "A/x/y", &why), 0);
	assert_int_equal(folder_create(e->root, "AB", &why), 0);
	add_msg(e, "A/x", "kept\n", "S", NULL, NULL);
	assert_int_equal(folder_rename(e->root, "A", "B", &why), 0);
	assert_int_equal(why.len, 0);
	assert_int_equal(folder_names(e->root, &names, NULL), 0);
	assert_string_equal(buf_cstr(&names), "INBOX\nAB\nB\nB/x\nB/x/y\n");
	assert_false(exists(path_of(&p, e->root, ".A")));
	assert_false(exists(path_of(&p, e->root, ".A.x")));
	struct folder_list l;
	list_n(e, "B/x", &l, 1);
	assert_file_is(l.msgs[0].path, "kept\n");
	folder_list_free(&l);

	/* Into a new parent, which is created. */
	assert_int_equal(folder_rename(e->root, "B/x", "P/Q", &why), 0);
	buf_reset(&names);
	assert_int_equal(folder_names(e->root, &names, NULL), 0);
	assert_string_equal(buf_cstr(&names), "INBOX\nAB\nB\nP\nP/Q\nP/Q/y\n");

	/* Refusals, each leaving everything as it was. */
	const struct {
		const char *from, *to, *msg;
		int err;
	} bad[] = {
		{"B", "AB", "folder 'AB' already exists", EEXIST},
		{"Nope", "Z", "no folder 'Nope'", ENOENT},
		{"INBOX", "Z", "INBOX cannot be renamed", EINVAL},
		{"inbox", "Z", "INBOX cannot be renamed", EINVAL},
		{"B", "Inbox", "folder 'INBOX' already exists", EEXIST},
		{"B", "B", "folder 'B' already exists", EEXIST},
		{"B", "a.b", "bad folder name 'a.b'", EINVAL},
		{"B", "B/new", "folder 'B' cannot be moved into itself", EINVAL},
		{"P/Q", "P/Q/y/z", "cannot be moved into itself", EINVAL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		buf_reset(&why);
		assert_int_equal(folder_rename(e->root, bad[i].from, bad[i].to,
		                               &why), -1);
		assert_int_equal(errno, bad[i].err);
		assert_non_null(strstr(buf_cstr(&why), bad[i].msg));
	}
	/* A directory of a subfolder's new name in the way (no cur/, so no
	 * folder): nothing moves. */
	assert_int_equal(mkdir(path_of(&p, e->root, ".C.Q"), 0700), 0);
	buf_reset(&why);
	assert_int_equal(folder_rename(e->root, "P", "C", &why), -1);
	assert_int_equal(errno, EEXIST);
	buf_reset(&p);
	buf_printf(&p, "cannot rename folder 'P' to 'C': %s/.C.Q is in the way",
	           e->root);
	assert_string_equal(buf_cstr(&why), p.data);
	buf_reset(&names);
	assert_int_equal(folder_names(e->root, &names, NULL), 0);
	assert_string_equal(buf_cstr(&names), "INBOX\nAB\nB\nP\nP/Q\nP/Q/y\n");
	/* An unrelated orphan is no obstacle. */
	assert_int_equal(rmdir(path_of(&p, e->root, ".C.Q")), 0);
	assert_int_equal(fs_mkdirs(path_of(&p, e->root, ".C.y/cur"), 0700), 0);
	assert_int_equal(folder_rename(e->root, "P", "C", &why), 0);
	buf_reset(&names);
	assert_int_equal(folder_names(e->root, &names, NULL), 0);
	assert_string_equal(buf_cstr(&names), "INBOX\nAB\nB\nC\nC/Q\nC/Q/y\n"
	                    "C/y\n");
	assert_true(folder_exists(e->root, "C/Q/y"));
	buf_free(&why);
	buf_free(&p);
	buf_free(&names);
}

static void test_delete_recursive(void **state)
{
	struct env *e = *state;
	struct buf why = BUF_INIT, p = BUF_INIT, q = BUF_INIT, names = BUF_INIT;
	assert_int_equal(folder_create(e->root, "A/x/y", &why), 0);
	assert_int_equal(folder_create(e->root, "AB", &why), 0);
	add_msg(e, "A", "one\n", NULL, NULL, NULL);
	add_msg(e, "A/x", "two\n", "S", NULL, NULL);
	add_msg(e, "AB", "three\n", NULL, NULL, NULL);
	/* Things outside the root that symlinks point at: they must stay. */
	write_file(path_of(&q, e->base, "precious"), "keep me");
	assert_int_equal(mkdir(path_of(&q, e->base, "outside"), 0700), 0);
	write_file(path_of(&q, e->base, "outside/file"), "keep me too");
	assert_int_equal(symlink(path_of(&q, e->base, "precious"),
	                         path_of(&p, e->root, ".A/cur/link:2,S")), 0);
	assert_int_equal(symlink(path_of(&q, e->base, "outside"),
	                         path_of(&p, e->root, ".A.x/new/dirlink")), 0);
	assert_int_equal(symlink(path_of(&q, e->base, "outside"),
	                         path_of(&p, e->root, ".A.link")), 0);
	/* Another program's files and directories inside the folder. */
	assert_int_equal(fs_mkdirs(path_of(&p, e->root, ".A/cur/junk/deeper"),
	                           0700), 0);
	write_file(path_of(&p, e->root, ".A/dovecot-uidlist"), "3 V1\n");
	write_file(path_of(&p, e->root, ".A/tmp/half"), "partial");

	assert_int_equal(folder_delete(e->root, "A", &why), 0);
	assert_int_equal(why.len, 0);
	assert_false(exists(path_of(&p, e->root, ".A")));
	assert_false(exists(path_of(&p, e->root, ".A.x")));
	assert_false(exists(path_of(&p, e->root, ".A.x.y")));
	assert_false(exists(path_of(&p, e->root, ".A.link")));
	assert_file_is(path_of(&q, e->base, "precious"), "keep me");
	assert_file_is(path_of(&q, e->base, "outside/file"), "keep me too");
	assert_int_equal(folder_names(e->root, &names, NULL), 0);
	assert_string_equal(buf_cstr(&names), "INBOX\nAB\n");
	struct folder_list l;
	list_n(e, "AB", &l, 1);
	folder_list_free(&l);

	/* A subfolder alone; then refusals. */
	assert_int_equal(folder_create(e->root, "AB/z", &why), 0);
	assert_int_equal(folder_delete(e->root, "AB/z", &why), 0);
	assert_true(folder_exists(e->root, "AB"));
	assert_false(folder_exists(e->root, "AB/z"));
	buf_reset(&why);
	assert_int_equal(folder_delete(e->root, "INBOX", &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(buf_cstr(&why), "INBOX cannot be deleted");
	buf_reset(&why);
	assert_int_equal(folder_delete(e->root, "Inbox", &why), -1);
	assert_int_equal(errno, EINVAL);
	buf_reset(&why);
	assert_int_equal(folder_delete(e->root, "A", &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(buf_cstr(&why), "no folder 'A'");
	buf_reset(&why);
	assert_int_equal(folder_delete(e->root, "../x", &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(folder_exists(e->root, "INBOX"));
	buf_free(&why);
	buf_free(&p);
	buf_free(&q);
	buf_free(&names);
}

static void test_list_ignores_junk(void **state)
{
	struct env *e = *state;
	struct buf p = BUF_INIT;
	write_file(path_of(&p, e->root, "new/.hidden"), "x");
	write_file(path_of(&p, e->root, "cur/.dotfile:2,S"), "x");
	assert_int_equal(mkdir(path_of(&p, e->root, "cur/subdir"), 0700), 0);
	assert_int_equal(mkdir(path_of(&p, e->root, "new/1.dir,S=5"), 0700), 0);
	write_file(path_of(&p, e->root, "tmp/123.R1.host,S=1"), "x");
	assert_int_equal(mkfifo(path_of(&p, e->root, "new/fifo"), 0600), 0);
	assert_int_equal(symlink("/etc/passwd",
	                         path_of(&p, e->root, "cur/9.link:2,S")), 0);
	/* Messages: no digits (time from mtime), no S= (size from stat),
	 * digits and S= (believed), ":1," info (no flags). */
	write_file(path_of(&p, e->root, "new/foreign"), "12345");
	struct timespec ts[2] = {{.tv_sec = 1500}, {.tv_sec = 1500}};
	assert_int_equal(utimensat(AT_FDCWD, p.data, ts, 0), 0);
	write_file(path_of(&p, e->root, "cur/1000.M1.h:2,ST"), "abc");
	write_file(path_of(&p, e->root, "cur/2000.M2.h,S=42:2,F"), "short");
	write_file(path_of(&p, e->root, "new/1000.A.h:1,S"), "");

	struct folder_list l;
	list_n(e, "INBOX", &l, 4);
	assert_string_equal(l.msgs[0].name, "1000.A.h:1,S");
	assert_string_equal(l.msgs[0].flags, "");
	assert_true(l.msgs[0].in_new);
	assert_string_equal(l.msgs[1].name, "1000.M1.h:2,ST");
	assert_int_equal(l.msgs[1].time, 1000);
	assert_int_equal(l.msgs[1].size, 3);
	assert_string_equal(l.msgs[1].flags, "ST");
	assert_false(l.msgs[1].in_new);
	assert_string_equal(l.msgs[2].name, "foreign");
	assert_int_equal(l.msgs[2].time, 1500);
	assert_int_equal(l.msgs[2].size, 5);
	assert_string_equal(l.msgs[3].name, "2000.M2.h,S=42:2,F");
	assert_int_equal(l.msgs[3].size, 42);
	assert_string_equal(l.msgs[3].flags, "F");
	folder_list_free(&l);
	buf_free(&p);
}

static void test_missing_folder(void **state)
{
	struct env *e = *state;
	struct buf why = BUF_INIT, p = BUF_INIT;
	struct folder_list l;
	assert_int_equal(folder_list(e->root, "Nope", &l, &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(buf_cstr(&why), "no folder 'Nope'");
	assert_int_equal(l.n, 0);
	assert_null(l.msgs);
	folder_list_free(&l);
	/* A directory without cur/ is no folder either. */
	assert_int_equal(mkdir(path_of(&p, e->root, ".Half"), 0700), 0);
	assert_int_equal(folder_list(e->root, "Half", &l, NULL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(folder_list(e->root, "a//b", &l, NULL), -1);
	assert_int_equal(errno, EINVAL);
	/* No root at all. */
	buf_reset(&why);
	assert_int_equal(folder_list(path_of(&p, e->base, "none"), "INBOX", &l,
	                             &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(buf_cstr(&why), "no folder 'INBOX'");
	buf_free(&why);
	buf_free(&p);
}

static void test_remove(void **state)
{
	struct env *e = *state;
	struct buf why = BUF_INIT;
	add_msg(e, "INBOX", "a\n", NULL, NULL, NULL);
	add_msg(e, "INBOX", "b\n", "S", NULL, NULL);
	struct folder_list l;
	list_n(e, "INBOX", &l, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(folder_remove(e->root, "INBOX", &l.msgs[i], &why),
		                 0);
		assert_false(exists(l.msgs[i].path));
	}
	/* Already gone is fine. */
	assert_int_equal(folder_remove(e->root, "INBOX", &l.msgs[0], &why), 0);
	assert_int_equal(why.len, 0);
	assert_int_equal(folder_remove(e->root, "Nope", &l.msgs[0], &why), -1);
	assert_int_equal(errno, ENOENT);
	/* A name that would leave the directory is refused. */
	struct folder_msg evil = {.name = "../../x", .in_new = 1};
	assert_int_equal(folder_remove(e->root, "INBOX", &evil, NULL), -1);
	assert_int_equal(errno, EINVAL);
	folder_list_free(&l);
	list_n(e, "INBOX", &l, 0);
	folder_list_free(&l);
	buf_free(&why);
}

/* Modes do not stop root, so this runs only for other users. */
static void test_permission_denied(void **state)
{
	struct env *e = *state;
	if (geteuid() == 0)
		skip();
	struct buf why = BUF_INIT, p = BUF_INIT;
	add_msg(e, "INBOX", "x\n", NULL, NULL, NULL);
	struct folder_list l;
	list_n(e, "INBOX", &l, 1);
	assert_int_equal(chmod(path_of(&p, e->root, "cur"), 0500), 0);
	assert_int_equal(folder_add(e->root, "INBOX", "y\n", 2, "S", NULL, NULL,
	                            &why), -1);
	assert_int_equal(errno, EACCES);
	buf_reset(&p);
	buf_printf(&p, "cannot write %s/cur: Permission denied", e->root);
	assert_string_equal(buf_cstr(&why), p.data);
	assert_int_equal(count_entries(path_of(&p, e->root, "tmp")), 0);

	buf_reset(&why);
	assert_int_equal(folder_set_flags(e->root, "INBOX", &l.msgs[0], "S",
	                                  NULL, &why), -1);
	assert_int_equal(errno, EACCES);
	assert_true(l.msgs[0].in_new);
	assert_true(exists(l.msgs[0].path));
	assert_non_null(strstr(buf_cstr(&why), "Permission denied"));
	assert_int_equal(chmod(path_of(&p, e->root, "cur"), 0700), 0);

	/* A folder that cannot be deleted says where it got stuck. */
	assert_int_equal(folder_create(e->root, "A", &why), 0);
	add_msg(e, "A", "z\n", "S", NULL, NULL);
	assert_int_equal(chmod(path_of(&p, e->root, ".A/cur"), 0500), 0);
	buf_reset(&why);
	assert_int_equal(folder_delete(e->root, "A", &why), -1);
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(buf_cstr(&why), "cannot delete "));
	assert_non_null(strstr(why.data, "/.A/cur/"));
	assert_int_equal(chmod(path_of(&p, e->root, ".A/cur"), 0700), 0);
	assert_int_equal(folder_delete(e->root, "A", &why), 0);

	/* Unreadable new/: listing fails with the path. */
	assert_int_equal(chmod(path_of(&p, e->root, "new"), 0), 0);
	folder_list_free(&l);
	buf_reset(&why);
	assert_int_equal(folder_list(e->root, "INBOX", &l, &why), -1);
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(buf_cstr(&why), "cannot read "));
	assert_int_equal(l.n, 0);
	assert_int_equal(chmod(path_of(&p, e->root, "new"), 0700), 0);
	buf_free(&why);
	buf_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
#define R(f) cmocka_unit_test_setup_teardown(f, setup_root, teardown_dir)
		T(test_root_init),
		T(test_path_good_names),
		T(test_path_bad_names),
		T(test_create_nested),
		T(test_names_order),
		R(test_add_without_flags),
		R(test_add_with_flags),
		R(test_add_errors),
		R(test_tag),
		R(test_set_flags),
		R(test_set_flags_keeps_foreign),
		R(test_move),
		R(test_rename_with_subfolders),
		R(test_delete_recursive),
		R(test_list_ignores_junk),
		R(test_missing_folder),
		R(test_remove),
		R(test_permission_denied),
#undef R
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
