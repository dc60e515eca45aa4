/* resolve: asynchronous, forward-confirmed reverse DNS (see resolve.h).
 * A lookup asks for the PTR name (our hosts table, else evdns), then for
 * that name's A or AAAA records (evdns_getaddrinfo, which reads /etc/hosts
 * itself), and delivers the result through its own event so done never
 * runs inside resolve_peer, even when every answer came from hosts. */
#include "resolve.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "../lib/log.h"

#define RESOLVE_HOSTS "/etc/hosts"
#define RESOLVE_NAME_MAX 253

struct resolve_host {
	int family;
	unsigned char addr[16];
	char *name;                     /* owned */
};

struct resolve_lookup {
	struct resolver *r;
	struct resolve_lookup *prev, *next;  /* in r->lookups */
	struct sockaddr_storage addr;
	char ip[64];
	char id[16];
	char name[RESOLVE_NAME_MAX + 2];     /* the PTR name; "" once rejected */
	struct event *finish;
	resolve_done_fn *done;
	void *ctx;
};

struct resolver {
	struct event_base *base;
	struct evdns_base *dns;
	struct resolve_host *hosts;     /* /etc/hosts in file order */
	size_t nhosts, caphosts;
	struct resolve_lookup *lookups; /* out, doubly linked */
};

/* evdns talks about nameservers going down and up; that belongs in our
 * log, not on stderr (which a daemon no longer has). */
static void resolve_on_evdns_log(int is_warning, const char *msg)
{
	log_msg(is_warning ? LOG_LVL_WARN : LOG_LVL_DEBUG, NULL, "dns: %s", msg);
}

/* The 4 or 16 address bytes of sa; 0 for other families. */
static size_t resolve_addr_bytes(const struct sockaddr *sa,
                                 const unsigned char **bytes)
{
	if (sa->sa_family == AF_INET) {
		*bytes = (const unsigned char *)
			&((const struct sockaddr_in *)sa)->sin_addr;
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		*bytes = (const unsigned char *)
			&((const struct sockaddr_in6 *)sa)->sin6_addr;
		return 16;
	}
	return 0;
}

static int resolve_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	const unsigned char *x, *y;
	size_t n = resolve_addr_bytes(a, &x);
	return n && a->sa_family == b->sa_family &&
	       resolve_addr_bytes(b, &y) == n && memcmp(x, y, n) == 0;
}

static int resolve_is_label_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
}

/* Accepts a name fit for a Received field and a forward query: labels of
 * letters, digits, '-' and '_', not all-numeric at the end (a PTR record
 * may say "192.0.2.1" to pass as confirmed). Drops an absolute name's
 * trailing dot. */
static int resolve_clean_name(char *name)
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	if (n == 0 || n > RESOLVE_NAME_MAX || name[0] == '.' || name[n - 1] == '.')
		return 0;
	int numeric_label = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch == '.') {
			if (name[i + 1] == '.')
				return 0;
			numeric_label = 1;
		} else if (!resolve_is_label_char(ch)) {
			return 0;
		} else if (ch < '0' || ch > '9') {
			numeric_label = 0;
		}
	}
	return !numeric_label;
}

/* ---- /etc/hosts, for the PTR side ---- */

static int resolve_add_host(struct resolver *r, const char *ip, char *name)
{
	struct resolve_host h = {.family = strchr(ip, ':') ? AF_INET6 : AF_INET};
	if (evutil_inet_pton(h.family, ip, h.addr) != 1 || !resolve_clean_name(name))
		return 0; /* not ours to judge: skipped */
	if (r->nhosts == r->caphosts) {
		size_t cap = r->caphosts ? r->caphosts * 2 : 16;
		struct resolve_host *p = realloc(r->hosts, cap * sizeof *p);
		if (!p)
			return -1;
		r->hosts = p;
		r->caphosts = cap;
	}
	if (!(h.name = strdup(name)))
		return -1;
	r->hosts[r->nhosts++] = h;
	return 0;
}

/* Reads "ADDRESS NAME [ALIAS...]" lines; the first name of the first line
 * for an address is its reverse name, as with the system's resolver. */
static void resolve_load_hosts(struct resolver *r)
{
	FILE *f = fopen(RESOLVE_HOSTS, "re");
	if (!f) {
		log_debug(NULL, "%s: cannot read it; reverse names come from DNS "
		          "only", RESOLVE_HOSTS);
		return;
	}
	char *line = NULL;
	size_t size = 0;
	while (getline(&line, &size, f) >= 0) {
		line[strcspn(line, "#\r\n")] = '\0';
		char *save = NULL;
		char *ip = strtok_r(line, " \t", &save);
		char *name = ip ? strtok_r(NULL, " \t", &save) : NULL;
		if (name && resolve_add_host(r, ip, name) < 0) {
			log_warn(NULL, "%s: out of memory; the rest is ignored",
			         RESOLVE_HOSTS);
			break;
		}
	}
	free(line);
	fclose(f);
}

static const char *resolve_hosts_name(const struct resolver *r,
                                      const struct sockaddr *sa)
{
	const unsigned char *bytes;
	size_t n = resolve_addr_bytes(sa, &bytes);
	for (size_t i = 0; n && i < r->nhosts; i++)
		if (r->hosts[i].family == sa->sa_family &&
		    memcmp(r->hosts[i].addr, bytes, n) == 0)
			return r->hosts[i].name;
	return NULL;
}

/* ---- one lookup ---- */

static void resolve_unlink(struct resolve_lookup *l)
{
	struct resolver *r = l->r;
	if (l->prev)
		l->prev->next = l->next;
	else
		r->lookups = l->next;
	if (l->next)
		l->next->prev = l->prev;
	event_free(l->finish);
}

static void resolve_on_finish(evutil_socket_t fd, short what, void *arg)
{
	struct resolve_lookup *l = arg;
	(void)fd;
	(void)what;
	resolve_unlink(l);
	resolve_done_fn *done = l->done;
	void *ctx = l->ctx;
	char name[sizeof l->name];
	memcpy(name, l->name, sizeof name);
	free(l);
	done(ctx, name);
}

/* Ends the lookup with l->name, or with no name when ok is 0. */
static void resolve_finish(struct resolve_lookup *l, int ok)
{
	if (!ok)
		l->name[0] = '\0';
	event_active(l->finish, EV_TIMEOUT, 0);
}

static void resolve_on_forward(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct resolve_lookup *l = arg;
	int match = 0;
	for (struct evutil_addrinfo *p = ai; p && !match; p = p->ai_next)
		match = resolve_same_addr(p->ai_addr, (struct sockaddr *)&l->addr);
	if (ai)
		evutil_freeaddrinfo(ai);
	if (err)
		log_info(l->id, "reverse name %s of [%s] does not resolve: %s",
		         l->name, l->ip, evutil_gai_strerror(err));
	else if (!match)
		log_info(l->id, "reverse name %s does not match [%s]", l->name,
		         l->ip);
	resolve_finish(l, match);
}

/* The PTR name must lead back to the address, or anyone controlling the
 * reverse zone of theirs could claim any name. */
static void resolve_confirm(struct resolve_lookup *l)
{
	struct evutil_addrinfo hints = {
		.ai_family = l->addr.ss_family,
		.ai_socktype = SOCK_STREAM,
	};
	/* May call resolve_on_forward before returning (hosts, errors). */
	evdns_getaddrinfo(l->r->dns, l->name, NULL, &hints, resolve_on_forward, l);
}

static void resolve_on_ptr(int result, char type, int count, int ttl,
                           void *addresses, void *arg)
{
	struct resolve_lookup *l = arg;
	(void)ttl;
	if (result != DNS_ERR_NONE || type != DNS_PTR || count < 1) {
		log_debug(l->id, "no reverse name for [%s]: %s", l->ip,
		          result ? evdns_err_to_string(result) : "no PTR record");
		resolve_finish(l, 0);
		return;
	}
	snprintf(l->name, sizeof l->name, "%s", *(char **)addresses);
	if (!resolve_clean_name(l->name)) {
		log_info(l->id, "reverse name of [%s] is not a host name", l->ip);
		resolve_finish(l, 0);
		return;
	}
	resolve_confirm(l);
}

/* Starts the PTR query; 0 when evdns could not even start it. */
static int resolve_ask_ptr(struct resolve_lookup *l)
{
	const unsigned char *bytes;
	const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
	size_t n = resolve_addr_bytes(sa, &bytes);
	struct evdns_request *req = NULL;
	if (n == 4)
		req = evdns_base_resolve_reverse(l->r->dns,
		        (const struct in_addr *)bytes, 0, resolve_on_ptr, l);
	else if (n == 16)
		req = evdns_base_resolve_reverse_ipv6(l->r->dns,
		        (const struct in6_addr *)bytes, 0, resolve_on_ptr, l);
	return req != NULL;
}

static struct resolve_lookup *resolve_new_lookup(struct resolver *r,
                                                 const struct sockaddr *addr)
{
	struct resolve_lookup *l = calloc(1, sizeof *l);
	if (!l || !(l->finish = evtimer_new(r->base, resolve_on_finish, l))) {
		free(l);
		return NULL;
	}
	l->r = r;
	size_t len = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                         : sizeof(struct sockaddr_in);
	memcpy(&l->addr, addr, len);
	const unsigned char *bytes;
	if (!resolve_addr_bytes(addr, &bytes) ||
	    !evutil_inet_ntop(addr->sa_family, bytes, l->ip, sizeof l->ip))
		snprintf(l->ip, sizeof l->ip, "?");
	l->next = r->lookups;
	if (l->next)
		l->next->prev = l;
	r->lookups = l;
	return l;
}

int resolve_peer(struct resolver *r, const struct sockaddr *addr,
                 const char *session_id, resolve_done_fn *done, void *ctx)
{
	struct resolve_lookup *l = resolve_new_lookup(r, addr);
	if (!l)
		return -1;
	snprintf(l->id, sizeof l->id, "%s", session_id ? session_id : "");
	l->done = done;
	l->ctx = ctx;
	const char *known = resolve_hosts_name(r, addr);
	if (known) {
		snprintf(l->name, sizeof l->name, "%s", known);
		resolve_confirm(l);
	} else if (!resolve_ask_ptr(l)) {
		log_warn(l->id, "cannot start the reverse lookup of [%s]", l->ip);
		resolve_finish(l, 0);
	}
	return 0;
}

/* ---- the resolver ---- */

static int resolve_setup(struct resolver *r, const char *nameserver,
                         struct buf *err)
{
	int flags = EVDNS_BASE_DISABLE_WHEN_INACTIVE;
	if (!nameserver)
		flags |= EVDNS_BASE_INITIALIZE_NAMESERVERS; /* reads hosts too */
	r->dns = evdns_base_new(r->base, flags);
	if (!r->dns) {
		buf_printf(err, "cannot set up DNS%s", nameserver ? "" :
		           " from /etc/resolv.conf");
		return -1;
	}
	if (nameserver && evdns_base_nameserver_ip_add(r->dns, nameserver) != 0) {
		buf_printf(err, "resolver %s: not a usable nameserver address",
		           nameserver);
		return -1;
	}
	/* Only the explicit path needs it; evdns_base_load_hosts(NULL) would
	 * load nothing on Unix. */
	if (nameserver && evdns_base_load_hosts(r->dns, RESOLVE_HOSTS) != 0)
		log_debug(NULL, "%s: cannot read it", RESOLVE_HOSTS);
	/* PTR names are absolute: no search domain may be appended. */
	evdns_base_search_clear(r->dns);
	if (evdns_base_set_option(r->dns, "timeout:", RESOLVE_TIMEOUT) != 0 ||
	    evdns_base_set_option(r->dns, "attempts:", RESOLVE_ATTEMPTS) != 0) {
		buf_puts(err, "cannot set the DNS timeout");
		return -1;
	}
	return 0;
}

struct resolver *resolve_new(struct event_base *base, const char *nameserver,
                             struct buf *err)
{
	evdns_set_log_fn(resolve_on_evdns_log);
	struct resolver *r = calloc(1, sizeof *r);
	if (!r) {
		buf_puts(err, "out of memory");
		return NULL;
	}
	r->base = base;
	if (resolve_setup(r, nameserver, err) < 0) {
		resolve_free(&r);
		return NULL;
	}
	resolve_load_hosts(r);
	return r;
}

void resolve_free(struct resolver **rp)
{
	struct resolver *r = *rp;
	if (!r)
		return;
	/* Without failing requests: their callbacks would need the loop. */
	if (r->dns)
		evdns_base_free(r->dns, 0);
	while (r->lookups) {
		struct resolve_lookup *l = r->lookups;
		resolve_unlink(l);
		free(l);
	}
	for (size_t i = 0; i < r->nhosts; i++)
		free(r->hosts[i].name);
	free(r->hosts);
	free(r);
	*rp = NULL;
}
