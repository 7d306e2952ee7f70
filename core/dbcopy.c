/*
 * Moving a queue from one store to another (SQLite to PostgreSQL and
 * back): table by table in the order of store_copy_tables, row by row,
 * ids and all, into a store that must be empty.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/baton.h"
#include "core/config.h"
#include "core/dbcopy.h"
#include "db/store.h"
#include "lib/err.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

struct copy {
	struct store *dst;
	const char *table;
	int64_t rows;
	int rc;
	char *cause;
};

static int
copy_row(void *arg, int n, const char *const *cols, const char *const *vals)
{
	struct copy *c = arg;

	c->rc = store_row_insert(c->dst, c->table, n, cols, vals, &c->cause);
	if (c->rc == 0)
		c->rows++;
	return c->rc != 0;
}

static int
open_one(struct baton *b, const char *where, struct store **st, char **cause)
{
	struct store_options opts = {0};

	opts.synchronous_full = b->cfg->db.synchronous_full;
	opts.busy_timeout_ms = b->cfg->db.busy_timeout_ms;
	opts.reconnect_ms = b->cfg->runner.stale_after_ms;
	return store_open(st, where, &opts, cause);
}

int
db_copy(struct baton *b, const char *src, const char *dst, int64_t *rows,
	char **cause)
{
	struct store *from = NULL, *to = NULL;
	struct copy c = {0};
	char *shown;
	size_t i;
	int rc;

	if (!store_is_url(src) && access(src, F_OK) != 0) {
		shown = text_url_mask(src);
		*cause = xasprintf("cannot copy from %s: %s", shown,
				   strerror(errno));
		free(shown);
		return -BERR_USAGE;
	}
	if ((rc = open_one(b, src, &from, cause)) != 0 ||
	    (rc = open_one(b, dst, &to, cause)) != 0 ||
	    (rc = store_copy_begin(to, cause)) != 0)
		goto out;
	c.dst = to;
	for (i = 0; store_copy_tables[i] != NULL; i++) {
		c.table = store_copy_tables[i];
		c.rows = 0;
		rc = store_rows_each(from, c.table, copy_row, &c, cause);
		if (rc == 0 && c.rc != 0) {
			rc = c.rc;
			*cause = c.cause;
			c.cause = NULL;
		}
		if (rc != 0) {
			store_rollback(to);
			goto out;
		}
		rows[i] = c.rows;
	}
	rc = store_copy_commit(to, cause);
out:
	free(c.cause);
	store_close(from);
	store_close(to);
	return rc;
}
