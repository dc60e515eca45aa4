/* net: the blocking client connection of net.h. The socket is always
 * non-blocking; every wait is a poll() with the connection's timeout, so
 * plain text and TLS time out alike. TLS runs over a small socket BIO of
 * our own whose writes use MSG_NOSIGNAL: no SIGPIPE without touching the
 * process's signal handlers. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define NET_READ_BUF 16384
#define NET_DEFAULT_TIMEOUT 30

struct net_conn {
	int fd;
	char *host;
	char *ca_file;
	struct net_options opt;  /* ca_file points at our copy */
	SSL_CTX *ctx;
	SSL *ssl;
	BIO_METHOD *bio_method;  /* per connection: no global state */
	char tls_desc[128];
	char rbuf[NET_READ_BUF];
	size_t rpos, rlen;       /* unread bytes are rbuf[rpos..rlen) */
};

const char *net_err_name(enum net_err e)
{
	switch (e) {
	case NET_OK: return "no error";
	case NET_ERR_DNS: return "host name not found";
	case NET_ERR_REFUSED: return "connection refused";
	case NET_ERR_TIMEOUT: return "timed out";
	case NET_ERR_UNREACHABLE: return "network unreachable";
	case NET_ERR_TLS_VERIFY: return "certificate not trusted";
	case NET_ERR_TLS: return "TLS failure";
	case NET_ERR_CLOSED: return "connection closed by the server";
	case NET_ERR_IO: return "read or write error";
	case NET_ERR_PROTOCOL: return "protocol error";
	case NET_ERR_MEMORY: return "out of memory";
	}
	return "unknown error";
}

static void why_printf(struct buf *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void why_printf(struct buf *why, const char *fmt, ...)
{
	if (!why)
		return;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(why, fmt, ap);
	va_end(ap);
}

static int timeout_ms(int seconds)
{
	int t = seconds > 0 ? seconds : NET_DEFAULT_TIMEOUT;
	if (t > 24 * 3600)
		t = 24 * 3600;
	return t * 1000;
}

static int conn_timeout_ms(const struct net_conn *c)
{
	return timeout_ms(c->opt.timeout);
}

/* Waits until fd is readable (POLLIN) or writable (POLLOUT). NET_OK,
 * NET_ERR_TIMEOUT or NET_ERR_IO. */
static enum net_err wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	for (;;) {
		int n = poll(&p, 1, timeout_ms);
		if (n > 0)
			return NET_OK;  /* POLLERR/POLLHUP: the next call says why */
		if (n == 0)
			return NET_ERR_TIMEOUT;
		if (errno != EINTR)
			return NET_ERR_IO;
	}
}

static void trace_line(struct net_conn *c, char dir, const char *line,
                       size_t len)
{
	if (c->opt.trace)
		c->opt.trace(c->opt.trace_arg, dir, line, len);
}

void net_trace(struct net_conn *c, char dir, const char *fmt, ...)
{
	if (!c || !c->opt.trace)
		return;
	struct buf b;
	buf_init(&b, 4096);
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0)
		trace_line(c, dir, buf_cstr(&b), b.len);
	buf_free(&b);
}

/* ---- the socket BIO: recv/send with MSG_NOSIGNAL, retry on EAGAIN ---- */

static int sockbio_write(BIO *b, const char *data, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = send(fd, data, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int sockbio_read(BIO *b, char *data, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = recv(fd, data, (size_t)len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)n;
}

static int sockbio_puts(BIO *b, const char *s)
{
	return sockbio_write(b, s, (int)strlen(s));
}

static long sockbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DUP:
		return 1;
	default:
		return 0;
	}
}

static int sockbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO *sockbio_new(struct net_conn *c)
{
	if (!c->bio_method) {
		c->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
		                             "posthorn socket");
		if (!c->bio_method
		    || !BIO_meth_set_write(c->bio_method, sockbio_write)
		    || !BIO_meth_set_read(c->bio_method, sockbio_read)
		    || !BIO_meth_set_puts(c->bio_method, sockbio_puts)
		    || !BIO_meth_set_ctrl(c->bio_method, sockbio_ctrl)
		    || !BIO_meth_set_create(c->bio_method, sockbio_create))
			return NULL;
	}
	BIO *b = BIO_new(c->bio_method);
	if (b)
		BIO_set_data(b, (void *)(intptr_t)c->fd);
	return b;
}

/* ---- connection set-up ---- */

static struct net_conn *conn_new(int fd, const char *host,
                                 const struct net_options *opt)
{
	struct net_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->fd = fd;
	if (opt)
		c->opt = *opt;
	if (opt && opt->tls_name)
		host = opt->tls_name;
	c->opt.tls_name = NULL;  /* the caller's string: c->host is our copy */
	c->host = strdup(host ? host : "");
	if (opt && opt->ca_file)
		c->ca_file = strdup(opt->ca_file);
	c->opt.ca_file = c->ca_file;
	if (!c->host || (opt && opt->ca_file && !c->ca_file)) {
		free(c->host);
		free(c->ca_file);
		free(c);
		return NULL;
	}
	return c;
}

struct net_conn *net_from_fd(int fd, const char *host,
                             const struct net_options *opt)
{
	int fl = fcntl(fd, F_GETFL);
	struct net_conn *c = NULL;
	if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
		c = conn_new(fd, host, opt);
	if (!c)
		close(fd);
	return c;
}

void net_set_timeout(struct net_conn *c, int seconds)
{
	if (c)
		c->opt.timeout = seconds;
}

/* One address: a non-blocking connect and a poll. Returns the fd or -1
 * with *e the class and *sys_errno the reason. */
static int connect_one(const struct addrinfo *ai, int timeout_ms,
                       enum net_err *e, int *sys_errno)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                ai->ai_protocol);
	if (fd < 0) {
		*sys_errno = errno;
		*e = NET_ERR_UNREACHABLE;
		return -1;
	}
	int err = 0;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		err = errno;
		if (err == EINPROGRESS) {
			enum net_err w = wait_fd(fd, POLLOUT, timeout_ms);
			socklen_t len = sizeof err;
			if (w == NET_ERR_TIMEOUT)
				err = ETIMEDOUT;
			else if (w != NET_OK)
				err = errno;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
		}
	}
	if (err == 0)
		return fd;
	close(fd);
	*sys_errno = err;
	*e = err == ECONNREFUSED ? NET_ERR_REFUSED
	   : err == ETIMEDOUT ? NET_ERR_TIMEOUT : NET_ERR_UNREACHABLE;
	return -1;
}

/* Ranks the failures of several addresses: a refusal is a definite answer
 * from a host, a timeout says more than "unreachable". */
static int err_rank(enum net_err e)
{
	return e == NET_ERR_REFUSED ? 3 : e == NET_ERR_TIMEOUT ? 2 : 1;
}

static int connect_socket(const char *host, int port, int timeout_ms,
                          enum net_err *err, struct buf *why)
{
	struct addrinfo hints = {0}, *res = NULL;
	char portstr[16];
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (port < 1 || port > 65535) {
		*err = NET_ERR_UNREACHABLE;
		why_printf(why, "cannot connect to %s: %d is not a port number",
		           host, port);
		return -1;
	}
	snprintf(portstr, sizeof portstr, "%d", port);
	int g = getaddrinfo(host, portstr, &hints, &res);
	if (g != 0) {
		*err = g == EAI_MEMORY ? NET_ERR_MEMORY
		     : g == EAI_SYSTEM ? NET_ERR_UNREACHABLE : NET_ERR_DNS;
		why_printf(why, "cannot connect to %s port %d: the host name %s "
		           "does not resolve (%s)", host, port, host,
		           g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return -1;
	}
	enum net_err best = NET_ERR_UNREACHABLE;
	int best_errno = EHOSTUNREACH, seen = 0, fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		enum net_err e;
		int se;
		fd = connect_one(ai, timeout_ms, &e, &se);
		if (fd < 0 && (!seen || err_rank(e) > err_rank(best))) {
			best = e;
			best_errno = se;
			seen = 1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0)
		return fd;
	*err = best;
	if (best == NET_ERR_TIMEOUT)
		why_printf(why, "cannot connect to %s port %d: no answer within "
		           "%d seconds", host, port, timeout_ms / 1000);
	else
		why_printf(why, "cannot connect to %s port %d: %s", host, port,
		           best == NET_ERR_REFUSED ? "connection refused"
		           : strerror(best_errno));
	return -1;
}

struct net_conn *net_connect(const char *host, int port,
                             enum net_tls_mode tls,
                             const struct net_options *opt,
                             enum net_err *err, struct buf *why)
{
	struct net_options defaults = {0};
	if (!opt)
		opt = &defaults;
	*err = NET_OK;
	int fd = connect_socket(host, port, timeout_ms(opt->timeout), err, why);
	if (fd < 0)
		return NULL;
	struct net_conn *c = conn_new(fd, host, opt);
	if (!c) {
		close(fd);
		*err = NET_ERR_MEMORY;
		why_printf(why, "out of memory");
		return NULL;
	}
	if (tls == NET_TLS_IMPLICIT) {
		*err = net_starttls(c, why);
		if (*err != NET_OK) {
			net_close(&c);
			return NULL;
		}
	}
	return c;
}

/* ---- TLS ---- */

static int host_is_ip(const char *host)
{
	unsigned char a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* The reason of the first queued OpenSSL error, or of errno, or fallback;
 * clears the queue. */
static const char *tls_reason(char *out, size_t n, const char *fallback)
{
	unsigned long e = ERR_get_error();
	ERR_clear_error();
	if (e) {
		const char *r = ERR_reason_error_string(e);
		if (r)
			return r;
		ERR_error_string_n(e, out, n);
		return out;
	}
	return fallback;
}

static enum net_err tls_setup(struct net_conn *c, struct buf *why)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* a server that just drops the connection is "closed", not a TLS error */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if (!c->opt.insecure) {
		SSL_CTX_set_default_verify_paths(c->ctx);
		if (c->ca_file
		    && SSL_CTX_load_verify_locations(c->ctx, c->ca_file, NULL) != 1) {
			char tmp[256];
			why_printf(why, "cannot load the trusted certificates of %s: %s",
			           c->ca_file, tls_reason(tmp, sizeof tmp, "unreadable"));
			return NET_ERR_TLS_VERIFY;
		}
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl)
		goto fail;
	BIO *b = sockbio_new(c);
	if (!b)
		goto fail;
	SSL_set_bio(c->ssl, b, b);
	int ip = host_is_ip(c->host);
	if (!ip && c->host[0] && !SSL_set_tlsext_host_name(c->ssl, c->host))
		goto fail;
	if (!c->opt.insecure) {
		int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host)
		            : SSL_set1_host(c->ssl, c->host);
		if (!ok)
			goto fail;
	}
	return NET_OK;
fail:
	ERR_clear_error();
	why_printf(why, "cannot set up TLS for %s: out of memory", c->host);
	return NET_ERR_MEMORY;
}

/* Whether a failed SSL call should wait and retry: NET_OK after the wait,
 * else the error class (why filled). */
static enum net_err tls_wait(struct net_conn *c, int ret, const char *what,
                             struct buf *why)
{
	int e = SSL_get_error(c->ssl, ret);
	char tmp[256];
	enum net_err w;
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
		            conn_timeout_ms(c));
		if (w == NET_ERR_TIMEOUT)
			why_printf(why, "%s did not answer within %d seconds (%s)",
			           c->host, conn_timeout_ms(c) / 1000, what);
		else if (w != NET_OK)
			why_printf(why, "%s with %s failed: %s", what, c->host,
			           strerror(errno));
		return w;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		why_printf(why, "%s closed the connection", c->host);
		return NET_ERR_CLOSED;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			int se = errno;
			if (ret == 0 || se == 0 || se == EPIPE || se == ECONNRESET) {
				why_printf(why, "%s closed the connection", c->host);
				return NET_ERR_CLOSED;
			}
			why_printf(why, "%s with %s failed: %s", what, c->host,
			           strerror(se));
			return NET_ERR_IO;
		}
		/* fall through */
	default:
		why_printf(why, "%s with %s failed: %s", what, c->host,
		           tls_reason(tmp, sizeof tmp, "TLS error"));
		return NET_ERR_TLS;
	}
}

static enum net_err tls_verify_error(struct net_conn *c, struct buf *why)
{
	long v = SSL_get_verify_result(c->ssl);
	ERR_clear_error();
	const char *reason = X509_verify_cert_error_string(v);
	if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
		why_printf(why, "the certificate of %s is not valid for that name: %s",
		           c->host, reason);
	else
		why_printf(why, "the certificate of %s is not trusted: %s",
		           c->host, reason);
	return NET_ERR_TLS_VERIFY;
}

enum net_err net_starttls(struct net_conn *c, struct buf *why)
{
	if (c->ssl) {
		why_printf(why, "TLS is already active with %s", c->host);
		return NET_ERR_PROTOCOL;
	}
	/* RFC 3207 5: nothing read before the handshake may be used */
	c->rpos = c->rlen = 0;
	ERR_clear_error();
	enum net_err e = tls_setup(c, why);
	if (e != NET_OK)
		return e;
	for (;;) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		if (!c->opt.insecure && SSL_get_verify_result(c->ssl) != X509_V_OK)
			return tls_verify_error(c, why);
		e = tls_wait(c, r, "the TLS handshake", why);
		if (e != NET_OK)
			return e == NET_ERR_CLOSED ? NET_ERR_TLS : e;
	}
	if (!c->opt.insecure && SSL_get_verify_result(c->ssl) != X509_V_OK)
		return tls_verify_error(c, why);
	snprintf(c->tls_desc, sizeof c->tls_desc, "%s %s",
	         SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	return NET_OK;
}

int net_is_tls(const struct net_conn *c)
{
	return c && c->ssl && c->tls_desc[0];
}

const char *net_tls_desc(const struct net_conn *c)
{
	return c ? c->tls_desc : "";
}

/* ---- reading and writing ---- */

static enum net_err write_all(struct net_conn *c, const char *p, size_t n,
                              struct buf *why)
{
	while (n > 0) {
		size_t chunk = n > (1u << 30) ? (1u << 30) : n;
		if (c->ssl) {
			size_t done = 0;
			ERR_clear_error();
			int r = SSL_write_ex(c->ssl, p, chunk, &done);
			if (r == 1) {
				p += done;
				n -= done;
				continue;
			}
			enum net_err e = tls_wait(c, r, "sending", why);
			if (e != NET_OK)
				return e;
			continue;
		}
		ssize_t w = send(c->fd, p, chunk, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			enum net_err e = wait_fd(c->fd, POLLOUT, conn_timeout_ms(c));
			if (e == NET_ERR_TIMEOUT)
				why_printf(why, "%s took no data for %d seconds", c->host,
				           conn_timeout_ms(c) / 1000);
			else if (e != NET_OK)
				why_printf(why, "sending to %s failed: %s", c->host,
				           strerror(errno));
			if (e != NET_OK)
				return e;
			continue;
		}
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			why_printf(why, "%s closed the connection", c->host);
			return NET_ERR_CLOSED;
		}
		why_printf(why, "sending to %s failed: %s", c->host,
		           w < 0 ? strerror(errno) : "nothing written");
		return NET_ERR_IO;
	}
	return NET_OK;
}

/* Refills rbuf (which must be empty). NET_OK with rlen > 0, or the error. */
static enum net_err fill(struct net_conn *c, struct buf *why)
{
	c->rpos = c->rlen = 0;
	for (;;) {
		if (c->ssl) {
			size_t got = 0;
			ERR_clear_error();
			int r = SSL_read_ex(c->ssl, c->rbuf, sizeof c->rbuf, &got);
			if (r == 1) {
				c->rlen = got;
				return NET_OK;
			}
			enum net_err e = tls_wait(c, r, "reading", why);
			if (e != NET_OK)
				return e;
			continue;
		}
		ssize_t n = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
		if (n > 0) {
			c->rlen = (size_t)n;
			return NET_OK;
		}
		if (n == 0 || errno == ECONNRESET) {
			why_printf(why, "%s closed the connection", c->host);
			return NET_ERR_CLOSED;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			why_printf(why, "reading from %s failed: %s", c->host,
			           strerror(errno));
			return NET_ERR_IO;
		}
		enum net_err e = wait_fd(c->fd, POLLIN, conn_timeout_ms(c));
		if (e == NET_ERR_TIMEOUT)
			why_printf(why, "%s did not answer within %d seconds", c->host,
			           conn_timeout_ms(c) / 1000);
		else if (e != NET_OK)
			why_printf(why, "reading from %s failed: %s", c->host,
			           strerror(errno));
		if (e != NET_OK)
			return e;
	}
}

enum net_err net_send(struct net_conn *c, const void *data, size_t len,
                      struct buf *why)
{
	return write_all(c, data, len, why);
}

enum net_err net_send_line(struct net_conn *c, const char *line, int secret,
                           const char *secret_shown, struct buf *why)
{
	size_t n = strlen(line);
	if (memchr(line, '\r', n) || memchr(line, '\n', n)) {
		why_printf(why, "refusing to send a line with a line break in it");
		return NET_ERR_PROTOCOL;
	}
	struct buf out;
	buf_init(&out, 0);
	if (buf_append(&out, line, n) < 0 || buf_append(&out, "\r\n", 2) < 0) {
		buf_free(&out);
		why_printf(why, "out of memory");
		return NET_ERR_MEMORY;
	}
	if (!secret)
		trace_line(c, 'C', line, n);
	else {
		const char *shown = secret_shown ? secret_shown : "<redacted>";
		trace_line(c, 'C', shown, strlen(shown));
	}
	enum net_err e = write_all(c, out.data, out.len, why);
	if (secret && out.data)
		explicit_bzero(out.data, out.cap);
	buf_free(&out);
	return e;
}

static enum net_err line_too_long(struct net_conn *c, size_t max,
                                  struct buf *why)
{
	why_printf(why, "%s sent a line longer than %zu bytes", c->host, max);
	return NET_ERR_PROTOCOL;
}

enum net_err net_read_line(struct net_conn *c, struct buf *line, size_t max,
                           int quiet, struct buf *why)
{
	buf_reset(line);
	for (;;) {
		if (c->rpos == c->rlen) {
			enum net_err e = fill(c, why);
			if (e != NET_OK)
				return e;
		}
		const char *p = c->rbuf + c->rpos;
		size_t avail = c->rlen - c->rpos;
		const char *lf = memchr(p, '\n', avail);
		size_t take = lf ? (size_t)(lf - p) : avail;
		/* max bytes of text plus a CR that may belong to the CRLF */
		if (line->len + take > max && line->len + take - max > 1)
			return line_too_long(c, max, why);
		if (memchr(p, '\0', take)) {
			why_printf(why, "%s sent a line with a NUL byte in it", c->host);
			return NET_ERR_PROTOCOL;
		}
		if (buf_append(line, p, take) < 0) {
			if (line->max && line->len + take > line->max)
				return line_too_long(c, line->max, why);
			why_printf(why, "out of memory");
			return NET_ERR_MEMORY;
		}
		c->rpos += take + (lf ? 1 : 0);
		if (!lf)
			continue;
		if (line->len > 0 && line->data[line->len - 1] == '\r')
			line->len--;
		if (line->len > max)
			return line_too_long(c, max, why);
		if (!quiet)
			trace_line(c, 'S', buf_cstr(line), line->len);
		return NET_OK;
	}
}

void net_close(struct net_conn **cp)
{
	struct net_conn *c = cp ? *cp : NULL;
	if (!c)
		return;
	if (c->ssl) {
		/* one close_notify on the non-blocking socket; never wait for
		 * the peer's */
		if (c->tls_desc[0])
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	SSL_CTX_free(c->ctx);
	BIO_meth_free(c->bio_method);
	if (c->fd >= 0)
		close(c->fd);
	free(c->host);
	free(c->ca_file);
	free(c);
	*cp = NULL;
}
