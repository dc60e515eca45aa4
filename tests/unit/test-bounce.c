/* Unit tests for src/store/bounce.c in a temporary data directory: the DSN
 * queued as a new item from <>, its content parsed back, NOTIFY rules,
 * the null sender and postmaster, RET=FULL, state changes and failures. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/lib/fs.h"
#include "../../src/msg/message.h"
#include "../../src/store/bounce.h"
#include "../../src/store/queue.h"
#include "testlib.h"

#define NOW 1700003600
#define HOST "mail.example.org"
#define POSTMASTER "postmaster@example.org"

static const char original[] =
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.net, carol@example.net\r\n"
	"Subject: plans\r\n"
	"\r\n"
	"The secret body.\r\n";

/* Queues "orig" from sender to the given recipients, loads it into env. */
static void make_item(const char *dir, const char *sender, struct queue_rcpt *r,
                      size_t n, const char *ret, const char *text, size_t len,
                      struct queue_envelope *env)
{
	struct queue_envelope e = {
		.id = "orig", .created = NOW - 3600, .sender = (char *)sender,
		.envid = "QQ+2B1", .ret = (char *)ret, .attempts = 1,
		.rcpts = r, .nrcpts = n,
	};
	assert_int_equal(queue_enqueue_data(dir, text, len, &e, NULL), 0);
	assert_int_equal(queue_load(dir, "orig", env, NULL), 0);
}

/* The queued report: its envelope and message. 0 when there is none. */
struct report {
	struct queue_envelope env;
	struct buf text;
	struct msg_message *m;
	const struct msg_part *status, *orig;
};

static int find_report(const char *dir, struct report *rep)
{
	memset(rep, 0, sizeof *rep);
	char **ids;
	size_t n;
	assert_int_equal(queue_list(dir, &ids, &n, NULL), 0);
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(ids[i], "orig"))
			continue;
		assert_int_equal(found, 0);   /* one report at most */
		found = 1;
		assert_int_equal(queue_load(dir, ids[i], &rep->env, NULL), 0);
		struct buf p = BUF_INIT;
		assert_int_equal(queue_msg_path(dir, ids[i], &p), 0);
		assert_int_equal(fs_read_file(p.data, 1 << 26, &rep->text), 0);
		buf_free(&p);
	}
	queue_list_free(&ids, n);
	if (!found)
		return 0;
	rep->m = msg_parse(rep->text.data, rep->text.len, NULL);
	assert_non_null(rep->m);
	const struct msg_part *root = rep->m->root;
	assert_string_equal(root->ctype.type, "multipart");
	assert_string_equal(root->ctype.subtype, "report");
	assert_string_equal(msg_ctype_param(&root->ctype, "report-type"),
	                    "delivery-status");
	rep->status = root->child->next;
	assert_string_equal(rep->status->ctype.subtype, "delivery-status");
	rep->orig = rep->status->next;
	return 1;
}

static void report_free(const char *dir, struct report *rep)
{
	if (rep->env.id)
		assert_int_equal(queue_remove(dir, rep->env.id, NULL), 0);
	queue_envelope_free(&rep->env);
	msg_message_free(&rep->m);
	buf_free(&rep->text);
}

static char *part_body(const struct report *rep, const struct msg_part *p)
{
	char *s = malloc(p->body_len + 1);
	assert_non_null(s);
	memcpy(s, rep->m->data + p->body_offset, p->body_len);
	s[p->body_len] = '\0';
	return s;
}

static char *root_header(const struct report *rep, const char *name)
{
	return msg_header_value(&rep->m->root->header, name);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not found in:\n%s", needle, hay);
}

static void test_bounce_one_of_two(void **state)
{
	const char *dir = *state;
	struct queue_rcpt r[2] = {
		{"bob@example.net", QUEUE_PENDING, NULL, "rfc822;Bob+2B1@example.net",
		 "host mx.example.net said: 550 5.1.1 <bob@example.net>: User unknown"},
		{"carol@example.net", QUEUE_PENDING, NULL, NULL, "451 4.3.0 later"},
	};
	struct queue_envelope env;
	make_item(dir, "alice@example.org", r, 2, NULL, original,
	          sizeof original - 1, &env);
	size_t idx[] = {0};
	struct buf why = BUF_INIT;
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, idx, 1,
	                                   DSN_FAILED, NOW, &why), 0);
	assert_int_equal(why.len, 0);
	assert_int_equal(env.rcpts[0].state, QUEUE_FAILED);
	assert_int_equal(env.rcpts[1].state, QUEUE_PENDING);

	/* On disk: bob failed (reply kept), carol still pending. */
	struct queue_envelope disk;
	assert_int_equal(queue_load(dir, "orig", &disk, NULL), 0);
	assert_int_equal(disk.rcpts[0].state, QUEUE_FAILED);
	assert_string_equal(disk.rcpts[0].last_reply, r[0].last_reply);
	assert_int_equal(disk.rcpts[1].state, QUEUE_PENDING);
	queue_envelope_free(&disk);

	struct report rep;
	assert_int_equal(find_report(dir, &rep), 1);
	assert_string_equal(rep.env.sender, "");
	assert_int_equal(rep.env.nrcpts, 1);
	assert_string_equal(rep.env.rcpts[0].address, "alice@example.org");
	assert_int_equal(rep.env.rcpts[0].state, QUEUE_PENDING);
	assert_int_equal(rep.env.created, NOW);
	assert_int_equal(rep.env.next_attempt, NOW);
	assert_string_equal(rep.env.body, "7bit");
	assert_int_equal(rep.env.smtputf8, 0);
	char *v = root_header(&rep, "From");
	assert_string_equal(v, "Mail Delivery System <MAILER-DAEMON@" HOST ">");
	free(v);
	v = root_header(&rep, "To");
	assert_string_equal(v, "<alice@example.org>");
	free(v);

	char *st = part_body(&rep, rep.status);
	assert_contains(st, "Reporting-MTA: dns; " HOST "\r\n");
	assert_contains(st, "Original-Envelope-Id: QQ+1\r\n");
	assert_contains(st, "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n");
	assert_contains(st, "\r\n\r\nOriginal-Recipient: rfc822;Bob+1@example.net\r\n"
	                    "Final-Recipient: rfc822; bob@example.net\r\n"
	                    "Action: failed\r\nStatus: 5.1.1\r\n"
	                    "Remote-MTA: dns; mx.example.net\r\n"
	                    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: "
	                    "User unknown\r\n"
	                    "Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n");
	assert_null(strstr(st, "carol"));
	free(st);
	/* Headers only by default. */
	assert_non_null(rep.orig);
	assert_string_equal(rep.orig->ctype.subtype, "rfc822-headers");
	char *h = part_body(&rep, rep.orig);
	assert_contains(h, "Subject: plans\r\n");
	assert_null(strstr(h, "secret body"));
	free(h);
	report_free(dir, &rep);
	queue_envelope_free(&env);
	buf_free(&why);
}

/* NOTIFY decides who is reported; failures are recorded regardless. */
static void test_notify_rules(void **state)
{
	const char *dir = *state;
	struct queue_rcpt r[4] = {
		{"never@example.net", QUEUE_PENDING, "NEVER", NULL, "550 5.1.1 no"},
		{"success@example.net", QUEUE_PENDING, "SUCCESS", NULL, "550 5.1.1 no"},
		{"delay@example.net", QUEUE_PENDING, "delay,Failure", NULL,
		 "550 5.2.2 full"},
		{"plain@example.net", QUEUE_PENDING, NULL, NULL, "450 4.2.1 busy"},
	};
	struct queue_envelope env;
	make_item(dir, "alice@example.org", r, 4, NULL, original,
	          sizeof original - 1, &env);

	/* NEVER and SUCCESS-only: no report, both marked failed. */
	size_t quiet[] = {0, 1};
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, quiet, 2,
	                                   DSN_FAILED, NOW, NULL), 0);
	struct report rep;
	assert_int_equal(find_report(dir, &rep), 0);
	struct queue_envelope disk;
	assert_int_equal(queue_load(dir, "orig", &disk, NULL), 0);
	assert_int_equal(disk.rcpts[0].state, QUEUE_FAILED);
	assert_int_equal(disk.rcpts[1].state, QUEUE_FAILED);
	assert_int_equal(disk.rcpts[2].state, QUEUE_PENDING);
	queue_envelope_free(&disk);

	/* Delay warnings: for DELAY and for no NOTIFY; states unchanged. */
	size_t late[] = {2, 3};
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, late, 2,
	                                   DSN_DELAYED, NOW, NULL), 0);
	assert_int_equal(find_report(dir, &rep), 1);
	char *v = root_header(&rep, "Subject");
	assert_string_equal(v, "Delayed Mail (still being retried)");
	free(v);
	char *st = part_body(&rep, rep.status);
	assert_contains(st, "Final-Recipient: rfc822; delay@example.net\r\n"
	                    "Action: delayed\r\nStatus: 5.2.2\r\n");
	assert_contains(st, "Final-Recipient: rfc822; plain@example.net\r\n"
	                    "Action: delayed\r\nStatus: 4.2.1\r\n");
	free(st);
	report_free(dir, &rep);
	assert_int_equal(env.rcpts[2].state, QUEUE_PENDING);
	assert_int_equal(env.rcpts[3].state, QUEUE_PENDING);

	/* No delay warning for NEVER or SUCCESS-only either. */
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, quiet, 2,
	                                   DSN_DELAYED, NOW, NULL), 0);
	assert_int_equal(find_report(dir, &rep), 0);

	/* A success notice only for SUCCESS. */
	size_t all[] = {0, 1, 2, 3};
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, all, 4,
	                                   DSN_RELAYED, NOW, NULL), 0);
	assert_int_equal(find_report(dir, &rep), 1);
	st = part_body(&rep, rep.status);
	assert_contains(st, "Final-Recipient: rfc822; success@example.net\r\n"
	                    "Action: relayed\r\n");
	assert_null(strstr(st, "never@"));
	assert_null(strstr(st, "plain@"));
	free(st);
	report_free(dir, &rep);
	queue_envelope_free(&env);
}

/* A bounce of a bounce goes to the postmaster, never about the postmaster
 * and never anywhere when there is no postmaster. */
static void test_null_sender(void **state)
{
	const char *dir = *state;
	struct queue_rcpt r[2] = {
		{"alice@example.com", QUEUE_PENDING, NULL, NULL, "550 5.1.1 gone"},
		{POSTMASTER, QUEUE_PENDING, NULL, NULL, "550 5.1.1 gone too"},
	};
	struct queue_envelope env;
	make_item(dir, "", r, 2, NULL, original, sizeof original - 1, &env);
	size_t first[] = {0};
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, first, 1,
	                                   DSN_FAILED, NOW, NULL), 0);
	struct report rep;
	assert_int_equal(find_report(dir, &rep), 1);
	assert_string_equal(rep.env.sender, "");
	assert_string_equal(rep.env.rcpts[0].address, POSTMASTER);
	char *st = part_body(&rep, rep.status);
	assert_contains(st, "Final-Recipient: rfc822; alice@example.com\r\n");
	free(st);
	report_free(dir, &rep);

	/* The postmaster's own failure is not reported to the postmaster. */
	size_t second[] = {1};
	assert_int_equal(bounce_recipients(dir, HOST, "PostMaster@Example.org",
	                                   &env, second, 1, DSN_FAILED, NOW, NULL), 0);
	assert_int_equal(find_report(dir, &rep), 0);
	assert_int_equal(env.rcpts[1].state, QUEUE_FAILED);

	/* Without a postmaster: dropped, still marked failed. */
	env.rcpts[0].state = QUEUE_PENDING;
	assert_int_equal(queue_envelope_save(dir, &env, NULL), 0);
	assert_int_equal(bounce_recipients(dir, HOST, NULL, &env, first, 1,
	                                   DSN_FAILED, NOW, NULL), 0);
	assert_int_equal(find_report(dir, &rep), 0);
	struct queue_envelope disk;
	assert_int_equal(queue_load(dir, "orig", &disk, NULL), 0);
	assert_int_equal(disk.rcpts[0].state, QUEUE_FAILED);
	queue_envelope_free(&disk);
	queue_envelope_free(&env);
}

static void test_ret_full(void **state)
{
	const char *dir = *state;
	struct queue_rcpt r = {"bob@example.net", QUEUE_PENDING, NULL, NULL,
	                       "554 no such thing"};
	struct queue_envelope env;
	make_item(dir, "alice@example.org", &r, 1, "full", original,
	          sizeof original - 1, &env);
	size_t idx[] = {0};
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, idx, 1,
	                                   DSN_FAILED, NOW, NULL), 0);
	struct report rep;
	assert_int_equal(find_report(dir, &rep), 1);
	assert_string_equal(rep.orig->ctype.type, "message");
	assert_string_equal(rep.orig->ctype.subtype, "rfc822");
	char *b = part_body(&rep, rep.orig);
	assert_string_equal(b, original);
	free(b);
	/* No enhanced code in the reply: X.0.0 of its class. */
	char *st = part_body(&rep, rep.status);
	assert_contains(st, "Status: 5.0.0\r\nDiagnostic-Code: smtp; 554 no such thing\r\n");
	free(st);
	report_free(dir, &rep);
	queue_envelope_free(&env);
}

/* RET=FULL for a message over BOUNCE_FULL_MAX: only its header returns. */
static void test_ret_full_too_large(void **state)
{
	const char *dir = *state;
	size_t len = BOUNCE_FULL_MAX + 100;
	char *big = malloc(len);
	assert_non_null(big);
	static const char head[] = "Subject: big\r\n\r\n";
	memcpy(big, head, sizeof head - 1);
	for (size_t i = sizeof head - 1; i < len; i++)
		big[i] = (i % 78 == 77) ? '\n' : 'x';
	struct queue_rcpt r = {"bob@example.net", QUEUE_PENDING, NULL, NULL,
	                       "552 5.3.4 too big"};
	struct queue_envelope env;
	make_item(dir, "alice@example.org", &r, 1, "full", big, len, &env);
	free(big);
	size_t idx[] = {0};
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, idx, 1,
	                                   DSN_FAILED, NOW, NULL), 0);
	struct report rep;
	assert_int_equal(find_report(dir, &rep), 1);
	assert_string_equal(rep.orig->ctype.subtype, "rfc822-headers");
	char *h = part_body(&rep, rep.orig);
	assert_string_equal(h, "Subject: big\r\n");
	free(h);
	assert_true(rep.text.len < 64 * 1024);
	report_free(dir, &rep);
	queue_envelope_free(&env);
}

/* Our own words, no reply at all, an 8-bit original, an SMTPUTF8 sender. */
static void test_reasons_and_encodings(void **state)
{
	const char *dir = *state;
	static const char orig8[] = "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nhi\r\n";
	struct queue_rcpt r[2] = {
		{"a@example.net", QUEUE_PENDING, NULL, NULL,
		 "connection refused by mx.example.net[192.0.2.1]"},
		{"b@example.net", QUEUE_PENDING, NULL, NULL, NULL},
	};
	struct queue_envelope env;
	make_item(dir, "j\xc3\xb6rg@example.org", r, 2, NULL, orig8,
	          sizeof orig8 - 1, &env);
	size_t idx[] = {0, 1};
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, idx, 2,
	                                   DSN_FAILED, NOW, NULL), 0);
	struct report rep;
	assert_int_equal(find_report(dir, &rep), 1);
	assert_string_equal(rep.env.body, "8bitmime");
	assert_int_equal(rep.env.smtputf8, 1);
	assert_string_equal(rep.env.rcpts[0].address, "j\xc3\xb6rg@example.org");
	char *st = part_body(&rep, rep.status);
	assert_contains(st, "Final-Recipient: rfc822; a@example.net\r\n"
	                    "Action: failed\r\nStatus: 5.0.0\r\n"
	                    "Diagnostic-Code: X-Posthorn; connection refused by "
	                    "mx.example.net[192.0.2.1]\r\n");
	const char *b = strstr(st, "rfc822; b@example.net");
	assert_non_null(b);
	assert_null(strstr(b, "Diagnostic-Code"));
	free(st);
	report_free(dir, &rep);
	assert_int_equal(env.rcpts[0].state, QUEUE_FAILED);
	assert_int_equal(env.rcpts[1].state, QUEUE_FAILED);
	queue_envelope_free(&env);
}

static void test_errors(void **state)
{
	const char *dir = *state;
	struct queue_rcpt r = {"bob@example.net", QUEUE_PENDING, NULL, NULL,
	                       "550 5.1.1 no"};
	struct queue_envelope env;
	make_item(dir, "alice@example.org", &r, 1, NULL, original,
	          sizeof original - 1, &env);
	struct buf why = BUF_INIT;
	size_t out_of_range[] = {1};
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env,
	                                   out_of_range, 1, DSN_FAILED, NOW, &why), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(buf_cstr(&why), "bounce: recipient index out of range");
	size_t idx[] = {0};
	assert_int_equal(bounce_recipients(dir, "", POSTMASTER, &env, idx, 1,
	                                   DSN_FAILED, NOW, NULL), -1);
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, NULL, 1,
	                                   DSN_FAILED, NOW, NULL), -1);
	struct report rep;
	assert_int_equal(find_report(dir, &rep), 0);

	/* Nothing to bounce is not an error. */
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, idx, 0,
	                                   DSN_FAILED, NOW, NULL), 0);
	assert_int_equal(find_report(dir, &rep), 0);

	/* The item vanished (posthornctl queue delete) before the states were
	 * saved: the report is queued (never lost), the save fails, and env
	 * keeps the states that are on disk. */
	assert_int_equal(queue_remove(dir, "orig", NULL), 0);
	buf_reset(&why);
	assert_int_equal(bounce_recipients(dir, HOST, POSTMASTER, &env, idx, 1,
	                                   DSN_FAILED, NOW, &why), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(buf_cstr(&why), "item is gone"));
	assert_int_equal(env.rcpts[0].state, QUEUE_PENDING);
	assert_int_equal(find_report(dir, &rep), 1);
	assert_int_equal(rep.orig == NULL, 1);   /* no original to quote */
	report_free(dir, &rep);

	/* A data directory where no queue can be written. */
	struct buf bad = BUF_INIT;
	buf_printf(&bad, "%s/missing/dir", dir);
	buf_reset(&why);
	assert_int_equal(bounce_recipients(buf_cstr(&bad), HOST, POSTMASTER, &env,
	                                   idx, 1, DSN_FAILED, NOW, &why), -1);
	assert_true(why.len > 0);
	assert_int_equal(env.rcpts[0].state, QUEUE_PENDING);
	buf_free(&bad);
	queue_envelope_free(&env);
	buf_free(&why);
}

int main(void)
{
#define T(f) \
	cmocka_unit_test_setup_teardown(f, testlib_dir_setup, testlib_dir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_bounce_one_of_two),
		T(test_notify_rules),
		T(test_null_sender),
		T(test_ret_full),
		T(test_ret_full_too_large),
		T(test_reasons_and_encodings),
		T(test_errors),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
