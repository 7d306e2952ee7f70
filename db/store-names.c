/*
 * The one name table of each state and kind (db/store-names.h).
 */
#include <stddef.h>
#include <string.h>

#include "db/store-names.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *
name_of(const char *const *names, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n || names[v] == NULL)
		return "?";
	return names[v];
}

static int
parse_name(const char *const *names, size_t n, const char *s, int *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (names[i] != NULL && strcmp(names[i], s) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return -1;
}

/* One name table and its two functions per enum. */
#define NAMES(type, prefix, ...)                                               \
	static const char *const prefix##_names[] = {__VA_ARGS__};             \
	const char *prefix##_name(enum type v)                                 \
	{                                                                      \
		return name_of(prefix##_names, NELEM(prefix##_names), (int)v); \
	}                                                                      \
	int prefix##_parse(const char *s, enum type *out)                      \
	{                                                                      \
		int v;                                                         \
		if (parse_name(prefix##_names, NELEM(prefix##_names), s, &v))  \
			return -1;                                             \
		*out = (enum type)v;                                           \
		return 0;                                                      \
	}

NAMES(task_status, task_status, [TASK_PENDING] = "pending",
      [TASK_RUNNING] = "running", [TASK_COMPLETED] = "completed",
      [TASK_FAILED] = "failed", [TASK_CANCELLED] = "cancelled",
      [TASK_TIMED_OUT] = "timed_out", [TASK_INTERRUPTED] = "interrupted")

NAMES(run_outcome, run_outcome, [RUN_OPEN] = NULL, [RUN_SUCCESS] = "success",
      [RUN_FAILED] = "failed", [RUN_TRANSIENT] = "transient",
      [RUN_RESUME_FAILED] = "resume_failed",
      [RUN_CONFIG_ERROR] = "config_error", [RUN_BAD_OUTPUT] = "bad_output",
      [RUN_TIMED_OUT] = "timed_out", [RUN_CANCELLED] = "cancelled",
      [RUN_ERROR] = "error", [RUN_INTERRUPTED] = "interrupted")

NAMES(resume_outcome, resume_outcome, [RESUME_NONE] = NULL,
      [RESUME_NEW] = "new", [RESUME_RESUMED] = "resumed",
      [RESUME_FRESH_AFTER_FAILED] = "fresh_after_failed_resume")

NAMES(session_kind,
      session_kind, [SESSION_TEMP] = "temp", [SESSION_MILESTONE] = "milestone",
      [SESSION_NAMED] = "named", [SESSION_AGENT] = "agent")

NAMES(session_status,
      session_status, [SESSION_ACTIVE] = "active", [SESSION_CLOSED] = "closed",
      [SESSION_EXPIRED] = "expired", [SESSION_ABANDONED] = "abandoned")

NAMES(chain_edge, chain_edge, [EDGE_FIRST] = "first", [EDGE_RESUME] = "resume",
      [EDGE_FORK] = "fork", [EDGE_RESET] = "reset",
      [EDGE_FRESH_AFTER_FAILED_RESUME] = "fresh_after_failed_resume")

NAMES(event_kind, event_kind, [EVENT_CREATE] = "create",
      [EVENT_RESUME] = "resume", [EVENT_FALLBACK] = "fallback",
      [EVENT_EXPIRE] = "expire", [EVENT_FOREIGN] = "foreign",
      [EVENT_REPIN] = "repin", [EVENT_RESET] = "reset", [EVENT_CLOSE] = "close",
      [EVENT_PRUNE] = "prune", [EVENT_REFUSED] = "refused",
      [EVENT_CONTINUE] = "continue", [EVENT_FORK] = "fork")

/* Every status but pending and running is final. */
int
task_status_final(enum task_status s)
{
	return s != TASK_PENDING && s != TASK_RUNNING;
}

/* The rule of `baton retry` (SPEC §6): what ended without completing. */
int
task_status_retryable(enum task_status s)
{
	return s == TASK_FAILED || s == TASK_CANCELLED || s == TASK_TIMED_OUT ||
	       s == TASK_INTERRUPTED;
}
