/*
 * Savepoints: part of a transaction that can be undone on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

/*
 * The text of "VERB \"name\"" kept by db, the same address every time,
 * so that its statement is prepared once (db_stmt); NULL when the
 * table is full or the text too long.
 */
static const char *
named_sql(struct db *db, const char *verb, const char *name)
{
	char buf[128];
	int n = snprintf(buf, sizeof buf, "%s \"%s\"", verb, name);
	size_t i;

	if (n < 0 || (size_t)n >= sizeof buf)
		return NULL;
	for (i = 0; i < DB_SAVEPOINT_SQL; i++) {
		if (db->savepoint_sql[i] == NULL) {
			db->savepoint_sql[i] = xstrdup(buf);
			return db->savepoint_sql[i];
		}
		if (strcmp(db->savepoint_sql[i], buf) == 0)
			return db->savepoint_sql[i];
	}
	return NULL;
}

/*
 * Runs "VERB \"name\"" as a cached prepared statement: parsing it
 * again each time (sqlite3_exec) cost a fifth of a trivial task's
 * instructions in SQLite, four times a task.
 */
static int
exec_named(struct db *db, const char *verb, const char *name, char **cause)
{
	const char *sql = named_sql(db, verb, name);
	sqlite3_stmt *st;
	char *err = NULL, *text;
	int rc;

	/* name is always a string literal of baton's; never user input. */
	if (sql != NULL && (st = db_stmt(db, sql, &err)) != NULL) {
		if ((rc = sqlite3_step(st)) == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_reset(st);
		if (rc == SQLITE_NOMEM)
			oom();
		if (rc != SQLITE_OK && cause != NULL)
			*cause = xasprintf("%s failed: %s", verb,
					   sqlite3_errmsg(db->h));
		return rc == SQLITE_OK ? 0 : -BERR_DB;
	}
	/* not cached (or not preparable: say why as before) */
	free(err);
	err = NULL;
	text = xasprintf("%s \"%s\"", verb, name);
	rc = sqlite3_exec(db->h, text, NULL, NULL, &err);
	free(text);
	if (rc == SQLITE_NOMEM)
		oom();
	if (rc != SQLITE_OK) {
		if (cause != NULL)
			*cause = xasprintf("%s failed: %s", verb,
					   err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		return -BERR_DB;
	}
	return 0;
}

int
sqlite_savepoint(struct store *store, const char *name, char **cause)
{
	struct db *db = (struct db *)store;
	return exec_named(db, "SAVEPOINT", name, cause);
}

int
sqlite_savepoint_release(struct store *store, const char *name, char **cause)
{
	struct db *db = (struct db *)store;
	return exec_named(db, "RELEASE", name, cause);
}

void
sqlite_savepoint_rollback(struct store *store, const char *name)
{
	struct db *db = (struct db *)store;
	exec_named(db, "ROLLBACK TO", name, NULL);
	exec_named(db, "RELEASE", name, NULL);
}
