/* world: everything a session reads that SIGHUP may replace - the config,
 * the users, the aliases and the TLS context - loaded together and shared
 * by reference count. A session keeps the world it started with until it
 * ends; the old world is freed when its last holder lets go. Loop thread
 * only (the counts are not atomic). */
#ifndef POSTHORN_WORLD_H
#define POSTHORN_WORLD_H

#include <openssl/ssl.h>

#include "../auth/aliases.h"
#include "../auth/users.h"
#include "../lib/buf.h"
#include "../lib/config.h"

struct world {
	int refs;
	struct posthorn_config cfg;
	struct users users;
	struct aliases aliases;
	SSL_CTX *tls;   /* NULL when no listener uses TLS (or not wanted) */
};

/* Loads config_path, the users and aliases of its data_dir (aliases are
 * checked against the users), and with want_tls the TLS context when any
 * listener uses TLS. old (may be NULL) is the running world: when the key
 * cannot be read any more (privileges dropped) but its files did not
 * change, its context is shared instead. Returns a world holding one
 * reference, or NULL with the reasons appended to err ("file:line: reason"
 * lines). */
struct world *world_load(const char *config_path, int want_tls,
                         const struct world *old, struct buf *err);

/* Takes a reference; returns w. */
struct world *world_ref(struct world *w);

/* Drops a reference (freeing the world with the last); *w becomes NULL. */
void world_unref(struct world **w);

/* True when some listener needs a TLS context. */
int world_needs_tls(const struct posthorn_config *cfg);

#endif
