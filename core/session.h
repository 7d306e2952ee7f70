#ifndef BATON_SESSION_H
#define BATON_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/baton.h"
#include "lib/strbuf.h"

struct store;
struct db_task;
struct db_session;

/* The session a task will run in, as chosen by session_select(). */
struct session_choice {
	char *id;	     /* the baton session's UUID */
	char *agent;	     /* effective (pinned) agent profile */
	char *model;	     /* effective (pinned) model, or NULL */
	int created;	     /* a new row was made for this task */
	int temp;	     /* kind temp: closed when the task ends (S7) */
	struct strvec notes; /* warnings for the user (S9, S10, S12) */
	/* Kept on failure too: > 0 when the refusal was the S11 limit
	 * (this many sessions active), which passes once one closes. */
	int64_t full;
};
void session_choice_release(struct session_choice *);

/*
 * Pick or create the session for task t (S2), inside the caller's
 * transaction, so that the row exists and is committed before any agent
 * starts (S1).  Applies expiry (S10: an expired session gets a fresh
 * successor that takes over its name or milestone), capacity (S11, only
 * when a row is created), isolation (S12) and the sticky agent and model
 * (S9).  Every reuse touches the session and records a "resume" event.
 * Returns 0; -BERR_FAIL with *cause when the task must not run (limit
 * reached, foreign session, closed session); -BERR_DB.  out is filled
 * only on success (release it either way).
 */
int session_select(struct baton *b, struct store *db, const struct db_task *t,
		   int64_t now, struct session_choice *out, char **cause);

/* What `baton session init` asks for. */
struct session_init {
	const char *ref;     /* NAME or UUID */
	const char *agent;   /* NULL: defaults.agent */
	const char *model;   /* NULL: the profile's model */
	const char *workdir; /* a realpath; its project binds the session */
	int allow_foreign;   /* S12 override */
};

/*
 * `session init`: find or create the session named by in->ref, inside
 * the caller's transaction.  S8: an existing session is only touched;
 * its chain, usage, turns and metadata stay.  out->created tells
 * "created" from "exists"; out->notes has the warnings (an expired
 * session replaced by a new one, --agent/--model not matching the
 * pinned ones).  Same checks and errors as session_select().
 */
int session_ensure(struct baton *b, struct store *db,
		   const struct session_init *in, int64_t now,
		   struct session_choice *out, char **cause);

/*
 * Find a session by UUID, by NAME (the active one, else the newest
 * with that name) or by a unique prefix of its id (4 characters or
 * more).  Returns 0 with *s filled (release it), -BERR_USAGE with
 * *cause when there is none or the prefix is ambiguous, -BERR_DB.
 */
int session_lookup(struct store *db, const char *ref, struct db_session *s,
		   char **cause);

/*
 * `run --continue`: the id of the session whose conversation goes on
 * (store_session_get_last_used() for project and this OS user) into *id,
 * which the caller frees.  A task naming that id runs in it, or, for an
 * ended temp session, in a new temp session that resumes its head.
 * Returns 0, -BERR_USAGE with *cause when there is none, -BERR_DB.
 */
int session_last_used(struct store *db, const char *project, char **id,
		      char **cause);

/* Non-zero if a task holds s's lease at time now (S6). */
int session_leased(const struct db_session *s, int64_t now);

/* "NAME (UUID)" or "UUID"; caller frees. */
char *session_label(const struct db_session *s);

/*
 * The state-changing session commands.  Each runs in one transaction of
 * b->db of its own (now: the time it happens at) and returns 0, -BERR_USAGE (no such session),
 * -BERR_FAIL (refused) or -BERR_DB with *cause.
 *
 * session_init: `session init`, session_ensure() committed.
 */
int session_init(struct baton *b, const struct session_init *in,
		 struct session_choice *out, char **cause);

/*
 * `session reset`: the one explicit wipe (S8) of the session named by
 * ref: head, chain, usage, turns, resume failures and metadata.  The
 * row, id, name, pins and status stay; an event "reset" records what
 * was wiped.  Refuses a session in use by a task or not active.  *s is
 * the session after the reset.
 */
int session_reset(struct baton *b, const char *ref, int64_t now,
		  struct db_session *s, char **cause);

/*
 * `session fork`: a new named session new_ref (a NAME, or a UUID that
 * becomes its id; S8: one that exists is refused, -BERR_FAIL) whose
 * first turn branches the conversation of the session named by ref: it
 * is pinned to ref's agent and model, bound to its project and workdir,
 * has ref as its predecessor and ref's head as the first link of its
 * chain (edge fork).  Refused (-BERR_FAIL) when ref has no conversation
 * yet or its agent cannot branch one (agent_impl can_fork).  Events
 * "fork" on both.  *s is the new session.
 */
int session_fork(struct baton *b, const char *ref, const char *new_ref,
		 int64_t now, struct db_session *s, char **cause);

/*
 * `session close`: status closed, event "close".  A session already
 * closed, expired or abandoned is left as it is and *already set.
 * Refuses a session in use by a task.  *s is the session after.
 */
int session_close(struct baton *b, const char *ref, int64_t now, int *already,
		  struct db_session *s, char **cause);

/*
 * `session gc`: expire active sessions idle longer than sessions.ttl
 * (not those in use), then prune sessions closed, expired or abandoned
 * longer than sessions.retention ago (their rows and chains are
 * deleted, then their directories; tasks and runs keep theirs with the
 * session cleared).  Calls fn(arg, action, s) for each, action
 * "expire" or "prune", with s as it was before.  With dry_run nothing
 * changes.  A directory that cannot be removed adds a line to
 * *warnings (the caller's strvec).
 */
int session_gc(struct baton *b, int64_t now, int dry_run,
	       void (*fn)(void *arg, const char *action,
			  const struct db_session *s),
	       void *arg, struct strvec *warnings, char **cause);

/*
 * Remove a session's directory (<files_dir>/sessions/<id>, see
 * BATON_SESSION_DIR) and everything in it; id must be a UUID.  Returns
 * 0 (also when there is none) or -1 with errno.
 */
int session_dir_remove(const char *files_dir, const char *id);

/* Non-zero if s is a valid session name (SPEC S2): [A-Za-z0-9._-]{1,64},
 * not UUID-shaped. */
int session_name_valid(const char *s);

#endif
