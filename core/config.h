#ifndef BATON_CONFIG_H
#define BATON_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "agents/agent.h"

/*
 * The effective configuration: built-in defaults (the same values as the
 * repository's config.yaml), overridden key by key by the config files
 * (the user's, then the project's) and then by the environment (SPEC §8).  Every field is owned by the struct.
 */

struct config {
	char *path; /* the file loaded, NULL for built-in defaults */

	struct {
		char *path; /* expanded; NULL: $XDG_STATE_HOME/baton/baton.db */
		char *url;  /* db.url (postgres://…); wins over path */
		int synchronous_full;	 /* db.synchronous: normal | full */
		int64_t busy_timeout_ms; /* db.busy_timeout, default 10s */
		int shared_group; /* db.shared_group: group may write, false */
		int wal_warn_mib; /* db.wal_warn_mib: 128, 0: never */
		/* db.final_write_timeout (10m): how long the end of a run
		 * keeps retrying a locked database (SPEC §5) */
		int64_t final_write_timeout_ms;
	} db;
	int workers; /* default -j for work, default 2 */

	struct {
		char *agent;	       /* default profile, "shell" */
		int64_t timeout_ms;    /* 30m */
		int max_attempts;      /* 2 */
		int64_t kill_grace_ms; /* 5s */
		int max_iterations;    /* with a check, 3 */
		int retries;	       /* task retries, 0 */
	} defaults;

	struct {
		int attempts;	 /* 3 */
		int64_t base_ms; /* 2s */
		int64_t max_ms;	 /* 60s */
	} retry;

	struct {
		int64_t ttl_ms;		  /* 24h */
		int max_active;		  /* 1000 */
		int resume_failure_limit; /* 3 */
		int64_t retention_ms;	  /* 30d */
		int keep_temp_dirs;	  /* false */
		double max_cost;	  /* USD a session may cost; 0: none */
	} sessions;

	struct {
		int64_t retention_ms; /* 0: keep forever */
		int redact;    /* secrets out of logs, answers, errors (true) */
		int max_bytes; /* kept of each stream of a run (256 MiB) */
		/* logs.db_max_bytes: what a store that keeps output (postgres)
		 * keeps of each stream of a run; 0: none */
		int db_max_bytes;
	} logs;

	struct {
		int64_t heartbeat_ms;	 /* 5s */
		int64_t stale_after_ms;	 /* 60s */
		int requeue_interrupted; /* false */
	} runner;

	char *iterate_prompt;

	struct agent_profile *agents; /* sorted by name */
	size_t nagents;
};

/*
 * Fill cfg with the built-in defaults only.  Never fails.
 */
void config_defaults(struct config *cfg);

/*
 * Load the effective configuration.  explicit_path is --config (or NULL);
 * then BATON_CONFIG: a file the user named is the whole configuration.
 * Otherwise $XDG_CONFIG_HOME/baton/config.yaml (if any) on the built-in
 * defaults, with ./baton.yaml (if any) layered on top; that one may not
 * change what an agent runs unless trusted (config_trust()).  Every file
 * must be the user's (or root's) and writable by nobody else.
 * Environment overrides BATON_DB, BATON_SESSION_TTL and BATON_WORKERS
 * are applied and validated last.
 * Returns 0, or -1 with *cause "file:line:col: message" (or
 * "BATON_WORKERS: message") for the caller to free; cfg is then released.
 */
int config_load(struct config *cfg, const char *explicit_path, char **cause);

/*
 * Load one file on top of the defaults, without resolution or env
 * overrides (tests, `config check FILE`).  Same return as config_load().
 */
int config_load_file(struct config *cfg, const char *path, char **cause);

/*
 * Like config_load_file() for a file already in memory (len bytes, NUL
 * bytes allowed and refused); name is the file name used in messages.
 */
int config_load_string(struct config *cfg, const char *name, const char *buf,
		       size_t len, char **cause);

/* Non-zero if a and b hold the same settings (path and marks aside). */
int config_equal(const struct config *a, const struct config *b);

/*
 * Where `baton config trust` records trusted project files:
 * $XDG_CONFIG_HOME/baton/trusted (~/.config/baton/trusted), or NULL
 * without HOME.  Caller frees.
 */
char *config_trust_list_path(void);

/*
 * Trust the project config file: check that it loads, then record its
 * real path and the SHA-256 of its content in the trust list (replacing
 * an older record of that path).  *real is its real path (caller frees)
 * and hash its SHA-256 in hex.  Returns 0, or -1 with *cause.
 */
int config_trust(const char *file, char **real, char hash[65], char **cause);

/* Free everything cfg owns; NULL-safe, leaves cfg zeroed. */
void config_release(struct config *cfg);

/* The profile called name, or NULL. */
const struct agent_profile *config_agent(const struct config *cfg,
					 const char *name);

/*
 * Print the effective configuration as YAML, masking values of keys that
 * look like secrets (token, key, secret, password, ...), every value
 * under an agent's env: and the value of "--api-key=..."-like arguments
 * as "***".  Loaded back, the output gives the same configuration
 * (masked values aside).  Returns 0 or -1 on a write error.
 */
int config_show(const struct config *cfg, FILE *fp);

#endif
