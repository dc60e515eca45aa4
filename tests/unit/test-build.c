/* Unit tests for src/msg/build.c: exact output, structure of every
 * combination, encodings, folding limits, header injection, and a seeded
 * round trip of random messages through the parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/msg/address.h"
#include "../../src/msg/build.h"
#include "../../src/msg/date.h"
#include "../../src/msg/encword.h"
#include "../../src/msg/header.h"
#include "../../src/msg/message.h"
#include "../../src/msg/mime.h"
#include "../../src/msg/msgid.h"

/* 2004-12-04 08:18:08 UTC, shown at +0800 as in the seeds. */
#define FIXED_DATE 1102148288

static struct msg_builder *new_builder(void)
{
	struct msg_builder *b = msg_builder_new();
	assert_non_null(b);
	assert_int_equal(msg_builder_add_address(b, "From", "Alice Example",
	                                         "alice@example.com"), 0);
	assert_int_equal(msg_builder_add_address(b, "To", NULL,
	                                         "bob@example.org"), 0);
	assert_int_equal(msg_builder_set_date(b, FIXED_DATE, 480), 0);
	assert_int_equal(msg_builder_set_message_id(b, "1@example.com"), 0);
	return b;
}

/* Writes b into out (reset first) and returns the NUL-terminated text. */
static char *build(struct msg_builder *b, struct buf *out)
{
	buf_reset(out);
	int r = msg_builder_write(b, out);
	if (r != 0)
		fail_msg("write failed: %s", msg_builder_error(b));
	return buf_cstr(out);
}

static bool has_message_ancestor(const struct msg_part *p)
{
	for (p = p->parent; p; p = p->parent)
		if (p->ctype.type && strcmp(p->ctype.type, "message") == 0)
			return true;
	return false;
}

/* A header line over 78 columns is allowed only when nothing in it could
 * have been folded: no space after its first word. */
static void check_header_line(const char *line, size_t len, bool first)
{
	assert_true(len <= 998);
	if (len <= 78)
		return;
	size_t i = 0;
	if (first) {
		while (i < len && line[i] != ':')
			i++;
		i++;
	}
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (memchr(line + i, ' ', len - i))
		fail_msg("foldable header line of %zu columns: %.*s", len,
		         (int)len, line);
}

static void check_header_block(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - s) : len;
		size_t line = end - i - (end > i && s[end - 1] == '\r');
		if (line == 0)
			break;
		check_header_line(s + i, line, s[i] != ' ' && s[i] != '\t');
		i = end + 1;
	}
}

/* Every line ends in CRLF and fits in 998 octets; every header we wrote
 * obeys check_header_line. */
static void check_output(const char *s, size_t len)
{
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < len && s[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(s[i] != '\n');
		col++;
		assert_true(col <= 998);
	}
	assert_true(len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n');
	struct msg_message *m = msg_parse(s, len, NULL);
	assert_non_null(m);
	for (const struct msg_part *p = m->root; p; p = msg_part_walk(p))
		if (!has_message_ancestor(p))
			check_header_block(s + p->offset, p->header_len);
	msg_message_free(&m);
}

/* "multipart/mixed(text/plain,image/png)" for the tree under p. */
static void describe(const struct msg_part *p, struct buf *out)
{
	buf_printf(out, "%s/%s", p->ctype.type, p->ctype.subtype);
	if (!p->child)
		return;
	buf_putc(out, '(');
	for (const struct msg_part *c = p->child; c; c = c->next) {
		describe(c, out);
		if (c->next)
			buf_putc(out, ',');
	}
	buf_putc(out, ')');
}

static void assert_structure(const char *msg, size_t len, const char *want)
{
	check_output(msg, len);
	struct msg_message *m = msg_parse(msg, len, NULL);
	assert_non_null(m);
	assert_int_equal(m->warnings, 0);
	struct buf d = BUF_INIT;
	describe(m->root, &d);
	assert_string_equal(buf_cstr(&d), want);
	buf_free(&d);
	msg_message_free(&m);
}

/* The unfolded value of the first field name in the top header. */
static char *top_field(const char *msg, size_t len, const char *name)
{
	struct msg_header h = {0};
	assert_int_equal(msg_header_parse(msg, len, 0, &h), 0);
	char *v = msg_header_value(&h, name);
	msg_header_free(&h);
	return v;
}

static void assert_top_field(const char *msg, const char *name,
                             const char *want)
{
	char *v = top_field(msg, strlen(msg), name);
	if (!want) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

/* The decoded text of an unstructured field (Subject). */
static char *decoded_field(const char *msg, size_t len, const char *name)
{
	char *v = top_field(msg, len, name);
	assert_non_null(v);
	struct buf d = BUF_INIT;
	assert_true(msg_encword_decode(v, strlen(v), &d) >= 0);
	free(v);
	return buf_steal(&d, NULL);
}

/* ---- exact output --------------------------------------------------- */

static void test_simple_exact(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	static const char text[] = "Hi Bob,\nsee you at noon.\n";
	assert_int_equal(msg_builder_set_subject(b, "Lunch"), 0);
	assert_int_equal(msg_builder_set_text(b, text, strlen(text)), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	assert_string_equal(msg,
		"Date: Sat, 04 Dec 2004 16:18:08 +0800\r\n"
		"From: Alice Example <alice@example.com>\r\n"
		"To: bob@example.org\r\n"
		"Subject: Lunch\r\n"
		"Message-ID: <1@example.com>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=us-ascii\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"Hi Bob,\r\n"
		"see you at noon.\r\n");
	buf_free(&out);
	msg_builder_free(&b);
	assert_null(b);
}

/* Appending: write adds to what out holds, and an empty text without a
 * final line end gets none. */
static void test_write_appends(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	struct buf out = BUF_INIT;
	buf_puts(&out, "X");
	assert_int_equal(msg_builder_write(b, &out), 0);
	const char *msg = buf_cstr(&out);
	assert_true(strncmp(msg, "XDate: ", 7) == 0);
	size_t n = strlen(msg);
	assert_true(n > 4 && strcmp(msg + n - 4, "\r\n\r\n") == 0);
	buf_free(&out);
	msg_builder_free(&b);
}

/* ---- structure of each combination ----------------------------------- */

static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

static void test_structure_combinations(void **state)
{
	(void)state;
	static const struct {
		bool text, html, attachment, cid, forward;
		const char *want;
	} cases[] = {
		{true, false, false, false, false, "text/plain"},
		{false, true, false, false, false, "text/html"},
		{true, true, false, false, false,
		 "multipart/alternative(text/plain,text/html)"},
		{true, false, true, false, false,
		 "multipart/mixed(text/plain,application/pdf)"},
		{true, true, true, false, false,
		 "multipart/mixed(multipart/alternative(text/plain,text/html),application/pdf)"},
		{true, true, false, true, false,
		 "multipart/alternative(text/plain,multipart/related(text/html,image/png))"},
		{false, true, false, true, false,
		 "multipart/related(text/html,image/png)"},
		{true, true, true, true, false,
		 "multipart/mixed(multipart/alternative(text/plain,"
		 "multipart/related(text/html,image/png)),application/pdf)"},
		/* an inline image without HTML is an ordinary attachment */
		{true, false, false, true, false,
		 "multipart/mixed(text/plain,image/png)"},
		{true, false, false, false, true,
		 "multipart/mixed(text/plain,message/rfc822(text/plain))"},
		{false, false, true, false, false, "multipart/mixed(application/pdf)"},
		{false, false, false, false, false, "text/plain"},
	};
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct msg_builder *b = new_builder();
		if (cases[i].text)
			assert_int_equal(msg_builder_set_text(b, "hello\n", 6), 0);
		if (cases[i].html)
			assert_int_equal(msg_builder_set_html(b, "<p>hi</p>", 9), 0);
		if (cases[i].attachment)
			assert_int_equal(msg_builder_attach(b, "%PDF-1.4", 8,
			                 "a.pdf", "application/pdf", 0, NULL), 0);
		if (cases[i].cid)
			assert_int_equal(msg_builder_attach(b, png, sizeof png - 1,
			                 "logo.png", "image/png", 1, "logo@x"), 0);
		if (cases[i].forward) {
			static const char fwd[] = "From: c@d\nSubject: old\n\nold text\n";
			assert_int_equal(msg_builder_attach_message(b, fwd,
			                 strlen(fwd)), 0);
		}
		const char *msg = build(b, &out);
		assert_structure(msg, out.len, cases[i].want);
		msg_builder_free(&b);
	}
	buf_free(&out);
}

/* The related part names its root type, the inline part its Content-ID and
 * disposition, and the parser finds them. */
static void test_related_details(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	assert_int_equal(msg_builder_set_text(b, "t\n", 2), 0);
	assert_int_equal(msg_builder_set_html(b, "<img src=\"cid:logo@x\">", 22), 0);
	assert_int_equal(msg_builder_attach(b, png, sizeof png - 1, "logo.png",
	                                    "image/png", 1, "logo@x"), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	struct msg_message *m = msg_parse(msg, out.len, NULL);
	const struct msg_part *rel = m->root->child->next;
	assert_string_equal(rel->ctype.subtype, "related");
	assert_string_equal(msg_ctype_param(&rel->ctype, "type"), "text/html");
	const struct msg_part *img = rel->child->next;
	assert_string_equal(img->content_id, "logo@x");
	assert_string_equal(img->disposition.type, "inline");
	assert_int_equal(img->cte, MSG_CTE_BASE64);
	struct buf d = BUF_INIT;
	assert_int_equal(msg_part_decode(m, img, &d), 0);
	assert_int_equal(d.len, sizeof png - 1);
	assert_memory_equal(d.data, png, d.len);
	buf_free(&d);
	msg_message_free(&m);
	buf_free(&out);
	msg_builder_free(&b);
}

/* ---- body encodings ---------------------------------------------------- */

/* Parses msg, finds the text part and checks its encoding, charset and
 * decoded text. */
static void assert_text(const char *msg, size_t len, enum msg_cte cte,
                        const char *charset, const char *want)
{
	struct msg_message *m = msg_parse(msg, len, NULL);
	const struct msg_part *p = msg_text_part(m);
	assert_non_null(p);
	assert_int_equal(p->cte, cte);
	assert_string_equal(msg_ctype_param(&p->ctype, "charset"), charset);
	struct buf t = BUF_INIT;
	assert_int_equal(msg_part_text(m, p, &t), 0);
	assert_int_equal(t.len, strlen(want));
	assert_memory_equal(t.data, want, t.len);
	buf_free(&t);
	msg_message_free(&m);
}

static void test_body_encodings(void **state)
{
	(void)state;
	char long_line[1200];
	memset(long_line, 'x', sizeof long_line);
	static const struct {
		const char *in;
		size_t len;
		enum msg_cte cte;
		const char *charset, *want;
	} cases[] = {
		{"plain\r\nascii", 12, MSG_CTE_7BIT, "us-ascii", "plain\r\nascii\r\n"},
		{"中文正文\n第二行\n", 0, MSG_CTE_QP, "utf-8", "中文正文\r\n第二行\r\n"},
		{"bare\rcr\n", 0, MSG_CTE_QP, "utf-8", "bare\rcr\r\n"},
		{"nul\0byte\n", 9, MSG_CTE_QP, "utf-8", NULL},
		{".dot\nFrom me\ntrail  \n", 0, MSG_CTE_7BIT, "us-ascii",
		 ".dot\r\nFrom me\r\ntrail  \r\n"},
		{"emoji 😀 trail \t\n", 0, MSG_CTE_QP, "utf-8", "emoji 😀 trail \t\r\n"},
	};
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct msg_builder *b = new_builder();
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		assert_int_equal(msg_builder_set_text(b, cases[i].in, len), 0);
		const char *msg = build(b, &out);
		check_output(msg, out.len);
		if (cases[i].want)
			assert_text(msg, out.len, cases[i].cte, cases[i].charset,
			            cases[i].want);
		else
			assert_non_null(strstr(msg, "nul=00byte"));
		msg_builder_free(&b);
	}
	/* a 1200-column ASCII line goes quoted-printable, soft-broken */
	struct msg_builder *b = new_builder();
	assert_int_equal(msg_builder_set_text(b, long_line, sizeof long_line), 0);
	const char *msg = build(b, &out);
	check_output(msg, out.len);
	struct buf want = BUF_INIT;
	buf_append(&want, long_line, sizeof long_line);
	buf_puts(&want, "\r\n");
	assert_text(msg, out.len, MSG_CTE_QP, "utf-8", buf_cstr(&want));
	buf_free(&want);
	buf_free(&out);
	msg_builder_free(&b);
}

/* Returns the decoded bytes of the n-th leaf (pre-order) and its part. */
static const struct msg_part *leaf(const struct msg_message *m, int n)
{
	for (const struct msg_part *p = m->root; p; p = msg_part_walk(p))
		if (!p->child && n-- == 0)
			return p;
	fail_msg("no leaf %d", n);
	return NULL;
}

static void assert_decoded(const struct msg_message *m,
                           const struct msg_part *p, const void *want,
                           size_t len)
{
	struct buf d = BUF_INIT;
	assert_int_equal(msg_part_decode(m, p, &d), 0);
	assert_int_equal(d.len, len);
	if (len)
		assert_memory_equal(d.data, want, len);
	buf_free(&d);
}

/* Binary is always base64 in 76-column lines; text attachments go 7bit or
 * quoted-printable when that keeps their bytes, base64 when it would not. */
static void test_attachment_encodings(void **state)
{
	(void)state;
	unsigned char bin[3000];
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (unsigned char)(i * 7 + 3);
	static const char crlf_text[] = "a,b\r\n1,2\r\n";
	static const char lf_text[] = "a,b\n1,2\n";
	static const char utf8_text[] = "名字,值\r\n张三,1";
	struct msg_builder *b = new_builder();
	assert_int_equal(msg_builder_attach(b, bin, sizeof bin, "x.bin", NULL, 0, NULL), 0);
	assert_int_equal(msg_builder_attach(b, crlf_text, strlen(crlf_text), "a.csv", "text/csv", 0, NULL), 0);
	assert_int_equal(msg_builder_attach(b, lf_text, strlen(lf_text), "b.csv", "text/csv", 0, NULL), 0);
	assert_int_equal(msg_builder_attach(b, utf8_text, strlen(utf8_text), "c.csv", "text/csv; charset=utf-8", 0, NULL), 0);
	assert_int_equal(msg_builder_attach(b, "", 0, "empty", NULL, 0, NULL), 0);
	assert_int_equal(msg_builder_attach(b, utf8_text, strlen(utf8_text), NULL, "text/plain", 0, NULL), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	check_output(msg, out.len);
	struct msg_message *m = msg_parse(msg, out.len, NULL);
	const struct msg_part *p = leaf(m, 0);
	assert_int_equal(p->cte, MSG_CTE_BASE64);
	assert_string_equal(p->ctype.type, "application");
	assert_string_equal(p->ctype.subtype, "octet-stream");
	assert_string_equal(p->disposition.type, "attachment");
	/* every base64 line but the last is exactly 76 columns */
	const char *body = msg + p->body_offset;
	assert_int_equal(strchr(body, '\r') - body, 76);
	assert_decoded(m, p, bin, sizeof bin);
	assert_int_equal(leaf(m, 1)->cte, MSG_CTE_7BIT);
	assert_decoded(m, leaf(m, 1), crlf_text, strlen(crlf_text));
	assert_int_equal(leaf(m, 2)->cte, MSG_CTE_BASE64);
	assert_decoded(m, leaf(m, 2), lf_text, strlen(lf_text));
	assert_int_equal(leaf(m, 3)->cte, MSG_CTE_QP);
	assert_string_equal(msg_ctype_param(&leaf(m, 3)->ctype, "charset"), "utf-8");
	assert_decoded(m, leaf(m, 3), utf8_text, strlen(utf8_text));
	assert_decoded(m, leaf(m, 4), "", 0);
	/* a text attachment of UTF-8 without a charset gets one */
	assert_string_equal(msg_ctype_param(&leaf(m, 5)->ctype, "charset"), "utf-8");
	assert_null(msg_ctype_param(&leaf(m, 1)->ctype, "charset"));
	assert_decoded(m, leaf(m, 5), utf8_text, strlen(utf8_text));
	msg_message_free(&m);
	buf_free(&out);
	msg_builder_free(&b);
}

/* A Chinese file name travels as RFC 2231 filename* and as an RFC 2047
 * name= for old clients; both decode to the original. */
static void test_filename_encodings(void **state)
{
	(void)state;
	static const char *const names[] = {
		"report.pdf", "my \"quoted\" file;v2.txt", "年度报告.pdf",
		"非常长的中文文件名非常长的中文文件名非常长的中文文件名非常长的中文文件名.docx",
		"mixed 中文 and ascii words.tar.gz",
	};
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		struct msg_builder *b = new_builder();
		assert_int_equal(msg_builder_attach(b, "x", 1, names[i], NULL, 0, NULL), 0);
		const char *msg = build(b, &out);
		check_output(msg, out.len);
		struct msg_message *m = msg_parse(msg, out.len, NULL);
		const struct msg_part *p = leaf(m, 0);
		char *got = msg_part_filename(p);
		assert_non_null(got);
		assert_string_equal(got, names[i]);
		free(got);
		const char *name = msg_ctype_param(&p->ctype, "name");
		assert_non_null(name);
		assert_string_equal(name, names[i]);
		/* old clients' fallback: RFC 2047 inside the quoted name */
		bool ascii = true;
		for (const char *c = names[i]; *c; c++)
			ascii &= (unsigned char)*c < 0x80;
		assert_true(ascii == !strstr(msg, "=?UTF-8?"));
		assert_non_null(strstr(msg, ascii ? "filename=" : "filename*"));
		msg_message_free(&m);
		msg_builder_free(&b);
	}
	buf_free(&out);
}

/* message/rfc822 with 7bit or 8bit chosen by scanning, CRLF normalised;
 * NULs or overlong lines fall back to application/octet-stream. */
static void test_forwarded_messages(void **state)
{
	(void)state;
	static const char ascii[] = "From: a@b\nSubject: hi\n\nbody\r\nmore\rend";
	static const char ascii_crlf[] = "From: a@b\r\nSubject: hi\r\n\r\nbody\r\nmore\r\nend";
	static const char utf8[] = "From: a@b\r\nSubject: 你好\r\n\r\n正文\r\n";
	char bad[2100];
	memcpy(bad, "Subject: x\n\n", 12);
	memset(bad + 12, 'y', sizeof bad - 12);
	struct msg_builder *b = new_builder();
	assert_int_equal(msg_builder_attach_message(b, ascii, strlen(ascii)), 0);
	assert_int_equal(msg_builder_attach_message(b, utf8, strlen(utf8)), 0);
	assert_int_equal(msg_builder_attach_message(b, bad, sizeof bad), 0);
	assert_int_equal(msg_builder_attach_message(b, "a\0b\n", 4), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	check_output(msg, out.len);
	struct msg_message *m = msg_parse(msg, out.len, NULL);
	const struct msg_part *p = m->root->child;
	assert_string_equal(p->ctype.subtype, "rfc822");
	assert_int_equal(p->cte, MSG_CTE_7BIT);
	assert_decoded(m, p, ascii_crlf, strlen(ascii_crlf));
	p = p->next;
	assert_string_equal(p->ctype.subtype, "rfc822");
	assert_int_equal(p->cte, MSG_CTE_8BIT);
	assert_decoded(m, p, utf8, strlen(utf8));
	const struct msg_part *too_long = p->next;
	for (int i = 0; i < 2; i++) {
		p = p->next;
		assert_string_equal(p->ctype.subtype, "octet-stream");
		assert_int_equal(p->cte, MSG_CTE_BASE64);
		char *name = msg_part_filename(p);
		assert_string_equal(name, "forwarded-message.eml");
		free(name);
	}
	struct buf crlf_bad = BUF_INIT;
	buf_append(&crlf_bad, "Subject: x\r\n\r\n", 14);
	buf_append(&crlf_bad, bad + 12, sizeof bad - 12);
	assert_decoded(m, too_long, crlf_bad.data, crlf_bad.len);
	assert_decoded(m, p, "a\0b\r\n", 5);
	buf_free(&crlf_bad);
	msg_message_free(&m);
	buf_free(&out);
	msg_builder_free(&b);
}

/* ---- header folding ------------------------------------------------------ */

static void assert_subject_round_trip(const char *subject)
{
	struct msg_builder *b = new_builder();
	assert_int_equal(msg_builder_set_subject(b, subject), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	check_output(msg, out.len);
	char *got = decoded_field(msg, out.len, "Subject");
	assert_string_equal(got, subject);
	free(got);
	buf_free(&out);
	msg_builder_free(&b);
}

static void test_fold_long_subjects(void **state)
{
	(void)state;
	struct buf s = BUF_INIT;
	/* 5000 characters of ordinary words: folded under 78 everywhere */
	while (s.len < 5000)
		buf_printf(&s, "%sword%zu", s.len ? " " : "", s.len % 97);
	assert_subject_round_trip(buf_cstr(&s));
	/* a single 5000-character word: encoded so it can fold */
	buf_reset(&s);
	for (int i = 0; i < 5000; i++)
		buf_putc(&s, (char)('a' + i % 26));
	assert_subject_round_trip(buf_cstr(&s));
	/* the same word between other words, with double spaces */
	buf_reset(&s);
	buf_puts(&s, "before  中文 ");
	for (int i = 0; i < 1500; i++)
		buf_putc(&s, (char)('A' + i % 26));
	buf_puts(&s, " 后 after");
	assert_subject_round_trip(buf_cstr(&s));
	/* 300 Chinese characters */
	buf_reset(&s);
	for (int i = 0; i < 300; i++)
		buf_puts(&s, i % 3 ? "邮" : "件");
	assert_subject_round_trip(buf_cstr(&s));
	/* a 200-column word is left alone on its own line */
	buf_reset(&s);
	buf_puts(&s, "see ");
	for (int i = 0; i < 200; i++)
		buf_putc(&s, 'z');
	buf_puts(&s, " now");
	assert_subject_round_trip(buf_cstr(&s));
	buf_free(&s);
}

static void test_fold_many_recipients(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	char name[64], addr[64];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof name, i % 2 ? "收件人 %d" : "Person, No. %d", i);
		snprintf(addr, sizeof addr, "user%d@example%d.com", i, i % 7);
		assert_int_equal(msg_builder_add_address(b, i % 3 ? "To" : "Cc",
		                                         name, addr), 0);
	}
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	check_output(msg, out.len);
	struct msg_address_list to = {0}, cc = {0};
	char *v = top_field(msg, out.len, "To");
	assert_int_equal(msg_address_parse(v, strlen(v), &to, NULL, NULL), 0);
	free(v);
	v = top_field(msg, out.len, "Cc");
	assert_int_equal(msg_address_parse(v, strlen(v), &cc, NULL, NULL), 0);
	free(v);
	assert_int_equal(to.count + cc.count, 201); /* + bob */
	assert_string_equal(cc.items[2].name, "Person, No. 6");
	assert_string_equal(cc.items[2].local, "user6");
	assert_string_equal(to.items[1].name, "收件人 1");
	assert_string_equal(to.items[1].domain, "example1.com");
	msg_address_list_free(&to);
	msg_address_list_free(&cc);
	buf_free(&out);
	msg_builder_free(&b);
}

static void test_references_folded(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	char id[64];
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof id, "%d.%08x@mail%d.example.net", i, i * 2654435761u, i);
		assert_int_equal(msg_builder_add_reference(b, id), 0);
	}
	assert_int_equal(msg_builder_set_in_reply_to(b, id), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	check_output(msg, out.len);
	char *v = top_field(msg, out.len, "References");
	struct msg_id_list ids = {0};
	assert_int_equal(msg_id_parse(v, strlen(v), &ids), 40);
	assert_string_equal(ids.ids[39], id);
	assert_string_equal(ids.ids[0], "0.00000000@mail0.example.net");
	msg_id_list_free(&ids);
	free(v);
	assert_non_null(strstr(msg, "\r\nIn-Reply-To: <39."));
	buf_free(&out);
	msg_builder_free(&b);
}

/* ---- validation and injection ------------------------------------------ */

static void test_header_injection_refused(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	assert_int_equal(msg_builder_set_subject(b, "hi\r\nBcc: evil@x"), -1);
	assert_non_null(strstr(msg_builder_error(b), "injection"));
	assert_int_equal(msg_builder_set_subject(b, "hi\nX: y"), -1);
	assert_int_equal(msg_builder_add_header(b, "X-Ok", "a\rb"), -1);
	assert_int_equal(msg_builder_add_header(b, "X-Bad\r\nBcc", "v"), -1);
	assert_non_null(strstr(msg_builder_error(b), "injection"));
	assert_int_equal(msg_builder_add_address(b, "To", "Eve\r\nBcc: x@y", "e@x"), -1);
	assert_int_equal(msg_builder_add_address(b, "To", NULL, "e@x\r\nBcc: y@z"), -1);
	assert_int_equal(msg_builder_set_message_id(b, "a@b>\r\nBcc: <c@d"), -1);
	assert_int_equal(msg_builder_add_reference(b, "a@b\n"), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, "a\r\nContent-Type: text/html", NULL, 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, "a", "text/plain\r\nX: y", 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, "a", NULL, 0, "c@d>\r\nX: <y"), -1);
	assert_int_equal(msg_builder_set_subject(b, "bell\a"), -1);
	/* nothing of the refused calls reached the message */
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	assert_null(strstr(msg, "evil"));
	assert_null(strstr(msg, "Bcc"));
	assert_null(strstr(msg, "X: "));
	assert_null(strstr(msg, "Subject"));
	assert_structure(msg, out.len, "text/plain");
	buf_free(&out);
	msg_builder_free(&b);
}

static void test_custom_fields(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	static const char *const owned[] = {
		"From", "to", "CC", "bcc", "Sender", "Reply-To", "Subject", "Date",
		"Message-ID", "message-id", "In-Reply-To", "References",
		"MIME-Version", "Content-Type", "content-transfer-encoding",
		"Content-Disposition",
	};
	for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) {
		assert_int_equal(msg_builder_add_header(b, owned[i], "x"), -1);
		assert_non_null(strstr(msg_builder_error(b), "builder"));
	}
	static const char *const bad_names[] = {"", "X Y", "X:Y", "X-\x7f", "Ü", "X\tY"};
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
		assert_int_equal(msg_builder_add_header(b, bad_names[i], "x"), -1);
	assert_int_equal(msg_builder_add_header(b, "X-Mailer", "posthorn 1.0"), 0);
	assert_int_equal(msg_builder_add_header(b, "X-Note", "备注 note"), 0);
	assert_int_equal(msg_builder_add_header(b, "X-Weird!#$%&'*+-.^_`|~", "ok"), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	check_output(msg, out.len);
	assert_top_field(msg, "X-Mailer", "posthorn 1.0");
	char *note = decoded_field(msg, out.len, "X-Note");
	assert_string_equal(note, "备注 note");
	free(note);
	assert_top_field(msg, "X-Weird!#$%&'*+-.^_`|~", "ok");
	/* custom fields come before the MIME fields */
	assert_true(strstr(msg, "X-Mailer") < strstr(msg, "MIME-Version"));
	buf_free(&out);
	msg_builder_free(&b);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct msg_builder *b = msg_builder_new();
	struct buf out = BUF_INIT;
	assert_int_equal(msg_builder_write(b, &out), -1);
	assert_non_null(strstr(msg_builder_error(b), "From"));
	assert_int_equal(out.len, 0);
	assert_int_equal(msg_builder_add_address(b, "Subject", NULL, "a@b"), -1);
	assert_int_equal(msg_builder_add_address(b, NULL, NULL, "a@b"), -1);
	assert_int_equal(msg_builder_add_address(b, "To", NULL, NULL), -1);
	static const char *const bad[] = {
		"nobody", "@example.com", "user@", "a@b c", "a@<b>", "a@[1.2.3.4",
		"a@b@", "tab\t@x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (msg_builder_add_address(b, "To", NULL, bad[i]) != -1)
			fail_msg("accepted address %s", bad[i]);
	assert_int_equal(msg_builder_add_address(b, "to", NULL, "a@[192.0.2.1]"), 0);
	assert_int_equal(msg_builder_add_address(b, "Sender", NULL, "s@x"), 0);
	assert_int_equal(msg_builder_add_address(b, "Sender", NULL, "t@x"), -1);
	assert_int_equal(msg_builder_set_subject(b, "\xff\xfe bad utf-8"), -1);
	assert_int_equal(msg_builder_set_subject(b, NULL), -1);
	assert_int_equal(msg_builder_set_text(b, "\xc3\x28", 2), -1);
	assert_int_equal(msg_builder_set_text(b, NULL, 3), -1);
	assert_int_equal(msg_builder_set_message_id(b, ""), -1);
	assert_int_equal(msg_builder_set_message_id(b, "a b@c"), -1);
	assert_int_equal(msg_builder_set_message_id(b, "<a@b>"), -1);
	assert_int_equal(msg_builder_set_date(b, INT64_MAX / 2, 0), -1);
	assert_int_equal(msg_builder_set_date(b, 0, 24 * 60), -1);
	assert_int_equal(msg_builder_attach(b, NULL, 5, "a", NULL, 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, "", NULL, 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, NULL, "image", 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, NULL, "image/", 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, NULL, "im age/png", 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, NULL, "message/rfc822", 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, NULL, "multipart/mixed", 0, NULL), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, NULL, NULL, 0, ""), -1);
	assert_int_equal(msg_builder_attach_message(b, NULL, 3), -1);
	char big[1000];
	memset(big, 'n', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(msg_builder_add_address(b, "To", big, "a@b"), -1);
	assert_int_equal(msg_builder_attach(b, "x", 1, big, NULL, 0, NULL), -1);
	assert_int_equal(msg_builder_set_message_id(b, big), -1);
	/* still no From: still no message, and out untouched */
	assert_int_equal(msg_builder_write(b, &out), -1);
	assert_int_equal(out.len, 0);
	msg_builder_free(&b);
	msg_builder_free(&b); /* NULL is fine */
	buf_free(&out);
}

/* A buffer limit makes write fail and leaves out as it was. */
static void test_output_limit(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	unsigned char data[4096] = {0};
	assert_int_equal(msg_builder_attach(b, data, sizeof data, "z", NULL, 0, NULL), 0);
	struct buf out;
	buf_init(&out, 2000);
	buf_puts(&out, "keep");
	assert_int_equal(msg_builder_write(b, &out), -1);
	assert_int_equal(out.len, 4);
	buf_free(&out);
	msg_builder_free(&b);
}

static void test_bcc_and_recipients(void **state)
{
	(void)state;
	struct msg_builder *b = new_builder();
	assert_int_equal(msg_builder_add_address(b, "Cc", "Carol", "carol@example.net"), 0);
	assert_int_equal(msg_builder_add_address(b, "Bcc", "Dave", "dave@example.net"), 0);
	assert_int_equal(msg_builder_add_address(b, "Reply-To", NULL, "list@example.com"), 0);
	assert_int_equal(msg_builder_add_address(b, "Bcc", NULL, "odd local@example.net"), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	assert_null(strstr(msg, "Bcc"));
	assert_null(strstr(msg, "dave"));
	assert_top_field(msg, "Reply-To", "list@example.com");
	struct buf rcpt = BUF_INIT;
	assert_int_equal(msg_builder_recipients(b, &rcpt), 0);
	assert_string_equal(buf_cstr(&rcpt),
		"bob@example.org\ncarol@example.net\ndave@example.net\n"
		"\"odd local\"@example.net\n");
	msg_builder_keep_bcc(b, 1);
	msg = build(b, &out);
	assert_top_field(msg, "Bcc", "Dave <dave@example.net>, \"odd local\"@example.net");
	buf_free(&rcpt);
	buf_free(&out);
	msg_builder_free(&b);
}

/* Without set_date and set_message_id: now, and an id at the From domain. */
static void test_defaults(void **state)
{
	(void)state;
	struct msg_builder *b = msg_builder_new();
	assert_int_equal(msg_builder_add_address(b, "From", NULL, "me@mail.example.com"), 0);
	struct buf out = BUF_INIT;
	time_t before = time(NULL);
	const char *msg = build(b, &out);
	char *date = top_field(msg, out.len, "Date");
	int64_t utc;
	int offset;
	assert_int_equal(msg_date_parse(date, strlen(date), &utc, &offset), 0);
	assert_true(utc >= before && utc <= time(NULL));
	assert_int_equal(offset, 0);
	free(date);
	char *id = top_field(msg, out.len, "Message-ID");
	size_t n = strlen(id);
	assert_true(id[0] == '<' && n > 22);
	assert_string_equal(id + n - 18, "@mail.example.com>");
	char *id2 = top_field(build(b, &out), out.len, "Message-ID");
	assert_string_not_equal(id, id2);
	free(id);
	free(id2);
	buf_free(&out);
	msg_builder_free(&b);
}

/* Content that imitates our boundaries does not break the structure. */
static void test_boundary_lookalikes(void **state)
{
	(void)state;
	struct buf text = BUF_INIT;
	for (int i = 0; i < 50; i++)
		buf_printf(&text, "--=_posthorn_%024d\r\n--=_posthorn_\r\n", i);
	struct msg_builder *b = new_builder();
	assert_int_equal(msg_builder_set_text(b, text.data, text.len), 0);
	assert_int_equal(msg_builder_set_html(b, text.data, text.len), 0);
	assert_int_equal(msg_builder_attach(b, text.data, text.len, "t.txt", "text/plain", 0, NULL), 0);
	struct buf out = BUF_INIT;
	const char *msg = build(b, &out);
	assert_structure(msg, out.len,
		"multipart/mixed(multipart/alternative(text/plain,text/html),text/plain)");
	struct msg_message *m = msg_parse(msg, out.len, NULL);
	assert_int_equal(m->root->child->next->cte, MSG_CTE_7BIT);
	char *boundary = strstr(msg, "boundary=\"") + 10;
	assert_int_equal(strcspn(boundary, "\""), 35);
	assert_true(strncmp(boundary, "=_posthorn_", 11) == 0);
	msg_message_free(&m);
	buf_free(&out);
	buf_free(&text);
	msg_builder_free(&b);
}

/* ---- round trip of random messages --------------------------------------- */

struct rng {
	uint64_t state;
};

/* splitmix64: tiny, fixed-seed, good enough to vary test input. */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static size_t pick(struct rng *r, size_t n)
{
	return (size_t)(rng_next(r) % n);
}

#define PICK(r, array) ((array)[pick(r, sizeof (array) / sizeof *(array))])

static const char *const subject_words[] = {
	"Hello", "Re:", "meeting", "会议", "通知", "😀", "🎉👍", "naïve", "100%",
	"a=b", "?", "(note)", "\"quoted\"", "[list]", "中文English混合", "x_y",
	"Grüße", "日本語", "_", "=", "é", "Ω≈ç√",
};

static const char *const name_words[] = {
	"John", "O'Brien", "Doe,", "Jr.", "\"Q\"", "a\\b", "(x)", "<y>", "@", "李",
	"小明", "Müller", "😀", ";", ":", ".", "[z]", "Anne-Marie", "王 五",
};

static const char *const text_lines[] = {
	"", "Hello there,", ".", ".leading dot", "From the start", "From: not a field",
	"trailing spaces   ", "trailing tab\t", "你好，世界！", "emoji 😀🎉 mixed",
	"--", "-- ", "=3D not an escape", "a\tb", "\xe2\x80\x8b zero width",
};

static void random_phrase(struct rng *r, const char *const *words,
                          size_t nwords, size_t max, struct buf *out)
{
	size_t n = 1 + pick(r, max);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ' ');
		buf_puts(out, words[pick(r, nwords)]);
	}
}

static void random_ascii_word(struct rng *r, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++)
		buf_putc(out, (char)('!' + 1 + pick(r, 93)));
}

static void random_subject(struct rng *r, struct buf *out)
{
	switch (pick(r, 8)) {
	case 0:
		return; /* empty */
	case 1: /* a long unbreakable word among others */
		buf_puts(out, "pre ");
		random_ascii_word(r, 100 + pick(r, 1500), out);
		buf_puts(out, " 后");
		return;
	case 2: /* hundreds of Chinese characters */
		for (size_t n = 50 + pick(r, 300); n > 0; n--)
			buf_puts(out, PICK(r, ((const char *const[]){"邮", "件", "测", "试"})));
		return;
	default:
		random_phrase(r, subject_words, sizeof subject_words / sizeof *subject_words,
		              30, out);
	}
}

/* Random text with LF or CRLF line ends, long lines, maybe no final line
 * end. want gets what msg_part_text must return. */
static void random_text(struct rng *r, struct buf *in, struct buf *want)
{
	size_t lines = pick(r, 40);
	for (size_t i = 0; i < lines; i++) {
		size_t start = in->len;
		if (pick(r, 10) == 0)
			random_ascii_word(r, 900 + pick(r, 2500), in);
		else if (pick(r, 20) == 0)
			buf_puts(in, "bare\rcarriage return");
		else
			buf_puts(in, PICK(r, text_lines));
		buf_append(want, in->data + start, in->len - start);
		bool last = i + 1 == lines;
		if (last && pick(r, 4) == 0) {
			if (in->len > 0 && in->data[in->len - 1] != '\n')
				buf_puts(want, "\r\n"); /* the builder ends the text */
			break;
		}
		buf_puts(in, pick(r, 2) ? "\n" : "\r\n");
		buf_puts(want, "\r\n");
	}
}

static void random_bytes(struct rng *r, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++)
		buf_putc(out, (char)rng_next(r));
}

struct expect_attachment {
	struct buf data;   /* the decoded bytes expected */
	char *filename;    /* NULL when none */
	char content_id[32];
	bool related;
};

struct expect {
	struct buf from_name, to_name, cc_name;
	char from[64], to[64], cc[64];
	struct buf subject, text, text_want, html, html_want;
	bool has_html;
	struct expect_attachment att[8];
	size_t natt;
};

static void random_filename(struct rng *r, struct buf *out)
{
	static const char *const stems[] = {
		"报告", "photo", "年度 总结", "data set", "résumé", "😀", "a;b=c",
		"很长的文件名很长的文件名很长的文件名很长的文件名", "x",
	};
	static const char *const exts[] = {".pdf", ".png", ".txt", ".tar.gz", ""};
	random_phrase(r, stems, sizeof stems / sizeof *stems, 3, out);
	buf_puts(out, PICK(r, exts));
}

static void add_random_attachment(struct rng *r, struct msg_builder *b,
                                  struct expect *e)
{
	struct expect_attachment *a = &e->att[e->natt++];
	buf_init(&a->data, 0);
	size_t size = pick(r, 4) == 0 ? pick(r, 100 * 1024 + 1) : pick(r, 2048);
	const char *type = PICK(r, ((const char *const[]){
		NULL, "image/png", "application/pdf", "text/plain", "text/csv"}));
	if (type && strncmp(type, "text/", 5) == 0 && pick(r, 2)) {
		struct buf ignored = BUF_INIT;
		random_text(r, &a->data, &ignored); /* text with LF or CRLF */
		buf_free(&ignored);
	} else {
		random_bytes(r, size, &a->data);
	}
	struct buf name = BUF_INIT;
	if (pick(r, 5)) {
		random_filename(r, &name);
		a->filename = buf_steal(&name, NULL);
	}
	a->related = e->has_html && pick(r, 3) == 0;
	if (a->related)
		snprintf(a->content_id, sizeof a->content_id, "part%zu.%u@example",
		         e->natt, (unsigned)pick(r, 100000));
	assert_int_equal(msg_builder_attach(b, a->data.data, a->data.len,
	                 a->filename, type, a->related,
	                 a->related ? a->content_id : NULL), 0);
	buf_free(&name);
}

/* A forwarded message; its expected bytes have every line end as CRLF. */
static void add_random_forward(struct rng *r, struct msg_builder *b,
                               struct expect *e)
{
	struct expect_attachment *a = &e->att[e->natt++];
	buf_init(&a->data, 0);
	struct buf raw = BUF_INIT, body = BUF_INIT, ignored = BUF_INIT;
	buf_puts(&raw, "From: someone@example.net\nSubject: 旧邮件\r\n\n");
	buf_puts(&a->data, "From: someone@example.net\r\nSubject: 旧邮件\r\n\r\n");
	random_text(r, &body, &ignored);
	if (pick(r, 6) == 0)
		buf_append(&body, "nul\0\n", 5); /* forces application/octet-stream */
	buf_append(&raw, body.data, body.len);
	for (size_t i = 0; i < body.len; i++) {
		char c = body.data[i];
		if (c == '\r' && i + 1 < body.len && body.data[i + 1] == '\n')
			continue;
		if (c == '\r' || c == '\n')
			buf_puts(&a->data, "\r\n");
		else
			buf_putc(&a->data, c);
	}
	/* the builder's own rule: NULs or lines over 998 octets cannot travel
	 * as message/rfc822 */
	size_t longest = 0;
	for (size_t i = 0, col = 0; i < a->data.len; i++) {
		col = a->data.data[i] == '\n' ? 0 : col + 1;
		if (col > longest)
			longest = col;
	}
	if (memchr(a->data.data, '\0', a->data.len) || longest > 999) /* + CR */
		a->filename = strdup("forwarded-message.eml");
	assert_int_equal(msg_builder_attach_message(b, raw.data, raw.len), 0);
	buf_free(&raw);
	buf_free(&body);
	buf_free(&ignored);
}

static void random_address(struct rng *r, const char *field, char *addr,
                           struct buf *name, struct msg_builder *b)
{
	static const char local_chars[] = "abcxyz0189.+-_";
	size_t n = 1 + pick(r, 12), i = 0;
	addr[i++] = 'u';
	for (; i < n; i++)
		addr[i] = local_chars[pick(r, sizeof local_chars - 1)];
	while (addr[i - 1] == '.')
		i--;
	for (size_t j = 1; j < i; j++) /* no ".." */
		if (addr[j] == '.' && addr[j - 1] == '.')
			addr[j] = 'd';
	snprintf(addr + i, 40, "@ex%u.example.com", (unsigned)pick(r, 1000));
	if (pick(r, 4))
		random_phrase(r, name_words, sizeof name_words / sizeof *name_words,
		              4, name);
	assert_int_equal(msg_builder_add_address(b, field,
	                 name->len ? buf_cstr(name) : NULL, addr), 0);
}

static struct msg_builder *random_message(struct rng *r, struct expect *e)
{
	memset(e, 0, sizeof *e);
	struct msg_builder *b = msg_builder_new();
	random_address(r, "From", e->from, &e->from_name, b);
	random_address(r, "To", e->to, &e->to_name, b);
	random_address(r, "Cc", e->cc, &e->cc_name, b);
	random_subject(r, &e->subject);
	assert_int_equal(msg_builder_set_subject(b, buf_cstr(&e->subject)), 0);
	random_text(r, &e->text, &e->text_want);
	assert_int_equal(msg_builder_set_text(b, e->text.data, e->text.len), 0);
	e->has_html = pick(r, 2);
	if (e->has_html) {
		buf_puts(&e->html, "<html><body>\n");
		buf_puts(&e->html_want, "<html><body>\r\n");
		random_text(r, &e->html, &e->html_want);
		assert_int_equal(msg_builder_set_html(b, e->html.data, e->html.len), 0);
	}
	for (size_t n = pick(r, 4); n > 0; n--)
		add_random_attachment(r, b, e);
	if (pick(r, 4) == 0)
		add_random_forward(r, b, e);
	return b;
}

static void expect_free(struct expect *e)
{
	buf_free(&e->from_name);
	buf_free(&e->to_name);
	buf_free(&e->cc_name);
	buf_free(&e->subject);
	buf_free(&e->text);
	buf_free(&e->text_want);
	buf_free(&e->html);
	buf_free(&e->html_want);
	for (size_t i = 0; i < e->natt; i++) {
		buf_free(&e->att[i].data);
		free(e->att[i].filename);
	}
}

static void check_address(const char *msg, size_t len, const char *field,
                          struct buf *name, const char *addr)
{
	char *v = top_field(msg, len, field);
	assert_non_null(v);
	struct msg_address_list l = {0};
	if (msg_address_parse(v, strlen(v), &l, NULL, NULL) != 0 || l.count != 1)
		fail_msg("%s: cannot parse %s", field, v);
	struct buf spec = BUF_INIT;
	msg_address_spec(&l.items[0], &spec);
	assert_string_equal(buf_cstr(&spec), addr);
	if (strcmp(l.items[0].name, buf_cstr(name)) != 0)
		fail_msg("%s: name [%s] came back as [%s] from %s", field,
		         buf_cstr(name), l.items[0].name, v);
	buf_free(&spec);
	msg_address_list_free(&l);
	free(v);
}

static void check_text_part(const struct msg_message *m,
                            const struct msg_part *p, struct buf *want)
{
	assert_non_null(p);
	struct buf t = BUF_INIT;
	assert_int_equal(msg_part_text(m, p, &t), 0);
	if (t.len != want->len || (t.len && memcmp(t.data, want->data, t.len))) {
		size_t i = 0;
		while (i < t.len && i < want->len && t.data[i] == want->data[i])
			i++;
		fail_msg("text differs at %zu: %zu vs %zu bytes: [%.40s] vs [%.40s]",
		         i, t.len, want->len, buf_cstr(&t) + i, buf_cstr(want) + i);
	}
	buf_free(&t);
}

/* Attachments in document order: related ones first, as the builder puts
 * them with the HTML, then the rest. */
static void check_attachments(const struct msg_message *m, struct expect *e)
{
	struct expect_attachment *order[8];
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < e->natt; i++)
			if (e->att[i].related == (pass == 0))
				order[n++] = &e->att[i];
	size_t seen = 0;
	for (const struct msg_part *p = m->root; p; p = msg_part_walk(p)) {
		if (!p->disposition.type || has_message_ancestor(p))
			continue;
		assert_true(seen < n);
		struct expect_attachment *a = order[seen++];
		assert_decoded(m, p, a->data.data, a->data.len);
		char *name = msg_part_filename(p);
		if (a->filename)
			assert_string_equal(name ? name : "(none)", a->filename);
		else
			assert_null(name);
		free(name);
		if (a->related)
			assert_string_equal(p->content_id, a->content_id);
	}
	assert_int_equal(seen, n);
}

static void check_round_trip(const char *msg, size_t len, struct expect *e)
{
	check_output(msg, len);
	struct msg_message *m = msg_parse(msg, len, NULL);
	assert_non_null(m);
	assert_int_equal(m->warnings, 0);
	check_address(msg, len, "From", &e->from_name, e->from);
	check_address(msg, len, "To", &e->to_name, e->to);
	check_address(msg, len, "Cc", &e->cc_name, e->cc);
	char *subject = decoded_field(msg, len, "Subject");
	assert_string_equal(subject, buf_cstr(&e->subject));
	free(subject);
	check_text_part(m, msg_text_part(m), &e->text_want);
	if (e->has_html) {
		const struct msg_part *p = m->root;
		for (; p; p = msg_part_walk(p))
			if (strcmp(p->ctype.subtype, "html") == 0 && !p->disposition.type)
				break;
		check_text_part(m, p, &e->html_want);
	}
	check_attachments(m, e);
	msg_message_free(&m);
}

static void test_round_trip_random(void **state)
{
	(void)state;
	struct rng r = {20041204};
	struct buf out = BUF_INIT;
	for (int i = 0; i < 300; i++) {
		struct expect e;
		struct msg_builder *b = random_message(&r, &e);
		const char *msg = build(b, &out);
		check_round_trip(msg, out.len, &e);
		expect_free(&e);
		msg_builder_free(&b);
	}
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_exact),
		cmocka_unit_test(test_write_appends),
		cmocka_unit_test(test_structure_combinations),
		cmocka_unit_test(test_related_details),
		cmocka_unit_test(test_body_encodings),
		cmocka_unit_test(test_attachment_encodings),
		cmocka_unit_test(test_filename_encodings),
		cmocka_unit_test(test_forwarded_messages),
		cmocka_unit_test(test_fold_long_subjects),
		cmocka_unit_test(test_fold_many_recipients),
		cmocka_unit_test(test_references_folded),
		cmocka_unit_test(test_header_injection_refused),
		cmocka_unit_test(test_custom_fields),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_output_limit),
		cmocka_unit_test(test_bcc_and_recipients),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_boundary_lookalikes),
		cmocka_unit_test(test_round_trip_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
