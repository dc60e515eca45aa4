/* bounce: returning queued mail to its sender. Turns recipients of a queue
 * item into one delivery status notification (msg/dsn.h), puts that into
 * the queue as a new item from the null sender, and records the failures
 * in the item's envelope, in the order that never loses a report. */
#ifndef POSTHORN_BOUNCE_H
#define POSTHORN_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "../msg/dsn.h"
#include "queue.h"

/* The original returned with RET=FULL, and with RET=HDRS (or a message
 * larger than the first: its header alone then goes back). */
#define BOUNCE_FULL_MAX (10u * 1024 * 1024)
#define BOUNCE_HEADERS_MAX (64u * 1024)

/* Reports env->rcpts[idx[0..n)] as action (DSN_FAILED, DSN_DELAYED, or
 * DSN_DELIVERED/DSN_RELAYED for NOTIFY=SUCCESS) in one DSN to env->sender.
 *
 * Each recipient's last_reply gives the report's details: an optional
 * "host HOST said: " prefix names the Remote-MTA; a reply starting with an
 * SMTP code ("550 5.1.1 User unknown") becomes Diagnostic-Code: smtp and
 * its enhanced code the Status (else X.0.0 of the reply's class, else
 * 5.0.0, 4.0.0 or 2.0.0 by action); other text is our own words
 * (Diagnostic-Code: X-Posthorn).
 *
 * A recipient is reported only when its NOTIFY asks for it: FAILURE for
 * failed, DELAY for delayed, SUCCESS for delivered or relayed; NEVER for
 * none; without NOTIFY, FAILURE and DELAY (RFC 3461 4.1 leaves DELAY to
 * us: whether delay warnings are sent at all is the caller's choice).
 * A message from the null sender is never bounced to it: the report goes
 * to postmaster (a full address) instead, leaving out recipients that are
 * that address (so a report that fails cannot loop), or nowhere when
 * postmaster is NULL.
 *
 * The report is queued (durably) as a new item with sender "" and one
 * pending recipient, created and due at now. Only then, for DSN_FAILED,
 * are the recipients marked QUEUE_FAILED and the envelope saved with
 * queue_envelope_save: a crash in between gives at worst a second report,
 * never a lost one. Other actions change no state.
 *
 * hostname is ours (Reporting-MTA, MAILER-DAEMON@hostname). Returns 0, or
 * -1 with errno and a reason appended to why; env's states are then as
 * they were on disk before the call (a DSN may have been queued). */
int bounce_recipients(const char *data_dir, const char *hostname,
                      const char *postmaster, struct queue_envelope *env,
                      const size_t *idx, size_t n, enum dsn_action action,
                      int64_t now, struct buf *why);

#endif
