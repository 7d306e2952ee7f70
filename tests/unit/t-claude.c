/*
 * Unit tests for agents/agent-claude.c: the argv of a turn, and reading
 * what the Claude Code CLI printed (stdout, stderr, exit status) into a
 * result, with one test per row of the classification table.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define T_AGENT_KIND AGENT_KIND_CLAUDE
#include "tests/unit/t-agent.h"

#define SID "0b6f2c1e-5a4d-4e8f-9c3b-2a1d0e9f8c7b"

/*
 * Parse a turn that printed out on stdout and err on stderr (NULL: no
 * file at all) and ended with exit status code (or signal sig).
 */
static void
parse_len(const char *out, size_t outlen, const char *err, int code, int sig,
	  struct agent_result *r)
{
	struct agent_profile p = {0};
	struct agent_call c = {0};

	p.name = (char *)"claude";
	p.kind = AGENT_KIND_CLAUDE;
	c.profile = &p;
	c.agent_session_id = SID;
	parse_call(&c, out, outlen, err, code, sig, r);
}

static void
parse(const char *out, const char *err, int code, struct agent_result *r)
{
	parse_len(out, out != NULL ? strlen(out) : 0, err, code, 0, r);
}

/* A result object as the CLI prints it, with is_error and the rest. */
static char *
result_json(int is_error, const char *api_status, const char *text)
{
	return xasprintf(
		"{\"type\":\"result\",\"subtype\":\"success\","
		"\"is_error\":%s,\"api_error_status\":%s,\"duration_ms\":"
		"117,\"num_turns\":1,\"result\":\"%s\",\"session_id\":\"" SID
		"\",\"total_cost_usd\":0,\"usage\":{\"input_tokens\":0,"
		"\"output_tokens\":0}}\n",
		is_error ? "true" : "false", api_status, text);
}

/* ---- argv ---- */

static void
test_registered(void **state)
{
	(void)state;
	assert_int_equal(impl()->kind, AGENT_KIND_CLAUDE);
	assert_int_equal(impl()->accepts_session_id, 1);
	assert_int_equal(impl()->session_cwd, 1);
	/* stdout is JSON: run prints the result text instead */
	assert_int_equal(impl()->answer, AGENT_ANSWER_ALWAYS);
}

static void
test_argv_first_run(void **state)
{
	char *command[] = {(char *)"/opt/claude/bin/claude", NULL};
	char *args[] = {(char *)"--permission-mode=acceptEdits",
			(char *)"--add-dir=/x y", NULL};
	struct agent_profile p = {0};
	struct agent_call c = {0};
	struct strvec v;

	(void)state;
	p.name = (char *)"claude";
	p.command = command;
	p.model = (char *)"sonnet";
	p.args = args;
	c.profile = &p;
	c.agent_session_id = SID;
	argv_of(&c, &v, 0);
	assert_argv(&v, "/opt/claude/bin/claude", "-p", "--output-format=json",
		    "--session-id=" SID, "--model=sonnet",
		    "--permission-mode=acceptEdits", "--add-dir=/x y", NULL);
	strvec_release(&v);
}

static void
test_argv_resume(void **state)
{
	struct agent_profile p = {0};
	struct agent_call c = {0};
	struct strvec v;

	(void)state;
	/* no command: the program is "claude"; the call's (pinned) model
	 * wins over the profile's */
	p.model = (char *)"sonnet";
	c.profile = &p;
	c.model = "opus";
	c.resume = 1;
	c.agent_session_id = HEAD;
	argv_of(&c, &v, 0);
	assert_argv(&v, "claude", "-p", "--output-format=json",
		    "--resume=" HEAD, "--model=opus", NULL);
	strvec_release(&v);
}

static void
test_argv_no_model(void **state)
{
	char *command[] = {(char *)"", NULL};
	struct agent_profile p = {0};
	struct agent_call c = {0};
	struct strvec v;

	(void)state;
	p.command = command;
	c.profile = &p;
	c.model = "";
	c.agent_session_id = SID;
	argv_of(&c, &v, 0);
	assert_argv(&v, "claude", "-p", "--output-format=json",
		    "--session-id=" SID, NULL);
	strvec_release(&v);
}

static void
test_argv_refused(void **state)
{
	struct agent_profile p = {0};
	struct agent_call c = {0};
	struct strvec v;

	(void)state;
	c.profile = &p;
	/* an id that is not a UUID never reaches the CLI as a flag */
	c.agent_session_id = "--dangerous";
	argv_of(&c, &v, -1);
	strvec_release(&v);
	/* resume needs a head */
	c.agent_session_id = NULL;
	c.resume = 1;
	argv_of(&c, &v, -1);
	strvec_release(&v);
}

/* ---- every field ---- */

static void
test_parse_fields(void **state)
{
	struct agent_result r;

	(void)state;
	parse("{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,"
	      "\"api_error_status\":null,\"duration_ms\":2345,"
	      "\"num_turns\":3,\"result\":\"done \\u00e9\\n\","
	      "\"session_id\":\"0B6F2C1E-5A4D-4E8F-9C3B-2A1D0E9F8C7B\","
	      "\"total_cost_usd\":0.0419,\"usage\":{\"input_tokens\":1200,"
	      "\"cache_creation_input_tokens\":30,"
	      "\"cache_read_input_tokens\":400,\"output_tokens\":56,"
	      "\"server_tool_use\":{}},\"modelUsage\":{},\"unknown\":[1]}\n",
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_null(r.error);
	assert_string_equal(r.agent_session_id, SID); /* lower-cased */
	assert_string_equal(r.text, "done \xc3\xa9\n");
	assert_int_equal(r.input_tokens, 1200);
	assert_int_equal(r.output_tokens, 56);
	assert_int_equal(r.cache_read_tokens, 400);
	assert_int_equal(r.cache_creation_tokens, 30);
	assert_true(r.cost_usd > 0.04189 && r.cost_usd < 0.04191);
	assert_int_equal(r.num_turns, 3);
	assert_int_equal(r.duration_ms, 2345);
	agent_result_release(&r);
}

static void
test_parse_model_usage(void **state)
{
	struct agent_result r;

	(void)state;
	/* usage all zero (the CLI's non-streaming fallback): the totals of
	 * modelUsage, saturating, ignoring what is not a model object */
	parse("{\"type\":\"result\",\"is_error\":false,\"session_id\":\"" SID
	      "\",\"usage\":{\"input_tokens\":0,\"output_tokens\":0},"
	      "\"modelUsage\":{\"a\":{\"inputTokens\":102,\"outputTokens\":7,"
	      "\"cacheReadInputTokens\":3,\"cacheCreationInputTokens\":2},"
	      "\"b\":{\"inputTokens\":8e18,\"outputTokens\":1},"
	      "\"c\":{\"inputTokens\":8e18},\"d\":[1],\"e\":7}}",
	      NULL, 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	/* saturating at the cap of every count (lib/num.h) */
	assert_int_equal(r.input_tokens, NUM_COUNT_MAX);
	assert_int_equal(r.output_tokens, 8);
	assert_int_equal(r.cache_read_tokens, 3);
	assert_int_equal(r.cache_creation_tokens, 2);
	agent_result_release(&r);
	/* usage that counts something wins over modelUsage */
	parse("{\"type\":\"result\",\"is_error\":false,\"session_id\":\"" SID
	      "\",\"usage\":{\"input_tokens\":5,\"output_tokens\":0},"
	      "\"modelUsage\":{\"a\":{\"inputTokens\":102}}}",
	      NULL, 0, &r);
	assert_int_equal(r.input_tokens, 5);
	agent_result_release(&r);
	/* modelUsage not an object */
	parse("{\"type\":\"result\",\"is_error\":false,\"session_id\":\"" SID
	      "\",\"modelUsage\":[{\"inputTokens\":102}]}",
	      NULL, 0, &r);
	assert_int_equal(r.input_tokens, 0);
	agent_result_release(&r);
}

static void
test_parse_odd_numbers(void **state)
{
	struct agent_result r;

	(void)state;
	/* negative, fractional, absurd and mistyped numbers: no harm */
	parse("{\"type\":\"result\",\"is_error\":false,\"session_id\":\"" SID
	      "\",\"duration_ms\":-5,\"num_turns\":\"3\","
	      "\"total_cost_usd\":-1,\"usage\":{\"input_tokens\":-7,"
	      "\"output_tokens\":12.9,\"cache_read_input_tokens\":1e300,"
	      "\"cache_creation_input_tokens\":null}}",
	      NULL, 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_int_equal(r.input_tokens, 0);
	assert_int_equal(r.output_tokens, 12);
	/* absurd: saturated at the cap, never wrapped or negative */
	assert_int_equal(r.cache_read_tokens, NUM_COUNT_MAX);
	assert_int_equal(r.cache_creation_tokens, 0);
	assert_true(r.cost_usd == 0);
	assert_int_equal(r.num_turns, -1);
	assert_int_equal(r.duration_ms, -1);
	agent_result_release(&r);
}

static void
test_parse_nonzero_exit_ok(void **state)
{
	struct agent_result r;
	char *j = result_json(0, "null", "fine");

	(void)state;
	/* is_error:false decides, whatever the exit status */
	parse(j, "some warning\n", 1, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_string_equal(r.text, "fine");
	agent_result_release(&r);
	free(j);
}

static void
test_parse_success_text_not_classified(void **state)
{
	struct agent_result r;
	char *j = result_json(0, "null",
			      "the port is already in use; Not logged in");

	(void)state;
	/* a successful answer that quotes error texts is still a success */
	parse(j, "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	agent_result_release(&r);
	free(j);
}

static void
test_parse_no_is_error(void **state)
{
	struct agent_result r;

	(void)state;
	parse("{\"type\":\"result\",\"subtype\":\"success\",\"session_id\":"
	      "\"" SID "\"}",
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	agent_result_release(&r);
	parse("{\"type\":\"result\",\"subtype\":\"error_max_turns\","
	      "\"session_id\":\"" SID "\"}",
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_has(r.error, "error_max_turns");
	agent_result_release(&r);
	parse("{\"type\":\"result\",\"subtype\":\"success\"}", "", 2, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_has(r.error, "exit status 2");
	agent_result_release(&r);
}

static void
test_parse_failed_unclassified(void **state)
{
	struct agent_result r;
	char *j = result_json(1, "400", "API Error: 400 bad request");

	(void)state;
	parse(j, "", 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_string_equal(r.error, "API Error: 400 bad request");
	assert_string_equal(r.agent_session_id, SID);
	agent_result_release(&r);
	free(j);
	/* just outside the transient ranges */
	j = result_json(1, "499", "x");
	parse(j, "", 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	agent_result_release(&r);
	free(j);
	j = result_json(1, "600", "x");
	parse(j, "", 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	agent_result_release(&r);
	free(j);
	/* an error subtype with the reasons in "errors" */
	parse("{\"type\":\"result\",\"subtype\":\"error_during_execution\","
	      "\"is_error\":true,\"session_id\":\"" SID "\",\"errors\":"
	      "[\"tool crashed\"]}",
	      "", 1, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_string_equal(r.error, "tool crashed");
	agent_result_release(&r);
}

/* ---- the classification table, one test per row ---- */

struct row {
	const char *out; /* stdout, or NULL for none */
	const char *err; /* stderr */
	int code;
	enum agent_outcome want;
	const char *error; /* the CLI's own words expected in r.error */
};

static void
check_row(const struct row *w)
{
	struct agent_result r;

	parse(w->out, w->err, w->code, &r);
	assert_int_equal(r.outcome, w->want);
	assert_has(r.error, w->error);
	agent_result_release(&r);
}

static void
test_row_429(void **state)
{
	char *j = result_json(1, "429",
			      "API Error: Request rejected (429) "
			      "\xc2\xb7 rate limited");
	struct row w = {j, "", 1, AGENT_TRANSIENT, "Request rejected (429)"};

	(void)state;
	check_row(&w);
	free(j);
}

static void
test_row_529(void **state)
{
	char *j = result_json(1, "529", "API Error: 529 Overloaded.");
	struct row w = {j, "", 1, AGENT_TRANSIENT, "529 Overloaded"};

	(void)state;
	check_row(&w);
	free(j);
}

static void
test_row_5xx(void **state)
{
	static const char *const codes[] = {"500", "503", "599"};
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		char *text = xasprintf("API Error: %s server error", codes[i]);
		char *j = result_json(1, codes[i], text);
		struct row w = {j, "", 1, AGENT_TRANSIENT, text};

		check_row(&w);
		free(j);
		free(text);
	}
}

static void
test_row_no_conversation(void **state)
{
	/* what the CLI prints for --resume of an unknown or deleted id */
	struct row w = {"", "No conversation found with session ID: " HEAD "\n",
			1, AGENT_RESUME_FAILED,
			"No conversation found with session ID: " HEAD};

	(void)state;
	check_row(&w);
	/* no stdout file at all, and the message after other lines */
	w.out = NULL;
	w.err = "(node:1) Warning: something\n"
		"No conversation found with session ID: " HEAD "\n";
	check_row(&w);
}

static void
test_row_in_use(void **state)
{
	struct row w = {"", "Error: Session ID " SID " is already in use.\n", 1,
			AGENT_RESUME_FAILED,
			"Error: Session ID " SID " is already in use."};

	(void)state;
	check_row(&w);
}

static void
test_row_not_logged_in(void **state)
{
	char *j = result_json(1, "null",
			      "Not logged in \xc2\xb7 Please run /login");
	struct row w = {j, "", 1, AGENT_CONFIG_ERROR,
			"Not logged in \xc2\xb7 Please run /login"};
	struct agent_result r;

	(void)state;
	check_row(&w);
	/* the reported id is kept: the CLI wrote a transcript */
	parse(j, "", 1, &r);
	assert_string_equal(r.agent_session_id, SID);
	agent_result_release(&r);
	free(j);
}

static void
test_row_invalid_key(void **state)
{
	char *j = result_json(1, "401",
			      "Invalid API key \xc2\xb7 Fix external API key");
	struct row w = {j, "", 1, AGENT_CONFIG_ERROR, "Invalid API key"};

	(void)state;
	check_row(&w);
	free(j);
}

static void
test_row_unknown_option(void **state)
{
	struct row w = {"", "error: unknown option '--bogus'\n", 1,
			AGENT_CONFIG_ERROR, "error: unknown option '--bogus'"};

	(void)state;
	check_row(&w);
}

static void
test_row_401(void **state)
{
	char *j = result_json(1, "401",
			      "Failed to authenticate. API Error: "
			      "401 revoked");
	struct row w = {j, "", 1, AGENT_CONFIG_ERROR, "Failed to authenticate"};

	(void)state;
	check_row(&w);
	free(j);
}

static void
test_row_unable_to_connect(void **state)
{
	char *j = result_json(1, "null",
			      "API Error: Unable to connect to API "
			      "(ConnectionRefused)");
	struct row w = {j, "", 1, AGENT_TRANSIENT, "ConnectionRefused"};

	(void)state;
	check_row(&w);
	free(j);
}

static void
test_row_timed_out(void **state)
{
	char *j = result_json(1, "null", "API Error: Request timed out.");
	struct row w = {j, "", 1, AGENT_TRANSIENT, "Request timed out"};

	(void)state;
	check_row(&w);
	free(j);
}

static void
test_row_connection_error(void **state)
{
	char *j = result_json(1, "null", "API Error: Connection error.");
	struct row w = {j, "", 1, AGENT_TRANSIENT, "Connection error"};

	(void)state;
	check_row(&w);
	free(j);
}

static void
test_rows_in_errors_list(void **state)
{
	struct row w = {"{\"type\":\"result\",\"subtype\":"
			"\"error_during_execution\",\"is_error\":true,"
			"\"errors\":[\"x\",\"No conversation found with "
			"session ID: " HEAD "\"]}",
			"", 1, AGENT_RESUME_FAILED, "No conversation found"};

	(void)state;
	check_row(&w);
}

static void
test_rows_status_before_text(void **state)
{
	/* a 529 whose text also says "Not logged in" is still transient */
	char *j = result_json(1, "529", "Not logged in? overloaded");
	struct row w = {j, "", 1, AGENT_TRANSIENT, "overloaded"};

	(void)state;
	check_row(&w);
	free(j);
}

/* ---- output of any size or shape ---- */

static void
test_bad_garbage(void **state)
{
	struct row w = {"this is not json at all\n",
			"\nfatal: something broke\nmore\n", 0, AGENT_BAD_OUTPUT,
			"fatal: something broke"};

	(void)state;
	check_row(&w);
	w.error = "not JSON";
	check_row(&w);
	w.error = "exit status 0";
	check_row(&w);
}

static void
test_bad_truncated(void **state)
{
	struct agent_result r;
	const char *half = "{\"type\":\"result\",\"subtype\":\"success\","
			   "\"is_error\":false,\"result\":\"hal";

	(void)state;
	parse_len(half, strlen(half), "", 0, 9, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "killed by signal 9");
	assert_null(r.agent_session_id);
	agent_result_release(&r);
}

static void
test_bad_empty(void **state)
{
	struct row w = {"", "", 0, AGENT_BAD_OUTPUT, "no output"};

	(void)state;
	check_row(&w);
	w.out = " \n\r\n\t";
	check_row(&w);
	w.out = NULL; /* no file */
	w.err = NULL;
	check_row(&w);
	/* a stderr line no row knows: in the message */
	w.out = "";
	w.err = "Segmentation fault\n";
	w.code = 139;
	w.error = "Segmentation fault";
	check_row(&w);
}

static void
test_bad_shapes(void **state)
{
	static const char *const outs[] = {
		"[]",
		"[1,2,3]",
		"{\"type\":\"system\",\"subtype\":\"init\"}",
		"\"result\"",
		"42",
		"null",
		"{\"a\":1}",
		"{\"a\":1}{\"b\":2}",
		"{\"type\":\"result\",\"type\":\"result\"}",
		"{\"type\":\"result\",\"result\":\"a\\u0000b\"}",
		"\x89PNG\r\n\x1a\n",
	};
	struct agent_result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof outs / sizeof outs[0]; i++) {
		parse(outs[i], "", 0, &r);
		if (r.outcome != AGENT_BAD_OUTPUT)
			fail_msg("output %zu (%s) was not bad output", i,
				 outs[i]);
		agent_result_release(&r);
	}
}

static void
test_bad_nul_bytes(void **state)
{
	static const char out[] = "{\"type\":\"result\",\"is_error\":false}"
				  "\0garbage";
	struct agent_result r;

	(void)state;
	parse_len(out, sizeof out - 1, "", 0, 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	agent_result_release(&r);
}

static void
test_bad_deep_nesting(void **state)
{
	size_t n = 200000, i;
	char *s = xmalloc(2 * n + 1);
	struct agent_result r;

	(void)state;
	for (i = 0; i < n; i++) {
		s[i] = '[';
		s[n + i] = ']';
	}
	s[2 * n] = '\0';
	parse(s, "", 0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	agent_result_release(&r);
	free(s);
}

static void
test_bad_session_id(void **state)
{
	static const char *const ids[] = {
		"\"not-a-uuid\"",
		"\"\"",
		"42",
		"{}",
		"\"0b6f2c1e-5a4d-4e8f-9c3b-2a1d0e9f8c7\"",
		"\"0b6f2c1e-5a4d-4e8f-9c3b-2a1d0e9f8c7bx\"",
		"\"../../etc/passwd\"",
	};
	struct agent_result r;
	size_t i;
	char *j;

	(void)state;
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		j = xasprintf("{\"type\":\"result\",\"is_error\":false,"
			      "\"session_id\":%s,\"usage\":{\"input_tokens\":"
			      "5,\"output_tokens\":6},\"total_cost_usd\":0.5}",
			      ids[i]);
		parse(j, "", 0, &r);
		if (r.outcome != AGENT_BAD_OUTPUT)
			fail_msg("session id %s was accepted", ids[i]);
		assert_has(r.error, "not a UUID");
		assert_null(r.agent_session_id);
		/* the tokens were spent all the same */
		assert_int_equal(r.input_tokens, 5);
		assert_int_equal(r.output_tokens, 6);
		assert_true(r.cost_usd == 0.5);
		agent_result_release(&r);
		free(j);
	}
	/* null or absent: nothing reported, not an error */
	parse("{\"type\":\"result\",\"is_error\":false,\"session_id\":null}",
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_null(r.agent_session_id);
	agent_result_release(&r);
}

static void
test_array_of_events(void **state)
{
	struct agent_result r;

	(void)state;
	/* older CLIs, or --verbose: the last "result" element counts */
	parse("[{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":"
	      "\"" HEAD "\"},{\"type\":\"result\",\"is_error\":true},"
	      "{\"type\":\"assistant\"},{\"type\":\"result\",\"subtype\":"
	      "\"success\",\"is_error\":false,\"result\":\"ok\",\"session_id\":"
	      "\"" SID "\",\"usage\":{\"input_tokens\":9,\"output_tokens\":"
	      "8}},{\"type\":\"other\"}]",
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_string_equal(r.agent_session_id, SID);
	assert_string_equal(r.text, "ok");
	assert_int_equal(r.input_tokens, 9);
	assert_int_equal(r.output_tokens, 8);
	agent_result_release(&r);
}

static void
test_json_lines(void **state)
{
	struct agent_result r;

	(void)state;
	/* stream-json: one event a line, the result last */
	parse("{\"type\":\"system\",\"subtype\":\"init\"}\n"
	      "{\"type\":\"assistant\",\"message\":{}}\n"
	      "{\"type\":\"result\",\"is_error\":false,\"result\":\"lines\","
	      "\"session_id\":\"" SID "\"}\n\n",
	      "", 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_string_equal(r.text, "lines");
	agent_result_release(&r);
	/* lines without a result are bad output */
	parse("{\"type\":\"system\"}\n{\"type\":\"assistant\"}\n{broken\n", "",
	      0, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	agent_result_release(&r);
}

static void
test_huge_reported(void **state)
{
	struct agent_profile p = {0};
	struct agent_call c = {0};
	struct agent_exit pr = {0};
	struct agent_result r = {0};
	char *j = result_json(0, "null", "small");

	(void)state;
	/* the size proc_run counted is checked before anything is read */
	put(out_path, j, strlen(j));
	put(err_path, "", 0);
	c.profile = &p;
	pr.exited = 1;
	pr.out_bytes = ((uint64_t)64 << 20) + 1;
	impl()->parse_result(&c, &pr, out_path, err_path, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "too large");
	agent_result_release(&r);
	free(j);
}

static void
test_huge_file(void **state)
{
	size_t n = ((size_t)64 << 20) + 4096, i;
	char *s = xmalloc(n);
	struct agent_profile p = {0};
	struct agent_call c = {0};
	struct agent_exit pr = {0};
	struct agent_result r = {0};

	(void)state;
	/* a file bigger than the cap, even if the count says otherwise */
	for (i = 0; i < n; i++)
		s[i] = (char)('a' + i % 26);
	put(out_path, s, n);
	free(s);
	put(err_path, "", 0);
	c.profile = &p;
	pr.exited = 1;
	impl()->parse_result(&c, &pr, out_path, err_path, &r);
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_has(r.error, "too large");
	agent_result_release(&r);
	unlink(out_path);
}

static void
test_big_result_ok(void **state)
{
	size_t n = (size_t)8 << 20, i;
	struct strbuf sb;
	struct agent_result r;

	(void)state;
	/* an 8 MiB answer is fine */
	strbuf_init(&sb);
	strbuf_adds(&sb, "{\"type\":\"result\",\"is_error\":false,"
			 "\"session_id\":\"" SID "\",\"result\":\"");
	for (i = 0; i < n / 64; i++)
		strbuf_adds(&sb, "0123456789abcdef0123456789abcdef0123456789abc"
				 "def0123456789abcdef");
	strbuf_adds(&sb, "\"}");
	parse_len(sb.buf, sb.len, "", 0, 0, &r);
	assert_int_equal(r.outcome, AGENT_OK);
	assert_int_equal(strlen(r.text), n / 64 * 64);
	agent_result_release(&r);
	strbuf_release(&sb);
}

static void
test_huge_error_text(void **state)
{
	size_t n = (size_t)16 << 20;
	struct strbuf sb;
	struct agent_result r;
	char *filler = xmalloc(n + 1);

	(void)state;
	/* a 16 MiB error text: classified quickly, reported briefly */
	memset(filler, 'z', n);
	filler[n] = '\0';
	strbuf_init(&sb);
	strbuf_addf(&sb,
		    "{\"type\":\"result\",\"is_error\":true,"
		    "\"session_id\":\"" SID "\",\"result\":\"%s\"}",
		    filler);
	free(filler);
	parse_len(sb.buf, sb.len, "", 1, 0, &r);
	assert_int_equal(r.outcome, AGENT_FAILED);
	assert_true(strlen(r.error) <= 400);
	agent_result_release(&r);
	strbuf_release(&sb);
}

static void
test_huge_stderr(void **state)
{
	char *e = noisy_stderr("unknown option '--late'");
	struct agent_result r;

	(void)state;
	/* a 1 MiB line of noise on stderr: the message stays short */
	parse("", e, 1, &r);
	/* the row is past what is searched, so: bad output, short text */
	assert_int_equal(r.outcome, AGENT_BAD_OUTPUT);
	assert_true(strlen(r.error) < 1024);
	agent_result_release(&r);
	free(e);
}

static int
setup(void **state)
{
	(void)state;
	return agent_files_setup();
}

static int
teardown(void **state)
{
	(void)state;
	return agent_files_teardown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_argv_first_run),
		cmocka_unit_test(test_argv_resume),
		cmocka_unit_test(test_argv_no_model),
		cmocka_unit_test(test_argv_refused),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_model_usage),
		cmocka_unit_test(test_parse_odd_numbers),
		cmocka_unit_test(test_parse_nonzero_exit_ok),
		cmocka_unit_test(test_parse_success_text_not_classified),
		cmocka_unit_test(test_parse_no_is_error),
		cmocka_unit_test(test_parse_failed_unclassified),
		cmocka_unit_test(test_row_429),
		cmocka_unit_test(test_row_529),
		cmocka_unit_test(test_row_5xx),
		cmocka_unit_test(test_row_no_conversation),
		cmocka_unit_test(test_row_in_use),
		cmocka_unit_test(test_row_not_logged_in),
		cmocka_unit_test(test_row_invalid_key),
		cmocka_unit_test(test_row_unknown_option),
		cmocka_unit_test(test_row_401),
		cmocka_unit_test(test_row_unable_to_connect),
		cmocka_unit_test(test_row_timed_out),
		cmocka_unit_test(test_row_connection_error),
		cmocka_unit_test(test_rows_in_errors_list),
		cmocka_unit_test(test_rows_status_before_text),
		cmocka_unit_test(test_bad_garbage),
		cmocka_unit_test(test_bad_truncated),
		cmocka_unit_test(test_bad_empty),
		cmocka_unit_test(test_bad_shapes),
		cmocka_unit_test(test_bad_nul_bytes),
		cmocka_unit_test(test_bad_deep_nesting),
		cmocka_unit_test(test_bad_session_id),
		cmocka_unit_test(test_array_of_events),
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_huge_reported),
		cmocka_unit_test(test_huge_file),
		cmocka_unit_test(test_big_result_ok),
		cmocka_unit_test(test_huge_error_text),
		cmocka_unit_test(test_huge_stderr),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
