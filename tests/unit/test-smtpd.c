/* Unit tests for src/smtp/smtpd*.c: whole SMTP sessions driven through a
 * fake owner (replies into a buffer, jobs inline or deferred, STARTTLS
 * recorded) against a temporary data directory with real users, aliases,
 * spool, Maildirs and queue. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/auth/aliases.h"
#include "../../src/auth/users.h"
#include "../../src/lib/config.h"
#include "../../src/lib/fs.h"
#include "../../src/lib/log.h"
#include "../../src/smtp/smtpd.h"
#include "../../src/smtp/smtpd_addr.h"
#define TESTLIB_SESSION
#include "testlib.h"

/* ---- the fixture: one data directory for the whole run ---- */

static char data_dir[PATH_MAX];
static char *domains[] = {"example.org", "example.net"};
static struct cfg_network relay_net;   /* 10.0.0.0/8 */
static struct users users_db;
static struct aliases aliases_db;

struct env {
	struct posthorn_config cfg;
	struct cfg_listener listener;
	struct smtpd_session *s;
	struct testlib_owner fake;
	struct session_io io;
};

static void config_defaults(struct posthorn_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->hostname = "mx.example.org";
	cfg->domains = domains;
	cfg->ndomains = 2;
	cfg->data_dir = data_dir;
	cfg->relay_networks = &relay_net;
	cfg->nrelay = 1;
	cfg->plaintext_auth_loopback = 1;
	cfg->limits = testlib_session_limits();
}

static int group_setup(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	log_open("test-smtpd", 1, LOG_LVL_ERROR);
	snprintf(data_dir, sizeof data_dir, "/tmp/test-smtpd-XXXXXX");
	if (!mkdtemp(data_dir))
		return -1;
	relay_net.family = AF_INET;
	relay_net.addr[0] = 10;
	relay_net.prefix = 8;
	if (users_add(data_dir, "alice", "alice-pw", &err) < 0 ||
	    users_add(data_dir, "bob", "bob-pw", &err) < 0 ||
	    users_add(data_dir, "carol", "carol-pw", &err) < 0) {
		fprintf(stderr, "users_add: %s\n", buf_cstr(&err));
		return -1;
	}
	const char *aliases =
		"postmaster: alice\n"
		"team: alice, bob\n"
		"all: team, alice, carol\n"
		"ext: friend@remote.test, bob\n"
		"loop1: loop2\n"
		"loop2: loop1\n";
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/aliases", data_dir);
	if (fs_write_atomic(path, aliases, strlen(aliases), 0600) < 0)
		return -1;
	if (users_load(data_dir, &users_db, &err) < 0 ||
	    aliases_load(data_dir, &aliases_db, &err) < 0) {
		fprintf(stderr, "load: %s\n", buf_cstr(&err));
		return -1;
	}
	buf_free(&err);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	users_free(&users_db);
	aliases_free(&aliases_db);
	testlib_run_cmd("rm -rf '%s'", data_dir);
	return 0;
}

/* The reverse name the next env_new_with gives its session ("" none). */
static const char *next_peer_name = "";

/* A new session; peer is a numeric IPv4 address. Nothing is sent yet. */
static struct env *env_new_with(const char *peer, enum cfg_proto proto,
                                enum cfg_tls tls, int vrfy)
{
	struct env *e = calloc(1, sizeof *e);
	assert_non_null(e);
	config_defaults(&e->cfg);
	e->listener = (struct cfg_listener){
		.name = "test", .address = "0.0.0.0", .port = 25, .proto = proto,
		.tls = tls, .vrfy = vrfy,
		.require_auth = proto == CFG_PROTO_SUBMISSION || proto == CFG_PROTO_SMTPS,
	};
	e->io = testlib_owner_io(&e->fake);
	e->io.pending = NULL;
	struct smtpd_params p = {
		.cfg = &e->cfg, .listener = &e->listener, .users = &users_db,
		.aliases = &aliases_db, .tls_active = tls == CFG_TLS_IMPLICIT,
		.tls_info = tls == CFG_TLS_IMPLICIT ? "TLSv1.3 TLS_AES_256_GCM_SHA384" : NULL,
		.session_id = "T1",
	};
	struct sockaddr_in *sin = (struct sockaddr_in *)&p.peer.addr;
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, peer, &sin->sin_addr), 1);
	p.peer.addrlen = sizeof *sin;
	snprintf(p.peer.ip, sizeof p.peer.ip, "%s", peer);
	snprintf(p.peer.name, sizeof p.peer.name, "%s", next_peer_name);
	next_peer_name = "";
	e->s = smtpd_new(&p, &e->io);
	assert_non_null(e->s);
	testlib_run_cmd("rm -rf '%s/mail'", data_dir);
	testlib_run_cmd("rm -rf '%s/queue'", data_dir);
	return e;
}

static struct env *env_new(const char *peer)
{
	return env_new_with(peer, CFG_PROTO_SMTP, CFG_TLS_NONE, 0);
}

static void env_free(struct env *e)
{
	smtpd_free(&e->s);
	assert_null(e->s);
	testlib_owner_free(&e->fake);
	free(e);
}

/* Feeds input; returns the output it produced (NUL-terminated; lives
 * until the next call). */
static const char *talk(struct env *e, const char *input)
{
	smtpd_input(e->s, input, strlen(input));
	return testlib_owner_fresh(&e->fake);
}

static const char *start(struct env *e)
{
	smtpd_start(e->s);
	return talk(e, "");
}

/* Number of files in DATA_DIR/sub. */
static int count_files(const char *sub)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", data_dir, sub);
	return testlib_count_files(path);
}

/* The contents of the one file in DATA_DIR/sub, malloc'd. */
static char *read_only_file(const char *sub)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", data_dir, sub);
	assert_int_equal(count_files(sub), 1);
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) && de->d_name[0] == '.')
		;
	assert_non_null(de);
	char file[PATH_MAX * 2];
	snprintf(file, sizeof file, "%s/%s", path, de->d_name);
	closedir(d);
	struct buf b = BUF_INIT;
	assert_int_equal(fs_read_file(file, 1 << 20, &b), 0);
	return buf_steal(&b, NULL);
}

/* msg with header folds ("\r\n\t") replaced by a space, in place. */
static char *unfold(char *msg)
{
	char *w = msg;
	for (const char *r = msg; *r;) {
		if (r[0] == '\r' && r[1] == '\n' && r[2] == '\t') {
			*w++ = ' ';
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return msg;
}

/* The body the client sent, after the trace (and added) headers. */
static const char *after_trace(const char *msg)
{
	const char *p = strstr(msg, "\r\nReceived:");
	assert_non_null(p);
	/* the Received field ends at the first CRLF not followed by a tab */
	for (p += 2; (p = strstr(p, "\r\n")) && p[2] == '\t'; p += 2)
		;
	assert_non_null(p);
	return p + 2;
}

#define HELLO "EHLO client.test\r\n"
#define TX "MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.org>\r\n"

/* ---- tests ---- */

static void test_seed_dialogue(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	assert_string_equal(start(e), "220 mx.example.org ESMTP posthorn\r\n");
	assert_string_equal(talk(e, "HELO YE\r\n"),
	                    "250 mx.example.org Hello YE, nice to meet you\r\n");
	assert_prefix(talk(e, "MAIL FROM:<ye@remote.test>\r\n"), "250 2.1.0 ");
	assert_prefix(talk(e, "RCPT TO:<alice@example.org>\r\n"), "250 2.1.5 ");
	assert_prefix(talk(e, "DATA\r\n"), "354 ");
	assert_string_equal(talk(e, "Subject: hi\r\n\r\nHello\r\n"), "");
	assert_string_equal(talk(e, ".\r\n"), "250 2.0.0 Ok: queued as T1.1\r\n");
	assert_prefix(talk(e, "QUIT\r\n"), "221 2.0.0 ");
	assert_true(e->fake.closed);
	assert_int_equal(smtpd_input(e->s, "NOOP\r\n", 6), -1);
	char *msg = read_only_file("mail/alice/new");
	for (const char *l = msg, *eol; (eol = strstr(l, "\r\n")); l = eol + 2)
		assert_true(eol - l <= 78);  /* folded, CRLF line ends */
	assert_null(strstr(msg, "\n\n"));
	assert_prefix(unfold(msg), "Return-Path: <ye@remote.test>\r\nReceived: from YE "
	                   "(unknown [192.0.2.1]) by mx.example.org with SMTP id "
	                   "T1.1 for <alice@example.org>;");
	assert_string_equal(after_trace(msg), "Subject: hi\r\n\r\nHello\r\n");
	free(msg);
	assert_int_equal(count_files("spool"), 0);
	env_free(e);
}

static void test_ehlo_capabilities(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	const char *r = talk(e, HELLO);
	assert_prefix(r, "250-mx.example.org greets client.test\r\n");
	assert_contains(r, "250-SIZE 10000\r\n");
	assert_contains(r, "250-8BITMIME\r\n250-BINARYMIME\r\n250-PIPELINING\r\n"
	                   "250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n");
	assert_lacks(r, "STARTTLS");
	assert_lacks(r, "AUTH");  /* not loopback, no TLS */
	assert_lacks(r, "DSN");
	assert_contains(r, "250 HELP\r\n");
	assert_prefix(talk(e, "EHLO\r\n"), "501 5.5.4 ");
	assert_prefix(talk(e, "EHLO bad..name\r\n"), "501 5.5.2 ");
	assert_prefix(talk(e, "HELO [192.0.2.1]\r\n"), "250 ");
	assert_prefix(talk(e, "EHLO WIN_PC\r\n"), "250-");
	env_free(e);

	e = env_new_with("127.0.0.1", CFG_PROTO_SMTP, CFG_TLS_STARTTLS, 0);
	start(e);
	r = talk(e, HELLO);
	assert_contains(r, "250-STARTTLS\r\n");
	assert_contains(r, "250-AUTH PLAIN LOGIN\r\n");  /* loopback plaintext */
	env_free(e);
}

/* Every command in every state: out of place gives 503 and the state stays. */
static void test_state_table(void **state)
{
	(void)state;
	struct env *e = env_new("10.0.0.1");
	e->cfg.limits.errors = 100;
	start(e);
	/* greeted */
	assert_prefix(talk(e, "MAIL FROM:<a@b.test>\r\n"), "503 5.5.1 Error: send HELO/EHLO first");
	assert_prefix(talk(e, "RCPT TO:<alice@example.org>\r\n"), "503 5.5.1 ");
	assert_prefix(talk(e, "DATA\r\n"), "503 5.5.1 ");
	assert_prefix(talk(e, "BDAT 6\r\nQUIT\r\n"), "503 5.5.1 ");  /* skipped */
	assert_prefix(talk(e, "AUTH PLAIN\r\n"), "503 5.5.1 ");
	assert_prefix(talk(e, "NOOP\r\n"), "250 2.0.0 ");
	assert_prefix(talk(e, "RSET\r\n"), "250 2.0.0 ");
	assert_prefix(talk(e, HELLO), "250-");
	/* ready */
	assert_prefix(talk(e, "RCPT TO:<alice@example.org>\r\n"), "503 5.5.1 Error: need MAIL command");
	assert_prefix(talk(e, "DATA\r\n"), "503 5.5.1 ");
	assert_prefix(talk(e, "MAIL FROM:<a@b.test>\r\n"), "250 ");
	/* mail */
	assert_prefix(talk(e, "MAIL FROM:<a@b.test>\r\n"), "503 5.5.1 Error: nested MAIL command");
	assert_prefix(talk(e, "DATA\r\n"), "503 5.5.1 Error: need RCPT command");
	assert_prefix(talk(e, "STARTTLS\r\n"), "503 5.5.1 ");
	assert_prefix(talk(e, "RCPT TO:<nobody@example.org>\r\n"), "550 5.1.1 ");
	assert_prefix(talk(e, "DATA\r\n"), "503 5.5.1 ");  /* still no valid RCPT */
	assert_prefix(talk(e, "RCPT TO:<alice@example.org>\r\n"), "250 ");
	/* rcpt */
	assert_prefix(talk(e, "MAIL FROM:<a@b.test>\r\n"), "503 5.5.1 ");
	assert_prefix(talk(e, "AUTH PLAIN\r\n"), "503 5.5.1 ");
	assert_prefix(talk(e, "RCPT TO:<bob@example.org>\r\n"), "250 ");
	assert_prefix(talk(e, "DATA\r\n"), "354 ");
	assert_prefix(talk(e, "MAIL FROM:<x@y.test>\r\n.\r\n"), "250 2.0.0 Ok: queued");
	/* RSET and EHLO end a transaction */
	assert_prefix(talk(e, "MAIL FROM:<a@b.test>\r\nRSET\r\nRCPT TO:<alice@example.org>\r\n"),
	              "250 2.1.0 Sender <a@b.test> ok\r\n250 2.0.0 Ok\r\n503 ");
	talk(e, "MAIL FROM:<a@b.test>\r\n");
	talk(e, HELLO);
	assert_prefix(talk(e, "RCPT TO:<alice@example.org>\r\n"), "503 ");
	env_free(e);
}

static const char *pipelined_session =
	"EHLO client.test\r\n"
	"MAIL FROM:<a@remote.test> SIZE=100\r\n"
	"RCPT TO:<alice@example.org>\r\n"
	"RCPT TO:<nobody@example.org>\r\n"
	"RCPT TO:<Bob+tag@Example.ORG>\r\n"
	"DATA\r\n"
	"Subject: pipelined\r\n\r\nline\r\n..dot\r\n.\r\n"
	"MAIL FROM:<>\r\n"
	"RCPT TO:<postmaster>\r\n"
	"BDAT 8\r\nabc\r\nd\r\n"
	"BDAT 0 LAST\r\n"
	"NOOP\r\n"
	"HELP\r\n"
	"QUIT\r\n";

static void test_pipelining_whole_and_bytewise(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	char *whole = strdup(talk(e, pipelined_session));
	assert_true(e->fake.closed);
	env_free(e);

	e = env_new("192.0.2.1");
	start(e);
	struct buf bytes = BUF_INIT;
	for (const char *p = pipelined_session; *p; p++)
		buf_puts(&bytes, talk(e, (char[]){*p, '\0'}));
	assert_string_equal(buf_cstr(&bytes), whole);
	buf_free(&bytes);
	env_free(e);

	/* every command got its reply, in order (continuation lines aside) */
	const char *want[] = {"250 HELP", "250 2.1.0", "250 2.1.5", "550 5.1.1",
	                      "250 2.1.5", "354", "250 2.0.0 Ok: queued as T1.1",
	                      "250 2.1.0", "250 2.1.5", "250 2.0.0 8 octets",
	                      "250 2.0.0 Ok: queued as T1.2", "250 2.0.0 Ok",
	                      "214 2.0.0", "221 2.0.0"};
	const char *p = whole;
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		while (p[3] == '-')
			p = strstr(p, "\r\n") + 2;
		assert_prefix(p, want[i]);
		p = strstr(p, "\r\n") + 2;
	}
	assert_string_equal(p, "");
	free(whole);
}

static void test_dot_unstuffing_and_end(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO TX "DATA\r\n");
	assert_string_equal(talk(e, "Subject: dots\r\n\r\n..leading\r\n...\r\n."), "");
	assert_string_equal(talk(e, "x\r\n..\r\n"), "");
	assert_prefix(talk(e, ".\r\n"), "250 2.0.0 ");
	char *msg = read_only_file("mail/alice/new");
	assert_string_equal(after_trace(msg),
	                    "Subject: dots\r\n\r\n.leading\r\n..\r\nx\r\n.\r\n");
	free(msg);
	env_free(e);
}

/* SMTP smuggling: only <CRLF>.<CRLF> ends DATA. */
static void test_smuggling_variants(void **state)
{
	(void)state;
	const char *variants[] = {"\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r",
	                          "\r.\r\n"};
	for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
		struct env *e = env_new("192.0.2.1");
		start(e);
		talk(e, HELLO TX "DATA\r\n");
		struct buf in = BUF_INIT;
		buf_printf(&in, "Subject: s\r\n\r\nbody%sMAIL FROM:<evil@remote.test>\r\n"
		                "RCPT TO:<bob@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n",
		           variants[i]);
		const char *r = talk(e, buf_cstr(&in));
		assert_string_equal(r, "250 2.0.0 Ok: queued as T1.1\r\n");
		assert_int_equal(count_files("mail/bob/new"), 0);
		char *msg = read_only_file("mail/alice/new");
		assert_contains(msg, "MAIL FROM:<evil@remote.test>\r\n");
		assert_lacks(after_trace(msg), "\r\r");
		free(msg);
		buf_free(&in);
		env_free(e);
	}
}

static void test_bare_lf_normalise_and_reject(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO TX "DATA\r\n");
	assert_prefix(talk(e, "Subject: lf\n\nline1\nline2\rline3\r\n.\r\n"), "250 ");
	char *msg = read_only_file("mail/alice/new");
	assert_string_equal(after_trace(msg),
	                    "Subject: lf\r\n\r\nline1\r\nline2\r\nline3\r\n");
	free(msg);
	env_free(e);

	e = env_new("192.0.2.1");
	e->cfg.bare_lf_reject = 1;
	start(e);
	talk(e, HELLO TX "DATA\r\n");
	assert_prefix(talk(e, "Subject: lf\r\n\r\nline1\nline2\r\n.\r\n"),
	              "554 5.6.0 ");
	assert_int_equal(count_files("mail/alice/new"), 0);
	assert_int_equal(count_files("spool"), 0);
	/* the transaction is over, the session goes on */
	assert_prefix(talk(e, "RCPT TO:<alice@example.org>\r\n"), "503 ");
	assert_prefix(talk(e, TX "DATA\r\nok\r\n.\r\n"), "250 2.1.0");
	assert_int_equal(count_files("mail/alice/new"), 1);
	env_free(e);
}

/* bare_lf = reject covers a bare CR too, not only a bare LF. */
static void test_bare_cr_reject(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	e->cfg.bare_lf_reject = 1;
	start(e);
	talk(e, HELLO TX "DATA\r\n");
	assert_prefix(talk(e, "Subject: cr\r\n\r\nline1\rline2\r\n.\r\n"),
	              "554 5.6.0 ");
	assert_int_equal(count_files("mail/alice/new"), 0);
	env_free(e);
}

static void test_size_limits(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO);
	assert_prefix(talk(e, "MAIL FROM:<a@remote.test> SIZE=10001\r\n"), "552 5.3.4 ");
	assert_prefix(talk(e, "MAIL FROM:<a@remote.test> SIZE=10000\r\n"), "250 ");
	talk(e, "RCPT TO:<alice@example.org>\r\nDATA\r\n");
	struct buf big = BUF_INIT;
	for (int i = 0; i < 200; i++)
		buf_puts(&big, "0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
	assert_string_equal(talk(e, buf_cstr(&big)), "");
	assert_prefix(talk(e, ".\r\n"), "552 5.3.4 Error: message too big");
	assert_int_equal(count_files("mail/alice/new"), 0);
	assert_int_equal(count_files("spool"), 0);
	assert_prefix(talk(e, TX "DATA\r\nsmall\r\n.\r\n"), "250 ");
	buf_free(&big);
	env_free(e);
}

static void test_line_too_long(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO);
	char line[3000];
	memset(line, 'x', sizeof line);
	memcpy(line, "NOOP ", 5);
	memcpy(line + sizeof line - 3, "\r\n", 3);
	assert_string_equal(talk(e, line), "500 5.5.6 Error: line too long\r\n");
	assert_prefix(talk(e, "NOOP\r\n"), "250 ");
	/* exactly at the limit: 998 + CRLF */
	memset(line, 'x', 998);
	memcpy(line, "NOOP ", 5);
	memcpy(line + 998, "\r\n", 3);
	assert_prefix(talk(e, line), "250 ");
	talk(e, TX "DATA\r\n");
	memset(line, 'y', 2500);
	memcpy(line + 2500, "\r\n", 3);
	assert_string_equal(talk(e, line), "");
	assert_prefix(talk(e, "more\r\n.\r\n"), "552 5.3.4 Error: line too long");
	assert_prefix(talk(e, "NOOP\r\n"), "250 ");
	env_free(e);
}

/* RFC 1870: SIZE has up to 20 digits; one beyond size_t is too big, not
 * a syntax error. */
static void test_size_parameter_digits(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	e->cfg.limits.errors = 100;
	start(e);
	talk(e, HELLO);
	const char *too_big[] = {"99999999999999999999", "18446744073709551616",
	                         "18446744073709551615", "00000000000000010001"};
	for (size_t i = 0; i < sizeof too_big / sizeof *too_big; i++) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "MAIL FROM:<a@remote.test> SIZE=%s\r\n",
		         too_big[i]);
		assert_prefix(talk(e, cmd), "552 5.3.4 ");
	}
	const char *bad[] = {"999999999999999999999", "000000000000000000001",
	                     "12a", "-1", "+1", ""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "MAIL FROM:<a@remote.test> SIZE=%s\r\n",
		         bad[i]);
		assert_prefix(talk(e, cmd), "501 5.5.4 ");
	}
	assert_prefix(talk(e, "MAIL FROM:<a@remote.test> SIZE=00000000000000010000\r\n"),
	              "250 ");
	env_free(e);
}

/* Sends one DATA message made of text (dot-stuffed by the caller) and
 * returns the reply to the final dot. */
static const char *data_lines(struct env *e, const char *text)
{
	talk(e, TX "DATA\r\n");
	assert_string_equal(talk(e, text), "");
	return talk(e, ".\r\n");
}

/* A line of n copies of c after prefix, then CRLF, into out. */
static void long_line(struct buf *out, const char *prefix, char c, size_t n)
{
	buf_puts(out, prefix);
	for (size_t i = 0; i < n; i++)
		buf_putc(out, c);
	buf_puts(out, "\r\n");
}

/* RFC 5321 4.5.3.1.6: the 1000 octets count the CRLF, not a stuffed dot. */
static void test_data_line_limit_after_unstuffing(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO);
	struct buf in = BUF_INIT, want = BUF_INIT;
	long_line(&in, "..", 'd', 997);   /* 1001 bytes on the wire */
	long_line(&in, "", 'e', 998);     /* 1000 bytes, no dot */
	long_line(&want, ".", 'd', 997);
	long_line(&want, "", 'e', 998);
	assert_prefix(data_lines(e, buf_cstr(&in)), "250 2.0.0 ");
	char *msg = read_only_file("mail/alice/new");
	assert_string_equal(after_trace(msg), buf_cstr(&want));
	free(msg);
	/* one more byte, with and without the dot: refused after the dot */
	const char *prefix[] = {"..", ""};
	for (size_t i = 0; i < 2; i++) {
		buf_reset(&in);
		long_line(&in, prefix[i], 'f', 999 - strlen(prefix[i]) + 1);
		assert_prefix(data_lines(e, buf_cstr(&in)),
		              "552 5.3.4 Error: line too long (limit 1000 bytes)");
	}
	assert_int_equal(count_files("mail/alice/new"), 1);
	buf_free(&in);
	buf_free(&want);
	env_free(e);
}

/* The same boundary fed one byte at a time (the limit is applied before
 * the whole line is there). */
static void test_data_line_limit_bytewise(void **state)
{
	(void)state;
	const size_t lens[] = {997, 998};  /* after "..": 998 and 999 */
	for (size_t i = 0; i < 2; i++) {
		struct env *e = env_new("192.0.2.1");
		start(e);
		talk(e, HELLO TX "DATA\r\n");
		struct buf in = BUF_INIT;
		long_line(&in, "..", 'd', lens[i]);
		buf_puts(&in, ".\r\n");
		struct buf out = BUF_INIT;
		for (size_t k = 0; k < in.len; k++)
			buf_puts(&out, talk(e, (char[]){in.data[k], '\0'}));
		assert_prefix(buf_cstr(&out), i == 0 ? "250 2.0.0 " : "552 5.3.4 ");
		buf_free(&out);
		buf_free(&in);
		env_free(e);
	}
}

/* BDAT has no line limit: it carries bytes, not lines (RFC 3030). */
static void test_bdat_no_line_limit(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	struct buf body = BUF_INIT, in = BUF_INIT;
	long_line(&body, "..", 'b', 3000);
	buf_printf(&in, HELLO TX "BDAT %zu LAST\r\n%s", body.len, buf_cstr(&body));
	assert_contains(talk(e, buf_cstr(&in)), "250 2.0.0 Ok: queued as T1.1\r\n");
	char *msg = read_only_file("mail/alice/new");
	assert_string_equal(after_trace(msg), buf_cstr(&body));  /* no unstuffing */
	free(msg);
	buf_free(&body);
	buf_free(&in);
	env_free(e);
}

static void test_recipient_limit(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO "MAIL FROM:<a@remote.test>\r\n");
	for (int i = 0; i < 5; i++)
		assert_prefix(talk(e, "RCPT TO:<alice@example.org>\r\n"), "250 ");
	assert_prefix(talk(e, "RCPT TO:<bob@example.org>\r\n"), "452 4.5.3 ");
	assert_prefix(talk(e, "DATA\r\nx\r\n.\r\n"), "354");
	assert_int_equal(count_files("mail/alice/new"), 1); /* one copy */
	env_free(e);
}

static void test_relay_rules(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO "MAIL FROM:<a@remote.test>\r\n");
	assert_prefix(talk(e, "RCPT TO:<x@elsewhere.test>\r\n"), "554 5.7.1 <x@elsewhere.test>: Relay access denied");
	assert_prefix(talk(e, "RCPT TO:<x@[192.0.2.9]>\r\n"), "554 5.7.1 ");
	env_free(e);

	e = env_new("10.1.2.3");  /* relay network */
	start(e);
	talk(e, HELLO "MAIL FROM:<a@remote.test>\r\n");
	assert_prefix(talk(e, "RCPT TO:<x@elsewhere.test>\r\n"), "250 2.1.5 ");
	assert_prefix(talk(e, "RCPT TO:<alice@example.org>\r\n"), "250 2.1.5 ");
	assert_prefix(talk(e, "DATA\r\nhi\r\n.\r\n"), "354");
	assert_int_equal(count_files("mail/alice/new"), 1);
	assert_int_equal(count_files("queue"), 2);  /* ID.msg and ID.env */
	char path[PATH_MAX + 32];
	struct buf env = BUF_INIT;
	snprintf(path, sizeof path, "%s/queue/T1.1.env", data_dir);
	assert_int_equal(fs_read_file(path, 65536, &env), 0);
	assert_contains(buf_cstr(&env), "sender a@remote.test");
	assert_contains(buf_cstr(&env), "rcpt x@elsewhere.test pending");
	buf_free(&env);
	env_free(e);

	e = env_new("127.0.0.1");  /* authenticated (loopback plaintext) */
	start(e);
	talk(e, HELLO "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n");
	talk(e, "MAIL FROM:<alice@example.org>\r\n");
	assert_prefix(talk(e, "RCPT TO:<x@elsewhere.test>\r\n"), "250 ");
	env_free(e);
}

static void test_local_recipients(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO "MAIL FROM:<a@remote.test>\r\n");
	assert_prefix(talk(e, "RCPT TO:<nobody@example.org>\r\n"),
	              "550 5.1.1 <nobody@example.org>: Recipient address rejected");
	assert_prefix(talk(e, "RCPT TO:<loop1@example.org>\r\n"), "451 4.3.0 ");
	assert_prefix(talk(e, "RCPT TO:<POSTMASTER>\r\n"), "250 ");
	assert_prefix(talk(e, "RCPT TO:<Alice+news@EXAMPLE.NET>\r\n"), "250 ");
	assert_prefix(talk(e, "RCPT TO:<team@example.org>\r\n"), "250 ");
	assert_prefix(talk(e, "RCPT TO:<all@example.org>\r\n"), "250 ");
	assert_prefix(talk(e, "DATA\r\nhi\r\n.\r\n"), "354");
	/* alice through postmaster, +detail, team and all: one copy */
	assert_int_equal(count_files("mail/alice/new"), 1);
	assert_int_equal(count_files("mail/bob/new"), 1);
	assert_int_equal(count_files("mail/carol/new"), 1);
	char *msg = read_only_file("mail/bob/new");
	assert_lacks(msg, " for <");  /* several recipients */
	free(msg);
	env_free(e);
}

static void test_mail_syntax(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	e->cfg.limits.errors = 100;
	start(e);
	talk(e, HELLO);
	const char *bad[] = {"MAIL FROM:a@b.test\r\n", "MAIL FROM:<a@b.test\r\n",
	                     "MAIL FROM:<a@@b.test>\r\n", "MAIL FROM:<a..b@c.test>\r\n",
	                     "MAIL FROM:<a@-b.test>\r\n", "MAIL FROM:<@a:b@c.test\r\n",
	                     "MAIL FROM:<a@b.test>x\r\n", "MAIL FROM:<a b@c.test>\r\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_prefix(talk(e, bad[i]), "501 5.1.7 ");
	assert_prefix(talk(e, "MAIL TO:<a@b.test>\r\n"), "501 5.5.4 ");
	assert_prefix(talk(e, "MAIL FROM:<a@b.test> FOO=1\r\n"), "555 5.5.4 ");
	assert_prefix(talk(e, "MAIL FROM:<a@b.test> BODY=9BIT\r\n"), "501 5.5.4 ");
	assert_prefix(talk(e, "MAIL FROM:<a@b.test> SIZE=1 SIZE=2\r\n"), "501 5.5.4 ");
	assert_prefix(talk(e, "MAIL FROM:<a@b.test> RET=FULL\r\n"), "555 5.5.4 ");
	assert_prefix(talk(e, "MAIL FROM:<jörg@b.test>\r\n"), "553 5.6.7 ");
	assert_prefix(talk(e, "MAIL FROM:<jörg@b.test> SMTPUTF8\r\n"), "250 ");
	assert_prefix(talk(e, "RCPT TO:<jörg@example.org>\r\n"), "550 5.1.1 ");
	talk(e, "RSET\r\n");
	assert_prefix(talk(e, "MAIL FROM: <a@b.test> BODY=8BITMIME AUTH=<> SIZE=5\r\n"), "250 ");
	talk(e, "RSET\r\n");
	assert_prefix(talk(e, "MAIL FROM:<>\r\n"), "250 2.1.0 Sender <> ok");
	assert_prefix(talk(e, "RCPT TO:<@relay.test,@r2.test:alice@example.org>\r\n"),
	              "250 2.1.5 Recipient <alice@example.org> ok");
	assert_prefix(talk(e, "RCPT TO:<\"alice\"@example.org>\r\n"), "250 ");
	assert_prefix(talk(e, "RCPT TO:<alice@example.org> NOTIFY=NEVER\r\n"), "555 5.5.4 ");
	assert_prefix(talk(e, "RCPT TO:<>\r\n"), "501 5.1.3 ");
	talk(e, "RSET\r\n");
	assert_prefix(talk(e, "mail from:<a@[IPv6:2001:db8::1]>\r\n"), "250 ");
	env_free(e);
}

static void test_path_parser(void **state)
{
	(void)state;
	struct smtpd_path p;
	size_t end;
	const char *why;
	assert_int_equal(smtpd_path_parse("<\"a b\\\"c\"@x.test> rest", 23, 0, &p, &end, &why), 0);
	assert_string_equal(p.local, "a b\"c");
	assert_string_equal(p.mailbox, "\"a b\\\"c\"@x.test");
	assert_int_equal(end, 17);
	assert_int_equal(smtpd_path_parse("<u@[1.2.3.4]>", 13, 0, &p, &end, &why), 0);
	assert_string_equal(p.domain, "[1.2.3.4]");
	assert_int_equal(smtpd_path_parse("<u@[1.2.3.999]>", 15, 0, &p, &end, &why), -1);
	assert_int_equal(smtpd_path_parse("<u@[IPv6:::1]>", 14, 0, &p, &end, &why), 0);
	assert_int_equal(smtpd_path_parse("<postmaster>", 12, 0, &p, &end, &why), -1);
	assert_int_equal(smtpd_path_parse("<postmaster>", 12, SMTPD_PATH_POSTMASTER_OK,
	                                  &p, &end, &why), 0);
	assert_string_equal(p.domain, "");
	assert_int_equal(smtpd_path_parse("<>", 2, 0, &p, &end, &why), -1);
	assert_int_equal(smtpd_path_parse("<\xc3@x.test>", 9, SMTPD_PATH_UTF8_OK,
	                                  &p, &end, &why), -1);
	char longpath[400];
	memset(longpath, 'a', sizeof longpath);
	longpath[0] = '<';
	memcpy(longpath + 300, "@x.test>", 8);
	assert_int_equal(smtpd_path_parse(longpath, 308, 0, &p, &end, &why), -1);
	/* every prefix of a valid path fails cleanly */
	const char *ok = "<@a.test,@b.test:\"q\"@[IPv6:2001:db8::1]>";
	for (size_t n = 0; n < strlen(ok); n++)
		assert_int_equal(smtpd_path_parse(ok, n, 0, &p, &end, &why), -1);
	assert_int_equal(smtpd_path_parse(ok, strlen(ok), 0, &p, &end, &why), 0);
	struct smtpd_param params[4];
	assert_int_equal(smtpd_params_split(" SIZE=10  BODY=8BITMIME SMTPUTF8", 32,
	                                    params, 4, &why), 3);
	assert_true(smtpd_param_is(&params[2], "smtputf8"));
	assert_null(params[2].value);
	assert_int_equal(smtpd_params_split("A=1 B=2 C=3 D=4 E=5", 19, params, 4, &why), -1);
	assert_int_equal(smtpd_params_split("SIZE=", 5, params, 4, &why), -1);
	assert_int_equal(smtpd_params_split("-X=1", 4, params, 4, &why), -1);
}

static void test_vrfy_expn(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO);
	assert_prefix(talk(e, "VRFY alice\r\n"), "252 2.5.0 ");
	assert_prefix(talk(e, "EXPN team\r\n"), "252 2.5.0 ");
	env_free(e);

	e = env_new_with("192.0.2.1", CFG_PROTO_SMTP, CFG_TLS_NONE, 1);
	start(e);
	talk(e, HELLO);
	assert_string_equal(talk(e, "VRFY alice\r\n"),
	                    "250 2.1.5 alice <alice@example.org>\r\n");
	assert_prefix(talk(e, "VRFY <Alice@example.net>\r\n"), "250 2.1.5 alice ");
	assert_prefix(talk(e, "VRFY nobody\r\n"), "550 5.1.1 ");
	assert_prefix(talk(e, "VRFY x@remote.test\r\n"), "252 ");
	assert_prefix(talk(e, "VRFY\r\n"), "501 5.5.4 ");
	assert_string_equal(talk(e, "EXPN team\r\n"),
	                    "250-2.1.5 <alice@example.org>\r\n"
	                    "250 2.1.5 <bob@example.org>\r\n");
	assert_string_equal(talk(e, "EXPN ext\r\n"),
	                    "250-2.1.5 <bob@example.org>\r\n"
	                    "250 2.1.5 <friend@remote.test>\r\n");
	assert_prefix(talk(e, "EXPN loop1\r\n"), "451 4.3.0 ");
	env_free(e);

	/* submission: only after AUTH */
	e = env_new_with("127.0.0.1", CFG_PROTO_SUBMISSION, CFG_TLS_NONE, 1);
	start(e);
	talk(e, HELLO);
	assert_prefix(talk(e, "VRFY alice\r\n"), "530 5.7.0 ");
	assert_prefix(talk(e, "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n"), "235 ");
	assert_prefix(talk(e, "VRFY alice\r\n"), "250 ");
	env_free(e);
}

static void test_auth(void **state)
{
	(void)state;
	struct env *e = env_new("127.0.0.1");
	start(e);
	talk(e, HELLO);
	/* PLAIN with a challenge, bad password */
	assert_string_equal(talk(e, "AUTH PLAIN\r\n"), "334 \r\n");
	assert_prefix(talk(e, "AGFsaWNlAHdyb25n\r\n"), "535 5.7.8 ");
	/* cancel and bad base64 */
	assert_prefix(talk(e, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
	assert_prefix(talk(e, "*\r\n"), "501 5.0.0 ");
	assert_prefix(talk(e, "AUTH PLAIN !!!!\r\n"), "501 5.5.2 ");
	assert_prefix(talk(e, "AUTH CRAM-MD5\r\n"), "504 5.5.4 ");
	assert_prefix(talk(e, "AUTH\r\n"), "501 5.5.4 ");
	/* LOGIN success: the state machine goes back to commands */
	assert_string_equal(talk(e, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
	assert_string_equal(talk(e, "Ym9i\r\n"), "334 UGFzc3dvcmQ6\r\n");
	assert_prefix(talk(e, "Ym9iLXB3\r\n"), "235 2.7.0 ");
	assert_prefix(talk(e, "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n"), "503 5.5.1 ");
	assert_lacks(talk(e, HELLO), "AUTH");
	assert_prefix(talk(e, "MAIL FROM:<bob@example.org>\r\nRCPT TO:<x@remote.test>\r\n"
	                      "DATA\r\nhi\r\n.\r\n"), "250 ");
	assert_int_equal(count_files("queue"), 2);
	env_free(e);
}

static void test_auth_refused_and_budget(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");  /* no TLS, not loopback */
	start(e);
	talk(e, HELLO);
	assert_prefix(talk(e, "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n"), "538 5.7.11 ");
	env_free(e);

	e = env_new("127.0.0.1");
	start(e);
	talk(e, HELLO);
	assert_prefix(talk(e, "AUTH PLAIN AGFsaWNlAHg=\r\n"), "535 ");
	assert_prefix(talk(e, "AUTH PLAIN AGFsaWNlAHg=\r\n"), "535 ");
	const char *r = talk(e, "AUTH PLAIN AGFsaWNlAHg=\r\nNOOP\r\n");
	assert_prefix(r, "535 5.7.8 Error: authentication failed\r\n421 4.7.0 ");
	assert_lacks(r, "250");
	assert_true(e->fake.closed);
	env_free(e);

	/* implicit TLS: AUTH allowed, Received says ESMTPSA and the cipher */
	e = env_new_with("192.0.2.1", CFG_PROTO_SMTPS, CFG_TLS_IMPLICIT, 0);
	start(e);
	assert_contains(talk(e, HELLO), "AUTH PLAIN LOGIN");
	assert_prefix(talk(e, "MAIL FROM:<alice@example.org>\r\n"), "530 5.7.0 ");
	assert_prefix(talk(e, "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n"), "235 ");
	assert_prefix(talk(e, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
	                      "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n"), "250 ");
	char *msg = read_only_file("mail/bob/new");
	assert_contains(unfold(msg), "with ESMTPSA (TLSv1.3 TLS_AES_256_GCM_SHA384) id T1.1");
	free(msg);
	env_free(e);
}

static void test_starttls(void **state)
{
	(void)state;
	struct env *e = env_new_with("192.0.2.1", CFG_PROTO_SMTP, CFG_TLS_STARTTLS, 0);
	start(e);
	talk(e, HELLO);
	assert_prefix(talk(e, "STARTTLS now\r\n"), "501 5.5.4 ");
	/* the injected MAIL must vanish (RFC 3207 4.2) */
	assert_string_equal(talk(e, "STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n"),
	                    "220 2.0.0 Ready to start TLS\r\n");
	assert_int_equal(e->fake.tls_started, 1);
	assert_string_equal(talk(e, "RSET\r\n"), "");  /* during the handshake */
	smtpd_tls_done(e->s, 1, "TLSv1.3 TLS_AES_128_GCM_SHA256");
	assert_prefix(talk(e, "MAIL FROM:<a@b.test>\r\n"), "503 5.5.1 Error: send HELO/EHLO first");
	const char *r = talk(e, HELLO);
	assert_lacks(r, "STARTTLS");
	assert_contains(r, "AUTH PLAIN LOGIN");
	assert_prefix(talk(e, "STARTTLS\r\n"), "503 5.5.1 ");
	env_free(e);

	e = env_new("192.0.2.1");  /* no STARTTLS on this listener */
	start(e);
	talk(e, HELLO);
	assert_prefix(talk(e, "STARTTLS\r\n"), "454 4.7.0 ");
	env_free(e);

	e = env_new_with("192.0.2.1", CFG_PROTO_SMTP, CFG_TLS_STARTTLS, 0);
	start(e);
	talk(e, HELLO "STARTTLS\r\n");
	smtpd_tls_done(e->s, 0, NULL);
	assert_int_equal(smtpd_input(e->s, "NOOP\r\n", 6), -1);
	env_free(e);
}

static void test_bdat(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO TX);
	assert_string_equal(talk(e, "BDAT 14\r\nSubject: b\r\n\r\n"),
	                    "250 2.0.0 14 octets received\r\n");
	assert_prefix(talk(e, "DATA\r\n"), "503 5.5.1 ");
	assert_prefix(talk(e, "RCPT TO:<bob@example.org>\r\n"), "503 5.5.1 ");
	/* binary-safe: bare LF and a lone dot line pass untouched */
	assert_string_equal(talk(e, "BDAT 8 LAST\r\n.\n\r\n.\r\nx"),
	                    "250 2.0.0 Ok: queued as T1.1\r\n");
	char *msg = read_only_file("mail/alice/new");
	assert_string_equal(after_trace(msg), "Subject: b\r\n\r\n.\n\r\n.\r\nx");
	free(msg);
	/* a refused BDAT's bytes are skipped, not run as commands */
	assert_string_equal(talk(e, "BDAT 6\r\nQUIT\r\n"),
	                    "503 5.5.1 Error: need RCPT command\r\n");
	assert_false(e->fake.closed);
	assert_prefix(talk(e, "BDAT 6 NOW\r\nQUIT\r\n"), "503 ");
	/* too big: refused at the chunk; later chunks skipped */
	talk(e, TX);
	struct buf big = BUF_INIT;
	buf_puts(&big, "BDAT 10001\r\n");
	for (int i = 0; i < 10001; i++)
		buf_putc(&big, 'z');
	buf_puts(&big, "BDAT 4 LAST\r\nQUIT");
	assert_string_equal(talk(e, buf_cstr(&big)),
	                    "552 5.3.4 Error: message too big (limit 10000 bytes)\r\n"
	                    "503 5.5.1 Error: need RCPT command\r\n");
	buf_free(&big);
	assert_prefix(talk(e, TX "BDAT 0 LAST\r\n"), "250 2.1.0");
	/* BINARYMIME needs BDAT */
	assert_prefix(talk(e, "MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n"
	                      "RCPT TO:<alice@example.org>\r\nDATA\r\n"),
	              "250 2.1.0 Sender <a@b.test> ok\r\n250 2.1.5 Recipient <alice@example.org> ok\r\n503 ");
	env_free(e);
}

static void test_error_budget_and_junk(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	assert_prefix(talk(e, "\r\n"), "500 5.5.2 Error: empty command");
	assert_prefix(talk(e, "XYZZY\r\n"), "500 5.5.2 ");
	assert_prefix(talk(e, "TURN\r\n"), "502 5.5.1 Error: TURN is obsolete and insecure (RFC 2505)");
	assert_prefix(talk(e, "SEND FROM:<a@b.test>\r\n"), "502 5.5.1 ");
	assert_prefix(talk(e, "SOML FROM:<a@b.test>\r\n"), "502 5.5.1 ");
	assert_prefix(talk(e, "SAML FROM:<a@b.test>\r\n"), "502 5.5.1 ");
	assert_string_equal(talk(e, "NO\0OP\r\n"), "");  /* strlen stops: partial */
	smtpd_input(e->s, "NO\0OP\r\n", 7);
	assert_prefix(talk(e, ""), "500 5.5.2 Error: NUL byte");
	const char *r = talk(e, "a\r\nb\r\nc\r\nd\r\n");  /* errors 8..11 */
	assert_contains(r, "421 4.7.0 mx.example.org Error: too many errors");
	assert_true(e->fake.closed);
	env_free(e);

	e = env_new("192.0.2.1");
	e->cfg.limits.commands_before_mail = 3;
	start(e);
	r = talk(e, "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
	assert_string_equal(r, "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
	                       "421 4.7.0 mx.example.org Error: too many commands "
	                       "without MAIL, closing connection\r\n");
	env_free(e);
}

static void test_help(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	const char *r = talk(e, "HELP\r\n");
	assert_prefix(r, "214-2.0.0 ");
	assert_contains(r, "\r\n214 2.0.0 ");
	assert_string_equal(talk(e, "HELP rcpt\r\n"), "214 2.0.0 RCPT TO:<address>\r\n");
	assert_prefix(talk(e, "HELP FOO\r\n"), "504 5.5.4 ");
	env_free(e);
}

static void test_submission_adds_fields(void **state)
{
	(void)state;
	struct env *e = env_new_with("127.0.0.1", CFG_PROTO_SUBMISSION, CFG_TLS_NONE, 0);
	start(e);
	talk(e, HELLO "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n");
	assert_prefix(talk(e, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
	                      "DATA\r\nSubject: no date\r\n\r\nbody\r\n.\r\n"), "250 ");
	char *msg = read_only_file("mail/bob/new");
	const char *body = after_trace(msg);
	assert_prefix(body, "Date: ");
	assert_contains(body, "\r\nMessage-ID: <");
	assert_contains(body, "@mx.example.org>\r\nSubject: no date\r\n\r\nbody\r\n");
	assert_contains(unfold(msg), "with ESMTPA id");
	free(msg);
	testlib_run_cmd("rm -rf '%s/mail'", data_dir);
	/* present fields are kept, nothing added; header split across calls */
	talk(e, "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
	talk(e, "Date: Tue, 04 Dec 2004 16:18:08 +0800\r\nMessage-ID: <a@b>\r");
	talk(e, "\n\r");
	assert_prefix(talk(e, "\nbody\r\n.\r\n"), "250 ");
	msg = read_only_file("mail/bob/new");
	assert_string_equal(after_trace(msg), "Date: Tue, 04 Dec 2004 16:18:08 +0800\r\n"
	                                      "Message-ID: <a@b>\r\n\r\nbody\r\n");
	free(msg);
	env_free(e);

	/* port 25 never adds */
	e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO TX "DATA\r\nSubject: x\r\n\r\nb\r\n.\r\n");
	msg = read_only_file("mail/alice/new");
	assert_string_equal(after_trace(msg), "Subject: x\r\n\r\nb\r\n");
	free(msg);
	env_free(e);
}

/* The 250 comes only after the Maildir file exists; input that arrives
 * during the job waits for it. */
/* The reverse name the daemon found goes into Received:, single-label
 * names ("localhost") included; an invalid one becomes "unknown". */
static void test_received_reverse_name(void **state)
{
	(void)state;
	const char *names[] = {"localhost", "host.example.net", "bad name"};
	const char *want[] = {"(localhost [127.0.0.1])",
	                      "(host.example.net [127.0.0.1])",
	                      "(unknown [127.0.0.1])"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		next_peer_name = names[i];
		struct env *e = env_new("127.0.0.1");
		start(e);
		assert_prefix(talk(e, HELLO TX "DATA\r\nx\r\n.\r\n"), "250");
		char *msg = read_only_file("mail/alice/new");
		assert_contains(unfold(msg), want[i]);
		free(msg);
		env_free(e);
	}
}

static void test_reply_after_delivery(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	e->fake.defer_jobs = 1;
	start(e);
	talk(e, HELLO TX "DATA\r\n");
	assert_string_equal(talk(e, "hi\r\n.\r\nNOOP\r\n"), "");
	assert_true(smtpd_busy(e->s));
	assert_int_equal(e->fake.timeout, 0);
	assert_int_equal(count_files("mail/alice/new"), 0);
	assert_string_equal(talk(e, "QUIT\r\n"), "");
	assert_true(smtpd_buffered(e->s) > 0);
	e->fake.npending = 0;
	e->fake.pending_job.job(e->fake.pending_job.arg);
	assert_int_equal(count_files("mail/alice/new"), 1);
	assert_string_equal(talk(e, ""), "");
	e->fake.pending_job.done(e->fake.pending_job.arg);
	assert_false(smtpd_busy(e->s));
	assert_string_equal(talk(e, ""), "250 2.0.0 Ok: queued as T1.1\r\n"
	                                 "250 2.0.0 Ok\r\n"
	                                 "221 2.0.0 mx.example.org closing connection\r\n");
	env_free(e);
}

static void test_timeouts_shutdown_eof(void **state)
{
	(void)state;
	struct env *e = env_new("192.0.2.1");
	start(e);
	assert_int_equal(e->fake.timeout, 300);
	talk(e, HELLO TX "DATA\r\n");
	assert_int_equal(e->fake.timeout, 180);
	smtpd_timeout(e->s);
	assert_prefix(talk(e, ""), "421 4.4.2 ");
	assert_true(e->fake.closed);
	assert_int_equal(count_files("spool"), 0);
	env_free(e);

	e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO TX "DATA\r\npartial\r\n");
	smtpd_shutdown(e->s);      /* in DATA: finishes the message first */
	assert_string_equal(talk(e, ""), "");
	const char *r = talk(e, ".\r\n");
	assert_prefix(r, "250 2.0.0 Ok");
	assert_contains(r, "421 4.3.2 ");
	env_free(e);

	e = env_new("192.0.2.1");
	start(e);
	talk(e, HELLO TX "DATA\r\npartial\r\n");
	assert_int_equal(count_files("spool"), 1);
	smtpd_eof(e->s);
	assert_int_equal(count_files("spool"), 0);
	assert_int_equal(count_files("mail/alice/new"), 0);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_dialogue),
		cmocka_unit_test(test_ehlo_capabilities),
		cmocka_unit_test(test_state_table),
		cmocka_unit_test(test_pipelining_whole_and_bytewise),
		cmocka_unit_test(test_dot_unstuffing_and_end),
		cmocka_unit_test(test_smuggling_variants),
		cmocka_unit_test(test_bare_lf_normalise_and_reject),
		cmocka_unit_test(test_bare_cr_reject),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_size_parameter_digits),
		cmocka_unit_test(test_data_line_limit_after_unstuffing),
		cmocka_unit_test(test_data_line_limit_bytewise),
		cmocka_unit_test(test_bdat_no_line_limit),
		cmocka_unit_test(test_recipient_limit),
		cmocka_unit_test(test_relay_rules),
		cmocka_unit_test(test_local_recipients),
		cmocka_unit_test(test_mail_syntax),
		cmocka_unit_test(test_path_parser),
		cmocka_unit_test(test_vrfy_expn),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_auth_refused_and_budget),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_error_budget_and_junk),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_submission_adds_fields),
		cmocka_unit_test(test_received_reverse_name),
		cmocka_unit_test(test_reply_after_delivery),
		cmocka_unit_test(test_timeouts_shutdown_eof),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
