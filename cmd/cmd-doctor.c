/*
 * baton doctor [--fix] [--json]: check the S7 invariants and the
 * database's integrity.  Exit 1 if anything is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "lib/clock.h"

const struct cmd_entry cmd_doctor_entry;

struct found {
	struct baton *b;
	json_t *arr;
};

static void
problem(void *arg, const char *kind, const char *what)
{
	struct found *f = arg;
	json_t *o;

	if (f->arr != NULL) {
		o = json_object();
		json_object_set_new(o, "kind", json_string(kind));
		json_object_set_new(o, "problem", json_string(what));
		json_array_append_new(f->arr, o);
	} else
		printf("problem: %s\n", what);
}

enum { OPT_FIX = 256 };
static const struct option doctor_options[] = {
	{"fix", no_argument, NULL, OPT_FIX},
	{NULL, 0, NULL, 0},
};

static int
doctor_exec(struct baton *b, int argc, char **argv)
{
	struct found f = {0};
	char *cause = NULL, *report = NULL;
	int c, fix = 0, n = 0, ok = 0, damaged = 0;

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
	f.b = b;
	if (b->json)
		f.arr = json_array();
	if (store_integrity_check(b->db, &ok, &report, &cause) != 0)
		goto dberr;
	if (!ok) {
		/* not something --fix can repair */
		problem(&f, "integrity",
			report ? report
			       : "integrity check "
				 "failed");
		damaged = 1;
	}
	free(report);
	{
		int m = 0;

		if (store_doctor(b->db, fix, clock_now_ms(), problem, &f, &m,
				 &cause) != 0)
			goto dberr;
		n += m;
	}
	if (f.arr != NULL) {
		json_t *o = json_object();

		json_object_set_new(o, "ok", json_boolean(n + damaged == 0));
		json_object_set_new(o, "fixed", json_boolean(fix && n > 0));
		json_object_set_new(o, "problems", f.arr);
		if (cmd_print_json(o) != 0)
			return EXIT_FAILED;
	} else if (n + damaged == 0)
		printf("ok: no problems found in %s\n", b->db_path);
	else {
		if (n > 0)
			printf("%d problem%s%s\n", n, n == 1 ? "" : "s",
			       fix ? " found and fixed"
				   : " found; 'baton doctor --fix' repairs "
				     "them");
		if (damaged)
			printf("the database file is damaged: restore it from "
			       "a backup, or try the SQLite shell's "
			       ".recover\n");
	}
	return damaged || (n > 0 && !fix) ? EXIT_FAILED : EXIT_OK;
dberr:
	json_decref(f.arr);
	cmd_error("%s", cause);
	free(cause);
	return EXIT_DB;
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
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = doctor_exec,
	.options = doctor_options,
};
