/*
 * Many tasks at once (`add --from`): a few hundred rows a statement,
 * each column an array parameter, instead of a round trip (or three:
 * the key, the INSERT, the NOTIFY) per task.  What is stored is what
 * pg_task_insert() one task after another stores: ids in order, a known
 * key or one that came earlier inserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/postgres/internal.h"

/* Rows a statement: few enough that a chunk's arrays stay small. */
#define CHUNK 500

/*
 * The rows, in order of their ordinality, each with the id given ($1,
 * NULL: the identity's next; on a replay the one it took), the
 * identity's nextval taken after the sort, so that ids follow the order
 * of the file.  A key another transaction added meanwhile is skipped
 * ON CONFLICT (not returned).
 */
static const char sql_insert_many[] =
	"INSERT INTO tasks (id, key, title, prompt, agent, model, workdir, "
	"project, milestone_id, session_req, new_session, queue, timeout_ms, "
	"check_cmd, max_iterations, max_attempts, force_agent, "
	"allow_foreign, created_at, retries, max_cost) SELECT coalesce(u.id, "
	"nextval(pg_get_serial_sequence('tasks', 'id'))), u.key, u.title, "
	"u.prompt, u.agent, u.model, u.workdir, u.project, u.milestone_id, "
	"u.session_req, u.new_session, u.queue, u.timeout_ms, u.check_cmd, "
	"u.max_iterations, u.max_attempts, u.force_agent, u.allow_foreign, "
	"u.created_at, u.retries, u.max_cost FROM unnest($1::bigint[], "
	"$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
	"$7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[], "
	"$12::text[], $13::bigint[], $14::text[], $15::bigint[], "
	"$16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], "
	"$20::bigint[], $21::double precision[]) WITH ORDINALITY AS u(id, "
	"key, title, prompt, agent, model, workdir, project, milestone_id, "
	"session_req, new_session, queue, timeout_ms, check_cmd, "
	"max_iterations, max_attempts, force_agent, allow_foreign, "
	"created_at, retries, max_cost, ord) ORDER BY u.ord "
	"ON CONFLICT (key) DO NOTHING RETURNING id, key";
#define NCOLS 21

static const char sql_keys[] =
	"SELECT id, key FROM tasks WHERE key = ANY($1::text[])";
static const char sql_key[] = "SELECT id FROM tasks WHERE key = $1";

/* An element of an array literal: NULL, or s quoted. */
static void
arr_text(struct strbuf *sb, const char *s)
{
	if (sb->len > 1)
		strbuf_add(sb, ",", 1);
	if (s == NULL) {
		strbuf_adds(sb, "NULL");
		return;
	}
	strbuf_add(sb, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_add(sb, "\\", 1);
		strbuf_add(sb, s, 1);
	}
	strbuf_add(sb, "\"", 1);
}

static void
arr_i64(struct strbuf *sb, int has, long long v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", v);
	arr_text(sb, has ? buf : NULL);
}

static void
arr_dbl(struct strbuf *sb, int has, double v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%.17g", v);
	arr_text(sb, has ? buf : NULL);
}

/* A task with a key: the key (borrowed) and the task's index. */
struct keyed {
	const char *key;
	size_t i;
};

/* The tasks' keys, and for each the first task with it (first[i]). */
struct keys {
	struct keyed *by; /* the tasks with a key, by key then index */
	size_t nby;
	size_t *first; /* n: first[i] == i if none came earlier */
};

static int
by_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

static void
keys_init(struct keys *k, const struct db_task *ts, size_t n)
{
	size_t i;

	k->by = xcalloc(n ? n : 1, sizeof *k->by);
	k->first = xcalloc(n ? n : 1, sizeof *k->first);
	k->nby = 0;
	for (i = 0; i < n; i++) {
		k->first[i] = i;
		if (ts[i].key != NULL) {
			k->by[k->nby].key = ts[i].key;
			k->by[k->nby++].i = i;
		}
	}
	qsort(k->by, k->nby, sizeof *k->by, by_key);
	for (i = 1; i < k->nby; i++)
		if (strcmp(k->by[i].key, k->by[i - 1].key) == 0)
			k->first[k->by[i].i] = k->first[k->by[i - 1].i];
}

/* The first task with key, or n if none has it. */
static size_t
keys_find(const struct keys *k, size_t n, const char *key)
{
	size_t lo = 0, hi = k->nby, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(k->by[mid].key, key);
		if (c == 0)
			return k->first[k->by[mid].i];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

/* The known keys among the first of each key in [lo, hi): their ids. */
static int
chunk_known(struct pg *pg, const struct keys *k, struct db_task *ts, size_t n,
	    size_t lo, size_t hi, int *existed, char **cause)
{
	struct strbuf sb;
	PGresult *res;
	struct pgq q;
	size_t i, any = 0;
	int r;

	strbuf_init(&sb);
	strbuf_add(&sb, "{", 1);
	for (i = lo; i < hi; i++)
		if (ts[i].key != NULL && k->first[i] == i) {
			arr_text(&sb, ts[i].key);
			any++;
		}
	strbuf_add(&sb, "}", 1);
	if (any == 0) {
		strbuf_release(&sb);
		return 0;
	}
	pgq_init(&q);
	pgq_text(&q, sb.buf);
	r = pg_exec(pg, sql_keys, &q, &res, "cannot look up task key", cause);
	strbuf_release(&sb);
	if (r != 0)
		return -BERR_DB;
	for (r = 0; r < PQntuples(res); r++) {
		i = keys_find(k, n, PQgetvalue(res, r, 1));
		if (i < n) {
			ts[i].id = pg_i64(res, r, 0);
			existed[i] = 1;
		}
	}
	PQclear(res);
	return 0;
}

/* Whether ts[i] is a row of the chunk's INSERT. */
static int
to_insert(const struct keys *k, size_t i, const int *existed)
{
	return !existed[i] && k->first[i] == i;
}

/* The chunk's rows [lo, hi) as the INSERT's 21 arrays, into a[]. */
static void
chunk_arrays(const struct keys *k, struct db_task *ts, size_t lo, size_t hi,
	     const int *existed, struct strbuf *a)
{
	const struct db_task *t;
	size_t i;
	int c;

	for (c = 0; c < NCOLS; c++) {
		strbuf_init(&a[c]);
		strbuf_add(&a[c], "{", 1);
	}
	for (i = lo; i < hi; i++) {
		if (!to_insert(k, i, existed))
			continue;
		t = &ts[i];
		arr_text(&a[0], NULL);
		arr_text(&a[1], t->key);
		arr_text(&a[2], t->title);
		arr_text(&a[3], t->prompt);
		arr_text(&a[4], t->agent);
		arr_text(&a[5], t->model);
		arr_text(&a[6], t->workdir);
		arr_text(&a[7], t->project);
		arr_i64(&a[8], t->milestone_id != 0, t->milestone_id);
		arr_text(&a[9], t->session_req);
		arr_i64(&a[10], 1, t->new_session);
		arr_text(&a[11], t->queue);
		arr_i64(&a[12], t->timeout_ms != 0, t->timeout_ms);
		arr_text(&a[13], t->check_cmd);
		arr_i64(&a[14], 1, t->max_iterations);
		arr_i64(&a[15], 1, t->max_attempts);
		arr_i64(&a[16], 1, t->force_agent);
		arr_i64(&a[17], 1, t->allow_foreign);
		arr_i64(&a[18], 1, t->created_at);
		arr_i64(&a[19], t->retries >= 0, t->retries);
		arr_dbl(&a[20], t->max_cost > 0, t->max_cost);
	}
	for (c = 0; c < NCOLS; c++)
		strbuf_add(&a[c], "}", 1);
}

/* A row another transaction's same key kept out: that task's id. */
static int
raced(struct pg *pg, struct db_task *t, int *existed, char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	pgq_init(&q);
	pgq_text(&q, t->key);
	if ((rc = pg_exec(pg, sql_key, &q, &res, "cannot look up task key",
			  cause)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		/* kept out by a row that is gone again (deleted, pruned) */
		*cause = xasprintf("cannot add task: key '%s' was taken and "
				   "removed meanwhile; try again",
				   t->key != NULL ? t->key : "");
		PQclear(res);
		return -BERR_DB;
	}
	t->id = pg_i64(res, 0, 0);
	*existed = 1;
	PQclear(res);
	return 0;
}

/* The INSERT's answer, row by row in the order of the chunk: the ids;
 * the ids array for a replay into *ids.  A row the INSERT kept out (the
 * same key committed by another transaction meanwhile) is left with id
 * 0 and *raced set, for raced() once the INSERT's ids are logged. */
static void
chunk_ids(const struct keys *k, struct db_task *ts, size_t lo, size_t hi,
	  const int *existed, const PGresult *res, char **ids, int *raced)
{
	struct strbuf sb;
	const char *key;
	int r = 0, nr = PQntuples(res);
	size_t i;

	strbuf_init(&sb);
	strbuf_add(&sb, "{", 1);
	for (i = lo; i < hi; i++) {
		if (!to_insert(k, i, existed))
			continue;
		key = r < nr && !PQgetisnull(res, r, 1) ? PQgetvalue(res, r, 1)
							: NULL;
		if (r < nr &&
		    (ts[i].key == NULL
			     ? key == NULL
			     : key != NULL && strcmp(key, ts[i].key) == 0)) {
			ts[i].id = pg_i64(res, r++, 0);
			ts[i].status = TASK_PENDING;
			arr_i64(&sb, 1, ts[i].id);
		} else {
			ts[i].id = 0;
			arr_text(&sb, NULL);
			*raced = 1;
		}
	}
	strbuf_add(&sb, "}", 1);
	*ids = strbuf_detach(&sb);
}

/* Insert the rows of [lo, hi) that are new; *added: how many. */
static int
chunk_insert(struct pg *pg, const struct keys *k, struct db_task *ts, size_t lo,
	     size_t hi, int *existed, size_t *added, char **cause)
{
	struct strbuf a[NCOLS];
	PGresult *res;
	struct pgq q;
	char *ids = NULL;
	size_t i, m = 0, at;
	int c, rc, lost = 0;

	for (i = lo; i < hi; i++)
		m += to_insert(k, i, existed);
	if (m == 0)
		return 0;
	chunk_arrays(k, ts, lo, hi, existed, a);
	pgq_init(&q);
	for (c = 0; c < NCOLS; c++)
		pgq_text(&q, a[c].buf);
	rc = pg_exec(pg, sql_insert_many, &q, &res, "cannot add task", cause);
	for (c = 0; c < NCOLS; c++)
		strbuf_release(&a[c]);
	if (rc != 0)
		return -BERR_DB;
	at = pg->nlog - 1; /* its entry in the transaction's log */
	chunk_ids(k, ts, lo, hi, existed, res, &ids, &lost);
	*added += (size_t)PQntuples(res);
	PQclear(res);
	/* the INSERT's ids logged before any look-up runs: a connection
	 * lost in one replays the INSERT with the ids it had */
	pg_log_ids(pg, at, 1, ids);
	free(ids);
	for (i = lo; i < hi && lost && rc == 0; i++)
		if (to_insert(k, i, existed) && ts[i].id == 0)
			rc = raced(pg, &ts[i], &existed[i], cause);
	return rc;
}

int
pg_task_insert_many(struct store *store, struct db_task *ts, size_t n,
		    int *existed, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct keys k;
	size_t lo, hi, i, added = 0;
	int rc = 0;

	memset(existed, 0, n * sizeof *existed);
	keys_init(&k, ts, n);
	for (lo = 0; lo < n && rc == 0; lo = hi) {
		hi = n - lo > CHUNK ? lo + CHUNK : n;
		rc = chunk_known(pg, &k, ts, n, lo, hi, existed, cause);
		if (rc == 0)
			rc = chunk_insert(pg, &k, ts, lo, hi, existed, &added,
					  cause);
		/* a key that came earlier: that task's id */
		for (i = lo; rc == 0 && i < hi; i++)
			if (k.first[i] != i) {
				ts[i].id = ts[k.first[i]].id;
				existed[i] = 1;
			}
	}
	free(k.by);
	free(k.first);
	if (rc == 0 && added > 0)
		rc = pg_notify_work(pg, cause);
	return rc;
}
