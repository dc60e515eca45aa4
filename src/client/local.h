/* local: the commands' access to the account's local folders: opening a
 * folder of the account's mail_dir, choosing messages by the numbers the
 * user typed ("3", "1,3,5-7"), and loading one as a parsed message. Errors
 * are printed ("posthorn: ...") and returned as exit statuses. */
#ifndef POSTHORN_CLIENT_LOCAL_H
#define POSTHORN_CLIENT_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "../store/folder.h"
#include "account.h"
#include "util.h"

/* An open folder of an account. */
struct local_folder {
	struct account_config cfg;
	const struct account *acct;   /* points into cfg */
	const char *root;             /* acct->mail_dir */
	char *name;                   /* "INBOX", "Sent"...; owned */
	struct folder_list list;      /* message N is list.msgs[N-1] */
};

/* Loads the config and account (client_account) and lists folder (NULL:
 * INBOX) of its mail_dir, creating the root when missing. 0 or the exit
 * status after printing the reason (EXIT_CONFIG, EXIT_INPUT for no such
 * folder, EXIT_USAGE for a name the store refuses, EXIT_LOCAL). Free with
 * local_close in every case. */
int local_open(struct local_folder *f, const char *folder);
void local_close(struct local_folder *f);

/* Lists another folder of the same account into f (the old listing and
 * name are freed first). 0 or an exit status as local_open. */
int local_switch(struct local_folder *f, const char *folder);

/* Parses "N", "N,M", "N-M" and lists of them against a folder of count
 * messages into a new array of indexes (0-based, ascending, no
 * duplicates). 0, or EXIT_INPUT/EXIT_USAGE after printing why. */
int local_pick(const struct local_folder *f, const char *spec, size_t **idx,
               size_t *n);

/* Parses a single message number ("3") into the index *i. 0, or
 * EXIT_INPUT (out of range) / EXIT_USAGE (not a number) after printing. */
int local_pick_one(const struct local_folder *f, const char *spec, size_t *i);

/* Loads message index i of f (util_input_load on its path). 0 or
 * EXIT_INPUT after printing why. Free with util_input_free. */
int local_load(const struct local_folder *f, size_t i, struct util_input *in);

/* Writes a short human size ("512", "9.8K", "12M") of at most 5
 * characters plus NUL into out (cap >= 8). */
void local_size(uint64_t bytes, char *out, size_t cap);

#endif
