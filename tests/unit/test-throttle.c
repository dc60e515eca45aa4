/* Unit tests for throttle: per-address counts, doubling, expiry, the cap
 * and a full table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "../../src/auth/throttle.h"

static void test_counts_per_address(void **state)
{
	(void)state;
	struct throttle *t = calloc(1, sizeof *t);
	assert_non_null(t);
	assert_int_equal(throttle_delay_ms(t, "192.0.2.1", 100, 1000), 100);
	assert_int_equal(throttle_failed(t, "192.0.2.1", 1000), 1);
	assert_int_equal(throttle_failed(t, "192.0.2.1", 1001), 2);
	assert_int_equal(throttle_delay_ms(t, "192.0.2.1", 100, 1002), 400);
	assert_int_equal(throttle_delay_ms(t, "192.0.2.2", 100, 1002), 100);
	assert_int_equal(throttle_delay_ms(t, "192.0.2.1", 0, 1002), 0);
	/* Expiry: a quarter of an hour later it starts again. */
	assert_int_equal(throttle_delay_ms(t, "192.0.2.1", 100,
	                                   1001 + THROTTLE_WINDOW), 100);
	assert_int_equal(throttle_failed(t, "192.0.2.1", 1001 + THROTTLE_WINDOW), 1);
	throttle_succeeded(t, "192.0.2.1");
	assert_int_equal(throttle_delay_ms(t, "192.0.2.1", 100, 3000), 100);
	free(t);
}

static void test_cap(void **state)
{
	(void)state;
	struct throttle *t = calloc(1, sizeof *t);
	assert_non_null(t);
	for (int i = 0; i < 2000; i++)
		throttle_failed(t, "::1", 50);
	assert_int_equal(throttle_delay_ms(t, "::1", 1000, 50), THROTTLE_MAX_DELAY_MS);
	assert_int_equal(throttle_delay_ms(t, "::1", 60000, 50), THROTTLE_MAX_DELAY_MS);
	free(t);
}

/* More addresses than slots: the oldest is forgotten, the newest kept. */
static void test_full_table(void **state)
{
	(void)state;
	struct throttle *t = calloc(1, sizeof *t);
	assert_non_null(t);
	char ip[64];
	for (int i = 0; i < THROTTLE_SLOTS + 10; i++) {
		snprintf(ip, sizeof ip, "10.0.%d.%d", i / 256, i % 256);
		throttle_failed(t, ip, 100 + i);
	}
	assert_int_equal(throttle_delay_ms(t, "10.0.0.0", 10, 2000), 10);
	snprintf(ip, sizeof ip, "10.0.%d.%d", (THROTTLE_SLOTS + 9) / 256,
	         (THROTTLE_SLOTS + 9) % 256);
	assert_int_equal(throttle_delay_ms(t, ip, 10, 2000), 20);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_per_address),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_full_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
