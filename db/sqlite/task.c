/*
 * Tasks: insert, claim order (S6 queues), status changes, listing.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

void
db_task_release(struct db_task *t)
{
	if (t == NULL)
		return;
	free(t->key);
	free(t->title);
	free(t->prompt);
	free(t->agent);
	free(t->model);
	free(t->workdir);
	free(t->project);
	free(t->milestone);
	free(t->session_req);
	free(t->queue);
	free(t->session_id);
	free(t->check_cmd);
	free(t->error);
	free(t->reason);
	free(t->answer);
	memset(t, 0, sizeof *t);
}

static void
bind_int_or_null(sqlite3_stmt *st, int idx, int64_t v)
{
	if (v == 0)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_int64(st, idx, v);
}

static const char sql_task_by_key[] = "SELECT id FROM tasks WHERE key = ?1";
static const char sql_task_insert[] =
	"INSERT INTO tasks (key, title, prompt, agent, model, workdir, "
	"project, milestone_id, session_req, new_session, queue, timeout_ms, "
	"check_cmd, max_iterations, max_attempts, force_agent, "
	"allow_foreign, created_at, retries, max_cost) VALUES (?1, ?2, ?3, "
	"?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
	"?19, ?20)";

int
sqlite_task_insert(struct store *store, struct db_task *t, int64_t now,
		   int *existed, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*existed = 0;
	if (t->key != NULL) {
		if ((st = db_stmt(db, sql_task_by_key, cause)) == NULL)
			return -BERR_DB;
		db_bind_text(st, 1, t->key);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			t->id = sqlite3_column_int64(st, 0);
			*existed = 1;
			sqlite3_reset(st);
			return 0;
		}
		if (rc != SQLITE_DONE)
			return db_fail(db, "cannot look up task key", cause);
	}
	if ((st = db_stmt(db, sql_task_insert, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, t->key);
	db_bind_text(st, 2, t->title);
	db_bind_text(st, 3, t->prompt);
	db_bind_text(st, 4, t->agent);
	db_bind_text(st, 5, t->model);
	db_bind_text(st, 6, t->workdir);
	db_bind_text(st, 7, t->project);
	bind_int_or_null(st, 8, t->milestone_id);
	db_bind_text(st, 9, t->session_req);
	sqlite3_bind_int(st, 10, t->new_session);
	db_bind_text(st, 11, t->queue);
	bind_int_or_null(st, 12, t->timeout_ms);
	db_bind_text(st, 13, t->check_cmd);
	sqlite3_bind_int(st, 14, t->max_iterations);
	sqlite3_bind_int(st, 15, t->max_attempts);
	sqlite3_bind_int(st, 16, t->force_agent);
	sqlite3_bind_int(st, 17, t->allow_foreign);
	sqlite3_bind_int64(st, 18, now);
	if (t->retries >= 0)
		sqlite3_bind_int(st, 19, t->retries);
	else
		sqlite3_bind_null(st, 19);
	if (t->max_cost > 0)
		sqlite3_bind_double(st, 20, t->max_cost);
	else
		sqlite3_bind_null(st, 20);
	if (db_step_done(db, st, "cannot add task", cause) != 0)
		return -BERR_DB;
	t->id = sqlite3_last_insert_rowid(db->h);
	t->created_at = now;
	t->status = TASK_PENDING;
	return 0;
}

/*
 * The columns read_task() reads, with answer the SQL of the last
 * column: TASK_ANSWER, or "NULL" where nobody asked for it (a listing
 * at a million tasks need not look up a million runs).
 */
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
read_task(sqlite3_stmt *st, struct db_task *t)
{
	memset(t, 0, sizeof *t);
	t->id = sqlite3_column_int64(st, 0);
	t->key = db_col_text(st, 1);
	t->title = db_col_text(st, 2);
	t->prompt = db_col_text(st, 3);
	t->status = db_col_task_status(st, 4, TASK_PENDING);
	t->agent = db_col_text(st, 5);
	t->model = db_col_text(st, 6);
	t->workdir = db_col_text(st, 7);
	t->project = db_col_text(st, 8);
	t->milestone_id = sqlite3_column_int64(st, 9);
	t->milestone = db_col_text(st, 10);
	t->session_req = db_col_text(st, 11);
	t->new_session = sqlite3_column_int(st, 12);
	t->queue = db_col_text(st, 13);
	t->session_id = db_col_text(st, 14);
	t->timeout_ms = sqlite3_column_int64(st, 15);
	t->check_cmd = db_col_text(st, 16);
	t->max_iterations = sqlite3_column_int(st, 17);
	t->max_attempts = sqlite3_column_int(st, 18);
	t->force_agent = sqlite3_column_int(st, 19);
	t->allow_foreign = sqlite3_column_int(st, 20);
	t->attempts = sqlite3_column_int(st, 21);
	t->iterations = sqlite3_column_int(st, 22);
	t->has_exit_code = sqlite3_column_type(st, 23) != SQLITE_NULL;
	t->exit_code = sqlite3_column_int(st, 23);
	t->error = db_col_text(st, 24);
	t->reason = db_col_text(st, 25);
	t->runner_id = sqlite3_column_int64(st, 26);
	t->cancel_requested = sqlite3_column_int(st, 27);
	/* clamped: a row written before usage was (num.h) */
	t->input_tokens = num_count(sqlite3_column_int64(st, 28));
	t->output_tokens = num_count(sqlite3_column_int64(st, 29));
	t->cost_usd = num_usd(sqlite3_column_double(st, 30));
	t->created_at = sqlite3_column_int64(st, 31);
	t->started_at = sqlite3_column_int64(st, 32);
	t->finished_at = sqlite3_column_int64(st, 33);
	t->retries = sqlite3_column_int(st, 34);
	t->max_cost = sqlite3_column_double(st, 35);
	t->answer = db_col_text(st, 36);
}

static const char sql_task_get[] = "SELECT " TASK_COLS "WHERE t.id = ?1";

int
sqlite_task_get(struct store *store, int64_t id, struct db_task *t, int *found,
		char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	if ((st = db_stmt(db, sql_task_get, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_task(st, t);
		*found = 1;
	} else if (rc != SQLITE_DONE)
		return db_fail(db, "cannot read task", cause);
	sqlite3_reset(st);
	return 0;
}

/*
 * S6 in SQL: a pending task may start when no task of its queue that
 * came before it is still pending or running, and no task of its queue
 * is running at all.  Tasks without a queue (temp sessions) always may.
 * The lowest pending id comes from tasks_status (status, id), whatever
 * statistics an ANALYZE left: a scan of the primary key would read
 * every finished task before the first pending one.
 */
static const char sql_task_next[] =
	"SELECT t.id FROM tasks t INDEXED BY tasks_status WHERE t.status = "
	"'pending' AND t.id > ?2 "
	"AND (?1 = 0 OR t.milestone_id = ?1) "
	"AND (t.queue IS NULL OR NOT EXISTS (SELECT 1 FROM tasks u "
	"WHERE u.queue = t.queue AND u.id <> t.id AND (u.status = 'running' "
	"OR (u.status = 'pending' AND u.id < t.id)))) "
	"ORDER BY t.id LIMIT 1";

int
sqlite_task_next(struct store *store, int64_t milestone_id, int64_t skip_after,
		 int64_t *id, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	if ((st = db_stmt(db, sql_task_next, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, milestone_id);
	sqlite3_bind_int64(st, 2, skip_after);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		return db_fail(db, "cannot find the next task", cause);
	sqlite3_reset(st);
	return 0;
}

static const char sql_task_count_pending[] =
	"SELECT count(*) FROM tasks INDEXED BY tasks_status "
	"WHERE status = 'pending' "
	"AND (?1 = 0 OR milestone_id = ?1)";

int
sqlite_task_count_pending(struct store *store, int64_t milestone_id, int64_t *n,
			  char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_task_count_pending, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, milestone_id);
	return db_step_count(db, st, n, "cannot count tasks", cause);
}

/* The lease of a task (db/store.h): ?N its epoch, 0 for none. */
#define TASK_FENCE(n)                                                          \
	"(" n " = 0 OR (lease_epoch = " n " AND status = 'running'))"

/* Only a runner whose row is alive claims: one that was reaped (its
 * heartbeat went stale while it was stopped) must not. */
static const char sql_task_start[] =
	"UPDATE tasks SET status = 'running', runner_id = ?2, "
	"session_id = ?3, attempts = attempts + 1, started_at = ?4, "
	"finished_at = NULL, exit_code = NULL, error = NULL, reason = NULL, "
	"cancel_requested = 0, lease_epoch = lease_epoch + 1, "
	"agent = coalesce(?5, agent), "
	"model = CASE WHEN ?5 IS NULL THEN model ELSE ?6 END WHERE id = ?1 "
	"AND (?2 IS NULL OR EXISTS (SELECT 1 FROM runners r WHERE r.id = ?2 "
	"AND r.status = 'alive')) RETURNING lease_epoch";

int
sqlite_task_start(struct store *store, int64_t id, int64_t runner_id,
		  const char *session_id, const char *agent, const char *model,
		  int64_t now, int64_t *epoch, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*epoch = 0;
	if ((st = db_stmt(db, sql_task_start, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_int_or_null(st, 2, runner_id);
	db_bind_text(st, 3, session_id);
	sqlite3_bind_int64(st, 4, now);
	db_bind_text(st, 5, agent);
	db_bind_text(st, 6, model);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*epoch = sqlite3_column_int64(st, 0);
	if (rc != SQLITE_DONE) {
		db_fail(db, "cannot start task", cause);
		sqlite3_reset(st);
		return -BERR_DB;
	}
	sqlite3_reset(st);
	if (*epoch == 0 && runner_id != 0) {
		*cause = xasprintf("cannot start task %lld: runner %lld was "
				   "reaped (lost lease)",
				   (long long)id, (long long)runner_id);
		return -BERR_LEASE;
	}
	return 0;
}

static const char sql_task_attempt[] =
	"UPDATE tasks SET attempts = attempts + ?2, "
	"retries = coalesce(retries, ?3) WHERE id = ?1 AND " TASK_FENCE("?4");

int
sqlite_task_attempt(struct store *store, int64_t id, int64_t epoch,
		    int attempts_add, int retries, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_task_attempt, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, attempts_add);
	sqlite3_bind_int(st, 3, retries);
	sqlite3_bind_int64(st, 4, epoch);
	return db_step_fenced(db, st, epoch, "cannot record task attempt",
			      cause);
}

static const char sql_task_finish[] =
	"UPDATE tasks SET status = ?2, exit_code = ?3, error = ?4, "
	"reason = ?5, finished_at = ?6, runner_id = NULL WHERE id = ?1 "
	"AND " TASK_FENCE("?7");

int
sqlite_task_finish(struct store *store, int64_t id, int64_t epoch,
		   enum task_status status, int has_exit, int exit_code,
		   const char *error, const char *reason, int64_t now,
		   char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_task_finish, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	db_bind_text(st, 2, task_status_name(status));
	if (has_exit)
		sqlite3_bind_int(st, 3, exit_code);
	else
		sqlite3_bind_null(st, 3);
	db_bind_text(st, 4, error);
	db_bind_text(st, 5, reason);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, epoch);
	return db_step_fenced(db, st, epoch, "cannot finish task", cause);
}

/* Saturating (num.h): the sums stay in range whatever was stored. */
static const char sql_task_usage[] =
	"UPDATE tasks SET iterations = max(iterations, ?2), "
	"input_tokens = " DB_COUNT_SUM(
		"input_tokens",
		"?3") ", "
		      "output_tokens = " DB_COUNT_SUM(
			      "output_tokens",
			      "?4") ", "
				    "cost_usd = " DB_USD_SUM(
					    "cost_usd",
					    "?5") " WHERE id = ?1 "
						  "AND " TASK_FENCE("?6");

int
sqlite_task_add_usage(struct store *store, int64_t id, int64_t epoch,
		      int iterations, int64_t in, int64_t out, double cost,
		      char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_task_usage, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, iterations);
	sqlite3_bind_int64(st, 3, num_count(in));
	sqlite3_bind_int64(st, 4, num_count(out));
	sqlite3_bind_double(st, 5, num_usd(cost));
	sqlite3_bind_int64(st, 6, epoch);
	return db_step_fenced(db, st, epoch, "cannot record task usage", cause);
}

/* ?3: the epoch of the session lease, which the task holds too. */
static const char sql_task_cancel_requested[] =
	"SELECT cancel_requested, " TASK_FENCE(
		"?2") " AND (?3 = 0 OR EXISTS "
		      "(SELECT 1 FROM sessions s WHERE s.id = tasks.session_id "
		      "AND "
		      "s.lease_epoch = ?3 AND s.lease_runner IS NOT NULL)) "
		      "FROM tasks "
		      "WHERE id = ?1";

int
sqlite_task_cancel_requested(struct store *store, int64_t id, int64_t epoch,
			     int64_t session_epoch, int *yes, int *held,
			     char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*yes = 0;
	*held = 1;
	if ((st = db_stmt(db, sql_task_cancel_requested, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, epoch);
	sqlite3_bind_int64(st, 3, session_epoch);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*yes = sqlite3_column_int(st, 0);
		*held = sqlite3_column_int(st, 1);
	} else if (rc == SQLITE_DONE)
		*held = epoch == 0;
	else
		return db_fail(db, "cannot read task", cause);
	sqlite3_reset(st);
	return 0;
}

static const char sql_task_status[] = "SELECT status FROM tasks WHERE id = ?1";
static const char sql_task_cancel_pending[] =
	"UPDATE tasks SET status = 'cancelled', finished_at = ?2, "
	"error = 'cancelled before it started', reason = 'cancelled' "
	"WHERE id = ?1 AND status = 'pending'";
static const char sql_task_cancel_running[] =
	"UPDATE tasks SET cancel_requested = 1 WHERE id = ?1 "
	"AND status = 'running'";

int
sqlite_task_cancel(struct store *store, int64_t id, int64_t now, int *found,
		   enum task_status *status_out, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	if ((st = db_stmt(db, sql_task_status, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return db_fail(db, "cannot read task", cause);
	*found = 1;
	*status_out = db_col_task_status(st, 0, TASK_PENDING);
	sqlite3_reset(st);
	if (*status_out == TASK_PENDING) {
		if ((st = db_stmt(db, sql_task_cancel_pending, cause)) == NULL)
			return -BERR_DB;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, now);
		return db_step_done(db, st, "cannot cancel task", cause);
	}
	if (*status_out == TASK_RUNNING) {
		if ((st = db_stmt(db, sql_task_cancel_running, cause)) == NULL)
			return -BERR_DB;
		sqlite3_bind_int64(st, 1, id);
		return db_step_done(db, st, "cannot cancel task", cause);
	}
	return 0;
}

static const char sql_task_requeue[] =
	"UPDATE tasks SET status = 'pending', exit_code = NULL, error = NULL, "
	"reason = NULL, started_at = NULL, finished_at = NULL, "
	"runner_id = NULL, cancel_requested = 0, session_id = NULL "
	"WHERE id = ?1 AND status IN (?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/*
 * Bind the names of the statuses in mask (at least one) to the seven
 * parameters from first on, repeating one where the mask has fewer.
 */
static void
bind_status_set(sqlite3_stmt *st, int first, unsigned mask)
{
	const char *some = NULL;
	int i, k = first;

	for (i = 0; i < TASK_NSTATUS; i++) {
		if (mask & (1u << i)) {
			some = task_status_name((enum task_status)i);
			db_bind_text(st, k++, some);
		}
	}
	while (k < first + TASK_NSTATUS)
		db_bind_text(st, k++, some);
}

int
sqlite_task_requeue(struct store *store, int64_t id, unsigned from_mask,
		    int *done, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	*done = 0;
	if ((st = db_stmt(db, sql_task_requeue, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	bind_status_set(st, 2, from_mask);
	if (db_step_done(db, st, "cannot requeue task", cause) != 0)
		return -BERR_DB;
	*done = sqlite3_changes(db->h) > 0;
	return 0;
}

static const char sql_task_unclaim[] =
	"UPDATE tasks SET status = 'pending', runner_id = NULL, "
	"started_at = NULL, session_id = NULL, "
	"attempts = max(attempts - 1, 0) WHERE id = ?1 AND status = 'running' "
	"AND runner_id = ?2 AND cancel_requested = 0";
static const char sql_run_unstarted_delete[] =
	"DELETE FROM runs WHERE id = ?1 AND task_id = ?2 AND pid IS NULL";

int
sqlite_task_unclaim(struct store *store, int64_t id, int64_t runner_id,
		    int64_t run_id, int *done, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	*done = 0;
	if ((st = db_stmt(db, sql_task_unclaim, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, runner_id);
	if (db_step_done(db, st, "cannot requeue task", cause) != 0)
		return -BERR_DB;
	if (sqlite3_changes(db->h) == 0)
		return 0;
	if ((st = db_stmt(db, sql_run_unstarted_delete, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, run_id);
	sqlite3_bind_int64(st, 2, id);
	if (db_step_done(db, st, "cannot delete run", cause) != 0)
		return -BERR_DB;
	*done = 1;
	return 0;
}

/*
 * The filter's terms on tasks "t": ?1 non-NULL for a status set in ?5
 * to ?11, ?2 a milestone, ?3 an id to start after, ?12 a creation time,
 * ?13 and ?15 a session's id and name.
 */
#define TASK_WHERE(t)                                                          \
	"(?1 IS NULL OR " t ".status IN (?5, ?6, ?7, ?8, ?9, ?10, ?11)) "      \
	"AND (?2 = 0 OR " t ".milestone_id = ?2) AND " t ".id > ?3 "           \
	"AND (?12 = 0 OR " t ".created_at >= ?12) "                            \
	"AND ((?13 IS NULL AND ?15 IS NULL) OR " t ".session_id = ?13 OR "     \
	"(" t ".session_id IS NULL AND " t ".session_req IN (?13, ?15))) "

/* With ?14 > 0, only tasks from the ?14th matching one from the end:
 * found once, so the rows still come in id order, one at a time. */
#define TASK_EACH_WHERE                                                        \
	"WHERE " TASK_WHERE(                                                   \
		"t") "AND (?14 = 0 OR t.id >= "                                \
		     "coalesce((SELECT u.id FROM tasks u WHERE " TASK_WHERE(   \
			     "u") "ORDER BY u.id DESC LIMIT 1 OFFSET ?14 - "   \
				  "1), 0)) ORDER BY t.id "                     \
				  "LIMIT ?4"

/* Without the answer unless asked: a listing at a million tasks need
 * not look up a million runs. */
static const char sql_task_each[] =
	"SELECT " TASK_COLS_WITH("NULL") TASK_EACH_WHERE;
static const char sql_task_each_answer[] = "SELECT " TASK_COLS TASK_EACH_WHERE;

static const char sql_task_count[] =
	"SELECT count(*) FROM tasks t WHERE " TASK_WHERE("t");

/* Bind f's terms of TASK_WHERE to st. */
static void
bind_filter(sqlite3_stmt *st, const struct db_task_filter *f)
{
	if (f->status_mask != 0) {
		sqlite3_bind_int(st, 1, 1);
		bind_status_set(st, 5, f->status_mask);
	}
	sqlite3_bind_int64(st, 2, f->milestone_id);
	sqlite3_bind_int64(st, 3, f->after_id);
	sqlite3_bind_int64(st, 12, f->since);
	db_bind_text(st, 13, f->session_id);
	db_bind_text(st, 15, f->session_name);
}

int
sqlite_task_each(struct store *store, const struct db_task_filter *f,
		 int (*fn)(void *, const struct db_task *), void *arg,
		 char **cause)
{
	struct db *db = (struct db *)store;
	struct db_task t;
	sqlite3_stmt *st;
	int rc, stop = 0;

	st = db_stmt(db, f->with_answer ? sql_task_each_answer : sql_task_each,
		     cause);
	if (st == NULL)
		return -BERR_DB;
	bind_filter(st, f);
	sqlite3_bind_int64(st, 4, f->limit > 0 ? f->limit : -1);
	sqlite3_bind_int64(st, 14, f->last > 0 ? f->last : 0);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_task(st, &t);
		stop = fn(arg, &t);
		db_task_release(&t);
	}
	if (!stop && rc != SQLITE_DONE)
		return db_fail(db, "cannot list tasks", cause);
	sqlite3_reset(st);
	return 0;
}

int
sqlite_task_count(struct store *store, const struct db_task_filter *f,
		  int64_t *n, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_task_count, cause)) == NULL)
		return -BERR_DB;
	bind_filter(st, f);
	return db_step_count(db, st, n, "cannot count tasks", cause);
}

static const char sql_task_counts[] =
	"SELECT status, count(*) FROM tasks WHERE milestone_id = ?1"
	" GROUP BY status";
/* Without the milestone term the tasks_status index answers alone. */
static const char sql_task_counts_all[] =
	"SELECT status, count(*) FROM tasks GROUP BY status";
/* Any other filter: the rows sql_task_each would list, counted. */
static const char sql_task_counts_filter[] =
	"SELECT s, count(*) FROM (SELECT t.status AS s FROM tasks "
	"t " TASK_EACH_WHERE ") GROUP BY s";

int
sqlite_task_count_by_status(struct store *store, const struct db_task_filter *f,
			    void (*fn)(void *, enum task_status, int64_t),
			    void *arg, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	if (!db_task_filter_milestone_only(f)) {
		if ((st = db_stmt(db, sql_task_counts_filter, cause)) == NULL)
			return -BERR_DB;
		bind_filter(st, f);
		sqlite3_bind_int64(st, 4, f->limit > 0 ? f->limit : -1);
		sqlite3_bind_int64(st, 14, f->last > 0 ? f->last : 0);
	} else if (f->milestone_id == 0) {
		if ((st = db_stmt(db, sql_task_counts_all, cause)) == NULL)
			return -BERR_DB;
	} else {
		if ((st = db_stmt(db, sql_task_counts, cause)) == NULL)
			return -BERR_DB;
		sqlite3_bind_int64(st, 1, f->milestone_id);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(arg, db_col_task_status(st, 0, TASK_PENDING),
		   sqlite3_column_int64(st, 1));
	if (rc != SQLITE_DONE)
		return db_fail(db, "cannot count tasks", cause);
	sqlite3_reset(st);
	return 0;
}
