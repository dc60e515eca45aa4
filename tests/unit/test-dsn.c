/* Unit tests for src/msg/dsn.c: the report parsed back with msg_parse
 * (structure, content types, report-type, per-message and per-recipient
 * fields), headers-only vs full returns, delay warnings, hostile replies
 * and originals, folding, and the xtext and status helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/dsn.h"
#include "../../src/msg/message.h"

#define ARRIVAL 1700000000
#define NOW 1700003600

static const char original[] =
	"Received: from a by b; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.net\r\n"
	"Subject: lunch\r\n"
	"\r\n"
	"See you at noon.\r\n";

static struct dsn_rcpt bob = {
	.address = "bob@example.net", .orcpt = "rfc822;Bob@example.net",
	.action = DSN_FAILED, .status = "5.1.1", .remote_mta = "mx.example.net",
	.diagnostic = "550 5.1.1 <bob@example.net>: User unknown",
	.last_attempt = NOW,
};

static struct dsn_report base_report(const struct dsn_rcpt *rcpts, size_t n)
{
	return (struct dsn_report){
		.reporting_mta = "mail.example.org",
		.from = "MAILER-DAEMON@mail.example.org",
		.to = "alice@example.org", .envid = "QQ314159",
		.arrival = ARRIVAL, .now = NOW, .offset_min = 0,
		.original = original, .original_len = sizeof original - 1,
		.rcpts = rcpts, .nrcpts = n,
	};
}

/* Every line ends in CRLF (no bare CR or LF) and has at most 998 octets. */
static void assert_lines_ok(const struct buf *b)
{
	size_t col = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r') {
			assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(b->data[i] != '\n');
		col++;
		assert_true(col <= 998);
	}
	assert_int_equal(col, 0);
}

struct parsed {
	struct buf text;
	struct msg_message *m;
	const struct msg_part *human, *status, *orig;
};

/* Builds r, checks the lines and the multipart/report frame, and finds the
 * parts (orig NULL when there are only two). */
static void build_and_parse(const struct dsn_report *r, struct parsed *p)
{
	memset(p, 0, sizeof *p);
	struct buf why = BUF_INIT;
	assert_int_equal(dsn_build(r, &p->text, &why), 0);
	assert_int_equal(why.len, 0);
	assert_lines_ok(&p->text);
	p->m = msg_parse(p->text.data, p->text.len, NULL);
	assert_non_null(p->m);
	assert_int_equal(p->m->warnings, 0);
	const struct msg_part *root = p->m->root;
	assert_string_equal(root->ctype.type, "multipart");
	assert_string_equal(root->ctype.subtype, "report");
	assert_string_equal(msg_ctype_param(&root->ctype, "report-type"),
	                    "delivery-status");
	assert_true(root->nchildren == 2 || root->nchildren == 3);
	p->human = root->child;
	p->status = p->human->next;
	p->orig = p->status->next;
	assert_string_equal(p->human->ctype.type, "text");
	assert_string_equal(p->human->ctype.subtype, "plain");
	assert_string_equal(msg_ctype_param(&p->human->ctype, "charset"), "utf-8");
	assert_string_equal(p->status->ctype.type, "message");
	assert_string_equal(p->status->ctype.subtype, "delivery-status");
	buf_free(&why);
}

static void parsed_free(struct parsed *p)
{
	msg_message_free(&p->m);
	buf_free(&p->text);
}

/* The body of a part as a new string (the caller frees). */
static char *body(const struct parsed *p, const struct msg_part *part)
{
	char *s = malloc(part->body_len + 1);
	assert_non_null(s);
	memcpy(s, p->m->data + part->body_offset, part->body_len);
	s[part->body_len] = '\0';
	return s;
}

/* The decoded human-readable text with every run of whitespace (line
 * ends and the indentation of wrapped lines included) made one space, so
 * checks do not depend on where lines wrap (the caller frees). Lines are
 * at most 72 bytes unless one word is longer. */
static char *human(const struct parsed *p)
{
	struct buf b = BUF_INIT, flat = BUF_INIT;
	assert_int_equal(msg_part_decode(p->m, p->human, &b), 0);
	size_t col = 0, word = 0;
	for (size_t i = 0; i < b.len; i++) {
		char c = b.data[i];
		col = c == '\r' || c == '\n' ? 0 : col + 1;
		word = c == ' ' || col == 0 ? 0 : word + 1;
		assert_true(col <= 72 || col - word <= 4);
		if (c == '\r' || c == '\n' || c == ' ') {
			if (flat.len && flat.data[flat.len - 1] != ' ')
				buf_putc(&flat, ' ');
		} else {
			buf_putc(&flat, c);
		}
	}
	buf_free(&b);
	buf_cstr(&flat);
	return buf_steal(&flat, NULL);
}

static void assert_header(const struct parsed *p, const char *name,
                          const char *want)
{
	char *v = msg_header_value(&p->m->root->header, name);
	assert_non_null(v);
	if (want)
		assert_string_equal(v, want);
	free(v);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not found in:\n%s", needle, hay);
}

static void test_failed_report(void **state)
{
	(void)state;
	struct dsn_report r = base_report(&bob, 1);
	struct parsed p;
	build_and_parse(&r, &p);

	assert_header(&p, "From", "Mail Delivery System <MAILER-DAEMON@mail.example.org>");
	assert_header(&p, "To", "<alice@example.org>");
	assert_header(&p, "Subject", "Undelivered Mail Returned to Sender");
	assert_header(&p, "Date", "Tue, 14 Nov 2023 23:13:20 +0000");
	assert_header(&p, "MIME-Version", "1.0");
	assert_header(&p, "Auto-Submitted", "auto-replied");
	char *id = msg_header_value(&p.m->root->header, "Message-ID");
	assert_non_null(id);
	assert_int_equal(id[0], '<');
	assert_contains(id, "@mail.example.org>");
	free(id);

	char *st = body(&p, p.status);
	assert_string_equal(st,
		"Reporting-MTA: dns; mail.example.org\r\n"
		"Original-Envelope-Id: QQ314159\r\n"
		"Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"\r\n"
		"Original-Recipient: rfc822;Bob@example.net\r\n"
		"Final-Recipient: rfc822; bob@example.net\r\n"
		"Action: failed\r\n"
		"Status: 5.1.1\r\n"
		"Remote-MTA: dns; mx.example.net\r\n"
		"Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: User unknown\r\n"
		"Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n");
	free(st);

	assert_non_null(p.orig);
	assert_string_equal(p.orig->ctype.type, "text");
	assert_string_equal(p.orig->ctype.subtype, "rfc822-headers");
	char *hdrs = body(&p, p.orig);
	assert_string_equal(hdrs,
		"Received: from a by b; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"From: Alice <alice@example.org>\r\n"
		"To: bob@example.net\r\n"
		"Subject: lunch\r\n");
	free(hdrs);

	char *text = human(&p);
	assert_contains(text, "This is the mail system at host mail.example.org.");
	assert_contains(text, "could not be delivered to one or more recipients."
	                      " It's attached below.");
	assert_contains(text, "<bob@example.net>: delivery failed, the mailbox "
	                      "does not exist (status 5.1.1)");
	assert_contains(text, "host mx.example.net said: 550 5.1.1 "
	                      "<bob@example.net>: User unknown");
	assert_null(strstr(text, "See you at noon"));
	free(text);
	parsed_free(&p);
}

static void test_two_recipients_and_optional_fields(void **state)
{
	(void)state;
	struct dsn_rcpt rc[2] = {bob, {
		.address = "carol@example.com", .action = DSN_FAILED,
		.status = "5.4.4", .diagnostic = "no MX or address for example.com",
		.diagnostic_type = "X-Posthorn",
	}};
	struct dsn_report r = base_report(rc, 2);
	r.envid = NULL;
	r.arrival = 0;
	struct parsed p;
	build_and_parse(&r, &p);
	char *st = body(&p, p.status);
	assert_null(strstr(st, "Original-Envelope-Id"));
	assert_null(strstr(st, "Arrival-Date"));
	assert_contains(st, "Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n"
	                    "\r\n"
	                    "Final-Recipient: rfc822; carol@example.com\r\n"
	                    "Action: failed\r\n"
	                    "Status: 5.4.4\r\n"
	                    "Diagnostic-Code: X-Posthorn; no MX or address for "
	                    "example.com\r\n");
	/* The second group has neither ORCPT, Remote-MTA nor a last attempt. */
	const char *second = strstr(st, "carol");
	assert_null(strstr(second, "Remote-MTA"));
	assert_null(strstr(second, "Original-Recipient"));
	assert_null(strstr(second, "Last-Attempt-Date"));
	free(st);
	char *text = human(&p);
	assert_contains(text, "<carol@example.com>: delivery failed, no server of "
	                      "the destination could be reached (status 5.4.4) "
	                      "no MX or address for example.com");
	free(text);
	parsed_free(&p);
}

static void test_full_return(void **state)
{
	(void)state;
	struct dsn_report r = base_report(&bob, 1);
	r.return_full = 1;
	struct parsed p;
	build_and_parse(&r, &p);
	assert_non_null(p.orig);
	assert_string_equal(p.orig->ctype.type, "message");
	assert_string_equal(p.orig->ctype.subtype, "rfc822");
	char *full = body(&p, p.orig);
	assert_string_equal(full, original);
	free(full);
	/* The embedded message is parsed as one, body and all. */
	const struct msg_part *inner = p.orig->child;
	assert_non_null(inner);
	char *v = msg_header_value(&inner->header, "Subject");
	assert_string_equal(v, "lunch");
	free(v);
	char *b = body(&p, inner);
	assert_string_equal(b, "See you at noon.\r\n");
	free(b);
	parsed_free(&p);
}

static void test_delayed_report(void **state)
{
	(void)state;
	struct dsn_rcpt d = {
		.address = "bob@example.net", .action = DSN_DELAYED,
		.status = "4.4.1", .remote_mta = "mx.example.net",
		.diagnostic = "421 4.4.1 try later", .last_attempt = NOW,
		.will_retry_until = NOW + 4 * 86400,
	};
	struct dsn_report r = base_report(&d, 1);
	struct parsed p;
	build_and_parse(&r, &p);
	assert_header(&p, "Subject", "Delayed Mail (still being retried)");
	char *st = body(&p, p.status);
	assert_contains(st, "Action: delayed\r\nStatus: 4.4.1\r\n");
	assert_contains(st, "Will-Retry-Until: Sat, 18 Nov 2023 23:13:20 +0000\r\n");
	free(st);
	char *text = human(&p);
	assert_contains(text, "THIS IS A WARNING ONLY");
	assert_contains(text, "retried until Sat, 18 Nov 2023 23:13:20 +0000");
	free(text);
	parsed_free(&p);

	/* A failed recipient makes it a failure report, and Will-Retry-Until
	 * belongs to delayed recipients only. */
	struct dsn_rcpt both[2] = {d, bob};
	both[1].will_retry_until = NOW + 1;
	r = base_report(both, 2);
	build_and_parse(&r, &p);
	assert_header(&p, "Subject", "Undelivered Mail Returned to Sender");
	st = body(&p, p.status);
	assert_null(strstr(strstr(st, "Action: failed"), "Will-Retry-Until"));
	free(st);
	parsed_free(&p);
}

/* A reply trying to start header lines or a MIME part stays one field. */
static void test_injection_in_diagnostic(void **state)
{
	(void)state;
	struct dsn_rcpt evil = bob;
	evil.diagnostic = "550 oops\r\nX-Injected: yes\r\n\r\n--x--\r\nContent-Type:"
	                  " text/html\x01\x7f";
	evil.remote_mta = "mx\r\nX-Host: 1";
	evil.address = "bob@example.net\r\nBcc: eve@evil";
	struct dsn_report r = base_report(&evil, 1);
	r.to = "alice@example.org>\r\nBcc: <eve@evil";
	struct parsed p;
	build_and_parse(&r, &p);
	assert_int_equal(p.m->root->nchildren, 3);
	assert_null(msg_header_get(&p.m->root->header, "Bcc"));
	const char *s = p.text.data;
	for (const char *l = s; l; l = strstr(l, "\r\n")) {
		l += l == s ? 0 : 2;
		assert_false(strncmp(l, "X-Injected", 10) == 0);
		assert_false(strncmp(l, "X-Host", 6) == 0);
		assert_false(strncmp(l, "Bcc", 3) == 0);
		assert_false(strncmp(l, "Content-Type: text/html", 23) == 0);
		if (!*l)
			break;
	}
	char *st = body(&p, p.status);
	assert_contains(st, "Diagnostic-Code: smtp; 550 oops X-Injected: yes --x--"
	                    " Content-Type: text/html\r\n");
	assert_contains(st, "Remote-MTA: dns; mx X-Host: 1\r\n");
	assert_contains(st, "Final-Recipient: rfc822; bob@example.net Bcc: eve@evil\r\n");
	free(st);
	parsed_free(&p);
}

/* 8-bit data: the status part stays ASCII, the human part keeps the
 * UTF-8 (quoted-printable), the returned header says 8bit. */
static void test_eight_bit(void **state)
{
	(void)state;
	static const char orig8[] = "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nK\xc3\xa4se\r\n";
	struct dsn_rcpt u = bob;
	u.address = "j\xc3\xb6rg@example.net";
	u.diagnostic = "550 5.1.1 j\xc3\xb6rg unknown \xff\xfe";
	struct dsn_report r = base_report(&u, 1);
	r.original = orig8;
	r.original_len = sizeof orig8 - 1;
	struct parsed p;
	build_and_parse(&r, &p);
	char *st = body(&p, p.status);
	for (const char *c = st; *c; c++)
		assert_true((unsigned char)*c < 0x80);
	assert_contains(st, "Final-Recipient: utf-8; j\\x{F6}rg@example.net\r\n");
	assert_contains(st, "Diagnostic-Code: smtp; 550 5.1.1 j??rg unknown ??\r\n");
	free(st);
	assert_int_equal(p.human->cte, MSG_CTE_QP);
	char *text = human(&p);
	assert_contains(text, "<j\xc3\xb6rg@example.net>");
	assert_contains(text, "550 5.1.1 j\xc3\xb6rg unknown ??");
	free(text);
	char *v = msg_header_value(&p.orig->header, "Content-Transfer-Encoding");
	assert_string_equal(v, "8bit");
	free(v);
	char *h = body(&p, p.orig);
	assert_string_equal(h, "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n");
	free(h);
	parsed_free(&p);

	/* ASCII everywhere: 7bit, and the human part is plain 7bit too. */
	r = base_report(&bob, 1);
	build_and_parse(&r, &p);
	assert_int_equal(p.human->cte, MSG_CTE_7BIT);
	v = msg_header_value(&p.orig->header, "Content-Transfer-Encoding");
	assert_string_equal(v, "7bit");
	free(v);
	parsed_free(&p);
}

static void test_empty_original(void **state)
{
	(void)state;
	struct dsn_report r = base_report(&bob, 1);
	r.original = NULL;
	r.original_len = 0;
	struct parsed p;
	build_and_parse(&r, &p);
	assert_int_equal(p.m->root->nchildren, 2);
	assert_null(p.orig);
	char *text = human(&p);
	assert_null(strstr(text, "attached below"));
	free(text);
	parsed_free(&p);
	r.original = "";
	r.return_full = 1;
	build_and_parse(&r, &p);
	assert_int_equal(p.m->root->nchildren, 2);
	parsed_free(&p);
}

/* No blank line: the whole original is its header; bare LF ends become
 * CRLF and a last line without an end gets one. */
static void test_original_without_blank_line(void **state)
{
	(void)state;
	static const char o[] = "Subject: x\nFrom: y@z\r\nX-Last: no end";
	struct dsn_report r = base_report(&bob, 1);
	r.original = o;
	r.original_len = sizeof o - 1;
	struct parsed p;
	build_and_parse(&r, &p);
	char *h = body(&p, p.orig);
	assert_string_equal(h, "Subject: x\r\nFrom: y@z\r\nX-Last: no end\r\n");
	free(h);
	parsed_free(&p);

	/* A bare-LF message: the header stops at the first empty line. */
	static const char lf[] = "Subject: a\nTo: b\n\nbody\n";
	r.original = lf;
	r.original_len = sizeof lf - 1;
	build_and_parse(&r, &p);
	h = body(&p, p.orig);
	assert_string_equal(h, "Subject: a\r\nTo: b\r\n");
	free(h);
	parsed_free(&p);
}

/* A header block larger than 64 KiB is cut at a line end. */
static void test_huge_header_bounded(void **state)
{
	(void)state;
	struct buf o = BUF_INIT;
	for (int i = 0; i < 3000; i++)
		buf_printf(&o, "X-Filler-%04d: %040d\r\n", i, i);
	buf_puts(&o, "\r\nbody\r\n");
	struct dsn_report r = base_report(&bob, 1);
	r.original = o.data;
	r.original_len = o.len;
	struct parsed p;
	build_and_parse(&r, &p);
	assert_true(p.orig->body_len <= 64 * 1024);
	assert_true(p.orig->body_len > 60 * 1024);
	const char *end = p.m->data + p.orig->body_offset + p.orig->body_len;
	assert_memory_equal(end - 2, "\r\n", 2);
	parsed_free(&p);
	buf_free(&o);
}

/* A long reply is folded into lines near 78 columns that unfold back. */
static void test_long_diagnostic_folded(void **state)
{
	(void)state;
	struct buf d = BUF_INIT;
	buf_puts(&d, "550 5.7.1");
	for (int i = 0; i < 60; i++)
		buf_printf(&d, " word%02d", i);
	buf_puts(&d, " ");
	for (int i = 0; i < 1200; i++)
		buf_putc(&d, 'z');
	struct dsn_rcpt rc = bob;
	rc.diagnostic = buf_cstr(&d);
	struct dsn_report r = base_report(&rc, 1);
	struct parsed p;
	build_and_parse(&r, &p);
	char *st = body(&p, p.status);
	const char *f = strstr(st, "Diagnostic-Code:");
	assert_non_null(f);
	/* Lines of words stay within 78 columns. */
	const char *nl = strstr(f, "\r\n");
	assert_true(nl - f <= 78);
	assert_int_equal(nl[2], ' ');
	assert_contains(st, "word59");
	free(st);
	/* The human part carries the whole text (quoted-printable since the
	 * line is long). */
	char *text = human(&p);
	assert_contains(text, "word00 word01");
	free(text);
	parsed_free(&p);
	buf_free(&d);
}

static void test_refuses_bad_reports(void **state)
{
	(void)state;
	struct buf out = BUF_INIT, why = BUF_INIT;
	buf_puts(&out, "kept");
	struct dsn_report r = base_report(&bob, 1);
	r.nrcpts = 0;
	assert_int_equal(dsn_build(&r, &out, &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(buf_cstr(&why), "dsn: no recipients");
	r = base_report(&bob, 1);
	r.to = "";
	assert_int_equal(dsn_build(&r, &out, NULL), -1);
	r = base_report(&bob, 1);
	r.original = NULL;
	assert_int_equal(dsn_build(&r, &out, NULL), -1);
	assert_int_equal(dsn_build(NULL, &out, NULL), -1);
	static const char *const bad[] = {"5.1", "6.1.1", "5.1.1.1", "5.1111.1",
	                                  "5..1", "x", "", "5.1.1 "};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct dsn_rcpt rc = bob;
		rc.status = bad[i];
		r = base_report(&rc, 1);
		assert_int_equal(dsn_build(&r, &out, NULL), -1);
	}
	struct dsn_rcpt rc = bob;
	rc.address = "";
	r = base_report(&rc, 1);
	assert_int_equal(dsn_build(&r, &out, NULL), -1);
	assert_string_equal(buf_cstr(&out), "kept");

	/* The output's limit: -1 and out unchanged. */
	struct buf small;
	buf_init(&small, 600);
	buf_puts(&small, "x");
	r = base_report(&bob, 1);
	buf_reset(&why);
	assert_int_equal(dsn_build(&r, &small, &why), -1);
	assert_int_equal(small.len, 1);
	assert_true(why.len > 0);
	buf_free(&small);
	buf_free(&out);
	buf_free(&why);
}

static void test_xtext_decode(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(dsn_xtext_decode("rfc822;bob+2Bx+3Dy@example.net", &b), 0);
	assert_string_equal(buf_cstr(&b), "rfc822;bob+x=y@example.net");
	buf_reset(&b);
	assert_int_equal(dsn_xtext_decode("", &b), 0);
	assert_int_equal(b.len, 0);
	buf_puts(&b, "k");
	assert_int_equal(dsn_xtext_decode("a+2", &b), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dsn_xtext_decode("a+", &b), -1);
	assert_int_equal(dsn_xtext_decode("a+ZZ", &b), -1);
	assert_int_equal(dsn_xtext_decode("a+0D+0A", &b), -1);
	assert_string_equal(buf_cstr(&b), "k");
	buf_free(&b);
}

static void test_status_from_reply(void **state)
{
	(void)state;
	char s[16];
	assert_int_equal(dsn_status_from_reply("550 5.1.1 User unknown", s, sizeof s), 1);
	assert_string_equal(s, "5.1.1");
	assert_int_equal(dsn_status_from_reply("451-4.7.12 greylisted", s, sizeof s), 1);
	assert_string_equal(s, "4.7.12");
	assert_int_equal(dsn_status_from_reply("5.2.2 mailbox full", s, sizeof s), 1);
	assert_string_equal(s, "5.2.2");
	assert_int_equal(dsn_status_from_reply("550 User unknown", s, sizeof s), 0);
	assert_string_equal(s, "");
	assert_int_equal(dsn_status_from_reply("550 5.1.1.1 x", s, sizeof s), 0);
	assert_int_equal(dsn_status_from_reply("connection refused", s, sizeof s), 0);
	assert_int_equal(dsn_status_from_reply("", s, sizeof s), 0);
	assert_int_equal(dsn_status_from_reply(NULL, s, sizeof s), 0);
	assert_int_equal(dsn_status_from_reply("550 5.1.1 x", s, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_report),
		cmocka_unit_test(test_two_recipients_and_optional_fields),
		cmocka_unit_test(test_full_return),
		cmocka_unit_test(test_delayed_report),
		cmocka_unit_test(test_injection_in_diagnostic),
		cmocka_unit_test(test_eight_bit),
		cmocka_unit_test(test_empty_original),
		cmocka_unit_test(test_original_without_blank_line),
		cmocka_unit_test(test_huge_header_bounded),
		cmocka_unit_test(test_long_diagnostic_folded),
		cmocka_unit_test(test_refuses_bad_reports),
		cmocka_unit_test(test_xtext_decode),
		cmocka_unit_test(test_status_from_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
