/*
 * baton db copy: rows of any table read and written as text, ids and
 * all (core/dbcopy.c moves them between engines).
 *
 * The SQL names tables and columns taken from this engine's own schema
 * (store_copy_tables, PRAGMA table_info), checked to be plain
 * identifiers; values are always bound.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

/* A name of the schema's: lower case letters and '_' only. */
static int
plain_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
			return 0;
	return 1;
}

static int
bad_name(const char *name, char **cause)
{
	*cause = xasprintf("cannot copy: '%s' is not a table or column name",
			   name);
	return -BERR_DB;
}

int
sqlite_rows_each(struct store *store, const char *table,
		 int (*fn)(void *, int, const char *const *,
			   const char *const *),
		 void *arg, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st = NULL;
	const char **cols = NULL, **vals = NULL;
	char *sql;
	int i, n, rc, stop = 0;

	if (!plain_name(table))
		return bad_name(table, cause);
	sql = xasprintf("SELECT * FROM %s ORDER BY rowid", table);
	rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return db_fail(db, "cannot read rows", cause);
	n = sqlite3_column_count(st);
	cols = xcalloc((size_t)n + 1, sizeof *cols);
	vals = xcalloc((size_t)n + 1, sizeof *vals);
	for (i = 0; i < n; i++)
		cols[i] = sqlite3_column_name(st, i);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < n; i++)
			vals[i] = (const char *)sqlite3_column_text(st, i);
		stop = fn(arg, n, cols, vals);
	}
	if (!stop && rc != SQLITE_DONE)
		rc = db_fail(db, "cannot read rows", cause);
	else
		rc = 0;
	sqlite3_finalize(st);
	free(cols);
	free(vals);
	return rc;
}

static const char sql_copy_empty[] =
	"SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM "
	"sessions) + (SELECT count(*) FROM milestones) + (SELECT count(*) "
	"FROM runners)";

int
sqlite_copy_begin(struct store *store, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int64_t n = -1;

	if (sqlite_begin(store, cause) != 0)
		return -BERR_DB;
	if (sqlite3_exec(db->h, "PRAGMA defer_foreign_keys = ON", NULL, NULL,
			 NULL) != SQLITE_OK) {
		db_fail(db, "cannot copy", cause);
		goto fail;
	}
	if ((st = db_stmt(db, sql_copy_empty, cause)) == NULL)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (n != 0) {
		*cause = xasprintf("cannot copy into %s: it is not empty",
				   db->path);
		sqlite_rollback(store);
		return -BERR_USAGE;
	}
	return 0;
fail:
	sqlite_rollback(store);
	return -BERR_DB;
}

/* 1 if table has a column called name. */
static int
has_column(struct db *db, const char *table, const char *name)
{
	sqlite3_stmt *st = NULL;
	int yes = 0;

	if (sqlite3_prepare_v2(db->h,
			       "SELECT 1 FROM pragma_table_info(?1) "
			       "WHERE name = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

int
sqlite_row_insert(struct store *store, const char *table, int n,
		  const char *const *cols, const char *const *vals,
		  char **cause)
{
	struct db *db = (struct db *)store;
	struct strbuf sb;
	sqlite3_stmt *st = NULL;
	int i, k = 0, rc;

	if (!plain_name(table))
		return bad_name(table, cause);
	strbuf_init(&sb);
	strbuf_addf(&sb, "INSERT INTO %s (", table);
	for (i = 0; i < n; i++) {
		if (!plain_name(cols[i]) || !has_column(db, table, cols[i]))
			continue;
		strbuf_addf(&sb, "%s%s", k++ ? ", " : "", cols[i]);
	}
	strbuf_adds(&sb, ") VALUES (");
	for (i = 0; i < k; i++)
		strbuf_addf(&sb, "%s?", i ? ", " : "");
	strbuf_adds(&sb, ")");
	rc = sqlite3_prepare_v2(db->h, sb.buf, -1, &st, NULL);
	strbuf_release(&sb);
	if (rc != SQLITE_OK)
		return db_fail(db, "cannot copy row", cause);
	for (i = 0, k = 0; i < n; i++) {
		if (!plain_name(cols[i]) || !has_column(db, table, cols[i]))
			continue;
		db_bind_text(st, ++k, vals[i]);
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		rc = db_fail(db, "cannot copy row", cause);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

int
sqlite_copy_commit(struct store *store, char **cause)
{
	return sqlite_commit(store, cause);
}
