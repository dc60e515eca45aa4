/* outgoing: a message on its way out, shared by send, compose, reply and
 * forward: the addresses as the user typed them (address book names
 * expanded), the text, attachments, the threading fields; building it with
 * the message library, sending it through the account's SMTP server with
 * every recipient's answer reported, and filing a copy in Sent or Drafts.
 * Also the $EDITOR round trip on a "Key: value" template. */
#ifndef POSTHORN_CLIENT_OUTGOING_H
#define POSTHORN_CLIENT_OUTGOING_H

#include <stddef.h>

#include "../lib/buf.h"
#include "account.h"

/* A growable list of strings; owns them. */
struct outgoing_strs {
	char **v;
	size_t n;
};

/* An attachment held in memory (forwarded parts). */
struct outgoing_part {
	char *data;
	size_t len;
	char *filename;          /* or NULL */
	char *content_type;      /* "type/subtype" or NULL */
};

struct outgoing {
	struct outgoing_strs to, cc, bcc;  /* user tokens: addresses, lists,
	                                    * address book names */
	char *from;              /* another identity, or NULL: the account's */
	char *reply_to;          /* or NULL */
	char *subject;           /* UTF-8; NULL is "" */
	struct buf text;         /* the body, UTF-8 */
	struct buf html;         /* an HTML alternative; empty when none */
	struct outgoing_strs attach;       /* file paths */
	struct outgoing_part *parts;       /* in-memory attachments */
	size_t nparts;
	const char *forward_raw; /* a message attached as message/rfc822, not
	                          * owned, or NULL */
	size_t forward_len;
	char *in_reply_to;       /* without <>, or NULL */
	struct outgoing_strs references;   /* without <> */
};

void outgoing_init(struct outgoing *o);
void outgoing_free(struct outgoing *o);

/* Copies s into l. 0 or -1. */
int outgoing_strs_add(struct outgoing_strs *l, const char *s);

/* Adds a copy of an in-memory attachment. 0 or -1. */
int outgoing_add_part(struct outgoing *o, const void *data, size_t len,
                      const char *filename, const char *content_type);

/* Sends o through a's SMTP server and (save set) files a copy, seen and
 * with its Bcc, in Sent. Prints one line per recipient on stdout and
 * "sent: <message-id>". Returns 0, 1 when some recipients refused it (the
 * exit status of the first refusal is returned instead; see doc/client.md),
 * or the exit status after printing why. *msgid_out (when not NULL) gets
 * the Message-ID (caller frees). */
int outgoing_send(const struct account *a, const struct outgoing *o,
                  int save);

/* Builds o and files it in Drafts with the D flag. Returns 0 or an exit
 * status after printing why. */
int outgoing_save_draft(const struct account *a, const struct outgoing *o);

/* Writes the template of o ("From:", "To:", "Cc:", "Bcc:", "Subject:",
 * "Attach:" lines, a blank line, the text) to a private temporary file,
 * runs $VISUAL, else $EDITOR, else vi on it, reads it back into o. *draft
 * is set when the result has "X-Posthorn-Draft: yes". Returns 0, 1 when
 * the file came back unchanged or without recipients and text ("nothing to
 * send", printed), or an exit status after printing why. */
int outgoing_edit(const struct account *a, struct outgoing *o, int *draft);

/* Reads the body for send/reply/forward when no --body-file was given:
 * standard input when it is not a terminal (sets *done), else nothing
 * (the caller then opens the editor). 0 or EXIT_INPUT. */
int outgoing_read_stdin(struct outgoing *o, int *done);

/* Takes every "--name VALUE" / "--name=VALUE" of a repeatable option
 * (--to, --attach...) out of argv into l, before util_parse_args sees the
 * rest. Returns the new argc, or -1 after printing a usage error. */
int outgoing_take_multi(int argc, char **argv, const char *name,
                        struct outgoing_strs *l);

#endif
