/*
 * `baton prune`: finished tasks and ended sessions, a batch at a time
 * (core/prune.c drives the batches and removes the files).
 *
 * A batch is listed by a read outside any transaction, then deleted in
 * a write transaction that checks each row again (a task retried or a
 * session used meanwhile stays), so that the write lock is held only
 * for the deletes of one batch.  Task ids travel as a JSON array bound
 * to one parameter and read back with json_each(): one statement per
 * table for the whole batch.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

/* A task that prune may delete; ?1 is the cut-off time. */
#define PRUNABLE_TASK(t)                                                       \
	"(" t ".status = 'completed' OR " t ".status = 'failed' OR " t         \
	".status = 'cancelled' OR " t ".status = 'timed_out' OR " t            \
	".status = 'interrupted') AND coalesce(" t ".finished_at, " t          \
	".created_at) < ?1"

/* A session that ended before ?1 and is not leased. */
#define ENDED_SESSION                                                          \
	"s.status <> 'active' AND s.lease_runner IS NULL AND "                 \
	"coalesce(s.closed_at, s.last_used_at) < ?1"

/* ... that no task or run refers to. */
#define UNUSED_SESSION                                                         \
	ENDED_SESSION " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE "          \
		      "t.session_id = s.id) AND NOT EXISTS (SELECT 1 FROM "    \
		      "runs r WHERE r.session_id = s.id)"

/* ... that no task or run refers to once the prunable tasks are gone. */
#define UNUSED_SESSION_AFTER                                                   \
	ENDED_SESSION                                                          \
	" AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.session_id = s.id "    \
	"AND NOT (" PRUNABLE_TASK("t") ")) AND NOT EXISTS (SELECT 1 FROM "     \
				       "runs r JOIN tasks t ON t.id = "        \
				       "r.task_id WHERE r.session_id = s.id "  \
				       "AND NOT (" PRUNABLE_TASK("t") "))"

#define BATCH_IDS "(SELECT value FROM json_each(?2))"

static const char sql_list_tasks[] =
	"SELECT id FROM tasks t WHERE t.id > ?2 AND " PRUNABLE_TASK(
		"t") " ORDER BY t.id LIMIT ?3";

/* Of the batch ?2, the tasks still prunable. */
static const char sql_check_tasks[] =
	"SELECT id FROM tasks t WHERE t.id IN " BATCH_IDS
	" AND " PRUNABLE_TASK("t");

static const char sql_count_runs[] =
	"SELECT count(*) FROM runs WHERE task_id IN " BATCH_IDS;
/* A task's events that name no session, or one that is gone. */
#define TASK_EVENTS                                                            \
	"FROM events WHERE task_id IN " BATCH_IDS                              \
	" AND (session_id IS NULL OR NOT EXISTS (SELECT 1 "                    \
	"FROM sessions s WHERE s.id = events.session_id))"
static const char sql_count_task_events[] = "SELECT count(*) " TASK_EVENTS;

static const char sql_del_task_links[] =
	"UPDATE session_chain SET run_id = NULL WHERE run_id IN (SELECT id "
	"FROM runs WHERE task_id IN " BATCH_IDS ")";
static const char sql_del_task_events[] = "DELETE " TASK_EVENTS;
static const char sql_del_runs[] =
	"DELETE FROM runs WHERE task_id IN " BATCH_IDS;
static const char sql_del_tasks[] = "DELETE FROM tasks WHERE id IN " BATCH_IDS;

int
sqlite_prune_tasks_list(struct store *store, int64_t before, int64_t after,
			int64_t *ids, size_t max, size_t *n, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE;

	*n = 0;
	if ((st = db_stmt(db, sql_list_tasks, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	if (*n < max && rc != SQLITE_DONE) {
		db_fail(db, "cannot list tasks to prune", cause);
		sqlite3_reset(st);
		return -BERR_DB;
	}
	sqlite3_reset(st);
	return 0;
}

/* Run st (bound to ?1 before, ?2 the batch) to its end; its count(*)
 * or the rows it changed added to *count. */
static int
batch_step(struct db *db, const char *sql, int64_t before, const char *batch,
	   int64_t *count, char **cause)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, sql, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_text(st, 2, batch, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (count != NULL)
			*count += sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	} else if (rc == SQLITE_DONE && count != NULL &&
		   strncmp(sql, "SELECT", 6) != 0)
		*count += sqlite3_changes(db->h);
	if (rc != SQLITE_DONE) {
		db_fail(db, "cannot prune", cause);
		sqlite3_reset(st);
		return -BERR_DB;
	}
	sqlite3_reset(st);
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Mark in gone[] the ids still prunable; their JSON array in *json. */
static int
check_tasks(struct db *db, int64_t before, const int64_t *ids, size_t n,
	    int *gone, char **json, char **cause)
{
	struct strbuf all, kept;
	const int64_t *found;
	sqlite3_stmt *st;
	int64_t id;
	size_t i, j = 0;
	int rc;

	strbuf_init(&all);
	strbuf_init(&kept);
	for (i = 0; i < n; i++) {
		gone[i] = 0;
		strbuf_addf(&all, "%s%lld", i ? "," : "[", (long long)ids[i]);
	}
	strbuf_adds(&all, "]");
	if ((st = db_stmt(db, sql_check_tasks, cause)) == NULL) {
		strbuf_release(&all);
		return -BERR_DB;
	}
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_text(st, 2, all.buf, -1, SQLITE_STATIC);
	strbuf_adds(&kept, "[");
	/* in no particular order: look each up in ids[] (ascending) */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		found = bsearch(&id, ids, n, sizeof *ids, cmp_id);
		if (found != NULL)
			gone[found - ids] = 1;
		strbuf_addf(&kept, "%s%lld", j++ ? "," : "", (long long)id);
	}
	strbuf_adds(&kept, "]");
	if (rc != SQLITE_DONE)
		db_fail(db, "cannot check tasks to prune", cause);
	sqlite3_reset(st);
	strbuf_release(&all);
	if (rc != SQLITE_DONE) {
		strbuf_release(&kept);
		return -BERR_DB;
	}
	*json = strbuf_detach(&kept);
	return 0;
}

int
sqlite_prune_tasks(struct store *store, int64_t before, const int64_t *ids,
		   size_t n, int *gone, int count_only,
		   struct db_prune_counts *c, char **cause)
{
	struct db *db = (struct db *)store;
	char *json = NULL;
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = check_tasks(db, before, ids, n, gone, &json, cause)) != 0)
		return rc;
	if (count_only) {
		if ((rc = batch_step(db, sql_count_runs, before, json, &c->runs,
				     cause)) == 0)
			rc = batch_step(db, sql_count_task_events, before, json,
					&c->events, cause);
		for (i = 0; rc == 0 && i < n; i++)
			c->tasks += gone[i];
	} else if ((rc = batch_step(db, sql_del_task_links, before, json, NULL,
				    cause)) == 0 &&
		   (rc = batch_step(db, sql_del_task_events, before, json,
				    &c->events, cause)) == 0 &&
		   (rc = batch_step(db, sql_del_runs, before, json, &c->runs,
				    cause)) == 0)
		rc = batch_step(db, sql_del_tasks, before, json, &c->tasks,
				cause);
	free(json);
	return rc;
}

/* ---- sessions ---- */

static const char sql_list_sessions[] =
	"SELECT s.id FROM sessions s WHERE s.id > ?2 AND " UNUSED_SESSION
	" ORDER BY s.id LIMIT ?3";
static const char sql_list_sessions_after[] =
	"SELECT s.id FROM sessions s WHERE s.id > ?2 AND " UNUSED_SESSION_AFTER
	" ORDER BY s.id LIMIT ?3";

int
sqlite_prune_sessions_list(struct store *store, int64_t before, int assume_gone,
			   const char *after, struct strvec *ids, size_t max,
			   char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(db,
		     assume_gone ? sql_list_sessions_after : sql_list_sessions,
		     cause);
	if (st == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, before);
	db_bind_text(st, 2, after ? after : "");
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		strvec_push(ids, db_col_cstr(st, 0));
	if (rc != SQLITE_DONE) {
		db_fail(db, "cannot list sessions to prune", cause);
		sqlite3_reset(st);
		return -BERR_DB;
	}
	sqlite3_reset(st);
	return 0;
}

static const char sql_check_session[] =
	"SELECT 1 FROM sessions s WHERE s.id = ?2 AND " UNUSED_SESSION;
static const char sql_check_session_after[] =
	"SELECT 1 FROM sessions s WHERE s.id = ?2 AND " UNUSED_SESSION_AFTER;
/* The session's events that name no task, or one that is gone (or, in
 * a dry run, that prune would delete). */
#define SESSION_EVENTS                                                         \
	"FROM events WHERE session_id = ?2 AND (task_id IS NULL OR NOT "       \
	"EXISTS (SELECT 1 FROM tasks t WHERE t.id = events.task_id))"
static const char sql_count_session_events[] =
	"SELECT count(*) FROM events WHERE session_id = ?2 AND (task_id IS "
	"NULL OR NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = "
	"events.task_id AND NOT (" PRUNABLE_TASK("t") ")))";
static const char sql_count_links[] =
	"SELECT count(*) FROM session_chain WHERE session_id = ?2";
static const char sql_del_session_events[] = "DELETE " SESSION_EVENTS;
static const char sql_del_ms_session[] =
	"UPDATE milestones SET session_id = NULL WHERE session_id = ?2";
static const char sql_del_predecessor[] =
	"UPDATE sessions SET predecessor = NULL WHERE predecessor = ?2";
static const char sql_del_links[] =
	"DELETE FROM session_chain WHERE session_id = ?2";
static const char sql_del_session[] = "DELETE FROM sessions WHERE id = ?2";

/* Prune (or count) one session, checked again first. */
static int
prune_session(struct db *db, int64_t before, const char *id, int count_only,
	      int *gone, struct db_prune_counts *c, char **cause)
{
	int64_t ok = 0;
	int rc;

	*gone = 0;
	rc = batch_step(
		db, count_only ? sql_check_session_after : sql_check_session,
		before, id, &ok, cause);
	if (rc != 0 || ok == 0)
		return rc;
	*gone = 1;
	if (count_only) {
		c->sessions++;
		if ((rc = batch_step(db, sql_count_session_events, before, id,
				     &c->events, cause)) == 0)
			rc = batch_step(db, sql_count_links, before, id,
					&c->links, cause);
		return rc;
	}
	if ((rc = batch_step(db, sql_del_session_events, before, id, &c->events,
			     cause)) == 0 &&
	    (rc = batch_step(db, sql_del_ms_session, before, id, NULL,
			     cause)) == 0 &&
	    (rc = batch_step(db, sql_del_predecessor, before, id, NULL,
			     cause)) == 0 &&
	    (rc = batch_step(db, sql_del_links, before, id, &c->links,
			     cause)) == 0)
		rc = batch_step(db, sql_del_session, before, id, &c->sessions,
				cause);
	return rc;
}

int
sqlite_prune_sessions(struct store *store, int64_t before,
		      const struct strvec *ids, int *gone, int count_only,
		      struct db_prune_counts *c, char **cause)
{
	struct db *db = (struct db *)store;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < ids->n; i++)
		rc = prune_session(db, before, ids->v[i], count_only, &gone[i],
				   c, cause);
	return rc;
}

static const char sql_task_exists[] = "SELECT 1 FROM tasks WHERE id = ?1";

int
sqlite_task_exists(struct store *store, int64_t id, int *yes, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, sql_task_exists, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	*yes = rc == SQLITE_ROW;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, "cannot read task", cause);
	return 0;
}
