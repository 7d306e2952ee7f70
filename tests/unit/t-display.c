/* Unit tests for lib/display.c: text made safe and fitted for a terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/display.h"

static void
safe_is(const char *in, const char *want)
{
	char *got = display_safe(in);

	assert_string_equal(got, want);
	free(got);
}

static void
fit_is(const char *in, size_t width, const char *want)
{
	char *got = display_fit(in, width);

	assert_string_equal(got, want);
	assert_true(display_width(got) <= width);
	free(got);
}

static void
test_safe(void **state)
{
	(void)state;
	safe_is(NULL, "-");
	safe_is("", "");
	safe_is("plain", "plain");
	safe_is("\x1b]0;pwn\a\x1b[2J", "\\e]0;pwn\\x07\\e[2J");
	safe_is("x\ntask 9 completed", "x\\ntask 9 completed");
	safe_is("a\tb\rc\x7f", "a\\tb\\rc\\x7f");
	/* UTF-8 kept: é, 日本語, an emoji */
	safe_is("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x9a"
		"\x80",
		"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x9a"
		"\x80");
	/* invalid: a lone continuation, a cut sequence, an overlong, CSI */
	safe_is("a\x80z", "a\\x80z");
	safe_is("\xe6\x97", "\\xe6\\x97");
	safe_is("\xc0\xaf", "\\xc0\\xaf");
	safe_is("\x9b"
		"31m",
		"\\x9b31m");
	safe_is("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* a surrogate */
	/* C1 controls and a bidi override, well-formed but escaped */
	safe_is("\xc2\x9b"
		"1m",
		"\\u009b1m");
	safe_is("a\xe2\x80\xae"
		"b",
		"a\\u202eb");
}

static void
test_width(void **state)
{
	(void)state;
	assert_int_equal(display_width("abc"), 3);
	assert_int_equal(display_width("\xe6\x97\xa5\xe6\x9c\xac"), 4);
	assert_int_equal(display_width("e\xcc\x81"), 1); /* e + acute */
	assert_int_equal(display_width("\xf0\x9f\x9a\x80"), 2);
	assert_int_equal(display_width("\x1b"), 2);
	assert_int_equal(display_width("\xff"), 4);
}

static void
test_fit(void **state)
{
	(void)state;
	fit_is("hello", 5, "hello");
	fit_is("hello", DISPLAY_NOLIMIT, "hello");
	fit_is("hello world", 8, "hello w\xe2\x80\xa6");
	fit_is("hello", 1, "\xe2\x80\xa6");
	fit_is("hello", 0, "");
	/* wide characters are never split and count two columns */
	fit_is("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 5,
	       "\xe6\x97\xa5\xe6\x9c\xac\xe2\x80\xa6");
	fit_is("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4,
	       "\xe6\x97\xa5\xe2\x80\xa6");
	fit_is("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 6,
	       "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	/* an escape is never split either */
	fit_is("ab\x1b[2J", 3, "ab\xe2\x80\xa6");
	fit_is("ab\x1b[2J", 4, "ab\xe2\x80\xa6");
	fit_is("ab\x1b[2J", 5, "ab\\e\xe2\x80\xa6");
	fit_is("caf\xc3\xa9s", 4, "caf\xe2\x80\xa6");
}

static void
test_count(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(display_count(0, buf, sizeof buf), "0");
	assert_string_equal(display_count(999, buf, sizeof buf), "999");
	assert_string_equal(display_count(1000, buf, sizeof buf), "1,000");
	assert_string_equal(display_count(999950, buf, sizeof buf), "999,950");
	assert_string_equal(display_count(-1234567, buf, sizeof buf),
			    "-1,234,567");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safe),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
