/* charset: MIME charset labels to UTF-8 and back with glibc iconv, plus
 * the UTF-8 validation and repair every other module leans on. */
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Labels seen in real mail and the iconv name that decodes what the sender
 * meant: the superset where one exists (GB2312 text routinely contains GBK
 * characters, "ASCII" text routinely contains UTF-8). */
static const struct {
	const char *label;
	const char *name;
} charset_aliases[] = {
	{"utf-8", "UTF-8"}, {"utf8", "UTF-8"},
	{"us-ascii", "UTF-8"}, {"ascii", "UTF-8"}, {"ansi_x3.4-1968", "UTF-8"},
	{"iso646-us", "UTF-8"}, {"us", "UTF-8"},
	{"gb2312", "GB18030"}, {"gbk", "GB18030"}, {"x-gbk", "GB18030"},
	{"cp936", "GB18030"}, {"ms936", "GB18030"}, {"windows-936", "GB18030"},
	{"gb_2312-80", "GB18030"}, {"euc-cn", "GB18030"}, {"x-euc-cn", "GB18030"},
	{"csgb2312", "GB18030"}, {"chinese", "GB18030"}, {"gb18030", "GB18030"},
	{"big5", "BIG5"}, {"x-big5", "BIG5"}, {"cn-big5", "BIG5"},
	{"csbig5", "BIG5"}, {"cp950", "BIG5"},
	{"big5-hkscs", "BIG5-HKSCS"}, {"big5hkscs", "BIG5-HKSCS"},
	{"latin1", "ISO-8859-1"}, {"l1", "ISO-8859-1"}, {"iso_8859-1", "ISO-8859-1"},
	{"latin2", "ISO-8859-2"}, {"l2", "ISO-8859-2"}, {"latin-1", "ISO-8859-1"},
	{"latin3", "ISO-8859-3"}, {"latin4", "ISO-8859-4"},
	{"latin5", "ISO-8859-9"}, {"latin6", "ISO-8859-10"},
	{"latin7", "ISO-8859-13"}, {"latin8", "ISO-8859-14"},
	{"latin9", "ISO-8859-15"}, {"latin10", "ISO-8859-16"},
	{"cyrillic", "ISO-8859-5"}, {"greek", "ISO-8859-7"},
	{"hebrew", "ISO-8859-8"}, {"arabic", "ISO-8859-6"},
	/* RFC 1556 directionality suffixes: the same bytes. */
	{"iso-8859-8-i", "ISO-8859-8"}, {"iso-8859-8-e", "ISO-8859-8"},
	{"iso-8859-6-i", "ISO-8859-6"}, {"iso-8859-6-e", "ISO-8859-6"},
	{"koi8-r", "KOI8-R"}, {"koi8r", "KOI8-R"}, {"cskoi8r", "KOI8-R"},
	{"koi8-u", "KOI8-U"},
	{"shift_jis", "CP932"}, {"shift-jis", "CP932"}, {"sjis", "CP932"},
	{"x-sjis", "CP932"}, {"ms_kanji", "CP932"}, {"cp932", "CP932"},
	{"windows-31j", "CP932"}, {"csshiftjis", "CP932"},
	{"euc-jp", "EUC-JP"}, {"x-euc-jp", "EUC-JP"}, {"eucjp", "EUC-JP"},
	{"iso-2022-jp", "ISO-2022-JP-2"}, {"csiso2022jp", "ISO-2022-JP-2"},
	{"iso-2022-kr", "ISO-2022-KR"},
	{"euc-kr", "CP949"}, {"ks_c_5601-1987", "CP949"}, {"ks_c_5601", "CP949"},
	{"ksc5601", "CP949"}, {"cp949", "CP949"}, {"korean", "CP949"},
	{"tis-620", "CP874"}, {"windows-874", "CP874"},
	{"utf-16", "UTF-16"}, {"utf-16le", "UTF-16LE"}, {"utf-16be", "UTF-16BE"},
	{"utf-32", "UTF-32"}, {"utf-32le", "UTF-32LE"}, {"utf-32be", "UTF-32BE"},
	{"utf-7", "UTF-7"}, {"unicode-1-1-utf-7", "UTF-7"},
	{"macintosh", "MACINTOSH"}, {"mac", "MACINTOSH"},
};

const char *msg_charset_canonical(const char *label)
{
	if (!label)
		return NULL;
	for (size_t i = 0; i < sizeof charset_aliases / sizeof charset_aliases[0]; i++)
		if (strcasecmp(label, charset_aliases[i].label) == 0)
			return charset_aliases[i].name;
	/* windows-125x and cp125x are spelt the same way by iconv. */
	if (strncasecmp(label, "cp125", 5) == 0 && label[5] >= '0' &&
	    label[5] <= '8' && label[6] == '\0') {
		static const char *const windows[] = {
			"WINDOWS-1250", "WINDOWS-1251", "WINDOWS-1252",
			"WINDOWS-1253", "WINDOWS-1254", "WINDOWS-1255",
			"WINDOWS-1256", "WINDOWS-1257", "WINDOWS-1258",
		};
		return windows[label[5] - '0'];
	}
	return label;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is invalid;
 * then *bad gets the length of its maximal subpart (at least 1), the bytes
 * one U+FFFD replaces (Unicode 15, 3.9 "best practice"). */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	*bad = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;      /* overlong */
	else if (c == 0xed)
		hi = 0x9f;      /* surrogates */
	else if (c == 0xf0)
		lo = 0x90;      /* overlong */
	else if (c == 0xf4)
		hi = 0x8f;      /* above U+10FFFF */
	for (size_t i = 1; i < len; i++) {
		if (i >= n)
			return 0;
		unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;
		if (s[i] < min || s[i] > max)
			return 0;
		*bad = i + 1;
	}
	return len;
}

bool msg_utf8_valid(const char *in, size_t n)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, bad;
	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t len = utf8_sequence(s + i, n - i, &bad);
		if (len == 0)
			return false;
		i += len;
	}
	return true;
}

int msg_utf8_sanitize(const char *in, size_t n, struct buf *out)
{
	if (n == 0)
		return 0;
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, run = 0; /* run: start of valid bytes not yet appended */
	while (i < n) {
		size_t bad, len = s[i] < 0x80 ? 1 : utf8_sequence(s + i, n - i, &bad);
		if (len) {
			i += len;
			continue;
		}
		if (buf_append(out, in + run, i - run) < 0 ||
		    buf_append(out, "\xef\xbf\xbd", 3) < 0)
			return -1;
		i += bad;
		run = i;
	}
	return buf_append(out, in + run, n - run);
}

/* Only plain names go to iconv: no "//TRANSLIT" or "//IGNORE" suffixes
 * or paths smuggled in by a message's charset parameter. */
static bool charset_label_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 40)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':'))
			return false;
	}
	return true;
}

/* True for names that mean UTF-8 after aliasing: no iconv needed. */
static bool charset_is_utf8(const char *name)
{
	return strcasecmp(name, "UTF-8") == 0;
}

/* One iconv call into fresh room at the end of out (a NULL src flushes a
 * stateful encoder's shift state). Returns iconv's result with *err set,
 * or -2 when out is full and no progress is possible. */
static int charset_iconv_step(iconv_t cd, char **src, size_t *left,
                              struct buf *out, int *err)
{
	size_t chunk = 4096;
	if (out->max && out->max - out->len < chunk)
		chunk = out->max - out->len;
	if (chunk == 0 || buf_reserve(out, chunk) < 0)
		return -2;
	char *dst = out->data + out->len;
	size_t room = chunk;
	size_t r = iconv(cd, src, left, &dst, &room);
	*err = errno;
	out->len += chunk - room;
	if (r != (size_t)-1)
		return 0;
	/* E2BIG without progress: the next character cannot fit in out. */
	if (*err == E2BIG && room == chunk)
		return -2;
	return -1;
}

/* Runs iconv over in[0..n) into out. On a sequence it cannot convert it
 * appends replacement and skips skip(at) bytes, so the loop always moves
 * forward. Returns 0, 1 when something was replaced, -1 on out's limit. */
static int charset_iconv(iconv_t cd, const char *in, size_t n,
                         const char *replacement,
                         size_t (*skip)(const char *, size_t),
                         struct buf *out)
{
	char *src = (char *)in;
	size_t left = n;
	int lossy = 0, err = 0;
	while (left > 0) {
		int r = charset_iconv_step(cd, &src, &left, out, &err);
		if (r == -2 || (r < 0 && err != E2BIG && err != EILSEQ &&
		                err != EINVAL))
			return -1;
		if (r == 0 || err == E2BIG)
			continue;
		/* EINVAL: a sequence cut off by the end of the input. */
		size_t step = err == EINVAL ? left : skip(src, left);
		if (buf_puts(out, replacement) < 0)
			return -1;
		lossy = 1;
		src += step;
		left -= step;
	}
	for (;;) {
		int r = charset_iconv_step(cd, NULL, NULL, out, &err);
		if (r == 0)
			return lossy;
		if (r == -2 || err != E2BIG)
			return -1;
	}
}

/* Decoding: skip one byte of a bad multibyte sequence and resynchronise. */
static size_t charset_skip_byte(const char *s, size_t n)
{
	(void)s;
	(void)n;
	return 1;
}

/* Encoding: skip the whole UTF-8 character that has no equivalent. */
static size_t charset_skip_utf8(const char *s, size_t n)
{
	size_t bad, len = utf8_sequence((const unsigned char *)s, n, &bad);
	return len ? len : bad;
}

enum msg_charset_result msg_charset_to_utf8(const char *charset,
                                            const char *in, size_t n,
                                            struct buf *out)
{
	if (n == 0)
		return MSG_CHARSET_OK;
	if (!charset || !*charset)
		charset = msg_charset_detect(in, n);
	const char *name = msg_charset_canonical(charset);
	if (charset_is_utf8(name)) {
		bool valid = msg_utf8_valid(in, n);
		if (msg_utf8_sanitize(in, n, out) < 0)
			return MSG_CHARSET_ERROR;
		return valid ? MSG_CHARSET_OK : MSG_CHARSET_LOSSY;
	}
	iconv_t cd = charset_label_ok(name) ? iconv_open("UTF-8", name)
	                                    : (iconv_t)-1;
	if (cd == (iconv_t)-1)
		return buf_append(out, in, n) < 0 ? MSG_CHARSET_ERROR
		                                  : MSG_CHARSET_UNKNOWN;
	size_t start = out->len;
	int r = n ? charset_iconv(cd, in, n, "\xef\xbf\xbd",
	                          charset_skip_byte, out) : 0;
	iconv_close(cd);
	if (r < 0) {
		buf_truncate(out, start);
		return MSG_CHARSET_ERROR;
	}
	return r ? MSG_CHARSET_LOSSY : MSG_CHARSET_OK;
}

enum msg_charset_result msg_charset_from_utf8(const char *charset,
                                              const char *in, size_t n,
                                              struct buf *out)
{
	if (n == 0)
		return MSG_CHARSET_OK;
	const char *name = msg_charset_canonical(charset ? charset : "UTF-8");
	if (!*name || charset_is_utf8(name))
		return msg_charset_to_utf8("UTF-8", in, n, out);
	iconv_t cd = charset_label_ok(name) ? iconv_open(name, "UTF-8")
	                                    : (iconv_t)-1;
	if (cd == (iconv_t)-1)
		return buf_append(out, in, n) < 0 ? MSG_CHARSET_ERROR
		                                  : MSG_CHARSET_UNKNOWN;
	size_t start = out->len;
	int r = n ? charset_iconv(cd, in, n, "?", charset_skip_utf8, out) : 0;
	iconv_close(cd);
	if (r < 0) {
		buf_truncate(out, start);
		return MSG_CHARSET_ERROR;
	}
	return r ? MSG_CHARSET_LOSSY : MSG_CHARSET_OK;
}

/* Scores s[0..n) as GB18030: -1 when it is not well-formed (ASCII, two-byte
 * 81-FE 40-7E/80-FE, four-byte 81-FE 30-39 81-FE 30-39), else the number of
 * multibyte characters whose second byte is 8-bit minus those whose second
 * byte is ASCII. Chinese text is almost all of the first kind (GB2312 is
 * A1-FE A1-FE), while Latin-1 words such as "M\xfcller" happen to be
 * well-formed GB18030 only through the second kind. */
static long charset_gb18030_score(const unsigned char *s, size_t n)
{
	size_t i = 0;
	long score = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c == 0x80 || c == 0xff || n - i < 2)
			return -1;
		unsigned char d = s[i + 1];
		if ((d >= 0x40 && d <= 0x7e) || (d >= 0x80 && d <= 0xfe)) {
			score += d >= 0x80 ? 1 : -1;
			i += 2;
			continue;
		}
		if (d < 0x30 || d > 0x39 || n - i < 4 || s[i + 2] < 0x81 ||
		    s[i + 2] > 0xfe || s[i + 3] < 0x30 || s[i + 3] > 0x39)
			return -1;
		score++;
		i += 4;
	}
	return score;
}

const char *msg_charset_detect(const char *in, size_t n)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	while (i < n && s[i] < 0x80)
		i++;
	if (i == n)
		return "US-ASCII";
	if (msg_utf8_valid(in + i, n - i))
		return "UTF-8";
	if (charset_gb18030_score(s + i, n - i) > 0)
		return "GB18030";
	return "windows-1252";
}
