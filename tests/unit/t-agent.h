/*
 * Fixtures of the unit tests of the adapters that read an agent CLI's
 * output (t-claude.c, t-codex.c): a directory for the files a turn's
 * stdout and stderr went to, parsing a turn through the adapter, and
 * checking an argv.  Included once by a test, after <cmocka.h>, with
 * T_AGENT_KIND defined as the adapter's kind (AGENT_KIND_CLAUDE, ...).
 */
#ifndef BATON_T_AGENT_H
#define BATON_T_AGENT_H

#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/agent.h"
#include "lib/num.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

/* A UUID no test's output reports: a head to resume. */
#define HEAD "7d3e9a10-1111-4222-8333-944455556666"

/* The test's directory (made by agent_files_setup), and its files. */
static char *dir, *out_path, *err_path;

static const struct agent_impl *
impl(void)
{
	const struct agent_impl *i = agent_impl_find(T_AGENT_KIND);

	assert_non_null(i);
	return i;
}

static void
put(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = 0;
	ssize_t w;

	assert_true(fd >= 0);
	while (n < len) {
		w = write(fd, text + n, len - n);
		assert_true(w > 0);
		n += (size_t)w;
	}
	assert_int_equal(close(fd), 0);
}

static void
assert_has(const char *s, const char *want)
{
	if (s == NULL || strstr(s, want) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", want, s ? s : "(null)");
}

/*
 * Parse for call c a turn that printed out on stdout and err on stderr
 * (NULL: no file at all) and ended with exit status code (or signal sig).
 */
static void
parse_call(const struct agent_call *c, const char *out, size_t outlen,
	   const char *err, int code, int sig, struct agent_result *r)
{
	struct agent_exit pr = {0};

	unlink(out_path);
	unlink(err_path);
	if (out != NULL)
		put(out_path, out, outlen);
	if (err != NULL)
		put(err_path, err, strlen(err));
	pr.exited = sig == 0;
	pr.exit_code = code;
	pr.signal = sig;
	pr.out_bytes = out != NULL ? outlen : 0;
	memset(r, 0, sizeof *r);
	r->num_turns = -1;
	r->duration_ms = -1;
	impl()->parse_result(c, &pr, out_path, err_path, r);
	if (r->outcome != AGENT_OK)
		assert_non_null(r->error);
}

/* A 1 MiB line of noise, then line, on stderr; the caller frees. */
static char *
noisy_stderr(const char *line)
{
	size_t n = (size_t)1 << 20;
	char *noise = xmalloc(n + 1), *e;

	memset(noise, 'x', n);
	noise[n] = '\0';
	e = xasprintf("%s\n%s\n", noise, line);
	free(noise);
	return e;
}

/* ---- argv ---- */

static void
argv_of(struct agent_call *c, struct strvec *v, int want_rc)
{
	char *cause = NULL;
	int rc;

	strvec_init(v);
	rc = impl()->build_argv(c, v, &cause);
	assert_int_equal(rc, want_rc);
	if (rc != 0) {
		assert_non_null(cause);
		free(cause);
	}
}

/* v is exactly the NULL-terminated list of strings that follows. */
static void
assert_argv(const struct strvec *v, ...)
{
	va_list ap;
	const char *s;
	size_t i = 0;

	va_start(ap, v);
	while ((s = va_arg(ap, const char *)) != NULL) {
		assert_true(i < v->n);
		assert_string_equal(v->v[i], s);
		i++;
	}
	va_end(ap);
	assert_int_equal(i, v->n);
	assert_null(v->v[v->n]);
}

/* ---- the directory ---- */

/* Make the test's directory and name its files; 0 or -1. */
static int
agent_files_setup(void)
{
	dir = xasprintf("/tmp/t-%s.XXXXXX", agent_kind_name(T_AGENT_KIND));
	if (mkdtemp(dir) == NULL)
		return -1;
	out_path = xasprintf("%s/1.out", dir);
	err_path = xasprintf("%s/1.err", dir);
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* Remove the test's directory and all the test made in it; 0 or -1. */
static int
agent_files_teardown(void)
{
	int rc = nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);

	free(dir);
	free(out_path);
	free(err_path);
	return rc != 0 ? -1 : 0;
}

#endif
