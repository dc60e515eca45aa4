/* conn: the glue between a socket and a protocol session (see conn.h).
 *
 * Ending is always deferred to the conn's tick event, so a callback from
 * inside the session's input (close, start_tls) never frees what the session is
 * still using; the same event bounds the reverse lookup, handshakes and the
 * final flush. While the client's name is looked up there is no
 * bufferevent yet: whatever the client sends early waits in the kernel. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../lib/log.h"
#include "resolve.h"
#include "tls.h"

#define CONN_READ_PAUSE (256 * 1024) /* buffered input or output: stop reading */
#define CONN_READ_CHUNK 16384
#define CONN_CLOSE_WAIT 10           /* seconds to flush before closing anyway */
#define CONN_HANDSHAKE_WAIT 30       /* seconds for a TLS handshake */
#define CONN_POLL_USEC 20000         /* re-check of a TLS filter's socket */
#define CONN_RESOLVE_WAIT 3          /* seconds the greeting waits for DNS */

enum conn_state {
	CONN_RESOLVING,      /* reverse DNS before the session (or handshake) */
	CONN_HANDSHAKE,      /* implicit TLS: handshake before the session */
	CONN_SESSION,        /* the session runs */
	CONN_STARTTLS_FLUSH, /* the plaintext 220 for STARTTLS is being sent */
	CONN_STARTTLS,       /* handshake on the TLS filter */
	CONN_CLOSING,        /* flushing (bounded by deadline), then freed */
};

struct conn {
	struct event_base *base;
	struct jobs *jobs;
	struct world *world;           /* counted reference */
	const struct cfg_listener *listener;
	struct bufferevent *bev;       /* top of the stack: TLS or the socket;
	                                * NULL while resolving */
	evutil_socket_t fd;
	void *session;                 /* NULL before an implicit handshake */
	const struct proto_ops *ops;   /* the session's protocol */
	struct throttle *throttle;
	struct session_io io;          /* the session keeps a pointer to it */
	struct event *idle;            /* the session's idle timer */
	struct event *tick;            /* deferred ending, deadlines, polling */
	struct event *watch;           /* resolving: did the client leave? */
	struct session_peer peer;
	char id[16];
	enum conn_state state;
	struct timeval deadline;       /* end of a flush or a STARTTLS wait */
	int jobs_out;                  /* jobs submitted, done() not yet run */
	int lookup_out;                /* resolve_peer's done not yet run */
	int implicit_tls;              /* handshake once the name is known */
	int reading_paused;
	int session_closed;            /* io->close was called */
	int eof_told;                  /* the session's eof was called */
	void (*ended)(void *ctx);
	void *ctx;
};

static void conn_on_read(struct bufferevent *bev, void *arg);
static void conn_on_write(struct bufferevent *bev, void *arg);
static void conn_on_event(struct bufferevent *bev, short what, void *arg);
static void conn_proceed(struct conn *c);

/* 12 random hex digits: unique enough for logs and spool names. */
void conn_make_id(char *out, size_t size)
{
	unsigned char r[6] = {0};
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		static unsigned counter;
		unsigned long long t = (unsigned long long)time(NULL);
		memcpy(r, &t, 4);
		counter++;
		memcpy(r + 4, &counter, 2);
	}
	snprintf(out, size, "%02x%02x%02x%02x%02x%02x",
	         r[0], r[1], r[2], r[3], r[4], r[5]);
}

static void conn_after(struct timeval *tv, long sec, long usec)
{
	tv->tv_sec = sec;
	tv->tv_usec = usec;
}

/* Deadlines use the monotonic clock, immune to the wall clock jumping. */
static void conn_now(struct timeval *tv)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
}

static void conn_set_deadline(struct conn *c, long seconds)
{
	struct timeval now, wait;
	conn_now(&now);
	conn_after(&wait, seconds, 0);
	timeradd(&now, &wait, &c->deadline);
}

/* Arms the tick for what is left until the deadline. */
static void conn_tick_at_deadline(struct conn *c)
{
	struct timeval now, left;
	conn_now(&now);
	if (timercmp(&now, &c->deadline, <))
		timersub(&c->deadline, &now, &left);
	else
		conn_after(&left, 0, 0);
	evtimer_add(c->tick, &left);
}

static int conn_past(const struct conn *c)
{
	struct timeval now;
	conn_now(&now);
	return !timercmp(&now, &c->deadline, <);
}

static size_t conn_output_len(const struct conn *c, size_t *below)
{
	struct bufferevent *under = bufferevent_get_underlying(c->bev);
	*below = under ? evbuffer_get_length(bufferevent_get_output(under)) : 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static int conn_busy(const struct conn *c)
{
	return c->jobs_out > 0 || c->lookup_out ||
	       (c->session && c->ops->busy(c->session));
}

/* Reads the socket's unread bytes so close() sends FIN, not a reset that
 * could destroy the last reply before the client read it. */
static void conn_drain_socket(evutil_socket_t fd)
{
	char junk[4096];
	for (int i = 0; i < 16; i++)
		if (recv(fd, junk, sizeof junk, MSG_DONTWAIT) <= 0)
			break;
}

static void conn_destroy(struct conn *c)
{
	event_free(c->idle);
	event_free(c->tick);
	if (c->watch)
		event_free(c->watch);
	if (c->session)
		c->ops->destroy(&c->session);
	if (c->fd >= 0)
		conn_drain_socket(c->fd);
	if (c->bev)
		bufferevent_free(c->bev); /* closes fd */
	else if (c->fd >= 0)
		evutil_closesocket(c->fd);
	log_debug(c->id, "connection closed");
	world_unref(&c->world);
	void (*ended)(void *) = c->ended;
	void *ctx = c->ctx;
	free(c);
	if (ended)
		ended(ctx);
}

/* Starts ending the connection from the loop (never from inside a session
 * call): flush up to CONN_CLOSE_WAIT seconds, or not at all. */
static void conn_end(struct conn *c, int flush)
{
	if (c->state != CONN_CLOSING || !flush)
		conn_set_deadline(c, flush ? CONN_CLOSE_WAIT : 0);
	c->state = CONN_CLOSING;
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ);
	if (c->watch)
		event_del(c->watch);
	if (!c->bev && c->fd >= 0) {
		/* Nothing was said yet: let the socket go now rather than when
		 * an outstanding lookup ends. */
		conn_drain_socket(c->fd);
		evutil_closesocket(c->fd);
		c->fd = -1;
	}
	evtimer_del(c->idle);
	event_active(c->tick, EV_TIMEOUT, 0);
}

/* CLOSING: frees the connection once no job is out and the output is
 * flushed (or deadline passed); otherwise waits for write or tick. */
static void conn_check_closed(struct conn *c)
{
	if (conn_busy(c))
		return; /* the job's completion checks again */
	if (c->session && !c->session_closed && !c->eof_told) {
		c->eof_told = 1;
		c->ops->eof(c->session);
	}
	size_t below = 0;
	size_t top = c->bev ? conn_output_len(c, &below) : 0;
	if ((top || below) && !conn_past(c)) {
		struct timeval poll;
		conn_after(&poll, 0, CONN_POLL_USEC);
		if (top)
			conn_tick_at_deadline(c); /* the write callback comes first */
		else
			evtimer_add(c->tick, &poll);
		return;
	}
	conn_destroy(c);
}

/* Stops reading while the session or the output holds too much. */
static void conn_update_reading(struct conn *c)
{
	if (c->state != CONN_SESSION)
		return;
	size_t below = 0;
	int pause = c->ops->buffered(c->session) > CONN_READ_PAUSE ||
	            conn_output_len(c, &below) + below > CONN_READ_PAUSE;
	if (pause && !c->reading_paused)
		bufferevent_disable(c->bev, EV_READ);
	else if (!pause && c->reading_paused)
		bufferevent_enable(c->bev, EV_READ);
	c->reading_paused = pause;
}

/* ---- session_io callbacks ---- */

static void conn_io_write(void *ctx, const void *data, size_t len)
{
	struct conn *c = ctx;
	if (bufferevent_write(c->bev, data, len) < 0) {
		log_error(c->id, "out of memory queueing a reply; closing");
		conn_end(c, 0);
	}
}

/* Only what the session wrote and the transport has not taken yet: below
 * a STARTTLS filter the socket's buffer is bounded by its write watermark
 * (conn_install_tls), and the write callback that calls drained comes
 * from this top buffer. */
static size_t conn_io_pending(void *ctx)
{
	struct conn *c = ctx;
	return c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

static void conn_io_close(void *ctx)
{
	struct conn *c = ctx;
	c->session_closed = 1;
	conn_end(c, 1);
}

/* The 220 was queued: stop reading, forget what the client sent before the
 * handshake, and put the filter on once the 220 left in plaintext. */
static void conn_io_start_tls(void *ctx)
{
	struct conn *c = ctx;
	if (c->state != CONN_SESSION)
		return;
	c->state = CONN_STARTTLS_FLUSH;
	bufferevent_disable(c->bev, EV_READ);
	struct evbuffer *in = bufferevent_get_input(c->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	conn_set_deadline(c, CONN_HANDSHAKE_WAIT);
	conn_tick_at_deadline(c);
	size_t below = 0;
	if (conn_output_len(c, &below) == 0)
		event_active(c->tick, EV_TIMEOUT, 0);
}

struct conn_job {
	struct conn *conn;
	void (*job)(void *arg);
	void (*done)(void *arg);
	void *arg;
};

static void conn_job_run(void *arg)
{
	struct conn_job *j = arg;
	j->job(j->arg);
}

/* On the loop thread: the session's completion, then whatever waited. */
static void conn_job_done(void *arg)
{
	struct conn_job *j = arg;
	struct conn *c = j->conn;
	c->jobs_out--;
	j->done(j->arg);
	free(j);
	if (c->state == CONN_CLOSING)
		conn_check_closed(c);
	else
		conn_update_reading(c);
}

static void conn_io_run_job(void *ctx, void (*job)(void *arg),
                            void (*done)(void *arg), void *arg)
{
	struct conn *c = ctx;
	struct conn_job *j = malloc(sizeof *j);
	if (j) {
		*j = (struct conn_job){c, job, done, arg};
		if (jobs_submit(c->jobs, conn_job_run, conn_job_done, j) == 0) {
			c->jobs_out++;
			return;
		}
		free(j);
	}
	log_error(c->id, "out of memory queueing a job; running it inline");
	job(arg);
	done(arg);
}

static void conn_io_set_timeout(void *ctx, int seconds)
{
	struct conn *c = ctx;
	if (seconds > 0 && c->state != CONN_CLOSING) {
		struct timeval tv;
		conn_after(&tv, seconds, 0);
		evtimer_add(c->idle, &tv);
	} else {
		evtimer_del(c->idle);
	}
}

static void conn_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->state == CONN_SESSION && c->session)
		c->ops->timeout(c->session);
}

/* ---- the session ---- */

static void conn_begin_session(struct conn *c, const char *tls_info)
{
	c->io = (struct session_io){
		.ctx = c,
		.write = conn_io_write,
		.start_tls = c->world->tls && !tls_info ? conn_io_start_tls : NULL,
		.close = conn_io_close,
		.run_job = conn_io_run_job,
		.set_timeout = conn_io_set_timeout,
		.pending = conn_io_pending,
	};
	struct proto_start ps = {
		.world = c->world,
		.listener = c->listener,
		.peer = c->peer,
		.tls_info = tls_info,
		.session_id = c->id,
		.throttle = c->throttle,
	};
	c->state = CONN_SESSION;
	c->session = c->ops->create(&ps, &c->io);
	if (!c->session) {
		log_error(c->id, "out of memory starting a session");
		conn_end(c, 0);
		return;
	}
	c->ops->start(c->session);
}

static const char *conn_tls_info(struct conn *c, char *out, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	if (!ssl)
		return NULL;
	tls_describe(ssl, out, size);
	return out;
}

/* STARTTLS: the 220 is on the wire; layer TLS over the socket. */
static void conn_install_tls(struct conn *c)
{
	SSL *ssl = SSL_new(c->world->tls);
	struct bufferevent *tls = NULL;
	if (ssl)
		tls = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
		        BUFFEREVENT_SSL_ACCEPTING,
		        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!tls) {
		if (ssl)
			SSL_free(ssl);
		log_error(c->id, "cannot start TLS: out of memory");
		c->ops->tls_done(c->session, 0, NULL);
		conn_end(c, 0);
		return;
	}
	/* The filter encrypts only while the socket holds less than this, so
	 * a streaming reply waits in the top buffer where pending() sees it. */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, SESSION_OUTPUT_HIGH);
	c->bev = tls;
	c->state = CONN_STARTTLS;
	bufferevent_setcb(tls, conn_on_read, conn_on_write, conn_on_event, c);
	bufferevent_setwatermark(tls, EV_WRITE, SESSION_OUTPUT_LOW, 0);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	struct timeval wait;
	conn_after(&wait, CONN_HANDSHAKE_WAIT, 0);
	evtimer_add(c->tick, &wait);
}

/* ---- bufferevent callbacks ---- */

/* Feeds everything the client sent to the session, in chunks copied out
 * of the buffer so the session may drain it (STARTTLS) meanwhile. */
static void conn_on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char chunk[CONN_READ_CHUNK];
	while (c->state == CONN_SESSION) {
		int n = evbuffer_remove(in, chunk, sizeof chunk);
		if (n <= 0)
			break;
		if (c->ops->input(c->session, chunk, (size_t)n) < 0)
			break;
	}
	if (c->state != CONN_SESSION)
		evbuffer_drain(in, evbuffer_get_length(in));
	conn_update_reading(c);
}

static void conn_on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (c->state == CONN_STARTTLS_FLUSH) {
		conn_install_tls(c);
	} else if (c->state == CONN_CLOSING) {
		conn_check_closed(c);
	} else {
		if (c->state == CONN_SESSION && c->session && c->ops->drained &&
		    !c->session_closed)
			c->ops->drained(c->session);
		if (c->state == CONN_SESSION)
			conn_update_reading(c);
	}
}

/* Handshake failures are worth an info line; a client that just went away
 * is the session's to report (its eof), so that is debug only. */
static void conn_log_failure(struct conn *c, short what)
{
	unsigned long ssl_error = bufferevent_get_openssl_error(c->bev);
	int handshake = c->state == CONN_HANDSHAKE || c->state == CONN_STARTTLS;
	enum log_level level = handshake ? LOG_LVL_INFO : LOG_LVL_DEBUG;
	const char *stage = handshake ? "TLS handshake failed" : "connection lost";
	int err = EVUTIL_SOCKET_ERROR();
	if (ssl_error)
		log_msg(level, c->id, "%s: %s", stage,
		        ERR_reason_error_string(ssl_error));
	else if ((what & BEV_EVENT_ERROR) && err)
		log_msg(level, c->id, "%s: %s", stage, strerror(err));
	else
		log_msg(level, c->id, "%s: closed by the client", stage);
	while (bufferevent_get_openssl_error(c->bev))
		;
}

static void conn_on_connected(struct conn *c)
{
	char info[128];
	evtimer_del(c->tick);
	const char *tls = conn_tls_info(c, info, sizeof info);
	log_debug(c->id, "TLS established: %s", tls ? tls : "?");
	if (c->state == CONN_HANDSHAKE) {
		conn_begin_session(c, tls);
	} else if (c->state == CONN_STARTTLS) {
		c->state = CONN_SESSION;
		c->reading_paused = 0;
		c->ops->tls_done(c->session, 1, tls);
		conn_update_reading(c);
	}
}

static void conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		conn_on_connected(c);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	conn_log_failure(c, what);
	switch (c->state) {
	case CONN_RESOLVING: /* no bufferevent yet */
	case CONN_HANDSHAKE:
		conn_end(c, 0);
		break;
	case CONN_STARTTLS_FLUSH:
	case CONN_STARTTLS:
		c->ops->tls_done(c->session, 0, NULL);
		conn_end(c, 0);
		break;
	case CONN_SESSION:
		/* A half-closed client may still read the replies it is owed. */
		conn_end(c, !(what & BEV_EVENT_ERROR));
		break;
	case CONN_CLOSING:
		if (what & BEV_EVENT_ERROR)
			conn_end(c, 0);
		break;
	}
}

static void conn_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	size_t below = 0;
	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_RESOLVING:
		log_info(c->id, "reverse lookup of [%s] timed out", c->peer.ip);
		conn_proceed(c);
		break;
	case CONN_HANDSHAKE:
		log_info(c->id, "TLS handshake timed out");
		conn_end(c, 0);
		break;
	case CONN_STARTTLS_FLUSH:
		if (conn_output_len(c, &below) == 0) {
			conn_install_tls(c);
			break;
		}
		if (!conn_past(c)) {
			conn_tick_at_deadline(c); /* the write callback comes first */
			break;
		}
		/* fall through - the client never read the 220 */
	case CONN_STARTTLS:
		log_info(c->id, "TLS handshake timed out");
		c->ops->tls_done(c->session, 0, NULL);
		conn_end(c, 0);
		break;
	case CONN_SESSION:
		break;
	case CONN_CLOSING:
		conn_check_closed(c);
		break;
	}
}

/* ---- life cycle ---- */

static struct conn *conn_alloc(const struct conn_params *p, evutil_socket_t fd)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->base = p->base;
	c->jobs = p->jobs;
	c->listener = p->listener;
	c->ops = proto_for(p->listener->proto);
	c->throttle = p->throttle;
	c->fd = fd;
	c->peer = *p->peer;
	c->ended = p->ended;
	c->ctx = p->ctx;
	conn_make_id(c->id, sizeof c->id);
	c->idle = evtimer_new(p->base, conn_on_idle, c);
	c->tick = evtimer_new(p->base, conn_on_tick, c);
	if (!c->idle || !c->tick) {
		if (c->idle)
			event_free(c->idle);
		if (c->tick)
			event_free(c->tick);
		free(c);
		return NULL;
	}
	c->world = world_ref(p->world);
	return c;
}

static struct bufferevent *conn_new_bufferevent(struct conn *c, int tls)
{
	const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	if (!tls)
		return bufferevent_socket_new(c->base, c->fd, opts);
	SSL *ssl = SSL_new(c->world->tls);
	if (!ssl)
		return NULL;
	struct bufferevent *bev = bufferevent_openssl_socket_new(c->base, c->fd,
	                ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
	if (!bev)
		SSL_free(ssl);
	return bev;
}

/* Puts the bufferevent (plain or TLS) on the socket and starts reading.
 * -1 when out of memory. */
static int conn_attach(struct conn *c, int tls)
{
	c->bev = conn_new_bufferevent(c, tls);
	if (!c->bev)
		return -1;
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	/* A streaming reply is refilled while the kernel still has data to
	 * send, not after the buffer ran dry. */
	bufferevent_setwatermark(c->bev, EV_WRITE, SESSION_OUTPUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

static struct conn *conn_open(const struct conn_params *p, evutil_socket_t fd,
                              int tls)
{
	struct conn *c = conn_alloc(p, fd);
	if (!c || conn_attach(c, tls) < 0) {
		log_error(NULL, "out of memory accepting a connection from %s",
		          p->peer->ip);
		if (c) {
			c->ended = NULL;
			c->fd = -1; /* closed below */
			conn_destroy(c);
		}
		evutil_closesocket(fd);
		return NULL;
	}
	return c;
}

/* The name is known or given up on: the handshake, or the session. */
static void conn_proceed(struct conn *c)
{
	evtimer_del(c->tick);
	if (c->watch) {
		event_free(c->watch);
		c->watch = NULL;
	}
	if (conn_attach(c, c->implicit_tls) < 0) {
		log_error(c->id, "out of memory setting up the connection");
		conn_end(c, 0);
		return;
	}
	if (c->implicit_tls) {
		c->state = CONN_HANDSHAKE;
		struct timeval wait;
		conn_after(&wait, CONN_HANDSHAKE_WAIT, 0);
		evtimer_add(c->tick, &wait);
	} else {
		conn_begin_session(c, NULL);
	}
}

/* A late answer (the deadline passed) is dropped; the conn only waited
 * for it so that this call never finds it freed. */
static void conn_on_resolved(void *ctx, const char *name)
{
	struct conn *c = ctx;
	c->lookup_out = 0;
	if (c->state == CONN_RESOLVING) {
		snprintf(c->peer.name, sizeof c->peer.name, "%s", name);
		if (*name)
			log_debug(c->id, "reverse name: %s", name);
		conn_proceed(c);
	} else if (c->state == CONN_CLOSING) {
		conn_check_closed(c);
	}
}

/* Resolving: a client that hangs up is let go at once; one that talks
 * before the greeting is left for the session to judge (its bytes stay
 * in the kernel), so the watch ends there. */
static void conn_on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char byte;
	(void)what;
	ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(c->watch, NULL);
		return;
	}
	if (n > 0)
		return;
	log_info(c->id, "client left during the reverse lookup");
	conn_end(c, 0);
}

/* Starts the reverse lookup, bounded by CONN_RESOLVE_WAIT, and the watch
 * on the socket. -1 when there is no resolver or no memory. */
static int conn_resolve(struct conn *c, struct resolver *r)
{
	if (!r)
		return -1;
	c->watch = event_new(c->base, c->fd, EV_READ, conn_on_watch, c);
	if (!c->watch || event_add(c->watch, NULL) < 0 ||
	    resolve_peer(r, (struct sockaddr *)&c->peer.addr, c->id,
	                 conn_on_resolved, c) < 0)
		return -1; /* conn_proceed frees the watch */
	c->lookup_out = 1;
	struct timeval wait;
	conn_after(&wait, CONN_RESOLVE_WAIT, 0);
	evtimer_add(c->tick, &wait);
	return 0;
}

struct conn *conn_start(const struct conn_params *p, evutil_socket_t fd)
{
	struct conn *c = conn_alloc(p, fd);
	if (!c) {
		log_error(NULL, "out of memory accepting a connection from %s",
		          p->peer->ip);
		evutil_closesocket(fd);
		return NULL;
	}
	c->implicit_tls = p->listener->tls == CFG_TLS_IMPLICIT && p->world->tls;
	log_info(c->id, "connection from [%s]:%d to %s (%s%s)", c->peer.ip,
	         c->peer.port, c->listener->name,
	         config_proto_name(c->listener->proto),
	         c->implicit_tls ? ", TLS" : "");
	c->state = CONN_RESOLVING;
	if (conn_resolve(c, p->resolver) < 0)
		conn_proceed(c);
	return c;
}

struct conn *conn_refuse(const struct conn_params *p, evutil_socket_t fd,
                         const char *reply)
{
	struct conn *c = conn_open(p, fd, 0);
	if (!c)
		return NULL;
	c->session_closed = 1;
	bufferevent_write(c->bev, reply, strlen(reply));
	conn_end(c, 1);
	return c;
}

void conn_shutdown(struct conn *c)
{
	switch (c->state) {
	case CONN_SESSION:
		if (!c->session_closed)
			c->ops->shutdown(c->session);
		break;
	case CONN_RESOLVING:
	case CONN_HANDSHAKE:
	case CONN_STARTTLS_FLUSH:
	case CONN_STARTTLS:
		conn_abort(c);
		break;
	case CONN_CLOSING:
		break;
	}
}

void conn_abort(struct conn *c)
{
	if (c->state == CONN_STARTTLS_FLUSH || c->state == CONN_STARTTLS)
		c->ops->tls_done(c->session, 0, NULL);
	conn_end(c, 0);
}
