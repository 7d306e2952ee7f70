/*
 * Running one subprocess: spawn from an argv vector into its own process
 * group, stream its stdout and stderr to files, stop it on a timeout or
 * when asked, and leave nothing behind (no zombie, no orphan, no fd).
 *
 * Thread-safe: no signal handlers, no reliance on SIGCHLD.  Each call
 * waits only for its own child, through a pidfd.  The one piece of
 * global state is the table of running groups below, which baton's
 * signal handlers (cmd/signals.c) read: job control and a second Ctrl-C
 * must reach every agent, whichever thread runs it.
 */
#define _GNU_SOURCE

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/proc.h"
#include "lib/file.h"
#include "lib/redact.h"
#include "lib/sys.h"
#include "lib/xmalloc.h"

#define PROC_BUF_SIZE (64 * 1024)
#define PROC_GRACE_MS 5000
#define PROC_POLL_MS  500
/* Reading what the leader left in the pipes before its group is killed. */
#define PROC_DRAIN_MS 100
/*
 * Output waiting for a slow tee (a paused terminal, a pipe nobody reads):
 * past PROC_TEE_HOLD the child's pipes are not read until the tee takes
 * some, so the child waits as in any pipeline while timeouts and signals
 * still work; once the leader is gone the rest is read to the log and at
 * most PROC_TEE_MAX of it kept for the tee.
 */
#define PROC_TEE_HOLD (64 * 1024)
#define PROC_TEE_MAX  (1024 * 1024)
/* Waiting for EOF once the group is dead (an escaped process may hold on). */
#define PROC_EOF_MS 1000
/*
 * Redacting a stream (SPEC §3): output is held back to the end of its
 * last line, so that a secret split across two reads is still found
 * whole; a line longer than PROC_HOLD_MAX is cut at a blank at least
 * PROC_HOLD_KEEP bytes from its end (a secret or token is shorter and
 * has no blank in it).
 */
#define PROC_HOLD_MAX  (64 * 1024)
#define PROC_HOLD_KEEP 1024
/* How often to look for the leader's exit if pidfd_open() is unavailable. */
#define PROC_WAIT_MS 50

/* One of the child's output streams. */
struct proc_stream {
	int fd;		   /* our end of the pipe; -1 once at EOF */
	int log_fd;	   /* -1: discard, or not created yet (lazy) */
	int lazy;	   /* path is created with the first byte to log */
	int reserve;	   /* -1, or an fd slot held for creating it (EMFILE) */
	int create_failed; /* log_errno is from creating path */
	char *create_cause; /* NULL, or why its directory was not made */
	int (*make_dir)(void *arg, char **cause); /* proc_spec's */
	void *make_dir_arg;
	int tee_fd;    /* -1: none, or given up after an error */
	int tee_file;  /* tee_fd is a regular file: never waits */
	char *tee_buf; /* what the tee has not taken yet */
	size_t tee_len, tee_cap;
	uint64_t tee_dropped; /* bytes the tee never got */
	const char *path;     /* for messages */
	int log_errno;	      /* first error writing log_fd */
	uint64_t bytes;	      /* read from the pipe */
	uint64_t logged;      /* written to log_fd */
	uint64_t log_max;     /* 0: no cap */
	int truncated;	      /* log_max reached: the rest is dropped */
	/* spec's on_output, and this stream's number for it */
	void (*sink)(void *arg, int stream, const char *buf, size_t len);
	void *sink_arg;
	int sink_stream;
	/* Output held back until it can be redacted whole (see
	 * proc_emit); redactor NULL: none held. */
	const struct redactor *redactor;
	char *held;
	size_t held_len, held_cap;
};

/*
 * The process groups of the children now running, for signal handlers:
 * lock-free atomics (async-signal-safe to read), 0 for a free slot.  A
 * group is taken out before its leader is reaped, so an id read here is
 * still reserved by that leader (unreaped, maybe a zombie) unless the
 * reap happens between a handler's read and its kill(), which would need
 * the pid space to wrap in that instant.  More children than slots (the
 * pool has at most 256 workers, each running one at a time) are run
 * but not in the table.
 */
#define PROC_GROUPS_MAX 1024
static atomic_int proc_groups[PROC_GROUPS_MAX];
/* Set by proc_groups_kill_now(): terminations skip the grace. */
static atomic_int proc_hurry;

/* Put pgid in the table; its slot, or -1 if the table is full. */
static int
proc_group_add(pid_t pgid)
{
	int i, expected;

	for (i = 0; i < PROC_GROUPS_MAX; i++) {
		expected = 0;
		if (atomic_compare_exchange_strong(&proc_groups[i], &expected,
						   (int)pgid))
			return i;
	}
	return -1;
}

static void
proc_group_del(int *slot)
{
	if (*slot >= 0)
		atomic_store(&proc_groups[*slot], 0);
	*slot = -1;
}

/* Async-signal-safe (see proc.h). */
void
proc_groups_signal(int sig)
{
	int i, pgid;

	for (i = 0; i < PROC_GROUPS_MAX; i++) {
		pgid = atomic_load(&proc_groups[i]);
		if (pgid > 0)
			kill(-pgid, sig);
	}
}

/* Async-signal-safe (see proc.h). */
void
proc_groups_kill_now(void)
{
	atomic_store(&proc_hurry, 1);
	proc_groups_signal(SIGKILL);
}

struct proc_state {
	const struct proc_spec *spec;
	struct proc_result *res;
	struct proc_stream out, err;
	char *buf;
	pid_t pid;
	int pidfd;
	int group_slot; /* in proc_groups, or -1 */
	int stop_fd;
	int reaped;
	int lost; /* someone else reaped the leader: its pid is not ours */
	int term_sent, kill_sent;
	int64_t start;
	int64_t timeout_at, kill_at, next_poll, eof_at; /* -1: none */
	int64_t start_at; /* -1: on_start was called or is not owed */
};

static int64_t
proc_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
proc_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * The fds the child gets as 0, 1 and 2 must not be 0, 1 or 2 already
 * (if baton's own stdio was closed), or one dup2 could clobber another.
 */
static int
proc_above_stdio(int *fd)
{
	int nfd;

	if (*fd > STDERR_FILENO)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (nfd == -1)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

/*
 * A new log file, 0600: one that exists (a planted symlink, another
 * run's log) is refused, never followed or truncated (SPEC §9).
 */
static int
proc_open_log(const char *path, int *fd, char **cause)
{
	int saved;

	*fd = -1;
	if (path == NULL)
		return 0;
	if ((*fd = file_create(path, O_APPEND)) == -1) {
		/* errno kept: EMFILE and its kin are baton's to wait out */
		saved = errno;
		*cause = xasprintf("cannot create %s: %s", path,
				   file_strerror(saved));
		errno = saved;
		return -1;
	}
	return 0;
}

static int
proc_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write to the tee fd what it takes now without waiting (chunks of at
 * most PIPE_BUF once poll() says it has room, which a pipe or terminal
 * then takes whole), with SIGPIPE blocked in this thread so that a
 * closed terminal or pipe gives EPIPE instead of killing baton; a
 * SIGPIPE this raised is taken off the pending set.  Any error ends the
 * tee.  Returns the bytes written.
 */
static size_t
proc_tee_write(struct proc_stream *s, const char *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = {0, 0};
	struct pollfd pfd;
	size_t done = 0, chunk;
	ssize_t n;
	int was_pending, failed = 0, saved = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);

	while (done < len) {
		chunk = len - done;
		if (!s->tee_file) {
			pfd.fd = s->tee_fd;
			pfd.events = POLLOUT;
			pfd.revents = 0;
			if (poll(&pfd, 1, 0) != 1)
				break; /* no room now (or EINTR: later) */
			if (pfd.revents & (POLLERR | POLLNVAL)) {
				failed = 1;
				saved = EIO;
				break;
			}
			if (chunk > PIPE_BUF)
				chunk = PIPE_BUF;
		}
		n = write(s->tee_fd, buf + done, chunk);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			failed = 1;
			saved = errno;
			break;
		}
		done += (size_t)n;
	}
	if (failed && saved == EPIPE && !was_pending) {
		while (sigtimedwait(&pipe_set, NULL, &zero) == -1 &&
		       errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (failed) {
		s->tee_fd = -1;
		s->tee_len = 0;
	}
	return done;
}

/* Hand the tee what it takes of its backlog. */
static void
proc_tee_flush(struct proc_stream *s)
{
	size_t n;

	if (s->tee_fd < 0 || s->tee_len == 0)
		return;
	n = proc_tee_write(s, s->tee_buf, s->tee_len);
	if (s->tee_fd < 0)
		return;
	memmove(s->tee_buf, s->tee_buf + n, s->tee_len - n);
	s->tee_len -= n;
}

/* New output for the tee: written now if it can take it, else kept. */
static void
proc_tee(struct proc_stream *s, const char *buf, size_t len)
{
	size_t n = 0, keep;

	if (s->tee_len == 0)
		n = proc_tee_write(s, buf, len);
	if (s->tee_fd < 0 || n == len)
		return;
	keep = len - n;
	if (s->tee_len + keep > PROC_TEE_MAX) {
		s->tee_dropped += s->tee_len + keep - PROC_TEE_MAX;
		keep = PROC_TEE_MAX - s->tee_len;
	}
	if (s->tee_len + keep > s->tee_cap) {
		s->tee_cap = s->tee_len + keep;
		if (s->tee_cap < PROC_TEE_HOLD + PROC_BUF_SIZE)
			s->tee_cap = PROC_TEE_HOLD + PROC_BUF_SIZE;
		s->tee_buf = xrealloc(s->tee_buf, s->tee_cap);
	}
	memcpy(s->tee_buf + s->tee_len, buf + n, keep);
	s->tee_len += keep;
}

/*
 * The end of the run: give the tee its backlog, waiting for it as a
 * pipeline would if the child ended by itself (wait), but not past
 * stop_fd (a signal to baton).  A child that baton stopped (timeout,
 * cancel) is not waited for: the run ends now.  Returns the bytes the
 * tee never got (the caller says so where the user can see it: the
 * tee itself has no room).
 */
static uint64_t
proc_tee_finish(struct proc_stream *s, int stop_fd, int wait)
{
	struct pollfd pfd[2];
	uint64_t dropped;
	int n;

	while (s->tee_fd >= 0 && s->tee_len > 0) {
		proc_tee_flush(s);
		if (s->tee_fd < 0 || s->tee_len == 0 || !wait)
			break;
		pfd[0].fd = s->tee_fd;
		pfd[0].events = POLLOUT;
		pfd[1].fd = stop_fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		n = poll(pfd, stop_fd >= 0 ? 2 : 1, -1);
		if (n == -1 && errno != EINTR)
			break;
		if (n > 0 && stop_fd >= 0 && pfd[1].revents != 0)
			break;
	}
	dropped = s->tee_fd >= 0 ? s->tee_dropped + s->tee_len : 0;
	s->tee_len = 0;
	free(s->tee_buf);
	s->tee_buf = NULL;
	s->tee_cap = 0;
	return dropped;
}

/* What the log keeps: to its file (until a write fails) and on_output. */
static void
proc_log_write(struct proc_stream *s, const char *buf, size_t len)
{
	if (s->sink != NULL && len > 0)
		s->sink(s->sink_arg, s->sink_stream, buf, len);
	if (s->log_fd < 0 || s->log_errno != 0)
		return;
	if (proc_write_all(s->log_fd, buf, len) == -1)
		s->log_errno = errno;
}

/*
 * A lazy log's file, now that it has its first byte: created as
 * proc_open_log() would have before the spawn.  Out of descriptors
 * (other threads took them meanwhile), the slot held for it since the
 * spawn is given up and the create tried once more.  A failure is the
 * stream's log_errno, reported when the run ends.
 */
static void
proc_log_create(struct proc_stream *s)
{
	int fd;

	s->lazy = 0;
	errno = 0;
	if (s->make_dir != NULL &&
	    s->make_dir(s->make_dir_arg, &s->create_cause) != 0) {
		s->log_errno = errno != 0 ? errno : EIO;
		s->create_failed = 1;
		proc_close(&s->reserve);
		return;
	}
	fd = file_create(s->path, O_APPEND);
	if (fd == -1 && sys_resource_errno(errno) && s->reserve >= 0) {
		proc_close(&s->reserve);
		fd = file_create(s->path, O_APPEND);
	}
	if (fd == -1) {
		s->log_errno = errno;
		s->create_failed = 1;
	}
	proc_close(&s->reserve);
	s->log_fd = fd;
}

/*
 * Write to the log what fits under its cap (SPEC §3: logs.max_bytes);
 * past it, one marker line, and the rest is dropped (the pipe is still
 * read, so the child never blocks on it).
 */
static void
proc_log(struct proc_stream *s, const char *buf, size_t len)
{
	char *mark;
	size_t room;

	if (s->lazy && len > 0)
		proc_log_create(s);
	if ((s->log_fd < 0 && s->sink == NULL) || s->truncated)
		return;
	if (s->log_max == 0 || s->logged + len <= s->log_max) {
		proc_log_write(s, buf, len);
		s->logged += len;
		return;
	}
	room = (size_t)(s->log_max - s->logged);
	s->truncated = 1;
	mark = xasprintf("\n[baton: output truncated at %llu bytes "
			 "(logs.max_bytes); the rest was read and dropped]\n",
			 (unsigned long long)s->log_max);
	proc_log_write(s, buf, room);
	proc_log_write(s, mark, strlen(mark));
	s->logged = s->log_max;
	free(mark);
}

/* Output ready to be stored and shown: to the log and the tee. */
static void
proc_out(struct proc_stream *s, const char *buf, size_t len)
{
	proc_log(s, buf, len);
	if (s->tee_fd >= 0)
		proc_tee(s, buf, len);
}

/* Where held output can be cut now (see PROC_HOLD_MAX); 0: not yet. */
static size_t
proc_hold_cut(const struct proc_stream *s)
{
	size_t i;

	for (i = s->held_len; i > 0; i--) {
		if (s->held[i - 1] == '\n')
			return i;
	}
	if (s->held_len <= PROC_HOLD_MAX)
		return 0;
	for (i = s->held_len - PROC_HOLD_KEEP; i > 0; i--) {
		if (s->held[i - 1] == ' ' || s->held[i - 1] == '\t')
			return i;
	}
	return s->held_len - PROC_HOLD_KEEP;
}

/*
 * New output from the child: redacted (when the stream has a redactor)
 * a whole line at a time, then stored and shown.  final: the stream
 * ended, let go of everything held.
 */
static void
proc_emit(struct proc_stream *s, const char *buf, size_t len, int final)
{
	size_t cut, olen;
	char *out;

	if (s->redactor == NULL) {
		proc_out(s, buf, len);
		return;
	}
	if (s->held_len + len > s->held_cap) {
		s->held_cap = s->held_len + len + PROC_BUF_SIZE;
		s->held = xrealloc(s->held, s->held_cap);
	}
	memcpy(s->held + s->held_len, buf, len);
	s->held_len += len;
	cut = final ? s->held_len : proc_hold_cut(s);
	if (cut == 0)
		return;
	out = redact_mem(s->redactor, s->held, cut, &olen);
	proc_out(s, out, olen);
	free(out);
	memmove(s->held, s->held + cut, s->held_len - cut);
	s->held_len -= cut;
}

/* The end of a stream: what is held goes out, and its fd is closed. */
static void
proc_stream_end(struct proc_stream *s)
{
	proc_close(&s->fd);
	if (s->held_len > 0)
		proc_emit(s, "", 0, 1);
	free(s->held);
	s->held = NULL;
	s->held_len = s->held_cap = 0;
}

/* Read once from a ready stream; at EOF (or a read error) close it. */
static void
proc_stream_read(struct proc_stream *s, char *buf)
{
	ssize_t n;

	n = read(s->fd, buf, PROC_BUF_SIZE);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		proc_stream_end(s);
		return;
	}
	s->bytes += (uint64_t)n;
	proc_emit(s, buf, (size_t)n, 0);
}

/* Non-zero if fd is a regular file (a write to it never waits long). */
static int
proc_is_file(int fd)
{
	struct stat sb;

	return fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Read whatever is ready in the pipes right now, for at most ms. */
static void
proc_drain(struct proc_state *st, int64_t ms)
{
	struct proc_stream *streams[2] = {&st->out, &st->err};
	struct pollfd pfd[2];
	struct proc_stream *which[2];
	int64_t until = proc_mono_ms() + ms;
	int i, n, rc;

	for (;;) {
		n = 0;
		for (i = 0; i < 2; i++) {
			if (streams[i]->fd < 0)
				continue;
			pfd[n].fd = streams[i]->fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			which[n++] = streams[i];
		}
		if (n == 0)
			return;
		rc = poll(pfd, (nfds_t)n, 0);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc <= 0)
			return;
		for (i = 0; i < n; i++) {
			if (pfd[i].revents != 0)
				proc_stream_read(which[i], st->buf);
		}
		if (proc_mono_ms() >= until)
			return;
	}
}

/*
 * Signal the leader's group; the leader alone if it left the group.
 * Only while the leader is unreaped, so the pid is still ours.
 */
static void
proc_signal(struct proc_state *st, int sig)
{
	if (kill(-st->pid, sig) == -1 && errno == ESRCH)
		kill(st->pid, sig);
}

/* Non-zero once the leader has exited (it stays a zombie until reaped). */
static int
proc_leader_exited(struct proc_state *st)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)st->pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
	    -1) {
		/* Someone else reaped it (SIGCHLD ignored, waitpid(-1)). */
		st->lost = errno == ECHILD;
		return st->lost;
	}
	return si.si_pid == st->pid;
}

static void
proc_reap(struct proc_state *st)
{
	struct proc_result *res = st->res;
	int status;
	pid_t p;

	/* Out of the table while the pid is still ours (see proc_groups). */
	proc_group_del(&st->group_slot);
	do
		p = waitpid(st->pid, &status, 0);
	while (p == -1 && errno == EINTR);
	st->reaped = 1;
	res->duration_ms = proc_mono_ms() - st->start;
	if (p != st->pid)
		return; /* ECHILD: the status is lost */
	if (WIFEXITED(status)) {
		res->exited = 1;
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status))
		res->signal = WTERMSIG(status);
}

/*
 * The leader has exited: take what it wrote, kill what it left in its
 * group (while the zombie still holds the pgid, so the id cannot have
 * been reused), then reap it.
 */
static void
proc_leader_done(struct proc_state *st)
{
	proc_drain(st, PROC_DRAIN_MS);
	if (!st->lost)
		proc_signal(st, SIGKILL);
	else
		kill(-st->pid, SIGKILL); /* the group keeps the id reserved */
	proc_reap(st);
	proc_close(&st->pidfd);
	st->eof_at = proc_mono_ms() + PROC_EOF_MS;
}

/* TERM to the whole group now, KILL after the grace. */
static void
proc_terminate(struct proc_state *st, enum proc_stop_reason why, int64_t now)
{
	int64_t grace = st->spec->kill_grace_ms;

	if (st->term_sent)
		return;
	if (grace <= 0)
		grace = PROC_GRACE_MS;
	st->res->reason = why;
	st->term_sent = 1;
	st->kill_at = atomic_load(&proc_hurry) ? now : now + grace;
	proc_signal(st, SIGTERM);
	/* A stopped process would only see the TERM once continued. */
	proc_signal(st, SIGCONT);
}

static void
proc_min(int64_t *m, int64_t t)
{
	if (t >= 0 && (*m < 0 || t < *m))
		*m = t;
}

/* Timers: timeout, poll_stop, KILL after the grace.  Returns the wait. */
static int
proc_tick(struct proc_state *st)
{
	const struct proc_spec *spec = st->spec;
	int64_t now = proc_mono_ms(), next = -1, poll_ms;

	if (st->reaped) {
		next = st->eof_at;
		goto out;
	}
	if (st->start_at >= 0 && now >= st->start_at) {
		st->start_at = -1;
		if (spec->on_start(spec->start_arg, st->pid,
				   st->res->start_time) != 0)
			proc_terminate(st, PROC_STOPPED, now);
	}
	proc_min(&next, st->start_at);
	if (!st->term_sent && st->timeout_at >= 0 && now >= st->timeout_at)
		proc_terminate(st, PROC_TIMED_OUT, now);
	if (!st->term_sent && spec->poll_stop != NULL && now >= st->next_poll) {
		if (spec->poll_stop(spec->poll_arg))
			proc_terminate(st, PROC_STOPPED, now);
		poll_ms = spec->poll_ms > 0 ? spec->poll_ms : PROC_POLL_MS;
		st->next_poll = now + poll_ms;
	}
	if (st->term_sent && !st->kill_sent &&
	    (now >= st->kill_at || atomic_load(&proc_hurry))) {
		proc_signal(st, SIGKILL);
		st->kill_sent = 1;
	}

	if (!st->term_sent) {
		proc_min(&next, st->timeout_at);
		if (spec->poll_stop != NULL)
			proc_min(&next, st->next_poll);
	} else if (!st->kill_sent)
		proc_min(&next, st->kill_at);
	if (st->pidfd < 0)
		proc_min(&next, now + PROC_WAIT_MS);

out:
	if (next < 0)
		return -1;
	if (next <= now)
		return 0;
	if (next - now > INT_MAX)
		return INT_MAX;
	return (int)(next - now);
}

/* Wait for output, the leader's exit, stop_fd or a timer; one round. */
static int
proc_step(struct proc_state *st, char **cause)
{
	struct proc_stream *streams[2] = {&st->out, &st->err};
	struct proc_stream *which[2], *tees[2];
	struct pollfd pfd[6];
	int i, n = 0, nstreams, ntees, pid_i = -1, stop_i = -1, wait, rc;

	wait = proc_tick(st);
	for (i = 0; i < 2; i++) {
		if (streams[i]->fd < 0)
			continue;
		/* A tee that is behind holds the child back (not once the
		 * leader is gone: then the rest goes to the log). */
		if (!st->reaped && streams[i]->tee_fd >= 0 &&
		    streams[i]->tee_len >= PROC_TEE_HOLD)
			continue;
		pfd[n].fd = streams[i]->fd;
		pfd[n].events = POLLIN;
		which[n++] = streams[i];
	}
	nstreams = n;
	for (i = 0; i < 2; i++) {
		if (streams[i]->tee_fd < 0 || streams[i]->tee_len == 0)
			continue;
		pfd[n].fd = streams[i]->tee_fd;
		pfd[n].events = POLLOUT;
		tees[n++ - nstreams] = streams[i];
	}
	ntees = n - nstreams;
	if (!st->reaped && st->pidfd >= 0) {
		pid_i = n;
		pfd[n].fd = st->pidfd;
		pfd[n++].events = POLLIN;
	}
	if (!st->reaped && !st->term_sent && st->stop_fd >= 0) {
		stop_i = n;
		pfd[n].fd = st->stop_fd;
		pfd[n++].events = POLLIN;
	}
	for (i = 0; i < n; i++)
		pfd[i].revents = 0;

	rc = poll(pfd, (nfds_t)n, wait);
	if (rc == -1) {
		if (errno == EINTR)
			return 0;
		*cause = xasprintf("cannot poll: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < nstreams; i++) {
		if (pfd[i].revents != 0)
			proc_stream_read(which[i], st->buf);
	}
	for (i = 0; i < ntees; i++) {
		if (pfd[nstreams + i].revents != 0)
			proc_tee_flush(tees[i]);
	}
	/* Before the leader's exit is taken for one by itself: a deadline
	 * that passed while baton was stopped (Ctrl-Z, SIGSTOP) fires now,
	 * on resume, whatever the agent did meanwhile. */
	if (!st->reaped && !st->term_sent && st->timeout_at >= 0 &&
	    proc_mono_ms() >= st->timeout_at)
		proc_terminate(st, PROC_TIMED_OUT, proc_mono_ms());
	if (stop_i >= 0 && pfd[stop_i].revents != 0) {
		if (pfd[stop_i].revents & POLLNVAL)
			st->stop_fd = -1; /* not an fd: never a stop */
		else
			proc_terminate(st, PROC_STOPPED, proc_mono_ms());
	}
	if (!st->reaped && (pid_i < 0 || pfd[pid_i].revents != 0) &&
	    proc_leader_exited(st))
		proc_leader_done(st);
	return 0;
}

static int
proc_check_cwd(const char *cwd, char **cause)
{
	struct stat sb;

	if (cwd == NULL)
		return 0;
	if (stat(cwd, &sb) == -1)
		goto fail;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		goto fail;
	}
	if (faccessat(AT_FDCWD, cwd, X_OK, AT_EACCESS) == -1)
		goto fail;
	return 0;

fail:
	*cause = xasprintf("cannot use workdir %s: %s", cwd, xstrerror(errno));
	return -1;
}

struct proc_spawn_cache {
	int valid; /* fa holds the actions for the fields below */
	int in_fd, out_fd, err_fd;
	char *cwd;
	posix_spawn_file_actions_t fa;
};

struct proc_spawn_cache *
proc_spawn_cache_new(void)
{
	return xcalloc(1, sizeof(struct proc_spawn_cache));
}

void
proc_spawn_cache_free(struct proc_spawn_cache *c)
{
	if (c == NULL)
		return;
	if (c->valid)
		posix_spawn_file_actions_destroy(&c->fa);
	free(c->cwd);
	free(c);
}

static int
same_cwd(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The file actions of a spawn: the child's stdin, stdout and stderr, and
 * its working directory.  0 or an error number. */
static int
spawn_actions(posix_spawn_file_actions_t *fa, const char *cwd, int in_fd,
	      int out_fd, int err_fd)
{
	int error;

	if (cwd != NULL &&
	    (error = posix_spawn_file_actions_addchdir_np(fa, cwd)) != 0)
		return error;
	if ((error = posix_spawn_file_actions_adddup2(fa, in_fd, 0)) != 0 ||
	    (error = posix_spawn_file_actions_adddup2(fa, out_fd, 1)) != 0 ||
	    (error = posix_spawn_file_actions_adddup2(fa, err_fd, 2)) != 0)
		return error;
	/* Ours are all O_CLOEXEC; this also stops fds baton inherited or
	 * a library opened without it from reaching the agent. */
	return posix_spawn_file_actions_addclosefrom_np(fa, 3);
}

/*
 * The file actions for this spawn: the cache's when it holds the same
 * ones (glibc checks each fd of an action against the descriptor limit,
 * a getrlimit() each: seven system calls a spawn), else new ones, kept
 * in the cache when there is one.  *own: *fa is the caller's to
 * destroy.  0 or an error number.
 */
static int
spawn_actions_get(const struct proc_spec *spec, int in_fd, int out_fd,
		  int err_fd, posix_spawn_file_actions_t *mine,
		  posix_spawn_file_actions_t **fa, int *own)
{
	struct proc_spawn_cache *c = spec->spawn_cache;
	int error;

	*own = 0;
	if (c != NULL && c->valid && c->in_fd == in_fd && c->out_fd == out_fd &&
	    c->err_fd == err_fd && same_cwd(c->cwd, spec->cwd)) {
		*fa = &c->fa;
		return 0;
	}
	if (c != NULL && c->valid) {
		posix_spawn_file_actions_destroy(&c->fa);
		c->valid = 0;
	}
	*fa = c != NULL ? &c->fa : mine;
	if ((error = posix_spawn_file_actions_init(*fa)) != 0)
		return error;
	error = spawn_actions(*fa, spec->cwd, in_fd, out_fd, err_fd);
	if (c == NULL) {
		*own = 1;
		return error;
	}
	if (error != 0) {
		posix_spawn_file_actions_destroy(&c->fa);
		return error;
	}
	c->valid = 1;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->err_fd = err_fd;
	free(c->cwd);
	c->cwd = spec->cwd != NULL ? xstrdup(spec->cwd) : NULL;
	return 0;
}

/*
 * posix_spawnp() into a new process group with an empty signal mask,
 * every signal at its default and only fds 0, 1 and 2 open.  Returns 0
 * with st->pid set, or the error number; -1 (with *cause) if the spawn
 * could not be set up.
 */
static int
proc_spawn(struct proc_state *st, int in_fd, int out_fd, int err_fd,
	   char **cause)
{
	const struct proc_spec *spec = st->spec;
	posix_spawn_file_actions_t mine, *fa = NULL;
	posix_spawnattr_t attr;
	sigset_t mask, dfl;
	char *const *envp = spec->envp != NULL ? spec->envp : environ;
	int error, fa_own = 0, attr_ok = 0, ret = -1;
	short flags;

	if ((error = posix_spawnattr_init(&attr)) != 0)
		goto out;
	attr_ok = 1;

	sigemptyset(&mask);
	/*
	 * Every bit, not sigfillset(): glibc's leaves out its two internal
	 * signals, which posix_spawn() then sets to SIG_IGN in the child,
	 * and an ignored signal stays ignored across exec.
	 */
	memset(&dfl, 0xff, sizeof dfl);
	flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
		POSIX_SPAWN_SETSIGDEF;
	if ((error = posix_spawnattr_setflags(&attr, flags)) != 0 ||
	    (error = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (error = posix_spawnattr_setsigmask(&attr, &mask)) != 0 ||
	    (error = posix_spawnattr_setsigdefault(&attr, &dfl)) != 0)
		goto out;
	if ((error = spawn_actions_get(spec, in_fd, out_fd, err_fd, &mine, &fa,
				       &fa_own)) != 0)
		goto out;

	/* Not -1: an error number, or 0. */
	ret = posix_spawnp(&st->pid, spec->argv[0], fa, &attr, spec->argv,
			   envp);

out:
	if (ret == -1)
		*cause = xasprintf("cannot set up spawning %s: %s",
				   spec->argv[0], xstrerror(error));
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (fa_own)
		posix_spawn_file_actions_destroy(fa);
	return ret;
}

/* *cause as "fmt: strerror(errno)", keeping errno.  Returns -1. */
static int
proc_fail_errno(char **cause, const char *what)
{
	int saved = errno;

	*cause = xasprintf("%s: %s", what, strerror(saved));
	errno = saved;
	return -1;
}

static int
proc_pipe(int fds[2], char **cause)
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		return proc_fail_errno(cause, "cannot create a pipe");
	/* Only our end: the child's stays blocking. */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) == -1 ||
	    proc_above_stdio(&fds[1]) == -1)
		return proc_fail_errno(cause, "cannot set up a pipe");
	return 0;
}

/* proc_run()'s fds until the child has its ends: -1 once closed or
 * handed over. */
struct proc_fds {
	int in;
	int out[2], err[2];
};

static void
proc_state_init(struct proc_state *st, const struct proc_spec *spec,
		struct proc_result *res)
{
	memset(res, 0, sizeof *res);
	memset(st, 0, sizeof *st);
	st->spec = spec;
	st->res = res;
	st->pid = -1;
	st->pidfd = -1;
	st->group_slot = -1;
	st->stop_fd = spec->stop_fd;
	st->reaped = 1; /* nothing to reap until spawned */
	st->timeout_at = st->kill_at = st->next_poll = st->eof_at = -1;
	st->start_at = -1;
	st->out.fd = st->err.fd = -1;
	st->out.log_fd = st->err.log_fd = -1;
	st->out.reserve = st->err.reserve = -1;
	st->out.tee_fd = spec->stdout_tee_fd;
	st->err.tee_fd = spec->stderr_tee_fd;
	st->out.path = spec->stdout_path;
	st->err.path = spec->stderr_path;
	st->out.log_max = st->err.log_max = spec->log_max_bytes;
	st->out.redactor = st->err.redactor = spec->redactor;
	st->out.sink = st->err.sink = spec->on_output;
	st->out.sink_arg = st->err.sink_arg = spec->output_arg;
	st->out.make_dir = st->err.make_dir = spec->make_log_dir;
	st->out.make_dir_arg = st->err.make_dir_arg = spec->log_dir_arg;
	st->err.sink_stream = 1;
	st->out.tee_file = proc_is_file(st->out.tee_fd);
	st->err.tee_file = proc_is_file(st->err.tee_fd);
}

/* Write all of data at offset 0 of fd (the offset the child starts
 * at stays 0).  0, or -1 with errno. */
static int
proc_fill(int fd, const char *data, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, data + done, len - done, (off_t)done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Where memfd_create() is missing or refused (an old kernel, a seccomp
 * filter, a sandbox: ENOSYS, EINVAL, EPERM, EACCES), an unlinked file
 * in $TMPDIR or /tmp: still no name anyone can open, still a regular
 * file, but not sealed.  The fd, or -1 with errno.
 */
static int
proc_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (dir == NULL || *dir != '/')
		dir = "/tmp";
#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
#endif
	path = xasprintf("%s/baton-stdin.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd != -1)
		unlink(path);
	free(path);
	return fd;
}

/*
 * stdin from memory: a memfd holding data, sealed so that the child
 * cannot change it, at offset 0.  It costs no file on disk, and unlike
 * a pipe it never waits for a reader (an agent that does not read its
 * stdin, or reads it after writing much output), and it is a regular
 * file to the child, as a prompt file was.  Without memfds, an unlinked
 * temporary file (proc_tmpfile).  The fd, or -1 with errno.
 */
static int
proc_memfd(const char *data, size_t len)
{
	int fd, saved, sealed = 1;

	fd = memfd_create("baton-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1 && (errno == ENOSYS || errno == EINVAL || errno == EPERM ||
			 errno == EACCES)) {
		fd = proc_tmpfile();
		sealed = 0;
	}
	if (fd == -1)
		return -1;
	if (proc_fill(fd, data, len) != 0)
		goto fail;
	if (sealed && fcntl(fd, F_ADD_SEALS,
			    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
				    F_SEAL_SEAL) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* The child's stdin into *fd: the file stdin_path, stdin_data, or
 * /dev/null.  0, or -1 with *cause and errno. */
static int
proc_open_stdin(const struct proc_spec *spec, int *fd, char **cause)
{
	const char *what = spec->stdin_path;
	int saved;

	if (what == NULL && spec->stdin_data != NULL) {
		what = "a memfd for stdin";
		*fd = proc_memfd(spec->stdin_data, spec->stdin_len);
	} else {
		if (what == NULL)
			what = "/dev/null";
		*fd = open(what, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (*fd != -1 && proc_above_stdio(fd) == 0)
		return 0;
	saved = errno;
	*cause = xasprintf("cannot open %s: %s", what, strerror(saved));
	errno = saved;
	return -1;
}

/*
 * Check what the spawn needs and open its stdin, the log files and the
 * pipes.  Returns 0, or -1 with *cause; fds and st's log fds hold what
 * was opened either way, for proc_run() to close.
 */
static int
proc_open_fds(struct proc_state *st, struct proc_fds *fds, char **cause)
{
	const struct proc_spec *spec = st->spec;

	if (spec->argv == NULL || spec->argv[0] == NULL) {
		*cause = xstrdup("nothing to run: empty argv");
		return -1;
	}
	/* With lazy logs nothing is left on disk by a spawn that fails: a
	 * workdir that is gone is found then (proc_run), saving a stat()
	 * and an access() a spawn. */
	if (!spec->lazy_logs && proc_check_cwd(spec->cwd, cause) != 0)
		return -1;

	if (proc_open_stdin(spec, &fds->in, cause) != 0)
		return -1;
	st->out.lazy = spec->lazy_logs && spec->stdout_path != NULL;
	if (!st->out.lazy &&
	    proc_open_log(spec->stdout_path, &st->out.log_fd, cause) != 0)
		return -1;
	if (proc_pipe(fds->out, cause) != 0)
		return -1;
	/* 2>&1: one pipe keeps the order the child wrote in; stderr_path
	 * and stderr_tee_fd are not used and it all counts as stdout. */
	if (spec->merge_stderr) {
		st->err.tee_fd = -1;
		return 0;
	}
	st->err.lazy = spec->lazy_logs && spec->stderr_path != NULL;
	if (!st->err.lazy &&
	    proc_open_log(spec->stderr_path, &st->err.log_fd, cause) != 0)
		return -1;
	return proc_pipe(fds->err, cause);
}

/*
 * The child has its end of a stream's pipe: close ours, or, for a lazy
 * log, turn its slot into a reserve for creating the log later (a copy
 * of from, in one dup3() that also closes the pipe's end).
 */
static void
proc_reserve(struct proc_stream *s, int *child_end, int from)
{
	if (s->lazy && *child_end >= 0 && from >= 0 &&
	    dup3(from, *child_end, O_CLOEXEC) != -1) {
		s->reserve = *child_end;
		*child_end = -1;
		return;
	}
	proc_close(child_end);
}

/*
 * The child is running: close its ends of the pipes and stdin here,
 * take our ends into st, and set up the pidfd, on_start and the
 * deadlines.
 */
static void
proc_started(struct proc_state *st, struct proc_fds *fds)
{
	const struct proc_spec *spec = st->spec;
	uint64_t start_time;

	st->reaped = 0;
	st->res->pid = st->pid;
	/* The child made its group (setpgid in posix_spawn) before exec. */
	st->group_slot = proc_group_add(st->pid);
	proc_reserve(&st->out, &fds->out[1], fds->in);
	proc_reserve(&st->err, &fds->err[1], fds->in);
	proc_close(&fds->in);
	st->out.fd = fds->out[0];
	st->err.fd = fds->err[0];
	fds->out[0] = fds->err[0] = -1;

	/* The pid cannot be reused before we reap it, so this is ours. */
	st->pidfd = pidfd_open(st->pid, 0);
	if (spec->on_start != NULL) {
		if (proc_start_time(st->pid, &start_time) != 0)
			start_time = 0;
		st->res->start_time = start_time;
		if (spec->start_after_ms > 0)
			st->start_at = st->start + spec->start_after_ms;
		else if (spec->on_start(spec->start_arg, st->pid, start_time) !=
			 0)
			proc_terminate(st, PROC_STOPPED, proc_mono_ms());
	}
	if (spec->timeout_ms > 0)
		st->timeout_at = st->start + spec->timeout_ms;
	if (spec->poll_stop != NULL)
		st->next_poll = st->start + (spec->poll_ms > 0 ? spec->poll_ms
							       : PROC_POLL_MS);
}

/*
 * Pump the child's output until it is reaped and its pipes are done,
 * then fill in the byte counts.  Returns 0, or -1 with *cause (an error
 * of proc_step(), or a log file that could not be written).
 */
static int
proc_wait(struct proc_state *st, char **cause)
{
	struct proc_stream *s;

	st->buf = xmalloc(PROC_BUF_SIZE);
	while (!st->reaped || (st->out.fd >= 0 || st->err.fd >= 0)) {
		if (st->reaped && proc_mono_ms() >= st->eof_at)
			break;
		if (proc_step(st, cause) != 0)
			return -1;
	}
	/* An escaped process may hold a pipe open: what is held goes out
	 * now. */
	proc_stream_end(&st->out);
	proc_stream_end(&st->err);
	st->res->out_bytes = st->out.bytes;
	st->res->err_bytes = st->err.bytes;
	st->res->out_truncated = st->out.truncated;
	st->res->err_truncated = st->err.truncated;

	s = st->out.log_errno != 0 ? &st->out : &st->err;
	if (s->create_cause != NULL) {
		*cause = s->create_cause;
		s->create_cause = NULL;
		return -1;
	}
	if (s->log_errno != 0) {
		*cause = xasprintf("cannot %s %s: %s",
				   s->create_failed ? "create" : "write",
				   s->path, file_strerror(s->log_errno));
		return -1;
	}
	return 0;
}

/*
 * Run spec to the end (see proc.h).  If a log file cannot be written
 * once the child is running, the child is still run to the end, *res is
 * filled in and -1 is returned with *cause.
 */
int
proc_run(const struct proc_spec *spec, struct proc_result *res, char **cause)
{
	struct proc_state st;
	struct proc_fds fds = {.in = -1, .out = {-1, -1}, .err = {-1, -1}};
	int error, ret = -1;

	proc_state_init(&st, spec, res);
	if (proc_open_fds(&st, &fds, cause) != 0) {
		if (sys_resource_errno(errno))
			res->resource_errno = errno;
		goto out;
	}

	st.start = proc_mono_ms();
	error = proc_spawn(&st, fds.in, fds.out[1],
			   spec->merge_stderr ? fds.out[1] : fds.err[1], cause);
	if (error == -1)
		goto out;
	if (error == EAGAIN || error == ENOMEM) {
		/* No process (or memory) for it now: ours, not the agent's. */
		res->resource_errno = error;
		*cause = xasprintf("cannot start '%s': %s", spec->argv[0],
				   strerror(error));
		goto out;
	}
	if (error != 0) {
		/* The workdir may have gone since it was checked. */
		if (proc_check_cwd(spec->cwd, cause) != 0)
			goto out;
		res->spawn_errno = error;
		*cause = xasprintf("cannot run '%s': %s", spec->argv[0],
				   strerror(error));
		ret = 0;
		goto out;
	}
	proc_started(&st, &fds);
	ret = proc_wait(&st, cause);

out:
	if (!st.reaped) {
		/* Only after an error of ours: never leave the child behind. */
		proc_signal(&st, SIGKILL);
		proc_reap(&st);
	}
	free(st.out.held);
	free(st.err.held);
	free(st.out.create_cause);
	free(st.err.create_cause);
	res->tee_dropped = proc_tee_finish(&st.out, st.stop_fd, !st.term_sent);
	res->tee_dropped += proc_tee_finish(&st.err, st.stop_fd, !st.term_sent);
	free(st.buf);
	proc_close(&st.pidfd);
	proc_close(&st.out.fd);
	proc_close(&st.err.fd);
	proc_close(&st.out.log_fd);
	proc_close(&st.err.log_fd);
	proc_close(&st.out.reserve);
	proc_close(&st.err.reserve);
	proc_close(&fds.in);
	proc_close(&fds.out[0]);
	proc_close(&fds.out[1]);
	proc_close(&fds.err[0]);
	proc_close(&fds.err[1]);
	return ret;
}

/* Write all of buf[0..len) to fd, in PIPE_BUF chunks once poll() says
 * there is room, until stop_fd is readable.  0 or -1 with errno. */
static int
show_write(int fd, const char *buf, size_t len, int stop_fd)
{
	struct pollfd pfd[2];
	size_t chunk;
	ssize_t n;

	while (len > 0) {
		pfd[0].fd = fd;
		pfd[0].events = POLLOUT;
		pfd[1].fd = stop_fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		n = poll(pfd, stop_fd >= 0 ? 2 : 1, -1);
		if (n == -1 && errno == EINTR)
			continue; /* a signal also makes stop_fd readable */
		if (n == -1)
			return -1;
		if (stop_fd >= 0 && pfd[1].revents != 0) {
			errno = EINTR;
			return -1;
		}
		chunk = len < PIPE_BUF ? len : PIPE_BUF;
		if ((n = write(fd, buf, chunk)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
proc_show_file(const char *path, int fd, int stop_fd)
{
	char buf[PROC_BUF_SIZE];
	ssize_t n;
	int in, ret = 0, saved;

	if ((in = file_open_read(path)) == -1)
		return -1;
	while (ret == 0 && (n = read(in, buf, sizeof buf)) != 0) {
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			ret = -1;
		else if (n > 0)
			ret = show_write(fd, buf, (size_t)n, stop_fd);
	}
	saved = errno;
	close(in);
	errno = saved;
	return ret;
}

/*
 * Start time of pid from /proc/PID/stat (see proc.h).  The second field
 * is the command name in parentheses and may itself contain spaces and
 * ')', so fields are counted from the last ')'.
 */
int
proc_start_time(pid_t pid, uint64_t *start)
{
	char path[64], buf[4096], *p, *end;
	ssize_t n;
	size_t len = 0;
	unsigned long long v;
	int fd, field, ret = -1;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	while (len < sizeof buf - 1) {
		n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
		/* one line: whole once it ends (no read() to see EOF) */
		if (buf[len - 1] == '\n')
			break;
	}
	buf[len] = '\0';

	p = NULL;
	for (end = buf; end < buf + len; end++) {
		if (*end == ')')
			p = end;
	}
	if (p == NULL)
		goto out;
	p++;
	/* p is before field 3; starttime is field 22. */
	for (field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == '\0')
			goto out;
	}
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		goto out;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
		goto out;
	*start = (uint64_t)v;
	ret = 0;

out:
	close(fd);
	return ret;
}

/* Non-zero if pid is alive and started at start (see proc.h). */
int
proc_same(pid_t pid, uint64_t start)
{
	uint64_t now;

	return proc_start_time(pid, &now) == 0 && now == start;
}

/*
 * Signal the group led by pid if pid is still the process that started
 * at start_time; falls back to pid alone if it left its group.  Returns
 * 1 if a signal was sent, else 0.
 */
int
proc_kill_group_checked(pid_t pid, uint64_t start_time, int sig)
{
	if (!proc_same(pid, start_time))
		return 0;
	if (kill(-pid, sig) == 0)
		return 1;
	return kill(pid, sig) == 0;
}

/* The NUL-separated environment of pid, up to 1 MiB; NULL if unreadable. */
static char *
proc_read_environ(pid_t pid, size_t *len)
{
	char path[64], *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (n == cap) {
			if (cap >= 1024 * 1024)
				break;
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap + 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/* Non-zero if the environment block env has NAME=one of values. */
static int
proc_env_matches(const char *env, size_t len, const char *name,
		 char *const *values, size_t n)
{
	size_t nlen = strlen(name), i;
	const char *p = env, *end = env + len;

	while (p < end) {
		const char *e = memchr(p, '\0', (size_t)(end - p));
		size_t l = e != NULL ? (size_t)(e - p) : (size_t)(end - p);

		if (l > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
			for (i = 0; i < n; i++) {
				if (strlen(values[i]) == l - nlen - 1 &&
				    memcmp(p + nlen + 1, values[i],
					   l - nlen - 1) == 0)
					return 1;
			}
		}
		p += l + 1;
	}
	return 0;
}

int
proc_kill_env(const char *name, char *const *values, size_t n, int sig)
{
	struct dirent *de;
	DIR *dir;
	pid_t pid, self = getpid();
	size_t len;
	char *env;
	int pidfd, count = 0;

	if (n == 0 || (dir = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (pid <= 1 || pid == self)
			continue;
		/* Held first: the environment read next is this process's,
		 * or the signal below fails. */
		if ((pidfd = pidfd_open(pid, 0)) == -1)
			continue;
		env = proc_read_environ(pid, &len);
		if (env != NULL &&
		    proc_env_matches(env, len, name, values, n) &&
		    pidfd_send_signal(pidfd, sig, NULL, 0) == 0)
			count++;
		free(env);
		close(pidfd);
	}
	closedir(dir);
	return count;
}
