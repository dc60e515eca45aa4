/* build: composing new messages. Collects fields, text, HTML and
 * attachments, then writes an RFC 5322/MIME message that obeys the rules the
 * seeds give: CRLF line ends, headers folded under 78 columns, non-ASCII
 * header text as RFC 2047 UTF-8 words, file names per RFC 2231, base64 in
 * 76-column lines, quoted-printable for text that needs it, 7bit where
 * possible, boundaries that cannot occur in the content. No I/O. */
#ifndef POSTHORN_MSG_BUILD_H
#define POSTHORN_MSG_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

struct msg_builder; /* opaque */

/* A new empty builder, or NULL when out of memory. */
struct msg_builder *msg_builder_new(void);

/* Frees b and everything it copied; *b becomes NULL. */
void msg_builder_free(struct msg_builder **b);

/* Every setter copies its arguments and returns 0, or -1 on bad arguments
 * (with msg_builder_error() saying why) or out of memory. Text arguments
 * are UTF-8. */

/* Adds an address to "From", "Sender", "To", "Cc", "Bcc" or "Reply-To".
 * name may be NULL. address is "local@domain". */
int msg_builder_add_address(struct msg_builder *b, const char *field,
                            const char *name, const char *address);
int msg_builder_set_subject(struct msg_builder *b, const char *subject);
/* Date: default is the time of msg_builder_write in UTC+0. */
int msg_builder_set_date(struct msg_builder *b, int64_t utc, int offset_min);
/* Message-ID without brackets; default is generated from the From domain. */
int msg_builder_set_message_id(struct msg_builder *b, const char *id);
int msg_builder_set_in_reply_to(struct msg_builder *b, const char *id);
int msg_builder_add_reference(struct msg_builder *b, const char *id);
/* Any other field (X-Mailer, X-Priority...). Refuses the fields the builder
 * writes itself and names that are not RFC 5322 field names. */
int msg_builder_add_header(struct msg_builder *b, const char *name,
                           const char *value);
/* Writes Bcc into the header (default: Bcc is left out of the message and
 * only reported by msg_builder_recipients for the envelope). */
void msg_builder_keep_bcc(struct msg_builder *b, int keep);

/* The text body (text/plain; charset=utf-8 or us-ascii). */
int msg_builder_set_text(struct msg_builder *b, const char *text, size_t len);
/* An HTML alternative (multipart/alternative with the text). */
int msg_builder_set_html(struct msg_builder *b, const char *html, size_t len);

/* Attaches data[0..len). filename may be NULL; content_type NULL means
 * application/octet-stream; inline_part nonzero gives
 * "Content-Disposition: inline"; content_id (without <>) non-NULL puts the
 * part with the HTML in multipart/related. */
int msg_builder_attach(struct msg_builder *b, const void *data, size_t len,
                       const char *filename, const char *content_type,
                       int inline_part, const char *content_id);

/* Attaches a whole message as message/rfc822 (for forwarding). */
int msg_builder_attach_message(struct msg_builder *b, const char *raw,
                               size_t len);

/* Writes the message to out. Fails when there is no From. Returns 0 or -1. */
int msg_builder_write(struct msg_builder *b, struct buf *out);

/* Appends every To, Cc and Bcc address ("local@domain\n" each) to out, for
 * the SMTP envelope. 0 or -1. */
int msg_builder_recipients(const struct msg_builder *b, struct buf *out);

/* Why the last call failed; a static or builder-owned string. */
const char *msg_builder_error(const struct msg_builder *b);

#endif
