/*
 * Ignores SIGTERM, says "ready" and waits (at most 100 s): only SIGKILL
 * ends it early.  Used by t-proc for the TERM -> grace -> KILL path.
 */
#define _DEFAULT_SOURCE

#include <signal.h>
#include <unistd.h>

int
main(void)
{
	signal(SIGTERM, SIG_IGN);
	alarm(100);
	if (write(1, "ready\n", 6) != 6)
		return 1;
	for (;;)
		pause();
}
