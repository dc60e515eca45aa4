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

/* Appends the host part of a Maildir file name for host (NULL or "" means
 * this machine's name, "localhost" when it has none): '/' as \057 and ':'
 * as \072 as the Maildir spec says; ',' (Maildir++ splits fields on it),
 * '\' and every byte that is not printable ASCII as \ooo too. Cut at 128
 * bytes so a whole name stays under NAME_MAX. 0, or -1 when out of memory
 * (out may then hold part of it). */
int maildir_host_part(struct buf *out, const char *host);

/* rename(2) that never replaces an existing target (-1, errno EEXIST), so
 * a name collision becomes another draw instead of a lost message or
 * folder. Where the file system lacks RENAME_NOREPLACE it checks and then
 * renames; that race needs a second writer in the same directory. 0 or -1
 * with errno. */
int maildir_rename_noreplace(const char *from, const char *to);

/* Bytes of a Maildir file name before its ":2,FLAGS" info: the base name,
 * which stays the same when flags change. */
size_t maildir_base_len(const char *name);

/* The ",X=DIGITS" field (field is 'S' or 'W') of the base name base[0..len)
 * as Maildir++ (S=, quota size) and Dovecot (W=, RFC 1939 size) write it:
 * 1 with *value set, 0 when there is none or it is malformed or does not
 * fit in 64 bits. */
int maildir_name_field(const char *base, size_t len, char field,
                       unsigned long long *value);

#endif
