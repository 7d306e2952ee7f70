/*
 * Signals while baton runs agents.  SIGINT, SIGTERM and SIGHUP: stop
 * them through a self-pipe that every wait polls, let cleanup run, exit
 * 128 + signo; a second one while they are being stopped kills them at
 * once (no grace).  SIGTSTP (Ctrl-Z): stop the agents' groups, then
 * baton; SIGCONT: continue them.  The handler's flags are the one piece
 * of global state here: a signal handler has nowhere else to put them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
#include "core/proc.h"

static volatile sig_atomic_t received;
static volatile sig_atomic_t nreceived;
static int pipe_w = -1;

/* The signals that stop a run; each handler blocks them all, so that
 * the count below is never raced. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSTOP (sizeof stop_signals / sizeof stop_signals[0])

static void
on_signal(int sig)
{
	int saved = errno;
	char c = 1;

	if (received == 0)
		received = sig;
	if (nreceived < 2)
		nreceived++;
	if (pipe_w >= 0)
		(void)!write(pipe_w, &c, 1);
	/* Again while the agents were being stopped: no more waiting. */
	if (nreceived >= 2)
		proc_groups_kill_now();
	errno = saved;
}

/*
 * Ctrl-Z: the agents run in groups of their own, out of reach of the
 * terminal's SIGTSTP, so stop them first, then baton (SIGSTOP: it
 * stops us whatever our process group, and a handler cannot re-raise a
 * stop of its own while it runs).  kill() returns once we are
 * continued: continue the agents.  A deadline that passed meanwhile
 * fires at once (proc.c measures time with CLOCK_MONOTONIC).
 */
static void
on_tstp(int sig)
{
	int saved = errno;

	(void)sig;
	proc_groups_signal(SIGSTOP);
	kill(getpid(), SIGSTOP);
	proc_groups_signal(SIGCONT);
	errno = saved;
}

/* Continued after a stop we did not ask for (kill -STOP): the same. */
static void
on_cont(int sig)
{
	int saved = errno;

	(void)sig;
	proc_groups_signal(SIGCONT);
	errno = saved;
}

void
cmd_signals_reset(void)
{
	static const int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGTSTP,
				      SIGCONT};
	struct sigaction sa, old;
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof handled / sizeof handled[0]; i++)
		sigaddset(&set, handled[i]);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 2; i++) {
		if (sigaction(stop_signals[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			sigaction(stop_signals[i], &sa, NULL);
	}
}

/* Ctrl-Z and fg, unless SIGTSTP was ignored when baton started (the
 * caller wants no stops: a shell without job control). */
static void
install_job_control(void)
{
	struct sigaction sa, old;

	if (sigaction(SIGTSTP, NULL, &old) != 0 || old.sa_handler == SIG_IGN)
		return;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_cont;
	sigaction(SIGCONT, &sa, NULL);
	sigaddset(&sa.sa_mask, SIGCONT);
	sa.sa_handler = on_tstp;
	sigaction(SIGTSTP, &sa, NULL);
}

int
cmd_signals_install(struct baton *b)
{
	struct sigaction sa;
	int fds[2];
	size_t i;

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
	for (i = 0; i < NSTOP; i++)
		sigaddset(&sa.sa_mask, stop_signals[i]);
	for (i = 0; i < NSTOP; i++)
		sigaction(stop_signals[i], &sa, NULL);
	install_job_control();
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
