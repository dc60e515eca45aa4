/* outbound: handing one queued message to the server of one destination
 * (RFC 5321 5 and 4.5.4): find the route (a smarthost from the transport
 * table, else DNS MX through mx.h), try the hosts in order until one takes
 * the transaction, speak SMTP with smtpc (EHLO, STARTTLS when offered or
 * required, AUTH to a smarthost, SIZE, 8BITMIME/SMTPUTF8, PIPELINING), and
 * sort every recipient into delivered, failed (5xx: bounce now) or deferred
 * (4xx, connection or TLS trouble, DNS timeout: retry later). Blocking: the
 * queue manager runs it on a worker thread. */
#ifndef POSTHORN_OUTBOUND_H
#define POSTHORN_OUTBOUND_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/net.h"
#include "mx.h"

enum outbound_tls {
	OUTBOUND_TLS_MAY,        /* STARTTLS when offered, certificate not
	                          * checked (opportunistic, RFC 3207 4.1) */
	OUTBOUND_TLS_NONE,       /* never */
	OUTBOUND_TLS_ENCRYPT,    /* STARTTLS required, certificate not checked */
	OUTBOUND_TLS_VERIFY,     /* STARTTLS required and the certificate must
	                          * verify for the host name */
	OUTBOUND_TLS_IMPLICIT,   /* TLS from the first byte (smarthost port
	                          * 465), verified */
};

/* Where and how: from the transport table, or DNS with defaults. */
struct outbound_route {
	const char *smarthost;   /* "host" or NULL: MX lookup of the domain */
	int port;                /* 25 for MX; the smarthost's port */
	enum outbound_tls tls;
	const char *auth_user;   /* AUTH to the smarthost, or NULL */
	const char *auth_password;
	const char *ca_file;     /* extra trust for verify, or NULL */
};

enum outbound_result {
	OUTBOUND_DELIVERED,
	OUTBOUND_FAILED,         /* permanent: bounce this recipient */
	OUTBOUND_DEFERRED,       /* temporary: try again later */
};

struct outbound_rcpt {
	const char *address;     /* the caller's */
	const char *notify;      /* DSN NOTIFY to pass on when the server has
	                          * DSN, or NULL */
	const char *orcpt;
	enum outbound_result result;  /* set by outbound_deliver */
	char status[16];         /* "2.0.0", "5.1.1", "4.4.1"... */
	struct buf reply;        /* the server's reply ("550 5.1.1 ...") or
	                          * our own words ("connection refused by
	                          * mx.example.org[192.0.2.1]"); owned */
	char remote_mta[256];    /* the host that answered, or "" */
	int from_server;         /* reply is the server's own ("Diagnostic-
	                          * Code: smtp; ..."), not our words */
};

struct outbound_job {
	const char *domain;      /* the recipients' domain (lowercase) */
	const char *helo;        /* our host name for EHLO */
	const char *sender;      /* envelope sender, "" for <> */
	const char *msg_path;    /* the queued message file */
	int eightbit;            /* BODY=8BITMIME needed */
	int smtputf8;            /* SMTPUTF8 needed */
	const char *envid, *ret; /* DSN parameters to pass on, or NULL */
	const struct outbound_route *route;
	const char *resolver;    /* "addr[:port]" or NULL */
	int timeout;             /* seconds per SMTP command (RFC 5321 4.5.3.2
	                          * gives minutes; 0: 300) */
	struct outbound_rcpt *rcpts;
	size_t nrcpts;
	net_trace_fn trace;      /* optional transcript for logs/tests */
	void *trace_arg;
};

/* Delivers job->msg_path to every recipient of job (all of one domain), in
 * one transaction where the server allows. Fills each recipient's result,
 * status, reply and remote_mta. Tries the next host after a connection
 * failure, a 4xx greeting/EHLO/MAIL, or a TLS failure; recipients still
 * deferred after the last host stay deferred. A message needing 8BITMIME
 * or SMTPUTF8 that the server lacks fails (5.6.3 / 5.6.7) rather than
 * being damaged. Returns the number delivered; never fails as a whole.
 * The finer points (the unit tests hold each of them):
 * - a recipient a server answered for (2xx/4xx/5xx to RCPT, or a refused
 *   DATA or final dot for those it had accepted) is decided: a 4xx there
 *   is not tried on the next host in the same call; a 4xx/5xx greeting or
 *   EHLO, a 4xx to MAIL, no connection, TLS trouble or a connection lost
 *   mid-transaction (4.4.2) go on to the next address and host;
 * - TLS MAY whose handshake fails reconnects to the same address once in
 *   the clear (RFC 3207 4.1: opportunistic TLS would send in the clear to
 *   a host without STARTTLS anyway); a 454 to STARTTLS goes on in the
 *   clear on the same session; ENCRYPT/VERIFY defer with 4.7.0 (not
 *   offered, refused) or 4.7.5 (handshake, certificate);
 * - a refused AUTH or a smarthost that does not resolve defers (4.7.8,
 *   4.4.3): configuration errors the admin fixes without mail bouncing;
 * - DNS: NXDOMAIN fails 5.1.2, null MX 5.1.10, no host 5.4.4, a DNS
 *   failure defers 4.4.3; a host whose addresses failed temporarily 4.4.3;
 * - the message file is mapped read-only (queue files never change after
 *   they are written; truncating one under a delivery would be SIGBUS);
 *   unreadable: every recipient deferred 4.3.0;
 * - DSN parameters (NOTIFY, ORCPT, RET, ENVID) go out when the server
 *   offers DSN and are dropped otherwise (no "relayed" DSN is made);
 * - the connect timeout is min(timeout, 30 s); every command, the data and
 *   the final reply get job->timeout. */
size_t outbound_deliver(struct outbound_job *job);

/* outbound_deliver with the route already found: the hosts of r in order
 * (the queue manager may resolve itself; the tests use it with numeric
 * addresses). job->route still gives port, TLS policy and AUTH. Same
 * results and return. */
size_t outbound_deliver_hosts(struct outbound_job *job,
                              const struct mx_route *r);

/* Frees r->reply (the only thing outbound_deliver allocates in it). */
void outbound_rcpt_free(struct outbound_rcpt *r);

#endif
