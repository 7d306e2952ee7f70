#ifndef BATON_DOCTOR_H
#define BATON_DOCTOR_H

#include <stddef.h>

#include "core/baton.h"
#include "db/store.h"
#include "lib/strbuf.h"

/*
 * What `baton doctor` found: the S7 invariants (SPEC §2) and the
 * database's own integrity check.
 */
struct doctor_report {
	struct strvec kinds;	/* "running-task", "lease", ... */
	struct strvec problems; /* the same count: what was found */
	int damaged;		/* the integrity check failed */
	char *integrity;	/* its report then */
	int fixed;		/* fix was asked and the repairs committed */
	/* The write-ahead log after a passive checkpoint; wal.busy: a
	 * reader holds part of it (SPEC §5), and openers says which
	 * processes of this host have the database open. */
	struct store_wal wal;
	struct strvec openers;
	int nopeners; /* how many there are (openers holds at most 10) */
};
void doctor_report_release(struct doctor_report *);

/*
 * Check S7; with fix, repair what was found (temp sessions abandoned,
 * tasks interrupted, leases released, runs ended) in one transaction.
 * Returns 0 with *r filled (release it), or -BERR_DB with *cause.
 */
int doctor_check(struct baton *b, int fix, struct doctor_report *r,
		 char **cause);

#endif
