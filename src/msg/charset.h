/* charset: conversion of text in any charset real mail uses to UTF-8, with
 * iconv. GB2312 and GBK are decoded as GB18030 (their superset, which is
 * what senders actually mean), ks_c_5601-1987 as CP949, and so on. No
 * globals: each call opens and closes its own iconv descriptor. */
#ifndef POSTHORN_MSG_CHARSET_H
#define POSTHORN_MSG_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/buf.h"

enum msg_charset_result {
	MSG_CHARSET_OK = 0,      /* converted exactly */
	MSG_CHARSET_LOSSY = 1,   /* invalid sequences became U+FFFD */
	MSG_CHARSET_UNKNOWN = 2, /* charset not known: the bytes were appended
	                          * unchanged (valid UTF-8 or not) */
	MSG_CHARSET_ERROR = -1,  /* out of memory or out's limit */
};

/* The name to hand iconv for a MIME charset label (case-insensitive,
 * aliases resolved: "gb2312", "GBK", "x-gbk", "cp936" -> "GB18030";
 * "latin1" -> "ISO-8859-1"; "utf8" -> "UTF-8"; "ascii"/"us-ascii" ->
 * "UTF-8" (a superset, so 8-bit bytes in "ASCII" text still decode).
 * Returns a static string or the label itself; never NULL for non-NULL. */
const char *msg_charset_canonical(const char *label);

/* Converts in[0..n) from charset (a MIME label; NULL or "" means detect with
 * msg_charset_detect) to UTF-8 appended to out. */
enum msg_charset_result msg_charset_to_utf8(const char *charset,
                                            const char *in, size_t n,
                                            struct buf *out);

/* Converts UTF-8 to the charset (for building messages in e.g. GB18030).
 * Aliases resolve as above, so "gb2312" writes GB18030 and "shift_jis"
 * CP932. Characters that cannot be represented (and invalid UTF-8) give
 * MSG_CHARSET_LOSSY with '?'; unknown charsets MSG_CHARSET_UNKNOWN with the
 * bytes unchanged. */
enum msg_charset_result msg_charset_from_utf8(const char *charset,
                                              const char *in, size_t n,
                                              struct buf *out);

/* Guesses the charset of unlabelled 8-bit text: "US-ASCII" when all bytes
 * are < 0x80, "UTF-8" when it is valid UTF-8, "GB18030" when it decodes as
 * GB18030, else "windows-1252". Returns a static string. */
const char *msg_charset_detect(const char *in, size_t n);

/* True when in[0..n) is valid UTF-8 (no overlongs, no surrogates). */
bool msg_utf8_valid(const char *in, size_t n);

/* Appends in[0..n) to out with each invalid UTF-8 sequence replaced by
 * U+FFFD, so the result is safe to print or put in JSON. 0 or -1. */
int msg_utf8_sanitize(const char *in, size_t n, struct buf *out);

#endif
