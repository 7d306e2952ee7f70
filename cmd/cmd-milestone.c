/*
 * baton milestone create|list|show: named groups of tasks that run in
 * order and, unless created with --session per-task, share one session
 * (SPEC §1, §2 S2, §6).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "cmd/table.h"
#include "core/milestone.h"
#include "core/config.h"
#include "core/session.h"
#include "lib/clock.h"
#include "lib/display.h"
#include "lib/xmalloc.h"

static int milestone_create_exec(struct baton *, int, char **);
static int milestone_list_exec(struct baton *, int, char **);
static int milestone_show_exec(struct baton *, int, char **);

static const struct option milestone_create_options[] = {
	{"session", required_argument, NULL, OPT_SESSION},
	{NULL, 0, NULL, 0},
};

static const struct cmd_entry milestone_create_entry = {
	.name = "create",
	.usage = "NAME [--session shared|per-task]",
	.summary = "create a milestone (prints created or exists)",
	.help = "options:\n"
		"  --session per-task   every task gets its own temp session "
		"(default: shared,\n"
		"                       one session for all the milestone's "
		"tasks)\n"
		"\nIdempotent: creating a milestone that exists with the same "
		"mode prints\n\"exists\".  'baton add --milestone M' creates M "
		"(shared) if it is missing.\nThe tasks of a milestone run one "
		"at a time, in the order they were added.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = milestone_create_exec,
	.options = milestone_create_options,
};

static const struct cmd_entry milestone_list_entry = {
	.name = "list",
	.usage = "[--json]",
	.summary = "list milestones with their sessions and task counts",
	.flags = CMD_NEEDS_DB | CMD_READONLY | CMD_JSON,
	.exec = milestone_list_exec,
};

static const struct cmd_entry milestone_show_entry = {
	.name = "show",
	.usage = "NAME [--json]",
	.summary = "one milestone: its session and its tasks in order",
	.flags = CMD_NEEDS_DB | CMD_READONLY | CMD_JSON,
	.exec = milestone_show_exec,
};

static const struct cmd_entry *const milestone_subcmds[] = {
	&milestone_create_entry,
	&milestone_list_entry,
	&milestone_show_entry,
	NULL,
};

const struct cmd_entry cmd_milestone_entry = {
	.name = "milestone",
	.usage = "create|list|show ...",
	.summary = "create, list and show milestones (ordered task groups)",
	.subcmds = milestone_subcmds,
};

static int
db_error(char *cause)
{
	cmd_error("%s", cause);
	free(cause);
	return EXIT_DB;
}

static void
count(void *arg, enum task_status status, int64_t n)
{
	json_object_set_new(arg, task_status_name(status), json_integer(n));
}

/* {"pending": n, ...} for milestone id, every status present. */
static int
task_counts(struct baton *b, int64_t id, json_t **out, char **cause)
{
	struct db_task_filter f = {0};
	json_t *o = json_object();
	int i;

	for (i = 0; i < TASK_NSTATUS; i++)
		json_object_set_new(o, task_status_name((enum task_status)i),
				    json_integer(0));
	f.milestone_id = id;
	if (store_task_count_by_status(b->db, &f, count, o, cause) != 0) {
		json_decref(o);
		return -BERR_DB;
	}
	*out = o;
	return 0;
}

static json_t *
milestone_json(const struct db_milestone *m, const struct db_session *s)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(m->id));
	json_object_set_new(o, "name", cmd_json_str(m->name));
	json_object_set_new(o, "session_mode", json_string(m->session_mode));
	json_object_set_new(o, "session_id", cmd_json_str(m->session_id));
	json_object_set_new(
		o, "session_status",
		s != NULL ? json_string(session_status_name(s->status))
			  : json_null());
	json_object_set_new(o, "created_at", cmd_json_time(m->created_at));
	return o;
}

/* The milestone's session row, if it has one (found 0 otherwise). */
static int
get_session(struct baton *b, const struct db_milestone *m, struct db_session *s,
	    int *found, char **cause)
{
	*found = 0;
	if (m->session_id == NULL)
		return 0;
	return store_session_get(b->db, m->session_id, s, found, cause);
}

/* ---- create ---- */

static int
milestone_create_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &milestone_create_entry;
	struct db_milestone m = {0};
	const char *mode = "shared";
	char *cause = NULL;
	int c, existed = 0, rc;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", milestone_create_options)) !=
	       -1) {
		if (c != OPT_SESSION)
			return cmd_option_error(e, argv,
						milestone_create_options);
		mode = optarg;
	}
	if (argc - optind != 1)
		return cmd_usage_error(e, "give one milestone name");
	rc = milestone_create(b, argv[optind], mode, &m, &existed, &cause);
	if (rc == -BERR_USAGE) {
		rc = cmd_usage_error(e, "%s", cause);
		free(cause);
		return rc;
	}
	if (rc != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	if (b->json) {
		json_t *o = milestone_json(&m, NULL);

		json_object_set_new(
			o, "result",
			json_string(existed ? "exists" : "created"));
		rc = cmd_print_json(o) == 0 ? EXIT_OK : EXIT_FAILED;
	} else {
		printf("%s\n", existed ? "exists" : "created");
		rc = EXIT_OK;
	}
	db_milestone_release(&m);
	return rc;
}

/* ---- list ---- */

/* Columns of milestone list but MILESTONE's, wide and narrow. */
#define MS_WIDE_COLS   98
#define MS_NARROW_COLS 66

struct listing {
	struct baton *b;
	struct json_list json;
	int as_json;
	int narrow;	  /* no SESSIONS, the session id cut to 14 */
	size_t name_cols; /* MILESTONE cut to this */
	size_t name_pad;  /* and padded to this */
	long long n;
	char *cause;
};

static long long
get_count(json_t *counts, const char *status)
{
	return (long long)json_integer_value(json_object_get(counts, status));
}

/* Fit the table to the terminal, as session list does. */
static void
columns(struct listing *l)
{
	size_t cols = cmd_columns();

	l->name_pad = 20;
	if (cols == DISPLAY_NOLIMIT)
		l->name_cols = DISPLAY_NOLIMIT;
	else if (cols >= MS_WIDE_COLS + 20)
		l->name_cols = 20;
	else {
		l->narrow = 1;
		l->name_cols =
			cols > MS_NARROW_COLS + 8 ? cols - MS_NARROW_COLS : 8;
		if (l->name_cols > 20)
			l->name_cols = 20;
		l->name_pad = l->name_cols;
	}
}

/* A row of the table: the milestone, its session and task counts. */
static void
list_row(const struct listing *l, const struct db_milestone *m,
	 const struct db_session *s, json_t *counts)
{
	const char *sid = m->session_id ? m->session_id
			  : strcmp(m->session_mode, "per-task") == 0
				  ? "(one per task)"
				  : "(none yet)";

	cmd_cell(l->b, m->name, l->name_cols, l->name_pad + 2, TONE_PLAIN);
	if (!l->narrow)
		cmd_cell(l->b, m->session_mode, DISPLAY_NOLIMIT, 10,
			 TONE_PLAIN);
	cmd_cell(l->b, sid, l->narrow ? 14 : DISPLAY_NOLIMIT,
		 l->narrow ? 16 : 38, TONE_PLAIN);
	cmd_cell(l->b, s ? session_status_name(s->status) : "-", 8, 10,
		 s ? cmd_session_tone(s->status) : TONE_PLAIN);
	printf("%7lld %7lld %9lld %6lld %5lld\n", get_count(counts, "pending"),
	       get_count(counts, "running"), get_count(counts, "completed"),
	       get_count(counts, "failed") + get_count(counts, "timed_out"),
	       get_count(counts, "cancelled") +
		       get_count(counts, "interrupted"));
}

static int
list_one(void *arg, const struct db_milestone *m)
{
	struct listing *l = arg;
	struct db_session s = {0};
	json_t *counts, *o;
	int found;

	l->n++;
	if (get_session(l->b, m, &s, &found, &l->cause) != 0)
		return 1;
	if (task_counts(l->b, m->id, &counts, &l->cause) != 0) {
		db_session_release(&s);
		return 1;
	}
	if (l->as_json) {
		o = milestone_json(m, found ? &s : NULL);
		json_object_set_new(o, "tasks", counts);
		cmd_json_list_add(&l->json, o);
		db_session_release(&s);
		return ferror(stdout) ? 1 : 0;
	}
	list_row(l, m, found ? &s : NULL, counts);
	json_decref(counts);
	db_session_release(&s);
	return ferror(stdout) ? 1 : 0;
}

static int
milestone_list_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	const struct cmd_entry *e = &milestone_list_entry;
	struct listing l = {0};
	char *cause = NULL;
	int c;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", longopts)) != -1)
		return cmd_option_error(e, argv, longopts);
	if (optind < argc)
		return cmd_usage_error(e, "unexpected argument '%s'",
				       argv[optind]);
	l.b = b;
	l.as_json = b->json;
	if (l.as_json)
		cmd_json_list_begin(&l.json);
	else {
		columns(&l);
		printf("%-*s  ", (int)l.name_pad, "MILESTONE");
		if (!l.narrow)
			printf("%-8s  ", "SESSIONS");
		printf("%-*s  %-8s  %7s %7s %9s %6s %5s\n", l.narrow ? 14 : 36,
		       "SESSION", "STATUS", "PENDING", "RUNNING", "COMPLETED",
		       "FAILED", "OTHER");
	}
	if (store_milestone_each(b->db, list_one, &l, &cause) != 0 ||
	    l.cause != NULL)
		return db_error(cause ? cause : l.cause);
	if (l.as_json)
		return cmd_json_list_end(&l.json) == 0 ? EXIT_OK : EXIT_FAILED;
	if (l.n == 0)
		printf("(no milestones)\n");
	return EXIT_OK;
}

/* ---- show ---- */

/* Columns of milestone show's task table before the title. */
#define MS_TASK_FIXED_COLS 69

struct tasks {
	const struct baton *b;
	int json;     /* the tasks stream out as the "tasks" array */
	size_t njson; /* how many so far */
	size_t title_cols;
	int64_t now;
};

/* One task of the "tasks" array, indented as cmd_print_json() would:
 * the rows stream out instead of being held (a milestone may have a
 * million tasks). */
static int
print_json_task(struct tasks *ts, const struct db_task *t)
{
	json_t *v = cmd_task_json(t, NULL, 0, 0);
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER), *p;

	json_decref(v);
	if (text == NULL)
		return 1;
	fputs(ts->njson++ > 0 ? ",\n    " : "\n    ", stdout);
	for (p = text; *p != '\0'; p++) {
		putchar(*p);
		if (*p == '\n')
			fputs("    ", stdout);
	}
	free(text);
	return ferror(stdout) ? 1 : 0;
}

static int
show_task(void *arg, const struct db_task *t)
{
	struct tasks *ts = arg;
	char el[32];
	int64_t end;
	const char *p = t->title ? t->title : t->prompt;
	char *what;

	if (ts->json)
		return print_json_task(ts, t);
	if (t->started_at != 0) {
		end = t->finished_at ? t->finished_at : ts->now;
		cmd_format_elapsed(end - t->started_at, el, sizeof el);
	} else
		snprintf(el, sizeof el, "-");
	what = t->title ? xstrdup(p) : xstrndup(p, strcspn(p, "\n"));
	printf("%6lld  ", (long long)t->id);
	cmd_cell(ts->b, task_status_name(t->status), 11, 13,
		 cmd_task_tone(t->status));
	printf("%-36s  %-8s  ", t->session_id ? t->session_id : "-", el);
	cmd_cell(ts->b, what, ts->title_cols, 0, TONE_PLAIN);
	putchar('\n');
	free(what);
	return ferror(stdout) ? 1 : 0;
}

/* The milestone object with its session and counts, open for its
 * "tasks" array, which show_task streams; 0 or -1. */
static int
show_json_head(struct baton *b, const struct db_milestone *m,
	       const struct db_session *s, json_t *counts, struct tasks *ts)
{
	json_t *o = milestone_json(m, s);
	char *text, *end;

	json_object_set_new(
		o, "session",
		s != NULL
			? cmd_session_json(s, NULL, 0, b->cfg->sessions.ttl_ms)
			: json_null());
	json_object_set(o, "task_counts", counts);
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL || (end = strrchr(text, '}')) == NULL) {
		free(text);
		return -1;
	}
	/* "{ ... \n}": leave the object open */
	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	*end = '\0';
	fputs(text, stdout);
	fputs(",\n  \"tasks\": [", stdout);
	free(text);
	ts->json = 1;
	return 0;
}

/* Close what show_json_head() opened; an exit status. */
static int
show_json_tail(const struct tasks *ts)
{
	fputs(ts->njson > 0 ? "\n  ]\n}\n" : "]\n}\n", stdout);
	return ferror(stdout) ? EXIT_FAILED : EXIT_OK;
}

/* The milestone's lines above its tasks; s is its session or NULL. */
static void
show_text_head(const struct db_milestone *m, const struct db_session *s,
	       json_t *counts)
{
	char t1[40], *name = display_safe(m->name), *agent, *model, *head;
	int per_task = strcmp(m->session_mode, "per-task") == 0;

	printf("milestone %s\n", name);
	free(name);
	printf("%-12s %s\n", "sessions",
	       per_task ? "per-task (each task gets its own temp session)"
			: "shared (one session for all its tasks)");
	if (s != NULL) {
		agent = display_safe(s->agent);
		model = s->model ? display_safe(s->model) : NULL;
		head = s->head ? display_safe(s->head) : NULL;
		printf("%-12s %s (%s, agent %s%s%s, %lld turns)\n", "session",
		       s->id, session_status_name(s->status), agent,
		       model ? ", model " : "", model ? model : "",
		       (long long)s->turns);
		if (head != NULL)
			printf("%-12s %s\n", "head", head);
		free(agent);
		free(model);
		free(head);
	} else
		printf("%-12s %s\n", "session",
		       per_task ? "-" : "(none yet: made by its first task)");
	cmd_format_time(m->created_at, t1, sizeof t1);
	printf("%-12s %s\n", "created", t1);
	printf("%-12s %lld pending, %lld running, %lld completed, "
	       "%lld failed, %lld other\n",
	       "tasks", get_count(counts, "pending"),
	       get_count(counts, "running"), get_count(counts, "completed"),
	       get_count(counts, "failed") + get_count(counts, "timed_out"),
	       get_count(counts, "cancelled") +
		       get_count(counts, "interrupted"));
	printf("\n%6s  %-11s  %-36s  %-8s  %s\n", "ID", "STATUS", "SESSION",
	       "TIME", "TASK");
}

static int
milestone_show_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	const struct cmd_entry *e = &milestone_show_entry;
	struct db_milestone m = {0};
	struct db_session s = {0};
	struct db_task_filter f = {0};
	struct tasks ts = {0};
	json_t *counts = NULL;
	char *cause = NULL;
	int c, found, rc;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", longopts)) != -1)
		return cmd_option_error(e, argv, longopts);
	if (argc - optind != 1)
		return cmd_usage_error(e, "give one milestone name");
	if (store_milestone_get(b->db, argv[optind], &m, &found, &cause) != 0)
		return db_error(cause);
	if (!found) {
		cmd_error("no milestone '%s' (see 'baton milestone list')",
			  argv[optind]);
		return EXIT_USAGE;
	}
	if (get_session(b, &m, &s, &found, &cause) != 0 ||
	    task_counts(b, m.id, &counts, &cause) != 0) {
		rc = db_error(cause);
		goto out;
	}
	f.milestone_id = m.id;
	f.with_answer = b->json;
	ts.b = b;
	ts.now = clock_now_ms();
	ts.title_cols = cmd_columns();
	if (ts.title_cols != DISPLAY_NOLIMIT)
		ts.title_cols = ts.title_cols > MS_TASK_FIXED_COLS + 10
					? ts.title_cols - MS_TASK_FIXED_COLS
					: 10;
	if (b->json && show_json_head(b, &m, found ? &s : NULL, counts, &ts)) {
		rc = EXIT_FAILED;
		goto out;
	}
	if (!b->json)
		show_text_head(&m, found ? &s : NULL, counts);
	if (store_task_each(b->db, &f, show_task, &ts, &cause) != 0) {
		rc = db_error(cause);
		goto out;
	}
	rc = b->json ? show_json_tail(&ts) : EXIT_OK;
out:
	json_decref(counts);
	db_session_release(&s);
	db_milestone_release(&m);
	return rc;
}
