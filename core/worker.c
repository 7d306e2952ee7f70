/*
 * The worker pool (what `work` runs) and the run-now wait (what `run`
 * runs): claim, execute, count, stop.  cmd/ only prints.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/prune.h"
#include "core/runner.h"
#include "core/task.h"
#include "core/worker.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/num.h"
#include "lib/sys.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

/* An idle pool's checkpoint that a reader was in the way of: again
 * this often until it works. */
#define WAL_RETRY_MS 2000

/* logs.retention: how often a long `work` prunes again. */
#define PRUNE_EVERY_MS (60 * 60 * 1000)

struct pool {
	struct baton *b;
	struct pool_options opt;
	struct pool_hooks hooks;
	pthread_mutex_t lock;
	long long claimed;
	struct pool_counts counts;
	/* ends told to hook_claim_next and not yet in counts (their
	 * transactions commit side by side): --halt and --max-cost count
	 * them too, so that workers ending together do not each claim */
	struct pool_counts ending;
	int stop;
	int err;     /* worst negated berr of a worker's own */
	int wake[2]; /* written once when stop is set: wakes idle workers */
	int64_t pruned_at; /* logs.retention: last prune started, 0 never */
	pthread_t *threads;
	int nthreads;
	char *scope, *fail_at; /* copies: opt's point here */
	char *halt_why;	       /* --halt now: b->stop_why points here */
	int64_t *waiting;      /* tasks said to wait for a session */
	size_t nwaiting;
	int wal_warned;	   /* the WAL past db.wal_warn_mib was said */
	int wal_clean;	   /* checkpointed since the last task ended */
	int64_t wal_tried; /* last idle checkpoint (monotonic ms), 0 */
	/* Out of descriptors or processes (EMFILE, ENFILE, EAGAIN, ENOMEM):
	 * workers that stop to lower the parallelism, and the classes of
	 * error said already (once each). */
	int leaving;
	unsigned resource_said;
	/* The last worker found no descriptor for its agent while nothing
	 * of the pool ran (EMFILE: only the pool could free one): waits
	 * so far, and the error once it gives up (the limit is too low for
	 * even one task; its task goes back and the pool stops). */
	int starved_waits;
	char *starved;
};

/* Claims that found the database busy, tried again at once before the
 * worker idles (and gives its slot back). */
#define BUSY_AGAIN 3

/* EMFILE waits of the last worker, with nothing running, before the
 * pool gives up: 100 ms doubling, about 3 s in all. */
#define STARVED_WAITS 5

/* With p->lock held. */
static void
set_stop(struct pool *p)
{
	if (!p->stop) {
		p->stop = 1;
		if (p->wake[1] >= 0 && write(p->wake[1], "x", 1) < 0) {
			/* the idle workers time out instead */
		}
	}
}

/* With p->lock held: stop asked, by us or by a signal to baton. */
static int
stopping(struct pool *p)
{
	struct pollfd pf = {.fd = p->b->stop_fd, .events = POLLIN};

	return p->stop || poll(&pf, 1, 0) > 0;
}

int
pool_halt_parse(const char *spec, struct pool_halt *h, char **cause)
{
	const char *v = NULL;
	char *end;
	size_t len;

	memset(h, 0, sizeof *h);
	if (strlen(spec) >= sizeof h->spec)
		goto bad;
	memcpy(h->spec, spec, strlen(spec) + 1);
	if (strcmp(spec, "never") == 0)
		return 0;
	if (strncmp(spec, "now,fail=", 9) == 0) {
		h->when = HALT_NOW;
		v = spec + 9;
	} else if (strncmp(spec, "soon,fail=", 10) == 0) {
		h->when = HALT_SOON;
		v = spec + 10;
	} else
		goto bad;
	len = strlen(v);
	if (!isdigit((unsigned char)v[0]))
		goto bad;
	if (v[len - 1] == '%') {
		h->fail_pct = strtod(v, &end);
		if (end != v + len - 1 || !(h->fail_pct > 0) ||
		    h->fail_pct > 100)
			goto bad;
	} else if (text_parse_int(v, 1, LLONG_MAX, &h->fail_n) != 0)
		goto bad;
	return 0;
bad:
	memset(h, 0, sizeof *h);
	*cause = xasprintf("invalid --halt '%s': give never, now,fail=N, "
			   "soon,fail=N, now,fail=P%% or soon,fail=P%%",
			   spec);
	return -1;
}

/* With p->lock held: --halt now stops the running agents the way a
 * signal to baton does (the same pipe), with our reason as the tasks'
 * error. */
static void
halt_now(struct pool *p)
{
	p->halt_why = xasprintf("cancelled: work --halt %s", p->opt.halt.spec);
	p->b->stop_why = p->halt_why;
	if (p->b->stop_wfd >= 0 && write(p->b->stop_wfd, "h", 1) < 0) {
		/* a full pipe is readable already */
	}
}

/* Whether counts c reach --halt (1) or --max-cost (2), else 0. */
static int
limit_hit(const struct pool *p, const struct pool_counts *c)
{
	const struct pool_halt *h = &p->opt.halt;
	long long ended = c->completed + c->failed + c->other;
	int hit = 0;

	if (h->when != HALT_NEVER) {
		if (h->fail_pct > 0)
			hit = ended >= HALT_PCT_MIN &&
			      (double)c->failed * 100.0 >= h->fail_pct * ended;
		else
			hit = c->failed >= h->fail_n;
		if (hit)
			return 1;
	}
	return p->opt.max_cost > 0 && c->cost_usd >= p->opt.max_cost ? 2 : 0;
}

/* With p->lock held: what has ended, counted or being written. */
static struct pool_counts
counts_ending(const struct pool *p)
{
	struct pool_counts c = p->counts;

	c.completed += p->ending.completed;
	c.failed += p->ending.failed;
	c.other += p->ending.other;
	c.cost_usd = num_usd_add(c.cost_usd, p->ending.cost_usd);
	return c;
}

/* With p->lock held, after a task ended: --halt and --max-cost. */
static void
check_limits(struct pool *p)
{
	int hit;

	if (p->counts.halted || (hit = limit_hit(p, &p->counts)) == 0)
		return;
	p->counts.halted = hit;
	set_stop(p);
	if (hit == 1 && p->opt.halt.when == HALT_NOW)
		halt_now(p);
}

/* With p->lock held: an end told to hook_claim_next is counted now. */
static void
unannounce(struct pool *p, const struct orch_result_end *told)
{
	if (told->status == TASK_COMPLETED)
		p->ending.completed--;
	else if (told->status == TASK_FAILED || told->status == TASK_TIMED_OUT)
		p->ending.failed--;
	else
		p->ending.other--;
	p->ending.cost_usd -= num_usd(told->cost_usd);
	/* none left in flight: exactly 0, whatever the rounding left */
	if (p->ending.cost_usd < 0 ||
	    p->ending.completed + p->ending.failed + p->ending.other == 0)
		p->ending.cost_usd = 0;
}

/* With p->lock held: count a task that ended so into *c. */
static void
count_ended(struct pool_counts *c, int lost, enum task_status status)
{
	if (lost)
		c->other++;
	else if (status == TASK_COMPLETED)
		c->completed++;
	else if (status == TASK_FAILED || status == TASK_TIMED_OUT)
		c->failed++;
	else
		c->other++;
}

static void
hook_note(void *arg, int64_t id, const char *msg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->lock);
	if (p->hooks.note != NULL)
		p->hooks.note(p->hooks.arg, id, msg);
	pthread_mutex_unlock(&p->lock);
}

static void
hook_refused(void *arg, const struct db_task *t, const char *why)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->lock);
	p->counts.failed++;
	if (p->hooks.refused != NULL)
		p->hooks.refused(p->hooks.arg, t, why);
	check_limits(p);
	pthread_mutex_unlock(&p->lock);
}

/*
 * S11 in `work`: a task that finds every session in use waits, while
 * tasks of this pool run or temp sessions of tasks running anywhere
 * (another `work`, another machine) are open (closing: each closes when
 * its task ends): said once per task.  With neither, nothing will free
 * a session (named sessions stay active): it fails at its claim as in
 * `run`.  Bounded: the tasks waited for end (their timeouts; a dead
 * runner's are reaped after stale_after).
 */
static int
hook_full(void *arg, int64_t id, int64_t active, int64_t closing)
{
	struct pool *p = arg;
	char *msg;
	size_t i;
	int wait;

	pthread_mutex_lock(&p->lock);
	wait = p->counts.running > 0 || closing > 0;
	for (i = 0; wait && i < p->nwaiting && p->waiting[i] != id; i++)
		;
	if (wait && i == p->nwaiting) {
		p->waiting = xreallocarray(p->waiting, p->nwaiting + 1,
					   sizeof *p->waiting);
		p->waiting[p->nwaiting++] = id;
		msg = xasprintf("task %lld waits: %lld of %d active sessions "
				"in use",
				(long long)id, (long long)active,
				p->b->cfg->sessions.max_active);
		if (p->hooks.note != NULL)
			p->hooks.note(p->hooks.arg, 0, msg);
		free(msg);
	}
	pthread_mutex_unlock(&p->lock);
	return wait;
}

/* One bit per class of resource error, for saying each once. */
static unsigned
resource_bit(int err)
{
	return err == EMFILE   ? 1u
	       : err == ENFILE ? 2u
	       : err == EAGAIN ? 4u
			       : 8u;
}

/*
 * With p->lock held: baton ran out of something (err; limit says what):
 * non-zero if this worker is not the last one and may stop, lowering
 * the parallelism (it is then counted as leaving).  Said once per class
 * of error, with the limit.
 */
static int
resource_leave(struct pool *p, int err, const char *what, const char *limit)
{
	int leave = p->counts.workers - p->leaving > 1;
	char *msg;

	if (leave)
		p->leaving++;
	if (!(p->resource_said & resource_bit(err))) {
		p->resource_said |= resource_bit(err);
		msg = xasprintf("%s: %s; %s", what, limit,
				leave ? "running fewer tasks at a time"
				      : "waiting to try again");
		if (p->hooks.note != NULL)
			p->hooks.note(p->hooks.arg, 0, msg);
		free(msg);
	}
	return leave;
}

/*
 * orch's resource hook: the agent of task id could not be started for
 * want of descriptors or processes.  Give the task back (untouched)
 * unless this is the last worker, which waits and tries again; whether
 * the worker then stops is decided when the task is back (execute()).
 */
static int
hook_resource(void *arg, int64_t id, int err, const char *limit)
{
	struct pool *p = arg;
	char *what =
		xasprintf("cannot start the agent of task %lld", (long long)id);
	int give;

	pthread_mutex_lock(&p->lock);
	give = p->counts.workers - p->leaving > 1;
	/* The last worker, alone with its descriptors: waiting frees none. */
	if (!give && err == EMFILE && p->counts.running <= 1 &&
	    ++p->starved_waits > STARVED_WAITS && p->starved == NULL) {
		p->starved = xasprintf("cannot run any task: %s; task %lld "
				       "stays pending",
				       limit, (long long)id);
		give = 1;
	}
	if (!(p->resource_said & resource_bit(err))) {
		p->resource_said |= resource_bit(err);
		free(what);
		what = xasprintf("cannot start the agent of task %lld: %s; %s",
				 (long long)id, limit,
				 give ? "it goes back to the queue and work "
					"runs fewer tasks at a time"
				      : "waiting to try again");
		if (p->hooks.note != NULL)
			p->hooks.note(p->hooks.arg, 0, what);
	}
	pthread_mutex_unlock(&p->lock);
	free(what);
	return give;
}

/*
 * Take a claim slot: 1, or 0 when the pool stops or max_tasks is
 * reached, or when this runner lost its leases (SPEC §5): it claims no
 * more.  -1: not now — ends other workers are writing reach --halt or
 * --max-cost (struct pool's ending); once they are counted the pool
 * stops, or, if one did not end as told (a lost lease), claims again.
 */
static int
take_slot(struct pool *p)
{
	struct pool_counts c;
	int ok;

	pthread_mutex_lock(&p->lock);
	ok = !stopping(p) && !atomic_load(&p->b->fenced) &&
	     (p->opt.max_tasks == 0 || p->claimed < p->opt.max_tasks);
	c = counts_ending(p);
	if (ok && limit_hit(p, &c) != 0)
		ok = -1;
	else if (ok)
		p->claimed++;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

/*
 * orch's claim_next (group commit): a task is about to end as ended
 * says.  Claim the next one in the same transaction unless the pool
 * claims no more: stopping, out of slots (take_slot), or halting on
 * this very end (--halt, --max-cost, counted as it will be once the
 * end is written), so that a halt never claims after the task that
 * triggers it.
 */
static int
hook_claim_next(void *arg, const struct orch_result *ended)
{
	struct pool *p = arg;
	struct pool_counts c;
	int halts;

	pthread_mutex_lock(&p->lock);
	c = counts_ending(p);
	count_ended(&c, 0, ended->status);
	c.cost_usd = num_usd_add(c.cost_usd, ended->cost_usd);
	halts = limit_hit(p, &c) != 0;
	count_ended(&p->ending, 0, ended->status);
	p->ending.cost_usd += num_usd(ended->cost_usd);
	pthread_mutex_unlock(&p->lock);
	return !halts && take_slot(p) == 1;
}

/*
 * orch's retry_stop: `work --max-cost` spent — by the tasks that ended
 * or are ending, and this one's runs so far — means no more attempts
 * either, as it means no more claims.
 */
static char *
hook_retry_stop(void *arg, double cost_usd)
{
	struct pool *p = arg;
	struct pool_counts c;
	int spent;

	if (p->opt.max_cost <= 0)
		return NULL;
	pthread_mutex_lock(&p->lock);
	c = counts_ending(p);
	pthread_mutex_unlock(&p->lock);
	c.cost_usd = num_usd_add(c.cost_usd, cost_usd);
	spent = c.cost_usd >= p->opt.max_cost;
	return spent ? xasprintf("not retried: this work's tasks cost $%.4f "
				 "(--max-cost %g)",
				 c.cost_usd, p->opt.max_cost)
		     : NULL;
}

/*
 * SPEC §5: once per pool, a note when the write-ahead log has grown past
 * db.wal_warn_mib because a reader keeps it from being checkpointed.
 */
static void
watch_wal(struct pool *p, struct store *db)
{
	int64_t limit = (int64_t)p->b->cfg->db.wal_warn_mib * 1024 * 1024;
	struct store_wal w;
	char *cause = NULL, *size, *msg;
	int said;

	pthread_mutex_lock(&p->lock);
	said = p->wal_warned;
	pthread_mutex_unlock(&p->lock);
	if (limit <= 0 || said ||
	    store_wal(db, STORE_CKPT_NONE, &w, &cause) != 0 || w.bytes <= limit)
		goto out;
	/* a passive checkpoint tells whether a reader holds the log;
	 * one that does not is only big until the next write resets it */
	if (store_wal(db, STORE_CKPT_PASSIVE, &w, &cause) != 0 || !w.busy)
		goto out;
	pthread_mutex_lock(&p->lock);
	said = p->wal_warned;
	p->wal_warned = 1;
	pthread_mutex_unlock(&p->lock);
	if (said)
		goto out;
	size = prune_format_bytes(w.bytes);
	msg = xasprintf(
		"warning: the write-ahead log %s-wal has grown to %s, past "
		"db.wal_warn_mib (%d MiB): %s",
		store_path(db), size, p->b->cfg->db.wal_warn_mib,
		"a long read transaction on the database (a sqlite3 shell, a "
		"backup, another program) keeps SQLite from checkpointing "
		"it, and it grows until that ends; 'baton doctor' shows who "
		"has the database open");
	hook_note(p, 0, msg);
	free(msg);
	free(size);
out:
	free(cause);
}

/*
 * When the pool has nothing to run, and at its end: copy the log into
 * the database and empty it (TRUNCATE), without waiting for a reader in
 * the way; tried again every few seconds while one is, until it works.
 * A journal_size_limit keeps the log small otherwise.
 */
static void
checkpoint_idle(struct pool *p, struct store *db, int last)
{
	struct store_wal w;
	char *cause = NULL;
	int64_t now = clock_mono_ms();
	int due;

	pthread_mutex_lock(&p->lock);
	due = last ||
	      (!p->wal_clean && p->counts.running == 0 &&
	       (p->wal_tried == 0 || now - p->wal_tried >= WAL_RETRY_MS));
	if (due)
		p->wal_tried = now;
	pthread_mutex_unlock(&p->lock);
	if (!due)
		return;
	if (store_wal(db, STORE_CKPT_TRUNCATE, &w, &cause) != 0) {
		free(cause);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (!w.busy && p->counts.running == 0)
		p->wal_clean = 1;
	pthread_mutex_unlock(&p->lock);
}

/*
 * Nothing could start now: give the slot back, stop if until_empty and
 * the queue is drained, then wait a little (or for a stop).  Returns 0
 * to go on, 1 when baton was signalled, or -BERR_DB.
 */
static int
idle(struct pool *p, struct store *db, char **cause)
{
	struct pollfd pf[3] = {{.fd = p->b->stop_fd, .events = POLLIN},
			       {.fd = p->wake[0], .events = POLLIN},
			       {.fd = store_wake_fd(db), .events = POLLIN}};
	int64_t pending;
	int rc;

	pthread_mutex_lock(&p->lock);
	p->claimed--;
	pthread_mutex_unlock(&p->lock);
	checkpoint_idle(p, db, 0);
	if (p->opt.until_empty) {
		rc = store_task_count_pending(db, p->opt.milestone_id, &pending,
					      cause);
		if (rc != 0)
			return rc;
		pthread_mutex_lock(&p->lock);
		if (pending == 0 && p->counts.running == 0)
			set_stop(p);
		pthread_mutex_unlock(&p->lock);
	}
	/* Another process's new task wakes us through the store when it
	 * can (PostgreSQL's NOTIFY); the timeout is the polling behind it. */
	rc = poll(pf, pf[2].fd >= 0 ? 3 : 2, pf[2].fd >= 0 ? 1000 : 100);
	if (rc > 0 && pf[0].revents != 0)
		return 1;
	if (rc > 0 && pf[2].fd >= 0 && pf[2].revents != 0)
		store_wake_drain(db);
	return 0;
}

/* Read task id and its runs for the finished hook and --max-cost; 0 or
 * -1 (noted). */
static int
load_finished(struct pool *p, struct store *db, int64_t id, struct db_task *t,
	      struct db_run **runs, size_t *n)
{
	char *cause = NULL;
	int found = 0;

	if (p->hooks.finished == NULL && p->opt.max_cost <= 0)
		return -1;
	if (store_task_get(db, id, t, &found, &cause) == 0 && found &&
	    store_run_list(db, id, runs, n, &cause) == 0)
		return 0;
	hook_note(p, id, cause ? cause : "task not found");
	free(cause);
	db_task_release(t);
	return -1;
}

/*
 * The task's agent could not be started and the task was given back
 * (hook_resource): it was not run.  Sets *leave when this worker is to
 * stop, lowering the parallelism (not the last one).
 */
static void
given_back(struct pool *p, int *leave)
{
	pthread_mutex_lock(&p->lock);
	p->counts.running--;
	p->claimed--;
	*leave = p->counts.workers - p->leaving > 1;
	if (*leave)
		p->leaving++;
	else if (p->starved != NULL) {
		/* the limit is too low for one task: say so, stop */
		if (p->hooks.error != NULL)
			p->hooks.error(p->hooks.arg, p->starved);
		if (p->err == 0)
			p->err = -BERR_FAIL;
		set_stop(p);
	}
	pthread_mutex_unlock(&p->lock);
}

/* How a worker goes on after a task (group commit, orch_result's
 * next): take a slot and claim; claim with the slot taken already; or
 * run the task claimed with the end (none: idle, which gives the slot
 * back). */
enum go_on { GO_CLAIM, GO_SLOT, GO_RUN };

/* The next claim as the task's end came with it: *go and *next; the
 * claim's error (not a busy database) is the worker's, with *cause.  A
 * busy one claims again at once, the slot kept (BUSY_AGAIN). */
static int
next_of(struct orch *o, struct orch_result *res, enum go_on *go, int64_t *next,
	char **cause)
{
	*go = res->next == ORCH_NEXT_CLAIMED   ? GO_RUN
	      : res->next == ORCH_NEXT_NOT_RUN ? GO_SLOT
					       : GO_CLAIM;
	*next = res->next_id;
	if (res->next != ORCH_NEXT_CLAIMED || res->next_err == 0)
		return 0;
	if (res->next_err == -BERR_DB && store_busy(o->db)) {
		*go = GO_SLOT; /* nothing claimed: try again */
		return 0;
	}
	*cause = res->next_cause;
	res->next_cause = NULL;
	return res->next_err;
}

/* Run claimed task id to its end and count it; *leave as given_back();
 * *go and *next: how the worker goes on (next_of). */
static int
execute(struct pool *p, struct orch *o, int64_t id, int *leave, enum go_on *go,
	int64_t *next, char **cause)
{
	struct orch_result res;
	struct db_task t = {0};
	struct db_run *runs = NULL;
	size_t nruns = 0;
	int rc, loaded;

	pthread_mutex_lock(&p->lock);
	p->counts.running++;
	pthread_mutex_unlock(&p->lock);

	rc = orch_execute(o, id, &res, cause);
	*go = GO_CLAIM;
	*next = 0;
	if (res.requeued) {
		if (res.announced) {
			pthread_mutex_lock(&p->lock);
			unannounce(p, &res.told);
			pthread_mutex_unlock(&p->lock);
		}
		given_back(p, leave);
		orch_result_release(&res);
		return rc;
	}
	/* A lost lease: the task is another runner's now, and the note
	 * said so; nothing of it is ours to show or count as ended. */
	loaded = !res.lost &&
		 load_finished(p, o->db, id, &t, &runs, &nruns) == 0;
	watch_wal(p, o->db);

	pthread_mutex_lock(&p->lock);
	p->counts.running--;
	p->wal_clean = 0;
	p->wal_tried = 0;
	if (res.announced)
		unannounce(p, &res.told);
	count_ended(&p->counts, res.lost, res.status);
	if (loaded)
		p->counts.cost_usd =
			num_usd_add(p->counts.cost_usd, t.cost_usd);
	p->starved_waits = 0; /* a task ran: descriptors come and go */
	if (p->hooks.ended != NULL && !res.lost)
		p->hooks.ended(p->hooks.arg, id, &res);
	if (loaded && p->hooks.finished != NULL)
		p->hooks.finished(p->hooks.arg, &t, runs, nruns, &res);
	check_limits(p);
	pthread_mutex_unlock(&p->lock);
	db_runs_free(runs, nruns);
	db_task_release(&t);
	if (rc != 0 && rc != -BERR_DB) {
		/* baton's own error, already recorded on the task */
		hook_note(p, id, *cause);
		free(*cause);
		*cause = NULL;
		rc = 0;
	}
	if (rc == 0)
		rc = next_of(o, &res, go, next, cause);
	orch_result_release(&res);
	return rc;
}

/*
 * logs.retention: prune on db when the pool starts and then once an
 * hour, in whichever worker comes first; one note if it removed
 * something.  A failure is a note too: the tasks go on.
 */
static void
maybe_prune(struct pool *p, struct store *db)
{
	struct prune_options opt = {0};
	struct prune_result r;
	struct strvec warnings;
	char *cause = NULL, *line, *msg;
	int rc, due;

	opt.older_than_ms = p->b->cfg->logs.retention_ms;
	if (opt.older_than_ms <= 0)
		return;
	opt.now = clock_now_ms();
	pthread_mutex_lock(&p->lock);
	due = p->pruned_at == 0 || opt.now - p->pruned_at >= PRUNE_EVERY_MS;
	if (due)
		p->pruned_at = opt.now;
	pthread_mutex_unlock(&p->lock);
	if (!due)
		return;
	strvec_init(&warnings);
	rc = prune_run(p->b, db, &opt, &r, &warnings, &cause);
	if (rc != 0)
		msg = xasprintf("logs.retention: %s", cause);
	else if (prune_removed_any(&r)) {
		line = prune_summary(&r, 0);
		msg = xasprintf("logs.retention: %s%s", line,
				warnings.n ? " (some files could not be "
					     "removed)"
					   : "");
		free(line);
	} else
		msg = NULL;
	if (msg != NULL)
		hook_note(p, 0, msg);
	free(msg);
	free(cause);
	strvec_release(&warnings);
}

/* One worker: claim, execute, until the pool stops or *left is set
 * (this worker stops to lower the parallelism).  A task's end usually
 * claims the next task in its own transaction (group commit: GO_RUN). */
static int
work_loop(struct pool *p, struct orch *o, int *left, char **cause)
{
	struct pollfd stop = {.fd = p->b->stop_fd, .events = POLLIN};
	enum go_on go = GO_CLAIM;
	int64_t id = 0;
	int rc, slot, busy = 0;

	for (;;) {
		if (go == GO_CLAIM && *left)
			break;
		if (go == GO_CLAIM && (slot = take_slot(p)) == 0)
			break;
		if (go == GO_CLAIM && slot < 0) {
			/* other workers' ends about to be counted */
			if (poll(&stop, stop.fd >= 0 ? 1 : 0, 10) > 0)
				break;
			continue;
		}
		maybe_prune(p, o->db);
		rc = go == GO_RUN
			     ? 0
			     : orch_claim(o, p->opt.milestone_id, &id, cause);
		go = GO_CLAIM;
		if (rc == -BERR_DB && store_busy(o->db)) {
			/* locked past the busy timeout (a long writer, an
			 * external lock), a deadlock, or claims beside
			 * this one near the session limit: nothing claimed,
			 * try again, at once a few times (the slot kept) */
			free(*cause);
			*cause = NULL;
			id = 0;
			if (++busy <= BUSY_AGAIN) {
				go = GO_SLOT;
				continue;
			}
		} else if (rc != 0)
			return rc;
		busy = 0;
		if (id == 0) {
			if ((rc = idle(p, o->db, cause)) < 0)
				return rc;
			if (rc == 1)
				return 0;
			continue;
		}
		if ((rc = execute(p, o, id, left, &go, &id, cause)) != 0)
			return rc;
	}
	return 0;
}

/* The error a fenced runner ends with (SPEC §5). */
static int
fenced_error(struct pool *p, char **cause)
{
	*cause = xasprintf("runner %lld lost its leases: %s; its agents "
			   "were stopped",
			   (long long)p->b->runner_id,
			   atomic_load(&p->b->fence_why));
	return -BERR_LEASE;
}

/*
 * This worker's database connection.  Out of descriptors (or memory):
 * the worker stops, lowering the parallelism (*left set), unless it is
 * the last one, which waits and tries again.  Returns 0 with *db, or
 * with *db NULL when it stops (*left, or the pool stopping); a negated
 * berr with *cause.
 */
static int
open_db(struct pool *p, struct store **db, int *left, char **cause)
{
	struct pollfd pf[2] = {{.fd = p->b->stop_fd, .events = POLLIN},
			       {.fd = p->wake[0], .events = POLLIN}};
	int64_t wait_ms = 100;
	char *limit;
	int rc, err, tries;

	for (tries = 1;; tries++) {
		if ((rc = runner_db_open(p->b, db, cause)) == 0)
			return 0;
		*db = NULL;
		if (!sys_resource_errno(err = errno))
			return rc;
		free(*cause);
		*cause = NULL;
		limit = sys_resource_text(err);
		pthread_mutex_lock(&p->lock);
		*left = resource_leave(p, err, "cannot start a worker", limit);
		rc = !*left && err == EMFILE && p->counts.running == 0 &&
		     tries > STARVED_WAITS;
		pthread_mutex_unlock(&p->lock);
		if (rc) {
			/* the last worker, nothing running: nothing frees one */
			*cause =
				xasprintf("cannot start any worker: %s", limit);
			free(limit);
			return -BERR_FAIL;
		}
		free(limit);
		if (*left || poll(pf, 2, (int)wait_ms) > 0)
			return 0;
		wait_ms = wait_ms * 2 > 5000 ? 5000 : wait_ms * 2;
	}
}

static void *
worker_main(void *arg)
{
	struct pool *p = arg;
	struct orch o;
	struct store *db = NULL;
	char *cause = NULL;
	int rc, last, left = 0;

	if ((rc = open_db(p, &db, &left, &cause)) == 0 && db != NULL) {
		orch_init(&o, p->b, db);
		o.notify = hook_note;
		o.notify_arg = p;
		o.refused = hook_refused;
		o.full = hook_full;
		o.resource = hook_resource;
		o.claim_next = hook_claim_next;
		o.retry_stop = hook_retry_stop;
		o.next_milestone = p->opt.milestone_id;
		o.scope = xstrdup_or_null(p->opt.scope);
		o.scope_milestone = p->opt.milestone_id;
		o.fail_at = p->opt.fail_at;
		if (p->opt.has_retries)
			o.retries = p->opt.retries;
		if (p->opt.impl_find != NULL)
			o.impl_find = p->opt.impl_find;
		rc = work_loop(p, &o, &left, &cause);
		/* a fenced runner's failed writes (a transaction replayed
		 * into a queue that moved on without it) are its lost
		 * leases, not a database error */
		if ((rc == 0 || rc == -BERR_DB) && atomic_load(&p->b->fenced)) {
			free(cause);
			cause = NULL;
			rc = fenced_error(p, &cause);
		}
		orch_release(&o);
	}
	pthread_mutex_lock(&p->lock);
	if (rc != 0) {
		/* a lost runner lease is said once, not by every worker */
		if (p->hooks.error != NULL &&
		    !(rc == -BERR_LEASE && p->err == -BERR_LEASE))
			p->hooks.error(p->hooks.arg,
				       cause ? cause : "worker failed");
		if (p->err == 0)
			p->err = rc;
		set_stop(p);
	}
	last = --p->counts.workers == 0;
	if (left)
		p->leaving--;
	pthread_mutex_unlock(&p->lock);
	free(cause);
	if (last && db != NULL)
		checkpoint_idle(p, db, 1);
	store_close(db);
	return NULL;
}

int
pool_start(struct pool **out, struct baton *b, const struct pool_options *opt,
	   const struct pool_hooks *hooks, char **cause)
{
	struct pool *p = xcalloc(1, sizeof *p);
	int i;

	p->b = b;
	p->opt = *opt;
	/* the caller's strings may go once we return */
	p->scope = xstrdup_or_null(opt->scope);
	p->opt.scope = p->scope;
	p->opt.fail_at = NULL;
	p->fail_at = xstrdup_or_null(opt->fail_at);
	p->opt.fail_at = p->fail_at;
	if (hooks != NULL)
		p->hooks = *hooks;
	pthread_mutex_init(&p->lock, NULL);
	/* Without it idle workers notice a stop within 100 ms. */
	if (pipe(p->wake) != 0) {
		p->wake[0] = p->wake[1] = -1;
	} else {
		fcntl(p->wake[0], F_SETFD, FD_CLOEXEC);
		fcntl(p->wake[1], F_SETFD, FD_CLOEXEC);
		fcntl(p->wake[1], F_SETFL, O_NONBLOCK);
	}
	p->threads = xcalloc((size_t)opt->jobs, sizeof *p->threads);
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < opt->jobs; i++) {
		if ((errno = pthread_create(&p->threads[i], NULL, worker_main,
					    p)) != 0)
			break;
		p->nthreads++;
		p->counts.workers++;
	}
	pthread_mutex_unlock(&p->lock);
	if (p->nthreads == 0) {
		*cause =
			xasprintf("cannot start a worker: %s", strerror(errno));
		pool_join(p, NULL);
		return -BERR_FAIL;
	}
	if (p->nthreads < opt->jobs && p->hooks.note != NULL) {
		char *limit = sys_resource_text(errno);
		char *msg = xasprintf("cannot start worker %d: %s; running "
				      "with %d",
				      p->nthreads + 1, limit, p->nthreads);

		free(limit);

		pthread_mutex_lock(&p->lock);
		p->hooks.note(p->hooks.arg, 0, msg);
		pthread_mutex_unlock(&p->lock);
		free(msg);
	}
	*out = p;
	return 0;
}

void
pool_stop(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	set_stop(p);
	pthread_mutex_unlock(&p->lock);
}

void
pool_get_counts(struct pool *p, struct pool_counts *c)
{
	pthread_mutex_lock(&p->lock);
	*c = p->counts;
	pthread_mutex_unlock(&p->lock);
}

int
pool_join(struct pool *p, struct pool_counts *final)
{
	int i, err;

	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	err = p->err;
	if (final != NULL)
		*final = p->counts;
	pthread_mutex_destroy(&p->lock);
	if (p->wake[0] >= 0) {
		close(p->wake[0]);
		close(p->wake[1]);
	}
	free(p->threads);
	free(p->scope);
	free(p->fail_at);
	if (p->halt_why != NULL)
		p->b->stop_why = NULL;
	free(p->halt_why);
	free(p->waiting);
	free(p->starved);
	free(p);
	return err;
}

/* ---- run now ---- */

/* Stopped before it started here: do not leave it pending, and ask a
 * runner that took it meanwhile to stop it. */
static void
drop_pending(struct orch *o, int64_t id)
{
	struct task_change ch;
	char *cause = NULL;

	if (task_cancel(o->b, id, &ch, &cause) != 0)
		free(cause);
}

int
worker_run_now(struct orch *o, int64_t id,
	       void (*waiting)(void *arg, int64_t id, int elsewhere), void *arg,
	       enum run_wait *how, enum task_status *final, char **cause)
{
	struct pollfd pf = {.fd = o->b->stop_fd, .events = POLLIN};
	struct db_task t = {0};
	int started, rc, found, said = 0, elsewhere = 0;

	for (;;) {
		if ((rc = orch_claim_task(o, id, &started, cause)) != 0)
			break;
		if (started != 0) {
			*how = started == 1 ? RUN_WAIT_STARTED
					    : RUN_WAIT_REFUSED;
			return 0;
		}
		if ((rc = store_task_get(o->db, id, &t, &found, cause)) != 0)
			break;
		if (found && t.status == TASK_RUNNING) {
			if (!elsewhere && waiting != NULL)
				waiting(arg, id, 1);
			elsewhere = 1;
		} else if (found && t.status != TASK_PENDING) {
			*how = RUN_WAIT_ENDED;
			*final = t.status;
			db_task_release(&t);
			return 0;
		} else if (!said && waiting != NULL) {
			waiting(arg, id, 0);
			said = 1;
		}
		db_task_release(&t);
		if (poll(&pf, 1, 200) > 0) {
			drop_pending(o, id);
			*how = RUN_WAIT_SIGNALLED;
			return 0;
		}
	}
	drop_pending(o, id);
	return rc;
}
