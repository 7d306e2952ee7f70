#include <uuid/uuid.h>

#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/id.h"
#include "lib/xmalloc.h"

/*
 * Random bytes from getrandom(2), drawn a pool at a time by each thread:
 * libuuid's uuid_generate_random() made seven system calls an id
 * (getrandom, then getpid, getuid, getppid and gettid to stir its own
 * generator), and a trivial task makes one (its temp session's).  A
 * forked child starts with an empty pool, so that it never hands out
 * its parent's bytes.
 */
static _Thread_local unsigned char pool[256];
static _Thread_local size_t pool_left;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void
pool_forget(void)
{
	pool_left = 0;
}

static void
pool_register(void)
{
	pthread_atfork(NULL, NULL, pool_forget);
}

static void
random_uuid(uuid_t u)
{
	size_t got = 0, n = sizeof(uuid_t);
	ssize_t r;

	pthread_once(&pool_once, pool_register);
	if (pool_left < n) {
		while (got < sizeof pool) {
			r = getrandom(pool + got, sizeof pool - got, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				/* no getrandom (a kernel before 3.17) */
				uuid_generate_random(u);
				return;
			}
			got += (size_t)r;
		}
		pool_left = sizeof pool;
	}
	memcpy(u, pool + sizeof pool - pool_left, n);
	memset(pool + sizeof pool - pool_left, 0, n);
	pool_left -= n;
}

/*
 * Fills buf (>= 37 bytes) with a new lower-case UUID, version 7 (RFC
 * 9562): 48 bits of Unix time in milliseconds, then 74 random bits from
 * the kernel.  Ids made later sort later, so the session rows and the
 * indexes keyed by session id grow at their right edge instead of at a
 * random page, which keeps the cost per task flat as the database grows
 * (docs/performance.md, section 5).
 */
void
id_uuid_new(char *buf)
{
	uint64_t ms = (uint64_t)clock_now_ms();
	uuid_t u;
	int i;

	random_uuid(u);
	for (i = 0; i < 6; i++)
		u[i] = (unsigned char)(ms >> (40 - 8 * i));
	u[6] = (unsigned char)(0x70 | (u[6] & 0x0f)); /* version 7 */
	u[8] = (unsigned char)(0x80 | (u[8] & 0x3f)); /* variant 10 */
	uuid_unparse_lower(u, buf);
}

/* Non-zero if s has the 8-4-4-4-12 hex shape. */
int
id_is_uuid(const char *s)
{
	int i;

	if (s == NULL)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return s[36] == '\0';
}

/* A lower-case copy of s; caller frees. */
char *
id_uuid_lower(const char *s)
{
	char *p, *copy = xstrdup(s);

	for (p = copy; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return copy;
}
