/* outbound: one queued message to the hosts of one destination (see
 * outbound.h). A delivery keeps, per recipient, whether it is still open:
 * an open recipient was deferred for a reason that another host or
 * address may not share (no connection, a TLS failure, a refusing
 * greeting, a 4xx to MAIL, a connection lost mid-transaction) and is tried
 * again on the next one (RFC 5321 5.1). A recipient a server gave its own
 * answer (2xx/4xx/5xx to RCPT, DATA or the final dot) is decided for this
 * call. The message is mapped read-only: queue files never change once
 * written, and nothing of it sits on the heap however large it is. */
#include "outbound.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../msg/dotstuff.h"
#include "smtpc.h"

#define OUTBOUND_REPLY_MAX 512       /* a reply kept for the envelope/DSN */
#define OUTBOUND_TIMEOUT 300         /* seconds a command may take (RFC
                                      * 5321 4.5.3.2: 5 minutes for most) */
#define OUTBOUND_CONNECT_TIMEOUT 30  /* a dead address costs no more */

struct delivery {
	struct outbound_job *job;
	const struct outbound_route *route;
	const char *data;            /* the message, mapped (or "" if empty) */
	size_t len;
	void *map;                   /* munmap(map, maplen) when not NULL */
	size_t maplen;
	unsigned long long size;     /* as SIZE counts it: CRLF line ends */
	int utf8;                    /* SMTPUTF8 needed */
	unsigned char *open;         /* per recipient: may be tried again */
	size_t nopen;
};

/* What a session tells the host loop. */
enum session_end { SESSION_NEXT, SESSION_RETRY_PLAIN };

static const struct outbound_route default_route = {
	.port = 25, .tls = OUTBOUND_TLS_MAY,
};

/* ---- recording results ---- */

static void rcpt_text(struct outbound_rcpt *r, const char *text, size_t n)
{
	if (n > OUTBOUND_REPLY_MAX)
		n = OUTBOUND_REPLY_MAX;
	buf_reset(&r->reply);
	r->reply.max = OUTBOUND_REPLY_MAX + 1;
	buf_append(&r->reply, text, n);
	buf_cstr(&r->reply);
}

static void rcpt_mark(struct outbound_rcpt *r, enum outbound_result res,
                      const char *status, const char *mta)
{
	r->result = res;
	snprintf(r->status, sizeof r->status, "%s", status);
	snprintf(r->remote_mta, sizeof r->remote_mta, "%s", mta ? mta : "");
}

/* The reply as one line: "450 4.2.1 text" with the lines joined by spaces,
 * control characters shown as '?', at most OUTBOUND_REPLY_MAX bytes. */
static void reply_line(const struct smtpc_reply *rep, char *out, size_t n)
{
	int k = snprintf(out, n, "%d%s%s", rep->code, rep->enhanced[0] ? " " : "",
	                 rep->enhanced);
	size_t o = k > 0 && (size_t)k < n ? (size_t)k : 0;
	if (rep->text.len && o + 1 < n)
		out[o++] = ' ';
	for (size_t i = 0; i < rep->text.len && o + 1 < n; i++) {
		unsigned char c = (unsigned char)rep->text.data[i];
		out[o++] = c == '\n' ? ' ' : c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[o] = '\0';
}

/* Decides r by a server reply: 2xx delivered, 5xx failed, else deferred;
 * the status is the reply's enhanced code when it has the right class. */
static void rcpt_reply(struct outbound_rcpt *r, const struct smtpc_reply *rep,
                       const char *mta)
{
	int class = rep->code / 100;
	enum outbound_result res = class == 2 ? OUTBOUND_DELIVERED
	    : class == 5 ? OUTBOUND_FAILED : OUTBOUND_DEFERRED;
	if (res == OUTBOUND_DEFERRED)
		class = 4;
	char status[16], text[OUTBOUND_REPLY_MAX + 1];
	if (rep->enhanced[0] == '0' + class)
		snprintf(status, sizeof status, "%s", rep->enhanced);
	else
		snprintf(status, sizeof status, "%d.0.0", class);
	rcpt_mark(r, res, status, mta);
	reply_line(rep, text, sizeof text);
	rcpt_text(r, text, strlen(text));
	r->from_server = 1;
}

static void rcpt_words(struct outbound_rcpt *r, enum outbound_result res,
                       const char *status, const char *mta, const char *text)
{
	rcpt_mark(r, res, status, mta);
	rcpt_text(r, text, strlen(text));
	r->from_server = 0;
}

static void close_rcpt(struct delivery *d, size_t i)
{
	if (d->open[i]) {
		d->open[i] = 0;
		d->nopen--;
	}
}

/* Every open recipient gets our words; only a deferral keeps it open. */
static void open_words(struct delivery *d, enum outbound_result res,
                       const char *status, const char *mta,
                       const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void open_words(struct delivery *d, enum outbound_result res,
                       const char *status, const char *mta,
                       const char *fmt, ...)
{
	char text[OUTBOUND_REPLY_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < d->job->nrcpts; i++) {
		if (!d->open[i])
			continue;
		rcpt_words(&d->job->rcpts[i], res, status, mta, text);
		if (res != OUTBOUND_DEFERRED)
			close_rcpt(d, i);
	}
}

/* Every open recipient gets a server reply that refused the session or
 * the sender: 5xx fails them; otherwise they stay open for the next host
 * (and a 5xx greeting defers too, see session_open). */
static void open_reply(struct delivery *d, const struct smtpc_reply *rep,
                       const char *mta, int fail_5xx)
{
	for (size_t i = 0; i < d->job->nrcpts; i++) {
		if (!d->open[i])
			continue;
		struct outbound_rcpt *r = &d->job->rcpts[i];
		rcpt_reply(r, rep, mta);
		if (r->result == OUTBOUND_FAILED && !fail_5xx) {
			r->result = OUTBOUND_DEFERRED;
			snprintf(r->status, sizeof r->status, "4.4.0");
		}
		if (r->result != OUTBOUND_DEFERRED)
			close_rcpt(d, i);
	}
}

/* ---- the message ---- */

/* The queued file starts with the Return-Path our final delivery would
 * write; a relay must not pass it on (RFC 5321 4.4: only the final
 * delivery adds it), so the data sent starts after any leading
 * Return-Path fields and their folded lines. */
static void message_skip_return_path(struct delivery *d)
{
	static const char name[] = "return-path:";
	while (d->len > sizeof name - 1 &&
	       !strncasecmp(d->data, name, sizeof name - 1)) {
		const char *p = d->data, *end = d->data + d->len;
		do {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl)
				return;  /* a header of one field and nothing else */
			p = nl + 1;
		} while (p < end && (*p == ' ' || *p == '\t'));
		d->len -= (size_t)(p - d->data);
		d->data = p;
	}
}

/* Maps the message read-only. 0, or -1 with errno. */
static int message_map(struct delivery *d)
{
	int fd = open(d->job->msg_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	int r = -1;
	if (fstat(fd, &st) < 0)
		goto out;
	if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > SIZE_MAX / 2) {
		errno = EINVAL;
		goto out;
	}
	d->len = (size_t)st.st_size;
	d->data = "";
	if (d->len > 0) {
		d->map = mmap(NULL, d->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (d->map == MAP_FAILED) {
			d->map = NULL;
			goto out;
		}
		d->data = d->map;
		d->maplen = d->len;
		message_skip_return_path(d);
	}
	struct msg_crlf_size cs;
	msg_crlf_size_init(&cs);
	msg_crlf_size_feed(&cs, d->data, d->len);
	d->size = msg_crlf_size_end(&cs);
	r = 0;
out:;
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* Sets every recipient up as "not tried", fails the ones SMTP cannot
 * carry, maps the message. -1 when the message cannot be read (every
 * recipient is then deferred). */
static int delivery_init(struct delivery *d, struct outbound_job *job)
{
	memset(d, 0, sizeof *d);
	d->job = job;
	d->route = job->route ? job->route : &default_route;
	d->open = calloc(job->nrcpts ? job->nrcpts : 1, 1);
	const char *from = job->sender ? job->sender : "";
	d->utf8 = job->smtputf8 || smtpc_has_8bit(from, strlen(from));
	for (size_t i = 0; i < job->nrcpts; i++) {
		struct outbound_rcpt *r = &job->rcpts[i];
		if (!smtpc_address_ok(r->address)) {
			rcpt_words(r, OUTBOUND_FAILED, "5.1.3", NULL, "the address "
			           "contains characters SMTP cannot carry");
			continue;
		}
		rcpt_words(r, OUTBOUND_DEFERRED, "4.4.0", NULL,
		           "not attempted: no mail server to try");
		d->utf8 |= smtpc_has_8bit(r->address, strlen(r->address));
		if (d->open) {
			d->open[i] = 1;
			d->nopen++;
		}
	}
	if (!d->open) {
		for (size_t i = 0; i < job->nrcpts; i++)
			if (job->rcpts[i].result == OUTBOUND_DEFERRED)
				rcpt_words(&job->rcpts[i], OUTBOUND_DEFERRED, "4.3.0", NULL,
				           "out of memory");
		return -1;
	}
	if (d->nopen && message_map(d) < 0) {
		open_words(d, OUTBOUND_DEFERRED, "4.3.0", NULL,
		           "cannot read the queued message %s: %s",
		           job->msg_path, strerror(errno));
		return -1;
	}
	return 0;
}

static void delivery_free(struct delivery *d)
{
	if (d->map)
		munmap(d->map, d->maplen);
	free(d->open);
	memset(d, 0, sizeof *d);
}

/* ---- one session ---- */

/* The host we talk to, as a name for messages and certificates: an
 * address literal without its brackets and "IPv6:" tag. */
static void host_name(const struct mx_host *h, char *out, size_t n)
{
	const char *p = h->name ? h->name : "";
	size_t len = strlen(p);
	if (len >= 2 && p[0] == '[' && p[len - 1] == ']') {
		p++;
		len -= 2;
		if (len >= 5 && strncasecmp(p, "IPv6:", 5) == 0)
			p += 5, len -= 5;
	}
	snprintf(out, n, "%.*s", (int)len, p);
}

static int tls_verified(enum outbound_tls t)
{
	return t == OUTBOUND_TLS_VERIFY || t == OUTBOUND_TLS_IMPLICIT;
}

/* Connects to addr and starts the session. NULL when that failed (the
 * open recipients then say why, deferred for the next address). */
static struct smtpc *session_open(struct delivery *d, const struct mx_host *h,
                                  const char *addr)
{
	const struct outbound_job *job = d->job;
	char name[256];
	host_name(h, name, sizeof name);
	int timeout = job->timeout > 0 ? job->timeout : OUTBOUND_TIMEOUT;
	struct net_options opt = {
		.timeout = timeout < OUTBOUND_CONNECT_TIMEOUT ? timeout
		                                              : OUTBOUND_CONNECT_TIMEOUT,
		.ca_file = d->route->ca_file,
		.insecure = !tls_verified(d->route->tls),
		.tls_name = name,
		.trace = job->trace,
		.trace_arg = job->trace_arg,
	};
	struct buf why = BUF_INIT;
	enum net_err err;
	struct smtpc_reply last;
	struct smtpc *s = NULL;
	smtpc_reply_init(&last);
	int tls = d->route->tls == OUTBOUND_TLS_IMPLICIT;
	struct net_conn *c = net_connect(addr, d->route->port,
	                                 tls ? NET_TLS_IMPLICIT : NET_TLS_NONE,
	                                 &opt, &err, &why);
	if (!c) {
		if (err == NET_ERR_TLS || err == NET_ERR_TLS_VERIFY)
			open_words(d, OUTBOUND_DEFERRED, "4.7.5", h->name,
			           "TLS with %s[%s] failed: %s", h->name, addr,
			           buf_cstr(&why));
		else
			open_words(d, OUTBOUND_DEFERRED, "4.4.1", h->name,
			           "cannot connect to %s[%s] port %d: %s", h->name, addr,
			           d->route->port, err == NET_ERR_TIMEOUT
			           ? "no answer" : net_err_name(err));
		goto out;
	}
	net_set_timeout(c, timeout);
	s = smtpc_start(c, job->helo, &last, &err, &why);
	if (!s && last.code)
		/* a refusing greeting or EHLO, even 5xx, is the host's state, not
		 * the recipients': the next host may take it (as Postfix's
		 * smtp_skip_5xx_greeting) and this one may later */
		open_reply(d, &last, h->name, 0);
	else if (!s)
		open_words(d, OUTBOUND_DEFERRED, "4.4.2", h->name,
		           "the session with %s[%s] failed: %s", h->name, addr,
		           buf_cstr(&why));
out:
	smtpc_reply_free(&last);
	buf_free(&why);
	return s;
}

/* STARTTLS by the route's policy. 0 to go on, -1 to end the session (the
 * open recipients say why), 1 to reconnect without TLS: opportunistic TLS
 * (MAY) whose handshake failed may fall back to plain text, as RFC 3207
 * 4.1 allows for a client that would otherwise send in the clear anyway. */
static int session_tls(struct delivery *d, struct smtpc *s,
                       const struct mx_host *h, int plain)
{
	enum outbound_tls t = d->route->tls;
	const struct smtpc_ext *x = smtpc_ext(s);
	if (t == OUTBOUND_TLS_NONE || t == OUTBOUND_TLS_IMPLICIT
	    || (t == OUTBOUND_TLS_MAY && (plain || !x->starttls)))
		return 0;
	if (!x->starttls) {
		open_words(d, OUTBOUND_DEFERRED, "4.7.0", h->name,
		           "TLS required but not offered by %s", h->name);
		return -1;
	}
	struct smtpc_reply last;
	struct buf why = BUF_INIT;
	enum net_err err;
	int r = 0;
	smtpc_reply_init(&last);
	if (smtpc_starttls(s, &last, &err, &why) == 0)
		goto out;
	int encrypted = net_is_tls(smtpc_conn(s));
	if (last.code && !encrypted && t == OUTBOUND_TLS_MAY) {
		r = 0;   /* STARTTLS refused: the session goes on in the clear */
	} else if (last.code) {
		/* a required STARTTLS refused, or EHLO refused after TLS */
		open_reply(d, &last, h->name, 0);
		r = -1;
	} else if (t == OUTBOUND_TLS_MAY && !encrypted
	           && (err == NET_ERR_TLS || err == NET_ERR_TLS_VERIFY)) {
		r = 1;
	} else {
		open_words(d, OUTBOUND_DEFERRED, encrypted ? "4.4.2" : "4.7.5",
		           h->name, "TLS with %s failed: %s", h->name,
		           buf_cstr(&why));
		r = -1;
	}
out:
	smtpc_reply_free(&last);
	buf_free(&why);
	return r;
}

/* AUTH to a smarthost. A refusal is the admin's to fix, so it defers
 * (4.7.8) rather than bounce what users sent. 0 or -1. */
static int session_auth(struct delivery *d, struct smtpc *s,
                        const struct mx_host *h)
{
	if (!d->route->auth_user)
		return 0;
	struct smtpc_reply last;
	struct buf why = BUF_INIT;
	enum net_err err;
	smtpc_reply_init(&last);
	int r = smtpc_auth(s, d->route->auth_user,
	                   d->route->auth_password ? d->route->auth_password : "",
	                   &last, &err, &why);
	if (r < 0 && last.code) {
		open_reply(d, &last, h->name, 0);
		for (size_t i = 0; i < d->job->nrcpts; i++)
			if (d->open[i])
				snprintf(d->job->rcpts[i].status,
				         sizeof d->job->rcpts[i].status, "4.7.8");
	} else if (r < 0 && err == NET_OK) {
		open_words(d, OUTBOUND_DEFERRED, "4.7.8", h->name,
		           "cannot log in to %s: %s", h->name, buf_cstr(&why));
	} else if (r < 0) {
		open_words(d, OUTBOUND_DEFERRED, "4.4.2", h->name,
		           "the session with %s failed during AUTH: %s", h->name,
		           buf_cstr(&why));
	}
	smtpc_reply_free(&last);
	buf_free(&why);
	return r;
}

/* What the server must offer for this message (RFC 1870, 6152, 6531):
 * a message it cannot take fails now instead of being damaged. 0 or -1. */
static int session_check(struct delivery *d, struct smtpc *s,
                         const struct mx_host *h)
{
	const struct smtpc_ext *x = smtpc_ext(s);
	if (x->size && d->size > x->size) {
		open_words(d, OUTBOUND_FAILED, "5.3.4", h->name,
		           "the message is %llu bytes, %s accepts at most %llu",
		           d->size, h->name, x->size);
		return -1;
	}
	if (d->job->eightbit && !x->eightbitmime) {
		open_words(d, OUTBOUND_FAILED, "5.6.3", h->name,
		           "the message needs 8BITMIME, which %s does not offer",
		           h->name);
		return -1;
	}
	if (d->utf8 && !x->smtputf8) {
		open_words(d, OUTBOUND_FAILED, "5.6.7", h->name,
		           "the message needs SMTPUTF8, which %s does not offer",
		           h->name);
		return -1;
	}
	return 0;
}

/* Sorts the recipients sent in this transaction by what smtpc_send_ex
 * returned (ret, stage, last); idx maps sr back to the job. */
static void send_results(struct delivery *d, const struct mx_host *h,
                         const char *addr, const size_t *idx,
                         const struct smtpc_rcpt *sr, size_t n, int ret,
                         enum smtpc_stage stage,
                         const struct smtpc_reply *last, const char *why)
{
	char lost[OUTBOUND_REPLY_MAX + 1];
	snprintf(lost, sizeof lost, "the connection to %s[%s] was lost: %s",
	         h->name, addr, why);
	for (size_t k = 0; k < n; k++) {
		size_t i = idx[k];
		struct outbound_rcpt *r = &d->job->rcpts[i];
		int code = sr[k].reply.code;
		if (ret < 0 && stage == SMTPC_STAGE_CHECK) {
			rcpt_words(r, OUTBOUND_FAILED, "5.5.4", h->name, why);
		} else if (ret < 0 && stage == SMTPC_STAGE_MAIL && last->code) {
			rcpt_reply(r, last, h->name);   /* a 4xx stays open */
			if (r->result == OUTBOUND_DEFERRED)
				continue;
		} else if (code >= 400) {
			rcpt_reply(r, &sr[k].reply, h->name);
		} else if (code >= 200 && ret > 0) {
			rcpt_reply(r, last, h->name);   /* the 250 after the dot */
		} else if (code >= 200 && last->code) {
			rcpt_reply(r, last, h->name);   /* DATA or the dot refused */
		} else {
			/* no answer for it: another host may do better */
			rcpt_words(r, OUTBOUND_DEFERRED, "4.4.2", h->name, lost);
			continue;
		}
		close_rcpt(d, i);
	}
}

/* The transaction for every open recipient. */
static void session_send(struct delivery *d, struct smtpc *s,
                         const struct mx_host *h, const char *addr)
{
	const struct outbound_job *job = d->job;
	size_t n = d->nopen;
	size_t *idx = calloc(n, sizeof *idx);
	struct smtpc_rcpt *sr = calloc(n, sizeof *sr);
	const char **notify = calloc(n, sizeof *notify);
	const char **orcpt = calloc(n, sizeof *orcpt);
	struct smtpc_reply last;
	struct buf why = BUF_INIT;
	smtpc_reply_init(&last);
	if (!idx || !sr || !notify || !orcpt) {
		open_words(d, OUTBOUND_DEFERRED, "4.3.0", NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0, k = 0; i < job->nrcpts; i++) {
		if (!d->open[i])
			continue;
		idx[k] = i;
		sr[k].address = job->rcpts[i].address;
		smtpc_reply_init(&sr[k].reply);
		notify[k] = job->rcpts[i].notify;
		orcpt[k] = job->rcpts[i].orcpt;
		k++;
	}
	struct smtpc_params p = {
		.ret = job->ret, .envid = job->envid, .notify = notify,
		.orcpt = orcpt, .smtputf8 = d->utf8,
	};
	enum smtpc_stage stage;
	enum net_err err;
	int ret = smtpc_send_ex(s, job->sender ? job->sender : "", sr, n, d->data,
	                        d->len, &p, &stage, &last, &err, &why);
	send_results(d, h, addr, idx, sr, n, ret, stage, &last, buf_cstr(&why));
out:
	for (size_t k = 0; sr && k < n; k++)
		smtpc_reply_free(&sr[k].reply);
	smtpc_reply_free(&last);
	buf_free(&why);
	free(idx);
	free(sr);
	free(notify);
	free(orcpt);
}

/* One address of one host: connect, TLS, AUTH, checks, the transaction,
 * QUIT. plain: the retry without TLS after a failed opportunistic one. */
static enum session_end session_run(struct delivery *d,
                                    const struct mx_host *h, const char *addr,
                                    int plain)
{
	struct smtpc *s = session_open(d, h, addr);
	if (!s)
		return SESSION_NEXT;
	int t = session_tls(d, s, h, plain);
	if (t == 1) {
		smtpc_quit(&s);
		return SESSION_RETRY_PLAIN;
	}
	if (t == 0 && session_auth(d, s, h) == 0 && session_check(d, s, h) == 0)
		session_send(d, s, h, addr);
	smtpc_quit(&s);
	return SESSION_NEXT;
}

size_t outbound_deliver_hosts(struct outbound_job *job,
                              const struct mx_route *r)
{
	struct delivery d;
	if (delivery_init(&d, job) == 0) {
		for (size_t i = 0; i < r->n && d.nopen; i++) {
			const struct mx_host *h = &r->hosts[i];
			if (h->naddrs == 0)
				open_words(&d, OUTBOUND_DEFERRED, "4.4.3", h->name,
				           "the address of %s could not be looked up "
				           "(DNS failed for now)", h->name);
			for (size_t a = 0; a < h->naddrs && d.nopen; a++)
				if (session_run(&d, h, h->addrs[a], 0) == SESSION_RETRY_PLAIN)
					session_run(&d, h, h->addrs[a], 1);
		}
	}
	delivery_free(&d);
	size_t delivered = 0;
	for (size_t i = 0; i < job->nrcpts; i++)
		delivered += job->rcpts[i].result == OUTBOUND_DELIVERED;
	return delivered;
}

/* A route that could not be found: the words for every recipient. A
 * smarthost that does not resolve is a configuration error: it defers,
 * so the admin can fix it before anything bounces. */
static void route_failed(struct outbound_job *job, enum mx_status st,
                         const char *why)
{
	const char *dom = job->domain ? job->domain : "";
	char text[OUTBOUND_REPLY_MAX + 1];
	const char *status = "4.4.3";
	enum outbound_result res = OUTBOUND_DEFERRED;
	if (job->route && job->route->smarthost)
		snprintf(text, sizeof text, "the smarthost %s cannot be found: %s",
		         job->route->smarthost, why);
	else if (st == MX_NXDOMAIN) {
		res = OUTBOUND_FAILED, status = "5.1.2";
		snprintf(text, sizeof text, "the domain %s does not exist", dom);
	} else if (st == MX_NULL) {
		res = OUTBOUND_FAILED, status = "5.1.10";
		snprintf(text, sizeof text, "%s accepts no mail (null MX)", dom);
	} else if (st == MX_NOHOST) {
		res = OUTBOUND_FAILED, status = "5.4.4";
		snprintf(text, sizeof text, "%s has no mail server: %s", dom, why);
	} else
		snprintf(text, sizeof text, "no route to %s for now: %s", dom, why);
	for (size_t i = 0; i < job->nrcpts; i++)
		rcpt_words(&job->rcpts[i], res, status, NULL, text);
}

size_t outbound_deliver(struct outbound_job *job)
{
	const struct outbound_route *route = job->route ? job->route
	                                                : &default_route;
	struct mx_route r;
	struct buf why = BUF_INIT;
	enum mx_status st = route->smarthost
	    ? mx_resolve_host(route->smarthost, job->resolver, 0, &r, &why)
	    : mx_resolve(job->domain ? job->domain : "", job->resolver, 0, &r,
	                 &why);
	size_t n = 0;
	if (st == MX_OK)
		n = outbound_deliver_hosts(job, &r);
	else
		route_failed(job, st, buf_cstr(&why));
	mx_route_free(&r);
	buf_free(&why);
	return n;
}

void outbound_rcpt_free(struct outbound_rcpt *r)
{
	buf_free(&r->reply);
}
