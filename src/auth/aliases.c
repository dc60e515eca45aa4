/* aliases: the DATA_DIR/aliases table (see aliases.h): a strict parser with
 * file:line errors, expansion to users and remote addresses by a bounded
 * depth-first walk that names the cycle it finds, and line-preserving
 * edits so comments an administrator wrote survive posthornctl. */
#include "aliases.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/fs.h"

#define ALIASES_FILE_MAX (16u << 20)
#define ALIASES_DEPTH_MAX 32
#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 253

/* ---- strlist ---- */

int strlist_add_unique(struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i], s) == 0)
			return 0;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **items = realloc(l->items, cap * sizeof *items);
		if (!items)
			return -1;
		l->items = items;
		l->cap = cap;
	}
	if (!(l->items[l->count] = strdup(s)))
		return -1;
	l->count++;
	return 0;
}

void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof *l);
}

/* ---- target syntax ---- */

enum target_kind { TARGET_BAD, TARGET_LOCAL, TARGET_REMOTE };

/* Local part of an address: printable, no space and none of the specials
 * that would make it ambiguous in the file or on the SMTP wire. UTF-8 bytes
 * are allowed (SMTPUTF8). */
static int local_part_valid(const char *s, size_t n)
{
	if (n == 0 || n > ADDRESS_LOCAL_MAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || strchr("<>()[],;:\\\"@", c))
			return 0;
		if (c == '.' && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* A host name of letter/digit/hyphen labels, or an address literal. */
static int domain_valid(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > ADDRESS_DOMAIN_MAX)
		return 0;
	if (s[0] == '[')
		return n > 2 && s[n - 1] == ']' &&
		       strspn(s + 1, "0123456789abcdefABCDEF.:Iv6") == n - 2;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || (c == '-' && label > 0) || c >= 0x80) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* What t is; for a bad one *why says what is wrong. */
static enum target_kind target_classify(const char *t, const char **why)
{
	const char *at = strrchr(t, '@');
	*why = NULL;
	if (t[0] == '|' || t[0] == '/') {
		*why = "pipes and files are not supported as targets";
		return TARGET_BAD;
	}
	if (at) {
		if (local_part_valid(t, (size_t)(at - t)) && domain_valid(at + 1))
			return TARGET_REMOTE;
		*why = "invalid address";
		return TARGET_BAD;
	}
	char lower[ADDRESS_LOCAL_MAX + 1];
	size_t n = strlen(t);
	for (size_t i = 0; i <= n && i <= ADDRESS_LOCAL_MAX; i++)
		lower[i] = (char)tolower((unsigned char)t[i]);
	if (n <= ADDRESS_LOCAL_MAX && users_name_valid(lower))
		return TARGET_LOCAL;
	*why = "invalid local name (a-z 0-9 . _ -) or address (user@domain)";
	return TARGET_BAD;
}

/* ---- parsing ---- */

struct line_iter {
	const char *text;
	size_t len, pos;
	int lineno;
};

/* The next physical line: *start and *n (without LF or CRLF); the whole
 * line with its end is text[*start - text, it->pos). 0 at the end. */
static int line_next(struct line_iter *it, const char **start, size_t *n)
{
	if (it->pos >= it->len)
		return 0;
	const char *s = it->text + it->pos;
	const char *nl = memchr(s, '\n', it->len - it->pos);
	size_t k = nl ? (size_t)(nl - s) : it->len - it->pos;
	it->pos += k + (nl ? 1 : 0);
	it->lineno++;
	if (k && s[k - 1] == '\r')
		k--;
	*start = s;
	*n = k;
	return 1;
}

enum line_kind { LINE_SKIP, LINE_CONTINUE, LINE_ENTRY };

/* Blank and comment lines end an entry; indented lines continue it. */
static enum line_kind line_kind(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n || s[i] == '#')
		return LINE_SKIP;
	return i > 0 ? LINE_CONTINUE : LINE_ENTRY;
}

static void alias_clear(struct alias *a)
{
	for (size_t i = 0; i < a->ntargets; i++)
		free(a->targets[i]);
	free(a->targets);
	free(a->name);
	memset(a, 0, sizeof *a);
}

void aliases_free(struct aliases *al)
{
	for (size_t i = 0; i < al->count; i++)
		alias_clear(&al->items[i]);
	free(al->items);
	al->items = NULL;
	al->count = 0;
}

struct parser {
	const char *path;
	struct aliases *al;
	int open;            /* the last item still takes continuation lines */
	int lineno;
	struct buf *err;
};

static int parse_fail(struct parser *p, const char *why, const char *what)
{
	buf_printf(p->err, "%s:%d: %s", p->path, p->lineno, why);
	if (what)
		buf_printf(p->err, ": \"%.100s\"", what);
	return -1;
}

static int alias_push_target(struct alias *a, const char *t, size_t n)
{
	char **targets = realloc(a->targets, (a->ntargets + 1) * sizeof *targets);
	if (!targets)
		return -1;
	a->targets = targets;
	if (!(targets[a->ntargets] = strndup(t, n)))
		return -1;
	a->ntargets++;
	return 0;
}

/* Comma-separated targets of one physical line; one trailing comma is
 * allowed, so a list can go on on the next line. */
static int parse_targets(struct parser *p, struct alias *a, const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 0 && !comma)
			return 0;
		if (n == 0)
			return parse_fail(p, "empty target", NULL);
		char *t = strndup(s, n);
		const char *why = NULL;
		int bad = !t || target_classify(t, &why) == TARGET_BAD;
		int rc = bad ? parse_fail(p, why ? why : "out of memory", t)
		             : alias_push_target(a, t, n);
		free(t);
		if (rc < 0)
			return bad ? -1 : parse_fail(p, "out of memory", NULL);
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

/* Ends the open entry, which must have a target by now. */
static int entry_close(struct parser *p)
{
	if (!p->open)
		return 0;
	p->open = 0;
	struct alias *a = &p->al->items[p->al->count - 1];
	if (a->ntargets)
		return 0;
	buf_printf(p->err, "%s:%d: alias \"%s\" has no targets", p->path,
	           a->line, a->name);
	return -1;
}

static int parse_entry(struct parser *p, char *line)
{
	char *colon = strchr(line, ':');
	if (!colon)
		return parse_fail(p, "expected \"name: target, ...\"", NULL);
	size_t n = (size_t)(colon - line);
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++)
		line[i] = (char)tolower((unsigned char)line[i]);
	line[n] = '\0';
	if (!users_name_valid(line))
		return parse_fail(p, "invalid alias name (a-z 0-9 . _ -, 1-64 bytes)",
		                  line);
	struct aliases *al = p->al;
	struct alias *items = realloc(al->items, (al->count + 1) * sizeof *items);
	if (!items)
		return parse_fail(p, "out of memory", NULL);
	al->items = items;
	struct alias *a = &items[al->count++];
	memset(a, 0, sizeof *a);
	a->line = p->lineno;
	if (!(a->name = strdup(line)))
		return parse_fail(p, "out of memory", NULL);
	p->open = 1;
	return parse_targets(p, a, colon + 1);
}

static int parse_line(struct parser *p, char *line, size_t n)
{
	switch (line_kind(line, n)) {
	case LINE_SKIP:
		return entry_close(p);
	case LINE_CONTINUE:
		if (!p->open)
			return parse_fail(p, "indented line continues no alias", NULL);
		return parse_targets(p, &p->al->items[p->al->count - 1], line);
	case LINE_ENTRY:
		if (entry_close(p) < 0)
			return -1;
		return parse_entry(p, line);
	}
	return -1;
}

static int alias_cmp(const void *a, const void *b)
{
	return strcmp(((const struct alias *)a)->name,
	              ((const struct alias *)b)->name);
}

static int check_duplicates(struct parser *p)
{
	struct aliases *al = p->al;
	if (al->count > 1)
		qsort(al->items, al->count, sizeof *al->items, alias_cmp);
	for (size_t i = 1; i < al->count; i++) {
		const struct alias *a = &al->items[i - 1], *b = &al->items[i];
		if (strcmp(a->name, b->name) == 0) {
			int first = a->line < b->line ? a->line : b->line;
			int second = a->line < b->line ? b->line : a->line;
			buf_printf(p->err, "%s:%d: duplicate alias \"%s\" (first on line %d)",
			           p->path, second, a->name, first);
			return -1;
		}
	}
	return 0;
}

int aliases_parse(const char *path, const char *text, size_t len,
                  struct aliases *al, struct buf *err)
{
	struct parser p = {.path = path, .al = al, .err = err};
	struct line_iter it = {.text = text, .len = len};
	struct buf line = BUF_INIT;
	const char *s;
	size_t n;
	int rc = 0;
	memset(al, 0, sizeof *al);
	while (rc == 0 && line_next(&it, &s, &n)) {
		p.lineno = it.lineno;
		buf_reset(&line);
		if (memchr(s, '\0', n))
			rc = parse_fail(&p, "NUL byte in line", NULL);
		else if (buf_append(&line, s, n) < 0 || !buf_cstr(&line))
			rc = parse_fail(&p, "out of memory", NULL);
		else
			rc = parse_line(&p, line.data, n);
	}
	if (rc == 0)
		rc = entry_close(&p);
	if (rc == 0)
		rc = check_duplicates(&p);
	buf_free(&line);
	if (rc < 0)
		aliases_free(al);
	return rc;
}

/* DATA_DIR/aliases into path, its text (empty when missing) into text. */
static int aliases_read(const char *data_dir, struct buf *path,
                        struct buf *text, struct buf *err)
{
	if (fs_join(data_dir, "aliases", path) < 0 || !buf_cstr(path)) {
		buf_printf(err, "%s: invalid data directory", data_dir);
		return -1;
	}
	if (fs_read_file(path->data, ALIASES_FILE_MAX, text) < 0 && errno != ENOENT) {
		buf_printf(err, "%s: %s", path->data, strerror(errno));
		return -1;
	}
	return buf_cstr(text) ? 0 : -1;
}

int aliases_load(const char *data_dir, struct aliases *al, struct buf *err)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	memset(al, 0, sizeof *al);
	int rc = aliases_read(data_dir, &path, &text, err);
	if (rc == 0)
		rc = aliases_parse(path.data, text.data, text.len, al, err);
	buf_free(&path);
	buf_free(&text);
	return rc;
}

const struct alias *aliases_find(const struct aliases *al, const char *name)
{
	if (!al->count)
		return NULL;
	struct alias key = {.name = (char *)name};
	return bsearch(&key, al->items, al->count, sizeof *al->items, alias_cmp);
}

/* ---- expansion ---- */

struct expansion {
	const struct aliases *al;
	const struct users *db;
	const struct posthorn_config *cfg;
	const char *path[ALIASES_DEPTH_MAX + 1]; /* aliases being expanded */
	size_t depth;
	unsigned char *done;     /* per alias: already expanded completely */
	struct strlist *users, *remote;
	struct buf *err;
};

static int expand_alias(struct expansion *x, const struct alias *a);

/* Appends "a -> b -> a" for the cycle that closes at name. */
static int report_loop(struct expansion *x, const char *name)
{
	size_t k = 0;
	while (k < x->depth && strcmp(x->path[k], name) != 0)
		k++;
	buf_puts(x->err, "alias loop: ");
	for (; k < x->depth; k++)
		buf_printf(x->err, "%s -> ", x->path[k]);
	buf_puts(x->err, name);
	return -1;
}

static int on_path(const struct expansion *x, const char *name)
{
	for (size_t i = 0; i < x->depth; i++)
		if (strcmp(x->path[i], name) == 0)
			return 1;
	return 0;
}

static int add_or_fail(struct expansion *x, struct strlist *l, const char *s)
{
	if (strlist_add_unique(l, s) == 0)
		return 0;
	buf_puts(x->err, "out of memory");
	return -1;
}

/* A lowercased local name met as a target of the alias on top of path. */
static int resolve_local(struct expansion *x, const char *name)
{
	const struct alias *a = aliases_find(x->al, name);
	const struct user *u = users_find(x->db, name);
	if (a && on_path(x, name)) {
		/* "bob: bob, bob@elsewhere" keeps a copy in bob's own mailbox. */
		if (u && strcmp(x->path[x->depth - 1], name) == 0)
			return add_or_fail(x, x->users, u->name);
		return report_loop(x, name);
	}
	if (a)
		return x->done[a - x->al->items] ? 0 : expand_alias(x, a);
	if (u)
		return add_or_fail(x, x->users, u->name);
	buf_printf(x->err, "alias \"%s\": unknown target \"%s\"",
	           x->path[x->depth - 1], name);
	return -1;
}

static int resolve_target(struct expansion *x, const char *t)
{
	struct buf s = BUF_INIT;
	const char *at = strrchr(t, '@');
	int rc = -1, local = !at || (x->cfg && config_is_local_domain(x->cfg, at + 1));
	size_t n = at && local ? (size_t)(at - t) : strlen(t);
	/* Local names fold case; a remote address keeps its local part. */
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)t[i];
		if (buf_putc(&s, (char)(local || (at && t + i > at) ? tolower(c) : c)) < 0)
			goto out;
	}
	if (!buf_cstr(&s))
		goto out;
	rc = local ? resolve_local(x, s.data) : add_or_fail(x, x->remote, s.data);
out:
	if (rc < 0 && !s.data)
		buf_puts(x->err, "out of memory");
	buf_free(&s);
	return rc;
}

static int expand_alias(struct expansion *x, const struct alias *a)
{
	if (x->depth == ALIASES_DEPTH_MAX) {
		buf_printf(x->err, "alias \"%s\": nested deeper than %d aliases",
		           x->path[0], ALIASES_DEPTH_MAX);
		return -1;
	}
	x->path[x->depth++] = a->name;
	for (size_t i = 0; i < a->ntargets; i++)
		if (resolve_target(x, a->targets[i]) < 0)
			return -1;
	x->depth--;
	x->done[a - x->al->items] = 1;
	return 0;
}

int aliases_expand(const struct aliases *al, const struct users *db,
                   const struct posthorn_config *cfg, const char *name,
                   struct strlist *users_out, struct strlist *remote_out,
                   struct buf *err)
{
	const struct alias *a = aliases_find(al, name);
	if (!a) {
		const struct user *u = users_find(db, name);
		if (!u)
			return 0;
		if (strlist_add_unique(users_out, u->name) < 0) {
			buf_puts(err, "out of memory");
			return -1;
		}
		return 1;
	}
	struct expansion x = {.al = al, .db = db, .cfg = cfg, .users = users_out,
	                      .remote = remote_out, .err = err};
	if (!(x.done = calloc(al->count, 1))) {
		buf_puts(err, "out of memory");
		return -1;
	}
	int rc = expand_alias(&x, a);
	free(x.done);
	return rc < 0 ? -1 : 1;
}

int aliases_check(const struct aliases *al, const struct users *db,
                  const struct posthorn_config *cfg, struct buf *err)
{
	int rc = 0;
	for (size_t i = 0; i < al->count; i++) {
		struct strlist users = {0}, remote = {0};
		struct buf why = BUF_INIT;
		if (aliases_expand(al, db, cfg, al->items[i].name, &users, &remote,
		                   &why) < 0) {
			if (rc < 0)
				buf_putc(err, '\n');
			buf_printf(err, "line %d: %s", al->items[i].line, buf_cstr(&why));
			rc = -1;
		}
		buf_free(&why);
		strlist_free(&users);
		strlist_free(&remote);
	}
	return rc;
}

/* ---- changes ---- */

/* True when the entry line s[0..n) defines name (any case). */
static int entry_defines(const char *s, size_t n, const char *name)
{
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return 0;
	size_t k = (size_t)(colon - s);
	while (k && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	return k == strlen(name) && strncasecmp(s, name, k) == 0;
}

/* "name: t1, t2\n" after checking every part's syntax. */
static int format_entry(const char *name, char *const *targets,
                        size_t ntargets, struct buf *line, struct buf *err)
{
	if (!users_name_valid(name)) {
		buf_printf(err, "invalid alias name \"%.100s\": use a-z 0-9 . _ -", name);
		return -1;
	}
	buf_printf(line, "%s:", name);
	for (size_t i = 0; i < ntargets; i++) {
		const char *why;
		if (target_classify(targets[i], &why) == TARGET_BAD) {
			buf_printf(err, "target \"%.100s\": %s", targets[i], why);
			return -1;
		}
		buf_printf(line, "%s %s", i ? "," : "", targets[i]);
	}
	return buf_putc(line, '\n');
}

int aliases_edit(const char *text, size_t len, const char *name,
                 char *const *targets, size_t ntargets, struct buf *out,
                 struct buf *err)
{
	struct buf lower = BUF_INIT, entry = BUF_INIT;
	struct line_iter it = {.text = text, .len = len};
	const char *s;
	size_t n;
	int in_entry = 0, found = 0, rc = -1;
	for (const char *p = name; *p; p++)
		buf_putc(&lower, (char)tolower((unsigned char)*p));
	if (!buf_cstr(&lower) ||
	    format_entry(lower.data, targets, ntargets, &entry, err) < 0)
		goto out;
	while (line_next(&it, &s, &n)) {
		size_t whole = (size_t)(text + it.pos - s);
		enum line_kind kind = line_kind(s, n);
		if (kind == LINE_ENTRY)
			in_entry = entry_defines(s, n, lower.data);
		else if (kind == LINE_SKIP)
			in_entry = 0;
		if (in_entry && !found && ntargets)
			buf_append(out, entry.data, entry.len);
		found |= in_entry;
		if (!in_entry && buf_append(out, s, whole) < 0)
			goto out;
	}
	if (!found && !ntargets) {
		buf_printf(err, "no alias \"%s\"", lower.data);
		goto out;
	}
	if (!found && out->len && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
	if (!found)
		buf_append(out, entry.data, entry.len);
	rc = buf_cstr(out) ? 0 : -1;
out:
	buf_free(&lower);
	buf_free(&entry);
	return rc;
}

/* Reads, edits, re-parses (so a broken result is never written) and
 * writes the file atomically. */
static int aliases_change(const char *data_dir, const char *name,
                          char *const *targets, size_t ntargets, struct buf *err)
{
	struct buf path = BUF_INIT, text = BUF_INIT, next = BUF_INIT;
	struct aliases check;
	int rc = -1;
	if (aliases_read(data_dir, &path, &text, err) < 0 ||
	    aliases_edit(text.data, text.len, name, targets, ntargets, &next, err) < 0 ||
	    aliases_parse(path.data, next.data, next.len, &check, err) < 0)
		goto out;
	aliases_free(&check);
	if (fs_write_atomic(path.data, next.data, next.len, 0644) < 0) {
		buf_printf(err, "%s: %s", path.data, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	buf_free(&path);
	buf_free(&text);
	buf_free(&next);
	return rc;
}

int aliases_set(const char *data_dir, const char *name, char *const *targets,
                size_t ntargets, struct buf *err)
{
	if (ntargets == 0) {
		buf_printf(err, "alias \"%.100s\" needs at least one target", name);
		return -1;
	}
	return aliases_change(data_dir, name, targets, ntargets, err);
}

int aliases_delete(const char *data_dir, const char *name, struct buf *err)
{
	return aliases_change(data_dir, name, NULL, 0, err);
}
