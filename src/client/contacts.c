/* contacts: the address book file (vCard 4.0) and the matching of what a
 * user types against it: exact name or nickname first, then a part of a
 * name, never a guess between several contacts. */
#include "contacts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/fs.h"
#include "account.h"
#include "connect.h"

/* Names listed in an "several contacts" message before "...". */
#define CONTACTS_LIST_NAMES 8

static int contacts_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* ASCII case-insensitive equality of s[0..n) and t; other bytes exact. */
static int contacts_eq(const char *s, size_t n, const char *t)
{
	size_t i = 0;
	for (; i < n && t[i]; i++)
		if (contacts_lower((unsigned char)s[i]) !=
		    contacts_lower((unsigned char)t[i]))
			return 0;
	return i == n && !t[i];
}

static int contacts_contains(const char *hay, const char *needle)
{
	if (!hay)
		return 0;
	size_t n = strlen(needle), h = strlen(hay);
	for (size_t i = 0; i + n <= h; i++)
		if (contacts_eq(hay + i, n, needle))
			return 1;
	return 0;
}

/* True when one of the comma-separated nicknames equals word. */
static int contacts_nick_is(const char *nicks, const char *word)
{
	while (nicks && *nicks) {
		const char *end = strchr(nicks, ',');
		size_t n = end ? (size_t)(end - nicks) : strlen(nicks);
		const char *s = nicks;
		while (n && *s == ' ') {
			s++;
			n--;
		}
		while (n && s[n - 1] == ' ')
			n--;
		if (n && contacts_eq(s, n, word))
			return 1;
		nicks = end ? end + 1 : NULL;
	}
	return 0;
}

int contacts_path(struct buf *out, struct buf *why)
{
	if (account_contacts_path(client_globals.config, out) == 0)
		return 0;
	(void)buf_puts(why, "cannot tell where the address book is: set HOME "
	               "or XDG_DATA_HOME");
	return -1;
}

/* Prints the parser's warnings, one "posthorn: warning: PATH: " line each. */
static void contacts_warn(const char *path, const struct buf *w)
{
	const char *s = w->data, *end = w->data + w->len;
	while (s && s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		fprintf(stderr, "posthorn: warning: %s: %.*s\n", path, (int)n, s);
		s += n + 1;
	}
}

int contacts_load(const char *path, struct vcard_list *book, size_t *damaged,
                  struct buf *why)
{
	struct buf data = BUF_INIT, warnings = BUF_INIT;
	if (damaged)
		*damaged = 0;
	if (fs_read_file(path, CONTACTS_MAX_FILE, &data) < 0) {
		int err = errno;
		buf_free(&data);
		if (err == ENOENT)
			return 0;
		if (err == EFBIG)
			(void)buf_printf(why, "%s: larger than %d MiB, not an address "
			                 "book", path, CONTACTS_MAX_FILE >> 20);
		else
			(void)buf_printf(why, "%s: %s", path, strerror(err));
		return -1;
	}
	long r = vcard_parse(data.data, data.len, book, &warnings);
	buf_free(&data);
	contacts_warn(path, &warnings);
	buf_free(&warnings);
	if (r < 0) {
		(void)buf_printf(why, "%s: out of memory", path);
		return -1;
	}
	if (damaged)
		*damaged = (size_t)r;
	return 0;
}

int contacts_open(struct vcard_list *book, struct buf *path, struct buf *why)
{
	struct buf own = BUF_INIT;
	struct buf *p = path ? path : &own;
	int r = contacts_path(p, why);
	if (r == 0)
		r = contacts_load(buf_cstr(p), book, NULL, why);
	buf_free(&own);
	return r;
}

int contacts_save(const char *path, const struct vcard_list *book,
                  struct buf *why)
{
	struct buf data = BUF_INIT, dir = BUF_INIT;
	const char *slash = strrchr(path, '/');
	int r = vcard_write_list(book, 4, &data);
	if (r < 0)
		(void)buf_printf(why, "%s: out of memory", path);
	if (r == 0 && slash && slash != path) {
		if (buf_append(&dir, path, (size_t)(slash - path)) < 0 ||
		    !buf_cstr(&dir)) {
			(void)buf_printf(why, "%s: out of memory", path);
			r = -1;
		} else if (fs_mkdirs(dir.data, 0700) < 0) {
			(void)buf_printf(why, "%s: %s", dir.data, strerror(errno));
			r = -1;
		}
	}
	if (r == 0 && fs_write_atomic(path, data.data ? data.data : "", data.len,
	                              0600) < 0) {
		(void)buf_printf(why, "%s: %s", path, strerror(errno));
		r = -1;
	}
	buf_free(&data);
	buf_free(&dir);
	return r;
}

/* "'li' matches several contacts: Li Lei, Li Na; be more precise". */
static void contacts_ambiguous(const struct vcard_list *book,
                               const unsigned char *hit, const char *word,
                               struct buf *why)
{
	size_t shown = 0;
	(void)buf_printf(why, "'%s' matches several contacts: ", word);
	for (size_t i = 0; i < book->count; i++) {
		if (!hit[i])
			continue;
		if (shown++ == CONTACTS_LIST_NAMES) {
			(void)buf_puts(why, ", ...");
			break;
		}
		(void)buf_printf(why, "%s%s", shown > 1 ? ", " : "",
		                 book->cards[i].fn ? book->cards[i].fn : "?");
	}
	(void)buf_puts(why, "; be more precise");
}

int contacts_named(const struct vcard_card *c, const char *word)
{
	const char *fn = c->fn ? c->fn : "";
	return contacts_eq(fn, strlen(fn), word) ||
	       contacts_nick_is(c->nickname, word);
}

/* Marks the cards that match in hit[], exactly (name or nickname) or by a
 * part of the name. Returns how many, and *first the first of them. */
static size_t contacts_mark(const struct vcard_list *book, const char *word,
                            int exact, unsigned char *hit, size_t *first)
{
	size_t count = 0;
	for (size_t i = 0; i < book->count; i++) {
		const struct vcard_card *c = &book->cards[i];
		hit[i] = exact ? contacts_named(c, word)
		               : contacts_contains(c->fn, word);
		if (hit[i] && count++ == 0)
			*first = i;
	}
	return count;
}

const struct vcard_card *contacts_lookup(const struct vcard_list *book,
                                         const char *word, struct buf *why)
{
	unsigned char *hit = calloc(book->count + 1, 1);
	size_t first = 0, count = 0;
	if (!hit) {
		(void)buf_puts(why, "out of memory");
		return NULL;
	}
	if (*word) {
		count = contacts_mark(book, word, 1, hit, &first);
		if (count == 0)
			count = contacts_mark(book, word, 0, hit, &first);
	}
	const struct vcard_card *c = count == 1 ? &book->cards[first] : NULL;
	if (count == 0)
		(void)buf_printf(why, "no contact '%s' in the address book; "
		                 "'posthorn contacts list' shows them", word);
	else if (count > 1)
		contacts_ambiguous(book, hit, word, why);
	else if (c->nemails == 0) {
		(void)buf_printf(why, "contact '%s' has no e-mail address",
		                 c->fn ? c->fn : word);
		c = NULL;
	}
	free(hit);
	return c;
}

long contacts_find_address(const struct vcard_list *book, const char *address)
{
	for (size_t i = 0; i < book->count; i++) {
		const struct vcard_card *c = &book->cards[i];
		for (size_t k = 0; k < c->nemails; k++)
			if (contacts_eq(c->emails[k], strlen(c->emails[k]), address))
				return (long)i;
	}
	return -1;
}

int contacts_matches(const struct vcard_card *c, const char *text)
{
	if (contacts_contains(c->fn, text) || contacts_contains(c->nickname, text) ||
	    contacts_contains(c->org, text))
		return 1;
	for (size_t k = 0; k < c->nemails; k++)
		if (contacts_contains(c->emails[k], text))
			return 1;
	return 0;
}
