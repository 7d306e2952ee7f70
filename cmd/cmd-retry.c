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

/*
 * Say how retrying task id went: a line, or an item of arr for --json
 * ({"id", "was", "status", "error"}).  Returns 1 if it was not retried.
 */
static int
report(json_t *arr, int64_t id, const struct task_change *ch)
{
	char *msg = NULL;
	json_t *o;

	if (!ch->found)
		msg = xasprintf("no task %lld", (long long)id);
	else if (!ch->changed)
		msg = xasprintf("task %lld is %s; only failed, cancelled, "
				"timed_out or interrupted tasks can be "
				"retried",
				(long long)id, task_status_name(ch->was));
	if (msg != NULL)
		cmd_error("%s", msg);
	else if (arr == NULL)
		printf("task %lld requeued (was %s)\n", (long long)id,
		       task_status_name(ch->was));
	if (arr != NULL) {
		o = json_object();
		json_object_set_new(o, "id", json_integer(id));
		json_object_set_new(
			o, "was",
			ch->found ? json_string(task_status_name(ch->was))
				  : json_null());
		json_object_set_new(
			o, "status",
			!ch->found ? json_null()
			: ch->changed
				? json_string(task_status_name(TASK_PENDING))
				: json_string(task_status_name(ch->was)));
		json_object_set_new(o, "error", cmd_json_str(msg));
		json_array_append_new(arr, o);
	}
	free(msg);
	return !ch->found || !ch->changed;
}

static int
retry_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	struct task_change *ch;
	char *cause = NULL;
	json_t *arr;
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
	arr = b->json ? json_array() : NULL;
	for (i = 0; i < n; i++) {
		if (report(arr, ids[i], &ch[i]) && rc == EXIT_OK)
			rc = ch[i].found ? EXIT_FAILED : EXIT_USAGE;
		if (!ch[i].found)
			rc = EXIT_USAGE;
	}
	if (arr != NULL && cmd_print_json(arr) != 0 && rc == EXIT_OK)
		rc = EXIT_FAILED;
out:
	free(ch);
	free(ids);
	return rc;
}

const struct cmd_entry cmd_retry_entry = {
	.name = "retry",
	.usage = "TASK...",
	.summary = "requeue failed, cancelled, timed_out or interrupted tasks",
	.help = "The tasks become pending again; 'baton work' runs them.\n"
		"--json: an array of {\"id\", \"was\", \"status\", "
		"\"error\"}, one per task.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = retry_exec,
};
