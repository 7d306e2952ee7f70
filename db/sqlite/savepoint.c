/*
 * Savepoints: part of a transaction that can be undone on its own.
 */
#include <stdlib.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

static int
exec_named(struct db *db, const char *verb, const char *name, char **cause)
{
	char *sql = xasprintf("%s \"%s\"", verb, name);
	char *err = NULL;
	int rc;

	/* name is always a string literal of baton's; never user input. */
	rc = sqlite3_exec(db->h, sql, NULL, NULL, &err);
	free(sql);
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
