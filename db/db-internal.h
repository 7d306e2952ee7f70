#ifndef BATON_DB_INTERNAL_H
#define BATON_DB_INTERNAL_H

/* Shared by the files of db/ only. */

#include <sqlite3.h>
#include <stdint.h>

#include "db/db.h"

#define DB_STMT_CACHE 256

struct db {
	sqlite3 *h;
	char *path;
	int in_txn;
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
/* Column as a malloc'd string (NULL for SQL NULL); caller frees. */
char *db_col_text(sqlite3_stmt *, int col);

#endif
