/* Unit tests for the policy of src/daemon/outq: the retry schedule, the
 * lifetime, the one delay warning, the Received: count of the loop check
 * and the grouping of recipients by domain. Pure functions: time is a
 * parameter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

/* The daemon's files are not in libposthorn.a: the test compiles the
 * queue manager and what it links against itself. */
#include "../../src/daemon/jobs.c"
#include "../../src/daemon/outq.c"
#include "../../src/daemon/tls.c"
#include "../../src/daemon/world.c"

static struct cfg_queue schedule(void)
{
	struct cfg_queue q = {
		.retry = {60, 300, 900}, .nretry = 3, .lifetime = 5 * 86400,
		.delay_warning = 4 * 3600, .connections = 20,
		.connections_per_domain = 4, .remote_port = 25, .max_received = 50,
		.command_timeout = 300, .scan_interval = 60,
	};
	return q;
}

static void test_retry_delay(void **state)
{
	(void)state;
	struct cfg_queue q = schedule();
	assert_int_equal(outq_retry_delay(&q, 1), 60);
	assert_int_equal(outq_retry_delay(&q, 2), 300);
	assert_int_equal(outq_retry_delay(&q, 3), 900);
	assert_int_equal(outq_retry_delay(&q, 4), 900);   /* the last repeats */
	assert_int_equal(outq_retry_delay(&q, 1000), 900);
	assert_int_equal(outq_retry_delay(&q, 0), 60);
	assert_int_equal(outq_retry_delay(&q, -5), 60);
	q.nretry = 0;
	assert_int_equal(outq_retry_delay(&q, 3), 60);
}

static void test_expired(void **state)
{
	(void)state;
	struct cfg_queue q = schedule();
	int64_t t0 = 1700000000;
	assert_false(outq_expired(&q, t0, t0));
	assert_false(outq_expired(&q, t0, t0 + 5 * 86400 - 1));
	assert_true(outq_expired(&q, t0, t0 + 5 * 86400));
	assert_true(outq_expired(&q, t0, t0 + 50 * 86400));
	/* a clock that went backwards is not an expiry */
	assert_false(outq_expired(&q, t0, t0 - 100));
}

static void test_warn_due(void **state)
{
	(void)state;
	struct cfg_queue q = schedule();
	int64_t t0 = 1700000000, w = 4 * 3600;
	/* too young */
	assert_false(outq_warn_due(&q, t0, t0 + 100, t0 + w - 1));
	/* this attempt crosses the line, the previous did not */
	assert_true(outq_warn_due(&q, t0, t0 + w - 1, t0 + w));
	assert_true(outq_warn_due(&q, t0, t0 + 10, t0 + w + 900));
	/* the previous one already did: warned then, not again */
	assert_false(outq_warn_due(&q, t0, t0 + w, t0 + w + 900));
	/* a first attempt already past the line */
	assert_true(outq_warn_due(&q, t0, 0, t0 + w + 1));
	/* unknown previous attempt (flushed): no warning rather than two */
	assert_false(outq_warn_due(&q, t0, -1, t0 + w + 1));
	q.delay_warning = 0;
	assert_false(outq_warn_due(&q, t0, t0 + 1, t0 + 86400));
}

static void test_prev_attempt(void **state)
{
	(void)state;
	struct cfg_queue q = schedule();
	assert_int_equal(outq_prev_attempt(&q, 0, 12345), 0);
	assert_int_equal(outq_prev_attempt(&q, 1, 1000), 940);
	assert_int_equal(outq_prev_attempt(&q, 2, 1000), 700);
	assert_int_equal(outq_prev_attempt(&q, 9, 10000), 9100);
	assert_int_equal(outq_prev_attempt(&q, 3, 0), -1);
	/* the schedule in practice: warned exactly once across attempts */
	int64_t t0 = 1700000000, now = t0;
	int warned = 0, attempts = 0;
	int64_t next = t0;
	for (int i = 0; i < 40; i++) {
		now = next + 3; /* each attempt takes a few seconds */
		int64_t prev = outq_prev_attempt(&q, attempts, next);
		warned += outq_warn_due(&q, t0, prev, now);
		attempts++;
		next = now + outq_retry_delay(&q, attempts);
	}
	assert_int_equal(warned, 1);
}

static void test_count_received(void **state)
{
	(void)state;
	const char *h =
		"Return-Path: <a@b>\r\n"
		"Received: from x by y; date\r\n"
		"received: from z\r\n\tby w; date\r\n"
		"Received : spaced\r\n"
		"X-Received: not one\r\n"
		"ReceivedX: no\r\n"
		"Subject: Received: no\r\n"
		"\r\n"
		"Received: in the body, not counted\r\n";
	assert_int_equal(outq_count_received(h, strlen(h)), 3);
	/* bare LF line ends too, and a header cut short */
	const char *lf = "Received: a\nReceived: b\nReceiv";
	assert_int_equal(outq_count_received(lf, strlen(lf)), 2);
	assert_int_equal(outq_count_received("", 0), 0);
	assert_int_equal(outq_count_received("\r\nReceived: x\r\n", 15), 0);
	/* a byte at a time never reads past len */
	for (size_t n = 0; n <= strlen(h); n++)
		assert_true(outq_count_received(h, n) <= 3);
}

static void test_rcpt_domain(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(outq_rcpt_domain("Bob@Other.TEST", &b), 0);
	assert_string_equal(buf_cstr(&b), "other.test");
	buf_reset(&b);
	assert_int_equal(outq_rcpt_domain("\"a@b\"@x.org", &b), 0);
	assert_string_equal(buf_cstr(&b), "x.org");
	buf_reset(&b);
	assert_int_equal(outq_rcpt_domain("postmaster", &b), 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
	/* a full buffer is an error, not a cut domain */
	struct buf small;
	buf_init(&small, 4);
	assert_int_equal(outq_rcpt_domain("a@example.org", &small), -1);
	buf_free(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_warn_due),
		cmocka_unit_test(test_prev_attempt),
		cmocka_unit_test(test_count_received),
		cmocka_unit_test(test_rcpt_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
