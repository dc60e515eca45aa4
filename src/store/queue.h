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

/* ---- items, for the queue manager and posthornctl. Every function takes
 * DATA_DIR (the queue is DATA_DIR/queue) and refuses ids that are not safe
 * file names (spool_id_valid) with EINVAL. ---- */

/* Room for an id from queue_new_id, with its NUL. */
#define QUEUE_ID_SIZE 48

/* Writes a new unique item id, "HEXTIME-HEX64" (sorting by name sorts by
 * creation second), for items not made by smtpd: DSNs, the injector. */
void queue_new_id(char out[QUEUE_ID_SIZE]);

/* Appends DATA_DIR/queue/ID.msg to out. 0, or -1 with errno (EINVAL for a
 * bad id, ENOMEM). */
int queue_msg_path(const char *data_dir, const char *id, struct buf *out);

/* Rewrites ID.env (ID = env->id) atomically with fs_write_atomic, so the
 * new state is durable when it returns 0. Refuses (ENOENT) when ID.msg is
 * gone, so a save racing a delete does not bring the item back; EINVAL
 * when env breaks the format rules. -1 with a reason appended to err. */
int queue_envelope_save(const char *data_dir, const struct queue_envelope *env,
                        struct buf *err);

/* Reads and parses ID.env (at most 4 MiB) into env (free it with
 * queue_envelope_free). 0, or -1 with errno (ENOENT: no such item; EINVAL:
 * bad id, bad envelope, or one naming another id) and a reason in err;
 * env is then empty. */
int queue_load(const char *data_dir, const char *id,
               struct queue_envelope *env, struct buf *err);

/* Removes the item: ID.env first (the item stops existing), then ID.msg,
 * then fsyncs the queue directory. Missing files are not errors. 0 or -1
 * with errno and a reason in err. */
int queue_remove(const char *data_dir, const char *id, struct buf *err);

/* The ids of all items (those with an ID.env), sorted by strcmp, as a new
 * array of new strings the caller frees with queue_list_free. No queue
 * directory gives 0 items. 0, or -1 with errno and err (*ids NULL). */
int queue_list(const char *data_dir, char ***ids, size_t *n, struct buf *err);
void queue_list_free(char ***ids, size_t n);

/* Sweeps what crashes leave: ID.msg without ID.env and temporary files of
 * fs_write_atomic, both when older than an hour at now (a younger one may
 * be a write in progress), and ID.env without ID.msg (a save that raced a
 * delete). Returns the number of files removed, or -1 with errno and err. */
int queue_cleanup(const char *data_dir, int64_t now, struct buf *err);

/* queue_enqueue for a message held in memory (a DSN, the sendmail
 * injector): writes data through DATA_DIR/spool/ID, fsyncs it, enqueues
 * it as env->id and removes the spool file. Same returns as queue_enqueue
 * (EEXIST when the id is taken). */
int queue_enqueue_data(const char *data_dir, const void *data, size_t len,
                       const struct queue_envelope *env, struct buf *err);

#endif
