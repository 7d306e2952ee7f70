/*
 * The keys of the config file: one table per section saying, for each
 * key, its type, its range and where in struct config its value goes,
 * and the one loop that applies a mapping through such a table.  Adding
 * a key is adding a line to a table (and to config_defaults(), config.yaml
 * and config_equal()); config_show() prints from the same tables.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/config-internal.h"
#include "lib/clock.h"
#include "lib/num.h"
#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

/* ---- checking keys ---- */

/* See config-internal.h. */
char *
cfg_join_or(const char *const *v)
{
	struct strbuf sb;
	size_t i, n = 0;

	while (v[n] != NULL)
		n++;
	strbuf_init(&sb);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strbuf_adds(&sb, i + 1 == n ? " or " : ", ");
		strbuf_adds(&sb, v[i]);
	}
	return strbuf_detach(&sb);
}

/* The key called name in keys, or NULL. */
const struct key *
cfg_key_find(const struct key *keys, const char *name)
{
	for (; keys->name != NULL; keys++) {
		if (strcmp(keys->name, name) == 0)
			return keys;
	}
	return NULL;
}

/* The names of keys, NULL-terminated; the caller frees the array. */
static const char **
key_names(const struct key *keys)
{
	const char **v;
	size_t n = 0;

	while (keys[n].name != NULL)
		n++;
	v = xcalloc(n + 1, sizeof *v);
	while (n-- > 0)
		v[n] = keys[n].name;
	return v;
}

/* See config-internal.h: always -1. */
int
cfg_unknown_key(struct parse *p, const struct node *key, const char *where,
		const struct key *keys)
{
	char buf[CFG_SHOWN_BUF], *list;
	const char **valid = key_names(keys);
	const char *s = text_closest(key->value, valid, 2);
	const char *name = cfg_shown(key->value, buf, sizeof buf);
	int rc;

	if (where == NULL && s != NULL)
		rc = cfg_fail(p, key, "unknown key '%s' (did you mean '%s'?)",
			      name, s);
	else if (s != NULL)
		rc = cfg_fail(p, key,
			      "unknown key '%s' in %s (did you mean '%s'?)",
			      name, where, s);
	else {
		list = text_join(valid);
		if (where == NULL)
			rc = cfg_fail(p, key,
				      "unknown key '%s' (expected one of: %s)",
				      name, list);
		else
			rc = cfg_fail(p, key,
				      "unknown key '%s' in %s (expected one "
				      "of: %s)",
				      name, where, list);
		free(list);
	}
	free(valid);
	return rc;
}

struct keyref {
	const char *key;
	size_t idx;
};

static int
keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * The first key of mapping n (of npairs >= 2 string keys) that repeats
 * an earlier one, reported with the line of that earlier one.  Sorting
 * finds duplicates in n log n, so a hostile file of many keys cannot
 * stall us.
 */
static int
check_duplicates(struct parse *p, const struct node *n, size_t npairs)
{
	struct keyref *refs = xcalloc(npairs, sizeof *refs);
	size_t i, start, dup = SIZE_MAX, first = 0;
	char buf[CFG_SHOWN_BUF];
	int rc = 0;

	for (i = 0; i < npairs; i++) {
		refs[i].key = n->kids[2 * i]->value;
		refs[i].idx = i;
	}
	qsort(refs, npairs, sizeof *refs, keyref_cmp);
	/* runs of equal keys are ordered by position: start is the first */
	for (i = 1, start = 0; i < npairs; i++) {
		if (strcmp(refs[i].key, refs[start].key) != 0) {
			start = i;
			continue;
		}
		if (refs[i].idx < dup)
			dup = refs[i].idx, first = refs[start].idx;
	}
	if (dup != SIZE_MAX)
		rc = cfg_fail(
			p, n->kids[2 * dup],
			"duplicate key '%s' (first at line %d)",
			cfg_shown(n->kids[2 * dup]->value, buf, sizeof buf),
			n->kids[2 * first]->line);
	free(refs);
	return rc;
}

/* See config-internal.h: a mapping of distinct string keys. */
int
cfg_check_map(struct parse *p, const struct node *n, const char *where)
{
	size_t i, npairs;
	char buf[CFG_SHOWN_BUF];

	if (n->type != N_MAP)
		return cfg_fail(p, n, "%s: expected a mapping, got %s",
				where ? where : "configuration",
				cfg_describe(n, buf, sizeof buf));
	npairs = n->n / 2;
	for (i = 0; i < npairs; i++) {
		if (n->kids[2 * i]->type != N_SCALAR)
			return cfg_fail(
				p, n->kids[2 * i],
				"%s: expected a string as key, got %s",
				where ? where : "configuration",
				cfg_describe(n->kids[2 * i], buf, sizeof buf));
	}
	if (npairs < 2)
		return 0;
	return check_duplicates(p, n, npairs);
}

/* ---- values ---- */

/* 0 if n is a scalar, else "PATH: expected WHAT, got ...". */
int
cfg_want_scalar(struct parse *p, const struct node *n, const char *path,
		const char *what)
{
	char buf[CFG_SHOWN_BUF];

	if (n->type == N_SCALAR)
		return 0;
	return cfg_fail(p, n, "%s: expected %s, got %s", path, what,
			cfg_describe(n, buf, sizeof buf));
}

/* A string value into *out (replacing it); null is refused. */
int
cfg_get_string(struct parse *p, const struct node *n, const char *path,
	       char **out)
{
	if (cfg_want_scalar(p, n, path, "a string") != 0)
		return -1;
	if (cfg_is_null(n) || n->value[0] == '\0')
		return cfg_fail(p, n, "%s: expected a non-empty string", path);
	free(*out);
	*out = xstrdup(n->value);
	return 0;
}

/* A string, or null for none. */
static int
get_optional(struct parse *p, const struct node *n, const char *path,
	     char **out)
{
	if (!cfg_is_null(n))
		return cfg_get_string(p, n, path, out);
	free(*out);
	*out = NULL;
	return 0;
}

static int
get_count(struct parse *p, const struct node *n, const char *path,
	  long long min, long long max, int *out)
{
	char buf[CFG_SHOWN_BUF];
	long long v;

	if (n->type == N_SCALAR &&
	    text_parse_int(n->value, min, max, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	if (max == INT_MAX)
		return cfg_fail(p, n,
				"%s: expected a whole number ≥ %lld, got %s",
				path, min, cfg_describe(n, buf, sizeof buf));
	return cfg_fail(p, n,
			"%s: expected a whole number between %lld and %lld, "
			"got %s",
			path, min, max, cfg_describe(n, buf, sizeof buf));
}

/* A duration of at least min_ms. */
static int
get_duration(struct parse *p, const struct node *n, const char *path,
	     int64_t min_ms, int64_t *out)
{
	char buf[CFG_SHOWN_BUF], *why;
	int64_t ms;
	int rc;

	if (n->type != N_SCALAR)
		return cfg_fail(p, n,
				"%s: expected a duration like 90s, 15m, "
				"1h30m or 1.5h, got %s",
				path, cfg_describe(n, buf, sizeof buf));
	if (duration_parse(n->value, &ms) != 0) {
		why = duration_error(cfg_shown(n->value, buf, sizeof buf));
		rc = cfg_fail(p, n, "%s: %s", path, why);
		free(why);
		return rc;
	}
	if (ms < min_ms)
		return cfg_fail(p, n,
				"%s: expected a duration greater than 0, got "
				"%s",
				path, cfg_describe(n, buf, sizeof buf));
	*out = ms;
	return 0;
}

static int
get_bool(struct parse *p, const struct node *n, const char *path, int *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", NULL};
	static const char *const no[] = {"false", "False", "FALSE", NULL};
	char buf[CFG_SHOWN_BUF];
	size_t i;

	if (n->type == N_SCALAR) {
		for (i = 0; yes[i] != NULL; i++) {
			if (strcmp(n->value, yes[i]) == 0) {
				*out = 1;
				return 0;
			}
			if (strcmp(n->value, no[i]) == 0) {
				*out = 0;
				return 0;
			}
		}
	}
	return cfg_fail(p, n, "%s: expected true or false, got %s", path,
			cfg_describe(n, buf, sizeof buf));
}

/* One of choices, stored as its index. */
static int
get_choice(struct parse *p, const struct node *n, const char *path,
	   const char *const *choices, int *out)
{
	char buf[CFG_SHOWN_BUF], *list;
	int i, rc;

	for (i = 0; n->type == N_SCALAR && choices[i] != NULL; i++) {
		if (strcmp(n->value, choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	list = cfg_join_or(choices);
	rc = cfg_fail(p, n, "%s: expected %s, got %s", path, list,
		      cfg_describe(n, buf, sizeof buf));
	free(list);
	return rc;
}

static int
get_price(struct parse *p, const struct node *n, const char *path, double *out)
{
	char buf[CFG_SHOWN_BUF];

	if (n->type == N_SCALAR && num_parse_decimal(n->value, out) == 0)
		return 0;
	/* a profile's price: (per million tokens), or a budget */
	return cfg_fail(p, n, "%s: expected a number ≥ 0 (USD%s), got %s", path,
			strstr(path, "price") != NULL ? " per million tokens"
						      : "",
			cfg_describe(n, buf, sizeof buf));
}

/* See config-internal.h. */
char *
cfg_expand_home(const char *s, const char **why)
{
	const char *home;

	if (s[0] != '~' || (s[1] != '\0' && s[1] != '/'))
		return xstrdup(s);
	home = getenv("HOME");
	if (home == NULL || home[0] == '\0') {
		*why = "cannot expand '~': HOME is not set";
		return NULL;
	}
	return xasprintf("%s%s", home, s + 1);
}

static int
get_path(struct parse *p, const struct node *n, const char *path, char **out)
{
	const char *why = NULL;
	char *s = NULL;

	if (cfg_want_scalar(p, n, path, "a path") != 0)
		return -1;
	if (cfg_is_null(n)) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (n->value[0] == '\0')
		return cfg_fail(p, n, "%s: expected a non-empty path", path);
	s = cfg_expand_home(n->value, &why);
	if (s == NULL)
		return cfg_fail(p, n, "%s: %s", path, why);
	free(*out);
	*out = s;
	return 0;
}

/* A list of strings (or one string, when allow_one) into a new strv. */
int
cfg_get_strv(struct parse *p, const struct node *n, const char *path,
	     int allow_one, char ***out)
{
	struct strvec sv;
	char buf[CFG_SHOWN_BUF];
	const struct node *kid;
	size_t i;

	strvec_init(&sv);
	if (n->type == N_SCALAR && allow_one && !cfg_is_null(n)) {
		strvec_push(&sv, n->value);
		goto done;
	}
	if (n->type == N_SCALAR && cfg_is_null(n))
		goto done;
	if (n->type != N_SEQ) {
		strvec_release(&sv);
		return cfg_fail(p, n, "%s: expected a list of strings, got %s",
				path, cfg_describe(n, buf, sizeof buf));
	}
	for (i = 0; i < n->n; i++) {
		kid = n->kids[i];
		if (kid->type != N_SCALAR || cfg_is_null(kid)) {
			strvec_release(&sv);
			return cfg_fail(
				p, kid, "%s: expected a string, got %s", path,
				cfg_is_null(kid)
					? "null"
					: cfg_describe(kid, buf, sizeof buf));
		}
		strvec_push(&sv, kid->value);
	}
done:
	strv_free(*out);
	*out = sv.v;
	return 0;
}

/* ---- the generic loop ---- */

/* Apply value v of key k (table entry key) at path into base. */
static int
apply_key(struct parse *p, const struct key *key, const struct node *k,
	  const struct node *v, const char *path, void *base)
{
	char *field = (char *)base + key->offset;

	switch (key->type) {
	case KEY_INT:
		return get_count(p, v, path, key->min, key->max, (int *)field);
	case KEY_BOOL:
		return get_bool(p, v, path, (int *)field);
	case KEY_DURATION:
		return get_duration(p, v, path, key->min, (int64_t *)field);
	case KEY_STRING:
		return cfg_get_string(p, v, path, (char **)field);
	case KEY_OPTIONAL:
		return get_optional(p, v, path, (char **)field);
	case KEY_PATH:
		return get_path(p, v, path, (char **)field);
	case KEY_CHOICE:
		return get_choice(p, v, path, key->choices, (int *)field);
	case KEY_PRICE:
		return get_price(p, v, path, (double *)field);
	case KEY_LIST:
		return cfg_get_strv(p, v, path, 0, (char ***)field);
	case KEY_SECTION:
		return cfg_apply_section(p, v, key->section, base);
	case KEY_CUSTOM:
		return key->parse(p, k, v, path, base);
	}
	fatal("config key %s has no type", key->name);
}

/* See config-internal.h: the one loop every mapping goes through. */
int
cfg_apply_keys(struct parse *p, const struct node *n, const char *where,
	       const struct key *keys, void *base)
{
	const struct key *key;
	const struct node *k, *v;
	char *path;
	size_t i;
	int rc;

	for (i = 0; i + 1 < n->n; i += 2) {
		k = n->kids[i];
		v = n->kids[i + 1];
		if ((key = cfg_key_find(keys, k->value)) == NULL)
			return cfg_unknown_key(p, k, where, keys);
		path = where != NULL ? xasprintf("%s.%s", where, key->name)
				     : xstrdup(key->name);
		rc = apply_key(p, key, k, v, path, base);
		free(path);
		if (rc != 0)
			return -1;
		if (key->mark != MARK_NONE)
			p->marks[key->mark] = v;
	}
	return 0;
}

/* See config-internal.h. */
int
cfg_apply_section(struct parse *p, const struct node *n,
		  const struct section *sec, void *base)
{
	const struct key *key;

	if (cfg_is_null(n))
		return 0;
	if (n->type == N_SCALAR && sec->scalar_key != NULL) {
		key = cfg_key_find(sec->keys, sec->scalar_key);
		return apply_key(p, key, n, n, sec->name, base);
	}
	if (cfg_check_map(p, n, sec->name) != 0)
		return -1;
	return cfg_apply_keys(p, n, sec->name, sec->keys, base);
}

/* ---- the tables ---- */

#define C struct config

static const char *const synchronous_modes[] = {"normal", "full", NULL};

static const struct key db_keys[] = {
	CFG_PATH(C, "path", db.path),
	CFG_OPTIONAL(C, "url", db.url),
	CFG_CHOICE(C, "synchronous", db.synchronous_full, synchronous_modes),
	CFG_DURATION(C, "busy_timeout", db.busy_timeout_ms, 0, MARK_NONE),
	CFG_BOOL(C, "shared_group", db.shared_group),
	CFG_INT(C, "wal_warn_mib", db.wal_warn_mib, 0, 1024 * 1024),
	CFG_DURATION(C, "final_write_timeout", db.final_write_timeout_ms, 0,
		     MARK_NONE),
	CFG_END,
};

static const struct key defaults_keys[] = {
	CFG_STRING(C, "agent", defaults.agent, MARK_AGENT),
	CFG_DURATION(C, "timeout", defaults.timeout_ms, 1, MARK_NONE),
	CFG_INT(C, "max_attempts", defaults.max_attempts, 1, INT_MAX),
	CFG_DURATION(C, "kill_grace", defaults.kill_grace_ms, 0, MARK_NONE),
	CFG_INT(C, "max_iterations", defaults.max_iterations, 1, INT_MAX),
	CFG_INT(C, "retries", defaults.retries, 0, 1000),
	CFG_END,
};

static const struct key retry_keys[] = {
	CFG_INT(C, "attempts", retry.attempts, 1, INT_MAX),
	CFG_DURATION(C, "base", retry.base_ms, 1, MARK_RETRY_BASE),
	CFG_DURATION(C, "max", retry.max_ms, 1, MARK_RETRY_MAX),
	CFG_END,
};

static const struct key sessions_keys[] = {
	CFG_DURATION(C, "ttl", sessions.ttl_ms, 1, MARK_NONE),
	CFG_INT(C, "max_active", sessions.max_active, 1, INT_MAX),
	CFG_INT(C, "resume_failure_limit", sessions.resume_failure_limit, 1,
		INT_MAX),
	CFG_DURATION(C, "retention", sessions.retention_ms, 0, MARK_NONE),
	CFG_BOOL(C, "keep_temp_dirs", sessions.keep_temp_dirs),
	CFG_PRICE(C, "max_cost", sessions.max_cost),
	CFG_END,
};

static const struct key logs_keys[] = {
	CFG_DURATION(C, "retention", logs.retention_ms, 0, MARK_NONE),
	CFG_BOOL(C, "redact", logs.redact),
	CFG_INT(C, "max_bytes", logs.max_bytes, 1, INT_MAX),
	CFG_INT(C, "db_max_bytes", logs.db_max_bytes, 0, INT_MAX),
	CFG_END,
};

static const struct key runner_keys[] = {
	CFG_DURATION(C, "heartbeat", runner.heartbeat_ms, 1, MARK_HEARTBEAT),
	CFG_DURATION(C, "stale_after", runner.stale_after_ms, 1,
		     MARK_STALE_AFTER),
	CFG_BOOL(C, "requeue_interrupted", runner.requeue_interrupted),
	CFG_END,
};

static const struct section db_section = {"db", db_keys, "path"};
static const struct section defaults_section = {"defaults", defaults_keys,
						NULL};
static const struct section retry_section = {"retry", retry_keys, NULL};
static const struct section sessions_section = {"sessions", sessions_keys,
						NULL};
static const struct section logs_section = {"logs", logs_keys, NULL};
static const struct section runner_section = {"runner", runner_keys, NULL};

static const struct key root_keys[] = {
	CFG_SECTION("db", db_section),
	CFG_INT(C, "workers", workers, 1, INT_MAX),
	CFG_SECTION("defaults", defaults_section),
	CFG_SECTION("retry", retry_section),
	CFG_SECTION("sessions", sessions_section),
	CFG_SECTION("logs", logs_section),
	CFG_SECTION("runner", runner_section),
	CFG_STRING(C, "iterate_prompt", iterate_prompt, MARK_NONE),
	CFG_CUSTOM(C, "agents", agents, cfg_apply_agents),
	CFG_END,
};

#undef C

/* The file's top level, in the order config_show() prints it. */
const struct section cfg_root_section = {NULL, root_keys, NULL};

/* ---- the whole file ---- */

static int
check_default_agent(struct parse *p, const struct config *cfg)
{
	char buf[CFG_SHOWN_BUF], *names;
	struct strvec sv;
	size_t i;
	int rc;

	strvec_init(&sv);
	for (i = 0; i < cfg->nagents; i++)
		strvec_push(&sv, cfg->agents[i].name);
	names = text_join((const char *const *)sv.v);
	rc = cfg_fail(p, p->marks[MARK_AGENT],
		      "defaults.agent: no agent profile named '%s' "
		      "(profiles: %s)",
		      cfg_shown(cfg->defaults.agent, buf, sizeof buf), names);
	free(names);
	strvec_release(&sv);
	return rc;
}

/* The checks that involve more than one key, once the file is applied. */
static int
check_whole(struct parse *p, const struct config *cfg)
{
	const struct node *base = p->marks[MARK_RETRY_BASE];
	const struct node *max = p->marks[MARK_RETRY_MAX];
	const struct node *beat = p->marks[MARK_HEARTBEAT];
	const struct node *stale = p->marks[MARK_STALE_AFTER];
	char *a = NULL, *b = NULL;
	int rc = 0;

	if (p->marks[MARK_AGENT] != NULL &&
	    config_agent(cfg, cfg->defaults.agent) == NULL)
		return check_default_agent(p, cfg);
	if ((base != NULL || max != NULL) &&
	    cfg->retry.max_ms < cfg->retry.base_ms) {
		a = duration_format(cfg->retry.max_ms);
		b = duration_format(cfg->retry.base_ms);
		rc = cfg_fail(p, max ? max : base,
			      "retry.max (%s) is less than retry.base (%s)", a,
			      b);
	} else if ((beat != NULL || stale != NULL) &&
		   cfg->runner.stale_after_ms / 3 < cfg->runner.heartbeat_ms) {
		/* SPEC §5: a runner must see its renewals fail, and stop its
		 * agents, well before others may take its leases. */
		a = duration_format(cfg->runner.stale_after_ms);
		b = duration_format(cfg->runner.heartbeat_ms);
		rc = cfg_fail(p, stale ? stale : beat,
			      "runner.stale_after (%s) must be at least 3 "
			      "times runner.heartbeat (%s)",
			      a, b);
	}
	free(a);
	free(b);
	return rc;
}

/* See config-internal.h. */
int
cfg_apply_root(struct parse *p, const struct node *root, struct config *cfg)
{
	if (root == NULL)
		return 0;
	if (cfg_apply_section(p, root, &cfg_root_section, cfg) != 0)
		return -1;
	return check_whole(p, cfg);
}
