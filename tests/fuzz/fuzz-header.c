/* fuzz-header: msg_header_parse on any bytes, then every lookup and unfold,
 * checking the offsets it reports stay inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct msg_header h;
	size_t max_fields = size ? (size_t)data[0] % 64 : 0;
	if (msg_header_parse(s, size, max_fields, &h) < 0)
		return 0;
	if (h.body_offset > size)
		abort();
	struct buf out;
	buf_init(&out, 4096);
	for (size_t i = 0; i < h.count; i++) {
		const struct msg_field *f = &h.fields[i];
		if (f->offset + f->raw_len > h.body_offset || f->name != s + f->offset ||
		    f->value + f->value_len > s + f->offset + f->raw_len)
			abort();
		char name[80];
		size_t n = f->name_len < sizeof name - 1 ? f->name_len : sizeof name - 1;
		memcpy(name, f->name, n);
		name[n] = '\0';
		if (n == f->name_len && !msg_header_get(&h, name))
			abort();
		(void)msg_header_next(&h, f);
		(void)msg_header_count(&h, name);
		buf_reset(&out);
		(void)msg_field_unfold(f, &out);
	}
	free(msg_header_value(&h, "Subject"));
	buf_free(&out);
	msg_header_free(&h);
	return 0;
}
