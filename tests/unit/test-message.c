/* Unit tests for src/msg/message.c: the MIME part tree, offsets, limits,
 * section numbers, decoding helpers, and a run over the shared corpus. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/msg/charset.h"
#include "../../src/msg/message.h"

#define CORPUS "/work/shared/corpus"

/* A copy of s with every "\n" turned into "\r\n" (the caller frees). */
static char *crlf(const char *s)
{
	struct buf b = BUF_INIT;
	for (; *s; s++) {
		if (*s == '\n')
			buf_putc(&b, '\r');
		buf_putc(&b, *s);
	}
	return buf_steal(&b, NULL);
}

/* The input in the requested line-end style: the LF original or a copy. */
static const char *variant(const char *s, int use_crlf, char **owned)
{
	*owned = use_crlf ? crlf(s) : NULL;
	return use_crlf ? *owned : s;
}

static struct msg_message *parse(const char *s)
{
	struct msg_message *m = msg_parse(s, strlen(s), NULL);
	assert_non_null(m);
	return m;
}

static void assert_range(const struct msg_message *m, size_t off, size_t len,
                         const char *want, int use_crlf)
{
	char *owned;
	const char *w = variant(want, use_crlf, &owned);
	assert_int_equal(len, strlen(w));
	assert_memory_equal(m->data + off, w, len);
	free(owned);
}

static void assert_body(const struct msg_message *m, const struct msg_part *p,
                        const char *want, int use_crlf)
{
	assert_non_null(p);
	assert_range(m, p->body_offset, p->body_len, want, use_crlf);
}

static const struct msg_part *child(const struct msg_part *p, size_t n)
{
	const struct msg_part *c = p->child;
	while (c && n-- > 0)
		c = c->next;
	assert_non_null(c);
	return c;
}

static void assert_section(const struct msg_message *m,
                           const struct msg_part *p, const char *want)
{
	struct buf b = BUF_INIT;
	assert_int_equal(msg_part_section(p, &b), 0);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
	assert_ptr_equal(msg_part_find(m, want), p);
}

static int is_multipart(const struct msg_part *p)
{
	return p->ctype.type && strcmp(p->ctype.type, "multipart") == 0;
}

/* Structural invariants every tree must keep, whatever the input. Returns
 * the number of parts. Used on crafted and on corpus messages. */
static size_t check_tree(const struct msg_message *m)
{
	size_t n = 0;
	unsigned flags = 0;
	struct buf sec = BUF_INIT, out = BUF_INIT;
	for (const struct msg_part *p = m->root; p; p = msg_part_walk(p)) {
		n++;
		flags |= p->flags;
		assert_non_null(p->ctype.type);
		assert_int_equal(p->offset + p->header_len, p->body_offset);
		assert_true(p->body_offset <= m->len);
		assert_true(p->body_len <= m->len - p->body_offset);
		size_t kids = 0, prev_end = p->body_offset;
		for (const struct msg_part *c = p->child; c; c = c->next) {
			kids++;
			assert_ptr_equal(c->parent, p);
			assert_int_equal(c->depth, p->depth + 1);
			assert_true(c->offset >= prev_end);
			prev_end = c->body_offset + c->body_len;
			assert_true(prev_end <= p->body_offset + p->body_len);
		}
		assert_int_equal(kids, p->nchildren);
		assert_true(p->preamble_offset + p->preamble_len <= m->len);
		assert_true(p->epilogue_offset + p->epilogue_len <= m->len);
		/* sections round-trip, except the multipart root of an embedded
		 * message, which shares the number of its message/rfc822 part */
		buf_reset(&sec);
		assert_int_equal(msg_part_section(p, &sec), 0);
		const struct msg_part *f = msg_part_find(m, buf_cstr(&sec));
		if (p->parent && !is_multipart(p->parent) && is_multipart(p))
			assert_ptr_equal(f, p->parent);
		else
			assert_ptr_equal(f, p);
		buf_reset(&out);
		assert_int_equal(msg_part_decode(m, p, &out), 0);
		buf_reset(&out);
		assert_true(msg_part_text(m, p, &out) >= 0);
		free(msg_part_filename(p));
		msg_part_is_attachment(p);
	}
	msg_text_part(m);
	assert_int_equal(n, m->nparts);
	assert_int_equal(flags, m->warnings);
	buf_free(&sec);
	buf_free(&out);
	return n;
}

static void test_simple(void **state)
{
	(void)state;
	for (int c = 0; c < 2; c++) {
		char *owned;
		const char *s = variant("From: a@b\nSubject: x\n\nHello\nWorld\n",
		                        c, &owned);
		struct msg_message *m = parse(s);
		const struct msg_part *r = m->root;
		assert_string_equal(r->ctype.type, "text");
		assert_string_equal(r->ctype.subtype, "plain");
		assert_string_equal(msg_ctype_param(&r->ctype, "charset"), "us-ascii");
		assert_int_equal(r->offset, 0);
		assert_int_equal(r->header_len, c ? 25 : 22);
		assert_body(m, r, "Hello\nWorld\n", c);
		assert_int_equal(r->body_lines, 2);
		assert_int_equal(r->header.count, 2);
		assert_int_equal(m->nparts, 1);
		assert_int_equal(m->warnings, 0);
		assert_int_equal(r->cte, MSG_CTE_7BIT);
		assert_section(m, r, "1");
		assert_ptr_equal(msg_part_find(m, ""), r);
		assert_null(msg_part_find(m, "2"));
		assert_null(msg_part_find(m, "1.1"));
		assert_ptr_equal(msg_text_part(m), r);
		assert_false(msg_part_is_attachment(r));
		check_tree(m);
		msg_message_free(&m);
		assert_null(m);
		free(owned);
	}
	msg_message_free(NULL);
}

static const char basic_mixed[] =
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\n"
	"\n"
	"preamble\n"
	"--b1\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-ID: < part1@x >\n"
	"Content-Description: =?utf-8?Q?caf=C3=A9?=\n"
	"\n"
	"part one\n"
	"--b1-not-quite\n"
	"x--b1\n"
	" --b1\n"
	"--b1x--\n"
	"--b1\n"
	"Content-Type: application/octet-stream\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"aGVs\n"
	"bG8=\n"
	"--b1--\n"
	"epilogue\n";

static void test_multipart_basic(void **state)
{
	(void)state;
	for (int c = 0; c < 2; c++) {
		char *owned;
		const char *s = variant(basic_mixed, c, &owned);
		struct msg_message *m = parse(s);
		const struct msg_part *r = m->root;
		assert_string_equal(r->ctype.subtype, "mixed");
		assert_int_equal(r->nchildren, 2);
		assert_int_equal(m->nparts, 3);
		assert_int_equal(m->warnings, 0);
		assert_range(m, r->preamble_offset, r->preamble_len, "preamble", c);
		assert_range(m, r->epilogue_offset, r->epilogue_len, "epilogue\n", c);

		const struct msg_part *p1 = child(r, 0), *p2 = child(r, 1);
		assert_body(m, p1, "part one\n--b1-not-quite\nx--b1\n --b1\n--b1x--", c);
		assert_int_equal(p1->body_lines, 5);
		assert_string_equal(p1->content_id, "part1@x");
		assert_string_equal(p1->description, "caf\xc3\xa9");
		assert_range(m, p1->offset, p1->header_len,
		             "Content-Type: text/plain; charset=utf-8\n"
		             "Content-ID: < part1@x >\n"
		             "Content-Description: =?utf-8?Q?caf=C3=A9?=\n\n", c);
		assert_body(m, p2, "aGVs\nbG8=", c);
		assert_int_equal(p2->cte, MSG_CTE_BASE64);
		struct buf b = BUF_INIT;
		assert_int_equal(msg_part_decode(m, p2, &b), 0);
		assert_int_equal(b.len, 5);
		assert_memory_equal(b.data, "hello", 5);
		buf_free(&b);

		assert_section(m, r, "");
		assert_section(m, p1, "1");
		assert_section(m, p2, "2");
		assert_false(msg_part_is_attachment(r));
		assert_false(msg_part_is_attachment(p1));
		assert_true(msg_part_is_attachment(p2));
		assert_ptr_equal(msg_text_part(m), p1);
		check_tree(m);
		msg_message_free(&m);
		free(owned);
	}
}

static void test_boundary_whitespace_and_empty_parts(void **state)
{
	(void)state;
	const char *s =
		"Content-Type: multipart/alternative; boundary=zz\n\n"
		"--zz \t\n"
		"\n"
		"one\n"
		"--zz\n"
		"--zz\t\n"
		"\n"
		"three\n"
		"--zz--  \t\n";
	for (int c = 0; c < 2; c++) {
		char *owned;
		struct msg_message *m = parse(variant(s, c, &owned));
		const struct msg_part *r = m->root;
		assert_int_equal(r->nchildren, 3);
		assert_int_equal(r->preamble_len, 0);
		assert_body(m, child(r, 0), "one", c);
		/* an empty part between two adjacent delimiter lines */
		assert_body(m, child(r, 1), "", c);
		assert_int_equal(child(r, 1)->body_lines, 0);
		assert_body(m, child(r, 2), "three", c);
		assert_int_equal(child(r, 2)->body_lines, 1);
		assert_int_equal(r->epilogue_len, 0);
		assert_int_equal(m->warnings, 0);
		check_tree(m);
		msg_message_free(&m);
		free(owned);
	}
}

/* RFC 2046 5.1.1: the boundary need only begin the line; text after
 * whitespace is ignored. "--zzz" (more boundary characters) is not ours. */
static void test_boundary_followed_by_text(void **state)
{
	(void)state;
	const char *s =
		"Content-Type: multipart/mixed; boundary=zz\n\n"
		"--zz ignored text\n"
		"Content-Type: text/plain\n"
		"\n"
		"first\n"
		"--zzz is content\n"
		"--zz-- trailing words\n"
		"epilogue\n";
	for (int c = 0; c < 2; c++) {
		char *owned;
		struct msg_message *m = parse(variant(s, c, &owned));
		const struct msg_part *r = m->root;
		assert_int_equal(r->nchildren, 1);
		assert_body(m, child(r, 0), "first\n--zzz is content", c);
		assert_int_equal(r->epilogue_len, c ? 10 : 9);
		assert_false(r->flags & MSG_PART_NO_END_BOUNDARY);
		check_tree(m);
		msg_message_free(&m);
		free(owned);
	}
}

static void test_missing_end_boundary(void **state)
{
	(void)state;
	const char *s =
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n"
		"--b\n\nfirst\n--b\nContent-Type: text/html\n\n<p>last\nline\n";
	for (int c = 0; c < 2; c++) {
		char *owned;
		struct msg_message *m = parse(variant(s, c, &owned));
		const struct msg_part *r = m->root;
		assert_int_equal(r->nchildren, 2);
		assert_body(m, child(r, 0), "first", c);
		assert_body(m, child(r, 1), "<p>last\nline\n", c);
		assert_true(r->flags & MSG_PART_NO_END_BOUNDARY);
		assert_true(m->warnings & MSG_PART_NO_END_BOUNDARY);
		assert_int_equal(r->epilogue_len, 0);
		check_tree(m);
		msg_message_free(&m);
		free(owned);
	}
	/* no delimiter at all: everything is preamble, no children */
	struct msg_message *m = parse("Content-Type: multipart/mixed; boundary=q\n\n"
	                              "just text\n");
	assert_int_equal(m->root->nchildren, 0);
	assert_true(m->root->flags & MSG_PART_NO_END_BOUNDARY);
	assert_range(m, m->root->preamble_offset, m->root->preamble_len,
	             "just text\n", 0);
	assert_null(msg_text_part(m));
	check_tree(m);
	msg_message_free(&m);
	/* the last delimiter line at the very end, without a line end */
	m = parse("Content-Type: multipart/mixed; boundary=q\n\n--q\n\nx\n--q--");
	assert_int_equal(m->root->nchildren, 1);
	assert_body(m, child(m->root, 0), "x", 0);
	assert_int_equal(m->warnings, 0);
	msg_message_free(&m);
}

static void test_no_boundary_and_bad_ctype(void **state)
{
	(void)state;
	struct msg_message *m = parse("Content-Type: multipart/mixed\n\nbody\n");
	assert_true(m->root->flags & MSG_PART_NO_BOUNDARY);
	assert_string_equal(m->root->ctype.type, "text");
	assert_int_equal(m->root->nchildren, 0);
	assert_ptr_equal(msg_text_part(m), m->root);
	check_tree(m);
	msg_message_free(&m);

	m = parse("Content-Type: multipart/mixed; boundary=\"\"\n\n--\nbody\n");
	assert_true(m->root->flags & MSG_PART_NO_BOUNDARY);
	msg_message_free(&m);

	m = parse("Content-Type: garbage\n\nbody\n");
	assert_true(m->root->flags & MSG_PART_BAD_CTYPE);
	assert_string_equal(m->root->ctype.type, "text");
	assert_string_equal(m->root->ctype.subtype, "plain");
	msg_message_free(&m);

	m = parse("From: a\nthis line is no field\nmore\n");
	assert_true(m->warnings & MSG_PART_BAD_HEADER);
	check_tree(m);
	msg_message_free(&m);
}

static const char digest[] =
	"Content-Type: multipart/digest; boundary=d\n"
	"\n"
	"--d\n"
	"\n"
	"From: one@x\n"
	"Subject: first\n"
	"\n"
	"first body\n"
	"--d\n"
	"Content-Type: text/plain\n"
	"\n"
	"not a message\n"
	"--d--\n";

static void test_digest(void **state)
{
	(void)state;
	for (int c = 0; c < 2; c++) {
		char *owned;
		struct msg_message *m = parse(variant(digest, c, &owned));
		const struct msg_part *p1 = child(m->root, 0), *p2 = child(m->root, 1);
		assert_string_equal(p1->ctype.type, "message");
		assert_string_equal(p1->ctype.subtype, "rfc822");
		assert_int_equal(p1->nchildren, 1);
		const struct msg_part *inner = p1->child;
		assert_non_null(msg_header_get(&inner->header, "Subject"));
		/* inside the embedded message the default is text/plain again */
		assert_string_equal(inner->ctype.type, "text");
		assert_body(m, inner, "first body", c);
		assert_string_equal(p2->ctype.type, "text");
		assert_int_equal(p2->nchildren, 0);
		assert_section(m, p1, "1");
		assert_section(m, inner, "1.1");
		assert_section(m, p2, "2");
		check_tree(m);
		msg_message_free(&m);
		free(owned);
	}
}

/* Sections of RFC 3501's kind: a message/rfc822 holding a multipart, one
 * holding a single part, and boundaries that are prefixes of each other. */
static const char nested[] =
	"Content-Type: multipart/mixed; boundary=\"outer\"\n"
	"\n"
	"--outer\n"
	"\n"
	"plain text\n"
	"--outer\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"Subject: forwarded\n"
	"Content-Type: multipart/mixed; boundary=\"outer-inner\"\n"
	"\n"
	"--outer-inner\n"
	"Content-Type: multipart/alternative; boundary=\"out\"\n"
	"\n"
	"--out\n"
	"Content-Type: text/plain\n"
	"\n"
	"alt plain\n"
	"--out\n"
	"Content-Type: text/html\n"
	"\n"
	"<b>alt html</b>\n"
	"--out--\n"
	"--outer-inner\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"Subject: deepest\n"
	"\n"
	"deep body\n"
	"--outer-inner--\n"
	"--outer\n"
	"Content-Type: image/png; name=\"a.png\"\n"
	"\n"
	"PNG\n"
	"--outer--\n";

static void test_nested_sections(void **state)
{
	(void)state;
	for (int c = 0; c < 2; c++) {
		char *owned;
		struct msg_message *m = parse(variant(nested, c, &owned));
		const struct msg_part *r = m->root;
		assert_int_equal(r->nchildren, 3);
		assert_int_equal(m->warnings, 0);
		const struct msg_part *p2 = child(r, 1);
		const struct msg_part *emb = p2->child;
		assert_non_null(emb);
		assert_int_equal(p2->nchildren, 1);
		assert_int_equal(emb->offset, p2->body_offset);
		assert_int_equal(emb->nchildren, 2);
		const struct msg_part *alt = child(emb, 0);
		const struct msg_part *fwd = child(emb, 1);
		const struct msg_part *deep = fwd->child;
		assert_body(m, child(r, 0), "plain text", c);
		assert_body(m, child(alt, 0), "alt plain", c);
		assert_body(m, child(alt, 1), "<b>alt html</b>", c);
		assert_body(m, deep, "deep body", c);
		assert_body(m, child(r, 2), "PNG", c);

		assert_section(m, child(r, 0), "1");
		assert_section(m, p2, "2");
		struct buf b = BUF_INIT;
		assert_int_equal(msg_part_section(emb, &b), 0);
		assert_string_equal(buf_cstr(&b), "2");
		buf_free(&b);
		assert_section(m, alt, "2.1");
		assert_section(m, child(alt, 0), "2.1.1");
		assert_section(m, child(alt, 1), "2.1.2");
		assert_section(m, fwd, "2.2");
		assert_section(m, deep, "2.2.1");
		assert_section(m, child(r, 2), "3");
		assert_int_equal(deep->depth, 4);

		const char *bad[] = {"0", "4", "1.1", "2.3", "2.2.2", "2.2.1.1", "1.",
		                     ".1", "2..1", "01", "a", "2.1.3", "-1", "1 ",
		                     "99999999999999999999999999"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
			assert_null(msg_part_find(m, bad[i]));

		assert_ptr_equal(msg_text_part(m), child(r, 0));
		assert_true(msg_part_is_attachment(child(r, 2)));
		assert_true(msg_part_is_attachment(p2));
		assert_false(msg_part_is_attachment(deep));
		char *name = msg_part_filename(child(r, 2));
		assert_string_equal(name, "a.png");
		free(name);
		assert_null(msg_part_filename(child(r, 0)));
		assert_int_equal(check_tree(m), 10);
		msg_message_free(&m);
		free(owned);
	}
}

static void test_rfc822_root(void **state)
{
	(void)state;
	struct msg_message *m = parse("Content-Type: message/rfc822\n\n"
	                              "Subject: inner\n\nbody\n");
	assert_section(m, m->root, "1");
	assert_section(m, m->root->child, "1.1");
	assert_body(m, m->root->child, "body\n", 0);
	assert_int_equal(m->root->body_lines, 3);
	assert_ptr_equal(msg_text_part(m), m->root->child);
	check_tree(m);
	msg_message_free(&m);

	m = parse("Content-Type: message/rfc822\n\n"
	          "Content-Type: multipart/mixed; boundary=x\n\n"
	          "--x\n\none\n--x\n\ntwo\n--x--\n");
	assert_section(m, m->root, "1");
	assert_section(m, child(m->root->child, 1), "1.2");
	assert_ptr_equal(msg_part_find(m, "1"), m->root);
	check_tree(m);
	msg_message_free(&m);

	/* base64 message/rfc822 (invalid but seen) is a leaf; message/global
	 * is parsed like rfc822 */
	m = parse("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
	          "U3ViamVjdDogeAoKYm9keQo=\n");
	assert_int_equal(m->root->nchildren, 0);
	struct buf b = BUF_INIT;
	assert_int_equal(msg_part_decode(m, m->root, &b), 0);
	assert_string_equal(buf_cstr(&b), "Subject: x\n\nbody\n");
	buf_free(&b);
	msg_message_free(&m);
	m = parse("Content-Type: message/global\n\nSubject: x\n\nbody\n");
	assert_int_equal(m->root->nchildren, 1);
	msg_message_free(&m);
}

static void test_other_multiparts(void **state)
{
	(void)state;
	const char *subtypes[] = {"related", "report", "signed", "x-foo", "alternative"};
	for (size_t i = 0; i < sizeof subtypes / sizeof subtypes[0]; i++) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "Content-Type: multipart/%s; boundary=\"=_x\";"
		           " protocol=\"application/pgp-signature\"\n\n"
		           "--=_x\nContent-Type: text/html\n\n<p>hi</p>\n"
		           "--=_x\nContent-Type: application/pgp-signature\n\nSIG\n"
		           "--=_x--\n", subtypes[i]);
		struct msg_message *m = msg_parse(b.data, b.len, NULL);
		assert_int_equal(m->root->nchildren, 2);
		assert_body(m, child(m->root, 1), "SIG", 0);
		assert_ptr_equal(msg_text_part(m), child(m->root, 0));
		check_tree(m);
		msg_message_free(&m);
		buf_free(&b);
	}
}

static void test_depth_limit(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 100; i++)
		buf_printf(&b, "%sContent-Type: multipart/mixed; boundary=\"b%d\"\n\n"
		           "--b%d\n", i ? "" : "Subject: deep\n", i, i);
	buf_puts(&b, "\ninnermost\n");
	for (int i = 99; i >= 0; i--)
		buf_printf(&b, "--b%d--\n", i);
	struct msg_message *m = msg_parse(b.data, b.len, NULL);
	assert_non_null(m);
	assert_true(m->warnings & MSG_PART_DEPTH_LIMIT);
	const struct msg_part *p = m->root;
	while (p->child)
		p = p->child;
	assert_int_equal(p->depth, 50);
	assert_true(p->flags & MSG_PART_DEPTH_LIMIT);
	assert_int_equal(check_tree(m), 51);
	msg_message_free(&m);

	/* a custom limit; and message/rfc822 nesting counts too */
	struct msg_limits lim = {3, 0, 0};
	buf_reset(&b);
	for (int i = 0; i < 1000; i++)
		buf_puts(&b, "Content-Type: message/rfc822\n\n");
	m = msg_parse(b.data, b.len, &lim);
	assert_int_equal(m->nparts, 4);
	assert_true(m->warnings & MSG_PART_DEPTH_LIMIT);
	check_tree(m);
	msg_message_free(&m);
	/* an absurd caller limit is clamped: recursion stays bounded */
	lim.max_depth = 1 << 30;
	m = msg_parse(b.data, b.len, &lim);
	assert_true(m->nparts < 1000);
	assert_true(m->warnings & MSG_PART_DEPTH_LIMIT);
	msg_message_free(&m);
	buf_free(&b);
}

static void test_part_limit(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_puts(&b, "Content-Type: multipart/mixed; boundary=p\n\n");
	while (b.len < 1000000)
		buf_puts(&b, "--p\nContent-Type: text/plain\n\nsmall body text\n");
	buf_puts(&b, "--p--\n");
	struct msg_message *m = msg_parse(b.data, b.len, NULL);
	assert_non_null(m);
	assert_int_equal(m->nparts, 10000);
	assert_int_equal(m->root->nchildren, 9999);
	assert_true(m->root->flags & MSG_PART_PART_LIMIT);
	assert_true(m->warnings & MSG_PART_PART_LIMIT);
	assert_body(m, child(m->root, 9998), "small body text", 0);
	assert_ptr_equal(msg_part_find(m, "9999"), child(m->root, 9998));
	assert_null(msg_part_find(m, "10000"));
	msg_message_free(&m);

	struct msg_limits lim = {0, 5, 0};
	m = msg_parse(b.data, b.len, &lim);
	assert_int_equal(m->nparts, 5);
	assert_int_equal(check_tree(m), 5);
	msg_message_free(&m);
	buf_free(&b);
}

static void test_degenerate_inputs(void **state)
{
	(void)state;
	struct msg_message *m = msg_parse("", 0, NULL);
	assert_non_null(m);
	assert_int_equal(m->nparts, 1);
	assert_int_equal(m->root->body_len, 0);
	assert_int_equal(m->root->body_lines, 0);
	assert_string_equal(m->root->ctype.type, "text");
	check_tree(m);
	msg_message_free(&m);

	m = msg_parse(NULL, 0, NULL);
	assert_non_null(m);
	check_tree(m);
	msg_message_free(&m);

	m = parse("\n");
	assert_int_equal(m->root->header_len, 1);
	assert_int_equal(m->root->body_len, 0);
	assert_int_equal(m->root->header.count, 0);
	check_tree(m);
	msg_message_free(&m);

	m = parse("\r\n\r\n");
	assert_int_equal(m->root->header_len, 2);
	assert_body(m, m->root, "\r\n", 0);
	assert_int_equal(m->root->body_lines, 1);
	msg_message_free(&m);

	m = parse("From: a\r\nContent-Type: multipart/mixed; boundary=x\r\n");
	assert_int_equal(m->root->body_len, 0);
	assert_int_equal(m->root->header.count, 2);
	assert_int_equal(m->root->nchildren, 0);
	check_tree(m);
	msg_message_free(&m);

	/* body lines: a last line without its line end still counts */
	m = parse("\na\nb");
	assert_int_equal(m->root->body_lines, 2);
	msg_message_free(&m);

	/* NUL bytes inside a part */
	const char nul[] = "Content-Type: multipart/mixed; boundary=n\n\n"
	                   "--n\n\na\0b\n--n--\n";
	m = msg_parse(nul, sizeof nul - 1, NULL);
	assert_int_equal(child(m->root, 0)->body_len, 3);
	check_tree(m);
	msg_message_free(&m);
}

static void test_text_and_filename(void **state)
{
	(void)state;
	const char *s =
		"Content-Type: multipart/mixed; boundary=t\n\n"
		"--t\nContent-Type: text/plain; charset=iso-8859-1\n"
		"Content-Transfer-Encoding: quoted-printable\n\ncaf=E9 =\nok\n"
		"--t\nContent-Type: text/plain; charset=gb2312\n"
		"Content-Transfer-Encoding: base64\n\nxOO6ww==\n"
		"--t\nContent-Type: text/plain\n\n\xc4\xe3\xba\xc3\xc4\xe3\xba\xc3\n"
		"--t\nContent-Type: application/octet-stream; name=\"n.bin\"\n"
		"Content-Disposition: attachment;\n"
		" filename*0*=gb2312''%C4%E3; filename*1*=%BA%C3.doc\n\nxx\n"
		"--t\nContent-Type: text/plain; name=\"=?gb2312?B?xOO6ww==?=.txt\"\n\nyy\n"
		"--t\nContent-Disposition: attachment\n\nnotes\n"
		"--t--\n";
	struct msg_message *m = parse(s);
	assert_int_equal(m->root->nchildren, 6);
	struct buf b = BUF_INIT;
	assert_int_equal(msg_part_text(m, child(m->root, 0), &b), MSG_CHARSET_OK);
	assert_string_equal(buf_cstr(&b), "caf\xc3\xa9 ok");
	buf_reset(&b);
	assert_int_equal(msg_part_text(m, child(m->root, 1), &b), MSG_CHARSET_OK);
	assert_string_equal(buf_cstr(&b), "\xe4\xbd\xa0\xe5\xa5\xbd");
	buf_reset(&b);
	/* us-ascii by default, but 8-bit: GB18030 still comes out as UTF-8 */
	assert_true(msg_part_text(m, child(m->root, 2), &b) >= 0);
	assert_string_equal(buf_cstr(&b),
	                    "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xbd\xa0\xe5\xa5\xbd");
	buf_reset(&b);

	char *name = msg_part_filename(child(m->root, 3));
	assert_string_equal(name, "\xe4\xbd\xa0\xe5\xa5\xbd.doc");
	free(name);
	name = msg_part_filename(child(m->root, 4));
	assert_string_equal(name, "\xe4\xbd\xa0\xe5\xa5\xbd.txt");
	free(name);
	assert_true(msg_part_is_attachment(child(m->root, 4)));
	assert_true(msg_part_is_attachment(child(m->root, 5)));
	assert_null(msg_part_filename(child(m->root, 5)));
	assert_ptr_equal(msg_text_part(m), child(m->root, 0));

	/* a limited output buffer fails instead of growing */
	struct buf small;
	buf_init(&small, 2);
	assert_int_equal(msg_part_decode(m, child(m->root, 0), &small), -1);
	assert_int_equal(msg_part_text(m, child(m->root, 0), &small),
	                 MSG_CHARSET_ERROR);
	buf_free(&small);
	buf_free(&b);
	check_tree(m);
	msg_message_free(&m);
}

static void test_text_part_choice(void **state)
{
	(void)state;
	struct msg_message *m = parse(
		"Content-Type: multipart/alternative; boundary=a\n\n"
		"--a\nContent-Type: text/html\n\n<p>x</p>\n"
		"--a\nContent-Type: text/plain\n\nx\n--a--\n");
	assert_ptr_equal(msg_text_part(m), child(m->root, 1));
	msg_message_free(&m);

	m = parse("Content-Type: text/html\n\n<p>only html</p>\n");
	assert_ptr_equal(msg_text_part(m), m->root);
	msg_message_free(&m);

	m = parse("Content-Type: multipart/mixed; boundary=a\n\n"
	          "--a\nContent-Type: image/png\n\nPNG\n"
	          "--a\nContent-Type: text/calendar\n\nBEGIN\n"
	          "--a\nContent-Type: multipart/alternative; boundary=b\n\n"
	          "--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n"
	          "--a\nContent-Type: text/plain; name=x.txt\n\nattached\n--a--\n");
	assert_ptr_equal(msg_text_part(m), child(child(m->root, 2), 0));
	msg_message_free(&m);

	m = parse("Content-Type: multipart/mixed; boundary=a\n\n"
	          "--a\nContent-Type: text/calendar\n\nBEGIN\n"
	          "--a\nContent-Type: application/pdf\n\n%PDF\n--a--\n");
	assert_ptr_equal(msg_text_part(m), child(m->root, 0));
	msg_message_free(&m);

	m = parse("Content-Type: application/pdf\n\n%PDF\n");
	assert_null(msg_text_part(m));
	assert_false(msg_part_is_attachment(m->root));
	msg_message_free(&m);
}

/* Every prefix of a nested message: offsets stay in bounds wherever the
 * input is cut (the heap copy lets ASan catch any over-read). */
static void test_truncations(void **state)
{
	(void)state;
	size_t n = strlen(nested);
	for (size_t i = 0; i <= n; i++) {
		char *copy = malloc(i ? i : 1);
		memcpy(copy, nested, i);
		struct msg_message *m = msg_parse(copy, i, NULL);
		assert_non_null(m);
		check_tree(m);
		msg_message_free(&m);
		free(copy);
	}
}

static int looks_like_mail(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return strcmp(name, "LICENSE") != 0 && strcmp(name, "COPYING") != 0;
	return strcmp(dot, ".eml") == 0 || strcmp(dot, ".msg") == 0 ||
	       strcmp(dot, ".txt") == 0;
}

static void parse_file(const char *path, size_t *files, size_t *parts)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	/* an exact-size heap copy so ASan sees any read past the end */
	char *copy = malloc(b.len ? b.len : 1);
	memcpy(copy, b.data ? b.data : "", b.len);
	struct msg_message *m = msg_parse(copy, b.len, NULL);
	assert_non_null(m);
	*parts += check_tree(m);
	(*files)++;
	msg_message_free(&m);
	free(copy);
	buf_free(&b);
}

static void walk_corpus(const char *dir, int depth, size_t *files, size_t *parts)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && depth < 10 && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "SOURCE.md") == 0)
			continue;
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			walk_corpus(path, depth + 1, files, parts);
		else if (S_ISREG(st.st_mode) && looks_like_mail(e->d_name))
			parse_file(path, files, parts);
	}
	if (d)
		closedir(d);
}

static void test_corpus(void **state)
{
	(void)state;
	size_t files = 0, parts = 0;
	walk_corpus(CORPUS, 0, &files, &parts);
	if (files == 0)
		skip();
	printf("corpus: %zu files, %zu parts\n", files, parts);
	assert_true(parts >= files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_multipart_basic),
		cmocka_unit_test(test_boundary_whitespace_and_empty_parts),
		cmocka_unit_test(test_boundary_followed_by_text),
		cmocka_unit_test(test_missing_end_boundary),
		cmocka_unit_test(test_no_boundary_and_bad_ctype),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_nested_sections),
		cmocka_unit_test(test_rfc822_root),
		cmocka_unit_test(test_other_multiparts),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_part_limit),
		cmocka_unit_test(test_degenerate_inputs),
		cmocka_unit_test(test_text_and_filename),
		cmocka_unit_test(test_text_part_choice),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
