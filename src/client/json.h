/* json: a small streaming JSON writer for the client's --json output.
 * Strings are written as UTF-8 with invalid sequences replaced by U+FFFD
 * and control characters escaped, so any mail yields valid JSON. */
#ifndef POSTHORN_CLIENT_JSON_H
#define POSTHORN_CLIENT_JSON_H

#include <stddef.h>

#include "../lib/buf.h"

#define JSON_MAX_DEPTH 32

struct json {
	struct buf *out;                 /* not owned */
	int depth;
	int count[JSON_MAX_DEPTH];       /* members written at each level */
	int after_key;                   /* a key was written, value comes next */
	int error;                       /* sticky: set on limit/memory/misuse */
};

void json_init(struct json *j, struct buf *out);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* A member name inside an object; the next call writes its value. */
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s, size_t len);
void json_cstring(struct json *j, const char *s); /* NULL writes null */
void json_int(struct json *j, long long v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);
/* 0 when everything was written well-formed, -1 otherwise. */
int json_finish(struct json *j);

#endif
