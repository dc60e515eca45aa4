/* date: RFC 5322 date-time, with the obsolete forms real mail uses: two- and
 * three-digit years, named zones (UT, GMT, EST..PDT, military letters),
 * missing seconds or weekday, and odd offsets such as the seeds' "+800".
 * No I/O, no globals (no TZ lookups: that is the caller's business). */
#ifndef POSTHORN_MSG_DATE_H
#define POSTHORN_MSG_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Parses s[0..len). On success returns 0 and sets *utc (seconds since the
 * epoch, UTC) and *offset_min (the zone written in the date, in minutes east
 * of UTC; 0 for unknown zones and "-0000"). Returns -1 if no date could be
 * recognised. Comments and surrounding whitespace are ignored. */
int msg_date_parse(const char *s, size_t len, int64_t *utc, int *offset_min);

/* Writes the RFC 5322 form "Tue, 04 Dec 2004 16:18:08 +0800" of the instant
 * utc as seen at offset_min into out (NUL-terminated). Returns the length,
 * or -1 if out is too small (32 bytes always suffice) or the year is out of
 * 0..9999. */
int msg_date_format(int64_t utc, int offset_min, char *out, size_t outlen);

/* Writes ISO 8601 UTC "2004-12-04T08:18:08Z" into out; same returns. */
int msg_date_format_iso(int64_t utc, char *out, size_t outlen);

#endif
