/*
 * The invariants `baton doctor` checks (S7), as queries, and repairs.
 */
#include <stdlib.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

/* A runner counts as gone when its row is not 'alive'. */
static const char sql_doc_temp[] =
	"SELECT s.id, 'active temp session ' || s.id || ' has no pending or "
	"running task' FROM sessions s WHERE s.kind = 'temp' AND "
	"s.status = 'active' AND NOT EXISTS (SELECT 1 FROM tasks t WHERE "
	"t.session_id = s.id AND t.status IN ('pending', 'running'))";
static const char sql_doc_task[] =
	"SELECT t.id, 'task ' || t.id || ' is running but its runner ' || "
	"coalesce(t.runner_id, '(none)') || ' is gone' FROM tasks t WHERE "
	"t.status = 'running' AND NOT EXISTS (SELECT 1 FROM runners r WHERE "
	"r.id = t.runner_id AND r.status = 'alive')";
static const char sql_doc_lease[] =
	"SELECT s.id, 'session ' || s.id || ' is leased by runner ' || "
	"s.lease_runner || ', which is gone' FROM sessions s WHERE "
	"s.lease_runner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM runners r "
	"WHERE r.id = s.lease_runner AND r.status = 'alive')";
static const char sql_doc_run[] =
	"SELECT u.id, 'run ' || u.id || ' of task ' || u.task_id || "
	"' never ended and its runner is gone' FROM runs u WHERE "
	"u.ended_at IS NULL AND NOT EXISTS (SELECT 1 FROM runners r WHERE "
	"r.id = u.runner_id AND r.status = 'alive')";

/*
 * At most one agent per session (SPEC §5): a run that started before an
 * earlier run of its session ended (an open one counts until now, ?1).
 * The one case no lease covers, a runner frozen whole while its agent
 * ran on, shows here.  A running maximum over the runs in start order,
 * so that a session of many runs costs a sort, not a join of each pair.
 * It is history: nothing to repair; it stays until the runs are pruned.
 */
static const char sql_doc_overlap[] =
	"SELECT id, 'run ' || id || ' of task ' || task_id || ' started "
	"before an earlier run of session ' || session_id || ' ended (two "
	"agents in one session)' FROM (SELECT id, task_id, session_id, "
	"started_at, max(coalesce(ended_at, ?1)) OVER (PARTITION BY "
	"session_id ORDER BY started_at, id ROWS BETWEEN UNBOUNDED PRECEDING "
	"AND 1 PRECEDING) AS prev_end FROM runs WHERE session_id IS NOT NULL) "
	"WHERE prev_end > started_at";

static const char sql_fix_temp[] = "UPDATE sessions SET status = 'abandoned', "
				   "closed_at = ?1 WHERE id = ?2";
static const char sql_fix_task[] =
	"UPDATE tasks SET status = 'interrupted', finished_at = ?1, "
	"runner_id = NULL, reason = 'interrupted', "
	"error = 'interrupted: its runner is gone' WHERE id = ?2";
static const char sql_fix_lease[] =
	"UPDATE sessions SET lease_runner = NULL, lease_task = NULL, "
	"lease_expires = NULL WHERE id = ?2 AND ?1 IS NOT NULL";
static const char sql_fix_run[] =
	"UPDATE runs SET ended_at = ?1, outcome = 'interrupted', "
	"error = 'its runner is gone' WHERE id = ?2";

int
sqlite_doctor(struct store *store, int fix, int64_t now,
	      void (*fn)(void *, const char *, const char *), void *arg,
	      int *problems, char **cause)
{
	struct db *db = (struct db *)store;
	static const struct {
		const char *kind, *check, *fix;
	} checks[] = {
		{"running-task", sql_doc_task, sql_fix_task},
		{"open-run", sql_doc_run, sql_fix_run},
		{"lease", sql_doc_lease, sql_fix_lease},
		{"temp-session", sql_doc_temp, sql_fix_temp},
		{"session-overlap", sql_doc_overlap, NULL},
	};
	sqlite3_stmt *st, *fx;
	size_t i;
	int rc = 0, step;

	*problems = 0;
	for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		if ((st = db_stmt(db, checks[i].check, cause)) == NULL) {
			rc = -BERR_DB;
			goto out;
		}
		if (sqlite3_bind_parameter_count(st) >= 1)
			sqlite3_bind_int64(st, 1, now);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			(*problems)++;
			fn(arg, checks[i].kind, db_col_cstr(st, 1));
			if (!fix || checks[i].fix == NULL)
				continue;
			if ((fx = db_stmt(db, checks[i].fix, cause)) == NULL) {
				rc = -BERR_DB;
				goto out;
			}
			sqlite3_bind_int64(fx, 1, now);
			sqlite3_bind_value(fx, 2, sqlite3_column_value(st, 0));
			if ((rc = db_step_done(db, fx, "cannot repair",
					       cause)) != 0)
				goto out;
		}
		if (step != SQLITE_DONE) {
			rc = db_fail(db, "cannot check", cause);
			goto out;
		}
		sqlite3_reset(st);
	}
out:
	return rc;
}
