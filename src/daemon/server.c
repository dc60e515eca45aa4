/* server: listeners, connection limits, reload and shutdown (see server.h).
 * Sockets are bound by hand before the event loop exists (the daemon binds,
 * forks and drops privileges first) and handed to evconnlistener later. */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "../lib/log.h"
#include "conn.h"
#include "resolve.h"

#define SERVER_BACKLOG 511
#define SERVER_ACCEPT_PAUSE 1   /* seconds without accepting after EMFILE */
#define SERVER_ABORT_GRACE 10   /* seconds for aborted sessions' jobs */

static const char reply_busy[] =
	"421 4.3.2 Too many connections, try again later\r\n";
static const char reply_busy_ip[] =
	"421 4.7.0 Too many connections from your address\r\n";
static const char reply_busy_pop3[] =
	"-ERR [SYS/TEMP] Too many connections, try again later\r\n";
static const char reply_busy_ip_pop3[] =
	"-ERR [SYS/TEMP] Too many connections from your address\r\n";

struct listener {
	struct server *srv;
	struct world *world;            /* counted; cl lives in it */
	const struct cfg_listener *cl;
	char label[80];                 /* "127.0.0.1:25", "[::1]:25" */
	int fd;                         /* -1 until bound */
	struct evconnlistener *evl;
};

struct client {
	struct client *prev, *next;
	struct server *srv;
	struct conn *conn;
	char ip[64];
	int counted;                    /* in the per-address counts */
};

struct ip_count {
	char ip[64];
	int count;
};

struct server {
	struct event_base *base;
	struct jobs *jobs;
	struct resolver *resolver;      /* NULL: clients stay nameless */
	struct throttle throttle;       /* failed logins per address */
	struct world *world;            /* counted; for new connections */
	struct listener *listeners;
	size_t nlisteners;
	struct client *clients;         /* doubly linked */
	int nclients;                   /* sessions counted against limits */
	int nlive;                      /* every live conn, refusals too */
	struct ip_count *ips;
	size_t nips, capips;
	struct event *resume;           /* re-enables accepting after EMFILE */
	struct event *stop_timer;       /* shutdown deadline */
	int stopping;                   /* 0, 1 asked, 2 aborted the rest */
};

static int server_serves(enum cfg_proto proto)
{
	return proto_for(proto) != NULL;
}

static void server_label(char *out, size_t size, const struct cfg_listener *cl)
{
	if (strchr(cl->address, ':'))
		snprintf(out, size, "[%s]:%d", cl->address, cl->port);
	else
		snprintf(out, size, "%s:%d", cl->address, cl->port);
}

struct server *server_new(struct world *w)
{
	struct server *srv = calloc(1, sizeof *srv);
	if (!srv)
		return NULL;
	srv->listeners = calloc(w->cfg.nlisteners + 1, sizeof *srv->listeners);
	if (!srv->listeners) {
		free(srv);
		return NULL;
	}
	srv->world = world_ref(w);
	for (size_t i = 0; i < w->cfg.nlisteners; i++) {
		const struct cfg_listener *cl = &w->cfg.listeners[i];
		if (!server_serves(cl->proto)) {
			log_debug(NULL, "listener %s: %s is not served yet; skipped",
			          cl->name, config_proto_name(cl->proto));
			continue;
		}
		struct listener *l = &srv->listeners[srv->nlisteners++];
		l->srv = srv;
		l->world = world_ref(w);
		l->cl = cl;
		l->fd = -1;
		server_label(l->label, sizeof l->label, cl);
	}
	return srv;
}

static int server_bind_one(struct listener *l, struct buf *err)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *ai = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", l->cl->port);
	int rc = getaddrinfo(l->cl->address, port, &hints, &ai);
	if (rc != 0) {
		buf_printf(err, "%s: bad address: %s", l->label, gai_strerror(rc));
		return -1;
	}
	int one = 1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, SERVER_BACKLOG) < 0) {
		buf_printf(err, "%s: cannot bind: %s", l->label, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	l->fd = fd;
	return 0;
}

int server_bind(struct server *srv, struct buf *err)
{
	for (size_t i = 0; i < srv->nlisteners; i++)
		if (server_bind_one(&srv->listeners[i], err) < 0)
			return -1;
	return 0;
}

struct world *server_world(const struct server *srv)
{
	return srv->world;
}

int server_connections(const struct server *srv)
{
	return srv->nlive;
}

/* ---- per-address counts ---- */

static struct ip_count *server_ip_find(struct server *srv, const char *ip)
{
	for (size_t i = 0; i < srv->nips; i++)
		if (strcmp(srv->ips[i].ip, ip) == 0)
			return &srv->ips[i];
	return NULL;
}

static int server_ip_add(struct server *srv, const char *ip)
{
	struct ip_count *e = server_ip_find(srv, ip);
	if (e) {
		e->count++;
		return 0;
	}
	if (srv->nips == srv->capips) {
		size_t cap = srv->capips ? srv->capips * 2 : 16;
		struct ip_count *p = realloc(srv->ips, cap * sizeof *p);
		if (!p)
			return -1;
		srv->ips = p;
		srv->capips = cap;
	}
	e = &srv->ips[srv->nips++];
	snprintf(e->ip, sizeof e->ip, "%s", ip);
	e->count = 1;
	return 0;
}

static void server_ip_remove(struct server *srv, const char *ip)
{
	struct ip_count *e = server_ip_find(srv, ip);
	if (e && --e->count == 0)
		*e = srv->ips[--srv->nips];
}

/* ---- connections ---- */

static void server_client_ended(void *ctx)
{
	struct client *cl = ctx;
	struct server *srv = cl->srv;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		srv->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	if (cl->counted) {
		srv->nclients--;
		server_ip_remove(srv, cl->ip);
	}
	srv->nlive--;
	free(cl);
	if (srv->stopping && srv->nlive == 0) {
		log_info(NULL, "all sessions ended");
		event_base_loopbreak(srv->base);
	}
}

static void server_peer(struct session_peer *peer, const struct sockaddr *sa,
                        socklen_t len)
{
	memset(peer, 0, sizeof *peer);
	if ((size_t)len > sizeof peer->addr)
		len = sizeof peer->addr;
	memcpy(&peer->addr, sa, (size_t)len);
	peer->addrlen = len;
	char port[16] = "0";
	if (getnameinfo(sa, len, peer->ip, sizeof peer->ip, port, sizeof port,
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		peer->ip[0] = '\0';
	peer->port = atoi(port);
}

/* Which refusal, if any, the limits call for, in the listener's
 * protocol. */
static const char *server_check_limits(struct server *srv, const char *ip,
                                       enum cfg_proto proto)
{
	const struct cfg_limits *lim = &srv->world->cfg.limits;
	int pop3 = proto_for(proto) == proto_by_name("pop3");
	if (lim->connections > 0 && srv->nclients >= lim->connections)
		return pop3 ? reply_busy_pop3 : reply_busy;
	const struct ip_count *e = server_ip_find(srv, ip);
	if (lim->connections_per_ip > 0 && e && e->count >= lim->connections_per_ip)
		return pop3 ? reply_busy_ip_pop3 : reply_busy_ip;
	return NULL;
}

static void server_on_accept(struct evconnlistener *evl, evutil_socket_t fd,
                             struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;
	(void)evl;
	struct client *cl = calloc(1, sizeof *cl);
	if (!cl || srv->stopping) {
		free(cl);
		evutil_closesocket(fd);
		return;
	}
	struct session_peer peer;
	server_peer(&peer, sa, (socklen_t)salen);
	/* Sessions write a whole batch of replies at once; Nagle would only
	 * hold the tail of a batch (the end of a RETR, a LIST) for the
	 * client's delayed ACK, 40 ms per exchange. */
	int one = 1;
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	snprintf(cl->ip, sizeof cl->ip, "%s", peer.ip);
	cl->srv = srv;
	const char *refusal = server_check_limits(srv, peer.ip, l->cl->proto);
	cl->counted = !refusal && server_ip_add(srv, peer.ip) == 0;
	struct conn_params p = {
		.base = srv->base, .jobs = srv->jobs, .world = l->world,
		.listener = l->cl, .peer = &peer, .resolver = srv->resolver,
		.throttle = &srv->throttle, .ended = server_client_ended, .ctx = cl,
	};
	if (refusal) {
		log_info(NULL, "refused [%s]:%d on %s: %.*s", peer.ip, peer.port,
		         l->label, (int)strcspn(refusal, "\r"), refusal);
		if (l->cl->tls == CFG_TLS_IMPLICIT) {
			/* A plaintext reply means nothing to a TLS client. */
			evutil_closesocket(fd);
			cl->conn = NULL;
		} else {
			cl->conn = conn_refuse(&p, fd, refusal);
		}
	} else if (cl->counted) {
		cl->conn = conn_start(&p, fd);
	} else {
		evutil_closesocket(fd);
	}
	if (!cl->conn) {
		if (cl->counted)
			server_ip_remove(srv, cl->ip);
		free(cl);
		return;
	}
	if (cl->counted)
		srv->nclients++;
	srv->nlive++;
	cl->next = srv->clients;
	if (cl->next)
		cl->next->prev = cl;
	srv->clients = cl;
}

static void server_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	for (size_t i = 0; i < srv->nlisteners && !srv->stopping; i++)
		if (srv->listeners[i].evl)
			evconnlistener_enable(srv->listeners[i].evl);
}

/* Out of descriptors: stop accepting for a moment instead of spinning. */
static void server_on_accept_error(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;
	int e = EVUTIL_SOCKET_ERROR();
	log_error(NULL, "accept on %s: %s", l->label, strerror(e));
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		evconnlistener_disable(evl);
		struct timeval tv = {SERVER_ACCEPT_PAUSE, 0};
		evtimer_add(srv->resume, &tv);
	}
}

/* The shutdown deadline: close whatever is left; after a further grace
 * for jobs that still run, stop the loop regardless. */
static void server_on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd;
	(void)what;
	if (srv->stopping == 2) {
		log_warn(NULL, "%d connections still busy; exiting anyway",
		         srv->nlive);
		event_base_loopbreak(srv->base);
		return;
	}
	srv->stopping = 2;
	log_info(NULL, "shutdown timeout: closing %d remaining connections",
	         srv->nlive);
	for (struct client *cl = srv->clients; cl; cl = cl->next)
		conn_abort(cl->conn);
	struct timeval tv = {SERVER_ABORT_GRACE, 0};
	evtimer_add(srv->stop_timer, &tv);
}

/* Without DNS the daemon still serves; Received just says "unknown". */
static void server_start_resolver(struct server *srv)
{
	struct buf why = BUF_INIT;
	const char *nameserver = srv->world->cfg.resolver;
	srv->resolver = resolve_new(srv->base, nameserver, &why);
	if (!srv->resolver)
		log_warn(NULL, "no reverse DNS names for clients: %s",
		         buf_cstr(&why) ? buf_cstr(&why) : "out of memory");
	else
		log_debug(NULL, "reverse DNS via %s", nameserver ? nameserver
		          : "/etc/resolv.conf");
	buf_free(&why);
}

int server_start(struct server *srv, struct event_base *base,
                 struct jobs *jobs, struct buf *err)
{
	srv->base = base;
	srv->jobs = jobs;
	server_start_resolver(srv);
	srv->resume = evtimer_new(base, server_on_resume, srv);
	srv->stop_timer = evtimer_new(base, server_on_stop_timer, srv);
	if (!srv->resume || !srv->stop_timer) {
		buf_puts(err, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct listener *l = &srv->listeners[i];
		l->evl = evconnlistener_new(base, server_on_accept, l,
		                            LEV_OPT_CLOSE_ON_FREE, 0, l->fd);
		if (!l->evl) {
			buf_printf(err, "%s: cannot listen: out of memory", l->label);
			return -1;
		}
		l->fd = -1; /* the evconnlistener owns it now */
		evconnlistener_set_error_cb(l->evl, server_on_accept_error);
		log_info(NULL, "listening on %s (%s, %s)", l->label,
		         config_proto_name(l->cl->proto),
		         config_tls_name(l->cl->tls));
	}
	return 0;
}

static void server_close_listeners(struct server *srv)
{
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct listener *l = &srv->listeners[i];
		if (l->evl)
			evconnlistener_free(l->evl);
		l->evl = NULL;
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
	}
}

void server_shutdown(struct server *srv)
{
	if (srv->stopping)
		return;
	srv->stopping = 1;
	server_close_listeners(srv);
	if (srv->resume)
		evtimer_del(srv->resume);
	if (srv->nlive == 0) {
		event_base_loopbreak(srv->base);
		return;
	}
	int timeout = srv->world->cfg.limits.shutdown_timeout;
	log_info(NULL, "stopping: waiting up to %d s for %d connections",
	         timeout, srv->nlive);
	for (struct client *cl = srv->clients; cl; cl = cl->next)
		conn_shutdown(cl->conn);
	struct timeval tv = {timeout > 0 ? timeout : 0, 0};
	evtimer_add(srv->stop_timer, &tv);
}

static const struct cfg_listener *server_find_listener(
	const struct posthorn_config *cfg, const struct cfg_listener *old)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct cfg_listener *cl = &cfg->listeners[i];
		if (cl->port == old->port && strcmp(cl->address, old->address) == 0 &&
		    proto_for(cl->proto) == proto_for(old->proto))
			return cl;
	}
	return NULL;
}

static int server_is_bound(const struct server *srv,
                           const struct cfg_listener *cl)
{
	for (size_t i = 0; i < srv->nlisteners; i++)
		if (srv->listeners[i].cl->port == cl->port &&
		    strcmp(srv->listeners[i].cl->address, cl->address) == 0)
			return 1;
	return 0;
}

static int server_same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

void server_reload(struct server *srv, struct world *w)
{
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct listener *l = &srv->listeners[i];
		const struct cfg_listener *cl = server_find_listener(&w->cfg, l->cl);
		if (!cl) {
			log_warn(NULL, "listener %s is gone from the config: restart "
			         "required (still serving it as before)", l->label);
			continue;
		}
		if (cl->tls != CFG_TLS_NONE && !w->tls) {
			log_warn(NULL, "listener %s: TLS unavailable; keeping its "
			         "old settings", l->label);
			continue;
		}
		world_unref(&l->world);
		l->world = world_ref(w);
		l->cl = cl;
	}
	for (size_t i = 0; i < w->cfg.nlisteners; i++) {
		const struct cfg_listener *cl = &w->cfg.listeners[i];
		if (server_serves(cl->proto) && !server_is_bound(srv, cl))
			log_warn(NULL, "new listener %s (%s:%d): restart required",
			         cl->name, cl->address, cl->port);
	}
	if (!server_same_string(srv->world->cfg.resolver, w->cfg.resolver))
		log_warn(NULL, "resolver changed: restart required (still using "
		         "%s)", srv->world->cfg.resolver ? srv->world->cfg.resolver
		         : "/etc/resolv.conf");
	world_unref(&srv->world);
	srv->world = world_ref(w);
}

void server_free(struct server **srvp)
{
	struct server *srv = *srvp;
	if (!srv)
		return;
	server_close_listeners(srv);
	for (size_t i = 0; i < srv->nlisteners; i++)
		world_unref(&srv->listeners[i].world);
	/* Connections still alive here have a job that never returned; their
	 * client records stay with them. */
	if (srv->resume)
		event_free(srv->resume);
	if (srv->stop_timer)
		event_free(srv->stop_timer);
	resolve_free(&srv->resolver);
	world_unref(&srv->world);
	free(srv->listeners);
	free(srv->ips);
	free(srv);
	*srvp = NULL;
}
