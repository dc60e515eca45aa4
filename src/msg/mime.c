/* mime: Content-Type, Content-Disposition and Content-Transfer-Encoding
 * (see mime.h). Lenient the way real mail needs: comments anywhere, missing
 * semicolons, 8-bit values, RFC 2231 sections in any order, RFC 2047 words
 * in quoted names. */
#include "mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "codec.h"
#include "encword.h"

/* Raw parameters looked at per field; the rest are ignored so a hostile
 * field cannot make the quadratic de-duplication below expensive. */
#define MIME_MAX_RAW_PARAMS 128
/* Highest RFC 2231 section number accepted ("name*999*"). */
#define MIME_MAX_SECTION 999
/* Target line length for msg_param_format (RFC 5322 says 78 is a SHOULD). */
#define MIME_FOLD_COLUMN 76

/* A parameter as written, before continuations are joined. */
struct raw_param {
	const char *name;   /* base name in the input, without "*N*" */
	size_t name_len;
	size_t value_off;   /* unquoted value in param_set.scratch */
	size_t value_len;
	int section;        /* RFC 2231 section number, -1 when none */
	int extended;       /* ends in '*': charset'lang'%XX form */
	int used;
};

struct param_set {
	struct raw_param raw[MIME_MAX_RAW_PARAMS];
	size_t n;
	struct buf scratch; /* all unquoted values, back to back */
};

static int is_tspecial(unsigned char c)
{
	return c != '\0' && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* RFC 2045 token characters, plus 8-bit bytes that real mail puts there. */
static int is_token_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !is_tspecial(c);
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips whitespace, line ends (so folded values need no unfolding) and
 * comments, nested and with quoted-pairs. An unclosed comment runs to end. */
static const char *skip_cfws(const char *p, const char *end)
{
	size_t depth = 0;
	for (; p < end; p++) {
		if (depth > 0) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
		} else if (*p == '(') {
			depth = 1;
		} else if (!is_space((unsigned char)*p)) {
			break;
		}
	}
	return p;
}

static const char *scan_token(const char *p, const char *end)
{
	while (p < end && is_token_char((unsigned char)*p))
		p++;
	return p;
}

/* Skips garbage up to and including the next ';'. */
static const char *skip_to_semicolon(const char *p, const char *end)
{
	const char *semi = memchr(p, ';', (size_t)(end - p));
	return semi ? semi + 1 : end;
}

static char *dup_lower(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		d[i] = (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
	}
	d[n] = '\0';
	return d;
}

static char *dup_mem(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Appends the content of a quoted string (p is just past the opening
 * quote) unescaped, with line ends of folds dropped. An unclosed string
 * runs to end. Returns the position after the closing quote, NULL on
 * memory exhaustion. */
static const char *scan_quoted(const char *p, const char *end, struct buf *out)
{
	while (p < end && *p != '"') {
		const char *run = p;
		while (p < end && *p != '"' && *p != '\\' && *p != '\r' &&
		       *p != '\n')
			p++;
		if (buf_append(out, run, (size_t)(p - run)) < 0)
			return NULL;
		if (p < end && *p == '\\') {
			if (p + 1 < end && buf_putc(out, p[1]) < 0)
				return NULL;
			p = p + 1 < end ? p + 2 : end;
		} else if (p < end && *p != '"') {
			p++; /* CR or LF of a fold */
		}
	}
	return p < end ? p + 1 : end;
}

/* True when p starts `token =`, i.e. a parameter whose ';' was forgotten. */
static int looks_like_param(const char *p, const char *end)
{
	const char *t = scan_token(p, end);
	if (t == p)
		return 0;
	t = skip_cfws(t, end);
	return t < end && *t == '=';
}

/* An unquoted value: a run of token-ish bytes (tspecials such as '=' and
 * '/' included, since unquoted boundaries carry them). When what follows is
 * neither ';' nor another parameter, the value had spaces in it
 * ("name=my file.pdf") and runs to the next ';'. */
static const char *scan_bare_value(const char *p, const char *end,
                                   const char **vend)
{
	const char *start = p;
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f || c == ';' || c == '"' || c == '(')
			break;
		p++;
	}
	const char *next = skip_cfws(p, end);
	if (next < end && *next != ';' && !looks_like_param(next, end)) {
		p = memchr(next, ';', (size_t)(end - next));
		if (!p)
			p = end;
		next = p;
		while (p > start && is_space((unsigned char)p[-1]))
			p--;
	}
	*vend = p;
	return next;
}

/* Splits "name*2*" into base name, section 2 and extended. Returns 0, or
 * -1 when the name is unusable. */
static int split_name(const char *name, size_t len, struct raw_param *rp)
{
	rp->extended = 0;
	rp->section = -1;
	if (len > 0 && name[len - 1] == '*') {
		rp->extended = 1;
		len--;
	}
	size_t d = len;
	while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
		d--;
	if (d < len && d > 0 && name[d - 1] == '*') {
		if (len - d > 3)
			return -1;
		int section = 0;
		for (size_t i = d; i < len; i++)
			section = section * 10 + (name[i] - '0');
		if (section > MIME_MAX_SECTION)
			return -1;
		rp->section = section;
		len = d - 1;
	}
	if (len == 0 || memchr(name, '*', len))
		return -1;
	rp->name = name;
	rp->name_len = len;
	return 0;
}

/* Parses one `name=value` at p into set. Returns where to go on, or NULL
 * on memory exhaustion. Garbage is skipped up to the next ';'. */
static const char *parse_param(const char *p, const char *end,
                               struct param_set *set)
{
	const char *name = p;
	p = scan_token(p, end);
	size_t name_len = (size_t)(p - name);
	p = skip_cfws(p, end);
	if (name_len == 0 || p >= end || *p != '=')
		return skip_to_semicolon(p, end);
	p = skip_cfws(p + 1, end);

	struct raw_param rp;
	if (split_name(name, name_len, &rp) < 0 ||
	    set->n == MIME_MAX_RAW_PARAMS)
		rp.name = NULL;
	rp.value_off = set->scratch.len;
	rp.used = 0;
	if (p < end && *p == '"') {
		p = scan_quoted(p + 1, end, &set->scratch);
		if (!p)
			return NULL;
	} else {
		const char *vend;
		const char *v = p;
		p = scan_bare_value(p, end, &vend);
		if (buf_append(&set->scratch, v, (size_t)(vend - v)) < 0)
			return NULL;
	}
	rp.value_len = set->scratch.len - rp.value_off;
	if (rp.name)
		set->raw[set->n++] = rp;
	return p;
}

static int parse_params(const char *p, const char *end, struct param_set *set)
{
	while (p < end) {
		p = skip_cfws(p, end);
		if (p < end && *p == ';') {
			p++;
			continue;
		}
		if (p < end && !(p = parse_param(p, end, set)))
			return -1;
	}
	return 0;
}

/* Appends s[0..n) with %XX decoded; a '%' without two hex digits stays. */
static int percent_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n &&
		    (hi = msg_hex_value((unsigned char)s[i + 1])) >= 0 &&
		    (lo = msg_hex_value((unsigned char)s[i + 2])) >= 0) {
			if (buf_putc(out, (char)(hi << 4 | lo)) < 0)
				return -1;
			i += 2;
		} else if (buf_putc(out, s[i]) < 0) {
			return -1;
		}
	}
	return 0;
}

static int same_name(const struct raw_param *a, const struct raw_param *b)
{
	return a->name_len == b->name_len &&
	       strncasecmp(a->name, b->name, a->name_len) == 0;
}

/* A parameter's joined bytes before conversion to UTF-8. */
struct joined_value {
	struct buf bytes;
	const char *charset; /* RFC 2231 charset in the scratch buffer */
	size_t charset_len;
	const char *lang;
	size_t lang_len;
};

/* Appends one section; an extended first section starts with
 * charset'lang' (taken only when both quotes are there). */
static int join_section(const struct param_set *set, const struct raw_param *rp,
                        int first, struct joined_value *jv)
{
	if (rp->value_len == 0)
		return 0; /* the scratch buffer may never have been allocated */
	const char *v = set->scratch.data + rp->value_off;
	size_t n = rp->value_len;
	if (!rp->extended)
		return buf_append(&jv->bytes, v, n);
	const char *q1 = first ? memchr(v, '\'', n) : NULL;
	const char *q2 = q1 ? memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - v)) : NULL;
	if (q2) {
		jv->charset = v;
		jv->charset_len = (size_t)(q1 - v);
		jv->lang = q1 + 1;
		jv->lang_len = (size_t)(q2 - q1 - 1);
		n -= (size_t)(q2 + 1 - v);
		v = q2 + 1;
	}
	return percent_decode(v, n, &jv->bytes);
}

/* Joins every occurrence of raw[i]'s name: RFC 2231 sections sorted by
 * number (the first of a duplicated number wins) beat a single "name*=",
 * which beats the first plain "name=" (the 2231 form is the exact one;
 * mailers add the plain one for old readers). All are marked used. */
static int join_param(struct param_set *set, size_t i, struct joined_value *jv)
{
	size_t sections[MIME_MAX_RAW_PARAMS];
	size_t ns = 0, single = set->n, plain = set->n;
	for (size_t j = i; j < set->n; j++) {
		struct raw_param *rp = &set->raw[j];
		if (rp->used || !same_name(rp, &set->raw[i]))
			continue;
		rp->used = 1;
		if (rp->section < 0 && rp->extended && single == set->n)
			single = j;
		else if (rp->section < 0 && !rp->extended && plain == set->n)
			plain = j;
		if (rp->section < 0)
			continue;
		size_t k = ns;
		while (k > 0 && set->raw[sections[k - 1]].section > rp->section)
			k--;
		if (k > 0 && set->raw[sections[k - 1]].section == rp->section)
			continue;
		memmove(&sections[k + 1], &sections[k], (ns - k) * sizeof *sections);
		sections[k] = j;
		ns++;
	}
	if (ns > 0) {
		for (size_t k = 0; k < ns; k++) {
			const struct raw_param *rp = &set->raw[sections[k]];
			if (join_section(set, rp, k == 0 && rp->section == 0, jv) < 0)
				return -1;
		}
		return 0;
	}
	return join_section(set, &set->raw[single < set->n ? single : plain], 1, jv);
}

static int has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* Converts the joined bytes to UTF-8: by the RFC 2231 charset, else by
 * decoding RFC 2047 words, else by detection when 8-bit. A boundary stays
 * as written since it must match the body byte for byte. NUL bytes are
 * dropped so the C string is the whole value. */
static int value_to_utf8(const struct raw_param *rp, struct joined_value *jv,
                         struct buf *out)
{
	const char *v = jv->bytes.data ? jv->bytes.data : "";
	size_t n = jv->bytes.len;
	int r = 0;
	if (rp->name_len == 8 && strncasecmp(rp->name, "boundary", 8) == 0) {
		r = buf_append(out, v, n);
	} else if (jv->charset_len > 0) {
		char *cs = dup_mem(jv->charset, jv->charset_len);
		if (!cs)
			return -1;
		r = msg_charset_to_utf8(cs, v, n, out) == MSG_CHARSET_ERROR ? -1 : 0;
		free(cs);
	} else if (n > 1 && memmem(v, n, "=?", 2)) {
		r = msg_encword_decode(v, n, out) < 0 ? -1 : 0;
	} else if (has_8bit(v, n)) {
		r = msg_charset_to_utf8(NULL, v, n, out) == MSG_CHARSET_ERROR ? -1 : 0;
	} else {
		r = buf_append(out, v, n);
	}
	if (r < 0)
		return -1;
	size_t w = 0;
	for (size_t i = 0; i < out->len; i++)
		if (out->data[i] != '\0')
			out->data[w++] = out->data[i];
	out->len = w;
	return 0;
}

static int build_one(struct param_set *set, size_t i, struct msg_param *mp)
{
	struct joined_value jv = {BUF_INIT, NULL, 0, NULL, 0};
	struct buf value = BUF_INIT;
	int r = -1;
	if (join_param(set, i, &jv) < 0 ||
	    value_to_utf8(&set->raw[i], &jv, &value) < 0)
		goto out;
	mp->name = dup_lower(set->raw[i].name, set->raw[i].name_len);
	mp->value = buf_steal(&value, NULL);
	if (jv.charset_len)
		mp->charset = dup_mem(jv.charset, jv.charset_len);
	if (jv.lang_len)
		mp->lang = dup_mem(jv.lang, jv.lang_len);
	if (mp->name && mp->value && (mp->charset || !jv.charset_len) &&
	    (mp->lang || !jv.lang_len))
		r = 0;
out:
	buf_free(&jv.bytes);
	buf_free(&value);
	return r;
}

static int build_params(struct param_set *set, struct msg_ctype *ct)
{
	if (set->n == 0)
		return 0;
	ct->params = calloc(set->n, sizeof *ct->params);
	if (!ct->params)
		return -1;
	for (size_t i = 0; i < set->n; i++) {
		if (set->raw[i].used)
			continue;
		/* counted before filling so msg_ctype_free sees partial work */
		if (build_one(set, i, &ct->params[ct->nparams++]) < 0)
			return -1;
	}
	return 0;
}

/* Shared by Content-Type (want_subtype) and Content-Disposition. */
static int parse_field(const char *s, size_t len, int want_subtype,
                       struct msg_ctype *ct)
{
	const char *end = s + len;
	const char *type = skip_cfws(s, end);
	const char *p = scan_token(type, end);
	size_t type_len = (size_t)(p - type);
	const char *q = skip_cfws(p, end);
	const char *sub = NULL;
	size_t sub_len = 0;
	int usable = type_len > 0;

	memset(ct, 0, sizeof *ct);
	if (usable && q < end && *q == '=') {
		usable = 0; /* "filename=x" alone: parameters without a type */
		p = type;
	} else if (usable && want_subtype) {
		usable = q < end && *q == '/';
		if (usable) {
			sub = skip_cfws(q + 1, end);
			p = scan_token(sub, end);
			sub_len = (size_t)(p - sub);
			usable = sub_len > 0;
		}
	}
	if (!usable && p != type)
		p = skip_to_semicolon(p, end);

	struct param_set *set = malloc(sizeof *set);
	if (!set)
		return -1;
	set->n = 0;
	buf_init(&set->scratch, 0);
	int r = parse_params(p, end, set) < 0 || build_params(set, ct) < 0 ? -1 : 0;
	buf_free(&set->scratch);
	free(set);
	if (r == 0 && usable) {
		ct->type = dup_lower(type, type_len);
		if (want_subtype)
			ct->subtype = dup_lower(sub, sub_len);
		if (!ct->type || (want_subtype && !ct->subtype))
			r = -1;
	}
	if (r < 0)
		msg_ctype_free(ct);
	return r < 0 ? -1 : !usable;
}

int msg_ctype_parse(const char *s, size_t len, struct msg_ctype *ct)
{
	return parse_field(s, len, 1, ct);
}

int msg_disposition_parse(const char *s, size_t len, struct msg_ctype *ct)
{
	return parse_field(s, len, 0, ct);
}

const char *msg_ctype_param(const struct msg_ctype *ct, const char *name)
{
	for (size_t i = 0; i < ct->nparams; i++)
		if (strcasecmp(ct->params[i].name, name) == 0)
			return ct->params[i].value;
	return NULL;
}

int msg_ctype_set(struct msg_ctype *ct, const char *type, const char *subtype)
{
	msg_ctype_free(ct);
	ct->type = dup_lower(type, strlen(type));
	ct->subtype = subtype ? dup_lower(subtype, strlen(subtype)) : NULL;
	if (!ct->type || (subtype && !ct->subtype)) {
		msg_ctype_free(ct);
		return -1;
	}
	return 0;
}

void msg_ctype_free(struct msg_ctype *ct)
{
	for (size_t i = 0; i < ct->nparams; i++) {
		free(ct->params[i].name);
		free(ct->params[i].value);
		free(ct->params[i].charset);
		free(ct->params[i].lang);
	}
	free(ct->params);
	free(ct->type);
	free(ct->subtype);
	memset(ct, 0, sizeof *ct);
}

enum msg_cte msg_cte_parse(const char *s, size_t len)
{
	static const struct {
		const char *name;
		enum msg_cte cte;
	} names[] = {
		{"7bit", MSG_CTE_7BIT}, {"8bit", MSG_CTE_8BIT},
		{"binary", MSG_CTE_BINARY}, {"base64", MSG_CTE_BASE64},
		{"quoted-printable", MSG_CTE_QP},
		/* misspellings seen in the wild that mean the same thing */
		{"7-bit", MSG_CTE_7BIT}, {"8-bit", MSG_CTE_8BIT},
	};
	const char *end = s + len;
	const char *p = skip_cfws(s, end);
	size_t n = (size_t)(scan_token(p, end) - p);
	if (n == 0)
		return MSG_CTE_7BIT;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i].name) == n &&
		    strncasecmp(names[i].name, p, n) == 0)
			return names[i].cte;
	return MSG_CTE_UNKNOWN;
}

const char *msg_cte_name(enum msg_cte cte)
{
	switch (cte) {
	case MSG_CTE_7BIT: return "7bit";
	case MSG_CTE_8BIT: return "8bit";
	case MSG_CTE_BINARY: return "binary";
	case MSG_CTE_BASE64: return "base64";
	case MSG_CTE_QP: return "quoted-printable";
	case MSG_CTE_UNKNOWN: break;
	}
	return "unknown";
}

/* Longest "name=value" piece written on one line, so that with the leading
 * space and the ';' that may follow the line stays within 78 columns. */
#define MIME_PIECE_MAX 74

/* RFC 2231 attribute-char: what may stand unencoded in an extended value. */
static int is_attr_char(unsigned char c)
{
	return c < 0x80 && is_token_char(c) && c != '*' && c != '\'' &&
	       c != '%';
}

/* Appends byte c as an extended (%XX) or quoted-string value needs it. */
static int put_encoded(int extended, unsigned char c, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	if (extended && !is_attr_char(c)) {
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};
		return buf_append(out, e, 3);
	}
	if (!extended && (c == '"' || c == '\\') && buf_putc(out, '\\') < 0)
		return -1;
	return buf_putc(out, (char)c);
}

static int emit_piece(const struct buf *piece, size_t *col, struct buf *out)
{
	int r;
	if (*col + 2 + piece->len > MIME_FOLD_COLUMN) {
		r = buf_append(out, ";\r\n ", 4);
		*col = 1 + piece->len;
	} else {
		r = buf_append(out, "; ", 2);
		*col += 2 + piece->len;
	}
	return r < 0 ? -1 : buf_append(out, piece->data, piece->len);
}

/* Appends the bytes of value from *pos to piece while it stays within
 * MIME_PIECE_MAX (at least one character so every section progresses),
 * never splitting a UTF-8 character between sections. */
static int fill_section(const char *value, size_t len, size_t *pos, int extended,
                        struct buf *piece)
{
	size_t closing = extended ? 0 : 1;
	size_t i = *pos;
	while (i < len) {
		size_t unit = 1;
		while (extended && i + unit < len && unit < 4 &&
		       ((unsigned char)value[i + unit] & 0xC0) == 0x80)
			unit++;
		size_t before = piece->len;
		for (size_t k = 0; k < unit; k++)
			if (put_encoded(extended, (unsigned char)value[i + k], piece) < 0)
				return -1;
		if (i > *pos && piece->len + closing > MIME_PIECE_MAX) {
			buf_truncate(piece, before);
			break;
		}
		i += unit;
	}
	*pos = i;
	return extended ? 0 : buf_putc(piece, '"');
}

static int format_sections(const char *name, const char *value, size_t len,
                           int extended, size_t *col, struct buf *out,
                           struct buf *piece)
{
	size_t pos = 0;
	for (size_t k = 0; pos < len; k++) {
		buf_reset(piece);
		if (buf_printf(piece, "%s*%zu%s=%s", name, k, extended ? "*" : "",
		               extended ? (k == 0 ? "utf-8''" : "") : "\"") < 0 ||
		    fill_section(value, len, &pos, extended, piece) < 0 ||
		    emit_piece(piece, col, out) < 0)
			return -1;
	}
	return 0;
}

int msg_param_format(const char *name, const char *value, size_t *col,
                     struct buf *out)
{
	size_t nlen = strlen(name), len = strlen(value);
	if (nlen == 0 || scan_token(name, name + nlen) != name + nlen ||
	    memchr(name, '*', nlen))
		return -1;
	/* "=?" would be read back as an RFC 2047 word: percent-encode it */
	int extended = strstr(value, "=?") != NULL, quote = len == 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		extended |= c >= 0x80 || c < 0x20 || c == 0x7f;
		quote |= !is_token_char(c);
	}
	struct buf piece = BUF_INIT;
	int r = buf_printf(&piece, "%s%s=%s%s", name, extended ? "*" : "",
	                   extended ? "utf-8''" : "", quote && !extended ? "\"" : "");
	for (size_t i = 0; r == 0 && i < len; i++)
		r = put_encoded(extended, (unsigned char)value[i], &piece);
	if (r == 0 && quote && !extended)
		r = buf_putc(&piece, '"');
	if (r == 0 && (piece.len <= MIME_PIECE_MAX || len == 0))
		r = emit_piece(&piece, col, out);
	else if (r == 0)
		r = format_sections(name, value, len, extended, col, out, &piece);
	buf_free(&piece);
	return r;
}
