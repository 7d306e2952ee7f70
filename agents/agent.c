/*
 * The adapter registry and the part every adapter shares: the assigned
 * session id (S3, S4) and reading a Claude-like JSON result.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "core/xmalloc.h"

/* Sorted by kind. */
static const struct agent_impl *const registry[] = {
	&agent_claude_impl,
	&agent_codex_impl,
	&agent_command_impl,
	&agent_shell_impl,
};

const struct agent_impl *
agent_impl_find(const char *kind)
{
	size_t lo = 0, hi = sizeof registry / sizeof registry[0];

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(kind, registry[mid]->kind);

		if (c == 0)
			return registry[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void
agent_init(struct agent *a, const struct agent_impl *impl,
	   const struct agent_profile *profile)
{
	memset(a, 0, sizeof *a);
	a->impl = impl;
	a->profile = profile;
}

void
agent_release(struct agent *a)
{
	if (a == NULL)
		return;
	free(a->session_id);
	a->session_id = NULL;
}

char *
agent_get_session_id(const struct agent *a)
{
	return xstrdup_or_null(a->session_id);
}

void
agent_set_session_id(struct agent *a, const char *id)
{
	char *copy = xstrdup_or_null(id);

	free(a->session_id);
	a->session_id = copy;
}

const char *
agent_session_for_call(struct agent *a, char *buf)
{
	size_t len;

	if (a->session_id != NULL) {
		len = strlen(a->session_id);
		if (len > 36)
			len = 36;
		memcpy(buf, a->session_id, len);
		buf[len] = '\0';
		return buf;
	}
	util_uuid_new(buf);
	if (a->profile != NULL && a->profile->use_session_persistence)
		a->session_id = xstrdup(buf);
	return buf;
}

void
agent_result_release(struct agent_result *r)
{
	if (r == NULL)
		return;
	free(r->agent_session_id);
	free(r->text);
	free(r->error);
	memset(r, 0, sizeof *r);
}

static int64_t
json_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? 0 : json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) >= 0 &&
	    json_real_value(v) < 9e18)
		return (int64_t)json_real_value(v);
	return 0;
}

static double
json_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_number(v) && json_number_value(v) >= 0)
		return json_number_value(v);
	return 0;
}

int
agent_parse_result_json(const char *text, struct agent_result *r, char **cause)
{
	json_error_t err;
	json_t *o, *v, *usage;

	o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	if (o == NULL || !json_is_object(o)) {
		*cause = o == NULL ? xasprintf("not JSON: %s (line %d)",
					       err.text, err.line)
				   : xstrdup("not a JSON object");
		json_decref(o);
		return -1;
	}
	v = json_object_get(o, "session_id");
	if (json_is_string(v) && json_string_length(v) > 0) {
		if (!util_is_uuid(json_string_value(v))) {
			*cause = xasprintf("reported session id '%.64s' is "
					   "not a UUID",
					   json_string_value(v));
			json_decref(o);
			return -1;
		}
		free(r->agent_session_id);
		r->agent_session_id = util_uuid_lower(json_string_value(v));
	}
	v = json_object_get(o, "result");
	if (json_is_string(v)) {
		free(r->text);
		r->text = xstrdup(json_string_value(v));
	}
	usage = json_object_get(o, "usage");
	if (json_is_object(usage)) {
		r->input_tokens = json_int(usage, "input_tokens");
		r->output_tokens = json_int(usage, "output_tokens");
		r->cache_read_tokens =
			json_int(usage, "cache_read_input_tokens");
		r->cache_creation_tokens =
			json_int(usage, "cache_creation_input_tokens");
	} else {
		r->input_tokens = json_int(o, "input_tokens");
		r->output_tokens = json_int(o, "output_tokens");
	}
	if (json_object_get(o, "total_cost_usd") != NULL)
		r->cost_usd = json_num(o, "total_cost_usd");
	else
		r->cost_usd = json_num(o, "cost_usd");
	v = json_object_get(o, "num_turns");
	r->num_turns = json_is_integer(v) ? json_integer_value(v) : -1;
	v = json_object_get(o, "duration_ms");
	r->duration_ms = json_is_integer(v) ? json_integer_value(v) : -1;
	if (json_is_true(json_object_get(o, "transient")))
		r->outcome = AGENT_TRANSIENT;
	else if (json_is_true(json_object_get(o, "resume_failed")))
		r->outcome = AGENT_RESUME_FAILED;
	json_decref(o);
	return 0;
}

char *
agent_expand(const char *item, const struct agent_call *c)
{
	static const char *const names[] = {
		"task_id", "session_id",  "agent_session_id",
		"workdir", "prompt_file",
	};
	struct strbuf sb;
	const char *p = item, *close;
	char num[32];
	size_t i, n;

	strbuf_init(&sb);
	while (*p != '\0') {
		if (*p != '{' || (close = strchr(p, '}')) == NULL) {
			strbuf_add(&sb, p, 1);
			p++;
			continue;
		}
		n = (size_t)(close - p - 1);
		for (i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strlen(names[i]) == n &&
			    strncmp(p + 1, names[i], n) == 0)
				break;
		}
		switch (i) {
		case 0:
			snprintf(num, sizeof num, "%lld",
				 (long long)c->task_id);
			strbuf_adds(&sb, num);
			break;
		case 1:
			strbuf_adds(&sb, c->session_id ? c->session_id : "");
			break;
		case 2:
			strbuf_adds(&sb, c->agent_session_id
						 ? c->agent_session_id
						 : "");
			break;
		case 3:
			strbuf_adds(&sb, c->workdir ? c->workdir : "");
			break;
		case 4:
			strbuf_adds(&sb, c->prompt_file ? c->prompt_file : "");
			break;
		default: /* not ours: keep it as written */
			strbuf_add(&sb, p, n + 2);
			break;
		}
		p = close + 1;
	}
	return strbuf_detach(&sb);
}
