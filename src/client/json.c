/* json: streaming JSON writer (see json.h). Mail is full of invalid UTF-8
 * and control bytes, so strings are repaired here rather than trusted. */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void json_init(struct json *j, struct buf *out)
{
	memset(j, 0, sizeof *j);
	j->out = out;
}

static void json_raw(struct json *j, const char *s, size_t n)
{
	if (buf_append(j->out, s, n) < 0)
		j->error = 1;
}

/* Writes the separator a new value needs: none after a key, a comma after
 * an earlier member of the same container. */
static void json_value_start(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (j->count[j->depth]++ > 0)
		json_raw(j, ",", 1);
}

static void json_open(struct json *j, char c)
{
	json_value_start(j);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->error = 1;
		return;
	}
	json_raw(j, &c, 1);
	j->depth++;
	j->count[j->depth] = 0;
}

static void json_close(struct json *j, char c)
{
	if (j->depth == 0 || j->after_key) {
		j->error = 1;
		return;
	}
	j->depth--;
	json_raw(j, &c, 1);
}

void json_object_begin(struct json *j)
{
	json_open(j, '{');
}

void json_object_end(struct json *j)
{
	json_close(j, '}');
}

void json_array_begin(struct json *j)
{
	json_open(j, '[');
}

void json_array_end(struct json *j)
{
	json_close(j, ']');
}

/* Length of the valid UTF-8 sequence at s[0..n) and its code point, or 0
 * when the bytes there are not valid UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated). */
static size_t json_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static void json_escape_char(struct json *j, uint32_t cp)
{
	char tmp[8];
	const char *e = NULL;
	switch (cp) {
	case '"': e = "\\\""; break;
	case '\\': e = "\\\\"; break;
	case '\n': e = "\\n"; break;
	case '\r': e = "\\r"; break;
	case '\t': e = "\\t"; break;
	case '\b': e = "\\b"; break;
	case '\f': e = "\\f"; break;
	}
	if (e) {
		json_raw(j, e, strlen(e));
		return;
	}
	snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)cp);
	json_raw(j, tmp, 6);
}

/* Escapes what JSON requires plus DEL, C1 controls and U+2028/2029 (which
 * break JavaScript consumers); everything else is copied as UTF-8. */
static int json_needs_escape(uint32_t cp)
{
	return cp < 0x20 || cp == '"' || cp == '\\' || cp == 0x7F ||
	       (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

void json_string(struct json *j, const char *s, size_t len)
{
	static const char replacement[] = "\xEF\xBF\xBD";
	const unsigned char *p = (const unsigned char *)s;
	json_value_start(j);
	json_raw(j, "\"", 1);
	size_t i = 0, run = 0; /* run: start of bytes copied verbatim */
	while (i < len) {
		uint32_t cp;
		size_t n = json_utf8_seq(p + i, len - i, &cp);
		if (n && !json_needs_escape(cp)) {
			i += n;
			continue;
		}
		json_raw(j, s + run, i - run);
		if (n)
			json_escape_char(j, cp);
		else
			json_raw(j, replacement, 3);
		i += n ? n : 1;
		run = i;
	}
	json_raw(j, s + run, i - run);
	json_raw(j, "\"", 1);
}

void json_cstring(struct json *j, const char *s)
{
	if (s)
		json_string(j, s, strlen(s));
	else
		json_null(j);
}

void json_key(struct json *j, const char *key)
{
	if (j->depth == 0 || j->after_key) {
		j->error = 1;
		return;
	}
	json_string(j, key, strlen(key));
	json_raw(j, ":", 1);
	j->after_key = 1;
}

void json_int(struct json *j, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%lld", v);
	json_value_start(j);
	json_raw(j, tmp, (size_t)n);
}

void json_bool(struct json *j, int v)
{
	json_value_start(j);
	json_raw(j, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json *j)
{
	json_value_start(j);
	json_raw(j, "null", 4);
}

int json_finish(struct json *j)
{
	return j->error || j->depth != 0 || j->after_key ? -1 : 0;
}
