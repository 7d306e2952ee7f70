/*
 * Savepoints: part of a transaction that can be undone on its own.
 */
#include <stdlib.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/db-internal.h"

static int
exec_named(struct db *db, const char *verb, const char *name, char **cause)
{
	char *sql = xasprintf("%s \"%s\"", verb, name);
	char *err = NULL;
	int rc;

	/* name is always a string literal of baton's; never user input. */
	rc = sqlite3_exec(db->h, sql, NULL, NULL, &err);
	free(sql);
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
db_savepoint(struct db *db, const char *name, char **cause)
{
	return exec_named(db, "SAVEPOINT", name, cause);
}

int
db_savepoint_release(struct db *db, const char *name, char **cause)
{
	return exec_named(db, "RELEASE", name, cause);
}

void
db_savepoint_rollback(struct db *db, const char *name)
{
	exec_named(db, "ROLLBACK TO", name, NULL);
	exec_named(db, "RELEASE", name, NULL);
}
