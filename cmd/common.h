#ifndef BATON_CMD_COMMON_H
#define BATON_CMD_COMMON_H

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "core/task.h"

#include "db/store.h"

/* ---- TASK OPTIONS shared by run and add (cmd/task-options.c) ---- */

/* getopt_long values for the task options: 256 and up. */
enum {
	OPT_AGENT = 256,
	OPT_MODEL,
	OPT_SESSION,
	OPT_NEW_SESSION,
	OPT_MILESTONE,
	OPT_WORKDIR,
	OPT_TIMEOUT,
	OPT_CHECK,
	OPT_MAX_ITERATIONS,
	OPT_TITLE,
	OPT_KEY,
	OPT_PROMPT_FILE,
	OPT_FORCE_AGENT,
	OPT_ALLOW_FOREIGN,
	OPT_RETRIES,
	OPT_MAX_COST,
	OPT_TASK_LAST, /* commands number their own options from here */
};

#define TASK_LONG_OPTIONS                                                      \
	{"agent", required_argument, NULL, OPT_AGENT},                         \
		{"model", required_argument, NULL, OPT_MODEL},                 \
		{"session", required_argument, NULL, OPT_SESSION},             \
		{"new-session", no_argument, NULL, OPT_NEW_SESSION},           \
		{"milestone", required_argument, NULL, OPT_MILESTONE},         \
		{"workdir", required_argument, NULL, OPT_WORKDIR},             \
		{"timeout", required_argument, NULL, OPT_TIMEOUT},             \
		{"check", required_argument, NULL, OPT_CHECK},                 \
		{"max-iterations", required_argument, NULL,                    \
		 OPT_MAX_ITERATIONS},                                          \
		{"title", required_argument, NULL, OPT_TITLE},                 \
		{"key", required_argument, NULL, OPT_KEY},                     \
		{"prompt-file", required_argument, NULL, OPT_PROMPT_FILE},     \
		{"force-agent", no_argument, NULL, OPT_FORCE_AGENT},           \
		{"retries", required_argument, NULL, OPT_RETRIES},             \
		{"max-cost", required_argument, NULL, OPT_MAX_COST},           \
	{                                                                      \
		"allow-foreign-session", no_argument, NULL, OPT_ALLOW_FOREIGN  \
	}

#define TASK_OPTIONS_HELP                                                      \
	"task options:\n"                                                      \
	"  --agent A             agent profile (default: defaults.agent)\n"    \
	"  --model M             model for the agent\n"                        \
	"  --session NAME|UUID   run in this session (created on first use)\n" \
	"  --new-session         run in a fresh temporary session\n"           \
	"  --milestone M         add to milestone M (tasks run in order)\n"    \
	"  --workdir DIR         directory to run in (default: .)\n"           \
	"  --timeout DUR         stop the agent after DUR (90s, 15m, 1h30m, "  \
	"1.5h)\n"                                                              \
	"  --check CMD           quality gate run with /bin/sh -c after each " \
	"turn\n"                                                               \
	"  --max-iterations N    turns while the check fails (default 3)\n"    \
	"  --title T             a title for listings\n"                       \
	"  --key K               idempotency key: adding K again is a no-op\n" \
	"  --retries N           run a failed or timed out task again, up to " \
	"N more times\n"                                                       \
	"  --max-cost USD        stop the task once its cost reaches USD\n"    \
	"  --prompt-file F       read the prompt from F ('-': stdin)\n"        \
	"  --force-agent         re-pin the session to --agent/--model\n"      \
	"  --allow-foreign-session  use a session of another project or "      \
	"user\n"

/*
 * Apply one getopt result to spec if it is a task option.  Returns 1 if
 * it was one, 0 if not.
 */
int cmd_task_option(struct task_spec *spec, int opt, const char *arg);

/* Join the prompt words with spaces; NULL if there are none. */
char *cmd_join_words(int argc, char **argv);

/*
 * task_add() for run and add: prints the error and returns the exit
 * status for it, or EXIT_OK with *t the task (release it).
 */
int cmd_add_task(struct baton *b, const struct task_spec *spec,
		 struct db_task *t, int *existed);

/* ---- output (cmd/output.c) ---- */

/* RFC 3339 string, or JSON null for 0. */
json_t *cmd_json_time(int64_t ms);
/* A task object (SPEC §6.1); with_runs adds "runs" (show, run --json). */
json_t *cmd_task_json(const struct db_task *t, const struct db_run *runs,
		      size_t nruns, int with_runs);
/*
 * Read task id into *t and its runs into *runs, *n, which the caller
 * releases (db_task_release(), db_runs_free()).  Returns EXIT_OK, or
 * prints the error and returns EXIT_DB, or EXIT_USAGE for no such task,
 * with nothing to release.
 */
int cmd_load_task(struct baton *b, int64_t id, struct db_task *t,
		  struct db_run **runs, size_t *n);
/* Read task id with its runs and print it as JSON; an exit code. */
int cmd_print_task_json(struct baton *b, int64_t id);
json_t *cmd_run_json(const struct db_run *r);
/* A session object (SPEC §6.1); chain added when chain != NULL. */
json_t *cmd_session_json(const struct db_session *s,
			 const struct db_chain_link *chain, size_t nchain,
			 int64_t ttl_ms);
/* Print a JSON value and a newline to stdout; takes the reference. */
int cmd_print_json(json_t *v);

/*
 * A JSON string of text from the database or an agent: null for NULL,
 * and what is not UTF-8 replaced by U+FFFD, so a field never drops out.
 */
json_t *cmd_json_str(const char *s);
/*
 * An amount in USD as a JSON number, always: json_real() gives NULL for
 * NaN and infinity, and a NULL value drops the key from its object.
 */
json_t *cmd_json_usd(double usd);
/* Short human duration: "850ms", "12.3s", "4m05s", "2h10m". */
void cmd_format_elapsed(int64_t ms, char *buf, size_t len);
/* "2026-11-21 17:00:03 CET" local with its zone, or "-" for 0. */
void cmd_format_time(int64_t ms, char *buf, size_t len);

/* ---- signals (cmd/signals.c) ---- */

/*
 * At start, before any thread: unblock the signals baton handles (a
 * blocked mask is inherited through exec, as some CI shells leave it)
 * and put an ignored SIGINT or SIGTERM back to its default.
 */
void cmd_signals_reset(void);
/*
 * Catch SIGINT, SIGTERM and SIGHUP: the first makes b->stop_fd readable
 * so that running agents are stopped and cleanup runs; a second kills
 * them at once.  SIGTSTP stops the agents' groups with baton, SIGCONT
 * continues them.  Returns 0 or -1.
 */
int cmd_signals_install(struct baton *b);
/* The signal received, or 0. */
int cmd_signal_received(void);
/* Exit status for a run stopped by a signal: 128 + signo. */
int cmd_signal_exit(void);

/* Parse a task id or print a usage error; 0 or EXIT_USAGE. */
int cmd_parse_task_id(const struct cmd_entry *e, const char *arg, int64_t *id);
/*
 * --status S,S...: the statuses into *mask (bits 1u << status).  Returns
 * -1 to go on, or EXIT_USAGE after saying which word is not a status.
 */
int cmd_parse_statuses(const struct cmd_entry *e, const char *arg,
		       unsigned *mask);

/*
 * The id of the milestone called name (--milestone of e) into *id.
 * Returns 0, or prints why and returns EXIT_DB, or EXIT_USAGE with e's
 * usage for no such milestone.
 */
int cmd_milestone_id(struct baton *b, const struct cmd_entry *e,
		     const char *name, int64_t *id);

#endif
