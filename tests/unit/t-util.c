/* Unit tests for core/util.c. */

/* realpath() and symlink() are XSI. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/project.h"
#include "core/session.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/fsafe.h"
#include "lib/id.h"
#include "lib/sha256.h"
#include "lib/num.h"
#include "lib/strbuf.h"
#include "lib/sys.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

#define TEST_NAME "t-util"
#include "tests/unit/test.h"

static void
test_duration_ok(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} cases[] = {
		{"0", 0},
		{"90", 90000},
		{"90s", 90000},
		{"15m", 900000},
		{"2h", 7200000},
		{"1d", 86400000},
		{"250ms", 250},
		{"007s", 7000},
		{"9223372036854775807ms", INT64_MAX},
		{"1h30m", 5400000},
		{"1.5h", 5400000},
		{"2m30s", 150000},
		{"1w", 604800000},
		{"2d", 172800000},
		{"1w2d3h4m5s6ms", 788645006},
		{"0.25s", 250},
		{"1.001s", 1001},
		{"0.5m", 30000},
		{"1s500ms", 1500},
		{"5min", 300000},
		{"1h30min", 5400000},
		{"1.5min", 90000},
	};
	size_t i;
	int64_t ms;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ms = -1;
		assert_int_equal(duration_parse(cases[i].s, &ms), 0);
		assert_true(ms == cases[i].ms);
	}
}

static void
test_duration_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"-1",
		"-5m",
		"+5m",
		" 5m",
		"5m ",
		"5 m",
		"15 minutes",
		"m",
		"ms",
		"5M",
		"5sec",
		"5mins",
		"5mn",
		"1m5min",
		"1H",
		"1h30",
		"1h 30m",
		"30m1h",
		"1m1m",
		"1ms1s",
		"1.h",
		".5h",
		"1.5",
		"1..5h",
		"1.5.5h",
		"1.0001s",
		"1.5ms",
		"0.0000000001w",
		"1d-1h",
		"1y",
		"2mo",
		"0x10",
		"9223372036854775808ms",
		"9223372036854775807s",
		"106751991167301d",
		"15250284452472w",
		"106751991167d8h",
		"99999999999999999999",
		/* the fraction pushes it past INT64_MAX ms (fuzz-duration,
		 * an hour's run: signed overflow) */
		"9223372036854775.9s",
	};
	size_t i;
	int64_t ms = 42;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (duration_parse(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(ms == 42);
	}
	assert_int_equal(duration_parse(NULL, &ms), -1);
}

/* One message for a bad duration, wherever it is read. */
static void
test_duration_error(void **state)
{
	char *s = duration_error("5x");
	int64_t ms;

	(void)state;
	assert_string_equal(s, "invalid duration '5x': use e.g. 90s, 15m, "
			       "1h30m, 1.5h");
	free(s);
	/* and the examples it gives are durations */
	assert_int_equal(duration_parse("106751991167d7h", &ms), 0);
	assert_int_equal(duration_parse("1h30m", &ms), 0);
	assert_int_equal(duration_parse("1.5h", &ms), 0);
}

static void
test_duration_format(void **state)
{
	static const struct {
		int64_t ms;
		const char *s;
	} cases[] = {
		{0, "0s"},	   {250, "250ms"},   {1500, "1500ms"},
		{90000, "90s"},	   {900000, "15m"},  {5400000, "90m"},
		{7200000, "2h"},   {86400000, "1d"}, {90000000, "25h"},
		{172800000, "2d"},
	};
	size_t i;
	char *s;
	int64_t back;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s = duration_format(cases[i].ms);
		assert_string_equal(s, cases[i].s);
		/* The format parses back to the same value. */
		assert_int_equal(duration_parse(s, &back), 0);
		assert_true(back == cases[i].ms);
		free(s);
	}
}

static void
test_parse_int(void **state)
{
	long long v = 7;

	(void)state;
	assert_int_equal(text_parse_int("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(text_parse_int("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(text_parse_int("0", 0, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(
		text_parse_int("9223372036854775807", 0, LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MAX);

	v = 7;
	assert_int_equal(text_parse_int("101", 0, 100, &v), -1);
	assert_int_equal(text_parse_int("-1", 0, 100, &v), -1);
	assert_int_equal(text_parse_int("", 0, 100, &v), -1);
	assert_int_equal(text_parse_int(" 4", 0, 100, &v), -1);
	assert_int_equal(text_parse_int("4 ", 0, 100, &v), -1);
	assert_int_equal(text_parse_int("4x", 0, 100, &v), -1);
	assert_int_equal(text_parse_int("x", 0, 100, &v), -1);
	assert_int_equal(text_parse_int("1.0", 0, 100, &v), -1);
	assert_int_equal(
		text_parse_int("9223372036854775808", 0, LLONG_MAX, &v), -1);
	assert_int_equal(text_parse_int(NULL, 0, 100, &v), -1);
	assert_int_equal(v, 7);
}

static void
test_rfc3339(void **state)
{
	char buf[32];

	(void)state;
	time_rfc3339(0, buf, sizeof buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	time_rfc3339(1795280403123LL, buf, sizeof buf);
	assert_string_equal(buf, "2026-11-21T17:00:03.123Z");
	time_rfc3339(951782400000LL, buf, sizeof buf); /* leap day */
	assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
	time_rfc3339(-1, buf, sizeof buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

static void
test_parse_time(void **state)
{
	int64_t ms = 0, now;
	char buf[32];

	(void)state;
	assert_int_equal(time_parse("2026-11-21T17:00:03.123Z", &ms), 0);
	assert_true(ms == 1795280403123LL);
	assert_int_equal(time_parse("2026-11-21T17:00:03Z", &ms), 0);
	assert_true(ms == 1795280403000LL);
	assert_int_equal(time_parse("2026-11-21T17:00", &ms), 0);
	assert_true(ms == 1795280400000LL);
	assert_int_equal(time_parse("2026-11-21", &ms), 0);
	assert_true(ms == 1795219200000LL);
	assert_int_equal(time_parse("2026-11-21T19:00:03.1+02:00", &ms), 0);
	assert_true(ms == 1795280403100LL);
	assert_int_equal(time_parse("2026-11-21 17:00:03", &ms), 0);
	assert_true(ms == 1795280403000LL);
	assert_int_equal(time_parse("2000-02-29", &ms), 0);

	/* Round trip through the formatter. */
	now = clock_now_ms();
	time_rfc3339(now, buf, sizeof buf);
	assert_int_equal(time_parse(buf, &ms), 0);
	assert_true(ms == now);

	assert_int_equal(time_parse("", &ms), -1);
	assert_int_equal(time_parse("2026-13-01", &ms), -1);
	assert_int_equal(time_parse("2026-02-29", &ms), -1);
	assert_int_equal(time_parse("2026-11-21T25:00", &ms), -1);
	assert_int_equal(time_parse("2026-11-21T17", &ms), -1);
	assert_int_equal(time_parse("2026-11-21T17:00:03.Z", &ms), -1);
	assert_int_equal(time_parse("2026-11-21x", &ms), -1);
	assert_int_equal(time_parse("26-11-21", &ms), -1);
	assert_int_equal(time_parse("yesterday", &ms), -1);
}

static void
test_clocks(void **state)
{
	int64_t a, b;

	(void)state;
	a = clock_mono_ms();
	b = clock_mono_ms();
	assert_true(b >= a);
	/* After 2020-01-01. */
	assert_true(clock_now_ms() > 1577836800000LL);
}

/* Version 7: the first 48 bits are the time in ms; later ids sort later. */
static void
test_uuid_time_ordered(void **state)
{
	struct timespec ms2 = {0, 2000000};
	char a[37], b[37], hex[13];
	int64_t before = clock_now_ms(), t;

	(void)state;
	id_uuid_new(a);
	memcpy(hex, a, 8);
	memcpy(hex + 8, a + 9, 4);
	hex[12] = '\0';
	t = (int64_t)strtoull(hex, NULL, 16);
	assert_true(t >= before && t <= clock_now_ms());
	nanosleep(&ms2, NULL);
	id_uuid_new(b);
	assert_true(strcmp(a, b) < 0);
}

static void
test_uuid(void **state)
{
	char a[37], b[37];
	char *low;
	int i;

	(void)state;
	id_uuid_new(a);
	id_uuid_new(b);
	assert_int_equal(strlen(a), 36);
	assert_true(id_is_uuid(a));
	assert_string_not_equal(a, b);
	for (i = 0; i < 36; i++)
		assert_true(a[i] == '-' || (a[i] >= '0' && a[i] <= '9') ||
			    (a[i] >= 'a' && a[i] <= 'f'));
	assert_int_equal(a[14], '7');		    /* version 7 */
	assert_true(strchr("89ab", a[19]) != NULL); /* variant 10 */

	assert_true(id_is_uuid("0E5A8A3C-1B2D-4E6F-8A9B-0C1D2E3F4A5B"));
	assert_false(id_is_uuid("0e5a8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5"));
	assert_false(id_is_uuid("0e5a8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5bb"));
	assert_false(id_is_uuid("0e5a8a3c1b2d-4e6f-8a9b-0c1d2e3f4a5b-"));
	assert_false(id_is_uuid("0e5a8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5g"));
	assert_false(id_is_uuid(""));
	assert_false(id_is_uuid(NULL));

	low = id_uuid_lower("0E5A8A3C-1B2D-4E6F-8A9B-0C1D2E3F4A5B");
	assert_string_equal(low, "0e5a8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b");
	free(low);
}

static void
test_session_name(void **state)
{
	char long_name[66];

	(void)state;
	assert_true(session_name_valid("refactor"));
	assert_true(session_name_valid("a"));
	assert_true(session_name_valid("Feature_2.x-final"));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	assert_true(session_name_valid(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	assert_false(session_name_valid(long_name));
	assert_false(session_name_valid(""));
	assert_false(session_name_valid(NULL));
	assert_false(session_name_valid("has space"));
	assert_false(session_name_valid("a/b"));
	assert_false(session_name_valid("caf\xc3\xa9"));
	/* UUID-shaped but not hex: a mistyped UUID, not a name */
	assert_false(
		session_name_valid("12345678-1234-1234-1234-1234567890zz"));
	assert_false(
		session_name_valid("0e5a8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b"));
}

static void
test_closest(void **state)
{
	static const char *const keys[] = {"prompt", "model", "mode", "timeout",
					   NULL};
	static const char *const tie[] = {"bat", "hat", NULL};
	static const char *const cmds[] = {"stats", "status", "init", "list",
					   NULL};
	static const char *const none[] = {NULL};
	char word[TEXT_CLOSEST_MAX + 2];
	const char *longest[2] = {word, NULL};

	(void)state;
	/* the candidate itself is returned, not a copy */
	assert_ptr_equal(text_closest("prompt", keys, 2), keys[0]);
	assert_ptr_equal(text_closest("promt", keys, 2), keys[0]);
	assert_ptr_equal(text_closest("timout", keys, 2), keys[3]);
	/* a swap of neighbours is one edit */
	assert_ptr_equal(text_closest("mdoel", keys, 1), keys[1]);
	assert_null(text_closest("mdoel", keys, 0));
	/* of equally near ones, the one of the word's length */
	assert_ptr_equal(text_closest("stauts", cmds, 2), cmds[1]);
	assert_ptr_equal(text_closest("lsit", cmds, 2), cmds[3]);
	/* the nearest wins over an earlier, farther one */
	assert_ptr_equal(text_closest("mod", keys, 2), keys[2]);
	/* of equally near ones, the first */
	assert_ptr_equal(text_closest("cat", tie, 2), tie[0]);
	/* too far, or as far as the word is long */
	assert_null(text_closest("agent", keys, 2));
	assert_null(text_closest("x", tie, 5));
	assert_null(text_closest("ab", tie, 5));
	assert_null(text_closest("", tie, 5));
	assert_null(text_closest("prompt", none, 2));
	/* words past TEXT_CLOSEST_MAX bytes match nothing, even themselves */
	memset(word, 'k', TEXT_CLOSEST_MAX);
	word[TEXT_CLOSEST_MAX] = '\0';
	assert_ptr_equal(text_closest(word, longest, 0), word);
	word[TEXT_CLOSEST_MAX] = 'k';
	word[TEXT_CLOSEST_MAX + 1] = '\0';
	assert_null(text_closest(word, longest, 0));
	assert_null(text_closest("prompt", longest, 100));
}

static void
test_join(void **state)
{
	static const char *const three[] = {"a", "bc", "d", NULL};
	static const char *const one[] = {"only", NULL};
	static const char *const none[] = {NULL};
	char *s;

	(void)state;
	s = text_join(three);
	assert_string_equal(s, "a, bc, d");
	free(s);
	s = text_join(one);
	assert_string_equal(s, "only");
	free(s);
	s = text_join(none);
	assert_string_equal(s, "");
	free(s);
}

static void
test_shown(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(text_shown("abc", 3, 8, buf), "abc");
	/* control characters and NULs are shown as '?' */
	assert_string_equal(text_shown("a\tb\0c\x7f", 6, 8, buf), "a?b?c?");
	assert_string_equal(text_shown("abcdefghij", 10, 8, buf),
			    "abcdefgh...");
	/* never cut inside a UTF-8 character: é is 2 bytes at 7..8 */
	assert_string_equal(text_shown("abcdefg\xc3\xa9z", 10, 8, buf),
			    "abcdefg...");
	assert_ptr_equal(text_shown("", 0, 8, buf), buf);
	assert_string_equal(buf, "");
}

static void
test_line_col(void **state)
{
	static const char text[] = "ab\ncd\n\nx";
	size_t line, col;

	(void)state;
	text_line_col(text, sizeof text - 1, 0, &line, &col);
	assert_true(line == 1 && col == 1);
	text_line_col(text, sizeof text - 1, 2, &line, &col);
	assert_true(line == 1 && col == 3);
	text_line_col(text, sizeof text - 1, 3, &line, &col);
	assert_true(line == 2 && col == 1);
	text_line_col(text, sizeof text - 1, 7, &line, &col);
	assert_true(line == 4 && col == 1);
	/* past the end counts as at the end */
	text_line_col(text, sizeof text - 1, 1000, &line, &col);
	assert_true(line == 4 && col == 2);
}

static void
test_files(void **state)
{
	char *p = test_path(*state, "f"), *s;
	char big[5000];
	struct stat st;
	mode_t old;
	size_t len = 0;

	old = umask(0);
	assert_int_equal(file_write(p, "hello\nworld\n", 12), 0);
	umask(old);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	s = file_read(p, 100, &len);
	assert_non_null(s);
	assert_int_equal(len, 12);
	assert_string_equal(s, "hello\nworld\n");
	free(s);

	/* Exactly max is fine, one more byte is EFBIG. */
	s = file_read(p, 12, NULL);
	assert_non_null(s);
	free(s);
	errno = 0;
	assert_null(file_read(p, 11, NULL));
	assert_int_equal(errno, EFBIG);

	s = file_read_first_line(p, 100);
	assert_string_equal(s, "hello");
	free(s);
	s = file_read_first_line(p, 3);
	assert_string_equal(s, "hel");
	free(s);

	s = file_read_tail(p, 6);
	assert_string_equal(s, "world\n");
	free(s);
	s = file_read_tail(p, 1000);
	assert_string_equal(s, "hello\nworld\n");
	free(s);

	/* A file that exists is never overwritten (nor one through a
	 * symlink): file_write() creates. */
	memset(big, 'x', sizeof big);
	big[sizeof big - 1] = 'y';
	errno = 0;
	assert_int_equal(file_write(p, big, sizeof big), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(file_write(p, big, sizeof big), 0);
	s = file_read(p, sizeof big, &len);
	assert_int_equal(len, sizeof big);
	assert_memory_equal(s, big, sizeof big);
	free(s);
	s = file_read_tail(p, 2);
	assert_string_equal(s, "xy");
	free(s);

	assert_int_equal(unlink(p), 0);
	assert_int_equal(file_write(p, "a\r\nb", 4), 0);
	s = file_read_first_line(p, 100);
	assert_string_equal(s, "a");
	free(s);

	assert_int_equal(unlink(p), 0);
	assert_int_equal(file_write(p, "", 0), 0);
	errno = 0;
	assert_null(file_read_first_line(p, 100));
	s = file_read(p, 10, &len);
	assert_int_equal(len, 0);
	assert_string_equal(s, "");
	free(s);
	free(p);

	p = test_path(*state, "missing");
	errno = 0;
	assert_null(file_read(p, 10, NULL));
	assert_int_equal(errno, ENOENT);
	assert_null(file_read_tail(p, 10));
	assert_null(file_read_first_line(p, 10));
	free(p);

	p = test_path(*state, "no/such/dir/f");
	assert_int_equal(file_write(p, "x", 1), -1);
	free(p);
}

/*
 * What an agent can leave where baton reads back (SPEC §3): a FIFO is
 * refused at once (never waited on), a symlink is not followed; a file
 * the user names may be a pipe, and a FIFO with no writer reads empty.
 */
static void
test_files_hostile(void **state)
{
	char *fifo = test_path(*state, "fifo"), *link = test_path(*state, "l");
	char *real = test_path(*state, "real"), *dir = test_path(*state, "d");
	char *s, *in;
	int fds[2];
	size_t len;

	assert_int_equal(mkfifo(fifo, 0600), 0);
	test_write(real, "secret\n");
	assert_int_equal(symlink(real, link), 0);
	errno = 0;
	assert_null(file_read(fifo, 100, NULL));
	assert_int_equal(errno, FILE_ENOTREG);
	assert_null(file_read_tail(fifo, 10));
	assert_null(file_read_first_line(fifo, 10));
	assert_int_equal(file_open_read(fifo), -1);
	errno = 0;
	assert_null(file_read(link, 100, NULL));
	assert_int_equal(errno, ELOOP);
	assert_null(file_read_first_line(link, 100));
	assert_string_equal(file_strerror(ELOOP),
			    "is a symbolic link (not followed)");
	assert_string_equal(file_strerror(FILE_ENOTREG), "not a regular file");
	/* nor written through */
	assert_int_equal(file_write(link, "x", 1), -1);
	assert_int_equal(errno, EEXIST);
	s = file_read(real, 100, NULL);
	assert_string_equal(s, "secret\n");
	free(s);

	/* user input: a FIFO with no writer is empty; a pipe is read */
	s = file_read_input(fifo, 100, &len);
	assert_non_null(s);
	assert_int_equal(len, 0);
	free(s);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "piped", 5), 5);
	close(fds[1]);
	in = xasprintf("/dev/fd/%d", fds[0]);
	s = file_read_input(in, 100, &len);
	assert_non_null(s);
	assert_string_equal(s, "piped");
	free(s);
	free(in);
	close(fds[0]);
	s = file_read_input(link, 100, &len); /* the user's own symlink */
	assert_string_equal(s, "secret\n");
	free(s);

	/* directories: ours is fine, a symlink to one is not */
	assert_int_equal(file_mkdir_own(dir, 0700), 0);
	assert_int_equal(file_mkdir_own(dir, 0700), 0);
	free(link);
	link = test_path(*state, "dl");
	assert_int_equal(symlink(dir, link), 0);
	errno = 0;
	assert_int_equal(file_mkdir_own(link, 0700), -1);
	assert_int_equal(errno, ENOTDIR);
	free(fifo);
	free(link);
	free(real);
	free(dir);
}

static void
test_read_tail_pipe(void **state)
{
	char *s, *all;
	size_t len;

	(void)state;
	/* Only a missing /proc skips: a file_read_tail that fails on a
	 * file whose size reads as 0 is a failure, not a skip. */
	if (access("/proc/self/status", R_OK) != 0)
		skip();
	/* Not seekable: the window logic keeps the last bytes. */
	s = file_read_tail("/proc/self/status", 5);
	assert_non_null(s);
	assert_int_equal(strlen(s), 5);
	assert_int_equal(s[4], '\n');
	free(s);
	/* the same on a file whose bytes do not change between reads */
	all = test_read("/proc/self/comm", &len);
	assert_non_null(all);
	assert_true(len >= 5);
	s = file_read_tail("/proc/self/comm", 5);
	assert_non_null(s);
	assert_string_equal(s, all + len - 5);
	free(all);
	free(s);
}

static void
test_mkdir_p(void **state)
{
	char *a = test_path(*state, "a"), *deep = test_path(*state, "a/b//c/");
	char *f = test_path(*state, "a/file"),
	     *under = test_path(*state, "a/file/x");
	struct stat st;
	mode_t old;

	old = umask(022);
	assert_int_equal(file_mkdir_p(deep, 0700), 0);
	umask(old);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* Existing directories are fine and keep their mode. */
	assert_int_equal(chmod(a, 0755), 0);
	assert_int_equal(file_mkdir_p(deep, 0700), 0);
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	/* A file in the way. */
	assert_int_equal(file_write(f, "", 0), 0);
	errno = 0;
	assert_int_equal(file_mkdir_p(f, 0700), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(file_mkdir_p(under, 0700), -1);
	assert_int_equal(file_mkdir_p("", 0700), -1);

	free(a);
	free(deep);
	free(f);
	free(under);
}

static void
test_strbuf(void **state)
{
	struct strbuf sb;
	char *s;
	int i;

	(void)state;
	strbuf_init(&sb);
	assert_non_null(sb.buf);
	assert_string_equal(sb.buf, "");
	strbuf_adds(&sb, "abc");
	strbuf_add(&sb, "defgh", 2);
	strbuf_addf(&sb, "-%d-%s", 42, "x");
	assert_string_equal(sb.buf, "abcde-42-x");
	assert_int_equal(sb.len, 10);
	for (i = 0; i < 1000; i++)
		strbuf_adds(&sb, "0123456789");
	assert_int_equal(sb.len, 10010);
	assert_int_equal(strlen(sb.buf), 10010);
	s = strbuf_detach(&sb);
	assert_int_equal(strlen(s), 10010);
	free(s);

	/* Detached or released, it can be reused or detached again. */
	s = strbuf_detach(&sb);
	assert_string_equal(s, "");
	free(s);
	strbuf_release(&sb);
	strbuf_release(&sb);
	strbuf_release(NULL);
	strbuf_init(&sb);
	strbuf_addf(&sb, "%s", "");
	assert_string_equal(sb.buf, "");
	strbuf_release(&sb);
}

/* xasprintf: a short string in one pass, a long one (past its 4 KiB
 * buffer) written again in full, each with its terminating NUL. */
static void
test_xasprintf(void **state)
{
	static const size_t sizes[] = {0, 1, 4094, 4095, 4096, 4097, 100000};
	char *arg, *p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		arg = xmalloc(sizes[i] + 1);
		memset(arg, 'a' + (int)i, sizes[i]);
		arg[sizes[i]] = '\0';
		p = xasprintf("<%s>%d", arg, 7);
		assert_int_equal(strlen(p), sizes[i] + 3);
		assert_int_equal(p[0], '<');
		assert_memory_equal(p + 1, arg, sizes[i]);
		assert_string_equal(p + 1 + sizes[i], ">7");
		free(p);
		free(arg);
	}
}

static void
test_strvec(void **state)
{
	struct strvec sv;
	char **copy;
	int i;

	(void)state;
	strvec_init(&sv);
	assert_non_null(sv.v);
	assert_null(sv.v[0]);
	assert_int_equal(strv_len(sv.v), 0);
	strvec_push(&sv, "sh");
	strvec_pushf(&sv, "-%c", 'c');
	for (i = 0; i < 100; i++)
		strvec_pushf(&sv, "%d", i);
	assert_int_equal(sv.n, 102);
	assert_string_equal(sv.v[0], "sh");
	assert_string_equal(sv.v[1], "-c");
	assert_string_equal(sv.v[101], "99");
	assert_null(sv.v[102]);

	copy = strv_dup(sv.v);
	assert_int_equal(strv_len(copy), 102);
	assert_true(copy[0] != sv.v[0]);
	assert_string_equal(copy[101], "99");
	strvec_release(&sv);
	strvec_release(&sv);
	strvec_release(NULL);
	assert_string_equal(copy[0], "sh");
	strv_free(copy);

	assert_null(strv_dup(NULL));
	strv_free(NULL);
	assert_int_equal(strv_len(NULL), 0);
}

/* Counts and amounts an agent reports, and their sums, stay in range. */
static void
test_num(void **state)
{
	(void)state;
	assert_int_equal(num_count(-1), 0);
	assert_int_equal(num_count(42), 42);
	assert_int_equal(num_count(INT64_MAX), NUM_COUNT_MAX);
	assert_int_equal(num_count_add(INT64_MAX, INT64_MAX), NUM_COUNT_MAX);
	assert_int_equal(num_count_add(NUM_COUNT_MAX - 1, 1), NUM_COUNT_MAX);
	assert_int_equal(num_count_add(-5, 3), 3);
	assert_int_equal(num_count_of(1e300), NUM_COUNT_MAX);
	assert_int_equal(num_count_of(-1e300), 0);
	assert_int_equal(num_count_of(0.0 / 0.0), 0);
	assert_int_equal(num_count_of(12.9), 12);
	assert_true(num_usd(1.0 / 0.0) == NUM_USD_MAX);
	assert_true(num_usd(-1.0 / 0.0) == 0);
	assert_true(num_usd(0.0 / 0.0) == 0);
	assert_true(num_usd(-0.5) == 0);
	assert_true(num_usd(0.25) == 0.25);
	assert_true(num_usd_add(1e308, 1e308) == NUM_USD_MAX);
	assert_true(num_usd_add(0.5, 0.25) == 0.75);
}

/* Money as written on the command line and in the config: plain
 * decimals only. */
static void
test_num_decimal(void **state)
{
	static const char *const bad[] = {
		"",   "0x10", "0X1p4", "inf", "nan", "-1",  "+2",    " 5",
		"5 ", "5x",   ".",     "e2",  "1e",  "1e+", "1e400", "1,5"};
	double v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = -7;
		assert_int_equal(num_parse_decimal(bad[i], &v), -1);
		assert_true(v == -7);
	}
	assert_int_equal(num_parse_decimal("5", &v), 0);
	assert_true(v == 5);
	assert_int_equal(num_parse_decimal("0.30", &v), 0);
	assert_true(v == 0.30);
	assert_int_equal(num_parse_decimal(".5", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(num_parse_decimal("1e2", &v), 0);
	assert_true(v == 100);
	assert_int_equal(num_parse_decimal("0", &v), 0);
	assert_true(v == 0);
}

/* Resource errors are told apart and say the limit behind them. */
static void
test_resource_text(void **state)
{
	struct rlimit old, rl;
	char *s;

	(void)state;
	assert_true(sys_resource_errno(EMFILE));
	assert_true(sys_resource_errno(ENFILE));
	assert_true(sys_resource_errno(EAGAIN));
	assert_true(sys_resource_errno(ENOMEM));
	assert_false(sys_resource_errno(ENOENT));
	assert_false(sys_resource_errno(EACCES));
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = 200;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	s = sys_resource_text(EMFILE);
	assert_string_equal(s, "too many open files (the limit on open files, "
			       "ulimit -n, is 200)");
	free(s);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	s = sys_resource_text(ENFILE);
	assert_non_null(strstr(s, "fs.file-max"));
	free(s);
}

static void
test_names(void **state)
{
	char *u = sys_user_name(), *h = sys_host_name();

	(void)state;
	assert_non_null(u);
	assert_true(strlen(u) > 0);
	assert_non_null(h);
	assert_true(strlen(h) > 0);
	free(u);
	free(h);
}

static void
test_project(void **state)
{
	char *top = test_path(*state, "repo"),
	     *sub = test_path(*state, "repo/a/b");
	char *git = test_path(*state, "repo/.git"),
	     *out = test_path(*state, "out");
	char *wt = test_path(*state, "wt"),
	     *wtgit = test_path(*state, "wt/.git");
	char *link = test_path(*state, "link"), *p, *real_top, *real_out;

	assert_int_equal(file_mkdir_p(sub, 0755), 0);
	assert_int_equal(file_mkdir_p(git, 0755), 0);
	assert_int_equal(file_mkdir_p(out, 0755), 0);
	assert_int_equal(file_mkdir_p(wt, 0755), 0);
	/* A worktree or submodule has a .git file. */
	assert_int_equal(file_write(wtgit, "gitdir: x\n", 10), 0);
	assert_int_equal(symlink(sub, link), 0);

	real_top = realpath(top, NULL);
	real_out = realpath(out, NULL);

	p = project_of(sub);
	assert_string_equal(p, real_top);
	free(p);
	p = project_of(top);
	assert_string_equal(p, real_top);
	free(p);
	/* Symlinks are resolved before walking up. */
	p = project_of(link);
	assert_string_equal(p, real_top);
	free(p);
	p = xasprintf("%s/a/../a/./b", top);
	free(sub);
	sub = project_of(p);
	assert_string_equal(sub, real_top);
	free(p);

	p = project_of(wt);
	assert_non_null(p);
	assert_true(strstr(p, "/wt") != NULL);
	free(p);

	/* Outside git: the directory itself, unless the temporary
	 * directory is inside a git tree, when it is that tree's top. */
	p = project_of(out);
	assert_non_null(p);
	if (strcmp(p, real_out) != 0) {
		char *dotgit = test_path(p, ".git");
		struct stat gst;

		fprintf(stderr, "note: %s is inside a git tree (%s)\n", out, p);
		assert_int_equal(strncmp(real_out, p, strlen(p)), 0);
		assert_int_equal(lstat(dotgit, &gst), 0);
		free(dotgit);
	}
	free(p);

	errno = 0;
	p = xasprintf("%s/nope", out);
	assert_null(project_of(p));
	assert_int_equal(errno, ENOENT);
	free(p);
	assert_null(project_of(wtgit));
	assert_int_equal(errno, ENOTDIR);

	free(top);
	free(sub);
	free(git);
	free(out);
	free(wt);
	free(wtgit);
	free(link);
	free(real_top);
	free(real_out);
}

/* FIPS 180-4 examples, and lengths around the padding boundary. */
static void
test_sha256(void **state)
{
	char hex[65], buf[200];

	(void)state;
	sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		   56, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
				 "a33ce45964ff2167f6ecedd419db06c1");
	memset(buf, 'a', sizeof buf);
	sha256_hex(buf, 64, hex);
	assert_string_equal(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209"
				 "f439851db43d0ba5997337df154668eb");
	sha256_hex(buf, 55, hex);
	assert_string_equal(hex, "9f4390f8d30c2dd92ec9f095b65e2b9a"
				 "e9b0a925a5258e241c9f1e910f734318");
}

/* Network and FUSE file systems are named; local ones are not. */
static void
test_remote_fs(void **state)
{
	(void)state;
	assert_string_equal(fsafe_remote_fs_name(0x6969), "NFS");
	assert_string_equal(fsafe_remote_fs_name(0xFF534D42UL), "SMB/CIFS");
	assert_string_equal(fsafe_remote_fs_name(0xFE534D42UL), "SMB2");
	assert_non_null(strstr(fsafe_remote_fs_name(0x65735546UL), "FUSE"));
	assert_non_null(strstr(fsafe_remote_fs_name(0x65735546UL), "sshfs"));
	assert_string_equal(fsafe_remote_fs_name(0x01021997UL), "9p");
	assert_string_equal(fsafe_remote_fs_name(0x5346414FUL), "AFS");
	assert_string_equal(fsafe_remote_fs_name(0x00C36400UL), "Ceph");
	/* a negative long on an ABI where f_type is signed */
	assert_string_equal(
		fsafe_remote_fs_name((unsigned long)(long)(int)0xFF534D42U),
		"SMB/CIFS");
	assert_null(fsafe_remote_fs_name(0xEF53));     /* ext4 */
	assert_null(fsafe_remote_fs_name(0x01021994)); /* tmpfs */
	assert_null(fsafe_remote_fs_name(0x9123683E)); /* btrfs */
	assert_null(fsafe_remote_fs_name(0x58465342)); /* xfs */
	assert_null(fsafe_remote_fs_name(0x794C7630)); /* overlayfs */
	/* where the tests run is local */
	assert_null(fsafe_remote_fs("."));
}

/* Owner and mode: the user's own or root's, writable by nobody else. */
static void
test_fsafe_problem(void **state)
{
	struct stat st;
	char *why;

	(void)state;
	memset(&st, 0, sizeof st);
	st.st_uid = geteuid();
	st.st_mode = S_IFREG | 0600;
	assert_null(fsafe_problem(&st, 0));
	st.st_mode = S_IFREG | 0644;
	assert_null(fsafe_problem(&st, 0));
	assert_int_equal(fsafe_loose_bits(&st, 0), 0044);
	assert_int_equal(fsafe_loose_bits(&st, 1), 0004);
	st.st_mode = S_IFREG | 0664;
	assert_int_equal(fsafe_loose_bits(&st, 1), 0004);
	assert_int_equal(fsafe_loose_bits(&st, 0), 0064);
	st.st_mode = S_IFREG | 0660;
	why = fsafe_problem(&st, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "mode 0660: writable by its group"));
	free(why);
	assert_null(fsafe_problem(&st, 1));
	st.st_mode = S_IFREG | 0666;
	why = fsafe_problem(&st, 1);
	assert_non_null(strstr(why, "mode 0666: writable by others"));
	free(why);
	why = fsafe_problem(&st, 0);
	assert_non_null(strstr(why, "writable by group and others"));
	free(why);
	st.st_mode = S_IFREG | 0600;
	st.st_uid = 0;
	assert_null(fsafe_problem(&st, 0));
	st.st_uid = geteuid() == 65534 ? 65533 : 65534;
	why = fsafe_problem(&st, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "owned by another user, "));
	assert_non_null(strstr(why, "(uid 6553"));
	assert_non_null(strstr(why, "mode 0600"));
	free(why);
}

/* A database URL's password is masked wherever baton prints it. */
static void
test_url_mask(void **state)
{
	static const char *const cases[][2] = {
		{"postgres://u:secret@h:5432/db", "postgres://u:***@h:5432/db"},
		{"postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://h/db?password=secret&sslmode=require",
		 "postgres://h/db?password=***&sslmode=require"},
		{"postgres:///db?host=/tmp/x&user=u&password=pw",
		 "postgres:///db?host=/tmp/x&user=u&password=***"},
		{"/var/lib/baton.db", "/var/lib/baton.db"},
		{"mysql://root:pw@h/db", "mysql://root:***@h/db"},
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s = text_url_mask(cases[i][0]);
		assert_string_equal(s, cases[i][1]);
		free(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_ok),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_duration_error),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_uuid_time_ordered),
		cmocka_unit_test(test_session_name),
		cmocka_unit_test(test_closest),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_shown),
		cmocka_unit_test(test_line_col),
		cmocka_unit_test_setup_teardown(test_files, test_tmpdir_setup,
						test_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_files_hostile,
						test_tmpdir_setup,
						test_tmpdir_teardown),
		cmocka_unit_test(test_read_tail_pipe),
		cmocka_unit_test_setup_teardown(test_mkdir_p, test_tmpdir_setup,
						test_tmpdir_teardown),
		cmocka_unit_test(test_strbuf),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_remote_fs),
		cmocka_unit_test(test_fsafe_problem),
		cmocka_unit_test(test_xasprintf),
		cmocka_unit_test(test_strvec),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_num),
		cmocka_unit_test(test_num_decimal),
		cmocka_unit_test(test_resource_text),
		cmocka_unit_test(test_url_mask),
		cmocka_unit_test_setup_teardown(test_project, test_tmpdir_setup,
						test_tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
