/*
 * baton work [-j N] [--milestone M] [--max-tasks N] [--until-empty]
 * [--halt SPEC] [--max-cost USD] [--joblog FILE]:
 * run pending tasks, N at a time, each worker a thread with its own
 * database connection.  Several `baton work` processes may share one
 * database: claims are atomic (orch_claim).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
#include "cmd/table.h"
#include "core/config.h"
#include "core/orchestrator.h"
#include "core/runner.h"
#include "core/worker.h"
#include "lib/clock.h"
#include "lib/display.h"
#include "lib/num.h"
#include "lib/sys.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_work_entry;

/* What `work` shows: lines for finished tasks, a progress bar on a TTY. */
struct work {
	struct baton *b;
	struct pool *pool;
	int64_t milestone_id;
	int tty;
	int bar_shown;
	int64_t started_ms;
	char *host;    /* --json, --joblog: where the tasks ran */
	FILE *joblog;  /* --joblog, or NULL */
	long long seq; /* --joblog: lines written */
	int json;      /* --json lines */
};

static void
clear_bar(struct work *w)
{
	if (w->tty && w->bar_shown) {
		fputs("\r\033[K", stderr);
		w->bar_shown = 0;
	}
}

/* One line per finished task (above the progress bar on a TTY).  The
 * hooks are called one at a time, with the pool's lock held. */
static void
ended(void *arg, int64_t id, const struct orch_result *r)
{
	struct work *w = arg;
	char *word, *error;

	if (w->b->verbosity < 0)
		return;
	clear_bar(w);
	word = cmd_status_word(w->b, r->status);
	if (r->error != NULL) {
		error = display_safe(r->error);
		fprintf(stdout, "task %lld %s: %s\n", (long long)id, word,
			error);
		free(error);
	} else
		fprintf(stdout, "task %lld %s\n", (long long)id, word);
	free(word);
	fflush(stdout);
}

/* One line of --json output, flushed: a live feed. */
static void
print_line(struct work *w, json_t *o)
{
	clear_bar(w);
	json_dumpf(o, stdout, JSON_COMPACT);
	json_decref(o);
	putchar('\n');
	fflush(stdout);
}

static json_t *
int_or_null(int has, long long v)
{
	return has ? json_integer(v) : json_null();
}

/* --json: a finished task as one object a line (SPEC §6). */
static void
finished_json(void *arg, const struct db_task *t, const struct db_run *runs,
	      size_t nruns, const struct orch_result *r)
{
	struct work *w = arg;
	const struct db_run *last = nruns > 0 ? &runs[nruns - 1] : NULL;
	json_t *o = json_object();

	(void)r;
	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "key", cmd_json_str(t->key));
	json_object_set_new(o, "title", cmd_json_str(t->title));
	json_object_set_new(o, "status",
			    json_string(task_status_name(t->status)));
	json_object_set_new(o, "exit_code",
			    int_or_null(t->has_exit_code, t->exit_code));
	json_object_set_new(
		o, "signal",
		int_or_null(last && last->signal, last ? last->signal : 0));
	json_object_set_new(o, "error", cmd_json_str(t->error));
	json_object_set_new(o, "started_at", cmd_json_time(t->started_at));
	json_object_set_new(o, "duration_ms",
			    int_or_null(t->started_at && t->finished_at,
					t->finished_at - t->started_at));
	json_object_set_new(o, "attempts", json_integer(t->attempts));
	json_object_set_new(o, "input_tokens", json_integer(t->input_tokens));
	json_object_set_new(o, "output_tokens", json_integer(t->output_tokens));
	json_object_set_new(o, "cost_usd", cmd_json_usd(t->cost_usd));
	json_object_set_new(o, "session_id", cmd_json_str(t->session_id));
	json_object_set_new(o, "host", json_string(w->host));
	json_object_set_new(o, "batch", json_string(w->b->batch_id));
	print_line(w, o);
}

/* --joblog: text with tab, newline, CR and backslash escaped, so that
 * a line is a line and a column a column. */
static void
joblog_text(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\r')
			fputs("\\r", f);
		else if (*s == '\\')
			fputs("\\\\", f);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			/* ESC, BEL ...: a terminal running tail -f on the log
			 * would obey them */
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else if ((unsigned char)s[0] == 0xc2 &&
			 (unsigned char)s[1] >= 0x80 &&
			 (unsigned char)s[1] <= 0x9f) {
			/* U+0080 to U+009F, the C1 controls (U+009B: CSI) */
			fprintf(f, "\\xc2\\x%02x", (unsigned char)s[1]);
			s++;
		} else
			fputc(*s, f);
	}
}

/* --joblog: the Command column, the title or the prompt's first line. */
static void
joblog_command(FILE *f, const struct db_task *t)
{
	const char *p = t->prompt != NULL ? t->prompt : "";
	char *line;

	if (t->title != NULL && t->title[0] != '\0') {
		joblog_text(f, t->title);
		return;
	}
	line = xstrndup(p, strcspn(p, "\n"));
	joblog_text(f, line);
	free(line);
}

/*
 * --joblog: one line per finished task, GNU parallel's nine columns then
 * baton's own (docs/baton.1), flushed: `tail -f` follows it.  last NULL:
 * no run (a task failed at its claim).
 */
static void
joblog_line(struct work *w, const struct db_task *t, const struct db_run *last)
{
	FILE *f = w->joblog;
	int64_t start = t->started_at ? t->started_at : t->finished_at;
	int64_t ran = t->started_at && t->finished_at
			      ? t->finished_at - t->started_at
			      : 0;

	fprintf(f, "%lld\t%s\t%.3f\t%10.3f\t0\t0\t%d\t%d\t", ++w->seq, w->host,
		(double)start / 1000.0, (double)ran / 1000.0,
		t->has_exit_code ? t->exit_code : -1, last ? last->signal : 0);
	joblog_command(f, t);
	fprintf(f, "\t%lld\t", (long long)t->id);
	joblog_text(f, t->key);
	fprintf(f, "\t%s\t%d\t%lld\t%lld\t%.6f\t", task_status_name(t->status),
		t->attempts, (long long)t->input_tokens,
		(long long)t->output_tokens, t->cost_usd);
	joblog_text(f, t->session_id);
	fputc('\n', f);
	fflush(f);
}

/* A finished task with its runs: --json's line and --joblog's. */
static void
finished(void *arg, const struct db_task *t, const struct db_run *runs,
	 size_t nruns, const struct orch_result *r)
{
	struct work *w = arg;

	if (w->joblog != NULL)
		joblog_line(w, t, nruns > 0 ? &runs[nruns - 1] : NULL);
	if (w->json)
		finished_json(arg, t, runs, nruns, r);
}

/* --json: a task failed at its claim has no run: the line of every
 * finished task, its run's fields null. */
static void
refused_json(void *arg, const struct db_task *t, const char *why)
{
	(void)why;
	finished(arg, t, NULL, 0, NULL);
}

static void
note(void *arg, int64_t task_id, const char *msg)
{
	struct work *w = arg;
	char *safe;

	clear_bar(w);
	if (w->b->verbosity < 0)
		return;
	safe = display_safe(msg);
	if (task_id != 0)
		fprintf(stderr, "baton: task %lld: %s\n", (long long)task_id,
			safe);
	else
		fprintf(stderr, "baton: %s\n", safe);
	free(safe);
}

/* A task that may not run (S11, S12) was failed at its claim. */
static void
refused(void *arg, const struct db_task *t, const char *why)
{
	struct work *w = arg;
	int64_t task_id = t->id;
	char *word, *safe;

	if (w->joblog != NULL)
		joblog_line(w, t, NULL);
	if (w->b->verbosity >= 0) {
		clear_bar(w);
		word = cmd_status_word(w->b, TASK_FAILED);
		safe = display_safe(why);
		printf("task %lld %s: %s\n", (long long)task_id, word, safe);
		free(safe);
		free(word);
		fflush(stdout);
	}
}

static void
worker_error(void *arg, const char *msg)
{
	struct work *w = arg;
	char *safe = display_safe(msg);

	clear_bar(w);
	cmd_error("%s", safe);
	free(safe);
}

static void
draw_bar(struct work *w, const struct pool_counts *c)
{
	char *cause = NULL;
	int64_t pending = 0;
	long long done, total;
	int width = 24, fill, i;
	char el[32];

	if (store_task_count_pending(w->b->db, w->milestone_id, &pending,
				     &cause) != 0) {
		free(cause);
		return;
	}
	done = c->completed + c->failed + c->other;
	total = done + c->running + pending;
	fill = total > 0 ? (int)(done * width / total) : 0;
	cmd_format_elapsed(clock_now_ms() - w->started_ms, el, sizeof el);
	fputs("\r\033[K[", stderr);
	for (i = 0; i < width; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %lld/%lld done, %d running, %lld failed, %s", done,
		total, c->running, c->failed, el);
	w->bar_shown = 1;
	fflush(stderr);
}

/* Without a progress bar there is nothing to do but wait: the workers
 * watch stop_fd themselves. */
static void
show_progress(struct work *w)
{
	struct pollfd p = {.fd = w->b->stop_fd, .events = POLLIN};
	struct pool_counts c;

	if (!w->tty)
		return;
	for (;;) {
		pool_get_counts(w->pool, &c);
		if (c.workers == 0)
			break;
		draw_bar(w, &c);
		poll(&p, 0, 200);
	}
}

enum {
	OPT_MS = 256,
	OPT_MAX,
	OPT_UNTIL,
	OPT_HALT,
	OPT_COST,
	OPT_JOBLOG,
	OPT_WRETRIES
};
static const struct option work_options[] = {
	{"halt", required_argument, NULL, OPT_HALT},
	{"jobs", required_argument, NULL, 'j'},
	{"joblog", required_argument, NULL, OPT_JOBLOG},
	{"max-cost", required_argument, NULL, OPT_COST},
	{"milestone", required_argument, NULL, OPT_MS},
	{"max-tasks", required_argument, NULL, OPT_MAX},
	{"until-empty", no_argument, NULL, OPT_UNTIL},
	{"retries", required_argument, NULL, OPT_WRETRIES},
	{NULL, 0, NULL, 0},
};

/* --max-cost USD: a number above 0, read as sessions.max_cost is (no
 * hex, inf or nan).  0 or -1. */
static int
parse_cost(const char *s, double *out)
{
	return num_parse_decimal(s, out) == 0 && *out > 0 ? 0 : -1;
}

/* The options of work's own beyond -j: --halt, --max-cost, --joblog.
 * Returns -1 to go on, or an exit status for a usage error. */
static int
parse_limit(int opt_c, struct pool_options *opt, const char **joblog)
{
	char *cause = NULL;
	int rc;

	switch (opt_c) {
	case OPT_HALT:
		if (pool_halt_parse(optarg, &opt->halt, &cause) == 0)
			return -1;
		rc = cmd_usage_error(&cmd_work_entry, "%s", cause);
		free(cause);
		return rc;
	case OPT_COST:
		if (parse_cost(optarg, &opt->max_cost) == 0)
			return -1;
		return cmd_usage_error(&cmd_work_entry,
				       "invalid --max-cost '%s': give an "
				       "amount in USD greater than 0, like "
				       "2.50",
				       optarg);
	default: /* OPT_JOBLOG */
		*joblog = optarg;
		return -1;
	}
}

/*
 * Read the options into opt (jobs, max_tasks, until_empty, halt,
 * max_cost), *ms and *joblog.  Returns -1 to go on, or an exit status
 * for a usage error.
 */
static int
parse_options(struct baton *b, int argc, char **argv, struct pool_options *opt,
	      const char **ms, const char **joblog)
{
	long long jobs, n;
	int opt_c, rc;

	jobs = b->cfg->workers;
	optind = 0;
	while ((opt_c = cmd_getopt(argc, argv, "j:", work_options)) != -1) {
		switch (opt_c) {
		case 'j':
			if (text_parse_int(optarg, 1, 256, &jobs) != 0)
				return cmd_usage_error(&cmd_work_entry,
						       "invalid -j '%s': give "
						       "a number from 1 to 256",
						       optarg);
			break;
		case OPT_MS:
			*ms = optarg;
			break;
		case OPT_MAX:
			if (text_parse_int(optarg, 1, LLONG_MAX,
					   &opt->max_tasks) != 0)
				return cmd_usage_error(&cmd_work_entry,
						       "invalid --max-tasks "
						       "'%s': give a number "
						       "of 1 or more",
						       optarg);
			break;
		case OPT_UNTIL:
			opt->until_empty = 1;
			break;
		case OPT_HALT:
		case OPT_COST:
		case OPT_JOBLOG:
			if ((rc = parse_limit(opt_c, opt, joblog)) >= 0)
				return rc;
			break;
		case OPT_WRETRIES:
			if (text_parse_int(optarg, 0, 1000, &n) != 0)
				return cmd_usage_error(
					&cmd_work_entry,
					"invalid --retries '%s': "
					"give a whole number "
					"from 0 to 1000",
					optarg);
			opt->has_retries = 1;
			opt->retries = (int)n;
			break;
		default:
			return cmd_option_error(&cmd_work_entry, argv,
						work_options);
		}
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_work_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	opt->jobs = (int)jobs;
	return -1;
}

/*
 * Look milestone ms up into *m and point opt at it (opt->scope borrows
 * m's session id).  Returns -1 to go on, or an exit status.
 */
static int
find_milestone(struct baton *b, const char *ms, struct pool_options *opt,
	       struct db_milestone *m)
{
	char *cause = NULL;
	int found;

	if (store_milestone_get(b->db, ms, m, &found, &cause)) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	if (!found)
		return cmd_usage_error(&cmd_work_entry,
				       "no milestone '%s' (see 'baton "
				       "milestone list')",
				       ms);
	opt->milestone_id = m->id;
	opt->scope = m->session_id;
	return -1;
}

/* One line on why it stopped claiming early, if it did. */
static void
say_halted(struct work *w, const struct pool_options *opt,
	   const struct pool_counts *c)
{
	if (c->halted == 1)
		fprintf(stderr,
			"baton: work halted after %lld failure%s (--halt "
			"%s)\n",
			c->failed, c->failed == 1 ? "" : "s", opt->halt.spec);
	else if (c->halted == 2)
		fprintf(stderr,
			"baton: work stopped claiming: its tasks cost $%.2f "
			"(--max-cost %g)\n",
			c->cost_usd, opt->max_cost);
	(void)w;
}

/*
 * --joblog FILE: appended to (a header only when it is new or empty),
 * so that the work of several `work` runs, in CI say, is one log.
 * Returns -1 to go on, or an exit status.
 */
static int
open_joblog(struct work *w, const char *path)
{
	int fd;

	/* a path that cannot be used is a bad argument (exit 2), not a
	 * failed task (1): nothing ran */
	if (*path == '\0') {
		cmd_error("empty --joblog: give a file to append to");
		return EXIT_USAGE;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 || (w->joblog = fdopen(fd, "a")) == NULL) {
		cmd_error("cannot open joblog %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_USAGE;
	}
	if (lseek(fd, 0, SEEK_END) == 0) {
		fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\t"
		      "Exitval\tSignal\tCommand\tTaskId\tKey\tStatus\t"
		      "Attempts\tInputTokens\tOutputTokens\tCostUSD\t"
		      "SessionId\n",
		      w->joblog);
		fflush(w->joblog);
	}
	return -1;
}

/* Wait for the pool to end, say how it went; the exit status. */
static int
finish(struct work *w, const struct pool_options *opt, struct runner *runner)
{
	struct baton *b = w->b;
	struct pool_counts c;
	int rc;

	show_progress(w);
	rc = pool_join(w->pool, &c);
	if (w->tty) {
		draw_bar(w, &c);
		fputc('\n', stderr);
	}
	runner_stop(runner);

	if (b->verbosity >= 0 && !w->tty)
		fprintf(stderr,
			"baton: %lld completed, %lld failed, %lld "
			"other\n",
			c.completed, c.failed, c.other);
	say_halted(w, opt, &c);
	if (cmd_signal_received())
		return cmd_signal_exit();
	if (rc != 0)
		return cmd_exit_code(rc);
	if (c.halted == 1)
		return EXIT_FAILED;
	return c.failed + c.other > 0 ? EXIT_FAILED : EXIT_OK;
}

static int
work_exec(struct baton *b, int argc, char **argv)
{
	struct work w = {.b = b};
	struct pool_options opt = {0};
	struct pool_hooks hooks = {.arg = &w,
				   .ended = ended,
				   .refused = refused,
				   .note = note,
				   .error = worker_error};
	struct runner runner;
	struct db_milestone m = {0};
	char *cause = NULL;
	const char *ms = NULL, *joblog = NULL;
	int rc;

	if ((rc = parse_options(b, argc, argv, &opt, &ms, &joblog)) >= 0)
		return rc;
	if (ms != NULL && (rc = find_milestone(b, ms, &opt, &m)) >= 0)
		return rc;
	if (joblog != NULL && (rc = open_joblog(&w, joblog)) >= 0) {
		db_milestone_release(&m);
		return rc;
	}
	if (b->json) {
		hooks.ended = NULL;
		hooks.refused = refused_json;
		w.json = 1;
	}
	if (w.json || w.joblog != NULL) {
		hooks.finished = finished;
		w.host = sys_host_name();
	}
	w.milestone_id = opt.milestone_id;
	w.tty = isatty(STDERR_FILENO) && b->verbosity >= 0;
	w.started_ms = clock_now_ms();
	opt.fail_at = getenv("BATON_TEST_FAIL_AT");

	if (cmd_signals_install(b) != 0) {
		cmd_error("cannot set up signal handling");
		db_milestone_release(&m);
		free(w.host);
		return EXIT_FAILED;
	}
	if ((rc = runner_start(&runner, b, &cause)) == 0 && b->verbosity >= 0)
		fprintf(stderr, "baton: batch %s\n", b->batch_id);
	if (rc == 0 && (rc = pool_start(&w.pool, b, &opt, &hooks, &cause)) != 0)
		runner_stop(&runner);
	if (rc == 0)
		rc = finish(&w, &opt, &runner);
	else {
		cmd_error("%s", cause);
		free(cause);
		rc = cmd_exit_code(rc);
	}
	/* opt.scope borrows m's session id until the workers have ended:
	 * each copies it when it starts */
	db_milestone_release(&m);
	free(w.host);
	if (w.joblog != NULL && fclose(w.joblog) != 0 && rc == EXIT_OK) {
		cmd_error("cannot write %s: %s", joblog, strerror(errno));
		rc = EXIT_FAILED;
	}
	return rc;
}

const struct cmd_entry cmd_work_entry = {
	.name = "work",
	.usage = "[-j N] [--milestone M] [--max-tasks N] [--until-empty] "
		 "[--halt SPEC] [--max-cost USD] [--joblog FILE]"
		 " [--retries N]",
	.summary = "run pending tasks, N at a time",
	.help = "options:\n"
		"  -j, --jobs N       run up to N tasks at a time (default: "
		"workers)\n"
		"  --milestone M      only tasks of milestone M, in order\n"
		"  --max-tasks N      stop after starting N tasks\n"
		"  --until-empty      exit when no pending task is left "
		"(default:\n"
		"                     keep waiting for new tasks until "
		"interrupted)\n"
		"  --halt SPEC        never (default), soon|now,fail=N or "
		"soon|now,fail=P%:\n"
		"                     stop claiming after N failures (or "
		"P% of the tasks\n"
		"                     ended, once 3 have); now also cancels "
		"running tasks\n"
		"  --max-cost USD     stop claiming once its tasks cost "
		"that much\n"
		"  --joblog FILE      append a line per finished task, GNU "
		"parallel's\n"
		"                     columns and baton's\n"
		"  --retries N        retries of tasks that set none "
		"(default:\n"
		"                     defaults.retries)\n"
		"\nA progress bar on a terminal, one line per finished task "
		"otherwise\n"
		"(--json: one JSON object a line, as each task ends).\n"
		"Exit status 0 if every task it ran completed, 1 otherwise "
		"(and after --halt).\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = work_exec,
	.options = work_options,
};
