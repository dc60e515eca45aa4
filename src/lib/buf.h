/* buf: the one growable byte buffer of posthorn, with a string builder on top.
 * Every buffer has a maximum so input from the network or a file can never
 * grow it without bound; appends past the maximum fail instead of growing. */
#ifndef POSTHORN_BUF_H
#define POSTHORN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;  /* owned; NUL-terminated after buf_cstr(), else not */
	size_t len;  /* bytes in use */
	size_t cap;  /* bytes allocated */
	size_t max;  /* largest len allowed; 0 means no limit */
};

/* A zeroed struct buf is a valid empty buffer without a limit. */
#define BUF_INIT {NULL, 0, 0, 0}

/* Sets b empty with the given maximum (0 = none); allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Makes room for n more bytes. Returns 0, or -1 if that would pass b->max
 * or memory is exhausted (b unchanged in both cases). */
int buf_reserve(struct buf *b, size_t n);

/* Appends; each returns 0, or -1 with b unchanged (limit or no memory). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_putc(struct buf *b, char c);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* NUL-terminates without counting the NUL in len and returns b->data
 * ("" for an empty buffer that never allocated; never NULL unless out of
 * memory). The pointer lives until the next change to b. */
char *buf_cstr(struct buf *b);

/* Hands the NUL-terminated data to the caller, who frees it with free();
 * b is left empty. *len (if not NULL) gets the length. NULL if out of memory. */
char *buf_steal(struct buf *b, size_t *len);

/* Forgets the contents, keeps the allocation. */
void buf_reset(struct buf *b);

/* Cuts b down to len bytes (nothing happens when it is not longer). */
void buf_truncate(struct buf *b, size_t len);

/* Frees the data; b is empty and reusable afterwards. */
void buf_free(struct buf *b);

#endif
