/*
 * baton retry TASK...: requeue failed, cancelled, timed_out or
 * interrupted tasks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"

const struct cmd_entry cmd_retry_entry;

static int
retry_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	static const char *const ok[] = {"failed", "cancelled", "timed_out",
					 "interrupted", NULL};
	struct db_task t = {0};
	char *cause = NULL;
	int64_t id;
	int c, i, k, found, r, rc = EXIT_OK;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		return cmd_option_error(&cmd_retry_entry, argv, longopts);
	if (optind >= argc)
		return cmd_usage_error(&cmd_retry_entry, "give task ids");
	for (i = optind; i < argc; i++) {
		if ((r = cmd_parse_task_id(&cmd_retry_entry, argv[i], &id)))
			return r;
	}
	if (db_begin(b->db, &cause) != 0)
		goto dberr;
	for (i = optind; i < argc; i++) {
		task_parse_id(argv[i], &id);
		if (db_task_get(b->db, id, &t, &found, &cause) != 0)
			goto dberr;
		if (!found) {
			cmd_error("no task %lld", (long long)id);
			rc = EXIT_USAGE;
			continue;
		}
		for (k = 0; ok[k] != NULL; k++) {
			if (strcmp(ok[k], t.status) == 0)
				break;
		}
		if (ok[k] == NULL) {
			cmd_error("task %lld is %s; only failed, cancelled, "
				  "timed_out or interrupted tasks can be "
				  "retried",
				  (long long)id, t.status);
			if (rc == EXIT_OK)
				rc = EXIT_FAILED;
		} else if (db_task_requeue(b->db, id, &cause) != 0)
			goto dberr;
		else
			printf("task %lld requeued (was %s)\n", (long long)id,
			       t.status);
		db_task_release(&t);
	}
	if (db_commit(b->db, &cause) != 0)
		goto dberr;
	return rc;
dberr:
	db_task_release(&t);
	db_rollback(b->db);
	cmd_error("%s", cause);
	free(cause);
	return EXIT_DB;
}

const struct cmd_entry cmd_retry_entry = {
	.name = "retry",
	.usage = "TASK...",
	.summary = "requeue failed, cancelled, timed_out or interrupted tasks",
	.help = "The tasks become pending again; 'baton work' runs them.\n",
	.flags = CMD_NEEDS_DB,
	.exec = retry_exec,
};
