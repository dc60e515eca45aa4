/* gen: deterministic synthetic mail for bench/msgbench (see gen.h). The
 * encoders here are deliberately plain and independent of src/msg, so the
 * benchmark's input does not depend on the code it measures. */
#include "gen.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_MAX_DEPTH 4    /* deepest part below the root */
#define GEN_MIN_BODY 256   /* smallest body budget a message gets */

enum charset { CS_ASCII, CS_UTF8, CS_GB2312 };
enum cte { CTE_7BIT, CTE_8BIT, CTE_BASE64, CTE_QP };

static const char *const ascii_words[] = {
	"the", "of", "and", "to", "a", "in", "for", "is", "on", "that", "by",
	"this", "with", "you", "it", "not", "or", "be", "are", "from", "at",
	"as", "your", "all", "have", "new", "more", "an", "was", "we", "will",
	"meeting", "report", "quarterly", "budget", "please", "review",
	"attached", "schedule", "project", "delivery", "server", "message",
	"invoice", "customer", "thanks", "regards", "tomorrow", "update",
	"version", "release", "draft", "question", "answer", "team", "office",
	"travel", "contract", "payment", "shipping", "order", "account",
	"security", "network", "mail", "system", "performance", "deadline",
	"Monday", "Friday", "agenda", "minutes", "figures", "2024", "Q3",
	"approved", "pending", "follow-up", "details", "summary", "client",
};

static const char *const utf8_words[] = {
	"Grüße", "café", "naïve", "Straße", "résumé", "façade", "Ångström",
	"München", "Zürich", "señor", "déjà", "€120", "«bien»", "Ærø",
	"日本語", "中文邮件", "会议纪要", "报告", "附件", "谢谢", "Привет",
	"встреча", "Ελλάδα", "한국어", "—",
};

static const char *const first_names[] = {
	"Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi",
	"Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert",
};

static const char *const utf8_names[] = {
	"Jürgen Müller", "François Lefèvre", "Zoë Brontë", "王小明", "李娜",
	"张伟 (Zhang Wei)", "Ólafur Ragnarsson", "Søren Kierkegård",
};

static const char *const domains[] = {
	"example.com", "example.net", "example.org", "mail.example.cn",
	"corp.example.de", "lists.example.edu",
};

struct attach_type {
	const char *type, *subtype, *ext;
};

static const struct attach_type attach_types[] = {
	{"application", "pdf", "pdf"},
	{"image", "jpeg", "jpg"},
	{"image", "png", "png"},
	{"application", "zip", "zip"},
	{"application", "octet-stream", "bin"},
	{"application", "vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fputs("gen: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

void gen_buf_reserve(struct gen_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void gen_buf_free(struct gen_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void put(struct gen_buf *b, const void *p, size_t n)
{
	gen_buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_str(struct gen_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_char(struct gen_buf *b, char c)
{
	gen_buf_reserve(b, 1);
	b->data[b->len++] = c;
}

__attribute__((format(printf, 2, 3)))
static void put_fmt(struct gen_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gen_buf_reserve(b, 256);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		gen_buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void put_eol(struct gen *g, struct gen_buf *b)
{
	put(b, g->eol, g->eol_len);
}

/* xoshiro256** (Blackman and Vigna), seeded with splitmix64. */
static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t gen_rand(struct gen *g)
{
	uint64_t *s = g->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, n). */
static uint32_t below(struct gen *g, uint32_t n)
{
	return (uint32_t)(((gen_rand(g) >> 32) * n) >> 32);
}

/* Uniform in [lo, hi]. */
static size_t between(struct gen *g, size_t lo, size_t hi)
{
	return lo + (size_t)(gen_rand(g) % (hi - lo + 1));
}

static int chance(struct gen *g, unsigned percent)
{
	return below(g, 100) < percent;
}

static double unit(struct gen *g)
{
	return (double)(gen_rand(g) >> 11) * 0x1.0p-53;
}

#define PICK(g, a) ((a)[below((g), COUNT(a))])

void gen_init(struct gen *g, uint64_t seed)
{
	memset(g, 0, sizeof *g);
	for (int i = 0; i < 4; i++) {
		seed += 0x9e3779b97f4a7c15u;
		uint64_t z = seed;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
		g->s[i] = z ^ (z >> 31);
	}
	g->eol = "\r\n";
	g->eol_len = 2;
}

void gen_free(struct gen *g)
{
	gen_buf_free(&g->out);
	gen_buf_free(&g->raw);
	gen_buf_free(&g->word);
}

void gen_random_bytes(struct gen *g, void *p, size_t n)
{
	unsigned char *d = p;
	while (n >= 8) {
		uint64_t r = gen_rand(g);
		memcpy(d, &r, 8);
		d += 8;
		n -= 8;
	}
	if (n) {
		uint64_t r = gen_rand(g);
		memcpy(d, &r, n);
	}
}

size_t gen_mixed_size(struct gen *g)
{
	/* 2 KB * 1000^(u^2.8): log-uniform would average 300 KB and put
	 * 3 GB in 10,000 messages; the skew keeps a realistic median of a few
	 * KB while the 2 MB tail still carries most of the bytes. */
	return (size_t)(2048.0 * pow(1000.0, pow(unit(g), 2.8)));
}

/* ---- encoders ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Appends the base64 of in[0..n): lines of 76 characters each followed by
 * eol when eol is not NULL, one unbroken line otherwise. */
static void enc_base64(const unsigned char *in, size_t n, const char *eol,
                       struct gen_buf *out)
{
	size_t eol_len = eol ? strlen(eol) : 0;
	gen_buf_reserve(out, (n + 2) / 3 * 4 + (n / 57 + 1) * eol_len);
	char *o = out->data + out->len;
	size_t col = 0;
	while (n >= 3) {
		uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[(v >> 12) & 63];
		o[2] = b64_alphabet[(v >> 6) & 63];
		o[3] = b64_alphabet[v & 63];
		o += 4;
		in += 3;
		n -= 3;
		if (eol && (col += 4) == 76) {
			memcpy(o, eol, eol_len);
			o += eol_len;
			col = 0;
		}
	}
	if (n) {
		uint32_t v = (uint32_t)in[0] << 16 | (n == 2 ? (uint32_t)in[1] << 8 : 0);
		o[0] = b64_alphabet[v >> 18];
		o[1] = b64_alphabet[(v >> 12) & 63];
		o[2] = n == 2 ? b64_alphabet[(v >> 6) & 63] : '=';
		o[3] = '=';
		o += 4;
		col += 4;
	}
	if (eol && col) {
		memcpy(o, eol, eol_len);
		o += eol_len;
	}
	out->len = (size_t)(o - out->data);
}

static void put_hex(struct gen_buf *out, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = {'=', hex[c >> 4], hex[c & 15]};
	put(out, e, 3);
}

/* Appends quoted-printable of the text in[0..n) (lines end in LF or CRLF),
 * at most 76 columns, with eol as line end. */
static void enc_qp(const unsigned char *in, size_t n, const char *eol,
                   struct gen_buf *out)
{
	size_t col = 0;
	gen_buf_reserve(out, n + n / 8);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = in[i];
		if (c == '\r' && i + 1 < n && in[i + 1] == '\n')
			continue;
		if (c == '\n') {
			put_str(out, eol);
			col = 0;
			continue;
		}
		int at_end = i + 1 == n || in[i + 1] == '\n' ||
		             (in[i + 1] == '\r' && i + 2 < n && in[i + 2] == '\n');
		int lit = (c >= 33 && c <= 126 && c != '=') ||
		          ((c == ' ' || c == '\t') && !at_end);
		size_t w = lit ? 1 : 3;
		if (col + w > 75) {
			put_char(out, '=');
			put_str(out, eol);
			col = 0;
		}
		if (lit)
			put_char(out, (char)c);
		else
			put_hex(out, c);
		col += w;
	}
}

/* ---- text ---- */

/* One line of UTF-8 (or plain ASCII when pct is 0) words. */
static void text_line_utf8(struct gen *g, struct gen_buf *b, unsigned pct)
{
	size_t width = between(g, 50, 74), col = 0;
	while (col < width) {
		const char *w = pct && chance(g, pct) ? PICK(g, utf8_words)
		                                      : PICK(g, ascii_words);
		if (col) {
			put_char(b, ' ');
			col++;
		}
		size_t n = strlen(w);
		put(b, w, n);
		col += n;
	}
	put_eol(g, b);
}

/* One line of GB2312: level-1 hanzi, full-width punctuation, some ASCII. */
static void text_line_gb2312(struct gen *g, struct gen_buf *b)
{
	size_t chars = between(g, 26, 37);
	gen_buf_reserve(b, chars * 4 + 16);
	for (size_t i = 0; i < chars; i++) {
		uint32_t r = below(g, 100);
		if (r < 4) {
			put_fmt(b, " %u ", below(g, 10000));
		} else if (r < 12) {
			put(b, r < 8 ? "\xa3\xac" : "\xa1\xa3", 2); /* ， 。 */
		} else {
			b->data[b->len++] = (char)(0xb0 + below(g, 0x27));
			b->data[b->len++] = (char)(0xa1 + below(g, 94));
		}
	}
	put_eol(g, b);
}

/* Appends about n bytes of text in charset cs, as paragraphs (HTML ones
 * when html). */
static void gen_text(struct gen *g, enum charset cs, size_t n, int html,
                     struct gen_buf *b)
{
	size_t start = b->len;
	if (html) {
		put_str(b, "<!DOCTYPE html><html><head><meta charset=\"");
		put_str(b, cs == CS_GB2312 ? "gb2312" : "utf-8");
		put_str(b, "\"><title>Message</title></head>");
		put_eol(g, b);
		put_str(b, "<body style=\"font-family: Arial, sans-serif;\">");
		put_eol(g, b);
	}
	while (b->len - start < n) {
		if (html)
			put_str(b, "<p>");
		size_t lines = between(g, 2, 8);
		for (size_t i = 0; i < lines; i++) {
			if (cs == CS_GB2312)
				text_line_gb2312(g, b);
			else
				text_line_utf8(g, b, cs == CS_UTF8 ? 8 : 0);
		}
		if (html)
			put_str(b, "</p>");
		put_eol(g, b);
	}
	if (html) {
		put_str(b, "</body></html>");
		put_eol(g, b);
	}
}

/* ---- headers ---- */

/* Appends an RFC 2047 rendering of a phrase in charset cs (B or Q),
 * split into words of at most ~70 columns, folded with eol + space. */
static void put_encoded_phrase(struct gen *g, struct gen_buf *out,
                               enum charset cs, size_t min_bytes)
{
	struct gen_buf *w = &g->word;
	w->len = 0;
	while (w->len < min_bytes) {
		if (w->len)
			put_char(w, ' ');
		if (cs == CS_GB2312) {
			size_t k = between(g, 2, 6);
			for (size_t i = 0; i < k; i++) {
				put_char(w, (char)(0xb0 + below(g, 0x27)));
				put_char(w, (char)(0xa1 + below(g, 94)));
			}
		} else {
			put_str(w, chance(g, 40) ? PICK(g, utf8_words)
			                         : PICK(g, ascii_words));
		}
	}
	const char *label = cs == CS_GB2312 ? (chance(g, 50) ? "gb2312" : "GB2312")
	                                    : (chance(g, 50) ? "UTF-8" : "utf-8");
	int q = cs != CS_GB2312 && chance(g, 40);
	/* Split the raw text into chunks that encode to short words, only
	 * between whole characters, as RFC 2047 6.3 asks. */
	size_t chunk = q ? 20 : 36;
	for (size_t i = 0; i < w->len;) {
		size_t end = i;
		while (end < w->len && end - i < chunk) {
			unsigned char c = (unsigned char)w->data[end];
			if (c < 0x80)
				end += 1;
			else if (cs == CS_GB2312)
				end += 2;
			else
				end += c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		}
		if (end > w->len)
			end = w->len;
		if (i) {
			put_eol(g, out);
			put_char(out, ' ');
		}
		put_fmt(out, "=?%s?%c?", label, q ? 'Q' : 'B');
		if (q) {
			for (size_t k = i; k < end; k++) {
				unsigned char c = (unsigned char)w->data[k];
				if (c == ' ')
					put_char(out, '_');
				else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				         (c >= '0' && c <= '9'))
					put_char(out, (char)c);
				else
					put_hex(out, c);
			}
		} else {
			enc_base64((const unsigned char *)w->data + i, end - i, NULL, out);
		}
		put_str(out, "?=");
		g->st.encoded_words++;
		i = end;
	}
}

static void put_address(struct gen *g, struct gen_buf *out)
{
	uint32_t r = below(g, 100);
	const char *name = PICK(g, first_names);
	if (r < 30) {
		put_fmt(out, "%s %c. <%s.%lu@%s>", name, 'A' + (int)below(g, 26),
		        name, (unsigned long)below(g, 1000), PICK(g, domains));
	} else if (r < 55) {
		put_char(out, '"');
		put_str(out, PICK(g, utf8_names));
		put_fmt(out, "\" <user%u@%s>", below(g, 100000), PICK(g, domains));
	} else if (r < 85) {
		put_encoded_phrase(g, out, chance(g, 60) ? CS_UTF8 : CS_GB2312, 6);
		put_fmt(out, " <user%u@%s>", below(g, 100000), PICK(g, domains));
	} else {
		put_fmt(out, "user%u@%s", below(g, 100000), PICK(g, domains));
	}
}

static void put_date(struct gen *g, struct gen_buf *out)
{
	static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	put_fmt(out, "%s, %u %s 20%02u %02u:%02u:%02u %c%02u00", PICK(g, days),
	        1 + below(g, 28), PICK(g, months), 15 + below(g, 10), below(g, 24),
	        below(g, 60), below(g, 60), chance(g, 50) ? '+' : '-', below(g, 12));
}

/* The header of a whole message, up to (not including) the MIME fields. */
static void gen_top_header(struct gen *g, struct gen_buf *out)
{
	put_fmt(out, "Return-Path: <user%u@%s>", below(g, 100000), PICK(g, domains));
	put_eol(g, out);
	size_t hops = between(g, 2, 6);
	for (size_t i = 0; i < hops; i++) {
		unsigned a = below(g, 256), b = below(g, 256);
		put_fmt(out, "Received: from mail%u.%s (mail%u.%s [198.51.%u.%u])",
		        a, PICK(g, domains), a, PICK(g, domains), a, b);
		put_eol(g, out);
		put_fmt(out, "\tby mx%u.posthorn.test (Postfix) with ESMTPS id %08X%04X",
		        below(g, 9), (unsigned)gen_rand(g), below(g, 65536));
		put_eol(g, out);
		put_fmt(out, "\tfor <alice@posthorn.test>; ");
		put_date(g, out);
		put_eol(g, out);
	}
	if (chance(g, 70)) {
		unsigned char sig[256];
		gen_random_bytes(g, sig, sizeof sig);
		put_fmt(out, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s;",
		        PICK(g, domains));
		put_eol(g, out);
		put_str(out, "\ts=selector1; h=from:to:subject:date:message-id:mime-version;");
		put_eol(g, out);
		put_str(out, "\tbh=");
		enc_base64(sig, 32, NULL, out);
		put_char(out, ';');
		put_eol(g, out);
		struct gen_buf *w = &g->word;
		w->len = 0;
		enc_base64(sig, sizeof sig, NULL, w);
		put_str(out, "\tb=");
		for (size_t i = 0; i < w->len; i += 70) {
			if (i) {
				put_eol(g, out);
				put_char(out, '\t');
			}
			put(out, w->data + i, w->len - i < 70 ? w->len - i : 70);
		}
		put_eol(g, out);
	}
	put_str(out, "From: ");
	put_address(g, out);
	put_eol(g, out);
	put_str(out, "To: ");
	size_t to = between(g, 1, 5);
	for (size_t i = 0; i < to; i++) {
		if (i) {
			put_char(out, ',');
			put_eol(g, out);
			put_char(out, ' ');
		}
		put_address(g, out);
	}
	put_eol(g, out);
	if (chance(g, 40)) {
		put_str(out, "Cc: ");
		put_address(g, out);
		put_eol(g, out);
	}
	put_str(out, "Subject: ");
	uint32_t r = below(g, 100);
	if (r < 30) {
		for (size_t i = 0, n = between(g, 3, 12); i < n; i++)
			put_fmt(out, "%s%s", i ? " " : "", PICK(g, ascii_words));
	} else {
		if (r < 40)
			put_str(out, "Re: ");
		put_encoded_phrase(g, out, r < 75 ? CS_UTF8 : CS_GB2312, between(g, 8, 80));
	}
	put_eol(g, out);
	put_str(out, "Date: ");
	put_date(g, out);
	put_eol(g, out);
	put_fmt(out, "Message-ID: <%016llx.%lu@%s>", (unsigned long long)gen_rand(g),
	        g->serial++, PICK(g, domains));
	put_eol(g, out);
	if (chance(g, 30)) {
		put_fmt(out, "In-Reply-To: <%016llx@%s>", (unsigned long long)gen_rand(g),
		        PICK(g, domains));
		put_eol(g, out);
		put_str(out, "References:");
		for (size_t i = 0, n = between(g, 1, 6); i < n; i++) {
			put_fmt(out, " <%016llx@%s>", (unsigned long long)gen_rand(g),
			        PICK(g, domains));
			put_eol(g, out);
			put_char(out, '\t');
		}
		put_str(out, "<last@example.com>");
		put_eol(g, out);
	}
	if (chance(g, 50)) {
		put_str(out, "X-Mailer: Posthorn Bench Mailer 1.0 (Linux; x86_64)");
		put_eol(g, out);
	}
	if (chance(g, 30)) {
		put_fmt(out, "X-Spam-Status: No, score=-%u.%u required=5.0 tests=BAYES_00,",
		        below(g, 5), below(g, 10));
		put_eol(g, out);
		put_str(out, "\tDKIM_SIGNED,DKIM_VALID,RCVD_IN_DNSWL_NONE autolearn=ham");
		put_eol(g, out);
	}
	put_str(out, "MIME-Version: 1.0");
	put_eol(g, out);
}

/* ---- entities ---- */

static const char *cte_name(enum cte c)
{
	switch (c) {
	case CTE_7BIT: return "7bit";
	case CTE_8BIT: return "8bit";
	case CTE_BASE64: return "base64";
	case CTE_QP: return "quoted-printable";
	}
	return "7bit";
}

/* Appends g->raw encoded with c, and the blank line before it. */
static void put_body(struct gen *g, struct gen_buf *out, enum cte c)
{
	put_fmt(out, "Content-Transfer-Encoding: %s", cte_name(c));
	put_eol(g, out);
	put_eol(g, out);
	const unsigned char *raw = (const unsigned char *)g->raw.data;
	if (c == CTE_BASE64) {
		enc_base64(raw, g->raw.len, g->eol, out);
		g->st.base64_parts++;
	} else if (c == CTE_QP) {
		enc_qp(raw, g->raw.len, g->eol, out);
		g->st.qp_parts++;
	} else {
		put(out, raw, g->raw.len);
	}
}

static void note_depth(struct gen *g, int depth)
{
	g->st.parts++;
	if (depth > g->st.max_depth)
		g->st.max_depth = depth;
}

/* A text/plain or text/html leaf of about size encoded bytes. */
static void gen_text_leaf(struct gen *g, struct gen_buf *out, int depth,
                          size_t size, int html)
{
	note_depth(g, depth);
	uint32_t r = below(g, 100);
	enum charset cs = r < 55 ? CS_UTF8 : r < 80 ? CS_GB2312 : CS_ASCII;
	enum cte c;
	r = below(g, 100);
	switch (cs) {
	case CS_UTF8:
		c = r < 50 ? CTE_QP : r < 75 ? CTE_BASE64 : CTE_8BIT;
		g->st.utf8_parts++;
		break;
	case CS_GB2312:
		c = r < 60 ? CTE_BASE64 : r < 85 ? CTE_8BIT : CTE_QP;
		g->st.gb2312_parts++;
		break;
	default:
		c = r < 80 ? CTE_7BIT : CTE_QP;
		break;
	}
	const char *label = cs == CS_UTF8 ? (chance(g, 50) ? "utf-8" : "UTF-8")
	                  : cs == CS_GB2312 ? (chance(g, 50) ? "gb2312" : "GB2312")
	                  : "us-ascii";
	put_fmt(out, "Content-Type: text/%s;", html ? "html" : "plain");
	if (chance(g, 50)) {
		put_eol(g, out);
		put_char(out, '\t');
	} else {
		put_char(out, ' ');
	}
	const char *quote = chance(g, 50) ? "\"" : "";
	put_fmt(out, "charset=%s%s%s", quote, label, quote);
	if (!html && chance(g, 20))
		put_str(out, "; format=flowed");
	put_eol(g, out);
	/* The raw text shrinks by the encoding's growth so the part lands near
	 * size bytes. */
	size_t raw = c == CTE_BASE64 ? size * 3 / 4 : c == CTE_QP && cs != CS_ASCII
	           ? size * 2 / 3 : size;
	g->raw.len = 0;
	gen_text(g, cs, raw > 64 ? raw : 64, html, &g->raw);
	put_body(g, out, c);
}

/* A file name: ASCII, or UTF-8 as RFC 2231 or as RFC 2047 in quotes. */
static void put_filename_params(struct gen *g, struct gen_buf *out,
                                const char *param, const char *ext, int style)
{
	put_char(out, ';');
	put_eol(g, out);
	put_char(out, '\t');
	if (style == 0) {
		put_fmt(out, "%s=\"%s-%lu.%s\"", param, PICK(g, ascii_words), g->serial++, ext);
	} else if (style == 1) {
		/* RFC 2231: 报告-N.ext in UTF-8, percent-encoded */
		put_fmt(out, "%s*=utf-8''%%E6%%8A%%A5%%E5%%91%%8A-%lu.%s", param,
		        g->serial++, ext);
	} else {
		put_fmt(out, "%s=\"", param);
		put_encoded_phrase(g, out, chance(g, 50) ? CS_UTF8 : CS_GB2312, 8);
		put_fmt(out, ".%s\"", ext);
	}
}

/* A base64 attachment (or, sometimes, a QP text/csv one) of about size
 * encoded bytes; inline with a Content-ID inside multipart/related. */
static void gen_attachment(struct gen *g, struct gen_buf *out, int depth,
                           size_t size, int inline_image)
{
	note_depth(g, depth);
	if (!inline_image && chance(g, 8)) {
		put_str(out, "Content-Type: text/csv; charset=utf-8");
		put_filename_params(g, out, "name", "csv", 0);
		put_eol(g, out);
		put_str(out, "Content-Disposition: attachment");
		put_filename_params(g, out, "filename", "csv", 0);
		put_eol(g, out);
		g->raw.len = 0;
		gen_text(g, CS_UTF8, size * 2 / 3, 0, &g->raw);
		g->st.utf8_parts++;
		put_body(g, out, CTE_QP);
		return;
	}
	const struct attach_type *t = inline_image ? &attach_types[1 + below(g, 2)]
	                                           : &attach_types[below(g, COUNT(attach_types))];
	int style = (int)below(g, 3);
	put_fmt(out, "Content-Type: %s/%s", t->type, t->subtype);
	put_filename_params(g, out, "name", t->ext, style == 1 ? 0 : style);
	put_eol(g, out);
	put_fmt(out, "Content-Disposition: %s", inline_image ? "inline" : "attachment");
	put_filename_params(g, out, "filename", t->ext, style);
	if (chance(g, 30))
		put_fmt(out, "; size=%zu", size * 3 / 4);
	put_eol(g, out);
	if (inline_image) {
		put_fmt(out, "Content-ID: <image%lu.%08x@%s>", g->serial++,
		        (unsigned)gen_rand(g), PICK(g, domains));
		put_eol(g, out);
	}
	size_t raw = size / 78 * 57 + size % 78 * 3 / 4;
	gen_buf_reserve(&g->raw, raw);
	gen_random_bytes(g, g->raw.data, raw);
	g->raw.len = raw;
	put_body(g, out, CTE_BASE64);
}

static void gen_entity(struct gen *g, struct gen_buf *out, int depth,
                       size_t size, int top);

/* Writes the multipart header and returns its boundary in b (64 bytes). */
static void begin_multipart(struct gen *g, struct gen_buf *out, int depth,
                            const char *subtype, char *b)
{
	note_depth(g, depth);
	g->st.multiparts++;
	snprintf(b, 64, "----=_Part_%lu_%08x.%u", g->serial++, (unsigned)gen_rand(g),
	         below(g, 1000000));
	put_fmt(out, "Content-Type: multipart/%s;", subtype);
	put_eol(g, out);
	if (!strcmp(subtype, "related"))
		put_str(out, "\ttype=\"text/html\";");
	put_fmt(out, "\tboundary=\"%s\"", b);
	put_eol(g, out);
	put_eol(g, out);
	if (depth == 0 && chance(g, 60)) {
		put_str(out, "This is a multi-part message in MIME format.");
		put_eol(g, out);
		put_eol(g, out);
	}
}

static void put_delimiter(struct gen *g, struct gen_buf *out, const char *b,
                          int close)
{
	put_fmt(out, "--%s%s", b, close ? "--" : "");
	put_eol(g, out);
}

static void gen_related(struct gen *g, struct gen_buf *out, int depth, size_t size)
{
	char b[64];
	begin_multipart(g, out, depth, "related", b);
	size_t html = between(g, 1500, 20000);
	html = html < size / 2 ? html : size / 2;
	put_delimiter(g, out, b, 0);
	gen_text_leaf(g, out, depth + 1, html, 1);
	size_t n = between(g, 1, 3), rest = size > html ? size - html : 1024;
	for (size_t i = 0; i < n; i++) {
		put_delimiter(g, out, b, 0);
		gen_attachment(g, out, depth + 1, rest / n, 1);
	}
	put_delimiter(g, out, b, 1);
}

static void gen_alternative(struct gen *g, struct gen_buf *out, int depth, size_t size)
{
	char b[64];
	begin_multipart(g, out, depth, "alternative", b);
	put_delimiter(g, out, b, 0);
	gen_text_leaf(g, out, depth + 1, size * 2 / 5, 0);
	put_delimiter(g, out, b, 0);
	if (depth + 1 < GEN_MAX_DEPTH && chance(g, 25))
		gen_related(g, out, depth + 1, size * 3 / 5);
	else
		gen_text_leaf(g, out, depth + 1, size * 3 / 5, 1);
	put_delimiter(g, out, b, 1);
	if (chance(g, 10))
		put_eol(g, out); /* an epilogue of one empty line */
}

/* A forwarded message: message/rfc822 around a whole message. */
static void gen_rfc822(struct gen *g, struct gen_buf *out, int depth, size_t size)
{
	note_depth(g, depth);
	g->st.rfc822++;
	put_str(out, "Content-Type: message/rfc822");
	put_eol(g, out);
	put_str(out, "Content-Disposition: attachment;");
	put_eol(g, out);
	put_str(out, "\tfilename=\"forwarded.eml\"");
	put_eol(g, out);
	put_eol(g, out);
	size_t start = out->len;
	gen_top_header(g, out);
	size_t used = out->len - start;
	gen_entity(g, out, depth + 1, size > used + GEN_MIN_BODY ? size - used : GEN_MIN_BODY, 1);
}

static void gen_mixed(struct gen *g, struct gen_buf *out, int depth, size_t size)
{
	char b[64];
	begin_multipart(g, out, depth, "mixed", b);
	size_t body = between(g, 800, 24000);
	body = body < size / 3 ? body : size / 3;
	put_delimiter(g, out, b, 0);
	uint32_t r = below(g, 100);
	if (depth + 1 >= GEN_MAX_DEPTH || r < 30)
		gen_text_leaf(g, out, depth + 1, body, 0);
	else if (r < 80)
		gen_alternative(g, out, depth + 1, body);
	else
		gen_related(g, out, depth + 1, body);
	size_t n = between(g, 1, 4), rest = size > body ? size - body : 1024;
	/* Uneven shares, as real attachments are. */
	double w[4], sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += w[i] = 0.2 + unit(g);
	for (size_t i = 0; i < n; i++) {
		size_t share = (size_t)((double)rest * w[i] / sum);
		put_delimiter(g, out, b, 0);
		r = below(g, 100);
		if (depth + 1 < GEN_MAX_DEPTH && r < 6)
			gen_rfc822(g, out, depth + 1, share);
		else if (depth + 1 < GEN_MAX_DEPTH && r < 14)
			gen_mixed(g, out, depth + 1, share);
		else
			gen_attachment(g, out, depth + 1, share > 64 ? share : 64, 0);
	}
	put_delimiter(g, out, b, 1);
}

/* The body entity of a message (top) or a part of about size bytes. */
static void gen_entity(struct gen *g, struct gen_buf *out, int depth,
                       size_t size, int top)
{
	uint32_t r = below(g, 100);
	if (depth >= GEN_MAX_DEPTH || (top && size < 6000 && r < 50)) {
		gen_text_leaf(g, out, depth, size, chance(g, 20));
		return;
	}
	if (!top)
		r = 40 + r * 60 / 100; /* inner entities: no single text */
	if (r < 15)
		gen_text_leaf(g, out, depth, size, chance(g, 20));
	else if (r < 35)
		gen_alternative(g, out, depth, size);
	else if (r < 40)
		gen_related(g, out, depth, size);
	else
		gen_mixed(g, out, depth, size);
}

void gen_message(struct gen *g, size_t target)
{
	struct gen_buf *out = &g->out;
	out->len = 0;
	if (chance(g, 10)) {
		g->eol = "\n";
		g->eol_len = 1;
		g->st.lf_messages++;
	} else {
		g->eol = "\r\n";
		g->eol_len = 2;
	}
	gen_top_header(g, out);
	size_t used = out->len + 200;
	gen_entity(g, out, 0, target > used + GEN_MIN_BODY ? target - used : GEN_MIN_BODY, 1);
	g->st.messages++;
	g->st.bytes += out->len;
}

void gen_big_message(struct gen *g, size_t attachment)
{
	struct gen_buf *out = &g->out;
	char b[64];
	out->len = 0;
	g->eol = "\r\n";
	g->eol_len = 2;
	gen_top_header(g, out);
	begin_multipart(g, out, 0, "mixed", b);
	put_delimiter(g, out, b, 0);
	gen_text_leaf(g, out, 1, 2000, 0);
	put_delimiter(g, out, b, 0);
	note_depth(g, 1);
	put_str(out, "Content-Type: application/octet-stream; name=\"dump.bin\"");
	put_eol(g, out);
	put_str(out, "Content-Disposition: attachment; filename=\"dump.bin\"");
	put_eol(g, out);
	gen_buf_reserve(&g->raw, attachment);
	gen_random_bytes(g, g->raw.data, attachment);
	g->raw.len = attachment;
	put_body(g, out, CTE_BASE64);
	put_delimiter(g, out, b, 1);
	g->st.messages++;
	g->st.bytes += out->len;
}

void gen_text_8bit(struct gen *g, size_t n, struct gen_buf *out)
{
	g->eol = "\r\n";
	g->eol_len = 2;
	size_t start = out->len;
	while (out->len - start < n)
		text_line_utf8(g, out, 5);
}
