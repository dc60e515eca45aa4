/* line: the bounded line reader every protocol session uses for commands
 * (STYLE.md 6): the limit is checked before scanning, and an overlong line
 * is skipped to its end across as many inputs as it takes, then reported
 * once. No I/O; line_next allocates nothing, line_step only the private
 * copy of one line for as long as its handler runs. */
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

/* What a session does with its command lines (see line_step). */
struct line_handler {
	/* A complete line: a private NUL-terminated copy of its len bytes
	 * without CR LF (it may itself hold NUL bytes), the handler's to
	 * change until it returns. Afterwards it is wiped, since it may hold a
	 * password, and freed: nothing may point into it any more. */
	void (*line)(void *ctx, char *line, size_t len);
	/* An overlong line has ended: reply to it now. */
	void (*too_long)(void *ctx);
};

/* One step of a session's command reader over p[0..n) (n > 0): line_next
 * with limit, then h->too_long(ctx) for LINE_TOO_LONG or h->line(ctx, ...)
 * for a complete line; p itself is never changed. Sets *used to the bytes
 * used (0: no complete line yet, wait for input). Returns 0, or -1 when
 * out of memory for the copy (the line is used, h->line was not called). */
int line_step(struct line_reader *r, const char *p, size_t n, size_t limit,
              const struct line_handler *h, void *ctx, size_t *used);

#endif
