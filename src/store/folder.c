/* folder: the mail client's Maildir++ folders (see folder.h). A name maps to
 * one directory and back ("A/B" <-> ".A.B"); messages are written to tmp/,
 * fsync'd and renamed into new/ or cur/ before the directory is fsync'd;
 * deleting a folder never follows a symlink out of the mail root. */
#include "folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fs.h"
#include "maildir.h"

#define FOLDER_NAME_MAX 200
#define FOLDER_TAG_MAX 64
/* Fresh names drawn after collisions; with 64 random bits a second draw
 * already means something else is wrong. */
#define FOLDER_NAME_TRIES 5
/* Levels folder_delete descends below a folder directory (cur/ is one);
 * a deeper tree is somebody else's data, not a mail folder. */
#define FOLDER_DEPTH_MAX 16
/* Longest folder name quoted whole in a message; longer ones are cut. */
#define FOLDER_QUOTE_MAX 80
#define FOLDER_FLAG_LETTERS "DFPRST"

/* Appends a sentence to why (when given) and sets errno to err. Always -1,
 * so error paths read "return folder_fail(...)". */
__attribute__((format(printf, 3, 4)))
static int folder_fail(struct buf *why, int err, const char *fmt, ...)
{
	if (why) {
		va_list ap;
		va_start(ap, fmt);
		buf_vprintf(why, fmt, ap);
		va_end(ap);
	}
	errno = err;
	return -1;
}

static int folder_nomem(struct buf *why)
{
	return folder_fail(why, ENOMEM, "out of memory");
}

static int folder_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* Length of the UTF-8 sequence at p (at most n bytes), 0 when it is not
 * one: overlong forms, surrogates and values past U+10FFFF included. */
static size_t folder_utf8_len(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (len == 0 || p[0] > 0xf4 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

/* A character that a terminal would act on: C0, DEL and C1 (U+0080 to
 * U+009F, "\xc2\x80".."\xc2\x9f"). */
static int folder_is_control(const unsigned char *p)
{
	return p[0] < 0x20 || p[0] == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0);
}

/* The problem with the characters of name, or NULL. */
static const char *folder_char_problem(const char *name, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;
	for (size_t i = 0; i < len;) {
		size_t n = folder_utf8_len(p + i, len - i);
		if (n == 0)
			return "it is not valid UTF-8";
		if (folder_is_control(p + i))
			return "it contains a control character";
		if (p[i] == '.')
			return "it contains '.', which Maildir++ uses between "
			       "levels (use '/')";
		i += n;
	}
	return NULL;
}

/* Why name is no good folder name (a phrase for "bad folder name 'x': "),
 * or NULL when it is good. */
static const char *folder_name_problem(const char *name)
{
	size_t len = strlen(name);
	if (len == 0)
		return "it is empty";
	if (len > FOLDER_NAME_MAX)
		return "it is longer than 200 bytes";
	const char *p = folder_char_problem(name, len);
	if (p)
		return p;
	if (name[0] == '/' || name[len - 1] == '/')
		return "it starts or ends with '/'";
	for (const char *s = name; *s;) {
		size_t n = strcspn(s, "/");
		if (n == 0)
			return "it has an empty level ('//')";
		if (s[0] == ' ' || s[n - 1] == ' ')
			return "a level starts or ends with a space";
		s += n + (s[n] == '/');
	}
	if (strncasecmp(name, "INBOX/", 6) == 0)
		return "INBOX cannot have subfolders";
	return NULL;
}

/* Appends name to why for a message: bytes a terminal could act on, or
 * that are not UTF-8, as \xNN; cut after FOLDER_QUOTE_MAX bytes. */
static void folder_quote(struct buf *why, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len = strlen(name);
	for (size_t i = 0; i < len && i < FOLDER_QUOTE_MAX;) {
		size_t n = folder_utf8_len(p + i, len - i);
		if (n == 0 || folder_is_control(p + i)) {
			buf_printf(why, "\\x%02x", p[i]);
			i++;
			continue;
		}
		buf_append(why, p + i, n);
		i += n;
	}
	if (len > FOLDER_QUOTE_MAX)
		buf_puts(why, "...");
}

/* -1 with errno EINVAL and "bad folder name 'x': ..." unless name is good. */
static int folder_check_name(const char *name, struct buf *why)
{
	const char *problem = name ? folder_name_problem(name) : "it is missing";
	if (!problem)
		return 0;
	if (why) {
		buf_puts(why, "bad folder name '");
		if (name)
			folder_quote(why, name);
		buf_printf(why, "': %s", problem);
	}
	errno = EINVAL;
	return -1;
}

int folder_path(const char *root, const char *name, struct buf *out,
                struct buf *why)
{
	if (!root || !*root)
		return folder_fail(why, EINVAL, "no mail directory given");
	if (folder_check_name(name, why) < 0)
		return -1;
	size_t old = out->len;
	size_t rlen = strlen(root);
	while (rlen > 1 && root[rlen - 1] == '/')
		rlen--;
	int r = buf_append(out, root, rlen);
	if (r == 0 && !folder_is_inbox(name)) {
		r = buf_puts(out, root[rlen - 1] == '/' ? "." : "/.");
		for (const char *s = name; r == 0 && *s; s++)
			r = buf_putc(out, *s == '/' ? '.' : *s);
	}
	if (r < 0) {
		buf_truncate(out, old);
		return folder_nomem(why);
	}
	return 0;
}

/* The directory of folder name into dir (replacing it) as a C string. */
static int folder_dir(const char *root, const char *name, struct buf *dir,
                      struct buf *why)
{
	buf_reset(dir);
	if (folder_path(root, name, dir, why) < 0)
		return -1;
	if (!buf_cstr(dir))
		return folder_nomem(why);
	return 0;
}

/* "dir/sub" or "dir/sub/name" into out (replacing it); NULL when out of
 * memory or name is not a plain file name (fs_join's rule: a name from a
 * listing must not lead out of its directory). */
static const char *folder_sub(struct buf *out, const char *dir,
                              const char *sub, const char *name)
{
	buf_reset(out);
	if (name && (!*name || !strcmp(name, ".") || !strcmp(name, "..") ||
	             strchr(name, '/'))) {
		errno = EINVAL;
		return NULL;
	}
	if (buf_printf(out, "%s/%s%s%s", dir, sub, name ? "/" : "",
	               name ? name : "") < 0 || !buf_cstr(out)) {
		errno = ENOMEM;
		return NULL;
	}
	return out->data;
}

static int folder_dir_exists(const char *dir)
{
	struct buf cur = BUF_INIT;
	struct stat st;
	int r = folder_sub(&cur, dir, "cur", NULL) && stat(cur.data, &st) == 0 &&
	        S_ISDIR(st.st_mode);
	buf_free(&cur);
	return r;
}

int folder_exists(const char *root, const char *name)
{
	struct buf dir = BUF_INIT;
	int r = folder_dir(root, name, &dir, NULL) == 0 &&
	        folder_dir_exists(dir.data);
	buf_free(&dir);
	return r;
}

/* The folder directory of an existing folder into dir, else -1 with "no
 * folder 'X'" (errno ENOENT) or the name's problem. */
static int folder_open_dir(const char *root, const char *name,
                           struct buf *dir, struct buf *why)
{
	if (folder_dir(root, name, dir, why) < 0)
		return -1;
	if (folder_dir_exists(dir->data))
		return 0;
	return folder_fail(why, ENOENT, "no folder '%s'", name);
}

int folder_root_init(const char *root, struct buf *why)
{
	if (!root || !*root)
		return folder_fail(why, EINVAL, "no mail directory given");
	if (maildir_create(root) < 0)
		return folder_fail(why, errno, "cannot create the mail directory "
		                   "%s: %s", root, strerror(errno));
	return 0;
}

/* A growable list of owned strings. */
struct folder_strings {
	char **v;
	size_t n, cap;
};

static int folder_strings_push(struct folder_strings *s, const char *str,
                               size_t len)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = cap <= SIZE_MAX / sizeof *v
		           ? realloc(s->v, cap * sizeof *v) : NULL;
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	/* str need not be NUL-terminated (a struct buf's data). */
	char *copy = len < SIZE_MAX ? malloc(len + 1) : NULL;
	if (!copy)
		return -1;
	memcpy(copy, str, len);
	copy[len] = '\0';
	s->v[s->n++] = copy;
	return 0;
}

static void folder_strings_free(struct folder_strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* The entries of root that belong to a folder: with prefix ".A", ".A" and
 * ".A.*"; with NULL every name starting with '.' but "." and "..". Any
 * file type: the callers decide (a symlink is renamed or unlinked as
 * itself, never followed). */
static int folder_scan_root(const char *root, const char *prefix,
                            struct folder_strings *out, struct buf *why)
{
	DIR *d = opendir(root);
	if (!d)
		return folder_fail(why, errno, "cannot read the mail directory "
		                   "%s: %s", root, strerror(errno));
	size_t plen = prefix ? strlen(prefix) : 0;
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			if (errno)
				r = folder_fail(why, errno, "cannot read the mail "
				                "directory %s: %s", root, strerror(errno));
			break;
		}
		const char *n = e->d_name;
		int take = prefix ? strncmp(n, prefix, plen) == 0 &&
		                    (n[plen] == '\0' || n[plen] == '.')
		                  : n[0] == '.' && strcmp(n, ".") && strcmp(n, "..");
		if (take && folder_strings_push(out, n, strlen(n)) < 0) {
			r = folder_nomem(why);
			break;
		}
	}
	closedir(d);
	return r;
}

/* Folder names sorted as a tree: '/' below every other byte, so "A/B"
 * comes right after "A", before "A B" and "A-B". */
static int folder_cmp_names(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a;
	const unsigned char *y = *(const unsigned char *const *)b;
	for (; *x && *x == *y; x++, y++)
		;
	unsigned cx = *x == '/' ? 1 : *x, cy = *y == '/' ? 1 : *y;
	return (int)cx - (int)cy;
}

/* Turns the directory entry ".A.B" into the folder name "A/B" in place
 * (dropping the dot); 1 when it names a real, valid folder other than
 * INBOX, 0 to skip it. */
static int folder_entry_name(const char *root, char *entry)
{
	struct buf dir = BUF_INIT;
	int ok = fs_join(root, entry, &dir) == 0 && buf_cstr(&dir) &&
	         folder_dir_exists(dir.data);
	buf_free(&dir);
	memmove(entry, entry + 1, strlen(entry));
	for (char *p = entry; *p; p++)
		if (*p == '.')
			*p = '/';
	return ok && !folder_name_problem(entry) && !folder_is_inbox(entry);
}

int folder_names(const char *root, struct buf *out, struct buf *why)
{
	if (!root || !*root)
		return folder_fail(why, EINVAL, "no mail directory given");
	struct folder_strings s = {0};
	if (folder_scan_root(root, NULL, &s, why) < 0) {
		int saved = errno;
		folder_strings_free(&s);
		errno = saved;
		return -1;
	}
	size_t kept = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (folder_entry_name(root, s.v[i]))
			s.v[kept++] = s.v[i];
		else
			free(s.v[i]);
	}
	s.n = kept;
	if (s.n)
		qsort(s.v, s.n, sizeof *s.v, folder_cmp_names);
	size_t old = out->len;
	int r = buf_puts(out, "INBOX\n");
	for (size_t i = 0; r == 0 && i < s.n; i++)
		r = buf_printf(out, "%s\n", s.v[i]);
	folder_strings_free(&s);
	if (r < 0) {
		buf_truncate(out, old);
		return folder_nomem(why);
	}
	return 0;
}

/* Creates the Maildir++ "maildirfolder" marker in dir when missing and
 * makes the new entry durable. */
static int folder_mark(const char *dir)
{
	struct buf path = BUF_INIT;
	int r = fs_join(dir, "maildirfolder", &path) < 0 || !buf_cstr(&path)
	        ? -1 : 0;
	int fd = r == 0 ? open(path.data, O_WRONLY | O_CREAT | O_EXCL |
	                       O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		close(fd);
		r = fs_fsync_dir(dir);
	} else if (r == 0 && errno != EEXIST) {
		r = -1;
	}
	int saved = errno;
	buf_free(&path);
	errno = saved;
	return r;
}

/* Creates the one folder name (its parents must exist or be harmless to
 * lack: Maildir++ keeps every level beside the others). */
static int folder_create_one(const char *root, const char *name,
                             struct buf *why)
{
	struct buf dir = BUF_INIT;
	int r = folder_dir(root, name, &dir, why);
	if (r == 0 && (maildir_create(dir.data) < 0 || folder_mark(dir.data) < 0))
		r = folder_fail(why, errno, "cannot create folder '%s' at %s: %s",
		                name, dir.data, strerror(errno));
	int saved = errno;
	buf_free(&dir);
	errno = saved;
	return r;
}

int folder_create(const char *root, const char *name, struct buf *why)
{
	if (folder_check_name(name, why) < 0 ||
	    folder_root_init(root, why) < 0)
		return -1;
	if (folder_is_inbox(name))
		return 0;
	char *copy = strdup(name);
	if (!copy)
		return folder_nomem(why);
	int r = 0;
	/* Each level from the top: "A", "A/B", "A/B/C". */
	for (char *p = copy; r == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		r = folder_create_one(root, copy, why);
		*p = saved;
		if (saved == '\0')
			break;
	}
	int saved_errno = errno;
	free(copy);
	errno = saved_errno;
	return r;
}

/* The directory entries of a rename: src[i] goes to dst[i]. */
struct folder_moves {
	struct folder_strings src, dst;
	size_t done;  /* renames carried out, for the way back */
};

static void folder_moves_free(struct folder_moves *mv)
{
	int saved = errno;
	folder_strings_free(&mv->src);
	folder_strings_free(&mv->dst);
	errno = saved;
}

/* Full paths "root/entry" for a and b into pa and pb. */
static int folder_two_paths(const char *root, const char *a, const char *b,
                            struct buf *pa, struct buf *pb)
{
	buf_reset(pa);
	buf_reset(pb);
	if (fs_join(root, a, pa) < 0 || fs_join(root, b, pb) < 0 ||
	    !buf_cstr(pa) || !buf_cstr(pb)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Fills mv->dst from mv->src (".A" -> ".B", ".A.x" -> ".B.x") and checks
 * that no target is in the way; from and to are the folder names. */
static int folder_plan_rename(const char *root, const char *from,
                              const char *to, const char *from_dir,
                              const char *to_dir, struct folder_moves *mv,
                              struct buf *why)
{
	size_t flen = strlen(from_dir), tlen = strlen(to_dir);
	struct buf path = BUF_INIT;
	int r = 0;
	for (size_t i = 0; r == 0 && i < mv->src.n; i++) {
		const char *rest = mv->src.v[i] + flen;
		struct buf d = BUF_INIT;
		struct stat st;
		if (buf_append(&d, to_dir, tlen) < 0 || buf_puts(&d, rest) < 0 ||
		    folder_strings_push(&mv->dst, d.data, d.len) < 0) {
			r = folder_nomem(why);
		} else {
			buf_reset(&path);
			if (fs_join(root, mv->dst.v[i], &path) < 0 || !buf_cstr(&path))
				r = folder_nomem(why);
			else if (lstat(path.data, &st) == 0)
				r = folder_fail(why, EEXIST, "cannot rename folder '%s' to "
				                "'%s': %s is in the way", from, to, path.data);
		}
		buf_free(&d);
	}
	int saved = errno;
	buf_free(&path);
	errno = saved;
	return r;
}

/* Carries out the renames of mv; on a failure undoes those done. */
static int folder_do_renames(const char *root, struct folder_moves *mv,
                             struct buf *why)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	int r = 0;
	for (; mv->done < mv->src.n; mv->done++) {
		size_t i = mv->done;
		if (folder_two_paths(root, mv->src.v[i], mv->dst.v[i], &a, &b) < 0) {
			r = folder_nomem(why);
			break;
		}
		if (maildir_rename_noreplace(a.data, b.data) < 0) {
			r = folder_fail(why, errno, "cannot rename %s to %s: %s",
			                a.data, b.data, strerror(errno));
			break;
		}
	}
	if (r < 0) {
		int saved = errno;
		while (mv->done > 0) {
			size_t i = --mv->done;
			if (folder_two_paths(root, mv->dst.v[i], mv->src.v[i], &a,
			                     &b) == 0)
				(void)rename(a.data, b.data);
		}
		errno = saved;
	}
	int saved = errno;
	buf_free(&a);
	buf_free(&b);
	errno = saved;
	return r;
}

/* The checks of a rename: both names good, neither INBOX, from there, to
 * not. */
static int folder_check_rename(const char *root, const char *from,
                               const char *to, struct buf *why)
{
	if (folder_check_name(from, why) < 0 || folder_check_name(to, why) < 0)
		return -1;
	if (folder_is_inbox(from))
		return folder_fail(why, EINVAL, "INBOX cannot be renamed");
	if (folder_is_inbox(to))
		return folder_fail(why, EEXIST, "folder 'INBOX' already exists");
	if (!folder_exists(root, from))
		return folder_fail(why, ENOENT, "no folder '%s'", from);
	if (folder_exists(root, to))
		return folder_fail(why, EEXIST, "folder '%s' already exists", to);
	/* "A" -> "A/B" would leave A/B without its parent A. */
	size_t flen = strlen(from);
	if (strncmp(to, from, flen) == 0 && to[flen] == '/')
		return folder_fail(why, EINVAL, "folder '%s' cannot be moved into "
		                   "itself", from);
	return 0;
}

/* "A/B/C" -> "A/B" into a new string, or NULL (errno ENOMEM) / "" copy
 * when there is no parent. */
static char *folder_parent(const char *name)
{
	const char *slash = strrchr(name, '/');
	return strndup(name, slash ? (size_t)(slash - name) : 0);
}

int folder_rename(const char *root, const char *from, const char *to,
                  struct buf *why)
{
	if (folder_check_rename(root, from, to, why) < 0)
		return -1;
	struct buf fd = BUF_INIT, td = BUF_INIT;
	struct folder_moves mv = {0};
	int r = folder_dir(root, from, &fd, why);
	if (r == 0)
		r = folder_dir(root, to, &td, why);
	/* Directory entries: the part after the root's path and '/'. */
	const char *from_entry = r == 0 ? strrchr(fd.data, '/') + 1 : NULL;
	const char *to_entry = r == 0 ? strrchr(td.data, '/') + 1 : NULL;
	if (r == 0)
		r = folder_scan_root(root, from_entry, &mv.src, why);
	if (r == 0)
		r = folder_plan_rename(root, from, to, from_entry, to_entry, &mv,
		                       why);
	char *parent = r == 0 ? folder_parent(to) : NULL;
	if (r == 0 && !parent)
		r = folder_nomem(why);
	if (r == 0 && *parent && !folder_exists(root, parent))
		r = folder_create(root, parent, why);
	if (r == 0)
		r = folder_do_renames(root, &mv, why);
	if (r == 0 && fs_fsync_dir(root) < 0)
		r = folder_fail(why, errno, "cannot write %s: %s", root,
		                strerror(errno));
	int saved = errno;
	free(parent);
	folder_moves_free(&mv);
	buf_free(&fd);
	buf_free(&td);
	errno = saved;
	return r;
}

/* Removes the entry name of parent: a directory with everything below it
 * (depth levels deep at most), anything else (symlinks too) by unlinking
 * the entry itself. where holds the path for messages; restored after. */
static int folder_remove_tree(int parent, const char *name, int depth,
                              struct buf *where)
{
	int fd = openat(parent, name,
	                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : -1;
		return errno == ENOENT ? 0 : -1;
	}
	DIR *d = depth <= FOLDER_DEPTH_MAX ? fdopendir(fd) : NULL;
	if (!d) {
		int saved = depth <= FOLDER_DEPTH_MAX ? errno : ELOOP;
		close(fd);
		errno = saved;
		return -1;
	}
	size_t mark = where->len;
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			r = errno ? -1 : 0;
			break;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		buf_truncate(where, mark);
		buf_printf(where, "/%s", e->d_name);
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
			r = unlinkat(dirfd(d), e->d_name, 0) == 0 || errno == ENOENT
			    ? 0 : -1;
		} else {
			r = folder_remove_tree(dirfd(d), e->d_name, depth + 1, where);
		}
		if (r < 0)
			break;
	}
	int saved = errno;
	closedir(d);
	if (r == 0) {
		buf_truncate(where, mark);
		if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			r = -1;
			saved = errno;
		}
	}
	errno = saved;
	return r;
}

/* Removes every entry of s from root, subfolders first (sorted backwards
 * ".A.x" comes before ".A"), so a crash leaves the parent listed, never
 * a child without it. */
static int folder_remove_entries(const char *root, struct folder_strings *s,
                                 struct buf *why)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return folder_fail(why, errno, "cannot read the mail directory "
		                   "%s: %s", root, strerror(errno));
	struct buf where = BUF_INIT;
	int r = 0;
	for (size_t i = s->n; r == 0 && i-- > 0;) {
		buf_reset(&where);
		buf_printf(&where, "%s/%s", root, s->v[i]);
		if (folder_remove_tree(rootfd, s->v[i], 0, &where) < 0)
			r = folder_fail(why, errno, "cannot delete %s: %s",
			                buf_cstr(&where) ? where.data : root,
			                strerror(errno));
	}
	if (r == 0 && fsync(rootfd) < 0)
		r = folder_fail(why, errno, "cannot write %s: %s", root,
		                strerror(errno));
	int saved = errno;
	close(rootfd);
	buf_free(&where);
	errno = saved;
	return r;
}

static int folder_cmp_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int folder_delete(const char *root, const char *name, struct buf *why)
{
	struct buf dir = BUF_INIT;
	struct folder_strings s = {0};
	int r = folder_check_name(name, why);
	if (r == 0 && folder_is_inbox(name))
		r = folder_fail(why, EINVAL, "INBOX cannot be deleted");
	if (r == 0)
		r = folder_open_dir(root, name, &dir, why);
	if (r == 0)
		r = folder_scan_root(root, strrchr(dir.data, '/') + 1, &s, why);
	if (r == 0) {
		if (s.n)
			qsort(s.v, s.n, sizeof *s.v, folder_cmp_strings);
		r = folder_remove_entries(root, &s, why);
	}
	int saved = errno;
	folder_strings_free(&s);
	buf_free(&dir);
	errno = saved;
	return r;
}

/* The seconds a name starts with ("SECONDS.R..."): 1 with *t set, 0 when
 * it does not start with a digit or they do not fit. */
static int folder_name_time(const char *name, int64_t *t)
{
	if (*name < '0' || *name > '9')
		return 0;
	int64_t v = 0;
	for (; *name >= '0' && *name <= '9'; name++) {
		int d = *name - '0';
		if (v > (INT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*t = v;
	return 1;
}

/* The flag letters of name's ":2," info ("" when it has none). */
static const char *folder_name_info(const char *name)
{
	const char *p = name + maildir_base_len(name);
	return strncmp(p, ":2,", 3) == 0 ? p + 3 : "";
}

/* Sorted, unique flag letters: present[c] for the bytes to keep. */
static void folder_flags_string(const unsigned char present[256], char *out,
                                size_t cap)
{
	size_t n = 0;
	for (int c = 1; c < 256 && n + 1 < cap; c++)
		if (present[c])
			out[n++] = (char)c;
	out[n] = '\0';
}

/* The standard flags (uppercase letters) of a name into flags[8]. */
static void folder_parse_flags(const char *name, char flags[8])
{
	unsigned char present[256] = {0};
	for (const char *p = folder_name_info(name); *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			present[(unsigned char)*p] = 1;
	folder_flags_string(present, flags, 8);
}

static int folder_msg_push(struct folder_list *l, size_t *cap,
                           const struct folder_msg *m)
{
	if (l->n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		void *p = c <= SIZE_MAX / sizeof *l->msgs
		          ? realloc(l->msgs, c * sizeof *l->msgs) : NULL;
		if (!p)
			return -1;
		l->msgs = p;
		*cap = c;
	}
	l->msgs[l->n++] = *m;
	return 0;
}

/* Adds the entry e of dir (open as dfd) to l unless it is no message (a
 * dot file, not a regular file, gone meanwhile). A name giving both the
 * time and the size costs no stat when d_type says it is a regular file. */
static int folder_list_entry(struct folder_list *l, size_t *cap, int dfd,
                             const char *dir, const struct dirent *e,
                             int in_new, struct buf *why)
{
	const char *name = e->d_name;
	if (name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
		return 0;
	struct folder_msg m = {.in_new = in_new};
	int have_time = folder_name_time(name, &m.time);
	unsigned long long size = 0;
	int have_size = maildir_name_field(name, maildir_base_len(name), 'S',
	                                   &size);
	m.size = size;
	if (e->d_type != DT_REG || !have_time || !have_size) {
		struct stat st;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT ? 0 : folder_fail(why, errno,
			       "cannot read %s/%s: %s", dir, name, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return 0;
		if (!have_time)
			m.time = (int64_t)st.st_mtim.tv_sec;
		if (!have_size)
			m.size = (uint64_t)st.st_size;
	}
	folder_parse_flags(name, m.flags);
	struct buf path = BUF_INIT;
	if (fs_join(dir, name, &path) < 0 || !(m.path = buf_steal(&path, NULL)) ||
	    !(m.name = strdup(name)) || folder_msg_push(l, cap, &m) < 0) {
		free(m.path);
		free(m.name);
		buf_free(&path);
		return folder_nomem(why);
	}
	return 0;
}

static int folder_list_sub(struct folder_list *l, size_t *cap,
                           const char *dir, int in_new, struct buf *why)
{
	struct buf sub = BUF_INIT;
	const char *path = folder_sub(&sub, dir, in_new ? "new" : "cur", NULL);
	DIR *d = path ? opendir(path) : NULL;
	int r = 0;
	if (!path)
		r = folder_nomem(why);
	else if (!d)
		r = folder_fail(why, errno, "cannot read %s: %s", path,
		                strerror(errno));
	while (d) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			if (errno)
				r = folder_fail(why, errno, "cannot read %s: %s", path,
				                strerror(errno));
			break;
		}
		if ((r = folder_list_entry(l, cap, dirfd(d), path, e, in_new,
		                           why)) < 0)
			break;
	}
	int saved = errno;
	if (d)
		closedir(d);
	buf_free(&sub);
	errno = saved;
	return r;
}

static int folder_cmp_msgs(const void *a, const void *b)
{
	const struct folder_msg *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(x->name, y->name);
}

int folder_list(const char *root, const char *name, struct folder_list *l,
                struct buf *why)
{
	memset(l, 0, sizeof *l);
	struct buf dir = BUF_INIT;
	size_t cap = 0;
	int r = folder_open_dir(root, name, &dir, why);
	if (r == 0)
		r = folder_list_sub(l, &cap, dir.data, 1, why);
	if (r == 0)
		r = folder_list_sub(l, &cap, dir.data, 0, why);
	int saved = errno;
	buf_free(&dir);
	if (r < 0) {
		folder_list_free(l);
		errno = saved;
		return -1;
	}
	if (l->n > 1)
		qsort(l->msgs, l->n, sizeof *l->msgs, folder_cmp_msgs);
	return 0;
}

void folder_list_free(struct folder_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->msgs[i].name);
		free(l->msgs[i].path);
	}
	free(l->msgs);
	memset(l, 0, sizeof *l);
}

/* "SECONDS.Ptag_<16 hex>.HOST,S=SIZE" (tag given) or
 * "SECONDS.R<16 hex>.HOST,S=SIZE", then ":2,FLAGS" when info is not NULL,
 * into name (replacing it). */
static int folder_make_name(struct buf *name, int64_t secs, const char *tag,
                            uint64_t size, const char *info)
{
	buf_reset(name);
	unsigned long long rnd = (unsigned long long)fs_random64();
	int r = tag ? buf_printf(name, "%lld.P%s_%016llx.", (long long)secs, tag,
	                         rnd)
	            : buf_printf(name, "%lld.R%016llx.", (long long)secs, rnd);
	if (r < 0 || maildir_host_part(name, NULL) < 0 ||
	    buf_printf(name, ",S=%llu", (unsigned long long)size) < 0 ||
	    (info && buf_printf(name, ":2,%s", info) < 0) || !buf_cstr(name)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static int folder_tag_valid(const char *tag)
{
	size_t n = strlen(tag);
	return n >= 1 && n <= FOLDER_TAG_MAX &&
	       strspn(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                   "0123456789") == n;
}

/* Sorted, unique letters of the standard flags in s into out[8]; -1 with
 * a sentence in why for any other character. */
static int folder_norm_flags(const char *s, char out[8], struct buf *why)
{
	unsigned char present[256] = {0};
	for (const char *p = s ? s : ""; *p; p++) {
		if (!strchr(FOLDER_FLAG_LETTERS, *p))
			return folder_fail(why, EINVAL, "unknown message flag '%c' "
			                   "(flags are D, F, P, R, S and T)",
			                   *p > 0x20 && *p < 0x7f ? *p : '?');
		present[(unsigned char)*p] = 1;
	}
	folder_flags_string(present, out, 8);
	return 0;
}

/* The paths of one folder_add. */
struct folder_new {
	const char *dir;   /* folder directory */
	const void *data;
	size_t len;
	const char *flags; /* normalised; "" for new/ */
	const char *tag;
	struct buf name;   /* final name */
	struct buf tmp;    /* DIR/tmp/BASE */
	struct buf dst;    /* DIR/new/NAME or DIR/cur/NAME */
	struct buf dstdir; /* DIR/new or DIR/cur */
};

/* Writes data to n->tmp exclusively and fsyncs it. 1 done, 0 the name is
 * taken, -1 failed (nothing left behind). */
static int folder_write_tmp(struct folder_new *n, struct buf *why)
{
	int fd = open(n->tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	              O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		return folder_fail(why, errno, "cannot write %s/tmp: %s", n->dir,
		                   strerror(errno));
	}
	int r = fs_fsync_close(fd, fs_write_all(fd, n->data, n->len));
	int saved = errno;
	if (r < 0) {
		unlink(n->tmp.data);
		return folder_fail(why, saved, "cannot write %s: %s", n->tmp.data,
		                   strerror(saved));
	}
	return 1;
}

/* One attempt under a fresh name: 1 stored and durable, 0 the name was
 * taken (draw another), -1 failed with nothing left behind. */
static int folder_add_try(struct folder_new *n, struct buf *why)
{
	const char *info = *n->flags ? n->flags : NULL;
	if (folder_make_name(&n->name, (int64_t)time(NULL), n->tag, n->len,
	                     info) < 0)
		return folder_nomem(why);
	size_t base = maildir_base_len(n->name.data);
	struct buf b = BUF_INIT;
	int r = buf_append(&b, n->name.data, base) == 0 && buf_cstr(&b) &&
	        folder_sub(&n->tmp, n->dir, "tmp", b.data) &&
	        folder_sub(&n->dst, n->dir, info ? "cur" : "new", n->name.data)
	        ? 0 : folder_nomem(why);
	buf_free(&b);
	if (r == 0)
		r = folder_write_tmp(n, why);
	if (r <= 0)
		return r;
	if (maildir_rename_noreplace(n->tmp.data, n->dst.data) < 0) {
		int saved = errno;
		unlink(n->tmp.data);
		if (saved == EEXIST)
			return 0;
		return folder_fail(why, saved, "cannot write %s: %s",
		                   n->dstdir.data, strerror(saved));
	}
	if (fs_fsync_dir(n->dstdir.data) < 0) {
		int saved = errno;
		unlink(n->dst.data);
		return folder_fail(why, saved, "cannot write %s: %s",
		                   n->dstdir.data, strerror(saved));
	}
	return 1;
}

static void folder_new_free(struct folder_new *n)
{
	int saved = errno;
	buf_free(&n->name);
	buf_free(&n->tmp);
	buf_free(&n->dst);
	buf_free(&n->dstdir);
	errno = saved;
}

int folder_add(const char *root, const char *name, const void *data,
               size_t len, const char *flags, const char *tag,
               struct buf *name_out, struct buf *why)
{
	char fl[8];
	if (!data && len)
		return folder_fail(why, EINVAL, "no message given");
	if (tag && *tag && !folder_tag_valid(tag))
		return folder_fail(why, EINVAL, "bad message tag (1 to 64 letters "
		                   "and digits)");
	if (folder_norm_flags(flags, fl, why) < 0)
		return -1;
	struct buf dir = BUF_INIT;
	struct folder_new n = {.data = data, .len = len, .flags = fl,
	                       .tag = tag && *tag ? tag : NULL};
	int r = folder_open_dir(root, name, &dir, why);
	if (r == 0 && !folder_sub(&n.dstdir, dir.data, *fl ? "cur" : "new", NULL))
		r = folder_nomem(why);
	n.dir = dir.data;
	for (int i = 0; r == 0 && i < FOLDER_NAME_TRIES; i++)
		r = folder_add_try(&n, why);
	if (r == 0)
		r = folder_fail(why, EEXIST, "no unique file name found in %s",
		                n.dstdir.data);
	/* The message is stored even if reporting its name runs out of
	 * memory; a short name_out beats a false failure. */
	if (r > 0 && name_out)
		(void)buf_append(name_out, n.name.data, n.name.len);
	folder_new_free(&n);
	int saved = errno;
	buf_free(&dir);
	errno = saved;
	return r > 0 ? 0 : -1;
}

int folder_has_tag(const struct folder_list *l, const char *tag)
{
	if (!l || !tag || !folder_tag_valid(tag))
		return 0;
	char needle[FOLDER_TAG_MAX + 4];
	snprintf(needle, sizeof needle, ".P%s_", tag);
	for (size_t i = 0; i < l->n; i++)
		if (strstr(l->msgs[i].name, needle))
			return 1;
	return 0;
}

/* The path of message m in folder directory dir: DIR/new/NAME or
 * DIR/cur/NAME (NULL when out of memory or the name is not a plain file
 * name: a listing is trusted no further than that). */
static const char *folder_msg_path(struct buf *out, const char *dir,
                                   const struct folder_msg *m)
{
	return folder_sub(out, dir, m->in_new ? "new" : "cur", m->name);
}

/* The new name of m for folder_set_flags: its base name, ":2," and the
 * sorted union of its letters (standard or not) and add, minus del. */
static int folder_flagged_name(const struct folder_msg *m, const char *add,
                               const char *del, struct buf *out,
                               struct buf *why)
{
	char a[8], d[8];
	if (folder_norm_flags(add, a, why) < 0 ||
	    folder_norm_flags(del, d, why) < 0)
		return -1;
	unsigned char present[256] = {0};
	for (const char *p = folder_name_info(m->name); *p; p++)
		present[(unsigned char)*p] = 1;
	for (const char *p = a; *p; p++)
		present[(unsigned char)*p] = 1;
	for (const char *p = d; *p; p++)
		present[(unsigned char)*p] = 0;
	char letters[256];
	folder_flags_string(present, letters, sizeof letters);
	buf_reset(out);
	if (buf_append(out, m->name, maildir_base_len(m->name)) < 0 ||
	    buf_printf(out, ":2,%s", letters) < 0 || !buf_cstr(out))
		return folder_nomem(why);
	return 0;
}

/* Makes the rename of a message durable: dst's directory, and src's when
 * it is another. */
static int folder_sync_dirs(const char *src_dir, const char *dst_dir,
                            struct buf *why)
{
	if (fs_fsync_dir(dst_dir) < 0)
		return folder_fail(why, errno, "cannot write %s: %s", dst_dir,
		                   strerror(errno));
	if (strcmp(src_dir, dst_dir) != 0 && fs_fsync_dir(src_dir) < 0)
		return folder_fail(why, errno, "cannot write %s: %s", src_dir,
		                   strerror(errno));
	return 0;
}

/* The renames of a message: its folder directory, where it is and where
 * it goes, and the directories of both. */
struct folder_step {
	struct buf dir, from, to, from_dir, to_dir;
};

static void folder_step_free(struct folder_step *s)
{
	int saved = errno;
	buf_free(&s->dir);
	buf_free(&s->from);
	buf_free(&s->to);
	buf_free(&s->from_dir);
	buf_free(&s->to_dir);
	errno = saved;
}

/* Renames s->from to s->to (never over another file) and syncs both
 * directories; m names the message for messages. */
static int folder_step_run(struct folder_step *s, struct buf *why)
{
	if (maildir_rename_noreplace(s->from.data, s->to.data) < 0) {
		if (errno == ENOENT)
			return folder_fail(why, ENOENT, "message %s is gone (moved "
			                   "or deleted meanwhile?)", s->from.data);
		return folder_fail(why, errno, "cannot write %s: %s",
		                   s->to_dir.data, strerror(errno));
	}
	return folder_sync_dirs(s->from_dir.data, s->to_dir.data, why);
}

/* Renames m (in folder directory s->dir) to cur/newname and updates it. */
static int folder_rename_msg(struct folder_step *s, struct folder_msg *m,
                             const char *newname, struct buf *why)
{
	if (!folder_msg_path(&s->from, s->dir.data, m) ||
	    !folder_sub(&s->to, s->dir.data, "cur", newname) ||
	    !folder_sub(&s->from_dir, s->dir.data, m->in_new ? "new" : "cur",
	                NULL) ||
	    !folder_sub(&s->to_dir, s->dir.data, "cur", NULL))
		return folder_fail(why, EINVAL, "bad message file name '%s'",
		                   m->name);
	/* Allocated before the rename, so a success always updates m. */
	char *new_name = strdup(newname), *new_path = strdup(s->to.data);
	if (!new_name || !new_path) {
		free(new_name);
		free(new_path);
		return folder_nomem(why);
	}
	if (folder_step_run(s, why) < 0) {
		int saved = errno;
		free(new_name);
		free(new_path);
		errno = saved;
		return -1;
	}
	free(m->name);
	free(m->path);
	m->name = new_name;
	m->path = new_path;
	m->in_new = 0;
	folder_parse_flags(m->name, m->flags);
	return 0;
}

int folder_set_flags(const char *root, const char *name,
                     struct folder_msg *m, const char *add, const char *del,
                     struct buf *why)
{
	struct folder_step s = {0};
	struct buf newname = BUF_INIT;
	int r = folder_open_dir(root, name, &s.dir, why);
	if (r == 0)
		r = folder_flagged_name(m, add, del, &newname, why);
	/* Already so: nothing to rename, nothing to sync. */
	if (r == 0 && (m->in_new || strcmp(newname.data, m->name) != 0))
		r = folder_rename_msg(&s, m, newname.data, why);
	int saved = errno;
	buf_free(&newname);
	folder_step_free(&s);
	errno = saved;
	return r;
}

/* A fresh name for m when its own is taken in the target folder: the same
 * seconds (so it keeps its place in the order), a new R part, its size
 * and its info. */
static int folder_fresh_name(const struct folder_msg *m, struct buf *out)
{
	int64_t secs = m->time;
	(void)folder_name_time(m->name, &secs);
	const char *colon = strchr(m->name, ':');
	size_t start = out->len;
	if (folder_make_name(out, secs, NULL, m->size, NULL) < 0 ||
	    (colon && buf_puts(out, colon) < 0) || !buf_cstr(out)) {
		buf_truncate(out, start);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Paths of a move of m from folder directory src to dst under file name
 * file (m's own, or a fresh one). */
static int folder_move_paths(struct folder_step *s, const char *dst,
                             const struct folder_msg *m, const char *file)
{
	const char *sub = m->in_new ? "new" : "cur";
	return folder_msg_path(&s->from, s->dir.data, m) &&
	       folder_sub(&s->to, dst, sub, file) &&
	       folder_sub(&s->from_dir, s->dir.data, sub, NULL) &&
	       folder_sub(&s->to_dir, dst, sub, NULL) ? 0 : -1;
}

int folder_move(const char *root, const char *from, const struct folder_msg *m,
                const char *to, struct buf *why)
{
	struct folder_step s = {0};
	struct buf dst = BUF_INIT, fresh = BUF_INIT;
	int r = folder_open_dir(root, from, &s.dir, why);
	if (r == 0)
		r = folder_open_dir(root, to, &dst, why);
	if (r == 0 && strcmp(s.dir.data, dst.data) == 0)
		r = folder_fail(why, EINVAL, "the message is already in folder "
		                "'%s'", to);
	if (r == 0 && folder_move_paths(&s, dst.data, m, m->name) < 0)
		r = folder_fail(why, EINVAL, "bad message file name '%s'", m->name);
	int moving = r == 0;
	if (moving)
		r = folder_step_run(&s, NULL);
	/* Same name in the target (a copy made by another program): the
	 * message gets a new one rather than replacing that file. */
	for (int i = 0; r < 0 && errno == EEXIST && i < FOLDER_NAME_TRIES; i++) {
		buf_reset(&fresh);
		r = folder_fresh_name(m, &fresh) < 0 ||
		    folder_move_paths(&s, dst.data, m, fresh.data) < 0
		    ? folder_nomem(NULL) : folder_step_run(&s, NULL);
	}
	if (r < 0 && moving && errno == ENOENT)
		folder_fail(why, ENOENT, "message %s is gone (moved or deleted "
		            "meanwhile?)", s.from.data);
	else if (r < 0 && moving)
		folder_fail(why, errno, "cannot move %s to folder '%s': %s",
		            s.from.data, to, strerror(errno));
	int saved = errno;
	buf_free(&dst);
	buf_free(&fresh);
	folder_step_free(&s);
	errno = saved;
	return r;
}

int folder_remove(const char *root, const char *name,
                  const struct folder_msg *m, struct buf *why)
{
	struct buf dir = BUF_INIT, path = BUF_INIT, sub = BUF_INIT;
	int r = folder_open_dir(root, name, &dir, why);
	if (r == 0 && (!folder_msg_path(&path, dir.data, m) ||
	               !folder_sub(&sub, dir.data, m->in_new ? "new" : "cur",
	                           NULL)))
		r = folder_fail(why, EINVAL, "bad message file name '%s'", m->name);
	/* Already gone is what the caller wanted. */
	if (r == 0 && unlink(path.data) < 0 && errno != ENOENT)
		r = folder_fail(why, errno, "cannot delete %s: %s", path.data,
		                strerror(errno));
	if (r == 0 && fs_fsync_dir(sub.data) < 0)
		r = folder_fail(why, errno, "cannot write %s: %s", sub.data,
		                strerror(errno));
	int saved = errno;
	buf_free(&dir);
	buf_free(&path);
	buf_free(&sub);
	errno = saved;
	return r;
}
