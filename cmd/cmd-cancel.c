/*
 * baton cancel TASK...: stop running tasks (their runner terminates the
 * agent's process group) or drop pending ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_cancel_entry;

/* An item of cancel --json: {"id", "was", "status", "error"}. */
static json_t *
item(int64_t id, const struct task_change *ch, const char *status,
     const char *error)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "was",
			    ch->found ? json_string(task_status_name(ch->was))
				      : json_null());
	json_object_set_new(o, "status", cmd_json_str(status));
	json_object_set_new(o, "error", cmd_json_str(error));
	return o;
}

/*
 * Cancel task id and say how it went: a line, or an item of arr for
 * --json.  Returns EXIT_OK, EXIT_FAILED (nothing to cancel), EXIT_USAGE
 * (no such task) or EXIT_DB.
 */
static int
cancel_one(struct baton *b, json_t *arr, int64_t id)
{
	struct task_change ch;
	enum task_status final;
	const char *status = NULL;
	char *cause = NULL, *msg = NULL;
	int rc = EXIT_OK;

	if (task_cancel(b, id, &ch, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	if (!ch.found) {
		msg = xasprintf("no task %lld", (long long)id);
		rc = EXIT_USAGE;
	} else if (ch.was == TASK_PENDING) {
		status = task_status_name(TASK_CANCELLED);
		if (arr == NULL)
			printf("task %lld cancelled (it had not started)\n",
			       (long long)id);
	} else if (ch.was == TASK_RUNNING) {
		if (task_wait_end(b, id, &final)) {
			status = task_status_name(final);
			if (arr == NULL)
				printf("task %lld %s\n", (long long)id, status);
		} else {
			/* still running: the runner has the request */
			status = task_status_name(TASK_RUNNING);
			if (arr == NULL)
				printf("task %lld: cancel requested; its "
				       "runner has not stopped it yet\n",
				       (long long)id);
		}
	} else {
		msg = xasprintf("task %lld is %s; nothing to cancel",
				(long long)id, task_status_name(ch.was));
		status = task_status_name(ch.was);
		rc = EXIT_FAILED;
	}
	if (msg != NULL)
		cmd_error("%s", msg);
	if (arr != NULL)
		json_array_append_new(arr, item(id, &ch, status, msg));
	free(msg);
	return rc;
}

static int
cancel_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	json_t *arr;
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
	arr = b->json ? json_array() : NULL;
	for (i = optind; i < argc; i++) {
		task_parse_id(argv[i], &id);
		r = cancel_one(b, arr, id);
		if (r == EXIT_DB) {
			json_decref(arr);
			return r;
		}
		if (r == EXIT_USAGE || (r != EXIT_OK && rc == EXIT_OK))
			rc = r;
	}
	if (arr != NULL && cmd_print_json(arr) != 0 && rc == EXIT_OK)
		rc = EXIT_FAILED;
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
		"that.  A pending task is cancelled at once.\n"
		"--json: an array of {\"id\", \"was\", \"status\", "
		"\"error\"}, one per task.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = cancel_exec,
};
