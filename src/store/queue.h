/* queue: the outbound spool, DATA_DIR/queue/. Each item is ID.msg (the
 * message, with trace headers) and ID.env (the envelope, text):
 *
 *   version 1
 *   id ID
 *   created EPOCH
 *   sender ADDRESS           (empty for the null sender <>)
 *   body 7bit|8bitmime|binarymime
 *   smtputf8 0|1
 *   envid XTEXT              (optional, DSN ENVID)
 *   ret full|hdrs            (optional, DSN RET)
 *   attempts N
 *   next EPOCH
 *   rcpt ADDRESS STATE [NOTIFY=...] [ORCPT=...] [| LAST REPLY]
 *
 * where STATE is pending, delivered or failed. ID.env is written last and
 * atomically, so an item without one is an incomplete write to clean up. */
#ifndef POSTHORN_QUEUE_H
#define POSTHORN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

enum queue_rcpt_state { QUEUE_PENDING, QUEUE_DELIVERED, QUEUE_FAILED };

struct queue_rcpt {
	char *address;       /* owned */
	enum queue_rcpt_state state;
	char *notify;        /* DSN NOTIFY value or NULL; owned */
	char *orcpt;         /* DSN ORCPT value or NULL; owned */
	char *last_reply;    /* or NULL; owned */
};

struct queue_envelope {
	char *id;            /* owned */
	int64_t created;
	char *sender;        /* "" for <>; owned */
	char *body;          /* "7bit", "8bitmime" or "binarymime"; owned */
	int smtputf8;
	char *envid;         /* or NULL; owned */
	char *ret;           /* or NULL; owned */
	int attempts;
	int64_t next_attempt;
	struct queue_rcpt *rcpts; /* owned */
	size_t nrcpts;
};

/* Puts the finished, fsync'd message file src into the queue as item
 * env->id: link(2) (or copy) to ID.msg, fsync it, write ID.env atomically,
 * fsync the queue directory (created when missing). When it returns 0 the
 * item is durable. -1 with a reason appended to err. */
int queue_enqueue(const char *data_dir, const char *src,
                  const struct queue_envelope *env, struct buf *err);

/* Envelope text <-> struct, for the queue manager of a later issue and for
 * posthornctl. parse: 0 or -1 with "line N: reason" in err. */
int queue_envelope_format(const struct queue_envelope *env, struct buf *out);
int queue_envelope_parse(const char *text, size_t len,
                         struct queue_envelope *env, struct buf *err);
void queue_envelope_free(struct queue_envelope *env);

#endif
