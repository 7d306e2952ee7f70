/*
 * The `claude` agent: the Claude Code CLI in headless mode (SPEC §3.1).
 *
 * A session's first run is `claude -p --output-format=json
 * --session-id=<id>`, every later one `--resume=<head>` (the CLI writes
 * its transcript even when the API call fails, so a retry resumes too);
 * flags are single --flag=value tokens, the prompt is on stdin.  stdout
 * is read as one result object whatever the exit status; its is_error,
 * subtype, api_error_status and the CLI's own words (the result text or
 * stderr) are classified by the table below.  Output of any size or
 * shape ends as a result, never as a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "lib/file.h"
#include "lib/id.h"
#include "lib/num.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

/* stdout bigger than this is not a result object baton will parse. */
#define CLAUDE_OUT_MAX ((size_t)64 << 20)
/* How much of stderr is searched for the CLI's error messages. */
#define CLAUDE_ERR_MAX ((size_t)64 << 10)

/*
 * How a failed turn is classified: the first row that matches wins.  A
 * row matches an api_error_status in [lo, hi] (when lo > 0), or a text
 * found (ignoring ASCII case) in the result text, the "errors" list or
 * stderr.  A failed turn no row matches is AGENT_FAILED; a turn with
 * is_error false is a success whatever its text says.
 */
static const struct agent_rule claude_rules[] = {
	/* rate limit, overload, server errors: retried with backoff */
	{429, 429, NULL, AGENT_TRANSIENT},
	{529, 529, NULL, AGENT_TRANSIENT},
	{500, 599, NULL, AGENT_TRANSIENT},
	/* the conversation cannot be continued: S13 fallback */
	{0, 0, "No conversation found with session ID", AGENT_RESUME_FAILED},
	{0, 0, "is already in use", AGENT_RESUME_FAILED},
	/* startup and configuration: permanent, the session keeps its id */
	{0, 0, "Not logged in", AGENT_CONFIG_ERROR},
	{0, 0, "Invalid API key", AGENT_CONFIG_ERROR},
	{0, 0, "unknown option", AGENT_CONFIG_ERROR},
	{401, 401, NULL, AGENT_CONFIG_ERROR},
	/* the network between the CLI and the API: retried */
	{0, 0, "Unable to connect to API (", AGENT_TRANSIENT},
	{0, 0, "Request timed out", AGENT_TRANSIENT},
	{0, 0, "Connection error", AGENT_TRANSIENT},
};
#define CLAUDE_NRULES (sizeof claude_rules / sizeof claude_rules[0])

static int
claude_build_argv(const struct agent_call *c, struct strvec *argv, char **cause)
{
	if (agent_argv_begin(c, "claude", argv, cause) != 0)
		return -1;
	strvec_push(argv, "-p");
	strvec_push(argv, "--output-format=json");
	if (c->agent_session_id != NULL)
		strvec_pushf(argv, "%s=%s",
			     c->resume ? "--resume" : "--session-id",
			     c->agent_session_id);
	if (c->resume && c->fork)
		strvec_push(argv, "--fork-session");
	if (c->max_budget_usd > 0)
		strvec_pushf(argv, "--max-budget-usd=%.6g", c->max_budget_usd);
	agent_argv_options(c, argv);
	return 0;
}

/* ---- reading the output ---- */

static int
is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	}
	return 1;
}

/* An object of type "result", or an untyped one with a result's keys. */
static int
is_result(json_t *o)
{
	json_t *type = json_object_get(o, "type");

	if (!json_is_object(o))
		return 0;
	if (type != NULL)
		return json_is_string(type) &&
		       strcmp(json_string_value(type), "result") == 0;
	return json_object_get(o, "is_error") != NULL ||
	       json_object_get(o, "subtype") != NULL;
}

/* The last element of type "result" of an array of events, or NULL. */
static json_t *
last_result(json_t *a)
{
	size_t i = json_array_size(a);

	while (i-- > 0) {
		json_t *e = json_array_get(a, i);
		json_t *type = json_object_get(e, "type");

		if (json_is_object(e) && json_is_string(type) &&
		    strcmp(json_string_value(type), "result") == 0)
			return json_incref(e);
	}
	return NULL;
}

/*
 * The result object in text (a new reference), or NULL with *why.
 * Accepted: one object (`--output-format=json`), an array of events
 * (older CLIs, or `--verbose`), or JSON lines (`stream-json`) of which
 * the last result line is taken.
 */
static json_t *
find_result(const char *text, size_t len, char **why)
{
	json_error_t err;
	json_t *j, *o = NULL;
	const char *s, *e;

	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (j != NULL) {
		if (json_is_array(j))
			o = last_result(j);
		else if (is_result(j))
			o = json_incref(j);
		json_decref(j);
		if (o == NULL)
			*why = xstrdup("no result object in the output");
		return o;
	}
	/* JSON lines: the last line that is a result object */
	e = text + len;
	while (e > text) {
		for (s = e; s > text && s[-1] != '\n'; s--)
			;
		/* the line is [s, e) */
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s < e && *s == '{') {
			j = json_loadb(s, (size_t)(e - s),
				       JSON_REJECT_DUPLICATES, NULL);
			if (j != NULL && is_result(j) &&
			    json_object_get(j, "type") != NULL)
				return j;
			json_decref(j);
		}
		while (s > text && s[-1] != '\n')
			s--;
		if (s == text)
			break;
		e = s - 1;
	}
	*why = xasprintf("not JSON: %s (line %d, column %d)", err.text,
			 err.line, err.column);
	return NULL;
}

/*
 * The usage of a turn from "modelUsage" (per model, camelCase), for a
 * result whose "usage" reports nothing: Claude Code 2.1 does that when
 * it answered a turn by its non-streaming fallback after an error event
 * in the stream, while modelUsage and the cost still count the tokens.
 */
static void
add_count(int64_t *sum, int64_t v)
{
	*sum = num_count_add(*sum, v);
}

static void
model_usage(json_t *o, struct agent_result *r)
{
	json_t *models = json_object_get(o, "modelUsage"), *m;
	const char *name;

	if (!json_is_object(models))
		return;
	json_object_foreach(models, name, m)
	{
		if (!json_is_object(m))
			continue;
		add_count(&r->input_tokens, agent_get_count(m, "inputTokens"));
		add_count(&r->output_tokens,
			  agent_get_count(m, "outputTokens"));
		add_count(&r->cache_read_tokens,
			  agent_get_count(m, "cacheReadInputTokens"));
		add_count(&r->cache_creation_tokens,
			  agent_get_count(m, "cacheCreationInputTokens"));
	}
}

/* Result, errors and stderr texts a failed turn is classified by. */
#define NTEXTS 3

/* What a turn left: stderr, and the texts a failure is classified by. */
struct claude_turn {
	char *err; /* the head of stderr */
	size_t errlen;
	const char *texts[NTEXTS];
	size_t lens[NTEXTS];
	struct strbuf errors; /* the result's "errors" list, one a line */
};

/*
 * The result object of stdout (a new reference), or NULL with *why
 * (the caller frees) when there is none: too large, unreadable, blank
 * or not a result.
 */
static json_t *
read_result(const struct agent_exit *pr, const char *out_path, char **why)
{
	json_t *o = NULL;
	char *out;
	size_t len = 0;

	if (pr->out_bytes > CLAUDE_OUT_MAX) {
		*why = xasprintf("output too large (%llu bytes)",
				 (unsigned long long)pr->out_bytes);
		return NULL;
	}
	if ((out = file_read(out_path, CLAUDE_OUT_MAX, &len)) == NULL) {
		if (errno == EFBIG)
			*why = xstrdup("output too large");
		else if (errno == ENOENT)
			*why = xstrdup("no output");
		else
			*why = xasprintf("cannot read the output: %s",
					 file_strerror(errno));
		return NULL;
	}
	if (is_blank(out, len))
		*why = xstrdup("no output");
	else
		o = find_result(out, len, why);
	free(out);
	return o;
}

/*
 * No result object: the CLI's words on stderr may still say why (an
 * unknown option, an unknown or busy session id); else bad output.
 */
static void
no_result(const struct agent_exit *pr, struct claude_turn *t, const char *why,
	  struct agent_result *r)
{
	const struct agent_rule *rule;
	const char *where;
	size_t which;
	char *st, *line;

	rule = agent_classify(claude_rules, CLAUDE_NRULES, 0, t->texts, t->lens,
			      NTEXTS, &where, &which);
	if (rule != NULL) {
		r->outcome = rule->outcome;
		r->error = agent_line_at(t->err, t->errlen, where);
		return;
	}
	st = agent_status_text(pr);
	line = agent_line_at(t->err, t->errlen, NULL);
	r->outcome = AGENT_BAD_OUTPUT;
	r->error =
		xasprintf("bad output from claude (%s, %s)%s%s", why, st,
			  line != NULL ? ": " : "", line != NULL ? line : "");
	free(st);
	free(line);
}

/* The counts of the result: tokens, cost, turns and duration. */
static void
fill_usage(json_t *o, struct agent_result *r)
{
	json_t *v;

	agent_get_usage(json_object_get(o, "usage"), r);
	if (r->input_tokens == 0 && r->output_tokens == 0 &&
	    r->cache_read_tokens == 0 && r->cache_creation_tokens == 0)
		model_usage(o, r);
	v = json_object_get(o, "total_cost_usd");
	if (v == NULL)
		v = json_object_get(o, "cost_usd");
	/* untrusted: kept in range, saturating (num.h) */
	if (json_is_number(v))
		r->cost_usd = num_usd(json_number_value(v));
	v = json_object_get(o, "num_turns");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		r->num_turns = num_count(json_integer_value(v));
	v = json_object_get(o, "duration_ms");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		r->duration_ms = num_count(json_integer_value(v));
	else if (json_is_real(v) && json_real_value(v) >= 0)
		r->duration_ms = num_count_of(json_real_value(v));
}

/* The reported session id into r: 0, or -1 (bad output) if not a UUID. */
static int
fill_session_id(json_t *o, struct agent_result *r)
{
	json_t *v = json_object_get(o, "session_id");

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !id_is_uuid(json_string_value(v))) {
		r->outcome = AGENT_BAD_OUTPUT;
		r->error = xasprintf("bad output from claude: reported "
				     "session id '%.64s' is not a UUID",
				     json_is_string(v) ? json_string_value(v)
						       : "(not a string)");
		return -1;
	}
	r->agent_session_id = id_uuid_lower(json_string_value(v));
	return 0;
}

/* Whether the turn failed: is_error, else the subtype and exit status. */
static int
is_failed(json_t *o, const struct agent_exit *pr)
{
	json_t *v = json_object_get(o, "is_error");
	int failed = 0;

	if (json_is_boolean(v))
		return json_is_true(v);
	v = json_object_get(o, "subtype");
	if (json_is_string(v))
		failed = strncmp(json_string_value(v), "error", 5) == 0;
	return failed || !pr->exited || pr->exit_code != 0;
}

/* The api_error_status of the result, or 0. */
static int
api_status(json_t *o)
{
	json_t *v = json_object_get(o, "api_error_status");

	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) < 1000)
		return (int)json_integer_value(v);
	return 0;
}

/*
 * Classify a failed turn by its status, result text, errors list and
 * stderr; the error is the CLI's own words: the matched line, else the
 * first one.
 */
static void
classify_failure(json_t *o, const struct agent_exit *pr, struct claude_turn *t,
		 struct agent_result *r)
{
	const struct agent_rule *rule;
	const char *where;
	size_t which = 0, i;
	json_t *v = json_object_get(o, "errors");
	char *line = NULL, *st;

	/* The CLI's words are short; a huge text is searched at its head. */
	t->texts[0] = r->text;
	t->lens[0] = r->text != NULL ? strnlen(r->text, CLAUDE_ERR_MAX) : 0;
	for (i = 0; i < json_array_size(v); i++) {
		json_t *e = json_array_get(v, i);

		if (json_is_string(e)) {
			strbuf_adds(&t->errors, json_string_value(e));
			strbuf_adds(&t->errors, "\n");
		}
	}
	t->texts[1] = t->errors.buf;
	t->lens[1] =
		t->errors.len < CLAUDE_ERR_MAX ? t->errors.len : CLAUDE_ERR_MAX;
	rule = agent_classify(claude_rules, CLAUDE_NRULES, api_status(o),
			      t->texts, t->lens, NTEXTS, &where, &which);
	r->outcome = rule != NULL ? rule->outcome : AGENT_FAILED;
	if (where != NULL)
		line = agent_line_at(t->texts[which], t->lens[which], where);
	for (i = 0; line == NULL && i < NTEXTS; i++)
		line = agent_line_at(t->texts[i], t->lens[i], NULL);
	if (line != NULL) {
		r->error = line;
		return;
	}
	v = json_object_get(o, "subtype");
	st = agent_status_text(pr);
	r->error = xasprintf(
		"claude reported an error (%s, %s)",
		json_is_string(v) ? json_string_value(v) : "no subtype", st);
	free(st);
}

/* Read stdout as one result object whatever the exit status (SPEC §3.1). */
static void
claude_parse_result(const struct agent_call *c, const struct agent_exit *pr,
		    const char *out_path, const char *err_path,
		    struct agent_result *r)
{
	struct claude_turn t = {0};
	char *why = NULL;
	json_t *o, *v;

	(void)c;
	strbuf_init(&t.errors);
	r->num_turns = -1;
	r->duration_ms = -1;
	t.err = agent_read_head(err_path, CLAUDE_ERR_MAX, &t.errlen);
	t.texts[2] = t.err;
	t.lens[2] = t.errlen;
	if ((o = read_result(pr, out_path, &why)) == NULL) {
		no_result(pr, &t, why, r);
		goto out;
	}
	/* Usage first: a turn that is rejected later still cost tokens. */
	fill_usage(o, r);
	v = json_object_get(o, "result");
	if (json_is_string(v))
		r->text = xstrdup(json_string_value(v));
	if (fill_session_id(o, r) != 0)
		goto out;
	if (!is_failed(o, pr))
		r->outcome = AGENT_OK;
	else
		classify_failure(o, pr, &t, r);
	/* Stopped by the budget baton passed (--max-budget-usd): not a
	 * failure a retry could mend. */
	v = json_object_get(o, "subtype");
	if (r->outcome != AGENT_OK && json_is_string(v) &&
	    strcmp(json_string_value(v), "error_max_budget_usd") == 0)
		r->outcome = AGENT_BUDGET;
out:
	if (r->outcome != AGENT_OK && r->error == NULL)
		r->error = xstrdup("claude failed");
	json_decref(o);
	strbuf_release(&t.errors);
	free(t.err);
	free(why);
}

/* The adapter of kind "claude", found through agent_impl_find(). */
const struct agent_impl agent_claude_impl = {
	.kind = AGENT_KIND_CLAUDE,
	.answer = AGENT_ANSWER_ALWAYS,
	.accepts_session_id = 1,
	.can_fork = 1,
	.session_cwd = 1,
	.build_argv = claude_build_argv,
	.parse_result = claude_parse_result,
};
