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
 * atomically, so an item without one is an incomplete write to clean up.
 *
 * Every line ends in '\n' and is "KEY VALUE" with one space; "version 1"
 * comes first; the null sender is a bare "sender" line. Values hold no
 * control characters; addresses, ENVID, NOTIFY and ORCPT hold no spaces
 * either (ESMTP xtext never needs one). version, id, created, sender and
 * at least one rcpt are required; body (7bit), smtputf8 (0), attempts (0)
 * and next (0 = now) default. Unknown and repeated keys are errors. */
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
 * env->id: link(2) (or a copy, fsync'd) to ID.msg, write ID.env atomically,
 * fsync the queue directory (created when missing). A link needs no fsync
 * of its own: it shares the inode the caller already fsync'd. When it
 * returns 0 the item is durable. -1 with errno and a reason appended to err:
 * EINVAL for an envelope format would refuse, EEXIST when ID.msg exists
 * (an existing item is never touched); on failure nothing is left behind. */
int queue_enqueue(const char *data_dir, const char *src,
                  const struct queue_envelope *env, struct buf *err);

/* Envelope text <-> struct, for the queue manager of a later issue and for
 * posthornctl. format appends to out; -1 with errno EINVAL (out unchanged)
 * when env breaks the rules above, ENOMEM. env->body NULL means "7bit".
 * parse zeroes env, fills it (free with queue_envelope_free) and returns 0,
 * or -1 with "line N: reason" appended to err (may be NULL) and env empty.
 * free releases everything and zeroes env; calling it twice is harmless. */
int queue_envelope_format(const struct queue_envelope *env, struct buf *out);
int queue_envelope_parse(const char *text, size_t len,
                         struct queue_envelope *env, struct buf *err);
void queue_envelope_free(struct queue_envelope *env);

#endif
