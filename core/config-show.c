/*
 * config_show(): the effective configuration as YAML that loads back to
 * the same settings.  The sections are printed from the key tables of
 * config-keys.c, so that a key that can be read is also shown; agent
 * profiles show only what they set.  Secrets are masked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "core/config-internal.h"
#include "lib/clock.h"
#include "lib/num.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

/* Words that make a key's value a secret. */
static const char *const secret_words[] = {
	"token",  "key",  "secret",	"password",
	"passwd", "auth", "credential", NULL,
};

struct emitter {
	yaml_emitter_t e;
	int failed;
};

static void
emit(struct emitter *em, yaml_event_t *ev)
{
	/* libyaml owns the event from here, emitted or not */
	if (em->failed) {
		yaml_event_delete(ev);
		return;
	}
	if (!yaml_emitter_emit(&em->e, ev))
		em->failed = 1;
}

/*
 * Strings that a YAML reader would take for null, a boolean or a number
 * are quoted, so that other tools read them back as strings too.
 */
static int
needs_quotes(const char *s)
{
	static const char *const words[] = {
		"",	"~",	 "null",  "Null",  "NULL", "true", "True",
		"TRUE", "false", "False", "FALSE", "yes",  "Yes",  "YES",
		"no",	"No",	 "NO",	  "on",	   "On",   "ON",   "off",
		"Off",	"OFF",	 "y",	  "Y",	   "n",	   "N",	   NULL};
	size_t i;

	for (i = 0; words[i] != NULL; i++) {
		if (strcmp(s, words[i]) == 0)
			return 1;
	}
	return strspn(s, "0123456789+-.eE_:xXoOabcdefABCDEF") == strlen(s) &&
	       strpbrk(s, "0123456789") != NULL;
}

static void
emit_scalar_style(struct emitter *em, const char *s, yaml_scalar_style_t st)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
					  (yaml_char_t *)(uintptr_t)s,
					  (int)strlen(s), 1, 1, st))
		oom();
	emit(em, &ev);
}

static void
emit_plain(struct emitter *em, const char *s)
{
	emit_scalar_style(em, s, YAML_PLAIN_SCALAR_STYLE);
}

static void
emit_masked(struct emitter *em)
{
	emit_scalar_style(em, "***", YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

static void
emit_string(struct emitter *em, const char *s)
{
	emit_scalar_style(em, s,
			  needs_quotes(s) || strpbrk(s, "\n\t\r") != NULL
				  ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
				  : YAML_ANY_SCALAR_STYLE);
}

static void
emit_map_start(struct emitter *em, int flow)
{
	yaml_event_t ev;

	if (!yaml_mapping_start_event_initialize(
		    &ev, NULL, NULL, 1,
		    flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE))
		oom();
	emit(em, &ev);
}

static void
emit_map_end(struct emitter *em)
{
	yaml_event_t ev;

	yaml_mapping_end_event_initialize(&ev);
	emit(em, &ev);
}

static int
looks_secret(const char *key)
{
	size_t i, j, n = strlen(key), w;

	for (i = 0; secret_words[i] != NULL; i++) {
		w = strlen(secret_words[i]);
		for (j = 0; j + w <= n; j++) {
			if (strncasecmp(key + j, secret_words[i], w) == 0)
				return 1;
		}
	}
	return 0;
}

static void
emit_kv_string(struct emitter *em, const char *key, const char *val)
{
	emit_plain(em, key);
	if (looks_secret(key))
		emit_masked(em);
	else
		emit_string(em, val);
}

static void
emit_kv_int(struct emitter *em, const char *key, long long v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", v);
	emit_plain(em, key);
	emit_plain(em, buf);
}

static void
emit_kv_duration(struct emitter *em, const char *key, int64_t ms)
{
	char *s = duration_format(ms);

	emit_plain(em, key);
	emit_plain(em, s);
	free(s);
}

static void
emit_kv_double(struct emitter *em, const char *key, double v)
{
	char buf[64];

	num_format_decimal(v, buf, sizeof buf);
	emit_plain(em, key);
	emit_plain(em, buf);
}

static void
emit_kv_bool(struct emitter *em, const char *key, int v)
{
	emit_plain(em, key);
	emit_plain(em, v ? "true" : "false");
}

/* "--api-key=sk-..." is shown as "--api-key=***". */
static void
emit_arg(struct emitter *em, const char *arg)
{
	size_t n = strcspn(arg, "=");
	char *name, *masked;

	if (arg[n] != '=') {
		emit_string(em, arg);
		return;
	}
	name = xstrndup(arg, n);
	if (looks_secret(name)) {
		masked = xasprintf("%s=***", name);
		emit_string(em, masked);
		free(masked);
	} else
		emit_string(em, arg);
	free(name);
}

static void
emit_strv(struct emitter *em, const char *key, char *const *v)
{
	yaml_event_t ev;

	emit_plain(em, key);
	if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						  YAML_FLOW_SEQUENCE_STYLE))
		oom();
	emit(em, &ev);
	for (; *v != NULL; v++)
		emit_arg(em, *v);
	yaml_sequence_end_event_initialize(&ev);
	emit(em, &ev);
}

/* ---- agent profiles ---- */

/* Every env value is masked: they carry API keys. */
static void
emit_env(struct emitter *em, char *const *env)
{
	char *name;

	emit_plain(em, "env");
	emit_map_start(em, 0);
	for (; *env != NULL; env++) {
		name = xstrndup(*env, strcspn(*env, "="));
		emit_string(em, name);
		emit_masked(em);
		free(name);
	}
	emit_map_end(em);
}

static void
emit_price(struct emitter *em, const struct agent_price *pr)
{
	emit_plain(em, "price");
	emit_map_start(em, 1);
	emit_kv_double(em, "input", pr->input);
	emit_kv_double(em, "cached_input", pr->cached_input);
	emit_kv_double(em, "output", pr->output);
	emit_map_end(em);
}

/* One profile, with the keys it sets (and kind, and persistence). */
static void
emit_profile(struct emitter *em, const struct agent_profile *ap)
{
	emit_string(em, ap->name);
	emit_map_start(em, 0);
	emit_kv_string(em, "kind", agent_kind_name(ap->kind));
	if (ap->command != NULL && ap->command[0] != NULL) {
		if (ap->kind == AGENT_KIND_COMMAND)
			emit_strv(em, "command", ap->command);
		else
			emit_kv_string(em, "command", ap->command[0]);
	}
	if (ap->model != NULL)
		emit_kv_string(em, "model", ap->model);
	if (ap->args != NULL && ap->args[0] != NULL)
		emit_strv(em, "args", ap->args);
	if (ap->env != NULL && ap->env[0] != NULL)
		emit_env(em, ap->env);
	if (ap->timeout_ms != 0)
		emit_kv_duration(em, "timeout", ap->timeout_ms);
	if (ap->kill_grace_ms != 0)
		emit_kv_duration(em, "kill_grace", ap->kill_grace_ms);
	emit_kv_bool(em, "use_session_persistence",
		     ap->use_session_persistence);
	if (ap->price.set)
		emit_price(em, &ap->price);
	emit_map_end(em);
}

static void
emit_agents(struct emitter *em, const struct config *cfg)
{
	size_t i;

	emit_plain(em, "agents");
	emit_map_start(em, 0);
	for (i = 0; i < cfg->nagents; i++)
		emit_profile(em, &cfg->agents[i]);
	emit_map_end(em);
}

/* ---- the sections, from the key tables ---- */

static void emit_keys(struct emitter *em, const struct key *keys,
		      const struct config *cfg);

/* The value of key (of a table into struct config) in cfg. */
static void
emit_key(struct emitter *em, const struct key *k, const struct config *cfg)
{
	const char *field = (const char *)cfg + k->offset;
	const char *s;

	switch (k->type) {
	case KEY_INT:
		emit_kv_int(em, k->name, *(const int *)field);
		break;
	case KEY_BOOL:
		emit_kv_bool(em, k->name, *(const int *)field);
		break;
	case KEY_DURATION:
		emit_kv_duration(em, k->name, *(const int64_t *)field);
		break;
	case KEY_STRING:
	case KEY_OPTIONAL:
	case KEY_PATH:
		s = *(char *const *)field;
		if (s != NULL) {
			/* a database URL's password never shows */
			char *masked = text_url_mask(s);

			emit_kv_string(em, k->name, masked);
			free(masked);
		} else if (k->type == KEY_PATH) {
			emit_plain(em, k->name);
			emit_plain(em, "~");
		}
		break;
	case KEY_CHOICE:
		emit_plain(em, k->name);
		emit_plain(em, k->choices[*(const int *)field]);
		break;
	case KEY_PRICE:
		emit_kv_double(em, k->name, *(const double *)field);
		break;
	case KEY_SECTION:
		emit_plain(em, k->name);
		emit_map_start(em, 0);
		emit_keys(em, k->section->keys, cfg);
		emit_map_end(em);
		break;
	case KEY_LIST:
	case KEY_CUSTOM:
		if (k->parse != cfg_apply_agents)
			fatal("config show: no way to show %s", k->name);
		emit_agents(em, cfg);
		break;
	}
}

static void
emit_keys(struct emitter *em, const struct key *keys, const struct config *cfg)
{
	for (; keys->name != NULL; keys++)
		emit_key(em, keys, cfg);
}

static int
write_handler(void *data, unsigned char *buf, size_t size)
{
	FILE *fp = data;

	return fwrite(buf, 1, size, fp) == size;
}

/*
 * Prints cfg as YAML that loads back to the same settings, except that
 * every env: value, every value under a secret-looking key and the value
 * of a secret-looking "--name=value" argument is "***".
 * Returns 0, or -1 on a write error.
 */
int
config_show(const struct config *cfg, FILE *fp)
{
	struct emitter em = {0};
	yaml_event_t ev;

	if (!yaml_emitter_initialize(&em.e))
		oom();
	yaml_emitter_set_output(&em.e, write_handler, fp);
	yaml_emitter_set_unicode(&em.e, 1);
	yaml_emitter_set_width(&em.e, -1);
	yaml_emitter_set_indent(&em.e, 2);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	emit(&em, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	emit(&em, &ev);
	emit_map_start(&em, 0);
	emit_keys(&em, cfg_root_section.keys, cfg);
	emit_map_end(&em);
	yaml_document_end_event_initialize(&ev, 1);
	emit(&em, &ev);
	yaml_stream_end_event_initialize(&ev);
	emit(&em, &ev);

	if (!em.failed && !yaml_emitter_flush(&em.e))
		em.failed = 1;
	yaml_emitter_delete(&em.e);
	if (em.failed || fflush(fp) != 0 || ferror(fp))
		return -1;
	return 0;
}
