/* Unit tests for src/pop3/pop3d*.c: whole POP3 sessions (RFC 1939, 2449,
 * 2595, 5034) driven through a fake owner (replies into a buffer, jobs
 * inline or deferred, STLS recorded, an optional output backlog for
 * streaming) against a temporary data directory with real users and
 * Maildirs whose messages the tests write directly. */
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
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../src/auth/throttle.h"
#include "../../src/auth/users.h"
#include "../../src/lib/config.h"
#include "../../src/lib/fs.h"
#include "../../src/lib/log.h"
#include "../../src/pop3/pop3d.h"
#define TESTLIB_SESSION
#include "testlib.h"

/* ---- the fixture: one data directory for the whole run ---- */

static char data_dir[PATH_MAX];
static char *domains[] = {"example.org"};
static struct users users_db;

struct env {
	struct posthorn_config cfg;
	struct cfg_listener listener;
	struct throttle *throttle;
	struct pop3d_session *s;
	struct testlib_owner fake;
	struct session_io io;
};

static void config_defaults(struct posthorn_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->hostname = "mx.example.org";
	cfg->domains = domains;
	cfg->ndomains = 1;
	cfg->data_dir = data_dir;
	cfg->plaintext_auth_loopback = 1;
	cfg->limits = testlib_session_limits();
}

static int group_setup(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	log_open("test-pop3d", 1, LOG_LVL_ERROR);
	snprintf(data_dir, sizeof data_dir, "/tmp/test-pop3d-XXXXXX");
	if (!mkdtemp(data_dir))
		return -1;
	if (users_add(data_dir, "alice", "alice-pw", &err) < 0 ||
	    users_add(data_dir, "bob", "bob-pw", &err) < 0 ||
	    users_add(data_dir, "carol", "two words ", &err) < 0 ||
	    users_set_apop(data_dir, "alice", "alice-apop-secret", &err) < 0) {
		fprintf(stderr, "users: %s\n", buf_cstr(&err));
		return -1;
	}
	if (users_load(data_dir, &users_db, &err) < 0) {
		fprintf(stderr, "users_load: %s\n", buf_cstr(&err));
		return -1;
	}
	buf_free(&err);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	users_free(&users_db);
	testlib_run_cmd("rm -rf '%s'", data_dir);
	return 0;
}

/* A new session from peer (numeric IPv4 or IPv6) on a pop3 listener with
 * the given TLS mode; tls_active for implicit TLS. Nothing is sent yet. */
/* Set to give the next env_new_with's session an io.pending. */
static int next_with_pending;

static struct env *env_new_with(const char *peer, enum cfg_tls tls,
                                int with_start_tls)
{
	struct env *e = calloc(1, sizeof *e);
	assert_non_null(e);
	config_defaults(&e->cfg);
	e->listener = (struct cfg_listener){
		.name = "pop3", .address = "0.0.0.0", .port = 110,
		.proto = tls == CFG_TLS_IMPLICIT ? CFG_PROTO_POP3S : CFG_PROTO_POP3,
		.tls = tls,
	};
	e->throttle = calloc(1, sizeof *e->throttle);
	assert_non_null(e->throttle);
	e->io = testlib_owner_io(&e->fake);
	if (!with_start_tls)
		e->io.start_tls = NULL;
	if (!next_with_pending)
		e->io.pending = NULL;
	next_with_pending = 0;
	struct pop3d_params p = {
		.cfg = &e->cfg, .listener = &e->listener, .users = &users_db,
		.throttle = e->throttle, .tls_active = tls == CFG_TLS_IMPLICIT,
		.tls_info = tls == CFG_TLS_IMPLICIT ? "TLSv1.3 TLS_AES_256_GCM_SHA384"
		                                    : NULL,
		.session_id = "T1",
	};
	if (strchr(peer, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p.peer.addr;
		sin6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, peer, &sin6->sin6_addr), 1);
		p.peer.addrlen = sizeof *sin6;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&p.peer.addr;
		sin->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, peer, &sin->sin_addr), 1);
		p.peer.addrlen = sizeof *sin;
	}
	snprintf(p.peer.ip, sizeof p.peer.ip, "%s", peer);
	p.peer.port = 40000;
	e->s = pop3d_new(&p, &e->io);
	assert_non_null(e->s);
	return e;
}

/* The usual session: loopback, plaintext login allowed, no TLS. */
static struct env *env_new(void)
{
	return env_new_with("127.0.0.1", CFG_TLS_NONE, 0);
}

/* Frees the session (after pop3d_eof unless it closed; a test may have
 * freed it already) and the env. */
static void env_free(struct env *e)
{
	if (e->s) {
		if (!e->fake.closed)
			pop3d_eof(e->s);
		assert_false(pop3d_busy(e->s));
		pop3d_free(&e->s);
		assert_null(e->s);
	}
	testlib_owner_free(&e->fake);
	free(e->throttle);
	free(e);
}

/* Output written since the last call (NUL-terminated; lives until the
 * next change to the fake's buffer). */
static const char *fresh(struct env *e)
{
	return testlib_owner_fresh(&e->fake);
}

/* Feeds input (any bytes); returns the output it produced. */
static const char *talk_n(struct env *e, const char *input, size_t len)
{
	pop3d_input(e->s, input, len);
	return fresh(e);
}

static const char *talk(struct env *e, const char *input)
{
	return talk_n(e, input, strlen(input));
}

static const char *start(struct env *e)
{
	pop3d_start(e->s);
	return fresh(e);
}

/* Runs the job the fake kept back. */
static void run_deferred(struct env *e)
{
	testlib_owner_run_deferred(&e->fake);
}

/* ---- the Maildir ---- */

/* The test messages, oldest first (the leading seconds of the names give
 * the order): raw is the file, wire what RETR sends before dot-stuffing
 * and its length the size LIST must give, stuffed what RETR sends. */
struct test_msg {
	const char *name;
	const char *raw;
	const char *wire;
	const char *stuffed;
};

static const struct test_msg msgs[] = {
	{"1700000001.R1.host",
	 "From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n",
	 "From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n",
	 "From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n"},
	/* bare LF line ends */
	{"1700000002.R2.host",
	 "From: b@example.org\nSubject: two\n\nline1\nline2\n",
	 "From: b@example.org\r\nSubject: two\r\n\r\nline1\r\nline2\r\n",
	 "From: b@example.org\r\nSubject: two\r\n\r\nline1\r\nline2\r\n"},
	/* no final line end */
	{"1700000003.R3.host",
	 "Subject: three\r\n\r\nno newline at end",
	 "Subject: three\r\n\r\nno newline at end\r\n",
	 "Subject: three\r\n\r\nno newline at end\r\n"},
	/* lines starting with '.', one of them a lone dot */
	{"1700000004.R4.host",
	 "Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nend\n.",
	 "Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nend\r\n.\r\n",
	 "Subject: dots\r\n\r\n..leading\r\n...two\r\n..\r\nend\r\n..\r\n"},
};
#define NMSGS (sizeof msgs / sizeof *msgs)

static unsigned long long msgs_total(void)
{
	unsigned long long t = 0;
	for (size_t i = 0; i < NMSGS; i++)
		t += strlen(msgs[i].wire);
	return t;
}

/* Writes content as DATA_DIR/mail/USER/SUB/NAME. */
static void mail_write_n(const char *user, const char *sub, const char *name,
                         const char *content, size_t len)
{
	char path[PATH_MAX + 256];
	snprintf(path, sizeof path, "%s/mail/%s/%s", data_dir, user, sub);
	assert_int_equal(fs_mkdirs(path, 0700), 0);
	snprintf(path, sizeof path, "%s/mail/%s/%s/%s", data_dir, user, sub, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void mail_write(const char *user, const char *sub, const char *name,
                       const char *content)
{
	mail_write_n(user, sub, name, content, strlen(content));
}

/* A fresh Maildir for user holding the test messages in new/. */
static void mailbox_fill(const char *user)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/mail/%s", data_dir, user);
	testlib_run_cmd("rm -rf '%s'", path);
	static const char *const subs[] = {"new", "cur", "tmp"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/mail/%s/%s", data_dir, user, subs[i]);
		assert_int_equal(fs_mkdirs(path, 0700), 0);
	}
	for (size_t i = 0; i < NMSGS; i++)
		mail_write(user, "new", msgs[i].name, msgs[i].raw);
}

/* Files (not dot files) in DATA_DIR/mail/USER/SUB. */
static int count_files(const char *user, const char *sub)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/mail/%s/%s", data_dir, user, sub);
	return testlib_count_files(path);
}

static int file_exists(const char *user, const char *sub, const char *name)
{
	char path[PATH_MAX + 256];
	snprintf(path, sizeof path, "%s/mail/%s/%s/%s", data_dir, user, sub, name);
	struct stat st;
	return lstat(path, &st) == 0;
}

/* ---- protocol helpers ---- */

/* The APOP timestamp: the last word of the greeting, "<...@host>". */
static void greeting_timestamp(const char *greeting, char *out, size_t size)
{
	const char *end = strstr(greeting, "\r\n");
	assert_non_null(end);
	assert_string_equal(end, "\r\n");
	const char *sp = end;
	while (sp > greeting && sp[-1] != ' ')
		sp--;
	assert_true(sp > greeting);
	assert_true((size_t)(end - sp) < size);
	memcpy(out, sp, (size_t)(end - sp));
	out[end - sp] = '\0';
}

static void md5_hex(const char *a, const char *b, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_md5(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, a, strlen(a)), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, b, strlen(b)), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &n), 1);
	EVP_MD_CTX_free(ctx);
	assert_int_equal(n, 16);
	for (unsigned i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
}

/* Base64 of data[0..len) into out (NUL-terminated). */
static void b64(const void *data, size_t len, char *out, size_t size)
{
	assert_true(size >= 4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

static void plain_response(const char *authzid, const char *user,
                           const char *password, char *out, size_t size)
{
	char raw[512];
	int n = snprintf(raw, sizeof raw, "%s%c%s%c%s", authzid, 0, user, 0,
	                 password);
	assert_true(n > 0 && (size_t)n < sizeof raw);
	b64(raw, (size_t)n, out, size);
}

/* "+OK Logged in: N messages (T octets)\r\n" for the test mailbox. */
static const char *logged_in_reply(void)
{
	static char r[128];
	snprintf(r, sizeof r, "+OK Logged in: %zu messages (%llu octets)\r\n",
	         NMSGS, msgs_total());
	return r;
}

/* Starts and logs in with USER/PASS as alice; the mailbox is refilled. */
static struct env *env_logged_in(void)
{
	mailbox_fill("alice");
	struct env *e = env_new();
	start(e);
	assert_string_equal(talk(e, "USER alice\r\n"), "+OK Send your password\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	return e;
}

static char *stat_reply(char *out, size_t size, size_t n,
                        unsigned long long octets)
{
	snprintf(out, size, "+OK %zu %llu\r\n", n, octets);
	return out;
}

/* What RETR of message i (0-based) must send. */
static char *retr_reply(size_t i)
{
	struct buf b = BUF_INIT;
	assert_int_equal(buf_printf(&b, "+OK %zu octets\r\n%s.\r\n",
	                            strlen(msgs[i].wire), msgs[i].stuffed), 0);
	return buf_steal(&b, NULL);
}

/* Undoes the dot-stuffing of a multi-line reply (after its first line) up
 * to the terminating ".\r\n" into out; returns the bytes of reply used,
 * 0 when there is no complete reply. */
static size_t unstuff(const char *reply, size_t len, struct buf *out)
{
	const char *p = memchr(reply, '\n', len), *end = reply + len;
	if (!p)
		return 0;
	for (p++; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || nl == p || nl[-1] != '\r')
			return 0;
		if (nl - p == 2 && p[0] == '.')
			return (size_t)(nl + 1 - reply);
		const char *from = p[0] == '.' ? p + 1 : p;
		assert_int_equal(buf_append(out, from, (size_t)(nl + 1 - from)), 0);
		p = nl + 1;
	}
	return 0;
}

/* ---- tests: greeting and AUTHORIZATION ---- */

static void test_greeting(void **state)
{
	(void)state;
	struct env *e = env_new();
	char g1[512], ts1[256], ts2[256];
	snprintf(g1, sizeof g1, "%s", start(e));
	assert_prefix(g1, "+OK ");
	greeting_timestamp(g1, ts1, sizeof ts1);
	/* RFC 1939 7: a msg-id, "<process-ID.clock@hostname>" */
	assert_int_equal(ts1[0], '<');
	assert_int_equal(ts1[strlen(ts1) - 1], '>');
	assert_non_null(strchr(ts1, '.'));
	assert_non_null(strstr(ts1, "@mx.example.org>"));
	assert_null(strchr(ts1 + 1, '<'));
	assert_int_equal(e->fake.timeout, 600);
	assert_int_equal(e->fake.closed, 0);
	env_free(e);

	/* different for every greeting (same session id here: the clock
	 * must tell them apart) */
	usleep(1000);
	e = env_new();
	greeting_timestamp(start(e), ts2, sizeof ts2);
	assert_string_not_equal(ts1, ts2);
	env_free(e);
}

/* A hostname may be up to 253 octets: the timestamp must still be a
 * whole msg-id ("<...@host>", RFC 1939 7) that APOP clients can parse. */
static void test_greeting_long_hostname(void **state)
{
	(void)state;
	char host[256], ts[512], digest[33], cmd[600];
	memset(host, 0, sizeof host);
	for (int label = 0; label < 3; label++) {
		memset(host + label * 64, 'a' + label, 63);
		host[label * 64 + 63] = '.';
	}
	strcat(host, "example.org");   /* 203 octets, labels of 63 */
	mailbox_fill("alice");
	struct env *e = env_new_with("192.0.2.7", CFG_TLS_NONE, 0);
	e->cfg.hostname = host;
	char g[700], reply[256];
	snprintf(g, sizeof g, "%s", start(e));
	greeting_timestamp(g, ts, sizeof ts);
	md5_hex(ts, "alice-apop-secret", digest);
	snprintf(cmd, sizeof cmd, "APOP alice %s\r\n", digest);
	snprintf(reply, sizeof reply, "%s", talk(e, cmd));
	env_free(e);   /* before the checks, so a failure leaks nothing */
	assert_int_equal(strlen(g), strcspn(g, "\n") + 1);
	assert_int_equal(ts[0], '<');
	if (ts[strlen(ts) - 1] != '>' || !strchr(ts, '@'))
		fail_msg("timestamp %s is not a msg-id", ts);
	assert_string_equal(reply, logged_in_reply());
}

static void test_user_pass(void **state)
{
	(void)state;
	mailbox_fill("alice");
	struct env *e = env_new();
	start(e);
	/* PASS without USER */
	const char *r = talk(e, "PASS alice-pw\r\n");
	assert_prefix(r, "-ERR ");
	assert_lacks(r, "[AUTH]");
	assert_prefix(talk(e, "USER\r\n"), "-ERR ");
	assert_prefix(talk(e, "USER a b\r\n"), "-ERR ");
	/* the same answer for every name */
	assert_string_equal(talk(e, "USER nobody\r\n"), "+OK Send your password\r\n");
	assert_string_equal(talk(e, "PASS x\r\n"), "-ERR [AUTH] Authentication failed\r\n");
	assert_string_equal(talk(e, "USER alice\r\n"), "+OK Send your password\r\n");
	assert_string_equal(talk(e, "PASS wrong\r\n"), "-ERR [AUTH] Authentication failed\r\n");
	/* a failed PASS forgets the USER */
	assert_prefix(talk(e, "PASS alice-pw\r\n"), "-ERR ");
	assert_string_equal(talk(e, "USER alice\r\n"), "+OK Send your password\r\n");
	assert_prefix(talk(e, "PASS\r\n"), "-ERR ");   /* syntax, USER kept */
	assert_int_equal(e->fake.closed, 0);
	/* two failures so far; auth_failures is 3 */
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	char want[64];
	assert_string_equal(talk(e, "STAT\r\n"),
	                    stat_reply(want, sizeof want, NMSGS, msgs_total()));
	env_free(e);

	/* names are case-insensitive; the password is the rest of the line,
	 * spaces included (RFC 1939 7) */
	e = env_new();
	start(e);
	talk(e, "USER Carol\r\n");
	assert_prefix(talk(e, "PASS two words\r\n"), "-ERR [AUTH]");
	talk(e, "user CAROL\r\n");
	assert_string_equal(talk(e, "pass two words \r\n"),
	                    "+OK Logged in: 0 messages (0 octets)\r\n");
	assert_string_equal(talk(e, "STAT\r\n"), "+OK 0 0\r\n");
	assert_string_equal(talk(e, "LIST\r\n"), "+OK 0 messages (0 octets)\r\n.\r\n");
	assert_string_equal(talk(e, "UIDL\r\n"), "+OK Unique-id listing follows\r\n.\r\n");
	assert_prefix(talk(e, "RETR 1\r\n"), "-ERR ");
	env_free(e);
}

static void test_auth_failure_limit(void **state)
{
	(void)state;
	struct env *e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	assert_prefix(talk(e, "PASS a\r\n"), "-ERR [AUTH]");
	talk(e, "USER alice\r\n");
	assert_prefix(talk(e, "PASS b\r\n"), "-ERR [AUTH]");
	talk(e, "USER alice\r\n");
	const char *r = talk(e, "PASS c\r\n");
	/* one reply for the one command, then the close */
	assert_string_equal(r, "-ERR [AUTH] Authentication failed; too many "
	                       "failures, closing connection\r\n");
	assert_int_equal(e->fake.closed, 1);
	assert_int_equal(pop3d_input(e->s, "USER alice\r\n", 12), -1);
	assert_string_equal(fresh(e), "");
	/* the throttle counted them for the address */
	assert_true(throttle_delay_ms(e->throttle, "127.0.0.1", 100, time(NULL)) > 100);
	env_free(e);
}

static void test_apop(void **state)
{
	(void)state;
	mailbox_fill("alice");
	struct env *e = env_new_with("192.0.2.7", CFG_TLS_NONE, 0);
	char greeting[512], ts[256], digest[33], cmd[512];
	snprintf(greeting, sizeof greeting, "%s", start(e));
	greeting_timestamp(greeting, ts, sizeof ts);
	md5_hex(ts, "alice-apop-secret", digest);
	/* syntax */
	const char *r = talk(e, "APOP alice\r\n");
	assert_prefix(r, "-ERR ");
	assert_lacks(r, "[AUTH]");
	snprintf(cmd, sizeof cmd, "APOP alice %s extra\r\n", digest);
	assert_prefix(talk(e, cmd), "-ERR ");
	assert_prefix(talk(e, "APOP\r\n"), "-ERR ");
	/* a wrong digest, a user without a secret, an unknown user */
	char bad[33];
	md5_hex(ts, "wrong", bad);
	snprintf(cmd, sizeof cmd, "APOP alice %s\r\n", bad);
	assert_string_equal(talk(e, cmd), "-ERR [AUTH] Authentication failed\r\n");
	md5_hex(ts, "", bad);
	snprintf(cmd, sizeof cmd, "APOP bob %s\r\n", bad);
	assert_string_equal(talk(e, cmd), "-ERR [AUTH] Authentication failed\r\n");
	e->cfg.limits.auth_failures = 10;
	snprintf(cmd, sizeof cmd, "APOP nobody %s\r\n", digest);
	assert_string_equal(talk(e, cmd), "-ERR [AUTH] Authentication failed\r\n");
	snprintf(cmd, sizeof cmd, "APOP alice %.31s\r\n", digest);
	assert_string_equal(talk(e, cmd), "-ERR [AUTH] Authentication failed\r\n");
	env_free(e);

	/* the right digest, upper case and from a non-loopback peer without
	 * TLS: APOP sends no password */
	e = env_new_with("192.0.2.7", CFG_TLS_NONE, 0);
	snprintf(greeting, sizeof greeting, "%s", start(e));
	greeting_timestamp(greeting, ts, sizeof ts);
	md5_hex(ts, "alice-apop-secret", digest);
	for (char *p = digest; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(cmd, sizeof cmd, "APOP Alice %s\r\n", digest);
	assert_string_equal(talk(e, cmd), logged_in_reply());
	env_free(e);

	/* a digest made for another greeting's timestamp is refused */
	e = env_new();
	start(e);
	md5_hex(ts, "alice-apop-secret", digest);
	snprintf(cmd, sizeof cmd, "APOP alice %s\r\n", digest);
	assert_string_equal(talk(e, cmd), "-ERR [AUTH] Authentication failed\r\n");
	env_free(e);
}

static void test_auth_plain(void **state)
{
	(void)state;
	char resp[256], cmd[512];
	mailbox_fill("alice");

	/* initial response */
	struct env *e = env_new();
	start(e);
	plain_response("", "alice", "alice-pw", resp, sizeof resp);
	snprintf(cmd, sizeof cmd, "AUTH PLAIN %s\r\n", resp);
	assert_string_equal(talk(e, cmd), logged_in_reply());
	env_free(e);

	/* continuation: "+ " then the response; authzid = authcid is fine */
	e = env_new();
	start(e);
	assert_string_equal(talk(e, "AUTH PLAIN\r\n"), "+ \r\n");
	plain_response("alice", "alice", "alice-pw", resp, sizeof resp);
	snprintf(cmd, sizeof cmd, "%s\r\n", resp);
	assert_string_equal(talk(e, cmd), logged_in_reply());
	env_free(e);

	e = env_new();
	e->cfg.limits.errors = 100;
	start(e);
	/* "*" cancels; the session is back in AUTHORIZATION */
	assert_string_equal(talk(e, "auth plain\r\n"), "+ \r\n");
	const char *r = talk(e, "*\r\n");
	assert_prefix(r, "-ERR ");
	assert_lacks(r, "[AUTH]");
	assert_prefix(talk(e, "STAT\r\n"), "-ERR ");
	assert_prefix(talk(e, "CAPA\r\n"), "+OK ");
	/* "=" is an empty initial response, which PLAIN cannot use */
	assert_prefix(talk(e, "AUTH PLAIN =\r\n"), "-ERR ");
	assert_prefix(talk(e, "AUTH PLAIN\r\n=\r\n"), "+ \r\n-ERR ");
	/* an empty continuation line is an empty response */
	assert_prefix(talk(e, "AUTH PLAIN\r\n\r\n"), "+ \r\n-ERR ");
	/* bad base64 */
	assert_prefix(talk(e, "AUTH PLAIN !!!!\r\n"), "-ERR ");
	assert_prefix(talk(e, "AUTH PLAIN\r\nAGFsaWNl@@@\r\n"), "+ \r\n-ERR ");
	/* a continuation line may be longer than a command (RFC 5034 4),
	 * but not without bound */
	struct buf lng = BUF_INIT;
	buf_puts(&lng, "AUTH PLAIN\r\n");
	for (int i = 0; i < 1000; i++)
		buf_puts(&lng, "QUFBQUFB");
	buf_puts(&lng, "\r\n");
	assert_prefix(talk(e, buf_cstr(&lng)), "+ \r\n-ERR ");
	buf_reset(&lng);
	buf_puts(&lng, "AUTH PLAIN\r\n");
	for (int i = 0; i < 2000; i++)
		buf_puts(&lng, "QUFBQUFB");
	buf_puts(&lng, "\r\nCAPA\r\n");
	const char *lr = talk(e, buf_cstr(&lng));
	assert_prefix(lr, "+ \r\n-ERR Line too long\r\n+OK Capability");
	buf_free(&lng);
	/* no proxy login */
	plain_response("bob", "alice", "alice-pw", resp, sizeof resp);
	snprintf(cmd, sizeof cmd, "AUTH PLAIN %s\r\n", resp);
	assert_prefix(talk(e, cmd), "-ERR ");
	/* extra arguments */
	plain_response("", "alice", "alice-pw", resp, sizeof resp);
	snprintf(cmd, sizeof cmd, "AUTH PLAIN %s x\r\n", resp);
	assert_prefix(talk(e, cmd), "-ERR ");
	assert_int_equal(e->fake.closed, 0);
	/* a wrong password is an authentication failure */
	plain_response("", "alice", "nope", resp, sizeof resp);
	snprintf(cmd, sizeof cmd, "AUTH PLAIN %s\r\n", resp);
	assert_string_equal(talk(e, cmd), "-ERR [AUTH] Authentication failed\r\n");
	/* and the session still logs in */
	plain_response("", "alice", "alice-pw", resp, sizeof resp);
	snprintf(cmd, sizeof cmd, "AUTH PLAIN %s\r\n", resp);
	assert_string_equal(talk(e, cmd), logged_in_reply());
	env_free(e);
}

static void test_auth_login(void **state)
{
	(void)state;
	char u[64], p[64], cmd[256];
	mailbox_fill("alice");
	b64("alice", 5, u, sizeof u);
	b64("alice-pw", 8, p, sizeof p);

	struct env *e = env_new();
	start(e);
	assert_string_equal(talk(e, "AUTH LOGIN\r\n"), "+ VXNlcm5hbWU6\r\n");
	snprintf(cmd, sizeof cmd, "%s\r\n", u);
	assert_string_equal(talk(e, cmd), "+ UGFzc3dvcmQ6\r\n");
	snprintf(cmd, sizeof cmd, "%s\r\n", p);
	assert_string_equal(talk(e, cmd), logged_in_reply());
	env_free(e);

	/* the name as initial response; cancel at the password */
	e = env_new();
	start(e);
	snprintf(cmd, sizeof cmd, "AUTH LOGIN %s\r\n", u);
	assert_string_equal(talk(e, cmd), "+ UGFzc3dvcmQ6\r\n");
	assert_prefix(talk(e, "*\r\n"), "-ERR ");
	assert_prefix(talk(e, "NOOP\r\n"), "-ERR ");  /* AUTHORIZATION again */
	/* bad base64 for the name */
	assert_prefix(talk(e, "AUTH LOGIN\r\n%%%\r\n"), "+ VXNlcm5hbWU6\r\n-ERR ");
	/* pipelined in one go */
	snprintf(cmd, sizeof cmd, "AUTH LOGIN\r\n%s\r\n%s\r\nSTAT\r\n", u, p);
	char want[256], st[64];
	snprintf(want, sizeof want, "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n%s%s",
	         logged_in_reply(), stat_reply(st, sizeof st, NMSGS, msgs_total()));
	assert_string_equal(talk(e, cmd), want);
	env_free(e);
}

static void test_auth_mechanisms(void **state)
{
	(void)state;
	struct env *e = env_new();
	start(e);
	const char *r = talk(e, "AUTH\r\n");
	assert_prefix(r, "+OK");
	assert_contains(r, "\r\nPLAIN\r\n");
	assert_contains(r, "\r\nLOGIN\r\n");
	assert_true(strlen(r) >= 5);
	assert_string_equal(r + strlen(r) - 5, "\r\n.\r\n");
	r = talk(e, "AUTH CRAM-MD5\r\n");
	assert_prefix(r, "-ERR ");
	assert_prefix(talk(e, "AUTH X-UNKNOWN AAAA\r\n"), "-ERR ");
	assert_prefix(talk(e, "CAPA\r\n"), "+OK");   /* still AUTHORIZATION */
	env_free(e);
}

/* Plaintext login needs TLS unless the peer is loopback and the config
 * allows it; APOP never needs it. */
static void test_plaintext_refused(void **state)
{
	(void)state;
	char resp[256], cmd[512], ts[256], digest[33];
	mailbox_fill("alice");
	plain_response("", "alice", "alice-pw", resp, sizeof resp);
	snprintf(cmd, sizeof cmd, "AUTH PLAIN %s\r\n", resp);

	for (int round = 0; round < 3; round++) {
		struct env *e = round == 0 ? env_new_with("192.0.2.1", CFG_TLS_NONE, 0)
		              : round == 1 ? env_new_with("2001:db8::1", CFG_TLS_NONE, 0)
		                           : env_new();
		if (round == 2)
			e->cfg.plaintext_auth_loopback = 0;
		const char *g = start(e);
		greeting_timestamp(g, ts, sizeof ts);
		assert_prefix(talk(e, "USER alice\r\n"), "-ERR [AUTH] ");
		assert_prefix(talk(e, "PASS alice-pw\r\n"), "-ERR [AUTH] ");
		assert_prefix(talk(e, cmd), "-ERR [AUTH] ");
		assert_prefix(talk(e, "AUTH LOGIN\r\n"), "-ERR [AUTH] ");
		const char *r = talk(e, "CAPA\r\n");
		assert_lacks(r, "\r\nUSER\r\n");
		assert_lacks(r, "SASL");
		assert_lacks(r, "STLS");
		assert_prefix(talk(e, "STAT\r\n"), "-ERR ");
		md5_hex(ts, "alice-apop-secret", digest);
		snprintf(resp, sizeof resp, "APOP alice %s\r\n", digest);
		assert_string_equal(talk(e, resp), logged_in_reply());
		env_free(e);
	}

	/* loopback over IPv6 and IPv4-mapped is loopback */
	struct env *e = env_new_with("::1", CFG_TLS_NONE, 0);
	start(e);
	talk(e, "USER alice\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	env_free(e);
	e = env_new_with("::ffff:127.0.0.1", CFG_TLS_NONE, 0);
	start(e);
	talk(e, "USER alice\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	env_free(e);

	/* implicit TLS: any peer may */
	e = env_new_with("192.0.2.1", CFG_TLS_IMPLICIT, 0);
	start(e);
	const char *r = talk(e, "CAPA\r\n");
	assert_contains(r, "\r\nUSER\r\n");
	assert_contains(r, "\r\nSASL PLAIN LOGIN\r\n");
	assert_lacks(r, "STLS");
	assert_string_equal(talk(e, cmd), logged_in_reply());
	env_free(e);
}

static void test_capa(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	const char *r = talk(e, "CAPA\r\n");
	assert_prefix(r, "+OK");
	assert_contains(r, "\r\nTOP\r\n");
	assert_contains(r, "\r\nUIDL\r\n");
	assert_contains(r, "\r\nRESP-CODES\r\n");
	assert_contains(r, "\r\nAUTH-RESP-CODE\r\n");
	assert_contains(r, "\r\nPIPELINING\r\n");
	assert_lacks(r, "\r\nUSER\r\n");
	assert_lacks(r, "SASL");
	assert_lacks(r, "STLS");
	assert_string_equal(r + strlen(r) - 5, "\r\n.\r\n");
	env_free(e);

	e = env_new();
	start(e);
	r = talk(e, "capa\r\n");
	assert_contains(r, "\r\nTOP\r\n");
	assert_contains(r, "\r\nUSER\r\n");
	assert_contains(r, "\r\nSASL PLAIN LOGIN\r\n");
	assert_lacks(r, "STLS");   /* listener tls = none */
	/* no line of the listing starts with '.' but the end */
	assert_ptr_equal(strstr(r, "\r\n."), r + strlen(r) - 5);
	env_free(e);

	/* STLS only with tls = starttls and a start_tls callback */
	e = env_new_with("127.0.0.1", CFG_TLS_STARTTLS, 1);
	start(e);
	r = talk(e, "CAPA\r\n");
	assert_contains(r, "\r\nSTLS\r\n");
	assert_contains(r, "\r\nUSER\r\n");   /* loopback */
	env_free(e);
	e = env_new_with("127.0.0.1", CFG_TLS_STARTTLS, 0);
	start(e);
	assert_lacks(talk(e, "CAPA\r\n"), "STLS");
	env_free(e);
	e = env_new_with("127.0.0.1", CFG_TLS_NONE, 1);
	start(e);
	assert_lacks(talk(e, "CAPA\r\n"), "STLS");
	env_free(e);
}

static void test_stls(void **state)
{
	(void)state;
	mailbox_fill("alice");
	struct env *e = env_new_with("192.0.2.1", CFG_TLS_STARTTLS, 1);
	start(e);
	const char *r = talk(e, "CAPA\r\n");
	assert_contains(r, "\r\nSTLS\r\n");
	assert_lacks(r, "\r\nUSER\r\n");
	assert_prefix(talk(e, "STLS now\r\n"), "-ERR ");
	/* RFC 2595 4: input after STLS in the same buffer is discarded */
	assert_string_equal(talk(e, "NOOP\r\nSTLS\r\nCAPA\r\nNOOP\r\n"),
	                    "-ERR NOOP is not allowed before login\r\n"
	                    "+OK Begin TLS negotiation\r\n");
	assert_int_equal(e->fake.tls_started, 1);
	assert_int_equal(e->fake.timeout, 0);
	assert_int_equal(pop3d_buffered(e->s), 0);
	/* during the handshake input is ignored */
	assert_int_equal(pop3d_input(e->s, "CAPA\r\n", 6), 0);
	assert_string_equal(fresh(e), "");
	pop3d_tls_done(e->s, 1, "TLSv1.3 TLS_AES_128_GCM_SHA256");
	assert_string_equal(fresh(e), "");  /* no second greeting */
	assert_int_equal(e->fake.timeout, 600);
	r = talk(e, "CAPA\r\n");
	assert_lacks(r, "STLS");
	assert_contains(r, "\r\nUSER\r\n");
	assert_contains(r, "\r\nSASL PLAIN LOGIN\r\n");
	assert_prefix(talk(e, "STLS\r\n"), "-ERR ");   /* already active */
	assert_int_equal(e->fake.tls_started, 1);
	talk(e, "USER alice\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	r = talk(e, "STLS\r\n");
	assert_prefix(r, "-ERR ");
	env_free(e);

	/* a USER before STLS is forgotten (loopback may send it in clear) */
	e = env_new_with("127.0.0.1", CFG_TLS_STARTTLS, 1);
	start(e);
	assert_string_equal(talk(e, "USER alice\r\nSTLS\r\nPASS alice-pw\r\n"),
	                    "+OK Send your password\r\n+OK Begin TLS negotiation\r\n");
	pop3d_tls_done(e->s, 1, NULL);
	assert_prefix(talk(e, "PASS alice-pw\r\n"), "-ERR ");
	talk(e, "USER alice\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	env_free(e);

	/* a handshake split over two inputs: the second one is dropped too */
	e = env_new_with("192.0.2.1", CFG_TLS_STARTTLS, 1);
	start(e);
	assert_string_equal(talk(e, "STLS\r\nUS"), "+OK Begin TLS negotiation\r\n");
	assert_string_equal(talk(e, "ER alice\r\n"), "");
	pop3d_tls_done(e->s, 1, NULL);
	assert_int_equal(pop3d_buffered(e->s), 0);
	assert_prefix(talk(e, "CAPA\r\n"), "+OK ");
	env_free(e);

	/* not offered */
	e = env_new_with("127.0.0.1", CFG_TLS_NONE, 1);
	start(e);
	assert_prefix(talk(e, "STLS\r\n"), "-ERR ");
	assert_int_equal(e->fake.tls_started, 0);
	env_free(e);

	/* a failed handshake ends the session */
	e = env_new_with("192.0.2.1", CFG_TLS_STARTTLS, 1);
	start(e);
	assert_string_equal(talk(e, "STLS\r\n"), "+OK Begin TLS negotiation\r\n");
	pop3d_tls_done(e->s, 0, NULL);
	assert_int_equal(pop3d_input(e->s, "CAPA\r\n", 6), -1);
	assert_string_equal(fresh(e), "");
	pop3d_free(&e->s);
	e->fake.closed = 1;
	env_free(e);

	/* the handshake times out */
	e = env_new_with("192.0.2.1", CFG_TLS_STARTTLS, 1);
	start(e);
	talk(e, "STLS\r\n");
	pop3d_timeout(e->s);
	assert_int_equal(e->fake.closed, 1);
	env_free(e);
}

/* ---- tests: TRANSACTION ---- */

static void test_stat_list_uidl(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	char want[1024], line[256];
	assert_string_equal(talk(e, "STAT\r\n"),
	                    stat_reply(want, sizeof want, NMSGS, msgs_total()));
	snprintf(want, sizeof want, "+OK %zu messages (%llu octets)\r\n", NMSGS,
	         msgs_total());
	for (size_t i = 0; i < NMSGS; i++) {
		snprintf(line, sizeof line, "%zu %zu\r\n", i + 1, strlen(msgs[i].wire));
		strcat(want, line);
	}
	strcat(want, ".\r\n");
	assert_string_equal(talk(e, "LIST\r\n"), want);
	for (size_t i = 0; i < NMSGS; i++) {
		snprintf(line, sizeof line, "LIST %zu\r\n", i + 1);
		snprintf(want, sizeof want, "+OK %zu %zu\r\n", i + 1,
		         strlen(msgs[i].wire));
		assert_string_equal(talk(e, line), want);
	}
	snprintf(want, sizeof want, "+OK Unique-id listing follows\r\n");
	for (size_t i = 0; i < NMSGS; i++) {
		snprintf(line, sizeof line, "%zu %s\r\n", i + 1, msgs[i].name);
		strcat(want, line);
	}
	strcat(want, ".\r\n");
	assert_string_equal(talk(e, "UIDL\r\n"), want);
	assert_string_equal(talk(e, "UIDL 3\r\n"), "+OK 3 1700000003.R3.host\r\n");
	assert_string_equal(talk(e, "NOOP\r\n"), "+OK Still here\r\n");
	assert_string_equal(talk(e, "noop\r\n"), "+OK Still here\r\n");
	env_free(e);
}

static void test_retr_sizes_and_stuffing(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	for (size_t i = 0; i < NMSGS; i++) {
		char cmd[32];
		snprintf(cmd, sizeof cmd, "RETR %zu\r\n", i + 1);
		char *want = retr_reply(i);
		const char *r = talk(e, cmd);
		assert_string_equal(r, want);
		/* the size LIST gives is what RETR sends before stuffing */
		struct buf body = BUF_INIT;
		assert_int_equal(unstuff(r, strlen(r), &body), strlen(r));
		assert_int_equal(body.len, strlen(msgs[i].wire));
		assert_memory_equal(body.data, msgs[i].wire, body.len);
		buf_free(&body);
		free(want);
	}
	/* RETR twice is fine */
	char *want = retr_reply(3);
	assert_string_equal(talk(e, "RETR 4\r\n"), want);
	free(want);
	env_free(e);
}

static void test_top(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	assert_string_equal(talk(e, "TOP 2 0\r\n"),
	                    "+OK Top of message 2 follows\r\n"
	                    "From: b@example.org\r\nSubject: two\r\n\r\n.\r\n");
	assert_string_equal(talk(e, "TOP 2 1\r\n"),
	                    "+OK Top of message 2 follows\r\n"
	                    "From: b@example.org\r\nSubject: two\r\n\r\nline1\r\n.\r\n");
	assert_string_equal(talk(e, "TOP 4 2\r\n"),
	                    "+OK Top of message 4 follows\r\n"
	                    "Subject: dots\r\n\r\n..leading\r\n...two\r\n.\r\n");
	assert_string_equal(talk(e, "TOP 3 100\r\n"),
	                    "+OK Top of message 3 follows\r\n"
	                    "Subject: three\r\n\r\nno newline at end\r\n.\r\n");
	assert_string_equal(talk(e, "TOP 4 99999\r\n"),
	                    "+OK Top of message 4 follows\r\n"
	                    "Subject: dots\r\n\r\n..leading\r\n...two\r\n..\r\n"
	                    "end\r\n..\r\n.\r\n");
	/* TOP does not count as retrieved: QUIT moves nothing */
	assert_prefix(talk(e, "QUIT\r\n"), "+OK ");
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
	assert_int_equal(count_files("alice", "cur"), 0);
	env_free(e);
}

static void test_dele_rset(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	char want[256];
	unsigned long long total = msgs_total();
	assert_string_equal(talk(e, "DELE 2\r\n"), "+OK Message 2 marked for deletion\r\n");
	assert_string_equal(talk(e, "STAT\r\n"),
	                    stat_reply(want, sizeof want, NMSGS - 1,
	                               total - strlen(msgs[1].wire)));
	assert_prefix(talk(e, "DELE 2\r\n"), "-ERR ");
	assert_prefix(talk(e, "RETR 2\r\n"), "-ERR ");
	assert_prefix(talk(e, "TOP 2 0\r\n"), "-ERR ");
	assert_prefix(talk(e, "LIST 2\r\n"), "-ERR ");
	assert_prefix(talk(e, "UIDL 2\r\n"), "-ERR ");
	const char *r = talk(e, "LIST\r\n");
	assert_lacks(r, "\r\n2 ");
	assert_contains(r, "\r\n3 ");
	r = talk(e, "UIDL\r\n");
	assert_lacks(r, "R2.host");
	/* numbers do not shift */
	assert_string_equal(talk(e, "UIDL 3\r\n"), "+OK 3 1700000003.R3.host\r\n");
	snprintf(want, sizeof want, "+OK %zu messages (%llu octets)\r\n", NMSGS,
	         total);
	assert_string_equal(talk(e, "RSET\r\n"), want);
	assert_string_equal(talk(e, "STAT\r\n"),
	                    stat_reply(want, sizeof want, NMSGS, total));
	snprintf(want, sizeof want, "+OK 2 %zu\r\n", strlen(msgs[1].wire));
	assert_string_equal(talk(e, "LIST 2\r\n"), want);
	env_free(e);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	e->cfg.limits.errors = 1000;
	char stat[64];
	stat_reply(stat, sizeof stat, NMSGS, msgs_total());
	static const char *const bad[] = {
		"LIST 0", "LIST -1", "LIST abc", "LIST 99999999999999999999",
		"LIST 18446744073709551617", "LIST 5", "LIST 1 2", "LIST +1",
		"LIST 1x", "LIST 0x1",
		"UIDL 0", "UIDL -1", "UIDL abc", "UIDL 99999999999999999999",
		"UIDL 1 2",
		"RETR", "RETR 0", "RETR -1", "RETR abc", "RETR 99999999999999999999",
		"RETR 1 2", "RETR 5",
		"DELE", "DELE 0", "DELE -1", "DELE abc", "DELE 99999999999999999999",
		"DELE 1 2", "DELE 5",
		"TOP", "TOP 1", "TOP 0 1", "TOP 1 -1", "TOP 1 abc", "TOP abc 1",
		"TOP 1 99999999999999999999", "TOP 1 2 3", "TOP 5 0",
		"STAT 1", "NOOP x", "RSET 1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "%s\r\n", bad[i]);
		const char *r = talk(e, cmd);
		if (strncmp(r, "-ERR ", 5) != 0 || strstr(r, "\r\n") != r + strlen(r) - 2)
			fail_msg("%s: got [%s]", bad[i], r);
		/* nothing changed */
		assert_string_equal(talk(e, "STAT\r\n"), stat);
	}
	assert_int_equal(e->fake.closed, 0);
	/* the reply does not echo an unbounded argument */
	char cmd[400];
	memset(cmd, '9', 300);
	memcpy(cmd, "LIST ", 5);
	memcpy(cmd + 300, "x\r\n", 4);
	assert_true(strlen(talk(e, cmd)) < 100);
	/* a leading zero is still a number */
	assert_prefix(talk(e, "LIST 01\r\n"), "+OK 1 ");
	/* QUIT changes nothing after all that */
	assert_prefix(talk(e, "QUIT\r\n"), "+OK ");
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
	assert_int_equal(count_files("alice", "cur"), 0);
	env_free(e);
}

static void test_wrong_state(void **state)
{
	(void)state;
	mailbox_fill("alice");
	struct env *e = env_new();
	e->cfg.limits.errors = 100;
	start(e);
	static const char *const txn_only[] = {
		"STAT", "LIST", "LIST 1", "UIDL", "RETR 1", "TOP 1 1", "DELE 1",
		"RSET", "NOOP",
	};
	for (size_t i = 0; i < sizeof txn_only / sizeof *txn_only; i++) {
		char cmd[64];
		snprintf(cmd, sizeof cmd, "%s\r\n", txn_only[i]);
		assert_prefix(talk(e, cmd), "-ERR ");
	}
	talk(e, "USER alice\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	static const char *const auth_only[] = {
		"USER alice", "PASS alice-pw", "APOP alice 0123456789abcdef0123456789abcdef",
		"AUTH PLAIN", "AUTH", "STLS",
	};
	for (size_t i = 0; i < sizeof auth_only / sizeof *auth_only; i++) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "%s\r\n", auth_only[i]);
		assert_prefix(talk(e, cmd), "-ERR ");
	}
	char want[64];
	assert_string_equal(talk(e, "STAT\r\n"),
	                    stat_reply(want, sizeof want, NMSGS, msgs_total()));
	assert_int_equal(e->fake.closed, 0);
	env_free(e);
}

static void test_unknown_and_junk(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->cfg.limits.errors = 100;
	start(e);
	assert_prefix(talk(e, "FOO\r\n"), "-ERR ");
	assert_prefix(talk(e, "\r\n"), "-ERR ");
	assert_prefix(talk(e, " CAPA\r\n"), "-ERR ");
	assert_prefix(talk(e, "CAPAX\r\n"), "-ERR ");
	assert_prefix(talk(e, "CAP\r\n"), "-ERR ");
	assert_prefix(talk_n(e, "CA\0PA\r\n", 7), "-ERR ");
	assert_prefix(talk_n(e, "CAPA\0\r\n", 7), "-ERR ");
	assert_prefix(talk(e, "\xff\xfe\r\n"), "-ERR ");
	/* a bare LF ends a command line too */
	assert_prefix(talk(e, "CAPA\n"), "+OK ");
	assert_int_equal(e->fake.closed, 0);
	/* still works */
	mailbox_fill("alice");
	talk(e, "USER alice\n");
	assert_string_equal(talk(e, "PASS alice-pw\n"), logged_in_reply());
	assert_prefix(talk(e, "XTND XMIT\r\n"), "-ERR ");
	assert_prefix(talk(e, "LAST\r\n"), "-ERR ");
	env_free(e);
}

static void test_line_too_long(void **state)
{
	(void)state;
	struct env *e = env_new();
	start(e);
	char line[2048];
	/* 510 bytes + CRLF = 512: a (unknown) command */
	memset(line, 'A', 510);
	memcpy(line + 510, "\r\n", 3);
	assert_prefix(talk(e, line), "-ERR Unknown command");
	/* 511 + CRLF: too long */
	memset(line, 'A', 511);
	memcpy(line + 511, "\r\n", 3);
	const char *r = talk(e, line);
	assert_prefix(r, "-ERR ");
	assert_int_equal(strlen(r), strcspn(r, "\n") + 1);  /* one reply */
	/* 1500 bytes that look like commands: one reply, nothing run */
	memset(line, 0, sizeof line);
	for (size_t i = 0; i + 6 <= 1500; i += 6)
		memcpy(line + i, "CAPA  ", 6);
	memcpy(line + 1500, "\r\nCAPA\r\n", 9);
	r = talk(e, line);
	assert_prefix(r, "-ERR ");
	assert_contains(r, "\r\n+OK ");
	assert_int_equal(e->fake.closed, 0);
	/* fed one byte at a time, the same */
	struct env *e2 = env_new();
	start(e2);
	for (size_t i = 0; line[i]; i++)
		pop3d_input(e2->s, line + i, 1);
	assert_string_equal(fresh(e2), r);
	env_free(e2);
	/* and in TRANSACTION */
	mailbox_fill("alice");
	talk(e, "USER alice\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	memset(line, '1', 1000);
	memcpy(line, "LIST ", 5);
	memcpy(line + 1000, "\r\nSTAT\r\n", 9);
	r = talk(e, line);
	assert_prefix(r, "-ERR ");
	char want[64];
	assert_contains(r, stat_reply(want, sizeof want, NMSGS, msgs_total()));
	env_free(e);
}

static void test_error_budget(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->cfg.limits.errors = 3;
	start(e);
	assert_prefix(talk(e, "X1\r\n"), "-ERR ");
	assert_prefix(talk(e, "X2\r\n"), "-ERR ");
	assert_prefix(talk(e, "X3\r\n"), "-ERR ");
	assert_int_equal(e->fake.closed, 0);
	const char *r = talk(e, "X4\r\nCAPA\r\n");
	assert_prefix(r, "-ERR Unknown command\r\n-ERR ");
	assert_lacks(r, "+OK");
	assert_int_equal(e->fake.closed, 1);
	assert_int_equal(e->fake.timeout, 0);
	assert_int_equal(pop3d_input(e->s, "CAPA\r\n", 6), -1);
	env_free(e);

	/* in TRANSACTION: closes without deleting */
	e = env_logged_in();
	e->cfg.limits.errors = 2;
	assert_prefix(talk(e, "DELE 1\r\n"), "+OK ");
	talk(e, "LIST 0\r\nLIST 0\r\nLIST 0\r\nQUIT\r\n");
	assert_int_equal(e->fake.closed, 1);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
	env_free(e);
}

/* ---- tests: QUIT, UPDATE and the lock ---- */

static void test_quit_authorization(void **state)
{
	(void)state;
	mailbox_fill("alice");
	struct env *e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	assert_prefix(talk(e, "QUIT\r\n"), "+OK ");
	assert_int_equal(e->fake.closed, 1);
	assert_int_equal(pop3d_input(e->s, "PASS alice-pw\r\n", 15), -1);
	assert_string_equal(fresh(e), "");
	env_free(e);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
}

static void test_quit_update(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	assert_prefix(talk(e, "DELE 1\r\n"), "+OK ");
	char *want = retr_reply(1);
	assert_string_equal(talk(e, "RETR 2\r\n"), want);
	free(want);
	/* retrieved, then deleted: deleted wins */
	assert_prefix(talk(e, "RETR 3\r\n"), "+OK ");
	assert_prefix(talk(e, "DELE 3\r\n"), "+OK ");
	assert_string_equal(talk(e, "QUIT\r\n"), "+OK Logging out (2 messages deleted)\r\n");
	assert_int_equal(e->fake.closed, 1);
	assert_int_equal(pop3d_input(e->s, "STAT\r\n", 6), -1);
	env_free(e);
	assert_int_equal(count_files("alice", "new"), 1);
	assert_int_equal(count_files("alice", "cur"), 1);
	assert_false(file_exists("alice", "new", msgs[0].name));
	assert_false(file_exists("alice", "new", msgs[2].name));
	assert_true(file_exists("alice", "cur", "1700000002.R2.host:2,S"));
	assert_true(file_exists("alice", "new", msgs[3].name));

	/* the next session sees what is left, with the same uids */
	e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	char lr[128];
	snprintf(lr, sizeof lr, "+OK Logged in: 2 messages (%zu octets)\r\n",
	         strlen(msgs[1].wire) + strlen(msgs[3].wire));
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), lr);
	assert_string_equal(talk(e, "UIDL\r\n"), "+OK Unique-id listing follows\r\n"
	                    "1 1700000002.R2.host\r\n2 1700000004.R4.host\r\n.\r\n");
	want = retr_reply(1);
	char *body = strchr(want, '\n') + 1;
	assert_string_equal(strchr(talk(e, "RETR 1\r\n"), '\n') + 1, body);
	free(want);
	/* RETR again of a message already seen: QUIT leaves it alone */
	assert_string_equal(talk(e, "QUIT\r\n"), "+OK Logging out (0 messages deleted)\r\n");
	env_free(e);
	assert_true(file_exists("alice", "cur", "1700000002.R2.host:2,S"));
	assert_int_equal(count_files("alice", "cur"), 1);

	/* QUIT without changes */
	e = env_logged_in();
	assert_string_equal(talk(e, "QUIT\r\n"), "+OK Logging out (0 messages deleted)\r\n");
	env_free(e);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
	assert_int_equal(count_files("alice", "cur"), 0);
}

static void test_drop_without_quit(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	assert_prefix(talk(e, "DELE 1\r\n"), "+OK ");
	assert_prefix(talk(e, "DELE 2\r\n"), "+OK ");
	talk(e, "RETR 3\r\n");
	pop3d_eof(e->s);
	assert_int_equal(pop3d_input(e->s, "QUIT\r\n", 6), -1);
	assert_string_equal(fresh(e), "");
	pop3d_free(&e->s);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
	assert_int_equal(count_files("alice", "cur"), 0);
	e->fake.closed = 1;
	env_free(e);

	/* the lock went with it */
	e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	env_free(e);
}

static void test_lock_in_use(void **state)
{
	(void)state;
	struct env *a = env_logged_in();
	struct env *b = env_new();
	start(b);
	talk(b, "USER alice\r\n");
	const char *r = talk(b, "PASS alice-pw\r\n");
	assert_prefix(r, "-ERR [IN-USE] ");
	assert_int_equal(b->fake.closed, 0);
	assert_prefix(talk(b, "STAT\r\n"), "-ERR ");   /* still AUTHORIZATION */
	/* APOP meets the same lock */
	char ts[256], digest[33], cmd[128];
	struct env *c = env_new();
	greeting_timestamp(start(c), ts, sizeof ts);
	md5_hex(ts, "alice-apop-secret", digest);
	snprintf(cmd, sizeof cmd, "APOP alice %s\r\n", digest);
	assert_prefix(talk(c, cmd), "-ERR [IN-USE] ");
	env_free(c);
	/* other users are not affected */
	struct env *d = env_new();
	start(d);
	talk(d, "USER bob\r\n");
	assert_prefix(talk(d, "PASS bob-pw\r\n"), "+OK Logged in");
	env_free(d);
	/* once the first session quits, the second gets in */
	assert_prefix(talk(a, "DELE 1\r\nQUIT\r\n"), "+OK ");
	env_free(a);
	talk(b, "USER alice\r\n");
	assert_prefix(talk(b, "PASS alice-pw\r\n"), "+OK Logged in: 3 messages");
	env_free(b);
}

static void test_snapshot(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	mail_write("alice", "new", "1700000009.R9.host", "Subject: late\r\n\r\nx\r\n");
	char want[64];
	assert_string_equal(talk(e, "STAT\r\n"),
	                    stat_reply(want, sizeof want, NMSGS, msgs_total()));
	assert_prefix(talk(e, "RETR 5\r\n"), "-ERR ");
	assert_prefix(talk(e, "LIST 5\r\n"), "-ERR ");
	assert_lacks(talk(e, "UIDL\r\n"), "R9");
	assert_string_equal(talk(e, "QUIT\r\n"), "+OK Logging out (0 messages deleted)\r\n");
	env_free(e);
	assert_true(file_exists("alice", "new", "1700000009.R9.host"));
	e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	assert_prefix(talk(e, "PASS alice-pw\r\n"), "+OK Logged in: 5 messages");
	assert_string_equal(talk(e, "UIDL 5\r\n"), "+OK 5 1700000009.R9.host\r\n");
	env_free(e);
}

/* Another Maildir reader renames or deletes files under the session: the
 * snapshot keeps its numbers, a renamed message is found again, a deleted
 * one gives -ERR and the session goes on. */
static void test_changed_underneath(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	char from[PATH_MAX + 64], to[PATH_MAX + 64];
	snprintf(from, sizeof from, "%s/mail/alice/new/%s", data_dir, msgs[1].name);
	snprintf(to, sizeof to, "%s/mail/alice/cur/%s:2,S", data_dir, msgs[1].name);
	assert_int_equal(rename(from, to), 0);
	snprintf(from, sizeof from, "%s/mail/alice/new/%s", data_dir, msgs[2].name);
	assert_int_equal(unlink(from), 0);
	char *want = retr_reply(1);
	assert_string_equal(talk(e, "RETR 2\r\n"), want);
	free(want);
	const char *r = talk(e, "RETR 3\r\n");
	assert_prefix(r, "-ERR ");
	assert_lacks(r, "SYS/TEMP");
	assert_prefix(talk(e, "TOP 3 0\r\n"), "-ERR ");
	char st[64];
	assert_string_equal(talk(e, "STAT\r\n"),
	                    stat_reply(st, sizeof st, NMSGS, msgs_total()));
	/* deleting a message that is already gone is no failure */
	assert_prefix(talk(e, "DELE 3\r\nDELE 2\r\n"), "+OK ");
	assert_string_equal(talk(e, "QUIT\r\n"), "+OK Logging out (2 messages deleted)\r\n");
	env_free(e);
	assert_int_equal(count_files("alice", "new"), 2);
	assert_int_equal(count_files("alice", "cur"), 0);
}

/* A mailbox that cannot be opened, and an UPDATE that cannot finish:
 * -ERR [SYS/TEMP], never a false +OK. */
static void test_mailbox_errors(void **state)
{
	(void)state;
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/mail", data_dir);
	assert_int_equal(fs_mkdirs(path, 0700), 0);
	snprintf(path, sizeof path, "%s/mail/bob", data_dir);
	testlib_run_cmd("rm -rf '%s'", path);
	FILE *f = fopen(path, "w");   /* a file where the Maildir should be */
	assert_non_null(f);
	fclose(f);
	struct env *e = env_new();
	start(e);
	talk(e, "USER bob\r\n");
	assert_prefix(talk(e, "PASS bob-pw\r\n"), "-ERR [SYS/TEMP] ");
	assert_prefix(talk(e, "STAT\r\n"), "-ERR ");   /* not logged in */
	assert_int_equal(e->fake.closed, 0);
	env_free(e);
	testlib_run_cmd("rm -f '%s'", path);

	/* cur/ vanished: the retrieved message cannot be moved */
	e = env_logged_in();
	talk(e, "RETR 1\r\nDELE 2\r\n");
	snprintf(path, sizeof path, "%s/mail/alice/cur", data_dir);
	testlib_run_cmd("rm -rf '%s'", path);
	assert_prefix(talk(e, "QUIT\r\n"), "-ERR [SYS/TEMP] ");
	assert_int_equal(e->fake.closed, 1);
	env_free(e);
	assert_true(file_exists("alice", "new", msgs[0].name));
}

/* A failed login is answered after limits.auth_delay_ms; a good one is
 * not held back. */
static void test_auth_delay(void **state)
{
	(void)state;
	mailbox_fill("alice");
	struct env *e = env_new();
	e->cfg.limits.auth_delay_ms = 150;
	start(e);
	struct timespec t0, t1;
	talk(e, "USER alice\r\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_prefix(talk(e, "PASS wrong\r\n"), "-ERR [AUTH]");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 150);
	e->cfg.limits.auth_delay_ms = 5000;
	talk(e, "USER alice\r\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 5000);
	env_free(e);
}

/* ---- tests: timers, shutdown, jobs ---- */

static void test_timeout(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	assert_int_equal(e->fake.timeout, 600);
	talk(e, "DELE 1\r\nRETR 2\r\n");
	pop3d_timeout(e->s);
	const char *r = fresh(e);
	assert_prefix(r, "-ERR ");
	assert_int_equal(strlen(r), strcspn(r, "\n") + 1);
	assert_int_equal(e->fake.closed, 1);
	assert_int_equal(e->fake.timeout, 0);
	assert_int_equal(pop3d_input(e->s, "QUIT\r\n", 6), -1);
	env_free(e);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
	assert_int_equal(count_files("alice", "cur"), 0);

	/* in AUTHORIZATION */
	e = env_new();
	start(e);
	pop3d_timeout(e->s);
	assert_prefix(fresh(e), "-ERR ");
	assert_int_equal(e->fake.closed, 1);
	env_free(e);

	/* in the middle of AUTH */
	e = env_new();
	start(e);
	talk(e, "AUTH PLAIN\r\n");
	pop3d_timeout(e->s);
	assert_prefix(fresh(e), "-ERR ");
	assert_int_equal(e->fake.closed, 1);
	env_free(e);
}

static void test_shutdown(void **state)
{
	(void)state;
	struct env *e = env_logged_in();
	talk(e, "DELE 1\r\n");
	pop3d_shutdown(e->s);
	assert_prefix(fresh(e), "-ERR [SYS/TEMP] ");
	assert_int_equal(e->fake.closed, 1);
	env_free(e);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);

	e = env_new();
	start(e);
	pop3d_shutdown(e->s);
	assert_prefix(fresh(e), "-ERR [SYS/TEMP] ");
	assert_int_equal(e->fake.closed, 1);
	env_free(e);

	/* during a login job: the login's reply, then the goodbye */
	mailbox_fill("alice");
	e = env_new();
	e->fake.defer_jobs = 1;
	start(e);
	talk(e, "USER alice\r\nPASS alice-pw\r\nSTAT\r\n");
	pop3d_shutdown(e->s);
	assert_string_equal(fresh(e), "");
	run_deferred(e);
	const char *r = fresh(e);
	assert_prefix(r, logged_in_reply());
	assert_contains(r, "-ERR [SYS/TEMP] ");
	assert_lacks(r, "+OK 4 ");
	assert_int_equal(e->fake.closed, 1);
	env_free(e);
}

static void test_deferred_jobs(void **state)
{
	(void)state;
	mailbox_fill("alice");
	struct env *e = env_new();
	e->fake.defer_jobs = 1;
	start(e);
	assert_string_equal(talk(e, "USER alice\r\nPASS alice-pw\r\nSTAT\r\nLIST 1\r\n"),
	                    "+OK Send your password\r\n");
	assert_true(pop3d_busy(e->s));
	assert_int_equal(e->fake.timeout, 0);
	/* input keeps coming while the job runs: buffered */
	assert_string_equal(talk(e, "NOOP\r\n"), "");
	assert_true(pop3d_buffered(e->s) > 0);
	run_deferred(e);
	assert_false(pop3d_busy(e->s));
	char want[256], st[64];
	snprintf(want, sizeof want, "%s%s+OK 1 %zu\r\n+OK Still here\r\n",
	         logged_in_reply(), stat_reply(st, sizeof st, NMSGS, msgs_total()),
	         strlen(msgs[0].wire));
	assert_string_equal(fresh(e), want);
	assert_int_equal(e->fake.timeout, 600);
	/* QUIT as a job */
	assert_string_equal(talk(e, "DELE 1\r\nQUIT\r\n"), "+OK Message 1 marked for deletion\r\n");
	assert_true(pop3d_busy(e->s));
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
	run_deferred(e);
	assert_string_equal(fresh(e), "+OK Logging out (1 message deleted)\r\n");
	assert_int_equal(e->fake.closed, 1);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS - 1);
	env_free(e);

	/* the client leaves during the login job: the lock is released */
	mailbox_fill("alice");
	e = env_new();
	e->fake.defer_jobs = 1;
	start(e);
	talk(e, "USER alice\r\nPASS alice-pw\r\nDELE 1\r\nQUIT\r\n");
	pop3d_eof(e->s);
	assert_true(pop3d_busy(e->s));
	run_deferred(e);
	assert_string_equal(fresh(e), "");
	assert_false(pop3d_busy(e->s));
	pop3d_free(&e->s);
	e->fake.closed = 1;
	env_free(e);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS);
	e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	assert_string_equal(talk(e, "PASS alice-pw\r\n"), logged_in_reply());
	env_free(e);

	/* the client leaves during the QUIT job: the UPDATE still happens (the
	 * client asked for it) and nothing more is written */
	e = env_logged_in();
	e->fake.defer_jobs = 1;
	talk(e, "DELE 1\r\nQUIT\r\n");
	pop3d_eof(e->s);
	run_deferred(e);
	assert_string_equal(fresh(e), "");
	pop3d_free(&e->s);
	e->fake.closed = 1;
	env_free(e);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS - 1);
}

/* The owner must not free a session while a job is out; pop3d_busy says
 * so, whatever else happened to the session meanwhile. */
static void test_busy_until_job_done(void **state)
{
	(void)state;
	mailbox_fill("alice");
	struct env *e = env_new();
	e->fake.defer_jobs = 1;
	start(e);
	talk(e, "USER alice\r\nPASS alice-pw\r\n");
	assert_true(pop3d_busy(e->s));
	/* a flood of pipelined input while the job is out closes the session */
	size_t n = 2 * 1024 * 1024;
	char *flood = malloc(n);
	assert_non_null(flood);
	for (size_t i = 0; i < n; i += 6)
		memcpy(flood + i, "NOOP\r\n", n - i < 6 ? n - i : 6);
	int r = pop3d_input(e->s, flood, n);
	free(flood);
	int closed = e->fake.closed;
	fresh(e);
	/* ... but the job is still out: the owner must not free it yet */
	int busy = pop3d_busy(e->s);
	run_deferred(e);
	int busy_after = pop3d_busy(e->s);
	const char *after = fresh(e);
	int late = e->fake.late_writes;
	char late_text[128];
	snprintf(late_text, sizeof late_text, "%s", after);
	/* the checks come after the clean-up so a failure leaks nothing */
	pop3d_free(&e->s);
	e->fake.late_writes = 0;
	env_free(e);
	e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	char login[256];
	snprintf(login, sizeof login, "%s", talk(e, "PASS alice-pw\r\n"));
	env_free(e);

	assert_int_equal(r, -1);
	assert_int_equal(closed, 1);
	assert_true(busy);
	assert_false(busy_after);
	if (late)
		fail_msg("%d write(s) after close: [%s]", late, late_text);
	assert_string_equal(login, logged_in_reply());   /* not left locked */
}

/* ---- tests: pipelining and streaming ---- */

/* Output of a whole session after the greeting, fed whole or byte by
 * byte; the mailbox is refilled first. */
static char *session_output(const char *input, size_t chunk, int *writes)
{
	mailbox_fill("alice");
	struct env *e = env_new();
	start(e);
	size_t len = strlen(input);
	for (size_t i = 0; i < len; i += chunk)
		pop3d_input(e->s, input + i, len - i < chunk ? len - i : chunk);
	char *out = strdup(fresh(e));
	*writes = e->fake.writes;
	env_free(e);
	return out;
}

static void test_pipelining_whole_and_bytewise(void **state)
{
	(void)state;
	char longline[700];
	memset(longline, 'x', 600);
	memcpy(longline + 600, "\r\n", 3);
	struct buf in = BUF_INIT;
	buf_puts(&in, "CAPA\r\nUSER alice\r\nPASS alice-pw\r\nSTAT\r\nLIST\r\n"
	              "UIDL\r\nLIST 2\r\nUIDL 4\r\nRETR 1\r\nRETR 4\r\nTOP 2 1\r\n"
	              "BOGUS\r\n");
	buf_puts(&in, longline);
	buf_puts(&in, "DELE 3\r\nLIST 3\r\nRSET\r\nDELE 1\nNOOP\r\nRETR 2\r\n"
	              "QUIT\r\nSTAT\r\n");
	int w_whole, w_bytes, w_seven;
	char *whole = session_output(buf_cstr(&in), in.len, &w_whole);
	int new_whole = count_files("alice", "new");
	char *bytes = session_output(buf_cstr(&in), 1, &w_bytes);
	int new_bytes = count_files("alice", "new");
	char *seven = session_output(buf_cstr(&in), 7, &w_seven);
	assert_string_equal(whole, bytes);
	assert_string_equal(whole, seven);
	/* 1 deleted, 2 and 4 retrieved: only 3 is left in new/ */
	assert_int_equal(new_whole, 1);
	assert_int_equal(new_bytes, 1);
	assert_int_equal(count_files("alice", "new"), 1);
	assert_int_equal(count_files("alice", "cur"), 2);
	/* every command was answered, in order, and nothing after QUIT */
	assert_prefix(whole, "+OK Capability list follows\r\n");
	assert_contains(whole, "-ERR Unknown command\r\n-ERR Line too long\r\n");
	assert_contains(whole, "+OK Message 3 marked for deletion\r\n-ERR ");
	const char *q = strstr(whole, "+OK Logging out (1 message deleted)\r\n");
	assert_non_null(q);
	assert_string_equal(q, "+OK Logging out (1 message deleted)\r\n");
	/* replies are batched: fed whole, far fewer writes than commands */
	assert_true(w_whole * 2 < w_bytes);
	free(whole);
	free(bytes);
	free(seven);
	buf_free(&in);
}

/* A message of about size bytes whose lines (some bare LF, some starting
 * with '.') make stuffing and CRLF conversion matter across chunks. */
static char *big_message(size_t size, size_t *len)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "Subject: big\r\n\r\n");
	for (unsigned i = 0; b.len < size; i++) {
		if (i % 7 == 0)
			buf_printf(&b, ".dot line %u\r\n", i);
		else if (i % 5 == 0)
			buf_printf(&b, "bare lf line %u\n", i);
		else if (i % 11 == 0)
			buf_puts(&b, ".\r\n");
		else
			buf_printf(&b, "line %u %0*u\r\n", i, (int)(i % 97), i);
	}
	assert_non_null(buf_cstr(&b));
	return buf_steal(&b, len);
}

static void test_streaming(void **state)
{
	(void)state;
	size_t blen;
	char *big = big_message(1500000, &blen);
	const char *input = "RETR 5\r\nNOOP\r\nTOP 5 3\r\nLIST 5\r\n";

	/* not streamed: the reference */
	mailbox_fill("alice");
	mail_write_n("alice", "new", "1700000005.R5.host", big, blen);
	struct env *e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	assert_prefix(talk(e, "PASS alice-pw\r\n"), "+OK Logged in: 5 messages");
	char *reference = strdup(talk(e, input));
	env_free(e);
	/* the size LIST gives is what RETR sent before stuffing */
	struct buf body = BUF_INIT;
	size_t used = unstuff(reference, strlen(reference), &body);
	assert_true(used > 0);
	char want[64];
	snprintf(want, sizeof want, "+OK 5 %zu\r\n", body.len);
	assert_string_equal(reference + strlen(reference) - strlen(want), want);
	snprintf(want, sizeof want, "+OK %zu octets\r\n", body.len);
	assert_prefix(reference, want);
	buf_free(&body);

	/* streamed: the owner's output is "full" until it says it drained */
	next_with_pending = 1;
	e = env_new();
	start(e);
	talk(e, "USER alice\r\n");
	assert_prefix(talk(e, "PASS alice-pw\r\n"), "+OK Logged in: 5 messages");
	e->fake.backlog = 0;
	struct buf got = BUF_INIT;
	buf_puts(&got, talk(e, input));
	/* it stopped: above the high mark, the message unfinished, the
	 * pipelined NOOP unanswered and held */
	assert_true(e->fake.backlog >= SESSION_OUTPUT_HIGH);
	assert_true(got.len < strlen(reference));
	assert_null(strstr(buf_cstr(&got), "Still here"));
	assert_true(pop3d_buffered(e->s) > 0);
	assert_int_equal(e->fake.timeout, 600);
	/* nothing goes on until the owner says the output drained */
	assert_string_equal(talk(e, ""), "");
	int rounds = 0;
	while (got.len < strlen(reference) && rounds < 1000) {
		e->fake.backlog = SESSION_OUTPUT_LOW - 1;
		pop3d_drained(e->s);
		buf_puts(&got, fresh(e));
		rounds++;
	}
	assert_true(rounds >= 4);   /* 1.5 MB in <= 256 KiB + a chunk steps */
	/* it never ran far past the mark: at most one stuffed chunk over */
	assert_true(e->fake.max_backlog < SESSION_OUTPUT_HIGH + 2 * 65536 + 64);
	assert_int_equal(got.len, strlen(reference));
	assert_string_equal(buf_cstr(&got), reference);
	/* a spurious drained is harmless */
	pop3d_drained(e->s);
	assert_string_equal(fresh(e), "");
	/* the session goes on */
	e->fake.backlog = 0;
	assert_string_equal(talk(e, "NOOP\r\n"), "+OK Still here\r\n");
	buf_free(&got);

	/* the client leaves in the middle of a RETR: nothing changes, and a
	 * late drained does nothing */
	e->fake.backlog = 0;
	talk(e, "RETR 5\r\n");
	assert_true(e->fake.backlog >= SESSION_OUTPUT_HIGH);
	pop3d_eof(e->s);
	pop3d_drained(e->s);
	assert_string_equal(fresh(e), "");
	pop3d_free(&e->s);
	e->fake.closed = 1;
	env_free(e);
	assert_int_equal(count_files("alice", "new"), (int)NMSGS + 1);
	assert_int_equal(count_files("alice", "cur"), 0);
	free(reference);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_greeting_long_hostname),
		cmocka_unit_test(test_user_pass),
		cmocka_unit_test(test_auth_failure_limit),
		cmocka_unit_test(test_apop),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_auth_login),
		cmocka_unit_test(test_auth_mechanisms),
		cmocka_unit_test(test_plaintext_refused),
		cmocka_unit_test(test_capa),
		cmocka_unit_test(test_stls),
		cmocka_unit_test(test_stat_list_uidl),
		cmocka_unit_test(test_retr_sizes_and_stuffing),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_dele_rset),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_wrong_state),
		cmocka_unit_test(test_unknown_and_junk),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_error_budget),
		cmocka_unit_test(test_quit_authorization),
		cmocka_unit_test(test_quit_update),
		cmocka_unit_test(test_drop_without_quit),
		cmocka_unit_test(test_lock_in_use),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_changed_underneath),
		cmocka_unit_test(test_mailbox_errors),
		cmocka_unit_test(test_auth_delay),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_deferred_jobs),
		cmocka_unit_test(test_busy_until_job_done),
		cmocka_unit_test(test_pipelining_whole_and_bytewise),
		cmocka_unit_test(test_streaming),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
