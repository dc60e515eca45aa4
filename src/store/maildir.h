/* maildir: Maildir++ delivery. A mailbox is a directory with tmp/, new/ and
 * cur/; folders are ".Name" subdirectories. New mail gets a unique name
 * "SECONDS.R<random hex>.HOST,S=SIZE,W=VSIZE" (the R form of the Maildir
 * spec; the random part comes from getrandom, so no process-wide counter is
 * needed). S= is the file's size (Maildir++ quota), W= its RFC 1939 size
 * with CRLF line ends (Dovecot's convention), so POP3 never reads a file
 * to answer STAT or LIST. */
#ifndef POSTHORN_MAILDIR_H
#define POSTHORN_MAILDIR_H

#include <stddef.h>

#include "../lib/buf.h"

/* Creates path, path/tmp, path/new and path/cur (mode 0700) as needed,
 * fsyncing each parent whose entries changed. 0 or -1 with errno. */
int maildir_create(const char *path);

/* DATA_DIR/mail/USER appended to out. -1 (errno EINVAL, out unchanged) if
 * user is not a safe name: the user-name rule of auth/users.h, lowercase
 * [a-z0-9._-], 1..64 bytes, not starting with '.' or '-'. */
int maildir_user_path(const char *data_dir, const char *user,
                      struct buf *out);

/* Delivers the finished, fsync'd file src (size bytes) into the Maildir at
 * maildir (created when missing): link(2) it as tmp/NAME, rename to new/NAME,
 * fsync new/ (falls back to copy + fsync when links are not possible).
 * size must be src's size (it becomes S=; EINVAL otherwise); vsize is its
 * RFC 1939 size (spool_crlf_size; it becomes W=, and EINVAL when it is less
 * than size, which no CRLF conversion can give). hostname NULL or "" means
 * gethostname(). When it returns 0 the message is durable. The new file's
 * name is appended to name_out when not NULL. -1 with errno and a reason
 * appended to err (err may be NULL); nothing is left behind then. Safe to
 * call from several threads at once. */
int maildir_deliver(const char *maildir, const char *src, size_t size,
                    unsigned long long vsize, const char *hostname,
                    struct buf *name_out, struct buf *err);

#endif
