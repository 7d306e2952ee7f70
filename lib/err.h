#ifndef BATON_LIB_ERR_H
#define BATON_LIB_ERR_H

/*
 * Error classes.  Functions that can fail for more than one kind of
 * reason return 0 on success and the negated class on failure (so -1 is
 * a plain failure), with a message in *cause.  cmd/ maps them to the
 * exit codes of SPEC §7; nothing below cmd/ picks an exit code.
 */
enum berr {
	BERR_FAIL = 1,	 /* the task or an operation failed */
	BERR_USAGE = 2,	 /* bad option, bad value, unknown task */
	BERR_CONFIG = 3, /* configuration error */
	BERR_DB = 4,	 /* cannot open, locked, corrupt, disk full */
	/* a fenced write changed nothing: the lease it named was lost
	 * (db/store.h); the runner stops that task's agent */
	BERR_LEASE = 5,
	BERR_NOEXEC = 126, /* agent binary not executable */
	BERR_NOBIN = 127,  /* agent binary not found */
};

#endif
