/*
 * baton db copy for PostgreSQL: rows of any table read and written as
 * text, ids and all (core/dbcopy.c).  Table and column names come from
 * the schema (store_copy_tables, information_schema), checked to be
 * plain identifiers; values are always parameters.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "db/postgres/internal.h"

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
pg_rows_each(struct store *store, const char *table,
	     int (*fn)(void *, int, const char *const *, const char *const *),
	     void *arg, char **cause)
{
	struct pg *pg = (struct pg *)store;
	const char **cols, **vals;
	PGresult *res;
	char *sql;
	int i, r, n, rc, stop = 0;

	if (!plain_name(table))
		return bad_name(table, cause);
	/* sessions: in the order they were made (seq), as SQLite's rowid */
	sql = xasprintf("SELECT * FROM %s ORDER BY %s", table,
			strcmp(table, "sessions") == 0 ? "seq" : "id");
	rc = pg_exec(pg, sql, NULL, &res, "cannot read rows", cause);
	free(sql);
	if (rc != 0)
		return rc;
	n = PQnfields(res);
	cols = xcalloc((size_t)n + 1, sizeof *cols);
	vals = xcalloc((size_t)n + 1, sizeof *vals);
	for (i = 0; i < n; i++)
		cols[i] = PQfname(res, i);
	for (r = 0; !stop && r < PQntuples(res); r++) {
		for (i = 0; i < n; i++)
			vals[i] = PQgetisnull(res, r, i)
					  ? NULL
					  : PQgetvalue(res, r, i);
		stop = fn(arg, n, cols, vals);
	}
	free(cols);
	free(vals);
	PQclear(res);
	return 0;
}

static const char sql_copy_empty[] =
	"SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM "
	"sessions) + (SELECT count(*) FROM milestones) + (SELECT count(*) "
	"FROM runners)";

int
pg_copy_begin(struct store *store, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	int64_t n;

	if (pg_begin(store, cause) != 0)
		return -BERR_DB;
	if (pg_do(pg, "SET CONSTRAINTS ALL DEFERRED", NULL, NULL, "cannot copy",
		  cause) != 0 ||
	    pg_exec(pg, sql_copy_empty, NULL, &res, "cannot copy", cause)) {
		pg_rollback(store);
		return -BERR_DB;
	}
	n = pg_i64(res, 0, 0);
	PQclear(res);
	if (n != 0) {
		*cause = xasprintf("cannot copy into %s: it is not empty",
				   pg->shown);
		pg_rollback(store);
		return -BERR_USAGE;
	}
	return 0;
}

/* The columns of table, cached for the rows of one table in a row. */
static int
columns_of(struct pg *pg, const char *table, char **cause)
{
	static const char sql[] =
		"SELECT column_name FROM information_schema.columns WHERE "
		"table_schema = current_schema() AND table_name = $1 AND "
		"is_generated = 'NEVER' AND identity_generation IS DISTINCT "
		"FROM 'ALWAYS'";
	PGresult *res;
	struct pgq q;
	int i, rc;

	if (pg->copy_table != NULL && strcmp(pg->copy_table, table) == 0)
		return 0;
	free(pg->copy_table);
	pg->copy_table = NULL;
	strvec_release(&pg->copy_cols);
	strvec_init(&pg->copy_cols);
	pgq_init(&q);
	pgq_text(&q, table);
	if ((rc = pg_exec(pg, sql, &q, &res, "cannot copy", cause)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++)
		strvec_push(&pg->copy_cols, PQgetvalue(res, i, 0));
	PQclear(res);
	pg->copy_table = xstrdup(table);
	return 0;
}

static int
has_column(const struct pg *pg, const char *name)
{
	size_t i;

	for (i = 0; i < pg->copy_cols.n; i++)
		if (strcmp(pg->copy_cols.v[i], name) == 0)
			return plain_name(name);
	return 0;
}

int
pg_row_insert(struct store *store, const char *table, int n,
	      const char *const *cols, const char *const *vals, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct strbuf sb;
	struct pgq q;
	int i, rc;

	if (!plain_name(table))
		return bad_name(table, cause);
	if ((rc = columns_of(pg, table, cause)) != 0)
		return rc;
	strbuf_init(&sb);
	pgq_init(&q);
	strbuf_addf(&sb, "INSERT INTO %s (", table);
	for (i = 0; i < n; i++) {
		if (!has_column(pg, cols[i]))
			continue;
		strbuf_addf(&sb, "%s%s", q.n ? ", " : "", cols[i]);
		pgq_text(&q, vals[i]);
	}
	strbuf_adds(&sb, ") VALUES (");
	for (i = 0; i < q.n; i++)
		strbuf_addf(&sb, "%s$%d", i ? ", " : "", i + 1);
	strbuf_adds(&sb, ")");
	rc = pg_do(pg, sb.buf, &q, NULL, "cannot copy row", cause);
	strbuf_release(&sb);
	return rc;
}

int
pg_copy_commit(struct store *store, char **cause)
{
	struct pg *pg = (struct pg *)store;
	const char *const *t;
	char *sql;
	int rc = 0;

	/* the next ids follow the copied ones */
	for (t = store_copy_tables; rc == 0 && *t != NULL; t++) {
		if (strcmp(*t, "sessions") == 0)
			continue;
		sql = xasprintf("SELECT setval(pg_get_serial_sequence('%s', "
				"'id'), coalesce(max(id), 0) + 1, false) FROM "
				"%s",
				*t, *t);
		rc = pg_exec(pg, sql, NULL, NULL, "cannot copy", cause);
		free(sql);
	}
	if (rc != 0) {
		pg_rollback(store);
		return rc;
	}
	return pg_commit(store, cause);
}
