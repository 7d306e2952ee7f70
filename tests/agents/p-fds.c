/*
 * Lists its open file descriptors (from /proc/self/fd), one a line, in
 * ascending order, leaving out the one it uses to read the directory.
 */
#define _DEFAULT_SOURCE

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

static int
cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

int
main(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long fds[1024];
	size_t n = 0, i;
	char *end;

	if (d == NULL)
		return 1;
	while ((e = readdir(d)) != NULL && n < 1024) {
		long fd = strtol(e->d_name, &end, 10);

		if (end == e->d_name || *end != '\0' || fd == dirfd(d))
			continue;
		fds[n++] = fd;
	}
	closedir(d);
	qsort(fds, n, sizeof fds[0], cmp);
	for (i = 0; i < n; i++)
		printf("%ld\n", fds[i]);
	return fflush(stdout) != 0;
}
