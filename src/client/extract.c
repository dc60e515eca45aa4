/* extract: saves attachments (or one chosen part) decoded into a directory.
 * File names come from the sender, so they are treated as hostile: reduced
 * to a single safe component, written through a directory descriptor with
 * O_EXCL|O_NOFOLLOW so neither "../" nor a planted symlink can redirect a
 * write, and never overwriting without --force. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "extract.h"
#include "util.h"

static const char extract_usage[] =
	"usage: posthorn extract FILE|- DIR [--part N] [--force]\n"
	"\n"
	"Saves every attachment of a message, decoded, into DIR (created when\n"
	"missing) and prints the path of each file written. Names come from the\n"
	"message, made safe: directories, control characters and leading dots\n"
	"are removed; a part without a name is saved as part-SECTION.EXT.\n"
	"Existing files are left alone unless --force is given.\n"
	"\n"
	"  --part N   save only the part with section N (see 'posthorn parts'),\n"
	"             attachment or not\n"
	"  --force    replace existing files\n"
	"  --help     this text\n";

/* Longest file name written, in bytes: below NAME_MAX with room for a
 * " (NN)" suffix. */
enum { EXTRACT_NAME_MAX = 200 };

struct extract {
	const struct util_input *in;
	const char *dir;       /* as given, for the printed paths */
	int dirfd;
	int force;
	int keep_both;         /* an existing file stays; write "name (N).ext" */
	char **used;           /* names written so far (for " (2)" suffixes) */
	size_t nused;
	struct buf out;        /* paths written, for stdout */
	int status;
};

static const char *extract_ext(const struct msg_part *p)
{
	static const struct { const char *type, *ext; } exts[] = {
		{"text/plain", "txt"}, {"text/html", "html"}, {"text/csv", "csv"},
		{"text/calendar", "ics"}, {"message/rfc822", "eml"},
		{"image/jpeg", "jpg"}, {"image/png", "png"}, {"image/gif", "gif"},
		{"application/pdf", "pdf"}, {"application/zip", "zip"},
		{"application/json", "json"}, {"application/msword", "doc"},
	};
	char type[128];
	snprintf(type, sizeof type, "%s/%s", p->ctype.type, p->ctype.subtype);
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
		if (!strcmp(type, exts[i].type))
			return exts[i].ext;
	if (!strcmp(p->ctype.type, "text"))
		return "txt";
	if (!strcmp(p->ctype.type, "multipart") || !strcmp(p->ctype.type, "message"))
		return "eml";
	return "bin";
}

/* Cuts s to at most max bytes without splitting a UTF-8 character. */
static size_t extract_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* Appends the safe form of the sender's name: the last path component
 * (either slash), without control characters, leading dots or surrounding
 * spaces, at most EXTRACT_NAME_MAX bytes keeping a short extension.
 * Appends nothing when nothing usable is left. */
static int extract_safe_name(const char *raw, struct buf *out)
{
	struct buf clean = BUF_INIT;
	if (util_term_safe(raw, strlen(raw), 1, &clean) < 0 || !buf_cstr(&clean)) {
		buf_free(&clean);
		return -1;
	}
	const char *s = clean.data;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == '\\')
			s = p + 1;
	while (*s == '.' || *s == ' ')
		s++;
	size_t len = strlen(s);
	while (len > 0 && s[len - 1] == ' ')
		len--;
	const char *dot = memrchr(s, '.', len);
	size_t ext = dot && dot > s && (size_t)(s + len - dot) <= 16 ?
	             (size_t)(s + len - dot) : 0;
	size_t stem = extract_utf8_cut(s, len - ext, EXTRACT_NAME_MAX - ext);
	int r = buf_append(out, s, stem);
	r |= buf_append(out, s + len - ext, ext);
	buf_free(&clean);
	return r ? -1 : 0;
}

static int extract_is_used(const struct extract *x, const char *name)
{
	for (size_t i = 0; i < x->nused; i++)
		if (!strcmp(x->used[i], name))
			return 1;
	return 0;
}

/* The name to write p under: safe, or part-SECTION.EXT, and unique within
 * this run ("name (2).ext"). A new string, or NULL when out of memory. */
static char *extract_name(struct extract *x, const struct msg_part *p,
                          const char *section)
{
	struct buf name = BUF_INIT;
	char *raw = msg_part_filename(p);
	int r = raw ? extract_safe_name(raw, &name) : 0;
	free(raw);
	if (r == 0 && name.len == 0)
		r = buf_printf(&name, "part-%s.%s", section[0] ? section : "0",
		               extract_ext(p));
	char *base = r == 0 ? buf_steal(&name, NULL) : NULL;
	buf_free(&name);
	if (!base)
		return NULL;
	const char *dot = strrchr(base, '.');
	size_t stem = dot && dot > base ? (size_t)(dot - base) : strlen(base);
	char *unique = strdup(base);
	for (int k = 2; unique && extract_is_used(x, unique); k++) {
		free(unique);
		unique = NULL;
		if (asprintf(&unique, "%.*s (%d)%s", (int)stem, base, k,
		             base + stem) < 0)
			unique = NULL;
	}
	free(base);
	char **grown = unique ? realloc(x->used, (x->nused + 1) * sizeof *grown)
	                      : NULL;
	if (!grown) {
		free(unique);
		return NULL;
	}
	x->used = grown;
	x->used[x->nused++] = unique;
	return unique;
}

static int extract_write_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes data to a fresh temporary file in the directory and renames it
 * over name: rename replaces a symlink rather than following it. */
static int extract_replace(struct extract *x, const char *name,
                           const char *data, size_t len)
{
	char tmp[64];
	int fd = -1;
	for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
		snprintf(tmp, sizeof tmp, ".posthorn-%ld-%d", (long)getpid(), attempt);
		fd = openat(x->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		            O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			return -1;
	}
	if (fd < 0)
		return -1;
	int r = extract_write_fd(fd, data, len);
	int saved = errno;
	if (close(fd) < 0 && r == 0)
		r = -1, saved = errno;
	if (r == 0 && renameat(x->dirfd, tmp, x->dirfd, name) < 0)
		r = -1, saved = errno;
	if (r < 0)
		unlinkat(x->dirfd, tmp, 0);
	errno = saved;
	return r;
}

/* Writes data under the first free "name (N).ext" beside an existing name
 * (O_EXCL, so a file appearing meanwhile is never overwritten). */
static int extract_write_beside(struct extract *x, const char *name,
                                const char *data, size_t len)
{
	const char *sep = x->dir[strlen(x->dir) - 1] == '/' ? "" : "/";
	const char *dot = strrchr(name, '.');
	int stem = dot && dot > name ? (int)(dot - name) : (int)strlen(name);
	char *alt = NULL;
	int fd = -1, r = -1;
	for (int k = 1; fd < 0 && k < 1000; k++) {
		free(alt);
		if (asprintf(&alt, "%.*s (%d)%s", stem, name, k, name + stem) < 0) {
			alt = NULL;
			errno = ENOMEM;
			break;
		}
		fd = openat(x->dirfd, alt, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		            O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd >= 0) {
		r = extract_write_fd(fd, data, len);
		int saved = errno;
		if (close(fd) < 0 && r == 0)
			r = -1, saved = errno;
		if (r < 0)
			unlinkat(x->dirfd, alt, 0);
		errno = saved;
	}
	if (r < 0) {
		fprintf(stderr, "posthorn: %s%s%s: %s\n", x->dir, sep,
		        alt ? alt : name, strerror(errno));
	} else {
		/* saved, but not under the name asked for: the caller should
		 * know, so the run counts as partly done */
		fprintf(stderr, "posthorn: %s%s%s: exists, kept; saved as %s%s%s "
		        "(--force replaces it)\n", x->dir, sep, name, x->dir, sep,
		        alt);
		buf_printf(&x->out, "%s%s%s\n", x->dir, sep, alt);
		x->status = EXIT_PARTIAL;
	}
	free(alt);
	return r;
}

/* Writes one file; reports on stderr and returns -1 when it was not. */
static int extract_write(struct extract *x, const char *name,
                         const char *data, size_t len)
{
	const char *sep = x->dir[strlen(x->dir) - 1] == '/' ? "" : "/";
	struct stat st;
	int exists = fstatat(x->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	int r;
	if (exists && !x->force && x->keep_both)
		return extract_write_beside(x, name, data, len);
	if (exists && !x->force) {
		fprintf(stderr, "posthorn: %s%s%s: exists, not overwritten "
		        "(--force replaces it)\n", x->dir, sep, name);
		return -1;
	}
	if (exists) {
		fprintf(stderr, "posthorn: %s%s%s: exists, replacing it (--force)\n",
		        x->dir, sep, name);
		r = extract_replace(x, name, data, len);
	} else {
		int fd = openat(x->dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
		                O_NOFOLLOW | O_CLOEXEC, 0666);
		r = fd < 0 ? -1 : extract_write_fd(fd, data, len);
		int saved = errno;
		if (fd >= 0 && close(fd) < 0 && r == 0)
			r = -1, saved = errno;
		errno = saved;
	}
	if (r < 0) {
		fprintf(stderr, "posthorn: %s%s%s: %s\n", x->dir, sep, name,
		        strerror(errno));
		return -1;
	}
	buf_printf(&x->out, "%s%s%s\n", x->dir, sep, name);
	return 0;
}

/* Saves p: leaves decoded, multipart containers as the whole raw entity
 * (headers included) so the file is a readable message. */
static void extract_part(struct extract *x, const struct msg_part *p)
{
	const struct msg_message *m = x->in->msg;
	struct buf section = BUF_INIT, body = BUF_INIT;
	const char *data = m->data + p->offset;
	size_t len = p->header_len + p->body_len;
	char *name = NULL;
	int r = msg_part_section(p, &section);
	if (r == 0 && strcmp(p->ctype.type, "multipart") != 0) {
		r = msg_part_decode(m, p, &body);
		data = body.data ? body.data : "";
		len = body.len;
	}
	if (r == 0)
		name = extract_name(x, p, buf_cstr(&section) ? section.data : "");
	if (!name) {
		fprintf(stderr, "posthorn: %s: out of memory\n", x->in->name);
		x->status = EXIT_PARTIAL;
	} else if (extract_write(x, name, data, len) < 0) {
		x->status = EXIT_PARTIAL;
	}
	buf_free(&section);
	buf_free(&body);
}

/* Every attachment; an attached message is saved whole, not its parts. */
static void extract_all(struct extract *x)
{
	const struct msg_part *skip = NULL;
	size_t saved = 0;
	for (const struct msg_part *p = x->in->msg->root; p; p = msg_part_walk(p)) {
		if (skip && p->depth > skip->depth)
			continue;
		skip = NULL;
		if (msg_part_is_attachment(p)) {
			extract_part(x, p);
			skip = p;
			saved++;
		}
	}
	if (saved == 0)
		fprintf(stderr, "posthorn: %s: no attachments\n", x->in->name);
}

/* Opens DIR, creating it (private: attachments are) when it is missing. */
static int extract_open_dir(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "posthorn: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "posthorn: %s: %s\n", dir, strerror(errno));
	return fd;
}

static int extract_run(struct extract *x, const char *part)
{
	if (!part) {
		extract_all(x);
		return x->status;
	}
	const struct msg_part *p = msg_part_find(x->in->msg,
	                                         strcmp(part, "-") ? part : "");
	if (!p) {
		fprintf(stderr, "posthorn: %s: no part '%s' (see 'posthorn parts')\n",
		        x->in->name, part);
		return EXIT_PARTIAL;
	}
	extract_part(x, p);
	return x->status;
}

static void extract_free(struct extract *x)
{
	if (x->dirfd >= 0)
		close(x->dirfd);
	x->dirfd = -1;
	for (size_t i = 0; i < x->nused; i++)
		free(x->used[i]);
	free(x->used);
	x->used = NULL;
	x->nused = 0;
	buf_free(&x->out);
}

int extract_save_attachments(const struct util_input *in, const char *dir,
                             int force, int keep_both, struct buf *paths)
{
	struct extract x = {.in = in, .dir = dir, .dirfd = -1, .force = force,
	                    .keep_both = keep_both};
	if (!dir[0]) {
		fprintf(stderr, "posthorn: empty directory name\n");
		return EXIT_PARTIAL;
	}
	x.dirfd = extract_open_dir(dir);
	int status = x.dirfd < 0 ? EXIT_PARTIAL : extract_run(&x, NULL);
	if (x.out.len && buf_append(paths, x.out.data, x.out.len) < 0)
		status = EXIT_PARTIAL;
	extract_free(&x);
	return status;
}

int cmd_extract(int argc, char **argv)
{
	const char *part = NULL;
	int force = 0;
	const struct util_opt opts[] = {{"--part", &part, NULL},
	                                {"--force", NULL, &force}};
	char *pos[2];
	size_t npos;
	int r = util_parse_args(argc, argv, opts, 2, pos, 2, &npos);
	if (r == 1) {
		fputs(extract_usage, stdout);
		return EXIT_OK;
	}
	if (r == 0 && npos != 2)
		fprintf(stderr, "posthorn extract: expected FILE and DIR\n");
	if (r < 0 || npos != 2 || !pos[1][0]) {
		fprintf(stderr, "usage: posthorn extract FILE|- DIR [--part N] "
		        "[--force]\n");
		return EXIT_USAGE;
	}
	struct util_input in;
	struct extract x = {.in = &in, .dir = pos[1], .dirfd = -1, .force = force};
	int status = util_input_load(pos[0], &in);
	if (status == EXIT_OK) {
		x.dirfd = extract_open_dir(pos[1]);
		status = x.dirfd < 0 ? EXIT_PARTIAL : extract_run(&x, part);
		if (util_write_stdout(&x.out) < 0)
			status = EXIT_PARTIAL;
	}
	extract_free(&x);
	util_input_free(&in);
	return status;
}
