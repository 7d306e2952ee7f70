/*
 * Unit tests for core/taskfile.c: each format with every key, every
 * error message with its FILE:LINE, CSV quoting, sniffing, stdin, and
 * hostile input (garbage, alias bombs, deep nesting, huge files).
 *
 * Each test runs in a fresh temporary directory, so that files have
 * short relative names and the messages can be compared exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/taskfile.h"
#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

#define TEST_NAME "t-taskfile"
#include "tests/unit/test.h"

/* The loaded specs of one file. */
struct loaded {
	struct task_spec *v;
	size_t n;
};

struct fixture {
	char *dir;
	char *oldcwd;
};

/* Each test runs in a fresh directory: file names in it are relative. */
static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	f->dir = test_tmpdir();
	f->oldcwd = getcwd(NULL, 0);
	if (f->oldcwd == NULL || chdir(f->dir) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	if (chdir(f->oldcwd) != 0)
		return -1;
	rc = test_rmtree(f->dir);
	free(f->dir);
	free(f->oldcwd);
	free(f);
	return rc;
}

static void
loaded_free(struct loaded *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		task_spec_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Load name, which must succeed. */
static void
load_ok(const char *name, struct loaded *l)
{
	char *cause = NULL;
	int rc = taskfile_load(name, &l->v, &l->n, &cause);

	if (rc != 0)
		fail_msg("%s: unexpected error: %s", name, cause);
	assert_null(cause);
	assert_non_null(l->v);
	assert_true(l->n > 0);
}

/* Load name, which must fail; the message (caller frees). */
static char *
load_err(const char *name)
{
	struct task_spec *specs = (struct task_spec *)&specs;
	char *cause = NULL;
	size_t n = 99;

	if (taskfile_load(name, &specs, &n, &cause) == 0)
		fail_msg("%s: loaded %zu tasks, expected an error", name, n);
	assert_non_null(cause);
	/* a failed load returns nothing */
	assert_null(specs);
	assert_int_equal(n, 0);
	return cause;
}

/* Write text as name, load it: the error must be want. */
static void
expect_err(const char *name, const char *text, const char *want)
{
	char *cause;

	test_write(name, text);
	cause = load_err(name);
	if (strcmp(cause, want) != 0)
		fail_msg("\n--- %s:\n%s\n got:  %s\n want: %s", name, text,
			 cause, want);
	free(cause);
}

/* Like expect_err() but only the start of the message is checked. */
static void
expect_err_prefix(const char *name, const char *text, const char *want)
{
	char *cause;

	test_write(name, text);
	cause = load_err(name);
	if (strncmp(cause, want, strlen(want)) != 0)
		fail_msg("\n--- %s:\n%s\n got:  %s\n want: %s...", name, text,
			 cause, want);
	free(cause);
}

/* Every field of a spec that the "all keys" files below describe. */
static void
check_all_keys(const struct task_spec *s, const char *origin)
{
	assert_string_equal(s->prompt, "fix the test");
	assert_null(s->prompt_file);
	assert_string_equal(s->agent, "shell");
	assert_string_equal(s->model, "sonnet");
	assert_string_equal(s->session, "s1");
	assert_int_equal(s->new_session, 1);
	assert_string_equal(s->milestone, "m1");
	assert_string_equal(s->workdir, "/tmp");
	assert_string_equal(s->timeout, "90");
	assert_string_equal(s->check, "make test");
	assert_string_equal(s->max_iterations, "3");
	assert_string_equal(s->title, "Fix, \"quoted\"");
	assert_string_equal(s->key, "k-1");
	assert_int_equal(s->force_agent, 1);
	assert_int_equal(s->allow_foreign, 1);
	assert_string_equal(s->origin, origin);
}

/* ---- YAML ---- */

static void
test_yaml_all_keys(void **state)
{
	struct loaded l = {0};

	(void)state;
	test_write("tasks.yaml",
		   "# a comment\n"
		   "- prompt: fix the test\n"
		   "  agent: shell\n"
		   "  model: sonnet\n"
		   "  session: s1\n"
		   "  new_session: true\n"
		   "  milestone: m1\n"
		   "  workdir: /tmp\n"
		   "  timeout: 90\n"
		   "  check: make test\n"
		   "  max_iterations: 3\n"
		   "  title: 'Fix, \"quoted\"'\n"
		   "  key: k-1\n"
		   "  force_agent: yes\n"
		   "  allow_foreign_session: True\n"
		   "-\n"
		   "  prompt_file: p.txt\n"
		   "  new_session: no\n"
		   "  model: ~\n"
		   "  timeout: 15m\n"
		   "- {prompt: \"multi\\nline\", force_agent: FALSE}\n");
	load_ok("tasks.yaml", &l);
	assert_int_equal(l.n, 3);
	check_all_keys(&l.v[0], "tasks.yaml:2");

	assert_null(l.v[1].prompt);
	assert_string_equal(l.v[1].prompt_file, "p.txt");
	assert_int_equal(l.v[1].new_session, 0);
	assert_null(l.v[1].model); /* null: not given */
	assert_string_equal(l.v[1].timeout, "15m");
	assert_null(l.v[1].agent);
	assert_null(l.v[1].workdir);
	/* the mapping starts on the line after the dash */
	assert_string_equal(l.v[1].origin, "tasks.yaml:17");

	assert_string_equal(l.v[2].prompt, "multi\nline");
	assert_int_equal(l.v[2].force_agent, 0);
	assert_string_equal(l.v[2].origin, "tasks.yaml:21");
	loaded_free(&l);
}

static void
test_yaml_flow_and_documents(void **state)
{
	struct loaded l = {0};

	(void)state;
	test_write("a.yml", "---\n[{prompt: one}, {prompt: two,\n"
			    "  title: t}]\n...\n");
	load_ok("a.yml", &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].prompt, "one");
	assert_string_equal(l.v[0].origin, "a.yml:2");
	assert_string_equal(l.v[1].title, "t");
	assert_string_equal(l.v[1].origin, "a.yml:2");
	loaded_free(&l);

	/* quoted values are strings even when they look like numbers */
	test_write("b.YAML", "- prompt: '42'\n  key: \"007\"\n");
	load_ok("b.YAML", &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].prompt, "42");
	assert_string_equal(l.v[0].key, "007");
	loaded_free(&l);
}

static void
test_yaml_errors(void **state)
{
	(void)state;
	expect_err("t.yaml",
		   "- prompt: a\n"
		   "- prompt: b\n"
		   "  agnet: shell\n",
		   "t.yaml:3: unknown key 'agnet' (did you mean 'agent'?)");
	expect_err(
		"t.yaml", "- prompt: a\n  colour: red\n",
		"t.yaml:2: unknown key 'colour' (expected one of: prompt, "
		"prompt_file, agent, model, session, new_session, "
		"milestone, workdir, timeout, check, max_iterations, retries, "
		"max_cost, "
		"title, key, force_agent, allow_foreign_session)");
	expect_err(
		"t.yaml", "- prompt: a\n  allow_foreign: true\n",
		"t.yaml:2: unknown key 'allow_foreign' (expected one of: "
		"prompt, prompt_file, agent, model, session, new_session, "
		"milestone, workdir, timeout, check, max_iterations, retries, "
		"max_cost, "
		"title, key, force_agent, allow_foreign_session)");
	expect_err("t.yaml", "- prompt: a\n  new-session: true\n",
		   "t.yaml:2: unknown key 'new-session' (did you mean "
		   "'new_session'?)");
	expect_err("t.yaml", "- prompt: a\n  prompt: b\n",
		   "t.yaml:2: duplicate key 'prompt'");
	expect_err("t.yaml", "- prompt: a\n- title: no prompt\n  key: k\n",
		   "t.yaml:2: missing prompt (give prompt or prompt_file)");
	expect_err("t.yaml", "- prompt: ~\n",
		   "t.yaml:1: missing prompt (give prompt or prompt_file)");
	expect_err("t.yaml", "- prompt: a\n- prompt: '  '\n",
		   "t.yaml:2: empty prompt");
	expect_err("t.yaml", "prompt: a\n",
		   "t.yaml:1: expected a list of tasks, got a mapping");
	expect_err("t.yaml", "just words\n",
		   "t.yaml:1: expected a list of tasks, got a single value");
	expect_err("t.yaml", "- prompt: a\n- just words\n",
		   "t.yaml:2: expected a task (a mapping of task options), "
		   "got a single value");
	expect_err("t.yaml", "- prompt: a\n- [prompt, b]\n",
		   "t.yaml:2: expected a task (a mapping of task options), "
		   "got a list");
	expect_err("t.yaml", "- prompt: a\n  title:\n    nested: map\n",
		   "t.yaml:3: title: expected a single value, got a mapping");
	expect_err("t.yaml", "- prompt: [a, b]\n",
		   "t.yaml:1: prompt: expected a single value, got a list");
	expect_err("t.yaml", "- prompt: a\n  new_session: [x]\n",
		   "t.yaml:2: new_session: expected true or false, got a "
		   "list");
	expect_err("t.yaml", "- prompt: a\n  force_agent: maybe\n",
		   "t.yaml:2: force_agent: expected true or false, got "
		   "'maybe'");
	expect_err("t.yaml", "- prompt: a\n  ? [complex]\n  : key\n",
		   "t.yaml:2: expected a key, got a list");
	expect_err("t.yaml", "- prompt: a\n---\n- prompt: b\n",
		   "t.yaml:2: more than one YAML document (put all tasks in "
		   "one list)");
	expect_err("t.yaml", "- &a {prompt: a}\n- *a\n",
		   "t.yaml:1: YAML anchors and aliases are not supported in "
		   "task files");
	expect_err("t.yaml", "- prompt: a\n- prompt: *x\n",
		   "t.yaml:2: YAML anchors and aliases are not supported in "
		   "task files");
	expect_err("t.yaml", "- prompt: !!binary aGVsbG8=\n",
		   "t.yaml:1:11: YAML tags are not supported ('!!binary')");
	expect_err("t.yaml", "- !!python/object:os.system {prompt: a}\n",
		   "t.yaml:1:3: YAML tags are not supported "
		   "('!!python/object:os.system')");
	expect_err("t.yaml", "- prompt: a\n  agent: !custom x\n",
		   "t.yaml:2:10: YAML tags are not supported ('!custom')");
	expect_err("t.yaml", "--- !!seq\n- prompt: a\n",
		   "t.yaml:1:5: YAML tags are not supported ('!!seq')");
	expect_err("t.yaml", "- prompt: \"a\\0b\"\n",
		   "t.yaml:1: prompt: NUL bytes are not allowed");
	expect_err_prefix("t.yaml", "- prompt: a\n  - title: b\n",
			  "t.yaml:2:3: ");
	expect_err("t.yaml", "- prompt: a\n- prompt: 'unterminated\n",
		   "t.yaml:3:1: found unexpected end of stream (while "
		   "scanning a quoted scalar at line 2)");
	expect_err("t.yaml", "- {prompt: a\n",
		   "t.yaml:2:1: did not find expected ',' or '}' (while "
		   "parsing a flow mapping at line 1)");
	expect_err_prefix("t.yaml", "- prompt: \xff\xfe\n", "t.yaml:1:");
	expect_err("t.yaml", "", "t.yaml: no tasks in file");
	expect_err("t.yaml", "# nothing\n\n", "t.yaml: no tasks in file");
	expect_err("t.yaml", "[]\n", "t.yaml: no tasks in file");
	expect_err("t.yaml", "---\n", "t.yaml: no tasks in file");
}

/* An error after a good record still returns nothing (load_err checks). */
static void
test_yaml_first_error_wins(void **state)
{
	(void)state;
	expect_err(
		"t.yaml",
		"- prompt: a\n"
		"- prompt: b\n"
		"  bogus: 1\n"
		"- prompt: c\n"
		"  also_bogus: 2\n"
		"- {\n",
		"t.yaml:3: unknown key 'bogus' (expected one of: prompt, "
		"prompt_file, agent, model, session, new_session, "
		"milestone, workdir, timeout, check, max_iterations, retries, "
		"max_cost, "
		"title, key, force_agent, allow_foreign_session)");
}

/* ---- JSON Lines ---- */

static void
test_jsonl_all_keys(void **state)
{
	struct loaded l = {0};

	(void)state;
	test_write("tasks.jsonl",
		   "\xef\xbb\xbf"
		   "{\"prompt\": \"fix the test\", \"agent\": \"shell\", "
		   "\"model\": \"sonnet\", \"session\": \"s1\", "
		   "\"new_session\": true, \"milestone\": \"m1\", "
		   "\"workdir\": \"/tmp\", \"timeout\": 90, "
		   "\"check\": \"make test\", \"max_iterations\": 3, "
		   "\"title\": \"Fix, \\\"quoted\\\"\", \"key\": \"k-1\", "
		   "\"force_agent\": true, \"allow_foreign_session\": true}\n"
		   "\n"
		   "   \r\n"
		   "{\"prompt\": \"two\", \"timeout\": \"15m\", "
		   "\"max_iterations\": 2.0, \"model\": null, "
		   "\"new_session\": false}\r\n"
		   "{\"prompt_file\": \"p.txt\"}");
	load_ok("tasks.jsonl", &l);
	assert_int_equal(l.n, 3);
	check_all_keys(&l.v[0], "tasks.jsonl:1");
	assert_string_equal(l.v[1].prompt, "two");
	assert_string_equal(l.v[1].timeout, "15m");
	assert_string_equal(l.v[1].max_iterations, "2");
	assert_null(l.v[1].model);
	assert_int_equal(l.v[1].new_session, 0);
	assert_string_equal(l.v[1].origin, "tasks.jsonl:4");
	assert_string_equal(l.v[2].prompt_file, "p.txt");
	assert_string_equal(l.v[2].origin, "tasks.jsonl:5");
	loaded_free(&l);

	/* .ndjson and .json are JSON Lines too */
	test_write("a.ndjson", "{\"prompt\": \"x\"}\n");
	load_ok("a.ndjson", &l);
	assert_int_equal(l.n, 1);
	loaded_free(&l);
	test_write("a.json", "{\"prompt\": \"x\"}\n{\"prompt\": \"y\"}\n");
	load_ok("a.json", &l);
	assert_int_equal(l.n, 2);
	loaded_free(&l);
}

static void
test_jsonl_errors(void **state)
{
	(void)state;
	expect_err("t.jsonl", "{\"prompt\": \"a\"}\n\nnot json\n",
		   "t.jsonl:3: not a JSON object: '[' or '{' expected near "
		   "'not'");
	expect_err("t.jsonl", "{\"prompt\": \"a\"}\n[1, 2]\n",
		   "t.jsonl:2: not a JSON object: got an array (one task "
		   "object a line)");
	expect_err("t.jsonl", "{\"prompt\": \"a\",\n\"agent\": \"x\"}\n",
		   "t.jsonl:1: not a JSON object: string or '}' expected "
		   "near end of file");
	expect_err("t.jsonl", "{\"prompt\": \"a\"} {\"prompt\": \"b\"}\n",
		   "t.jsonl:1: not a JSON object: end of file expected near "
		   "'{'");
	expect_err("t.jsonl", "{\"prompt\": \"a\", \"prompt\": \"b\"}\n",
		   "t.jsonl:1: duplicate key near '\"prompt\"'");
	expect_err("t.jsonl", "{\"prompt\": \"a\", \"tilte\": \"b\"}\n",
		   "t.jsonl:1: unknown key 'tilte' (did you mean 'title'?)");
	expect_err("t.jsonl", "{\"prompt\": 5}\n",
		   "t.jsonl:1: prompt: expected a string, got a number");
	expect_err("t.jsonl", "{\"prompt\": \"a\", \"key\": {\"a\": 1}}\n",
		   "t.jsonl:1: key: expected a string, got an object");
	expect_err("t.jsonl", "{\"prompt\": \"a\", \"timeout\": 1.5}\n",
		   "t.jsonl:1: timeout: expected a string or a whole number, "
		   "got a number with a fraction");
	expect_err("t.jsonl", "{\"prompt\": \"a\", \"timeout\": [1]}\n",
		   "t.jsonl:1: timeout: expected a string or a number, got "
		   "an array");
	expect_err("t.jsonl", "{\"prompt\": \"a\", \"new_session\": \"yes\"}\n",
		   "t.jsonl:1: new_session: expected true or false, got a "
		   "string");
	expect_err("t.jsonl", "{\"prompt\": \"a\"}\n{}\n",
		   "t.jsonl:2: missing prompt (give prompt or prompt_file)");
	expect_err("t.jsonl", "{\"prompt\": \"\"}\n",
		   "t.jsonl:1: empty prompt");
	expect_err_prefix("t.jsonl", "{\"prompt\": \"a\\u0000b\"}\n",
			  "t.jsonl:1: not a JSON object: ");
	expect_err_prefix("t.jsonl", "{\"prompt\": \"\xff\"}\n",
			  "t.jsonl:1: not a JSON object: ");
	expect_err("t.jsonl", "\n  \n", "t.jsonl: no tasks in file");
}

/* ---- CSV ---- */

static void
test_csv_all_keys(void **state)
{
	struct loaded l = {0};

	(void)state;
	test_write("tasks.csv",
		   "prompt,agent,model,session,new_session,milestone,workdir,"
		   "timeout,check,max_iterations,title,key,force_agent,"
		   "allow_foreign_session,prompt_file\n"
		   "fix the test,shell,sonnet,s1,true,m1,/tmp,90,make test,3,"
		   "\"Fix, \"\"quoted\"\"\",k-1,YES,1,\n"
		   ",,,,no,,,15m,,,,,0,false,p.txt\n");
	load_ok("tasks.csv", &l);
	assert_int_equal(l.n, 2);
	check_all_keys(&l.v[0], "tasks.csv:2");
	assert_null(l.v[1].prompt); /* empty cells: not given */
	assert_null(l.v[1].agent);
	assert_null(l.v[1].title);
	assert_string_equal(l.v[1].prompt_file, "p.txt");
	assert_string_equal(l.v[1].timeout, "15m");
	assert_int_equal(l.v[1].new_session, 0);
	assert_int_equal(l.v[1].force_agent, 0);
	assert_string_equal(l.v[1].origin, "tasks.csv:3");
	loaded_free(&l);
}

static void
test_csv_quoting(void **state)
{
	struct loaded l = {0};

	(void)state;
	test_write("q.csv", "\xef\xbb\xbf"
			    " prompt , title\r\n"
			    "\"a, b, c\",\"she said \"\"hi\"\"\"\r\n"
			    "\r\n"
			    "\"line one\n"
			    "line two\r\n"
			    "line three\",\"\"\r\n"
			    "\"\"\"\",plain \"inner\" quotes\r\n"
			    "last,\"no newline at the end\"");
	load_ok("q.csv", &l);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0].prompt, "a, b, c");
	assert_string_equal(l.v[0].title, "she said \"hi\"");
	assert_string_equal(l.v[0].origin, "q.csv:2");
	/* a record spanning lines is at the line where it starts */
	assert_string_equal(l.v[1].prompt, "line one\nline two\r\nline three");
	assert_null(l.v[1].title);
	assert_string_equal(l.v[1].origin, "q.csv:4");
	assert_string_equal(l.v[2].prompt, "\"");
	assert_string_equal(l.v[2].title, "plain \"inner\" quotes");
	assert_string_equal(l.v[2].origin, "q.csv:7");
	assert_string_equal(l.v[3].prompt, "last");
	assert_string_equal(l.v[3].title, "no newline at the end");
	assert_string_equal(l.v[3].origin, "q.csv:8");
	loaded_free(&l);

	/* one column; a trailing comma is one more (empty) field */
	test_write("one.csv", "prompt\nx\n\n\ny\n");
	load_ok("one.csv", &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[1].prompt, "y");
	assert_string_equal(l.v[1].origin, "one.csv:5");
	loaded_free(&l);
	test_write("two.csv", "prompt,title\nx,\n");
	load_ok("two.csv", &l);
	assert_int_equal(l.n, 1);
	assert_null(l.v[0].title);
	loaded_free(&l);
}

static void
test_csv_errors(void **state)
{
	(void)state;
	expect_err("t.csv", "prompt,agnet\na,b\n",
		   "t.csv:1: unknown column 'agnet' (did you mean 'agent'?)");
	expect_err(
		"t.csv", "prompt,colour\na,b\n",
		"t.csv:1: unknown column 'colour' (expected one of: "
		"prompt, prompt_file, agent, model, session, new_session, "
		"milestone, workdir, timeout, check, max_iterations, retries, "
		"max_cost, "
		"title, key, force_agent, allow_foreign_session)");
	expect_err("t.csv", "prompt,title,prompt\na,b,c\n",
		   "t.csv:1: duplicate column 'prompt'");
	expect_err("t.csv", "prompt,,title\na,b,c\n",
		   "t.csv:1: empty column name (column 2 of the header)");
	expect_err("t.csv", "prompt,title\na,b\nc\n",
		   "t.csv:3: expected 2 fields, got 1");
	expect_err("t.csv", "prompt,title\na,b\n\"c\nd\",e,f\n",
		   "t.csv:3: expected 2 fields, got 3");
	expect_err("t.csv", "prompt,title\na,b\n\"c,d\n\ne\n",
		   "t.csv:3: unterminated quoted field");
	expect_err("t.csv", "prompt,title\na,b\n\"c\nd\"x,e\n",
		   "t.csv:4: unexpected text after the closing quote of a "
		   "field");
	expect_err("t.csv", "prompt,new_session\na,2\n",
		   "t.csv:2: new_session: expected true or false, got '2'");
	expect_err("t.csv", "prompt,title\na,b\n,c\n",
		   "t.csv:3: missing prompt (give prompt or prompt_file)");
	expect_err("t.csv", "prompt,title\n\" \",c\n", "t.csv:2: empty prompt");
	expect_err("t.csv", "prompt,title\na,b\nc,\xc3\x28\n",
		   "t.csv:3: title: invalid UTF-8");
	expect_err("t.csv", "prompt,title\na,\xed\xa0\x80\n",
		   "t.csv:2: title: invalid UTF-8");
	expect_err("t.csv", "prompt,title\na,\xe0\x80\xaf\n",
		   "t.csv:2: title: invalid UTF-8");
	expect_err("t.csv", "prompt,title\n", "t.csv: no tasks in file");
	expect_err("t.csv", "", "t.csv: no tasks in file");
	test_write_len("nul.csv", "prompt\na\nb\0c\n", 11);
	{
		char *cause = load_err("nul.csv");

		assert_string_equal(cause, "nul.csv:3: NUL byte in the file "
					   "(is it a text file?)");
		free(cause);
	}
}

/* ---- the file: names, sniffing, stdin, paths ---- */

static void
test_read_errors(void **state)
{
	char *cause;
	int fd;

	(void)state;
	cause = load_err("nope.yaml");
	assert_string_equal(cause, "cannot read task file nope.yaml: No such "
				   "file or directory");
	free(cause);
	assert_int_equal(mkdir("d.yaml", 0700), 0);
	cause = load_err("d.yaml");
	assert_string_equal(cause, "cannot read task file d.yaml: Is a "
				   "directory");
	free(cause);

	/* larger than 64 MiB: refused (a sparse file) */
	fd = open("big.jsonl", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, ((off_t)64 << 20) + 1), 0);
	close(fd);
	cause = load_err("big.jsonl");
	assert_string_equal(cause, "cannot read task file big.jsonl: larger "
				   "than 64 MiB");
	free(cause);
}

static void
test_sniff(void **state)
{
	struct loaded l = {0};
	char *cause;

	(void)state;
	test_write("yaml-list", "\n# tasks\n  - prompt: y\n");
	load_ok("yaml-list", &l);
	assert_string_equal(l.v[0].prompt, "y");
	assert_string_equal(l.v[0].origin, "yaml-list:3");
	loaded_free(&l);

	test_write("yaml-flow.txt", "[{prompt: f}]\n");
	load_ok("yaml-flow.txt", &l);
	assert_string_equal(l.v[0].prompt, "f");
	loaded_free(&l);

	test_write("lines", "\n{\"prompt\": \"j\"}\n");
	load_ok("lines", &l);
	assert_string_equal(l.v[0].prompt, "j");
	assert_string_equal(l.v[0].origin, "lines:2");
	loaded_free(&l);

	test_write("table", "prompt,key\nc,k\n");
	load_ok("table", &l);
	assert_string_equal(l.v[0].prompt, "c");
	assert_string_equal(l.v[0].key, "k");
	loaded_free(&l);

	/* the extension wins over the content */
	test_write("list.csv", "- prompt: y\n");
	cause = load_err("list.csv");
	assert_string_equal(cause,
			    "list.csv:1: unknown column '- prompt: y' "
			    "(expected one of: prompt, prompt_file, agent, "
			    "model, session, new_session, milestone, "
			    "workdir, timeout, check, max_iterations, retries, "
			    "max_cost, title, "
			    "key, force_agent, allow_foreign_session)");
	free(cause);

	test_write("empty", "");
	cause = load_err("empty");
	assert_string_equal(cause, "empty: no tasks in file");
	free(cause);
}

/* Load "-" with stdin redirected from the file name. */
static int
load_stdin(const char *name, struct loaded *l, char **cause)
{
	int saved = dup(STDIN_FILENO), fd = open(name, O_RDONLY), rc;

	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	rc = taskfile_load("-", &l->v, &l->n, cause);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	return rc;
}

static void
test_stdin(void **state)
{
	struct loaded l = {0};
	char *cause = NULL;

	(void)state;
	test_write("in", "{\"prompt\": \"a\", \"workdir\": \"rel\"}\n"
			 "{\"prompt\": \"b\"}\n");
	assert_int_equal(load_stdin("in", &l, &cause), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[1].origin, "<stdin>:2");
	/* relative to the current directory */
	assert_string_equal(l.v[0].workdir, "rel");
	loaded_free(&l);

	test_write("in", "- prompt: a\n- prompt: b\n  titel: 1\n");
	assert_int_equal(load_stdin("in", &l, &cause), -1);
	assert_null(l.v);
	assert_string_equal(cause, "<stdin>:3: unknown key 'titel' (did you "
				   "mean 'title'?)");
	free(cause);

	test_write("in", "prompt_file\n-\n");
	assert_int_equal(load_stdin("in", &l, &cause), -1);
	assert_string_equal(cause, "<stdin>:2: prompt_file '-' reads stdin, "
				   "but the task file is read from stdin");
	free(cause);
}

static void
test_relative_paths(void **state)
{
	const struct fixture *f = *state;
	struct loaded l = {0};
	char *name, *want;

	assert_int_equal(mkdir("sub", 0700), 0);
	test_write("sub/t.yaml", "- prompt: a\n"
				 "  workdir: w\n"
				 "  prompt_file: ../p.txt\n"
				 "- prompt: b\n"
				 "  workdir: /abs\n"
				 "- prompt_file: '-'\n");
	load_ok("sub/t.yaml", &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].workdir, "sub/w");
	assert_string_equal(l.v[0].prompt_file, "sub/../p.txt");
	assert_string_equal(l.v[0].origin, "sub/t.yaml:1");
	assert_string_equal(l.v[1].workdir, "/abs");
	assert_null(l.v[2].workdir);
	assert_string_equal(l.v[2].prompt_file, "-");
	loaded_free(&l);

	test_write("t.csv", "prompt,workdir\na,w\n");
	load_ok("t.csv", &l);
	assert_string_equal(l.v[0].workdir, "w");
	loaded_free(&l);

	/* an absolute path to the file */
	name = xasprintf("%s/abs.jsonl", f->dir);
	want = xasprintf("%s/w", f->dir);
	test_write(name, "{\"prompt\": \"a\", \"workdir\": \"w\"}\n");
	load_ok(name, &l);
	assert_string_equal(l.v[0].workdir, want);
	loaded_free(&l);
	free(name);
	free(want);
}

/* ---- hostile input ---- */

static void
test_alias_bomb(void **state)
{
	char *cause;

	(void)state;
	test_write("bomb.yaml", "- &a [x, x, x, x, x, x, x, x, x]\n"
				"- &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
				"- &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
				"- &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
				"- &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
				"- &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
				"- &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
				"- {prompt: *g}\n");
	cause = load_err("bomb.yaml");
	assert_string_equal(cause, "bomb.yaml:1: YAML anchors and aliases "
				   "are not supported in task files");
	free(cause);

	test_write("bomb2.yaml", "- prompt: &p lol\n"
				 "- prompt: *p\n");
	cause = load_err("bomb2.yaml");
	assert_string_equal(cause, "bomb2.yaml:1: YAML anchors and aliases "
				   "are not supported in task files");
	free(cause);
}

static void
write_repeated(const char *name, const char *head, const char *unit,
	       size_t times, const char *tail)
{
	struct strbuf sb;
	size_t i;

	strbuf_init(&sb);
	strbuf_adds(&sb, head);
	for (i = 0; i < times; i++)
		strbuf_adds(&sb, unit);
	strbuf_adds(&sb, tail);
	test_write_len(name, sb.buf, sb.len);
	strbuf_release(&sb);
}

static void
test_deep_nesting(void **state)
{
	char *cause;

	(void)state;
	write_repeated("deep.yaml", "", "[", 1000000, "");
	cause = load_err("deep.yaml");
	assert_string_equal(cause, "deep.yaml:1: expected a task (a mapping "
				   "of task options), got a list");
	free(cause);

	write_repeated("deep2.yaml", "- prompt: ", "{a: ", 200000, "");
	cause = load_err("deep2.yaml");
	assert_string_equal(cause, "deep2.yaml:1: prompt: expected a single "
				   "value, got a mapping");
	free(cause);

	write_repeated("deep3.yaml", "", "- ", 200000, "x\n");
	cause = load_err("deep3.yaml");
	assert_string_equal(cause, "deep3.yaml:1: expected a task (a mapping "
				   "of task options), got a list");
	free(cause);

	write_repeated("deep.jsonl", "{\"prompt\": ", "[", 1000000, "\n");
	cause = load_err("deep.jsonl");
	assert_string_equal(cause, "deep.jsonl:1: not a JSON object: maximum "
				   "parsing depth reached near '['");
	free(cause);

	/* a million columns and a million fields */
	write_repeated("wide.csv", "prompt", ",", 1000000, "\n");
	cause = load_err("wide.csv");
	assert_string_equal(cause, "wide.csv:1: empty column name (column 2 "
				   "of the header)");
	free(cause);
	write_repeated("wide2.csv", "prompt\na", ",", 1000000, "\n");
	cause = load_err("wide2.csv");
	assert_string_equal(cause, "wide2.csv:2: expected 1 fields, got "
				   "1000001");
	free(cause);
}

/* A small deterministic generator, so that failures reproduce. */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_garbage(void **state)
{
	static const char *const names[] = {"g.yaml", "g.jsonl", "g.csv", "g"};
	static const char alphabet[] = "-[]{}:,\"'\n\r \t#&*!|>?%@`ab\\";
	struct loaded l = {0};
	char buf[512], *cause;
	uint32_t seed = 2463534242u;
	size_t i, j, k, len;
	int rc;

	(void)state;
	for (i = 0; i < 2000; i++) {
		len = next_rand(&seed) % sizeof buf;
		for (j = 0; j < len; j++) {
			uint32_t r = next_rand(&seed);

			/* half raw bytes, half characters that mean
			 * something to one of the parsers */
			buf[j] = (r & 1) ? (char)(r >> 8)
					 : alphabet[(r >> 8) %
						    (sizeof alphabet - 1)];
		}
		for (k = 0; k < 4; k++) {
			test_write_len(names[k], buf, len);
			cause = NULL;
			rc = taskfile_load(names[k], &l.v, &l.n, &cause);
			if (rc == 0) {
				assert_null(cause);
				loaded_free(&l);
			} else {
				assert_non_null(cause);
				assert_null(l.v);
				free(cause);
			}
		}
	}
	/* pure binary: an ELF-ish header */
	test_write_len("bin",
		       "\x7f"
		       "ELF\x02\x01\x01\0\0\0",
		       10);
	cause = load_err("bin");
	assert_non_null(strstr(cause, "bin:1: "));
	free(cause);
}

/* MAX_TASKS records are fine, one more is refused. */
static void
test_too_many_tasks(void **state)
{
	struct loaded l = {0};
	char *cause;

	(void)state;
	write_repeated("many.csv", "prompt\n", "a\n", 1000000, "");
	load_ok("many.csv", &l);
	assert_int_equal(l.n, 1000000);
	assert_string_equal(l.v[999999].origin, "many.csv:1000001");
	loaded_free(&l);
	write_repeated("more.csv", "prompt\n", "a\n", 1000001, "");
	cause = load_err("more.csv");
	assert_string_equal(cause, "more.csv:1000002: more than 1000000 tasks "
				   "in one file");
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_yaml_all_keys, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_yaml_flow_and_documents,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_yaml_first_error_wins,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_all_keys, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_csv_all_keys, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_csv_quoting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_csv_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sniff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_alias_bomb, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deep_nesting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_tasks, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
