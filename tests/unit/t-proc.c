/*
 * Unit tests for core/proc.c: running one subprocess.  The children are
 * the p-* helpers from tests/agents/, built next to this binary.
 */
#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "core/proc.h"
#include "lib/redact.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

#define TEST_NAME "t-proc"
#include "tests/unit/test.h"

/*
 * memfd_create() as a sandbox without it: with memfd_errno set, every
 * call of core/proc.c fails with it (this definition in the test
 * program wins over libc's).
 */
static int memfd_errno;

int
memfd_create(const char *name, unsigned int flags)
{
	if (memfd_errno != 0) {
		errno = memfd_errno;
		return -1;
	}
	return (int)syscall(SYS_memfd_create, name, flags);
}

#define SHORT_TIMEOUT 200
#define SHORT_GRACE   300
/* Sanity bound: far below the 100 s the children would otherwise live. */
#define SANE_MS 20000

struct ctx {
	char *bin;    /* directory holding the p-* helpers */
	char *dir;    /* scratch directory */
	char *prompt; /* a 10 MB prompt file full of shell syntax */
	size_t prompt_len;
};

/* A NULL-terminated argv of copies; free with av_free(). */
static char **__attribute__((sentinel)) av(const char *first, ...)
{
	va_list ap;
	char **v;
	const char *s;
	size_t n = 1, i = 0;

	va_start(ap, first);
	while (va_arg(ap, const char *) != NULL)
		n++;
	va_end(ap);
	v = xcalloc(n + 1, sizeof *v);
	v[i++] = xstrdup(first);
	va_start(ap, first);
	while ((s = va_arg(ap, const char *)) != NULL)
		v[i++] = xstrdup(s);
	va_end(ap);
	return v;
}

static void
av_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static char *
helper(struct ctx *c, const char *name)
{
	return xasprintf("%s/%s", c->bin, name);
}

static char *
tpath(struct ctx *c, const char *name)
{
	return test_path(c->dir, name);
}

static void
spec_init(struct proc_spec *s, char **argv)
{
	memset(s, 0, sizeof *s);
	s->argv = argv;
	s->stdout_tee_fd = -1;
	s->stderr_tee_fd = -1;
	s->stop_fd = -1;
}

static int
is_pattern(const char *buf, size_t len, size_t off)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)buf[i] != (off + i) % 251)
			return 0;
	}
	return 1;
}

static void
assert_file(const char *path, const char *want)
{
	size_t len;
	char *got = test_read(path, &len);

	assert_non_null(got);
	assert_int_equal(len, strlen(want));
	assert_string_equal(got, want);
	free(got);
}

/*
 * proc_run() creates its logs O_EXCL (a log that exists is refused, see
 * test_log_exists): the tests that run again into the same paths start
 * from none.
 */
static int
proc_run_fresh(const struct proc_spec *s, struct proc_result *res, char **cause)
{
	if (s->stdout_path != NULL && strncmp(s->stdout_path, "/dev/", 5))
		unlink(s->stdout_path);
	if (s->stderr_path != NULL && strncmp(s->stderr_path, "/dev/", 5))
		unlink(s->stderr_path);
	return proc_run(s, res, cause);
}

/* Run argv with stdout/stderr in dir/NAME.out|.err; returns proc_run(). */
static int
run_simple(struct ctx *c, char **argv, struct proc_result *res, char **cause)
{
	struct proc_spec s;
	char *out = tpath(c, "simple.out"), *err = tpath(c, "simple.err");
	int ret;

	spec_init(&s, argv);
	s.stdout_path = out;
	s.stderr_path = err;
	s.timeout_ms = SANE_MS;
	ret = proc_run_fresh(&s, res, cause);
	free(out);
	free(err);
	return ret;
}

/*
 * Wait (at most 5 s) for an orphaned grandchild, which comes to us as we
 * are a subreaper; returns its wait status, or -1 if it is still alive.
 */
static int
reap_grandchild(pid_t pid)
{
	int status, i;

	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	return -1;
}

static pid_t
read_pid(const char *path)
{
	size_t len;
	char *s = test_read(path, &len), *end;
	long v;

	assert_non_null(s);
	v = strtol(s, &end, 10);
	assert_true(end != s && *end == '\n' && v > 1);
	free(s);
	return (pid_t)v;
}

/* ------------------------------------------------------------------ */

static void
test_exit_codes(void **state)
{
	struct ctx *c = *state;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	static const int codes[] = {0, 1, 3, 255};
	char num[16];
	char **argv;
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		snprintf(num, sizeof num, "%d", codes[i]);
		argv = av(p, "exit", num, NULL);
		assert_int_equal(run_simple(c, argv, &res, &cause), 0);
		assert_null(cause);
		assert_int_equal(res.spawn_errno, 0);
		assert_true(res.pid > 0);
		assert_int_equal(res.exited, 1);
		assert_int_equal(res.exit_code, codes[i]);
		assert_int_equal(res.signal, 0);
		assert_int_equal(res.reason, PROC_RAN);
		av_free(argv);
	}
	free(p);
}

static int
count_fds(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Every path out of proc_run() closes its fds and reaps its child. */
static void
test_no_leftovers(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char *missing = tpath(c, "no-such-dir");
	char **ok = av(p, "out", "5000", "err", "5000", NULL);
	char **slow = av(p, "sleep", "100000", NULL);
	char **none = av("/nonexistent/baton-no-such", NULL);
	int before = count_fds(), status;

	assert_int_equal(run_simple(c, ok, &res, &cause), 0);
	assert_int_equal(run_simple(c, none, &res, &cause), 0);
	free(cause);
	cause = NULL;

	spec_init(&s, slow);
	s.timeout_ms = 50;
	s.kill_grace_ms = 50;
	s.stdin_path = c->prompt;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_TIMED_OUT);

	s.cwd = missing;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
	free(cause);
	cause = NULL;
	s.cwd = NULL;
	s.stderr_path = "/nonexistent-baton-dir/1.err";
	assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
	free(cause);

	assert_int_equal(count_fds(), before);
	/* No child left, not even a zombie. */
	assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	av_free(ok);
	av_free(slow);
	av_free(none);
	free(missing);
	free(p);
}

/* With SIGCHLD ignored the kernel reaps the child: no hang, no crash. */
static void
test_sigchld_ignored(void **state)
{
	struct ctx *c = *state;
	struct proc_result res;
	struct sigaction ign, old;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "print", "hi", "exit", "3", NULL);
	char *out = tpath(c, "simple.out");
	int ret;

	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
	ret = run_simple(c, argv, &res, &cause);
	sigaction(SIGCHLD, &old, NULL);
	assert_int_equal(ret, 0);
	assert_null(cause);
	assert_true(res.pid > 0);
	assert_int_equal(res.reason, PROC_RAN);
	assert_true(res.duration_ms < SANE_MS);
	assert_file(out, "hi\n");
	av_free(argv);
	free(out);
	free(p);
}

static void
test_signal_death(void **state)
{
	struct ctx *c = *state;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "print", "before", "kill", "10", "exit", "0", NULL);
	char *out = tpath(c, "simple.out");

	assert_int_equal(run_simple(c, argv, &res, &cause), 0);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signal, SIGUSR1);
	assert_int_equal(res.reason, PROC_RAN);
	assert_file(out, "before\n");
	av_free(argv);

	argv = av(p, "kill", "9", NULL);
	assert_int_equal(run_simple(c, argv, &res, &cause), 0);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signal, SIGKILL);
	av_free(argv);
	free(out);
	free(p);
}

static void
test_output_files(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct stat st;
	char *cause = NULL, *p = helper(c, "p-out"), *buf;
	char *out = tpath(c, "o.out"), *err = tpath(c, "o.err");
	char **argv = av(p, "print", "hello", "eprint", "oops", "out", "100000",
			 "err", "70000", "print", "bye", NULL);
	mode_t old;
	size_t len;
	int fd;

	/* An old, longer, world-readable log must be truncated and 0600. */
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	buf = xcalloc(1, 300000);
	assert_int_equal(write(fd, buf, 300000), 300000);
	free(buf);
	close(fd);

	spec_init(&s, argv);
	s.stdout_path = out;
	s.stderr_path = err;
	old = umask(0);
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	umask(old);
	assert_null(cause);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out_bytes, 6 + 100000 + 4);
	assert_int_equal(res.err_bytes, 5 + 70000);

	buf = test_read(out, &len);
	assert_non_null(buf);
	assert_int_equal(len, 6 + 100000 + 4);
	assert_memory_equal(buf, "hello\n", 6);
	assert_true(is_pattern(buf + 6, 100000, 0));
	assert_memory_equal(buf + 100006, "bye\n", 4);
	free(buf);
	buf = test_read(err, &len);
	assert_non_null(buf);
	assert_int_equal(len, 5 + 70000);
	assert_memory_equal(buf, "oops\n", 5);
	assert_true(is_pattern(buf + 5, 70000, 0));
	free(buf);

	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(err, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	av_free(argv);
	free(out);
	free(err);
	free(p);
}

static void
test_merge_stderr(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char *out = tpath(c, "m.out"), *err = tpath(c, "m.err");
	char **argv = av(p, "print", "one", "eprint", "two", "print", "three",
			 "eprint", "four", "exit", "1", NULL);

	unlink(err);
	spec_init(&s, argv);
	s.stdout_path = out;
	s.stderr_path = err;
	s.merge_stderr = 1;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 1);
	assert_file(out, "one\ntwo\nthree\nfour\n");
	assert_int_equal(res.out_bytes, 19);
	assert_int_equal(res.err_bytes, 0);
	assert_int_equal(access(err, F_OK), -1);
	av_free(argv);
	free(out);
	free(err);
	free(p);
}

static void
test_discard_output(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "out", "1000", "err", "2000", NULL);

	spec_init(&s, argv);
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.out_bytes, 1000);
	assert_int_equal(res.err_bytes, 2000);
	av_free(argv);
	free(p);
}

static void
test_stdin_prompt(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out"), *buf;
	char *out = tpath(c, "cat.out"), *pwned = tpath(c, "pwned");
	char **argv = av(p, "cat", NULL);
	size_t len;

	spec_init(&s, argv);
	s.cwd = c->dir;
	s.stdin_path = c->prompt;
	s.stdout_path = out;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out_bytes, c->prompt_len);

	buf = test_read(out, &len);
	assert_non_null(buf);
	assert_int_equal(len, c->prompt_len);
	{
		size_t plen;
		char *want = test_read(c->prompt, &plen);

		assert_non_null(want);
		assert_int_equal(plen, len);
		assert_memory_equal(buf, want, len);
		free(want);
	}
	free(buf);
	assert_int_equal(access(pwned, F_OK), -1);

	av_free(argv);
	free(out);
	free(pwned);
	free(p);
}

static void
test_argv_verbatim(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char *out = tpath(c, "args.out"), *pwned = tpath(c, "pwned");
	char **argv = av(p, "args", "--", "--help", "-x", "$(touch pwned)",
			 "`touch pwned`", "a b", "'\"", "", "*", ";|&>", NULL);

	spec_init(&s, argv);
	s.cwd = c->dir;
	s.stdout_path = out;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.exit_code, 0);
	assert_file(out, "--\n--help\n-x\n$(touch pwned)\n`touch pwned`\n"
			 "a b\n'\"\n\n*\n;|&>\n");
	assert_int_equal(access(pwned, F_OK), -1);
	av_free(argv);
	free(out);
	free(pwned);
	free(p);
}

static void
test_stdin_not_read(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "exit", "7", NULL);

	spec_init(&s, argv);
	s.stdin_path = c->prompt;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 7);
	av_free(argv);
	free(p);
}

static void
test_stdin_devnull(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "cat", "print", "eof", NULL);
	char *out = tpath(c, "null.out");

	spec_init(&s, argv);
	s.stdout_path = out;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_RAN);
	assert_file(out, "eof\n");
	av_free(argv);
	free(out);
	free(p);
}

static void
test_stderr_flood(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out"), *buf;
	char *out = tpath(c, "flood.out"), *err = tpath(c, "flood.err");
	char **argv = av(p, "err", "5000000", "out", "10", "err", "5", "exit",
			 "0", NULL);
	size_t len;

	spec_init(&s, argv);
	s.stdout_path = out;
	s.stderr_path = err;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.err_bytes, 5000005);
	assert_int_equal(res.out_bytes, 10);
	buf = test_read(err, &len);
	assert_non_null(buf);
	assert_int_equal(len, 5000005);
	assert_true(is_pattern(buf, len, 0));
	free(buf);
	buf = test_read(out, &len);
	assert_non_null(buf);
	assert_int_equal(len, 10);
	assert_true(is_pattern(buf, len, 0));
	free(buf);
	av_free(argv);
	free(out);
	free(err);
	free(p);
}

static void
test_child_closes_output(void **state)
{
	struct ctx *c = *state;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv =
		av(p, "print", "x", "close", "sleep", "300", "exit", "4", NULL);

	assert_int_equal(run_simple(c, argv, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 4);
	assert_int_equal(res.out_bytes, 2);
	assert_true(res.duration_ms >= 300);
	av_free(argv);
	free(p);
}

static void
test_timeout_term(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "sleep", "100000", NULL);

	spec_init(&s, argv);
	s.timeout_ms = SHORT_TIMEOUT;
	s.kill_grace_ms = SHORT_GRACE;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(res.reason, PROC_TIMED_OUT);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signal, SIGTERM);
	assert_true(res.duration_ms >= SHORT_TIMEOUT);
	assert_true(res.duration_ms < SANE_MS);
	av_free(argv);
	free(p);
}

static void
test_timeout_ignore_term(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-ignore-term");
	char *out = tpath(c, "ign.out");
	char **argv = av(p, NULL);

	spec_init(&s, argv);
	s.stdout_path = out;
	s.timeout_ms = SHORT_TIMEOUT;
	s.kill_grace_ms = SHORT_GRACE;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_TIMED_OUT);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signal, SIGKILL);
	assert_true(res.duration_ms >= SHORT_TIMEOUT + SHORT_GRACE);
	assert_true(res.duration_ms < SANE_MS);
	assert_file(out, "ready\n");
	av_free(argv);
	free(out);
	free(p);
}

/* A stopped child is continued so that the TERM reaches it. */
static void
test_timeout_stopped(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "kill", "19", "sleep", "100000", NULL);

	spec_init(&s, argv);
	s.timeout_ms = SHORT_TIMEOUT;
	s.kill_grace_ms = 2000;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_TIMED_OUT);
	assert_int_equal(res.signal, SIGTERM);
	av_free(argv);
	free(p);
}

/* p-fork MODE TERM; returns the grandchild's pid. */
static pid_t
run_fork(struct ctx *c, const char *mode, const char *term, int64_t timeout,
	 struct proc_result *res)
{
	struct proc_spec s;
	char *cause = NULL, *p = helper(c, "p-fork");
	char *pidfile = tpath(c, "gc.pid"), *out = tpath(c, "fork.out");
	char **argv = av(p, pidfile, mode, term, NULL);
	pid_t gc;

	unlink(pidfile);
	spec_init(&s, argv);
	s.stdout_path = out;
	s.timeout_ms = timeout;
	s.kill_grace_ms = SHORT_GRACE;
	assert_int_equal(proc_run_fresh(&s, res, &cause), 0);
	assert_null(cause);
	assert_true(res->duration_ms < SANE_MS);
	/* What the leader wrote just before exiting is all there. */
	assert_file(out, "leader-done\n");
	gc = read_pid(pidfile);
	av_free(argv);
	free(pidfile);
	free(out);
	free(p);
	return gc;
}

static void
test_grandchild_leader_exits(void **state)
{
	struct proc_result res;
	pid_t gc;
	int status;

	gc = run_fork(*state, "exit", "term", SANE_MS, &res);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 0);
	status = reap_grandchild(gc);
	assert_int_not_equal(status, -1);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(kill(gc, 0), -1);
}

static void
test_grandchild_timeout(void **state)
{
	struct proc_result res;
	pid_t gc;
	int status;

	/* Both ignore TERM: KILL after the grace takes the whole group. */
	gc = run_fork(*state, "sleep", "noterm", SHORT_TIMEOUT, &res);
	assert_int_equal(res.reason, PROC_TIMED_OUT);
	assert_int_equal(res.signal, SIGKILL);
	status = reap_grandchild(gc);
	assert_int_not_equal(status, -1);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	/* The leader dies of TERM; the grandchild ignoring it is killed. */
	gc = run_fork(*state, "sleep", "gcnoterm", SHORT_TIMEOUT, &res);
	assert_int_equal(res.reason, PROC_TIMED_OUT);
	assert_int_equal(res.signal, SIGTERM);
	status = reap_grandchild(gc);
	assert_int_not_equal(status, -1);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	/* All of them die of TERM. */
	gc = run_fork(*state, "sleep", "term", SHORT_TIMEOUT, &res);
	assert_int_equal(res.reason, PROC_TIMED_OUT);
	assert_int_equal(res.signal, SIGTERM);
	status = reap_grandchild(gc);
	assert_int_not_equal(status, -1);
	assert_true(WIFSIGNALED(status));
}

static void
test_stop_fd(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct itimerspec its;
	struct pollfd pfd;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "sleep", "100000", NULL);
	int tfd, fds[2];
	char ch;

	/* Becomes readable 200 ms after the start. */
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_true(tfd >= 0);
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 200 * 1000000L;
	assert_int_equal(timerfd_settime(tfd, 0, &its, NULL), 0);

	spec_init(&s, argv);
	s.stop_fd = tfd;
	s.timeout_ms = SANE_MS;
	s.kill_grace_ms = SHORT_GRACE;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_STOPPED);
	assert_int_equal(res.signal, SIGTERM);
	assert_true(res.duration_ms < SANE_MS);
	/* Not read: still readable, so every other run stops too. */
	pfd.fd = tfd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 1);
	close(tfd);

	/* Already readable before the start; the byte stays in the pipe. */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	s.stop_fd = fds[0];
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_STOPPED);
	assert_int_equal(res.signal, SIGTERM);
	assert_int_equal(read(fds[0], &ch, 1), 1);
	assert_int_equal(ch, 'x');
	close(fds[0]);
	close(fds[1]);

	av_free(argv);
	free(p);
}

struct stop_count {
	int calls;
	int stop_at;
};

static int
count_stop(void *arg)
{
	struct stop_count *sc = arg;

	return ++sc->calls >= sc->stop_at;
}

static void
test_poll_stop(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct stop_count sc = {0, 3};
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "sleep", "100000", NULL);

	spec_init(&s, argv);
	s.poll_stop = count_stop;
	s.poll_arg = &sc;
	s.poll_ms = 50;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_STOPPED);
	assert_int_equal(res.signal, SIGTERM);
	assert_int_equal(sc.calls, 3);
	assert_true(res.duration_ms >= 150);
	assert_true(res.duration_ms < SANE_MS);
	av_free(argv);

	/* Never asks to stop: the child ends by itself. */
	sc.calls = 0;
	sc.stop_at = INT_MAX;
	argv = av(p, "sleep", "200", "exit", "5", NULL);
	s.argv = argv;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exit_code, 5);
	assert_true(sc.calls >= 1);
	av_free(argv);
	free(p);
}

static void
test_missing_binary(void **state)
{
	struct ctx *c = *state;
	struct proc_result res;
	char *cause = NULL;
	char **argv = av("/nonexistent/baton-no-such", NULL);

	assert_int_equal(run_simple(c, argv, &res, &cause), 0);
	assert_int_equal(res.spawn_errno, ENOENT);
	assert_int_equal(res.exited, 0);
	assert_non_null(cause);
	assert_string_equal(cause, "cannot run '/nonexistent/baton-no-such': "
				   "No such file or directory");
	free(cause);
	cause = NULL;
	av_free(argv);

	/* Searched in PATH. */
	argv = av("baton-no-such-program-here", "x", NULL);
	assert_int_equal(run_simple(c, argv, &res, &cause), 0);
	assert_int_equal(res.spawn_errno, ENOENT);
	assert_non_null(cause);
	free(cause);
	av_free(argv);
}

static void
test_not_executable(void **state)
{
	struct ctx *c = *state;
	struct proc_result res;
	char *cause = NULL, *path = tpath(c, "noexec.sh");
	char **argv = av(path, NULL);
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);

	assert_int_equal(run_simple(c, argv, &res, &cause), 0);
	assert_int_equal(res.spawn_errno, EACCES);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "Permission denied"));
	free(cause);
	av_free(argv);
	free(path);
}

static void
test_cwd(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char *missing = tpath(c, "no-such-dir"), *file = tpath(c, "afile");
	char *out = tpath(c, "cwd.out"), *want, real[PATH_MAX];
	char **argv = av(p, "cwd", NULL);
	int fd;

	spec_init(&s, argv);
	s.stdout_path = out;

	s.cwd = missing;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
	assert_non_null(cause);
	want = xasprintf("cannot use workdir %s: No such file or directory",
			 missing);
	assert_string_equal(cause, want);
	assert_int_equal(res.pid, 0);
	free(want);
	free(cause);
	cause = NULL;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	s.cwd = file;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "Not a directory"));
	free(cause);
	cause = NULL;

	s.cwd = c->dir;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.exit_code, 0);
	assert_non_null(realpath(c->dir, real));
	want = xasprintf("%s\n", real);
	assert_file(out, want);
	free(want);

	av_free(argv);
	free(missing);
	free(file);
	free(out);
	free(p);
}

/* Run s (stdout to out) and expect it to print dir's real path. */
static void
assert_ran_in(struct proc_spec *s, const char *out, const char *dir)
{
	struct proc_result res;
	char *cause = NULL, *want, real[PATH_MAX];

	if (proc_run_fresh(s, &res, &cause) != 0)
		fail_msg("proc_run: %s", cause);
	assert_int_equal(res.exit_code, 0);
	assert_non_null(realpath(dir, real));
	want = xasprintf("%s\n", real);
	assert_file(out, want);
	free(want);
}

/*
 * Issue 12: a spawn cache keeps the file actions from one spawn to the
 * next; a spawn with another workdir (or none) gets its own, and with
 * lazy logs a workdir that is gone is still named as the cause.
 */
static void
test_spawn_cache(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *p = helper(c, "p-out"), *out = tpath(c, "sc.out");
	char *other = tpath(c, "other"), *missing = tpath(c, "gone");
	char **argv = av(p, "cwd", NULL);
	char *cause = NULL, *want, here[PATH_MAX];
	int i;

	assert_int_equal(mkdir(other, 0700), 0);
	spec_init(&s, argv);
	s.stdout_path = out;
	s.lazy_logs = 1;
	s.spawn_cache = proc_spawn_cache_new();
	for (i = 0; i < 3; i++) {
		s.cwd = c->dir;
		assert_ran_in(&s, out, c->dir);
		s.cwd = other;
		assert_ran_in(&s, out, other);
	}
	s.cwd = NULL;
	assert_non_null(getcwd(here, sizeof here));
	assert_ran_in(&s, out, here);

	s.cwd = missing;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
	want = xasprintf("cannot use workdir %s: No such file or directory",
			 missing);
	assert_string_equal(cause, want);
	assert_int_equal(res.pid, 0);
	assert_int_equal(access(out, F_OK), -1);
	free(want);
	free(cause);
	s.cwd = c->dir;
	assert_ran_in(&s, out, c->dir);

	proc_spawn_cache_free(s.spawn_cache);
	av_free(argv);
	free(other);
	free(missing);
	free(out);
	free(p);
}

static void
test_env(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *out = tpath(c, "env.out");
	char **argv = av("env", NULL);
	char **envp = av("BATON_TASK_ID=7", "X=a b $(c)", NULL);

	spec_init(&s, argv);
	s.envp = envp;
	s.stdout_path = out;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.exit_code, 0);
	assert_file(out, "BATON_TASK_ID=7\nX=a b $(c)\n");
	av_free(argv);
	av_free(envp);
	free(out);
}

/* A log path that exists, or is a planted symlink, is refused: never
 * truncated, never followed (SPEC §9). */
static void
test_log_exists(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "out", "10", "exit", "0", NULL);
	char *target = tpath(c, "target"), *link = tpath(c, "link.out");
	char *got;
	size_t len;

	test_write(target, "precious\n");
	assert_int_equal(symlink(target, link), 0);
	spec_init(&s, argv);
	s.stdout_path = link;
	assert_int_equal(proc_run(&s, &res, &cause), -1);
	assert_non_null(strstr(cause, "already exists"));
	free(cause);
	cause = NULL;
	spec_init(&s, argv);
	s.stdout_path = target;
	assert_int_equal(proc_run(&s, &res, &cause), -1);
	free(cause);
	got = test_read(target, &len);
	assert_string_equal(got, "precious\n");
	free(got);
	free(target);
	free(link);
	av_free(argv);
	free(p);
}

/* The cap keeps log_max_bytes and a marker, reads the rest; the
 * redactor finds a secret written in two pieces. */
static void
test_log_cap_redact(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *out = tpath(c, "cap.out"), *got;
	const char *const secrets[] = {"canary-secret-value-42", NULL};
	struct redactor *r = redactor_new_env(secrets, NULL);
	char **argv = av("/bin/sh", "-c",
			 "printf 'a canary-sec'; sleep 0.2; "
			 "printf 'ret-value-42 b\\n'; head -c 100000 /dev/zero",
			 NULL);
	size_t len;

	spec_init(&s, argv);
	s.stdout_path = out;
	s.log_max_bytes = 1000;
	s.redactor = r;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out_bytes, 100000 + 27);
	assert_true(res.out_truncated);
	assert_false(res.err_truncated);
	got = test_read(out, &len);
	assert_memory_equal(got, "a [REDACTED] b\n", 15);
	assert_null(strstr(got, "canary"));
	assert_non_null(
		memmem(got, len, "[baton: output truncated at 1000 bytes", 38));
	assert_true(len < 1200);
	free(got);
	redactor_free(r);
	av_free(argv);
	free(out);
}

/* What on_output was given, per stream. */
struct sink {
	struct strbuf s[2];
	int calls;
};

static void
sink_fn(void *arg, int stream, const char *buf, size_t len)
{
	struct sink *k = arg;

	assert_true(stream == 0 || stream == 1);
	assert_true(len > 0);
	strbuf_add(&k->s[stream], buf, len);
	k->calls++;
}

/* on_output gets what the logs get, byte for byte: redacted, capped,
 * the marker; and the same with no log file (SPEC §10: the database's
 * copy is the file's). */
static void
test_on_output(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct sink k;
	char *cause = NULL, *out = tpath(c, "sink.out"), *err, *got;
	const char *const secrets[] = {"canary-secret-value-42", NULL};
	struct redactor *r = redactor_new_env(secrets, NULL);
	char **argv = av("/bin/sh", "-c",
			 "printf 'a canary-secret-value-42 b\n'; "
			 "echo oops >&2; head -c 5000 /dev/zero",
			 NULL);
	size_t len;
	int pass, i;

	err = tpath(c, "sink.err");
	for (pass = 0; pass < 2; pass++) {
		memset(&k, 0, sizeof k);
		strbuf_init(&k.s[0]);
		strbuf_init(&k.s[1]);
		spec_init(&s, argv);
		s.stdout_path = pass == 0 ? out : NULL;
		s.stderr_path = pass == 0 ? err : NULL;
		s.log_max_bytes = 1000;
		s.redactor = r;
		s.timeout_ms = SANE_MS;
		s.on_output = sink_fn;
		s.output_arg = &k;
		assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
		assert_null(cause);
		assert_true(res.out_truncated);
		assert_memory_equal(k.s[0].buf, "a [REDACTED] b\n", 15);
		assert_non_null(memmem(k.s[0].buf, k.s[0].len,
				       "[baton: output truncated at 1000", 32));
		assert_int_equal(k.s[1].len, 5);
		assert_memory_equal(k.s[1].buf, "oops\n", 5);
		for (i = 0; pass == 0 && i < 2; i++) {
			got = test_read(i == 0 ? out : err, &len);
			assert_int_equal(len, k.s[i].len);
			assert_memory_equal(got, k.s[i].buf, len);
			free(got);
		}
		strbuf_release(&k.s[0]);
		strbuf_release(&k.s[1]);
	}
	redactor_free(r);
	av_free(argv);
	free(out);
	free(err);
}

static void
test_log_errors(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out");
	char **argv = av(p, "exit", "0", NULL);

	spec_init(&s, argv);
	s.stdout_path = "/nonexistent-baton-dir/1.out";
	assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
	assert_non_null(cause);
	assert_string_equal(cause,
			    "cannot create /nonexistent-baton-dir/1.out: "
			    "No such file or directory");
	assert_int_equal(res.pid, 0);
	free(cause);
	cause = NULL;

	spec_init(&s, argv);
	s.stdin_path = "/nonexistent-baton-dir/prompt";
	assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "/nonexistent-baton-dir/prompt"));
	free(cause);
	cause = NULL;

	/* A log that cannot grow while the child runs (a full disk; here
	 * RLIMIT_FSIZE, the log being a new file that /dev/full cannot
	 * be): the child still runs to the end. */
	{
		char **big = av(p, "out", "200000", "exit", "3", NULL);
		char *full = tpath(c, "full.out");
		struct rlimit old, lim;
		void (*was)(int) = signal(SIGXFSZ, SIG_IGN);

		assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
		lim = old;
		lim.rlim_cur = 100000;
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
		spec_init(&s, big);
		s.stdout_path = full;
		assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
		signal(SIGXFSZ, was);
		assert_non_null(cause);
		assert_non_null(strstr(cause, "cannot write"));
		assert_int_equal(res.exited, 1);
		assert_int_equal(res.exit_code, 3);
		assert_int_equal(res.out_bytes, 200000);
		free(cause);
		free(full);
		av_free(big);
	}
	av_free(argv);
	free(p);
}

static void
test_tee(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out"), *buf;
	char *out = tpath(c, "tee.out"), got[64];
	char **argv = av(p, "print", "to-tee", "eprint", "err-tee", NULL);
	int ofds[2], efds[2];
	struct sigaction dfl, old_pipe;
	sigset_t pending;
	ssize_t n;
	size_t len;

	assert_int_equal(pipe2(ofds, O_CLOEXEC), 0);
	assert_int_equal(pipe2(efds, O_CLOEXEC), 0);
	spec_init(&s, argv);
	s.stdout_path = out;
	s.stdout_tee_fd = ofds[1];
	s.stderr_tee_fd = efds[1];
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.exit_code, 0);
	n = read(ofds[0], got, sizeof got);
	assert_int_equal(n, 7);
	assert_memory_equal(got, "to-tee\n", 7);
	n = read(efds[0], got, sizeof got);
	assert_int_equal(n, 8);
	assert_memory_equal(got, "err-tee\n", 8);
	assert_file(out, "to-tee\n");
	/* The caller's fds are not closed. */
	assert_int_not_equal(fcntl(ofds[1], F_GETFD), -1);
	assert_int_not_equal(fcntl(efds[1], F_GETFD), -1);
	av_free(argv);

	/*
	 * A tee whose reader went away (a closed terminal): SIGPIPE is at
	 * its default here, so the run must neither die of it nor leave it
	 * pending, and the log is complete.
	 */
	close(ofds[0]);
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	assert_int_equal(sigaction(SIGPIPE, &dfl, &old_pipe), 0);
	argv = av(p, "out", "300000", "exit", "0", NULL);
	s.argv = argv;
	s.stderr_tee_fd = -1;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.out_bytes, 300000);
	buf = test_read(out, &len);
	assert_non_null(buf);
	assert_int_equal(len, 300000);
	assert_true(is_pattern(buf, len, 0));
	free(buf);
	sigpending(&pending);
	sigaction(SIGPIPE, &old_pipe, NULL);
	assert_false(sigismember(&pending, SIGPIPE));

	close(ofds[1]);
	close(efds[0]);
	close(efds[1]);
	av_free(argv);
	free(out);
	free(p);
}

/* A reader that takes a pipe's bytes slowly (4 KiB per ms) until EOF. */
struct slow_reader {
	int fd;
	char *buf;
	size_t len, cap;
};

static void *
slow_read(void *arg)
{
	struct slow_reader *r = arg;
	struct timespec ms = {0, 1000000};
	ssize_t n;

	for (;;) {
		if (r->len + 4096 > r->cap) {
			r->cap = r->cap ? r->cap * 2 : 65536;
			r->buf = xrealloc(r->buf, r->cap);
		}
		n = read(r->fd, r->buf + r->len, 4096);
		if (n <= 0)
			break;
		r->len += (size_t)n;
		nanosleep(&ms, NULL);
	}
	return NULL;
}

/*
 * A slow tee (a pager, a terminal) holds the child back like any
 * pipeline and still gets every byte; a tee nobody reads (a paused
 * terminal) does not keep the timeout from working.
 */
static void
test_tee_slow(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct slow_reader r = {0};
	pthread_t t;
	char *cause = NULL, *p = helper(c, "p-out"), *buf;
	char *out = tpath(c, "slow.out");
	char **argv = av(p, "out", "1048576", "exit", "0", NULL);
	struct itimerspec its;
	struct pollfd pfd;
	int fds[2], tfd;
	ssize_t n;
	size_t len;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	r.fd = fds[0];
	assert_int_equal(pthread_create(&t, NULL, slow_read, &r), 0);
	spec_init(&s, argv);
	s.stdout_path = out;
	s.stdout_tee_fd = fds[1];
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exit_code, 0);
	close(fds[1]);
	pthread_join(t, NULL);
	close(fds[0]);
	assert_int_equal(r.len, 1048576);
	assert_true(is_pattern(r.buf, r.len, 0));
	assert_int_equal(res.tee_dropped, 0);
	buf = test_read(out, &len);
	assert_int_equal(len, 1048576);
	free(buf);
	free(r.buf);
	av_free(argv);

	/* Nobody reads the tee: 1 MiB, then the child sleeps on. */
	argv = av(p, "out", "1048576", "sleep", "100000", NULL);
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	spec_init(&s, argv);
	s.stdout_path = out;
	s.stdout_tee_fd = fds[1];
	s.timeout_ms = 300;
	alarm(60); /* a blocking tee would hang here: die instead */
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	alarm(0);
	assert_null(cause);
	assert_int_equal(res.reason, PROC_TIMED_OUT);
	assert_int_equal(res.signal, SIGTERM);
	/* held back: it wrote less than its megabyte before the timeout,
	 * and the log has all it wrote */
	assert_true(res.out_bytes < 1048576);
	/* the backlog it never got is counted for the caller to report */
	assert_true(res.tee_dropped > 0);
	assert_true(res.tee_dropped < res.out_bytes);
	buf = test_read(out, &len);
	assert_int_equal(len, res.out_bytes);
	assert_true(is_pattern(buf, len, 0));
	free(buf);
	close(fds[0]);
	close(fds[1]);
	av_free(argv);

	/*
	 * The child ends by itself with output the tee has not taken: the
	 * run waits for the reader as a pipeline would, until stop_fd (a
	 * signal to baton) says to give up; the log is complete.
	 */
	argv = av(p, "out", "100000", "exit", "0", NULL);
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_true(tfd >= 0);
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = 2;
	assert_int_equal(timerfd_settime(tfd, 0, &its, NULL), 0);
	spec_init(&s, argv);
	s.stdout_path = out;
	s.stdout_tee_fd = fds[1];
	s.stop_fd = tfd;
	s.timeout_ms = SANE_MS;
	alarm(60);
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	alarm(0);
	assert_null(cause);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exit_code, 0);
	/* it returned only once the stop came (nobody ever read the tee) */
	pfd.fd = tfd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_true(res.tee_dropped > 0);
	buf = test_read(out, &len);
	assert_int_equal(len, 100000);
	free(buf);
	/* the reader got what the pipe holds, in order */
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	buf = xmalloc(200000);
	len = 0;
	while ((n = read(fds[0], buf + len, 200000 - len)) > 0)
		len += (size_t)n;
	assert_true(len > 0 && len < 100000);
	assert_int_equal(len + res.tee_dropped, 100000);
	assert_true(is_pattern(buf, len, 0));
	free(buf);
	close(tfd);
	close(fds[0]);
	close(fds[1]);
	av_free(argv);
	free(out);
	free(p);
}

struct fd_check {
	int allowed; /* our own fd deliberately without FD_CLOEXEC */
	int leaks;   /* fds >= 3 without FD_CLOEXEC in the parent */
	int started;
};

/* While the child runs: every fd of ours except `allowed` is CLOEXEC. */
static int
check_parent_fds(void *arg, pid_t pid, uint64_t start)
{
	struct fd_check *fc = arg;
	struct dirent *e;
	DIR *d;
	long fd;
	char *end;
	int flags;

	(void)pid;
	(void)start;
	fc->started++;
	d = opendir("/proc/self/fd");
	if (d == NULL) {
		fc->leaks = -1;
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		fd = strtol(e->d_name, &end, 10);
		if (end == e->d_name || *end != '\0' || fd < 3 ||
		    fd == dirfd(d) || fd == fc->allowed)
			continue;
		flags = fcntl((int)fd, F_GETFD);
		if (flags != -1 && !(flags & FD_CLOEXEC))
			fc->leaks++;
	}
	closedir(d);
	return 0;
}

static void
test_cloexec(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct fd_check fc;
	char *cause = NULL, *p = helper(c, "p-fds");
	char *out = tpath(c, "fds.out"), *err = tpath(c, "fds.err");
	char **argv = av(p, NULL);
	int leaky[2], stop[2], tee[2];

	/* Ours without CLOEXEC: it must still not reach the child. */
	assert_int_equal(pipe(leaky), 0);
	assert_int_equal(fcntl(leaky[1], F_SETFD, FD_CLOEXEC), 0);
	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(tee, O_CLOEXEC), 0);

	memset(&fc, 0, sizeof fc);
	fc.allowed = leaky[0];
	spec_init(&s, argv);
	s.stdin_path = c->prompt;
	s.stdout_path = out;
	s.stderr_path = err;
	s.stdout_tee_fd = tee[1];
	s.stop_fd = stop[0];
	s.on_start = check_parent_fds;
	s.start_arg = &fc;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.exit_code, 0);
	assert_file(out, "0\n1\n2\n");
	assert_int_equal(fc.started, 1);
	assert_int_equal(fc.leaks, 0);

	close(leaky[0]);
	close(leaky[1]);
	close(stop[0]);
	close(stop[1]);
	close(tee[0]);
	close(tee[1]);
	av_free(argv);
	free(out);
	free(err);
	free(p);
}

static void
test_signals_reset(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct sigaction ign, old_int, old_pipe;
	sigset_t block, old_mask;
	char *cause = NULL, *p = helper(c, "p-sigs");
	char *out = tpath(c, "sigs.out"), *buf;
	char **argv = av(p, NULL);
	size_t len;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGINT, &ign, &old_int), 0);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);

	spec_init(&s, argv);
	s.stdout_path = out;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);

	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);

	assert_int_equal(res.exit_code, 0);
	buf = test_read(out, &len);
	assert_non_null(buf);
	assert_string_equal(buf, "SigBlk:\t0000000000000000\n"
				 "SigIgn:\t0000000000000000\n");
	free(buf);
	av_free(argv);
	free(out);
	free(p);
}

static uint64_t
uptime_ticks(void)
{
	size_t len;
	char *s = test_read("/proc/uptime", &len), *end;
	double up;

	assert_non_null(s);
	up = strtod(s, &end);
	assert_true(end != s);
	free(s);
	return (uint64_t)(up * (double)sysconf(_SC_CLK_TCK));
}

struct start_check {
	uint64_t self_start;
	uint64_t start, again, now;
	int same, same_wrong, kill_wrong, kill_right;
	char comm[64];
};

static int
check_start(void *arg, pid_t pid, uint64_t start)
{
	struct start_check *sc = arg;
	char path[64];
	size_t len;
	char *comm;

	sc->start = start;
	if (proc_start_time(pid, &sc->again) != 0)
		sc->again = 0;
	sc->now = uptime_ticks();
	snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
	comm = test_read(path, &len);
	if (comm != NULL) {
		snprintf(sc->comm, sizeof sc->comm, "%s", comm);
		free(comm);
	}
	sc->same = proc_same(pid, start);
	sc->same_wrong = proc_same(pid, start + 1);
	/* Wrong start time: must not be signalled (it would die of KILL). */
	sc->kill_wrong = proc_kill_group_checked(pid, start + 1, SIGKILL);
	sc->kill_right = proc_kill_group_checked(pid, start, SIGTERM);
	return 0;
}

static void
test_start_time(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct start_check sc;
	char *cause = NULL, *p = helper(c, "p-out");
	/* The command name has spaces and parentheses. */
	char *link = tpath(c, "x) 1 2 3 (");
	char **argv = av(link, "sleep", "100000", NULL);
	uint64_t t;

	memset(&sc, 0, sizeof sc);
	assert_int_equal(proc_start_time(getpid(), &sc.self_start), 0);
	assert_true(sc.self_start > 0);
	assert_true(sc.self_start <= uptime_ticks() + 1);
	assert_int_equal(proc_same(getpid(), sc.self_start), 1);
	assert_int_equal(proc_same(getpid(), sc.self_start + 1), 0);
	assert_int_equal(proc_start_time(-1, &t), -1);
	assert_int_equal(proc_start_time(0, &t), -1);
	assert_int_equal(proc_start_time(INT_MAX, &t), -1);
	assert_int_equal(proc_same(INT_MAX, 1), 0);
	assert_int_equal(proc_kill_group_checked(INT_MAX, 1, SIGKILL), 0);

	unlink(link);
	assert_int_equal(symlink(p, link), 0);
	spec_init(&s, argv);
	s.on_start = check_start;
	s.start_arg = &sc;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_string_equal(sc.comm, "x) 1 2 3 (\n");
	assert_true(sc.start >= sc.self_start);
	assert_true(sc.start <= sc.now + 1);
	assert_int_equal(sc.again, sc.start);
	assert_int_equal(sc.same, 1);
	assert_int_equal(sc.same_wrong, 0);
	assert_int_equal(sc.kill_wrong, 0);
	assert_int_equal(sc.kill_right, 1);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.signal, SIGTERM);
	/* Gone now: nothing to signal. */
	assert_int_equal(proc_same(res.pid, sc.start), 0);
	assert_int_equal(proc_kill_group_checked(res.pid, sc.start, SIGKILL),
			 0);

	av_free(argv);
	free(link);
	free(p);
}

/* on_start of test_start_after: count, and have proc stop the child. */
struct start_after {
	int calls;
	pid_t pid;
	uint64_t start;
	struct timespec spawned, called;
};

static int
start_after_cb(void *arg, pid_t pid, uint64_t start)
{
	struct start_after *sa = arg;

	sa->calls++;
	sa->pid = pid;
	sa->start = start;
	clock_gettime(CLOCK_MONOTONIC, &sa->called);
	return 1;
}

/*
 * on_start with start_after_ms: a child that ends sooner never gets the
 * call, but the result has its pid and start time; one that runs longer
 * gets it once, no sooner than asked, with the same pid and start time,
 * and is stopped when it answers non-zero (right after the spawn too).
 */
static void
test_start_after(void **state)
{
	struct proc_spec s;
	struct proc_result res;
	struct start_after sa;
	char *cause = NULL;
	char **argv = av("/bin/sh", "-c", "exit 3", NULL);
	int64_t ms;

	(void)state;
	memset(&sa, 0, sizeof sa);
	spec_init(&s, argv);
	s.on_start = start_after_cb;
	s.start_arg = &sa;
	s.start_after_ms = 3600 * 1000;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(res.exit_code, 3);
	assert_int_equal(sa.calls, 0);
	assert_true(res.pid > 0);
	assert_true(res.start_time > 0);
	av_free(argv);

	argv = av("sleep", "100000", NULL);
	spec_init(&s, argv);
	s.on_start = start_after_cb;
	s.start_arg = &sa;
	s.start_after_ms = 50;
	s.timeout_ms = SANE_MS;
	clock_gettime(CLOCK_MONOTONIC, &sa.spawned);
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(sa.calls, 1);
	assert_int_equal(res.reason, PROC_STOPPED);
	assert_int_equal(res.signal, SIGTERM);
	assert_int_equal(sa.pid, res.pid);
	assert_int_equal(sa.start, res.start_time);
	assert_true(sa.start > 0);
	ms = (sa.called.tv_sec - sa.spawned.tv_sec) * 1000 +
	     (sa.called.tv_nsec - sa.spawned.tv_nsec) / 1000000;
	/* (proc's clock counts whole milliseconds: 50 of them may be
	 * 49.001 ms of this one) */
	assert_true(ms >= 49);

	/* called right after the spawn: stopped all the same */
	memset(&sa, 0, sizeof sa);
	spec_init(&s, argv);
	s.on_start = start_after_cb;
	s.start_arg = &sa;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_int_equal(sa.calls, 1);
	assert_int_equal(res.reason, PROC_STOPPED);
	assert_int_equal(res.signal, SIGTERM);
	av_free(argv);
}

#define BIG_BYTES 200000000L

/*
 * 200 MB through proc_run in a forked copy of this process (so that the
 * other tests' peaks do not hide a rise): its peak RSS must stay flat.
 */
static void
test_big_output_memory(void **state)
{
	struct ctx *c = *state;
	char *p = helper(c, "p-out"), *out = tpath(c, "big.out");
	char num[32];
	char **argv;
	pid_t pid;
	int status;

	snprintf(num, sizeof num, "%ld", BIG_BYTES);
	argv = av(p, "out", num, "err", "1000000", NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct proc_spec s;
		struct proc_result res;
		struct rusage before, after;
		struct stat st;
		char *cause = NULL;

		getrusage(RUSAGE_SELF, &before);
		spec_init(&s, argv);
		s.stdout_path = out;
		s.timeout_ms = 60000;
		if (proc_run_fresh(&s, &res, &cause) != 0 || res.exit_code != 0)
			_exit(1);
		if (res.out_bytes != (uint64_t)BIG_BYTES ||
		    res.err_bytes != 1000000)
			_exit(2);
		if (stat(out, &st) != 0 || st.st_size != BIG_BYTES)
			_exit(3);
		getrusage(RUSAGE_SELF, &after);
		/* ru_maxrss is in KiB: allow 4 MiB of noise. */
		if (after.ru_maxrss - before.ru_maxrss > 4096)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(out);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	av_free(argv);
	free(out);
	free(p);
}

#define NTHREADS 4

struct thread_run {
	struct ctx *c;
	int i;
	int ret;
	struct proc_result res;
	char *cause;
	int ok_out, ok_err;
};

static void *
thread_main(void *arg)
{
	struct thread_run *t = arg;
	struct proc_spec s;
	char outn[32], errn[32], name[32], *out, *err, *p, *buf;
	char **argv;
	size_t len;

	snprintf(outn, sizeof outn, "%d", 300000 * (t->i + 1));
	snprintf(errn, sizeof errn, "%d", 100000 * (t->i + 1));
	p = helper(t->c, "p-out");
	if (t->i == NTHREADS - 1)
		argv = av(p, "out", outn, "err", errn, "sleep", "100000", NULL);
	else
		argv = av(p, "out", outn, "err", errn, "exit", outn, NULL);
	snprintf(name, sizeof name, "th%d.out", t->i);
	out = tpath(t->c, name);
	snprintf(name, sizeof name, "th%d.err", t->i);
	err = tpath(t->c, name);

	spec_init(&s, argv);
	s.stdout_path = out;
	s.stderr_path = err;
	s.timeout_ms = t->i == NTHREADS - 1 ? 500 : SANE_MS;
	s.kill_grace_ms = SHORT_GRACE;
	t->ret = proc_run_fresh(&s, &t->res, &t->cause);

	buf = test_read(out, &len);
	t->ok_out = buf != NULL && len == 300000 * (size_t)(t->i + 1) &&
		    is_pattern(buf, len, 0);
	free(buf);
	buf = test_read(err, &len);
	t->ok_err = buf != NULL && len == 100000 * (size_t)(t->i + 1) &&
		    is_pattern(buf, len, 0);
	free(buf);
	av_free(argv);
	free(out);
	free(err);
	free(p);
	return NULL;
}

static void
test_threads(void **state)
{
	struct thread_run t[NTHREADS];
	pthread_t th[NTHREADS];
	int i;

	memset(t, 0, sizeof t);
	for (i = 0; i < NTHREADS; i++) {
		t[i].c = *state;
		t[i].i = i;
		assert_int_equal(
			pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(t[i].ret, 0);
		assert_null(t[i].cause);
		assert_true(t[i].ok_out);
		assert_true(t[i].ok_err);
		if (i == NTHREADS - 1) {
			assert_int_equal(t[i].res.reason, PROC_TIMED_OUT);
			assert_int_equal(t[i].res.signal, SIGTERM);
		} else {
			assert_int_equal(t[i].res.reason, PROC_RAN);
			assert_int_equal(t[i].res.exited, 1);
			/* exit status is 300000 * (i + 1) modulo 256 */
			assert_int_equal(t[i].res.exit_code,
					 (300000 * (i + 1)) & 0xff);
		}
	}
}

/* ------------------------------------------------------------------ */

/* fds this process inherited without FD_CLOEXEC are not ours to test. */
static void
cloexec_inherited(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	char *end;
	long fd;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		fd = strtol(e->d_name, &end, 10);
		if (end != e->d_name && *end == '\0' && fd > 2 &&
		    fd != dirfd(d))
			fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

/* Shell syntax, dashes, quotes and every byte value, to 10 MB. */
static int
make_prompt(struct ctx *c)
{
	static const char *lines[] = {"--help\n",
				      "-- --version\n",
				      "'\"'\"\\'\n",
				      "$(touch pwned)\n",
				      "`touch pwned`\n",
				      "${HOME} $0 $@ *\n",
				      "; rm -rf / ; | & > < \n",
				      "\\\\n\\0\n"};
	char bytes[256];
	size_t i, n = 0;
	int fd, j, ret = -1;

	c->prompt = tpath(c, "prompt");
	fd = open(c->prompt, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	for (j = 0; j < 256; j++)
		bytes[j] = (char)j;
	for (i = 0; c->prompt_len < 10 * 1024 * 1024; i++) {
		const char *l = lines[i % (sizeof lines / sizeof lines[0])];

		n = strlen(l);
		if (i % 97 == 0) {
			if (write(fd, bytes, sizeof bytes) != sizeof bytes)
				goto out;
			c->prompt_len += sizeof bytes;
		}
		if (write(fd, l, n) != (ssize_t)n)
			goto out;
		c->prompt_len += n;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static int
setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof *c);
	char exe[PATH_MAX], *slash;
	ssize_t n;

	cloexec_inherited();
	/* Orphaned grandchildren come to us, so we can see how they died. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		return -1;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	c->bin = xstrdup(exe);
	c->dir = test_tmpdir();
	if (make_prompt(c) != 0)
		return -1;
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;
	int rc;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	rc = test_rmtree(c->dir);
	free(c->prompt);
	free(c->dir);
	free(c->bin);
	free(c);
	return rc;
}

/* A child that exec's `sleep` with NAME=VALUE in its environment. */
static pid_t
sleeper_with_env(const char *name, const char *value)
{
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0) {
		char a0[] = "sleep", a1[] = "100";
		char *argv[] = {a0, a1, NULL};

		setenv(name, value, 1);
		execvp("sleep", argv);
		_exit(127);
	}
	return pid;
}

/* The environment of pid has NAME=VALUE (waits for its exec). */
static int
env_has(pid_t pid, const char *entry)
{
	char path[64], buf[65536];
	ssize_t n, i;
	int fd, tries;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	for (tries = 0; tries < 500; tries++) {
		if ((fd = open(path, O_RDONLY)) != -1) {
			n = read(fd, buf, sizeof buf - 1);
			close(fd);
			for (i = 0; n > 0 && i < n;
			     i += (ssize_t)strlen(buf + i) + 1) {
				buf[n] = '\0';
				if (strcmp(buf + i, entry) == 0)
					return 1;
			}
		}
		usleep(10000);
	}
	return 0;
}

static void
test_kill_env(void **state)
{
	char t5[] = "7.1234.5", t6[] = "7.1234.6", t9[] = "7.1234.9";
	char *mine[] = {t5, t6};
	char *none[] = {t9};
	pid_t a, b, c;
	int status;

	(void)state;
	a = sleeper_with_env("BATON_T_TOKEN", "7.1234.5");
	b = sleeper_with_env("BATON_T_TOKEN", "7.1234.50"); /* a prefix */
	c = sleeper_with_env("BATON_T_OTHER", "7.1234.6");  /* another name */
	assert_true(env_has(a, "BATON_T_TOKEN=7.1234.5"));
	assert_true(env_has(b, "BATON_T_TOKEN=7.1234.50"));
	assert_true(env_has(c, "BATON_T_OTHER=7.1234.6"));

	assert_int_equal(proc_kill_env("BATON_T_TOKEN", none, 1, SIGKILL), 0);
	assert_int_equal(proc_kill_env("BATON_T_TOKEN", mine, 0, SIGKILL), 0);
	assert_int_equal(proc_kill_env("BATON_T_TOKEN", mine, 2, SIGKILL), 1);
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* the others live on */
	assert_int_equal(waitpid(b, &status, WNOHANG), 0);
	assert_int_equal(waitpid(c, &status, WNOHANG), 0);
	kill(b, SIGKILL);
	kill(c, SIGKILL);
	waitpid(b, &status, 0);
	waitpid(c, &status, 0);
}

/* Lazy logs: each is made with its stream's first byte, none for a
 * stream that stays empty. */
static void
test_lazy_logs(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out"), *got;
	char *out = tpath(c, "lazy.out"), *err = tpath(c, "lazy.err");
	char **quiet = av(p, "exit", "0", NULL);
	char **eonly = av(p, "eprint", "oops", "exit", "3", NULL);
	size_t len;

	spec_init(&s, quiet);
	s.stdout_path = out;
	s.stderr_path = err;
	s.lazy_logs = 1;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(access(err, F_OK), -1);

	s.argv = eonly;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(res.exit_code, 3);
	assert_int_equal(res.err_bytes, 5);
	assert_int_equal(access(out, F_OK), -1);
	got = test_read(err, &len);
	assert_non_null(got);
	assert_int_equal(len, 5);
	assert_memory_equal(got, "oops\n", 5);
	free(got);

	/* a file in the way is refused when the first byte comes, never
	 * written through; the child still ran to its end */
	unlink(err);
	test_write(err, "precious\n");
	assert_int_equal(proc_run(&s, &res, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "cannot create"));
	assert_non_null(strstr(cause, "already exists"));
	free(cause);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 3);
	got = test_read(err, &len);
	assert_string_equal(got, "precious\n");
	free(got);
	unlink(err);

	av_free(quiet);
	av_free(eonly);
	free(out);
	free(err);
	free(p);
}

/* make_log_dir of test_lazy_log_dir: counts its calls; fails when
 * asked to, as a directory that cannot be made would. */
struct log_dir_calls {
	int calls;
	int fail;
};

static int
count_log_dir(void *arg, char **cause)
{
	struct log_dir_calls *k = arg;

	k->calls++;
	if (!k->fail)
		return 0;
	*cause = xstrdup("cannot create the-dir: not a directory");
	errno = ENOTDIR;
	return -1;
}

/* Lazy logs' directory: made (make_log_dir) only when a first byte
 * comes, and a failure to make it is the run's error, the child run to
 * its end and no file made. */
static void
test_lazy_log_dir(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct log_dir_calls k = {0};
	char *cause = NULL, *p = helper(c, "p-out");
	char *out = tpath(c, "dir.out"), *err = tpath(c, "dir.err");
	char **quiet = av(p, "exit", "0", NULL);
	char **both = av(p, "print", "x", "eprint", "y", "exit", "3", NULL);

	spec_init(&s, quiet);
	s.stdout_path = out;
	s.stderr_path = err;
	s.lazy_logs = 1;
	s.make_log_dir = count_log_dir;
	s.log_dir_arg = &k;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(k.calls, 0);

	s.argv = both;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(k.calls, 2); /* once a stream: the caller caches */
	assert_int_equal(access(out, F_OK), 0);
	assert_int_equal(access(err, F_OK), 0);
	unlink(out);
	unlink(err);

	k.calls = 0;
	k.fail = 1;
	assert_int_equal(proc_run(&s, &res, &cause), -1);
	assert_non_null(cause);
	assert_string_equal(cause, "cannot create the-dir: not a directory");
	free(cause);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 3);
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(access(err, F_OK), -1);

	av_free(quiet);
	av_free(both);
	free(out);
	free(err);
	free(p);
}

/* fds taken by hog_fds() (on_start), for test_lazy_logs_emfile */
static int hogged[4096];
static int nhogged;

/* Right after the spawn, before any output is logged: take every free
 * descriptor, as other threads might. */
static int
hog_fds(void *arg, pid_t pid, uint64_t start_time)
{
	int fd;

	(void)arg;
	(void)pid;
	(void)start_time;
	while (nhogged < 4096 &&
	       (fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0)) != -1)
		hogged[nhogged++] = fd;
	return 0;
}

/* Out of descriptors when the first byte comes: the slot a lazy log
 * held since the spawn is used to make it. */
static void
test_lazy_logs_emfile(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	struct rlimit old, low;
	char *cause = NULL, *p = helper(c, "p-out"), *got;
	char *out = tpath(c, "emfile.out"), *err = tpath(c, "emfile.err");
	char **argv = av(p, "print", "hello", "eprint", "oops", NULL);
	size_t len;
	int i;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)count_fds() + 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	spec_init(&s, argv);
	s.stdout_path = out;
	s.stderr_path = err;
	s.lazy_logs = 1;
	s.timeout_ms = SANE_MS;
	s.on_start = hog_fds;
	nhogged = 0;
	i = proc_run_fresh(&s, &res, &cause);
	assert_true(nhogged > 0 && nhogged < 4096);
	while (nhogged > 0)
		close(hogged[--nhogged]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (cause != NULL)
		fail_msg("%s", cause);
	assert_int_equal(i, 0);
	got = test_read(out, &len);
	assert_string_equal(got, "hello\n");
	free(got);
	got = test_read(err, &len);
	assert_string_equal(got, "oops\n");
	free(got);
	av_free(argv);
	free(out);
	free(err);
	free(p);
}

/* stdin from memory: every byte of a 10 MB prompt, whether the child
 * reads it or not (no pipe to fill), and a regular file to it. */
static void
test_stdin_memory(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out"), *want, *got;
	char *out = tpath(c, "mem.out");
	char **cat = av(p, "cat", NULL);
	char **noread = av(p, "out", "200000", "exit", "7", NULL);
	size_t wlen, len;

	want = test_read(c->prompt, &wlen);
	assert_non_null(want);
	spec_init(&s, cat);
	s.stdin_data = want;
	s.stdin_len = wlen;
	s.stdout_path = out;
	s.timeout_ms = SANE_MS;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(res.exit_code, 0);
	got = test_read(out, &len);
	assert_non_null(got);
	assert_int_equal(len, wlen);
	assert_memory_equal(got, want, len);
	free(got);

	s.argv = noread;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
	assert_null(cause);
	assert_int_equal(res.reason, PROC_RAN);
	assert_int_equal(res.exit_code, 7);
	assert_int_equal(res.out_bytes, 200000);

	free(want);
	av_free(cat);
	av_free(noread);
	free(out);
	free(p);
}

/* Without memfds (a seccomp filter, an old kernel), the prompt still
 * reaches stdin, from an unlinked temporary file; out of descriptors
 * stays an error the caller sees as such. */
static void
test_stdin_no_memfd(void **state)
{
	struct ctx *c = *state;
	struct proc_spec s;
	struct proc_result res;
	char *cause = NULL, *p = helper(c, "p-out"), *got;
	char *out = tpath(c, "nomem.out");
	char **cat = av(p, "cat", NULL);
	static const char want[] = "a prompt without a memfd\n";
	int errs[] = {ENOSYS, EPERM, EINVAL};
	size_t i, len;

	for (i = 0; i < sizeof errs / sizeof *errs; i++) {
		memfd_errno = errs[i];
		spec_init(&s, cat);
		s.stdin_data = want;
		s.stdin_len = sizeof want - 1;
		s.stdout_path = out;
		s.timeout_ms = SANE_MS;
		assert_int_equal(proc_run_fresh(&s, &res, &cause), 0);
		assert_null(cause);
		assert_int_equal(res.exit_code, 0);
		got = test_read(out, &len);
		assert_non_null(got);
		assert_int_equal(len, sizeof want - 1);
		assert_memory_equal(got, want, len);
		free(got);
	}
	memfd_errno = EMFILE;
	assert_int_equal(proc_run_fresh(&s, &res, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "a memfd for stdin"));
	free(cause);
	memfd_errno = 0;
	av_free(cat);
	free(out);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_output_memory),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_no_leftovers),
		cmocka_unit_test(test_signal_death),
		cmocka_unit_test(test_sigchld_ignored),
		cmocka_unit_test(test_output_files),
		cmocka_unit_test(test_merge_stderr),
		cmocka_unit_test(test_discard_output),
		cmocka_unit_test(test_stdin_prompt),
		cmocka_unit_test(test_argv_verbatim),
		cmocka_unit_test(test_stdin_not_read),
		cmocka_unit_test(test_stdin_devnull),
		cmocka_unit_test(test_stderr_flood),
		cmocka_unit_test(test_child_closes_output),
		cmocka_unit_test(test_timeout_term),
		cmocka_unit_test(test_timeout_ignore_term),
		cmocka_unit_test(test_timeout_stopped),
		cmocka_unit_test(test_grandchild_leader_exits),
		cmocka_unit_test(test_grandchild_timeout),
		cmocka_unit_test(test_stop_fd),
		cmocka_unit_test(test_poll_stop),
		cmocka_unit_test(test_missing_binary),
		cmocka_unit_test(test_not_executable),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_spawn_cache),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_log_errors),
		cmocka_unit_test(test_log_exists),
		cmocka_unit_test(test_lazy_logs),
		cmocka_unit_test(test_lazy_logs_emfile),
		cmocka_unit_test(test_lazy_log_dir),
		cmocka_unit_test(test_stdin_memory),
		cmocka_unit_test(test_stdin_no_memfd),
		cmocka_unit_test(test_log_cap_redact),
		cmocka_unit_test(test_on_output),
		cmocka_unit_test(test_tee),
		cmocka_unit_test(test_tee_slow),
		cmocka_unit_test(test_cloexec),
		cmocka_unit_test(test_signals_reset),
		cmocka_unit_test(test_start_time),
		cmocka_unit_test(test_start_after),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_kill_env),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
