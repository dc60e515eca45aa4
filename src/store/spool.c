/* spool: the file an arriving message is written to (see spool.h). Writes
 * are gathered in a fixed buffer, so a DATA stream of short lines costs one
 * write(2) per 64 KiB and a message never holds more memory than that. */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/fs.h"
#include "../msg/dotstuff.h"

#define SPOOL_BUFFER_SIZE 65536
#define SPOOL_ID_MAX 128

struct spool {
	int fd;
	int error;       /* errno of the first failed write; sticky */
	int finished;    /* spool_finish succeeded: no more writes */
	size_t size;     /* bytes accepted, written or still buffered */
	size_t pending;  /* bytes in buffer not written yet */
	struct msg_crlf_size crlf; /* RFC 1939 size of the bytes accepted */
	char *path;      /* owned */
	char buffer[SPOOL_BUFFER_SIZE];
};

/* Appends "what: strerror" to err (when given), leaving errno as it was. */
static void spool_reason(struct buf *err, const char *what, const char *path)
{
	int saved = errno;
	if (err)
		buf_printf(err, "spool: %s %s: %s", what, path ? path : "",
		           strerror(saved));
	errno = saved;
}

int spool_id_valid(const char *id)
{
	if (!id || !*id || *id == '.' || *id == '-')
		return 0;
	size_t n = 0;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		         c == '-';
		if (!ok || n >= SPOOL_ID_MAX)
			return 0;
	}
	return 1;
}

/* DATA_DIR/spool/ID into path, creating DATA_DIR/spool when missing. The
 * directory is not fsync'd: nothing in it has to survive a crash, only the
 * links made from its files do. */
static int spool_make_path(const char *data_dir, const char *id,
                           struct buf *path, struct buf *err)
{
	struct buf dir = BUF_INIT;
	int r = fs_join(data_dir, "spool", &dir);
	if (r == 0 && !buf_cstr(&dir)) {
		errno = ENOMEM;
		r = -1;
	}
	if (r < 0) {
		spool_reason(err, "bad data directory", data_dir);
	} else if (mkdir(dir.data, 0700) < 0 && errno != EEXIST) {
		spool_reason(err, "cannot create", dir.data);
		r = -1;
	}
	if (r == 0 && (fs_join(dir.data, id, path) < 0 || !buf_cstr(path))) {
		spool_reason(err, "bad id", id);
		r = -1;
	}
	int saved = errno;
	buf_free(&dir);
	errno = saved;
	return r;
}

struct spool *spool_open(const char *data_dir, const char *id,
                         struct buf *err)
{
	if (!spool_id_valid(id)) {
		errno = EINVAL;
		spool_reason(err, "unsafe id", id ? id : "(null)");
		return NULL;
	}
	struct buf path = BUF_INIT;
	if (spool_make_path(data_dir, id, &path, err) < 0) {
		int saved = errno;
		buf_free(&path);
		errno = saved;
		return NULL;
	}
	struct spool *sp = malloc(sizeof *sp);
	if (!sp) {
		spool_reason(err, "no memory for", path.data);
		buf_free(&path);
		errno = ENOMEM;
		return NULL;
	}
	sp->fd = open(path.data, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		int saved = errno;
		spool_reason(err, "cannot create", path.data);
		buf_free(&path);
		free(sp);
		errno = saved;
		return NULL;
	}
	sp->path = buf_steal(&path, NULL);
	sp->error = 0;
	sp->finished = 0;
	sp->size = 0;
	sp->pending = 0;
	msg_crlf_size_init(&sp->crlf);
	return sp;
}

/* Writes data straight to the file, remembering the first failure so every
 * later call reports the same errno (the file is incomplete from then on). */
static int spool_write_through(struct spool *sp, const void *data, size_t len)
{
	if (fs_write_all(sp->fd, data, len) == 0)
		return 0;
	sp->error = errno ? errno : EIO;
	errno = sp->error;
	return -1;
}

static int spool_flush(struct spool *sp)
{
	size_t n = sp->pending;
	sp->pending = 0;
	return spool_write_through(sp, sp->buffer, n);
}

int spool_write(struct spool *sp, const void *data, size_t len)
{
	if (!sp || sp->finished) {
		errno = EINVAL;
		return -1;
	}
	if (sp->error) {
		errno = sp->error;
		return -1;
	}
	if (len > (size_t)-1 - sp->size) {
		errno = EFBIG;
		return -1;
	}
	sp->size += len;
	msg_crlf_size_feed(&sp->crlf, data, len);
	if (len <= SPOOL_BUFFER_SIZE - sp->pending) {
		memcpy(sp->buffer + sp->pending, data, len);
		sp->pending += len;
		return 0;
	}
	/* Too big to gather: flush what is buffered, then write the rest
	 * directly instead of copying it through the buffer. */
	if (spool_flush(sp) < 0)
		return -1;
	return spool_write_through(sp, data, len);
}

int spool_finish(struct spool *sp)
{
	if (!sp) {
		errno = EINVAL;
		return -1;
	}
	if (sp->finished)
		return 0;
	if (sp->error) {
		errno = sp->error;
		return -1;
	}
	/* fsync, not fdatasync: the file is new, and its size and block map
	 * are metadata that must reach the disk with the data. */
	if (spool_flush(sp) < 0)
		return -1;
	if (fsync(sp->fd) < 0) {
		sp->error = errno;
		return -1;
	}
	sp->finished = 1;
	return 0;
}

size_t spool_size(const struct spool *sp)
{
	return sp ? sp->size : 0;
}

unsigned long long spool_crlf_size(const struct spool *sp)
{
	if (!sp)
		return 0;
	/* end only adds the missing final CRLF: work on a copy so more
	 * writes may follow and the answer does not change when asked twice. */
	struct msg_crlf_size cs = sp->crlf;
	return msg_crlf_size_end(&cs);
}

const char *spool_path(const struct spool *sp)
{
	return sp ? sp->path : NULL;
}

void spool_discard(struct spool **spp)
{
	if (!spp || !*spp)
		return;
	struct spool *sp = *spp;
	int saved = errno;
	unlink(sp->path);
	close(sp->fd);
	free(sp->path);
	free(sp);
	*spp = NULL;
	errno = saved;
}

/* The errors with which link(2) says "not here", as opposed to "no". */
static int spool_link_refused(int e)
{
	return e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP ||
	       e == EOPNOTSUPP;
}

/* Copies the open file in to out through a heap buffer (this may run on a
 * worker thread with a small stack). */
static int spool_copy_fd(int in, int out)
{
	char *chunk = malloc(SPOOL_BUFFER_SIZE);
	if (!chunk) {
		errno = ENOMEM;
		return -1;
	}
	int r = 0;
	for (;;) {
		ssize_t n = read(in, chunk, SPOOL_BUFFER_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -1 : 0;
			break;
		}
		if (fs_write_all(out, chunk, (size_t)n) < 0) {
			r = -1;
			break;
		}
	}
	int saved = errno;
	free(chunk);
	errno = saved;
	return r;
}

static int spool_copy(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (out < 0) {
		int saved = errno;
		close(in);
		errno = saved;
		return -1;
	}
	int r = fs_fsync_close(out, spool_copy_fd(in, out));
	int saved = errno;
	close(in);
	if (r < 0)
		unlink(dst);
	errno = saved;
	return r;
}

int spool_link(const char *src, const char *dst)
{
	if (!src || !dst) {
		errno = EINVAL;
		return -1;
	}
	if (link(src, dst) == 0)
		return 0;
	if (!spool_link_refused(errno))
		return -1;
	return spool_copy(src, dst);
}
