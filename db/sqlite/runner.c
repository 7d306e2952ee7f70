/*
 * Runners: rows for the baton processes executing tasks, their
 * heartbeats, and undoing what a dead one held (SPEC §5).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

void
db_runners_free(struct db_runner *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].host);
		free(r[i].boot_id);
		free(r[i].status);
	}
	free(r);
}

static const char sql_runner_insert[] =
	"INSERT INTO runners (pid, host, boot_id, proc_start, started_at, "
	"heartbeat_at, batch_id) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)";

int
sqlite_runner_insert(struct store *store, const struct db_runner *r,
		     int64_t *id, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_runner_insert, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, r->pid);
	db_bind_text(st, 2, r->host);
	db_bind_text(st, 3, r->boot_id ? r->boot_id : "");
	sqlite3_bind_int64(st, 4, r->proc_start);
	sqlite3_bind_int64(st, 5, r->started_at);
	db_bind_text(st, 6, r->batch_id);
	if (db_step_done(db, st, "cannot register runner", cause) != 0)
		return -BERR_DB;
	*id = sqlite3_last_insert_rowid(db->h);
	return 0;
}

/* Only while it is alive: a runner that was reaped has lost its
 * leases, and its heartbeat must not make it look alive again. */
static const char sql_runner_beat[] =
	"UPDATE runners SET heartbeat_at = ?2 WHERE id = ?1 "
	"AND status = 'alive'";
static const char sql_runner_leases[] =
	"UPDATE sessions SET lease_expires = ?2 WHERE lease_runner = ?1";

int
sqlite_runner_heartbeat(struct store *store, int64_t id, int64_t now,
			int64_t lease_until, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_runner_beat, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	if (db_step_done(db, st, "cannot update heartbeat", cause) != 0)
		return -BERR_DB;
	if (sqlite3_changes(db->h) == 0) {
		*cause = xasprintf("runner %lld was reaped (lost lease)",
				   (long long)id);
		return -BERR_LEASE;
	}
	if ((st = db_stmt(db, sql_runner_leases, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, lease_until);
	return db_step_done(db, st, "cannot renew leases", cause);
}

/* Not over 'dead': a reaped runner that exits stays reaped. */
static const char sql_runner_exit[] =
	"UPDATE runners SET status = 'exited', ended_at = ?2 WHERE id = ?1 "
	"AND status = 'alive'";

int
sqlite_runner_exit(struct store *store, int64_t id, int64_t now, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_runner_exit, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return db_step_done(db, st, "cannot record runner exit", cause);
}

static const char sql_runner_alive[] =
	"SELECT id, pid, proc_start, started_at, heartbeat_at, host, boot_id "
	"FROM runners WHERE status = 'alive' ORDER BY id";

int
sqlite_runner_alive_list(struct store *store, struct db_runner **out, size_t *n,
			 char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = db_stmt(db, sql_runner_alive, cause)) == NULL)
		return -BERR_DB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_runner *r;

		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		r = &(*out)[(*n)++];
		memset(r, 0, sizeof *r);
		r->id = sqlite3_column_int64(st, 0);
		r->pid = sqlite3_column_int64(st, 1);
		r->proc_start = sqlite3_column_int64(st, 2);
		r->started_at = sqlite3_column_int64(st, 3);
		r->heartbeat_at = sqlite3_column_int64(st, 4);
		r->host = db_col_text(st, 5);
		r->boot_id = db_col_text(st, 6);
		r->status = xstrdup("alive");
	}
	if (rc != SQLITE_DONE) {
		db_runners_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_fail(db, "cannot list runners", cause);
	}
	sqlite3_reset(st);
	return 0;
}

/* Two at most: enough to tell one from ambiguous.  A scan of runners
 * (a row a `work` or `run`), compared byte-wise as PostgreSQL's is. */
static const char sql_batch_find[] =
	"SELECT DISTINCT batch_id FROM runners "
	"WHERE substr(batch_id, 1, length(?1)) = ?1 ORDER BY 1 LIMIT 2";

int
sqlite_batch_find(struct store *store, const char *prefix, char **id,
		  int *found, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*id = NULL;
	*found = 0;
	if ((st = db_stmt(db, sql_batch_find, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, prefix);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (++*found == 1)
			*id = db_col_text(st, 0);
	}
	if (rc != SQLITE_DONE) {
		free(*id);
		*id = NULL;
		*found = 0;
		return db_fail(db, "cannot read runners", cause);
	}
	sqlite3_reset(st);
	if (*found > 1) {
		free(*id);
		*id = NULL;
	}
	return 0;
}

/*
 * A runner's open runs are those of its running tasks: found through
 * tasks_status (status = 'running') and runs_task, so that no index on
 * runs.runner_id or tasks.runner_id has to be written with every task
 * (migration 7).  A run stays open only while its task runs: the run's
 * end is written before or with the task's.  INDEXED BY: with
 * statistics of a queue of a million pending tasks (ANALYZE) the
 * planner would take status = 'running' for a million rows too and scan
 * the table instead (tests/unit/t-db.c, test_plans_at_a_million_rows).
 */
#define REAP_TASKS "tasks INDEXED BY tasks_status"
#define REAP_RUNNING                                                           \
	"(SELECT id FROM " REAP_TASKS " WHERE status = 'running' AND "         \
	"runner_id = ?1)"

static const char sql_reap_orphans[] =
	"SELECT id, coalesce(pid, 0), coalesce(proc_start, 0) FROM runs "
	"INDEXED BY runs_task WHERE task_id IN " REAP_RUNNING
	" AND runner_id = ?1 "
	"AND ended_at IS NULL";
static const char sql_reap_runs[] =
	"UPDATE runs INDEXED BY runs_task SET ended_at = ?2, "
	"outcome = 'interrupted', "
	"error = 'the runner died' WHERE task_id IN " REAP_RUNNING
	" AND runner_id = ?1 AND ended_at IS NULL";
static const char sql_reap_temp[] =
	"UPDATE sessions SET status = 'abandoned', closed_at = ?2, "
	"lease_runner = NULL, lease_task = NULL, lease_expires = NULL "
	"WHERE kind = 'temp' AND status = 'active' AND id IN "
	"(SELECT session_id FROM " REAP_TASKS " WHERE runner_id = ?1 "
	"AND status = 'running')";
static const char sql_reap_events[] =
	"INSERT INTO events (at, kind, session_id, task_id, runner_id, detail) "
	"SELECT ?2, 'reap', session_id, id, ?1, 'runner died; task interrupted'"
	" FROM " REAP_TASKS " WHERE runner_id = ?1 AND status = 'running'";
static const char sql_reap_tasks[] =
	"UPDATE " REAP_TASKS
	" SET status = CASE WHEN ?3 AND attempts < max_attempts "
	"THEN 'pending' ELSE 'interrupted' END, finished_at = CASE WHEN ?3 AND "
	"attempts < max_attempts THEN NULL ELSE ?2 END, "
	"error = 'interrupted: its runner died', reason = 'interrupted', "
	"runner_id = NULL WHERE runner_id = ?1 AND status = 'running'";
static const char sql_reap_leases[] =
	"UPDATE sessions SET lease_runner = NULL, lease_task = NULL, "
	"lease_expires = NULL WHERE lease_runner = ?1";
static const char sql_reap_runner[] =
	"UPDATE runners SET status = 'dead', ended_at = ?2 WHERE id = ?1 "
	"AND status = 'alive' AND (?3 = 0 OR heartbeat_at <= ?3)";

int
sqlite_runner_reap(struct store *store, int64_t id, int64_t now, int requeue,
		   int64_t seen_heartbeat, struct db_orphan **orphans,
		   size_t *n, char **cause)
{
	struct db *db = (struct db *)store;
	static const char *const steps[] = {
		sql_reap_runs,	sql_reap_temp,	 sql_reap_events,
		sql_reap_tasks, sql_reap_leases,
	};
	sqlite3_stmt *st;
	size_t cap = 0, i;
	int rc;

	*orphans = NULL;
	*n = 0;
	/* The row first: the judgement the caller made (its heartbeat was
	 * stale) must still hold in this transaction. */
	if ((st = db_stmt(db, sql_reap_runner, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, seen_heartbeat);
	if ((rc = db_step_done(db, st, "cannot reap runner", cause)) != 0)
		return rc;
	if (seen_heartbeat != 0 && sqlite3_changes(db->h) == 0)
		return 0;
	if ((st = db_stmt(db, sql_reap_orphans, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*orphans =
				xreallocarray(*orphans, cap, sizeof **orphans);
		}
		(*orphans)[*n].run_id = sqlite3_column_int64(st, 0);
		(*orphans)[*n].pid = sqlite3_column_int64(st, 1);
		(*orphans)[*n].proc_start = sqlite3_column_int64(st, 2);
		(*n)++;
	}
	if (rc != SQLITE_DONE) {
		rc = db_fail(db, "cannot read runs", cause);
		goto fail;
	}
	sqlite3_reset(st);
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if ((st = db_stmt(db, steps[i], cause)) == NULL) {
			rc = -BERR_DB;
			goto fail;
		}
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_bind_parameter_count(st) >= 2)
			sqlite3_bind_int64(st, 2, now);
		if (sqlite3_bind_parameter_count(st) >= 3)
			sqlite3_bind_int(st, 3, requeue);
		if ((rc = db_step_done(db, st, "cannot reap runner", cause)))
			goto fail;
	}
	return 0;
fail:
	free(*orphans);
	*orphans = NULL;
	*n = 0;
	return rc;
}
