/* outq: the queue manager inside posthornd. It keeps every item of
 * DATA_DIR/queue in memory (what is due when, which recipients are still
 * pending, grouped by domain), notices new items through inotify, a
 * periodic rescan and SIGUSR1, and runs one delivery per (item, domain)
 * on its own worker pool: local domains into the Maildirs, others through
 * outbound_deliver. Results are written back to the envelope; failures
 * become DSNs; temporary failures are retried on the [queue] retry
 * schedule until the lifetime ends. An item leaves the queue only when
 * every recipient is delivered or bounced. A crash during a delivery
 * leaves its recipients pending, so they are delivered again after the
 * restart (a duplicate is possible; a loss is not). Loop thread only,
 * except where noted. */
#ifndef POSTHORN_OUTQ_H
#define POSTHORN_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "../lib/config.h"
#include "world.h"

struct event_base;
struct outq; /* opaque */

/* A queue manager for w's data_dir (takes a reference to w). Sweeps what
 * crashes left (queue_cleanup), reads every item, starts the inotify
 * watch, the rescan timer and queue.connections workers on base, and
 * dispatches what is due. NULL with a reason appended to err. */
struct outq *outq_new(struct event_base *base, struct world *w,
                      struct buf *err);

/* New deliveries use w (the manager takes a reference); running ones keep
 * the world they started with. A changed queue.connections needs a
 * restart (the pool keeps its size; the smaller of the two applies). */
void outq_reload(struct outq *q, struct world *w);

/* SIGUSR1 (posthornctl queue flush): rescan the directory and make every
 * item due now. */
void outq_flush(struct outq *q);

/* Stops dispatching and watching; deliveries already running go on.
 * When none is left, or limits.shutdown_timeout seconds later, the loop
 * is broken (outq_drain). */
void outq_shutdown(struct outq *q);

/* After the loop ended for the server's sake: 1 when deliveries are still
 * running, in which case the caller runs the loop again; outq breaks it
 * when the last one ends or the shutdown deadline passes. */
int outq_drain(struct outq *q);

/* Deliveries (and result jobs) running now. */
int outq_busy(const struct outq *q);

/* Frees the manager; a pool with jobs still running is left to the
 * process exit rather than joined. *q becomes NULL. */
void outq_free(struct outq **q);

/* ---- the policy, without I/O (exposed for the unit tests) ---- */

/* Seconds to wait after the attempt numbered attempts (1 = the first):
 * retry[min(attempts, nretry) - 1]. */
int outq_retry_delay(const struct cfg_queue *cfg, int attempts);

/* True when an item created at created has outlived queue.lifetime. */
int outq_expired(const struct cfg_queue *cfg, int64_t created, int64_t now);

/* True when the attempt ending now is the one that crosses
 * queue.delay_warning: its age reaches it and the previous attempt's
 * (prev, 0 = none) did not. prev < 0 means unknown (a flushed item):
 * no warning. */
int outq_warn_due(const struct cfg_queue *cfg, int64_t created, int64_t prev,
                  int64_t now);

/* When the attempt before the one due at next happened: next minus the
 * wait after attempt number attempts; 0 before the first attempt, -1
 * when unknown (next 0: flushed). */
int64_t outq_prev_attempt(const struct cfg_queue *cfg, int attempts,
                          int64_t next);

/* Received: fields in the header at the start of text[0..len) (up to the
 * blank line or len). */
size_t outq_count_received(const char *text, size_t len);

/* The domain of address, lowercased, appended to out ("" when address
 * has no '@'). 0 or -1 (memory). */
int outq_rcpt_domain(const char *address, struct buf *out);

#endif
