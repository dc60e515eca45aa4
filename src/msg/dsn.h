/* dsn: delivery status notifications (RFC 3464, RFC 3461, RFC 6522): the
 * multipart/report; report-type=delivery-status message a mail server sends
 * to a sender whose mail could not be delivered (or is delayed). No I/O. */
#ifndef POSTHORN_DSN_H
#define POSTHORN_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

enum dsn_action { DSN_FAILED, DSN_DELAYED, DSN_DELIVERED, DSN_RELAYED,
                  DSN_EXPANDED };

struct dsn_rcpt {
	const char *address;      /* Final-Recipient (rfc822;ADDRESS) */
	const char *orcpt;        /* Original-Recipient "rfc822;..." as given
	                           * in ORCPT (xtext decoded), or NULL */
	enum dsn_action action;
	const char *status;       /* "5.1.1", "4.4.1"... */
	const char *remote_mta;   /* "mx.example.org" or NULL */
	const char *diagnostic;   /* the remote reply "550 5.1.1 User unknown"
	                           * (Diagnostic-Code: smtp; ...) or NULL */
	int64_t last_attempt;     /* 0: none */
	int64_t will_retry_until; /* delayed: Will-Retry-Until, 0: none */
	const char *diagnostic_type; /* the Diagnostic-Code type: NULL means
	                              * "smtp" (a server's reply); our own
	                              * words go as "X-Posthorn" */
};

struct dsn_report {
	const char *reporting_mta;  /* our host name (Reporting-MTA: dns;...) */
	const char *from;           /* "MAILER-DAEMON@host" */
	const char *to;             /* the envelope sender the report goes to */
	const char *envid;          /* DSN ENVID (Original-Envelope-Id) or NULL */
	int64_t arrival;            /* when the message was received */
	int64_t now;                /* Date: of the report */
	int offset_min;             /* its zone */
	const char *original;       /* the original message (its header at
	                             * least), not necessarily NUL-terminated */
	size_t original_len;
	int return_full;            /* RET=FULL: the whole message as
	                             * message/rfc822; else only its header as
	                             * text/rfc822-headers (the default) */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
};

/* Appends the report to out: From/To/Date/Subject ("Undelivered Mail
 * Returned to Sender", or "Delayed Mail (still being retried)" when every
 * recipient is delayed), Auto-Submitted: auto-replied, a Message-ID, then
 * the human-readable part (which recipients failed and why, in words), the
 * message/delivery-status part (per-message fields, then per-recipient
 * fields in RFC 3464 order), and the original (header or full message).
 * CRLF line ends, lines within 998 octets (long diagnostics folded).
 * Returns 0, or -1 with a reason in why (no recipients, missing fields,
 * memory); out is then unchanged. */
int dsn_build(const struct dsn_report *r, struct buf *out, struct buf *why);

/* Appends the xtext (RFC 3461 4) s decoded: "+XX" (two uppercase hex
 * digits) becomes that byte. Used for ENVID and ORCPT as the queue keeps
 * them. Returns 0, or -1 (EINVAL for a malformed "+" escape or a decoded
 * control character; ENOMEM) with out unchanged. */
int dsn_xtext_decode(const char *s, struct buf *out);

/* Copies the enhanced status code ("5.1.1") at the start of text, after an
 * optional SMTP reply code ("550 5.1.1 ..." or "550-5.1.1 ..."), into out
 * (at least 12 bytes). Returns 1 when found, 0 when not (out is then ""). */
int dsn_status_from_reply(const char *text, char *out, size_t outlen);

#endif
