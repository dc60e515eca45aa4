/* mx: MX routing through glibc's thread-safe resolver (res_ninit and
 * res_nquery on a resolver state of our own per call), with the reply
 * parsing kept apart in mx_parse_answer so tests and the fuzzer can feed it
 * any bytes. */
#include "mx.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../lib/fs.h"

#define MX_HOSTS_MAX 20         /* MX hosts tried per domain */
#define MX_ADDRS_MAX 16         /* addresses kept per host */
#define MX_ADDRS_V4_MIN 8       /* IPv4 addresses kept even when IPv6 is plenty,
                                 * so a host without IPv6 routes still works */
#define MX_TIMEOUT_DEFAULT 5
#define MX_RETRY 2              /* attempts per query */
#define MX_BUDGET_QUERIES 10    /* total time, in query timeouts, after which
                                 * the remaining hosts are left as temp */
#define MX_NAME_MAX 253         /* a domain name in text, no final dot */

enum query_result {
	Q_OK,           /* records found (a->n > 0) */
	Q_NODATA,       /* the name exists but has no such records */
	Q_NXDOMAIN,
	Q_TEMP,
};

struct resolver {
	struct __res_state st;
	unsigned char *pkt;     /* reply buffer, NS_MAXMSG bytes */
	int timeout;
	time_t deadline;        /* CLOCK_MONOTONIC seconds */
	const char *temp_why;   /* the last Q_TEMP's reason */
};

const char *mx_status_name(enum mx_status s)
{
	switch (s) {
	case MX_OK: return "ok";
	case MX_NXDOMAIN: return "nxdomain";
	case MX_NULL: return "null-mx";
	case MX_NOHOST: return "no-host";
	case MX_TEMP: return "temporary";
	}
	return "unknown";
}

/* ---- names ---- */

/* Copies a host name lowercased without its final dot into out
 * (MX_NAME_MAX + 1 bytes). Only letters, digits, '-', '_' and non-empty
 * labels of at most 63 bytes: a name from DNS ends up in SMTP commands,
 * logs and TLS, so escapes and control bytes never get through. Returns 0,
 * or -1 for anything else (the root "" included). */
static int name_normalize(const char *in, char *out)
{
	size_t len = strlen(in);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > MX_NAME_MAX)
		return -1;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		           || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	if (label == 0)
		return -1;
	out[len] = '\0';
	return 0;
}

/* ---- reply parsing ---- */

void mx_answer_free(struct mx_answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->recs[i].value);
	free(a->recs);
	memset(a, 0, sizeof *a);
}

/* The text of one record's data, or NULL to skip the record. */
static char *answer_value(ns_msg *msg, ns_rr *rr, int qtype, int *pref)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr);
	char text[NS_MAXDNAME];
	*pref = 0;
	if (qtype == ns_t_a || qtype == ns_t_aaaa) {
		int af = qtype == ns_t_a ? AF_INET : AF_INET6;
		size_t want = qtype == ns_t_a ? 4 : 16;
		if (rdlen != want || !inet_ntop(af, rd, text, sizeof text))
			return NULL;
		return strdup(text);
	}
	if (rdlen < 3)
		return NULL;
	/* the exchange may point anywhere earlier in the message, but must
	 * itself end inside the record's data */
	int n = dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), rd + 2, text,
	                  sizeof text);
	if (n < 0 || (size_t)n + 2 > rdlen)
		return NULL;
	*pref = (rd[0] << 8) | rd[1];
	if (strcmp(text, ".") == 0 || text[0] == '\0')
		return strdup("");
	char name[MX_NAME_MAX + 1];
	if (name_normalize(text, name) < 0)
		return NULL;
	return strdup(name);
}

int mx_parse_answer(const unsigned char *pkt, size_t len, int qtype,
                    struct mx_answer *a)
{
	memset(a, 0, sizeof *a);
	ns_msg msg;
	if (len > NS_MAXMSG || ns_initparse(pkt, (int)len, &msg) < 0)
		return -1;
	a->rcode = ns_msg_getflag(msg, ns_f_rcode);
	/* ns_initparse has walked every section, so the count is backed by
	 * the packet; the cap bounds the memory */
	int count = ns_msg_count(msg, ns_s_an);
	for (int i = 0; i < count && a->n < MX_ANSWER_MAX; i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
			mx_answer_free(a);
			return -1;
		}
		if ((int)ns_rr_type(rr) != qtype || ns_rr_class(rr) != ns_c_in)
			continue;
		int pref;
		char *v = answer_value(&msg, &rr, qtype, &pref);
		if (!v)
			continue;
		if (!a->recs) {
			a->recs = calloc(MX_ANSWER_MAX, sizeof *a->recs);
			if (!a->recs) {
				free(v);
				mx_answer_free(a);
				return -1;
			}
		}
		a->recs[a->n++] = (struct mx_record){v, pref};
	}
	return 0;
}

/* ---- the resolver ---- */

static time_t now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Parses "addr", "addr:port", "[v6]:port", "[v6]" or a bare IPv6 address
 * (more than one colon: no port) into ss. Returns 0 or -1. */
static int resolver_address(const char *spec, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	size_t hlen;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end)
			return -1;
		hlen = (size_t)(end - spec - 1);
		spec++;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(spec, ':');
		hlen = strlen(spec);
		if (colon && !strchr(colon + 1, ':')) {
			hlen = (size_t)(colon - spec);
			port = colon + 1;
		}
	}
	if (hlen == 0 || hlen >= sizeof host)
		return -1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	unsigned long p = 53;
	if (port) {
		char *end;
		errno = 0;
		p = strtoul(port, &end, 10);
		if (!isdigit((unsigned char)port[0]) || *end || errno || p == 0
		    || p > 65535)
			return -1;
	}
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
	} else {
		return -1;
	}
	return 0;
}

/* Points the state at one nameserver. An IPv6 one goes where res_ninit
 * itself puts them (_u._ext.nsaddrs, freed by res_nclose), with
 * nsaddr_list's family left 0 so glibc looks there. */
static int resolver_set_server(res_state st, const struct sockaddr_storage *ss)
{
	st->nscount = 1;
	if (ss->ss_family == AF_INET) {
		memcpy(&st->nsaddr_list[0], ss, sizeof(struct sockaddr_in));
		return 0;
	}
	struct sockaddr_in6 *six = malloc(sizeof *six);
	if (!six)
		return -1;
	memcpy(six, ss, sizeof *six);
	free(st->_u._ext.nsaddrs[0]);
	st->_u._ext.nsaddrs[0] = six;
	memset(&st->nsaddr_list[0], 0, sizeof st->nsaddr_list[0]);
	return 0;
}

static int resolver_open(struct resolver *res, const char *spec, int timeout,
                         struct buf *why)
{
	memset(res, 0, sizeof *res);
	struct sockaddr_storage ss;
	if (spec && resolver_address(spec, &ss) < 0) {
		buf_printf(why, "resolver \"%s\" is not an address[:port]", spec);
		return -1;
	}
	res->pkt = malloc(NS_MAXMSG);
	if (!res->pkt || res_ninit(&res->st) < 0) {
		free(res->pkt);
		buf_printf(why, "cannot set up the DNS resolver");
		return -1;
	}
	if (spec && resolver_set_server(&res->st, &ss) < 0) {
		res_nclose(&res->st);
		free(res->pkt);
		buf_printf(why, "out of memory");
		return -1;
	}
	res->timeout = timeout > 0 ? timeout : MX_TIMEOUT_DEFAULT;
	res->st.retrans = res->timeout;
	res->st.retry = MX_RETRY;
	res->st.options &= ~(unsigned long)(RES_USEVC | RES_DNSRCH | RES_DEFNAMES);
	res->deadline = now_seconds() + (time_t)res->timeout * MX_BUDGET_QUERIES;
	return 0;
}

static void resolver_close(struct resolver *res)
{
	res_nclose(&res->st);
	free(res->pkt);
}

/* Asks for name's records of type qtype; fills a on Q_OK. */
static enum query_result resolver_query(struct resolver *res, const char *name,
                                        int qtype, struct mx_answer *a)
{
	memset(a, 0, sizeof *a);
	if (now_seconds() >= res->deadline) {
		res->temp_why = "DNS lookups took too long";
		return Q_TEMP;
	}
	memset(res->pkt, 0, NS_HFIXEDSZ);
	int n = res_nquery(&res->st, name, ns_c_in, qtype, res->pkt, NS_MAXMSG);
	if (n < 0) {
		switch (res->st.res_h_errno) {
		case HOST_NOT_FOUND:
			return Q_NXDOMAIN;
		case NO_DATA:
			return Q_NODATA;
		default:
			break;
		}
		/* glibc leaves the last reply in the buffer when it was an
		 * error; an untouched (zero) header means nothing came back */
		int rcode = res->pkt[3] & 0x0f;
		if (!(res->pkt[2] & 0x80))
			res->temp_why = "DNS timed out";
		else if (rcode == ns_r_servfail)
			res->temp_why = "DNS server failure (SERVFAIL)";
		else if (rcode == ns_r_refused)
			res->temp_why = "DNS query refused";
		else
			res->temp_why = "DNS lookup failed";
		return Q_TEMP;
	}
	if (n > NS_MAXMSG)
		n = NS_MAXMSG;
	if (mx_parse_answer(res->pkt, (size_t)n, qtype, a) < 0) {
		res->temp_why = "malformed DNS reply";
		return Q_TEMP;
	}
	if (a->n == 0) {
		mx_answer_free(a);
		return Q_NODATA;
	}
	return Q_OK;
}

/* ---- routes ---- */

static void host_free(struct mx_host *h)
{
	free(h->name);
	for (size_t i = 0; i < h->naddrs; i++)
		free(h->addrs[i]);
	free(h->addrs);
}

void mx_route_free(struct mx_route *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		host_free(&r->hosts[i]);
	free(r->hosts);
	memset(r, 0, sizeof *r);
}

/* Adds addr to h unless present or h is full. Returns 0 or -1 (memory). */
static int host_add_addr(struct mx_host *h, const char *addr)
{
	if (h->naddrs >= MX_ADDRS_MAX)
		return 0;
	for (size_t i = 0; i < h->naddrs; i++)
		if (strcmp(h->addrs[i], addr) == 0)
			return 0;
	if (!h->addrs) {
		h->addrs = calloc(MX_ADDRS_MAX, sizeof *h->addrs);
		if (!h->addrs)
			return -1;
	}
	if (!(h->addrs[h->naddrs] = strdup(addr)))
		return -1;
	h->naddrs++;
	return 0;
}

/* Appends a host without addresses; returns it, or NULL (memory). */
static struct mx_host *route_add(struct mx_route *r, const char *name, int pref)
{
	if (!r->hosts) {
		r->hosts = calloc(MX_HOSTS_MAX, sizeof *r->hosts);
		if (!r->hosts)
			return NULL;
	}
	if (r->n >= MX_HOSTS_MAX)
		return NULL;
	struct mx_host *h = &r->hosts[r->n];
	memset(h, 0, sizeof *h);
	if (!(h->name = strdup(name)))
		return NULL;
	h->pref = pref;
	r->n++;
	return h;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" into the numeric address (out,
 * INET6_ADDRSTRLEN bytes). Returns 0, or -1 when s is no such literal. */
static int address_literal(const char *s, char *out)
{
	size_t len = strlen(s);
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return -1;
	char inner[INET6_ADDRSTRLEN + 8];
	if (len - 2 >= sizeof inner)
		return -1;
	memcpy(inner, s + 1, len - 2);
	inner[len - 2] = '\0';
	unsigned char bin[16];
	if (strncasecmp(inner, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, inner + 5, bin) != 1)
			return -1;
		return inet_ntop(AF_INET6, bin, out, INET6_ADDRSTRLEN) ? 0 : -1;
	}
	if (inet_pton(AF_INET, inner, bin) != 1)
		return -1;
	return inet_ntop(AF_INET, bin, out, INET6_ADDRSTRLEN) ? 0 : -1;
}

/* A plain numeric address (a smarthost "192.0.2.1" or "2001:db8::1"). */
static int address_numeric(const char *s, char *out)
{
	unsigned char bin[16];
	if (inet_pton(AF_INET, s, bin) == 1)
		return inet_ntop(AF_INET, bin, out, INET6_ADDRSTRLEN) ? 0 : -1;
	if (inet_pton(AF_INET6, s, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, INET6_ADDRSTRLEN) ? 0 : -1;
	return -1;
}

/* A route of one host at a known address. */
static enum mx_status route_literal(const char *addr, struct mx_route *r,
                                    struct buf *why)
{
	struct mx_host *h = route_add(r, addr, 0);
	if (!h || host_add_addr(h, addr) < 0) {
		mx_route_free(r);
		buf_printf(why, "%s: out of memory", addr);
		return MX_TEMP;
	}
	r->implicit = 1;
	return MX_OK;
}

/* Looks up h's AAAA then A records. Returns 0 when addresses were found
 * or the lookups failed for good, 1 when both said NXDOMAIN, -1 when out
 * of memory. Sets h->temp when it has no address and a lookup failed
 * temporarily. */
static int host_resolve(struct resolver *res, struct mx_host *h)
{
	static const int types[2] = {ns_t_aaaa, ns_t_a};
	struct mx_answer ans[2];
	enum query_result q[2];
	q[0] = resolver_query(res, h->name, types[0], &ans[0]);
	if (q[0] == Q_NXDOMAIN) {
		/* no name, no A either */
		memset(&ans[1], 0, sizeof ans[1]);
		q[1] = Q_NXDOMAIN;
	} else {
		q[1] = resolver_query(res, h->name, types[1], &ans[1]);
	}
	/* keep a few IPv4 addresses even behind many IPv6 ones */
	size_t n4 = ans[1].n < MX_ADDRS_V4_MIN ? ans[1].n : MX_ADDRS_V4_MIN;
	size_t room6 = MX_ADDRS_MAX - n4;
	int rc = 0;
	for (size_t i = 0; i < ans[0].n && i < room6 && rc == 0; i++)
		rc = host_add_addr(h, ans[0].recs[i].value);
	for (size_t i = 0; i < ans[1].n && rc == 0; i++)
		rc = host_add_addr(h, ans[1].recs[i].value);
	mx_answer_free(&ans[0]);
	mx_answer_free(&ans[1]);
	if (rc < 0)
		return -1;
	if (h->naddrs == 0 && (q[0] == Q_TEMP || q[1] == Q_TEMP))
		h->temp = 1;
	return q[0] == Q_NXDOMAIN && q[1] == Q_NXDOMAIN ? 1 : 0;
}

/* Drops hosts that have neither addresses nor a temporary failure, then
 * says what is left: MX_OK, MX_TEMP (only temp hosts) or MX_NOHOST. */
static enum mx_status route_finish(struct mx_route *r)
{
	size_t kept = 0;
	int temp = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct mx_host *h = &r->hosts[i];
		if (h->naddrs == 0 && !h->temp) {
			host_free(h);
			continue;
		}
		temp |= h->temp;
		r->hosts[kept++] = *h;
	}
	r->n = kept;
	for (size_t i = 0; i < r->n; i++)
		if (r->hosts[i].naddrs > 0)
			return MX_OK;
	return temp ? MX_TEMP : MX_NOHOST;
}

/* ---- MX ---- */

struct mx_candidate {
	const char *name;
	int pref;
	uint64_t order;         /* random: shuffles equal preferences */
};

static int candidate_cmp(const void *a, const void *b)
{
	const struct mx_candidate *x = a, *y = b;
	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Builds r's hosts from the MX records: null MX check, preference order
 * with equal ones shuffled, duplicates and the root dropped, at most
 * MX_HOSTS_MAX. Returns MX_OK with r->n possibly 0, MX_NULL, or MX_TEMP
 * (memory). */
static enum mx_status route_from_mx(const struct mx_answer *a,
                                    struct mx_route *r)
{
	if (a->n == 1 && a->recs[0].value[0] == '\0' && a->recs[0].pref == 0)
		return MX_NULL;
	struct mx_candidate c[MX_ANSWER_MAX];
	size_t n = 0;
	for (size_t i = 0; i < a->n && n < MX_ANSWER_MAX; i++) {
		if (a->recs[i].value[0] == '\0')
			continue;       /* a "." among real MX: ignored */
		c[n++] = (struct mx_candidate){a->recs[i].value, a->recs[i].pref,
		                               fs_random64()};
	}
	qsort(c, n, sizeof *c, candidate_cmp);
	for (size_t i = 0; i < n && r->n < MX_HOSTS_MAX; i++) {
		int seen = 0;
		for (size_t j = 0; j < r->n && !seen; j++)
			seen = strcmp(r->hosts[j].name, c[i].name) == 0;
		if (!seen && !route_add(r, c[i].name, c[i].pref))
			return MX_TEMP;
	}
	return MX_OK;
}

/* Resolves every host of r, in order. Returns 0 or -1 (memory). */
static int route_resolve_hosts(struct resolver *res, struct mx_route *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (host_resolve(res, &r->hosts[i]) < 0)
			return -1;
	return 0;
}

/* No MX: the domain's own addresses, as a host of preference 0. */
static enum mx_status route_implicit(struct resolver *res, const char *domain,
                                     struct mx_route *r, struct buf *why)
{
	struct mx_host *h = route_add(r, domain, 0);
	int rc = h ? host_resolve(res, h) : -1;
	if (rc < 0) {
		buf_printf(why, "%s: out of memory", domain);
		return MX_TEMP;
	}
	r->implicit = 1;
	if (h->naddrs > 0)
		return MX_OK;
	if (h->temp) {
		buf_printf(why, "%s: %s", domain,
		           res->temp_why ? res->temp_why : "temporary DNS failure");
		return MX_TEMP;
	}
	buf_printf(why, "%s: no MX and no address records", domain);
	return MX_NOHOST;
}

static enum mx_status mx_resolve_dns(struct resolver *res, const char *domain,
                                     struct mx_route *r, struct buf *why)
{
	struct mx_answer a;
	enum query_result q = resolver_query(res, domain, ns_t_mx, &a);
	switch (q) {
	case Q_NXDOMAIN:
		buf_printf(why, "%s: no such domain (NXDOMAIN)", domain);
		return MX_NXDOMAIN;
	case Q_TEMP:
		buf_printf(why, "%s: %s", domain,
		           res->temp_why ? res->temp_why : "temporary DNS failure");
		return MX_TEMP;
	case Q_NODATA:
		return route_implicit(res, domain, r, why);
	case Q_OK:
		break;
	}
	enum mx_status s = route_from_mx(&a, r);
	mx_answer_free(&a);
	if (s == MX_NULL) {
		buf_printf(why, "%s: the domain accepts no mail (null MX)", domain);
		return s;
	}
	if (s != MX_OK || route_resolve_hosts(res, r) < 0) {
		buf_printf(why, "%s: out of memory", domain);
		return MX_TEMP;
	}
	s = route_finish(r);
	if (s == MX_TEMP)
		buf_printf(why, "%s: address lookups of its MX hosts failed: %s",
		           domain, res->temp_why ? res->temp_why : "temporary");
	else if (s == MX_NOHOST)
		buf_printf(why, "%s: none of its MX hosts has an address", domain);
	return s;
}

/* One host name (a smarthost, an MX given by hand): its addresses into
 * r as one implicit host. */
static enum mx_status host_resolve_dns(struct resolver *res, const char *name,
                                       struct mx_route *r, struct buf *why)
{
	struct mx_host *h = route_add(r, name, 0);
	int rc = h ? host_resolve(res, h) : -1;
	r->implicit = 1;
	if (rc < 0) {
		buf_printf(why, "%s: out of memory", name);
		return MX_TEMP;
	}
	if (h->naddrs > 0)
		return MX_OK;
	if (h->temp) {
		buf_printf(why, "%s: %s", name,
		           res->temp_why ? res->temp_why : "temporary DNS failure");
		return MX_TEMP;
	}
	if (rc == 1) {
		buf_printf(why, "%s: no such host (NXDOMAIN)", name);
		return MX_NXDOMAIN;
	}
	buf_printf(why, "%s: no address records", name);
	return MX_NOHOST;
}

/* A lookup of a normalised name through an open resolver, into r. */
typedef enum mx_status (*name_lookup_fn)(struct resolver *res,
                                         const char *name, struct mx_route *r,
                                         struct buf *why);

/* What mx_resolve and mx_resolve_host share for a name: normalises it
 * (what: "domain" or "host", for the complaint), opens the resolver, runs
 * lookup and frees r when that fails. */
static enum mx_status resolve_name(const char *given, const char *what,
                                   const char *resolver, int timeout,
                                   name_lookup_fn lookup, struct mx_route *r,
                                   struct buf *why)
{
	char name[MX_NAME_MAX + 1];
	if (name_normalize(given, name) < 0) {
		buf_printf(why, "%.300s: not a valid %s name", given, what);
		return MX_NXDOMAIN;
	}
	struct resolver res;
	if (resolver_open(&res, resolver, timeout, why) < 0)
		return MX_TEMP;
	enum mx_status s = lookup(&res, name, r, why);
	resolver_close(&res);
	if (s != MX_OK)
		mx_route_free(r);
	return s;
}

enum mx_status mx_resolve(const char *domain, const char *resolver,
                          int timeout, struct mx_route *r, struct buf *why)
{
	memset(r, 0, sizeof *r);
	char addr[INET6_ADDRSTRLEN];
	if (domain[0] == '[') {
		if (address_literal(domain, addr) < 0) {
			buf_printf(why, "%.300s: not a valid address literal", domain);
			return MX_NOHOST;
		}
		return route_literal(addr, r, why);
	}
	return resolve_name(domain, "domain", resolver, timeout, mx_resolve_dns,
	                    r, why);
}

enum mx_status mx_resolve_host(const char *host, const char *resolver,
                               int timeout, struct mx_route *r,
                               struct buf *why)
{
	memset(r, 0, sizeof *r);
	char addr[INET6_ADDRSTRLEN];
	if (address_literal(host, addr) == 0 || address_numeric(host, addr) == 0)
		return route_literal(addr, r, why);
	return resolve_name(host, "host", resolver, timeout, host_resolve_dns, r,
	                    why);
}
