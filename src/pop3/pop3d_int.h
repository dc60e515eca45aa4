/* pop3d_int: what the files of the POP3 session share and nothing else
 * includes: the session struct, its states, the reply function and the
 * entry points between pop3d.c (dispatcher, line reader, replies, jobs),
 * pop3d_auth.c (AUTHORIZATION) and pop3d_txn.c (TRANSACTION, UPDATE). */
#ifndef POSTHORN_POP3D_INT_H
#define POSTHORN_POP3D_INT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/line.h"
#include "../msg/dotstuff.h"
#include "../store/mailbox.h"
#include "pop3d.h"

/* The session's states; the command table lists, per command, the states
 * (as bits) it is allowed in. */
enum pop3d_state {
	POP3D_AUTHORIZATION, /* greeting sent, not logged in */
	POP3D_SASL,          /* input is an AUTH continuation line */
	POP3D_TRANSACTION,   /* logged in, mailbox locked */
	POP3D_SENDING,       /* a RETR/TOP reply streams; input waits */
	POP3D_JOB,           /* a job is out; input is only buffered */
	POP3D_STLS,          /* handshake running; input is discarded */
	POP3D_CLOSED,
};

#define POP3D_ST(x) (1u << (x))

/* A RETR or TOP in progress. */
struct pop3d_send {
	int fd;                  /* -1 when nothing streams */
	size_t msg;              /* index into the snapshot */
	int retr;                /* RETR (marks seen), not TOP */
	struct msg_dotstuff st;
};

struct pop3d_session {
	const struct posthorn_config *cfg;
	const struct cfg_listener *listener;
	const struct users *users;
	struct throttle *throttle;
	struct session_peer peer;
	struct session_io io;
	char *id;                /* session id, owned */
	enum pop3d_state state;
	enum pop3d_state resume; /* where a job returns to */
	struct buf in;           /* unprocessed input, in[in_pos..len) */
	size_t in_pos;
	struct line_reader lines; /* command and SASL lines */
	struct buf out;          /* replies not yet handed to io->write */
	int in_process;          /* pop3d_process is on the stack */
	unsigned stls_count;     /* STLS accepted so far */
	const char *cmd;         /* current command for the log, or NULL */
	size_t cmd_len;
	int tls_active;
	char *tls_info;          /* owned or NULL */
	char timestamp[320];     /* the APOP "<pid.clock@host>" */
	int job_out;             /* a job is out (pop3d_busy) */
	char *user;              /* USER's name, owned, until PASS */
	char *auth_user;         /* owned, set in TRANSACTION */
	int auth_failures;
	int sasl_mech;           /* during POP3D_SASL */
	int sasl_step;
	struct buf sasl_name;    /* LOGIN: the name between the steps */
	int errors;              /* -ERR replies so far */
	int shutting_down;
	int eof;                 /* the client went away */
	/* TRANSACTION: the snapshot and what the session did to it. */
	struct mailbox *mb;
	unsigned char *deleted;  /* per message */
	unsigned char *seen;     /* retrieved by RETR */
	size_t ndeleted;
	unsigned long long deleted_octets;
	struct pop3d_send send;
};

/* The one reply function: "+OK text" or "-ERR [code] text" (code may be
 * NULL). -ERR replies count against limits.errors and are logged with
 * the command that caused them (its arguments when not secret). */
void pop3d_reply(struct pop3d_session *s, int ok, const char *code,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Appends a raw line (text + CRLF) of a multi-line reply, no stuffing:
 * the callers' lines never start with '.'. */
void pop3d_line(struct pop3d_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Hands the queued output to io->write. */
void pop3d_flush(struct pop3d_session *s);

/* Flushes and closes: io->close, state POP3D_CLOSED; releases the mailbox
 * without changing it. */
void pop3d_close(struct pop3d_session *s);

/* Starts io->run_job with the session in POP3D_JOB; pop3d_job_finished
 * (called by done after it replied) returns it to s->resume. */
void pop3d_job_start(struct pop3d_session *s, void (*job)(void *),
                     void (*done)(void *), void *arg);
void pop3d_job_finished(struct pop3d_session *s);

/* True when USER/PASS, APOP and AUTH may be used now: TLS is active, or
 * the peer is loopback and cfg->plaintext_auth_loopback is set. */
int pop3d_login_allowed(const struct pop3d_session *s);

/* True when STLS can be offered now. */
int pop3d_stls_offered(const struct pop3d_session *s);

/* Releases the snapshot and lock without changing the mailbox. */
void pop3d_drop_mailbox(struct pop3d_session *s);

/* pop3d_auth.c: AUTHORIZATION. args is the text after the verb and one
 * space, NUL-terminated. */
void pop3d_cmd_user(struct pop3d_session *s, char *args);
void pop3d_cmd_pass(struct pop3d_session *s, char *args);
void pop3d_cmd_apop(struct pop3d_session *s, char *args);
void pop3d_cmd_auth(struct pop3d_session *s, char *args);
void pop3d_cmd_stls(struct pop3d_session *s, char *args);
void pop3d_cmd_capa(struct pop3d_session *s, char *args);
void pop3d_sasl_continue(struct pop3d_session *s, char *line, size_t len);

/* pop3d_txn.c: TRANSACTION and UPDATE. */
void pop3d_cmd_stat(struct pop3d_session *s, char *args);
void pop3d_cmd_list(struct pop3d_session *s, char *args);
void pop3d_cmd_uidl(struct pop3d_session *s, char *args);
void pop3d_cmd_retr(struct pop3d_session *s, char *args);
void pop3d_cmd_top(struct pop3d_session *s, char *args);
void pop3d_cmd_dele(struct pop3d_session *s, char *args);
void pop3d_cmd_rset(struct pop3d_session *s, char *args);
void pop3d_cmd_noop(struct pop3d_session *s, char *args);
void pop3d_cmd_quit(struct pop3d_session *s, char *args);
/* Streams the RETR/TOP in progress until done (back to TRANSACTION) or
 * until the owner's output is above SESSION_OUTPUT_HIGH. */
void pop3d_send_more(struct pop3d_session *s);
/* Ends a RETR/TOP in progress without finishing it (close, eof). */
void pop3d_send_abort(struct pop3d_session *s);

#endif
