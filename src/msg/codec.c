/* codec: base64 and quoted-printable (RFC 2045), see codec.h. The base64
 * decoder has a fast path (SSSE3 when the CPU has it, else four characters
 * at a time) for clean input and a careful byte-wise path for the rest. */
#include "codec.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CODEC_HAVE_SSSE3 1
#endif

enum {
	XX = 0xff, /* not in the alphabet: skipped and counted */
	WS = 0xfe, /* whitespace: skipped silently */
	PD = 0xfd, /* '=': end of data */
};

static const unsigned char base64_value[256] = {
	XX, XX, XX, XX, XX, XX, XX, XX, XX, WS, WS, WS, WS, WS, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
	WS, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, 62, XX, XX, XX, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, XX, XX, XX, PD, XX, XX,
	XX,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, XX, XX, XX, XX, XX,
	XX, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, XX, XX, XX, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
};

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#ifdef CODEC_HAVE_SSSE3
/* The SIMD decoders follow Mula and Lemire's pshufb method: a character is
 * in the alphabet when the lookups by its low and high nibble share no bit;
 * a third lookup by high nibble gives the offset to its 6-bit value. */
#define B64_LUT_LO 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, \
	0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a
#define B64_LUT_HI 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, \
	0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10
#define B64_LUT_ROLL 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0
#define B64_PACK 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1

/* Decodes in[0..16) to 16 bytes at dst, of which 3/4 of the valid prefix
 * count. Returns the mask of characters outside the alphabet. */
__attribute__((target("ssse3")))
static inline unsigned base64_step16(const unsigned char *in, unsigned char *dst)
{
	const __m128i mask_2f = _mm_set1_epi8(0x2f);
	__m128i s = _mm_loadu_si128((const __m128i *)(const void *)in);
	__m128i hi_nib = _mm_and_si128(_mm_srli_epi32(s, 4), mask_2f);
	__m128i lo_nib = _mm_and_si128(s, mask_2f);
	__m128i hi = _mm_shuffle_epi8(_mm_setr_epi8(B64_LUT_HI), hi_nib);
	__m128i lo = _mm_shuffle_epi8(_mm_setr_epi8(B64_LUT_LO), lo_nib);
	unsigned bad = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		_mm_and_si128(lo, hi), _mm_setzero_si128())) ^ 0xffffu;
	__m128i eq_2f = _mm_cmpeq_epi8(s, mask_2f);
	__m128i roll = _mm_shuffle_epi8(_mm_setr_epi8(B64_LUT_ROLL),
	                                _mm_add_epi8(eq_2f, hi_nib));
	s = _mm_add_epi8(s, roll);
	s = _mm_maddubs_epi16(s, _mm_set1_epi32(0x01400140));
	s = _mm_madd_epi16(s, _mm_set1_epi32(0x00011000));
	s = _mm_shuffle_epi8(s, _mm_setr_epi8(B64_PACK));
	_mm_storeu_si128((__m128i *)(void *)dst, s);
	return bad;
}

/* After a step met a bad character: keeps the whole groups before it, then
 * skips whitespace (line ends sit between groups). Returns how far the
 * input got, or 0 when the careful path must take over. */
static inline size_t base64_after_bad(const unsigned char *in, size_t n,
                                      unsigned bad, unsigned char **dst)
{
	size_t take = (size_t)__builtin_ctz(bad) / 4 * 4;
	size_t i = take;
	*dst += take / 4 * 3;
	while (i < n && base64_value[in[i]] == WS)
		i++;
	return i == take ? 0 : i;
}

/* 16 characters per step; every store writes 16 bytes, more than the 12
 * decoded: keeping 24 input characters in hand keeps those stores inside
 * the MSG_BASE64_DECODED_MAX room. Returns the input consumed, *o advances. */
__attribute__((target("ssse3")))
static size_t base64_decode_ssse3(const unsigned char *in, size_t n,
                                  unsigned char *out, size_t *o)
{
	size_t i = 0;
	unsigned char *dst = out + *o;
	while (n - i >= 24) {
		unsigned bad = base64_step16(in + i, dst);
		if (__builtin_expect(bad == 0, 1)) {
			dst += 12;
			i += 16;
			continue;
		}
		unsigned char *before = dst;
		size_t step = base64_after_bad(in + i, n - i, bad, &dst);
		if (step == 0) {
			i += (size_t)(dst - before) / 3 * 4;
			break;
		}
		i += step;
	}
	*o = (size_t)(dst - out);
	return i;
}

/* The same with 32 characters per step; a step that meets a bad character
 * is redone 16 at a time. Stores write 32 bytes for 24: 48 in hand. */
__attribute__((target("avx2")))
static size_t base64_decode_avx2(const unsigned char *in, size_t n,
                                 unsigned char *out, size_t *o)
{
	const __m256i mask_2f = _mm256_set1_epi8(0x2f);
	const __m256i lut_lo = _mm256_setr_epi8(B64_LUT_LO, B64_LUT_LO);
	const __m256i lut_hi = _mm256_setr_epi8(B64_LUT_HI, B64_LUT_HI);
	const __m256i lut_roll = _mm256_setr_epi8(B64_LUT_ROLL, B64_LUT_ROLL);
	const __m256i pack = _mm256_setr_epi8(B64_PACK, B64_PACK);
	const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, -1, -1);
	size_t i = 0;
	unsigned char *dst = out + *o;
	while (n - i >= 48) {
		__m256i s = _mm256_loadu_si256((const __m256i *)(const void *)(in + i));
		__m256i hi_nib = _mm256_and_si256(_mm256_srli_epi32(s, 4), mask_2f);
		__m256i lo_nib = _mm256_and_si256(s, mask_2f);
		__m256i hi = _mm256_shuffle_epi8(lut_hi, hi_nib);
		__m256i lo = _mm256_shuffle_epi8(lut_lo, lo_nib);
		if (!_mm256_testz_si256(lo, hi)) {
			unsigned bad = base64_step16(in + i, dst);
			if (bad == 0) {
				dst += 12;
				i += 16;
				continue;
			}
			unsigned char *before = dst;
			size_t step = base64_after_bad(in + i, n - i, bad, &dst);
			if (step == 0) {
				i += (size_t)(dst - before) / 3 * 4;
				break;
			}
			i += step;
			continue;
		}
		__m256i eq_2f = _mm256_cmpeq_epi8(s, mask_2f);
		__m256i roll = _mm256_shuffle_epi8(lut_roll,
		                                   _mm256_add_epi8(eq_2f, hi_nib));
		s = _mm256_add_epi8(s, roll);
		s = _mm256_maddubs_epi16(s, _mm256_set1_epi32(0x01400140));
		s = _mm256_madd_epi16(s, _mm256_set1_epi32(0x00011000));
		s = _mm256_shuffle_epi8(s, pack);
		s = _mm256_permutevar8x32_epi32(s, join);
		_mm256_storeu_si256((__m256i *)(void *)dst, s);
		dst += 24;
		i += 32;
	}
	*o = (size_t)(dst - out);
	return i;
}
#endif

/* Decodes whole groups of four alphabet characters, skipping whitespace
 * between groups (line ends), until something else turns up. Returns the
 * input consumed. */
static size_t base64_decode_fast(const unsigned char *in, size_t n,
                                 unsigned char *out, size_t *o)
{
	size_t i = 0;
#ifdef CODEC_HAVE_SSSE3
	int simd = n < 24 ? 0 : __builtin_cpu_supports("avx2") ? 2
	         : __builtin_cpu_supports("ssse3");
#endif
	for (;;) {
		size_t start = i;
#ifdef CODEC_HAVE_SSSE3
		if (simd == 2)
			i += base64_decode_avx2(in + i, n - i, out, o);
		if (simd)
			i += base64_decode_ssse3(in + i, n - i, out, o);
#endif
		unsigned char *dst = out + *o;
		while (n - i >= 4) {
			uint32_t a = base64_value[in[i]], b = base64_value[in[i + 1]];
			uint32_t c = base64_value[in[i + 2]], d = base64_value[in[i + 3]];
			if ((a | b | c | d) & 0xc0)
				break;
			uint32_t v = a << 18 | b << 12 | c << 6 | d;
			dst[0] = (unsigned char)(v >> 16);
			dst[1] = (unsigned char)(v >> 8);
			dst[2] = (unsigned char)v;
			dst += 3;
			i += 4;
		}
		*o = (size_t)(dst - out);
		while (i < n && base64_value[in[i]] == WS)
			i++;
		if (i == start || i >= n)
			return i;
	}
}

/* Decoder state between calls of base64_decode_step, so a caller with a
 * bounded buffer can feed the input in pieces. */
struct base64_decoder {
	uint32_t acc;   /* pending 6-bit values */
	unsigned count; /* characters in acc, 0..3 */
	size_t bad;     /* skipped non-whitespace characters */
	int done;       /* a '=' was seen: ignore the rest */
};

/* Decodes in[0..n) into out (room for MSG_BASE64_DECODED_MAX(n) bytes)
 * except the last partial group, which base64_decode_finish flushes. */
static size_t base64_decode_step(struct base64_decoder *d,
                                 const unsigned char *in, size_t n,
                                 unsigned char *out)
{
	size_t i = 0, o = 0;

	while (i < n && !d->done) {
		if (d->count == 0) {
			i += base64_decode_fast(in + i, n - i, out, &o);
			if (i >= n)
				break;
		}
		unsigned v = base64_value[in[i++]];
		if (v < 64) {
			d->acc = d->acc << 6 | v;
			if (++d->count == 4) {
				out[o++] = (unsigned char)(d->acc >> 16);
				out[o++] = (unsigned char)(d->acc >> 8);
				out[o++] = (unsigned char)d->acc;
				d->count = 0;
				d->acc = 0;
			}
		} else if (v == PD) {
			d->done = 1;
		} else if (v == XX) {
			d->bad++;
		}
	}
	return o;
}

/* Flushes a partial last group (missing padding); out needs 2 bytes. A lone
 * leftover character carries only 6 bits, not a whole byte: dropped. */
static size_t base64_decode_finish(struct base64_decoder *d, unsigned char *out)
{
	size_t o = 0;
	if (d->count == 2) {
		out[o++] = (unsigned char)(d->acc >> 4);
	} else if (d->count == 3) {
		out[o++] = (unsigned char)(d->acc >> 10);
		out[o++] = (unsigned char)(d->acc >> 2);
	}
	d->count = 0;
	return o;
}

size_t msg_base64_decode_raw(const char *in, size_t n, unsigned char *out,
                             size_t *bad)
{
	struct base64_decoder d = {0, 0, 0, 0};
	size_t o = base64_decode_step(&d, (const unsigned char *)in, n, out);
	o += base64_decode_finish(&d, out + o);
	if (bad)
		*bad = d.bad;
	return o;
}

int msg_base64_decode(const char *in, size_t n, struct buf *out, size_t *bad)
{
	if (buf_reserve(out, MSG_BASE64_DECODED_MAX(n)) == 0) {
		out->len += msg_base64_decode_raw(in, n,
			(unsigned char *)out->data + out->len, bad);
		return 0;
	}
	/* The worst case passes out->max (or memory), yet the real output may
	 * fit: decode in pieces and let buf_append enforce the limit exactly. */
	enum { piece = 4096 };
	unsigned char tmp[MSG_BASE64_DECODED_MAX(piece)];
	struct base64_decoder d = {0, 0, 0, 0};
	const unsigned char *s = (const unsigned char *)in;
	int r = 0;
	for (size_t i = 0; i < n && !d.done && r == 0; i += piece) {
		size_t take = n - i < piece ? n - i : piece;
		size_t len = base64_decode_step(&d, s + i, take, tmp);
		r = buf_append(out, tmp, len);
	}
	if (r == 0) {
		size_t len = base64_decode_finish(&d, tmp);
		r = buf_append(out, tmp, len);
	}
	if (bad)
		*bad = d.bad;
	return r;
}

/* Writes the base64 of in[0..n) (n a multiple of 3 except for the very
 * last call) to dst without line breaks; returns the characters written. */
static size_t base64_encode_run(const unsigned char *in, size_t n, char *dst)
{
	const char *a = base64_alphabet;
	char *p = dst;
	size_t i = 0;
	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		p[0] = a[v >> 18];
		p[1] = a[(v >> 12) & 63];
		p[2] = a[(v >> 6) & 63];
		p[3] = a[v & 63];
		p += 4;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		p[0] = a[v >> 18];
		p[1] = a[(v >> 12) & 63];
		p[2] = p[3] = '=';
		p += 4;
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		p[0] = a[v >> 18];
		p[1] = a[(v >> 12) & 63];
		p[2] = a[(v >> 6) & 63];
		p[3] = '=';
		p += 4;
	}
	return (size_t)(p - dst);
}

int msg_base64_encode(const void *in, size_t n, size_t line_len,
                      struct buf *out)
{
	const unsigned char *s = in;
	if (n == 0)
		return 0;
	if (n / 3 >= ((size_t)-1) / 8)
		return -1;
	/* A line length that is not a multiple of 4 would split a group;
	 * rounding down keeps every line decodable on its own. */
	if (line_len)
		line_len = line_len < 4 ? 4 : line_len / 4 * 4;
	size_t chars = (n + 2) / 3 * 4;
	size_t total = chars;
	if (line_len)
		total += (chars + line_len - 1) / line_len * 2;
	if (buf_reserve(out, total) < 0)
		return -1;

	char *p = out->data + out->len;
	if (line_len == 0) {
		p += base64_encode_run(s, n, p);
	} else {
		size_t per_line = line_len / 4 * 3; /* input bytes per line */
		for (size_t i = 0; i < n; i += per_line) {
			size_t take = n - i < per_line ? n - i : per_line;
			p += base64_encode_run(s + i, take, p);
			*p++ = '\r';
			*p++ = '\n';
		}
	}
	out->len += total;
	return 0;
}

int msg_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes the "=XX" escapes of one line's content (no line end, no soft
 * break); an "=" not followed by two hex digits stays literal, as RFC 2045
 * 6.7 (note 1) suggests for robustness. */
static int qp_decode_span(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		const char *eq = memchr(s + i, '=', n - i);
		size_t lit = eq ? (size_t)(eq - s) - i : n - i;
		if (buf_append(out, s + i, lit) < 0)
			return -1;
		i += lit;
		if (i >= n)
			break;
		if (n - i >= 3) {
			int hi = msg_hex_value((unsigned char)s[i + 1]);
			int lo = msg_hex_value((unsigned char)s[i + 2]);
			if (hi >= 0 && lo >= 0) {
				if (buf_putc(out, (char)(hi << 4 | lo)) < 0)
					return -1;
				i += 3;
				continue;
			}
		}
		if (buf_putc(out, '=') < 0)
			return -1;
		i++;
	}
	return 0;
}

int msg_qp_decode(const char *in, size_t n, struct buf *out)
{
	size_t i = 0;
	buf_reserve(out, n); /* a hint only: the appends enforce the limit */
	while (i < n) {
		const char *nl = memchr(in + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - in) : n;
		size_t content = end;
		int crlf = nl && end > i && in[end - 1] == '\r';
		if (crlf)
			content--;
		while (content > i && (in[content - 1] == ' ' || in[content - 1] == '\t'))
			content--;
		/* A final "=" can never belong to an escape (not hex): soft break. */
		int soft = content > i && in[content - 1] == '=';
		if (soft)
			content--;
		if (qp_decode_span(in + i, content - i, out) < 0)
			return -1;
		if (nl && !soft && buf_append(out, crlf ? "\r\n" : "\n", crlf ? 2 : 1) < 0)
			return -1;
		i = nl ? end + 1 : n;
	}
	return 0;
}

/* Encoder state: the output column decides soft breaks and whether "." or
 * "From " sits at a line start. */
struct qp_encoder {
	struct buf *out;
	size_t col;
	unsigned flags;
};

/* True when the byte at i is the last of its line: a space or tab there
 * would be stripped by decoders and must be encoded. */
static int qp_at_line_end(const unsigned char *s, size_t n, size_t i,
                          unsigned flags)
{
	if (i + 1 == n)
		return 1;
	if (flags & MSG_QP_BINARY)
		return 0;
	return s[i + 1] == '\n' || (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n');
}

static int qp_needs_escape(const unsigned char *s, size_t n, size_t i,
                           size_t col, int eol)
{
	unsigned char c = s[i];
	if (c == '=' || c > 126 || (c < 32 && c != '\t'))
		return 1;
	if ((c == ' ' || c == '\t') && eol)
		return 1;
	if (col == 0 && c == '.')
		return 1;
	return col == 0 && c == 'F' && n - i >= 5 && memcmp(s + i, "From ", 5) == 0;
}

/* Writes byte i literally or as =XX, first breaking the line softly when it
 * would pass 76 columns (75 plus the "=", unless it ends the line). */
static int qp_encode_byte(struct qp_encoder *e, const unsigned char *s,
                          size_t n, size_t i)
{
	static const char hex[] = "0123456789ABCDEF";
	int eol = qp_at_line_end(s, n, i, e->flags);
	int esc = qp_needs_escape(s, n, i, e->col, eol);
	size_t width = esc ? 3 : 1;
	if (e->col + width > (eol ? 76u : 75u)) {
		if (buf_append(e->out, "=\r\n", 3) < 0)
			return -1;
		e->col = 0;
		esc = qp_needs_escape(s, n, i, 0, eol);
		width = esc ? 3 : 1;
	}
	e->col += width;
	if (!esc)
		return buf_putc(e->out, (char)s[i]);
	char tok[3] = {'=', hex[s[i] >> 4], hex[s[i] & 15]};
	return buf_append(e->out, tok, 3);
}

int msg_qp_encode(const void *in, size_t n, unsigned flags, struct buf *out)
{
	const unsigned char *s = in;
	struct qp_encoder e = {out, 0, flags};
	size_t i = 0;
	while (i < n) {
		size_t line_end = 0; /* length of a hard line end at i */
		if (!(flags & MSG_QP_BINARY)) {
			if (s[i] == '\n')
				line_end = 1;
			else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
				line_end = 2;
		}
		if (line_end) {
			if (buf_append(out, "\r\n", 2) < 0)
				return -1;
			e.col = 0;
			i += line_end;
			continue;
		}
		if (qp_encode_byte(&e, s, n, i) < 0)
			return -1;
		i++;
	}
	return 0;
}
