/*
 * baton cancel TASK...: stop running tasks (their runner terminates the
 * agent's process group) or drop pending ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"

const struct cmd_entry cmd_cancel_entry;

static int
cancel_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	struct task_change ch;
	enum task_status final;
	char *cause = NULL;
	int64_t id;
	int c, i, rc = EXIT_OK, r;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", longopts)) != -1)
		return cmd_option_error(&cmd_cancel_entry, argv, longopts);
	if (optind >= argc)
		return cmd_usage_error(&cmd_cancel_entry, "give task ids");
	for (i = optind; i < argc; i++) {
		if ((r = cmd_parse_task_id(&cmd_cancel_entry, argv[i], &id)))
			return r;
	}
	for (i = optind; i < argc; i++) {
		task_parse_id(argv[i], &id);
		if (task_cancel(b, id, &ch, &cause) != 0) {
			cmd_error("%s", cause);
			free(cause);
			return EXIT_DB;
		}
		if (!ch.found) {
			cmd_error("no task %lld", (long long)id);
			rc = EXIT_USAGE;
		} else if (ch.was == TASK_PENDING) {
			printf("task %lld cancelled (it had not started)\n",
			       (long long)id);
		} else if (ch.was == TASK_RUNNING) {
			if (task_wait_end(b, id, &final))
				printf("task %lld %s\n", (long long)id,
				       task_status_name(final));
			else
				printf("task %lld: cancel requested; its "
				       "runner has not stopped it yet\n",
				       (long long)id);
		} else {
			cmd_error("task %lld is %s; nothing to cancel",
				  (long long)id, task_status_name(ch.was));
			if (rc == EXIT_OK)
				rc = EXIT_FAILED;
		}
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
