/*
 * baton status [--json] [--milestone M] [--session S] [--status S,S...]
 * [--since T] [--last N | --all] [--summary]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
#include "cmd/table.h"
#include "lib/clock.h"
#include "lib/display.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_status_entry;

/* Tasks shown on a terminal unless --all or --last N. */
#define STATUS_TTY_LAST 50

/* Columns before the task's title: ID, STATUS, AGENT, TIME, WHEN. */
#define STATUS_FIXED_COLS 49

struct listing {
	struct baton *b;
	struct json_list json;
	int as_json;
	size_t title_cols;
	long long n;
	int64_t now;
};

/* The title, else the prompt's first line ("…" if more follows). */
static char *
what_of(const struct db_task *t)
{
	const char *nl;

	if (t->title != NULL)
		return xstrdup(t->title);
	if ((nl = strchr(t->prompt, '\n')) == NULL)
		return xstrdup(t->prompt);
	return xasprintf("%.*s \xe2\x80\xa6", (int)(nl - t->prompt), t->prompt);
}

static int
print_task(void *arg, const struct db_task *t)
{
	struct listing *l = arg;
	char el[32], when[32], *what;
	int64_t end;

	l->n++;
	if (l->as_json) {
		cmd_json_list_add(&l->json, cmd_task_json(t, NULL, 0, 0));
		return ferror(stdout) ? 1 : 0;
	}
	if (t->started_at != 0) {
		end = t->finished_at ? t->finished_at : l->now;
		cmd_format_elapsed(end - t->started_at, el, sizeof el);
	} else
		snprintf(el, sizeof el, "-");
	end = t->finished_at  ? t->finished_at
	      : t->started_at ? t->started_at
			      : t->created_at;
	time_ago(l->now - end, when, sizeof when);
	printf("%6lld  ", (long long)t->id);
	cmd_cell(l->b, task_status_name(t->status), 11, 12,
		 cmd_task_tone(t->status));
	cmd_cell(l->b, t->agent, 9, 10, TONE_PLAIN);
	printf("%-8s %-9s ", el, when);
	what = what_of(t);
	cmd_cell(l->b, what, l->title_cols, 0, TONE_PLAIN);
	free(what);
	putchar('\n');
	return ferror(stdout) ? 1 : 0;
}

struct counts {
	long long n[8];
};

static void
count(void *arg, enum task_status status, int64_t n)
{
	struct counts *c = arg;

	c->n[status] = n;
}

/* What status was asked for. */
struct status_args {
	struct db_task_filter f;
	const char *statuses; /* --status as given */
	int summary, all;
	const char *ms, *session;
};

enum {
	OPT_MS = 256,
	OPT_STATUS,
	OPT_SUMMARY,
	OPT_LIMIT,
	OPT_LAST,
	OPT_ALL,
	OPT_SINCE,
	OPT_SESS,
};

static const struct option status_options[] = {
	{"milestone", required_argument, NULL, OPT_MS},
	{"status", required_argument, NULL, OPT_STATUS},
	{"summary", no_argument, NULL, OPT_SUMMARY},
	{"limit", required_argument, NULL, OPT_LIMIT},
	{"last", required_argument, NULL, OPT_LAST},
	{"all", no_argument, NULL, OPT_ALL},
	{"since", required_argument, NULL, OPT_SINCE},
	{"session", required_argument, NULL, OPT_SESS},
	{NULL, 0, NULL, 0},
};

/* --since: an RFC 3339 time, or a duration meaning "that long ago". */
static int
parse_since(const char *arg, int64_t *since)
{
	int64_t d;

	if (duration_parse(arg, &d) == 0) {
		*since = clock_now_ms() - d;
		return 0;
	}
	return time_parse(arg, since);
}

/* Apply option c with optarg; -1 to go on, or an exit status. */
static int
apply_option(struct status_args *a, int c, const char *arg)
{
	const struct cmd_entry *e = &cmd_status_entry;
	long long n;

	switch (c) {
	case OPT_MS:
		a->ms = arg;
		return -1;
	case OPT_SESS:
		a->session = arg;
		return -1;
	case OPT_STATUS:
		a->statuses = arg;
		return cmd_parse_statuses(e, arg, &a->f.status_mask);
	case OPT_SUMMARY:
		a->summary = 1;
		return -1;
	case OPT_ALL:
		a->all = 1;
		return -1;
	case OPT_SINCE:
		if (parse_since(arg, &a->f.since) == 0)
			return -1;
		return cmd_usage_error(e,
				       "invalid --since '%s': a time "
				       "(2026-11-21T17:00:00Z) or a duration "
				       "(2h, 1d)",
				       arg);
	case OPT_LIMIT:
	case OPT_LAST:
		if (text_parse_int(arg, 1, INT64_MAX, &n) != 0)
			return cmd_usage_error(e,
					       "invalid --%s '%s': give a "
					       "whole number of tasks, 1 or "
					       "more",
					       c == OPT_LAST ? "last" : "limit",
					       arg);
		*(c == OPT_LAST ? &a->f.last : &a->f.limit) = n;
		return -1;
	}
	return EXIT_USAGE;
}

/* Read the options into a.  Returns -1 to go on, or an exit status. */
static int
parse_options(struct status_args *a, int argc, char **argv)
{
	int c, rc;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", status_options)) != -1) {
		if (c == '?' || c == ':')
			return cmd_option_error(&cmd_status_entry, argv,
						status_options);
		if ((rc = apply_option(a, c, optarg)) >= 0)
			return rc;
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_status_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	if (a->all && a->f.last > 0)
		return cmd_usage_error(&cmd_status_entry,
				       "give --all or --last, not both");
	return -1;
}

static int
db_error(char *cause)
{
	cmd_error("%s", cause);
	free(cause);
	return EXIT_DB;
}

/* --summary: the number of tasks in each status, of the tasks the
 * list would show (every filter, --last and --limit too); an exit
 * status. */
static int
print_summary(struct baton *b, const struct db_task_filter *f)
{
	struct counts cn = {{0}};
	char *cause = NULL;
	int i;

	if (store_task_count_by_status(b->db, f, count, &cn, &cause) != 0)
		return db_error(cause);
	if (b->json) {
		json_t *o = json_object();

		for (i = 0; i < TASK_NSTATUS; i++)
			json_object_set_new(
				o, task_status_name((enum task_status)i),
				json_integer(cn.n[i]));
		return cmd_print_json(o) == 0 ? EXIT_OK : EXIT_FAILED;
	}
	for (i = 0; i < TASK_NSTATUS; i++) {
		cmd_cell(b, task_status_name((enum task_status)i),
			 DISPLAY_NOLIMIT, 13,
			 cmd_task_tone((enum task_status)i));
		printf("%lld\n", cn.n[i]);
	}
	return EXIT_OK;
}

/* After the last N rows: how many matching tasks came before them. */
static int
print_more(struct baton *b, const struct status_args *a, long long shown)
{
	struct db_task_filter f = a->f;
	char *cause = NULL, num[32];
	int64_t total;

	if (store_task_count(b->db, &f, &total, &cause) != 0)
		return db_error(cause);
	if (total > shown)
		printf("... %s earlier task%s not shown (--all, or --last N)\n",
		       display_count(total - shown, num, sizeof num),
		       total - shown == 1 ? "" : "s");
	return EXIT_OK;
}

/* The tasks a->f selects, a table or a JSON array; an exit status. */
static int
print_list(struct baton *b, const struct status_args *a)
{
	struct db_task_filter f = a->f;
	struct listing l = {0};
	size_t cols = cmd_columns();
	char *cause = NULL;

	f.with_answer = b->json; /* "answer" of the task objects */
	l.b = b;
	l.now = clock_now_ms();
	l.as_json = b->json;
	l.title_cols = cols == DISPLAY_NOLIMIT ? DISPLAY_NOLIMIT
		       : cols > STATUS_FIXED_COLS + 10
			       ? cols - STATUS_FIXED_COLS
			       : 10;
	if (l.as_json)
		cmd_json_list_begin(&l.json);
	else
		printf("%6s  %-11s %-9s %-8s %-9s %s\n", "ID", "STATUS",
		       "AGENT", "TIME", "WHEN", "TASK");
	if (store_task_each(b->db, &f, print_task, &l, &cause) != 0)
		return db_error(cause);
	if (l.as_json)
		return cmd_json_list_end(&l.json) == 0 ? EXIT_OK : EXIT_FAILED;
	if (l.n == 0)
		printf("(no tasks%s%s)\n", a->statuses ? " with status " : "",
		       a->statuses ? a->statuses : "");
	else if (a->f.last > 0 && isatty(STDOUT_FILENO))
		return print_more(b, a, l.n);
	return EXIT_OK;
}

/* --session S: its tasks, as cancel --session picks them, into a->f
 * (pointing into *s); 0 or an exit status. */
static int
resolve_session(struct baton *b, struct status_args *a, struct db_session *s)
{
	char *cause = NULL;
	int rc;

	if ((rc = task_filter_session(b->db, a->session, &a->f, s, &cause))) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	return 0;
}

static int
status_exec(struct baton *b, int argc, char **argv)
{
	struct status_args a = {0};
	struct db_session s = {0};
	int rc;

	if ((rc = parse_options(&a, argc, argv)) >= 0)
		return rc;
	if (a.ms != NULL && (rc = cmd_milestone_id(b, &cmd_status_entry, a.ms,
						   &a.f.milestone_id)) != 0)
		return rc;
	if (a.session != NULL && (rc = resolve_session(b, &a, &s)) != 0)
		return rc;
	if (a.summary)
		rc = print_summary(b, &a.f);
	else {
		/* a terminal shows the newest tasks; scripts get them all */
		if (!a.all && a.f.last == 0 && a.f.limit == 0 && !b->json &&
		    isatty(STDOUT_FILENO))
			a.f.last = STATUS_TTY_LAST;
		rc = print_list(b, &a);
	}
	db_session_release(&s);
	return rc;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.usage = "[--json] [--milestone M] [--session S] [--status S,S...] "
		 "[--since T] [--last N | --all] [--limit N] [--summary]",
	.summary = "list tasks",
	.help = "options:\n"
		"  --milestone M      only tasks of milestone M\n"
		"  --session S        only tasks of session S (name, id or id "
		"prefix): run in\n"
		"                     it, or pending that asked for it, as "
		"cancel --session\n"
		"  --status S,S...    only tasks with these statuses (pending "
		"running\n"
		"                     completed failed cancelled timed_out "
		"interrupted)\n"
		"  --since T          only tasks created since T: a time "
		"(RFC 3339) or a\n"
		"                     duration meaning that long ago (2h, 1d)\n"
		"  --last N           only the N most recent tasks\n"
		"  --all              every task (on a terminal the 50 most "
		"recent are shown)\n"
		"  --limit N          at most N tasks, the oldest first\n"
		"  --summary          counts by status of the tasks the other "
		"options select\n"
		"  --json             an array of task objects\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY | CMD_JSON,
	.exec = status_exec,
	.options = status_options,
};
