/*
 * Sessions, their chains, leases (S6) and the audit events.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/num.h"
#include "lib/xmalloc.h"
#include "db/postgres/internal.h"

#define SESSION_FIELDS                                                         \
	"id, kind, name, milestone_id, agent, model, project, workdir, "       \
	"os_user, status, head, turns, input_tokens, output_tokens, "          \
	"cache_read_tokens, cache_creation_tokens, cost_usd, "                 \
	"resume_failures, resumable, predecessor, metadata, lease_runner, "    \
	"lease_task, lease_expires, created_at, last_used_at, closed_at "
#define SESSION_COLS SESSION_FIELDS "FROM sessions "
/* the column after SESSION_FIELDS in a listing: its order */
#define SESSION_SEQ_COL 27

static void
read_session(const PGresult *r, int i, struct db_session *s)
{
	memset(s, 0, sizeof *s);
	s->id = pg_text(r, i, 0);
	s->kind = pg_col_session_kind(r, i, 1, SESSION_TEMP);
	s->name = pg_text(r, i, 2);
	s->milestone_id = pg_i64(r, i, 3);
	s->agent = pg_text(r, i, 4);
	s->model = pg_text(r, i, 5);
	s->project = pg_text(r, i, 6);
	s->workdir = pg_text(r, i, 7);
	s->os_user = pg_text(r, i, 8);
	s->status = pg_col_session_status(r, i, 9, SESSION_ACTIVE);
	s->head = pg_text(r, i, 10);
	s->turns = num_count(pg_i64(r, i, 11));
	s->input_tokens = num_count(pg_i64(r, i, 12));
	s->output_tokens = num_count(pg_i64(r, i, 13));
	s->cache_read_tokens = num_count(pg_i64(r, i, 14));
	s->cache_creation_tokens = num_count(pg_i64(r, i, 15));
	s->cost_usd = num_usd(pg_dbl(r, i, 16));
	s->resume_failures = (int)pg_i64(r, i, 17);
	s->resumable = (int)pg_i64(r, i, 18);
	s->predecessor = pg_text(r, i, 19);
	s->metadata = pg_text(r, i, 20);
	s->lease_runner = pg_i64(r, i, 21);
	s->lease_task = pg_i64(r, i, 22);
	s->lease_expires = pg_i64(r, i, 23);
	s->created_at = pg_i64(r, i, 24);
	s->last_used_at = pg_i64(r, i, 25);
	s->closed_at = pg_i64(r, i, 26);
}

/* The first row of sql ($1 key, $2 key2 if not NULL) into s. */
static int
get_one(struct pg *pg, const char *sql, const char *key, const char *key2,
	struct db_session *s, int *found, char **cause)
{
	PGresult *res;
	struct pgq q;
	int rc;

	*found = 0;
	pgq_init(&q);
	pgq_text(&q, key);
	if (strstr(sql, "$2") != NULL)
		pgq_text(&q, key2);
	if ((rc = pg_exec(pg, sql, &q, &res, "cannot read session", cause)) !=
	    0)
		return rc;
	if (PQntuples(res) >= 1) {
		read_session(res, 0, s);
		*found = 1;
	}
	PQclear(res);
	return 0;
}

/* sql with text $1 and more parameters, no result. */
static int
do_text(struct pg *pg, const char *sql, struct pgq *q, const char *what,
	char **cause)
{
	return pg_do(pg, sql, q, NULL, what, cause);
}

static const char sql_session_get[] = "SELECT " SESSION_COLS "WHERE id = $1";

int
pg_session_get(struct store *store, const char *id, struct db_session *s,
	       int *found, char **cause)
{
	return get_one((struct pg *)store, sql_session_get, id, NULL, s, found,
		       cause);
}

const char *
pg_sql_session_get(void)
{
	return sql_session_get;
}

void
pg_session_read_ahead(struct pg *pg, const char *id)
{
	if (id != NULL)
		pg_read_ahead(pg, sql_session_get, id);
}

static const char sql_session_insert[] =
	"INSERT INTO sessions (id, kind, name, milestone_id, agent, model, "
	"project, workdir, os_user, status, predecessor, metadata, "
	"created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
	"$9, 'active', $10, coalesce($11, '{}'), $12, $12)";

/* sql_session_insert leased (pg_session_lease): $13 the runner, $14
 * the task, $15 the time, $16 when the lease expires. */
static const char sql_session_insert_leased[] =
	"INSERT INTO sessions (id, kind, name, milestone_id, agent, model, "
	"project, workdir, os_user, status, predecessor, metadata, "
	"created_at, last_used_at, lease_runner, lease_task, lease_expires, "
	"lease_epoch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
	"$9, 'active', $10, coalesce($11, '{}'), $12, $15::bigint, $13, $14, "
	"$16, 1)";

/*
 * The row sql_session_get would read of session id once its leased
 * insert, held back, runs (what sql_session_insert_leased and the
 * table's defaults make of its parameters), or NULL if that insert is
 * not held back.  pg-replay's test_start_held compares it with the row
 * read.
 */
PGresult *
pg_session_made(struct pg *pg, const char *id)
{
	/* SESSION_FIELDS from the insert's parameters ($k: k), or a value */
	static const struct {
		int param;
		const char *v;
	} col[] = {{1, NULL},  {2, NULL},     {3, NULL},  {4, NULL},
		   {5, NULL},  {6, NULL},     {7, NULL},  {8, NULL},
		   {9, NULL},  {0, "active"}, {0, NULL},  {0, "0"},
		   {0, "0"},   {0, "0"},      {0, "0"},	  {0, "0"},
		   {0, "0"},   {0, "0"},      {0, "1"},	  {10, NULL},
		   {11, "{}"}, {13, NULL},    {14, NULL}, {16, NULL},
		   {12, NULL}, {15, NULL},    {0, NULL}};
	const struct pg_deferred *d = NULL;
	PGresult *res;
	const char *v;
	size_t i;

	for (i = 0; i < pg->ndq; i++) {
		d = &pg->dq[i];
		if (d->base == sql_session_insert_leased && d->n == 16 &&
		    d->v[0] != NULL && strcmp(d->v[0], id) == 0)
			break;
	}
	if (i == pg->ndq ||
	    (res = pg_made_row(pg, (int)(sizeof col / sizeof col[0]))) == NULL)
		return NULL;
	for (i = 0; i < sizeof col / sizeof col[0]; i++) {
		v = col[i].param > 0 ? d->v[col[i].param - 1] : NULL;
		if (!pg_set_value(res, (int)i, v != NULL ? v : col[i].v)) {
			PQclear(res);
			return NULL;
		}
	}
	return res;
}

int
pg_session_insert(struct store *store, const struct db_session *s, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, s->id);
	pgq_text(&q, session_kind_name(s->kind));
	pgq_text(&q, s->name);
	pgq_nz(&q, s->milestone_id);
	pgq_text(&q, s->agent);
	pgq_text(&q, s->model);
	pgq_text(&q, s->project);
	pgq_text(&q, s->workdir);
	pgq_text(&q, s->os_user);
	pgq_text(&q, s->predecessor);
	pgq_text(&q, s->metadata);
	pgq_i64(&q, s->created_at);
	return do_text((struct pg *)store, sql_session_insert, &q,
		       "cannot create session", cause);
}

/* With how many claims may run beside this one: each holds a connection
 * (pg_claim_limit()). */
static const char sql_session_count_active[] =
	"SELECT " PG_ACTIVE_SESSIONS ", " PG_CLAIMS_BESIDE;

/* The count the claim's pick made (pg_task_next()) if nothing was
 * written since, else a count now. */
int
pg_session_count_active(struct store *store, int64_t limit, int64_t *n,
			char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	int64_t beside;
	int rc;

	if (pg->in_txn && pg->count_wseq >= 0 && pg->count_wseq == pg->wseq) {
		*n = pg->count_n;
		beside = pg->count_beside;
	} else {
		if ((rc = pg_exec(pg, sql_session_count_active, NULL, &res,
				  "cannot count sessions", cause)) != 0)
			return rc;
		*n = pg_i64(res, 0, 0);
		beside = pg_i64(res, 0, 1);
		PQclear(res);
	}
	return pg_claim_limit(pg, *n, beside, limit, cause);
}

static const char sql_session_count_closing[] =
	"SELECT count(*) FROM sessions WHERE status = 'active' AND "
	"kind = 'temp' AND lease_runner IS NOT NULL AND lease_expires > $1";

int
pg_session_count_closing(struct store *store, int64_t now, int64_t *n,
			 char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, now);
	return pg_count(pg, sql_session_count_closing, &q, n,
			"cannot count sessions", cause);
}

/* As in SQLite; the UPDATE locks the row, and PostgreSQL checks the
 * condition again on the row as another writer left it. */
static const char sql_session_lease[] =
	"UPDATE sessions SET lease_runner = $2, lease_task = $3, "
	"lease_expires = $5, last_used_at = $4, lease_epoch = lease_epoch + 1 "
	"WHERE id = $1 AND "
	"(lease_runner IS NULL OR lease_expires < $4 OR "
	"(lease_runner = $2 AND lease_task = $3) OR NOT EXISTS "
	"(SELECT 1 FROM runners r WHERE r.id = lease_runner "
	"AND r.status = 'alive')) RETURNING lease_epoch";
static const char sql_session_lease_holder[] =
	"SELECT lease_task FROM sessions WHERE id = $1";

int
pg_session_lease(struct store *store, const char *id, int64_t runner,
		 int64_t task, int64_t now, int64_t expires, int *got,
		 int64_t *holder_task, int64_t *epoch, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int rc;

	*got = 0;
	*holder_task = 0;
	*epoch = 0;
	pgq_init(&q);
	pgq_text(&q, id);
	pgq_i64(&q, runner);
	pgq_i64(&q, task);
	pgq_i64(&q, now);
	pgq_i64(&q, expires);
	/* made by this transaction and not sent yet: nobody else can hold
	 * it, and it is made leased (epoch 1), with no round trip */
	if (pg_amend_held(pg, sql_session_insert, sql_session_insert_leased, &q,
			  0)) {
		*got = 1;
		*epoch = 1;
		return 0;
	}
	if ((rc = pg_exec(pg, sql_session_lease, &q, &res,
			  "cannot lease session", cause)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		*epoch = pg_i64(res, 0, 0);
		*got = 1;
	}
	PQclear(res);
	if (*got)
		return 0;
	q.n = 1;
	if ((rc = pg_exec(pg, sql_session_lease_holder, &q, &res,
			  "cannot lease session", cause)) != 0)
		return rc;
	if (PQntuples(res) == 1)
		*holder_task = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

/* A release's SET: the lease gone and, if c (the close time, 0 for
 * none) is not 0, the session closed then; last_used_at the later of
 * used (its value before) and c.  The release's fence is the caller's. */
#define UNLEASE_SET(used, c)                                                   \
	"lease_runner = NULL, lease_task = NULL, lease_expires = NULL, "       \
	"status = CASE WHEN " c "::bigint = 0 THEN status ELSE 'closed' END, " \
	"last_used_at = CASE WHEN " c "::bigint = 0 THEN " used "::bigint "    \
	"ELSE greatest(" used "::bigint, " c "::bigint) END, "                 \
	"closed_at = CASE WHEN " c "::bigint = 0 THEN closed_at ELSE " c       \
	"::bigint END"

static const char sql_session_unlease[] = "UPDATE sessions SET " UNLEASE_SET(
	"last_used_at", "$3") " WHERE id = $1 AND " PG_SESSION_FENCE("$2");

static const char sql_session_status[] =
	"UPDATE sessions SET status = $2, "
	"last_used_at = greatest(last_used_at, $3::bigint), "
	"closed_at = CASE WHEN $2 = 'active' THEN NULL ELSE $3::bigint END "
	"WHERE id = $1";

int
pg_session_set_status(struct store *store, const char *id,
		      enum session_status status, int64_t now, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, id);
	pgq_text(&q, session_status_name(status));
	pgq_i64(&q, now);
	return do_text((struct pg *)store, sql_session_status, &q,
		       "cannot update session", cause);
}

static const char sql_session_touch[] =
	"UPDATE sessions SET last_used_at = $2 WHERE id = $1";

int
pg_session_touch(struct store *store, const char *id, int64_t now, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, id);
	pgq_i64(&q, now);
	return do_text((struct pg *)store, sql_session_touch, &q,
		       "cannot update session", cause);
}

static const char sql_chain_insert[] =
	"INSERT INTO session_chain (session_id, agent_session_id, edge, "
	"run_id, created_at) VALUES ($1, $2, $3, $4, $5)";
static const char sql_session_head[] =
	"UPDATE sessions SET head = $2 WHERE id = $1 AND " PG_SESSION_FENCE(
		"$3");

/* sql_chain_insert after sql_session_head in one statement: $4 the
 * edge, $5 the run, $6 the time. */
static const char sql_chain_after[] =
	", chain AS (INSERT INTO session_chain (session_id, "
	"agent_session_id, edge, run_id, created_at) SELECT $1, $2, $4, "
	"$5::bigint, $6::bigint FROM fence)";

/* A turn's usage on its session: the parameters' numbers for the turn
 * (1 or 0), the tokens, the cost and the time. */
/* clang-format off */
#define USAGE_SET_BUT_TIME(turn, in, out, cr, cc, cost)                        \
	PG_COUNT_ADD("turns", turn) ", "                                       \
	PG_COUNT_ADD("input_tokens", in) ", "                                  \
	PG_COUNT_ADD("output_tokens", out) ", "                                \
	PG_COUNT_ADD("cache_read_tokens", cr) ", "                             \
	PG_COUNT_ADD("cache_creation_tokens", cc) ", "                         \
	PG_USD_ADD("cost_usd", cost)
#define SESSION_USAGE_SET(turn, in, out, cr, cc, cost, now)                    \
	USAGE_SET_BUT_TIME(turn, in, out, cr, cc, cost) ", last_used_at = " now
/* clang-format on */

static const char sql_session_usage[] =
	"UPDATE sessions SET " SESSION_USAGE_SET(
		"$8", "$2", "$3", "$4", "$5", "$6",
		"$7") " WHERE id = $1 AND " PG_SESSION_FENCE("$9");

/* sql_session_head (with its link) and sql_session_usage in one write
 * (pg_session_add_usage()): the usage's parameters but the id after the
 * head's, $7 to $14. */
#define HEAD_USAGE_SET                                                         \
	SESSION_USAGE_SET("$13", "$7", "$8", "$9", "$10", "$11", "$12")
#define HEAD_USAGE_FENCE PG_SESSION_FENCE("$3") " AND " PG_SESSION_FENCE("$14")
static const char sql_session_head_usage[] =
	"UPDATE sessions SET head = $2, " HEAD_USAGE_SET
	" WHERE id = $1 AND " HEAD_USAGE_FENCE;

/* A usage (with or without the head) and the session's release after it
 * (pg_session_unlease()), in one write: the release's epoch and close
 * time after the usage's parameters.  The usage sets last_used_at to
 * its time, the release to the later of that and its close time. */
/* clang-format off */
#define HEAD_USAGE_UNLEASE_SET                                                 \
	USAGE_SET_BUT_TIME("$13", "$7", "$8", "$9", "$10", "$11") ", "         \
	UNLEASE_SET("$12", "$16")
#define USAGE_UNLEASE_SET                                                      \
	USAGE_SET_BUT_TIME("$8", "$2", "$3", "$4", "$5", "$6") ", "            \
	UNLEASE_SET("$7", "$11")
static const char sql_session_head_usage_unlease[] =
	"UPDATE sessions SET head = $2, " HEAD_USAGE_UNLEASE_SET
	" WHERE id = $1 AND " HEAD_USAGE_FENCE
	" AND " PG_SESSION_FENCE("$15");
static const char sql_session_usage_unlease[] =
	"UPDATE sessions SET " USAGE_UNLEASE_SET
	" WHERE id = $1 AND " PG_SESSION_FENCE("$9")
	" AND " PG_SESSION_FENCE("$10");
/* clang-format on */

int
pg_session_add_usage(struct store *store, const char *id, int64_t epoch,
		     int turn, int64_t in, int64_t out, int64_t cache_read,
		     int64_t cache_creation, double cost, int64_t now,
		     char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, id);
	pgq_i64(&q, num_count(in));
	pgq_i64(&q, num_count(out));
	pgq_i64(&q, num_count(cache_read));
	pgq_i64(&q, num_count(cache_creation));
	pgq_dbl(&q, num_usd(cost));
	pgq_i64(&q, now);
	pgq_i64(&q, turn ? 1 : 0);
	pgq_i64(&q, epoch);
	/* the head set just before, held back: one row, one write */
	if (pg_amend_held(pg, sql_session_head, sql_session_head_usage, &q, 0))
		return 0;
	return pg_do_fenced(pg, sql_session_usage, &q, epoch,
			    "cannot record session usage", cause);
}

int
pg_session_unlease(struct store *store, const char *id, int64_t epoch,
		   int64_t close_at, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, id);
	pgq_i64(&q, epoch);
	pgq_i64(&q, close_at);
	/* the run's usage of the session, held back: one row, one write */
	if (pg_amend_held(pg, sql_session_head_usage,
			  sql_session_head_usage_unlease, &q, 0) ||
	    pg_amend_held(pg, sql_session_usage, sql_session_usage_unlease, &q,
			  0))
		return 0;
	return pg_do_fenced(pg, sql_session_unlease, &q, epoch,
			    "cannot release session", cause);
}

/* The head first: it is the fenced write, so that a lost lease adds no
 * link either. */
int
pg_session_push_head(struct store *store, const char *id, int64_t epoch,
		     const char *agent_session_id, enum chain_edge edge,
		     int64_t run_id, int64_t now, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;
	int rc;

	pgq_init(&q);
	pgq_text(&q, id);
	pgq_text(&q, agent_session_id);
	pgq_i64(&q, epoch);
	if (pg_holds_back(pg, epoch)) {
		/* one statement: the link only if the head was set */
		pgq_text(&q, chain_edge_name(edge));
		pgq_nz(&q, run_id);
		pgq_i64(&q, now);
		return pg_do_fenced_with(pg, sql_session_head, sql_chain_after,
					 &q, epoch, "cannot set session head",
					 cause);
	}
	if ((rc = pg_do_fenced(pg, sql_session_head, &q, epoch,
			       "cannot set session head", cause)) != 0)
		return rc;
	pgq_init(&q);
	pgq_text(&q, id);
	pgq_text(&q, agent_session_id);
	pgq_text(&q, chain_edge_name(edge));
	pgq_nz(&q, run_id);
	pgq_i64(&q, now);
	return do_text(pg, sql_chain_insert, &q, "cannot extend session chain",
		       cause);
}

static const char sql_session_resume_failed[] =
	"UPDATE sessions SET resume_failures = resume_failures + 1, "
	"resumable = CASE WHEN resume_failures + 1 >= $2 THEN 0 "
	"ELSE resumable END WHERE id = $1 AND " PG_SESSION_FENCE("$3");

int
pg_session_resume_failed(struct store *store, const char *id, int64_t epoch,
			 int limit, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, id);
	pgq_i64(&q, limit);
	pgq_i64(&q, epoch);
	return pg_do_fenced((struct pg *)store, sql_session_resume_failed, &q,
			    epoch, "cannot record resume failure", cause);
}

static const char sql_chain_list[] =
	"SELECT agent_session_id, edge, run_id, created_at FROM session_chain "
	"WHERE session_id = $1 ORDER BY id";

int
pg_session_chain(struct store *store, const char *id,
		 struct db_chain_link **links, size_t *n, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int i, rows, rc;

	*links = NULL;
	*n = 0;
	pgq_init(&q);
	pgq_text(&q, id);
	if ((rc = pg_exec(pg, sql_chain_list, &q, &res,
			  "cannot read session chain", cause)) != 0)
		return rc;
	rows = PQntuples(res);
	if (rows > 0)
		*links = xcalloc((size_t)rows, sizeof **links);
	for (i = 0; i < rows; i++) {
		struct db_chain_link *l = &(*links)[i];

		l->agent_session_id = pg_text(res, i, 0);
		l->edge = pg_col_chain_edge(res, i, 1, EDGE_FIRST);
		l->run_id = pg_i64(res, i, 2);
		l->created_at = pg_i64(res, i, 3);
	}
	*n = (size_t)rows;
	PQclear(res);
	return 0;
}

static const char sql_event[] =
	"INSERT INTO events (at, kind, session_id, task_id, run_id, "
	"runner_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)";

int
pg_event(struct store *store, enum event_kind kind, const char *session_id,
	 int64_t task_id, int64_t run_id, int64_t runner_id, const char *detail,
	 int64_t now, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_i64(&q, now);
	pgq_text(&q, event_kind_name(kind));
	pgq_text(&q, session_id);
	pgq_nz(&q, task_id);
	pgq_nz(&q, run_id);
	pgq_nz(&q, runner_id);
	pgq_text(&q, detail);
	return do_text((struct pg *)store, sql_event, &q, "cannot record event",
		       cause);
}

static const char sql_session_repin[] =
	"UPDATE sessions SET agent = $2, model = $3 WHERE id = $1";

int
pg_session_repin(struct store *store, const char *id, const char *agent,
		 const char *model, char **cause)
{
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, id);
	pgq_text(&q, agent);
	pgq_text(&q, model);
	return do_text((struct pg *)store, sql_session_repin, &q,
		       "cannot re-pin session", cause);
}

static const char sql_session_latest_by_name[] =
	"SELECT " SESSION_COLS "WHERE name = $1 "
	"ORDER BY (status = 'active') DESC, created_at DESC, seq DESC "
	"LIMIT 1";

int
pg_session_get_latest_by_name(struct store *store, const char *name,
			      struct db_session *s, int *found, char **cause)
{
	return get_one((struct pg *)store, sql_session_latest_by_name, name,
		       NULL, s, found, cause);
}

/* Two rows at most: enough to tell unique from ambiguous. */
static const char sql_session_by_prefix[] =
	"SELECT " SESSION_COLS "WHERE id >= $1 AND id < $1 || 'g' "
	"ORDER BY id LIMIT 2";

int
pg_session_get_by_prefix(struct store *store, const char *prefix,
			 struct db_session *s, int *found, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int rc;

	*found = 0;
	pgq_init(&q);
	pgq_text(&q, prefix);
	if ((rc = pg_exec(pg, sql_session_by_prefix, &q, &res,
			  "cannot read session", cause)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		read_session(res, 0, s);
		*found = 1;
	} else if (PQntuples(res) > 1)
		*found = 2;
	PQclear(res);
	return 0;
}

static const char sql_session_each[] =
	"SELECT " SESSION_FIELDS ", seq FROM sessions "
	"WHERE ($1::int = 0 OR status = 'active') "
	"AND ($2::bigint = 0 OR (status = 'active' AND last_used_at < $2 AND "
	"(lease_runner IS NULL OR lease_expires < $4::bigint))) "
	"AND ($3::bigint = 0 OR (status <> 'active' AND "
	"coalesce(closed_at, last_used_at) < $3::bigint)) "
	"AND seq > $5 ORDER BY seq LIMIT $6";

/* Sessions fetched per round trip of a listing. */
#define SESSION_PAGE 1000

int
pg_session_each(struct store *store, const struct db_session_filter *f,
		int (*fn)(void *, const struct db_session *), void *arg,
		char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct db_session s;
	PGresult *res;
	struct pgq q;
	int64_t after = 0;
	int i, n, stop = 0;
	int rc;

	/* In pages by seq, so that many sessions are never one result. */
	do {
		pgq_init(&q);
		pgq_i64(&q, f->active_only);
		pgq_i64(&q, f->idle_before);
		pgq_i64(&q, f->closed_before);
		pgq_i64(&q, f->now);
		pgq_i64(&q, after);
		pgq_i64(&q, SESSION_PAGE);
		if ((rc = pg_exec(pg, sql_session_each, &q, &res,
				  "cannot list sessions", cause)) != 0)
			return rc;
		n = PQntuples(res);
		for (i = 0; i < n && !stop; i++) {
			read_session(res, i, &s);
			after = pg_i64(res, i, SESSION_SEQ_COL);
			stop = fn(arg, &s);
			db_session_release(&s);
		}
		PQclear(res);
	} while (!stop && n == SESSION_PAGE);
	return 0;
}

static const char sql_chain_wipe[] =
	"DELETE FROM session_chain WHERE session_id = $1";
static const char sql_session_wipe[] =
	"UPDATE sessions SET head = NULL, turns = 0, input_tokens = 0, "
	"output_tokens = 0, cache_read_tokens = 0, cache_creation_tokens = 0, "
	"cost_usd = 0, resume_failures = 0, resumable = 1, metadata = '{}', "
	"last_used_at = $2 WHERE id = $1";

int
pg_session_reset(struct store *store, const char *id, int64_t now, char **cause)
{
	struct pg *pg = (struct pg *)store;
	struct pgq q;

	pgq_init(&q);
	pgq_text(&q, id);
	if (do_text(pg, sql_chain_wipe, &q, "cannot reset session chain",
		    cause))
		return -BERR_DB;
	pgq_i64(&q, now);
	return do_text(pg, sql_session_wipe, &q, "cannot reset session", cause);
}

static const char *const sql_session_prune[] = {
	"UPDATE tasks SET session_id = NULL WHERE session_id = $1",
	"UPDATE runs SET session_id = NULL WHERE session_id = $1",
	"UPDATE milestones SET session_id = NULL WHERE session_id = $1",
	"UPDATE sessions SET predecessor = NULL WHERE predecessor = $1",
	"DELETE FROM session_chain WHERE session_id = $1",
	"DELETE FROM sessions WHERE id = $1",
};

int
pg_session_delete(struct store *store, const char *id, char **cause)
{
	struct pgq q;
	size_t i;

	pgq_init(&q);
	pgq_text(&q, id);
	for (i = 0; i < sizeof sql_session_prune / sizeof *sql_session_prune;
	     i++)
		if (do_text((struct pg *)store, sql_session_prune[i], &q,
			    "cannot prune session", cause))
			return -BERR_DB;
	return 0;
}

static const char sql_session_events[] =
	"SELECT id, at, kind, session_id, task_id, run_id, runner_id, detail "
	"FROM events WHERE session_id = $1 ORDER BY id";

int
pg_session_events(struct store *store, const char *id, struct db_event_row **ev,
		  size_t *n, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int i, rows, rc;

	*ev = NULL;
	*n = 0;
	pgq_init(&q);
	pgq_text(&q, id);
	if ((rc = pg_exec(pg, sql_session_events, &q, &res,
			  "cannot read events", cause)) != 0)
		return rc;
	rows = PQntuples(res);
	if (rows > 0)
		*ev = xcalloc((size_t)rows, sizeof **ev);
	for (i = 0; i < rows; i++) {
		struct db_event_row *e = &(*ev)[i];

		e->id = pg_i64(res, i, 0);
		e->at = pg_i64(res, i, 1);
		e->kind = pg_col_event_kind(res, i, 2, EVENT_CREATE);
		e->session_id = pg_text(res, i, 3);
		e->task_id = pg_i64(res, i, 4);
		e->run_id = pg_i64(res, i, 5);
		e->runner_id = pg_i64(res, i, 6);
		e->detail = pg_text(res, i, 7);
	}
	*n = (size_t)rows;
	PQclear(res);
	return 0;
}

static const char sql_session_runs[] =
	"SELECT " PG_RUN_COLS "WHERE session_id = $1 ORDER BY id";

int
pg_session_runs(struct store *store, const char *id, struct db_run **runs,
		size_t *n, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;
	struct pgq q;
	int rc;

	*runs = NULL;
	*n = 0;
	pgq_init(&q);
	pgq_text(&q, id);
	if ((rc = pg_exec(pg, sql_session_runs, &q, &res,
			  "cannot read the session's runs", cause)) != 0)
		return rc;
	pg_read_runs(res, runs, n);
	return 0;
}

static const char sql_session_successor[] =
	"SELECT " SESSION_COLS "WHERE predecessor = $1 "
	"ORDER BY created_at DESC, seq DESC LIMIT 1";

int
pg_session_get_successor(struct store *store, const char *id,
			 struct db_session *s, int *found, char **cause)
{
	return get_one((struct pg *)store, sql_session_successor, id, NULL, s,
		       found, cause);
}

static const char sql_session_last_used[] =
	"SELECT " SESSION_COLS "WHERE project = $1 AND os_user = $2 "
	"AND head IS NOT NULL AND (CASE WHEN kind = 'temp' "
	"THEN status <> 'active' "
	"ELSE status = 'active' OR status = 'expired' END) "
	"ORDER BY last_used_at DESC, seq DESC LIMIT 1";

int
pg_session_get_last_used(struct store *store, const char *project,
			 const char *os_user, struct db_session *s, int *found,
			 char **cause)
{
	return get_one((struct pg *)store, sql_session_last_used, project,
		       os_user, s, found, cause);
}
