/* resolve: the forward-confirmed reverse DNS name of a client address,
 * looked up asynchronously with libevent's evdns so the event loop never
 * waits. /etc/hosts answers first (evdns does not consult it for PTR
 * queries), then the nameservers. Loop thread only. */
#ifndef POSTHORN_RESOLVE_H
#define POSTHORN_RESOLVE_H

#include <sys/socket.h>

#include "../lib/buf.h"

struct event_base;
struct resolver; /* opaque */

/* Seconds evdns waits for one answer, and how often it asks; a PTR query
 * and the confirming A/AAAA query each take at most their product. */
#define RESOLVE_TIMEOUT "1.5"
#define RESOLVE_ATTEMPTS "2"

/* A resolver on base using nameserver ("addr[:port]", "[v6]:port", as the
 * config's resolver key), or /etc/resolv.conf when nameserver is NULL;
 * /etc/hosts is read once, here. NULL with a reason appended to err. */
struct resolver *resolve_new(struct event_base *base, const char *nameserver,
                             struct buf *err);

/* Called once from the loop (never from inside resolve_peer) with the
 * confirmed name, or "" when there is none; name lives during the call. */
typedef void resolve_done_fn(void *ctx, const char *name);

/* Looks up the name of addr; session_id (copied) labels the log lines.
 * done always follows, within the evdns timeouts above, so ctx must stay
 * alive until it ran: there is no cancelling. -1 when out of memory (done
 * is not called). */
int resolve_peer(struct resolver *r, const struct sockaddr *addr,
                 const char *session_id, resolve_done_fn *done, void *ctx);

/* Frees the resolver after the loop ended. Lookups still out (only when a
 * connection was left stuck) are dropped without their done. *r becomes
 * NULL. */
void resolve_free(struct resolver **r);

#endif
