/* codec: the transfer encodings of MIME, written once for the whole system:
 * base64 and quoted-printable (RFC 2045), encode and a decoder tolerant of
 * what real mail contains. No I/O, no globals. */
#ifndef POSTHORN_MSG_CODEC_H
#define POSTHORN_MSG_CODEC_H

#include <stddef.h>

#include "../lib/buf.h"

/* The value of hex digit c (either case), or -1. Shared by every decoder of
 * "=XX" and "%XX" escapes. */
int msg_hex_value(int c);

/* Largest output of msg_base64_decode_raw for n input bytes. */
#define MSG_BASE64_DECODED_MAX(n) (((n) / 4 + 1) * 3)

/* Decodes base64 from in[0..n) into out (room for MSG_BASE64_DECODED_MAX(n)
 * bytes), skipping whitespace and any character outside the alphabet,
 * stopping at the first '=' pad, accepting missing padding. Returns the
 * bytes written. *bad (if not NULL) gets the count of skipped non-whitespace
 * characters, so a caller can warn about damaged input. */
size_t msg_base64_decode_raw(const char *in, size_t n, unsigned char *out,
                             size_t *bad);

/* The same, appending to a buf. Returns 0 or -1 (limit or memory). */
int msg_base64_decode(const char *in, size_t n, struct buf *out, size_t *bad);

/* Appends the base64 of in[0..n) to out, with CRLF after every line_len
 * characters and after the last line (line_len 76 for bodies); line_len 0
 * gives one unbroken line without CRLF (for encoded-words, SASL).
 * line_len should be a multiple of 4 (others are rounded down, at least 4,
 * so no group is split). Returns 0 or -1. */
int msg_base64_encode(const void *in, size_t n, size_t line_len,
                      struct buf *out);

/* Decodes quoted-printable: "=XX" with either hex case, "=" at line end as a
 * soft break (also with trailing whitespace after it), trailing whitespace on
 * lines dropped, a bare "=" or "=" before non-hex kept as it is, CRLF or LF line
 * ends copied as they were in the input. Returns 0 or -1. */
int msg_qp_decode(const char *in, size_t n, struct buf *out);

enum {
	MSG_QP_BINARY = 1 << 0, /* encode CR and LF as =0D =0A instead of treating
	                         * CRLF/LF as line ends (for non-text data) */
};

/* Appends quoted-printable of in[0..n): uppercase hex, lines at most 76
 * characters with "=" soft breaks, trailing space/tab before a line end
 * encoded, "." and "From " at a line start encoded so the text survives
 * SMTP and mbox, line ends written as CRLF. Returns 0 or -1. */
int msg_qp_encode(const void *in, size_t n, unsigned flags, struct buf *out);

#endif
