#ifndef BATON_AGENT_H
#define BATON_AGENT_H

#include <stdint.h>

#include "lib/strbuf.h"

/*
 * The kinds of agent profile, one adapter each.  They are listed in the
 * order the documentation and the config's messages name them; their
 * names ("shell", "command", "claude", "codex") exist once, in
 * agents/agent.c, behind agent_kind_name() and agent_kind_parse().
 */
enum agent_kind {
	AGENT_KIND_SHELL,
	AGENT_KIND_COMMAND,
	AGENT_KIND_CLAUDE,
	AGENT_KIND_CODEX,
	AGENT_KIND_COUNT /* not a kind: the number of kinds */
};

/* The name of kind as configs spell it (static), or NULL if not a kind. */
const char *agent_kind_name(enum agent_kind kind);

/*
 * The kind called name (exactly, case matters) into *kind.  Returns 0, or
 * -1 if name is NULL or no kind's name, leaving *kind alone.
 */
int agent_kind_parse(const char *name, enum agent_kind *kind);

/*
 * An agent profile: a named entry under agents: in the config (SPEC §8).
 * core/config*.c fills it; the adapters read it.
 */
/* USD per million tokens; only for adapters that do not report a cost. */
struct agent_price {
	int set;
	double input, cached_input, output;
};

struct agent_profile {
	char *name; /* key under agents: */
	enum agent_kind kind;
	char **command; /* NULL-terminated argv; claude/codex: {binary, NULL} */
	char *model;	/* NULL if none */
	char **args;	/* NULL-terminated extra arguments, never NULL */
	char **env;	/* NULL-terminated "KEY=VALUE", never NULL */
	int64_t timeout_ms;    /* 0: defaults.timeout */
	int64_t kill_grace_ms; /* 0: defaults.kill_grace */
	int use_session_persistence;
	struct agent_price price;
	/* Where this profile was defined, for messages: NULL if built in. */
	char *file;
	int line, col;
};

/* How the process of a turn ended, as the orchestrator saw it. */
struct agent_exit {
	int exited; /* exited by itself: exit_code is valid */
	int exit_code;
	int signal; /* killed by this signal, else 0 */
	uint64_t out_bytes, err_bytes;
};

struct json_t; /* jansson's json_t, for the adapters' helpers */

/*
 * The adapter interface (SPEC §3.1).  An adapter is a const struct
 * agent_impl of functions that build the argv of one turn and interpret
 * its outcome; struct agent is the base every adapter shares and holds
 * the session id the orchestrator assigned (S3, S4 live here, once).
 * agents/ never touches the database.
 */

/* One turn, as the orchestrator hands it to an adapter. */
struct agent_call {
	const struct agent_profile *profile;
	const char *model;	/* effective (pinned) model, or NULL */
	const char *session_id; /* the baton session's UUID */
	/* The agent session id for this turn: with resume, the head to
	 * continue; without, the id to create the conversation with (the
	 * session's own UUID for adapters that accept one, else NULL). */
	const char *agent_session_id;
	int resume;
	/* with resume: branch the conversation, leaving agent_session_id
	 * as it is (a forked session's first turn; impl->can_fork) */
	int fork;
	/* The prompt's file: written only for a turn that needs it
	 * (agent_needs(c, "prompt_file")); stdin has the prompt anyway */
	const char *prompt_file;
	/* $BATON_SESSION_DIR: made before the spawn only for a turn that
	 * needs it (agent_needs(c, "session_dir")) or a session that is
	 * not a task's own (docs/design.md) */
	const char *session_dir;
	const char *result_file; /* $BATON_RESULT_FILE */
	const char *workdir;
	int64_t task_id;
	/* USD the turn may still cost (the task's or session's budget
	 * less what it cost so far), for an agent with a flag for it; 0:
	 * no budget */
	double max_budget_usd;
};

enum agent_outcome {
	AGENT_OK = 0,	     /* the turn succeeded */
	AGENT_FAILED,	     /* ran and failed: not retried */
	AGENT_TRANSIENT,     /* overload, rate limit, 5xx, network: retry */
	AGENT_RESUME_FAILED, /* the conversation cannot be resumed (S13) */
	AGENT_CONFIG_ERROR,  /* startup/config: not logged in, bad flag */
	AGENT_BAD_OUTPUT,    /* output missing or malformed: agent error */
	AGENT_BUDGET, /* the CLI's own budget (--max-budget-usd) ran out */
};

/* What a finished turn reported.  Strings are owned by the struct. */
struct agent_result {
	enum agent_outcome outcome;
	char *agent_session_id; /* reported id (validated UUID), or NULL */
	char *text;		/* the final answer (SPEC §3), or NULL */
	char *error;		/* why, when outcome != AGENT_OK */
	int64_t input_tokens, output_tokens;
	int64_t cache_read_tokens, cache_creation_tokens;
	double cost_usd;
	int64_t num_turns;   /* -1 if not reported */
	int64_t duration_ms; /* as the agent reports it, -1 if not */
};

/*
 * Whether a turn leaves a final answer (SPEC §3), which `baton run`
 * prints instead of what the agent printed.  Known before the turn, so
 * that run knows whether to stream the agent's stdout while it runs.
 */
enum agent_answer {
	AGENT_ANSWER_NONE,   /* shell: its stdout is its output: stream it */
	AGENT_ANSWER_ALWAYS, /* claude, codex: stdout is JSON: never shown */
	AGENT_ANSWER_MAYBE,  /* command: only the result file tells, after */
};

struct agent_impl {
	enum agent_kind kind;
	enum agent_answer answer;
	/* Can be handed a caller-chosen conversation id (S4): the first
	 * link of the chain is then the baton session id itself. */
	int accepts_session_id;
	/* Can resume a conversation as a branch of it, under a new id
	 * (claude --fork-session): `baton session fork` needs it. */
	int can_fork;
	/* Conversations are found only from the directory they started in
	 * (claude): run every turn of a session in the session's workdir. */
	int session_cwd;
	/* The prompt is a script (shell): iterations run it again rather
	 * than sending the feedback as the prompt; the feedback is in
	 * $BATON_FEEDBACK instead. */
	int script_prompt;
	/* Needs the prompt as a file whatever the profile says (shell: it
	 * runs the file). */
	int needs_prompt_file;
	/* Needs $BATON_SESSION_DIR made before the start whatever the
	 * profile says (shell, command: the program is the user's, written
	 * against SPEC §3's "a per-session directory"; claude and codex
	 * never read it). */
	int needs_session_dir;
	/* Expands placeholders in the profile's command items (command):
	 * one that names {prompt_file} or {session_dir} needs it. */
	int expands_command;
	/*
	 * Append the argv of one turn to argv.  Returns 0, or -1 with
	 * *cause (a configuration problem, e.g. no command).
	 */
	int (*build_argv)(const struct agent_call *, struct strvec *argv,
			  char **cause);
	/*
	 * Interpret a finished turn: its process result and the files its
	 * output went to.  Must not crash on output of any size or shape.
	 */
	void (*parse_result)(const struct agent_call *,
			     const struct agent_exit *, const char *out_path,
			     const char *err_path, struct agent_result *);
};

struct agent {
	const struct agent_impl *impl;
	const struct agent_profile *profile;
	char *session_id; /* the explicitly assigned id, or NULL for none */
};

/* The adapter for kind (static), or NULL if kind is not a kind. */
const struct agent_impl *agent_impl_find(enum agent_kind kind);

/* Set up a for profile with impl (agent_impl_find() or a test fake). */
void agent_init(struct agent *a, const struct agent_impl *impl,
		const struct agent_profile *profile);
void agent_release(struct agent *a);

/* A copy of the assigned session id, or NULL for none; caller frees. */
char *agent_get_session_id(const struct agent *a);
/* Assign id (copied), or clear with NULL (S3). */
void agent_set_session_id(struct agent *a, const char *id);

/*
 * The id this agent uses for its next call (S4): exactly the assigned
 * one when set.  When none is set, a fresh UUID, which the agent keeps
 * (becomes the assigned id) only when the profile says
 * use_session_persistence.  Writes it into buf (>= 37 bytes).
 */
const char *agent_session_for_call(struct agent *a, char *buf);

void agent_result_release(struct agent_result *);

/*
 * Shared by adapters that read a Claude-like JSON result object (claude,
 * command): fill r from the JSON text (usage, cost, session_id...).
 * Returns 0, or -1 if it is not a JSON object.
 */
int agent_parse_result_json(const char *text, struct agent_result *r,
			    char **cause);

/*
 * The start of the argv of an adapter that runs a CLI (claude, codex):
 * checks that c->agent_session_id, when set, is a UUID and that a
 * resumed call has one, then appends the profile's command or, when it
 * has none (or an empty first item), default_bin.  Returns 0, or -1
 * with *cause (the caller frees) and nothing appended.
 */
int agent_argv_begin(const struct agent_call *c, const char *default_bin,
		     struct strvec *argv, char **cause);

/*
 * After agent_argv_begin() and the adapter's own flags: --model=<m> for
 * the call's (pinned) model, else the profile's, when there is one; then
 * the profile's args.
 */
void agent_argv_options(const struct agent_call *c, struct strvec *argv);

/*
 * A row of an adapter's table that classifies a failed turn.  It
 * matches an HTTP status in [lo, hi] when lo > 0, else a text found
 * (ignoring ASCII case) in the turn's words.
 */
struct agent_rule {
	int lo, hi;
	const char *text;
	enum agent_outcome outcome;
};

/*
 * The first of the n rules that matches status or one of the ntexts
 * texts[i] (lens[i] bytes, NULL for none), or NULL.  For a text, *where
 * points at it in texts[*which]; else *where is NULL.
 */
const struct agent_rule *agent_classify(const struct agent_rule *rules,
					size_t n, int status,
					const char *const *texts,
					const size_t *lens, size_t ntexts,
					const char **where, size_t *which);

/*
 * "<who> exited with status N" or "<who> killed by signal N" (who may be
 * NULL), then ": " and the first line of err_path if it has one.  The
 * caller frees.
 */
char *agent_exit_error(const char *who, const struct agent_exit *pr,
		       const char *err_path);

/* The longest line of an agent's own words agent_line_at() keeps. */
#define AGENT_LINE_MAX 400

/*
 * Up to max bytes from the start of path, NUL-terminated, its length in
 * *len; the caller frees.  NULL (and *len 0) if path is NULL or cannot
 * be opened.
 */
char *agent_read_head(const char *path, size_t max, size_t *len);

/*
 * Where needle is first found in hay[0..len), ignoring ASCII case: a
 * pointer into hay, or NULL (also for a NULL hay or an empty needle).
 */
const char *agent_find_text(const char *hay, size_t len, const char *needle);

/*
 * A copy of the line of text[0..len) holding at, or of the first
 * non-blank line when at is NULL: trimmed of blanks, cut at a NUL and
 * at AGENT_LINE_MAX bytes.  The caller frees; NULL for a NULL text or
 * a blank line.
 */
char *agent_line_at(const char *text, size_t len, const char *at);

/*
 * The count o[key]: a non-negative integer, or a non-negative real below
 * 9e18 truncated; negative counts are 0, anything else (missing, not a
 * number) is 0.  o may be anything, even NULL.
 */
int64_t agent_get_count(struct json_t *o, const char *key);

/*
 * The token counts of a Claude-like "usage" object (input_tokens,
 * output_tokens, cache_read_input_tokens, cache_creation_input_tokens)
 * into r.  Returns 0, or -1 (r untouched) if usage is not an object.
 */
int agent_get_usage(struct json_t *usage, struct agent_result *r);

/* "exit status N" or "killed by signal N" for pr; the caller frees. */
char *agent_status_text(const struct agent_exit *pr);

/* Substitute {task_id} {session_id} {agent_session_id} {workdir}
 * {prompt_file} {session_dir} in one argv template item; caller frees. */
char *agent_expand(const char *item, const struct agent_call *);

/*
 * Whether a turn of impl with profile needs what is called name
 * ("prompt_file" or "session_dir") to exist when it starts: always for
 * an adapter with needs_prompt_file / needs_session_dir, else when a
 * command item names {name}.
 * Without it, the prompt is only on stdin, and $BATON_SESSION_DIR of a
 * task's own session is not made (baton works without the file system
 * for them: docs/design.md).
 */
int agent_needs(const struct agent_impl *impl,
		const struct agent_profile *profile, const char *name);

extern const struct agent_impl agent_claude_impl;
extern const struct agent_impl agent_codex_impl;
extern const struct agent_impl agent_shell_impl;
extern const struct agent_impl agent_command_impl;

#endif
