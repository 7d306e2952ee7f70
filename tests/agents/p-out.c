/*
 * A scriptable child for t-proc: runs its arguments as commands, in order.
 *
 *   out N / err N   write N pattern bytes (byte k of a stream is k % 251)
 *   print S / eprint S   write S and a newline to stdout / stderr
 *   cat             copy stdin to stdout
 *   args A...       write each remaining argument and a newline, then stop
 *   sleep MS        sleep
 *   close           close stdout and stderr
 *   cwd             write the working directory and a newline
 *   kill SIG        raise SIG
 *   exit N          exit with status N
 */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
put(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			_exit(120);
		p += n;
		len -= (size_t)n;
	}
}

static long
num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		_exit(121);
	return v;
}

static void
pattern(int fd, long n, unsigned long *off)
{
	static unsigned char buf[65536];
	size_t i, chunk;

	while (n > 0) {
		chunk = n > (long)sizeof buf ? sizeof buf : (size_t)n;
		for (i = 0; i < chunk; i++)
			buf[i] = (unsigned char)((*off + i) % 251);
		put(fd, buf, chunk);
		*off += chunk;
		n -= (long)chunk;
	}
}

int
main(int argc, char **argv)
{
	unsigned long out_off = 0, err_off = 0;
	char buf[65536];
	struct timespec ts;
	ssize_t n;
	long v;
	int i;

	for (i = 1; i < argc; i++) {
		const char *c = argv[i];

		if (strcmp(c, "args") == 0) {
			for (i++; i < argc; i++) {
				put(1, argv[i], strlen(argv[i]));
				put(1, "\n", 1);
			}
			break;
		}
		if (strcmp(c, "cat") == 0) {
			while ((n = read(0, buf, sizeof buf)) != 0) {
				if (n == -1 && errno == EINTR)
					continue;
				if (n == -1)
					_exit(122);
				put(1, buf, (size_t)n);
			}
			continue;
		}
		if (strcmp(c, "cwd") == 0) {
			if (getcwd(buf, sizeof buf) == NULL)
				_exit(125);
			put(1, buf, strlen(buf));
			put(1, "\n", 1);
			continue;
		}
		if (strcmp(c, "close") == 0) {
			close(1);
			close(2);
			continue;
		}
		if (i + 1 >= argc)
			_exit(123);
		if (strcmp(c, "out") == 0)
			pattern(1, num(argv[++i]), &out_off);
		else if (strcmp(c, "err") == 0)
			pattern(2, num(argv[++i]), &err_off);
		else if (strcmp(c, "print") == 0 || strcmp(c, "eprint") == 0) {
			int fd = c[0] == 'e' ? 2 : 1;

			i++;
			put(fd, argv[i], strlen(argv[i]));
			put(fd, "\n", 1);
		} else if (strcmp(c, "sleep") == 0) {
			v = num(argv[++i]);
			ts.tv_sec = v / 1000;
			ts.tv_nsec = (v % 1000) * 1000000;
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		} else if (strcmp(c, "kill") == 0) {
			raise((int)num(argv[++i]));
		} else if (strcmp(c, "exit") == 0)
			exit((int)num(argv[++i]));
		else
			_exit(124);
	}
	return 0;
}
