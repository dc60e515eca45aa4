/* proto: the session modules behind one table (see proto.h). The wrappers
 * only convert the opaque pointer and the start parameters. */
#include "proto.h"

#include <string.h>

#include "../pop3/pop3d.h"
#include "../smtp/smtpd.h"

/* ---- SMTP ---- */

static void *proto_smtp_create(const struct proto_start *p,
                               const struct session_io *io)
{
	struct smtpd_params sp = {
		.cfg = &p->world->cfg,
		.listener = p->listener,
		.users = &p->world->users,
		.aliases = &p->world->aliases,
		.peer = p->peer,
		.tls_active = p->tls_info != NULL,
		.tls_info = p->tls_info,
		.session_id = p->session_id,
		.throttle = p->throttle,
	};
	return smtpd_new(&sp, io);
}

static void proto_smtp_start(void *s) { smtpd_start(s); }
static int proto_smtp_input(void *s, const char *d, size_t n)
{
	return smtpd_input(s, d, n);
}
static size_t proto_smtp_buffered(const void *s) { return smtpd_buffered(s); }
static void proto_smtp_tls_done(void *s, int ok, const char *info)
{
	smtpd_tls_done(s, ok, info);
}
static void proto_smtp_timeout(void *s) { smtpd_timeout(s); }
static void proto_smtp_shutdown(void *s) { smtpd_shutdown(s); }
static void proto_smtp_eof(void *s) { smtpd_eof(s); }
static int proto_smtp_busy(const void *s) { return smtpd_busy(s); }
static void proto_smtp_destroy(void **s)
{
	struct smtpd_session *p = *s;
	smtpd_free(&p);
	*s = NULL;
}

static const struct proto_ops proto_smtp = {
	.name = "smtp",
	.create = proto_smtp_create,
	.start = proto_smtp_start,
	.input = proto_smtp_input,
	.buffered = proto_smtp_buffered,
	.drained = NULL, /* replies are short: nothing ever waits */
	.tls_done = proto_smtp_tls_done,
	.timeout = proto_smtp_timeout,
	.shutdown = proto_smtp_shutdown,
	.eof = proto_smtp_eof,
	.busy = proto_smtp_busy,
	.destroy = proto_smtp_destroy,
};

/* ---- POP3 ---- */

static void *proto_pop3_create(const struct proto_start *p,
                               const struct session_io *io)
{
	struct pop3d_params pp = {
		.cfg = &p->world->cfg,
		.listener = p->listener,
		.users = &p->world->users,
		.throttle = p->throttle,
		.peer = p->peer,
		.tls_active = p->tls_info != NULL,
		.tls_info = p->tls_info,
		.session_id = p->session_id,
	};
	return pop3d_new(&pp, io);
}

static void proto_pop3_start(void *s) { pop3d_start(s); }
static int proto_pop3_input(void *s, const char *d, size_t n)
{
	return pop3d_input(s, d, n);
}
static size_t proto_pop3_buffered(const void *s) { return pop3d_buffered(s); }
static void proto_pop3_drained(void *s) { pop3d_drained(s); }
static void proto_pop3_tls_done(void *s, int ok, const char *info)
{
	pop3d_tls_done(s, ok, info);
}
static void proto_pop3_timeout(void *s) { pop3d_timeout(s); }
static void proto_pop3_shutdown(void *s) { pop3d_shutdown(s); }
static void proto_pop3_eof(void *s) { pop3d_eof(s); }
static int proto_pop3_busy(const void *s) { return pop3d_busy(s); }
static void proto_pop3_destroy(void **s)
{
	struct pop3d_session *p = *s;
	pop3d_free(&p);
	*s = NULL;
}

static const struct proto_ops proto_pop3 = {
	.name = "pop3",
	.create = proto_pop3_create,
	.start = proto_pop3_start,
	.input = proto_pop3_input,
	.buffered = proto_pop3_buffered,
	.drained = proto_pop3_drained,
	.tls_done = proto_pop3_tls_done,
	.timeout = proto_pop3_timeout,
	.shutdown = proto_pop3_shutdown,
	.eof = proto_pop3_eof,
	.busy = proto_pop3_busy,
	.destroy = proto_pop3_destroy,
};

const struct proto_ops *proto_for(enum cfg_proto proto)
{
	switch (proto) {
	case CFG_PROTO_SMTP:
	case CFG_PROTO_SUBMISSION:
	case CFG_PROTO_SMTPS:
		return &proto_smtp;
	case CFG_PROTO_POP3:
	case CFG_PROTO_POP3S:
		return &proto_pop3;
	case CFG_PROTO_IMAP:
	case CFG_PROTO_IMAPS:
		break;
	}
	return NULL;
}

const struct proto_ops *proto_by_name(const char *name)
{
	if (strcmp(name, "smtp") == 0)
		return &proto_smtp;
	if (strcmp(name, "pop3") == 0)
		return &proto_pop3;
	return NULL;
}
