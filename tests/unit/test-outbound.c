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
#include "testlib.h"

#define TLS "<tls>"          /* reply: "220 go ahead", then a TLS handshake */
#define NOT_TLS "<not-tls>"  /* reply: "220 go ahead", then plain junk */

static char msg_path[128];

struct script {
	const char *greeting;
	const struct script_step *steps;
};

struct fake {
	int lfd, port;
	char addr[32];
	struct script scripts[2];  /* one per connection accepted */
	int nscripts;
	struct script_io io;
	SSL_CTX *ctx;
	int tls_done;            /* a handshake worked */
	int conns;               /* connections served */
	pthread_t thread;
};

/* The server side of a TLS handshake on the connection. 0 or -1. */
static int fake_tls(struct fake *f)
{
	f->io.rlen = 0;
	f->ctx = testlib_tls_server_ctx();
	f->io.ssl = SSL_new(f->ctx);
	SSL_set_fd(f->io.ssl, f->io.fd);
	if (SSL_accept(f->io.ssl) != 1)
		return -1;
	f->tls_done = 1;
	return 0;
}

/* The reply of a step; 1 when the session ends here. */
static int fake_reply(void *arg, struct script_io *io, const char *reply)
{
	struct fake *f = arg;
	if (reply && strcmp(reply, SCRIPT_CLOSE) == 0)
		return 1;
	if (reply && strcmp(reply, NOT_TLS) == 0) {
		script_say(io, "220 2.0.0 go ahead\r\nthis is no TLS\r\n");
		return 1;
	}
	if (reply && strcmp(reply, TLS) == 0) {
		script_say(io, "220 2.0.0 go ahead\r\n");
		return fake_tls(f) < 0;
	}
	script_say(io, reply);
	return 0;
}

static void fake_session(struct fake *f, const struct script *sc)
{
	const char *greeting = sc->greeting;
	/* a greeting after "<tls>": TLS from the first byte (implicit) */
	if (greeting && strncmp(greeting, TLS, strlen(TLS)) == 0) {
		greeting += strlen(TLS);
		if (fake_tls(f) < 0)
			goto out;
	}
	script_say(&f->io, greeting);
	script_play(&f->io, sc->steps, fake_reply, f);
out:
	if (f->io.ssl) {
		SSL_shutdown(f->io.ssl);
		SSL_free(f->io.ssl);
		f->io.ssl = NULL;
	}
	SSL_CTX_free(f->ctx);
	f->ctx = NULL;
	ERR_clear_error();
	close(f->io.fd);
	f->io.rlen = 0;
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	for (int i = 0; i < f->nscripts; i++) {
		f->io.fd = accept(f->lfd, NULL, NULL);
		if (f->io.fd < 0)
			return NULL;
		struct timeval tv = {5, 0};
		setsockopt(f->io.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(f->io.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
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
                               const struct script_step *steps,
                               const struct script_step *steps2)
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
	if (f->io.mismatch[0])
		fail_msg("fake server %s: %s", f->addr, f->io.mismatch);
}

static void fake_free(struct fake *f)
{
	buf_free(&f->io.got);
	buf_free(&f->io.data);
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

/* The usual test: a fake on 127.0.0.1 playing steps after greeting, and
 * a job of nrcpts recipients for its port. */
static struct fake *start(struct test_job *t, const char *greeting,
                          const struct script_step *steps, size_t nrcpts)
{
	struct fake *f = fake_start("127.0.0.1", 0, greeting, steps, NULL);
	job_init(t, f->port, nrcpts);
	return f;
}

/* Runs the job, which must deliver to `delivered` recipients, and joins
 * the fake (checking its script). */
static void run(struct test_job *t, struct fake *f, size_t delivered)
{
	assert_int_equal(job_run(t), delivered);
	fake_end(f);
}

static void finish(struct test_job *t, struct fake *f)
{
	job_free(t);
	fake_free(f);
}

/* assert_rcpt, and the reply text kept for recipient i. */
static void assert_reply(struct test_job *t, size_t i, enum outbound_result res,
                         const char *status, const char *reply)
{
	assert_rcpt(t, i, res, status);
	assert_string_equal(reply_of(t, i), reply);
}

#define GREET "220 fake.test ESMTP\r\n"
#define EHLO "EHLO mx.example.org"
static const char EHLO_BASIC[] = "250-fake.test\r\n250 ENHANCEDSTATUSCODES\r\n";
static const char EHLO_PIPE[] =
	"250-fake.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000\r\n";

/* Steps many scripts share. */
#define MAIL_OK {"MAIL FROM:<a@example.org>", "250 ok\r\n"}
#define RCPT_B_OK {"RCPT TO:<b@example.net>", "250 ok\r\n"}
#define DATA_GO {"DATA", "354 go\r\n"}
#define BODY_OK {SCRIPT_DATA, "250 ok\r\n"}
#define QUIT_OK {"QUIT", "221 bye\r\n"}
#define END {NULL, NULL}

/* Scripts several tests play: the session ends after EHLO (the message
 * cannot go to this server), and one recipient accepted. */
static const struct script_step ehlo_quit[] = {
	{EHLO, EHLO_BASIC},
	QUIT_OK,
	END,
};
static const struct script_step one_rcpt[] = {
	{EHLO, EHLO_BASIC},
	MAIL_OK,
	RCPT_B_OK,
	DATA_GO,
	BODY_OK,
	END,
};

/* ---- tests ---- */

static void test_all_delivered(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "250 2.1.0 ok\r\n"},
		{"RCPT TO:<b@example.net>", "250 2.1.5 ok\r\n"},
		{"RCPT TO:<c@example.net>", "250 2.1.5 ok\r\n"},
		DATA_GO,
		{SCRIPT_DATA, "250-2.0.0 queued\r\n250 2.0.0 as 42\r\n"},
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	run(&t, f, 2);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_rcpt(&t, 1, OUTBOUND_DELIVERED, "2.0.0");
	assert_string_equal(reply_of(&t, 0), "250 2.0.0 queued as 42");
	assert_string_equal(t.rcpts[1].remote_mta, "127.0.0.1");
	assert_true(t.rcpts[0].from_server);
	assert_string_equal(buf_cstr(&f->io.data),
	                    "From: a@example.org\r\nTo: b@example.net\r\n"
	                    "Subject: hi\r\n\r\nHello.\r\n.\r\n");
	assert_non_null(strstr(buf_cstr(&f->io.got), "QUIT\r\n"));
	assert_non_null(strstr(buf_cstr(&t.trace), "C: MAIL FROM:<a@example.org>\n"));
	finish(&t, f);
}

static void test_one_refused_one_delivered(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_PIPE},
		{"MAIL FROM:<a@example.org> SIZE=63", "250 ok\r\n"},
		{"RCPT TO:<b@example.net>", "550 5.1.1 no such user\r\n"},
		{"RCPT TO:<c@example.net>", "250 ok\r\n"},
		DATA_GO,
		{SCRIPT_DATA, "250 queued\r\n"},
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	run(&t, f, 1);
	assert_reply(&t, 0, OUTBOUND_FAILED, "5.1.1", "550 5.1.1 no such user");
	assert_reply(&t, 1, OUTBOUND_DELIVERED, "2.0.0", "250 queued");
	finish(&t, f);
}

/* A 4xx to RCPT stays deferred and is not tried on the next host. */
static void test_rcpt_4xx_deferred(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		MAIL_OK,
		{"RCPT TO:<b@example.net>", "450-4.2.1 mailbox busy\r\n450 4.2.1 try later\r\n"},
		QUIT_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 1);
	job_host(&t, 0, "mx1.test", "127.0.0.1");
	job_host(&t, 1, "mx2.test", "127.0.0.9");  /* must not be tried */
	run(&t, f, 0);
	assert_reply(&t, 0, OUTBOUND_DEFERRED, "4.2.1",
	             "450 4.2.1 mailbox busy try later");
	assert_string_equal(t.rcpts[0].remote_mta, "mx1.test");
	assert_null(strstr(buf_cstr(&t.trace), "DATA"));
	finish(&t, f);
}

static void test_greeting_421(void **state)
{
	(void)state;
	static const struct script_step steps[] = {END};
	struct test_job t;
	struct fake *f = start(&t, "421 4.3.2 too busy\r\n", steps, 2);
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.3.2");
	assert_rcpt(&t, 1, OUTBOUND_DEFERRED, "4.3.2");
	assert_string_equal(reply_of(&t, 0), "421 4.3.2 too busy");
	assert_null(strstr(buf_cstr(&f->io.got), "MAIL"));
	finish(&t, f);
}

/* A 5xx greeting defers as well: it is the host's state. */
static void test_greeting_554(void **state)
{
	(void)state;
	static const struct script_step steps[] = {END};
	struct test_job t;
	struct fake *f = start(&t, "554 5.3.2 no service\r\n", steps, 1);
	run(&t, f, 0);
	assert_reply(&t, 0, OUTBOUND_DEFERRED, "4.4.0", "554 5.3.2 no service");
	finish(&t, f);
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
	static const struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		MAIL_OK,
		RCPT_B_OK,
		{"RCPT TO:<c@example.net>", "250 ok\r\n"},
		DATA_GO,
		{SCRIPT_DATA, "554 5.7.1 spam\r\n"},
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.7.1");
	assert_reply(&t, 1, OUTBOUND_FAILED, "5.7.1", "554 5.7.1 spam");
	finish(&t, f);
}

static void test_data_452(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		MAIL_OK,
		RCPT_B_OK,
		{"RCPT TO:<c@example.net>", "550 5.1.1 unknown\r\n"},
		{"DATA", "452 4.3.1 disk full\r\n"},
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	job_host(&t, 0, "127.0.0.1", "127.0.0.1");
	job_host(&t, 1, "127.0.0.9", "127.0.0.9");  /* not tried: it answered */
	run(&t, f, 0);
	assert_reply(&t, 0, OUTBOUND_DEFERRED, "4.3.1", "452 4.3.1 disk full");
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.1.1");
	assert_int_equal(f->io.data.len, 0);
	finish(&t, f);
}

static void test_size_too_small(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, "250-fake.test\r\n250 SIZE 10\r\n"},
		QUIT_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.3.4");
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.3.4");
	assert_string_equal(reply_of(&t, 0),
	                    "the message is 63 bytes, 127.0.0.1 accepts at most 10");
	assert_null(strstr(buf_cstr(&f->io.got), "MAIL"));
	finish(&t, f);
}

static void test_8bit_without_8bitmime(void **state)
{
	(void)state;
	struct test_job t;
	struct fake *f = start(&t, GREET, ehlo_quit, 1);
	write_message("Subject: caf\xc3\xa9\n\ncaf\xc3\xa9\n");
	t.job.eightbit = 1;
	run(&t, f, 0);
	assert_reply(&t, 0, OUTBOUND_FAILED, "5.6.3",
	             "the message needs 8BITMIME, which "
	             "127.0.0.1 does not offer");
	finish(&t, f);
}

static void test_smtputf8_needed(void **state)
{
	(void)state;
	struct test_job t;
	struct fake *f = start(&t, GREET, ehlo_quit, 1);
	t.rcpts[0].address = "j\xc3\xbcrgen@example.net";
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.6.7");
	finish(&t, f);
}

/* 8BITMIME, SMTPUTF8 and the DSN parameters go out when offered. */
static void test_params_passed_on(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, "250-fake.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 DSN\r\n"},
		{"MAIL FROM:<a@example.org> BODY=8BITMIME SMTPUTF8 RET=HDRS "
		 "ENVID=QQ+2B1", "250 ok\r\n"},
		{"RCPT TO:<b@example.net> NOTIFY=FAILURE,DELAY "
		 "ORCPT=rfc822;b@example.net", "250 ok\r\n"},
		{"RCPT TO:<c@example.net>", "250 ok\r\n"},
		DATA_GO,
		BODY_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	write_message("Subject: caf\xc3\xa9\n\ncaf\xc3\xa9\n");
	t.job.eightbit = 1;
	t.job.smtputf8 = 1;
	t.job.ret = "HDRS";
	t.job.envid = "QQ+2B1";
	t.rcpts[0].notify = "FAILURE,DELAY";
	t.rcpts[0].orcpt = "rfc822;b@example.net";
	run(&t, f, 2);
	finish(&t, f);
}

/* Without DSN offered, the DSN parameters are left out. */
static void test_params_dropped_without_dsn(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<>", "250 ok\r\n"},
		RCPT_B_OK,
		DATA_GO,
		BODY_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 1);
	t.job.sender = "";
	t.job.ret = "FULL";
	t.rcpts[0].notify = "NEVER";
	run(&t, f, 1);
	finish(&t, f);
}

static void test_tls_required_not_offered(void **state)
{
	(void)state;
	struct test_job t;
	struct fake *f = start(&t, GREET, ehlo_quit, 1);
	t.route.tls = OUTBOUND_TLS_ENCRYPT;
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	run(&t, f, 0);
	assert_reply(&t, 0, OUTBOUND_DEFERRED, "4.7.0",
	             "TLS required but not offered by mx.example.net");
	assert_null(strstr(buf_cstr(&f->io.got), "MAIL"));
	finish(&t, f);
}

static const char EHLO_TLS[] = "250-fake.test\r\n250 STARTTLS\r\n";
static const struct script_step tls_steps[] = {
	{EHLO, EHLO_TLS},
	{"STARTTLS", TLS},
	{EHLO, "250-fake.test\r\n250 AUTH PLAIN LOGIN\r\n"},
	MAIL_OK,
	RCPT_B_OK,
	DATA_GO,
	{SCRIPT_DATA, "250 2.0.0 ok\r\n"},
	END,
};

static void test_starttls_may(void **state)
{
	(void)state;
	struct test_job t;
	struct fake *f = start(&t, GREET, tls_steps, 1);
	t.route.tls = OUTBOUND_TLS_MAY;   /* self-signed: not checked */
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	run(&t, f, 1);
	assert_true(f->tls_done);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_int_equal(f->io.data.len, strlen(MESSAGE) + 5 + 3);
	finish(&t, f);
}

/* VERIFY checks the certificate against the MX name, not the address. */
static void test_starttls_verify(void **state)
{
	(void)state;
	struct test_job t;
	struct fake *f = start(&t, GREET, tls_steps, 1);
	t.route.tls = OUTBOUND_TLS_VERIFY;
	t.route.ca_file = testlib_cert;
	job_host(&t, 0, "localhost", "127.0.0.1");
	run(&t, f, 1);
	assert_true(f->tls_done);
	finish(&t, f);
}

static void test_starttls_verify_wrong_name(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_TLS},
		{"STARTTLS", TLS},
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 1);
	t.route.tls = OUTBOUND_TLS_VERIFY;
	t.route.ca_file = testlib_cert;
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	run(&t, f, 0);
	assert_false(f->tls_done);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.7.5");
	assert_non_null(strstr(reply_of(&t, 0), "the certificate of mx.example.net "
	                       "is not valid for that name"));
	assert_null(strstr(buf_cstr(&f->io.got), "MAIL"));
	finish(&t, f);
}

/* A failed opportunistic handshake: once more to the same host in the
 * clear (RFC 3207 4.1). */
static void test_starttls_may_falls_back(void **state)
{
	(void)state;
	static const struct script_step first[] = {
		{EHLO, EHLO_TLS},
		{"STARTTLS", NOT_TLS},
		END,
	};
	static const struct script_step second[] = {
		{EHLO, EHLO_TLS},
		MAIL_OK,
		RCPT_B_OK,
		DATA_GO,
		BODY_OK,
		END,
	};
	struct fake *f = fake_start("127.0.0.1", 0, GREET, first, second);
	struct test_job t;
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_MAY;
	run(&t, f, 1);
	assert_int_equal(f->conns, 2);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	finish(&t, f);
}

/* STARTTLS refused with 454: opportunistic TLS goes on in the clear. */
static void test_starttls_refused_may(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_TLS},
		{"STARTTLS", "454 4.7.0 not now\r\n"},
		MAIL_OK,
		RCPT_B_OK,
		DATA_GO,
		BODY_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 1);
	t.route.tls = OUTBOUND_TLS_MAY;
	run(&t, f, 1);
	finish(&t, f);
}

static void test_smarthost_auth(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, "250-relay.test\r\n250 AUTH LOGIN PLAIN\r\n"},
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "235 2.7.0 ok\r\n"},
		MAIL_OK,
		RCPT_B_OK,
		DATA_GO,
		BODY_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 1);
	t.route.smarthost = "127.0.0.1";
	t.route.auth_user = "user";
	t.route.auth_password = "secret";
	assert_int_equal(outbound_deliver(&t.job), 1);
	fake_end(f);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_null(strstr(buf_cstr(&t.trace), "AHVzZXIAc2VjcmV0"));
	finish(&t, f);
}

static void test_smarthost_auth_refused(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, "250-relay.test\r\n250 AUTH PLAIN\r\n"},
		{SCRIPT_ANY, "535 5.7.8 bad credentials\r\n"},
		QUIT_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 1);
	t.route.smarthost = "127.0.0.1";
	t.route.auth_user = "user";
	t.route.auth_password = "wrong";
	assert_int_equal(outbound_deliver(&t.job), 0);
	fake_end(f);
	assert_reply(&t, 0, OUTBOUND_DEFERRED, "4.7.8",
	             "535 5.7.8 bad credentials");
	finish(&t, f);
}

/* An address literal needs no DNS. */
static void test_address_literal_domain(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		MAIL_OK,
		{"RCPT TO:<b@[127.0.0.1]>", "250 ok\r\n"},
		DATA_GO,
		BODY_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 1);
	t.job.domain = "[127.0.0.1]";
	t.rcpts[0].address = "b@[127.0.0.1]";
	assert_int_equal(outbound_deliver(&t.job), 1);
	fake_end(f);
	finish(&t, f);
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
	struct test_job t;
	struct fake *f = start(&t, GREET, one_rcpt, 1);
	job_host(&t, 0, "mx1.example.net", "127.0.0.2");   /* nothing there */
	job_host(&t, 1, "mx2.example.net", "127.0.0.1");
	run(&t, f, 1);
	assert_rcpt(&t, 0, OUTBOUND_DELIVERED, "2.0.0");
	assert_string_equal(t.rcpts[0].remote_mta, "mx2.example.net");
	finish(&t, f);
}

/* A 4xx to MAIL and a lost connection try the next host; what the second
 * host says is what counts. */
static void test_next_mx_after_mail_4xx(void **state)
{
	(void)state;
	static const struct script_step first[] = {
		{EHLO, EHLO_BASIC},
		{"MAIL FROM:<a@example.org>", "451 4.3.0 try later\r\n"},
		QUIT_OK,
		END,
	};
	static const struct script_step second[] = {
		{EHLO, EHLO_PIPE},
		{"MAIL FROM:<a@example.org> SIZE=63", "250 ok\r\n"},
		RCPT_B_OK,
		{"RCPT TO:<c@example.net>", "550 5.1.1 unknown\r\n"},
		DATA_GO,
		{SCRIPT_DATA, "250 2.0.0 ok\r\n"},
		END,
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
	static const struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		MAIL_OK,
		RCPT_B_OK,
		{"RCPT TO:<c@example.net>", "550 5.1.1 unknown\r\n"},
		DATA_GO,
		{SCRIPT_DATA, SCRIPT_CLOSE},
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	job_host(&t, 0, "mx.example.net", "127.0.0.1");
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.4.2");
	assert_non_null(strstr(reply_of(&t, 0),
	                       "the connection to mx.example.net[127.0.0.1] was lost"));
	assert_rcpt(&t, 1, OUTBOUND_FAILED, "5.1.1");
	finish(&t, f);
}

static void test_dot_stuffing(void **state)
{
	(void)state;
	struct test_job t;
	struct fake *f = start(&t, GREET, one_rcpt, 1);
	write_message("Subject: dots\r\n\r\n.hidden\r\n.\r\nend");
	run(&t, f, 1);
	assert_string_equal(buf_cstr(&f->io.data), "Subject: dots\r\n\r\n..hidden\r\n"
	                    "..\r\nend\r\n.\r\n");
	finish(&t, f);
}

/* Bad addresses fail alone; an unreadable message defers everything. */
static void test_bad_address_and_missing_message(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		MAIL_OK,
		{"RCPT TO:<c@example.net>", "250 ok\r\n"},
		DATA_GO,
		BODY_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	t.rcpts[0].address = "b>@example.net";
	run(&t, f, 1);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.1.3");
	assert_rcpt(&t, 1, OUTBOUND_DELIVERED, "2.0.0");

	char missing[160];
	snprintf(missing, sizeof missing, "%s/none.msg", testlib_tmpdir);
	t.job.msg_path = missing;
	t.rcpts[0].address = "b@example.net";
	assert_int_equal(job_run(&t), 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.3.0");
	assert_rcpt(&t, 1, OUTBOUND_DEFERRED, "4.3.0");
	assert_non_null(strstr(reply_of(&t, 1), "No such file"));
	finish(&t, f);
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
	struct script_step steps[] = {
		{EHLO, EHLO_BASIC},
		MAIL_OK,
		{"RCPT TO:<b@example.net>", rcpt_reply},
		QUIT_OK,
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 1);
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.1.1");
	assert_int_equal(t.rcpts[0].reply.len, 512);
	assert_memory_equal(reply_of(&t, 0), "550 5.1.1 000", 13);
	finish(&t, f);
}

/* Pipelined, MAIL refused: the RCPTs' 503s do not matter, the MAIL
 * reply fails everyone. */
static void test_mail_5xx_pipelined(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{EHLO, EHLO_PIPE},
		{"MAIL FROM:<a@example.org> SIZE=63", "550 5.7.1 sender denied\r\n"},
		{"RCPT TO:<b@example.net>", "503 5.5.1 MAIL first\r\n"},
		{"RCPT TO:<c@example.net>", "503 5.5.1 MAIL first\r\n"},
		{"DATA", "503 5.5.1 MAIL first\r\n"},
		END,
	};
	struct test_job t;
	struct fake *f = start(&t, GREET, steps, 2);
	job_host(&t, 0, "127.0.0.1", "127.0.0.1");
	job_host(&t, 1, "127.0.0.9", "127.0.0.9");  /* not tried: 5xx is final */
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.7.1");
	assert_reply(&t, 1, OUTBOUND_FAILED, "5.7.1",
	             "550 5.7.1 sender denied");
	finish(&t, f);
}

/* A DSN parameter that is not xtext fails before anything is sent. */
static void test_bad_param(void **state)
{
	(void)state;
	struct test_job t;
	struct fake *f = start(&t, GREET, ehlo_quit, 1);
	t.job.envid = "has space";
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_FAILED, "5.5.4");
	finish(&t, f);
}

/* A server that never greets: deferred after the command timeout. */
static void test_silent_server(void **state)
{
	(void)state;
	static const struct script_step steps[] = {END};
	struct test_job t;
	struct fake *f = start(&t, NULL, steps, 1);
	t.job.timeout = 1;
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.4.2");
	assert_non_null(strstr(reply_of(&t, 0), "did not answer within 1 seconds"));
	finish(&t, f);
}

/* Implicit TLS (a smarthost on port 465): verified against the name. */
static void test_implicit_tls(void **state)
{
	(void)state;
	struct test_job t;
	struct fake *f = start(&t, TLS GREET, one_rcpt, 1);
	t.route.tls = OUTBOUND_TLS_IMPLICIT;
	t.route.ca_file = testlib_cert;
	job_host(&t, 0, "localhost", "127.0.0.1");
	run(&t, f, 1);
	assert_true(f->tls_done);
	finish(&t, f);

	static const struct script_step none[] = {{NULL, NULL}};
	f = fake_start("127.0.0.1", 0, TLS GREET, none, NULL);
	job_init(&t, f->port, 1);
	t.route.tls = OUTBOUND_TLS_IMPLICIT;
	t.route.ca_file = testlib_cert;
	job_host(&t, 0, "relay.example.org", "127.0.0.1");
	run(&t, f, 0);
	assert_rcpt(&t, 0, OUTBOUND_DEFERRED, "4.7.5");
	assert_non_null(strstr(reply_of(&t, 0), "relay.example.org"));
	finish(&t, f);
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);   /* the fake server's writes */
	if (testlib_cert_setup() < 0)
		return -1;
	snprintf(msg_path, sizeof msg_path, "%s/1.msg", testlib_tmpdir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return testlib_cert_teardown();
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
