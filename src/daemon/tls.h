/* tls: the server's OpenSSL context, built from the configured certificate
 * chain and key, and a one-line description of an established connection
 * for logs and the Received header. */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "../lib/buf.h"

/* A server context (TLS 1.2 and later) holding the PEM certificate chain
 * cert and private key key. NULL with a reason naming the file appended to
 * err when a file is missing or unreadable, is no PEM of the right kind, or
 * the key does not belong to the certificate. Free with SSL_CTX_free. */
SSL_CTX *tls_context_new(const char *cert, const char *key, struct buf *err);

/* Writes "TLSv1.3 TLS_AES_256_GCM_SHA384" for ssl into out (size bytes,
 * always NUL-terminated). */
void tls_describe(const SSL *ssl, char *out, size_t size);

#endif
