/*
 * p-sigstart [block SIG,...] [ignore SIG,...] -- CMD ARG...: run CMD with
 * the named signals blocked (the mask exec passes on, as some CI shells
 * leave it) and/or ignored (as `trap '' SIG` does).  SIG is INT, TERM,
 * HUP or TSTP.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
signo(const char *name)
{
	if (strcmp(name, "INT") == 0)
		return SIGINT;
	if (strcmp(name, "TERM") == 0)
		return SIGTERM;
	if (strcmp(name, "HUP") == 0)
		return SIGHUP;
	if (strcmp(name, "TSTP") == 0)
		return SIGTSTP;
	return -1;
}

int
main(int argc, char **argv)
{
	sigset_t block;
	char buf[256], *name, *save;
	int i, ignore, sig;

	sigemptyset(&block);
	for (i = 1; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
		ignore = strcmp(argv[i], "ignore") == 0;
		snprintf(buf, sizeof buf, "%s", argv[i + 1]);
		for (name = strtok_r(buf, ",", &save); name != NULL;
		     name = strtok_r(NULL, ",", &save)) {
			if ((sig = signo(name)) < 0) {
				fprintf(stderr, "p-sigstart: bad signal %s\n",
					name);
				return 2;
			}
			if (ignore)
				signal(sig, SIG_IGN);
			else
				sigaddset(&block, sig);
		}
	}
	if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
		fprintf(stderr, "usage: p-sigstart [block|ignore SIGS]... -- "
				"CMD...\n");
		return 2;
	}
	sigprocmask(SIG_BLOCK, &block, NULL);
	execvp(argv[i + 1], argv + i + 1);
	perror(argv[i + 1]);
	return 127;
}
