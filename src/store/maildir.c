/* maildir: delivery into Maildir++ (see maildir.h). The spool file is
 * linked into tmp/ under a fresh unique name, renamed into new/, and new/
 * is fsync'd; only then may the caller say "250". */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fs.h"
#include "spool.h"

/* How often a name is drawn again after a collision; with 64 random bits
 * per name a second draw already means something else is wrong. */
#define MAILDIR_NAME_TRIES 5
#define MAILDIR_USER_MAX 64
/* Bytes of the (escaped) host part of a name, leaving room in NAME_MAX
 * (255) for "SECONDS.R<16 hex>.", ",S=SIZE,W=VSIZE" (20 digits each at
 * most) and the ":2,FLAGS" a reader adds. */
#define MAILDIR_HOST_MAX 128

/* Appends "maildir: what path: strerror" to err (when given); errno kept. */
static void maildir_reason(struct buf *err, const char *what,
                           const char *path)
{
	int saved = errno;
	if (err)
		buf_printf(err, "maildir: %s %s: %s", what, path,
		           strerror(saved));
	errno = saved;
}

/* mkdir that reports whether it created the directory: 1 created, 0 it
 * was already a directory, -1 with errno (ENOTDIR for a non-directory). */
static int maildir_mkdir(const char *path)
{
	if (mkdir(path, 0700) == 0)
		return 1;
	if (errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Creates every missing component of path (mkdir -p), fsyncing the parent
 * of each one it creates so the new entry survives a crash. */
static int maildir_mkdirs(struct buf *path)
{
	char *p = buf_cstr(path);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 1; i <= path->len; i++) {
		if ((i < path->len && p[i] != '/') || p[i - 1] == '/')
			continue;
		char saved = p[i];
		p[i] = '\0';
		int r = maildir_mkdir(p);
		if (r == 1)
			r = fs_fsync_parent(p);
		p[i] = saved;
		if (r < 0)
			return -1;
	}
	return 0;
}

int maildir_create(const char *path)
{
	static const char *const subdirs[] = {"tmp", "new", "cur"};
	struct buf b = BUF_INIT;
	if (!path || !*path) {
		errno = ENOENT;
		return -1;
	}
	int r = buf_puts(&b, path) < 0 ? -1 : maildir_mkdirs(&b);
	int created = 0;
	for (size_t i = 0; r == 0 && i < sizeof subdirs / sizeof *subdirs; i++) {
		buf_reset(&b);
		if (fs_join(path, subdirs[i], &b) < 0 || !buf_cstr(&b)) {
			errno = ENOMEM;
			r = -1;
		} else if ((r = maildir_mkdir(b.data)) == 1) {
			created = 1;
			r = 0;
		}
	}
	/* One fsync of the Maildir covers all three new entries. */
	if (r == 0 && created)
		r = fs_fsync_dir(path);
	int saved = errno;
	buf_free(&b);
	errno = saved;
	return r;
}

/* Same rule as users_name_valid (auth/users.h), which store may not
 * include: lowercase [a-z0-9._-], 1..64 bytes, not starting with '.' or
 * '-'. Anything else could leave DATA_DIR/mail or alias another user. */
static int maildir_user_valid(const char *user)
{
	if (!user || !*user || *user == '.' || *user == '-')
		return 0;
	size_t n = strlen(user);
	if (n > MAILDIR_USER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = user[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int maildir_user_path(const char *data_dir, const char *user,
                      struct buf *out)
{
	if (!maildir_user_valid(user)) {
		errno = EINVAL;
		return -1;
	}
	struct buf mail = BUF_INIT;
	size_t old = out->len;
	int r = fs_join(data_dir, "mail", &mail);
	if (r == 0 && !buf_cstr(&mail)) {
		errno = ENOMEM;
		r = -1;
	}
	if (r == 0)
		r = fs_join(mail.data, user, out);
	int saved = errno;
	buf_free(&mail);
	if (r < 0)
		buf_truncate(out, old);
	errno = saved;
	return r;
}

int maildir_host_part(struct buf *out, const char *host)
{
	char own[256] = "";
	if (!host || !*host) {
		if (gethostname(own, sizeof own - 1) < 0 || !*own)
			strcpy(own, "localhost");
		host = own;
	}
	size_t start = out->len;
	for (const unsigned char *p = (const unsigned char *)host; *p; p++) {
		int plain = *p > 0x20 && *p < 0x7f && *p != '/' && *p != ':' &&
		            *p != ',' && *p != '\\';
		/* A long (or escape-heavy) name is cut so the whole file name
		 * stays under NAME_MAX; uniqueness comes from R, not the host. */
		if (out->len - start + (plain ? 1 : 4) > MAILDIR_HOST_MAX)
			break;
		int r = plain ? buf_putc(out, (char)*p)
		              : buf_printf(out, "\\%03o", *p);
		if (r < 0)
			return -1;
	}
	return 0;
}

size_t maildir_base_len(const char *name)
{
	return strcspn(name, ":");
}

int maildir_name_field(const char *base, size_t len, char field,
                       unsigned long long *value)
{
	const char tag[3] = {',', field, '='};
	for (size_t i = 0; i + 3 < len; i++) {
		if (memcmp(base + i, tag, 3) != 0)
			continue;
		unsigned long long v = 0;
		size_t j = i + 3;
		for (; j < len && base[j] >= '0' && base[j] <= '9'; j++) {
			unsigned d = (unsigned)(base[j] - '0');
			if (v > (ULLONG_MAX - d) / 10)
				return 0;
			v = v * 10 + d;
		}
		if (j > i + 3 && (j == len || base[j] == ',')) {
			*value = v;
			return 1;
		}
	}
	return 0;
}

/* "SECONDS.R<16 hex>.HOST,S=SIZE,W=VSIZE" into name (replacing its
 * contents). */
static int maildir_make_name(struct buf *name, const char *host, size_t size,
                             unsigned long long vsize)
{
	buf_reset(name);
	if (buf_printf(name, "%lld.R%016llx.", (long long)time(NULL),
	               (unsigned long long)fs_random64()) < 0 ||
	    maildir_host_part(name, host) < 0 ||
	    buf_printf(name, ",S=%zu,W=%llu", size, vsize) < 0 ||
	    !buf_cstr(name)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Puts src into tmp/ under name, creating the Maildir the first time tmp/
 * turns out to be missing (checking first would cost every delivery). */
static int maildir_link_tmp(const char *maildir, const char *src,
                            const char *tmp, int *created)
{
	int r = spool_link(src, tmp);
	if (r < 0 && errno == ENOENT && !*created) {
		*created = 1;
		if (maildir_create(maildir) < 0)
			return -1;
		r = spool_link(src, tmp);
	}
	return r;
}

int maildir_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	struct stat st;
	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

static int maildir_move_new(const char *maildir, const char *tmp,
                            const char *new, int *created)
{
	int r = maildir_rename_noreplace(tmp, new);
	if (r < 0 && errno == ENOENT && !*created) {
		*created = 1;
		if (maildir_create(maildir) < 0)
			return -1;
		r = maildir_rename_noreplace(tmp, new);
	}
	return r;
}

/* The paths one delivery works with; freed together. */
struct maildir_delivery {
	const char *maildir;
	const char *src;
	const char *host;  /* NULL or "": this machine's name */
	size_t size;
	unsigned long long vsize;
	int created;       /* maildir_create ran already */
	struct buf name;   /* the unique name */
	struct buf tmp;    /* MAILDIR/tmp/NAME */
	struct buf new;    /* MAILDIR/new/NAME */
	struct buf newdir; /* MAILDIR/new */
};

static int maildir_set_path(struct buf *out, const char *maildir,
                            const char *sub, const char *name)
{
	buf_reset(out);
	if (buf_printf(out, "%s/%s%s%s", maildir, sub, name ? "/" : "",
	               name ? name : "") < 0 || !buf_cstr(out)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* One attempt under a fresh name: 1 delivered and durable, 0 the name was
 * taken (draw another), -1 failed with a reason in err. A failure leaves
 * nothing behind, so "-1" always means "not delivered". */
static int maildir_try(struct maildir_delivery *d, struct buf *err)
{
	if (maildir_make_name(&d->name, d->host, d->size, d->vsize) < 0 ||
	    maildir_set_path(&d->tmp, d->maildir, "tmp", d->name.data) < 0 ||
	    maildir_set_path(&d->new, d->maildir, "new", d->name.data) < 0) {
		maildir_reason(err, "cannot name a file in", d->maildir);
		return -1;
	}
	if (maildir_link_tmp(d->maildir, d->src, d->tmp.data, &d->created) < 0) {
		if (errno == EEXIST)
			return 0;
		maildir_reason(err, "cannot write", d->tmp.data);
		return -1;
	}
	if (maildir_move_new(d->maildir, d->tmp.data, d->new.data,
	                     &d->created) < 0) {
		int saved = errno;
		unlink(d->tmp.data);
		errno = saved;
		if (saved == EEXIST)
			return 0;
		maildir_reason(err, "cannot move into", d->new.data);
		return -1;
	}
	/* Only new/ needs an fsync: the rename moved the entry out of tmp/,
	 * and journalling file systems commit both directories of a rename in
	 * one transaction. Where they do not, the worst case after a crash is
	 * a stale second link in tmp/, which readers ignore and clean up; the
	 * message in new/ is never lost or doubled. */
	if (fs_fsync_dir(d->newdir.data) < 0) {
		maildir_reason(err, "cannot fsync", d->newdir.data);
		int saved = errno;
		unlink(d->new.data);
		errno = saved;
		return -1;
	}
	return 1;
}

static void maildir_delivery_free(struct maildir_delivery *d)
{
	int saved = errno;
	buf_free(&d->name);
	buf_free(&d->tmp);
	buf_free(&d->new);
	buf_free(&d->newdir);
	errno = saved;
}

/* Checks src is what the caller says: S= in the name must be its true
 * size, since readers (quota, POP3 LIST) trust it without a stat. W= is
 * only checked for being possible: converting line ends to CRLF never
 * shrinks a message, and counting it again would cost a read. */
static int maildir_check_src(const char *src, size_t size,
                             unsigned long long vsize, struct buf *err)
{
	if (vsize < size) {
		errno = EINVAL;
		if (err)
			buf_printf(err, "maildir: RFC 1939 size %llu of %s is less "
			           "than its %zu bytes", vsize, src, size);
		return -1;
	}
	struct stat st;
	if (stat(src, &st) < 0) {
		maildir_reason(err, "cannot read spool file", src);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size != size) {
		errno = EINVAL;
		if (err)
			buf_printf(err, "maildir: spool file %s is %jd bytes, "
			           "expected %zu", src, (intmax_t)st.st_size, size);
		return -1;
	}
	return 0;
}

int maildir_deliver(const char *maildir, const char *src, size_t size,
                    unsigned long long vsize, const char *hostname,
                    struct buf *name_out, struct buf *err)
{
	if (!maildir || !*maildir || !src) {
		errno = EINVAL;
		if (err)
			buf_puts(err, "maildir: no mailbox or spool file given");
		return -1;
	}
	if (maildir_check_src(src, size, vsize, err) < 0)
		return -1;
	struct maildir_delivery d = {
		.maildir = maildir, .src = src, .size = size, .vsize = vsize,
		.host = hostname,
	};
	int r = maildir_set_path(&d.newdir, maildir, "new", NULL);
	if (r < 0)
		maildir_reason(err, "cannot name", maildir);
	for (int i = 0; r == 0 && i < MAILDIR_NAME_TRIES; i++)
		r = maildir_try(&d, err);
	if (r == 0) {
		errno = EEXIST;
		maildir_reason(err, "no unique name found in", maildir);
		r = -1;
	}
	/* The message is delivered even if reporting its name runs out of
	 * memory; a short name_out is the lesser evil than a false failure. */
	if (r > 0 && name_out)
		(void)buf_append(name_out, d.name.data, d.name.len);
	maildir_delivery_free(&d);
	return r > 0 ? 0 : -1;
}
