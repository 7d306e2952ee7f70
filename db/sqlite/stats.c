/*
 * Numbers for `baton stats` and `baton report`.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

static const char sql_stats_status[] =
	"SELECT status, count(*), sum(input_tokens), sum(output_tokens), "
	"sum(cost_usd) FROM tasks WHERE created_at >= ?1 GROUP BY status";
/* One pass over runs: the totals, and the durations for percentiles. */
static const char sql_stats_runs[] =
	"SELECT ended_at - started_at, resume_outcome, outcome "
	"FROM runs WHERE ended_at IS NOT NULL AND started_at >= ?1";
/* A retry is a run that follows a transient failure of its task. */
static const char sql_stats_retries[] =
	"SELECT count(*) FROM runs p WHERE p.outcome = 'transient' AND "
	"p.started_at >= ?1 AND EXISTS (SELECT 1 FROM runs q WHERE "
	"q.task_id = p.task_id AND q.id > p.id)";
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

static int
cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
text_is(sqlite3_stmt *st, int col, const char *s)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t != NULL && strcmp((const char *)t, s) == 0;
}

static int
stats_runs(struct db *db, int64_t since, struct db_stats *s, char **cause)
{
	sqlite3_stmt *st;
	int64_t *d = NULL, v;
	size_t n = 0, cap = 0;
	int rc, resumed;

	if ((st = db_stmt(db, sql_stats_runs, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			d = xreallocarray(d, cap, sizeof *d);
		}
		v = sqlite3_column_int64(st, 0);
		d[n++] = v;
		if (n == 1 || v > s->max_ms)
			s->max_ms = v;
		resumed = text_is(st, 1, "resumed");
		s->resumes += resumed;
		s->resumes_ok += resumed &&
				 sqlite3_column_type(st, 2) != SQLITE_NULL &&
				 !text_is(st, 2, "resume_failed");
		s->fallbacks += text_is(st, 1, "fresh_after_failed_resume");
	}
	if (rc != SQLITE_DONE) {
		free(d);
		return db_fail(db, "cannot compute stats", cause);
	}
	sqlite3_reset(st);
	s->runs = (int64_t)n;
	if (n > 0) {
		qsort(d, n, sizeof *d, cmp_int64);
		s->p50_ms = d[(n - 1) / 2];
		s->p95_ms = d[(n * 95 + 99) / 100 - 1];
	}
	free(d);
	return 0;
}

int
sqlite_stats(struct store *store, int64_t since, struct db_stats *s,
	     char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	memset(s, 0, sizeof *s);
	if ((st = db_stmt(db, sql_stats_status, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum task_status ts;

		if (task_status_parse((const char *)sqlite3_column_text(st, 0),
				      &ts) == 0)
			s->by_status[ts] = sqlite3_column_int64(st, 1);
		s->tasks += sqlite3_column_int64(st, 1);
		s->input_tokens += sqlite3_column_int64(st, 2);
		s->output_tokens += sqlite3_column_int64(st, 3);
		s->cost_usd += sqlite3_column_double(st, 4);
	}
	if (rc != SQLITE_DONE)
		return db_fail(db, "cannot compute stats", cause);
	sqlite3_reset(st);

	if ((rc = stats_runs(db, since, s, cause)) != 0)
		return rc;
	if ((rc = one_int(db, sql_stats_retries, since, 0, &s->retries,
			  cause)) != 0)
		return rc;
	return one_int(db, sql_stats_sessions, 0, 0, &s->sessions_active,
		       cause);
}
