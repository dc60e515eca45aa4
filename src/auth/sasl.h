/* sasl: the server side of SASL PLAIN (RFC 4616) and LOGIN, shared by the
 * SMTP, POP3 and IMAP sessions. Only decoding and checking the messages is
 * here; verifying the password is users_verify, run off the event loop. */
#ifndef POSTHORN_SASL_H
#define POSTHORN_SASL_H

#include <stddef.h>

#include "../lib/buf.h"

/* Decodes a base64 PLAIN response "authzid\0authcid\0password" into
 * authcid (the user name, lowercased) and password. An authzid that is not
 * empty and differs from authcid is refused (no proxy login). "=" alone
 * means an empty response. Returns 0, or -1 for malformed input (bad
 * base64, missing NULs, empty user or password, a NUL inside, over 1024
 * bytes). user and password are reset first (and left empty on failure);
 * password buffers are wiped with explicit_bzero before reuse. Base64 is
 * strict: characters outside the alphabet or data after the padding are
 * refused (missing padding is tolerated). */
int sasl_plain_decode(const char *b64, size_t len, struct buf *user,
                      struct buf *password);

/* Decodes one base64 LOGIN response (user name or password) into out
 * (reset first, not lowercased). 0 or -1 as above (empty is -1). */
int sasl_login_decode(const char *b64, size_t len, struct buf *out);

/* True when a client response line is "*", the cancel of RFC 4954 / 5034. */
int sasl_is_cancel(const char *line, size_t len);

#endif
