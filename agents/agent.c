/*
 * The adapter registry and the part every adapter shares: the assigned
 * session id (S3, S4), reading a Claude-like JSON result, and the
 * helpers of the adapters that run an agent CLI (claude, codex): the
 * start of the argv, reading stderr, finding the CLI's own words.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/agent.h"
#include "lib/file.h"
#include "lib/id.h"
#include "lib/num.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

/* The one list of kind names, in the order of enum agent_kind. */
static const char *const kind_names[AGENT_KIND_COUNT] = {
	[AGENT_KIND_SHELL] = "shell",
	[AGENT_KIND_COMMAND] = "command",
	[AGENT_KIND_CLAUDE] = "claude",
	[AGENT_KIND_CODEX] = "codex",
};

/* The adapter of each kind; each one's .kind is its index here. */
static const struct agent_impl *const registry[AGENT_KIND_COUNT] = {
	[AGENT_KIND_SHELL] = &agent_shell_impl,
	[AGENT_KIND_COMMAND] = &agent_command_impl,
	[AGENT_KIND_CLAUDE] = &agent_claude_impl,
	[AGENT_KIND_CODEX] = &agent_codex_impl,
};

/* The name of kind (static), or NULL if it is not a kind. */
const char *
agent_kind_name(enum agent_kind kind)
{
	if ((unsigned)kind >= AGENT_KIND_COUNT)
		return NULL;
	return kind_names[kind];
}

/* 0 and *kind set if name is a kind's name, else -1. */
int
agent_kind_parse(const char *name, enum agent_kind *kind)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < AGENT_KIND_COUNT; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind = (enum agent_kind)i;
			return 0;
		}
	}
	return -1;
}

/* The adapter of kind (static), or NULL. */
const struct agent_impl *
agent_impl_find(enum agent_kind kind)
{
	if ((unsigned)kind >= AGENT_KIND_COUNT)
		return NULL;
	return registry[kind];
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
	id_uuid_new(buf);
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

static double
json_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? num_usd(json_number_value(v)) : 0;
}

int
agent_parse_result_json(const char *text, struct agent_result *r, char **cause)
{
	json_error_t err;
	json_t *o, *v;

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
		if (!id_is_uuid(json_string_value(v))) {
			*cause = xasprintf("reported session id '%.64s' is "
					   "not a UUID",
					   json_string_value(v));
			json_decref(o);
			return -1;
		}
		free(r->agent_session_id);
		r->agent_session_id = id_uuid_lower(json_string_value(v));
	}
	v = json_object_get(o, "result");
	if (json_is_string(v)) {
		free(r->text);
		r->text = xstrdup(json_string_value(v));
	}
	if (agent_get_usage(json_object_get(o, "usage"), r) != 0) {
		r->input_tokens = agent_get_count(o, "input_tokens");
		r->output_tokens = agent_get_count(o, "output_tokens");
	}
	if (json_object_get(o, "total_cost_usd") != NULL)
		r->cost_usd = json_num(o, "total_cost_usd");
	else
		r->cost_usd = json_num(o, "cost_usd");
	v = json_object_get(o, "num_turns");
	r->num_turns = json_is_integer(v) && json_integer_value(v) >= 0
			       ? num_count(json_integer_value(v))
			       : -1;
	v = json_object_get(o, "duration_ms");
	r->duration_ms = json_is_integer(v) && json_integer_value(v) >= 0
				 ? num_count(json_integer_value(v))
				 : -1;
	if (json_is_true(json_object_get(o, "transient")))
		r->outcome = AGENT_TRANSIENT;
	else if (json_is_true(json_object_get(o, "resume_failed")))
		r->outcome = AGENT_RESUME_FAILED;
	json_decref(o);
	return 0;
}

int
agent_argv_begin(const struct agent_call *c, const char *default_bin,
		 struct strvec *argv, char **cause)
{
	const struct agent_profile *p = c->profile;
	char *const *a;

	if (c->agent_session_id != NULL && !id_is_uuid(c->agent_session_id)) {
		*cause = xasprintf("agent session id '%.64s' is not a UUID",
				   c->agent_session_id);
		return -1;
	}
	if (c->resume && c->agent_session_id == NULL) {
		*cause = xstrdup("no agent session id to resume");
		return -1;
	}
	if (p->command != NULL && p->command[0] != NULL &&
	    p->command[0][0] != '\0') {
		for (a = p->command; *a != NULL; a++)
			strvec_push(argv, *a);
	} else
		strvec_push(argv, default_bin);
	return 0;
}

void
agent_argv_options(const struct agent_call *c, struct strvec *argv)
{
	const char *model = c->model != NULL ? c->model : c->profile->model;
	char *const *a;

	if (model != NULL && model[0] != '\0')
		strvec_pushf(argv, "--model=%s", model);
	for (a = c->profile->args; a != NULL && *a != NULL; a++)
		strvec_push(argv, *a);
}

const struct agent_rule *
agent_classify(const struct agent_rule *rules, size_t n, int status,
	       const char *const *texts, const size_t *lens, size_t ntexts,
	       const char **where, size_t *which)
{
	const struct agent_rule *r;
	size_t i, t;

	*where = NULL;
	for (i = 0; i < n; i++) {
		r = &rules[i];
		if (r->lo > 0) {
			if (status >= r->lo && status <= r->hi)
				return r;
			continue;
		}
		for (t = 0; t < ntexts; t++) {
			if ((*where = agent_find_text(texts[t], lens[t],
						      r->text))) {
				*which = t;
				return r;
			}
		}
	}
	return NULL;
}

char *
agent_exit_error(const char *who, const struct agent_exit *pr,
		 const char *err_path)
{
	char *line = file_read_first_line(err_path, 200), *e;
	const char *sp = who != NULL ? " " : "", *sep = line ? ": " : "";

	if (who == NULL)
		who = "";
	if (pr->exited)
		e = xasprintf("%s%sexited with status %d%s%s", who, sp,
			      pr->exit_code, sep, line ? line : "");
	else
		e = xasprintf("%s%skilled by signal %d%s%s", who, sp,
			      pr->signal, sep, line ? line : "");
	free(line);
	return e;
}

char *
agent_read_head(const char *path, size_t max, size_t *len)
{
	char *buf;
	size_t n = 0;
	ssize_t r;
	int fd;

	*len = 0;
	if (path == NULL || (fd = file_open_read(path)) == -1)
		return NULL;
	buf = xmalloc(max + 1);
	while (n < max) {
		r = read(fd, buf + n, max - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

const char *
agent_find_text(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle), i, k;

	if (hay == NULL || n == 0 || n > len)
		return NULL;
	for (i = 0; i + n <= len; i++) {
		for (k = 0; k < n; k++) {
			unsigned char a = (unsigned char)hay[i + k];
			unsigned char b = (unsigned char)needle[k];

			if (a >= 'A' && a <= 'Z')
				a = (unsigned char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b - 'A' + 'a');
			if (a != b)
				break;
		}
		if (k == n)
			return hay + i;
	}
	return NULL;
}

char *
agent_line_at(const char *text, size_t len, const char *at)
{
	const char *s, *e, *end;
	size_t n;

	/* not text + len before this: NULL + 0 is undefined */
	if (text == NULL)
		return NULL;
	end = text + len;
	if (at == NULL) {
		for (s = text; s < end; s = e + 1) {
			e = memchr(s, '\n', (size_t)(end - s));
			if (e == NULL)
				e = end;
			while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
				s++;
			if (s < e && *s != '\0')
				break;
		}
		if (s >= end)
			return NULL;
	} else {
		for (s = at; s > text && s[-1] != '\n'; s--)
			;
	}
	e = memchr(s, '\n', (size_t)(end - s));
	if (e == NULL)
		e = end;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - s);
	if (n == 0)
		return NULL;
	if (n > AGENT_LINE_MAX)
		n = AGENT_LINE_MAX;
	/* a NUL inside the line ends it: error text is a C string */
	return xstrndup(s, n);
}

int64_t
agent_get_count(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	double d;

	/* untrusted: in range, saturating (num.h) */
	if (json_is_integer(v))
		return num_count(json_integer_value(v));
	if (json_is_real(v)) {
		d = json_real_value(v);
		return num_count_of(d);
	}
	return 0;
}

int
agent_get_usage(json_t *usage, struct agent_result *r)
{
	if (!json_is_object(usage))
		return -1;
	r->input_tokens = agent_get_count(usage, "input_tokens");
	r->output_tokens = agent_get_count(usage, "output_tokens");
	r->cache_read_tokens =
		agent_get_count(usage, "cache_read_input_tokens");
	r->cache_creation_tokens =
		agent_get_count(usage, "cache_creation_input_tokens");
	return 0;
}

char *
agent_status_text(const struct agent_exit *pr)
{
	if (pr->exited)
		return xasprintf("exit status %d", pr->exit_code);
	return xasprintf("killed by signal %d", pr->signal);
}

char *
agent_expand(const char *item, const struct agent_call *c)
{
	static const char *const names[] = {
		"task_id", "session_id",  "agent_session_id",
		"workdir", "prompt_file", "session_dir",
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
		case 5:
			strbuf_adds(&sb, c->session_dir ? c->session_dir : "");
			break;
		default: /* not ours: keep it as written */
			strbuf_add(&sb, p, n + 2);
			break;
		}
		p = close + 1;
	}
	return strbuf_detach(&sb);
}

int
agent_needs(const struct agent_impl *impl, const struct agent_profile *profile,
	    const char *name)
{
	char *const *p;
	char *mark;
	int found = 0;

	if (strcmp(name, "prompt_file") == 0 ? impl->needs_prompt_file
					     : impl->needs_session_dir)
		return 1;
	if (!impl->expands_command || profile->command == NULL)
		return 0;
	mark = xasprintf("{%s}", name);
	for (p = profile->command; *p != NULL && !found; p++)
		found = strstr(*p, mark) != NULL;
	free(mark);
	return found;
}
