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

struct fake {
	struct script_io io;
	const char *greeting;
	const struct script_step *steps;
	char *reply_heap;        /* a generated reply (freed by the test) */
	pthread_t thread;
	/* the client side */
	struct net_conn *conn;
	struct buf trace;
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
	struct net_options opt = {.timeout = 3, .trace = collect,
	                          .trace_arg = &f->trace};
	f->conn = net_from_fd(sv[0], "fake.test", &opt);
	assert_non_null(f->conn);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
	return f;
}

/* Joins the server; checks it saw what it expected. */
static void fake_end(struct fake *f)
{
	pthread_join(f->thread, NULL);
	if (f->io.mismatch[0])
		fail_msg("fake server: %s", f->io.mismatch);
	buf_free(&f->io.got);
	buf_free(&f->io.data);
	buf_free(&f->trace);
	free(f->reply_heap);
	free(f);
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

/* Starts a session with a script; asserts that smtpc_start worked. */
static struct smtpc *session(struct fake **fp, const char *ehlo_reply,
                             const struct script_step *rest)
{
	static struct script_step steps[32];
	memset(steps, 0, sizeof steps);
	steps[0] = (struct script_step){"EHLO client.test", ehlo_reply};
	for (size_t i = 0; rest && rest[i].expect; i++)
		steps[i + 1] = rest[i];
	*fp = fake_start("220 fake.test ESMTP\r\n", steps);
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	struct smtpc *s = smtpc_start((*fp)->conn, "client.test", &last, &err, &why);
	if (!s)
		fail_msg("smtpc_start: %s", buf_cstr(&why));
	assert_int_equal(last.code, 250);
	smtpc_reply_free(&last);
	buf_free(&why);
	return s;
}

/* ---- greeting, EHLO, malformed replies ---- */

static void test_greeting_refused(void **state)
{
	(void)state;
	struct fake *f = fake_start("554 5.7.1 no mail from you\r\n", NULL);
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_null(smtpc_start(f->conn, "client.test", &last, &err, &why));
	assert_int_equal(err, NET_ERR_PROTOCOL);
	assert_int_equal(last.code, 554);
	assert_string_equal(last.enhanced, "5.7.1");
	assert_string_equal(buf_cstr(&last.text), "no mail from you");
	assert_string_equal(buf_cstr(&why),
	                    "the server refused the session: 554 5.7.1 no mail from you");
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
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
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	struct smtpc *s = smtpc_start(f->conn, "client.test", &last, &err, &why);
	assert_non_null(s);
	assert_false(smtpc_ext(s)->esmtp);
	assert_false(smtpc_ext(s)->pipelining);
	assert_ptr_equal(smtpc_conn(s), f->conn);
	smtpc_quit(&s);
	assert_null(s);
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
}

static void test_ehlo_and_helo_refused(void **state)
{
	(void)state;
	static const struct script_step steps[] = {
		{"EHLO client.test", "500 no\r\n"},
		{"HELO client.test", "550 5.7.1 go away\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("220 x\r\n", steps);
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_null(smtpc_start(f->conn, "client.test", &last, &err, &why));
	assert_int_equal(err, NET_ERR_PROTOCOL);
	assert_int_equal(last.code, 550);
	fake_end(f);

	/* 421 to EHLO: no HELO */
	static const struct script_step steps2[] = {
		{"EHLO client.test", "421 4.3.2 shutting down\r\n"},
		{NULL, NULL},
	};
	f = fake_start("220 x\r\n", steps2);
	assert_null(smtpc_start(f->conn, "client.test", &last, &err, &why));
	assert_int_equal(last.code, 421);
	assert_string_equal(last.enhanced, "4.3.2");
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
}

static void test_ehlo_extensions(void **state)
{
	(void)state;
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, NULL);
	const struct smtpc_ext *x = smtpc_ext(s);
	assert_true(x->esmtp && x->pipelining && x->starttls && x->eightbitmime);
	assert_true(x->enhanced && x->smtputf8 && x->chunking);
	assert_true(x->auth_plain && x->auth_login);
	assert_int_equal(x->size, 1000);
	smtpc_quit(&s);
	fake_end(f);

	/* the old AUTH= form, SIZE without a number, nothing else */
	s = session(&f, "250-fake.test\r\n250-AUTH=LOGIN\r\n250 SIZE\r\n", NULL);
	x = smtpc_ext(s);
	assert_true(x->auth_login);
	assert_false(x->auth_plain || x->pipelining || x->starttls);
	assert_int_equal(x->size, 0);
	smtpc_quit(&s);
	fake_end(f);

	/* a one-line EHLO reply offers nothing */
	s = session(&f, "250 fake.test\r\n", NULL);
	assert_true(smtpc_ext(s)->esmtp);
	assert_false(smtpc_ext(s)->auth_plain);
	smtpc_quit(&s);
	fake_end(f);
}

/* The greeting given fails to parse with NET_ERR_PROTOCOL. */
static void expect_malformed(const char *greeting, const char *why_part)
{
	struct fake *f = fake_start(greeting, NULL);
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_null(smtpc_start(f->conn, "client.test", &last, &err, &why));
	assert_int_equal(err, NET_ERR_PROTOCOL);
	assert_int_equal(last.code, 0);
	if (!strstr(buf_cstr(&why), why_part))
		fail_msg("why \"%s\" lacks \"%s\"", why.data, why_part);
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
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
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	struct smtpc *s = smtpc_start(f->conn, "client.test", &last, &err, &why);
	assert_non_null(s);
	smtpc_quit(&s);
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
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
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, rest);
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_rset(s, &last, &err, &why), 0);
	assert_string_equal(last.enhanced, "2.0.0");
	assert_string_equal(buf_cstr(&last.text), "first\nsecond\nthird");
	assert_int_equal(smtpc_rset(s, &last, &err, &why), 0);
	assert_string_equal(last.enhanced, "");
	assert_string_equal(buf_cstr(&last.text), "2.0 not an enhanced code");
	assert_int_equal(smtpc_rset(s, &last, &err, &why), 0);
	assert_string_equal(last.enhanced, "");
	assert_int_equal(smtpc_rset(s, &last, &err, &why), -1);
	assert_int_equal(last.code, 500);
	smtpc_quit(&s);
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
}

/* ---- STARTTLS and AUTH ---- */

static void test_starttls_refused_or_missing(void **state)
{
	(void)state;
	static const struct script_step rest[] = {{"STARTTLS", "454 4.7.0 TLS not available\r\n"},
	                                   {NULL, NULL}};
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, rest);
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_starttls(s, &last, &err, &why), -1);
	assert_int_equal(last.code, 454);
	assert_non_null(strstr(buf_cstr(&why), "refused STARTTLS: 454 4.7.0"));
	smtpc_quit(&s);
	fake_end(f);

	s = session(&f, EHLO_PLAIN, NULL);
	buf_reset(&why);
	assert_int_equal(smtpc_starttls(s, &last, &err, &why), -1);
	assert_int_equal(err, NET_ERR_PROTOCOL);
	assert_int_equal(last.code, 0);
	assert_string_equal(buf_cstr(&why), "the server does not offer STARTTLS");
	smtpc_quit(&s);
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
}

static void test_auth_plain(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "235 2.7.0 welcome\r\n"},
		{NULL, NULL},
	};
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, rest);
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_auth(s, "user", "secret", &last, &err, &why), 0);
	assert_int_equal(last.code, 235);
	assert_non_null(strstr(buf_cstr(&f->trace), "C: AUTH PLAIN <redacted>\n"));
	assert_null(strstr(f->trace.data, "AHVzZXIAc2VjcmV0"));
	assert_null(strstr(f->trace.data, "secret"));
	smtpc_quit(&s);
	fake_end(f);

	static const struct script_step bad[] = {
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "535 5.7.8 authentication failed\r\n"},
		{NULL, NULL},
	};
	s = session(&f, EHLO_FULL, bad);
	buf_reset(&why);
	assert_int_equal(smtpc_auth(s, "user", "secret", &last, &err, &why), -1);
	assert_int_equal(err, NET_ERR_PROTOCOL);
	assert_int_equal(last.code, 535);
	assert_string_equal(last.enhanced, "5.7.8");
	assert_string_equal(buf_cstr(&why), "the server rejected the login: "
	                    "535 5.7.8 authentication failed");
	smtpc_quit(&s);
	fake_end(f);

	/* a server that wants the response after an empty 334 */
	static const struct script_step ask[] = {
		{"AUTH PLAIN AHVzZXIAc2VjcmV0", "334 \r\n"},
		{"AHVzZXIAc2VjcmV0", "235 ok\r\n"},
		{NULL, NULL},
	};
	s = session(&f, EHLO_FULL, ask);
	assert_int_equal(smtpc_auth(s, "user", "secret", &last, &err, &why), 0);
	assert_null(strstr(buf_cstr(&f->trace), "AHVzZXIAc2VjcmV0"));
	smtpc_quit(&s);
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
}

static void test_auth_login(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"AUTH LOGIN", "334 VXNlcm5hbWU6\r\n"},
		{"dXNlcg==", "334 UGFzc3dvcmQ6\r\n"},
		{"c2VjcmV0", "235 2.7.0 ok\r\n"},
		{NULL, NULL},
	};
	struct fake *f;
	struct smtpc *s = session(&f, "250-fake.test\r\n250 AUTH LOGIN\r\n", rest);
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_auth(s, "user", "secret", &last, &err, &why), 0);
	assert_non_null(strstr(buf_cstr(&f->trace),
	                       "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\n"
	                       "S: 334 UGFzc3dvcmQ6\nC: <redacted>\nS: 235 2.7.0 ok\n"));
	assert_null(strstr(f->trace.data, "c2VjcmV0"));
	smtpc_quit(&s);
	fake_end(f);

	static const struct script_step bad[] = {
		{"AUTH LOGIN", "334 VXNlcm5hbWU6\r\n"},
		{"dXNlcg==", "334 UGFzc3dvcmQ6\r\n"},
		{"c2VjcmV0", "535 5.7.8 no\r\n"},
		{NULL, NULL},
	};
	s = session(&f, "250-fake.test\r\n250 AUTH LOGIN\r\n", bad);
	assert_int_equal(smtpc_auth(s, "user", "secret", &last, &err, &why), -1);
	assert_int_equal(last.code, 535);
	smtpc_quit(&s);
	fake_end(f);

	/* nothing offered: no command sent at all */
	s = session(&f, "250 fake.test\r\n", NULL);
	buf_reset(&why);
	assert_int_equal(smtpc_auth(s, "user", "secret", &last, &err, &why), -1);
	assert_int_equal(last.code, 0);
	assert_int_equal(err, NET_OK);
	assert_string_equal(buf_cstr(&why),
	                    "the server offers neither AUTH PLAIN nor AUTH LOGIN");
	smtpc_quit(&s);
	fake_end(f);
	smtpc_reply_free(&last);
	buf_free(&why);
}

/* ---- sending ---- */

static void rcpts_free(struct smtpc_rcpt *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		smtpc_reply_free(&r[i].reply);
}

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
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, rest);
	struct smtpc_rcpt r[3] = {{.address = "a@x.test"}, {.address = "nobody@x.test"}, {.address = "c@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	const char msg[] = "Subject: hi\n\nHello.\n";
	assert_int_equal(smtpc_send(s, "me@client.test", r, 3, msg, strlen(msg),
	                            &last, &err, &why), 2);
	assert_int_equal(last.code, 250);
	assert_string_equal(buf_cstr(&last.text), "queued as X");
	assert_int_equal(r[0].reply.code, 250);
	assert_int_equal(r[1].reply.code, 550);
	assert_string_equal(r[1].reply.enhanced, "5.1.1");
	assert_string_equal(buf_cstr(&r[1].reply.text), "no such user");
	assert_int_equal(r[2].reply.code, 250);
	assert_string_equal(r[2].reply.enhanced, "2.1.5");
	smtpc_quit(&s);
	assert_non_null(strstr(buf_cstr(&f->trace), "C: <message, 23 bytes>\nC: .\n"));
	assert_string_equal(buf_cstr(&f->io.data), "Subject: hi\r\n\r\nHello.\r\n.\r\n");
	fake_end(f);
	rcpts_free(r, 3);
	smtpc_reply_free(&last);
	buf_free(&why);
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
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	const char msg[] = "Subject: x\n\n.hidden\nline2\r\n..two\n.\ncaf\xc3\xa9 no end";
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, msg, strlen(msg),
	                            &last, &err, &why), 1);
	smtpc_quit(&s);
	assert_string_equal(buf_cstr(&f->io.data),
	                    "Subject: x\r\n\r\n..hidden\r\nline2\r\n...two\r\n..\r\n"
	                    "caf\xc3\xa9 no end\r\n.\r\n");
	fake_end(f);
	rcpts_free(r, 1);
	smtpc_reply_free(&last);
	buf_free(&why);
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
	struct fake *f;
	struct smtpc *s = session(&f, "250-fake.test\r\n250 AUTH PLAIN\r\n", rest);
	struct smtpc_rcpt r[2] = {{.address = "a@x.test"}, {.address = "b@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 2, "x\n", 2,
	                            &last, &err, &why), 0);
	assert_int_equal(r[0].reply.code, 550);
	assert_int_equal(r[1].reply.code, 554);
	assert_string_equal(r[1].reply.enhanced, "5.7.1");
	assert_int_equal(last.code, 550);   /* the first refusal */
	smtpc_quit(&s);
	fake_end(f);
	rcpts_free(r, 2);
	smtpc_reply_free(&last);
	buf_free(&why);
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
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, "x\n", 2,
	                            &last, &err, &why), 0);
	assert_int_equal(last.code, 550);
	assert_string_equal(last.enhanced, "5.1.1");
	assert_int_equal(smtpc_rset(s, &last, &err, &why), 0);
	smtpc_quit(&s);
	fake_end(f);
	rcpts_free(r, 1);
	smtpc_reply_free(&last);
	buf_free(&why);
}

static void test_send_mail_refused(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test>", "553 5.7.1 not your address\r\n"},
		{"QUIT", "221 bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f;
	struct smtpc *s = session(&f, "250 fake.test\r\n", rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, "x\n", 2,
	                            &last, &err, &why), -1);
	assert_int_equal(last.code, 553);
	assert_int_equal(err, NET_ERR_PROTOCOL);
	assert_int_equal(r[0].reply.code, 0);
	assert_non_null(strstr(buf_cstr(&why), "refused the sender: 553 5.7.1"));
	smtpc_quit(&s);
	fake_end(f);

	/* pipelined: MAIL's refusal is what *last says */
	static const struct script_step piped[] = {
		{"MAIL FROM:<me@client.test> SIZE=3", NULL},
		{"RCPT TO:<a@x.test>", NULL},
		{"DATA", "553 5.7.1 not yours\r\n503 5.5.1 MAIL first\r\n503 5.5.1 no\r\n"},
		{NULL, NULL},
	};
	s = session(&f, EHLO_FULL, piped);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, "x\n", 2,
	                            &last, &err, &why), -1);
	assert_int_equal(last.code, 553);
	assert_int_equal(r[0].reply.code, 503);
	smtpc_quit(&s);
	fake_end(f);
	rcpts_free(r, 1);
	smtpc_reply_free(&last);
	buf_free(&why);
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
	struct fake *f;
	struct smtpc *s = session(&f, "250 fake.test\r\n", rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, "x\n", 2,
	                            &last, &err, &why), -1);
	assert_int_equal(last.code, 451);
	assert_int_equal(smtpc_rset(s, &last, &err, &why), 0);
	buf_reset(&why);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, "x\n", 2,
	                            &last, &err, &why), -1);
	assert_int_equal(last.code, 552);
	assert_string_equal(last.enhanced, "5.3.4");
	assert_string_equal(buf_cstr(&why),
	                    "the server refused the message: 552 5.3.4 message too big");
	smtpc_quit(&s);
	fake_end(f);
	rcpts_free(r, 1);
	smtpc_reply_free(&last);
	buf_free(&why);
}

static void test_send_size_refused_up_front(void **state)
{
	(void)state;
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, NULL);  /* SIZE 1000 */
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	/* 995 bytes, but 1003 with CRLF line ends (6 bare LFs and the
	 * unfinished last line) */
	char msg[996];
	memset(msg, 'a', 995);
	for (int i = 0; i < 6; i++)
		msg[100 * i + 50] = '\n';
	msg[995] = '\0';
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, msg, 995,
	                            &last, &err, &why), -1);
	assert_int_equal(err, NET_ERR_PROTOCOL);
	assert_int_equal(last.code, 0);
	assert_string_equal(buf_cstr(&why),
	                    "the message is 1003 bytes, the server accepts at most 1000");
	smtpc_quit(&s);
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
	smtpc_reply_free(&last);
	buf_free(&why);
}

static void test_send_bad_addresses(void **state)
{
	(void)state;
	struct fake *f;
	struct smtpc *s = session(&f, "250 fake.test\r\n", NULL);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test>\r\nRCPT TO:<evil@x"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, "x", 1,
	                            &last, &err, &why), -1);
	assert_int_equal(err, NET_ERR_PROTOCOL);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 0, "x", 1,
	                            &last, &err, &why), -1);
	struct smtpc_rcpt u[1] = {{.address = "j\xc3\xb6rg@x.test"}};
	buf_reset(&why);
	assert_int_equal(smtpc_send(s, "me@client.test", u, 1, "x", 1,
	                            &last, &err, &why), -1);
	assert_string_equal(buf_cstr(&why), "an address is not ASCII and the "
	                    "server does not offer SMTPUTF8");
	smtpc_quit(&s);
	fake_end(f);
	rcpts_free(r, 1);
	rcpts_free(u, 1);
	smtpc_reply_free(&last);
	buf_free(&why);
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
	struct fake *f;
	struct smtpc *s = session(&f, EHLO_FULL, rest);
	struct smtpc_rcpt u[1] = {{.address = "j\xc3\xb6rg@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	/* "x" without a line end goes as "x\r\n": SIZE counts 3 */
	assert_int_equal(smtpc_send(s, "me@client.test", u, 1, "x", 1,
	                            &last, &err, &why), 1);
	smtpc_quit(&s);
	fake_end(f);
	rcpts_free(u, 1);
	smtpc_reply_free(&last);
	buf_free(&why);
}

static void test_server_closes_mid_transaction(void **state)
{
	(void)state;
	static const struct script_step rest[] = {
		{"MAIL FROM:<me@client.test>", "250 ok\r\n"},
		{"RCPT TO:<a@x.test>", SCRIPT_CLOSE},
		{NULL, NULL},
	};
	struct fake *f;
	struct smtpc *s = session(&f, "250 fake.test\r\n", rest);
	struct smtpc_rcpt r[1] = {{.address = "a@x.test"}};
	struct smtpc_reply last;
	enum net_err err;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, "x\n", 2,
	                            &last, &err, &why), -1);
	assert_int_equal(err, NET_ERR_CLOSED);
	assert_int_equal(last.code, 0);
	assert_string_equal(buf_cstr(&why), "fake.test closed the connection");
	/* later calls fail at once, QUIT is not even tried */
	buf_reset(&why);
	assert_int_equal(smtpc_rset(s, &last, &err, &why), -1);
	assert_int_equal(err, NET_ERR_CLOSED);
	smtpc_quit(&s);
	fake_end(f);

	/* closed while the data is on its way */
	static const struct script_step rest2[] = {
		{"MAIL FROM:<me@client.test>", "250 ok\r\n"},
		{"RCPT TO:<a@x.test>", "250 ok\r\n"},
		{"DATA", "354 go\r\n"},
		{SCRIPT_DATA, SCRIPT_CLOSE},
		{NULL, NULL},
	};
	s = session(&f, "250 fake.test\r\n", rest2);
	assert_int_equal(smtpc_send(s, "me@client.test", r, 1, "x\n", 2,
	                            &last, &err, &why), -1);
	assert_int_equal(err, NET_ERR_CLOSED);
	smtpc_quit(&s);
	fake_end(f);
	rcpts_free(r, 1);
	smtpc_reply_free(&last);
	buf_free(&why);
}

/* A server that never answers QUIT: smtpc_quit still returns soon. */
static void test_quit_silent_server(void **state)
{
	(void)state;
	static const struct script_step rest[] = {{"QUIT", NULL}, {NULL, NULL}};
	struct fake *f;
	struct smtpc *s = session(&f, "250 fake.test\r\n", rest);
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	smtpc_quit(&s);
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
