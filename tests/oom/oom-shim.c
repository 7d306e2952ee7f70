/*
 * An LD_PRELOAD library that makes allocations fail, to test what baton
 * does when memory runs out (tests/oom/oom-loop.sh drives it).
 *
 *   BATON_OOM_FAIL_AT=N   the Nth call of malloc, calloc, realloc,
 *                         posix_memalign, aligned_alloc or memalign
 *                         (counted from this library's constructor, so the
 *                         dynamic loader's own allocations are not seen)
 *                         returns NULL with errno ENOMEM
 *   BATON_OOM_MODE=after  every call from the Nth on fails (default: only
 *                         the Nth, as a transient shortage)
 *   BATON_OOM_COUNT=FILE  at exit, append the number of calls to FILE
 *   BATON_OOM_BACKTRACE=1 on SIGSEGV, SIGBUS or SIGABRT print a backtrace
 *                         to stderr (addresses: addr2line -e build/baton)
 *
 * strdup, asprintf, getline … call malloc inside glibc and are reached
 * through it (glibc supports replacing malloc this way).  SQLite, libyaml
 * and jansson allocate through malloc too, so they are reached as well.
 * Not for the sanitizer build: ASan replaces malloc itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static unsigned long calls;
static unsigned long fail_at;
static int fail_after;
static int armed;

static void
on_crash(int sig)
{
	void *frames[64];
	int n;

	armed = 0;
	n = backtrace(frames, 64);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((constructor)) static void
shim_init(void)
{
	void *frames[1];

	if (getenv("BATON_OOM_BACKTRACE") != NULL) {
		backtrace(frames, 1); /* loads libgcc_s now, not in on_crash */
		signal(SIGSEGV, on_crash);
		signal(SIGBUS, on_crash);
		signal(SIGABRT, on_crash);
	}

	const char *n = getenv("BATON_OOM_FAIL_AT");
	const char *m = getenv("BATON_OOM_MODE");

	fail_at = n != NULL ? strtoul(n, NULL, 10) : 0;
	fail_after = m != NULL && strcmp(m, "after") == 0;
	armed = 1;
}

__attribute__((destructor)) static void
shim_fini(void)
{
	const char *f = getenv("BATON_OOM_COUNT");
	char buf[32];
	int fd, len;

	if (f == NULL)
		return;
	fd = open(f, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0)
		return;
	len = snprintf(buf, sizeof buf, "%lu\n", calls);
	if (write(fd, buf, (size_t)len) < 0)
		len = 0;
	close(fd);
}

/* 1 if this call is to fail. */
static int
should_fail(void)
{
	unsigned long n;

	if (!armed)
		return 0;
	n = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	if (fail_at == 0)
		return 0;
	return fail_after ? n >= fail_at : n == fail_at;
}

void *
malloc(size_t n)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n);
}

void *
memalign(size_t align, size_t n)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_memalign(align, n);
}

void *
aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int
posix_memalign(void **p, size_t align, size_t n)
{
	void *q = memalign(align, n);

	if (q == NULL)
		return ENOMEM;
	*p = q;
	return 0;
}
