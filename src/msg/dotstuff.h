/* dotstuff: a stored message in the form it travels in over POP3 (RETR,
 * TOP) and SMTP (DATA): every line ends in CRLF, a line that starts with
 * '.' gets a second one (RFC 1939 3, RFC 5321 4.5.2), and the last line
 * gets a CRLF when it had none. A bare LF becomes CRLF; a bare CR is kept
 * as it is (it is not a line end). Streaming, no I/O, no globals; the
 * terminating ".\r\n" is the caller's to send. */
#ifndef POSTHORN_DOTSTUFF_H
#define POSTHORN_DOTSTUFF_H

#include <stddef.h>

#include "../lib/buf.h"

struct msg_dotstuff {
	long long body_lines;  /* body lines still to send; -1: all */
	size_t line_bytes;     /* bytes of the current line so far */
	int prev_cr;           /* the last byte fed was a CR */
	int in_body;           /* the blank line after the header was seen */
	int done;              /* the TOP limit was reached */
};

/* Starts a message. body_lines < 0 sends everything (RETR); n >= 0 sends
 * the header, the blank line and then at most n lines of the body (TOP n).
 * A message without a blank line is all header. */
void msg_dotstuff_init(struct msg_dotstuff *st, long long body_lines);

/* Appends the transmitted form of data to out. Returns 1 once the TOP
 * limit is reached (later input is ignored), 0 to go on, -1 when out
 * could not grow (out is then unchanged past what was already there). */
int msg_dotstuff_feed(struct msg_dotstuff *st, const char *data, size_t len,
                      struct buf *out);

/* Ends the message: a CRLF when the last line had none. 0 or -1. */
int msg_dotstuff_end(struct msg_dotstuff *st, struct buf *out);

/* The size RFC 1939 means by a message's octets: what RETR sends for it
 * without the stuffed dots and without the final ".\r\n". Streaming:
 * init, feed the file's chunks in order, then end returns the size. */
struct msg_crlf_size {
	unsigned long long size;
	int prev_cr;     /* the last byte fed was a CR */
	int line_open;   /* bytes were fed since the last LF */
};
void msg_crlf_size_init(struct msg_crlf_size *cs);
void msg_crlf_size_feed(struct msg_crlf_size *cs, const char *data, size_t len);
unsigned long long msg_crlf_size_end(struct msg_crlf_size *cs);

#endif
