/* fuzz-address: msg_address_parse on any bytes; every address found must
 * format, and the formatted form must parse back to the same address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/address.h"

static void check_round_trip(const struct msg_address *a)
{
	struct buf out = BUF_INIT;
	if (msg_address_format(a, &out) < 0 || msg_address_spec(a, &out) < 0)
		abort();
	buf_reset(&out);
	(void)msg_address_format(a, &out);
	struct msg_address_list again = {0};
	int rc = msg_address_parse(out.data ? out.data : "", out.len, &again,
	                           NULL, NULL);
	if (rc == -2) {
		buf_free(&out);
		return;
	}
	if (rc != 0 || again.count != 1 || strcmp(again.items[0].local, a->local) ||
	    strcmp(again.items[0].domain, a->domain))
		abort();
	msg_address_list_free(&again);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_address_list list = {0};
	size_t err_pos = 0;
	const char *err = NULL;
	int rc = msg_address_parse((const char *)data, size, &list, &err_pos, &err);
	if (rc == -1 && (!err || err_pos > size))
		abort();
	for (size_t i = 0; rc != -2 && i < list.count; i++) {
		const struct msg_address *a = &list.items[i];
		if (!a->name || !a->local || !a->domain)
			abort();
		check_round_trip(a);
	}
	msg_address_list_free(&list);
	return 0;
}
