/* Unit tests for src/auth/sasl.c: PLAIN and LOGIN responses, strict base64,
 * authzid rules, size limits, cancel. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../src/auth/sasl.h"
#include "../../src/msg/codec.h"

/* base64 of raw[0..n), as a client would send it. */
static char *b64(const void *raw, size_t n, struct buf *out)
{
	buf_reset(out);
	assert_int_equal(msg_base64_encode(raw, n, 0, out), 0);
	return buf_cstr(out);
}

static void plain_ok(const void *raw, size_t n, const char *user,
                     const char *password, size_t pwlen)
{
	struct buf enc = BUF_INIT, u = BUF_INIT, p = BUF_INIT;
	char *s = b64(raw, n, &enc);
	assert_int_equal(sasl_plain_decode(s, strlen(s), &u, &p), 0);
	assert_string_equal(buf_cstr(&u), user);
	assert_int_equal(p.len, pwlen);
	assert_memory_equal(p.data, password, pwlen);
	buf_free(&enc);
	buf_free(&u);
	buf_free(&p);
}

static void plain_bad_raw(const void *raw, size_t n)
{
	struct buf enc = BUF_INIT, u = BUF_INIT, p = BUF_INIT;
	buf_puts(&u, "stale");
	buf_puts(&p, "stale");
	char *s = b64(raw, n, &enc);
	assert_int_equal(sasl_plain_decode(s, strlen(s), &u, &p), -1);
	assert_int_equal(u.len, 0);
	assert_int_equal(p.len, 0);
	buf_free(&enc);
	buf_free(&u);
	buf_free(&p);
}

static void plain_bad_b64(const char *s)
{
	struct buf u = BUF_INIT, p = BUF_INIT;
	if (sasl_plain_decode(s, strlen(s), &u, &p) != -1)
		fail_msg("\"%s\" accepted", s);
	assert_int_equal(u.len, 0);
	assert_int_equal(p.len, 0);
	buf_free(&u);
	buf_free(&p);
}

#define RAW(s) (s), sizeof(s) - 1

static void test_plain_valid(void **state)
{
	(void)state;
	plain_ok(RAW("\0alice\0secret"), "alice", "secret", 6);
	plain_ok(RAW("\0Alice\0Secret"), "alice", "Secret", 6);
	plain_ok(RAW("alice\0alice\0pw"), "alice", "pw", 2);
	plain_ok(RAW("ALICE\0alice\0pw"), "alice", "pw", 2);
	plain_ok(RAW("\0alice\0pass word with spaces \xc3\xa9"), "alice",
	         "pass word with spaces \xc3\xa9", 24);
	/* The RFC 4616 example, as sent on the wire. */
	struct buf u = BUF_INIT, p = BUF_INIT;
	const char *wire = "AHRpbQB0YW5zdGFhZnRhbnN0YWFm";
	assert_int_equal(sasl_plain_decode(wire, strlen(wire), &u, &p), 0);
	assert_string_equal(buf_cstr(&u), "tim");
	assert_string_equal(buf_cstr(&p), "tanstaaftanstaaf");
	/* Missing padding is tolerated. */
	wire = "AGEAYg";
	assert_int_equal(sasl_plain_decode(wire, strlen(wire), &u, &p), 0);
	assert_string_equal(buf_cstr(&u), "a");
	assert_string_equal(buf_cstr(&p), "b");
	buf_free(&u);
	buf_free(&p);
}

static void test_plain_malformed(void **state)
{
	(void)state;
	plain_bad_raw(RAW("alice\0secret"));          /* one NUL */
	plain_bad_raw(RAW("alicesecret"));            /* none */
	plain_bad_raw(RAW("\0\0secret"));             /* empty user */
	plain_bad_raw(RAW("\0alice\0"));              /* empty password */
	plain_bad_raw(RAW("\0alice\0pass\0word"));    /* NUL in password */
	plain_bad_raw(RAW("bob\0alice\0secret"));     /* proxy login refused */
	plain_bad_raw(RAW("alic\0alice\0secret"));
	plain_bad_raw(RAW("\0"));
	plain_bad_raw(RAW("\0\0"));
	plain_bad_b64("=");                            /* the empty response */
	plain_bad_b64("");
	plain_bad_b64("AGFsaWNlAHNlY3JldA=");         /* wrong padding */
	plain_bad_b64("AGFsaWNlAHNlY3JldA===");
	plain_bad_b64("AGFsaWNl AHNlY3JldA==");       /* whitespace */
	plain_bad_b64("AGFsaWNlAHNlY3JldA==\r\n");
	plain_bad_b64("AGFsaWNlAHNlY3JldA==AA==");    /* data after padding */
	plain_bad_b64("AGFsaWNlAHNlY3Jld*==");        /* outside the alphabet */
	plain_bad_b64("AGFsaWNlAHNlY3JldAA-");
	plain_bad_b64("AGFsaWNlAHNlY3JldAAAA");       /* lone trailing char */
	plain_bad_b64("*");
}

static void test_plain_limits(void **state)
{
	(void)state;
	char raw[1100];
	memset(raw, 'p', sizeof raw);
	raw[0] = '\0';
	memcpy(raw + 1, "alice", 5);
	raw[6] = '\0';
	/* 1024 decoded bytes pass, 1025 do not. */
	struct buf enc = BUF_INIT, u = BUF_INIT, p = BUF_INIT;
	char *s = b64(raw, 1024, &enc);
	assert_int_equal(sasl_plain_decode(s, strlen(s), &u, &p), 0);
	assert_int_equal(p.len, 1024 - 7);
	s = b64(raw, 1025, &enc);
	assert_int_equal(sasl_plain_decode(s, strlen(s), &u, &p), -1);
	s = b64(raw, sizeof raw, &enc);
	assert_int_equal(sasl_plain_decode(s, strlen(s), &u, &p), -1);
	buf_free(&enc);
	buf_free(&u);
	buf_free(&p);
}

static void test_login(void **state)
{
	(void)state;
	struct buf out = BUF_INIT, enc = BUF_INIT;
	assert_int_equal(sasl_login_decode("YWxpY2U=", 8, &out), 0);
	assert_string_equal(buf_cstr(&out), "alice");
	/* LOGIN does not lowercase: the same call decodes the password. */
	assert_int_equal(sasl_login_decode("U2VjcmV0", 8, &out), 0);
	assert_string_equal(buf_cstr(&out), "Secret");
	assert_int_equal(sasl_login_decode("=", 1, &out), -1);
	assert_int_equal(out.len, 0);
	assert_int_equal(sasl_login_decode("", 0, &out), -1);
	assert_int_equal(sasl_login_decode("YWxp Y2U=", 9, &out), -1);
	assert_int_equal(sasl_login_decode("YWxpY2U", 7, &out), 0);
	assert_int_equal(sasl_login_decode("YW=xpY2U", 8, &out), -1);
	char *s = b64("a\0b", 3, &enc);
	assert_int_equal(sasl_login_decode(s, strlen(s), &out), -1);
	/* Length given, not NUL: bytes past len are not read. */
	assert_int_equal(sasl_login_decode("YWxpY2U=garbage", 8, &out), 0);
	assert_string_equal(buf_cstr(&out), "alice");
	buf_free(&out);
	buf_free(&enc);
}

static void test_cancel(void **state)
{
	(void)state;
	assert_true(sasl_is_cancel("*", 1));
	assert_true(sasl_is_cancel("*xyz", 1));
	assert_false(sasl_is_cancel("*xyz", 4));
	assert_false(sasl_is_cancel("", 0));
	assert_false(sasl_is_cancel("**", 2));
	assert_false(sasl_is_cancel("=", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_valid),
		cmocka_unit_test(test_plain_malformed),
		cmocka_unit_test(test_plain_limits),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
