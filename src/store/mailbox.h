/* mailbox: a user's Maildir INBOX as a POP3 session sees it (RFC 1939): an
 * exclusive lock held for the session, a numbered snapshot taken when it is
 * opened, unique ids that survive restarts and are never reused, and the
 * UPDATE step that deletes messages and marks retrieved ones seen. Every
 * function does blocking file I/O: the daemon calls them from a job. */
#ifndef POSTHORN_MAILBOX_H
#define POSTHORN_MAILBOX_H

#include <stddef.h>

#include "../lib/buf.h"

/* Longest unique id (RFC 1939: 1 to 70 characters 0x21..0x7E). */
#define MAILBOX_UID_MAX 70

struct mailbox_msg {
	char *name;          /* owned; file name in new/ or cur/ when opened */
	int in_cur;          /* the file was in cur/ (else new/) */
	char uid[MAILBOX_UID_MAX + 1]; /* the Maildir base name (the name up
	                      * to ':'), or "x" and 32 hex digits of its MD5
	                      * when the base name is not a valid POP3 uid */
	unsigned long long size; /* octets as sent: every line end a CRLF, and
	                      * a CRLF added after a last line without one;
	                      * ",W=" in the name when present (and not below
	                      * the file's size), else counted */
	long long mtime;     /* an order key: the file's mtime (seconds), or
	                      * the name's seconds when the name gave
	                      * everything and the file was not stat'd */
};

struct mailbox {
	char *path;              /* owned; the Maildir */
	int lock_fd;             /* holds the flock */
	struct mailbox_msg *msgs;  /* owned; oldest first: msgs[0] is POP3
	                            * message 1 */
	size_t count;
	unsigned long long total;  /* sum of sizes (saturating) */
};

enum mailbox_open_result {
	MAILBOX_OK = 0,
	MAILBOX_LOCKED = 1,      /* another session holds the lock */
	MAILBOX_ERROR = -1,      /* reason appended to err */
};

/* Opens the Maildir at path (created when missing: a user without mail
 * yet), takes an exclusive, non-blocking flock on path/posthorn-pop3.lock
 * (released by mailbox_close or by the process dying, so a crash never
 * leaves a mailbox locked; the lock is per open, so a second mailbox_open
 * in the same process gets MAILBOX_LOCKED too) and lists new/ and cur/
 * into a snapshot ordered by delivery (the leading seconds of the name, or
 * the mtime for a name without them, then the file's mtime, then the
 * name; a name with leading seconds, S= and W= is trusted without a stat,
 * so within one second such files sort by name). Files that vanish while listing are skipped; names starting with
 * '.' and anything but regular files (symlinks too) are ignored; a file
 * seen in both new/ and cur/ (moved while listing) is listed once. Mail
 * delivered later is not in the snapshot. *out is set only for
 * MAILBOX_OK. */
enum mailbox_open_result mailbox_open(const char *path, struct mailbox **out,
                                      struct buf *err);

/* Opens message i (0-based) for reading (O_RDONLY|O_CLOEXEC, blocking).
 * When its file was renamed meanwhile (another reader moved it to cur/ or
 * changed its flags) it is looked for by base name in new/ and cur/, and
 * msgs[i].name and in_cur follow it. Returns the fd (the caller closes
 * it), or -1 with errno (ENOENT: the message is gone; EINVAL: i is out of
 * range or the name is no longer a regular file; ELOOP: a symlink). */
int mailbox_open_msg(struct mailbox *mb, size_t i);

/* UPDATE: unlinks every message i with deleted[i] nonzero, then moves every
 * other one with seen[i] nonzero to cur/ with the S flag added to its info
 * (":2,S", flags kept sorted; a file in cur/ already marked S, or with an
 * info other than ":2,", is left alone), then fsyncs new/ and cur/ (those
 * that changed). Files renamed by another reader are found by base name;
 * a message already gone counts as deleted. deleted and seen hold count
 * entries (NULL: none). Work goes on after an error; returns 0, or -1 when
 * some step failed (each failure appended to err, "; "-separated; the
 * caller says -ERR so the client knows). */
int mailbox_commit(struct mailbox *mb, const unsigned char *deleted,
                   const unsigned char *seen, struct buf *err);

/* Releases the lock and frees everything; *mb becomes NULL. Nothing is
 * deleted or marked: a session that ends without QUIT changes nothing. */
void mailbox_close(struct mailbox **mb);

#endif
