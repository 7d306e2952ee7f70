/*
 * Fenced leases (SPEC §5, db/store.h): each claim of a task and each
 * lease of a session takes a new epoch; the runner's later writes name
 * it and change nothing once the lease went (-BERR_LEASE).  And the
 * doctor check for two runs of one session whose times overlap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define TEST_NAME "t-lease"
#include "tests/unit/test.h"

#define T0   ((int64_t)1700000000000)
#define HOUR ((int64_t)3600 * 1000)
#define SID  "11111111-1111-4111-8111-111111111111"

/* Another runner's row (on another host), alive. */
static int64_t
other_runner(struct test_baton *tb)
{
	struct db_runner r = {0};
	char *cause = NULL;
	int64_t id;

	r.pid = 1;
	r.host = (char *)"elsewhere";
	r.proc_start = 1;
	r.started_at = T0;
	assert_int_equal(store_begin(tb->b.db, &cause), 0);
	assert_int_equal(store_runner_insert(tb->b.db, &r, &id, &cause), 0);
	assert_int_equal(store_commit(tb->b.db, &cause), 0);
	return id;
}

static int64_t
pending_task(struct test_baton *tb)
{
	struct db_task t = {0};

	t.prompt = (char *)"p";
	t.workdir = (char *)"/";
	t.project = (char *)"/";
	t.agent = (char *)"shell";
	return test_insert_task(tb->b.db, &t, T0);
}

static void
add_session(struct store *db)
{
	struct db_session s = {0};
	char *cause = NULL;

	s.id = (char *)SID;
	s.kind = SESSION_NAMED;
	s.name = (char *)"s1";
	s.agent = (char *)"shell";
	s.project = (char *)"/";
	s.workdir = (char *)"/";
	s.os_user = (char *)"me";
	s.status = SESSION_ACTIVE;
	s.created_at = s.last_used_at = T0;
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_insert(db, &s, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
}

/* Reap runner id (requeue: its running tasks go back to pending). */
static void
reap(struct store *db, int64_t id, int requeue)
{
	struct db_orphan *o = NULL;
	char *cause = NULL;
	size_t n = 0;

	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(
		store_runner_reap(db, id, T0 + 1, requeue, 0, &o, &n, &cause),
		0);
	assert_int_equal(store_commit(db, &cause), 0);
	free(o);
}

/* Claim task id for runner (in a transaction); its epoch, or the store's
 * error negated in *rc. */
static int64_t
claim(struct store *db, int64_t id, int64_t runner, int *rc)
{
	char *cause = NULL;
	int64_t epoch = -1;

	assert_int_equal(store_begin(db, &cause), 0);
	*rc = store_task_start(db, id, runner, NULL, NULL, NULL, T0, &epoch,
			       &cause);
	if (*rc == 0)
		assert_int_equal(store_commit(db, &cause), 0);
	else
		store_rollback(db);
	free(cause);
	return epoch;
}

static void
begin(struct store *db)
{
	char *cause = NULL;

	assert_int_equal(store_begin(db, &cause), 0);
}

/* The end of one write's transaction: commit it, or roll back when it
 * failed (a lost lease says so); rc. */
static int
end(struct store *db, int rc, char **cause)
{
	if (rc == 0)
		assert_int_equal(store_commit(db, cause), 0);
	else
		store_rollback(db);
	if (rc == -BERR_LEASE)
		assert_non_null(strstr(*cause, "lost lease"));
	free(*cause);
	*cause = NULL;
	return rc;
}

/* One write in a transaction of its own: what it returned. */
#define WRITE(db, call) (begin(db), end(db, (call), &cause))

static size_t
nruns(struct store *db, int64_t task)
{
	struct db_run *runs = NULL;
	size_t n = 0;
	char *cause = NULL;

	assert_int_equal(store_run_list(db, task, &runs, &n, &cause), 0);
	db_runs_free(runs, n);
	return n;
}

/*
 * The case with requeue_interrupted: runner A is reaped while it
 * runs task 1, B claims it again (attempt 2); A's finish, usage, runs,
 * pid, check and attempt change nothing, and B's go through.
 */
static void
test_task_fence(void **state)
{
	struct test_baton tb;
	struct store *db;
	struct db_task t = {0};
	struct db_run r = {0}, late = {0};
	int64_t a, b, id, e1, e2;
	int rc, yes, held;
	char *cause = NULL;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	db = tb.b.db;
	a = tb.b.runner_id;
	b = other_runner(&tb);
	id = pending_task(&tb);

	e1 = claim(db, id, a, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(e1, 1);
	r.task_id = id;
	r.attempt = 1;
	r.iteration = 1;
	r.runner_id = a;
	r.started_at = T0;
	assert_int_equal(WRITE(db, store_run_insert(db, &r, e1, &cause)), 0);
	assert_int_equal(
		WRITE(db, store_run_set_pid(db, r.id, e1, 42, 7, &cause)), 0);
	assert_int_equal(WRITE(db, store_task_add_usage(db, id, e1, 1, 10, 20,
							0.5, &cause)),
			 0);
	assert_int_equal(
		store_task_cancel_requested(db, id, e1, 0, &yes, &held, &cause),
		0);
	assert_int_equal(held, 1);

	/* A is reaped (its heartbeat went stale): task 1 pending again */
	reap(db, a, 1);
	assert_int_equal(
		store_task_cancel_requested(db, id, e1, 0, &yes, &held, &cause),
		0);
	assert_int_equal(held, 0);
	e2 = claim(db, id, b, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(e2, 2);

	/* A wakes up: every write of its attempt is refused */
	r.ended_at = T0 + 5;
	r.outcome = RUN_SUCCESS;
	assert_int_equal(WRITE(db, store_run_end(db, &r, e1, &cause)),
			 -BERR_LEASE);
	assert_int_equal(
		WRITE(db, store_run_set_check(db, r.id, e1, 0, "ok", &cause)),
		-BERR_LEASE);
	assert_int_equal(
		WRITE(db, store_run_set_pid(db, r.id, e1, 43, 8, &cause)),
		-BERR_LEASE);
	late = r;
	late.id = 0;
	assert_int_equal(WRITE(db, store_run_insert(db, &late, e1, &cause)),
			 -BERR_LEASE);
	assert_int_equal(nruns(db, id), 1);
	assert_int_equal(WRITE(db, store_task_add_usage(db, id, e1, 2, 1, 1,
							1.0, &cause)),
			 -BERR_LEASE);
	assert_int_equal(
		WRITE(db, store_task_attempt(db, id, e1, 1, 0, &cause)),
		-BERR_LEASE);
	assert_int_equal(
		WRITE(db, store_task_finish(db, id, e1, TASK_COMPLETED, 1, 0,
					    NULL, NULL, T0 + 5, &cause)),
		-BERR_LEASE);
	test_get_task(db, id, &t);
	assert_int_equal(t.status, TASK_RUNNING);
	assert_int_equal(t.runner_id, b);
	assert_int_equal(t.attempts, 2);
	assert_int_equal(t.input_tokens, 10);
	db_task_release(&t);

	/* the reaped runner may not claim, nor beat */
	id = pending_task(&tb);
	(void)claim(db, id, a, &rc);
	assert_int_equal(rc, -BERR_LEASE);
	assert_int_equal(WRITE(db, store_runner_heartbeat(db, a, T0 + 6,
							  T0 + HOUR, &cause)),
			 -BERR_LEASE);
	assert_int_equal(WRITE(db, store_runner_heartbeat(db, b, T0 + 6,
							  T0 + HOUR, &cause)),
			 0);

	/* B's own writes go through */
	assert_int_equal(
		WRITE(db, store_task_finish(db, 1, e2, TASK_COMPLETED, 1, 0,
					    NULL, NULL, T0 + 7, &cause)),
		0);
	test_get_task(db, 1, &t);
	assert_int_equal(t.status, TASK_COMPLETED);
	db_task_release(&t);
	/* and once it ended, not again */
	assert_int_equal(
		WRITE(db, store_task_finish(db, 1, e2, TASK_FAILED, 1, 1, NULL,
					    NULL, T0 + 8, &cause)),
		-BERR_LEASE);
	/* epoch 0: a command's own write, not fenced */
	assert_int_equal(
		WRITE(db, store_task_finish(db, id, 0, TASK_FAILED, 0, 0, "no",
					    "x", T0 + 8, &cause)),
		0);
	db_run_release(&r);
	assert_int_equal(test_baton_release(&tb), 0);
}

/* The claim records the agent and model the task runs with (one write
 * with the start); a start without an agent keeps what the task had. */
static void
test_start_agent(void **state)
{
	struct test_baton tb;
	struct store *db;
	struct db_task t = {0};
	int64_t id, epoch;
	char *cause = NULL, *had;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	db = tb.b.db;
	id = pending_task(&tb);
	test_get_task(db, id, &t);
	had = xstrdup_or_null(t.agent);
	db_task_release(&t);

	begin(db);
	assert_int_equal(store_task_start(db, id, tb.b.runner_id, NULL, "codex",
					  "gpt-x", T0, &epoch, &cause),
			 0);
	test_get_task(db, id, &t);
	assert_string_equal(t.agent, "codex");
	assert_string_equal(t.model, "gpt-x");
	assert_int_equal(t.status, TASK_RUNNING);
	db_task_release(&t);
	store_rollback(db);

	begin(db);
	assert_int_equal(store_task_start(db, id, tb.b.runner_id, NULL, NULL,
					  "ignored", T0, &epoch, &cause),
			 0);
	test_get_task(db, id, &t);
	if (had == NULL)
		assert_null(t.agent);
	else
		assert_string_equal(t.agent, had);
	assert_null(t.model);
	db_task_release(&t);
	store_rollback(db);
	free(had);
	assert_int_equal(test_baton_release(&tb), 0);
}

/* Without requeue the reaped task is interrupted: A's finish must not
 * turn it into completed. */
static void
test_task_fence_interrupted(void **state)
{
	struct test_baton tb;
	struct store *db;
	struct db_task t = {0};
	int64_t id, e1;
	int rc;
	char *cause = NULL;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	db = tb.b.db;
	id = pending_task(&tb);
	e1 = claim(db, id, tb.b.runner_id, &rc);
	assert_int_equal(rc, 0);
	reap(db, tb.b.runner_id, 0);
	assert_int_equal(
		WRITE(db, store_task_finish(db, id, e1, TASK_COMPLETED, 1, 0,
					    NULL, NULL, T0 + 5, &cause)),
		-BERR_LEASE);
	test_get_task(db, id, &t);
	assert_int_equal(t.status, TASK_INTERRUPTED);
	db_task_release(&t);
	assert_int_equal(test_baton_release(&tb), 0);
}

/*
 * A reaper judged runner A dead by the heartbeat it read; A woke and
 * renewed before the reap's transaction: the reap changes nothing (so A
 * keeps its leases and agents).  Reaped by the heartbeat it still has, it
 * is dead.
 */
static void
test_reap_after_renewal(void **state)
{
	struct test_baton tb;
	struct store *db;
	struct db_orphan *o = NULL;
	struct db_task t = {0};
	size_t n = 9;
	int64_t a, id, e1;
	int rc;
	char *cause = NULL;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	db = tb.b.db;
	a = tb.b.runner_id;
	id = pending_task(&tb);
	e1 = claim(db, id, a, &rc);
	assert_int_equal(rc, 0);
	/* seen at T0 (started_at), renewed at T0 + 50 */
	assert_int_equal(WRITE(db, store_runner_heartbeat(db, a, T0 + 50,
							  T0 + HOUR, &cause)),
			 0);
	begin(db);
	assert_int_equal(
		store_runner_reap(db, a, T0 + 60, 1, T0, &o, &n, &cause), 0);
	assert_int_equal(end(db, 0, &cause), 0);
	assert_int_equal(n, 0);
	assert_null(o);
	test_get_task(db, id, &t);
	assert_int_equal(t.status, TASK_RUNNING);
	db_task_release(&t);
	assert_int_equal(
		WRITE(db, store_task_add_usage(db, id, e1, 1, 1, 1, 0, &cause)),
		0);
	/* judged by the heartbeat it has: reaped */
	begin(db);
	assert_int_equal(
		store_runner_reap(db, a, T0 + 60, 0, T0 + 50, &o, &n, &cause),
		0);
	assert_int_equal(end(db, 0, &cause), 0);
	free(o);
	test_get_task(db, id, &t);
	assert_int_equal(t.status, TASK_INTERRUPTED);
	db_task_release(&t);
	assert_int_equal(WRITE(db, store_runner_heartbeat(db, a, T0 + 70,
							  T0 + HOUR, &cause)),
			 -BERR_LEASE);
	assert_int_equal(test_baton_release(&tb), 0);
}

static void
lease(struct store *db, int64_t runner, int64_t task, int64_t now,
      int64_t expires, int *got, int64_t *epoch)
{
	char *cause = NULL;
	int64_t holder;

	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_lease(db, SID, runner, task, now,
					     expires, got, &holder, epoch,
					     &cause),
			 0);
	assert_int_equal(store_commit(db, &cause), 0);
}

/*
 * The case without requeue: B leased the session after reaping
 * A; A's release, head, usage and resume failure change nothing, so no
 * third task can start in the session while B's runs.
 */
static void
test_session_fence(void **state)
{
	struct test_baton tb;
	struct store *db;
	struct db_session s = {0};
	int64_t a, b, e1, e2, e3, e4;
	int got;
	char *cause = NULL;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	db = tb.b.db;
	a = tb.b.runner_id;
	b = other_runner(&tb);
	add_session(db);

	lease(db, a, 1, T0, T0 + HOUR, &got, &e1);
	assert_int_equal(got, 1);
	assert_int_equal(e1, 1);
	assert_int_equal(
		WRITE(db, store_session_push_head(db, SID, e1, "c1", EDGE_FIRST,
						  0, T0, &cause)),
		0);
	lease(db, b, 2, T0, T0 + HOUR, &got, &e2);
	assert_int_equal(got, 0); /* A holds it */

	reap(db, a, 0);
	lease(db, b, 2, T0 + 1, T0 + HOUR, &got, &e2);
	assert_int_equal(got, 1);
	assert_int_equal(e2, 2);

	assert_int_equal(
		WRITE(db, store_session_push_head(db, SID, e1, "c2",
						  EDGE_RESUME, 0, T0, &cause)),
		-BERR_LEASE);
	assert_int_equal(
		WRITE(db, store_session_add_usage(db, SID, e1, 1, 5, 5, 0, 0,
						  1.0, T0, &cause)),
		-BERR_LEASE);
	assert_int_equal(
		WRITE(db, store_session_resume_failed(db, SID, e1, 1, &cause)),
		-BERR_LEASE);
	assert_int_equal(
		WRITE(db, store_session_unlease(db, SID, e1, 0, &cause)),
		-BERR_LEASE);
	test_get_session(db, SID, &s);
	assert_int_equal(s.lease_runner, b);
	assert_int_equal(s.lease_task, 2);
	assert_string_equal(s.head, "c1");
	assert_int_equal(s.turns, 0);
	assert_int_equal(s.resumable, 1);
	db_session_release(&s);
	assert_int_equal(test_chain_len(db, SID), 1);

	/* B's go through; a released lease is released once */
	assert_int_equal(
		WRITE(db, store_session_add_usage(db, SID, e2, 1, 5, 5, 0, 0,
						  1.0, T0, &cause)),
		0);
	assert_int_equal(
		WRITE(db, store_session_unlease(db, SID, e2, 0, &cause)), 0);
	assert_int_equal(
		WRITE(db, store_session_unlease(db, SID, e2, 0, &cause)),
		-BERR_LEASE);

	/* a lease that ran out (its holder alive but silent) is taken with
	 * a new epoch, and fences the old holder too */
	lease(db, b, 3, T0 + 2, T0 + 10, &got, &e3);
	assert_int_equal(got, 1);
	assert_int_equal(e3, 3);
	lease(db, tb.b.runner_id, 4, T0 + 11, T0 + HOUR, &got, &e4);
	assert_int_equal(got, 1);
	assert_int_equal(e4, 4);
	assert_int_equal(
		WRITE(db, store_session_unlease(db, SID, e3, 0, &cause)),
		-BERR_LEASE);
	test_get_session(db, SID, &s);
	assert_int_equal(s.lease_task, 4);
	assert_string_equal(session_status_name(s.status), "active");
	db_session_release(&s);
	/* released and closed in one write (a temp session's end) */
	assert_int_equal(
		WRITE(db, store_session_unlease(db, SID, e4, T0 + 20, &cause)),
		0);
	test_get_session(db, SID, &s);
	assert_int_equal(s.lease_runner, 0);
	assert_int_equal(s.lease_task, 0);
	assert_string_equal(session_status_name(s.status), "closed");
	assert_int_equal(s.closed_at, T0 + 20);
	assert_int_equal(s.last_used_at, T0 + 20);
	db_session_release(&s);
	assert_int_equal(test_baton_release(&tb), 0);
}

static void
found(void *arg, const char *kind, const char *what)
{
	int *n = arg;

	(void)what;
	if (strcmp(kind, "session-overlap") == 0)
		(*n)++;
}

static void
run_at(struct store *db, int64_t task, const char *session, int64_t start,
       int64_t end)
{
	struct db_run r = {0};
	char *cause = NULL;

	r.task_id = task;
	r.attempt = 1;
	r.iteration = 1;
	r.session_id = (char *)session;
	r.started_at = start;
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_run_insert(db, &r, 0, &cause), 0);
	if (end != 0) {
		r.ended_at = end;
		r.outcome = RUN_SUCCESS;
		assert_int_equal(store_run_end(db, &r, 0, &cause), 0);
	}
	assert_int_equal(store_commit(db, &cause), 0);
}

/* doctor: two runs of one session whose times overlap (an open one
 * counts until now), whatever the order they were recorded in. */
static void
test_doctor_overlap(void **state)
{
	struct test_baton tb;
	struct store *db;
	int64_t id;
	int n = 0, problems = 0;
	char *cause = NULL;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	db = tb.b.db;
	add_session(db);
	id = pending_task(&tb);
	run_at(db, id, SID, T0, T0 + 10);
	run_at(db, id, SID, T0 + 10, T0 + 20); /* back to back: fine */
	run_at(db, id, NULL, T0 + 5, T0 + 15); /* no session */
	assert_int_equal(
		store_doctor(db, 0, T0 + 100, found, &n, &problems, &cause), 0);
	assert_int_equal(n, 0);
	/* a long one recorded later that started first and spans both */
	run_at(db, id, SID, T0 - 5, T0 + 30);
	n = 0;
	assert_int_equal(
		store_doctor(db, 0, T0 + 100, found, &n, &problems, &cause), 0);
	assert_int_equal(n, 2);
	/* an open run (a live runner's) that started before the last ended */
	run_at(db, id, SID, T0 + 25, 0);
	n = 0;
	assert_int_equal(
		store_doctor(db, 0, T0 + 100, found, &n, &problems, &cause), 0);
	assert_int_equal(n, 3);
	assert_int_equal(test_baton_release(&tb), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_fence),
		cmocka_unit_test(test_start_agent),
		cmocka_unit_test(test_task_fence_interrupted),
		cmocka_unit_test(test_reap_after_renewal),
		cmocka_unit_test(test_session_fence),
		cmocka_unit_test(test_doctor_overlap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
