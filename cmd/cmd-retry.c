/*
 * baton retry TASK...: requeue failed, cancelled, timed_out or
 * interrupted tasks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_retry_entry;

static int
retry_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	struct task_change *ch;
	char *cause = NULL;
	int64_t *ids;
	size_t n, i;
	int c, r, rc = EXIT_OK;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", longopts)) != -1)
		return cmd_option_error(&cmd_retry_entry, argv, longopts);
	if (optind >= argc)
		return cmd_usage_error(&cmd_retry_entry, "give task ids");
	n = (size_t)(argc - optind);
	ids = xcalloc(n, sizeof *ids);
	for (i = 0; i < n; i++) {
		if ((r = cmd_parse_task_id(&cmd_retry_entry, argv[optind + i],
					   &ids[i]))) {
			free(ids);
			return r;
		}
	}
	ch = xcalloc(n, sizeof *ch);
	if (task_retry(b, ids, n, ch, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		rc = EXIT_DB;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!ch[i].found) {
			cmd_error("no task %lld", (long long)ids[i]);
			rc = EXIT_USAGE;
		} else if (!ch[i].changed) {
			cmd_error("task %lld is %s; only failed, cancelled, "
				  "timed_out or interrupted tasks can be "
				  "retried",
				  (long long)ids[i],
				  task_status_name(ch[i].was));
			if (rc == EXIT_OK)
				rc = EXIT_FAILED;
		} else
			printf("task %lld requeued (was %s)\n",
			       (long long)ids[i], task_status_name(ch[i].was));
	}
out:
	free(ch);
	free(ids);
	return rc;
}

const struct cmd_entry cmd_retry_entry = {
	.name = "retry",
	.usage = "TASK...",
	.summary = "requeue failed, cancelled, timed_out or interrupted tasks",
	.help = "The tasks become pending again; 'baton work' runs them.\n",
	.flags = CMD_NEEDS_DB,
	.exec = retry_exec,
};
