/* Unit tests for src/pop3/pop3c: the POP3 client against a scripted fake
 * server on a loopback socket in a thread. The script says which command
 * the server expects and what it answers; everything the client sent and
 * the client's --trace transcript are checked afterwards, above all that
 * the password never shows in the transcript. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../src/msg/codec.h"
#include "../../src/pop3/pop3c.h"

/* A reply that makes the fake server hang up instead of answering. */
#define CLOSE "\001close"

/* One step of the script: the line the server waits for (exactly, or up
 * to a trailing '*'), then what it sends (raw, CRLFs included). A step
 * without expect sends at once. The script ends at {NULL, NULL}. Without
 * a greeting the server hangs up at once. */
struct step {
	const char *expect;
	const char *reply;
};

struct fake {
	int lfd;
	int port;
	pthread_t thread;
	const char *greeting;
	const struct step *steps;
	char got[65536];     /* the lines the server received, each + "\n" */
	size_t got_len;
	int bytewise;        /* send one byte per segment (TCP_NODELAY) */
	int mismatch;        /* a command was not the one the script expected */
	char mismatch_line[512];
	struct buf trace;    /* the client's transcript, "C: ...\n" */
};

static int fake_read_line(int fd, char *line, size_t max)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = recv(fd, &c, 1, 0);
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < max)
			line[n++] = c;
	}
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

static void fake_send(int fd, const char *s, int bytewise)
{
	size_t n = strlen(s), done = 0;
	while (done < n) {
		ssize_t w = send(fd, s + done, bytewise ? 1 : n - done,
		                 MSG_NOSIGNAL);
		if (w <= 0)
			return;
		done += (size_t)w;
	}
}

static void fake_got(struct fake *f, const char *line)
{
	int w = snprintf(f->got + f->got_len, sizeof f->got - f->got_len,
	                 "%s\n", line);
	if (w > 0 && (size_t)w < sizeof f->got - f->got_len)
		f->got_len += (size_t)w;
}

static int expect_matches(const char *expect, const char *line)
{
	size_t n = strlen(expect);
	if (n && expect[n - 1] == '*')
		return strncmp(expect, line, n - 1) == 0;
	return strcmp(expect, line) == 0;
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
	if (poll(&pfd, 1, 5000) != 1)
		return NULL;
	int fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char line[4096];
	if (!f->greeting)
		goto out; /* hangs up at once */
	fake_send(fd, f->greeting, f->bytewise);
	for (const struct step *s = f->steps; s && (s->expect || s->reply);
	     s++) {
		if (s->expect) {
			if (fake_read_line(fd, line, sizeof line) < 0)
				goto out;
			fake_got(f, line);
			if (!expect_matches(s->expect, line) && !f->mismatch) {
				f->mismatch = 1;
				snprintf(f->mismatch_line, sizeof f->mismatch_line,
				         "expected \"%.200s\", got \"%.200s\"",
				         s->expect, line);
			}
		}
		if (s->reply && strcmp(s->reply, CLOSE) == 0)
			goto out;
		if (s->reply)
			fake_send(fd, s->reply, f->bytewise);
	}
	/* Whatever else comes (QUIT of a test that did not script it). */
	while (fake_read_line(fd, line, sizeof line) == 0)
		fake_got(f, line);
out:
	close(fd);
	return NULL;
}

static void trace_to_buf(void *arg, char dir, const char *line, size_t len)
{
	struct fake *f = arg;
	(void)buf_printf(&f->trace, "%c: ", dir);
	(void)buf_append(&f->trace, line, len);
	(void)buf_putc(&f->trace, '\n');
}

static struct fake *fake_start_mode(const char *greeting,
                                    const struct step *steps, int bytewise)
{
	struct fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->bytewise = bytewise;
	f->greeting = greeting;
	f->steps = steps;
	buf_init(&f->trace, 0);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	socklen_t len = sizeof sa;
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
	return f;
}

static struct fake *fake_start(const char *greeting, const struct step *steps)
{
	return fake_start_mode(greeting, steps, 0);
}

/* Joins the server and checks it saw what the script expected. */
static void fake_finish(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
	f->got[f->got_len] = '\0';
	if (f->mismatch)
		fail_msg("%s", f->mismatch_line);
	(void)buf_cstr(&f->trace);
}

static void fake_free(struct fake *f)
{
	buf_free(&f->trace);
	free(f);
}

static struct net_conn *fake_connect(struct fake *f)
{
	struct net_options opt = {.timeout = 5, .trace = trace_to_buf,
	                          .trace_arg = f};
	enum net_err err = NET_OK;
	struct buf why = BUF_INIT;
	struct net_conn *c = net_connect("127.0.0.1", f->port, NET_TLS_NONE,
	                                 &opt, &err, &why);
	if (!c)
		fail_msg("connect: %s", buf_cstr(&why));
	buf_free(&why);
	return c;
}

/* Per-test state: an error, a net error and a why. */
struct ctx {
	struct pop3c_error e;
	enum net_err err;
	struct buf why;
};

static int ctx_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	pop3c_error_init(&c->e);
	buf_init(&c->why, 0);
	*state = c;
	return 0;
}

static int ctx_teardown(void **state)
{
	struct ctx *c = *state;
	pop3c_error_free(&c->e);
	buf_free(&c->why);
	free(c);
	return 0;
}

static struct pop3c *start(struct ctx *c, struct fake *f)
{
	struct pop3c *p = pop3c_start(fake_connect(f), &c->e, &c->err, &c->why);
	if (!p)
		fail_msg("start: %s", buf_cstr(&c->why));
	return p;
}

#define GREET "+OK ready <1896.697170952@dbc.mr.net>\r\n"
#define CAPA_USER "+OK caps\r\nUSER\r\nUIDL\r\nTOP\r\nRESP-CODES\r\n.\r\n"
#define CAPA_PLAIN "+OK caps\r\nUSER\r\nUIDL\r\nSASL LOGIN PLAIN\r\n" \
                   "RESP-CODES\r\n.\r\n"

static void expect_quit(struct ctx *c, struct pop3c **p)
{
	buf_reset(&c->why);
	assert_int_equal(pop3c_quit(p, &c->e, &c->err, &c->why), 0);
	assert_null(*p);
}

/* ---- greeting and CAPA ---- */

static void test_greeting_err(void **state)
{
	struct ctx *c = *state;
	struct fake *f = fake_start("-ERR [SYS/TEMP] too busy\r\n", NULL);
	struct pop3c *p = pop3c_start(fake_connect(f), &c->e, &c->err,
	                              &c->why);
	assert_null(p);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	assert_string_equal(c->e.code, "SYS/TEMP");
	assert_string_equal(buf_cstr(&c->e.text), "too busy");
	assert_non_null(strstr(buf_cstr(&c->why), "too busy"));
	fake_finish(f);
	fake_free(f);
}

static void test_greeting_garbage(void **state)
{
	struct ctx *c = *state;
	struct fake *f = fake_start("220 smtp.example.org ESMTP\r\n", NULL);
	assert_null(pop3c_start(fake_connect(f), &c->e, &c->err, &c->why));
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	assert_string_equal(buf_cstr(&c->e.text), "220 smtp.example.org ESMTP");
	fake_finish(f);
	fake_free(f);
}

static void test_greeting_closed(void **state)
{
	struct ctx *c = *state;
	struct fake *f = fake_start(NULL, NULL);
	assert_null(pop3c_start(fake_connect(f), &c->e, &c->err, &c->why));
	assert_int_equal(c->err, NET_ERR_CLOSED);
	fake_finish(f);
	fake_free(f);
}

static void test_capa_parse(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK Capability list follows\r\n"
		         "top\r\nUIDL\r\nUSER\r\nPIPELINING\r\n"
		         "SASL LOGIN PLAIN CRAM-MD5\r\nRESP-CODES\r\nSTLS\r\n"
		         "IMPLEMENTATION x y z\r\nX-NOTHING\r\n.\r\n"},
		{"QUIT", "+OK bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	const struct pop3c_caps *k = pop3c_caps(p);
	assert_int_equal(k->capa, 1);
	assert_int_equal(k->stls, 1);
	assert_int_equal(k->uidl, 1);
	assert_int_equal(k->top, 1);
	assert_int_equal(k->user, 1);
	assert_int_equal(k->pipelining, 1);
	assert_int_equal(k->sasl_plain, 1);
	assert_int_equal(k->resp_codes, 1);
	assert_string_equal(pop3c_timestamp(p), "<1896.697170952@dbc.mr.net>");
	assert_non_null(pop3c_conn(p));
	expect_quit(c, &p);
	fake_finish(f);
	assert_non_null(strstr(f->trace.data, "S: IMPLEMENTATION x y z\n"));
	fake_free(f);
}

static void test_capa_minimal(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nSASL LOGIN\r\nPLAINTEXT\r\n.\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start("+OK\r\n", steps);
	struct pop3c *p = start(c, f);
	const struct pop3c_caps *k = pop3c_caps(p);
	assert_int_equal(k->capa, 1);
	assert_int_equal(k->sasl_plain, 0);
	assert_int_equal(k->user, 0);
	assert_int_equal(k->uidl, 0);
	assert_int_equal(k->stls, 0);
	assert_string_equal(pop3c_timestamp(p), "");
	pop3c_abort(&p);
	assert_null(p);
	fake_finish(f);
	/* abort sends no QUIT: nothing after CAPA. */
	assert_string_equal(f->got, "CAPA\n");
	fake_free(f);
}

static void test_capa_err_fallback(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "-ERR unknown command\r\n"},
		{"USER bob", "+OK\r\n"},
		{"PASS s3cret", "+OK welcome\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	const struct pop3c_caps *k = pop3c_caps(p);
	assert_int_equal(k->capa, 0);
	assert_int_equal(k->user, 1);
	assert_int_equal(k->uidl, 1);
	assert_int_equal(k->sasl_plain, 0);
	assert_int_equal(c->why.len, 0);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), 0);
	expect_quit(c, &p);
	fake_finish(f);
	fake_free(f);
}

static void test_capa_closed(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nUSER\r\n"},
		{NULL, CLOSE},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	assert_null(pop3c_start(fake_connect(f), &c->e, &c->err, &c->why));
	assert_int_equal(c->err, NET_ERR_CLOSED);
	fake_finish(f);
	fake_free(f);
}

/* ---- login ---- */

static void test_user_pass_ok(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "+OK send your password\r\n"},
		{"PASS s3cret", "+OK 2 messages\r\n"},
		{"QUIT", "+OK bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), 0);
	expect_quit(c, &p);
	fake_finish(f);
	assert_string_equal(f->got, "CAPA\nUSER bob\nPASS s3cret\nQUIT\n");
	assert_non_null(strstr(f->trace.data, "C: USER bob\n"));
	assert_non_null(strstr(f->trace.data, "C: PASS <redacted>\n"));
	assert_null(strstr(f->trace.data, "s3cret"));
	fake_free(f);
}

static void test_user_pass_auth_err(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "+OK\r\n"},
		{"PASS wrong-pw", "-ERR [AUTH] invalid\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "wrong-pw", &c->e, &c->err,
	                             &c->why), -1);
	assert_int_equal(c->err, NET_OK);
	assert_string_equal(c->e.code, "AUTH");
	assert_string_equal(buf_cstr(&c->e.text), "invalid");
	assert_non_null(strstr(buf_cstr(&c->why), "-ERR [AUTH] invalid"));
	expect_quit(c, &p);
	fake_finish(f);
	assert_null(strstr(f->trace.data, "wrong-pw"));
	fake_free(f);
}

static void test_user_refused(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "-ERR [AUTH] Plaintext authentication disallowed\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), -1);
	assert_int_equal(c->err, NET_OK);
	assert_string_equal(c->e.code, "AUTH");
	assert_string_equal(buf_cstr(&c->e.text),
	                    "Plaintext authentication disallowed");
	pop3c_abort(&p);
	fake_finish(f);
	/* PASS was never sent once USER failed. */
	assert_string_equal(f->got, "CAPA\nUSER bob\n");
	fake_free(f);
}

static void test_in_use_code(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "+OK\r\n"},
		{"PASS s3cret", "-ERR [IN-USE] Mailbox is locked\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), -1);
	assert_string_equal(c->e.code, "IN-USE");
	assert_string_equal(buf_cstr(&c->e.text), "Mailbox is locked");
	pop3c_abort(&p);
	fake_finish(f);
	assert_null(strstr(f->trace.data, "s3cret"));
	fake_free(f);
}

/* Text that only looks like a code stays text; control bytes are masked. */
static void test_err_without_code(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "+OK\r\n"},
		{"PASS s3cret", "-ERR [not a code] nope\033[31m\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), -1);
	assert_string_equal(c->e.code, "");
	assert_string_equal(buf_cstr(&c->e.text), "[not a code] nope?[31m");
	assert_null(strchr(buf_cstr(&c->why), '\033'));
	pop3c_abort(&p);
	fake_finish(f);
	fake_free(f);
}

static void test_auth_plain_wire(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_PLAIN},
		{"AUTH PLAIN AGJvYgBzM2NyZXQ=", "+OK Logged in\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), 0);
	expect_quit(c, &p);
	fake_finish(f);
	assert_non_null(strstr(f->trace.data, "C: AUTH PLAIN <redacted>\n"));
	assert_null(strstr(f->trace.data, "s3cret"));
	assert_null(strstr(f->trace.data, "AGJvYgBzM2NyZXQ="));
	fake_free(f);
}

/* Over 255 octets the response follows an empty challenge (RFC 5034 4). */
static void test_auth_plain_long(void **state)
{
	struct ctx *c = *state;
	char user[101], pass[101];
	memset(user, 'u', 100);
	memset(pass, 'p', 100);
	user[100] = pass[100] = '\0';
	struct buf raw = BUF_INIT, b64 = BUF_INIT;
	assert_int_equal(buf_putc(&raw, '\0'), 0);
	assert_int_equal(buf_puts(&raw, user), 0);
	assert_int_equal(buf_putc(&raw, '\0'), 0);
	assert_int_equal(buf_puts(&raw, pass), 0);
	assert_int_equal(msg_base64_encode(raw.data, raw.len, 0, &b64), 0);
	const struct step steps[] = {
		{"CAPA", CAPA_PLAIN},
		{"AUTH PLAIN", "+ \r\n"},
		{buf_cstr(&b64), "+OK Logged in\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, user, pass, &c->e, &c->err, &c->why),
	                 0);
	expect_quit(c, &p);
	fake_finish(f);
	assert_null(strstr(f->trace.data, "ppppp"));
	assert_null(strstr(f->trace.data, b64.data));
	assert_non_null(strstr(f->trace.data, "C: AUTH PLAIN\n"));
	buf_free(&raw);
	buf_free(&b64);
	fake_free(f);
}

/* A server that refuses the mechanism itself (no response code) gets
 * USER/PASS instead. */
static void test_auth_plain_fallback(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_PLAIN},
		{"AUTH PLAIN *", "-ERR Unsupported authentication mechanism\r\n"},
		{"USER bob", "+OK\r\n"},
		{"PASS s3cret", "+OK\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), 0);
	assert_int_equal(c->why.len, 0);
	expect_quit(c, &p);
	fake_finish(f);
	assert_null(strstr(f->trace.data, "s3cret"));
	fake_free(f);
}

/* [AUTH] means the password was judged: no second try with USER. */
static void test_auth_plain_rejected(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_PLAIN},
		{"AUTH PLAIN *", "-ERR [AUTH] Authentication failed\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), -1);
	assert_int_equal(c->err, NET_OK);
	assert_string_equal(c->e.code, "AUTH");
	assert_string_equal(buf_cstr(&c->e.text), "Authentication failed");
	pop3c_abort(&p);
	fake_finish(f);
	assert_string_equal(f->got, "CAPA\nAUTH PLAIN AGJvYgBzM2NyZXQ=\n");
	fake_free(f);
}

static void test_login_line_break(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "pw\r\nDELE 1", &c->e, &c->err,
	                             &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	pop3c_abort(&p);
	fake_finish(f);
	assert_string_equal(f->got, "CAPA\n");
	fake_free(f);
}

static void test_stls_refused(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nSTLS\r\nUSER\r\n.\r\n"},
		{"STLS", "-ERR TLS is not available here\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_caps(p)->stls, 1);
	assert_int_equal(pop3c_stls(p, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_OK);
	assert_string_equal(buf_cstr(&c->e.text), "TLS is not available here");
	expect_quit(c, &p);
	fake_finish(f);
	fake_free(f);
}

/* +OK to STLS and then no handshake: the session is lost. */
static void test_stls_handshake_fails(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nSTLS\r\n.\r\n"},
		{"STLS", "+OK Begin TLS negotiation\r\n"},
		{NULL, CLOSE},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_stls(p, &c->e, &c->err, &c->why), -1);
	assert_true(c->err == NET_ERR_TLS || c->err == NET_ERR_CLOSED);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	pop3c_abort(&p);
	fake_finish(f);
	assert_string_equal(f->got, "CAPA\nSTLS\n");
	fake_free(f);
}

/* ---- LIST and UIDL ---- */

#define LOGIN_STEPS {"USER bob", "+OK\r\n"}, {"PASS s3cret", "+OK\r\n"}

static struct pop3c *start_login(struct ctx *c, struct fake *f)
{
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), 0);
	return p;
}

static void test_list_uidl_merge(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"LIST", "+OK 3 messages\r\n3 300\r\n1 100 extra\r\n2 200\r\n"
		         ".\r\n"},
		{"UIDL", "+OK\r\n2 uid-two\r\n1 ~!\"#$%&'()*+,-./:;<=>?@[]^_`{|}"
		         "\r\n3 " "0123456789012345678901234567890123456789012345678"
		         "901234567890123456789\r\n.\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct pop3c_msg *m = NULL;
	size_t n = 0;
	assert_int_equal(pop3c_list(p, &m, &n, &c->e, &c->err, &c->why), 0);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].num, 1);
	assert_int_equal(m[0].size, 100);
	assert_string_equal(m[0].uidl, "~!\"#$%&'()*+,-./:;<=>?@[]^_`{|}");
	assert_int_equal(m[1].num, 2);
	assert_int_equal(m[1].size, 200);
	assert_string_equal(m[1].uidl, "uid-two");
	assert_int_equal(m[2].num, 3);
	assert_int_equal(m[2].size, 300);
	assert_int_equal(strlen(m[2].uidl), 70);
	free(m);
	expect_quit(c, &p);
	fake_finish(f);
	fake_free(f);
}

static void test_list_empty(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"LIST", "+OK 0 messages\r\n.\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct pop3c_msg *m = NULL;
	size_t n = 7;
	assert_int_equal(pop3c_list(p, &m, &n, &c->e, &c->err, &c->why), 0);
	assert_int_equal(n, 0);
	free(m);
	expect_quit(c, &p);
	fake_finish(f);
	/* No UIDL for an empty maildrop. */
	assert_null(strstr(f->got, "UIDL"));
	fake_free(f);
}

/* CAPA without UIDL: the client does not ask. */
static void test_list_no_uidl_capa(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nUSER\r\n.\r\n"},
		LOGIN_STEPS,
		{"LIST", "+OK\r\n1 10\r\n2 20\r\n.\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct pop3c_msg *m = NULL;
	size_t n = 0;
	assert_int_equal(pop3c_list(p, &m, &n, &c->e, &c->err, &c->why), 0);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].uidl, "");
	assert_string_equal(m[1].uidl, "");
	free(m);
	expect_quit(c, &p);
	fake_finish(f);
	assert_null(strstr(f->got, "UIDL"));
	fake_free(f);
}

/* No CAPA: UIDL is tried, and its -ERR leaves the ids empty. */
static void test_list_uidl_err(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "-ERR what?\r\n"},
		LOGIN_STEPS,
		{"LIST", "+OK\r\n1 10\r\n.\r\n"},
		{"UIDL", "-ERR unknown command\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct pop3c_msg *m = NULL;
	size_t n = 0;
	assert_int_equal(pop3c_list(p, &m, &n, &c->e, &c->err, &c->why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].size, 10);
	assert_string_equal(m[0].uidl, "");
	assert_int_equal(c->why.len, 0);
	free(m);
	expect_quit(c, &p);
	fake_finish(f);
	fake_free(f);
}

/* Each bad listing fails as a protocol error, but the rest of it is read
 * so the session goes on (the QUIT after it works). */
static void list_bad(struct ctx *c, const char *list, const char *uidl)
{
	const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"LIST", list},
		{uidl ? "UIDL" : "QUIT", uidl ? uidl : "+OK\r\n"},
		{uidl ? "QUIT" : NULL, uidl ? "+OK\r\n" : NULL},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct pop3c_msg *m = (struct pop3c_msg *)1;
	size_t n = 9;
	buf_reset(&c->why);
	assert_int_equal(pop3c_list(p, &m, &n, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	assert_null(m);
	assert_int_equal(n, 0);
	assert_true(c->why.len > 0);
	expect_quit(c, &p);
	fake_finish(f);
	fake_free(f);
}

static void test_list_malformed(void **state)
{
	struct ctx *c = *state;
	static const char *const lists[] = {
		"+OK\r\n1 abc\r\n2 20\r\n.\r\n",
		"+OK\r\nx 100\r\n.\r\n",
		"+OK\r\n0 5\r\n.\r\n",
		"+OK\r\n1\r\n.\r\n",
		"+OK\r\n1 \r\n.\r\n",
		"+OK\r\n-1 5\r\n.\r\n",
		"+OK\r\n+1 5\r\n.\r\n",
		"+OK\r\n1  5\r\n.\r\n",
		"+OK\r\n1 99999999999999999999999\r\n.\r\n",
		"+OK\r\n99999999999999999999999 1\r\n.\r\n",
		"+OK\r\n1 10\r\n1 10\r\n.\r\n",
		"+OK\r\n\r\n.\r\n",
	};
	for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
		list_bad(c, lists[i], NULL);
}

static void test_uidl_malformed(void **state)
{
	struct ctx *c = *state;
	static const char *const uidls[] = {
		/* 71 characters */
		"+OK\r\n1 01234567890123456789012345678901234567890123456789"
		"012345678901234567890\r\n.\r\n",
		"+OK\r\n1 bad\001id\r\n.\r\n",
		"+OK\r\n1 caf\xc3\xa9\r\n.\r\n",
		"+OK\r\n3 not-listed\r\n.\r\n",
		"+OK\r\n1 a\r\n1 b\r\n.\r\n",
		"+OK\r\n1\r\n.\r\n",
		"+OK\r\nx a\r\n.\r\n",
	};
	for (size_t i = 0; i < sizeof uidls / sizeof *uidls; i++)
		list_bad(c, "+OK\r\n1 10\r\n2 20\r\n.\r\n", uidls[i]);
}

/* ---- RETR ---- */

static void retr_unstuff(struct ctx *c, int bytewise)
{
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"RETR 1", "+OK 60 octets\r\n"
		           "Subject: dots\r\n"
		           "\r\n"
		           "..hidden\r\n"
		           "..\r\n"
		           "...\r\n"
		           "a.b\r\n"
		           ".x\r\n"
		           "last line\r\n"
		           ".\r\n"},
		{"DELE 1", "+OK deleted\r\n"},
		{"QUIT", "+OK bye\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start_mode(GREET, steps, bytewise);
	struct pop3c *p = start_login(c, f);
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(buf_puts(&out, "KEEP"), 0);
	assert_int_equal(pop3c_retr(p, 1, &out, &c->e, &c->err, &c->why), 0);
	const char *want = "KEEPSubject: dots\r\n\r\n.hidden\r\n.\r\n..\r\n"
	                   "a.b\r\nx\r\nlast line\r\n";
	assert_string_equal(buf_cstr(&out), want);
	assert_int_equal(pop3c_dele(p, 1, &c->e, &c->err, &c->why), 0);
	expect_quit(c, &p);
	fake_finish(f);
	char summary[64];
	snprintf(summary, sizeof summary, "S: <message 1, %zu bytes>\n",
	         strlen(want) - 4);
	assert_non_null(strstr(f->trace.data, summary));
	/* The body is not traced line by line. */
	assert_null(strstr(f->trace.data, "hidden"));
	assert_non_null(strstr(f->trace.data, "C: RETR 1\n"));
	assert_non_null(strstr(f->trace.data, "S: +OK 60 octets\n"));
	buf_free(&out);
	fake_free(f);
}

static void test_retr_unstuff(void **state)
{
	retr_unstuff(*state, 0);
}

/* The same input a byte at a time. */
static void test_retr_unstuff_bytewise(void **state)
{
	retr_unstuff(*state, 1);
}

/* Bare LF line ends and a last line the server sent without CRLF before
 * the terminator (a server that only knows "\n") come out as CRLF. */
static void test_retr_bare_lf(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"RETR 2", "+OK\nA: b\n\nbody\nno final newline\n.\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct buf out = BUF_INIT;
	assert_int_equal(pop3c_retr(p, 2, &out, &c->e, &c->err, &c->why), 0);
	assert_string_equal(buf_cstr(&out),
	                    "A: b\r\n\r\nbody\r\nno final newline\r\n");
	expect_quit(c, &p);
	fake_finish(f);
	buf_free(&out);
	fake_free(f);
}

static void test_retr_empty_and_err(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"RETR 9", "-ERR no such message\r\n"},
		{"RETR 1", "+OK\r\n.\r\n"},
		{"DELE 9", "-ERR no such message\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct buf out = BUF_INIT;
	assert_int_equal(pop3c_retr(p, 9, &out, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_OK);
	assert_string_equal(buf_cstr(&c->e.text), "no such message");
	assert_int_equal(out.len, 0);
	assert_int_equal(pop3c_retr(p, 1, &out, &c->e, &c->err, &c->why), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(pop3c_dele(p, 9, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_OK);
	expect_quit(c, &p);
	fake_finish(f);
	buf_free(&out);
	fake_free(f);
}

/* Larger than out->max: a protocol error, out as it was, and the session
 * unusable (no DELE, and QUIT fails without reaching the server). */
static void test_retr_over_max(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"RETR 1", "+OK\r\n0123456789\r\n0123456789\r\n0123456789\r\n"
		           ".\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct buf out;
	buf_init(&out, 30);
	assert_int_equal(buf_puts(&out, "x"), 0);
	assert_int_equal(pop3c_retr(p, 1, &out, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	assert_non_null(strstr(buf_cstr(&c->why), "larger than"));
	assert_string_equal(buf_cstr(&out), "x");
	assert_int_equal(pop3c_dele(p, 1, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	assert_int_equal(pop3c_quit(&p, &c->e, &c->err, &c->why), -1);
	assert_null(p);
	fake_finish(f);
	assert_null(strstr(f->got, "DELE"));
	assert_null(strstr(f->got, "QUIT"));
	buf_free(&out);
	fake_free(f);
}

/* A message exactly at the limit fits. */
static void test_retr_at_max(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"RETR 1", "+OK\r\n0123456789\r\n.\r\n"},
		{"QUIT", "+OK\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct buf out;
	buf_init(&out, 12);
	assert_int_equal(pop3c_retr(p, 1, &out, &c->e, &c->err, &c->why), 0);
	assert_int_equal(out.len, 12);
	expect_quit(c, &p);
	fake_finish(f);
	buf_free(&out);
	fake_free(f);
}

static void test_retr_closed(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"RETR 1", "+OK\r\nSubject: half\r\n\r\nhalf a bo"},
		{NULL, CLOSE},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct buf out = BUF_INIT;
	assert_int_equal(pop3c_retr(p, 1, &out, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_ERR_CLOSED);
	assert_int_equal(out.len, 0);
	assert_int_equal(pop3c_dele(p, 1, &c->e, &c->err, &c->why), -1);
	pop3c_abort(&p);
	fake_finish(f);
	buf_free(&out);
	fake_free(f);
}

/* A line over the data limit fails instead of growing without bound. */
static void test_retr_line_too_long(void **state)
{
	struct ctx *c = *state;
	size_t big = 2 * 1024 * 1024;
	char *reply = malloc(big + 16);
	assert_non_null(reply);
	strcpy(reply, "+OK\r\n");
	memset(reply + 5, 'a', big);
	strcpy(reply + 5 + big, "\r\n.\r\n");
	const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"RETR 1", reply},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	struct buf out = BUF_INIT;
	assert_int_equal(pop3c_retr(p, 1, &out, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	assert_int_equal(out.len, 0);
	pop3c_abort(&p);
	fake_finish(f);
	buf_free(&out);
	free(reply);
	fake_free(f);
}

/* ---- QUIT and odd answers ---- */

static void test_quit_err(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		LOGIN_STEPS,
		{"DELE 1", "+OK\r\n"},
		{"QUIT", "-ERR [SYS/PERM] some deleted messages not removed\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start_login(c, f);
	assert_int_equal(pop3c_dele(p, 1, &c->e, &c->err, &c->why), 0);
	assert_int_equal(pop3c_quit(&p, &c->e, &c->err, &c->why), -1);
	assert_null(p);
	assert_int_equal(c->err, NET_OK);
	assert_string_equal(c->e.code, "SYS/PERM");
	assert_string_equal(buf_cstr(&c->e.text),
	                    "some deleted messages not removed");
	fake_finish(f);
	fake_free(f);
}

static void test_quit_closed(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"QUIT", CLOSE},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_quit(&p, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_ERR_CLOSED);
	assert_null(p);
	fake_finish(f);
	fake_free(f);
}

static void test_unexpected_answer(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "* OK [IMAP] wrong protocol\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_login(p, "bob", "s3cret", &c->e, &c->err,
	                             &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	assert_string_equal(buf_cstr(&c->e.text), "* OK [IMAP] wrong protocol");
	/* Out of step: nothing more goes to the server. */
	assert_int_equal(pop3c_dele(p, 1, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	pop3c_abort(&p);
	fake_finish(f);
	assert_string_equal(f->got, "CAPA\nUSER bob\n");
	fake_free(f);
}

/* "+OKAY" is not "+OK"; lower case "+ok" is tolerated. */
static void test_status_words(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"DELE 1", "+ok\r\n"},
		{"DELE 2", "+OKAY\r\n"},
		{NULL, NULL},
	};
	struct fake *f = fake_start(GREET, steps);
	struct pop3c *p = start(c, f);
	assert_int_equal(pop3c_dele(p, 1, &c->e, &c->err, &c->why), 0);
	assert_int_equal(pop3c_dele(p, 2, &c->e, &c->err, &c->why), -1);
	assert_int_equal(c->err, NET_ERR_PROTOCOL);
	pop3c_abort(&p);
	fake_finish(f);
	fake_free(f);
}

#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		T(test_greeting_err),
		T(test_greeting_garbage),
		T(test_greeting_closed),
		T(test_capa_parse),
		T(test_capa_minimal),
		T(test_capa_err_fallback),
		T(test_capa_closed),
		T(test_user_pass_ok),
		T(test_user_pass_auth_err),
		T(test_user_refused),
		T(test_in_use_code),
		T(test_err_without_code),
		T(test_auth_plain_wire),
		T(test_auth_plain_long),
		T(test_auth_plain_fallback),
		T(test_auth_plain_rejected),
		T(test_login_line_break),
		T(test_stls_refused),
		T(test_stls_handshake_fails),
		T(test_list_uidl_merge),
		T(test_list_empty),
		T(test_list_no_uidl_capa),
		T(test_list_uidl_err),
		T(test_list_malformed),
		T(test_uidl_malformed),
		T(test_retr_unstuff),
		T(test_retr_unstuff_bytewise),
		T(test_retr_bare_lf),
		T(test_retr_empty_and_err),
		T(test_retr_over_max),
		T(test_retr_at_max),
		T(test_retr_closed),
		T(test_retr_line_too_long),
		T(test_quit_err),
		T(test_quit_closed),
		T(test_unexpected_answer),
		T(test_status_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
