/* tls: OpenSSL server context and connection descriptions (see tls.h).
 * The files are opened first with fopen so a missing or unreadable one is
 * reported with the errno text, which says more than OpenSSL's queue. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

/* Appends OpenSSL's most recent reason (or a generic one) and clears the
 * error queue. */
static void tls_append_openssl_reason(struct buf *err)
{
	unsigned long code = ERR_peek_last_error();
	const char *reason = code ? ERR_reason_error_string(code) : NULL;
	buf_puts(err, reason ? reason : "unknown OpenSSL error");
	ERR_clear_error();
}

static int tls_check_readable(const char *path, const char *what,
                              struct buf *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		buf_printf(err, "%s: cannot read %s: %s", path, what,
		           strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

static int tls_load_files(SSL_CTX *ctx, const char *cert, const char *key,
                          struct buf *err)
{
	if (tls_check_readable(cert, "TLS certificate", err) < 0 ||
	    tls_check_readable(key, "TLS key", err) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		buf_printf(err, "%s: not a usable PEM certificate: ", cert);
		tls_append_openssl_reason(err);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		buf_printf(err, "%s: not a usable PEM private key: ", key);
		tls_append_openssl_reason(err);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		buf_printf(err, "%s: key does not match the certificate %s",
		           key, cert);
		ERR_clear_error();
		return -1;
	}
	return 0;
}

SSL_CTX *tls_context_new(const char *cert, const char *key, struct buf *err)
{
	if (!cert || !key) {
		buf_puts(err, "TLS needs tls_cert and tls_key in the config");
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		buf_puts(err, "cannot create a TLS context: ");
		tls_append_openssl_reason(err);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                         SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle connections keep no TLS buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	static const unsigned char sid_context[] = "posthornd";
	SSL_CTX_set_session_id_context(ctx, sid_context, sizeof sid_context - 1);
	if (tls_load_files(ctx, cert, key, err) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void tls_describe(const SSL *ssl, char *out, size_t size)
{
	snprintf(out, size, "%s %s", SSL_get_version(ssl),
	         SSL_get_cipher_name(ssl));
}
