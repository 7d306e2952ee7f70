/*
 * Fixtures shared by the unit tests: temporary directories, small files,
 * configurations, databases and a struct baton set up the way cmd/ sets
 * it up.  Include after <cmocka.h>; everything here is static inline, so
 * a test uses what it needs and nothing else is compiled in.  Each helper
 * asserts on its own failures: a fixture that fails fails the test.
 *
 * Define TEST_NAME (e.g. "t-db") before including it to name the
 * temporary directories after the suite.
 */
#ifndef BATON_TEST_H
#define BATON_TEST_H

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/baton.h"
#include "core/config.h"
#include "core/files.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/xmalloc.h"

#ifndef TEST_NAME
#define TEST_NAME "t-unit"
#endif

/* ---- directories ---- */

/*
 * A new empty directory under $TMPDIR (or /tmp), named after the suite;
 * its real path (no symlinks), which the caller frees.
 */
static inline char *
test_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/" TEST_NAME ".XXXXXX",
			       tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	char *dir;

	if (mkdtemp(tmpl) == NULL)
		fail_msg("mkdtemp %s: %s", tmpl, strerror(errno));
	dir = realpath(tmpl, NULL);
	assert_non_null(dir);
	free(tmpl);
	return dir;
}

static inline int
test_rmtree_unlock(const char *path, const struct stat *st, int type,
		   struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D || type == FTW_DNR)
		chmod(path, (st->st_mode & 07777) | S_IRWXU);
	return 0;
}

static inline int
test_rmtree_one(const char *path, const struct stat *st, int type,
		struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) == 0 ? 0 : -1;
	return unlink(path) == 0 ? 0 : -1;
}

/*
 * Remove dir and everything below it, also what a test left without
 * permissions; 0, or -1 if something could not be removed.
 */
static inline int
test_rmtree(const char *dir)
{
	/* first make every directory writable and searchable, top down */
	nftw(dir, test_rmtree_unlock, 16, FTW_PHYS);
	return nftw(dir, test_rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name, which the caller frees. */
static inline char *
test_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* cmocka setup and teardown: *state is a fresh directory (a char *). */
static inline int
test_tmpdir_setup(void **state)
{
	*state = test_tmpdir();
	return 0;
}

static inline int
test_tmpdir_teardown(void **state)
{
	int rc = test_rmtree(*state);

	free(*state);
	return rc;
}

/* ---- files ---- */

/* Write len bytes of buf as path (mode 0644 less the umask). */
static inline void
test_write_len(const char *path, const void *buf, size_t len)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Write the string text as path. */
static inline void
test_write(const char *path, const char *text)
{
	test_write_len(path, text, strlen(text));
}

/*
 * The whole of path (also /proc files, whose size is 0), NUL-terminated,
 * with its length in *len if len is not NULL; NULL (and a length of 0)
 * if it cannot be read.
 */
static inline char *
test_read(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0, cap;
	ssize_t n;
	int fd;

	if (len != NULL)
		*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return NULL;
	}
	cap = (size_t)st.st_size + 4096;
	buf = xmalloc(cap);
	for (;;) {
		if (got == cap - 1) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + got, cap - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if (len != NULL)
		*len = got;
	return buf;
}

/* ---- configuration and database ---- */

/* cfg from yaml (named "test.yaml" in messages), or the defaults if NULL. */
static inline void
test_config(struct config *cfg, const char *yaml)
{
	char *cause = NULL;

	if (yaml == NULL) {
		config_defaults(cfg);
		return;
	}
	if (config_load_string(cfg, "test.yaml", yaml, strlen(yaml), &cause) !=
	    0)
		fail_msg("config: %s", cause);
}

/* The database at path (or ":memory:"), opened with the default options. */
static inline struct store *
test_db(const char *path)
{
	struct store *db = NULL;
	char *cause = NULL;

	if (store_open(&db, path, NULL, &cause) != 0)
		fail_msg("db_open %s: %s", path, cause);
	return db;
}

/* Insert t at time now in a transaction of its own; t->id is set. */
static inline int64_t
test_insert_task(struct store *db, struct db_task *t, int64_t now)
{
	char *cause = NULL;
	int existed;

	assert_int_equal(store_begin(db, &cause), 0);
	if (store_task_insert(db, t, now, &existed, &cause) != 0)
		fail_msg("db_task_insert: %s", cause);
	assert_int_equal(store_commit(db, &cause), 0);
	return t->id;
}

/* Task id, which must exist, into *t (release it with db_task_release). */
static inline void
test_get_task(struct store *db, int64_t id, struct db_task *t)
{
	char *cause = NULL;
	int found = 0;

	assert_int_equal(store_task_get(db, id, t, &found, &cause), 0);
	if (!found)
		fail_msg("no task %lld", (long long)id);
}

/* Session id, which must exist, into *s (release: db_session_release). */
static inline void
test_get_session(struct store *db, const char *id, struct db_session *s)
{
	char *cause = NULL;
	int found = 0;

	assert_int_equal(store_session_get(db, id, s, &found, &cause), 0);
	if (!found)
		fail_msg("no session %s", id);
}

/* The number of links of session id's chain. */
static inline size_t
test_chain_len(struct store *db, const char *id)
{
	struct db_chain_link *chain = NULL;
	char *cause = NULL;
	size_t n = 0;

	assert_int_equal(store_session_chain(db, id, &chain, &n, &cause), 0);
	db_chain_free(chain, n);
	return n;
}

/* ---- a baton context ---- */

/*
 * What cmd/ sets up before a command runs: a configuration, a database
 * in a state directory of its own, a runner row for this process, and a
 * stop pipe (write to stop[1] to play a SIGTERM).
 */
struct test_baton {
	char *dir; /* the state directory, removed by test_baton_release() */
	struct config cfg;
	struct baton b;
	int stop[2];
};

/*
 * Set up tb with the configuration yaml (NULL: the defaults) and a runner
 * started at runner_started (ms since the epoch).
 */
static inline void
test_baton_init(struct test_baton *tb, const char *yaml, int64_t runner_started)
{
	struct db_runner r = {0};
	char *cause = NULL;

	memset(tb, 0, sizeof *tb);
	tb->dir = test_tmpdir();
	test_config(&tb->cfg, yaml);
	tb->b.cfg = &tb->cfg;
	tb->b.state_dir = xstrdup(tb->dir);
	tb->b.files_dir = xstrdup(tb->dir);
	tb->b.db_path = test_path(tb->dir, "baton.db");
	tb->b.db = test_db(tb->b.db_path);
	assert_int_equal(pipe(tb->stop), 0);
	tb->b.stop_fd = tb->stop[0];
	tb->b.stop_wfd = tb->stop[1];
	r.pid = getpid();
	r.host = (char *)"test";
	r.proc_start = 1;
	r.started_at = runner_started;
	assert_int_equal(store_begin(tb->b.db, &cause), 0);
	if (store_runner_insert(tb->b.db, &r, &tb->b.runner_id, &cause) != 0)
		fail_msg("db_runner_insert: %s", cause);
	assert_int_equal(store_commit(tb->b.db, &cause), 0);
}

/* Close and free what test_baton_init() made; 0, or -1 if the state
 * directory could not be removed. */
static inline int
test_baton_release(struct test_baton *tb)
{
	int rc;

	store_close(tb->b.db);
	config_release(&tb->cfg);
	if (tb->b.files_dir != NULL)
		files_session_dirs_drain(&tb->b);
	close(tb->stop[0]);
	close(tb->stop[1]);
	rc = test_rmtree(tb->dir);
	free(tb->b.db_path);
	free(tb->b.state_dir);
	free(tb->b.files_dir);
	free(tb->dir);
	return rc;
}

#endif
