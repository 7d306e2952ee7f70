/*
 * Runs, runners (heartbeats, reaping a dead one) and milestones.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/num.h"
#include "lib/xmalloc.h"
#include "db/postgres/internal.h"

static const char sql_run_insert[] =
	"INSERT INTO runs (task_id, attempt, iteration, session_id, "
	"agent_session_in, resume_outcome, runner_id, started_at, batch_id) "
	"SELECT $1, $2, $3, $4, $5, $6, $7::bigint, $8, "
	"(SELECT batch_id FROM runners WHERE id = $7::bigint) "
	"WHERE " PG_RUN_FENCE("$1::bigint", "$9") " RETURNING id";

/* With the id reserved with the claim (pg_take_run_id()), held back. */
static const char sql_run_insert_id[] =
	"INSERT INTO runs (id, task_id, attempt, iteration, session_id, "
	"agent_session_in, resume_outcome, runner_id, started_at, batch_id) "
	"SELECT $10, $1, $2, $3, $4, $5, $6, $7::bigint, $8, "
	"(SELECT batch_id FROM runners WHERE id = $7::bigint) "
	"WHERE " PG_RUN_FENCE("$1::bigint", "$9");

int
pg_run_insert(struct store *store, struct db_run *r, int64_t epoch,
	      char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int64_t id = pg_take_run_id(pg, epoch);
	int rc;

	pgq_init(&q);
	pgq_i64(&q, r->task_id);
	pgq_i64(&q, r->attempt);
	pgq_i64(&q, r->iteration);
	pgq_text(&q, r->session_id);
	pgq_text(&q, r->agent_session_in);
	pgq_text(&q, r->resume_outcome == RESUME_NONE
			     ? NULL
			     : resume_outcome_name(r->resume_outcome));
	pgq_nz(&q, r->runner_id);
	pgq_i64(&q, r->started_at);
	pgq_i64(&q, epoch);
	if (id != 0) {
		pgq_i64(&q, id);
		r->id = id;
		return pg_do_fenced(pg, sql_run_insert_id, &q, epoch,
				    "cannot record run", cause);
	}
	if ((rc = pg_exec(pg, sql_run_insert, &q, &res, "cannot record run",
			  cause)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		*cause = xstrdup("cannot record run: lost lease");
		return -BERR_LEASE;
	}
	r->id = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

/* The pid and start time of run $1, with from (a FROM, or "") */
#define RUN_PID_SQL(from)                                                      \
	"UPDATE runs SET pid = $2, proc_start = $3 " from                      \
	"WHERE runs.id = $1 AND " PG_RUN_FENCE("runs.task_id", "$4")
static const char sql_run_pid[] = RUN_PID_SQL("");
/* sql_run_pid in a transaction of its own (store_begin_own()): it
 * commits without waiting for the server's WAL flush (synchronous_commit
 * off for this transaction: the walwriter flushes it within a fraction
 * of a second).  The pid is there for a reaper on this machine to stop
 * the agent if the runner dies; the server crashing in the instant
 * after (not a fast restart, which flushes) is what could lose it — as
 * a machine crashing could lose SQLite's last commits, which do not
 * wait for the disk either (synchronous NORMAL).  Each task's claim
 * waits for its flush; this second one a task would double the flushes
 * a task waits for, and with them the time at -j2. */
static const char sql_run_pid_own[] = RUN_PID_SQL(
	"FROM (SELECT set_config('synchronous_commit', 'off', true)) c ");

int
pg_run_set_pid(struct store *store, int64_t id, int64_t epoch, int64_t pid,
	       int64_t start, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, pid);
	pgq_i64(&q, start);
	pgq_i64(&q, epoch);
	return pg_do_fenced_again(pg,
				  pg->in_txn && pg->txn_lock == PG_LOCK_NONE
					  ? sql_run_pid_own
					  : sql_run_pid,
				  &q, epoch, "cannot record run", cause);
}

static const char sql_run_end[] =
	"UPDATE runs SET ended_at = $2, exit_code = $3, signal = $4, "
	"outcome = $5, error = $6, input_tokens = $7, output_tokens = $8, "
	"cache_read_tokens = $9, cache_creation_tokens = $10, cost_usd = $11, "
	"num_turns = $12, duration_ms = $13, agent_session_out = $14, "
	"resume_outcome = $15, check_exit_code = $16, check_output = $17, "
	"answer = $18, output_truncated = $20, pid = coalesce($21, pid), "
	"proc_start = coalesce($22, proc_start) WHERE id = $1 "
	"AND " PG_RUN_FENCE("runs.task_id", "$19");

int
pg_run_end(struct store *store, const struct db_run *r, int64_t epoch,
	   char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, r->id);
	pgq_i64(&q, r->ended_at);
	if (r->has_exit_code)
		pgq_i64(&q, r->exit_code);
	else
		pgq_null(&q);
	pgq_nz(&q, r->signal);
	pgq_text(&q,
		 r->outcome == RUN_OPEN ? NULL : run_outcome_name(r->outcome));
	pgq_text(&q, r->error);
	pgq_i64(&q, num_count(r->input_tokens));
	pgq_i64(&q, num_count(r->output_tokens));
	pgq_i64(&q, num_count(r->cache_read_tokens));
	pgq_i64(&q, num_count(r->cache_creation_tokens));
	pgq_dbl(&q, num_usd(r->cost_usd));
	if (r->num_turns >= 0)
		pgq_i64(&q, num_count(r->num_turns));
	else
		pgq_null(&q);
	if (r->duration_ms >= 0)
		pgq_i64(&q, num_count(r->duration_ms));
	else
		pgq_null(&q);
	pgq_text(&q, r->agent_session_out);
	pgq_text(&q, r->resume_outcome == RESUME_NONE
			     ? NULL
			     : resume_outcome_name(r->resume_outcome));
	if (r->has_check)
		pgq_i64(&q, r->check_exit_code);
	else
		pgq_null(&q);
	pgq_text(&q, r->check_output);
	pgq_text(&q, r->answer);
	pgq_i64(&q, epoch);
	pgq_i64(&q, r->output_truncated != 0);
	if (r->pid > 0) {
		pgq_i64(&q, r->pid);
		pgq_i64(&q, r->proc_start);
	} else {
		pgq_null(&q);
		pgq_null(&q);
	}
	return pg_do_fenced((struct pg *)store, sql_run_end, &q, epoch,
			    "cannot record run", cause);
}

static void
read_run(const PGresult *res, int i, struct db_run *r)
{
	memset(r, 0, sizeof *r);
	r->id = pg_i64(res, i, 0);
	r->task_id = pg_i64(res, i, 1);
	r->attempt = (int)pg_i64(res, i, 2);
	r->iteration = (int)pg_i64(res, i, 3);
	r->session_id = pg_text(res, i, 4);
	r->agent_session_in = pg_text(res, i, 5);
	r->agent_session_out = pg_text(res, i, 6);
	r->resume_outcome = pg_col_resume_outcome(res, i, 7, RESUME_NONE);
	r->runner_id = pg_i64(res, i, 8);
	r->pid = pg_i64(res, i, 9);
	r->proc_start = pg_i64(res, i, 10);
	r->started_at = pg_i64(res, i, 11);
	r->ended_at = pg_i64(res, i, 12);
	r->has_exit_code = !pg_isnull(res, i, 13);
	r->exit_code = (int)pg_i64(res, i, 13);
	r->signal = (int)pg_i64(res, i, 14);
	r->outcome = pg_col_run_outcome(res, i, 15, RUN_OPEN);
	r->error = pg_text(res, i, 16);
	r->input_tokens = num_count(pg_i64(res, i, 17));
	r->output_tokens = num_count(pg_i64(res, i, 18));
	r->cache_read_tokens = num_count(pg_i64(res, i, 19));
	r->cache_creation_tokens = num_count(pg_i64(res, i, 20));
	r->cost_usd = num_usd(pg_dbl(res, i, 21));
	r->num_turns = pg_isnull(res, i, 22) ? -1 : pg_i64(res, i, 22);
	r->duration_ms = pg_isnull(res, i, 23) ? -1 : pg_i64(res, i, 23);
	r->has_check = !pg_isnull(res, i, 24);
	r->check_exit_code = (int)pg_i64(res, i, 24);
	r->check_output = pg_text(res, i, 25);
	r->answer = pg_text(res, i, 26);
	r->output_truncated = pg_i64(res, i, 27) != 0;
}

void
pg_read_runs(PGresult *res, struct db_run **runs, size_t *n)
{
	int i, rows = PQntuples(res);

	*runs = rows > 0 ? xcalloc((size_t)rows, sizeof **runs) : NULL;
	for (i = 0; i < rows; i++)
		read_run(res, i, &(*runs)[i]);
	*n = (size_t)rows;
	PQclear(res);
}

static const char sql_run_list[] =
	"SELECT " PG_RUN_COLS "WHERE task_id = $1 ORDER BY id";

int
pg_run_list(struct store *store, int64_t task_id, struct db_run **runs,
	    size_t *n, char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	*runs = NULL;
	*n = 0;
	pgq_init(&q);
	pgq_i64(&q, task_id);
	if ((rc = pg_exec((struct pg *)store, sql_run_list, &q, &res,
			  "cannot read runs", cause)) != 0)
		return rc;
	pg_read_runs(res, runs, n);
	return 0;
}

static const char sql_run_check[] =
	"UPDATE runs SET check_exit_code = $2, check_output = $3 WHERE id = $1 "
	"AND " PG_RUN_FENCE("runs.task_id", "$4");

int
pg_run_set_check(struct store *store, int64_t id, int64_t epoch, int exit_code,
		 const char *output, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, exit_code);
	pgq_text(&q, output);
	pgq_i64(&q, epoch);
	return pg_do_fenced((struct pg *)store, sql_run_check, &q, epoch,
			    "cannot record check", cause);
}

/* ---- runners ---- */

static const char sql_runner_insert[] =
	"INSERT INTO runners (pid, host, boot_id, proc_start, started_at, "
	"heartbeat_at, batch_id) VALUES ($1, $2, $3, $4, $5, $5, $6) "
	"RETURNING id";

int
pg_runner_insert(struct store *store, const struct db_runner *r, int64_t *id,
		 char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	pgq_init(&q);
	pgq_i64(&q, r->pid);
	pgq_text(&q, r->host);
	pgq_text(&q, r->boot_id ? r->boot_id : "");
	pgq_i64(&q, r->proc_start);
	pgq_i64(&q, r->started_at);
	pgq_text(&q, r->batch_id);
	if ((rc = pg_exec((struct pg *)store, sql_runner_insert, &q, &res,
			  "cannot register runner", cause)) != 0)
		return rc;
	*id = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

/* Only while it is alive: a runner that was reaped has lost its
 * leases, and its heartbeat must not make it look alive again. */
static const char sql_runner_beat[] =
	"UPDATE runners SET heartbeat_at = $2 WHERE id = $1 "
	"AND status = 'alive'";
/* Rows another transaction holds are skipped, not waited for: it is
 * ending or taking over that lease, and a heartbeat that waits on a
 * stopped client's row lock makes a live runner look dead. */
static const char sql_runner_leases[] =
	"UPDATE sessions SET lease_expires = $2 WHERE id IN (SELECT id FROM "
	"sessions WHERE lease_runner = $1 FOR UPDATE SKIP LOCKED)";

int
pg_runner_heartbeat(struct store *store, int64_t id, int64_t now,
		    int64_t lease_until, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;
	int64_t n = 0;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, now);
	if (pg_do(pg, sql_runner_beat, &q, &n, "cannot update heartbeat",
		  cause))
		return -BERR_DB;
	if (n == 0) {
		*cause = xasprintf("runner %lld was reaped (lost lease)",
				   (long long)id);
		return -BERR_LEASE;
	}
	q.n = 1;
	pgq_i64(&q, lease_until);
	return pg_do(pg, sql_runner_leases, &q, NULL, "cannot renew leases",
		     cause);
}

/* Not over 'dead': a reaped runner that exits stays reaped. */
static const char sql_runner_exit[] =
	"UPDATE runners SET status = 'exited', ended_at = $2 WHERE id = $1 "
	"AND status = 'alive'";

int
pg_runner_exit(struct store *store, int64_t id, int64_t now, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, now);
	return pg_do((struct pg *)store, sql_runner_exit, &q, NULL,
		     "cannot record runner exit", cause);
}

static const char sql_runner_alive[] =
	"SELECT id, pid, proc_start, started_at, heartbeat_at, host, boot_id "
	"FROM runners WHERE status = 'alive' ORDER BY id";

int
pg_runner_alive_list(struct store *store, struct db_runner **out, size_t *n,
		     char **cause)
{
	PGresult *res;
	int i, rows, rc;

	*out = NULL;
	*n = 0;
	if ((rc = pg_exec((struct pg *)store, sql_runner_alive, NULL, &res,
			  "cannot list runners", cause)) != 0)
		return rc;
	rows = PQntuples(res);
	if (rows > 0)
		*out = xcalloc((size_t)rows, sizeof **out);
	for (i = 0; i < rows; i++) {
		struct db_runner *r = &(*out)[i];

		r->id = pg_i64(res, i, 0);
		r->pid = pg_i64(res, i, 1);
		r->proc_start = pg_i64(res, i, 2);
		r->started_at = pg_i64(res, i, 3);
		r->heartbeat_at = pg_i64(res, i, 4);
		r->host = pg_text(res, i, 5);
		r->boot_id = pg_text(res, i, 6);
		r->status = xstrdup("alive");
	}
	*n = (size_t)rows;
	PQclear(res);
	return 0;
}

/* Two at most: enough to tell one from ambiguous.  substr() and =, not
 * a range, so that the column's collation cannot reorder the ids. */
static const char sql_batch_find[] =
	"SELECT DISTINCT batch_id FROM runners "
	"WHERE substr(batch_id, 1, length($1::text)) = $1::text "
	"ORDER BY 1 LIMIT 2";

int
pg_batch_find(struct store *store, const char *prefix, char **id, int *found,
	      char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	*id = NULL;
	pgq_init(&q);
	pgq_text(&q, prefix);
	if ((rc = pg_exec((struct pg *)store, sql_batch_find, &q, &res,
			  "cannot read runners", cause)) != 0)
		return rc;
	*found = PQntuples(res) > 1 ? 2 : PQntuples(res);
	if (*found == 1)
		*id = pg_text(res, 0, 0);
	PQclear(res);
	return 0;
}

/*
 * A runner's open runs are those of its running tasks: found through
 * tasks_status (status = 'running') and runs_task, so that no index on
 * runs.runner_id or tasks.runner_id has to be written with every task
 * (migration 7).  A run stays open only while its task runs: the run's
 * end is written before or with the task's.
 */
#define REAP_RUNNING                                                           \
	"(SELECT id FROM tasks WHERE status = 'running' AND runner_id = $1)"

static const char sql_reap_orphans[] =
	"SELECT id, coalesce(pid, 0), coalesce(proc_start, 0) FROM runs "
	"WHERE task_id IN " REAP_RUNNING " AND runner_id = $1 "
	"AND ended_at IS NULL";
static const char sql_reap_runs[] =
	"UPDATE runs SET ended_at = $2, outcome = 'interrupted', "
	"error = 'the runner died' WHERE task_id IN " REAP_RUNNING
	" AND runner_id = $1 AND ended_at IS NULL";
static const char sql_reap_temp[] =
	"UPDATE sessions SET status = 'abandoned', closed_at = $2, "
	"lease_runner = NULL, lease_task = NULL, lease_expires = NULL "
	"WHERE kind = 'temp' AND status = 'active' AND id IN "
	"(SELECT session_id FROM tasks WHERE runner_id = $1 "
	"AND status = 'running')";
static const char sql_reap_events[] =
	"INSERT INTO events (at, kind, session_id, task_id, runner_id, detail) "
	"SELECT $2, 'reap', session_id, id, $1, 'runner died; task interrupted'"
	" FROM tasks WHERE runner_id = $1 AND status = 'running'";
static const char sql_reap_tasks[] =
	"UPDATE tasks SET status = CASE WHEN $3::int <> 0 AND attempts < "
	"max_attempts THEN 'pending' ELSE 'interrupted' END, finished_at = "
	"CASE WHEN $3::int <> 0 AND attempts < max_attempts THEN NULL ELSE "
	"$2::bigint END, error = 'interrupted: its runner died', "
	"reason = 'interrupted', runner_id = NULL WHERE runner_id = $1 AND "
	"status = 'running'";
static const char sql_reap_leases[] =
	"UPDATE sessions SET lease_runner = NULL, lease_task = NULL, "
	"lease_expires = NULL WHERE lease_runner = $1";
static const char sql_reap_runner[] =
	"UPDATE runners SET status = 'dead', ended_at = $2 WHERE id = $1 "
	"AND status = 'alive' AND ($3::bigint = 0 OR heartbeat_at <= "
	"$3::bigint)";

int
pg_runner_reap(struct store *store, int64_t id, int64_t now, int requeue,
	       int64_t seen_heartbeat, struct db_orphan **orphans, size_t *n,
	       char **cause)
{
	int rc;
	struct pg *pg = (struct pg *)store;
	static const struct {
		const char *sql;
		int nparams;
	} steps[] = {
		{sql_reap_runs, 2},  {sql_reap_temp, 2},   {sql_reap_events, 2},
		{sql_reap_tasks, 3}, {sql_reap_leases, 1},
	};
	PGresult *res;
	struct pgq q;
	int64_t changed = 0;
	size_t i;
	int rows;

	*orphans = NULL;
	*n = 0;
	/* The row first: the judgement the caller made (its heartbeat was
	 * stale) must still hold in this transaction; its row lock keeps
	 * the runner's own heartbeat out until commit. */
	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, now);
	pgq_i64(&q, seen_heartbeat);
	if (pg_do(pg, sql_reap_runner, &q, &changed, "cannot reap runner",
		  cause) != 0)
		return -BERR_DB;
	if (seen_heartbeat != 0 && changed == 0)
		return 0;
	q.n = 2;
	pgq_i64(&q, requeue);
	q.n = 1;
	if ((rc = pg_exec(pg, sql_reap_orphans, &q, &res, "cannot read runs",
			  cause)) != 0)
		return rc;
	rows = PQntuples(res);
	if (rows > 0)
		*orphans = xcalloc((size_t)rows, sizeof **orphans);
	for (i = 0; i < (size_t)rows; i++) {
		(*orphans)[i].run_id = pg_i64(res, (int)i, 0);
		(*orphans)[i].pid = pg_i64(res, (int)i, 1);
		(*orphans)[i].proc_start = pg_i64(res, (int)i, 2);
	}
	*n = (size_t)rows;
	PQclear(res);
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		q.n = steps[i].nparams;
		if (pg_do(pg, steps[i].sql, &q, NULL, "cannot reap runner",
			  cause) != 0) {
			free(*orphans);
			*orphans = NULL;
			*n = 0;
			return -BERR_DB;
		}
	}
	return 0;
}

/* ---- milestones ---- */

#define MILESTONE_COLS                                                         \
	"id, name, session_mode, session_id, created_at FROM milestones "

static void
read_milestone(const PGresult *r, int i, struct db_milestone *m)
{
	memset(m, 0, sizeof *m);
	m->id = pg_i64(r, i, 0);
	m->name = pg_text(r, i, 1);
	m->session_mode = pg_text(r, i, 2);
	m->session_id = pg_text(r, i, 3);
	m->created_at = pg_i64(r, i, 4);
}

static int
ms_one(struct pg *pg, const char *sql, const struct pgq *q,
       struct db_milestone *m, int *found, char **cause)
{
	PGresult *res;
	int rc;

	*found = 0;
	if ((rc = pg_exec(pg, sql, q, &res, "cannot read milestone", cause)) !=
	    0)
		return rc;
	if (PQntuples(res) == 1) {
		read_milestone(res, 0, m);
		*found = 1;
	}
	PQclear(res);
	return 0;
}

static const char sql_ms_get[] = "SELECT " MILESTONE_COLS "WHERE name = $1";
static const char sql_ms_get_id[] = "SELECT " MILESTONE_COLS "WHERE id = $1";

int
pg_milestone_get(struct store *store, const char *name, struct db_milestone *m,
		 int *found, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, name);
	return ms_one((struct pg *)store, sql_ms_get, &q, m, found, cause);
}

int
pg_milestone_get_id(struct store *store, int64_t id, struct db_milestone *m,
		    int *found, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, id);
	return ms_one((struct pg *)store, sql_ms_get_id, &q, m, found, cause);
}

static const char sql_ms_insert[] =
	"INSERT INTO milestones (name, session_mode, created_at) "
	"VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING";

int
pg_milestone_insert(struct store *store, struct db_milestone *m, int64_t now,
		    int *existed, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct db_milestone old = {0};
	struct pgq q;
	int64_t changed = 0;
	int found;

	*existed = 0;
	pgq_init(&q);
	pgq_text(&q, m->name);
	pgq_text(&q, m->session_mode ? m->session_mode : "shared");
	pgq_i64(&q, now);
	if (pg_do(pg, sql_ms_insert, &q, &changed, "cannot create milestone",
		  cause))
		return -BERR_DB;
	*existed = changed == 0;
	if (pg_milestone_get(store, m->name, &old, &found, cause) != 0)
		return -BERR_DB;
	db_milestone_release(m);
	*m = old;
	return 0;
}

static const char sql_ms_session[] =
	"UPDATE milestones SET session_id = $2 WHERE id = $1";

int
pg_milestone_set_session(struct store *store, int64_t id,
			 const char *session_id, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_text(&q, session_id);
	return pg_do((struct pg *)store, sql_ms_session, &q, NULL,
		     "cannot update milestone", cause);
}

static const char sql_ms_each[] = "SELECT " MILESTONE_COLS "ORDER BY name";

int
pg_milestone_each(struct store *store,
		  int (*fn)(void *, const struct db_milestone *), void *arg,
		  char **cause)
{
	struct db_milestone m;
	PGresult *res;
	int i, stop = 0;
	int rc;

	if ((rc = pg_exec((struct pg *)store, sql_ms_each, NULL, &res,
			  "cannot list milestones", cause)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res) && !stop; i++) {
		read_milestone(res, i, &m);
		stop = fn(arg, &m);
		db_milestone_release(&m);
	}
	PQclear(res);
	return 0;
}

/* ---- output kept in the database ---- */

/*
 * One statement (one round trip, one transaction of its own outside
 * one): the new pieces, then the tail's rows before drop_to deleted or
 * cut; nothing unless the run's task still holds the lease.  A piece
 * already there (a write replayed after its answer was lost) is left.
 */
static const char sql_output_put[] =
	"WITH ok AS (SELECT 1 FROM runs WHERE id = $1::bigint "
	"AND " PG_RUN_FENCE(
		"runs.task_id",
		"$9") "), "
		      "ins AS (INSERT INTO run_output (run_id, stream, pos, "
		      "data) "
		      "SELECT $1::bigint, $2::text, c.pos, c.data FROM (VALUES "
		      "($3::bigint, $4::bytea), ($5::bigint, $6::bytea)) "
		      "c(pos, data) "
		      "WHERE length(c.data) > 0 AND EXISTS (SELECT 1 FROM ok) "
		      "ON CONFLICT (run_id, stream, pos) DO NOTHING), "
		      "del AS (DELETE FROM run_output WHERE run_id = "
		      "$1::bigint AND "
		      "stream = $2::text AND pos >= $7::bigint AND "
		      "pos + length(data) <= $8::bigint AND EXISTS (SELECT 1 "
		      "FROM ok)), "
		      "cut AS (UPDATE run_output SET pos = $8::bigint, "
		      "data = substr(data, ($8::bigint - pos + 1)::int) "
		      "WHERE run_id = $1::bigint AND stream = $2::text AND "
		      "pos >= $7::bigint AND pos < $8::bigint AND "
		      "pos + length(data) > $8::bigint AND EXISTS (SELECT 1 "
		      "FROM ok)) "
		      "SELECT count(*) FROM ok";

/* bytea's hex input (any bytes, not only valid UTF-8 text); the caller
 * frees. */
static char *
bytea_hex(const char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *x = xmalloc(len * 2 + 3);
	size_t i;

	x[0] = '\\';
	x[1] = 'x';
	for (i = 0; i < len; i++) {
		x[2 + 2 * i] = hex[(unsigned char)data[i] >> 4];
		x[3 + 2 * i] = hex[(unsigned char)data[i] & 15];
	}
	x[2 + 2 * len] = '\0';
	return x;
}

int
pg_run_output_put(struct store *store, const struct db_output_put *o,
		  char **cause)
{
	char *x[2];
	PGresult *res;
	struct pgq q;
	int i, held, rc;

	pgq_init(&q);
	pgq_i64(&q, o->run_id);
	pgq_text(&q, o->stream);
	for (i = 0; i < 2; i++) {
		x[i] = bytea_hex(o->data[i], o->len[i]);
		pgq_i64(&q, o->pos[i]);
		pgq_text(&q, x[i]);
	}
	pgq_i64(&q, o->keep_head);
	pgq_i64(&q, o->drop_to);
	pgq_i64(&q, o->epoch);
	rc = pg_exec((struct pg *)store, sql_output_put, &q, &res,
		     "cannot record the run's output", cause);
	free(x[0]);
	free(x[1]);
	if (rc != 0)
		return -BERR_DB;
	held = PQntuples(res) == 1 && pg_i64(res, 0, 0) > 0;
	PQclear(res);
	if (!held && o->epoch != 0) {
		*cause = xstrdup("cannot record the run's output: lost lease");
		return -BERR_LEASE;
	}
	return 0;
}

static const char sql_output_get[] =
	"SELECT r.id, o.pos, encode(o.data, 'hex') FROM runs r "
	"LEFT JOIN run_output o ON o.run_id = r.id AND o.stream = $2::text "
	"AND o.pos + length(o.data) > $3::bigint WHERE r.id = $1::bigint "
	"ORDER BY o.pos";

static int
unhex(char c)
{
	return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* Row i's chunk (columns 1 and 2 of sql_output_get) into c. */
static void
read_chunk(const PGresult *res, int i, struct db_output_chunk *c)
{
	const char *h = PQgetvalue(res, i, 2);
	size_t k, n = strlen(h) / 2;

	c->pos = pg_i64(res, i, 1);
	c->data = xmalloc(n + 1);
	for (k = 0; k < n; k++)
		c->data[k] = (char)(unhex(h[2 * k]) << 4 | unhex(h[2 * k + 1]));
	c->data[n] = '\0';
	c->len = n;
}

int
pg_run_output_get(struct store *store, int64_t run_id, const char *stream,
		  int64_t from, struct db_output_chunk **chunks, size_t *n,
		  int *found, char **cause)
{
	PGresult *res;
	struct pgq q;
	int i, rows, rc;

	pgq_init(&q);
	pgq_i64(&q, run_id);
	pgq_text(&q, stream);
	pgq_i64(&q, from);
	if ((rc = pg_exec((struct pg *)store, sql_output_get, &q, &res,
			  "cannot read the run's output", cause)) != 0)
		return rc;
	rows = PQntuples(res);
	*found = rows > 0;
	if (rows > 0 && !PQgetisnull(res, 0, 1)) {
		*chunks = xcalloc((size_t)rows, sizeof **chunks);
		for (i = 0; i < rows; i++)
			read_chunk(res, i, &(*chunks)[i]);
		*n = (size_t)rows;
	}
	PQclear(res);
	return 0;
}
