/*
 * baton status [--json] [--milestone M] [--status S] [--summary]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "lib/clock.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_status_entry;

struct listing {
	struct baton *b;
	json_t *arr;
	long long n;
	int64_t now;
};

/* The first line of the prompt, shortened to width. */
static void
excerpt(const char *s, char *buf, size_t width)
{
	size_t i = 0;

	for (; *s != '\0' && *s != '\n' && i + 1 < width; s++)
		buf[i++] = (*s == '\t' || *s == '\r') ? ' ' : *s;
	if ((*s != '\0') && i >= 3 && width > 4) {
		buf[i - 3] = '.';
		buf[i - 2] = '.';
		buf[i - 1] = '.';
	}
	buf[i] = '\0';
}

static int
print_task(void *arg, const struct db_task *t)
{
	struct listing *l = arg;
	char el[32], what[61];
	int64_t end;

	l->n++;
	if (l->arr != NULL) {
		json_array_append_new(l->arr, cmd_task_json(t, NULL, 0, 0));
		return 0;
	}
	if (t->started_at != 0) {
		end = t->finished_at ? t->finished_at : l->now;
		cmd_format_elapsed(end - t->started_at, el, sizeof el);
	} else
		snprintf(el, sizeof el, "-");
	excerpt(t->title ? t->title : t->prompt, what, sizeof what);
	printf("%6lld  %-11s %-9s %-8s %s\n", (long long)t->id,
	       task_status_name(t->status), t->agent ? t->agent : "-", el,
	       what);
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
	enum task_status st; /* --status, when f.status_mask is set */
	int summary;
	const char *ms;
};

/* Read the options into a.  Returns -1 to go on, or an exit status. */
static int
parse_options(struct status_args *a, int argc, char **argv)
{
	enum { OPT_MS = 256, OPT_STATUS, OPT_SUMMARY, OPT_LIMIT };
	static const struct option longopts[] = {
		{"milestone", required_argument, NULL, OPT_MS},
		{"status", required_argument, NULL, OPT_STATUS},
		{"summary", no_argument, NULL, OPT_SUMMARY},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{NULL, 0, NULL, 0},
	};
	long long limit;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MS:
			a->ms = optarg;
			break;
		case OPT_STATUS:
			if (task_status_parse(optarg, &a->st) != 0)
				return cmd_usage_error(
					&cmd_status_entry,
					"invalid status '%s': one of pending "
					"running completed failed cancelled "
					"timed_out interrupted",
					optarg);
			a->f.status_mask = 1u << a->st;
			break;
		case OPT_SUMMARY:
			a->summary = 1;
			break;
		case OPT_LIMIT:
			if (text_parse_int(optarg, 1, INT64_MAX, &limit) != 0)
				return cmd_usage_error(&cmd_status_entry,
						       "invalid --limit '%s'",
						       optarg);
			a->f.limit = limit;
			break;
		default:
			return cmd_option_error(&cmd_status_entry, argv,
						longopts);
		}
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_status_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	return -1;
}

static int
db_error(char *cause)
{
	cmd_error("%s", cause);
	free(cause);
	return EXIT_DB;
}

/* --summary: the number of tasks in each status; an exit status. */
static int
print_summary(struct baton *b, int64_t milestone_id)
{
	struct counts cn = {{0}};
	char *cause = NULL;
	int i;

	if (store_task_count_by_status(b->db, milestone_id, count, &cn,
				       &cause) != 0)
		return db_error(cause);
	if (b->json) {
		json_t *o = json_object();

		for (i = 0; i < TASK_NSTATUS; i++)
			json_object_set_new(
				o, task_status_name((enum task_status)i),
				json_integer(cn.n[i]));
		return cmd_print_json(o) == 0 ? EXIT_OK : EXIT_FAILED;
	}
	for (i = 0; i < TASK_NSTATUS; i++)
		printf("%-12s %lld\n", task_status_name((enum task_status)i),
		       cn.n[i]);
	return EXIT_OK;
}

/* The tasks a->f selects, a table or a JSON array; an exit status. */
static int
print_list(struct baton *b, const struct status_args *a)
{
	struct db_task_filter f = a->f;
	struct listing l = {0};
	char *cause = NULL;

	f.with_answer = b->json; /* "answer" of the task objects */
	l.b = b;
	l.now = clock_now_ms();
	if (b->json)
		l.arr = json_array();
	else
		printf("%6s  %-11s %-9s %-8s %s\n", "ID", "STATUS", "AGENT",
		       "TIME", "TASK");
	if (store_task_each(b->db, &f, print_task, &l, &cause) != 0) {
		json_decref(l.arr);
		return db_error(cause);
	}
	if (l.arr != NULL)
		return cmd_print_json(l.arr) == 0 ? EXIT_OK : EXIT_FAILED;
	if (l.n == 0)
		printf("(no tasks%s%s)\n",
		       a->f.status_mask ? " with status " : "",
		       a->f.status_mask ? task_status_name(a->st) : "");
	return EXIT_OK;
}

static int
status_exec(struct baton *b, int argc, char **argv)
{
	struct status_args a = {.st = TASK_PENDING};
	int rc;

	if ((rc = parse_options(&a, argc, argv)) >= 0)
		return rc;
	if (a.ms != NULL && (rc = cmd_milestone_id(b, &cmd_status_entry, a.ms,
						   &a.f.milestone_id)) != 0)
		return rc;
	if (a.summary)
		return print_summary(b, a.f.milestone_id);
	return print_list(b, &a);
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.usage =
		"[--json] [--milestone M] [--status S] [--summary] [--limit N]",
	.summary = "list tasks",
	.help = "options:\n"
		"  --milestone M   only tasks of milestone M\n"
		"  --status S      only tasks with status S (pending running "
		"completed\n"
		"                  failed cancelled timed_out interrupted)\n"
		"  --summary       counts by status only\n"
		"  --limit N       at most N tasks\n"
		"  --json          an array of task objects\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY,
	.exec = status_exec,
};
