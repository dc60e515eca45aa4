/* Fuzzes the SMTP server's argument parsers: MAIL/RCPT paths with every
 * flag combination, the ESMTP parameters after them, and HELO names. The
 * first byte picks the flags so the fuzzer explores each mode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/smtp/smtpd_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned flags = data[0] & 7;
	const char *s = (const char *)data + 1;
	size_t len = size - 1;

	struct smtpd_path p;
	size_t end = 0;
	const char *why = NULL;
	if (smtpd_path_parse(s, len, flags, &p, &end, &why) == 0) {
		/* what the parser promises: terminated fields within bounds, the
		 * end inside the input, a null path only when allowed */
		if (end > len || strlen(p.mailbox) > SMTPD_PATH_MAX ||
		    strlen(p.local) > SMTPD_PATH_MAX ||
		    strlen(p.domain) > SMTPD_PATH_MAX)
			abort();
		if (p.is_null && !(flags & SMTPD_PATH_NULL_OK))
			abort();
		struct smtpd_param params[16];
		int n = smtpd_params_split(s + end, len - end, params, 16, &why);
		for (int i = 0; i < n; i++)
			if (params[i].key < s || params[i].key + params[i].key_len > s + len)
				abort();
	} else if (!why) {
		abort();
	}
	(void)smtpd_domain_valid(s, len, flags & 1, flags & 2);
	return 0;
}
