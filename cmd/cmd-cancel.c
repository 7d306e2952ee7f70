/*
 * baton cancel TASK... | --all | --session S | --milestone M: stop
 * running tasks (their runner terminates the agent's process group) or
 * drop pending ones.
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

/* cancel TASK...: each one by id, in turn. */
static int
cancel_ids(struct baton *b, int argc, char **argv)
{
	json_t *arr;
	int64_t id;
	int i, rc = EXIT_OK, r;

	for (i = 0; i < argc; i++) {
		if ((r = cmd_parse_task_id(&cmd_cancel_entry, argv[i], &id)))
			return r;
	}
	arr = b->json ? json_array() : NULL;
	for (i = 0; i < argc; i++) {
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

/* The line for one task of a bulk cancel. */
static void
print_change(const struct task_change *c)
{
	if (c->was == TASK_PENDING)
		printf("task %lld cancelled (it had not started)\n",
		       (long long)c->id);
	else if (c->now != TASK_RUNNING)
		printf("task %lld %s\n", (long long)c->id,
		       task_status_name(c->now));
	else
		printf("task %lld: cancel requested; its runner has not "
		       "stopped it yet\n",
		       (long long)c->id);
}

/* cancel --all | --session S | --milestone M. */
static int
cancel_selected(struct baton *b, const struct task_select *sel)
{
	struct task_change *ch = NULL;
	char *cause = NULL;
	json_t *arr;
	size_t n, i, left = 0;
	int rc;

	if ((rc = task_cancel_select(b, sel, &ch, &n, &cause)) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	task_wait_all(b, ch, n);
	arr = b->json ? json_array() : NULL;
	for (i = 0; i < n; i++) {
		left += ch[i].now == TASK_RUNNING;
		if (arr != NULL)
			json_array_append_new(
				arr, item(ch[i].id, &ch[i],
					  task_status_name(ch[i].now), NULL));
		else
			print_change(&ch[i]);
	}
	free(ch);
	if (arr != NULL)
		return cmd_print_json(arr) == 0 ? EXIT_OK : EXIT_FAILED;
	if (n == 0)
		printf("no tasks to cancel\n");
	else if (left > 0)
		printf("cancelled %zu task%s; %zu still stopping\n", n - left,
		       n - left == 1 ? "" : "s", left);
	else
		printf("cancelled %zu task%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

enum { OPT_ALL = 256, OPT_SESS, OPT_MS };

static const struct option cancel_options[] = {
	{"all", no_argument, NULL, OPT_ALL},
	{"session", required_argument, NULL, OPT_SESS},
	{"milestone", required_argument, NULL, OPT_MS},
	{NULL, 0, NULL, 0},
};

static int
cancel_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &cmd_cancel_entry;
	struct task_select sel = {0};
	const char *ms = NULL;
	int c, r, all = 0;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", cancel_options)) != -1) {
		if (c == OPT_ALL)
			all = 1;
		else if (c == OPT_SESS)
			sel.session = optarg;
		else if (c == OPT_MS)
			ms = optarg;
		else
			return cmd_option_error(e, argv, cancel_options);
	}
	if (all + (sel.session != NULL) + (ms != NULL) > 1)
		return cmd_usage_error(e, "give one of --all, --session and "
					  "--milestone");
	if (optind < argc && (all || sel.session != NULL || ms != NULL))
		return cmd_usage_error(e, "give task ids or --all, --session "
					  "or --milestone, not both");
	if (optind < argc)
		return cancel_ids(b, argc - optind, argv + optind);
	if (!all && sel.session == NULL && ms == NULL)
		return cmd_usage_error(e, "give task ids, --all, --session or "
					  "--milestone");
	if (ms != NULL && (r = cmd_milestone_id(b, e, ms, &sel.milestone_id)))
		return r;
	return cancel_selected(b, &sel);
}

const struct cmd_entry cmd_cancel_entry = {
	.name = "cancel",
	.usage = "TASK... | --all | --session S | --milestone M",
	.summary = "stop running tasks or drop pending ones",
	.help = "A running task's runner stops the agent's process group "
		"(TERM,\n"
		"then KILL after kill_grace) and ends it 'cancelled'; cancel "
		"waits for\n"
		"that.  A pending task is cancelled at once.\n"
		"options:\n"
		"  --all              every pending and running task\n"
		"  --session S        the pending and running tasks of session "
		"S (name,\n"
		"                     id or id prefix)\n"
		"  --milestone M      the pending and running tasks of "
		"milestone M\n"
		"  --json             an array of {\"id\", \"was\", "
		"\"status\", \"error\"},\n"
		"                     one per task\n"
		"With a selector the pending tasks are cancelled in one "
		"transaction, the\n"
		"running ones stopped together; a summary line follows ('no "
		"tasks to\n"
		"cancel' when none matched; exit 0 either way).\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = cancel_exec,
	.options = cancel_options,
};
