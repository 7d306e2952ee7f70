#include <uuid/uuid.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/id.h"
#include "lib/xmalloc.h"

/*
 * Fills buf (>= 37 bytes) with a new lower-case UUID, version 7 (RFC
 * 9562): 48 bits of Unix time in milliseconds, then 74 random bits from
 * libuuid.  Ids made later sort later, so the session rows and the
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

	uuid_generate_random(u);
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
