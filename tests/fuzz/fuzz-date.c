/* fuzz-date: msg_date_parse on any bytes; whatever parses must format and
 * parse back to the same instant and zone. */
#include <stdint.h>
#include <stdlib.h>

#include "../../src/msg/date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t utc, back;
	int off, back_off;
	if (msg_date_parse((const char *)data, size, &utc, &off) < 0)
		return 0;
	char out[32], iso[32];
	int n = msg_date_format(utc, off, out, sizeof out);
	if (n < 0)
		abort(); /* parsed years are 0..9999 in their own zone */
	/* In UTC the year may leave 0..9999 by a day: -1 is fine there. */
	(void)msg_date_format_iso(utc, iso, sizeof iso);
	if (msg_date_parse(out, (size_t)n, &back, &back_off) < 0 ||
	    back != utc || back_off != off)
		abort();
	return 0;
}
