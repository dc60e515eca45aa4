/* Unit tests for src/smtp/outbound: one message to scripted fake SMTP
 * servers on loopback (threads listening on 127.0.0.x, one shared port per
 * test so that a route's port fits every host). Each script is a greeting
 * and (expected client line, raw reply) steps; the server records every
 * line and the DATA bytes as they came over the wire, and can switch to
 * TLS with a self-signed certificate made at test time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../../src/lib/net.h"
#include "../../src/smtp/outbound.h"

#define ANY "<any>"          /* expect: any line */
#define DATA_BODY "<data>"   /* expect: the data up to and with ".\r\n" */
#define CLOSE "<close>"      /* reply: close the connection */
#define TLS "<tls>"          /* reply: "220 go ahead", then a TLS handshake */
#define NOT_TLS "<not-tls>"  /* reply: "220 go ahead", then plain junk */

static char tmpdir[64], cert_path[128], key_path[128], msg_path[128];

struct step {
	const char *expect;
	const char *reply;       /* raw, CRLFs included; NULL: say nothing */
};

struct script {
	const char *greeting;
	const struct step *steps;
};

struct fake {
	int lfd, port;
	char addr[32];
	struct script scripts[2];  /* one per connection accepted */
	int nscripts;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int tls_done;            /* a handshake worked */
	int conns;               /* connections served */
	struct buf got;          /* every client line, CRLF kept */
	struct buf data;         /* DATA bytes as received */
	char mismatch[256];
	char rbuf[65536];
	size_t rlen;
	pthread_t thread;
};

static ssize_t fake_read(struct fake *f, char *p, size_t n)
{
	if (f->ssl) {
		int r = SSL_read(f->ssl, p, (int)n);
		return r > 0 ? r : -1;
	}
	return read(f->fd, p, n);
}

static void fake_say(struct fake *f, const char *s)
{
	if (!s)
		return;
	if (f->ssl)
		SSL_write(f->ssl, s, (int)strlen(s));
	else if (write(f->fd, s, strlen(s)) < 0)
		return;
}

/* Reads one line (CRLF kept) into out; -1 at EOF or timeout. */
static int fake_line(struct fake *f, struct buf *out)
{
	buf_reset(out);
	for (;;) {
		char *lf = memchr(f->rbuf, '\n', f->rlen);
		if (lf) {
			size_t n = (size_t)(lf - f->rbuf) + 1;
			buf_append(out, f->rbuf, n);
			memmove(f->rbuf, f->rbuf + n, f->rlen - n);
			f->rlen -= n;
			return 0;
		}
		if (f->rlen == sizeof f->rbuf)
			return -1;
		ssize_t r = fake_read(f, f->rbuf + f->rlen, sizeof f->rbuf - f->rlen);
		if (r <= 0)
			return -1;
		f->rlen += (size_t)r;
	}
}

/* The reply of a step; 1 when the session ends here. */
static int fake_reply(struct fake *f, const char *reply)
{
	if (reply && strcmp(reply, CLOSE) == 0)
		return 1;
	if (reply && strcmp(reply, NOT_TLS) == 0) {
		fake_say(f, "220 2.0.0 go ahead\r\nthis is no TLS\r\n");
		return 1;
	}
	if (reply && strcmp(reply, TLS) == 0) {
		fake_say(f, "220 2.0.0 go ahead\r\n");
		f->rlen = 0;
		f->ctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_use_certificate_file(f->ctx, cert_path, SSL_FILETYPE_PEM);
		SSL_CTX_use_PrivateKey_file(f->ctx, key_path, SSL_FILETYPE_PEM);
		f->ssl = SSL_new(f->ctx);
		SSL_set_fd(f->ssl, f->fd);
		if (SSL_accept(f->ssl) != 1)
			return 1;
		f->tls_done = 1;
		return 0;
	}
	fake_say(f, reply);
	return 0;
}

static void fake_session(struct fake *f, const struct script *sc)
{
	struct buf line = BUF_INIT;
	const char *greeting = sc->greeting;
	/* a greeting after "<tls>": TLS from the first byte (implicit) */
	if (greeting && strncmp(greeting, TLS, strlen(TLS)) == 0) {
		greeting += strlen(TLS);
		f->ctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_use_certificate_file(f->ctx, cert_path, SSL_FILETYPE_PEM);
		SSL_CTX_use_PrivateKey_file(f->ctx, key_path, SSL_FILETYPE_PEM);
		f->ssl = SSL_new(f->ctx);
		SSL_set_fd(f->ssl, f->fd);
		if (SSL_accept(f->ssl) != 1)
			goto out;
		f->tls_done = 1;
	}
	fake_say(f, greeting);
	const struct step *st = sc->steps;
	for (; st && st->expect; st++) {
		if (strcmp(st->expect, DATA_BODY) == 0) {
			do {
				if (fake_line(f, &line) < 0)
					goto out;
				buf_append(&f->data, line.data, line.len);
			} while (!(line.len == 3 && memcmp(line.data, ".\r\n", 3) == 0));
		} else {
			if (fake_line(f, &line) < 0) {
				snprintf(f->mismatch, sizeof f->mismatch,
				         "EOF, expected %s", st->expect);
				goto out;
			}
			buf_append(&f->got, line.data, line.len);
			if (line.len >= 2 && line.data[line.len - 2] == '\r')
				line.len -= 2;
			if (strcmp(st->expect, ANY) != 0
			    && strcmp(st->expect, buf_cstr(&line)) != 0) {
				snprintf(f->mismatch, sizeof f->mismatch,
				         "got \"%s\", expected \"%s\"", buf_cstr(&line),
				         st->expect);
				goto out;
			}
		}
		if (fake_reply(f, st->reply))
			goto out;
	}
	/* the goodbye, if any */
	while (fake_line(f, &line) == 0) {
		buf_append(&f->got, line.data, line.len);
		if (strncmp(line.data, "QUIT", 4) == 0)
			fake_say(f, "221 2.0.0 bye\r\n");
	}
out:
	if (f->ssl) {
		SSL_shutdown(f->ssl);
		SSL_free(f->ssl);
		f->ssl = NULL;
	}
	SSL_CTX_free(f->ctx);
	f->ctx = NULL;
	ERR_clear_error();
	close(f->fd);
	f->rlen = 0;
	buf_free(&line);
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	for (int i = 0; i < f->nscripts; i++) {
		f->fd = accept(f->lfd, NULL, NULL);
		if (f->fd < 0)
			return NULL;
		struct timeval tv = {5, 0};
		setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(f->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		f->conns++;
		fake_session(f, &f->scripts[i]);
	}
	return NULL;
}

/* Listens on addr:port (port 0: any free one). */
static int listen_on(const char *addr, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)*port)};
	assert_int_equal(inet_pton(AF_INET, addr, &a.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 4), 0);
	socklen_t len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A fake on addr (port 0: a free one) for one session, or two when
 * steps2 is given (a reconnect). */
static struct fake *fake_start(const char *addr, int port, const char *greeting,
                               const struct step *steps,
                               const struct step *steps2)
{
	struct fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	snprintf(f->addr, sizeof f->addr, "%s", addr);
	f->port = port;
	f->lfd = listen_on(addr, &f->port);
	f->scripts[0] = (struct script){greeting, steps};
	f->nscripts = 1;
	if (steps2) {
		f->scripts[1] = (struct script){greeting, steps2};
		f->nscripts = 2;
	}
	assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
	return f;
}

/* Joins the server; checks it saw what it expected. */
static void fake_end(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
	if (f->mismatch[0])
		fail_msg("fake server %s: %s", f->addr, f->mismatch);
}

static void fake_free(struct fake *f)
{
	buf_free(&f->got);
	buf_free(&f->data);
	free(f);
}

/* A port nothing listens on (bound, then closed). */
static int dead_port(void)
{
	int port = 0;
	int fd = listen_on("127.0.0.1", &port);
	close(fd);
	return port;
}

/* ---- the job ---- */

struct test_job {
	struct outbound_job job;
	struct outbound_route route;
	struct outbound_rcpt rcpts[4];
	struct buf trace;
	struct mx_host hosts[2];
	char *addrs[2][1];
	struct mx_route mx;
};

static void collect(void *arg, char dir, const char *line, size_t len)
{
	buf_printf(arg, "%c: %.*s\n", dir, (int)len, line);
}

static void write_message(const char *text)
{
	FILE *fp = fopen(msg_path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static const char MESSAGE[] =
	"From: a@example.org\nTo: b@example.net\nSubject: hi\n\nHello.\n";

static void job_init(struct test_job *t, int port, size_t nrcpts)
{
	memset(t, 0, sizeof *t);
	static const char *const addr[] = {"b@example.net", "c@example.net",
	                                   "d@example.net", "e@example.net"};
	t->route.port = port;
	t->route.tls = OUTBOUND_TLS_NONE;
	t->job.domain = "example.net";
	t->job.helo = "mx.example.org";
	t->job.sender = "a@example.org";
	t->job.msg_path = msg_path;
	t->job.route = &t->route;
	t->job.timeout = 5;
	t->job.rcpts = t->rcpts;
	t->job.nrcpts = nrcpts;
	t->job.trace = collect;
	t->job.trace_arg = &t->trace;
	for (size_t i = 0; i < nrcpts; i++)
		t->rcpts[i].address = addr[i];
	write_message(MESSAGE);
}

/* Host i of the test route: name with one address. */
static void job_host(struct test_job *t, size_t i, const char *name,
                     const char *addr)
{
	t->addrs[i][0] = (char *)addr;
	t->hosts[i] = (struct mx_host){.name = (char *)name, .pref = (int)i * 10,
	                               .addrs = t->addrs[i], .naddrs = 1};
	t->mx.hosts = t->hosts;
	if (t->mx.n < i + 1)
		t->mx.n = i + 1;
}

static size_t job_run(struct test_job *t)
{
	if (t->mx.n == 0)
		job_host(t, 0, "127.0.0.1", "127.0.0.1");
	return outbound_deliver_hosts(&t->job, &t->mx);
}

static void job_free(struct test_job *t)
{
	for (size_t i = 0; i < 4; i++)
		outbound_rcpt_free(&t->rcpts[i]);
	buf_free(&t->trace);
}

static const char *reply_of(struct test_job *t, size_t i)
{
	return buf_cstr(&t->rcpts[i].reply);
}

static void assert_rcpt(struct test_job *t, size_t i, enum outbound_result res,
                        const char *status)
{
	if (t->rcpts[i].result != res || strcmp(t->rcpts[i].status, status) != 0)
		fail_msg("rcpt %zu: result %d status %s (\"%s\"), expected %d %s",
		         i, t->rcpts[i].result, t->rcpts[i].status, reply_of(t, i),
		         res, status);
}

#define GREET "220 fake.test ESMTP\r\n"
#define EHLO "EHLO mx.example.org"
static const char EHLO_BASIC[] = "250-fake.test\r\n250 ENHANCEDSTATUSCODES\r\n";
static const char EHLO_PIPE[] =
	"250-fake.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000\r\n";

/* ---- tests ---- */

static void test_all_delivered(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 2.1.0 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 2.1.5 ok\r\n"},
		{"RCPT TO:<c@example.net>", "250 2.1.5 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250-2.0.0 queued\r\n250 2.0.0 as 42\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	assert_int_equal(job_run(&t), 2);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_rcpt(&t, 1, OUTBOUND_DELIVERED, "2.0.0");
	assert_string_equal(reply_of(&t, 0), "250 2.0.0 queued as 42");
	assert_string_equal(t.rcpts[1].remote_mta, "127.0.0.1");
	assert_true(t.rcpts[0].from_server);
	assert_string_equal(buf_cstr(&f->data),
	                    "From: a@example.org\r\nTo: b@example.net\r\n"
	                    "Subject: hi\r\n\r\nHello.\r\n.\r\n");
	assert_non_null(strstr(buf_cstr(&f->got), "QUIT\r\n"));
	assert_non_null(strstr(buf_cstr(&t.trace), "C: MAIL FROM:<a@example.org>\n"));
	job_free(&t);
	fake_free(f);
}

static void test_one_refused_one_delivered(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_PIPE},
		{"MAIL FROM:<a@example.org> SIZE=63", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "550 5.1.1 no such user\r\n"},
		{"RCPT TO:<c@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 queued\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.1.1");
	assert_string_equal(reply_of(&t, 0), "550 5.1.1 no such user");
	assert_rcpt(&t, 1, OUTBOUND_DELIVERED, "2.0.0");
	assert_string_equal(reply_of(&t, 1), "250 queued");
	job_free(&t);
	fake_free(f);
}

/* A 4xx to RCPT stays deferred and is not tried on the next host. */
static void test_rcpt_4xx_deferred(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "450-4.2.1 mailbox busy\r\n450 4.2.1 try later\r\n"},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	job_host(&t, 0, "mx1.test", "127.0.0.1");
	job_host(&t, 1, "mx2.test", "127.0.0.9");  /* must not be tried */
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.2.1");
	assert_string_equal(reply_of(&t, 0), "450 4.2.1 mailbox busy try later");
	assert_string_equal(t.rcpts[0].remote_mta, "mx1.test");
	assert_null(strstr(buf_cstr(&t.trace), "DATA"));
	job_free(&t);
	fake_free(f);
}

static void test_greeting_421(void **state)
{
	(void)state;
	static const struct step steps[] = {{NULL, NULL}};
	struct fake *f = fake_start("127.0.0.1", 0,
	                            "421 4.3.2 too busy\r\n", steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.3.2");
	assert_rcpt(&t, 1, OUTBOUND_DEFERRED, "4.3.2");
	assert_string_equal(reply_of(&t, 0), "421 4.3.2 too busy");
	assert_null(strstr(buf_cstr(&f->got), "MAIL"));
	job_free(&t);
	fake_free(f);
}

/* A 5xx greeting defers as well: it is the host's state. */
static void test_greeting_554(void **state)
{
	(void)state;
	static const struct step steps[] = {{NULL, NULL}};
	struct fake *f = fake_start("127.0.0.1", 0,
	                            "554 5.3.2 no service\r\n", steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.4.0");
	assert_string_equal(reply_of(&t, 0), "554 5.3.2 no service");
	job_free(&t);
	fake_free(f);
}

static void test_connection_refused(void **state)
{
	(void)state;
	struct test_job t;
	job_init(&t, dead_port(), 1);
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	assert_int_equal(job_run(&t), 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.4.1");
	assert_false(t.rcpts[0].from_server);
	char want[128];
	snprintf(want, sizeof want, "cannot connect to mx.example.net[127.0.0.1] "
	         "port %d: connection refused", t.route.port);
	assert_string_equal(reply_of(&t, 0), want);
	job_free(&t);
}

static void test_final_dot_554(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"RCPT TO:<c@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "554 5.7.1 spam\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.7.1");
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.7.1");
	assert_string_equal(reply_of(&t, 1), "554 5.7.1 spam");
	job_free(&t);
	fake_free(f);
}

static void test_data_452(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"RCPT TO:<c@example.net>", "550 5.1.1 unknown\r\n"},
		{"DATA", "452 4.3.1 disk full\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	job_host(&t, 0, "127.0.0.1", "127.0.0.1");
	job_host(&t, 1, "127.0.0.9", "127.0.0.9");  /* not tried: it answered */
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.3.1");
	assert_string_equal(reply_of(&t, 0), "452 4.3.1 disk full");
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.1.1");
	assert_int_equal(f->data.len, 0);
	job_free(&t);
	fake_free(f);
}

static void test_size_too_small(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, "250-fake.test\r\n250 SIZE 10\r\n"},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.3.4");
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.3.4");
	assert_string_equal(reply_of(&t, 0),
	                    "the message is 63 bytes, 127.0.0.1 accepts at most 10");
	assert_null(strstr(buf_cstr(&f->got), "MAIL"));
	job_free(&t);
	fake_free(f);
}

static void test_8bit_without_8bitmime(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	write_message("Subject: caf\xc3\xa9\n\ncaf\xc3\xa9\n");
	t.job.eightbit = 1;
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.6.3");
	assert_string_equal(reply_of(&t, 0), "the message needs 8BITMIME, which "
	                    "127.0.0.1 does not offer");
	job_free(&t);
	fake_free(f);
}

static void test_smtputf8_needed(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.rcpts[0].address = "j\xc3\xbcrgen@example.net";
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.6.7");
	job_free(&t);
	fake_free(f);
}

/* 8BITMIME, SMTPUTF8 and the DSN parameters go out when offered. */
static void test_params_passed_on(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, "250-fake.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 DSN\r\n"},
		{"MAIL FROM:<a@example.org> BODY=8BITMIME SMTPUTF8 RET=HDRS "
		 "ENVID=QQ+2B1", "250 ok\r\n"},
		{"RCPT TO:<b@example.net> NOTIFY=FAILURE,DELAY "
		 "ORCPT=rfc822;b@example.net", "250 ok\r\n"},
		{"RCPT TO:<c@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	write_message("Subject: caf\xc3\xa9\n\ncaf\xc3\xa9\n");
	t.job.eightbit = 1;
	t.job.smtputf8 = 1;
	t.job.ret = "HDRS";
	t.job.envid = "QQ+2B1";
	t.rcpts[0].notify = "FAILURE,DELAY";
	t.rcpts[0].orcpt = "rfc822;b@example.net";
	assert_int_equal(job_run(&t), 2);
	fake_end(f);
	job_free(&t);
	fake_free(f);
}

/* Without DSN offered, the DSN parameters are left out. */
static void test_params_dropped_without_dsn(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.job.sender = "";
	t.job.ret = "FULL";
	t.rcpts[0].notify = "NEVER";
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	job_free(&t);
	fake_free(f);
}

static void test_tls_required_not_offered(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_ENCRYPT;
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.7.0");
	assert_string_equal(reply_of(&t, 0),
	                    "TLS required but not offered by mx.example.net");
	assert_null(strstr(buf_cstr(&f->got), "MAIL"));
	job_free(&t);
	fake_free(f);
}

static const char EHLO_TLS[] = "250-fake.test\r\n250 STARTTLS\r\n";
static const struct step tls_steps[] = {
	{EHLO, EHLO_TLS},
	{"STARTTLS", TLS},
	{EHLO, "250-fake.test\r\n250 AUTH PLAIN LOGIN\r\n"},
	{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
	{"RCPT TO:<b@example.net>", "250 ok\r\n"},
	{"DATA", "354 go\r\n"},
	{DATA_BODY, "250 2.0.0 ok\r\n"},
	{NULL, NULL},
};

static void test_starttls_may(void **state)
{
	(void)state;
	struct fake *f = fake_start("127.0.0.1", 0, GREET, tls_steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_MAY;   /* self-signed: not checked */
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	assert_true(f->tls_done);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_int_equal(f->data.len, strlen(MESSAGE) + 5 + 3);
	job_free(&t);
	fake_free(f);
}

/* VERIFY checks the certificate against the MX name, not the address. */
static void test_starttls_verify(void **state)
{
	(void)state;
	struct fake *f = fake_start("127.0.0.1", 0, GREET, tls_steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_VERIFY;
	t.route.ca_file = cert_path;
	job_host(&t, 0, "localhost", "127.0.0.1");
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	assert_true(f->tls_done);
	job_free(&t);
	fake_free(f);
}

static void test_starttls_verify_wrong_name(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_TLS},
		{"STARTTLS", TLS},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_VERIFY;
	t.route.ca_file = cert_path;
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_false(f->tls_done);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.7.5");
	assert_non_null(strstr(reply_of(&t, 0), "the certificate of mx.example.net "
	                       "is not valid for that name"));
	assert_null(strstr(buf_cstr(&f->got), "MAIL"));
	job_free(&t);
	fake_free(f);
}

/* A failed opportunistic handshake: once more to the same host in the
 * clear (RFC 3207 4.1). */
static void test_starttls_may_falls_back(void **state)
{
	(void)state;
	static const struct step first[] = {
		{EHLO, EHLO_TLS},
		{"STARTTLS", NOT_TLS},
		{NULL, NULL},
	};
	static const struct step second[] = {
		{EHLO, EHLO_TLS},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, first, second);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_MAY;
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	assert_int_equal(f->conns, 2);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	job_free(&t);
	fake_free(f);
}

/* STARTTLS refused with 454: opportunistic TLS goes on in the clear. */
static void test_starttls_refused_may(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_TLS},
		{"STARTTLS", "454 4.7.0 not now\r\n"},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_MAY;
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	job_free(&t);
	fake_free(f);
}

static void test_smarthost_auth(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, "250-relay.test\r\n250 AUTH LOGIN PLAIN\r\n"},
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "235 2.7.0 ok\r\n"},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.smarthost = "127.0.0.1";
	t.route.auth_user = "user";
	t.route.auth_password = "secret";
	assert_int_equal(outbound_deliver(&t.job), 1);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_null(strstr(buf_cstr(&t.trace), "AHVzZXIAc2VjcmV0"));
	job_free(&t);
	fake_free(f);
}

static void test_smarthost_auth_refused(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, "250-relay.test\r\n250 AUTH PLAIN\r\n"},
		{ANY, "535 5.7.8 bad credentials\r\n"},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.smarthost = "127.0.0.1";
	t.route.auth_user = "user";
	t.route.auth_password = "wrong";
	assert_int_equal(outbound_deliver(&t.job), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.7.8");
	assert_string_equal(reply_of(&t, 0), "535 5.7.8 bad credentials");
	job_free(&t);
	fake_free(f);
}

/* An address literal needs no DNS. */
static void test_address_literal_domain(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@[127.0.0.1]>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.job.domain = "[127.0.0.1]";
	t.rcpts[0].address = "b@[127.0.0.1]";
	assert_int_equal(outbound_deliver(&t.job), 1);
	fake_end(f);
	job_free(&t);
	fake_free(f);
}

/* DNS that does not answer defers; a smarthost that does not resolve too. */
static void test_dns_unreachable(void **state)
{
	(void)state;
	struct test_job t;
	char resolver[32];
	snprintf(resolver, sizeof resolver, "127.0.0.1:%d", dead_port());
	job_init(&t, 25, 1);
	t.job.resolver = resolver;
	assert_int_equal(outbound_deliver(&t.job), 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.4.3");
	t.route.smarthost = "relay.example.org";
	assert_int_equal(outbound_deliver(&t.job), 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.4.3");
	assert_non_null(strstr(reply_of(&t, 0), "the smarthost relay.example.org"));
	job_free(&t);
}

/* The first MX refuses the connection: the second gets the message. */
static void test_second_mx(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	job_host(&t, 0, "mx1.example.net", "127.0.0.2");   /* nothing there */
	job_host(&t, 1, "mx2.example.net", "127.0.0.1");
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_string_equal(t.rcpts[0].remote_mta, "mx2.example.net");
	job_free(&t);
	fake_free(f);
}

/* A 4xx to MAIL and a lost connection try the next host; what the second
 * host says is what counts. */
static void test_next_mx_after_mail_4xx(void **state)
{
	(void)state;
	static const struct step first[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "451 4.3.0 try later\r\n"},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	static const struct step second[] = {
		{EHLO, EHLO_PIPE},
		{"MAIL FROM:<a@example.org> SIZE=63", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"RCPT TO:<c@example.net>", "550 5.1.1 unknown\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 2.0.0 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f1 = fake_start("127.0.0.1", 0, GREET, first, NULL);
	struct fake *f2 = fake_start("127.0.0.3", f1->port, GREET, second, NULL);
	struct test_job t;
	job_init(&t, f1->port, 2);
	job_host(&t, 0, "mx1.example.net", "127.0.0.1");
	job_host(&t, 1, "mx2.example.net", "127.0.0.3");
	assert_int_equal(job_run(&t), 1);
	fake_end(f1);
	fake_end(f2);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.1.1");
	assert_string_equal(t.rcpts[1].remote_mta, "mx2.example.net");
	job_free(&t);
	fake_free(f1);
	fake_free(f2);
}

/* The connection drops after the data: deferred, connection lost. */
static void test_connection_lost(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"RCPT TO:<c@example.net>", "550 5.1.1 unknown\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, CLOSE},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.4.2");
	assert_non_null(strstr(reply_of(&t, 0),
	                       "the connection to mx.example.net[127.0.0.1] was lost"));
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.1.1");
	job_free(&t);
	fake_free(f);
}

static void test_dot_stuffing(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	write_message("Subject: dots\r\n\r\n.hidden\r\n.\r\nend");
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	assert_string_equal(buf_cstr(&f->data), "Subject: dots\r\n\r\n..hidden\r\n"
	                    "..\r\nend\r\n.\r\n");
	job_free(&t);
	fake_free(f);
}

/* Bad addresses fail alone; an unreadable message defers everything. */
static void test_bad_address_and_missing_message(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<c@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	t.rcpts[0].address = "b>@example.net";
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.1.3");
	assert_rcpt(&t, 1, OUTBOUND_DELIVERED, "2.0.0");

	char missing[160];
	snprintf(missing, sizeof missing, "%s/none.msg", tmpdir);
	t.job.msg_path = missing;
	t.rcpts[0].address = "b@example.net";
	assert_int_equal(job_run(&t), 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.3.0");
	assert_rcpt(&t, 1, OUTBOUND_DEFERRED, "4.3.0");
	assert_non_null(strstr(reply_of(&t, 1), "No such file"));
	job_free(&t);
	fake_free(f);
}

/* A long multi-line reply is kept as one bounded line. */
static void test_long_reply_bounded(void **state)
{
	(void)state;
	static char rcpt_reply[4200];
	char *p = rcpt_reply;
	for (int i = 0; i < 9; i++)
		p += sprintf(p, "550-5.1.1 %0400d\r\n", i);
	sprintf(p, "550 5.1.1 end\r\n");
	struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", rcpt_reply},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.1.1");
	assert_int_equal(t.rcpts[0].reply.len, 512);
	assert_memory_equal(reply_of(&t, 0), "550 5.1.1 000", 13);
	job_free(&t);
	fake_free(f);
}

/* Pipelined, MAIL refused: the RCPTs' 503s do not matter, the MAIL
 * reply fails everyone. */
static void test_mail_5xx_pipelined(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_PIPE},
		{"MAIL FROM:<a@example.org> SIZE=63", "550 5.7.1 sender denied\r\n"},
		{"RCPT TO:<b@example.net>", "503 5.5.1 MAIL first\r\n"},
		{"RCPT TO:<c@example.net>", "503 5.5.1 MAIL first\r\n"},
		{"DATA", "503 5.5.1 MAIL first\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 2);
	job_host(&t, 0, "127.0.0.1", "127.0.0.1");
	job_host(&t, 1, "127.0.0.9", "127.0.0.9");  /* not tried: 5xx is final */
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.7.1");
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.7.1");
	assert_string_equal(reply_of(&t, 1), "550 5.7.1 sender denied");
	job_free(&t);
	fake_free(f);
}

/* A DSN parameter that is not xtext fails before anything is sent. */
static void test_bad_param(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.job.envid = "has space";
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.5.4");
	job_free(&t);
	fake_free(f);
}

/* A server that never greets: deferred after the command timeout. */
static void test_silent_server(void **state)
{
	(void)state;
	static const struct step steps[] = {{NULL, NULL}};
	struct fake *f = fake_start("127.0.0.1", 0, NULL, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.job.timeout = 1;
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.4.2");
	assert_non_null(strstr(reply_of(&t, 0), "did not answer within 1 seconds"));
	job_free(&t);
	fake_free(f);
}

/* Implicit TLS (a smarthost on port 465): verified against the name. */
static void test_implicit_tls(void **state)
{
	(void)state;
	static const struct step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{DATA_BODY, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("127.0.0.1", 0, TLS GREET, steps, NULL);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_IMPLICIT;
	t.route.ca_file = cert_path;
	job_host(&t, 0, "localhost", "127.0.0.1");
	assert_int_equal(job_run(&t), 1);
	fake_end(f);
	assert_true(f->tls_done);
	job_free(&t);
	fake_free(f);

	static const struct step none[] = {{NULL, NULL}};
	f = fake_start("127.0.0.1", 0, TLS GREET, none, NULL);
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_IMPLICIT;
	t.route.ca_file = cert_path;
	job_host(&t, 0, "relay.example.org", "127.0.0.1");
	assert_int_equal(job_run(&t), 0);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.7.5");
	assert_non_null(strstr(reply_of(&t, 0), "relay.example.org"));
	job_free(&t);
	fake_free(f);
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);   /* the fake server's writes */
	strcpy(tmpdir, "/tmp/test-outbound-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cert_path, sizeof cert_path, "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof key_path, "%s/key.pem", tmpdir);
	snprintf(msg_path, sizeof msg_path, "%s/1.msg", tmpdir);
	char cmd[512];
	snprintf(cmd, sizeof cmd,
	         "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
	         "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 2 "
	         "-keyout %s -out %s >/dev/null 2>&1", key_path, cert_path);
	return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_delivered),
		cmocka_unit_test(test_one_refused_one_delivered),
		cmocka_unit_test(test_rcpt_4xx_deferred),
		cmocka_unit_test(test_greeting_421),
		cmocka_unit_test(test_greeting_554),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_final_dot_554),
		cmocka_unit_test(test_data_452),
		cmocka_unit_test(test_size_too_small),
		cmocka_unit_test(test_8bit_without_8bitmime),
		cmocka_unit_test(test_smtputf8_needed),
		cmocka_unit_test(test_params_passed_on),
		cmocka_unit_test(test_params_dropped_without_dsn),
		cmocka_unit_test(test_tls_required_not_offered),
		cmocka_unit_test(test_starttls_may),
		cmocka_unit_test(test_starttls_verify),
		cmocka_unit_test(test_starttls_verify_wrong_name),
		cmocka_unit_test(test_starttls_may_falls_back),
		cmocka_unit_test(test_starttls_refused_may),
		cmocka_unit_test(test_smarthost_auth),
		cmocka_unit_test(test_smarthost_auth_refused),
		cmocka_unit_test(test_address_literal_domain),
		cmocka_unit_test(test_dns_unreachable),
		cmocka_unit_test(test_second_mx),
		cmocka_unit_test(test_next_mx_after_mail_4xx),
		cmocka_unit_test(test_connection_lost),
		cmocka_unit_test(test_dot_stuffing),
		cmocka_unit_test(test_bad_address_and_missing_message),
		cmocka_unit_test(test_long_reply_bounded),
		cmocka_unit_test(test_mail_5xx_pipelined),
		cmocka_unit_test(test_bad_param),
		cmocka_unit_test(test_silent_server),
		cmocka_unit_test(test_implicit_tls),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
