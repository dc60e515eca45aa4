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
 *   are recorded exactly as they came over the wire. */
#ifndef POSTHORN_TESTLIB_H
#define POSTHORN_TESTLIB_H

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

#endif
