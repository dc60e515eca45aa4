/* proto: the protocol sessions the daemon can run behind one interface, so
 * conn (sockets, TLS) and stdio (--stdio) drive SMTP and POP3 alike. Each
 * entry wraps one session module (smtpd, pop3d); nothing here keeps
 * state. */
#ifndef POSTHORN_PROTO_H
#define POSTHORN_PROTO_H

#include <stddef.h>

#include "../auth/throttle.h"
#include "../lib/config.h"
#include "../lib/session.h"
#include "world.h"

/* What every session is started with. */
struct proto_start {
	struct world *world;                 /* must outlive the session */
	const struct cfg_listener *listener; /* inside world->cfg */
	struct session_peer peer;
	const char *tls_info;                /* implicit TLS on, or NULL */
	const char *session_id;
	struct throttle *throttle;           /* may be NULL */
};

struct proto_ops {
	const char *name;
	/* A new session that has not written anything yet, or NULL. */
	void *(*create)(const struct proto_start *p, const struct session_io *io);
	void (*start)(void *s);
	int (*input)(void *s, const char *data, size_t len);
	size_t (*buffered)(const void *s);
	void (*drained)(void *s);
	void (*tls_done)(void *s, int ok, const char *info);
	void (*timeout)(void *s);
	void (*shutdown)(void *s);
	void (*eof)(void *s);
	int (*busy)(const void *s);
	void (*destroy)(void **s);
};

/* The session type serving listeners of proto: SMTP for smtp, submission
 * and smtps, POP3 for pop3 and pop3s; NULL for what is not served yet. */
const struct proto_ops *proto_for(enum cfg_proto proto);

/* proto_for by name ("smtp", "pop3") for --stdio; NULL when unknown. */
const struct proto_ops *proto_by_name(const char *name);

#endif
