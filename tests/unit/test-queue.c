/* Unit tests for src/store/queue.c: the envelope text (format, strict
 * parse with "line N" errors, round trips) and enqueueing items durably. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/lib/fs.h"
#include "../../src/store/queue.h"
#include "../../src/store/spool.h"
#include "testlib.h"

static struct queue_rcpt full_rcpts[] = {
	{"bob@example.org", QUEUE_PENDING, NULL, NULL, NULL},
	{"carol@example.net", QUEUE_DELIVERED, "SUCCESS,FAILURE",
	 "rfc822;carol+2B@example.net", "250 2.0.0 Ok: queued as 1234"},
	{"d\xc3\xa9@\xe4\xbe\x8b.test", QUEUE_FAILED, NULL, NULL,
	 "550 5.1.1 <d@x> | unknown  user |"},
	{"eve@example.com", QUEUE_PENDING, "NEVER", NULL, ""},
};

static const struct queue_envelope full_env = {
	.id = "20240101.abc-1", .created = 1700000000, .sender = "alice@example.org",
	.body = "8bitmime", .smtputf8 = 1, .envid = "QQ314159", .ret = "hdrs",
	.attempts = 3, .next_attempt = 1700003600, .rcpts = full_rcpts,
	.nrcpts = sizeof full_rcpts / sizeof *full_rcpts,
};

static const char full_text[] =
	"version 1\n"
	"id 20240101.abc-1\n"
	"created 1700000000\n"
	"sender alice@example.org\n"
	"body 8bitmime\n"
	"smtputf8 1\n"
	"envid QQ314159\n"
	"ret hdrs\n"
	"attempts 3\n"
	"next 1700003600\n"
	"rcpt bob@example.org pending\n"
	"rcpt carol@example.net delivered NOTIFY=SUCCESS,FAILURE "
	"ORCPT=rfc822;carol+2B@example.net | 250 2.0.0 Ok: queued as 1234\n"
	"rcpt d\xc3\xa9@\xe4\xbe\x8b.test failed | 550 5.1.1 <d@x> | unknown  user |\n"
	"rcpt eve@example.com pending NOTIFY=NEVER | \n";

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void assert_env_equal(const struct queue_envelope *a,
                             const struct queue_envelope *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->created, b->created);
	assert_string_equal(a->sender, b->sender);
	assert_string_equal(a->body, b->body ? b->body : "7bit");
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_str_or_null(a->envid, b->envid);
	assert_str_or_null(a->ret, b->ret);
	assert_int_equal(a->attempts, b->attempts);
	assert_int_equal(a->next_attempt, b->next_attempt);
	assert_int_equal(a->nrcpts, b->nrcpts);
	for (size_t i = 0; i < a->nrcpts; i++) {
		assert_string_equal(a->rcpts[i].address, b->rcpts[i].address);
		assert_int_equal(a->rcpts[i].state, b->rcpts[i].state);
		assert_str_or_null(a->rcpts[i].notify, b->rcpts[i].notify);
		assert_str_or_null(a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		assert_str_or_null(a->rcpts[i].last_reply, b->rcpts[i].last_reply);
	}
}

static void test_format_exact_text(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	buf_puts(&out, "kept|");
	assert_int_equal(queue_envelope_format(&full_env, &out), 0);
	assert_memory_equal(out.data, "kept|", 5);
	assert_string_equal(buf_cstr(&out) + 5, full_text);
	buf_free(&out);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct queue_envelope env;
	struct buf err = BUF_INIT, again = BUF_INIT;
	assert_int_equal(queue_envelope_parse(full_text, sizeof full_text - 1,
	                                      &env, &err), 0);
	assert_int_equal(err.len, 0);
	assert_env_equal(&env, &full_env);
	assert_int_equal(queue_envelope_format(&env, &again), 0);
	assert_string_equal(buf_cstr(&again), full_text);
	queue_envelope_free(&env);
	assert_null(env.id);
	assert_int_equal(env.nrcpts, 0);
	queue_envelope_free(&env); /* twice is harmless */
	queue_envelope_free(NULL);

	/* The null sender and a minimal envelope with defaults. */
	struct queue_rcpt one = {"x@y", QUEUE_PENDING, NULL, NULL, NULL};
	struct queue_envelope bounce = {
		.id = "b", .created = 0, .sender = "", .rcpts = &one, .nrcpts = 1,
	};
	buf_reset(&again);
	assert_int_equal(queue_envelope_format(&bounce, &again), 0);
	assert_string_equal(buf_cstr(&again),
	                    "version 1\nid b\ncreated 0\nsender\nbody 7bit\n"
	                    "smtputf8 0\nattempts 0\nnext 0\nrcpt x@y pending\n");
	assert_int_equal(queue_envelope_parse(again.data, again.len, &env, NULL), 0);
	assert_env_equal(&env, &bounce);
	queue_envelope_free(&env);

	const char minimal[] = "version 1\nid m\ncreated 5\nsender \nrcpt a pending\n";
	assert_int_equal(queue_envelope_parse(minimal, sizeof minimal - 1, &env,
	                                      NULL), 0);
	assert_string_equal(env.sender, "");
	assert_string_equal(env.body, "7bit");
	assert_int_equal(env.attempts, 0);
	assert_int_equal(env.next_attempt, 0);
	assert_null(env.envid);
	assert_null(env.ret);
	assert_null(env.rcpts[0].last_reply);
	queue_envelope_free(&env);

	/* A reply separator with nothing after it at all. */
	const char bare[] = "version 1\nid m\ncreated 5\nsender\nrcpt a failed |\n";
	assert_int_equal(queue_envelope_parse(bare, sizeof bare - 1, &env, NULL), 0);
	assert_string_equal(env.rcpts[0].last_reply, "");
	queue_envelope_free(&env);
	buf_free(&err);
	buf_free(&again);
}

/* Many recipients grow the array several times. */
static void test_many_recipients(void **state)
{
	(void)state;
	struct buf text = BUF_INIT, again = BUF_INIT;
	buf_puts(&text, "version 1\nid many\ncreated 1\nsender s@x\n");
	for (int i = 0; i < 1000; i++)
		buf_printf(&text, "rcpt r%d@x pending\n", i);
	struct queue_envelope env;
	assert_int_equal(queue_envelope_parse(text.data, text.len, &env, NULL), 0);
	assert_int_equal(env.nrcpts, 1000);
	assert_string_equal(env.rcpts[999].address, "r999@x");
	assert_int_equal(queue_envelope_format(&env, &again), 0);
	assert_true(again.len > text.len);
	queue_envelope_free(&env);
	buf_free(&text);
	buf_free(&again);
}

struct parse_case {
	const char *text;
	const char *error; /* the whole expected message */
};

#define HEAD "version 1\nid i\ncreated 1\nsender s@x\n"

static const struct parse_case parse_errors[] = {
	{"", "line 1: end of envelope without \"version\""},
	{"id i\n", "line 1: an envelope starts with \"version 1\""},
	{"version 2\n", "line 1: unsupported version \"2\""},
	{"version 1", "line 1: no newline at the end (truncated?)"},
	{"version  1\n", "line 1: unsupported version \" 1\""},
	{"version 1\n\n", "line 2: empty line"},
	{"version 1\r\n", "line 1: control character at column 10"},
	{"version 1\nid \x7f\n", "line 2: control character at column 4"},
	{"version 1\nversion 1\n", "line 2: \"version\" given twice"},
	{"version 1\nfrom x\n", "line 2: unknown key \"from\""},
	{"version 1\nID i\n", "line 2: unknown key \"ID\""},
	{"version 1\nid ../x\n", "line 2: id is not a safe file name"},
	{"version 1\nid\n", "line 2: id is not a safe file name"},
	{"version 1\nid a b\n", "line 2: id is not a safe file name"},
	{"version 1\nid i\nid j\n", "line 3: \"id\" given twice"},
	{"version 1\ncreated -1\n", "line 2: bad time \"-1\""},
	{"version 1\ncreated +1\n", "line 2: bad time \"+1\""},
	{"version 1\ncreated 01\n", "line 2: bad time \"01\""},
	{"version 1\ncreated\n", "line 2: bad time \"\""},
	{"version 1\ncreated 1x\n", "line 2: bad time \"1x\""},
	{"version 1\ncreated 9223372036854775808\n",
	 "line 2: bad time \"9223372036854775808\""},
	{"version 1\nnext 99999999999999999999\n",
	 "line 2: bad time \"99999999999999999999\""},
	{"version 1\nsender a b\n", "line 2: sender contains a space"},
	{"version 1\nsender  \n", "line 2: sender contains a space"},
	{"version 1\nbody 8bit\n", "line 2: body is not 7bit, 8bitmime or binarymime"},
	{"version 1\nsmtputf8 yes\n", "line 2: smtputf8 is not 0 or 1"},
	{"version 1\nsmtputf8 \n", "line 2: smtputf8 is not 0 or 1"},
	{"version 1\nenvid\n", "line 2: envid is empty or contains a space"},
	{"version 1\nenvid a b\n", "line 2: envid is empty or contains a space"},
	{"version 1\nret all\n", "line 2: ret is not full or hdrs"},
	{"version 1\nattempts 2147483648\n", "line 2: bad attempt count"},
	{"version 1\nattempts -3\n", "line 2: bad attempt count"},
	{HEAD "rcpt\n", "line 5: recipient without address"},
	{HEAD "rcpt  pending\n", "line 5: recipient without address"},
	{HEAD "rcpt a\n", "line 5: recipient without state"},
	{HEAD "rcpt a \n", "line 5: recipient without state"},
	{HEAD "rcpt a sent\n",
	 "line 5: recipient state is not pending, delivered or failed"},
	{HEAD "rcpt a pending \n", "line 5: empty recipient field (extra space)"},
	{HEAD "rcpt a pending  | x\n", "line 5: empty recipient field (extra space)"},
	{HEAD "rcpt a pending X=1\n", "line 5: unknown recipient field \"X=1\""},
	{HEAD "rcpt a pending NOTIFY=\n", "line 5: unknown recipient field \"NOTIFY=\""},
	{HEAD "rcpt a pending notify=NEVER\n",
	 "line 5: unknown recipient field \"notify=NEVER\""},
	{HEAD "rcpt a pending NOTIFY=NEVER NOTIFY=NEVER\n",
	 "line 5: recipient field \"NOTIFY\" given twice"},
	{HEAD "rcpt a pending ORCPT=x ORCPT=y\n",
	 "line 5: recipient field \"ORCPT\" given twice"},
	{HEAD "rcpt a pending\nrcpt b\n", "line 6: recipient without state"},
	{HEAD "rcpt a pending\tNOTIFY=NEVER\n", "line 5: control character at column 15"},
	{"version 1\ncreated 1\nsender s\nrcpt a pending\n",
	 "line 5: end of envelope without \"id\""},
	{"version 1\nid i\nsender s\nrcpt a pending\n",
	 "line 5: end of envelope without \"created\""},
	{"version 1\nid i\ncreated 1\nrcpt a pending\n",
	 "line 5: end of envelope without \"sender\""},
	{HEAD, "line 5: end of envelope without \"rcpt\""},
	{HEAD "attempts 1\n", "line 6: end of envelope without \"rcpt\""},
	{HEAD "rcpt a pending\nnext 1\nnext 2\n", "line 7: \"next\" given twice"},
};

static void test_every_parse_error(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof parse_errors / sizeof *parse_errors; i++) {
		const struct parse_case *c = &parse_errors[i];
		struct queue_envelope env;
		struct buf err = BUF_INIT;
		errno = 0;
		int r = queue_envelope_parse(c->text, strlen(c->text), &env, &err);
		if (r != -1 || strcmp(buf_cstr(&err), c->error) != 0)
			fail_msg("case %zu: rc %d, error \"%s\", want \"%s\"", i, r,
			         buf_cstr(&err), c->error);
		assert_int_equal(errno, EINVAL);
		/* A failed parse leaves nothing to free. */
		assert_null(env.id);
		assert_null(env.rcpts);
		assert_int_equal(env.nrcpts, 0);
		buf_free(&err);
	}
	/* A NUL byte is a control character like any other. */
	const char nul[] = "version 1\nid i\0x\n";
	struct queue_envelope env;
	struct buf err = BUF_INIT;
	assert_int_equal(queue_envelope_parse(nul, sizeof nul - 1, &env, &err), -1);
	assert_string_equal(buf_cstr(&err), "line 2: control character at column 5");
	buf_free(&err);
	/* NULL text is an empty envelope; a NULL err is allowed. */
	assert_int_equal(queue_envelope_parse(NULL, 0, &env, NULL), -1);
}

static void test_format_refuses_invalid(void **state)
{
	(void)state;
	struct queue_rcpt r = {"a@b", QUEUE_PENDING, NULL, NULL, NULL};
	struct queue_envelope good = {.id = "g", .sender = "s@x", .rcpts = &r,
	                              .nrcpts = 1};
	struct buf out = BUF_INIT;
	assert_int_equal(queue_envelope_format(&good, &out), 0);

	struct queue_envelope bad[32];
	struct queue_rcpt badr[8];
	size_t n = 0, nr = 0;
	for (size_t i = 0; i < 32; i++)
		bad[i] = good;
	for (size_t i = 0; i < 8; i++)
		badr[i] = r;
	bad[n++].id = NULL;
	bad[n++].id = "../etc";
	bad[n++].id = "a b";
	bad[n++].created = -1;
	bad[n++].next_attempt = -1;
	bad[n++].attempts = -1;
	bad[n++].sender = NULL;
	bad[n++].sender = "a b@x";
	bad[n++].sender = "a\n@x";
	bad[n++].body = "8bit";
	bad[n++].smtputf8 = 2;
	bad[n++].envid = "";
	bad[n++].envid = "a b";
	bad[n++].ret = "all";
	bad[n++].nrcpts = 0;
	bad[n++].rcpts = NULL;
	badr[nr++].address = "";
	badr[nr++].address = NULL;
	badr[nr++].address = "a b";
	badr[nr++].state = (enum queue_rcpt_state)7;
	badr[nr++].notify = "";
	badr[nr++].orcpt = "x y";
	badr[nr++].last_reply = "550 two\r\nlines";
	for (size_t i = 0; i < nr; i++) {
		bad[n].rcpts = &badr[i];
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		buf_reset(&out);
		buf_puts(&out, "keep");
		errno = 0;
		if (queue_envelope_format(&bad[i], &out) != -1)
			fail_msg("invalid envelope %zu was formatted", i);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(buf_cstr(&out), "keep");
	}
	assert_int_equal(queue_envelope_format(NULL, &out), -1);
	buf_free(&out);
}

static struct spool *finished_spool(const char *dir, const char *id,
                                    const char *text)
{
	struct spool *sp = spool_open(dir, id, NULL);
	assert_non_null(sp);
	assert_int_equal(spool_write(sp, text, strlen(text)), 0);
	assert_int_equal(spool_finish(sp), 0);
	return sp;
}

static const char *item_path(struct buf *b, const char *dir, const char *id,
                             const char *ext)
{
	buf_reset(b);
	buf_printf(b, "%s/queue/%s.%s", dir, id, ext);
	return buf_cstr(b);
}

static void test_enqueue_writes_item(void **state)
{
	const char *dir = *state;
	struct spool *sp = finished_spool(dir, "s1", "Subject: out\r\n\r\nbye\r\n");
	struct buf err = BUF_INIT, p = BUF_INIT, got = BUF_INIT;
	assert_int_equal(queue_enqueue(dir, spool_path(sp), &full_env, &err), 0);
	assert_int_equal(err.len, 0);

	struct stat st, src;
	buf_printf(&p, "%s/queue", dir);
	assert_int_equal(stat(buf_cstr(&p), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(item_path(&p, dir, full_env.id, "msg"), &st), 0);
	assert_int_equal(stat(spool_path(sp), &src), 0);
	assert_int_equal(st.st_ino, src.st_ino);
	spool_discard(&sp);
	assert_int_equal(fs_read_file(p.data, 1 << 20, &got), 0);
	assert_string_equal(buf_cstr(&got), "Subject: out\r\n\r\nbye\r\n");

	assert_int_equal(stat(item_path(&p, dir, full_env.id, "env"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	buf_reset(&got);
	assert_int_equal(fs_read_file(p.data, 1 << 20, &got), 0);
	assert_string_equal(buf_cstr(&got), full_text);
	struct queue_envelope env;
	assert_int_equal(queue_envelope_parse(got.data, got.len, &env, NULL), 0);
	assert_env_equal(&env, &full_env);
	queue_envelope_free(&env);
	buf_free(&err); buf_free(&p); buf_free(&got);
}

static void test_enqueue_errors(void **state)
{
	const char *dir = *state;
	struct spool *sp = finished_spool(dir, "s2", "data\r\n");
	struct buf err = BUF_INIT, p = BUF_INIT, got = BUF_INIT;
	struct queue_rcpt r = {"a@b", QUEUE_PENDING, NULL, NULL, NULL};
	struct queue_envelope env = {.id = "q1", .sender = "s@x", .rcpts = &r,
	                             .nrcpts = 1};

	/* Invalid envelope: refused before anything is touched. */
	struct queue_envelope bad = env;
	bad.nrcpts = 0;
	assert_int_equal(queue_enqueue(dir, spool_path(sp), &bad, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(buf_cstr(&err), "queue: invalid envelope: no recipients");
	buf_printf(&p, "%s/queue", dir);
	assert_int_equal(access(buf_cstr(&p), F_OK), -1);
	assert_int_equal(queue_enqueue(dir, NULL, &env, NULL), -1);
	assert_int_equal(queue_enqueue(dir, spool_path(sp), NULL, NULL), -1);

	/* The message file is missing: no envelope may appear. */
	buf_reset(&err);
	assert_int_equal(queue_enqueue(dir, "/nonexistent/spool", &env, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(err.len > 0);
	assert_int_equal(access(item_path(&p, dir, "q1", "env"), F_OK), -1);

	/* Same id twice: the first item stays as it was. */
	assert_int_equal(queue_enqueue(dir, spool_path(sp), &env, NULL), 0);
	struct queue_envelope other = env;
	other.sender = "other@x";
	buf_reset(&err);
	assert_int_equal(queue_enqueue(dir, spool_path(sp), &other, &err), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(buf_cstr(&err), "item exists"));
	assert_int_equal(fs_read_file(item_path(&p, dir, "q1", "env"), 4096,
	                              &got), 0);
	assert_non_null(strstr(buf_cstr(&got), "sender s@x\n"));

	/* The envelope cannot be written: the message link is undone. */
	assert_int_equal(mkdir(item_path(&p, dir, "q2", "env"), 0700), 0);
	env.id = "q2";
	buf_reset(&err);
	assert_int_equal(queue_enqueue(dir, spool_path(sp), &env, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "q2.env"));
	assert_int_equal(access(item_path(&p, dir, "q2", "msg"), F_OK), -1);

	/* No data directory. */
	buf_reset(&p);
	buf_printf(&p, "%s/missing", dir);
	assert_int_equal(queue_enqueue(buf_cstr(&p), spool_path(sp), &env, NULL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(queue_enqueue(NULL, spool_path(sp), &env, NULL), -1);
	assert_int_equal(errno, EINVAL);
	spool_discard(&sp);
	buf_free(&err); buf_free(&p); buf_free(&got);
}

/* A spool on another file system is copied into the queue. */
static void test_enqueue_copies_across_file_systems(void **state)
{
	const char *dir = *state;
	struct stat here, shm;
	if (stat(dir, &here) < 0 || stat("/dev/shm", &shm) < 0 ||
	    here.st_dev == shm.st_dev || access("/dev/shm", W_OK) < 0) {
		print_message("skipped: /dev/shm is missing or on the same file "
		              "system as %s, so no EXDEV can be provoked\n", dir);
		skip();
	}
	char shmdir[] = "/dev/shm/test-queue.XXXXXX";
	assert_non_null(mkdtemp(shmdir));
	struct spool *sp = finished_spool(shmdir, "far", "far away\r\n");
	struct queue_rcpt r = {"a@b", QUEUE_PENDING, NULL, NULL, NULL};
	struct queue_envelope env = {.id = "c1", .sender = "", .rcpts = &r,
	                             .nrcpts = 1};
	assert_int_equal(queue_enqueue(dir, spool_path(sp), &env, NULL), 0);
	spool_discard(&sp);
	struct buf p = BUF_INIT, got = BUF_INIT;
	assert_int_equal(fs_read_file(item_path(&p, dir, "c1", "msg"), 4096, &got), 0);
	assert_string_equal(buf_cstr(&got), "far away\r\n");
	testlib_rmtree(shmdir);
	buf_free(&p); buf_free(&got);
}

/* ---- items: ids, paths, load/save/remove, list, cleanup, enqueue from
 * memory ---- */

/* An item "id" from memory with one pending recipient. */
static void put_item(const char *dir, const char *id, const char *text)
{
	struct queue_rcpt r = {"to@example.net", QUEUE_PENDING, NULL, NULL, NULL};
	struct queue_envelope env = {.id = (char *)id, .created = 1700000000,
	                             .sender = "from@example.org", .rcpts = &r,
	                             .nrcpts = 1};
	assert_int_equal(queue_enqueue_data(dir, text, strlen(text), &env, NULL), 0);
}

/* Sets the modification time of path to t. */
static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_new_id(void **state)
{
	(void)state;
	char ids[200][QUEUE_ID_SIZE];
	for (size_t i = 0; i < 200; i++) {
		queue_new_id(ids[i]);
		assert_true(spool_id_valid(ids[i]));
		assert_true(strlen(ids[i]) < QUEUE_ID_SIZE);
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(ids[i], ids[k]);
	}
	/* Not the form of smtpd's "SESSION.N" ids, so the two never meet. */
	assert_non_null(strchr(ids[0], '-'));
	assert_null(strchr(ids[0], '.'));
}

static void test_msg_path(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_puts(&b, ">");
	assert_int_equal(queue_msg_path("/data", "abc-1", &b), 0);
	assert_string_equal(buf_cstr(&b), ">/data/queue/abc-1.msg");
	static const char *const bad[] = {"", ".hidden", "-x", "a/b", "..", "a b"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(queue_msg_path("/data", bad[i], &b), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(queue_msg_path("/data", NULL, &b), -1);
	assert_int_equal(queue_msg_path(NULL, "x", &b), -1);
	assert_string_equal(buf_cstr(&b), ">/data/queue/abc-1.msg");
	buf_free(&b);
}

static void test_load_save_remove(void **state)
{
	const char *dir = *state;
	struct spool *sp = finished_spool(dir, "s3", "Subject: x\r\n\r\nhi\r\n");
	assert_int_equal(queue_enqueue(dir, spool_path(sp), &full_env, NULL), 0);
	spool_discard(&sp);
	struct queue_envelope env;
	struct buf err = BUF_INIT, p = BUF_INIT;
	assert_int_equal(queue_load(dir, full_env.id, &env, &err), 0);
	assert_int_equal(err.len, 0);
	assert_env_equal(&env, &full_env);

	/* A state change is saved and read back. */
	env.rcpts[0].state = QUEUE_FAILED;
	free(env.rcpts[0].last_reply);
	env.rcpts[0].last_reply = strdup("550 5.1.1 no");
	env.attempts = 4;
	env.next_attempt = 1700007200;
	assert_int_equal(queue_envelope_save(dir, &env, &err), 0);
	struct queue_envelope again;
	assert_int_equal(queue_load(dir, full_env.id, &again, NULL), 0);
	assert_env_equal(&again, &env);
	queue_envelope_free(&again);

	/* Invalid envelopes are not saved. */
	size_t saved_n = env.nrcpts;
	env.nrcpts = 0;
	assert_int_equal(queue_envelope_save(dir, &env, &err), -1);
	assert_int_equal(errno, EINVAL);
	env.nrcpts = saved_n;

	/* Removed: gone for load, and a late save does not bring it back. */
	assert_int_equal(queue_remove(dir, full_env.id, NULL), 0);
	assert_int_equal(access(item_path(&p, dir, full_env.id, "env"), F_OK), -1);
	assert_int_equal(access(item_path(&p, dir, full_env.id, "msg"), F_OK), -1);
	assert_int_equal(queue_remove(dir, full_env.id, NULL), 0);
	buf_reset(&err);
	assert_int_equal(queue_envelope_save(dir, &env, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(buf_cstr(&err), "item is gone"));
	assert_int_equal(access(item_path(&p, dir, full_env.id, "env"), F_OK), -1);
	queue_envelope_free(&env);
	buf_reset(&err);
	assert_int_equal(queue_load(dir, full_env.id, &env, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(buf_cstr(&err), "cannot read"));
	assert_null(env.id);
	queue_envelope_free(&env);
	buf_free(&err); buf_free(&p);
}

static void test_load_errors(void **state)
{
	const char *dir = *state;
	put_item(dir, "good", "x\r\n");
	struct buf err = BUF_INIT, p = BUF_INIT;
	struct queue_envelope env;

	/* An envelope naming another item. */
	write_file(item_path(&p, dir, "other", "env"),
	           "version 1\nid good\ncreated 1\nsender\nrcpt a@b pending\n");
	assert_int_equal(queue_load(dir, "other", &env, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "names another id"));
	assert_null(env.rcpts);

	/* A broken envelope says where. */
	write_file(item_path(&p, dir, "broken", "env"),
	           "version 1\nid broken\ncreated x\n");
	buf_reset(&err);
	assert_int_equal(queue_load(dir, "broken", &env, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "broken.env: line 3: bad time"));

	/* Unsafe ids never reach the file system. */
	assert_int_equal(queue_load(dir, "../good", &env, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_remove(dir, "../good", NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_load(dir, "good", &env, NULL), 0);
	queue_envelope_free(&env);
	buf_free(&err); buf_free(&p);
}

static void test_list(void **state)
{
	const char *dir = *state;
	char **ids = (char **)1;
	size_t n = 99;
	/* No queue directory yet: empty, not an error. */
	assert_int_equal(queue_list(dir, &ids, &n, NULL), 0);
	assert_null(ids);
	assert_int_equal(n, 0);

	put_item(dir, "m2", "b\r\n");
	put_item(dir, "a1", "a\r\n");
	put_item(dir, "z.env", "c\r\n");
	struct buf p = BUF_INIT;
	/* Neither a lone message, a temporary file nor a directory counts. */
	write_file(item_path(&p, dir, "lone", "msg"), "x");
	write_file(item_path(&p, dir, "a1", "env.tmp.0123456789abcdef"), "x");
	assert_int_equal(mkdir(item_path(&p, dir, ".hidden", "env"), 0700), 0);
	assert_int_equal(queue_list(dir, &ids, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], "a1");
	assert_string_equal(ids[1], "m2");
	assert_string_equal(ids[2], "z.env");
	queue_list_free(&ids, n);
	assert_null(ids);
	queue_list_free(&ids, 0);

	/* An unreadable data directory is an error. */
	struct buf err = BUF_INIT;
	buf_reset(&p);
	buf_printf(&p, "%s/queue/a1.msg", dir);
	assert_int_equal(queue_list(buf_cstr(&p), &ids, &n, &err), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_true(err.len > 0);
	assert_null(ids);
	buf_free(&p); buf_free(&err);
}

static void test_cleanup(void **state)
{
	const char *dir = *state;
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(queue_cleanup(dir, now, NULL), 0);  /* no queue yet */
	put_item(dir, "keep", "k\r\n");
	struct buf p = BUF_INIT;
	set_mtime(item_path(&p, dir, "keep", "msg"), (time_t)(now - 86400));
	set_mtime(item_path(&p, dir, "keep", "env"), (time_t)(now - 86400));
	/* An abandoned write, one still in progress, a lone envelope and an
	 * old temporary file. */
	write_file(item_path(&p, dir, "old", "msg"), "o");
	set_mtime(p.data, (time_t)(now - 7200));
	write_file(item_path(&p, dir, "young", "msg"), "y");
	set_mtime(p.data, (time_t)(now - 60));
	write_file(item_path(&p, dir, "orphan", "env"), "version 1\n");
	write_file(item_path(&p, dir, "keep", "env.tmp.00000000deadbeef"), "t");
	set_mtime(p.data, (time_t)(now - 7200));
	write_file(item_path(&p, dir, "young", "env.tmp.00000000deadbeef"), "t");
	write_file(item_path(&p, dir, "note", "txt"), "other files stay");
	set_mtime(p.data, (time_t)(now - 7200));

	assert_int_equal(queue_cleanup(dir, now, NULL), 3);
	assert_int_equal(access(item_path(&p, dir, "keep", "msg"), F_OK), 0);
	assert_int_equal(access(item_path(&p, dir, "keep", "env"), F_OK), 0);
	assert_int_equal(access(item_path(&p, dir, "old", "msg"), F_OK), -1);
	assert_int_equal(access(item_path(&p, dir, "young", "msg"), F_OK), 0);
	assert_int_equal(access(item_path(&p, dir, "orphan", "env"), F_OK), -1);
	assert_int_equal(access(item_path(&p, dir, "keep",
	                                  "env.tmp.00000000deadbeef"), F_OK), -1);
	assert_int_equal(access(item_path(&p, dir, "young",
	                                  "env.tmp.00000000deadbeef"), F_OK), 0);
	assert_int_equal(access(item_path(&p, dir, "note", "txt"), F_OK), 0);
	/* An hour later the young ones are stale too. */
	assert_int_equal(queue_cleanup(dir, now + 3600, NULL), 2);
	assert_int_equal(queue_cleanup(dir, now + 3600, NULL), 0);
	char **ids;
	size_t n;
	assert_int_equal(queue_list(dir, &ids, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "keep");
	queue_list_free(&ids, n);
	buf_free(&p);
}

static void test_enqueue_data(void **state)
{
	const char *dir = *state;
	static const char text[] = "Subject: from memory\r\n\r\nbody\r\n";
	struct queue_rcpt r = {"to@example.net", QUEUE_PENDING, NULL, NULL, NULL};
	char id[QUEUE_ID_SIZE];
	queue_new_id(id);
	struct queue_envelope env = {.id = id, .created = 5, .sender = "",
	                             .rcpts = &r, .nrcpts = 1};
	struct buf err = BUF_INIT, p = BUF_INIT, got = BUF_INIT;
	assert_int_equal(queue_enqueue_data(dir, text, sizeof text - 1, &env, &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(queue_msg_path(dir, id, &p), 0);
	assert_int_equal(fs_read_file(p.data, 4096, &got), 0);
	assert_string_equal(buf_cstr(&got), text);
	struct queue_envelope back;
	assert_int_equal(queue_load(dir, id, &back, NULL), 0);
	assert_env_equal(&back, &env);
	queue_envelope_free(&back);
	/* The spool copy is gone. */
	buf_reset(&p);
	buf_printf(&p, "%s/spool/%s", dir, id);
	assert_int_equal(access(buf_cstr(&p), F_OK), -1);

	/* The same id again: EEXIST, the item untouched, no spool left. */
	assert_int_equal(queue_enqueue_data(dir, "other", 5, &env, &err), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(access(buf_cstr(&p), F_OK), -1);
	buf_reset(&got);
	assert_int_equal(fs_read_file(item_path(&p, dir, id, "msg"), 4096, &got), 0);
	assert_string_equal(buf_cstr(&got), text);

	/* Empty data is a valid (if odd) message; bad envelopes are refused. */
	env.id = "empty";
	assert_int_equal(queue_enqueue_data(dir, NULL, 0, &env, NULL), 0);
	env.id = "nodata";
	assert_int_equal(queue_enqueue_data(dir, NULL, 3, &env, NULL), -1);
	assert_int_equal(errno, EINVAL);
	env.id = "../x";
	buf_reset(&err);
	assert_int_equal(queue_enqueue_data(dir, text, 3, &env, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "not a safe file name"));
	buf_free(&err); buf_free(&p); buf_free(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_exact_text),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_many_recipients),
		cmocka_unit_test(test_every_parse_error),
		cmocka_unit_test(test_format_refuses_invalid),
#define T(f) \
	cmocka_unit_test_setup_teardown(f, testlib_dir_setup, testlib_dir_teardown)
		T(test_enqueue_writes_item),
		T(test_enqueue_errors),
		T(test_enqueue_copies_across_file_systems),
		cmocka_unit_test(test_new_id),
		cmocka_unit_test(test_msg_path),
		T(test_load_save_remove),
		T(test_load_errors),
		T(test_list),
		T(test_cleanup),
		T(test_enqueue_data),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
