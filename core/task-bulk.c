/*
 * The bulk task commands: `retry --failed | --status S,S...` and
 * `cancel --all | --session S | --milestone M` select their tasks with
 * the store's task filter and change them in core transactions.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "core/session.h"
#include "core/task.h"
#include "lib/clock.h"
#include "lib/xmalloc.h"
#include "db/store.h"

/* The tasks a filter found. */
struct picked {
	struct task_change *v;
	size_t n, alloc;
};

static int
pick(void *arg, const struct db_task *t)
{
	struct picked *p = arg;

	if (p->n == p->alloc) {
		p->alloc = p->alloc ? 2 * p->alloc : 64;
		p->v = xreallocarray(p->v, p->alloc, sizeof *p->v);
	}
	memset(&p->v[p->n], 0, sizeof p->v[p->n]);
	p->v[p->n].id = t->id;
	p->v[p->n].found = 1;
	p->v[p->n].was = t->status;
	p->v[p->n].now = t->status;
	p->n++;
	return 0;
}

/* Check a retry mask: 0, or -BERR_USAGE naming a status it cannot. */
static int
check_retry_mask(unsigned mask, char **cause)
{
	unsigned bad = mask & ~task_retryable_mask();
	int i;

	if (mask == 0) {
		*cause = xstrdup("no status to retry");
		return -BERR_USAGE;
	}
	for (i = 0; i < TASK_NSTATUS; i++) {
		if (bad & (1u << i)) {
			*cause = xasprintf(
				"%s tasks cannot be retried: give failed, "
				"cancelled, timed_out or interrupted",
				task_status_name((enum task_status)i));
			return -BERR_USAGE;
		}
	}
	return 0;
}

/* Requeue the next batch of f's tasks into p, in one transaction. */
static int
retry_batch(struct baton *b, const struct db_task_filter *f, struct picked *p,
	    char **cause)
{
	size_t first = p->n, i;
	int rc;

	if ((rc = store_begin(b->db, cause)) != 0)
		return rc;
	rc = store_task_each(b->db, f, pick, p, cause);
	for (i = first; rc == 0 && i < p->n; i++) {
		rc = store_task_requeue(b->db, p->v[i].id, f->status_mask,
					&p->v[i].changed, cause);
		p->v[i].now = TASK_PENDING;
	}
	if (rc == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		p->n = first;
	}
	return rc;
}

int
task_retry_select(struct baton *b, const struct task_select *sel,
		  struct task_change **out, size_t *n, char **cause)
{
	struct db_task_filter f = {0};
	struct picked p = {0};
	size_t before;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = check_retry_mask(sel->status_mask, cause)) != 0)
		return rc;
	f.status_mask = sel->status_mask;
	f.milestone_id = sel->milestone_id;
	f.limit = TASK_BATCH;
	do {
		/* leave the write lock free a moment between batches */
		if (p.n > 0)
			poll(NULL, 0, 10);
		before = p.n;
		if ((rc = retry_batch(b, &f, &p, cause)) != 0)
			break;
		if (p.n > before)
			f.after_id = p.v[p.n - 1].id;
	} while (p.n - before == TASK_BATCH);
	*out = p.v;
	*n = p.n;
	return rc;
}

/* Cancel (or ask to stop) each task in p; in the caller's transaction. */
static int
cancel_picked(struct baton *b, struct picked *p, char **cause)
{
	struct task_change *c;
	int64_t now = clock_now_ms();
	size_t i;
	int rc;

	for (i = 0; i < p->n; i++) {
		c = &p->v[i];
		rc = store_task_cancel(b->db, c->id, now, &c->found, &c->was,
				       cause);
		if (rc != 0)
			return rc;
		c->changed = c->found &&
			     (c->was == TASK_PENDING || c->was == TASK_RUNNING);
		c->now = c->was == TASK_PENDING ? TASK_CANCELLED : c->was;
	}
	return 0;
}

int
task_filter_session(struct store *db, const char *ref, struct db_task_filter *f,
		    struct db_session *s, char **cause)
{
	struct db_task_filter asked = {0};
	char *why = NULL;
	int64_t n;
	int rc;

	if ((rc = session_lookup(db, ref, s, &why)) == 0) {
		f->session_id = s->id;
		f->session_name = s->name;
		return 0;
	}
	if (rc != -BERR_USAGE) {
		*cause = why;
		return rc;
	}
	/* none yet: the tasks that asked for it have not started */
	asked.session_name = ref;
	if ((rc = store_task_count(db, &asked, &n, cause)) != 0) {
		free(why);
		return rc;
	}
	if (n == 0) {
		*cause = why;
		return -BERR_USAGE;
	}
	free(why);
	f->session_id = NULL;
	f->session_name = ref;
	return 0;
}

int
task_cancel_select(struct baton *b, const struct task_select *sel,
		   struct task_change **out, size_t *n, char **cause)
{
	struct db_task_filter f = {0};
	struct db_session s = {0};
	struct picked p = {0};
	int rc;

	*out = NULL;
	*n = 0;
	if (sel->session != NULL &&
	    (rc = task_filter_session(b->db, sel->session, &f, &s, cause)) != 0)
		return rc;
	f.status_mask = (1u << TASK_PENDING) | (1u << TASK_RUNNING);
	f.milestone_id = sel->milestone_id;
	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = store_task_each(b->db, &f, pick, &p, cause)) == 0 &&
	    (rc = cancel_picked(b, &p, cause)) == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		free(p.v);
		p.v = NULL;
		p.n = 0;
	}
	db_session_release(&s);
	*out = p.v;
	*n = p.n;
	return rc;
}

/* The longest kill_grace among the running tasks of ch. */
static int64_t
longest_grace(struct baton *b, const struct task_change *ch, size_t n)
{
	struct db_task t = {0};
	int64_t g, longest = task_kill_grace_ms(b, NULL);
	char *cause = NULL;
	size_t i;
	int found;

	for (i = 0; i < n; i++) {
		if (ch[i].now != TASK_RUNNING)
			continue;
		if (store_task_get(b->db, ch[i].id, &t, &found, &cause) != 0) {
			free(cause);
			cause = NULL;
			continue;
		}
		g = task_kill_grace_ms(b, found ? t.agent : NULL);
		if (g > longest)
			longest = g;
		db_task_release(&t);
	}
	return longest;
}

/* Look again at the tasks still running; how many still are. */
static size_t
still_running(struct baton *b, struct task_change *ch, size_t n)
{
	struct db_task t = {0};
	char *cause = NULL;
	size_t i, left = 0;
	int found;

	for (i = 0; i < n; i++) {
		if (ch[i].now != TASK_RUNNING)
			continue;
		if (store_task_get(b->db, ch[i].id, &t, &found, &cause) != 0) {
			free(cause);
			cause = NULL;
			left++;
			continue;
		}
		ch[i].now = found ? t.status : TASK_CANCELLED;
		db_task_release(&t);
		if (ch[i].now == TASK_RUNNING)
			left++;
	}
	return left;
}

void
task_wait_all(struct baton *b, struct task_change *ch, size_t n)
{
	int64_t end;

	end = clock_mono_ms() + longest_grace(b, ch, n) + TASK_WAIT_SLACK_MS;
	while (still_running(b, ch, n) > 0 && clock_mono_ms() < end)
		poll(NULL, 0, 100);
}
