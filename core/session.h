#ifndef BATON_SESSION_H
#define BATON_SESSION_H

#include <stdint.h>

#include "core/baton.h"
#include "core/util.h"

struct db;
struct db_task;

/* The session a task will run in, as chosen by session_select(). */
struct session_choice {
	char *id;        /* the baton session's UUID */
	char *agent;     /* effective (pinned) agent profile */
	char *model;     /* effective (pinned) model, or NULL */
	int created;     /* a new row was made for this task */
	int temp;        /* kind temp: closed when the task ends (S7) */
	struct strvec notes; /* warnings for the user (S9, S10, S12) */
};
void session_choice_release(struct session_choice *);

/*
 * Pick or create the session for task t (S2), inside the caller's
 * transaction, so that the row exists and is committed before any agent
 * starts (S1).  Applies expiry (S10: an expired session gets a fresh
 * successor that takes over its name or milestone), capacity (S11, only
 * when a row is created), isolation (S12) and the sticky agent and model
 * (S9).  Returns 0; -BERR_FAIL with *cause when the task must not run
 * (limit reached, foreign session, closed session); -BERR_DB.
 */
int session_select(struct baton *b, struct db *db, const struct db_task *t,
		   int64_t now, struct session_choice *out, char **cause);

/*
 * Create (or find) a session by NAME or UUID for `session init` and for
 * tasks naming it; S8: an existing one is kept untouched.  *created tells
 * which.  kind is "named" unless milestone_id is set.
 */
int session_ensure(struct baton *b, struct db *db, const char *name_or_uuid,
		   const char *agent, const char *model, const char *workdir,
		   int64_t now, char **id, int *created, char **cause);

#endif
