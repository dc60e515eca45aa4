/* queue: items of the outbound queue on disk and their envelope text (see
 * queue.h). The envelope is line-based and parsed strictly: a file the
 * queue manager cannot fully understand is reported, never half-used. */
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fs.h"
#include "spool.h"

/* Bytes of a value quoted in an error message. */
#define QUEUE_QUOTE_MAX 40
#define QUEUE_QUOTE(len) ((int)((len) < QUEUE_QUOTE_MAX ? (len) : QUEUE_QUOTE_MAX))

static const char *const queue_state_names[] = {
	[QUEUE_PENDING] = "pending",
	[QUEUE_DELIVERED] = "delivered",
	[QUEUE_FAILED] = "failed",
};

/* A byte that may appear in an envelope value: anything but ASCII control
 * characters (8-bit bytes are allowed for SMTPUTF8 addresses). */
static int queue_text_byte(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

/* A space-free field (address, xtext): every byte printable, no space. */
static int queue_token_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!queue_text_byte((unsigned char)s[i]) || s[i] == ' ')
			return 0;
	return 1;
}

static int queue_cstr_token(const char *s, int may_be_empty)
{
	return s && (may_be_empty || *s) && queue_token_valid(s, strlen(s));
}

static int queue_cstr_text(const char *s)
{
	for (; *s; s++)
		if (!queue_text_byte((unsigned char)*s))
			return 0;
	return 1;
}

static int queue_body_valid(const char *body)
{
	return !strcmp(body, "7bit") || !strcmp(body, "8bitmime") ||
	       !strcmp(body, "binarymime");
}

static int queue_ret_valid(const char *ret)
{
	return !strcmp(ret, "full") || !strcmp(ret, "hdrs");
}

/* Why rcpt cannot be written, or NULL when it can. */
static const char *queue_rcpt_problem(const struct queue_rcpt *rcpt)
{
	if (!queue_cstr_token(rcpt->address, 0))
		return "recipient address empty or with spaces or control characters";
	if ((unsigned)rcpt->state > QUEUE_FAILED)
		return "unknown recipient state";
	if (rcpt->notify && !queue_cstr_token(rcpt->notify, 0))
		return "bad NOTIFY value";
	if (rcpt->orcpt && !queue_cstr_token(rcpt->orcpt, 0))
		return "bad ORCPT value";
	if (rcpt->last_reply && !queue_cstr_text(rcpt->last_reply))
		return "control characters in the last reply";
	return NULL;
}

/* Why env cannot be written, or NULL when it can. The rules are those the
 * parser enforces, so whatever is formatted parses back. */
static const char *queue_envelope_problem(const struct queue_envelope *env)
{
	if (!env)
		return "no envelope";
	if (!spool_id_valid(env->id))
		return "id is not a safe file name";
	if (env->created < 0 || env->next_attempt < 0 || env->attempts < 0)
		return "negative time or attempt count";
	if (!queue_cstr_token(env->sender, 1))
		return "sender with spaces or control characters";
	if (env->body && !queue_body_valid(env->body))
		return "body is not 7bit, 8bitmime or binarymime";
	if (env->smtputf8 != 0 && env->smtputf8 != 1)
		return "smtputf8 is not 0 or 1";
	if (env->envid && !queue_cstr_token(env->envid, 0))
		return "bad ENVID";
	if (env->ret && !queue_ret_valid(env->ret))
		return "ret is not full or hdrs";
	if (env->nrcpts == 0 || !env->rcpts)
		return "no recipients";
	for (size_t i = 0; i < env->nrcpts; i++) {
		const char *why = queue_rcpt_problem(&env->rcpts[i]);
		if (why)
			return why;
	}
	return NULL;
}

static int queue_format_rcpt(const struct queue_rcpt *rcpt, struct buf *out)
{
	if (buf_printf(out, "rcpt %s %s", rcpt->address,
	               queue_state_names[rcpt->state]) < 0)
		return -1;
	if (rcpt->notify && buf_printf(out, " NOTIFY=%s", rcpt->notify) < 0)
		return -1;
	if (rcpt->orcpt && buf_printf(out, " ORCPT=%s", rcpt->orcpt) < 0)
		return -1;
	if (rcpt->last_reply && buf_printf(out, " | %s", rcpt->last_reply) < 0)
		return -1;
	return buf_putc(out, '\n');
}

static int queue_format_fields(const struct queue_envelope *env,
                               struct buf *out)
{
	/* The null sender is a bare "sender" line: no trailing space that an
	 * editor could strip. */
	if (buf_printf(out, "version 1\nid %s\ncreated %" PRId64 "\nsender%s%s\n"
	               "body %s\nsmtputf8 %d\n", env->id, env->created,
	               *env->sender ? " " : "", env->sender,
	               env->body ? env->body : "7bit", env->smtputf8) < 0)
		return -1;
	if (env->envid && buf_printf(out, "envid %s\n", env->envid) < 0)
		return -1;
	if (env->ret && buf_printf(out, "ret %s\n", env->ret) < 0)
		return -1;
	if (buf_printf(out, "attempts %d\nnext %" PRId64 "\n", env->attempts,
	               env->next_attempt) < 0)
		return -1;
	for (size_t i = 0; i < env->nrcpts; i++)
		if (queue_format_rcpt(&env->rcpts[i], out) < 0)
			return -1;
	return 0;
}

int queue_envelope_format(const struct queue_envelope *env, struct buf *out)
{
	if (queue_envelope_problem(env)) {
		errno = EINVAL;
		return -1;
	}
	size_t old = out->len;
	if (queue_format_fields(env, out) < 0) {
		buf_truncate(out, old);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void queue_envelope_free(struct queue_envelope *env)
{
	if (!env)
		return;
	for (size_t i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].address);
		free(env->rcpts[i].notify);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].last_reply);
	}
	free(env->rcpts);
	free(env->id);
	free(env->sender);
	free(env->body);
	free(env->envid);
	free(env->ret);
	memset(env, 0, sizeof *env);
}

/* Parser state for one envelope. */
struct queue_parser {
	struct queue_envelope *env;
	size_t line;        /* 1-based number of the line being parsed */
	unsigned seen;      /* bits of the keys met so far */
	size_t rcpt_cap;    /* allocated entries of env->rcpts */
	struct buf *err;
};

static int queue_bad(struct queue_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends "line N: reason" to the caller's err; always -1 with EINVAL. */
static int queue_bad(struct queue_parser *p, const char *fmt, ...)
{
	if (p->err) {
		va_list ap;
		va_start(ap, fmt);
		buf_printf(p->err, "line %zu: ", p->line);
		buf_vprintf(p->err, fmt, ap);
		va_end(ap);
	}
	errno = EINVAL;
	return -1;
}

/* Copies a value into *out (NUL-terminated, owned by the envelope). */
static int queue_dup(struct queue_parser *p, const char *s, size_t len,
                     char **out)
{
	*out = strndup(s, len);
	if (*out)
		return 0;
	queue_bad(p, "out of memory");
	errno = ENOMEM;
	return -1;
}

/* A decimal number without sign or leading zeros, at most max. */
static int queue_number(const char *s, size_t len, int64_t max, int64_t *out)
{
	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		int digit = s[i] - '0';
		if (v > (max - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

static int queue_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

static int queue_parse_version(struct queue_parser *p, const char *v,
                               size_t len)
{
	if (!queue_is(v, len, "1"))
		return queue_bad(p, "unsupported version \"%.*s\"",
		                 QUEUE_QUOTE(len), v);
	return 0;
}

static int queue_parse_id(struct queue_parser *p, const char *v, size_t len)
{
	if (queue_dup(p, v, len, &p->env->id) < 0)
		return -1;
	if (!spool_id_valid(p->env->id))
		return queue_bad(p, "id is not a safe file name");
	return 0;
}

static int queue_parse_time(struct queue_parser *p, const char *v, size_t len,
                            int64_t *out)
{
	if (queue_number(v, len, INT64_MAX, out) < 0)
		return queue_bad(p, "bad time \"%.*s\"",
		                 QUEUE_QUOTE(len), v);
	return 0;
}

static int queue_parse_created(struct queue_parser *p, const char *v,
                               size_t len)
{
	return queue_parse_time(p, v, len, &p->env->created);
}

static int queue_parse_next(struct queue_parser *p, const char *v, size_t len)
{
	return queue_parse_time(p, v, len, &p->env->next_attempt);
}

static int queue_parse_attempts(struct queue_parser *p, const char *v,
                                size_t len)
{
	int64_t n;
	if (queue_number(v, len, INT_MAX, &n) < 0)
		return queue_bad(p, "bad attempt count");
	p->env->attempts = (int)n;
	return 0;
}

static int queue_parse_sender(struct queue_parser *p, const char *v,
                              size_t len)
{
	if (!queue_token_valid(v, len))
		return queue_bad(p, "sender contains a space");
	return queue_dup(p, v, len, &p->env->sender);
}

static int queue_parse_body(struct queue_parser *p, const char *v, size_t len)
{
	if (!queue_is(v, len, "7bit") && !queue_is(v, len, "8bitmime") &&
	    !queue_is(v, len, "binarymime"))
		return queue_bad(p, "body is not 7bit, 8bitmime or binarymime");
	return queue_dup(p, v, len, &p->env->body);
}

static int queue_parse_smtputf8(struct queue_parser *p, const char *v,
                                size_t len)
{
	if (!queue_is(v, len, "0") && !queue_is(v, len, "1"))
		return queue_bad(p, "smtputf8 is not 0 or 1");
	p->env->smtputf8 = v[0] == '1';
	return 0;
}

static int queue_parse_envid(struct queue_parser *p, const char *v, size_t len)
{
	if (len == 0 || !queue_token_valid(v, len))
		return queue_bad(p, "envid is empty or contains a space");
	return queue_dup(p, v, len, &p->env->envid);
}

static int queue_parse_ret(struct queue_parser *p, const char *v, size_t len)
{
	if (!queue_is(v, len, "full") && !queue_is(v, len, "hdrs"))
		return queue_bad(p, "ret is not full or hdrs");
	return queue_dup(p, v, len, &p->env->ret);
}

/* Splits the next space-separated field off *pos. *more says whether a
 * space followed it. -1 for an empty field (two spaces in a row, or a
 * space at the start or end), so one envelope has one spelling. */
static int queue_field(const char **pos, const char *end, const char **field,
                       size_t *len, int *more)
{
	const char *s = *pos;
	const char *space = memchr(s, ' ', (size_t)(end - s));
	const char *stop = space ? space : end;
	*field = s;
	*len = (size_t)(stop - s);
	*more = space != NULL;
	*pos = space ? space + 1 : end;
	return *len ? 0 : -1;
}

/* One "NOTIFY=..." or "ORCPT=..." field of a rcpt line. */
static int queue_parse_rcpt_option(struct queue_parser *p, struct queue_rcpt *r,
                                   const char *f, size_t len)
{
	static const char notify[] = "NOTIFY=", orcpt[] = "ORCPT=";
	size_t nlen = sizeof notify - 1, olen = sizeof orcpt - 1;
	char **slot = NULL;
	size_t skip = 0;
	if (len > nlen && memcmp(f, notify, nlen) == 0) {
		slot = &r->notify;
		skip = nlen;
	} else if (len > olen && memcmp(f, orcpt, olen) == 0) {
		slot = &r->orcpt;
		skip = olen;
	} else {
		return queue_bad(p, "unknown recipient field \"%.*s\"",
		                 QUEUE_QUOTE(len), f);
	}
	if (*slot)
		return queue_bad(p, "recipient field \"%.*s\" given twice",
		                 (int)skip - 1, f);
	return queue_dup(p, f + skip, len - skip, slot);
}

static int queue_parse_rcpt_state(struct queue_parser *p, struct queue_rcpt *r,
                                  const char *f, size_t len)
{
	for (size_t i = 0; i < sizeof queue_state_names / sizeof *queue_state_names; i++) {
		if (queue_is(f, len, queue_state_names[i])) {
			r->state = (enum queue_rcpt_state)i;
			return 0;
		}
	}
	return queue_bad(p, "recipient state is not pending, delivered or failed");
}

/* "ADDRESS STATE [NOTIFY=...] [ORCPT=...] [| LAST REPLY]" into r. */
static int queue_parse_rcpt_fields(struct queue_parser *p, struct queue_rcpt *r,
                                   const char *v, size_t len)
{
	const char *pos = v, *end = v + len, *f;
	size_t flen;
	int more;
	if (queue_field(&pos, end, &f, &flen, &more) < 0)
		return queue_bad(p, "recipient without address");
	if (queue_dup(p, f, flen, &r->address) < 0)
		return -1;
	if (!more || queue_field(&pos, end, &f, &flen, &more) < 0)
		return queue_bad(p, "recipient without state");
	if (queue_parse_rcpt_state(p, r, f, flen) < 0)
		return -1;
	while (more) {
		if (queue_field(&pos, end, &f, &flen, &more) < 0)
			return queue_bad(p, "empty recipient field (extra space)");
		if (queue_is(f, flen, "|"))
			return queue_dup(p, pos, (size_t)(end - pos), &r->last_reply);
		if (queue_parse_rcpt_option(p, r, f, flen) < 0)
			return -1;
	}
	return 0;
}

static int queue_parse_rcpt(struct queue_parser *p, const char *v, size_t len)
{
	struct queue_envelope *env = p->env;
	if (env->nrcpts == p->rcpt_cap) {
		size_t cap = p->rcpt_cap ? p->rcpt_cap * 2 : 4;
		struct queue_rcpt *grown = realloc(env->rcpts, cap * sizeof *grown);
		if (!grown) {
			queue_bad(p, "out of memory");
			errno = ENOMEM;
			return -1;
		}
		env->rcpts = grown;
		p->rcpt_cap = cap;
	}
	/* Counted at once so queue_envelope_free releases a half-parsed one. */
	struct queue_rcpt *r = &env->rcpts[env->nrcpts++];
	memset(r, 0, sizeof *r);
	return queue_parse_rcpt_fields(p, r, v, len);
}

enum {
	QUEUE_KEY_VERSION = 1u << 0,
	QUEUE_KEY_ID = 1u << 1,
	QUEUE_KEY_CREATED = 1u << 2,
	QUEUE_KEY_SENDER = 1u << 3,
	QUEUE_KEY_RCPT = 1u << 4,
	QUEUE_KEY_REQUIRED = QUEUE_KEY_VERSION | QUEUE_KEY_ID | QUEUE_KEY_CREATED |
	                     QUEUE_KEY_SENDER | QUEUE_KEY_RCPT,
};

static const struct queue_key {
	const char *name;
	unsigned bit;       /* its own bit, or QUEUE_KEY_RCPT (repeatable) */
	int (*parse)(struct queue_parser *p, const char *value, size_t len);
} queue_keys[] = {
	{"version", QUEUE_KEY_VERSION, queue_parse_version},
	{"id", QUEUE_KEY_ID, queue_parse_id},
	{"created", QUEUE_KEY_CREATED, queue_parse_created},
	{"sender", QUEUE_KEY_SENDER, queue_parse_sender},
	{"body", 1u << 5, queue_parse_body},
	{"smtputf8", 1u << 6, queue_parse_smtputf8},
	{"envid", 1u << 7, queue_parse_envid},
	{"ret", 1u << 8, queue_parse_ret},
	{"attempts", 1u << 9, queue_parse_attempts},
	{"next", 1u << 10, queue_parse_next},
	{"rcpt", QUEUE_KEY_RCPT, queue_parse_rcpt},
};

static const struct queue_key *queue_find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof queue_keys / sizeof *queue_keys; i++)
		if (queue_is(name, len, queue_keys[i].name))
			return &queue_keys[i];
	return NULL;
}

/* One line without its '\n': "KEY VALUE", or "KEY" for an empty value. */
static int queue_parse_line(struct queue_parser *p, const char *s, size_t len)
{
	if (len == 0)
		return queue_bad(p, "empty line");
	for (size_t i = 0; i < len; i++)
		if (!queue_text_byte((unsigned char)s[i]))
			return queue_bad(p, "control character at column %zu", i + 1);
	const char *space = memchr(s, ' ', len);
	size_t klen = space ? (size_t)(space - s) : len;
	const char *value = space ? space + 1 : s + len;
	size_t vlen = len - (size_t)(value - s);
	const struct queue_key *key = queue_find_key(s, klen);
	if (p->line == 1 && (!key || key->bit != QUEUE_KEY_VERSION))
		return queue_bad(p, "an envelope starts with \"version 1\"");
	if (!key)
		return queue_bad(p, "unknown key \"%.*s\"", QUEUE_QUOTE(klen), s);
	if ((p->seen & key->bit) && key->bit != QUEUE_KEY_RCPT)
		return queue_bad(p, "\"%s\" given twice", key->name);
	p->seen |= key->bit;
	return key->parse(p, value, vlen);
}

/* After the last line: every required key was there. */
static int queue_parse_finish(struct queue_parser *p)
{
	static const struct {
		unsigned bit;
		const char *name;
	} required[] = {
		{QUEUE_KEY_VERSION, "version"}, {QUEUE_KEY_ID, "id"},
		{QUEUE_KEY_CREATED, "created"}, {QUEUE_KEY_SENDER, "sender"},
		{QUEUE_KEY_RCPT, "rcpt"},
	};
	p->line++;
	for (size_t i = 0; i < sizeof required / sizeof *required; i++)
		if (!(p->seen & required[i].bit))
			return queue_bad(p, "end of envelope without \"%s\"",
			                 required[i].name);
	if (!p->env->body)
		return queue_dup(p, "7bit", 4, &p->env->body);
	return 0;
}

int queue_envelope_parse(const char *text, size_t len,
                         struct queue_envelope *env, struct buf *err)
{
	memset(env, 0, sizeof *env);
	struct queue_parser p = {.env = env, .err = err};
	const char *pos = text, *end = text ? text + len : text;
	int r = 0;
	while (r == 0 && pos < end) {
		p.line++;
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		if (!nl)
			r = queue_bad(&p, "no newline at the end (truncated?)");
		else
			r = queue_parse_line(&p, pos, (size_t)(nl - pos));
		pos = nl ? nl + 1 : end;
	}
	if (r == 0)
		r = queue_parse_finish(&p);
	if (r < 0) {
		int saved = errno;
		queue_envelope_free(env);
		errno = saved;
	}
	return r;
}

/* Appends "queue: what path: strerror" to err (when given); errno kept. */
static void queue_reason(struct buf *err, const char *what, const char *path)
{
	int saved = errno;
	if (err)
		buf_printf(err, "queue: %s %s: %s", what, path, strerror(saved));
	errno = saved;
}

/* DATA_DIR/queue, created when missing (and then made durable in
 * DATA_DIR, since the items below it will be). */
static int queue_dir(const char *data_dir, struct buf *dir, struct buf *err)
{
	if (fs_join(data_dir, "queue", dir) < 0 || !buf_cstr(dir)) {
		queue_reason(err, "bad data directory",
		             data_dir ? data_dir : "(null)");
		return -1;
	}
	if (mkdir(dir->data, 0700) == 0) {
		if (fs_fsync_parent(dir->data) < 0) {
			queue_reason(err, "cannot fsync the parent of", dir->data);
			return -1;
		}
	} else if (errno != EEXIST) {
		queue_reason(err, "cannot create", dir->data);
		return -1;
	}
	return 0;
}

static int queue_item_path(const char *dir, const char *id, const char *ext,
                           struct buf *out)
{
	if (buf_printf(out, "%s/%s.%s", dir, id, ext) < 0 || !buf_cstr(out)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Links src as ID.msg, then writes ID.env atomically. The message needs
 * no fsync of its own: a link shares the inode the caller already
 * fsync'd, and spool_link fsyncs a copy. fs_write_atomic ends with an
 * fsync of the queue directory, which makes both new entries durable. */
static int queue_store(const char *dir, const char *src, const char *id,
                       const struct buf *text, struct buf *err)
{
	struct buf msg = BUF_INIT, env = BUF_INIT;
	int r = 0;
	if (queue_item_path(dir, id, "msg", &msg) < 0 ||
	    queue_item_path(dir, id, "env", &env) < 0) {
		queue_reason(err, "cannot name item in", dir);
		r = -1;
	} else if (spool_link(src, msg.data) < 0) {
		queue_reason(err, errno == EEXIST ? "item exists:" :
		             "cannot link the message to", msg.data);
		r = -1;
	} else if (fs_write_atomic(env.data, text->data, text->len, 0600) < 0) {
		queue_reason(err, "cannot write", env.data);
		int saved = errno;
		unlink(msg.data);
		errno = saved;
		r = -1;
	}
	int saved = errno;
	buf_free(&msg);
	buf_free(&env);
	errno = saved;
	return r;
}

int queue_enqueue(const char *data_dir, const char *src,
                  const struct queue_envelope *env, struct buf *err)
{
	const char *why = queue_envelope_problem(env);
	if (why || !src) {
		errno = EINVAL;
		if (err)
			buf_printf(err, "queue: invalid envelope: %s",
			           why ? why : "no message file");
		return -1;
	}
	struct buf text = BUF_INIT, dir = BUF_INIT;
	int r = queue_envelope_format(env, &text);
	if (r < 0)
		queue_reason(err, "cannot format envelope", env->id);
	if (r == 0)
		r = queue_dir(data_dir, &dir, err);
	if (r == 0)
		r = queue_store(dir.data, src, env->id, &text, err);
	int saved = errno;
	buf_free(&text);
	buf_free(&dir);
	errno = saved;
	return r;
}

/* ---- items: load, save, remove, list, clean up (the queue manager and
 * posthornctl) ---- */

/* The largest envelope file read: thousands of recipients with replies. */
#define QUEUE_ENV_MAX (4u * 1024 * 1024)
/* How old a message file without an envelope (or a temporary file) must be
 * before it counts as an abandoned write rather than one in progress. */
#define QUEUE_STALE_SECONDS 3600

void queue_new_id(char out[QUEUE_ID_SIZE])
{
	snprintf(out, QUEUE_ID_SIZE, "%" PRIx64 "-%016" PRIx64,
	         (uint64_t)time(NULL), fs_random64());
}

/* DATA_DIR/queue/ID.EXT appended to out, refusing unsafe ids. */
static int queue_path(const char *data_dir, const char *id, const char *ext,
                      struct buf *out)
{
	if (!data_dir || !*data_dir || !spool_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (buf_printf(out, "%s/queue/%s.%s", data_dir, id, ext) < 0 ||
	    !buf_cstr(out)) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int queue_msg_path(const char *data_dir, const char *id, struct buf *out)
{
	return queue_path(data_dir, id, "msg", out);
}

int queue_envelope_save(const char *data_dir, const struct queue_envelope *env,
                        struct buf *err)
{
	struct buf text = BUF_INIT, msg = BUF_INIT, path = BUF_INIT;
	struct stat st;
	int r = -1;
	const char *why = queue_envelope_problem(env);
	if (why) {
		errno = EINVAL;
		if (err)
			buf_printf(err, "queue: invalid envelope: %s", why);
	} else if (queue_envelope_format(env, &text) < 0 ||
	           queue_path(data_dir, env->id, "msg", &msg) < 0 ||
	           queue_path(data_dir, env->id, "env", &path) < 0) {
		queue_reason(err, "cannot format envelope", env->id);
	} else if (stat(msg.data, &st) < 0) {
		/* Deleted meanwhile (posthornctl queue delete): writing the
		 * envelope would bring back an item without a message. */
		queue_reason(err, "item is gone:", msg.data);
	} else if (fs_write_atomic(path.data, text.data, text.len, 0600) < 0) {
		queue_reason(err, "cannot write", path.data);
	} else {
		r = 0;
	}
	int saved = errno;
	buf_free(&text);
	buf_free(&msg);
	buf_free(&path);
	errno = saved;
	return r;
}

int queue_load(const char *data_dir, const char *id,
               struct queue_envelope *env, struct buf *err)
{
	memset(env, 0, sizeof *env);
	struct buf path = BUF_INIT, text = BUF_INIT, why = BUF_INIT;
	int r = queue_path(data_dir, id, "env", &path);
	if (r < 0)
		queue_reason(err, "bad item id", id ? id : "(null)");
	else if ((r = fs_read_file(path.data, QUEUE_ENV_MAX, &text)) < 0 ||
	         !buf_cstr(&text)) {  /* the parser's strndup wants a NUL */
		if (r == 0)
			errno = ENOMEM;
		r = -1;
		queue_reason(err, "cannot read", path.data);
	} else if ((r = queue_envelope_parse(text.data, text.len, env, &why)) < 0 ||
	         strcmp(env->id, id) != 0) {
		if (r == 0) {
			queue_envelope_free(env);
			buf_puts(&why, "the envelope names another id");
			errno = EINVAL;
			r = -1;
		}
		if (err)
			buf_printf(err, "queue: %s: %s", path.data, buf_cstr(&why));
	}
	int saved = errno;
	buf_free(&path);
	buf_free(&text);
	buf_free(&why);
	errno = saved;
	return r;
}

/* unlink(2) where a missing file is fine. */
static int queue_unlink(const char *path, struct buf *err)
{
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	queue_reason(err, "cannot remove", path);
	return -1;
}

int queue_remove(const char *data_dir, const char *id, struct buf *err)
{
	struct buf env = BUF_INIT, msg = BUF_INIT;
	int r = 0;
	if (queue_path(data_dir, id, "env", &env) < 0 ||
	    queue_path(data_dir, id, "msg", &msg) < 0) {
		queue_reason(err, "bad item id", id ? id : "(null)");
		r = -1;
	}
	/* The envelope first: without it the item no longer exists, and a
	 * message file left by a crash here is swept by queue_cleanup. */
	if (r == 0)
		r = queue_unlink(env.data, err);
	if (r == 0)
		r = queue_unlink(msg.data, err);
	if (r == 0 && fs_fsync_parent(env.data) < 0 && errno != ENOENT) {
		queue_reason(err, "cannot fsync the directory of", env.data);
		r = -1;
	}
	int saved = errno;
	buf_free(&env);
	buf_free(&msg);
	errno = saved;
	return r;
}

/* When name is "ID.ext" with a safe ID, copies ID into id (of size
 * QUEUE_NAME_MAX) and returns 1; else 0. */
#define QUEUE_NAME_MAX 160
static int queue_name_is(const char *name, const char *ext, char *id)
{
	size_t n = strlen(name), e = strlen(ext);
	if (n <= e + 1 || n - e - 1 >= QUEUE_NAME_MAX || name[n - e - 1] != '.' ||
	    strcmp(name + n - e, ext) != 0)
		return 0;
	memcpy(id, name, n - e - 1);
	id[n - e - 1] = '\0';
	return spool_id_valid(id);
}

static int queue_cmp_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void queue_list_free(char ***ids, size_t n)
{
	if (!ids || !*ids)
		return;
	for (size_t i = 0; i < n; i++)
		free((*ids)[i]);
	free(*ids);
	*ids = NULL;
}

/* Adds a copy of id to the growing list. */
static int queue_list_add(char ***ids, size_t *n, size_t *cap, const char *id)
{
	if (*n == *cap) {
		size_t grown = *cap ? *cap * 2 : 64;
		char **p = realloc(*ids, grown * sizeof *p);
		if (!p)
			return -1;
		*ids = p;
		*cap = grown;
	}
	if (!((*ids)[*n] = strdup(id)))
		return -1;
	(*n)++;
	return 0;
}

/* Opens DATA_DIR/queue for reading; NULL with errno ENOENT when there is
 * no queue yet (not an error for the callers). */
static DIR *queue_opendir(const char *data_dir, struct buf *dir,
                          struct buf *err)
{
	if (fs_join(data_dir, "queue", dir) < 0 || !buf_cstr(dir)) {
		queue_reason(err, "bad data directory",
		             data_dir ? data_dir : "(null)");
		return NULL;
	}
	DIR *d = opendir(dir->data);
	if (!d && errno != ENOENT)
		queue_reason(err, "cannot open", dir->data);
	return d;
}

int queue_list(const char *data_dir, char ***ids, size_t *n, struct buf *err)
{
	*ids = NULL;
	*n = 0;
	struct buf dir = BUF_INIT;
	DIR *d = queue_opendir(data_dir, &dir, err);
	int r = d || errno == ENOENT ? 0 : -1;
	size_t cap = 0;
	struct dirent *de;
	char id[QUEUE_NAME_MAX];
	while (d && r == 0 && (errno = 0, de = readdir(d)) != NULL)
		if (queue_name_is(de->d_name, "env", id) &&
		    queue_list_add(ids, n, &cap, id) < 0) {
			queue_reason(err, "out of memory listing", dir.data);
			r = -1;
		}
	if (d && r == 0 && errno != 0) {
		queue_reason(err, "cannot read", dir.data);
		r = -1;
	}
	int saved = errno;
	if (d)
		closedir(d);
	if (r < 0) {
		queue_list_free(ids, *n);
		*n = 0;
	} else if (*n > 1) {
		qsort(*ids, *n, sizeof **ids, queue_cmp_ids);
	}
	buf_free(&dir);
	errno = saved;
	return r;
}

/* "NAME.tmp.XXXXXXXXXXXXXXXX": what fs_write_atomic leaves after a crash. */
static int queue_is_temp(const char *name)
{
	const char *t = strstr(name, ".tmp.");
	return t && t != name && strlen(t + 5) == 16 &&
	       strspn(t + 5, "0123456789abcdef") == 16;
}

/* Whether DIR/ID.ext exists (errors other than ENOENT count as yes, so
 * nothing is removed on a doubt). */
static int queue_sibling_exists(int dfd, const char *id, const char *ext)
{
	char name[QUEUE_NAME_MAX + 8];
	struct stat st;
	snprintf(name, sizeof name, "%s.%s", id, ext);
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/* Whether the entry name of the queue is garbage to remove. */
static int queue_is_garbage(int dfd, const char *name, int64_t now)
{
	char id[QUEUE_NAME_MAX];
	struct stat st;
	if (queue_name_is(name, "env", id))
		/* An envelope is written after its message and removed before
		 * it, so one alone is left by a save racing a delete. */
		return !queue_sibling_exists(dfd, id, "msg");
	int msg = queue_name_is(name, "msg", id);
	if (!msg && !queue_is_temp(name))
		return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if ((int64_t)st.st_mtime > now - QUEUE_STALE_SECONDS)
		return 0;
	return !msg || !queue_sibling_exists(dfd, id, "env");
}

int queue_cleanup(const char *data_dir, int64_t now, struct buf *err)
{
	struct buf dir = BUF_INIT;
	DIR *d = queue_opendir(data_dir, &dir, err);
	int removed = 0, r = d || errno == ENOENT ? 0 : -1;
	struct dirent *de;
	while (d && r == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (!queue_is_garbage(dirfd(d), de->d_name, now))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT) {
			queue_reason(err, "cannot remove an entry of", dir.data);
			r = -1;
		}
	}
	if (d && r == 0 && errno != 0) {
		queue_reason(err, "cannot read", dir.data);
		r = -1;
	}
	if (r == 0 && removed && fs_fsync_dir(dir.data) < 0) {
		queue_reason(err, "cannot fsync", dir.data);
		r = -1;
	}
	int saved = errno;
	if (d)
		closedir(d);
	buf_free(&dir);
	errno = saved;
	return r < 0 ? -1 : removed;
}

int queue_enqueue_data(const char *data_dir, const void *data, size_t len,
                       const struct queue_envelope *env, struct buf *err)
{
	const char *why = queue_envelope_problem(env);
	if (why || (!data && len)) {
		errno = EINVAL;
		if (err)
			buf_printf(err, "queue: invalid envelope: %s",
			           why ? why : "no message data");
		return -1;
	}
	/* Through the spool like smtpd's messages: the same file system, so
	 * queue_enqueue links instead of copying. */
	struct spool *sp = spool_open(data_dir, env->id, err);
	if (!sp)
		return -1;
	int r = 0;
	if ((len && spool_write(sp, data, len) < 0) || spool_finish(sp) < 0) {
		queue_reason(err, "cannot write", spool_path(sp));
		r = -1;
	}
	if (r == 0)
		r = queue_enqueue(data_dir, spool_path(sp), env, err);
	spool_discard(&sp);
	return r;
}
