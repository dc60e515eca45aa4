/* smtpd_int: what the files of the SMTP session share and nothing else
 * includes: the session struct, its states, the transaction object, the
 * reply function and the entry points between smtpd.c (dispatcher, line
 * reader, replies), smtpd_cmd.c (command handlers) and smtpd_data.c
 * (DATA/BDAT streaming, trace headers, delivery). */
#ifndef POSTHORN_SMTPD_INT_H
#define POSTHORN_SMTPD_INT_H

#include <stddef.h>

#include "../auth/aliases.h"
#include "../lib/buf.h"
#include "../lib/line.h"
#include "../store/spool.h"
#include "smtpd.h"
#include "smtpd_addr.h"

/* The session's states. The command table lists, per command, the states
 * (as bits) it is allowed in; the others say who owns the input. */
enum smtpd_state {
	SMTPD_GREETED,   /* greeting sent, no HELO/EHLO yet */
	SMTPD_READY,     /* after HELO/EHLO, no transaction */
	SMTPD_MAIL,      /* MAIL accepted */
	SMTPD_RCPT,      /* at least one RCPT accepted */
	SMTPD_CHUNKING,  /* between BDAT chunks (RFC 3030) */
	SMTPD_DATA,      /* input is message text up to <CRLF>.<CRLF> */
	SMTPD_BDAT,      /* input is the bytes of a BDAT chunk */
	SMTPD_AUTH,      /* input is an AUTH continuation line */
	SMTPD_JOB,       /* a job is out; input is only buffered */
	SMTPD_STARTTLS,  /* handshake running; input is discarded */
	SMTPD_CLOSED,
};

#define SMTPD_ST(x) (1u << (x))
/* The states in which a line of input is a command. */
#define SMTPD_ST_COMMAND                                                     \
	(SMTPD_ST(SMTPD_GREETED) | SMTPD_ST(SMTPD_READY) | SMTPD_ST(SMTPD_MAIL) | \
	 SMTPD_ST(SMTPD_RCPT) | SMTPD_ST(SMTPD_CHUNKING))

enum smtpd_body { SMTPD_BODY_7BIT, SMTPD_BODY_8BITMIME, SMTPD_BODY_BINARYMIME };

/* Why a message that was read to its end is refused (first one wins). */
enum smtpd_fail {
	SMTPD_FAIL_NONE,
	SMTPD_FAIL_SIZE,     /* over limits.message_size: 552 5.3.4 */
	SMTPD_FAIL_LINE,     /* a text line over limits.line_length: 552 5.3.4 */
	SMTPD_FAIL_BARE_LF,  /* bare CR/LF with bare_lf = reject: 554 5.6.0 */
	SMTPD_FAIL_WRITE,    /* spool write error: 451 4.3.0 / 452 4.3.1 */
};

/* One mail transaction, MAIL to the end of DATA/BDAT. Freed as a whole by
 * smtpd_tx_free on RSET, EHLO, STARTTLS, errors and disconnect. */
struct smtpd_tx {
	char *sender;            /* mailbox, "" for <>; owned */
	enum smtpd_body body;
	int smtputf8;
	size_t nrcpt;            /* RCPT commands accepted */
	char *first_rcpt;        /* mailbox of the first one (Received "for") */
	struct strlist users;    /* local users to deliver to, distinct */
	struct strlist remote;   /* remote addresses to queue, distinct */
	char id[96];             /* SESSIONID.N: spool, queue and reply id */
	struct spool *spool;     /* open during DATA/BDAT and the delivery */
	size_t size;             /* message bytes received (unstuffed) */
	enum smtpd_fail fail;
	int fail_errno;
	/* Submission only: the header block, buffered (limits.header_size)
	 * until the blank line so Date/Message-ID can be added. */
	struct buf header;
	int header_done;
	size_t header_scan;      /* where to look for the blank line next */
	/* DATA line state (smtpd_data.c). */
	int line_start;          /* next byte begins a line */
	int prev_crlf;           /* the line before ended in a real CRLF */
	/* BDAT. */
	int bdat;                /* a BDAT was accepted (DATA now 503) */
	unsigned long long bdat_left;  /* bytes of the chunk still to come */
	unsigned long long bdat_chunk; /* size of the current chunk */
	int bdat_last;
};

struct smtpd_session {
	const struct posthorn_config *cfg;
	const struct cfg_listener *listener;
	const struct users *users;
	const struct aliases *aliases;
	struct session_peer peer;
	struct session_io io;
	char *id;                /* session id, owned */
	enum smtpd_state state;
	enum smtpd_state resume; /* state to return to after a job/AUTH */
	struct buf in;           /* unprocessed input, in[in_pos..len) */
	size_t in_pos;
	struct line_reader lines; /* command and AUTH lines */
	unsigned long long skip; /* bytes of a refused BDAT chunk to drop */
	struct buf out;          /* replies not yet handed to io->write */
	int in_process;          /* smtpd_process is on the stack */
	unsigned starttls_count; /* STARTTLS accepted so far: input from
	                          * before the latest one is dropped */
	const char *cmd;         /* current command for the log (or NULL) */
	size_t cmd_len;
	char *helo;              /* HELO/EHLO name, owned, NULL before */
	int esmtp;               /* EHLO (not HELO) was used */
	int tls_active;
	char *tls_info;          /* owned or NULL */
	char *auth_user;         /* owned, NULL until AUTH succeeded */
	int auth_failures;
	struct throttle *throttle;          /* see smtpd_params; may be NULL */
	int auth_mech;           /* during SMTPD_AUTH: which and which step */
	int auth_step;
	struct buf auth_name;    /* LOGIN: the user name between steps */
	int errors;              /* error replies so far */
	int junk;                /* commands since the last MAIL */
	unsigned messages;       /* transactions started: the N of ids */
	int shutting_down;
	int eof;                 /* the client went away */
	struct smtpd_tx *tx;     /* NULL outside a transaction */
};

/* The one reply function. Appends "CODE[-| ]ENHANCED TEXT\r\n" to the
 * output; enhanced may be NULL (greeting, EHLO, 334, 354). A code >= 500
 * counts against limits.errors; codes >= 400 are logged with the command
 * that caused them. last 0 makes a continuation line "CODE-". */
void smtpd_reply_line(struct smtpd_session *s, int code, const char *enhanced,
                      int last, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define smtpd_reply(s, code, enh, ...) \
	smtpd_reply_line((s), (code), (enh), 1, __VA_ARGS__)

/* Hands the queued replies to io->write. */
void smtpd_flush(struct smtpd_session *s);

/* Flushes and closes: io->close, state SMTPD_CLOSED. */
void smtpd_close(struct smtpd_session *s);

/* "421 4.x.x HOST text" and close. */
void smtpd_close_421(struct smtpd_session *s, const char *enhanced,
                     const char *text);

/* Frees *tx (discarding its spool file) and sets it NULL. */
void smtpd_tx_free(struct smtpd_tx **tx);

/* A new transaction for s (id SESSIONID.N), or NULL when out of memory. */
struct smtpd_tx *smtpd_tx_new(struct smtpd_session *s);

/* Back to the state after HELO/EHLO (or the greeting without one) and no
 * transaction. */
void smtpd_reset(struct smtpd_session *s);

/* Starts io->run_job with the session waiting in SMTPD_JOB; resume_to is
 * where smtpd_job_finished returns it. */
void smtpd_job_start(struct smtpd_session *s, void (*job)(void *),
                     void (*done)(void *), void *arg);

/* A job's done callback has replied: the session leaves SMTPD_JOB (to the
 * state set in s->resume), applies a pending shutdown, and continues with
 * buffered input unless smtpd_process is already on the stack. */
void smtpd_job_finished(struct smtpd_session *s);

/* The domain used for local users in replies (first local domain). */
const char *smtpd_local_domain(const struct smtpd_session *s);

/* True when AUTH may be used now: TLS is active, or the peer is loopback
 * and cfg->plaintext_auth_loopback is set. */
int smtpd_auth_offered(const struct smtpd_session *s);

/* The usage line of a command for HELP ("MAIL FROM:<address> ..."), or NULL
 * for a name that is not in the command table. */
const char *smtpd_command_syntax(const char *name);

/* smtpd_cmd.c: command handlers (args is the text after the verb and
 * one space, NUL-terminated) and the AUTH continuation. */
void smtpd_cmd_helo(struct smtpd_session *s, char *args);
void smtpd_cmd_ehlo(struct smtpd_session *s, char *args);
void smtpd_cmd_mail(struct smtpd_session *s, char *args);
void smtpd_cmd_rcpt(struct smtpd_session *s, char *args);
void smtpd_cmd_rset(struct smtpd_session *s, char *args);
void smtpd_cmd_noop(struct smtpd_session *s, char *args);
void smtpd_cmd_vrfy(struct smtpd_session *s, char *args);
void smtpd_cmd_expn(struct smtpd_session *s, char *args);
void smtpd_cmd_help(struct smtpd_session *s, char *args);
void smtpd_cmd_quit(struct smtpd_session *s, char *args);
void smtpd_cmd_starttls(struct smtpd_session *s, char *args);
void smtpd_cmd_auth(struct smtpd_session *s, char *args);
void smtpd_cmd_obsolete(struct smtpd_session *s, char *args);
void smtpd_auth_continue(struct smtpd_session *s, char *line, size_t len);

/* smtpd_data.c: DATA and BDAT. */
void smtpd_cmd_data(struct smtpd_session *s, char *args);
void smtpd_cmd_bdat(struct smtpd_session *s, char *args);
/* Consumes message input from in[in_pos..len): returns the bytes used; 0
 * when it needs more input. May end the message and start the delivery. */
size_t smtpd_data_consume(struct smtpd_session *s, const char *p, size_t n);
size_t smtpd_bdat_consume(struct smtpd_session *s, const char *p, size_t n);
/* Parses "BDAT n ..." far enough to know how many bytes follow, so a
 * refused chunk is still skipped. 0 or -1. */
int smtpd_bdat_size(const char *args, unsigned long long *n);

#endif
