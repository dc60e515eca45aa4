/* testlib: helpers that several unit tests share, header-only because the
 * Makefile builds each tests/unit/test-*.c on its own against the library.
 * Everything is static (and marked unused, so a test takes only what it
 * needs). Include after <cmocka.h>; helpers assert with cmocka.
 *
 * - A temporary directory per test: testlib_dir_setup/teardown.
 * - A self-signed certificate for localhost and 127.0.0.1 in a temporary
 *   directory for the whole group, and a TLS server context using it.
 * - The engine of a scripted fake SMTP server: a greeting, then (expected
 *   client line, raw reply) steps; every client line and the DATA bytes
 *   are recorded exactly as they came over the wire.
 * - With TESTLIB_SESSION defined before the include (the names would clash
 *   with other tests' own): a fake owner for protocol sessions (the
 *   struct session_io callbacks: output captured, jobs inline or deferred,
 *   STARTTLS/STLS, close and timer recorded, an optional output backlog)
 *   and assert_prefix/assert_contains/assert_lacks for their replies. */
#ifndef POSTHORN_TESTLIB_H
#define POSTHORN_TESTLIB_H

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "../../src/lib/buf.h"

#define TESTLIB static __attribute__((unused))

/* ---- temporary directories ---- */

TESTLIB int testlib_remove_entry(const char *path, const struct stat *st,
                                int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* Removes dir and everything below it (links are not followed). */
TESTLIB void testlib_rmtree(const char *dir)
{
	nftw(dir, testlib_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* cmocka setup: *state becomes a new empty directory
 * $TMPDIR/PROGRAM.XXXXXX (TMPDIR unset or empty: /tmp), malloc'd;
 * testlib_dir_teardown removes and frees it. */
TESTLIB int testlib_dir_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	char *dir = malloc(4096);
	if (!dir)
		return -1;
	snprintf(dir, 4096, "%s/%s.XXXXXX", base && *base ? base : "/tmp",
	         program_invocation_short_name);
	if (!mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

TESTLIB int testlib_dir_teardown(void **state)
{
	char *dir = *state;
	testlib_rmtree(dir);
	free(dir);
	return 0;
}

/* Runs the shell command fmt with arg (quoted by fmt) and asserts that it
 * succeeded. */
TESTLIB void testlib_run_cmd(const char *fmt, const char *arg)
{
	char cmd[8192];
	snprintf(cmd, sizeof cmd, fmt, arg);
	assert_int_equal(system(cmd), 0);
}

/* Entries of dir whose names do not start with '.'; 0 when dir cannot be
 * opened. */
TESTLIB int testlib_count_files(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- a self-signed certificate ---- */

/* Set by testlib_cert_setup: the directory, and cert.pem and key.pem in
 * it (CN localhost, subjectAltName IP:127.0.0.1 and DNS:localhost). */
TESTLIB char testlib_tmpdir[64], testlib_cert[128], testlib_key[128];

/* Makes /tmp/PROGRAM-XXXXXX with the certificate and key (openssl(1)).
 * 0 or -1; a cmocka group setup can return it. */
TESTLIB int testlib_cert_setup(void)
{
	snprintf(testlib_tmpdir, sizeof testlib_tmpdir, "/tmp/%.40s-XXXXXX",
	         program_invocation_short_name);
	if (!mkdtemp(testlib_tmpdir))
		return -1;
	const char *dir = testlib_tmpdir;
	snprintf(testlib_cert, sizeof testlib_cert, "%s/cert.pem", dir);
	snprintf(testlib_key, sizeof testlib_key, "%s/key.pem", dir);
	char cmd[512];
	snprintf(cmd, sizeof cmd,
	         "openssl req -x509 -newkey rsa:2048 -nodes "
	         "-subj /CN=localhost "
	         "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 2 "
	         "-keyout %s -out %s >/dev/null 2>&1",
	         testlib_key, testlib_cert);
	return system(cmd) == 0 ? 0 : -1;
}

/* Removes testlib_tmpdir with all in it. 0 or -1. */
TESTLIB int testlib_cert_teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", testlib_tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A TLS server context with the certificate and key (NULL when out of
 * memory); the caller frees it with SSL_CTX_free. No cmocka asserts: fake
 * servers call it in their own threads. */
TESTLIB SSL_CTX *testlib_tls_server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	SSL_CTX_use_certificate_file(ctx, testlib_cert, SSL_FILETYPE_PEM);
	SSL_CTX_use_PrivateKey_file(ctx, testlib_key, SSL_FILETYPE_PEM);
	return ctx;
}

/* ---- a scripted fake SMTP server ---- */

#define SCRIPT_ANY "<any>"     /* expect: any line */
#define SCRIPT_DATA "<data>"   /* expect: the data up to and with ".\r\n" */
#define SCRIPT_CLOSE "<close>" /* reply: close the connection */

struct script_step {
	const char *expect;
	const char *reply;       /* raw, CRLFs included; NULL: say nothing */
};

/* One connection of the fake server, its own thread's. */
struct script_io {
	int fd;
	SSL *ssl;                /* when set, all I/O goes through it */
	struct buf got;          /* every client line, CRLF kept */
	struct buf data;         /* DATA bytes as received */
	char mismatch[256];      /* what went against the script, "" none */
	char rbuf[65536];
	size_t rlen;
};

TESTLIB void script_say(struct script_io *io, const char *s)
{
	if (!s)
		return;
	if (io->ssl)
		SSL_write(io->ssl, s, (int)strlen(s));
	else if (write(io->fd, s, strlen(s)) < 0)
		return;
}

TESTLIB ssize_t script_read(struct script_io *io, char *p, size_t n)
{
	if (io->ssl) {
		int r = SSL_read(io->ssl, p, (int)n);
		return r > 0 ? r : -1;
	}
	return read(io->fd, p, n);
}

/* Reads one line (CRLF kept) into out; -1 at EOF or timeout. */
TESTLIB int script_line(struct script_io *io, struct buf *out)
{
	buf_reset(out);
	for (;;) {
		char *lf = memchr(io->rbuf, '\n', io->rlen);
		if (lf) {
			size_t n = (size_t)(lf - io->rbuf) + 1;
			buf_append(out, io->rbuf, n);
			memmove(io->rbuf, io->rbuf + n, io->rlen - n);
			io->rlen -= n;
			return 0;
		}
		if (io->rlen == sizeof io->rbuf)
			return -1;
		ssize_t r = script_read(io, io->rbuf + io->rlen,
		                        sizeof io->rbuf - io->rlen);
		if (r <= 0)
			return -1;
		io->rlen += (size_t)r;
	}
}

/* One step's expectation: 0 when the client sent what it should, -1 with
 * io->mismatch set (or at EOF in the data) otherwise. */
TESTLIB int script_expect(struct script_io *io, const char *expect,
                         struct buf *line)
{
	if (strcmp(expect, SCRIPT_DATA) == 0) {
		do {
			if (script_line(io, line) < 0)
				return -1;
			buf_append(&io->data, line->data, line->len);
		} while (!(line->len == 3 &&
		           memcmp(line->data, ".\r\n", 3) == 0));
		return 0;
	}
	if (script_line(io, line) < 0) {
		snprintf(io->mismatch, sizeof io->mismatch, "EOF, expected %s",
		         expect);
		return -1;
	}
	buf_append(&io->got, line->data, line->len);
	if (line->len >= 2 && line->data[line->len - 2] == '\r')
		line->len -= 2;
	else
		snprintf(io->mismatch, sizeof io->mismatch, "no CRLF");
	if (strcmp(expect, SCRIPT_ANY) != 0 &&
	    strcmp(expect, buf_cstr(line)) != 0) {
		snprintf(io->mismatch, sizeof io->mismatch,
		         "got \"%s\", expected \"%s\"", buf_cstr(line), expect);
		return -1;
	}
	return 0;
}

/* Plays steps after the greeting (said by the caller): each expectation,
 * then its reply through reply(arg, io, text) when given (1: the session
 * ends there), else said as it is (SCRIPT_CLOSE ends the session). After
 * the last step the client's remaining lines are recorded and QUIT is
 * answered with 221, up to EOF. Closes nothing. */
TESTLIB void script_play(struct script_io *io, const struct script_step *steps,
                         int (*reply)(void *arg, struct script_io *io,
                                      const char *text),
                         void *arg)
{
	struct buf line = BUF_INIT;
	for (const struct script_step *st = steps; st && st->expect; st++) {
		if (script_expect(io, st->expect, &line) < 0)
			goto out;
		if (reply ? reply(arg, io, st->reply)
		          : st->reply && strcmp(st->reply, SCRIPT_CLOSE) == 0)
			goto out;
		if (!reply)
			script_say(io, st->reply);
	}
	/* the goodbye, if any */
	while (script_line(io, &line) == 0) {
		buf_append(&io->got, line.data, line.len);
		if (strncmp(line.data, "QUIT", 4) == 0)
			script_say(io, "221 2.0.0 bye\r\n");
	}
out:
	buf_free(&line);
}

#ifdef TESTLIB_SESSION

#include "../../src/lib/config.h"
#include "../../src/lib/session.h"

/* The limits the session tests run with: small enough to reach. */
TESTLIB struct cfg_limits testlib_session_limits(void)
{
	return (struct cfg_limits){
		.message_size = 10000, .recipients = 5, .line_length = 1000,
		.header_size = 4096, .commands_before_mail = 50, .errors = 10,
		.connections = 10, .connections_per_ip = 10, .command_timeout = 300,
		.data_timeout = 180, .auth_failures = 3, .auth_delay_ms = 0,
		.shutdown_timeout = 30, .pop3_timeout = 600,
	};
}

/* ---- a fake owner for protocol sessions ---- */

struct testlib_job {
	void (*job)(void *);
	void (*done)(void *);
	void *arg;
};

/* What the session did through its session_io; zero it to start. */
struct testlib_owner {
	struct buf out;        /* everything written */
	size_t seen;           /* how much of out the test has looked at */
	int writes;            /* write calls */
	int late_writes;       /* write calls after close */
	int closed;            /* close calls */
	int tls_started;       /* start_tls calls */
	int timeout;           /* the last set_timeout */
	int defer_jobs;        /* keep jobs until testlib_owner_run_deferred */
	struct testlib_job pending_job;
	int npending;
	size_t backlog;        /* bytes "not yet sent", for io.pending */
	size_t max_backlog;
};

TESTLIB void testlib_owner_write(void *ctx, const void *data, size_t len)
{
	struct testlib_owner *f = ctx;
	f->writes++;
	if (f->closed)
		f->late_writes++;
	f->backlog += len;
	if (f->backlog > f->max_backlog)
		f->max_backlog = f->backlog;
	assert_int_equal(buf_append(&f->out, data, len), 0);
}

TESTLIB void testlib_owner_start_tls(void *ctx)
{
	((struct testlib_owner *)ctx)->tls_started++;
}

TESTLIB void testlib_owner_close(void *ctx)
{
	((struct testlib_owner *)ctx)->closed++;
}

TESTLIB void testlib_owner_run_job(void *ctx, void (*job)(void *),
                                   void (*done)(void *), void *arg)
{
	struct testlib_owner *f = ctx;
	if (!f->defer_jobs) {
		job(arg);
		done(arg);
		return;
	}
	assert_int_equal(f->npending, 0);
	f->pending_job = (struct testlib_job){job, done, arg};
	f->npending = 1;
}

TESTLIB void testlib_owner_set_timeout(void *ctx, int seconds)
{
	((struct testlib_owner *)ctx)->timeout = seconds;
}

TESTLIB size_t testlib_owner_pending(void *ctx)
{
	return ((struct testlib_owner *)ctx)->backlog;
}

/* Every callback pointing at f; a test clears the ones its owner lacks
 * (start_tls for --stdio, pending for synchronous writes). */
TESTLIB struct session_io testlib_owner_io(struct testlib_owner *f)
{
	return (struct session_io){
		.ctx = f, .write = testlib_owner_write,
		.start_tls = testlib_owner_start_tls, .close = testlib_owner_close,
		.run_job = testlib_owner_run_job,
		.set_timeout = testlib_owner_set_timeout,
		.pending = testlib_owner_pending,
	};
}

/* Output written since the last call (NUL-terminated; lives until the
 * next change to f->out). */
TESTLIB const char *testlib_owner_fresh(struct testlib_owner *f)
{
	const char *all = buf_cstr(&f->out);
	const char *r = all + f->seen;
	f->seen = f->out.len;
	return r;
}

/* Runs the one job f kept back, then its done. */
TESTLIB void testlib_owner_run_deferred(struct testlib_owner *f)
{
	assert_int_equal(f->npending, 1);
	f->npending = 0;
	f->pending_job.job(f->pending_job.arg);
	f->pending_job.done(f->pending_job.arg);
}

/* For after the session is freed: nothing was written after close, close
 * came at most once; frees the output. */
TESTLIB void testlib_owner_free(struct testlib_owner *f)
{
	assert_int_equal(f->late_writes, 0);
	assert_true(f->closed <= 1);
	buf_free(&f->out);
}

#define assert_prefix(got, want)                                              \
	do {                                                                      \
		const char *g_ = (got), *w_ = (want);                                 \
		if (strncmp(g_, w_, strlen(w_)) != 0)                                 \
			fail_msg("got [%s], want prefix [%s]", g_, w_);                   \
	} while (0)
#define assert_contains(got, want)                                            \
	do {                                                                      \
		const char *g_ = (got), *w_ = (want);                                 \
		if (!strstr(g_, w_))                                                  \
			fail_msg("[%s] does not contain [%s]", g_, w_);                   \
	} while (0)
#define assert_lacks(got, want)                                               \
	do {                                                                      \
		const char *g_ = (got), *w_ = (want);                                 \
		if (strstr(g_, w_))                                                   \
			fail_msg("[%s] contains [%s]", g_, w_);                           \
	} while (0)

#endif /* TESTLIB_SESSION */

#endif
