/* show: the header summary a person reads first (From, To, Cc, Date,
 * Subject), shared by `posthorn show` (show.c) and `posthorn read`
 * (cmd_read.c) so a message looks the same in both. */
#ifndef POSTHORN_CLIENT_SHOW_H
#define POSTHORN_CLIENT_SHOW_H

#include "../lib/buf.h"
#include "../msg/header.h"

/* Appends one line for each of From, To, Cc, Date and Subject that h has:
 * addresses as "Name <addr>, addr" (a display name with a special quoted,
 * the null path as "<>", a field with no address as its decoded text), the
 * Date in the reader's time zone (TZ; its raw text when unparseable), the
 * Subject decoded; all through util_term_safe, so a message cannot drive
 * the terminal. A damaged address field is shown as far as it parses and,
 * when source is not NULL, warned about on stderr naming source. 0, or -1
 * when out of memory (out may hold part of the lines). */
int show_summary(const struct msg_header *h, const char *source,
                 struct buf *out);

#endif
