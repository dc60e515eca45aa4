/* input: whole-file reads for the client commands (see input.h). A plain
 * read loop rather than mmap, so pipes, ttys and files behave the same. */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *input_name(const char *path)
{
	return strcmp(path, "-") == 0 ? "stdin" : path;
}

static int input_fail(const char *path, const char *reason)
{
	fprintf(stderr, "posthorn: %s: %s\n", input_name(path), reason);
	return -1;
}

/* Reads fd to its end into out (whose maximum is max); a reason for the
 * failure in *why. */
static ssize_t input_read_some(int fd, void *p, size_t n)
{
	ssize_t r;
	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static int input_read_fd(int fd, size_t max, struct buf *out, const char **why)
{
	for (;;) {
		size_t want = max - out->len < 65536 ? max - out->len : 65536;
		char probe;
		ssize_t n;
		if (want == 0) {
			/* at the limit: only more bytes make the input too big */
			n = input_read_some(fd, &probe, 1);
			if (n > 0)
				*why = "input larger than the 256 MB limit";
		} else if (buf_reserve(out, want) < 0) {
			*why = strerror(ENOMEM);
			return -1;
		} else {
			n = input_read_some(fd, out->data + out->len, want);
		}
		if (n < 0)
			*why = strerror(errno);
		if (n != 0 && (n < 0 || want == 0))
			return -1;
		if (n == 0)
			return 0;
		out->len += (size_t)n;
	}
}

int input_read(const char *path, size_t max, struct buf *out)
{
	const char *why = NULL;
	int fd = STDIN_FILENO;
	buf_free(out);
	buf_init(out, max);
	if (strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return input_fail(path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			why = strerror(EISDIR);
		else if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max)
			why = "input larger than the 256 MB limit";
	}
	int r = why ? -1 : input_read_fd(fd, max, out, &why);
	if (fd != STDIN_FILENO)
		close(fd);
	return r < 0 ? input_fail(path, why) : 0;
}
