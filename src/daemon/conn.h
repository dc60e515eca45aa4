/* conn: one client connection of posthornd. It owns the bufferevent (plain,
 * implicit TLS, or a TLS filter put on top by STARTTLS), the SMTP or POP3
 * session
 * fed from it, the session's idle timer, its outstanding jobs and reverse
 * DNS lookup, and a reference to the world the session started with. Loop
 * thread only. */
#ifndef POSTHORN_CONN_H
#define POSTHORN_CONN_H

#include <stddef.h>

#include <event2/util.h>

#include "../lib/config.h"
#include "../auth/throttle.h"
#include "../lib/session.h"
#include "proto.h"
#include "jobs.h"
#include "resolve.h"
#include "world.h"

struct event_base;
struct conn; /* opaque */

struct conn_params {
	struct event_base *base;
	struct jobs *jobs;
	struct world *world;                 /* the conn takes a reference */
	const struct cfg_listener *listener; /* inside world->cfg */
	const struct session_peer *peer;       /* copied; its name is filled in */
	struct resolver *resolver;           /* NULL: no reverse lookup; else
	                                      * must outlive the conn */
	struct throttle *throttle;           /* failed logins per address;
	                                      * must outlive the conn */
	/* Called once, from the loop, when the connection has been freed. */
	void (*ended)(void *ctx);
	void *ctx;
};

/* Writes a new random session id (12 hex digits) into out. */
void conn_make_id(char *out, size_t size);

/* Serves the accepted socket fd (nonblocking): looks up the client's
 * reverse name (at most a few seconds), then the greeting, or the
 * handshake on an implicit TLS listener. NULL when out of memory (fd is
 * closed, ended is not called). */
struct conn *conn_start(const struct conn_params *p, evutil_socket_t fd);

/* Writes reply (a complete "421 ...\r\n") to fd and closes it once that is
 * flushed or a few seconds passed; no session is created. NULL as above. */
struct conn *conn_refuse(const struct conn_params *p, evutil_socket_t fd,
                         const char *reply);

/* The server is stopping: the session says 421 when it is between
 * transactions (its shutdown) and then closes. */
void conn_shutdown(struct conn *c);

/* Closes without waiting for anything but an outstanding job; ended
 * follows from the loop. */
void conn_abort(struct conn *c);

#endif
