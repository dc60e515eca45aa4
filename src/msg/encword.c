/* encword: RFC 2047 encoded-words, decoded the way real mail needs (see
 * encword.h) and encoded as UTF-8 words no longer than 75 characters. */
#include "encword.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "codec.h"

/* RFC 2047 bounds a word to 75 characters; charset labels are short. */
#define ENCWORD_MAX_CHARSET 63
#define ENCWORD_MAX_LEN 75

/* One parsed "=?charset?X?text?=" (pointers into the input). */
struct encword {
	const char *charset; /* without any RFC 2231 "*lang" */
	size_t charset_len;
	char encoding;       /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t end;          /* offset just past "?=" */
};

/* Decoder state: bytes of adjacent words in one charset wait in pending so
 * a character split across words is converted whole. */
struct encword_decoder {
	struct buf *out;
	struct buf pending;
	struct buf scratch;  /* one word's decoded bytes */
	struct buf text;     /* plain text without CR and LF */
	char charset[ENCWORD_MAX_CHARSET + 1];
	bool has_pending;
	int lossy;
	size_t term_from;    /* the first "?=" at or after term_from is at */
	size_t term_at;      /* term_at (SIZE_MAX: none); keeps the search linear */
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Offset of the first "?=" at or after from, or SIZE_MAX. The answer is
 * remembered: later searches from inside the same stretch reuse it, so
 * many "=?" starts without an end cost linear time, not quadratic. */
static size_t encword_find_end(struct encword_decoder *d, const char *s,
                               size_t len, size_t from)
{
	if (from >= d->term_from && (d->term_at == SIZE_MAX || from <= d->term_at))
		return d->term_at;
	d->term_from = from;
	d->term_at = SIZE_MAX;
	for (size_t i = from; i + 1 < len; i++) {
		const char *q = memchr(s + i, '?', len - 1 - i);
		if (!q)
			break;
		i = (size_t)(q - s);
		if (s[i + 1] == '=') {
			d->term_at = i;
			break;
		}
	}
	return d->term_at;
}

/* Parses the word starting at s[at] ("=?" known). Returns false when it is
 * not a well-formed encoded-word. */
static bool encword_parse(struct encword_decoder *d, const char *s, size_t len,
                          size_t at, struct encword *w)
{
	size_t i = at + 2, cs = i;
	while (i < len && i - cs < ENCWORD_MAX_CHARSET && s[i] != '?' &&
	       s[i] > ' ' && s[i] < 127)
		i++;
	if (i + 2 >= len || s[i] != '?' || s[i + 2] != '?' || i == cs)
		return false;
	w->charset = s + cs;
	w->charset_len = i - cs;
	const char *star = memchr(w->charset, '*', w->charset_len);
	if (star)
		w->charset_len = (size_t)(star - w->charset);
	if (w->charset_len == 0)
		return false;
	char e = s[i + 1];
	if (e == 'b' || e == 'B')
		w->encoding = 'B';
	else if (e == 'q' || e == 'Q')
		w->encoding = 'Q';
	else
		return false;
	size_t end = encword_find_end(d, s, len, i + 3);
	if (end == SIZE_MAX)
		return false;
	w->text = s + i + 3;
	w->text_len = end - (i + 3);
	w->end = end + 2;
	return true;
}

/* RFC 2047 4.2: "_" is a space, "=XX" a byte; a fold inside the word
 * (some mailers fold long words) is dropped with its whitespace. */
static int encword_decode_q(const char *t, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (c == '\r' || c == '\n') {
			while (i + 1 < n && is_wsp(t[i + 1]))
				i++;
			continue;
		}
		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < n && msg_hex_value(t[i + 1]) >= 0 &&
		           msg_hex_value(t[i + 2]) >= 0) {
			c = (char)(msg_hex_value(t[i + 1]) << 4 | msg_hex_value(t[i + 2]));
			i += 2;
		}
		if (buf_putc(out, c) < 0)
			return -1;
	}
	return 0;
}

/* True when the B text is base64 up to its first "=" (whitespace from folds
 * allowed). Stops at the first bad character, so failed candidates cost no
 * more than the stretch up to it: decoding stays linear. */
static bool encword_b64_valid(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (c == '=')
			return true;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' || is_wsp(c)))
			return false;
	}
	return true;
}

/* Decodes the word's text into out. Returns 0, 1 when the text is not
 * valid (the word then stays literal), -1 on limit or memory. */
static int encword_decode_text(const struct encword *w, struct buf *out)
{
	if (w->encoding == 'Q')
		return encword_decode_q(w->text, w->text_len, out);
	if (!encword_b64_valid(w->text, w->text_len))
		return 1;
	size_t bad = 0, before = out->len;
	if (msg_base64_decode(w->text, w->text_len, out, &bad) < 0)
		return -1;
	if (bad) {
		buf_truncate(out, before);
		return 1;
	}
	return 0;
}

/* Converts the pending bytes of adjacent words to UTF-8. A charset iconv
 * does not know is treated like unlabelled 8-bit text (detected), so the
 * output stays UTF-8. */
static int encword_flush(struct encword_decoder *d)
{
	if (!d->has_pending)
		return 0;
	d->has_pending = false;
	if (d->pending.len == 0)
		return 0;
	size_t start = d->out->len;
	enum msg_charset_result r = msg_charset_to_utf8(d->charset,
		d->pending.data, d->pending.len, d->out);
	if (r == MSG_CHARSET_UNKNOWN) {
		buf_truncate(d->out, start);
		r = msg_charset_to_utf8(NULL, d->pending.data, d->pending.len,
		                        d->out);
		d->lossy = 1;
	}
	buf_reset(&d->pending);
	if (r == MSG_CHARSET_ERROR)
		return -1;
	if (r != MSG_CHARSET_OK)
		d->lossy = 1;
	return 0;
}

/* Appends text outside encoded-words without its CR and LF; 8-bit text
 * that is not UTF-8 is converted from the detected charset. */
static int encword_plain(struct encword_decoder *d, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (encword_flush(d) < 0)
		return -1;
	buf_reset(&d->text);
	for (size_t i = 0; i < n; i++) {
		const char *cut = memchr(s + i, '\r', n - i);
		const char *nl = memchr(s + i, '\n', n - i);
		if (!cut || (nl && nl < cut))
			cut = nl;
		size_t span = cut ? (size_t)(cut - s) - i : n - i;
		if (buf_append(&d->text, s + i, span) < 0)
			return -1;
		i += span;
	}
	if (d->text.len == 0)
		return 0;
	enum msg_charset_result r = msg_charset_to_utf8(NULL, d->text.data,
		d->text.len, d->out);
	if (r == MSG_CHARSET_ERROR)
		return -1;
	if (r != MSG_CHARSET_OK)
		d->lossy = 1;
	return 0;
}

static bool all_wsp(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_wsp(s[i]))
			return false;
	return true;
}

/* Takes the well-formed word w that follows the plain text s[from..at):
 * whitespace between two words vanishes, a word in the charset of the one
 * before joins its bytes. Returns 0, 1 when w's text is invalid, -1. */
static int encword_take(struct encword_decoder *d, const char *s, size_t from,
                        size_t at, const struct encword *w)
{
	buf_reset(&d->scratch);
	int r = encword_decode_text(w, &d->scratch);
	if (r != 0)
		return r;
	if (!(d->has_pending && all_wsp(s + from, at - from)) &&
	    encword_plain(d, s + from, at - from) < 0)
		return -1;
	char cs[ENCWORD_MAX_CHARSET + 1];
	memcpy(cs, w->charset, w->charset_len);
	cs[w->charset_len] = '\0';
	if (d->has_pending && strcasecmp(msg_charset_canonical(cs),
	                                 msg_charset_canonical(d->charset)) != 0 &&
	    encword_flush(d) < 0)
		return -1;
	if (!d->has_pending)
		memcpy(d->charset, cs, sizeof cs);
	d->has_pending = true;
	return buf_append(&d->pending, d->scratch.data, d->scratch.len);
}

static int encword_decode_all(struct encword_decoder *d, const char *s,
                              size_t len)
{
	size_t i = 0, plain = 0; /* plain: start of text not yet emitted */
	while (i + 1 < len) {
		const char *eq = memchr(s + i, '=', len - 1 - i);
		if (!eq)
			break;
		size_t at = (size_t)(eq - s);
		struct encword w;
		i = at + 1;
		if (s[at + 1] != '?' || !encword_parse(d, s, len, at, &w))
			continue;
		int r = encword_take(d, s, plain, at, &w);
		if (r < 0)
			return -1;
		if (r == 0)
			i = plain = w.end;
	}
	if (encword_plain(d, s + plain, len - plain) < 0)
		return -1;
	return encword_flush(d);
}

int msg_encword_decode(const char *s, size_t len, struct buf *out)
{
	if (len == 0)
		return 0;
	struct encword_decoder d;
	memset(&d, 0, sizeof d);
	d.out = out;
	/* The scratch and pending bytes never exceed the input's length. */
	buf_init(&d.pending, 0);
	buf_init(&d.scratch, 0);
	buf_init(&d.text, 0);
	d.term_from = SIZE_MAX;
	int r = encword_decode_all(&d, s, len);
	buf_free(&d.pending);
	buf_free(&d.scratch);
	buf_free(&d.text);
	if (r < 0)
		return -1;
	return d.lossy ? 1 : 0;
}

/* Encoding. */

/* True for bytes a Q-encoded word may carry as they are. In a phrase only
 * RFC 2047 5(3)'s letters, digits and "!*+-/" qualify; elsewhere any
 * printable except the ones Q itself uses ("=", "?", "_"). */
static bool q_raw(unsigned char c, unsigned flags)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (flags & MSG_EW_PHRASE)
		return c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
	return c > ' ' && c < 127 && c != '=' && c != '?' && c != '_';
}

static size_t q_width(unsigned char c, unsigned flags)
{
	return c == ' ' || q_raw(c, flags) ? 1 : 3;
}

/* Length of the UTF-8 character at s[0..n) (the input is valid UTF-8). */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	return len < n ? len : n;
}

static int q_append(const unsigned char *s, size_t n, unsigned flags,
                    struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		int r;
		if (s[i] == ' ') {
			r = buf_putc(out, '_');
		} else if (q_raw(s[i], flags)) {
			r = buf_putc(out, (char)s[i]);
		} else {
			char tok[3] = {'=', hex[s[i] >> 4], hex[s[i] & 15]};
			r = buf_append(out, tok, 3);
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Writes s[0..n) as encoded-words of at most 75 characters, split between
 * UTF-8 characters, joined by single spaces; B or Q, whichever is shorter. */
static int encword_encode_run(const unsigned char *s, size_t n, unsigned flags,
                              struct buf *out)
{
	size_t qlen = 0;
	for (size_t i = 0; i < n; i++)
		qlen += q_width(s[i], flags);
	bool use_q = qlen <= (n + 2) / 3 * 4;
	/* Room for the encoded text: 75 minus "=?UTF-8?X?" and "?=". */
	const size_t room = ENCWORD_MAX_LEN - 12;
	size_t i = 0;
	while (i < n) {
		size_t take = 0, width = 0;
		while (i + take < n) {
			size_t c = utf8_char_len(s + i + take, n - i - take), w = 0;
			for (size_t k = 0; k < c; k++)
				w += q_width(s[i + take + k], flags);
			size_t next = use_q ? width + w : (take + c + 2) / 3 * 4;
			if (next > room)
				break;
			take += c;
			width = next;
		}
		if ((i > 0 && buf_putc(out, ' ') < 0) ||
		    buf_puts(out, use_q ? "=?UTF-8?Q?" : "=?UTF-8?B?") < 0)
			return -1;
		int r = use_q ? q_append(s + i, take, flags, out)
		              : msg_base64_encode(s + i, take, 0, out);
		if (r < 0 || buf_puts(out, "?=") < 0)
			return -1;
		i += take;
	}
	return 0;
}

/* RFC 5322 specials, which a phrase cannot carry as atoms. */
static bool is_special(unsigned char c)
{
	return c != '\0' && strchr("()<>[]:;@\\,.\"", c) != NULL;
}

/* Whether the word w[0..n) (no spaces) must go into an encoded-word:
 * non-ASCII, controls, text a decoder would take for an encoded-word, a
 * word of tabs only (a decoder would drop it between two words), and in a
 * phrase that is being encoded anyway, specials. */
static bool word_needs_encoding(const char *w, size_t n, bool specials)
{
	bool only_tabs = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w[i];
		if (c >= 0x7f || (c < 0x20 && c != '\t'))
			return true;
		if (specials && is_special(c))
			return true;
		if (i + 1 < n && ((c == '=' && w[i + 1] == '?') ||
		                  (c == '?' && w[i + 1] == '=')))
			return true;
		only_tabs = only_tabs && c == '\t';
	}
	return only_tabs;
}

static size_t word_end(const char *s, size_t len, size_t i)
{
	const char *sp = memchr(s + i, ' ', len - i);
	return sp ? (size_t)(sp - s) : len;
}

/* An ASCII phrase with specials becomes one quoted string. */
static int encword_quote(const char *s, size_t len, struct buf *out)
{
	if (buf_putc(out, '"') < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (((s[i] == '"' || s[i] == '\\') && buf_putc(out, '\\') < 0) ||
		    buf_putc(out, s[i]) < 0)
			return -1;
	return buf_putc(out, '"');
}

/* Writes valid UTF-8: plain words and the spaces around them as they are,
 * each run of words that need encoding (with the spaces inside the run) as
 * encoded-words. A decoder keeps whitespace between a word and plain text
 * and drops it between two encoded-words, so decoding gives s back. */
static int encword_encode_valid(const char *s, size_t len, unsigned flags,
                                struct buf *out)
{
	bool any = false, specials = false;
	for (size_t i = 0; i < len && !any; i++) {
		size_t e = word_end(s, len, i);
		any = e > i && word_needs_encoding(s + i, e - i, false);
		for (size_t k = i; k < e; k++)
			specials = specials || is_special((unsigned char)s[k]);
		i = e;
	}
	if (!any && (flags & MSG_EW_PHRASE) && specials)
		return encword_quote(s, len, out);
	if (!any)
		return buf_append(out, s, len);

	bool phrase = flags & MSG_EW_PHRASE;
	size_t i = 0;
	while (i < len) {
		size_t e = s[i] == ' ' ? i + 1 : word_end(s, len, i);
		if (s[i] == ' ' || !word_needs_encoding(s + i, e - i, phrase)) {
			if (buf_append(out, s + i, e - i) < 0)
				return -1;
			i = e;
			continue;
		}
		for (;;) { /* extend the run over spaces to the next such word */
			size_t next = e;
			while (next < len && s[next] == ' ')
				next++;
			if (next == len)
				break;
			size_t next_end = word_end(s, len, next);
			if (!word_needs_encoding(s + next, next_end - next, phrase))
				break;
			e = next_end;
		}
		if (encword_encode_run((const unsigned char *)s + i, e - i,
		                       flags, out) < 0)
			return -1;
		i = e;
	}
	return 0;
}

int msg_encword_encode(const char *s, size_t len, unsigned flags,
                       struct buf *out)
{
	if (len == 0)
		return 0;
	if (msg_utf8_valid(s, len))
		return encword_encode_valid(s, len, flags, out);
	/* Invalid bytes become U+FFFD first: words must split at characters. */
	struct buf clean = BUF_INIT;
	int r = msg_utf8_sanitize(s, len, &clean);
	if (r == 0)
		r = encword_encode_valid(clean.data, clean.len, flags, out);
	buf_free(&clean);
	return r;
}
