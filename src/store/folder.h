/* folder: the mail client's local mail store, Maildir++ (the layout Dovecot,
 * Courier, mutt and posthornd use): the root directory is INBOX, other
 * folders are ".Name" beside its tmp/ new/ cur/, nested folders
 * ".Parent.Child". Folder names are given with "/" between levels
 * ("Work/2026"); they are UTF-8, and '.', a level starting or ending with
 * a space, control characters (C0, DEL, C1), "/" at the ends or doubled,
 * invalid UTF-8, "INBOX/..." and names over 200 bytes are refused. "INBOX"
 * (any case) is the root. Every "why" gets one sentence a user can read
 * ("no folder 'Work'"); why may be NULL. Messages carry their flags in the
 * name (":2,FLAGS", letters sorted: D draft, F flagged, P passed, R replied,
 * S seen, T trashed). Every change is fsync'd (file and directories) before
 * it returns, so a crash loses nothing that was reported done. */
#ifndef POSTHORN_FOLDER_H
#define POSTHORN_FOLDER_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"

/* One message of a folder. */
struct folder_msg {
	char *name;            /* file name in new/ or cur/ (without directory);
	                        * owned by the listing */
	char *path;            /* full path; owned by the listing */
	int in_new;            /* lies in new/ (not yet seen by a client) */
	char flags[8];         /* sorted uppercase flag letters of the name's
	                        * ":2," info, "" when none (lowercase keywords
	                        * of other programs stay in the name only) */
	int64_t time;          /* delivery time: the seconds that start the
	                        * name, else the file's mtime */
	uint64_t size;         /* bytes of the file: ",S=" of the name when it
	                        * has one, else from stat */
};

/* A folder's messages sorted by (time, name) ascending: the message number
 * N shown to the user is index + 1, so 1 is the oldest. */
struct folder_list {
	struct folder_msg *msgs;
	size_t n;
};

/* Creates the Maildir++ root (and tmp/ new/ cur/) when missing. 0, or -1
 * with errno and a sentence in why. */
int folder_root_init(const char *root, struct buf *why);

/* Appends the path of folder name under root to out ("INBOX" is root
 * itself, without trailing slashes). -1 with errno EINVAL and a sentence in
 * why for a bad name (out unchanged). */
int folder_path(const char *root, const char *name, struct buf *out,
                struct buf *why);

/* Nonzero when the folder exists (its cur/ is a directory). */
int folder_exists(const char *root, const char *name);

/* The folder names, "INBOX" first, then the others sorted as a tree
 * ("A", "A/B", "A B"), one per line ("Sent\n", "Work/2026\n"), appended to
 * out. Only ".X" directories of root holding a cur/ count; ones whose name
 * is no valid folder name are skipped. 0 or -1 with why. */
int folder_names(const char *root, struct buf *out, struct buf *why);

/* Creates a folder (and its missing parents, so "A/B" creates "A"); also
 * writes the "maildirfolder" marker file Maildir++ asks for. Already
 * existing is not an error. 0 or -1 with why. */
int folder_create(const char *root, const char *name, struct buf *why);

/* Renames a folder and its subfolders (".A" -> ".B", ".A.x" -> ".B.x"),
 * creating missing parents of the target. Refuses INBOX (either side), a
 * missing source (ENOENT), an existing target or one whose directories are
 * in the way (EEXIST), a target inside the source ("A" -> "A/B", EINVAL). A failed rename undoes the ones already done. 0 or
 * -1 with why. */
int folder_rename(const char *root, const char *from, const char *to,
                  struct buf *why);

/* Deletes a folder with its messages and subfolders (".A" and ".A.*",
 * deepest first), everything inside them; symlinks are removed, never
 * followed. Refuses INBOX (EINVAL) and a missing folder (ENOENT). 0 or -1
 * with why. */
int folder_delete(const char *root, const char *name, struct buf *why);

/* Lists a folder (new/ and cur/) into l (zeroed by the call; free it with
 * folder_list_free even after a failure). Names starting with '.' and
 * anything but regular files are skipped; files whose names lack ":2,"
 * have no flags. 0 or -1 with why (no such folder: errno ENOENT). */
int folder_list(const char *root, const char *name, struct folder_list *l,
                struct buf *why);
void folder_list_free(struct folder_list *l);

/* Stores data as a new message in folder with the given flags (NULL or ""
 * for none: it goes to new/; with flags, letters of DFPRST in any order,
 * to cur/NAME:2,SORTED). tag, when not NULL or "", is put in the unique
 * part of the name ("SECONDS.Ptag_RANDOM.HOST,S=SIZE", else
 * "SECONDS.RRANDOM.HOST,S=SIZE") so a later folder_has_tag can tell the
 * message is there (fetch's crash recovery); tag is [A-Za-z0-9] only, at
 * most 64 characters (EINVAL otherwise). Written to tmp/, fsync'd, renamed,
 * directory fsync'd. The new file name (with its ":2," info) is appended
 * to name_out when not NULL. 0 or -1 with why (nothing is left behind;
 * no such folder: ENOENT). */
int folder_add(const char *root, const char *name, const void *data,
               size_t len, const char *flags, const char *tag,
               struct buf *name_out, struct buf *why);

/* Nonzero when a message of listing l (see folder_list) carries tag, i.e.
 * its name holds ".Ptag_". 0 for a NULL l or an invalid tag. */
int folder_has_tag(const struct folder_list *l, const char *tag);

/* Changes the flags of message m of a listing of folder name: adds the
 * letters of add, removes those of del (either may be NULL; letters of
 * DFPRST only, EINVAL otherwise), moving it from new/ to cur/ as
 * BASE:2,SORTED (letters of other programs kept). Updates m (name and path
 * are freed and replaced, flags, in_new). Nothing to change is a no-op.
 * 0 or -1 with why (m unchanged then; ENOENT: the file is gone). */
int folder_set_flags(const char *root, const char *name,
                     struct folder_msg *m, const char *add, const char *del,
                     struct buf *why);

/* Moves message m (of folder from) to the same subdirectory (new/ or cur/)
 * of folder to, keeping its name and flags; when that name is taken there,
 * it gets a fresh unique one (same seconds and flags). Both directories
 * fsync'd. The target must exist ("no folder 'X'", ENOENT) and differ from
 * from (EINVAL). m is not updated: list again. 0 or -1 with why. */
int folder_move(const char *root, const char *from, const struct folder_msg *m,
                const char *to, struct buf *why);

/* Deletes message m of folder name for good (a file already gone counts
 * as deleted); the directory is fsync'd. 0 or -1 with why. */
int folder_remove(const char *root, const char *name,
                  const struct folder_msg *m, struct buf *why);

#endif
