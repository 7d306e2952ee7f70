#ifndef BATON_PRUNE_H
#define BATON_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "core/baton.h"
#include "db/store.h"
#include "lib/file.h"
#include "lib/strbuf.h"

/* Rows deleted per write transaction unless told otherwise: at a
 * million tasks one batch holds the write lock for tens of ms.  The
 * batch then adapts: halved while one holds the lock longer than
 * PRUNE_HOLD_MS, doubled back (up to the first size) while one holds it
 * less than a quarter of that, so that no writer beside a prune waits
 * much longer than PRUNE_HOLD_MS for it, however slow the disk. */
#define PRUNE_BATCH   1000
#define PRUNE_HOLD_MS 40

struct prune_options {
	int64_t older_than_ms; /* finished (ended) longer ago than this */
	int64_t now;
	int dry_run;  /* change nothing, say what would go */
	size_t batch; /* tasks or sessions per transaction; 0: PRUNE_BATCH */
};

struct prune_result {
	struct db_prune_counts rows;
	struct file_usage files;  /* of the directories removed */
	int64_t orphans;	  /* directories of rows no longer there */
	int64_t transactions;	  /* write transactions committed */
	int64_t longest_hold_ms;  /* the longest one held the write lock */
	int64_t holds_over_100ms; /* how many held it longer than 100 ms */
};

/*
 * `baton prune`, on connection db (b->db, or a worker's): delete the
 * finished tasks (completed, failed, cancelled, timed_out, interrupted)
 * that ended before now - older_than, their runs and the events that
 * name nothing else, then the sessions that are not active, ended
 * before then and no task or run uses any more, with their chains —
 * each a batch at a time, one write transaction per batch.  After each
 * commit the files of what went: <state>/logs/<task>/ and
 * <state>/sessions/<id>/.  Last, directories of tasks and sessions that
 * are not in the database and were not changed since then (left by a
 * prune that stopped between its rows and its files) go too.  Pending,
 * running and active things are never touched.  A file that cannot be
 * removed adds a line to *warnings.  Returns 0 or -BERR_DB with *cause
 * (the batches committed so far stay committed).
 */
int prune_run(struct baton *b, struct store *db, const struct prune_options *,
	      struct prune_result *, struct strvec *warnings, char **cause);

/*
 * One line saying what r holds: "pruned 3 tasks (3 runs, 9 events), 3
 * sessions (3 chain links), 12 files (48.0 KiB)", "would prune ..."
 * for a dry run.  The caller frees it.
 */
char *prune_summary(const struct prune_result *r, int dry_run);

/* "12.0 KiB", "512 bytes"; the caller frees it. */
char *prune_format_bytes(int64_t n);

/*
 * `baton db backup`: an online consistent copy of b->db as the new file
 * path (0600).  -BERR_USAGE if path exists (nothing is overwritten),
 * -BERR_FAIL where the store cannot (its own tool does it), -BERR_DB.
 */
int backup_run(struct baton *b, const char *path, char **cause);

/* `baton db vacuum`: reclaim free space; sizes in bytes before and
 * after.  0, -BERR_FAIL (the store cannot) or -BERR_DB. */
int vacuum_run(struct baton *b, int64_t *before, int64_t *after, char **cause);

/* Non-zero if r counts anything removed (or to remove). */
int prune_removed_any(const struct prune_result *r);

#endif
