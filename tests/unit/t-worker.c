/*
 * The worker pool of `work` and the run-now wait of `run` (core/worker.c)
 * with a fake agent whose prompt says what it does: "ok" runs /bin/true,
 * "fail" /bin/false, "hang" sleeps until it is stopped.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/test.h"

#include "agents/agent.h"
#include "core/baton.h"
#include "core/config.h"
#include "core/orchestrator.h"
#include "core/task.h"
#include "core/worker.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

static int
fake_build_argv(const struct agent_call *c, struct strvec *argv, char **cause)
{
	size_t len;
	char *prompt = file_read(c->prompt_file, 4096, &len);

	if (prompt == NULL) {
		*cause = xasprintf("fake: cannot read the prompt: %s",
				   strerror(errno));
		return -1;
	}
	if (strcmp(prompt, "fail") == 0)
		strvec_push(argv, "/bin/false");
	else if (strcmp(prompt, "hang") == 0) {
		strvec_push(argv, "/bin/sleep");
		strvec_push(argv, "30");
	} else
		strvec_push(argv, "/bin/true");
	free(prompt);
	return 0;
}

static void
fake_parse(const struct agent_call *c, const struct agent_exit *pr,
	   const char *out, const char *err, struct agent_result *r)
{
	(void)c;
	(void)out;
	(void)err;
	r->outcome = pr->exited && pr->exit_code == 0 ? AGENT_OK : AGENT_FAILED;
	if (r->outcome != AGENT_OK)
		r->error = xstrdup("fake failed");
}

static const struct agent_impl fake_impl = {
	.kind = AGENT_KIND_COMMAND,
	.accepts_session_id = 1,
	.needs_prompt_file = 1, /* it reads the prompt file */
	.build_argv = fake_build_argv,
	.parse_result = fake_parse,
};

static const struct agent_impl *
fake_find(enum agent_kind kind)
{
	return kind == AGENT_KIND_COMMAND ? &fake_impl : agent_impl_find(kind);
}

struct env {
	struct test_baton t;
	struct baton b; /* t.b, quiet */
	int stop[2];
	int ended;
	int64_t last_ended;
};

static const char config_yaml[] = "defaults: {agent: fake, kill_grace: 200ms}\n"
				  "agents:\n"
				  "  fake: {kind: command, command: [fake]}\n";

static int
setup(void **state)
{
	struct env *e = xcalloc(1, sizeof *e);

	test_baton_init(&e->t, config_yaml, clock_now_ms());
	e->b = e->t.b;
	e->b.verbosity = -1;
	e->stop[0] = e->t.stop[0];
	e->stop[1] = e->t.stop[1];
	pthread_mutex_init(&e->b.write_lock, NULL);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	int rc;

	pthread_mutex_destroy(&e->b.write_lock);
	rc = test_baton_release(&e->t);
	free(e);
	return rc;
}

/* Add a task through core's task_add(), as `baton add` does. */
static int64_t
add(struct env *e, const char *prompt, const char *session)
{
	struct task_spec s = {0};
	struct db_task t = {0};
	char *cause = NULL;
	int existed;
	int64_t id;

	s.prompt = xstrdup(prompt);
	s.workdir = xstrdup(e->t.dir);
	s.session = xstrdup_or_null(session);
	if (task_add(&e->b, &s, &t, &existed, &cause) != 0)
		fail_msg("task_add: %s", cause);
	assert_false(existed);
	id = t.id;
	task_spec_release(&s);
	db_task_release(&t);
	return id;
}

static enum task_status
status_of(struct env *e, int64_t id)
{
	struct db_task t = {0};
	enum task_status s;
	char *cause = NULL;
	int found;

	assert_int_equal(store_task_get(e->b.db, id, &t, &found, &cause), 0);
	assert_true(found);
	s = t.status;
	db_task_release(&t);
	return s;
}

static void
on_ended(void *arg, int64_t id, const struct orch_result *r)
{
	struct env *e = arg;

	(void)r;
	e->ended++;
	e->last_ended = id;
}

static struct pool_options
options(int jobs)
{
	struct pool_options o = {.jobs = jobs, .impl_find = fake_find};

	return o;
}

static struct pool_hooks
hooks(struct env *e)
{
	struct pool_hooks h = {.arg = e, .ended = on_ended};

	return h;
}

/* Wait (at most 20 s) until the pool's counts satisfy pred. */
static void
wait_counts(struct pool *p, int (*pred)(const struct pool_counts *))
{
	struct pool_counts c;
	int64_t end = clock_mono_ms() + 20000;

	do {
		pool_get_counts(p, &c);
		if (pred(&c))
			return;
		poll(NULL, 0, 10);
	} while (clock_mono_ms() < end);
	fail_msg("the pool never got there");
}

static void
test_until_empty(void **state)
{
	struct env *e = *state;
	struct pool_options o = options(2);
	struct pool_hooks h = hooks(e);
	struct pool_counts c;
	struct pool *p;
	char *cause = NULL, *scope;
	int64_t ids[5];
	int i;

	ids[0] = add(e, "ok", NULL);
	ids[1] = add(e, "fail", NULL);
	ids[2] = add(e, "ok", NULL);
	ids[3] = add(e, "fail", NULL);
	ids[4] = add(e, "ok", NULL);
	o.until_empty = 1;
	/* the pool keeps copies: `work` frees its milestone row at once
	 * (ASan saw the workers read a freed scope) */
	scope = xstrdup("01234567-89ab-7def-8123-456789abcdef");
	o.scope = scope;
	assert_int_equal(pool_start(&p, &e->b, &o, &h, &cause), 0);
	memset(scope, 'x', strlen(scope));
	free(scope);
	assert_int_equal(pool_join(p, &c), 0);
	assert_int_equal(c.completed, 3);
	assert_int_equal(c.failed, 2);
	assert_int_equal(c.other, 0);
	assert_int_equal(c.running, 0);
	assert_int_equal(c.workers, 0);
	assert_int_equal(e->ended, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(status_of(e, ids[i]),
				 i % 2 ? TASK_FAILED : TASK_COMPLETED);
}

static void
test_max_tasks(void **state)
{
	struct env *e = *state;
	struct pool_options o = options(3);
	struct pool_hooks h = hooks(e);
	struct pool_counts c;
	struct pool *p;
	char *cause = NULL;
	int64_t ids[5];
	int i, pending = 0;

	for (i = 0; i < 5; i++)
		ids[i] = add(e, "ok", NULL);
	o.until_empty = 1;
	o.max_tasks = 2;
	assert_int_equal(pool_start(&p, &e->b, &o, &h, &cause), 0);
	/* until_empty never holds (3 stay pending): max_tasks ends it */
	assert_int_equal(pool_join(p, &c), 0);
	assert_int_equal(c.completed, 2);
	for (i = 0; i < 5; i++)
		pending += status_of(e, ids[i]) == TASK_PENDING;
	assert_int_equal(pending, 3);
}

static int
done_two(const struct pool_counts *c)
{
	return c->completed == 2;
}

static void
test_stop(void **state)
{
	struct env *e = *state;
	struct pool_options o = options(2);
	struct pool_hooks h = hooks(e);
	struct pool_counts c;
	struct pool *p;
	char *cause = NULL;
	int64_t later;

	add(e, "ok", NULL);
	add(e, "ok", NULL);
	/* without until_empty the pool keeps waiting for work */
	assert_int_equal(pool_start(&p, &e->b, &o, &h, &cause), 0);
	wait_counts(p, done_two);
	pool_stop(p);
	assert_int_equal(pool_join(p, &c), 0);
	assert_int_equal(c.completed, 2);
	/* a task added after the stop is not taken */
	later = add(e, "ok", NULL);
	assert_int_equal(status_of(e, later), TASK_PENDING);
}

static int
one_running(const struct pool_counts *c)
{
	return c->running == 1;
}

/* A signal to baton (its stop fd) stops the running agent: cancelled. */
static void
test_signal_stops_running(void **state)
{
	struct env *e = *state;
	struct pool_options o = options(1);
	struct pool_hooks h = hooks(e);
	struct pool_counts c;
	struct pool *p;
	char *cause = NULL;
	int64_t id = add(e, "hang", NULL), next = add(e, "ok", NULL);

	assert_int_equal(pool_start(&p, &e->b, &o, &h, &cause), 0);
	wait_counts(p, one_running);
	assert_int_equal(write(e->stop[1], "x", 1), 1);
	assert_int_equal(pool_join(p, &c), 0);
	assert_int_equal(c.other, 1); /* cancelled */
	assert_int_equal(c.completed, 0);
	assert_int_equal(status_of(e, id), TASK_CANCELLED);
	assert_int_equal(status_of(e, next), TASK_PENDING);
}

/* `run`'s wait in a thread of its own, with its own connection. */
struct waiter {
	struct env *e;
	struct baton b;
	struct orch o;
	int64_t id;
	enum run_wait how;
	enum task_status final;
	int rc, said, said_elsewhere;
	pthread_t thread;
};

static void
waiting(void *arg, int64_t id, int elsewhere)
{
	struct waiter *w = arg;

	(void)id;
	if (elsewhere)
		w->said_elsewhere++;
	else
		w->said++;
}

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;
	char *cause = NULL;

	w->rc = worker_run_now(&w->o, w->id, waiting, w, &w->how, &w->final,
			       &cause);
	free(cause);
	return NULL;
}

static void
waiter_start(struct waiter *w, struct env *e, int64_t id)
{
	char *cause = NULL;

	memset(w, 0, sizeof *w);
	w->e = e;
	w->b = e->b;
	w->id = id;
	assert_int_equal(store_open(&w->b.db, e->b.db_path, NULL, &cause), 0);
	orch_init(&w->o, &w->b, w->b.db);
	w->o.impl_find = fake_find;
	assert_int_equal(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

static void
waiter_join(struct waiter *w)
{
	assert_int_equal(pthread_join(w->thread, NULL), 0);
	orch_release(&w->o);
	store_close(w->b.db);
}

/* Claim `first` in session s1 here, so that the next task of s1 waits. */
static void
hold_session(struct env *e, struct orch *o, int64_t first)
{
	char *cause = NULL;
	int started;

	orch_init(o, &e->b, e->b.db);
	o->impl_find = fake_find;
	assert_int_equal(orch_claim_task(o, first, &started, &cause), 0);
	assert_int_equal(started, 1);
}

static void
wait_said(struct waiter *w)
{
	int64_t end = clock_mono_ms() + 20000;

	while (w->said == 0 && clock_mono_ms() < end)
		poll(NULL, 0, 10);
	assert_int_equal(w->said, 1);
}

static void
test_run_now_cancel_while_waiting(void **state)
{
	struct env *e = *state;
	struct task_change ch;
	struct waiter w;
	struct orch o;
	char *cause = NULL;
	int64_t first = add(e, "ok", "s1"), second = add(e, "ok", "s1");

	hold_session(e, &o, first);
	waiter_start(&w, e, second);
	wait_said(&w); /* it waits for s1 (S6) */
	assert_int_equal(task_cancel(&e->b, second, &ch, &cause), 0);
	assert_int_equal(ch.was, TASK_PENDING);
	waiter_join(&w);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.how, RUN_WAIT_ENDED);
	assert_int_equal(w.final, TASK_CANCELLED);
	assert_int_equal(w.said, 1); /* said once, not at every poll */
	orch_release(&o);
}

static void
test_run_now_signalled_while_waiting(void **state)
{
	struct env *e = *state;
	struct waiter w;
	struct orch o;
	int64_t first = add(e, "ok", "s1"), second = add(e, "ok", "s1");

	hold_session(e, &o, first);
	waiter_start(&w, e, second);
	wait_said(&w);
	assert_int_equal(write(e->stop[1], "x", 1), 1);
	waiter_join(&w);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.how, RUN_WAIT_SIGNALLED);
	/* it never started: not left pending */
	assert_int_equal(status_of(e, second), TASK_CANCELLED);
	orch_release(&o);
}

static void
test_run_now_starts_when_free(void **state)
{
	struct env *e = *state;
	struct orch_result res = {0};
	struct waiter w;
	struct orch o;
	char *cause = NULL;
	int64_t first = add(e, "ok", "s1"), second = add(e, "ok", "s1");

	hold_session(e, &o, first);
	waiter_start(&w, e, second);
	wait_said(&w);
	/* the first ends: its lease goes, the second starts */
	assert_int_equal(orch_execute(&o, first, &res, &cause), 0);
	assert_int_equal(res.status, TASK_COMPLETED);
	orch_result_release(&res);
	waiter_join(&w);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.how, RUN_WAIT_STARTED);
	assert_int_equal(status_of(e, second), TASK_RUNNING);
	orch_release(&o);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_until_empty),
		T(test_max_tasks),
		T(test_stop),
		T(test_signal_stops_running),
		T(test_run_now_cancel_while_waiting),
		T(test_run_now_signalled_while_waiting),
		T(test_run_now_starts_when_free),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
