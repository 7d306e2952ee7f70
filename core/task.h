#ifndef BATON_TASK_H
#define BATON_TASK_H

#include <stdint.h>

#include "core/baton.h"

struct db;
struct db_task;

/*
 * A task as the user wrote it (TASK OPTIONS on the command line, or one
 * record of a task file): strings not yet checked.  NULL means not given.
 */
struct task_spec {
	char *prompt;
	char *prompt_file; /* "-" for stdin */
	char *agent, *model, *session, *milestone, *workdir, *timeout;
	char *check, *max_iterations, *title, *key;
	int new_session, force_agent, allow_foreign;
	/* where it came from, for messages: "tasks.yaml:12" or NULL */
	char *origin;
};
void task_spec_release(struct task_spec *);

/*
 * Check spec and turn it into a task row ready to insert: the workdir
 * exists and is a directory (its realpath is kept, and its project), the
 * agent profile exists, --session is a valid NAME or UUID and not used
 * with --new-session, durations and counts parse, the prompt is not
 * empty (read from the prompt file if given).  A milestone named but
 * not existing is created (shared session) when create_milestones.
 * Returns 0, or -BERR_USAGE with *cause ("origin: message" when the spec
 * has an origin), -BERR_DB.
 */
int task_spec_resolve(struct baton *b, struct db *db,
		      const struct task_spec *spec, struct db_task *t,
		      char **cause);

/* Parse a task id argument ("12"); 0 or -1. */
int task_parse_id(const char *s, int64_t *id);

#endif
