/*
 * Shared by the libFuzzer harnesses of tests/fuzz/ (see run.sh): a
 * private temporary directory, removed at exit, for the harnesses whose
 * code under test reads files.  Nothing is written outside it.
 */
#ifndef BATON_FUZZ_H
#define BATON_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[4096];

/* The files made in fuzz_dir, removed at exit (at most 4). */
static char *fuzz_files[4];

static inline void
fuzz_cleanup(void)
{
	size_t i;

	for (i = 0; i < sizeof fuzz_files / sizeof *fuzz_files; i++) {
		if (fuzz_files[i] != NULL)
			unlink(fuzz_files[i]);
		free(fuzz_files[i]);
		fuzz_files[i] = NULL;
	}
	if (fuzz_dir[0] != '\0')
		rmdir(fuzz_dir);
}

/* Make fuzz_dir once; abort if it cannot be made. */
static inline void
fuzz_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (fuzz_dir[0] != '\0')
		return;
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/baton-fuzz.XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	atexit(fuzz_cleanup);
}

/*
 * The path of file name in fuzz_dir (slot i of fuzz_files, made once),
 * with data written to it (truncated first).
 */
static inline const char *
fuzz_file(size_t i, const char *name, const uint8_t *data, size_t size)
{
	int fd;

	fuzz_tmpdir();
	if (fuzz_files[i] == NULL)
		fuzz_files[i] = xasprintf("%s/%s", fuzz_dir, name);
	fd = open(fuzz_files[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		  0600);
	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size)) {
		perror(fuzz_files[i]);
		abort();
	}
	close(fd);
	return fuzz_files[i];
}

/* data as a NUL-terminated string (cut at the first NUL); caller frees. */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	return xstrndup((const char *)data, size);
}

#endif
