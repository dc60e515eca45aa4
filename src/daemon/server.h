/* server: posthornd's listeners and the set of live connections: binding
 * (before privileges are dropped), accepting with the global and per-address
 * connection limits, reloading the world on SIGHUP, and the orderly stop of
 * SIGTERM. Loop thread only. */
#ifndef POSTHORN_SERVER_H
#define POSTHORN_SERVER_H

#include "../lib/buf.h"
#include "jobs.h"
#include "world.h"

struct event_base;
struct server; /* opaque */

/* A server for w's SMTP listeners (smtp, submission, smtps; others are
 * skipped until their protocols exist). Takes a reference to w. NULL when
 * out of memory. */
struct server *server_new(struct world *w);

/* Binds and listens on every listener (SO_REUSEADDR, IPV6_V6ONLY for v6).
 * -1 with "ADDR:PORT: cannot bind: reason" appended to err. */
int server_bind(struct server *srv, struct buf *err);

/* Starts accepting on base; blocking work goes to jobs. Logs one
 * "listening on" line per listener. -1 with a reason in err. */
int server_start(struct server *srv, struct event_base *base,
                 struct jobs *jobs, struct buf *err);

/* The world new connections get; lives while the server holds it. */
struct world *server_world(const struct server *srv);

/* Makes w (the server takes a reference) the world of new connections.
 * Open sessions keep theirs. Listener changes need a restart: they are
 * logged, and bound listeners missing from w keep their old settings. */
void server_reload(struct server *srv, struct world *w);

/* Stops accepting and asks every session to end (421 between
 * transactions). The loop is broken once all connections are gone, or
 * limits.shutdown_timeout seconds later after closing the rest. */
void server_shutdown(struct server *srv);

/* Live connections (refusals included). */
int server_connections(const struct server *srv);

/* Frees the server (listeners closed); call after the loop ended. Any
 * connection still alive (a job that never finished) is left alone.
 * *srv becomes NULL. */
void server_free(struct server **srv);

#endif
