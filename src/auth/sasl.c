/* sasl: decoding and checking the client messages of SASL PLAIN and LOGIN
 * (see sasl.h). The base64 here is strict: a response that is not exactly
 * base64 is refused, not repaired, since it carries a credential. */
#include "sasl.h"

#include <ctype.h>
#include <string.h>

#include "../msg/codec.h"

/* The longest decoded response accepted, and so the longest base64. */
#define SASL_DECODED_MAX 1024
#define SASL_ENCODED_MAX ((SASL_DECODED_MAX + 2) / 3 * 4)

static int base64_alphabet(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/';
}

/* Exact base64: alphabet characters, then at most two '=' that complete a
 * 4-character group, nothing after them. Missing padding is tolerated (some
 * clients omit it), a lone trailing character is not. */
static int base64_strict(const char *s, size_t len)
{
	size_t n = 0, pad = 0;
	while (n < len && base64_alphabet((unsigned char)s[n]))
		n++;
	while (n + pad < len && s[n + pad] == '=')
		pad++;
	if (n + pad != len || pad > 2 || n % 4 == 1)
		return 0;
	return pad == 0 || (n + pad) % 4 == 0;
}

/* Decodes b64 into out (reset first); "=" alone is the empty response. */
static int sasl_decode(const char *b64, size_t len, struct buf *out)
{
	size_t bad = 0;
	buf_reset(out);
	if (len == 1 && b64[0] == '=')
		return 0;
	if (len > SASL_ENCODED_MAX || !base64_strict(b64, len))
		return -1;
	if (msg_base64_decode(b64, len, out, &bad) < 0 || bad ||
	    out->len > SASL_DECODED_MAX || !buf_cstr(out))
		return -1;
	return 0;
}

static void wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_reset(b);
}

/* Appends s[0..n) lowercased. */
static int append_lower(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf_putc(out, (char)tolower((unsigned char)s[i])) < 0)
			return -1;
	return buf_cstr(out) ? 0 : -1;
}

/* True when authzid (any case) names the same user as the lowercased user. */
static int same_user(const char *authzid, size_t n, const struct buf *user)
{
	if (n != user->len)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)authzid[i]) != (unsigned char)user->data[i])
			return 0;
	return 1;
}

int sasl_plain_decode(const char *b64, size_t len, struct buf *user,
                      struct buf *password)
{
	struct buf raw = BUF_INIT;
	int rc = -1;
	buf_reset(user);
	wipe(password);
	if (sasl_decode(b64, len, &raw) < 0 || raw.len == 0)
		goto out;
	const char *zid = raw.data, *end = raw.data + raw.len;
	const char *nul1 = memchr(zid, '\0', raw.len);
	const char *cid = nul1 ? nul1 + 1 : NULL;
	const char *nul2 = cid ? memchr(cid, '\0', (size_t)(end - cid)) : NULL;
	const char *pw = nul2 ? nul2 + 1 : NULL;
	if (!pw || pw == end || nul2 == cid || memchr(pw, '\0', (size_t)(end - pw)))
		goto out;
	if (append_lower(user, cid, (size_t)(nul2 - cid)) < 0 ||
	    (nul1 != zid && !same_user(zid, (size_t)(nul1 - zid), user)) ||
	    buf_append(password, pw, (size_t)(end - pw)) < 0 || !buf_cstr(password))
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		buf_reset(user);
		wipe(password);
	}
	wipe(&raw);
	buf_free(&raw);
	return rc;
}

int sasl_login_decode(const char *b64, size_t len, struct buf *out)
{
	if (sasl_decode(b64, len, out) < 0 || out->len == 0 ||
	    memchr(out->data, '\0', out->len)) {
		wipe(out);
		return -1;
	}
	return 0;
}

int sasl_is_cancel(const char *line, size_t len)
{
	return len == 1 && line[0] == '*';
}
