#ifndef BATON_MILESTONE_H
#define BATON_MILESTONE_H

#include "core/baton.h"

struct db_milestone;

/*
 * `milestone create NAME [--session per-task|shared]`: create it if it
 * does not exist, in one transaction.  *m is the milestone as stored
 * (release it) and *existed says it was there already.  The name
 * follows the session-name rule; a milestone's session mode never
 * changes.  Returns 0, -BERR_USAGE (a bad name or mode), -BERR_FAIL
 * (it exists with the other mode) or -BERR_DB, with *cause.
 */
int milestone_create(struct baton *b, const char *name, const char *mode,
		     struct db_milestone *m, int *existed, char **cause);

#endif
