/*
 * JSON shapes (SPEC §6.1) and small formatting helpers.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "cmd/common.h"
#include "lib/num.h"
#include "lib/text.h"
#include "lib/clock.h"

json_t *
cmd_json_time(int64_t ms)
{
	char buf[40];

	if (ms == 0)
		return json_null();
	time_rfc3339(ms, buf, sizeof buf);
	return json_string(buf);
}

json_t *
cmd_json_usd(double usd)
{
	return json_real(num_usd(usd));
}

json_t *
cmd_json_str(const char *s)
{
	json_t *v;
	char *clean;

	if (s == NULL)
		return json_null();
	if ((v = json_string(s)) != NULL)
		return v;
	/* not UTF-8 (a title, an agent's error): keep the field and the
	 * shape, with U+FFFD for what jansson refuses */
	clean = text_utf8_clean(s);
	v = json_string(clean);
	free(clean);
	return v != NULL ? v : json_null();
}

json_t *
cmd_run_json(const struct db_run *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "iteration", json_integer(r->iteration));
	json_object_set_new(o, "attempt", json_integer(r->attempt));
	json_object_set_new(o, "session_id", cmd_json_str(r->session_id));
	json_object_set_new(o, "agent_session_in",
			    cmd_json_str(r->agent_session_in));
	json_object_set_new(o, "agent_session_out",
			    cmd_json_str(r->agent_session_out));
	json_object_set_new(
		o, "resume_outcome",
		r->resume_outcome != RESUME_NONE
			? json_string(resume_outcome_name(r->resume_outcome))
			: json_null());
	json_object_set_new(o, "started_at", cmd_json_time(r->started_at));
	json_object_set_new(o, "ended_at", cmd_json_time(r->ended_at));
	json_object_set_new(o, "exit_code",
			    r->has_exit_code ? json_integer(r->exit_code)
					     : json_null());
	json_object_set_new(o, "signal",
			    r->signal ? json_integer(r->signal) : json_null());
	json_object_set_new(o, "outcome",
			    r->outcome != RUN_OPEN
				    ? json_string(run_outcome_name(r->outcome))
				    : json_null());
	json_object_set_new(o, "error", cmd_json_str(r->error));
	json_object_set_new(o, "answer", cmd_json_str(r->answer));
	json_object_set_new(o, "output_truncated",
			    json_boolean(r->output_truncated));
	json_object_set_new(o, "input_tokens", json_integer(r->input_tokens));
	json_object_set_new(o, "output_tokens", json_integer(r->output_tokens));
	json_object_set_new(o, "cost_usd", cmd_json_usd(r->cost_usd));
	json_object_set_new(o, "check_exit_code",
			    r->has_check ? json_integer(r->check_exit_code)
					 : json_null());
	json_object_set_new(o, "duration_ms",
			    r->duration_ms >= 0 ? json_integer(r->duration_ms)
						: json_null());
	return o;
}

json_t *
cmd_task_json(const struct db_task *t, const struct db_run *runs, size_t nruns,
	      int with_runs)
{
	json_t *o = json_object(), *a;
	size_t i;

	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "title", cmd_json_str(t->title));
	json_object_set_new(o, "status",
			    json_string(task_status_name(t->status)));
	json_object_set_new(o, "agent", cmd_json_str(t->agent));
	json_object_set_new(o, "model", cmd_json_str(t->model));
	json_object_set_new(o, "workdir", cmd_json_str(t->workdir));
	json_object_set_new(o, "milestone", cmd_json_str(t->milestone));
	json_object_set_new(o, "session_id", cmd_json_str(t->session_id));
	json_object_set_new(o, "attempts", json_integer(t->attempts));
	json_object_set_new(o, "retries",
			    t->retries >= 0 ? json_integer(t->retries)
					    : json_null());
	json_object_set_new(o, "max_cost",
			    t->max_cost > 0 ? json_real(t->max_cost)
					    : json_null());
	json_object_set_new(o, "iterations", json_integer(t->iterations));
	json_object_set_new(o, "exit_code",
			    t->has_exit_code ? json_integer(t->exit_code)
					     : json_null());
	json_object_set_new(o, "error", cmd_json_str(t->error));
	json_object_set_new(o, "reason", cmd_json_str(t->reason));
	json_object_set_new(o, "key", cmd_json_str(t->key));
	json_object_set_new(o, "created_at", cmd_json_time(t->created_at));
	json_object_set_new(o, "started_at", cmd_json_time(t->started_at));
	json_object_set_new(o, "finished_at", cmd_json_time(t->finished_at));
	json_object_set_new(o, "input_tokens", json_integer(t->input_tokens));
	json_object_set_new(o, "output_tokens", json_integer(t->output_tokens));
	json_object_set_new(o, "cost_usd", cmd_json_usd(t->cost_usd));
	json_object_set_new(o, "answer", cmd_json_str(t->answer));
	if (with_runs) {
		a = json_array();
		for (i = 0; i < nruns; i++)
			json_array_append_new(a, cmd_run_json(&runs[i]));
		json_object_set_new(o, "runs", a);
	}
	return o;
}

json_t *
cmd_session_json(const struct db_session *s, const struct db_chain_link *chain,
		 size_t nchain, int64_t ttl_ms)
{
	json_t *o = json_object(), *a, *l;
	size_t i;

	json_object_set_new(o, "id", json_string(s->id));
	json_object_set_new(o, "kind", json_string(session_kind_name(s->kind)));
	json_object_set_new(o, "name", cmd_json_str(s->name));
	json_object_set_new(o, "agent", cmd_json_str(s->agent));
	json_object_set_new(o, "model", cmd_json_str(s->model));
	json_object_set_new(o, "project", cmd_json_str(s->project));
	json_object_set_new(o, "workdir", cmd_json_str(s->workdir));
	json_object_set_new(o, "status",
			    json_string(session_status_name(s->status)));
	json_object_set_new(o, "head", cmd_json_str(s->head));
	if (chain != NULL) {
		a = json_array();
		for (i = 0; i < nchain; i++) {
			l = json_object();
			json_object_set_new(
				l, "agent_session_id",
				json_string(chain[i].agent_session_id));
			json_object_set_new(
				l, "edge",
				json_string(chain_edge_name(chain[i].edge)));
			json_object_set_new(l, "created_at",
					    cmd_json_time(chain[i].created_at));
			json_array_append_new(a, l);
		}
		json_object_set_new(o, "chain", a);
	}
	json_object_set_new(o, "turns", json_integer(s->turns));
	json_object_set_new(o, "input_tokens", json_integer(s->input_tokens));
	json_object_set_new(o, "output_tokens", json_integer(s->output_tokens));
	json_object_set_new(o, "cost_usd", cmd_json_usd(s->cost_usd));
	json_object_set_new(o, "resume_failures",
			    json_integer(s->resume_failures));
	json_object_set_new(o, "resumable", json_boolean(s->resumable));
	json_object_set_new(o, "predecessor", cmd_json_str(s->predecessor));
	json_object_set_new(o, "created_at", cmd_json_time(s->created_at));
	json_object_set_new(o, "last_used_at", cmd_json_time(s->last_used_at));
	json_object_set_new(o, "expires_at",
			    s->status == SESSION_ACTIVE
				    ? cmd_json_time(s->last_used_at + ttl_ms)
				    : json_null());
	return o;
}

int
cmd_print_json(json_t *v)
{
	int rc = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(v);
	fputc('\n', stdout);
	return rc == 0 ? 0 : -1;
}

void
cmd_format_elapsed(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (ms < 60000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
	else
		snprintf(buf, len, "%lldh%02lldm", (long long)(ms / 3600000),
			 (long long)(ms / 60000 % 60));
}

void
cmd_format_time(int64_t ms, char *buf, size_t len)
{
	time_local(ms, buf, len);
}

int
cmd_load_task(struct baton *b, int64_t id, struct db_task *t,
	      struct db_run **runs, size_t *n)
{
	char *cause = NULL;
	int found;

	*runs = NULL;
	*n = 0;
	if (store_task_get(b->db, id, t, &found, &cause) != 0 ||
	    (found && store_run_list(b->db, id, runs, n, &cause) != 0)) {
		cmd_error("%s", cause);
		free(cause);
		db_task_release(t);
		return EXIT_DB;
	}
	if (!found) {
		cmd_error("no task %lld", (long long)id);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int
cmd_print_task_json(struct baton *b, int64_t id)
{
	struct db_task t = {0};
	struct db_run *runs = NULL;
	size_t n = 0;
	int rc;

	if ((rc = cmd_load_task(b, id, &t, &runs, &n)) != EXIT_OK)
		return rc;
	rc = cmd_print_json(cmd_task_json(&t, runs, n, 1));
	db_runs_free(runs, n);
	db_task_release(&t);
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}
