/*
 * The PostgreSQL engine when its connection breaks (db/postgres/open.c):
 * a transaction is replayed on a new connection, ids and all, and a
 * statement outside one simply runs again.  Needs a server: run by
 * tests/cli/postgres.bats with BATON_TEST_PG_URL set to a fresh
 * database; skipped without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define TEST_NAME "pg-replay"
#include "test.h"

#ifdef BATON_POSTGRES
#include <libpq-fe.h>

#include "db/postgres/internal.h"

static const char *
url(void)
{
	const char *u = getenv("BATON_TEST_PG_URL");

	if (u == NULL || *u == '\0')
		skip();
	return u;
}

/* Kill every other connection to the database, as a server restart or
 * a network drop would. */
static void
kill_connections(const char *u)
{
	PGconn *c = PQconnectdb(u);
	PGresult *r;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM "
		      "pg_stat_activity WHERE datname = current_database() "
		      "AND pid <> pg_backend_pid()");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_true(atoi(PQgetvalue(r, 0, 0)) >= 1);
	PQclear(r);
	PQfinish(c);
}

static void
add(struct store *db, const char *prompt, int64_t *id)
{
	struct db_task t = {0};
	char *cause = NULL;
	int existed;

	t.prompt = xstrdup(prompt);
	t.workdir = xstrdup("/tmp");
	t.project = xstrdup("/tmp");
	t.retries = -1;
	t.max_iterations = 1;
	t.max_attempts = 1;
	if (store_task_insert(db, &t, clock_now_ms(), &existed, &cause) != 0)
		fail_msg("%s", cause);
	*id = t.id;
	db_task_release(&t);
}

static void
test_replay(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	struct db_task t = {0};
	struct db_run r = {0};
	char *cause = NULL;
	int64_t a, b, n = 0;
	struct db_task_filter f = {0};

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	assert_int_equal(store_begin(db, &cause), 0);
	add(db, "first", &a);
	r.task_id = a;
	r.attempt = r.iteration = 1;
	r.started_at = clock_now_ms();
	assert_int_equal(store_run_insert(db, &r, 0, &cause), 0);
	kill_connections(u);
	/* the broken connection is seen here: the transaction so far is
	 * replayed (the task and the run with the ids they had) */
	add(db, "second", &b);
	assert_int_equal(store_run_set_pid(db, r.id, 0, 42, 7, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(b, a + 1);
	assert_int_equal(store_task_count(db, &f, &n, &cause), 0);
	assert_int_equal(n, 2);
	test_get_task(db, a, &t);
	assert_string_equal(t.prompt, "first");
	db_task_release(&t);
	{
		struct db_run *runs = NULL;
		size_t nr = 0;

		assert_int_equal(store_run_list(db, a, &runs, &nr, &cause), 0);
		assert_int_equal(nr, 1);
		assert_int_equal(runs[0].id, r.id);
		assert_int_equal(runs[0].pid, 42);
		db_runs_free(runs, nr);
	}
	store_close(db);
}

/* Change task id's prompt on a connection of its own. */
static void
change_elsewhere(const char *u, int64_t id)
{
	PGconn *c = PQconnectdb(u);
	PGresult *r;
	char sql[128];

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	snprintf(sql, sizeof sql,
		 "UPDATE tasks SET prompt = 'changed' WHERE id = %lld",
		 (long long)id);
	r = PQexec(c, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);
}

/* A task (prompt as given) started with no runner, and its first run
 * (*r, its id set), committed: the task's id; *epoch its lease. */
static int64_t
started_run(struct store *db, const char *prompt, int64_t *epoch,
	    struct db_run *r)
{
	char *cause = NULL;
	int64_t a;

	add(db, prompt, &a);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_task_start(db, a, 0, NULL, NULL, NULL,
					  clock_now_ms(), epoch, &cause),
			 0);
	assert_true(*epoch > 0);
	r->task_id = a;
	r->attempt = r->iteration = 1;
	r->started_at = clock_now_ms();
	if (store_run_insert(db, r, *epoch, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(store_commit(db, &cause), 0);
	return a;
}

/*
 * A transaction of writes that may run twice (the agent's pid) goes
 * whole in one round trip, BEGIN to COMMIT: when the connection breaks
 * before any answer, its id is not known, and it is run again; a
 * fenced write of a lease that moved on fails as a lost lease at the
 * COMMIT.
 */
static void
test_again(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	struct db_run r = {0}, *runs = NULL;
	char *cause = NULL;
	int64_t a, epoch = 0;
	size_t nr = 0;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	a = started_run(db, "again", &epoch, &r);

	assert_int_equal(store_begin_own(db, &cause), 0);
	assert_int_equal(store_run_set_pid(db, r.id, epoch, 4242, 9, &cause),
			 0);
	kill_connections(u);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(store_run_list(db, a, &runs, &nr, &cause), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(runs[0].pid, 4242);
	db_runs_free(runs, nr);

	/* an epoch that is not the task's: lost, nothing written */
	assert_int_equal(store_begin_own(db, &cause), 0);
	assert_int_equal(store_run_set_pid(db, r.id, epoch + 1, 1, 1, &cause) ==
					 0
				 ? store_commit(db, &cause)
				 : -BERR_LEASE,
			 -BERR_LEASE);
	assert_non_null(strstr(cause, "lost lease"));
	free(cause);
	cause = NULL;
	store_rollback(db);
	assert_int_equal(store_run_list(db, a, &runs, &nr, &cause), 0);
	assert_int_equal(runs[0].pid, 4242);
	db_runs_free(runs, nr);
	db_run_release(&r);
	store_close(db);
}

/* synchronous_commit as the open transaction of db has it now. */
static char *
sync_commit(struct store *db)
{
	PGresult *res = NULL;
	char *cause = NULL, *v;

	if (pg_exec((struct pg *)db,
		    "SELECT current_setting("
		    "'synchronous_commit')",
		    NULL, &res, "read", &cause) != 0)
		fail_msg("%s", cause);
	v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/*
 * The agent's pid commits without waiting for the WAL flush: its own
 * transaction (store_begin_own()) sets synchronous_commit off for
 * itself, and nothing else does — not a transaction with the write
 * lock, not the next one on the connection.  Its fence holds all the
 * same.
 */
static void
test_pid_no_flush_wait(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	struct db_run r = {0}, *runs = NULL;
	char *cause = NULL, *v;
	int64_t a, epoch = 0;
	size_t nr = 0;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	a = started_run(db, "pid", &epoch, &r);

	assert_int_equal(store_begin_own(db, &cause), 0);
	assert_int_equal(store_run_set_pid(db, r.id, epoch, 77, 9, &cause), 0);
	assert_string_equal(v = sync_commit(db), "off");
	free(v);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_string_equal(v = sync_commit(db), "on");
	free(v);
	/* in a transaction that takes the write lock: waits, as all do */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_run_set_pid(db, r.id, epoch, 78, 9, &cause), 0);
	assert_string_equal(v = sync_commit(db), "on");
	free(v);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(store_run_list(db, a, &runs, &nr, &cause), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(runs[0].pid, 78);
	db_runs_free(runs, nr);
	/* a stale epoch: lost, nothing written */
	assert_int_equal(store_begin_own(db, &cause), 0);
	assert_int_equal(store_run_set_pid(db, r.id, epoch + 1, 1, 1, &cause) ==
					 0
				 ? store_commit(db, &cause)
				 : -BERR_LEASE,
			 -BERR_LEASE);
	free(cause);
	store_rollback(db);
	db_run_release(&r);
	store_close(db);
}

/* A temp session row with id (its other columns made up). */
static struct db_session
session_row(const char *id)
{
	struct db_session s = {0};

	s.id = (char *)id;
	s.kind = SESSION_TEMP;
	s.agent = (char *)"shell";
	s.project = (char *)"/";
	s.workdir = (char *)"/";
	s.os_user = (char *)"me";
	s.status = SESSION_ACTIVE;
	s.created_at = s.last_used_at = clock_now_ms();
	return s;
}

/*
 * A write held back for the next statement (db/store.h) fails there:
 * the read after it answers the write's failure, so does every call
 * after it and the COMMIT, until a ROLLBACK TO a savepoint made before
 * the write, after which the transaction goes on and commits.
 */
static void
test_held_back(void **state)
{
	static const char id[] = "01900000-0000-7000-8000-00000000b0b0";
	const char *u = url();
	struct store *db = NULL;
	struct db_session s = session_row(id);
	struct db_task_filter f = {0};
	char *cause = NULL;
	int64_t n = -1, a;
	int rc, held;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_insert(db, &s, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);

	assert_int_equal(store_begin(db, &cause), 0);
	add(db, "kept", &a);
	assert_int_equal(store_savepoint(db, "x", &cause), 0);
	/* the same id again: a duplicate key, told by the next read */
	held = (rc = store_session_insert(db, &s, &cause)) == 0;
	if (held)
		rc = store_task_count(db, &f, &n, &cause);
	assert_int_equal(rc, -BERR_DB);
	assert_non_null(strstr(cause, "cannot create session"));
	free(cause);
	cause = NULL;
	/* (without pipelines, BATON_PG_NO_PIPELINE: the server's "current
	 * transaction is aborted") */
	assert_int_equal(store_task_count(db, &f, &n, &cause), -BERR_DB);
	assert_true(!held || strstr(cause, "cannot create session") != NULL);
	free(cause);
	cause = NULL;
	store_savepoint_rollback(db, "x");
	assert_int_equal(store_task_count(db, &f, &n, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);

	/* no savepoint to go back to: the COMMIT answers it */
	assert_int_equal(store_begin(db, &cause), 0);
	rc = store_session_insert(db, &s, &cause);
	if (rc == 0)
		rc = store_commit(db, &cause);
	else
		store_rollback(db);
	assert_int_equal(rc, -BERR_DB);
	assert_non_null(strstr(cause, "cannot create session"));
	free(cause);
	cause = NULL;
	/* the first transaction's task is there; nothing of the second */
	{
		struct db_task t = {0};

		test_get_task(db, a, &t);
		assert_string_equal(t.prompt, "kept");
		db_task_release(&t);
	}
	store_close(db);
}

/* rc is the failure of a transaction whose replay answered otherwise:
 * busy, to run again from the top.  *cause freed. */
static void
assert_changed(struct store *db, int rc, char **cause)
{
	assert_int_equal(rc, -BERR_DB);
	assert_non_null(strstr(*cause, "changed meanwhile"));
	assert_true(store_busy(db));
	free(*cause);
	*cause = NULL;
}

/*
 * The connection broke and, before it came back, another machine changed
 * what the transaction had read: the replay answers differently, so the
 * transaction fails — as a serialization failure would, so that the
 * caller runs it again from the top (store_busy), rather than as the
 * fatal error that made a runner of three exit 4 when the server
 * restarted mid-batch.
 */
static void
test_replay_changed(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	struct db_task t = {0};
	char *cause = NULL;
	int64_t a;
	int rc;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	add(db, "to be read", &a);
	assert_int_equal(store_begin(db, &cause), 0);
	test_get_task(db, a, &t);
	db_task_release(&t);
	kill_connections(u);
	change_elsewhere(u, a);
	/* the write waits for the next statement (pipelined with the
	 * COMMIT): the replay's failure is the COMMIT's */
	rc = store_task_set_agent(db, a, "shell", NULL, &cause);
	if (rc == 0)
		rc = store_commit(db, &cause);
	/* it names the statement that answered otherwise */
	assert_non_null(strstr(cause, "(statement 1 of 1, SELECT "));
	assert_non_null(strstr(cause, ": it answered otherwise)"));
	assert_changed(db, rc, &cause);
	store_rollback(db);
	/* run again from the top, it reads the new row and commits */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_false(store_busy(db));
	test_get_task(db, a, &t);
	assert_string_equal(t.prompt, "changed");
	db_task_release(&t);
	assert_int_equal(store_task_set_agent(db, a, "shell", NULL, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	store_close(db);
}

static void
test_outside_txn(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	char *cause = NULL;
	int64_t id, n = 0;
	struct db_task_filter f = {0};

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	assert_int_equal(store_task_count(db, &f, &n, &cause), 0);
	kill_connections(u);
	assert_int_equal(store_task_count(db, &f, &id, &cause), 0);
	assert_int_equal(id, n);
	kill_connections(u);
	/* a write of its own is a transaction of its own */
	assert_int_equal(store_task_set_agent(db, 1, "shell", NULL, &cause), 0);
	store_close(db);
}

/* add --from's many rows a statement (db/postgres/task-many.c), three
 * statements of them, then the connection breaks: the replay gives each
 * row the id it had. */
static void
test_replay_many(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	struct db_task *ts, t = {0};
	char *cause = NULL;
	int *existed;
	int64_t after;
	size_t i, n = 1200;

	(void)state;
	ts = xcalloc(n, sizeof *ts);
	existed = xcalloc(n, sizeof *existed);
	for (i = 0; i < n; i++) {
		ts[i].prompt = xasprintf("many %zu", i);
		ts[i].workdir = xstrdup("/tmp");
		ts[i].project = xstrdup("/tmp");
		/* every third keyed; the last one's key is the first's */
		if (i % 3 == 0)
			ts[i].key = xasprintf("rk%zu", i == n - 3 ? 0 : i);
		ts[i].retries = -1;
		ts[i].max_iterations = 1;
		ts[i].max_attempts = 1;
		ts[i].created_at = clock_now_ms();
	}
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_task_insert_many(db, ts, n, existed, &cause), 0);
	kill_connections(u);
	add(db, "after many", &after);
	assert_int_equal(store_commit(db, &cause), 0);
	for (i = 1; i < n; i++) {
		if (i == n - 3) {
			assert_true(existed[i]);
			assert_int_equal(ts[i].id, ts[0].id);
			continue;
		}
		assert_false(existed[i]);
		assert_int_equal(ts[i].id,
				 ts[0].id + (int64_t)i - (i > n - 3 ? 1 : 0));
	}
	assert_int_equal(after, ts[n - 1].id + 1);
	test_get_task(db, ts[700].id, &t);
	assert_string_equal(t.prompt, "many 700");
	db_task_release(&t);
	for (i = 0; i < n; i++)
		db_task_release(&ts[i]);
	free(ts);
	free(existed);
	store_close(db);
}

/* A live runner's row (pid given); its id. */
static int64_t
runner_row(struct store *db, int64_t pid)
{
	struct db_runner rr = {0};
	char *cause = NULL;
	int64_t id = 0;

	rr.pid = pid;
	rr.proc_start = 1;
	rr.host = (char *)"here";
	rr.boot_id = (char *)"boot";
	rr.started_at = rr.heartbeat_at = clock_now_ms();
	if (store_runner_insert(db, &rr, &id, &cause) != 0)
		fail_msg("%s", cause);
	return id;
}

/* Session id's lease: runner and task (0 when free). */
static void
lease_of(struct store *db, const char *id, int64_t *runner, int64_t *task)
{
	struct db_session s = {0};

	test_get_session(db, id, &s);
	*runner = s.lease_runner;
	*task = s.lease_task;
	db_session_release(&s);
}

/*
 * What a claim folds: a session made in the transaction and leased
 * before anything was sent is made leased (epoch 1; another runner's
 * lease then fails); a savepoint between keeps them apart; the run takes
 * the id reserved with the pick, with no round trip of its own, and
 * keeps it when the transaction is replayed on a new connection.
 */
static void
test_claim_folds(void **state)
{
	static const char s1[] = "01900000-0000-7000-8000-0000000000f1";
	static const char s2[] = "01900000-0000-7000-8000-0000000000f2";
	const char *u = url();
	struct store *db = NULL;
	struct db_session s = session_row(s1);
	struct db_run r = {0}, *runs = NULL;
	char *cause = NULL;
	int64_t runner, other, a, id, epoch = 0, sepoch = 0, holder, lr, lt;
	int64_t now = clock_now_ms();
	size_t nr = 0;
	int got;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	runner = runner_row(db, 1);
	other = runner_row(db, 2);
	add(db, "folds", &a);

	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_task_next(db, 0, a - 1, &id, &cause), 0);
	assert_int_equal(id, a);
	assert_int_equal(store_session_insert(db, &s, &cause), 0);
	assert_int_equal(store_session_lease(db, s1, runner, a, now,
					     now + 60000, &got, &holder,
					     &sepoch, &cause),
			 0);
	assert_true(got);
	assert_int_equal(sepoch, 1);
	assert_int_equal(store_task_start(db, a, runner, s1, "shell", NULL, now,
					  &epoch, &cause),
			 0);
	r.task_id = a;
	r.attempt = r.iteration = 1;
	r.session_id = xstrdup(s1);
	r.runner_id = runner;
	r.started_at = now;
	assert_int_equal(store_run_insert(db, &r, epoch, &cause), 0);
	assert_true(r.id > 0);
	kill_connections(u);
	assert_int_equal(store_commit(db, &cause), 0);

	lease_of(db, s1, &lr, &lt);
	assert_int_equal(lr, runner);
	assert_int_equal(lt, a);
	assert_int_equal(store_run_list(db, a, &runs, &nr, &cause), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(runs[0].id, r.id);
	db_runs_free(runs, nr);
	/* held: another runner does not get it; the holder's epoch is 1 */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_lease(db, s1, other, a + 1, now,
					     now + 60000, &got, &holder,
					     &sepoch, &cause),
			 0);
	assert_false(got);
	assert_int_equal(holder, a);
	assert_int_equal(store_session_unlease(db, s1, 1, 0, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	lease_of(db, s1, &lr, &lt);
	assert_int_equal(lr, 0);

	/* a savepoint between: the lease stays a write of its own, and a
	 * ROLLBACK TO undoes it alone */
	s.id = (char *)s2;
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_insert(db, &s, &cause), 0);
	assert_int_equal(store_savepoint(db, "x", &cause), 0);
	assert_int_equal(store_session_lease(db, s2, runner, a, now,
					     now + 60000, &got, &holder,
					     &sepoch, &cause),
			 0);
	assert_true(got);
	store_savepoint_rollback(db, "x");
	assert_int_equal(store_commit(db, &cause), 0);
	lease_of(db, s2, &lr, &lt);
	assert_int_equal(lr, 0);
	db_run_release(&r);
	store_close(db);
}

/* What a claim leaves: task "prompt" running for a new runner (pid
 * given) in temp session sid, leased; their ids and epochs. */
struct claimed {
	int64_t task, runner, epoch, sepoch;
};

static struct claimed
claim_in(struct store *db, const char *sid, const char *prompt, int64_t pid,
	 int64_t now)
{
	struct db_session s = session_row(sid);
	struct claimed c = {0};
	char *cause = NULL;
	int64_t holder;
	int got;

	c.runner = runner_row(db, pid);
	add(db, prompt, &c.task);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_insert(db, &s, &cause), 0);
	assert_int_equal(store_session_lease(db, sid, c.runner, c.task, now,
					     now + 60000, &got, &holder,
					     &c.sepoch, &cause),
			 0);
	assert_true(got);
	assert_int_equal(store_task_start(db, c.task, c.runner, sid, NULL, NULL,
					  now, &c.epoch, &cause),
			 0);
	assert_int_equal(store_commit(db, &cause), 0);
	return c;
}

/*
 * The writes of a task's end that fold, each pair into one statement on
 * one row: the run's usage and the finish of its task, the session's
 * head (and link) and its usage.  What is stored is what the writes one
 * by one store; a stale epoch in either fails the whole as a lost lease,
 * writing nothing; a savepoint between keeps them apart.
 */
static void
test_end_folds(void **state)
{
	static const char sid[] = "01900000-0000-7000-8000-0000000000e1";
	const char *u = url();
	struct store *db = NULL;
	struct db_session got_s = {0};
	struct db_task t = {0};
	char *cause = NULL;
	int64_t a, epoch, sepoch, now = clock_now_ms();
	struct claimed c;
	int got;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	c = claim_in(db, sid, "end a", 3, now);
	a = c.task;
	epoch = c.epoch;
	sepoch = c.sepoch;

	/* a stale epoch on the finish: nothing of either is written */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(
		store_task_add_usage(db, a, epoch, 1, 5, 7, 0.25, &cause), 0);
	got = store_task_finish(db, a, epoch + 1, TASK_COMPLETED, 1, 0, NULL,
				NULL, now, &cause);
	if (got == 0)
		got = store_commit(db, &cause);
	else
		store_rollback(db);
	assert_int_equal(got, -BERR_LEASE);
	assert_non_null(strstr(cause, "lost lease"));
	free(cause);
	cause = NULL;
	store_rollback(db);
	test_get_task(db, a, &t);
	assert_int_equal(t.status, TASK_RUNNING);
	assert_int_equal(t.input_tokens, 0);
	db_task_release(&t);

	/* the end, folded: head and link, usage, the task's usage and end */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_push_head(db, sid, sepoch, "conv-1",
						 EDGE_FIRST, 0, now, &cause),
			 0);
	assert_int_equal(store_session_add_usage(db, sid, sepoch, 1, 11, 13, 2,
						 3, 0.5, now + 1, &cause),
			 0);
	assert_int_equal(
		store_task_add_usage(db, a, epoch, 1, 5, 7, 0.25, &cause), 0);
	assert_int_equal(store_task_finish(db, a, epoch, TASK_COMPLETED, 1, 0,
					   NULL, NULL, now + 2, &cause),
			 0);
	assert_int_equal(store_commit(db, &cause), 0);
	test_get_task(db, a, &t);
	assert_int_equal(t.status, TASK_COMPLETED);
	assert_int_equal(t.iterations, 1);
	assert_int_equal(t.input_tokens, 5);
	assert_int_equal(t.output_tokens, 7);
	assert_int_equal(t.exit_code, 0);
	assert_int_equal(t.finished_at, now + 2);
	assert_int_equal(t.runner_id, 0);
	db_task_release(&t);
	test_get_session(db, sid, &got_s);
	assert_string_equal(got_s.head, "conv-1");
	assert_int_equal(got_s.turns, 1);
	assert_int_equal(got_s.input_tokens, 11);
	assert_int_equal(got_s.output_tokens, 13);
	assert_int_equal(got_s.last_used_at, now + 1);
	db_session_release(&got_s);
	assert_int_equal(test_chain_len(db, sid), 1);

	/* a stale session epoch on the usage: the head is not set either;
	 * a savepoint between the head and the usage: rolled back alone */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_push_head(db, sid, sepoch, "conv-2",
						 EDGE_RESUME, 0, now, &cause),
			 0);
	got = store_session_add_usage(db, sid, sepoch + 1, 1, 1, 1, 0, 0, 0,
				      now, &cause);
	if (got == 0)
		got = store_commit(db, &cause);
	else
		store_rollback(db);
	assert_int_equal(got, -BERR_LEASE);
	free(cause);
	cause = NULL;
	store_rollback(db);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_push_head(db, sid, sepoch, "conv-3",
						 EDGE_RESUME, 0, now, &cause),
			 0);
	assert_int_equal(store_savepoint(db, "u", &cause), 0);
	assert_int_equal(store_session_add_usage(db, sid, sepoch, 1, 100, 100,
						 0, 0, 0, now + 5, &cause),
			 0);
	store_savepoint_rollback(db, "u");
	assert_int_equal(store_commit(db, &cause), 0);
	test_get_session(db, sid, &got_s);
	assert_string_equal(got_s.head, "conv-3");
	assert_int_equal(got_s.turns, 1);
	assert_int_equal(got_s.input_tokens, 11);
	db_session_release(&got_s);
	assert_int_equal(test_chain_len(db, sid), 2);
	store_close(db);
}

/*
 * The session's release folds into the run's usage of it, held back
 * before (pg_session_unlease()): one write of the row, not two.  What is
 * stored is what the two store one after the other: the usage, the head
 * and its link, the lease gone, closed at the later of the two times; a
 * stale epoch on the release fails the whole as a lost lease, writing
 * nothing; with no usage held back it stays a write of its own.
 */
static void
test_release_folds(void **state)
{
	static const char sid[] = "01900000-0000-7000-8000-0000000000e2";
	static const char sid2[] = "01900000-0000-7000-8000-0000000000e3";
	const char *u = url();
	struct store *db = NULL;
	struct pg *pg;
	struct db_session got_s = {0};
	char *cause = NULL;
	int64_t now = clock_now_ms(), lr, lt;
	struct claimed c, d;
	int rc;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	pg = (struct pg *)db;
	c = claim_in(db, sid, "release a", 7, now);

	/* a stale epoch on the release: nothing of the usage either */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_add_usage(db, sid, c.sepoch, 1, 1, 1, 0,
						 0, 0, now + 1, &cause),
			 0);
	/* held back, it fails at the commit; else here */
	rc = store_session_unlease(db, sid, c.sepoch + 1, now + 2, &cause);
	if (rc == 0) {
		assert_true(pq_pipeline());
		assert_int_equal(pg->ndq, 1);
		rc = store_commit(db, &cause);
	}
	assert_int_equal(rc, -BERR_LEASE);
	assert_non_null(strstr(cause, "lost lease"));
	free(cause);
	cause = NULL;
	store_rollback(db);
	test_get_session(db, sid, &got_s);
	assert_int_equal(got_s.status, SESSION_ACTIVE);
	assert_int_equal(got_s.turns, 0);
	db_session_release(&got_s);
	lease_of(db, sid, &lr, &lt);
	assert_int_equal(lr, c.runner);

	/* head, usage and release: one write; closed at the later time */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_push_head(db, sid, c.sepoch, "conv-r",
						 EDGE_FIRST, 0, now, &cause),
			 0);
	assert_int_equal(store_session_add_usage(db, sid, c.sepoch, 1, 11, 13,
						 2, 3, 0.5, now + 9, &cause),
			 0);
	assert_int_equal(
		store_session_unlease(db, sid, c.sepoch, now + 4, &cause), 0);
	assert_int_equal(pg->ndq, pq_pipeline() ? 1 : 0);
	assert_int_equal(store_commit(db, &cause), 0);
	test_get_session(db, sid, &got_s);
	assert_string_equal(got_s.head, "conv-r");
	assert_int_equal(got_s.turns, 1);
	assert_int_equal(got_s.input_tokens, 11);
	assert_int_equal(got_s.output_tokens, 13);
	assert_int_equal(got_s.cache_read_tokens, 2);
	assert_int_equal(got_s.cache_creation_tokens, 3);
	assert_int_equal(got_s.status, SESSION_CLOSED);
	assert_int_equal(got_s.closed_at, now + 4);
	assert_int_equal(got_s.last_used_at, now + 9);
	db_session_release(&got_s);
	lease_of(db, sid, &lr, &lt);
	assert_int_equal(lr, 0);
	assert_int_equal(lt, 0);
	assert_int_equal(test_chain_len(db, sid), 1);

	/* usage alone, then a release that does not close: the lease goes,
	 * the session stays active, its time the usage's */
	d = claim_in(db, sid2, "release b", 8, now);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_add_usage(db, sid2, d.sepoch, 0, 5, 6, 0,
						 0, 0, now + 3, &cause),
			 0);
	assert_int_equal(store_session_unlease(db, sid2, d.sepoch, 0, &cause),
			 0);
	assert_int_equal(pg->ndq, pq_pipeline() ? 1 : 0);
	assert_int_equal(store_commit(db, &cause), 0);
	test_get_session(db, sid2, &got_s);
	assert_int_equal(got_s.status, SESSION_ACTIVE);
	assert_int_equal(got_s.turns, 0);
	assert_int_equal(got_s.input_tokens, 5);
	assert_int_equal(got_s.last_used_at, now + 3);
	assert_int_equal(got_s.closed_at, 0);
	db_session_release(&got_s);
	lease_of(db, sid2, &lr, &lt);
	assert_int_equal(lr, 0);

	/* nothing held back: the release is a write of its own, and closes
	 * at its time (never earlier than the last use) */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_unlease(db, sid2, 0, now + 1, &cause),
			 0);
	assert_int_equal(store_commit(db, &cause), 0);
	test_get_session(db, sid2, &got_s);
	assert_int_equal(got_s.status, SESSION_CLOSED);
	assert_int_equal(got_s.last_used_at, now + 3);
	assert_int_equal(got_s.closed_at, now + 1);
	db_session_release(&got_s);
	store_close(db);
}

/* How many events session id has. */
static size_t
events_of(struct store *db, const char *id)
{
	struct db_event_row *ev = NULL;
	char *cause = NULL;
	size_t n = 0;

	if (store_session_events(db, id, &ev, &n, &cause) != 0)
		fail_msg("%s", cause);
	db_events_free(ev, n);
	return n;
}

/*
 * An event held back right after another held-back write goes in that
 * write's statement (join_events()): after a plain INSERT (a session's
 * "create"), after a fenced write (the "close" with the release), two
 * in a row, not after a savepoint; each row is stored with its values,
 * through a replay too; and when the fenced write finds its lease gone,
 * the event joined to it is not stored either.
 */
static void
test_events_joined(void **state)
{
	static const char sid[] = "01900000-0000-7000-8000-0000000000d1";
	const char *u = url();
	struct store *db = NULL;
	struct db_session s = session_row(sid);
	struct db_event_row *ev = NULL;
	char *cause = NULL;
	int64_t a, runner, sepoch = 0, holder, now = clock_now_ms();
	size_t n = 0;
	int got, rc;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	runner = runner_row(db, 4);
	add(db, "events", &a);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_session_insert(db, &s, &cause), 0);
	assert_int_equal(store_event(db, EVENT_CREATE, sid, a, 0, runner,
				     "made", now, &cause),
			 0);
	assert_int_equal(store_event(db, EVENT_RESUME, sid, a, 0, runner,
				     "second", now + 1, &cause),
			 0);
	assert_int_equal(store_session_lease(db, sid, runner, a, now,
					     now + 60000, &got, &holder,
					     &sepoch, &cause),
			 0);
	assert_true(got);
	assert_int_equal(store_savepoint(db, "e", &cause), 0);
	assert_int_equal(store_event(db, EVENT_RESUME, sid, a, 0, runner,
				     "after a savepoint", now + 2, &cause),
			 0);
	kill_connections(u);
	assert_int_equal(events_of(db, sid), 3); /* sent, then replayed */
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(store_session_events(db, sid, &ev, &n, &cause), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].kind, EVENT_CREATE);
	assert_string_equal(ev[0].detail, "made");
	assert_int_equal(ev[0].at, now);
	assert_int_equal(ev[0].task_id, a);
	assert_int_equal(ev[0].runner_id, runner);
	assert_string_equal(ev[1].detail, "second");
	assert_string_equal(ev[2].detail, "after a savepoint");
	db_events_free(ev, n);

	/* the release and close with its event; a stale epoch: neither */
	assert_int_equal(store_begin(db, &cause), 0);
	rc = store_session_unlease(db, sid, sepoch + 1, now + 3, &cause);
	if (rc == 0)
		rc = store_event(db, EVENT_CLOSE, sid, a, 0, runner, "stale",
				 now + 3, &cause);
	if (rc == 0)
		rc = store_commit(db, &cause);
	else
		store_rollback(db);
	assert_int_equal(rc, -BERR_LEASE);
	free(cause);
	cause = NULL;
	store_rollback(db);
	assert_int_equal(events_of(db, sid), 3);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(
		store_session_unlease(db, sid, sepoch, now + 4, &cause), 0);
	assert_int_equal(store_event(db, EVENT_CLOSE, sid, a, 0, runner,
				     "closed", now + 4, &cause),
			 0);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(store_session_events(db, sid, &ev, &n, &cause), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ev[3].kind, EVENT_CLOSE);
	assert_string_equal(ev[3].detail, "closed");
	assert_int_equal(ev[3].at, now + 4);
	db_events_free(ev, n);
	store_close(db);
}

/*
 * A task's whole end as work writes it, whose fenced writes of different
 * tables share statements (join_fenced()): the run's end with the
 * session's head and usage, the task's usage and end with the session's
 * release and close and its event.  What is stored is every write's; a
 * stale epoch in the run's end (the second half of a joined statement)
 * fails it all as a lost lease and stores nothing.
 */
static void
test_fenced_joined(void **state)
{
	static const char sid[] = "01900000-0000-7000-8000-0000000000c1";
	const char *u = url();
	struct store *db = NULL;
	struct db_session got_s = {0};
	struct db_task t = {0};
	struct db_run r = {0}, *runs = NULL;
	char *cause = NULL;
	int64_t a, runner, epoch, sepoch, now = clock_now_ms();
	struct claimed c;
	size_t nr = 0;
	int rc, k;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	c = claim_in(db, sid, "joined", 5, now);
	a = c.task;
	runner = c.runner;
	epoch = c.epoch;
	sepoch = c.sepoch;
	assert_int_equal(store_begin(db, &cause), 0);
	r.task_id = a;
	r.attempt = r.iteration = 1;
	r.session_id = xstrdup(sid);
	r.runner_id = runner;
	r.started_at = now;
	assert_int_equal(store_run_insert(db, &r, epoch, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);

	r.ended_at = now + 9;
	r.outcome = RUN_SUCCESS;
	r.input_tokens = 3;
	for (k = 0; k < 2; k++) {
		/* k 0: the run's end with a stale epoch; k 1: as work */
		assert_int_equal(store_begin(db, &cause), 0);
		rc = store_run_end(db, &r, k == 0 ? epoch + 1 : epoch, &cause);
		if (rc == 0)
			rc = store_session_push_head(db, sid, sepoch, "c-1",
						     EDGE_FIRST, r.id, now,
						     &cause);
		if (rc == 0)
			rc = store_session_add_usage(db, sid, sepoch, 1, 3, 4,
						     0, 0, 0.1, now + 9,
						     &cause);
		if (rc == 0)
			rc = store_task_add_usage(db, a, epoch, 1, 3, 4, 0.1,
						  &cause);
		if (rc == 0)
			rc = store_task_finish(db, a, epoch, TASK_COMPLETED, 1,
					       0, NULL, NULL, now + 10, &cause);
		if (rc == 0)
			rc = store_session_unlease(db, sid, sepoch, now + 10,
						   &cause);
		if (rc == 0)
			rc = store_event(db, EVENT_CLOSE, sid, a, 0, runner,
					 "completed", now + 10, &cause);
		if (rc == 0)
			rc = store_commit(db, &cause);
		else
			store_rollback(db);
		assert_int_equal(rc, k == 0 ? -BERR_LEASE : 0);
		free(cause);
		cause = NULL;
		store_rollback(db);
		test_get_task(db, a, &t);
		assert_int_equal(t.status,
				 k == 0 ? TASK_RUNNING : TASK_COMPLETED);
		assert_int_equal(t.input_tokens, k == 0 ? 0 : 3);
		db_task_release(&t);
		test_get_session(db, sid, &got_s);
		assert_int_equal(got_s.status,
				 k == 0 ? SESSION_ACTIVE : SESSION_CLOSED);
		assert_int_equal(got_s.turns, k);
		if (k == 0)
			assert_null(got_s.head);
		else
			assert_string_equal(got_s.head, "c-1");
		assert_int_equal(got_s.lease_runner, k == 0 ? runner : 0);
		db_session_release(&got_s);
		assert_int_equal(store_run_list(db, a, &runs, &nr, &cause), 0);
		assert_int_equal(nr, 1);
		assert_int_equal(runs[0].ended_at, k == 0 ? 0 : now + 9);
		assert_int_equal(runs[0].input_tokens, k == 0 ? 0 : 3);
		db_runs_free(runs, nr);
		assert_int_equal(events_of(db, sid), (size_t)k);
	}
	db_run_release(&r);
	store_close(db);
}

/* The tasks in the store, counted. */
static int64_t
tasks(struct store *db)
{
	struct db_task_filter f = {0};
	char *cause = NULL;
	int64_t n = -1;

	if (store_task_count(db, &f, &n, &cause) != 0)
		fail_msg("%s", cause);
	return n;
}

/*
 * Savepoints (db/postgres/open.c): names made with nothing written
 * between share one server savepoint, a released one stays on the
 * server, a level used again is released first; whatever the sharing,
 * a ROLLBACK TO undoes exactly what came after its name was made —
 * nested, repeated, in a loop deeper than any fixed stack, and after
 * the transaction was replayed on a new connection.
 */
static void
test_savepoints(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	char *cause = NULL;
	int64_t n0, id, kept;
	struct db_task t = {0};
	int i;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	n0 = tasks(db);
	assert_int_equal(store_begin(db, &cause), 0);
	add(db, "sp a", &kept);
	assert_int_equal(store_savepoint(db, "x", &cause), 0);
	assert_int_equal(tasks(db), n0 + 1); /* a read: still shared */
	assert_int_equal(store_savepoint(db, "y", &cause), 0);
	add(db, "sp b", &id);
	store_savepoint_rollback(db, "y");
	assert_int_equal(tasks(db), n0 + 1);
	assert_int_equal(store_savepoint(db, "z", &cause), 0);
	add(db, "sp c", &id);
	assert_int_equal(store_savepoint_release(db, "z", &cause), 0);
	assert_int_equal(tasks(db), n0 + 2);
	store_savepoint_rollback(db, "x");
	assert_int_equal(tasks(db), n0 + 1);

	/* nested, with writes between */
	assert_int_equal(store_savepoint(db, "x", &cause), 0);
	add(db, "sp d", &id);
	assert_int_equal(store_savepoint(db, "y", &cause), 0);
	add(db, "sp e", &id);
	store_savepoint_rollback(db, "y");
	assert_int_equal(tasks(db), n0 + 2);
	/* a loop of savepoints made and released, each after a write */
	for (i = 0; i < 40; i++) {
		assert_int_equal(store_savepoint(db, "loop", &cause), 0);
		add(db, "sp loop", &id);
		if (i % 2 == 0)
			assert_int_equal(
				store_savepoint_release(db, "loop", &cause), 0);
		else
			store_savepoint_rollback(db, "loop");
	}
	assert_int_equal(tasks(db), n0 + 2 + 20);
	/* replayed on a new connection, SAVEPOINTs and ROLLBACK TOs too */
	kill_connections(u);
	add(db, "sp f", &id);
	assert_int_equal(tasks(db), n0 + 2 + 20 + 1);
	store_savepoint_rollback(db, "x");
	assert_int_equal(tasks(db), n0 + 1);

	/* a name never made (or gone): nothing to go back to */
	store_savepoint_rollback(db, "x");
	assert_int_equal(store_savepoint_release(db, "never", &cause),
			 -BERR_DB);
	free(cause);
	cause = NULL;
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(tasks(db), n0 + 1);
	test_get_task(db, kept, &t);
	assert_string_equal(t.prompt, "sp a");
	db_task_release(&t);
	store_close(db);
}

/* How many statements are prepared on the store's own connection. */
static int
prepared(struct store *db)
{
	PGresult *r = PQexec(((struct pg *)db)->conn,
			     "SELECT count(*) FROM pg_prepared_statements");
	int n;

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	n = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* A statement seen twice is prepared and run by name from then on; a
 * new connection (the old one killed) has none, and the statements
 * run and replay there all the same, and are prepared again. */
static void
test_prepared(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	struct db_task_filter f = {0};
	char *cause = NULL;
	int64_t n = -1, m = -1, id;
	int before;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	before = prepared(db);
	assert_int_equal(store_task_count(db, &f, &n, &cause), 0);
	assert_int_equal(prepared(db), before);
	assert_int_equal(store_task_count(db, &f, &m, &cause), 0);
	assert_int_equal(prepared(db), before + 1);
	assert_int_equal(store_task_count(db, &f, &m, &cause), 0);
	assert_int_equal(prepared(db), before + 1);
	assert_int_equal(m, n);

	kill_connections(u);
	assert_int_equal(store_task_count(db, &f, &m, &cause), 0);
	assert_int_equal(m, n);
	assert_int_equal(prepared(db), 0);

	/* inside a transaction: prepared there, then replayed unnamed */
	assert_int_equal(store_begin(db, &cause), 0);
	add(db, "prepared 1", &id);
	add(db, "prepared 2", &id);
	assert_int_equal(store_task_count(db, &f, &m, &cause), 0);
	assert_int_equal(store_task_count(db, &f, &m, &cause), 0);
	assert_true(prepared(db) >= 2);
	kill_connections(u);
	add(db, "prepared 3", &id);
	assert_int_equal(store_task_count(db, &f, &m, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(m, n + 3);
	assert_int_equal(store_task_count(db, &f, &m, &cause), 0);
	assert_int_equal(m, n + 3);
	store_close(db);
}
/* Open u with a short lock timeout: a wait for the write lock fails
 * busy instead of lasting. */
static struct store *
open_quick(const char *u)
{
	struct store_options o = {.busy_timeout_ms = 300};
	struct store *db = NULL;
	char *cause = NULL;

	if (store_open(&db, u, &o, &cause) != 0)
		fail_msg("%s", cause);
	return db;
}

/* A count of the sessions as a claim makes it (limit as given): 0, or
 * the failure, busy or not (*busy). */
static int
count_in(struct store *db, int64_t limit, int *busy)
{
	char *cause = NULL;
	int64_t n = -1;
	int rc = store_session_count_active(db, limit, &n, &cause);

	*busy = rc != 0 && store_busy(db);
	free(cause);
	return rc;
}

#define FAR 1000000

/* begin, then a count far from any limit: 0, or the failure of either,
 * busy or not (*busy). */
static int
begun(struct store *db, int (*begin)(struct store *, char **), int *busy)
{
	char *cause = NULL;
	int rc = begin(db, &cause);

	if (rc == 0)
		return count_in(db, FAR, busy);
	*busy = store_busy(db);
	free(cause);
	return rc;
}

/*
 * Claims run side by side (store_begin_claim: the write lock in shared
 * mode) and a transaction that takes the lock whole waits for them.  A
 * claim's count of the sessions near sessions.max_active — nearer than
 * the connections that may be claiming beside it — fails busy, and the
 * connection's next claims take the lock whole (then one beside them
 * waits) until a count is far from the limit again.
 */
static void
test_claims_beside(void **state)
{
	const char *u = url();
	struct store *a = open_quick(u), *b = open_quick(u), *c = open_quick(u);
	char *cause = NULL;
	int busy;

	(void)state;
	assert_int_equal(store_begin_claim(a, &cause), 0);
	assert_int_equal(count_in(a, FAR, &busy), 0);
	assert_int_equal(store_begin_claim(b, &cause), 0);
	assert_int_equal(count_in(b, FAR, &busy), 0);
	/* whole: waits for both, past its lock timeout (at its BEGIN
	 * without pipelines, with its first statement with them) */
	assert_int_equal(begun(c, store_begin, &busy), -BERR_DB);
	assert_true(busy);
	store_rollback(c);
	assert_int_equal(store_commit(a, &cause), 0);
	assert_int_equal(store_commit(b, &cause), 0);

	/* near the limit beside others: busy, nothing decided */
	assert_int_equal(store_begin_claim(a, &cause), 0);
	assert_int_equal(count_in(a, 1, &busy), -BERR_DB);
	assert_true(busy);
	store_rollback(a);
	/* so a's next claim is alone: exact, and b's waits for it */
	assert_int_equal(store_begin_claim(a, &cause), 0);
	assert_int_equal(count_in(a, 1, &busy), 0);
	assert_int_equal(begun(b, store_begin_claim, &busy), -BERR_DB);
	assert_true(busy);
	store_rollback(b);
	assert_int_equal(store_commit(a, &cause), 0);
	/* a count far from the limit, alone: a's claims share again (b's
	 * own claim after its busy failure was alone: once) */
	assert_int_equal(store_begin_claim(a, &cause), 0);
	assert_int_equal(count_in(a, FAR, &busy), 0);
	assert_int_equal(store_commit(a, &cause), 0);
	assert_int_equal(store_begin_claim(b, &cause), 0);
	assert_int_equal(count_in(b, FAR, &busy), 0);
	assert_int_equal(store_commit(b, &cause), 0);
	assert_int_equal(store_begin_claim(a, &cause), 0);
	assert_int_equal(count_in(a, FAR, &busy), 0);
	assert_int_equal(store_begin_claim(b, &cause), 0);
	assert_int_equal(count_in(b, FAR, &busy), 0);
	assert_int_equal(store_commit(b, &cause), 0);
	assert_int_equal(store_commit(a, &cause), 0);
	store_close(a);
	store_close(b);
	store_close(c);
}

/* Insert a named session "dup" with id in its own transaction of the
 * kind begin makes: 0 or the failure, busy or not (*busy). */
static int
insert_dup(struct store *db, int (*begin)(struct store *, char **),
	   const char *id, int *busy)
{
	struct db_session s = session_row(id);
	char *cause = NULL;
	int rc;

	s.kind = SESSION_NAMED;
	s.name = (char *)"dup";
	assert_int_equal(begin(db, &cause), 0);
	if ((rc = store_session_insert(db, &s, &cause)) == 0)
		rc = store_commit(db, &cause);
	*busy = rc != 0 && store_busy(db);
	store_rollback(db);
	free(cause);
	return rc;
}

/* store_begin_claim(), then a store_begin_own() in it, refused. */
static int
begin_claim_twice(struct store *db, char **cause)
{
	int rc = store_begin_claim(db, cause);

	if (rc == 0) {
		assert_int_equal(store_begin_own(db, cause), -BERR_DB);
		free(*cause);
		*cause = NULL;
	}
	return rc;
}

/* Two claims beside each other making one named session: the second
 * fails on the unique name, busy (claim again, alone); alone, the same
 * failure is not busy. */
static void
test_unique_beside(void **state)
{
	const char *u = url();
	struct store *db = open_quick(u);
	int busy;

	(void)state;
	assert_int_equal(insert_dup(db, store_begin,
				    "01900000-0000-7000-8000-0000000d0001",
				    &busy),
			 0);
	assert_int_equal(insert_dup(db, store_begin_claim,
				    "01900000-0000-7000-8000-0000000d0002",
				    &busy),
			 -BERR_DB);
	assert_true(busy);
	/* the claim after it is alone: the same failure, not busy */
	assert_int_equal(insert_dup(db, store_begin_claim,
				    "01900000-0000-7000-8000-0000000d0003",
				    &busy),
			 -BERR_DB);
	assert_false(busy);
	assert_int_equal(insert_dup(db, store_begin,
				    "01900000-0000-7000-8000-0000000d0004",
				    &busy),
			 -BERR_DB);
	assert_false(busy);
	/* a begin inside a claim is refused, and the claim stays one
	 * beside others: the same failure busy again */
	assert_int_equal(insert_dup(db, begin_claim_twice,
				    "01900000-0000-7000-8000-0000000d0005",
				    &busy),
			 -BERR_DB);
	assert_true(busy);
	store_close(db);
}

/*
 * A claim whose connection breaks after its pick is replayed: on the new
 * connection the pick's unchecked columns differ (the next runs id, the
 * active sessions: one more was made meanwhile), the task does not; the
 * claim goes on with what it read and commits.
 */
static void
test_pick_replayed(void **state)
{
	static const char sid[] = "01900000-0000-7000-8000-00000000e0e0";
	static const char other[] = "01900000-0000-7000-8000-00000000e0e1";
	const char *u = url();
	struct store *db = NULL;
	struct db_session s = session_row(sid), o = session_row(other);
	struct db_run r = {0};
	char *cause = NULL;
	int64_t runner, a, id, n0, n1, holder, sepoch, epoch;
	int got;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	runner = runner_row(db, 4343);
	add(db, "picked", &a);
	assert_int_equal(store_begin_claim(db, &cause), 0);
	assert_int_equal(store_task_next(db, 0, a - 1, &id, &cause), 0);
	assert_int_equal(id, a);
	assert_int_equal(store_session_count_active(db, FAR, &n0, &cause), 0);
	kill_connections(u);
	{
		struct store *side = NULL;

		assert_int_equal(store_open(&side, u, NULL, &cause), 0);
		assert_int_equal(store_session_insert(side, &o, &cause), 0);
		store_close(side);
	}
	assert_int_equal(store_session_count_active(db, FAR, &n1, &cause), 0);
	assert_int_equal(n1, n0); /* what the pick read */
	assert_int_equal(store_session_insert(db, &s, &cause), 0);
	assert_int_equal(store_session_lease(db, sid, runner, a, clock_now_ms(),
					     clock_now_ms() + 60000, &got,
					     &holder, &sepoch, &cause),
			 0);
	assert_true(got);
	assert_int_equal(store_task_start(db, a, runner, sid, NULL, NULL,
					  clock_now_ms(), &epoch, &cause),
			 0);
	r.task_id = a;
	r.attempt = r.iteration = 1;
	r.session_id = (char *)sid;
	r.runner_id = runner;
	r.started_at = clock_now_ms();
	assert_int_equal(store_run_insert(db, &r, epoch, &cause), 0);
	if (store_commit(db, &cause) != 0)
		fail_msg("%s", cause);
	{
		struct db_run *runs = NULL;
		size_t nr = 0;

		assert_int_equal(store_run_list(db, a, &runs, &nr, &cause), 0);
		assert_int_equal(nr, 1);
		assert_int_equal(runs[0].id, r.id);
		db_runs_free(runs, nr);
	}
	assert_int_equal(store_session_count_active(db, FAR, &n1, &cause), 0);
	assert_int_equal(n1, n0 + 2);
	store_close(db);
}

/*
 * A replay that fails leaves the new connection with no transaction
 * open: whatever the caller does next in the transaction — a ROLLBACK
 * TO a savepoint made before the break, the COMMIT — answers the same
 * failure, busy, and nothing of it is committed.  (A COMMIT sent there
 * would "succeed" with a warning, the writes before the break lost: a
 * claim's end whose claim failed so lost the end.)
 */
static void
test_replay_failed_sticks(void **state)
{
	const char *u = url();
	struct store *db = NULL;
	struct db_task t = {0};
	char *cause = NULL;
	int64_t a, b, n0, n1;
	int found, rc;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	add(db, "to be read", &a);
	n0 = tasks(db);
	assert_int_equal(store_begin(db, &cause), 0);
	add(db, "written before the break", &b);
	assert_int_equal(store_savepoint(db, "x", &cause), 0);
	test_get_task(db, a, &t);
	db_task_release(&t);
	kill_connections(u);
	change_elsewhere(u, a);
	rc = store_task_get(db, a, &t, &found, &cause);
	db_task_release(&t);
	assert_changed(db, rc, &cause);
	store_savepoint_rollback(db, "x");
	assert_true(store_busy(db));
	assert_changed(db, store_commit(db, &cause), &cause);
	store_rollback(db);
	n1 = tasks(db);
	assert_int_equal(n1, n0);
	(void)b;
	store_close(db);
}

/* A connection of its own that listens for baton_work. */
static PGconn *
listener(const char *u)
{
	PGconn *c = PQconnectdb(u);

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "LISTEN baton_work"));
	return c;
}

/* How many notifications c has had since the last call: after one
 * round trip, or as many as it takes (for 5 s at most) to see want. */
static int
notified(PGconn *c, int want)
{
	PGnotify *n;
	int k = 0, tries;

	for (tries = 0; tries < 250; tries++) {
		/* what the server sent before its answer is read with it */
		PQclear(PQexec(c, "SELECT 1"));
		while ((n = PQnotifies(c)) != NULL) {
			k++;
			PQfreemem(n);
		}
		if (k >= want)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
	}
	return k;
}

/*
 * A task's end notifies the idle workers once its transaction commits,
 * with a NOTIFY sent after the COMMIT in the same round trip (not inside
 * the transaction, whose commit would then hold the server's notify lock
 * through its WAL flush); a transaction rolled back notifies nobody; an
 * add notifies too.
 */
static void
test_notify_after_commit(void **state)
{
	static const char sid[] = "01900000-0000-7000-8000-0000000000b1";
	const char *u = url();
	struct store *db = NULL;
	PGconn *l = listener(u);
	char *cause = NULL;
	int64_t now = clock_now_ms(), b;
	struct claimed c;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	c = claim_in(db, sid, "notify", 5, now);
	/* the add's */
	assert_int_equal(notified(l, 1), 1);

	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_task_finish(db, c.task, c.epoch, TASK_COMPLETED,
					   1, 0, NULL, NULL, now, &cause),
			 0);
	assert_int_equal(store_session_count_active(db, FAR, &b, &cause), 0);
	assert_int_equal(notified(l, 0), 0);
	store_rollback(db);
	assert_int_equal(notified(l, 0), 0);

	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_task_finish(db, c.task, c.epoch, TASK_COMPLETED,
					   1, 0, NULL, NULL, now, &cause),
			 0);
	assert_int_equal(store_session_count_active(db, FAR, &b, &cause), 0);
	assert_int_equal(notified(l, 0), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(notified(l, 1), 1);

	/* an add, a transaction of its own */
	add(db, "notify again", &b);
	assert_int_equal(notified(l, 1), 1);
	PQfinish(l);
	store_close(db);
}

#define SAME_STR(a, b, f)                                                      \
	do {                                                                   \
		if (((a)->f == NULL) != ((b)->f == NULL) ||                    \
		    ((a)->f != NULL && strcmp((a)->f, (b)->f) != 0))           \
			fail_msg("%s: \"%s\", read \"%s\"", #f,                \
				 (a)->f ? (a)->f : "(null)",                   \
				 (b)->f ? (b)->f : "(null)");                  \
	} while (0)
#define SAME_NUM(a, b, f)                                                      \
	do {                                                                   \
		if ((a)->f != (b)->f)                                          \
			fail_msg("%s: %lld, read %lld", #f, (long long)(a)->f, \
				 (long long)(b)->f);                           \
	} while (0)

/* Every column of two rows of a task. */
static void
same_task(const struct db_task *a, const struct db_task *b)
{
	SAME_NUM(a, b, id);
	SAME_STR(a, b, key);
	SAME_STR(a, b, title);
	SAME_STR(a, b, prompt);
	SAME_NUM(a, b, status);
	SAME_STR(a, b, agent);
	SAME_STR(a, b, model);
	SAME_STR(a, b, workdir);
	SAME_STR(a, b, project);
	SAME_NUM(a, b, milestone_id);
	SAME_STR(a, b, milestone);
	SAME_STR(a, b, session_req);
	SAME_NUM(a, b, new_session);
	SAME_STR(a, b, queue);
	SAME_STR(a, b, session_id);
	SAME_NUM(a, b, timeout_ms);
	SAME_STR(a, b, check_cmd);
	SAME_NUM(a, b, max_iterations);
	SAME_NUM(a, b, max_attempts);
	SAME_NUM(a, b, retries);
	SAME_NUM(a, b, max_cost);
	SAME_NUM(a, b, force_agent);
	SAME_NUM(a, b, allow_foreign);
	SAME_NUM(a, b, attempts);
	SAME_NUM(a, b, iterations);
	SAME_NUM(a, b, has_exit_code);
	SAME_NUM(a, b, exit_code);
	SAME_STR(a, b, error);
	SAME_STR(a, b, reason);
	SAME_NUM(a, b, runner_id);
	SAME_NUM(a, b, cancel_requested);
	SAME_NUM(a, b, input_tokens);
	SAME_NUM(a, b, output_tokens);
	SAME_NUM(a, b, cost_usd);
	SAME_NUM(a, b, created_at);
	SAME_NUM(a, b, started_at);
	SAME_NUM(a, b, finished_at);
	SAME_STR(a, b, answer);
}

/* Every column of two rows of a session. */
static void
same_session(const struct db_session *a, const struct db_session *b)
{
	SAME_STR(a, b, id);
	SAME_NUM(a, b, kind);
	SAME_STR(a, b, name);
	SAME_NUM(a, b, milestone_id);
	SAME_STR(a, b, agent);
	SAME_STR(a, b, model);
	SAME_STR(a, b, project);
	SAME_STR(a, b, workdir);
	SAME_STR(a, b, os_user);
	SAME_NUM(a, b, status);
	SAME_STR(a, b, head);
	SAME_NUM(a, b, turns);
	SAME_NUM(a, b, input_tokens);
	SAME_NUM(a, b, output_tokens);
	SAME_NUM(a, b, cache_read_tokens);
	SAME_NUM(a, b, cache_creation_tokens);
	SAME_NUM(a, b, cost_usd);
	SAME_NUM(a, b, resume_failures);
	SAME_NUM(a, b, resumable);
	SAME_STR(a, b, predecessor);
	SAME_STR(a, b, metadata);
	SAME_NUM(a, b, lease_runner);
	SAME_NUM(a, b, lease_task);
	SAME_NUM(a, b, lease_expires);
	SAME_NUM(a, b, created_at);
	SAME_NUM(a, b, last_used_at);
	SAME_NUM(a, b, closed_at);
}

/* A claim as core makes it, of the next task after skip_after, in temp
 * session sid for runner (agent and model as given; retries to record
 * if not 0): the task's and the session's rows read inside it (*t, *s),
 * and the claim's commit's answer. */
static int
claim_held(struct store *db, const char *sid, int64_t skip_after,
	   int64_t runner, const char *agent, int retries, struct db_task *t,
	   struct db_session *s)
{
	struct db_session row = session_row(sid);
	char *cause = NULL;
	int64_t id, epoch, sepoch, holder, now = clock_now_ms();
	int got, found, rc;

	assert_int_equal(store_begin_claim(db, &cause), 0);
	assert_int_equal(store_task_next(db, 0, skip_after, &id, &cause), 0);
	assert_true(id > skip_after);
	test_get_task(db, id, t);
	db_task_release(t);
	assert_int_equal(store_savepoint(db, "claim", &cause), 0);
	row.metadata = (char *)"{\"k\": \"v\u00e9\"}";
	row.workdir = (char *)"/tmp/w\xff";
	assert_int_equal(store_session_insert(db, &row, &cause), 0);
	assert_int_equal(store_session_lease(db, sid, runner, id, now,
					     now + 60000, &got, &holder,
					     &sepoch, &cause),
			 0);
	assert_true(got);
	rc = store_task_start(db, id, runner, sid, agent,
			      agent != NULL ? "m2" : NULL, now, &epoch, &cause);
	if (rc != 0) {
		/* without a pipeline it is not held back: it fails here */
		assert_false(pq_pipeline());
		store_rollback(db);
		free(cause);
		return rc;
	}
	assert_int_equal(epoch, 1);
	if (retries != 0)
		assert_int_equal(
			store_task_attempt(db, id, epoch, 0, retries, &cause),
			0);
	assert_int_equal(store_savepoint_release(db, "claim", &cause), 0);
	/* with a pipeline both rows are made, not read */
	if (pq_pipeline())
		assert_int_equal(((struct pg *)db)->nahead, 2);
	assert_int_equal(store_task_get(db, id, t, &found, &cause), 0);
	assert_true(found);
	assert_int_equal(store_session_get(db, sid, s, &found, &cause), 0);
	assert_true(found);
	rc = store_commit(db, &cause);
	if (rc != 0)
		store_rollback(db);
	free(cause);
	return rc;
}

/*
 * A claim's start held back (start_held()): the task's and the session's
 * rows the claim reads inside it, made from the pick's row and the
 * writes held back, are the rows a read gives once they ran — column by
 * column, with an agent and model set by the start, with retries
 * recorded, with text the server cleans (bytes that are not UTF-8) —
 * and the start is the claim's: a runner reaped since fails the whole
 * claim, a lost lease, nothing written.
 */
static void
test_start_held(void **state)
{
	static const char *sids[] = {"01900000-0000-7000-8000-0000000000a1",
				     "01900000-0000-7000-8000-0000000000a2",
				     "01900000-0000-7000-8000-0000000000a3"};
	const char *u = url();
	struct store *db = NULL;
	struct db_task t = {0}, rt = {0};
	struct db_session s = {0}, rs = {0};
	char *cause = NULL;
	int64_t runner, a, b, c;
	struct pgq q;

	(void)state;
	assert_int_equal(store_open(&db, u, NULL, &cause), 0);
	runner = runner_row(db, 9);
	add(db, "held a", &a);
	add(db, "held b", &b);
	add(db, "held c", &c);

	assert_int_equal(
		claim_held(db, sids[0], a - 1, runner, NULL, 0, &t, &s), 0);
	test_get_task(db, a, &rt);
	test_get_session(db, sids[0], &rs);
	assert_int_equal(rt.status, TASK_RUNNING);
	same_task(&t, &rt);
	same_session(&s, &rs);
	db_task_release(&t);
	db_task_release(&rt);
	db_session_release(&s);
	db_session_release(&rs);

	assert_int_equal(claim_held(db, sids[1], a, runner, "shell", 3, &t, &s),
			 0);
	test_get_task(db, b, &rt);
	test_get_session(db, sids[1], &rs);
	assert_string_equal(rt.agent, "shell");
	assert_int_equal(rt.retries, 3);
	same_task(&t, &rt);
	same_session(&s, &rs);
	db_task_release(&t);
	db_task_release(&rt);
	db_session_release(&s);
	db_session_release(&rs);

	/* the runner reaped: the claim fails at its commit, lost lease */
	pgq_init(&q);
	pgq_i64(&q, runner);
	assert_int_equal(pg_do((struct pg *)db,
			       "UPDATE runners SET status = 'dead' "
			       "WHERE id = $1",
			       &q, NULL, "reap", &cause),
			 0);
	assert_int_equal(claim_held(db, sids[2], b, runner, NULL, 0, &t, &s),
			 -BERR_LEASE);
	db_task_release(&t);
	db_session_release(&s);
	test_get_task(db, c, &rt);
	assert_int_equal(rt.status, TASK_PENDING);
	assert_int_equal(rt.attempts, 0);
	db_task_release(&rt);
	store_close(db);
}

/* u with its database name replaced by name (the caller frees it). */
static char *
url_of_db(const char *u, const char *name)
{
	const char *path = strstr(u, ":///"), *end;

	assert_non_null(path);
	path += 4;
	end = path + strcspn(path, "?");
	return xasprintf("%.*s%s%s", (int)(path - u), u, name, end);
}

/*
 * A store function whose statement fails says the statement's error: a
 * database gone (dropped, its connections ended) fails vacuum's size
 * query, every reconnection too, and vacuum answers -BERR_DB with why —
 * not the 1 of the comparison it once returned.
 */
static void
test_gone_says_why(void **state)
{
	const char *u = url();
	struct store_options o = {.reconnect_ms = 300};
	struct store *db = NULL;
	PGconn *c = PQconnectdb(u);
	char *gone = url_of_db(u, "replay_gone"), *cause = NULL;
	int64_t before = -1, after = -1;

	(void)state;
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "DROP DATABASE IF EXISTS replay_gone"));
	PQclear(PQexec(c, "CREATE DATABASE replay_gone"));
	assert_int_equal(store_open(&db, gone, &o, &cause), 0);
	PQclear(PQexec(c, "DROP DATABASE replay_gone WITH (FORCE)"));
	assert_int_equal(store_vacuum(db, &before, &after, &cause), -BERR_DB);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "replay_gone"));
	free(cause);
	store_close(db);
	PQfinish(c);
	free(gone);
}

/* db/postgres/libpq.c: libpq is loaded, not linked */
int pq_load(char **cause);

int
main(void)
{
	char *cause = NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_replay_changed),
		cmocka_unit_test(test_again),
		cmocka_unit_test(test_pid_no_flush_wait),
		cmocka_unit_test(test_notify_after_commit),
		cmocka_unit_test(test_held_back),
		cmocka_unit_test(test_outside_txn),
		cmocka_unit_test(test_replay_many),
		cmocka_unit_test(test_prepared),
		cmocka_unit_test(test_savepoints),
		cmocka_unit_test(test_claim_folds),
		cmocka_unit_test(test_end_folds),
		cmocka_unit_test(test_release_folds),
		cmocka_unit_test(test_events_joined),
		cmocka_unit_test(test_fenced_joined),
		cmocka_unit_test(test_claims_beside),
		cmocka_unit_test(test_unique_beside),
		cmocka_unit_test(test_pick_replayed),
		cmocka_unit_test(test_replay_failed_sticks),
		cmocka_unit_test(test_start_held),
		cmocka_unit_test(test_gone_says_why),
	};

	if (pq_load(&cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
/* Built without the PostgreSQL store: nothing to test. */
int
main(void)
{
	puts("pg-replay: built without the PostgreSQL store");
	return 0;
}
#endif
