/* line: the bounded line reader every protocol session uses for commands
 * (STYLE.md 6): the limit is checked before scanning, and an overlong line
 * is skipped to its end across as many inputs as it takes, then reported
 * once. No I/O, no allocation. */
#ifndef POSTHORN_LINE_H
#define POSTHORN_LINE_H

#include <stddef.h>

enum line_result {
	LINE_MORE,      /* no complete line yet: nothing used, wait for input */
	LINE_OK,        /* a line: *len bytes at p, without CR LF */
	LINE_SKIPPED,   /* part of an overlong line was dropped */
	LINE_TOO_LONG,  /* an overlong line ended: reply to it now */
};

struct line_reader {
	int discarding;  /* inside an overlong line */
};

/* Looks at p[0..n) (n > 0) for the next line of at most limit bytes
 * including its LF. Returns the bytes used (0 with LINE_MORE) and sets
 * *res; *len only for LINE_OK. A CR before the LF is dropped from *len. */
size_t line_next(struct line_reader *r, const char *p, size_t n, size_t limit,
                 enum line_result *res, size_t *len);

#endif
