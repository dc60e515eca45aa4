/* pop3d_auth: the AUTHORIZATION state: USER/PASS, APOP, AUTH (SASL PLAIN
 * and LOGIN, RFC 5034), STLS and CAPA. A login checks the password and
 * opens (locks and lists) the mailbox in one job, off the event loop. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../auth/sasl.h"
#include "../lib/log.h"
#include "../store/maildir.h"
#include "pop3d_int.h"

enum { SASL_PLAIN = 1, SASL_LOGIN = 2 };

/* Trims spaces around args in place. */
static char *auth_trim(char *args)
{
	while (*args == ' ')
		args++;
	size_t n = strlen(args);
	while (n > 0 && args[n - 1] == ' ')
		args[--n] = '\0';
	return args;
}

/* Login needs TLS unless the config lets loopback go without: -ERR [AUTH]
 * (a policy refusal, RFC 2449 8.1.1) and 1 when refused. */
static int auth_refuse_plaintext(struct pop3d_session *s)
{
	if (pop3d_login_allowed(s))
		return 0;
	pop3d_reply(s, 0, "AUTH", "Plaintext authentication disallowed on "
	            "non-secure connections: use STLS%s first",
	            pop3d_stls_offered(s) ? "" : " (or the POP3S port)");
	return 1;
}

/* ---- the login job ---- */

struct auth_login {
	struct pop3d_session *s;
	const struct users *users;
	const char *data_dir;
	struct buf user;
	struct buf secret;           /* password, or the APOP digest */
	char timestamp[320];         /* set for APOP */
	int delay_ms;
	int ok;
	enum mailbox_open_result opened;
	struct mailbox *mb;
	struct buf err;
};

static void auth_login_free(struct auth_login *j)
{
	if (j->secret.data)
		explicit_bzero(j->secret.data, j->secret.cap);
	buf_free(&j->secret);
	buf_free(&j->user);
	buf_free(&j->err);
	mailbox_close(&j->mb);
	free(j);
}

static void auth_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Off the event loop: yescrypt is slow on purpose, a failure slower, and
 * listing a big Maildir takes a while. */
static void auth_login_run(void *arg)
{
	struct auth_login *j = arg;
	const struct user *u = users_find(j->users, buf_cstr(&j->user));
	if (j->timestamp[0])
		j->ok = users_verify_apop(u, j->timestamp, buf_cstr(&j->secret));
	else
		/* Even for an unknown user (u NULL, a dummy hash): the answer
		 * must take as long, or it tells which names exist. */
		j->ok = users_verify(u, buf_cstr(&j->secret)) == 1;
	if (!j->ok) {
		if (j->delay_ms > 0)
			auth_sleep_ms(j->delay_ms);
		return;
	}
	struct buf path = BUF_INIT;
	if (maildir_user_path(j->data_dir, u->name, &path) < 0 ||
	    !buf_cstr(&path)) {
		buf_printf(&j->err, "no mailbox path for %s", u->name);
		j->opened = MAILBOX_ERROR;
	} else {
		j->opened = mailbox_open(path.data, &j->mb, &j->err);
	}
	buf_free(&path);
}

/* Logged in: the snapshot becomes the session's. */
static void auth_enter_transaction(struct pop3d_session *s,
                                   struct auth_login *j)
{
	size_t n = j->mb->count ? j->mb->count : 1;
	s->deleted = calloc(n, 1);
	s->seen = calloc(n, 1);
	s->auth_user = strdup(buf_cstr(&j->user));
	if (!s->deleted || !s->seen || !s->auth_user) {
		free(s->deleted);
		free(s->seen);
		s->deleted = s->seen = NULL;
		pop3d_reply(s, 0, "SYS/TEMP", "Out of memory, try again later");
		return;
	}
	s->mb = j->mb;
	j->mb = NULL;
	s->resume = POP3D_TRANSACTION;
	log_info(s->id, "login user=%s%s: %zu messages, %llu octets",
	         s->auth_user, j->timestamp[0] ? " (APOP)" : "", s->mb->count,
	         s->mb->total);
	pop3d_reply(s, 1, NULL, "Logged in: %zu message%s (%llu octets)",
	            s->mb->count, s->mb->count == 1 ? "" : "s", s->mb->total);
}

static void auth_login_failed(struct pop3d_session *s, struct auth_login *j)
{
	s->auth_failures++;
	unsigned recent = s->throttle
	        ? throttle_failed(s->throttle, s->peer.ip, time(NULL)) : 0;
	log_info(s->id, "login user=%s failed (%u recent from [%s])",
	         buf_cstr(&j->user), recent, s->peer.ip);
	/* One reply per command, even the last one before closing. */
	if (s->auth_failures >= s->cfg->limits.auth_failures) {
		pop3d_reply(s, 0, "AUTH", "Authentication failed; too many "
		            "failures, closing connection");
		s->resume = POP3D_CLOSED;
	} else {
		pop3d_reply(s, 0, "AUTH", "Authentication failed");
	}
}

static void auth_login_done(void *arg)
{
	struct auth_login *j = arg;
	struct pop3d_session *s = j->s;
	s->resume = POP3D_AUTHORIZATION;
	if (s->state == POP3D_CLOSED)
		s->eof = 1; /* closed meanwhile: nothing more to say */
	if (s->eof) {
		/* nothing to say; the lock goes with the job */
	} else if (!j->ok) {
		auth_login_failed(s, j);
	} else if (s->throttle) {
		throttle_succeeded(s->throttle, s->peer.ip);
	}
	if (!s->eof && j->ok && j->opened == MAILBOX_OK) {
		auth_enter_transaction(s, j);
	} else if (!s->eof && j->ok && j->opened == MAILBOX_LOCKED) {
		log_info(s->id, "login user=%s: mailbox in use", buf_cstr(&j->user));
		pop3d_reply(s, 0, "IN-USE", "Mailbox is locked by another POP3 "
		            "session, try again later");
	} else if (!s->eof && j->ok) {
		log_error(s->id, "login user=%s: %s", buf_cstr(&j->user),
		          buf_cstr(&j->err) ? j->err.data : "cannot open mailbox");
		pop3d_reply(s, 0, "SYS/TEMP", "Cannot open the mailbox, try "
		            "again later");
	}
	auth_login_free(j);
	if (s->resume == POP3D_CLOSED) {
		s->state = POP3D_AUTHORIZATION;
		pop3d_close(s);
	}
	pop3d_job_finished(s);
}

/* Starts the login job; takes over user and secret. timestamp is set for
 * APOP, NULL for a password. */
static void auth_login_start(struct pop3d_session *s, struct buf *user,
                             struct buf *secret, const char *timestamp)
{
	struct auth_login *j = calloc(1, sizeof *j);
	if (!j) {
		pop3d_reply(s, 0, "SYS/TEMP", "Out of memory, try again later");
		return;
	}
	j->s = s;
	j->users = s->users;
	j->data_dir = s->cfg->data_dir;
	j->user = *user;
	j->secret = *secret;
	*user = (struct buf)BUF_INIT;
	*secret = (struct buf)BUF_INIT;
	if (timestamp)
		snprintf(j->timestamp, sizeof j->timestamp, "%s", timestamp);
	j->delay_ms = s->throttle
	        ? throttle_delay_ms(s->throttle, s->peer.ip,
	                            s->cfg->limits.auth_delay_ms, time(NULL))
	        : s->cfg->limits.auth_delay_ms;
	free(s->user);
	s->user = NULL;
	s->resume = POP3D_AUTHORIZATION;
	pop3d_job_start(s, auth_login_run, auth_login_done, j);
}

/* A user name as typed, lowercased into out; 0, or -1 when it cannot be
 * a user (empty, too long, control characters). */
static int auth_user_name(const char *name, struct buf *out)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255)
		return -1;
	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x21 || c == 0x7f || buf_putc(out, (char)tolower(c)) < 0)
			return -1;
	}
	return buf_cstr(out) ? 0 : -1;
}

/* ---- USER, PASS, APOP ---- */

void pop3d_cmd_user(struct pop3d_session *s, char *args)
{
	char *name = auth_trim(args);
	if (auth_refuse_plaintext(s))
		return;
	if (!*name || strchr(name, ' ')) {
		pop3d_reply(s, 0, NULL, "Syntax: USER name");
		return;
	}
	free(s->user);
	s->user = strdup(name);
	if (!s->user) {
		pop3d_reply(s, 0, "SYS/TEMP", "Out of memory");
		return;
	}
	/* The same answer for every name: nothing is revealed before PASS. */
	pop3d_reply(s, 1, NULL, "Send your password");
}

void pop3d_cmd_pass(struct pop3d_session *s, char *args)
{
	if (auth_refuse_plaintext(s))
		return;
	if (!s->user) {
		pop3d_reply(s, 0, NULL, "USER first");
		return;
	}
	/* RFC 1939 7: the password is the rest of the line, spaces included. */
	struct buf user = BUF_INIT, password = BUF_INIT;
	if (!*args) {
		pop3d_reply(s, 0, NULL, "Syntax: PASS password");
	} else if (auth_user_name(s->user, &user) < 0 ||
	           buf_puts(&password, args) < 0 || !buf_cstr(&password)) {
		free(s->user);
		s->user = NULL;
		pop3d_reply(s, 0, "AUTH", "Authentication failed");
	} else {
		auth_login_start(s, &user, &password, NULL);
	}
	buf_free(&user);
	if (password.data)
		explicit_bzero(password.data, password.cap);
	buf_free(&password);
}

void pop3d_cmd_apop(struct pop3d_session *s, char *args)
{
	char *save = NULL;
	char *name = strtok_r(args, " ", &save);
	char *digest = name ? strtok_r(NULL, " ", &save) : NULL;
	if (!digest || strtok_r(NULL, " ", &save)) {
		pop3d_reply(s, 0, NULL, "Syntax: APOP name digest");
		return;
	}
	/* APOP sends no password in the clear, so it needs no TLS. */
	struct buf user = BUF_INIT, secret = BUF_INIT;
	if (auth_user_name(name, &user) < 0 || buf_puts(&secret, digest) < 0 ||
	    !buf_cstr(&secret))
		pop3d_reply(s, 0, "AUTH", "Authentication failed");
	else
		auth_login_start(s, &user, &secret, s->timestamp);
	buf_free(&user);
	buf_free(&secret);
}

/* ---- AUTH (RFC 5034) ---- */

static void auth_sasl_malformed(struct pop3d_session *s)
{
	s->state = POP3D_AUTHORIZATION;
	buf_free(&s->sasl_name);
	pop3d_reply(s, 0, NULL, "Cannot decode the authentication response");
}

static void auth_sasl_plain(struct pop3d_session *s, const char *b64,
                            size_t len)
{
	struct buf user = BUF_INIT, password = BUF_INIT;
	s->state = POP3D_AUTHORIZATION;
	if (sasl_plain_decode(b64, len, &user, &password) < 0)
		auth_sasl_malformed(s);
	else
		auth_login_start(s, &user, &password, NULL);
	buf_free(&user);
	buf_free(&password);
}

static void auth_sasl_login(struct pop3d_session *s, const char *b64,
                            size_t len)
{
	if (s->sasl_step == 1) {
		struct buf raw = BUF_INIT;
		if (sasl_login_decode(b64, len, &raw) < 0 ||
		    auth_user_name(buf_cstr(&raw) ? raw.data : "", &s->sasl_name) < 0) {
			buf_free(&raw);
			auth_sasl_malformed(s);
			return;
		}
		buf_free(&raw);
		s->sasl_step = 2;
		s->state = POP3D_SASL;
		(void)buf_puts(&s->out, "+ UGFzc3dvcmQ6\r\n"); /* "Password:" */
		pop3d_flush(s);
		return;
	}
	struct buf password = BUF_INIT;
	s->state = POP3D_AUTHORIZATION;
	if (sasl_login_decode(b64, len, &password) < 0)
		auth_sasl_malformed(s);
	else
		auth_login_start(s, &s->sasl_name, &password, NULL);
	buf_free(&s->sasl_name);
	buf_free(&password);
}

void pop3d_sasl_continue(struct pop3d_session *s, char *line, size_t len)
{
	if (sasl_is_cancel(line, len)) {
		s->state = POP3D_AUTHORIZATION;
		buf_free(&s->sasl_name);
		pop3d_reply(s, 0, NULL, "Authentication cancelled");
		return;
	}
	if (s->sasl_mech == SASL_PLAIN)
		auth_sasl_plain(s, line, len);
	else
		auth_sasl_login(s, line, len);
}

/* Begins the exchange: a continuation, or the initial response at once
 * ("=" is an empty one, RFC 5034 4). */
static void auth_sasl_begin(struct pop3d_session *s, int mech,
                            const char *initial)
{
	s->sasl_mech = mech;
	s->sasl_step = 1;
	if (initial) {
		s->state = POP3D_SASL;
		pop3d_sasl_continue(s, (char *)initial, strlen(initial));
		return;
	}
	s->state = POP3D_SASL;
	(void)buf_puts(&s->out, mech == SASL_PLAIN ? "+ \r\n"
	                                           : "+ VXNlcm5hbWU6\r\n");
	pop3d_flush(s);
}

void pop3d_cmd_auth(struct pop3d_session *s, char *args)
{
	char *save = NULL;
	char *mech = strtok_r(args, " ", &save);
	char *initial = mech ? strtok_r(NULL, " ", &save) : NULL;
	if (!mech) {
		/* The pre-RFC 5034 listing some clients still ask for. */
		pop3d_reply(s, 1, NULL, "Supported mechanisms follow");
		pop3d_line(s, "PLAIN");
		pop3d_line(s, "LOGIN");
		pop3d_line(s, ".");
		return;
	}
	if (auth_refuse_plaintext(s))
		return;
	if (initial && strtok_r(NULL, " ", &save)) {
		pop3d_reply(s, 0, NULL, "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if (strcasecmp(mech, "PLAIN") == 0)
		auth_sasl_begin(s, SASL_PLAIN, initial);
	else if (strcasecmp(mech, "LOGIN") == 0)
		auth_sasl_begin(s, SASL_LOGIN, initial);
	else
		pop3d_reply(s, 0, NULL, "Unsupported authentication mechanism");
}

/* ---- STLS and CAPA ---- */

void pop3d_cmd_stls(struct pop3d_session *s, char *args)
{
	if (*auth_trim(args)) {
		pop3d_reply(s, 0, NULL, "Syntax: STLS");
		return;
	}
	if (s->tls_active) {
		pop3d_reply(s, 0, NULL, "TLS is already active");
		return;
	}
	if (!pop3d_stls_offered(s)) {
		pop3d_reply(s, 0, NULL, "TLS is not available here");
		return;
	}
	pop3d_reply(s, 1, NULL, "Begin TLS negotiation");
	free(s->user);
	s->user = NULL;
	s->state = POP3D_STLS;
	s->stls_count++;
	pop3d_flush(s);
	s->io.start_tls(s->io.ctx);
}

void pop3d_cmd_capa(struct pop3d_session *s, char *args)
{
	(void)args;
	int before = s->state == POP3D_AUTHORIZATION;
	pop3d_reply(s, 1, NULL, "Capability list follows");
	pop3d_line(s, "TOP");
	pop3d_line(s, "UIDL");
	pop3d_line(s, "RESP-CODES");
	pop3d_line(s, "AUTH-RESP-CODE");
	pop3d_line(s, "PIPELINING");
	if (before && pop3d_login_allowed(s)) {
		pop3d_line(s, "USER");
		pop3d_line(s, "SASL PLAIN LOGIN");
	}
	if (before && pop3d_stls_offered(s))
		pop3d_line(s, "STLS");
	pop3d_line(s, "IMPLEMENTATION posthorn");
	pop3d_line(s, ".");
}
