/*
 * baton doctor [--fix] [--json]: check the S7 invariants and the
 * database's integrity.  Exit 1 if anything is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "core/doctor.h"
#include "core/prune.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_doctor_entry;

/* The write-ahead log's state, for --json. */
static json_t *
wal_json(struct baton *b, const struct doctor_report *r)
{
	json_t *o = json_object(), *by = json_array();
	char *path = xasprintf("%s-wal", b->db_path);
	size_t i;

	json_object_set_new(o, "path", cmd_json_str(path));
	json_object_set_new(o, "bytes", json_integer(r->wal.bytes));
	json_object_set_new(o, "frames", json_integer(r->wal.frames));
	json_object_set_new(o, "checkpointed",
			    json_integer(r->wal.checkpointed));
	json_object_set_new(o, "blocked", json_boolean(r->wal.busy));
	for (i = 0; i < r->openers.n; i++)
		json_array_append_new(by, cmd_json_str(r->openers.v[i]));
	json_object_set_new(o, "open_by", by);
	free(path);
	return o;
}

/* A log that a reader keeps from being checkpointed: a warning, not a
 * problem (it goes once the reader ends), naming who has it open. */
static void
wal_text(struct baton *b, const struct doctor_report *r)
{
	char *size, *who;

	if (!r->wal.busy)
		return;
	size = prune_format_bytes(r->wal.bytes);
	printf("warning: the write-ahead log %s-wal (%s) cannot be "
	       "checkpointed: ",
	       b->db_path, size);
	if (r->wal.frames > r->wal.checkpointed && r->wal.checkpointed >= 0)
		printf("%lld of its %lld pages are held by another "
		       "connection's read transaction, and it grows until "
		       "that ends\n",
		       (long long)(r->wal.frames - r->wal.checkpointed),
		       (long long)r->wal.frames);
	else
		printf("another connection is in the way\n");
	if (r->openers.n > 0) {
		who = text_join((const char *const *)r->openers.v);
		printf("warning: processes with the database open: %s%s\n", who,
		       r->nopeners > (int)r->openers.n ? ", ..." : "");
		free(who);
	}
	free(size);
}

/* The report as JSON (SPEC §6: doctor --json). */
static int
print_json(struct baton *b, const struct doctor_report *r, int n)
{
	json_t *o = json_object(), *arr = json_array(), *p;
	size_t i;

	if (r->damaged) {
		p = json_object();
		json_object_set_new(p, "kind", json_string("integrity"));
		json_object_set_new(p, "problem",
				    json_string(r->integrity ? r->integrity
							     : "integrity "
							       "check failed"));
		json_array_append_new(arr, p);
	}
	for (i = 0; i < r->problems.n; i++) {
		p = json_object();
		json_object_set_new(p, "kind", cmd_json_str(r->kinds.v[i]));
		json_object_set_new(p, "problem",
				    cmd_json_str(r->problems.v[i]));
		json_array_append_new(arr, p);
	}
	json_object_set_new(o, "ok", json_boolean(n + r->damaged == 0));
	json_object_set_new(o, "fixed", json_boolean(r->fixed));
	json_object_set_new(o, "problems", arr);
	json_object_set_new(o, "wal", wal_json(b, r));
	return cmd_print_json(o) == 0 ? 0 : -1;
}

static void
print_text(struct baton *b, const struct doctor_report *r, int n, int fix)
{
	size_t i;

	if (r->damaged)
		printf("problem: %s\n",
		       r->integrity ? r->integrity : "integrity check failed");
	for (i = 0; i < r->problems.n; i++)
		printf("problem: %s\n", r->problems.v[i]);
	if (n + r->damaged == 0) {
		printf("ok: no problems found in %s\n", store_path(b->db));
		return;
	}
	if (n > 0)
		printf("%d problem%s%s\n", n, n == 1 ? "" : "s",
		       fix ? " found and fixed"
			   : " found; 'baton doctor --fix' repairs them");
	if (r->damaged)
		printf("the database file is damaged: restore it from a "
		       "backup, or try the SQLite shell's .recover\n");
}

enum { OPT_FIX = 256 };
static const struct option doctor_options[] = {
	{"fix", no_argument, NULL, OPT_FIX},
	{NULL, 0, NULL, 0},
};

static int
doctor_exec(struct baton *b, int argc, char **argv)
{
	struct doctor_report r;
	char *cause = NULL;
	int c, fix = 0, n, rc = 0;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", doctor_options)) != -1) {
		if (c != OPT_FIX)
			return cmd_option_error(&cmd_doctor_entry, argv,
						doctor_options);
		fix = 1;
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_doctor_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	if (doctor_check(b, fix, &r, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	n = (int)r.problems.n;
	if (b->json)
		rc = print_json(b, &r, n);
	else {
		print_text(b, &r, n, fix);
		wal_text(b, &r);
	}
	c = r.damaged || (n > 0 && !fix) ? EXIT_FAILED : EXIT_OK;
	doctor_report_release(&r);
	return rc != 0 ? EXIT_FAILED : c;
}

const struct cmd_entry cmd_doctor_entry = {
	.name = "doctor",
	.usage = "[--fix] [--json]",
	.summary = "check the session invariants and the database",
	.help = "Checks PRAGMA integrity_check and that there is no active "
		"temp\n"
		"session without a pending or running task, no running task "
		"whose\n"
		"runner is gone, no lease held by a gone runner, no run "
		"without an\n"
		"end once its runner is gone.  Exit 1 if a problem is found.\n"
		"  --fix    repair what it finds (exit 0 once repaired)\n"
		"  --json   {\"ok\", \"fixed\", \"problems\": [{\"kind\", "
		"\"problem\"}]}\n",
	.flags = CMD_NEEDS_DB | CMD_JSON | CMD_REAP_WARN,
	.exec = doctor_exec,
	.options = doctor_options,
};
