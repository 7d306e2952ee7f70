/*
 * baton show TASK [--json]: one task with its runs, session, checks and
 * errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "cmd/table.h"
#include "core/config.h"
#include "lib/display.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_show_entry;

/* One field: v made safe for the terminal (a newline shows as \n). */
static void
line(const char *k, const char *v)
{
	char *safe = display_safe(v);

	printf("%-12s %s\n", k, safe);
	free(safe);
}

/* The prompt's lines made safe, up to 400 bytes, indented under "prompt". */
static void
print_prompt(const char *prompt)
{
	size_t n = strlen(prompt) > 400 ? 400 : strlen(prompt), len;
	char *part, *safe;
	const char *p = prompt, *nl;

	while (n > 0 && ((unsigned char)prompt[n] & 0xc0) == 0x80)
		n--; /* not inside a character */
	printf("prompt       ");
	while (p < prompt + n) {
		nl = memchr(p, '\n', (size_t)(prompt + n - p));
		len = nl ? (size_t)(nl - p) : (size_t)(prompt + n - p);
		part = xstrndup(p, len);
		safe = display_safe(part);
		fputs(safe, stdout);
		free(safe);
		free(part);
		p += len;
		if (nl != NULL && ++p < prompt + n)
			printf("\n             ");
	}
	printf("%s\n", prompt[n] ? " ..." : "");
}

/* The task's fields, one per line, and up to 400 bytes of its prompt. */
static void
print_fields(const struct baton *b, const struct db_task *t)
{
	char buf[64];

	printf("task %lld", (long long)t->id);
	if (t->title != NULL) {
		fputs(": ", stdout);
		cmd_cell(b, t->title, DISPLAY_NOLIMIT, 0, TONE_PLAIN);
	}
	printf("\n%-12s ", "status");
	cmd_cell(b, task_status_name(t->status), DISPLAY_NOLIMIT, 0,
		 cmd_task_tone(t->status));
	putchar('\n');
	if (t->error != NULL)
		line("error", t->error);
	line("agent", t->agent);
	line("model", t->model);
	line("workdir", t->workdir);
	line("milestone", t->milestone);
	line("session", t->session_id);
	if (t->session_req != NULL)
		line("asked for", t->session_req);
	if (t->check_cmd != NULL)
		line("check", t->check_cmd);
	snprintf(buf, sizeof buf, "%d of %d", t->attempts,
		 task_attempts_of(t, b->cfg->runner.requeue_interrupted));
	line("attempts", buf);
	snprintf(buf, sizeof buf, "%d of %d", t->iterations, t->max_iterations);
	line("iterations", buf);
	cmd_format_time(t->created_at, buf, sizeof buf);
	line("created", buf);
	cmd_format_time(t->started_at, buf, sizeof buf);
	line("started", buf);
	cmd_format_time(t->finished_at, buf, sizeof buf);
	line("finished", buf);
	snprintf(buf, sizeof buf, "%lld in, %lld out, $%.4f",
		 (long long)t->input_tokens, (long long)t->output_tokens,
		 t->cost_usd);
	line("usage", buf);
	print_prompt(t->prompt);
}

/* One row of the runs table, and its error below it unless the task's
 * error line said it already (task_error: NULL for none). */
static void
print_run(const struct db_run *r, const char *task_error)
{
	char code[16], chk[16], el[32];

	if (r->has_exit_code)
		snprintf(code, sizeof code, "%d", r->exit_code);
	else if (r->signal)
		snprintf(code, sizeof code, "sig%d", r->signal);
	else
		snprintf(code, sizeof code, "-");
	if (r->has_check)
		snprintf(chk, sizeof chk, "exit %d", r->check_exit_code);
	else
		snprintf(chk, sizeof chk, "-");
	cmd_format_elapsed(r->ended_at ? r->ended_at - r->started_at : 0, el,
			   sizeof el);
	printf("%5lld %4d %-8s %-26s %5s %-8s %s\n", (long long)r->id,
	       r->iteration,
	       r->resume_outcome != RESUME_NONE
		       ? resume_outcome_name(r->resume_outcome)
		       : "-",
	       r->outcome != RUN_OPEN ? run_outcome_name(r->outcome)
				      : "(running)",
	       code, el, chk);
	if (r->error != NULL &&
	    (task_error == NULL || strcmp(r->error, task_error) != 0))
		line("      error:", r->error);
	if (r->output_truncated)
		line("      output:", "truncated at logs.max_bytes (the log "
				      "ends with a marker line)");
}

/* The last run's answer (SPEC §3), each line made safe for a terminal. */
static void
print_answer(const char *answer)
{
	const char *p = answer, *nl;
	char *part, *safe;

	if (answer == NULL)
		return;
	printf("\nanswer:\n");
	while (*p != '\0') {
		nl = strchr(p, '\n');
		part = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
		safe = display_safe(part);
		printf("%s\n", safe);
		free(safe);
		free(part);
		p = nl ? nl + 1 : p + strlen(p);
	}
}

static int
show_exec(struct baton *b, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	struct db_task t = {0};
	struct db_run *runs = NULL;
	size_t n = 0, i;
	int64_t id;
	int c, rc;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", longopts)) != -1)
		return cmd_option_error(&cmd_show_entry, argv, longopts);
	if (argc - optind != 1)
		return cmd_usage_error(&cmd_show_entry, "give one task id");
	if ((rc = cmd_parse_task_id(&cmd_show_entry, argv[optind], &id)))
		return rc;
	if (b->json)
		return cmd_print_task_json(b, id);
	if ((rc = cmd_load_task(b, id, &t, &runs, &n)) != EXIT_OK)
		return rc;
	print_fields(b, &t);
	if (n > 0)
		printf("\nruns:\n%5s %4s %-8s %-26s %5s %-8s %s\n", "RUN",
		       "ITER", "RESUME", "OUTCOME", "EXIT", "TIME", "CHECK");
	for (i = 0; i < n; i++)
		print_run(&runs[i], t.error);
	print_answer(t.answer);
	printf("\nlogs: baton log %lld [--stderr]\n", (long long)t.id);
	db_runs_free(runs, n);
	db_task_release(&t);
	return EXIT_OK;
}

const struct cmd_entry cmd_show_entry = {
	.name = "show",
	.usage = "TASK [--json]",
	.summary = "show one task with its runs, session, checks and errors",
	.help = "  --json   the task object with its runs: see docs/json.md "
		"and\n"
		"           docs/schema/task.schema.json (installed under\n"
		"           share/doc/baton)\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY | CMD_JSON,
	.exec = show_exec,
};
