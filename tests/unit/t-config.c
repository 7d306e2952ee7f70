/*
 * Unit tests for core/config.c: defaults, the repository's config.yaml,
 * overrides, every error message, resolution, environment overrides,
 * `config show` round trips and masking, and hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

#define TEST_NAME "t-config"
#include "tests/unit/test.h"

#define NAME "baton.yaml"

/* Load yaml as NAME; NULL if it loaded, else the message (caller frees). */
static char *
load_err_len(const char *yaml, size_t len)
{
	struct config cfg;
	char *cause = NULL;

	if (config_load_string(&cfg, NAME, yaml, len, &cause) == 0) {
		assert_null(cause);
		config_release(&cfg);
		return NULL;
	}
	assert_non_null(cause);
	/* a failed load leaves nothing behind */
	assert_null(cfg.agents);
	assert_null(cfg.iterate_prompt);
	return cause;
}

static char *
load_err(const char *yaml)
{
	return load_err_len(yaml, strlen(yaml));
}

static void
load_ok(struct config *cfg, const char *yaml)
{
	char *cause = NULL;
	int rc = config_load_string(cfg, NAME, yaml, strlen(yaml), &cause);

	if (rc != 0)
		fail_msg("unexpected error: %s", cause);
	assert_int_equal(rc, 0);
}

static void
expect_err(const char *yaml, const char *want)
{
	char *cause = load_err(yaml);

	if (cause == NULL)
		fail_msg("loaded, expected: %s\n--- input:\n%s", want, yaml);
	if (strcmp(cause, want) != 0)
		fail_msg("\n got:  %s\n want: %s", cause, want);
	free(cause);
}

/* Like expect_err() but only the start of the message is checked. */
static void
expect_err_prefix(const char *yaml, const char *want)
{
	char *cause = load_err(yaml);

	if (cause == NULL)
		fail_msg("loaded, expected: %s", want);
	if (strncmp(cause, want, strlen(want)) != 0)
		fail_msg("\n got:  %s\n want: %s...", cause, want);
	free(cause);
}

static void
test_defaults(void **state)
{
	struct config cfg;
	const struct agent_profile *a;

	(void)state;
	config_defaults(&cfg);
	assert_null(cfg.path);
	assert_null(cfg.db.path);
	assert_int_equal(cfg.db.synchronous_full, 0);
	assert_int_equal(cfg.db.busy_timeout_ms, 10000);
	assert_int_equal(cfg.workers, 2);
	assert_string_equal(cfg.defaults.agent, "shell");
	assert_int_equal(cfg.defaults.timeout_ms, 30 * 60 * 1000);
	assert_int_equal(cfg.defaults.max_attempts, 2);
	assert_int_equal(cfg.defaults.kill_grace_ms, 5000);
	assert_int_equal(cfg.defaults.max_iterations, 3);
	assert_int_equal(cfg.retry.attempts, 3);
	assert_int_equal(cfg.retry.base_ms, 2000);
	assert_int_equal(cfg.retry.max_ms, 60000);
	assert_int_equal(cfg.sessions.ttl_ms, 24LL * 3600 * 1000);
	assert_int_equal(cfg.sessions.max_active, 1000);
	assert_int_equal(cfg.sessions.resume_failure_limit, 3);
	assert_int_equal(cfg.sessions.retention_ms, 30LL * 86400 * 1000);
	assert_int_equal(cfg.sessions.keep_temp_dirs, 0);
	assert_int_equal(cfg.logs.retention_ms, 0);
	assert_int_equal(cfg.runner.heartbeat_ms, 5000);
	assert_int_equal(cfg.runner.stale_after_ms, 60000);
	assert_int_equal(cfg.runner.requeue_interrupted, 0);
	assert_int_equal(cfg.logs.redact, 1);
	assert_string_equal(cfg.iterate_prompt,
			    "The check `{check}` failed with exit code "
			    "{exit_code}:\n{output}\nFix it.");
	assert_int_equal(cfg.nagents, 3);
	assert_string_equal(cfg.agents[0].name, "claude");
	assert_string_equal(cfg.agents[1].name, "codex");
	assert_string_equal(cfg.agents[2].name, "shell");

	a = config_agent(&cfg, "claude");
	assert_non_null(a);
	assert_string_equal(agent_kind_name(a->kind), "claude");
	assert_string_equal(a->command[0], "claude");
	assert_null(a->command[1]);
	assert_string_equal(a->model, "sonnet");
	assert_string_equal(a->args[0], "--permission-mode=acceptEdits");
	assert_null(a->args[1]);
	assert_null(a->env[0]);
	assert_int_equal(a->use_session_persistence, 1);
	assert_int_equal(a->price.set, 0);
	assert_null(a->file);

	a = config_agent(&cfg, "codex");
	assert_non_null(a);
	assert_string_equal(a->command[0], "codex");
	assert_null(a->model);
	assert_int_equal(a->price.set, 1);
	assert_true(a->price.input == 1.25);
	assert_true(a->price.cached_input == 0.125);
	assert_true(a->price.output == 10);

	a = config_agent(&cfg, "shell");
	assert_non_null(a);
	assert_string_equal(agent_kind_name(a->kind), "shell");
	assert_null(a->command);
	assert_non_null(a->args);
	assert_null(a->args[0]);

	assert_null(config_agent(&cfg, "nope"));
	assert_null(config_agent(&cfg, NULL));
	config_release(&cfg);
	assert_null(cfg.agents);
	config_release(&cfg);
	config_release(NULL);
}

static char *
srcdir_file(const char *name)
{
	const char *dir = getenv("BATON_SRCDIR");

	return xasprintf("%s/%s", dir != NULL && *dir ? dir : ".", name);
}

/* The repository's config.yaml says exactly what the built-ins are. */
static void
test_repo_config_yaml(void **state)
{
	struct config file, def;
	char *path = srcdir_file("config.yaml"), *cause = NULL;

	(void)state;
	if (config_load_file(&file, path, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(file.path, path);
	config_defaults(&def);
	assert_true(config_equal(&file, &def));
	/* and config_equal() is not vacuous on this pair */
	assert_int_equal(file.nagents, def.nagents);
	assert_string_equal(file.iterate_prompt, def.iterate_prompt);
	assert_string_equal(file.agents[0].args[0], def.agents[0].args[0]);
	assert_true(file.agents[1].price.cached_input ==
		    def.agents[1].price.cached_input);
	file.runner.requeue_interrupted = 1;
	assert_false(config_equal(&file, &def));
	config_release(&file);
	config_release(&def);
	free(path);
}

/* Every field matters to config_equal(). */
static void
test_config_equal(void **state)
{
	struct config a, b;

	(void)state;
	config_defaults(&a);
#define DIFF(stmt)                                                             \
	do {                                                                   \
		config_defaults(&b);                                           \
		assert_true(config_equal(&a, &b));                             \
		stmt;                                                          \
		assert_false(config_equal(&a, &b));                            \
		assert_false(config_equal(&b, &a));                            \
		config_release(&b);                                            \
	} while (0)
	DIFF(b.db.path = xstrdup("/x"));
	DIFF(b.db.synchronous_full = 1);
	DIFF(b.db.busy_timeout_ms++);
	DIFF(b.db.final_write_timeout_ms++);
	DIFF(b.workers++);
	DIFF(b.defaults.agent[0] = 'S');
	DIFF(b.defaults.timeout_ms++);
	DIFF(b.defaults.max_attempts++);
	DIFF(b.defaults.kill_grace_ms++);
	DIFF(b.defaults.max_iterations++);
	DIFF(b.retry.attempts++);
	DIFF(b.retry.base_ms++);
	DIFF(b.retry.max_ms++);
	DIFF(b.sessions.ttl_ms++);
	DIFF(b.sessions.max_active++);
	DIFF(b.sessions.resume_failure_limit++);
	DIFF(b.sessions.retention_ms++);
	DIFF(b.sessions.keep_temp_dirs = 1);
	DIFF(b.logs.retention_ms++);
	DIFF(b.runner.heartbeat_ms++);
	DIFF(b.runner.stale_after_ms++);
	DIFF(b.runner.requeue_interrupted = 1);
	DIFF(b.logs.redact = 0);
	DIFF(b.iterate_prompt[0] = 'X');
	DIFF(b.agents[0].name[0] = 'X');
	DIFF(b.agents[0].kind = AGENT_KIND_CODEX);
	DIFF(b.agents[0].command[0][0] = 'X');
	DIFF(free(b.agents[0].model); b.agents[0].model = NULL);
	DIFF(b.agents[0].args[0][0] = 'X');
	DIFF(strv_free(b.agents[0].args);
	     b.agents[0].args = xcalloc(1, sizeof(char *)));
	DIFF(b.agents[0].timeout_ms = 1);
	DIFF(b.agents[0].kill_grace_ms = 1);
	DIFF(b.agents[0].use_session_persistence = 0);
	DIFF(b.agents[0].price.set = 1);
	DIFF(b.agents[1].price.input = 2);
	DIFF(b.agents[1].price.cached_input = 2);
	DIFF(b.agents[1].price.output = 2);
#undef DIFF
	/* one profile fewer (put back before release) */
	config_defaults(&b);
	b.nagents--;
	assert_false(config_equal(&a, &b));
	b.nagents++;
	config_release(&b);
	config_release(&a);
}

static void
test_empty_is_defaults(void **state)
{
	static const char *const inputs[] = {
		"",	 "\n\n",	 "# only a comment\n",
		"---\n", "---\n...\n",	 "~\n",
		"null",	 "\xef\xbb\xbf", "%YAML 1.1\n---\n",
		NULL};
	struct config cfg, def;
	size_t i;

	(void)state;
	config_defaults(&def);
	for (i = 0; inputs[i] != NULL; i++) {
		load_ok(&cfg, inputs[i]);
		assert_true(config_equal(&cfg, &def));
		assert_string_equal(cfg.path, NAME);
		config_release(&cfg);
	}
	config_release(&def);
}

static void
test_overrides_nested(void **state)
{
	struct config cfg;

	(void)state;
	load_ok(&cfg, "workers: 8\n"
		      "defaults:\n  timeout: 90\n  max_iterations: \"5\"\n"
		      "retry: {max: 2m}\nsessions:\n  ttl: 1d\n  retention: 0\n"
		      "runner: {requeue_interrupted: true, heartbeat: 250ms}\n"
		      "iterate_prompt: |\n  again: {output}\n"
		      "db: {busy_timeout: 0, synchronous: full}\n");
	assert_int_equal(cfg.workers, 8);
	assert_int_equal(cfg.defaults.timeout_ms, 90000);
	assert_int_equal(cfg.defaults.max_iterations, 5);
	/* siblings keep their defaults */
	assert_string_equal(cfg.defaults.agent, "shell");
	assert_int_equal(cfg.defaults.max_attempts, 2);
	assert_int_equal(cfg.defaults.kill_grace_ms, 5000);
	assert_int_equal(cfg.retry.max_ms, 120000);
	assert_int_equal(cfg.retry.base_ms, 2000);
	assert_int_equal(cfg.retry.attempts, 3);
	assert_int_equal(cfg.sessions.ttl_ms, 86400000);
	assert_int_equal(cfg.sessions.retention_ms, 0);
	assert_int_equal(cfg.sessions.max_active, 1000);
	assert_int_equal(cfg.runner.requeue_interrupted, 1);
	assert_int_equal(cfg.runner.heartbeat_ms, 250);
	assert_int_equal(cfg.runner.stale_after_ms, 60000);
	assert_string_equal(cfg.iterate_prompt, "again: {output}\n");
	assert_null(cfg.db.path);
	assert_int_equal(cfg.db.busy_timeout_ms, 0);
	assert_int_equal(cfg.db.synchronous_full, 1);
	assert_int_equal(cfg.nagents, 3);
	config_release(&cfg);

	/* empty sections change nothing */
	load_ok(&cfg, "defaults:\nretry: {}\nagents:\nsessions: ~\ndb:\n");
	assert_int_equal(cfg.retry.attempts, 3);
	assert_int_equal(cfg.nagents, 3);
	config_release(&cfg);
}

static void
test_db_forms(void **state)
{
	struct config cfg;
	char *old = xstrdup_or_null(getenv("HOME"));

	(void)state;
	setenv("HOME", "/home/someone", 1);
	load_ok(&cfg, "db: /var/lib/baton.db\n");
	assert_string_equal(cfg.db.path, "/var/lib/baton.db");
	assert_int_equal(cfg.db.busy_timeout_ms, 10000);
	config_release(&cfg);

	load_ok(&cfg, "db: ~/x/baton.db\n");
	assert_string_equal(cfg.db.path, "/home/someone/x/baton.db");
	config_release(&cfg);

	load_ok(&cfg, "db: {path: ~/y.db}\n");
	assert_string_equal(cfg.db.path, "/home/someone/y.db");
	config_release(&cfg);

	load_ok(&cfg, "db: {path: '~'}\n");
	assert_string_equal(cfg.db.path, "/home/someone");
	config_release(&cfg);

	load_ok(&cfg, "db: ~other/z.db\n");
	assert_string_equal(cfg.db.path, "~other/z.db");
	config_release(&cfg);

	load_ok(&cfg, "db: relative.db\n");
	assert_string_equal(cfg.db.path, "relative.db");
	config_release(&cfg);

	load_ok(&cfg, "db: {path: ~, synchronous: normal}\n");
	assert_null(cfg.db.path);
	config_release(&cfg);

	unsetenv("HOME");
	expect_err("db: ~/x.db\n",
		   NAME ":1:5: db: cannot expand '~': HOME is not set");
	if (old != NULL)
		setenv("HOME", old, 1);
	free(old);
}

static void
test_agents(void **state)
{
	struct config cfg;
	const struct agent_profile *a;

	(void)state;
	load_ok(&cfg, "defaults: {agent: mine}\n"
		      "agents:\n  mine:\n    kind: command\n"
		      "    command: [./my-agent, --session, \"{session_id}\"]\n"
		      "    use_session_persistence: false\n"
		      "    env: {API_TOKEN: abc, N: 5, EMPTY: }\n"
		      "    timeout: 2h\n    kill_grace: 1s\n"
		      "  one: {kind: command, command: my agent with spaces}\n"
		      "  claude: {kind: claude, model: opus}\n"
		      "  cx: {kind: codex, command: [/opt/codex], price: "
		      "{output: 3}}\n"
		      "  a.b_c-1: {kind: shell, args: [x, 'y z']}\n");
	assert_int_equal(cfg.nagents, 7);
	/* still sorted by name */
	assert_string_equal(cfg.agents[0].name, "a.b_c-1");
	assert_string_equal(cfg.agents[1].name, "claude");
	assert_string_equal(cfg.agents[2].name, "codex");
	assert_string_equal(cfg.agents[3].name, "cx");
	assert_string_equal(cfg.agents[4].name, "mine");
	assert_string_equal(cfg.agents[5].name, "one");
	assert_string_equal(cfg.agents[6].name, "shell");
	assert_string_equal(cfg.defaults.agent, "mine");

	a = config_agent(&cfg, "mine");
	assert_string_equal(agent_kind_name(a->kind), "command");
	assert_string_equal(a->command[0], "./my-agent");
	assert_string_equal(a->command[1], "--session");
	assert_string_equal(a->command[2], "{session_id}");
	assert_null(a->command[3]);
	assert_int_equal(a->use_session_persistence, 0);
	assert_string_equal(a->env[0], "API_TOKEN=abc");
	assert_string_equal(a->env[1], "N=5");
	assert_string_equal(a->env[2], "EMPTY=");
	assert_null(a->env[3]);
	assert_null(a->args[0]);
	assert_int_equal(a->timeout_ms, 7200000);
	assert_int_equal(a->kill_grace_ms, 1000);
	assert_string_equal(a->file, NAME);
	assert_int_equal(a->line, 3);
	assert_int_equal(a->col, 3);

	/* a string command is one argv item, never split */
	a = config_agent(&cfg, "one");
	assert_string_equal(a->command[0], "my agent with spaces");
	assert_null(a->command[1]);
	assert_int_equal(a->use_session_persistence, 1);

	/* a profile of a built-in's name replaces it entirely */
	a = config_agent(&cfg, "claude");
	assert_string_equal(a->model, "opus");
	assert_string_equal(a->command[0], "claude");
	assert_null(a->command[1]);
	assert_null(a->args[0]);

	a = config_agent(&cfg, "cx");
	assert_string_equal(a->command[0], "/opt/codex");
	assert_null(a->command[1]);
	assert_int_equal(a->price.set, 1);
	assert_true(a->price.input == 0);
	assert_true(a->price.output == 3);

	a = config_agent(&cfg, "a.b_c-1");
	assert_null(a->command);
	assert_string_equal(a->args[1], "y z");
	config_release(&cfg);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_err("workers: 2\nwokers: 3\n",
		   NAME ":2:1: unknown key 'wokers' (did you mean "
			"'workers'?)");
	expect_err("defaults:\n  agnet: x\n",
		   NAME ":2:3: unknown key 'agnet' in defaults (did you mean "
			"'agent'?)");
	expect_err("zzz: 1\n",
		   NAME ":1:1: unknown key 'zzz' (expected one of: db, "
			"workers, defaults, retry, sessions, logs, "
			"runner, iterate_prompt, agents)");
	expect_err("agents:\n  x: {kind: shell, comand: [a]}\n",
		   NAME ":2:20: unknown key 'comand' in agents.x (did you "
			"mean 'command'?)");
	expect_err("db: {sync: full}\n",
		   NAME ":1:6: unknown key 'sync' in db (expected one of: "
			"path, url, synchronous, busy_timeout, shared_group, "
			"wal_warn_mib, final_write_timeout)");
	expect_err("defaults: 3\n",
		   NAME ":1:11: defaults: expected a mapping, got '3'");
	expect_err("retry: [1, 2]\n",
		   NAME ":1:8: retry: expected a mapping, got a list");
	expect_err("- a\n- b\n",
		   NAME ":1:1: configuration: expected a mapping, got a list");
	expect_err("hello\n",
		   NAME ":1:1: configuration: expected a mapping, got "
			"'hello'");
	expect_err("workers: two\n",
		   NAME ":1:10: workers: expected a whole number ≥ 1, got "
			"'two'");
	expect_err("workers: 0\n",
		   NAME ":1:10: workers: expected a whole number ≥ 1, got "
			"'0'");
	expect_err("workers: -3\n",
		   NAME ":1:10: workers: expected a whole number ≥ 1, got "
			"'-3'");
	expect_err("workers: 2.5\n",
		   NAME ":1:10: workers: expected a whole number ≥ 1, got "
			"'2.5'");
	expect_err("workers: 99999999999999999999\n",
		   NAME ":1:10: workers: expected a whole number ≥ 1, got "
			"'99999999999999999999'");
	expect_err("workers: {a: 1}\n",
		   NAME ":1:10: workers: expected a whole number ≥ 1, got a "
			"mapping");
	expect_err("sessions: {max_active: 0}\n",
		   NAME ":1:24: sessions.max_active: expected a whole number "
			"≥ 1, got '0'");
	expect_err("retry: {attempts: 0}\n",
		   NAME ":1:19: retry.attempts: expected a whole number ≥ 1, "
			"got '0'");
	expect_err("defaults: {max_attempts: -1}\n",
		   NAME ":1:26: defaults.max_attempts: expected a whole "
			"number ≥ 1, got '-1'");
	expect_err("defaults: {max_iterations: 0}\n",
		   NAME ":1:28: defaults.max_iterations: expected a whole "
			"number ≥ 1, got '0'");
	expect_err("sessions: {resume_failure_limit: x}\n",
		   NAME ":1:34: sessions.resume_failure_limit: expected a "
			"whole number ≥ 1, got 'x'");
	expect_err("runner:\n  requeue_interrupted: yes\n",
		   NAME ":2:24: runner.requeue_interrupted: expected true or "
			"false, got 'yes'");
	expect_err("defaults:\n  timeout: 15 minutes\n",
		   NAME ":2:12: defaults.timeout: invalid duration '15 "
			"minutes': use e.g. 90s, 15m, 1h30m, 1.5h");
	expect_err("defaults: {timeout: 0}\n",
		   NAME ":1:21: defaults.timeout: expected a duration greater "
			"than 0, got '0'");
	expect_err("runner: {heartbeat: 0s}\n",
		   NAME ":1:21: runner.heartbeat: expected a duration greater "
			"than 0, got '0s'");
	expect_err("sessions: {ttl: -1h}\n",
		   NAME ":1:17: sessions.ttl: invalid duration '-1h': use "
			"e.g. 90s, 15m, 1h30m, 1.5h");
	expect_err("retry: {base: 1.0001s}\n",
		   NAME ":1:15: retry.base: invalid duration '1.0001s': use "
			"e.g. 90s, 15m, 1h30m, 1.5h");
	expect_err("db: {busy_timeout: [1]}\n",
		   NAME ":1:20: db.busy_timeout: expected a duration like "
			"90s, 15m, 1h30m or 1.5h, got a list");
	expect_err("db: {synchronous: fast}\n",
		   NAME ":1:19: db.synchronous: expected normal or full, got "
			"'fast'");
	expect_err("db: ''\n", NAME ":1:5: db: expected a non-empty path");
	expect_err("db: [a]\n",
		   NAME ":1:5: db: expected a mapping, got a list");
	expect_err("iterate_prompt: ''\n",
		   NAME ":1:17: iterate_prompt: expected a non-empty string");
	expect_err("iterate_prompt: [a]\n",
		   NAME ":1:17: iterate_prompt: expected a string, got a "
			"list");
	expect_err("retry: {base: 10s, max: 5s}\n",
		   NAME ":1:25: retry.max (5s) is less than retry.base (10s)");
	expect_err("retry: {base: 2m}\n",
		   NAME ":1:15: retry.max (1m) is less than retry.base (2m)");
	expect_err("runner: {stale_after: 5s}\n",
		   NAME ":1:23: runner.stale_after (5s) must be at least 3 "
			"times runner.heartbeat (5s)");
	/* SPEC §5: 3 heartbeats at least, exactly 3 is fine */
	expect_err("runner: {heartbeat: 1s, stale_after: 2999ms}\n",
		   NAME ":1:38: runner.stale_after (2999ms) must be at least "
			"3 times runner.heartbeat (1s)");
	expect_err("defaults: {agent: nope}\n",
		   NAME ":1:19: defaults.agent: no agent profile named 'nope' "
			"(profiles: claude, codex, shell)");
	expect_err("defaults: {agent: ''}\n",
		   NAME ":1:19: defaults.agent: expected a non-empty string");
	expect_err("workers: 1\nworkers: 2\n",
		   NAME ":2:1: duplicate key 'workers' (first at line 1)");
	expect_err("agents:\n  a: {kind: shell}\n  b: {kind: shell}\n"
		   "  a: {kind: claude}\n",
		   NAME ":4:3: duplicate key 'a' (first at line 2)");
	expect_err("agents:\n  a: {kind: shell, env: {X: 1, Y: 2, X: 3}}\n",
		   NAME ":2:38: duplicate key 'X' (first at line 2)");
	expect_err("a: 1\n---\nb: 2\n",
		   NAME ":2:1: more than one YAML document");
	expect_err("x: &a 1\ny: *a\n", NAME ":2:4: aliases are not supported");
	expect_err("? [a, b]\n: 1\n",
		   NAME ":1:3: configuration: expected a string as key, got a "
			"list");
	expect_err("\"a\\0b\": 1\n",
		   NAME ":1:1: NUL bytes are not allowed in values");
	expect_err("workers: \"1\\0\"\n",
		   NAME ":1:10: NUL bytes are not allowed in values");
}

static void
test_agent_errors(void **state)
{
	(void)state;
	expect_err("agents:\n  x: {kind: robot}\n",
		   NAME ":2:13: agents.x.kind: unknown kind 'robot' (expected "
			"shell, command, claude or codex)");
	expect_err("agents:\n  x: {kind: claud}\n",
		   NAME ":2:13: agents.x.kind: unknown kind 'claud' (did you "
			"mean 'claude'?)");
	expect_err("agents:\n  x: {kind: [shell]}\n",
		   NAME ":2:13: agents.x.kind: expected a kind, got a list");
	expect_err("agents:\n  x: {model: m}\n",
		   NAME ":2:6: agents.x: missing 'kind' (one of shell, "
			"command, claude, codex)");
	expect_err("agents:\n  x:\n",
		   NAME ":2:5: agents.x: expected a mapping with at least "
			"'kind'");
	expect_err("agents:\n  x: {kind: command}\n",
		   NAME ":2:6: agents.x: a command profile needs 'command' "
			"(the program and its arguments as a list)");
	expect_err("agents:\n  x: {kind: command, command: []}\n",
		   NAME ":2:31: agents.x.command: expected a non-empty list");
	expect_err("agents:\n  x: {kind: command, command: ['', a]}\n",
		   NAME ":2:31: agents.x.command: the program name is empty");
	expect_err("agents:\n  x: {kind: command, command: [a, [b]]}\n",
		   NAME ":2:35: agents.x.command: expected a string, got a "
			"list");
	expect_err("agents:\n  x: {kind: command, command: {a: b}}\n",
		   NAME ":2:31: agents.x.command: expected a list of strings, "
			"got a mapping");
	expect_err("agents:\n  x: {kind: claude, command: [a, b]}\n",
		   NAME ":2:30: agents.x.command: expected a program name or "
			"a one-element list, got a list");
	expect_err("agents:\n  x: {kind: codex, command: ''}\n",
		   NAME ":2:29: agents.x.command: expected a program name or "
			"a one-element list, got ''");
	expect_err("agents:\n  x: {kind: shell, command: sh}\n",
		   NAME ":2:20: agents.x.command: a shell profile runs the "
			"prompt with /bin/sh and takes no command");
	expect_err("agents:\n  'a b': {kind: shell}\n",
		   NAME ":2:3: agents: invalid profile name 'a b' (up to 64 "
			"letters, digits, '.', '_' or '-')");
	expect_err("agents:\n  x: {kind: shell, args: a}\n",
		   NAME ":2:26: agents.x.args: expected a list of strings, got "
			"'a'");
	expect_err("agents:\n  x: {kind: shell, env: [A=1]}\n",
		   NAME ":2:25: agents.x.env: expected a mapping, got a list");
	expect_err("agents:\n  x: {kind: shell, env: {1A: x}}\n",
		   NAME ":2:26: agents.x.env: invalid variable name '1A'");
	expect_err("agents:\n  x: {kind: shell, env: {'A=B': x}}\n",
		   NAME ":2:26: agents.x.env: invalid variable name 'A=B'");
	expect_err("agents:\n  x: {kind: shell, env: {A: [x]}}\n",
		   NAME ":2:29: agents.x.env.A: expected a string, got a list");
	expect_err("agents:\n  x: {kind: shell, model: [m]}\n",
		   NAME ":2:27: agents.x.model: expected a string, got a list");
	expect_err("agents:\n  x: {kind: shell, timeout: 0}\n",
		   NAME ":2:29: agents.x.timeout: expected a duration greater "
			"than 0, got '0'");
	expect_err("agents:\n  x: {kind: shell, kill_grace: soon}\n",
		   NAME ":2:32: agents.x.kill_grace: invalid duration "
			"'soon': use e.g. 90s, 15m, 1h30m, 1.5h");
	expect_err("agents:\n  x: {kind: shell, use_session_persistence: 1}\n",
		   NAME ":2:45: agents.x.use_session_persistence: expected "
			"true or false, got '1'");
	expect_err("agents:\n  x: {kind: codex, price: {input: -1}}\n",
		   NAME ":2:35: agents.x.price.input: expected a number ≥ 0 "
			"(USD per million tokens), got '-1'");
	expect_err("agents:\n  x: {kind: codex, price: {output: nan}}\n",
		   NAME ":2:36: agents.x.price.output: expected a number ≥ 0 "
			"(USD per million tokens), got 'nan'");
	expect_err("agents:\n  x: {kind: codex, price: {output: 1e999}}\n",
		   NAME ":2:36: agents.x.price.output: expected a number ≥ 0 "
			"(USD per million tokens), got '1e999'");
	expect_err("agents:\n  x: {kind: codex, price: {inptu: 1}}\n",
		   NAME ":2:28: unknown key 'inptu' in agents.x.price (did you "
			"mean 'input'?)");
	expect_err("agents: [shell]\n",
		   NAME ":1:9: agents: expected a mapping, got a list");
}

static void
test_syntax_errors(void **state)
{
	char *cause;

	(void)state;
	expect_err_prefix("workers: [1, 2\n", NAME ":2:1: did not find ");
	expect_err_prefix("a: b: c\n",
			  NAME ":1:5: mapping values are not allowed");
	expect_err_prefix("a:\n\t- b\n", NAME ":2:1: found character that "
					      "cannot start any token");
	expect_err_prefix("a: 'unterminated\n", NAME ":2:1: found unexpected "
						     "end of stream");
	/* raw bytes libyaml refuses, with their position */
	cause = load_err_len("a: 1\nb: x\0y\n", 12);
	assert_non_null(cause);
	assert_string_equal(cause, NAME ":2:5: control characters are not "
					"allowed (byte 0x00)");
	free(cause);
	expect_err("a: \xff\n",
		   NAME ":1:4: invalid leading UTF-8 octet (byte 0xFF)");
	expect_err_prefix("a: \xc3\n",
			  NAME ":1:5: invalid trailing UTF-8 octet");
	expect_err_prefix("\x01\x02\x03", NAME ":1:1: control characters");
}

static void
test_files(void **state)
{
	struct config cfg;
	char *dir = test_tmpdir(), *p, *cause = NULL, *big;
	FILE *fp;
	size_t i;

	(void)state;
	p = xasprintf("%s/missing.yaml", dir);
	assert_int_equal(config_load_file(&cfg, p, &cause), -1);
	free(p);
	p = xasprintf("cannot read config %s/missing.yaml: No such file or "
		      "directory",
		      dir);
	assert_string_equal(cause, p);
	free(p);
	free(cause);
	cause = NULL;

	assert_int_equal(config_load_file(&cfg, dir, &cause), -1);
	p = xasprintf("cannot read config %s: Is a directory", dir);
	assert_string_equal(cause, p);
	free(p);
	free(cause);
	cause = NULL;

	/* a file over 1 MiB is refused before it is parsed */
	p = xasprintf("%s/big.yaml", dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	for (i = 0; i < 1024 * 1024 + 1; i++)
		fputc('#', fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(config_load_file(&cfg, p, &cause), -1);
	big = xasprintf("cannot read config %s: larger than 1 MiB", p);
	assert_string_equal(cause, big);
	free(big);
	free(cause);
	cause = NULL;
	free(p);

	/* messages name the file as given */
	p = xasprintf("%s/bad.yaml", dir);
	test_write(p, "# comment\nworkers: 1\n\nwokers: 2\n");
	assert_int_equal(config_load_file(&cfg, p, &cause), -1);
	big = xasprintf("%s:4:1: unknown key 'wokers' (did you mean "
			"'workers'?)",
			p);
	assert_string_equal(cause, big);
	free(big);
	free(cause);
	cause = NULL;

	/* unreadable (unless we are root, who reads anything) */
	test_write(p, "workers: 3\n");
	chmod(p, 0);
	if (geteuid() != 0) {
		assert_int_equal(config_load_file(&cfg, p, &cause), -1);
		assert_non_null(strstr(cause, "Permission denied"));
		free(cause);
		cause = NULL;
	}
	chmod(p, 0644);
	assert_int_equal(config_load_file(&cfg, p, &cause), 0);
	assert_int_equal(cfg.workers, 3);
	assert_string_equal(cfg.path, p);
	config_release(&cfg);
	free(p);

	/* /dev/null is an empty file */
	assert_int_equal(config_load_file(&cfg, "/dev/null", &cause), 0);
	assert_int_equal(cfg.workers, 2);
	config_release(&cfg);

	assert_int_equal(test_rmtree(dir), 0);
	free(dir);
}

/* Environment of the resolution tests, put back afterwards. */
static const char *const env_names[] = {"BATON_CONFIG",
					"BATON_DB",
					"BATON_SESSION_TTL",
					"BATON_WORKERS",
					"XDG_CONFIG_HOME",
					"HOME",
					NULL};

struct saved_env {
	char *values[8];
	char cwd[PATH_MAX];
};

static void
env_save(struct saved_env *s)
{
	size_t i;

	for (i = 0; env_names[i] != NULL; i++) {
		s->values[i] = xstrdup_or_null(getenv(env_names[i]));
		unsetenv(env_names[i]);
	}
	assert_non_null(getcwd(s->cwd, sizeof s->cwd));
}

static void
env_restore(struct saved_env *s)
{
	size_t i;

	for (i = 0; env_names[i] != NULL; i++) {
		if (s->values[i] != NULL)
			setenv(env_names[i], s->values[i], 1);
		else
			unsetenv(env_names[i]);
		free(s->values[i]);
	}
	assert_int_equal(chdir(s->cwd), 0);
}

static int
load_workers(const char *explicit_path, char **cause)
{
	struct config cfg;
	int w;

	if (config_load(&cfg, explicit_path, cause) != 0)
		return -1;
	w = cfg.workers;
	config_release(&cfg);
	return w;
}

static void
test_resolution(void **state)
{
	struct saved_env saved;
	struct config cfg;
	char *dir = test_tmpdir(), *p, *cause = NULL, *x, *e, *want;

	(void)state;
	env_save(&saved);
	p = xasprintf("%s/work", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(chdir(p), 0);
	free(p);
	p = xasprintf("%s/home", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	setenv("HOME", p, 1);
	free(p);

	/* nothing anywhere: built-in defaults */
	assert_int_equal(config_load(&cfg, NULL, &cause), 0);
	assert_null(cfg.path);
	assert_int_equal(cfg.workers, 2);
	config_release(&cfg);

	/* ~/.config/baton/config.yaml without XDG_CONFIG_HOME */
	p = xasprintf("%s/home/.config", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/home/.config/baton", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/home/.config/baton/config.yaml", dir);
	test_write(p, "workers: 5\n");
	assert_int_equal(load_workers(NULL, &cause), 5);
	assert_int_equal(config_load(&cfg, NULL, &cause), 0);
	assert_string_equal(cfg.path, p);
	config_release(&cfg);
	free(p);

	/* $XDG_CONFIG_HOME/baton/config.yaml (and a missing one is skipped) */
	p = xasprintf("%s/xdg", dir);
	setenv("XDG_CONFIG_HOME", p, 1);
	assert_int_equal(load_workers(NULL, &cause), 2);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/xdg/baton", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	x = xasprintf("%s/xdg/baton/config.yaml", dir);
	test_write(x, "workers: 4\n");
	assert_int_equal(load_workers(NULL, &cause), 4);
	/* a relative XDG_CONFIG_HOME is ignored (XDG spec) */
	setenv("XDG_CONFIG_HOME", "xdg", 1);
	assert_int_equal(load_workers(NULL, &cause), 5);
	p = xasprintf("%s/xdg", dir);
	setenv("XDG_CONFIG_HOME", p, 1);
	free(p);

	/* ./baton.yaml is layered on XDG, key by key */
	test_write("baton.yaml", "workers: 3\n");
	assert_int_equal(load_workers(NULL, &cause), 3);
	assert_int_equal(config_load(&cfg, NULL, &cause), 0);
	p = xasprintf("%s, baton.yaml", x);
	assert_string_equal(cfg.path, p);
	free(p);
	config_release(&cfg);
	test_write(x, "workers: 4\nretry: {attempts: 9}\n");
	assert_int_equal(config_load(&cfg, NULL, &cause), 0);
	assert_int_equal(cfg.workers, 3);
	assert_int_equal(cfg.retry.attempts, 9);
	config_release(&cfg);

	/* BATON_CONFIG beats ./baton.yaml; empty means unset */
	e = xasprintf("%s/env.yaml", dir);
	test_write(e, "workers: 6\n");
	setenv("BATON_CONFIG", e, 1);
	assert_int_equal(load_workers(NULL, &cause), 6);
	setenv("BATON_CONFIG", "", 1);
	assert_int_equal(load_workers(NULL, &cause), 3);
	setenv("BATON_CONFIG", e, 1);

	/* --config beats BATON_CONFIG */
	assert_int_equal(load_workers(x, &cause), 4);

	/* an explicitly named file must exist */
	assert_int_equal(load_workers("/nonexistent/x.yaml", &cause), -1);
	assert_string_equal(cause, "cannot read config /nonexistent/x.yaml: "
				   "No such file or directory");
	free(cause);
	cause = NULL;
	setenv("BATON_CONFIG", "/nonexistent/y.yaml", 1);
	assert_int_equal(load_workers(NULL, &cause), -1);
	assert_string_equal(cause, "cannot read config /nonexistent/y.yaml: "
				   "No such file or directory");
	free(cause);
	cause = NULL;
	unsetenv("BATON_CONFIG");

	/* an implicit file that exists but is broken is an error */
	test_write("baton.yaml", "workers: [\n");
	assert_int_equal(load_workers(NULL, &cause), -1);
	assert_true(strncmp(cause, "baton.yaml:2:1: ", 16) == 0);
	free(cause);
	cause = NULL;
	assert_int_equal(unlink("baton.yaml"), 0);
	want = xasprintf("%s:1:10: workers: expected a whole number ≥ 1, got "
			 "'0'",
			 x);
	test_write(x, "workers: 0\n");
	assert_int_equal(load_workers(NULL, &cause), -1);
	assert_string_equal(cause, want);
	free(cause);
	cause = NULL;
	free(want);

	free(x);
	free(e);
	env_restore(&saved);
	assert_int_equal(test_rmtree(dir), 0);
	free(dir);
}

static void
test_env_overrides(void **state)
{
	struct saved_env saved;
	struct config cfg;
	char *dir = test_tmpdir(), *p, *cause = NULL;

	(void)state;
	env_save(&saved);
	setenv("HOME", "/home/h", 1);
	p = xasprintf("%s/c.yaml", dir);
	test_write(p, "workers: 3\ndb: /from/file.db\nsessions: {ttl: 1h}\n");

	assert_int_equal(config_load(&cfg, p, &cause), 0);
	assert_int_equal(cfg.workers, 3);
	assert_string_equal(cfg.db.path, "/from/file.db");
	assert_int_equal(cfg.sessions.ttl_ms, 3600000);
	config_release(&cfg);

	setenv("BATON_WORKERS", "7", 1);
	setenv("BATON_DB", "~/env.db", 1);
	setenv("BATON_SESSION_TTL", "90", 1);
	assert_int_equal(config_load(&cfg, p, &cause), 0);
	assert_int_equal(cfg.workers, 7);
	assert_string_equal(cfg.db.path, "/home/h/env.db");
	assert_int_equal(cfg.sessions.ttl_ms, 90000);
	config_release(&cfg);

	/* config_load_file() ignores the environment */
	assert_int_equal(config_load_file(&cfg, p, &cause), 0);
	assert_int_equal(cfg.workers, 3);
	config_release(&cfg);

	setenv("BATON_WORKERS", "x", 1);
	assert_int_equal(config_load(&cfg, p, &cause), -1);
	assert_string_equal(
		cause, "BATON_WORKERS: expected a whole number ≥ 1, got 'x'");
	assert_null(cfg.agents);
	free(cause);
	cause = NULL;
	setenv("BATON_WORKERS", "0", 1);
	assert_int_equal(config_load(&cfg, p, &cause), -1);
	assert_string_equal(
		cause, "BATON_WORKERS: expected a whole number ≥ 1, got '0'");
	free(cause);
	cause = NULL;
	setenv("BATON_WORKERS", "", 1);
	assert_int_equal(config_load(&cfg, p, &cause), -1);
	assert_string_equal(
		cause, "BATON_WORKERS: expected a whole number ≥ 1, got ''");
	free(cause);
	cause = NULL;
	unsetenv("BATON_WORKERS");

	setenv("BATON_SESSION_TTL", "1 day", 1);
	assert_int_equal(config_load(&cfg, p, &cause), -1);
	assert_string_equal(cause, "BATON_SESSION_TTL: invalid duration '1 "
				   "day': use e.g. 90s, 15m, 1h30m, 1.5h");
	free(cause);
	cause = NULL;
	setenv("BATON_SESSION_TTL", "0", 1);
	assert_int_equal(config_load(&cfg, p, &cause), -1);
	free(cause);
	cause = NULL;
	unsetenv("BATON_SESSION_TTL");

	setenv("BATON_DB", "", 1);
	assert_int_equal(config_load(&cfg, p, &cause), -1);
	assert_string_equal(cause, "BATON_DB: expected a non-empty path");
	free(cause);
	cause = NULL;

	/* a bad value in the environment is reported even with no file */
	unsetenv("BATON_DB");
	setenv("BATON_WORKERS", "-1", 1);
	assert_int_equal(chdir(dir), 0);
	setenv("XDG_CONFIG_HOME", dir, 1);
	assert_int_equal(config_load(&cfg, NULL, &cause), -1);
	assert_string_equal(
		cause, "BATON_WORKERS: expected a whole number ≥ 1, got '-1'");
	free(cause);

	free(p);
	env_restore(&saved);
	assert_int_equal(test_rmtree(dir), 0);
	free(dir);
}

/* config_show() output as a string the caller frees. */
static char *
show(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	assert_int_equal(config_show(cfg, fp), 0);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static void
roundtrip(const struct config *cfg)
{
	struct config back;
	char *text = show(cfg), *cause = NULL;

	if (config_load_string(&back, "show", text, strlen(text), &cause) != 0)
		fail_msg("show output does not load: %s\n%s", cause, text);
	if (!config_equal(cfg, &back))
		fail_msg("show output loads differently:\n%s", text);
	config_release(&back);
	free(text);
}

static void
test_show_roundtrip(void **state)
{
	struct config cfg;
	char *text;

	(void)state;
	config_defaults(&cfg);
	roundtrip(&cfg);
	text = show(&cfg);
	assert_non_null(strstr(text, "workers: 2\n"));
	assert_non_null(strstr(text, "  path: ~\n"));
	assert_non_null(strstr(text, "  timeout: 30m\n"));
	assert_non_null(strstr(text, "  retention: 30d\n"));
	assert_non_null(strstr(text, "cached_input: 0.125"));
	free(text);
	config_release(&cfg);

	/* strings that need quoting of every kind */
	load_ok(&cfg,
		"db: {path: '/tmp/a b: #c/x.db', synchronous: full, "
		"busy_timeout: 1500ms}\nworkers: 64\n"
		"defaults: {agent: 'true', timeout: 1d, max_attempts: 10, "
		"kill_grace: 0, max_iterations: 1}\n"
		"retry: {attempts: 1, base: 250ms, max: 61s}\n"
		"sessions: {ttl: 90s, max_active: 1, resume_failure_limit: 9, "
		"retention: 0}\nrunner: {heartbeat: 1s, stale_after: 3s, "
		"requeue_interrupted: true}\n"
		"iterate_prompt: \"  lead\\n\\ttab 'q' \\\"dq\\\" ünï \\n\\n"
		"trail  \"\nagents:\n"
		"  'true': {kind: shell, args: ['-', '- x', '#', '', '~', "
		"'null',"
		" '123', '1.5', 'a, b', '[x]', '{y}', '*z', '&w', '!t', '%p', "
		"'@', '`', 'key: v', \"it's\", 'yes', '0x1F', '\\'] }\n"
		"  '123': {kind: command, command: ['~', '{prompt_file}'], "
		"model: '~', timeout: 3h, kill_grace: 250ms, "
		"use_session_persistence: false, "
		"price: {input: 0.1, cached_input: 3.000001, output: 1e-7}}\n"
		"  x-: {kind: claude, command: '- /usr/bin/claude', model: "
		"'null'}\n  '-': {kind: codex, price: {}}\n");
	assert_string_equal(config_agent(&cfg, "123")->model, "~");
	roundtrip(&cfg);
	config_release(&cfg);
}

static void
test_show_masks(void **state)
{
	struct config cfg;
	char *text;

	(void)state;
	load_ok(&cfg, "agents:\n"
		      "  c:\n    kind: claude\n"
		      "    env: {ANTHROPIC_API_KEY: sk-ant-s3cret, "
		      "PLAIN: visible-value}\n"
		      "    args: [--Auth-Token=t0ps3cret, --model=x, "
		      "--key, --a=b=c]\n");
	text = show(&cfg);
	assert_non_null(strstr(text, "args: [--Auth-Token=***, --model=x, "
				     "--key, --a=b=c]"));
	assert_null(strstr(text, "t0ps3cret"));
	assert_non_null(strstr(text, "ANTHROPIC_API_KEY: \"***\""));
	assert_non_null(strstr(text, "PLAIN: \"***\""));
	assert_null(strstr(text, "s3cret"));
	assert_null(strstr(text, "visible-value"));
	free(text);
	config_release(&cfg);
}

static void
test_show_write_error(void **state)
{
	struct config cfg;
	FILE *fp = fopen("/dev/full", "w");

	(void)state;
	if (fp == NULL)
		skip();
	config_defaults(&cfg);
	assert_int_equal(config_show(&cfg, fp), -1);
	fclose(fp);
	config_release(&cfg);
}

/* ---- hostile input: nothing may crash, hang or leak ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* Load must either succeed or fail with a file:line:col message. */
static void
survive(const char *buf, size_t len)
{
	char *cause = load_err_len(buf, len);

	if (cause != NULL) {
		assert_true(strncmp(cause, NAME ":", strlen(NAME) + 1) == 0 ||
			    strncmp(cause, "cannot read config " NAME,
				    strlen("cannot read config " NAME)) == 0);
		free(cause);
	}
}

static char *
repeat(const char *unit, size_t n, const char *tail)
{
	struct strbuf sb;
	size_t i;

	strbuf_init(&sb);
	for (i = 0; i < n; i++)
		strbuf_adds(&sb, unit);
	strbuf_adds(&sb, tail);
	return strbuf_detach(&sb);
}

static void
test_deep_nesting(void **state)
{
	char *s, *want;

	(void)state;
	s = repeat("[", 100000, "");
	expect_err(s, NAME ":1:33: nesting deeper than 32 levels");
	free(s);
	s = repeat("{a: ", 10000, "1");
	expect_err(s, NAME ":1:129: nesting deeper than 32 levels");
	free(s);
	/* block style: each level two spaces deeper */
	{
		struct strbuf sb;
		int i;

		strbuf_init(&sb);
		for (i = 0; i < 40; i++)
			strbuf_addf(&sb, "%*sk%d:\n", 2 * i, "", i);
		s = strbuf_detach(&sb);
	}
	want = xasprintf(NAME ":%d:%d: nesting deeper than 32 levels", 33,
			 2 * 32 + 1);
	expect_err(s, want);
	free(want);
	free(s);
	/* 32 levels pass the nesting check (the key is then unknown) */
	s = repeat("[", 31, "");
	want = repeat("]", 31, "");
	{
		char *doc = xasprintf("zzz: %s%s\n", s, want);

		expect_err_prefix(doc, NAME ":1:1: unknown key 'zzz'");
		free(doc);
		doc = xasprintf("zzz: [%s%s]\n", s, want);
		expect_err(doc, NAME ":1:37: nesting deeper than 32 levels");
		free(doc);
	}
	free(want);
	free(s);
}

static void
test_huge_values(void **state)
{
	struct config cfg;
	char *big, *s, *cause;
	size_t n = 1024 * 1024 - 64, i;

	(void)state;
	/* a prompt just under the limit is fine */
	big = xmalloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	s = xasprintf("iterate_prompt: %s\n", big);
	load_ok(&cfg, s);
	assert_int_equal(strlen(cfg.iterate_prompt), n);
	config_release(&cfg);
	free(s);

	/* a huge bad value is cut short in the message */
	s = xasprintf("workers: %s\n", big);
	cause = load_err(s);
	assert_non_null(cause);
	assert_true(strlen(cause) < 200);
	assert_non_null(strstr(cause, "got 'xxxxxxxxxx"));
	assert_non_null(strstr(cause, "...'"));
	free(cause);
	free(s);

	/* a huge unknown key: no suggestion, no slow edit distance */
	s = xasprintf("%s: 1\n", big);
	survive(s, strlen(s));
	free(s);
	free(big);

	/* over the limit */
	big = xmalloc(1024 * 1024 + 2);
	memset(big, '#', 1024 * 1024 + 1);
	big[1024 * 1024 + 1] = '\0';
	expect_err(big, "cannot read config " NAME ": larger than 1 MiB");
	free(big);

	/* many values: refused beyond a limit, quickly */
	s = repeat("a, ", 200000, "a]");
	big = xasprintf("agents: {x: {kind: shell, args: [%s}}", s);
	expect_err_prefix(big, NAME ":1:");
	free(big);
	free(s);

	/* many keys (duplicates found in n log n, not n^2) */
	s = repeat("workers: 1\n", 40000, "");
	expect_err(s, NAME ":2:1: duplicate key 'workers' (first at line 1)");
	free(s);
	{
		struct strbuf sb;

		strbuf_init(&sb);
		strbuf_adds(&sb, "agents:\n  x:\n    kind: shell\n    env:\n");
		for (i = 0; i < 30000; i++)
			strbuf_addf(&sb, "      V%zu: x\n", i);
		strbuf_adds(&sb, "      V7: dup\n");
		s = strbuf_detach(&sb);
	}
	expect_err(s, NAME ":30005:7: duplicate key 'V7' (first at line 12)");
	free(s);
}

static void
test_alias_bombs(void **state)
{
	(void)state;
	expect_err("a: &a [x, x, x, x, x, x, x, x, x]\n"
		   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
		   NAME ":2:8: aliases are not supported");
	expect_err("defaults: &d {agent: shell}\n<<: *d\n",
		   NAME ":2:5: aliases are not supported");
	expect_err("agents:\n  x: &x {kind: shell}\n  y: *x\n",
		   NAME ":3:6: aliases are not supported");
	/* an anchor alone is harmless */
	survive("workers: &w 3\n", 14);
	/* tags mean objects to other loaders and nothing to baton */
	expect_err("agents:\n  x: !!python/object:os.system {kind: shell}\n",
		   NAME ":2:6: YAML tags are not supported "
			"('!!python/object:os.system')");
	expect_err("db: !custom foo\n",
		   NAME ":1:5: YAML tags are not supported ('!custom')");
	expect_err("workers: 1\niterate_prompt: !!binary aGk=\n",
		   NAME ":2:17: YAML tags are not supported ('!!binary')");
	expect_err("workers: !!int 3\n",
		   NAME ":1:10: YAML tags are not supported ('!!int')");
	expect_err("--- !!map\nworkers: 3\n",
		   NAME ":1:5: YAML tags are not supported ('!!map')");
	expect_err("agents:\n  x:\n    kind: command\n    command: ! [a]\n",
		   NAME ":4:14: YAML tags are not supported ('!')");
}

static void
test_garbage(void **state)
{
	char buf[2048], *repo, *orig, *mut;
	size_t i, j, len, olen = 0;
	struct config cfg;
	char *cause = NULL;

	(void)state;
	/* random bytes */
	for (i = 0; i < 3000; i++) {
		len = rnd() % sizeof buf;
		for (j = 0; j < len; j++)
			buf[j] = (char)rnd();
		survive(buf, len);
	}
	/* random YAML-ish tokens */
	{
		static const char *const tok[] = {
			"a",	  ":",	   " ",		  "\n",
			"  ",	  "-",	   "[",		  "]",
			"{",	  "}",	   ",",		  "&x",
			"*x",	  "!!str", "'",		  "\"",
			"#",	  "---",   "...",	  "?",
			"|",	  ">",	   "\t",	  "workers",
			"agents", "kind",  "command",	  "shell",
			"1",	  "1s",	   "%YAML 1.2\n", "\\",
			"\0",	  "\xff",  "defaults",	  "timeout",
			"~",	  "\r\n",  "env",	  "\xef\xbb\xbf"};
		size_t nt = sizeof tok / sizeof tok[0], k;

		for (i = 0; i < 5000; i++) {
			len = 0;
			for (j = rnd() % 60; j > 0; j--) {
				k = rnd() % nt;
				size_t tl = k == 33 ? 1 : strlen(tok[k]);

				if (len + tl >= sizeof buf)
					break;
				memcpy(buf + len, tok[k], tl);
				len += tl;
			}
			survive(buf, len);
		}
	}
	/* mutations of the real config.yaml: flips, cuts, splices */
	repo = srcdir_file("config.yaml");
	orig = file_read(repo, 1 << 20, &olen);
	assert_non_null(orig);
	for (i = 0; i < 2000; i++) {
		mut = xmalloc(olen + 1);
		memcpy(mut, orig, olen);
		len = olen;
		switch (i % 4) {
		case 0:
			for (j = 0; j < 1 + rnd() % 4; j++)
				mut[rnd() % len] = (char)rnd();
			break;
		case 1:
			len = rnd() % olen;
			break;
		case 2:
			for (j = 0; j < 1 + rnd() % 4; j++)
				mut[rnd() % len] =
					" :-[]{}\n\t#&*'\"!|>"[rnd() % 18];
			break;
		default:
			j = rnd() % len;
			memmove(mut + j, mut + j + 1, len - j - 1);
			len--;
		}
		survive(mut, len);
		free(mut);
	}
	/* the unmodified file still loads */
	assert_int_equal(config_load_string(&cfg, NAME, orig, olen, &cause), 0);
	config_release(&cfg);
	free(orig);
	free(repo);
	/* UTF-16 with a BOM is decoded by libyaml */
	survive("\xff\xfew\0o\0r\0k\0e\0r\0s\0:\0 \0003\0\n\0", 24);
	survive("\xfe\xff\0w\0:", 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_repo_config_yaml),
		cmocka_unit_test(test_config_equal),
		cmocka_unit_test(test_empty_is_defaults),
		cmocka_unit_test(test_overrides_nested),
		cmocka_unit_test(test_db_forms),
		cmocka_unit_test(test_agents),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_agent_errors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_resolution),
		cmocka_unit_test(test_env_overrides),
		cmocka_unit_test(test_show_roundtrip),
		cmocka_unit_test(test_show_masks),
		cmocka_unit_test(test_show_write_error),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_huge_values),
		cmocka_unit_test(test_alias_bombs),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
