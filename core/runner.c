/*
 * Runner rows, heartbeats and reaping (SPEC §5).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/proc.h"
#include "core/runner.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/id.h"
#include "lib/sys.h"
#include "lib/text.h"
#include "lib/xmalloc.h"
#include "db/store.h"

char *
runner_boot_id(void)
{
	char *s = file_read_first_line("/proc/sys/kernel/random/boot_id", 64);

	return s != NULL ? s : xstrdup("");
}

int
runner_db_open(struct baton *b, struct store **db, char **cause)
{
	struct store_options opts = {0};

	opts.synchronous_full = b->cfg->db.synchronous_full;
	opts.busy_timeout_ms = b->cfg->db.busy_timeout_ms;
	opts.reconnect_ms = b->cfg->runner.stale_after_ms;
	opts.write_lock = &b->write_lock;
	opts.shared_group = b->cfg->db.shared_group;
	return store_open(db, b->db_path, &opts, cause);
}

void
runner_fence(struct baton *b, const char *why)
{
	if (atomic_load(&b->fenced))
		return;
	atomic_store(&b->fence_why, why);
	atomic_store(&b->fenced, 1);
}

/*
 * One beat.  Others may take this runner for dead once its heartbeat is
 * stale_after old, so it must stop its agents before then: when its
 * renewals failed for so long (*last_ok, on the boot clock, which runs
 * on while the process is stopped or the machine suspended) that the
 * next beat would come too late, it fences itself.  A renewal that
 * finds its row reaped fences it too: that is what a runner frozen past
 * stale_after (SIGSTOP, a paused VM) finds on waking, before it writes
 * anything (its workers' writes are fenced anyway).  A renewal that
 * succeeds after a freeze proves nobody reaped it; a task whose own
 * lease went meanwhile (a session lease that ran out and was taken) is
 * stopped by its worker's poll (orchestrator.c poll_cancel).  Then it
 * reaps dead runners, so that a running `work` takes over from one that
 * died.
 */
static void
beat(struct runner *r, int64_t *last_ok)
{
	const struct config *cfg = r->b->cfg;
	int64_t limit = cfg->runner.stale_after_ms - cfg->runner.heartbeat_ms;
	int64_t t0 = clock_boot_ms(), now = clock_now_ms();
	char *cause = NULL;
	int rc;

	if (atomic_load(&r->b->fenced))
		return;
	if ((rc = store_begin_own(r->db, &cause)) == 0 &&
	    (rc = store_runner_heartbeat(r->db, r->id, now,
					 now + cfg->runner.stale_after_ms,
					 &cause)) == 0)
		rc = store_commit(r->db, &cause);
	store_rollback(r->db);
	free(cause);
	cause = NULL;
	if (rc == -BERR_LEASE)
		runner_fence(r->b, "another baton reaped it");
	else if (rc != 0 && clock_boot_ms() - *last_ok >= limit)
		runner_fence(r->b, "its heartbeat could not be renewed "
				   "within runner.stale_after");
	if (rc != 0)
		return; /* a missed beat is retried at the next one */
	*last_ok = t0;
	atomic_store(&r->b->beat_ok_ms, t0);
	if (runner_reap_on(r->b, r->db, NULL, &cause) != 0)
		free(cause);
}

static void *
heartbeat_main(void *arg)
{
	struct runner *r = arg;
	const struct config *cfg = r->b->cfg;
	struct timespec ts;
	int64_t deadline, last_ok = r->started_boot;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		deadline = clock_now_ms() + cfg->runner.heartbeat_ms;
		ts.tv_sec = deadline / 1000;
		ts.tv_nsec = (deadline % 1000) * 1000000;
		while (!r->stopping &&
		       pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0)
			;
		if (r->stopping)
			break;
		pthread_mutex_unlock(&r->lock);
		beat(r, &last_ok);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* "PID.START" of a runner (see struct baton); key has 48 bytes. */
static void
runner_make_key(char *key, int64_t pid, int64_t start)
{
	snprintf(key, 48, "%lld.%lld", (long long)pid, (long long)start);
}

int
runner_start(struct runner *r, struct baton *b, char **cause)
{
	struct db_runner row = {0};
	uint64_t start = 0;
	char *limit;
	int rc, err;

	memset(r, 0, sizeof *r);
	r->b = b;
	proc_start_time(getpid(), &start);
	row.pid = getpid();
	row.host = sys_host_name();
	row.boot_id = runner_boot_id();
	row.proc_start = (int64_t)start;
	runner_make_key(b->runner_key, row.pid, row.proc_start);
	r->started_boot = clock_boot_ms();
	atomic_store(&b->beat_ok_ms, r->started_boot);
	row.started_at = clock_now_ms();
	id_uuid_new(b->batch_id);
	row.batch_id = b->batch_id;
	/* its own new row, nothing read to decide on: no store-wide lock,
	 * so that runners starting together do not queue behind each
	 * other's claims (db/store.h) */
	if ((rc = store_begin_own(b->db, cause)) == 0 &&
	    (rc = store_runner_insert(b->db, &row, &r->id, cause)) == 0)
		rc = store_commit(b->db, cause);
	store_rollback(b->db);
	free(row.host);
	free(row.boot_id);
	if (rc != 0)
		return rc;
	b->runner_id = r->id;
	if ((rc = runner_db_open(b, &r->db, cause)) != 0)
		return rc;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	errno = 0;
	if ((err = pthread_create(&r->thread, NULL, heartbeat_main, r)) != 0) {
		/* pthread_create() returns the error; errno is not it, but
		 * glibc says EAGAIN when its malloc for the thread failed,
		 * and errno then tells (a process limit leaves it EAGAIN) */
		if (err == ENOMEM || errno == ENOMEM)
			oom();
		limit = sys_resource_text(err);
		*cause = xasprintf("cannot start heartbeat thread: %s", limit);
		free(limit);
		store_close(r->db);
		r->db = NULL;
		return -BERR_FAIL;
	}
	r->started = 1;
	return 0;
}

char *
runner_token(const char *key, int64_t run_id)
{
	return xasprintf("%s.%lld", key, (long long)run_id);
}

/*
 * Kill the agents of a dead runner's open runs: the group of each
 * recorded pid that still is the process it started, and every process
 * carrying one of the runs' BATON_RUN_TOKEN, which also finds an agent
 * whose pid was never recorded (the runner died just after spawning it)
 * and descendants that left the agent's group.
 */
static void
runner_kill_orphans(const char *key, const struct db_orphan *orphans, size_t n)
{
	char **tokens;
	size_t i;

	if (n == 0)
		return;
	tokens = xreallocarray(NULL, n, sizeof *tokens);
	for (i = 0; i < n; i++) {
		if (orphans[i].pid > 0)
			proc_kill_group_checked((pid_t)orphans[i].pid,
						(uint64_t)orphans[i].proc_start,
						SIGKILL);
		tokens[i] = runner_token(key, orphans[i].run_id);
	}
	proc_kill_env("BATON_RUN_TOKEN", tokens, n, SIGKILL);
	for (i = 0; i < n; i++)
		free(tokens[i]);
	free(tokens);
}

void
runner_stop(struct runner *r)
{
	struct store_wal wal;
	char *cause = NULL;

	if (r == NULL || r->b == NULL)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		r->stopping = 1;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		r->started = 0;
	}
	if (r->id != 0 && r->b->db != NULL) {
		struct db_orphan *orphans = NULL;
		size_t n = 0;
		int64_t now = clock_now_ms();

		/* Whatever a task's cleanup could not record (an error of
		 * baton's own) is undone as for a dead runner, so that no
		 * running task or lease outlives us (S7). */
		if (store_begin(r->b->db, &cause) == 0 &&
		    store_runner_exit(r->b->db, r->id, now, &cause) == 0 &&
		    store_runner_reap(r->b->db, r->id, now,
				      r->b->cfg->runner.requeue_interrupted, 0,
				      &orphans, &n, &cause) == 0)
			store_commit(r->b->db, &cause);
		store_rollback(r->b->db);
		free(cause);
		cause = NULL;
		runner_kill_orphans(r->b->runner_key, orphans, n);
		free(orphans);
		/* the end of a run or work: leave an empty write-ahead log
		 * behind, if no reader is in the way (SPEC §5) */
		if (store_wal(r->b->db, STORE_CKPT_TRUNCATE, &wal, &cause) != 0)
			free(cause);
	}
	store_close(r->db);
	r->db = NULL;
	r->id = 0;
	r->b->runner_id = 0;
}

/*
 * SPEC §5 liveness.  A runner on this host (the same host name and boot
 * id) is alive iff its pid still is the process it started: one that is
 * stopped (SIGSTOP, a suspended laptop) or slow is alive, and its agents
 * must not be killed under it.  A runner elsewhere (another host name,
 * or another boot of a machine of the same name: a reboot, or another
 * machine or container that shares the name) is dead once its heartbeat
 * is stale_after old: its pid means nothing here.
 */
static int
runner_is_dead(const struct db_runner *r, const char *host, const char *boot_id,
	       int64_t now, int64_t stale_after)
{
	if (strcmp(r->host, host) == 0 && strcmp(r->boot_id, boot_id) == 0) {
		if (getpid() == (pid_t)r->pid)
			return 0; /* ourselves */
		return !proc_same((pid_t)r->pid, (uint64_t)r->proc_start);
	}
	return r->heartbeat_at < now - stale_after;
}

int
runner_reap_count(struct baton *b, int *reaped, char **cause)
{
	return runner_reap_on(b, b->db, reaped, cause);
}

int
runner_reap_on(struct baton *b, struct store *db, int *reaped, char **cause)
{
	struct db_runner *runners = NULL;
	struct db_orphan *orphans = NULL;
	char *host = NULL, *boot = NULL, key[48];
	size_t n = 0, norphans, i;
	int64_t now = clock_now_ms();
	int rc, local;

	if (reaped != NULL)
		*reaped = 0;
	if ((rc = store_runner_alive_list(db, &runners, &n, cause)) != 0)
		return rc;
	if (n == 0)
		goto out;
	host = sys_host_name();
	boot = runner_boot_id();
	for (i = 0; i < n; i++) {
		if (!runner_is_dead(&runners[i], host, boot, now,
				    b->cfg->runner.stale_after_ms))
			continue;
		if ((rc = store_begin(db, cause)) != 0)
			goto out;
		rc = store_runner_reap(db, runners[i].id, now,
				       b->cfg->runner.requeue_interrupted,
				       runners[i].heartbeat_at, &orphans,
				       &norphans, cause);
		if (rc == 0)
			rc = store_commit(db, cause);
		if (rc != 0) {
			store_rollback(db);
			goto out;
		}
		if (reaped != NULL)
			(*reaped)++;
		/* Agents it left behind: only on this machine, and only if
		 * the pid still is the process it started. */
		local = strcmp(runners[i].host, host) == 0 &&
			strcmp(runners[i].boot_id, boot) == 0;
		if (local) {
			runner_make_key(key, runners[i].pid,
					runners[i].proc_start);
			runner_kill_orphans(key, orphans, norphans);
		}
		free(orphans);
		orphans = NULL;
	}
out:
	free(orphans); /* a commit that failed (disk full) left them */
	db_runners_free(runners, n);
	free(host);
	free(boot);
	return rc;
}

int
runner_reap(struct baton *b, char **cause)
{
	return runner_reap_count(b, NULL, cause);
}

/* Where batch ids are shown, for the message of one not found. */
#define BATCH_HINT                                                             \
	"each `work` and `run` prints its id first on stderr ('baton: "        \
	"batch ID') and in its --json lines"

/* Lower-case hex digits and dashes, of a batch id's length at most. */
static int
batch_chars(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF-");

	return s[n] == '\0' && n <= 36;
}

int
batch_lookup(struct store *db, const char *ref, char **id, char **cause)
{
	char shown[80 + 4], *lower;
	size_t len = strlen(ref);
	int found = 0, rc;

	*id = NULL;
	text_shown(ref, len, 80, shown);
	if (len > 0 && len < 4 && batch_chars(ref)) {
		*cause = xasprintf("batch id prefix '%s' is too short: give at "
				   "least 4 characters of the id",
				   shown);
		return -BERR_USAGE;
	}
	if (len > 0 && batch_chars(ref)) {
		lower = id_uuid_lower(ref);
		rc = store_batch_find(db, lower, id, &found, cause);
		free(lower);
		if (rc != 0)
			return rc;
	}
	if (found == 2) {
		*cause = xasprintf("batch id prefix '%s' is ambiguous: give "
				   "more of the id",
				   shown);
		return -BERR_USAGE;
	}
	if (found == 0) {
		*cause = xasprintf("no batch '%s' (" BATCH_HINT ")", shown);
		return -BERR_USAGE;
	}
	return 0;
}
