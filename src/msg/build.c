/* build: composes RFC 5322/MIME messages from fields, text, HTML and
 * attachments (see build.h). The setters validate and copy; all encoding,
 * folding and structure decisions happen in msg_builder_write. */
#include "build.h"

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "address.h"
#include "charset.h"
#include "codec.h"
#include "date.h"
#include "encword.h"
#include "mime.h"
#include "msgid.h"

#define LINE_SOFT 78        /* RFC 5322 2.1.1: fold header lines before this */
#define LINE_HARD 998       /* ...and never let any line pass this */
#define WORD_MAX 900        /* an unstructured word longer than this could not
                             * share a line with its field name: encode it */
#define ITEMS_MAX 10000     /* addresses per field, fields, attachments */
#define NAME_MAX_LEN 400    /* display names and file names: quoting may double
                             * them, and they must still fit in LINE_HARD */
#define ADDRESS_MAX 254     /* RFC 5321 4.5.3.1.3 path limit less brackets */
#define ID_MAX 900          /* message ids; "<id>" still fits a line */
#define FIELD_NAME_MAX 76   /* custom field names: "Name: " fits a line */
#define TYPE_MAX 200        /* content types given by the caller */
#define BOUNDARY_PREFIX "=_posthorn_"
#define BOUNDARY_RANDOM 24
#define BOUNDARY_SIZE (sizeof BOUNDARY_PREFIX + BOUNDARY_RANDOM)
#define BOUNDARY_TRIES 16
#define FORWARD_FILENAME "forwarded-message.eml"

enum address_field {
	FIELD_FROM, FIELD_SENDER, FIELD_REPLY_TO, FIELD_TO, FIELD_CC, FIELD_BCC,
	FIELD_COUNT
};

/* Also the order in which the fields are written. */
static const char *const address_field_names[FIELD_COUNT] = {
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc",
};

/* Fields the builder writes itself: a custom field of the same name would
 * duplicate or contradict them. Content-* covers every MIME part field. */
static const char *const owned_fields[] = {
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject", "Date",
	"Message-ID", "In-Reply-To", "References", "MIME-Version",
};

struct mailbox {
	struct msg_address addr; /* name ("" when none), local, domain owned */
};

struct mailbox_list {
	struct mailbox *items;
	size_t count, cap;
};

struct custom_field {
	char *name, *value;
};

struct attachment {
	char *data;
	size_t len;
	char *filename;   /* NULL when none */
	char *type;       /* "type/subtype" plus any parameters the caller gave */
	char *content_id; /* without <>, NULL when none */
	bool inline_part;
	bool message;     /* message/rfc822: data is CRLF-normalised and safe to
	                   * send unencoded */
};

struct msg_builder {
	struct mailbox_list addresses[FIELD_COUNT];
	char *subject;            /* NULL: no Subject field */
	bool has_date;
	int64_t date;
	int date_offset;
	char *message_id;         /* NULL: generated */
	char *in_reply_to;
	char **references;
	size_t nreferences, references_cap;
	struct custom_field *fields;
	size_t nfields, fields_cap;
	bool keep_bcc;
	bool has_text, has_html;
	struct buf text, html;    /* normalised to CRLF, see normalize_lines */
	struct attachment *attachments;
	size_t nattachments, attachments_cap;
	const char *error;
};

static int fail(struct msg_builder *b, const char *why)
{
	b->error = why;
	return -1;
}

static int fail_memory(struct msg_builder *b)
{
	return fail(b, "out of memory or output limit reached");
}

/* Makes room for one more item in an array of count items. */
static int grow(void **items, size_t *cap, size_t count, size_t size)
{
	if (count < *cap)
		return 0;
	if (count >= ITEMS_MAX)
		return -1;
	size_t n = *cap ? *cap * 2 : 4;
	void *p = realloc(*items, n * size);
	if (!p)
		return -1;
	*items = p;
	*cap = n;
	return 0;
}

/* ---- validation ---------------------------------------------------- */

static bool has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Header text: valid UTF-8 without control characters other than tab.
 * Sets b->error and returns false otherwise. CR and LF get their own message
 * because they are how header injection is attempted. */
static bool check_header_text(struct msg_builder *b, const char *s,
                              size_t max)
{
	if (has_line_break(s)) {
		fail(b, "CR or LF in a header value (header injection refused)");
		return false;
	}
	size_t len = strlen(s);
	if (max && len > max) {
		fail(b, "header value too long");
		return false;
	}
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			fail(b, "control character in a header value");
			return false;
		}
	}
	if (!msg_utf8_valid(s, len)) {
		fail(b, "header value is not valid UTF-8");
		return false;
	}
	return true;
}

/* Message ids and content ids: printable ASCII without space, brackets or
 * quotes, so "<id>" is one unambiguous token. */
static bool check_id(struct msg_builder *b, const char *id)
{
	if (!id) {
		fail(b, "no id");
		return false;
	}
	size_t len = strlen(id);
	if (len == 0 || len > ID_MAX) {
		fail(b, "empty or overlong message or content id");
		return false;
	}
	for (const char *p = id; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || strchr("<>\"\\", c)) {
			if (c == '\r' || c == '\n')
				fail(b, "CR or LF in an id (header injection refused)");
			else
				fail(b, "invalid character in a message or content id");
			return false;
		}
	}
	return true;
}

static bool is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* "type/subtype" in RFC 2045 tokens, optionally followed by ";" and
 * parameters in printable ASCII (passed through as the caller wrote them). */
static bool check_content_type(struct msg_builder *b, const char *type)
{
	const char *p = type;
	size_t n = 0;
	while (is_token_char((unsigned char)p[n]))
		n++;
	if (n == 0 || p[n] != '/') {
		fail(b, "content type is not type/subtype");
		return false;
	}
	p += n + 1;
	for (n = 0; is_token_char((unsigned char)p[n]); n++)
		;
	if (n == 0 || (p[n] != '\0' && p[n] != ';' && p[n] != ' ')) {
		fail(b, "content type is not type/subtype");
		return false;
	}
	for (p += n; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			fail(b, "content type must be printable ASCII");
			return false;
		}
	}
	if (strlen(type) > TYPE_MAX) {
		fail(b, "content type too long");
		return false;
	}
	return true;
}

/* ---- builder life and setters --------------------------------------- */

struct msg_builder *msg_builder_new(void)
{
	struct msg_builder *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	buf_init(&b->text, 0);
	buf_init(&b->html, 0);
	return b;
}

static void attachment_free(struct attachment *a)
{
	free(a->data);
	free(a->filename);
	free(a->type);
	free(a->content_id);
}

void msg_builder_free(struct msg_builder **bp)
{
	struct msg_builder *b = bp ? *bp : NULL;
	if (!b)
		return;
	for (int f = 0; f < FIELD_COUNT; f++) {
		struct mailbox_list *l = &b->addresses[f];
		for (size_t i = 0; i < l->count; i++) {
			free(l->items[i].addr.name);
			free(l->items[i].addr.local);
			free(l->items[i].addr.domain);
		}
		free(l->items);
	}
	free(b->subject);
	free(b->message_id);
	free(b->in_reply_to);
	for (size_t i = 0; i < b->nreferences; i++)
		free(b->references[i]);
	free(b->references);
	for (size_t i = 0; i < b->nfields; i++) {
		free(b->fields[i].name);
		free(b->fields[i].value);
	}
	free(b->fields);
	buf_free(&b->text);
	buf_free(&b->html);
	for (size_t i = 0; i < b->nattachments; i++)
		attachment_free(&b->attachments[i]);
	free(b->attachments);
	free(b);
	*bp = NULL;
}

const char *msg_builder_error(const struct msg_builder *b)
{
	return b && b->error ? b->error : "no error";
}

static int find_address_field(const char *field)
{
	for (int f = 0; f < FIELD_COUNT; f++)
		if (field && strcasecmp(field, address_field_names[f]) == 0)
			return f;
	return -1;
}

/* A domain name, or a literal like "[192.0.2.1]". Controls were refused
 * already; UTF-8 (internationalised) names pass. */
static bool domain_ok(const char *d)
{
	size_t n = strlen(d);
	if (d[0] == '[')
		return n > 2 && d[n - 1] == ']' && strcspn(d + 1, "[]\\ \t") == n - 2;
	return n > 0 && strcspn(d, "<>()[],;:@\\\" \t") == n;
}

/* Splits "local@domain" at the last '@' (a quoted local part may hold
 * another) into the copies in a. */
static int split_address(struct msg_builder *b, const char *address,
                         struct msg_address *a)
{
	const char *at = strrchr(address, '@');
	if (!at || at == address || strchr(address, '\t') || !domain_ok(at + 1))
		return fail(b, "address is not local@domain");
	a->local = strndup(address, (size_t)(at - address));
	a->domain = strdup(at + 1);
	if (!a->local || !a->domain)
		return fail_memory(b);
	return 0;
}

int msg_builder_add_address(struct msg_builder *b, const char *field,
                            const char *name, const char *address)
{
	int f = find_address_field(field);
	if (f < 0)
		return fail(b, "not an address field");
	if (!address)
		return fail(b, "no address");
	if (!check_header_text(b, address, ADDRESS_MAX))
		return -1;
	if (name && !check_header_text(b, name, NAME_MAX_LEN))
		return -1;
	struct mailbox_list *l = &b->addresses[f];
	if (f == FIELD_SENDER && l->count > 0)
		return fail(b, "Sender takes a single address");
	if (grow((void **)&l->items, &l->cap, l->count, sizeof *l->items) < 0)
		return fail(b, "too many addresses or out of memory");
	struct msg_address a = {NULL, NULL, NULL, NULL};
	a.name = strdup(name ? name : "");
	if (!a.name || split_address(b, address, &a) < 0) {
		int memory = !a.name;
		free(a.name);
		free(a.local);
		free(a.domain);
		return memory ? fail_memory(b) : -1;
	}
	l->items[l->count++].addr = a;
	return 0;
}

/* Replaces *slot with a copy of s. */
static int replace_string(struct msg_builder *b, char **slot, const char *s)
{
	char *copy = strdup(s);
	if (!copy)
		return fail_memory(b);
	free(*slot);
	*slot = copy;
	return 0;
}

int msg_builder_set_subject(struct msg_builder *b, const char *subject)
{
	if (!subject)
		return fail(b, "no subject");
	if (!check_header_text(b, subject, 0))
		return -1;
	return replace_string(b, &b->subject, subject);
}

int msg_builder_set_date(struct msg_builder *b, int64_t utc, int offset_min)
{
	char tmp[64];
	if (offset_min <= -24 * 60 || offset_min >= 24 * 60 ||
	    msg_date_format(utc, offset_min, tmp, sizeof tmp) < 0)
		return fail(b, "date out of range");
	b->has_date = true;
	b->date = utc;
	b->date_offset = offset_min;
	return 0;
}

int msg_builder_set_message_id(struct msg_builder *b, const char *id)
{
	if (!check_id(b, id))
		return -1;
	return replace_string(b, &b->message_id, id);
}

int msg_builder_set_in_reply_to(struct msg_builder *b, const char *id)
{
	if (!check_id(b, id))
		return -1;
	return replace_string(b, &b->in_reply_to, id);
}

int msg_builder_add_reference(struct msg_builder *b, const char *id)
{
	if (!check_id(b, id))
		return -1;
	if (grow((void **)&b->references, &b->references_cap, b->nreferences,
	         sizeof *b->references) < 0)
		return fail(b, "too many references or out of memory");
	char *copy = strdup(id);
	if (!copy)
		return fail_memory(b);
	b->references[b->nreferences++] = copy;
	return 0;
}

/* RFC 5322 2.2: a field name is printable ASCII except ':'. */
static bool check_field_name(struct msg_builder *b, const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > FIELD_NAME_MAX) {
		fail(b, "empty or overlong field name");
		return false;
	}
	for (const char *p = name; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == ':') {
			fail(b, has_line_break(name)
			        ? "CR or LF in a field name (header injection refused)"
			        : "field name must be printable ASCII without ':'");
			return false;
		}
	}
	for (size_t i = 0; i < sizeof owned_fields / sizeof *owned_fields; i++) {
		if (strcasecmp(name, owned_fields[i]) == 0) {
			fail(b, "field is written by the builder itself");
			return false;
		}
	}
	if (strncasecmp(name, "Content-", 8) == 0) {
		fail(b, "Content-* fields are written by the builder itself");
		return false;
	}
	return true;
}

int msg_builder_add_header(struct msg_builder *b, const char *name,
                           const char *value)
{
	if (!name || !value)
		return fail(b, "no field name or value");
	if (!check_field_name(b, name) || !check_header_text(b, value, 0))
		return -1;
	if (grow((void **)&b->fields, &b->fields_cap, b->nfields,
	         sizeof *b->fields) < 0)
		return fail(b, "too many fields or out of memory");
	struct custom_field f = {strdup(name), strdup(value)};
	if (!f.name || !f.value) {
		free(f.name);
		free(f.value);
		return fail_memory(b);
	}
	b->fields[b->nfields++] = f;
	return 0;
}

void msg_builder_keep_bcc(struct msg_builder *b, int keep)
{
	b->keep_bcc = keep != 0;
}

/* ---- bodies and attachments ------------------------------------------ */

/* Appends s[0..n) with LF and CRLF line ends written as CRLF. A lone CR is
 * a line end too when cr_breaks (messages, which cannot carry one), else it
 * is kept (text, where quoted-printable carries it as =0D). final_break adds
 * a CRLF when non-empty text does not end in one, so the last line is a
 * line like the others. */
static int normalize_lines(const char *s, size_t n, bool cr_breaks,
                           bool final_break, struct buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		bool crlf = s[i] == '\r' && i + 1 < n && s[i + 1] == '\n';
		if (s[i] != '\n' && !crlf && !(s[i] == '\r' && cr_breaks))
			continue;
		if (buf_append(out, s + start, i - start) < 0 ||
		    buf_append(out, "\r\n", 2) < 0)
			return -1;
		i += crlf;
		start = i + 1;
	}
	if (buf_append(out, s + start, n - start) < 0)
		return -1;
	if (final_break && start < n && buf_append(out, "\r\n", 2) < 0)
		return -1;
	return 0;
}

static int set_body(struct msg_builder *b, struct buf *body, bool *has,
                    const char *s, size_t len)
{
	if (!s && len)
		return fail(b, "no text");
	if (len && !msg_utf8_valid(s, len))
		return fail(b, "text is not valid UTF-8");
	struct buf tmp = BUF_INIT;
	if (normalize_lines(s, len, false, true, &tmp) < 0) {
		buf_free(&tmp);
		return fail_memory(b);
	}
	buf_free(body);
	*body = tmp;
	*has = true;
	return 0;
}

int msg_builder_set_text(struct msg_builder *b, const char *text, size_t len)
{
	return set_body(b, &b->text, &b->has_text, text, len);
}

int msg_builder_set_html(struct msg_builder *b, const char *html, size_t len)
{
	return set_body(b, &b->html, &b->has_html, html, len);
}

static struct attachment *new_attachment(struct msg_builder *b)
{
	if (grow((void **)&b->attachments, &b->attachments_cap,
	         b->nattachments, sizeof *b->attachments) < 0) {
		fail(b, "too many attachments or out of memory");
		return NULL;
	}
	struct attachment *a = &b->attachments[b->nattachments];
	memset(a, 0, sizeof *a);
	return a;
}

static bool check_attachment(struct msg_builder *b, const void *data,
                             size_t len, const char *filename,
                             const char *type, const char *content_id)
{
	if (!data && len) {
		fail(b, "no attachment data");
		return false;
	}
	if (filename && !*filename) {
		fail(b, "empty file name");
		return false;
	}
	if (filename && !check_header_text(b, filename, NAME_MAX_LEN))
		return false;
	if (type && !check_content_type(b, type))
		return false;
	if (type && (strncasecmp(type, "multipart/", 10) == 0 ||
	             strncasecmp(type, "message/", 8) == 0)) {
		fail(b, "multipart and message types cannot be attached as bytes");
		return false;
	}
	return !content_id || check_id(b, content_id);
}

int msg_builder_attach(struct msg_builder *b, const void *data, size_t len,
                       const char *filename, const char *content_type,
                       int inline_part, const char *content_id)
{
	if (!check_attachment(b, data, len, filename, content_type, content_id))
		return -1;
	struct attachment *a = new_attachment(b);
	if (!a)
		return -1;
	a->data = malloc(len ? len : 1);
	a->type = strdup(content_type ? content_type : "application/octet-stream");
	a->filename = filename ? strdup(filename) : NULL;
	a->content_id = content_id ? strdup(content_id) : NULL;
	a->inline_part = inline_part != 0;
	if (!a->data || !a->type || (filename && !a->filename) ||
	    (content_id && !a->content_id)) {
		attachment_free(a);
		return fail_memory(b);
	}
	if (len)
		memcpy(a->data, data, len);
	a->len = len;
	b->nattachments++;
	return 0;
}

/* What a body scan found; lines are counted without their line end. */
struct scan {
	bool eight_bit, nul, bare_cr, bare_lf;
	size_t longest_line;
};

static void scan_content(const char *s, size_t n, struct scan *sc)
{
	memset(sc, 0, sizeof *sc);
	size_t line = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			i++;
			line = 0;
			continue;
		}
		if (c == '\n') {
			sc->bare_lf = true;
			line = 0;
			continue;
		}
		sc->bare_cr |= c == '\r';
		sc->nul |= c == '\0';
		sc->eight_bit |= c >= 0x80;
		if (++line > sc->longest_line)
			sc->longest_line = line;
	}
}

/* RFC 2046 5.2.1 allows only 7bit, 8bit and binary for message/rfc822. A
 * message with NULs or lines over 998 octets could only travel as binary,
 * which SMTP without BINARYMIME cannot carry, so such a message is attached
 * as application/octet-stream in base64 under a ".eml" name instead. */
int msg_builder_attach_message(struct msg_builder *b, const char *raw,
                               size_t len)
{
	if (!raw && len)
		return fail(b, "no message");
	struct buf norm = BUF_INIT;
	if (normalize_lines(raw, len, true, false, &norm) < 0) {
		buf_free(&norm);
		return fail_memory(b);
	}
	struct scan sc;
	scan_content(norm.data, norm.len, &sc);
	bool as_message = !sc.nul && sc.longest_line <= LINE_HARD;
	struct attachment *a = new_attachment(b);
	if (!a) {
		buf_free(&norm);
		return -1;
	}
	a->message = as_message;
	a->type = strdup(as_message ? "message/rfc822" : "application/octet-stream");
	a->filename = as_message ? NULL : strdup(FORWARD_FILENAME);
	a->len = norm.len;
	a->data = buf_steal(&norm, NULL);
	if (!a->type || !a->data || (!as_message && !a->filename)) {
		attachment_free(a);
		buf_free(&norm);
		return fail_memory(b);
	}
	b->nattachments++;
	return 0;
}

/* ---- header fields ----------------------------------------------------- */

/* Appends "name: value" CRLF, folding before a space wherever the line
 * would pass LINE_SOFT. Folds already in value ("\r\n ", as
 * msg_param_format writes them) are kept. Unfolding the result gives value
 * back exactly: a fold only inserts CRLF before existing whitespace, never
 * leaves a line of only whitespace and never separates the first word from
 * the field name. Fails (out unchanged) when a word cannot fit in LINE_HARD. */
static int fold_field(struct msg_builder *b, struct buf *out, const char *name,
                      const char *value, size_t len)
{
	size_t start = out->len;
	size_t col = strlen(name) + 1;
	bool text_on_line = false;
	if (buf_printf(out, "%s:%s", name, len ? " " : "") < 0)
		return fail_memory(b);
	col += len > 0;
	for (size_t i = 0; i < len;) {
		if (value[i] == '\r' && i + 1 < len && value[i + 1] == '\n') {
			if (buf_append(out, "\r\n", 2) < 0)
				goto memory;
			col = 0;
			text_on_line = false;
			i += 2;
			continue;
		}
		size_t word = i, end;
		while (word < len && value[word] == ' ')
			word++;
		for (end = word; end < len && value[end] != ' ' && value[end] != '\r'; end++)
			;
		if (end == i)
			end = i + 1; /* a CR not starting a fold: plain text */
		if (word > i && text_on_line && col + (end - i) > LINE_SOFT) {
			if (buf_append(out, "\r\n", 2) < 0)
				goto memory;
			col = 0;
		}
		if (buf_append(out, value + i, end - i) < 0)
			goto memory;
		col += end - i;
		text_on_line |= end > word;
		if (col > LINE_HARD) {
			buf_truncate(out, start);
			return fail(b, "header field cannot be folded under 998 columns");
		}
		i = end;
	}
	if (buf_append(out, "\r\n", 2) == 0)
		return 0;
memory:
	buf_truncate(out, start);
	return fail_memory(b);
}

static int fold_buf(struct msg_builder *b, struct buf *out, const char *name,
                    const struct buf *value)
{
	return fold_field(b, out, name, value->data, value->len);
}

static size_t longest_word(const char *s, size_t n)
{
	size_t longest = 0, run = 0;
	for (size_t i = 0; i < n; i++) {
		run = s[i] == ' ' ? 0 : run + 1;
		if (run > longest)
			longest = run;
	}
	return longest;
}

/* msg_encword_encode leaves ASCII words alone, so a word too long for any
 * line is handled here: the whole text becomes B words of at most 45 bytes
 * (72 characters), never splitting a UTF-8 character. Decoders drop the
 * whitespace between encoded words, so every original space travels inside
 * a word and the text decodes exactly. */
static int encode_all_words(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len;) {
		size_t n = len - i < 45 ? len - i : 45;
		while (n > 1 && i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
			n--;
		if ((i > 0 && buf_putc(out, ' ') < 0) ||
		    buf_puts(out, "=?UTF-8?B?") < 0 ||
		    msg_base64_encode(s + i, n, 0, out) < 0 ||
		    buf_puts(out, "?=") < 0)
			return -1;
		i += n;
	}
	return 0;
}

/* Appends unstructured text (Subject, custom fields) as header-ready ASCII. */
static int encode_unstructured(const char *s, struct buf *out)
{
	size_t len = strlen(s), start = out->len;
	if (msg_encword_encode(s, len, 0, out) < 0)
		return -1;
	if (longest_word(out->data + start, out->len - start) <= WORD_MAX)
		return 0;
	buf_truncate(out, start);
	return encode_all_words(s, len, out);
}

static int write_unstructured(struct msg_builder *b, struct buf *out,
                              const char *name, const char *text)
{
	struct buf value = BUF_INIT;
	int r = encode_unstructured(text, &value) < 0
	        ? fail_memory(b) : fold_buf(b, out, name, &value);
	buf_free(&value);
	return r;
}

static int write_address_field(struct msg_builder *b, struct buf *out, int f)
{
	const struct mailbox_list *l = &b->addresses[f];
	if (l->count == 0)
		return 0;
	struct buf value = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < l->count && r == 0; i++) {
		if ((i > 0 && buf_puts(&value, ", ") < 0) ||
		    msg_address_format(&l->items[i].addr, &value) < 0)
			r = fail_memory(b);
	}
	if (r == 0)
		r = fold_buf(b, out, address_field_names[f], &value);
	buf_free(&value);
	return r;
}

/* Writes ids as "<a> <b> ..." folded between ids. */
static int write_ids(struct msg_builder *b, struct buf *out, const char *name,
                     char *const *ids, size_t n)
{
	if (n == 0)
		return 0;
	struct buf value = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		if (buf_printf(&value, "%s<%s>", i ? " " : "", ids[i]) < 0)
			r = fail_memory(b);
	if (r == 0)
		r = fold_buf(b, out, name, &value);
	buf_free(&value);
	return r;
}

/* The From domain for generated ids when it is plain ASCII, else localhost. */
static const char *id_domain(const struct msg_builder *b)
{
	const char *d = b->addresses[FIELD_FROM].items[0].addr.domain;
	for (const char *p = d; *p; p++)
		if ((unsigned char)*p >= 0x80 || *p == '[' || *p == ']')
			return "localhost";
	return d;
}

static int write_date(struct msg_builder *b, struct buf *out)
{
	char date[64];
	int64_t when = b->has_date ? b->date : (int64_t)time(NULL);
	if (msg_date_format(when, b->has_date ? b->date_offset : 0, date,
	                    sizeof date) < 0)
		return fail(b, "date out of range");
	return fold_field(b, out, "Date", date, strlen(date));
}

static int write_message_id(struct msg_builder *b, struct buf *out)
{
	if (b->message_id)
		return write_ids(b, out, "Message-ID", &b->message_id, 1);
	const char *domain = id_domain(b);
	size_t size = 128 + strlen(domain);
	char *id = malloc(size);
	if (!id)
		return fail_memory(b);
	int n = msg_id_generate(domain, id, size);
	int r = n < 0 ? fail(b, "cannot generate a message id")
	              : fold_field(b, out, "Message-ID", id, (size_t)n);
	free(id);
	return r;
}

/* Every field of the message's own header, before the MIME fields. */
static int write_header(struct msg_builder *b, struct buf *out)
{
	if (write_date(b, out) < 0)
		return -1;
	for (int f = 0; f < FIELD_COUNT; f++)
		if ((f != FIELD_BCC || b->keep_bcc) && write_address_field(b, out, f) < 0)
			return -1;
	if (b->subject && write_unstructured(b, out, "Subject", b->subject) < 0)
		return -1;
	if (write_message_id(b, out) < 0)
		return -1;
	if (b->in_reply_to && write_ids(b, out, "In-Reply-To", &b->in_reply_to, 1) < 0)
		return -1;
	if (write_ids(b, out, "References", b->references, b->nreferences) < 0)
		return -1;
	for (size_t i = 0; i < b->nfields; i++)
		if (write_unstructured(b, out, b->fields[i].name, b->fields[i].value) < 0)
			return -1;
	return fold_field(b, out, "MIME-Version", "1.0", 3);
}

/* ---- MIME structure -------------------------------------------------- */

enum node {
	NODE_NONE, NODE_TEXT, NODE_HTML, NODE_ATTACHMENT,
	NODE_ALTERNATIVE, NODE_RELATED, NODE_MIXED, /* the multiparts, in this order */
};
#define MULTIPART_INDEX(n) ((n) - NODE_ALTERNATIVE)

struct writer {
	struct msg_builder *b;
	struct buf *out;
	bool alternative, related, mixed;         /* which multiparts exist */
	char boundary[3][BOUNDARY_SIZE];          /* by MULTIPART_INDEX, "" unused */
};

/* Inline images for the HTML go with it in multipart/related; without HTML
 * they are ordinary attachments in multipart/mixed. */
static bool in_related(const struct writer *w, const struct attachment *a)
{
	return w->related && a->content_id && !a->message;
}

/* Text bodies: 7bit when every line already is short ASCII; otherwise
 * quoted-printable, which keeps them readable and carries bare CRs, NULs,
 * long lines and UTF-8 safely. */
static enum msg_cte text_cte(const struct buf *text)
{
	struct scan sc;
	scan_content(text->data, text->len, &sc);
	bool plain = !sc.eight_bit && !sc.nul && !sc.bare_cr && !sc.bare_lf &&
	             sc.longest_line <= LINE_HARD;
	return plain ? MSG_CTE_7BIT : MSG_CTE_QP;
}

/* Attachments must decode to exactly their bytes. Text types with only CRLF
 * line ends can go as 7bit or quoted-printable like a body; any other line
 * end would come back as CRLF, so such text, and every non-text type, goes
 * in base64. */
static enum msg_cte attachment_cte(const struct attachment *a)
{
	struct scan sc;
	if (a->message) {
		scan_content(a->data, a->len, &sc);
		return sc.eight_bit ? MSG_CTE_8BIT : MSG_CTE_7BIT;
	}
	if (strncasecmp(a->type, "text/", 5) != 0)
		return MSG_CTE_BASE64;
	scan_content(a->data, a->len, &sc);
	if (sc.bare_cr || sc.bare_lf)
		return MSG_CTE_BASE64;
	if (!sc.eight_bit && !sc.nul && sc.longest_line <= LINE_HARD)
		return MSG_CTE_7BIT;
	return MSG_CTE_QP;
}

static bool is_raw(enum msg_cte cte)
{
	return cte == MSG_CTE_7BIT || cte == MSG_CTE_8BIT;
}

static bool contains(const char *data, size_t len, const char *s)
{
	return len && memmem(data, len, s, strlen(s)) != NULL;
}

/* Base64 and quoted-printable output never holds "=_" (QP writes '=' only
 * before hex digits or a line end), so only content written as it is can
 * collide with a boundary; and the boundaries with each other. */
static bool boundary_collides(const struct writer *w, const char *bnd)
{
	const struct msg_builder *b = w->b;
	if (b->has_text && is_raw(text_cte(&b->text)) &&
	    contains(b->text.data, b->text.len, bnd))
		return true;
	if (b->has_html && is_raw(text_cte(&b->html)) &&
	    contains(b->html.data, b->html.len, bnd))
		return true;
	for (size_t i = 0; i < b->nattachments; i++) {
		const struct attachment *a = &b->attachments[i];
		if (is_raw(attachment_cte(a)) && contains(a->data, a->len, bnd))
			return true;
	}
	for (int i = 0; i < 3; i++)
		if (strcmp(w->boundary[i], bnd) == 0)
			return true;
	return false;
}

static int random_bytes(unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* BOUNDARY_PREFIX and 24 random alphanumerics (143 bits). Bytes >= 248 are
 * skipped so every character is equally likely. */
static int make_boundary(struct writer *w, char *bnd)
{
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	for (int tries = 0; tries < BOUNDARY_TRIES; tries++) {
		char cand[BOUNDARY_SIZE] = BOUNDARY_PREFIX;
		size_t n = sizeof BOUNDARY_PREFIX - 1;
		while (n < BOUNDARY_SIZE - 1) {
			unsigned char rnd[64];
			if (random_bytes(rnd, sizeof rnd) < 0)
				return fail(w->b, "no random bytes for a boundary");
			for (size_t i = 0; i < sizeof rnd && n < BOUNDARY_SIZE - 1; i++)
				if (rnd[i] < 248)
					cand[n++] = alnum[rnd[i] % 62];
		}
		cand[n] = '\0';
		if (!boundary_collides(w, cand)) {
			memcpy(bnd, cand, BOUNDARY_SIZE);
			return 0;
		}
	}
	return fail(w->b, "cannot find a boundary absent from the content");
}

/* Decides the structure and draws the boundaries it needs. */
static int plan(struct writer *w)
{
	struct msg_builder *b = w->b;
	w->alternative = b->has_text && b->has_html;
	for (size_t i = 0; i < b->nattachments; i++) {
		const struct attachment *a = &b->attachments[i];
		if (b->has_html && a->content_id && !a->message)
			w->related = true;
		else
			w->mixed = true;
	}
	bool need[3] = {w->alternative, w->related, w->mixed};
	for (int i = 0; i < 3; i++)
		if (need[i] && make_boundary(w, w->boundary[i]) < 0)
			return -1;
	return 0;
}

/* The node holding the readable content, NODE_NONE when there is neither
 * text nor HTML. */
static enum node body_node(const struct writer *w)
{
	if (w->alternative)
		return NODE_ALTERNATIVE;
	if (w->b->has_html)
		return w->related ? NODE_RELATED : NODE_HTML;
	return w->b->has_text ? NODE_TEXT : NODE_NONE;
}

static int write_cte(struct writer *w, enum msg_cte cte)
{
	const char *name = msg_cte_name(cte);
	return fold_field(w->b, w->out, "Content-Transfer-Encoding", name,
	                  strlen(name));
}

/* Appends the body of a leaf in its transfer encoding. */
static int write_encoded(struct writer *w, const char *data, size_t len,
                         enum msg_cte cte)
{
	int r;
	if (cte == MSG_CTE_BASE64)
		r = msg_base64_encode(data, len, 76, w->out);
	else if (cte == MSG_CTE_QP)
		r = msg_qp_encode(data, len, 0, w->out);
	else
		r = buf_append(w->out, data, len);
	return r < 0 ? fail_memory(w->b) : 0;
}

static int write_text_node(struct writer *w, const char *subtype,
                           const struct buf *text)
{
	enum msg_cte cte = text_cte(text);
	char type[64];
	int n = snprintf(type, sizeof type, "text/%s; charset=%s", subtype,
	                 cte == MSG_CTE_7BIT ? "us-ascii" : "utf-8");
	if (fold_field(w->b, w->out, "Content-Type", type, (size_t)n) < 0 ||
	    write_cte(w, cte) < 0)
		return -1;
	if (buf_append(w->out, "\r\n", 2) < 0)
		return fail_memory(w->b);
	return write_encoded(w, text->data, text->len, cte);
}

static bool is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* A text attachment without a charset is read as US-ASCII (RFC 2046
 * 4.1.2): label it UTF-8 when that is what its 8-bit bytes are. */
static bool needs_utf8_label(const struct attachment *a)
{
	return strncasecmp(a->type, "text/", 5) == 0 &&
	       !strcasestr(a->type, "charset=") &&
	       !is_ascii(a->data, a->len) && msg_utf8_valid(a->data, a->len);
}

/* The Content-Type name parameter, for clients that ignore RFC 2231: a
 * non-ASCII name goes in RFC 2047 words inside the quoted string, which is
 * what those clients decode although RFC 2047 5 does not allow it. Written
 * here because msg_param_format rightly refuses to emit "=?" literally. */
static int append_name_param(const char *filename, size_t *col,
                             struct buf *v)
{
	if (is_ascii(filename, strlen(filename)))
		return msg_param_format("name", filename, col, v);
	struct buf words = BUF_INIT;
	int r = msg_encword_encode(filename, strlen(filename), 0, &words);
	if (r == 0)
		r = buf_puts(v, "; name=\"");
	for (size_t i = 0; r == 0 && i < words.len; i++) {
		char c = words.data[i];
		if (c == '"' || c == '\\')
			r = buf_putc(v, '\\');
		if (r == 0)
			r = buf_putc(v, c);
	}
	if (r == 0)
		r = buf_putc(v, '"');
	buf_free(&words);
	return r;
}

/* Content-Type with the caller's type, a charset when needed, and name. */
static int write_attachment_type(struct writer *w, const struct attachment *a)
{
	struct buf v = BUF_INIT;
	size_t col = strlen("Content-Type: ") + strlen(a->type);
	int r = buf_puts(&v, a->type);
	if (r == 0 && needs_utf8_label(a))
		r = msg_param_format("charset", "utf-8", &col, &v);
	if (r == 0 && a->filename)
		r = append_name_param(a->filename, &col, &v);
	r = r < 0 ? fail_memory(w->b) : fold_buf(w->b, w->out, "Content-Type", &v);
	buf_free(&v);
	return r;
}

static int write_disposition(struct writer *w, const struct attachment *a)
{
	const char *disposition = a->inline_part ? "inline" : "attachment";
	size_t col = strlen("Content-Disposition: ") + strlen(disposition);
	struct buf v = BUF_INIT;
	int r = buf_puts(&v, disposition);
	if (r == 0 && a->filename)
		r = msg_param_format("filename", a->filename, &col, &v);
	r = r < 0 ? fail_memory(w->b)
	          : fold_buf(w->b, w->out, "Content-Disposition", &v);
	buf_free(&v);
	return r;
}

static int write_attachment_fields(struct writer *w, const struct attachment *a,
                                   enum msg_cte cte)
{
	if (write_attachment_type(w, a) < 0 || write_cte(w, cte) < 0 ||
	    write_disposition(w, a) < 0)
		return -1;
	if (!a->content_id)
		return 0;
	struct buf v = BUF_INIT;
	int r = buf_printf(&v, "<%s>", a->content_id) < 0
	        ? fail_memory(w->b) : fold_buf(w->b, w->out, "Content-ID", &v);
	buf_free(&v);
	return r;
}

static int write_attachment_node(struct writer *w, const struct attachment *a)
{
	enum msg_cte cte = attachment_cte(a);
	if (write_attachment_fields(w, a, cte) < 0)
		return -1;
	if (buf_append(w->out, "\r\n", 2) < 0)
		return fail_memory(w->b);
	return write_encoded(w, a->data, a->len, cte);
}

static int write_node(struct writer *w, enum node kind, size_t index);

/* One child: the delimiter (whose leading CRLF belongs to it, RFC 2046
 * 5.1.1, so the content before it keeps its own last line end) and the part. */
static int write_child(struct writer *w, const char *bnd, bool first,
                       enum node kind, size_t index)
{
	if (buf_printf(w->out, "%s--%s\r\n", first ? "" : "\r\n", bnd) < 0)
		return fail_memory(w->b);
	return write_node(w, kind, index);
}

static int write_multipart_fields(struct writer *w, enum node kind)
{
	static const char *const subtypes[] = {"alternative", "related", "mixed"};
	struct buf v = BUF_INIT;
	int r = buf_printf(&v, "multipart/%s;%s boundary=\"%s\"",
	                   subtypes[MULTIPART_INDEX(kind)],
	                   kind == NODE_RELATED ? " type=\"text/html\";" : "",
	                   w->boundary[MULTIPART_INDEX(kind)]);
	r = r < 0 ? fail_memory(w->b) : fold_buf(w->b, w->out, "Content-Type", &v);
	buf_free(&v);
	if (r == 0 && buf_append(w->out, "\r\n", 2) < 0)
		r = fail_memory(w->b);
	return r;
}

/* alternative: text, then the HTML (with its related parts); related: the
 * HTML, then the parts it refers to by Content-ID; mixed: the body, then
 * every other attachment. */
static int write_multipart(struct writer *w, enum node kind)
{
	const char *bnd = w->boundary[MULTIPART_INDEX(kind)];
	if (write_multipart_fields(w, kind) < 0)
		return -1;
	bool first = true;
	if (kind == NODE_ALTERNATIVE) {
		if (write_child(w, bnd, true, NODE_TEXT, 0) < 0 ||
		    write_child(w, bnd, false, w->related ? NODE_RELATED : NODE_HTML, 0) < 0)
			return -1;
		first = false;
	} else {
		enum node head = kind == NODE_RELATED ? NODE_HTML : body_node(w);
		if (head != NODE_NONE && write_child(w, bnd, true, head, 0) < 0)
			return -1;
		first = head == NODE_NONE;
		for (size_t i = 0; i < w->b->nattachments; i++) {
			if (in_related(w, &w->b->attachments[i]) != (kind == NODE_RELATED))
				continue;
			if (write_child(w, bnd, first, NODE_ATTACHMENT, i) < 0)
				return -1;
			first = false;
		}
	}
	if (buf_printf(w->out, "\r\n--%s--\r\n", bnd) < 0)
		return fail_memory(w->b);
	return 0;
}

static int write_node(struct writer *w, enum node kind, size_t index)
{
	switch (kind) {
	case NODE_NONE:
	case NODE_TEXT:
		return write_text_node(w, "plain", &w->b->text);
	case NODE_HTML:
		return write_text_node(w, "html", &w->b->html);
	case NODE_ATTACHMENT:
		return write_attachment_node(w, &w->b->attachments[index]);
	default:
		return write_multipart(w, kind);
	}
}

int msg_builder_write(struct msg_builder *b, struct buf *out)
{
	if (!out)
		return fail(b, "no output buffer");
	if (b->addresses[FIELD_FROM].count == 0)
		return fail(b, "no From address");
	struct writer w = {.b = b, .out = out};
	if (plan(&w) < 0)
		return -1;
	size_t start = out->len;
	enum node root = w.mixed ? NODE_MIXED : body_node(&w);
	if (write_header(b, out) < 0 || write_node(&w, root, 0) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

int msg_builder_recipients(const struct msg_builder *b, struct buf *out)
{
	static const int fields[] = {FIELD_TO, FIELD_CC, FIELD_BCC};
	size_t start = out->len;
	for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
		const struct mailbox_list *l = &b->addresses[fields[f]];
		for (size_t i = 0; i < l->count; i++) {
			if (msg_address_spec(&l->items[i].addr, out) < 0 ||
			    buf_putc(out, '\n') < 0) {
				buf_truncate(out, start);
				return -1;
			}
		}
	}
	return 0;
}
