/*
 * baton run [TASK OPTIONS] PROMPT...: create a task and execute it now,
 * in the foreground.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
#include "core/config.h"
#include "core/orchestrator.h"
#include "core/runner.h"
#include "lib/clock.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_run_entry;

/* Join the prompt words with spaces; NULL if there are none. */
char *cmd_join_words(int argc, char **argv);

char *
cmd_join_words(int argc, char **argv)
{
	struct strbuf sb;
	int i;

	if (argc <= 0)
		return NULL;
	strbuf_init(&sb);
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strbuf_adds(&sb, " ");
		strbuf_adds(&sb, argv[i]);
	}
	return strbuf_detach(&sb);
}

static void
run_refused(void *arg, int64_t task_id, const char *why)
{
	(void)arg;
	cmd_error("task %lld failed: %s", (long long)task_id, why);
}

static void
run_notify(void *arg, int64_t task_id, const char *msg)
{
	struct baton *b = arg;

	(void)task_id;
	cmd_warn(b, "%s", msg);
}

/* Insert the task in one transaction; *existed for a known --key. */
int cmd_insert_task(struct baton *b, const struct task_spec *spec, int64_t *id,
		    int *existed);

int
cmd_insert_task(struct baton *b, const struct task_spec *spec, int64_t *id,
		int *existed)
{
	struct db_task t = {0};
	char *cause = NULL;
	int rc;

	*existed = 0;
	if ((rc = db_begin(b->db, &cause)) == 0 &&
	    (rc = task_spec_resolve(b, b->db, spec, &t, &cause)) == 0 &&
	    (rc = db_task_insert(b->db, &t, clock_now_ms(), existed, &cause)) ==
		    0)
		rc = db_commit(b->db, &cause);
	if (rc != 0) {
		db_rollback(b->db);
		cmd_error("%s", cause);
		free(cause);
		db_task_release(&t);
		return cmd_exit_code(rc);
	}
	*id = t.id;
	db_task_release(&t);
	return EXIT_OK;
}

/* Exit status for a task's final status (SPEC §7). */
static int
exit_for_status(const char *status)
{
	if (strcmp(status, "completed") == 0)
		return EXIT_OK;
	if (strcmp(status, "timed_out") == 0)
		return EXIT_TIMEOUT;
	if (strcmp(status, "cancelled") == 0)
		return 130;
	return EXIT_FAILED;
}

/* Exit status for a task that ended (SPEC §7). */
static int
exit_for(const struct orch_result *r)
{
	if (strcmp(r->status, "cancelled") == 0 && cmd_signal_received())
		return cmd_signal_exit();
	if (r->nobin == 127)
		return EXIT_NOTFOUND;
	if (r->nobin == 126)
		return EXIT_NOEXEC;
	return exit_for_status(r->status);
}

/*
 * Wait for the task's session to be free (S6), then start it.  While we
 * wait the task is pending, so `baton cancel` may drop it or a `baton
 * work` may take it: then follow it to its end, set *ended and return
 * the exit status for how it ended.
 */
static int
claim_when_free(struct baton *b, struct orch *o, int64_t id, int *ended)
{
	struct pollfd p = {.fd = b->stop_fd, .events = POLLIN};
	struct db_task t = {0};
	char *cause = NULL;
	int started, rc, found, said = 0, elsewhere = 0;

	*ended = 0;
	for (;;) {
		rc = orch_claim_task(o, id, &started, &cause);
		if (rc != 0) {
			cmd_error("%s", cause);
			free(cause);
			return cmd_exit_code(rc);
		}
		if (started == 1)
			return EXIT_OK;
		if (started == -1)
			return EXIT_FAILED;
		if (db_task_get(b->db, id, &t, &found, &cause) != 0) {
			cmd_error("%s", cause);
			free(cause);
			return EXIT_DB;
		}
		if (found && strcmp(t.status, "running") == 0) {
			if (!elsewhere && b->verbosity >= 0)
				fprintf(stderr,
					"baton: task %lld was started by "
					"another runner; waiting for it to "
					"end\n",
					(long long)id);
			elsewhere = 1;
		} else if (found && strcmp(t.status, "pending") != 0) {
			rc = exit_for_status(t.status);
			if (rc != EXIT_OK && b->verbosity >= 0 && !b->json)
				cmd_error("task %lld %s%s%s", (long long)id,
					  t.status, t.error ? ": " : "",
					  t.error ? t.error : "");
			db_task_release(&t);
			*ended = 1;
			return rc;
		} else if (!said && b->verbosity >= 0) {
			fprintf(stderr,
				"baton: task %lld waits: its session is in "
				"use by another task\n",
				(long long)id);
			said = 1;
		}
		db_task_release(&t);
		if (poll(&p, 1, 200) > 0)
			return cmd_signal_exit();
	}
}

static int
finish_pending(struct baton *b, int64_t id, int rc)
{
	char *cause = NULL, *status = NULL;

	/* Stopped before it started here: do not leave it pending, and
	 * ask a runner that took it meanwhile to stop it. */
	if (db_begin(b->db, &cause) == 0 &&
	    db_task_cancel(b->db, id, clock_now_ms(), &status, &cause) == 0)
		db_commit(b->db, &cause);
	db_rollback(b->db);
	free(cause);
	free(status);
	return rc;
}

static int
run_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {
		TASK_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	struct task_spec spec = {0};
	struct runner runner;
	struct orch o;
	struct orch_result res = {0};
	char *cause = NULL;
	int64_t id = 0;
	int c, rc, existed, found, ended;
	struct db_task t = {0};

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (!cmd_task_option(&spec, c, optarg)) {
			task_spec_release(&spec);
			return cmd_option_error(&cmd_run_entry, argv, longopts);
		}
	}
	spec.prompt = cmd_join_words(argc - optind, argv + optind);
	rc = cmd_insert_task(b, &spec, &id, &existed);
	task_spec_release(&spec);
	if (rc != EXIT_OK)
		return rc;
	if (existed) {
		if (db_task_get(b->db, id, &t, &found, &cause) != 0) {
			cmd_error("%s", cause);
			free(cause);
			return EXIT_DB;
		}
		cmd_warn(b,
			 "task %lld has this key already (status %s); "
			 "not run again",
			 (long long)id, t.status);
		rc = strcmp(t.status, "completed") == 0 ? EXIT_OK : EXIT_FAILED;
		db_task_release(&t);
		if (b->json)
			return cmd_print_task_json(b, id) == EXIT_OK
				       ? rc
				       : EXIT_FAILED;
		return rc;
	}

	if (cmd_signals_install(b) != 0) {
		cmd_error("cannot set up signal handling");
		return EXIT_FAILED;
	}
	if ((rc = runner_start(&runner, b, &cause)) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return finish_pending(b, id, cmd_exit_code(rc));
	}
	orch_init(&o, b, b->db);
	o.tee = b->verbosity >= 0 && !b->json;
	o.notify = run_notify;
	o.notify_arg = b;
	o.refused = run_refused;
	o.fail_at = getenv("BATON_TEST_FAIL_AT");

	rc = claim_when_free(b, &o, id, &ended);
	if (ended)
		goto out;
	if (rc != EXIT_OK) {
		if (rc != EXIT_FAILED)
			rc = finish_pending(b, id, rc);
		goto out;
	}
	if (orch_execute(&o, id, &res, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		cause = NULL;
	}
	rc = res.err == -BERR_DB ? EXIT_DB : exit_for(&res);
	if (rc != EXIT_OK && b->verbosity >= 0 && !b->json)
		cmd_error("task %lld %s%s%s", (long long)id, res.status,
			  res.error ? ": " : "", res.error ? res.error : "");
out:
	orch_release(&o);
	runner_stop(&runner);
	if (b->json && cmd_print_task_json(b, id) != EXIT_OK && rc == EXIT_OK)
		rc = EXIT_FAILED;
	orch_result_release(&res);
	return rc;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "[TASK OPTIONS] PROMPT...",
	.summary = "create a task and execute it now, in the foreground",
	.help = TASK_OPTIONS_HELP
	"\nThe agent's output is streamed unless -q; --json prints the "
	"finished\n"
	"task with its runs instead.  Options go before the prompt; the\n"
	"prompt's words are joined with spaces.\n"
	"\nexit status: 0 completed, 1 failed, 124 timed out, 127 agent not\n"
	"found, 130/143 interrupted, 2 usage, 3 config, 4 database.\n",
	.flags = CMD_NEEDS_DB,
	.exec = run_exec,
};
