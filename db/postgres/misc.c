/*
 * doctor (S7), stats and prune for PostgreSQL: the queries of
 * db/sqlite/doctor.c, stats.c and prune.c in PostgreSQL's dialect.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/num.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "db/postgres/internal.h"

/* ---- doctor ---- */

static const char sql_doc_temp[] =
	"SELECT s.id, 'active temp session ' || s.id || ' has no pending or "
	"running task' FROM sessions s WHERE s.kind = 'temp' AND "
	"s.status = 'active' AND NOT EXISTS (SELECT 1 FROM tasks t WHERE "
	"t.session_id = s.id AND t.status IN ('pending', 'running'))";
static const char sql_doc_task[] =
	"SELECT t.id::text, 'task ' || t.id || ' is running but its runner ' "
	"|| coalesce(t.runner_id::text, '(none)') || ' is gone' FROM tasks t "
	"WHERE t.status = 'running' AND NOT EXISTS (SELECT 1 FROM runners r "
	"WHERE r.id = t.runner_id AND r.status = 'alive')";
static const char sql_doc_lease[] =
	"SELECT s.id, 'session ' || s.id || ' is leased by runner ' || "
	"s.lease_runner || ', which is gone' FROM sessions s WHERE "
	"s.lease_runner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM runners r "
	"WHERE r.id = s.lease_runner AND r.status = 'alive')";
static const char sql_doc_run[] =
	"SELECT u.id::text, 'run ' || u.id || ' of task ' || u.task_id || "
	"' never ended and its runner is gone' FROM runs u WHERE "
	"u.ended_at IS NULL AND NOT EXISTS (SELECT 1 FROM runners r WHERE "
	"r.id = u.runner_id AND r.status = 'alive')";

/*
 * At most one agent per session (SPEC §5): a run that started before an
 * earlier run of its session ended (an open one counts until now, $1),
 * as db/sqlite/doctor.c.  History: nothing to repair.
 */
static const char sql_doc_overlap[] =
	"SELECT id::text, 'run ' || id || ' of task ' || task_id || ' started "
	"before an earlier run of session ' || session_id || ' ended (two "
	"agents in one session)' FROM (SELECT id, task_id, session_id, "
	"started_at, max(coalesce(ended_at, $1::bigint)) OVER (PARTITION BY "
	"session_id ORDER BY started_at, id ROWS BETWEEN UNBOUNDED PRECEDING "
	"AND 1 PRECEDING) AS prev_end FROM runs WHERE session_id IS NOT NULL) "
	"o WHERE prev_end > started_at";

static const char sql_fix_temp[] = "UPDATE sessions SET status = 'abandoned', "
				   "closed_at = $1 WHERE id = $2";
static const char sql_fix_task[] =
	"UPDATE tasks SET status = 'interrupted', finished_at = $1, "
	"runner_id = NULL, reason = 'interrupted', "
	"error = 'interrupted: its runner is gone' WHERE id = $2::bigint";
static const char sql_fix_lease[] =
	"UPDATE sessions SET lease_runner = NULL, lease_task = NULL, "
	"lease_expires = NULL WHERE id = $2 AND $1::bigint IS NOT NULL";
static const char sql_fix_run[] =
	"UPDATE runs SET ended_at = $1, outcome = 'interrupted', "
	"error = 'its runner is gone' WHERE id = $2::bigint";

int
pg_doctor(struct store *store, int fix, int64_t now,
	  void (*fn)(void *, const char *, const char *), void *arg,
	  int *problems, char **cause)
{
	struct pg *pg = (struct pg *)store;
	static const struct {
		const char *kind, *check, *fix;
		int with_now;
	} checks[] = {
		{"running-task", sql_doc_task, sql_fix_task, 0},
		{"open-run", sql_doc_run, sql_fix_run, 0},
		{"lease", sql_doc_lease, sql_fix_lease, 0},
		{"temp-session", sql_doc_temp, sql_fix_temp, 0},
		{"session-overlap", sql_doc_overlap, NULL, 1},
	};
	PGresult *res;
	struct pgq q;
	size_t i;
	int r, rc = 0;

	*problems = 0;
	for (i = 0; rc == 0 && i < sizeof checks / sizeof checks[0]; i++) {
		pgq_init(&q);
		pgq_i64(&q, now);
		if ((rc = pg_exec(pg, checks[i].check,
				  checks[i].with_now ? &q : NULL, &res,
				  "cannot check", cause)) != 0)
			return rc;
		for (r = 0; rc == 0 && r < PQntuples(res); r++) {
			(*problems)++;
			fn(arg, checks[i].kind, PQgetvalue(res, r, 1));
			if (!fix || checks[i].fix == NULL)
				continue;
			pgq_init(&q);
			pgq_i64(&q, now);
			pgq_text(&q, PQgetvalue(res, r, 0));
			rc = pg_do(pg, checks[i].fix, &q, NULL, "cannot repair",
				   cause);
		}
		PQclear(res);
	}
	return rc;
}

/* ---- stats ---- */

#define IN_MILESTONE "(SELECT id FROM tasks WHERE milestone_id = $2::bigint)"
#define IN_BATCH                                                               \
	"(SELECT task_id FROM runs WHERE batch_id = $3::text) AND "            \
	"($2::bigint = 0 OR milestone_id = $2::bigint)"
/* Each query takes $1 since, $2 a milestone (0: any), $3 a batch (NULL:
 * any); the terms that do not apply are true. */
#define TASK_SCOPE                                                             \
	" created_at >= $1::bigint AND ($2::bigint = 0 OR milestone_id = "     \
	"$2::bigint) AND ($3::text IS NULL OR id IN " IN_BATCH ")"

static const char sql_stats_status[] =
	"SELECT status, count(*), sum(input_tokens), sum(output_tokens), "
	"sum(cost_usd), sum(greatest(attempts - 1, 0)) FROM tasks "
	"WHERE " TASK_SCOPE " GROUP BY status";
static const char sql_stats_reasons[] =
	"SELECT coalesce(reason, status) COLLATE \"C\", count(*) FROM tasks "
	"WHERE status IN ('failed', 'timed_out', 'cancelled', 'interrupted') "
	"AND " TASK_SCOPE " GROUP BY 1 ORDER BY 1";
#define RUN_SCOPE(r)                                                           \
	" AND ($2::bigint = 0 OR " r "task_id IN " IN_MILESTONE ") AND "       \
	"($3::text IS NULL OR " r "batch_id = $3::text)"
static const char sql_stats_runs[] =
	"SELECT ended_at - started_at, resume_outcome, outcome FROM runs "
	"WHERE ended_at IS NOT NULL AND started_at >= $1::bigint" RUN_SCOPE("");
static const char sql_stats_retries[] =
	"SELECT count(*) FROM runs p WHERE p.outcome = 'transient' AND "
	"p.started_at >= $1::bigint AND EXISTS (SELECT 1 FROM runs q WHERE "
	"q.task_id = p.task_id AND q.id > p.id)" RUN_SCOPE("p.");
static const char sql_stats_sessions[] =
	"SELECT count(*) FROM sessions WHERE status = 'active' AND "
	"($2::bigint = 0 OR id IN (SELECT session_id FROM tasks WHERE "
	"milestone_id = $2::bigint)) AND ($3::text IS NULL OR id IN (SELECT "
	"session_id FROM tasks WHERE id IN " IN_BATCH ")) AND $1::bigint >= 0";

static int
stats_query(struct pg *pg, const char *sql, const struct db_stats_filter *f,
	    PGresult **res, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, f->since);
	pgq_i64(&q, f->milestone_id);
	pgq_text(&q, f->batch_id);
	return pg_exec(pg, sql, &q, res, "cannot compute stats", cause);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
stats_runs(struct pg *pg, const struct db_stats_filter *f, struct db_stats *s,
	   char **cause)
{
	PGresult *res;
	int64_t *d, v;
	int i, n, resumed;

	if (stats_query(pg, sql_stats_runs, f, &res, cause))
		return -BERR_DB;
	n = PQntuples(res);
	d = xcalloc(n > 0 ? (size_t)n : 1, sizeof *d);
	for (i = 0; i < n; i++) {
		v = d[i] = pg_i64(res, i, 0);
		s->run_ms_sum += v;
		if (i == 0 || v > s->max_ms)
			s->max_ms = v;
		resumed = pg_is(res, i, 1, "resumed");
		s->resumes += resumed;
		s->resumes_ok += resumed && !pg_isnull(res, i, 2) &&
				 !pg_is(res, i, 2, "resume_failed");
		s->fallbacks += pg_is(res, i, 1, "fresh_after_failed_resume");
	}
	PQclear(res);
	s->runs = n;
	if (n > 0) {
		qsort(d, (size_t)n, sizeof *d, cmp_int64);
		s->p50_ms = d[(n - 1) / 2];
		s->p95_ms = d[((size_t)n * 95 + 99) / 100 - 1];
	}
	free(d);
	return 0;
}

static int
stats_status(struct pg *pg, const struct db_stats_filter *f, struct db_stats *s,
	     char **cause)
{
	PGresult *res;
	enum task_status ts;
	int i;

	if (stats_query(pg, sql_stats_status, f, &res, cause))
		return -BERR_DB;
	for (i = 0; i < PQntuples(res); i++) {
		if (task_status_parse(PQgetvalue(res, i, 0), &ts) == 0)
			s->by_status[ts] = pg_i64(res, i, 1);
		s->tasks += pg_i64(res, i, 1);
		/* sum() of a BIGINT is a numeric: read as a double,
		 * then clamped (lib/num.h) */
		s->input_tokens = num_count_add(
			s->input_tokens, num_count_of(pg_dbl(res, i, 2)));
		s->output_tokens = num_count_add(
			s->output_tokens, num_count_of(pg_dbl(res, i, 3)));
		s->cost_usd = num_usd_add(s->cost_usd, pg_dbl(res, i, 4));
		s->task_retries = num_count_add(
			s->task_retries, num_count_of(pg_dbl(res, i, 5)));
	}
	PQclear(res);
	return 0;
}

static int
stats_reasons(struct pg *pg, const struct db_stats_filter *f,
	      struct db_stats *s, char **cause)
{
	PGresult *res;
	int i, n;

	if (stats_query(pg, sql_stats_reasons, f, &res, cause))
		return -BERR_DB;
	n = PQntuples(res);
	if (n > 0)
		s->failure_reasons =
			xcalloc((size_t)n, sizeof *s->failure_reasons);
	for (i = 0; i < n; i++) {
		s->failure_reasons[i].name = pg_text(res, i, 0);
		if (s->failure_reasons[i].name == NULL)
			s->failure_reasons[i].name = xstrdup("");
		s->failure_reasons[i].n = pg_i64(res, i, 1);
	}
	s->nfailure_reasons = (size_t)n;
	PQclear(res);
	return 0;
}

static int
stats_one(struct pg *pg, const char *sql, const struct db_stats_filter *f,
	  int64_t *out, char **cause)
{
	PGresult *res;

	if (stats_query(pg, sql, f, &res, cause))
		return -BERR_DB;
	*out = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int
pg_stats(struct store *store, const struct db_stats_filter *f,
	 struct db_stats *s, char **cause)
{
	struct pg *pg = (struct pg *)store;
	int rc;

	memset(s, 0, sizeof *s);
	if ((rc = stats_status(pg, f, s, cause)) != 0 ||
	    (rc = stats_reasons(pg, f, s, cause)) != 0 ||
	    (rc = stats_runs(pg, f, s, cause)) != 0 ||
	    (rc = stats_one(pg, sql_stats_retries, f, &s->retries, cause)) != 0)
		return rc;
	return stats_one(pg, sql_stats_sessions, f, &s->sessions_active, cause);
}

/* ---- prune ---- */

#define PRUNABLE_TASK(t)                                                       \
	"(" t ".status IN ('completed', 'failed', 'cancelled', 'timed_out', "  \
	"'interrupted') AND coalesce(" t ".finished_at, " t ".created_at) < "  \
	"$1::bigint)"
#define ENDED_SESSION                                                          \
	"s.status <> 'active' AND s.lease_runner IS NULL AND "                 \
	"coalesce(s.closed_at, s.last_used_at) < $1::bigint"
#define UNUSED_SESSION                                                         \
	ENDED_SESSION " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE "          \
		      "t.session_id = s.id) AND NOT EXISTS (SELECT 1 FROM "    \
		      "runs r WHERE r.session_id = s.id)"
#define UNUSED_SESSION_AFTER                                                   \
	ENDED_SESSION                                                          \
	" AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.session_id = s.id "    \
	"AND NOT " PRUNABLE_TASK("t") ") AND NOT EXISTS (SELECT 1 FROM runs "  \
				      "r JOIN tasks t ON t.id = r.task_id "    \
				      "WHERE r.session_id = s.id AND "         \
				      "NOT " PRUNABLE_TASK("t") ")"

/* The batch: $2, an array of task ids. */
#define BATCH_IDS " = ANY ($2::bigint[])"

static const char sql_list_tasks[] =
	"SELECT id FROM tasks t WHERE t.id > $2::bigint AND " PRUNABLE_TASK(
		"t") " ORDER BY t.id LIMIT $3::bigint";
static const char sql_check_tasks[] =
	"SELECT id FROM tasks t WHERE t.id" BATCH_IDS
	" AND " PRUNABLE_TASK("t") " ORDER BY id";
static const char sql_count_runs[] =
	"SELECT count(*) FROM runs WHERE task_id" BATCH_IDS
	" AND $1::bigint IS NOT NULL";
#define TASK_EVENTS                                                            \
	"FROM events WHERE task_id" BATCH_IDS " AND $1::bigint IS NOT NULL "   \
	"AND (session_id IS NULL OR NOT EXISTS (SELECT 1 FROM sessions s "     \
	"WHERE s.id = events.session_id))"
static const char sql_count_task_events[] = "SELECT count(*) " TASK_EVENTS;
static const char sql_del_task_links[] =
	"UPDATE session_chain SET run_id = NULL WHERE run_id IN (SELECT id "
	"FROM runs WHERE task_id" BATCH_IDS ") AND $1::bigint IS NOT NULL";
static const char sql_del_task_events[] = "DELETE " TASK_EVENTS;
static const char sql_del_runs[] = "DELETE FROM runs WHERE task_id" BATCH_IDS
				   " AND $1::bigint IS NOT NULL";
static const char sql_del_tasks[] =
	"DELETE FROM tasks WHERE id" BATCH_IDS " AND $1::bigint IS NOT NULL";

int
pg_prune_tasks_list(struct store *store, int64_t before, int64_t after,
		    int64_t *ids, size_t max, size_t *n, char **cause)
{
	PGresult *res;
	struct pgq q;
	int i, rc;

	*n = 0;
	pgq_init(&q);
	pgq_i64(&q, before);
	pgq_i64(&q, after);
	pgq_i64(&q, (int64_t)max);
	if ((rc = pg_exec((struct pg *)store, sql_list_tasks, &q, &res,
			  "cannot list tasks to prune", cause)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res) && *n < max; i++)
		ids[(*n)++] = pg_i64(res, i, 0);
	PQclear(res);
	return 0;
}

/* sql with $1 before, $2 text: its count(*) or rows changed added to
 * *count (if not NULL). */
static int
batch_step(struct pg *pg, const char *sql, int64_t before, const char *batch,
	   int64_t *count, char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	pgq_init(&q);
	pgq_i64(&q, before);
	pgq_text(&q, batch);
	if ((rc = pg_exec(pg, sql, &q, &res, "cannot prune", cause)) != 0)
		return rc;
	if (count != NULL) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			*count += PQntuples(res) > 0 ? pg_i64(res, 0, 0) : 0;
		else
			*count += strtoll(PQcmdTuples(res), NULL, 10);
	}
	PQclear(res);
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Mark in gone[] the ids still prunable; their array literal in *arr. */
static int
check_tasks(struct pg *pg, int64_t before, const int64_t *ids, size_t n,
	    int *gone, char **arr, char **cause)
{
	struct strbuf all, kept;
	const int64_t *found;
	PGresult *res;
	struct pgq q;
	int64_t id;
	size_t i;
	int r;

	strbuf_init(&all);
	for (i = 0; i < n; i++) {
		gone[i] = 0;
		strbuf_addf(&all, "%s%lld", i ? "," : "{", (long long)ids[i]);
	}
	strbuf_adds(&all, "}");
	pgq_init(&q);
	pgq_i64(&q, before);
	pgq_text(&q, all.buf);
	r = pg_exec(pg, sql_check_tasks, &q, &res,
		    "cannot check tasks to prune", cause);
	strbuf_release(&all);
	if (r != 0)
		return -BERR_DB;
	strbuf_init(&kept);
	strbuf_adds(&kept, "{");
	for (r = 0; r < PQntuples(res); r++) {
		id = pg_i64(res, r, 0);
		found = bsearch(&id, ids, n, sizeof *ids, cmp_id);
		if (found != NULL)
			gone[found - ids] = 1;
		strbuf_addf(&kept, "%s%lld", r ? "," : "", (long long)id);
	}
	strbuf_adds(&kept, "}");
	PQclear(res);
	*arr = strbuf_detach(&kept);
	return 0;
}

int
pg_prune_tasks(struct store *store, int64_t before, const int64_t *ids,
	       size_t n, int *gone, int count_only, struct db_prune_counts *c,
	       char **cause)
{
	struct pg *pg = (struct pg *)store;
	char *arr = NULL;
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = check_tasks(pg, before, ids, n, gone, &arr, cause)) != 0)
		return rc;
	if (count_only) {
		if ((rc = batch_step(pg, sql_count_runs, before, arr, &c->runs,
				     cause)) == 0)
			rc = batch_step(pg, sql_count_task_events, before, arr,
					&c->events, cause);
		for (i = 0; rc == 0 && i < n; i++)
			c->tasks += gone[i];
	} else if ((rc = batch_step(pg, sql_del_task_links, before, arr, NULL,
				    cause)) == 0 &&
		   (rc = batch_step(pg, sql_del_task_events, before, arr,
				    &c->events, cause)) == 0 &&
		   (rc = batch_step(pg, sql_del_runs, before, arr, &c->runs,
				    cause)) == 0)
		rc = batch_step(pg, sql_del_tasks, before, arr, &c->tasks,
				cause);
	free(arr);
	return rc;
}

static const char sql_list_sessions[] =
	"SELECT s.id FROM sessions s WHERE s.id > $2 AND " UNUSED_SESSION
	" ORDER BY s.id LIMIT $3::bigint";
static const char sql_list_sessions_after[] =
	"SELECT s.id FROM sessions s WHERE s.id > $2 AND " UNUSED_SESSION_AFTER
	" ORDER BY s.id LIMIT $3::bigint";

int
pg_prune_sessions_list(struct store *store, int64_t before, int assume_gone,
		       const char *after, struct strvec *ids, size_t max,
		       char **cause)
{
	PGresult *res;
	struct pgq q;
	int i, rc;

	pgq_init(&q);
	pgq_i64(&q, before);
	pgq_text(&q, after != NULL ? after : "");
	pgq_i64(&q, (int64_t)max);
	if ((rc = pg_exec(
		     (struct pg *)store,
		     assume_gone ? sql_list_sessions_after : sql_list_sessions,
		     &q, &res, "cannot list sessions to prune", cause)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++)
		strvec_push(ids, PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

static const char sql_check_session[] =
	"SELECT count(*) FROM sessions s WHERE s.id = $2 AND " UNUSED_SESSION;
static const char sql_check_session_after[] =
	"SELECT count(*) FROM sessions s WHERE s.id = $2 "
	"AND " UNUSED_SESSION_AFTER;
#define SESSION_EVENTS                                                         \
	"FROM events WHERE session_id = $2 AND $1::bigint IS NOT NULL AND "    \
	"(task_id IS NULL OR NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = "  \
	"events.task_id))"
static const char sql_count_session_events[] =
	"SELECT count(*) FROM events WHERE session_id = $2 AND (task_id IS "
	"NULL OR NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = "
	"events.task_id AND NOT " PRUNABLE_TASK("t") "))";
static const char sql_count_links[] =
	"SELECT count(*) FROM session_chain WHERE session_id = $2 "
	"AND $1::bigint IS NOT NULL";
static const char sql_del_session_events[] = "DELETE " SESSION_EVENTS;
static const char sql_del_ms_session[] =
	"UPDATE milestones SET session_id = NULL WHERE session_id = $2 "
	"AND $1::bigint IS NOT NULL";
static const char sql_del_predecessor[] =
	"UPDATE sessions SET predecessor = NULL WHERE predecessor = $2 "
	"AND $1::bigint IS NOT NULL";
static const char sql_del_links[] =
	"DELETE FROM session_chain WHERE session_id = $2 "
	"AND $1::bigint IS NOT NULL";
static const char sql_del_session[] =
	"DELETE FROM sessions WHERE id = $2 AND $1::bigint IS NOT NULL";

static int
prune_session(struct pg *pg, int64_t before, const char *id, int count_only,
	      int *gone, struct db_prune_counts *c, char **cause)
{
	int64_t ok = 0;
	int rc;

	*gone = 0;
	rc = batch_step(
		pg, count_only ? sql_check_session_after : sql_check_session,
		before, id, &ok, cause);
	if (rc != 0 || ok == 0)
		return rc;
	*gone = 1;
	if (count_only) {
		c->sessions++;
		if ((rc = batch_step(pg, sql_count_session_events, before, id,
				     &c->events, cause)) == 0)
			rc = batch_step(pg, sql_count_links, before, id,
					&c->links, cause);
		return rc;
	}
	if ((rc = batch_step(pg, sql_del_session_events, before, id, &c->events,
			     cause)) == 0 &&
	    (rc = batch_step(pg, sql_del_ms_session, before, id, NULL,
			     cause)) == 0 &&
	    (rc = batch_step(pg, sql_del_predecessor, before, id, NULL,
			     cause)) == 0 &&
	    (rc = batch_step(pg, sql_del_links, before, id, &c->links,
			     cause)) == 0)
		rc = batch_step(pg, sql_del_session, before, id, &c->sessions,
				cause);
	return rc;
}

int
pg_prune_sessions(struct store *store, int64_t before, const struct strvec *ids,
		  int *gone, int count_only, struct db_prune_counts *c,
		  char **cause)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < ids->n; i++)
		rc = prune_session((struct pg *)store, before, ids->v[i],
				   count_only, &gone[i], c, cause);
	return rc;
}

static const char pg_sql_meta_get[] = "SELECT value FROM meta WHERE key = $1";

int
pg_meta_get(struct store *st, const char *key, char **value, char **cause)
{
	struct pg *db = (struct pg *)st;
	PGresult *res = NULL;
	struct pgq q;
	int rc;

	*value = NULL;
	pgq_init(&q);
	pgq_text(&q, key);
	rc = pg_exec(db, pg_sql_meta_get, &q, &res,
		     "cannot read the database's id", cause);
	if (rc == 0 && PQntuples(res) > 0)
		*value = pg_text(res, 0, 0);
	PQclear(res);
	return rc;
}

int
pg_meta_delete(struct store *st, const char *key, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, key);
	return pg_do((struct pg *)st, "DELETE FROM meta WHERE key = $1", &q,
		     NULL, "cannot update the database", cause);
}
