/* realpath() is XSI. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/project.h"
#include "lib/xmalloc.h"

static int
has_git(const char *dir)
{
	struct stat st;
	char *p;
	int found;

	p = xasprintf("%s/.git", strcmp(dir, "/") == 0 ? "" : dir);
	found = stat(p, &st) == 0 &&
		(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));
	free(p);
	return found;
}

/*
 * The realpath of the nearest directory at or above dir holding a .git
 * directory or file, else the realpath of dir; caller frees.  NULL with
 * errno if dir cannot be resolved.
 */
char *
project_of(const char *dir)
{
	char *real, *cur, *slash;
	struct stat st;

	if ((real = realpath(dir, NULL)) == NULL)
		return NULL;
	if (stat(real, &st) != 0) {
		free(real);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		free(real);
		errno = ENOTDIR;
		return NULL;
	}
	cur = xstrdup(real);
	for (;;) {
		if (has_git(cur)) {
			free(real);
			return cur;
		}
		if (strcmp(cur, "/") == 0)
			break;
		slash = strrchr(cur, '/');
		if (slash == cur)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(cur);
	return real;
}
