/* ctl_util: the helpers every posthornctl command uses (see ctl.h). */
#include "ctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/fs.h"

/* Longest password or secret read; users.c refuses longer ones anyway. */
#define CTL_SECRET_MAX 1024
/* Directory depth ctl_tree_size and chown descend (Maildir++ is shallow). */
#define CTL_TREE_DEPTH 8

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("posthornctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_FAIL;
}

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("posthornctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry 'posthornctl %s--help'\n", cmd);
	return CTL_USAGE;
}

int ctl_load_config(const struct ctl *ctl, struct posthorn_config *cfg)
{
	struct buf err = BUF_INIT;
	int rc = config_load(ctl->config_path, cfg, &err);
	if (rc < 0)
		ctl_fail("%s", err.len ? buf_cstr(&err) : ctl->config_path);
	buf_free(&err);
	return rc;
}

void ctl_wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

/* One line from fd into out, without its LF (and CR). 1 a line, 0 EOF
 * before anything, -1 error or too long. Reads byte by byte so nothing
 * after the line is consumed. */
static int read_line(int fd, struct buf *out)
{
	int got = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got = 1;
		if (c == '\n')
			break;
		if (out->len >= CTL_SECRET_MAX || buf_putc(out, c) < 0)
			return -1;
	}
	if (out->len && out->data[out->len - 1] == '\r')
		out->len--;
	return buf_cstr(out) ? got : -1;
}

/* Asks on the terminal with echo off; restores the terminal afterwards. */
static int ask_tty(int tty, const char *prompt, struct buf *out)
{
	struct termios old, quiet;
	if (tcgetattr(tty, &old) < 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(tty, prompt, strlen(prompt)) < 0 ||
	    tcsetattr(tty, TCSAFLUSH, &quiet) < 0)
		return -1;
	int r = read_line(tty, out);
	tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0)
		return -1;
	return r;
}

static int read_secret_tty(const char *what, struct buf *out)
{
	struct buf again = BUF_INIT;
	char prompt[80];
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		ctl_fail("no terminal to ask for the %s on: use --%s-stdin", what,
		         strcmp(what, "password") ? "secret" : "password");
		return -1;
	}
	int rc = -1;
	snprintf(prompt, sizeof prompt, "New %s: ", what);
	if (ask_tty(tty, prompt, out) < 0) {
		ctl_fail("cannot read the %s from the terminal", what);
		goto out;
	}
	snprintf(prompt, sizeof prompt, "Repeat the %s: ", what);
	if (ask_tty(tty, prompt, &again) < 0) {
		ctl_fail("cannot read the %s from the terminal", what);
		goto out;
	}
	if (again.len != out->len || memcmp(again.data, out->data, out->len) != 0) {
		ctl_fail("the two %ss differ; nothing changed", what);
		goto out;
	}
	rc = 0;
out:
	ctl_wipe(&again);
	close(tty);
	return rc;
}

int ctl_read_secret(int from_stdin, const char *what, struct buf *out)
{
	const char *why = NULL;
	buf_reset(out);
	if (!from_stdin) {
		if (read_secret_tty(what, out) < 0) {
			ctl_wipe(out);
			return -1;
		}
	} else {
		int r = read_line(STDIN_FILENO, out);
		if (r < 0)
			why = "cannot be read from standard input (too long?)";
		else if (r == 0)
			why = "is missing on standard input";
	}
	if (!why && (out->len == 0 || !buf_cstr(out)))
		why = "is empty: refused";
	else if (!why && strlen(out->data) != out->len)
		why = "contains a NUL byte";
	if (why) {
		ctl_fail("the %s %s", what, why);
		ctl_wipe(out);
		return -1;
	}
	return 0;
}

/* The uid/gid of run_user when we are root and it exists. */
static int daemon_ids(const struct posthorn_config *cfg, uid_t *uid, gid_t *gid)
{
	if (geteuid() != 0 || !cfg->run_user)
		return -1;
	struct passwd *pw = getpwnam(cfg->run_user);
	if (!pw)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static void chown_tree(const char *path, uid_t uid, gid_t gid, int depth)
{
	if (lchown(path, uid, gid) < 0 && errno != ENOENT)
		fprintf(stderr, "posthornctl: warning: chown %s: %s\n", path,
		        strerror(errno));
	DIR *d = depth > 0 ? opendir(path) : NULL;
	if (!d)
		return;
	struct dirent *e;
	struct buf child = BUF_INIT;
	while ((e = readdir(d))) {
		buf_reset(&child);
		if (fs_join(path, e->d_name, &child) == 0 && buf_cstr(&child) &&
		    e->d_type != DT_LNK)
			chown_tree(child.data, uid, gid, depth - 1);
	}
	buf_free(&child);
	closedir(d);
}

void ctl_give_to_daemon(const struct posthorn_config *cfg, const char *path,
                        int recursive)
{
	uid_t uid;
	gid_t gid;
	if (daemon_ids(cfg, &uid, &gid) == 0)
		chown_tree(path, uid, gid, recursive ? CTL_TREE_DEPTH : 0);
}

void ctl_give_data_file(const struct posthorn_config *cfg, const char *name)
{
	struct buf path = BUF_INIT;
	if (fs_join(cfg->data_dir, name, &path) == 0 && buf_cstr(&path))
		ctl_give_to_daemon(cfg, path.data, 0);
	buf_free(&path);
}

static unsigned long long tree_size(const char *path, int depth)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return (unsigned long long)st.st_size;
	DIR *d = S_ISDIR(st.st_mode) && depth > 0 ? opendir(path) : NULL;
	if (!d)
		return 0;
	unsigned long long total = 0;
	struct dirent *e;
	struct buf child = BUF_INIT;
	while ((e = readdir(d))) {
		buf_reset(&child);
		if (fs_join(path, e->d_name, &child) == 0 && buf_cstr(&child))
			total += tree_size(child.data, depth - 1);
	}
	buf_free(&child);
	closedir(d);
	return total;
}

unsigned long long ctl_tree_size(const char *path)
{
	return tree_size(path, CTL_TREE_DEPTH);
}
