/* contacts: the address book, one vCard 4.0 file (account_contacts_path):
 * loading it, saving it atomically, and finding a contact by the word a
 * user typed ("send --to li") or by address. */
#ifndef POSTHORN_CLIENT_CONTACTS_H
#define POSTHORN_CLIENT_CONTACTS_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../msg/vcard.h"

/* Largest address book file read (bytes). */
#define CONTACTS_MAX_FILE (64 * 1024 * 1024)

/* The address book's path for the --config of client_globals into out.
 * 0, or -1 with a sentence in why (no HOME). */
int contacts_path(struct buf *out, struct buf *why);

/* Loads the file at path into book (zero it first; free it with
 * vcard_list_free in every case). A missing file is an empty book.
 * Damaged cards are left out: *damaged (if not NULL) gets their count and
 * each problem is printed to stderr as "posthorn: warning: PATH: line N:
 * reason". 0, or -1 with why ("PATH: Permission denied"). */
int contacts_load(const char *path, struct vcard_list *book, size_t *damaged,
                  struct buf *why);

/* contacts_path and contacts_load in one call: path (if not NULL) gets
 * the file name. 0 or -1 with why. */
int contacts_open(struct vcard_list *book, struct buf *path, struct buf *why);

/* Writes book to path as vCard 4.0, atomically with mode 0600, creating
 * its directory (mode 0700). 0, or -1 with why ("PATH: No space left on
 * device"). */
int contacts_save(const char *path, const struct vcard_list *book,
                  struct buf *why);

/* The contact a word names: a card whose FN or one of whose nicknames
 * equals word (ASCII case-insensitively), else the single card whose FN
 * contains word. NULL with a sentence in why when none matches ("no
 * contact 'li' in the address book; 'posthorn contacts list' shows them"),
 * several do ("'li' matches several contacts: Li Lei, Li Na; be more
 * precise") or the one found has no address; why holds the word and
 * names from the file, so print it through util_term_safe. The card lives
 * as long as book is unchanged; send to its emails[0]. */
const struct vcard_card *contacts_lookup(const struct vcard_list *book,
                                         const char *word, struct buf *why);

/* True when the card's name or one of its nicknames is word (ASCII
 * case-insensitively, other bytes exactly). */
int contacts_named(const struct vcard_card *c, const char *word);

/* The index of the card holding address (ASCII case-insensitively), or -1. */
long contacts_find_address(const struct vcard_list *book, const char *address);

/* True when the card's name, a nickname, an address or its organisation
 * contains text (ASCII case-insensitively): what `contacts search` shows. */
int contacts_matches(const struct vcard_card *c, const char *text);

#endif
