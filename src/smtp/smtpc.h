/* smtpc: the SMTP client (RFC 5321) over a net connection: greeting, EHLO
 * (HELO when EHLO is refused), the extensions the server offers, STARTTLS
 * (RFC 3207), AUTH PLAIN and LOGIN (RFC 4954), and one message to many
 * recipients with every recipient's reply kept. Used by the posthorn client
 * for submission and meant for the outbound queue as well. Blocking. */
#ifndef POSTHORN_SMTPC_H
#define POSTHORN_SMTPC_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/net.h"

/* A server reply: the code, the enhanced status code when there is one
 * ("5.1.1", else ""), and the text of all its lines joined with "\n"
 * (code and enhanced code stripped). */
struct smtpc_reply {
	int code;            /* 0 when no reply could be read (see err) */
	char enhanced[16];
	struct buf text;     /* owned by the reply */
};

/* What EHLO told us. */
struct smtpc_ext {
	int esmtp;           /* EHLO worked (else HELO) */
	int starttls, pipelining, eightbitmime, smtputf8, enhanced, chunking;
	int dsn;             /* RFC 3461 delivery status notifications */
	int auth_plain, auth_login;
	unsigned long long size;  /* SIZE limit, 0 when none given */
};

struct smtpc; /* opaque; owns its net connection */

/* Takes over conn (a fresh connection), reads the greeting and sends EHLO
 * helo_name (HELO when EHLO gets a 5xx). Returns the session, or NULL with
 * *err set (the net error, or NET_ERR_PROTOCOL for a refusing greeting/EHLO,
 * whose reply is then in *last, or for a malformed reply: code 0) and a
 * sentence in why; conn is closed then (after a QUIT when it still works).
 * Replies: at most 512 lines, 64 KiB, 4096 bytes a line. */
struct smtpc *smtpc_start(struct net_conn *conn, const char *helo_name,
                          struct smtpc_reply *last, enum net_err *err,
                          struct buf *why);

/* The extensions of the last EHLO; lives as long as s. */
const struct smtpc_ext *smtpc_ext(const struct smtpc *s);

/* The connection (for net_is_tls/net_tls_desc). */
struct net_conn *smtpc_conn(struct smtpc *s);

/* Sends STARTTLS, upgrades, and sends EHLO again; the extensions heard in
 * the clear are forgotten first (RFC 3207 4.2). 0, or -1 with the reply
 * in *last (when the server refused) or the net error in *err (e.g.
 * NET_ERR_TLS_VERIFY), and a sentence in why. Not offered, or already
 * TLS: -1 at once, code 0, NET_ERR_PROTOCOL. */
int smtpc_starttls(struct smtpc *s, struct smtpc_reply *last,
                   enum net_err *err, struct buf *why);

/* AUTH PLAIN when offered, else AUTH LOGIN. The password never reaches the
 * transcript. 0 on 235; -1 with the reply in *last (535 and friends; code 0
 * and *err NET_OK when neither mechanism is offered, with why saying so)
 * or the net error in *err. */
int smtpc_auth(struct smtpc *s, const char *user, const char *password,
               struct smtpc_reply *last, enum net_err *err, struct buf *why);

/* One recipient's fate. */
struct smtpc_rcpt {
	const char *address;     /* the caller's string */
	struct smtpc_reply reply;
};

/* Sends one message: MAIL FROM:<from> (with SIZE=len when the server knows
 * SIZE, BODY=8BITMIME when the data has 8-bit bytes and the server offers
 * it, SMTPUTF8 when an address is not ASCII and it is offered), one RCPT
 * per entry of rcpts (each reply stored in it), DATA and the data
 * dot-stuffed with CRLF line ends (the body is traced as one summary
 * line, "C: <message, N bytes>" with N the CRLF size that SIZE= gave, then
 * "C: ."). Uses PIPELINING when offered (in groups of at most 100
 * commands); without it, sends DATA only when a recipient was accepted.
 * data is the whole message. Returns:
 *   n > 0  the number of recipients accepted, with the data accepted
 *          (250 after the final dot); *last is that 250;
 *   0      no recipient was accepted (their replies say why); *last is a
 *          copy of the first recipient's reply;
 *   -1     MAIL, DATA or the final reply refused: *last holds that reply;
 *          or the connection failed (*last code 0, *err set; the session
 *          is then dead and later calls fail at once); or the message was
 *          refused up front (code 0, NET_ERR_PROTOCOL, why says so): no
 *          recipients, an address with control characters or <>, a non-
 *          ASCII address without SMTPUTF8, or larger than the server's
 *          SIZE.
 * A refusal leaves the transaction open: RSET before the next message.
 * Replies (*last and each rcpts[i].reply) must be initialised (a zeroed
 * struct will do) and are freed by the caller with smtpc_reply_free. */
int smtpc_send(struct smtpc *s, const char *from, struct smtpc_rcpt *rcpts,
               size_t nrcpt, const char *data, size_t len,
               struct smtpc_reply *last, enum net_err *err, struct buf *why);

/* Extra ESMTP parameters for smtpc_send_ex (the outbound queue passes on
 * what its own client asked for). Every field may be NULL or 0. Values are
 * xtext as RFC 3461 4 sends them: '!'..'~' without '='; anything else makes
 * the send fail up front (NET_ERR_PROTOCOL). */
struct smtpc_params {
	const char *ret;             /* DSN RET= on MAIL ("FULL" or "HDRS") */
	const char *envid;           /* DSN ENVID= on MAIL */
	const char *const *notify;   /* one DSN NOTIFY= per recipient (an entry
	                              * may be NULL), or NULL */
	const char *const *orcpt;    /* one DSN ORCPT= per recipient, or NULL */
	int smtputf8;                /* SMTPUTF8 on MAIL even when every address
	                              * is ASCII (a UTF-8 header, RFC 6531 3.4),
	                              * when the server offers it */
};

/* Where smtpc_send_ex stopped: CHECK (refused up front, nothing sent),
 * MAIL, RCPT, DATA (its reply), DOT (the data or the final reply). On
 * success (and for the 0 return) the last stage reached. */
enum smtpc_stage {
	SMTPC_STAGE_CHECK, SMTPC_STAGE_MAIL, SMTPC_STAGE_RCPT, SMTPC_STAGE_DATA,
	SMTPC_STAGE_DOT,
};

/* smtpc_send with extra parameters: the DSN ones go out only when the
 * server offers DSN (RFC 3461 4.1; else they are dropped). params may be
 * NULL (then it is smtpc_send); stage, when not NULL, says where a -1 came
 * from, so a caller can tell a refused sender from a refused message or a
 * connection lost after the data. Same returns as smtpc_send. */
int smtpc_send_ex(struct smtpc *s, const char *from, struct smtpc_rcpt *rcpts,
                  size_t nrcpt, const char *data, size_t len,
                  const struct smtpc_params *params, enum smtpc_stage *stage,
                  struct smtpc_reply *last, enum net_err *err,
                  struct buf *why);

/* RSET (to start another message after a failure). 0 or -1. */
int smtpc_rset(struct smtpc *s, struct smtpc_reply *last, enum net_err *err,
               struct buf *why);

/* Sends QUIT (reading the 221 for at most 3 seconds; nothing is sent
 * when the connection already failed), closes and frees; *s NULL. Safe
 * on NULL. */
void smtpc_quit(struct smtpc **s);

/* A reply starts with init (a zeroed struct is the same) and ends with
 * free; every function here resets the replies it is given before use. */
void smtpc_reply_init(struct smtpc_reply *r);
void smtpc_reply_free(struct smtpc_reply *r);

/* True when one of the n bytes at p is not ASCII (>= 0x80): an address
 * that needs SMTPUTF8, a body that needs 8BITMIME. */
int smtpc_has_8bit(const char *p, size_t n);

/* True when a can stand between < and > in MAIL FROM or RCPT TO: no
 * control characters, DEL or angle brackets. Says nothing about syntax. */
int smtpc_address_ok(const char *a);

#endif
