/*
 * TASK OPTIONS (SPEC §6), shared by run and add; task id and milestone
 * arguments, shared by the commands that take them.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd/common.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

static void
set(char **field, const char *arg)
{
	free(*field);
	*field = xstrdup(arg);
}

int
cmd_task_option(struct task_spec *s, int opt, const char *arg)
{
	switch (opt) {
	case OPT_AGENT:
		set(&s->agent, arg);
		break;
	case OPT_MODEL:
		set(&s->model, arg);
		break;
	case OPT_SESSION:
		set(&s->session, arg);
		break;
	case OPT_NEW_SESSION:
		s->new_session = 1;
		break;
	case OPT_MILESTONE:
		set(&s->milestone, arg);
		break;
	case OPT_WORKDIR:
		set(&s->workdir, arg);
		break;
	case OPT_TIMEOUT:
		set(&s->timeout, arg);
		break;
	case OPT_CHECK:
		set(&s->check, arg);
		break;
	case OPT_MAX_ITERATIONS:
		set(&s->max_iterations, arg);
		break;
	case OPT_TITLE:
		set(&s->title, arg);
		break;
	case OPT_KEY:
		set(&s->key, arg);
		break;
	case OPT_PROMPT_FILE:
		set(&s->prompt_file, arg);
		break;
	case OPT_RETRIES:
		set(&s->retries, arg);
		break;
	case OPT_MAX_COST:
		set(&s->max_cost, arg);
		break;
	case OPT_FORCE_AGENT:
		s->force_agent = 1;
		break;
	case OPT_ALLOW_FOREIGN:
		s->allow_foreign = 1;
		break;
	default:
		return 0;
	}
	return 1;
}

int
cmd_parse_task_id(const struct cmd_entry *e, const char *arg, int64_t *id)
{
	if (task_parse_id(arg, id) != 0)
		return cmd_usage_error(e,
				       "invalid task id '%s': give a "
				       "number like 12",
				       arg);
	return 0;
}

int
cmd_parse_statuses(const struct cmd_entry *e, const char *arg, unsigned *mask)
{
	char *copy = xstrdup(arg), *p = copy, *comma;
	enum task_status st;
	int rc = -1;

	*mask = 0;
	for (; p != NULL; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		if (task_status_parse(p, &st) != 0) {
			rc = cmd_usage_error(e,
					     "invalid status '%s': one or more "
					     "of pending running completed "
					     "failed cancelled timed_out "
					     "interrupted, separated by commas",
					     p);
			break;
		}
		*mask |= 1u << st;
	}
	free(copy);
	return rc;
}

int
cmd_milestone_id(struct baton *b, const struct cmd_entry *e, const char *name,
		 int64_t *id)
{
	struct db_milestone m = {0};
	char *cause = NULL;
	int found;

	if (store_milestone_get(b->db, name, &m, &found, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		db_milestone_release(&m);
		return EXIT_DB;
	}
	if (!found)
		return cmd_usage_error(e, "no milestone '%s'", name);
	*id = m.id;
	db_milestone_release(&m);
	return 0;
}

char *
cmd_join_words(int argc, char **argv)
{
	struct strbuf sb;
	int i;

	if (argc <= 0)
		return NULL;
	strbuf_init(&sb);
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strbuf_adds(&sb, " ");
		strbuf_adds(&sb, argv[i]);
	}
	return strbuf_detach(&sb);
}

int
cmd_add_task(struct baton *b, const struct task_spec *spec, struct db_task *t,
	     int *existed)
{
	char *cause = NULL;
	int rc;

	if ((rc = task_add(b, spec, t, existed, &cause)) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	return EXIT_OK;
}
