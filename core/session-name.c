#include <ctype.h>
#include <stddef.h>

#include "core/session.h"

/* Non-zero for [A-Za-z0-9._-]{1,64} that does not look like a UUID. */
int
session_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64)
			return 0;
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	}
	/* A 36-character 8-4-4-4-12 string is meant as a UUID, valid or
	 * not: a typo in one must not quietly become a new named session. */
	if (i == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
	    s[23] == '-')
		return 0;
	return 1;
}
