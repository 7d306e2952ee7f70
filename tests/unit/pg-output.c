/*
 * Output kept in the database while a run goes (core/output.c on the
 * PostgreSQL store): after every write what is stored is what the end
 * of the run keeps of the stream so far (all of it up to the cap, else
 * head, marker, tail), never more than the cap; a follower reading from
 * where it got to sees every byte still kept once; a lost lease writes
 * nothing.  Needs a server: run by tests/cli/postgres.bats with
 * BATON_TEST_PG_URL set to a fresh database; skipped without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TEST_NAME "pg-output"
#include "test.h"

#include "core/output.h"
#include "lib/err.h"
#include "lib/strbuf.h"

#ifdef BATON_POSTGRES
static const char *
url(void)
{
	const char *u = getenv("BATON_TEST_PG_URL");

	if (u == NULL || *u == '\0')
		skip();
	return u;
}

/* A task (pending: its lease epoch is 0) and a run of it. */
static int64_t
new_run(struct store *db)
{
	struct db_task t = {0};
	struct db_run r = {0};
	char *cause = NULL;
	int64_t id;
	int existed;

	t.prompt = xstrdup("output");
	t.workdir = xstrdup("/tmp");
	t.project = xstrdup("/tmp");
	t.retries = -1;
	t.max_iterations = 1;
	t.max_attempts = 1;
	if (store_task_insert(db, &t, clock_now_ms(), &existed, &cause) != 0)
		fail_msg("%s", cause);
	r.task_id = t.id;
	r.attempt = r.iteration = 1;
	r.started_at = clock_now_ms();
	if (store_run_insert(db, &r, 0, &cause) != 0)
		fail_msg("%s", cause);
	db_task_release(&t);
	id = r.id;
	db_run_release(&r);
	return id;
}

/* What the end of a run keeps of the n bytes of s under max. */
static char *
capped(const char *s, size_t n, size_t max, size_t *len)
{
	struct strbuf sb;

	strbuf_init(&sb);
	if (n <= max)
		strbuf_add(&sb, s, n);
	else {
		strbuf_add(&sb, s, max / 2);
		strbuf_addf(&sb,
			    "\n[... %zu bytes of output not kept in the "
			    "database; the log file has them ...]\n",
			    n - max);
		strbuf_add(&sb, s + n - (max - max / 2), max - max / 2);
	}
	*len = sb.len;
	return strbuf_detach(&sb);
}

/* What is stored of run's stdout, read from 0, equals want; never more
 * than max bytes in the rows. */
static void
check_stored(struct store *db, int64_t run, const char *ref, size_t n,
	     size_t max)
{
	struct db_output_chunk *c = NULL;
	size_t nc = 0, i, sum = 0, len, wlen;
	char *cause = NULL, *data, *want;
	int64_t pos = 0;
	int found;

	assert_int_equal(store_run_output_get(db, run, "out", 0, &c, &nc,
					      &found, &cause),
			 0);
	assert_true(found);
	for (i = 0; i < nc; i++)
		sum += c[i].len;
	db_output_chunks_free(c, nc);
	assert_true(sum <= max);
	assert_int_equal(
		output_read(db, run, "out", &pos, &data, &len, &found, &cause),
		0);
	want = capped(ref, n, max, &wlen);
	assert_int_equal(len, wlen);
	assert_memory_equal(data, want, len);
	assert_int_equal(pos, (int64_t)n);
	free(want);
	free(data);
}

static void
one_cap(struct store *db, size_t max, unsigned seed)
{
	int64_t run = new_run(db), fpos = 0;
	struct output_writer *w = output_writer_new(db, run, 0, (int64_t)max);
	/* after the writer's own clock reading: "a second later" below is
	 * a second after its last write however slow this machine is */
	int64_t now = clock_mono_ms();
	struct strbuf ref;
	char *cause = NULL, *piece, *data;
	size_t k, len, plen;
	int found;

	assert_non_null(w);
	strbuf_init(&ref);
	srand(seed);
	for (k = 0; k < 60; k++) {
		plen = 1 + (size_t)rand() % 3000;
		piece = xmalloc(plen);
		for (len = 0; len < plen; len++)
			piece[len] = (char)(rand() & 0xff); /* NULs too */
		strbuf_add(&ref, piece, plen);
		assert_int_equal(output_add(w, 0, piece, plen, now, &cause), 0);
		free(piece);
		if (rand() % 3 != 0)
			continue;
		now += 1000; /* a second later: written */
		assert_int_equal(output_tick(w, now, &cause), 0);
		check_stored(db, run, ref.buf, ref.len, max);
		/* a follower sees up to the end of what is written */
		assert_int_equal(output_read(db, run, "out", &fpos, &data, &len,
					     &found, &cause),
				 0);
		assert_int_equal(fpos, (int64_t)ref.len);
		free(data);
	}
	/* the end, in the run's transaction */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(output_flush(w, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	output_done(w);
	check_stored(db, run, ref.buf, ref.len, max);
	output_writer_free(w);
	strbuf_release(&ref);
}

static void
test_capped_as_it_goes(void **state)
{
	struct store *db = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(store_open(&db, url(), NULL, &cause), 0);
	one_cap(db, 1000, 1);
	one_cap(db, 1001, 2);
	one_cap(db, 1, 3);
	one_cap(db, 1024 * 1024, 4); /* never over the cap */
	store_close(db);
}

/* Nothing printed: no statement, no row; much printed: written at once,
 * not a second later. */
static void
test_when_written(void **state)
{
	struct store *db = NULL;
	struct output_writer *w;
	struct db_output_chunk *c = NULL;
	char *cause = NULL, *big = xcalloc(1, 70 * 1024);
	int64_t run, now;
	size_t n = 0;
	int found;

	(void)state;
	assert_int_equal(store_open(&db, url(), NULL, &cause), 0);
	run = new_run(db);
	w = output_writer_new(db, run, 0, 1024 * 1024);
	now = clock_mono_ms() + 5000;
	assert_int_equal(output_tick(w, now, &cause), 0);
	assert_int_equal(
		store_run_output_get(db, run, "out", 0, &c, &n, &found, &cause),
		0);
	assert_true(found);
	assert_int_equal(n, 0);
	assert_int_equal(output_add(w, 1, "x", 1, now, &cause), 0);
	assert_int_equal(output_add(w, 1, big, 70 * 1024, now + 200, &cause),
			 0);
	assert_int_equal(
		store_run_output_get(db, run, "err", 0, &c, &n, &found, &cause),
		0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].len, 70 * 1024 + 1);
	db_output_chunks_free(c, n);
	output_writer_free(w);
	free(big);
	store_close(db);
}

/* A writer whose task's lease is not epoch writes nothing, then no more. */
static void
test_fenced(void **state)
{
	struct store *db = NULL;
	struct output_writer *w;
	struct db_output_chunk *c = NULL;
	char *cause = NULL;
	int64_t run, now = clock_mono_ms() + 5000;
	size_t n = 0;
	int found;

	(void)state;
	assert_int_equal(store_open(&db, url(), NULL, &cause), 0);
	run = new_run(db);
	w = output_writer_new(db, run, 7, 1000);
	assert_int_equal(output_add(w, 0, "hello\n", 6, now, &cause), 0);
	assert_int_equal(output_tick(w, now, &cause), -BERR_LEASE);
	free(cause);
	cause = NULL;
	assert_int_equal(output_add(w, 0, "more\n", 5, now + 2000, &cause), 0);
	assert_int_equal(output_tick(w, now + 4000, &cause), 0);
	assert_int_equal(
		store_run_output_get(db, run, "out", 0, &c, &n, &found, &cause),
		0);
	assert_int_equal(n, 0);
	output_writer_free(w);
	store_close(db);
}
#else
static void
test_capped_as_it_goes(void **state)
{
	(void)state;
	skip();
}

static void
test_when_written(void **state)
{
	(void)state;
	skip();
}

static void
test_fenced(void **state)
{
	(void)state;
	skip();
}
#endif

/* db/postgres/libpq.c: libpq is loaded, not linked */
int pq_load(char **cause);

int
main(void)
{
	char *cause = NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capped_as_it_goes),
		cmocka_unit_test(test_when_written),
		cmocka_unit_test(test_fenced),
	};

	if (pq_load(&cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
