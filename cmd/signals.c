/*
 * SIGINT, SIGTERM and SIGHUP while baton runs agents: stop them through
 * a self-pipe that every wait polls, let cleanup run, exit 128 + signo.
 * The handler's flag is the one piece of global state: a signal handler
 * has nowhere else to put it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"

static volatile sig_atomic_t received;
static int pipe_w = -1;

static void
on_signal(int sig)
{
	int saved = errno;
	char c = 1;

	if (received == 0)
		received = sig;
	if (pipe_w >= 0)
		(void)!write(pipe_w, &c, 1);
	errno = saved;
}

int
cmd_signals_install(struct baton *b)
{
	struct sigaction sa;
	int fds[2];

	if (pipe(fds) != 0)
		return -1;
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	pipe_w = fds[1];
	b->stop_fd = fds[0];
	b->stop_wfd = fds[1];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return 0;
}

int
cmd_signal_received(void)
{
	return received;
}

int
cmd_signal_exit(void)
{
	return received ? 128 + received : EXIT_FAILED;
}
