/* vcard: reading vCard 2.1/3.0/4.0 address books and writing 4.0 or 3.0
 * (RFC 6350, RFC 2426). The reader goes line by line: unfold, split the
 * property into group, name, parameters and value, decode (QP, base64,
 * charset), unescape. A card is built in place and dropped whole when it
 * turns out damaged. */
#include "vcard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "codec.h"
#include "msgid.h"

enum vcard_kind {
	VCARD_OTHER, VCARD_BEGIN, VCARD_END, VCARD_VERSION, VCARD_FN, VCARD_N,
	VCARD_NICKNAME, VCARD_EMAIL, VCARD_TEL, VCARD_ORG, VCARD_NOTE,
	VCARD_UID, VCARD_AGENT,
};

static const struct {
	const char *name;
	enum vcard_kind kind;
} vcard_kinds[] = {
	{"BEGIN", VCARD_BEGIN}, {"END", VCARD_END},
	{"VERSION", VCARD_VERSION}, {"FN", VCARD_FN}, {"N", VCARD_N},
	{"NICKNAME", VCARD_NICKNAME}, {"EMAIL", VCARD_EMAIL},
	{"TEL", VCARD_TEL}, {"ORG", VCARD_ORG}, {"NOTE", VCARD_NOTE},
	{"UID", VCARD_UID}, {"AGENT", VCARD_AGENT},
};

enum vcard_encoding { VCARD_ENC_NONE, VCARD_ENC_QP, VCARD_ENC_BASE64 };

/* One content line split up; name and value point into the line. */
struct vcard_prop {
	enum vcard_kind kind;
	const char *value;
	size_t value_len;
	int pref;                  /* 1 (most) .. 100, 0 when not given */
	enum vcard_encoding encoding;
	char charset[48];          /* "" when not given */
};

struct vcard_parser {
	const char *s;
	size_t n, pos;
	size_t line;               /* physical lines consumed */
	struct vcard_list *list;
	struct buf *warnings;
	size_t nwarnings;
	long skipped;
	int oom;
	int outside_warned;        /* for the current run of stray text */
	int limit_warned;

	int in_card;
	struct vcard_card card;
	size_t card_line;          /* line of BEGIN */
	size_t card_start;         /* offset after BEGIN */
	size_t damage_line;        /* 0 while the card is sound */
	char damage[96];
	int email_rank[VCARD_MAX_EMAILS];
	int tel_rank;
	int emails_warned;
	int agent_pending;         /* the last property was an empty AGENT */
	int agent_depth;           /* inside an embedded 2.1 AGENT card */

	struct buf logical;        /* the unfolded line */
	struct buf decoded;        /* after QP or base64 */
	struct buf text;           /* as UTF-8 */
};

static int vcard_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int vcard_eq(const char *a, size_t n, const char *b)
{
	size_t i = 0;
	for (; i < n && b[i]; i++)
		if (vcard_lower((unsigned char)a[i]) != vcard_lower((unsigned char)b[i]))
			return 0;
	return i == n && !b[i];
}

static int vcard_strcaseeq(const char *a, const char *b)
{
	return vcard_eq(a, strlen(a), b);
}

static int vcard_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* s[0..n) without leading and trailing spaces and tabs. */
static void vcard_trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static void vcard_warn(struct vcard_parser *p, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Best effort: a full warnings buffer only loses the warning. */
static void vcard_warn(struct vcard_parser *p, size_t line, const char *fmt, ...)
{
	if (++p->nwarnings > VCARD_MAX_WARNINGS || !p->warnings)
		return;
	size_t old = p->warnings->len;
	va_list ap;
	va_start(ap, fmt);
	int r = buf_printf(p->warnings, "line %zu: ", line);
	r |= buf_vprintf(p->warnings, fmt, ap);
	r |= buf_putc(p->warnings, '\n');
	va_end(ap);
	if (r)
		buf_truncate(p->warnings, old);
}

/* ---- lines ---- */

/* The next physical line without its end (CRLF, LF or CR). 0 at the end. */
static int vcard_physical(struct vcard_parser *p, const char **start,
                          size_t *len)
{
	if (p->pos >= p->n)
		return 0;
	const char *s = p->s + p->pos;
	size_t rest = p->n - p->pos, i = 0;
	while (i < rest && s[i] != '\n' && s[i] != '\r')
		i++;
	*start = s;
	*len = i;
	if (i < rest)
		i += s[i] == '\r' && i + 1 < rest && s[i + 1] == '\n' ? 2 : 1;
	p->pos += i;
	p->line++;
	return 1;
}

/* A 2.1 quoted-printable value ending in "=" continues on the next line
 * without the folding space. 1 yes, 0 no, -1 cannot tell yet (no ':'). */
static int vcard_qp_params(const char *s, size_t n)
{
	int quoted = 0;
	size_t i = 0;
	for (; i < n && (quoted || s[i] != ':'); i++) {
		if (s[i] == '"')
			quoted = !quoted;
		if (!quoted && i + 16 <= n && vcard_eq(s + i, 16, "QUOTED-PRINTABLE"))
			return 1;
	}
	return i < n ? 0 : -1;
}

/* Appends to the logical line; 1 when it would pass the card limit. */
static int vcard_grow(struct vcard_parser *p, const char *s, size_t n)
{
	if (p->logical.len + n > VCARD_MAX_CARD_BYTES)
		return 1;
	if (buf_append(&p->logical, s, n) < 0)
		p->oom = 1;
	return 0;
}

/* Reads the next unfolded line into p->logical; *lineno gets the number of
 * its first physical line. 1, 0 at the end, 2 when the line was longer than
 * a card may be (consumed, not kept). */
static int vcard_logical(struct vcard_parser *p, size_t *lineno)
{
	const char *s;
	size_t len;
	int qp = -1, toolong;
	buf_reset(&p->logical);
	if (!vcard_physical(p, &s, &len))
		return 0;
	*lineno = p->line;
	toolong = vcard_grow(p, s, len);
	while (p->pos < p->n && !p->oom) {
		char c = p->s[p->pos];
		const char *l = p->logical.data;
		size_t ln = p->logical.len;
		if (c == ' ' || c == '\t') {
			vcard_physical(p, &s, &len);
			if (!toolong)
				toolong = vcard_grow(p, s + 1, len - 1);
			continue;
		}
		if (toolong || ln == 0 || l[ln - 1] != '=')
			break;
		if (qp < 0)
			qp = vcard_qp_params(l, ln);
		if (qp <= 0 || (p->n - p->pos >= 9 &&
		                vcard_eq(p->s + p->pos, 9, "END:VCARD")))
			break;  /* a damaged last line must not swallow END */
		vcard_physical(p, &s, &len);
		toolong = vcard_grow(p, "\n", 1) || vcard_grow(p, s, len);
	}
	return toolong ? 2 : 1;
}

/* ---- content lines ---- */

static void vcard_param_value(struct vcard_prop *pr, const char *name,
                              size_t nlen, const char *v, size_t vlen)
{
	int type = vcard_eq(name, nlen, "TYPE");
	if (type && vcard_eq(v, vlen, "PREF") && !pr->pref) {
		pr->pref = 1;
	} else if (vcard_eq(name, nlen, "PREF")) {
		int x = 0;
		for (size_t i = 0; i < vlen && x <= 100; i++)
			x = v[i] >= '0' && v[i] <= '9' ? x * 10 + v[i] - '0' : 101;
		if (x >= 1 && x <= 100 && (!pr->pref || x < pr->pref))
			pr->pref = x;
	} else if (type || vcard_eq(name, nlen, "ENCODING")) {
		if (vcard_eq(v, vlen, "QUOTED-PRINTABLE"))
			pr->encoding = VCARD_ENC_QP;
		else if (vcard_eq(v, vlen, "BASE64") || vcard_eq(v, vlen, "B"))
			pr->encoding = VCARD_ENC_BASE64;
	} else if (vcard_eq(name, nlen, "CHARSET")) {
		if (vlen >= sizeof pr->charset)
			vlen = 0;  /* no real charset name is that long */
		memcpy(pr->charset, v, vlen);
		pr->charset[vlen] = '\0';
		if (!vlen)
			strcpy(pr->charset, "x-unknown");
	}
}

/* One ";name=value,value" (or 2.1's bare ";WORK") from s[*i]. */
static int vcard_param(const char *s, size_t n, size_t *i,
                       struct vcard_prop *pr, const char **err)
{
	size_t j = *i;
	while (j < n && vcard_name_char(s[j]))
		j++;
	const char *name = s + *i;
	size_t nlen = j - *i;
	if (j >= n || s[j] != '=') {
		/* bare: a 2.1 type ("WORK", "PREF", "QUOTED-PRINTABLE") */
		vcard_param_value(pr, "TYPE", 4, name, nlen);
		*i = j;
		return 0;
	}
	for (j++;;) {
		const char *v = s + j;
		size_t k = j;
		if (k < n && s[k] == '"') {
			v++;
			for (k++; k < n && s[k] != '"'; k++)
				;
			if (k >= n) {
				*err = "a quoted parameter value has no closing '\"'";
				return -1;
			}
			vcard_param_value(pr, name, nlen, v, (size_t)(s + k - v));
			k++;
		} else {
			while (k < n && s[k] != ',' && s[k] != ';' && s[k] != ':')
				k++;
			vcard_param_value(pr, name, nlen, v, k - j);
		}
		j = k;
		if (j >= n || s[j] != ',')
			break;
		j++;
	}
	*i = j;
	return 0;
}

/* Splits "[group.]name*(;param):value". 0, or -1 with a reason. */
static int vcard_split(const char *s, size_t n, struct vcard_prop *pr,
                       const char **err)
{
	size_t i = 0, j;
	memset(pr, 0, sizeof *pr);
	for (;;) {
		for (j = i; j < n && vcard_name_char(s[j]); j++)
			;
		if (j == i) {
			*err = "not a property (no name before ':')";
			return -1;
		}
		if (j < n && s[j] == '.') {  /* a group: "item1." */
			i = j + 1;
			continue;
		}
		break;
	}
	pr->kind = VCARD_OTHER;
	for (size_t k = 0; k < sizeof vcard_kinds / sizeof vcard_kinds[0]; k++)
		if (vcard_eq(s + i, j - i, vcard_kinds[k].name))
			pr->kind = vcard_kinds[k].kind;
	i = j;
	while (i < n && s[i] == ';') {
		i++;
		if (vcard_param(s, n, &i, pr, err) < 0)
			return -1;
	}
	if (i >= n || s[i] != ':') {
		*err = "not a property (no ':' after the name)";
		return -1;
	}
	pr->value = s + i + 1;
	pr->value_len = n - i - 1;
	return 0;
}

/* ---- values ---- */

/* The value as UTF-8 in p->text: transfer encoding undone, charset
 * converted (unlabelled 8-bit text guessed), never invalid UTF-8. */
static int vcard_decode(struct vcard_parser *p, size_t line,
                        const struct vcard_prop *pr)
{
	const char *v = pr->value;
	size_t n = pr->value_len;
	int r = 0;
	buf_reset(&p->decoded);
	buf_reset(&p->text);
	if (pr->encoding == VCARD_ENC_QP)
		r = msg_qp_decode(v, n, &p->decoded);
	else if (pr->encoding == VCARD_ENC_BASE64)
		r = msg_base64_decode(v, n, &p->decoded, NULL);
	if (r < 0)
		return -1;
	if (pr->encoding != VCARD_ENC_NONE) {
		v = p->decoded.data ? p->decoded.data : "";
		n = p->decoded.len;
	}
	enum msg_charset_result cr = MSG_CHARSET_OK;
	if (pr->charset[0])
		cr = msg_charset_to_utf8(pr->charset, v, n, &p->text);
	else if (msg_utf8_valid(v, n))
		r = buf_append(&p->text, v, n);
	else
		cr = msg_charset_to_utf8(NULL, v, n, &p->text);
	if (r < 0 || cr == MSG_CHARSET_ERROR)
		return -1;
	if (cr == MSG_CHARSET_LOSSY)
		vcard_warn(p, line, "text invalid in its charset; damaged "
		           "characters replaced");
	if (cr == MSG_CHARSET_UNKNOWN)
		vcard_warn(p, line, "unknown charset; text read as UTF-8");
	if (!msg_utf8_valid(p->text.data ? p->text.data : "", p->text.len)) {
		buf_reset(&p->decoded);
		if (msg_utf8_sanitize(p->text.data, p->text.len, &p->decoded) < 0)
			return -1;
		buf_reset(&p->text);
		return buf_append(&p->text, p->decoded.data, p->decoded.len);
	}
	return 0;
}

/* Unescapes s[*i..n) up to an unescaped sep (0: none) into a new string,
 * *i past the sep: \n \N \, \; \\ (an unknown escape stays as it is);
 * controls dropped, line breaks kept only when multiline (else spaces);
 * surrounding white space trimmed. NULL when out of memory. */
static char *vcard_unescape(const char *s, size_t n, size_t *i, char sep,
                            int multiline)
{
	struct buf out = BUF_INIT;
	int r = 0;
	size_t k = *i;
	for (; k < n && r == 0; k++) {
		unsigned char c = (unsigned char)s[k];
		if (c == '\\' && k + 1 < n) {
			char e = s[++k];
			if (e == 'n' || e == 'N')
				c = '\n';
			else if (e == ',' || e == ';' || e == '\\')
				c = (unsigned char)e;
			else if (buf_putc(&out, '\\') == 0)
				c = (unsigned char)e;  /* unknown: kept whole */
			else
				r = -1;
		} else if (sep && c == (unsigned char)sep) {
			k++;
			break;
		}
		if (c == '\n' || c == '\t')
			c = multiline && c == '\n' ? '\n' : ' ';
		if (c < 0x20 && c != '\n')
			continue;
		if (c == 0x7F)
			continue;
		r |= buf_putc(&out, (char)c);
	}
	*i = k;
	size_t start = 0, len = out.len;
	const char *d = out.data ? out.data : "";
	while (start < len && (d[start] == ' ' || d[start] == '\n'))
		start++;
	while (len > start && (d[len - 1] == ' ' || d[len - 1] == '\n'))
		len--;
	char *res = r ? NULL : malloc(len - start + 1);
	if (res) {
		memcpy(res, d + start, len - start);
		res[len - start] = '\0';
	}
	buf_free(&out);
	return res;
}

/* The whole value unescaped; NULL when empty (*oom set when no memory). */
static char *vcard_text(struct vcard_parser *p, int multiline)
{
	size_t i = 0;
	char *t = vcard_unescape(p->text.data, p->text.len, &i, 0, multiline);
	if (!t)
		p->oom = 1;
	else if (!*t) {
		free(t);
		t = NULL;
	}
	return t;
}

static void vcard_take_n(struct vcard_parser *p)
{
	size_t i = 0;
	char *parts[VCARD_N_PARTS] = {0};
	for (int k = 0; k < VCARD_N_PARTS; k++) {
		parts[k] = vcard_unescape(p->text.data, p->text.len, &i, ';', 0);
		if (!parts[k])
			p->oom = 1;
	}
	for (int k = 0; k < VCARD_N_PARTS; k++) {
		if (parts[k] && *parts[k] && !p->oom) {
			p->card.n[k] = parts[k];
			parts[k] = NULL;
		}
		free(parts[k]);
	}
}

/* ORG's components joined by ", ". */
static void vcard_take_org(struct vcard_parser *p)
{
	struct buf org = BUF_INIT;
	size_t i = 0;
	int r = 0;
	while (i < p->text.len && r == 0) {
		char *part = vcard_unescape(p->text.data, p->text.len, &i, ';', 0);
		if (!part)
			r = -1;
		else if (*part)
			r = (org.len ? buf_puts(&org, ", ") : 0) | buf_puts(&org, part);
		free(part);
	}
	if (r < 0)
		p->oom = 1;
	else if (org.len)
		p->card.org = buf_steal(&org, NULL);
	buf_free(&org);
}

static int vcard_has_email(const struct vcard_card *c, const char *a)
{
	for (size_t i = 0; i < c->nemails; i++)
		if (vcard_strcaseeq(c->emails[i], a))
			return 1;
	return 0;
}

/* Inserts a new address at its place by preference (stable). */
static void vcard_take_email(struct vcard_parser *p, size_t line, int pref)
{
	char *a = vcard_text(p, 0);
	while (a && strlen(a) >= 7 && vcard_eq(a, 7, "mailto:")) {
		/* a URI from a 4.0 writer; stripped until stable, so the
		 * address reads back the same after writing */
		size_t skip = 7;
		while (a[skip] == ' ')
			skip++;
		memmove(a, a + skip, strlen(a + skip) + 1);
	}
	struct vcard_card *c = &p->card;
	if (!a || !*a || vcard_has_email(c, a)) {
		free(a);
		return;
	}
	char **e = NULL;
	if (c->nemails == VCARD_MAX_EMAILS) {
		if (!p->emails_warned++)
			vcard_warn(p, line, "more than %d e-mail addresses in a card; "
			           "the rest left out", VCARD_MAX_EMAILS);
	} else if (!(e = realloc(c->emails, (c->nemails + 1) * sizeof *e))) {
		p->oom = 1;
	}
	if (!e) {
		free(a);
		return;
	}
	int rank = pref ? pref : 101;
	size_t at = c->nemails;
	while (at > 0 && p->email_rank[at - 1] > rank)
		at--;
	memmove(e + at + 1, e + at, (c->nemails - at) * sizeof *e);
	memmove(p->email_rank + at + 1, p->email_rank + at,
	        (c->nemails - at) * sizeof *p->email_rank);
	e[at] = a;
	p->email_rank[at] = rank;
	c->emails = e;
	c->nemails++;
}

/* Keeps the first value of a single-valued property. */
static void vcard_take_first(struct vcard_parser *p, char **field, int multi)
{
	if (*field)
		return;
	*field = vcard_text(p, multi);
}

static void vcard_property(struct vcard_parser *p, size_t line,
                           const struct vcard_prop *pr)
{
	const char *v = pr->value;
	size_t vn = pr->value_len;
	vcard_trim(&v, &vn);
	p->agent_pending = pr->kind == VCARD_AGENT && vn == 0;
	if (pr->kind == VCARD_VERSION) {
		if (!vcard_eq(v, vn, "2.1") && !vcard_eq(v, vn, "3.0") &&
		    !vcard_eq(v, vn, "4.0"))
			vcard_warn(p, line, "unknown VERSION; read like 4.0");
		return;
	}
	if (pr->kind == VCARD_OTHER || pr->kind == VCARD_AGENT ||
	    pr->kind == VCARD_BEGIN || pr->kind == VCARD_END)
		return;
	if (vcard_decode(p, line, pr) < 0) {
		p->oom = 1;
		return;
	}
	struct vcard_card *c = &p->card;
	switch (pr->kind) {
	case VCARD_FN: vcard_take_first(p, &c->fn, 0); break;
	case VCARD_NICKNAME: vcard_take_first(p, &c->nickname, 0); break;
	case VCARD_NOTE: vcard_take_first(p, &c->note, 1); break;
	case VCARD_UID: vcard_take_first(p, &c->uid, 0); break;
	case VCARD_N:
		if (!c->n[0] && !c->n[1] && !c->n[2] && !c->n[3] && !c->n[4])
			vcard_take_n(p);
		break;
	case VCARD_ORG:
		if (!c->org)
			vcard_take_org(p);
		break;
	case VCARD_EMAIL: vcard_take_email(p, line, pr->pref); break;
	case VCARD_TEL: {
		int rank = pr->pref ? pr->pref : 101;
		if (c->tel && rank >= p->tel_rank)
			break;
		char *t = vcard_text(p, 0);
		if (t) {
			free(c->tel);
			c->tel = t;
			p->tel_rank = rank;
		}
		break;
	}
	default: break;
	}
}

/* ---- cards ---- */

/* True when s is made only of East Asian characters (CJK, kana, hangul:
 * three-byte UTF-8 with lead byte E3..ED), whose names are written family
 * name first without a space. */
static int vcard_east_asian(const char *s)
{
	if (!*s)
		return 0;
	for (const unsigned char *u = (const unsigned char *)s; *u; u += 3)
		if (*u < 0xE3 || *u > 0xED || !u[1] || !u[2])
			return 0;
	return 1;
}

/* FN from N: "Prefix Given Additional Family Suffix", or "李雷" for
 * East Asian names. NULL when N is empty or out of memory. */
static char *vcard_name_from_n(char *const n[VCARD_N_PARTS])
{
	static const int western[] = {VCARD_N_PREFIX, VCARD_N_GIVEN,
	                              VCARD_N_ADDITIONAL, VCARD_N_FAMILY,
	                              VCARD_N_SUFFIX};
	const char *fam = n[VCARD_N_FAMILY], *given = n[VCARD_N_GIVEN];
	struct buf out = BUF_INIT;
	int r = 0;
	if (fam && vcard_east_asian(fam) && (!given || vcard_east_asian(given))) {
		r = buf_puts(&out, fam) | buf_puts(&out, given ? given : "");
	} else {
		for (size_t k = 0; k < 5; k++) {
			const char *part = n[western[k]];
			if (part && *part)
				r |= (out.len ? buf_putc(&out, ' ') : 0) | buf_puts(&out, part);
		}
	}
	char *s = r == 0 && out.len ? buf_steal(&out, NULL) : NULL;
	buf_free(&out);
	return s;
}

/* Fills a missing FN; 0, or -1 when the card has nothing to name it by. */
static int vcard_fallback_name(struct vcard_parser *p)
{
	struct vcard_card *c = &p->card;
	if (c->fn)
		return 0;
	c->fn_built = 1;
	c->fn = vcard_name_from_n(c->n);
	const char *alt = c->nickname ? c->nickname : c->org ? c->org :
	                  c->nemails ? c->emails[0] : NULL;
	if (!c->fn && alt && !(c->fn = strdup(alt)))
		p->oom = 1;
	return c->fn ? 0 : -1;
}

static void vcard_card_reset(struct vcard_parser *p)
{
	vcard_card_free(&p->card);
	p->in_card = 0;
	p->damage_line = 0;
	p->tel_rank = 0;
	p->emails_warned = 0;
	p->agent_pending = 0;
	p->agent_depth = 0;
}

static void vcard_drop(struct vcard_parser *p, size_t line, const char *why)
{
	vcard_warn(p, line, "%s; card skipped", why);
	p->skipped++;
	vcard_card_reset(p);
}

static void vcard_damage(struct vcard_parser *p, size_t line, const char *why)
{
	if (p->damage_line)
		return;
	p->damage_line = line;
	snprintf(p->damage, sizeof p->damage, "%s", why);
	vcard_card_free(&p->card);  /* what is left of it is not needed */
}

static void vcard_begin(struct vcard_parser *p, size_t line)
{
	if (p->in_card) {
		char why[96];
		snprintf(why, sizeof why, "no END:VCARD before the next BEGIN "
		         "(line %zu)", line);
		vcard_drop(p, p->card_line, why);
	}
	p->in_card = 1;
	p->outside_warned = 0;
	p->card_line = line;
	p->card_start = p->pos;
}

static void vcard_end(struct vcard_parser *p)
{
	if (p->damage_line) {
		vcard_drop(p, p->damage_line, p->damage);
		return;
	}
	if (vcard_fallback_name(p) < 0) {
		if (!p->oom)
			vcard_drop(p, p->card_line, "neither a name nor an e-mail address");
		return;
	}
	if (p->list->count >= VCARD_MAX_CARDS) {
		if (!p->limit_warned++)
			vcard_warn(p, p->card_line, "more than %d cards; the rest "
			           "skipped", VCARD_MAX_CARDS);
		p->skipped++;
		vcard_card_reset(p);
		return;
	}
	p->card.line = p->card_line;
	if (vcard_list_add(p->list, &p->card) < 0)
		p->oom = 1;
	vcard_card_reset(p);
}

static int vcard_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

/* BEGIN:VCARD or END:VCARD (any case, white space around the value). */
static int vcard_delimiter(const struct vcard_prop *pr, enum vcard_kind kind)
{
	const char *v = pr->value;
	size_t n = pr->value_len;
	vcard_trim(&v, &n);
	return pr->kind == kind && vcard_eq(v, n, "VCARD");
}

/* One unfolded line, inside or outside a card. */
static void vcard_line(struct vcard_parser *p, size_t line, int toolong)
{
	const char *s = p->logical.data ? p->logical.data : "";
	size_t n = p->logical.len;
	struct vcard_prop pr;
	const char *err = NULL;
	if (!toolong && vcard_blank(s, n))
		return;
	int agent = p->agent_pending || p->agent_depth;
	p->agent_pending = 0;
	int ok = !toolong && vcard_split(s, n, &pr, &err) == 0;
	if (ok && vcard_delimiter(&pr, VCARD_BEGIN) && !agent) {
		vcard_begin(p, line);
		return;
	}
	if (!p->in_card) {
		if (!p->outside_warned++)
			vcard_warn(p, line, "text outside a vCard ignored");
		return;
	}
	if (p->pos - p->card_start > VCARD_MAX_CARD_BYTES || toolong)
		vcard_damage(p, line, "card larger than 1 MiB");
	if (ok && agent) {
		/* a 2.1 AGENT holding a whole vCard: skipped up to its END */
		if (vcard_delimiter(&pr, VCARD_BEGIN)) {
			p->agent_depth++;
			return;
		}
		if (p->agent_depth) {
			p->agent_depth -= vcard_delimiter(&pr, VCARD_END);
			return;
		}
	}
	if (ok && vcard_delimiter(&pr, VCARD_END))
		vcard_end(p);
	else if (!ok && !toolong)
		vcard_damage(p, line, err);
	else if (ok && !p->damage_line)
		vcard_property(p, line, &pr);
}

/* The input as UTF-8 when it starts with a UTF-16 byte order mark. */
static int vcard_utf16(const char **s, size_t *n, struct buf *conv)
{
	const unsigned char *u = (const unsigned char *)*s;
	const char *cs = NULL;
	if (*n >= 2 && u[0] == 0xFF && u[1] == 0xFE)
		cs = "UTF-16LE";
	else if (*n >= 2 && u[0] == 0xFE && u[1] == 0xFF)
		cs = "UTF-16BE";
	if (!cs)
		return 0;
	if (msg_charset_to_utf8(cs, *s + 2, *n - 2, conv) == MSG_CHARSET_ERROR)
		return -1;
	*s = conv->data ? conv->data : "";
	*n = conv->len;
	return 0;
}

long vcard_parse(const char *s, size_t n, struct vcard_list *list,
                 struct buf *warnings)
{
	struct vcard_parser p = {0};
	struct buf conv = BUF_INIT;
	if (vcard_utf16(&s, &n, &conv) < 0)
		return -1;
	if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		n -= 3;
	}
	p.s = s;
	p.n = n;
	p.list = list;
	p.warnings = warnings;
	buf_init(&p.logical, 0);
	size_t line = 0;
	int r;
	while (!p.oom && (r = vcard_logical(&p, &line)) != 0)
		vcard_line(&p, line, r == 2);
	if (p.in_card && !p.oom)
		vcard_drop(&p, p.card_line, "no END:VCARD before the end");
	if (p.nwarnings > VCARD_MAX_WARNINGS && warnings)
		(void)buf_printf(warnings, "%zu more warnings\n",
		                 p.nwarnings - VCARD_MAX_WARNINGS);
	vcard_card_reset(&p);
	buf_free(&p.logical);
	buf_free(&p.decoded);
	buf_free(&p.text);
	buf_free(&conv);
	return p.oom ? -1 : p.skipped;
}

/* ---- writing ---- */

/* Appends s escaped as a text value; commas stay as they are when they
 * separate list values (N parts, NICKNAME). */
static int vcard_escape(const char *s, int commas, struct buf *out)
{
	int r = 0;
	for (; *s && r == 0; s++) {
		if (*s == '\n')
			r = buf_puts(out, "\\n");
		else if (*s == '\r')
			continue;
		else if (*s == '\\' || *s == ';' || (*s == ',' && !commas))
			r = buf_putc(out, '\\') | buf_putc(out, *s);
		else
			r = buf_putc(out, *s);
	}
	return r;
}

/* Appends line[0..n) folded at 75 octets (a continuation starts with a
 * space) without cutting a UTF-8 sequence, and CRLF. */
static int vcard_fold(const char *s, size_t n, struct buf *out)
{
	size_t limit = 75;
	int r = 0;
	while (n > limit && r == 0) {
		size_t cut = limit;
		while (cut > limit - 3 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		r = buf_append(out, s, cut) | buf_puts(out, "\r\n ");
		s += cut;
		n -= cut;
		limit = 74;
	}
	return r | buf_append(out, s, n) | buf_puts(out, "\r\n");
}

/* "NAME:escaped value" folded; nothing for a NULL value. */
static int vcard_put(struct buf *out, struct buf *line, const char *name,
                     const char *value, int commas)
{
	if (!value)
		return 0;
	buf_reset(line);
	if (buf_puts(line, name) < 0 || buf_putc(line, ':') < 0 ||
	    vcard_escape(value, commas, line) < 0)
		return -1;
	return vcard_fold(line->data, line->len, out);
}

static int vcard_put_n(const struct vcard_card *c, int version,
                       struct buf *out, struct buf *line)
{
	int any = 0;
	for (int k = 0; k < VCARD_N_PARTS; k++)
		any |= c->n[k] && *c->n[k];
	if (!any && version == 4)
		return 0;  /* optional in 4.0, required in 3.0 */
	buf_reset(line);
	int r = buf_puts(line, "N:");
	for (int k = 0; k < VCARD_N_PARTS && r == 0; k++)
		r = (k ? buf_putc(line, ';') : 0) |
		    vcard_escape(c->n[k] ? c->n[k] : "", 1, line);
	return r ? -1 : vcard_fold(line->data, line->len, out);
}

int vcard_write(const struct vcard_card *c, int version, struct buf *out)
{
	if (version != 3 && version != 4)
		return -1;
	struct buf line = BUF_INIT;
	int r = buf_puts(out, "BEGIN:VCARD\r\n");
	r |= buf_puts(out, version == 4 ? "VERSION:4.0\r\n" : "VERSION:3.0\r\n");
	r |= vcard_put(out, &line, "FN", c->fn ? c->fn : "", 0);
	r |= vcard_put_n(c, version, out, &line);
	r |= vcard_put(out, &line, "NICKNAME", c->nickname, 1);
	for (size_t i = 0; i < c->nemails && r == 0; i++) {
		const char *name = version == 4 ? (i ? "EMAIL" : "EMAIL;PREF=1") :
		                   i ? "EMAIL;TYPE=INTERNET" :
		                   "EMAIL;TYPE=INTERNET,PREF";
		r = vcard_put(out, &line, name, c->emails[i], 0);
	}
	r |= vcard_put(out, &line, "TEL", c->tel, 0);
	r |= vcard_put(out, &line, "ORG", c->org, 0);
	r |= vcard_put(out, &line, "NOTE", c->note, 0);
	r |= vcard_put(out, &line, "UID", c->uid, 0);
	r |= buf_puts(out, "END:VCARD\r\n");
	buf_free(&line);
	return r ? -1 : 0;
}

int vcard_write_list(const struct vcard_list *list, int version,
                     struct buf *out)
{
	for (size_t i = 0; i < list->count; i++)
		if (vcard_write(&list->cards[i], version, out) < 0)
			return -1;
	return 0;
}

/* ---- cards and lists ---- */

void vcard_uid_generate(char out[VCARD_UID_SIZE])
{
	unsigned char b[16];
	msg_random_bytes(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
	snprintf(out, VCARD_UID_SIZE, "urn:uuid:%02x%02x%02x%02x-%02x%02x-"
	         "%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
	         b[12], b[13], b[14], b[15]);
}

int vcard_set(char **field, const char *value)
{
	char *copy = NULL;
	if (value && !(copy = strdup(value)))
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

int vcard_add_email(struct vcard_card *c, const char *address)
{
	if (vcard_has_email(c, address))
		return 1;
	if (c->nemails >= VCARD_MAX_EMAILS)
		return -1;
	char *copy = strdup(address);
	char **e = copy ? realloc(c->emails, (c->nemails + 1) * sizeof *e) : NULL;
	if (!e) {
		free(copy);
		return -1;
	}
	e[c->nemails++] = copy;
	c->emails = e;
	return 0;
}

int vcard_list_add(struct vcard_list *list, struct vcard_card *c)
{
	if (list->count >= VCARD_MAX_CARDS)
		return -1;
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		struct vcard_card *cards = realloc(list->cards, cap * sizeof *cards);
		if (!cards)
			return -1;
		list->cards = cards;
		list->cap = cap;
	}
	list->cards[list->count++] = *c;
	memset(c, 0, sizeof *c);
	return 0;
}

void vcard_list_remove(struct vcard_list *list, size_t i)
{
	if (i >= list->count)
		return;
	vcard_card_free(&list->cards[i]);
	memmove(list->cards + i, list->cards + i + 1,
	        (list->count - i - 1) * sizeof *list->cards);
	list->count--;
}

void vcard_card_free(struct vcard_card *c)
{
	free(c->fn);
	for (int k = 0; k < VCARD_N_PARTS; k++)
		free(c->n[k]);
	free(c->nickname);
	free(c->org);
	free(c->note);
	free(c->uid);
	free(c->tel);
	for (size_t i = 0; i < c->nemails; i++)
		free(c->emails[i]);
	free(c->emails);
	memset(c, 0, sizeof *c);
}

void vcard_list_free(struct vcard_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		vcard_card_free(&list->cards[i]);
	free(list->cards);
	memset(list, 0, sizeof *list);
}
