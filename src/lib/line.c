/* line: the bounded line reader (see line.h). */
#include "line.h"

#include <stdlib.h>
#include <string.h>

size_t line_next(struct line_reader *r, const char *p, size_t n, size_t limit,
                 enum line_result *res, size_t *len)
{
	if (r->discarding) {
		const char *lf = memchr(p, '\n', n);
		if (!lf) {
			*res = LINE_SKIPPED;
			return n;
		}
		r->discarding = 0;
		*res = LINE_TOO_LONG;
		return (size_t)(lf - p) + 1;
	}
	const char *lf = memchr(p, '\n', n < limit ? n : limit);
	if (!lf) {
		if (n < limit) {
			*res = LINE_MORE;
			return 0;
		}
		r->discarding = 1;
		*res = LINE_SKIPPED;
		return limit;
	}
	size_t l = (size_t)(lf - p);
	if (l > 0 && p[l - 1] == '\r')
		l--;
	*len = l;
	*res = LINE_OK;
	return (size_t)(lf - p) + 1;
}

int line_step(struct line_reader *r, const char *p, size_t n, size_t limit,
              const struct line_handler *h, void *ctx, size_t *used)
{
	enum line_result res;
	size_t len = 0;
	*used = line_next(r, p, n, limit, &res, &len);
	if (res == LINE_TOO_LONG)
		h->too_long(ctx);
	if (res != LINE_OK)
		return 0;
	/* The input buffer stays untouched and the handler gets a C string. */
	char *line = malloc(len + 1);
	if (!line)
		return -1;
	memcpy(line, p, len);
	line[len] = '\0';
	h->line(ctx, line, len);
	explicit_bzero(line, len);
	free(line);
	return 0;
}
