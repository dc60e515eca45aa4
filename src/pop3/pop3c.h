/* pop3c: the POP3 client (RFC 1939, CAPA RFC 2449, STLS RFC 2595, SASL
 * PLAIN RFC 5034, RESP-CODES) over a net connection. Used by the posthorn
 * client's fetch. Blocking. */
#ifndef POSTHORN_POP3C_H
#define POSTHORN_POP3C_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/net.h"

/* The last "-ERR" (or an unexpected answer): text without the status, and
 * the RFC 2449 response code in brackets when there was one ("IN-USE",
 * "AUTH", "SYS/TEMP", "SYS/PERM", "LOGIN-DELAY", else ""). Every call
 * clears it (and sets *err to NET_OK) first. A "-ERR" leaves *err NET_OK
 * and the session usable; a net error or a protocol violation (an answer
 * that is neither +OK nor -ERR, a message over the limit) makes it
 * unusable: later calls fail at once with NET_ERR_PROTOCOL. why gets a
 * sentence appended in every failure. */
struct pop3c_error {
	char code[32];
	struct buf text;
};

struct pop3c_caps {
	int capa;            /* the server answered CAPA */
	int stls, uidl, top, user, pipelining, sasl_plain, resp_codes;
};

/* One message of the maildrop: LIST and UIDL merged. */
struct pop3c_msg {
	unsigned long num;
	unsigned long long size;
	char uidl[71];       /* RFC 1939: 1..70 printable characters; "" when
	                      * the server has no UIDL */
};

struct pop3c; /* opaque; owns its net connection */

/* Takes over conn, reads the greeting (keeping an APOP timestamp) and asks
 * CAPA. NULL with *err (NET_ERR_PROTOCOL for a "-ERR" greeting, whose text
 * is in *e) and why; conn is closed then. */
struct pop3c *pop3c_start(struct net_conn *conn, struct pop3c_error *e,
                          enum net_err *err, struct buf *why);

const struct pop3c_caps *pop3c_caps(const struct pop3c *p);
struct net_conn *pop3c_conn(struct pop3c *p);

/* The greeting's APOP timestamp "<...>" (RFC 1939 7), or "" when it had
 * none; lives as long as p. */
const char *pop3c_timestamp(const struct pop3c *p);

/* STLS, the upgrade, and CAPA again. 0 or -1 (see smtpc for the pattern:
 * -ERR text in *e, or *err for the connection). */
int pop3c_stls(struct pop3c *p, struct pop3c_error *e, enum net_err *err,
               struct buf *why);

/* Logs in: AUTH PLAIN when offered (falling back to USER/PASS when the
 * server refuses the mechanism itself), else USER/PASS. The password never
 * reaches the transcript. 0 on +OK, -1 with the -ERR (e.g. [AUTH] or
 * [IN-USE]) in *e or the net error in *err. */
int pop3c_login(struct pop3c *p, const char *user, const char *password,
                struct pop3c_error *e, enum net_err *err, struct buf *why);

/* LIST and UIDL (when the server has it) into a new array the caller frees
 * (NULL for an empty maildrop), sorted by number; *n gets the count. A
 * malformed or duplicate line fails with NET_ERR_PROTOCOL (the session
 * stays usable). 0 or -1 (*msgs NULL, *n 0). */
int pop3c_list(struct pop3c *p, struct pop3c_msg **msgs, size_t *n,
               struct pop3c_error *e, enum net_err *err, struct buf *why);

/* RETR num: the message with dots unstuffed and CRLF line ends kept,
 * appended to out (whose max bounds it: a larger message fails with
 * NET_ERR_PROTOCOL and the connection is unusable). The body is not traced
 * line by line; a summary line is. 0 or -1. */
int pop3c_retr(struct pop3c *p, unsigned long num, struct buf *out,
               struct pop3c_error *e, enum net_err *err, struct buf *why);

/* DELE num. 0 or -1. */
int pop3c_dele(struct pop3c *p, unsigned long num, struct pop3c_error *e,
               enum net_err *err, struct buf *why);

/* QUIT: the server deletes what was marked (UPDATE state). 0 when it said
 * +OK; -1 otherwise (the deletions may not have happened). Frees *p either
 * way; *p becomes NULL. */
int pop3c_quit(struct pop3c **p, struct pop3c_error *e, enum net_err *err,
               struct buf *why);

/* Drops the connection without QUIT (no deletions happen) and frees. */
void pop3c_abort(struct pop3c **p);

void pop3c_error_init(struct pop3c_error *e);
void pop3c_error_free(struct pop3c_error *e);

#endif
