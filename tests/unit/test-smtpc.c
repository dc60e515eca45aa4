/* Unit tests for src/smtp/smtpc: the client against a scripted fake server
 * thread over a socketpair. Each script is the greeting and a list of
 * (expected client line, raw reply) steps; the server records every line it
 * got and the DATA bytes exactly as they came over the wire. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../src/lib/net.h"
#include "../../src/smtp/smtpc.h"
#include "testlib.h"

/* One test session: the fake server thread and the client side. */
struct fake {
	struct script_io io;
	const char *greeting;
	const struct script_step *steps;
	pthread_t thread;
	/* the client side: the connection, the session on it once started,
	 * and what every smtpc call reports (see the f_ wrappers) */
	struct net_conn *conn;
	struct buf trace;
	struct smtpc *s;
	struct smtpc_reply last;
	enum net_err err;
	struct buf why;
};

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	script_say(&f->io, f->greeting);
	script_play(&f->io, f->steps, NULL, NULL);
	close(f->io.fd);
	return NULL;
}

static void collect(void *arg, char dir, const char *line, size_t len)
{
	struct buf *t = arg;
	buf_printf(t, "%c: %.*s\n", dir, (int)len, line);
}

static struct fake *fake_start(const char *greeting,
                               const struct script_step *steps)
{
	struct fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct timeval tv = {5, 0};
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	f->io.fd = sv[1];
	f->greeting = greeting;
	f->steps = steps;
	smtpc_reply_init(&f->last);
	struct net_options opt = {.timeout = 3, .trace = collect,
	                          .trace_arg = &f->trace};
	f->conn = net_from_fd(sv[0], "fake.test", &opt);
	assert_non_null(f->conn);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
	return f;
}

/* Quits the session when it is still open (a test that checks the
 * goodbye quits first), joins the server, checks it saw what it
 * expected, and frees f. */
static void fake_end(struct fake *f)
{
	smtpc_quit(&f->s);
	pthread_join(f->thread, NULL);
	if (f->io.mismatch[0])
		fail_msg("fake server: %s", f->io.mismatch);
	buf_free(&f->io.got);
	buf_free(&f->io.data);
	buf_free(&f->trace);
	smtpc_reply_free(&f->last);
	buf_free(&f->why);
	free(f);
}

/* The calls under test on f's connection or session, reporting in f->last,
 * f->err and f->why. Every test greets as client.test, sends as
 * me@client.test and logs in as user with password secret. */
static struct smtpc *f_start(struct fake *f)
{
	f->s = smtpc_start(f->conn, "client.test", &f->last, &f->err, &f->why);
	return f->s;
}

static int f_starttls(struct fake *f)
{
	return smtpc_starttls(f->s, &f->last, &f->err, &f->why);
}

static int f_auth(struct fake *f)
{
	return smtpc_auth(f->s, "user", "secret", &f->last, &f->err, &f->why);
}

static int f_send(struct fake *f, struct smtpc_rcpt *r, size_t n,
                  const char *msg, size_t len)
{
	return smtpc_send(f->s, "me@client.test", r, n, msg, len, &f->last,
	                  &f->err, &f->why);
}

static int f_rset(struct fake *f)
{
	return smtpc_rset(f->s, &f->last, &f->err, &f->why);
}

/* A server whose greeting or EHLO/HELO must stop the session: asserts
 * that smtpc_start fails with NET_ERR_PROTOCOL; the test checks the
 * rest and calls fake_end. */
static struct fake *refused(const char *greeting,
                            const struct script_step *steps)
{
	struct fake *f = fake_start(greeting, steps);
	assert_null(f_start(f));
	assert_int_equal(f->err, NET_ERR_PROTOCOL);
	return f;
}

static const char EHLO_FULL[] =
	"250-fake.test greets you\r\n"
	"250-PIPELINING\r\n"
	"250-SIZE 1000\r\n"
	"250-auth plain LOGIN CRAM-MD5\r\n"
	"250-STARTTLS\r\n"
	"250-8BITMIME\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-CHUNKING\r\n"
	"250 SMTPUTF8\r\n";

static const char EHLO_PLAIN[] = "250-fake.test\r\n250 AUTH PLAIN\r\n";

/* Starts a session with a script (the EHLO step, then rest); asserts that
 * smtpc_start worked. f->last and f->why start empty after it. */
static struct fake *session(const char *ehlo_reply,
                            const struct script_step *rest)
{
	static struct script_step steps[32];
	memset(steps, 0, sizeof steps);
	steps[0] = (struct script_step){"EHLO client.test", ehlo_reply};
	for (size_t i = 0; rest && rest[i].expect; i++)
		steps[i + 1] = rest[i];
	struct fake *f = fake_start("220 fake.test ESMTP\r\n", steps);
	if (!f_start(f))
		fail_msg("smtpc_start: %s", buf_cstr(&f->why));
	assert_int_equal(f->last.code, 250);
	smtpc_reply_free(&f->last);
	smtpc_reply_init(&f->last);
	buf_reset(&f->why);
	return f;
}

static void rcpts_free(struct smtpc_rcpt *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		smtpc_reply_free(&r[i].reply);
}

/* ---- greeting, EHLO, malformed replies ---- */

static void test_greeting_refused(void **state)
{
	(void)state;
	struct fake *f = refused("554 5.7.1 no mail from you\r\n", NULL);
	assert_int_equal(f->last.code, 554);
	assert_string_equal(f->last.enhanced, "5.7.1");
	assert_string_equal(buf_cstr(&f->last.text), "no mail from you");
	assert_string_equal(buf_cstr(&f->why),
	                    "the server refused the session: 554 5.7.1 no mail from you");
	fake_end(f);
}

static void test_helo_fallback(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{"EHLO client.test", "502 5.5.1 what is that\r\n"},
		{"HELO client.test", "250 fake.test\r\n"},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("220 old server\r\n", steps);
	assert_non_null(f_start(f));
	assert_false(smtpc_ext(f->s)->esmtp);
	assert_false(smtpc_ext(f->s)->pipelining);
	assert_ptr_equal(smtpc_conn(f->s), f->conn);
	smtpc_quit(&f->s);
	assert_null(f->s);
	fake_end(f);
}

static void test_ehlo_and_helo_refused(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{"EHLO client.test", "500 no\r\n"},
		{"HELO client.test", "550 5.7.1 go away\r\n"},
		{NULL, NULL},
	};
	struct fake *f = refused("220 x\r\n", steps);
	assert_int_equal(f->last.code, 550);
	fake_end(f);

	/* 421 to EHLO: no HELO */
	static const struct script_step steps2[] = {
		{"EHLO client.test", "421 4.3.2 shutting down\r\n"},
		{NULL, NULL},
	};
	f = refused("220 x\r\n", steps2);
	assert_int_equal(f->last.code, 421);
	assert_string_equal(f->last.enhanced, "4.3.2");
	fake_end(f);
}

static void test_ehlo_extensions(void **state)
{
	(void)state;
	struct fake *f = session(EHLO_FULL, NULL);
	const struct smtpc_ext *x = smtpc_ext(f->s);
	assert_true(x->esmtp && x->pipelining && x->starttls && x->eightbitmime);
	assert_true(x->enhanced && x->smtputf8 && x->chunking);
	assert_true(x->auth_plain && x->auth_login);
	assert_int_equal(x->size, 1000);
	fake_end(f);

	/* the old AUTH= form, SIZE without a number, nothing else */
	f = session("250-fake.test\r\n250-AUTH=LOGIN\r\n250 SIZE\r\n", NULL);
	x = smtpc_ext(f->s);
	assert_true(x->auth_login);
	assert_false(x->auth_plain || x->pipelining || x->starttls);
	assert_int_equal(x->size, 0);
	fake_end(f);

	/* a one-line EHLO reply offers nothing */
	f = session("250 fake.test\r\n", NULL);
	assert_true(smtpc_ext(f->s)->esmtp);
	assert_false(smtpc_ext(f->s)->auth_plain);
	fake_end(f);
}

/* The greeting given fails to parse with NET_ERR_PROTOCOL. */
static void expect_malformed(const char *greeting, const char *why_part)
{
	struct fake *f = refused(greeting, NULL);
	assert_int_equal(f->last.code, 0);
	if (!strstr(buf_cstr(&f->why), why_part))
		fail_msg("why \"%s\" lacks \"%s\"", f->why.data, why_part);
	fake_end(f);
}

static void test_malformed_replies(void **state)
{
	(void)state;
	expect_malformed("25\r\n", "no reply code");
	expect_malformed("250x\r\n", "no reply code");
	expect_malformed("abc hello\r\n", "no reply code");
	expect_malformed("620 hello\r\n", "no reply code");
	expect_malformed("220-one\r\n221 two\r\n", "the code changes");
	expect_malformed("\r\n", "no reply code");

	static char big[6000];
	memcpy(big, "220 ", 4);
	memset(big + 4, 'x', 5000);
	memcpy(big + 5004, "\r\n", 3);
	expect_malformed(big, "longer than");

	/* many short lines: over the line count */
	size_t n = 600 * 8 + 16;
	char *many = malloc(n), *p = many;
	for (int i = 0; i < 600; i++)
		p += sprintf(p, "220-ab\r\n");
	strcpy(p, "220 end\r\n");
	expect_malformed(many, "too long");
	free(many);

	/* a bare "220" is a valid greeting without text */
	static const struct script_step steps[] = {{"EHLO client.test", "250 ok\r\n"},
	                                    {NULL, NULL}};
	struct fake *f = fake_start("220\r\n", steps);
	assert_non_null(f_start(f));
	fake_end(f);
}

static void test_multiline_text_and_enhanced(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"RSET", "250-2.0.0 first\r\n250-2.0.0 second\r\n250 2.0.0 third\r\n"},
		{"RSET", "250 2.0 not an enhanced code\r\n"},
		{"RSET", "250 5.0.0 wrong class stays\r\n"},
		{"RSET", "500 5.5.1 no\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session(EHLO_FULL, rest);
	assert_int_equal(f_rset(f), 0);
	assert_string_equal(f->last.enhanced, "2.0.0");
	assert_string_equal(buf_cstr(&f->last.text), "first\nsecond\nthird");
	assert_int_equal(f_rset(f), 0);
	assert_string_equal(f->last.enhanced, "");
	assert_string_equal(buf_cstr(&f->last.text), "2.0 not an enhanced code");
	assert_int_equal(f_rset(f), 0);
	assert_string_equal(f->last.enhanced, "");
	assert_int_equal(f_rset(f), -1);
	assert_int_equal(f->last.code, 500);
	fake_end(f);
}

/* ---- STARTTLS and AUTH ---- */

static void test_starttls_refused_or_missing(void **state)
{
	(void)state;
	static const struct script_step rest[] = {{"STARTTLS", "454 4.7.0 TLS not available\r\n"},
	                                   {NULL, NULL}};
	struct fake *f = session(EHLO_FULL, rest);
	assert_int_equal(f_starttls(f), -1);
	assert_int_equal(f->last.code, 454);
	assert_non_null(strstr(buf_cstr(&f->why), "refused STARTTLS: 454 4.7.0"));
	fake_end(f);

	f = session(EHLO_PLAIN, NULL);
	assert_int_equal(f_starttls(f), -1);
	assert_int_equal(f->err, NET_ERR_PROTOCOL);
	assert_int_equal(f->last.code, 0);
	assert_string_equal(buf_cstr(&f->why), "the server does not offer STARTTLS");
	fake_end(f);
}

static void test_auth_plain(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "235 2.7.0 welcome\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session(EHLO_FULL, rest);
	assert_int_equal(f_auth(f), 0);
	assert_int_equal(f->last.code, 235);
	assert_non_null(strstr(buf_cstr(&f->trace), "C: AUTH PLAIN <redacted>\n"));
	assert_null(strstr(f->trace.data, "AHVzZXIAc2VjcmV0"));
	assert_null(strstr(f->trace.data, "secret"));
	fake_end(f);

	static const struct script_step bad[] = {
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "535 5.7.8 authentication failed\r\n"},
		{NULL, NULL},
	};
	f = session(EHLO_FULL, bad);
	assert_int_equal(f_auth(f), -1);
	assert_int_equal(f->err, NET_ERR_PROTOCOL);
	assert_int_equal(f->last.code, 535);
	assert_string_equal(f->last.enhanced, "5.7.8");
	assert_string_equal(buf_cstr(&f->why), "the server rejected the login: "
	                    "535 5.7.8 authentication failed");
	fake_end(f);

	/* a server that wants the response after an empty 334 */
	static const struct script_step ask[] = {
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "334 \r\n"},
		{"AHVzZXIAc2VjcmV0", "235 ok\r\n"},
		{NULL, NULL},
	};
	f = session(EHLO_FULL, ask);
	assert_int_equal(f_auth(f), 0);
	assert_null(strstr(buf_cstr(&f->trace), "AHVzZXIAc2VjcmV0"));
	fake_end(f);
}

static void test_auth_login(void **state)
{
	(void)state;
	static const char ehlo[] = "250-fake.test\r\n250 AUTH LOGIN\r\n";
	static const struct script_step rest[] = {
		{"AUTH LOGIN", "334 VXNlcm5hbWU6\r\n"},
		{"dXNlcg==", "334 UGFzc3dvcmQ6\r\n"},
		{"c2VjcmV0", "235 2.7.0 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session(ehlo, rest);
	assert_int_equal(f_auth(f), 0);
	assert_non_null(strstr(buf_cstr(&f->trace),
	                       "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\n"
	                       "S: 334 UGFzc3dvcmQ6\nC: <redacted>\nS: 235 2.7.0 ok\n"));
	assert_null(strstr(f->trace.data, "c2VjcmV0"));
	fake_end(f);

	static const struct script_step bad[] = {
		{"AUTH LOGIN", "334 VXNlcm5hbWU6\r\n"},
		{"dXNlcg==", "334 UGFzc3dvcmQ6\r\n"},
		{"c2VjcmV0", "535 5.7.8 no\r\n"},
		{NULL, NULL},
	};
	f = session(ehlo, bad);
	assert_int_equal(f_auth(f), -1);
	assert_int_equal(f->last.code, 535);
	fake_end(f);

	/* nothing offered: no command sent at all */
	f = session("250 fake.test\r\n", NULL);
	assert_int_equal(f_auth(f), -1);
	assert_int_equal(f->last.code, 0);
	assert_int_equal(f->err, NET_OK);
	assert_string_equal(buf_cstr(&f->why),
	                    "the server offers neither AUTH PLAIN nor AUTH LOGIN");
	fake_end(f);
}

/* ---- sending ---- */

static void test_send_pipelined_per_recipient(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test> SIZE=23", NULL},
		{"RCPT TO:<a@x.test>", NULL},
		{"RCPT TO:<nobody@x.test>", NULL},
		{"RCPT TO:<c@x.test>", NULL},
		{"DATA", "250 2.1.0 ok\r\n250 2.1.5 ok\r\n"
		         "550 5.1.1 no such user\r\n250 2.1.5 ok\r\n"
		         "354 go ahead\r\n"},
		{SCRIPT_DATA, "250 2.0.0 queued as X\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session(EHLO_FULL, rest);
	struct smtpc_rcpt r[3] = {{.address = "a@x.test"}, {.address = "nobody@x.test"}, {.address = "c@x.test"}};
	const char msg[] = "Subject: hi\n\nHello.\n";
	assert_int_equal(f_send(f, r, 3, msg, strlen(msg)), 2);
	assert_int_equal(f->last.code, 250);
	assert_string_equal(buf_cstr(&f->last.text), "queued as X");
	assert_int_equal(r[0].reply.code, 250);
	assert_int_equal(r[1].reply.code, 550);
	assert_string_equal(r[1].reply.enhanced, "5.1.1");
	assert_string_equal(buf_cstr(&r[1].reply.text), "no such user");
	assert_int_equal(r[2].reply.code, 250);
	assert_string_equal(r[2].reply.enhanced, "2.1.5");
	smtpc_quit(&f->s);
	assert_non_null(strstr(buf_cstr(&f->trace), "C: <message, 23 bytes>\nC: .\n"));
	assert_string_equal(buf_cstr(&f->io.data), "Subject: hi\r\n\r\nHello.\r\n.\r\n");
	fake_end(f);
	rcpts_free(r, 3);
}

static void test_send_dot_stuffing_and_8bit(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test> SIZE=54 BODY=8BITMIME", NULL},
		{"RCPT TO:<a@x.test>", NULL},
		{"DATA", "250 ok\r\n250 ok\r\n354 go\r\n"},
		{SCRIPT_DATA, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session(EHLO_FULL, rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	const char msg[] = "Subject: x\n\n.hidden\nline2\r\n..two\n.\ncaf\xc3\xa9 no end";
	assert_int_equal(f_send(f, r, 1, msg, strlen(msg)), 1);
	smtpc_quit(&f->s);
	assert_string_equal(buf_cstr(&f->io.data),
	                    "Subject: x\r\n\r\n..hidden\r\nline2\r\n...two\r\n..\r\n"
	                    "caf\xc3\xa9 no end\r\n.\r\n");
	fake_end(f);
	rcpts_free(r, 1);
}

static void test_send_one_by_one_all_refused(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test>", "250 ok\r\n"},
		{"RCPT TO:<a@x.test>", "550 5.1.1 unknown\r\n"},
		{"RCPT TO:<b@x.test>", "554 5.7.1 relay denied\r\n"},
		{"QUIT", "221 bye\r\n"},   /* no DATA in between */
		{NULL, NULL},
	};
	struct fake *f = session(EHLO_PLAIN, rest);
	struct smtpc_rcpt r[2] = {{.address = "a@x.test"}, {.address = "b@x.test"}};
	assert_int_equal(f_send(f, r, 2, "x\n", 2), 0);
	assert_int_equal(r[0].reply.code, 550);
	assert_int_equal(r[1].reply.code, 554);
	assert_string_equal(r[1].reply.enhanced, "5.7.1");
	assert_int_equal(f->last.code, 550);   /* the first refusal */
	fake_end(f);
	rcpts_free(r, 2);
}

static void test_send_pipelined_all_refused(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test> SIZE=3", NULL},
		{"RCPT TO:<a@x.test>", NULL},
		{"DATA", "250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n"},
		{"RSET", "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session(EHLO_FULL, rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	assert_int_equal(f_send(f, r, 1, "x\n", 2), 0);
	assert_int_equal(f->last.code, 550);
	assert_string_equal(f->last.enhanced, "5.1.1");
	assert_int_equal(f_rset(f), 0);
	fake_end(f);
	rcpts_free(r, 1);
}

static void test_send_mail_refused(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test>", "553 5.7.1 not your address\r\n"},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session("250 fake.test\r\n", rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	assert_int_equal(f_send(f, r, 1, "x\n", 2), -1);
	assert_int_equal(f->last.code, 553);
	assert_int_equal(f->err, NET_ERR_PROTOCOL);
	assert_int_equal(r[0].reply.code, 0);
	assert_non_null(strstr(buf_cstr(&f->why), "refused the sender: 553 5.7.1"));
	fake_end(f);

	/* pipelined: MAIL's refusal is what *last says */
	static const struct script_step piped[] = {
		{"MAIL FROM:<me@client.test> SIZE=3", NULL},
		{"RCPT TO:<a@x.test>", NULL},
		{"DATA", "553 5.7.1 not yours\r\n503 5.5.1 MAIL first\r\n503 5.5.1 no\r\n"},
		{NULL, NULL},
	};
	f = session(EHLO_FULL, piped);
	assert_int_equal(f_send(f, r, 1, "x\n", 2), -1);
	assert_int_equal(f->last.code, 553);
	assert_int_equal(r[0].reply.code, 503);
	fake_end(f);
	rcpts_free(r, 1);
}

static void test_send_data_or_message_refused(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test>", "250 ok\r\n"},
		{"RCPT TO:<a@x.test>", "250 ok\r\n"},
		{"DATA", "451 4.3.0 try later\r\n"},
		{"RSET", "250 ok\r\n"},
		{"MAIL FROM:<me@client.test>", "250 ok\r\n"},
		{"RCPT TO:<a@x.test>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{SCRIPT_DATA, "552 5.3.4 message too big\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session("250 fake.test\r\n", rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	assert_int_equal(f_send(f, r, 1, "x\n", 2), -1);
	assert_int_equal(f->last.code, 451);
	assert_int_equal(f_rset(f), 0);
	buf_reset(&f->why);
	assert_int_equal(f_send(f, r, 1, "x\n", 2), -1);
	assert_int_equal(f->last.code, 552);
	assert_string_equal(f->last.enhanced, "5.3.4");
	assert_string_equal(buf_cstr(&f->why),
	                    "the server refused the message: 552 5.3.4 message too big");
	fake_end(f);
	rcpts_free(r, 1);
}

static void test_send_size_refused_up_front(void **state)
{
	(void)state;
	struct fake *f = session(EHLO_FULL, NULL);  /* SIZE 1000 */
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	/* 995 bytes, but 1003 with CRLF line ends (6 bare LFs and the
	 * unfinished last line) */
	char msg[996];
	memset(msg, 'a', 995);
	for (int i = 0; i < 6; i++)
		msg[100 * i + 50] = '\n';
	msg[995] = '\0';
	assert_int_equal(f_send(f, r, 1, msg, 995), -1);
	assert_int_equal(f->err, NET_ERR_PROTOCOL);
	assert_int_equal(f->last.code, 0);
	assert_string_equal(buf_cstr(&f->why),
	                    "the message is 1003 bytes, the server accepts at most 1000");
	smtpc_quit(&f->s);
	/* nothing but EHLO and QUIT went over the wire */
	assert_string_equal(buf_cstr(&f->trace) + strcspn(f->trace.data, "C"),
	                    "C: EHLO client.test\n" "S: 250-fake.test greets you\n"
	                    "S: 250-PIPELINING\nS: 250-SIZE 1000\n"
	                    "S: 250-auth plain LOGIN CRAM-MD5\nS: 250-STARTTLS\n"
	                    "S: 250-8BITMIME\nS: 250-ENHANCEDSTATUSCODES\n"
	                    "S: 250-CHUNKING\nS: 250 SMTPUTF8\nC: QUIT\n"
	                    "S: 221 2.0.0 bye\n");
	fake_end(f);
	rcpts_free(r, 1);
}

static void test_send_bad_addresses(void **state)
{
	(void)state;
	struct fake *f = session("250 fake.test\r\n", NULL);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test>\r\nRCPT TO:<evil@x"}};
	assert_int_equal(f_send(f, r, 1, "x", 1), -1);
	assert_int_equal(f->err, NET_ERR_PROTOCOL);
	assert_int_equal(f_send(f, r, 0, "x", 1), -1);
	struct smtpc_rcpt u[1] = {{.address = "j\xc3\xb6rg@x.test"}};
	buf_reset(&f->why);
	assert_int_equal(f_send(f, u, 1, "x", 1), -1);
	assert_string_equal(buf_cstr(&f->why), "an address is not ASCII and the "
	                    "server does not offer SMTPUTF8");
	fake_end(f);
	rcpts_free(r, 1);
	rcpts_free(u, 1);
}

static void test_send_smtputf8(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test> SIZE=3 SMTPUTF8", NULL},
		{"RCPT TO:<j\xc3\xb6rg@x.test>", NULL},
		{"DATA", "250 ok\r\n250 ok\r\n354 go\r\n"},
		{SCRIPT_DATA, "250 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f = session(EHLO_FULL, rest);
	struct smtpc_rcpt u[1] = {{.address = "j\xc3\xb6rg@x.test"}};
	/* "x" without a line end goes as "x\r\n": SIZE counts 3 */
	assert_int_equal(f_send(f, u, 1, "x", 1), 1);
	fake_end(f);
	rcpts_free(u, 1);
}

static void test_server_closes_mid_transaction(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test>", "250 ok\r\n"},
		{"RCPT TO:<a@x.test>", SCRIPT_CLOSE},
		{NULL, NULL},
	};
	struct fake *f = session("250 fake.test\r\n", rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	assert_int_equal(f_send(f, r, 1, "x\n", 2), -1);
	assert_int_equal(f->err, NET_ERR_CLOSED);
	assert_int_equal(f->last.code, 0);
	assert_string_equal(buf_cstr(&f->why), "fake.test closed the connection");
	/* later calls fail at once, QUIT is not even tried */
	buf_reset(&f->why);
	assert_int_equal(f_rset(f), -1);
	assert_int_equal(f->err, NET_ERR_CLOSED);
	fake_end(f);

	/* closed while the data is on its way */
	static const struct script_step rest2[] = {
		{"MAIL FROM:<me@client.test>", "250 ok\r\n"},
		{"RCPT TO:<a@x.test>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{SCRIPT_DATA, SCRIPT_CLOSE},
		{NULL, NULL},
	};
	f = session("250 fake.test\r\n", rest2);
	assert_int_equal(f_send(f, r, 1, "x\n", 2), -1);
	assert_int_equal(f->err, NET_ERR_CLOSED);
	fake_end(f);
	rcpts_free(r, 1);
}

/* A server that never answers QUIT: smtpc_quit still returns soon. */
static void test_quit_silent_server(void **state)
{
	(void)state;
	static const struct script_step rest[] = {{"QUIT", NULL}, {NULL, NULL}};
	struct fake *f = session("250 fake.test\r\n", rest);
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	smtpc_quit(&f->s);
	gettimeofday(&t1, NULL);
	assert_true(t1.tv_sec - t0.tv_sec <= 4);
	fake_end(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_refused),
		cmocka_unit_test(test_helo_fallback),
		cmocka_unit_test(test_ehlo_and_helo_refused),
		cmocka_unit_test(test_ehlo_extensions),
		cmocka_unit_test(test_malformed_replies),
		cmocka_unit_test(test_multiline_text_and_enhanced),
		cmocka_unit_test(test_starttls_refused_or_missing),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_login),
		cmocka_unit_test(test_send_pipelined_per_recipient),
		cmocka_unit_test(test_send_dot_stuffing_and_8bit),
		cmocka_unit_test(test_send_one_by_one_all_refused),
		cmocka_unit_test(test_send_pipelined_all_refused),
		cmocka_unit_test(test_send_mail_refused),
		cmocka_unit_test(test_send_data_or_message_refused),
		cmocka_unit_test(test_send_size_refused_up_front),
		cmocka_unit_test(test_send_bad_addresses),
		cmocka_unit_test(test_send_smtputf8),
		cmocka_unit_test(test_server_closes_mid_transaction),
		cmocka_unit_test(test_quit_silent_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
