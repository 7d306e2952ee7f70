/*
 * The store interface: the engine chosen by store_open() and one
 * dispatcher per operation (db/store.h).
 */
#include <stdlib.h>
#include <string.h>

#ifdef BATON_POSTGRES
#include "db/postgres/pg.h"
#endif
#include "db/sqlite/sqlite.h"
#include "db/store.h"
#include "lib/err.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

/* The scheme of a URL ("postgres" of "postgres://h/db"), or NULL for a
 * plain path.  The caller frees it. */
static char *
url_scheme(const char *where)
{
	size_t n = strspn(where, "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	if (n == 0 || strncmp(where + n, "://", 3) != 0)
		return NULL;
	return xstrndup(where, n);
}

int
store_open(struct store **out, const char *where,
	   const struct store_options *opts, char **cause)
{
	char *scheme = url_scheme(where);

	char *shown;
	int pg;

	*out = NULL;
	if (scheme == NULL)
		return sqlite_store_open(out, where, opts, cause);
	pg = strcmp(scheme, "postgres") == 0 ||
	     strcmp(scheme, "postgresql") == 0;
#ifdef BATON_POSTGRES
	if (pg) {
		free(scheme);
		return pg_store_open(out, where, opts, cause);
	}
#endif
	shown = text_url_mask(where);
	if (pg)
		*cause = xasprintf("cannot open database %s: this baton was "
				   "built without the PostgreSQL store",
				   shown);
	else
		*cause = xasprintf("cannot open database %s: '%s' is not a "
				   "supported store (use a file path for "
				   "SQLite, or postgres://)",
				   shown, scheme);
	free(shown);
	free(scheme);
	return -BERR_DB;
}

int
store_schema_version(void)
{
	return sqlite_schema_version();
}

int
store_is_url(const char *where)
{
	char *scheme = url_scheme(where);

	free(scheme);
	return scheme != NULL;
}

const char *
store_engine(const struct store *st)
{
	return st->impl->name;
}

void
store_close(struct store *st)
{
	if (st != NULL)
		st->impl->close(st);
}

const char *
store_path(const struct store *st)
{
	return st->impl->path(st);
}

int
store_begin(struct store *st, char **cause)
{
	return st->impl->begin(st, cause);
}

int
store_begin_own(struct store *st, char **cause)
{
	if (st->impl->begin_own != NULL)
		return st->impl->begin_own(st, cause);
	return st->impl->begin(st, cause);
}

int
store_begin_claim(struct store *st, char **cause)
{
	if (st->impl->begin_claim != NULL)
		return st->impl->begin_claim(st, cause);
	return st->impl->begin(st, cause);
}

int
store_commit(struct store *st, char **cause)
{
	return st->impl->commit(st, cause);
}

void
store_rollback(struct store *st)
{
	if (st != NULL)
		st->impl->rollback(st);
}

int
store_wal(struct store *st, enum store_checkpoint mode, struct store_wal *w,
	  char **cause)
{
	return st->impl->wal(st, mode, w, cause);
}

int
store_integrity_check(struct store *st, int *ok, char **report, char **cause)
{
	return st->impl->integrity_check(st, ok, report, cause);
}

uint64_t
store_commits(const struct store *st)
{
	return st->impl->commits(st);
}

int
store_busy(const struct store *st)
{
	return st->impl->busy(st);
}

int
store_task_insert(struct store *st, struct db_task *t, int64_t now,
		  int *existed, char **cause)
{
	return st->impl->task_insert(st, t, now, existed, cause);
}

int
store_task_insert_many(struct store *st, struct db_task *ts, size_t n,
		       int *existed, char **cause)
{
	size_t i;
	int rc;

	if (st->impl->task_insert_many != NULL)
		return st->impl->task_insert_many(st, ts, n, existed, cause);
	for (i = 0; i < n; i++)
		if ((rc = st->impl->task_insert(st, &ts[i], ts[i].created_at,
						&existed[i], cause)) != 0)
			return rc;
	return 0;
}

int
store_task_get(struct store *st, int64_t id, struct db_task *a2, int *found,
	       char **cause)
{
	return st->impl->task_get(st, id, a2, found, cause);
}

int
store_task_next(struct store *st, int64_t milestone_id, int64_t skip_after,
		int64_t *id, char **cause)
{
	return st->impl->task_next(st, milestone_id, skip_after, id, cause);
}

int
store_task_count_pending(struct store *st, int64_t milestone_id, int64_t *n,
			 char **cause)
{
	return st->impl->task_count_pending(st, milestone_id, n, cause);
}

int
store_task_start(struct store *st, int64_t id, int64_t runner_id,
		 const char *session_id, const char *agent, const char *model,
		 int64_t now, int64_t *epoch, char **cause)
{
	return st->impl->task_start(st, id, runner_id, session_id, agent, model,
				    now, epoch, cause);
}

int
store_task_attempt(struct store *st, int64_t id, int64_t epoch,
		   int attempts_add, int retries, char **cause)
{
	return st->impl->task_attempt(st, id, epoch, attempts_add, retries,
				      cause);
}

int
store_task_finish(struct store *st, int64_t id, int64_t epoch,
		  enum task_status a2, int has_exit, int exit_code,
		  const char *error, const char *reason, int64_t now,
		  char **cause)
{
	return st->impl->task_finish(st, id, epoch, a2, has_exit, exit_code,
				     error, reason, now, cause);
}

int
store_task_add_usage(struct store *st, int64_t id, int64_t epoch,
		     int iterations, int64_t in, int64_t out, double cost,
		     char **cause)
{
	return st->impl->task_add_usage(st, id, epoch, iterations, in, out,
					cost, cause);
}

int
store_task_cancel_requested(struct store *st, int64_t id, int64_t epoch,
			    int64_t session_epoch, int *yes, int *held,
			    char **cause)
{
	return st->impl->task_cancel_requested(st, id, epoch, session_epoch,
					       yes, held, cause);
}

int
store_task_cancel(struct store *st, int64_t id, int64_t now, int *found,
		  enum task_status *status_out, char **cause)
{
	return st->impl->task_cancel(st, id, now, found, status_out, cause);
}

int
store_task_requeue(struct store *st, int64_t id, unsigned from_mask, int *done,
		   char **cause)
{
	return st->impl->task_requeue(st, id, from_mask, done, cause);
}

int
store_task_unclaim(struct store *st, int64_t id, int64_t runner_id,
		   int64_t run_id, int *done, char **cause)
{
	return st->impl->task_unclaim(st, id, runner_id, run_id, done, cause);
}

int
store_task_each(struct store *st, const struct db_task_filter *a1,
		int (*fn)(void *, const struct db_task *), void *arg,
		char **cause)
{
	return st->impl->task_each(st, a1, fn, arg, cause);
}

int
store_task_count(struct store *st, const struct db_task_filter *f, int64_t *n,
		 char **cause)
{
	return st->impl->task_count(st, f, n, cause);
}

int
db_task_filter_milestone_only(const struct db_task_filter *f)
{
	return f->status_mask == 0 && f->after_id == 0 && f->limit <= 0 &&
	       f->last <= 0 && f->since == 0 && f->session_id == NULL &&
	       f->session_name == NULL;
}

int
store_task_count_by_status(struct store *st, const struct db_task_filter *f,
			   void (*fn)(void *, enum task_status, int64_t),
			   void *arg, char **cause)
{
	return st->impl->task_count_by_status(st, f, fn, arg, cause);
}

int
store_session_get(struct store *st, const char *id, struct db_session *a2,
		  int *found, char **cause)
{
	return st->impl->session_get(st, id, a2, found, cause);
}

int
store_session_insert(struct store *st, const struct db_session *s, char **cause)
{
	return st->impl->session_insert(st, s, cause);
}

int
store_session_count_active(struct store *st, int64_t limit, int64_t *n,
			   char **cause)
{
	return st->impl->session_count_active(st, limit, n, cause);
}

int
store_session_count_closing(struct store *st, int64_t now, int64_t *n,
			    char **cause)
{
	return st->impl->session_count_closing(st, now, n, cause);
}

int
store_session_lease(struct store *st, const char *id, int64_t runner,
		    int64_t task, int64_t now, int64_t expires, int *got,
		    int64_t *holder_task, int64_t *epoch, char **cause)
{
	return st->impl->session_lease(st, id, runner, task, now, expires, got,
				       holder_task, epoch, cause);
}

int
store_session_unlease(struct store *st, const char *id, int64_t epoch,
		      int64_t close_at, char **cause)
{
	return st->impl->session_unlease(st, id, epoch, close_at, cause);
}

int
store_session_set_status(struct store *st, const char *id,
			 enum session_status a2, int64_t now, char **cause)
{
	return st->impl->session_set_status(st, id, a2, now, cause);
}

int
store_session_touch(struct store *st, const char *id, int64_t now, char **cause)
{
	return st->impl->session_touch(st, id, now, cause);
}

int
store_session_add_usage(struct store *st, const char *id, int64_t epoch,
			int turn, int64_t in, int64_t out, int64_t cache_read,
			int64_t cache_creation, double cost, int64_t now,
			char **cause)
{
	return st->impl->session_add_usage(st, id, epoch, turn, in, out,
					   cache_read, cache_creation, cost,
					   now, cause);
}

int
store_session_push_head(struct store *st, const char *id, int64_t epoch,
			const char *agent_session_id, enum chain_edge a3,
			int64_t run_id, int64_t now, char **cause)
{
	return st->impl->session_push_head(st, id, epoch, agent_session_id, a3,
					   run_id, now, cause);
}

int
store_session_resume_failed(struct store *st, const char *id, int64_t epoch,
			    int limit, char **cause)
{
	return st->impl->session_resume_failed(st, id, epoch, limit, cause);
}

int
store_session_chain(struct store *st, const char *id,
		    struct db_chain_link **links, size_t *n, char **cause)
{
	return st->impl->session_chain(st, id, links, n, cause);
}

int
store_event(struct store *st, enum event_kind a1, const char *session_id,
	    int64_t task_id, int64_t run_id, int64_t runner_id,
	    const char *detail, int64_t now, char **cause)
{
	return st->impl->event(st, a1, session_id, task_id, run_id, runner_id,
			       detail, now, cause);
}

int
store_run_insert(struct store *st, struct db_run *r, int64_t epoch,
		 char **cause)
{
	return st->impl->run_insert(st, r, epoch, cause);
}

int
store_run_set_pid(struct store *st, int64_t id, int64_t epoch, int64_t pid,
		  int64_t start, char **cause)
{
	return st->impl->run_set_pid(st, id, epoch, pid, start, cause);
}

int
store_run_end(struct store *st, const struct db_run *r, int64_t epoch,
	      char **cause)
{
	return st->impl->run_end(st, r, epoch, cause);
}

int
store_run_list(struct store *st, int64_t task_id, struct db_run **runs,
	       size_t *n, char **cause)
{
	return st->impl->run_list(st, task_id, runs, n, cause);
}

int
store_runner_insert(struct store *st, const struct db_runner *a1, int64_t *id,
		    char **cause)
{
	return st->impl->runner_insert(st, a1, id, cause);
}

int
store_runner_heartbeat(struct store *st, int64_t id, int64_t now,
		       int64_t lease_until, char **cause)
{
	return st->impl->runner_heartbeat(st, id, now, lease_until, cause);
}

int
store_runner_exit(struct store *st, int64_t id, int64_t now, char **cause)
{
	return st->impl->runner_exit(st, id, now, cause);
}

int
store_runner_alive_list(struct store *st, struct db_runner **a1, size_t *n,
			char **cause)
{
	return st->impl->runner_alive_list(st, a1, n, cause);
}

int
store_batch_find(struct store *st, const char *prefix, char **id, int *found,
		 char **cause)
{
	return st->impl->batch_find(st, prefix, id, found, cause);
}

int
store_runner_reap(struct store *st, int64_t id, int64_t now, int requeue,
		  int64_t seen_heartbeat, struct db_orphan **orphans, size_t *n,
		  char **cause)
{
	return st->impl->runner_reap(st, id, now, requeue, seen_heartbeat,
				     orphans, n, cause);
}

int
store_milestone_get(struct store *st, const char *name, struct db_milestone *a2,
		    int *found, char **cause)
{
	return st->impl->milestone_get(st, name, a2, found, cause);
}

int
store_milestone_get_id(struct store *st, int64_t id, struct db_milestone *a2,
		       int *found, char **cause)
{
	return st->impl->milestone_get_id(st, id, a2, found, cause);
}

int
store_milestone_insert(struct store *st, struct db_milestone *a1, int64_t now,
		       int *existed, char **cause)
{
	return st->impl->milestone_insert(st, a1, now, existed, cause);
}

int
store_milestone_set_session(struct store *st, int64_t id,
			    const char *session_id, char **cause)
{
	return st->impl->milestone_set_session(st, id, session_id, cause);
}

int
store_milestone_each(struct store *st,
		     int (*fn)(void *, const struct db_milestone *), void *arg,
		     char **cause)
{
	return st->impl->milestone_each(st, fn, arg, cause);
}

int
store_task_set_agent(struct store *st, int64_t id, const char *agent,
		     const char *model, char **cause)
{
	return st->impl->task_set_agent(st, id, agent, model, cause);
}

int
store_session_repin(struct store *st, const char *id, const char *agent,
		    const char *model, char **cause)
{
	return st->impl->session_repin(st, id, agent, model, cause);
}

int
store_savepoint(struct store *st, const char *name, char **cause)
{
	return st->impl->savepoint(st, name, cause);
}

int
store_savepoint_release(struct store *st, const char *name, char **cause)
{
	return st->impl->savepoint_release(st, name, cause);
}

void
store_savepoint_rollback(struct store *st, const char *name)
{
	st->impl->savepoint_rollback(st, name);
}

int
store_run_set_check(struct store *st, int64_t id, int64_t epoch, int exit_code,
		    const char *output, char **cause)
{
	return st->impl->run_set_check(st, id, epoch, exit_code, output, cause);
}

int
store_doctor(struct store *st, int fix, int64_t now,
	     void (*fn)(void *, const char *kind, const char *what), void *arg,
	     int *problems, char **cause)
{
	return st->impl->doctor(st, fix, now, fn, arg, problems, cause);
}

int
store_session_get_latest_by_name(struct store *st, const char *name,
				 struct db_session *a2, int *found,
				 char **cause)
{
	return st->impl->session_get_latest_by_name(st, name, a2, found, cause);
}

int
store_session_get_by_prefix(struct store *st, const char *prefix,
			    struct db_session *a2, int *found, char **cause)
{
	return st->impl->session_get_by_prefix(st, prefix, a2, found, cause);
}

int
store_session_each(struct store *st, const struct db_session_filter *a1,
		   int (*fn)(void *, const struct db_session *), void *arg,
		   char **cause)
{
	return st->impl->session_each(st, a1, fn, arg, cause);
}

int
store_session_reset(struct store *st, const char *id, int64_t now, char **cause)
{
	return st->impl->session_reset(st, id, now, cause);
}

int
store_session_delete(struct store *st, const char *id, char **cause)
{
	return st->impl->session_delete(st, id, cause);
}

int
store_session_events(struct store *st, const char *id, struct db_event_row **a2,
		     size_t *n, char **cause)
{
	return st->impl->session_events(st, id, a2, n, cause);
}

int
store_session_runs(struct store *st, const char *id, struct db_run **runs,
		   size_t *n, char **cause)
{
	return st->impl->session_runs(st, id, runs, n, cause);
}

int
store_session_get_successor(struct store *st, const char *id,
			    struct db_session *a2, int *found, char **cause)
{
	return st->impl->session_get_successor(st, id, a2, found, cause);
}

int
store_session_get_last_used(struct store *st, const char *project,
			    const char *os_user, struct db_session *a3,
			    int *found, char **cause)
{
	return st->impl->session_get_last_used(st, project, os_user, a3, found,
					       cause);
}

int
store_stats(struct store *st, const struct db_stats_filter *f,
	    struct db_stats *a2, char **cause)
{
	return st->impl->stats(st, f, a2, cause);
}

void
db_stats_release(struct db_stats *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nfailure_reasons; i++)
		free(s->failure_reasons[i].name);
	free(s->failure_reasons);
	memset(s, 0, sizeof *s);
}

int
store_prune_tasks_list(struct store *st, int64_t before, int64_t after,
		       int64_t *ids, size_t max, size_t *n, char **cause)
{
	return st->impl->prune_tasks_list(st, before, after, ids, max, n,
					  cause);
}

int
store_prune_tasks(struct store *st, int64_t before, const int64_t *ids,
		  size_t n, int *gone, int count_only,
		  struct db_prune_counts *c, char **cause)
{
	return st->impl->prune_tasks(st, before, ids, n, gone, count_only, c,
				     cause);
}

int
store_prune_sessions_list(struct store *st, int64_t before, int assume_gone,
			  const char *after, struct strvec *ids, size_t max,
			  char **cause)
{
	return st->impl->prune_sessions_list(st, before, assume_gone, after,
					     ids, max, cause);
}

int
store_prune_sessions(struct store *st, int64_t before, const struct strvec *ids,
		     int *gone, int count_only, struct db_prune_counts *c,
		     char **cause)
{
	return st->impl->prune_sessions(st, before, ids, gone, count_only, c,
					cause);
}

int
store_task_exists(struct store *st, int64_t id, int *yes, char **cause)
{
	return st->impl->task_exists(st, id, yes, cause);
}

int
store_meta_get(struct store *st, const char *key, char **value, char **cause)
{
	return st->impl->meta_get(st, key, value, cause);
}

int
store_meta_delete(struct store *st, const char *key, char **cause)
{
	return st->impl->meta_delete(st, key, cause);
}

/* An engine without it says which tool does the job instead: a usage
 * error (exit 2), the command does not apply to this store. */
static int
not_supported(const struct store *st, const char *what, const char *instead,
	      char **cause)
{
	*cause = xasprintf("%s is not supported by the %s store; %s", what,
			   st->impl->name, instead);
	return -BERR_USAGE;
}

int
store_backup(struct store *st, const char *path, char **cause)
{
	if (st->impl->backup == NULL)
		return not_supported(st, "backup",
				     "use the server's own (pg_dump), or "
				     "'baton db copy' to an SQLite file",
				     cause);
	return st->impl->backup(st, path, cause);
}

int
store_vacuum(struct store *st, int64_t *before, int64_t *after, char **cause)
{
	*before = *after = 0;
	if (st->impl->vacuum == NULL)
		return not_supported(st, "vacuum", "the server vacuums itself",
				     cause);
	return st->impl->vacuum(st, before, after, cause);
}

int
store_wake_fd(struct store *st)
{
	return st->impl->wake_fd != NULL ? st->impl->wake_fd(st) : -1;
}

void
store_wake_drain(struct store *st)
{
	if (st->impl->wake_drain != NULL)
		st->impl->wake_drain(st);
}

int
store_has_output(const struct store *st)
{
	return st->impl->run_output_put != NULL;
}

int
store_run_output_put(struct store *st, const struct db_output_put *o,
		     char **cause)
{
	if (st->impl->run_output_put == NULL)
		return 0;
	return st->impl->run_output_put(st, o, cause);
}

int
store_run_output_get(struct store *st, int64_t run_id, const char *stream,
		     int64_t from, struct db_output_chunk **chunks, size_t *n,
		     int *found, char **cause)
{
	*chunks = NULL;
	*n = 0;
	*found = 0;
	if (st->impl->run_output_get == NULL)
		return 0;
	return st->impl->run_output_get(st, run_id, stream, from, chunks, n,
					found, cause);
}

void
db_output_chunks_free(struct db_output_chunk *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(c[i].data);
	free(c);
}

const char *const store_copy_tables[] = {
	"runners", "milestones",    "sessions", "tasks",
	"runs",	   "session_chain", "events",	NULL,
};

int
store_rows_each(struct store *st, const char *table,
		int (*fn)(void *, int, const char *const *,
			  const char *const *),
		void *arg, char **cause)
{
	return st->impl->rows_each(st, table, fn, arg, cause);
}

int
store_copy_begin(struct store *st, char **cause)
{
	return st->impl->copy_begin(st, cause);
}

int
store_row_insert(struct store *st, const char *table, int n,
		 const char *const *cols, const char *const *vals, char **cause)
{
	return st->impl->row_insert(st, table, n, cols, vals, cause);
}

int
store_copy_commit(struct store *st, char **cause)
{
	return st->impl->copy_commit(st, cause);
}
