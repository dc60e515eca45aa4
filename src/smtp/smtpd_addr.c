/* smtpd_addr: RFC 5321 path, domain and ESMTP parameter syntax for the SMTP
 * server (see smtpd_addr.h). Pure functions over (pointer, length). */
#include "smtpd_addr.h"

#include "../msg/charset.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

static int addr_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* atext of RFC 5322 3.2.3; 8-bit bytes are UTF8-non-ascii (RFC 6531),
 * validated as a whole afterwards. */
static int addr_is_atext(unsigned char c)
{
	return addr_is_alnum(c) || c >= 0x80 ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int addr_label_char(unsigned char c, int utf8, int lenient)
{
	return addr_is_alnum(c) || c == '-' || (utf8 && c >= 0x80) ||
	       (lenient && c == '_');
}

static int addr_domain_name_valid(const char *s, size_t len, int utf8,
                                  int lenient)
{
	size_t label = 0;
	if (len == 0 || len > SMTPD_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (addr_label_char(c, utf8, lenient)) {
			if ((label == 0 && c == '-') || ++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	if (label == 0 || s[len - 1] == '-')
		return 0;
	return !utf8 || msg_utf8_valid(s, len);
}

/* General-address-literal: Standardized-tag ":" 1*dcontent. */
static int addr_general_literal_valid(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	if (!colon || colon == s || colon == s + len - 1)
		return 0;
	for (const char *p = s; p < colon; p++)
		if (!addr_is_alnum((unsigned char)*p) && *p != '-')
			return 0;
	for (const char *p = colon + 1; p < s + len; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return 0;
	}
	return 1;
}

/* "[...]" with IPv4, "IPv6:" or a general literal inside. */
static int addr_literal_valid(const char *s, size_t len)
{
	char tmp[64];
	unsigned char bin[16];
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	s++, len -= 2;
	if (len >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		if (len - 5 >= sizeof tmp)
			return 0;
		memcpy(tmp, s + 5, len - 5);
		tmp[len - 5] = '\0';
		return inet_pton(AF_INET6, tmp, bin) == 1;
	}
	if (len < sizeof tmp && strspn(s, "0123456789.") >= len) {
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		return inet_pton(AF_INET, tmp, bin) == 1;
	}
	return addr_general_literal_valid(s, len);
}

int smtpd_domain_valid(const char *s, size_t len, int utf8, int lenient)
{
	if (len > 0 && s[0] == '[')
		return addr_literal_valid(s, len);
	return addr_domain_name_valid(s, len, utf8, lenient);
}

/* Length of the domain or literal starting at s[0..len): up to the first
 * byte that cannot belong to one ('>' ',' ':' or anything odd). */
static size_t addr_domain_span(const char *s, size_t len)
{
	size_t i = 0;
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		return close ? (size_t)(close - s) + 1 : len;
	}
	while (i < len && s[i] != '>' && s[i] != ',' && s[i] != ':' &&
	       s[i] != ' ')
		i++;
	return i;
}

/* A-d-l ":" — the obsolete source route, validated and skipped. */
static int addr_skip_route(const char *s, size_t len, size_t *pos,
                           const char **why)
{
	size_t i = *pos;
	for (;;) {
		if (i >= len || s[i] != '@')
			return *why = "bad source route", -1;
		size_t n = addr_domain_span(s + i + 1, len - i - 1);
		if (n > SMTPD_DOMAIN_MAX)
			return *why = "domain too long", -1;
		if (!smtpd_domain_valid(s + i + 1, n, 1, 0))
			return *why = "bad domain in source route", -1;
		i += 1 + n;
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		if (i < len && s[i] == ':')
			break;
		return *why = "bad source route", -1;
	}
	*pos = i + 1;
	return 0;
}

/* Quoted-string (RFC 5321 4.1.2): qtextSMTP and quoted-pairSMTP; copies
 * the unquoted form to local. */
static int addr_quoted_local(const char *s, size_t len, size_t *pos,
                             struct smtpd_path *p, const char **why)
{
	size_t i = *pos + 1, n = 0;
	while (i < len && s[i] != '"') {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			if (++i >= len || (unsigned char)s[i] < 32 ||
			    (unsigned char)s[i] > 126)
				return *why = "bad quoted-pair in local part", -1;
			c = (unsigned char)s[i];
		} else if (c < 32 || c == 127) {
			return *why = "control character in local part", -1;
		}
		if (n >= SMTPD_PATH_MAX)
			return *why = "local part too long", -1;
		p->local[n++] = (char)c;
		i++;
	}
	if (i >= len)
		return *why = "unterminated quoted local part", -1;
	p->local[n] = '\0';
	*pos = i + 1;
	return 0;
}

/* Dot-string: Atom *("." Atom). */
static int addr_dot_local(const char *s, size_t len, size_t *pos,
                          struct smtpd_path *p, const char **why)
{
	size_t i = *pos, start = *pos;
	int need_atext = 1;
	while (i < len && (addr_is_atext((unsigned char)s[i]) || s[i] == '.')) {
		if (s[i] == '.') {
			if (need_atext)
				return *why = "bad dots in local part", -1;
			need_atext = 1;
		} else {
			need_atext = 0;
		}
		i++;
	}
	if (i == start)
		return *why = "empty local part", -1;
	if (need_atext)
		return *why = "bad dots in local part", -1;
	if (i - start > SMTPD_PATH_MAX)
		return *why = "local part too long", -1;
	memcpy(p->local, s + start, i - start);
	p->local[i - start] = '\0';
	*pos = i;
	return 0;
}

static int addr_has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* Mailbox = Local-part ["@" (Domain / address-literal)] up to ">". */
static int addr_mailbox(const char *s, size_t len, size_t *pos, unsigned flags,
                        struct smtpd_path *p, const char **why)
{
	size_t start = *pos, i = *pos;
	int rc = i < len && s[i] == '"' ? addr_quoted_local(s, len, &i, p, why)
	                                : addr_dot_local(s, len, &i, p, why);
	if (rc < 0)
		return -1;
	if (i < len && s[i] == '@') {
		size_t n = addr_domain_span(s + i + 1, len - i - 1);
		if (n > SMTPD_DOMAIN_MAX)
			return *why = "domain too long", -1;
		if (!smtpd_domain_valid(s + i + 1, n, 1, 0))
			return *why = "bad domain", -1;
		memcpy(p->domain, s + i + 1, n);
		p->domain[n] = '\0';
		i += 1 + n;
	} else if (!(flags & SMTPD_PATH_POSTMASTER_OK) || s[start] == '"' ||
	           strcasecmp(p->local, "postmaster") != 0) {
		return *why = "missing domain", -1;
	}
	/* The check on the whole path comes later and cannot see a source
	 * route's share, so bound this copy by itself. */
	if (i - start > SMTPD_PATH_MAX)
		return *why = "path too long", -1;
	memcpy(p->mailbox, s + start, i - start);
	p->mailbox[i - start] = '\0';
	*pos = i;
	return 0;
}

int smtpd_path_parse(const char *s, size_t len, unsigned flags,
                     struct smtpd_path *p, size_t *end, const char **why)
{
	size_t i = 1;
	memset(p, 0, sizeof *p);
	if (len == 0 || s[0] != '<')
		return *why = "path must be enclosed in <>", -1;
	const char *close = memchr(s, '>', len);
	if (close && (size_t)(close - s) + 1 > SMTPD_PATH_MAX && s[1] != '"')
		return *why = "path too long", -1;
	if (len > 1 && s[1] == '>') {
		if (!(flags & SMTPD_PATH_NULL_OK))
			return *why = "null path not allowed here", -1;
		p->is_null = 1;
		*end = 2;
		return 0;
	}
	if (i < len && s[i] == '@' && addr_skip_route(s, len, &i, why) < 0)
		return -1;
	if (addr_mailbox(s, len, &i, flags, p, why) < 0)
		return -1;
	if (i >= len || s[i] != '>')
		return *why = "path must end with >", -1;
	if (i + 1 > SMTPD_PATH_MAX)
		return *why = "path too long", -1;
	p->utf8 = addr_has_8bit(p->mailbox, strlen(p->mailbox));
	if (p->utf8 && !(flags & SMTPD_PATH_UTF8_OK))
		return *why = "non-ASCII address without SMTPUTF8", -1;
	if (p->utf8 && !msg_utf8_valid(p->mailbox, strlen(p->mailbox)))
		return *why = "invalid UTF-8 in address", -1;
	*end = i + 1;
	return 0;
}

static int addr_is_keyword(const char *s, size_t len)
{
	if (len == 0 || !addr_is_alnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!addr_is_alnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531). */
static int addr_is_value(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=' || (c < 33) || c == 127)
			return 0;
	}
	return 1;
}

int smtpd_params_split(const char *s, size_t len, struct smtpd_param *out,
                       size_t max, const char **why)
{
	size_t i = 0, count = 0;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			return (int)count;
		size_t start = i;
		while (i < len && s[i] != ' ')
			i++;
		if (count == max)
			return *why = "too many parameters", -1;
		const char *eq = memchr(s + start, '=', i - start);
		struct smtpd_param *param = &out[count++];
		param->key = s + start;
		param->key_len = eq ? (size_t)(eq - (s + start)) : i - start;
		param->value = eq ? eq + 1 : NULL;
		param->value_len = eq ? (size_t)(s + i - eq - 1) : 0;
		if (!addr_is_keyword(param->key, param->key_len) ||
		    (eq && !addr_is_value(param->value, param->value_len)))
			return *why = "bad parameter syntax", -1;
	}
}

int smtpd_param_is(const struct smtpd_param *param, const char *key)
{
	return strlen(key) == param->key_len &&
	       strncasecmp(param->key, key, param->key_len) == 0;
}
