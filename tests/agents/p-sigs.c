/*
 * Prints the SigBlk and SigIgn lines of /proc/self/status: the signal
 * mask and ignored signals it was started with.
 */
#include <stdio.h>
#include <string.h>

int
main(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	if (f == NULL)
		return 1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "SigBlk:", 7) == 0 ||
		    strncmp(line, "SigIgn:", 7) == 0)
			fputs(line, stdout);
	}
	fclose(f);
	return fflush(stdout) != 0;
}
