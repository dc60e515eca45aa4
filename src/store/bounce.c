/* bounce: one DSN for a set of recipients of a queue item, queued as a new
 * item, then the item's envelope updated (see bounce.h for the order and
 * why it is safe across crashes). */
#include "bounce.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../msg/dsn.h"

/* What one reported recipient needs beyond its queue_rcpt. */
struct bounce_rcpt {
	char status[16];
	struct buf remote_mta;
	struct buf diagnostic;
	struct buf orcpt;
	int ours;               /* the diagnostic is our words, not a reply */
};

/* Whether the comma-separated NOTIFY list holds keyword. */
static int bounce_notify_has(const char *notify, const char *keyword)
{
	size_t k = strlen(keyword);
	for (const char *p = notify; *p;) {
		size_t n = strcspn(p, ",");
		if (n == k && strncasecmp(p, keyword, k) == 0)
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Whether the recipient asked for a report of this action. */
static int bounce_wanted(const struct queue_rcpt *r, enum dsn_action action)
{
	const char *keyword = action == DSN_FAILED ? "FAILURE"
	                      : action == DSN_DELAYED ? "DELAY" : "SUCCESS";
	if (!r->notify || !*r->notify)
		return action == DSN_FAILED || action == DSN_DELAYED;
	if (bounce_notify_has(r->notify, "NEVER"))
		return 0;
	return bounce_notify_has(r->notify, keyword);
}

/* A reply starting with an SMTP code "NNN" (then a space, '-' or end). */
static int bounce_is_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' &&
	       s[2] >= '0' && s[2] <= '9' &&
	       (s[3] == ' ' || s[3] == '-' || s[3] == '\0');
}

/* Splits last_reply into Remote-MTA, diagnostic and status (bounce.h). */
static int bounce_describe(const struct queue_rcpt *r, enum dsn_action action,
                           struct bounce_rcpt *b)
{
	static const char said[] = " said: ";
	const char *text = r->last_reply ? r->last_reply : "";
	if (strncmp(text, "host ", 5) == 0 && strstr(text + 5, said)) {
		const char *end = strstr(text + 5, said);
		if (buf_append(&b->remote_mta, text + 5, (size_t)(end - text - 5)) < 0 ||
		    !buf_cstr(&b->remote_mta))
			return -1;
		text = end + sizeof said - 1;
	}
	if (buf_puts(&b->diagnostic, text) < 0 || !buf_cstr(&b->diagnostic))
		return -1;
	b->ours = *text && !bounce_is_reply(text);
	if (dsn_status_from_reply(text, b->status, sizeof b->status))
		return 0;
	char cls = action == DSN_FAILED ? '5' : action == DSN_DELAYED ? '4' : '2';
	if (bounce_is_reply(text) && text[0] != '3')
		cls = text[0];
	snprintf(b->status, sizeof b->status, "%c.0.0", cls);
	return 0;
}

/* The ORCPT as the report shows it: xtext decoded, or as kept when it
 * does not decode (the report cleans it anyway). */
static int bounce_orcpt(const struct queue_rcpt *r, struct bounce_rcpt *b)
{
	if (!r->orcpt)
		return 0;
	if (dsn_xtext_decode(r->orcpt, &b->orcpt) < 0 &&
	    (errno == ENOMEM || buf_puts(&b->orcpt, r->orcpt) < 0))
		return -1;
	return buf_cstr(&b->orcpt) ? 0 : -1;
}

/* Reads at most max bytes of the message file into out; *whole says
 * whether that was all of it. A missing file gives an empty original. */
static int bounce_read_original(const char *path, size_t max, struct buf *out,
                                int *whole)
{
	*whole = 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/* Room for the file as it is now (a byte more shows if it grew past
	 * max), not for max: most messages are far smaller. */
	struct stat st;
	size_t want = fstat(fd, &st) == 0 && st.st_size >= 0 &&
	              (unsigned long long)st.st_size < max
	              ? (size_t)st.st_size + 1 : max + 1;
	int r = buf_reserve(out, want);
	if (r < 0)
		errno = ENOMEM;
	while (r == 0 && out->len <= max) {
		/* buf keeps its last byte for buf_cstr's NUL. */
		if (out->cap - out->len <= 1 && buf_reserve(out, 65536) < 0) {
			errno = ENOMEM;
			r = -1;
			break;
		}
		size_t room = out->cap - out->len - 1, left = max + 1 - out->len;
		ssize_t got = read(fd, out->data + out->len, room < left ? room : left);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r = -1;
		if (got <= 0)
			break;
		out->len += (size_t)got;
	}
	int saved = errno;
	close(fd);
	if (r == 0 && out->len > max) {
		buf_truncate(out, max);
		*whole = 0;
	}
	errno = saved;
	return r;
}

/* The report's recipients: everyone in idx whose NOTIFY asks for it, less
 * the postmaster when the report goes to the postmaster. */
struct bounce_set {
	struct dsn_rcpt *dsn;
	struct bounce_rcpt *extra;
	size_t n;
};

static void bounce_set_free(struct bounce_set *s, size_t count)
{
	for (size_t i = 0; s->extra && i < count; i++) {
		buf_free(&s->extra[i].remote_mta);
		buf_free(&s->extra[i].diagnostic);
		buf_free(&s->extra[i].orcpt);
	}
	free(s->dsn);
	free(s->extra);
}

static int bounce_collect(const struct queue_envelope *env, const size_t *idx,
                          size_t n, enum dsn_action action, const char *skip,
                          int64_t now, struct bounce_set *s)
{
	s->dsn = calloc(n ? n : 1, sizeof *s->dsn);
	s->extra = calloc(n ? n : 1, sizeof *s->extra);
	if (!s->dsn || !s->extra)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct queue_rcpt *r = &env->rcpts[idx[i]];
		if (!bounce_wanted(r, action) ||
		    (skip && strcasecmp(r->address, skip) == 0))
			continue;
		struct bounce_rcpt *b = &s->extra[s->n];
		if (bounce_describe(r, action, b) < 0 || bounce_orcpt(r, b) < 0)
			return -1;
		s->dsn[s->n++] = (struct dsn_rcpt){
			.address = r->address,
			.orcpt = r->orcpt ? b->orcpt.data : NULL,
			.action = action,
			.status = b->status,
			.remote_mta = b->remote_mta.len ? b->remote_mta.data : NULL,
			.diagnostic = b->diagnostic.len ? b->diagnostic.data : NULL,
			.last_attempt = env->attempts > 0 ? now : 0,
			.diagnostic_type = b->ours ? "X-Posthorn" : NULL,
		};
	}
	return 0;
}

static int bounce_has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* Queues text as a new item from <> to rcpt. */
static int bounce_enqueue(const char *data_dir, const char *rcpt,
                          const struct buf *text, int64_t now, struct buf *why)
{
	char id[QUEUE_ID_SIZE];
	struct queue_rcpt qr = {.address = (char *)rcpt, .state = QUEUE_PENDING};
	struct queue_envelope qe = {
		.id = id, .created = now, .sender = "",
		.body = bounce_has_8bit(text->data, text->len) ? "8bitmime" : "7bit",
		.smtputf8 = bounce_has_8bit(rcpt, strlen(rcpt)),
		.next_attempt = now, .rcpts = &qr, .nrcpts = 1,
	};
	for (int attempt = 0;; attempt++) {
		queue_new_id(id);
		size_t mark = why ? why->len : 0;
		if (queue_enqueue_data(data_dir, text->data, text->len, &qe, why) == 0)
			return 0;
		if (errno != EEXIST || attempt >= 3)
			return -1;
		if (why)
			buf_truncate(why, mark);
	}
}

/* Builds the report for s and queues it to rcpt. */
static int bounce_send(const char *data_dir, const char *hostname,
                       const struct queue_envelope *env,
                       const struct bounce_set *s, const char *rcpt,
                       int64_t now, struct buf *why)
{
	struct buf msg = BUF_INIT, orig = BUF_INIT, from = BUF_INIT,
	           envid = BUF_INIT, text = BUF_INIT;
	int full = env->ret && strcmp(env->ret, "full") == 0, whole = 1;
	int r = queue_msg_path(data_dir, env->id, &msg);
	if (r == 0)
		r = bounce_read_original(msg.data, full ? BOUNCE_FULL_MAX
		                         : BOUNCE_HEADERS_MAX, &orig, &whole);
	if (r < 0 && why)
		buf_printf(why, "bounce: cannot read the message of %s: %s",
		           env->id, strerror(errno));
	if (r == 0 && env->envid && dsn_xtext_decode(env->envid, &envid) < 0)
		buf_puts(&envid, env->envid);
	if (r == 0 && (buf_printf(&from, "MAILER-DAEMON@%s", hostname) < 0 ||
	               !buf_cstr(&from) || !buf_cstr(&envid))) {
		errno = ENOMEM;
		r = -1;
	}
	if (r == 0) {
		struct dsn_report rep = {
			.reporting_mta = hostname, .from = from.data, .to = rcpt,
			.envid = envid.len ? envid.data : NULL,
			.arrival = env->created, .now = now,
			.original = orig.data, .original_len = orig.len,
			/* Too large to return whole: its header goes back. */
			.return_full = full && whole,
			.rcpts = s->dsn, .nrcpts = s->n,
		};
		/* Queued files start with the Return-Path the final delivery
		 * keeps (a relay strips it): <> for a report (RFC 5321 4.4). */
		r = buf_puts(&text, "Return-Path: <>\r\n");
		if (r == 0)
			r = dsn_build(&rep, &text, why);
	}
	if (r == 0)
		r = bounce_enqueue(data_dir, rcpt, &text, now, why);
	int saved = errno;
	buf_free(&msg);
	buf_free(&orig);
	buf_free(&from);
	buf_free(&envid);
	buf_free(&text);
	errno = saved;
	return r;
}

/* Marks the recipients failed and saves the envelope; on failure the
 * states are put back so env matches the disk. */
static int bounce_mark_failed(const char *data_dir, struct queue_envelope *env,
                              const size_t *idx, size_t n, struct buf *why)
{
	enum queue_rcpt_state *old = calloc(n ? n : 1, sizeof *old);
	if (!old) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		old[i] = env->rcpts[idx[i]].state;
		env->rcpts[idx[i]].state = QUEUE_FAILED;
	}
	int r = queue_envelope_save(data_dir, env, why);
	int saved = errno;
	for (size_t i = 0; r < 0 && i < n; i++)
		env->rcpts[idx[i]].state = old[i];
	free(old);
	errno = saved;
	return r;
}

int bounce_recipients(const char *data_dir, const char *hostname,
                      const char *postmaster, struct queue_envelope *env,
                      const size_t *idx, size_t n, enum dsn_action action,
                      int64_t now, struct buf *why)
{
	if (!data_dir || !hostname || !*hostname || !env || !env->sender ||
	    (n && !idx) || (unsigned)action > DSN_EXPANDED) {
		if (why)
			buf_puts(why, "bounce: bad arguments");
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (idx[i] >= env->nrcpts) {
			if (why)
				buf_puts(why, "bounce: recipient index out of range");
			errno = EINVAL;
			return -1;
		}
	/* Mail from <> is never answered to <>: its report, if any, goes to
	 * the postmaster, and never about the postmaster itself. */
	const char *to = *env->sender ? env->sender : postmaster;
	const char *skip = *env->sender ? NULL : postmaster;
	struct bounce_set s = {0};
	int r = 0;
	if (to && *to) {
		r = bounce_collect(env, idx, n, action, skip, now, &s);
		if (r < 0) {
			errno = ENOMEM;
			if (why)
				buf_puts(why, "bounce: out of memory");
		} else if (s.n > 0) {
			r = bounce_send(data_dir, hostname, env, &s, to, now, why);
		}
	}
	int saved = errno;
	bounce_set_free(&s, n);
	errno = saved;
	if (r == 0 && action == DSN_FAILED && n > 0)
		r = bounce_mark_failed(data_dir, env, idx, n, why);
	return r;
}
