/*
 * The `codex` agent: OpenAI's Codex CLI, `codex exec --json` (SPEC §3.1).
 *
 * A new conversation is `codex exec --json --skip-git-repo-check
 * [--model=<m>] [args…] -`, a later one the same with `resume <head>`
 * before the `-`; the prompt is on stdin.  Codex cannot be handed an
 * id: it mints the thread id and reports it in its first event,
 * `thread.started`, and that is the head.  stdout is read as JSON Lines
 * events whatever the exit status; a failed turn (`turn.failed`, the
 * `error` events, stderr) is classified by the table below.
 *
 * Usage: `turn.completed.usage` holds the thread's running totals, not
 * the turn's (a resumed thread reports everything it ever spent).  A new
 * thread's totals are this run's; for a resumed one the turn's own usage
 * is read from the CLI's rollout file of the thread, checked against the
 * totals (see codex_run_usage()).  Output of any size or shape ends as a
 * result, never as a crash.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents/agent.h"
#include "lib/file.h"
#include "lib/id.h"
#include "lib/num.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

/* stdout beyond this is not read: the run is bad output. */
#define CODEX_OUT_MAX ((size_t)64 << 20)
/* One event line longer than this is skipped (and counted as bad). */
#define CODEX_EVENT_MAX ((size_t)16 << 20)
/* How much of stderr, and of the error events, is searched. */
#define CODEX_ERR_MAX ((size_t)64 << 10)
/* How much of the end of a rollout file is read for the turn's usage. */
#define CODEX_ROLLOUT_TAIL ((size_t)4 << 20)

/*
 * How a failed turn is classified: the first row that matches wins.  A
 * row matches an HTTP status in [lo, hi] (when lo > 0) as the CLI quotes
 * it ("unexpected status 503 …", "last status: 429 …"), or a text found
 * (ignoring ASCII case) in the turn.failed message, the error events or
 * stderr.  A failed turn no row matches is AGENT_FAILED.
 */
static const struct agent_rule codex_rules[] = {
	/* the thread cannot be continued: S13 fallback */
	{0, 0, "No saved session found", AGENT_RESUME_FAILED},
	{0, 0, "no rollout found", AGENT_RESUME_FAILED},
	/* out of credit (429 insufficient_quota): retrying cannot help */
	{0, 0, "Quota exceeded", AGENT_CONFIG_ERROR},
	/* rate limit, server errors: retried with backoff */
	{429, 429, NULL, AGENT_TRANSIENT},
	{500, 599, NULL, AGENT_TRANSIENT},
	/* startup and configuration: permanent, the session keeps its id */
	{401, 401, NULL, AGENT_CONFIG_ERROR},
	{403, 403, NULL, AGENT_CONFIG_ERROR},
	{0, 0, "Incorrect API key", AGENT_CONFIG_ERROR},
	{0, 0, "Invalid API key", AGENT_CONFIG_ERROR},
	{0, 0, "invalid_api_key", AGENT_CONFIG_ERROR},
	{0, 0, "Missing environment variable", AGENT_CONFIG_ERROR},
	{0, 0, "no Codex credentials", AGENT_CONFIG_ERROR},
	{0, 0, "unexpected argument", AGENT_CONFIG_ERROR},
	{0, 0, "unrecognized subcommand", AGENT_CONFIG_ERROR},
	{0, 0, "error: invalid value", AGENT_CONFIG_ERROR},
	{0, 0, "Not inside a trusted directory", AGENT_CONFIG_ERROR},
	/* overload and the network between the CLI and the API: retried */
	{0, 0, "experiencing high demand", AGENT_TRANSIENT},
	{0, 0, "overloaded", AGENT_TRANSIENT},
	{0, 0, "stream disconnected", AGENT_TRANSIENT},
	{0, 0, "Connection failed", AGENT_TRANSIENT},
	{0, 0, "error sending request", AGENT_TRANSIENT},
};
#define CODEX_NRULES (sizeof codex_rules / sizeof codex_rules[0])

static int
codex_build_argv(const struct agent_call *c, struct strvec *argv, char **cause)
{
	if (agent_argv_begin(c, "codex", argv, cause) != 0)
		return -1;
	strvec_push(argv, "exec");
	/* Options go before `resume`: exec's own options (--sandbox and
	 * the like, from args:) are refused after it. */
	strvec_push(argv, "--json");
	/* baton's workdir is the user's choice, git or not */
	strvec_push(argv, "--skip-git-repo-check");
	agent_argv_options(c, argv);
	/* Codex mints its own thread ids: a new conversation names none. */
	if (c->resume) {
		strvec_push(argv, "resume");
		strvec_push(argv, c->agent_session_id);
	}
	strvec_push(argv, "-");
	return 0;
}

/* ---- reading the events ---- */

struct codex_usage {
	int64_t input, cached, output;
};

struct codex_scan {
	size_t events;	  /* objects with a string "type" */
	size_t bad_lines; /* other non-blank lines */
	int too_large;	  /* stdout was bigger than CODEX_OUT_MAX */
	int64_t turns;	  /* turn.completed events */
	int failed;	  /* a turn.failed after the last turn.completed */
	int has_usage;
	struct codex_usage total; /* the last turn.completed usage */
	char *thread_id;      /* the last valid thread.started id, lower case */
	char *bad_id;	      /* a thread_id that is not a UUID */
	char *text;	      /* the last agent message */
	char *fail_msg;	      /* the last turn.failed message */
	struct strbuf errors; /* messages of error events, one a line */
};

static void
scan_release(struct codex_scan *s)
{
	free(s->thread_id);
	free(s->bad_id);
	free(s->text);
	free(s->fail_msg);
	strbuf_release(&s->errors);
}

static int
get_usage(json_t *o, struct codex_usage *u)
{
	if (!json_is_object(o))
		return -1;
	u->input = agent_get_count(o, "input_tokens");
	u->cached = agent_get_count(o, "cached_input_tokens");
	u->output = agent_get_count(o, "output_tokens");
	return 0;
}

static const char *
get_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The message of an error object or string (turn.failed's "error"). */
static const char *
error_message(json_t *e)
{
	if (json_is_string(e))
		return json_string_value(e);
	return get_str(e, "message");
}

static void
scan_event(struct codex_scan *s, const char *line, size_t len)
{
	json_t *o, *item;
	const char *type, *v;

	o = json_loadb(line, len, 0, NULL);
	if (!json_is_object(o) || (type = get_str(o, "type")) == NULL) {
		s->bad_lines++;
		json_decref(o);
		return;
	}
	s->events++;
	if (strcmp(type, "thread.started") == 0) {
		json_t *id = json_object_get(o, "thread_id");

		if (json_is_string(id) && id_is_uuid(json_string_value(id))) {
			free(s->thread_id);
			s->thread_id = id_uuid_lower(json_string_value(id));
		} else if (s->bad_id == NULL)
			s->bad_id = xstrndup(json_is_string(id)
						     ? json_string_value(id)
						     : "(not a string)",
					     64);
	} else if (strcmp(type, "turn.completed") == 0) {
		s->turns++;
		s->failed = 0;
		if (get_usage(json_object_get(o, "usage"), &s->total) == 0)
			s->has_usage = 1;
	} else if (strcmp(type, "turn.failed") == 0) {
		s->failed = 1;
		free(s->fail_msg);
		v = error_message(json_object_get(o, "error"));
		s->fail_msg = xstrdup(v != NULL ? v : "turn failed");
		if (strlen(s->fail_msg) > CODEX_ERR_MAX)
			s->fail_msg[CODEX_ERR_MAX] = '\0';
	} else if (strcmp(type, "error") == 0) {
		v = get_str(o, "message");
		if (v != NULL && s->errors.len < CODEX_ERR_MAX) {
			strbuf_add(&s->errors, v,
				   strnlen(v, CODEX_ERR_MAX - s->errors.len));
			strbuf_adds(&s->errors, "\n");
		}
	} else if (strcmp(type, "item.completed") == 0) {
		item = json_object_get(o, "item");
		v = get_str(item, "type");
		if (v != NULL && strcmp(v, "agent_message") == 0 &&
		    (v = get_str(item, "text")) != NULL) {
			free(s->text);
			s->text = xstrdup(v);
		}
	}
	json_decref(o);
}

static void
scan_line(struct codex_scan *s, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
			   line[len - 1] == '\t'))
		len--;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (len == 0)
		return;
	if (*line != '{') {
		s->bad_lines++;
		return;
	}
	scan_event(s, line, len);
}

/*
 * Read stdout line by line (memory bounded by the longest event, not by
 * the output).  Returns 0, or -1 with errno if it cannot be read.
 */
static int
scan_output(const char *path, uint64_t size, struct codex_scan *s)
{
	struct strbuf line;
	char *buf;
	size_t total = 0, i, start, got;
	ssize_t n;
	int fd, skip = 0, rc = 0, saved;

	if (path == NULL || (fd = file_open_read(path)) == -1)
		return -1;
	if (size > CODEX_OUT_MAX)
		s->too_large = 1;
	buf = xmalloc(64 << 10);
	strbuf_init(&line);
	while (total < CODEX_OUT_MAX) {
		n = read(fd, buf, 64 << 10);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			rc = -1;
		if (n <= 0)
			break;
		got = (size_t)n;
		if (got > CODEX_OUT_MAX - total) {
			got = CODEX_OUT_MAX - total;
			s->too_large = 1;
		}
		total += got;
		for (start = 0, i = 0; i < got; i++) {
			if (buf[i] != '\n')
				continue;
			if (!skip) {
				strbuf_add(&line, buf + start, i - start);
				scan_line(s, line.buf, line.len);
			}
			line.len = 0;
			skip = 0;
			start = i + 1;
		}
		if (!skip && line.len + (got - start) > CODEX_EVENT_MAX) {
			/* an event this long is no event of ours */
			s->bad_lines++;
			skip = 1;
			line.len = 0;
		}
		if (!skip)
			strbuf_add(&line, buf + start, got - start);
	}
	/* the last line, without a newline: a truncated event is bad */
	if (rc == 0 && !skip && line.len > 0 && !s->too_large)
		scan_line(s, line.buf, line.len);
	saved = errno;
	close(fd);
	free(buf);
	strbuf_release(&line);
	errno = saved;
	return rc;
}

/* ---- the turn's own usage from the rollout file ---- */

/* The value of name in a "KEY=VALUE" list, or NULL. */
static const char *
env_lookup(char *const *env, const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;

	for (; env != NULL && *env != NULL; env++) {
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			found = *env + n + 1;
	}
	return found;
}

/* $CODEX_HOME as the CLI sees it (the profile's env: wins); or NULL. */
static char *
codex_home(const struct agent_call *c)
{
	char *const *env = c->profile != NULL ? c->profile->env : NULL;
	const char *home = env_lookup(env, "CODEX_HOME");

	if (home == NULL)
		home = getenv("CODEX_HOME");
	if (home != NULL && home[0] != '\0') {
		if (home[0] != '/' && c->workdir != NULL)
			return xasprintf("%s/%s", c->workdir, home);
		return xstrdup(home);
	}
	if ((home = env_lookup(env, "HOME")) == NULL)
		home = getenv("HOME");
	if (home == NULL || home[0] == '\0')
		return NULL;
	return xasprintf("%s/.codex", home);
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The rollout file in dir holding thread id, or NULL. */
static char *
find_in_dir(const char *dir, const char *id)
{
	char *suffix = xasprintf("-%s.jsonl", id), *path = NULL;
	size_t sl = strlen(suffix), nl;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while (path == NULL && (de = readdir(d)) != NULL) {
			nl = strlen(de->d_name);
			if (nl > sl &&
			    strncmp(de->d_name, "rollout-", 8) == 0 &&
			    strcmp(de->d_name + nl - sl, suffix) == 0)
				path = xasprintf("%s/%s", dir, de->d_name);
		}
		closedir(d);
	}
	free(suffix);
	return path;
}

/*
 * The rollout file of a thread: $CODEX_HOME/sessions/YYYY/MM/DD/
 * rollout-<time>-<id>.jsonl, dated when the thread started.  Thread ids
 * are UUIDv7, so the id says when; the day is looked up in local time
 * and in UTC, and a little later, in case midnight fell in between.
 * Returns a path the caller frees, or NULL.
 */
static char *
find_rollout(const char *home, const char *id)
{
	int64_t ms = 0;
	char day[4][16], *dir, *path = NULL;
	int i, k, nd = 0, h;
	time_t t;
	struct tm tm;

	if (id[14] != '7')
		return NULL;
	for (i = 0; i < 13; i++) {
		if (i == 8)
			continue;
		if ((h = hexval(id[i])) < 0)
			return NULL;
		ms = ms * 16 + h;
	}
	for (i = 0; i < 4; i++) {
		t = (time_t)(ms / 1000 + (i >= 2 ? 600 : 0));
		if ((i % 2 ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) == NULL)
			continue;
		if (strftime(day[nd], sizeof day[nd], "%Y/%m/%d", &tm) == 0)
			continue;
		for (k = 0; k < nd && strcmp(day[k], day[nd]) != 0; k++)
			;
		if (k == nd)
			nd++;
	}
	for (i = 0; path == NULL && i < nd; i++) {
		dir = xasprintf("%s/sessions/%s", home, day[i]);
		path = find_in_dir(dir, id);
		free(dir);
	}
	return path;
}

static int
usage_equal(const struct codex_usage *a, const struct codex_usage *b)
{
	return a->input == b->input && a->cached == b->cached &&
	       a->output == b->output;
}

/*
 * The usage of the thread's last turn from its rollout: the last
 * token_usage_record, when its thread totals are the ones this run
 * reported (so that the record is this run's).  Returns 0 or -1.
 */
static int
rollout_turn_usage(const char *path, const struct codex_usage *total,
		   struct codex_usage *turn)
{
	char *tail, *e, *s;
	json_t *o, *pl;
	struct codex_usage thread;
	int rc = -1;

	if ((tail = file_read_tail(path, CODEX_ROLLOUT_TAIL)) == NULL)
		return -1;
	e = tail + strlen(tail);
	while (e > tail) {
		for (s = e; s > tail && s[-1] != '\n'; s--)
			;
		*e = '\0';
		if (strstr(s, "\"token_usage_record\"") != NULL) {
			o = json_loadb(s, (size_t)(e - s), 0, NULL);
			pl = json_object_get(o, "payload");
			if (json_is_object(o) && get_str(o, "type") != NULL &&
			    strcmp(get_str(o, "type"), "token_usage_record") ==
				    0 &&
			    get_usage(json_object_get(pl, "thread_token_usage"),
				      &thread) == 0 &&
			    usage_equal(&thread, total) &&
			    get_usage(json_object_get(pl, "turn_token_usage"),
				      turn) == 0)
				rc = 0;
			json_decref(o);
			break; /* only the last record can be this run's */
		}
		e = s > tail ? s - 1 : tail;
	}
	free(tail);
	return rc;
}

/*
 * This run's usage.  A new thread's running totals are the run's own.
 * A resumed thread's totals include every earlier turn: the turn's own
 * usage comes from the rollout; when that cannot be read (a CLI that
 * writes it otherwise) the totals are all there is, and are taken.
 */
static void
codex_run_usage(const struct agent_call *c, const char *thread,
		const struct codex_usage *total, struct codex_usage *run)
{
	char *home, *path = NULL;

	*run = *total;
	if (!c->resume)
		return;
	if (thread == NULL)
		thread = c->agent_session_id;
	if (!id_is_uuid(thread))
		return;
	if ((home = codex_home(c)) != NULL)
		path = find_rollout(home, thread);
	if (path != NULL)
		rollout_turn_usage(path, total, run);
	free(home);
	free(path);
}

/*
 * USD for usage at the profile's price: per million tokens, cached input
 * at its own rate (OpenAI counts it inside input_tokens).  0 if no price.
 */
static double
codex_cost(const struct agent_profile *p, const struct codex_usage *u)
{
	if (p == NULL || !p->price.set)
		return 0;
	return num_usd(((double)(u->input - u->cached) * p->price.input +
			(double)u->cached * p->price.cached_input +
			(double)u->output * p->price.output) /
		       1e6);
}

/* ---- classifying a failed turn ---- */

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * The first HTTP status the CLI quotes in text ("status 503", "status:
 * 429"), or 0; *at is where.
 */
static int
http_status(const char *text, size_t len, const char **at)
{
	const char *p = text, *end = text + len, *q;

	while (p < end &&
	       (q = agent_find_text(p, (size_t)(end - p), "status"))) {
		p = q + 6;
		while (p < end && (*p == ':' || *p == ' '))
			p++;
		if (end - p >= 3 && is_digit(p[0]) && is_digit(p[1]) &&
		    is_digit(p[2]) && (end - p == 3 || !is_digit(p[3])) &&
		    p[0] >= '1' && p[0] <= '5') {
			*at = q;
			return (p[0] - '0') * 100 + (p[1] - '0') * 10 +
			       (p[2] - '0');
		}
	}
	return 0;
}

/* The turn.failed message, the error events and stderr. */
#define NTEXTS 3

/*
 * The rule matching a failed turn, or NULL; *where and *which say where.
 * The HTTP status is the first one quoted in the texts.
 */
static const struct agent_rule *
classify(const char *const *texts, const size_t *lens, const char **where,
	 size_t *which)
{
	const struct agent_rule *r;
	const char *at = NULL;
	size_t t, st_text = 0;
	int status = 0;

	for (t = 0; status == 0 && t < NTEXTS; t++) {
		if (texts[t] != NULL &&
		    (status = http_status(texts[t], lens[t], &at)) != 0)
			st_text = t;
	}
	r = agent_classify(codex_rules, CODEX_NRULES, status, texts, lens,
			   NTEXTS, where, which);
	if (r != NULL && r->lo > 0) {
		*where = at;
		*which = st_text;
	}
	return r;
}

/*
 * The line of text best saying what went wrong: the first one that
 * mentions an error (stderr also holds the CLI's warnings), else the
 * first non-blank one; NULL if none.
 */
static char *
first_error_line(const char *text, size_t len)
{
	const char *s, *e, *end, *first = NULL;
	char *line;

	if (text == NULL)
		return NULL;
	end = text + len;
	for (s = text; s < end; s = e + 1) {
		e = memchr(s, '\n', (size_t)(end - s));
		if (e == NULL)
			e = end;
		if (first == NULL &&
		    (line = agent_line_at(text, len, s)) != NULL) {
			free(line);
			first = s;
		}
		if (agent_find_text(s, (size_t)(e - s), "error") != NULL)
			return agent_line_at(text, len, s);
	}
	return first != NULL ? agent_line_at(text, len, first) : NULL;
}

/*
 * This run's usage and cost from the last turn.completed (tokens spent
 * count even for a turn rejected later), its turns and its text.
 */
static void
fill_usage(const struct agent_call *c, struct codex_scan *s,
	   struct agent_result *r)
{
	struct codex_usage run = {0, 0, 0};

	if (s->has_usage) {
		codex_run_usage(c, s->thread_id, &s->total, &run);
		if (run.cached > run.input)
			run.cached = run.input;
		r->input_tokens = run.input - run.cached;
		r->cache_read_tokens = run.cached;
		r->output_tokens = run.output;
		r->cost_usd = codex_cost(c->profile, &run);
	}
	if (s->turns > 0)
		r->num_turns = s->turns;
	r->text = s->text;
	s->text = NULL;
}

/*
 * Whether the output alone decides the turn: a bad thread id, output
 * that could not be read whole, or a completed turn.  Sets r and
 * returns 1 if so; else takes the thread id and returns 0.
 */
static int
check_output(const struct agent_call *c, const struct agent_exit *pr,
	     struct codex_scan *s, int read_errno, struct agent_result *r)
{
	char *st;

	if (s->bad_id != NULL) {
		r->outcome = AGENT_BAD_OUTPUT;
		r->error = xasprintf("bad output from codex: reported thread "
				     "id '%s' is not a UUID",
				     s->bad_id);
		return 1;
	}
	r->agent_session_id = s->thread_id;
	s->thread_id = NULL;
	if (s->too_large || read_errno != 0) {
		st = agent_status_text(pr);
		r->outcome = AGENT_BAD_OUTPUT;
		if (read_errno != 0)
			r->error = xasprintf("bad output from codex (cannot "
					     "read it: %s, %s)",
					     strerror(read_errno), st);
		else
			r->error = xasprintf("bad output from codex (output "
					     "too large: %llu bytes, %s)",
					     (unsigned long long)pr->out_bytes,
					     st);
		free(st);
		return 1;
	}
	/* A completed turn is a success whatever else was said (the
	 * error events of a stream that reconnected, the exit status). */
	if (s->turns == 0 || s->failed)
		return 0;
	if (r->agent_session_id == NULL && !c->resume) {
		r->outcome = AGENT_BAD_OUTPUT;
		r->error = xstrdup("bad output from codex: no "
				   "thread.started event");
	} else
		r->outcome = AGENT_OK;
	return 1;
}

/* The message of a failed turn, from line (the CLI's words) or NULL. */
static char *
failure_error(const struct agent_exit *pr, const struct codex_scan *s,
	      enum agent_outcome outcome, const char *line)
{
	char *st = agent_status_text(pr), *e;
	const char *sep = line != NULL ? ": " : "";

	if (line == NULL)
		line = "";
	if (outcome == AGENT_BAD_OUTPUT)
		e = xasprintf("bad output from codex (%s, %s)%s%s",
			      s->events == 0
				      ? (s->bad_lines > 0 ? "not JSON lines"
							  : "no output")
				      : "no turn.completed event",
			      st, sep, line);
	else
		e = xasprintf("codex failed (%s)%s%s", st, sep, line);
	free(st);
	return e;
}

/*
 * Classify a turn that did not complete by the turn.failed message, the
 * error events and stderr; the error is the CLI's own words.
 */
static void
classify_failure(const struct agent_exit *pr, const struct codex_scan *s,
		 const char *err, size_t errlen, struct agent_result *r)
{
	const struct agent_rule *rule;
	const char *texts[NTEXTS], *where = NULL;
	size_t lens[NTEXTS], which = 0, i;
	char *line = NULL;

	texts[0] = s->fail_msg;
	lens[0] = s->fail_msg != NULL ? strlen(s->fail_msg) : 0;
	texts[1] = s->errors.buf;
	lens[1] = s->errors.len;
	texts[2] = err;
	lens[2] = errlen;
	rule = classify(texts, lens, &where, &which);
	if (rule != NULL)
		r->outcome = rule->outcome;
	else if (s->failed)
		r->outcome = AGENT_FAILED;
	else if (s->events == 0 && s->bad_lines > 0)
		r->outcome = AGENT_BAD_OUTPUT; /* not the CLI's output */
	else if (!pr->exited || pr->exit_code != 0)
		r->outcome = AGENT_FAILED;
	else
		r->outcome = AGENT_BAD_OUTPUT;
	/* The CLI's own words: the matched line, else the turn's error. */
	if (where != NULL)
		line = agent_line_at(texts[which], lens[which], where);
	for (i = 0; line == NULL && i < 2; i++) {
		if (texts[i] != NULL && lens[i] > 0)
			line = agent_line_at(texts[i], lens[i], texts[i]);
	}
	if (line != NULL && r->outcome != AGENT_BAD_OUTPUT) {
		r->error = line;
		return;
	}
	if (line == NULL)
		line = first_error_line(err, errlen);
	r->error = failure_error(pr, s, r->outcome, line);
	free(line);
}

/* Read stdout as JSON Lines events whatever the exit status (SPEC §3.1). */
static void
codex_parse_result(const struct agent_call *c, const struct agent_exit *pr,
		   const char *out_path, const char *err_path,
		   struct agent_result *r)
{
	struct codex_scan s;
	size_t errlen = 0;
	char *err;
	int read_errno = 0;

	memset(&s, 0, sizeof s);
	strbuf_init(&s.errors);
	r->num_turns = -1;
	r->duration_ms = -1;
	err = agent_read_head(err_path, CODEX_ERR_MAX, &errlen);
	if (scan_output(out_path, pr->out_bytes, &s) != 0 && errno != ENOENT)
		read_errno = errno;
	fill_usage(c, &s, r);
	if (!check_output(c, pr, &s, read_errno, r))
		classify_failure(pr, &s, err, errlen, r);
	if (r->outcome != AGENT_OK && r->error == NULL)
		r->error = xstrdup("codex failed");
	scan_release(&s);
	free(err);
}

/* The adapter of kind "codex", found through agent_impl_find(). */
const struct agent_impl agent_codex_impl = {
	.kind = AGENT_KIND_CODEX,
	.answer = AGENT_ANSWER_ALWAYS,
	/* the CLI mints thread ids; thread.started reports them */
	.accepts_session_id = 0,
	/* `exec resume <id>` finds a thread from any directory */
	.session_cwd = 0,
	.build_argv = codex_build_argv,
	.parse_result = codex_parse_result,
};
