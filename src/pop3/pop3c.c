/* pop3c: the POP3 client (RFC 1939, CAPA RFC 2449, STLS RFC 2595, SASL
 * PLAIN RFC 5034, RESP-CODES) over a blocking net connection. Every status
 * line goes through one reader (pop3c_status) that sorts it into +OK, -ERR
 * with its response code, or a protocol violation that makes the session
 * unusable. */
#include "pop3c.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../msg/codec.h"

/* RFC 2449 4: responses are at most 512 octets with CRLF; real servers
 * overstep that in greetings and CAPA, so status and listing lines get
 * some slack while staying bounded. */
#define POP3C_STATUS_MAX 2048
/* RFC 5322 allows 998 octets a line and real mail goes far beyond that
 * (unwrapped HTML, base64 without breaks), so message lines get more room;
 * the message as a whole is bounded by the caller's buffer. */
#define POP3C_DATA_LINE_MAX (1024 * 1024)
#define POP3C_CAPA_LINES_MAX 1000
#define POP3C_LIST_MAX 1000000
/* RFC 5034 4: an AUTH command with its initial response fits in 255
 * octets, else the response goes after an empty challenge. */
#define POP3C_AUTH_LINE_MAX 255

struct pop3c {
	struct net_conn *conn;
	struct pop3c_caps caps;
	char timestamp[256]; /* the greeting's APOP <...>, or "" */
	struct buf line;     /* the last line read; reused */
	int broken;          /* lost sync with the server: only close is left */
};

enum status { ST_OK, ST_ERR, ST_FAIL };

void pop3c_error_init(struct pop3c_error *e)
{
	e->code[0] = '\0';
	buf_init(&e->text, POP3C_STATUS_MAX);
}

void pop3c_error_free(struct pop3c_error *e)
{
	e->code[0] = '\0';
	buf_free(&e->text);
}

const struct pop3c_caps *pop3c_caps(const struct pop3c *p)
{
	return &p->caps;
}

struct net_conn *pop3c_conn(struct pop3c *p)
{
	return p->conn;
}

const char *pop3c_timestamp(const struct pop3c *p)
{
	return p->timestamp;
}

/* Appends s[0..n) to b with control bytes shown as '?', so server text can
 * go into messages and logs as it is. */
static void append_clean(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (buf_putc(b, c < 0x20 || c == 0x7f ? '?' : (char)c) < 0)
			return;
	}
}

/* A resp-code (RFC 2449 8): atoms of letters, digits and '-' joined by
 * '/'. Returns the length of "[CODE]" at s when there is one, else 0. */
static size_t resp_code_len(const char *s, size_t n, char code[32])
{
	if (n < 3 || s[0] != '[')
		return 0;
	size_t i = 1;
	while (i < n && s[i] != ']') {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '/')
			return 0;
		i++;
	}
	if (i == n || i == 1 || i - 1 >= 32)
		return 0;
	memcpy(code, s + 1, i - 1);
	code[i - 1] = '\0';
	return i + 1;
}

/* Fills e from a "-ERR ..." line (or any unexpected line when raw). */
static void error_set(struct pop3c_error *e, const char *s, size_t n, int raw)
{
	e->code[0] = '\0';
	buf_reset(&e->text);
	if (!raw) {
		while (n && *s == ' ') {
			s++;
			n--;
		}
		size_t skip = resp_code_len(s, n, e->code);
		s += skip;
		n -= skip;
		while (n && *s == ' ') {
			s++;
			n--;
		}
	}
	append_clean(&e->text, s, n);
	(void)buf_cstr(&e->text);
}

/* Marks the session unusable and says why. */
static void mark_broken(struct pop3c *p, enum net_err what,
                        enum net_err *err, struct buf *why, const char *fmt,
                        const char *arg)
{
	p->broken = 1;
	*err = what;
	if (fmt)
		(void)buf_printf(why, fmt, arg);
}

/* Starts a call: no error from an earlier one is left in *e or *err. */
static int check_usable(struct pop3c *p, struct pop3c_error *e,
                        enum net_err *err, struct buf *why)
{
	*err = NET_OK;
	e->code[0] = '\0';
	buf_reset(&e->text);
	if (!p->broken)
		return 0;
	*err = NET_ERR_PROTOCOL;
	(void)buf_puts(why, "the POP3 connection is no longer usable after an "
	                    "earlier error");
	return -1;
}

static int send_cmd(struct pop3c *p, const char *line, int secret,
                    const char *shown, enum net_err *err, struct buf *why)
{
	enum net_err r = net_send_line(p->conn, line, secret, shown, why);
	if (r == NET_OK)
		return 0;
	mark_broken(p, r, err, why, NULL, NULL);
	return -1;
}

static int status_is(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);
	return n >= w && strncasecmp(s, word, w) == 0 && (n == w || s[w] == ' ');
}

/* Reads one status line for cmd (for messages). ST_OK on "+OK"; ST_ERR on
 * "-ERR" with e filled, *err NET_OK and why saying so; ST_FAIL on a net
 * error or an answer that is neither (the session is then unusable).
 * The text after the status stays in p->line at offset *text_at. */
static enum status pop3c_status(struct pop3c *p, const char *cmd,
                                struct pop3c_error *e, enum net_err *err,
                                struct buf *why)
{
	*err = NET_OK;
	enum net_err r = net_read_line(p->conn, &p->line, POP3C_STATUS_MAX, 0,
	                               why);
	if (r != NET_OK) {
		mark_broken(p, r, err, why, NULL, NULL);
		return ST_FAIL;
	}
	const char *s = p->line.data ? p->line.data : "";
	size_t n = p->line.len;
	if (status_is(s, n, "+OK"))
		return ST_OK;
	if (status_is(s, n, "-ERR")) {
		error_set(e, s + 4, n - 4, 0);
		(void)buf_printf(why, "the POP3 server refused %s: ", cmd);
		append_clean(why, s, n);
		return ST_ERR;
	}
	error_set(e, s, n, 1);
	mark_broken(p, NET_ERR_PROTOCOL, err, why,
	     "the POP3 server gave an answer that is not +OK or -ERR to %s: ",
	     cmd);
	append_clean(why, s, n);
	return ST_FAIL;
}

/* Reads the next line of a multi-line answer into p->line with the
 * byte-stuffing undone. Returns 1 for a line (at *s, *n), 0 at the
 * terminating ".", -1 on a net error (session unusable). */
static int multi_line(struct pop3c *p, size_t max, int quiet, const char **s,
                      size_t *n, enum net_err *err, struct buf *why)
{
	enum net_err r = net_read_line(p->conn, &p->line, max, quiet, why);
	if (r != NET_OK) {
		mark_broken(p, r, err, why, NULL, NULL);
		return -1;
	}
	*s = p->line.data ? p->line.data : "";
	*n = p->line.len;
	if (*n && **s == '.') {
		if (*n == 1)
			return 0;
		/* RFC 1939 3: the first octet of a line starting with the
		 * termination octet is stripped. */
		(*s)++;
		(*n)--;
	}
	return 1;
}

/* Reads and ignores the rest of a multi-line answer (after a line we
 * could not use), so the session stays in step. 0 or -1. */
static int multi_drain(struct pop3c *p, enum net_err *err, struct buf *why)
{
	const char *s;
	size_t n;
	int r;
	while ((r = multi_line(p, POP3C_DATA_LINE_MAX, 1, &s, &n, err, why)) > 0)
		;
	return r;
}

static int word_is(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);
	return n == w && strncasecmp(s, word, w) == 0;
}

/* One line of the CAPA answer: a tag and its arguments. */
static void capa_line(struct pop3c_caps *c, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] != ' ')
		i++;
	if (word_is(s, i, "STLS"))
		c->stls = 1;
	else if (word_is(s, i, "UIDL"))
		c->uidl = 1;
	else if (word_is(s, i, "TOP"))
		c->top = 1;
	else if (word_is(s, i, "USER"))
		c->user = 1;
	else if (word_is(s, i, "PIPELINING"))
		c->pipelining = 1;
	else if (word_is(s, i, "RESP-CODES"))
		c->resp_codes = 1;
	else if (word_is(s, i, "SASL")) {
		while (i < n) {
			while (i < n && s[i] == ' ')
				i++;
			size_t start = i;
			while (i < n && s[i] != ' ')
				i++;
			if (word_is(s + start, i - start, "PLAIN"))
				c->sasl_plain = 1;
		}
	}
}

/* CAPA into p->caps. A server without CAPA (-ERR) is assumed to have the
 * RFC 1939 optional commands USER and UIDL; the caller finds out. */
static int pop3c_capa(struct pop3c *p, enum net_err *err, struct buf *why)
{
	struct pop3c_error ignored;
	pop3c_error_init(&ignored);
	memset(&p->caps, 0, sizeof p->caps);
	int r = -1;
	if (send_cmd(p, "CAPA", 0, NULL, err, why) < 0)
		goto out;
	size_t mark = why->len;
	enum status st = pop3c_status(p, "CAPA", &ignored, err, why);
	if (st == ST_FAIL)
		goto out;
	if (st == ST_ERR) {
		buf_truncate(why, mark);
		p->caps.user = p->caps.uidl = 1;
		r = 0;
		goto out;
	}
	p->caps.capa = 1;
	const char *s;
	size_t n, count = 0;
	int more;
	while ((more = multi_line(p, POP3C_STATUS_MAX, 0, &s, &n, err, why)) > 0)
		if (++count <= POP3C_CAPA_LINES_MAX)
			capa_line(&p->caps, s, n);
	r = more == 0 ? 0 : -1;
out:
	pop3c_error_free(&ignored);
	return r;
}

/* Keeps "<...>" of the greeting for APOP (RFC 1939 7). */
static void keep_timestamp(struct pop3c *p, const char *s, size_t n)
{
	const char *lt = memchr(s, '<', n);
	if (!lt)
		return;
	const char *gt = memchr(lt, '>', n - (size_t)(lt - s));
	if (!gt || (size_t)(gt - lt + 1) >= sizeof p->timestamp)
		return;
	memcpy(p->timestamp, lt, (size_t)(gt - lt + 1));
	p->timestamp[gt - lt + 1] = '\0';
}

struct pop3c *pop3c_start(struct net_conn *conn, struct pop3c_error *e,
                          enum net_err *err, struct buf *why)
{
	*err = NET_OK;
	e->code[0] = '\0';
	buf_reset(&e->text);
	struct pop3c *p = calloc(1, sizeof *p);
	if (!p) {
		net_close(&conn);
		*err = NET_ERR_MEMORY;
		(void)buf_puts(why, "out of memory");
		return NULL;
	}
	p->conn = conn;
	buf_init(&p->line, 0);
	enum status st = pop3c_status(p, "the connection", e, err, why);
	if (st == ST_OK) {
		keep_timestamp(p, p->line.data, p->line.len);
		if (pop3c_capa(p, err, why) == 0)
			return p;
	} else if (st == ST_ERR) {
		*err = NET_ERR_PROTOCOL;
	}
	pop3c_abort(&p);
	return NULL;
}

int pop3c_stls(struct pop3c *p, struct pop3c_error *e, enum net_err *err,
               struct buf *why)
{
	if (check_usable(p, e, err, why) < 0)
		return -1;
	if (net_is_tls(p->conn)) {
		*err = NET_ERR_PROTOCOL;
		(void)buf_puts(why, "the POP3 connection is already encrypted");
		return -1;
	}
	if (send_cmd(p, "STLS", 0, NULL, err, why) < 0 ||
	    pop3c_status(p, "STLS", e, err, why) != ST_OK)
		return -1;
	enum net_err r = net_starttls(p->conn, why);
	if (r != NET_OK) {
		mark_broken(p, r, err, why, NULL, NULL);
		return -1;
	}
	/* RFC 2595 4: what was learnt before TLS is forgotten. */
	return pop3c_capa(p, err, why);
}

/* A status for a simple command; 0 on +OK. */
static int simple(struct pop3c *p, const char *line, const char *cmd,
                  struct pop3c_error *e, enum net_err *err, struct buf *why)
{
	if (check_usable(p, e, err, why) < 0 ||
	    send_cmd(p, line, 0, NULL, err, why) < 0)
		return -1;
	return pop3c_status(p, cmd, e, err, why) == ST_OK ? 0 : -1;
}

/* RFC 5034 with PLAIN (RFC 4616): the response goes with the command when
 * the line stays within 255 octets, else after the server's empty "+ "
 * challenge. Returns the status of the final answer. */
static enum status login_plain(struct pop3c *p, const char *user,
                               const char *password, struct pop3c_error *e,
                               enum net_err *err, struct buf *why)
{
	struct buf raw = BUF_INIT, line = BUF_INIT;
	enum status st = ST_FAIL;
	size_t ulen = strlen(user), plen = strlen(password);
	if (buf_putc(&raw, '\0') < 0 || buf_append(&raw, user, ulen) < 0 ||
	    buf_putc(&raw, '\0') < 0 || buf_append(&raw, password, plen) < 0 ||
	    buf_puts(&line, "AUTH PLAIN ") < 0 ||
	    msg_base64_encode(raw.data, raw.len, 0, &line) < 0 ||
	    !buf_cstr(&line)) {
		*err = NET_ERR_MEMORY;
		(void)buf_puts(why, "out of memory");
		goto out;
	}
	if (line.len + 2 <= POP3C_AUTH_LINE_MAX) {
		if (send_cmd(p, line.data, 1, "AUTH PLAIN <redacted>", err,
		             why) < 0)
			goto out;
	} else {
		if (send_cmd(p, "AUTH PLAIN", 0, NULL, err, why) < 0)
			goto out;
		enum net_err r = net_read_line(p->conn, &p->line,
		                               POP3C_STATUS_MAX, 0, why);
		if (r != NET_OK) {
			mark_broken(p, r, err, why, NULL, NULL);
			goto out;
		}
		if (p->line.len == 0 || p->line.data[0] != '+' ||
		    status_is(p->line.data, p->line.len, "+OK")) {
			/* Not a challenge: it is the answer (likely -ERR). */
			goto answer;
		}
		if (send_cmd(p, line.data + strlen("AUTH PLAIN "), 1,
		             "<redacted>", err, why) < 0)
			goto out;
	}
	st = pop3c_status(p, "AUTH PLAIN", e, err, why);
	goto out;
answer:
	if (status_is(p->line.data, p->line.len, "+OK")) {
		st = ST_OK;
	} else if (status_is(p->line.data, p->line.len, "-ERR")) {
		error_set(e, p->line.data + 4, p->line.len - 4, 0);
		(void)buf_puts(why, "the POP3 server refused AUTH PLAIN: ");
		append_clean(why, p->line.data, p->line.len);
		st = ST_ERR;
	} else {
		error_set(e, p->line.data, p->line.len, 1);
		mark_broken(p, NET_ERR_PROTOCOL, err, why,
		     "the POP3 server gave an unexpected answer to %s",
		     "AUTH PLAIN");
	}
out:
	/* The encoded password is as secret as the password. */
	if (raw.data)
		memset(raw.data, 0, raw.len);
	if (line.data)
		memset(line.data, 0, line.len);
	buf_free(&raw);
	buf_free(&line);
	return st;
}

static int login_user_pass(struct pop3c *p, const char *user,
                           const char *password, struct pop3c_error *e,
                           enum net_err *err, struct buf *why)
{
	struct buf line = BUF_INIT;
	int r = -1;
	if (buf_printf(&line, "USER %s", user) < 0 || !buf_cstr(&line)) {
		*err = NET_ERR_MEMORY;
		(void)buf_puts(why, "out of memory");
		goto out;
	}
	if (send_cmd(p, line.data, 0, NULL, err, why) < 0 ||
	    pop3c_status(p, "USER", e, err, why) != ST_OK)
		goto out;
	buf_reset(&line);
	if (buf_printf(&line, "PASS %s", password) < 0 || !buf_cstr(&line)) {
		*err = NET_ERR_MEMORY;
		(void)buf_puts(why, "out of memory");
		goto out;
	}
	if (send_cmd(p, line.data, 1, "PASS <redacted>", err, why) < 0)
		goto out;
	r = pop3c_status(p, "PASS", e, err, why) == ST_OK ? 0 : -1;
out:
	if (line.data)
		memset(line.data, 0, line.len);
	buf_free(&line);
	return r;
}

int pop3c_login(struct pop3c *p, const char *user, const char *password,
                struct pop3c_error *e, enum net_err *err, struct buf *why)
{
	if (check_usable(p, e, err, why) < 0)
		return -1;
	if (strpbrk(user, "\r\n") || strpbrk(password, "\r\n")) {
		*err = NET_ERR_PROTOCOL;
		(void)buf_puts(why, "the user name or password contains a line "
		                    "break, which POP3 cannot carry");
		return -1;
	}
	if (p->caps.sasl_plain) {
		size_t mark = why->len;
		enum status st = login_plain(p, user, password, e, err, why);
		if (st != ST_ERR)
			return st == ST_OK ? 0 : -1;
		/* A response code means the server judged the login ([AUTH],
		 * [IN-USE], [SYS/TEMP]...); without one it may have refused the
		 * mechanism itself, and USER/PASS is worth a try. */
		if (e->code[0] || (p->caps.capa && !p->caps.user))
			return -1;
		buf_truncate(why, mark);
	}
	return login_user_pass(p, user, password, e, err, why);
}

/* Parses a decimal number that fills s[0..n) exactly. 0 or -1. */
static int parse_number(const char *s, size_t n, unsigned long long *v)
{
	if (n == 0 || n > 20)
		return -1;
	unsigned long long x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (ULLONG_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/* Splits "NUM REST" (RFC 1939 scan and unique-id listings): *num is the
 * message number, rest and *rn what follows the single space up to the
 * next space (servers may add more after it). 0 or -1. */
static int listing_line(const char *s, size_t n, unsigned long *num,
                        const char **rest, size_t *rn)
{
	const char *sp = memchr(s, ' ', n);
	unsigned long long v;
	if (!sp || parse_number(s, (size_t)(sp - s), &v) < 0 || v == 0 ||
	    v > ULONG_MAX)
		return -1;
	*num = (unsigned long)v;
	*rest = sp + 1;
	const char *end = s + n;
	const char *sp2 = memchr(*rest, ' ', (size_t)(end - *rest));
	*rn = (size_t)((sp2 ? sp2 : end) - *rest);
	return *rn ? 0 : -1;
}

static int msg_cmp(const void *a, const void *b)
{
	const struct pop3c_msg *x = a, *y = b;
	return x->num < y->num ? -1 : x->num > y->num;
}

/* A bad line in a listing (s NULL: too many lines): says which and reads
 * the rest, so the session stays in step. Returns -1. */
static int listing_bad(struct pop3c *p, const char *cmd, const char *s,
                       size_t n, enum net_err *err, struct buf *why)
{
	if (s) {
		(void)buf_printf(why, "the POP3 server sent a malformed %s "
		                      "line: ", cmd);
		append_clean(why, s, n > 80 ? 80 : n);
	} else {
		(void)buf_printf(why, "the POP3 server lists more than %d "
		                      "messages", POP3C_LIST_MAX);
	}
	if (multi_drain(p, err, why) == 0)
		*err = NET_ERR_PROTOCOL;
	return -1;
}

/* One line of a LIST or UIDL listing: the whole line (for listing_bad)
 * and, when listing_line could split it, the number and the rest. */
struct listing {
	const char *s, *rest;
	size_t len, rn;
	unsigned long num;
	int split;               /* 0: malformed; num and rest unset */
};

/* Reads the next listing line into l. Returns multi_line's 1 (a line),
 * 0 (the end) or -1. */
static int listing_next(struct pop3c *p, struct listing *l,
                        enum net_err *err, struct buf *why)
{
	int r = multi_line(p, POP3C_STATUS_MAX, 0, &l->s, &l->len, err, why);
	if (r > 0)
		l->split = listing_line(l->s, l->len, &l->num, &l->rest,
		                        &l->rn) == 0;
	return r;
}

static int list_scan(struct pop3c *p, struct pop3c_msg **msgs, size_t *n,
                     enum net_err *err, struct buf *why)
{
	size_t cap = 0;
	struct listing l;
	int more;
	while ((more = listing_next(p, &l, err, why)) > 0) {
		unsigned long long size;
		if (!l.split || parse_number(l.rest, l.rn, &size) < 0)
			return listing_bad(p, "LIST", l.s, l.len, err, why);
		if (*n == POP3C_LIST_MAX)
			return listing_bad(p, "LIST", NULL, 0, err, why);
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct pop3c_msg *m = realloc(*msgs, ncap * sizeof *m);
			if (!m) {
				mark_broken(p, NET_ERR_MEMORY, err, why, "%s",
				     "out of memory");
				return -1;
			}
			*msgs = m;
			cap = ncap;
		}
		(*msgs)[*n] = (struct pop3c_msg){.num = l.num, .size = size};
		(*n)++;
	}
	return more;
}

static int uidl_valid(const char *s, size_t n)
{
	if (n < 1 || n > 70)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* UIDL into the sorted msgs. A server that refuses UIDL leaves them "". */
static int list_uidl(struct pop3c *p, struct pop3c_msg *msgs, size_t n,
                     enum net_err *err, struct buf *why)
{
	struct pop3c_error ignored;
	pop3c_error_init(&ignored);
	size_t mark = why->len;
	int r = -1;
	if (send_cmd(p, "UIDL", 0, NULL, err, why) < 0)
		goto out;
	enum status st = pop3c_status(p, "UIDL", &ignored, err, why);
	if (st != ST_OK) {
		if (st == ST_ERR) {
			buf_truncate(why, mark);
			r = 0;
		}
		goto out;
	}
	struct listing l;
	int more;
	while ((more = listing_next(p, &l, err, why)) > 0) {
		if (!l.split || !uidl_valid(l.rest, l.rn))
			goto bad;
		struct pop3c_msg key = {.num = l.num};
		struct pop3c_msg *m = bsearch(&key, msgs, n, sizeof *msgs,
		                              msg_cmp);
		if (!m || m->uidl[0])
			goto bad; /* not listed, or listed twice */
		memcpy(m->uidl, l.rest, l.rn);
		m->uidl[l.rn] = '\0';
	}
	r = more;
	goto out;
bad:
	r = listing_bad(p, "UIDL", l.s, l.len, err, why);
out:
	pop3c_error_free(&ignored);
	return r;
}

int pop3c_list(struct pop3c *p, struct pop3c_msg **msgs, size_t *n,
               struct pop3c_error *e, enum net_err *err, struct buf *why)
{
	*msgs = NULL;
	*n = 0;
	if (simple(p, "LIST", "LIST", e, err, why) < 0)
		return -1;
	if (list_scan(p, msgs, n, err, why) < 0)
		goto fail;
	if (*n)
		qsort(*msgs, *n, sizeof **msgs, msg_cmp);
	for (size_t i = 1; i < *n; i++)
		if ((*msgs)[i].num == (*msgs)[i - 1].num) {
			*err = NET_ERR_PROTOCOL;
			(void)buf_printf(why, "the POP3 server lists message %lu "
			                      "twice", (*msgs)[i].num);
			goto fail;
		}
	if (*n && (!p->caps.capa || p->caps.uidl) &&
	    list_uidl(p, *msgs, *n, err, why) < 0)
		goto fail;
	return 0;
fail:
	free(*msgs);
	*msgs = NULL;
	*n = 0;
	return -1;
}

/* Appends one unstuffed message line and its CRLF. */
static int retr_append(struct pop3c *p, struct buf *out, const char *s,
                       size_t n, unsigned long num, enum net_err *err,
                       struct buf *why)
{
	if (buf_append(out, s, n) == 0 && buf_append(out, "\r\n", 2) == 0)
		return 0;
	if (out->max && out->len + n + 2 > out->max) {
		char limit[32];
		snprintf(limit, sizeof limit, "%zu", out->max);
		(void)buf_printf(why, "message %lu is larger than ", num);
		mark_broken(p, NET_ERR_PROTOCOL, err, why, "the limit of %s bytes",
		     limit);
	} else {
		mark_broken(p, NET_ERR_MEMORY, err, why, "%s", "out of memory");
	}
	return -1;
}

int pop3c_retr(struct pop3c *p, unsigned long num, struct buf *out,
               struct pop3c_error *e, enum net_err *err, struct buf *why)
{
	char cmd[40];
	snprintf(cmd, sizeof cmd, "RETR %lu", num);
	if (simple(p, cmd, cmd, e, err, why) < 0)
		return -1;
	size_t start = out->len;
	const char *s;
	size_t n;
	int more;
	while ((more = multi_line(p, POP3C_DATA_LINE_MAX, 1, &s, &n, err,
	                          why)) > 0)
		if (retr_append(p, out, s, n, num, err, why) < 0) {
			more = -1;
			break;
		}
	if (more < 0) {
		buf_truncate(out, start);
		return -1;
	}
	net_trace(p->conn, 'S', "<message %lu, %zu bytes>", num,
	          out->len - start);
	return 0;
}

int pop3c_dele(struct pop3c *p, unsigned long num, struct pop3c_error *e,
               enum net_err *err, struct buf *why)
{
	char cmd[40];
	snprintf(cmd, sizeof cmd, "DELE %lu", num);
	return simple(p, cmd, cmd, e, err, why);
}

int pop3c_quit(struct pop3c **pp, struct pop3c_error *e, enum net_err *err,
               struct buf *why)
{
	struct pop3c *p = *pp;
	*err = NET_OK;
	if (!p)
		return -1;
	int r = simple(p, "QUIT", "QUIT", e, err, why);
	pop3c_abort(pp);
	return r;
}

void pop3c_abort(struct pop3c **pp)
{
	struct pop3c *p = *pp;
	if (!p)
		return;
	net_close(&p->conn);
	buf_free(&p->line);
	free(p);
	*pp = NULL;
}
