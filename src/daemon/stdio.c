/* stdio: one session on file descriptors 0 and 1 (see stdio.h).
 * Input is read with read(2) in chunks and fed as it comes; every reply
 * batch is written at once with write(2), so a dialogue's output is the
 * same whatever the chunking. The idle timeout is honoured with poll(2). */
#include "stdio.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "../lib/fs.h"
#include "../lib/log.h"
#include "conn.h"

struct stdio_session {
	const struct proto_ops *ops;
	void *session;
	int timeout;     /* seconds, 0 = none */
	int closed;      /* io->close was called, or stdout failed */
};

static void stdio_io_write(void *ctx, const void *data, size_t len)
{
	struct stdio_session *st = ctx;
	if (st->closed)
		return;
	if (fs_write_all(STDOUT_FILENO, data, len) < 0) {
		log_error(NULL, "writing to standard output: %s", strerror(errno));
		st->closed = 1;
	}
}

static void stdio_io_close(void *ctx)
{
	struct stdio_session *st = ctx;
	st->closed = 1;
}

static void stdio_io_run_job(void *ctx, void (*job)(void *arg),
                             void (*done)(void *arg), void *arg)
{
	(void)ctx;
	job(arg);
	done(arg);
}

static void stdio_io_set_timeout(void *ctx, int seconds)
{
	struct stdio_session *st = ctx;
	st->timeout = seconds > 0 ? seconds : 0;
}

/* The listener a stdio session pretends to have come in on: the first
 * plain one of its protocol (for its settings), without TLS. */
static struct cfg_listener stdio_listener(const struct posthorn_config *cfg,
                                          const struct proto_ops *ops)
{
	enum cfg_proto proto = ops == proto_for(CFG_PROTO_POP3) ? CFG_PROTO_POP3
	                                                       : CFG_PROTO_SMTP;
	struct cfg_listener l = {
		.name = "stdio", .address = "127.0.0.1", .port = 0,
		.proto = proto, .tls = CFG_TLS_NONE,
	};
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].proto == proto) {
			l.vrfy = cfg->listeners[i].vrfy;
			break;
		}
	}
	return l;
}

static void stdio_peer(struct session_peer *peer)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&peer->addr;
	memset(peer, 0, sizeof *peer);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	peer->addrlen = sizeof *sin;
	snprintf(peer->ip, sizeof peer->ip, "127.0.0.1");
	snprintf(peer->name, sizeof peer->name, "localhost");
}

/* Feeds standard input to the session until it ends. 0 or -1. */
static int stdio_pump(struct stdio_session *st)
{
	char chunk[16384];
	while (!st->closed) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int rc = poll(&pfd, 1, st->timeout ? st->timeout * 1000 : -1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0) {
			st->ops->timeout(st->session);
			continue;
		}
		ssize_t n = rc < 0 ? -1 : read(STDIN_FILENO, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error(NULL, "reading standard input: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			st->ops->eof(st->session);
			break;
		}
		if (st->ops->input(st->session, chunk, (size_t)n) < 0)
			break;
	}
	return 0;
}

int stdio_run(struct world *w, const struct proto_ops *ops,
              const char *session_id)
{
	char id[16];
	if (!session_id) {
		conn_make_id(id, sizeof id);
		session_id = id;
	}
	struct stdio_session st = {.ops = ops};
	struct cfg_listener listener = stdio_listener(&w->cfg, ops);
	const struct session_io io = {
		.ctx = &st,
		.write = stdio_io_write,
		.start_tls = NULL,
		.close = stdio_io_close,
		.run_job = stdio_io_run_job,
		.set_timeout = stdio_io_set_timeout,
		.pending = NULL,
	};
	struct proto_start ps = {
		.world = w,
		.listener = &listener,
		.session_id = session_id,
	};
	stdio_peer(&ps.peer);
	st.session = ops->create(&ps, &io);
	if (!st.session) {
		log_error(NULL, "out of memory starting a session");
		return EX_OSERR;
	}
	ops->start(st.session);
	int rc = stdio_pump(&st);
	ops->destroy(&st.session);
	return rc < 0 ? EX_OSERR : 0;
}
