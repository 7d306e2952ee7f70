/*
 * Runs: one agent invocation each.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

void
db_run_release(struct db_run *r)
{
	if (r == NULL)
		return;
	free(r->session_id);
	free(r->agent_session_in);
	free(r->agent_session_out);
	free(r->error);
	free(r->check_output);
	free(r->answer);
	memset(r, 0, sizeof *r);
}

void
db_runs_free(struct db_run *runs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		db_run_release(&runs[i]);
	free(runs);
}

/* The lease of the run's task (db/store.h): ?N its epoch, 0 for none. */
#define RUN_FENCE(task, n)                                                     \
	"(" n " = 0 OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = " task       \
	" AND t.lease_epoch = " n " AND t.status = 'running'))"

static const char sql_run_insert[] =
	"INSERT INTO runs (task_id, attempt, iteration, session_id, "
	"agent_session_in, resume_outcome, runner_id, started_at, batch_id) "
	"SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	"(SELECT batch_id FROM runners WHERE id = ?7) WHERE " RUN_FENCE("?1",
									"?9");

int
sqlite_run_insert(struct store *store, struct db_run *r, int64_t epoch,
		  char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, sql_run_insert, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, r->task_id);
	sqlite3_bind_int(st, 2, r->attempt);
	sqlite3_bind_int(st, 3, r->iteration);
	db_bind_text(st, 4, r->session_id);
	db_bind_text(st, 5, r->agent_session_in);
	db_bind_text(st, 6,
		     r->resume_outcome == RESUME_NONE
			     ? NULL
			     : resume_outcome_name(r->resume_outcome));
	if (r->runner_id != 0)
		sqlite3_bind_int64(st, 7, r->runner_id);
	sqlite3_bind_int64(st, 8, r->started_at);
	sqlite3_bind_int64(st, 9, epoch);
	if ((rc = db_step_fenced(db, st, epoch, "cannot record run", cause)))
		return rc;
	r->id = sqlite3_last_insert_rowid(db->h);
	return 0;
}

static const char sql_run_pid[] =
	"UPDATE runs SET pid = ?2, proc_start = ?3 WHERE id = ?1 "
	"AND " RUN_FENCE("runs.task_id", "?4");

int
sqlite_run_set_pid(struct store *store, int64_t id, int64_t epoch, int64_t pid,
		   int64_t start, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_run_pid, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, pid);
	sqlite3_bind_int64(st, 3, start);
	sqlite3_bind_int64(st, 4, epoch);
	return db_step_fenced(db, st, epoch, "cannot record run", cause);
}

static const char sql_run_end[] =
	"UPDATE runs SET ended_at = ?2, exit_code = ?3, signal = ?4, "
	"outcome = ?5, error = ?6, input_tokens = ?7, output_tokens = ?8, "
	"cache_read_tokens = ?9, cache_creation_tokens = ?10, cost_usd = ?11, "
	"num_turns = ?12, duration_ms = ?13, agent_session_out = ?14, "
	"resume_outcome = ?15, check_exit_code = ?16, check_output = ?17, "
	"answer = ?18, output_truncated = ?20, pid = coalesce(?21, pid), "
	"proc_start = coalesce(?22, proc_start) WHERE id = ?1 AND " RUN_FENCE(
		"runs.task_id", "?19");

int
sqlite_run_end(struct store *store, const struct db_run *r, int64_t epoch,
	       char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_run_end, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, r->id);
	sqlite3_bind_int64(st, 2, r->ended_at);
	if (r->has_exit_code)
		sqlite3_bind_int(st, 3, r->exit_code);
	if (r->signal != 0)
		sqlite3_bind_int(st, 4, r->signal);
	db_bind_text(st, 5,
		     r->outcome == RUN_OPEN ? NULL
					    : run_outcome_name(r->outcome));
	db_bind_text(st, 6, r->error);
	/* what an agent reported: kept in range (num.h) */
	sqlite3_bind_int64(st, 7, num_count(r->input_tokens));
	sqlite3_bind_int64(st, 8, num_count(r->output_tokens));
	sqlite3_bind_int64(st, 9, num_count(r->cache_read_tokens));
	sqlite3_bind_int64(st, 10, num_count(r->cache_creation_tokens));
	sqlite3_bind_double(st, 11, num_usd(r->cost_usd));
	if (r->num_turns >= 0)
		sqlite3_bind_int64(st, 12, num_count(r->num_turns));
	if (r->duration_ms >= 0)
		sqlite3_bind_int64(st, 13, num_count(r->duration_ms));
	db_bind_text(st, 14, r->agent_session_out);
	db_bind_text(st, 15,
		     r->resume_outcome == RESUME_NONE
			     ? NULL
			     : resume_outcome_name(r->resume_outcome));
	if (r->has_check)
		sqlite3_bind_int(st, 16, r->check_exit_code);
	db_bind_text(st, 17, r->check_output);
	db_bind_text(st, 18, r->answer);
	sqlite3_bind_int(st, 20, r->output_truncated != 0);
	if (r->pid > 0) {
		sqlite3_bind_int64(st, 21, r->pid);
		sqlite3_bind_int64(st, 22, r->proc_start);
	}
	sqlite3_bind_int64(st, 19, epoch);
	return db_step_fenced(db, st, epoch, "cannot record run", cause);
}

/* One row of SELECT DB_RUN_COLS into r. */
static void
read_run(sqlite3_stmt *st, struct db_run *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	r->task_id = sqlite3_column_int64(st, 1);
	r->attempt = sqlite3_column_int(st, 2);
	r->iteration = sqlite3_column_int(st, 3);
	r->session_id = db_col_text(st, 4);
	r->agent_session_in = db_col_text(st, 5);
	r->agent_session_out = db_col_text(st, 6);
	r->resume_outcome = db_col_resume_outcome(st, 7, RESUME_NONE);
	r->runner_id = sqlite3_column_int64(st, 8);
	r->pid = sqlite3_column_int64(st, 9);
	r->proc_start = sqlite3_column_int64(st, 10);
	r->started_at = sqlite3_column_int64(st, 11);
	r->ended_at = sqlite3_column_int64(st, 12);
	r->has_exit_code = sqlite3_column_type(st, 13) != SQLITE_NULL;
	r->exit_code = sqlite3_column_int(st, 13);
	r->signal = sqlite3_column_int(st, 14);
	r->outcome = db_col_run_outcome(st, 15, RUN_OPEN);
	r->error = db_col_text(st, 16);
	/* clamped: a row written before usage was (num.h) */
	r->input_tokens = num_count(sqlite3_column_int64(st, 17));
	r->output_tokens = num_count(sqlite3_column_int64(st, 18));
	r->cache_read_tokens = num_count(sqlite3_column_int64(st, 19));
	r->cache_creation_tokens = num_count(sqlite3_column_int64(st, 20));
	r->cost_usd = num_usd(sqlite3_column_double(st, 21));
	r->num_turns = sqlite3_column_type(st, 22) == SQLITE_NULL
			       ? -1
			       : sqlite3_column_int64(st, 22);
	r->duration_ms = sqlite3_column_type(st, 23) == SQLITE_NULL
				 ? -1
				 : sqlite3_column_int64(st, 23);
	r->has_check = sqlite3_column_type(st, 24) != SQLITE_NULL;
	r->check_exit_code = sqlite3_column_int(st, 24);
	r->check_output = db_col_text(st, 25);
	r->answer = db_col_text(st, 26);
	r->output_truncated = sqlite3_column_int(st, 27);
}

int
db_read_runs(struct db *db, sqlite3_stmt *st, struct db_run **runs, size_t *n,
	     const char *what, char **cause)
{
	size_t cap = 0;
	int rc;

	*runs = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*runs = xreallocarray(*runs, cap, sizeof **runs);
		}
		read_run(st, &(*runs)[(*n)++]);
	}
	if (rc != SQLITE_DONE) {
		db_runs_free(*runs, *n);
		*runs = NULL;
		*n = 0;
		return db_fail(db, what, cause);
	}
	sqlite3_reset(st);
	return 0;
}

static const char sql_run_list[] =
	"SELECT " DB_RUN_COLS "WHERE task_id = ?1 ORDER BY id";

int
sqlite_run_list(struct store *store, int64_t task_id, struct db_run **runs,
		size_t *n, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	*runs = NULL;
	*n = 0;
	if ((st = db_stmt(db, sql_run_list, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, task_id);
	return db_read_runs(db, st, runs, n, "cannot read runs", cause);
}

static const char sql_run_check[] =
	"UPDATE runs SET check_exit_code = ?2, check_output = ?3 WHERE id = ?1 "
	"AND " RUN_FENCE("runs.task_id", "?4");

int
sqlite_run_set_check(struct store *store, int64_t id, int64_t epoch,
		     int exit_code, const char *output, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_run_check, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, exit_code);
	db_bind_text(st, 3, output);
	sqlite3_bind_int64(st, 4, epoch);
	return db_step_fenced(db, st, epoch, "cannot record check", cause);
}
