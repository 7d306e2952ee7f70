/*
 * Unit tests for agents/agent-codex.c: the argv of a turn, and reading
 * what the Codex CLI printed (JSON Lines events on stdout, stderr, the
 * exit status) into a result: the thread id, usage and cost (the turn's
 * own, from the rollout, when a resumed thread reports running totals),
 * and one check per row of the classification table.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define T_AGENT_KIND AGENT_KIND_CODEX
#include "tests/unit/t-agent.h"

#include "lib/file.h"

/* Thread ids are UUIDv7: 01a1ff3e-399b is 2026-11-21T17:53:50Z. */
#define TID   "01a1ff3e-399b-7383-9146-f1bd0e4ad1fb"
#define TIDUC "01A1FF3E-399B-7383-9146-F1BD0E4AD1FB"

static char *home;

/* The profile and call every parse uses; tests may change them first. */
static struct agent_profile prof;
static struct agent_call call;
static char *prof_env[3];

static void
reset_call(void)
{
	memset(&prof, 0, sizeof prof);
	memset(&call, 0, sizeof call);
	free(prof_env[0]);
	prof_env[0] = xasprintf("CODEX_HOME=%s", home);
	prof_env[1] = NULL;
	prof.name = (char *)"codex";
	prof.kind = AGENT_KIND_CODEX;
	prof.env = prof_env;
	call.profile = &prof;
}

/*
 * Parse a turn that printed out on stdout and err on stderr (NULL: no
 * file at all) and ended with exit status code (or signal sig).
 */
static void
parse_len(const char *out, size_t outlen, const char *err, int code, int sig,
	  struct agent_result *r)
{
	parse_call(&call, out, outlen, err, code, sig, r);
}

static void
parse(const char *out, const char *err, int code, struct agent_result *r)
{
	parse_len(out, out != NULL ? strlen(out) : 0, err, code, 0, r);
}

#define STARTED "{\"type\":\"thread.started\",\"thread_id\":\"" TID "\"}\n"
#define TURN	"{\"type\":\"turn.started\"}\n"
#define WARNING                                                                \
	"{\"type\":\"item.completed\",\"item\":{\"id\":\"item_0\","            \
	"\"type\":\"error\",\"message\":\"Model metadata for `x` not "         \
	"found.\"}}\n"
#define MESSAGE(t)                                                             \
	"{\"type\":\"item.completed\",\"item\":{\"id\":\"item_1\","            \
	"\"type\":\"agent_message\",\"text\":\"" t "\"}}\n"
#define COMPLETED(in, cached, out)                                             \
	"{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":" #in        \
	",\"cached_input_tokens\":" #cached                                    \
	",\"cache_write_input_tokens\":0,\"output_tokens\":" #out              \
	",\"reasoning_output_tokens\":0}}\n"

/* The events of a failed turn with message msg. */
static char *
failed_turn(const char *msg)
{
	return xasprintf(STARTED TURN
			 "{\"type\":\"error\",\"message\":\"%s\"}\n"
			 "{\"type\":\"turn.failed\",\"error\":{"
			 "\"message\":\"%s\"}}\n",
			 msg, msg);
}

/* ---- argv ---- */

static void
test_registered(void **state)
{
	enum agent_kind k = AGENT_KIND_SHELL;

	(void)state;
	assert_int_equal(impl()->kind, AGENT_KIND_CODEX);
	assert_int_equal(impl()->accepts_session_id, 0);
	assert_int_equal(impl()->session_cwd, 0);
	assert_int_equal(impl()->script_prompt, 0);
	/* which adapters leave an answer (run prints it), known before */
	assert_int_equal(impl()->answer, AGENT_ANSWER_ALWAYS);
	assert_int_equal(agent_impl_find(AGENT_KIND_CLAUDE)->answer,
			 AGENT_ANSWER_ALWAYS);
	assert_int_equal(agent_impl_find(AGENT_KIND_COMMAND)->answer,
			 AGENT_ANSWER_MAYBE);
	assert_int_equal(agent_impl_find(AGENT_KIND_SHELL)->answer,
			 AGENT_ANSWER_NONE);
	/* every kind has its adapter, and its name once */
	assert_int_equal(agent_impl_find(AGENT_KIND_CLAUDE)->kind,
			 AGENT_KIND_CLAUDE);
	assert_int_equal(agent_impl_find(AGENT_KIND_COMMAND)->kind,
			 AGENT_KIND_COMMAND);
	assert_null(agent_impl_find(AGENT_KIND_COUNT));
	assert_string_equal(agent_kind_name(AGENT_KIND_CODEX), "codex");
	assert_null(agent_kind_name(AGENT_KIND_COUNT));
	assert_int_equal(agent_kind_parse("claude", &k), 0);
	assert_int_equal(k, AGENT_KIND_CLAUDE);
	assert_int_equal(agent_kind_parse("codexx", &k), -1);
	assert_int_equal(agent_kind_parse("Codex", &k), -1);
	assert_int_equal(agent_kind_parse(NULL, &k), -1);
	assert_int_equal(k, AGENT_KIND_CLAUDE);
}

static void
test_argv_new(void **state)
{
	char *command[] = {(char *)"/opt/codex/bin/codex", NULL};
	char *args[] = {(char *)"--sandbox=workspace-write", (char *)"-c",
			(char *)"model_reasoning_effort=\"low\"", NULL};
	struct strvec v;

	(void)state;
	reset_call();
	prof.command = command;
	prof.model = (char *)"gpt-5.1-codex";
	prof.args = args;
	/* a new conversation: codex mints the id, none is passed */
	argv_of(&call, &v, 0);
	assert_argv(&v, "/opt/codex/bin/codex", "exec", "--json",
		    "--skip-git-repo-check", "--model=gpt-5.1-codex",
		    "--sandbox=workspace-write", "-c",
		    "model_reasoning_effort=\"low\"", "-", NULL);
	strvec_release(&v);
}

static void
test_argv_resume(void **state)
{
	char *args[] = {(char *)"--sandbox=read-only", NULL};
	struct strvec v;

	(void)state;
	reset_call();
	/* no command: the program is "codex"; the call's (pinned) model
	 * wins over the profile's; exec's options come before resume */
	prof.model = (char *)"gpt-5";
	prof.args = args;
	call.model = "o3";
	call.resume = 1;
	call.agent_session_id = HEAD;
	argv_of(&call, &v, 0);
	assert_argv(&v, "codex", "exec", "--json", "--skip-git-repo-check",
		    "--model=o3", "--sandbox=read-only", "resume", HEAD, "-",
		    NULL);
	strvec_release(&v);
}

static void
test_argv_no_model(void **state)
{
	char *command[] = {(char *)"", NULL};
	struct strvec v;

	(void)state;
	reset_call();
	prof.command = command;
	call.model = "";
	argv_of(&call, &v, 0);
	assert_argv(&v, "codex", "exec", "--json", "--skip-git-repo-check", "-",
		    NULL);
	strvec_release(&v);
}

static void
test_argv_refused(void **state)
{
	struct strvec v;

	(void)state;
	reset_call();
	call.resume = 1; /* nothing to resume */
	argv_of(&call, &v, -1);
	strvec_release(&v);
	call.agent_session_id = "--last"; /* never an option */
	argv_of(&call, &v, -1);
	strvec_release(&v);
	call.resume = 0;
	argv_of(&call, &v, -1);
	strvec_release(&v);
}

/* ---- a good turn ---- */

static void
test_parse_ok(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	parse("{\"type\":\"thread.started\",\"thread_id\":\"" TIDUC
	      "\"}\n" WARNING TURN
	      "{\"type\":\"error\",\"message\":\"Reconnecting... 1/5 "
	      "(stream disconnected before completion)\"}\n"
	      "{\"type\":\"item.started\",\"item\":{\"id\":\"i\","
	      "\"type\":\"command_execution\",\"command\":\"ls\"}}\n" MESSAGE(
		      "first")
		      MESSAGE("the answer") "{\"type\":\"some.future.event\","
					    "\"x\":[1,2]}\n" COMPLETED(104, 40,
								       7),
	      "WARNING: proceeding, even though we could not create PATH "
	      "aliases\n",
	      0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_null(r.error);
	assert_string_equal(r.agent_session_id, TID);
	assert_string_equal(r.text, "the answer");
	/* OpenAI counts cached tokens inside input_tokens */
	assert_int_equal(r.input_tokens, 64);
	assert_int_equal(r.cache_read_tokens, 40);
	assert_int_equal(r.cache_creation_tokens, 0);
	assert_int_equal(r.output_tokens, 7);
	assert_int_equal(r.num_turns, 1);
	assert_int_equal(r.duration_ms, -1);
	/* no price: no cost */
	assert_true(r.cost_usd == 0);
	agent_result_release(&r);
}

static void
test_parse_cost(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	prof.price.set = 1;
	prof.price.input = 1.25;
	prof.price.cached_input = 0.125;
	prof.price.output = 10;
	parse(STARTED TURN MESSAGE("x") COMPLETED(1000000, 400000, 20000), "",
	      0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	/* (600k uncached * 1.25 + 400k * 0.125 + 20k * 10) / 1M = 1 */
	assert_true(r.cost_usd > 1 - 1e-9 && r.cost_usd < 1 + 1e-9);
	agent_result_release(&r);

	/* more cached than input (a CLI bug) never goes negative */
	parse(STARTED TURN COMPLETED(10, 50, 1), "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_int_equal(r.input_tokens, 0);
	assert_int_equal(r.cache_read_tokens, 10);
	assert_true(r.cost_usd > 0);
	agent_result_release(&r);
}

static void
test_parse_running_totals(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	/* turn.completed holds running totals: the last one counts */
	parse(STARTED TURN COMPLETED(100, 0, 5) TURN COMPLETED(250, 40, 12), "",
	      0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_int_equal(r.input_tokens, 210);
	assert_int_equal(r.cache_read_tokens, 40);
	assert_int_equal(r.output_tokens, 12);
	assert_int_equal(r.num_turns, 2);
	agent_result_release(&r);
}

static void
test_parse_odd_numbers(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	parse(STARTED
	      "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":-5,"
	      "\"cached_input_tokens\":\"many\",\"output_tokens\":12.0}}\n",
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_int_equal(r.input_tokens, 0);
	assert_int_equal(r.cache_read_tokens, 0);
	assert_int_equal(r.output_tokens, 12);
	agent_result_release(&r);
	parse(STARTED "{\"type\":\"turn.completed\",\"usage\":[1]}\n"
		      "{\"type\":\"turn.completed\"}\n",
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_int_equal(r.input_tokens, 0);
	assert_int_equal(r.num_turns, 2);
	agent_result_release(&r);
	parse(STARTED "{\"type\":\"turn.completed\",\"usage\":{"
		      "\"input_tokens\":1e300,\"output_tokens\":"
		      "1e19}}\n",
	      "", 0, &r);
	/* absurd: saturated at the cap, never wrapped or negative */
	assert_int_equal(r.outcome, AGENT_OK);
	assert_int_equal(r.input_tokens, NUM_COUNT_MAX);
	assert_int_equal(r.output_tokens, NUM_COUNT_MAX);
	agent_result_release(&r);
}

static void
test_parse_nonzero_exit_ok(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	/* the turn completed: that is what counts */
	parse(STARTED TURN MESSAGE("done") COMPLETED(10, 0, 1), "", 3, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_string_equal(r.text, "done");
	agent_result_release(&r);
}

static void
test_parse_no_thread(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	/* a new conversation must say its id */
	parse(TURN MESSAGE("x") COMPLETED(10, 0, 1), "", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "thread.started");
	assert_null(r.agent_session_id);
	assert_int_equal(r.input_tokens, 10);
	agent_result_release(&r);
	/* a resumed one keeps its head */
	call.resume = 1;
	call.agent_session_id = HEAD;
	parse(TURN MESSAGE("x") COMPLETED(10, 0, 1), "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_null(r.agent_session_id);
	agent_result_release(&r);
}

static void
test_parse_fork(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	call.resume = 1;
	call.agent_session_id = HEAD;
	/* resumed under a new id: reported, the orchestrator makes it the
	 * head */
	parse(STARTED TURN COMPLETED(10, 0, 1), "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_string_equal(r.agent_session_id, TID);
	agent_result_release(&r);
}

/* ---- usage of a resumed thread ---- */

/* Write a rollout for TID under root/sessions (local date of TID). */
static char *
write_rollout(const char *root, const char *body)
{
	char day[16], *d, *path;
	time_t t = (time_t)(0x01a1ff3e399bLL / 1000);
	struct tm tm;

	assert_non_null(localtime_r(&t, &tm));
	assert_true(strftime(day, sizeof day, "%Y/%m/%d", &tm) > 0);
	d = xasprintf("%s/sessions/%s", root, day);
	assert_int_equal(file_mkdir_p(d, 0700), 0);
	path = xasprintf("%s/rollout-2026-11-21T17-53-50-" TID ".jsonl", d);
	put(path, body, strlen(body));
	free(d);
	return path;
}

#define RECORD(tin, tc, tout, hin, hc, hout)                                   \
	"{\"timestamp\":\"x\",\"type\":\"token_usage_record\",\"payload\":"    \
	"{\"thread_id\":\"" TID "\",\"turn_token_usage\":{"                    \
	"\"input_tokens\":" #tin ",\"cached_input_tokens\":" #tc               \
	",\"output_tokens\":" #tout "},\"thread_token_usage\":{"               \
	"\"input_tokens\":" #hin ",\"cached_input_tokens\":" #hc               \
	",\"output_tokens\":" #hout "}}}\n"
#define TASK_STARTED                                                           \
	"{\"type\":\"event_msg\",\"payload\":{\"type\":\"task_started\"}}\n"

static void
test_usage_resumed_from_rollout(void **state)
{
	struct agent_result r;
	char *path;

	(void)state;
	reset_call();
	call.resume = 1;
	call.agent_session_id = TID;
	path = write_rollout(
		home, "{\"type\":\"session_meta\"}\n" TASK_STARTED RECORD(
			      104, 40, 7, 104, 40, 7)
			      TASK_STARTED RECORD(106, 40, 7, 210, 80,
						  14) "{\"type\":\"event_msg\","
						      "\"payload\":{\"type\":"
						      "\"task_complete\"}}\n");
	parse(STARTED TURN MESSAGE("x") COMPLETED(210, 80, 14), "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	/* the turn's own usage, not the thread's totals */
	assert_int_equal(r.input_tokens, 66);
	assert_int_equal(r.cache_read_tokens, 40);
	assert_int_equal(r.output_tokens, 7);
	agent_result_release(&r);

	/* the last record is not this run's (the totals differ): the
	 * totals are all there is */
	parse(STARTED TURN COMPLETED(999, 0, 9), "", 0, &r);
	assert_int_equal(r.input_tokens, 999);
	assert_int_equal(r.output_tokens, 9);
	agent_result_release(&r);

	/* a new thread's totals are the run's own: no rollout read */
	call.resume = 0;
	call.agent_session_id = NULL;
	parse(STARTED TURN COMPLETED(210, 80, 14), "", 0, &r);
	assert_int_equal(r.input_tokens, 130);
	agent_result_release(&r);

	/* a broken rollout: the totals */
	call.resume = 1;
	call.agent_session_id = TID;
	put(path, "{\"type\":\"token_usage_record\",", 30);
	parse(STARTED TURN COMPLETED(210, 80, 14), "", 0, &r);
	assert_int_equal(r.input_tokens, 130);
	agent_result_release(&r);
	unlink(path);
	parse(STARTED TURN COMPLETED(210, 80, 14), "", 0, &r);
	assert_int_equal(r.input_tokens, 130);
	agent_result_release(&r);
	free(path);
}

static void
test_usage_rollout_under_home(void **state)
{
	struct agent_result r;
	char *root, *path;

	(void)state;
	reset_call();
	/* no CODEX_HOME: $HOME/.codex, the profile's HOME first */
	root = xasprintf("%s/.codex", dir);
	free(prof_env[0]);
	prof_env[0] = xasprintf("HOME=%s", dir);
	unsetenv("CODEX_HOME");
	call.resume = 1;
	call.agent_session_id = TID;
	path = write_rollout(root, RECORD(50, 0, 2, 150, 0, 6));
	parse(STARTED TURN COMPLETED(150, 0, 6), "", 0, &r);
	assert_int_equal(r.input_tokens, 50);
	assert_int_equal(r.output_tokens, 2);
	agent_result_release(&r);
	/* a thread id that is not a UUIDv7 says no date: the totals */
	parse("{\"type\":\"thread.started\",\"thread_id\":\"" HEAD
	      "\"}\n" TURN COMPLETED(150, 0, 6),
	      "", 0, &r);
	assert_int_equal(r.input_tokens, 150);
	agent_result_release(&r);
	unlink(path);
	free(path);
	free(root);
}

/* ---- classification ---- */

struct row {
	const char *fail; /* turn.failed message, or NULL */
	const char *err;  /* stderr */
	int code;
	enum agent_outcome want;
	const char *error; /* in r.error */
};

/* One row per line of the table in agents/agent-codex.c, in order. */
static const struct row rows[] = {
	{NULL, "Error: No saved session found with ID " HEAD "\n", 1,
	 AGENT_RESUME_FAILED, "No saved session found with ID " HEAD},
	{NULL,
	 "WARNING: proceeding\nError: thread/resume: thread/resume failed: "
	 "no rollout found for thread id " HEAD " (code -32600)\n\nStack "
	 "backtrace:\n   0: <unknown>\n",
	 1, AGENT_RESUME_FAILED,
	 "Error: thread/resume: thread/resume failed: no rollout found for "
	 "thread id " HEAD " (code -32600)"},
	{"Quota exceeded. Check your plan and billing details.", "", 1,
	 AGENT_CONFIG_ERROR, "Quota exceeded."},
	{"exceeded retry limit, last status: 429 Too Many Requests, request "
	 "id: req_1",
	 "", 1, AGENT_TRANSIENT, "last status: 429 Too Many Requests"},
	{"unexpected status 503 Service Unavailable: busy, url: "
	 "http://127.0.0.1:9/v1/responses",
	 "", 1, AGENT_TRANSIENT, "unexpected status 503 Service Unavailable"},
	{"unexpected status 401 Unauthorized: Incorrect API key provided: x.",
	 "", 1, AGENT_CONFIG_ERROR, "unexpected status 401 Unauthorized"},
	{"unexpected status 403 Forbidden: nope", "", 1, AGENT_CONFIG_ERROR,
	 "403 Forbidden"},
	{"Incorrect API key provided: sk-x", "", 1, AGENT_CONFIG_ERROR,
	 "Incorrect API key"},
	{"invalid api key", "", 1, AGENT_CONFIG_ERROR, "invalid api key"},
	{"{\\\"error\\\":{\\\"code\\\":\\\"invalid_api_key\\\"}}", "", 1,
	 AGENT_CONFIG_ERROR, "invalid_api_key"},
	{"Missing environment variable: `OPENAI_API_KEY`.", "", 1,
	 AGENT_CONFIG_ERROR, "Missing environment variable: `OPENAI_API_KEY`"},
	{NULL, "Error: no Codex credentials were found\n", 1,
	 AGENT_CONFIG_ERROR, "no Codex credentials"},
	{NULL,
	 "error: unexpected argument '--no-such-flag' found\n\n  tip: to "
	 "pass '--no-such-flag' as a value, use '-- --no-such-flag'\n",
	 2, AGENT_CONFIG_ERROR,
	 "error: unexpected argument '--no-such-flag' found"},
	{NULL, "error: unrecognized subcommand 'frobnicate'\n", 2,
	 AGENT_CONFIG_ERROR, "unrecognized subcommand"},
	{NULL, "error: invalid value 'all' for '--sandbox <SANDBOX_MODE>'\n", 2,
	 AGENT_CONFIG_ERROR, "error: invalid value 'all'"},
	{NULL,
	 "Not inside a trusted directory and --skip-git-repo-check was not "
	 "specified.\n",
	 1, AGENT_CONFIG_ERROR, "Not inside a trusted directory"},
	{"We’re currently experiencing high demand, which may cause "
	 "temporary errors.",
	 "", 1, AGENT_TRANSIENT, "experiencing high demand"},
	{"The server is overloaded", "", 1, AGENT_TRANSIENT, "overloaded"},
	{"stream disconnected before completion: error sending request", "", 1,
	 AGENT_TRANSIENT, "stream disconnected before completion"},
	{NULL,
	 "Reconnecting... waiting for network (Connection failed: refused)\n",
	 1, AGENT_TRANSIENT, "Connection failed"},
	{"error sending request for url (http://x/v1/responses)", "", 1,
	 AGENT_TRANSIENT, "error sending request for url"},
	/* the first matching row wins: a status before a text */
	{"unexpected status 401 Unauthorized: stream disconnected", "", 1,
	 AGENT_CONFIG_ERROR, "401"},
	{"unexpected status 500 Internal Server Error: Incorrect API key", "",
	 1, AGENT_TRANSIENT, "500"},
	/* a resume failure before anything else */
	{"no rollout found; last status: 429", "", 1, AGENT_RESUME_FAILED,
	 "no rollout found"},
	/* a status needs three digits after "status" */
	{"status 4290 and status: 12", "", 1, AGENT_FAILED, "status 4290"},
	/* no row: the turn failed */
	{"the model refused", "", 1, AGENT_FAILED, "the model refused"},
	{"unexpected status 400 Bad Request: bad", "", 1, AGENT_FAILED,
	 "400 Bad Request"},
};

static void
test_rows(void **state)
{
	struct agent_result r;
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		reset_call();
		call.resume = 1;
		call.agent_session_id = HEAD;
		out = rows[i].fail != NULL ? failed_turn(rows[i].fail) : NULL;
		parse(out, rows[i].err, rows[i].code, &r);
		if (r.outcome != rows[i].want)
			fail_msg("row %zu: outcome %d, want %d (%s)", i,
				 (int)r.outcome, (int)rows[i].want, r.error);
		assert_has(r.error, rows[i].error);
		assert_true(strlen(r.error) <= 400);
		/* a failed turn that started its thread reports it */
		if (out != NULL)
			assert_string_equal(r.agent_session_id, TID);
		else
			assert_null(r.agent_session_id);
		agent_result_release(&r);
		free(out);
	}
}

static void
test_row_in_error_events_only(void **state)
{
	static const char out[] = STARTED TURN
		"{\"type\":\"error\",\"message\":\"Reconnecting... "
		"2/5 (stream disconnected before completion: "
		"idle timeout)\"}\n";
	struct agent_result r;

	(void)state;
	reset_call();
	/* stopped while it reconnected: its error events say why */
	parse_len(out, sizeof out - 1, "", 0, 15, &r);
	assert_int_equal(r.outcome, AGENT_TRANSIENT);
	assert_has(r.error, "Reconnecting... 2/5 (stream disconnected");
	assert_string_equal(r.agent_session_id, TID);
	agent_result_release(&r);
}

static void
test_failed_unclassified(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	/* exit non-zero, no event, no row: failed, with stderr's error
	 * line rather than the CLI's warnings */
	parse("",
	      "WARNING: proceeding, even though we could not\n"
	      "Error: something new went wrong\nmore\n",
	      1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_has(r.error, "exit status 1");
	assert_has(r.error, "Error: something new went wrong");
	agent_result_release(&r);
	parse(NULL, NULL, 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_string_equal(r.error, "codex failed (exit status 1)");
	agent_result_release(&r);
	/* turn.failed without a message */
	parse(STARTED "{\"type\":\"turn.failed\",\"error\":{}}\n", "", 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_string_equal(r.error, "turn failed");
	agent_result_release(&r);
	/* a failure after a completed turn: the last word counts */
	parse(STARTED TURN COMPLETED(
		      1, 0,
		      1) "{\"type\":\"turn.failed\",\"error\":\"gave up\"}\n",
	      "", 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_string_equal(r.error, "gave up");
	assert_int_equal(r.input_tokens, 1);
	agent_result_release(&r);
}

/* ---- output of every shape ---- */

static void
test_bad_garbage(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	parse("<html><body>502 Bad Gateway</body></html>\n",
	      "codex: printed garbage\n", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "bad output from codex (not JSON lines, exit "
			    "status 0): codex: printed garbage");
	agent_result_release(&r);
	/* garbage is garbage whatever the exit status */
	parse("Segmentation fault\n", "", 139, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	agent_result_release(&r);
}

static void
test_bad_truncated(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	/* cut short and failed: the thread it started is kept */
	parse(STARTED TURN "{\"type\":\"item.completed\",\"item\":{\"te",
	      "codex: cut short\n", 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_has(r.error, "exit status 1");
	assert_has(r.error, "codex: cut short");
	assert_string_equal(r.agent_session_id, TID);
	agent_result_release(&r);
	/* cut short and "fine": bad output */
	parse(STARTED TURN "{\"type\":\"item.completed\"", "", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "no turn.completed event");
	agent_result_release(&r);
	/* crashed */
	parse_len(STARTED "{\"type\":", strlen(STARTED) + 8,
		  "codex: about to crash\n", 0, 11, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_has(r.error, "killed by signal 11");
	agent_result_release(&r);
}

static void
test_bad_empty(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	parse("", "", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "no output");
	agent_result_release(&r);
	parse(" \n\r\n\t\n", NULL, 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "no output");
	agent_result_release(&r);
	parse(NULL, NULL, 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	agent_result_release(&r);
}

static void
test_bad_shapes(void **state)
{
	static const char *const shapes[] = {
		"null\n",
		"[]\n",
		"42\n",
		"\"text\"\n",
		"{}\n",
		"{\"type\":5}\n",
		"{\"type\":null}\n",
		"{\"type\":\"turn.completed\"\n",
		"{\"type\":\"thread.started\",\"thread_id\":\"" TID "\"}{}\n",
		"{\"type\":\"item.completed\",\"item\":5}\n"
		"{\"type\":\"item.completed\",\"item\":{\"type\":"
		"\"agent_message\",\"text\":7}}\n"
		"{\"type\":\"turn.failed\",\"error\":[1]}\n"
		"{\"type\":\"error\",\"message\":{}}\n",
		"\xff\xfe{\"type\":\"x\"}\n",
	};
	struct agent_result r;
	size_t i;

	(void)state;
	reset_call();
	for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		parse(shapes[i], "", 0, &r);
		if (r.outcome != AGENT_BAD_OUTPUT && r.outcome != AGENT_FAILED)
			fail_msg("shape %zu: outcome %d", i, (int)r.outcome);
		agent_result_release(&r);
		parse(shapes[i], "", 1, &r);
		assert_true(r.outcome == AGENT_BAD_OUTPUT ||
			    r.outcome == AGENT_FAILED);
		agent_result_release(&r);
	}
}

static void
test_bad_nul_bytes(void **state)
{
	static const char out[] =
		STARTED "{\"type\":\"item.completed\",\"item\""
			":{\"type\":\"agent_message\",\"text\":"
			"\"a\0b\"}}\n" COMPLETED(1, 0, 1);
	struct agent_result r;

	(void)state;
	reset_call();
	/* a raw NUL spoils its line only */
	parse_len(out, sizeof out - 1, "", 0, 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_null(r.text);
	agent_result_release(&r);
	/* an escaped one is refused by the JSON parser: its line too */
	parse(STARTED MESSAGE("a\\u0000b") COMPLETED(1, 0, 1), "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_null(r.text);
	agent_result_release(&r);
}

/* The answer is the last agent message: other items, and messages
 * without text, after it do not replace it. */
static void
test_answer_last_message(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	parse(STARTED MESSAGE("first")
		      MESSAGE("the last") "{\"type\":"
					  "\"item.completed\",\"item\":{"
					  "\"type\":\"reasoning\","
					  "\"text\":\"thinking\"}}\n{\"type\":"
					  "\"item.completed\","
					  "\"item\":{\"type\":\"agent_"
					  "message\"}}\n{\"type\":"
					  "\"item.started\",\"item\":{\"type\":"
					  "\"agent_message\","
					  "\"text\":\"not done\"}}\n" COMPLETED(
						  1, 0, 1),
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_string_equal(r.text, "the last");
	agent_result_release(&r);
	/* a turn with no message has no answer */
	parse(STARTED COMPLETED(1, 0, 1), "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_null(r.text);
	agent_result_release(&r);
}

static void
test_bad_deep_nesting(void **state)
{
	struct strbuf sb;
	struct agent_result r;
	size_t i;

	(void)state;
	reset_call();
	strbuf_init(&sb);
	strbuf_adds(&sb, STARTED "{\"type\":\"x\",\"a\":");
	for (i = 0; i < 100000; i++)
		strbuf_adds(&sb, "[");
	strbuf_adds(&sb, "\n" COMPLETED(1, 0, 1));
	parse_len(sb.buf, sb.len, "", 0, 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	agent_result_release(&r);
	strbuf_release(&sb);
}

static void
test_bad_thread_id(void **state)
{
	struct agent_result r;

	(void)state;
	reset_call();
	parse("{\"type\":\"thread.started\",\"thread_id\":\"not-a-uuid\"}"
	      "\n" TURN MESSAGE("x") COMPLETED(10, 0, 1),
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "'not-a-uuid' is not a UUID");
	assert_null(r.agent_session_id);
	/* the tokens were spent all the same */
	assert_int_equal(r.input_tokens, 10);
	agent_result_release(&r);
	parse("{\"type\":\"thread.started\",\"thread_id\":7}\n" TURN COMPLETED(
		      1, 0, 1),
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "not a string");
	agent_result_release(&r);
	parse("{\"type\":\"thread.started\",\"thread_id\":\"" TID
	      "x\"}\n" TURN COMPLETED(1, 0, 1),
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_null(r.agent_session_id);
	agent_result_release(&r);
	/* a bad id among good ones still spoils the run */
	parse(STARTED "{\"type\":\"thread.started\",\"thread_id\":\"\"}\n" TURN
		      COMPLETED(1, 0, 1),
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_null(r.agent_session_id);
	agent_result_release(&r);
}

static void
test_huge_reported(void **state)
{
	struct agent_result r;
	struct agent_exit pr = {0};

	(void)state;
	reset_call();
	/* stdout said to be bigger than the cap: refused, the id kept */
	put(out_path, STARTED, strlen(STARTED));
	put(err_path, "", 0);
	pr.exited = 1;
	pr.out_bytes = (uint64_t)1 << 40;
	memset(&r, 0, sizeof r);
	impl()->parse_result(&call, &pr, out_path, err_path, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "output too large");
	assert_string_equal(r.agent_session_id, TID);
	agent_result_release(&r);
}

static void
test_huge_file(void **state)
{
	size_t n = (size_t)70 << 20, i;
	char *big = xmalloc(n);
	struct agent_result r;

	(void)state;
	reset_call();
	/* 70 MB of junk in lines and one endless line: read up to the
	 * cap, in bounded memory, and refused */
	memcpy(big, STARTED, strlen(STARTED));
	for (i = strlen(STARTED); i < n; i++)
		big[i] = i < n / 2 ? (i % 100 == 0 ? '\n' : 'x') : 'y';
	parse_len(big, n, "", 0, 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "output too large");
	assert_string_equal(r.agent_session_id, TID);
	agent_result_release(&r);
	free(big);
}

static void
test_long_lines(void **state)
{
	size_t n = (size_t)8 << 20;
	struct strbuf sb;
	struct agent_result r;
	char *filler = xmalloc(n + 1);

	(void)state;
	reset_call();
	memset(filler, 'a', n);
	filler[n] = '\0';
	/* an 8 MiB answer is fine; a 20 MiB line is skipped */
	strbuf_init(&sb);
	strbuf_addf(&sb, STARTED MESSAGE("%s") "{\"type\":\"x\",\"y\":\"",
		    filler);
	strbuf_adds(&sb, filler);
	strbuf_adds(&sb, filler);
	strbuf_adds(&sb, filler);
	strbuf_adds(&sb, "\"}\n" COMPLETED(1, 0, 1));
	parse_len(sb.buf, sb.len, "", 0, 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_int_equal(strlen(r.text), n);
	assert_int_equal(r.num_turns, 1);
	agent_result_release(&r);
	strbuf_release(&sb);
	free(filler);
}

static void
test_huge_error_text(void **state)
{
	size_t n = (size_t)4 << 20;
	char *filler = xmalloc(n + 1), *out;
	struct agent_result r;

	(void)state;
	reset_call();
	/* a 4 MiB error: classified quickly, reported briefly */
	memset(filler, 'z', n);
	filler[n] = '\0';
	out = failed_turn(filler);
	parse(out, "", 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_true(strlen(r.error) <= 400);
	agent_result_release(&r);
	free(out);
	free(filler);
}

static void
test_huge_stderr(void **state)
{
	char *e = noisy_stderr("error: unexpected argument '--late'");
	struct agent_result r;

	(void)state;
	reset_call();
	/* a 1 MiB line of noise on stderr: the message stays short */
	parse("", e, 2, &r);
	/* the row is past what is searched: failed, short text */
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_true(strlen(r.error) < 1024);
	agent_result_release(&r);
	free(e);
}

static int
setup(void **state)
{
	(void)state;
	if (agent_files_setup() != 0)
		return -1;
	home = xasprintf("%s/codex-home", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(home);
	free(prof_env[0]);
	/* the rollout directories the tests made, too */
	return agent_files_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_answer_last_message),
		cmocka_unit_test(test_argv_new),
		cmocka_unit_test(test_argv_resume),
		cmocka_unit_test(test_argv_no_model),
		cmocka_unit_test(test_argv_refused),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_cost),
		cmocka_unit_test(test_parse_running_totals),
		cmocka_unit_test(test_parse_odd_numbers),
		cmocka_unit_test(test_parse_nonzero_exit_ok),
		cmocka_unit_test(test_parse_no_thread),
		cmocka_unit_test(test_parse_fork),
		cmocka_unit_test(test_usage_resumed_from_rollout),
		cmocka_unit_test(test_usage_rollout_under_home),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_row_in_error_events_only),
		cmocka_unit_test(test_failed_unclassified),
		cmocka_unit_test(test_bad_garbage),
		cmocka_unit_test(test_bad_truncated),
		cmocka_unit_test(test_bad_empty),
		cmocka_unit_test(test_bad_shapes),
		cmocka_unit_test(test_bad_nul_bytes),
		cmocka_unit_test(test_bad_deep_nesting),
		cmocka_unit_test(test_bad_thread_id),
		cmocka_unit_test(test_huge_reported),
		cmocka_unit_test(test_huge_file),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_huge_error_text),
		cmocka_unit_test(test_huge_stderr),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
