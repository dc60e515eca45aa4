/* Unit tests for src/smtp/mx: mx_resolve against a tiny fake DNS server
 * (UDP on loopback, port 0, in a thread) that answers from a table with
 * packets built by hand, name compression included; and mx_parse_answer
 * on truncated, corrupted and hostile packets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../src/smtp/mx.h"

/* ---- packets ---- */

struct pkt {
	unsigned char b[4096];
	size_t len;
	const char *qname;      /* for compression pointers into the question */
};

static void put(struct pkt *p, const void *d, size_t n)
{
	assert_true(p->len + n <= sizeof p->b);
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void put16(struct pkt *p, unsigned v)
{
	unsigned char d[2] = {(unsigned char)(v >> 8), (unsigned char)v};
	put(p, d, 2);
}

static void put32(struct pkt *p, unsigned long v)
{
	put16(p, (unsigned)(v >> 16) & 0xffff);
	put16(p, (unsigned)v & 0xffff);
}

static void pkt_header(struct pkt *p, unsigned id, int rcode, unsigned qd,
                       unsigned an)
{
	p->len = 0;
	put16(p, id);
	put16(p, 0x8580 | (unsigned)rcode);  /* QR AA RD RA */
	put16(p, qd);
	put16(p, an);
	put16(p, 0);
	put16(p, 0);
}

/* A name in wire form; a suffix that is also a suffix of the question's
 * name becomes a pointer to it (the question starts at offset 12, and a
 * dotted name's position maps to its wire offset one to one). */
static void pkt_name(struct pkt *p, const char *name)
{
	size_t qlen = p->qname ? strlen(p->qname) : 0;
	const char *s = name;
	if (strcmp(s, ".") == 0)
		s = "";
	while (*s) {
		size_t rest = strlen(s);
		if (p->qname && rest <= qlen
		    && strcasecmp(p->qname + qlen - rest, s) == 0
		    && (rest == qlen || p->qname[qlen - rest - 1] == '.')) {
			put16(p, 0xc000 | (unsigned)(12 + qlen - rest));
			return;
		}
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : rest;
		unsigned char l = (unsigned char)n;
		put(p, &l, 1);
		put(p, s, n);
		s += n + (dot ? 1 : 0);
	}
	put(p, "", 1);
}

static void pkt_question(struct pkt *p, const char *qname, int qtype)
{
	p->qname = NULL;        /* the question itself is written in full */
	pkt_name(p, qname);
	put16(p, (unsigned)qtype);
	put16(p, ns_c_in);
	p->qname = qname;
}

struct rec {
	const char *name;       /* NULL: the question's name */
	int type;               /* 0 ends a list */
	int pref;
	const char *data;       /* MX/CNAME target, A/AAAA address */
};

static void pkt_rr(struct pkt *p, const struct rec *r)
{
	pkt_name(p, r->name ? r->name : p->qname);
	put16(p, (unsigned)r->type);
	put16(p, ns_c_in);
	put32(p, 300);
	size_t at = p->len;
	put16(p, 0);            /* rdlength, filled in below */
	unsigned char addr[16];
	if (r->type == ns_t_a) {
		assert_int_equal(inet_pton(AF_INET, r->data, addr), 1);
		put(p, addr, 4);
	} else if (r->type == ns_t_aaaa) {
		assert_int_equal(inet_pton(AF_INET6, r->data, addr), 1);
		put(p, addr, 16);
	} else if (r->type == ns_t_mx) {
		put16(p, (unsigned)r->pref);
		pkt_name(p, r->data);
	} else {
		pkt_name(p, r->data);
	}
	size_t rdlen = p->len - at - 2;
	p->b[at] = (unsigned char)(rdlen >> 8);
	p->b[at + 1] = (unsigned char)rdlen;
}

static void pkt_reply(struct pkt *p, unsigned id, const char *qname, int qtype,
                      int rcode, const struct rec *rrs)
{
	unsigned n = 0;
	while (rrs && rrs[n].type)
		n++;
	pkt_header(p, id, rcode, 1, n);
	pkt_question(p, qname, qtype);
	for (unsigned i = 0; i < n; i++)
		pkt_rr(p, &rrs[i]);
}

/* ---- the fake server ---- */

enum act { ANSWER, SILENT, TRUNCATED };

#define RRS_MAX 32

struct entry {
	const char *name;       /* NULL ends the table */
	int qtype;
	int rcode;
	enum act act;
	struct rec rrs[RRS_MAX];
};

struct dns {
	int fd;
	char addr[64];          /* "127.0.0.1:port" for mx_resolve */
	const struct entry *table;
	atomic_int stop;
	atomic_int queries;
	pthread_t thread;
};

/* Reads the question's name and type; -1 when the query is not one. */
static int query_parse(const unsigned char *q, size_t len, char *name,
                       size_t max, int *qtype)
{
	size_t at = 12, out = 0;
	if (len < 12)
		return -1;
	while (at < len && q[at]) {
		size_t l = q[at++];
		if (l > 63 || at + l > len || out + l + 2 > max)
			return -1;
		if (out)
			name[out++] = '.';
		memcpy(name + out, q + at, l);
		out += l;
		at += l;
	}
	name[out] = '\0';
	if (at + 5 > len)
		return -1;
	*qtype = (q[at + 1] << 8) | q[at + 2];
	return 0;
}

/* The entry for (name, type); *known says whether the name has any. */
static const struct entry *dns_find(const struct dns *d, const char *name,
                                    int qtype, int *known)
{
	*known = 0;
	for (const struct entry *e = d->table; e && e->name; e++) {
		if (strcasecmp(e->name, name) != 0)
			continue;
		*known = 1;
		if (e->qtype == qtype)
			return e;
	}
	return NULL;
}

static void dns_answer(struct dns *d, const unsigned char *q, size_t qlen,
                       struct sockaddr_storage *from, socklen_t fromlen)
{
	char name[256];
	int qtype, known;
	if (query_parse(q, qlen, name, sizeof name, &qtype) < 0)
		return;
	atomic_fetch_add(&d->queries, 1);
	const struct entry *e = dns_find(d, name, qtype, &known);
	if (e && e->act == SILENT)
		return;
	struct pkt p;
	unsigned id = (q[0] << 8) | q[1];
	if (e)
		pkt_reply(&p, id, name, qtype, e->rcode, e->rrs);
	else
		pkt_reply(&p, id, name, qtype, known ? ns_r_noerror : ns_r_nxdomain,
		          NULL);
	if (e && e->act == TRUNCATED)
		p.len -= 3;     /* the header still counts the cut record */
	sendto(d->fd, p.b, p.len, 0, (struct sockaddr *)from, fromlen);
}

static void *dns_run(void *arg)
{
	struct dns *d = arg;
	unsigned char q[1500];
	while (!atomic_load(&d->stop)) {
		struct pollfd pfd = {d->fd, POLLIN, 0};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof from;
		ssize_t n = recvfrom(d->fd, q, sizeof q, 0, (struct sockaddr *)&from,
		                     &fromlen);
		if (n > 0)
			dns_answer(d, q, (size_t)n, &from, fromlen);
	}
	return NULL;
}

/* Starts a server on 127.0.0.1 (or ::1 when v6) port 0 answering from
 * table; NULL when that family is not available. */
static struct dns *dns_start_family(const struct entry *table, int v6)
{
	struct dns *d = calloc(1, sizeof *d);
	assert_non_null(d);
	d->table = table;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sl;
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof *s4;
	}
	d->fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&ss, sl) < 0) {
		if (d->fd >= 0)
			close(d->fd);
		free(d);
		return NULL;
	}
	assert_int_equal(getsockname(d->fd, (struct sockaddr *)&ss, &sl), 0);
	if (v6)
		snprintf(d->addr, sizeof d->addr, "[::1]:%u",
		         ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	else
		snprintf(d->addr, sizeof d->addr, "127.0.0.1:%u",
		         ntohs(((struct sockaddr_in *)&ss)->sin_port));
	assert_int_equal(pthread_create(&d->thread, NULL, dns_run, d), 0);
	return d;
}

static struct dns *dns_start(const struct entry *table)
{
	struct dns *d = dns_start_family(table, 0);
	assert_non_null(d);
	return d;
}

static void dns_stop(struct dns *d)
{
	atomic_store(&d->stop, 1);
	pthread_join(d->thread, NULL);
	close(d->fd);
	free(d);
}

/* Runs mx_resolve against d; checks the route/why contract both ways. */
static enum mx_status resolve(struct dns *d, const char *domain, int timeout,
                              struct mx_route *r, struct buf *why)
{
	buf_reset(why);
	enum mx_status s = mx_resolve(domain, d ? d->addr : "127.0.0.1:9",
	                              timeout, r, why);
	if (s == MX_OK) {
		assert_true(r->n > 0);
		assert_int_equal(why->len, 0);
	} else {
		assert_int_equal(r->n, 0);
		assert_null(r->hosts);
		assert_true(why->len > 0);
	}
	return s;
}

/* One mx_resolve of domain against a fake server answering from t, which
 * must end in want; query_end frees and stops everything. */
struct query {
	struct dns *d;
	struct mx_route r;
	struct buf why;
};

static void query_run(struct query *q, const struct entry *t,
                      const char *domain, int timeout, enum mx_status want)
{
	q->d = dns_start(t);
	q->why = (struct buf)BUF_INIT;
	assert_int_equal(resolve(q->d, domain, timeout, &q->r, &q->why), want);
}

static void query_end(struct query *q)
{
	mx_route_free(&q->r);
	buf_free(&q->why);
	dns_stop(q->d);
}

#define MX(pref, host) {NULL, ns_t_mx, pref, host}
#define A(addr) {NULL, ns_t_a, 0, addr}
#define AAAA(addr) {NULL, ns_t_aaaa, 0, addr}

/* ---- routing ---- */

static void test_two_mx_in_preference_order(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER,
		 {MX(20, "mx2.example.org"), MX(10, "MX1.Example.org")}},
		{"mx1.example.org", ns_t_a, 0, ANSWER, {A("192.0.2.1")}},
		{"mx2.example.org", ns_t_a, 0, ANSWER, {A("192.0.2.2")}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "Example.ORG.", 2, MX_OK);
	assert_int_equal(q.r.n, 2);
	assert_false(q.r.implicit);
	assert_string_equal(q.r.hosts[0].name, "mx1.example.org");
	assert_int_equal(q.r.hosts[0].pref, 10);
	assert_int_equal(q.r.hosts[0].naddrs, 1);
	assert_string_equal(q.r.hosts[0].addrs[0], "192.0.2.1");
	assert_false(q.r.hosts[0].temp);
	assert_string_equal(q.r.hosts[1].name, "mx2.example.org");
	assert_int_equal(q.r.hosts[1].pref, 20);
	assert_string_equal(q.r.hosts[1].addrs[0], "192.0.2.2");
	mx_route_free(&q.r);
	mx_route_free(&q.r);      /* twice is harmless */
	query_end(&q);
}

static void test_equal_preferences_shuffled(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER,
		 {MX(10, "a.example.org"), MX(10, "b.example.org"),
		  MX(5, "first.example.org")}},
		{"a.example.org", ns_t_a, 0, ANSWER, {A("192.0.2.1")}},
		{"b.example.org", ns_t_a, 0, ANSWER, {A("192.0.2.2")}},
		{"first.example.org", ns_t_a, 0, ANSWER, {A("192.0.2.3")}},
		{NULL},
	};
	struct dns *d = dns_start(t);
	struct buf why = BUF_INIT;
	int a_first = 0, b_first = 0;
	for (int i = 0; i < 50; i++) {
		struct mx_route r;
		assert_int_equal(resolve(d, "example.org", 2, &r, &why), MX_OK);
		assert_int_equal(r.n, 3);
		assert_string_equal(r.hosts[0].name, "first.example.org");
		if (strcmp(r.hosts[1].name, "a.example.org") == 0)
			a_first++;
		else if (strcmp(r.hosts[1].name, "b.example.org") == 0)
			b_first++;
		mx_route_free(&r);
	}
	assert_int_equal(a_first + b_first, 50);
	assert_true(a_first > 0);
	assert_true(b_first > 0);
	buf_free(&why);
	dns_stop(d);
}

static void test_no_mx_uses_address(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_a, 0, ANSWER, {A("192.0.2.9")}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_OK);
	assert_true(q.r.implicit);
	assert_int_equal(q.r.n, 1);
	assert_string_equal(q.r.hosts[0].name, "example.org");
	assert_int_equal(q.r.hosts[0].pref, 0);
	assert_int_equal(q.r.hosts[0].naddrs, 1);
	assert_string_equal(q.r.hosts[0].addrs[0], "192.0.2.9");
	query_end(&q);
}

static void test_no_mx_no_address(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_txt, 0, ANSWER, {{0}}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_NOHOST);
	assert_string_equal(buf_cstr(&q.why), "example.org: no MX and no address records");
	query_end(&q);
}

static void test_nxdomain(void **state)
{
	(void)state;
	static const struct entry t[] = {{NULL}};
	struct query q;
	query_run(&q, t, "nowhere.example", 2, MX_NXDOMAIN);
	assert_string_equal(buf_cstr(&q.why),
	                    "nowhere.example: no such domain (NXDOMAIN)");
	query_end(&q);
}

static void test_servfail_is_temporary(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, ns_r_servfail, ANSWER, {{0}}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_TEMP);
	assert_non_null(strstr(buf_cstr(&q.why), "example.org: "));
	assert_non_null(strstr(buf_cstr(&q.why), "SERVFAIL"));
	query_end(&q);
}

static void test_refused_is_temporary(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, ns_r_refused, ANSWER, {{0}}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_TEMP);
	assert_non_null(strstr(buf_cstr(&q.why), "example.org: "));
	query_end(&q);
}

static void test_timeout(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, SILENT, {{0}}},
		{NULL},
	};
	time_t start = time(NULL);
	struct query q;
	query_run(&q, t, "example.org", 1, MX_TEMP);
	assert_true(time(NULL) - start <= 6);
	assert_string_equal(buf_cstr(&q.why), "example.org: DNS timed out");
	assert_int_equal(atomic_load(&q.d->queries), 2);    /* one retry */
	query_end(&q);
}

static void test_malformed_reply_is_temporary(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, TRUNCATED, {MX(10, "mx.example.org")}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 1, MX_TEMP);
	assert_non_null(strstr(buf_cstr(&q.why), "example.org: "));
	query_end(&q);
}

static void test_null_mx(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER, {MX(0, ".")}},
		{"example.org", ns_t_a, 0, ANSWER, {A("192.0.2.1")}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_NULL);
	assert_string_equal(buf_cstr(&q.why),
	                    "example.org: the domain accepts no mail (null MX)");
	assert_int_equal(atomic_load(&q.d->queries), 1);
	query_end(&q);
}

static void test_null_mx_among_others_ignored(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER,
		 {MX(0, "."), MX(10, "mx.example.org")}},
		{"mx.example.org", ns_t_a, 0, ANSWER, {A("192.0.2.1")}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_OK);
	assert_int_equal(q.r.n, 1);
	assert_string_equal(q.r.hosts[0].name, "mx.example.org");
	query_end(&q);
}

static void test_mx_host_without_address(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER,
		 {MX(10, "gone.example.org"), MX(20, "noaddr.example.org")}},
		{"noaddr.example.org", ns_t_txt, 0, ANSWER, {{0}}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_NOHOST);
	assert_string_equal(buf_cstr(&q.why),
	                    "example.org: none of its MX hosts has an address");
	query_end(&q);
}

static void test_mx_host_servfail(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER, {MX(10, "mx.example.org")}},
		{"mx.example.org", ns_t_a, ns_r_servfail, ANSWER, {{0}}},
		{"mx.example.org", ns_t_aaaa, ns_r_servfail, ANSWER, {{0}}},
		{"other.example", ns_t_mx, 0, ANSWER,
		 {MX(10, "mx.example.org"), MX(20, "good.example")}},
		{"good.example", ns_t_aaaa, 0, ANSWER, {AAAA("2001:db8::25")}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_TEMP);
	assert_string_equal(buf_cstr(&q.why),
	                    "example.org: address lookups of its MX hosts failed: "
	                    "DNS server failure (SERVFAIL)");
	/* with another host that works, the failed one stays, marked temp */
	assert_int_equal(resolve(q.d, "other.example", 2, &q.r, &q.why), MX_OK);
	assert_int_equal(q.r.n, 2);
	assert_string_equal(q.r.hosts[0].name, "mx.example.org");
	assert_true(q.r.hosts[0].temp);
	assert_int_equal(q.r.hosts[0].naddrs, 0);
	assert_false(q.r.hosts[1].temp);
	assert_string_equal(q.r.hosts[1].addrs[0], "2001:db8::25");
	query_end(&q);
}

static void test_aaaa_and_a(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER, {MX(10, "mx.example.org")}},
		{"mx.example.org", ns_t_a, 0, ANSWER,
		 {A("192.0.2.1"), A("192.0.2.2"), A("192.0.2.1")}},
		{"mx.example.org", ns_t_aaaa, 0, ANSWER, {AAAA("2001:DB8:0::1")}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_OK);
	assert_int_equal(q.r.hosts[0].naddrs, 3);     /* the duplicate dropped */
	assert_string_equal(q.r.hosts[0].addrs[0], "2001:db8::1");
	assert_string_equal(q.r.hosts[0].addrs[1], "192.0.2.1");
	assert_string_equal(q.r.hosts[0].addrs[2], "192.0.2.2");
	query_end(&q);
}

static void test_cname_and_ip_mx(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER,
		 {MX(10, "alias.example.org"), MX(20, "192.0.2.77")}},
		{"alias.example.org", ns_t_a, 0, ANSWER,
		 {{NULL, ns_t_cname, 0, "real.example.net"},
		  {"real.example.net", ns_t_a, 0, "192.0.2.5"}}},
		{NULL},
	};
	struct query q;
	query_run(&q, t, "example.org", 2, MX_OK);
	assert_int_equal(q.r.n, 1);   /* "192.0.2.77" has no A record here */
	assert_string_equal(q.r.hosts[0].name, "alias.example.org");
	assert_string_equal(q.r.hosts[0].addrs[0], "192.0.2.5");
	query_end(&q);
}

static void test_limits(void **state)
{
	(void)state;
	/* 30 MX records (10 duplicates of one host), 20 AAAA and 12 A */
	static struct entry t[4];
	static char names[30][32];
	memset(t, 0, sizeof t);
	t[0] = (struct entry){"example.org", ns_t_mx, 0, ANSWER, {{0}}};
	for (int i = 0; i < 30; i++) {
		snprintf(names[i], sizeof names[i], "mx%d.example.org",
		         i < 10 ? 0 : i);
		t[0].rrs[i] = (struct rec){NULL, ns_t_mx, i, names[i]};
	}
	static char v6[20][64], v4[12][32];
	t[1] = (struct entry){"mx0.example.org", ns_t_aaaa, 0, ANSWER, {{0}}};
	t[2] = (struct entry){"mx0.example.org", ns_t_a, 0, ANSWER, {{0}}};
	for (int i = 0; i < 20; i++) {
		snprintf(v6[i], sizeof v6[i], "2001:db8::%d", i + 1);
		t[1].rrs[i] = (struct rec){NULL, ns_t_aaaa, 0, v6[i]};
	}
	for (int i = 0; i < 12; i++) {
		snprintf(v4[i], sizeof v4[i], "192.0.2.%d", i + 1);
		t[2].rrs[i] = (struct rec){NULL, ns_t_a, 0, v4[i]};
	}
	struct query q;
	query_run(&q, t, "example.org", 2, MX_OK);
	/* only mx0 has addresses; the others (no such name) are dropped */
	assert_int_equal(q.r.n, 1);
	assert_string_equal(q.r.hosts[0].name, "mx0.example.org");
	assert_int_equal(q.r.hosts[0].naddrs, 16);
	assert_string_equal(q.r.hosts[0].addrs[0], "2001:db8::1");
	assert_string_equal(q.r.hosts[0].addrs[7], "2001:db8::8");
	assert_string_equal(q.r.hosts[0].addrs[8], "192.0.2.1");
	/* 1 MX, then 20 hosts at most, 2 lookups each (NXDOMAIN: 1) */
	assert_int_equal(atomic_load(&q.d->queries), 1 + 2 + 19);
	query_end(&q);
}

static void test_address_literals(void **state)
{
	(void)state;
	struct mx_route r;
	struct buf why = BUF_INIT;
	/* no server at all: a literal needs no DNS */
	assert_int_equal(resolve(NULL, "[192.0.2.1]", 1, &r, &why), MX_OK);
	assert_int_equal(r.n, 1);
	assert_true(r.implicit);
	assert_string_equal(r.hosts[0].name, "192.0.2.1");
	assert_string_equal(r.hosts[0].addrs[0], "192.0.2.1");
	mx_route_free(&r);
	assert_int_equal(resolve(NULL, "[IPv6:2001:DB8::0:1]", 1, &r, &why), MX_OK);
	assert_string_equal(r.hosts[0].addrs[0], "2001:db8::1");
	mx_route_free(&r);
	assert_int_equal(resolve(NULL, "[ipv6:::1]", 1, &r, &why), MX_OK);
	assert_string_equal(r.hosts[0].addrs[0], "::1");
	mx_route_free(&r);
	static const char *bad[] = {"[300.1.1.1]", "[2001:db8::1]", "[]",
	                            "[IPv6:192.0.2.1]", "[192.0.2.1", "[1.2.3.4]x"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(resolve(NULL, bad[i], 1, &r, &why), MX_NOHOST);
		assert_non_null(strstr(buf_cstr(&why), bad[i]));
	}
	buf_free(&why);
}

static void test_bad_names_and_resolvers(void **state)
{
	(void)state;
	struct mx_route r;
	struct buf why = BUF_INIT;
	static const char *bad[] = {"", ".", "a..b", "-x y", "ex\\ample.org",
	                            "a.b..", "\x01.org"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(resolve(NULL, bad[i], 1, &r, &why), MX_NXDOMAIN);
	char longname[300];
	memset(longname, 'a', sizeof longname);
	longname[299] = '\0';
	assert_int_equal(resolve(NULL, longname, 1, &r, &why), MX_NXDOMAIN);
	static const char *resolvers[] = {"nameserver", "127.0.0.1:", "127.0.0.1:0",
	                                  "127.0.0.1:70000", "[::1", "[::1]x",
	                                  "1.2.3.4:53x", ""};
	for (size_t i = 0; i < sizeof resolvers / sizeof *resolvers; i++) {
		buf_reset(&why);
		assert_int_equal(mx_resolve("example.org", resolvers[i], 1, &r, &why),
		                 MX_TEMP);
		assert_int_equal(r.n, 0);
		assert_non_null(strstr(buf_cstr(&why), "resolver"));
	}
	buf_free(&why);
}

static void test_ipv6_nameserver(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"example.org", ns_t_mx, 0, ANSWER, {MX(10, "mx.example.org")}},
		{"mx.example.org", ns_t_a, 0, ANSWER, {A("192.0.2.1")}},
		{NULL},
	};
	struct dns *d = dns_start_family(t, 1);
	if (!d)
		skip();
	struct mx_route r;
	struct buf why = BUF_INIT;
	assert_int_equal(resolve(d, "example.org", 2, &r, &why), MX_OK);
	assert_string_equal(r.hosts[0].addrs[0], "192.0.2.1");
	mx_route_free(&r);
	buf_free(&why);
	dns_stop(d);
}

/* mx_resolve_host(name) through d is MX_OK with one host whose first
 * address is addr; host (when not NULL) is its name, naddrs (when > 0)
 * how many addresses it has. */
static void host_is(struct dns *d, const char *name, const char *host,
                    const char *addr, size_t naddrs)
{
	struct mx_route r;
	struct buf why = BUF_INIT;
	assert_int_equal(mx_resolve_host(name, d->addr, 2, &r, &why), MX_OK);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.hosts[0].addrs[0], addr);
	if (host)
		assert_string_equal(r.hosts[0].name, host);
	if (naddrs)
		assert_int_equal(r.hosts[0].naddrs, naddrs);
	mx_route_free(&r);
	buf_free(&why);
}

/* mx_resolve_host(name) through d fails with want, why starting with
 * (or, exact set, being) text. */
static void host_fails(struct dns *d, const char *name, enum mx_status want,
                       const char *text, int exact)
{
	struct mx_route r;
	struct buf why = BUF_INIT;
	assert_int_equal(mx_resolve_host(name, d->addr, 2, &r, &why), want);
	assert_int_equal(r.n, 0);
	if (exact)
		assert_string_equal(buf_cstr(&why), text);
	else
		assert_non_null(strstr(buf_cstr(&why), text));
	buf_free(&why);
}

static void test_resolve_host(void **state)
{
	(void)state;
	static const struct entry t[] = {
		{"smart.example.net", ns_t_aaaa, 0, ANSWER, {AAAA("2001:db8::2")}},
		{"smart.example.net", ns_t_a, 0, ANSWER, {A("192.0.2.2")}},
		{"noaddr.example.net", ns_t_mx, 0, ANSWER, {MX(1, "x.example.net")}},
		{"broken.example.net", ns_t_a, ns_r_servfail, ANSWER, {{0}}},
		{NULL},
	};
	struct dns *d = dns_start(t);
	host_is(d, "Smart.Example.NET.", "smart.example.net", "2001:db8::2", 2);
	/* addresses need no DNS */
	int before = atomic_load(&d->queries);
	host_is(d, "192.0.2.25", NULL, "192.0.2.25", 0);
	host_is(d, "2001:db8::0:3", NULL, "2001:db8::3", 0);
	host_is(d, "[192.0.2.26]", NULL, "192.0.2.26", 0);
	assert_int_equal(atomic_load(&d->queries), before);
	host_fails(d, "gone.example.net", MX_NXDOMAIN,
	           "gone.example.net: no such host (NXDOMAIN)", 1);
	host_fails(d, "noaddr.example.net", MX_NOHOST,
	           "noaddr.example.net: no address records", 1);
	host_fails(d, "broken.example.net", MX_TEMP, "broken.example.net: ", 0);
	dns_stop(d);
}

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(mx_status_name(MX_OK), "ok");
	assert_string_equal(mx_status_name(MX_NXDOMAIN), "nxdomain");
	assert_string_equal(mx_status_name(MX_NULL), "null-mx");
	assert_string_equal(mx_status_name(MX_NOHOST), "no-host");
	assert_string_equal(mx_status_name(MX_TEMP), "temporary");
}

/* ---- mx_parse_answer on hostile packets ---- */

static const struct rec GOOD[] = {
	{NULL, ns_t_cname, 0, "elsewhere.example.org"},
	{NULL, ns_t_mx, 10, "mx1.example.org"},
	{NULL, ns_t_mx, 20, "MX2.OTHER.example"},
	{NULL, ns_t_a, 0, "192.0.2.1"},
	{0},
};

static void test_parse_good(void **state)
{
	(void)state;
	struct pkt p;
	pkt_reply(&p, 7, "example.org", ns_t_mx, 0, GOOD);
	struct mx_answer a;
	assert_int_equal(mx_parse_answer(p.b, p.len, ns_t_mx, &a), 0);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.recs[0].value, "mx1.example.org");
	assert_int_equal(a.recs[0].pref, 10);
	assert_string_equal(a.recs[1].value, "mx2.other.example");
	mx_answer_free(&a);
	assert_int_equal(mx_parse_answer(p.b, p.len, ns_t_a, &a), 0);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.recs[0].value, "192.0.2.1");
	mx_answer_free(&a);
	pkt_reply(&p, 7, "example.org", ns_t_mx, ns_r_nxdomain, NULL);
	assert_int_equal(mx_parse_answer(p.b, p.len, ns_t_mx, &a), 0);
	assert_int_equal(a.rcode, ns_r_nxdomain);
	assert_int_equal(a.n, 0);
	assert_null(a.recs);
}

/* Every prefix and every single-byte change of a good packet: parsed or
 * refused, never a crash (the sanitizer build checks the reads). */
static void test_parse_truncated_and_flipped(void **state)
{
	(void)state;
	struct pkt p;
	pkt_reply(&p, 7, "example.org", ns_t_mx, 0, GOOD);
	struct mx_answer a;
	for (size_t len = 0; len < p.len; len++) {
		unsigned char *copy = malloc(len ? len : 1);    /* exact size */
		memcpy(copy, p.b, len);
		/* the header's counts promise more than is there */
		assert_int_equal(mx_parse_answer(copy, len, ns_t_mx, &a), -1);
		assert_int_equal(a.n, 0);
		assert_null(a.recs);
		free(copy);
	}
	unsigned char *copy = malloc(p.len);
	for (size_t i = 0; i < p.len; i++) {
		for (int v = 0; v < 256; v++) {
			memcpy(copy, p.b, p.len);
			copy[i] = (unsigned char)v;
			if (mx_parse_answer(copy, p.len, ns_t_mx, &a) == 0)
				assert_true(a.n <= 4);
			for (size_t k = 0; k < a.n; k++)
				assert_true(strlen(a.recs[k].value) <= 253);
			mx_answer_free(&a);
		}
	}
	free(copy);
}

static void test_parse_hostile(void **state)
{
	(void)state;
	struct mx_answer a;
	struct pkt p;
	/* a count far beyond the packet */
	pkt_header(&p, 1, 0, 1, 65535);
	pkt_question(&p, "example.org", ns_t_mx);
	assert_int_equal(mx_parse_answer(p.b, p.len, ns_t_mx, &a), -1);
	/* an exchange that points at itself */
	pkt_header(&p, 1, 0, 1, 1);
	pkt_question(&p, "example.org", ns_t_mx);
	put16(&p, 0xc00c);
	put16(&p, ns_t_mx);
	put16(&p, ns_c_in);
	put32(&p, 1);
	put16(&p, 4);
	put16(&p, 10);
	put16(&p, 0xc000 | (unsigned)p.len);
	assert_int_equal(mx_parse_answer(p.b, p.len, ns_t_mx, &a), 0);
	assert_int_equal(a.n, 0);
	mx_answer_free(&a);
	/* MX data too short; an exchange running past its data; an A of 5
	 * bytes; another class; a name with a control byte and a space */
	pkt_header(&p, 1, 0, 1, 6);
	pkt_question(&p, "example.org", ns_t_mx);
	const unsigned char bad[][40] = {
		{0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 1, 0, 2, 0, 10},
		{0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 1, 0, 3, 0, 10, 2},
		{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5},
		{0xc0, 12, 0, 15, 0, 3, 0, 0, 0, 1, 0, 5, 0, 10, 1, 'x', 0},
		{0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 1, 0, 6, 0, 10, 2, 'm', 1, 0},
		{0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 1, 0, 7, 0, 10, 3, 'a', ' ', 'b', 0},
	};
	const size_t lens[] = {14, 15, 17, 17, 18, 19};
	for (size_t i = 0; i < 6; i++)
		put(&p, bad[i], lens[i]);
	assert_int_equal(mx_parse_answer(p.b, p.len, ns_t_mx, &a), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(mx_parse_answer(p.b, p.len, ns_t_a, &a), 0);
	assert_int_equal(a.n, 0);
	/* more records than are kept */
	struct rec many[80];
	for (int i = 0; i < 79; i++)
		many[i] = (struct rec){NULL, ns_t_mx, i, "mx.example.org"};
	many[79] = (struct rec){0};
	pkt_reply(&p, 1, "example.org", ns_t_mx, 0, many);
	assert_int_equal(mx_parse_answer(p.b, p.len, ns_t_mx, &a), 0);
	assert_int_equal(a.n, MX_ANSWER_MAX);
	mx_answer_free(&a);
	/* random bytes */
	unsigned seed = 12345;
	unsigned char junk[600];
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand_r(&seed) % (int)sizeof junk);
		for (size_t i = 0; i < len; i++)
			junk[i] = (unsigned char)rand_r(&seed);
		if (mx_parse_answer(junk, len, round & 1 ? ns_t_a : ns_t_mx, &a) == 0)
			mx_answer_free(&a);
		else
			assert_int_equal(a.n, 0);
	}
	assert_int_equal(mx_parse_answer(junk, 70000, ns_t_mx, &a), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_mx_in_preference_order),
		cmocka_unit_test(test_equal_preferences_shuffled),
		cmocka_unit_test(test_no_mx_uses_address),
		cmocka_unit_test(test_no_mx_no_address),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_servfail_is_temporary),
		cmocka_unit_test(test_refused_is_temporary),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_malformed_reply_is_temporary),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_null_mx_among_others_ignored),
		cmocka_unit_test(test_mx_host_without_address),
		cmocka_unit_test(test_mx_host_servfail),
		cmocka_unit_test(test_aaaa_and_a),
		cmocka_unit_test(test_cname_and_ip_mx),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_address_literals),
		cmocka_unit_test(test_bad_names_and_resolvers),
		cmocka_unit_test(test_ipv6_nameserver),
		cmocka_unit_test(test_resolve_host),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_truncated_and_flipped),
		cmocka_unit_test(test_parse_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
