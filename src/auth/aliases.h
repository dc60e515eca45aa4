/* aliases: DATA_DIR/aliases, lines "name: target, target, ..." where a
 * target is a local user, another alias, or a remote address "x@y" (a
 * local-domain address "u@local" is the same as "u"). "#" comments; lines
 * starting with whitespace continue the previous line. Expansion follows
 * aliases to their users and remote addresses, each once, and reports loops. */
#ifndef POSTHORN_ALIASES_H
#define POSTHORN_ALIASES_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/config.h"
#include "users.h"

struct alias {
	char *name;          /* lowercased; owned */
	char **targets;      /* as written, trimmed; owned */
	size_t ntargets;
	int line;
};

struct aliases {
	struct alias *items; /* owned, sorted by name */
	size_t count;
};

/* A list of distinct strings (addresses or user names), owned. */
struct strlist {
	char **items;
	size_t count;
	size_t cap;
};
int strlist_add_unique(struct strlist *l, const char *s); /* 0 or -1 */
void strlist_free(struct strlist *l);

/* Loads DATA_DIR/aliases (missing file = none). -1 with "file:line:
 * reason" appended to err on syntax errors: a line without "name:", an
 * invalid name or target, an alias without targets, a duplicate alias,
 * an indented line after a blank or comment line (those end an entry).
 * One trailing comma per line is allowed before a continuation line. */
int aliases_load(const char *data_dir, struct aliases *al, struct buf *err);

/* The same for text already in memory; path is only used in messages.
 * al is zeroed by the call and freed again on error. */
int aliases_parse(const char *path, const char *text, size_t len,
                  struct aliases *al, struct buf *err);

/* Computes the aliases file text with name set to targets (ntargets > 0:
 * the entry's lines are replaced in place, or a line is appended) or
 * deleted (ntargets 0; -1 if there is no such entry), keeping every other
 * line, comments included, as it was. Appends the new text to out. Checks
 * the syntax of name and targets, not what they refer to. 0 or -1 with a
 * reason in err. */
int aliases_edit(const char *text, size_t len, const char *name,
                 char *const *targets, size_t ntargets, struct buf *out,
                 struct buf *err);

void aliases_free(struct aliases *al);

const struct alias *aliases_find(const struct aliases *al, const char *name);

/* Resolves a local part (already lowercased, "+detail" already removed by
 * the caller if wanted) to local users and remote addresses, appended to
 * users_out and remote_out without duplicates. name may be a user or an
 * alias. Returns 1 when it resolved to at least one target, 0 when name is
 * neither user nor alias, -1 on a loop or a target that is nothing known
 * (reason appended to err). Depth is bounded at 32. */
int aliases_expand(const struct aliases *al, const struct users *db,
                   const struct posthorn_config *cfg, const char *name,
                   struct strlist *users_out, struct strlist *remote_out,
                   struct buf *err);

/* Checks the whole table against db (posthornctl check, and at load in the
 * daemon): every alias expands without loops to known targets. -1 with
 * every problem appended to err (one per line). */
int aliases_check(const struct aliases *al, const struct users *db,
                  const struct posthorn_config *cfg, struct buf *err);

/* Rewrite DATA_DIR/aliases atomically with name added (replacing an
 * existing entry) or deleted. 0, or -1 with a reason in err. */
int aliases_set(const char *data_dir, const char *name, char *const *targets,
                size_t ntargets, struct buf *err);
int aliases_delete(const char *data_dir, const char *name, struct buf *err);

#endif
