/*
 * Agent profiles: the built-in ones and the entries under agents: in a
 * config file, which are added to them (a profile of the same name
 * replacing the built-in one).  A profile's keys are a table like every
 * section's; only kind comes first, since what command means depends
 * on it.
 */
#include <stdlib.h>
#include <string.h>

#include "core/config-internal.h"
#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

#define MAX_NAME 64 /* agent profile names */

/* See config-internal.h: NULL-safe for ap's members. */
void
cfg_profile_release(struct agent_profile *ap)
{
	free(ap->name);
	strv_free(ap->command);
	free(ap->model);
	strv_free(ap->args);
	strv_free(ap->env);
	free(ap->file);
	memset(ap, 0, sizeof *ap);
}

/* See config-internal.h: command and model may be NULL. */
void
cfg_profile_builtin(struct agent_profile *ap, const char *name,
		    enum agent_kind kind, const char *command,
		    const char *model, const char *arg)
{
	struct strvec sv;

	memset(ap, 0, sizeof *ap);
	ap->name = xstrdup(name);
	ap->kind = kind;
	if (command != NULL) {
		strvec_init(&sv);
		strvec_push(&sv, command);
		ap->command = sv.v;
	}
	ap->model = xstrdup_or_null(model);
	strvec_init(&sv);
	if (arg != NULL)
		strvec_push(&sv, arg);
	ap->args = sv.v;
	strvec_init(&sv);
	ap->env = sv.v;
	ap->use_session_persistence = 1;
}

static int
valid_agent_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_NAME)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == n;
}

static int
valid_env_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_") == n;
}

/* The names of the kinds, NULL-terminated, into v. */
static void
kind_names(const char *v[AGENT_KIND_COUNT + 1])
{
	int i;

	for (i = 0; i < AGENT_KIND_COUNT; i++)
		v[i] = agent_kind_name((enum agent_kind)i);
	v[i] = NULL;
}

/* ---- the keys of a profile ---- */

/* kind: parse_kind() has set it before the other keys. */
static int
parse_kind_done(struct parse *p, const struct node *k, const struct node *v,
		const char *path, void *base)
{
	(void)p, (void)k, (void)v, (void)path, (void)base;
	return 0;
}

/* command: for claude and codex, one program name. */
static int
get_program(struct parse *p, const struct node *n, const char *path,
	    char ***out)
{
	char buf[CFG_SHOWN_BUF];
	const struct node *v = n;

	if (n->type == N_SEQ && n->n == 1)
		v = n->kids[0];
	if (v->type != N_SCALAR || cfg_is_null(v) || v->value[0] == '\0')
		return cfg_fail(p, n,
				"%s: expected a program name or a "
				"one-element list, got %s",
				path,
				cfg_is_null(v)
					? "null"
					: cfg_describe(n, buf, sizeof buf));
	return cfg_get_strv(p, v, path, 1, out);
}

/* command: what it may be depends on the kind. */
static int
parse_command(struct parse *p, const struct node *k, const struct node *v,
	      const char *path, void *base)
{
	struct agent_profile *ap = base;

	if (ap->kind == AGENT_KIND_SHELL)
		return cfg_fail(p, k,
				"%s: a shell profile runs the prompt with "
				"/bin/sh and takes no command",
				path);
	if (ap->kind != AGENT_KIND_COMMAND)
		return get_program(p, v, path, &ap->command);
	if (cfg_get_strv(p, v, path, 1, &ap->command) != 0)
		return -1;
	if (ap->command[0] == NULL)
		return cfg_fail(p, v, "%s: expected a non-empty list", path);
	if (ap->command[0][0] == '\0')
		return cfg_fail(p, v, "%s: the program name is empty", path);
	return 0;
}

/* env: a mapping of variable names to strings, as "KEY=VALUE". */
static int
parse_env(struct parse *p, const struct node *k, const struct node *n,
	  const char *path, void *base)
{
	struct agent_profile *ap = base;
	char buf[CFG_SHOWN_BUF];
	const struct node *name, *v;
	struct strvec sv;
	size_t i;

	(void)k;
	if (cfg_is_null(n))
		return 0;
	if (cfg_check_map(p, n, path) != 0)
		return -1;
	strvec_init(&sv);
	for (i = 0; i + 1 < n->n; i += 2) {
		name = n->kids[i];
		v = n->kids[i + 1];
		if (!valid_env_name(name->value)) {
			strvec_release(&sv);
			return cfg_fail(
				p, name, "%s: invalid variable name '%s'", path,
				cfg_shown(name->value, buf, sizeof buf));
		}
		if (v->type != N_SCALAR) {
			strvec_release(&sv);
			return cfg_fail(
				p, v, "%s.%s: expected a string, got %s", path,
				name->value, cfg_describe(v, buf, sizeof buf));
		}
		strvec_pushf(&sv, "%s=%s", name->value,
			     cfg_is_null(v) ? "" : v->value);
	}
	strv_free(ap->env);
	ap->env = sv.v;
	return 0;
}

#define PR struct agent_price

static const struct key price_keys[] = {
	CFG_PRICE(PR, "input", input),
	CFG_PRICE(PR, "cached_input", cached_input),
	CFG_PRICE(PR, "output", output),
	CFG_END,
};

#undef PR

/* price: null for none, else a mapping of price_keys. */
static int
parse_price(struct parse *p, const struct node *k, const struct node *n,
	    const char *path, void *base)
{
	struct agent_price *pr = &((struct agent_profile *)base)->price;

	(void)k;
	memset(pr, 0, sizeof *pr);
	if (cfg_is_null(n))
		return 0;
	if (cfg_check_map(p, n, path) != 0)
		return -1;
	pr->set = 1;
	return cfg_apply_keys(p, n, path, price_keys, pr);
}

#define P struct agent_profile

static const struct key agent_keys[] = {
	CFG_CUSTOM(P, "kind", kind, parse_kind_done),
	CFG_CUSTOM(P, "command", command, parse_command),
	CFG_OPTIONAL(P, "model", model),
	CFG_LIST(P, "args", args),
	CFG_CUSTOM(P, "env", env, parse_env),
	CFG_DURATION(P, "timeout", timeout_ms, 1, MARK_NONE),
	CFG_DURATION(P, "kill_grace", kill_grace_ms, 1, MARK_NONE),
	CFG_BOOL(P, "use_session_persistence", use_session_persistence),
	CFG_CUSTOM(P, "price", price, parse_price),
	CFG_END,
};

#undef P

/* One profile; its name and path come from the agents: mapping. */
const struct section cfg_agent_section = {NULL, agent_keys, NULL};

/* ---- one profile ---- */

/* ap as every profile of the file starts: named and placed by name. */
static void
profile_start(struct parse *p, const struct node *name,
	      struct agent_profile *ap)
{
	memset(ap, 0, sizeof *ap);
	ap->args = xcalloc(1, sizeof *ap->args);
	ap->env = xcalloc(1, sizeof *ap->env);
	ap->use_session_persistence = 1;
	ap->name = xstrdup(name->value);
	ap->file = xstrdup(p->file);
	ap->line = name->line;
	ap->col = name->col;
}

/*
 * The value of kind: in profile n, once every key of n is known to be
 * valid (an unknown key is reported before a missing kind).  NULL with
 * p->cause if not.
 */
static const struct node *
find_kind(struct parse *p, const struct node *n, const char *path)
{
	const char *kinds[AGENT_KIND_COUNT + 1];
	const struct node *kind = NULL;
	char *list;
	size_t i;

	for (i = 0; i + 1 < n->n; i += 2) {
		if (cfg_key_find(agent_keys, n->kids[i]->value) == NULL) {
			cfg_unknown_key(p, n->kids[i], path, agent_keys);
			return NULL;
		}
		if (strcmp(n->kids[i]->value, "kind") == 0)
			kind = n->kids[i + 1];
	}
	if (kind != NULL)
		return kind;
	kind_names(kinds);
	list = text_join(kinds);
	cfg_fail(p, n, "%s: missing 'kind' (one of %s)", path, list);
	free(list);
	return NULL;
}

/* The kind named by node kind into *out, or -1 with p->cause. */
static int
parse_kind(struct parse *p, const struct node *kind, const char *path,
	   enum agent_kind *out)
{
	const char *kinds[AGENT_KIND_COUNT + 1], *s;
	char buf[CFG_SHOWN_BUF], *kp = xasprintf("%s.kind", path), *list;
	int rc = -1;

	if (cfg_want_scalar(p, kind, kp, "a kind") != 0)
		goto out;
	if (agent_kind_parse(kind->value, out) == 0) {
		rc = 0;
		goto out;
	}
	kind_names(kinds);
	s = text_closest(kind->value, kinds, 2);
	if (s != NULL) {
		cfg_fail(p, kind, "%s: unknown kind '%s' (did you mean '%s'?)",
			 kp, cfg_shown(kind->value, buf, sizeof buf), s);
		goto out;
	}
	list = cfg_join_or(kinds);
	cfg_fail(p, kind, "%s: unknown kind '%s' (expected %s)", kp,
		 cfg_shown(kind->value, buf, sizeof buf), list);
	free(list);
out:
	free(kp);
	return rc;
}

/* What a profile without command: runs, once all its keys are in. */
static int
profile_finish(struct parse *p, const struct node *n, const char *path,
	       struct agent_profile *ap)
{
	if (ap->command != NULL || ap->kind == AGENT_KIND_SHELL)
		return 0;
	if (ap->kind == AGENT_KIND_COMMAND)
		return cfg_fail(p, n,
				"%s: a command profile needs 'command' (the "
				"program and its arguments as a list)",
				path);
	/* claude and codex: the binary is named like the kind */
	ap->command = xcalloc(2, sizeof *ap->command);
	ap->command[0] = xstrdup(agent_kind_name(ap->kind));
	return 0;
}

/* The profile n called name into ap, or -1 with p->cause and ap zeroed. */
static int
parse_agent(struct parse *p, const struct node *name, const struct node *n,
	    struct agent_profile *ap)
{
	char buf[CFG_SHOWN_BUF], *path = NULL;
	const struct node *kind;
	int rc = -1;

	profile_start(p, name, ap);
	if (!valid_agent_name(name->value)) {
		cfg_fail(p, name,
			 "agents: invalid profile name '%s' (up to %d "
			 "letters, digits, '.', '_' or '-')",
			 cfg_shown(name->value, buf, sizeof buf), MAX_NAME);
		goto out;
	}
	path = xasprintf("agents.%s", name->value);
	if (cfg_is_null(n)) {
		cfg_fail(p, n, "%s: expected a mapping with at least 'kind'",
			 path);
		goto out;
	}
	if (cfg_check_map(p, n, path) != 0 ||
	    (kind = find_kind(p, n, path)) == NULL ||
	    parse_kind(p, kind, path, &ap->kind) != 0 ||
	    cfg_apply_keys(p, n, path, agent_keys, ap) != 0 ||
	    profile_finish(p, n, path, ap) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		cfg_profile_release(ap);
	free(path);
	return rc;
}

/* ---- agents: ---- */

static int
profile_cmp(const void *a, const void *b)
{
	const struct agent_profile *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Add ap to cfg (which takes it over), replacing a profile of that name. */
static void
add_profile(struct config *cfg, struct agent_profile *ap)
{
	size_t i;

	for (i = 0; i < cfg->nagents; i++) {
		if (strcmp(cfg->agents[i].name, ap->name) == 0) {
			cfg_profile_release(&cfg->agents[i]);
			cfg->agents[i] = *ap;
			memset(ap, 0, sizeof *ap);
			return;
		}
	}
	cfg->agents = xreallocarray(cfg->agents, cfg->nagents + 1,
				    sizeof *cfg->agents);
	cfg->agents[cfg->nagents++] = *ap;
	memset(ap, 0, sizeof *ap);
	qsort(cfg->agents, cfg->nagents, sizeof *cfg->agents, profile_cmp);
}

/* See config-internal.h: the custom parser of the root key agents. */
int
cfg_apply_agents(struct parse *p, const struct node *k, const struct node *n,
		 const char *path, void *base)
{
	struct config *cfg = base;
	struct agent_profile ap;
	size_t i;

	(void)k;
	if (cfg_is_null(n))
		return 0;
	if (cfg_check_map(p, n, path) != 0)
		return -1;
	for (i = 0; i + 1 < n->n; i += 2) {
		if (parse_agent(p, n->kids[i], n->kids[i + 1], &ap) != 0)
			return -1;
		add_profile(cfg, &ap);
	}
	return 0;
}
