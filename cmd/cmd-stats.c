/*
 * baton stats [--json|--openmetrics] [--since T] [--milestone M]: counts
 * by status, run durations, tokens, cost, resume success rate, retries,
 * failure reasons.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "core/runner.h"
#include "lib/clock.h"
#include "lib/text.h"

const struct cmd_entry cmd_stats_entry;

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

/* A usage error for a bad --since: the time's, or the one message for
 * a bad duration. */
static int
since_error(const char *arg)
{
	char shown[80 + 4], *why;
	int rc;

	text_shown(arg, strlen(arg), 80, shown);
	if (strlen(arg) > 4 && strspn(arg, "0123456789") == 4 && arg[4] == '-')
		return cmd_usage_error(&cmd_stats_entry,
				       "--since: invalid time '%s': use e.g. "
				       "2026-11-21 or 2026-11-21T09:00:00Z",
				       shown);
	why = duration_error(shown);
	rc = cmd_usage_error(&cmd_stats_entry,
			     "--since: %s, or a time like "
			     "2026-11-21T09:00:00Z",
			     why);
	free(why);
	return rc;
}

/* The stats object (SPEC §6.1); rate is the resume success rate. */
static json_t *
stats_json(const struct db_stats *s, int64_t since, const char *ms,
	   const char *batch, double rate)
{
	json_t *o = json_object(), *st = json_object(), *dur, *fr;
	size_t j;
	int i;

	for (i = 0; i < TASK_NSTATUS; i++)
		json_object_set_new(st, task_status_name((enum task_status)i),
				    json_integer(s->by_status[i]));
	json_object_set_new(o, "since", cmd_json_time(since));
	json_object_set_new(o, "milestone",
			    ms != NULL ? json_string(ms) : json_null());
	json_object_set_new(o, "batch", cmd_json_str(batch));
	json_object_set_new(o, "tasks", json_integer(s->tasks));
	json_object_set_new(o, "by_status", st);
	json_object_set_new(o, "runs", json_integer(s->runs));
	dur = json_object();
	json_object_set_new(dur, "p50_ms", json_integer(s->p50_ms));
	json_object_set_new(dur, "p95_ms", json_integer(s->p95_ms));
	json_object_set_new(dur, "max_ms", json_integer(s->max_ms));
	json_object_set_new(o, "run_duration", dur);
	json_object_set_new(o, "input_tokens", json_integer(s->input_tokens));
	json_object_set_new(o, "output_tokens", json_integer(s->output_tokens));
	json_object_set_new(o, "cost_usd", cmd_json_usd(s->cost_usd));
	json_object_set_new(o, "resumes", json_integer(s->resumes));
	json_object_set_new(o, "resume_success_rate", json_real(rate));
	json_object_set_new(o, "fallbacks", json_integer(s->fallbacks));
	json_object_set_new(o, "retries", json_integer(s->retries));
	json_object_set_new(o, "task_retries", json_integer(s->task_retries));
	json_object_set_new(o, "active_sessions",
			    json_integer(s->sessions_active));
	fr = json_object();
	for (j = 0; j < s->nfailure_reasons; j++)
		json_object_set_new(fr, s->failure_reasons[j].name,
				    json_integer(s->failure_reasons[j].n));
	json_object_set_new(o, "failure_reasons", fr);
	return o;
}

static void
stats_text(const struct db_stats *s, double rate)
{
	char a[32], c[32], d[32];
	int64_t failures = 0;
	size_t j;
	int i;

	printf("tasks        %lld", (long long)s->tasks);
	for (i = 0; i < TASK_NSTATUS; i++) {
		if (s->by_status[i] != 0)
			printf(", %lld %s", (long long)s->by_status[i],
			       task_status_name((enum task_status)i));
	}
	cmd_format_elapsed(s->p50_ms, a, sizeof a);
	cmd_format_elapsed(s->p95_ms, c, sizeof c);
	cmd_format_elapsed(s->max_ms, d, sizeof d);
	printf("\nruns         %lld (p50 %s, p95 %s, max %s)\n",
	       (long long)s->runs, a, c, d);
	printf("tokens       %lld in, %lld out\n", (long long)s->input_tokens,
	       (long long)s->output_tokens);
	printf("cost         $%.4f\n", s->cost_usd);
	if (s->resumes == 0)
		printf("resumes      0\n");
	else
		printf("resumes      %lld, %.1f%% resumed cleanly, %lld fell "
		       "back to a fresh session\n",
		       (long long)s->resumes, rate * 100,
		       (long long)s->fallbacks);
	printf("retries      %lld after a transient failure, %lld more "
	       "attempts of tasks\n",
	       (long long)s->retries, (long long)s->task_retries);
	printf("sessions     %lld active\n", (long long)s->sessions_active);
	for (j = 0; j < s->nfailure_reasons; j++)
		failures += s->failure_reasons[j].n;
	printf("failures     %lld", (long long)failures);
	for (j = 0; j < s->nfailure_reasons; j++)
		printf("%s%lld %s", j == 0 ? " (" : ", ",
		       (long long)s->failure_reasons[j].n,
		       s->failure_reasons[j].name);
	printf("%s\n", s->nfailure_reasons > 0 ? ")" : "");
}

/*
 * A label value of the text exposition format: \, " and newline
 * escaped, and anything that is not UTF-8 text replaced by U+FFFD, so a
 * strange reason cannot break a line or the file.
 */
static void
om_label(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p < 0x20 || *p >= 0x7f)
			fputs("\xef\xbf\xbd", stdout);
		else
			putchar(*p);
	}
}

static void
om_family(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * The metrics in the Prometheus text format that node_exporter's
 * textfile collector reads, ended with OpenMetrics' "# EOF".  Counters
 * are declared under their sample name (baton_runs_total), which is
 * what that format and promtool want (docs/ci.md).
 */
static void
stats_openmetrics(const struct db_stats *s)
{
	size_t j;
	int i;

	om_family("baton_tasks", "gauge", "Tasks by status.");
	for (i = 0; i < TASK_NSTATUS; i++)
		printf("baton_tasks{status=\"%s\"} %lld\n",
		       task_status_name((enum task_status)i),
		       (long long)s->by_status[i]);
	om_family("baton_runs_total", "counter", "Agent runs that ended.");
	printf("baton_runs_total %lld\n", (long long)s->runs);
	om_family("baton_tokens_total", "counter",
		  "Tokens the agents used, by direction.");
	printf("baton_tokens_total{direction=\"input\"} %lld\n",
	       (long long)s->input_tokens);
	printf("baton_tokens_total{direction=\"output\"} %lld\n",
	       (long long)s->output_tokens);
	om_family("baton_cost_usd_total", "counter",
		  "What the agents cost, in US dollars.");
	printf("baton_cost_usd_total %.15g\n", s->cost_usd);
	om_family("baton_run_duration_seconds", "summary",
		  "Wall time of the agent runs that ended.");
	printf("baton_run_duration_seconds{quantile=\"0.5\"} %.3f\n",
	       (double)s->p50_ms / 1000);
	printf("baton_run_duration_seconds{quantile=\"0.95\"} %.3f\n",
	       (double)s->p95_ms / 1000);
	printf("baton_run_duration_seconds_sum %.3f\n",
	       (double)s->run_ms_sum / 1000);
	printf("baton_run_duration_seconds_count %lld\n", (long long)s->runs);
	om_family("baton_sessions_active", "gauge",
		  "Sessions that are active.");
	printf("baton_sessions_active %lld\n", (long long)s->sessions_active);
	om_family("baton_resumes_total", "counter",
		  "Runs that resumed an agent's conversation.");
	printf("baton_resumes_total %lld\n", (long long)s->resumes);
	om_family("baton_retries_total", "counter",
		  "Runs that followed a transient failure.");
	printf("baton_retries_total %lld\n", (long long)s->retries);
	om_family(
		"baton_task_retries_total", "counter",
		"Attempts of tasks beyond their first (--retries, requeues).");
	printf("baton_task_retries_total %lld\n", (long long)s->task_retries);
	om_family("baton_failures_total", "counter",
		  "Tasks that ended other than completed, by reason.");
	for (j = 0; j < s->nfailure_reasons; j++) {
		fputs("baton_failures_total{reason=\"", stdout);
		om_label(s->failure_reasons[j].name);
		printf("\"} %lld\n", (long long)s->failure_reasons[j].n);
	}
	printf("# EOF\n");
}

struct stats_args {
	struct db_stats_filter f;
	const char *ms, *batch; /* as given */
	int openmetrics;
};

enum { OPT_SINCE = 256, OPT_MS, OPT_OM, OPT_BATCH };
static const struct option stats_options[] = {
	{"batch", required_argument, NULL, OPT_BATCH},
	{"since", required_argument, NULL, OPT_SINCE},
	{"milestone", required_argument, NULL, OPT_MS},
	{"openmetrics", no_argument, NULL, OPT_OM},
	{NULL, 0, NULL, 0},
};

/* Read the options into a.  Returns -1 to go on, or an exit status. */
static int
parse_options(struct baton *b, int argc, char **argv, struct stats_args *a)
{
	int ch;

	optind = 0;
	while ((ch = cmd_getopt(argc, argv, "", stats_options)) != -1) {
		if (ch == OPT_MS)
			a->ms = optarg;
		else if (ch == OPT_BATCH)
			a->batch = optarg;
		else if (ch == OPT_OM)
			a->openmetrics = 1;
		else if (ch != OPT_SINCE)
			return cmd_option_error(&cmd_stats_entry, argv,
						stats_options);
		else if (parse_since(optarg, &a->f.since) != 0)
			return since_error(optarg);
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_stats_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	if (a->openmetrics && b->json)
		return cmd_usage_error(&cmd_stats_entry,
				       "--json and --openmetrics are "
				       "different outputs: give one");
	return -1;
}

/* --batch ID: the whole id it names into *id; 0 or an exit status. */
static int
resolve_batch(struct baton *b, const char *ref, char **id)
{
	char *cause = NULL;
	int rc;

	if ((rc = batch_lookup(b->db, ref, id, &cause)) == 0)
		return 0;
	if (rc == -BERR_USAGE)
		rc = cmd_usage_error(&cmd_stats_entry, "%s", cause);
	else {
		cmd_error("%s", cause);
		rc = cmd_exit_code(rc);
	}
	free(cause);
	return rc;
}

static int
stats_exec(struct baton *b, int argc, char **argv)
{
	struct stats_args a = {0};
	struct db_stats s = {0};
	char *cause = NULL, *batch = NULL;
	double rate;
	int rc;

	if ((rc = parse_options(b, argc, argv, &a)) >= 0)
		return rc;
	if (a.ms != NULL && (rc = cmd_milestone_id(b, &cmd_stats_entry, a.ms,
						   &a.f.milestone_id)) != 0)
		return rc;
	if (a.batch != NULL && (rc = resolve_batch(b, a.batch, &batch)) != 0)
		return rc;
	a.f.batch_id = batch;
	if (store_stats(b->db, &a.f, &s, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		db_stats_release(&s);
		free(batch);
		return EXIT_DB;
	}
	rate = s.resumes > 0 ? (double)s.resumes_ok / (double)s.resumes : 1.0;
	rc = EXIT_OK;
	if (b->json) {
		if (cmd_print_json(stats_json(&s, a.f.since, a.ms, a.f.batch_id,
					      rate)) != 0)
			rc = EXIT_FAILED;
	} else if (a.openmetrics) {
		stats_openmetrics(&s);
	} else {
		stats_text(&s, rate);
	}
	db_stats_release(&s);
	free(batch);
	return rc;
}

const struct cmd_entry cmd_stats_entry = {
	.name = "stats",
	.usage = "[--json|--openmetrics] [--since T] [--milestone M] "
		 "[--batch ID]",
	.summary = "counts, run durations, tokens, cost, resumes, retries, "
		   "failures",
	.help = "options:\n"
		"  --since T       only tasks created since T: a time "
		"(2026-11-21T09:00:00Z)\n"
		"                  or a duration back from now (2h, 1d)\n"
		"  --milestone M   only the tasks of milestone M, their runs "
		"and sessions\n"
		"  --batch ID      only the runs of one `work` or `run` (its "
		"batch id, or\n"
		"                  a unique prefix of 4 characters or more) "
		"and the tasks\n"
		"                  they ran\n"
		"  --json          one object: tasks, by_status, runs, "
		"run_duration\n"
		"                  {p50_ms, p95_ms, max_ms}, input_tokens, "
		"output_tokens,\n"
		"                  cost_usd, resumes, resume_success_rate, "
		"fallbacks,\n"
		"                  retries, active_sessions, failure_reasons "
		"{reason: n}\n"
		"  --openmetrics   the Prometheus text format, for "
		"node_exporter's\n"
		"                  textfile collector (baton_tasks, "
		"baton_runs_total ...)\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY | CMD_JSON,
	.exec = stats_exec,
	.options = stats_options,
};
