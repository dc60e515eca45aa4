/* Unit tests for src/lib/net: the line reader over a socketpair (CRLF,
 * bare LF, limits, NUL, EOF), timeouts, a write to a vanished peer (no
 * SIGPIPE), connect failures (refused, DNS), and TLS against a small
 * OpenSSL server thread with a self-signed certificate made at test time:
 * untrusted, trusted by ca_file, wrong name, insecure, STARTTLS dropping
 * plaintext read ahead. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../../src/lib/net.h"
#include "testlib.h"

/* ---- the transcript collector ---- */

struct transcript {
	struct buf text;  /* "C: line\n" / "S: line\n" */
};

static void collect(void *arg, char dir, const char *line, size_t len)
{
	struct transcript *t = arg;
	buf_printf(&t->text, "%c: %.*s\n", dir, (int)len, line);
}

/* A plain connection over a socketpair; *peer gets the other end. */
static struct net_conn *pair(int *peer, int timeout, struct transcript *t)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct net_options opt = {.timeout = timeout};
	if (t) {
		opt.trace = collect;
		opt.trace_arg = t;
	}
	struct net_conn *c = net_from_fd(sv[0], "peer.test", &opt);
	assert_non_null(c);
	*peer = sv[1];
	return c;
}

static void put(int fd, const char *s, size_t n)
{
	assert_int_equal(write(fd, s, n), (ssize_t)n);
}

/* ---- line reading ---- */

static void test_lines_crlf_and_bare_lf(void **state)
{
	(void)state;
	int peer;
	struct transcript t = {BUF_INIT};
	struct net_conn *c = pair(&peer, 5, &t);
	const char in[] = "one\r\ntwo\nthree\r\r\n\r\nlast\r\n";
	put(peer, in, sizeof in - 1);
	close(peer);
	struct buf line = BUF_INIT, why = BUF_INIT;
	const char *want[] = {"one", "two", "three\r", "", "last"};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(net_read_line(c, &line, 100, i == 3, &why), NET_OK);
		assert_int_equal(line.len, strlen(want[i]));
		assert_memory_equal(line.data, want[i], line.len);
	}
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_ERR_CLOSED);
	assert_non_null(strstr(buf_cstr(&why), "peer.test closed the connection"));
	/* the quiet line is not in the transcript */
	assert_string_equal(buf_cstr(&t.text),
	                    "S: one\nS: two\nS: three\r\nS: last\n");
	buf_free(&line);
	buf_free(&why);
	buf_free(&t.text);
	net_close(&c);
	assert_null(c);
}

static void test_line_limits(void **state)
{
	(void)state;
	int peer;
	struct net_conn *c = pair(&peer, 5, NULL);
	/* exactly max with CRLF and with LF, then one over */
	put(peer, "abcde\r\nfghij\nklmnop\r\n", 21);
	struct buf line = BUF_INIT, why = BUF_INIT;
	assert_int_equal(net_read_line(c, &line, 5, 0, &why), NET_OK);
	assert_string_equal(buf_cstr(&line), "abcde");
	assert_int_equal(net_read_line(c, &line, 5, 0, &why), NET_OK);
	assert_string_equal(buf_cstr(&line), "fghij");
	assert_int_equal(net_read_line(c, &line, 5, 0, &why), NET_ERR_PROTOCOL);
	assert_non_null(strstr(buf_cstr(&why), "longer than 5 bytes"));
	close(peer);
	net_close(&c);

	/* an endless line stops at the limit without waiting for its end */
	c = pair(&peer, 5, NULL);
	static char big[100000];
	memset(big, 'x', sizeof big);
	put(peer, big, 60000);
	buf_reset(&why);
	assert_int_equal(net_read_line(c, &line, 50000, 0, &why), NET_ERR_PROTOCOL);
	close(peer);
	net_close(&c);

	/* long lines across many buffer refills are fine under the limit */
	c = pair(&peer, 5, NULL);
	big[40000] = '\n';
	big[80000] = '\n';
	put(peer, big, 80001);
	close(peer);
	assert_int_equal(net_read_line(c, &line, 40000, 0, &why), NET_OK);
	assert_int_equal(line.len, 40000);
	assert_int_equal(net_read_line(c, &line, 40000, 0, &why), NET_OK);
	assert_int_equal(line.len, 39999);
	assert_int_equal(net_read_line(c, &line, 40000, 0, &why), NET_ERR_CLOSED);
	net_close(&c);

	/* no limit at all: SIZE_MAX must not wrap around */
	c = pair(&peer, 5, NULL);
	put(peer, "free\r\n", 6);
	assert_int_equal(net_read_line(c, &line, SIZE_MAX, 0, &why), NET_OK);
	assert_string_equal(buf_cstr(&line), "free");
	close(peer);
	net_close(&c);
	buf_free(&line);
	buf_free(&why);
}

static void test_line_nul_and_eof_mid_line(void **state)
{
	(void)state;
	int peer;
	struct net_conn *c = pair(&peer, 5, NULL);
	put(peer, "ok\r\nbad\0line\r\n", 15);
	struct buf line = BUF_INIT, why = BUF_INIT;
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_OK);
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_ERR_PROTOCOL);
	assert_non_null(strstr(buf_cstr(&why), "NUL"));
	close(peer);
	net_close(&c);

	c = pair(&peer, 5, NULL);
	put(peer, "partial", 7);
	close(peer);
	buf_reset(&why);
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_ERR_CLOSED);
	net_close(&c);
	buf_free(&line);
	buf_free(&why);
}

static void test_read_timeout(void **state)
{
	(void)state;
	int peer;
	struct net_conn *c = pair(&peer, 1, NULL);
	put(peer, "half a li", 9);
	struct buf line = BUF_INIT, why = BUF_INIT;
	time_t t0 = time(NULL);
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_ERR_TIMEOUT);
	assert_true(time(NULL) - t0 <= 3);
	assert_non_null(strstr(buf_cstr(&why), "within 1 seconds"));
	close(peer);
	net_close(&c);
	buf_free(&line);
	buf_free(&why);
}

static void test_send_and_secret_trace(void **state)
{
	(void)state;
	int peer;
	struct transcript t = {BUF_INIT};
	struct net_conn *c = pair(&peer, 5, &t);
	struct buf why = BUF_INIT;
	assert_int_equal(net_send_line(c, "EHLO me", 0, NULL, &why), NET_OK);
	assert_int_equal(net_send_line(c, "AUTH PLAIN c2VjcmV0", 1,
	                               "AUTH PLAIN <redacted>", &why), NET_OK);
	assert_int_equal(net_send_line(c, "cGFzcw==", 1, NULL, &why), NET_OK);
	assert_int_equal(net_send_line(c, "A\r\nB", 0, NULL, &why), NET_ERR_PROTOCOL);
	assert_int_equal(net_send(c, "raw", 3, &why), NET_OK);
	net_trace(c, 'C', "<message, %d bytes>", 3);
	const char *want = "EHLO me\r\nAUTH PLAIN c2VjcmV0\r\ncGFzcw==\r\nraw";
	char got[128] = {0};
	ssize_t n = 0, r;
	while (n < (ssize_t)strlen(want)
	       && (r = read(peer, got + n, sizeof got - 1 - (size_t)n)) > 0)
		n += r;
	assert_string_equal(got, want);
	assert_string_equal(buf_cstr(&t.text),
	                    "C: EHLO me\nC: AUTH PLAIN <redacted>\nC: <redacted>\n"
	                    "C: <message, 3 bytes>\n");
	assert_null(strstr(t.text.data, "c2Vj"));
	close(peer);
	net_close(&c);
	buf_free(&why);
	buf_free(&t.text);
}

/* The process keeps SIGPIPE's default action: a write to a closed peer
 * must come back as an error, not kill the test. */
static void test_write_to_closed_peer(void **state)
{
	(void)state;
	struct sigaction sa;
	sigaction(SIGPIPE, NULL, &sa);
	assert_true(sa.sa_handler == SIG_DFL);
	int peer;
	struct net_conn *c = pair(&peer, 2, NULL);
	close(peer);
	static char data[300000];
	struct buf why = BUF_INIT;
	assert_int_equal(net_send(c, data, sizeof data, &why), NET_ERR_CLOSED);
	net_close(&c);
	buf_free(&why);
}

static void test_write_timeout(void **state)
{
	(void)state;
	int peer;
	struct net_conn *c = pair(&peer, 1, NULL);
	static char data[8 << 20];  /* more than the socket buffers hold */
	struct buf why = BUF_INIT;
	assert_int_equal(net_send(c, data, sizeof data, &why), NET_ERR_TIMEOUT);
	close(peer);
	net_close(&c);
	buf_free(&why);
}

/* ---- connecting ---- */

/* A loopback listening socket on a free port. */
static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 8), 0);
	socklen_t len = sizeof a;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_connect_refused(void **state)
{
	(void)state;
	int port, fd = listen_any(&port);
	close(fd);
	enum net_err err;
	struct buf why = BUF_INIT;
	struct net_conn *c = net_connect("127.0.0.1", port, NET_TLS_NONE, NULL,
	                                 &err, &why);
	assert_null(c);
	assert_int_equal(err, NET_ERR_REFUSED);
	assert_non_null(strstr(buf_cstr(&why), "cannot connect to 127.0.0.1 port"));
	assert_non_null(strstr(why.data, "connection refused"));
	assert_string_equal(net_err_name(err), "connection refused");
	buf_reset(&why);
	assert_null(net_connect("127.0.0.1", 0, NET_TLS_NONE, NULL, &err, &why));
	assert_int_equal(err, NET_ERR_UNREACHABLE);
	assert_string_equal(buf_cstr(&why), "cannot connect to 127.0.0.1: 0 is not a port number");
	buf_free(&why);
}

static void test_connect_plain_ok(void **state)
{
	(void)state;
	int port, lfd = listen_any(&port);
	enum net_err err;
	struct buf why = BUF_INIT;
	struct net_options opt = {.timeout = 2};
	struct net_conn *c = net_connect("127.0.0.1", port, NET_TLS_NONE, &opt,
	                                 &err, &why);
	assert_non_null(c);
	assert_int_equal(err, NET_OK);
	assert_false(net_is_tls(c));
	assert_string_equal(net_tls_desc(c), "");
	int afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	put(afd, "220 hi\r\n", 8);
	struct buf line = BUF_INIT;
	assert_int_equal(net_read_line(c, &line, 512, 0, &why), NET_OK);
	assert_string_equal(buf_cstr(&line), "220 hi");
	close(afd);
	close(lfd);
	net_close(&c);
	net_close(&c);  /* safe twice */
	buf_free(&line);
	buf_free(&why);
}

static void test_dns_failure(void **state)
{
	(void)state;
	enum net_err err;
	struct buf why = BUF_INIT;
	struct net_options opt = {.timeout = 2};
	struct net_conn *c = net_connect("no-such-host.invalid", 25, NET_TLS_NONE,
	                                 &opt, &err, &why);
	assert_null(c);
	assert_int_equal(err, NET_ERR_DNS);
	assert_non_null(strstr(buf_cstr(&why), "no-such-host.invalid does not resolve"));
	buf_free(&why);
}

/* ---- TLS ---- */

struct tls_server {
	int lfd, port;
	int plain_first;        /* send plaintext lines before the handshake */
	int after;              /* after the handshake: 0 hello and echo,
	                         * 1 close at once, 2 silence for 3 s */
	int handshake_ok;
	char got[256];          /* the line the client sent over TLS */
	pthread_t thread;
};

static void *tls_server_run(void *arg)
{
	struct tls_server *ts = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int fd = accept(ts->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (ts->plain_first) {
		const char *pl = "220 ready\r\nINJECTED\r\n";
		if (write(fd, pl, strlen(pl)) < 0)
			goto out;
	}
	SSL_CTX *ctx = testlib_tls_server_ctx();
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		ts->handshake_ok = 1;
		if (ts->after == 2)
			sleep(3);
		if (ts->after == 0) {
			SSL_write(ssl, "hello\r\n", 7);
			int n = SSL_read(ssl, ts->got, sizeof ts->got - 1);
			if (n > 0)
				ts->got[n] = '\0';
			SSL_shutdown(ssl);
		}
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
out:
	close(fd);
	return NULL;
}

static void tls_server_start(struct tls_server *ts, int plain_first, int after)
{
	memset(ts, 0, sizeof *ts);
	ts->plain_first = plain_first;
	ts->after = after;
	ts->lfd = listen_any(&ts->port);
	assert_int_equal(pthread_create(&ts->thread, NULL, tls_server_run, ts), 0);
}

static void tls_server_join(struct tls_server *ts)
{
	pthread_join(ts->thread, NULL);
	close(ts->lfd);
}

/* Connects with implicit TLS and, when it works, says hello. */
static enum net_err tls_try(const char *host, const struct net_options *opt,
                            struct tls_server *ts, struct buf *why)
{
	enum net_err err;
	tls_server_start(ts, 0, 0);
	struct net_conn *c = net_connect(host, ts->port, NET_TLS_IMPLICIT, opt,
	                                 &err, why);
	if (c) {
		struct buf line = BUF_INIT;
		assert_true(net_is_tls(c));
		assert_memory_equal(net_tls_desc(c), "TLSv1.", 6);
		assert_int_equal(net_read_line(c, &line, 100, 0, why), NET_OK);
		assert_string_equal(buf_cstr(&line), "hello");
		assert_int_equal(net_send_line(c, "over tls", 0, NULL, why), NET_OK);
		/* wait for the server to read it before closing */
		assert_int_equal(net_read_line(c, &line, 100, 0, why), NET_ERR_CLOSED);
		buf_free(&line);
		net_close(&c);
	}
	tls_server_join(ts);
	return err;
}

static void test_tls_untrusted(void **state)
{
	(void)state;
	struct tls_server ts;
	struct buf why = BUF_INIT;
	struct net_options opt = {.timeout = 5};
	assert_int_equal(tls_try("127.0.0.1", &opt, &ts, &why), NET_ERR_TLS_VERIFY);
	assert_non_null(strstr(buf_cstr(&why), "the certificate of 127.0.0.1 is not trusted: self"));
	assert_false(ts.handshake_ok);
	buf_free(&why);
}

static void test_tls_trusted_ca_file(void **state)
{
	(void)state;
	struct tls_server ts;
	struct buf why = BUF_INIT;
	struct net_options opt = {.timeout = 5, .ca_file = testlib_cert};
	assert_int_equal(tls_try("127.0.0.1", &opt, &ts, &why), NET_OK);
	assert_true(ts.handshake_ok);
	assert_string_equal(ts.got, "over tls\r\n");
	/* by name too: localhost may be ::1 first, refused, then 127.0.0.1 */
	assert_int_equal(tls_try("localhost", &opt, &ts, &why), NET_OK);
	assert_string_equal(ts.got, "over tls\r\n");
	buf_free(&why);
}

static void test_tls_missing_ca_file(void **state)
{
	(void)state;
	struct tls_server ts;
	struct buf why = BUF_INIT;
	char missing[160];
	snprintf(missing, sizeof missing, "%s/none.pem", testlib_tmpdir);
	struct net_options opt = {.timeout = 5, .ca_file = missing};
	assert_int_equal(tls_try("127.0.0.1", &opt, &ts, &why), NET_ERR_TLS_VERIFY);
	assert_non_null(strstr(buf_cstr(&why), "none.pem"));
	buf_free(&why);
}

static void test_tls_wrong_name(void **state)
{
	(void)state;
	struct tls_server ts;
	tls_server_start(&ts, 0, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(ts.port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	struct net_options opt = {.timeout = 5, .ca_file = testlib_cert};
	struct net_conn *c = net_from_fd(fd, "mail.example.org", &opt);
	struct buf why = BUF_INIT;
	assert_int_equal(net_starttls(c, &why), NET_ERR_TLS_VERIFY);
	assert_non_null(strstr(buf_cstr(&why),
	                       "certificate of mail.example.org is not valid for that name"));
	net_close(&c);
	tls_server_join(&ts);
	assert_false(ts.handshake_ok);
	buf_free(&why);
}

static void test_tls_insecure(void **state)
{
	(void)state;
	struct tls_server ts;
	struct buf why = BUF_INIT;
	struct net_options opt = {.timeout = 5, .insecure = 1};
	assert_int_equal(tls_try("127.0.0.1", &opt, &ts, &why), NET_OK);
	assert_string_equal(ts.got, "over tls\r\n");
	buf_free(&why);
}

static void test_starttls_drops_plaintext(void **state)
{
	(void)state;
	struct tls_server ts;
	tls_server_start(&ts, 1, 0);
	struct transcript t = {BUF_INIT};
	struct net_options opt = {.timeout = 5, .ca_file = testlib_cert,
	                          .trace = collect, .trace_arg = &t};
	enum net_err err;
	struct buf why = BUF_INIT, line = BUF_INIT;
	struct net_conn *c = net_connect("127.0.0.1", ts.port, NET_TLS_NONE, &opt,
	                                 &err, &why);
	assert_non_null(c);
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_OK);
	assert_string_equal(buf_cstr(&line), "220 ready");
	/* "INJECTED" came in the same segment; let it arrive for sure */
	usleep(100000);
	assert_int_equal(net_starttls(c, &why), NET_OK);
	assert_int_equal(net_starttls(c, &why), NET_ERR_PROTOCOL);
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_OK);
	assert_string_equal(buf_cstr(&line), "hello");
	assert_int_equal(net_send_line(c, "bye", 0, NULL, &why), NET_OK);
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_ERR_CLOSED);
	net_close(&c);
	tls_server_join(&ts);
	assert_string_equal(ts.got, "bye\r\n");
	assert_null(strstr(buf_cstr(&t.text), "INJECTED"));
	buf_free(&why);
	buf_free(&line);
	buf_free(&t.text);
}

/* Over TLS too: a peer that went away is an error, not SIGPIPE; a silent
 * one times out. */
static void test_tls_closed_and_silent_peer(void **state)
{
	(void)state;
	struct tls_server ts;
	struct net_options opt = {.timeout = 1, .ca_file = testlib_cert};
	enum net_err err;
	struct buf why = BUF_INIT, line = BUF_INIT;
	tls_server_start(&ts, 0, 1);
	struct net_conn *c = net_connect("127.0.0.1", ts.port, NET_TLS_IMPLICIT,
	                                 &opt, &err, &why);
	assert_non_null(c);
	tls_server_join(&ts);
	static char data[1 << 20];
	enum net_err e = net_send(c, data, sizeof data, &why);
	assert_int_equal(e, NET_ERR_CLOSED);
	net_close(&c);

	tls_server_start(&ts, 0, 2);
	c = net_connect("127.0.0.1", ts.port, NET_TLS_IMPLICIT, &opt, &err, &why);
	assert_non_null(c);
	buf_reset(&why);
	assert_int_equal(net_read_line(c, &line, 100, 0, &why), NET_ERR_TIMEOUT);
	assert_non_null(strstr(buf_cstr(&why), "did not answer within 1 seconds"));
	net_close(&c);
	tls_server_join(&ts);
	buf_free(&why);
	buf_free(&line);
}

/* A server that accepts but never says a word: the handshake times out. */
static void test_tls_handshake_timeout(void **state)
{
	(void)state;
	int port, lfd = listen_any(&port);
	struct net_options opt = {.timeout = 1, .insecure = 1};
	enum net_err err;
	struct buf why = BUF_INIT;
	time_t t0 = time(NULL);
	struct net_conn *c = net_connect("127.0.0.1", port, NET_TLS_IMPLICIT, &opt,
	                                 &err, &why);
	assert_null(c);
	assert_int_equal(err, NET_ERR_TIMEOUT);
	assert_true(time(NULL) - t0 <= 3);
	close(lfd);
	buf_free(&why);
}

/* A plain-text server where TLS is expected: a TLS error, not a hang. */
static void test_tls_against_plaintext(void **state)
{
	(void)state;
	int port, lfd = listen_any(&port);
	struct net_options opt = {.timeout = 2, .insecure = 1};
	enum net_err err;
	struct buf why = BUF_INIT;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = accept(lfd, NULL, NULL);
		const char *g = "220 plain text server here\r\n";
		if (write(fd, g, strlen(g)) < 0)
			_exit(1);
		sleep(1);
		_exit(0);
	}
	struct net_conn *c = net_connect("127.0.0.1", port, NET_TLS_IMPLICIT, &opt,
	                                 &err, &why);
	assert_null(c);
	assert_int_equal(err, NET_ERR_TLS);
	close(lfd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	buf_free(&why);
}

static int group_setup(void **state)
{
	(void)state;
	return testlib_cert_setup();
}

static int group_teardown(void **state)
{
	(void)state;
	return testlib_cert_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_crlf_and_bare_lf),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_line_nul_and_eof_mid_line),
		cmocka_unit_test(test_read_timeout),
		cmocka_unit_test(test_send_and_secret_trace),
		cmocka_unit_test(test_write_to_closed_peer),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_plain_ok),
		cmocka_unit_test(test_dns_failure),
		cmocka_unit_test(test_tls_untrusted),
		cmocka_unit_test(test_tls_trusted_ca_file),
		cmocka_unit_test(test_tls_missing_ca_file),
		cmocka_unit_test(test_tls_wrong_name),
		cmocka_unit_test(test_tls_insecure),
		cmocka_unit_test(test_starttls_drops_plaintext),
		cmocka_unit_test(test_tls_closed_and_silent_peer),
		cmocka_unit_test(test_tls_handshake_timeout),
		cmocka_unit_test(test_tls_against_plaintext),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
