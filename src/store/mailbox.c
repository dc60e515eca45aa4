/* mailbox: the POP3 view of a Maildir INBOX (see mailbox.h). The snapshot
 * is taken once, under the lock; sizes come from ",W=" in the name when the
 * writer recorded it (posthorn and Dovecot do), so a login reads no message
 * files, and files renamed by other readers are found again by base name. */
#include "mailbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../lib/fs.h"
#include "../msg/dotstuff.h"
#include "maildir.h"

/* In the Maildir root, where Maildir readers ignore plain files. It is
 * never removed: unlinking a lock file races with the next locker. */
#define MAILBOX_LOCK_NAME "posthorn-pop3.lock"
/* Read size when a message has to be counted (no W= in its name). */
#define MAILBOX_CHUNK 65536
/* How often a file renamed under us is looked for again before giving up;
 * each look means another process renamed it once more meanwhile. */
#define MAILBOX_FIND_TRIES 3
#define MAILBOX_FIRST_CAP 64

/* Appends "mailbox: what [dir[/sub[/name]]]: strerror" to err (when
 * given), after a "; " when err already holds a reason, so one commit can
 * report every failure; errno kept. */
static void mailbox_reason(struct buf *err, const char *what, const char *dir,
                           const char *sub, const char *name)
{
	int saved = errno;
	if (err) {
		buf_printf(err, "%smailbox: %s", err->len ? "; " : "", what);
		if (dir)
			buf_printf(err, " %s", dir);
		if (dir && sub)
			buf_printf(err, "/%s", sub);
		if (dir && sub && name)
			buf_printf(err, "/%s", name);
		buf_printf(err, ": %s", strerror(saved));
	}
	errno = saved;
}

/* "dir/sub" or "dir/sub/name" into out (replacing it). The C string, or
 * NULL with errno ENOMEM. */
static const char *mailbox_path(struct buf *out, const char *dir,
                                const char *sub, const char *name)
{
	buf_reset(out);
	if (buf_printf(out, "%s/%s%s%s", dir, sub, name ? "/" : "",
	               name ? name : "") < 0 || !buf_cstr(out)) {
		errno = ENOMEM;
		return NULL;
	}
	return out->data;
}

static const char *mailbox_msg_path(struct buf *out, const struct mailbox *mb,
                                    const struct mailbox_msg *m)
{
	return mailbox_path(out, mb->path, m->in_cur ? "cur" : "new", m->name);
}

static int mailbox_same_base(const char *a, const char *b)
{
	size_t n = maildir_base_len(a);
	return n == maildir_base_len(b) && memcmp(a, b, n) == 0;
}

/* RFC 1939 7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
static int mailbox_uid_valid(const char *base, size_t len)
{
	if (len == 0 || len > MAILBOX_UID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)base[i];
		if (c < 0x21 || c > 0x7e)
			return 0;
	}
	return 1;
}

/* The uid of a file name: its base name, or "x" and the MD5 of the base
 * name in hex when that is no valid uid. Both depend only on the base
 * name, so a uid survives flag changes, moves and restarts. 0, or -1
 * (errno ENOTSUP) when MD5 is not available (a FIPS-only OpenSSL). */
static int mailbox_make_uid(const char *name, char uid[MAILBOX_UID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t len = maildir_base_len(name);
	if (mailbox_uid_valid(name, len)) {
		memcpy(uid, name, len);
		uid[len] = '\0';
		return 0;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	if (!EVP_Digest(name, len, md, &md_len, EVP_md5(), NULL) ||
	    md_len != 16) {
		errno = ENOTSUP;
		return -1;
	}
	uid[0] = 'x';
	for (unsigned int i = 0; i < md_len; i++) {
		uid[1 + 2 * i] = hex[md[i] >> 4];
		uid[2 + 2 * i] = hex[md[i] & 15];
	}
	uid[1 + 2 * md_len] = '\0';
	return 0;
}

/* The RFC 1939 size of the regular file name in dirfd, read in chunks.
 * 0, or -1 with errno (ENOENT: it vanished). O_NONBLOCK so a FIFO put in
 * its place cannot hang the worker; on a regular file it changes nothing. */
static int mailbox_count_file(int dirfd, const char *name, char *chunk,
                              unsigned long long *size)
{
	int fd = openat(dirfd, name,
	                O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct msg_crlf_size cs;
	msg_crlf_size_init(&cs);
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, MAILBOX_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -1 : 0;
			break;
		}
		msg_crlf_size_feed(&cs, chunk, (size_t)n);
	}
	int saved = errno;
	close(fd);
	errno = saved;
	*size = msg_crlf_size_end(&cs);
	return r;
}

/* The state of one listing of new/ and cur/. */
struct mailbox_scan {
	struct mailbox *mb;
	size_t cap;        /* msgs allocated */
	char *chunk;       /* MAILBOX_CHUNK bytes, made on the first count */
	struct buf *err;
};

static int mailbox_push(struct mailbox_scan *sc, const struct mailbox_msg *m)
{
	struct mailbox *mb = sc->mb;
	if (mb->count == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : MAILBOX_FIRST_CAP;
		void *p = cap <= SIZE_MAX / sizeof *mb->msgs
		          ? realloc(mb->msgs, cap * sizeof *mb->msgs) : NULL;
		if (!p) {
			errno = ENOMEM;
			return -1;
		}
		mb->msgs = p;
		sc->cap = cap;
	}
	mb->msgs[mb->count++] = *m;
	return 0;
}

/* The size of a listed file: W= when its name has one that is possible
 * (a CRLF form is never shorter than the file), else counted. 0, or -1
 * with errno and *what saying which step failed. */
static int mailbox_scan_size(struct mailbox_scan *sc, int dirfd,
                             const char *name, const struct stat *st,
                             unsigned long long *size, const char **what)
{
	if (maildir_name_field(name, maildir_base_len(name), 'W', size) &&
	    *size >= (unsigned long long)st->st_size)
		return 0;
	*what = "cannot read";
	if (!sc->chunk && !(sc->chunk = malloc(MAILBOX_CHUNK))) {
		errno = ENOMEM;
		return -1;
	}
	return mailbox_count_file(dirfd, name, sc->chunk, size);
}

/* A login lists every file; a stat per file is most of its cost in a big
 * mailbox. A regular file (by d_type) whose name gives the delivery
 * seconds and both sizes, W= no less than S=, needs none: its name says
 * everything the snapshot keeps. 1 when m was filled that way. */
static int mailbox_scan_by_name(const char *name, unsigned char d_type,
                                struct mailbox_msg *m)
{
	size_t len = maildir_base_len(name);
	unsigned long long ssize, vsize;
	if (d_type != DT_REG || name[0] < '0' || name[0] > '9' ||
	    !maildir_name_field(name, len, 'S', &ssize) ||
	    !maildir_name_field(name, len, 'W', &vsize) || vsize < ssize)
		return 0;
	m->size = vsize;
	m->mtime = strtoll(name, NULL, 10);
	return 1;
}

/* Adds the entry name of new/ or cur/ (open as dirfd) to the snapshot.
 * 0 when it was added or is no message (a dot file, not a regular file,
 * vanished meanwhile); -1 with the reason in err. */
static int mailbox_scan_entry(struct mailbox_scan *sc, int dirfd,
                              const char *name, unsigned char d_type,
                              int in_cur)
{
	if (name[0] == '.')
		return 0;
	struct stat st;
	const char *what = "cannot stat";
	struct mailbox_msg m = {.in_cur = in_cur};
	if (mailbox_scan_by_name(name, d_type, &m))
		goto named;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode))
		return 0;
	m.mtime = (long long)st.st_mtim.tv_sec;
	if (mailbox_scan_size(sc, dirfd, name, &st, &m.size, &what) < 0)
		goto fail;
named:
	what = "cannot make a uid for";
	if (mailbox_make_uid(name, m.uid) < 0)
		goto fail;
	what = "no memory for";
	if (!(m.name = strdup(name)) || mailbox_push(sc, &m) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	free(m.name);
	if (errno == ENOENT)
		return 0; /* renamed or deleted by another reader */
	mailbox_reason(sc->err, what, sc->mb->path, in_cur ? "cur" : "new",
	               name);
	return -1;
}

static int mailbox_scan_dir(struct mailbox_scan *sc, int in_cur)
{
	const char *sub = in_cur ? "cur" : "new";
	struct buf dir = BUF_INIT;
	const char *path = mailbox_path(&dir, sc->mb->path, sub, NULL);
	DIR *d = path ? opendir(path) : NULL;
	buf_free(&dir);
	if (!d) {
		mailbox_reason(sc->err, "cannot list", sc->mb->path, sub, NULL);
		return -1;
	}
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			if (errno) {
				mailbox_reason(sc->err, "cannot list", sc->mb->path, sub,
				               NULL);
				r = -1;
			}
			break;
		}
		r = mailbox_scan_entry(sc, dirfd(d), e->d_name, e->d_type, in_cur);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* The seconds a Maildir name starts with ("SECONDS.R..."): the time of
 * delivery, which survives copies and restores that reset mtime. A name
 * without them sorts by its mtime instead. */
static long long mailbox_name_seconds(const struct mailbox_msg *m)
{
	const char *p = m->name;
	if (*p < '0' || *p > '9')
		return m->mtime;
	long long v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		int d = *p - '0';
		if (v > (LLONG_MAX - d) / 10)
			return LLONG_MAX;
		v = v * 10 + d;
	}
	return v;
}

static int mailbox_cmp_delivery(const void *a, const void *b)
{
	const struct mailbox_msg *x = a, *y = b;
	long long sx = mailbox_name_seconds(x), sy = mailbox_name_seconds(y);
	if (sx != sy)
		return sx < sy ? -1 : 1;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* By base name, a file in cur/ before one in new/ with the same base. */
static int mailbox_cmp_base(const void *a, const void *b)
{
	const struct mailbox_msg *x = a, *y = b;
	size_t lx = maildir_base_len(x->name), ly = maildir_base_len(y->name);
	int r = memcmp(x->name, y->name, lx < ly ? lx : ly);
	if (r != 0)
		return r;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return y->in_cur - x->in_cur;
}

/* A file another reader moved from new/ to cur/ between our two listings
 * was seen in both; one message must not have two numbers and one uid, so
 * only the cur/ entry (where it went) is kept. */
static void mailbox_drop_duplicates(struct mailbox *mb)
{
	if (mb->count < 2)
		return;
	qsort(mb->msgs, mb->count, sizeof *mb->msgs, mailbox_cmp_base);
	size_t kept = 1;
	for (size_t i = 1; i < mb->count; i++) {
		if (mailbox_same_base(mb->msgs[kept - 1].name, mb->msgs[i].name))
			free(mb->msgs[i].name);
		else
			mb->msgs[kept++] = mb->msgs[i];
	}
	mb->count = kept;
}

static int mailbox_list(struct mailbox *mb, struct buf *err)
{
	struct mailbox_scan sc = {.mb = mb, .err = err};
	int r = mailbox_scan_dir(&sc, 0);
	if (r == 0)
		r = mailbox_scan_dir(&sc, 1);
	free(sc.chunk);
	if (r < 0)
		return -1;
	mailbox_drop_duplicates(mb);
	if (mb->count > 1)
		qsort(mb->msgs, mb->count, sizeof *mb->msgs, mailbox_cmp_delivery);
	for (size_t i = 0; i < mb->count; i++) {
		unsigned long long s = mb->msgs[i].size;
		/* A foreign W= can be anything; STAT saturates, never wraps. */
		mb->total = s > ULLONG_MAX - mb->total ? ULLONG_MAX : mb->total + s;
	}
	return 0;
}

/* Takes the session lock. O_NOFOLLOW: a symlink planted in the Maildir
 * must not make a privileged daemon create or lock a file elsewhere. */
static enum mailbox_open_result mailbox_lock(struct mailbox *mb,
                                             struct buf *err)
{
	struct buf p = BUF_INIT;
	const char *path = mailbox_path(&p, mb->path, MAILBOX_LOCK_NAME, NULL);
	if (path)
		mb->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		                   0600);
	enum mailbox_open_result r = MAILBOX_OK;
	if (mb->lock_fd < 0) {
		mailbox_reason(err, "cannot open lock", mb->path,
		               MAILBOX_LOCK_NAME, NULL);
		r = MAILBOX_ERROR;
	}
	while (r == MAILBOX_OK && flock(mb->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			r = MAILBOX_LOCKED;
		} else {
			mailbox_reason(err, "cannot lock", mb->path,
			               MAILBOX_LOCK_NAME, NULL);
			r = MAILBOX_ERROR;
		}
	}
	buf_free(&p);
	return r;
}

enum mailbox_open_result mailbox_open(const char *path, struct mailbox **out,
                                      struct buf *err)
{
	if (!path || !*path || !out) {
		errno = EINVAL;
		mailbox_reason(err, "no Maildir given", NULL, NULL, NULL);
		return MAILBOX_ERROR;
	}
	if (maildir_create(path) < 0) {
		mailbox_reason(err, "cannot create", path, NULL, NULL);
		return MAILBOX_ERROR;
	}
	struct mailbox *mb = calloc(1, sizeof *mb);
	if (!mb || !(mb->path = strdup(path))) {
		free(mb);
		errno = ENOMEM;
		mailbox_reason(err, "no memory for", path, NULL, NULL);
		return MAILBOX_ERROR;
	}
	mb->lock_fd = -1;
	enum mailbox_open_result r = mailbox_lock(mb, err);
	if (r == MAILBOX_OK && mailbox_list(mb, err) < 0)
		r = MAILBOX_ERROR;
	if (r != MAILBOX_OK) {
		mailbox_close(&mb);
		return r;
	}
	*out = mb;
	return MAILBOX_OK;
}

/* Looks in new/ or cur/ for an entry with the base name of m's file; on
 * finding one, m is renamed to it. 1 found, 0 not there, -1 with errno. */
static int mailbox_find_in(struct mailbox *mb, struct mailbox_msg *m,
                           int in_cur)
{
	struct buf dir = BUF_INIT;
	const char *path = mailbox_path(&dir, mb->path, in_cur ? "cur" : "new",
	                                NULL);
	DIR *d = path ? opendir(path) : NULL;
	buf_free(&dir);
	if (!d)
		return -1;
	int found = 0;
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			found = errno ? -1 : 0;
			break;
		}
		if (e->d_name[0] == '.' || !mailbox_same_base(e->d_name, m->name))
			continue;
		char *name = strdup(e->d_name);
		if (!name) {
			errno = ENOMEM;
			found = -1;
		} else {
			free(m->name);
			m->name = name;
			m->in_cur = in_cur;
			found = 1;
		}
		break;
	}
	int saved = errno;
	closedir(d);
	errno = saved;
	return found;
}

/* Finds message i again after its file was renamed by another reader
 * (moved to cur/, flags changed): 1 found (name and in_cur updated), 0 it
 * is gone, -1 with errno. cur/ first: that is where renamed files go. */
static int mailbox_find_msg(struct mailbox *mb, size_t i)
{
	int r = mailbox_find_in(mb, &mb->msgs[i], 1);
	if (r == 0)
		r = mailbox_find_in(mb, &mb->msgs[i], 0);
	return r;
}

/* Opens the file message i has now. O_NOFOLLOW and O_NONBLOCK (cleared
 * again) so a symlink or FIFO put in its place is refused, not followed
 * or waited on; anything but a regular file gives EINVAL. */
static int mailbox_open_file(struct mailbox *mb, size_t i)
{
	struct buf p = BUF_INIT;
	const char *path = mailbox_msg_path(&p, mb, &mb->msgs[i]);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	                           O_NONBLOCK) : -1;
	buf_free(&p);
	if (fd < 0)
		return -1;
	struct stat st;
	int r = fstat(fd, &st);
	if (r == 0 && !S_ISREG(st.st_mode)) {
		errno = EINVAL;
		r = -1;
	}
	int flags = r == 0 ? fcntl(fd, F_GETFL) : -1;
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int mailbox_open_msg(struct mailbox *mb, size_t i)
{
	if (!mb || i >= mb->count) {
		errno = EINVAL;
		return -1;
	}
	int fd = mailbox_open_file(mb, i);
	for (int tries = 0; fd < 0 && errno == ENOENT &&
	                    tries < MAILBOX_FIND_TRIES; tries++) {
		int r = mailbox_find_msg(mb, i);
		if (r <= 0) {
			if (r == 0)
				errno = ENOENT;
			return -1;
		}
		fd = mailbox_open_file(mb, i);
	}
	return fd;
}

/* One UPDATE: scratch paths, which directories changed, whether any step
 * failed. */
struct mailbox_update {
	struct mailbox *mb;
	struct buf *err;
	struct buf from;
	struct buf to;
	struct buf name;
	int failed;
	int new_changed;
	int cur_changed;
};

static void mailbox_update_fail(struct mailbox_update *u, const char *what,
                                const struct mailbox_msg *m)
{
	u->failed = 1;
	mailbox_reason(u->err, what, u->mb->path, m->in_cur ? "cur" : "new",
	               m->name);
}

static void mailbox_changed(struct mailbox_update *u, int in_cur)
{
	if (in_cur)
		u->cur_changed = 1;
	else
		u->new_changed = 1;
}

static void mailbox_delete_msg(struct mailbox_update *u, size_t i)
{
	struct mailbox_msg *m = &u->mb->msgs[i];
	for (int tries = 0; tries < MAILBOX_FIND_TRIES; tries++) {
		const char *path = mailbox_msg_path(&u->from, u->mb, m);
		if (path && unlink(path) == 0) {
			mailbox_changed(u, m->in_cur);
			return;
		}
		if (!path || errno != ENOENT)
			break;
		int r = mailbox_find_msg(u->mb, i);
		if (r == 0)
			return; /* gone already: as good as deleted */
		if (r < 0)
			break;
	}
	mailbox_update_fail(u, "cannot delete", m);
}

/* The name m's file gets once seen, into out: 1 it must be renamed (to
 * cur/), 0 nothing to do (already S in cur/, or an info other than ":2,"
 * that we do not understand and so leave alone), -1 no memory. Flags are
 * kept sorted and single, as the Maildir spec asks. */
static int mailbox_seen_name(const struct mailbox_msg *m, struct buf *out)
{
	size_t base = maildir_base_len(m->name);
	const char *info = m->name + base;
	unsigned char flags[UCHAR_MAX + 1] = {0};
	if (*info) {
		if (strncmp(info, ":2,", 3) != 0)
			return 0;
		for (const unsigned char *p = (const unsigned char *)info + 3; *p;
		     p++)
			flags[*p] = 1;
		if (flags['S'] && m->in_cur)
			return 0;
	}
	flags['S'] = 1;
	buf_reset(out);
	if (buf_append(out, m->name, base) < 0 || buf_puts(out, ":2,") < 0)
		return -1;
	for (int c = 1; c <= UCHAR_MAX; c++)
		if (flags[c] && buf_putc(out, (char)c) < 0)
			return -1;
	return buf_cstr(out) ? 1 : -1;
}

/* Renames message i to cur/ with the S flag; 1 done or nothing to do, 0
 * its file was renamed meanwhile and found again (try once more), -1 with
 * errno. */
static int mailbox_rename_seen(struct mailbox_update *u, size_t i)
{
	struct mailbox_msg *m = &u->mb->msgs[i];
	int need = mailbox_seen_name(m, &u->name);
	if (need == 0)
		return 1;
	if (need < 0) {
		errno = ENOMEM;
		return -1;
	}
	const char *from = mailbox_msg_path(&u->from, u->mb, m);
	const char *to = mailbox_path(&u->to, u->mb->path, "cur", u->name.data);
	if (from && to && rename(from, to) == 0) {
		mailbox_changed(u, m->in_cur);
		u->cur_changed = 1;
		/* Renamed even when the new name cannot be remembered: a later
		 * open_msg would find the file by its base name. */
		char *name = strdup(u->name.data);
		if (name) {
			free(m->name);
			m->name = name;
			m->in_cur = 1;
		}
		return 1;
	}
	if (!from || !to || errno != ENOENT)
		return -1;
	int r = mailbox_find_msg(u->mb, i);
	return r == 0 ? 1 : (r < 0 ? -1 : 0); /* gone counts as deleted */
}

static void mailbox_mark_seen(struct mailbox_update *u, size_t i)
{
	for (int tries = 0; tries < MAILBOX_FIND_TRIES; tries++) {
		int r = mailbox_rename_seen(u, i);
		if (r > 0)
			return;
		if (r < 0)
			break;
	}
	mailbox_update_fail(u, "cannot mark as seen", &u->mb->msgs[i]);
}

static void mailbox_sync_dir(struct mailbox_update *u, const char *sub)
{
	const char *path = mailbox_path(&u->from, u->mb->path, sub, NULL);
	if (!path || fs_fsync_dir(path) < 0) {
		u->failed = 1;
		mailbox_reason(u->err, "cannot fsync", u->mb->path, sub, NULL);
	}
}

int mailbox_commit(struct mailbox *mb, const unsigned char *deleted,
                   const unsigned char *seen, struct buf *err)
{
	if (!mb) {
		errno = EINVAL;
		return -1;
	}
	struct mailbox_update u = {.mb = mb, .err = err};
	for (size_t i = 0; deleted && i < mb->count; i++)
		if (deleted[i])
			mailbox_delete_msg(&u, i);
	for (size_t i = 0; seen && i < mb->count; i++)
		if (seen[i] && !(deleted && deleted[i]))
			mailbox_mark_seen(&u, i);
	if (u.new_changed)
		mailbox_sync_dir(&u, "new");
	if (u.cur_changed)
		mailbox_sync_dir(&u, "cur");
	buf_free(&u.from);
	buf_free(&u.to);
	buf_free(&u.name);
	return u.failed ? -1 : 0;
}

void mailbox_close(struct mailbox **mbp)
{
	if (!mbp || !*mbp)
		return;
	struct mailbox *mb = *mbp;
	int saved = errno;
	if (mb->lock_fd >= 0)
		close(mb->lock_fd);
	for (size_t i = 0; i < mb->count; i++)
		free(mb->msgs[i].name);
	free(mb->msgs);
	free(mb->path);
	free(mb);
	*mbp = NULL;
	errno = saved;
}
