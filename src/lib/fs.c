/* fs: atomic writes and the fsyncs behind posthorn's durability promise
 * (see fs.h). Every function reports failure through errno, unchanged by
 * the cleanup it does on the way out. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fs_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* The directory part of path into out: "a/b" -> "a", "b" -> ".",
 * "/b" -> "/"; trailing slashes of path are ignored. */
static int fs_dirname(const char *path, struct buf *out)
{
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	while (len > 0 && path[len - 1] != '/')
		len--;
	if (len == 0)
		return buf_puts(out, ".");
	while (len > 1 && path[len - 1] == '/')
		len--;
	return buf_append(out, path, len);
}

int fs_fsync_parent(const char *path)
{
	struct buf dir = BUF_INIT;
	if (fs_dirname(path, &dir) < 0 || !buf_cstr(&dir)) {
		buf_free(&dir);
		errno = ENOMEM;
		return -1;
	}
	int r = fs_fsync_dir(dir.data);
	int saved = errno;
	buf_free(&dir);
	errno = saved;
	return r;
}

/* mkdir that accepts an existing directory (but not an existing file). */
static int fs_mkdir_one(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		return 0;
	int saved = errno;
	struct stat st;
	if (saved == EEXIST) {
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
		return -1;
	}
	errno = saved;
	return -1;
}

int fs_mkdirs(const char *path, mode_t mode)
{
	if (!path || !*path) {
		errno = ENOENT;
		return -1;
	}
	struct buf b = BUF_INIT;
	if (buf_puts(&b, path) < 0 || !buf_cstr(&b)) {
		buf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	/* Create each prefix ending before a '/', then the whole path; runs
	 * of slashes and a trailing slash produce repeated prefixes, which
	 * the existing-directory case absorbs. */
	char *p = b.data;
	int r = 0;
	for (size_t i = 1; i <= b.len && r == 0; i++) {
		if (i < b.len && p[i] != '/')
			continue;
		if (p[i - 1] == '/')
			continue;
		char saved = p[i];
		p[i] = '\0';
		r = fs_mkdir_one(p, mode);
		p[i] = saved;
	}
	int err = errno;
	buf_free(&b);
	errno = err;
	return r;
}

int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* SplitMix64's finaliser: spreads the fallback's few changing bits over
 * all 64. */
static uint64_t fs_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t fs_random64(void)
{
	static _Atomic uint64_t counter;
	uint64_t v;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
		return v;
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	v = fs_mix((uint64_t)rt.tv_sec * 1000000000ULL + (uint64_t)rt.tv_nsec);
	return fs_mix(v ^ ((uint64_t)mono.tv_nsec << 20) ^
	              ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&rt ^
	              ++counter);
}

/* Creates "path.tmp.RANDOM" exclusively; its name goes to tmp. */
static int fs_create_temp(const char *path, mode_t mode, struct buf *tmp)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		buf_reset(tmp);
		if (buf_printf(tmp, "%s.tmp.%016llx", path,
		               (unsigned long long)fs_random64()) < 0 ||
		    !buf_cstr(tmp)) {
			errno = ENOMEM;
			return -1;
		}
		int fd = open(tmp->data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		              mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int fs_fsync_close(int fd, int status)
{
	int r = status < 0 ? -1 : fsync(fd);
	int saved = errno;
	if (close(fd) < 0 && r == 0) {
		r = -1;
		saved = errno;
	}
	errno = saved;
	return r;
}

int fs_write_atomic(const char *path, const void *data, size_t len,
                    mode_t mode)
{
	struct buf tmp = BUF_INIT;
	int fd = fs_create_temp(path, mode, &tmp);
	if (fd < 0) {
		int saved = errno;
		buf_free(&tmp);
		errno = saved;
		return -1;
	}
	/* open() applied the umask; the caller asked for mode exactly. */
	int r = fchmod(fd, mode);
	if (r == 0)
		r = fs_write_all(fd, data, len);
	r = fs_fsync_close(fd, r);
	int saved = errno;
	if (r == 0 && rename(tmp.data, path) < 0) {
		r = -1;
		saved = errno;
	}
	if (r < 0)
		unlink(tmp.data);
	else if (fs_fsync_parent(path) < 0) {
		r = -1;
		saved = errno;
	}
	buf_free(&tmp);
	errno = saved;
	return r;
}

/* Appends the rest of fd to out, failing with EFBIG past max bytes. */
static int fs_read_fd(int fd, size_t max, struct buf *out)
{
	size_t total = 0;
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		if ((size_t)n > max - total) {
			errno = EFBIG;
			return -1;
		}
		total += (size_t)n;
		if (buf_append(out, chunk, (size_t)n) < 0) {
			errno = ENOMEM;
			return -1;
		}
	}
}

int fs_read_file(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	size_t old = out->len;
	int r = fstat(fd, &st);
	if (r == 0 && S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		r = -1;
	}
	/* The size check up front saves reading a huge file just to refuse
	 * it; the loop checks again because the file may grow meanwhile. */
	if (r == 0 && S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
		errno = EFBIG;
		r = -1;
	}
	if (r == 0)
		r = fs_read_fd(fd, max, out);
	int saved = errno;
	close(fd);
	if (r < 0)
		buf_truncate(out, old);
	errno = saved;
	return r;
}

int fs_join(const char *dir, const char *name, struct buf *out)
{
	if (!dir || !name || !*dir || !*name || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strchr(name, '/')) {
		errno = EINVAL;
		return -1;
	}
	size_t old = out->len;
	size_t dlen = strlen(dir);
	int slash = dir[dlen - 1] != '/';
	if (buf_append(out, dir, dlen) < 0 ||
	    (slash && buf_putc(out, '/') < 0) || buf_puts(out, name) < 0) {
		buf_truncate(out, old);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
