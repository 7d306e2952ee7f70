/*
 * spawn-floor N J PROGRAM [ARG...]: run PROGRAM N times, at most J at a
 * time, with posix_spawn() and waitpid(), and nothing else.  This is the
 * floor of bench/run: what any orchestrator of N processes must pay.
 *
 * Exit status: 0 if every child exited 0, 1 if one did not, 2 on a usage
 * or spawn error.  Compiled by bench/run itself (not the Makefile).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int
parse_count(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	long n, j, started = 0, running = 0;
	int status, failed = 0, error;
	pid_t pid;

	if (argc < 4 || parse_count(argv[1], 1, LONG_MAX, &n) != 0 ||
	    parse_count(argv[2], 1, 4096, &j) != 0) {
		fprintf(stderr, "usage: spawn-floor N J PROGRAM [ARG...]\n");
		return 2;
	}
	while (started < n || running > 0) {
		while (started < n && running < j) {
			error = posix_spawn(&pid, argv[3], NULL, NULL, argv + 3,
					    environ);
			if (error != 0) {
				fprintf(stderr,
					"spawn-floor: cannot run %s: "
					"%s\n",
					argv[3], strerror(error));
				return 2;
			}
			started++;
			running++;
		}
		do
			pid = waitpid(-1, &status, 0);
		while (pid == -1 && errno == EINTR);
		if (pid == -1) {
			fprintf(stderr, "spawn-floor: waitpid: %s\n",
				strerror(errno));
			return 2;
		}
		running--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	return failed;
}
