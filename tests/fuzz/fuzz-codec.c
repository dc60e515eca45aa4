/* fuzz-codec: base64 and quoted-printable decoders on arbitrary bytes, and
 * encode->decode round trips that must give the input back exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/codec.h"

static void check_equal(const struct buf *b, const uint8_t *data, size_t size)
{
	if (b->len != size || (size && memcmp(b->data, data, size) != 0))
		abort();
}

static void fuzz_base64(const uint8_t *data, size_t size)
{
	/* Exactly the documented room, so an overlong SIMD store shows. */
	unsigned char *out = malloc(MSG_BASE64_DECODED_MAX(size));
	if (out) {
		size_t n = msg_base64_decode_raw((const char *)data, size, out, NULL);
		if (n > MSG_BASE64_DECODED_MAX(size))
			abort();
		free(out);
	}
	struct buf enc = BUF_INIT, dec = BUF_INIT;
	size_t line = size ? (size_t)(data[0] % 4) * 36 : 76;
	size_t bad = 0;
	if (msg_base64_encode(data, size, line, &enc) == 0 &&
	    msg_base64_decode(enc.data, enc.len, &dec, &bad) == 0) {
		check_equal(&dec, data, size);
		if (bad)
			abort();
	}
	buf_free(&enc);
	buf_free(&dec);
}

/* Text mode writes every line end as CRLF: compare with the input so
 * normalised (a lone CR is data and stays). */
static void fuzz_qp_text(const uint8_t *data, size_t size)
{
	struct buf want = BUF_INIT, enc = BUF_INIT, dec = BUF_INIT;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			buf_putc(&want, '\r');
		buf_putc(&want, (char)data[i]);
	}
	if (msg_qp_encode(data, size, 0, &enc) == 0 &&
	    msg_qp_decode(enc.data, enc.len, &dec) == 0)
		check_equal(&dec, (const uint8_t *)want.data, want.len);
	buf_free(&want);
	buf_free(&enc);
	buf_free(&dec);
}

static void fuzz_qp(const uint8_t *data, size_t size)
{
	struct buf dec = BUF_INIT, enc = BUF_INIT;
	msg_qp_decode((const char *)data, size, &dec);
	buf_reset(&dec);
	if (msg_qp_encode(data, size, MSG_QP_BINARY, &enc) == 0) {
		/* No line may pass 76 characters. */
		size_t col = 0;
		for (size_t i = 0; i < enc.len; i++) {
			col = enc.data[i] == '\n' ? 0 : col + 1;
			if (col > 77)
				abort();
		}
		if (msg_qp_decode(enc.data, enc.len, &dec) == 0)
			check_equal(&dec, data, size);
	}
	buf_free(&dec);
	buf_free(&enc);
	fuzz_qp_text(data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_base64(data, size);
	fuzz_qp(data, size);
	return 0;
}
