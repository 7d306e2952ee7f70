/*
 * baton db backup FILE | db vacuum | db copy SRC DST: the database as a
 * whole (SPEC §6, §10).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/common.h"
#include "core/dbcopy.h"
#include "core/prune.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

static int db_backup_exec(struct baton *, int, char **);
static int db_vacuum_exec(struct baton *, int, char **);
static int db_copy_exec(struct baton *, int, char **);

static const struct cmd_entry db_copy_entry = {
	.name = "copy",
	.usage = "SRC DST",
	.summary = "copy a queue into another store (SQLite <-> PostgreSQL)",
	.help = "Copies every task, run, session, chain, event, milestone "
		"and runner of SRC\ninto DST with their ids, in one "
		"transaction: an SQLite file path or a\npostgres:// URL "
		"each.  DST must be empty (a new file is created); SRC\nis "
		"only read.  Stop the runners of SRC first: what they do "
		"meanwhile is\nnot copied.  The output the database keeps of "
		"runs (PostgreSQL) is not\ncopied; log files stay where "
		"they are.\n",
	.flags = CMD_NEEDS_CONFIG,
	.exec = db_copy_exec,
};

static const struct cmd_entry db_backup_entry = {
	.name = "backup",
	.usage = "FILE",
	.summary = "an online consistent copy of the database",
	.help = "Copies the database as it is at one instant to FILE, a new "
		"file (mode 0600;\none that exists is refused, exit 2), "
		"with SQLite's backup API, a few MiB at a\ntime, while "
		"other baton processes go on working: they are not "
		"blocked.\nThe copy is a database baton opens like any "
		"other (--db FILE).\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY,
	.exec = db_backup_exec,
};

static const struct cmd_entry db_vacuum_entry = {
	.name = "vacuum",
	.usage = "",
	.summary = "rebuild the database to give its free space back",
	.help = "VACUUM, then PRAGMA wal_checkpoint(TRUNCATE).  Other baton "
		"processes wait\nwhile it runs (at most db.busy_timeout, "
		"then they fail): run it after a\nbig 'baton prune', not "
		"beside a busy 'baton work'.\n"
		"  --json   {\"bytes_before\", \"bytes_after\"}\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = db_vacuum_exec,
};

static const struct cmd_entry *const db_subcmds[] = {
	&db_backup_entry,
	&db_copy_entry,
	&db_vacuum_entry,
	NULL,
};

const struct cmd_entry cmd_db_entry = {
	.name = "db",
	.usage = "backup|copy|vacuum ...",
	.summary = "back up, copy or vacuum the database",
	.subcmds = db_subcmds,
};

/* No options at all; nargs operands.  -1 to go on, else an exit status. */
static int
operands(const struct cmd_entry *e, int argc, char **argv, int nargs)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};

	optind = 0;
	if (cmd_getopt(argc, argv, "", longopts) != -1)
		return cmd_option_error(e, argv, longopts);
	if (argc - optind > nargs)
		return cmd_usage_error(e, "unexpected argument '%s'",
				       argv[optind + nargs]);
	if (argc - optind < nargs)
		return cmd_usage_error(e, "FILE is required");
	return -1;
}

static int
db_backup_exec(struct baton *b, int argc, char **argv)
{
	char *cause = NULL;
	int rc;

	if ((rc = operands(&db_backup_entry, argc, argv, 1)) >= 0)
		return rc;
	if ((rc = backup_run(b, argv[optind], &cause)) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	if (b->verbosity >= 0)
		printf("backed up %s to %s\n", store_path(b->db), argv[optind]);
	return EXIT_OK;
}

static int
db_vacuum_exec(struct baton *b, int argc, char **argv)
{
	int64_t before, after;
	char *cause = NULL, *x, *y;
	int rc;

	if ((rc = operands(&db_vacuum_entry, argc, argv, 0)) >= 0)
		return rc;
	if ((rc = vacuum_run(b, &before, &after, &cause)) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	if (b->json) {
		json_t *o = json_object();

		json_object_set_new(o, "bytes_before", json_integer(before));
		json_object_set_new(o, "bytes_after", json_integer(after));
		return cmd_print_json(o) == 0 ? EXIT_OK : EXIT_FAILED;
	}
	if (b->verbosity >= 0) {
		x = prune_format_bytes(before);
		y = prune_format_bytes(after);
		printf("vacuumed %s: %s before, %s after\n", store_path(b->db),
		       x, y);
		free(x);
		free(y);
	}
	return EXIT_OK;
}

static int
db_copy_exec(struct baton *b, int argc, char **argv)
{
	int64_t rows[8] = {0};
	char *cause = NULL, *from, *to;
	int rc;

	if ((rc = operands(&db_copy_entry, argc, argv, 2)) >= 0)
		return rc;
	if ((rc = db_copy(b, argv[optind], argv[optind + 1], rows, &cause))) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	if (b->verbosity >= 0) {
		from = text_url_mask(argv[optind]);
		to = text_url_mask(argv[optind + 1]);
		printf("copied %s to %s: %lld tasks, %lld runs, %lld sessions, "
		       "%lld events, %lld milestones, %lld runners\n",
		       from, to, (long long)rows[3], (long long)rows[4],
		       (long long)rows[2], (long long)rows[6],
		       (long long)rows[1], (long long)rows[0]);
		free(from);
		free(to);
	}
	return EXIT_OK;
}
