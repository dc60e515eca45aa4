/* jobs: worker threads with one queue in and one queue out (see jobs.h).
 * Workers never see a session: they run the job's own function, and the
 * completion list is emptied by an event on the loop thread. */
#include "jobs.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "../lib/log.h"

#define JOBS_DEFAULT_THREADS 4
#define JOBS_MAX_THREADS 64

struct job {
	struct job *next;
	void (*run)(void *arg);
	void (*done)(void *arg);
	void *arg;
};

struct job_list {
	struct job *head;
	struct job *tail;
};

struct jobs {
	pthread_mutex_t lock;
	pthread_cond_t wake;          /* a job was queued, or stopping */
	struct job_list queued;       /* waiting for a worker */
	struct job_list finished;     /* waiting for done() on the loop */
	struct event *finished_event; /* made active by workers */
	int outstanding;              /* loop thread only */
	int stopping;
	pthread_t *threads;
	int nthreads;
};

static void job_list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *job_list_pop(struct job_list *l)
{
	struct job *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
	}
	return j;
}

static void *jobs_worker(void *arg)
{
	struct jobs *pool = arg;
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct job *j = job_list_pop(&pool->queued);
		if (!j) {
			if (pool->stopping)
				break;
			pthread_cond_wait(&pool->wake, &pool->lock);
			continue;
		}
		pthread_mutex_unlock(&pool->lock);
		j->run(j->arg);
		pthread_mutex_lock(&pool->lock);
		job_list_push(&pool->finished, j);
		event_active(pool->finished_event, EV_READ, 0);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* On the loop thread: every finished job's done(), in completion order. */
static void jobs_on_finished(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *pool = arg;
	(void)fd;
	(void)what;
	pthread_mutex_lock(&pool->lock);
	struct job *j = pool->finished.head;
	pool->finished.head = pool->finished.tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	while (j) {
		struct job *next = j->next;
		pool->outstanding--;
		j->done(j->arg);
		free(j);
		j = next;
	}
}

/* Workers block every signal so the loop thread alone handles them.
 * Returns the number of threads started. */
static int jobs_start_threads(struct jobs *pool, int wanted)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int started = 0;
	while (started < wanted) {
		int rc = pthread_create(&pool->threads[started], NULL,
		                        jobs_worker, pool);
		if (rc != 0) {
			log_error(NULL, "cannot start a worker thread: %s",
			          strerror(rc));
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return started;
}

struct jobs *jobs_new(struct event_base *base, int threads)
{
	if (threads <= 0)
		threads = JOBS_DEFAULT_THREADS;
	if (threads > JOBS_MAX_THREADS)
		threads = JOBS_MAX_THREADS;
	struct jobs *pool = calloc(1, sizeof *pool);
	if (!pool)
		return NULL;
	pool->threads = calloc((size_t)threads, sizeof *pool->threads);
	pool->finished_event = event_new(base, -1, 0, jobs_on_finished, pool);
	if (!pool->threads || !pool->finished_event) {
		free(pool->threads);
		if (pool->finished_event)
			event_free(pool->finished_event);
		free(pool);
		return NULL;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pool->nthreads = jobs_start_threads(pool, threads);
	if (pool->nthreads == 0) {
		jobs_free(&pool);
		return NULL;
	}
	return pool;
}

int jobs_submit(struct jobs *pool, void (*run)(void *arg),
                void (*done)(void *arg), void *arg)
{
	struct job *j = malloc(sizeof *j);
	if (!j)
		return -1;
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&pool->lock);
	job_list_push(&pool->queued, j);
	pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	pool->outstanding++;
	return 0;
}

int jobs_outstanding(const struct jobs *pool)
{
	return pool->outstanding;
}

void jobs_free(struct jobs **poolp)
{
	struct jobs *pool = *poolp;
	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	struct job *j;
	while ((j = job_list_pop(&pool->finished)))
		free(j);
	event_free(pool->finished_event);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool);
	*poolp = NULL;
}
