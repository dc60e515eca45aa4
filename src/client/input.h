/* input: reading the message a command works on, from a file or from
 * standard input ("-"), whole and bounded, with one clear error line. */
#ifndef POSTHORN_CLIENT_INPUT_H
#define POSTHORN_CLIENT_INPUT_H

#include <stddef.h>

#include "../lib/buf.h"

/* Largest message the client reads: beyond this the input is refused
 * rather than half shown. */
#define INPUT_MAX_BYTES ((size_t)256 << 20)

/* The name used for path in messages: "stdin" for "-", else path itself.
 * Returns path or a static string. */
const char *input_name(const char *path);

/* Replaces the contents of out with the whole of path (standard input when
 * path is "-"), refusing more than max bytes. Returns 0, or -1 after
 * printing "posthorn: NAME: reason" to stderr (out then holds nothing
 * useful). */
int input_read(const char *path, size_t max, struct buf *out);

#endif
