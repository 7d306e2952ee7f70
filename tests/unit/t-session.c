/*
 * Unit tests for core/session.c and db/db-session.c: selection (S2),
 * init (S8), pins (S9), expiry (S10), capacity (S11), isolation (S12),
 * reset, close, gc, lookup, and the orchestrator's assign-and-restore
 * of the worker's prior session (S3 nesting) with a fake agent.  Each
 * test has its own database in a temporary directory; time is passed
 * in, so expiry needs no sleeping.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agents/agent.h"
#include "core/baton.h"
#include "core/config.h"
#include "core/orchestrator.h"
#include "core/session.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "db/store.h"

#define TEST_NAME "t-session"
#include "tests/unit/test.h"

#define T0   ((int64_t)1700000000000)
#define HOUR ((int64_t)3600 * 1000)

struct fx {
	struct test_baton t; /* the default configuration */
	struct store *db;    /* t.b.db */
	char *work, *other;  /* two project directories */
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);

	test_baton_init(&f->t, NULL, T0);
	f->db = f->t.b.db;
	f->work = test_path(f->t.dir, "work");
	f->other = test_path(f->t.dir, "other");
	assert_int_equal(mkdir(f->work, 0700), 0);
	assert_int_equal(mkdir(f->other, 0700), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	int rc = test_baton_release(&f->t);

	free(f->work);
	free(f->other);
	free(f);
	return rc;
}

/* What a task asks for; NULL/0 for not given. */
struct ask {
	const char *session, *agent, *model, *workdir;
	int new_session, force_agent, allow_foreign;
	int64_t milestone_id;
};

static int64_t
add_task(struct fx *f, const struct ask *a)
{
	struct db_task t = {0};
	int64_t id;

	t.prompt = xstrdup("p");
	t.workdir = xstrdup(a->workdir ? a->workdir : f->work);
	t.project = xstrdup(t.workdir);
	t.agent = xstrdup_or_null(a->agent);
	t.model = xstrdup_or_null(a->model);
	t.session_req = xstrdup_or_null(a->session);
	t.new_session = a->new_session;
	t.force_agent = a->force_agent;
	t.allow_foreign = a->allow_foreign;
	t.milestone_id = a->milestone_id;
	t.max_iterations = 1;
	t.max_attempts = 1;
	id = test_insert_task(f->db, &t, T0);
	db_task_release(&t);
	return id;
}

/* session_select for a new task asking a, at time now, committed. */
static int
pick(struct fx *f, const struct ask *a, int64_t now, struct session_choice *sc,
     char **cause)
{
	struct db_task t = {0};
	int found, rc;

	assert_int_equal(
		store_task_get(f->db, add_task(f, a), &t, &found, cause), 0);
	assert_int_equal(store_begin(f->db, cause), 0);
	rc = session_select(&f->t.b, f->db, &t, now, sc, cause);
	if (rc == 0)
		assert_int_equal(store_commit(f->db, cause), 0);
	else
		store_rollback(f->db);
	db_task_release(&t);
	return rc;
}

static void
get(struct fx *f, const char *id, struct db_session *s)
{
	test_get_session(f->db, id, s);
}

static int64_t
count(struct fx *f, const char *kind, const char *session_id)
{
	struct db_event_row *ev;
	char *cause = NULL;
	size_t n, i;
	int64_t c = 0;

	assert_int_equal(
		store_session_events(f->db, session_id, &ev, &n, &cause), 0);
	for (i = 0; i < n; i++)
		c += strcmp(event_kind_name(ev[i].kind), kind) == 0;
	db_events_free(ev, n);
	return c;
}

static int64_t
milestone(struct fx *f, const char *name, const char *mode)
{
	struct db_milestone m = {0};
	char *cause = NULL;
	int64_t id;
	int existed;

	m.name = xstrdup(name);
	m.session_mode = xstrdup(mode);
	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(
		store_milestone_insert(f->db, &m, T0, &existed, &cause), 0);
	assert_int_equal(store_commit(f->db, &cause), 0);
	id = m.id;
	db_milestone_release(&m);
	return id;
}

static int
has_note(const struct session_choice *sc, const char *needle)
{
	size_t i;

	for (i = 0; i < sc->notes.n; i++) {
		if (strstr(sc->notes.v[i], needle) != NULL)
			return 1;
	}
	return 0;
}

/* ---- S2 selection ---- */

static void
test_named_created_then_reused(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "foo"};
	struct session_choice s1, s2;
	struct db_session s = {0};
	char *cause = NULL;

	assert_int_equal(pick(f, &a, T0, &s1, &cause), 0);
	assert_true(s1.created);
	assert_false(s1.temp);
	assert_string_equal(s1.agent, "shell");
	assert_int_equal(pick(f, &a, T0 + 1000, &s2, &cause), 0);
	assert_false(s2.created);
	assert_string_equal(s1.id, s2.id);
	get(f, s1.id, &s);
	assert_string_equal(session_kind_name(s.kind), "named");
	assert_string_equal(s.name, "foo");
	assert_string_equal(s.project, f->work);
	assert_int_equal(s.last_used_at, T0 + 1000); /* every use touches */
	assert_int_equal(count(f, "create", s1.id), 1);
	assert_int_equal(count(f, "resume", s1.id), 1);
	db_session_release(&s);
	session_choice_release(&s1);
	session_choice_release(&s2);
}

static void
test_uuid_becomes_id(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "0e9c7a9a-1b2c-4d3e-8f40-123456789abc"};
	struct session_choice sc;
	struct db_session s = {0};
	char *cause = NULL;

	assert_int_equal(pick(f, &a, T0, &sc, &cause), 0);
	assert_string_equal(sc.id, a.session);
	get(f, sc.id, &s);
	assert_string_equal(session_kind_name(s.kind), "named");
	assert_null(s.name);
	db_session_release(&s);
	session_choice_release(&sc);
}

static void
test_temp_milestone_per_task(void **state)
{
	struct fx *f = *state;
	int64_t shared = milestone(f, "m", "shared");
	int64_t per = milestone(f, "p", "per-task");
	struct ask temp = {0}, m = {.milestone_id = shared};
	struct ask mnew = {.milestone_id = shared, .new_session = 1};
	struct ask p = {.milestone_id = per};
	struct session_choice a, b, c, d, e;
	struct db_milestone ms = {0};
	struct db_session s = {0};
	char *cause = NULL;
	int found;

	assert_int_equal(pick(f, &temp, T0, &a, &cause), 0);
	assert_true(a.temp && a.created);
	assert_int_equal(pick(f, &m, T0, &b, &cause), 0);
	assert_true(b.created);
	assert_false(b.temp);
	get(f, b.id, &s);
	assert_string_equal(session_kind_name(s.kind), "milestone");
	assert_int_equal(s.milestone_id, shared);
	assert_int_equal(
		store_milestone_get_id(f->db, shared, &ms, &found, &cause), 0);
	assert_string_equal(ms.session_id, b.id);
	assert_int_equal(pick(f, &m, T0, &c, &cause), 0);
	assert_string_equal(c.id, b.id);
	assert_false(c.created);
	assert_int_equal(pick(f, &mnew, T0, &d, &cause), 0);
	assert_true(d.temp);
	assert_string_not_equal(d.id, b.id);
	assert_int_equal(pick(f, &p, T0, &e, &cause), 0);
	assert_true(e.temp);
	db_milestone_release(&ms);
	db_session_release(&s);
	session_choice_release(&a);
	session_choice_release(&b);
	session_choice_release(&c);
	session_choice_release(&d);
	session_choice_release(&e);
}

/* ---- S8 init never wipes ---- */

static void
test_init_keeps_state(void **state)
{
	struct fx *f = *state;
	struct session_init in = {.ref = "foo", .workdir = f->work};
	struct session_choice a, b, c;
	struct db_session s = {0};
	struct db_chain_link *chain;
	size_t n;
	char *cause = NULL, fork[] = "11111111-2222-4333-8444-555555555555";

	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(session_ensure(&f->t.b, f->db, &in, T0, &a, &cause),
			 0);
	assert_true(a.created);
	assert_int_equal(store_session_push_head(f->db, a.id, 0, a.id,
						 EDGE_FIRST, 0, T0, &cause),
			 0);
	assert_int_equal(store_session_push_head(f->db, a.id, 0, fork,
						 EDGE_FORK, 0, T0, &cause),
			 0);
	assert_int_equal(store_session_add_usage(f->db, a.id, 0, 1, 5, 7, 1, 2,
						 0.5, T0, &cause),
			 0);
	assert_int_equal(store_session_resume_failed(f->db, a.id, 0, 3, &cause),
			 0);
	assert_int_equal(store_commit(f->db, &cause), 0);

	/* by name, by UUID (upper case), with other pins: all "exists" */
	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(
		session_ensure(&f->t.b, f->db, &in, T0 + 5, &b, &cause), 0);
	assert_false(b.created);
	in.ref = a.id;
	in.agent = "claude";
	assert_int_equal(
		session_ensure(&f->t.b, f->db, &in, T0 + 6, &c, &cause), 0);
	assert_int_equal(store_commit(f->db, &cause), 0);
	assert_false(c.created);
	assert_string_equal(c.id, a.id);
	assert_true(has_note(&c, "pinned to agent shell"));

	get(f, a.id, &s);
	assert_int_equal(s.turns, 1);
	assert_int_equal(s.input_tokens, 5);
	assert_int_equal(s.output_tokens, 7);
	assert_int_equal(s.resume_failures, 1);
	assert_string_equal(s.head, fork);
	assert_string_equal(s.agent, "shell");
	assert_int_equal(s.last_used_at, T0 + 6);
	assert_int_equal(store_session_chain(f->db, a.id, &chain, &n, &cause),
			 0);
	assert_int_equal(n, 2);
	db_chain_free(chain, n);
	db_session_release(&s);
	session_choice_release(&a);
	session_choice_release(&b);
	session_choice_release(&c);
}

/* ---- S9 pins ---- */

static void
test_pins_and_force(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "foo", .agent = "claude"};
	struct ask b = {.session = "foo", .agent = "codex"};
	struct ask c = {.session = "foo", .agent = "codex", .force_agent = 1};
	struct session_choice x, y, z;
	struct db_session s = {0};
	char *cause = NULL;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	assert_string_equal(x.agent, "claude");
	assert_string_equal(x.model, "sonnet"); /* the profile's model */
	assert_int_equal(pick(f, &b, T0, &y, &cause), 0);
	assert_string_equal(y.agent, "claude");
	assert_string_equal(y.model, "sonnet");
	assert_true(has_note(&y, "pinned to agent claude, model sonnet"));
	assert_int_equal(count(f, "repin", x.id), 0);
	assert_int_equal(pick(f, &c, T0, &z, &cause), 0);
	assert_string_equal(z.agent, "codex");
	assert_null(z.model); /* codex's profile has none */
	assert_true(has_note(&z, "re-pinned"));
	get(f, x.id, &s);
	assert_string_equal(s.agent, "codex");
	assert_null(s.model);
	assert_int_equal(count(f, "repin", x.id), 1);
	db_session_release(&s);
	session_choice_release(&x);
	session_choice_release(&y);
	session_choice_release(&z);
}

/* ---- S10 expiry ---- */

static void
test_expiry_successor(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "foo"};
	struct session_choice x, y, z;
	struct db_session s = {0};
	char *cause = NULL;
	int64_t ttl = f->t.cfg.sessions.ttl_ms;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	/* at exactly the TTL it is still alive */
	assert_int_equal(pick(f, &a, T0 + ttl, &y, &cause), 0);
	assert_string_equal(y.id, x.id);
	session_choice_release(&y);
	assert_int_equal(pick(f, &a, T0 + 2 * ttl + 1, &y, &cause), 0);
	assert_string_not_equal(y.id, x.id);
	assert_true(y.created);
	assert_true(has_note(&y, "expired"));
	assert_true(has_note(&y, y.id));
	get(f, x.id, &s);
	assert_string_equal(session_status_name(s.status), "expired");
	db_session_release(&s);
	get(f, y.id, &s);
	assert_string_equal(s.name, "foo");
	assert_string_equal(s.predecessor, x.id);
	assert_int_equal(count(f, "expire", x.id), 1);
	/* the successor is the one the name finds now */
	assert_int_equal(pick(f, &a, T0 + 2 * ttl + 2, &z, &cause), 0);
	assert_string_equal(z.id, y.id);
	db_session_release(&s);
	session_choice_release(&x);
	session_choice_release(&y);
	session_choice_release(&z);
}

static void
test_uuid_expiry_follows_successor(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "0e9c7a9a-1b2c-4d3e-8f40-123456789abc"};
	struct session_choice x, y, z;
	int64_t ttl = f->t.cfg.sessions.ttl_ms;
	char *cause = NULL;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	assert_int_equal(pick(f, &a, T0 + 2 * ttl, &y, &cause), 0);
	assert_string_not_equal(y.id, x.id);
	assert_true(has_note(&y, "expired"));
	/* the UUID now leads to the successor, not to a new one each time */
	assert_int_equal(pick(f, &a, T0 + 2 * ttl + 1, &z, &cause), 0);
	assert_string_equal(z.id, y.id);
	assert_false(z.created);
	session_choice_release(&x);
	session_choice_release(&y);
	session_choice_release(&z);
}

static void
test_leased_never_expires(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "foo"};
	struct session_choice x, y;
	char *cause = NULL;
	int64_t ttl = f->t.cfg.sessions.ttl_ms, holder, ep;
	int got;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(store_session_lease(f->db, x.id, f->t.b.runner_id, 1,
					     T0, T0 + 3 * ttl, &got, &holder,
					     &ep, &cause),
			 0);
	assert_int_equal(store_commit(f->db, &cause), 0);
	assert_true(got);
	assert_int_equal(pick(f, &a, T0 + 2 * ttl, &y, &cause), 0);
	assert_string_equal(y.id, x.id);
	session_choice_release(&x);
	session_choice_release(&y);
}

static void
test_expired_milestone_session(void **state)
{
	struct fx *f = *state;
	int64_t ms = milestone(f, "m", "shared");
	struct ask a = {.milestone_id = ms};
	struct session_choice x, y;
	struct db_milestone m = {0};
	struct db_session s = {0};
	char *cause = NULL;
	int found;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	/* expired by gc, not on use: still replaced, predecessor kept */
	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(store_session_set_status(f->db, x.id, SESSION_EXPIRED,
						  T0 + 1, &cause),
			 0);
	assert_int_equal(store_commit(f->db, &cause), 0);
	assert_int_equal(pick(f, &a, T0 + 2, &y, &cause), 0);
	assert_string_not_equal(y.id, x.id);
	assert_true(has_note(&y, "has expired"));
	get(f, y.id, &s);
	assert_string_equal(session_kind_name(s.kind), "milestone");
	assert_string_equal(s.predecessor, x.id);
	assert_int_equal(store_milestone_get_id(f->db, ms, &m, &found, &cause),
			 0);
	assert_string_equal(m.session_id, y.id);
	db_milestone_release(&m);
	db_session_release(&s);
	session_choice_release(&x);
	session_choice_release(&y);
}

/* ---- S11 capacity ---- */

static void
test_capacity(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "a"}, b = {.session = "b"};
	struct ask c = {.session = "c"}, temp = {0};
	struct session_choice x, y, z;
	char *cause = NULL;
	int already;
	struct db_session s = {0};

	f->t.cfg.sessions.max_active = 2;
	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	session_choice_release(&x);
	assert_int_equal(pick(f, &b, T0, &x, &cause), 0);
	session_choice_release(&x);
	assert_int_equal(pick(f, &c, T0, &y, &cause), -BERR_FAIL);
	assert_non_null(strstr(cause, "sessions.max_active is 2"));
	assert_null(y.id);
	free(cause);
	cause = NULL;
	assert_int_equal(pick(f, &temp, T0, &y, &cause), -BERR_FAIL);
	free(cause);
	cause = NULL;
	/* reuse never counts */
	assert_int_equal(pick(f, &a, T0, &y, &cause), 0);
	session_choice_release(&y);
	/* closing makes room */
	assert_int_equal(session_close(&f->t.b, "b", T0, &already, &s, &cause),
			 0);
	assert_false(already);
	assert_string_equal(session_status_name(s.status), "closed");
	assert_int_equal(pick(f, &c, T0, &z, &cause), 0);
	assert_true(z.created);
	db_session_release(&s);
	session_choice_release(&z);
}

/* ---- S12 isolation ---- */

static void
test_isolation(void **state)
{
	struct fx *f = *state;
	struct ask here = {.session = "foo"};
	struct ask there = {.session = "foo", .workdir = f->other};
	struct ask allowed = {
		.session = "foo", .workdir = f->other, .allow_foreign = 1};
	struct session_choice x, y;
	char *cause = NULL;

	assert_int_equal(pick(f, &here, T0, &x, &cause), 0);
	assert_int_equal(pick(f, &there, T0, &y, &cause), -BERR_FAIL);
	assert_non_null(strstr(cause, f->work));
	assert_non_null(strstr(cause, f->other));
	assert_non_null(strstr(cause, "--allow-foreign-session"));
	free(cause);
	cause = NULL;
	/* a refused request changes nothing, not even an expiry */
	assert_int_equal(
		pick(f, &there, T0 + 3 * f->t.cfg.sessions.ttl_ms, &y, &cause),
		-BERR_FAIL);
	free(cause);
	cause = NULL;
	assert_int_equal(count(f, "expire", x.id), 0);
	assert_int_equal(pick(f, &allowed, T0, &y, &cause), 0);
	assert_string_equal(y.id, x.id);
	assert_true(has_note(&y, "used anyway"));
	assert_int_equal(count(f, "foreign", x.id), 1);
	session_choice_release(&x);
	session_choice_release(&y);
}

static void
test_isolation_user(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "foo"};
	struct session_choice x, y;
	struct db_session s = {0};
	char *cause = NULL;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	get(f, x.id, &s);
	/* re-insert the same session as someone else's */
	free(s.os_user);
	s.os_user = xstrdup("mallory");
	free(s.id);
	s.id = xstrdup("22222222-2222-4222-8222-222222222222");
	free(s.name);
	s.name = xstrdup("bar");
	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(store_session_insert(f->db, &s, &cause), 0);
	assert_int_equal(store_commit(f->db, &cause), 0);
	a.session = "bar";
	assert_int_equal(pick(f, &a, T0, &y, &cause), -BERR_FAIL);
	assert_non_null(strstr(cause, "belongs to user mallory"));
	free(cause);
	db_session_release(&s);
	session_choice_release(&x);
}

/* ---- reset, close, lookup, gc ---- */

static void
test_reset(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "foo", .agent = "claude"};
	struct session_choice x;
	struct db_session s = {0};
	struct db_chain_link *chain;
	size_t n;
	char *cause = NULL;
	int64_t holder, ep;
	int got;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(store_session_push_head(f->db, x.id, 0, x.id,
						 EDGE_FIRST, 0, T0, &cause),
			 0);
	assert_int_equal(store_session_add_usage(f->db, x.id, 0, 1, 5, 7, 1, 2,
						 0.5, T0, &cause),
			 0);
	assert_int_equal(store_session_resume_failed(f->db, x.id, 0, 1, &cause),
			 0);
	assert_int_equal(store_commit(f->db, &cause), 0);
	/* in use: refused */
	assert_int_equal(store_session_lease(f->db, x.id, f->t.b.runner_id, 9,
					     T0, T0 + HOUR, &got, &holder, &ep,
					     &cause),
			 0);
	assert_int_equal(session_reset(&f->t.b, "foo", T0 + 1, &s, &cause),
			 -BERR_FAIL);
	assert_non_null(strstr(cause, "task 9 is using it"));
	free(cause);
	cause = NULL;
	db_session_release(&s);
	assert_int_equal(store_session_unlease(f->db, x.id, 0, 0, &cause), 0);
	assert_int_equal(session_reset(&f->t.b, "foo", T0 + 1, &s, &cause), 0);
	assert_string_equal(s.id, x.id);
	assert_string_equal(s.name, "foo");
	assert_string_equal(s.agent, "claude");
	assert_string_equal(session_status_name(s.status), "active");
	assert_null(s.head);
	assert_int_equal(s.turns, 0);
	assert_int_equal(s.input_tokens + s.output_tokens, 0);
	assert_int_equal(s.resume_failures, 0);
	assert_true(s.resumable);
	assert_string_equal(s.metadata, "{}");
	assert_int_equal(store_session_chain(f->db, x.id, &chain, &n, &cause),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(count(f, "reset", x.id), 1);
	db_session_release(&s);
	session_choice_release(&x);
}

static void
test_close_and_lookup(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "foo"};
	struct session_choice x, y;
	struct db_session s = {0}, t = {0};
	char *cause = NULL;
	int already;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	assert_int_equal(session_lookup(f->db, "foo", &s, &cause), 0);
	assert_string_equal(s.id, x.id);
	db_session_release(&s);
	assert_int_equal(session_lookup(f->db, x.id, &s, &cause), 0);
	db_session_release(&s);
	{
		char prefix[9];

		memcpy(prefix, x.id, 8);
		prefix[8] = '\0';
		assert_int_equal(session_lookup(f->db, prefix, &s, &cause), 0);
		assert_string_equal(s.id, x.id);
		db_session_release(&s);
	}
	assert_int_equal(session_lookup(f->db, "nosuch", &s, &cause),
			 -BERR_USAGE);
	free(cause);
	cause = NULL;

	assert_int_equal(
		session_close(&f->t.b, "foo", T0, &already, &s, &cause), 0);
	assert_false(already);
	assert_int_equal(session_close(&f->t.b, x.id, T0, &already, &t, &cause),
			 0);
	assert_true(already);
	assert_int_equal(count(f, "close", x.id), 1);
	/* the name is free again: a new session, told to the user */
	assert_int_equal(pick(f, &a, T0 + 1, &y, &cause), 0);
	assert_string_not_equal(y.id, x.id);
	assert_true(has_note(&y, "is closed"));
	/* the name now finds the new one; the old id stays closed */
	db_session_release(&s);
	assert_int_equal(session_lookup(f->db, "foo", &s, &cause), 0);
	assert_string_equal(s.id, y.id);
	session_choice_release(&y);
	a.session = x.id;
	assert_int_equal(pick(f, &a, T0 + 2, &y, &cause), -BERR_FAIL);
	assert_non_null(strstr(cause, "is closed"));
	free(cause);
	db_session_release(&s);
	db_session_release(&t);
	session_choice_release(&x);
}

static void
test_ambiguous_prefix(void **state)
{
	struct fx *f = *state;
	struct ask a = {.session = "abcd0000-0000-4000-8000-000000000001"};
	struct ask b = {.session = "abcd0000-0000-4000-8000-000000000002"};
	struct session_choice x, y;
	struct db_session s = {0};
	char *cause = NULL;

	assert_int_equal(pick(f, &a, T0, &x, &cause), 0);
	assert_int_equal(pick(f, &b, T0, &y, &cause), 0);
	assert_int_equal(session_lookup(f->db, "ABCD", &s, &cause),
			 -BERR_USAGE);
	assert_non_null(strstr(cause, "ambiguous"));
	free(cause);
	assert_int_equal(session_lookup(f->db, "abcd0000-0000-4000-8000-00000",
					&s, &cause),
			 -BERR_USAGE);
	free(cause);
	session_choice_release(&x);
	session_choice_release(&y);
}

struct seen {
	int expired, pruned;
};

static void
on_gc(void *arg, const char *action, const struct db_session *s)
{
	struct seen *n = arg;

	(void)s;
	if (strcmp(action, "expire") == 0)
		n->expired++;
	else
		n->pruned++;
}

static void
test_gc(void **state)
{
	struct fx *f = *state;
	struct ask idle = {.session = "idle"}, ended = {.session = "ended"};
	struct ask busy = {.session = "busy"};
	struct session_choice x, y, z;
	struct db_session s = {0};
	struct seen n = {0};
	char *cause = NULL, *dir;
	int64_t ttl = f->t.cfg.sessions.ttl_ms, holder, ep;
	int64_t ret = f->t.cfg.sessions.retention_ms, later;
	struct strvec warnings;
	int already, got, found;

	assert_int_equal(pick(f, &idle, T0, &x, &cause), 0);
	assert_int_equal(pick(f, &ended, T0, &y, &cause), 0);
	assert_int_equal(pick(f, &busy, T0, &z, &cause), 0);
	later = T0 + ret + ttl + 10;
	assert_int_equal(
		session_close(&f->t.b, "ended", T0 + 1, &already, &s, &cause),
		0);
	db_session_release(&s);
	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(store_session_lease(f->db, z.id, f->t.b.runner_id, 3,
					     T0, later + HOUR, &got, &holder,
					     &ep, &cause),
			 0);
	assert_int_equal(store_commit(f->db, &cause), 0);
	dir = xasprintf("%s/sessions/%s", f->t.dir, y.id);
	assert_int_equal(file_mkdir_p(dir, 0700), 0);

	/* a dry run changes nothing */
	strvec_init(&warnings);
	assert_int_equal(
		session_gc(&f->t.b, later, 1, on_gc, &n, &warnings, &cause), 0);
	assert_int_equal(n.expired, 1);
	assert_int_equal(n.pruned, 1);
	get(f, x.id, &s);
	assert_string_equal(session_status_name(s.status), "active");
	db_session_release(&s);

	memset(&n, 0, sizeof n);
	assert_int_equal(
		session_gc(&f->t.b, later, 0, on_gc, &n, &warnings, &cause), 0);
	assert_int_equal(warnings.n, 0);
	strvec_release(&warnings);
	assert_int_equal(n.expired, 1);
	assert_int_equal(n.pruned, 1);
	get(f, x.id, &s);
	assert_string_equal(session_status_name(s.status), "expired");
	db_session_release(&s);
	get(f, z.id, &s); /* in use: left alone */
	assert_string_equal(session_status_name(s.status), "active");
	db_session_release(&s);
	assert_int_equal(store_session_get(f->db, y.id, &s, &found, &cause), 0);
	assert_false(found);
	assert_int_equal(count(f, "prune", y.id), 1);
	assert_int_equal(access(dir, F_OK), -1); /* gc removed it */
	assert_int_equal(session_dir_remove(f->t.dir, y.id), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(session_dir_remove(f->t.dir, y.id), 0); /* again: ok */
	assert_int_equal(session_dir_remove(f->t.dir, "../x"), -1);
	free(dir);
	session_choice_release(&x);
	session_choice_release(&y);
	session_choice_release(&z);
}

/* ---- S3 nesting through the orchestrator, with a fake agent ---- */

struct call_log {
	char ids[8][37];
	int n;
};
/* The fake adapter has no context argument: one log per test process. */
static struct call_log calls;

static int
fake_argv(const struct agent_call *c, struct strvec *argv, char **cause)
{
	(void)cause;
	if (calls.n < 8)
		snprintf(calls.ids[calls.n++], 37, "%s", c->session_id);
	strvec_push(argv, "/bin/true");
	return 0;
}

static void
fake_result(const struct agent_call *c, const struct agent_exit *pr,
	    const char *out, const char *err, struct agent_result *r)
{
	(void)c;
	(void)out;
	(void)err;
	r->outcome = pr->exited && pr->exit_code == 0 ? AGENT_OK : AGENT_FAILED;
	r->num_turns = -1;
	r->duration_ms = -1;
}

static const struct agent_impl fake_impl = {
	.kind = AGENT_KIND_COMMAND, /* any kind: fake_find() ignores it */
	.accepts_session_id = 1,
	.build_argv = fake_argv,
	.parse_result = fake_result,
};

static const struct agent_impl *
fake_find(enum agent_kind kind)
{
	(void)kind;
	return &fake_impl;
}

static void
run_one(struct orch *o, int64_t want)
{
	struct orch_result res;
	char *cause = NULL;
	int64_t id;

	assert_int_equal(orch_claim(o, 0, &id, &cause), 0);
	assert_int_equal(id, want);
	assert_int_equal(orch_execute(o, id, &res, &cause), 0);
	assert_string_equal(task_status_name(res.status), "completed");
	orch_result_release(&res);
}

static void
test_scope_nesting(void **state)
{
	struct fx *f = *state;
	int64_t ms = milestone(f, "m", "shared");
	struct ask a = {.milestone_id = ms};
	struct ask b = {.milestone_id = ms, .new_session = 1};
	struct session_choice first;
	struct orch o;
	char *cause = NULL, *held;
	const struct agent_profile *p = config_agent(&f->t.cfg, "shell");

	/* the milestone's session exists (made by an earlier task); the
	 * orchestrator reads the clock, so no made-up times here */
	assert_int_equal(pick(f, &a, clock_now_ms(), &first, &cause), 0);
	assert_int_equal(store_begin(f->db, &cause), 0);
	assert_int_equal(store_task_finish(f->db, 1, 0, TASK_COMPLETED, 0, 0,
					   NULL, NULL, T0, &cause),
			 0);
	assert_int_equal(store_commit(f->db, &cause), 0);

	memset(&calls, 0, sizeof calls);
	orch_init(&o, &f->t.b, f->db);
	o.impl_find = fake_find;
	o.scope = xstrdup(first.id);
	add_task(f, &a); /* 2: on the milestone session */
	add_task(f, &b); /* 3: --new-session, a temp session */
	add_task(f, &a); /* 4: back on the milestone session */

	run_one(&o, 2);
	held = agent_get_session_id(orch_agent(&o, p));
	assert_string_equal(held, first.id);
	free(held);
	run_one(&o, 3);
	held = agent_get_session_id(orch_agent(&o, p));
	assert_string_equal(held, first.id); /* restored to the prior */
	free(held);
	run_one(&o, 4);
	assert_int_equal(calls.n, 3);
	assert_string_equal(calls.ids[0], first.id);
	assert_string_not_equal(calls.ids[1], first.id);
	assert_string_equal(calls.ids[2], first.id);
	held = agent_get_session_id(orch_agent(&o, p));
	assert_string_equal(held, first.id);
	free(held);
	orch_release(&o);

	/* with no prior, the agent is left with none (restored to none) */
	orch_init(&o, &f->t.b, f->db);
	o.impl_find = fake_find;
	add_task(f, &b);
	run_one(&o, 5);
	assert_null(agent_get_session_id(orch_agent(&o, p)));
	orch_release(&o);
	session_choice_release(&first);
}

int
main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_named_created_then_reused),
		T(test_uuid_becomes_id),
		T(test_temp_milestone_per_task),
		T(test_init_keeps_state),
		T(test_pins_and_force),
		T(test_expiry_successor),
		T(test_uuid_expiry_follows_successor),
		T(test_leased_never_expires),
		T(test_expired_milestone_session),
		T(test_capacity),
		T(test_isolation),
		T(test_isolation_user),
		T(test_reset),
		T(test_close_and_lookup),
		T(test_ambiguous_prefix),
		T(test_gc),
		T(test_scope_nesting),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
