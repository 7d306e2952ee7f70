#ifndef BATON_RUNNER_H
#define BATON_RUNNER_H

#include <pthread.h>
#include <stdint.h>

#include "core/baton.h"

/*
 * A runner is this baton process while it executes tasks: a row with
 * pid, host, start time and a heartbeat kept fresh by a thread, so that
 * other baton processes can tell when it died (SPEC §5).
 */
struct runner {
	struct baton *b;
	int64_t id;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping, started;
	struct store *db;     /* the heartbeat thread's own connection */
	int64_t started_boot; /* clock_boot_ms() when it registered */
};

/*
 * Register this process as a runner and start its heartbeat.  Sets
 * b->runner_id.  Returns 0 or a negated berr with *cause.
 */
int runner_start(struct runner *, struct baton *b, char **cause);

/* Stop the heartbeat and mark the row exited; NULL-safe, idempotent. */
void runner_stop(struct runner *);

/*
 * Reap dead runners (on this host, the same host name and boot id: pid
 * gone or reused, whatever the heartbeat, so a stopped runner keeps its
 * agents; elsewhere: heartbeat older than runner.stale_after): their tasks become interrupted (or pending again
 * with runner.requeue_interrupted), leases released, temp sessions
 * abandoned, agent processes they left killed after checking pid and
 * start time.  Returns 0 or -BERR_DB.  *reaped counts them if non-NULL.
 */
/* Fence this runner (struct baton's fenced; why, a string literal, in
 * fence_why): its workers stop their agents, write nothing more for
 * their tasks and claim no more (SPEC §5).  Set once, never cleared. */
void runner_fence(struct baton *b, const char *why);

int runner_reap(struct baton *b, char **cause);
int runner_reap_count(struct baton *b, int *reaped, char **cause);
/* The same through connection db (the heartbeat thread's own). */
int runner_reap_on(struct baton *b, struct store *db, int *reaped,
		   char **cause);

/*
 * BATON_RUN_TOKEN of run run_id of the runner with key "PID.START" (see
 * struct baton): set in each agent's environment so that a reaper finds
 * the agent even without its pid.  The caller frees it.
 */
char *runner_token(const char *key, int64_t run_id);

/* This machine's boot id (for telling a reused pid after a reboot). */
char *runner_boot_id(void);

/* Open another connection to b's database (for a thread). */
int runner_db_open(struct baton *b, struct store **db, char **cause);

/*
 * The batch (one `work` or `run`, SPEC §6: "baton: batch ID") that ref
 * names: its whole id or a unique prefix of at least 4 characters, in
 * either case, as a session id is named.  *id gets the whole id (the
 * caller frees it).  Returns 0; -BERR_USAGE with *cause for no such
 * batch (an empty ref too) or a prefix that is ambiguous or too short;
 * -BERR_DB.
 */
int batch_lookup(struct store *db, const char *ref, char **id, char **cause);

#endif
