/* smtpd_data: message input of the SMTP server. DATA text is split into
 * CRLF lines, dot-unstuffed and ended only by <CRLF>.<CRLF>; BDAT chunks
 * are taken byte for byte. Either way the message streams into a spool
 * file behind the trace headers (only the header block is held in memory,
 * on submission, to add Date and Message-ID), and a job delivers it to the
 * Maildirs and the queue before the 250 is said. */
#include "../lib/log.h"
#include "../msg/date.h"
#include "../msg/header.h"
#include "../msg/msgid.h"
#include "../store/queue.h"
#include "deliver.h"
#include "smtpd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* RFC 5322 2.1.1: trace header lines are folded before 78 columns. */
#define DATA_FOLD_COLUMN 78

static void data_fail(struct smtpd_tx *tx, enum smtpd_fail why, int err)
{
	if (tx->fail == SMTPD_FAIL_NONE) {
		tx->fail = why;
		tx->fail_errno = err;
	}
}

static void data_spool(struct smtpd_tx *tx, const void *p, size_t n)
{
	if (tx->fail || n == 0)
		return;
	if (spool_write(tx->spool, p, n) < 0)
		data_fail(tx, SMTPD_FAIL_WRITE, errno);
}

/* ---- trace headers (RFC 5321 4.4) ---- */

/* Copies s into out keeping only bytes that are safe inside a comment of a
 * trace header; anything else becomes '?'. */
static void data_clean(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	for (; s[n] && n + 1 < outlen; n++) {
		unsigned char c = (unsigned char)s[n];
		out[n] = (c > 32 && c < 127 && c != '(' && c != ')' && c != '\\')
		                 ? (char)c : (c == ' ' ? ' ' : '?');
	}
	out[n] = '\0';
}

/* Appends word, folding first when the line would pass the fold column. */
static void data_fold(struct buf *out, size_t *col, const char *word)
{
	size_t n = strlen(word);
	if (*col + 1 + n > DATA_FOLD_COLUMN) {
		buf_puts(out, "\r\n\t");
		*col = 8;
	} else {
		buf_putc(out, ' ');
		(*col)++;
	}
	buf_puts(out, word);
	*col += n;
}

static const char *data_protocol(const struct smtpd_session *s)
{
	if (!s->esmtp)
		return "SMTP";
	if (s->tls_active)
		return s->auth_user ? "ESMTPSA" : "ESMTPS";
	return s->auth_user ? "ESMTPA" : "ESMTP";
}

static void data_now(char *out, size_t outlen)
{
	time_t now = time(NULL);
	struct tm tm;
	int offset = 0;
	if (localtime_r(&now, &tm))
		offset = (int)(tm.tm_gmtoff / 60);
	if (msg_date_format((int64_t)now, offset, out, outlen) < 0)
		snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* "Return-Path: <sender>" and the Received: field, CRLF-terminated. */
static void data_trace(const struct smtpd_session *s, struct buf *out)
{
	const struct smtpd_tx *tx = s->tx;
	char word[SMTPD_PATH_MAX + 300], rdns[256], tls[200], date[40];
	size_t col = strlen("Received:");
	buf_printf(out, "Return-Path: <%s>\r\nReceived:", tx->sender);
	snprintf(word, sizeof word, "from %s", s->helo ? s->helo : "unknown");
	data_fold(out, &col, word);
	data_clean(smtpd_domain_valid(s->peer.name, strlen(s->peer.name), 1, 1)
	                   ? s->peer.name : "unknown", rdns, sizeof rdns);
	snprintf(word, sizeof word, "(%s [%s])", rdns,
	         s->peer.ip[0] ? s->peer.ip : "unknown");
	data_fold(out, &col, word);
	snprintf(word, sizeof word, "by %s", s->cfg->hostname);
	data_fold(out, &col, word);
	snprintf(word, sizeof word, "with %s", data_protocol(s));
	data_fold(out, &col, word);
	if (s->tls_active && s->tls_info) {
		data_clean(s->tls_info, tls, sizeof tls);
		snprintf(word, sizeof word, "(%s)", tls);
		data_fold(out, &col, word);
	}
	snprintf(word, sizeof word, "id %s%s", tx->id, tx->nrcpt == 1 ? "" : ";");
	data_fold(out, &col, word);
	if (tx->nrcpt == 1) {
		snprintf(word, sizeof word, "for <%s>;", tx->first_rcpt);
		data_fold(out, &col, word);
	}
	data_now(date, sizeof date);
	data_fold(out, &col, date);
	buf_puts(out, "\r\n");
}

static int data_is_submission(const struct smtpd_session *s)
{
	return s->listener->require_auth ||
	       s->listener->proto == CFG_PROTO_SUBMISSION ||
	       s->listener->proto == CFG_PROTO_SMTPS;
}

/* Opens the spool file and writes the trace headers; replies itself and
 * returns -1 when the message cannot be stored. */
static int data_open(struct smtpd_session *s)
{
	struct smtpd_tx *tx = s->tx;
	struct buf err = BUF_INIT, trace = BUF_INIT;
	tx->spool = spool_open(s->cfg->data_dir, tx->id, &err);
	if (!tx->spool) {
		log_error(s->id, "spool %s: %s", tx->id, buf_cstr(&err));
		buf_free(&err);
		smtpd_reply(s, 451, "4.3.0", "Error: cannot store the message now");
		return -1;
	}
	buf_free(&err);
	data_trace(s, &trace);
	data_spool(tx, trace.data, trace.len);
	buf_free(&trace);
	tx->header_done = !data_is_submission(s);
	tx->line_start = 1;
	tx->prev_crlf = 1;
	return 0;
}

/* ---- the header block (submission: RFC 6409 8.2, 8.3) ---- */

/* Date: and Message-ID: fields the client left out, appended to out. */
static void data_submission_fields(struct smtpd_session *s, const char *hdr,
                                   size_t len, struct buf *out)
{
	struct msg_header h = {0};
	char value[512];
	if (msg_header_parse(hdr, len, 0, &h) < 0)
		return;
	int date = msg_header_get(&h, "Date") != NULL;
	int msgid = msg_header_get(&h, "Message-ID") != NULL;
	msg_header_free(&h);
	if (!date) {
		data_now(value, sizeof value);
		buf_printf(out, "Date: %s\r\n", value);
	}
	if (!msgid && msg_id_generate(s->cfg->hostname, value, sizeof value) > 0)
		buf_printf(out, "Message-ID: %s\r\n", value);
	if (!date || !msgid)
		log_info(s->id, "submission: added%s%s", date ? "" : " Date",
		         msgid ? "" : " Message-ID");
}

/* Writes the buffered header (of which [0..end) is the header proper)
 * after any added fields; from now on bytes go straight to the spool. */
static void data_header_flush(struct smtpd_session *s, size_t end)
{
	struct smtpd_tx *tx = s->tx;
	struct buf added = BUF_INIT;
	tx->header_done = 1;
	data_submission_fields(s, tx->header.data ? tx->header.data : "", end,
	                       &added);
	data_spool(tx, added.data, added.len);
	data_spool(tx, tx->header.data, tx->header.len);
	buf_free(&added);
	buf_free(&tx->header);
}

/* Offset just past the blank line ending the header, or 0 if not seen
 * yet; resumes where the last call stopped. */
static size_t data_header_end(struct smtpd_tx *tx)
{
	const char *h = tx->header.data;
	size_t len = tx->header.len;
	if (tx->header_scan == 0 && len > 0 && h[0] == '\n')
		return 1;
	if (tx->header_scan == 0 && len > 1 && h[0] == '\r' && h[1] == '\n')
		return 2;
	if (tx->header_scan == 0 && len > 0 && h[0] == '\r' && len < 2)
		return 0;
	for (size_t i = tx->header_scan; i < len; i++) {
		if (h[i] != '\n')
			continue;
		size_t need = i + 1 < len && h[i + 1] == '\r' ? i + 3 : i + 2;
		if (need > len) {
			tx->header_scan = i;
			return 0;
		}
		if (h[need - 1] == '\n')
			return need;
	}
	tx->header_scan = len;
	return 0;
}

/* Every message byte (unstuffed, normalised) goes through here. */
static void data_feed(struct smtpd_session *s, const char *p, size_t n)
{
	struct smtpd_tx *tx = s->tx;
	size_t limit = s->cfg->limits.message_size;
	tx->size += n;
	if (limit && tx->size > limit)
		data_fail(tx, SMTPD_FAIL_SIZE, 0);
	if (tx->fail)
		return;
	if (tx->header_done) {
		data_spool(tx, p, n);
		return;
	}
	if (buf_append(&tx->header, p, n) < 0) {
		/* Header over limits.header_size: pass it through as it is. */
		data_header_flush(s, tx->header.len);
		data_spool(tx, p, n);
		return;
	}
	size_t end = data_header_end(tx);
	if (end)
		data_header_flush(s, end);
}

/* ---- the end of a message and its delivery ---- */

struct data_job {
	struct smtpd_session *s;
	const struct posthorn_config *cfg;
	const struct smtpd_tx *tx;
	size_t delivered;     /* local deliveries made */
	int failed;
	int err;              /* errno of the failure */
	struct buf why;       /* reason of the failure */
};

static const char *data_body_name(enum smtpd_body body)
{
	return body == SMTPD_BODY_8BITMIME ? "8bitmime"
	       : body == SMTPD_BODY_BINARYMIME ? "binarymime" : "7bit";
}

/* Puts the remote recipients into the queue. 0 or -1 (errno, why). */
static int data_enqueue(struct data_job *j, const char *src)
{
	const struct smtpd_tx *tx = j->tx;
	struct queue_rcpt *rcpts = calloc(tx->remote.count, sizeof *rcpts);
	if (!rcpts)
		return -1;
	for (size_t i = 0; i < tx->remote.count; i++) {
		rcpts[i].address = tx->remote.items[i];
		rcpts[i].state = QUEUE_PENDING;
	}
	int64_t now = (int64_t)time(NULL);
	struct queue_envelope env = {
		.id = (char *)tx->id, .created = now, .sender = tx->sender,
		.body = (char *)data_body_name(tx->body), .smtputf8 = tx->smtputf8,
		.next_attempt = now, .rcpts = rcpts, .nrcpts = tx->remote.count,
	};
	int rc = queue_enqueue(j->cfg->data_dir, src, &env, &j->why);
	int saved = errno;
	free(rcpts);
	errno = saved;
	return rc;
}

/* In a worker: every local Maildir, then the queue; stops at the first
 * failure (the 250 is then never said, so nothing is lost). */
static void data_deliver_run(void *arg)
{
	struct data_job *j = arg;
	const struct smtpd_tx *tx = j->tx;
	const char *src = spool_path(tx->spool);
	size_t size = spool_size(tx->spool);
	unsigned long long vsize = spool_crlf_size(tx->spool);
	if (deliver_local(j->cfg, &tx->users, src, size, vsize, &j->delivered,
	                  &j->why) < 0) {
		j->failed = 1;
		j->err = errno;
	}
	if (!j->failed && tx->remote.count && data_enqueue(j, src) < 0) {
		j->failed = 1;
		j->err = errno;
	}
}

static void data_deliver_done(void *arg)
{
	struct data_job *j = arg;
	struct smtpd_session *s = j->s;
	const struct smtpd_tx *tx = s->tx;
	if (j->failed) {
		log_error(s->id, "delivery of %s failed after %zu of %zu local "
		          "deliveries: %s", tx->id, j->delivered, tx->users.count,
		          buf_cstr(&j->why));
		if (j->err == ENOSPC || j->err == EDQUOT)
			smtpd_reply(s, 452, "4.3.1", "Error: insufficient system storage");
		else
			smtpd_reply(s, 451, "4.3.0", "Error: local delivery failed");
	} else {
		log_info(s->id, "delivered id=%s size=%zu local=%zu queued=%zu%s",
		         tx->id, tx->size, tx->users.count, tx->remote.count,
		         s->eof ? " (client gone before the reply)" : "");
		smtpd_reply(s, 250, "2.0.0", "Ok: queued as %s", tx->id);
	}
	buf_free(&j->why);
	free(j);
	smtpd_tx_free(&s->tx); /* removes the spool file: the links remain */
	smtpd_job_finished(s);
}

static void data_refuse(struct smtpd_session *s)
{
	const struct smtpd_tx *tx = s->tx;
	switch (tx->fail) {
	case SMTPD_FAIL_SIZE:
		smtpd_reply(s, 552, "5.3.4", "Error: message too big (limit %zu bytes)",
		            s->cfg->limits.message_size);
		break;
	case SMTPD_FAIL_LINE:
		smtpd_reply(s, 552, "5.3.4", "Error: line too long (limit %zu bytes)",
		            s->cfg->limits.line_length);
		break;
	case SMTPD_FAIL_BARE_LF:
		smtpd_reply(s, 554, "5.6.0",
		            "Error: bare LF or CR in message not allowed, use CRLF");
		break;
	default:
		if (tx->fail_errno == ENOSPC || tx->fail_errno == EDQUOT)
			smtpd_reply(s, 452, "4.3.1", "Error: insufficient system storage");
		else
			smtpd_reply(s, 451, "4.3.0", "Error: cannot store the message");
		break;
	}
}

/* The message is complete (final dot, BDAT LAST): refuse it, or make it
 * durable in the spool and start the delivery job. */
static void data_finish(struct smtpd_session *s)
{
	struct smtpd_tx *tx = s->tx;
	s->cmd = NULL;
	if (!tx->header_done && !tx->fail)
		data_header_flush(s, tx->header.len);
	if (!tx->fail && spool_finish(tx->spool) < 0)
		data_fail(tx, SMTPD_FAIL_WRITE, errno);
	if (tx->fail) {
		data_refuse(s);
		smtpd_reset(s);
		return;
	}
	struct data_job *j = calloc(1, sizeof *j);
	if (!j) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		smtpd_reset(s);
		return;
	}
	log_info(s->id, "message id=%s from=<%s> size=%zu nrcpt=%zu", tx->id,
	         tx->sender, tx->size, tx->nrcpt);
	j->s = s;
	j->cfg = s->cfg;
	j->tx = tx;
	s->resume = SMTPD_READY;
	smtpd_job_start(s, data_deliver_run, data_deliver_done, j);
}

/* ---- DATA ---- */

void smtpd_cmd_data(struct smtpd_session *s, char *args)
{
	if (args[strspn(args, " ")]) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	if (s->tx->body == SMTPD_BODY_BINARYMIME) {
		/* RFC 3030 3 */
		smtpd_reply(s, 503, "5.5.1", "Error: BODY=BINARYMIME needs BDAT");
		return;
	}
	if (data_open(s) < 0)
		return;
	s->state = SMTPD_DATA;
	smtpd_reply(s, 354, NULL, "Enter mail, end with <CRLF>.<CRLF>");
}

/* One DATA line p[0..len), ended by CRLF (crlf 1) or a bare LF/CR. Its
 * length was checked by smtpd_data_consume. */
static void data_line(struct smtpd_session *s, const char *p, size_t len,
                      int crlf)
{
	struct smtpd_tx *tx = s->tx;
	if (tx->line_start) {
		/* Only <CRLF>.<CRLF> ends the message: a dot line next to a bare
		 * LF or CR never does (SMTP smuggling). */
		if (crlf && tx->prev_crlf && len == 1 && p[0] == '.') {
			data_finish(s);
			return;
		}
		if (len > 0 && p[0] == '.')
			p++, len--;
	}
	if (!crlf && s->cfg->bare_lf_reject)
		data_fail(tx, SMTPD_FAIL_BARE_LF, 0);
	if (crlf) {
		data_feed(s, p, len + 2); /* the CRLF follows p in the input */
	} else {
		data_feed(s, p, len);
		data_feed(s, "\r\n", 2);  /* bare LF/CR normalised to CRLF */
	}
	tx->line_start = 1;
	tx->prev_crlf = crlf;
}

/* How many bytes of the line starting at p may come before its line end.
 * limits.line_length counts the CRLF but not a stuffed dot (RFC 5321
 * 4.5.3.1.6): at 1000, ".." and 997 more bytes is a line of 998. */
static size_t data_line_max(const struct smtpd_session *s, const char *p)
{
	size_t limit = s->cfg->limits.line_length < 512 ? 512
	               : s->cfg->limits.line_length;
	size_t max = limit - 2;
	if (s->tx->line_start && p[0] == '.')
		max++;
	return max;
}

/* A line with no end within data_line_max: refused at the final dot. Its
 * bytes still count (size) and are read, never kept. */
static size_t data_too_long(struct smtpd_session *s, const char *p, size_t n)
{
	data_fail(s->tx, SMTPD_FAIL_LINE, 0);
	if (s->tx->line_start && p[0] == '.')
		data_feed(s, p + 1, n - 1);
	else
		data_feed(s, p, n);
	s->tx->line_start = 0;
	return n;
}

size_t smtpd_data_consume(struct smtpd_session *s, const char *p, size_t n)
{
	/* The limit is applied before scanning: one byte past the longest
	 * allowed line must be its end. */
	size_t window = data_line_max(s, p) + 1;
	size_t scan = n < window ? n : window, i = 0;
	while (i < scan && p[i] != '\r' && p[i] != '\n')
		i++;
	if (i == scan)
		return n < window ? 0 : data_too_long(s, p, scan);
	if (p[i] == '\r' && i + 1 >= n)
		return 0; /* CR LF or bare CR: the next byte decides */
	int crlf = p[i] == '\r' && p[i + 1] == '\n';
	data_line(s, p, i, crlf);
	return i + (crlf ? 2 : 1);
}

/* ---- BDAT (RFC 3030) ---- */

int smtpd_bdat_size(const char *args, unsigned long long *n)
{
	size_t len = strspn(args, "0123456789");
	unsigned long long x = 0;
	if (len == 0 || len > 19 || (args[len] != '\0' && args[len] != ' '))
		return -1;
	for (size_t i = 0; i < len; i++)
		x = x * 10 + (unsigned)(args[i] - '0');
	*n = x;
	return 0;
}

static void bdat_chunk_done(struct smtpd_session *s)
{
	struct smtpd_tx *tx = s->tx;
	if (tx->bdat_last) {
		data_finish(s);
		return;
	}
	if (tx->fail) {
		/* Refused now, not at LAST: the client stops sending chunks;
		 * later BDATs get 503 and their bytes are skipped. */
		s->cmd = NULL;
		data_refuse(s);
		smtpd_reset(s);
		return;
	}
	s->state = SMTPD_CHUNKING;
	smtpd_reply(s, 250, "2.0.0", "%llu octets received", tx->bdat_chunk);
}

void smtpd_cmd_bdat(struct smtpd_session *s, char *args)
{
	unsigned long long n = 0;
	if (smtpd_bdat_size(args, &n) < 0) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: BDAT size [LAST]");
		return;
	}
	const char *rest = args + strspn(args, "0123456789");
	rest += strspn(rest, " ");
	int last = strncasecmp(rest, "LAST", 4) == 0 &&
	           rest[4 + strspn(rest + 4, " ")] == '\0';
	if (*rest && !last) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: BDAT size [LAST]");
		s->skip = n;
		return;
	}
	if (!s->tx->bdat && data_open(s) < 0) {
		s->skip = n;
		return;
	}
	s->tx->bdat = 1;
	s->tx->bdat_left = n;
	s->tx->bdat_chunk = n;
	s->tx->bdat_last = last;
	s->state = SMTPD_BDAT;
	if (n == 0)
		bdat_chunk_done(s);
}

size_t smtpd_bdat_consume(struct smtpd_session *s, const char *p, size_t n)
{
	struct smtpd_tx *tx = s->tx;
	size_t take = tx->bdat_left < n ? (size_t)tx->bdat_left : n;
	data_feed(s, p, take);
	tx->bdat_left -= take;
	if (tx->bdat_left == 0)
		bdat_chunk_done(s);
	return take;
}
