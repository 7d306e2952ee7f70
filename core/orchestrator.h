#ifndef BATON_ORCHESTRATOR_H
#define BATON_ORCHESTRATOR_H

#include <stdint.h>

#include "db/store-names.h"

#include "agents/agent.h"
#include "core/baton.h"

struct store;
struct db_task;
struct job;
struct orch_result;
struct redactor;
struct proc_spawn_cache;

/*
 * One worker's view of the orchestrator: its own database connection,
 * its agents (one per profile, each holding the session id currently
 * assigned to it, S3), and how to tell the user things.  A `work -j N`
 * has N of these, one per thread; `run` has one.
 */
struct orch {
	struct baton *b;  /* shared and read-only here: cfg, paths, stop_fd */
	struct store *db; /* this worker's own connection */
	int tee;	  /* copy agent output to our stdout/stderr */
	/* With tee: stdout as the agent printed it, also for an agent with
	 * an answer (run --raw); without, such stdout is held back (see
	 * docs/design.md, "The answer"). */
	int raw;
	/* Finds an adapter by kind; agent_impl_find unless a test fakes. */
	const struct agent_impl *(*impl_find)(enum agent_kind kind);
	/* Warnings and notes for the user (may be NULL). */
	void (*notify)(void *arg, int64_t task_id, const char *msg);
	void *notify_arg;
	struct orch_agent {
		char *profile;
		struct agent agent;
		/* The profile's secrets (SPEC §3), made at its first task
		 * and kept: neither the config nor baton's environment
		 * changes within a run.  NULL: not made yet. */
		struct redactor *redactor;
	} * agents;
	size_t nagents;
	/* The session this worker holds as its scope (a milestone's, S3
	 * nesting), assigned to every agent between tasks; NULL for none. */
	char *scope;
	/* The milestone whose session is the scope (work --milestone M), 0
	 * for none: the scope follows that milestone's current session. */
	int64_t scope_milestone;
	/* A task failed at its claim because it may not run (S11, S12):
	 * t as it is now (failed, its error why, no run); NULL: reported
	 * through notify. */
	void (*refused)(void *arg, const struct db_task *t, const char *why);
	/* A task's claim found the S11 limit reached (active sessions in
	 * use; closing temp sessions of tasks running anywhere, any
	 * runner's): non-zero to leave it pending for a later claim rather
	 * than fail it.  NULL: fail it (`run`). */
	int (*full)(void *arg, int64_t task_id, int64_t active,
		    int64_t closing);
	/*
	 * The agent of task_id could not be started: baton ran out of file
	 * descriptors or processes (err: EMFILE, ENFILE, EAGAIN, ENOMEM;
	 * limit: what ran out, for a message).  Non-zero to give the task
	 * back (pending again, untouched: orch_result.requeued) so that
	 * this worker can stop; 0 to wait and try again.  NULL (`run`):
	 * wait and try again, said once through notify.
	 */
	int (*resource)(void *arg, int64_t task_id, int err, const char *limit);
	unsigned resource_said; /* for notify: one bit per errno class */
	/* Task retries for tasks that set none (work --retries); -1:
	 * defaults.retries.  Recorded on the task at its claim. */
	int retries;
	/* Test hook: fail at a named step ("after-claim", "before-spawn",
	 * "after-run") to prove cleanup runs on every error path. */
	const char *fail_at;
	/* How long an agent runs before its pid is written in a
	 * transaction of its own; one that ends sooner has it written with
	 * its run's end.  0: 50 ms (orchestrator.c); negative: right after
	 * the spawn (tests). */
	int64_t pid_after_ms;
	/* The leases of the task this worker claimed last (SPEC §5): the
	 * task's epoch and its session's, which every later write names. */
	int64_t epoch, session_epoch;
	/*
	 * Group commit (docs/performance.md): the task this worker claimed
	 * last, made ready to run inside its claim's transaction, its first
	 * run row written with the claim; orch_execute() of that task takes
	 * it.  NULL when the claim could not get so far (orch_execute()
	 * then does it).  Execute a claimed task before claiming another.
	 */
	struct job *ready;
	/* <files_dir>/logs, <files_dir>/sessions and <files_dir>/results
	 * were made or checked (files_mkdir) */
	int logs_made, sessions_made, results_made;
	/* the agents' spawns' file actions, kept (proc_spec) */
	struct proc_spawn_cache *spawn;
	/*
	 * Group commit (`work`): asked before the end of a task is written,
	 * with how it ended (status, cost_usd); non-zero to claim the next
	 * task (of milestone next_milestone, 0 for any) in the same
	 * transaction as that end (see orch_result's next).  NULL: never
	 * (`run`): the end commits alone.
	 */
	int (*claim_next)(void *arg, const struct orch_result *ended);
	/* Before a task retry (SPEC §3): cost_usd is what the task's runs
	 * cost so far; NULL or non-NULL *why to stop retrying (the task
	 * ends as its attempt did, *why said as a note; `work --max-cost`
	 * spent).  NULL hook: retry. */
	char *(*retry_stop)(void *arg, double cost_usd);
	int64_t next_milestone;
};

/* How a task ended, for the command to report and pick an exit code. */
struct orch_result {
	enum task_status status; /* how the task ended */
	int err;      /* negated berr for baton's own errors, else 0 */
	int nobin;    /* 127: agent binary missing; 126: not executable */
	int signal;   /* baton got this signal while running */
	char *error;  /* the task's error text, or NULL */
	char *answer; /* the last run's answer (as stored), or NULL */
	/* The task's lease was lost (SPEC §5): its agent was stopped and
	 * nothing more of this attempt was recorded (also when it was its
	 * end's write that found it lost); status is interrupted as
	 * far as this runner knows, and the store has another's. */
	int lost;
	/* given back (see struct orch's resource): pending again, status
	 * TASK_PENDING, nothing recorded */
	int requeued;
	double cost_usd; /* what the task's runs cost in all */
	/*
	 * Group commit, when struct orch's claim_next said yes:
	 * ORCH_NEXT_CLAIMED, the task's end committed with a claim: next_id
	 * is the task it claimed (running, to orch_execute() next; 0 when
	 * none could start), or the claim failed (next_err, *next_cause,
	 * the caller's to free) and the end was committed all the same;
	 * ORCH_NEXT_NOT_RUN, the end was not committed (a lost lease, an
	 * error), so no claim ran.  ORCH_NEXT_NONE: not asked, or no.
	 */
	enum { ORCH_NEXT_NONE, ORCH_NEXT_CLAIMED, ORCH_NEXT_NOT_RUN } next;
	int64_t next_id;
	int next_err;
	char *next_cause;
	/* claim_next was told of this end (announced: status and cost as
	 * told), whatever it answered */
	int announced;
	struct orch_result_end {
		enum task_status status;
		double cost_usd;
	} told;
};
void orch_result_release(struct orch_result *);

void orch_init(struct orch *, struct baton *b, struct store *db);
void orch_release(struct orch *);

/*
 * Claim the next runnable task (SPEC §5: one BEGIN IMMEDIATE transaction
 * that picks it, selects or creates its session (S1, S2) and takes the
 * session's lease (S6)).  milestone_id 0 for any.  *task_id is 0 when
 * nothing can start now.  Tasks that may not run at all (S11 limit, S12
 * foreign session) are failed on the way, with a note.
 */
int orch_claim(struct orch *, int64_t milestone_id, int64_t *task_id,
	       char **cause);

/*
 * Claim one given pending task (for `run`).  *started is 0 when its
 * session is in use by another task (S6): call again later.  A task that
 * may not run is failed here and *started is -1.
 */
int orch_claim_task(struct orch *, int64_t task_id, int *started, char **cause);

/*
 * Execute a claimed task to its end: the session protocol of SPEC §2
 * (S3–S5, S13), retries, iterations and the check, and the cleanup that
 * always runs (restore the prior session id, close a temp session,
 * release the lease, record the end).  Returns 0 when the task ran to
 * an end of its own (see res->status), or a negated berr when baton
 * itself failed (the task is still ended and cleaned up if at all
 * possible).
 */
int orch_execute(struct orch *, int64_t task_id, struct orch_result *res,
		 char **cause);

/*
 * The agent of this worker for profile name (created on first use), or
 * NULL if the kind has no adapter.
 */
struct agent *orch_agent(struct orch *, const struct agent_profile *);

/*
 * The redactor of profile's tasks (its env: values and baton's own
 * secret-named variables), made once per worker and profile; NULL when
 * logs.redact is off.
 */
const struct redactor *orch_redactor(struct orch *,
				     const struct agent_profile *);

#endif
