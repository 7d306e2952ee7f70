/*
 * Milestones: named, ordered groups of tasks that share a session
 * (SPEC §1).  Their sessions are chosen in session.c (S2).
 */
#include <stdlib.h>
#include <string.h>

#include "core/milestone.h"
#include "core/session.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/xmalloc.h"

int
milestone_create(struct baton *b, const char *name, const char *mode,
		 struct db_milestone *m, int *existed, char **cause)
{
	int rc;

	*existed = 0;
	if (strcmp(mode, "per-task") != 0 && strcmp(mode, "shared") != 0) {
		*cause = xasprintf("invalid --session '%s': per-task or "
				   "shared",
				   mode);
		return -BERR_USAGE;
	}
	if (!session_name_valid(name)) {
		*cause = xasprintf("invalid milestone name '%s': use 1 to 64 "
				   "characters from A-Z a-z 0-9 . _ -",
				   name);
		return -BERR_USAGE;
	}
	m->name = xstrdup(name);
	m->session_mode = xstrdup(mode);
	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = store_milestone_insert(b->db, m, clock_now_ms(), existed,
					 cause)) == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		db_milestone_release(m);
		return rc;
	}
	if (*existed && strcmp(m->session_mode, mode) != 0) {
		*cause = xasprintf("milestone %s exists with --session %s; a "
				   "milestone's session mode cannot change",
				   m->name, m->session_mode);
		db_milestone_release(m);
		return -BERR_FAIL;
	}
	return 0;
}
