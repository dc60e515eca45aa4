/* smtpc: the blocking SMTP client of smtpc.h. One reply reader
 * (smtpc_read_reply) checks every reply's shape and bounds and pulls out
 * the enhanced status code; the rest are short command/reply exchanges.
 * Passwords only ever go out through net_send_line's secret path. */
#include "smtpc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../msg/codec.h"
#include "../msg/dotstuff.h"

#define SMTPC_LINE_MAX 4096        /* one reply line (RFC 5321 says 512) */
#define SMTPC_REPLY_MAX 65536      /* all lines of one reply */
#define SMTPC_REPLY_LINES 512
#define SMTPC_PIPELINE_WINDOW 100  /* commands in flight before we read */
#define SMTPC_DATA_CHUNK 65536
#define SMTPC_QUIT_TIMEOUT 3       /* seconds for the goodbye */

struct smtpc {
	struct net_conn *conn;
	char *helo_name;
	struct smtpc_ext ext;
	struct buf line;
	int broken;                    /* a net error happened: no more I/O */
};

void smtpc_reply_init(struct smtpc_reply *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->text, SMTPC_REPLY_MAX);
}

void smtpc_reply_free(struct smtpc_reply *r)
{
	buf_free(&r->text);
	r->code = 0;
	r->enhanced[0] = '\0';
}

static void reply_clear(struct smtpc_reply *r)
{
	buf_reset(&r->text);
	r->text.max = SMTPC_REPLY_MAX;
	r->code = 0;
	r->enhanced[0] = '\0';
}

const struct smtpc_ext *smtpc_ext(const struct smtpc *s)
{
	return &s->ext;
}

struct net_conn *smtpc_conn(struct smtpc *s)
{
	return s->conn;
}

/* Appends "CODE text" of r to why, the text's lines joined with "; ". */
static void why_reply(struct buf *why, const char *what,
                      struct smtpc_reply *r)
{
	buf_printf(why, "%s: %d", what, r->code);
	if (r->enhanced[0])
		buf_printf(why, " %s", r->enhanced);
	const char *t = buf_cstr(&r->text);
	if (*t)
		buf_putc(why, ' ');
	for (; *t; t++) {
		if (*t == '\n')
			buf_puts(why, "; ");
		else
			buf_putc(why, *t);
	}
}

/* Length of an enhanced status code "c.sss.ddd" at p matching class
 * (2, 4 or 5), followed by a space or the end; 0 when there is none. */
static size_t enhanced_len(const char *p, size_t n, int class)
{
	if (n < 5 || p[0] != '0' + class || p[1] != '.')
		return 0;
	size_t i = 2, digits = 0;
	for (int part = 0; part < 2; part++) {
		for (digits = 0; i < n && isdigit((unsigned char)p[i]) && digits < 3; i++)
			digits++;
		if (digits == 0)
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && p[i] != ' ')
		return 0;
	return i;
}

static void why_malformed(struct buf *why, const char *reason,
                          const struct buf *line)
{
	buf_printf(why, "the server sent a malformed reply (%s): \"", reason);
	for (size_t i = 0; i < line->len && i < 60; i++) {
		unsigned char ch = (unsigned char)line->data[i];
		buf_putc(why, ch >= 0x20 && ch < 0x7f ? (char)ch : '?');
	}
	buf_puts(why, line->len > 60 ? "...\"" : "\"");
}

/* Checks one reply line; gives its code and whether more lines follow. */
static int reply_line_parse(const struct buf *l, int *code, int *more)
{
	const char *p = l->data;
	if (l->len < 3 || p[0] < '2' || p[0] > '5' || !isdigit((unsigned char)p[1])
	    || !isdigit((unsigned char)p[2]))
		return -1;
	if (l->len > 3 && p[3] != ' ' && p[3] != '-')
		return -1;
	*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	*more = l->len > 3 && p[3] == '-';
	return 0;
}

/* Reads one whole reply into r. 0, or -1 with *err and why (r->code 0).
 * Any failure leaves the stream out of step, so the session is broken. */
static int smtpc_read_reply(struct smtpc *s, struct smtpc_reply *r,
                            enum net_err *err, struct buf *why)
{
	reply_clear(r);
	int code = 0, more = 1;
	size_t total = 0;
	for (int n = 0; more; n++) {
		enum net_err e = net_read_line(s->conn, &s->line, SMTPC_LINE_MAX, 0, why);
		if (e != NET_OK) {
			*err = e;
			goto fail;
		}
		int c;
		const char *reason = NULL;
		total += s->line.len + 1;
		if (reply_line_parse(&s->line, &c, &more) < 0)
			reason = "no reply code";
		else if (n > 0 && c != code)
			reason = "the code changes inside a multi-line reply";
		else if (n + 1 > SMTPC_REPLY_LINES || total > SMTPC_REPLY_MAX)
			reason = "too long";
		if (reason) {
			why_malformed(why, reason, &s->line);
			*err = NET_ERR_PROTOCOL;
			goto fail;
		}
		code = c;
		const char *t = s->line.data + (s->line.len > 3 ? 4 : 3);
		size_t tn = s->line.len - (size_t)(t - s->line.data);
		size_t el = enhanced_len(t, tn, code / 100);
		if (el) {
			if (n == 0 && el < sizeof r->enhanced) {
				memcpy(r->enhanced, t, el);
				r->enhanced[el] = '\0';
			}
			t += el;
			tn -= el;
			if (tn && *t == ' ')
				t++, tn--;
		}
		if ((n > 0 && buf_putc(&r->text, '\n') < 0)
		    || buf_append(&r->text, t, tn) < 0) {
			*err = NET_ERR_MEMORY;
			buf_puts(why, "out of memory");
			goto fail;
		}
	}
	r->code = code;
	buf_cstr(&r->text);
	return 0;
fail:
	reply_clear(r);
	s->broken = 1;
	return -1;
}

/* Sends a line (secret: redacted in the transcript as shown). 0 or -1. */
static int smtpc_send_line(struct smtpc *s, const char *line, int secret,
                           const char *shown, enum net_err *err,
                           struct buf *why)
{
	if (s->broken) {
		*err = NET_ERR_CLOSED;
		buf_puts(why, "the connection to the SMTP server is already lost");
		return -1;
	}
	enum net_err e = net_send_line(s->conn, line, secret, shown, why);
	if (e != NET_OK) {
		*err = e;
		/* a refused line (CR or LF in it) went nowhere; the rest broke */
		if (e != NET_ERR_PROTOCOL)
			s->broken = 1;
		return -1;
	}
	return 0;
}

/* A command and its reply. 0 (whatever the code) or -1 on a net error. */
static int smtpc_cmd(struct smtpc *s, const char *line, int secret,
                     const char *shown, struct smtpc_reply *r,
                     enum net_err *err, struct buf *why)
{
	reply_clear(r);
	if (smtpc_send_line(s, line, secret, shown, err, why) < 0)
		return -1;
	return smtpc_read_reply(s, r, err, why);
}

static int word_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/* The mechanisms after "AUTH " or "AUTH=". */
static void ext_auth(struct smtpc_ext *x, const char *p, const char *end)
{
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '='))
			p++;
		const char *w = p;
		while (p < end && *p != ' ')
			p++;
		if (word_is(w, (size_t)(p - w), "PLAIN"))
			x->auth_plain = 1;
		else if (word_is(w, (size_t)(p - w), "LOGIN"))
			x->auth_login = 1;
	}
}

static void ext_line(struct smtpc_ext *x, const char *p, const char *end)
{
	const char *k = p;
	while (p < end && *p != ' ' && *p != '=')
		p++;
	size_t kn = (size_t)(p - k);
	if (word_is(k, kn, "STARTTLS"))
		x->starttls = 1;
	else if (word_is(k, kn, "PIPELINING"))
		x->pipelining = 1;
	else if (word_is(k, kn, "8BITMIME"))
		x->eightbitmime = 1;
	else if (word_is(k, kn, "SMTPUTF8"))
		x->smtputf8 = 1;
	else if (word_is(k, kn, "ENHANCEDSTATUSCODES"))
		x->enhanced = 1;
	else if (word_is(k, kn, "CHUNKING"))
		x->chunking = 1;
	else if (word_is(k, kn, "DSN"))
		x->dsn = 1;
	else if (word_is(k, kn, "AUTH"))
		ext_auth(x, p, end);
	else if (word_is(k, kn, "SIZE")) {
		unsigned long long v = 0;
		for (p++; p < end && isdigit((unsigned char)*p); p++)
			v = v > (~0ULL - 9) / 10 ? ~0ULL : v * 10 + (unsigned)(*p - '0');
		x->size = v;
	}
}

/* The keywords of an EHLO reply: every line after the first. */
static void ext_parse(struct smtpc_ext *x, const struct smtpc_reply *r)
{
	memset(x, 0, sizeof *x);
	x->esmtp = 1;
	const char *p = r->text.data ? r->text.data : "";
	const char *end = p + r->text.len;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	while (nl) {
		p = nl + 1;
		nl = memchr(p, '\n', (size_t)(end - p));
		ext_line(x, p, nl ? nl : end);
	}
}

/* EHLO, or HELO when EHLO is refused with 5xx. 0 or -1 (*last has the
 * refusal; code 0 on a net error). */
static int smtpc_hello(struct smtpc *s, struct smtpc_reply *last,
                       enum net_err *err, struct buf *why)
{
	struct buf cmd = BUF_INIT;
	int r = -1;
	memset(&s->ext, 0, sizeof s->ext);
	if (buf_printf(&cmd, "EHLO %s", s->helo_name) < 0) {
		*err = NET_ERR_MEMORY;
		goto out;
	}
	if (smtpc_cmd(s, buf_cstr(&cmd), 0, NULL, last, err, why) < 0)
		goto out;
	if (last->code == 250) {
		ext_parse(&s->ext, last);
		r = 0;
		goto out;
	}
	if (last->code >= 500) {
		buf_reset(&cmd);
		if (buf_printf(&cmd, "HELO %s", s->helo_name) < 0) {
			*err = NET_ERR_MEMORY;
			goto out;
		}
		if (smtpc_cmd(s, buf_cstr(&cmd), 0, NULL, last, err, why) < 0)
			goto out;
		if (last->code == 250) {
			r = 0;
			goto out;
		}
	}
	*err = NET_ERR_PROTOCOL;
	why_reply(why, "the server refused EHLO and HELO", last);
out:
	buf_free(&cmd);
	return r;
}

struct smtpc *smtpc_start(struct net_conn *conn, const char *helo_name,
                          struct smtpc_reply *last, enum net_err *err,
                          struct buf *why)
{
	*err = NET_OK;
	reply_clear(last);
	struct smtpc *s = calloc(1, sizeof *s);
	if (!s || !(s->helo_name = strdup(helo_name))) {
		free(s);
		net_close(&conn);
		*err = NET_ERR_MEMORY;
		buf_puts(why, "out of memory");
		return NULL;
	}
	s->conn = conn;
	buf_init(&s->line, SMTPC_LINE_MAX + 2);
	if (smtpc_read_reply(s, last, err, why) < 0)
		goto fail;
	if (last->code != 220) {
		*err = NET_ERR_PROTOCOL;
		why_reply(why, "the server refused the session", last);
		goto fail;
	}
	if (smtpc_hello(s, last, err, why) < 0)
		goto fail;
	return s;
fail:
	smtpc_quit(&s);
	return NULL;
}

int smtpc_starttls(struct smtpc *s, struct smtpc_reply *last,
                   enum net_err *err, struct buf *why)
{
	*err = NET_OK;
	reply_clear(last);
	if (net_is_tls(s->conn) || !s->ext.starttls) {
		*err = NET_ERR_PROTOCOL;
		buf_puts(why, net_is_tls(s->conn)
		         ? "the connection is already encrypted"
		         : "the server does not offer STARTTLS");
		return -1;
	}
	if (smtpc_cmd(s, "STARTTLS", 0, NULL, last, err, why) < 0)
		return -1;
	if (last->code != 220) {
		*err = NET_ERR_PROTOCOL;
		why_reply(why, "the server refused STARTTLS", last);
		return -1;
	}
	/* what EHLO said in the clear may have been forged (RFC 3207 4.2) */
	memset(&s->ext, 0, sizeof s->ext);
	enum net_err e = net_starttls(s->conn, why);
	if (e != NET_OK) {
		*err = e;
		s->broken = 1;
		reply_clear(last);
		return -1;
	}
	return smtpc_hello(s, last, err, why);
}

/* Sends a SASL response line (base64 of data); secret ones are redacted. */
static int auth_response(struct smtpc *s, const char *prefix,
                         const char *data, size_t n, int secret,
                         const char *shown, struct smtpc_reply *last,
                         enum net_err *err, struct buf *why)
{
	struct buf line = BUF_INIT;
	int r = -1;
	if (buf_puts(&line, prefix) < 0 || msg_base64_encode(data, n, 0, &line) < 0) {
		*err = NET_ERR_MEMORY;
		buf_puts(why, "out of memory");
	} else {
		r = smtpc_cmd(s, buf_cstr(&line), secret, shown, last, err, why);
	}
	if (line.data)
		explicit_bzero(line.data, line.cap);
	buf_free(&line);
	return r;
}

static int auth_plain(struct smtpc *s, const char *user, const char *password,
                      struct smtpc_reply *last, enum net_err *err,
                      struct buf *why)
{
	struct buf cred = BUF_INIT;
	int r = -1;
	if (buf_putc(&cred, '\0') < 0 || buf_puts(&cred, user) < 0
	    || buf_putc(&cred, '\0') < 0 || buf_puts(&cred, password) < 0) {
		*err = NET_ERR_MEMORY;
		buf_puts(why, "out of memory");
		goto out;
	}
	r = auth_response(s, "AUTH PLAIN ", cred.data, cred.len, 1,
	                  "AUTH PLAIN <redacted>", last, err, why);
	/* a server that ignores the initial response asks with an empty 334 */
	if (r == 0 && last->code == 334)
		r = auth_response(s, "", cred.data, cred.len, 1, NULL, last, err, why);
out:
	if (cred.data)
		explicit_bzero(cred.data, cred.cap);
	buf_free(&cred);
	return r;
}

static int auth_login(struct smtpc *s, const char *user, const char *password,
                      struct smtpc_reply *last, enum net_err *err,
                      struct buf *why)
{
	if (smtpc_cmd(s, "AUTH LOGIN", 0, NULL, last, err, why) < 0)
		return -1;
	if (last->code != 334)
		return 0;
	if (auth_response(s, "", user, strlen(user), 0, NULL, last, err, why) < 0)
		return -1;
	if (last->code != 334)
		return 0;
	return auth_response(s, "", password, strlen(password), 1, NULL, last,
	                     err, why);
}

int smtpc_auth(struct smtpc *s, const char *user, const char *password,
               struct smtpc_reply *last, enum net_err *err, struct buf *why)
{
	*err = NET_OK;
	reply_clear(last);
	int r;
	if (s->ext.auth_plain)
		r = auth_plain(s, user, password, last, err, why);
	else if (s->ext.auth_login)
		r = auth_login(s, user, password, last, err, why);
	else {
		/* nothing went wrong on the wire: *err stays NET_OK */
		buf_puts(why, s->ext.starttls && !net_is_tls(s->conn)
		         ? "the server offers no login before STARTTLS"
		         : "the server offers neither AUTH PLAIN nor AUTH LOGIN");
		return -1;
	}
	if (r < 0)
		return -1;
	if (last->code == 235)
		return 0;
	if (last->code == 334) {
		/* more challenges than PLAIN/LOGIN have: cancel (RFC 4954 4) */
		smtpc_cmd(s, "*", 0, NULL, last, err, why);
	}
	*err = NET_ERR_PROTOCOL;
	why_reply(why, "the server rejected the login", last);
	return -1;
}

int smtpc_rset(struct smtpc *s, struct smtpc_reply *last, enum net_err *err,
               struct buf *why)
{
	*err = NET_OK;
	if (smtpc_cmd(s, "RSET", 0, NULL, last, err, why) < 0)
		return -1;
	if (last->code == 250)
		return 0;
	*err = NET_ERR_PROTOCOL;
	why_reply(why, "the server refused RSET", last);
	return -1;
}

void smtpc_quit(struct smtpc **sp)
{
	struct smtpc *s = sp ? *sp : NULL;
	if (!s)
		return;
	if (!s->broken) {
		struct buf why = BUF_INIT;
		struct smtpc_reply r;
		enum net_err e;
		smtpc_reply_init(&r);
		net_set_timeout(s->conn, SMTPC_QUIT_TIMEOUT);
		smtpc_cmd(s, "QUIT", 0, NULL, &r, &e, &why);
		smtpc_reply_free(&r);
		buf_free(&why);
	}
	net_close(&s->conn);
	buf_free(&s->line);
	free(s->helo_name);
	free(s);
	*sp = NULL;
}

/* ---- one message ---- */

int smtpc_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

int smtpc_address_ok(const char *a)
{
	for (; *a; a++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f || *a == '<' || *a == '>')
			return 0;
	return 1;
}

/* An ESMTP parameter value we can send: xtext, '!'..'~' without '='. */
static int xtext_ok(const char *v)
{
	if (!v)
		return 1;
	if (!*v)
		return 0;
	for (; *v; v++)
		if ((unsigned char)*v < 0x21 || (unsigned char)*v > 0x7e || *v == '=')
			return 0;
	return 1;
}

static int params_ok(const struct smtpc_params *p, size_t nrcpt)
{
	if (!p)
		return 1;
	if (!xtext_ok(p->ret) || !xtext_ok(p->envid))
		return 0;
	for (size_t i = 0; i < nrcpt; i++)
		if ((p->notify && !xtext_ok(p->notify[i]))
		    || (p->orcpt && !xtext_ok(p->orcpt[i])))
			return 0;
	return 1;
}

/* Checks what can be checked before a byte is sent: addresses, SIZE,
 * SMTPUTF8, parameters. 0, or -1 with NET_ERR_PROTOCOL and why. */
static int send_precheck(const struct smtpc *s, const char *from,
                         const struct smtpc_rcpt *rcpts, size_t nrcpt,
                         const struct smtpc_params *params,
                         unsigned long long size, int *utf8,
                         enum net_err *err, struct buf *why)
{
	*err = NET_ERR_PROTOCOL;
	if (!params_ok(params, nrcpt)) {
		buf_puts(why, "an ESMTP parameter (RET, ENVID, NOTIFY or ORCPT) "
		         "contains characters SMTP cannot carry");
		return -1;
	}
	if (nrcpt == 0) {
		buf_puts(why, "the message has no recipients");
		return -1;
	}
	*utf8 = smtpc_has_8bit(from, strlen(from));
	if (!smtpc_address_ok(from)) {
		buf_puts(why, "the sender address contains characters SMTP cannot carry");
		return -1;
	}
	for (size_t i = 0; i < nrcpt; i++) {
		if (!smtpc_address_ok(rcpts[i].address)) {
			buf_puts(why, "a recipient address contains characters SMTP "
			         "cannot carry");
			return -1;
		}
		*utf8 |= smtpc_has_8bit(rcpts[i].address, strlen(rcpts[i].address));
	}
	if (params && params->smtputf8 && s->ext.smtputf8)
		*utf8 = 1;
	if (*utf8 && !s->ext.smtputf8) {
		buf_puts(why, "an address is not ASCII and the server does not offer "
		         "SMTPUTF8");
		return -1;
	}
	if (s->ext.size && size > s->ext.size) {
		buf_printf(why, "the message is %llu bytes, the server accepts at "
		           "most %llu", size, s->ext.size);
		return -1;
	}
	*err = NET_OK;
	return 0;
}

/* Command i of the group: MAIL, the RCPTs (with the DSN parameters when
 * the server takes them), DATA. */
static int group_line(const struct smtpc *s, struct buf *cmd, size_t i,
                      const char *from, const struct smtpc_rcpt *rcpts,
                      size_t nrcpt, const char *mail_params,
                      const struct smtpc_params *p)
{
	buf_reset(cmd);
	if (i == 0)
		return buf_printf(cmd, "MAIL FROM:<%s>%s", from, mail_params);
	if (i > nrcpt)
		return buf_puts(cmd, "DATA");
	const char *notify = p && p->notify && s->ext.dsn ? p->notify[i - 1] : NULL;
	const char *orcpt = p && p->orcpt && s->ext.dsn ? p->orcpt[i - 1] : NULL;
	return buf_printf(cmd, "RCPT TO:<%s>%s%s%s%s", rcpts[i - 1].address,
	                  notify ? " NOTIFY=" : "", notify ? notify : "",
	                  orcpt ? " ORCPT=" : "", orcpt ? orcpt : "");
}

/* The data, dot-stuffed with CRLF ends, then the dot; the transcript
 * shows the size SIZE= gave. 0 or -1. */
static int send_data(struct smtpc *s, const char *data, size_t len,
                     enum net_err *err, struct buf *why)
{
	struct msg_dotstuff st;
	struct msg_crlf_size cs;
	struct buf out;
	enum net_err e = NET_OK;
	msg_crlf_size_init(&cs);
	msg_crlf_size_feed(&cs, data, len);
	buf_init(&out, 0);
	msg_dotstuff_init(&st, -1);
	for (size_t off = 0; off < len && e == NET_OK; off += SMTPC_DATA_CHUNK) {
		size_t n = len - off < SMTPC_DATA_CHUNK ? len - off : SMTPC_DATA_CHUNK;
		buf_reset(&out);
		if (msg_dotstuff_feed(&st, data + off, n, &out) < 0)
			e = NET_ERR_MEMORY;
		else
			e = net_send(s->conn, out.data, out.len, why);
	}
	if (e == NET_OK) {
		buf_reset(&out);
		if (msg_dotstuff_end(&st, &out) < 0 || buf_puts(&out, ".\r\n") < 0)
			e = NET_ERR_MEMORY;
		else {
			net_trace(s->conn, 'C', "<message, %llu bytes>",
			          msg_crlf_size_end(&cs));
			net_trace(s->conn, 'C', ".");
			e = net_send(s->conn, out.data, out.len, why);
		}
	}
	buf_free(&out);
	if (e == NET_ERR_MEMORY)
		buf_puts(why, "out of memory");
	if (e != NET_OK) {
		*err = e;
		s->broken = 1;
		return -1;
	}
	return 0;
}

static int reply_copy(struct smtpc_reply *dst, const struct smtpc_reply *src)
{
	reply_clear(dst);
	dst->code = src->code;
	memcpy(dst->enhanced, src->enhanced, sizeof dst->enhanced);
	return buf_append(&dst->text, src->text.data, src->text.len);
}

/* After DATA's reply: the data and the final reply. Returns what
 * smtpc_send returns. */
static int send_finish(struct smtpc *s, size_t accepted, const char *data,
                       size_t len, struct smtpc_reply *last,
                       enum smtpc_stage *stage, enum net_err *err,
                       struct buf *why)
{
	*stage = SMTPC_STAGE_DATA;
	if (last->code != 354) {
		if (accepted == 0)
			return 0;
		*err = NET_ERR_PROTOCOL;
		why_reply(why, "the server refused DATA", last);
		return -1;
	}
	*stage = SMTPC_STAGE_DOT;
	/* a server that says 354 without a recipient gets an empty message */
	if (send_data(s, data, accepted ? len : 0, err, why) < 0
	    || smtpc_read_reply(s, last, err, why) < 0)
		return -1;
	if (accepted == 0)
		return 0;
	if (last->code == 250)
		return (int)(accepted > 1000000 ? 1000000 : accepted);
	*err = NET_ERR_PROTOCOL;
	why_reply(why, "the server refused the message", last);
	return -1;
}

/* The parameters of MAIL FROM (RFC 1870, 6152, 6531, 3461). 0 or -1. */
static int mail_params(const struct smtpc *s, const char *data, size_t len,
                       unsigned long long size, int utf8,
                       const struct smtpc_params *p, struct buf *out)
{
	int r = 0;
	if (s->ext.size)
		r |= buf_printf(out, " SIZE=%llu", size);
	if (smtpc_has_8bit(data, len) && s->ext.eightbitmime)
		r |= buf_puts(out, " BODY=8BITMIME");
	if (utf8)
		r |= buf_puts(out, " SMTPUTF8");
	if (p && s->ext.dsn && p->ret)
		r |= buf_printf(out, " RET=%s", p->ret);
	if (p && s->ext.dsn && p->envid)
		r |= buf_printf(out, " ENVID=%s", p->envid);
	buf_cstr(out);
	return r ? -1 : 0;
}

/* The checks, then MAIL's parameters into params. 0, or -1 with *err. */
static int send_prepare(const struct smtpc *s, const char *from,
                        const struct smtpc_rcpt *rcpts, size_t nrcpt,
                        const char *data, size_t len,
                        const struct smtpc_params *p, struct buf *params,
                        enum net_err *err, struct buf *why)
{
	struct msg_crlf_size cs;
	msg_crlf_size_init(&cs);
	msg_crlf_size_feed(&cs, data, len);
	unsigned long long size = msg_crlf_size_end(&cs);
	int utf8;
	if (send_precheck(s, from, rcpts, nrcpt, p, size, &utf8, err, why) < 0)
		return -1;
	if (mail_params(s, data, len, size, utf8, p, params) < 0) {
		*err = NET_ERR_MEMORY;
		buf_puts(why, "out of memory");
		return -1;
	}
	return 0;
}

int smtpc_send(struct smtpc *s, const char *from, struct smtpc_rcpt *rcpts,
               size_t nrcpt, const char *data, size_t len,
               struct smtpc_reply *last, enum net_err *err, struct buf *why)
{
	return smtpc_send_ex(s, from, rcpts, nrcpt, data, len, NULL, NULL, last,
	                     err, why);
}

int smtpc_send_ex(struct smtpc *s, const char *from, struct smtpc_rcpt *rcpts,
                  size_t nrcpt, const char *data, size_t len,
                  const struct smtpc_params *p, enum smtpc_stage *stagep,
                  struct smtpc_reply *last, enum net_err *err,
                  struct buf *why)
{
	enum smtpc_stage stage_local;
	enum smtpc_stage *stage = stagep ? stagep : &stage_local;
	*stage = SMTPC_STAGE_CHECK;
	*err = NET_OK;
	reply_clear(last);
	for (size_t i = 0; i < nrcpt; i++)
		reply_clear(&rcpts[i].reply);
	struct buf cmd = BUF_INIT, params = BUF_INIT;
	if (send_prepare(s, from, rcpts, nrcpt, data, len, p, &params, err,
	                 why) < 0) {
		buf_free(&params);
		return -1;
	}
	struct smtpc_reply scratch;
	smtpc_reply_init(&scratch);
	*stage = SMTPC_STAGE_MAIL;
	size_t total = nrcpt + 2, sent = 0, got = 0, accepted = 0;
	size_t window = s->ext.pipelining ? SMTPC_PIPELINE_WINDOW : 1;
	int mail_ok = 0, r = -1;
	while (got < total) {
		while (sent < total && sent - got < window) {
			/* one by one, DATA only goes when it can work */
			if (!s->ext.pipelining && ((sent > 0 && !mail_ok)
			    || (sent == total - 1 && accepted == 0)))
				break;
			if (group_line(s, &cmd, sent, from, rcpts, nrcpt,
			               buf_cstr(&params), p) < 0) {
				*err = NET_ERR_MEMORY;
				buf_puts(why, "out of memory");
				goto out;
			}
			if (smtpc_send_line(s, buf_cstr(&cmd), 0, NULL, err, why) < 0)
				goto out;
			sent++;
		}
		if (got == sent)
			break;
		*stage = got == 0 ? SMTPC_STAGE_MAIL : got <= nrcpt ? SMTPC_STAGE_RCPT
		       : SMTPC_STAGE_DATA;
		struct smtpc_reply *into = got == 0 ? last
		    : got <= nrcpt ? &rcpts[got - 1].reply
		    : mail_ok ? last : &scratch;
		if (smtpc_read_reply(s, into, err, why) < 0) {
			reply_clear(last);
			goto out;
		}
		if (got == 0)
			mail_ok = into->code == 250;
		else if (got <= nrcpt && mail_ok && (into->code == 250 || into->code == 251))
			accepted++;
		got++;
	}
	if (!mail_ok) {
		*stage = SMTPC_STAGE_MAIL;
		/* a server that takes DATA after refusing MAIL gets an empty one */
		if (scratch.code == 354 && send_data(s, data, 0, err, why) == 0)
			smtpc_read_reply(s, &scratch, err, why);
		*err = NET_ERR_PROTOCOL;
		why_reply(why, "the server refused the sender", last);
		goto out;
	}
	if (accepted == 0) {
		/* the recipients' replies say why; *last gets the first of them */
		if (got == total && last->code == 354)
			r = send_finish(s, 0, data, len, last, stage, err, why);
		else
			r = 0;
		if (r == 0 && reply_copy(last, &rcpts[0].reply) < 0) {
			r = -1;
			*err = NET_ERR_MEMORY;
			buf_puts(why, "out of memory");
		}
		goto out;
	}
	r = send_finish(s, accepted, data, len, last, stage, err, why);
out:
	smtpc_reply_free(&scratch);
	buf_free(&cmd);
	buf_free(&params);
	return r;
}
