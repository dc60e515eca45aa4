/* extract: saving a message's attachments into a directory safely, shared
 * by `posthorn extract` (a message file) and `posthorn attachments --save`
 * (a message of a local folder). */
#ifndef POSTHORN_CLIENT_EXTRACT_H
#define POSTHORN_CLIENT_EXTRACT_H

#include "../lib/buf.h"
#include "util.h"

/* Saves every attachment of in decoded (an attached message whole, not
 * its parts) into dir, created (mode 0700) when missing. Names come from
 * the message made safe: one path component, no control characters or
 * leading dots, never outside dir; "part-SECTION.EXT" when nothing usable
 * is left. An existing file is replaced when force is set; otherwise it
 * is kept and, with keep_both, the attachment is written as the first free
 * "name (N).ext" (reported on stderr), without keep_both it is not
 * written. Appends "DIR/NAME\n" for each file written to paths. Returns 0,
 * or EXIT_PARTIAL after printing on stderr each file that could not be
 * saved or was saved under another name (also "no attachments"). */
int extract_save_attachments(const struct util_input *in, const char *dir,
                             int force, int keep_both, struct buf *paths);

#endif
