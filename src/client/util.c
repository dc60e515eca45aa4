/* util: helpers shared by the client commands (see util.h). The HTML to
 * text conversion lives here too: it serves only `show`, and a crude
 * converter is all a terminal reader needs. */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "../msg/charset.h"
#include "../msg/encword.h"
#include "../msg/msgid.h"
#include "input.h"

static const struct util_opt *util_find_opt(const struct util_opt *opts,
                                            size_t nopts, const char *arg,
                                            size_t len)
{
	for (size_t i = 0; i < nopts; i++)
		if (strlen(opts[i].name) == len && !strncmp(opts[i].name, arg, len))
			return &opts[i];
	return NULL;
}

int util_parse_args(int argc, char **argv, const struct util_opt *opts,
                    size_t nopts, char **pos, size_t maxpos, size_t *npos)
{
	int only_pos = 0;
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
			if (*npos == maxpos) {
				fprintf(stderr, "posthorn %s: unexpected argument '%s'\n",
				        argv[0], a);
				return -1;
			}
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return 1;
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		const struct util_opt *o = util_find_opt(opts, nopts, a, len);
		if (!o) {
			fprintf(stderr, "posthorn %s: unknown option '%s'\n", argv[0], a);
			return -1;
		}
		if (o->flag && eq) {
			fprintf(stderr, "posthorn %s: option '%s' takes no value\n",
			        argv[0], o->name);
			return -1;
		}
		if (o->flag) {
			*o->flag = 1;
		} else if (eq) {
			*o->value = eq + 1;
		} else if (i + 1 < argc) {
			*o->value = argv[++i];
		} else {
			fprintf(stderr, "posthorn %s: option '%s' needs a value\n",
			        argv[0], o->name);
			return -1;
		}
	}
	return 0;
}

/* Binary rather than text: NUL bytes or many control characters. Random
 * bytes have about one control character in eight; text has almost none. */
static int util_looks_binary(const char *s, size_t n)
{
	size_t controls = 0, scan = n < 65536 ? n : 65536;
	for (size_t i = 0; i < scan; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			return 1;
		if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t' &&
		     c != '\f') || c == 0x7F)
			controls++;
	}
	return controls * 20 > scan;
}

static int util_all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* One warning line naming every kind of damage found, or nothing. A bare
 * LF or 8-bit header is how files on disk normally look: not damage. */
static void util_warn_damage(const struct util_input *in)
{
	static const struct {
		unsigned flag;
		int header;
		const char *what;
	} kinds[] = {
		{MSG_PART_NO_END_BOUNDARY, 0, "multipart without its final boundary"},
		{MSG_PART_NO_BOUNDARY, 0, "multipart without a boundary"},
		{MSG_PART_DEPTH_LIMIT, 0, "nesting too deep, not all parts shown"},
		{MSG_PART_PART_LIMIT, 0, "too many parts, not all parts shown"},
		{MSG_PART_BAD_HEADER, 0, "damaged header"},
		{MSG_PART_BAD_CTYPE, 0, "unusable Content-Type"},
		{MSG_HDR_BAD_LINES, 1, "lines in the header that are not fields"},
		{MSG_HDR_TRUNCATED, 1, "too many header fields"},
		{MSG_HDR_NUL, 1, "NUL bytes in the header"},
		{MSG_HDR_NO_BLANK, 1, "no blank line after the header"},
	};
	const struct msg_message *m = in->msg;
	unsigned hflags = m->root->header.flags;
	/* a message of header fields only legitimately has no blank line */
	if (m->root->header.body_offset >= m->len)
		hflags &= ~(unsigned)MSG_HDR_NO_BLANK;
	struct buf line = BUF_INIT;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		unsigned have = kinds[i].header ? hflags : m->warnings;
		if (have & kinds[i].flag)
			buf_printf(&line, "%s%s", line.len ? ", " : "", kinds[i].what);
	}
	if (m->root->header.count == 0)
		buf_printf(&line, "%sno header fields", line.len ? ", " : "");
	if (line.len)
		fprintf(stderr, "posthorn: warning: %s: damaged message: %s\n",
		        in->name, buf_cstr(&line));
	buf_free(&line);
}

int util_input_load(const char *path, struct util_input *in)
{
	memset(in, 0, sizeof *in);
	in->name = input_name(path);
	if (input_read(path, INPUT_MAX_BYTES, &in->raw) < 0)
		return EXIT_INPUT;
	if (util_all_space(in->raw.data, in->raw.len)) {
		fprintf(stderr, "posthorn: %s: empty input, not a message\n",
		        in->name);
		return EXIT_INPUT;
	}
	in->msg = msg_parse(in->raw.data, in->raw.len, NULL);
	if (!in->msg) {
		fprintf(stderr, "posthorn: %s: %s\n", in->name, strerror(ENOMEM));
		return EXIT_INPUT;
	}
	if (in->msg->root->header.count == 0 &&
	    util_looks_binary(in->raw.data, in->raw.len)) {
		fprintf(stderr, "posthorn: %s: not a message (binary data without "
		        "header fields)\n", in->name);
		return EXIT_INPUT;
	}
	util_warn_damage(in);
	return 0;
}

void util_input_free(struct util_input *in)
{
	msg_message_free(&in->msg);
	buf_free(&in->raw);
}

int util_term_safe(const char *s, size_t n, int oneline, struct buf *out)
{
	struct buf clean = BUF_INIT;
	int r = msg_utf8_sanitize(s, n, &clean);
	for (size_t i = 0; r == 0 && i < clean.len; i++) {
		unsigned char c = (unsigned char)clean.data[i];
		if (c == 0xC2 && i + 1 < clean.len &&
		    (unsigned char)clean.data[i + 1] <= 0x9F) {
			i++; /* C1 control: ESC's 8-bit twins */
			continue;
		}
		if (c == '\n' || c == '\t')
			r = buf_putc(out, oneline ? ' ' : (char)c);
		else if (c >= 0x20 && c != 0x7F)
			r = buf_putc(out, (char)c);
	}
	buf_free(&clean);
	return r;
}

int util_sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* East Asian wide and fullwidth ranges: enough for aligned columns of
 * CJK file names; combining marks are rare in names and count as one. */
static int util_wide(uint32_t cp)
{
	return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
	       (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	       (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
	       (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

size_t util_display_width(const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		uint32_t cp = c < 0x80 ? c : c < 0xE0 ? c & 0x1F :
		              c < 0xF0 ? c & 0x0F : c & 0x07;
		for (size_t k = 1; k < len && i + k < n; k++)
			cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
		w += util_wide(cp) ? 2 : 1;
		i += len;
	}
	return w;
}

int util_write_stdout(const struct buf *b)
{
	if ((b->len && fwrite(b->data, 1, b->len, stdout) != b->len) ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "posthorn: standard output: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int util_header_text(const struct msg_header *h, const char *name,
                     struct buf *out)
{
	const struct msg_field *f = msg_header_get(h, name);
	if (!f)
		return 0;
	struct buf unfolded = BUF_INIT;
	int r = msg_field_unfold(f, &unfolded);
	if (r == 0)
		r = msg_encword_decode(unfolded.data ? unfolded.data : "",
		                       unfolded.len, out) < 0 ? -1 : 0;
	buf_free(&unfolded);
	return r < 0 ? -1 : 1;
}

int util_header_addresses(const struct msg_header *h, const char *name,
                          struct msg_address_list *list)
{
	int bad = 0;
	for (const struct msg_field *f = msg_header_get(h, name); f;
	     f = msg_header_next(h, f)) {
		int r = msg_address_parse(f->value, f->value_len, list, NULL, NULL);
		if (r == -2)
			return -1;
		if (r < 0)
			bad = 1;
	}
	return bad;
}

int util_address_spec(const struct msg_address *a, struct buf *out)
{
	if (!a->domain || !a->domain[0])
		return buf_puts(out, a->local ? a->local : "");
	return msg_address_spec(a, out);
}

char *util_message_id(const struct msg_header *h)
{
	const struct msg_field *f = msg_header_get(h, "Message-ID");
	struct msg_id_list ids = {0};
	char *id = NULL;
	if (f && msg_id_parse(f->value, f->value_len, &ids) > 0)
		id = strdup(ids.ids[0]);
	msg_id_list_free(&ids);
	return id;
}

/* Text parts end lines with CRLF on the wire; readers want LF. Lone CRs
 * are kept for util_term_safe to drop. */
static void util_crlf_to_lf(struct buf *b, size_t from)
{
	size_t w = from;
	for (size_t r = from; r < b->len; r++) {
		if (b->data[r] == '\r' && r + 1 < b->len && b->data[r + 1] == '\n')
			continue;
		b->data[w++] = b->data[r];
	}
	b->len = w;
}

int util_readable_text(const struct msg_message *m, struct buf *out)
{
	const struct msg_part *p = msg_text_part(m);
	if (!p)
		return 0;
	size_t start = out->len;
	struct buf text = BUF_INIT;
	int r = msg_part_text(m, p, &text);
	int lossy = r == MSG_CHARSET_LOSSY || r == MSG_CHARSET_UNKNOWN;
	if (r != MSG_CHARSET_ERROR) {
		const char *s = text.data ? text.data : "";
		if (p->ctype.subtype && !strcmp(p->ctype.subtype, "html"))
			r = util_html_to_text(s, text.len, out);
		else
			r = buf_append(out, s, text.len);
	}
	buf_free(&text);
	if (r == MSG_CHARSET_ERROR)
		return -1;
	util_crlf_to_lf(out, start);
	return lossy;
}

/* The HTML converter's output state: whitespace is collapsed lazily so a
 * run of spaces, tags and line breaks in the source gives one space. */
struct html_out {
	struct buf *out;
	size_t start;   /* where the converted text begins in out */
	int space;      /* whitespace seen since the last visible character */
	int newlines;   /* line ends at the end of the output so far */
	int pre;        /* inside <pre>: whitespace is kept */
	int error;
};

static void html_emit(struct html_out *h, const char *s, size_t n)
{
	if (h->space && h->newlines == 0 && h->out->len > h->start &&
	    buf_putc(h->out, ' ') < 0)
		h->error = 1;
	if (buf_append(h->out, s, n) < 0)
		h->error = 1;
	h->space = 0;
	h->newlines = 0;
}

/* Ends the line (want 1) or the paragraph (want 2) unless already done. */
static void html_break(struct html_out *h, int want)
{
	if (h->out->len == h->start)
		return;
	while (h->newlines < want) {
		if (buf_putc(h->out, '\n') < 0)
			h->error = 1;
		h->newlines++;
	}
	h->space = 0;
}

/* <br> always breaks, so <br><br> leaves a blank line, but never more. */
static void html_br(struct html_out *h)
{
	html_break(h, h->newlines < 2 ? h->newlines + 1 : 2);
}

static void html_emit_cp(struct html_out *h, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	html_emit(h, u, n);
}

/* Decodes the entity at s[0..n) (s[0] == '&'); returns the bytes used, or
 * 0 when it is no entity we know (the '&' is then literal text). */
static size_t html_entity(struct html_out *h, const char *s, size_t n)
{
	static const struct { const char *name; uint32_t cp; } names[] = {
		{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'},
		{"apos", '\''}, {"nbsp", ' '}, {"copy", 0xA9}, {"reg", 0xAE},
		{"trade", 0x2122}, {"mdash", 0x2014}, {"ndash", 0x2013},
		{"hellip", 0x2026}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
		{"ldquo", 0x201C}, {"rdquo", 0x201D}, {"euro", 0x20AC},
		{"middot", 0xB7}, {"bull", 0x2022}, {"laquo", 0xAB},
		{"raquo", 0xBB}, {"times", 0xD7}, {"deg", 0xB0},
	};
	size_t end = 1;
	while (end < n && end < 40 && s[end] != ';')
		end++;
	if (end >= n || s[end] != ';' || end == 1)
		return 0;
	uint32_t cp = 0;
	if (s[1] == '#') {
		int hex = end > 2 && (s[2] == 'x' || s[2] == 'X');
		size_t i = hex ? 3 : 2;
		if (i == end)
			return 0;
		for (; i < end; i++) {
			const char *digits = "0123456789abcdef";
			const char *d = strchr(digits, s[i] | 0x20);
			if (!s[i] || !d || (!hex && d - digits > 9))
				return 0;
			if (cp <= 0x10FFFF) /* larger values become U+FFFD */
				cp = cp * (hex ? 16 : 10) + (uint32_t)(d - digits);
		}
	} else {
		size_t k = 0, count = sizeof names / sizeof names[0];
		while (k < count && (strlen(names[k].name) != end - 1 ||
		                     strncmp(names[k].name, s + 1, end - 1)))
			k++;
		if (k == count)
			return 0;
		cp = names[k].cp;
	}
	html_emit_cp(h, cp);
	return end + 1;
}

/* Offset just past the first case-insensitive "needle" at or after from,
 * or n when there is none. */
static size_t html_skip_past(const char *s, size_t n, size_t from,
                             const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = from; i + k <= n; i++)
		if (!strncasecmp(s + i, needle, k))
			return i + k;
	return n;
}

/* Offset just past the '>' that ends the tag starting at from, skipping
 * quoted attribute values. */
static size_t html_tag_end(const char *s, size_t n, size_t from)
{
	char quote = 0;
	for (size_t i = from; i < n; i++) {
		if (quote) {
			if (s[i] == quote)
				quote = 0;
		} else if (s[i] == '"' || s[i] == '\'') {
			quote = s[i];
		} else if (s[i] == '>') {
			return i + 1;
		}
	}
	return n;
}

static int html_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(name, *list))
			return 1;
	return 0;
}

/* Acts on the tag name (lowercased); returns where conversion resumes. */
static size_t html_tag(struct html_out *h, const char *s, size_t n,
                       size_t end, const char *name, int closing)
{
	static const char *const skipped[] = {"script", "style", "title",
	                                      "template", NULL};
	static const char *const paragraphs[] = {"p", "pre", "blockquote", "h1",
		"h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl", "hr", NULL};
	static const char *const lines[] = {"div", "li", "tr", "dt", "dd",
		"section", "article", "header", "footer", "address", "center",
		"form", "nav", "aside", "main", "caption", "fieldset", NULL};
	if (!closing && html_in(name, skipped)) {
		char close[20];
		snprintf(close, sizeof close, "</%s", name);
		size_t at = html_skip_past(s, n, end, close);
		return at < n ? html_tag_end(s, n, at) : n;
	}
	if (!strcmp(name, "br")) {
		html_br(h);
	} else if (html_in(name, paragraphs)) {
		html_break(h, 2);
		if (!strcmp(name, "pre"))
			h->pre = !closing;
	} else if (html_in(name, lines)) {
		html_break(h, 1);
		if (!closing && !strcmp(name, "li")) {
			html_emit(h, "-", 1);
			h->space = 1;
		}
	} else if (!strcmp(name, "td") || !strcmp(name, "th")) {
		h->space = 1;
	}
	return end;
}

/* Handles the markup starting with '<' at s[i]; returns where text
 * resumes, or i when the '<' is literal text. */
static size_t html_markup(struct html_out *h, const char *s, size_t n, size_t i)
{
	if (i + 4 <= n && !strncmp(s + i, "<!--", 4))
		return html_skip_past(s, n, i + 4, "-->");
	if (i + 1 < n && (s[i + 1] == '!' || s[i + 1] == '?'))
		return html_tag_end(s, n, i + 1);
	size_t j = i + 1;
	int closing = j < n && s[j] == '/';
	j += (size_t)closing;
	char name[16];
	size_t k = 0;
	while (j < n && (((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'z') ||
	                 (k > 0 && s[j] >= '0' && s[j] <= '9'))) {
		if (k < sizeof name - 1)
			name[k++] = (char)(s[j] | 0x20);
		j++;
	}
	if (k == 0)
		return i;
	name[k] = '\0';
	return html_tag(h, s, n, html_tag_end(s, n, j), name, closing);
}

int util_html_to_text(const char *s, size_t n, struct buf *out)
{
	struct html_out h = {.out = out, .start = out->len};
	for (size_t i = 0; i < n && !h.error;) {
		char c = s[i];
		size_t next = i;
		if (c == '<')
			next = html_markup(&h, s, n, i);
		else if (c == '&')
			next = i + html_entity(&h, s + i, n - i);
		if (next != i) {
			i = next;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
			if (!h.pre)
				h.space = 1;
			else if (c == '\n')
				html_br(&h);
			else if (c != '\r')
				html_emit(&h, " ", 1);
		} else {
			html_emit(&h, s + i, 1);
		}
		i++;
	}
	while (out->len > h.start && (out->data[out->len - 1] == '\n' ||
	                              out->data[out->len - 1] == ' '))
		out->len--;
	if (out->len > h.start && buf_putc(out, '\n') < 0)
		h.error = 1;
	return h.error ? -1 : 0;
}

int util_run_render(int argc, char **argv, const char *name,
                    const char *usage, util_render_fn render)
{
	int json = 0;
	const struct util_opt opts[] = {{"--json", NULL, &json}};
	char *pos[1];
	size_t npos;
	int r = util_parse_args(argc, argv, opts, 1, pos, 1, &npos);
	if (r == 1) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (r == 0 && npos != 1)
		fprintf(stderr, "posthorn %s: missing FILE (- reads stdin)\n", name);
	if (r < 0 || npos != 1) {
		fprintf(stderr, "usage: posthorn %s [--json] FILE|-\n", name);
		return EXIT_USAGE;
	}
	struct util_input in;
	struct buf out = BUF_INIT;
	int status = util_input_load(pos[0], &in);
	if (status == EXIT_OK) {
		r = render(&in, json, &out);
		if (r < 0)
			fprintf(stderr, "posthorn: %s: out of memory\n", in.name);
		if (r < 0 || util_write_stdout(&out) < 0)
			status = EXIT_PARTIAL;
	}
	buf_free(&out);
	util_input_free(&in);
	return status;
}
