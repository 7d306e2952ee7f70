/*
 * Numbers for `baton stats` and `baton report`.
 */
#include <string.h>

#include "core/baton.h"
#include "db/db-internal.h"

static const char *const status_names[] = {
	"pending",   "running",	  "completed",	 "failed",
	"cancelled", "timed_out", "interrupted",
};

static const char sql_stats_status[] =
	"SELECT status, count(*), sum(input_tokens), sum(output_tokens), "
	"sum(cost_usd) FROM tasks WHERE created_at >= ?1 GROUP BY status";
static const char sql_stats_runs[] =
	"SELECT count(*), max(ended_at - started_at), "
	"sum(resume_outcome = 'resumed'), "
	"sum(resume_outcome = 'resumed' AND outcome <> 'resume_failed'), "
	"sum(resume_outcome = 'fresh_after_failed_resume') "
	"FROM runs WHERE ended_at IS NOT NULL AND started_at >= ?1";
/* A retry is a run that follows a transient failure of its task. */
static const char sql_stats_retries[] =
	"SELECT count(*) FROM runs p WHERE p.outcome = 'transient' AND "
	"p.started_at >= ?1 AND EXISTS (SELECT 1 FROM runs q WHERE "
	"q.task_id = p.task_id AND q.id > p.id)";
static const char sql_stats_pct[] =
	"SELECT ended_at - started_at AS d FROM runs WHERE ended_at IS NOT "
	"NULL AND started_at >= ?1 ORDER BY d LIMIT 1 OFFSET ?2";
static const char sql_stats_sessions[] =
	"SELECT count(*) FROM sessions WHERE status = 'active'";

static int
one_int(struct db *db, const char *sql, int64_t a, int64_t b, int64_t *out,
	char **cause)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, sql, cause)) == NULL)
		return -BERR_DB;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		*out = 0;
	else
		return db_fail(db, "cannot compute stats", cause);
	sqlite3_reset(st);
	return 0;
}

int
db_stats(struct db *db, int64_t since, struct db_stats *s, char **cause)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	memset(s, 0, sizeof *s);
	if ((st = db_stmt(db, sql_stats_status, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		for (i = 0; i < 7; i++) {
			if (strcmp(name, status_names[i]) == 0)
				s->by_status[i] = sqlite3_column_int64(st, 1);
		}
		s->tasks += sqlite3_column_int64(st, 1);
		s->input_tokens += sqlite3_column_int64(st, 2);
		s->output_tokens += sqlite3_column_int64(st, 3);
		s->cost_usd += sqlite3_column_double(st, 4);
	}
	if (rc != SQLITE_DONE)
		return db_fail(db, "cannot compute stats", cause);
	sqlite3_reset(st);

	if ((st = db_stmt(db, sql_stats_runs, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, since);
	if (sqlite3_step(st) != SQLITE_ROW)
		return db_fail(db, "cannot compute stats", cause);
	s->runs = sqlite3_column_int64(st, 0);
	s->max_ms = sqlite3_column_int64(st, 1);
	s->resumes = sqlite3_column_int64(st, 2);
	s->resumes_ok = sqlite3_column_int64(st, 3);
	s->fallbacks = sqlite3_column_int64(st, 4);
	sqlite3_reset(st);

	if (s->runs > 0) {
		if ((rc = one_int(db, sql_stats_pct, since, (s->runs - 1) / 2,
				  &s->p50_ms, cause)) != 0 ||
		    (rc = one_int(db, sql_stats_pct, since,
				  (s->runs * 95 + 99) / 100 - 1, &s->p95_ms,
				  cause)) != 0)
			return rc;
	}
	if ((rc = one_int(db, sql_stats_retries, since, 0, &s->retries,
			  cause)) != 0)
		return rc;
	return one_int(db, sql_stats_sessions, 0, 0, &s->sessions_active,
		       cause);
}
