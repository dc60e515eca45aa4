/* net: a blocking client connection for the protocol clients (the posthorn
 * mail client's SMTP submission and POP3 fetch, and later the outbound
 * queue's SMTP client): name resolution, connect with a timeout, TLS from
 * the first byte or upgraded later (STARTTLS/STLS) with certificate and
 * host name verification, bounded line reads, and a transcript hook that
 * prints the dialogue the way the seeds write it ("C: ..." / "S: ...").
 * Every failure is sorted into a class (enum net_err) so callers can tell
 * the user what happened and what to do; the text says it in words. */
#ifndef POSTHORN_NET_H
#define POSTHORN_NET_H

#include <stddef.h>

#include "buf.h"

enum net_err {
	NET_OK = 0,
	NET_ERR_DNS,         /* the host name does not resolve */
	NET_ERR_REFUSED,     /* every address refused the connection */
	NET_ERR_TIMEOUT,     /* connect or a read/write took longer than allowed */
	NET_ERR_UNREACHABLE, /* network or host unreachable, other connect errors */
	NET_ERR_TLS_VERIFY,  /* the server's certificate is not trusted or not
	                      * for this host name */
	NET_ERR_TLS,         /* the TLS handshake or a TLS read/write failed */
	NET_ERR_CLOSED,      /* the server closed the connection */
	NET_ERR_IO,          /* another read/write error */
	NET_ERR_PROTOCOL,    /* a line over the limit, NUL bytes... */
	NET_ERR_MEMORY,
};

enum net_tls_mode {
	NET_TLS_NONE,        /* plain text (an upgrade may follow) */
	NET_TLS_IMPLICIT,    /* TLS from the first byte (smtps 465, pop3s 995) */
};

/* Who writes the transcript: dir is 'C' for what we send, 'S' for what the
 * server sent; line is without CRLF. Lines we send marked secret arrive
 * already redacted. */
typedef void (*net_trace_fn)(void *arg, char dir, const char *line,
                             size_t len);

struct net_options {
	int timeout;             /* seconds for connect and for each read or
	                          * write; 0 means 30 */
	const char *ca_file;     /* PEM file of extra trusted certificates
	                          * (a private CA or a self-signed server
	                          * certificate), or NULL: the system's store */
	int insecure;            /* skip certificate verification (still TLS) */
	const char *tls_name;    /* the name the certificate must be valid for
	                          * (and the SNI) when it is not the host given
	                          * to net_connect/net_from_fd, e.g. an MX host
	                          * name while host is one of its numeric
	                          * addresses; NULL: that host. Messages after
	                          * the connect name the server by it too. */
	net_trace_fn trace;      /* NULL: no transcript */
	void *trace_arg;
};

struct net_conn; /* opaque */

/* SIGPIPE: nothing here changes the process's signal state. Plain writes
 * use send() with MSG_NOSIGNAL and TLS runs over our own socket BIO that
 * does the same, so a peer that went away gives NET_ERR_CLOSED, never a
 * signal. */

/* Resolves host (name or numeric address, IPv6 and IPv4) and connects to
 * the first address that answers on port; with NET_TLS_IMPLICIT it also
 * does the TLS handshake and verifies the certificate against host. Returns
 * a connection, or NULL with *err set and a sentence appended to why
 * ("cannot connect to mail.example.org port 587: connection refused").
 * opt may be NULL (defaults). The options are copied. */
struct net_conn *net_connect(const char *host, int port,
                             enum net_tls_mode tls,
                             const struct net_options *opt,
                             enum net_err *err, struct buf *why);

/* Wraps a socket that is already connected (tests, a socketpair, an
 * inherited descriptor) as a plain connection; host is what a later
 * net_starttls verifies the certificate against. The fd is made
 * non-blocking and belongs to the connection from then on (closed by
 * net_close, also when this fails). NULL when out of memory. */
struct net_conn *net_from_fd(int fd, const char *host,
                             const struct net_options *opt);

/* Changes the per-read/write timeout (seconds, 0 means 30), e.g. a short
 * one for the goodbye of a session. */
void net_set_timeout(struct net_conn *c, int seconds);

/* Starts TLS on a plain connection (after STARTTLS/STLS got its positive
 * reply), verifying the certificate against the host given to net_connect.
 * Drops anything buffered from before the handshake (RFC 3207 5: the
 * client must discard it). NET_OK, or the error with a sentence in why. */
enum net_err net_starttls(struct net_conn *c, struct buf *why);

/* Nonzero when the connection is encrypted. */
int net_is_tls(const struct net_conn *c);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or "" for plain text; lives as long as c. */
const char *net_tls_desc(const struct net_conn *c);

/* Sends line plus CRLF (line must not contain CR or LF). secret nonzero:
 * the transcript shows "C: <redacted>" (or secret_shown when not NULL, e.g.
 * "AUTH PLAIN <redacted>"). NET_OK or the error with a sentence in why. */
enum net_err net_send_line(struct net_conn *c, const char *line, int secret,
                           const char *secret_shown, struct buf *why);

/* Sends bytes as they are (message data), untraced except for a summary
 * line the caller may trace itself with net_trace. */
enum net_err net_send(struct net_conn *c, const void *data, size_t len,
                      struct buf *why);

/* Reads one line into line (reset first) without its line end (CRLF or a
 * bare LF). Lines longer than max bytes fail with NET_ERR_PROTOCOL. The
 * line is traced as "S: ..." unless quiet is set (message bodies). */
enum net_err net_read_line(struct net_conn *c, struct buf *line, size_t max,
                           int quiet, struct buf *why);

/* Writes a line to the transcript (e.g. "C: <4096 bytes of message>"). */
void net_trace(struct net_conn *c, char dir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Closes the socket (with a TLS close_notify when possible) and frees c;
 * *c becomes NULL. Safe on NULL. */
void net_close(struct net_conn **c);

/* "host name not found", "connection refused"... for messages. */
const char *net_err_name(enum net_err e);

#endif
