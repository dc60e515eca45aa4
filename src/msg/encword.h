/* encword: RFC 2047 encoded-words ("=?charset?B?...?=", "=?cs?Q?...?="),
 * decoding in unstructured text, phrases and (sloppily) quoted filenames,
 * and encoding UTF-8 into words a header can carry. No I/O, no globals. */
#ifndef POSTHORN_MSG_ENCWORD_H
#define POSTHORN_MSG_ENCWORD_H

#include <stddef.h>

#include "../lib/buf.h"

/* Appends the UTF-8 decoding of s[0..len) to out. Encoded-words are decoded
 * (B and Q, either case, RFC 2231 "*lang" suffix ignored); whitespace
 * (including folds) between two adjacent encoded-words is dropped; consecutive
 * words in the same charset are joined before conversion so a character split
 * across words survives; encoded-words inside a word, as some mailers write
 * them, are decoded too. Text outside encoded-words: UTF-8 is kept, other
 * 8-bit text goes through msg_charset_detect. CR and LF are removed (the
 * caller unfolds first when it cares about exact whitespace); bytes that
 * came out of encoded-words are kept as they decoded. Malformed words (bad
 * base64, unknown encoding letter, no "?=") stay literal. Unknown charsets
 * are treated like unlabelled 8-bit text (UTF-8 kept, else detected), so
 * the output is always valid UTF-8. Linear time on any input. Returns 0, 1
 * when something was lossy or of an unknown charset, -1 on limit or memory. */
int msg_encword_decode(const char *s, size_t len, struct buf *out);

enum {
	MSG_EW_PHRASE = 1 << 0, /* the text is a display name: encode specials
	                         * too (RFC 2047 5(3)), and when no encoding is
	                         * needed but specials occur, emit a quoted string */
};

/* Appends s[0..len) (UTF-8) ready for a header: unchanged when it is ASCII
 * and needs nothing; otherwise runs of words containing non-ASCII become
 * "=?UTF-8?B?...?=" or "=?UTF-8?Q?...?=" words (whichever is shorter), each at
 * most 75 characters, separated by single spaces and never splitting a UTF-8
 * character, so a folder may break the line at any space. Spaces next to
 * plain words are kept as they were, spaces between encoded words go inside
 * them, words of the form "=?...?=" and controls (CR, LF) are encoded, so
 * msg_encword_decode gives s back exactly (invalid UTF-8 in s becomes
 * U+FFFD first). Returns 0 or -1. */
int msg_encword_encode(const char *s, size_t len, unsigned flags,
                       struct buf *out);

#endif
