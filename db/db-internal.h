#ifndef BATON_DB_INTERNAL_H
#define BATON_DB_INTERNAL_H

/* Shared by the files of db/ only. */

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "db/db.h"

#define DB_STMT_CACHE 256

struct db {
	sqlite3 *h;
	char *path;
	int in_txn;
	pthread_mutex_t *write_lock; /* see db_options; NULL: none */
	int holds_write_lock;
	int64_t busy_ms;
	uint64_t commits;
	/* Statement cache keyed by the address of the SQL text (a string
	 * literal next to the function that runs it). */
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} cache[DB_STMT_CACHE];
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

/* Bind helpers: NULL strings bind NULL. */
void db_bind_text(sqlite3_stmt *, int idx, const char *);
/*
 * Column col read as one of the names of store-names.h: db_col_<enum>(st,
 * col, dflt) gives dflt for NULL (or a name this binary does not know).
 */
#define DB_ENUM_COL(type, prefix)                                              \
	static inline enum type db_col_##prefix(sqlite3_stmt *st, int col,     \
						enum type dflt)                \
	{                                                                      \
		const char *s = (const char *)sqlite3_column_text(st, col);    \
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
	"check_exit_code, check_output FROM runs "

/*
 * Step st (a bound SELECT DB_RUN_COLS …) to its end and return its rows
 * in *runs, *n (the caller frees them with db_runs_free()).  Returns 0,
 * or -BERR_DB with *cause prefixed with what, *runs NULL and *n 0.
 */
int db_read_runs(struct db *, sqlite3_stmt *st, struct db_run **runs, size_t *n,
		 const char *what, char **cause);

#endif
