/* msgid: Message-ID, In-Reply-To and References: parsing lists of msg-ids
 * (tolerating missing brackets, comments and phrases between ids, as in old
 * In-Reply-To fields) and generating unique ids. */
#ifndef POSTHORN_MSG_MSGID_H
#define POSTHORN_MSG_MSGID_H

#include <stddef.h>

struct msg_id_list {
	char **ids;    /* owned; each "left@right" without the angle brackets */
	size_t count;
	size_t cap;
};

/* Appends every msg-id found in s[0..len) to list. An id is "<...>" (folding
 * whitespace inside dropped; empty ids, ids with control bytes and a final
 * "<..." without '>' are skipped); comments and quoted phrases between ids
 * are ignored. When a field has no '<' at all, each word containing '@' is
 * taken. Returns the number appended (>= 0), or -1 when out of memory. */
int msg_id_parse(const char *s, size_t len, struct msg_id_list *list);

void msg_id_list_free(struct msg_id_list *list);

/* Writes a new globally unique "<time.random@domain>" (with brackets, NUL
 * terminated) into out: microseconds since the epoch in base 36, then 96
 * bits of msg_random_bytes in base 32, so two calls in the same process, microsecond or machine
 * never collide in practice. domain NULL or "" means "localhost". Returns
 * length, or -1 when out is too small (128 bytes plus strlen(domain) always
 * suffice) or domain holds bytes that would break the id (space, controls,
 * "()<>@,;:\"). */
int msg_id_generate(const char *domain, char *out, size_t outlen);

/* Fills out[0..n) with random bytes for ids and unique names (Message-ID,
 * vCard UID): getrandom(2), or where that fails a mix of clocks, pid and a
 * counter that still differs between calls and processes (fs_random64).
 * Never fails; not for secrets (keys, salts), whose callers must handle
 * getrandom's errors instead of falling back. */
void msg_random_bytes(void *out, size_t n);

#endif
