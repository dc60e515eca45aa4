/* msgid: parsing msg-id lists (Message-ID, In-Reply-To, References) and
 * generating new ids (see msgid.h). */
#include "msgid.h"

#include "../lib/buf.h"
#include "../lib/fs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int msgid_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Control bytes never belong in an id; 8-bit ones are tolerated. */
static int msgid_is_control(char c)
{
	unsigned char u = (unsigned char)c;
	return u < 0x20 || u == 0x7f;
}

/* Offset past the comment (nested, with quoted-pairs) starting at pos. */
static size_t msgid_skip_comment(const char *s, size_t len, size_t pos)
{
	size_t depth = 0;
	for (; pos < len; pos++) {
		if (s[pos] == '\\')
			pos++;
		else if (s[pos] == '(')
			depth++;
		else if (s[pos] == ')' && --depth == 0)
			return pos + 1;
	}
	return len;
}

/* Offset past the quoted string starting at pos. */
static size_t msgid_skip_quoted(const char *s, size_t len, size_t pos)
{
	for (pos++; pos < len; pos++) {
		if (s[pos] == '\\')
			pos++;
		else if (s[pos] == '"')
			return pos + 1;
	}
	return len;
}

static int msgid_push(struct msg_id_list *list, const char *id, size_t n)
{
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 4;
		char **p = realloc(list->ids, cap * sizeof *p);
		if (!p)
			return -1;
		list->ids = p;
		list->cap = cap;
	}
	/* id is not NUL-terminated: copy exactly n bytes (strndup may look
	 * further for the NUL, and ASan's strict string checks say so). */
	char *copy = malloc(n + 1);
	if (!copy)
		return -1;
	memcpy(copy, id, n);
	copy[n] = '\0';
	list->ids[list->count++] = copy;
	return 0;
}

/* Takes the "<...>" at *pos: folding whitespace and comments inside are
 * dropped (obsolete syntax allows CFWS around the '@' and dots), a
 * second '<' restarts the id ("<<a@b>>"), and ids that are empty, hold
 * control bytes or lack their '>' are skipped. 0, or -1 out of memory. */
static int msgid_take_bracketed(const char *s, size_t len, size_t *pos,
                                struct msg_id_list *list)
{
	struct buf id;
	buf_init(&id, len);
	int bad = 0, rc = 0;
	size_t i;
	for (i = *pos + 1; i < len && s[i] != '>'; i++) {
		if (s[i] == '<') {
			buf_reset(&id);
			bad = 0;
		} else if (msgid_is_space(s[i])) {
			continue;
		} else if (s[i] == '(') {
			/* obs-id-left/right may carry CFWS: drop comments */
			i = msgid_skip_comment(s, len, i) - 1;
		} else if (msgid_is_control(s[i])) {
			bad = 1;
		} else if (buf_putc(&id, s[i]) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && i < len && !bad && id.len > 0)
		rc = msgid_push(list, id.data, id.len);
	buf_free(&id);
	*pos = i < len ? i + 1 : len;
	return rc;
}

/* A bare word at *pos (no brackets anywhere in the field): taken when it
 * holds an '@'. 0, or -1 out of memory. */
static int msgid_take_word(const char *s, size_t len, size_t *pos,
                           struct msg_id_list *list)
{
	size_t start = *pos, i = start;
	int at = 0, bad = 0;
	while (i < len && !msgid_is_space(s[i]) && s[i] != '(' && s[i] != '"' &&
	       s[i] != ',') {
		at |= s[i] == '@';
		bad |= msgid_is_control(s[i]);
		i++;
	}
	*pos = i > start ? i : i + 1;
	if (!at || bad)
		return 0;
	return msgid_push(list, s + start, i - start);
}

int msg_id_parse(const char *s, size_t len, struct msg_id_list *list)
{
	size_t before = list->count, pos = 0;
	int brackets = len && memchr(s, '<', len) != NULL;
	while (pos < len) {
		char c = s[pos];
		int rc = 0;
		if (c == '(')
			pos = msgid_skip_comment(s, len, pos);
		else if (c == '"')
			pos = msgid_skip_quoted(s, len, pos);
		else if (c == '<')
			rc = msgid_take_bracketed(s, len, &pos, list);
		else if (!brackets && !msgid_is_space(c) && c != ',')
			rc = msgid_take_word(s, len, &pos, list);
		else
			pos++;
		if (rc < 0)
			return -1;
	}
	size_t added = list->count - before;
	return added > INT32_MAX ? INT32_MAX : (int)added;
}

void msg_id_list_free(struct msg_id_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->ids[i]);
	free(list->ids);
	list->ids = NULL;
	list->count = list->cap = 0;
}

/* A domain must not break the id's syntax: dot-atom text or a literal. */
static int msgid_domain_ok(const char *d)
{
	static const char specials[] = "()<>@,;:\\\"";
	for (; *d; d++)
		if (msgid_is_control(*d) || *d == ' ' || strchr(specials, *d))
			return 0;
	return 1;
}

void msg_random_bytes(void *out, size_t n)
{
	unsigned char *p = out;
	while (n > 0) {
		uint64_t v = fs_random64();
		size_t k = n < sizeof v ? n : sizeof v;
		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
}

/* Appends v in base 36, most significant digit first. */
static size_t msgid_base36(uint64_t v, char *out)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	char tmp[16];
	size_t n = 0;
	do {
		tmp[n++] = digits[v % 36];
		v /= 36;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* 96 bits as 20 base32 characters (RFC 4648 alphabet, lowercase). */
static void msgid_base32(const unsigned char in[12], char out[20])
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz234567";
	size_t bit = 0;
	for (size_t i = 0; i < 20; i++, bit += 5) {
		unsigned v = 0;
		for (size_t k = 0; k < 5; k++) {
			size_t b = bit + k;
			unsigned set = b < 96 ? (in[b / 8] >> (7 - b % 8)) & 1 : 0;
			v = v << 1 | set;
		}
		out[i] = digits[v];
	}
}

int msg_id_generate(const char *domain, char *out, size_t outlen)
{
	if (!domain || !*domain)
		domain = "localhost";
	if (!msgid_domain_ok(domain))
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t micros = (uint64_t)now.tv_sec * 1000000u +
	                  (uint64_t)now.tv_nsec / 1000u;
	unsigned char rnd[12];
	msg_random_bytes(rnd, sizeof rnd);
	char local[64];
	size_t n = msgid_base36(micros, local);
	local[n++] = '.';
	msgid_base32(rnd, local + n);
	n += 20;
	int len = snprintf(out, outlen, "<%.*s@%s>", (int)n, local, domain);
	return len < 0 || (size_t)len >= outlen ? -1 : len;
}
