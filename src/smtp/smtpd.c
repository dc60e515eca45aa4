/* smtpd: the SMTP server session (see smtpd.h): its life cycle, the bounded
 * line reader, the command table with the one dispatcher that enforces it,
 * the reply function, pipelining and the job hand-off. The handlers live in
 * smtpd_cmd.c, message input and delivery in smtpd_data.c. */
#include "smtpd.h"

#include "../lib/log.h"
#include "smtpd_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Input held while a job runs, beyond one line: the owner stops reading at
 * 256 KiB (smtpd.h), so only a misbehaving owner ever reaches this. */
#define SMTPD_INPUT_MAX (1024 * 1024)
/* RFC 4954 4: AUTH lines may be up to 12288 octets. */
#define SMTPD_AUTH_LINE_MAX 12288

enum {
	CMD_NEEDS_AUTH = 1 << 0, /* on listeners with require_auth: 530 first */
	CMD_NEEDS_TLS = 1 << 1,  /* TLS or plaintext loopback AUTH: else 538 */
	CMD_ENDS_GROUP = 1 << 2, /* RFC 2920 3.1: replies are flushed after it */
	CMD_JUNK = 1 << 3,       /* counts against limits.commands_before_mail */
	CMD_SECRET = 1 << 4,     /* arguments never reach the log */
	CMD_PAYLOAD = 1 << 5,    /* BDAT: a refused command still has bytes */
};

struct smtpd_command {
	const char *name;
	unsigned states;          /* SMTPD_ST bits where it is allowed */
	unsigned flags;
	void (*handler)(struct smtpd_session *s, char *args);
	const char *wrong_state;  /* the 503 text outside those states */
	const char *syntax;       /* for HELP */
};

#define ST_ANY SMTPD_ST_COMMAND
#define ST_NO_TX (SMTPD_ST(SMTPD_GREETED) | SMTPD_ST(SMTPD_READY))

static const struct smtpd_command smtpd_commands[] = {
	{"HELO", ST_ANY, CMD_JUNK, smtpd_cmd_helo, NULL, "HELO hostname"},
	{"EHLO", ST_ANY, CMD_JUNK | CMD_ENDS_GROUP, smtpd_cmd_ehlo, NULL,
	 "EHLO hostname"},
	{"MAIL", SMTPD_ST(SMTPD_READY), CMD_NEEDS_AUTH, smtpd_cmd_mail,
	 "nested MAIL command",
	 "MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME|BINARYMIME] [SMTPUTF8]"},
	{"RCPT", SMTPD_ST(SMTPD_MAIL) | SMTPD_ST(SMTPD_RCPT), 0, smtpd_cmd_rcpt,
	 "need MAIL command", "RCPT TO:<address>"},
	{"DATA", SMTPD_ST(SMTPD_RCPT), CMD_ENDS_GROUP, smtpd_cmd_data,
	 "need RCPT command", "DATA"},
	{"BDAT", SMTPD_ST(SMTPD_RCPT) | SMTPD_ST(SMTPD_CHUNKING), CMD_PAYLOAD,
	 smtpd_cmd_bdat, "need RCPT command", "BDAT size [LAST]"},
	{"RSET", ST_ANY, CMD_JUNK, smtpd_cmd_rset, NULL, "RSET"},
	{"NOOP", ST_ANY, CMD_JUNK | CMD_ENDS_GROUP, smtpd_cmd_noop, NULL, "NOOP"},
	{"VRFY", ST_ANY, CMD_JUNK | CMD_NEEDS_AUTH | CMD_ENDS_GROUP,
	 smtpd_cmd_vrfy, NULL, "VRFY address"},
	{"EXPN", ST_ANY, CMD_JUNK | CMD_NEEDS_AUTH | CMD_ENDS_GROUP,
	 smtpd_cmd_expn, NULL, "EXPN address"},
	{"HELP", ST_ANY, CMD_JUNK | CMD_ENDS_GROUP, smtpd_cmd_help, NULL,
	 "HELP [command]"},
	{"QUIT", ST_ANY, CMD_ENDS_GROUP, smtpd_cmd_quit, NULL, "QUIT"},
	{"STARTTLS", ST_NO_TX, CMD_ENDS_GROUP, smtpd_cmd_starttls,
	 "MAIL transaction in progress", "STARTTLS"},
	{"AUTH", SMTPD_ST(SMTPD_READY),
	 CMD_NEEDS_TLS | CMD_SECRET | CMD_ENDS_GROUP, smtpd_cmd_auth,
	 "MAIL transaction in progress", "AUTH PLAIN|LOGIN [initial-response]"},
	{"SEND", ST_ANY, 0, smtpd_cmd_obsolete, NULL, NULL},
	{"SOML", ST_ANY, 0, smtpd_cmd_obsolete, NULL, NULL},
	{"SAML", ST_ANY, 0, smtpd_cmd_obsolete, NULL, NULL},
	{"TURN", ST_ANY, CMD_ENDS_GROUP, smtpd_cmd_obsolete, NULL, NULL},
};

static const struct smtpd_command *smtpd_command_find(const char *name,
                                                      size_t len)
{
	for (size_t i = 0; i < sizeof smtpd_commands / sizeof *smtpd_commands; i++)
		if (strlen(smtpd_commands[i].name) == len &&
		    strncasecmp(smtpd_commands[i].name, name, len) == 0)
			return &smtpd_commands[i];
	return NULL;
}

const char *smtpd_command_syntax(const char *name)
{
	const struct smtpd_command *cmd = smtpd_command_find(name, strlen(name));
	return cmd ? cmd->syntax : NULL;
}

/* ---- replies and output ---- */

void smtpd_reply_line(struct smtpd_session *s, int code, const char *enhanced,
                      int last, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* Replies past a full output buffer are lost, never overflowed; the
	 * buffer has no limit of its own, so that means out of memory. */
	(void)buf_printf(&s->out, "%d%c%s%s%s\r\n", code, last ? ' ' : '-',
	                 enhanced ? enhanced : "", enhanced ? " " : "", text);
	if (!last || code < 400)
		return;
	if (code >= 500)
		s->errors++;
	if (s->cmd)
		log_info(s->id, "reject: %.*s: %d %s %s", (int)s->cmd_len, s->cmd,
		         code, enhanced ? enhanced : "", text);
	else
		log_info(s->id, "reply: %d %s %s", code, enhanced ? enhanced : "",
		         text);
}

void smtpd_flush(struct smtpd_session *s)
{
	if (s->out.len == 0)
		return;
	if (s->io.write)
		s->io.write(s->io.ctx, s->out.data, s->out.len);
	buf_reset(&s->out);
}

void smtpd_close(struct smtpd_session *s)
{
	if (s->state == SMTPD_CLOSED)
		return;
	smtpd_flush(s);
	s->state = SMTPD_CLOSED;
	smtpd_tx_free(&s->tx);
	if (s->io.set_timeout)
		s->io.set_timeout(s->io.ctx, 0);
	if (s->io.close)
		s->io.close(s->io.ctx);
}

void smtpd_close_421(struct smtpd_session *s, const char *enhanced,
                     const char *text)
{
	const char *cmd = s->cmd;
	s->cmd = NULL;
	smtpd_reply(s, 421, enhanced, "%s %s, closing connection",
	            s->cfg->hostname, text);
	s->cmd = cmd;
	log_info(s->id, "closing: %s", text);
	smtpd_close(s);
}

/* ---- transactions ---- */

struct smtpd_tx *smtpd_tx_new(struct smtpd_session *s)
{
	struct smtpd_tx *tx = calloc(1, sizeof *tx);
	if (!tx)
		return NULL;
	s->messages++;
	snprintf(tx->id, sizeof tx->id, "%s.%u", s->id, s->messages);
	buf_init(&tx->header, s->cfg->limits.header_size);
	return tx;
}

void smtpd_tx_free(struct smtpd_tx **txp)
{
	struct smtpd_tx *tx = *txp;
	if (!tx)
		return;
	free(tx->sender);
	free(tx->first_rcpt);
	strlist_free(&tx->users);
	strlist_free(&tx->remote);
	if (tx->spool)
		spool_discard(&tx->spool);
	buf_free(&tx->header);
	free(tx);
	*txp = NULL;
}

void smtpd_reset(struct smtpd_session *s)
{
	smtpd_tx_free(&s->tx);
	s->state = s->helo ? SMTPD_READY : SMTPD_GREETED;
}

const char *smtpd_local_domain(const struct smtpd_session *s)
{
	return s->cfg->ndomains ? s->cfg->domains[0] : s->cfg->hostname;
}

int smtpd_auth_offered(const struct smtpd_session *s)
{
	return s->tls_active ||
	       (s->cfg->plaintext_auth_loopback && s->peer.addrlen > 0 &&
	        config_is_loopback((const struct sockaddr *)&s->peer.addr));
}

/* ---- jobs ---- */

static void smtpd_process(struct smtpd_session *s);
static void smtpd_arm_timer(struct smtpd_session *s);

void smtpd_job_start(struct smtpd_session *s, void (*job)(void *),
                     void (*done)(void *), void *arg)
{
	s->state = SMTPD_JOB;
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
static void smtpd_after_step(struct smtpd_session *s)
{
	if (s->state == SMTPD_CLOSED || s->state == SMTPD_JOB)
		return;
	if (s->errors > s->cfg->limits.errors) {
		smtpd_close_421(s, "4.7.0", "Error: too many errors");
		return;
	}
	if (s->shutting_down && (SMTPD_ST(s->state) & SMTPD_ST_COMMAND)) {
		smtpd_tx_free(&s->tx);
		smtpd_close_421(s, "4.3.2", "Service shutting down");
	}
}

void smtpd_job_finished(struct smtpd_session *s)
{
	if (s->eof) {
		smtpd_tx_free(&s->tx);
		s->state = SMTPD_CLOSED;
		return;
	}
	if (s->state == SMTPD_JOB)
		s->state = s->resume;
	smtpd_after_step(s);
	if (s->in_process)
		return;
	smtpd_process(s);
	smtpd_flush(s);
	smtpd_arm_timer(s);
}

/* ---- the dispatcher ---- */

/* The 503 text for cmd in the current state. */
static const char *smtpd_sequence_text(const struct smtpd_session *s,
                                       const struct smtpd_command *cmd)
{
	if (s->state == SMTPD_GREETED)
		return "send HELO/EHLO first";
	if (s->state == SMTPD_CHUNKING)
		return "BDAT transfer in progress";
	return cmd->wrong_state ? cmd->wrong_state : "bad sequence of commands";
}

/* Refuses cmd when the table says so (state, AUTH, TLS); 1 when refused. */
static int smtpd_refuse(struct smtpd_session *s, const struct smtpd_command *cmd,
                        char *args)
{
	unsigned long long skip = 0;
	if (!(cmd->states & SMTPD_ST(s->state)))
		smtpd_reply(s, 503, "5.5.1", "Error: %s",
		            smtpd_sequence_text(s, cmd));
	else if ((cmd->flags & CMD_NEEDS_AUTH) && s->listener->require_auth &&
	         !s->auth_user)
		smtpd_reply(s, 530, "5.7.0", "Authentication required");
	else if ((cmd->flags & CMD_NEEDS_TLS) && !smtpd_auth_offered(s))
		smtpd_reply(s, 538, "5.7.11",
		            "Encryption required for requested authentication mechanism");
	else
		return 0;
	/* RFC 3030 2: the bytes of a refused BDAT still follow; reading
	 * them as commands would let a client smuggle commands in. */
	if ((cmd->flags & CMD_PAYLOAD) && smtpd_bdat_size(args, &skip) == 0)
		s->skip = skip;
	return 1;
}

static void smtpd_dispatch(struct smtpd_session *s, char *line, size_t len)
{
	size_t verb = strcspn(line, " ");
	s->cmd = line;
	s->cmd_len = len;
	if (len == 0) {
		smtpd_reply(s, 500, "5.5.2", "Error: empty command");
		return;
	}
	if (memchr(line, '\0', len)) {
		s->cmd_len = strlen(line);
		smtpd_reply(s, 500, "5.5.2", "Error: NUL byte in command");
		return;
	}
	const struct smtpd_command *cmd = smtpd_command_find(line, verb);
	if (!cmd) {
		smtpd_reply(s, 500, "5.5.2", "Error: command not recognized");
		return;
	}
	if (cmd->flags & CMD_SECRET)
		s->cmd_len = verb;
	if ((cmd->flags & CMD_JUNK) &&
	    ++s->junk > s->cfg->limits.commands_before_mail) {
		smtpd_close_421(s, "4.7.0", "Error: too many commands without MAIL");
		return;
	}
	char *args = line + verb + (line[verb] == ' ');
	if (smtpd_refuse(s, cmd, args))
		return;
	cmd->handler(s, args);
	if (cmd->flags & CMD_ENDS_GROUP)
		smtpd_flush(s);
}

/* ---- the line reader ---- */

static size_t smtpd_line_limit(const struct smtpd_session *s)
{
	size_t limit = s->cfg->limits.line_length;
	if (limit < 512)
		limit = 512;
	if (s->state == SMTPD_AUTH && limit < SMTPD_AUTH_LINE_MAX)
		limit = SMTPD_AUTH_LINE_MAX;
	return limit;
}

static void smtpd_line_too_long(void *ctx)
{
	struct smtpd_session *s = ctx;
	s->cmd = NULL;
	if (s->state == SMTPD_AUTH) {
		s->state = SMTPD_READY;
		buf_free(&s->auth_name);
	}
	smtpd_reply(s, 500, "5.5.6", "Error: line too long");
}

static void smtpd_line_run(void *ctx, char *line, size_t len)
{
	struct smtpd_session *s = ctx;
	if (s->state == SMTPD_AUTH)
		smtpd_auth_continue(s, line, len);
	else
		smtpd_dispatch(s, line, len);
	s->cmd = NULL; /* it pointed into line, which is freed now */
}

/* One command or AUTH line from p[0..n): returns the bytes used, 0 when
 * the line is not complete yet. */
static size_t smtpd_line_step(struct smtpd_session *s, const char *p, size_t n)
{
	static const struct line_handler handler = {smtpd_line_run,
	                                            smtpd_line_too_long};
	size_t used;
	if (line_step(&s->lines, p, n, smtpd_line_limit(s), &handler, s,
	              &used) < 0) {
		smtpd_close_421(s, "4.3.0", "Error: out of memory");
		return n;
	}
	return used;
}

static size_t smtpd_step(struct smtpd_session *s, const char *p, size_t n)
{
	if (s->skip) {
		size_t used = s->skip < n ? (size_t)s->skip : n;
		s->skip -= used;
		return used;
	}
	if (s->state == SMTPD_DATA)
		return smtpd_data_consume(s, p, n);
	if (s->state == SMTPD_BDAT)
		return smtpd_bdat_consume(s, p, n);
	return smtpd_line_step(s, p, n);
}

/* Runs every complete unit of buffered input (pipelining), in order. */
static void smtpd_process(struct smtpd_session *s)
{
	unsigned tls_epoch = s->starttls_count;
	s->in_process = 1;
	while (s->in_pos < s->in.len && s->state != SMTPD_JOB &&
	       s->state != SMTPD_CLOSED && s->state != SMTPD_STARTTLS) {
		size_t used = smtpd_step(s, s->in.data + s->in_pos,
		                         s->in.len - s->in_pos);
		if (used == 0)
			break;
		s->in_pos += used;
		if (s->starttls_count != tls_epoch)
			break;
		smtpd_after_step(s);
	}
	/* RFC 3207 4.2: nothing sent before the handshake may count after it
	 * (even when the owner finished the handshake inside start_tls). */
	if (s->starttls_count != tls_epoch || s->state == SMTPD_CLOSED)
		s->in_pos = s->in.len;
	memmove(s->in.data, s->in.data + s->in_pos, s->in.len - s->in_pos);
	s->in.len -= s->in_pos;
	s->in_pos = 0;
	s->in_process = 0;
}

static void smtpd_arm_timer(struct smtpd_session *s)
{
	int seconds = s->cfg->limits.command_timeout;
	if (!s->io.set_timeout)
		return;
	if (s->state == SMTPD_JOB || s->state == SMTPD_CLOSED ||
	    s->state == SMTPD_STARTTLS)
		seconds = 0;
	else if (s->state == SMTPD_DATA || s->state == SMTPD_BDAT || s->skip)
		seconds = s->cfg->limits.data_timeout;
	s->io.set_timeout(s->io.ctx, seconds);
}

/* ---- the public life cycle ---- */

struct smtpd_session *smtpd_new(const struct smtpd_params *params,
                                const struct session_io *io)
{
	struct smtpd_session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cfg = params->cfg;
	s->listener = params->listener;
	s->users = params->users;
	s->aliases = params->aliases;
	s->peer = params->peer;
	s->throttle = params->throttle;
	s->io = *io;
	s->tls_active = params->tls_active;
	s->id = strdup(params->session_id ? params->session_id : "-");
	s->tls_info = params->tls_info ? strdup(params->tls_info) : NULL;
	buf_init(&s->in, SMTPD_INPUT_MAX + SMTPD_AUTH_LINE_MAX +
	                 s->cfg->limits.line_length);
	buf_init(&s->out, 0);
	if (!s->id || (params->tls_info && !s->tls_info)) {
		smtpd_free(&s);
		return NULL;
	}
	return s;
}

void smtpd_start(struct smtpd_session *s)
{
	s->state = SMTPD_GREETED;
	smtpd_reply(s, 220, NULL, "%s ESMTP posthorn", s->cfg->hostname);
	smtpd_flush(s);
	smtpd_arm_timer(s);
}

int smtpd_input(struct smtpd_session *s, const char *data, size_t len)
{
	unsigned tls_epoch = s->starttls_count;
	while (len > 0 && s->state != SMTPD_CLOSED &&
	       s->state != SMTPD_STARTTLS && s->starttls_count == tls_epoch) {
		size_t room = s->in.max - s->in.len;
		size_t n = len < room ? len : room;
		if (n == 0 || buf_append(&s->in, data, n) < 0) {
			smtpd_close_421(s, "4.7.0", "Error: too much pipelined input");
			break;
		}
		data += n;
		len -= n;
		if (!s->in_process && s->state != SMTPD_JOB)
			smtpd_process(s);
	}
	if (s->state == SMTPD_STARTTLS)
		buf_reset(&s->in);
	smtpd_flush(s);
	smtpd_arm_timer(s);
	return s->state == SMTPD_CLOSED ? -1 : 0;
}

size_t smtpd_buffered(const struct smtpd_session *s)
{
	return s->in.len - s->in_pos;
}

void smtpd_tls_done(struct smtpd_session *s, int ok, const char *info)
{
	if (s->state == SMTPD_CLOSED)
		return;
	if (!ok) {
		log_info(s->id, "STARTTLS handshake failed");
		smtpd_tx_free(&s->tx);
		s->state = SMTPD_CLOSED;
		return;
	}
	free(s->tls_info);
	s->tls_info = info ? strdup(info) : NULL;
	s->tls_active = 1;
	/* RFC 3207 4.2: forget everything learnt before the handshake. */
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	free(s->auth_user);
	s->auth_user = NULL;
	smtpd_tx_free(&s->tx);
	if (!s->in_process) {
		buf_reset(&s->in);
		s->in_pos = 0;
	}
	s->lines.discarding = 0;
	s->skip = 0;
	s->state = SMTPD_GREETED;
	log_info(s->id, "STARTTLS: %s", info ? info : "ok");
	smtpd_arm_timer(s);
}

void smtpd_timeout(struct smtpd_session *s)
{
	if (s->state == SMTPD_CLOSED || s->state == SMTPD_JOB)
		return;
	s->cmd = NULL;
	smtpd_tx_free(&s->tx);
	if (s->state == SMTPD_STARTTLS) {
		/* No plaintext reply in the middle of a handshake. */
		log_info(s->id, "timeout during the TLS handshake");
		smtpd_close(s);
		return;
	}
	smtpd_close_421(s, "4.4.2", "Error: timeout exceeded");
}

void smtpd_shutdown(struct smtpd_session *s)
{
	s->shutting_down = 1;
	if (s->state == SMTPD_AUTH)
		s->state = SMTPD_READY;
	if (SMTPD_ST(s->state) & SMTPD_ST_COMMAND) {
		s->cmd = NULL;
		smtpd_after_step(s);
		smtpd_flush(s);
	}
}

void smtpd_eof(struct smtpd_session *s)
{
	if (s->state == SMTPD_CLOSED)
		return;
	log_info(s->id, "disconnect without QUIT%s",
	         s->state == SMTPD_DATA || s->state == SMTPD_BDAT
	                 ? " during message input, message discarded" : "");
	s->eof = 1;
	if (s->state == SMTPD_JOB)
		return; /* smtpd_job_finished cleans up */
	smtpd_tx_free(&s->tx);
	s->state = SMTPD_CLOSED;
}

int smtpd_busy(const struct smtpd_session *s)
{
	return s->state == SMTPD_JOB;
}

void smtpd_free(struct smtpd_session **sp)
{
	struct smtpd_session *s = *sp;
	if (!s)
		return;
	smtpd_tx_free(&s->tx);
	buf_free(&s->in);
	buf_free(&s->out);
	buf_free(&s->auth_name);
	free(s->id);
	free(s->helo);
	free(s->tls_info);
	free(s->auth_user);
	free(s);
	*sp = NULL;
}
