/* Unit tests for lib/redact.c: secret values and token shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/redact.h"

/* redact(r, in) must be want. */
static void
check(const struct redactor *r, const char *in, const char *want)
{
	char *got = redact(r, in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_values(void **state)
{
	static const char *const extra[] = {"hunter2-canary", "short",
					    "canary-longer-value", NULL};
	static const char *const envp[] = {
		"FOO_API_KEY=env-api-key-value",
		"GITHUB_TOKEN=gh-token-value-1",
		"db_password=lower-case-pass",
		"AWS_SECRET_ACCESS_KEY=aws-secret-value",
		"ANTHROPIC_AUTH_KEYS=anthropic-value",
		"HOME=/home/someone-long",
		"SHORT_TOKEN=1234567",
		"NOEQUALS",
		NULL,
	};
	struct redactor *r = redactor_new_env(extra, envp);

	(void)state;
	check(r, "say hunter2-canary twice: hunter2-canary.",
	      "say [REDACTED] twice: [REDACTED].");
	/* too short to redact: ordinary words would go */
	check(r, "short and 1234567", "short and 1234567");
	/* the longer value wins over a prefix of it */
	check(r, "x canary-longer-value y", "x [REDACTED] y");
	check(r, "k=env-api-key-value", "k=[REDACTED]");
	check(r, "gh-token-value-1", "[REDACTED]");
	check(r, "lower-case-pass", "[REDACTED]");
	check(r, "aws-secret-value", "[REDACTED]");
	check(r, "anthropic-value", "[REDACTED]");
	/* a variable not named as a secret keeps its value */
	check(r, "/home/someone-long", "/home/someone-long");
	check(r, "", "");
	assert_null(redact(r, NULL));
	redactor_free(r);
}

static void
test_token_shapes(void **state)
{
	struct redactor *r = redactor_new_env(NULL, NULL);

	(void)state;
	check(r, "key sk-ant-api03-AbCdEf0123456789_xyz-QRSTUV done",
	      "key [REDACTED] done");
	check(r, "sk-proj-0123456789abcdefghij", "[REDACTED]");
	check(r, "sk-learn and risk-0123456789abcdefghijkl",
	      "sk-learn and risk-0123456789abcdefghijkl");
	check(r, "ghp_0123456789abcdefghijABCDEFGHIJklmnop!", "[REDACTED]!");
	check(r, "github_pat_11ABCDEFG0123456789_abcdefghij", "[REDACTED]");
	check(r, "xoxb-1234-5678-abcdefgh xoxp-1234567890-x",
	      "[REDACTED] [REDACTED]");
	check(r, "id AKIAIOSFODNN7EXAMPLE.", "id [REDACTED].");
	/* AKIA followed by more than 16 is not an access key id */
	check(r, "AKIAIOSFODNN7EXAMPLEX", "AKIAIOSFODNN7EXAMPLEX");
	check(r, "Authorization: Bearer abc.def-ghi_jkl==\n",
	      "Authorization: Bearer [REDACTED]\n");
	check(r, "authorization: bearer   eyJhbGciOi.x",
	      "authorization: bearer   [REDACTED]");
	check(r, "Bearer short", "Bearer short");
	check(r, "a bearer of news", "a bearer of news");
	redactor_free(r);
}

static void
test_off_and_mem(void **state)
{
	static const char *const extra[] = {"canary-secret-1", NULL};
	struct redactor *r = redactor_new_env(extra, NULL);
	const char in[] = "a\0canary-secret-1\0b";
	char *out;
	size_t n;

	(void)state;
	/* a NULL redactor (logs.redact: false) copies */
	check(NULL, "canary-secret-1 sk-ant-api03-0123456789abcdefghij",
	      "canary-secret-1 sk-ant-api03-0123456789abcdefghij");
	out = redact_mem(r, in, sizeof in - 1, &n);
	assert_int_equal(n, 1 + 1 + 10 + 1 + 1);
	assert_memory_equal(out, "a\0[REDACTED]\0b", n);
	assert_int_equal(out[n], '\0');
	free(out);
	redactor_free(r);
	redactor_free(NULL);
}

/*
 * Every token shape and "Bearer" in any case is still found after the
 * first-byte tests: after NULs and binary bytes, at the start and at the
 * end of the buffer, each shape alone.
 */
static void
test_every_shape_among_binary(void **state)
{
	static const char *const tokens[] = {
		"sk-ant-api03-0123456789abcdefghij",
		"ghp_0123456789abcdefghijKLMN",
		"gho_0123456789abcdefghijKLMN",
		"ghu_0123456789abcdefghijKLMN",
		"ghs_0123456789abcdefghijKLMN",
		"ghr_0123456789abcdefghijKLMN",
		"github_pat_0123456789abcdefghij",
		"xoxa-0123456789",
		"xoxb-0123456789",
		"xoxp-0123456789",
		"xoxr-0123456789",
		"xoxs-0123456789",
		"AKIAIOSFODNN7EXAMPLE",
		"canary-value-99",
	};
	static const char *const extra[] = {"canary-value-99", NULL};
	struct redactor *r = redactor_new_env(extra, NULL);
	char in[128], *out;
	size_t i, n, tl;

	(void)state;
	for (i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
		tl = strlen(tokens[i]);
		/* NUL, 0xff, the token, NUL */
		in[0] = '\0';
		in[1] = (char)0xff;
		memcpy(in + 2, tokens[i], tl);
		in[2 + tl] = '\0';
		out = redact_mem(r, in, tl + 3, &n);
		assert_int_equal(n, 3 + strlen(REDACT_MARK));
		assert_memory_equal(out + 2, REDACT_MARK, strlen(REDACT_MARK));
		free(out);
		/* alone: at the start and the end of the buffer */
		out = redact_mem(r, tokens[i], tl, &n);
		assert_string_equal(out, REDACT_MARK);
		free(out);
	}
	check(r,
	      "x\x01"
	      "BEARER 0123456789abcdef",
	      "x\x01"
	      "BEARER [REDACTED]");
	check(r,
	      "\x7f"
	      "bearer\t0123456789abcdef",
	      "\x7f"
	      "bearer\t[REDACTED]");
	redactor_free(r);
}

static void
test_secret_names(void **state)
{
	(void)state;
	assert_true(redact_secret_name("FOO_API_KEY"));
	assert_true(redact_secret_name("foo_api_key"));
	assert_true(redact_secret_name("GH_TOKEN"));
	assert_true(redact_secret_name("CLIENT_SECRET"));
	assert_true(redact_secret_name("MYSQL_PASSWORD"));
	assert_true(redact_secret_name("PASSWORD"));
	assert_true(redact_secret_name("ANTHROPIC_API_KEY"));
	assert_true(redact_secret_name("OPENAI_KEY"));
	assert_false(redact_secret_name("PATH"));
	assert_false(redact_secret_name("TOKEN_COUNT"));
	assert_false(redact_secret_name("KEYBOARD"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_token_shapes),
		cmocka_unit_test(test_off_and_mem),
		cmocka_unit_test(test_secret_names),
		cmocka_unit_test(test_every_shape_among_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
