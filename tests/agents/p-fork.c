/*
 * p-fork PIDFILE exit|sleep term|noterm|gcnoterm
 *
 * Forks a grandchild that keeps stdout and stderr open and sleeps (at
 * most 100 s), writes the grandchild's pid to PIDFILE, prints
 * "leader-done" and then exits 0 or sleeps.  With noterm both ignore
 * SIGTERM, with gcnoterm only the grandchild does.
 */
#define _DEFAULT_SOURCE

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char buf[32];
	pid_t pid;
	int fd, len;

	if (argc != 4)
		return 2;
	/* Before the fork, so the grandchild ignores TERM from the start. */
	if (strcmp(argv[3], "noterm") == 0 || strcmp(argv[3], "gcnoterm") == 0)
		signal(SIGTERM, SIG_IGN);
	pid = fork();
	if (pid == -1)
		return 3;
	if (pid == 0) {
		alarm(100);
		for (;;)
			pause();
	}
	if (strcmp(argv[3], "gcnoterm") == 0)
		signal(SIGTERM, SIG_DFL);
	len = snprintf(buf, sizeof buf, "%ld\n", (long)pid);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, buf, (size_t)len) != len || close(fd) != 0)
		return 4;
	if (write(1, "leader-done\n", 12) != 12)
		return 5;
	if (strcmp(argv[2], "exit") == 0)
		return 0;
	alarm(100);
	for (;;)
		pause();
}
