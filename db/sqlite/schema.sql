-- baton schema, version 1.  Times are integer milliseconds since the
-- epoch (UTC); the JSON output turns them into RFC 3339 strings.
-- Migrations after this one live in db/sqlite/open.c (migrations[]),
-- each a step from version N to N+1, run in one transaction on open;
-- read them with this file for the whole schema (2: runs.answer).
--
-- CHECKs list values as `x = 'a' OR x = 'b' ...`, not `x IN (...)`:
-- SQLite builds a temporary index for an IN list of more than two
-- constants each time it checks the constraint, that is on every INSERT
-- and on every UPDATE of the column (a quarter of the instructions
-- `baton work` spent per task; see bench/notes.md).  Version 1 was not
-- released when this was changed; a later change of a CHECK needs a
-- migration that rebuilds the table.

-- A runner is one baton process executing tasks (run or work).
CREATE TABLE runners (
	id            INTEGER PRIMARY KEY,
	pid           INTEGER NOT NULL,
	host          TEXT    NOT NULL,
	boot_id       TEXT    NOT NULL DEFAULT '',
	proc_start    INTEGER NOT NULL, -- /proc/PID/stat starttime
	started_at    INTEGER NOT NULL,
	heartbeat_at  INTEGER NOT NULL,
	ended_at      INTEGER,
	status        TEXT    NOT NULL DEFAULT 'alive'
		CHECK (status = 'alive' OR status = 'exited'
		       OR status = 'dead'),
	command       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runners_alive ON runners(id) WHERE status = 'alive';

CREATE TABLE milestones (
	id            INTEGER PRIMARY KEY,
	name          TEXT    NOT NULL UNIQUE,
	session_mode  TEXT    NOT NULL DEFAULT 'shared'
		CHECK (session_mode = 'shared' OR session_mode = 'per-task'),
	session_id    TEXT    REFERENCES sessions(id),
	created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
	id              TEXT    PRIMARY KEY, -- lower-case UUID
	kind            TEXT    NOT NULL
		CHECK (kind = 'temp' OR kind = 'milestone'
		       OR kind = 'named' OR kind = 'agent'),
	name            TEXT,
	milestone_id    INTEGER REFERENCES milestones(id),
	agent           TEXT    NOT NULL,
	model           TEXT,
	project         TEXT    NOT NULL,
	workdir         TEXT    NOT NULL,
	os_user         TEXT    NOT NULL,
	status          TEXT    NOT NULL DEFAULT 'active'
		CHECK (status = 'active' OR status = 'closed'
		       OR status = 'expired' OR status = 'abandoned'),
	head            TEXT,   -- newest agent session id of the chain
	turns           INTEGER NOT NULL DEFAULT 0,
	input_tokens    INTEGER NOT NULL DEFAULT 0,
	output_tokens   INTEGER NOT NULL DEFAULT 0,
	cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
	cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
	cost_usd        REAL    NOT NULL DEFAULT 0,
	resume_failures INTEGER NOT NULL DEFAULT 0,
	resumable       INTEGER NOT NULL DEFAULT 1,
	predecessor     TEXT    REFERENCES sessions(id),
	metadata        TEXT    NOT NULL DEFAULT '{}',
	lease_runner    INTEGER REFERENCES runners(id),
	lease_task      INTEGER,
	lease_expires   INTEGER,
	created_at      INTEGER NOT NULL,
	last_used_at    INTEGER NOT NULL,
	closed_at       INTEGER
);
-- A name belongs to at most one active session; an expired one keeps its
-- name for the record while its successor takes it over.
CREATE UNIQUE INDEX sessions_active_name ON sessions(name)
	WHERE name IS NOT NULL AND status = 'active';
CREATE INDEX sessions_status ON sessions(status, last_used_at);
CREATE INDEX sessions_lease ON sessions(lease_runner)
	WHERE lease_runner IS NOT NULL;
CREATE INDEX sessions_predecessor ON sessions(predecessor)
	WHERE predecessor IS NOT NULL;

-- Every agent session id a baton session has seen; the newest is the head.
CREATE TABLE session_chain (
	id               INTEGER PRIMARY KEY,
	session_id       TEXT    NOT NULL REFERENCES sessions(id),
	agent_session_id TEXT    NOT NULL,
	edge             TEXT    NOT NULL
		CHECK (edge = 'first' OR edge = 'resume' OR edge = 'fork'
		       OR edge = 'reset'
		       OR edge = 'fresh_after_failed_resume'),
	run_id           INTEGER REFERENCES runs(id),
	created_at       INTEGER NOT NULL
);
CREATE INDEX session_chain_session ON session_chain(session_id, id);
-- Deleting a run (prune) looks up the links that point at it.
CREATE INDEX session_chain_run ON session_chain(run_id)
	WHERE run_id IS NOT NULL;

-- AUTOINCREMENT: a task id is never handed out twice, also after prune
-- deleted the newest tasks, so that logs/<task>/ left by a prune that
-- crashed between its rows and its files never meets a new task.
CREATE TABLE tasks (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	key             TEXT    UNIQUE,
	title           TEXT,
	prompt          TEXT    NOT NULL,
	status          TEXT    NOT NULL DEFAULT 'pending'
		CHECK (status = 'pending' OR status = 'running'
		       OR status = 'completed' OR status = 'failed'
		       OR status = 'cancelled' OR status = 'timed_out'
		       OR status = 'interrupted'),
	-- agent and model as asked for (NULL: not asked); set to the
	-- effective ones when the task starts (S9)
	agent           TEXT,
	model           TEXT,
	workdir         TEXT    NOT NULL,
	project         TEXT    NOT NULL,
	milestone_id    INTEGER REFERENCES milestones(id),
	session_req     TEXT,   -- --session NAME|UUID as given
	new_session     INTEGER NOT NULL DEFAULT 0,
	-- Tasks with the same non-NULL queue run one at a time, in id order
	-- (S6): "s:NAME", "u:UUID" or "m:MILESTONE-ID".
	queue           TEXT,
	session_id      TEXT    REFERENCES sessions(id),
	timeout_ms      INTEGER,
	check_cmd       TEXT,
	max_iterations  INTEGER NOT NULL DEFAULT 1,
	max_attempts    INTEGER NOT NULL DEFAULT 2,
	force_agent     INTEGER NOT NULL DEFAULT 0,
	allow_foreign   INTEGER NOT NULL DEFAULT 0,
	attempts        INTEGER NOT NULL DEFAULT 0,
	iterations      INTEGER NOT NULL DEFAULT 0,
	exit_code       INTEGER,
	error           TEXT,
	reason          TEXT,   -- machine-readable: max_iterations, timeout, ...
	runner_id       INTEGER REFERENCES runners(id),
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	input_tokens    INTEGER NOT NULL DEFAULT 0,
	output_tokens   INTEGER NOT NULL DEFAULT 0,
	cost_usd        REAL    NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	started_at      INTEGER,
	finished_at     INTEGER
);
-- Claiming the next pending task (status = 'pending', the lowest id),
-- listing by status and the reaper's running tasks stay index lookups
-- at a million rows (tests/cli/plan.bats).
CREATE INDEX tasks_status ON tasks(status, id);
CREATE INDEX tasks_queue ON tasks(queue, id) WHERE queue IS NOT NULL;
CREATE INDEX tasks_milestone ON tasks(milestone_id, id)
	WHERE milestone_id IS NOT NULL;
-- Which tasks use a session: prune and session gc, and the foreign key
-- check when a session is deleted, without a scan of every task.
CREATE INDEX tasks_session ON tasks(session_id) WHERE session_id IS NOT NULL;

CREATE TABLE runs (
	id               INTEGER PRIMARY KEY,
	task_id          INTEGER NOT NULL REFERENCES tasks(id),
	attempt          INTEGER NOT NULL,
	iteration        INTEGER NOT NULL,
	session_id       TEXT    REFERENCES sessions(id),
	agent_session_in TEXT,
	agent_session_out TEXT,
	resume_outcome   TEXT
		CHECK (resume_outcome = 'new'
		       OR resume_outcome = 'resumed'
		       OR resume_outcome = 'fresh_after_failed_resume'),
	runner_id        INTEGER REFERENCES runners(id),
	pid              INTEGER,
	proc_start       INTEGER,
	started_at       INTEGER NOT NULL,
	ended_at         INTEGER,
	exit_code        INTEGER,
	signal           INTEGER,
	outcome          TEXT, -- success failed transient resume_failed
			       -- timed_out cancelled error interrupted
	error            TEXT,
	input_tokens     INTEGER NOT NULL DEFAULT 0,
	output_tokens    INTEGER NOT NULL DEFAULT 0,
	cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
	cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
	cost_usd         REAL    NOT NULL DEFAULT 0,
	num_turns        INTEGER,
	duration_ms      INTEGER,
	check_exit_code  INTEGER,
	check_output     TEXT
);
CREATE INDEX runs_task ON runs(task_id, id);
CREATE INDEX runs_session ON runs(session_id) WHERE session_id IS NOT NULL;

-- The audit trail: create, resume, fallback, expire, reset, close, repin,
-- foreign, reap, cancel, ...
CREATE TABLE events (
	id         INTEGER PRIMARY KEY,
	at         INTEGER NOT NULL,
	kind       TEXT    NOT NULL,
	session_id TEXT,
	task_id    INTEGER,
	run_id     INTEGER,
	runner_id  INTEGER,
	detail     TEXT
);
CREATE INDEX events_session ON events(session_id, id)
	WHERE session_id IS NOT NULL;
CREATE INDEX events_task ON events(task_id, id) WHERE task_id IS NOT NULL;
