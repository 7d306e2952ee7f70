#ifndef BATON_PROC_H
#define BATON_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct redactor;

/*
 * Running one subprocess (an agent or a check) the way SPEC §3 says:
 * from an argv vector, in its own process group, stdin from a file or
 * from memory,
 * stdout and stderr streamed to files as they are produced, with a
 * timeout (TERM to the group, KILL after the grace) and a way to stop it
 * from outside (cancel, a signal to baton).
 *
 * Who closes what: proc_run() opens and closes every fd it creates (the
 * log files, pipes, a pidfd), all O_CLOEXEC.  The caller's fds named in
 * the spec (stop_fd, tee fds) are only read or written, never closed.
 */

struct proc_spec {
	char *const *argv; /* argv[0] is searched in PATH if it has no '/' */
	char *const *envp; /* the child's whole environment */
	/* must exist; checked before spawning (with lazy_logs: when the
	 * spawn fails, to say why) */
	const char *cwd;
	const char *stdin_path; /* opened read-only as stdin; NULL: below */
	/* With no stdin_path: stdin holds these bytes (a sealed memfd: no
	 * file on disk, never a pipe to wait on); NULL: /dev/null. */
	const char *stdin_data;
	size_t stdin_len;
	const char *stdout_path; /* created 0600, O_EXCL: NULL: discard */
	const char *stderr_path; /* created 0600, O_EXCL; NULL: discard */
	/* The log files are created when their stream's first byte is
	 * logged, not before the spawn: a stream that stays empty leaves
	 * no file (and a file in the way fails the run only then). */
	int lazy_logs;
	/* Optional, with lazy_logs: called before a log file is created,
	 * to make the directory it goes in (made with the first byte too).
	 * Non-zero with *cause: that stream's log is not made, and the run
	 * ends in that error as a log that cannot be created does. */
	int (*make_log_dir)(void *arg, char **cause);
	void *log_dir_arg;
	int merge_stderr;  /* stderr goes where stdout goes (2>&1) */
	int stdout_tee_fd; /* -1, or also copy stdout here (baton run) */
	int stderr_tee_fd; /* -1, or also copy stderr here */
	/* Each log file keeps at most this many bytes of its stream, then
	 * a marker line; the rest is read and dropped (0: no cap). */
	uint64_t log_max_bytes;
	/* NULL, or secrets out of the logs and the tees, a line at a time
	 * (output is held until its line ends: see proc_emit in proc.c) */
	const struct redactor *redactor;
	int64_t timeout_ms;    /* 0: no timeout */
	int64_t kill_grace_ms; /* TERM → KILL delay; 0 means 5000 */
	/* -1, or an fd that becomes readable when every run must stop
	 * (baton received a signal).  Never read: it stays readable. */
	int stop_fd;
	/* Optional; called about every poll_ms while the child runs.
	 * Non-zero: stop it (e.g. `baton cancel` marked the task). */
	int (*poll_stop)(void *arg);
	void *poll_arg;
	int64_t poll_ms; /* 0 means 500 */
	/* Optional; called with what goes to each log file as it goes
	 * (the same bytes: redacted, capped, the truncation marker), also
	 * when the stream has no file: stream 0 stdout (2>&1: both), 1
	 * stderr.  From proc_run()'s thread, as poll_stop is. */
	void (*on_output)(void *arg, int stream, const char *buf, size_t len);
	void *output_arg;
	/* Optional; called once after a successful spawn: right after it,
	 * or with start_after_ms > 0 once the child has run that long — a
	 * child reaped sooner never gets the call (its pid and start time
	 * are in the result).  From proc_run()'s thread.  Non-zero: stop
	 * the child, as poll_stop does (e.g. the pid's write found the
	 * task's lease lost). */
	int (*on_start)(void *arg, pid_t pid, uint64_t start_time);
	void *start_arg;
	int64_t start_after_ms;
	/* NULL, or the caller's (proc_spawn_cache_new): the spawn's file
	 * actions kept for the next spawn with the same fds and cwd.  One
	 * thread at a time. */
	struct proc_spawn_cache *spawn_cache;
};

struct proc_spawn_cache;
struct proc_spawn_cache *proc_spawn_cache_new(void);
void proc_spawn_cache_free(struct proc_spawn_cache *); /* NULL-safe */

enum proc_stop_reason {
	PROC_RAN = 0,	/* ran until it exited by itself */
	PROC_TIMED_OUT, /* timeout_ms passed */
	PROC_STOPPED,	/* stop_fd or poll_stop asked */
};

struct proc_result {
	pid_t pid;
	/* its start time (proc_start_time()) when spec->on_start is set,
	 * else 0 */
	uint64_t start_time;
	int spawn_errno; /* non-zero: it never ran (ENOENT, EACCES, ...) */
	/* non-zero (with -1 from proc_run): it never ran because baton ran
	 * out of something (EMFILE, ENFILE, EAGAIN, ENOMEM: a pipe, a log
	 * file, the fork); worth retrying once some is free */
	int resource_errno;
	int exited; /* exited by itself: exit_code is valid */
	int exit_code;
	int signal; /* killed by this signal, else 0 */
	enum proc_stop_reason reason;
	int64_t duration_ms;
	uint64_t out_bytes, err_bytes;	  /* read from the child */
	int out_truncated, err_truncated; /* log_max_bytes was reached */
	/* bytes the tee fds never got: baton stopped the child while the
	 * reader was behind (they are all in the logs) */
	uint64_t tee_dropped;
};

/*
 * Run spec to the end.  Returns 0 when the child ran (whatever its exit
 * status) or could not be spawned (spawn_errno set, *cause says why);
 * -1 with *cause on an error of baton's own (cannot create a log file,
 * pipe, ...; resource_errno set when it was a limit of baton's process
 * or of the system, and nothing was started).  The child's leftover processes in its group are killed
 * when the leader exits.  Also used for `--check` commands.
 * If writing a log file fails while the child runs (disk full), the
 * child still runs to the end and *res is filled in, but -1 is returned.
 * A tee fd that fails (EPIPE: a closed terminal) is dropped, never fatal;
 * the SIGPIPE is kept from baton even if it does not ignore SIGPIPE.  A
 * tee that does not keep up holds the child back (timers still run);
 * see proc_tee_finish() in proc.c for the end of the run and
 * res->tee_dropped.
 */
int proc_run(const struct proc_spec *spec, struct proc_result *res,
	     char **cause);

/*
 * Copy the file at path to fd as a tee would (`baton run` shows a
 * command agent's stdout, held back while it ran, after the run): it
 * waits for a slow reader, but not once stop_fd (-1 for none) becomes
 * readable, a signal to baton.  EPIPE or any other error ends it.
 * Returns 0, or -1 with errno (EINTR when stopped).
 */
int proc_show_file(const char *path, int fd, int stop_fd);

/*
 * Start time of a process (field 22 of /proc/PID/stat, clock ticks since
 * boot).  Returns 0, or -1 if there is no such process.
 */
int proc_start_time(pid_t pid, uint64_t *start);

/*
 * Non-zero if pid is alive and its start time equals start (so that a
 * reused pid is never mistaken for ours).
 */
int proc_same(pid_t pid, uint64_t start);

/*
 * Send sig to process group pgid, but only if its leader pid is still
 * the process that started at start_time.  Returns 1 if signalled, 0 if
 * the process is gone or is someone else.
 */
int proc_kill_group_checked(pid_t pid, uint64_t start_time, int sig);

/*
 * Send sig to every process of ours whose environment has NAME=VALUE
 * for one of the n values.  Finds what no pid in the database names: an
 * agent spawned by a runner killed before it recorded the pid, and
 * descendants that left the agent's process group.  Each process is
 * held by a pidfd while its environment is read, so a reused pid is
 * never signalled.  Returns how many were signalled.
 */
int proc_kill_env(const char *name, char *const *values, size_t n, int sig);

/*
 * Send sig to the process group of every child proc_run() is running
 * now, in any thread: job control (SIGSTOP, SIGCONT) must reach the
 * agents, which have groups of their own.  Async-signal-safe: for
 * signal handlers.
 */
void proc_groups_signal(int sig);

/*
 * A second Ctrl-C: SIGKILL to every running child's group now, and from
 * now on terminations skip their grace (TERM then KILL at once).
 * Async-signal-safe.
 */
void proc_groups_kill_now(void);

#endif
