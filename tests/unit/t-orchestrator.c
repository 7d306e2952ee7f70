/*
 * The session protocol (SPEC §2) driven through core/orchestrator.c with
 * a fake agent_impl that records the ids it is handed and can fail at
 * every step.  Each error path asserts the two promises of S3 and S7:
 * the agent's prior session id is restored, and the temp session is
 * closed (and its lease released).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/agent.h"
#include "core/baton.h"
#include "core/config.h"
#include "core/orchestrator.h"
#include "core/task.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/id.h"
#include "lib/redact.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

#define TEST_NAME "t-orch"
#include "tests/unit/test.h"

/* What the fake agent is told to do, and what it saw. */
enum fake_mode {
	FAKE_OK,	  /* /bin/true */
	FAKE_FAIL,	  /* /bin/false */
	FAKE_NOBIN,	  /* a binary that does not exist */
	FAKE_ARGV_ERR,	  /* build_argv fails (configuration) */
	FAKE_HANG,	  /* sleeps past the timeout */
	FAKE_TRANSIENT,	  /* transient failures, then success */
	FAKE_RESUME,	  /* a resume failure on every resumed call */
	FAKE_FORK,	  /* reports a different session id */
	FAKE_STEAL,	  /* the task is requeued while its agent runs */
	FAKE_STEAL_EARLY, /* requeued before the spawn; sleeps */
	FAKE_SECRETS,	  /* prints the two secrets of test_redactor_cached */
};

static struct {
	enum fake_mode mode;
	int transient_left;
	int calls;
	char seen_id[8][40]; /* call->agent_session_id per call */
	int seen_resume[8];
	char fork_id[40];
	struct store *db; /* FAKE_STEAL: where, and which task */
	int64_t task;
} fake;

/* The secrets of test_redactor_cached: one in the profile's env:, one
 * in baton's own environment under a secret's name. */
#define PROFILE_SECRET "profile-secret-1234"
#define ENVIRON_SECRET "environ-secret-5678"

/* Group commit: how often claim_next was asked, and its answer. */
static int next_asked, next_answer;

/* FAKE_STEAL*: another runner reaps ours and requeues fake.task. */
static void
steal(void)
{
	char *cause = NULL;
	int done = 0;

	assert_int_equal(store_begin(fake.db, &cause), 0);
	assert_int_equal(store_task_requeue(fake.db, fake.task,
					    1u << TASK_RUNNING, &done, &cause),
			 0);
	assert_int_equal(store_commit(fake.db, &cause), 0);
	assert_true(done);
}

static int
fake_build_argv(const struct agent_call *c, struct strvec *argv, char **cause)
{
	int i = fake.calls < 8 ? fake.calls : 7;

	snprintf(fake.seen_id[i], sizeof fake.seen_id[i], "%s",
		 c->agent_session_id ? c->agent_session_id : "");
	fake.seen_resume[i] = c->resume;
	fake.calls++;
	switch (fake.mode) {
	case FAKE_ARGV_ERR:
		*cause = xstrdup("fake: bad flag");
		return -1;
	case FAKE_NOBIN:
		strvec_push(argv, "/nonexistent/baton-fake-agent");
		return 0;
	case FAKE_FAIL:
		strvec_push(argv, "/bin/false");
		return 0;
	case FAKE_SECRETS:
		strvec_push(argv, "/bin/echo");
		strvec_push(argv, "profile=" PROFILE_SECRET);
		strvec_push(argv, "environ=" ENVIRON_SECRET);
		return 0;
	case FAKE_STEAL_EARLY:
		steal();
		/* fall through */
	case FAKE_HANG:
		strvec_push(argv, "/bin/sleep");
		strvec_push(argv, "30");
		return 0;
	default:
		strvec_push(argv, "/bin/true");
		return 0;
	}
}

static void
fake_parse(const struct agent_call *c, const struct agent_exit *pr,
	   const char *out, const char *err, struct agent_result *r)
{
	(void)out;
	(void)err;
	r->outcome = pr->exited && pr->exit_code == 0 ? AGENT_OK : AGENT_FAILED;
	if (r->outcome != AGENT_OK)
		r->error = xstrdup("fake failed");
	if (fake.mode == FAKE_TRANSIENT && fake.transient_left > 0) {
		fake.transient_left--;
		r->outcome = AGENT_TRANSIENT;
		r->error = xstrdup("overloaded");
	}
	if (fake.mode == FAKE_RESUME && c->resume) {
		r->outcome = AGENT_RESUME_FAILED;
		r->error = xstrdup("No conversation found with session ID");
	}
	if (fake.mode == FAKE_FORK)
		r->agent_session_id = xstrdup(fake.fork_id);
	/* another runner reaped ours and requeued the task: its lease is
	 * lost before its end is written */
	if (fake.mode == FAKE_STEAL)
		steal();
	r->input_tokens = 10;
	r->output_tokens = 5;
	r->cost_usd = 0.5;
}

static const struct agent_impl fake_impl = {
	.kind = AGENT_KIND_COMMAND,
	.accepts_session_id = 1,
	.build_argv = fake_build_argv,
	.parse_result = fake_parse,
};

static const struct agent_impl *
fake_find(enum agent_kind kind)
{
	return kind == AGENT_KIND_COMMAND ? &fake_impl : agent_impl_find(kind);
}

static void
print_note(void *arg, int64_t task_id, const char *msg)
{
	(void)arg;
	fprintf(stderr, "# note: task %lld: %s\n", (long long)task_id, msg);
}

struct env {
	struct test_baton t;
	struct orch o;
	const struct agent_profile *profile;
};

static const char config_yaml[] =
	"defaults: {agent: fake, kill_grace: 200ms}\n"
	"retry: {attempts: 2, base: 1ms, max: 2ms}\n"
	"sessions: {resume_failure_limit: 2}\n"
	"agents:\n"
	"  fake: {kind: command, command: [fake],\n"
	"         env: {FAKE_TOKEN: " PROFILE_SECRET "}}\n";

static int
setup(void **state)
{
	struct env *e = xcalloc(1, sizeof *e);

	test_baton_init(&e->t, config_yaml, clock_now_ms());
	orch_init(&e->o, &e->t.b, e->t.b.db);
	e->o.impl_find = fake_find;
	e->o.notify = print_note;
	e->profile = config_agent(&e->t.cfg, "fake");
	assert_non_null(e->profile);
	memset(&fake, 0, sizeof fake);
	next_asked = next_answer = 0;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	int rc;

	orch_release(&e->o);
	rc = test_baton_release(&e->t);
	free(e);
	return rc;
}

/* Resolve s into *t and insert it, the way `baton add` does. */
static int64_t
add_spec(struct env *e, struct task_spec *s, struct db_task *t)
{
	char *cause = NULL;
	int existed;

	assert_int_equal(store_begin(e->t.b.db, &cause), 0);
	if (task_spec_resolve(&e->t.b, e->t.b.db, s, t, &cause) != 0)
		fail_msg("resolve: %s", cause);
	assert_int_equal(store_task_insert(e->t.b.db, t, clock_now_ms(),
					   &existed, &cause),
			 0);
	assert_int_equal(store_commit(e->t.b.db, &cause), 0);
	return t->id;
}

/* Add a task the way `baton add` does. */
static int64_t
add(struct env *e, const char *prompt, const char *session, int new_session)
{
	struct task_spec s = {0};
	struct db_task t = {0};
	int64_t id;

	s.prompt = xstrdup(prompt);
	s.workdir = xstrdup(e->t.dir);
	s.session = xstrdup_or_null(session);
	s.new_session = new_session;
	id = add_spec(e, &s, &t);
	task_spec_release(&s);
	db_task_release(&t);
	return id;
}

static void
get_task(struct env *e, int64_t id, struct db_task *t)
{
	test_get_task(e->t.b.db, id, t);
}

static void
get_session(struct env *e, const char *id, struct db_session *s)
{
	test_get_session(e->t.b.db, id, s);
}

/* Claim id and run it; the prior id the agent held is set beforehand. */
static int
claim_and_run(struct env *e, int64_t id, const char *prior,
	      struct orch_result *res, char **cause)
{
	struct agent *a = orch_agent(&e->o, e->profile);
	int64_t got;

	agent_set_session_id(a, prior);
	assert_int_equal(orch_claim(&e->o, 0, &got, cause), 0);
	assert_int_equal(got, id);
	return orch_execute(&e->o, id, res, cause);
}

/* Run id to its end with no prior id held; whatever the outcome. */
static void
run_ok(struct env *e, int64_t id)
{
	struct orch_result res;
	char *cause = NULL;

	if (claim_and_run(e, id, NULL, &res, &cause) != 0)
		fail_msg("orch_execute: %s", cause);
	orch_result_release(&res);
}

/* S3 and S7 after any ending: prior restored, temp closed, no lease. */
static void
assert_cleaned_up(struct env *e, int64_t id, const char *prior,
		  const char *status)
{
	struct agent *a = orch_agent(&e->o, e->profile);
	struct db_task t = {0};
	struct db_session s = {0};
	char *now = agent_get_session_id(a);

	if (prior == NULL)
		assert_null(now);
	else
		assert_string_equal(now, prior);
	free(now);
	get_task(e, id, &t);
	assert_string_equal(task_status_name(t.status), status);
	assert_non_null(t.session_id);
	get_session(e, t.session_id, &s);
	if (s.kind == SESSION_TEMP)
		assert_string_equal(session_status_name(s.status), "closed");
	assert_int_equal(s.lease_runner, 0);
	db_session_release(&s);
	db_task_release(&t);
}

static const char prior_id[] = "11111111-2222-4333-8444-555555555555";

/*
 * Add a task, have the fake agent run it in mode while the agent holds
 * prior, and check that the task ended in status and that S3 and S7
 * held; the task's id.  *res is the caller's to release.
 */
static int64_t
run_task(struct env *e, enum fake_mode mode, const char *prior,
	 const char *status, struct orch_result *res)
{
	char *cause = NULL;
	int64_t id = add(e, "x", NULL, 0);

	fake.mode = mode;
	if (claim_and_run(e, id, prior, res, &cause) != 0)
		fail_msg("orch_execute: %s", cause);
	assert_string_equal(task_status_name(res->status), status);
	assert_cleaned_up(e, id, prior, status);
	return id;
}

static void
test_success_restores_prior_and_closes_temp(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct db_session s = {0};
	struct db_task t = {0};
	int64_t id = run_task(e, FAKE_OK, prior_id, "completed", &res);

	/* S4: the agent was handed the session's own id on its first run,
	 * and that is the first link of the chain (S5). */
	get_task(e, id, &t);
	assert_string_equal(fake.seen_id[0], t.session_id);
	assert_int_equal(fake.seen_resume[0], 0);
	get_session(e, t.session_id, &s);
	assert_string_equal(session_kind_name(s.kind), "temp");
	assert_string_equal(s.head, t.session_id);
	assert_int_equal(s.turns, 1);
	assert_int_equal(s.input_tokens, 10);
	assert_int_equal(t.input_tokens, 10);
	db_session_release(&s);
	db_task_release(&t);
	orch_result_release(&res);
}

static void
test_prior_none_is_restored_as_none(void **state)
{
	struct orch_result res;

	run_task(*state, FAKE_OK, NULL, "completed", &res);
	orch_result_release(&res);
}

static void
test_agent_failure(void **state)
{
	struct orch_result res;

	run_task(*state, FAKE_FAIL, prior_id, "failed", &res);
	orch_result_release(&res);
}

static void
test_missing_binary(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct db_task t = {0};
	struct db_session s = {0};
	int64_t id = run_task(e, FAKE_NOBIN, prior_id, "failed", &res);

	assert_int_equal(res.nobin, 127);
	/* S13: a startup failure is no resume failure; nothing chained */
	get_task(e, id, &t);
	get_session(e, t.session_id, &s);
	assert_null(s.head);
	assert_int_equal(s.resume_failures, 0);
	db_session_release(&s);
	db_task_release(&t);
	orch_result_release(&res);
}

static void
test_argv_error(void **state)
{
	struct orch_result res;

	run_task(*state, FAKE_ARGV_ERR, prior_id, "failed", &res);
	assert_non_null(strstr(res.error, "bad flag"));
	orch_result_release(&res);
}

static void
test_timeout(void **state)
{
	struct env *e = *state;
	struct orch_result res;

	e->t.cfg.defaults.timeout_ms = 300;
	run_task(e, FAKE_HANG, prior_id, "timed_out", &res);
	orch_result_release(&res);
}

static void
test_signal_stop(void **state)
{
	struct env *e = *state;
	struct orch_result res;

	/* baton got SIGTERM: the stop fd is readable */
	assert_int_equal(write(e->t.stop[1], "x", 1), 1);
	run_task(e, FAKE_HANG, prior_id, "cancelled", &res);
	orch_result_release(&res);
}

static void
test_cancel_request(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct agent *a = orch_agent(&e->o, e->profile);
	struct task_change ch;
	char *cause = NULL;
	int64_t id = add(e, "x", NULL, 0), got;

	fake.mode = FAKE_HANG;
	agent_set_session_id(a, prior_id);
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	/* `baton cancel` from another terminal marks the running task */
	assert_int_equal(task_cancel(&e->t.b, id, &ch, &cause), 0);
	assert_true(ch.found);
	assert_true(ch.changed);
	assert_int_equal(ch.was, TASK_RUNNING);
	assert_int_equal(orch_execute(&e->o, id, &res, &cause), 0);
	assert_string_equal(task_status_name(res.status), "cancelled");
	assert_cleaned_up(e, id, prior_id, "cancelled");
	orch_result_release(&res);
}

/* An error inside baton at each named step still cleans up. */
static void
injected(void **state, const char *where)
{
	struct env *e = *state;
	struct orch_result res;
	char *cause = NULL;
	int64_t id = add(e, "x", NULL, 0);

	e->o.fail_at = where;
	assert_int_not_equal(claim_and_run(e, id, prior_id, &res, &cause), 0);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "injected"));
	free(cause);
	assert_string_equal(task_status_name(res.status), "failed");
	assert_cleaned_up(e, id, prior_id, "failed");
	orch_result_release(&res);
}

static void
test_error_after_claim(void **state)
{
	injected(state, "after-claim");
}

static void
test_error_before_spawn(void **state)
{
	injected(state, "before-spawn");
}

static void
test_error_after_run(void **state)
{
	injected(state, "after-run");
}

/* The bug this design fixes: a second task reusing the first's id. */
static void
test_sequential_tasks_never_share_a_temp_session(void **state)
{
	struct env *e = *state;
	struct db_task t1 = {0}, t2 = {0};
	int64_t a = add(e, "one", NULL, 0), b = add(e, "two", NULL, 0);

	run_ok(e, a);
	run_ok(e, b);
	get_task(e, a, &t1);
	get_task(e, b, &t2);
	assert_string_not_equal(t1.session_id, t2.session_id);
	assert_string_equal(fake.seen_id[0], t1.session_id);
	assert_string_equal(fake.seen_id[1], t2.session_id);
	db_task_release(&t1);
	db_task_release(&t2);
}

/* S2 by UUID: an unknown UUID is created with exactly that id; the
 * second task resumes it (S5: the head). */
static void
test_named_uuid_session_resumes(void **state)
{
	struct env *e = *state;
	static const char u[] = "9a3c9e43-54c7-4f0f-9a53-1f0d1b2c3d4e";
	struct db_session s = {0};
	int64_t a = add(e, "one", u, 0), b;

	run_ok(e, a);
	b = add(e, "two", u, 0);
	run_ok(e, b);
	assert_string_equal(fake.seen_id[0], u);
	assert_int_equal(fake.seen_resume[0], 0);
	assert_string_equal(fake.seen_id[1], u);
	assert_int_equal(fake.seen_resume[1], 1);
	get_session(e, u, &s);
	assert_string_equal(session_kind_name(s.kind), "named");
	assert_string_equal(session_status_name(s.status),
			    "active"); /* named: not closed */
	assert_int_equal(s.turns, 2);
	assert_int_equal(s.lease_runner, 0);
	db_session_release(&s);
}

/* S6: a task whose session is leased does not start. */
static void
test_leased_session_waits(void **state)
{
	struct env *e = *state;
	char *cause = NULL;
	int64_t a = add(e, "one", "shared", 0), b = add(e, "two", "shared", 0);
	int64_t got;

	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(got, a);
	/* b is in a's queue: nothing else may start */
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(got, 0);
	(void)b;
}

static void
test_transient_retried(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct db_run *runs = NULL;
	size_t n = 0;
	char *cause = NULL;
	int64_t id;

	fake.transient_left = 2;
	id = run_task(e, FAKE_TRANSIENT, prior_id, "completed", &res);
	assert_int_equal(store_run_list(e->t.b.db, id, &runs, &n, &cause), 0);
	assert_int_equal(n, 3);
	assert_string_equal(run_outcome_name(runs[0].outcome), "transient");
	assert_string_equal(run_outcome_name(runs[2].outcome), "success");
	/* the retry continues the conversation the first run started */
	assert_string_equal(resume_outcome_name(runs[1].resume_outcome),
			    "resumed");
	db_runs_free(runs, n);
	orch_result_release(&res);
}

static void
test_transient_gives_up(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct db_run *runs = NULL;
	size_t n = 0;
	char *cause = NULL;
	int64_t id;

	fake.transient_left = 100;
	id = run_task(e, FAKE_TRANSIENT, prior_id, "failed", &res);
	assert_int_equal(store_run_list(e->t.b.db, id, &runs, &n, &cause), 0);
	assert_int_equal(n, 3); /* the first try and retry.attempts = 2 */
	db_runs_free(runs, n);
	orch_result_release(&res);
}

/*
 * Task retries (SPEC §3): a task without its own retries takes the
 * worker's (work --retries); each attempt is counted, its runs carry its
 * number and resume the session's conversation; the cleanup is as ever.
 */
static void
test_task_retries(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct db_run *runs = NULL;
	struct db_task t = {0};
	size_t n = 0, i;
	char *cause = NULL;
	int64_t id;

	e->o.retries = 2;
	id = run_task(e, FAKE_FAIL, prior_id, "failed", &res);
	get_task(e, id, &t);
	assert_int_equal(t.attempts, 3);
	assert_int_equal(t.retries, 2);
	assert_int_equal(task_attempts_of(&t, 0), 3);
	/* while it waits or runs: 1 + retries; max_attempts only for a
	 * runner that requeues interrupted tasks */
	t.status = TASK_PENDING;
	t.attempts = 0;
	t.max_attempts = 5;
	assert_int_equal(task_attempts_of(&t, 0), 3);
	t.retries = 0;
	assert_int_equal(task_attempts_of(&t, 0), 1);
	assert_int_equal(task_attempts_of(&t, 1), 5);
	t.status = TASK_RUNNING;
	t.attempts = 1;
	assert_int_equal(task_attempts_of(&t, 0), 1);
	t.status = TASK_PENDING; /* requeued by `baton retry` */
	assert_int_equal(task_attempts_of(&t, 0), 2);
	t.status = TASK_INTERRUPTED;
	assert_int_equal(task_attempts_of(&t, 0), 1);
	assert_int_equal(task_attempts_of(&t, 1), 5);
	assert_int_equal(store_run_list(e->t.b.db, id, &runs, &n, &cause), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(runs[i].attempt, (int)i + 1);
		assert_string_equal(runs[i].session_id, t.session_id);
		assert_string_equal(resume_outcome_name(runs[i].resume_outcome),
				    i == 0 ? "new" : "resumed");
	}
	db_runs_free(runs, n);
	db_task_release(&t);
	orch_result_release(&res);
	/* a configuration error is not retried */
	id = run_task(e, FAKE_ARGV_ERR, prior_id, "failed", &res);
	get_task(e, id, &t);
	assert_int_equal(t.attempts, 1);
	db_task_release(&t);
	orch_result_release(&res);
}

/* --max-cost: the task stops between turns once its cost reached it. */
static void
test_budget_stops_retries(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct task_spec s = {0};
	struct db_task t = {0};
	char *cause = NULL;
	int64_t id;

	s.prompt = xstrdup("x");
	s.workdir = xstrdup(e->t.dir);
	s.max_cost = xstrdup("0.7");
	s.retries = xstrdup("5");
	id = add_spec(e, &s, &t);
	task_spec_release(&s);
	db_task_release(&t);
	fake.mode = FAKE_FAIL;
	if (claim_and_run(e, id, NULL, &res, &cause) != 0)
		fail_msg("orch_execute: %s", cause);
	get_task(e, id, &t);
	assert_string_equal(task_status_name(t.status), "failed");
	assert_string_equal(t.reason, "budget_exceeded");
	assert_int_equal(fake.calls, 2); /* 0.5 a turn */
	assert_int_equal(t.attempts, 2);
	db_task_release(&t);
	orch_result_release(&res);
}

/* S13: a failed resume gets a fresh conversation and one repeat. */
static void
test_resume_failure_falls_back(void **state)
{
	struct env *e = *state;
	static const char u[] = "0b9f1a2e-8c7d-4e6f-9a0b-1c2d3e4f5a6b";
	struct orch_result res;
	struct db_session s = {0};
	struct db_chain_link *chain = NULL;
	struct db_run *runs = NULL;
	size_t n = 0, nr = 0;
	char *cause = NULL;
	int64_t a = add(e, "one", u, 0), b;

	run_ok(e, a);
	fake.mode = FAKE_RESUME;
	b = add(e, "two", u, 0);
	assert_int_equal(claim_and_run(e, b, NULL, &res, &cause), 0);
	assert_string_equal(task_status_name(res.status), "completed");
	orch_result_release(&res);
	assert_int_equal(store_run_list(e->t.b.db, b, &runs, &nr, &cause), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(resume_outcome_name(runs[0].resume_outcome),
			    "resumed");
	assert_string_equal(run_outcome_name(runs[0].outcome), "resume_failed");
	assert_null(runs[0].agent_session_out); /* no conversation came of it */
	assert_string_equal(resume_outcome_name(runs[1].resume_outcome),
			    "fresh_after_failed_resume");
	assert_string_equal(run_outcome_name(runs[1].outcome), "success");
	get_session(e, u, &s);
	assert_int_equal(s.resume_failures, 1);
	assert_int_equal(s.resumable, 1);
	/* the failed resume was no turn of the conversation */
	assert_int_equal(s.turns, 2);
	assert_int_equal(store_session_chain(e->t.b.db, u, &chain, &n, &cause),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(chain_edge_name(chain[0].edge), "first");
	assert_string_equal(chain[0].agent_session_id, u);
	assert_string_equal(chain_edge_name(chain[1].edge),
			    "fresh_after_failed_resume");
	assert_string_equal(chain[1].agent_session_id,
			    runs[1].agent_session_in);
	assert_string_equal(s.head, runs[1].agent_session_in);
	assert_string_not_equal(s.head, u);
	db_chain_free(chain, n);
	db_runs_free(runs, nr);
	db_session_release(&s);
}

/* S5: a reported id that differs becomes the head; next run resumes it. */
static void
test_forked_id_becomes_head(void **state)
{
	struct env *e = *state;
	static const char u[] = "c0ffee00-1234-4abc-8def-0123456789ab";
	static const char f[] = "f0f0f0f0-1234-4abc-8def-0123456789ab";
	struct db_session s = {0};
	int64_t a = add(e, "one", u, 0), b;

	fake.mode = FAKE_FORK;
	snprintf(fake.fork_id, sizeof fake.fork_id, "%s", f);
	run_ok(e, a);
	get_session(e, u, &s);
	assert_string_equal(s.head, f);
	db_session_release(&s);
	b = add(e, "two", u, 0);
	run_ok(e, b);
	assert_string_equal(fake.seen_id[1], f);
	assert_int_equal(fake.seen_resume[1], 1);
}

/* S3 nesting: a worker draining a milestone holds its session as the
 * prior, also once the milestone's first task has created it. */
static void
test_milestone_scope_follows_the_milestone(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct task_spec s = {0};
	struct db_task t = {0};
	struct db_milestone m = {0};
	struct agent *a = orch_agent(&e->o, e->profile);
	char *cause = NULL, *held;
	int found;
	int64_t got;

	s.prompt = xstrdup("in the milestone");
	s.workdir = xstrdup(e->t.dir);
	s.milestone = xstrdup("m1");
	add_spec(e, &s, &t);
	e->o.scope_milestone = t.milestone_id;
	assert_null(e->o.scope); /* the milestone has no session yet */
	assert_int_equal(orch_claim(&e->o, t.milestone_id, &got, &cause), 0);
	assert_int_equal(got, t.id);
	assert_int_equal(orch_execute(&e->o, t.id, &res, &cause), 0);
	orch_result_release(&res);
	assert_int_equal(
		store_milestone_get(e->t.b.db, "m1", &m, &found, &cause), 0);
	assert_non_null(m.session_id);
	held = agent_get_session_id(a);
	assert_non_null(held);
	assert_string_equal(held, m.session_id);
	free(held);
	db_milestone_release(&m);
	db_task_release(&t);
	task_spec_release(&s);
}

/* S4: an agent with no id set mints one; keeps it only with
 * use_session_persistence. */
static void
test_agent_session_for_call(void **state)
{
	struct agent_profile p = {0};
	struct agent a;
	char buf[37], first[37];
	char *id;

	(void)state;
	p.name = (char *)"x";
	agent_init(&a, &fake_impl, &p);
	agent_session_for_call(&a, first);
	assert_true(id_is_uuid(first));
	assert_null(a.session_id); /* not kept */
	agent_session_for_call(&a, buf);
	assert_string_not_equal(buf, first);
	p.use_session_persistence = 1;
	agent_session_for_call(&a, first);
	agent_session_for_call(&a, buf);
	assert_string_equal(buf, first); /* kept */
	/* an explicit id always wins over the flag */
	agent_set_session_id(&a, prior_id);
	agent_session_for_call(&a, buf);
	assert_string_equal(buf, prior_id);
	id = agent_get_session_id(&a);
	assert_string_equal(id, prior_id);
	free(id);
	agent_release(&a);
}

/* struct orch's claim_next for the group-commit tests: counts the
 * questions, answers next_answer. */
static int
claim_next_hook(void *arg, const struct orch_result *ended)
{
	(void)arg;
	(void)ended;
	next_asked++;
	return next_answer;
}

static enum task_status
status_of(struct env *e, int64_t id)
{
	struct db_task t = {0};
	enum task_status st;

	get_task(e, id, &t);
	st = t.status;
	db_task_release(&t);
	return st;
}

/* Task id's runs: exactly one, ended as success with the agent's pid. */
static void
assert_one_run_ended(struct env *e, int64_t id)
{
	struct db_run *runs = NULL;
	size_t n = 0;
	char *cause = NULL;

	assert_int_equal(store_run_list(e->t.b.db, id, &runs, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_true(runs[0].ended_at != 0);
	assert_int_equal(runs[0].outcome, RUN_SUCCESS);
	assert_true(runs[0].pid > 0);
	db_runs_free(runs, n);
}

/* The agent's stdout of task id's only run, as logged. */
static char *
logged_out(struct env *e, int64_t id)
{
	struct db_run *runs = NULL;
	size_t n = 0;
	char *cause = NULL, *path, *text;

	assert_int_equal(store_run_list(e->t.b.db, id, &runs, &n, &cause), 0);
	assert_int_equal(n, 1);
	path = xasprintf("%s/logs/%lld/%lld.out", e->t.b.files_dir,
			 (long long)id, (long long)runs[0].id);
	db_runs_free(runs, n);
	text = test_read(path, NULL);
	free(path);
	return text;
}

/*
 * Issue 12: a worker builds its profile's redactor once, at the first
 * task, and every later task's output is still redacted with it: the
 * values of the profile's env: and of baton's secret-named variables.
 */
static void
test_redactor_cached(void **state)
{
	struct env *e = *state;
	const struct redactor *r;
	char *out, *s;
	int64_t id;
	int i;

	setenv("T_ORCH_API_KEY", ENVIRON_SECRET, 1);
	for (i = 0; i < 3; i++) {
		fake.mode = FAKE_SECRETS;
		id = add(e, "x", NULL, 0);
		run_ok(e, id);
		assert_int_equal(status_of(e, id), TASK_COMPLETED);
		out = logged_out(e, id);
		assert_string_equal(out, "profile=" REDACT_MARK
					 " environ=" REDACT_MARK "\n");
		free(out);
		if (i == 0) {
			/* the task made it and kept it: there before we ask */
			size_t k;
			const struct redactor *kept = NULL;

			for (k = 0; k < e->o.nagents; k++)
				if (strcmp(e->o.agents[k].profile,
					   e->profile->name) == 0)
					kept = e->o.agents[k].redactor;
			assert_non_null(kept);
			r = orch_redactor(&e->o, e->profile);
			assert_ptr_equal(r, kept);
		}
		/* the same one, not one per task */
		assert_ptr_equal(orch_redactor(&e->o, e->profile), r);
	}
	assert_non_null(r);
	s = redact(r, "a " PROFILE_SECRET " b " ENVIRON_SECRET);
	assert_string_equal(s, "a " REDACT_MARK " b " REDACT_MARK);
	free(s);
	unsetenv("T_ORCH_API_KEY");
}

/*
 * Issue 12: a worker checks <files_dir>/logs and /sessions once, at its
 * first task; removed after that (a prune, by hand), they are made
 * again for the next task rather than failing it.
 */
static void
test_files_dirs_made_again(void **state)
{
	struct env *e = *state;
	char *cmd, *out;
	int64_t id;
	int i;

	for (i = 0; i < 2; i++) {
		fake.mode = FAKE_SECRETS;
		id = add(e, "x", NULL, 0);
		run_ok(e, id);
		assert_int_equal(status_of(e, id), TASK_COMPLETED);
		out = logged_out(e, id);
		assert_non_null(out);
		free(out);
		assert_true(e->o.logs_made);
		cmd = xasprintf("rm -rf '%s/logs' '%s/sessions'",
				e->t.b.files_dir, e->t.b.files_dir);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
}

/* An hour: /bin/true ends sooner, its pid goes with its run's end. */
#define PID_LATE_MS (3600 * 1000)

/*
 * Group commit: the end of task n and the claim of task n+1 (with its
 * first run row) are one transaction, and an agent that ends before its
 * pid is owed (o.pid_after_ms) has its pid written with its run's end,
 * so that a task costs one commit.  Written right after the spawn
 * instead (an agent that runs on), the pid is a commit of its own.  The
 * last task's end claims nothing.
 */
static void
group_commit(struct env *e, int64_t pid_after_ms, int per_task)
{
	struct orch_result res;
	char *cause = NULL;
	int64_t ids[3], got;
	uint64_t before;
	int i;

	for (i = 0; i < 3; i++)
		ids[i] = add(e, "x", NULL, 0);
	e->o.pid_after_ms = pid_after_ms;
	e->o.claim_next = claim_next_hook;
	next_answer = 1;
	before = store_commits(e->t.b.db);
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(got, ids[0]);
	for (i = 0; i < 3; i++) {
		assert_int_equal(orch_execute(&e->o, got, &res, &cause), 0);
		assert_int_equal(res.status, TASK_COMPLETED);
		assert_int_equal(res.next, ORCH_NEXT_CLAIMED);
		assert_int_equal(res.next_err, 0);
		assert_int_equal(res.next_id, i < 2 ? ids[i + 1] : 0);
		got = res.next_id;
		orch_result_release(&res);
		/* the agent holds the next task's session already (S3) */
		if (i == 2)
			assert_cleaned_up(e, ids[i], NULL, "completed");
		assert_int_equal(status_of(e, ids[i]), TASK_COMPLETED);
		assert_one_run_ended(e, ids[i]);
	}
	assert_int_equal(next_asked, 3);
	/* the first claim, then each task's end with the next claim (and
	 * its pid before, if owed) */
	assert_int_equal(store_commits(e->t.b.db) - before, 1 + 3 * per_task);
}

static void
test_group_commit_one_commit_a_task(void **state)
{
	group_commit(*state, PID_LATE_MS, 1);
}

static void
test_group_commit_pid_owed(void **state)
{
	group_commit(*state, -1, 2);
}

/* `run` (no claim_next) and a pool that claims no more: the end
 * commits alone; the claim still writes the first run row. */
static void
test_end_alone(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	char *cause = NULL;
	int64_t a = add(e, "x", NULL, 0), b = add(e, "y", NULL, 0), got;
	uint64_t before = store_commits(e->t.b.db);

	e->o.pid_after_ms = PID_LATE_MS;
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(orch_execute(&e->o, a, &res, &cause), 0);
	assert_int_equal(res.next, ORCH_NEXT_NONE);
	orch_result_release(&res);
	assert_int_equal(store_commits(e->t.b.db) - before, 2);
	e->o.claim_next = claim_next_hook;
	next_answer = 0;
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(got, b);
	assert_int_equal(orch_execute(&e->o, b, &res, &cause), 0);
	assert_int_equal(res.next, ORCH_NEXT_NONE);
	assert_int_equal(next_asked, 1);
	orch_result_release(&res);
	assert_int_equal(store_commits(e->t.b.db) - before, 4);
	assert_one_run_ended(e, a);
	assert_one_run_ended(e, b);
}

/*
 * Two tasks of one session: the end of the first releases the session's
 * lease and the claim of the second takes it, in the same transaction
 * (S6), and the second resumes the first's conversation.
 */
static void
test_group_commit_same_session(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	char *cause = NULL;
	int64_t a = add(e, "one", "shared", 0), b = add(e, "two", "shared", 0);
	int64_t got;
	uint64_t before = store_commits(e->t.b.db);

	e->o.pid_after_ms = PID_LATE_MS;
	e->o.claim_next = claim_next_hook;
	next_answer = 1;
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(got, a);
	assert_int_equal(orch_execute(&e->o, a, &res, &cause), 0);
	assert_int_equal(res.next, ORCH_NEXT_CLAIMED);
	assert_int_equal(res.next_id, b);
	orch_result_release(&res);
	assert_int_equal(orch_execute(&e->o, b, &res, &cause), 0);
	assert_int_equal(res.status, TASK_COMPLETED);
	assert_int_equal(res.next_id, 0);
	orch_result_release(&res);
	assert_int_equal(store_commits(e->t.b.db) - before, 1 + 2);
	assert_int_equal(fake.calls, 2);
	assert_int_equal(fake.seen_resume[0], 0);
	assert_int_equal(fake.seen_resume[1], 1);
	assert_string_equal(fake.seen_id[1], fake.seen_id[0]);
	assert_cleaned_up(e, b, NULL, "completed");
}

/*
 * A task whose lease is lost before its end is written (reaped and
 * requeued meanwhile): nothing of its end is written, the result says
 * lost (not the status it meant to write), and no claim ran with it
 * (ORCH_NEXT_NOT_RUN): the worker claims in a transaction of its own.
 */
static void
test_group_commit_lost_end_claims_nothing(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct db_task t = {0};
	struct db_run *runs = NULL;
	size_t n = 0;
	char *cause = NULL;
	int64_t a = add(e, "x", NULL, 0), b = add(e, "y", NULL, 0), got;

	e->o.claim_next = claim_next_hook;
	next_answer = 1;
	fake.mode = FAKE_STEAL;
	fake.db = e->t.b.db;
	fake.task = a;
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(got, a);
	/* lost, as a lease lost while the agent ran is: not an error, and
	 * not the outcome it meant to write (issue 10) */
	assert_int_equal(orch_execute(&e->o, a, &res, &cause), 0);
	assert_null(cause);
	assert_true(res.lost);
	assert_int_equal(res.status, TASK_INTERRUPTED);
	assert_int_equal(res.next, ORCH_NEXT_NOT_RUN);
	assert_int_equal(res.next_id, 0);
	assert_null(e->o.ready);
	orch_result_release(&res);
	/* a is as the reaper left it, b untouched */
	get_task(e, a, &t);
	assert_int_equal(t.status, TASK_PENDING);
	assert_null(t.error);
	db_task_release(&t);
	get_task(e, b, &t);
	assert_int_equal(t.status, TASK_PENDING);
	assert_int_equal(t.attempts, 0);
	db_task_release(&t);
	assert_int_equal(store_run_list(e->t.b.db, b, &runs, &n, &cause), 0);
	assert_int_equal(n, 0);
	db_runs_free(runs, n);
	/* a's run was not ended by the lost runner */
	assert_int_equal(store_run_list(e->t.b.db, a, &runs, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0].ended_at, 0);
	db_runs_free(runs, n);
	/* the worker's own claim takes a again */
	fake.mode = FAKE_OK;
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(got, a);
}

/*
 * The pid's write, once the agent has run o.pid_after_ms, finds the
 * task's lease lost (requeued after the claim, before the spawn): the
 * agent is stopped, the result says lost, and the run has neither pid
 * nor end from this runner.
 */
static void
test_pid_write_finds_lease_lost(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	struct db_run *runs = NULL;
	size_t n = 0;
	char *cause = NULL;
	int64_t a = add(e, "x", NULL, 0), got;

	fake.mode = FAKE_STEAL_EARLY;
	fake.db = e->t.b.db;
	fake.task = a;
	e->o.pid_after_ms = 100;
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(got, a);
	assert_int_equal(orch_execute(&e->o, a, &res, &cause), 0);
	assert_null(cause);
	assert_true(res.lost);
	assert_int_equal(res.status, TASK_INTERRUPTED);
	orch_result_release(&res);
	assert_int_equal(status_of(e, a), TASK_PENDING);
	assert_int_equal(store_run_list(e->t.b.db, a, &runs, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_int_equal(runs[0].pid, 0);
	assert_int_equal(runs[0].ended_at, 0);
	db_runs_free(runs, n);
}

/* Task retries cost a task that succeeds nothing: its last turn's end is
 * still written with the task's, one commit a task. */
static void
test_group_commit_with_retries(void **state)
{
	struct env *e = *state;
	struct orch_result res;
	char *cause = NULL;
	int64_t a = add(e, "x", NULL, 0), b = add(e, "y", NULL, 0), got;
	uint64_t before = store_commits(e->t.b.db);

	e->o.retries = 2;
	e->o.pid_after_ms = PID_LATE_MS;
	e->o.claim_next = claim_next_hook;
	next_answer = 1;
	assert_int_equal(orch_claim(&e->o, 0, &got, &cause), 0);
	assert_int_equal(orch_execute(&e->o, a, &res, &cause), 0);
	assert_int_equal(res.next_id, b);
	orch_result_release(&res);
	assert_int_equal(orch_execute(&e->o, b, &res, &cause), 0);
	assert_int_equal(res.status, TASK_COMPLETED);
	orch_result_release(&res);
	assert_int_equal(store_commits(e->t.b.db) - before, 1 + 2);
	assert_one_run_ended(e, a);
	assert_one_run_ended(e, b);
}

int
main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_success_restores_prior_and_closes_temp),
		T(test_prior_none_is_restored_as_none),
		T(test_agent_failure),
		T(test_missing_binary),
		T(test_argv_error),
		T(test_timeout),
		T(test_signal_stop),
		T(test_cancel_request),
		T(test_error_after_claim),
		T(test_error_before_spawn),
		T(test_error_after_run),
		T(test_sequential_tasks_never_share_a_temp_session),
		T(test_named_uuid_session_resumes),
		T(test_leased_session_waits),
		T(test_transient_retried),
		T(test_transient_gives_up),
		T(test_task_retries),
		T(test_budget_stops_retries),
		T(test_resume_failure_falls_back),
		T(test_forked_id_becomes_head),
		T(test_milestone_scope_follows_the_milestone),
		T(test_group_commit_one_commit_a_task),
		T(test_group_commit_pid_owed),
		T(test_pid_write_finds_lease_lost),
		T(test_end_alone),
		T(test_group_commit_same_session),
		T(test_group_commit_lost_end_claims_nothing),
		T(test_group_commit_with_retries),
		T(test_redactor_cached),
		T(test_files_dirs_made_again),
		cmocka_unit_test(test_agent_session_for_call),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
