/* smtpd_cmd: the SMTP command handlers (HELO/EHLO, MAIL, RCPT, RSET, NOOP,
 * VRFY, EXPN, HELP, QUIT, STARTTLS, AUTH and the RFC 821 leftovers). Each
 * parses, checks, acts and replies; the dispatcher in smtpd.c has already
 * checked the state, AUTH and TLS requirements of the command table. */
#include "../auth/sasl.h"
#include "../lib/log.h"
#include "deliver.h"
#include "smtpd_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* An ESMTP command takes at most a handful of parameters. */
#define SMTPD_PARAMS_MAX 16

static const struct aliases smtpd_no_aliases;
static const struct users smtpd_no_users;

static const struct aliases *cmd_aliases(const struct smtpd_session *s)
{
	return s->aliases ? s->aliases : &smtpd_no_aliases;
}

static const struct users *cmd_users(const struct smtpd_session *s)
{
	return s->users ? s->users : &smtpd_no_users;
}

/* Trims spaces at both ends of a NUL-terminated string, in place. */
static char *cmd_trim(char *s)
{
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	return s;
}

/* ---- HELO / EHLO ---- */

/* Checks and records the client's name; replies 501 and returns -1. */
static int cmd_hello(struct smtpd_session *s, char *args, const char *verb)
{
	char *name = cmd_trim(args);
	if (!*name) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: %s hostname", verb);
		return -1;
	}
	if (!smtpd_domain_valid(name, strlen(name), 1, 1)) {
		smtpd_reply(s, 501, "5.5.2", "Error: invalid hostname");
		return -1;
	}
	char *copy = strdup(name);
	if (!copy) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return -1;
	}
	free(s->helo);
	s->helo = copy;
	/* RFC 5321 4.1.4: a new HELO/EHLO aborts any transaction. */
	smtpd_reset(s);
	log_info(s->id, "%s %s", verb, name);
	return 0;
}

void smtpd_cmd_helo(struct smtpd_session *s, char *args)
{
	if (cmd_hello(s, args, "HELO") < 0)
		return;
	s->esmtp = 0;
	smtpd_reply(s, 250, NULL, "%s Hello %s, nice to meet you",
	            s->cfg->hostname, s->helo);
}

void smtpd_cmd_ehlo(struct smtpd_session *s, char *args)
{
	if (cmd_hello(s, args, "EHLO") < 0)
		return;
	s->esmtp = 1;
	smtpd_reply_line(s, 250, NULL, 0, "%s greets %s", s->cfg->hostname,
	                 s->helo);
	smtpd_reply_line(s, 250, NULL, 0, "SIZE %zu", s->cfg->limits.message_size);
	smtpd_reply_line(s, 250, NULL, 0, "8BITMIME");
	smtpd_reply_line(s, 250, NULL, 0, "BINARYMIME");
	smtpd_reply_line(s, 250, NULL, 0, "PIPELINING");
	smtpd_reply_line(s, 250, NULL, 0, "ENHANCEDSTATUSCODES");
	smtpd_reply_line(s, 250, NULL, 0, "SMTPUTF8");
	smtpd_reply_line(s, 250, NULL, 0, "CHUNKING");
	if (!s->tls_active && s->listener->tls == CFG_TLS_STARTTLS &&
	    s->io.start_tls)
		smtpd_reply_line(s, 250, NULL, 0, "STARTTLS");
	if (!s->auth_user && smtpd_auth_offered(s))
		smtpd_reply_line(s, 250, NULL, 0, "AUTH PLAIN LOGIN");
	smtpd_reply(s, 250, NULL, "HELP");
}

/* ---- MAIL ---- */

struct cmd_mail_args {
	int has_size, has_body, has_auth, smtputf8;
	size_t size;
	enum smtpd_body body;
};

/* RFC 1870 allows SIZE up to 20 digits, more than size_t may hold: a value
 * that does not fit saturates to SIZE_MAX, which is over any limit. */
#define CMD_SIZE_DIGITS_MAX 20

static int cmd_parse_size(const char *v, size_t n, size_t *out)
{
	size_t x = 0;
	if (n == 0 || n > CMD_SIZE_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		size_t digit = (size_t)(v[i] - '0');
		x = x > (SIZE_MAX - digit) / 10 ? SIZE_MAX : x * 10 + digit;
	}
	*out = x;
	return 0;
}

static int cmd_value_is(const struct smtpd_param *p, const char *v)
{
	return p->value && strlen(v) == p->value_len &&
	       strncasecmp(p->value, v, p->value_len) == 0;
}

/* One MAIL parameter; replies and returns -1 when it is refused. */
static int cmd_mail_param(struct smtpd_session *s, const struct smtpd_param *p,
                          struct cmd_mail_args *m)
{
	if (smtpd_param_is(p, "SIZE") && !m->has_size) {
		m->has_size = 1;
		if (cmd_parse_size(p->value, p->value_len, &m->size) == 0)
			return 0;
	} else if (smtpd_param_is(p, "BODY") && !m->has_body) {
		m->has_body = 1;
		if (cmd_value_is(p, "7BIT"))
			return m->body = SMTPD_BODY_7BIT, 0;
		if (cmd_value_is(p, "8BITMIME"))
			return m->body = SMTPD_BODY_8BITMIME, 0;
		if (cmd_value_is(p, "BINARYMIME"))
			return m->body = SMTPD_BODY_BINARYMIME, 0;
	} else if (smtpd_param_is(p, "SMTPUTF8") && !m->smtputf8) {
		m->smtputf8 = 1;
		if (!p->value)
			return 0;
	} else if (smtpd_param_is(p, "AUTH") && !m->has_auth) {
		m->has_auth = 1; /* RFC 4954 5: accepted, and ignored */
		if (p->value)
			return 0;
	} else if (!smtpd_param_is(p, "SIZE") && !smtpd_param_is(p, "BODY") &&
	           !smtpd_param_is(p, "SMTPUTF8") && !smtpd_param_is(p, "AUTH")) {
		smtpd_reply(s, 555, "5.5.4", "Error: unsupported parameter %.*s",
		            (int)p->key_len, p->key);
		return -1;
	}
	smtpd_reply(s, 501, "5.5.4", "Error: bad value or repeated %.*s parameter",
	            (int)p->key_len, p->key);
	return -1;
}

/* The parameters after a path: split and checked. -1 when refused. */
static int cmd_mail_params(struct smtpd_session *s, const char *rest,
                           struct cmd_mail_args *m)
{
	struct smtpd_param params[SMTPD_PARAMS_MAX];
	const char *why = NULL;
	int n = smtpd_params_split(rest, strlen(rest), params, SMTPD_PARAMS_MAX,
	                           &why);
	if (n < 0) {
		smtpd_reply(s, 501, "5.5.4", "Error: %s", why);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (cmd_mail_param(s, &params[i], m) < 0)
			return -1;
	size_t limit = s->cfg->limits.message_size;
	if (m->has_size && limit && m->size > limit) {
		smtpd_reply(s, 552, "5.3.4",
		            "Error: message size exceeds fixed limit of %zu bytes", limit);
		return -1;
	}
	return 0;
}

/* "FROM:" / "TO:" then the path (a space after the colon is tolerated).
 * Returns the text after the keyword or NULL. */
static char *cmd_after_keyword(char *args, const char *keyword)
{
	size_t n = strlen(keyword);
	if (strncasecmp(args, keyword, n) != 0)
		return NULL;
	args += n;
	while (*args == ' ')
		args++;
	return args;
}

void smtpd_cmd_mail(struct smtpd_session *s, char *args)
{
	struct smtpd_path path;
	struct cmd_mail_args m = {0};
	const char *why = NULL;
	size_t end = 0;
	char *p = cmd_after_keyword(args, "FROM:");
	if (!p) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return;
	}
	if (smtpd_path_parse(p, strlen(p), SMTPD_PATH_NULL_OK | SMTPD_PATH_UTF8_OK,
	                     &path, &end, &why) < 0 ||
	    (p[end] != '\0' && p[end] != ' ')) {
		smtpd_reply(s, 501, "5.1.7", "Error: bad sender address syntax: %s",
		            why ? why : "text after the path");
		return;
	}
	if (cmd_mail_params(s, p + end, &m) < 0)
		return;
	if (path.utf8 && !m.smtputf8) {
		smtpd_reply(s, 553, "5.6.7",
		            "Error: non-ASCII address requires the SMTPUTF8 parameter");
		return;
	}
	struct smtpd_tx *tx = smtpd_tx_new(s);
	if (!tx || !(tx->sender = strdup(path.mailbox))) {
		smtpd_tx_free(&tx);
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	tx->body = m.has_body ? m.body : SMTPD_BODY_7BIT;
	tx->smtputf8 = m.smtputf8;
	s->tx = tx;
	s->junk = 0;
	s->state = SMTPD_MAIL;
	log_info(s->id, "MAIL from=<%s> size=%zu", tx->sender, m.size);
	smtpd_reply(s, 250, "2.1.0", "Sender <%s> ok", tx->sender);
}

/* ---- RCPT ---- */

/* Resolves a local part through users and aliases into users/remote.
 * 1 found, 0 unknown, -1 lookup error (logged). */
static int cmd_resolve(struct smtpd_session *s, const char *local,
                       struct strlist *users, struct strlist *remote)
{
	struct buf err = BUF_INIT;
	int rc = deliver_resolve(cmd_aliases(s), cmd_users(s), s->cfg, local,
	                       strlen(local), users, remote, &err);
	if (rc < 0)
		log_error(s->id, "%s", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

static int cmd_merge(struct strlist *into, const struct strlist *from)
{
	for (size_t i = 0; i < from->count; i++)
		if (strlist_add_unique(into, from->items[i]) < 0)
			return -1;
	return 0;
}

/* A recipient in a local domain; replies itself on failure. 0 or -1. */
static int cmd_rcpt_local(struct smtpd_session *s, const struct smtpd_path *p)
{
	struct strlist users = {0}, remote = {0};
	int rc = cmd_resolve(s, p->local, &users, &remote);
	if (rc > 0 && (cmd_merge(&s->tx->users, &users) < 0 ||
	               cmd_merge(&s->tx->remote, &remote) < 0))
		rc = -1;
	strlist_free(&users);
	strlist_free(&remote);
	if (rc == 0)
		smtpd_reply(s, 550, "5.1.1",
		            "<%s>: Recipient address rejected: User unknown",
		            p->mailbox);
	else if (rc < 0)
		smtpd_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure",
		            p->mailbox);
	return rc > 0 ? 0 : -1;
}

/* A recipient elsewhere: queued when the client may relay. 0 or -1. */
static int cmd_rcpt_remote(struct smtpd_session *s, const struct smtpd_path *p)
{
	if (!s->auth_user &&
	    !(s->peer.addrlen > 0 &&
	      config_relay_allowed(s->cfg, (const struct sockaddr *)&s->peer.addr))) {
		smtpd_reply(s, 554, "5.7.1", "<%s>: Relay access denied", p->mailbox);
		return -1;
	}
	if (strlist_add_unique(&s->tx->remote, p->mailbox) < 0) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return -1;
	}
	return 0;
}

/* Parses "TO:<path> [params]"; replies and returns -1 on errors. */
static int cmd_rcpt_parse(struct smtpd_session *s, char *args,
                          struct smtpd_path *path)
{
	const char *why = NULL;
	size_t end = 0;
	unsigned flags = SMTPD_PATH_POSTMASTER_OK |
	                 (s->tx->smtputf8 ? SMTPD_PATH_UTF8_OK : 0);
	char *p = cmd_after_keyword(args, "TO:");
	if (!p) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		return -1;
	}
	if (smtpd_path_parse(p, strlen(p), flags, path, &end, &why) < 0 ||
	    (p[end] != '\0' && p[end] != ' ')) {
		smtpd_reply(s, 501, "5.1.3", "Error: bad recipient address syntax: %s",
		            why ? why : "text after the path");
		return -1;
	}
	struct smtpd_param params[SMTPD_PARAMS_MAX];
	int n = smtpd_params_split(p + end, strlen(p + end), params,
	                           SMTPD_PARAMS_MAX, &why);
	if (n < 0) {
		smtpd_reply(s, 501, "5.5.4", "Error: %s", why);
		return -1;
	}
	if (n > 0) {
		smtpd_reply(s, 555, "5.5.4", "Error: unsupported parameter %.*s",
		            (int)params[0].key_len, params[0].key);
		return -1;
	}
	return 0;
}

void smtpd_cmd_rcpt(struct smtpd_session *s, char *args)
{
	struct smtpd_path path;
	if (cmd_rcpt_parse(s, args, &path) < 0)
		return;
	if (s->tx->nrcpt >= s->cfg->limits.recipients) {
		smtpd_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	int local = !path.domain[0] || config_is_local_domain(s->cfg, path.domain);
	int rc = local ? cmd_rcpt_local(s, &path) : cmd_rcpt_remote(s, &path);
	if (rc < 0)
		return;
	if (!s->tx->first_rcpt && !(s->tx->first_rcpt = strdup(path.mailbox))) {
		smtpd_reply(s, 451, "4.3.0", "Error: out of memory");
		return;
	}
	s->tx->nrcpt++;
	s->state = SMTPD_RCPT;
	log_info(s->id, "RCPT to=<%s> accepted (%s)", path.mailbox,
	         local ? "local" : "relay");
	smtpd_reply(s, 250, "2.1.5", "Recipient <%s> ok", path.mailbox);
}

/* ---- RSET, NOOP, QUIT, HELP, obsolete commands ---- */

void smtpd_cmd_rset(struct smtpd_session *s, char *args)
{
	if (*cmd_trim(args)) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: RSET");
		return;
	}
	smtpd_reset(s);
	smtpd_reply(s, 250, "2.0.0", "Ok");
}

void smtpd_cmd_noop(struct smtpd_session *s, char *args)
{
	(void)args; /* RFC 5321 4.1.1.9: a parameter is ignored */
	smtpd_reply(s, 250, "2.0.0", "Ok");
}

void smtpd_cmd_quit(struct smtpd_session *s, char *args)
{
	(void)args;
	log_info(s->id, "QUIT");
	smtpd_reply(s, 221, "2.0.0", "%s closing connection", s->cfg->hostname);
	smtpd_close(s);
}

static const char *const smtpd_help_lines[] = {
	"posthorn SMTP server; commands:",
	"  HELO EHLO MAIL RCPT DATA BDAT RSET NOOP",
	"  VRFY EXPN HELP QUIT STARTTLS AUTH",
	"HELP <command> shows the syntax of one command",
};

void smtpd_cmd_help(struct smtpd_session *s, char *args)
{
	char *topic = cmd_trim(args);
	if (*topic) {
		const char *syntax = smtpd_command_syntax(topic);
		if (syntax)
			smtpd_reply(s, 214, "2.0.0", "%s", syntax);
		else
			smtpd_reply(s, 504, "5.5.4", "Error: no help for that topic");
		return;
	}
	for (size_t i = 0; i < sizeof smtpd_help_lines / sizeof *smtpd_help_lines; i++)
		smtpd_reply_line(s, 214, "2.0.0", 0, "%s", smtpd_help_lines[i]);
	smtpd_reply(s, 214, "2.0.0", "End of HELP (RFC 5321)");
}

void smtpd_cmd_obsolete(struct smtpd_session *s, char *args)
{
	(void)args;
	if (strncasecmp(s->cmd, "TURN", 4) == 0)
		smtpd_reply(s, 502, "5.5.1", "Error: TURN is obsolete and insecure (RFC 2505)");
	else
		smtpd_reply(s, 502, "5.5.1",
		            "Error: %.4s (delivery to terminals) is obsolete and not implemented (RFC 5321)",
		            s->cmd);
}

/* ---- VRFY / EXPN ---- */

/* The address of a VRFY/EXPN argument ("user", "u@d", "<u@d>",
 * "Name <u@d>"), cut in place into local and domain ("" when none). */
static int cmd_vrfy_address(char *args, char **local, char **domain)
{
	char *a = cmd_trim(args), *lt = strchr(a, '<');
	if (lt) {
		char *gt = strchr(lt, '>');
		if (!gt)
			return -1;
		*gt = '\0';
		a = lt + 1;
	}
	char *at = strrchr(a, '@');
	*domain = at ? at + 1 : a + strlen(a);
	if (at)
		*at = '\0';
	*local = a;
	return **local ? 0 : -1;
}

/* Common front of VRFY and EXPN: -1 when it already replied; else
 * resolves the argument into users/remote. */
static int cmd_vrfy_resolve(struct smtpd_session *s, char *args,
                            const char *verb, struct strlist *users,
                            struct strlist *remote, char **local)
{
	char *domain;
	if (!s->listener->vrfy) {
		smtpd_reply(s, 252, "2.5.0",
		            "Cannot VRFY user, but will accept message and attempt delivery");
		return -1;
	}
	if (cmd_vrfy_address(args, local, &domain) < 0) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: %s address", verb);
		return -1;
	}
	if (*domain && !config_is_local_domain(s->cfg, domain)) {
		smtpd_reply(s, 252, "2.5.0", "Cannot VRFY remote address, but will "
		            "attempt delivery");
		return -1;
	}
	int rc = cmd_resolve(s, *local, users, remote);
	if (rc == 0)
		smtpd_reply(s, 550, "5.1.1", "<%s>: User unknown", *local);
	else if (rc < 0)
		smtpd_reply(s, 451, "4.3.0", "<%s>: Temporary lookup failure", *local);
	return rc > 0 ? 0 : -1;
}

void smtpd_cmd_vrfy(struct smtpd_session *s, char *args)
{
	struct strlist users = {0}, remote = {0};
	char *local;
	if (cmd_vrfy_resolve(s, args, "VRFY", &users, &remote, &local) == 0) {
		const struct user *u = users_find(cmd_users(s), local);
		if (u)
			smtpd_reply(s, 250, "2.1.5", "%s <%s@%s>", u->name, u->name,
			            smtpd_local_domain(s));
		else
			smtpd_reply(s, 250, "2.1.5", "<%s@%s>", local,
			            smtpd_local_domain(s));
	}
	strlist_free(&users);
	strlist_free(&remote);
}

void smtpd_cmd_expn(struct smtpd_session *s, char *args)
{
	struct strlist users = {0}, remote = {0};
	char *local;
	if (cmd_vrfy_resolve(s, args, "EXPN", &users, &remote, &local) == 0) {
		size_t total = users.count + remote.count;
		for (size_t i = 0; i < users.count; i++)
			smtpd_reply_line(s, 250, "2.1.5", i + 1 == total, "<%s@%s>",
			                 users.items[i], smtpd_local_domain(s));
		for (size_t i = 0; i < remote.count; i++)
			smtpd_reply_line(s, 250, "2.1.5", users.count + i + 1 == total,
			                 "<%s>", remote.items[i]);
	}
	strlist_free(&users);
	strlist_free(&remote);
}

/* ---- STARTTLS ---- */

void smtpd_cmd_starttls(struct smtpd_session *s, char *args)
{
	if (*cmd_trim(args)) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	if (s->tls_active) {
		smtpd_reply(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	if (s->listener->tls != CFG_TLS_STARTTLS || !s->io.start_tls) {
		smtpd_reply(s, 454, "4.7.0", "TLS not available");
		return;
	}
	smtpd_reply(s, 220, "2.0.0", "Ready to start TLS");
	smtpd_tx_free(&s->tx);
	s->state = SMTPD_STARTTLS;
	s->starttls_count++;
	smtpd_flush(s);
	s->io.start_tls(s->io.ctx);
}

/* ---- AUTH ---- */

enum { AUTH_PLAIN = 1, AUTH_LOGIN = 2 };

struct cmd_auth_job {
	struct smtpd_session *s;
	const struct users *users;
	struct buf user;
	struct buf password;
	int delay_ms;
	int ok;
};

static void cmd_auth_job_free(struct cmd_auth_job *j)
{
	if (j->password.data)
		explicit_bzero(j->password.data, j->password.cap);
	buf_free(&j->password);
	buf_free(&j->user);
	free(j);
}

/* Off the event loop: yescrypt is slow on purpose, and so is a failure. */
static void cmd_auth_run(void *arg)
{
	struct cmd_auth_job *j = arg;
	const struct user *u = users_find(j->users, buf_cstr(&j->user));
	/* Even for an unknown user (u NULL, a dummy hash): the answer
	 * must take as long, or it tells which names exist. */
	j->ok = users_verify(u, buf_cstr(&j->password)) == 1;
	if (!j->ok && j->delay_ms > 0) {
		struct timespec ts = {j->delay_ms / 1000,
		                      (long)(j->delay_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

static void cmd_auth_done(void *arg)
{
	struct cmd_auth_job *j = arg;
	struct smtpd_session *s = j->s;
	if (!s->eof && j->ok && (s->auth_user = strdup(buf_cstr(&j->user)))) {
		if (s->throttle)
			throttle_succeeded(s->throttle, s->peer.ip);
		log_info(s->id, "AUTH user=%s ok", s->auth_user);
		smtpd_reply(s, 235, "2.7.0", "Authentication successful");
	} else if (!s->eof) {
		s->auth_failures++;
		/* Counted per address across sessions (and with POP3), so a
		 * guesser gains nothing by reconnecting. */
		unsigned recent = s->throttle ? throttle_failed(s->throttle,
		                                                s->peer.ip, time(NULL))
		                              : 0;
		log_info(s->id, "AUTH user=%s failed (%u recent from [%s])",
		         buf_cstr(&j->user), recent, s->peer.ip);
		smtpd_reply(s, 535, "5.7.8", "Error: authentication failed");
		if (s->auth_failures >= s->cfg->limits.auth_failures)
			smtpd_close_421(s, "4.7.0",
			                "Error: too many authentication failures");
	}
	cmd_auth_job_free(j);
	smtpd_job_finished(s);
}

/* Verifies user/password in a job; takes over both buffers' contents. */
static void cmd_auth_verify(struct smtpd_session *s, struct buf *user,
                            struct buf *password)
{
	struct cmd_auth_job *j = calloc(1, sizeof *j);
	if (!j) {
		smtpd_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	j->s = s;
	j->users = cmd_users(s);
	j->user = *user;
	j->password = *password;
	*user = (struct buf)BUF_INIT;
	*password = (struct buf)BUF_INIT;
	j->delay_ms = s->throttle
	        ? throttle_delay_ms(s->throttle, s->peer.ip,
	                            s->cfg->limits.auth_delay_ms, time(NULL))
	        : s->cfg->limits.auth_delay_ms;
	s->resume = SMTPD_READY;
	smtpd_job_start(s, cmd_auth_run, cmd_auth_done, j);
}

static void cmd_auth_malformed(struct smtpd_session *s)
{
	s->state = SMTPD_READY;
	buf_free(&s->auth_name);
	smtpd_reply(s, 501, "5.5.2", "Error: cannot decode authentication response");
}

static void cmd_auth_plain(struct smtpd_session *s, const char *b64, size_t len)
{
	struct buf user = BUF_INIT, password = BUF_INIT;
	if (sasl_plain_decode(b64, len, &user, &password) < 0) {
		buf_free(&user);
		buf_free(&password);
		cmd_auth_malformed(s);
		return;
	}
	s->state = SMTPD_READY;
	cmd_auth_verify(s, &user, &password);
	buf_free(&user);
	buf_free(&password);
}

/* LOGIN: step 1 got the user name, step 2 gets the password. */
static void cmd_auth_login(struct smtpd_session *s, const char *b64, size_t len)
{
	struct buf password = BUF_INIT;
	if (s->auth_step == 1) {
		buf_reset(&s->auth_name);
		if (sasl_login_decode(b64, len, &s->auth_name) < 0 ||
		    s->auth_name.len == 0) {
			cmd_auth_malformed(s);
			return;
		}
		s->state = SMTPD_AUTH;
		s->auth_step = 2;
		smtpd_reply(s, 334, NULL, "UGFzc3dvcmQ6");
		return;
	}
	if (sasl_login_decode(b64, len, &password) < 0) {
		buf_free(&password);
		cmd_auth_malformed(s);
		return;
	}
	s->state = SMTPD_READY;
	for (size_t i = 0; i < s->auth_name.len; i++)
		s->auth_name.data[i] = (char)tolower((unsigned char)s->auth_name.data[i]);
	cmd_auth_verify(s, &s->auth_name, &password);
	buf_free(&password);
}

void smtpd_auth_continue(struct smtpd_session *s, char *line, size_t len)
{
	s->cmd = "AUTH (response)";
	s->cmd_len = strlen(s->cmd);
	if (sasl_is_cancel(line, len)) {
		s->state = SMTPD_READY;
		buf_free(&s->auth_name);
		smtpd_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	if (s->auth_mech == AUTH_PLAIN)
		cmd_auth_plain(s, line, len);
	else
		cmd_auth_login(s, line, len);
}

void smtpd_cmd_auth(struct smtpd_session *s, char *args)
{
	char *mech = cmd_trim(args), *initial = strchr(mech, ' ');
	if (initial)
		*initial++ = '\0';
	if (s->auth_user) {
		smtpd_reply(s, 503, "5.5.1", "Error: already authenticated");
	} else if (!*mech) {
		smtpd_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
	} else if (strcasecmp(mech, "PLAIN") == 0) {
		s->auth_mech = AUTH_PLAIN;
		if (initial)
			cmd_auth_plain(s, initial, strlen(initial));
		else
			s->state = SMTPD_AUTH, smtpd_reply(s, 334, NULL, "%s", "");
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		s->auth_mech = AUTH_LOGIN;
		s->auth_step = 1;
		if (initial)
			cmd_auth_login(s, initial, strlen(initial));
		else
			s->state = SMTPD_AUTH, smtpd_reply(s, 334, NULL, "VXNlcm5hbWU6");
	} else {
		smtpd_reply(s, 504, "5.5.4", "Error: unrecognized authentication type");
	}
}
