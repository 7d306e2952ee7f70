#ifndef BATON_XMALLOC_H
#define BATON_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Allocation helpers that never return NULL: running out of memory is
 * fatal.  Every pointer they return is the caller's to free().
 */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
/* Like xstrdup() but NULL in, NULL out. */
char *xstrdup_or_null(const char *);
char *xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
/* xasprintf() of a va_list; uses ap up (the caller still va_end()s it). */
char *xvasprintf(const char *, va_list ap)
	__attribute__((format(printf, 1, 0)));

/*
 * Out of memory: print "baton: out of memory" and exit 4 at once (SPEC §7,
 * a database error), without unwinding.  Whatever was not committed is
 * rolled back by SQLite when the database is next opened, and the next
 * command reaps this process's runner, tasks and sessions as after a kill
 * -9 (SPEC §5); nothing half-done is left for it to find.  It allocates
 * nothing and runs no atexit handler, so any thread may call it.
 */
void oom(void) __attribute__((noreturn));

/*
 * strerror(err), but oom() for ENOMEM: for the errors of calls that can
 * only lack memory by failing to allocate (realpath, fopen, opendir,
 * posix_spawn's set-up), never for fork or thread creation, where ENOMEM
 * is a resource limit.
 */
const char *xstrerror(int err);

/* Print "baton: fatal: ..." and abort; for broken invariants only. */
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
