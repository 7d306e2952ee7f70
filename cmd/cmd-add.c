/*
 * baton add [TASK OPTIONS] PROMPT... | add --from FILE: enqueue tasks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "core/taskfile.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_add_entry;

enum { OPT_FROM = OPT_TASK_LAST };

/* All tasks of a file in one transaction: one bad record adds nothing. */
static int
add_from(struct baton *b, const char *path)
{
	struct task_spec *specs = NULL;
	int64_t *ids = NULL;
	json_t *o, *arr;
	char *cause = NULL;
	size_t n = 0, i, added = 0;
	int rc;

	if (taskfile_load(path, &specs, &n, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_USAGE;
	}
	ids = xcalloc(n ? n : 1, sizeof *ids);
	rc = task_add_all(b, specs, n, ids, &added, &cause);
	for (i = 0; i < n; i++)
		task_spec_release(&specs[i]);
	free(specs);
	if (rc != 0) {
		cmd_error("%s%s", cause,
			  rc == -BERR_USAGE ? " (nothing was added)" : "");
		free(cause);
		free(ids);
		return cmd_exit_code(rc);
	}
	if (b->json) {
		o = json_object();
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_integer(ids[i]));
		json_object_set_new(o, "added",
				    json_integer((json_int_t)added));
		json_object_set_new(o, "existing",
				    json_integer((json_int_t)(n - added)));
		json_object_set_new(o, "ids", arr);
		free(ids);
		return cmd_print_json(o) == 0 ? EXIT_OK : EXIT_FAILED;
	}
	free(ids);
	if (b->verbosity >= 0)
		printf("added %zu task%s from %s\n", added,
		       added == 1 ? "" : "s", path);
	if (n - added > 0 && b->verbosity >= 0)
		printf("%zu task%s already there (same key)\n", n - added,
		       n - added == 1 ? " was" : "s were");
	return EXIT_OK;
}

static const struct option add_options[] = {
	TASK_LONG_OPTIONS,
	{"from", required_argument, NULL, OPT_FROM},
	{NULL, 0, NULL, 0},
};

static int
add_exec(struct baton *b, int argc, char **argv)
{
	struct task_spec spec = {0};
	struct db_task t = {0};
	const char *from = NULL;
	int64_t id;
	int c, rc, existed, any = 0;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "+", add_options)) != -1) {
		if (c == OPT_FROM)
			from = optarg;
		else if (cmd_task_option(&spec, c, optarg))
			any = 1;
		else {
			task_spec_release(&spec);
			return cmd_option_error(&cmd_add_entry, argv,
						add_options);
		}
	}
	if (from != NULL) {
		task_spec_release(&spec);
		if (any || optind < argc)
			return cmd_usage_error(&cmd_add_entry,
					       "--from takes no prompt or "
					       "task options (put them in "
					       "the file)");
		return add_from(b, from);
	}
	spec.prompt = cmd_join_words(argc - optind, argv + optind);
	rc = cmd_add_task(b, &spec, &t, &existed);
	task_spec_release(&spec);
	id = t.id;
	db_task_release(&t);
	if (rc != EXIT_OK)
		return rc;
	if (b->json)
		return cmd_print_task_json(b, id);
	if (existed && b->verbosity >= 0)
		cmd_warn(b, "a task with this key exists already: %lld",
			 (long long)id);
	printf("%lld\n", (long long)id);
	return EXIT_OK;
}

const struct cmd_entry cmd_add_entry = {
	.name = "add",
	.usage = "[TASK OPTIONS] PROMPT... | --from FILE",
	.summary = "enqueue a task (or every task of a file); print its id",
	.help = TASK_OPTIONS_HELP
	"  --from FILE           add every task of a YAML, JSON Lines or CSV\n"
	"                        file in one transaction (keys: the task\n"
	"                        options without dashes, e.g. prompt, key)\n"
	"\nPrints the new task's id (--json: the task object).  With --key, "
	"adding\n"
	"the same key again prints the existing task's id and adds nothing.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = add_exec,
	.options = add_options,
};
