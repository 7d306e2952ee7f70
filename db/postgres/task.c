/*
 * Tasks: insert, claim order (S6 queues), status changes, listing.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/num.h"
#include "lib/xmalloc.h"
#include "db/postgres/internal.h"

static const char sql_task_insert[] =
	"INSERT INTO tasks (key, title, prompt, agent, model, workdir, "
	"project, milestone_id, session_req, new_session, queue, timeout_ms, "
	"check_cmd, max_iterations, max_attempts, force_agent, "
	"allow_foreign, created_at, retries, max_cost) VALUES ($1, $2, $3, "
	"$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
	"$19, $20) ON CONFLICT (key) DO NOTHING RETURNING id";
static const char sql_task_by_key[] = "SELECT id FROM tasks WHERE key = $1";

/* The task with key t->key, if any, into t->id; *existed = 1 then. */
static int
task_by_key(struct pg *pg, struct db_task *t, int *existed, char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	pgq_init(&q);
	pgq_text(&q, t->key);
	if ((rc = pg_exec(pg, sql_task_by_key, &q, &res,
			  "cannot look up task key", cause)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		t->id = pg_i64(res, 0, 0);
		*existed = 1;
	}
	PQclear(res);
	return 0;
}

int
pg_task_insert(struct store *store, struct db_task *t, int64_t now,
	       int *existed, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int rc;

	*existed = 0;
	/* A known key first: an INSERT that does nothing ON CONFLICT still
	 * takes an id from the sequence, and the next task's id would skip
	 * it (SQLite hands out 1, 2, 3…).  The INSERT's ON CONFLICT stays
	 * for two adds of one new key at once. */
	if (t->key != NULL &&
	    (task_by_key(pg, t, existed, cause) != 0 || *existed))
		return *existed ? 0 : -BERR_DB;
	pgq_init(&q);
	pgq_text(&q, t->key);
	pgq_text(&q, t->title);
	pgq_text(&q, t->prompt);
	pgq_text(&q, t->agent);
	pgq_text(&q, t->model);
	pgq_text(&q, t->workdir);
	pgq_text(&q, t->project);
	pgq_nz(&q, t->milestone_id);
	pgq_text(&q, t->session_req);
	pgq_i64(&q, t->new_session);
	pgq_text(&q, t->queue);
	pgq_nz(&q, t->timeout_ms);
	pgq_text(&q, t->check_cmd);
	pgq_i64(&q, t->max_iterations);
	pgq_i64(&q, t->max_attempts);
	pgq_i64(&q, t->force_agent);
	pgq_i64(&q, t->allow_foreign);
	pgq_i64(&q, now);
	if (t->retries >= 0)
		pgq_i64(&q, t->retries);
	else
		pgq_null(&q);
	if (t->max_cost > 0)
		pgq_dbl(&q, t->max_cost);
	else
		pgq_null(&q);
	if ((rc = pg_exec(pg, sql_task_insert, &q, &res, "cannot add task",
			  cause)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		t->id = pg_i64(res, 0, 0);
		t->created_at = now;
		t->status = TASK_PENDING;
		PQclear(res);
		return pg_notify_work(pg, cause);
	}
	PQclear(res);
	return task_by_key(pg, t, existed, cause);
}

#define TASK_ANSWER                                                            \
	"(SELECT r.answer FROM runs r WHERE r.task_id = t.id "                 \
	"ORDER BY r.id DESC LIMIT 1)"
#define TASK_COLS_WITH(answer)                                                 \
	"t.id, t.key, t.title, t.prompt, t.status, t.agent, t.model, "         \
	"t.workdir, t.project, t.milestone_id, m.name, t.session_req, "        \
	"t.new_session, t.queue, t.session_id, t.timeout_ms, t.check_cmd, "    \
	"t.max_iterations, t.max_attempts, t.force_agent, t.allow_foreign, "   \
	"t.attempts, t.iterations, t.exit_code, t.error, t.reason, "           \
	"t.runner_id, t.cancel_requested, t.input_tokens, t.output_tokens, "   \
	"t.cost_usd, t.created_at, t.started_at, t.finished_at, "              \
	"coalesce(t.retries, -1), coalesce(t.max_cost, 0), " answer            \
	" FROM tasks t LEFT JOIN milestones m ON m.id = t.milestone_id "
#define TASK_COLS TASK_COLS_WITH(TASK_ANSWER)

static void
read_task(const PGresult *r, int i, struct db_task *t)
{
	memset(t, 0, sizeof *t);
	t->id = pg_i64(r, i, 0);
	t->key = pg_text(r, i, 1);
	t->title = pg_text(r, i, 2);
	t->prompt = pg_text(r, i, 3);
	t->status = pg_col_task_status(r, i, 4, TASK_PENDING);
	t->agent = pg_text(r, i, 5);
	t->model = pg_text(r, i, 6);
	t->workdir = pg_text(r, i, 7);
	t->project = pg_text(r, i, 8);
	t->milestone_id = pg_i64(r, i, 9);
	t->milestone = pg_text(r, i, 10);
	t->session_req = pg_text(r, i, 11);
	t->new_session = (int)pg_i64(r, i, 12);
	t->queue = pg_text(r, i, 13);
	t->session_id = pg_text(r, i, 14);
	t->timeout_ms = pg_i64(r, i, 15);
	t->check_cmd = pg_text(r, i, 16);
	t->max_iterations = (int)pg_i64(r, i, 17);
	t->max_attempts = (int)pg_i64(r, i, 18);
	t->force_agent = (int)pg_i64(r, i, 19);
	t->allow_foreign = (int)pg_i64(r, i, 20);
	t->attempts = (int)pg_i64(r, i, 21);
	t->iterations = (int)pg_i64(r, i, 22);
	t->has_exit_code = !pg_isnull(r, i, 23);
	t->exit_code = (int)pg_i64(r, i, 23);
	t->error = pg_text(r, i, 24);
	t->reason = pg_text(r, i, 25);
	t->runner_id = pg_i64(r, i, 26);
	t->cancel_requested = (int)pg_i64(r, i, 27);
	t->input_tokens = num_count(pg_i64(r, i, 28));
	t->output_tokens = num_count(pg_i64(r, i, 29));
	t->cost_usd = num_usd(pg_dbl(r, i, 30));
	t->created_at = pg_i64(r, i, 31);
	t->started_at = pg_i64(r, i, 32);
	t->finished_at = pg_i64(r, i, 33);
	t->retries = (int)pg_i64(r, i, 34);
	t->max_cost = pg_dbl(r, i, 35);
	t->answer = pg_text(r, i, 36);
}

static const char sql_task_get[] = "SELECT " TASK_COLS "WHERE t.id = $1";

int
pg_task_get(struct store *store, int64_t id, struct db_task *t, int *found,
	    char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int rc;

	*found = 0;
	pgq_init(&q);
	pgq_i64(&q, id);
	if ((rc = pg_exec(pg, sql_task_get, &q, &res, "cannot read task",
			  cause)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		read_task(res, 0, t);
		*found = 1;
	}
	PQclear(res);
	return 0;
}

/*
 * S6 as in SQLite (db/sqlite/task.c), and the row locked: FOR UPDATE
 * SKIP LOCKED, so that a claim never waits on another runner's and never
 * takes a task another transaction holds.  The claim itself is the
 * conditional UPDATE of task_start (status = 'pending').
 */
/* The next task's whole row (as sql_task_get reads it), kept for that
 * read, which the claim makes next (pg_keep); with what the claim reads
 * next if it makes a session and inserts a run: the active sessions
 * (S11) and the next runs id (pg_take_run_id()), which only a pipeline
 * can use (a write held back): without one, NULL, so that no id of the
 * sequence is spent on it. */
#define TASK_NEXT_SQL(run)                                                     \
	"SELECT " TASK_COLS_WITH(                                              \
		TASK_ANSWER ", " run " AS unchecked_run, " PG_ACTIVE_SESSIONS  \
			    " AS unchecked_active, " PG_CLAIMS_BESIDE          \
			    " AS unchecked_beside, t.lease_epoch AS "          \
			    "unchecked_epoch") "WHERE t.id = (SELECT p.id "    \
					       "FROM tasks p " TASK_NEXT_WHERE
#define TASK_NEXT_WHERE                                                        \
	"WHERE p.status = 'pending' AND p.id > $2::bigint "                    \
	"AND ($1::bigint = 0 OR p.milestone_id = $1::bigint) "                 \
	"AND (p.queue IS NULL OR NOT EXISTS (SELECT 1 FROM tasks u "           \
	"WHERE u.queue = p.queue AND u.id <> p.id AND (u.status = 'running' "  \
	"OR (u.status = 'pending' AND u.id < p.id)))) "                        \
	"ORDER BY p.id LIMIT 1 FOR UPDATE OF p SKIP LOCKED)"
static const char sql_task_next[] =
	TASK_NEXT_SQL("nextval(pg_get_serial_sequence('runs', 'id'))");
static const char sql_task_next_plain[] = TASK_NEXT_SQL("NULL::bigint");

int
pg_task_next(struct store *store, int64_t milestone_id, int64_t skip_after,
	     int64_t *id, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int nf, rc;

	*id = 0;
	pgq_init(&q);
	pgq_i64(&q, milestone_id);
	pgq_i64(&q, skip_after);
	if ((rc = pg_exec(pg,
			  pq_pipeline() ? sql_task_next : sql_task_next_plain,
			  &q, &res, "cannot find the next task", cause)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	*id = pg_i64(res, 0, 0);
	nf = PQnfields(res);
	if (pg->run_id_next == 0)
		pg->run_id_next = pg_i64(res, 0, nf - 4);
	pg->count_n = pg_i64(res, 0, nf - 3);
	pg->count_beside = pg_i64(res, 0, nf - 2);
	pg->count_wseq = pg->wseq;
	pg_picked_clear(pg);
	if (pq_pipeline()) {
		/* for its start (pg_task_start()) */
		pg->picked =
			PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
		pg->picked_id = pg->picked != NULL ? *id : 0;
		pg->picked_epoch = pg_i64(res, 0, nf - 1);
	}
	pg_keep(pg, sql_task_get, PQgetvalue(res, 0, 0), res);
	return 0;
}

static const char sql_task_count_pending[] =
	"SELECT count(*) FROM tasks WHERE status = 'pending' "
	"AND ($1::bigint = 0 OR milestone_id = $1::bigint)";

int
pg_task_count_pending(struct store *store, int64_t milestone_id, int64_t *n,
		      char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, milestone_id);
	return pg_count(pg, sql_task_count_pending, &q, n, "cannot count tasks",
			cause);
}

/* A task's start (started_row() makes the row it leaves) and, after
 * it, the condition that its runner is alive. */
#define TASK_START_SET                                                         \
	"UPDATE tasks SET status = 'running', runner_id = $2, "                \
	"session_id = $3, attempts = attempts + 1, started_at = $4, "          \
	"finished_at = NULL, exit_code = NULL, error = NULL, reason = NULL, "  \
	"cancel_requested = 0, lease_epoch = lease_epoch + 1, "                \
	"agent = coalesce($5, agent), "                                        \
	"model = CASE WHEN $5::text IS NULL THEN model ELSE $6 END WHERE id "  \
	"= $1 "
#define TASK_START_ALIVE                                                       \
	"AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM runners r WHERE "    \
	"r.id = $2::bigint AND r.status = 'alive' FOR SHARE OF r))"

static const char sql_task_start[] =
	TASK_START_SET TASK_START_ALIVE " RETURNING lease_epoch";

/* sql_task_start held back (pg_task_start()): fenced, on the epoch the
 * pick read ($7), which its lock keeps. */
static const char sql_task_start_held[] =
	TASK_START_SET "AND lease_epoch = $7::bigint " TASK_START_ALIVE;

/* The columns of TASK_COLS a start sets (read_task()'s order). */
enum {
	TC_STATUS = 4,
	TC_AGENT = 5,
	TC_MODEL = 6,
	TC_SESSION = 14,
	TC_ATTEMPTS = 21,
	TC_EXIT = 23,
	TC_ERROR = 24,
	TC_REASON = 25,
	TC_RUNNER = 26,
	TC_CANCEL = 27,
	TC_STARTED = 32,
	TC_FINISHED = 33,
	TC_RETRIES = 34,
};

/* The picked row of pg, taken (pg has none after), made what
 * sql_task_start_held leaves (q its parameters); or NULL. */
static PGresult *
started_row(struct pg *pg, const struct pgq *q)
{
	PGresult *res = pg->picked;
	char n[32];
	int ok;

	pg->picked = NULL;
	if (res == NULL)
		return NULL;
	snprintf(n, sizeof n, "%lld",
		 (long long)pg_i64(res, 0, TC_ATTEMPTS) + 1);
	ok = pg_set_value(res, TC_STATUS, "running") &&
	     pg_set_value(res, TC_RUNNER, q->v[1]) &&
	     pg_set_value(res, TC_SESSION, q->v[2]) &&
	     pg_set_value(res, TC_ATTEMPTS, n) &&
	     pg_set_value(res, TC_STARTED, q->v[3]) &&
	     pg_set_value(res, TC_FINISHED, NULL) &&
	     pg_set_value(res, TC_EXIT, NULL) &&
	     pg_set_value(res, TC_ERROR, NULL) &&
	     pg_set_value(res, TC_REASON, NULL) &&
	     pg_set_value(res, TC_CANCEL, "0");
	if (ok && q->v[4] != NULL)
		ok = pg_set_value(res, TC_AGENT, q->v[4]) &&
		     pg_set_value(res, TC_MODEL, q->v[5]);
	if (!ok) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * The start of the task the pick locked, held back: its epoch is the
 * picked row's + 1 (the lock keeps it), and the rows the claim reads
 * next — the task, its session if the claim made it — are made here
 * from the pick's row and the writes (started_row(), pg_session_made()),
 * so that the claim costs no round trip between its pick and its
 * COMMIT.  A runner reaped meanwhile fails the start in the server, a
 * lost lease told with the next statement waited for (the COMMIT).
 * 1 if held back (*epoch set), 0 if not (nothing done), or a negated
 * berr with *cause.
 */
static int
start_held(struct pg *pg, int64_t id, struct pgq *q, const char *session_id,
	   int64_t *epoch, char **cause)
{
	PGresult *task, *session;
	char *what;
	int rc;

	if (pg->picked_id != id || pg->txn_err != 0)
		return 0;
	if ((task = started_row(pg, q)) == NULL) {
		pg_picked_clear(pg);
		return 0;
	}
	*epoch = pg->picked_epoch + 1;
	pgq_i64(q, pg->picked_epoch);
	session = session_id != NULL ? pg_session_made(pg, session_id) : NULL;
	what = xasprintf("cannot start task %s: runner %s was reaped", q->v[0],
			 q->v[1] != NULL ? q->v[1] : "?");
	pg_picked_clear(pg);
	rc = pg_do_fenced(pg, sql_task_start_held, q, *epoch, what, cause);
	free(what);
	if (rc != 0) {
		PQclear(task);
		PQclear(session);
		return rc;
	}
	pg_keep_made(pg, sql_task_get, q->v[0], task);
	if (session != NULL)
		pg_keep_made(pg, pg_sql_session_get(), session_id, session);
	return 1;
}

/* Only a runner whose row is alive claims: one that was reaped (its
 * heartbeat went stale while it was stopped) must not.  FOR SHARE: the
 * runner row stays alive until commit (a reaper waits). */
int
pg_task_start(struct store *store, int64_t id, int64_t runner_id,
	      const char *session_id, const char *agent, const char *model,
	      int64_t now, int64_t *epoch, char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	*epoch = 0;
	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_nz(&q, runner_id);
	pgq_text(&q, session_id);
	pgq_i64(&q, now);
	pgq_text(&q, agent);
	pgq_text(&q, model);
	if ((rc = start_held((struct pg *)store, id, &q, session_id, epoch,
			     cause)) != 0)
		return rc < 0 ? rc : 0;
	/* the claim reads both rows back next */
	pg_read_ahead((struct pg *)store, sql_task_get, q.v[0]);
	pg_session_read_ahead((struct pg *)store, session_id);
	if ((rc = pg_exec((struct pg *)store, sql_task_start, &q, &res,
			  "cannot start task", cause)) != 0)
		return rc;
	if (PQntuples(res) == 1)
		*epoch = pg_i64(res, 0, 0);
	PQclear(res);
	if (*epoch == 0 && runner_id != 0) {
		*cause = xasprintf("cannot start task %lld: runner %lld was "
				   "reaped (lost lease)",
				   (long long)id, (long long)runner_id);
		return -BERR_LEASE;
	}
	return 0;
}

static const char sql_task_attempt[] =
	"UPDATE tasks SET attempts = attempts + $2, "
	"retries = coalesce(retries, $3) WHERE id = $1 AND " PG_TASK_FENCE(
		"$4");

int
pg_task_attempt(struct store *store, int64_t id, int64_t epoch,
		int attempts_add, int retries, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pg_ahead saved[PG_AHEAD_MAX];
	char num[32];
	struct pgq q;
	int i, n, rc;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, attempts_add);
	pgq_i64(&q, retries);
	pgq_i64(&q, epoch);
	/* a row made by start_held() stays, as this write leaves it */
	n = pg_kept_save(pg, saved);
	rc = pg_do_fenced(pg, sql_task_attempt, &q, epoch,
			  "cannot record task attempt", cause);
	for (i = 0; i < n; i++) {
		if (saved[i].sql != sql_task_get ||
		    strcmp(saved[i].key, q.v[0]) != 0)
			continue;
		snprintf(num, sizeof num, "%lld",
			 (long long)pg_i64(saved[i].res, 0, TC_ATTEMPTS) +
				 attempts_add);
		if (!pg_set_value(saved[i].res, TC_ATTEMPTS, num) ||
		    (pg_i64(saved[i].res, 0, TC_RETRIES) < 0 &&
		     !pg_set_value(saved[i].res, TC_RETRIES, q.v[2]))) {
			PQclear(saved[i].res);
			saved[i].res = NULL;
		}
	}
	if (rc == 0)
		pg_kept_restore(pg, saved, n);
	else
		pg_kept_free(saved, n);
	return rc;
}

static const char sql_task_finish[] =
	"UPDATE tasks SET status = $2, exit_code = $3, error = $4, "
	"reason = $5, finished_at = $6, runner_id = NULL WHERE id = $1 "
	"AND " PG_TASK_FENCE("$7");

/* A run's usage on its task: $2 the iteration, $3 and $4 the tokens,
 * $5 the cost. */
/* clang-format off */
#define TASK_USAGE_SET                                                         \
	"iterations = greatest(iterations, $2), "                              \
	PG_COUNT_ADD("input_tokens", "$3") ", "                                \
	PG_COUNT_ADD("output_tokens", "$4") ", "                               \
	PG_USD_ADD("cost_usd", "$5")
/* clang-format on */

static const char sql_task_usage[] = "UPDATE tasks SET " TASK_USAGE_SET
				     " WHERE id = $1 AND " PG_TASK_FENCE("$6");

/* sql_task_usage and sql_task_finish in one write (pg_task_finish()):
 * the finish's parameters but the id after the usage's, $7 to $12. */
static const char sql_task_usage_finish[] =
	"UPDATE tasks SET " TASK_USAGE_SET ", status = $7, exit_code = $8, "
	"error = $9, reason = $10, finished_at = $11, runner_id = NULL "
	"WHERE id = $1 AND " PG_TASK_FENCE("$6") " AND " PG_TASK_FENCE("$12");

int
pg_task_finish(struct store *store, int64_t id, int64_t epoch,
	       enum task_status status, int has_exit, int exit_code,
	       const char *error, const char *reason, int64_t now, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_text(&q, task_status_name(status));
	if (has_exit)
		pgq_i64(&q, exit_code);
	else
		pgq_null(&q);
	pgq_text(&q, error);
	pgq_text(&q, reason);
	pgq_i64(&q, now);
	pgq_i64(&q, epoch);
	/* the run's usage, held back, and the finish: one row, one write */
	if (pg_amend_held(pg, sql_task_usage, sql_task_usage_finish, &q, 1))
		return 0;
	/* the next task of its queue may start now */
	return pg_do_fenced_notify(pg, sql_task_finish, &q, epoch,
				   "cannot finish task", cause);
}

int
pg_task_add_usage(struct store *store, int64_t id, int64_t epoch,
		  int iterations, int64_t in, int64_t out, double cost,
		  char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, iterations);
	pgq_i64(&q, num_count(in));
	pgq_i64(&q, num_count(out));
	pgq_dbl(&q, num_usd(cost));
	pgq_i64(&q, epoch);
	return pg_do_fenced((struct pg *)store, sql_task_usage, &q, epoch,
			    "cannot record task usage", cause);
}

/* One integer of one row ($1 an id), 0 for none; *found if a row. */
static int
one_i64(struct pg *pg, const char *sql, int64_t id, int64_t *v, int *found,
	const char *what, char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	*v = 0;
	pgq_init(&q);
	pgq_i64(&q, id);
	if ((rc = pg_exec(pg, sql, &q, &res, what, cause)) != 0)
		return rc;
	if (found != NULL)
		*found = PQntuples(res) == 1;
	if (PQntuples(res) == 1)
		*v = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

/* $3: the epoch of the session lease, which the task holds too.  A
 * read: no lock, as in SQLite (the runner's later writes are fenced). */
static const char sql_task_cancel_requested[] =
	"SELECT cancel_requested, CASE WHEN " PG_TASK_FENCE(
		"$2") " AND ($3::bigint = 0 OR EXISTS (SELECT 1 FROM sessions "
		      "s WHERE s.id = tasks.session_id AND s.lease_epoch = "
		      "$3::bigint AND s.lease_runner IS NOT NULL)) THEN 1 "
		      "ELSE 0 END FROM tasks WHERE id = $1";

int
pg_task_cancel_requested(struct store *store, int64_t id, int64_t epoch,
			 int64_t session_epoch, int *yes, int *held,
			 char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	*yes = 0;
	*held = 1;
	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, epoch);
	pgq_i64(&q, session_epoch);
	if ((rc = pg_exec((struct pg *)store, sql_task_cancel_requested, &q,
			  &res, "cannot read task", cause)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		*yes = (int)pg_i64(res, 0, 0);
		*held = (int)pg_i64(res, 0, 1);
	} else
		*held = epoch == 0;
	PQclear(res);
	return 0;
}

static const char sql_task_status[] =
	"SELECT status FROM tasks WHERE id = $1 FOR UPDATE";
static const char sql_task_cancel_pending[] =
	"UPDATE tasks SET status = 'cancelled', finished_at = $2, "
	"error = 'cancelled before it started', reason = 'cancelled' "
	"WHERE id = $1 AND status = 'pending'";
static const char sql_task_cancel_running[] =
	"UPDATE tasks SET cancel_requested = 1 WHERE id = $1 "
	"AND status = 'running'";

int
pg_task_cancel(struct store *store, int64_t id, int64_t now, int *found,
	       enum task_status *status_out, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int rc;

	*found = 0;
	pgq_init(&q);
	pgq_i64(&q, id);
	if ((rc = pg_exec(pg, sql_task_status, &q, &res, "cannot read task",
			  cause)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	*found = 1;
	*status_out = pg_col_task_status(res, 0, 0, TASK_PENDING);
	PQclear(res);
	if (*status_out == TASK_PENDING) {
		pgq_i64(&q, now);
		return pg_do(pg, sql_task_cancel_pending, &q, NULL,
			     "cannot cancel task", cause);
	}
	if (*status_out == TASK_RUNNING)
		return pg_do(pg, sql_task_cancel_running, &q, NULL,
			     "cannot cancel task", cause);
	return 0;
}

/* The names of the statuses in mask as a text[] literal: {a,b}. */
static void
status_array(char *buf, size_t len, unsigned mask)
{
	size_t n = 0;
	int i;

	buf[n++] = '{';
	for (i = 0; i < TASK_NSTATUS; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (buf[n - 1] != '{')
			buf[n++] = ',';
		n += (size_t)snprintf(buf + n, len - n, "%s",
				      task_status_name((enum task_status)i));
	}
	buf[n++] = '}';
	buf[n] = '\0';
}

static const char sql_task_unclaim[] =
	"UPDATE tasks SET status = 'pending', runner_id = NULL, "
	"started_at = NULL, session_id = NULL, "
	"attempts = greatest(attempts - 1, 0) WHERE id = $1 AND "
	"status = 'running' AND runner_id = $2 AND cancel_requested = 0";
static const char sql_run_unstarted_delete[] =
	"DELETE FROM runs WHERE id = $1 AND task_id = $2 AND pid IS NULL";

/* As db/sqlite: the claim undone, the run that never started gone. */
int
pg_task_unclaim(struct store *store, int64_t id, int64_t runner_id,
		int64_t run_id, int *done, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;
	int64_t n = 0;

	*done = 0;
	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_i64(&q, runner_id);
	if (pg_do(pg, sql_task_unclaim, &q, &n, "cannot requeue task", cause))
		return -BERR_DB;
	if (n == 0)
		return 0;
	pgq_init(&q);
	pgq_i64(&q, run_id);
	pgq_i64(&q, id);
	if (pg_do(pg, sql_run_unstarted_delete, &q, NULL, "cannot delete run",
		  cause))
		return -BERR_DB;
	*done = 1;
	/* it may be claimed again, here or by another runner */
	return pg_notify_work(pg, cause);
}

static const char sql_task_requeue[] =
	"UPDATE tasks SET status = 'pending', exit_code = NULL, error = NULL, "
	"reason = NULL, started_at = NULL, finished_at = NULL, "
	"runner_id = NULL, cancel_requested = 0, session_id = NULL "
	"WHERE id = $1 AND status = ANY ($2::text[])";

int
pg_task_requeue(struct store *store, int64_t id, unsigned from_mask, int *done,
		char **cause)
{
	char set[160];
	struct pgq q;
	int64_t n = 0;

	*done = 0;
	status_array(set, sizeof set, from_mask);
	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_text(&q, set);
	if (pg_do((struct pg *)store, sql_task_requeue, &q, &n,
		  "cannot requeue task", cause))
		return -BERR_DB;
	*done = n > 0;
	return *done ? pg_notify_work((struct pg *)store, cause) : 0;
}

/*
 * The filter's terms on tasks "t": $1 a status set (NULL: any), $2 a
 * milestone, $3 an id to start after, $4 a creation time, $5 and $6 a
 * session's id and name.
 */
#define TASK_WHERE(t)                                                          \
	"($1::text[] IS NULL OR " t ".status = ANY ($1::text[])) "             \
	"AND ($2::bigint = 0 OR " t ".milestone_id = $2::bigint) "             \
	"AND " t ".id > $3::bigint "                                           \
	"AND ($4::bigint = 0 OR " t ".created_at >= $4::bigint) "              \
	"AND (($5::text IS NULL AND $6::text IS NULL) OR " t ".session_id = "  \
	"$5::text OR (" t ".session_id IS NULL AND " t ".session_req IN "      \
	"($5::text, $6::text))) "

/* $7: a limit (NULL: none); $8 > 0: only the last $8. */
#define TASK_EACH_WHERE                                                        \
	"WHERE " TASK_WHERE(                                                   \
		"t") "AND ($8::bigint = 0 OR t.id >= "                         \
		     "coalesce((SELECT u.id FROM tasks u WHERE " TASK_WHERE(   \
			     "u") "ORDER BY u.id DESC LIMIT 1 OFFSET "         \
				  "$8::bigint - 1), 0)) "                      \
				  "ORDER BY t.id LIMIT $7::bigint"

static const char sql_task_each[] =
	"SELECT " TASK_COLS_WITH("NULL") TASK_EACH_WHERE;
static const char sql_task_each_answer[] = "SELECT " TASK_COLS TASK_EACH_WHERE;
static const char sql_task_count[] =
	"SELECT count(*) FROM tasks t WHERE " TASK_WHERE("t");

static void
bind_filter(struct pgq *q, char *set, size_t len,
	    const struct db_task_filter *f)
{
	pgq_init(q);
	if (f->status_mask != 0) {
		status_array(set, len, f->status_mask);
		pgq_text(q, set);
	} else
		pgq_null(q);
	pgq_i64(q, f->milestone_id);
	pgq_i64(q, f->after_id);
	pgq_i64(q, f->since);
	pgq_text(q, f->session_id);
	pgq_text(q, f->session_name);
}

/* Rows fetched per round trip of a listing. */
#define TASK_PAGE 1000

int
pg_task_each(struct store *store, const struct db_task_filter *f,
	     int (*fn)(void *, const struct db_task *), void *arg, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct db_task_filter g = *f;
	struct db_task t;
	char set[160];
	PGresult *res;
	struct pgq q;
	int64_t left = f->limit > 0 ? f->limit : -1, page;
	int i, n, stop = 0;
	int rc;

	/* In pages by id, so that a million tasks are never one result. */
	do {
		page = left >= 0 && left < TASK_PAGE ? left : TASK_PAGE;
		bind_filter(&q, set, sizeof set, &g);
		pgq_i64(&q, page);
		pgq_i64(&q, g.last > 0 ? g.last : 0);
		if ((rc = pg_exec(pg,
				  f->with_answer ? sql_task_each_answer
						 : sql_task_each,
				  &q, &res, "cannot list tasks", cause)) != 0)
			return rc;
		n = PQntuples(res);
		for (i = 0; i < n && !stop; i++) {
			read_task(res, i, &t);
			g.after_id = t.id;
			stop = fn(arg, &t);
			db_task_release(&t);
		}
		PQclear(res);
		if (left > 0)
			left -= n;
		/* "last" picks its start once: the rest follows by id. */
		g.last = 0;
	} while (!stop && n == page && left != 0);
	return 0;
}

int
pg_task_count(struct store *store, const struct db_task_filter *f, int64_t *n,
	      char **cause)
{
	struct pg *pg = (struct pg *)store;
	char set[160];
	struct pgq q;

	bind_filter(&q, set, sizeof set, f);
	return pg_count(pg, sql_task_count, &q, n, "cannot count tasks", cause);
}

static const char sql_task_counts[] =
	"SELECT status, count(*) FROM tasks WHERE ($1::bigint = 0 OR "
	"milestone_id = $1::bigint) GROUP BY status";
/* Any other filter: the rows sql_task_each would list, counted. */
static const char sql_task_counts_filter[] =
	"SELECT s, count(*) FROM (SELECT t.status AS s FROM tasks "
	"t " TASK_EACH_WHERE ") AS c GROUP BY s";

int
pg_task_count_by_status(struct store *store, const struct db_task_filter *f,
			void (*fn)(void *, enum task_status, int64_t),
			void *arg, char **cause)
{
	struct pg *pg = (struct pg *)store;
	const char *sql = sql_task_counts;
	char set[160];
	PGresult *res;
	struct pgq q;
	int i, rc;

	if (db_task_filter_milestone_only(f)) {
		pgq_init(&q);
		pgq_i64(&q, f->milestone_id);
	} else {
		sql = sql_task_counts_filter;
		bind_filter(&q, set, sizeof set, f);
		if (f->limit > 0)
			pgq_i64(&q, f->limit);
		else
			pgq_null(&q);
		pgq_i64(&q, f->last > 0 ? f->last : 0);
	}
	if ((rc = pg_exec(pg, sql, &q, &res, "cannot count tasks", cause)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++)
		fn(arg, pg_col_task_status(res, i, 0, TASK_PENDING),
		   pg_i64(res, i, 1));
	PQclear(res);
	return 0;
}

static const char sql_task_agent[] =
	"UPDATE tasks SET agent = $2, model = $3 WHERE id = $1";

int
pg_task_set_agent(struct store *store, int64_t id, const char *agent,
		  const char *model, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, id);
	pgq_text(&q, agent);
	pgq_text(&q, model);
	return pg_do((struct pg *)store, sql_task_agent, &q, NULL,
		     "cannot update task", cause);
}

static const char sql_task_exists[] = "SELECT 1 FROM tasks WHERE id = $1";

int
pg_task_exists(struct store *store, int64_t id, int *yes, char **cause)
{
	int64_t v;

	return one_i64((struct pg *)store, sql_task_exists, id, &v, yes,
		       "cannot read task", cause);
}
