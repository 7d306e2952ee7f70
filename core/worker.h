#ifndef BATON_WORKER_H
#define BATON_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "core/baton.h"
#include "core/orchestrator.h"

struct db_task;
struct db_run;

/*
 * The worker pool of `work` (SPEC §5): N threads, each with its own
 * database connection and orchestrator, claiming and running pending
 * tasks until told to stop, until none is left (until_empty) or until
 * max_tasks were started.  And the run-now wait of `run` (S6).
 */

/* How the pool tells its caller what happens; every hook may be NULL.
 * Hooks are called from the workers' threads, one at a time (the pool
 * holds its lock), so they may print without interleaving. */
struct pool_hooks {
	void *arg;
	/* a task ran to its end */
	void (*ended)(void *arg, int64_t id, const struct orch_result *);
	/* the same, with the task as stored then and its runs (read only
	 * when this hook is set; a failure to read is a note instead) */
	void (*finished)(void *arg, const struct db_task *,
			 const struct db_run *runs, size_t nruns,
			 const struct orch_result *);
	/* a task failed at its claim: it may not run (S11, S12) */
	void (*refused)(void *arg, const struct db_task *t, const char *why);
	/* a warning or note about a task */
	void (*note)(void *arg, int64_t id, const char *msg);
	/* a worker stopped on an error of baton's own */
	void (*error)(void *arg, const char *msg);
};

/*
 * work --halt (GNU parallel's): when enough of the tasks this pool ran
 * failed (failed, timed_out, or failed at the claim), stop claiming
 * (soon), or also stop the running agents: their tasks end cancelled
 * (now).  A percentage counts once at least HALT_PCT_MIN tasks ended.
 */
enum halt_when { HALT_NEVER, HALT_SOON, HALT_NOW };
#define HALT_PCT_MIN 3
struct pool_halt {
	enum halt_when when;
	long long fail_n; /* halt at this many failures, or */
	double fail_pct;  /* at this percentage of the tasks ended (> 0) */
	char spec[64];	  /* as given, normalised: "now,fail=3" */
};

/*
 * Parse a --halt spec ("never", "now,fail=N", "soon,fail=N",
 * "now,fail=P%", "soon,fail=P%") into *h.  Returns 0, or -1 with
 * *cause (what is wrong with it).
 */
int pool_halt_parse(const char *spec, struct pool_halt *h, char **cause);

struct pool_options {
	int jobs;	       /* workers, >= 1 */
	int64_t milestone_id;  /* only this milestone's tasks; 0: any */
	const char *scope;     /* its session: each worker's prior (S3) */
	long long max_tasks;   /* start at most this many; 0: no limit */
	int until_empty;       /* stop when nothing is pending or running */
	struct pool_halt halt; /* work --halt; zeroed: never */
	double max_cost;       /* stop claiming once the ended tasks cost this
			    much (USD); 0: no limit */
	/* work --retries: for tasks that set none (else defaults.retries) */
	int has_retries, retries;
	const char *fail_at; /* test hook, see struct orch */
	/* Finds adapters (tests fake one); NULL: agent_impl_find. */
	const struct agent_impl *(*impl_find)(enum agent_kind);
};

/* A snapshot of the pool's counts. */
struct pool_counts {
	long long completed, failed, other; /* tasks that ended */
	int running;
	int workers;	 /* still working */
	double cost_usd; /* of the tasks that ended (with max_cost) */
	/* why it stopped claiming early: 0 not, 1 --halt, 2 --max-cost */
	int halted;
};

struct pool;

/*
 * Start the pool's workers.  Returns 0, or a negated berr with *cause
 * when not even one worker could start (fewer than asked is not an
 * error: the pool runs with what it has and a note says so).
 */
int pool_start(struct pool **, struct baton *b, const struct pool_options *,
	       const struct pool_hooks *, char **cause);
/* Stop claiming; running tasks run to their end.  Any thread. */
void pool_stop(struct pool *);
void pool_get_counts(struct pool *, struct pool_counts *);
/*
 * Wait for every worker to end and free the pool; *final (if not NULL)
 * gets the last counts.  Returns 0, or the worst negated berr of a
 * worker's own (a database error), which the error hook reported.
 */
int pool_join(struct pool *, struct pool_counts *final);

/* How `run`'s wait for its task ended. */
enum run_wait {
	RUN_WAIT_STARTED,   /* claimed here: orch_execute() it */
	RUN_WAIT_REFUSED,   /* failed at its claim (S11, S12) */
	RUN_WAIT_ENDED,	    /* another runner ran it, or it was cancelled */
	RUN_WAIT_SIGNALLED, /* baton was signalled while it waited */
};

/*
 * S6 for `run`: claim pending task id as soon as its session is free.
 * While it waits the task is pending, so `baton cancel` may drop it or
 * a `work` may take it: then it follows the task to its end and *final
 * is how it ended.  waiting(arg, id, elsewhere) is called once when it
 * starts waiting for the session (elsewhere 0) and once when another
 * runner started the task (elsewhere 1).  Returns 0 with *how, or a
 * negated berr with *cause.  A wait that ends without starting the task
 * here (signalled, or an error) leaves no pending task behind: it is
 * cancelled, and a runner that took it meanwhile is asked to stop it.
 */
int worker_run_now(struct orch *, int64_t id,
		   void (*waiting)(void *arg, int64_t id, int elsewhere),
		   void *arg, enum run_wait *how, enum task_status *final,
		   char **cause);

#endif
