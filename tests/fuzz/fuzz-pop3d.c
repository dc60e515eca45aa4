/* Fuzzes whole POP3 server sessions (src/pop3) against a real Maildir: one
 * session per input, fed in chunks, with STLS, jobs and streaming
 * back-pressure simulated by the harness. The mailbox must come out of
 * every run exactly as it went in, and the lock must be free again.
 *
 * The first byte picks the mode:
 *   bit 0      0: log in first ("USER u\r\nPASS p\r\n" is prepended) so
 *              TRANSACTION commands are reached; 1: start unauthenticated
 *   bit 1      the owner's output reports itself full (io.pending) until
 *              the harness drains it, one step after each chunk
 *   bits 2-3   how the session ends before pop3d_eof: 0 as is,
 *              1 pop3d_shutdown, 2 pop3d_timeout (in the middle of a
 *              paused RETR if there is one), 3 as is, but every STLS
 *              handshake fails
 *   bits 4-7   the chunk size, from chunk_sizes[] (0: all at once)
 *
 * QUIT is the one command that changes the mailbox (UPDATE commits the
 * DELEs and moves retrieved messages to cur/). Rather than rebuilding the
 * Maildir after such runs, every "QUIT" in the input (any case) has its Q
 * replaced by an X before the session sees it: the verb can then never be
 * formed, a run can never change the mailbox legitimately, and so any
 * change at all is a bug the harness reports (abort). UPDATE is covered
 * by the unit tests. */
#include <crypt.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/auth/users.h"
#include "../../src/lib/config.h"
#include "../../src/lib/fs.h"
#include "../../src/lib/log.h"
#include "../../src/msg/dotstuff.h"
#include "../../src/pop3/pop3d.h"
#include "../../src/store/mailbox.h"

#define FUZZ_USER "u"
#define FUZZ_PASSWORD "p"
#define FUZZ_LOGIN "USER " FUZZ_USER "\r\nPASS " FUZZ_PASSWORD "\r\n"
/* drained calls per run at most, so a run always ends */
#define FUZZ_MAX_DRAINS 4096

static const size_t chunk_sizes[16] = {
	0, 1, 2, 3, 5, 7, 13, 64, 100, 255, 511, 512, 513, 1024, 4096, 65536,
};

/* ---- the fixture, made once ---- */

static char data_dir[] = "/tmp/fuzz-pop3d-XXXXXX";
static char maildir[sizeof data_dir + 32];
static struct users users_db;
static char *domains[] = {"example.org"};
static struct posthorn_config cfg;
static struct cfg_listener listener;
static int files_new, files_cur;

struct fuzz_msg {
	const char *sub;
	const char *name;      /* "%llu" in it: the size goes there */
	const char *text;      /* NULL: the big one */
	size_t len;            /* 0: strlen(text) */
};

#define ODD_TEXT "Subject: odd\r\rX: y\r\n\r\nnul \0 byte\r\r\n.\r\n\r\n."

static const struct fuzz_msg fuzz_msgs[] = {
	{"new", "1700000001.R1.fuzz",
	 "From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n", 0},
	{"new", "1700000002.R2.fuzz",
	 "From: b@example.org\nSubject: bare lf\n\nline1\n.line2\n", 0},
	{"new", "1700000003.R3.fuzz",
	 "Subject: no end\r\n\r\n.\r\n..\r\nlast line without newline", 0},
	{"new", "1700000004.R4.fuzz,S=41,W=%llu", ODD_TEXT, sizeof ODD_TEXT - 1},
	{"cur", "1700000005.R5.fuzz:2,S",
	 "Subject: seen\r\n\r\nalready seen\r\n", 0},
	{"new", "1700000006.R6.fuzz,W=%llu", NULL, 0},
	{"new", "1700000007.R7 with space", "Subject: bad uid\r\n\r\nx\r\n", 0},
	{"new", "1700000008.R8.fuzz", "", 0},
};

/* A message over SESSION_OUTPUT_HIGH so back-pressure pauses it. */
static char *fuzz_big(size_t *len)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "Subject: big\r\n\r\n");
	for (unsigned i = 0; b.len < SESSION_OUTPUT_HIGH + 40000; i++) {
		if (i % 9 == 0)
			buf_printf(&b, ".dotted %u\r\n", i);
		else if (i % 4 == 0)
			buf_printf(&b, "bare %u\n", i);
		else
			buf_printf(&b, "line %u of the big message, padded %0*u\r\n",
			           i, (int)(i % 61), i);
	}
	char *p = buf_steal(&b, len);
	if (!p)
		abort();
	return p;
}

static int fuzz_rm(const char *path, const struct stat *st, int flag,
                   struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void fuzz_cleanup(void)
{
	users_free(&users_db);
	nftw(data_dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void fuzz_write_file(const char *sub, const char *name, const char *data,
                            size_t len)
{
	char path[sizeof maildir + 256];
	snprintf(path, sizeof path, "%s/%s", maildir, sub);
	if (fs_mkdirs(path, 0700) < 0)
		abort();
	snprintf(path, sizeof path, "%s/%s/%s", maildir, sub, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static int fuzz_count(const char *sub)
{
	char path[sizeof maildir + 16];
	snprintf(path, sizeof path, "%s/%s", maildir, sub);
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		abort();
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* yescrypt at its default cost takes ~20 ms a login; the fuzzer's user gets
 * the cheapest cost so runs stay fast (a failed login for an unknown name
 * still pays the default, and auth_failures bounds those per run). */
static void fuzz_cheap_hash(void)
{
	static const char salt[16] = "fuzz-pop3d-salt";
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof cd);
	const char *hash = crypt_gensalt_rn("$y$", 1, salt, sizeof salt, setting,
	                                    sizeof setting)
	                   ? crypt_r(FUZZ_PASSWORD, setting, &cd) : NULL;
	struct user *u = (struct user *)users_find(&users_db, FUZZ_USER);
	char *copy = hash && hash[0] == '$' ? strdup(hash) : NULL;
	if (!u || !copy)
		abort();
	free(u->hash);
	u->hash = copy;
}

static void fuzz_setup(void)
{
	struct buf err = BUF_INIT;
	log_open("fuzz-pop3d", 1, LOG_LVL_ERROR);
	if (!mkdtemp(data_dir))
		abort();
	atexit(fuzz_cleanup);
	if (users_add(data_dir, FUZZ_USER, FUZZ_PASSWORD, &err) < 0 ||
	    users_set_apop(data_dir, FUZZ_USER, "apop-secret", &err) < 0 ||
	    users_load(data_dir, &users_db, &err) < 0) {
		fprintf(stderr, "fuzz-pop3d: %s\n", buf_cstr(&err));
		abort();
	}
	buf_free(&err);
	fuzz_cheap_hash();
	snprintf(maildir, sizeof maildir, "%s/mail/%s", data_dir, FUZZ_USER);
	char tmp[sizeof maildir + 8];
	snprintf(tmp, sizeof tmp, "%s/tmp", maildir);
	if (fs_mkdirs(tmp, 0700) < 0)
		abort();
	for (size_t i = 0; i < sizeof fuzz_msgs / sizeof *fuzz_msgs; i++) {
		const struct fuzz_msg *m = &fuzz_msgs[i];
		size_t len = m->len ? m->len : m->text ? strlen(m->text) : 0;
		char *big = m->text ? NULL : fuzz_big(&len);
		const char *text = m->text ? m->text : big;
		/* ",W=" as posthorn writes it: the size RETR sends */
		struct msg_crlf_size cs;
		msg_crlf_size_init(&cs);
		msg_crlf_size_feed(&cs, text, len);
		char name[128];
		snprintf(name, sizeof name, m->name, msg_crlf_size_end(&cs));
		fuzz_write_file(m->sub, name, text, len);
		free(big);
	}
	files_new = fuzz_count("new");
	files_cur = fuzz_count("cur");

	cfg.hostname = "pop.example.org";
	cfg.domains = domains;
	cfg.ndomains = 1;
	cfg.data_dir = data_dir;
	cfg.plaintext_auth_loopback = 1;
	cfg.limits = (struct cfg_limits){
		.message_size = 10000, .recipients = 5, .line_length = 1000,
		.header_size = 4096, .commands_before_mail = 50, .errors = 10,
		.connections = 10, .connections_per_ip = 10, .command_timeout = 300,
		.data_timeout = 180, .auth_failures = 3, .auth_delay_ms = 0,
		.shutdown_timeout = 30, .pop3_timeout = 600,
	};
	listener = (struct cfg_listener){
		.name = "pop3", .address = "127.0.0.1", .port = 110,
		.proto = CFG_PROTO_POP3, .tls = CFG_TLS_STARTTLS,
	};
}

/* ---- the fake owner ---- */

struct fuzz_owner {
	int closed;
	int tls_pending;       /* start_tls was called, tls_done not yet */
	size_t backlog;        /* written, "not yet sent" */
};

static void owner_write(void *ctx, const void *data, size_t len)
{
	struct fuzz_owner *o = ctx;
	(void)data;
	if (o->closed)
		abort();           /* the session wrote after io->close */
	o->backlog += len;
}

static void owner_start_tls(void *ctx)
{
	((struct fuzz_owner *)ctx)->tls_pending = 1;
}

static void owner_close(void *ctx)
{
	struct fuzz_owner *o = ctx;
	if (o->closed)
		abort();           /* closed twice */
	o->closed = 1;
}

static void owner_run_job(void *ctx, void (*job)(void *), void (*done)(void *),
                          void *arg)
{
	(void)ctx;
	job(arg);
	done(arg);
}

static size_t owner_pending(void *ctx)
{
	return ((struct fuzz_owner *)ctx)->backlog;
}

/* ---- one run ---- */

/* Makes sure no "QUIT" verb can reach the session (see the top). */
static void fuzz_mask_quit(char *p, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i++)
		if (strncasecmp(p + i, "quit", 4) == 0)
			p[i] = 'X';
}

static void fuzz_check_mailbox(void)
{
	if (fuzz_count("new") != files_new || fuzz_count("cur") != files_cur)
		abort();           /* changed without QUIT */
	struct mailbox *mb = NULL;
	struct buf err = BUF_INIT;
	if (mailbox_open(maildir, &mb, &err) != MAILBOX_OK)
		abort();           /* the lock was not released */
	mailbox_close(&mb);
	buf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		fuzz_setup();
		ready = 1;
	}
	if (size == 0)
		return 0;
	unsigned mode = data[0];
	int login = !(mode & 1), stream = (mode >> 1) & 1;
	unsigned end = (mode >> 2) & 3;
	size_t chunk = chunk_sizes[mode >> 4];

	size_t prefix = login ? strlen(FUZZ_LOGIN) : 0;
	size_t len = prefix + size - 1;
	char *in = malloc(len ? len : 1);
	if (!in)
		return 0;
	memcpy(in, FUZZ_LOGIN, prefix);
	memcpy(in + prefix, data + 1, size - 1);
	fuzz_mask_quit(in, len);

	struct fuzz_owner owner = {0};
	struct session_io io = {
		.ctx = &owner, .write = owner_write, .start_tls = owner_start_tls,
		.close = owner_close, .run_job = owner_run_job,
		.pending = stream ? owner_pending : NULL,
	};
	struct pop3d_params params = {
		.cfg = &cfg, .listener = &listener, .users = &users_db,
		.session_id = "fuzz",
	};
	struct sockaddr_in *sin = (struct sockaddr_in *)&params.peer.addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	params.peer.addrlen = sizeof *sin;
	snprintf(params.peer.ip, sizeof params.peer.ip, "127.0.0.1");
	struct pop3d_session *s = pop3d_new(&params, &io);
	if (!s)
		abort();
	pop3d_start(s);

	int drains = 0;
	for (size_t off = 0; off < len && !owner.closed;) {
		size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;
		int r = pop3d_input(s, in + off, n);
		off += n;
		if (owner.tls_pending) {
			owner.tls_pending = 0;
			pop3d_tls_done(s, end != 3, end != 3 ? "TLSv1.3 fuzz" : NULL);
			if (end == 3)
				break;     /* the owner closes after a failed handshake */
		}
		if (stream && drains < FUZZ_MAX_DRAINS) {
			owner.backlog = 0;
			pop3d_drained(s);
			drains++;
		}
		if (r < 0)
			break;
	}
	/* A shutdown waits for a paused RETR; a timeout hits it mid-stream;
	 * otherwise the client reads on until the RETR is done. */
	if (end == 1 && !owner.closed)
		pop3d_shutdown(s);
	if (end == 2 && !owner.closed)
		pop3d_timeout(s);
	while (stream && !owner.closed && owner.backlog && drains < FUZZ_MAX_DRAINS) {
		owner.backlog = 0;
		pop3d_drained(s);
		drains++;
	}
	pop3d_eof(s);
	if (pop3d_busy(s))
		abort();           /* jobs run inline: nothing can be out */
	pop3d_free(&s);
	free(in);
	fuzz_check_mailbox();
	return 0;
}
