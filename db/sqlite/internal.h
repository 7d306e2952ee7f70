#ifndef BATON_DB_INTERNAL_H
#define BATON_DB_INTERNAL_H

/* Shared by the files of db/ only. */

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "db/sqlite/sqlite.h"
#include "db/store.h"
#include "lib/num.h"

#define DB_STMT_CACHE	 256
#define DB_SAVEPOINT_SQL 16

/*
 * SQL for col + param on usage counts and amounts, saturating as
 * num_count_add() and num_usd_add() do (lib/num.h): the bound values are
 * clamped, and a stored value out of range (a row written before) is
 * brought back in.  Both below 2^53, so the sum never overflows.
 */
#define DB_COUNT_SUM(col, param)                                               \
	"min(max(0, min(coalesce(" col ", 0), 9007199254740991)) + " param     \
	", 9007199254740991)"
#define DB_USD_SUM(col, param)                                                 \
	"min(max(0, coalesce(" col ", 0)) + " param ", 1e12)"

struct db {
	struct store base; /* first: a struct store * is a struct db * */
	sqlite3 *h;
	char *path;
	int in_txn;
	pthread_mutex_t *write_lock; /* see store_options; NULL: none */
	int holds_write_lock;
	int64_t busy_ms;
	uint64_t commits;
	int busy; /* the last failure was SQLITE_BUSY/LOCKED (store_busy) */
	/* Statement cache keyed by the address of the SQL text (a string
	 * literal next to the function that runs it). */
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} cache[DB_STMT_CACHE];
	/* The text of the savepoint statements run so far ("SAVEPOINT
	 * \"claim\"", ...), owned here: their addresses key their
	 * statements in the cache above (savepoint.c). */
	char *savepoint_sql[DB_SAVEPOINT_SQL];
};

/*
 * A prepared statement for sql (a string literal: the cache is keyed by
 * its address), reset and with bindings cleared, prepared once with
 * SQLITE_PREPARE_PERSISTENT.  Returns NULL with *cause on error.  The
 * statement stays owned by the cache.
 */
sqlite3_stmt *db_stmt(struct db *, const char *sql, char **cause);

/*
 * Set *cause from the connection's last error, prefixed with what, and
 * return -BERR_DB.  Maps SQLITE_FULL to "disk full", SQLITE_BUSY to
 * "database is locked", SQLITE_CORRUPT/NOTADB to "database disk image is malformed".
 */
int db_fail(struct db *, const char *what, char **cause);

/* Run a statement with no result rows to completion; 0 or -BERR_DB. */
int db_step_done(struct db *, sqlite3_stmt *, const char *what, char **cause);
/* Run a count (one row, one integer) into *n; 0 or -BERR_DB. */
int db_step_count(struct db *, sqlite3_stmt *, int64_t *n, const char *what,
		  char **cause);
/*
 * The same for a fenced write (db/store.h): with epoch != 0 and no row
 * changed, -BERR_LEASE with *cause "what: lost lease".
 */
int db_step_fenced(struct db *, sqlite3_stmt *, int64_t epoch, const char *what,
		   char **cause);

/* Bind helpers: NULL strings bind NULL; out of memory is oom(). */
void db_bind_text(sqlite3_stmt *, int idx, const char *);
/*
 * Column col as text, NULL for SQL NULL; a text column SQLite cannot
 * convert for want of memory (sqlite3_column_text() then returns NULL
 * too) is oom(), never taken for NULL.  Valid until the next step.
 */
const char *db_col_cstr(sqlite3_stmt *, int col);

/*
 * Column col read as one of the names of store-names.h: db_col_<enum>(st,
 * col, dflt) gives dflt for NULL (or a name this binary does not know).
 */
#define DB_ENUM_COL(type, prefix)                                              \
	static inline enum type db_col_##prefix(sqlite3_stmt *st, int col,     \
						enum type dflt)                \
	{                                                                      \
		const char *s = db_col_cstr(st, col);                          \
		enum type v;                                                   \
		return s != NULL && prefix##_parse(s, &v) == 0 ? v : dflt;     \
	}
DB_ENUM_COL(task_status, task_status)
DB_ENUM_COL(run_outcome, run_outcome)
DB_ENUM_COL(resume_outcome, resume_outcome)
DB_ENUM_COL(session_kind, session_kind)
DB_ENUM_COL(session_status, session_status)
DB_ENUM_COL(chain_edge, chain_edge)
DB_ENUM_COL(event_kind, event_kind)

/* Column as a malloc'd string (NULL for SQL NULL); caller frees. */
char *db_col_text(sqlite3_stmt *, int col);

/*
 * The columns of a run row, in the order db_read_runs() reads them,
 * followed by "FROM runs ": "SELECT " DB_RUN_COLS "WHERE …".
 */
#define DB_RUN_COLS                                                            \
	"id, task_id, attempt, iteration, session_id, agent_session_in, "      \
	"agent_session_out, resume_outcome, runner_id, pid, proc_start, "      \
	"started_at, ended_at, exit_code, signal, outcome, error, "            \
	"input_tokens, output_tokens, cache_read_tokens, "                     \
	"cache_creation_tokens, cost_usd, num_turns, duration_ms, "            \
	"check_exit_code, check_output, answer, output_truncated FROM runs "

/*
 * Step st (a bound SELECT DB_RUN_COLS …) to its end and return its rows
 * in *runs, *n (the caller frees them with db_runs_free()).  Returns 0,
 * or -BERR_DB with *cause prefixed with what, *runs NULL and *n 0.
 */
int db_read_runs(struct db *, sqlite3_stmt *st, struct db_run **runs, size_t *n,
		 const char *what, char **cause);

extern const struct store_impl sqlite_store_impl;

/* The operations of the SQLite engine (db/store.h says what each does). */
void sqlite_close(struct store *st);
const char *sqlite_path(const struct store *st);
int sqlite_begin(struct store *st, char **cause);
int sqlite_commit(struct store *st, char **cause);
void sqlite_rollback(struct store *st);
int sqlite_integrity_check(struct store *st, int *ok, char **report,
			   char **cause);
uint64_t sqlite_commits(const struct store *st);
int sqlite_wal(struct store *st, enum store_checkpoint mode,
	       struct store_wal *w, char **cause);
int sqlite_busy(const struct store *st);
int sqlite_task_insert(struct store *st, struct db_task *t, int64_t now,
		       int *existed, char **cause);
int sqlite_task_get(struct store *st, int64_t id, struct db_task *a2,
		    int *found, char **cause);
int sqlite_task_next(struct store *st, int64_t milestone_id, int64_t skip_after,
		     int64_t *id, char **cause);
int sqlite_task_count_pending(struct store *st, int64_t milestone_id,
			      int64_t *n, char **cause);
int sqlite_task_start(struct store *st, int64_t id, int64_t runner_id,
		      const char *session_id, const char *agent,
		      const char *model, int64_t now, int64_t *epoch,
		      char **cause);
int sqlite_task_attempt(struct store *st, int64_t id, int64_t epoch,
			int attempts_add, int retries, char **cause);
int sqlite_task_finish(struct store *st, int64_t id, int64_t epoch,
		       enum task_status a2, int has_exit, int exit_code,
		       const char *error, const char *reason, int64_t now,
		       char **cause);
int sqlite_task_add_usage(struct store *st, int64_t id, int64_t epoch,
			  int iterations, int64_t in, int64_t out, double cost,
			  char **cause);
int sqlite_task_cancel_requested(struct store *st, int64_t id, int64_t epoch,
				 int64_t session_epoch, int *yes, int *held,
				 char **cause);
int sqlite_task_cancel(struct store *st, int64_t id, int64_t now, int *found,
		       enum task_status *status_out, char **cause);
int sqlite_task_requeue(struct store *st, int64_t id, unsigned from_mask,
			int *done, char **cause);
int sqlite_task_unclaim(struct store *st, int64_t id, int64_t runner_id,
			int64_t run_id, int *done, char **cause);
int sqlite_task_each(struct store *st, const struct db_task_filter *a1,
		     int (*fn)(void *, const struct db_task *), void *arg,
		     char **cause);
int sqlite_task_count(struct store *st, const struct db_task_filter *f,
		      int64_t *n, char **cause);
int sqlite_task_count_by_status(struct store *st,
				const struct db_task_filter *f,
				void (*fn)(void *, enum task_status, int64_t),
				void *arg, char **cause);
int sqlite_session_get(struct store *st, const char *id, struct db_session *a2,
		       int *found, char **cause);
int sqlite_session_insert(struct store *st, const struct db_session *s,
			  char **cause);
int sqlite_session_count_active(struct store *st, int64_t limit, int64_t *n,
				char **cause);
int sqlite_session_count_closing(struct store *st, int64_t now, int64_t *n,
				 char **cause);
int sqlite_session_lease(struct store *st, const char *id, int64_t runner,
			 int64_t task, int64_t now, int64_t expires, int *got,
			 int64_t *holder_task, int64_t *epoch, char **cause);
int sqlite_session_unlease(struct store *st, const char *id, int64_t epoch,
			   int64_t close_at, char **cause);
int sqlite_session_set_status(struct store *st, const char *id,
			      enum session_status a2, int64_t now,
			      char **cause);
int sqlite_session_touch(struct store *st, const char *id, int64_t now,
			 char **cause);
int sqlite_session_add_usage(struct store *st, const char *id, int64_t epoch,
			     int turn, int64_t in, int64_t out,
			     int64_t cache_read, int64_t cache_creation,
			     double cost, int64_t now, char **cause);
int sqlite_session_push_head(struct store *st, const char *id, int64_t epoch,
			     const char *agent_session_id, enum chain_edge a3,
			     int64_t run_id, int64_t now, char **cause);
int sqlite_session_resume_failed(struct store *st, const char *id,
				 int64_t epoch, int limit, char **cause);
int sqlite_session_chain(struct store *st, const char *id,
			 struct db_chain_link **links, size_t *n, char **cause);
int sqlite_event(struct store *st, enum event_kind a1, const char *session_id,
		 int64_t task_id, int64_t run_id, int64_t runner_id,
		 const char *detail, int64_t now, char **cause);
int sqlite_run_insert(struct store *st, struct db_run *r, int64_t epoch,
		      char **cause);
int sqlite_run_set_pid(struct store *st, int64_t id, int64_t epoch, int64_t pid,
		       int64_t start, char **cause);
int sqlite_run_end(struct store *st, const struct db_run *r, int64_t epoch,
		   char **cause);
int sqlite_run_list(struct store *st, int64_t task_id, struct db_run **runs,
		    size_t *n, char **cause);
int sqlite_runner_insert(struct store *st, const struct db_runner *a1,
			 int64_t *id, char **cause);
int sqlite_runner_heartbeat(struct store *st, int64_t id, int64_t now,
			    int64_t lease_until, char **cause);
int sqlite_runner_exit(struct store *st, int64_t id, int64_t now, char **cause);
int sqlite_runner_alive_list(struct store *st, struct db_runner **a1, size_t *n,
			     char **cause);
int sqlite_batch_find(struct store *st, const char *prefix, char **id,
		      int *found, char **cause);
int sqlite_runner_reap(struct store *st, int64_t id, int64_t now, int requeue,
		       int64_t seen_heartbeat, struct db_orphan **orphans,
		       size_t *n, char **cause);
int sqlite_milestone_get(struct store *st, const char *name,
			 struct db_milestone *a2, int *found, char **cause);
int sqlite_milestone_get_id(struct store *st, int64_t id,
			    struct db_milestone *a2, int *found, char **cause);
int sqlite_milestone_insert(struct store *st, struct db_milestone *a1,
			    int64_t now, int *existed, char **cause);
int sqlite_milestone_set_session(struct store *st, int64_t id,
				 const char *session_id, char **cause);
int sqlite_milestone_each(struct store *st,
			  int (*fn)(void *, const struct db_milestone *),
			  void *arg, char **cause);
int sqlite_task_set_agent(struct store *st, int64_t id, const char *agent,
			  const char *model, char **cause);
int sqlite_session_repin(struct store *st, const char *id, const char *agent,
			 const char *model, char **cause);
int sqlite_savepoint(struct store *st, const char *name, char **cause);
int sqlite_savepoint_release(struct store *st, const char *name, char **cause);
void sqlite_savepoint_rollback(struct store *st, const char *name);
int sqlite_run_set_check(struct store *st, int64_t id, int64_t epoch,
			 int exit_code, const char *output, char **cause);
int sqlite_doctor(struct store *st, int fix, int64_t now,
		  void (*fn)(void *, const char *kind, const char *what),
		  void *arg, int *problems, char **cause);
int sqlite_session_get_latest_by_name(struct store *st, const char *name,
				      struct db_session *a2, int *found,
				      char **cause);
int sqlite_session_get_by_prefix(struct store *st, const char *prefix,
				 struct db_session *a2, int *found,
				 char **cause);
int sqlite_session_each(struct store *st, const struct db_session_filter *a1,
			int (*fn)(void *, const struct db_session *), void *arg,
			char **cause);
int sqlite_session_reset(struct store *st, const char *id, int64_t now,
			 char **cause);
int sqlite_session_delete(struct store *st, const char *id, char **cause);
int sqlite_session_events(struct store *st, const char *id,
			  struct db_event_row **a2, size_t *n, char **cause);
int sqlite_session_runs(struct store *st, const char *id, struct db_run **runs,
			size_t *n, char **cause);
int sqlite_session_get_successor(struct store *st, const char *id,
				 struct db_session *a2, int *found,
				 char **cause);
int sqlite_session_get_last_used(struct store *st, const char *project,
				 const char *os_user, struct db_session *a3,
				 int *found, char **cause);
int sqlite_stats(struct store *st, const struct db_stats_filter *f,
		 struct db_stats *a2, char **cause);
int sqlite_prune_tasks_list(struct store *st, int64_t before, int64_t after,
			    int64_t *ids, size_t max, size_t *n, char **cause);
int sqlite_prune_tasks(struct store *st, int64_t before, const int64_t *ids,
		       size_t n, int *gone, int count_only,
		       struct db_prune_counts *c, char **cause);
int sqlite_prune_sessions_list(struct store *st, int64_t before,
			       int assume_gone, const char *after,
			       struct strvec *ids, size_t max, char **cause);
int sqlite_prune_sessions(struct store *st, int64_t before,
			  const struct strvec *ids, int *gone, int count_only,
			  struct db_prune_counts *c, char **cause);
int sqlite_task_exists(struct store *st, int64_t id, int *yes, char **cause);
int sqlite_meta_get(struct store *st, const char *key, char **value,
		    char **cause);
int sqlite_meta_delete(struct store *st, const char *key, char **cause);
int sqlite_backup(struct store *st, const char *path, char **cause);
int sqlite_vacuum(struct store *st, int64_t *before, int64_t *after,
		  char **cause);

int sqlite_rows_each(struct store *st, const char *table,
		     int (*fn)(void *, int n, const char *const *cols,
			       const char *const *vals),
		     void *arg, char **cause);
int sqlite_copy_begin(struct store *st, char **cause);
int sqlite_row_insert(struct store *st, const char *table, int n,
		      const char *const *cols, const char *const *vals,
		      char **cause);
int sqlite_copy_commit(struct store *st, char **cause);

#endif
