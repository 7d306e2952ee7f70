/*
 * baton session list|show|init|fork|reset|close|gc: sessions as first-class
 * objects (SPEC §2 S8–S13, §6, §6.1).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "cmd/table.h"
#include "core/config.h"
#include "core/session.h"
#include "lib/num.h"
#include "lib/clock.h"
#include "lib/display.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

static int session_close_exec(struct baton *, int, char **);
static int session_fork_exec(struct baton *, int, char **);
static int session_gc_exec(struct baton *, int, char **);
static int session_init_exec(struct baton *, int, char **);
static int session_list_exec(struct baton *, int, char **);
static int session_reset_exec(struct baton *, int, char **);
static int session_show_exec(struct baton *, int, char **);

enum { OPT_ALL = 256 };
static const struct option session_list_options[] = {
	{"all", no_argument, NULL, OPT_ALL},
	{NULL, 0, NULL, 0},
};

static const struct option session_init_options[] = {
	{"agent", required_argument, NULL, OPT_AGENT},
	{"model", required_argument, NULL, OPT_MODEL},
	{"workdir", required_argument, NULL, OPT_WORKDIR},
	{"allow-foreign-session", no_argument, NULL, OPT_ALLOW_FOREIGN},
	{NULL, 0, NULL, 0},
};

enum { OPT_DRY = 256 };
static const struct option session_gc_options[] = {
	{"dry-run", no_argument, NULL, OPT_DRY},
	{NULL, 0, NULL, 0},
};

static const struct cmd_entry session_close_entry = {
	.name = "close",
	.usage = "ID|NAME",
	.summary = "end a session (its name is free again)",
	.help = "A closed session is never resumed: a task naming it again "
		"starts a new session\nof that name, a milestone's next task "
		"a new milestone session.  Refused while\na task is using the "
		"session.  Closing one already ended is not an error.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = session_close_exec,
};

static const struct cmd_entry session_fork_entry = {
	.name = "fork",
	.usage = "ID|NAME NEW",
	.summary = "a new session whose first turn branches a conversation",
	.help = "NEW (a name, or a UUID that becomes its id) must not exist.  "
		"It is pinned to\nthe agent and model of ID|NAME, bound to "
		"its project and directory, and\nits first task resumes the "
		"conversation as a branch (claude: --fork-session):\nthe "
		"original goes on unchanged.  Agents that cannot branch a "
		"conversation\n(codex, command, shell) are refused.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = session_fork_exec,
};

static const struct cmd_entry session_gc_entry = {
	.name = "gc",
	.usage = "[--dry-run]",
	.summary = "expire idle sessions, prune ended ones past retention",
	.help = "options:\n"
		"  --dry-run   say what would be done, change nothing\n"
		"\nExpires active sessions idle longer than sessions.ttl "
		"(BATON_SESSION_TTL), except\nthose in use, and deletes "
		"sessions closed, expired or abandoned longer than\n"
		"sessions.retention ago, with their chains and session "
		"directories.  Tasks and\nruns are kept; their session id is "
		"cleared.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = session_gc_exec,
	.options = session_gc_options,
};

static const struct cmd_entry session_init_entry = {
	.name = "init",
	.usage = "NAME|UUID [--agent A] [--model M] [--workdir DIR]",
	.summary = "create a session if it does not exist (prints created or "
		   "exists)",
	.help = "options:\n"
		"  --agent A                agent profile to pin (default: "
		"defaults.agent)\n"
		"  --model M                model to pin (default: the "
		"profile's)\n"
		"  --workdir DIR            the session's project and "
		"directory (default: .)\n"
		"  --allow-foreign-session  accept a session of another "
		"project or user\n"
		"\nIdempotent: an existing session is kept as it is (chain, "
		"usage, turns,\nmetadata, pinned agent and model) and "
		"\"exists\" is printed.  A UUID becomes the\nsession's id.  "
		"An expired session is replaced by a new one of the same "
		"name.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = session_init_exec,
	.options = session_init_options,
};

static const struct cmd_entry session_list_entry = {
	.name = "list",
	.usage = "[--all] [--json]",
	.summary = "list sessions (active ones unless --all)",
	.help = "options:\n"
		"  --all    also closed, expired and abandoned sessions\n"
		"  --json   an array of session objects (docs/json.md)\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY | CMD_JSON,
	.exec = session_list_exec,
	.options = session_list_options,
};

static const struct cmd_entry session_reset_entry = {
	.name = "reset",
	.usage = "ID|NAME",
	.summary = "wipe a session's conversation state, keeping its id",
	.help = "Clears the chain and head, usage, turns, resume failures "
		"and metadata: the\nnext task in the session starts a new "
		"conversation.  Keeps the row, the id, the\nname and the "
		"pinned agent and model; records a \"reset\" event.  Refused "
		"while a\ntask is using the session.  The session directory "
		"($BATON_SESSION_DIR) is kept.\n",
	.flags = CMD_NEEDS_DB | CMD_JSON,
	.exec = session_reset_exec,
};

static const struct cmd_entry session_show_entry = {
	.name = "show",
	.usage = "ID|NAME [--json]",
	.summary = "one session with its chain, runs and events",
	.help = "ID may be a unique prefix of the id (4 characters or more).  "
		"A NAME shows the\nactive session of that name, else the "
		"newest one.\n"
		"  --json   the session object with chain, runs and events\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY | CMD_JSON,
	.exec = session_show_exec,
};

static const struct cmd_entry *const session_subcmds[] = {
	&session_close_entry, &session_fork_entry,
	&session_gc_entry,    &session_init_entry,
	&session_list_entry,  &session_reset_entry,
	&session_show_entry,  NULL,
};

const struct cmd_entry cmd_session_entry = {
	.name = "session",
	.usage = "list|show|init|fork|reset|close|gc ...",
	.summary = "list, inspect, create, fork, reset and close sessions",
	.subcmds = session_subcmds,
};

/* ---- helpers ---- */

/* Only --help-free commands here: no options but the ones given. */
static int
no_options(const struct cmd_entry *e, int argc, char **argv)
{
	static const struct option longopts[] = {{NULL, 0, NULL, 0}};
	int c;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", longopts)) != -1)
		return cmd_option_error(e, argv, longopts);
	return -1;
}

static int
db_error(char *cause)
{
	cmd_error("%s", cause);
	free(cause);
	return EXIT_DB;
}

/* Report a failure of a core/ or db/ function; an exit code. */
static int
failed(int rc, char *cause)
{
	cmd_error("%s", cause ? cause : "failed");
	free(cause);
	return cmd_exit_code(rc);
}

static char *
milestone_name(struct baton *b, int64_t id)
{
	struct db_milestone m = {0};
	char *cause = NULL, *name = NULL;
	int found = 0;

	if (id == 0)
		return NULL;
	if (store_milestone_get_id(b->db, id, &m, &found, &cause) != 0)
		free(cause);
	name = found ? xstrdup(m.name) : xasprintf("%lld", (long long)id);
	db_milestone_release(&m);
	return name;
}

/* The name to show: the session's own, its milestone's, or "-". */
static char *
display_name(struct baton *b, const struct db_session *s)
{
	char *ms, *name;

	if (s->name != NULL)
		return xstrdup(s->name);
	if ((ms = milestone_name(b, s->milestone_id)) == NULL)
		return xstrdup("-");
	name = xasprintf("milestone:%s", ms);
	free(ms);
	return name;
}

/* "NAME (UUID)", "milestone:M (UUID)" or "UUID"; caller frees. */
static char *
label_of(struct baton *b, const struct db_session *s)
{
	char *name, *label;

	if (s->name == NULL && s->milestone_id == 0)
		return xstrdup(s->id);
	name = display_name(b, s);
	label = xasprintf("%s (%s)", name, s->id);
	free(name);
	return label;
}

/* The §6.1 object plus what baton knows beyond it. */
static json_t *
session_json(struct baton *b, const struct db_session *s,
	     const struct db_chain_link *chain, size_t nchain, int with_chain)
{
	json_t *o = cmd_session_json(s, with_chain ? chain : NULL,
				     with_chain ? nchain : 0,
				     b->cfg->sessions.ttl_ms);
	json_t *l;
	char *ms = milestone_name(b, s->milestone_id);

	if (with_chain && chain == NULL)
		json_object_set_new(o, "chain", json_array());
	json_object_set_new(o, "milestone", cmd_json_str(ms));
	free(ms);
	json_object_set_new(o, "os_user", cmd_json_str(s->os_user));
	json_object_set_new(o, "closed_at", cmd_json_time(s->closed_at));
	json_object_set_new(o, "cache_read_tokens",
			    json_integer(s->cache_read_tokens));
	json_object_set_new(o, "cache_creation_tokens",
			    json_integer(s->cache_creation_tokens));
	if (session_leased(s, clock_now_ms())) {
		l = json_object();
		json_object_set_new(l, "task_id", json_integer(s->lease_task));
		json_object_set_new(l, "runner_id",
				    json_integer(s->lease_runner));
		json_object_set_new(l, "expires_at",
				    cmd_json_time(s->lease_expires));
		json_object_set_new(o, "lease", l);
	} else
		json_object_set_new(o, "lease", json_null());
	return o;
}

static void
print_notes(struct baton *b, const struct strvec *notes)
{
	size_t i;

	for (i = 0; i < notes->n; i++)
		cmd_warn(b, "%s", notes->v[i]);
}

/* ---- list ---- */

/* Columns of session list but NAME's, wide and narrow (see columns()). */
#define LIST_WIDE_COLS	 121
#define LIST_NARROW_COLS 60

struct listing {
	struct baton *b;
	struct json_list json;
	int as_json;
	int narrow;	  /* short ids, no KIND, MODEL or TOKENS */
	size_t name_cols; /* NAME cut to this */
	size_t name_pad;  /* and padded to this */
	int64_t now;
	long long n;
};

/*
 * Fit the table to the terminal: all columns with NAME 20 to 40 wide
 * where they fit; else an 8-character id prefix (enough for session
 * show), no KIND, MODEL or TOKENS, and NAME taking what is left.  Off a
 * terminal nothing is cut.
 */
static void
columns(struct listing *l)
{
	size_t cols = cmd_columns();

	if (cols == DISPLAY_NOLIMIT) {
		l->name_cols = DISPLAY_NOLIMIT;
		l->name_pad = 20;
	} else if (cols >= LIST_WIDE_COLS + 20) {
		l->name_cols = cols - LIST_WIDE_COLS;
		if (l->name_cols > 40)
			l->name_cols = 40;
		l->name_pad = l->name_cols;
	} else {
		l->narrow = 1;
		l->name_cols = cols > LIST_NARROW_COLS + 8
				       ? cols - LIST_NARROW_COLS
				       : 8;
		l->name_pad = l->name_cols;
	}
}

static void
list_header(const struct listing *l)
{
	if (l->narrow)
		printf("%-8s  %-*s  %-8s  %-9s  %5s  %9s  %s\n", "ID",
		       (int)l->name_pad, "NAME", "AGENT", "STATUS", "TURNS",
		       "COST", "LAST USED");
	else
		printf("%-36s  %-9s  %-*s  %-8s  %-10s  %-9s  %5s  %8s  %9s  "
		       "%s\n",
		       "ID", "KIND", (int)l->name_pad, "NAME", "AGENT", "MODEL",
		       "STATUS", "TURNS", "TOKENS", "COST", "LAST USED");
}

static int
list_one(void *arg, const struct db_session *s)
{
	struct listing *l = arg;
	char *name, cost[32], ago[32];
	struct baton *b = l->b;

	l->n++;
	if (l->as_json) {
		cmd_json_list_add(&l->json, session_json(b, s, NULL, 0, 0));
		return ferror(stdout) ? 1 : 0;
	}
	name = display_name(b, s);
	snprintf(cost, sizeof cost, "$%.4f", s->cost_usd);
	time_ago(l->now - s->last_used_at, ago, sizeof ago);
	printf("%-*.*s  ", l->narrow ? 8 : 36, l->narrow ? 8 : 36, s->id);
	if (!l->narrow)
		printf("%-9s  ", session_kind_name(s->kind));
	cmd_cell(b, name, l->name_cols, l->name_pad + 2, TONE_PLAIN);
	cmd_cell(b, s->agent, 8, 10, TONE_PLAIN);
	if (!l->narrow)
		cmd_cell(b, s->model, 10, 12, TONE_PLAIN);
	cmd_cell(b, session_status_name(s->status), 9, 11,
		 cmd_session_tone(s->status));
	printf("%5lld  ", (long long)s->turns);
	if (!l->narrow)
		printf("%8lld  ", (long long)num_count_add(s->input_tokens,
							   s->output_tokens));
	printf("%9s  %s\n", cost, ago);
	free(name);
	return ferror(stdout) ? 1 : 0;
}

static int
session_list_exec(struct baton *b, int argc, char **argv)
{
	struct db_session_filter f = {0};
	struct listing l = {0};
	char *cause = NULL;
	int c;

	f.active_only = 1;
	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", session_list_options)) != -1) {
		if (c != OPT_ALL)
			return cmd_option_error(&session_list_entry, argv,
						session_list_options);
		f.active_only = 0;
	}
	if (optind < argc)
		return cmd_usage_error(&session_list_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	l.b = b;
	l.now = clock_now_ms();
	l.as_json = b->json;
	if (l.as_json)
		cmd_json_list_begin(&l.json);
	else {
		columns(&l);
		list_header(&l);
	}
	if (store_session_each(b->db, &f, list_one, &l, &cause) != 0)
		return db_error(cause);
	if (l.as_json)
		return cmd_json_list_end(&l.json) == 0 ? EXIT_OK : EXIT_FAILED;
	if (l.n == 0)
		printf("(no %ssessions)\n", f.active_only ? "active " : "");
	return EXIT_OK;
}

/* ---- show ---- */

/* One field: v made safe for the terminal. */
static void
kv(const char *k, const char *v)
{
	char *safe = display_safe(v);

	printf("%-12s %s\n", k, safe);
	free(safe);
}

/* The session's fields, one per line, as they are at now. */
static void
show_fields(struct baton *b, const struct db_session *s, int64_t now)
{
	char buf[256], t1[40], el[32], *name;

	name = display_name(b, s);
	printf("session %s\n", s->id);
	kv("kind", session_kind_name(s->kind));
	kv("name", name);
	free(name);
	if (s->status == SESSION_ACTIVE) {
		cmd_format_time(s->last_used_at + b->cfg->sessions.ttl_ms, t1,
				sizeof t1);
		snprintf(buf, sizeof buf, "active (expires %s if unused)", t1);
		kv("status", buf);
	} else {
		cmd_format_time(s->closed_at, t1, sizeof t1);
		snprintf(buf, sizeof buf, "%s (%s)",
			 session_status_name(s->status), t1);
		kv("status", buf);
	}
	kv("agent", s->agent);
	kv("model", s->model);
	kv("project", s->project);
	kv("workdir", s->workdir);
	kv("user", s->os_user);
	kv("head", s->head);
	snprintf(buf, sizeof buf, "%lld", (long long)s->turns);
	kv("turns", buf);
	snprintf(buf, sizeof buf, "%lld in, %lld out, $%.4f",
		 (long long)s->input_tokens, (long long)s->output_tokens,
		 s->cost_usd);
	kv("usage", buf);
	snprintf(buf, sizeof buf, "%s (%d resume failure%s)",
		 s->resumable ? "yes" : "no", s->resume_failures,
		 s->resume_failures == 1 ? "" : "s");
	kv("resumable", buf);
	if (s->predecessor != NULL)
		kv("predecessor", s->predecessor);
	cmd_format_time(s->created_at, t1, sizeof t1);
	kv("created", t1);
	cmd_format_elapsed(now - s->last_used_at, el, sizeof el);
	cmd_format_time(s->last_used_at, t1, sizeof t1);
	snprintf(buf, sizeof buf, "%s (%s ago)", t1, el);
	kv("last used", buf);
	if (session_leased(s, now)) {
		snprintf(buf, sizeof buf, "in use by task %lld (runner %lld)",
			 (long long)s->lease_task, (long long)s->lease_runner);
		kv("lease", buf);
	}
}

static void
show_chain(const struct baton *b, const struct db_chain_link *chain,
	   size_t nchain)
{
	char t1[40];
	size_t i;

	printf("\nchain:%s\n",
	       nchain == 0 ? " (empty: no conversation yet)" : "");
	for (i = 0; i < nchain; i++) {
		cmd_format_time(chain[i].created_at, t1, sizeof t1);
		printf("  %2zu  ", i + 1);
		cmd_cell(b, chain[i].agent_session_id, DISPLAY_NOLIMIT, 36,
			 TONE_PLAIN);
		printf("  %-26s  run %-5lld %s%s\n",
		       chain_edge_name(chain[i].edge),
		       (long long)chain[i].run_id, t1,
		       i + 1 == nchain ? "  (head)" : "");
	}
}

static void
show_runs(const struct baton *b, const struct db_run *runs, size_t nruns)
{
	size_t i;

	if (nruns > 0)
		printf("\nruns:\n  %5s %5s %4s %-26s %-13s %-13s %s\n", "RUN",
		       "TASK", "ITER", "RESUME", "IN", "OUT", "OUTCOME");
	for (i = 0; i < nruns; i++) {
		const struct db_run *r = &runs[i];

		printf("  %5lld %5lld %4d %-26s ", (long long)r->id,
		       (long long)r->task_id, r->iteration,
		       r->resume_outcome != RESUME_NONE
			       ? resume_outcome_name(r->resume_outcome)
			       : "-");
		cmd_cell(b, r->agent_session_in, 13, 14, TONE_PLAIN);
		cmd_cell(b, r->agent_session_out, 13, 14, TONE_PLAIN);
		printf("%s\n", r->outcome != RUN_OPEN
				       ? run_outcome_name(r->outcome)
				       : "(running)");
	}
}

static void
show_events(const struct baton *b, const struct db_event_row *ev, size_t nev)
{
	char t1[40];
	size_t i;

	printf("\nevents:\n");
	for (i = 0; i < nev; i++) {
		cmd_format_time(ev[i].at, t1, sizeof t1);
		printf("  %s  %-8s", t1, event_kind_name(ev[i].kind));
		if (ev[i].task_id != 0)
			printf("  task %lld", (long long)ev[i].task_id);
		if (ev[i].detail != NULL) {
			fputs("  ", stdout);
			cmd_cell(b, ev[i].detail, DISPLAY_NOLIMIT, 0,
				 TONE_PLAIN);
		}
		putchar('\n');
	}
}

static void
show_text(struct baton *b, const struct db_session *s,
	  const struct db_chain_link *chain, size_t nchain,
	  const struct db_run *runs, size_t nruns,
	  const struct db_event_row *ev, size_t nev)
{
	show_fields(b, s, clock_now_ms());
	show_chain(b, chain, nchain);
	show_runs(b, runs, nruns);
	show_events(b, ev, nev);
}

static json_t *
show_json(struct baton *b, const struct db_session *s,
	  const struct db_chain_link *chain, size_t nchain,
	  const struct db_run *runs, size_t nruns,
	  const struct db_event_row *ev, size_t nev)
{
	json_t *o = session_json(b, s, chain, nchain, 1), *a, *e, *r;
	size_t i;

	/* the chain as edges: from the previous link to this one */
	a = json_object_get(o, "chain");
	for (i = 0; i < json_array_size(a); i++) {
		e = json_array_get(a, i);
		json_object_set_new(
			e, "from",
			i > 0 ? json_string(chain[i - 1].agent_session_id)
			      : json_null());
		json_object_set_new(e, "run_id",
				    chain[i].run_id
					    ? json_integer(chain[i].run_id)
					    : json_null());
	}
	a = json_array();
	for (i = 0; i < nruns; i++) {
		r = cmd_run_json(&runs[i]);
		json_object_set_new(r, "task_id",
				    json_integer(runs[i].task_id));
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "runs", a);
	a = json_array();
	for (i = 0; i < nev; i++) {
		e = json_object();
		json_object_set_new(e, "id", json_integer(ev[i].id));
		json_object_set_new(e, "at", cmd_json_time(ev[i].at));
		json_object_set_new(e, "kind",
				    json_string(event_kind_name(ev[i].kind)));
		json_object_set_new(e, "task_id",
				    ev[i].task_id ? json_integer(ev[i].task_id)
						  : json_null());
		json_object_set_new(e, "run_id",
				    ev[i].run_id ? json_integer(ev[i].run_id)
						 : json_null());
		json_object_set_new(e, "runner_id",
				    ev[i].runner_id
					    ? json_integer(ev[i].runner_id)
					    : json_null());
		json_object_set_new(e, "detail", cmd_json_str(ev[i].detail));
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "events", a);
	return o;
}

static int
session_show_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &session_show_entry;
	struct db_session s = {0};
	struct db_chain_link *chain = NULL;
	struct db_run *runs = NULL;
	struct db_event_row *ev = NULL;
	size_t nchain = 0, nruns = 0, nev = 0;
	char *cause = NULL;
	int rc;

	if ((rc = no_options(e, argc, argv)) >= 0)
		return rc;
	if (argc - optind != 1)
		return cmd_usage_error(e, "give one session id or name");
	if ((rc = session_lookup(b->db, argv[optind], &s, &cause)) != 0)
		return failed(rc, cause);
	if (store_session_chain(b->db, s.id, &chain, &nchain, &cause) != 0 ||
	    store_session_runs(b->db, s.id, &runs, &nruns, &cause) != 0 ||
	    store_session_events(b->db, s.id, &ev, &nev, &cause) != 0) {
		rc = db_error(cause);
		goto out;
	}
	if (b->json)
		rc = cmd_print_json(show_json(b, &s, chain, nchain, runs, nruns,
					      ev, nev)) == 0
			     ? EXIT_OK
			     : EXIT_FAILED;
	else {
		show_text(b, &s, chain, nchain, runs, nruns, ev, nev);
		rc = EXIT_OK;
	}
out:
	db_chain_free(chain, nchain);
	db_runs_free(runs, nruns);
	db_events_free(ev, nev);
	db_session_release(&s);
	return rc;
}

/* Print the session after a change: the JSON object, or a line. */
static int
print_after(struct baton *b, const struct db_session *s, const char *line,
	    const char *key, const char *value)
{
	json_t *o;

	if (b->json) {
		o = session_json(b, s, NULL, 0, 0);
		if (key != NULL)
			json_object_set_new(o, key, cmd_json_str(value));
		return cmd_print_json(o) == 0 ? EXIT_OK : EXIT_FAILED;
	}
	if (line != NULL)
		printf("%s\n", line);
	return EXIT_OK;
}

/* ---- init ---- */

static int
session_init_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &session_init_entry;
	struct session_init in = {0};
	struct session_choice sc = {0};
	struct db_session s = {0};
	const char *workdir = ".";
	char *real = NULL, *cause = NULL;
	int c, found, rc;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", session_init_options)) != -1) {
		switch (c) {
		case OPT_AGENT:
			in.agent = optarg;
			break;
		case OPT_MODEL:
			in.model = optarg;
			break;
		case OPT_WORKDIR:
			workdir = optarg;
			break;
		case OPT_ALLOW_FOREIGN:
			in.allow_foreign = 1;
			break;
		default:
			return cmd_option_error(e, argv, session_init_options);
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(e, "give one session name or UUID");
	in.ref = argv[optind];
	if ((real = realpath(workdir, NULL)) == NULL)
		return cmd_usage_error(e, "workdir %s: %s", workdir,
				       xstrerror(errno));
	in.workdir = real;

	if ((rc = session_init(b, &in, &sc, &cause)) != 0) {
		rc = failed(rc, cause);
		goto out;
	}
	print_notes(b, &sc.notes);
	if (b->json) {
		if (store_session_get(b->db, sc.id, &s, &found, &cause) != 0) {
			rc = db_error(cause);
			goto out;
		}
		rc = print_after(b, &s, NULL, "result",
				 sc.created ? "created" : "exists");
	} else
		rc = print_after(b, &s, sc.created ? "created" : "exists", NULL,
				 NULL);
out:
	free(real);
	session_choice_release(&sc);
	db_session_release(&s);
	return rc;
}

/* ---- reset, close ---- */

static int
session_reset_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &session_reset_entry;
	struct db_session s = {0};
	char *cause = NULL, *label, *line;
	int rc;

	if ((rc = no_options(e, argc, argv)) >= 0)
		return rc;
	if (argc - optind != 1)
		return cmd_usage_error(e, "give one session id or name");
	if ((rc = session_reset(b, argv[optind], clock_now_ms(), &s, &cause)) !=
	    0)
		return failed(rc, cause);
	label = label_of(b, &s);
	line = xasprintf("reset %s", label);
	rc = print_after(b, &s, line, NULL, NULL);
	free(line);
	free(label);
	db_session_release(&s);
	return rc;
}

static int
session_close_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &session_close_entry;
	struct db_session s = {0};
	char *cause = NULL, *label, *line;
	int already = 0, rc;

	if ((rc = no_options(e, argc, argv)) >= 0)
		return rc;
	if (argc - optind != 1)
		return cmd_usage_error(e, "give one session id or name");
	if ((rc = session_close(b, argv[optind], clock_now_ms(), &already, &s,
				&cause)) != 0)
		return failed(rc, cause);
	label = label_of(b, &s);
	if (already)
		line = xasprintf("session %s is already %s", label,
				 session_status_name(s.status));
	else
		line = xasprintf("closed %s", label);
	rc = print_after(b, &s, line, NULL, NULL);
	free(line);
	free(label);
	db_session_release(&s);
	return rc;
}

/* ---- fork ---- */

static int
session_fork_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &session_fork_entry;
	struct db_session s = {0};
	char *cause = NULL, *label, *line;
	int rc;

	if ((rc = no_options(e, argc, argv)) >= 0)
		return rc;
	if (argc - optind != 2)
		return cmd_usage_error(e, "give the session to fork and a new "
					  "name");
	if ((rc = session_fork(b, argv[optind], argv[optind + 1],
			       clock_now_ms(), &s, &cause)) != 0)
		return failed(rc, cause);
	label = label_of(b, &s);
	line = xasprintf("forked %s into %s", argv[optind], label);
	rc = print_after(b, &s, line, NULL, NULL);
	free(line);
	free(label);
	db_session_release(&s);
	return rc;
}

/* ---- gc ---- */

struct gc {
	struct baton *b;
	int dry_run;
	int64_t now;
	json_t *expired, *pruned;
	struct strvec lines; /* printed once the transaction committed */
};

static void
gc_one(void *arg, const char *action, const struct db_session *s)
{
	struct gc *g = arg;
	char *label = label_of(g->b, s), el[32];
	int expire = strcmp(action, "expire") == 0;

	json_array_append_new(expire ? g->expired : g->pruned,
			      json_string(s->id));
	if (expire) {
		cmd_format_elapsed(g->now - s->last_used_at, el, sizeof el);
		strvec_pushf(&g->lines, "%s %s (%s, idle for %s)",
			     g->dry_run ? "would expire" : "expired", label,
			     session_kind_name(s->kind), el);
	} else {
		cmd_format_elapsed(g->now - (s->closed_at ? s->closed_at
							  : s->last_used_at),
				   el, sizeof el);
		strvec_pushf(&g->lines, "%s %s (%s, %s %s ago)",
			     g->dry_run ? "would prune" : "pruned", label,
			     session_kind_name(s->kind),
			     session_status_name(s->status), el);
	}
	free(label);
}

static int
session_gc_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e = &session_gc_entry;
	struct gc g = {0};
	struct strvec warnings;
	char *cause = NULL;
	json_t *o;
	size_t i;
	int c, rc;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", session_gc_options)) != -1) {
		if (c != OPT_DRY)
			return cmd_option_error(e, argv, session_gc_options);
		g.dry_run = 1;
	}
	if (optind < argc)
		return cmd_usage_error(e, "unexpected argument '%s'",
				       argv[optind]);
	g.b = b;
	g.now = clock_now_ms();
	g.expired = json_array();
	g.pruned = json_array();
	strvec_init(&g.lines);
	strvec_init(&warnings);
	rc = session_gc(b, g.now, g.dry_run, gc_one, &g, &warnings, &cause);
	if (rc != 0) {
		rc = failed(rc, cause);
		goto out;
	}
	for (i = 0; i < g.lines.n && !b->json && b->verbosity >= 0; i++)
		printf("%s\n", g.lines.v[i]);
	for (i = 0; i < warnings.n; i++)
		cmd_warn(b, "%s", warnings.v[i]);
	if (b->json) {
		o = json_object();
		json_object_set_new(o, "dry_run", json_boolean(g.dry_run));
		json_object_set(o, "expired", g.expired);
		json_object_set(o, "pruned", g.pruned);
		rc = cmd_print_json(o) == 0 ? EXIT_OK : EXIT_FAILED;
	} else {
		if (b->verbosity >= 0)
			printf("%s%zu expired, %zu pruned\n",
			       g.dry_run ? "dry run: " : "",
			       json_array_size(g.expired),
			       json_array_size(g.pruned));
		rc = EXIT_OK;
	}
out:
	json_decref(g.expired);
	json_decref(g.pruned);
	strvec_release(&g.lines);
	strvec_release(&warnings);
	return rc;
}
