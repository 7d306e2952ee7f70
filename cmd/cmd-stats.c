/*
 * baton stats [--json] [--since T]: counts by status, run durations,
 * tokens, cost, resume success rate, retries.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/common.h"
#include "lib/clock.h"

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

/* The stats object (SPEC §6.1); rate is the resume success rate. */
static json_t *
stats_json(const struct db_stats *s, int64_t since, double rate)
{
	json_t *o = json_object(), *st = json_object(), *dur;
	int i;

	for (i = 0; i < TASK_NSTATUS; i++)
		json_object_set_new(st, task_status_name((enum task_status)i),
				    json_integer(s->by_status[i]));
	json_object_set_new(o, "since", cmd_json_time(since));
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
	json_object_set_new(o, "cost_usd", json_real(s->cost_usd));
	json_object_set_new(o, "resumes", json_integer(s->resumes));
	json_object_set_new(o, "resume_success_rate", json_real(rate));
	json_object_set_new(o, "fallbacks", json_integer(s->fallbacks));
	json_object_set_new(o, "retries", json_integer(s->retries));
	json_object_set_new(o, "active_sessions",
			    json_integer(s->sessions_active));
	return o;
}

static void
stats_text(const struct db_stats *s, double rate)
{
	char a[32], c[32], d[32];
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
	printf("resumes      %lld, %.1f%% resumed cleanly, %lld fell back to "
	       "a fresh session\n",
	       (long long)s->resumes, rate * 100, (long long)s->fallbacks);
	printf("retries      %lld\n", (long long)s->retries);
	printf("sessions     %lld active\n", (long long)s->sessions_active);
}

enum { OPT_SINCE = 256 };
static const struct option stats_options[] = {
	{"since", required_argument, NULL, OPT_SINCE},
	{NULL, 0, NULL, 0},
};

static int
stats_exec(struct baton *b, int argc, char **argv)
{
	struct db_stats s;
	char *cause = NULL;
	int64_t since = 0;
	double rate;
	int ch;

	optind = 0;
	while ((ch = cmd_getopt(argc, argv, "", stats_options)) != -1) {
		if (ch != OPT_SINCE)
			return cmd_option_error(&cmd_stats_entry, argv,
						stats_options);
		if (parse_since(optarg, &since) != 0)
			return cmd_usage_error(&cmd_stats_entry,
					       "invalid --since '%s': give a "
					       "time (2026-11-21T09:00:00Z) "
					       "or a duration (2h)",
					       optarg);
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_stats_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	if (store_stats(b->db, since, &s, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	rate = s.resumes > 0 ? (double)s.resumes_ok / (double)s.resumes : 1.0;
	if (b->json)
		return cmd_print_json(stats_json(&s, since, rate)) == 0
			       ? EXIT_OK
			       : EXIT_FAILED;
	stats_text(&s, rate);
	return EXIT_OK;
}

const struct cmd_entry cmd_stats_entry = {
	.name = "stats",
	.usage = "[--json] [--since T]",
	.summary = "counts, run durations, tokens, cost, resumes, retries",
	.help = "options:\n"
		"  --since T   only tasks created since T: a time "
		"(2026-11-21T09:00:00Z)\n"
		"              or a duration back from now (2h, 1d)\n"
		"  --json      one object: tasks, by_status, runs, "
		"run_duration\n"
		"              {p50_ms, p95_ms, max_ms}, input_tokens, "
		"output_tokens,\n"
		"              cost_usd, resumes, resume_success_rate, "
		"fallbacks,\n"
		"              retries, active_sessions\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY | CMD_JSON,
	.exec = stats_exec,
	.options = stats_options,
};
