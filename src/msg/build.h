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
 * (with msg_builder_error() saying why) or out of memory; a refused call
 * leaves the builder as it was. Text arguments must be valid UTF-8. Header
 * text containing CR or LF is refused (header injection), as are other
 * control characters except tab. Limits: display names and file names 400
 * bytes, addresses 254, ids 900, 10000 items per list. */

/* Adds an address to "From", "Sender", "To", "Cc", "Bcc" or "Reply-To"
 * (case-insensitive). name may be NULL. address is "local@domain" with the
 * local part unquoted (split at the last '@'; quoted on output when needed);
 * the domain may be a literal "[192.0.2.1]". Sender takes one address. */
int msg_builder_add_address(struct msg_builder *b, const char *field,
                            const char *name, const char *address);
int msg_builder_set_subject(struct msg_builder *b, const char *subject);
/* Date: default is the time of msg_builder_write in UTC+0. */
int msg_builder_set_date(struct msg_builder *b, int64_t utc, int offset_min);
/* Message-ID without brackets; default is generated from the From domain. */
int msg_builder_set_message_id(struct msg_builder *b, const char *id);
int msg_builder_set_in_reply_to(struct msg_builder *b, const char *id);
int msg_builder_add_reference(struct msg_builder *b, const char *id);
/* Any other field (X-Mailer, X-Priority...), written after the builder's
 * own fields, in order of addition. The value is treated as unstructured
 * text: non-ASCII (and any word too long for a 998-octet line) becomes
 * RFC 2047 words. Refuses the fields the builder writes itself (From, To,
 * Subject, Date, Message-ID, MIME-Version, every Content-* ...) and names
 * that are not printable ASCII without ':' (at most 76 characters). */
int msg_builder_add_header(struct msg_builder *b, const char *name,
                           const char *value);
/* Writes Bcc into the header (default: Bcc is left out of the message and
 * only reported by msg_builder_recipients for the envelope). */
void msg_builder_keep_bcc(struct msg_builder *b, int keep);

/* The text body (text/plain; charset=utf-8 or us-ascii). Line ends (LF or
 * CRLF) become CRLF and a final CRLF is added when non-empty text lacks one,
 * so a reader gets the text back with CRLF line ends and a final line end.
 * A lone CR is kept (the body then goes quoted-printable). The body is 7bit
 * when it is ASCII with lines of at most 998 octets, else quoted-printable. */
int msg_builder_set_text(struct msg_builder *b, const char *text, size_t len);
/* An HTML alternative (multipart/alternative with the text; alone when
 * there is no text). Normalised and encoded like the text. */
int msg_builder_set_html(struct msg_builder *b, const char *html, size_t len);

/* Attaches data[0..len). filename may be NULL; content_type NULL means
 * application/octet-stream, else "type/subtype" optionally followed by
 * "; parameters" in printable ASCII (multipart and message types are
 * refused: use msg_builder_attach_message); inline_part nonzero gives
 * "Content-Disposition: inline"; content_id (without <>) non-NULL puts the
 * part with the HTML in multipart/related (without HTML it is an ordinary
 * attachment that carries a Content-ID). Decoding gives back exactly data:
 * text types with only CRLF line ends go 7bit or quoted-printable (and get
 * charset=utf-8 when it is 8-bit UTF-8 without a charset), everything else
 * base64 in 76-column lines. The file name is written as RFC 2231
 * filename (Content-Disposition) and as name (Content-Type), the latter in
 * RFC 2047 words when not ASCII, for old clients. */
int msg_builder_attach(struct msg_builder *b, const void *data, size_t len,
                       const char *filename, const char *content_type,
                       int inline_part, const char *content_id);

/* Attaches a whole message as message/rfc822 (for forwarding), its line
 * ends (CRLF, LF or lone CR) written as CRLF and nothing else changed; 7bit
 * or 8bit by its content. RFC 2046 5.2.1 forbids base64 for message/rfc822,
 * so a message that 7bit/8bit cannot carry (NUL bytes, lines over 998
 * octets) is attached instead as application/octet-stream, base64, named
 * "forwarded-message.eml" (same bytes). */
int msg_builder_attach_message(struct msg_builder *b, const char *raw,
                               size_t len);

/* Appends the message to out. Fails when there is no From, or on out's
 * limit or memory; out is then unchanged. Returns 0 or -1. Structure:
 * text; multipart/alternative (text, HTML); multipart/related (HTML, parts
 * with a Content-ID) in place of the HTML; multipart/mixed around all that
 * when there are other attachments. Boundaries are "=_posthorn_" and 24
 * random characters (getrandom), checked against unencoded content. */
int msg_builder_write(struct msg_builder *b, struct buf *out);

/* Appends every To, Cc and Bcc address ("local@domain\n" each) to out, for
 * the SMTP envelope. 0 or -1. */
int msg_builder_recipients(const struct msg_builder *b, struct buf *out);

/* Why the last call failed; a static or builder-owned string. */
const char *msg_builder_error(const struct msg_builder *b);

#endif
