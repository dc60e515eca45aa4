/* Fuzzes mx_parse_answer, the one place where bytes from the network
 * (a DNS reply) are parsed for outbound routing. The first byte picks the
 * record type asked for; the rest is the packet. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/smtp/mx.h"

/* What the parser promises about each value it keeps. */
static void check_value(const char *v, int qtype)
{
	unsigned char bin[16];
	if (qtype == ns_t_a || qtype == ns_t_aaaa) {
		if (inet_pton(qtype == ns_t_a ? AF_INET : AF_INET6, v, bin) != 1)
			abort();
		return;
	}
	size_t len = strlen(v);
	if (len > 253)
		abort();
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
		      || c == '_' || c == '.'))
			abort();
	}
	if (len > 0 && (v[0] == '.' || v[len - 1] == '.' || strstr(v, "..")))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	static const int types[4] = {ns_t_mx, ns_t_a, ns_t_aaaa, ns_t_mx};
	int qtype = types[data[0] & 3];
	struct mx_answer a;
	if (mx_parse_answer(data + 1, size - 1, qtype, &a) < 0) {
		if (a.n != 0 || a.recs)
			abort();
		return 0;
	}
	if (a.n > MX_ANSWER_MAX || a.rcode < 0 || a.rcode > 15)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		check_value(a.recs[i].value, qtype);
		if (a.recs[i].pref < 0 || a.recs[i].pref > 65535)
			abort();
	}
	mx_answer_free(&a);
	return 0;
}
