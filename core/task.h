#ifndef BATON_TASK_H
#define BATON_TASK_H

#include <stdint.h>

#include "core/baton.h"
#include "db/store-names.h"

struct store;
struct db_task;
struct db_task_filter;
struct db_session;

/*
 * A task as the user wrote it (TASK OPTIONS on the command line, or one
 * record of a task file): strings not yet checked.  NULL means not given.
 */
struct task_spec {
	char *prompt;
	char *prompt_file; /* "-" for stdin */
	char *agent, *model, *session, *milestone, *workdir, *timeout;
	char *check, *max_iterations, *title, *key;
	char *retries, *max_cost;
	int new_session, force_agent, allow_foreign;
	/* run --continue: the session of the project's last conversation */
	int continue_last;
	/* no prompt and no prompt file: read the prompt from stdin unless
	 * it is a terminal (run and add on the command line) */
	int prompt_stdin;
	/* where it came from, for messages: "tasks.yaml:12" or NULL */
	char *origin;
};
void task_spec_release(struct task_spec *);

/*
 * Check spec and turn it into a task row ready to insert: the workdir
 * exists and is a directory (its realpath is kept, and its project), the
 * agent profile exists, --session is a valid NAME or UUID and not used
 * with --new-session, durations and counts parse, the prompt is not
 * empty (read from the prompt file if given, or from a stdin that is
 * not a terminal with prompt_stdin).  A milestone named but
 * not existing is created (shared session) when create_milestones.
 * Returns 0, or -BERR_USAGE with *cause ("origin: message" when the spec
 * has an origin), -BERR_DB.
 */
int task_spec_resolve(struct baton *b, struct store *db,
		      const struct task_spec *spec, struct db_task *t,
		      char **cause);

/*
 * M of "attempts N of M" (SPEC §3): the attempts the task may have.  A
 * task that ended has none left (its attempts); else its retries + 1
 * (a failure or a timeout runs it again), or max_attempts if it is more
 * and the runner requeues interrupted tasks (requeue_interrupted); a
 * pending task at least one more than it ran.
 */
int task_attempts_of(const struct db_task *t, int requeue_interrupted);

/* Parse a task id argument ("12"); 0 or -1. */
int task_parse_id(const char *s, int64_t *id);

/* ---- the state-changing task commands: one transaction each ---- */

/*
 * `add` and `run`: resolve spec and insert it.  With a --key that names
 * a task already, nothing is added: *existed is 1 and *t is that task.
 * *t is the task as stored (release it).  Returns 0, -BERR_USAGE with
 * *cause, -BERR_DB.
 */
int task_add(struct baton *b, const struct task_spec *spec, struct db_task *t,
	     int *existed, char **cause);

/*
 * `add --from`: every spec in one transaction; one that does not
 * resolve adds nothing (its error names its origin).  ids[i] is the id
 * of specs[i] (a new task, or the one its key names); *added counts the
 * new ones.  Returns as task_add().
 */
int task_add_all(struct baton *b, const struct task_spec *specs, size_t n,
		 int64_t *ids, size_t *added, char **cause);

/* What a bulk command did to one task. */
struct task_change {
	int64_t id;
	int found;	      /* the task exists */
	enum task_status was; /* its status before */
	int changed;	      /* the command applied to it */
	enum task_status now; /* bulk cancel: its status after */
};

/* The statuses task_status_retryable() accepts, as a mask (1u << s). */
unsigned task_retryable_mask(void);

/*
 * `retry --failed`: the tasks that failed, by the agent's doing or by
 * running out of time.  Cancelled and interrupted tasks stopped for a
 * reason outside the task (a user, a crash) and are retried only when
 * asked for by name (--status).
 */
#define TASK_MASK_FAILED ((1u << TASK_FAILED) | (1u << TASK_TIMED_OUT))

/* Which tasks a bulk retry or cancel applies to. */
struct task_select {
	unsigned status_mask; /* retry: requeue tasks with these statuses */
	int64_t milestone_id; /* 0: any milestone */
	const char *session;  /* cancel: a session's NAME, id or id prefix */
};

/*
 * `retry --failed | --status S,S... [--milestone M]`: requeue every
 * task sel selects, in transactions of up to TASK_BATCH tasks (each
 * holds the write lock only briefly).  *out (the caller frees it) gets
 * one task_change per task requeued, *n of them, in id order.  Returns
 * 0; -BERR_USAGE with *cause when the mask is empty or holds a status
 * that cannot be retried; -BERR_DB, with *out holding the tasks of the
 * batches committed before the error.
 */
int task_retry_select(struct baton *b, const struct task_select *sel,
		      struct task_change **out, size_t *n, char **cause);

/*
 * `cancel --all | --session S | --milestone M`: in one transaction,
 * cancel the pending tasks sel selects and ask its running ones to stop
 * (sel's status_mask is ignored; a session selects its tasks by
 * task_filter_session()).  *out (the caller frees it) gets one task_change
 * per task, *n of them, with now set to cancelled for the pending ones
 * and running for the others.  Returns 0, -BERR_USAGE with *cause (no
 * such session and no task asking for it), -BERR_DB.
 */
int task_cancel_select(struct baton *b, const struct task_select *sel,
		       struct task_change **out, size_t *n, char **cause);

/*
 * Narrow f to the tasks of the session ref names (a name, id or id
 * prefix: session_lookup()), the one rule of `status --session` and
 * `cancel --session`: the tasks run in it, and those not claimed yet
 * that asked for it by its id or name; for a session not created yet
 * (or a ref session_lookup() refuses), the tasks not claimed yet that
 * asked for it by ref.  f points into s and ref: release s (the caller
 * zeroes it first) after f's last use.  Returns 0; -BERR_USAGE with
 * session_lookup()'s *cause when there is no such session and no task
 * asked for it; -BERR_DB.
 */
int task_filter_session(struct store *db, const char *ref,
			struct db_task_filter *f, struct db_session *s,
			char **cause);

/*
 * After task_cancel_select(): wait for the runners of the tasks in
 * ch[0..n) that were running to end them, all together, at most the
 * longest of their kill_grace plus TASK_WAIT_SLACK_MS.  Sets ch[i].now
 * to each one's final status (running if it is still running then).
 */
void task_wait_all(struct baton *b, struct task_change *ch, size_t n);

/* Tasks a bulk command changes per transaction. */
#define TASK_BATCH 1000

/* How long a cancel waits past kill_grace for a runner to end a task. */
#define TASK_WAIT_SLACK_MS 10000

/* The kill_grace of agent profile agent (NULL: the default), in ms. */
int64_t task_kill_grace_ms(struct baton *b, const char *agent);

/*
 * `retry`: requeue the tasks ids[0..n) (→ pending) that ended without
 * completing (task_status_retryable()), in one transaction; out[i]
 * says what happened to ids[i].  Returns 0 or -BERR_DB (nothing
 * changed).
 */
int task_retry(struct baton *b, const int64_t *ids, size_t n,
	       struct task_change *out, char **cause);

/*
 * `cancel`: a pending task becomes cancelled at once; a running one is
 * asked to stop (its runner terminates the agent's process group).
 * One transaction.  Returns 0 or -BERR_DB.
 */
int task_cancel(struct baton *b, int64_t id, struct task_change *out,
		char **cause);

/*
 * After task_cancel() of a running task: wait for its runner to end it
 * (TERM, then KILL after its profile's kill_grace, plus 10 s).  Returns
 * 1 with *final set, or 0 if it is still running then.
 */
int task_wait_end(struct baton *b, int64_t id, enum task_status *final);

#endif
