#ifndef BATON_STORE_H
#define BATON_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "db/store-names.h"

struct strvec;

/*
 * The store interface.  core/ talks to a struct store through the
 * functions below and never knows which engine is behind it; each
 * engine (db/sqlite/, and later others) fills a const struct store_impl
 * of function pointers, one per operation, and embeds a struct store as
 * the first member of its own handle.  Only db/<engine>/ includes the
 * engine's library headers.
 *
 * A struct store is one connection; use one per thread.  Every function
 * returning int returns 0 on success or -BERR_DB (lib/err.h) with
 * *cause set, which the caller frees, unless it says otherwise.
 */
struct store_impl;
struct store {
	const struct store_impl *impl;
};

struct store_options {
	int synchronous_full;	 /* sqlite: PRAGMA synchronous=FULL */
	int64_t busy_timeout_ms; /* 0 means 10000 */
	/* Shared by the connections of one process (struct baton's): each
	 * write transaction holds it, waiting for it at most the busy
	 * timeout.  NULL: none. */
	pthread_mutex_t *write_lock;
	/* sqlite: create the database's directory (0700) if it is missing;
	 * only for the default path (SPEC §9): a directory the user named
	 * that does not exist is an error. */
	int create_dir;
	/* sqlite: db.shared_group: a database its group may write (0660,
	 * -wal and -shm too); otherwise it must be writable by its owner
	 * only, and is made 0600 if it is readable by others. */
	int shared_group;
	/* A command that only reads: if the database cannot be opened for
	 * writing because the disk is full (SQLite must create or grow its
	 * -wal and -shm), open it read-only as of its last checkpoint
	 * (SQLite's immutable mode) and set *snapshot to 1.  NULL: never. */
	int *snapshot;
	/* postgres: how long to keep making a broken connection again
	 * before a statement fails (runner.stale_after); 0 means 60s */
	int64_t reconnect_ms;
};

/* The schema version this binary writes. */
int store_schema_version(void);

/*
 * Open the store at where: a file path is an SQLite database, a
 * postgres:// or postgresql:// URL a PostgreSQL one when this binary was
 * built with libpq (db/postgres/); a URL with a scheme this binary has
 * no engine for is refused, -BERR_DB, never taken for a file name.  For
 * SQLite: open (creating if needed) the database at path: the parent
 * directory is created 0700 if missing and opts->create_dir says so, the
 * file 0600 (0660 with shared_group) whatever the umask.  A database (or
 * -wal, -shm) owned by another user than this one or root, or writable by
 * others (or by its group without shared_group), is refused; one readable
 * by others is made 0600.  A database on a network or FUSE file system is
 * refused (SPEC §10).  Sets
 * WAL, synchronous, foreign_keys, the busy timeout, then migrates to the
 * current schema in one BEGIN IMMEDIATE transaction (exactly once even
 * if several processes open an old database at once).  Refuses, touching
 * nothing, a path that is a directory or a symlink, a file that is not a
 * database or is corrupt, a read-only file or directory, a database
 * newer than this binary, and a database locked past the busy timeout.
 * Messages name the path: "cannot open database /x/y.db: ...".  On
 * failure errno is the system's error behind it (EMFILE: the caller ran
 * out of file descriptors), or 0.
 */
int store_open(struct store **out, const char *where,
	       const struct store_options *, char **cause);

/* 1 if where is a URL (scheme://…) rather than a file path. */
int store_is_url(const char *where);

/* The engine's name: "sqlite" or "postgres". */
const char *store_engine(const struct store *);

/* Close and free; NULL-safe.  Finalizes cached statements. */
void store_close(struct store *);

/* The path the database was opened from (borrowed); for a URL, with
 * its password masked. */
const char *store_path(const struct store *);

/*
 * Transactions: one helper, always BEGIN IMMEDIATE so that contention
 * waits on the busy timeout instead of surfacing as SQLITE_BUSY.
 * Not nestable.  store_rollback() is safe to call when none is open.
 *
 * Inside a transaction an engine may hold back a write whose caller
 * wants no answer but success (PostgreSQL sends such writes, and the
 * BEGIN, with the next statement that is waited for: one round trip
 * instead of one each).  Its failure — a lost lease too — is then
 * answered by that later call, at the latest by store_commit(), and by
 * every call after it until store_rollback() or a store_savepoint_
 * rollback() to a savepoint made before the write.  So a caller treats
 * a failure anywhere in a transaction as the transaction's, never as
 * the failure of the one call that reported it alone.
 */
int store_begin(struct store *, char **cause);
/* A transaction that writes only rows this process owns (its runner's
 * heartbeat and the leases it holds) and reads nothing it then decides
 * on: an engine may leave out the store-wide write lock (PostgreSQL's
 * advisory lock; SQLite has only the one), so that a process stopped
 * while it holds that lock cannot keep the others from beating. */
int store_begin_own(struct store *, char **cause);
/* A claim's transaction, or a task's end (with the next claim): every
 * write is fenced by a lease or made on a row the claim locked, and the
 * rules it reads then decides on (the S6 queue order, a lease, the
 * session limit through store_session_count_active()) hold with other
 * claims running beside it.  An engine may run such transactions side
 * by side (PostgreSQL: the write lock in shared mode); against
 * store_begin()'s they stay one at a time.  SQLite: store_begin(). */
int store_begin_claim(struct store *, char **cause);
int store_commit(struct store *, char **cause);
void store_rollback(struct store *);

/* PRAGMA integrity_check; *ok set to 1 if "ok", else *report (caller frees). */
int store_integrity_check(struct store *, int *ok, char **report, char **cause);

/* Number of write transactions committed through this connection. */
uint64_t store_commits(const struct store *);

/* What store_wal() may do before it looks. */
enum store_checkpoint {
	STORE_CKPT_NONE,     /* only look at the log */
	STORE_CKPT_PASSIVE,  /* copy what no reader needs; never waits */
	STORE_CKPT_TRUNCATE, /* copy all and empty the log, if no reader
				or writer is in the way right now */
};

/* The write-ahead log (SQLite's -wal file). */
struct store_wal {
	int64_t bytes;	      /* size of the log file, 0 if none */
	int64_t frames;	      /* pages in the log, -1 if not checkpointed */
	int64_t checkpointed; /* of them, copied into the database, -1 */
	int busy;	      /* the checkpoint could not finish: a reader (or a
		     writer) holds the log */
};

/*
 * The write-ahead log, after a checkpoint of the given kind.  A
 * checkpoint never waits for another connection: busy says one was in
 * the way; frames > checkpointed after a PASSIVE one means a reader
 * keeps the rest (SPEC §5).  Returns 0, or -BERR_DB with *cause.
 */
int store_wal(struct store *, enum store_checkpoint, struct store_wal *,
	      char **cause);
/*
 * Non-zero when the last failure on this connection was the database
 * being locked or busy past the busy timeout (SQLite: SQLITE_BUSY,
 * SQLITE_LOCKED; another engine: a lock or statement timeout), so that
 * the same transaction may succeed if tried again.  A final write
 * (SPEC §5) retries on it; any other error is not retried.
 */
int store_busy(const struct store *);

/*
 * Fenced leases (SPEC §5, docs/leases.md).  Each claim of a task
 * (store_task_start) and each lease of a session (store_session_lease)
 * takes a new epoch, returned to the caller: the row's lease_epoch + 1.
 * The functions below that take an epoch are the runner's later writes
 * for that task or session; each changes its rows only while the lease
 * is still the caller's:
 *
 *   a task's:    tasks.lease_epoch = epoch AND tasks.status = 'running'
 *                (for a run row: of the run's task)
 *   a session's: sessions.lease_epoch = epoch AND it is leased
 *
 * and returns -BERR_LEASE (*cause "lost lease") when no row matched:
 * the lease was lost (the runner was reaped, the task requeued and
 * claimed again, the session leased by another).  The caller then rolls
 * back and writes nothing else for that task.  An epoch of 0 means not
 * fenced (a command's own write, or one inside the claim transaction).
 * An engine must keep the checked row from changing until commit (SQLite:
 * the write lock of BEGIN IMMEDIATE; an MVCC engine: the UPDATE's row
 * lock, or FOR SHARE in a subquery).
 */

/* ---- rows (db-task.c, db-session.c, db-run.c, db-runner.c) ---- */

/*
 * Rows are plain structs whose strings are owned by the struct; release
 * with the matching *_release (NULL-safe, leaves it zeroed).  "Times" are
 * milliseconds since the epoch, 0 for NULL.  Functions that change rows
 * do not open transactions: callers wrap them in db_begin/db_commit so
 * that one command is one transaction.
 */

struct db_task {
	int64_t id;
	char *key, *title, *prompt;
	enum task_status status;
	char *agent, *model, *workdir;
	char *project;
	int64_t milestone_id;
	char *milestone; /* name, read only (joined) */
	char *session_req;
	int new_session;
	char *queue;
	char *session_id;
	int64_t timeout_ms;
	char *check_cmd;
	int max_iterations, max_attempts;
	/* Task retries (SPEC §3): -1 not set (work --retries or
	 * defaults.retries decide at its claim, which records it). */
	int retries;
	double max_cost; /* USD; 0: no budget */
	int force_agent, allow_foreign;
	int attempts, iterations;
	int has_exit_code, exit_code;
	char *error, *reason;
	int64_t runner_id;
	int cancel_requested;
	int64_t input_tokens, output_tokens;
	double cost_usd;
	int64_t created_at, started_at, finished_at;
	/* read only: the last run's answer (store_task_get(), and
	 * store_task_each() with_answer), else NULL */
	char *answer;
};
void db_task_release(struct db_task *);

/*
 * Insert t (id, status pending, created_at are set here).  With a key
 * that exists already nothing is inserted, t->id is the existing task's
 * and *existed is 1.
 */
int store_task_insert(struct store *, struct db_task *t, int64_t now,
		      int *existed, char **cause);
/*
 * store_task_insert() of ts[0], ts[1]… in that order, each at its own
 * created_at (the caller's), in fewer round trips where the engine can
 * (PostgreSQL: a few hundred rows a statement): the same ids in the
 * same order, and a key that exists already, or that an earlier task of
 * ts has, inserts nothing (that task's id, existed[i] = 1).  Inside the
 * caller's transaction; on an error some may be inserted (roll back).
 */
int store_task_insert_many(struct store *, struct db_task *ts, size_t n,
			   int *existed, char **cause);
/* *found is 0 if there is no task id. */
int store_task_get(struct store *, int64_t id, struct db_task *, int *found,
		   char **cause);
/*
 * The next pending task that may start now (lowest id; milestone_id 0 for
 * any): no earlier pending or running task in its queue (S6).  *id is 0
 * if none.  Must run inside a transaction.  skip_after lets the caller
 * continue past a task it could not start (0 to begin at the start).
 */
int store_task_next(struct store *, int64_t milestone_id, int64_t skip_after,
		    int64_t *id, char **cause);
/* Pending tasks (any, or in the milestone) still to be run. */
int store_task_count_pending(struct store *, int64_t milestone_id, int64_t *n,
			     char **cause);
/*
 * pending → running: set runner, session, attempts+1, started_at, the
 * agent and model it runs with (agent NULL: both stay as they are), and
 * take the task's next lease epoch into *epoch.  Only for a runner whose
 * row is alive: -BERR_LEASE when runner_id was reaped meanwhile.
 */
int store_task_start(struct store *, int64_t id, int64_t runner_id,
		     const char *session_id, const char *agent,
		     const char *model, int64_t now, int64_t *epoch,
		     char **cause);
/*
 * (Fenced: epoch.)  A running task's attempts: add attempts_add (a task retry starting)
 * and record retries as its retry count unless it has one.
 */
int store_task_attempt(struct store *, int64_t id, int64_t epoch,
		       int attempts_add, int retries, char **cause);
/* (Fenced: epoch.)  running → status (final): exit code (has_exit),
 * error, reason. */
int store_task_finish(struct store *, int64_t id, int64_t epoch,
		      enum task_status, int has_exit, int exit_code,
		      const char *error, const char *reason, int64_t now,
		      char **cause);
/* (Fenced: epoch.)  Add a run's usage to its task and set the iteration
 * count. */
int store_task_add_usage(struct store *, int64_t id, int64_t epoch,
			 int iterations, int64_t in, int64_t out, double cost,
			 char **cause);
/* *yes: `baton cancel` asked to stop task id; *held: epoch is still its
 * lease and session_epoch its session's (0: not asked), which a runner
 * polls to stop an agent whose lease went.  A read: never -BERR_LEASE. */
int store_task_cancel_requested(struct store *, int64_t id, int64_t epoch,
				int64_t session_epoch, int *yes, int *held,
				char **cause);
/* Ask a running task to stop / drop a pending one.  *status_out is the
 * status the task had, *found 0 if there is no such task. */
int store_task_cancel(struct store *, int64_t id, int64_t now, int *found,
		      enum task_status *status_out, char **cause);
/* Requeue (→ pending) a task whose status is in from_mask (bits 1u <<
 * status); *done 0 when it is not (nothing changes). */
int store_task_requeue(struct store *, int64_t id, unsigned from_mask,
		       int *done, char **cause);
/*
 * Undo the claim of running task id by runner_id whose agent could not
 * be started (baton ran out of file descriptors or processes): back to
 * pending as it was (no runner, no session, the attempt not counted),
 * and its run run_id, which never started, deleted.  Inside a
 * transaction; *done 0 when the task is not so (cancel asked, another
 * runner): nothing changes.
 */
int store_task_unclaim(struct store *, int64_t id, int64_t runner_id,
		       int64_t run_id, int *done, char **cause);

struct db_task_filter {
	unsigned status_mask; /* bit (1u << status) per status; 0: any */
	int64_t milestone_id; /* 0: any, -1: an unknown milestone (none) */
	int64_t after_id;     /* tasks with id > after_id */
	int64_t limit;	      /* 0: no limit */
	int64_t last;	      /* > 0: only the last (highest id) this many */
	int64_t since;	      /* > 0: created at or after (ms) */
	/*
	 * A session's tasks (core's task_filter_session()): those run in
	 * session_id, and those not claimed yet (no session_id) that asked
	 * for it (session_req) by session_id or session_name.  session_id
	 * NULL with a session_name: a session not created yet, asked for by
	 * those words.  Both NULL: any.
	 */
	const char *session_id, *session_name;
	int with_answer; /* fill db_task.answer (the last run's) */
};
/* Whether f selects by nothing but (perhaps) a milestone: the engines
 * count those from an index alone. */
int db_task_filter_milestone_only(const struct db_task_filter *f);
/* Call fn for each matching task in id order; stops if fn returns != 0. */
int store_task_each(struct store *, const struct db_task_filter *,
		    int (*fn)(void *, const struct db_task *), void *arg,
		    char **cause);
/* The number of tasks matching f, its limit and last aside. */
int store_task_count(struct store *, const struct db_task_filter *f, int64_t *n,
		     char **cause);
/* Counts per status of the tasks f selects (its limit and last too, as
 * store_task_each() has them): pairs of (status, count) through fn. */
int store_task_count_by_status(struct store *, const struct db_task_filter *f,
			       void (*fn)(void *, enum task_status, int64_t),
			       void *arg, char **cause);

struct db_session {
	char *id;
	enum session_kind kind;
	char *name;
	int64_t milestone_id;
	char *agent, *model, *project, *workdir, *os_user;
	enum session_status status;
	char *head;
	int64_t turns, input_tokens, output_tokens;
	int64_t cache_read_tokens, cache_creation_tokens;
	double cost_usd;
	int resume_failures, resumable;
	char *predecessor, *metadata;
	int64_t lease_runner, lease_task, lease_expires;
	int64_t created_at, last_used_at, closed_at;
};
void db_session_release(struct db_session *);

int store_session_get(struct store *, const char *id, struct db_session *,
		      int *found, char **cause);
/* Insert s as given (id, kind, agent, project... filled by the caller). */
int store_session_insert(struct store *, const struct db_session *s,
			 char **cause);
/* The active sessions, for the caller to create one more only if *n <
 * limit (S11).  Inside store_begin_claim() an engine that runs claims
 * side by side cannot see the sessions other claims are making: when
 * they could take the count to the limit it fails busy (store_busy())
 * and takes its write lock whole for this connection's next claims,
 * until a count under it is far from the limit again. */
int store_session_count_active(struct store *, int64_t limit, int64_t *n,
			       char **cause);
/* The active temp sessions leased (lease_expires after now) to a task
 * running anywhere: each closes when its task ends (S11 in `work`). */
int store_session_count_closing(struct store *, int64_t now, int64_t *n,
				char **cause);
/*
 * Take the lease on session id for runner/task until expires, if it is
 * free, expired, or held by a runner that is not alive.  *got is 1 if
 * the lease is ours now, with its new epoch in *epoch; otherwise
 * *holder_task says who has it.  Release it with store_session_unlease
 * (fenced: only the holder of epoch releases it).
 */
int store_session_lease(struct store *, const char *id, int64_t runner,
			int64_t task, int64_t now, int64_t expires, int *got,
			int64_t *holder_task, int64_t *epoch, char **cause);
/* close_at != 0: and close it, as store_session_set_status(SESSION_CLOSED,
 * close_at) would, in the same write. */
int store_session_unlease(struct store *, const char *id, int64_t epoch,
			  int64_t close_at, char **cause);
/* Set status (closed/expired/abandoned set closed_at) and touch. */
int store_session_set_status(struct store *, const char *id,
			     enum session_status, int64_t now, char **cause);
int store_session_touch(struct store *, const char *id, int64_t now,
			char **cause);
/* (Fenced: epoch, as the next three.)  Add a run's usage; turn: the agent took a turn (answered, even with
 * a failure), as opposed to a failed resume, a startup error, a transient
 * API failure or a stopped run. */
int store_session_add_usage(struct store *, const char *id, int64_t epoch,
			    int turn, int64_t in, int64_t out,
			    int64_t cache_read, int64_t cache_creation,
			    double cost, int64_t now, char **cause);
/* Append agent_session_id to the chain with edge, making it the head. */
int store_session_push_head(struct store *, const char *id, int64_t epoch,
			    const char *agent_session_id, enum chain_edge,
			    int64_t run_id, int64_t now, char **cause);
/* resume_failures + 1; resumable = 0 once it reaches limit. */
int store_session_resume_failed(struct store *, const char *id, int64_t epoch,
				int limit, char **cause);

struct db_chain_link {
	char *agent_session_id;
	enum chain_edge edge;
	int64_t run_id, created_at;
};
int store_session_chain(struct store *, const char *id,
			struct db_chain_link **links, size_t *n, char **cause);
void db_chain_free(struct db_chain_link *, size_t n);

/* Record an audit event (SPEC: create, resume, fallback, expire, ...). */
int store_event(struct store *, enum event_kind, const char *session_id,
		int64_t task_id, int64_t run_id, int64_t runner_id,
		const char *detail, int64_t now, char **cause);

struct db_run {
	int64_t id, task_id;
	int attempt, iteration;
	char *session_id, *agent_session_in, *agent_session_out;
	enum resume_outcome resume_outcome;
	int64_t runner_id;
	int64_t pid, proc_start;
	int64_t started_at, ended_at;
	int has_exit_code, exit_code, signal;
	enum run_outcome outcome;
	char *error;
	int64_t input_tokens, output_tokens;
	int64_t cache_read_tokens, cache_creation_tokens;
	double cost_usd;
	int64_t num_turns, duration_ms;
	int has_check, check_exit_code;
	char *check_output;
	char *answer; /* the agent's final answer (capped, redacted), or NULL */
	/* a log of the run passed logs.max_bytes (SPEC §3) */
	int output_truncated;
};
void db_run_release(struct db_run *);
void db_runs_free(struct db_run *, size_t n);

/* Insert the start of r (id set).  This and the next three are fenced
 * by epoch, the lease of r's task. */
int store_run_insert(struct store *, struct db_run *r, int64_t epoch,
		     char **cause);
/* The agent's pid and start time, in a transaction of its own
 * (store_begin_own()) — which PostgreSQL commits without waiting for its
 * disk, as SQLite's WAL commits: a crash of the server, not of baton, in
 * the instant after may lose it (docs/scale-out.md). */
int store_run_set_pid(struct store *, int64_t id, int64_t epoch, int64_t pid,
		      int64_t start, char **cause);
/* Store the end of r: ended_at, exit code, signal, outcome, error,
 * usage, agent_session_out, resume_outcome, check, answer,
 * output_truncated, and its pid and proc_start if r->pid > 0 (an agent
 * that ended before store_run_set_pid() was owed: core/orchestrator.c). */
int store_run_end(struct store *, const struct db_run *r, int64_t epoch,
		  char **cause);
int store_run_list(struct store *, int64_t task_id, struct db_run **runs,
		   size_t *n, char **cause);

struct db_runner {
	int64_t id, pid, proc_start, started_at, heartbeat_at;
	char *host, *boot_id, *status;
	/* the batch of the `work` or `run` it is (insert only, borrowed):
	 * every run it starts records it */
	const char *batch_id;
};
void db_runners_free(struct db_runner *, size_t n);

int store_runner_insert(struct store *, const struct db_runner *, int64_t *id,
			char **cause);
/* Heartbeat and renew this runner's leases until lease_until; -BERR_LEASE
 * when its row is no longer alive (another runner reaped it). */
int store_runner_heartbeat(struct store *, int64_t id, int64_t now,
			   int64_t lease_until, char **cause);
int store_runner_exit(struct store *, int64_t id, int64_t now, char **cause);
int store_runner_alive_list(struct store *, struct db_runner **, size_t *n,
			    char **cause);
/*
 * The batch whose id starts with prefix (a whole id too), of the
 * runners' batch ids (each `work` and `run` is one): *found 0 none, 1
 * one, with its id in *id (caller frees), 2 more than one (*id NULL).
 */
int store_batch_find(struct store *, const char *prefix, char **id, int *found,
		     char **cause);

/* The agent processes a runner left behind: its runs with no end (pid 0
 * when the runner died before recording it). */
struct db_orphan {
	int64_t run_id, pid, proc_start;
};
/*
 * Mark runner id dead (unless it exited) and undo what it held: its running tasks become
 * interrupted, its open runs end (outcome interrupted), its leases are
 * released, the temp sessions of its tasks become abandoned.  Returns
 * the open runs' processes in *orphans (caller frees) so that the
 * caller can kill them.  Must run inside a transaction.  With
 * seen_heartbeat != 0 only while the runner is still alive with a
 * heartbeat no newer than that (what the caller judged it dead by): a
 * runner that renewed meanwhile (woke from a freeze) is left alone,
 * nothing changes and *n is 0.  0: whatever its row says (a runner
 * undoing what it holds as it exits).
 */
int store_runner_reap(struct store *, int64_t id, int64_t now, int requeue,
		      int64_t seen_heartbeat, struct db_orphan **orphans,
		      size_t *n, char **cause);

struct db_milestone {
	int64_t id;
	char *name, *session_mode, *session_id;
	int64_t created_at;
};
void db_milestone_release(struct db_milestone *);
int store_milestone_get(struct store *, const char *name, struct db_milestone *,
			int *found, char **cause);
int store_milestone_get_id(struct store *, int64_t id, struct db_milestone *,
			   int *found, char **cause);
/* Insert (name, mode); *existed 1 if a milestone of that name exists. */
int store_milestone_insert(struct store *, struct db_milestone *, int64_t now,
			   int *existed, char **cause);
int store_milestone_set_session(struct store *, int64_t id,
				const char *session_id, char **cause);
int store_milestone_each(struct store *,
			 int (*fn)(void *, const struct db_milestone *),
			 void *arg, char **cause);
/* Set the effective agent and model of a task when it starts (S9). */
int store_task_set_agent(struct store *, int64_t id, const char *agent,
			 const char *model, char **cause);
/* Re-pin a session's agent and model (S9 --force-agent). */
int store_session_repin(struct store *, const char *id, const char *agent,
			const char *model, char **cause);

/* Savepoints inside a transaction: undo part of it (name: a literal). */
int store_savepoint(struct store *, const char *name, char **cause);
int store_savepoint_release(struct store *, const char *name, char **cause);
void store_savepoint_rollback(struct store *, const char *name);
/* Record the check that followed run id. */
int store_run_set_check(struct store *, int64_t id, int64_t epoch,
			int exit_code, const char *output, char **cause);

/*
 * The S7 invariants for `doctor`: calls fn once per problem found with
 * a kind ("temp-session", "running-task", "lease", "open-run",
 * "session-overlap": two runs of one session whose times overlap) and a
 * description.  With fix, repairs what it found (temp sessions
 * abandoned, tasks interrupted, leases released, runs ended; an overlap
 * is history and stays) inside the caller's transaction.  *problems
 * counts them.
 */
int store_doctor(struct store *, int fix, int64_t now,
		 void (*fn)(void *, const char *kind, const char *what),
		 void *arg, int *problems, char **cause);

/* ---- sessions and milestones: listing, reset, gc (db-session.c) ---- */

/* The session called name: the active one, else the newest of any
 * status (for messages about a closed or expired one). */
int store_session_get_latest_by_name(struct store *, const char *name,
				     struct db_session *, int *found,
				     char **cause);
/*
 * The session whose id starts with prefix (lower case).  *found is 0
 * for none, 1 for exactly one (s filled), 2 when several match (s left
 * empty).
 */
int store_session_get_by_prefix(struct store *, const char *prefix,
				struct db_session *, int *found, char **cause);

struct db_session_filter {
	int active_only;       /* only status active */
	int64_t idle_before;   /* active, last used before, not leased */
	int64_t closed_before; /* not active, closed before */
	int64_t now;	       /* for lease expiry with idle_before */
};
/* Call fn for each matching session, oldest first; stops if fn != 0. */
int store_session_each(struct store *, const struct db_session_filter *,
		       int (*fn)(void *, const struct db_session *), void *arg,
		       char **cause);
/* S8's one explicit wipe: chain, head, usage, turns, resume failures
 * and metadata; keeps the row, id, name, pins and status. */
int store_session_reset(struct store *, const char *id, int64_t now,
			char **cause);
/* Delete a session and its chain; pointers to it become NULL. */
int store_session_delete(struct store *, const char *id, char **cause);

struct db_event_row {
	int64_t id, at, task_id, run_id, runner_id; /* 0 for NULL */
	enum event_kind kind;
	char *session_id, *detail;
};
void db_events_free(struct db_event_row *, size_t n);
/* The audit events of session id, oldest first (caller frees). */
int store_session_events(struct store *, const char *id, struct db_event_row **,
			 size_t *n, char **cause);
/* The runs made in session id, oldest first (caller frees with
 * db_runs_free; check_output is not read). */
int store_session_runs(struct store *, const char *id, struct db_run **runs,
		       size_t *n, char **cause);
/* The newest session whose predecessor is id (S10: its successor). */
int store_session_get_successor(struct store *, const char *id,
				struct db_session *, int *found, char **cause);

/*
 * `run --continue`: the session of project and os_user with a
 * conversation (a head) used most recently, of those that can go on:
 * an active or expired session of any kind but temp, or a temp session
 * that has ended.  *found is 0 for none.
 */
int store_session_get_last_used(struct store *, const char *project,
				const char *os_user, struct db_session *,
				int *found, char **cause);

/* ---- stats and reports (db-stats.c) ---- */
struct db_stats {
	int64_t by_status[TASK_NSTATUS]; /* by enum task_status */
	int64_t tasks, runs;
	int64_t p50_ms, p95_ms, max_ms; /* run wall durations */
	int64_t input_tokens, output_tokens;
	double cost_usd;
	int64_t resumes, resumes_ok; /* runs that resumed; and did not fail
					  to resume */
	int64_t fallbacks;	     /* fresh_after_failed_resume runs */
	int64_t retries;	     /* runs after a transient failure */
	int64_t task_retries;	     /* attempts beyond each task's first (task
				 retries, requeued interrupted tasks) */
	int64_t sessions_active;
	int64_t run_ms_sum; /* the durations added up */
	/* Tasks that ended other than completed, by reason (their status
	 * when they have none), sorted by name. */
	struct db_count *failure_reasons;
	size_t nfailure_reasons;
};
struct db_count {
	char *name;
	int64_t n;
};
/* Free what s holds (NULL-safe), leaving it zeroed. */
void db_stats_release(struct db_stats *s);

struct db_stats_filter {
	int64_t since;	      /* tasks created, runs started at or after */
	int64_t milestone_id; /* 0: any; else only that milestone's tasks,
				 their runs and their sessions */
	const char *batch_id; /* NULL: any; else only that batch's runs and
				 the tasks they ran (stats --batch) */
};
/* Statistics over the tasks f selects into *s (release it with
 * db_stats_release(), also after an error). */
int store_stats(struct store *, const struct db_stats_filter *f,
		struct db_stats *s, char **cause);

/* ---- housekeeping: prune, backup, vacuum (db/sqlite/prune.c, maint.c) ---- */

/*
 * `baton prune` a batch at a time (core/prune.c drives it): a batch is
 * listed by a read outside any transaction, then deleted inside a write
 * transaction of the caller's, which checks each row again.  A task is
 * prunable when its status is final and it finished before `before`; a
 * session when it is not active, not leased, ended before `before` and
 * no task or run refers to it (with assume_gone: none that is not
 * prunable itself, as a dry run sees it, the tasks being still there).
 */
struct db_prune_counts {
	int64_t tasks, runs, events, sessions, links;
};
/* Up to max prunable task ids above after, ascending, into ids[]. */
int store_prune_tasks_list(struct store *, int64_t before, int64_t after,
			   int64_t *ids, size_t max, size_t *n, char **cause);
/*
 * Delete the tasks of ids[] (ascending) that are still prunable, their
 * runs, and their events that name no session or one that is gone;
 * chain links lose their pointers to those runs.  gone[i] says whether
 * ids[i] went; counts are added to *c.  With count_only nothing changes
 * (no transaction needed) and gone[] and *c say what would go.
 */
int store_prune_tasks(struct store *, int64_t before, const int64_t *ids,
		      size_t n, int *gone, int count_only,
		      struct db_prune_counts *c, char **cause);
/* Up to max prunable session ids greater than after ("" or NULL for
 * the first), in id order, pushed to ids. */
int store_prune_sessions_list(struct store *, int64_t before, int assume_gone,
			      const char *after, struct strvec *ids, size_t max,
			      char **cause);
/*
 * Delete the sessions of ids still prunable, their chains and their
 * events that name no task or one that is gone; milestones and
 * successors pointing at them lose the pointer.  gone[i], *c and
 * count_only (which assumes the prunable tasks gone) as above.
 */
int store_prune_sessions(struct store *, int64_t before,
			 const struct strvec *ids, int *gone, int count_only,
			 struct db_prune_counts *c, char **cause);
/* *yes non-zero if task id exists. */
int store_task_exists(struct store *, int64_t id, int *yes, char **cause);
/*
 * The database's own facts (SPEC §9): "id" (its UUID, made when it was
 * created or migrated to schema 5), "legacy_files" ("1": its files are
 * still in the shared layout of schema 4).  *value is the caller's to
 * free, NULL when the key is not there.
 */
int store_meta_get(struct store *, const char *key, char **value, char **cause);
/* Delete a key (its own transaction); 0 also when it was not there. */
int store_meta_delete(struct store *, const char *key, char **cause);
/*
 * An online consistent copy of the database as the new file path
 * (created 0600; one that exists is refused with errno-like message),
 * made in steps from one snapshot so that writers go on meanwhile.
 * -BERR_FAIL with *cause for an engine that cannot (use its own tool).
 */
int store_backup(struct store *, const char *path, char **cause);
/* Rebuild the database to reclaim free space; *before and *after are
 * its size in bytes (files on disk; 0 where the engine cannot say). */
int store_vacuum(struct store *, int64_t *before, int64_t *after, char **cause);

/*
 * Waking idle workers: a file descriptor that becomes readable when work
 * may have come (another process added, requeued or finished a task), or
 * -1 when the engine has none (poll the store instead).  Polling stays
 * behind it: a wake-up is a hint, never the only way to see work.
 * store_wake_drain() consumes what arrived.  Outside transactions only.
 */
int store_wake_fd(struct store *);
void store_wake_drain(struct store *);

/*
 * Agents' output kept in the database (SPEC §10), for engines whose
 * readers may be on another machine than the log files: each run's
 * stdout ("out") and stderr ("err") as chunks written while it runs, a
 * chunk being the bytes of the stream from offset pos on.  What is kept
 * is capped (core/output.c): the head of the stream, a gap, and a tail
 * that rolls forward.  store_has_output() says whether the engine keeps
 * it (PostgreSQL; for SQLite the files next to the database are all
 * there is).
 */
int store_has_output(const struct store *);

/* One write of a run's output: up to two pieces (len 0: none), each
 * written once (a piece already there is left as it is); then the rows
 * from keep_head on that end at or before drop_to are deleted and one
 * that spans drop_to is cut there, so that bytes of the tail before
 * drop_to are no longer kept.  epoch: the task's lease (fenced, 0 for
 * none). */
struct db_output_put {
	int64_t run_id;
	const char *stream; /* "out" or "err" */
	int64_t epoch;
	int64_t pos[2];
	const char *data[2];
	size_t len[2];
	int64_t keep_head, drop_to;
};
/* 0, -BERR_LEASE (nothing written), or the store's error. */
int store_run_output_put(struct store *, const struct db_output_put *,
			 char **cause);

/* A chunk read back: len bytes of the stream at offset pos. */
struct db_output_chunk {
	int64_t pos;
	char *data;
	size_t len;
};
/*
 * The chunks of run's stream that end after offset from, in order
 * (*chunks, *n: the caller frees them with db_output_chunks_free).
 * *found is 1 if the engine keeps output and the run exists (its output
 * may be empty), 0 otherwise.
 */
int store_run_output_get(struct store *, int64_t run_id, const char *stream,
			 int64_t from, struct db_output_chunk **chunks,
			 size_t *n, int *found, char **cause);
void db_output_chunks_free(struct db_output_chunk *, size_t n);

/* ---- moving a queue between stores (baton db copy) ---- */

/* The tables a copy moves, in the order it writes them; NULL-terminated. */
extern const char *const store_copy_tables[];
/*
 * Call fn with each row of table in the order it was inserted: its
 * column names and values as text (NULL for SQL NULL).  Stops when fn
 * returns != 0.
 */
int store_rows_each(struct store *, const char *table,
		    int (*fn)(void *, int n, const char *const *cols,
			      const char *const *vals),
		    void *arg, char **cause);
/*
 * Start a copy into this store: a transaction whose foreign keys are
 * checked at its commit.  A store that has tasks, sessions, milestones
 * or runners already is refused (-BERR_USAGE).
 */
int store_copy_begin(struct store *, char **cause);
/* Insert one row as given, ids and all; columns this store does not
 * have are left out. */
int store_row_insert(struct store *, const char *table, int n,
		     const char *const *cols, const char *const *vals,
		     char **cause);
/* Commit the copy: the ids handed out next follow the copied ones. */
int store_copy_commit(struct store *, char **cause);

/* An engine: one function per operation above, same contracts. */
struct store_impl {
	const char *name; /* "sqlite" */
	void (*close)(struct store *st);
	const char *(*path)(const struct store *st);
	int (*begin)(struct store *st, char **cause);
	int (*begin_own)(struct store *st, char **cause);   /* NULL: begin */
	int (*begin_claim)(struct store *st, char **cause); /* NULL: begin */
	int (*commit)(struct store *st, char **cause);
	void (*rollback)(struct store *st);
	int (*integrity_check)(struct store *st, int *ok, char **report,
			       char **cause);
	uint64_t (*commits)(const struct store *st);
	int (*wal)(struct store *st, enum store_checkpoint mode,
		   struct store_wal *w, char **cause);
	int (*busy)(const struct store *st);
	int (*task_insert)(struct store *st, struct db_task *t, int64_t now,
			   int *existed, char **cause);
	/* NULL: task_insert, one by one */
	int (*task_insert_many)(struct store *st, struct db_task *ts, size_t n,
				int *existed, char **cause);
	int (*task_get)(struct store *st, int64_t id, struct db_task *a2,
			int *found, char **cause);
	int (*task_next)(struct store *st, int64_t milestone_id,
			 int64_t skip_after, int64_t *id, char **cause);
	int (*task_count_pending)(struct store *st, int64_t milestone_id,
				  int64_t *n, char **cause);
	int (*task_start)(struct store *st, int64_t id, int64_t runner_id,
			  const char *session_id, const char *agent,
			  const char *model, int64_t now, int64_t *epoch,
			  char **cause);
	int (*task_attempt)(struct store *st, int64_t id, int64_t epoch,
			    int attempts_add, int retries, char **cause);
	int (*task_finish)(struct store *st, int64_t id, int64_t epoch,
			   enum task_status a2, int has_exit, int exit_code,
			   const char *error, const char *reason, int64_t now,
			   char **cause);
	int (*task_add_usage)(struct store *st, int64_t id, int64_t epoch,
			      int iterations, int64_t in, int64_t out,
			      double cost, char **cause);
	int (*task_cancel_requested)(struct store *st, int64_t id,
				     int64_t epoch, int64_t session_epoch,
				     int *yes, int *held, char **cause);
	int (*task_cancel)(struct store *st, int64_t id, int64_t now,
			   int *found, enum task_status *status_out,
			   char **cause);
	int (*task_requeue)(struct store *st, int64_t id, unsigned from_mask,
			    int *done, char **cause);
	int (*task_unclaim)(struct store *st, int64_t id, int64_t runner_id,
			    int64_t run_id, int *done, char **cause);
	int (*task_each)(struct store *st, const struct db_task_filter *a1,
			 int (*fn)(void *, const struct db_task *), void *arg,
			 char **cause);
	int (*task_count)(struct store *st, const struct db_task_filter *f,
			  int64_t *n, char **cause);
	int (*task_count_by_status)(struct store *st,
				    const struct db_task_filter *f,
				    void (*fn)(void *, enum task_status,
					       int64_t),
				    void *arg, char **cause);
	int (*session_get)(struct store *st, const char *id,
			   struct db_session *a2, int *found, char **cause);
	int (*session_insert)(struct store *st, const struct db_session *s,
			      char **cause);
	int (*session_count_active)(struct store *st, int64_t limit, int64_t *n,
				    char **cause);
	int (*session_count_closing)(struct store *st, int64_t now, int64_t *n,
				     char **cause);
	int (*session_lease)(struct store *st, const char *id, int64_t runner,
			     int64_t task, int64_t now, int64_t expires,
			     int *got, int64_t *holder_task, int64_t *epoch,
			     char **cause);
	int (*session_unlease)(struct store *st, const char *id, int64_t epoch,
			       int64_t close_at, char **cause);
	int (*session_set_status)(struct store *st, const char *id,
				  enum session_status a2, int64_t now,
				  char **cause);
	int (*session_touch)(struct store *st, const char *id, int64_t now,
			     char **cause);
	int (*session_add_usage)(struct store *st, const char *id,
				 int64_t epoch, int turn, int64_t in,
				 int64_t out, int64_t cache_read,
				 int64_t cache_creation, double cost,
				 int64_t now, char **cause);
	int (*session_push_head)(struct store *st, const char *id,
				 int64_t epoch, const char *agent_session_id,
				 enum chain_edge a3, int64_t run_id,
				 int64_t now, char **cause);
	int (*session_resume_failed)(struct store *st, const char *id,
				     int64_t epoch, int limit, char **cause);
	int (*session_chain)(struct store *st, const char *id,
			     struct db_chain_link **links, size_t *n,
			     char **cause);
	int (*event)(struct store *st, enum event_kind a1,
		     const char *session_id, int64_t task_id, int64_t run_id,
		     int64_t runner_id, const char *detail, int64_t now,
		     char **cause);
	int (*run_insert)(struct store *st, struct db_run *r, int64_t epoch,
			  char **cause);
	int (*run_set_pid)(struct store *st, int64_t id, int64_t epoch,
			   int64_t pid, int64_t start, char **cause);
	int (*run_end)(struct store *st, const struct db_run *r, int64_t epoch,
		       char **cause);
	int (*run_list)(struct store *st, int64_t task_id, struct db_run **runs,
			size_t *n, char **cause);
	int (*runner_insert)(struct store *st, const struct db_runner *a1,
			     int64_t *id, char **cause);
	int (*runner_heartbeat)(struct store *st, int64_t id, int64_t now,
				int64_t lease_until, char **cause);
	int (*runner_exit)(struct store *st, int64_t id, int64_t now,
			   char **cause);
	int (*runner_alive_list)(struct store *st, struct db_runner **a1,
				 size_t *n, char **cause);
	int (*batch_find)(struct store *st, const char *prefix, char **id,
			  int *found, char **cause);
	int (*runner_reap)(struct store *st, int64_t id, int64_t now,
			   int requeue, int64_t seen_heartbeat,
			   struct db_orphan **orphans, size_t *n, char **cause);
	int (*milestone_get)(struct store *st, const char *name,
			     struct db_milestone *a2, int *found, char **cause);
	int (*milestone_get_id)(struct store *st, int64_t id,
				struct db_milestone *a2, int *found,
				char **cause);
	int (*milestone_insert)(struct store *st, struct db_milestone *a1,
				int64_t now, int *existed, char **cause);
	int (*milestone_set_session)(struct store *st, int64_t id,
				     const char *session_id, char **cause);
	int (*milestone_each)(struct store *st,
			      int (*fn)(void *, const struct db_milestone *),
			      void *arg, char **cause);
	int (*task_set_agent)(struct store *st, int64_t id, const char *agent,
			      const char *model, char **cause);
	int (*session_repin)(struct store *st, const char *id,
			     const char *agent, const char *model,
			     char **cause);
	int (*savepoint)(struct store *st, const char *name, char **cause);
	int (*savepoint_release)(struct store *st, const char *name,
				 char **cause);
	void (*savepoint_rollback)(struct store *st, const char *name);
	int (*run_set_check)(struct store *st, int64_t id, int64_t epoch,
			     int exit_code, const char *output, char **cause);
	int (*doctor)(struct store *st, int fix, int64_t now,
		      void (*fn)(void *, const char *kind, const char *what),
		      void *arg, int *problems, char **cause);
	int (*session_get_latest_by_name)(struct store *st, const char *name,
					  struct db_session *a2, int *found,
					  char **cause);
	int (*session_get_by_prefix)(struct store *st, const char *prefix,
				     struct db_session *a2, int *found,
				     char **cause);
	int (*session_each)(struct store *st,
			    const struct db_session_filter *a1,
			    int (*fn)(void *, const struct db_session *),
			    void *arg, char **cause);
	int (*session_reset)(struct store *st, const char *id, int64_t now,
			     char **cause);
	int (*session_delete)(struct store *st, const char *id, char **cause);
	int (*session_events)(struct store *st, const char *id,
			      struct db_event_row **a2, size_t *n,
			      char **cause);
	int (*session_runs)(struct store *st, const char *id,
			    struct db_run **runs, size_t *n, char **cause);
	int (*session_get_successor)(struct store *st, const char *id,
				     struct db_session *a2, int *found,
				     char **cause);
	int (*stats)(struct store *st, const struct db_stats_filter *f,
		     struct db_stats *a2, char **cause);
	int (*prune_tasks_list)(struct store *st, int64_t before, int64_t after,
				int64_t *ids, size_t max, size_t *n,
				char **cause);
	int (*prune_tasks)(struct store *st, int64_t before, const int64_t *ids,
			   size_t n, int *gone, int count_only,
			   struct db_prune_counts *c, char **cause);
	int (*prune_sessions_list)(struct store *st, int64_t before,
				   int assume_gone, const char *after,
				   struct strvec *ids, size_t max,
				   char **cause);
	int (*prune_sessions)(struct store *st, int64_t before,
			      const struct strvec *ids, int *gone,
			      int count_only, struct db_prune_counts *c,
			      char **cause);
	int (*task_exists)(struct store *st, int64_t id, int *yes,
			   char **cause);
	int (*meta_get)(struct store *st, const char *key, char **value,
			char **cause);
	int (*meta_delete)(struct store *st, const char *key, char **cause);
	/* NULL: not supported by this engine */
	int (*backup)(struct store *st, const char *path, char **cause);
	int (*vacuum)(struct store *st, int64_t *before, int64_t *after,
		      char **cause);
	int (*session_get_last_used)(struct store *st, const char *project,
				     const char *os_user, struct db_session *a3,
				     int *found, char **cause);
	/* NULL: no wake-ups (store_wake_fd() is -1) */
	int (*wake_fd)(struct store *st);
	void (*wake_drain)(struct store *st);
	/* NULL: output not kept in the database */
	int (*run_output_put)(struct store *st, const struct db_output_put *o,
			      char **cause);
	int (*run_output_get)(struct store *st, int64_t run_id,
			      const char *stream, int64_t from,
			      struct db_output_chunk **chunks, size_t *n,
			      int *found, char **cause);
	int (*rows_each)(struct store *st, const char *table,
			 int (*fn)(void *, int n, const char *const *cols,
				   const char *const *vals),
			 void *arg, char **cause);
	int (*copy_begin)(struct store *st, char **cause);
	int (*row_insert)(struct store *st, const char *table, int n,
			  const char *const *cols, const char *const *vals,
			  char **cause);
	int (*copy_commit)(struct store *st, char **cause);
};

#endif
