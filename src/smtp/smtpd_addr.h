/* smtpd_addr: the argument syntax of the SMTP server, parsed without I/O so
 * unit tests and fuzzers drive it directly: RFC 5321 4.1.2 paths (MAIL FROM
 * and RCPT TO), RFC 6531 UTF-8 mailboxes, address literals, HELO names and
 * ESMTP "keyword[=value]" parameters. */
#ifndef POSTHORN_SMTPD_ADDR_H
#define POSTHORN_SMTPD_ADDR_H

#include <stddef.h>

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets including "<>". */
#define SMTPD_PATH_MAX 256
/* RFC 5321 4.5.3.1.2: a domain is at most 255 octets. */
#define SMTPD_DOMAIN_MAX 255

struct smtpd_path {
	char mailbox[SMTPD_PATH_MAX + 1]; /* "local@domain" as written (quotes
	                                   * kept, source route removed); "" for <> */
	char local[SMTPD_PATH_MAX + 1];   /* local part with quoting removed */
	char domain[SMTPD_PATH_MAX + 1];  /* domain or "[literal]"; "" if none */
	int is_null;                      /* the null path <> */
	int utf8;                         /* bytes >= 0x80 in the mailbox */
};

enum {
	SMTPD_PATH_NULL_OK = 1 << 0,       /* <> is acceptable (MAIL FROM) */
	SMTPD_PATH_POSTMASTER_OK = 1 << 1, /* <Postmaster> without domain (RCPT) */
	SMTPD_PATH_UTF8_OK = 1 << 2,       /* non-ASCII allowed (SMTPUTF8) */
};

/* Parses the path at the start of s[0..len): "<" [A-d-l ":"] Mailbox ">".
 * Returns 0 with p filled and *end the offset just past ">", or -1 with
 * *why a constant English reason. Non-ASCII needs SMTPD_PATH_UTF8_OK and
 * must be valid UTF-8; p->utf8 tells the caller it was there. */
int smtpd_path_parse(const char *s, size_t len, unsigned flags,
                     struct smtpd_path *p, size_t *end, const char **why);

/* True when s[0..len) is a Domain (RFC 5321 4.1.2) or an address literal
 * "[1.2.3.4]", "[IPv6:...]". lenient accepts '_' in labels, which real
 * HELO names (Windows machine names) contain. utf8 accepts U-labels. */
int smtpd_domain_valid(const char *s, size_t len, int utf8, int lenient);

struct smtpd_param {
	const char *key;     /* points into the input */
	size_t key_len;
	const char *value;   /* NULL when the keyword had no "=value" */
	size_t value_len;
};

/* Splits s[0..len) (what follows the path) into SP-separated
 * esmtp-keyword[=esmtp-value] items, pointing into s, at most max of them.
 * Returns the count, or -1 with *why on bad syntax or too many. */
int smtpd_params_split(const char *s, size_t len, struct smtpd_param *out,
                       size_t max, const char **why);

/* True when param's keyword equals key case-insensitively. */
int smtpd_param_is(const struct smtpd_param *param, const char *key);

#endif
