/*
 * Housekeeping: `baton prune` (and logs.retention in `work`), `baton db
 * backup` and `baton db vacuum`.
 *
 * Prune deletes rows first and files after, a batch at a time: each
 * batch is one write transaction, committed before its directories are
 * removed.  A crash in between leaves directories without rows (which
 * the next prune removes), never rows whose files are gone.  Task ids
 * are never reused (AUTOINCREMENT), so such a directory cannot be taken
 * for a new task's.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/prune.h"
#include "lib/clock.h"
#include "lib/id.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

struct pass {
	struct baton *b;
	struct store *db;
	const struct prune_options *opt;
	int64_t before; /* the cut-off time */
	size_t batch;	/* rows in the next transaction, adapted */
	size_t cap;	/* the most a batch may hold */
	struct prune_result *r;
	struct strvec *warnings;
	int64_t held; /* ms the last batch held the write lock */
};

/*
 * After a batch held the write lock for held ms, leave it free as long
 * (10 ms at least) before the next: other baton processes wait for it
 * in SQLite's busy handler, which looks again only every few to 100 ms,
 * and would never see it free between batches taken back to back.
 */
static void
yield_lock(int64_t held)
{
	struct timespec ts;

	if (held < 10)
		held = 10;
	ts.tv_sec = (time_t)(held / 1000);
	ts.tv_nsec = (long)(held % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * After a batch held the lock held ms: count it, and size the next.  And a
 * passive checkpoint (it takes no write lock) while the lock is free:
 * otherwise the log grows past SQLite's auto-checkpoint size within a
 * batch and the commit that crosses it, ours or another writer's,
 * copies and syncs thousands of pages before it returns.
 */
static void
after_batch(struct pass *p, int64_t held)
{
	struct store_wal w;
	char *cause = NULL;

	p->held = held;
	if (held > p->r->longest_hold_ms)
		p->r->longest_hold_ms = held;
	p->r->holds_over_100ms += held > 100;
	if (p->held > PRUNE_HOLD_MS && p->batch > 1)
		p->batch /= 2;
	else if (p->held < PRUNE_HOLD_MS / 4 && p->batch < p->cap)
		p->batch = p->batch * 2 < p->cap ? p->batch * 2 : p->cap;
	if (store_wal(p->db, STORE_CKPT_PASSIVE, &w, &cause) != 0)
		free(cause); /* only a checkpoint missed: the next one does */
}

/* Remove (or, dry, measure) dir, counting it; a failure is a warning. */
static void
remove_dir(struct pass *p, char *dir)
{
	if (file_remove_tree(dir, p->opt->dry_run, &p->r->files) != 0)
		strvec_pushf(p->warnings, "cannot remove %s: %s", dir,
			     strerror(errno));
	free(dir);
}

/* Delete (or count) ids[0..n) in a transaction of its own. */
static int
tasks_batch(struct pass *p, const int64_t *ids, size_t n, int *gone,
	    char **cause)
{
	int64_t t0;
	int rc;

	if (p->opt->dry_run)
		return store_prune_tasks(p->db, p->before, ids, n, gone, 1,
					 &p->r->rows, cause);
	if (p->r->transactions > 0)
		yield_lock(p->held);
	if ((rc = store_begin(p->db, cause)) != 0)
		return rc;
	t0 = clock_now_ms();
	if ((rc = store_prune_tasks(p->db, p->before, ids, n, gone, 0,
				    &p->r->rows, cause)) == 0 &&
	    (rc = store_commit(p->db, cause)) == 0)
		p->r->transactions++;
	if (rc != 0)
		store_rollback(p->db);
	if (rc == 0)
		after_batch(p, clock_now_ms() - t0);
	return rc;
}

static int
prune_tasks(struct pass *p, char **cause)
{
	int64_t *ids = xcalloc(p->cap, sizeof *ids), after = 0;
	int *gone = xcalloc(p->cap, sizeof *gone);
	size_t n, i, want;
	int rc;

	do {
		want = p->batch;
		rc = store_prune_tasks_list(p->db, p->before, after, ids, want,
					    &n, cause);
		if (rc != 0 || n == 0)
			break;
		if ((rc = tasks_batch(p, ids, n, gone, cause)) != 0)
			break;
		/* the rows are gone (committed): now their files */
		for (i = 0; i < n; i++) {
			if (gone[i])
				remove_dir(p, xasprintf("%s/logs/%lld",
							p->b->files_dir,
							(long long)ids[i]));
		}
		after = ids[n - 1];
	} while (n == want);
	free(ids);
	free(gone);
	return rc;
}

static int
sessions_batch(struct pass *p, const struct strvec *ids, int *gone,
	       char **cause)
{
	int64_t t0;
	int rc;

	if (p->opt->dry_run)
		return store_prune_sessions(p->db, p->before, ids, gone, 1,
					    &p->r->rows, cause);
	if (p->r->transactions > 0)
		yield_lock(p->held);
	if ((rc = store_begin(p->db, cause)) != 0)
		return rc;
	t0 = clock_now_ms();
	if ((rc = store_prune_sessions(p->db, p->before, ids, gone, 0,
				       &p->r->rows, cause)) == 0 &&
	    (rc = store_commit(p->db, cause)) == 0)
		p->r->transactions++;
	if (rc != 0)
		store_rollback(p->db);
	if (rc == 0)
		after_batch(p, clock_now_ms() - t0);
	return rc;
}

static int
prune_sessions(struct pass *p, char **cause)
{
	int *gone = xcalloc(p->cap, sizeof *gone);
	struct strvec ids;
	char *after = xstrdup("");
	size_t i, n, want;
	int rc;

	strvec_init(&ids);
	do {
		strvec_release(&ids);
		strvec_init(&ids);
		want = p->batch;
		rc = store_prune_sessions_list(p->db, p->before,
					       p->opt->dry_run, after, &ids,
					       want, cause);
		if (rc != 0 || (n = ids.n) == 0)
			break;
		if ((rc = sessions_batch(p, &ids, gone, cause)) != 0)
			break;
		for (i = 0; i < n; i++) {
			if (gone[i] && id_is_uuid(ids.v[i]))
				remove_dir(p, xasprintf("%s/sessions/%s",
							p->b->files_dir,
							ids.v[i]));
		}
		free(after);
		after = xstrdup(ids.v[n - 1]);
	} while (n == want);
	strvec_release(&ids);
	free(after);
	free(gone);
	return rc;
}

/* Is name (an entry of logs/ or sessions/) a row of the database? */
static int
row_exists(struct pass *p, int logs, const char *name, int *yes, char **cause)
{
	struct db_session s = {0};
	char *end;
	long long id;
	int rc;

	*yes = 1;
	if (logs) {
		errno = 0;
		id = strtoll(name, &end, 10);
		if (errno != 0 || end == name || *end != '\0' || id <= 0)
			return 0; /* not a task's: leave it */
		return store_task_exists(p->db, id, yes, cause);
	}
	if (!id_is_uuid(name))
		return 0;
	rc = store_session_get(p->db, name, &s, yes, cause);
	db_session_release(&s);
	return rc;
}

/*
 * Directories of <files_dir>/<sub> whose task or session is not in the
 * database: what a prune that stopped between its rows and its files
 * left.  The directory is this database's alone (SPEC §9), so all of
 * it is swept; only entries not changed since the cut-off, so that
 * nothing a task is creating now is taken.
 */
static int
prune_orphans(struct pass *p, const char *sub, char **cause)
{
	char *path = xasprintf("%s/%s", p->b->files_dir, sub), *dir;
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(path);
	int rc = 0, yes;

	while (d != NULL && rc == 0 && (e = readdir(d)) != NULL) {
		/* ".free-…": an empty temp-session directory kept for reuse
		 * by a process that was killed (files_session_dir()), no
		 * row's; other names starting with a dot are not baton's */
		if (strncmp(e->d_name, ".free-", 6) == 0)
			yes = 0;
		else if (e->d_name[0] == '.')
			continue;
		else if ((rc = row_exists(p, strcmp(sub, "logs") == 0,
					  e->d_name, &yes, cause)) != 0 ||
			 yes)
			continue;
		dir = xasprintf("%s/%s", path, e->d_name);
		if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    (int64_t)st.st_mtime * 1000 >= p->before) {
			free(dir);
			continue;
		}
		p->r->orphans++;
		remove_dir(p, dir);
	}
	if (d != NULL)
		closedir(d);
	free(path);
	return rc;
}

/* A results/ entry's task ("<task>.<run>.result"): 0 if not one. */
static int64_t
result_task(const char *name)
{
	char *end;
	long long id;

	errno = 0;
	id = strtoll(name, &end, 10);
	if (errno != 0 || end == name || *end != '.' || id <= 0)
		return 0;
	return id;
}

/*
 * What is left in <files_dir>/results: a $BATON_RESULT_FILE is moved to
 * its task's logs/ when the run ends, so an entry there is one an
 * agent's leftover child wrote later, or of a run baton never finished.
 * Removed when not changed since the cut-off and its task is not
 * running (a running task's agent may still be writing it).
 */
static int
prune_results(struct pass *p, char **cause)
{
	char *path = xasprintf("%s/results", p->b->files_dir), *f;
	struct db_task t;
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(path);
	int rc = 0, found;
	int64_t id;

	while (d != NULL && rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || (id = result_task(e->d_name)) == 0)
			continue;
		f = xasprintf("%s/%s", path, e->d_name);
		memset(&t, 0, sizeof t);
		found = 0;
		if (lstat(f, &st) == 0 &&
		    (int64_t)st.st_mtime * 1000 < p->before &&
		    (rc = store_task_get(p->db, id, &t, &found, cause)) == 0 &&
		    (!found || task_status_final(t.status)))
			remove_dir(p, f);
		else
			free(f);
		db_task_release(&t);
	}
	if (d != NULL)
		closedir(d);
	free(path);
	return rc;
}

int
prune_run(struct baton *b, struct store *db, const struct prune_options *opt,
	  struct prune_result *r, struct strvec *warnings, char **cause)
{
	struct pass p = {
		.b = b, .db = db, .opt = opt, .r = r, .warnings = warnings};
	int rc;

	memset(r, 0, sizeof *r);
	p.before = opt->now - opt->older_than_ms;
	p.batch = p.cap = opt->batch ? opt->batch : PRUNE_BATCH;
	if ((rc = prune_tasks(&p, cause)) != 0 ||
	    (rc = prune_sessions(&p, cause)) != 0)
		return rc;
	if ((rc = prune_orphans(&p, "logs", cause)) == 0 &&
	    (rc = prune_orphans(&p, "sessions", cause)) == 0)
		rc = prune_results(&p, cause);
	return rc;
}

int
prune_removed_any(const struct prune_result *r)
{
	return r->rows.tasks || r->rows.sessions || r->rows.runs ||
	       r->rows.events || r->files.files || r->files.dirs || r->orphans;
}

/* "12.0 KiB" */
char *
prune_format_bytes(int64_t n)
{
	static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t i = 0;

	if (n < 1024)
		return xasprintf("%lld bytes", (long long)n);
	v /= 1024;
	while (v >= 1024 && i + 1 < sizeof unit / sizeof unit[0]) {
		v /= 1024;
		i++;
	}
	return xasprintf("%.1f %s", v, unit[i]);
}

char *
prune_summary(const struct prune_result *r, int dry_run)
{
	char *bytes = prune_format_bytes(r->files.bytes), *orphans, *s;

	orphans = r->orphans ? xasprintf(", of which %lld directories left "
					 "by an earlier prune",
					 (long long)r->orphans)
			     : xstrdup("");
	s = xasprintf("%s %lld tasks (%lld runs, %lld events), %lld sessions "
		      "(%lld chain links), %lld files in %lld directories "
		      "(%s)%s",
		      dry_run ? "would prune" : "pruned",
		      (long long)r->rows.tasks, (long long)r->rows.runs,
		      (long long)r->rows.events, (long long)r->rows.sessions,
		      (long long)r->rows.links, (long long)r->files.files,
		      (long long)r->files.dirs, bytes, orphans);
	free(bytes);
	free(orphans);
	return s;
}

int
backup_run(struct baton *b, const char *path, char **cause)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		*cause = xasprintf("%s exists already: give a new file", path);
		return -BERR_USAGE;
	}
	return store_backup(b->db, path, cause);
}

int
vacuum_run(struct baton *b, int64_t *before, int64_t *after, char **cause)
{
	return store_vacuum(b->db, before, after, cause);
}
