/* mx: where mail for a domain goes (RFC 5321 5.1): the MX records in
 * preference order (random among equal preferences), the domain's own
 * A/AAAA records when it has no MX ("implicit MX"), a null MX (RFC 7505)
 * that refuses mail, and the addresses of each host. Lookups go to the
 * nameserver given ("addr[:port]", so tests can run their own) or the
 * system's (/etc/resolv.conf). Blocking, thread-safe (a resolver state per
 * call): the queue manager runs it on a worker thread, so the event loop
 * never waits on DNS. */
#ifndef POSTHORN_MX_H
#define POSTHORN_MX_H

#include <stddef.h>

#include "../lib/buf.h"

enum mx_status {
	MX_OK,          /* hosts found */
	MX_NXDOMAIN,    /* the domain does not exist: bounce (5.1.2) */
	MX_NULL,        /* null MX "0 .": the domain takes no mail (5.1.10) */
	MX_NOHOST,      /* no MX and no A/AAAA, or no MX host has an address:
	                 * bounce (5.4.4) */
	MX_TEMP,        /* timeout, SERVFAIL, refused: retry later (4.4.3) */
};

struct mx_host {
	char *name;     /* the MX host name, lowercase, no final dot; owned */
	int pref;       /* MX preference; 0 for an implicit MX */
	char **addrs;   /* numeric IPv6 and IPv4 addresses, IPv6 first; owned */
	size_t naddrs;
	int temp;       /* its address lookup failed temporarily (naddrs 0) */
};

struct mx_route {
	struct mx_host *hosts;  /* in the order to try them; owned */
	size_t n;
	int implicit;           /* no MX: the domain's own addresses */
};

/* Finds where mail for domain goes. domain may be an address literal
 * "[192.0.2.1]" or "[IPv6:2001:db8::1]" (one host, no DNS). resolver is
 * "addr[:port]" (IPv4, "[IPv6]:port" or a bare IPv6 address) or NULL;
 * timeout is seconds per query attempt (0: 5; two attempts). At most 20
 * hosts, 16 addresses each; lookups stop after about 10 timeouts in all and
 * the hosts left unresolved are kept as temp. Returns the
 * status; MX_OK fills r (free with mx_route_free; zeroed by the call in
 * every case). Any other status appends a sentence to why ("example.org:
 * no such domain (NXDOMAIN)", "example.org: DNS timed out"). Hosts whose
 * address lookups all failed temporarily are kept (temp set) so the caller
 * can tell "retry" from "no host". */
enum mx_status mx_resolve(const char *domain, const char *resolver,
                          int timeout, struct mx_route *r, struct buf *why);

/* The addresses of one host (a smarthost), as a route of one host. A
 * numeric host needs no DNS. Same statuses (MX_NXDOMAIN, MX_NOHOST...). */
enum mx_status mx_resolve_host(const char *host, const char *resolver,
                               int timeout, struct mx_route *r,
                               struct buf *why);

void mx_route_free(struct mx_route *r);

/* "ok", "nxdomain", "null-mx", "no-host", "temporary". */
const char *mx_status_name(enum mx_status s);

/* ---- for tests and the fuzz harness ---- */

/* One record of the type asked for, from a reply's answer section. */
struct mx_record {
	char *value;    /* MX: the exchange, lowercase, no final dot ("" for
	                 * the root "."); A/AAAA: the numeric address; owned */
	int pref;       /* MX preference; 0 for A/AAAA */
};

/* Records kept from one reply; more in the answer are ignored. */
#define MX_ANSWER_MAX 64

struct mx_answer {
	struct mx_record *recs; /* in packet order; owned */
	size_t n;
	int rcode;              /* the reply's RCODE (ns_r_nxdomain...) */
};

/* Parses a DNS reply packet of len bytes and keeps the class IN answer
 * records of type qtype (ns_t_mx, ns_t_a or ns_t_aaaa), skipping others
 * (CNAMEs) and records whose data is malformed or whose exchange is not a
 * plausible host name. Returns 0 and fills a (zeroed first; free with
 * mx_answer_free), or -1 when the packet itself is malformed (a is then
 * empty). Never reads outside pkt. */
int mx_parse_answer(const unsigned char *pkt, size_t len, int qtype,
                    struct mx_answer *a);

void mx_answer_free(struct mx_answer *a);

#endif
