/* dsn: the delivery status notification a mail server sends back (RFC 3464
 * for the report, RFC 6522 for multipart/report). Every value that comes
 * from a remote server or from the original message is cleaned before it
 * is written, so a hostile reply cannot add header lines or MIME parts. */
#include "dsn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "date.h"
#include "msgid.h"

/* The header block returned as text/rfc822-headers. */
#define DSN_HEADERS_MAX (64 * 1024)
/* Bytes of one diagnostic kept (a reply is one line of at most 512 octets
 * in RFC 5321; joined multi-line replies can be longer). */
#define DSN_DIAG_MAX 2048
/* Columns at which field values are folded, and the longest piece of a
 * value without spaces written on one line. */
#define DSN_FOLD_AT 78
#define DSN_WORD_MAX 900

static const char *const dsn_action_names[] = {
	[DSN_FAILED] = "failed", [DSN_DELAYED] = "delayed",
	[DSN_DELIVERED] = "delivered", [DSN_RELAYED] = "relayed",
	[DSN_EXPANDED] = "expanded",
};

/* Everything dsn_build works on besides the report itself. */
struct dsn_ctx {
	const struct dsn_report *r;
	struct buf *out;
	char boundary[64];
	const char *orig;      /* the part of the original returned */
	size_t orig_len;       /* 0: no third part */
	int any_failed, any_delayed;
};

/* Length of the valid UTF-8 sequence at s[0..n) (no overlongs, surrogates
 * or code points past U+10FFFF), or 0. */
static size_t dsn_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2; min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3; min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4; min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends s[0..len) as one line of text: every control character (CR and
 * LF included) becomes a space, runs of spaces become one, the ends are
 * trimmed; bytes past ASCII become '?' when ascii, else invalid UTF-8
 * does. At most max bytes of s are looked at (an ellipsis marks a cut). */
static int dsn_put_clean(struct buf *out, const char *s, size_t len,
                         int ascii, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = len < max ? len : max, start = out->len;
	int space = 0;
	for (size_t i = 0; i < n;) {
		size_t k = u[i] >= 0x80 && !ascii ? dsn_utf8_len(u + i, n - i) : 1;
		int ctl = u[i] < 0x20 || u[i] == 0x7f || u[i] == ' ';
		if (ctl) {
			space = out->len > start;
			i++;
			continue;
		}
		if (space && buf_putc(out, ' ') < 0)
			return -1;
		space = 0;
		int r = u[i] < 0x80 ? buf_putc(out, s[i])
		        : ascii || k == 0 ? buf_putc(out, '?')
		        : buf_append(out, s + i, k);
		if (r < 0)
			return -1;
		i += k ? k : 1;
	}
	return len > max ? buf_puts(out, "...") : 0;
}

static int dsn_clean_cstr(struct buf *out, const char *s, int ascii)
{
	return dsn_put_clean(out, s, strlen(s), ascii, DSN_DIAG_MAX);
}

/* Appends "Name: value" folded before spaces so lines stay near 78
 * columns (a word longer than DSN_WORD_MAX is split, which adds a space:
 * the 998-octet line limit matters more), then CRLF. value is clean
 * (single spaces, no controls). */
static int dsn_put_field(struct buf *out, const char *name, const char *value)
{
	size_t col = strlen(name) + 1;
	if (buf_printf(out, "%s:", name) < 0)
		return -1;
	const char *p = value;
	while (*p) {
		size_t w = strcspn(p, " ");
		if (w > DSN_WORD_MAX)
			w = DSN_WORD_MAX;
		if (col + 1 + w > DSN_FOLD_AT && col > strlen(name) + 1) {
			if (buf_puts(out, "\r\n") < 0)
				return -1;
			col = 0;
		}
		if (buf_putc(out, ' ') < 0 || buf_append(out, p, w) < 0)
			return -1;
		col += 1 + w;
		p += w;
		if (*p == ' ')
			p++;
	}
	return buf_puts(out, "\r\n");
}

/* dsn_put_field with a value built from a prefix and a cleaned string. */
static int dsn_put_clean_field(struct buf *out, const char *name,
                               const char *prefix, const char *raw)
{
	struct buf v = BUF_INIT;
	int r = buf_puts(&v, prefix);
	if (r == 0)
		r = dsn_clean_cstr(&v, raw, 1);
	if (r == 0 && !buf_cstr(&v))
		r = -1;
	if (r == 0)
		r = dsn_put_field(out, name, v.data);
	buf_free(&v);
	return r;
}

/* "Name: rfc822; ADDRESS" for an ASCII address; an international one
 * (RFC 6533 3) as "utf-8; " with every non-ASCII character and '\'
 * written \x{HEX}, so the status part stays ASCII yet loses nothing.
 * Invalid UTF-8 and controls are cleaned as everywhere else. */
static int dsn_put_address_field(struct buf *out, const char *name,
                                 const char *address)
{
	struct buf clean = BUF_INIT, v = BUF_INIT;
	int r = dsn_clean_cstr(&clean, address, 0);
	const unsigned char *u = (const unsigned char *)buf_cstr(&clean);
	int ascii = 1;
	for (size_t i = 0; r == 0 && u && u[i]; i++)
		ascii &= u[i] < 0x80;
	if (r == 0 && (!u || buf_puts(&v, ascii ? "rfc822; " : "utf-8; ") < 0))
		r = -1;
	for (size_t i = 0; r == 0 && u[i];) {
		size_t k = u[i] < 0x80 ? 1 : dsn_utf8_len(u + i, clean.len - i);
		unsigned cp = u[i] & (k == 1 ? 0x7f : 0x7f >> k);
		for (size_t j = 1; j < k; j++)
			cp = cp << 6 | (u[i + j] & 0x3f);
		if (ascii || (u[i] < 0x80 && u[i] != '\\'))
			r = buf_putc(&v, (char)u[i]);
		else
			r = buf_printf(&v, "\\x{%X}", cp);
		i += k ? k : 1;
	}
	if (r == 0)
		r = buf_cstr(&v) ? dsn_put_field(out, name, v.data) : -1;
	buf_free(&clean);
	buf_free(&v);
	return r;
}

static int dsn_put_date_field(struct buf *out, const char *name, int64_t t,
                              int offset_min)
{
	char date[40];
	if (msg_date_format(t, offset_min, date, sizeof date) < 0)
		return -1;
	return buf_printf(out, "%s: %s\r\n", name, date);
}

/* "X.Y.Z" with class 2, 4 or 5, subject and detail of 1 to 3 digits. */
static int dsn_status_valid(const char *s)
{
	if (!s || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	s += 2;
	for (int part = 0; part < 2; part++) {
		size_t n = strspn(s, "0123456789");
		if (n < 1 || n > 3)
			return 0;
		s += n;
		if (part == 0 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

int dsn_status_from_reply(const char *text, char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	if (!text || outlen < 12)
		return 0;
	const char *p = text;
	if (strspn(p, "0123456789") == 3 && (p[3] == ' ' || p[3] == '-'))
		p += 4;
	size_t n = strcspn(p, " \t\r\n");
	if (n >= outlen)
		return 0;
	memcpy(out, p, n);
	out[n] = '\0';
	if (dsn_status_valid(out))
		return 1;
	out[0] = '\0';
	return 0;
}

/* Why r cannot be reported, or NULL. */
static const char *dsn_problem(const struct dsn_report *r)
{
	if (!r)
		return "no report";
	if (!r->reporting_mta || !*r->reporting_mta || !r->from || !*r->from ||
	    !r->to || !*r->to)
		return "reporting MTA, From or To missing";
	if (!r->rcpts || r->nrcpts == 0)
		return "no recipients";
	if (!r->original && r->original_len)
		return "original length without data";
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		if (!rc->address || !*rc->address)
			return "recipient without address";
		if ((unsigned)rc->action > DSN_EXPANDED)
			return "unknown action";
		if (!dsn_status_valid(rc->status))
			return "recipient status is not X.Y.Z";
	}
	return NULL;
}

/* Words for a status code: the detail when known, else its subject. */
static const char *dsn_status_words(const char *status)
{
	static const struct {
		const char *code;
		const char *words;
	} known[] = {
		{"1.1", "the mailbox does not exist"},
		{"1.2", "the destination domain does not exist or accepts no mail"},
		{"1.3", "the recipient address is not valid"},
		{"1.6", "the mailbox has moved"},
		{"1.10", "the destination domain accepts no mail (null MX)"},
		{"2.1", "the mailbox is disabled"},
		{"2.2", "the mailbox is full"},
		{"2.3", "the message is too large for the mailbox"},
		{"3.4", "the message is too large for the receiving system"},
		{"4.4", "no server of the destination could be reached"},
		{"4.6", "a mail loop was detected (too many Received headers)"},
		{"4.7", "the message could not be delivered in the time allowed"},
		{"5.3", "too many recipients"},
		{"6.3", "the receiving server cannot take this kind of content"},
		{"6.7", "the receiving server does not support international "
		        "addresses (SMTPUTF8)"},
		{"7.1", "the receiving server refused the message"},
	};
	static const char *const subjects[] = {
		"an unspecified problem", "a problem with the address",
		"a problem with the mailbox", "a problem of the mail system",
		"a network or routing problem", "a mail protocol problem",
		"a problem with the message content", "a security or policy refusal",
	};
	const char *rest = status + 2;
	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (!strcmp(rest, known[i].code))
			return known[i].words;
	if (rest[0] >= '0' && rest[0] <= '7' && rest[1] == '.')
		return subjects[rest[0] - '0'];
	return subjects[0];
}

/* The human part's opening, by what happened to the recipients. */
static int dsn_text_intro(const struct dsn_ctx *c, struct buf *t)
{
	if (buf_puts(t, "This is the mail system at host ") < 0 ||
	    dsn_clean_cstr(t, c->r->reporting_mta, 0) < 0 ||
	    buf_puts(t, ".\n\n") < 0)
		return -1;
	if (c->any_failed)
		return buf_printf(t,
			"I'm sorry to have to inform you that your message could not\n"
			"be delivered to one or more recipients.%s\n\n"
			"For further assistance, please send mail to postmaster.\n\n"
			"If you do so, please include this problem report. You can\n"
			"delete your own text from the attached returned message.\n\n"
			"                   The mail system\n\n",
			c->orig_len ? " It's attached below." : "");
	if (c->any_delayed)
		return buf_puts(t,
			"####### THIS IS A WARNING ONLY. #######\n"
			"You do not need to send your message again.\n\n"
			"Your message could not be delivered yet to the recipients\n"
			"listed below. The mail system will keep trying to deliver it\n"
			"and tell you if it finally fails.\n\n"
			"                   The mail system\n\n");
	return buf_puts(t,
		"Your message was delivered to the recipients listed below.\n\n"
		"                   The mail system\n\n");
}

/* Appends first, then line (no line end), broken before spaces so lines
 * stay within DSN_TEXT_WIDTH bytes where the words allow; continuation
 * lines start with indent. Ends with '\n'. */
#define DSN_TEXT_WIDTH 72
static int dsn_put_wrapped(struct buf *t, const char *first, const char *line,
                           const char *indent)
{
	size_t col = strlen(first), lead = strlen(indent);
	if (buf_puts(t, first) < 0)
		return -1;
	for (const char *p = line; *p;) {
		size_t w = strcspn(p, " ");
		if (col > lead && col + 1 + w > DSN_TEXT_WIDTH) {
			if (buf_putc(t, '\n') < 0 || buf_puts(t, indent) < 0)
				return -1;
			col = lead;
		} else if (p != line) {
			if (buf_putc(t, ' ') < 0)
				return -1;
			col++;
		}
		if (buf_append(t, p, w) < 0)
			return -1;
		col += w;
		p += w;
		while (*p == ' ')
			p++;
	}
	return buf_putc(t, '\n');
}

/* One recipient in words: "<addr>: what, why (status)", then the reply
 * and, for a delay, until when it is retried. */
static int dsn_text_rcpt(const struct dsn_ctx *c, const struct dsn_rcpt *rc,
                         struct buf *t)
{
	const char *what = rc->action == DSN_FAILED ? "delivery failed"
	                   : rc->action == DSN_DELAYED ? "delivery delayed"
	                   : "delivered";
	struct buf l = BUF_INIT;
	int r = buf_putc(&l, '<') < 0 || dsn_clean_cstr(&l, rc->address, 0) < 0 ||
	        buf_printf(&l, ">: %s", what) < 0 ? -1 : 0;
	if (r == 0 && (rc->action == DSN_FAILED || rc->action == DSN_DELAYED))
		r = buf_printf(&l, ", %s", dsn_status_words(rc->status));
	if (r == 0)
		r = buf_printf(&l, " (status %s)", rc->status);
	if (r == 0)
		r = buf_cstr(&l) ? dsn_put_wrapped(t, "", l.data, "    ") : -1;
	if (r == 0 && rc->diagnostic && *rc->diagnostic) {
		buf_reset(&l);
		if (rc->remote_mta && *rc->remote_mta)
			r = buf_puts(&l, "host ") < 0 ||
			    dsn_clean_cstr(&l, rc->remote_mta, 0) < 0 ||
			    buf_puts(&l, " said:") < 0 ? -1 : 0;
		if (r == 0 && l.len)
			r = buf_putc(&l, ' ');
		if (r == 0)
			r = dsn_clean_cstr(&l, rc->diagnostic, 0);
		if (r == 0)
			r = buf_cstr(&l) ? dsn_put_wrapped(t, "    ", l.data, "    ")
			                 : -1;
	}
	if (r == 0 && rc->action == DSN_DELAYED && rc->will_retry_until > 0) {
		char date[40];
		if (msg_date_format(rc->will_retry_until, c->r->offset_min, date,
		                    sizeof date) < 0 ||
		    buf_printf(t, "    retried until %s\n", date) < 0)
			r = -1;
	}
	buf_free(&l);
	return r == 0 ? buf_putc(t, '\n') : -1;
}

/* True when s has a non-ASCII byte or a line longer than 998 octets. */
static int dsn_needs_encoding(const char *s, size_t len)
{
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return 1;
		col = s[i] == '\n' ? 0 : col + 1;
		if (col > 998)
			return 1;
	}
	return 0;
}

/* Appends s with every line end (LF, CRLF or a lone CR) as CRLF and a
 * CRLF after a last line without one. */
static int dsn_put_crlf(struct buf *out, const char *s, size_t len)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\r' && s[i] != '\n')
			continue;
		if (buf_append(out, s + run, i - run) < 0 || buf_puts(out, "\r\n") < 0)
			return -1;
		if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			i++;
		run = i + 1;
	}
	if (buf_append(out, s + run, len - run) < 0)
		return -1;
	if (len > 0 && s[len - 1] != '\n' && s[len - 1] != '\r')
		return buf_puts(out, "\r\n");
	return 0;
}

/* Part 1: text/plain; charset=utf-8, 7bit or quoted-printable. */
static int dsn_part_text(const struct dsn_ctx *c)
{
	struct buf t = BUF_INIT;
	int r = dsn_text_intro(c, &t);
	for (size_t i = 0; r == 0 && i < c->r->nrcpts; i++)
		r = dsn_text_rcpt(c, &c->r->rcpts[i], &t);
	if (r == 0) {
		int qp = dsn_needs_encoding(t.data, t.len);
		r = buf_printf(c->out, "--%s\r\nContent-Description: Notification\r\n"
		               "Content-Type: text/plain; charset=utf-8\r\n"
		               "Content-Transfer-Encoding: %s\r\n\r\n", c->boundary,
		               qp ? "quoted-printable" : "7bit");
		if (r == 0)
			r = qp ? msg_qp_encode(t.data, t.len, 0, c->out)
			       : dsn_put_crlf(c->out, t.data, t.len);
	}
	buf_free(&t);
	return r;
}

static int dsn_status_rcpt(const struct dsn_ctx *c, const struct dsn_rcpt *rc)
{
	struct buf *out = c->out;
	if (buf_puts(out, "\r\n") < 0)
		return -1;
	if (rc->orcpt && *rc->orcpt &&
	    dsn_put_clean_field(out, "Original-Recipient",
	                        strchr(rc->orcpt, ';') ? "" : "rfc822;", rc->orcpt) < 0)
		return -1;
	if (dsn_put_address_field(out, "Final-Recipient", rc->address) < 0 ||
	    buf_printf(out, "Action: %s\r\nStatus: %s\r\n",
	               dsn_action_names[rc->action], rc->status) < 0)
		return -1;
	if (rc->remote_mta && *rc->remote_mta &&
	    dsn_put_clean_field(out, "Remote-MTA", "dns; ", rc->remote_mta) < 0)
		return -1;
	if (rc->diagnostic && *rc->diagnostic) {
		char prefix[64];
		const char *type = rc->diagnostic_type ? rc->diagnostic_type : "smtp";
		if (strcspn(type, " ;:\r\n") != strlen(type) || strlen(type) > 40)
			type = "X-Posthorn";
		snprintf(prefix, sizeof prefix, "%s; ", type);
		if (dsn_put_clean_field(out, "Diagnostic-Code", prefix,
		                        rc->diagnostic) < 0)
			return -1;
	}
	if (rc->last_attempt > 0 &&
	    dsn_put_date_field(out, "Last-Attempt-Date", rc->last_attempt,
	                       c->r->offset_min) < 0)
		return -1;
	if (rc->action == DSN_DELAYED && rc->will_retry_until > 0 &&
	    dsn_put_date_field(out, "Will-Retry-Until", rc->will_retry_until,
	                       c->r->offset_min) < 0)
		return -1;
	return 0;
}

/* Part 2: message/delivery-status, ASCII only (RFC 3464 2.1). */
static int dsn_part_status(const struct dsn_ctx *c)
{
	const struct dsn_report *r = c->r;
	struct buf *out = c->out;
	if (buf_printf(out, "\r\n--%s\r\nContent-Description: Delivery report\r\n"
	               "Content-Type: message/delivery-status\r\n\r\n",
	               c->boundary) < 0 ||
	    dsn_put_clean_field(out, "Reporting-MTA", "dns; ", r->reporting_mta) < 0)
		return -1;
	if (r->envid && *r->envid &&
	    dsn_put_clean_field(out, "Original-Envelope-Id", "", r->envid) < 0)
		return -1;
	if (r->arrival > 0 &&
	    dsn_put_date_field(out, "Arrival-Date", r->arrival, r->offset_min) < 0)
		return -1;
	for (size_t i = 0; i < r->nrcpts; i++)
		if (dsn_status_rcpt(c, &r->rcpts[i]) < 0)
			return -1;
	return 0;
}

/* Part 3: the header block (text/rfc822-headers) or the whole message
 * (message/rfc822); 8bit when it holds 8-bit bytes. */
static int dsn_part_original(const struct dsn_ctx *c)
{
	if (c->orig_len == 0)
		return 0;
	int eight = 0;
	for (size_t i = 0; i < c->orig_len && !eight; i++)
		eight = (unsigned char)c->orig[i] >= 0x80;
	const char *full = c->r->return_full ? "Undelivered Message"
	                                     : "Undelivered Message Headers";
	if (buf_printf(c->out, "\r\n--%s\r\nContent-Description: %s\r\n"
	               "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n\r\n",
	               c->boundary, full,
	               c->r->return_full ? "message/rfc822" : "text/rfc822-headers",
	               eight ? "8bit" : "7bit") < 0)
		return -1;
	return dsn_put_crlf(c->out, c->orig, c->orig_len);
}

/* The original's header block: up to (not including) the first empty line,
 * or everything when there is none; at most DSN_HEADERS_MAX bytes, cut at
 * a line end when longer. */
static size_t dsn_header_len(const char *s, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		if (s[pos] == '\n' || (s[pos] == '\r' && pos + 1 < len &&
		                       s[pos + 1] == '\n'))
			break;
		const char *nl = memchr(s + pos, '\n', len - pos);
		pos = nl ? (size_t)(nl - s) + 1 : len;
	}
	if (pos <= DSN_HEADERS_MAX)
		return pos;
	for (size_t i = DSN_HEADERS_MAX; i > 0; i--)
		if (s[i - 1] == '\n')
			return i;
	return DSN_HEADERS_MAX;
}

/* A fresh random boundary that occurs nowhere in what the report quotes
 * (the original and the diagnostics), so no part can end early. */
static void dsn_boundary(struct dsn_ctx *c)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz234567";
	for (int attempt = 0;; attempt++) {
		unsigned char rnd[24];
		msg_random_bytes(rnd, sizeof rnd);
		size_t n = (size_t)snprintf(c->boundary, sizeof c->boundary,
		                            "=_posthorn-dsn-");
		for (size_t i = 0; i < sizeof rnd; i++)
			c->boundary[n++] = digits[rnd[i] & 31];
		c->boundary[n] = '\0';
		int clash = c->orig_len && memmem(c->orig, c->orig_len,
		                                  c->boundary, n);
		for (size_t i = 0; i < c->r->nrcpts && !clash; i++)
			clash = c->r->rcpts[i].diagnostic &&
			        strstr(c->r->rcpts[i].diagnostic, c->boundary);
		if (!clash || attempt >= 16)
			return;
	}
}

static int dsn_headers(const struct dsn_ctx *c)
{
	const struct dsn_report *r = c->r;
	struct buf *out = c->out;
	char date[40], id[512];
	const char *at = strrchr(r->from, '@');
	if (msg_date_format(r->now, r->offset_min, date, sizeof date) < 0)
		return -1;
	if (msg_id_generate(at ? at + 1 : NULL, id, sizeof id) < 0 &&
	    msg_id_generate(NULL, id, sizeof id) < 0)
		return -1;
	const char *subject = c->any_failed ? "Undelivered Mail Returned to Sender"
	                      : c->any_delayed ? "Delayed Mail (still being retried)"
	                      : "Successful Mail Delivery Report";
	if (buf_puts(out, "From: Mail Delivery System <") < 0 ||
	    dsn_clean_cstr(out, r->from, 0) < 0 || buf_puts(out, ">\r\nTo: <") < 0 ||
	    dsn_clean_cstr(out, r->to, 0) < 0)
		return -1;
	return buf_printf(out, ">\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n"
	                  "MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n"
	                  "Content-Type: multipart/report; "
	                  "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n"
	                  "\r\nThis is a MIME-encapsulated message.\r\n\r\n",
	                  subject, date, id, c->boundary);
}

int dsn_build(const struct dsn_report *r, struct buf *out, struct buf *why)
{
	const char *problem = dsn_problem(r);
	if (problem) {
		if (why)
			buf_printf(why, "dsn: %s", problem);
		errno = EINVAL;
		return -1;
	}
	struct dsn_ctx c = {.r = r, .out = out, .orig = r->original};
	if (r->original_len)
		c.orig_len = r->return_full ? r->original_len
		             : dsn_header_len(r->original, r->original_len);
	for (size_t i = 0; i < r->nrcpts; i++) {
		c.any_failed |= r->rcpts[i].action == DSN_FAILED;
		c.any_delayed |= r->rcpts[i].action == DSN_DELAYED;
	}
	dsn_boundary(&c);
	size_t old = out->len;
	if (dsn_headers(&c) < 0 || dsn_part_text(&c) < 0 ||
	    dsn_part_status(&c) < 0 || dsn_part_original(&c) < 0 ||
	    buf_printf(out, "\r\n--%s--\r\n", c.boundary) < 0) {
		buf_truncate(out, old);
		if (why)
			buf_puts(why, "dsn: out of memory or over the size limit");
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int dsn_xtext_decode(const char *s, struct buf *out)
{
	size_t old = out->len;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '+') {
			int hi = msg_hex_value(s[1]);
			int lo = hi < 0 ? -1 : msg_hex_value(s[2]);
			if (lo >= 0)
				c = (unsigned char)(hi << 4 | lo);
			if (lo < 0 || c < 0x20 || c == 0x7f) {
				buf_truncate(out, old);
				errno = EINVAL;
				return -1;
			}
			s += 2;
		}
		if (buf_putc(out, (char)c) < 0) {
			buf_truncate(out, old);
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}
