/*
 * baton retry TASK... | --failed | --status S,S... [--milestone M]:
 * requeue failed, cancelled, timed_out or interrupted tasks.
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

/* retry TASK...: each one by id. */
static int
retry_ids(struct baton *b, int argc, char **argv)
{
	struct task_change *ch;
	char *cause = NULL;
	json_t *arr;
	int64_t *ids;
	size_t n, i;
	int r, rc = EXIT_OK;

	n = (size_t)argc;
	ids = xcalloc(n, sizeof *ids);
	for (i = 0; i < n; i++) {
		if ((r = cmd_parse_task_id(&cmd_retry_entry, argv[i],
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

/* retry --failed | --status S,S... [--milestone M]: every such task. */
static int
retry_selected(struct baton *b, const struct task_select *sel)
{
	struct task_change *ch = NULL;
	char *cause = NULL;
	json_t *arr;
	size_t n, i;
	int rc, ret = EXIT_OK;

	rc = task_retry_select(b, sel, &ch, &n, &cause);
	arr = b->json ? json_array() : NULL;
	for (i = 0; i < n; i++)
		report(arr, ch[i].id, &ch[i]);
	if (arr != NULL && cmd_print_json(arr) != 0)
		ret = EXIT_FAILED;
	else if (arr == NULL && n == 0 && rc == 0)
		printf("no tasks to retry\n");
	else if (arr == NULL && rc == 0)
		printf("requeued %zu task%s\n", n, n == 1 ? "" : "s");
	if (rc != 0) {
		cmd_error("%s", cause);
		free(cause);
		ret = cmd_exit_code(rc);
	}
	free(ch);
	return ret;
}

enum { OPT_FAILED = 256, OPT_STATUS, OPT_MS };

static const struct option retry_options[] = {
	{"failed", no_argument, NULL, OPT_FAILED},
	{"status", required_argument, NULL, OPT_STATUS},
	{"milestone", required_argument, NULL, OPT_MS},
	{NULL, 0, NULL, 0},
};

/* Check what was given together; -1 to go on, or EXIT_USAGE. */
static int
check_selectors(int failed, const char *statuses, const char *ms, int nids)
{
	const struct cmd_entry *e = &cmd_retry_entry;

	if (failed && statuses != NULL)
		return cmd_usage_error(e,
				       "give --failed or --status, not both");
	if (nids > 0 && (failed || statuses != NULL || ms != NULL))
		return cmd_usage_error(e, "give task ids or --failed, "
					  "--status and --milestone, not both");
	if (ms != NULL && !failed && statuses == NULL)
		return cmd_usage_error(e, "--milestone needs --failed or "
					  "--status");
	if (nids == 0 && !failed && statuses == NULL)
		return cmd_usage_error(e,
				       "give task ids, --failed or --status");
	return -1;
}

static int
retry_exec(struct baton *b, int argc, char **argv)
{
	struct task_select sel = {0};
	const char *statuses = NULL, *ms = NULL;
	int c, r, failed = 0;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", retry_options)) != -1) {
		if (c == OPT_FAILED)
			failed = 1;
		else if (c == OPT_MS)
			ms = optarg;
		else if (c != OPT_STATUS)
			return cmd_option_error(&cmd_retry_entry, argv,
						retry_options);
		else if ((r = cmd_parse_statuses(&cmd_retry_entry,
						 statuses = optarg,
						 &sel.status_mask)) >= 0)
			return r;
	}
	if ((r = check_selectors(failed, statuses, ms, argc - optind)) >= 0)
		return r;
	if (argc > optind)
		return retry_ids(b, argc - optind, argv + optind);
	if (failed)
		sel.status_mask = TASK_MASK_FAILED;
	if (ms != NULL && (r = cmd_milestone_id(b, &cmd_retry_entry, ms,
						&sel.milestone_id)) != 0)
		return r;
	return retry_selected(b, &sel);
}

const struct cmd_entry cmd_retry_entry = {
	.name = "retry",
	.usage = "TASK... | --failed | --status S,S... [--milestone M]",
	.summary = "requeue failed, cancelled, timed_out or interrupted tasks",
	.help = "The tasks become pending again; 'baton work' runs them.\n"
		"options:\n"
		"  --failed           every failed or timed_out task\n"
		"  --status S,S...    every task with these statuses (failed "
		"cancelled\n"
		"                     timed_out interrupted)\n"
		"  --milestone M      with --failed or --status: only tasks of "
		"milestone M\n"
		"  --json             an array of {\"id\", \"was\", "
		"\"status\", \"error\"},\n"
		"                     one per task\n"
		"With --failed or --status, a summary line follows the tasks "
		"('no tasks\n"
		"to retry' when none matched; exit 0 either way).\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = retry_exec,
	.options = retry_options,
};
