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
#define END {NULL, NULL}
struct step {
	const char *expect;
	const char *reply;
};

struct fake {
	int lfd;
	int port;
	pthread_t thread;
	const char *greeting;
	const struct step *prefix; /* run before steps (NULL: none) */
	const struct step *steps;
	int finished;        /* fake_finish joined the thread */
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

/* Plays one script on fd: -1 when the client hung up or the script
 * closes the connection. */
static int fake_script(struct fake *f, int fd, const struct step *s)
{
	char line[4096];
	for (; s && (s->expect || s->reply); s++) {
		if (s->expect) {
			if (fake_read_line(fd, line, sizeof line) < 0)
				return -1;
			fake_got(f, line);
			if (!expect_matches(s->expect, line) && !f->mismatch) {
				f->mismatch = 1;
				snprintf(f->mismatch_line, sizeof f->mismatch_line,
				         "expected \"%.200s\", got \"%.200s\"",
				         s->expect, line);
			}
		}
		if (s->reply && strcmp(s->reply, CLOSE) == 0)
			return -1;
		if (s->reply)
			fake_send(fd, s->reply, f->bytewise);
	}
	return 0;
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
	if (fake_script(f, fd, f->prefix) < 0 || fake_script(f, fd, f->steps) < 0)
		goto out;
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

static void fake_start(struct fake *f, const char *greeting,
                       const struct step *prefix, const struct step *steps,
                       int bytewise)
{
	f->bytewise = bytewise;
	f->greeting = greeting;
	f->prefix = prefix;
	f->steps = steps;
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
}

/* Joins the server and checks it saw what the script expected. */
static void fake_finish(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
	f->finished = 1;
	f->got[f->got_len] = '\0';
	(void)buf_cstr(&f->trace);
	if (f->mismatch)
		fail_msg("%s", f->mismatch_line);
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

/* Per-test state: an error, a net error, a why and the fake server (the
 * teardown frees it, joining its thread first when a test failed before
 * finishing it). */
struct ctx {
	struct pop3c_error e;
	enum net_err err;
	struct buf why;
	struct fake f;
	int serving;
};

static int ctx_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	pop3c_error_init(&c->e);
	buf_init(&c->why, 0);
	buf_init(&c->f.trace, 0);
	*state = c;
	return 0;
}

static int ctx_teardown(void **state)
{
	struct ctx *c = *state;
	if (c->serving && !c->f.finished) {
		pthread_join(c->f.thread, NULL);
		close(c->f.lfd);
	}
	pop3c_error_free(&c->e);
	buf_free(&c->why);
	buf_free(&c->f.trace);
	free(c);
	return 0;
}

#define GREET "+OK ready <1896.697170952@dbc.mr.net>\r\n"
#define CAPA_USER "+OK caps\r\nUSER\r\nUIDL\r\nTOP\r\nRESP-CODES\r\n.\r\n"
#define CAPA_PLAIN "+OK caps\r\nUSER\r\nUIDL\r\nSASL LOGIN PLAIN\r\n" \
                   "RESP-CODES\r\n.\r\n"
#define LOGIN_STEPS {"USER bob", "+OK\r\n"}, {"PASS s3cret", "+OK\r\n"}
#define QUIT_OK {"QUIT", "+OK\r\n"}

/* What a logged-in session starts with. */
static const struct step capa_login[] = {{"CAPA", CAPA_USER}, LOGIN_STEPS,
                                         END};

/* Starts the fake server (greeting, then prefix, then steps) for c; a
 * test may run several sessions one after the other. */
static struct fake *serve(struct ctx *c, const char *greeting,
                          const struct step *prefix, const struct step *steps,
                          int bytewise)
{
	if (c->serving) {
		assert_true(c->f.finished);
		buf_free(&c->f.trace);
		memset(&c->f, 0, sizeof c->f);
		buf_init(&c->f.trace, 0);
	}
	c->serving = 1;
	fake_start(&c->f, greeting, prefix, steps, bytewise);
	return &c->f;
}

static struct pop3c *start(struct ctx *c)
{
	struct pop3c *p = pop3c_start(fake_connect(&c->f), &c->e, &c->err,
	                              &c->why);
	if (!p)
		fail_msg("start: %s", buf_cstr(&c->why));
	return p;
}

/* A session with GREET and the script steps (which begin with CAPA). */
static struct pop3c *session(struct ctx *c, const struct step *steps)
{
	serve(c, GREET, NULL, steps, 0);
	return start(c);
}

static int login(struct ctx *c, struct pop3c *p, const char *user,
                 const char *pass)
{
	return pop3c_login(p, user, pass, &c->e, &c->err, &c->why);
}

/* A session logged in as bob (capa_login), then the script steps. */
static struct pop3c *session_login_mode(struct ctx *c,
                                        const struct step *steps,
                                        int bytewise)
{
	serve(c, GREET, capa_login, steps, bytewise);
	struct pop3c *p = start(c);
	assert_int_equal(login(c, p, "bob", "s3cret"), 0);
	return p;
}

static struct pop3c *session_login(struct ctx *c, const struct step *steps)
{
	return session_login_mode(c, steps, 0);
}

/* pop3c_start against greeting and steps fails with err. */
static void start_fails(struct ctx *c, const char *greeting,
                        const struct step *steps, enum net_err err)
{
	serve(c, greeting, NULL, steps, 0);
	assert_null(pop3c_start(fake_connect(&c->f), &c->e, &c->err, &c->why));
	assert_int_equal(c->err, err);
	fake_finish(&c->f);
}

/* A call returned r: it must have failed with err, and, when given, the
 * response code and text. */
static void assert_failed(struct ctx *c, int r, enum net_err err,
                          const char *code, const char *text)
{
	assert_int_equal(r, -1);
	assert_int_equal(c->err, err);
	if (code)
		assert_string_equal(c->e.code, code);
	if (text)
		assert_string_equal(buf_cstr(&c->e.text), text);
}

/* Ends the session with a QUIT the server accepts. */
static void end_quit(struct ctx *c, struct pop3c **p)
{
	buf_reset(&c->why);
	assert_int_equal(pop3c_quit(p, &c->e, &c->err, &c->why), 0);
	assert_null(*p);
	fake_finish(&c->f);
}

/* Ends the session without a word to the server. */
static void end_abort(struct ctx *c, struct pop3c **p)
{
	pop3c_abort(p);
	assert_null(*p);
	fake_finish(&c->f);
}

/* ---- greeting and CAPA ---- */

static void test_greeting_err(void **state)
{
	struct ctx *c = *state;
	start_fails(c, "-ERR [SYS/TEMP] too busy\r\n", NULL, NET_ERR_PROTOCOL);
	assert_failed(c, -1, NET_ERR_PROTOCOL, "SYS/TEMP", "too busy");
	assert_non_null(strstr(buf_cstr(&c->why), "too busy"));
}

static void test_greeting_garbage(void **state)
{
	struct ctx *c = *state;
	start_fails(c, "220 smtp.example.org ESMTP\r\n", NULL, NET_ERR_PROTOCOL);
	assert_string_equal(buf_cstr(&c->e.text), "220 smtp.example.org ESMTP");
}

static void test_greeting_closed(void **state)
{
	start_fails(*state, NULL, NULL, NET_ERR_CLOSED);
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
		END,
	};
	struct pop3c *p = session(c, steps);
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
	end_quit(c, &p);
	assert_non_null(strstr(c->f.trace.data, "S: IMPLEMENTATION x y z\n"));
}

static void test_capa_minimal(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nSASL LOGIN\r\nPLAINTEXT\r\n.\r\n"},
		END,
	};
	serve(c, "+OK\r\n", NULL, steps, 0);
	struct pop3c *p = start(c);
	const struct pop3c_caps *k = pop3c_caps(p);
	assert_int_equal(k->capa, 1);
	assert_int_equal(k->sasl_plain, 0);
	assert_int_equal(k->user, 0);
	assert_int_equal(k->uidl, 0);
	assert_int_equal(k->stls, 0);
	assert_string_equal(pop3c_timestamp(p), "");
	end_abort(c, &p);
	/* abort sends no QUIT: nothing after CAPA. */
	assert_string_equal(c->f.got, "CAPA\n");
}

static void test_capa_err_fallback(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "-ERR unknown command\r\n"},
		{"USER bob", "+OK\r\n"},
		{"PASS s3cret", "+OK welcome\r\n"},
		QUIT_OK,
		END,
	};
	struct pop3c *p = session(c, steps);
	const struct pop3c_caps *k = pop3c_caps(p);
	assert_int_equal(k->capa, 0);
	assert_int_equal(k->user, 1);
	assert_int_equal(k->uidl, 1);
	assert_int_equal(k->sasl_plain, 0);
	assert_int_equal(c->why.len, 0);
	assert_int_equal(login(c, p, "bob", "s3cret"), 0);
	end_quit(c, &p);
}

static void test_capa_closed(void **state)
{
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nUSER\r\n"},
		{NULL, CLOSE},
		END,
	};
	start_fails(*state, GREET, steps, NET_ERR_CLOSED);
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
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_int_equal(login(c, p, "bob", "s3cret"), 0);
	end_quit(c, &p);
	assert_string_equal(c->f.got, "CAPA\nUSER bob\nPASS s3cret\nQUIT\n");
	assert_non_null(strstr(c->f.trace.data, "C: USER bob\n"));
	assert_non_null(strstr(c->f.trace.data, "C: PASS <redacted>\n"));
	assert_null(strstr(c->f.trace.data, "s3cret"));
}

static void test_user_pass_auth_err(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "+OK\r\n"},
		{"PASS wrong-pw", "-ERR [AUTH] invalid\r\n"},
		QUIT_OK,
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_failed(c, login(c, p, "bob", "wrong-pw"), NET_OK, "AUTH",
	              "invalid");
	assert_non_null(strstr(buf_cstr(&c->why), "-ERR [AUTH] invalid"));
	end_quit(c, &p);
	assert_null(strstr(c->f.trace.data, "wrong-pw"));
}

/* A login the server refuses at USER or PASS: the error is what comes
 * back, the password never shows in the transcript, and the server saw
 * exactly got (when given). */
static void login_refused(struct ctx *c, const struct step *steps,
                          enum net_err err, const char *code,
                          const char *text, const char *got)
{
	struct pop3c *p = session(c, steps);
	assert_failed(c, login(c, p, "bob", "s3cret"), err, code, text);
	end_abort(c, &p);
	assert_null(strstr(c->f.trace.data, "s3cret"));
	if (got)
		assert_string_equal(c->f.got, got);
}

static void test_user_refused(void **state)
{
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "-ERR [AUTH] Plaintext authentication disallowed\r\n"},
		END,
	};
	/* PASS was never sent once USER failed. */
	login_refused(*state, steps, NET_OK, "AUTH",
	              "Plaintext authentication disallowed", "CAPA\nUSER bob\n");
}

static void test_in_use_code(void **state)
{
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "+OK\r\n"},
		{"PASS s3cret", "-ERR [IN-USE] Mailbox is locked\r\n"},
		END,
	};
	login_refused(*state, steps, NET_OK, "IN-USE", "Mailbox is locked",
	              NULL);
}

/* Text that only looks like a code stays text; control bytes are masked. */
static void test_err_without_code(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "+OK\r\n"},
		{"PASS s3cret", "-ERR [not a code] nope\033[31m\r\n"},
		END,
	};
	login_refused(c, steps, NET_OK, "", "[not a code] nope?[31m", NULL);
	assert_null(strchr(buf_cstr(&c->why), '\033'));
}

static void test_auth_plain_wire(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_PLAIN},
		{"AUTH PLAIN AGJvYgBzM2NyZXQ=", "+OK Logged in\r\n"},
		QUIT_OK,
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_int_equal(login(c, p, "bob", "s3cret"), 0);
	end_quit(c, &p);
	assert_non_null(strstr(c->f.trace.data, "C: AUTH PLAIN <redacted>\n"));
	assert_null(strstr(c->f.trace.data, "s3cret"));
	assert_null(strstr(c->f.trace.data, "AGJvYgBzM2NyZXQ="));
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
		QUIT_OK,
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_int_equal(login(c, p, user, pass), 0);
	end_quit(c, &p);
	assert_null(strstr(c->f.trace.data, "ppppp"));
	assert_null(strstr(c->f.trace.data, b64.data));
	assert_non_null(strstr(c->f.trace.data, "C: AUTH PLAIN\n"));
	buf_free(&raw);
	buf_free(&b64);
}

/* A server that refuses the mechanism itself (no response code) gets
 * USER/PASS instead. */
static void test_auth_plain_fallback(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_PLAIN},
		{"AUTH PLAIN *", "-ERR Unsupported authentication mechanism\r\n"},
		LOGIN_STEPS,
		QUIT_OK,
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_int_equal(login(c, p, "bob", "s3cret"), 0);
	assert_int_equal(c->why.len, 0);
	end_quit(c, &p);
	assert_null(strstr(c->f.trace.data, "s3cret"));
}

/* [AUTH] means the password was judged: no second try with USER. */
static void test_auth_plain_rejected(void **state)
{
	static const struct step steps[] = {
		{"CAPA", CAPA_PLAIN},
		{"AUTH PLAIN *", "-ERR [AUTH] Authentication failed\r\n"},
		END,
	};
	login_refused(*state, steps, NET_OK, "AUTH", "Authentication failed",
	              "CAPA\nAUTH PLAIN AGJvYgBzM2NyZXQ=\n");
}

static void test_login_line_break(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {{"CAPA", CAPA_USER}, END};
	struct pop3c *p = session(c, steps);
	assert_failed(c, login(c, p, "bob", "pw\r\nDELE 1"), NET_ERR_PROTOCOL,
	              NULL, NULL);
	end_abort(c, &p);
	assert_string_equal(c->f.got, "CAPA\n");
}

static void test_stls_refused(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nSTLS\r\nUSER\r\n.\r\n"},
		{"STLS", "-ERR TLS is not available here\r\n"},
		QUIT_OK,
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_int_equal(pop3c_caps(p)->stls, 1);
	assert_failed(c, pop3c_stls(p, &c->e, &c->err, &c->why), NET_OK, NULL,
	              "TLS is not available here");
	end_quit(c, &p);
}

/* +OK to STLS and then no handshake: the session is lost. */
static void test_stls_handshake_fails(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nSTLS\r\n.\r\n"},
		{"STLS", "+OK Begin TLS negotiation\r\n"},
		{NULL, CLOSE},
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_int_equal(pop3c_stls(p, &c->e, &c->err, &c->why), -1);
	assert_true(c->err == NET_ERR_TLS || c->err == NET_ERR_CLOSED);
	assert_failed(c, login(c, p, "bob", "s3cret"), NET_ERR_PROTOCOL, NULL,
	              NULL);
	end_abort(c, &p);
	assert_string_equal(c->f.got, "CAPA\nSTLS\n");
}

/* ---- LIST and UIDL ---- */

/* pop3c_list on p: 0 with the listing in *m and *n. */
static int list(struct ctx *c, struct pop3c *p, struct pop3c_msg **m,
                size_t *n)
{
	return pop3c_list(p, m, n, &c->e, &c->err, &c->why);
}

static void test_list_uidl_merge(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"LIST", "+OK 3 messages\r\n3 300\r\n1 100 extra\r\n2 200\r\n"
		         ".\r\n"},
		{"UIDL", "+OK\r\n2 uid-two\r\n1 ~!\"#$%&'()*+,-./:;<=>?@[]^_`{|}"
		         "\r\n3 " "0123456789012345678901234567890123456789012345678"
		         "901234567890123456789\r\n.\r\n"},
		QUIT_OK,
		END,
	};
	struct pop3c *p = session_login(c, steps);
	struct pop3c_msg *m = NULL;
	size_t n = 0;
	assert_int_equal(list(c, p, &m, &n), 0);
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
	end_quit(c, &p);
}

static void test_list_empty(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"LIST", "+OK 0 messages\r\n.\r\n"},
		QUIT_OK,
		END,
	};
	struct pop3c *p = session_login(c, steps);
	struct pop3c_msg *m = NULL;
	size_t n = 7;
	assert_int_equal(list(c, p, &m, &n), 0);
	assert_int_equal(n, 0);
	free(m);
	end_quit(c, &p);
	/* No UIDL for an empty maildrop. */
	assert_null(strstr(c->f.got, "UIDL"));
}

/* A listing without ids (steps log in and answer LIST, and UIDL if the
 * client asks): count messages of the given sizes, each uidl "". */
static void list_without_ids(struct ctx *c, const struct step *steps,
                             const unsigned long long *sizes, size_t count)
{
	struct pop3c *p = session(c, steps);
	assert_int_equal(login(c, p, "bob", "s3cret"), 0);
	struct pop3c_msg *m = NULL;
	size_t n = 0;
	assert_int_equal(list(c, p, &m, &n), 0);
	assert_int_equal(n, count);
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(m[i].size, sizes[i]);
		assert_string_equal(m[i].uidl, "");
	}
	assert_int_equal(c->why.len, 0);
	free(m);
	end_quit(c, &p);
}

/* CAPA without UIDL: the client does not ask. */
static void test_list_no_uidl_capa(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", "+OK\r\nUSER\r\n.\r\n"},
		LOGIN_STEPS,
		{"LIST", "+OK\r\n1 10\r\n2 20\r\n.\r\n"},
		QUIT_OK,
		END,
	};
	static const unsigned long long sizes[] = {10, 20};
	list_without_ids(c, steps, sizes, 2);
	assert_null(strstr(c->f.got, "UIDL"));
}

/* No CAPA: UIDL is tried, and its -ERR leaves the ids empty. */
static void test_list_uidl_err(void **state)
{
	static const struct step steps[] = {
		{"CAPA", "-ERR what?\r\n"},
		LOGIN_STEPS,
		{"LIST", "+OK\r\n1 10\r\n.\r\n"},
		{"UIDL", "-ERR unknown command\r\n"},
		QUIT_OK,
		END,
	};
	static const unsigned long long sizes[] = {10};
	list_without_ids(*state, steps, sizes, 1);
}

/* Each bad listing fails as a protocol error, but the rest of it is read
 * so the session goes on (the QUIT after it works). */
static void list_bad(struct ctx *c, const char *listing, const char *uidl)
{
	const struct step steps[] = {
		{"LIST", listing},
		{uidl ? "UIDL" : "QUIT", uidl ? uidl : "+OK\r\n"},
		{uidl ? "QUIT" : NULL, uidl ? "+OK\r\n" : NULL},
		END,
	};
	struct pop3c *p = session_login(c, steps);
	struct pop3c_msg *m = (struct pop3c_msg *)1;
	size_t n = 9;
	buf_reset(&c->why);
	assert_failed(c, list(c, p, &m, &n), NET_ERR_PROTOCOL, NULL, NULL);
	assert_null(m);
	assert_int_equal(n, 0);
	assert_true(c->why.len > 0);
	end_quit(c, &p);
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

static int retr(struct ctx *c, struct pop3c *p, unsigned num, struct buf *out)
{
	return pop3c_retr(p, num, out, &c->e, &c->err, &c->why);
}

static int dele(struct ctx *c, struct pop3c *p, unsigned num)
{
	return pop3c_dele(p, num, &c->e, &c->err, &c->why);
}

static void retr_unstuff(struct ctx *c, int bytewise)
{
	static const struct step steps[] = {
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
		END,
	};
	struct pop3c *p = session_login_mode(c, steps, bytewise);
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(buf_puts(&out, "KEEP"), 0);
	assert_int_equal(retr(c, p, 1, &out), 0);
	const char *want = "KEEPSubject: dots\r\n\r\n.hidden\r\n.\r\n..\r\n"
	                   "a.b\r\nx\r\nlast line\r\n";
	assert_string_equal(buf_cstr(&out), want);
	assert_int_equal(dele(c, p, 1), 0);
	end_quit(c, &p);
	char summary[64];
	snprintf(summary, sizeof summary, "S: <message 1, %zu bytes>\n",
	         strlen(want) - 4);
	const char *trace = c->f.trace.data;
	assert_non_null(strstr(trace, summary));
	/* The body is not traced line by line. */
	assert_null(strstr(trace, "hidden"));
	assert_non_null(strstr(trace, "C: RETR 1\n"));
	assert_non_null(strstr(trace, "S: +OK 60 octets\n"));
	buf_free(&out);
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

/* A RETR of message num into a buffer of at most max bytes (0: no limit)
 * gives want, then the session quits. */
static void retr_gives(struct ctx *c, const struct step *steps, unsigned num,
                       size_t max, const char *want)
{
	struct pop3c *p = session_login(c, steps);
	struct buf out;
	buf_init(&out, max);
	assert_int_equal(retr(c, p, num, &out), 0);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.data ? out.data : "", want, out.len);
	end_quit(c, &p);
	buf_free(&out);
}

/* Bare LF line ends and a last line the server sent without CRLF before
 * the terminator (a server that only knows "\n") come out as CRLF. */
static void test_retr_bare_lf(void **state)
{
	static const struct step steps[] = {
		{"RETR 2", "+OK\nA: b\n\nbody\nno final newline\n.\n"},
		QUIT_OK,
		END,
	};
	retr_gives(*state, steps, 2, 0,
	           "A: b\r\n\r\nbody\r\nno final newline\r\n");
}

/* A message exactly at the limit fits. */
static void test_retr_at_max(void **state)
{
	static const struct step steps[] = {
		{"RETR 1", "+OK\r\n0123456789\r\n.\r\n"},
		QUIT_OK,
		END,
	};
	retr_gives(*state, steps, 1, 12, "0123456789\r\n");
}

static void test_retr_empty_and_err(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"RETR 9", "-ERR no such message\r\n"},
		{"RETR 1", "+OK\r\n.\r\n"},
		{"DELE 9", "-ERR no such message\r\n"},
		QUIT_OK,
		END,
	};
	struct pop3c *p = session_login(c, steps);
	struct buf out = BUF_INIT;
	assert_failed(c, retr(c, p, 9, &out), NET_OK, NULL, "no such message");
	assert_int_equal(out.len, 0);
	assert_int_equal(retr(c, p, 1, &out), 0);
	assert_int_equal(out.len, 0);
	assert_failed(c, dele(c, p, 9), NET_OK, NULL, NULL);
	end_quit(c, &p);
	buf_free(&out);
}

/* Larger than out->max: a protocol error, out as it was, and the session
 * unusable (no DELE, and QUIT fails without reaching the server). */
static void test_retr_over_max(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"RETR 1", "+OK\r\n0123456789\r\n0123456789\r\n0123456789\r\n"
		           ".\r\n"},
		END,
	};
	struct pop3c *p = session_login(c, steps);
	struct buf out;
	buf_init(&out, 30);
	assert_int_equal(buf_puts(&out, "x"), 0);
	assert_failed(c, retr(c, p, 1, &out), NET_ERR_PROTOCOL, NULL, NULL);
	assert_non_null(strstr(buf_cstr(&c->why), "larger than"));
	assert_string_equal(buf_cstr(&out), "x");
	assert_failed(c, dele(c, p, 1), NET_ERR_PROTOCOL, NULL, NULL);
	assert_int_equal(pop3c_quit(&p, &c->e, &c->err, &c->why), -1);
	assert_null(p);
	fake_finish(&c->f);
	assert_null(strstr(c->f.got, "DELE"));
	assert_null(strstr(c->f.got, "QUIT"));
	buf_free(&out);
}

/* A RETR answered with reply (and a hang-up after it when hang_up) fails
 * with err, out stays empty, and the session is lost. */
static void retr_broken(struct ctx *c, const char *reply, int hang_up,
                        enum net_err err)
{
	const struct step steps[] = {
		{"RETR 1", reply},
		{NULL, hang_up ? CLOSE : NULL},
		END,
	};
	struct pop3c *p = session_login(c, steps);
	struct buf out = BUF_INIT;
	assert_failed(c, retr(c, p, 1, &out), err, NULL, NULL);
	assert_int_equal(out.len, 0);
	assert_int_equal(dele(c, p, 1), -1);
	end_abort(c, &p);
	buf_free(&out);
}

static void test_retr_closed(void **state)
{
	retr_broken(*state, "+OK\r\nSubject: half\r\n\r\nhalf a bo", 1,
	            NET_ERR_CLOSED);
}

/* A line over the data limit fails instead of growing without bound. */
static void test_retr_line_too_long(void **state)
{
	size_t big = 2 * 1024 * 1024;
	char *reply = malloc(big + 16);
	assert_non_null(reply);
	strcpy(reply, "+OK\r\n");
	memset(reply + 5, 'a', big);
	strcpy(reply + 5 + big, "\r\n.\r\n");
	retr_broken(*state, reply, 0, NET_ERR_PROTOCOL);
	free(reply);
}

/* ---- QUIT and odd answers ---- */

static void test_quit_err(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"DELE 1", "+OK\r\n"},
		{"QUIT", "-ERR [SYS/PERM] some deleted messages not removed\r\n"},
		END,
	};
	struct pop3c *p = session_login(c, steps);
	assert_int_equal(dele(c, p, 1), 0);
	assert_failed(c, pop3c_quit(&p, &c->e, &c->err, &c->why), NET_OK,
	              "SYS/PERM", "some deleted messages not removed");
	assert_null(p);
	fake_finish(&c->f);
}

static void test_quit_closed(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"QUIT", CLOSE},
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_failed(c, pop3c_quit(&p, &c->e, &c->err, &c->why),
	              NET_ERR_CLOSED, NULL, NULL);
	assert_null(p);
	fake_finish(&c->f);
}

static void test_unexpected_answer(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"USER bob", "* OK [IMAP] wrong protocol\r\n"},
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_failed(c, login(c, p, "bob", "s3cret"), NET_ERR_PROTOCOL, NULL,
	              "* OK [IMAP] wrong protocol");
	/* Out of step: nothing more goes to the server. */
	assert_failed(c, dele(c, p, 1), NET_ERR_PROTOCOL, NULL, NULL);
	end_abort(c, &p);
	assert_string_equal(c->f.got, "CAPA\nUSER bob\n");
}

/* "+OKAY" is not "+OK"; lower case "+ok" is tolerated. */
static void test_status_words(void **state)
{
	struct ctx *c = *state;
	static const struct step steps[] = {
		{"CAPA", CAPA_USER},
		{"DELE 1", "+ok\r\n"},
		{"DELE 2", "+OKAY\r\n"},
		END,
	};
	struct pop3c *p = session(c, steps);
	assert_int_equal(dele(c, p, 1), 0);
	assert_failed(c, dele(c, p, 2), NET_ERR_PROTOCOL, NULL, NULL);
	end_abort(c, &p);
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
