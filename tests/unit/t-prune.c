/*
 * core/prune.c: batches (one write transaction each), what stays, the
 * dry run, files after rows, and directories left by an earlier prune.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utime.h>

#include <cmocka.h>

#define TEST_NAME "t-prune"
#include "tests/unit/test.h"

#include "core/prune.h"
#include "lib/file.h"

#define T0   ((int64_t)1700000000000)
#define HOUR ((int64_t)3600 * 1000)

/* A task added at now; with status != pending, run and ended at now,
 * with a log directory holding one file. */
static int64_t
task_at(struct test_baton *tb, enum task_status status, int64_t now)
{
	struct db_task t = {0};
	char *cause = NULL, *dir, *file;
	int64_t id, ep;

	t.prompt = (char *)"p";
	t.workdir = (char *)"/";
	t.project = (char *)"/";
	t.agent = (char *)"shell";
	id = test_insert_task(tb->b.db, &t, now);
	if (status == TASK_PENDING)
		return id;
	assert_int_equal(store_begin(tb->b.db, &cause), 0);
	assert_int_equal(store_task_start(tb->b.db, id, tb->b.runner_id, NULL,
					  NULL, NULL, now, &ep, &cause),
			 0);
	if (status != TASK_RUNNING)
		assert_int_equal(store_task_finish(tb->b.db, id, 0, status, 1,
						   0, NULL, NULL, now, &cause),
				 0);
	assert_int_equal(store_commit(tb->b.db, &cause), 0);
	dir = xasprintf("%s/logs/%lld", tb->dir, (long long)id);
	file = xasprintf("%s/1.out", dir);
	assert_int_equal(file_mkdir_p(dir, 0700), 0);
	test_write(file, "output\n");
	free(dir);
	free(file);
	return id;
}

static int
log_dir_exists(struct test_baton *tb, int64_t id)
{
	char *dir = xasprintf("%s/logs/%lld", tb->dir, (long long)id);
	int yes = access(dir, F_OK) == 0;

	free(dir);
	return yes;
}

static int
task_exists(struct test_baton *tb, int64_t id)
{
	char *cause = NULL;
	int yes = 0;

	assert_int_equal(store_task_exists(tb->b.db, id, &yes, &cause), 0);
	return yes;
}

/* 10 old finished tasks in batches of 3: 4 transactions, one a batch;
 * pending, running and recent ones stay, with their files. */
static void
test_batches(void **state)
{
	struct test_baton tb;
	struct prune_options opt = {.older_than_ms = HOUR, .batch = 3};
	struct prune_result r;
	static const enum task_status fin[] = {TASK_COMPLETED, TASK_FAILED,
					       TASK_CANCELLED, TASK_TIMED_OUT,
					       TASK_INTERRUPTED};
	struct strvec warnings;
	int64_t ids[10], pending, running, recent;
	uint64_t commits;
	char *cause = NULL;
	size_t i;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	for (i = 0; i < 10; i++)
		ids[i] = task_at(&tb, fin[i % 5], T0);
	pending = task_at(&tb, TASK_PENDING, T0);
	running = task_at(&tb, TASK_RUNNING, T0);
	recent = task_at(&tb, TASK_COMPLETED, T0 + 2 * HOUR);
	opt.now = T0 + 2 * HOUR + 1;
	strvec_init(&warnings);

	/* a dry run changes nothing and counts what would go */
	opt.dry_run = 1;
	commits = store_commits(tb.b.db);
	assert_int_equal(prune_run(&tb.b, tb.b.db, &opt, &r, &warnings, &cause),
			 0);
	assert_int_equal(store_commits(tb.b.db), commits);
	assert_int_equal(r.rows.tasks, 10);
	assert_int_equal(r.files.dirs, 10);
	assert_int_equal(r.transactions, 0);
	for (i = 0; i < 10; i++) {
		assert_true(task_exists(&tb, ids[i]));
		assert_true(log_dir_exists(&tb, ids[i]));
	}

	opt.dry_run = 0;
	assert_int_equal(prune_run(&tb.b, tb.b.db, &opt, &r, &warnings, &cause),
			 0);
	/* ceil(10 / 3) write transactions, and nothing else committed */
	assert_int_equal(store_commits(tb.b.db) - commits, 4);
	assert_int_equal(r.transactions, 4);
	assert_int_equal(r.rows.tasks, 10);
	assert_int_equal(r.files.files, 10);
	assert_int_equal(r.files.dirs, 10);
	assert_true(r.files.bytes > 0);
	assert_int_equal(warnings.n, 0);
	for (i = 0; i < 10; i++) {
		assert_false(task_exists(&tb, ids[i]));
		assert_false(log_dir_exists(&tb, ids[i]));
	}
	assert_true(task_exists(&tb, pending));
	assert_true(task_exists(&tb, running));
	assert_true(task_exists(&tb, recent));
	assert_true(log_dir_exists(&tb, running));
	assert_true(log_dir_exists(&tb, recent));

	/* again: nothing left to do, no transaction */
	commits = store_commits(tb.b.db);
	assert_int_equal(prune_run(&tb.b, tb.b.db, &opt, &r, &warnings, &cause),
			 0);
	assert_int_equal(store_commits(tb.b.db), commits);
	assert_false(prune_removed_any(&r));
	strvec_release(&warnings);
	assert_int_equal(test_baton_release(&tb), 0);
}

/* A new task after a prune of the newest ones never gets their ids. */
static void
test_ids_not_reused(void **state)
{
	struct test_baton tb;
	struct prune_options opt = {.older_than_ms = HOUR};
	struct prune_result r;
	struct strvec warnings;
	char *cause = NULL;
	int64_t last;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	task_at(&tb, TASK_COMPLETED, T0);
	last = task_at(&tb, TASK_COMPLETED, T0);
	opt.now = T0 + 2 * HOUR;
	strvec_init(&warnings);
	assert_int_equal(prune_run(&tb.b, tb.b.db, &opt, &r, &warnings, &cause),
			 0);
	assert_int_equal(r.rows.tasks, 2);
	assert_true(task_at(&tb, TASK_PENDING, T0) > last);
	strvec_release(&warnings);
	assert_int_equal(test_baton_release(&tb), 0);
}

/* Directories without a row: removed once older than the cut-off. */
static void
test_orphans(void **state)
{
	struct test_baton tb;
	struct prune_options opt = {.older_than_ms = HOUR};
	struct prune_result r;
	struct strvec warnings;
	struct utimbuf old = {.actime = (time_t)(T0 / 1000),
			      .modtime = (time_t)(T0 / 1000)};
	char *cause = NULL, *stale, *fresh, *other, *sess;
	char *res_stale, *res_fresh, *res_other;

	(void)state;
	test_baton_init(&tb, NULL, T0);
	/* results/: a $BATON_RESULT_FILE written after its run ended (by
	 * an agent's leftover child) */
	res_stale = xasprintf("%s/results/41.7.result", tb.dir);
	res_fresh = xasprintf("%s/results/42.8.result", tb.dir);
	res_other = xasprintf("%s/results/notes", tb.dir);
	assert_int_equal(file_mkdir_p(res_other, 0700), 0);
	test_write(res_stale, "{}");
	test_write(res_fresh, "{}");
	assert_int_equal(utime(res_stale, &old), 0);
	assert_int_equal(utime(res_other, &old), 0);
	stale = xasprintf("%s/logs/41", tb.dir);
	fresh = xasprintf("%s/logs/42", tb.dir);
	other = xasprintf("%s/logs/notes", tb.dir);
	sess = xasprintf("%s/sessions/01a23ae0-25c0-7e42-a725-2bfcd8b596d4",
			 tb.dir);
	assert_int_equal(file_mkdir_p(stale, 0700), 0);
	assert_int_equal(file_mkdir_p(fresh, 0700), 0);
	assert_int_equal(file_mkdir_p(other, 0700), 0);
	assert_int_equal(file_mkdir_p(sess, 0700), 0);
	assert_int_equal(utime(stale, &old), 0);
	assert_int_equal(utime(other, &old), 0);
	assert_int_equal(utime(sess, &old), 0);
	opt.now = clock_now_ms();
	strvec_init(&warnings);
	assert_int_equal(prune_run(&tb.b, tb.b.db, &opt, &r, &warnings, &cause),
			 0);
	assert_int_equal(r.orphans, 2);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(sess, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0); /* may be a new task's */
	assert_int_equal(access(other, F_OK), 0); /* not a task's */
	assert_int_equal(access(res_stale, F_OK), -1);
	assert_int_equal(access(res_fresh, F_OK), 0);
	assert_int_equal(access(res_other, F_OK), 0);
	free(res_stale);
	free(res_fresh);
	free(res_other);
	free(stale);
	free(fresh);
	free(other);
	free(sess);
	strvec_release(&warnings);
	assert_int_equal(test_baton_release(&tb), 0);
}

/* file_remove_tree never follows a symlink out of the tree. */
static void
test_remove_tree_symlink(void **state)
{
	char *dir = *state, *tree, *outside, *link, *keep;
	struct file_usage u = {0};

	tree = test_path(dir, "tree");
	outside = test_path(dir, "outside");
	link = test_path(tree, "link");
	keep = test_path(outside, "keep");
	assert_int_equal(file_mkdir_p(tree, 0700), 0);
	assert_int_equal(file_mkdir_p(outside, 0700), 0);
	test_write(keep, "x");
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(file_remove_tree(tree, 0, &u), 0);
	assert_int_equal(access(tree, F_OK), -1);
	assert_int_equal(access(keep, F_OK), 0);
	assert_int_equal(u.files, 1);
	assert_int_equal(u.dirs, 1);
	free(tree);
	free(outside);
	free(link);
	free(keep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_ids_not_reused),
		cmocka_unit_test(test_orphans),
		cmocka_unit_test_setup_teardown(test_remove_tree_symlink,
						test_tmpdir_setup,
						test_tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
