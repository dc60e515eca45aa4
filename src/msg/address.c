/* address: RFC 5322 3.4 address lists with the obsolete syntax of 4.4
 * (see address.h). A small lexer turns the field into words and specials,
 * skipping folding whitespace and comments; a recursive-descent parser
 * builds mailboxes and groups. A syntax error skips to the next ',' and
 * parsing goes on, so one bad member costs only itself. */
#include "address.h"

#include <stdlib.h>
#include <string.h>

#include "encword.h"

enum addr_kind {
	ADDR_END,      /* end of input */
	ADDR_ATOM,     /* run of atext and dots: "john.q", "Q.", "." */
	ADDR_QUOTED,   /* quoted string; span includes the quotes */
	ADDR_LITERAL,  /* domain literal; span includes the brackets */
	ADDR_SPECIAL,  /* one of < > @ : ; , and stray ) ] \ */
};

struct addr_token {
	enum addr_kind kind;
	size_t start, end; /* span in the input */
	char c;            /* the character, for ADDR_SPECIAL */
};

/* Parser state. The lookahead token is cached in tok. */
struct addr_parser {
	const char *s;
	size_t len;
	size_t pos;               /* next byte the lexer reads */
	struct addr_token tok;
	int have_tok;
	size_t tok_from;          /* where lexing of tok began (before CFWS) */
	int capture;              /* record the next comment's span */
	size_t comment_start, comment_end; /* inside the parens; end 0: none */
	struct msg_address_list *list;
	const char *group;        /* group name while inside a group, or NULL */
	int nomem;
	size_t err_pos;
	const char *err;          /* first syntax error, or NULL */
};

/* One mailbox under construction: spans of the input and decoded parts. */
struct addr_mailbox {
	size_t phrase_start, phrase_end; /* display name tokens; end 0: none */
	struct buf local;
	struct buf domain;
};

static int addr_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1; /* RFC 6532: UTF-8 (and, sloppily, any 8-bit) is atext */
	if (c <= 32 || c == 127)
		return 0;
	switch (c) {
	case '(': case ')': case '<': case '>': case '[': case ']':
	case ':': case ';': case '@': case '\\': case ',': case '"':
		return 0;
	}
	return 1;
}

static int addr_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Records the first error; later ones are consequences. */
static void addr_error(struct addr_parser *p, size_t pos, const char *what)
{
	if (!p->err) {
		p->err = what;
		p->err_pos = pos;
	}
}

/* Offset just past the delimited run starting at pos (a '"' string or a
 * '[' literal) honouring quoted-pairs; len when unterminated. */
static size_t addr_skip_delimited(const char *s, size_t len, size_t pos,
                                  char close)
{
	for (pos++; pos < len; pos++) {
		if (s[pos] == '\\')
			pos++;
		else if (s[pos] == close)
			return pos + 1;
	}
	return len + 1; /* one past: marks "unterminated" */
}

/* Skips the comment at p->pos (nested, with quoted-pairs), capturing its
 * inside when asked. An unterminated comment runs to the end. */
static void addr_skip_comment(struct addr_parser *p)
{
	size_t start = p->pos, depth = 0;
	for (; p->pos < p->len; p->pos++) {
		char c = p->s[p->pos];
		if (c == '\\')
			p->pos++;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			break;
	}
	if (p->pos >= p->len) {
		addr_error(p, start, "unterminated comment");
		p->pos = p->len;
		return;
	}
	if (p->capture && p->comment_end == 0) {
		p->comment_start = start + 1;
		p->comment_end = p->pos;
	}
	p->pos++;
}

/* Reads the next token at p->pos into t, skipping CFWS. */
static void addr_lex(struct addr_parser *p, struct addr_token *t)
{
	for (;;) {
		while (p->pos < p->len && addr_is_space(p->s[p->pos]))
			p->pos++;
		if (p->pos >= p->len || p->s[p->pos] != '(')
			break;
		addr_skip_comment(p);
	}
	t->start = p->pos;
	t->c = 0;
	if (p->pos >= p->len) {
		t->kind = ADDR_END;
		t->end = p->pos;
		return;
	}
	char c = p->s[p->pos];
	if (c == '"' || c == '[') {
		t->kind = c == '"' ? ADDR_QUOTED : ADDR_LITERAL;
		t->end = addr_skip_delimited(p->s, p->len, p->pos, c == '"' ? '"' : ']');
		if (t->end > p->len) {
			/* Unterminated: a stray special swallowing the rest, so
			 * no address is built from half a token. */
			addr_error(p, p->pos, c == '"' ? "unterminated quoted string"
			                               : "unterminated domain literal");
			t->kind = ADDR_SPECIAL;
			t->c = c;
			t->end = p->len;
		}
	} else if (addr_is_atext((unsigned char)c)) {
		size_t e = p->pos;
		while (e < p->len && addr_is_atext((unsigned char)p->s[e]))
			e++;
		t->kind = ADDR_ATOM;
		t->end = e;
	} else {
		t->kind = ADDR_SPECIAL;
		t->c = c;
		t->end = p->pos + 1;
	}
}

static const struct addr_token *addr_peek(struct addr_parser *p)
{
	if (!p->have_tok) {
		p->tok_from = p->pos;
		addr_lex(p, &p->tok);
		p->have_tok = 1;
	}
	return &p->tok;
}

static void addr_consume(struct addr_parser *p)
{
	addr_peek(p);
	p->pos = p->tok.end;
	p->have_tok = 0;
}

static int addr_peek_special(struct addr_parser *p, char c)
{
	const struct addr_token *t = addr_peek(p);
	return t->kind == ADDR_SPECIAL && t->c == c;
}

static int addr_is_word(const struct addr_token *t)
{
	return t->kind == ADDR_ATOM || t->kind == ADDR_QUOTED;
}

/* Appends a word's text: a quoted string without its quotes and with its
 * quoted-pairs resolved, CR and LF (folds) dropped; an atom as it is. */
static int addr_append_word(struct buf *out, const char *s,
                            const struct addr_token *t)
{
	if (t->kind != ADDR_QUOTED)
		return buf_append(out, s + t->start, t->end - t->start);
	size_t end = t->end - (t->end - t->start >= 2 && s[t->end - 1] == '"');
	for (size_t i = t->start + 1; i < end; i++) {
		if (s[i] == '\\' && i + 1 < end)
			i++;
		/* Folds go, even quoted; NULs would cut the C string. */
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			continue;
		if (buf_putc(out, s[i]) < 0)
			return -1;
	}
	return 0;
}

/* Appends a domain literal as written, brackets and quoted-pairs kept,
 * minus folds and NULs (and a backslash that quoted one of those). */
static int addr_append_literal(struct buf *out, const char *s,
                               const struct addr_token *t)
{
	for (size_t i = t->start; i < t->end; i++) {
		int quoted = s[i] == '\\' && i + 1 < t->end;
		char c = s[quoted ? i + 1 : i];
		if (c == '\r' || c == '\n' || c == '\0') {
			i += quoted;
			continue;
		}
		if (quoted && buf_putc(out, s[i++]) < 0)
			return -1;
		if (buf_putc(out, s[i]) < 0)
			return -1;
	}
	return 0;
}

/* local-part (atoms, quoted strings) or domain (atoms, literals) glued
 * by dots, CFWS between them dropped ("john . q"@ and "test  . example"
 * are obsolete but legal). Two words without a dot between end the run.
 * Returns the number of tokens taken, or -1 out of memory. */
static int addr_dotted(struct addr_parser *p, struct buf *out, int domain)
{
	int taken = 0;
	for (;;) {
		const struct addr_token *t = addr_peek(p);
		int word = domain ? t->kind == ADDR_ATOM || t->kind == ADDR_LITERAL
		                  : addr_is_word(t);
		if (!word)
			return taken;
		int glued = out->len == 0 || out->data[out->len - 1] == '.' ||
		            (t->kind == ADDR_ATOM && p->s[t->start] == '.');
		if (taken && !glued)
			return taken;
		struct addr_token copy = *t;
		if (copy.kind == ADDR_LITERAL) {
			if (addr_append_literal(out, p->s, &copy) < 0)
				return -1;
		} else if (addr_append_word(out, p->s, &copy) < 0) {
			return -1;
		}
		addr_consume(p);
		taken++;
	}
}

/* obs-route: "@a,@b:" before the addr-spec in angle brackets; dropped. */
static void addr_skip_route(struct addr_parser *p)
{
	struct buf scratch = BUF_INIT;
	while (addr_peek_special(p, '@') || addr_peek_special(p, ',')) {
		int at = addr_peek_special(p, '@');
		addr_consume(p);
		if (at) {
			buf_reset(&scratch);
			if (addr_dotted(p, &scratch, 1) < 0)
				p->nomem = 1;
		}
	}
	buf_free(&scratch);
	if (addr_peek_special(p, ':'))
		addr_consume(p);
	else
		addr_error(p, addr_peek(p)->start, "bad route in angle address");
}

/* From here on, remember the first comment: it names an old-style
 * "a@b (John Doe)". A token already peeked is lexed again so a comment
 * just before it counts. */
static void addr_capture_comment(struct addr_parser *p)
{
	if (p->have_tok) {
		p->pos = p->tok_from;
		p->have_tok = 0;
	}
	p->capture = 1;
	p->comment_end = 0;
}

/* Rewinds the lexer to an earlier token start. */
static void addr_rewind(struct addr_parser *p, size_t pos)
{
	p->pos = pos;
	p->have_tok = 0;
}

/* Decodes raw display-name text (RFC 2047 words, 8-bit charsets) into a
 * new trimmed UTF-8 string, or NULL out of memory. */
static char *addr_decode_name(const char *raw, size_t n)
{
	struct buf out = BUF_INIT;
	if (msg_encword_decode(raw, n, &out) < 0) {
		buf_free(&out);
		return NULL;
	}
	size_t start = 0, end = out.len;
	while (start < end && addr_is_space(out.data[start]))
		start++;
	while (end > start && addr_is_space(out.data[end - 1]))
		end--;
	if (start > 0 && end > start)
		memmove(out.data, out.data + start, end - start);
	buf_truncate(&out, end - start);
	return buf_steal(&out, NULL);
}

/* The phrase s[start..end) as one string: words joined by single spaces,
 * quoted strings unquoted, comments dropped; then decoded. */
static char *addr_phrase_name(struct addr_parser *p, size_t start, size_t end)
{
	struct addr_parser sub = *p;
	struct buf raw = BUF_INIT;
	sub.len = end;
	sub.capture = 0;
	addr_rewind(&sub, start);
	int rc = 0;
	for (const struct addr_token *t = addr_peek(&sub); rc == 0 &&
	     t->kind != ADDR_END; t = addr_peek(&sub)) {
		if (raw.len)
			rc = buf_putc(&raw, ' ');
		if (rc == 0)
			rc = addr_append_word(&raw, sub.s, t);
		addr_consume(&sub);
	}
	char *name = NULL;
	if (rc == 0)
		name = addr_decode_name(raw.data ? raw.data : "", raw.len);
	buf_free(&raw);
	return name;
}

/* The captured comment's text, quoted-pairs resolved, decoded. */
static char *addr_comment_name(const struct addr_parser *p)
{
	struct buf raw = BUF_INIT;
	for (size_t i = p->comment_start; i < p->comment_end; i++) {
		if (p->s[i] == '\\' && i + 1 < p->comment_end)
			i++;
		if (buf_putc(&raw, p->s[i]) < 0) {
			buf_free(&raw);
			return NULL;
		}
	}
	char *name = addr_decode_name(raw.data ? raw.data : "", raw.len);
	buf_free(&raw);
	return name;
}

static int addr_push(struct msg_address_list *list, const struct msg_address *a)
{
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 4;
		struct msg_address *items = realloc(list->items, cap * sizeof *items);
		if (!items)
			return -1;
		list->items = items;
		list->cap = cap;
	}
	list->items[list->count++] = *a;
	return 0;
}

/* Adds the mailbox to the list; name (owned, may be NULL for "") is taken
 * over. Returns 0, or -1 out of memory (everything freed). */
static int addr_add(struct addr_parser *p, struct addr_mailbox *mb, char *name)
{
	struct msg_address a = {
		.name = name ? name : strdup(""),
		.local = buf_steal(&mb->local, NULL),
		.domain = buf_steal(&mb->domain, NULL),
		.group = p->group ? strdup(p->group) : NULL,
	};
	if (!a.name || !a.local || !a.domain || (p->group && !a.group) ||
	    addr_push(p->list, &a) < 0) {
		free(a.name);
		free(a.local);
		free(a.domain);
		free(a.group);
		return -1;
	}
	return 0;
}

/* "<" [obs-route] addr-spec ">" or the null "<>"; 0, or -1 on a syntax
 * error (recorded). */
static int addr_angle(struct addr_parser *p, struct addr_mailbox *mb)
{
	addr_consume(p); /* '<' */
	if (addr_peek_special(p, '>')) {
		addr_consume(p);
		return 0;
	}
	if (addr_peek_special(p, '@'))
		addr_skip_route(p);
	int n = addr_dotted(p, &mb->local, 0);
	if (n < 0)
		p->nomem = 1;
	if (n <= 0) {
		addr_error(p, addr_peek(p)->start, "expected address after '<'");
		return -1;
	}
	if (addr_peek_special(p, '@')) {
		addr_consume(p);
		n = addr_dotted(p, &mb->domain, 1);
		if (n < 0)
			p->nomem = 1;
		if (n <= 0) {
			addr_error(p, addr_peek(p)->start, "expected domain after '@'");
			return -1;
		}
	}
	if (!addr_peek_special(p, '>')) {
		addr_error(p, addr_peek(p)->start, "expected '>'");
		return -1;
	}
	addr_consume(p);
	return 0;
}

/* Skips to the next ',' (or ';' closing a group, or the end) after a
 * syntax error, so the members after it still parse. */
static void addr_recover(struct addr_parser *p)
{
	for (const struct addr_token *t = addr_peek(p); t->kind != ADDR_END;
	     t = addr_peek(p)) {
		if (t->kind == ADDR_SPECIAL && (t->c == ',' || t->c == ';'))
			return;
		addr_consume(p);
	}
}

/* addr-spec at start: local-part "@" domain, or a bare local part (the
 * domain stays ""). nwords is how many words the caller saw there. */
static int addr_spec(struct addr_parser *p, struct addr_mailbox *mb,
                     size_t start, int nwords)
{
	addr_rewind(p, start);
	int n = addr_dotted(p, &mb->local, 0);
	if (n < 0)
		p->nomem = 1;
	if (n <= 0 || n != nwords) {
		addr_error(p, addr_peek(p)->start, "expected an address");
		return -1;
	}
	if (!addr_peek_special(p, '@'))
		return 0;
	addr_consume(p);
	n = addr_dotted(p, &mb->domain, 1);
	if (n < 0)
		p->nomem = 1;
	if (n <= 0) {
		addr_error(p, addr_peek(p)->start, "expected domain after '@'");
		return -1;
	}
	return 0;
}

/* A mailbox whose first tokens (nwords words from start to phrase_end)
 * have been read; the next token is '<', '@' or a delimiter. */
static int addr_mailbox(struct addr_parser *p, size_t start, size_t phrase_end,
                        int nwords)
{
	struct addr_mailbox mb = {0};
	char *name = NULL;
	int rc;
	if (addr_peek_special(p, '<')) {
		if (nwords && !(name = addr_phrase_name(p, start, phrase_end)))
			p->nomem = 1;
		rc = addr_angle(p, &mb);
	} else {
		rc = addr_spec(p, &mb, start, nwords);
		if (rc == 0 && addr_peek_special(p, '<')) {
			/* An unquoted name holding '@': phil@x <phil@x> */
			size_t raw_end = addr_peek(p)->start;
			if (!(name = addr_decode_name(p->s + start, raw_end - start)))
				p->nomem = 1;
			buf_reset(&mb.local);
			buf_reset(&mb.domain);
			rc = addr_angle(p, &mb);
		}
	}
	if (rc == 0 && !name && !p->nomem) {
		addr_capture_comment(p);
		addr_peek(p);
		p->capture = 0;
		if (p->comment_end && !(name = addr_comment_name(p)))
			p->nomem = 1;
	}
	if (rc == 0 && !p->nomem) {
		if (addr_add(p, &mb, name) < 0)
			p->nomem = 1;
	} else {
		free(name);
	}
	buf_free(&mb.local);
	buf_free(&mb.domain);
	return rc;
}

static void addr_members(struct addr_parser *p, int in_group);

/* display-name ":" [mailbox-list] ";" — the phrase is s[start..end). */
static int addr_group(struct addr_parser *p, size_t start, size_t end,
                      int nwords)
{
	if (p->group) {
		addr_error(p, addr_peek(p)->start, "group inside a group");
		return -1;
	}
	char *name = nwords ? addr_phrase_name(p, start, end) : strdup("");
	if (!name) {
		p->nomem = 1;
		return -1;
	}
	addr_consume(p); /* ':' */
	p->list->groups++;
	p->group = name;
	addr_members(p, 1);
	p->group = NULL;
	free(name);
	return 0;
}

/* One member of an address list: a mailbox (0), a group with its ';'
 * (1), or -1 on a syntax error. */
static int addr_address(struct addr_parser *p)
{
	size_t start = addr_peek(p)->start, phrase_end = start;
	int nwords = 0;
	while (addr_is_word(addr_peek(p))) {
		phrase_end = addr_peek(p)->end;
		addr_consume(p);
		nwords++;
	}
	const struct addr_token *t = addr_peek(p);
	if (t->kind == ADDR_SPECIAL && t->c == ':')
		return addr_group(p, start, phrase_end, nwords) < 0 ? -1 : 1;
	int delim = t->kind == ADDR_END ||
	            (t->kind == ADDR_SPECIAL && (t->c == ',' || t->c == ';'));
	if ((t->kind == ADDR_SPECIAL && (t->c == '<' || t->c == '@')) ||
	    (delim && nwords))
		return addr_mailbox(p, start, phrase_end, nwords);
	addr_error(p, t->start, "unexpected character in address");
	return -1;
}

/* Members up to the end, or in a group up to and including its ';'.
 * Outside groups ';' separates like ',' (as some mailers write it). */
static void addr_members(struct addr_parser *p, int in_group)
{
	for (;;) {
		if (p->nomem)
			return;
		const struct addr_token *t = addr_peek(p);
		if (t->kind == ADDR_END)
			return;
		if (t->kind == ADDR_SPECIAL && (t->c == ',' || t->c == ';')) {
			addr_consume(p);
			if (t->c == ';' && in_group)
				return;
			continue;
		}
		int rc = addr_address(p);
		if (rc < 0)
			addr_recover(p);
		if (rc != 0)
			continue;
		t = addr_peek(p);
		if (t->kind != ADDR_END && !(t->kind == ADDR_SPECIAL &&
		                             (t->c == ',' || t->c == ';'))) {
			addr_error(p, t->start, "expected ',' after address");
			addr_recover(p);
		}
	}
}

int msg_address_parse(const char *s, size_t len, struct msg_address_list *list,
                      size_t *err_pos, const char **err)
{
	struct addr_parser p = {.s = s, .len = len, .list = list};
	addr_members(&p, 0);
	if (p.nomem)
		return -2;
	if (!p.err)
		return 0;
	if (err_pos)
		*err_pos = p.err_pos;
	if (err)
		*err = p.err;
	return -1;
}

void msg_address_list_free(struct msg_address_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].name);
		free(list->items[i].local);
		free(list->items[i].domain);
		free(list->items[i].group);
	}
	free(list->items);
	memset(list, 0, sizeof *list);
}

/* dot-atom: atext runs separated by single dots. */
static int addr_is_dot_atom(const char *s)
{
	if (!*s || *s == '.')
		return 0;
	for (; *s; s++) {
		if (*s == '.' && (s[1] == '.' || s[1] == '\0'))
			return 0;
		if (*s != '.' && !addr_is_atext((unsigned char)*s))
			return 0;
	}
	return 1;
}

/* Appends s as a quoted string; CR and LF become spaces so a value can
 * never start a new header line. */
static int addr_quote(struct buf *out, const char *s)
{
	if (buf_putc(out, '"') < 0)
		return -1;
	for (; *s; s++) {
		char c = *s == '\r' || *s == '\n' ? ' ' : *s;
		if ((c == '"' || c == '\\') && buf_putc(out, '\\') < 0)
			return -1;
		if (buf_putc(out, c) < 0)
			return -1;
	}
	return buf_putc(out, '"');
}

int msg_address_spec(const struct msg_address *a, struct buf *out)
{
	int rc = addr_is_dot_atom(a->local) ? buf_puts(out, a->local)
	                                    : addr_quote(out, a->local);
	if (rc == 0 && a->domain[0]) {
		rc = buf_putc(out, '@');
		if (rc == 0)
			rc = buf_puts(out, a->domain);
	}
	return rc;
}

/* A display name that can go out as it is: atoms separated by spaces. */
static int addr_name_is_plain(const char *s)
{
	if (!*s || *s == ' ')
		return 0;
	for (; *s; s++) {
		if (*s == ' ' && (s[1] == ' ' || s[1] == '\0'))
			return 0;
		if (*s != ' ' && (!addr_is_atext((unsigned char)*s) || *s == '.'))
			return 0;
	}
	return 1;
}

static int addr_is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

int msg_address_format(const struct msg_address *a, struct buf *out)
{
	const char *name = a->name ? a->name : "";
	if (!*name)
		return !a->local[0] && !a->domain[0] ? buf_puts(out, "<>")
		                                     : msg_address_spec(a, out);
	int rc;
	if (!addr_is_ascii(name))
		rc = msg_encword_encode(name, strlen(name), MSG_EW_PHRASE, out);
	else if (addr_name_is_plain(name) && !strstr(name, "=?"))
		rc = buf_puts(out, name);
	else
		rc = addr_quote(out, name);
	if (rc == 0)
		rc = buf_puts(out, " <");
	if (rc == 0)
		rc = msg_address_spec(a, out);
	return rc == 0 ? buf_putc(out, '>') : -1;
}
