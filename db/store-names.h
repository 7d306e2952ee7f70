#ifndef BATON_STORE_NAMES_H
#define BATON_STORE_NAMES_H

/*
 * The states and kinds a store records, each an enum with one name
 * table (db/store-names.c).  The names are what the database holds and
 * what JSON and the CLI show (SPEC §6.1): never rename one.  *_parse
 * returns 0 and sets *out, or -1 for a name that is not in the table.
 */

enum task_status {
	TASK_PENDING,
	TASK_RUNNING,
	TASK_COMPLETED,
	TASK_FAILED,
	TASK_CANCELLED,
	TASK_TIMED_OUT,
	TASK_INTERRUPTED,
};
#define TASK_NSTATUS 7
const char *task_status_name(enum task_status);
int task_status_parse(const char *, enum task_status *out);
/* Finished: completed, failed, cancelled, timed_out or interrupted. */
int task_status_final(enum task_status);
/* May be requeued by `baton retry`: failed, cancelled, timed_out,
 * interrupted. */
int task_status_retryable(enum task_status);

/* How a run ended (runs.outcome); RUN_OPEN while it runs. */
enum run_outcome {
	RUN_OPEN,
	RUN_SUCCESS,
	RUN_FAILED,
	RUN_TRANSIENT,
	RUN_RESUME_FAILED,
	RUN_CONFIG_ERROR,
	RUN_BAD_OUTPUT,
	RUN_TIMED_OUT,
	RUN_CANCELLED,
	RUN_ERROR,
	RUN_INTERRUPTED,
};
const char *run_outcome_name(enum run_outcome);
int run_outcome_parse(const char *, enum run_outcome *out);

/* What a run did with its session's conversation (S13). */
enum resume_outcome {
	RESUME_NONE, /* not recorded */
	RESUME_NEW,
	RESUME_RESUMED,
	RESUME_FRESH_AFTER_FAILED,
};
const char *resume_outcome_name(enum resume_outcome);
int resume_outcome_parse(const char *, enum resume_outcome *out);

enum session_kind {
	SESSION_TEMP,
	SESSION_MILESTONE,
	SESSION_NAMED,
	SESSION_AGENT,
};
const char *session_kind_name(enum session_kind);
int session_kind_parse(const char *, enum session_kind *out);

enum session_status {
	SESSION_ACTIVE,
	SESSION_CLOSED,
	SESSION_EXPIRED,
	SESSION_ABANDONED,
};
const char *session_status_name(enum session_status);
int session_status_parse(const char *, enum session_status *out);

/* The edge by which an agent session id joined a chain (S5). */
enum chain_edge {
	EDGE_FIRST,
	EDGE_RESUME,
	EDGE_FORK,
	EDGE_RESET,
	EDGE_FRESH_AFTER_FAILED_RESUME,
};
const char *chain_edge_name(enum chain_edge);
int chain_edge_parse(const char *, enum chain_edge *out);

/* Audit events (the events table). */
enum event_kind {
	EVENT_CREATE,
	EVENT_RESUME,
	EVENT_FALLBACK,
	EVENT_EXPIRE,
	EVENT_FOREIGN,
	EVENT_REPIN,
	EVENT_RESET,
	EVENT_CLOSE,
	EVENT_PRUNE,
	EVENT_REFUSED,
	EVENT_CONTINUE,
	EVENT_FORK,
};
const char *event_kind_name(enum event_kind);
int event_kind_parse(const char *, enum event_kind *out);

#endif
