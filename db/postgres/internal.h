#ifndef BATON_PG_INTERNAL_H
#define BATON_PG_INTERNAL_H

/* Shared by the files of db/postgres/ only. */

#include <libpq-fe.h>
#include <stdint.h>

#include "db/postgres/pg.h"
#include "lib/strbuf.h"
#include "db/store.h"

/* libpq.c: load libpq (once a process); 0, or -1 with *cause. */
int pq_load(char **cause);
/* 1 if the libpq loaded has pipeline mode (and BATON_PG_NO_PIPELINE is
 * not set: tests run the store both ways). */
int pq_pipeline(void);

#define PG_MAX_PARAMS 48

/* One statement executed inside the open transaction, kept so that the
 * transaction can be replayed on a new connection (see pg_exec()). */
struct pg_logged {
	char *sql;
	int n;
	char **v;
	uint64_t hash; /* of the result rows */
	/* the id an INSERT … RETURNING id took from its identity, given
	 * again explicitly on a replay (a sequence never gives it twice) */
	char *ret_id;
	/* pg_log_ids(): parameter ids_param (1-based) is given ret_id, the
	 * ids a many-row INSERT took, on a replay; 0 for none */
	int ids_param;
};

/*
 * A statement text seen on the connection: run a second time, it is
 * prepared (PQprepare, named "b<index>") and from then on run by name,
 * so that the server parses it once and can keep its plan, rather than
 * parse and plan it on every run.  A statement run once (most of a
 * one-shot command's) costs no extra round trip.  Forgotten with the
 * connection (a new one has no prepared statements).
 */
#define PG_PREP_MAX 160
struct pg_prep {
	uint64_t hash;
	char *sql;
	int prepared;
};

/*
 * A write inside a transaction whose caller wants no answer but success
 * (pg_exec() with no result, pg_do_fenced()): kept, and sent in one
 * pipeline (libpq's pipeline mode) with the next statement that is
 * waited for — a read, a write whose rows count, the COMMIT — so that
 * the writes of a task's end cost no round trip each.  A failure of one
 * is told by that next statement (struct pg, txn_err).
 */
struct pg_deferred {
	char *sql;
	/* the caller's statement (sql is it, or it wrapped as fenced, with
	 * cte: do_fenced()), for pg_amend_held() */
	const char *base, *cte;
	/* an event joined to it (join_events()): its CTE */
	char *extra;
	int joined; /* another fenced write is in its statement (join_fenced) */
	int n;
	char **v;
	char *what; /* for its failure: "what: message" */
	int fenced; /* a fenced write, wrapped (pg_do_fenced()) */
	int again;  /* runs twice as once (pg_do_fenced_again()) */
};

/* A savepoint of core's (store_savepoint()): its name, and which of the
 * server's savepoints ("s<level>") stands for it. */
struct pg_sp {
	char *name;
	int level;
};

/* A read sent ahead of its caller (pg_read_ahead()): its text and its
 * one parameter, and once answered its result — or an answer made here
 * from writes held back (pg_keep_made()). */
#define PG_AHEAD_MAX 2
struct pg_ahead {
	const char *sql;
	char *key;
	PGresult *res;
	int made; /* not read: not logged for a replay, whose writes make it */
};

struct pg {
	struct store base; /* first: a struct store * is a struct pg * */
	PGconn *conn;
	char *url;   /* as given (with any password: never printed) */
	char *shown; /* url with its password masked, for messages */
	int in_txn;
	/* BEGIN not sent yet: it goes with the transaction's first
	 * statement, in the same round trip (flush()) */
	int begin_pending;
	/* the write lock the open transaction took: whole (pg_begin), none
	 * (pg_begin_own) or shared (pg_begin_claim) */
	enum { PG_LOCK_WRITE, PG_LOCK_NONE, PG_LOCK_SHARED } txn_lock;
#define PG_WHOLE_NEAR 1 /* S11: the last count was near the limit */
#define PG_WHOLE_ONCE 2 /* the last claim beside others failed busy */
	/* this connection's claims take the write lock whole (S11 near its
	 * limit; a claim beside others failed busy): pg_begin_claim() */
	int claim_whole; /* PG_WHOLE_NEAR | PG_WHOLE_ONCE */
	int64_t xid;	 /* the open transaction's, for txid_status() */
	int64_t reconnect_ms;
	int64_t busy_ms; /* lock_timeout: how long a writer waits */
	int64_t statement_timeout_ms;
	uint64_t commits;
	int busy;      /* the last failure was a lock or statement timeout, a
		     serialization failure or a deadlock (store_busy) */
	int listening; /* LISTEN baton_work done on this connection */
	/* baton db copy: the columns of the table rows go to */
	char *copy_table;
	struct strvec copy_cols;
	struct pg_logged *log;
	size_t nlog, caplog;
	struct pg_prep prep[PG_PREP_MAX];
	size_t nprep;
	/* writes whose answer nobody waits for (struct pg_deferred) */
	struct pg_deferred *dq;
	size_t ndq, capdq;
	/* one of them failed: the transaction can only roll back (to a
	 * savepoint before it, or whole), and every statement until then,
	 * the COMMIT too, answers with its failure */
	int txn_err;
	char *txn_cause;
	int txn_busy;
	/* reads to send with the next statement waited for, and the
	 * answers of those sent (until anything is written) */
	struct pg_ahead want[PG_AHEAD_MAX], ahead[PG_AHEAD_MAX];
	int nwant, nahead;
	/* savepoints: core's names, and the server's, "s0".. "s<nsrv-1>",
	 * each with the count of writes (wseq) when it was made: names made
	 * with no write between share one, and none is released on the
	 * server before the transaction ends (pg_savepoint()) */
	struct pg_sp *sp;
	int nsp, capsp;
	int64_t *srv_wseq;
	int nsrv, capsrv;
	int64_t wseq; /* writes sent or queued in this transaction */
	/* a runs id taken from the sequence with the claim's pick, for the
	 * claim's run (pg_task_next()), or 0 */
	int64_t run_id_next;
	/* the active sessions and max_connections the pick counted, for a
	 * claim that makes a session, while wseq is count_wseq (nothing
	 * written since); count_wseq -1: none */
	int64_t count_n, count_beside, count_wseq;
	/* the open transaction notifies when it commits (pg_notify_work()) */
	int notify_owed;
	/* the task row the pick locked (pg_task_next()), as read, with its
	 * lease_epoch, for its start to be held back (pg_task_start());
	 * picked_id 0: none (started, or a savepoint rolled back) */
	int64_t picked_id, picked_epoch;
	PGresult *picked;
};

/* The parameters of one statement, as text (NULL for SQL NULL). */
struct pgq {
	int n;
	const char *v[PG_MAX_PARAMS];
	char buf[PG_MAX_PARAMS][32];
};

void pgq_init(struct pgq *);
void pgq_text(struct pgq *, const char *);
void pgq_i64(struct pgq *, int64_t);
/* 0 as NULL */
void pgq_nz(struct pgq *, int64_t);
void pgq_dbl(struct pgq *, double);
void pgq_null(struct pgq *);

/*
 * Run sql with q's parameters (q may be NULL).  *res (if res is not
 * NULL) is the result, the caller PQclear()s it.  A connection that broke
 * is made again (with backoff, for at most reconnect_ms) and the
 * statement re-run: outside a transaction at once, inside one after the
 * statements of the transaction so far were replayed and gave the same
 * results.  0, or -BERR_DB with *cause "what: message".
 */
int pg_exec(struct pg *, const char *sql, const struct pgq *q, PGresult **res,
	    const char *what, char **cause);
/*
 * For entry at of the transaction's log (pg->nlog - 1 just after its
 * pg_exec()), an INSERT whose parameter
 * param (1-based) is an array of ids, NULL where the identity is to
 * give one: ids (the caller's) is that array with the ids the rows took,
 * given instead on a replay, so that the rows come back as they were.
 */
void pg_log_ids(struct pg *, size_t at, int param, const char *ids);
/*
 * Read ahead, inside a transaction: the read sql, whose one parameter
 * is key (NULL: it has none), is sent with (after) the next statement waited for, in the
 * same round trip, and its answer kept for the pg_exec() of the same
 * read and key that follows — unless anything but a savepoint is
 * written first, which forgets it.  For reads the caller knows will
 * come (the claimed task's row and its session's, read back by core).
 */
void pg_read_ahead(struct pg *, const char *sql, const char *key);
/* Keep res, the answer of the read sql with key (another statement gave
 * the same rows), as pg_read_ahead() would; res is pg's now. */
void pg_keep(struct pg *, const char *sql, const char *key, PGresult *res);
/* pg_keep() of an answer made from writes held back, which the read
 * would give once they ran: not logged (a replay runs the writes). */
void pg_keep_made(struct pg *, const char *sql, const char *key, PGresult *res);
/* The answers made (pg_keep_made()) are moved to saved (at most
 * PG_AHEAD_MAX), their count returned, so that a write that would drop
 * them can be made first; pg_kept_restore() keeps them again. */
int pg_kept_save(struct pg *, struct pg_ahead *saved);
void pg_kept_restore(struct pg *, struct pg_ahead *saved, int n);
/* Or forgets them. */
void pg_kept_free(struct pg_ahead *saved, int n);
/* Forget the pick's row (struct pg, picked). */
void pg_picked_clear(struct pg *);
/* An empty one-row answer of ncols text columns to fill with
 * pg_set_value(), or NULL. */
PGresult *pg_made_row(struct pg *, int ncols);
/* Column col of res's row set to v (NULL for NULL) as the server would
 * store it; 0 if it could not be. */
int pg_set_value(PGresult *res, int col, const char *v);

/* The runs id the claim's pick took from its sequence (run_id_next),
 * for the run this transaction inserts: pg_take_run_id() gives it
 * (once) when the fenced INSERT of epoch can be held back, so that the
 * id needs no round trip; else 0.  Forgotten when the transaction ends. */
int64_t pg_take_run_id(struct pg *, int64_t epoch);

/* The session row a read would give once the leased insert of id held
 * back runs, or NULL (session.c). */
PGresult *pg_session_made(struct pg *, const char *id);
/* The text of session.c's read of a session by id (pg_keep()'s key). */
const char *pg_sql_session_get(void);
/* pg_read_ahead() of the session id's row (session.c's read). */
void pg_session_read_ahead(struct pg *, const char *id);

/* pg_exec() with no result wanted; *changed (if not NULL) is the number
 * of rows the statement changed. */
int pg_do(struct pg *, const char *sql, const struct pgq *q, int64_t *changed,
	  const char *what, char **cause);
/* pg_exec() of a count (one row, one integer) into *n. */
int pg_count(struct pg *, const char *sql, const struct pgq *q, int64_t *n,
	     const char *what, char **cause);
/* pg_do() for a fenced write (db/store.h): with epoch != 0 and no row
 * changed, -BERR_LEASE with *cause "what: lost lease". */
int pg_do_fenced(struct pg *, const char *sql, const struct pgq *q,
		 int64_t epoch, const char *what, char **cause);

/* A later write of the same row, q its parameters, the first the row's
 * key: if a write of statement was with that first parameter is held
 * back (not sent yet) with no savepoint after it, it becomes statement
 * sql with q's parameters but the first after its own; 1 if so, else 0
 * (nothing changed).  A fenced write stays fenced (with its cte) —
 * whatever fence the later write has is in sql; notify: it notifies
 * too (pg_notify_work()). */
int pg_amend_held(struct pg *, const char *was, const char *sql,
		  const struct pgq *q, int notify);
/* Whether a fenced write of epoch is held back (pg_do_fenced()): then
 * pg_do_fenced_with() runs its cte too, in the same statement. */
int pg_holds_back(const struct pg *, int64_t epoch);
/* pg_do_fenced() held back, with cte (", name AS (…)", which may read
 * "fence", the rows changed) after the fenced write in the same WITH. */
int pg_do_fenced_with(struct pg *, const char *sql, const char *cte,
		      const struct pgq *q, int64_t epoch, const char *what,
		      char **cause);
/* pg_do_fenced(), and pg_notify_work(). */
int pg_do_fenced_notify(struct pg *, const char *sql, const struct pgq *q,
			int64_t epoch, const char *what, char **cause);
/* pg_do_fenced() for a write that may run twice with the same effect
 * (it sets columns to values): a transaction of such writes alone goes
 * whole, BEGIN to COMMIT, in one round trip, and is run again if the
 * connection breaks before the COMMIT's answer (its id, which would
 * tell whether it took effect, is not known yet). */
int pg_do_fenced_again(struct pg *, const char *sql, const struct pgq *q,
		       int64_t epoch, const char *what, char **cause);

/* The fences of db/store.h in SQL: $N (text) an epoch, 0 for none.  The
 * UPDATE's row lock keeps a checked task or session row as it is until
 * commit; a run's task is checked with FOR SHARE. */
#define PG_TASK_FENCE(n)                                                       \
	"(" n "::bigint = 0 OR (lease_epoch = " n                              \
	"::bigint AND status = 'running'))"
#define PG_SESSION_FENCE(n)                                                    \
	"(" n "::bigint = 0 OR (lease_epoch = " n                              \
	"::bigint AND lease_runner IS NOT NULL))"
#define PG_RUN_FENCE(task, n)                                                  \
	"(" n                                                                  \
	"::bigint = 0 OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = " task     \
	" AND t.lease_epoch = " n "::bigint AND t.status = 'running' "         \
	"FOR SHARE OF t))"

/* Saturating sums (lib/num.h) of a stored count or amount and a
 * parameter (itself clamped by the caller): whatever is stored, the sum
 * stays in range and never overflows a BIGINT. */
#define PG_COUNT_SUM(col, param)                                               \
	"least(greatest(0, least(coalesce(" col                                \
	", 0), 9007199254740991)) + " param "::bigint, 9007199254740991)"
#define PG_USD_SUM(col, param)                                                 \
	"least(greatest(0, coalesce(" col ", 0)) + " param                     \
	"::double precision, 1e12::double precision)"
/* SET items: "col = col + param", as PG_COUNT_SUM / PG_USD_SUM add. */
#define PG_COUNT_ADD(col, param) col " = " PG_COUNT_SUM(col, param)
#define PG_USD_ADD(col, param)	 col " = " PG_USD_SUM(col, param)

/* The active sessions (S11), and how many connections may be claiming
 * beside this one (pg_claim_limit()): the pick reads them too. */
#define PG_ACTIVE_SESSIONS                                                     \
	"(SELECT count(*) FROM sessions WHERE status = 'active')"
#define PG_CLAIMS_BESIDE "current_setting('max_connections')::bigint"

/* Cell helpers: 0 / NULL / -1 for SQL NULL. */
int64_t pg_i64(const PGresult *, int row, int col);
double pg_dbl(const PGresult *, int row, int col);
char *pg_text(const PGresult *, int row, int col);
int pg_isnull(const PGresult *, int row, int col);
int pg_is(const PGresult *, int row, int col, const char *s);

#define PG_ENUM_COL(type, prefix)                                              \
	static inline enum type pg_col_##prefix(const PGresult *r, int row,    \
						int col, enum type dflt)       \
	{                                                                      \
		enum type v;                                                   \
		if (PQgetisnull(r, row, col))                                  \
			return dflt;                                           \
		return prefix##_parse(PQgetvalue(r, row, col), &v) == 0        \
			       ? v                                             \
			       : dflt;                                         \
	}
PG_ENUM_COL(task_status, task_status)
PG_ENUM_COL(run_outcome, run_outcome)
PG_ENUM_COL(resume_outcome, resume_outcome)
PG_ENUM_COL(session_kind, session_kind)
PG_ENUM_COL(session_status, session_status)
PG_ENUM_COL(chain_edge, chain_edge)
PG_ENUM_COL(event_kind, event_kind)

#define PG_RUN_COLS                                                            \
	"id, task_id, attempt, iteration, session_id, agent_session_in, "      \
	"agent_session_out, resume_outcome, runner_id, pid, proc_start, "      \
	"started_at, ended_at, exit_code, signal, outcome, error, "            \
	"input_tokens, output_tokens, cache_read_tokens, "                     \
	"cache_creation_tokens, cost_usd, num_turns, duration_ms, "            \
	"check_exit_code, check_output, answer, output_truncated FROM runs "
/* The rows of res (SELECT PG_RUN_COLS …) as runs; res is cleared. */
void pg_read_runs(PGresult *res, struct db_run **runs, size_t *n);

extern const struct store_impl pg_store_impl;

/* The operations of the PostgreSQL engine (db/store.h says what each does). */
void pg_close(struct store *st);
const char *pg_path(const struct store *st);
int pg_meta_get(struct store *st, const char *key, char **value, char **cause);
int pg_meta_delete(struct store *st, const char *key, char **cause);
int pg_begin(struct store *st, char **cause);
int pg_begin_own(struct store *st, char **cause);
int pg_begin_claim(struct store *st, char **cause);
/* S11 inside pg_begin_claim(): n active sessions counted, at most beside
 * claims running beside this one, limit: 0, or -BERR_DB busy when they
 * could reach the limit (the connection's claims then lock whole). */
int pg_claim_limit(struct pg *pg, int64_t n, int64_t beside, int64_t limit,
		   char **cause);
int pg_commit(struct store *st, char **cause);
void pg_rollback(struct store *st);
int pg_integrity_check(struct store *st, int *ok, char **report, char **cause);
uint64_t pg_commits(const struct store *st);
int pg_wal(struct store *st, enum store_checkpoint mode, struct store_wal *w,
	   char **cause);
int pg_busy(const struct store *st);
int pg_task_insert(struct store *st, struct db_task *t, int64_t now,
		   int *existed, char **cause);
int pg_task_insert_many(struct store *st, struct db_task *ts, size_t n,
			int *existed, char **cause);
int pg_task_get(struct store *st, int64_t id, struct db_task *a2, int *found,
		char **cause);
int pg_task_next(struct store *st, int64_t milestone_id, int64_t skip_after,
		 int64_t *id, char **cause);
int pg_task_count_pending(struct store *st, int64_t milestone_id, int64_t *n,
			  char **cause);
int pg_task_start(struct store *st, int64_t id, int64_t runner_id,
		  const char *session_id, const char *agent, const char *model,
		  int64_t now, int64_t *epoch, char **cause);
int pg_task_attempt(struct store *st, int64_t id, int64_t epoch,
		    int attempts_add, int retries, char **cause);
int pg_task_finish(struct store *st, int64_t id, int64_t epoch,
		   enum task_status a2, int has_exit, int exit_code,
		   const char *error, const char *reason, int64_t now,
		   char **cause);
int pg_task_add_usage(struct store *st, int64_t id, int64_t epoch,
		      int iterations, int64_t in, int64_t out, double cost,
		      char **cause);
int pg_task_cancel_requested(struct store *st, int64_t id, int64_t epoch,
			     int64_t session_epoch, int *yes, int *held,
			     char **cause);
int pg_task_cancel(struct store *st, int64_t id, int64_t now, int *found,
		   enum task_status *status_out, char **cause);
int pg_task_unclaim(struct store *st, int64_t id, int64_t runner_id,
		    int64_t run_id, int *done, char **cause);
int pg_task_requeue(struct store *st, int64_t id, unsigned from_mask, int *done,
		    char **cause);
int pg_task_each(struct store *st, const struct db_task_filter *a1,
		 int (*fn)(void *, const struct db_task *), void *arg,
		 char **cause);
int pg_task_count(struct store *st, const struct db_task_filter *f, int64_t *n,
		  char **cause);
int pg_task_count_by_status(struct store *st, const struct db_task_filter *f,
			    void (*fn)(void *, enum task_status, int64_t),
			    void *arg, char **cause);
int pg_task_set_agent(struct store *st, int64_t id, const char *agent,
		      const char *model, char **cause);
int pg_task_exists(struct store *st, int64_t id, int *yes, char **cause);
int pg_session_get(struct store *st, const char *id, struct db_session *a2,
		   int *found, char **cause);
int pg_session_insert(struct store *st, const struct db_session *s,
		      char **cause);
int pg_session_count_active(struct store *st, int64_t limit, int64_t *n,
			    char **cause);
int pg_session_count_closing(struct store *st, int64_t now, int64_t *n,
			     char **cause);
int pg_session_lease(struct store *st, const char *id, int64_t runner,
		     int64_t task, int64_t now, int64_t expires, int *got,
		     int64_t *holder_task, int64_t *epoch, char **cause);
int pg_session_unlease(struct store *st, const char *id, int64_t epoch,
		       int64_t close_at, char **cause);
int pg_session_set_status(struct store *st, const char *id,
			  enum session_status a2, int64_t now, char **cause);
int pg_session_touch(struct store *st, const char *id, int64_t now,
		     char **cause);
int pg_session_add_usage(struct store *st, const char *id, int64_t epoch,
			 int turn, int64_t in, int64_t out, int64_t cache_read,
			 int64_t cache_creation, double cost, int64_t now,
			 char **cause);
int pg_session_push_head(struct store *st, const char *id, int64_t epoch,
			 const char *agent_session_id, enum chain_edge a3,
			 int64_t run_id, int64_t now, char **cause);
int pg_session_resume_failed(struct store *st, const char *id, int64_t epoch,
			     int limit, char **cause);
int pg_session_chain(struct store *st, const char *id,
		     struct db_chain_link **links, size_t *n, char **cause);
int pg_event(struct store *st, enum event_kind a1, const char *session_id,
	     int64_t task_id, int64_t run_id, int64_t runner_id,
	     const char *detail, int64_t now, char **cause);
int pg_session_repin(struct store *st, const char *id, const char *agent,
		     const char *model, char **cause);
int pg_session_get_latest_by_name(struct store *st, const char *name,
				  struct db_session *a2, int *found,
				  char **cause);
int pg_session_get_by_prefix(struct store *st, const char *prefix,
			     struct db_session *a2, int *found, char **cause);
int pg_session_each(struct store *st, const struct db_session_filter *a1,
		    int (*fn)(void *, const struct db_session *), void *arg,
		    char **cause);
int pg_session_reset(struct store *st, const char *id, int64_t now,
		     char **cause);
int pg_session_delete(struct store *st, const char *id, char **cause);
int pg_session_events(struct store *st, const char *id,
		      struct db_event_row **a2, size_t *n, char **cause);
int pg_session_runs(struct store *st, const char *id, struct db_run **runs,
		    size_t *n, char **cause);
int pg_session_get_successor(struct store *st, const char *id,
			     struct db_session *a2, int *found, char **cause);
int pg_session_get_last_used(struct store *st, const char *project,
			     const char *os_user, struct db_session *a3,
			     int *found, char **cause);
int pg_run_insert(struct store *st, struct db_run *r, int64_t epoch,
		  char **cause);
int pg_run_set_pid(struct store *st, int64_t id, int64_t epoch, int64_t pid,
		   int64_t start, char **cause);
int pg_run_end(struct store *st, const struct db_run *r, int64_t epoch,
	       char **cause);
int pg_run_list(struct store *st, int64_t task_id, struct db_run **runs,
		size_t *n, char **cause);
int pg_run_set_check(struct store *st, int64_t id, int64_t epoch, int exit_code,
		     const char *output, char **cause);
int pg_runner_insert(struct store *st, const struct db_runner *a1, int64_t *id,
		     char **cause);
int pg_runner_heartbeat(struct store *st, int64_t id, int64_t now,
			int64_t lease_until, char **cause);
int pg_runner_exit(struct store *st, int64_t id, int64_t now, char **cause);
int pg_runner_alive_list(struct store *st, struct db_runner **a1, size_t *n,
			 char **cause);
int pg_batch_find(struct store *st, const char *prefix, char **id, int *found,
		  char **cause);
int pg_runner_reap(struct store *st, int64_t id, int64_t now, int requeue,
		   int64_t seen_heartbeat, struct db_orphan **orphans,
		   size_t *n, char **cause);
int pg_milestone_get(struct store *st, const char *name,
		     struct db_milestone *a2, int *found, char **cause);
int pg_milestone_get_id(struct store *st, int64_t id, struct db_milestone *a2,
			int *found, char **cause);
int pg_milestone_insert(struct store *st, struct db_milestone *a1, int64_t now,
			int *existed, char **cause);
int pg_milestone_set_session(struct store *st, int64_t id,
			     const char *session_id, char **cause);
int pg_milestone_each(struct store *st,
		      int (*fn)(void *, const struct db_milestone *), void *arg,
		      char **cause);
int pg_savepoint(struct store *st, const char *name, char **cause);
int pg_savepoint_release(struct store *st, const char *name, char **cause);
void pg_savepoint_rollback(struct store *st, const char *name);
int pg_doctor(struct store *st, int fix, int64_t now,
	      void (*fn)(void *, const char *kind, const char *what), void *arg,
	      int *problems, char **cause);
int pg_stats(struct store *st, const struct db_stats_filter *f,
	     struct db_stats *a2, char **cause);
int pg_prune_tasks_list(struct store *st, int64_t before, int64_t after,
			int64_t *ids, size_t max, size_t *n, char **cause);
int pg_prune_tasks(struct store *st, int64_t before, const int64_t *ids,
		   size_t n, int *gone, int count_only,
		   struct db_prune_counts *c, char **cause);
int pg_prune_sessions_list(struct store *st, int64_t before, int assume_gone,
			   const char *after, struct strvec *ids, size_t max,
			   char **cause);
int pg_prune_sessions(struct store *st, int64_t before,
		      const struct strvec *ids, int *gone, int count_only,
		      struct db_prune_counts *c, char **cause);
int pg_vacuum(struct store *st, int64_t *before, int64_t *after, char **cause);
int pg_run_output_put(struct store *st, const struct db_output_put *o,
		      char **cause);
int pg_run_output_get(struct store *st, int64_t run_id, const char *stream,
		      int64_t from, struct db_output_chunk **chunks, size_t *n,
		      int *found, char **cause);
int pg_wake_fd(struct store *st);
void pg_wake_drain(struct store *st);
/* NOTIFY the idle workers: at once outside a transaction; inside one,
 * right after its COMMIT, in the same round trip (pg_commit()). */
int pg_notify_work(struct pg *, char **cause);

int pg_rows_each(struct store *st, const char *table,
		 int (*fn)(void *, int n, const char *const *cols,
			   const char *const *vals),
		 void *arg, char **cause);
int pg_copy_begin(struct store *st, char **cause);
int pg_row_insert(struct store *st, const char *table, int n,
		  const char *const *cols, const char *const *vals,
		  char **cause);
int pg_copy_commit(struct store *st, char **cause);

#endif
