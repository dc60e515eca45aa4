/* users: the user database. DATA_DIR/users holds one user per line,
 * "name:hash" with a crypt(3) yescrypt hash ("$y$..."), optionally
 * ":quota_bytes" after it; DATA_DIR/apop holds "name:secret" lines for the
 * users who may use POP3 APOP (a shared secret in the clear, which is why it
 * is a separate file of mode 0600 and documented as weak). Names are
 * lowercase [a-z0-9._-], 1..64 bytes, not starting with '.' or '-'. */
#ifndef POSTHORN_USERS_H
#define POSTHORN_USERS_H

#include <stddef.h>

#include "../lib/buf.h"

struct user {
	char *name;          /* owned */
	char *hash;          /* owned; "$y$..." */
	char *apop_secret;   /* owned, or NULL */
	unsigned long long quota; /* bytes, 0 = none */
};

struct users {
	struct user *items;  /* owned, sorted by name */
	size_t count;
};

/* Loads DATA_DIR/users and DATA_DIR/apop (a missing apop file is no
 * error; a missing users file is an empty database). Malformed lines are
 * errors: -1 with "file:line: reason" appended to err. */
int users_load(const char *data_dir, struct users *db, struct buf *err);

void users_free(struct users *db);

/* The user named name (case-insensitive), or NULL. Lives as long as db. */
const struct user *users_find(const struct users *db, const char *name);

/* True when name is a valid user name (see above). */
int users_name_valid(const char *name);

/* Checks password against u's hash with crypt_r; the comparison takes the
 * same time whatever matches. Slow on purpose (yescrypt): call it off the
 * event loop. u may be NULL (unknown user): a dummy hash is computed so the
 * answer takes as long as for a real user. Returns 1 match, 0 mismatch (or
 * NULL u, unusable or locked hash "!..."/"*..."). */
int users_verify(const struct user *u, const char *password);

/* POP3 APOP (RFC 1939 7): true when digest is the 32 hex digits (either
 * case) of MD5(timestamp + u's APOP secret), compared in constant time.
 * 0 for NULL u, a user without an APOP secret, or a malformed digest. MD5
 * of a shared secret is weak; the man pages say so. */
int users_verify_apop(const struct user *u, const char *timestamp,
                      const char *digest);

/* Appends a new yescrypt hash of password (crypt_gensalt_rn("$y$") with
 * salt from getrandom, then crypt_r) to out. 0 or -1. */
int users_hash_password(const char *password, struct buf *out);

/* Changes the database files (posthornctl): add a user (fails if it
 * exists), delete one (its APOP secret goes with it; its aliases and
 * Maildir are the caller's business), set a password, set or clear (secret
 * NULL) an APOP secret. name may be mixed case (stored lowercase); empty
 * passwords are refused. Each rewrites the files atomically
 * (fs_write_atomic, mode 0600; apop before users). 0, or -1 with a reason
 * appended to err. */
int users_add(const char *data_dir, const char *name, const char *password,
              struct buf *err);
int users_delete(const char *data_dir, const char *name, struct buf *err);
int users_set_password(const char *data_dir, const char *name,
                       const char *password, struct buf *err);
int users_set_apop(const char *data_dir, const char *name,
                   const char *secret, struct buf *err);

#endif
