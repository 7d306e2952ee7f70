/*
 * Numbers for `baton stats` and `baton report`.
 *
 * Each query comes in two texts: over every task, and over one
 * milestone's (?2), so that the plain one stays a single pass with
 * nothing to test per row and the other can use tasks_milestone.  A
 * third, over one batch's runs (?3, runs_batch) and the tasks they ran,
 * also honours a milestone (?2, 0 for any).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

#define IN_MILESTONE "(SELECT id FROM tasks WHERE milestone_id = ?2)"
#define IN_BATCH                                                               \
	"(SELECT task_id FROM runs WHERE batch_id = ?3) AND (?2 = 0 OR "       \
	"milestone_id = ?2)"
#define RUN_IN_BATCH "batch_id = ?3 AND (?2 = 0 OR task_id IN " IN_MILESTONE ")"

/* total(), not sum(): a sum of integers that overflows is an error
 * ("integer overflow") that would fail stats for the whole database;
 * total() is a double, clamped when read (num.h). */
#define STATS_STATUS                                                           \
	"SELECT status, count(*), total(input_tokens), total(output_tokens), " \
	"total(cost_usd), total(max(attempts - 1, 0)) FROM tasks WHERE "       \
	"created_at >= ?1"
static const char sql_stats_status[] = STATS_STATUS " GROUP BY status";
static const char sql_stats_status_ms[] =
	STATS_STATUS " AND milestone_id = ?2 GROUP BY status";
static const char sql_stats_status_b[] =
	STATS_STATUS " AND id IN " IN_BATCH " GROUP BY status";
/* The tasks that did not complete, by reason: through tasks_status, so
 * a history of completed tasks costs nothing here. */
#define STATS_REASONS                                                          \
	"SELECT coalesce(reason, status), count(*) FROM tasks WHERE status "   \
	"IN ('failed', 'timed_out', 'cancelled', 'interrupted') AND "          \
	"created_at >= ?1"
static const char sql_stats_reasons[] = STATS_REASONS " GROUP BY 1 ORDER BY 1";
static const char sql_stats_reasons_ms[] =
	STATS_REASONS " AND milestone_id = ?2 GROUP BY 1 ORDER BY 1";
static const char sql_stats_reasons_b[] =
	STATS_REASONS " AND id IN " IN_BATCH " GROUP BY 1 ORDER BY 1";
/* One pass over runs: the totals, and the durations for percentiles. */
#define STATS_RUNS                                                             \
	"SELECT ended_at - started_at, resume_outcome, outcome "               \
	"FROM runs WHERE ended_at IS NOT NULL AND started_at >= ?1"
static const char sql_stats_runs[] = STATS_RUNS;
static const char sql_stats_runs_ms[] =
	STATS_RUNS " AND task_id IN " IN_MILESTONE;
static const char sql_stats_runs_b[] = STATS_RUNS " AND " RUN_IN_BATCH;
/* A retry is a run that follows a transient failure of its task. */
#define STATS_RETRIES                                                          \
	"SELECT count(*) FROM runs p WHERE p.outcome = 'transient' AND "       \
	"p.started_at >= ?1 AND EXISTS (SELECT 1 FROM runs q WHERE "           \
	"q.task_id = p.task_id AND q.id > p.id)"
static const char sql_stats_retries[] = STATS_RETRIES;
static const char sql_stats_retries_ms[] =
	STATS_RETRIES " AND p.task_id IN " IN_MILESTONE;
static const char sql_stats_retries_b[] = STATS_RETRIES
	" AND p.batch_id = ?3 AND (?2 = 0 OR p.task_id IN " IN_MILESTONE ")";
#define STATS_SESSIONS "SELECT count(*) FROM sessions WHERE status = 'active'"
static const char sql_stats_sessions[] = STATS_SESSIONS;
static const char sql_stats_sessions_ms[] =
	STATS_SESSIONS " AND id IN (SELECT session_id FROM tasks WHERE "
		       "milestone_id = ?2)";
static const char sql_stats_sessions_b[] = STATS_SESSIONS
	" AND id IN (SELECT session_id FROM tasks WHERE id IN " IN_BATCH ")";

/* One query's three texts: over all, one milestone's, one batch's. */
struct stats_sql {
	const char *all, *ms, *batch;
};

/* The statement for f: the batch's text when f names one, else the
 * milestone's when f names one. */
static sqlite3_stmt *
stats_stmt(struct db *db, const struct stats_sql *q,
	   const struct db_stats_filter *f, char **cause)
{
	const char *text = f->batch_id != NULL	  ? q->batch
			   : f->milestone_id != 0 ? q->ms
						  : q->all;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, text, cause)) == NULL)
		return NULL;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, f->since);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, f->milestone_id);
	if (sqlite3_bind_parameter_count(st) >= 3)
		db_bind_text(st, 3, f->batch_id);
	return st;
}

static const struct stats_sql q_status = {sql_stats_status, sql_stats_status_ms,
					  sql_stats_status_b};
static const struct stats_sql q_reasons = {
	sql_stats_reasons, sql_stats_reasons_ms, sql_stats_reasons_b};
static const struct stats_sql q_runs = {sql_stats_runs, sql_stats_runs_ms,
					sql_stats_runs_b};
static const struct stats_sql q_retries = {
	sql_stats_retries, sql_stats_retries_ms, sql_stats_retries_b};
static const struct stats_sql q_sessions = {
	sql_stats_sessions, sql_stats_sessions_ms, sql_stats_sessions_b};

static int
one_int(struct db *db, const struct stats_sql *q,
	const struct db_stats_filter *f, int64_t *out, char **cause)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = stats_stmt(db, q, f, cause)) == NULL)
		return -BERR_DB;
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
	const char *t = db_col_cstr(st, col);

	return t != NULL && strcmp(t, s) == 0;
}

static int
stats_runs(struct db *db, const struct db_stats_filter *f, struct db_stats *s,
	   char **cause)
{
	sqlite3_stmt *st;
	int64_t *d = NULL, v;
	size_t n = 0, cap = 0;
	int rc, resumed;

	if ((st = stats_stmt(db, &q_runs, f, cause)) == NULL)
		return -BERR_DB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			d = xreallocarray(d, cap, sizeof *d);
		}
		v = sqlite3_column_int64(st, 0);
		d[n++] = v;
		s->run_ms_sum += v;
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

static int
stats_status(struct db *db, const struct db_stats_filter *f, struct db_stats *s,
	     char **cause)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = stats_stmt(db, &q_status, f, cause)) == NULL)
		return -BERR_DB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum task_status ts;

		if (task_status_parse(db_col_cstr(st, 0), &ts) == 0)
			s->by_status[ts] = sqlite3_column_int64(st, 1);
		s->tasks += sqlite3_column_int64(st, 1);
		s->input_tokens = num_count_add(
			s->input_tokens,
			num_count_of(sqlite3_column_double(st, 2)));
		s->output_tokens = num_count_add(
			s->output_tokens,
			num_count_of(sqlite3_column_double(st, 3)));
		s->cost_usd =
			num_usd_add(s->cost_usd, sqlite3_column_double(st, 4));
		s->task_retries = num_count_add(
			s->task_retries,
			num_count_of(sqlite3_column_double(st, 5)));
	}
	if (rc != SQLITE_DONE)
		return db_fail(db, "cannot compute stats", cause);
	sqlite3_reset(st);
	return 0;
}

static int
stats_reasons(struct db *db, const struct db_stats_filter *f,
	      struct db_stats *s, char **cause)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	if ((st = stats_stmt(db, &q_reasons, f, cause)) == NULL)
		return -BERR_DB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_count *c;

		if (s->nfailure_reasons == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			s->failure_reasons =
				xreallocarray(s->failure_reasons, cap,
					      sizeof *s->failure_reasons);
		}
		c = &s->failure_reasons[s->nfailure_reasons++];
		c->name = db_col_text(st, 0);
		if (c->name == NULL)
			c->name = xstrdup("");
		c->n = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE)
		return db_fail(db, "cannot compute stats", cause);
	sqlite3_reset(st);
	return 0;
}

int
sqlite_stats(struct store *store, const struct db_stats_filter *f,
	     struct db_stats *s, char **cause)
{
	struct db *db = (struct db *)store;
	int rc;

	memset(s, 0, sizeof *s);
	if ((rc = stats_status(db, f, s, cause)) != 0 ||
	    (rc = stats_reasons(db, f, s, cause)) != 0 ||
	    (rc = stats_runs(db, f, s, cause)) != 0)
		return rc;
	if ((rc = one_int(db, &q_retries, f, &s->retries, cause)) != 0)
		return rc;
	return one_int(db, &q_sessions, f, &s->sessions_active, cause);
}
