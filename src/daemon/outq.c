/* outq: the queue manager (see outq.h). The loop thread owns the memory
 * picture of the queue and decides what runs; workers do everything that
 * waits: DNS, SMTP, Maildir delivery and every envelope write (fsync).
 *
 * An item's attempt is a "round": when its next time comes, each domain
 * with pending recipients becomes a delivery job (as the connection
 * limits allow); each job applies its own results to the envelope; when
 * the last one is done, a finish job sets the next attempt (or bounces at
 * the end of the lifetime, or removes the item when nothing is pending).
 * Reading the small queue directory (start, rescans, inotify) happens on
 * the loop thread. */
#include "outq.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "../auth/aliases.h"
#include "../lib/fs.h"
#include "../lib/log.h"
#include "../msg/dotstuff.h"
#include "../smtp/deliver.h"
#include "../smtp/outbound.h"
#include "../store/bounce.h"
#include "../store/queue.h"
#include "../store/spool.h"
#include "jobs.h"

/* The header is searched for Received: fields this far (a loop check,
 * not a parse: a header that long is itself suspicious). */
#define OUTQ_HEADER_MAX (64 * 1024)
/* jobs.c starts at most this many workers. */
#define OUTQ_MAX_THREADS 64
#define OUTQ_INOTIFY_BUF 4096

/* ---- the policy ---- */

int outq_retry_delay(const struct cfg_queue *cfg, int attempts)
{
	if (cfg->nretry == 0)
		return 60;
	size_t i = attempts < 1 ? 0 : (size_t)attempts - 1;
	if (i >= cfg->nretry)
		i = cfg->nretry - 1;
	return cfg->retry[i];
}

int outq_expired(const struct cfg_queue *cfg, int64_t created, int64_t now)
{
	return now - created >= (int64_t)cfg->lifetime;
}

int outq_warn_due(const struct cfg_queue *cfg, int64_t created, int64_t prev,
                  int64_t now)
{
	int64_t w = cfg->delay_warning;
	if (w <= 0 || prev < 0 || now - created < w)
		return 0;
	return prev == 0 || prev - created < w;
}

int64_t outq_prev_attempt(const struct cfg_queue *cfg, int attempts,
                          int64_t next)
{
	if (attempts <= 0)
		return 0;
	if (next <= 0)
		return -1;
	return next - outq_retry_delay(cfg, attempts);
}

size_t outq_count_received(const char *text, size_t len)
{
	size_t count = 0;
	for (size_t i = 0; i < len;) {
		const char *line = text + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		size_t body = n > 0 && line[n - 1] == '\r' ? n - 1 : n;
		if (body == 0)
			break; /* the blank line ending the header */
		if (body >= 9 && strncasecmp(line, "Received:", 9) == 0)
			count++;
		else if (body > 8 && strncasecmp(line, "Received", 8) == 0) {
			size_t k = 8;
			while (k < body && (line[k] == ' ' || line[k] == '\t'))
				k++;
			count += k < body && line[k] == ':';
		}
		i += n + (nl ? 1 : 0);
	}
	return count;
}

int outq_rcpt_domain(const char *address, struct buf *out)
{
	const char *at = strrchr(address, '@');
	if (!at)
		return buf_cstr(out) ? 0 : -1;
	for (const char *c = at + 1; *c; c++)
		if (buf_putc(out, (char)tolower((unsigned char)*c)) < 0)
			return -1;
	return buf_cstr(out) ? 0 : -1;
}

/* ---- the memory picture ---- */

struct outq_group {
	char *domain;        /* lowercase; owned */
	int todo;            /* to be delivered in the current round */
	int busy;            /* its delivery is running */
};

struct outq_item {
	char *id;            /* owned */
	int64_t created;
	int64_t next;        /* next attempt; 0 = now */
	int attempts;
	struct outq_group *groups;  /* domains with pending recipients */
	size_t ngroups;
	int in_round;        /* groups are being delivered */
	int64_t round_prev;  /* the previous attempt's time (outq_prev_attempt) */
	int busy;            /* jobs running for it (deliveries, finish) */
	int gone;            /* no longer on disk: dropped when not busy */
	pthread_mutex_t lock;  /* serialises envelope updates by workers */
};

struct domain_count {
	char *domain;
	int count;
};

struct outq {
	struct event_base *base;
	struct world *world;             /* counted */
	struct jobs *pool;
	int threads;
	struct outq_item **items;
	size_t nitems, capitems;
	struct domain_count *domains;    /* busy deliveries per domain */
	size_t ndomains, capdomains;
	int running;                     /* deliveries running */
	int jobs;                        /* every job not yet done() */
	int inotify_fd;
	struct event *inotify_ev;
	struct event *scan_timer;
	struct event *due_timer;
	struct event *stop_timer;
	int stopping;
	int draining;
};

static void outq_dispatch(struct outq *q);
static void outq_on_stop_timer(evutil_socket_t fd, short what, void *arg);

static void outq_groups_free(struct outq_item *it)
{
	for (size_t i = 0; i < it->ngroups; i++)
		free(it->groups[i].domain);
	free(it->groups);
	it->groups = NULL;
	it->ngroups = 0;
}

static void outq_item_free(struct outq_item *it)
{
	if (!it)
		return;
	outq_groups_free(it);
	pthread_mutex_destroy(&it->lock);
	free(it->id);
	free(it);
}

/* The domains of env's pending recipients, as fresh groups of it. */
static int outq_groups_set(struct outq_item *it,
                           const struct queue_envelope *env)
{
	struct outq_group *g = calloc(env->nrcpts ? env->nrcpts : 1, sizeof *g);
	size_t n = 0;
	struct buf d = BUF_INIT;
	if (!g)
		return -1;
	for (size_t i = 0; i < env->nrcpts; i++) {
		if (env->rcpts[i].state != QUEUE_PENDING)
			continue;
		buf_reset(&d);
		if (outq_rcpt_domain(env->rcpts[i].address, &d) < 0)
			goto fail;
		size_t k = 0;
		while (k < n && strcmp(g[k].domain, d.data) != 0)
			k++;
		if (k == n && !(g[n++].domain = strdup(d.data)))
			goto fail;
	}
	buf_free(&d);
	outq_groups_free(it);
	it->groups = g;
	it->ngroups = n;
	return 0;
fail:
	buf_free(&d);
	for (size_t k = 0; k < n; k++)
		free(g[k].domain);
	free(g);
	return -1;
}

static void outq_item_update(struct outq_item *it,
                             const struct queue_envelope *env)
{
	it->created = env->created;
	it->next = env->next_attempt;
	it->attempts = env->attempts;
	if (outq_groups_set(it, env) < 0)
		log_error(NULL, "outq: %s: out of memory", it->id);
}

static struct outq_item *outq_find(struct outq *q, const char *id, size_t *at)
{
	for (size_t i = 0; i < q->nitems; i++)
		if (strcmp(q->items[i]->id, id) == 0) {
			if (at)
				*at = i;
			return q->items[i];
		}
	return NULL;
}

static void outq_drop(struct outq *q, size_t at)
{
	outq_item_free(q->items[at]);
	q->items[at] = q->items[--q->nitems];
}

static struct outq_item *outq_add(struct outq *q, const char *id)
{
	if (q->nitems == q->capitems) {
		size_t cap = q->capitems ? q->capitems * 2 : 64;
		struct outq_item **p = realloc(q->items, cap * sizeof *p);
		if (!p)
			return NULL;
		q->items = p;
		q->capitems = cap;
	}
	struct outq_item *it = calloc(1, sizeof *it);
	if (!it || !(it->id = strdup(id))) {
		free(it);
		return NULL;
	}
	pthread_mutex_init(&it->lock, NULL);
	q->items[q->nitems++] = it;
	return it;
}

static struct domain_count *outq_domain(struct outq *q, const char *domain,
                                        int create)
{
	for (size_t i = 0; i < q->ndomains; i++)
		if (strcmp(q->domains[i].domain, domain) == 0)
			return &q->domains[i];
	if (!create)
		return NULL;
	if (q->ndomains == q->capdomains) {
		size_t cap = q->capdomains ? q->capdomains * 2 : 16;
		struct domain_count *p = realloc(q->domains, cap * sizeof *p);
		if (!p)
			return NULL;
		q->domains = p;
		q->capdomains = cap;
	}
	struct domain_count *d = &q->domains[q->ndomains];
	if (!(d->domain = strdup(domain)))
		return NULL;
	d->count = 0;
	q->ndomains++;
	return d;
}

static void outq_domain_release(struct outq *q, const char *domain)
{
	struct domain_count *d = outq_domain(q, domain, 0);
	if (d && --d->count <= 0) {
		free(d->domain);
		*d = q->domains[--q->ndomains];
	}
}

/* ---- reading the directory (loop thread) ---- */

/* Loads or reloads item id from disk, unless it is in the middle of a
 * round (its jobs will bring the news). */
static void outq_load_one(struct outq *q, const char *id)
{
	size_t at = 0;
	struct outq_item *it = outq_find(q, id, &at);
	if (it && (it->in_round || it->busy))
		return;
	struct queue_envelope env;
	struct buf err = BUF_INIT;
	if (queue_load(q->world->cfg.data_dir, id, &env, &err) < 0) {
		if (errno != ENOENT)
			log_error(NULL, "outq: %s: %s", id, buf_cstr(&err));
		if (it)
			outq_drop(q, at);
		buf_free(&err);
		return;
	}
	buf_free(&err);
	if (!it && !(it = outq_add(q, id)))
		log_error(NULL, "outq: %s: out of memory", id);
	else
		outq_item_update(it, &env);
	queue_envelope_free(&env);
}

/* Every item on disk into memory; items gone from disk are forgotten. */
static void outq_scan(struct outq *q)
{
	char **ids = NULL;
	size_t n = 0;
	struct buf err = BUF_INIT;
	if (queue_list(q->world->cfg.data_dir, &ids, &n, &err) < 0) {
		log_error(NULL, "outq: scanning the queue: %s", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	buf_free(&err);
	for (size_t i = 0; i < q->nitems;) {
		struct outq_item *it = q->items[i];
		int listed = 0;
		for (size_t k = 0; k < n && !listed; k++)
			listed = strcmp(ids[k], it->id) == 0;
		if (!listed && !it->in_round && !it->busy)
			outq_drop(q, i);
		else
			i++;
	}
	for (size_t i = 0; i < n; i++)
		outq_load_one(q, ids[i]);
	queue_list_free(&ids, n);
}

static void outq_on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct outq *q = arg;
	(void)what;
	char ev[OUTQ_INOTIFY_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;
	int changed = 0;
	while ((len = read(fd, ev, sizeof ev)) > 0) {
		for (char *p = ev; p < ev + len;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			p += sizeof *e + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				outq_scan(q);
				changed = 1;
				continue;
			}
			size_t n = e->len ? strlen(e->name) : 0;
			if (n <= 4 || strcmp(e->name + n - 4, ".env") != 0)
				continue;
			char id[256];
			if (n - 4 >= sizeof id)
				continue;
			memcpy(id, e->name, n - 4);
			id[n - 4] = '\0';
			if (!spool_id_valid(id))
				continue;
			outq_load_one(q, id);
			changed = 1;
		}
	}
	if (changed)
		outq_dispatch(q);
}

static void outq_on_scan(evutil_socket_t fd, short what, void *arg)
{
	struct outq *q = arg;
	(void)fd;
	(void)what;
	outq_scan(q);
	outq_dispatch(q);
	struct timeval tv = {q->world->cfg.queue.scan_interval, 0};
	evtimer_add(q->scan_timer, &tv);
}

static void outq_on_due(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	outq_dispatch(arg);
}

/* ---- jobs: what workers do ---- */

struct outq_job {
	struct outq *q;
	struct outq_item *item;
	struct outq_group *group;    /* NULL: the finish job of a round */
	struct world *world;         /* counted (taken and dropped on the loop) */
	char *domain;                /* owned copy */
	int local;
	char **addrs;                /* the recipients' addresses; owned */
	struct outbound_rcpt *rcpts; /* results, for the log */
	size_t nrcpts;
	int gone;                    /* the item vanished from disk */
	struct buf why;              /* the job's own trouble, for the log */
	/* finish */
	int removed, expired;
	struct queue_envelope after; /* the envelope as left on disk */
	struct strlist bounced;      /* expired recipients, for the log */
};

static void outq_job_free(struct outq_job *j)
{
	for (size_t i = 0; i < j->nrcpts; i++) {
		outbound_rcpt_free(&j->rcpts[i]);
		free(j->addrs[i]);
	}
	free(j->rcpts);
	free(j->addrs);
	free(j->domain);
	buf_free(&j->why);
	queue_envelope_free(&j->after);
	strlist_free(&j->bounced);
	free(j);
}

static void outq_result(struct outbound_rcpt *r, enum outbound_result res,
                        const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void outq_result(struct outbound_rcpt *r, enum outbound_result res,
                        const char *status, const char *fmt, ...)
{
	va_list ap;
	r->result = res;
	snprintf(r->status, sizeof r->status, "%s", status);
	buf_reset(&r->reply);
	va_start(ap, fmt);
	buf_vprintf(&r->reply, fmt, ap);
	va_end(ap);
	buf_cstr(&r->reply);
}

/* The pending recipients of j's domain in env, as j->addrs/j->rcpts. */
static int outq_job_rcpts(struct outq_job *j, const struct queue_envelope *env)
{
	struct buf d = BUF_INIT;
	j->addrs = calloc(env->nrcpts + 1, sizeof *j->addrs);
	j->rcpts = calloc(env->nrcpts + 1, sizeof *j->rcpts);
	if (!j->addrs || !j->rcpts)
		return -1;
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *qr = &env->rcpts[i];
		buf_reset(&d);
		if (qr->state != QUEUE_PENDING)
			continue;
		if (outq_rcpt_domain(qr->address, &d) < 0)
			goto fail;
		if (strcmp(d.data, j->domain) != 0)
			continue;
		struct outbound_rcpt *r = &j->rcpts[j->nrcpts];
		if (!(j->addrs[j->nrcpts] = strdup(qr->address)))
			goto fail;
		r->address = j->addrs[j->nrcpts++];
		r->notify = qr->notify;   /* valid while env lives (the run) */
		r->orcpt = qr->orcpt;
		outq_result(r, OUTBOUND_DEFERRED, "4.3.0", "not attempted");
	}
	buf_free(&d);
	return 0;
fail:
	buf_free(&d);
	return -1;
}

/* More Received: fields than max_received in the message's header. */
static int outq_is_loop(const char *path, int max, size_t *count)
{
	struct buf head = BUF_INIT;
	*count = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* the delivery will say what is wrong */
	if (buf_reserve(&head, OUTQ_HEADER_MAX) == 0) {
		ssize_t n;
		while (head.len < OUTQ_HEADER_MAX &&
		       ((n = read(fd, head.data + head.len,
		                  OUTQ_HEADER_MAX - head.len)) > 0 ||
		        (n < 0 && errno == EINTR)))
			if (n > 0)
				head.len += (size_t)n;
		*count = outq_count_received(head.data, head.len);
	}
	close(fd);
	buf_free(&head);
	return *count > (size_t)max;
}

/* S= and W= sizes of the queued file for maildir_deliver. */
static int outq_sizes(const char *path, size_t *size, unsigned long long *vsize)
{
	struct msg_crlf_size cs;
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	msg_crlf_size_init(&cs);
	*size = 0;
	while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0) {
			msg_crlf_size_feed(&cs, chunk, (size_t)n);
			*size += (size_t)n;
		}
	int saved = errno;
	close(fd);
	errno = saved;
	*vsize = msg_crlf_size_end(&cs);
	return n < 0 ? -1 : 0;
}

/* Remote targets of an alias: a new queue item of their own, from the
 * same sender, sharing the message file by link. */
static int outq_forward(const struct posthorn_config *cfg,
                        const struct queue_envelope *env, const char *msg,
                        const struct strlist *remote, struct buf *why)
{
	char id[QUEUE_ID_SIZE];
	struct queue_rcpt *rcpts = calloc(remote->count, sizeof *rcpts);
	if (!rcpts)
		return -1;
	for (size_t i = 0; i < remote->count; i++) {
		rcpts[i].address = remote->items[i];
		rcpts[i].state = QUEUE_PENDING;
	}
	queue_new_id(id);
	struct queue_envelope fwd = {
		.id = id, .created = (int64_t)time(NULL), .sender = env->sender,
		.body = env->body, .smtputf8 = env->smtputf8, .envid = env->envid,
		.ret = env->ret, .rcpts = rcpts, .nrcpts = remote->count,
	};
	int r = queue_enqueue(cfg->data_dir, msg, &fwd, why);
	free(rcpts);
	return r;
}

/* Local delivery of one recipient with smtpd's own steps (smtp/deliver.h):
 * the local part through users and aliases into each user's Maildir;
 * remote alias targets are queued anew. */
static void outq_local_one(const struct world *w, const struct queue_envelope *env,
                           const char *msg, size_t size,
                           unsigned long long vsize, struct outbound_rcpt *r)
{
	const struct posthorn_config *cfg = &w->cfg;
	struct strlist users = {0}, remote = {0};
	struct buf err = BUF_INIT;
	size_t delivered = 0;
	const char *at = strrchr(r->address, '@');
	size_t n = at ? (size_t)(at - r->address) : strlen(r->address);
	int rc = deliver_resolve(&w->aliases, &w->users, cfg, r->address, n,
	                       &users, &remote, &err);
	if (rc == 0)
		outq_result(r, OUTBOUND_FAILED, "5.1.1", "550 5.1.1 <%s>: "
		            "Recipient address rejected: User unknown", r->address);
	else if (rc < 0)
		outq_result(r, OUTBOUND_DEFERRED, "4.3.0", "%s", buf_cstr(&err));
	else if (deliver_local(cfg, &users, msg, size, vsize, &delivered,
	                       &err) < 0) {
		outq_result(r, OUTBOUND_DEFERRED, "4.3.0", "local delivery "
		            "failed: %s", buf_cstr(&err));
		rc = -1;
	}
	if (rc > 0 && remote.count) {
		buf_reset(&err);
		if (outq_forward(cfg, env, msg, &remote, &err) < 0) {
			outq_result(r, OUTBOUND_DEFERRED, "4.3.0", "forwarding failed: "
			            "%s", buf_cstr(&err));
			rc = -1;
		}
	}
	if (rc > 0)
		outq_result(r, OUTBOUND_DELIVERED, "2.0.0", "250 2.0.0 delivered "
		            "to %zu mailbox(es), %zu forwarded", users.count,
		            remote.count);
	strlist_free(&users);
	strlist_free(&remote);
	buf_free(&err);
}

static void outq_local(struct outq_job *j, const struct queue_envelope *env,
                       const char *msg)
{
	size_t size;
	unsigned long long vsize;
	if (outq_sizes(msg, &size, &vsize) < 0) {
		for (size_t i = 0; i < j->nrcpts; i++)
			outq_result(&j->rcpts[i], OUTBOUND_DEFERRED, "4.3.0",
			            "cannot read the queued message: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < j->nrcpts; i++)
		outq_local_one(j->world, env, msg, size, vsize, &j->rcpts[i]);
}

static enum outbound_tls outq_tls(enum cfg_transport_tls t)
{
	switch (t) {
	case CFG_TTLS_NONE: return OUTBOUND_TLS_NONE;
	case CFG_TTLS_ENCRYPT: return OUTBOUND_TLS_ENCRYPT;
	case CFG_TTLS_VERIFY: return OUTBOUND_TLS_VERIFY;
	case CFG_TTLS_IMPLICIT: return OUTBOUND_TLS_IMPLICIT;
	case CFG_TTLS_MAY: break;
	}
	return OUTBOUND_TLS_MAY;
}

static void outq_remote(struct outq_job *j, const struct queue_envelope *env,
                        const char *msg)
{
	const struct posthorn_config *cfg = &j->world->cfg;
	const struct cfg_transport *t = config_transport(cfg, j->domain);
	struct outbound_route route = {
		.smarthost = t ? t->host : NULL,
		.port = t && t->host ? t->port : cfg->queue.remote_port,
		.tls = t ? outq_tls(t->tls) : OUTBOUND_TLS_MAY,
		.auth_user = t ? t->auth_user : NULL,
		.auth_password = t ? t->password : NULL,
		.ca_file = t ? t->ca_file : NULL,
	};
	struct outbound_job oj = {
		.domain = j->domain, .helo = cfg->hostname, .sender = env->sender,
		.msg_path = msg,
		.eightbit = env->body && strcmp(env->body, "7bit") != 0,
		.smtputf8 = env->smtputf8, .envid = env->envid, .ret = env->ret,
		.route = &route, .resolver = cfg->resolver,
		.timeout = cfg->queue.command_timeout,
		.rcpts = j->rcpts, .nrcpts = j->nrcpts,
	};
	outbound_deliver(&oj);
}

/* A reply as one line of envelope text: control bytes become spaces
 * (multi-line replies are joined), at most 900 bytes. */
static void outq_clean(struct buf *out, const char *s)
{
	size_t n = 0;
	for (; *s && n < 900; s++, n++) {
		unsigned char c = (unsigned char)*s;
		buf_putc(out, c < 32 || c == 127 ? ' ' : (char)c);
	}
}

static int outq_is_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && isdigit((unsigned char)s[1]) &&
	       isdigit((unsigned char)s[2]) && (s[3] == ' ' || s[3] == '-' || !s[3]);
}

/* The last_reply bounce.h reads: "host MTA said: REPLY" for a server's
 * reply, "STATUS TEXT" for our own words. NULL when out of memory. */
static char *outq_describe(const struct outbound_rcpt *r)
{
	struct buf b = BUF_INIT;
	const char *reply = r->reply.data && r->reply.len ? r->reply.data : "";
	if (outq_is_reply(reply)) {
		if (r->remote_mta[0] && strcmp(r->remote_mta, "local") != 0)
			buf_printf(&b, "host %s said: ", r->remote_mta);
	} else if (r->status[0] && !isdigit((unsigned char)reply[0])) {
		buf_printf(&b, "%s ", r->status);
	}
	outq_clean(&b, *reply ? reply : "no reply");
	return buf_steal(&b, NULL);
}

static const char *outq_postmaster(const struct posthorn_config *cfg,
                                   char *out, size_t size)
{
	snprintf(out, size, "postmaster@%s", cfg->ndomains ? cfg->domains[0]
	         : cfg->hostname);
	return out;
}

/* queue_envelope_save, and the check it cannot make alone: when
 * posthornctl deleted the item while the save was under way (ID.env
 * removed, then ID.msg after the save looked for it), the envelope just
 * written is an orphan and goes too. -1 with errno ENOENT then. */
static int outq_save(const struct posthorn_config *cfg,
                     const struct queue_envelope *env, struct buf *why)
{
	struct buf msg = BUF_INIT;
	struct stat st;
	if (queue_envelope_save(cfg->data_dir, env, why) < 0)
		return -1;
	int orphan = queue_msg_path(cfg->data_dir, env->id, &msg) == 0 &&
	             stat(buf_cstr(&msg), &st) < 0 && errno == ENOENT;
	buf_free(&msg);
	if (!orphan)
		return 0;
	struct buf ignored = BUF_INIT;
	queue_remove(cfg->data_dir, env->id, &ignored);
	buf_free(&ignored);
	errno = ENOENT;
	return -1;
}

/* Writes j's results into the envelope as it is on disk now (posthornctl
 * may have changed it): delivered and deferred recipients first, then the
 * failed ones through one DSN. Under the item's lock. */
static void outq_apply(struct outq_job *j)
{
	const struct posthorn_config *cfg = &j->world->cfg;
	struct queue_envelope env;
	char pm[300];
	size_t *failed = calloc(j->nrcpts + 1, sizeof *failed), nf = 0;
	if (!failed || queue_load(cfg->data_dir, j->item->id, &env, &j->why) < 0) {
		j->gone = failed && errno == ENOENT;
		free(failed);
		return;
	}
	for (size_t i = 0; i < j->nrcpts; i++) {
		const struct outbound_rcpt *r = &j->rcpts[i];
		size_t k = 0;
		while (k < env.nrcpts && (env.rcpts[k].state != QUEUE_PENDING ||
		                          strcmp(env.rcpts[k].address, r->address)))
			k++;
		char *text = outq_describe(r);
		if (k == env.nrcpts || !text) {
			free(text);
			continue; /* settled meanwhile (posthornctl) */
		}
		free(env.rcpts[k].last_reply);
		env.rcpts[k].last_reply = text;
		if (r->result == OUTBOUND_DELIVERED)
			env.rcpts[k].state = QUEUE_DELIVERED;
		else if (r->result == OUTBOUND_FAILED)
			failed[nf++] = k;
	}
	if (outq_save(cfg, &env, &j->why) < 0)
		j->gone = errno == ENOENT;
	else if (nf && bounce_recipients(cfg->data_dir, cfg->hostname,
	                                 outq_postmaster(cfg, pm, sizeof pm), &env,
	                                 failed, nf, DSN_FAILED, (int64_t)time(NULL),
	                                 &j->why) < 0)
		buf_printf(&j->why, " (the failed recipients stay queued)");
	queue_envelope_free(&env);
	free(failed);
}

static void outq_deliver_run(void *arg)
{
	struct outq_job *j = arg;
	const struct posthorn_config *cfg = &j->world->cfg;
	struct queue_envelope env;
	struct buf msg = BUF_INIT;
	size_t received = 0;
	if (queue_load(cfg->data_dir, j->item->id, &env, &j->why) < 0) {
		j->gone = errno == ENOENT;
		return;
	}
	if (outq_job_rcpts(j, &env) < 0 ||
	    queue_msg_path(cfg->data_dir, env.id, &msg) < 0) {
		buf_puts(&j->why, "out of memory");
	} else if (j->nrcpts == 0) {
		/* nothing pending here any more */
	} else if (outq_is_loop(buf_cstr(&msg), cfg->queue.max_received,
	                        &received)) {
		for (size_t i = 0; i < j->nrcpts; i++)
			outq_result(&j->rcpts[i], OUTBOUND_FAILED, "5.4.6", "mail loop: "
			            "too many Received fields (%zu)", received);
	} else if (j->local) {
		outq_local(j, &env, buf_cstr(&msg));
	} else {
		outq_remote(j, &env, buf_cstr(&msg));
	}
	queue_envelope_free(&env);
	buf_free(&msg);
	if (j->nrcpts == 0)
		return;
	pthread_mutex_lock(&j->item->lock);
	outq_apply(j);
	pthread_mutex_unlock(&j->item->lock);
}

/* "5 days", "3 hours", "20 minutes": how long an item waited. */
static void outq_age(char *out, size_t size, int64_t secs)
{
	if (secs >= 2 * 86400)
		snprintf(out, size, "%lld days", (long long)(secs / 86400));
	else if (secs >= 2 * 3600)
		snprintf(out, size, "%lld hours", (long long)(secs / 3600));
	else if (secs >= 120)
		snprintf(out, size, "%lld minutes", (long long)(secs / 60));
	else
		snprintf(out, size, "%lld seconds", (long long)secs);
}

/* The end of the lifetime: every pending recipient fails with 4.4.7. */
static int outq_expire(struct outq_job *j, struct queue_envelope *env,
                       const size_t *idx, size_t n, int64_t now)
{
	const struct posthorn_config *cfg = &j->world->cfg;
	char age[64], pm[300];
	outq_age(age, sizeof age, now - env->created);
	for (size_t i = 0; i < n; i++) {
		struct queue_rcpt *r = &env->rcpts[idx[i]];
		struct buf b = BUF_INIT;
		buf_printf(&b, "4.4.7 could not be delivered for %s: ", age);
		outq_clean(&b, r->last_reply ? r->last_reply : "no attempt finished");
		char *text = buf_steal(&b, NULL);
		if (!text)
			return -1;
		free(r->last_reply);
		r->last_reply = text;
		strlist_add_unique(&j->bounced, r->address);
	}
	j->expired = 1;
	return bounce_recipients(cfg->data_dir, cfg->hostname,
	                         outq_postmaster(cfg, pm, sizeof pm), env, idx, n,
	                         DSN_FAILED, now, &j->why);
}

/* The end of a round (under the item's lock): remove, bounce or set the
 * next attempt. j->after keeps what is on disk for the memory picture. */
static void outq_finish(struct outq_job *j)
{
	const struct posthorn_config *cfg = &j->world->cfg;
	struct queue_envelope *env = &j->after;
	struct buf err = BUF_INIT;
	char pm[300];
	int64_t now = (int64_t)time(NULL);
	if (queue_load(cfg->data_dir, j->item->id, env, &j->why) < 0) {
		j->gone = errno == ENOENT;
		return;
	}
	size_t *idx = calloc(env->nrcpts + 1, sizeof *idx), n = 0;
	if (!idx) {
		buf_puts(&j->why, "out of memory");
		return;
	}
	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == QUEUE_PENDING)
			idx[n++] = i;
	if (n && outq_expired(&cfg->queue, env->created, now) &&
	    outq_expire(j, env, idx, n, now) == 0)
		n = 0;
	if (n == 0) {
		j->removed = queue_remove(cfg->data_dir, env->id, &j->why) == 0;
	} else {
		int64_t prev = outq_prev_attempt(&cfg->queue, env->attempts,
		                                 env->next_attempt);
		if (outq_warn_due(&cfg->queue, env->created, prev, now) &&
		    bounce_recipients(cfg->data_dir, cfg->hostname,
		                      outq_postmaster(cfg, pm, sizeof pm), env, idx, n,
		                      DSN_DELAYED, now, &err) < 0)
			buf_printf(&j->why, "delay warning: %s", buf_cstr(&err));
		env->attempts++;
		env->next_attempt = now + outq_retry_delay(&cfg->queue, env->attempts);
		if (outq_save(cfg, env, &j->why) < 0)
			j->gone = errno == ENOENT;
	}
	buf_free(&err);
	free(idx);
}

static void outq_finish_run(void *arg)
{
	struct outq_job *j = arg;
	pthread_mutex_lock(&j->item->lock);
	outq_finish(j);
	pthread_mutex_unlock(&j->item->lock);
}

/* ---- jobs: the loop side ---- */

static struct outq_job *outq_job_new(struct outq *q, struct outq_item *it)
{
	struct outq_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->q = q;
	j->item = it;
	return j;
}

/* Drops an item that left the disk once nothing runs for it. */
static void outq_forget(struct outq *q, struct outq_item *it)
{
	size_t at;
	if (it->busy || !outq_find(q, it->id, &at) || q->items[at] != it)
		return;
	outq_drop(q, at);
}

static void outq_job_ended(struct outq *q)
{
	if (--q->jobs == 0 && q->draining)
		event_base_loopbreak(q->base);
}

/* The end of a job's done callback: frees the job, forgets its item when
 * that left the queue meanwhile, and starts whatever may run now. */
static void outq_job_close(struct outq *q, struct outq_job *j)
{
	struct outq_item *it = j->item;
	world_unref(&j->world);
	outq_job_free(j);
	if (it->gone)
		outq_forget(q, it);
	outq_job_ended(q);
	outq_dispatch(q);
}

static void outq_log_result(const struct outq_job *j,
                            const struct outbound_rcpt *r)
{
	const char *status = r->result == OUTBOUND_DELIVERED ? "sent"
	                     : r->result == OUTBOUND_FAILED ? "bounced" : "deferred";
	const char *relay = j->local ? "local" : r->remote_mta[0] ? r->remote_mta
	                    : "none";
	const char *reply = r->reply.data && r->reply.len ? r->reply.data : "";
	int ours = !isdigit((unsigned char)reply[0]);
	log_msg(r->result == OUTBOUND_DELIVERED ? LOG_LVL_INFO : LOG_LVL_WARN, NULL,
	        "outq: %s to=<%s> relay=%s status=%s (%s%s%s)", j->item->id,
	        r->address, relay, status, ours ? r->status : "", ours ? " " : "",
	        reply);
}

static void outq_deliver_done(void *arg)
{
	struct outq_job *j = arg;
	struct outq *q = j->q;
	struct outq_item *it = j->item;
	j->group->busy = 0;
	j->group->todo = 0;
	it->busy--;
	q->running--;
	outq_domain_release(q, j->domain);
	for (size_t i = 0; i < j->nrcpts; i++)
		outq_log_result(j, &j->rcpts[i]);
	if (j->why.len)
		log_error(NULL, "outq: %s: %s", it->id, buf_cstr(&j->why));
	if (j->gone) {
		log_info(NULL, "outq: %s: removed from the queue meanwhile", it->id);
		it->gone = 1;
	}
	outq_job_close(q, j);
}

static void outq_finish_done(void *arg)
{
	struct outq_job *j = arg;
	struct outq *q = j->q;
	struct outq_item *it = j->item;
	it->busy--;
	it->in_round = 0;
	for (size_t i = 0; i < j->bounced.count; i++)
		log_warn(NULL, "outq: %s to=<%s> relay=none status=bounced (expired "
		         "after %d s in the queue)", it->id, j->bounced.items[i],
		         (int)(time(NULL) - j->after.created));
	if (j->why.len)
		log_error(NULL, "outq: %s: %s", it->id, buf_cstr(&j->why));
	if (j->removed)
		log_info(NULL, "outq: %s: removed (every recipient done)", it->id);
	else if (!j->gone && j->after.id)
		log_debug(NULL, "outq: %s: attempt %d done, next in %lld s", it->id,
		          j->after.attempts,
		          (long long)(j->after.next_attempt - (int64_t)time(NULL)));
	if (j->removed || j->gone)
		it->gone = 1;
	else if (j->after.id)
		outq_item_update(it, &j->after);
	else
		it->next = (int64_t)time(NULL) + outq_retry_delay(
			&q->world->cfg.queue, it->attempts + 1); /* could not read it */
	outq_job_close(q, j);
}

static int outq_submit(struct outq *q, struct outq_job *j,
                       void (*run)(void *), void (*done)(void *))
{
	j->world = world_ref(q->world);
	if (jobs_submit(q->pool, run, done, j) < 0) {
		world_unref(&j->world);
		outq_job_free(j);
		return -1;
	}
	q->jobs++;
	j->item->busy++;
	return 0;
}

static void outq_start_delivery(struct outq *q, struct outq_item *it,
                                struct outq_group *g)
{
	struct outq_job *j = outq_job_new(q, it);
	struct domain_count *d = outq_domain(q, g->domain, 1);
	if (!j || !d || !(j->domain = strdup(g->domain))) {
		if (j)
			outq_job_free(j);
		return;
	}
	j->group = g;
	j->local = !g->domain[0] || config_is_local_domain(&q->world->cfg,
	                                                   g->domain);
	if (outq_submit(q, j, outq_deliver_run, outq_deliver_done) < 0)
		return;
	g->busy = 1;
	d->count++;
	q->running++;
}

/* A round whose deliveries are all done gets its finish job. */
static void outq_round_check(struct outq *q, struct outq_item *it)
{
	if (!it->in_round || it->busy)
		return;
	for (size_t i = 0; i < it->ngroups; i++)
		if (it->groups[i].todo)
			return;
	struct outq_job *j = outq_job_new(q, it);
	if (!j || outq_submit(q, j, outq_finish_run, outq_finish_done) < 0)
		log_error(NULL, "outq: %s: out of memory", it->id);
}

/* Starts what is due as far as the limits allow, then sets the timer for
 * the next item that will be. */
static void outq_dispatch(struct outq *q)
{
	if (q->stopping)
		return;
	const struct cfg_queue *cq = &q->world->cfg.queue;
	int limit = cq->connections < q->threads ? cq->connections : q->threads;
	int64_t now = (int64_t)time(NULL), soonest = INT64_MAX;
	for (size_t i = 0; i < q->nitems; i++) {
		struct outq_item *it = q->items[i];
		if (it->gone || (!it->in_round && it->busy))
			continue;
		if (!it->in_round) {
			if (it->next > now) {
				soonest = it->next < soonest ? it->next : soonest;
				continue;
			}
			it->in_round = 1;
			for (size_t g = 0; g < it->ngroups; g++)
				it->groups[g].todo = 1;
		}
		for (size_t g = 0; g < it->ngroups && q->running < limit; g++) {
			struct outq_group *gr = &it->groups[g];
			const struct domain_count *d = outq_domain(q, gr->domain, 0);
			if (gr->todo && !gr->busy &&
			    (!d || d->count < cq->connections_per_domain))
				outq_start_delivery(q, it, gr);
		}
		outq_round_check(q, it);
	}
	if (soonest != INT64_MAX) {
		int64_t wait = soonest - now;
		if (wait > cq->scan_interval)
			wait = cq->scan_interval;
		struct timeval tv = {(time_t)(wait > 0 ? wait : 0), 0};
		evtimer_add(q->due_timer, &tv);
	}
}

/* ---- life cycle ---- */

static int outq_watch(struct outq *q, struct buf *err)
{
	struct buf dir = BUF_INIT;
	if (buf_printf(&dir, "%s/queue", q->world->cfg.data_dir) < 0 ||
	    fs_mkdirs(buf_cstr(&dir), 0700) < 0) {
		buf_printf(err, "%s: %s", buf_cstr(&dir), strerror(errno));
		buf_free(&dir);
		return -1;
	}
	q->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (q->inotify_fd < 0 ||
	    inotify_add_watch(q->inotify_fd, buf_cstr(&dir),
	                      IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
		/* The rescan still finds everything, only later. */
		log_warn(NULL, "outq: no inotify on %s (%s): new mail waits for "
		         "the next rescan", buf_cstr(&dir), strerror(errno));
	} else {
		q->inotify_ev = event_new(q->base, q->inotify_fd, EV_READ | EV_PERSIST,
		                          outq_on_inotify, q);
		if (!q->inotify_ev || event_add(q->inotify_ev, NULL) < 0) {
			buf_printf(err, "out of memory");
			buf_free(&dir);
			return -1;
		}
	}
	buf_free(&dir);
	return 0;
}

struct outq *outq_new(struct event_base *base, struct world *w,
                      struct buf *err)
{
	struct outq *q = calloc(1, sizeof *q);
	struct buf why = BUF_INIT;
	if (!q) {
		buf_puts(err, "out of memory");
		return NULL;
	}
	q->base = base;
	q->world = world_ref(w);
	q->inotify_fd = -1;
	const struct cfg_queue *cq = &w->cfg.queue;
	q->threads = cq->connections < OUTQ_MAX_THREADS ? cq->connections
	             : OUTQ_MAX_THREADS;
	q->scan_timer = evtimer_new(base, outq_on_scan, q);
	q->due_timer = evtimer_new(base, outq_on_due, q);
	q->stop_timer = evtimer_new(base, outq_on_stop_timer, q);
	if (!q->scan_timer || !q->due_timer || !q->stop_timer ||
	    !(q->pool = jobs_new(base, q->threads))) {
		buf_puts(err, "cannot start the queue manager's workers");
		outq_free(&q);
		return NULL;
	}
	if (outq_watch(q, err) < 0) {
		outq_free(&q);
		return NULL;
	}
	int swept = queue_cleanup(w->cfg.data_dir, (int64_t)time(NULL), &why);
	if (swept < 0)
		log_warn(NULL, "outq: cleaning the queue: %s", buf_cstr(&why));
	else if (swept > 0)
		log_info(NULL, "outq: removed %d files left by a crash", swept);
	buf_free(&why);
	outq_scan(q);
	log_info(NULL, "outq: %zu items in the queue, %d workers", q->nitems,
	         q->threads);
	struct timeval tv = {cq->scan_interval, 0};
	evtimer_add(q->scan_timer, &tv);
	outq_dispatch(q);
	return q;
}

void outq_reload(struct outq *q, struct world *w)
{
	if (w->cfg.queue.connections > q->threads)
		log_warn(NULL, "outq: connections = %d: restart required (running "
		         "%d workers)", w->cfg.queue.connections, q->threads);
	if (strcmp(w->cfg.data_dir, q->world->cfg.data_dir) != 0)
		log_warn(NULL, "outq: data_dir changed: restart required (still "
		         "serving %s)", q->world->cfg.data_dir);
	/* The old data_dir stays in use: keep the old world's path alive by
	 * reading the directory through the new world only when it is the
	 * same. */
	if (strcmp(w->cfg.data_dir, q->world->cfg.data_dir) != 0)
		return;
	world_unref(&q->world);
	q->world = world_ref(w);
	outq_dispatch(q);
}

void outq_flush(struct outq *q)
{
	if (q->stopping)
		return;
	outq_scan(q);
	size_t n = 0;
	for (size_t i = 0; i < q->nitems; i++)
		if (!q->items[i]->in_round) {
			q->items[i]->next = 0;
			n++;
		}
	log_info(NULL, "outq: flush: %zu items due now", n);
	outq_dispatch(q);
}

static void outq_on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct outq *q = arg;
	(void)fd;
	(void)what;
	q->stopping = 2;
	if (q->draining) {
		log_warn(NULL, "outq: %d deliveries still running; exiting anyway "
		         "(their recipients stay queued)", q->running);
		event_base_loopbreak(q->base);
	}
}

void outq_shutdown(struct outq *q)
{
	if (q->stopping)
		return;
	q->stopping = 1;
	if (q->inotify_ev)
		event_del(q->inotify_ev);
	evtimer_del(q->scan_timer);
	evtimer_del(q->due_timer);
	int timeout = q->world->cfg.limits.shutdown_timeout;
	struct timeval tv = {timeout > 0 ? timeout : 0, 0};
	evtimer_add(q->stop_timer, &tv);
	if (q->jobs)
		log_info(NULL, "outq: waiting up to %d s for %d deliveries", timeout,
		         q->running);
}

int outq_drain(struct outq *q)
{
	if (q->jobs == 0 || q->stopping == 2)
		return 0;
	q->draining = 1;
	return 1;
}

int outq_busy(const struct outq *q)
{
	return q->jobs;
}

void outq_free(struct outq **qp)
{
	struct outq *q = *qp;
	if (!q)
		return;
	*qp = NULL;
	if (q->jobs > 0)
		return; /* workers still use items and the world: let exit free */
	jobs_free(&q->pool);
	if (q->inotify_ev)
		event_free(q->inotify_ev);
	if (q->inotify_fd >= 0)
		close(q->inotify_fd);
	if (q->scan_timer)
		event_free(q->scan_timer);
	if (q->due_timer)
		event_free(q->due_timer);
	if (q->stop_timer)
		event_free(q->stop_timer);
	for (size_t i = 0; i < q->nitems; i++)
		outq_item_free(q->items[i]);
	free(q->items);
	for (size_t i = 0; i < q->ndomains; i++)
		free(q->domains[i].domain);
	free(q->domains);
	world_unref(&q->world);
	free(q);
}
