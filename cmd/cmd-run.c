/*
 * baton run [TASK OPTIONS] PROMPT...: create a task and execute it now,
 * in the foreground.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
#include "core/config.h"
#include "core/orchestrator.h"
#include "core/runner.h"
#include "core/worker.h"
#include "lib/display.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_run_entry;

enum {
	OPT_RAW = OPT_TASK_LAST,
};

static void
run_refused(void *arg, const struct db_task *t, const char *why)
{
	char *safe = display_safe(why);

	(void)arg;
	cmd_error("task %lld failed: %s", (long long)t->id, safe);
	free(safe);
}

static void
run_notify(void *arg, int64_t task_id, const char *msg)
{
	struct baton *b = arg;

	char *safe = display_safe(msg);

	(void)task_id;
	cmd_warn(b, "%s", safe);
	free(safe);
}

/* Exit status for a task's final status (SPEC §7). */
static int
exit_for_status(enum task_status status)
{
	switch (status) {
	case TASK_COMPLETED:
		return EXIT_OK;
	case TASK_TIMED_OUT:
		return EXIT_TIMEOUT;
	case TASK_CANCELLED:
		return 130;
	default:
		return EXIT_FAILED;
	}
}

/* Exit status for a task that ended (SPEC §7). */
static int
exit_for(const struct orch_result *r)
{
	if (r->status == TASK_CANCELLED && cmd_signal_received())
		return cmd_signal_exit();
	if (r->nobin == 127)
		return EXIT_NOTFOUND;
	if (r->nobin == 126)
		return EXIT_NOEXEC;
	return exit_for_status(r->status);
}

static void
run_waiting(void *arg, int64_t id, int elsewhere)
{
	struct baton *b = arg;

	if (b->verbosity < 0)
		return;
	if (elsewhere)
		fprintf(stderr,
			"baton: task %lld was started by another runner; "
			"waiting for it to end\n",
			(long long)id);
	else
		fprintf(stderr,
			"baton: task %lld waits: its session is in use by "
			"another task\n",
			(long long)id);
}

/* A task with a --key that exists already is not run again. */
static int
run_existing(struct baton *b, const struct db_task *t)
{
	int rc = t->status == TASK_COMPLETED ? EXIT_OK : EXIT_FAILED;

	cmd_warn(b, "task %lld has this key already (status %s); not run again",
		 (long long)t->id, task_status_name(t->status));
	if (b->json)
		return cmd_print_task_json(b, t->id) == EXIT_OK ? rc
								: EXIT_FAILED;
	return rc;
}

/* "baton: task N failed: <error>", the error made safe. */
static void
say_failed(int64_t id, enum task_status st, const char *error)
{
	char *safe = error ? display_safe(error) : NULL;

	cmd_error("task %lld %s%s%s", (long long)id, task_status_name(st),
		  safe ? ": " : "", safe ? safe : "");
	free(safe);
}

/* The end of a task that another runner ran, or that was cancelled. */
static void
say_ended(struct baton *b, int64_t id, enum task_status final)
{
	struct db_task t = {0};
	char *cause = NULL;
	int found = 0;

	if (store_task_get(b->db, id, &t, &found, &cause) != 0)
		free(cause);
	say_failed(id, final, found ? t.error : NULL);
	db_task_release(&t);
}

/* The agent's answer, as `claude -p` prints it: the text and a newline. */
static void
print_answer(const char *answer)
{
	size_t len = answer != NULL ? strlen(answer) : 0;

	if (len == 0)
		return;
	fputs(answer, stdout);
	if (answer[len - 1] != '\n')
		putchar('\n');
	fflush(stdout);
}

/* Wait for the task's session (S6), then run it to its end. */
static int
run_task(struct baton *b, struct orch *o, int64_t id)
{
	struct orch_result res = {0};
	enum task_status final;
	enum run_wait how;
	char *cause = NULL;
	int rc;

	if ((rc = worker_run_now(o, id, run_waiting, b, &how, &final,
				 &cause)) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	switch (how) {
	case RUN_WAIT_REFUSED:
		return EXIT_FAILED;
	case RUN_WAIT_SIGNALLED:
		return cmd_signal_exit();
	case RUN_WAIT_ENDED:
		rc = exit_for_status(final);
		if (rc != EXIT_OK && b->verbosity >= 0 && !b->json)
			say_ended(b, id, final);
		return rc;
	case RUN_WAIT_STARTED:
		break;
	}
	if (orch_execute(o, id, &res, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
	}
	if (o->tee && !o->raw)
		print_answer(res.answer);
	rc = res.err == -BERR_DB ? EXIT_DB : exit_for(&res);
	if (rc != EXIT_OK && b->verbosity >= 0 && !b->json)
		say_failed(id, res.status, res.error);
	orch_result_release(&res);
	return rc;
}

static const struct option run_options[] = {
	TASK_LONG_OPTIONS,
	{"continue", no_argument, NULL, 'c'},
	{"raw", no_argument, NULL, OPT_RAW},
	{NULL, 0, NULL, 0},
};

static int
run_exec(struct baton *b, int argc, char **argv)
{
	struct task_spec spec = {0};
	struct task_change ch;
	struct db_task t = {0};
	struct runner runner;
	struct orch o;
	char *cause = NULL;
	int64_t id;
	int c, rc, existed, raw = 0;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "+c", run_options)) != -1) {
		if (c == 'c')
			spec.continue_last = 1;
		else if (c == OPT_RAW)
			raw = 1;
		else if (!cmd_task_option(&spec, c, optarg)) {
			task_spec_release(&spec);
			return cmd_option_error(&cmd_run_entry, argv,
						run_options);
		}
	}
	spec.prompt = cmd_join_words(argc - optind, argv + optind);
	spec.prompt_stdin = 1;
	rc = cmd_add_task(b, &spec, &t, &existed);
	task_spec_release(&spec);
	if (rc == EXIT_OK && existed)
		rc = run_existing(b, &t);
	id = t.id;
	db_task_release(&t);
	if (rc != EXIT_OK || existed)
		return rc;

	if (cmd_signals_install(b) != 0) {
		cmd_error("cannot set up signal handling");
		return EXIT_FAILED;
	}
	if ((rc = runner_start(&runner, b, &cause)) != 0) {
		cmd_error("%s", cause);
		free(cause);
		/* do not leave it pending */
		if (task_cancel(b, id, &ch, &cause) != 0)
			free(cause);
		return cmd_exit_code(rc);
	}
	orch_init(&o, b, b->db);
	o.tee = b->verbosity >= 0 && !b->json;
	o.raw = raw;
	o.notify = run_notify;
	o.notify_arg = b;
	o.refused = run_refused;
	o.fail_at = getenv("BATON_TEST_FAIL_AT");
	rc = run_task(b, &o, id);
	orch_release(&o);
	runner_stop(&runner);
	if (b->json && cmd_print_task_json(b, id) != EXIT_OK && rc == EXIT_OK)
		rc = EXIT_FAILED;
	return rc;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "[-c] [TASK OPTIONS] [PROMPT...]",
	.summary = "create a task and execute it now, in the foreground",
	.help = "  -c, --continue        continue the conversation last used "
		"in this\n"
		"                        project (see "
		"docs/sessions.md)\n" TASK_OPTIONS_HELP
		"  --raw                 print what the agent printed, not its "
		"answer\n"
		"\nThe agent's answer is printed (claude, codex, a command "
		"agent\n"
		"that writes one); an agent without one (shell) has its "
		"output\n"
		"streamed.  -q prints nothing; --json prints the finished task "
		"with\n"
		"its runs instead.  Options go before the prompt; the "
		"prompt's\n"
		"words are joined with spaces.  With no PROMPT, the prompt is "
		"read\n"
		"from standard input unless it is a terminal.\n"
		"\nexit status: 0 completed, 1 failed, 124 timed out, 126 "
		"agent not\n"
		"executable, 127 agent not found, 130/143 interrupted, 2 "
		"usage,\n"
		"3 config, 4 database.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = run_exec,
	.options = run_options,
};
