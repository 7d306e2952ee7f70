/*
 * audit-floor DB N J MODE: run /bin/true N times, at most J at a time,
 * with posix_spawn() and waitpid() as bench/spawn-floor.c does, and write
 * per task in the SQLite database DB (made by `baton add --from` with N
 * pending tasks of agent `t`):
 *
 *   none     nothing: the spawn floor, in this program's loop;
 *   minimal  two one-row commits a task, one after the spawn and one
 *            after the exit: the "minimal runner" of issue 12;
 *   audit    baton's own statements of a task, as its SQLite store runs
 *            them (a snapshot, traced with sqlite3_trace_v2() from commit
 *            884458b, with the pid in the run's end as since e54bdfb), in
 *            baton's one transaction a task for an agent that ends
 *            within 50 ms: the run's and the task's end, the agent's
 *            pid with them, and the claim of the next task;
 *   merged   the same rows and the same transaction with one statement
 *            a row (the fewest any code could run);
 *   bare     merged, in a database without the secondary indexes the
 *            claim does not use (all but tasks_status and runs_task):
 *            what the rows cost without the indexes that serve
 *            `show`, `log`, `report`, `session` and the reaper.
 *
 * It measures what the audit trail costs by itself, without the rest of
 * baton: bench/audit-floor compares it with the floor and with `baton
 * work`.  The statements are a copy: when the store's change, trace them
 * again (docs/performance.md, "What the audit trail costs").
 *
 * Exit status: 0, or 2 on a usage, spawn or SQLite error.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <sqlite3.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

extern char **environ;

enum mode { M_NONE, M_MINIMAL, M_AUDIT, M_MERGED, M_BARE };

/* The statements.  Parameters: :sid session id, :tid task id, :rid run
 * id, :pid, :now, :exp (the lease's expiry). */
enum {
	S_BEGIN,
	S_COMMIT,
	S_SP_NEXT,
	S_RL_NEXT,
	S_SP_CLAIM,
	S_RL_CLAIM,
	S_PICK,
	S_LOAD,
	S_COUNT,
	S_SESSION,
	S_CREATED,
	S_LEASE,
	S_START,
	S_LOAD_SESSION,
	S_RUN,
	S_RUN_END,
	S_HEAD,
	S_CHAIN,
	S_SESSION_USAGE,
	S_TASK_USAGE,
	S_TASK_END,
	S_RELEASE,
	S_CLOSED,
	S_LEASED_SESSION,
	S_SESSION_END,
	S_TASK_DONE,
	S_MIN_PID,
	S_MIN_END,
	S_COUNT_OF
};

/* clang-format off */
#define ACTIVE_RUNNER "EXISTS (SELECT 1 FROM runners r WHERE r.id = 1 AND r.status = 'alive')"
#define RUN_FENCE "(1 = 0 OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = runs.task_id AND t.lease_epoch = 1 AND t.status = 'running'))"
#define SESSION_FENCE "(1 = 0 OR (lease_epoch = 1 AND lease_runner IS NOT NULL))"
#define TASK_FENCE "(1 = 0 OR (lease_epoch = 1 AND status = 'running'))"
#define CAP(c) "min(max(0, min(coalesce(" c ", 0), 9007199254740991)) + 0, 9007199254740991)"
static const char *const sql[S_COUNT_OF] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_SP_NEXT] = "SAVEPOINT \"next\"",
	[S_RL_NEXT] = "RELEASE \"next\"",
	[S_SP_CLAIM] = "SAVEPOINT \"claim\"",
	[S_RL_CLAIM] = "RELEASE \"claim\"",
	[S_PICK] = "SELECT t.id FROM tasks t INDEXED BY tasks_status WHERE t.status = 'pending' AND t.id > 0 AND (0 = 0 OR t.milestone_id = 0) AND (t.queue IS NULL OR NOT EXISTS (SELECT 1 FROM tasks u WHERE u.queue = t.queue AND u.id <> t.id AND (u.status = 'running' OR (u.status = 'pending' AND u.id < t.id)))) ORDER BY t.id LIMIT 1",
	[S_LOAD] = "SELECT t.id, t.key, t.title, t.prompt, t.status, t.agent, t.model, t.workdir, t.project, t.milestone_id, m.name, t.session_req, t.new_session, t.queue, t.session_id, t.timeout_ms, t.check_cmd, t.max_iterations, t.max_attempts, t.force_agent, t.allow_foreign, t.attempts, t.iterations, t.exit_code, t.error, t.reason, t.runner_id, t.cancel_requested, t.input_tokens, t.output_tokens, t.cost_usd, t.created_at, t.started_at, t.finished_at, coalesce(t.retries, -1), coalesce(t.max_cost, 0), (SELECT r.answer FROM runs r WHERE r.task_id = t.id ORDER BY r.id DESC LIMIT 1) FROM tasks t LEFT JOIN milestones m ON m.id = t.milestone_id WHERE t.id = :tid",
	[S_COUNT] = "SELECT count(*) FROM sessions WHERE status = 'active'",
	[S_SESSION] = "INSERT INTO sessions (id, kind, name, milestone_id, agent, model, project, workdir, os_user, status, predecessor, metadata, created_at, last_used_at) VALUES (:sid, 'temp', NULL, NULL, 't', NULL, '/tmp', '/tmp', 'root', 'active', NULL, coalesce(NULL, '{}'), :now, :now)",
	[S_CREATED] = "INSERT INTO events (at, kind, session_id, task_id, run_id, runner_id, detail) VALUES (:now, 'create', :sid, :tid, NULL, 1, 'temp, agent t')",
	[S_LEASE] = "UPDATE sessions SET lease_runner = 1, lease_task = :tid, lease_expires = :exp, last_used_at = :now, lease_epoch = lease_epoch + 1 WHERE id = :sid AND (lease_runner IS NULL OR lease_expires < :now OR (lease_runner = 1 AND lease_task = :tid) OR NOT EXISTS (SELECT 1 FROM runners r WHERE r.id = lease_runner AND r.status = 'alive')) RETURNING lease_epoch",
	[S_START] = "UPDATE tasks SET status = 'running', runner_id = 1, session_id = :sid, attempts = attempts + 1, started_at = :now, finished_at = NULL, exit_code = NULL, error = NULL, reason = NULL, cancel_requested = 0, lease_epoch = lease_epoch + 1, agent = coalesce('t', agent), model = CASE WHEN 't' IS NULL THEN model ELSE NULL END WHERE id = :tid AND (1 IS NULL OR " ACTIVE_RUNNER ") RETURNING lease_epoch",
	[S_LOAD_SESSION] = "SELECT id, kind, name, milestone_id, agent, model, project, workdir, os_user, status, head, turns, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd, resume_failures, resumable, predecessor, metadata, lease_runner, lease_task, lease_expires, created_at, last_used_at, closed_at FROM sessions WHERE id = :sid",
	[S_RUN] = "INSERT INTO runs (task_id, attempt, iteration, session_id, agent_session_in, resume_outcome, runner_id, started_at, batch_id) SELECT :tid, 1, 1, :sid, :sid, 'new', 1, :now, (SELECT batch_id FROM runners WHERE id = 1) WHERE (1 = 0 OR EXISTS (SELECT 1 FROM tasks t WHERE t.id = :tid AND t.lease_epoch = 1 AND t.status = 'running')) RETURNING id",
	[S_RUN_END] = "UPDATE runs SET ended_at = :now, exit_code = 0, signal = NULL, outcome = 'success', error = NULL, input_tokens = 0, output_tokens = 0, cache_read_tokens = 0, cache_creation_tokens = 0, cost_usd = 0.0, num_turns = NULL, duration_ms = 1, agent_session_out = :sid, resume_outcome = 'new', check_exit_code = NULL, check_output = NULL, answer = NULL, output_truncated = 0, pid = coalesce(:pid, pid), proc_start = coalesce(1, proc_start) WHERE id = :rid AND " RUN_FENCE,
	[S_HEAD] = "UPDATE sessions SET head = :sid WHERE id = :sid AND " SESSION_FENCE,
	[S_CHAIN] = "INSERT INTO session_chain (session_id, agent_session_id, edge, run_id, created_at) VALUES (:sid, :sid, 'first', :rid, :now)",
	[S_SESSION_USAGE] = "UPDATE sessions SET turns = min(max(0, min(coalesce(turns, 0), 9007199254740991)) + 1, 9007199254740991), input_tokens = " CAP("input_tokens") ", output_tokens = " CAP("output_tokens") ", cache_read_tokens = " CAP("cache_read_tokens") ", cache_creation_tokens = " CAP("cache_creation_tokens") ", cost_usd = min(max(0, coalesce(cost_usd, 0)) + 0.0, 1e12), last_used_at = :now WHERE id = :sid AND " SESSION_FENCE,
	[S_TASK_USAGE] = "UPDATE tasks SET iterations = max(iterations, 1), input_tokens = " CAP("input_tokens") ", output_tokens = " CAP("output_tokens") ", cost_usd = min(max(0, coalesce(cost_usd, 0)) + 0.0, 1e12) WHERE id = :tid AND " TASK_FENCE,
	[S_TASK_END] = "UPDATE tasks SET status = 'completed', exit_code = 0, error = NULL, reason = NULL, finished_at = :now, runner_id = NULL WHERE id = :tid AND " TASK_FENCE,
	[S_RELEASE] = "UPDATE sessions SET lease_runner = NULL, lease_task = NULL, lease_expires = NULL, status = CASE WHEN :now = 0 THEN status ELSE 'closed' END, last_used_at = CASE WHEN :now = 0 THEN last_used_at ELSE max(last_used_at, :now) END, closed_at = CASE WHEN :now = 0 THEN closed_at ELSE :now END WHERE id = :sid AND " SESSION_FENCE,
	[S_CLOSED] = "INSERT INTO events (at, kind, session_id, task_id, run_id, runner_id, detail) VALUES (:now, 'close', :sid, :tid, NULL, 1, 'completed')",
	[S_LEASED_SESSION] = "INSERT INTO sessions (id, kind, name, milestone_id, agent, model, project, workdir, os_user, status, predecessor, metadata, created_at, last_used_at, lease_runner, lease_task, lease_expires, lease_epoch) VALUES (:sid, 'temp', NULL, NULL, 't', NULL, '/tmp', '/tmp', 'root', 'active', NULL, '{}', :now, :now, 1, :tid, :exp, 1)",
	[S_SESSION_END] = "UPDATE sessions SET head = :sid, turns = turns + 1, last_used_at = :now, lease_runner = NULL, lease_task = NULL, lease_expires = NULL, status = 'closed', closed_at = :now WHERE id = :sid AND lease_epoch = 1 AND lease_runner IS NOT NULL",
	[S_TASK_DONE] = "UPDATE tasks SET iterations = max(iterations, 1), status = 'completed', exit_code = 0, error = NULL, reason = NULL, finished_at = :now, runner_id = NULL WHERE id = :tid AND " TASK_FENCE,
	[S_MIN_PID] = "UPDATE runners SET heartbeat_at = :now WHERE id = 1",
	[S_MIN_END] = "UPDATE runners SET heartbeat_at = :now + 1 WHERE id = 1",
};
/* clang-format on */

struct slot {
	pid_t pid;   /* running, or 0 */
	pid_t agent; /* the last one spawned */
	char sid[37];
	long long tid, rid;
};

static sqlite3 *h;
static sqlite3_stmt *stmts[S_COUNT_OF];
static const struct slot *cur;
static long long now;

static void
die(const char *what)
{
	fprintf(stderr, "audit-floor: %s: %s\n", what, sqlite3_errmsg(h));
	exit(2);
}

static void
bind_all(sqlite3_stmt *st)
{
	int i, n = sqlite3_bind_parameter_count(st);

	for (i = 1; i <= n; i++) {
		const char *p = sqlite3_bind_parameter_name(st, i);

		if (strcmp(p, ":sid") == 0)
			sqlite3_bind_text(st, i, cur->sid, -1, SQLITE_STATIC);
		else if (strcmp(p, ":tid") == 0)
			sqlite3_bind_int64(st, i, cur->tid);
		else if (strcmp(p, ":rid") == 0)
			sqlite3_bind_int64(st, i, cur->rid);
		else if (strcmp(p, ":pid") == 0)
			sqlite3_bind_int64(st, i, cur->agent);
		else if (strcmp(p, ":now") == 0)
			sqlite3_bind_int64(st, i, now);
		else if (strcmp(p, ":exp") == 0)
			sqlite3_bind_int64(st, i, now + 60000);
	}
}

/* Run statement s (prepared once); its first row's first column, or -1. */
static long long
run(int s)
{
	sqlite3_stmt *st = stmts[s];
	long long v = -1;
	int rc;

	if (st == NULL) {
		if (sqlite3_prepare_v3(h, sql[s], -1, SQLITE_PREPARE_PERSISTENT,
				       &stmts[s], NULL) != SQLITE_OK)
			die(sql[s]);
		st = stmts[s];
	}
	bind_all(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (v < 0)
			v = sqlite3_column_int64(st, 0);
	if (rc != SQLITE_DONE)
		die(sql[s]);
	sqlite3_reset(st);
	return v;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The claim of the next pending task into s; 0 if there is none. */
static int
claim(struct slot *s, enum mode m)
{
	uuid_t u;

	cur = s;
	if (m == M_AUDIT)
		run(S_SP_NEXT);
	if ((s->tid = run(S_PICK)) < 0) {
		if (m == M_AUDIT)
			run(S_RL_NEXT);
		return 0;
	}
	uuid_generate_random(u);
	uuid_unparse_lower(u, s->sid);
	run(S_LOAD);
	if (m >= M_MERGED) {
		run(S_LEASED_SESSION);
		run(S_CREATED);
		run(S_START);
		s->rid = run(S_RUN);
		return 1;
	}
	run(S_SP_CLAIM);
	run(S_COUNT);
	run(S_SESSION);
	run(S_CREATED);
	run(S_LEASE);
	run(S_START);
	run(S_RL_CLAIM);
	run(S_LOAD);
	run(S_LOAD_SESSION);
	s->rid = run(S_RUN);
	run(S_RL_NEXT);
	return 1;
}

/* The end of the task in s. */
static void
finish(const struct slot *s, enum mode m)
{
	cur = s;
	run(S_RUN_END);
	if (m >= M_MERGED) {
		run(S_CHAIN);
		run(S_SESSION_END);
		run(S_TASK_DONE);
		run(S_CLOSED);
		return;
	}
	run(S_HEAD);
	run(S_CHAIN);
	run(S_SESSION_USAGE);
	run(S_TASK_USAGE);
	run(S_TASK_END);
	run(S_RELEASE);
	run(S_CLOSED);
}

static enum mode
parse_mode(const char *s)
{
	static const char *const names[] = {"none", "minimal", "audit",
					    "merged", "bare"};
	size_t i;

	for (i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum mode)i;
	fprintf(stderr, "audit-floor: unknown mode '%s'\n", s);
	exit(2);
}

/* Drop every secondary index but the claim's. */
static void
drop_indexes(void)
{
	sqlite3_stmt *st;
	char *q;

	for (;;) {
		if (sqlite3_prepare_v2(h,
				       "SELECT name FROM sqlite_master WHERE "
				       "type = 'index' AND sql IS NOT NULL AND "
				       "name NOT IN ('tasks_status', "
				       "'runs_task') LIMIT 1",
				       -1, &st, NULL) != SQLITE_OK)
			die("the indexes");
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			return;
		}
		q = sqlite3_mprintf("DROP INDEX \"%w\"",
				    (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		if (sqlite3_exec(h, q, NULL, NULL, NULL) != SQLITE_OK)
			die(q);
		sqlite3_free(q);
	}
}

static void
open_db(const char *path)
{
	if (sqlite3_open(path, &h) != SQLITE_OK)
		die(path);
	/* baton's pragmas (db/sqlite/open.c) */
	if (sqlite3_exec(
		    h,
		    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		    "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
		    "PRAGMA cache_size = -2048;"
		    "INSERT OR IGNORE INTO runners (id, pid, host, boot_id,"
		    " proc_start, started_at, heartbeat_at, batch_id)"
		    " VALUES (1, 1, 'host', 'boot', 1, 1, 1, 'batch')",
		    NULL, NULL, NULL) != SQLITE_OK)
		die("the pragmas");
}

/* Spawn /bin/true into s and write what mode m writes after a spawn. */
static void
start(struct slot *s, enum mode m)
{
	static char *const argv[] = {"/bin/true", NULL};
	int error;

	if ((error = posix_spawn(&s->pid, argv[0], NULL, NULL, argv,
				 environ)) != 0) {
		fprintf(stderr, "audit-floor: cannot run /bin/true: %s\n",
			strerror(error));
		exit(2);
	}
	s->agent = s->pid;
	if (m != M_MINIMAL)
		return;
	cur = s;
	now = now_ms();
	run(S_BEGIN);
	run(S_MIN_PID);
	run(S_COMMIT);
}

int
main(int argc, char **argv)
{
	struct slot *slots;
	long n, j, started = 0, running = 0, i;
	enum mode m;
	int status, more = 1;
	pid_t pid;

	if (argc != 5 || (n = atol(argv[2])) < 1 || (j = atol(argv[3])) < 1 ||
	    j > 64) {
		fprintf(stderr, "usage: audit-floor DB N J "
				"none|minimal|audit|merged|bare\n");
		return 2;
	}
	m = parse_mode(argv[4]);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* as baton does */
	open_db(argv[1]);
	if (m == M_BARE)
		drop_indexes();
	slots = calloc((size_t)j, sizeof *slots);
	if (slots == NULL)
		return 2;
	/* the first claims, one transaction each */
	for (i = 0; i < j && i < n; i++) {
		now = now_ms();
		if (m >= M_AUDIT) {
			run(S_BEGIN);
			more = claim(&slots[i], m);
			run(S_COMMIT);
			if (!more)
				break;
		}
		start(&slots[i], m);
		started++;
		running++;
	}
	while (running > 0) {
		if ((pid = waitpid(-1, &status, 0)) == -1) {
			perror("audit-floor: waitpid");
			return 2;
		}
		for (i = 0; i < j && slots[i].pid != pid; i++)
			;
		if (i == j)
			continue;
		running--;
		slots[i].pid = 0;
		now = now_ms();
		more = started < n;
		if (m != M_NONE)
			run(S_BEGIN);
		if (m >= M_AUDIT) {
			finish(&slots[i], m);
			more = more && claim(&slots[i], m);
		} else if (m == M_MINIMAL)
			run(S_MIN_END);
		if (m != M_NONE)
			run(S_COMMIT);
		if (more) {
			start(&slots[i], m);
			started++;
			running++;
		}
	}
	for (i = 0; i < S_COUNT_OF; i++)
		sqlite3_finalize(stmts[i]);
	sqlite3_close(h);
	free(slots);
	return 0;
}
