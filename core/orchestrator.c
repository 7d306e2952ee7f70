/*
 * The orchestrator: the session protocol of SPEC §2 in one place.
 *
 * For each task:
 *   claim      one transaction picks the task, selects or creates its
 *              session and commits the row (S1, S2), takes the lease (S6);
 *   assign     save the agent's current session id (the prior, maybe
 *              none) and assign the task's session explicitly (S3, S4);
 *   run        turns of the agent, each recorded as a run with the ids
 *              given and reported, the chain advanced (S5), usage added,
 *              transient failures retried, a failed resume answered with
 *              a fresh conversation and the turn repeated once (S13),
 *              then the check, iterating while it fails (SPEC §4);
 *   cleanup    always: restore the prior id, end the task, close a temp
 *              session (S7), release the lease.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/files.h"
#include "core/orchestrator.h"
#include "core/output.h"
#include "core/proc.h"
#include "core/runner.h"
#include "core/session.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/id.h"
#include "lib/num.h"
#include "lib/redact.h"
#include "lib/strbuf.h"
#include "lib/sys.h"
#include "lib/xmalloc.h"

extern char **environ;

/* Waiting for a file descriptor or a process: from this, doubling. */
#define RESOURCE_WAIT_MIN_MS 100
#define RESOURCE_WAIT_MAX_MS 5000

/* The last 4 KiB of a check's output go into the feedback prompt. */
#define CHECK_TAIL 4096

/* The most of an agent's answer a run keeps (SPEC §3). */
#define ANSWER_MAX (1 << 20)

void
orch_result_release(struct orch_result *r)
{
	if (r == NULL)
		return;
	free(r->error);
	free(r->answer);
	free(r->next_cause);
	memset(r, 0, sizeof *r);
}

void
orch_init(struct orch *o, struct baton *b, struct store *db)
{
	memset(o, 0, sizeof *o);
	o->b = b;
	o->db = db;
	o->impl_find = agent_impl_find;
	o->retries = -1;
}

static void discard_ready(struct orch *o);

void
orch_release(struct orch *o)
{
	size_t i;

	if (o == NULL)
		return;
	discard_ready(o);
	for (i = 0; i < o->nagents; i++) {
		free(o->agents[i].profile);
		agent_release(&o->agents[i].agent);
		redactor_free(o->agents[i].redactor);
	}
	proc_spawn_cache_free(o->spawn);
	o->spawn = NULL;
	free(o->agents);
	free(o->scope);
	o->agents = NULL;
	o->nagents = 0;
	o->scope = NULL;
}

struct agent *
orch_agent(struct orch *o, const struct agent_profile *p)
{
	const struct agent_impl *impl;
	struct orch_agent *oa;
	size_t i;

	for (i = 0; i < o->nagents; i++) {
		if (strcmp(o->agents[i].profile, p->name) == 0) {
			/* the config outlives us, but re-point anyway */
			o->agents[i].agent.profile = p;
			return &o->agents[i].agent;
		}
	}
	if ((impl = o->impl_find(p->kind)) == NULL)
		return NULL;
	o->agents = xreallocarray(o->agents, o->nagents + 1, sizeof *o->agents);
	oa = &o->agents[o->nagents++];
	oa->profile = xstrdup(p->name);
	oa->redactor = NULL;
	agent_init(&oa->agent, impl, p);
	/* Between tasks an agent holds the worker's scope (S3 nesting). */
	agent_set_session_id(&oa->agent, o->scope);
	return &oa->agent;
}

static void
note(struct orch *o, int64_t task_id, const char *msg)
{
	if (o->notify != NULL)
		o->notify(o->notify_arg, task_id, msg);
}

/* ---- claiming ---- */

/*
 * Inside the claim transaction, its "claim" savepoint rolled back: task
 * t may not run (S11, S12; why).  At the session limit (full active) in
 * `work`, it may wait instead: temp sessions of tasks running anywhere,
 * by any runner on any machine, each close when their task ends (named
 * sessions stay active after their tasks: waiting for them would be
 * unbounded).  Else it is failed, and *started is -1.
 */
static int
refuse(struct orch *o, struct db_task *t, int64_t full, const char *why,
       int64_t now, int *started, char **cause)
{
	int64_t closing = 0;
	int rc;

	if (full > 0 && o->full != NULL) {
		if ((rc = store_session_count_closing(o->db, now, &closing,
						      cause)) != 0)
			return rc;
		if (o->full(o->notify_arg, t->id, full, closing))
			return 0; /* left pending for a later claim */
	}
	rc = store_task_finish(o->db, t->id, 0, TASK_FAILED, 0, 0, why,
			       "session", now, cause);
	if (rc == 0)
		rc = store_event(o->db, EVENT_REFUSED, NULL, t->id, 0,
				 o->b->runner_id, why, now, cause);
	if (rc != 0)
		return rc;
	t->status = TASK_FAILED;
	free(t->error);
	t->error = xstrdup(why);
	t->finished_at = now;
	if (o->refused != NULL)
		o->refused(o->notify_arg, t, why);
	else
		note(o, t->id, why);
	*started = -1;
	return 0;
}

/*
 * Inside the claim transaction: select the session for pending task id
 * and lease it.  *started: 1 running now, 0 session busy (nothing
 * changed), -1 the task was failed because it may not run.
 */
static int
start_locked(struct orch *o, int64_t id, int *started, char **cause)
{
	struct baton *b = o->b;
	struct db_task t = {0};
	struct session_choice sc = {0};
	int64_t now = clock_now_ms(), holder, epoch, session_epoch;
	char *why = NULL;
	size_t i;
	int found, got, rc;
	/* a task that set no retries takes work's or the default, recorded
	 * only if not 0: a later `work --retries N` then gives it N */
	int retries = o->retries >= 0 ? o->retries : b->cfg->defaults.retries;

	*started = 0;
	if ((rc = store_task_get(o->db, id, &t, &found, cause)) != 0)
		return rc;
	if (!found || t.status != TASK_PENDING)
		goto out;
	if ((rc = store_savepoint(o->db, "claim", cause)) != 0)
		goto out;
	rc = session_select(b, o->db, &t, now, &sc, &why);
	if (rc == -BERR_FAIL) {
		store_savepoint_rollback(o->db, "claim");
		rc = refuse(o, &t, sc.full, why, now, started, cause);
		goto out;
	}
	if (rc != 0) {
		store_savepoint_rollback(o->db, "claim");
		*cause = why;
		why = NULL;
		goto out;
	}
	rc = store_session_lease(o->db, sc.id, b->runner_id, id, now,
				 now + b->cfg->runner.stale_after_ms, &got,
				 &holder, &session_epoch, cause);
	if (rc != 0 || !got) {
		/* S6: in use by another task; undo the selection. */
		store_savepoint_rollback(o->db, "claim");
		goto out;
	}
	if ((rc = store_task_start(o->db, id, b->runner_id, sc.id, sc.agent,
				   sc.model, now, &epoch, cause)) ||
	    (t.retries < 0 && retries > 0 &&
	     (rc = store_task_attempt(o->db, id, epoch, 0, retries, cause))) ||
	    (rc = store_savepoint_release(o->db, "claim", cause)))
		goto out;
	o->epoch = epoch;
	o->session_epoch = session_epoch;
	for (i = 0; i < sc.notes.n; i++)
		note(o, id, sc.notes.v[i]);
	*started = 1;
out:
	free(why);
	session_choice_release(&sc);
	db_task_release(&t);
	return rc;
}

static int prestart(struct orch *o, int64_t id, char **cause);

/* Inside a transaction: orch_claim's pick, start and prestart. */
static int
claim_locked(struct orch *o, int64_t milestone_id, int64_t *task_id,
	     char **cause)
{
	int64_t id, skip_after = 0;
	int started, rc;

	*task_id = 0;
	for (;;) {
		if ((rc = store_task_next(o->db, milestone_id, skip_after, &id,
					  cause)) != 0 ||
		    id == 0)
			break;
		if ((rc = start_locked(o, id, &started, cause)) != 0)
			break;
		if (started == 1) {
			*task_id = id;
			return prestart(o, id, cause);
		}
		skip_after = id;
	}
	return rc;
}

int
orch_claim(struct orch *o, int64_t milestone_id, int64_t *task_id, char **cause)
{
	int rc;

	*task_id = 0;
	if ((rc = store_begin_claim(o->db, cause)) != 0)
		return rc;
	rc = claim_locked(o, milestone_id, task_id, cause);
	if (rc == 0)
		rc = store_commit(o->db, cause);
	if (rc != 0) {
		store_rollback(o->db);
		discard_ready(o);
		*task_id = 0;
	}
	return rc;
}

int
orch_claim_task(struct orch *o, int64_t task_id, int *started, char **cause)
{
	int rc;

	*started = 0;
	/* no pick locks the row: one claim at a time (store_begin) */
	if ((rc = store_begin(o->db, cause)) != 0)
		return rc;
	rc = start_locked(o, task_id, started, cause);
	if (rc == 0 && *started == 1)
		rc = prestart(o, task_id, cause);
	if (rc == 0)
		rc = store_commit(o->db, cause);
	if (rc != 0) {
		store_rollback(o->db);
		discard_ready(o);
		*started = 0;
	}
	return rc;
}

/* ---- executing ---- */

struct turn_state;

/* Everything one task's execution carries around. */
struct job {
	struct orch *o;
	struct db_task task;
	struct db_session session;
	const struct agent_profile *profile;
	struct agent *agent;
	char *task_dir;	   /* <state>/logs/<task>, made with its first file */
	int task_dir_made; /* task_dir was made (job_task_dir) */
	char *session_dir; /* <state>/sessions/<session> */
	char *cwd;	   /* where the agent runs (owned: the session row
			      is reloaded after every run) */
	int64_t timeout_ms, grace_ms;
	int attempt; /* the task's attempt number (claims, retries) */
	double cost; /* what the task's runs cost so far (USD) */
	int iteration;
	int fresh_next;	 /* S13: next turn starts a fresh conversation */
	int cancel_seen; /* `baton cancel` asked */
	int64_t last_poll;
	/* the outcome so far */
	int decided; /* status, error and reason are set */
	enum task_status status;
	char *error;
	const char *reason;
	int has_exit, exit_code;
	int nobin;
	int64_t last_run_id;
	uint64_t rng;
	char *feedback; /* the last check's feedback, for $BATON_FEEDBACK */
	struct redactor *redactor; /* NULL: logs.redact is off */
	char *answer;		   /* the last run's, as stored */
	/* the leases of the claim (SPEC §5), and whether they were lost */
	int64_t epoch, session_epoch;
	int lost;
	int spawned_any; /* an agent of this claim has run */
	/* the running agent's output to the database (SPEC §10), while
	 * proc_run() runs it; NULL: the store keeps none */
	struct output_writer *live;
	int given_back; /* unclaimed: pending again, untouched */
	int retry;	/* task retries so far (run_attempts) */
	/* Group commit: the first turn, its run row written with the claim
	 * (prestart), and the last turn, whose end finish writes with the
	 * task's (record_run); NULL for none. */
	struct turn_state *first, *ended;
	/* S3: the agent's id before the task's session was assigned, and
	 * whether it was (prestart) */
	char *prior;
	int assigned;
};

/*
 * The task's lease is gone (SPEC §5: another runner reaped this one and
 * the task ended or runs elsewhere, or this runner could not renew its
 * heartbeat): say so once.  From now on nothing is written for the task,
 * and its agent is stopped (poll_cancel says stop).
 */
static void
lose_lease(struct job *j)
{
	char *msg;

	if (j->lost)
		return;
	j->lost = 1;
	msg = xasprintf("lost lease for task %lld (attempt %d superseded)",
			(long long)j->task.id, j->attempt);
	if (j->o->notify != NULL)
		j->o->notify(j->o->notify_arg, 0, msg);
	free(msg);
}

/* rc of a fenced write: a lost lease is noted (lose_lease). */
static int
fenced(struct job *j, int rc)
{
	if (rc == -BERR_LEASE)
		lose_lease(j);
	return rc;
}

static void
job_fail(struct job *j, enum task_status status, const char *reason,
	 char *error)
{
	if (!j->decided) {
		j->decided = 1;
		j->status = status;
		j->reason = reason;
		free(j->error);
		j->error = error;
	} else
		free(error);
}

/* Full-jitter exponential backoff (retry.base, retry.max). */
static int64_t
backoff_ms(struct job *j, int retry)
{
	const struct config *cfg = j->o->b->cfg;
	int64_t cap = cfg->retry.base_ms;
	int i;

	for (i = 0; i < retry && cap < cfg->retry.max_ms; i++)
		cap *= 2;
	if (cap > cfg->retry.max_ms)
		cap = cfg->retry.max_ms;
	/* xorshift64: no global PRNG state shared between threads */
	j->rng ^= j->rng << 13;
	j->rng ^= j->rng >> 7;
	j->rng ^= j->rng << 17;
	return cap <= 0 ? 0 : (int64_t)(j->rng % (uint64_t)(cap + 1));
}

static int
stop_requested(struct orch *o)
{
	struct pollfd p = {.fd = o->b->stop_fd, .events = POLLIN};

	return o->b->stop_fd >= 0 && poll(&p, 1, 0) > 0;
}

/*
 * proc poll_stop: `baton cancel` from another terminal marks the task;
 * a lost lease (the task's, or the whole runner's: struct baton fenced)
 * stops the agent too.
 */
static int
poll_cancel(void *arg)
{
	struct job *j = arg;
	char *cause = NULL;
	int yes = 0, held = 1;

	if (j->lost)
		return 1;
	if (atomic_load(&j->o->b->fenced)) {
		lose_lease(j);
		return 1;
	}
	if (store_task_cancel_requested(j->o->db, j->task.id, j->epoch,
					j->session_epoch, &yes, &held,
					&cause) != 0)
		free(cause); /* a busy database: ask again next time */
	if (!held) {
		lose_lease(j);
		return 1;
	}
	if (yes)
		j->cancel_seen = 1;
	/* the output held since the last tick, to the database */
	cause = NULL;
	if (output_tick(j->live, clock_mono_ms(), &cause) == -BERR_LEASE) {
		free(cause);
		lose_lease(j);
		return 1;
	}
	free(cause); /* anything else: written at the next tick */
	return yes;
}

/* proc on_output: the agent's output, as its log files get it, to the
 * database as well (output.h). */
static void
job_output(void *arg, int stream, const char *buf, size_t len)
{
	struct job *j = arg;
	char *cause = NULL;

	if (output_add(j->live, stream, buf, len, clock_mono_ms(), &cause) ==
	    -BERR_LEASE)
		lose_lease(j);
	free(cause); /* anything else: written at the next tick */
}

/* Why a stopped task ends cancelled: `baton cancel`, a signal to baton
 * or `work --halt now` (b->stop_why).  The caller frees. */
static char *
stop_text(const struct job *j)
{
	const char *why = j->o->b->stop_why;

	if (j->cancel_seen)
		return xstrdup("cancelled by baton cancel");
	return xstrdup(why != NULL ? why : "cancelled: baton was signalled");
}

/*
 * Between runs (a retry's backoff): a signal to baton or `baton cancel`
 * ends the task cancelled, as it would during a run.  Returns non-zero
 * when told to stop.
 */
static int
stop_between_runs(struct job *j)
{
	if (!stop_requested(j->o) && !poll_cancel(j))
		return 0;
	j->decided = 0;
	job_fail(j, TASK_CANCELLED, "cancelled", stop_text(j));
	return 1;
}

/* Sleep ms unless told to stop (see stop_between_runs). */
static int
sleep_or_stop(struct job *j, int64_t ms)
{
	struct pollfd p = {.fd = j->o->b->stop_fd, .events = POLLIN};
	int64_t end = clock_mono_ms() + ms, left;

	while ((left = end - clock_mono_ms()) > 0) {
		poll(&p, p.fd >= 0 ? 1 : 0, left > 500 ? 500 : (int)left);
		if (stop_between_runs(j))
			return 1;
	}
	return 0;
}

/*
 * What the next turn may cost: the task's budget (--max-cost) and its
 * session's (sessions.max_cost) less what each cost so far; 0 for no
 * budget, < 0 when one is spent.
 */
static double
budget_left(const struct job *j, const char **whose, double *limit)
{
	double task = j->task.max_cost, sess = j->o->b->cfg->sessions.max_cost;
	double left = 0;

	*whose = NULL;
	*limit = 0;
	if (task > 0) {
		left = task - j->cost;
		*whose = "task";
		*limit = task;
	}
	if (sess > 0 && (*whose == NULL || sess - j->session.cost_usd < left)) {
		left = sess - j->session.cost_usd;
		*whose = "session";
		*limit = sess;
	}
	return left;
}

/* Before a task retry: struct orch's retry_stop says no more (the
 * work's budget spent); the task ends as its attempt did. */
static int
retry_stopped(struct job *j)
{
	struct orch *o = j->o;
	char *why;

	if (o->retry_stop == NULL ||
	    (why = o->retry_stop(o->notify_arg, j->cost)) == NULL)
		return 0;
	note(o, j->task.id, why);
	free(why);
	return 1;
}

/*
 * Between turns: a spent budget ends the task failed, reason
 * budget_exceeded, whatever the turn before decided.  Returns non-zero
 * then.
 */
static int
over_budget(struct job *j)
{
	const char *whose;
	double limit, left = budget_left(j, &whose, &limit);

	if (whose == NULL || left > 0)
		return 0;
	j->decided = 0;
	job_fail(j, TASK_FAILED, "budget_exceeded",
		 xasprintf("budget exceeded: the %s cost $%.4f of its $%.4f "
			   "budget",
			   whose,
			   strcmp(whose, "task") == 0 ? j->cost
						      : j->session.cost_usd,
			   limit));
	return 1;
}

struct start_ctx {
	struct job *j;
	int64_t run_id;
};

/*
 * An agent's pid is recorded once it has run this long, in a
 * transaction of its own, or with its run's end if it ends sooner: a
 * transaction a task less for short agents (issues 10 and 12).  Until
 * then a reaper finds the agent, should we die, by its BATON_RUN_TOKEN,
 * as in the instant between a spawn and any pid's commit.
 */
#define PID_AFTER_MS 50

/* proc on_start: record the pid so a reaper can kill it if we die.
 * Non-zero (stop the agent) when that write found the lease lost. */
static int
on_start(void *arg, pid_t pid, uint64_t start)
{
	struct start_ctx *s = arg;
	struct store *db = s->j->o->db;
	const char *fail_at = s->j->o->fail_at;
	char *cause = NULL;

	/* A kill -9 in the instant before the pid is recorded. */
	if (fail_at != NULL && strcmp(fail_at, "kill-after-spawn") == 0)
		raise(SIGKILL);
	/* this run's own row, fenced by the task's epoch: no store-wide
	 * write lock needed (store_begin_own) */
	/* (a held-back write's lost lease may come with the commit:
	 * db/store.h) */
	if (store_begin_own(db, &cause) == 0 &&
	    fenced(s->j, store_run_set_pid(db, s->run_id, s->j->epoch, pid,
					   (int64_t)start, &cause)) == 0)
		fenced(s->j, store_commit(db, &cause));
	store_rollback(db);
	free(cause);
	return s->j->lost;
}

/* Replace or add NAME=value in env. */
static void
env_set(struct strvec *env, const char *name, const char *value)
{
	size_t i, len = strlen(name);

	for (i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], name, len) == 0 &&
		    env->v[i][len] == '=') {
			free(env->v[i]);
			env->v[i] = xasprintf("%s=%s", name, value);
			return;
		}
	}
	strvec_pushf(env, "%s=%s", name, value);
}

static void
build_env(struct job *j, const struct agent_call *c, struct strvec *env)
{
	char *const *p;
	char num[32];

	/* env was initialised by the caller, for its error paths */
	for (p = environ; p != NULL && *p != NULL; p++)
		strvec_push(env, *p);
	snprintf(num, sizeof num, "%lld", (long long)j->task.id);
	env_set(env, "BATON_TASK_ID", num);
	snprintf(num, sizeof num, "%lld", (long long)j->last_run_id);
	env_set(env, "BATON_RUN_ID", num);
	env_set(env, "BATON_SESSION_ID", j->session.id);
	env_set(env, "BATON_AGENT_SESSION_ID",
		c->agent_session_id ? c->agent_session_id : "");
	snprintf(num, sizeof num, "%d", j->iteration);
	env_set(env, "BATON_ITERATION", num);
	env_set(env, "BATON_WORKDIR", j->task.workdir);
	env_set(env, "BATON_SESSION_DIR", j->session_dir);
	env_set(env, "BATON_RESULT_FILE", c->result_file);
	env_set(env, "BATON_FEEDBACK", j->feedback ? j->feedback : "");
	for (p = j->profile->env; p != NULL && *p != NULL; p++) {
		const char *eq = strchr(*p, '=');
		char *name;

		if (eq == NULL)
			continue;
		name = xstrndup(*p, (size_t)(eq - *p));
		env_set(env, name, eq + 1);
		free(name);
	}
}

/* Re-read the session row: the head and counters change as runs end. */
static int
reload_session(struct job *j, char **cause)
{
	int found, rc;
	char *id = xstrdup(j->session.id);

	db_session_release(&j->session);
	rc = store_session_get(j->o->db, id, &j->session, &found, cause);
	if (rc == 0 && !found) {
		*cause = xasprintf("session %s disappeared", id);
		rc = -BERR_DB;
	}
	free(id);
	return rc;
}

/*
 * S5: record what the run was given and what the agent reported.  The
 * first run of a session whose adapter takes our id makes that id the
 * first link; a different reported id becomes the new head.
 */
static int
advance_chain(struct job *j, struct db_run *run, const struct agent_call *c,
	      const char *reported, int64_t now, char **cause)
{
	struct store *db = j->o->db;
	enum chain_edge edge;
	int rc;

	if (c->agent_session_id != NULL && !c->resume) {
		edge = j->session.head == NULL ? EDGE_FIRST
		       : run->resume_outcome == RESUME_NEW
			       ? EDGE_RESET
			       : EDGE_FRESH_AFTER_FAILED_RESUME;
		if (j->session.head == NULL ||
		    run->resume_outcome == RESUME_FRESH_AFTER_FAILED ||
		    run->resume_outcome == RESUME_NEW) {
			if ((rc = store_session_push_head(
				     db, j->session.id, j->session_epoch,
				     c->agent_session_id, edge, run->id, now,
				     cause)) != 0)
				return rc;
		}
	}
	if (reported == NULL)
		return 0;
	if (c->agent_session_id != NULL &&
	    strcmp(reported, c->agent_session_id) == 0)
		return 0;
	if (c->agent_session_id == NULL)
		edge = j->session.head == NULL ? EDGE_FIRST
		       : run->resume_outcome == RESUME_FRESH_AFTER_FAILED
			       ? EDGE_FRESH_AFTER_FAILED_RESUME
		       : run->resume_outcome == RESUME_NEW ? EDGE_RESET
							   : EDGE_FORK;
	else
		edge = c->resume && !c->fork ? EDGE_RESUME : EDGE_FORK;
	return store_session_push_head(db, j->session.id, j->session_epoch,
				       reported, edge, run->id, now, cause);
}

static enum run_outcome
outcome_of(enum agent_outcome o)
{
	switch (o) {
	case AGENT_OK:
		return RUN_SUCCESS;
	case AGENT_TRANSIENT:
		return RUN_TRANSIENT;
	case AGENT_RESUME_FAILED:
		return RUN_RESUME_FAILED;
	case AGENT_CONFIG_ERROR:
		return RUN_CONFIG_ERROR;
	case AGENT_BAD_OUTPUT:
		return RUN_BAD_OUTPUT;
	case AGENT_FAILED:
	default:
		return RUN_FAILED;
	}
}

/* What one turn came to. */
enum turn {
	TURN_OK,
	TURN_FAILED,	/* decided: j->status etc. set */
	TURN_TRANSIENT, /* may retry */
	TURN_RESUME_FAILED,
};

/* One turn in the making: what run_once's steps hand each other. */
struct turn_state {
	struct db_run run;
	struct agent_call call;
	struct agent_result ar;
	struct proc_result pr;
	struct strvec argv, env;
	char idbuf[37], fresh[37];
	char *out, *err, *pfile, *rfile;
	const char *prompt; /* the agent's stdin */
	int pfile_written;  /* pfile is stdin (start_agent) */
	char *why;	    /* an error of baton's own */
	int spawned;
	struct output_writer *live; /* NULL: the store keeps no output */
};

static void
turn_state_release(struct turn_state *t)
{
	free(t->why);
	free(t->out);
	free(t->err);
	free(t->pfile);
	free(t->rfile);
	strvec_release(&t->argv);
	strvec_release(&t->env);
	agent_result_release(&t->ar);
	db_run_release(&t->run);
	output_writer_free(t->live);
}

/* The test hook of struct orch: fail at the step called step. */
static int
injected(struct orch *o, const char *step, char **why)
{
	if (o->fail_at == NULL || strcmp(o->fail_at, step) != 0)
		return 0;
	*why = xasprintf("injected failure %s", strcmp(step, "after-run") == 0
							? "after run"
							: "before spawn");
	return 1;
}

/*
 * A session made by `baton session fork` starts with its parent's head,
 * linked with edge fork and no run: until a turn has been taken in it,
 * resuming that head must branch it.  Sets *yes; 0 or the store's error.
 */
static int
fork_pending(struct job *j, int *yes, char **cause)
{
	struct db_chain_link *chain = NULL;
	size_t n = 0;
	int rc;

	*yes = 0;
	if (j->session.turns != 0 || j->session.predecessor == NULL ||
	    j->session.head == NULL)
		return 0;
	if ((rc = store_session_chain(j->o->db, j->session.id, &chain, &n,
				      cause)) != 0)
		return rc;
	*yes = n > 0 && chain[n - 1].edge == EDGE_FORK &&
	       chain[n - 1].run_id == 0;
	db_chain_free(chain, n);
	return 0;
}

/*
 * Which conversation (S4, S13): resume the session's head (branching it
 * for a forked session's first turn), or start one, with the session's
 * own id for an adapter that takes ours on its first run and a fresh id
 * after a failed resume.  0 or the store's error.
 */
static int
choose_conversation(struct job *j, struct turn_state *t, char **cause)
{
	const char *whose;
	double limit;
	int rc;

	struct agent_call *c = &t->call;

	c->profile = j->profile;
	c->model = j->task.model;
	c->session_id = j->session.id;
	c->workdir = j->cwd;
	c->session_dir = j->session_dir;
	c->task_id = j->task.id;
	c->max_budget_usd = budget_left(j, &whose, &limit);
	if (j->session.head != NULL && !j->fresh_next && j->session.resumable &&
	    j->profile->use_session_persistence) {
		c->resume = 1;
		c->agent_session_id = j->session.head;
		t->run.resume_outcome = RESUME_RESUMED;
		if ((rc = fork_pending(j, &c->fork, cause)) != 0)
			return rc;
	} else {
		/* use_session_persistence: false never resumes: every run
		 * is a new conversation, chained with edge reset */
		t->run.resume_outcome =
			j->session.head == NULL ||
					!j->profile->use_session_persistence
				? RESUME_NEW
				: RESUME_FRESH_AFTER_FAILED;
		if (j->agent->impl->accepts_session_id) {
			if (j->session.head == NULL)
				c->agent_session_id = agent_session_for_call(
					j->agent, t->idbuf);
			else {
				id_uuid_new(t->fresh);
				c->agent_session_id = t->fresh;
			}
		}
	}
	j->fresh_next = 0;
	return 0;
}

/* The run row, inside the caller's transaction. */
static int
insert_run(struct job *j, struct turn_state *t, char **cause)
{
	t->run.task_id = j->task.id;
	t->run.attempt = j->attempt;
	t->run.iteration = j->iteration;
	t->run.session_id = xstrdup(j->session.id);
	t->run.agent_session_in = xstrdup_or_null(t->call.agent_session_id);
	t->run.runner_id = j->o->b->runner_id;
	t->run.started_at = clock_now_ms();
	return fenced(j, store_run_insert(j->o->db, &t->run, j->epoch, cause));
}

/* The run row, committed before the agent starts (S1): with the claim
 * for the task's first run (prestart), else here. */
static int
start_run(struct job *j, struct turn_state *t, char **cause)
{
	struct store *db = j->o->db;
	int64_t id;
	int rc;

	if (t->run.id == 0 && ((rc = store_begin(db, cause)) != 0 ||
			       (rc = insert_run(j, t, cause)) != 0 ||
			       (rc = store_commit(db, cause)) != 0)) {
		store_rollback(db);
		return rc;
	}
	j->last_run_id = id = t->run.id;
	t->out = xasprintf("%s/%lld.out", j->task_dir, (long long)id);
	t->err = xasprintf("%s/%lld.err", j->task_dir, (long long)id);
	t->pfile = xasprintf("%s/%lld.prompt", j->task_dir, (long long)id);
	t->rfile = xasprintf("%s/results/%lld.%lld.result", j->o->b->files_dir,
			     (long long)j->task.id, (long long)id);
	t->call.prompt_file = t->pfile;
	t->call.result_file = t->rfile;
	return 0;
}

/* Tell the user what a slow reader of our output did not see. */
static void
note_dropped(struct job *j, uint64_t dropped)
{
	char *msg = xasprintf(
		"task %lld: %llu bytes of the agent's output were not shown "
		"(the reader was behind when the agent was stopped); baton "
		"log %lld [--stderr] has all of it",
		(long long)j->task.id, (unsigned long long)dropped,
		(long long)j->task.id);

	note(j->o, j->task.id, msg);
	free(msg);
}

static const struct redactor *job_redactor(struct job *j);

/*
 * The task's logs/<task>/, made when its first file is about to be:
 * a task whose agent prints nothing (and needs no prompt file) makes
 * none (docs/design.md, "What a task makes on disk").  In the
 * database's own directory, never through a symlink an agent planted
 * (SPEC §9).  0, or -1 with *cause.
 */
static int
job_task_dir(struct job *j, char **cause)
{
	char name[24], *path;

	if (j->task_dir_made)
		return 0;
	snprintf(name, sizeof name, "%lld", (long long)j->task.id);
	if (files_mkdir(j->o->b->files_dir, "logs", name, &j->o->logs_made,
			&path, cause) != 0)
		return -1;
	free(path);
	j->task_dir_made = 1;
	return 0;
}

/* proc_spec's make_log_dir: the first byte of a log has come. */
static int
job_log_dir(void *arg, char **cause)
{
	return job_task_dir(arg, cause);
}

/*
 * What the agent wrote to $BATON_RESULT_FILE (in results/, which
 * exists when the agent starts) goes with the run's logs once read:
 * logs/<task>/<run>.result, as a record.  Nothing written: nothing
 * made.  If it cannot be moved it is removed (what it said is in the
 * run's row); a prune sweeps what an agent's leftover child writes
 * there later.
 */
static void
keep_result(struct job *j, struct turn_state *t)
{
	struct stat st;
	char *cause = NULL, *to;

	if (t->rfile == NULL || lstat(t->rfile, &st) != 0)
		return;
	to = xasprintf("%s/%lld.result", j->task_dir, (long long)t->run.id);
	if (job_task_dir(j, &cause) != 0 || rename(t->rfile, to) != 0)
		unlink(t->rfile);
	free(cause);
	free(to);
}

/* The agent's process: argv only, its own group, stdin from the prompt,
 * output to the run's logs (each made with its first byte), redacted
 * and capped (SPEC §3). */
static int
spawn(struct job *j, struct turn_state *t)
{
	struct orch *o = j->o;
	struct proc_spec ps = {0};
	struct start_ctx sc = {.j = j, .run_id = t->run.id};
	char *token;
	int rc;

	build_env(j, &t->call, &t->env);
	if (o->b->runner_key[0] != '\0') {
		/* How a reaper finds this agent if we die before on_start
		 * recorded its pid (runner.c). */
		token = runner_token(o->b->runner_key, t->run.id);
		env_set(&t->env, "BATON_RUN_TOKEN", token);
		free(token);
	}
	ps.argv = t->argv.v;
	ps.envp = t->env.v;
	ps.cwd = j->cwd;
	ps.stdin_path = t->pfile_written ? t->pfile : NULL;
	ps.stdin_data = t->prompt;
	ps.stdin_len = strlen(t->prompt);
	ps.stdout_path = t->out;
	ps.stderr_path = t->err;
	ps.lazy_logs = 1;
	ps.make_log_dir = job_log_dir;
	ps.log_dir_arg = j;
	/* An agent with an answer prints JSON: run shows the answer. */
	ps.stdout_tee_fd = o->tee && (o->raw || j->agent->impl->answer ==
							AGENT_ANSWER_NONE)
				   ? STDOUT_FILENO
				   : -1;
	ps.stderr_tee_fd = o->tee ? STDERR_FILENO : -1;
	ps.log_max_bytes = (uint64_t)o->b->cfg->logs.max_bytes;
	ps.redactor = job_redactor(j);
	ps.timeout_ms = j->timeout_ms;
	ps.kill_grace_ms = j->grace_ms;
	ps.stop_fd = o->b->stop_fd;
	ps.poll_stop = poll_cancel;
	ps.poll_arg = j;
	ps.on_start = on_start;
	ps.start_arg = &sc;
	ps.start_after_ms = o->pid_after_ms == 0  ? PID_AFTER_MS
			    : o->pid_after_ms < 0 ? 0
						  : o->pid_after_ms;
	if (o->spawn == NULL)
		o->spawn = proc_spawn_cache_new();
	ps.spawn_cache = o->spawn;
	if (t->live == NULL)
		t->live = output_writer_new(o->db, t->run.id, j->epoch,
					    o->b->cfg->logs.db_max_bytes);
	if (t->live != NULL) {
		ps.on_output = job_output;
		ps.output_arg = j;
	}
	j->live = t->live;
	rc = proc_run(&ps, &t->pr, &t->why);
	j->live = NULL;
	/* written with the run's end (on_start's write, if it came, wrote
	 * the same) */
	t->run.pid = t->pr.pid;
	t->run.proc_start = (int64_t)t->pr.start_time;
	t->run.output_truncated = t->pr.out_truncated || t->pr.err_truncated;
	if (t->pr.tee_dropped > 0)
		note_dropped(j, t->pr.tee_dropped);
	return rc;
}

/*
 * A command agent's stdout was held back in case its result file had an
 * answer; it had none, so show what it printed after all, as the tee
 * would have: not for a run that was stopped or timed out (the tee
 * does not wait for the reader then either), and a signal to baton
 * stops it.
 */
static void
show_held_output(struct job *j, struct turn_state *t)
{
	struct orch *o = j->o;
	char *msg;

	if (!o->tee || o->raw || j->agent->impl->answer != AGENT_ANSWER_MAYBE ||
	    t->ar.text != NULL || t->pr.out_bytes == 0 ||
	    t->pr.reason == PROC_STOPPED)
		return;
	if (t->pr.reason == PROC_RAN) {
		(void)proc_show_file(t->out, STDOUT_FILENO, o->b->stop_fd);
		return;
	}
	msg = xasprintf("task %lld: the agent's output was not shown (it "
			"timed out); baton log %lld has it",
			(long long)j->task.id, (long long)j->task.id);
	note(o, j->task.id, msg);
	free(msg);
}

/*
 * Every number an agent reports is untrusted (any adapter, any JSON):
 * counts and cost kept in range before anything adds them up (num.h);
 * turns and duration -1 for "not reported" or nonsense.
 */
static void
usage_in_range(struct agent_result *ar)
{
	ar->input_tokens = num_count(ar->input_tokens);
	ar->output_tokens = num_count(ar->output_tokens);
	ar->cache_read_tokens = num_count(ar->cache_read_tokens);
	ar->cache_creation_tokens = num_count(ar->cache_creation_tokens);
	ar->cost_usd = num_usd(ar->cost_usd);
	ar->num_turns = ar->num_turns < 0 ? -1 : num_count(ar->num_turns);
	ar->duration_ms = ar->duration_ms < 0 ? -1 : num_count(ar->duration_ms);
}

/* The files a try to start the agent may have left (none is kept). */
static void
unlink_run_files(const struct turn_state *t)
{
	const char *files[] = {t->pfile, t->out, t->err, t->rfile};
	size_t i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++)
		if (files[i] != NULL)
			unlink(files[i]);
}

/*
 * Give the task back: its claim undone (pending, attempt not counted,
 * the run that never started deleted), its temp session closed and its
 * lease released, in one transaction; the files of the run removed.
 * 0, or -1 when it could not be (cancel asked meanwhile, a database
 * error): then it waits and tries again instead.
 */
static int
give_back(struct job *j, struct turn_state *t)
{
	struct orch *o = j->o;
	struct store *db = o->db;
	int64_t now = clock_now_ms();
	int temp = j->session.kind == SESSION_TEMP, done = 0, rc;
	char *cause = NULL;

	if ((rc = store_begin(db, &cause)) == 0)
		rc = store_task_unclaim(db, j->task.id, o->b->runner_id,
					t->run.id, &done, &cause);
	if (rc == 0 && done && temp)
		rc = store_event(db, EVENT_CLOSE, j->session.id, j->task.id, 0,
				 o->b->runner_id, "requeued", now, &cause);
	if (rc == 0 && done)
		rc = store_session_unlease(db, j->session.id, j->session_epoch,
					   temp ? now : 0, &cause);
	/* The run's files go before the commit: once it is committed
	 * another worker may claim the task and, the run deleted, be given
	 * the same run id and file names.  (Not the task's directory, which
	 * that worker may be using.)  A commit that fails after this leaves
	 * this run to write them again. */
	if (rc == 0 && done) {
		unlink_run_files(t);
		rc = store_commit(db, &cause);
	}
	if (rc != 0 || !done) {
		store_rollback(db);
		free(cause);
		return -1;
	}
	if (temp && !o->b->cfg->sessions.keep_temp_dirs)
		files_session_dir_done(o->b, j->session.id);
	j->given_back = 1;
	job_fail(j, TASK_PENDING, "requeued", NULL);
	return 0;
}

/* One bit per class of resource error, for saying each once. */
static unsigned
resource_bit(int err)
{
	return err == EMFILE   ? 1u
	       : err == ENFILE ? 2u
	       : err == EAGAIN ? 4u
			       : 8u;
}

/*
 * The agent could not be started for want of a file descriptor or a
 * process (err): baton's problem, not the task's.  Give the task back
 * if the worker's pool says so (only before any agent of this claim
 * ran; t NULL: never), else wait *wait_ms (doubling, up to
 * RESOURCE_WAIT_MAX_MS).
 * Returns 0 to try again, 1 when given back, -1 when told to stop
 * while waiting (the task is then decided cancelled; t->why says so).
 */
static int
resource_wait(struct job *j, struct turn_state *t, int err, int64_t *wait_ms)
{
	struct orch *o = j->o;
	char *limit = sys_resource_text(err), *msg;
	int give = 0;

	if (o->resource != NULL)
		give = o->resource(o->notify_arg, j->task.id, err, limit);
	else if (!(o->resource_said & resource_bit(err))) {
		o->resource_said |= resource_bit(err);
		msg = xasprintf("cannot start the agent: %s; waiting to try "
				"again",
				limit);
		note(o, j->task.id, msg);
		free(msg);
	}
	free(limit);
	if (give && t != NULL && !j->spawned_any && give_back(j, t) == 0)
		return 1;
	if (sleep_or_stop(j, *wait_ms)) {
		if (t != NULL) {
			free(t->why);
			t->why = xstrdup(j->error);
		}
		return -1;
	}
	*wait_ms = *wait_ms * 2 > RESOURCE_WAIT_MAX_MS ? RESOURCE_WAIT_MAX_MS
						       : *wait_ms * 2;
	return 0;
}

/*
 * Whether the turn writes its prompt to t->pfile: when the agent reads
 * it there (agent_needs), and for a feedback prompt, which is in no
 * row of the database (the task's own prompt is: stdin suffices).
 */
static int
wants_prompt_file(struct job *j, const char *prompt)
{
	return agent_needs(j->agent->impl, j->profile, "prompt_file") ||
	       strcmp(prompt, j->task.prompt) != 0;
}

/*
 * Before an agent starts: is this runner's hold on its tasks still sure?
 * Others may reap it once its heartbeat is stale_after old.  A runner
 * frozen (SIGSTOP, a paused VM) between its claim and the spawn may have
 * been reaped meanwhile, and, continued, would start an agent in a
 * session that another runner's agent now holds: its heartbeat thread,
 * continued at the same moment, has not yet found out.  So when the
 * last renewal that succeeded (struct baton beat_ok_ms, on the boot
 * clock, which runs on while the process is frozen) is older than
 * stale_after less one beat, wait for the next one: it renews (go on)
 * or finds the runner reaped and fences it (the lease is lost); a
 * runner frozen on its own host is alive by its pid and goes on.  The
 * wait is bounded: no renewal for stale_after while this worker waits
 * awake (a heartbeat stuck on a lock or a dead connection, or too slow
 * to keep up) means others may take the runner for dead, and it fences
 * itself.  A stop asked for meanwhile waits too (at most that long): an
 * agent must not start on a lease that may be gone.  1 when the agent
 * may start, 0 when the lease is lost (lose_lease).
 */
static int
lease_fresh(struct job *j)
{
	struct baton *b = j->o->b;
	const struct config *cfg = b->cfg;
	int64_t limit = cfg->runner.stale_after_ms - cfg->runner.heartbeat_ms;
	int64_t now, since = 0;

	if (b->runner_key[0] == '\0' || atomic_load(&b->beat_ok_ms) == 0)
		return 1; /* no runner row, no heartbeat: nothing to reap */
	if (limit < 1)
		limit = 1;
	for (;;) {
		if (atomic_load(&b->fenced) || j->lost) {
			lose_lease(j);
			return 0;
		}
		now = clock_boot_ms();
		if (now - atomic_load(&b->beat_ok_ms) < limit)
			return 1;
		if (since == 0)
			since = now;
		if (now - since >= cfg->runner.stale_after_ms)
			runner_fence(b, "its heartbeat could not be renewed "
					"within runner.stale_after");
		else
			/* the heartbeat thread beats within a beat of
			 * waking */
			(void)poll(NULL, 0, 20);
	}
}

/*
 * Start the agent (the prompt file written first if it needs one),
 * waiting out a lack of file descriptors or processes (resource_wait).
 * Returns 0 (spawned, or a spawn error in t->pr), -1 for an error of
 * baton's own in t->why, 1 when the task was given back, 2 for a bad
 * argv (t->ar), 3 when the lease was found lost before the spawn.
 */
static int
start_agent(struct job *j, struct turn_state *t, const char *prompt)
{
	int64_t wait_ms = RESOURCE_WAIT_MIN_MS;
	int err, rc, argv_done = 0, file = wants_prompt_file(j, prompt);

	t->prompt = prompt;
	for (;;) {
		free(t->why);
		t->why = NULL;
		if (file && job_task_dir(j, &t->why) != 0)
			return -1;
		if (file && file_write(t->pfile, prompt, strlen(prompt)) != 0) {
			err = errno;
			t->why = xasprintf("cannot write %s: %s", t->pfile,
					   strerror(err));
			if (!sys_resource_errno(err))
				return -1;
		} else {
			t->pfile_written = file;
			if (!argv_done &&
			    j->agent->impl->build_argv(&t->call, &t->argv,
						       &t->ar.error)) {
				t->ar.outcome = AGENT_CONFIG_ERROR;
				return 2;
			}
			argv_done = 1;
			if (injected(j->o, "before-spawn", &t->why))
				return -1;
			/* frozen in the instant before the spawn (tests) */
			if (j->o->fail_at != NULL &&
			    strcmp(j->o->fail_at, "stop-before-spawn") == 0)
				raise(SIGSTOP);
			if (!lease_fresh(j))
				return 3;
			if (spawn(j, t) == 0)
				return 0;
			if ((err = t->pr.resource_errno) == 0)
				return -1;
		}
		if ((rc = resource_wait(j, t, err, &wait_ms)) != 0)
			return rc;
		/* The next try creates them anew (O_EXCL, SPEC §9). */
		unlink_run_files(t);
	}
}

/*
 * Run the agent and read what it reported into t->ar.  Returns 0 when
 * there is a turn to record (also a configuration error: a bad argv, a
 * missing binary), -1 for an error of baton's own in t->why, or 1 when
 * the task was given back for want of resources (nothing to record).
 */
static int
run_agent(struct job *j, struct turn_state *t, const char *prompt)
{
	struct agent_exit ex;
	int rc;

	if ((rc = start_agent(j, t, prompt)) == 3)
		return 0; /* the lease is lost: nothing ran (j->lost) */
	if (rc == -1)
		keep_result(j, t); /* it may have run (a log not made) */
	if (rc != 0)
		return rc == 2 ? 0 : rc; /* 2: a bad argv, a turn to record */
	if (t->pr.spawn_errno != 0) {
		/* Startup failure, not a resume failure: the session keeps
		 * its id (S13). */
		j->nobin = t->pr.spawn_errno == ENOENT ? 127 : 126;
		t->ar.outcome = AGENT_CONFIG_ERROR;
		t->ar.error =
			t->why != NULL
				? t->why
				: xasprintf("cannot run %s: %s", t->argv.v[0],
					    strerror(t->pr.spawn_errno));
		t->why = NULL;
		return 0;
	}
	t->spawned = 1;
	j->spawned_any = 1;
	t->ar.num_turns = -1;
	t->ar.duration_ms = -1;
	ex = (struct agent_exit){.exited = t->pr.exited,
				 .exit_code = t->pr.exit_code,
				 .signal = t->pr.signal,
				 .out_bytes = t->pr.out_bytes,
				 .err_bytes = t->pr.err_bytes};
	j->agent->impl->parse_result(&t->call, &ex, t->out, t->err, &t->ar);
	keep_result(j, t);
	usage_in_range(&t->ar);
	show_held_output(j, t);
	return 0;
}

/*
 * The secrets of a task (SPEC §3): the values of its profile's env:,
 * and (redactor_new() adds them) the values of baton's own environment
 * variables named like secrets.
 */
static struct redactor *
profile_redactor(const struct agent_profile *p)
{
	struct strvec values;
	struct redactor *r;
	char *const *e;
	const char *eq;

	strvec_init(&values);
	for (e = p->env; e != NULL && *e != NULL; e++)
		if ((eq = strchr(*e, '=')) != NULL)
			strvec_push(&values, eq + 1);
	r = redactor_new((const char *const *)values.v);
	strvec_release(&values);
	return r;
}

const struct redactor *
orch_redactor(struct orch *o, const struct agent_profile *p)
{
	size_t i;

	if (!o->b->cfg->logs.redact)
		return NULL;
	for (i = 0; i < o->nagents; i++) {
		if (strcmp(o->agents[i].profile, p->name) != 0)
			continue;
		if (o->agents[i].redactor == NULL)
			o->agents[i].redactor = profile_redactor(p);
		return o->agents[i].redactor;
	}
	return NULL;
}

/*
 * The task's redactor: its profile's, made at the profile's first task
 * in this worker (building one scans the whole environment with seven
 * globs: 140,000 instructions, an eighth of a trivial task's); one of
 * the job's own for a profile this worker has no agent of.  NULL when
 * logs.redact is off.
 */
static const struct redactor *
job_redactor(struct job *j)
{
	const struct redactor *r;

	if (!j->o->b->cfg->logs.redact)
		return NULL;
	if ((r = orch_redactor(j->o, j->profile)) != NULL)
		return r;
	if (j->redactor == NULL)
		j->redactor = profile_redactor(j->profile);
	return j->redactor;
}

/* text with the task's secrets replaced (NULL for NULL; logs.redact
 * off: a copy); the caller frees. */
static char *
job_redact(struct job *j, const char *text)
{
	if (text == NULL)
		return NULL;
	return redact(job_redactor(j), text);
}

/*
 * What a run keeps of the agent's answer: redacted first (so that a
 * secret across the cut is still found), then cut to ANSWER_MAX bytes
 * on a UTF-8 boundary with a line saying how long it was.  NULL for
 * none; the caller frees.
 */
static char *
answer_of(struct job *j, const char *text)
{
	char *s, *cut;
	size_t len, n;

	if ((s = job_redact(j, text)) == NULL ||
	    (len = strlen(s)) <= ANSWER_MAX)
		return s;
	n = ANSWER_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	cut = xasprintf("%.*s\n[answer truncated: %zu bytes]", (int)n, s, len);
	free(s);
	return cut;
}

/* The end of the run row from what the process and the agent said. */
static void
fill_run_end(struct job *j, struct turn_state *t, int64_t now)
{
	const struct proc_result *pr = &t->pr;
	const struct agent_result *ar = &t->ar;
	struct db_run *run = &t->run;
	char *d;

	run->ended_at = now;
	run->has_exit_code = t->spawned && pr->exited;
	run->exit_code = pr->exit_code;
	run->signal = t->spawned ? pr->signal : 0;
	run->input_tokens = ar->input_tokens;
	run->output_tokens = ar->output_tokens;
	run->cache_read_tokens = ar->cache_read_tokens;
	run->cache_creation_tokens = ar->cache_creation_tokens;
	run->cost_usd = ar->cost_usd;
	run->num_turns = ar->num_turns;
	run->duration_ms = ar->duration_ms >= 0 ? ar->duration_ms
			   : t->spawned		? pr->duration_ms
						: -1;
	if (t->spawned && pr->reason == PROC_TIMED_OUT) {
		d = duration_format(j->timeout_ms);
		run->outcome = RUN_TIMED_OUT;
		run->error = xasprintf("timed out after %s", d);
		free(d);
	} else if (t->spawned && pr->reason == PROC_STOPPED) {
		run->outcome = RUN_CANCELLED;
		run->error = stop_text(j);
	} else {
		run->outcome = outcome_of(ar->outcome);
		run->error = job_redact(j, ar->error);
	}
	run->answer = answer_of(j, ar->text);
	/* A reported id only counts when the agent really ran, and a failed
	 * resume came to no conversation at all. */
	run->agent_session_out = xstrdup_or_null(
		ar->agent_session_id ? ar->agent_session_id
		: t->spawned && ar->outcome != AGENT_CONFIG_ERROR &&
				ar->outcome != AGENT_RESUME_FAILED
			? t->call.agent_session_id
			: NULL);
}

/* The session's side of a recorded turn: chain (S5), usage, and a
 * failed resume (S13).  Inside record_run's transaction. */
static int
record_session(struct job *j, struct turn_state *t, int64_t now, char **cause)
{
	const struct agent_result *ar = &t->ar;
	struct baton *b = j->o->b;
	struct store *db = j->o->db;
	int ran = t->spawned && t->pr.reason == PROC_RAN, rc = 0;

	/* A configuration error leaves no conversation behind unless the
	 * agent says it made one (the claude CLI writes a transcript even
	 * when not logged in): then the id is taken, and the next run must
	 * resume it rather than create it again. */
	if (t->spawned &&
	    (ar->outcome != AGENT_CONFIG_ERROR || ar->agent_session_id != NULL))
		rc = advance_chain(j, &t->run, &t->call, ar->agent_session_id,
				   now, cause);
	if (rc == 0 && t->spawned)
		rc = store_session_add_usage(
			db, j->session.id, j->session_epoch,
			ran && (ar->outcome == AGENT_OK ||
				ar->outcome == AGENT_FAILED),
			ar->input_tokens, ar->output_tokens,
			ar->cache_read_tokens, ar->cache_creation_tokens,
			ar->cost_usd, now, cause);
	if (rc == 0 && ar->outcome == AGENT_RESUME_FAILED && ran) {
		rc = store_session_resume_failed(
			db, j->session.id, j->session_epoch,
			b->cfg->sessions.resume_failure_limit, cause);
		if (rc == 0)
			rc = store_event(db, EVENT_FALLBACK, j->session.id,
					 j->task.id, t->run.id, b->runner_id,
					 ar->error, now, cause);
	}
	return rc;
}

/*
 * SPEC §5: a final write (the end of a run, of a task) that meets a
 * database locked past the busy timeout is tried again, said once, until
 * db.final_write_timeout (or a signal to baton), rather than losing a
 * finished run.  fn is one whole transaction, so that trying it again is
 * safe.
 */
static int
final_write(struct job *j, int (*fn)(struct job *, void *, char **), void *arg,
	    char **cause)
{
	struct store *db = j->o->db;
	int64_t until =
		clock_mono_ms() + j->o->b->cfg->db.final_write_timeout_ms;
	int64_t pause = 50;
	struct pollfd stop = {.fd = j->o->b->stop_fd, .events = POLLIN};
	int said = 0, rc;
	char *msg;

	while ((rc = fn(j, arg, cause)) == -BERR_DB && store_busy(db) &&
	       clock_mono_ms() < until && !stop_requested(j->o)) {
		if (!said) {
			msg = xasprintf("task %lld: %s; retrying for up to "
					"db.final_write_timeout",
					(long long)j->task.id, *cause);
			note(j->o, 0, msg);
			free(msg);
			said = 1;
		}
		free(*cause);
		*cause = NULL;
		poll(&stop, stop.fd >= 0 ? 1 : 0, (int)pause);
		pause = pause * 2 > 1000 ? 1000 : pause * 2;
	}
	return rc;
}

/* The run's end, the chain, the usage, inside the caller's
 * transaction (fenced). */
static int
write_run_end(struct job *j, struct turn_state *t, char **cause)
{
	struct store *db = j->o->db;
	int rc;

	rc = store_run_end(db, &t->run, j->epoch, cause);
	if (rc == 0)
		rc = output_flush(t->live, cause);
	if (rc == 0)
		rc = record_session(j, t, t->run.ended_at, cause);
	if (rc == 0)
		rc = store_task_add_usage(db, j->task.id, j->epoch,
					  j->iteration, t->ar.input_tokens,
					  t->ar.output_tokens, t->ar.cost_usd,
					  cause);
	return rc;
}

/* record_run's transaction. */
static int
record_run_txn(struct job *j, void *arg, char **cause)
{
	struct turn_state *t = arg;
	struct store *db = j->o->db;
	int rc;

	if ((rc = store_begin(db, cause)) != 0)
		return rc;
	rc = write_run_end(j, t, cause);
	if (rc == 0)
		rc = store_commit(db, cause);
	if (rc != 0)
		store_rollback(db);
	return fenced(j, rc);
}

/*
 * Whether the task ends with this turn, whatever it says: then nothing
 * runs between its end and the task's (no check, no retry, no other
 * turn), and finish writes both in one transaction.  A task retry
 * still to come, a check, a transient failure or a failed resume: no.
 */
static int
turn_ends_task(const struct job *j, const struct turn_state *t)
{
	/* a failure retryable() may let run again */
	int retry_left = j->retry < j->task.retries;

	if (t->spawned && t->pr.reason == PROC_STOPPED)
		return 1; /* cancelled */
	if (t->spawned && t->pr.reason == PROC_TIMED_OUT)
		return !retry_left;
	switch (t->ar.outcome) {
	case AGENT_OK:
		return j->task.check_cmd == NULL;
	case AGENT_TRANSIENT:
	case AGENT_RESUME_FAILED:
		return 0;
	case AGENT_BUDGET:
	case AGENT_CONFIG_ERROR:
		return 1; /* never retried */
	default:
		return !retry_left;
	}
}

/*
 * The run's end, the chain, the usage: one transaction; or, for the
 * task's last turn (turn_ends_task), none: t becomes j->ended and
 * finish writes it with the task's end (group commit).
 */
static int
record_run(struct job *j, struct turn_state *t, char **cause)
{
	int rc;

	fill_run_end(j, t, clock_now_ms());
	if (turn_ends_task(j, t))
		j->ended = t; /* its held output too: finish writes it */
	else if ((rc = final_write(j, record_run_txn, t, cause)) != 0)
		return rc;
	else
		output_done(t->live);
	j->cost = num_usd_add(j->cost, t->ar.cost_usd);
	if (t->run.has_exit_code) {
		j->has_exit = 1;
		j->exit_code = t->run.exit_code;
	}
	return j->ended == t ? 0 : reload_session(j, cause);
}

/* What the recorded turn came to for the task. */
static enum turn
decide_turn(struct job *j, struct turn_state *t)
{
	enum turn turn = TURN_FAILED;

	if (t->spawned && t->pr.reason == PROC_TIMED_OUT)
		job_fail(j, TASK_TIMED_OUT, "timeout", xstrdup(t->run.error));
	else if (t->spawned && t->pr.reason == PROC_STOPPED)
		job_fail(j, TASK_CANCELLED, "cancelled", xstrdup(t->run.error));
	else if (t->ar.outcome == AGENT_OK)
		turn = TURN_OK;
	else if (t->ar.outcome == AGENT_TRANSIENT)
		turn = TURN_TRANSIENT;
	else if (t->ar.outcome == AGENT_RESUME_FAILED)
		turn = TURN_RESUME_FAILED;
	else if (t->ar.outcome == AGENT_BUDGET)
		job_fail(j, TASK_FAILED, "budget_exceeded",
			 xstrdup(t->run.error ? t->run.error
					      : "the agent's budget ran out"));
	if (turn != TURN_OK)
		job_fail(j, TASK_FAILED,
			 run_outcome_name(outcome_of(t->ar.outcome)),
			 xstrdup(t->run.error ? t->run.error : "agent failed"));
	return turn;
}

/* An error of baton's own: end the run as such and report it. */
static int
end_in_error(struct job *j, struct turn_state *t, char **cause)
{
	struct store *db = j->o->db;
	/* told to stop while it waited for a process or a descriptor */
	int stopped = j->decided && j->status == TASK_CANCELLED;

	t->run.ended_at = clock_now_ms();
	t->run.outcome = stopped ? RUN_CANCELLED : RUN_ERROR;
	t->run.error = xstrdup(t->why);
	if (store_begin(db, cause) == 0 &&
	    fenced(j, store_run_end(db, &t->run, j->epoch, cause)) == 0 &&
	    output_flush(t->live, cause) == 0)
		fenced(j, store_commit(db, cause));
	store_rollback(db);
	free(*cause);
	*cause = NULL;
	if (stopped)
		return 0;
	*cause = t->why;
	t->why = NULL;
	job_fail(j, TASK_FAILED, "error", xstrdup(*cause));
	return -BERR_FAIL;
}

static struct turn_state *
turn_state_new(void)
{
	struct turn_state *t = xcalloc(1, sizeof *t);

	strvec_init(&t->argv);
	strvec_init(&t->env);
	return t;
}

static void
turn_state_free(struct turn_state *t)
{
	if (t != NULL)
		turn_state_release(t);
	free(t);
}

/*
 * Run the agent once: choose the conversation, record the run's start,
 * spawn, record its end with chain and usage in one transaction.  The
 * task's first turn was chosen and its run row written with the claim
 * (j->first).
 */
static int
run_once(struct job *j, const char *prompt, enum turn *turn, char **cause)
{
	struct turn_state *t = j->first;
	int rc;

	j->first = NULL;
	*turn = TURN_FAILED;
	if (t == NULL &&
	    (rc = choose_conversation(j, t = turn_state_new(), cause)) != 0)
		goto out;
	if ((rc = start_run(j, t, cause)) != 0)
		goto out;
	if ((rc = run_agent(j, t, prompt)) == 1) {
		rc = 0; /* given back: nothing ran, nothing to record */
		goto out;
	}
	if (rc != 0 || injected(j->o, "after-run", &t->why)) {
		rc = end_in_error(j, t, cause);
		goto out;
	}
	if (j->lost) {
		/* its agent was stopped for it: record nothing */
		*cause = xstrdup("lost lease");
		rc = -BERR_LEASE;
		goto out;
	}
	if ((rc = record_run(j, t, cause)) == 0)
		*turn = decide_turn(j, t);
	/* The task's answer is its last run's (also none). */
	free(j->answer);
	j->answer = xstrdup_or_null(t->run.answer);
out:
	if (t != j->ended)
		turn_state_free(t);
	return rc;
}

/*
 * One turn of the agent with its retries: transient failures back off
 * and try again (retry.attempts more times); a failed resume records the
 * failure and repeats the turn once in a fresh conversation (S13).
 */
static int
turn_with_retries(struct job *j, const char *prompt, char **cause)
{
	const struct config *cfg = j->o->b->cfg;
	enum turn t;
	int retries = 0, repeated = 0, rc;

	for (;;) {
		if ((rc = run_once(j, prompt, &t, cause)) != 0)
			return rc;
		if (t == TURN_OK || t == TURN_FAILED)
			return 0;
		if (stop_between_runs(j) || over_budget(j))
			return 0;
		if (t == TURN_RESUME_FAILED) {
			if (repeated)
				return 0;
			repeated = 1;
			j->fresh_next = 1;
		} else {
			if (retries >= cfg->retry.attempts)
				return 0;
			if (sleep_or_stop(j, backoff_ms(j, retries)))
				return 0;
			retries++;
		}
		/* try again: forget the failure this turn recorded */
		j->decided = 0;
		j->reason = NULL;
		free(j->error);
		j->error = NULL;
	}
}

static char *
feedback_prompt(struct job *j, int exit_code, const char *output)
{
	const char *tpl = j->o->b->cfg->iterate_prompt;
	struct strbuf sb;
	char num[16];
	const char *p;

	strbuf_init(&sb);
	for (p = tpl; *p != '\0'; p++) {
		if (strncmp(p, "{check}", 7) == 0) {
			strbuf_adds(&sb, j->task.check_cmd);
			p += 6;
		} else if (strncmp(p, "{exit_code}", 11) == 0) {
			snprintf(num, sizeof num, "%d", exit_code);
			strbuf_adds(&sb, num);
			p += 10;
		} else if (strncmp(p, "{output}", 8) == 0) {
			strbuf_adds(&sb, output);
			p += 7;
		} else
			strbuf_add(&sb, p, 1);
	}
	return strbuf_detach(&sb);
}

/*
 * The quality gate (SPEC §4): run the check in the workdir, record it on
 * the last run.  *passed set; *output is its last 4 KiB (caller frees).
 */
static int
run_check(struct job *j, int *passed, int *exit_code, char **output,
	  char **cause)
{
	struct orch *o = j->o;
	struct store *db = o->db;
	struct proc_spec ps = {0};
	struct proc_result pr = {0};
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", j->task.check_cmd,
			NULL};
	char *path, *why = NULL;
	int64_t wait_ms = RESOURCE_WAIT_MIN_MS;
	int rc;

	*passed = 0;
	*exit_code = 0;
	*output = NULL;
	path = xasprintf("%s/%lld.check", j->task_dir,
			 (long long)j->last_run_id);
	if (job_task_dir(j, cause) != 0) {
		free(path);
		return -BERR_FAIL;
	}
	ps.argv = argv;
	ps.envp = environ;
	ps.cwd = j->task.workdir;
	ps.stdout_path = path;
	ps.stderr_path = NULL;
	ps.merge_stderr = 1;
	ps.stdout_tee_fd = -1;
	ps.stderr_tee_fd = -1;
	ps.log_max_bytes = (uint64_t)o->b->cfg->logs.max_bytes;
	ps.redactor = job_redactor(j);
	ps.timeout_ms = j->timeout_ms;
	ps.kill_grace_ms = j->grace_ms;
	ps.stop_fd = o->b->stop_fd;
	ps.poll_stop = poll_cancel;
	ps.poll_arg = j;
	/* out of descriptors or processes: wait for some, the task's agent
	 * has run (stopped while waiting: decided cancelled) */
	while ((rc = proc_run(&ps, &pr, &why)) != 0 && pr.resource_errno) {
		free(why);
		why = NULL;
		if (resource_wait(j, NULL, pr.resource_errno, &wait_ms)) {
			free(path);
			return 0;
		}
	}
	if (rc != 0 || pr.spawn_errno != 0) {
		*cause = why ? why : xstrdup("cannot run the check");
		free(path);
		return -BERR_FAIL;
	}
	free(why);
	*output = file_read_tail(path, CHECK_TAIL);
	if (*output == NULL)
		*output = xstrdup("");
	free(path);
	*exit_code = pr.exited ? pr.exit_code : 128 + pr.signal;
	if (pr.reason == PROC_TIMED_OUT) {
		job_fail(j, TASK_TIMED_OUT, "timeout",
			 xstrdup("timed out while running the check"));
	} else if (pr.reason == PROC_STOPPED) {
		job_fail(j, TASK_CANCELLED, "cancelled", stop_text(j));
	} else
		*passed = pr.exited && pr.exit_code == 0;

	if ((rc = store_begin(db, cause)) == 0 &&
	    (rc = fenced(j, store_run_set_check(db, j->last_run_id, j->epoch,
						*exit_code, *output, cause))) ==
		    0)
		rc = fenced(j, store_commit(db, cause));
	if (rc != 0)
		store_rollback(db);
	return rc;
}

static int
run_task(struct job *j, char **cause)
{
	char *prompt = xstrdup(j->task.prompt), *output = NULL;
	int max = j->task.max_iterations > 0 ? j->task.max_iterations : 1;
	int passed, exit_code, rc = 0;

	for (j->iteration = 1; j->iteration <= max; j->iteration++) {
		if (over_budget(j))
			break;
		if ((rc = turn_with_retries(j, prompt, cause)) != 0)
			break;
		if (j->decided)
			break;
		if (j->task.check_cmd == NULL) {
			job_fail(j, TASK_COMPLETED, NULL, NULL);
			break;
		}
		free(output);
		if ((rc = run_check(j, &passed, &exit_code, &output, cause)))
			break;
		if (j->decided)
			break;
		if (passed) {
			job_fail(j, TASK_COMPLETED, NULL, NULL);
			break;
		}
		if (j->iteration == max) {
			job_fail(j, TASK_FAILED, "max_iterations",
				 xasprintf("the check still failed (exit %d) "
					   "after %d iterations",
					   exit_code, max));
			break;
		}
		free(j->feedback);
		j->feedback = feedback_prompt(j, exit_code, output);
		if (!j->agent->impl->script_prompt) {
			free(prompt);
			prompt = xstrdup(j->feedback);
		}
	}
	if (j->iteration > max)
		j->iteration = max;
	free(prompt);
	free(output);
	return rc;
}

/*
 * Whether a task that ended so may run again (task retries, SPEC §3):
 * failed or timed out, but not by a budget, a refusal, baton's own
 * error, or a configuration no retry can change (a missing or not
 * executable binary, an agent not logged in or given a bad flag).
 */
static int
retryable(const struct job *j)
{
	static const char *const never[] = {"budget_exceeded", "config_error",
					    "error", "session", NULL};
	size_t i;

	if (j->status == TASK_TIMED_OUT)
		return 1;
	if (j->status != TASK_FAILED || j->nobin)
		return 0;
	for (i = 0; never[i] != NULL; i++)
		if (j->reason != NULL && strcmp(j->reason, never[i]) == 0)
			return 0;
	return 1;
}

/* Forget how the last attempt ended and count the next one. */
static int
next_attempt(struct job *j, char **cause)
{
	struct store *db = j->o->db;
	char *msg;
	int rc;

	msg = xasprintf("retrying (attempt %d) after: %s", j->attempt + 1,
			j->error ? j->error : task_status_name(j->status));
	note(j->o, j->task.id, msg);
	free(msg);
	if ((rc = store_begin(db, cause)) != 0 ||
	    (rc = fenced(j, store_task_attempt(db, j->task.id, j->epoch, 1,
					       j->task.retries, cause))) != 0 ||
	    (rc = fenced(j, store_commit(db, cause))) != 0) {
		store_rollback(db);
		return rc;
	}
	j->attempt++;
	j->decided = 0;
	j->reason = NULL;
	free(j->error);
	j->error = NULL;
	free(j->feedback);
	j->feedback = NULL;
	return 0;
}

/*
 * The task's attempts: run it, and while it ends failed or timed out
 * with retries left, back off (retry.base, retry.max, full jitter) and
 * run it again in its session, resuming the conversation.  A signal or
 * `baton cancel` during the backoff ends it cancelled.
 */
static int
run_attempts(struct job *j, char **cause)
{
	int retry, rc;

	for (retry = 0;; retry++) {
		j->retry = retry;
		if ((rc = run_task(j, cause)) != 0)
			return rc;
		if (retry >= j->task.retries || !retryable(j))
			return 0;
		if (over_budget(j) || retry_stopped(j) ||
		    sleep_or_stop(j, backoff_ms(j, retry)))
			return 0;
		if ((rc = next_attempt(j, cause)) != 0)
			return rc;
	}
}

/* Inside finish's transaction: the run row written with the claim for
 * a first turn that never came (its directory could not be made): it
 * ends as an error of baton's own, with the task's error. */
static int
end_unstarted(struct job *j, int64_t now, char **cause)
{
	struct db_run *run = &j->first->run;

	run->ended_at = now;
	run->outcome = RUN_ERROR;
	free(run->error);
	run->error = xstrdup_or_null(j->error);
	return store_run_end(j->o->db, run, j->epoch, cause);
}

/* What finish's transaction does besides the task's end. */
struct finish_ctx {
	int temp; /* close the temp session */
	int next; /* claim the next task in the same transaction */
	int64_t next_id;
	int next_err;
	char *next_cause;
};

/*
 * Group commit, inside finish's transaction once the task's end is
 * written: claim the next task (claim_locked, prestart and all).  Its
 * failure is rolled back to a savepoint and kept in f, so that the end
 * commits all the same.
 */
static void
claim_after_end(struct orch *o, struct finish_ctx *f)
{
	struct store *db = o->db;
	int rc;

	if ((rc = store_savepoint(db, "next", &f->next_cause)) != 0) {
		f->next_err = rc;
		return;
	}
	rc = claim_locked(o, o->next_milestone, &f->next_id, &f->next_cause);
	if (rc == 0)
		rc = store_savepoint_release(db, "next", &f->next_cause);
	if (rc != 0) {
		store_savepoint_rollback(db, "next");
		discard_ready(o);
		f->next_id = 0;
		f->next_err = rc;
	}
}

/* finish's transaction: the fenced writes first (the last run's end if
 * it was kept for this, the task's end, the session's release), then
 * the temp session's close, then the next claim (f->next). */
static int
finish_txn(struct job *j, void *arg, char **cause)
{
	struct orch *o = j->o;
	struct store *db = o->db;
	int64_t now = clock_now_ms();
	struct finish_ctx *f = arg;
	int temp = f->temp;
	int rc;

	free(f->next_cause);
	f->next_cause = NULL;
	f->next_id = 0;
	f->next_err = 0;
	if ((rc = store_begin_claim(db, cause)) != 0)
		return rc;
	rc = j->ended != NULL	? write_run_end(j, j->ended, cause)
	     : j->first != NULL ? end_unstarted(j, now, cause)
				: 0;
	if (rc == 0)
		rc = store_task_finish(db, j->task.id, j->epoch, j->status,
				       j->has_exit, j->exit_code, j->error,
				       j->reason, now, cause);
	if (rc == 0 && j->session.id != NULL) {
		rc = store_session_unlease(db, j->session.id, j->session_epoch,
					   temp ? now : 0, cause);
		if (rc == 0 && temp)
			rc = store_event(db, EVENT_CLOSE, j->session.id,
					 j->task.id, 0, o->b->runner_id,
					 task_status_name(j->status), now,
					 cause);
	}
	if (rc == 0 && f->next)
		claim_after_end(o, f);
	if (rc == 0)
		rc = store_commit(db, cause);
	if (rc != 0) {
		store_rollback(db);
		discard_ready(o);
		f->next_id = 0;
	}
	return fenced(j, rc);
}

/*
 * Cleanup that runs on every path: end the task, close a temp session
 * (S7), release the lease, all in one transaction (a final write); with
 * the end of the last run if it was kept for this (record_run), and
 * the claim of the next task if may_claim and struct orch's claim_next
 * say so (group commit: res->next).
 */
static int
finish(struct job *j, struct orch_result *res, int may_claim, char **cause)
{
	struct orch *o = j->o;
	struct orch_result ended = {0};
	struct finish_ctx f = {0};
	int temp = j->session.id != NULL && j->session.kind == SESSION_TEMP;
	int rc;

	f.temp = temp;
	if (may_claim && o->claim_next != NULL) {
		ended.status = j->status;
		ended.cost_usd = j->cost;
		f.next = o->claim_next(o->notify_arg, &ended) != 0;
		res->announced = 1;
		res->told.status = ended.status;
		res->told.cost_usd = ended.cost_usd;
	}
	rc = final_write(j, finish_txn, &f, cause);
	if (rc == 0 && j->ended != NULL)
		output_done(j->ended->live);
	if (f.next) {
		res->next = rc == 0 ? ORCH_NEXT_CLAIMED : ORCH_NEXT_NOT_RUN;
		res->next_id = rc == 0 ? f.next_id : 0;
		res->next_err = rc == 0 ? f.next_err : 0;
		res->next_cause = rc == 0 ? f.next_cause : NULL;
		if (rc != 0)
			free(f.next_cause);
	}
	/* The temp session ended with its task (committed): so does its
	 * directory, unless the user keeps them. */
	if (rc == 0 && temp && !o->b->cfg->sessions.keep_temp_dirs &&
	    files_session_dir_done(o->b, j->session.id) != 0) {
		char *msg = xasprintf("cannot remove %s/sessions/%s: %s",
				      o->b->files_dir, j->session.id,
				      strerror(errno));

		note(o, j->task.id, msg);
		free(msg);
	}
	return rc;
}

/* Instead of finish() when the lease was lost: nothing is written; the
 * task ends interrupted as far as this runner says.  Returns 0. */
static int
lost(struct job *j, struct orch_result *res, char **cause)
{
	free(*cause);
	*cause = NULL;
	j->decided = 0;
	job_fail(j, TASK_INTERRUPTED, "lost_lease",
		 xasprintf("lost lease for task %lld (attempt %d superseded)",
			   (long long)j->task.id, j->attempt));
	res->lost = 1;
	return 0;
}

/* prepare's reads: the session, the profile, the agent, the limits;
 * nothing is written (prestart does it inside the claim). */
static int
prepare_rows(struct job *j, char **cause)
{
	struct orch *o = j->o;
	struct baton *b = o->b;
	int found, rc;

	/* The session first: cleanup needs it whatever fails next. */
	if (j->session.id == NULL) {
		if ((rc = store_session_get(o->db, j->task.session_id,
					    &j->session, &found, cause)) != 0)
			return rc;
		if (!found) {
			*cause = xasprintf("task %lld has no session",
					   (long long)j->task.id);
			return -BERR_FAIL;
		}
	}
	if (o->fail_at != NULL && strcmp(o->fail_at, "after-claim") == 0) {
		*cause = xstrdup("injected failure after claim");
		return -BERR_FAIL;
	}
	j->profile = config_agent(b->cfg, j->task.agent);
	if (j->profile == NULL) {
		*cause = xasprintf("unknown agent '%s' (not in the config)",
				   j->task.agent);
		return -BERR_FAIL;
	}
	j->agent = orch_agent(o, j->profile);
	if (j->agent == NULL) {
		const char *kind = agent_kind_name(j->profile->kind);

		*cause = xasprintf("agent '%s' has unknown kind '%s'",
				   j->profile->name, kind ? kind : "?");
		return -BERR_FAIL;
	}
	j->cwd = xstrdup(j->agent->impl->session_cwd ? j->session.workdir
						     : j->task.workdir);
	j->timeout_ms = j->task.timeout_ms	 ? j->task.timeout_ms
			: j->profile->timeout_ms ? j->profile->timeout_ms
						 : b->cfg->defaults.timeout_ms;
	j->grace_ms = j->profile->kill_grace_ms
			      ? j->profile->kill_grace_ms
			      : b->cfg->defaults.kill_grace_ms;
	return 0;
}

/* Everything the task needs before its agent runs (its rows read by
 * prepare_rows unless prestart did). */
static int
prepare(struct job *j, char **cause)
{
	struct baton *b = j->o->b;
	char name[24], *path;
	int rc;

	if (j->profile == NULL && (rc = prepare_rows(j, cause)) != 0)
		return rc;
	/* In the database's own directory, never through a symlink an
	 * agent planted (SPEC §9). */
	snprintf(name, sizeof name, "%lld", (long long)j->task.id);
	j->task_dir = xasprintf("%s/logs/%s", b->files_dir, name);
	/* logs/<task>/ is made with its first file (job_task_dir);
	 * $BATON_RESULT_FILE is in results/, which is made here. */
	if (files_mkdir(b->files_dir, "results", NULL, &j->o->results_made,
			&path, cause) != 0)
		return -BERR_FAIL;
	free(path);
	/* A task's own session: its directory only if the agent needs it
	 * at the start (docs/design.md); $BATON_SESSION_DIR names it all
	 * the same, for an agent to make. */
	if (j->session.kind == SESSION_TEMP &&
	    !agent_needs(j->agent->impl, j->profile, "session_dir")) {
		j->session_dir = xasprintf("%s/sessions/%s", b->files_dir,
					   j->session.id);
		return 0;
	}
	/* a temp session's: reused, empty, when one ended before it
	 * (files_session_dir()); a named one's persists */
	if ((j->session.kind == SESSION_TEMP
		     ? files_session_dir(b, j->session.id, &j->o->sessions_made,
					 &j->session_dir, cause)
		     : files_mkdir(b->files_dir, "sessions", j->session.id,
				   &j->o->sessions_made, &j->session_dir,
				   cause)) != 0)
		return -BERR_FAIL;
	return 0;
}

/*
 * S3 nesting: a worker draining a milestone holds the milestone's
 * session as every agent's prior.  The milestone gets its session with
 * its first task (or a successor when it expires), so follow it.
 */
static void
refresh_scope(struct orch *o)
{
	struct db_milestone m = {0};
	char *cause = NULL;
	size_t i;
	int found;

	if (store_milestone_get_id(o->db, o->scope_milestone, &m, &found,
				   &cause) != 0) {
		free(cause);
		return;
	}
	if (found && m.session_id != NULL &&
	    (o->scope == NULL || strcmp(o->scope, m.session_id) != 0)) {
		free(o->scope);
		o->scope = xstrdup(m.session_id);
		for (i = 0; i < o->nagents; i++)
			agent_set_session_id(&o->agents[i].agent, o->scope);
	}
	db_milestone_release(&m);
}

/* The claimed task id's job as orch_execute starts it: the task read,
 * its leases the claim's.  0, or a negated berr with *cause. */
static int
job_load(struct orch *o, int64_t task_id, struct job *j, char **cause)
{
	int found, rc;

	memset(j, 0, sizeof *j);
	j->o = o;
	j->rng = (uint64_t)clock_now_ms() ^ ((uint64_t)getpid() << 32) ^
		 (uint64_t)task_id * 0x9e3779b97f4a7c15ULL;
	if (j->rng == 0)
		j->rng = 1;
	if ((rc = store_task_get(o->db, task_id, &j->task, &found, cause)) != 0)
		return rc;
	if (!found || j->task.status != TASK_RUNNING) {
		*cause = xasprintf("task %lld is not running here",
				   (long long)task_id);
		db_task_release(&j->task);
		return -BERR_FAIL;
	}
	j->attempt = j->task.attempts;
	j->cost = j->task.cost_usd;
	j->iteration = 1;
	j->epoch = o->epoch;
	j->session_epoch = o->session_epoch;
	return 0;
}

/* What a job holds (not the job itself, nor the S3 prior). */
static void
job_release(struct job *j)
{
	turn_state_free(j->first);
	turn_state_free(j->ended);
	redactor_free(j->redactor);
	free(j->error);
	free(j->feedback);
	free(j->task_dir);
	free(j->cwd);
	free(j->session_dir);
	db_task_release(&j->task);
	db_session_release(&j->session);
}

/* A ready job that will not run here (its claim was rolled back, or the
 * orchestrator goes): the agent gets its prior id back (S3). */
static void
discard_ready(struct orch *o)
{
	struct job *j = o->ready;

	if (j == NULL)
		return;
	o->ready = NULL;
	if (j->assigned)
		agent_set_session_id(j->agent, j->prior); /* S3: restore */
	free(j->prior);
	free(j->answer);
	job_release(j);
	free(j);
}

/*
 * Group commit, inside the claim's transaction once task id is started:
 * its job made ready (o->ready): the rows prepare reads, the session
 * assigned to the agent (S3), the first turn's conversation chosen and
 * its run row written, so that starting the agent costs no transaction
 * of its own.  A task that cannot get so far (an unknown agent, an
 * injected failure) is left to orch_execute, which fails it as before.
 * 0, or the store's error (the claim is then rolled back).
 */
static int
prestart(struct orch *o, int64_t id, char **cause)
{
	struct job *j = xcalloc(1, sizeof *j);
	const char *whose;
	double limit;
	char *why = NULL;
	int rc;

	discard_ready(o);
	o->ready = j;
	if ((rc = job_load(o, id, j, &why)) != 0 ||
	    (rc = prepare_rows(j, &why)) != 0) {
		discard_ready(o);
		if (rc != -BERR_DB) {
			free(why);
			return 0;
		}
		*cause = why;
		return rc;
	}
	j->prior = agent_get_session_id(j->agent);
	agent_set_session_id(j->agent, j->session.id);
	j->assigned = 1;
	if (budget_left(j, &whose, &limit) <= 0 && whose != NULL)
		return 0; /* no turn will run: no run row (over_budget) */
	j->first = turn_state_new();
	if ((rc = choose_conversation(j, j->first, cause)) != 0 ||
	    (rc = insert_run(j, j->first, cause)) != 0)
		discard_ready(o);
	return rc;
}

/* orch_execute's start: the ready job of the claim, or one made here;
 * prepared, the task's session assigned (S3).  Sets *assigned. */
static int
job_start(struct orch *o, int64_t task_id, struct job *j, int *assigned,
	  char **why, char **cause)
{
	int rc;

	if (o->ready != NULL && o->ready->task.id == task_id) {
		*j = *o->ready;
		free(o->ready);
		o->ready = NULL;
	} else {
		discard_ready(o);
		if ((rc = job_load(o, task_id, j, cause)) != 0)
			return rc;
	}
	*assigned = j->assigned;
	if ((rc = prepare(j, why)) != 0)
		return rc;
	/* the first turn's call was made with the claim (prestart), before
	 * prepare named the session's directory ({session_dir}) */
	if (j->first != NULL)
		j->first->call.session_dir = j->session_dir;
	if (j->assigned)
		return 0;
	/* S3: save the prior id, assign the task's session. */
	j->prior = agent_get_session_id(j->agent);
	agent_set_session_id(j->agent, j->session.id);
	j->assigned = *assigned = 1;
	return 0;
}

int
orch_execute(struct orch *o, int64_t task_id, struct orch_result *res,
	     char **cause)
{
	struct job j;
	char *why = NULL;
	int rc, rc2, assigned = 0;

	memset(res, 0, sizeof *res);
	if ((rc = job_start(o, task_id, &j, &assigned, &why, cause)) == 0)
		rc = run_attempts(&j, &why);
	else if (j.task.id == 0) {
		/* not running here: nothing to end */
		free(why);
		return rc;
	}
	if (rc != 0 && !j.decided)
		job_fail(&j, TASK_FAILED, "error",
			 xstrdup(why ? why : "error"));
	if (!j.decided)
		job_fail(&j, TASK_FAILED, "error", xstrdup("no outcome"));

	/* Cleanup, on every path. */
	if (assigned)
		agent_set_session_id(j.agent, j.prior); /* S3: restore */
	free(j.prior);
	/* The scope first: a claim with the task's end assigns the next
	 * task's session over it (S3). */
	if (o->scope_milestone != 0 &&
	    j.task.milestone_id == o->scope_milestone)
		refresh_scope(o);
	/* Given back: unclaimed already, the task is pending again.  A
	 * database error stops the worker: no claim. */
	rc2 = j.lost || j.given_back ? 0
				     : finish(&j, res, rc != -BERR_DB, cause);
	/* A lost lease writes nothing more (SPEC §5), also when finish
	 * found it lost: the outcome it would have written is not this
	 * runner's to report. */
	if (j.lost) {
		rc2 = lost(&j, res, cause);
		rc = 0;
	}
	if (rc2 == 0 && rc != 0) {
		*cause = why;
		why = NULL;
	}
	if (rc2 != 0)
		rc = rc2;

	res->status = j.status;
	res->requeued = j.given_back;
	res->error = xstrdup_or_null(j.error);
	res->nobin = j.nobin;
	res->err = rc;
	res->answer = j.answer;
	res->cost_usd = j.cost;
	free(why);
	job_release(&j);
	return rc;
}
