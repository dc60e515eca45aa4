/* jobs: a small pool of worker threads for the blocking work of sessions
 * (yescrypt password checks, fsync'd delivery). A job runs on a worker; its
 * completion is handed back to the event loop, so done() always runs on the
 * thread that drives the sessions and may touch them freely. */
#ifndef POSTHORN_JOBS_H
#define POSTHORN_JOBS_H

struct event_base;
struct jobs; /* opaque */

/* Starts threads workers (0 means the default, 4) that hand completions to
 * base. base must have been created after evthread_use_pthreads(). NULL
 * when threads or memory cannot be had. */
struct jobs *jobs_new(struct event_base *base, int threads);

/* Queues run(arg) for a worker; done(arg) follows on the loop thread once
 * run returned. arg belongs to the caller throughout. 0, or -1 when out of
 * memory (nothing queued). */
int jobs_submit(struct jobs *pool, void (*run)(void *arg),
                void (*done)(void *arg), void *arg);

/* Jobs queued or running and not yet done(). */
int jobs_outstanding(const struct jobs *pool);

/* Lets the queue run dry, joins the workers and frees the pool; *pool
 * becomes NULL. done() is not called for jobs that finish during the call,
 * so call it when jobs_outstanding() is 0. */
void jobs_free(struct jobs **pool);

#endif
