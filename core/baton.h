#ifndef BATON_BATON_H
#define BATON_BATON_H

#include <pthread.h>
#include <stdint.h>

struct config;
struct db;

/*
 * Error classes.  Functions that can fail for more than one kind of
 * reason return 0 on success and the negated class on failure (so -1 is
 * a plain failure), with a message in *cause.  cmd/ maps them to the
 * exit codes of SPEC §7; nothing below cmd/ picks an exit code.
 */
enum berr {
	BERR_FAIL = 1,	   /* the task or an operation failed */
	BERR_USAGE = 2,	   /* bad option, bad value, unknown task */
	BERR_CONFIG = 3,   /* configuration error */
	BERR_DB = 4,	   /* cannot open, locked, corrupt, disk full */
	BERR_NOEXEC = 126, /* agent binary not executable */
	BERR_NOBIN = 127,  /* agent binary not found */
};

/*
 * The context passed down from cmd/: no global mutable state.
 */
struct baton {
	struct config *cfg;
	struct db *db;
	char *db_path;	   /* resolved database path */
	char *state_dir;   /* directory holding the database; logs/ below it */
	int verbosity;	   /* -1 quiet, 0 normal, 1 verbose */
	int json;	   /* --json given */
	int color;	   /* colour on stdout */
	int64_t runner_id; /* this process's runner row, 0 if none */
	/* "PID.START" of this runner; with a run id it makes the
	 * BATON_RUN_TOKEN a reaper finds its agents by (runner.c) */
	char runner_key[48];
	/* fd that becomes readable when baton got SIGINT/SIGTERM/SIGHUP */
	int stop_fd;
	const char *config_path; /* --config, or NULL */
	/* Held from BEGIN IMMEDIATE to COMMIT/ROLLBACK by every connection
	 * this process opens, so that its threads queue for the database's
	 * write lock here (woken at once) rather than in SQLite's busy
	 * handler, which polls with sleeps of 1, 2, 5, 10 ... ms. */
	pthread_mutex_t write_lock;
};

#endif
