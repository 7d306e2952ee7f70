#ifndef BATON_BATON_H
#define BATON_BATON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lib/err.h"

struct config;
struct store;

/*
 * The context passed down from cmd/: no global mutable state.
 */
struct baton {
	struct config *cfg;
	struct store *db;
	char *db_path;	 /* resolved database path */
	char *state_dir; /* directory holding the database */
	/* the database's own directory below it, logs/ and sessions/ in
	 * it (core/files.h); NULL until the database is open */
	char *files_dir;
	int verbosity;	   /* -1 quiet, 0 normal, 1 verbose */
	int json;	   /* --json given */
	int color;	   /* colour on stdout */
	int64_t runner_id; /* this process's runner row, 0 if none */
	/* its batch id (a UUIDv7, recorded on the runner and its runs),
	 * "" if none */
	char batch_id[37];
	/* "PID.START" of this runner; with a run id it makes the
	 * BATON_RUN_TOKEN a reaper finds its agents by (runner.c) */
	char runner_key[48];
	/* fd that becomes readable when baton got SIGINT/SIGTERM/SIGHUP */
	int stop_fd;
	/* Its write end (-1 if none): `work --halt now` stops the agents
	 * the same way, after setting stop_why, the error text the tasks
	 * then end cancelled with (NULL: a signal). */
	int stop_wfd;
	const char *stop_why;
	const char *config_path; /* --config, or NULL */
	/* Held from BEGIN IMMEDIATE to COMMIT/ROLLBACK by every connection
	 * this process opens, so that its threads queue for the database's
	 * write lock here (woken at once) rather than in SQLite's busy
	 * handler, which polls with sleeps of 1, 2, 5, 10 ... ms. */
	pthread_mutex_t write_lock;
	/* Set (never cleared) by the runner's heartbeat when it can no
	 * longer prove it holds its leases (SPEC §5): reaped, no renewal
	 * for stale_after less a beat, or frozen that long.  Its workers
	 * then stop their agents, write nothing more for their tasks and
	 * claim no more.  fence_why says why (a string literal). */
	atomic_int fenced;
	const char *_Atomic fence_why;
	/* clock_boot_ms() when the last heartbeat renewal that succeeded
	 * began (or the runner registered); 0 without a runner.  Before an
	 * agent starts, a worker waits for a renewal newer than stale_after
	 * less a beat (orchestrator.c lease_fresh). */
	_Atomic int64_t beat_ok_ms;
	/* Empty temp-session directories kept for reuse, by name in
	 * <files_dir>/sessions (core/files.c: files_session_dir()). */
	char **free_dirs;
	size_t nfree_dirs;
	unsigned free_seq;
};

#endif
