/* smtpd: one SMTP server session (RFC 5321 + ESMTP) as a state machine that
 * does no network I/O of its own. The daemon (or the --stdio runner) feeds
 * it the bytes a client sent and gives it callbacks to write replies, start
 * TLS, close, arm the idle timer and run blocking work (password checks,
 * fsync'd delivery) off the event loop. The same code therefore serves
 * sockets, TLS and golden dialogues on stdin/stdout. */
#ifndef POSTHORN_SMTPD_H
#define POSTHORN_SMTPD_H

#include <stddef.h>
#include <sys/socket.h>

#include "../auth/aliases.h"
#include "../auth/users.h"
#include "../lib/config.h"

struct smtpd_session; /* opaque */

struct smtpd_peer {
	struct sockaddr_storage addr; /* the client's address */
	socklen_t addrlen;
	char ip[64];                  /* numeric form, "" if unknown */
	char name[256];               /* reverse DNS name, "" when unknown */
	int port;
};

/* Callbacks into the owner of the connection. ctx is passed back. */
struct smtpd_io {
	void *ctx;
	/* Queue bytes for the client (replies are batched: a pipelined group
	 * of commands produces its replies in one go). */
	void (*write)(void *ctx, const void *data, size_t len);
	/* "220 2.0.0 Ready to start TLS" was written: flush it, then run the
	 * server side handshake and call smtpd_tls_done(). Unprocessed input
	 * the client sent before the handshake has been discarded by the
	 * session (RFC 3207 4.2); the owner must discard what it still holds
	 * too. NULL when TLS is impossible (--stdio). */
	void (*start_tls)(void *ctx);
	/* Flush what was written, then close. After this the session only
	 * waits for smtpd_free(). */
	void (*close)(void *ctx);
	/* Run job(arg) where blocking is fine (a worker thread; inline in
	 * --stdio), then done(arg) on the thread that drives the session. While
	 * a job is out, the owner keeps delivering input with smtpd_input (the
	 * session only buffers it) and must not free the session. */
	void (*run_job)(void *ctx, void (*job)(void *arg), void (*done)(void *arg),
	                void *arg);
	/* (Re)arm the idle timer: smtpd_timeout() after seconds of silence from
	 * the client; 0 disarms it (while a job runs). */
	void (*set_timeout)(void *ctx, int seconds);
};

struct smtpd_params {
	const struct posthorn_config *cfg;   /* must outlive the session */
	const struct cfg_listener *listener; /* idem */
	const struct users *users;           /* idem (the daemon keeps the
	                                      * snapshot a session started with
	                                      * alive across SIGHUP) */
	const struct aliases *aliases;       /* idem */
	struct smtpd_peer peer;
	int tls_active;                      /* implicit TLS is already on */
	const char *tls_info;                /* "TLSv1.3 TLS_AES_..." or NULL */
	const char *session_id;              /* for logs and the Received id;
	                                      * copied */
};

/* A new session, or NULL when out of memory. Nothing is written yet. */
struct smtpd_session *smtpd_new(const struct smtpd_params *params,
                                const struct smtpd_io *io);

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
