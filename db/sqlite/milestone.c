/*
 * Milestones: named groups of tasks that share a session by default.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

void
db_milestone_release(struct db_milestone *m)
{
	if (m == NULL)
		return;
	free(m->name);
	free(m->session_mode);
	free(m->session_id);
	memset(m, 0, sizeof *m);
}

static void
read_milestone(sqlite3_stmt *st, struct db_milestone *m)
{
	memset(m, 0, sizeof *m);
	m->id = sqlite3_column_int64(st, 0);
	m->name = db_col_text(st, 1);
	m->session_mode = db_col_text(st, 2);
	m->session_id = db_col_text(st, 3);
	m->created_at = sqlite3_column_int64(st, 4);
}

#define MILESTONE_COLS                                                         \
	"id, name, session_mode, session_id, created_at FROM milestones "

static const char sql_ms_get[] = "SELECT " MILESTONE_COLS "WHERE name = ?1";
static const char sql_ms_get_id[] = "SELECT " MILESTONE_COLS "WHERE id = ?1";

static int
get_one(struct db *db, sqlite3_stmt *st, struct db_milestone *m, int *found,
	char **cause)
{
	int rc = sqlite3_step(st);

	*found = 0;
	if (rc == SQLITE_ROW) {
		read_milestone(st, m);
		*found = 1;
	} else if (rc != SQLITE_DONE)
		return db_fail(db, "cannot read milestone", cause);
	sqlite3_reset(st);
	return 0;
}

int
sqlite_milestone_get(struct store *store, const char *name,
		     struct db_milestone *m, int *found, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_ms_get, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, name);
	return get_one(db, st, m, found, cause);
}

int
sqlite_milestone_get_id(struct store *store, int64_t id, struct db_milestone *m,
			int *found, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_ms_get_id, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	return get_one(db, st, m, found, cause);
}

static const char sql_ms_insert[] =
	"INSERT INTO milestones (name, session_mode, created_at) "
	"VALUES (?1, ?2, ?3) ON CONFLICT(name) DO NOTHING";

int
sqlite_milestone_insert(struct store *store, struct db_milestone *m,
			int64_t now, int *existed, char **cause)
{
	struct db *db = (struct db *)store;
	struct db_milestone old = {0};
	sqlite3_stmt *st;
	int found;

	*existed = 0;
	if ((st = db_stmt(db, sql_ms_insert, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, m->name);
	db_bind_text(st, 2, m->session_mode ? m->session_mode : "shared");
	sqlite3_bind_int64(st, 3, now);
	if (db_step_done(db, st, "cannot create milestone", cause) != 0)
		return -BERR_DB;
	if (sqlite3_changes(db->h) == 0)
		*existed = 1;
	if (sqlite_milestone_get(&db->base, m->name, &old, &found, cause) != 0)
		return -BERR_DB;
	db_milestone_release(m);
	*m = old;
	return 0;
}

static const char sql_ms_session[] =
	"UPDATE milestones SET session_id = ?2 WHERE id = ?1";

int
sqlite_milestone_set_session(struct store *store, int64_t id,
			     const char *session_id, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_ms_session, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	db_bind_text(st, 2, session_id);
	return db_step_done(db, st, "cannot update milestone", cause);
}

static const char sql_ms_each[] = "SELECT " MILESTONE_COLS "ORDER BY name";

int
sqlite_milestone_each(struct store *store,
		      int (*fn)(void *, const struct db_milestone *), void *arg,
		      char **cause)
{
	struct db *db = (struct db *)store;
	struct db_milestone m;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, stop = 0;

	if ((st = db_stmt(db, sql_ms_each, cause)) == NULL)
		return -BERR_DB;
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_milestone(st, &m);
		stop = fn(arg, &m);
		db_milestone_release(&m);
	}
	if (!stop && rc != SQLITE_DONE)
		return db_fail(db, "cannot list milestones", cause);
	sqlite3_reset(st);
	return 0;
}

static const char sql_task_agent[] =
	"UPDATE tasks SET agent = ?2, model = ?3 WHERE id = ?1";

int
sqlite_task_set_agent(struct store *store, int64_t id, const char *agent,
		      const char *model, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_task_agent, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, id);
	db_bind_text(st, 2, agent);
	db_bind_text(st, 3, model);
	return db_step_done(db, st, "cannot update task", cause);
}
