/* smtpd: one SMTP server session (RFC 5321 + ESMTP) as a state machine that
 * does no network I/O of its own (see lib/session.h for how it is driven).
 * The same code therefore serves sockets, TLS and golden dialogues on
 * stdin/stdout. */
#ifndef POSTHORN_SMTPD_H
#define POSTHORN_SMTPD_H

#include <stddef.h>
#include <sys/socket.h>

#include "../auth/aliases.h"
#include "../auth/throttle.h"
#include "../auth/users.h"
#include "../lib/config.h"
#include "../lib/session.h"

struct smtpd_session; /* opaque */

struct smtpd_params {
	const struct posthorn_config *cfg;   /* must outlive the session */
	const struct cfg_listener *listener; /* idem */
	const struct users *users;           /* idem (the daemon keeps the
	                                      * snapshot a session started with
	                                      * alive across SIGHUP) */
	const struct aliases *aliases;       /* idem */
	struct session_peer peer;
	int tls_active;                      /* implicit TLS is already on */
	const char *tls_info;                /* "TLSv1.3 TLS_AES_..." or NULL */
	const char *session_id;              /* for logs and the Received id;
	                                      * copied */
	struct throttle *throttle;           /* failed AUTHs per address,
	                                      * shared with POP3 logins; NULL:
	                                      * only the fixed auth_delay_ms */
};

/* A new session, or NULL when out of memory. Nothing is written yet. */
struct smtpd_session *smtpd_new(const struct smtpd_params *params,
                                const struct session_io *io);

/* Writes the greeting "220 HOST ESMTP posthorn" and arms the timer. */
void smtpd_start(struct smtpd_session *s);

/* Hands the session bytes from the client; every complete command (and DATA
 * line) is processed, replies queued, in order. Returns 0, or -1 once the
 * session has closed (QUIT, 421, fatal error): the owner stops reading. */
int smtpd_input(struct smtpd_session *s, const char *data, size_t len);

/* Bytes received but not processed yet (buffered during a job). The owner
 * stops reading from the socket while this is above 256 KiB. */
size_t smtpd_buffered(const struct smtpd_session *s);

/* The TLS handshake ended: ok nonzero means TLS is active now (info like
 * "TLSv1.3 TLS_AES_256_GCM_SHA384"); the session resets to the state after
 * the greeting (RFC 3207 4.2: a new EHLO is required). ok 0: the owner
 * closes the connection. */
void smtpd_tls_done(struct smtpd_session *s, int ok, const char *info);

/* The idle timer fired: "421 4.4.2 ... timeout" and close. */
void smtpd_timeout(struct smtpd_session *s);

/* The server is stopping: sessions between transactions get "421 4.3.2
 * shutting down" now; a session in the middle of DATA or a job finishes
 * that first, then gets the 421. */
void smtpd_shutdown(struct smtpd_session *s);

/* The client went away: an unfinished message is discarded (nothing that was
 * not answered 250 is kept); logged with the session id. */
void smtpd_eof(struct smtpd_session *s);

/* True while a job is outstanding (the owner must defer freeing). */
int smtpd_busy(const struct smtpd_session *s);

/* Frees the session; *s becomes NULL. */
void smtpd_free(struct smtpd_session **s);

#endif
