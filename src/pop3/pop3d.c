/* pop3d: the POP3 server session (see pop3d.h): its life cycle, the
 * bounded line reader, the command table with the one dispatcher that
 * enforces it, the reply function, pipelining and the job hand-off. The
 * handlers live in pop3d_auth.c and pop3d_txn.c. */
#include "pop3d.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "pop3d_int.h"

/* RFC 2449 4: a command line is at most 255 octets; we allow a little
 * more for clients that pad, and RFC 5034 4's longer SASL lines. */
#define POP3D_LINE_MAX 512
#define POP3D_SASL_LINE_MAX 12288
/* Input held while a job or a RETR runs: the owner stops reading at 256
 * KiB, so only a misbehaving owner gets here. */
#define POP3D_INPUT_MAX (1024 * 1024)

enum {
	CMD_SECRET = 1 << 0,     /* arguments never reach the log */
	CMD_ENDS_GROUP = 1 << 1, /* replies are flushed after it */
};

struct pop3d_command {
	const char *name;
	unsigned states;
	unsigned flags;
	void (*handler)(struct pop3d_session *s, char *args);
};

#define ST_AUTH POP3D_ST(POP3D_AUTHORIZATION)
#define ST_TXN POP3D_ST(POP3D_TRANSACTION)

static const struct pop3d_command pop3d_commands[] = {
	{"USER", ST_AUTH, 0, pop3d_cmd_user},
	{"PASS", ST_AUTH, CMD_SECRET | CMD_ENDS_GROUP, pop3d_cmd_pass},
	{"APOP", ST_AUTH, CMD_SECRET | CMD_ENDS_GROUP, pop3d_cmd_apop},
	{"AUTH", ST_AUTH, CMD_SECRET | CMD_ENDS_GROUP, pop3d_cmd_auth},
	{"STLS", ST_AUTH, CMD_ENDS_GROUP, pop3d_cmd_stls},
	{"CAPA", ST_AUTH | ST_TXN, 0, pop3d_cmd_capa},
	{"QUIT", ST_AUTH | ST_TXN, CMD_ENDS_GROUP, pop3d_cmd_quit},
	{"STAT", ST_TXN, 0, pop3d_cmd_stat},
	{"LIST", ST_TXN, 0, pop3d_cmd_list},
	{"UIDL", ST_TXN, 0, pop3d_cmd_uidl},
	{"RETR", ST_TXN, 0, pop3d_cmd_retr},
	{"TOP", ST_TXN, 0, pop3d_cmd_top},
	{"DELE", ST_TXN, 0, pop3d_cmd_dele},
	{"RSET", ST_TXN, 0, pop3d_cmd_rset},
	{"NOOP", ST_TXN, 0, pop3d_cmd_noop},
};

static const struct pop3d_command *pop3d_command_find(const char *name,
                                                      size_t len)
{
	for (size_t i = 0; i < sizeof pop3d_commands / sizeof *pop3d_commands; i++)
		if (strlen(pop3d_commands[i].name) == len &&
		    strncasecmp(pop3d_commands[i].name, name, len) == 0)
			return &pop3d_commands[i];
	return NULL;
}

/* ---- replies and output ---- */

void pop3d_reply(struct pop3d_session *s, int ok, const char *code,
                 const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	(void)buf_puts(&s->out, ok ? "+OK" : "-ERR");
	if (code)
		(void)buf_printf(&s->out, " [%s]", code);
	if (*text)
		(void)buf_printf(&s->out, " %s", text);
	(void)buf_append(&s->out, "\r\n", 2);
	if (ok)
		return;
	s->errors++;
	if (s->cmd)
		log_info(s->id, "reject: %.*s: -ERR %s%s%s%s", (int)s->cmd_len,
		         s->cmd, code ? "[" : "", code ? code : "",
		         code ? "] " : "", text);
	else
		log_info(s->id, "reply: -ERR %s%s%s%s", code ? "[" : "",
		         code ? code : "", code ? "] " : "", text);
}

void pop3d_line(struct pop3d_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	(void)buf_append(&s->out, "\r\n", 2);
}

void pop3d_flush(struct pop3d_session *s)
{
	if (s->out.len == 0)
		return;
	if (s->io.write)
		s->io.write(s->io.ctx, s->out.data, s->out.len);
	buf_reset(&s->out);
}

void pop3d_drop_mailbox(struct pop3d_session *s)
{
	mailbox_close(&s->mb);
	free(s->deleted);
	free(s->seen);
	s->deleted = s->seen = NULL;
	s->ndeleted = 0;
	s->deleted_octets = 0;
}

void pop3d_close(struct pop3d_session *s)
{
	if (s->state == POP3D_CLOSED)
		return;
	pop3d_flush(s);
	pop3d_send_abort(s);
	if (s->state != POP3D_JOB)
		pop3d_drop_mailbox(s);
	s->state = POP3D_CLOSED;
	if (s->io.set_timeout)
		s->io.set_timeout(s->io.ctx, 0);
	if (s->io.close)
		s->io.close(s->io.ctx);
}

/* -ERR and close, for limits and shutdown: nothing is deleted. */
static void pop3d_close_err(struct pop3d_session *s, const char *code,
                            const char *text)
{
	s->cmd = NULL;
	pop3d_reply(s, 0, code, "%s", text);
	log_info(s->id, "closing: %s", text);
	pop3d_close(s);
}

int pop3d_login_allowed(const struct pop3d_session *s)
{
	return s->tls_active ||
	       (s->cfg->plaintext_auth_loopback && s->peer.addrlen > 0 &&
	        config_is_loopback((const struct sockaddr *)&s->peer.addr));
}

int pop3d_stls_offered(const struct pop3d_session *s)
{
	return !s->tls_active && s->listener->tls == CFG_TLS_STARTTLS &&
	       s->io.start_tls;
}

/* ---- jobs ---- */

static void pop3d_process(struct pop3d_session *s);
static void pop3d_arm_timer(struct pop3d_session *s);

void pop3d_job_start(struct pop3d_session *s, void (*job)(void *),
                     void (*done)(void *), void *arg)
{
	s->state = POP3D_JOB;
	s->job_out = 1;
	if (s->io.set_timeout)
		s->io.set_timeout(s->io.ctx, 0);
	if (s->io.run_job) {
		s->io.run_job(s->io.ctx, job, done, arg);
	} else {
		job(arg);
		done(arg);
	}
}

/* Applies the error budget and a pending shutdown between two commands. */
static void pop3d_after_step(struct pop3d_session *s)
{
	if (s->state != POP3D_AUTHORIZATION && s->state != POP3D_TRANSACTION)
		return;
	if (s->errors > s->cfg->limits.errors)
		pop3d_close_err(s, NULL, "Too many errors, closing connection");
	else if (s->shutting_down)
		pop3d_close_err(s, "SYS/TEMP", "Server shutting down, try again "
		                "later (nothing was deleted)");
}

void pop3d_job_finished(struct pop3d_session *s)
{
	s->job_out = 0;
	if (s->eof || s->state == POP3D_CLOSED) {
		pop3d_drop_mailbox(s);
		s->state = POP3D_CLOSED;
		return;
	}
	if (s->state == POP3D_JOB)
		s->state = s->resume;
	pop3d_after_step(s);
	if (s->in_process)
		return;
	pop3d_process(s);
	pop3d_flush(s);
	pop3d_arm_timer(s);
}

/* ---- the dispatcher ---- */

static void pop3d_dispatch(struct pop3d_session *s, char *line, size_t len)
{
	size_t verb = strcspn(line, " ");
	s->cmd = line;
	s->cmd_len = len;
	if (memchr(line, '\0', len)) {
		s->cmd_len = strlen(line);
		pop3d_reply(s, 0, NULL, "NUL byte in command");
		return;
	}
	const struct pop3d_command *cmd = len ? pop3d_command_find(line, verb)
	                                      : NULL;
	if (!cmd) {
		pop3d_reply(s, 0, NULL, "Unknown command");
		return;
	}
	if (cmd->flags & CMD_SECRET)
		s->cmd_len = verb;
	if (!(cmd->states & POP3D_ST(s->state))) {
		pop3d_reply(s, 0, NULL, "%s is not allowed %s", cmd->name,
		            s->state == POP3D_AUTHORIZATION ? "before login"
		                                            : "after login");
		return;
	}
	cmd->handler(s, line + verb + (line[verb] == ' '));
	if (cmd->flags & CMD_ENDS_GROUP)
		pop3d_flush(s);
}

/* ---- the line reader ---- */

static size_t pop3d_line_limit(const struct pop3d_session *s)
{
	return s->state == POP3D_SASL ? POP3D_SASL_LINE_MAX : POP3D_LINE_MAX;
}

static void pop3d_line_too_long(void *ctx)
{
	struct pop3d_session *s = ctx;
	s->cmd = NULL;
	if (s->state == POP3D_SASL) {
		s->state = POP3D_AUTHORIZATION;
		buf_free(&s->sasl_name);
	}
	pop3d_reply(s, 0, NULL, "Line too long");
}

static void pop3d_line_run(void *ctx, char *line, size_t len)
{
	struct pop3d_session *s = ctx;
	if (s->state == POP3D_SASL)
		pop3d_sasl_continue(s, line, len);
	else
		pop3d_dispatch(s, line, len);
	s->cmd = NULL; /* it pointed into line, which is freed now */
}

/* One command or SASL line from p[0..n): returns the bytes used, 0 when
 * the line is not complete yet. The limit is applied before scanning. */
static size_t pop3d_line_step(struct pop3d_session *s, const char *p, size_t n)
{
	static const struct line_handler handler = {pop3d_line_run,
	                                            pop3d_line_too_long};
	size_t used;
	if (line_step(&s->lines, p, n, pop3d_line_limit(s), &handler, s,
	              &used) < 0) {
		pop3d_close_err(s, "SYS/TEMP", "Out of memory");
		return n;
	}
	return used;
}

/* Runs every complete buffered command (pipelining), in order, until a
 * job or a streaming reply has to wait. */
static void pop3d_process(struct pop3d_session *s)
{
	unsigned stls_epoch = s->stls_count;
	s->in_process = 1;
	while (s->in_pos < s->in.len &&
	       (s->state == POP3D_AUTHORIZATION || s->state == POP3D_SASL ||
	        s->state == POP3D_TRANSACTION)) {
		size_t used = pop3d_line_step(s, s->in.data + s->in_pos,
		                              s->in.len - s->in_pos);
		if (used == 0)
			break;
		s->in_pos += used;
		if (s->stls_count != stls_epoch)
			break;
		if (s->state == POP3D_SENDING)
			pop3d_send_more(s);
		pop3d_after_step(s);
	}
	/* RFC 2595 4: nothing sent before the handshake counts after it. */
	if (s->stls_count != stls_epoch || s->state == POP3D_CLOSED)
		s->in_pos = s->in.len;
	memmove(s->in.data, s->in.data + s->in_pos, s->in.len - s->in_pos);
	s->in.len -= s->in_pos;
	s->in_pos = 0;
	s->in_process = 0;
}

static void pop3d_arm_timer(struct pop3d_session *s)
{
	if (!s->io.set_timeout)
		return;
	int idle = s->state == POP3D_JOB || s->state == POP3D_CLOSED ||
	           s->state == POP3D_STLS;
	s->io.set_timeout(s->io.ctx, idle ? 0 : s->cfg->limits.pop3_timeout);
}

/* ---- the public life cycle ---- */

struct pop3d_session *pop3d_new(const struct pop3d_params *params,
                                const struct session_io *io)
{
	struct pop3d_session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cfg = params->cfg;
	s->listener = params->listener;
	s->users = params->users;
	s->throttle = params->throttle;
	s->peer = params->peer;
	s->io = *io;
	s->tls_active = params->tls_active;
	s->send.fd = -1;
	s->id = strdup(params->session_id ? params->session_id : "-");
	s->tls_info = params->tls_info ? strdup(params->tls_info) : NULL;
	buf_init(&s->in, POP3D_INPUT_MAX + POP3D_SASL_LINE_MAX);
	buf_init(&s->out, 0);
	if (!s->id || (params->tls_info && !s->tls_info)) {
		pop3d_free(&s);
		return NULL;
	}
	return s;
}

void pop3d_start(struct pop3d_session *s)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	/* RFC 1939 7: different for every greeting; the session id makes it
	 * so even for two sessions in the same microsecond. */
	snprintf(s->timestamp, sizeof s->timestamp, "<%ld.%lld%06ld.%s@%s>",
	         (long)getpid(), (long long)tv.tv_sec, (long)tv.tv_usec, s->id,
	         s->cfg->hostname);
	s->state = POP3D_AUTHORIZATION;
	/* RFC 2449 4 caps a reply at 512 octets: a very long host name is
	 * said once, in the timestamp. */
	if (strlen(s->cfg->hostname) <= 64)
		pop3d_reply(s, 1, NULL, "%s POP3 server (posthorn) ready %s",
		            s->cfg->hostname, s->timestamp);
	else
		pop3d_reply(s, 1, NULL, "POP3 server (posthorn) ready %s",
		            s->timestamp);
	pop3d_flush(s);
	pop3d_arm_timer(s);
}

int pop3d_input(struct pop3d_session *s, const char *data, size_t len)
{
	unsigned stls_epoch = s->stls_count;
	while (len > 0 && s->state != POP3D_CLOSED && s->state != POP3D_STLS &&
	       s->stls_count == stls_epoch) {
		size_t room = s->in.max - s->in.len;
		size_t n = len < room ? len : room;
		if (n == 0 || buf_append(&s->in, data, n) < 0) {
			pop3d_close_err(s, NULL, "Too much pipelined input");
			break;
		}
		data += n;
		len -= n;
		if (!s->in_process && s->state != POP3D_JOB &&
		    s->state != POP3D_SENDING)
			pop3d_process(s);
	}
	if (s->state == POP3D_STLS)
		buf_reset(&s->in);
	pop3d_flush(s);
	pop3d_arm_timer(s);
	return s->state == POP3D_CLOSED ? -1 : 0;
}

size_t pop3d_buffered(const struct pop3d_session *s)
{
	return s->in.len - s->in_pos;
}

void pop3d_drained(struct pop3d_session *s)
{
	if (s->state != POP3D_SENDING || s->in_process)
		return;
	pop3d_send_more(s);
	if (s->state == POP3D_TRANSACTION) {
		pop3d_after_step(s);
		pop3d_process(s);
	}
	pop3d_flush(s);
	pop3d_arm_timer(s);
}

void pop3d_tls_done(struct pop3d_session *s, int ok, const char *info)
{
	if (s->state == POP3D_CLOSED)
		return;
	if (!ok) {
		log_info(s->id, "STLS handshake failed");
		s->state = POP3D_CLOSED;
		return;
	}
	free(s->tls_info);
	s->tls_info = info ? strdup(info) : NULL;
	s->tls_active = 1;
	free(s->user);
	s->user = NULL;
	if (!s->in_process) {
		buf_reset(&s->in);
		s->in_pos = 0;
	}
	s->lines.discarding = 0;
	s->state = POP3D_AUTHORIZATION;
	log_info(s->id, "STLS: %s", info ? info : "ok");
	pop3d_arm_timer(s);
}

void pop3d_timeout(struct pop3d_session *s)
{
	if (s->state == POP3D_CLOSED || s->state == POP3D_JOB)
		return;
	if (s->state == POP3D_STLS) {
		log_info(s->id, "timeout during the TLS handshake");
		pop3d_close(s);
		return;
	}
	pop3d_send_abort(s);
	pop3d_close_err(s, NULL, "Disconnected for inactivity (nothing was "
	                "deleted)");
}

void pop3d_shutdown(struct pop3d_session *s)
{
	s->shutting_down = 1;
	if (s->state == POP3D_SASL)
		s->state = POP3D_AUTHORIZATION;
	if (s->state == POP3D_AUTHORIZATION || s->state == POP3D_TRANSACTION) {
		s->cmd = NULL;
		pop3d_after_step(s);
		pop3d_flush(s);
	}
}

void pop3d_eof(struct pop3d_session *s)
{
	if (s->state == POP3D_CLOSED)
		return;
	log_info(s->id, "disconnect without QUIT%s", s->mb ? ": nothing deleted"
	         : "");
	s->eof = 1;
	pop3d_send_abort(s);
	if (s->state == POP3D_JOB)
		return; /* pop3d_job_finished cleans up */
	pop3d_drop_mailbox(s);
	s->state = POP3D_CLOSED;
}

int pop3d_busy(const struct pop3d_session *s)
{
	return s->job_out;
}

void pop3d_free(struct pop3d_session **sp)
{
	struct pop3d_session *s = *sp;
	if (!s)
		return;
	pop3d_send_abort(s);
	pop3d_drop_mailbox(s);
	buf_free(&s->in);
	buf_free(&s->out);
	buf_free(&s->sasl_name);
	free(s->id);
	free(s->tls_info);
	free(s->user);
	free(s->auth_user);
	free(s);
	*sp = NULL;
}
