/* fuzz-encword: RFC 2047 decoding of arbitrary header text (output must be
 * valid UTF-8), and encoding, whose result must decode to the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/charset.h"
#include "../../src/msg/encword.h"

/* Every encoded-word the encoder wrote is at most 75 characters. */
static void check_words(const struct buf *b)
{
	size_t start = 0;
	int in_word = 0;
	for (size_t i = 0; i + 1 < b->len; i++) {
		if (!in_word && b->data[i] == '=' && b->data[i + 1] == '?') {
			in_word = 1;
			start = i;
			i += 9; /* past "=?UTF-8?X" */
		} else if (in_word && b->data[i] == '?' && b->data[i + 1] == '=') {
			if (i + 2 - start > 75)
				abort();
			in_word = 0;
			i++;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct buf dec = BUF_INIT, enc = BUF_INIT;
	if (msg_encword_decode(s, size, &dec) >= 0 &&
	    !msg_utf8_valid(dec.data, dec.len))
		abort();
	buf_reset(&dec);
	if (msg_encword_encode(s, size, MSG_EW_PHRASE, &enc) == 0)
		check_words(&enc);
	buf_reset(&enc);
	if (msg_utf8_valid(s, size) && msg_encword_encode(s, size, 0, &enc) == 0) {
		check_words(&enc);
		if (msg_encword_decode(enc.data, enc.len, &dec) < 0 ||
		    dec.len != size || (size && memcmp(dec.data, s, size) != 0))
			abort();
	}
	buf_free(&dec);
	buf_free(&enc);
	return 0;
}
