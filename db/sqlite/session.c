/*
 * Sessions, their chains, leases (S6) and the audit events.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

void
db_session_release(struct db_session *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->name);
	free(s->agent);
	free(s->model);
	free(s->project);
	free(s->workdir);
	free(s->os_user);
	free(s->head);
	free(s->predecessor);
	free(s->metadata);
	memset(s, 0, sizeof *s);
}

#define SESSION_COLS                                                           \
	"id, kind, name, milestone_id, agent, model, project, workdir, "       \
	"os_user, status, head, turns, input_tokens, output_tokens, "          \
	"cache_read_tokens, cache_creation_tokens, cost_usd, "                 \
	"resume_failures, resumable, predecessor, metadata, lease_runner, "    \
	"lease_task, lease_expires, created_at, last_used_at, closed_at "      \
	"FROM sessions "

static void
read_session(sqlite3_stmt *st, struct db_session *s)
{
	memset(s, 0, sizeof *s);
	s->id = db_col_text(st, 0);
	s->kind = db_col_session_kind(st, 1, SESSION_TEMP);
	s->name = db_col_text(st, 2);
	s->milestone_id = sqlite3_column_int64(st, 3);
	s->agent = db_col_text(st, 4);
	s->model = db_col_text(st, 5);
	s->project = db_col_text(st, 6);
	s->workdir = db_col_text(st, 7);
	s->os_user = db_col_text(st, 8);
	s->status = db_col_session_status(st, 9, SESSION_ACTIVE);
	s->head = db_col_text(st, 10);
	/* clamped: a row written before usage was (num.h) */
	s->turns = num_count(sqlite3_column_int64(st, 11));
	s->input_tokens = num_count(sqlite3_column_int64(st, 12));
	s->output_tokens = num_count(sqlite3_column_int64(st, 13));
	s->cache_read_tokens = num_count(sqlite3_column_int64(st, 14));
	s->cache_creation_tokens = num_count(sqlite3_column_int64(st, 15));
	s->cost_usd = num_usd(sqlite3_column_double(st, 16));
	s->resume_failures = sqlite3_column_int(st, 17);
	s->resumable = sqlite3_column_int(st, 18);
	s->predecessor = db_col_text(st, 19);
	s->metadata = db_col_text(st, 20);
	s->lease_runner = sqlite3_column_int64(st, 21);
	s->lease_task = sqlite3_column_int64(st, 22);
	s->lease_expires = sqlite3_column_int64(st, 23);
	s->created_at = sqlite3_column_int64(st, 24);
	s->last_used_at = sqlite3_column_int64(st, 25);
	s->closed_at = sqlite3_column_int64(st, 26);
}

static int
get_one(struct db *db, const char *sql, const char *key, struct db_session *s,
	int *found, char **cause)
{
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	if ((st = db_stmt(db, sql, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_session(st, s);
		*found = 1;
	} else if (rc != SQLITE_DONE)
		return db_fail(db, "cannot read session", cause);
	sqlite3_reset(st);
	return 0;
}

static const char sql_session_get[] = "SELECT " SESSION_COLS "WHERE id = ?1";

int
sqlite_session_get(struct store *store, const char *id, struct db_session *s,
		   int *found, char **cause)
{
	struct db *db = (struct db *)store;
	return get_one(db, sql_session_get, id, s, found, cause);
}

static const char sql_session_insert[] =
	"INSERT INTO sessions (id, kind, name, milestone_id, agent, model, "
	"project, workdir, os_user, status, predecessor, metadata, "
	"created_at, last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	"?9, 'active', ?10, coalesce(?11, '{}'), ?12, ?12)";

int
sqlite_session_insert(struct store *store, const struct db_session *s,
		      char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_session_insert, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, s->id);
	db_bind_text(st, 2, session_kind_name(s->kind));
	db_bind_text(st, 3, s->name);
	if (s->milestone_id != 0)
		sqlite3_bind_int64(st, 4, s->milestone_id);
	db_bind_text(st, 5, s->agent);
	db_bind_text(st, 6, s->model);
	db_bind_text(st, 7, s->project);
	db_bind_text(st, 8, s->workdir);
	db_bind_text(st, 9, s->os_user);
	db_bind_text(st, 10, s->predecessor);
	db_bind_text(st, 11, s->metadata);
	sqlite3_bind_int64(st, 12, s->created_at);
	return db_step_done(db, st, "cannot create session", cause);
}

static const char sql_session_count_active[] =
	"SELECT count(*) FROM sessions WHERE status = 'active'";

/* One writer at a time: the count is exact, whatever the limit. */
int
sqlite_session_count_active(struct store *store, int64_t limit, int64_t *n,
			    char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	(void)limit;
	if ((st = db_stmt(db, sql_session_count_active, cause)) == NULL)
		return -BERR_DB;
	return db_step_count(db, st, n, "cannot count sessions", cause);
}

static const char sql_session_count_closing[] =
	"SELECT count(*) FROM sessions WHERE status = 'active' AND "
	"kind = 'temp' AND lease_runner IS NOT NULL AND lease_expires > ?1";

int
sqlite_session_count_closing(struct store *store, int64_t now, int64_t *n,
			     char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_session_count_closing, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, now);
	return db_step_count(db, st, n, "cannot count sessions", cause);
}

/* A lease is free when nobody holds it, it ran out, or its runner is no
 * longer alive (the reaper releases those too; this is belt and braces). */
static const char sql_session_lease[] =
	"UPDATE sessions SET lease_runner = ?2, lease_task = ?3, "
	"lease_expires = ?5, last_used_at = ?4, lease_epoch = lease_epoch + 1 "
	"WHERE id = ?1 AND "
	"(lease_runner IS NULL OR lease_expires < ?4 OR "
	"(lease_runner = ?2 AND lease_task = ?3) OR NOT EXISTS "
	"(SELECT 1 FROM runners r WHERE r.id = lease_runner "
	"AND r.status = 'alive')) RETURNING lease_epoch";
/* The lease of a session (db/store.h): ?N its epoch, 0 for none. */
#define SESSION_FENCE(n)                                                       \
	"(" n " = 0 OR (lease_epoch = " n " AND lease_runner IS NOT NULL))"
static const char sql_session_lease_holder[] =
	"SELECT lease_task FROM sessions WHERE id = ?1";

int
sqlite_session_lease(struct store *store, const char *id, int64_t runner,
		     int64_t task, int64_t now, int64_t expires, int *got,
		     int64_t *holder_task, int64_t *epoch, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*got = 0;
	*holder_task = 0;
	*epoch = 0;
	if ((st = db_stmt(db, sql_session_lease, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, runner);
	sqlite3_bind_int64(st, 3, task);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, expires);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*epoch = sqlite3_column_int64(st, 0);
		*got = 1;
	}
	if (rc != SQLITE_DONE) {
		db_fail(db, "cannot lease session", cause);
		sqlite3_reset(st);
		return -BERR_DB;
	}
	sqlite3_reset(st);
	if (*got)
		return 0;
	if ((st = db_stmt(db, sql_session_lease_holder, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		*holder_task = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static const char sql_session_unlease[] =
	"UPDATE sessions SET lease_runner = NULL, lease_task = NULL, "
	"lease_expires = NULL, "
	"status = CASE WHEN ?3 = 0 THEN status ELSE 'closed' END, "
	"last_used_at = CASE WHEN ?3 = 0 THEN last_used_at "
	"ELSE max(last_used_at, ?3) END, "
	"closed_at = CASE WHEN ?3 = 0 THEN closed_at ELSE ?3 END "
	"WHERE id = ?1 AND " SESSION_FENCE("?2");

int
sqlite_session_unlease(struct store *store, const char *id, int64_t epoch,
		       int64_t close_at, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_session_unlease, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, epoch);
	sqlite3_bind_int64(st, 3, close_at);
	return db_step_fenced(db, st, epoch, "cannot release session", cause);
}

static const char sql_session_status[] =
	"UPDATE sessions SET status = ?2, last_used_at = max(last_used_at, ?3),"
	" closed_at = CASE WHEN ?2 = 'active' THEN NULL ELSE ?3 END "
	"WHERE id = ?1";

int
sqlite_session_set_status(struct store *store, const char *id,
			  enum session_status status, int64_t now, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_session_status, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, session_status_name(status));
	sqlite3_bind_int64(st, 3, now);
	return db_step_done(db, st, "cannot update session", cause);
}

static const char sql_session_touch[] =
	"UPDATE sessions SET last_used_at = ?2 WHERE id = ?1";

int
sqlite_session_touch(struct store *store, const char *id, int64_t now,
		     char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_session_touch, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return db_step_done(db, st, "cannot update session", cause);
}

/* Saturating (num.h): the sums stay in range whatever was stored. */
static const char sql_session_usage[] =
	"UPDATE sessions SET turns = " DB_COUNT_SUM(
		"turns",
		"?8") ", "
		      "input_tokens = " DB_COUNT_SUM(
			      "input_tokens",
			      "?2") ", "
				    "output_tokens = " DB_COUNT_SUM(
					    "output_tokens",
					    "?3") ", "
						  "cache_read_tokens "
						  "= " DB_COUNT_SUM(
							  "cache_read_tokens",
							  "?4") ", "
								"cache_"
								"creation_"
								"tokens "
								"="
								" " DB_COUNT_SUM(
									"cache_"
									"creati"
									"on_"
									"token"
									"s",
									"?5") ", "
									      "cost_usd = " DB_USD_SUM(
										      "cost_usd",
										      "?6") ", last_used_at = ?7 "
											    "WHERE id = ?1 AND " SESSION_FENCE(
												    "?9");

int
sqlite_session_add_usage(struct store *store, const char *id, int64_t epoch,
			 int turn, int64_t in, int64_t out, int64_t cache_read,
			 int64_t cache_creation, double cost, int64_t now,
			 char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_session_usage, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, num_count(in));
	sqlite3_bind_int64(st, 3, num_count(out));
	sqlite3_bind_int64(st, 4, num_count(cache_read));
	sqlite3_bind_int64(st, 5, num_count(cache_creation));
	sqlite3_bind_double(st, 6, num_usd(cost));
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int(st, 8, turn ? 1 : 0);
	sqlite3_bind_int64(st, 9, epoch);
	return db_step_fenced(db, st, epoch, "cannot record session usage",
			      cause);
}

static const char sql_chain_insert[] =
	"INSERT INTO session_chain (session_id, agent_session_id, edge, "
	"run_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_session_head[] =
	"UPDATE sessions SET head = ?2 WHERE id = ?1 AND " SESSION_FENCE("?3");

/* The head first: it is the fenced write, so that a lost lease adds no
 * link either. */
int
sqlite_session_push_head(struct store *store, const char *id, int64_t epoch,
			 const char *agent_session_id, enum chain_edge edge,
			 int64_t run_id, int64_t now, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	if ((st = db_stmt(db, sql_session_head, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, agent_session_id);
	sqlite3_bind_int64(st, 3, epoch);
	if ((rc = db_step_fenced(db, st, epoch, "cannot set session head",
				 cause)) != 0)
		return rc;
	if ((st = db_stmt(db, sql_chain_insert, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, agent_session_id);
	db_bind_text(st, 3, chain_edge_name(edge));
	if (run_id != 0)
		sqlite3_bind_int64(st, 4, run_id);
	sqlite3_bind_int64(st, 5, now);
	return db_step_done(db, st, "cannot extend session chain", cause);
}

static const char sql_session_resume_failed[] =
	"UPDATE sessions SET resume_failures = resume_failures + 1, "
	"resumable = CASE WHEN resume_failures + 1 >= ?2 THEN 0 "
	"ELSE resumable END WHERE id = ?1 AND " SESSION_FENCE("?3");

int
sqlite_session_resume_failed(struct store *store, const char *id, int64_t epoch,
			     int limit, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_session_resume_failed, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	sqlite3_bind_int(st, 2, limit);
	sqlite3_bind_int64(st, 3, epoch);
	return db_step_fenced(db, st, epoch, "cannot record resume failure",
			      cause);
}

static const char sql_chain_list[] =
	"SELECT agent_session_id, edge, run_id, created_at FROM session_chain "
	"WHERE session_id = ?1 ORDER BY id";

int
sqlite_session_chain(struct store *store, const char *id,
		     struct db_chain_link **links, size_t *n, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	*links = NULL;
	*n = 0;
	if ((st = db_stmt(db, sql_chain_list, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_chain_link *l;

		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*links = xreallocarray(*links, cap, sizeof **links);
		}
		l = &(*links)[(*n)++];
		l->agent_session_id = db_col_text(st, 0);
		l->edge = db_col_chain_edge(st, 1, EDGE_FIRST);
		l->run_id = sqlite3_column_int64(st, 2);
		l->created_at = sqlite3_column_int64(st, 3);
	}
	if (rc != SQLITE_DONE) {
		db_chain_free(*links, *n);
		*links = NULL;
		*n = 0;
		return db_fail(db, "cannot read session chain", cause);
	}
	sqlite3_reset(st);
	return 0;
}

void
db_chain_free(struct db_chain_link *links, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(links[i].agent_session_id);
	}
	free(links);
}

static const char sql_event[] =
	"INSERT INTO events (at, kind, session_id, task_id, run_id, "
	"runner_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

int
sqlite_event(struct store *store, enum event_kind kind, const char *session_id,
	     int64_t task_id, int64_t run_id, int64_t runner_id,
	     const char *detail, int64_t now, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_event, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, now);
	db_bind_text(st, 2, event_kind_name(kind));
	db_bind_text(st, 3, session_id);
	if (task_id != 0)
		sqlite3_bind_int64(st, 4, task_id);
	if (run_id != 0)
		sqlite3_bind_int64(st, 5, run_id);
	if (runner_id != 0)
		sqlite3_bind_int64(st, 6, runner_id);
	db_bind_text(st, 7, detail);
	return db_step_done(db, st, "cannot record event", cause);
}

static const char sql_session_repin[] =
	"UPDATE sessions SET agent = ?2, model = ?3 WHERE id = ?1";

int
sqlite_session_repin(struct store *store, const char *id, const char *agent,
		     const char *model, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_session_repin, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, agent);
	db_bind_text(st, 3, model);
	return db_step_done(db, st, "cannot re-pin session", cause);
}

/* ---- listing, lookup, reset, close and gc (session commands) ---- */

static const char sql_session_latest_by_name[] =
	"SELECT " SESSION_COLS "WHERE name = ?1 "
	"ORDER BY (status = 'active') DESC, created_at DESC, rowid DESC "
	"LIMIT 1";

int
sqlite_session_get_latest_by_name(struct store *store, const char *name,
				  struct db_session *s, int *found,
				  char **cause)
{
	struct db *db = (struct db *)store;
	return get_one(db, sql_session_latest_by_name, name, s, found, cause);
}

/* Two rows at most: enough to tell unique from ambiguous. */
static const char sql_session_by_prefix[] =
	"SELECT " SESSION_COLS "WHERE id >= ?1 AND id < ?1 || 'g' "
	"ORDER BY id LIMIT 2";

int
sqlite_session_get_by_prefix(struct store *store, const char *prefix,
			     struct db_session *s, int *found, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	if ((st = db_stmt(db, sql_session_by_prefix, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, prefix);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*found == 0)
			read_session(st, s);
		(*found)++;
	}
	if (rc != SQLITE_DONE) {
		if (*found)
			db_session_release(s);
		*found = 0;
		return db_fail(db, "cannot read session", cause);
	}
	sqlite3_reset(st);
	if (*found > 1) {
		db_session_release(s);
		*found = 2;
	}
	return 0;
}

/*
 * Sessions matching a filter; every condition is optional (0: not
 * applied).  Idle means active, last used before idle_before and not
 * leased (a lease that ran out does not count).  Oldest first is rowid
 * order, the order they were inserted in with their created_at: no
 * index is on created_at, and sorting by it held every row in memory
 * (temp_store is MEMORY), 200 bytes a session.
 */
static const char sql_session_each[] =
	"SELECT " SESSION_COLS "WHERE (?1 = 0 OR status = 'active') "
	"AND (?2 = 0 OR (status = 'active' AND last_used_at < ?2 AND "
	"(lease_runner IS NULL OR lease_expires < ?4))) "
	"AND (?3 = 0 OR (status <> 'active' AND "
	"coalesce(closed_at, last_used_at) < ?3)) "
	"ORDER BY rowid";

int
sqlite_session_each(struct store *store, const struct db_session_filter *f,
		    int (*fn)(void *, const struct db_session *), void *arg,
		    char **cause)
{
	struct db *db = (struct db *)store;
	struct db_session s;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, stop = 0;

	if ((st = db_stmt(db, sql_session_each, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int(st, 1, f->active_only);
	sqlite3_bind_int64(st, 2, f->idle_before);
	sqlite3_bind_int64(st, 3, f->closed_before);
	sqlite3_bind_int64(st, 4, f->now);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_session(st, &s);
		stop = fn(arg, &s);
		db_session_release(&s);
	}
	if (!stop && rc != SQLITE_DONE)
		return db_fail(db, "cannot list sessions", cause);
	sqlite3_reset(st);
	return 0;
}

static const char sql_chain_wipe[] =
	"DELETE FROM session_chain WHERE session_id = ?1";
static const char sql_session_wipe[] =
	"UPDATE sessions SET head = NULL, turns = 0, input_tokens = 0, "
	"output_tokens = 0, cache_read_tokens = 0, cache_creation_tokens = 0, "
	"cost_usd = 0, resume_failures = 0, resumable = 1, metadata = '{}', "
	"last_used_at = ?2 WHERE id = ?1";

int
sqlite_session_reset(struct store *store, const char *id, int64_t now,
		     char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if ((st = db_stmt(db, sql_chain_wipe, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	if (db_step_done(db, st, "cannot reset session chain", cause) != 0)
		return -BERR_DB;
	if ((st = db_stmt(db, sql_session_wipe, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return db_step_done(db, st, "cannot reset session", cause);
}

/*
 * Pruning a session deletes its row and chain; what pointed at it keeps
 * its own row with the pointer cleared (the events keep the id as text).
 */
static const char *const sql_session_prune[] = {
	"UPDATE tasks SET session_id = NULL WHERE session_id = ?1",
	"UPDATE runs SET session_id = NULL WHERE session_id = ?1",
	"UPDATE milestones SET session_id = NULL WHERE session_id = ?1",
	"UPDATE sessions SET predecessor = NULL WHERE predecessor = ?1",
	"DELETE FROM session_chain WHERE session_id = ?1",
	"DELETE FROM sessions WHERE id = ?1",
};

int
sqlite_session_delete(struct store *store, const char *id, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < sizeof sql_session_prune / sizeof *sql_session_prune;
	     i++) {
		if ((st = db_stmt(db, sql_session_prune[i], cause)) == NULL)
			return -BERR_DB;
		db_bind_text(st, 1, id);
		if (db_step_done(db, st, "cannot prune session", cause) != 0)
			return -BERR_DB;
	}
	return 0;
}

void
db_events_free(struct db_event_row *ev, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ev[i].session_id);
		free(ev[i].detail);
	}
	free(ev);
}

static const char sql_session_events[] =
	"SELECT id, at, kind, session_id, task_id, run_id, runner_id, detail "
	"FROM events WHERE session_id = ?1 ORDER BY id";

int
sqlite_session_events(struct store *store, const char *id,
		      struct db_event_row **ev, size_t *n, char **cause)
{
	struct db *db = (struct db *)store;
	struct db_event_row *e;
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	*ev = NULL;
	*n = 0;
	if ((st = db_stmt(db, sql_session_events, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*ev = xreallocarray(*ev, cap, sizeof **ev);
		}
		e = &(*ev)[(*n)++];
		e->id = sqlite3_column_int64(st, 0);
		e->at = sqlite3_column_int64(st, 1);
		e->kind = db_col_event_kind(st, 2, EVENT_CREATE);
		e->session_id = db_col_text(st, 3);
		e->task_id = sqlite3_column_int64(st, 4);
		e->run_id = sqlite3_column_int64(st, 5);
		e->runner_id = sqlite3_column_int64(st, 6);
		e->detail = db_col_text(st, 7);
	}
	if (rc != SQLITE_DONE) {
		db_events_free(*ev, *n);
		*ev = NULL;
		*n = 0;
		return db_fail(db, "cannot read events", cause);
	}
	sqlite3_reset(st);
	return 0;
}

static const char sql_session_runs[] =
	"SELECT " DB_RUN_COLS "WHERE session_id = ?1 ORDER BY id";

int
sqlite_session_runs(struct store *store, const char *id, struct db_run **runs,
		    size_t *n, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	*runs = NULL;
	*n = 0;
	if ((st = db_stmt(db, sql_session_runs, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, id);
	return db_read_runs(db, st, runs, n, "cannot read the session's runs",
			    cause);
}

static const char sql_session_successor[] =
	"SELECT " SESSION_COLS "WHERE predecessor = ?1 "
	"ORDER BY created_at DESC, rowid DESC LIMIT 1";

int
sqlite_session_get_successor(struct store *store, const char *id,
			     struct db_session *s, int *found, char **cause)
{
	struct db *db = (struct db *)store;
	return get_one(db, sql_session_successor, id, s, found, cause);
}

/* Sessions are few next to tasks: the status index narrows enough. */
static const char sql_session_last_used[] =
	"SELECT " SESSION_COLS "WHERE project = ?1 AND os_user = ?2 "
	"AND head IS NOT NULL AND (CASE WHEN kind = 'temp' "
	"THEN status <> 'active' "
	"ELSE status = 'active' OR status = 'expired' END) "
	"ORDER BY last_used_at DESC, rowid DESC LIMIT 1";

int
sqlite_session_get_last_used(struct store *store, const char *project,
			     const char *os_user, struct db_session *s,
			     int *found, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	if ((st = db_stmt(db, sql_session_last_used, cause)) == NULL)
		return -BERR_DB;
	db_bind_text(st, 1, project);
	db_bind_text(st, 2, os_user);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_session(st, s);
		*found = 1;
	} else if (rc != SQLITE_DONE)
		return db_fail(db, "cannot read session", cause);
	sqlite3_reset(st);
	return 0;
}
