/*
 * baton prune --older-than DUR [--dry-run]: delete finished tasks, their
 * runs, logs and the ended sessions nothing uses any more (SPEC §6).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/common.h"
#include "core/prune.h"
#include "lib/clock.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_prune_entry;

static int
print_json(const struct prune_result *r, int dry_run, int64_t older,
	   int64_t before)
{
	json_t *o = json_object();
	char *d = duration_format(older);

	json_object_set_new(o, "dry_run", json_boolean(dry_run));
	json_object_set_new(o, "older_than", json_string(d));
	json_object_set_new(o, "finished_before", cmd_json_time(before));
	json_object_set_new(o, "tasks", json_integer(r->rows.tasks));
	json_object_set_new(o, "runs", json_integer(r->rows.runs));
	json_object_set_new(o, "events", json_integer(r->rows.events));
	json_object_set_new(o, "sessions", json_integer(r->rows.sessions));
	json_object_set_new(o, "chain_links", json_integer(r->rows.links));
	json_object_set_new(o, "files", json_integer(r->files.files));
	json_object_set_new(o, "directories", json_integer(r->files.dirs));
	json_object_set_new(o, "bytes", json_integer(r->files.bytes));
	json_object_set_new(o, "orphan_directories", json_integer(r->orphans));
	json_object_set_new(o, "transactions", json_integer(r->transactions));
	json_object_set_new(o, "longest_hold_ms",
			    json_integer(r->longest_hold_ms));
	json_object_set_new(o, "holds_over_100ms",
			    json_integer(r->holds_over_100ms));
	free(d);
	return cmd_print_json(o) == 0 ? EXIT_OK : EXIT_FAILED;
}

enum { OPT_OLDER = 256, OPT_DRY };
static const struct option prune_longopts[] = {
	{"older-than", required_argument, NULL, OPT_OLDER},
	{"dry-run", no_argument, NULL, OPT_DRY},
	{NULL, 0, NULL, 0},
};

/* Options into *older and *dry_run; -1 to go on, else an exit status. */
static int
parse(int argc, char **argv, int64_t *older, int *dry_run)
{
	const struct cmd_entry *e = &cmd_prune_entry;
	int c, given = 0;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", prune_longopts)) != -1) {
		if (c == OPT_DRY)
			*dry_run = 1;
		else if (c != OPT_OLDER)
			return cmd_option_error(e, argv, prune_longopts);
		else if (duration_parse(optarg, older) != 0)
			return cmd_usage_error(e,
					       "bad duration '%s' for "
					       "--older-than (90s, 15m, "
					       "2h, 30d)",
					       optarg);
		else
			given = 1;
	}
	if (optind < argc)
		return cmd_usage_error(e, "unexpected argument '%s'",
				       argv[optind]);
	if (!given)
		return cmd_usage_error(e, "--older-than DUR is required");
	return -1;
}

static int
prune_exec(struct baton *b, int argc, char **argv)
{
	struct prune_options opt = {0};
	struct prune_result r;
	struct strvec warnings;
	char *cause = NULL, *line;
	size_t i;
	int rc;

	if ((rc = parse(argc, argv, &opt.older_than_ms, &opt.dry_run)) >= 0)
		return rc;
	opt.now = clock_now_ms();
	strvec_init(&warnings);
	rc = prune_run(b, b->db, &opt, &r, &warnings, &cause);
	for (i = 0; i < warnings.n; i++)
		cmd_warn(b, "%s", warnings.v[i]);
	strvec_release(&warnings);
	if (rc != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	if (b->json)
		return print_json(&r, opt.dry_run, opt.older_than_ms,
				  opt.now - opt.older_than_ms);
	if (b->verbosity >= 0) {
		line = prune_summary(&r, opt.dry_run);
		printf("%s%s\n", opt.dry_run ? "dry run: " : "", line);
		free(line);
	}
	return EXIT_OK;
}

const struct cmd_entry cmd_prune_entry = {
	.name = "prune",
	.usage = "--older-than DUR [--dry-run] [--json]",
	.summary = "delete finished tasks, their runs, logs and ended "
		   "sessions",
	.help = "options:\n"
		"  --older-than DUR  tasks that finished longer ago than DUR "
		"(90s, 15m, 2h, 30d)\n"
		"  --dry-run         say what would be removed, change "
		"nothing\n"
		"  --json            counts as one JSON object\n"
		"\nDeletes completed, failed, cancelled, timed out and "
		"interrupted tasks that\nfinished more than DUR ago, their "
		"runs, their log, prompt and result files\nand the events "
		"about nothing else; then the closed, expired and "
		"abandoned\nsessions that ended more than DUR ago and no "
		"task uses any more, with their\nchains and session "
		"directories.  Pending and running tasks and active "
		"sessions\nare never touched.  Rows go first, a batch of "
		"1000 per transaction, then their\nfiles.  The database "
		"file keeps its size: 'baton db vacuum' gives the space\n"
		"back.  logs.retention makes 'baton work' do this by "
		"itself.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.options = prune_longopts,
	.exec = prune_exec,
};
