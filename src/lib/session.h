/* session: what every protocol session (smtpd, pop3d, later imapd) shares
 * with the code that drives it. A session does no network I/O of its own:
 * the daemon (or the --stdio runner) feeds it the client's bytes and gives
 * it these callbacks to write replies, start TLS, close, arm the idle timer
 * and run blocking work (password checks, fsync'd delivery, mailbox scans)
 * off the event loop. */
#ifndef POSTHORN_SESSION_H
#define POSTHORN_SESSION_H

#include <stddef.h>
#include <sys/socket.h>

struct session_peer {
	struct sockaddr_storage addr; /* the client's address */
	socklen_t addrlen;
	char ip[64];                  /* numeric form, "" if unknown */
	char name[256];               /* reverse DNS name, "" when unknown */
	int port;
};

/* Callbacks into the owner of the connection. ctx is passed back. */
struct session_io {
	void *ctx;
	/* Queue bytes for the client (replies are batched: a pipelined group
	 * of commands produces its replies in one go). */
	void (*write)(void *ctx, const void *data, size_t len);
	/* The reply that starts TLS was written: flush it, then run the server
	 * side handshake and call the session's tls_done. Unprocessed input the
	 * client sent before the handshake has been discarded by the session
	 * (RFC 3207 4.2, RFC 2595 4); the owner must discard what it still
	 * holds too. NULL when TLS is impossible (--stdio). */
	void (*start_tls)(void *ctx);
	/* Flush what was written, then close. After this the session only
	 * waits to be freed. */
	void (*close)(void *ctx);
	/* Run job(arg) where blocking is fine (a worker thread; inline in
	 * --stdio), then done(arg) on the thread that drives the session. While
	 * a job is out, the owner keeps delivering input (the session only
	 * buffers it) and must not free the session. */
	void (*run_job)(void *ctx, void (*job)(void *arg), void (*done)(void *arg),
	                void *arg);
	/* (Re)arm the idle timer: the session's timeout after seconds of
	 * silence from the client; 0 disarms it (while a job runs). */
	void (*set_timeout)(void *ctx, int seconds);
	/* Bytes written but not yet sent to the client. A session streaming a
	 * long reply (RETR) stops above SESSION_OUTPUT_HIGH and waits for the
	 * owner to call its drained function. NULL: writes are synchronous
	 * (--stdio, tests), nothing ever waits. */
	size_t (*pending)(void *ctx);
};

/* A streaming session writes while pending() is below this, then waits. */
#define SESSION_OUTPUT_HIGH (256 * 1024)
/* The owner calls drained once pending output has fallen below this. */
#define SESSION_OUTPUT_LOW (64 * 1024)

#endif
