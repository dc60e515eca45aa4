/* fuzz-mime: the input as a Content-Type, a Content-Disposition and a
 * Content-Transfer-Encoding value; every parameter found must survive
 * msg_param_format and a second parse unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/charset.h"
#include "../../src/msg/mime.h"

/* Formats one parsed parameter and parses it back: abort() on a change. */
static void round_trip(const struct msg_param *p)
{
	if (!msg_utf8_valid(p->value, strlen(p->value)))
		return; /* raw bytes of an unknown charset: not UTF-8 to re-encode */
	struct buf out = BUF_INIT;
	size_t col = 14;
	if (buf_puts(&out, "a/b") < 0 ||
	    msg_param_format(p->name, p->value, &col, &out) < 0) {
		buf_free(&out);
		return;
	}
	struct msg_ctype ct;
	if (msg_ctype_parse(out.data, out.len, &ct) == 0) {
		const char *v = msg_ctype_param(&ct, p->name);
		if (!v || strcmp(v, p->value) != 0)
			abort();
	}
	msg_ctype_free(&ct);
	buf_free(&out);
}

static void check(const struct msg_ctype *ct)
{
	for (size_t i = 0; i < ct->nparams; i++) {
		const struct msg_param *p = &ct->params[i];
		if (!p->name || !p->value || !*p->name)
			abort();
		if (msg_ctype_param(ct, p->name) != p->value)
			abort(); /* names must be unique */
		round_trip(p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct msg_ctype ct;
	int r = msg_ctype_parse(s, size, &ct);
	if (r == 0 && (!ct.type || !ct.subtype || !*ct.type || !*ct.subtype))
		abort();
	if (r == 1 && ct.type)
		abort();
	if (r >= 0)
		check(&ct);
	msg_ctype_free(&ct);

	r = msg_disposition_parse(s, size, &ct);
	if (r == 0 && (!ct.type || ct.subtype))
		abort();
	if (r >= 0)
		check(&ct);
	msg_ctype_free(&ct);

	(void)msg_cte_name(msg_cte_parse(s, size));
	return 0;
}
