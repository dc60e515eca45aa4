/* spool: the file a message is written to while it arrives, under
 * DATA_DIR/spool/. It lives on the same file system as the Maildirs and the
 * queue, so delivery links it into place instead of copying; once every
 * link is made and fsync'd the spool entry is removed. */
#ifndef POSTHORN_SPOOL_H
#define POSTHORN_SPOOL_H

#include <stddef.h>

#include "../lib/buf.h"

struct spool; /* opaque */

/* Creates DATA_DIR/spool/ID (mode 0600, O_EXCL; DATA_DIR/spool is created
 * when missing). id must be a safe file name. NULL with a reason in err. */
struct spool *spool_open(const char *data_dir, const char *id,
                         struct buf *err);

/* Appends (buffered). 0, or -1 on a write error (errno kept: ENOSPC and
 * EDQUOT let the caller answer 452). */
int spool_write(struct spool *sp, const void *data, size_t len);

/* Flushes and fsyncs the file (not yet the directory: the links made from
 * it are what must be durable). 0 or -1 with errno. */
int spool_finish(struct spool *sp);

size_t spool_size(const struct spool *sp);

/* The size of what was written as RFC 1939 counts it (every line end a
 * CRLF, a CRLF after a last line without one; see msg/dotstuff.h), so the
 * Maildir name can carry it and POP3 never has to read the file. */
unsigned long long spool_crlf_size(const struct spool *sp);
const char *spool_path(const struct spool *sp);  /* lives as sp */

/* Removes the spool file and frees sp; *sp becomes NULL. Used both after a
 * successful delivery (the links keep the data) and to abandon a message. */
void spool_discard(struct spool **sp);

/* True when id can name a spool file or queue item: 1..128 bytes of
 * [A-Za-z0-9._-], not starting with '.' or '-'. */
int spool_id_valid(const char *id);

/* Makes dst a second name of the finished file src: link(2), or when the
 * file system refuses links (EXDEV, EPERM, EMLINK, ENOTSUP) a copy made
 * with O_EXCL and fsync'd. Never replaces an existing dst (EEXIST). The new
 * directory entry is not fsync'd: callers fsync the directory once, after
 * their last change to it. 0 or -1 with errno (dst removed on failure). */
int spool_link(const char *src, const char *dst);

#endif
