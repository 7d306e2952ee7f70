/*
 * baton cancel TASK...: stop running tasks (their runner terminates the
 * agent's process group) or drop pending ones.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "core/config.h"
#include "lib/clock.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_cancel_entry;

/*
 * Wait for the runner to end a running task: its agent gets TERM at the
 * runner's next look at the task, KILL after its profile's kill_grace.
 * Returns the final status, or NULL if it is still running.
 */
static char *
wait_end(struct baton *b, int64_t id)
{
	const struct agent_profile *p;
	struct db_task t = {0};
	int64_t end, grace = b->cfg->defaults.kill_grace_ms;
	char *cause = NULL, *status = NULL;
	int found;

	if (db_task_get(b->db, id, &t, &found, &cause) != 0) {
		free(cause);
		return NULL;
	}
	p = found && t.agent != NULL ? config_agent(b->cfg, t.agent) : NULL;
	if (p != NULL && p->kill_grace_ms > 0)
		grace = p->kill_grace_ms;
	db_task_release(&t);
	end = clock_mono_ms() + grace + 10000;
	while (clock_mono_ms() < end) {
		if (db_task_get(b->db, id, &t, &found, &cause) != 0) {
			free(cause);
			return NULL;
		}
		if (!found || strcmp(t.status, "running") != 0) {
			status = found ? xstrdup(t.status) : NULL;
			db_task_release(&t);
			return status;
		}
		db_task_release(&t);
		poll(NULL, 0, 100);
	}
	return NULL;
}

static int
cancel_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	char *cause = NULL, *status = NULL, *final;
	int64_t id;
	int c, i, rc = EXIT_OK, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		return cmd_option_error(&cmd_cancel_entry, argv, longopts);
	if (optind >= argc)
		return cmd_usage_error(&cmd_cancel_entry, "give task ids");
	for (i = optind; i < argc; i++) {
		if ((r = cmd_parse_task_id(&cmd_cancel_entry, argv[i], &id)))
			return r;
	}
	for (i = optind; i < argc; i++) {
		task_parse_id(argv[i], &id);
		if (db_begin(b->db, &cause) != 0 ||
		    db_task_cancel(b->db, id, clock_now_ms(), &status,
				   &cause) != 0 ||
		    db_commit(b->db, &cause) != 0) {
			db_rollback(b->db);
			cmd_error("%s", cause);
			free(cause);
			return EXIT_DB;
		}
		if (status == NULL) {
			cmd_error("no task %lld", (long long)id);
			rc = EXIT_USAGE;
		} else if (strcmp(status, "pending") == 0) {
			printf("task %lld cancelled (it had not started)\n",
			       (long long)id);
		} else if (strcmp(status, "running") == 0) {
			final = wait_end(b, id);
			if (final == NULL) {
				printf("task %lld: cancel requested; its "
				       "runner has not stopped it yet\n",
				       (long long)id);
			} else
				printf("task %lld %s\n", (long long)id, final);
			free(final);
		} else {
			cmd_error("task %lld is %s; nothing to cancel",
				  (long long)id, status);
			if (rc == EXIT_OK)
				rc = EXIT_FAILED;
		}
		free(status);
		status = NULL;
	}
	return rc;
}

const struct cmd_entry cmd_cancel_entry = {
	.name = "cancel",
	.usage = "TASK...",
	.summary = "stop running tasks or drop pending ones",
	.help = "A running task's runner stops the agent's process group "
		"(TERM,\n"
		"then KILL after kill_grace) and ends it 'cancelled'; cancel "
		"waits for\n"
		"that.  A pending task is cancelled at once.\n",
	.flags = CMD_NEEDS_DB,
	.exec = cancel_exec,
};
