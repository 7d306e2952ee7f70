/*
 * Unit tests for the key tables of core/config-keys.c and
 * core/config-agents.c: every key is wired to the member its name says
 * (a list written here, independently of the tables), no two keys share
 * a member, and every key read from a file changes only its own member
 * and survives config_show() and loading back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config-internal.h"
#include "lib/clock.h"
#include "lib/xmalloc.h"

#define C struct config

/* Every key below the top of the file, in the order of the file. */
static const struct {
	const char *path;
	enum key_type type;
	size_t offset;
} config_keys[] = {
	{"db.path", KEY_PATH, offsetof(C, db.path)},
	{"db.url", KEY_OPTIONAL, offsetof(C, db.url)},
	{"db.synchronous", KEY_CHOICE, offsetof(C, db.synchronous_full)},
	{"db.busy_timeout", KEY_DURATION, offsetof(C, db.busy_timeout_ms)},
	{"db.shared_group", KEY_BOOL, offsetof(C, db.shared_group)},
	{"db.wal_warn_mib", KEY_INT, offsetof(C, db.wal_warn_mib)},
	{"db.final_write_timeout", KEY_DURATION,
	 offsetof(C, db.final_write_timeout_ms)},
	{"workers", KEY_INT, offsetof(C, workers)},
	{"defaults.agent", KEY_STRING, offsetof(C, defaults.agent)},
	{"defaults.timeout", KEY_DURATION, offsetof(C, defaults.timeout_ms)},
	{"defaults.max_attempts", KEY_INT, offsetof(C, defaults.max_attempts)},
	{"defaults.kill_grace", KEY_DURATION,
	 offsetof(C, defaults.kill_grace_ms)},
	{"defaults.max_iterations", KEY_INT,
	 offsetof(C, defaults.max_iterations)},
	{"defaults.retries", KEY_INT, offsetof(C, defaults.retries)},
	{"retry.attempts", KEY_INT, offsetof(C, retry.attempts)},
	{"retry.base", KEY_DURATION, offsetof(C, retry.base_ms)},
	{"retry.max", KEY_DURATION, offsetof(C, retry.max_ms)},
	{"sessions.ttl", KEY_DURATION, offsetof(C, sessions.ttl_ms)},
	{"sessions.max_active", KEY_INT, offsetof(C, sessions.max_active)},
	{"sessions.resume_failure_limit", KEY_INT,
	 offsetof(C, sessions.resume_failure_limit)},
	{"sessions.retention", KEY_DURATION,
	 offsetof(C, sessions.retention_ms)},
	{"sessions.keep_temp_dirs", KEY_BOOL,
	 offsetof(C, sessions.keep_temp_dirs)},
	{"sessions.max_cost", KEY_PRICE, offsetof(C, sessions.max_cost)},
	{"logs.retention", KEY_DURATION, offsetof(C, logs.retention_ms)},
	{"logs.redact", KEY_BOOL, offsetof(C, logs.redact)},
	{"logs.max_bytes", KEY_INT, offsetof(C, logs.max_bytes)},
	{"logs.db_max_bytes", KEY_INT, offsetof(C, logs.db_max_bytes)},
	{"runner.heartbeat", KEY_DURATION, offsetof(C, runner.heartbeat_ms)},
	{"runner.stale_after", KEY_DURATION,
	 offsetof(C, runner.stale_after_ms)},
	{"runner.requeue_interrupted", KEY_BOOL,
	 offsetof(C, runner.requeue_interrupted)},
	{"iterate_prompt", KEY_STRING, offsetof(C, iterate_prompt)},
	{"agents", KEY_CUSTOM, offsetof(C, agents)},
};

#undef C

#define NKEYS (sizeof config_keys / sizeof config_keys[0])

/* A leaf of the tables, with its dotted path. */
struct leaf {
	char *path;
	const struct key *key;
};

static void
collect(const struct key *keys, const char *where, struct leaf *out, size_t *n)
{
	char *path;

	for (; keys->name != NULL; keys++) {
		path = where ? xasprintf("%s.%s", where, keys->name)
			     : xstrdup(keys->name);
		if (keys->type == KEY_SECTION) {
			assert_string_equal(keys->section->name, path);
			collect(keys->section->keys, path, out, n);
			free(path);
			continue;
		}
		assert_true(*n < 64);
		out[*n].path = path;
		out[(*n)++].key = keys;
	}
}

static size_t
leaves(struct leaf *out)
{
	size_t n = 0;

	collect(cfg_root_section.keys, NULL, out, &n);
	return n;
}

static void
leaves_free(struct leaf *v, size_t n)
{
	while (n-- > 0)
		free(v[n].path);
}

static void
test_wiring(void **state)
{
	struct leaf v[64];
	size_t n, i, j;

	(void)state;
	n = leaves(v);
	assert_int_equal(n, NKEYS);
	for (i = 0; i < n; i++) {
		assert_string_equal(v[i].path, config_keys[i].path);
		assert_int_equal(v[i].key->type, config_keys[i].type);
		assert_int_equal(v[i].key->offset, config_keys[i].offset);
		for (j = 0; j < i; j++)
			assert_int_not_equal(v[i].key->offset,
					     v[j].key->offset);
	}
	leaves_free(v, n);
}

/* The keys of a profile each have a member of their own. */
static void
test_agent_wiring(void **state)
{
	const struct key *a = cfg_agent_section.keys, *b;
	static const char *const names[] = {
		"kind",	 "command", "model",	  "args",
		"env",	 "timeout", "kill_grace", "use_session_persistence",
		"price", NULL};
	size_t i;

	(void)state;
	for (i = 0; names[i] != NULL; i++)
		assert_string_equal(a[i].name, names[i]);
	assert_null(a[i].name);
	assert_int_equal(cfg_key_find(a, "timeout")->offset,
			 offsetof(struct agent_profile, timeout_ms));
	assert_int_equal(cfg_key_find(a, "kill_grace")->offset,
			 offsetof(struct agent_profile, kill_grace_ms));
	assert_int_equal(cfg_key_find(a, "model")->offset,
			 offsetof(struct agent_profile, model));
	assert_int_equal(cfg_key_find(a, "args")->offset,
			 offsetof(struct agent_profile, args));
	for (; a->name != NULL; a++) {
		for (b = cfg_agent_section.keys; b != a; b++)
			assert_int_not_equal(a->offset, b->offset);
	}
}

/* A value for key other than its default d, as YAML text. */
static char *
other_value(const struct key *k, const struct config *d)
{
	const char *field = (const char *)d + k->offset;
	char *dur, *s;

	switch (k->type) {
	case KEY_INT:
		return xasprintf("%d", *(const int *)field + 1);
	case KEY_BOOL:
		return xstrdup(*(const int *)field ? "false" : "true");
	case KEY_DURATION:
		/* one second more keeps max > base, stale_after > heartbeat */
		dur = duration_format(*(const int64_t *)field + 1000);
		s = xstrdup(dur);
		free(dur);
		return s;
	case KEY_STRING:
		return xstrdup("codex"); /* a profile, for defaults.agent */
	case KEY_PATH:
		return xstrdup("/tmp/elsewhere.db");
	case KEY_OPTIONAL:
		return xstrdup("postgres://baton@db.example/baton");
	case KEY_CHOICE:
		return xstrdup(k->choices[*(const int *)field == 0 ? 1 : 0]);
	case KEY_PRICE:
		return xasprintf("%g", *(const double *)field + 0.5);
	default:
		fail_msg("no test value for %s", k->name);
	}
	return NULL;
}

/* Put d's value of key k back into c. */
static void
restore(struct config *c, const struct config *d, const struct key *k)
{
	char *to = (char *)c + k->offset;
	const char *from = (const char *)d + k->offset;

	switch (k->type) {
	case KEY_STRING:
	case KEY_PATH:
	case KEY_OPTIONAL:
		free(*(char **)to);
		*(char **)to = xstrdup_or_null(*(char *const *)from);
		break;
	case KEY_DURATION:
		memcpy(to, from, sizeof(int64_t));
		break;
	case KEY_PRICE:
		memcpy(to, from, sizeof(double));
		break;
	default:
		memcpy(to, from, sizeof(int));
	}
}

/* The YAML that sets path ("a.b" or "a") to value. */
static char *
yaml_for(const char *path, const char *value)
{
	const char *dot = strchr(path, '.');

	if (dot == NULL)
		return xasprintf("%s: %s\n", path, value);
	return xasprintf("%.*s:\n  %s: %s\n", (int)(dot - path), path, dot + 1,
			 value);
}

static void
load(struct config *c, const char *yaml)
{
	char *cause = NULL;

	if (config_load_string(c, "t.yaml", yaml, strlen(yaml), &cause) != 0)
		fail_msg("%s: %s", yaml, cause);
}

/* c shown and loaded back gives c again. */
static void
assert_show_loads_back(const struct config *c)
{
	struct config back;
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	assert_int_equal(config_show(c, fp), 0);
	fclose(fp);
	load(&back, text);
	assert_true(config_equal(c, &back));
	config_release(&back);
	free(text);
}

/*
 * Each key set alone changes the config, only through its own member
 * (putting the default back there gives the defaults again), and
 * survives config_show().
 */
static void
test_every_key(void **state)
{
	struct config d, c;
	struct leaf v[64];
	size_t n, i;
	char *value, *yaml;

	(void)state;
	config_defaults(&d);
	n = leaves(v);
	for (i = 0; i < n; i++) {
		if (v[i].key->type == KEY_CUSTOM)
			continue; /* agents: in t-config.c */
		value = other_value(v[i].key, &d);
		yaml = yaml_for(v[i].path, value);
		load(&c, yaml);
		if (config_equal(&c, &d))
			fail_msg("%s changed nothing", yaml);
		assert_show_loads_back(&c);
		restore(&c, &d, v[i].key);
		if (!config_equal(&c, &d))
			fail_msg("%s changed more than %s", yaml, v[i].path);
		config_release(&c);
		free(yaml);
		free(value);
	}
	leaves_free(v, n);
	config_release(&d);
}

/* A profile that sets every key of the table shows and loads back. */
static void
test_every_agent_key(void **state)
{
	static const char yaml[] =
		"agents:\n"
		"  all:\n"
		"    kind: command\n"
		"    command: [./agent, --x]\n"
		"    model: m1\n"
		"    args: [-v]\n"
		"    env: {}\n"
		"    timeout: 7m\n"
		"    kill_grace: 3s\n"
		"    use_session_persistence: false\n"
		"    price: {input: 1, cached_input: 0.5, output: 2}\n";
	const struct key *k;
	struct config c;

	(void)state;
	for (k = cfg_agent_section.keys; k->name != NULL; k++) {
		char *line = xasprintf("    %s: ", k->name);

		assert_non_null(strstr(yaml, line));
		free(line);
	}
	load(&c, yaml);
	assert_int_equal(config_agent(&c, "all")->timeout_ms, 7 * 60000);
	assert_int_equal(config_agent(&c, "all")->kill_grace_ms, 3000);
	assert_true(config_agent(&c, "all")->price.cached_input == 0.5);
	assert_show_loads_back(&c);
	config_release(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wiring),
		cmocka_unit_test(test_agent_wiring),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_every_agent_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
