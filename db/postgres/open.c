/*
 * The PostgreSQL store: connecting (timeouts, keepalives), migrations
 * under an advisory lock, statements, transactions and what happens when
 * the connection breaks.
 *
 * Write transactions take one advisory transaction lock (LOCK_WRITE)
 * after BEGIN, the counterpart of SQLite's BEGIN IMMEDIATE: every rule
 * of core/ that reads then writes (the S6 queue order, the session
 * limit, get-or-create of a named session, leases) sees no other writer
 * between its read and its write, on any machine.  Readers never wait.
 * Claims (pg_begin_claim) take it in shared mode and run side by side:
 * they lock the claimed row FOR UPDATE SKIP LOCKED and the session they
 * lease, and keep the rules as pg_begin_claim() says.  A transaction
 * begun with pg_begin_own (store_begin_own: the heartbeat, the agent's
 * pid, output written while a run goes) writes only rows the runner
 * owns, fenced by its epoch, and takes no write lock.
 *
 * A statement whose connection broke is run again on a new connection
 * (reconnecting with backoff for at most reconnect_ms): outside a
 * transaction at once if it only reads, a write as a transaction of its
 * own; inside a transaction after every statement of the transaction
 * so far was replayed and gave the same result (row values and rows
 * changed), else the transaction fails as it would have anyway.  A
 * COMMIT whose answer was lost asks the server with txid_status()
 * whether it committed, so nothing is committed twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"
#include "db/postgres/internal.h"

extern const char baton_pg_schema_sql[];

/* Advisory lock keys: (BATON_LOCK, n). */
#define BATON_LOCK   "6452334" /* 0x62746e */
#define LOCK_MIGRATE "1"
#define LOCK_WRITE   "2"

#define DEFAULT_BUSY_TIMEOUT_MS 10000
#define DEFAULT_RECONNECT_MS	60000
#define STATEMENT_TIMEOUT_MS	(10 * 60 * 1000)
/* A client that stopped inside a transaction (SIGSTOP, a paused VM, a
 * dead network) holds the write lock until the server ends its session:
 * the other runners must get it back well before they would fence
 * themselves (runner.stale_after), so a third of reconnect_ms, between
 * these.  baton's transactions last milliseconds; one whose session was
 * ended for lingering is replayed on a new connection. */
#define IDLE_IN_TXN_MIN_MS 1000
#define IDLE_IN_TXN_MAX_MS 60000

static int64_t
idle_in_txn_ms(const struct pg *pg)
{
	int64_t ms = pg->reconnect_ms / 3;

	return ms < IDLE_IN_TXN_MIN_MS	 ? IDLE_IN_TXN_MIN_MS
	       : ms > IDLE_IN_TXN_MAX_MS ? IDLE_IN_TXN_MAX_MS
					 : ms;
}

/*
 * Migration N (counting from 1) takes a database from version N-1 to N.
 * Append only: a released migration is never edited.
 */
static const char *const migrations[] = {
	baton_pg_schema_sql,
	/* 2: fenced leases (SPEC §5, docs/leases.md), as SQLite's 5: each
	 * claim of a task and each lease of a session takes the next epoch,
	 * and every later write of the runner names it */
	"ALTER TABLE tasks ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE sessions ADD COLUMN lease_epoch BIGINT NOT NULL "
	"DEFAULT 0;",
	/* 3: as SQLite's 6: the database's id (SPEC §9: the files of this
	 * machine's runs live in a directory named for it) and runs whose
	 * output passed logs.max_bytes (SPEC §3) */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT INTO meta VALUES ('id', gen_random_uuid()::text);"
	"ALTER TABLE runs ADD COLUMN output_truncated BIGINT NOT NULL "
	"DEFAULT 0;",
	/* 4: output kept while the run goes (SPEC §10, core/output.c):
	 * run_output holds chunks, each the bytes of its stream from pos
	 * on; a row of before (a run's whole capped output) is its chunk
	 * at 0 */
	"ALTER TABLE run_output DROP CONSTRAINT run_output_pkey;"
	"ALTER TABLE run_output DROP COLUMN bytes;"
	"ALTER TABLE run_output ADD COLUMN pos BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE run_output ALTER COLUMN pos DROP DEFAULT;"
	"ALTER TABLE run_output ADD PRIMARY KEY (run_id, stream, pos);",
	/* 5: as SQLite's 7: fewer B-trees to write per task; the claim
	 * uses tasks_status, the reaper tasks_status and runs_task (the
	 * schema of migration 1 no longer makes them) */
	"DROP INDEX IF EXISTS tasks_pending;"
	"DROP INDEX IF EXISTS tasks_runner;"
	"DROP INDEX IF EXISTS runs_open;",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int
pg_schema_version(void)
{
	return N_MIGRATIONS;
}

/* ---- parameters and cells ---- */

void
pgq_init(struct pgq *q)
{
	q->n = 0;
}

static char *
pgq_slot(struct pgq *q)
{
	if (q->n >= PG_MAX_PARAMS)
		fatal("postgres: more than %d parameters", PG_MAX_PARAMS);
	return q->buf[q->n];
}

void
pgq_text(struct pgq *q, const char *s)
{
	pgq_slot(q);
	q->v[q->n++] = s;
}

void
pgq_null(struct pgq *q)
{
	pgq_text(q, NULL);
}

void
pgq_i64(struct pgq *q, int64_t v)
{
	char *b = pgq_slot(q);

	snprintf(b, sizeof q->buf[0], "%lld", (long long)v);
	q->v[q->n++] = b;
}

void
pgq_nz(struct pgq *q, int64_t v)
{
	if (v == 0)
		pgq_null(q);
	else
		pgq_i64(q, v);
}

void
pgq_dbl(struct pgq *q, double v)
{
	char *b = pgq_slot(q);

	snprintf(b, sizeof q->buf[0], "%.17g", v);
	q->v[q->n++] = b;
}

int64_t
pg_i64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double
pg_dbl(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return strtod(PQgetvalue(r, row, col), NULL);
}

char *
pg_text(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return xstrdup(PQgetvalue(r, row, col));
}

int
pg_isnull(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

int
pg_is(const PGresult *r, int row, int col, const char *s)
{
	return !PQgetisnull(r, row, col) &&
	       strcmp(PQgetvalue(r, row, col), s) == 0;
}

/* ---- messages ---- */

/* libpq's message for the connection or result, one line, no "ERROR:". */
static char *
pg_msg(struct pg *pg, const PGresult *res)
{
	const char *m =
		res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
			    : NULL;
	char *s, *nl;

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(pg->conn);
	s = xstrdup(m != NULL && *m != '\0' ? m : "unknown error");
	if ((nl = strchr(s, '\n')) != NULL)
		*nl = '\0';
	return s;
}

/*
 * The failure was a lock or statement timeout, a serialization failure
 * or a deadlock: the same transaction may succeed if tried again
 * (store_busy).
 */
static int
is_busy(const PGresult *res)
{
	static const char *const codes[] = {"55P03", "40001", "40P01", "57014"};
	const char *c =
		res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	size_t i;

	for (i = 0; c != NULL && i < sizeof codes / sizeof codes[0]; i++) {
		if (strcmp(c, codes[i]) == 0)
			return 1;
	}
	return 0;
}

static int
fail(struct pg *pg, const PGresult *res, const char *what, char **cause)
{
	char *m = pg_msg(pg, res);
	const char *code =
		res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	int shared = pg->in_txn && pg->txn_lock == PG_LOCK_SHARED;

	/* beside other claims, a unique name two of them made at once (a
	 * named session) is busy too: claim again, alone (claim_whole) */
	pg->busy = is_busy(res) ||
		   (shared && code != NULL && strcmp(code, "23505") == 0);
	if (pg->busy && shared)
		pg->claim_whole |= PG_WHOLE_ONCE;

	if (what != NULL && *what != '\0')
		*cause = xasprintf("%s: %s", what, m);
	else
		*cause = xstrdup(m);
	free(m);
	return -BERR_DB;
}

static int
result_ok(const PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* ---- the connection ---- */

/* FNV-1a of a statement's text. */
static uint64_t
text_hash(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
	return h;
}

/* Forget the statements prepared on the connection (it is a new one). */
static void
prep_clear(struct pg *pg)
{
	while (pg->nprep > 0)
		free(pg->prep[--pg->nprep].sql);
}

static void
quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* The session settings of a new connection.  0 or -1. */
static int
setup_session(struct pg *pg, int64_t busy_ms)
{
	char *sql;
	PGresult *res;
	int ok;

	PQsetNoticeProcessor(pg->conn, quiet_notices, NULL);
	sql = xasprintf("SET statement_timeout = %lld; "
			"SET idle_in_transaction_session_timeout = %lld; "
			"SET lock_timeout = %lld; "
			"SET client_min_messages = warning",
			(long long)pg->statement_timeout_ms,
			(long long)idle_in_txn_ms(pg), (long long)busy_ms);
	res = PQexec(pg->conn, sql);
	free(sql);
	ok = result_ok(res);
	PQclear(res);
	return ok ? 0 : -1;
}

/* LISTEN again on a new connection if the old one did. */
static int
relisten(struct pg *pg)
{
	PGresult *res;
	int ok;

	if (!pg->listening)
		return 0;
	res = PQexec(pg->conn, "LISTEN baton_work");
	ok = result_ok(res);
	PQclear(res);
	return ok ? 0 : -1;
}

/* Connect (the URL's own settings win over these defaults). */
static PGconn *
connect_url(const char *url)
{
	static const char *const kw[] = {
		"application_name", "keepalives",
		"keepalives_idle",  "keepalives_interval",
		"keepalives_count", "connect_timeout",
		"dbname",	    NULL,
	};
	const char *val[] = {"baton", "1", "30", "10", "3", "10", url, NULL};

	return PQconnectdbParams(kw, val, 1);
}

/*
 * Make the connection again: PQreset with backoff (50 ms doubling to
 * 1 s) until it works or reconnect_ms passed.  0 or -BERR_DB.
 */
static int
reconnect(struct pg *pg, const char *what, char **cause)
{
	int64_t deadline = clock_mono_ms() + pg->reconnect_ms;
	long delay = 50;
	struct timespec ts;

	for (;;) {
		PQreset(pg->conn);
		prep_clear(pg);
		if (PQstatus(pg->conn) == CONNECTION_OK &&
		    setup_session(pg, pg->busy_ms) == 0 && relisten(pg) == 0)
			return 0;
		if (clock_mono_ms() + delay > deadline)
			break;
		ts.tv_sec = delay / 1000;
		ts.tv_nsec = (delay % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		if ((delay *= 2) > 1000)
			delay = 1000;
	}
	return fail(pg, NULL, what, cause);
}

/* ---- statements ---- */

static void txn_clear(struct pg *);
static void dq_drop(struct pg *, size_t);
static int pg_settle(struct pg *, char **);

/* FNV-1a over what a statement answered: rows, values, rows changed;
 * not the columns named unchecked_… (a sequence's next value, a count
 * of others' rows: a replay gets other ones, and uses what it logged). */
static uint64_t
result_hash(const PGresult *res)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	int r, c, nr = PQntuples(res), nc = PQnfields(res);
	const char *s;

#define MIX(ch) (h = (h ^ (unsigned char)(ch)) * UINT64_C(0x100000001b3))
	for (s = PQcmdTuples((PGresult *)res); *s; s++)
		MIX(*s);
	while (nc > 0 &&
	       strncmp(PQfname((PGresult *)res, nc - 1), "unchecked_", 10) == 0)
		nc--;
	for (r = 0; r < nr; r++) {
		for (c = 0; c < nc; c++) {
			MIX(PQgetisnull(res, r, c) ? 1 : 2);
			for (s = PQgetvalue(res, r, c); *s; s++)
				MIX(*s);
			MIX(0);
		}
	}
#undef MIX
	return h;
}

/* Log a statement that answered res; sql and v are the log's now. */
static void
log_add(struct pg *pg, char *sql, int n, char **v, const PGresult *res)
{
	struct pg_logged *l;

	if (pg->nlog == pg->caplog) {
		pg->caplog = pg->caplog ? pg->caplog * 2 : 16;
		pg->log = xreallocarray(pg->log, pg->caplog, sizeof *pg->log);
	}
	l = &pg->log[pg->nlog++];
	l->sql = sql;
	l->n = n;
	l->v = v;
	l->hash = result_hash(res);
	l->ret_id = NULL;
	l->ids_param = 0;
	if (strncmp(sql, "INSERT INTO ", 12) == 0 &&
	    strstr(sql, "RETURNING id") != NULL && PQntuples(res) == 1 &&
	    PQnfields(res) == 1)
		l->ret_id = xstrdup(PQgetvalue(res, 0, 0));
}

static void
log_push_v(struct pg *pg, const char *sql, int n, const char *const *v,
	   const PGresult *res)
{
	char **own = n ? xcalloc((size_t)n, sizeof *own) : NULL;
	int i;

	for (i = 0; i < n; i++)
		own[i] = xstrdup_or_null(v[i]);
	log_add(pg, xstrdup(sql), n, own, res);
}

void
pg_log_ids(struct pg *pg, size_t at, int param, const char *ids)
{
	struct pg_logged *l;

	if (!pg->in_txn || at >= pg->nlog)
		return;
	l = &pg->log[at];
	free(l->ret_id);
	l->ret_id = xstrdup(ids);
	l->ids_param = param;
}

static void
log_clear(struct pg *pg)
{
	size_t i;
	int j;

	for (i = 0; i < pg->nlog; i++) {
		for (j = 0; j < pg->log[i].n; j++)
			free(pg->log[i].v[j]);
		free(pg->log[i].v);
		free(pg->log[i].sql);
		free(pg->log[i].ret_id);
	}
	pg->nlog = 0;
}

/* 1 if s has a byte outside ASCII (it may not be valid UTF-8). */
static int
non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/*
 * Run sql by the name it was prepared under (struct pg_prep): prepared
 * the second time it is seen.  A failed PQprepare answers as the
 * statement would have (the same parse, the same locks).  Past
 * PG_PREP_MAX texts (statements built with values in them), unnamed.
 */
static struct pg_prep *
prep_find(struct pg *pg, const char *sql, char *name, size_t size)
{
	uint64_t h = text_hash(sql);
	size_t i;

	for (i = 0; i < pg->nprep; i++) {
		if (pg->prep[i].hash == h &&
		    strcmp(pg->prep[i].sql, sql) == 0) {
			snprintf(name, size, "b%zu", i);
			return &pg->prep[i];
		}
	}
	if (pg->nprep < PG_PREP_MAX) {
		pg->prep[pg->nprep].hash = h;
		pg->prep[pg->nprep].sql = xstrdup(sql);
		pg->prep[pg->nprep].prepared = 0;
		pg->nprep++;
	}
	return NULL;
}

static PGresult *
exec_text(struct pg *pg, const char *sql, int n, const char *const *v)
{
	char name[24];
	struct pg_prep *p = prep_find(pg, sql, name, sizeof name);
	PGresult *res;

	if (p == NULL)
		return PQexecParams(pg->conn, sql, n, NULL, v, NULL, NULL, 0);
	if (!p->prepared) {
		res = PQprepare(pg->conn, name, sql, n, NULL);
		if (!result_ok(res))
			return res;
		PQclear(res);
		p->prepared = 1;
	}
	return PQexecPrepared(pg->conn, name, n, v, NULL, NULL, 0);
}

/*
 * exec_text() into a pipeline: sent, not waited for.  Answers how many
 * results it will give (2 if it is prepared first), -1 if it could not
 * be sent; *prep is the statement prepared with it (to forget again if
 * the PREPARE fails), or NULL.
 */
static int
send_text(struct pg *pg, const char *sql, int n, const char *const *v,
	  struct pg_prep **prep)
{
	char name[24];
	struct pg_prep *p = prep_find(pg, sql, name, sizeof name);
	int k = 1;

	*prep = NULL;
	if (p == NULL)
		return PQsendQueryParams(pg->conn, sql, n, NULL, v, NULL, NULL,
					 0)
			       ? 1
			       : -1;
	if (!p->prepared) {
		if (!PQsendPrepare(pg->conn, name, sql, n, NULL))
			return -1;
		p->prepared = 1;
		*prep = p;
		k = 2;
	}
	return PQsendQueryPrepared(pg->conn, name, n, v, NULL, NULL, 0) ? k
									: -1;
}

/*
 * Run sql.  PostgreSQL's text holds valid UTF-8 only, where SQLite keeps
 * any bytes: a parameter that is not valid UTF-8 (a prompt or a title
 * with stray bytes) has them replaced by U+FFFD, rather than the whole
 * statement refused.
 */
static PGresult *
run_or_send(struct pg *pg, const char *sql, int n, const char *const *v,
	    int *nres, struct pg_prep **prep)
{
	const char *vv[PG_MAX_PARAMS + 1];
	char *own[PG_MAX_PARAMS + 1];
	const char *const *use = v;
	PGresult *res = NULL;
	int i, k = 0;

	for (i = 0; i < n && i <= PG_MAX_PARAMS; i++) {
		vv[i] = v[i];
		if (v[i] == NULL || !non_ascii(v[i]))
			continue;
		own[k] = text_utf8_clean(v[i]);
		if (strcmp(own[k], v[i]) != 0)
			vv[i] = own[k];
		k++;
	}
	if (k > 0 && n <= PG_MAX_PARAMS + 1)
		use = vv;
	if (nres != NULL)
		*nres = send_text(pg, sql, n, use, prep);
	else
		res = exec_text(pg, sql, n, use);
	while (k-- > 0)
		free(own[k]);
	return res;
}

static PGresult *
run(struct pg *pg, const char *sql, int n, const char *const *v)
{
	return run_or_send(pg, sql, n, v, NULL, NULL);
}

/* What a transaction starts with: the write lock (or none) and its id.
 * After a BEGIN of its own in a pipeline (flush()), or with BEGIN in
 * one round trip (PQexec answers with the last statement's result, or
 * the first error). */
#define SQL_LOCK_WRITE                                                         \
	"SELECT pg_advisory_xact_lock(" BATON_LOCK ", " LOCK_WRITE             \
	"), txid_current()"
#define SQL_LOCK_SHARED                                                        \
	"SELECT pg_advisory_xact_lock_shared(" BATON_LOCK ", " LOCK_WRITE      \
	"), txid_current()"
#define SQL_LOCK_OWN "SELECT 0, txid_current()"
static const char sql_lock_write[] = SQL_LOCK_WRITE;
static const char sql_lock_shared[] = SQL_LOCK_SHARED;
static const char sql_lock_own[] = SQL_LOCK_OWN;
static const char sql_begin_write[] = "BEGIN; " SQL_LOCK_WRITE;
static const char sql_begin_shared[] = "BEGIN; " SQL_LOCK_SHARED;
static const char sql_begin_own[] = "BEGIN; " SQL_LOCK_OWN;

/* The open transaction's lock statement (struct pg's txn_lock), with
 * BEGIN before it or not. */
static const char *
lock_sql(const struct pg *pg, int with_begin)
{
	switch (pg->txn_lock) {
	case PG_LOCK_NONE:
		return with_begin ? sql_begin_own : sql_lock_own;
	case PG_LOCK_SHARED:
		return with_begin ? sql_begin_shared : sql_lock_shared;
	default:
		return with_begin ? sql_begin_write : sql_lock_write;
	}
}

/* BEGIN and the write lock on the current connection; *lost if the
 * connection broke meanwhile.  0 or -BERR_DB. */
static int
begin_raw(struct pg *pg, int *lost, char **cause)
{
	PGresult *res = PQexec(pg->conn, lock_sql(pg, 1));

	*lost = 0;
	if (!result_ok(res)) {
		*lost = PQstatus(pg->conn) == CONNECTION_BAD;
		fail(pg, res, "cannot begin transaction", cause);
		PQclear(res);
		if (!*lost) {
			PQclear(PQexec(pg->conn, "ROLLBACK"));
		}
		return -BERR_DB;
	}
	pg->xid = pg_i64(res, 0, 1);
	PQclear(res);
	return 0;
}

/* ---- reads ahead (struct pg_ahead) ---- */

static void
ahead_free(struct pg_ahead *a, int *n)
{
	while (*n > 0) {
		(*n)--;
		free(a[*n].key);
		PQclear(a[*n].res);
	}
}

/* A transaction ends: the reads ahead go, sent or not. */
static void
ahead_clear(struct pg *pg)
{
	ahead_free(pg->ahead, &pg->nahead);
	ahead_free(pg->want, &pg->nwant);
}

/* sql changes nothing a read ahead answered: a savepoint's statement. */
static int
keeps_ahead(const char *sql)
{
	return strncmp(sql, "SAVEPOINT ", 10) == 0 ||
	       strncmp(sql, "RELEASE ", 8) == 0;
}

int64_t
pg_take_run_id(struct pg *pg, int64_t epoch)
{
	int64_t id = pg->run_id_next;

	if (id == 0 || !pg_holds_back(pg, epoch))
		return 0;
	pg->run_id_next = 0;
	return id;
}

void
pg_read_ahead(struct pg *pg, const char *sql, const char *key)
{
	if (!pg->in_txn || !pq_pipeline() || pg->nwant == PG_AHEAD_MAX)
		return;
	pg->want[pg->nwant].sql = sql;
	pg->want[pg->nwant].key = xstrdup_or_null(key);
	pg->want[pg->nwant].res = NULL;
	pg->want[pg->nwant].made = 0;
	pg->nwant++;
}

static void
keep(struct pg *pg, const char *sql, const char *key, PGresult *res, int made)
{
	if (!pg->in_txn || pg->nahead == PG_AHEAD_MAX || key == NULL) {
		PQclear(res);
		return;
	}
	pg->ahead[pg->nahead].sql = sql;
	pg->ahead[pg->nahead].key = xstrdup(key);
	pg->ahead[pg->nahead].res = res;
	pg->ahead[pg->nahead].made = made;
	pg->nahead++;
}

void
pg_keep(struct pg *pg, const char *sql, const char *key, PGresult *res)
{
	keep(pg, sql, key, res, 0);
}

void
pg_keep_made(struct pg *pg, const char *sql, const char *key, PGresult *res)
{
	keep(pg, sql, key, res, 1);
}

int
pg_kept_save(struct pg *pg, struct pg_ahead *saved)
{
	int i = 0, n = 0;

	while (i < pg->nahead) {
		if (!pg->ahead[i].made) {
			i++;
			continue;
		}
		saved[n++] = pg->ahead[i];
		pg->ahead[i] = pg->ahead[--pg->nahead];
	}
	return n;
}

void
pg_kept_restore(struct pg *pg, struct pg_ahead *saved, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (saved[i].res != NULL)
			keep(pg, saved[i].sql, saved[i].key, saved[i].res, 1);
		free(saved[i].key);
	}
}

void
pg_kept_free(struct pg_ahead *saved, int n)
{
	while (n-- > 0) {
		PQclear(saved[n].res);
		free(saved[n].key);
	}
}

int
pg_set_value(PGresult *res, int col, const char *v)
{
	char *clean;
	int ok;

	if (v == NULL)
		return PQsetvalue(res, 0, col, NULL, -1);
	/* as the server stores it (run_or_send()) */
	clean = non_ascii(v) ? text_utf8_clean(v) : NULL;
	if (clean != NULL)
		v = clean;
	ok = PQsetvalue(res, 0, col, (char *)v, (int)strlen(v));
	free(clean);
	return ok;
}

PGresult *
pg_made_row(struct pg *pg, int ncols)
{
	PGresAttDesc d[PG_MAX_PARAMS] = {0};
	PGresult *res;
	int i;

	if (ncols > PG_MAX_PARAMS)
		return NULL;
	for (i = 0; i < ncols; i++)
		d[i].name = (char *)"";
	if ((res = PQmakeEmptyPGresult(pg->conn, PGRES_TUPLES_OK)) == NULL)
		oom();
	if (!PQsetResultAttrs(res, ncols, d)) {
		PQclear(res);
		return NULL;
	}
	return res;
}

void
pg_picked_clear(struct pg *pg)
{
	PQclear(pg->picked);
	pg->picked = NULL;
	pg->picked_id = 0;
	pg->picked_epoch = 0;
}

/* The answer read ahead for sql with q, taken (the caller's now), or
 * NULL; *made: it was made, not read (pg_keep_made()). */
static PGresult *
ahead_take(struct pg *pg, const char *sql, const struct pgq *q, int *made)
{
	PGresult *res;
	int i;

	const char *key = q != NULL && q->n == 1 ? q->v[0] : NULL;

	if (q != NULL && q->n > 1)
		return NULL;
	for (i = 0; i < pg->nahead; i++) {
		if (pg->ahead[i].sql != sql ||
		    (key == NULL) != (pg->ahead[i].key == NULL) ||
		    (key != NULL && strcmp(pg->ahead[i].key, key) != 0))
			continue;
		res = pg->ahead[i].res;
		*made = pg->ahead[i].made;
		free(pg->ahead[i].key);
		pg->ahead[i] = pg->ahead[--pg->nahead];
		return res;
	}
	return NULL;
}

/* ---- deferred writes (struct pg_deferred) ---- */

/* At most this many wait for the next statement; more are flushed. */
#define PG_DEFER_MAX 48

static void
dq_push(struct pg *pg, char *sql, const struct pgq *q, const char *what,
	int fenced, int again)
{
	struct pg_deferred *d;
	int i;

	if (!keeps_ahead(sql))
		ahead_free(pg->ahead, &pg->nahead); /* maybe stale now */
	if (pg->ndq == pg->capdq) {
		pg->capdq = pg->capdq ? pg->capdq * 2 : 16;
		pg->dq = xreallocarray(pg->dq, pg->capdq, sizeof *pg->dq);
	}
	d = &pg->dq[pg->ndq++];
	d->sql = sql;
	d->n = q != NULL ? q->n : 0;
	d->v = d->n ? xcalloc((size_t)d->n, sizeof *d->v) : NULL;
	for (i = 0; i < d->n; i++)
		d->v[i] = xstrdup_or_null(q->v[i]);
	d->what = xstrdup(what != NULL ? what : "");
	d->fenced = fenced;
	d->base = NULL;
	d->cte = NULL;
	d->extra = NULL;
	d->joined = 0;
	d->again = again;
}

/* Forget the first n of the queue (run, or never to be). */
static void
dq_drop(struct pg *pg, size_t n)
{
	size_t i;
	int j;

	for (i = 0; i < n && i < pg->ndq; i++) {
		for (j = 0; j < pg->dq[i].n; j++)
			free(pg->dq[i].v[j]);
		free(pg->dq[i].v);
		free(pg->dq[i].sql);
		free(pg->dq[i].what);
		free(pg->dq[i].extra);
	}
	if (n > pg->ndq)
		n = pg->ndq;
	if (n == 0)
		return;
	memmove(pg->dq, pg->dq + n, (pg->ndq - n) * sizeof *pg->dq);
	pg->ndq -= n;
}

/* Log deferred write d, which answered res: its text and parameters
 * move to the log (dq_drop() then has nothing of them to free). */
static void
log_take(struct pg *pg, struct pg_deferred *d, const PGresult *res)
{
	log_add(pg, d->sql, d->n, d->v, res);
	d->sql = NULL;
	d->v = NULL;
	d->n = 0;
}

/* A fenced write held back: it fails in the server when it changes no
 * row (do_fenced()).  extra: an event's CTE (join_events()), or NULL;
 * f2: a second fenced write's CTEs, "f2 AS (…)…", whose changing no row
 * fails it too (join_fenced()), or NULL. */
static char *
fence_wrap(const char *sql, const char *cte, const char *extra, const char *f2)
{
	return xasprintf("WITH fence AS (%s RETURNING 1)%s%s%s%s%s "
			 "SELECT 1 / count(*)%s FROM fence",
			 sql, cte != NULL ? cte : "", extra != NULL ? ", " : "",
			 extra != NULL ? extra : "", f2 != NULL ? ", " : "",
			 f2 != NULL ? f2 : "",
			 f2 != NULL ? " + (SELECT 1 / count(*) FROM f2)" : "");
}

/* dq[i] joins dq[i - 1] in statement sql (the caller's now): the
 * parameters of the first of them (dq[i] if e_first) then the other's
 * are dq[i - 1]'s; dq[i] goes. */
static void
dq_join(struct pg *pg, size_t i, int e_first, char *sql)
{
	struct pg_deferred *p = &pg->dq[i - 1], *e = &pg->dq[i];
	struct pg_deferred *a = e_first ? e : p, *b = e_first ? p : e;
	char **v = xcalloc((size_t)(a->n + b->n), sizeof *v);
	int j;

	for (j = 0; j < a->n; j++)
		v[j] = a->v[j];
	for (j = 0; j < b->n; j++)
		v[a->n + j] = b->v[j];
	p->n = a->n + b->n;
	free(p->v);
	p->v = v;
	free(p->sql);
	p->sql = sql;
	free(e->v);
	free(e->sql);
	free(e->what);
	free(e->extra);
	memmove(e, e + 1, (pg->ndq - i - 1) * sizeof *e);
	pg->ndq--;
}

/* ---- events joined to the write before them ---- */

/* An event of its own (store_event()): a row of a table nothing reads
 * or changes in the same transaction, with no foreign key. */
#define EVENT_VALUES                                                           \
	"INSERT INTO events (at, kind, session_id, task_id, run_id, "          \
	"runner_id, detail) VALUES ("

static int
is_event(const struct pg_deferred *d)
{
	return !d->fenced && d->extra == NULL && d->sql != NULL &&
	       strncmp(d->sql, EVENT_VALUES, sizeof EVENT_VALUES - 1) == 0;
}

/* d can take an event's CTE: a fenced write (in its WITH), or a plain
 * INSERT, UPDATE or DELETE — one event a statement, since the CTEs of
 * one statement run in no set order, and events keep theirs (ids). */
static int
takes_cte(const struct pg_deferred *d)
{
	return d->sql != NULL && d->extra == NULL && !d->joined &&
	       (d->fenced || strncmp(d->sql, "INSERT ", 7) == 0 ||
		strncmp(d->sql, "UPDATE ", 7) == 0 ||
		strncmp(d->sql, "DELETE ", 7) == 0);
}

/* sql with each parameter $k as $(k + off). */
static char *
renumber(const char *sql, int off)
{
	struct strbuf b;
	const char *s = sql;
	char *end;
	long k;
	size_t run;

	strbuf_init(&b);
	while (*s != '\0') {
		if (s[0] == '$' && s[1] >= '0' && s[1] <= '9') {
			k = strtol(s + 1, &end, 10);
			strbuf_addf(&b, "$%ld", k + off);
			s = end;
		} else {
			/* up to the next '$': in one piece */
			run = strcspn(s + 1, "$") + 1;
			strbuf_add(&b, s, run);
			s += run;
		}
	}
	return strbuf_detach(&b);
}

/*
 * Before a pipeline is sent: an event held back right after another
 * held-back write goes into that write's statement as a CTE ("WITH ev
 * AS (INSERT INTO events …)"), its parameters after the write's: one
 * statement instead of two (the temp session's create and close events
 * of a claim and an end).  A failure of either fails the one statement,
 * as it would have failed the transaction.  A joined entry takes no
 * pg_amend_held() after (its parameters' order).
 */
static void
join_events(struct pg *pg)
{
	struct pg_deferred *p, *e;
	size_t i = 1;
	char *ev, *sql;

	while (i < pg->ndq) {
		p = &pg->dq[i - 1];
		e = &pg->dq[i];
		if (!is_event(e) || !takes_cte(p) ||
		    p->n + e->n > PG_MAX_PARAMS) {
			i++;
			continue;
		}
		ev = renumber(e->sql, p->n);
		p->extra = xasprintf("ev AS (%s)", ev);
		free(ev);
		sql = p->fenced ? fence_wrap(p->base, p->cte, p->extra, NULL)
				: xasprintf("WITH %s %s", p->extra, p->sql);
		dq_join(pg, i, 0, sql);
	}
}

/* The table a fenced UPDATE changes (its first word after UPDATE), into
 * buf; 0 if it is not one. */
static int
updated_table(const struct pg_deferred *d, char *buf, size_t len)
{
	const char *s, *t;

	if (!d->fenced || d->base == NULL || d->joined ||
	    strncmp(d->base, "UPDATE ", 7) != 0)
		return 0;
	s = d->base + 7;
	t = strchr(s, ' ');
	if (t == NULL || (size_t)(t - s) >= len)
		return 0;
	memcpy(buf, s, (size_t)(t - s));
	buf[t - s] = '\0';
	return 1;
}

/*
 * After join_events(): two fenced UPDATEs held back side by side, of
 * different tables, go into one statement — "WITH fence AS (…), f2 AS
 * (… RETURNING 1) SELECT 1 / count(*) + (SELECT 1 / count(*) FROM f2)
 * FROM fence" — so that either changing no row fails the one statement
 * as a lost lease.  Different tables: never one row twice in a
 * statement, and with nothing read between them their order is
 * nobody's business.  The one with a CTE of its own (the chain link,
 * which reads "fence") comes first; the other may have an event's.  The
 * run's end with the session's head and usage, the task's end with the
 * session's release: two statements instead of four.
 */
static void
join_fenced(struct pg *pg)
{
	struct pg_deferred *p, *e, *a, *b;
	char tp[32], te[32], *body, *ev, *f2, *sql;
	size_t i = 1;

	while (i < pg->ndq) {
		p = &pg->dq[i - 1];
		e = &pg->dq[i];
		if (!updated_table(p, tp, sizeof tp) ||
		    !updated_table(e, te, sizeof te) || strcmp(tp, te) == 0 ||
		    (p->cte != NULL && e->cte != NULL) || p->again ||
		    e->again || p->n + e->n > PG_MAX_PARAMS) {
			i++;
			continue;
		}
		/* a first, its parameters first; b after, as f2 */
		a = e->cte != NULL ? e : p;
		b = a == e ? p : e;
		body = renumber(b->base, a->n);
		ev = b->extra != NULL ? renumber(b->extra, a->n) : NULL;
		f2 = xasprintf("f2 AS (%s RETURNING 1)%s%s", body,
			       ev != NULL ? ", ev2" : "",
			       ev != NULL ? ev + 2 : "");
		sql = fence_wrap(a->base, a->cte, a->extra, f2);
		free(body);
		free(ev);
		free(f2);
		/* p is the joined statement now: nothing more joins it */
		free(p->extra);
		p->extra = NULL;
		p->base = NULL;
		p->cte = NULL;
		p->joined = 1;
		dq_join(pg, i, a == e, sql);
		i++;
	}
}

int
pg_amend_held(struct pg *pg, const char *was, const char *sql,
	      const struct pgq *q, int notify)
{
	struct pg_deferred *d = NULL;
	const char *key = q->n > 0 ? q->v[0] : NULL;
	size_t i, k;
	int j;

	if (pg->txn_err != 0 || key == NULL)
		return 0;
	for (i = pg->ndq; i-- > 0;) {
		d = &pg->dq[i];
		/* joined ones are past amending: their parameters' order */
		if (d->base == was && d->extra == NULL && !d->joined &&
		    d->n >= 1 && d->v[0] != NULL && strcmp(d->v[0], key) == 0)
			break;
	}
	if (i == (size_t)-1 || d->n + q->n - 1 > PG_MAX_PARAMS)
		return 0;
	/* no savepoint between: a ROLLBACK TO may not part them */
	for (k = i + 1; k < pg->ndq; k++)
		if (!pg->dq[k].fenced &&
		    strncmp(pg->dq[k].sql, "SAVEPOINT ", 10) == 0)
			return 0;
	free(d->sql);
	pg->notify_owed |= notify;
	d->sql = d->fenced ? fence_wrap(sql, d->cte, NULL, NULL) : xstrdup(sql);
	d->base = sql;
	d->v = xreallocarray(d->v, (size_t)(d->n + q->n - 1), sizeof *d->v);
	for (j = 1; j < q->n; j++)
		d->v[d->n + j - 1] = xstrdup_or_null(q->v[j]);
	d->n += q->n - 1;
	return 1;
}

/* The transaction's failure (struct pg, txn_err), told again. */
static int
sticky(struct pg *pg, char **cause)
{
	*cause = xstrdup(pg->txn_cause);
	pg->busy = pg->txn_busy;
	return pg->txn_err;
}

static void
sticky_clear(struct pg *pg)
{
	pg->txn_err = 0;
	free(pg->txn_cause);
	pg->txn_cause = NULL;
	pg->txn_busy = 0;
}

/* Deferred write d failed with res: the transaction's failure now.  A
 * fenced write that changed no row divided by zero (pg_do_fenced()). */
static void
deferred_fail(struct pg *pg, const struct pg_deferred *d, const PGresult *res)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (pg->txn_err != 0)
		return;
	if (d->fenced && code != NULL && strcmp(code, "22012") == 0) {
		pg->txn_cause = xasprintf("%s: lost lease", d->what);
		pg->txn_err = -BERR_LEASE;
		pg->txn_busy = 0;
		return;
	}
	pg->txn_err = fail(pg, res, d->what, &pg->txn_cause);
	pg->txn_busy = pg->busy;
}

/* r failed because the connection went (or is going: a FATAL error,
 * "terminating connection due to administrator command", comes before
 * libpq sees the socket close). */
static int
conn_gone(struct pg *pg, const PGresult *r)
{
	const char *sev =
		r != NULL ? PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED)
			  : NULL;

	return PQstatus(pg->conn) == CONNECTION_BAD ||
	       (sev != NULL &&
		(strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0));
}

/* The results of one statement of a pipeline: the first failure, or
 * the last result; NULL if the connection broke. */
static PGresult *
take(struct pg *pg, int nres, struct pg_prep *prep)
{
	PGresult *keep = NULL, *r, *end;
	int i, guard;

	for (i = 0; i < nres; i++) {
		if ((r = PQgetResult(pg->conn)) == NULL) {
			PQclear(keep);
			return NULL;
		}
		/* each statement's results end with a NULL */
		for (guard = 0;
		     guard < 8 && (end = PQgetResult(pg->conn)) != NULL;
		     guard++)
			PQclear(end);
		if (i == 0 && nres == 2 && !result_ok(r) && prep != NULL)
			prep->prepared = 0; /* its PREPARE failed */
		if (keep == NULL || result_ok(keep)) {
			PQclear(keep);
			keep = r;
		} else {
			PQclear(r);
		}
	}
	return keep;
}

/* Leave pipeline mode after a failure: whatever is left is dropped. */
static void
pipeline_abandon(struct pg *pg)
{
	PGresult *r;
	int guard;

	for (guard = 0; guard < 4 * PG_DEFER_MAX; guard++) {
		if ((r = PQgetResult(pg->conn)) == NULL &&
		    PQexitPipelineMode(pg->conn))
			return;
		if (r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC &&
		    (PQclear(r), PQexitPipelineMode(pg->conn)))
			return;
		if (r != NULL)
			PQclear(r);
		if (PQstatus(pg->conn) == CONNECTION_BAD)
			return;
	}
}

/* The answers of a BEGIN sent with the first statement (flush()): the
 * transaction's id, or its failure (a lock timeout: busy).  0, or 1 if
 * the connection broke. */
static int
begun(struct pg *pg, const int *bres, struct pg_prep **bprep)
{
	PGresult *r;
	int i;

	for (i = 0; i < 2; i++) {
		if ((r = take(pg, bres[i], bprep[i])) == NULL)
			return 1;
		if (result_ok(r)) {
			if (i == 1)
				pg->xid = pg_i64(r, 0, 1);
		} else if (PQresultStatus(r) != PGRES_PIPELINE_ABORTED) {
			if (conn_gone(pg, r)) {
				PQclear(r);
				return 1;
			}
			if (pg->txn_err == 0) {
				pg->txn_err =
					fail(pg, r, "cannot begin transaction",
					     &pg->txn_cause);
				pg->txn_busy = pg->busy;
			}
		}
		PQclear(r);
	}
	pg->begin_pending = 0;
	return 0;
}

/* What one flush() sent: how many results each statement gives, the
 * statements it prepared on the way. */
struct pipe {
	int bres[2], nres[PG_DEFER_MAX + 2], wres[PG_AHEAD_MAX], tres;
	struct pg_prep *bprep[2], *prep[PG_DEFER_MAX + 2];
	struct pg_prep *wprep[PG_AHEAD_MAX], *tprep;
	const char *trailer; /* sent last, its answer not asked for */
	struct pg_ahead want[PG_AHEAD_MAX];
	int nw;
	size_t done; /* deferred writes answered */
	int gone;    /* the connection went */
};

/* Send a pending BEGIN, the deferred writes, sql, the reads ahead and
 * the trailer, and the sync.  0 or -1. */
static int
pipe_send(struct pg *pg, struct pipe *p, const char *sql, int n,
	  const char *const *v)
{
	size_t i, nd = pg->ndq;
	int k;

	if (!PQenterPipelineMode(pg->conn))
		return -1;
	if (pg->begin_pending) {
		run_or_send(pg, "BEGIN", 0, NULL, &p->bres[0], &p->bprep[0]);
		run_or_send(pg, lock_sql(pg, 0), 0, NULL, &p->bres[1],
			    &p->bprep[1]);
		if (p->bres[0] < 0 || p->bres[1] < 0)
			return -1;
	}
	for (i = 0; i < nd; i++) {
		const struct pg_deferred *d = &pg->dq[i];

		run_or_send(pg, d->sql, d->n, (const char *const *)d->v,
			    &p->nres[i], &p->prep[i]);
		if (p->nres[i] < 0)
			return -1;
	}
	if (sql != NULL) {
		run_or_send(pg, sql, n, v, &p->nres[nd], &p->prep[nd]);
		if (p->nres[nd] < 0)
			return -1;
	}
	for (k = 0; k < p->nw; k++) {
		const char *key = p->want[k].key;

		run_or_send(pg, p->want[k].sql, key != NULL, &key, &p->wres[k],
			    &p->wprep[k]);
		if (p->wres[k] < 0)
			return -1;
	}
	if (p->trailer != NULL) {
		run_or_send(pg, p->trailer, 0, NULL, &p->tres, &p->tprep);
		if (p->tres < 0)
			return -1;
	}
	return PQpipelineSync(pg->conn) ? 0 : -1;
}

/* The deferred writes' answers: logged, or the transaction's failure.
 * 0, or -1 if the connection broke (p->done say how far it came). */
static int
pipe_read_writes(struct pg *pg, struct pipe *p)
{
	PGresult *r;
	size_t i;

	for (i = 0; i < pg->ndq; i++) {
		if ((r = take(pg, p->nres[i], p->prep[i])) == NULL)
			return -1;
		if (result_ok(r)) {
			log_take(pg, &pg->dq[i], r);
		} else if (PQresultStatus(r) != PGRES_PIPELINE_ABORTED) {
			if (conn_gone(pg, r)) {
				p->gone = 1;
				PQclear(r);
				return -1;
			}
			deferred_fail(pg, &pg->dq[i], r);
		}
		PQclear(r);
		p->done = i + 1;
	}
	return 0;
}

/* Keep the reads ahead that answered (after sql answered, ok). */
static void
pipe_keep(struct pg *pg, struct pipe *p, int ok)
{
	int i;

	for (i = 0; i < p->nw; i++) {
		if (ok && result_ok(p->want[i].res) &&
		    pg->nahead < PG_AHEAD_MAX) {
			pg->ahead[pg->nahead++] = p->want[i];
		} else {
			free(p->want[i].key);
			PQclear(p->want[i].res);
		}
	}
	p->nw = 0;
}

/*
 * Send the deferred writes and sql (if not NULL) in one pipeline and
 * read their answers: the writes are logged (for a replay) and dropped
 * from the queue, *out is sql's result.  trailer (or NULL): a statement
 * sent after them all whose failure changes nothing (pg_commit()'s
 * NOTIFY).  0; -1 if a write failed (the transaction's failure:
 * sticky()); 1 if the connection broke: the writes not yet answered
 * stay queued for recover_txn().
 */
static int
flush_then(struct pg *pg, const char *sql, int n, const char *const *v,
	   PGresult **out, const char *trailer)
{
	struct pipe p = {.trailer = trailer};
	PGresult *r = NULL, *sync;
	int k;

	if (out != NULL)
		*out = NULL;
	join_events(pg);
	join_fenced(pg);
	if (sql != NULL) {
		/* the reads ahead go after sql */
		p.nw = pg->nwant;
		memcpy(p.want, pg->want, sizeof p.want);
		pg->nwant = 0;
	}
	if (pipe_send(pg, &p, sql, n, v) != 0 ||
	    (pg->begin_pending && (p.gone = begun(pg, p.bres, p.bprep)) != 0) ||
	    pipe_read_writes(pg, &p) != 0)
		goto broke;
	if (sql != NULL &&
	    ((r = take(pg, p.nres[pg->ndq], p.prep[pg->ndq])) == NULL ||
	     (!result_ok(r) && (p.gone = conn_gone(pg, r)))))
		goto broke;
	for (k = 0; k < p.nw; k++) {
		if ((p.want[k].res = take(pg, p.wres[k], p.wprep[k])) == NULL)
			goto broke;
		if (!result_ok(p.want[k].res) &&
		    PQresultStatus(p.want[k].res) != PGRES_PIPELINE_ABORTED &&
		    pg->txn_err == 0) {
			/* it aborted the transaction: as a write would */
			pg->txn_err = fail(pg, p.want[k].res, "cannot read",
					   &pg->txn_cause);
			pg->txn_busy = pg->busy;
		}
	}
	/* the trailer's answer: whatever it is, read past */
	if (trailer != NULL) {
		if ((sync = take(pg, p.tres, p.tprep)) == NULL)
			goto broke;
		PQclear(sync);
	}
	sync = PQgetResult(pg->conn);
	k = sync != NULL && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
	PQclear(sync);
	if (!k || !PQexitPipelineMode(pg->conn))
		goto broke;
	dq_drop(pg, pg->ndq);
	k = pg->txn_err == 0 && result_ok(r);
	pipe_keep(pg, &p, k);
	if (pg->txn_err != 0) {
		PQclear(r);
		return -1;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return 0;
broke:
	PQclear(r);
	pipe_keep(pg, &p, 0);
	dq_drop(pg, p.done);
	pipeline_abandon(pg);
	if (p.gone || PQstatus(pg->conn) == CONNECTION_BAD)
		return 1;
	if (pg->txn_err == 0) {
		pg->txn_err = fail(pg, NULL, "cannot send statements",
				   &pg->txn_cause);
		pg->txn_busy = 0;
	}
	return -1;
}

static int
flush(struct pg *pg, const char *sql, int n, const char *const *v,
      PGresult **out)
{
	return flush_then(pg, sql, n, v, out, NULL);
}

/*
 * Run a logged statement again.  An INSERT … RETURNING id gets the id it
 * had explicitly ("INSERT INTO t (id, …) VALUES ($N, …", or "… SELECT
 * $N, …"): every identity
 * column is GENERATED BY DEFAULT, and the id, taken by the lost
 * transaction, is no one else's.
 */
static PGresult *
replay_one(struct pg *pg, const struct pg_logged *l)
{
	const char *cols, *vals;
	const char **v;
	char *sql;
	PGresult *res;
	int i;

	if (l->ids_param > 0 && l->ids_param <= l->n) {
		/* a many-row INSERT: its ids array, filled in */
		v = xcalloc((size_t)l->n, sizeof *v);
		for (i = 0; i < l->n; i++)
			v[i] = i == l->ids_param - 1 ? l->ret_id : l->v[i];
		res = run(pg, l->sql, l->n, v);
		free(v);
		return res;
	}
	cols = l->ret_id != NULL ? strchr(l->sql, '(') : NULL;
	vals = cols != NULL ? strstr(cols, "VALUES (") : NULL;
	if (vals != NULL)
		vals += 8;
	else if (cols != NULL && (vals = strstr(cols, ") SELECT ")) != NULL)
		vals += 9; /* INSERT … SELECT …: a fenced run_insert */
	if (vals == NULL)
		return run(pg, l->sql, l->n, (const char *const *)l->v);
	sql = xasprintf("%.*sid, %.*s$%d, %s", (int)(cols + 1 - l->sql), l->sql,
			(int)(vals - (cols + 1)), cols + 1, l->n + 1, vals);
	v = xcalloc((size_t)l->n + 1, sizeof *v);
	for (i = 0; i < l->n; i++)
		v[i] = l->v[i];
	v[l->n] = l->ret_id;
	res = run(pg, sql, l->n + 1, v);
	free(v);
	free(sql);
	return res;
}

/* After a replay: the deferred writes not yet answered, run one by one
 * (logged as they answer).  0; 1 if the connection broke again; -1 if
 * one failed (sticky()). */
static int
drain(struct pg *pg)
{
	PGresult *res;

	while (pg->ndq > 0) {
		struct pg_deferred *d = &pg->dq[0];

		res = run(pg, d->sql, d->n, (const char *const *)d->v);
		if (result_ok(res)) {
			log_take(pg, d, res);
		} else if (PQstatus(pg->conn) == CONNECTION_BAD) {
			PQclear(res);
			return 1;
		} else {
			deferred_fail(pg, d, res);
			PQclear(res);
			dq_drop(pg, pg->ndq);
			return -1;
		}
		PQclear(res);
		dq_drop(pg, 1);
	}
	return 0;
}

/*
 * The connection broke inside a transaction: connect again, begin, and
 * replay the statements so far, each of which must answer as before,
 * then run the deferred writes not yet answered.  0 or a negated berr.
 */
static int
replay_txn(struct pg *pg, char **cause)
{
	PGresult *res = NULL;
	size_t i;
	int tries, lost = 0;

	for (tries = 0; tries < 5; tries++) {
		if (reconnect(pg, "connection to the database lost", cause))
			return -BERR_DB;
		pg->begin_pending = 0;
		if (begin_raw(pg, &lost, cause) != 0) {
			if (lost) {
				free(*cause);
				*cause = NULL;
				continue;
			}
			return -BERR_DB;
		}
		for (i = 0; i < pg->nlog; i++) {
			res = replay_one(pg, &pg->log[i]);
			if (!result_ok(res) ||
			    result_hash(res) != pg->log[i].hash)
				break;
			PQclear(res);
		}
		if (i == pg->nlog) {
			if ((lost = drain(pg)) == 0)
				return 0;
			if (lost < 0)
				return sticky(pg, cause);
			continue;
		}
		lost = PQstatus(pg->conn) == CONNECTION_BAD;
		if (!lost) {
			/* which statement, and how: for whoever reads why */
			const char *e =
				res != NULL
					? PQresultErrorField(
						  res, PG_DIAG_MESSAGE_PRIMARY)
					: NULL;
			char *how =
				xstrdup(result_ok(res) ? "it answered otherwise"
					: e != NULL    ? e
						       : "it failed");

			PQclear(res);
			PQclear(PQexec(pg->conn, "ROLLBACK"));
			/* as a serialization failure: the caller may run the
			 * whole transaction again (store_busy) */
			pg->busy = 1;
			*cause =
				xasprintf("connection to the database lost: "
					  "the transaction changed meanwhile "
					  "and was not replayed (statement "
					  "%zu of %zu, %.40s...: %s)",
					  i + 1, pg->nlog, pg->log[i].sql, how);
			free(how);
			return -BERR_DB;
		}
		PQclear(res);
	}
	*cause = xstrdup("connection to the database lost");
	return -BERR_DB;
}

/* replay_txn(), whose failure is the transaction's (struct pg, txn_err):
 * the new connection has no transaction open, so every later call —
 * a ROLLBACK TO, the COMMIT — must answer it, never succeed there. */
static int
recover_txn(struct pg *pg, char **cause)
{
	int rc = replay_txn(pg, cause);

	if (rc != 0 && pg->txn_err == 0) {
		pg->txn_err = rc;
		pg->txn_cause = xstrdup(*cause);
		pg->txn_busy = pg->busy;
	}
	return rc;
}

static int
is_read(const char *sql)
{
	return strncmp(sql, "SELECT", 6) == 0;
}

int
pg_exec(struct pg *pg, const char *sql, const struct pgq *q, PGresult **out,
	const char *what, char **cause)
{
	PGresult *res;
	int tries, rc, made = 0, n = q != NULL ? q->n : 0;
	const char *const *v = q != NULL ? q->v : NULL;

	if (out != NULL)
		*out = NULL;
	if (pg->in_txn && pg->txn_err != 0)
		return sticky(pg, cause);
	if (pg->nahead > 0 && out != NULL && is_read(sql) &&
	    (res = ahead_take(pg, sql, q, &made)) != NULL) {
		if (!made)
			log_push_v(pg, sql, n, v, res);
		*out = res;
		return 0;
	}
	if (!is_read(sql) && !keeps_ahead(sql)) {
		ahead_free(pg->ahead, &pg->nahead);
		pg->wseq++;
	}
	if (!pg->in_txn && !is_read(sql)) {
		/* A write of its own: a transaction, so that a lost answer
		 * can be told from a lost write. */
		if ((rc = pg_begin(&pg->base, cause)) != 0)
			return rc;
		if ((rc = pg_exec(pg, sql, q, out, what, cause)) == 0)
			rc = pg_commit(&pg->base, cause);
		if (rc != 0) {
			pg_rollback(&pg->base);
			if (out != NULL) {
				PQclear(*out);
				*out = NULL;
			}
		}
		return rc;
	}
	if (out == NULL && !is_read(sql) && pq_pipeline()) {
		/* no answer wanted: sent with the next one waited for */
		dq_push(pg, xstrdup(sql), q, what, 0, 0);
		pg->dq[pg->ndq - 1].base = sql;
		return pg->ndq < PG_DEFER_MAX ? 0 : pg_settle(pg, cause);
	}
	for (tries = 0;; tries++) {
		res = NULL;
		rc = 0;
		if (pg->ndq == 0 && pg->nwant == 0 && !pg->begin_pending)
			res = run(pg, sql, n, v);
		else if ((rc = flush(pg, sql, n, v, &res)) < 0)
			return sticky(pg, cause);
		if (result_ok(res))
			break;
		if ((rc == 0 && !conn_gone(pg, res)) || tries >= 5) {
			fail(pg, res, what, cause);
			PQclear(res);
			return -BERR_DB;
		}
		PQclear(res);
		rc = pg->in_txn ? recover_txn(pg, cause)
				: reconnect(pg, what, cause);
		if (rc != 0)
			return rc;
	}
	if (pg->in_txn)
		log_push_v(pg, sql, n, v, res);
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return 0;
}

/* Send the deferred writes now and wait for their answers.  0 or the
 * transaction's failure. */
static int
pg_settle(struct pg *pg, char **cause)
{
	int tries, rc;

	for (tries = 0; pg->ndq > 0; tries++) {
		if ((rc = flush(pg, NULL, 0, NULL, NULL)) < 0)
			return sticky(pg, cause);
		if (rc == 0)
			break;
		if (tries >= 5) {
			return fail(pg, NULL, "connection to the database lost",
				    cause);
		}
		if ((rc = recover_txn(pg, cause)) != 0)
			return rc;
	}
	return pg->txn_err != 0 ? sticky(pg, cause) : 0;
}

int
pg_count(struct pg *pg, const char *sql, const struct pgq *q, int64_t *n,
	 const char *what, char **cause)
{
	PGresult *res;
	int rc;

	if ((rc = pg_exec(pg, sql, q, &res, what, cause)) != 0)
		return rc;
	*n = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int
pg_do(struct pg *pg, const char *sql, const struct pgq *q, int64_t *changed,
      const char *what, char **cause)
{
	PGresult *res;
	int rc;

	if (changed == NULL)
		return pg_exec(pg, sql, q, NULL, what, cause);
	if ((rc = pg_exec(pg, sql, q, &res, what, cause)) != 0)
		return rc;
	*changed = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int
pg_holds_back(const struct pg *pg, int64_t epoch)
{
	return epoch != 0 && pg->in_txn && pq_pipeline();
}

/* cte: more of the WITH after the fence (held back only); notify: as
 * pg_do_fenced_notify(). */
static int
do_fenced(struct pg *pg, const char *sql, const char *cte, const struct pgq *q,
	  int64_t epoch, const char *what, int again, int notify, char **cause)
{
	int64_t changed = 0;
	int rc;

	if (pg_holds_back(pg, epoch)) {
		if (pg->txn_err != 0)
			return sticky(pg, cause);
		/* Deferred, it cannot say "no row" to its caller: it fails
		 * in the server instead, aborting the transaction, and the
		 * failure (22012) is told as a lost lease (deferred_fail). */
		pg->wseq++;
		dq_push(pg, fence_wrap(sql, cte, NULL, NULL), q, what, 1,
			again);
		pg->dq[pg->ndq - 1].base = sql;
		pg->dq[pg->ndq - 1].cte = cte;
		pg->notify_owed |= notify;
		return pg->ndq < PG_DEFER_MAX ? 0 : pg_settle(pg, cause);
	}
	if ((rc = pg_do(pg, sql, q, &changed, what, cause)) != 0)
		return rc;
	if (epoch != 0 && changed == 0) {
		*cause = xasprintf("%s: lost lease", what);
		return -BERR_LEASE;
	}
	return notify ? pg_notify_work(pg, cause) : 0;
}

int
pg_do_fenced(struct pg *pg, const char *sql, const struct pgq *q, int64_t epoch,
	     const char *what, char **cause)
{
	return do_fenced(pg, sql, NULL, q, epoch, what, 0, 0, cause);
}

int
pg_do_fenced_with(struct pg *pg, const char *sql, const char *cte,
		  const struct pgq *q, int64_t epoch, const char *what,
		  char **cause)
{
	return do_fenced(pg, sql, cte, q, epoch, what, 0, 0, cause);
}

int
pg_do_fenced_notify(struct pg *pg, const char *sql, const struct pgq *q,
		    int64_t epoch, const char *what, char **cause)
{
	return do_fenced(pg, sql, NULL, q, epoch, what, 0, 1, cause);
}

int
pg_do_fenced_again(struct pg *pg, const char *sql, const struct pgq *q,
		   int64_t epoch, const char *what, char **cause)
{
	return do_fenced(pg, sql, NULL, q, epoch, what, 1, 0, cause);
}

/* ---- transactions ---- */

/* pg_begin() taking lock (struct pg's txn_lock) rather than the whole
 * write lock; one already open keeps its own (pg_begin() refuses). */
static int
begin_with(struct pg *pg, int lock, char **cause)
{
	int rc;

	if (pg->in_txn)
		return pg_begin(&pg->base, cause);
	pg->txn_lock = lock;
	if ((rc = pg_begin(&pg->base, cause)) != 0)
		pg->txn_lock = PG_LOCK_WRITE;
	return rc;
}

/* A transaction that writes only this runner's own rows (its
 * heartbeat): no write lock, so that a client stopped while it holds the
 * lock cannot keep the others from proving they are alive. */
int
pg_begin_own(struct store *store, char **cause)
{
	return begin_with((struct pg *)store, PG_LOCK_NONE, cause);
}

/*
 * A claim, or a task's end and the next claim (store_begin_claim): the
 * write lock in shared mode, so that claims run side by side, each
 * locking its task row (FOR UPDATE SKIP LOCKED) and the session it
 * leases; every other write transaction takes the lock whole and so
 * waits for them, and they for it.  What the lock kept from racing:
 * - S6's queue order: the pick sees an earlier task of the queue
 *   pending or running until the transaction that ends it commits;
 * - a lease: the fenced UPDATE of a session waits for a claim leasing
 *   it beside, then finds it leased;
 * - S11's limit: pg_session_count_active();
 * - a named session made by two claims at once (a milestone's and a
 *   task's --session naming one): the second fails on the unique name,
 *   busy, and claims again.
 * A claim that fails busy (that, a deadlock) makes this connection's
 * next claims take the lock whole (claim_whole) until a count of the
 * sessions is far from the limit again.
 */
int
pg_begin_claim(struct store *store, char **cause)
{
	struct pg *pg = (struct pg *)store;
	int whole = pg->claim_whole != 0;

	pg->claim_whole &= ~PG_WHOLE_ONCE;
	return begin_with(pg, whole ? PG_LOCK_WRITE : PG_LOCK_SHARED, cause);
}

/*
 * S11 beside other claims.  A count in shared mode misses the sessions
 * the claims beside it are making, one each at most, and each of those
 * holds a connection: fewer than max_connections (beside).  So a count
 * that far below the limit holds: whatever the claims that counted
 * before this one and commit after it add, they were running beside it.
 * Nearer the limit the claim fails busy (core claims again at once) and
 * this connection's claims take the lock whole, where nothing runs
 * beside them and the count is exact, until one is that far again.
 */
int
pg_claim_limit(struct pg *pg, int64_t n, int64_t beside, int64_t limit,
	       char **cause)
{
	int near = n + beside >= limit;

	if (pg->in_txn && pg->txn_lock == PG_LOCK_WRITE) {
		if (near)
			pg->claim_whole |= PG_WHOLE_NEAR;
		else
			pg->claim_whole &= ~PG_WHOLE_NEAR;
	}
	if (!pg->in_txn || pg->txn_lock != PG_LOCK_SHARED || !near)
		return 0;
	pg->claim_whole |= PG_WHOLE_NEAR;
	pg->busy = 1;
	*cause = xasprintf("cannot create a session beside other claims: "
			   "%lld are active, sessions.max_active is %lld "
			   "and %lld connections may be claiming; claim "
			   "again alone",
			   (long long)n, (long long)limit, (long long)beside);
	return -BERR_DB;
}

int
pg_begin(struct store *store, char **cause)
{
	struct pg *pg = (struct pg *)store;
	int tries, lost;

	if (pg->in_txn) {
		*cause = xstrdup("cannot begin transaction: one is already "
				 "open");
		return -BERR_DB;
	}
	pg->busy = 0;
	pg->xid = 0;
	for (tries = 0; !pq_pipeline(); tries++) {
		if (begin_raw(pg, &lost, cause) == 0)
			break;
		if (!lost || tries >= 5)
			return -BERR_DB;
		free(*cause);
		*cause = NULL;
		if (reconnect(pg, "cannot begin transaction", cause) != 0)
			return -BERR_DB;
	}
	/* with pipelines, BEGIN goes with the first statement */
	pg->begin_pending = pq_pipeline();
	pg->notify_owed = 0;
	pg->in_txn = 1;
	txn_clear(pg);
	log_clear(pg);
	dq_drop(pg, pg->ndq);
	sticky_clear(pg);
	ahead_clear(pg);
	return 0;
}

static const char sql_notify[] = "NOTIFY baton_work";

/* The fate of transaction xid, asked after the COMMIT's answer was lost:
 * 1 committed, 0 not (aborted or unknown), -1 cannot tell. */
static int
committed(struct pg *pg)
{
	struct pgq q;
	PGresult *res;
	int rc = -1;

	pgq_init(&q);
	pgq_i64(&q, pg->xid);
	res = run(pg, "SELECT txid_status($1::bigint)", q.n, q.v);
	if (result_ok(res) && PQntuples(res) == 1) {
		if (pg_is(res, 0, 0, "committed"))
			rc = 1;
		else if (!pg_is(res, 0, 0, "in progress"))
			rc = 0;
	}
	PQclear(res);
	return rc;
}

static int
commit_lost(struct pg *pg, char **cause)
{
	PGresult *res;
	int tries, c;

	for (tries = 0; tries < 5; tries++) {
		if (reconnect(pg, "cannot commit", cause) != 0)
			return -BERR_DB;
		/* BEGIN's answer never came: its writes run twice as once
		 * (pg_commit), so run it again */
		c = pg->begin_pending ? 0 : committed(pg);
		if (c == 1) {
			dq_drop(pg, pg->ndq);
			return 0;
		}
		if (c == -1)
			continue;
		if ((c = recover_txn(pg, cause)) != 0)
			return c;
		res = PQexec(pg->conn, "COMMIT");
		if (result_ok(res) && strcmp(PQcmdStatus(res), "COMMIT") == 0) {
			PQclear(res);
			return 0;
		}
		if (PQstatus(pg->conn) != CONNECTION_BAD) {
			fail(pg, res, "cannot commit", cause);
			PQclear(res);
			return -BERR_DB;
		}
		PQclear(res);
	}
	*cause = xstrdup("cannot commit: connection to the database lost");
	return -BERR_DB;
}

/*
 * A transaction of this runner's own rows (pg_begin_own()) whose writes
 * may all run twice (the agent's pid) and were not sent yet: sent
 * without BEGIN and COMMIT, one implicit transaction up to the sync,
 * one statement a write instead of four in all.  An answer lost on the
 * way: the writes run again, in a transaction (commit_lost()).
 */
static int
commit_implicit(struct pg *pg, char **cause)
{
	int lost;

	pg->begin_pending = 0;
	lost = flush(pg, NULL, 0, NULL, NULL);
	pg->begin_pending = 1;
	if (lost < 0)
		return sticky(pg, cause);
	return lost == 0 ? 0 : commit_lost(pg, cause);
}

/* Every deferred write may run twice (pg_do_fenced_again()). */
static int
all_again(const struct pg *pg)
{
	size_t i;

	for (i = 0; i < pg->ndq; i++)
		if (!pg->dq[i].again)
			return 0;
	return 1;
}

int
pg_commit(struct store *store, char **cause)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res = NULL;
	const char *notify;
	int rc = 0, lost = 0;

	if (!pg->in_txn) {
		*cause = xstrdup("cannot commit: no transaction is open");
		return -BERR_DB;
	}
	if (pg->txn_err != 0) {
		rc = sticky(pg, cause);
		goto failed;
	}
	/* The deferred writes and the COMMIT: one round trip, unless
	 * BEGIN was not sent yet — the transaction's id, which tells
	 * whether a COMMIT whose answer was lost took effect, comes first,
	 * but for writes that may run twice (pg_do_fenced_again()). */
	if (pg->begin_pending && pg->ndq > 0 && pg->txn_lock == PG_LOCK_NONE &&
	    all_again(pg) && !pg->notify_owed) {
		if ((rc = commit_implicit(pg, cause)) != 0)
			goto failed;
		goto done;
	}
	if (pg->begin_pending && pg->ndq > 0 && !all_again(pg) &&
	    (rc = pg_settle(pg, cause)) != 0)
		goto failed;
	if (pg->begin_pending && pg->ndq == 0)
		goto done; /* nothing sent at all: nothing to commit */
	/* The NOTIFY after the COMMIT, not in the transaction: PostgreSQL
	 * holds a lock of the whole cluster from a notifying transaction's
	 * commit to its end, its WAL flush included, so notifying
	 * transactions would commit one at a time, each with a flush of its
	 * own.  Idle workers see the notice a statement later; a savepoint
	 * rolled back may leave it owed for nothing, which wakes them to
	 * find nothing more (pg_notify_work()). */
	notify = pg->notify_owed ? sql_notify : NULL;
	if (pg->ndq == 0 && (notify == NULL || !pq_pipeline()))
		res = PQexec(pg->conn, "COMMIT");
	else if ((lost = flush_then(pg, "COMMIT", 0, NULL, &res, notify)) < 0) {
		rc = sticky(pg, cause);
		goto failed;
	}
	if (!result_ok(res))
		rc = lost || conn_gone(pg, res)
			     ? commit_lost(pg, cause)
			     : fail(pg, res, "cannot commit", cause);
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		*cause = xstrdup("cannot commit: the transaction failed");
		rc = -BERR_DB;
	}
	PQclear(res);
	if (rc != 0)
		goto failed;
	if (notify != NULL && !pq_pipeline())
		PQclear(PQexec(pg->conn, notify));
done:
	pg->notify_owed = 0;
	pg->begin_pending = 0;
	pg->in_txn = 0;
	pg->txn_lock = PG_LOCK_WRITE;
	txn_clear(pg);
	log_clear(pg);
	ahead_clear(pg);
	pg->commits++;
	return 0;
failed:
	pg_rollback(store);
	return rc;
}

void
pg_rollback(struct store *store)
{
	struct pg *pg = (struct pg *)store;

	if (pg == NULL)
		return;
	pg->in_txn = 0;
	pg->begin_pending = 0;
	pg->notify_owed = 0;
	pg->txn_lock = PG_LOCK_WRITE;
	txn_clear(pg);
	log_clear(pg);
	dq_drop(pg, pg->ndq);
	sticky_clear(pg);
	ahead_clear(pg);
	if (PQstatus(pg->conn) == CONNECTION_OK &&
	    PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
}

uint64_t
pg_commits(const struct store *store)
{
	return ((const struct pg *)store)->commits;
}

int
pg_busy(const struct store *store)
{
	return ((const struct pg *)store)->busy;
}

/* PostgreSQL has no SQLite write-ahead log to watch or checkpoint: its
 * own WAL is the server's business. */
int
pg_wal(struct store *store, enum store_checkpoint mode, struct store_wal *w,
       char **cause)
{
	(void)store;
	(void)mode;
	(void)cause;
	memset(w, 0, sizeof *w);
	return 0;
}

const char *
pg_path(const struct store *store)
{
	return ((const struct pg *)store)->shown;
}

/*
 * Savepoints.  core's names map to the server's "s0", "s1", ...: a
 * savepoint made with no write since the newest server savepoint is
 * that one (the claim's "next" and "claim", with only reads between),
 * and a released one is forgotten here but left on the server until the
 * transaction ends (a RELEASE changes nothing a later ROLLBACK TO or
 * COMMIT needs).  So a claim costs one SAVEPOINT statement, not four.
 * A ROLLBACK TO also ends the savepoints made after it, here as there.
 */

/* A server savepoint's statement: "VERB s<level>".  wait: now, not held
 * back with the writes (pg_exec()). */
static int
exec_level(struct pg *pg, const char *verb, int level, int wait, char **cause)
{
	char *sql = xasprintf("%s s%d", verb, level), *c = NULL;
	PGresult *res = NULL;
	int rc;

	rc = pg_exec(pg, sql, NULL, wait ? &res : NULL, verb,
		     cause != NULL ? cause : &c);
	PQclear(res);
	free(sql);
	free(c);
	return rc;
}

/* A transaction ends: its savepoints with it, and what its pick read
 * (the run id it reserved, the sessions it counted). */
static void
txn_clear(struct pg *pg)
{
	pg->run_id_next = 0;
	pg->count_wseq = -1;
	pg_picked_clear(pg);
	while (pg->nsp > 0)
		free(pg->sp[--pg->nsp].name);
	pg->nsrv = 0;
	pg->wseq = 0;
}

/* The newest savepoint named name, or -1. */
static int
sp_find(const struct pg *pg, const char *name)
{
	int i;

	for (i = pg->nsp - 1; i >= 0; i--)
		if (strcmp(pg->sp[i].name, name) == 0)
			return i;
	return -1;
}

/* Forget savepoints i and after. */
static void
sp_pop(struct pg *pg, int i)
{
	while (pg->nsp > i)
		free(pg->sp[--pg->nsp].name);
}

int
pg_savepoint(struct store *store, const char *name, char **cause)
{
	struct pg *pg = (struct pg *)store;
	int level, rc;

	if (pg->nsrv > 0 && pg->srv_wseq[pg->nsrv - 1] == pg->wseq) {
		level = pg->nsrv - 1; /* nothing written since it was made */
	} else {
		/* the server's savepoints no name needs any more end first
		 * (one RELEASE ends them all), so that the server's stack is
		 * never deeper than ours */
		level = pg->nsp > 0 ? pg->sp[pg->nsp - 1].level + 1 : 0;
		if (level < pg->nsrv &&
		    (rc = exec_level(pg, "RELEASE", level, 0, cause)) != 0)
			return rc;
		pg->nsrv = level;
		if ((rc = exec_level(pg, "SAVEPOINT", level, 0, cause)) != 0)
			return rc;
		if (pg->nsrv == pg->capsrv) {
			pg->capsrv = pg->capsrv ? pg->capsrv * 2 : 8;
			pg->srv_wseq = xreallocarray(pg->srv_wseq, pg->capsrv,
						     sizeof *pg->srv_wseq);
		}
		pg->srv_wseq[pg->nsrv++] = pg->wseq;
	}
	if (pg->nsp == pg->capsp) {
		pg->capsp = pg->capsp ? pg->capsp * 2 : 8;
		pg->sp = xreallocarray(pg->sp, pg->capsp, sizeof *pg->sp);
	}
	pg->sp[pg->nsp].name = xstrdup(name);
	pg->sp[pg->nsp].level = level;
	pg->nsp++;
	return 0;
}

int
pg_savepoint_release(struct store *store, const char *name, char **cause)
{
	struct pg *pg = (struct pg *)store;
	int i = sp_find(pg, name);

	if (i < 0) {
		*cause = xasprintf("RELEASE: no savepoint \"%s\"", name);
		return -BERR_DB;
	}
	sp_pop(pg, i);
	return 0;
}

/* Back to the savepoint, whatever failed since (the transaction's
 * failure too, if it came after the savepoint: otherwise the savepoint
 * was never made, and ROLLBACK TO fails, keeping it). */
void
pg_savepoint_rollback(struct store *store, const char *name)
{
	struct pg *pg = (struct pg *)store;
	char *c = NULL, *why;
	int err, busy, i = sp_find(pg, name), level;

	if (i < 0)
		return; /* never made: the failure before it stands */
	level = pg->sp[i].level;
	sp_pop(pg, i);
	ahead_clear(pg);
	pg_picked_clear(pg); /* its lock may go with the savepoint */
	if (pg->ndq > 0 && pg_settle(pg, &c) != 0) {
		free(c);
		c = NULL;
	}
	err = pg->txn_err;
	busy = pg->txn_busy;
	why = pg->txn_cause;
	pg->txn_err = 0;
	pg->txn_cause = NULL;
	if (exec_level(pg, "ROLLBACK TO", level, 1, NULL) != 0) {
		if (err != 0) {
			/* not rolled back: the failure stands, as it was */
			pg->txn_err = err;
			pg->txn_cause = why;
			pg->txn_busy = busy;
			pg->busy = busy;
			why = NULL;
		}
	} else if (level < pg->nsrv) {
		/* as it was when made; the later ones are gone */
		pg->nsrv = level + 1;
		pg->srv_wseq[level] = pg->wseq;
	}
	free(why);
}

/* PostgreSQL checks its pages itself; here: can we read every table. */
int
pg_integrity_check(struct store *store, int *ok, char **report, char **cause)
{
	struct pg *pg = (struct pg *)store;
	static const char sql[] =
		"SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM "
		"runs), (SELECT count(*) FROM sessions), (SELECT count(*) "
		"FROM events), (SELECT count(*) FROM session_chain)";

	*ok = 0;
	*report = NULL;
	if (pg_do(pg, sql, NULL, NULL, "cannot check database integrity",
		  cause) != 0)
		return -BERR_DB;
	*ok = 1;
	return 0;
}

int
pg_vacuum(struct store *store, int64_t *before, int64_t *after, char **cause)
{
	struct pg *pg = (struct pg *)store;
	static const char size[] =
		"SELECT pg_database_size(current_database())";
	PGresult *res;
	int rc;

	*before = *after = 0;
	if (pg->in_txn) {
		*cause = xstrdup("cannot vacuum inside a transaction");
		return -BERR_DB;
	}
	if ((rc = pg_exec(pg, size, NULL, &res, "cannot vacuum", cause)) != 0)
		return rc;
	*before = pg_i64(res, 0, 0);
	PQclear(res);
	res = PQexec(pg->conn, "VACUUM");
	if (!result_ok(res)) {
		fail(pg, res, "cannot vacuum", cause);
		PQclear(res);
		return -BERR_DB;
	}
	PQclear(res);
	if ((rc = pg_exec(pg, size, NULL, &res, "cannot vacuum", cause)) != 0)
		return rc;
	*after = pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

/* ---- opening ---- */

static int
open_error(struct pg *pg, const PGresult *res, char **cause)
{
	char *m = pg_msg(pg, res);

	*cause = xasprintf("cannot open database %s: %s", pg->shown, m);
	free(m);
	return -BERR_DB;
}

/* The schema version (0: none yet), or -1 with *cause. */
static int64_t
read_version(struct pg *pg, char **cause)
{
	PGresult *res;
	int64_t v;

	res = PQexec(pg->conn,
		     "SELECT to_regclass('baton_schema') IS NOT NULL");
	if (!result_ok(res)) {
		open_error(pg, res, cause);
		PQclear(res);
		return -1;
	}
	v = pg_is(res, 0, 0, "t");
	PQclear(res);
	if (!v)
		return 0;
	res = PQexec(pg->conn, "SELECT coalesce(max(version), 0) FROM "
			       "baton_schema");
	if (!result_ok(res)) {
		open_error(pg, res, cause);
		PQclear(res);
		return -1;
	}
	v = pg_i64(res, 0, 0);
	PQclear(res);
	return v;
}

static int
newer_error(struct pg *pg, int64_t v, char **cause)
{
	*cause = xasprintf("cannot open database %s: it was written by a "
			   "newer baton (schema %lld, this baton knows %d)",
			   pg->shown, (long long)v, N_MIGRATIONS);
	return -BERR_DB;
}

static int
exec_or_fail(struct pg *pg, const char *sql, const char *const *v, int n,
	     char **cause)
{
	PGresult *res = n ? run(pg, sql, n, v) : PQexec(pg->conn, sql);
	int rc = 0;

	if (!result_ok(res))
		rc = open_error(pg, res, cause);
	PQclear(res);
	return rc;
}

/*
 * Bring the database to this binary's schema in one transaction under
 * the migration lock, reading the version again inside it, so that of
 * several processes opening an old database at once exactly one
 * migrates.  A newer schema is refused with nothing changed.
 */
static int
migrate(struct pg *pg, char **cause)
{
	char buf[32];
	const char *v1[1] = {buf};
	int64_t v;
	int rc = -BERR_DB;

	if (exec_or_fail(pg, "BEGIN", NULL, 0, cause) != 0)
		return -BERR_DB;
	if (exec_or_fail(pg,
			 "SELECT pg_advisory_xact_lock(" BATON_LOCK
			 ", " LOCK_MIGRATE ")",
			 NULL, 0, cause) != 0)
		goto out;
	if ((v = read_version(pg, cause)) < 0)
		goto out;
	if (v > N_MIGRATIONS) {
		newer_error(pg, v, cause);
		goto out;
	}
	if (v == 0 &&
	    exec_or_fail(pg,
			 "CREATE TABLE IF NOT EXISTS baton_schema (version "
			 "INTEGER NOT NULL); INSERT INTO baton_schema SELECT 0 "
			 "WHERE NOT EXISTS (SELECT 1 FROM baton_schema)",
			 NULL, 0, cause) != 0)
		goto out;
	for (; v < N_MIGRATIONS; v++) {
		if (exec_or_fail(pg, migrations[v], NULL, 0, cause) != 0)
			goto out;
		snprintf(buf, sizeof buf, "%lld", (long long)v + 1);
		if (exec_or_fail(pg, "UPDATE baton_schema SET version = $1", v1,
				 1, cause) != 0)
			goto out;
	}
	rc = exec_or_fail(pg, "COMMIT", NULL, 0, cause);
out:
	if (rc != 0)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
	return rc;
}

int
pg_store_open(struct store **out, const char *url,
	      const struct store_options *opts, char **cause)
{
	struct pg *pg;
	int64_t v;

	*out = NULL;
	if (pq_load(cause) != 0)
		return -BERR_DB;
	pg = xcalloc(1, sizeof *pg);
	strvec_init(&pg->copy_cols);
	pg->base.impl = &pg_store_impl;
	pg->url = xstrdup(url);
	pg->shown = text_url_mask(url);
	pg->busy_ms = opts != NULL && opts->busy_timeout_ms > 0
			      ? opts->busy_timeout_ms
			      : DEFAULT_BUSY_TIMEOUT_MS;
	pg->reconnect_ms = opts != NULL && opts->reconnect_ms > 0
				   ? opts->reconnect_ms
				   : DEFAULT_RECONNECT_MS;
	pg->statement_timeout_ms = STATEMENT_TIMEOUT_MS;
	pg->conn = connect_url(url);
	if (pg->conn == NULL)
		fatal("postgres: out of memory");
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		open_error(pg, NULL, cause);
		goto fail;
	}
	if (setup_session(pg, pg->busy_ms) != 0) {
		open_error(pg, NULL, cause);
		goto fail;
	}
	if ((v = read_version(pg, cause)) < 0)
		goto fail;
	if (v > N_MIGRATIONS) {
		newer_error(pg, v, cause);
		goto fail;
	}
	if (v < N_MIGRATIONS && migrate(pg, cause) != 0)
		goto fail;
	*out = &pg->base;
	return 0;
fail:
	pg_close(&pg->base);
	return -BERR_DB;
}

void
pg_close(struct store *store)
{
	struct pg *pg = (struct pg *)store;

	if (pg == NULL)
		return;
	pg_rollback(store);
	PQfinish(pg->conn);
	prep_clear(pg);
	log_clear(pg);
	free(pg->log);
	free(pg->dq);
	txn_clear(pg);
	free(pg->sp);
	free(pg->srv_wseq);
	free(pg->url);
	free(pg->shown);
	free(pg->copy_table);
	strvec_release(&pg->copy_cols);
	free(pg);
}

/* ---- waking idle workers (LISTEN/NOTIFY) ---- */

int
pg_notify_work(struct pg *pg, char **cause)
{
	if (pg->in_txn) {
		pg->notify_owed = 1; /* sent after the COMMIT (pg_commit()) */
		return 0;
	}
	return pg_do(pg, sql_notify, NULL, NULL, "cannot notify workers",
		     cause);
}

int
pg_wake_fd(struct store *store)
{
	struct pg *pg = (struct pg *)store;
	PGresult *res;

	if (!pg->listening && !pg->in_txn) {
		res = PQexec(pg->conn, "LISTEN baton_work");
		pg->listening = result_ok(res);
		PQclear(res);
	}
	if (!pg->listening || PQstatus(pg->conn) != CONNECTION_OK)
		return -1;
	return PQsocket(pg->conn);
}

void
pg_wake_drain(struct store *store)
{
	struct pg *pg = (struct pg *)store;
	PGnotify *n;

	if (PQconsumeInput(pg->conn) == 0)
		return;
	while ((n = PQnotifies(pg->conn)) != NULL)
		PQfreemem(n);
}
