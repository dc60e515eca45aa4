/* pop3d: one POP3 server session (RFC 1939 with RFC 2449 CAPA and
 * response codes, RFC 2595 STLS, RFC 5034 SASL) as a state machine that does
 * no network I/O of its own (see lib/session.h for how it is driven), so
 * the same code serves sockets, TLS and golden dialogues on stdin/stdout.
 * Mailbox work (login, UPDATE) runs in jobs; RETR and TOP stream the
 * message in pieces as the client reads. */
#ifndef POSTHORN_POP3D_H
#define POSTHORN_POP3D_H

#include <stddef.h>

#include "../auth/throttle.h"
#include "../auth/users.h"
#include "../lib/config.h"
#include "../lib/session.h"

struct pop3d_session; /* opaque */

struct pop3d_params {
	const struct posthorn_config *cfg;   /* must outlive the session */
	const struct cfg_listener *listener; /* idem */
	const struct users *users;           /* idem (a snapshot kept alive by
	                                      * the owner across SIGHUP) */
	struct throttle *throttle;           /* failed logins per address,
	                                      * shared by the owner's sessions
	                                      * (its thread only); NULL: none */
	struct session_peer peer;
	int tls_active;                      /* implicit TLS is already on */
	const char *tls_info;                /* "TLSv1.3 ..." or NULL */
	const char *session_id;              /* for logs and the APOP
	                                      * timestamp; copied */
};

/* A new session, or NULL when out of memory. Nothing is written yet. */
struct pop3d_session *pop3d_new(const struct pop3d_params *params,
                                const struct session_io *io);

/* Writes the greeting "+OK ... <pid.clock@host>" and arms the timer. */
void pop3d_start(struct pop3d_session *s);

/* Hands the session bytes from the client; every complete command is run
 * in order and the replies queued (PIPELINING). Returns 0, or -1 once the
 * session has closed: the owner stops reading. */
int pop3d_input(struct pop3d_session *s, const char *data, size_t len);

/* Bytes received but not processed yet (held during a job or a RETR). */
size_t pop3d_buffered(const struct pop3d_session *s);

/* Output fell below SESSION_OUTPUT_LOW: a waiting RETR/TOP goes on. */
void pop3d_drained(struct pop3d_session *s);

/* The STLS handshake ended: ok nonzero means TLS is active (the session
 * is back in AUTHORIZATION, RFC 2595 4); 0 means the owner closes. */
void pop3d_tls_done(struct pop3d_session *s, int ok, const char *info);

/* The idle timer fired: -ERR, and close without deleting anything. */
void pop3d_timeout(struct pop3d_session *s);

/* The server is stopping: the session ends after the command or RETR in
 * progress, without deleting anything (RFC 1939: only QUIT does). */
void pop3d_shutdown(struct pop3d_session *s);

/* The client went away: nothing is deleted, the mailbox lock is released
 * (once an outstanding job has finished). */
void pop3d_eof(struct pop3d_session *s);

/* True while a job is outstanding (the owner must defer freeing). */
int pop3d_busy(const struct pop3d_session *s);

/* Frees the session and releases its mailbox; *s becomes NULL. */
void pop3d_free(struct pop3d_session **s);

#endif
