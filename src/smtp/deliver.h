/* deliver: local delivery to the users of this server, the steps smtpd takes for a
 * recipient in a local domain and the queue manager takes for a queued one:
 * the local part is turned into a lookup name, resolved through users and
 * aliases, and the message is put into each user's Maildir. Both sides use
 * these functions so a local recipient means the same thing to either. */
#ifndef POSTHORN_DELIVER_H
#define POSTHORN_DELIVER_H

#include <stddef.h>

#include "../auth/aliases.h"
#include "../lib/buf.h"
#include "../lib/config.h"

/* The longest lookup name kept (longer local parts are truncated; no user
 * or alias name is that long, so they are simply unknown). */
#define DELIVER_NAME_MAX 256

/* The lookup name of the first len bytes of local into out (at most
 * outlen - 1 bytes and a NUL; outlen > 0): lowercased, and "+detail"
 * removed (a '+' in front is kept: "+x" is a name of its own). */
void deliver_name(const char *local, size_t len, char *out, size_t outlen);

/* Resolves the first len bytes of a local part (deliver_name first) through
 * db and al into users (local user names) and remote (addresses to
 * forward to), appended without duplicates by aliases_expand. 1 found,
 * 0 unknown, -1 on a lookup error with "alias expansion of NAME failed:
 * REASON" appended to why. The caller frees users and remote in every
 * case. */
int deliver_resolve(const struct aliases *al, const struct users *db,
                  const struct posthorn_config *cfg, const char *local,
                  size_t len, struct strlist *users, struct strlist *remote,
                  struct buf *why);

/* Delivers the message file src (size bytes, RFC 1939 size vsize, as for
 * maildir_deliver) into the Maildir of each of users in turn, under
 * cfg->data_dir, stopping at the first failure. *delivered counts the
 * mailboxes that got it (they keep it whatever follows). 0 when all did;
 * -1 with errno set and "REASON (user NAME)" appended to why otherwise. */
int deliver_local(const struct posthorn_config *cfg,
                  const struct strlist *users, const char *src, size_t size,
                  unsigned long long vsize, size_t *delivered,
                  struct buf *why);

#endif
