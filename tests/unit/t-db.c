/* Unit tests for db/db.c: opening, refusals, migrations, transactions. */

/* symlink(), setgroups() */
#define _DEFAULT_SOURCE
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

#include "core/baton.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/xmalloc.h"

#define TEST_NAME "t-db"
#include "tests/unit/test.h"
#include "db/sqlite/internal.h"

/* The SQLite engine's handle behind a store (this tests the engine). */
#define SQ(st) ((struct db *)(st))

#define NOBODY 65534

static const struct store_options fast = {.busy_timeout_ms = 200};

static int
file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int
side_exists(const char *path, const char *sfx)
{
	char *p = xasprintf("%s%s", path, sfx);
	int e = file_exists(p);

	free(p);
	return e;
}

static int
no_side_files(const char *path)
{
	return !side_exists(path, "-wal") && !side_exists(path, "-shm") &&
	       !side_exists(path, "-journal");
}

/* Runs SQL on a plain SQLite connection (creating the file). */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *h = NULL;
	char *err = NULL;

	if (sqlite3_open(path, &h) != SQLITE_OK)
		fail_msg("sqlite3_open %s: %s", path, sqlite3_errmsg(h));
	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(h);
}

static int64_t
query1(struct store *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(SQ(db)->h, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *
query1_text(struct store *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	char *v = NULL;

	assert_int_equal(sqlite3_prepare_v2(SQ(db)->h, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = db_col_text(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char sql_event[] =
	"INSERT INTO events (at, kind, detail) VALUES (?1, ?2, ?3)";

static int
add_event(struct store *db, const char *kind, const char *detail, char **cause)
{
	sqlite3_stmt *st;

	if ((st = db_stmt(SQ(db), sql_event, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_int64(st, 1, clock_now_ms());
	db_bind_text(st, 2, kind);
	db_bind_text(st, 3, detail);
	return db_step_done(SQ(db), st, "cannot record event", cause);
}

/* Expect db_open to refuse path with exactly "cannot open database P: msg". */
static void
expect_refusal(const char *path, const struct store_options *opts,
	       const char *msg)
{
	struct store *db = (struct store *)0x1;
	char *cause = NULL, *want;
	int rc;

	rc = store_open(&db, path, opts, &cause);
	want = xasprintf("cannot open database %s: %s", path, msg);
	if (rc != -BERR_DB || cause == NULL || strcmp(cause, want) != 0)
		fail_msg("rc %d, cause \"%s\", want \"%s\"", rc,
			 cause ? cause : "(null)", want);
	assert_null(db);
	free(want);
	free(cause);
}

/* A snapshot of a file: its bytes, size and mtime. */
struct snap {
	char *buf;
	size_t len;
	struct timespec mtime;
	mode_t mode;
};

static void
snap_take(struct snap *s, const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	s->mtime = st.st_mtim;
	s->mode = st.st_mode;
	s->buf = file_read(path, 1 << 24, &s->len);
	assert_non_null(s->buf);
}

static void
snap_same(struct snap *s, const char *path)
{
	struct snap now;

	snap_take(&now, path);
	assert_int_equal(now.len, s->len);
	assert_memory_equal(now.buf, s->buf, s->len);
	assert_true(now.mtime.tv_sec == s->mtime.tv_sec &&
		    now.mtime.tv_nsec == s->mtime.tv_nsec);
	assert_int_equal(now.mode, s->mode);
	free(now.buf);
	free(s->buf);
}

/* Options of the default path: its directory is created. */
static const struct store_options mkdir_opts = {.create_dir = 1};

static void
test_fresh(void **state)
{
	char *path = test_path(*state, "a/b/baton.db"), *cause = NULL, *mode;
	struct store *db = NULL;

	assert_int_equal(store_schema_version(), 7);
	assert_int_equal(store_open(&db, path, &mkdir_opts, &cause), 0);
	assert_null(cause);
	assert_non_null(db);
	assert_string_equal(store_path(db), path);
	assert_int_equal(query1(db, "PRAGMA user_version"), 7);
	assert_int_equal(query1(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(query1(db, "PRAGMA synchronous"), 1); /* NORMAL */
	assert_int_equal(query1(db, "PRAGMA busy_timeout"), 10000);
	mode = query1_text(db, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	assert_int_equal(query1(db, "SELECT count(*) FROM sqlite_schema WHERE "
				    "type = 'table' AND name IN ('tasks', "
				    "'runs', 'sessions', 'session_chain', "
				    "'runners', 'milestones', 'events')"),
			 7);
	assert_int_equal(store_commits(db), 0);
	store_close(db);
	store_close(NULL);
	free(path);
}

static void
test_options(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL;
	struct store_options o = {.synchronous_full = 1,
				  .busy_timeout_ms = 1234};
	struct store *db = NULL;

	assert_int_equal(store_open(&db, path, &o, &cause), 0);
	assert_int_equal(query1(db, "PRAGMA synchronous"), 2); /* FULL */
	assert_int_equal(query1(db, "PRAGMA busy_timeout"), 1234);
	store_close(db);
	free(path);
}

static void
test_memory(void **state)
{
	struct store *db = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(store_open(&db, ":memory:", NULL, &cause), 0);
	assert_int_equal(query1(db, "PRAGMA user_version"), 7);
	assert_int_equal(add_event(db, "x", NULL, &cause), 0);
	store_close(db);
}

static void
test_reopen(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL, *s;
	struct store *db = NULL;
	sqlite3_stmt *st;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(add_event(db, "create", "first", &cause), 0);
	assert_int_equal(add_event(db, "create", NULL, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(store_commits(db), 1);
	store_close(db);

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(query1(db, "SELECT count(*) FROM events"), 2);
	assert_int_equal(query1(db, "PRAGMA user_version"), 7);
	st = db_stmt(SQ(db), "SELECT detail FROM events ORDER BY id", &cause);
	assert_non_null(st);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	s = db_col_text(st, 0);
	assert_string_equal(s, "first");
	free(s);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_null(db_col_text(st, 0));
	sqlite3_reset(st);
	store_close(db);
	free(path);
}

static void
check_modes(void **state, mode_t mask, const char *sub)
{
	char *dir = test_path(*state, sub), *path, *cause = NULL, *p;
	static const char *const sfx[] = {"", "-wal", "-shm"};
	struct store *db = NULL;
	struct stat st;
	mode_t old;
	size_t i;

	path = xasprintf("%s/deeper/baton.db", dir);
	old = umask(mask);
	assert_int_equal(store_open(&db, path, &mkdir_opts, &cause), 0);
	assert_int_equal(add_event(db, "x", "y", &cause), 0);
	umask(old);
	/* With the connection open, -wal and -shm exist. */
	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		p = xasprintf("%s%s", path, sfx[i]);
		assert_int_equal(stat(p, &st), 0);
		if ((st.st_mode & 07777) != 0600)
			fail_msg("umask %03o: %s has mode %03o", (unsigned)mask,
				 p, (unsigned)(st.st_mode & 07777));
		free(p);
	}
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	p = xasprintf("%s/deeper", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	free(p);
	store_close(db);
	free(path);
	free(dir);
}

static void
test_modes(void **state)
{
	check_modes(state, 022, "u022");
	check_modes(state, 0, "u000");
	check_modes(state, 077, "u077");
	check_modes(state, 0277, "u277");
}

static void
test_existing_dir_kept(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL;
	struct store *db = NULL;
	struct stat st;

	/* baton does not chmod a directory it did not create. */
	assert_int_equal(chmod((char *)*state, 0755), 0);
	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(stat((char *)*state, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	store_close(db);
	free(path);
}

static void
test_refuse_directory(void **state)
{
	char *path = test_path(*state, "baton.db");

	assert_int_equal(mkdir(path, 0700), 0);
	expect_refusal(path, NULL, "is a directory");
	free(path);
}

static void
test_refuse_symlink(void **state)
{
	char *path = test_path(*state, "baton.db"),
	     *real = test_path(*state, "real.db");
	char *cause = NULL;
	struct store *db = NULL;

	assert_int_equal(store_open(&db, real, NULL, &cause), 0);
	store_close(db);
	assert_int_equal(symlink(real, path), 0);
	expect_refusal(path, NULL,
		       "is a symbolic link (refusing to follow it)");
	assert_true(no_side_files(path));
	assert_true(no_side_files(real));
	free(path);

	/* A dangling one: the target is not created. */
	path = test_path(*state, "dangling.db");
	free(real);
	real = test_path(*state, "target.db");
	assert_int_equal(symlink(real, path), 0);
	expect_refusal(path, NULL,
		       "is a symbolic link (refusing to follow it)");
	assert_false(file_exists(real));
	free(path);
	free(real);
}

static void
test_symlinked_parent_ok(void **state)
{
	char *dir = test_path(*state, "real"),
	     *link = test_path(*state, "link");
	char *path = test_path(*state, "link/baton.db"), *cause = NULL;
	struct store *db = NULL;

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	store_close(db);
	free(dir);
	free(link);
	free(path);
}

static void
test_refuse_not_a_db(void **state)
{
	char *path = test_path(*state, "baton.db");
	static const char text[] =
		"this is a text file, not a database at all, "
		"and it is long enough to have a header "
		"of one hundred bytes in it, really.\n";
	struct snap s;

	assert_int_equal(file_write(path, text, sizeof text - 1), 0);
	snap_take(&s, path);
	expect_refusal(path, NULL, "file is not a database");
	snap_same(&s, path);
	assert_true(no_side_files(path));

	/* Short garbage too. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(file_write(path, "hi\n", 3), 0);
	expect_refusal(path, NULL, "file is not a database");
	free(path);
}

static void
make_db(const char *path)
{
	struct store *db = NULL;
	char *cause = NULL;
	int i;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(store_begin(db, &cause), 0);
	for (i = 0; i < 500; i++)
		assert_int_equal(
			add_event(db, "fill", "some detail text", &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	store_close(db);
	assert_true(no_side_files(path));
}

/* Overwrite [from, to) of a file with a garbage pattern. */
static void
scribble(const char *path, off_t from, off_t to)
{
	struct stat st;
	char buf[512];
	int fd;
	off_t o;
	size_t n;

	memset(buf, 0xa5, sizeof buf);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	if (to < 0 || to > st.st_size)
		to = st.st_size;
	for (o = from; o < to; o += (off_t)n) {
		n = (size_t)(to - o) < sizeof buf ? (size_t)(to - o)
						  : sizeof buf;
		assert_int_equal(pwrite(fd, buf, n, o), (ssize_t)n);
	}
	close(fd);
}

static void
test_refuse_corrupt(void **state)
{
	char *path = test_path(*state, "baton.db");
	struct snap s;

	/* The header survives, everything after it is garbage. */
	make_db(path);
	scribble(path, 100, -1);
	snap_take(&s, path);
	expect_refusal(path, NULL, "database disk image is malformed");
	snap_same(&s, path);
	assert_true(no_side_files(path));

	/* Page 1 survives, the pages after it are garbage. */
	assert_int_equal(unlink(path), 0);
	make_db(path);
	scribble(path, 4096, -1);
	expect_refusal(path, NULL, "database disk image is malformed");

	/* Cut off inside the header. */
	assert_int_equal(unlink(path), 0);
	make_db(path);
	assert_int_equal(truncate(path, 50), 0);
	expect_refusal(path, NULL, "database disk image is malformed");
	free(path);
}

static void
test_integrity(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL,
	     *report = NULL;
	struct store *db = NULL;
	int ok = 0;

	make_db(path);
	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(store_integrity_check(db, &ok, &report, &cause), 0);
	assert_int_equal(ok, 1);
	assert_null(report);
	store_close(db);
	free(path);
}

static void
check_newer(void **state, const char *journal)
{
	char *path = test_path(*state, "newer.db"), *sql, *want;
	struct snap s;

	sql = xasprintf("PRAGMA journal_mode = %s; CREATE TABLE t (x);"
			"INSERT INTO t VALUES (1); PRAGMA user_version = 8;",
			journal);
	raw_exec(path, sql);
	free(sql);
	assert_true(no_side_files(path));
	snap_take(&s, path);
	want = xasprintf("it was written by a newer baton (schema 8, this "
			 "baton knows %d)",
			 store_schema_version());
	expect_refusal(path, NULL, want);
	snap_same(&s, path);
	assert_true(no_side_files(path));
	free(want);
	assert_int_equal(unlink(path), 0);
	free(path);
}

static void
test_refuse_newer(void **state)
{
	check_newer(state, "WAL");
	check_newer(state, "DELETE");
}

/*
 * A child process that runs sql on path and holds whatever lock it took
 * until release() is called.
 */
struct holder {
	pid_t pid;
	int release_fd;
};

static void
hold(struct holder *hd, const char *path, const char *sql)
{
	int ready[2], rel[2];
	sqlite3 *h = NULL;
	char c;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(rel), 0);
	hd->pid = fork();
	assert_true(hd->pid >= 0);
	if (hd->pid == 0) {
		close(ready[0]);
		close(rel[1]);
		if (sqlite3_open(path, &h) != SQLITE_OK ||
		    sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "holder: %s\n", sqlite3_errmsg(h));
			_exit(1);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(rel[0], &c, 1) == -1 && errno == EINTR)
			;
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(h);
		_exit(0);
	}
	close(ready[1]);
	close(rel[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	hd->release_fd = rel[1];
}

static void
release(struct holder *hd)
{
	int status;

	close(hd->release_fd);
	assert_int_equal(waitpid(hd->pid, &status, 0), hd->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * SPEC §5: a reader's snapshot keeps the log from being checkpointed
 * (store_wal says so, and waits for nobody); once it is gone a TRUNCATE
 * checkpoint empties the log.  A checkpointed log is cut back to
 * journal_size_limit.
 */
static void
test_wal_checkpoint(void **state)
{
	char *path = test_path(*state, "wal.db"), *cause = NULL;
	char *big = xmalloc(4001);
	struct store *db = NULL;
	struct store_wal w;
	struct holder hd;
	int i;

	memset(big, 'x', 4000);
	big[4000] = '\0';
	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(query1(db, "PRAGMA journal_size_limit"), 67108864);
	for (i = 0; i < 20; i++)
		assert_int_equal(add_event(db, "x", big, &cause), 0);
	hold(&hd, path, "BEGIN; SELECT count(*) FROM events");
	for (i = 0; i < 300; i++)
		assert_int_equal(add_event(db, "y", big, &cause), 0);

	assert_int_equal(store_wal(db, STORE_CKPT_NONE, &w, &cause), 0);
	assert_true(w.bytes > 1024 * 1024);
	assert_int_equal(w.frames, -1);
	assert_int_equal(w.busy, 0);
	assert_int_equal(store_wal(db, STORE_CKPT_PASSIVE, &w, &cause), 0);
	assert_int_equal(w.busy, 1);
	assert_true(w.frames > w.checkpointed);
	assert_true(w.checkpointed >= 0);
	assert_int_equal(store_wal(db, STORE_CKPT_TRUNCATE, &w, &cause), 0);
	assert_int_equal(w.busy, 1);
	assert_true(w.bytes > 1024 * 1024);

	release(&hd);
	assert_int_equal(store_wal(db, STORE_CKPT_TRUNCATE, &w, &cause), 0);
	assert_int_equal(w.busy, 0);
	assert_int_equal(w.bytes, 0);
	assert_int_equal(w.frames, 0);
	/* and the store goes on writing */
	assert_int_equal(add_event(db, "z", "after", &cause), 0);
	store_close(db);
	free(big);
	free(path);
}

static void
test_refuse_locked(void **state)
{
	char *path = test_path(*state, "baton.db"),
	     *old = test_path(*state, "old.db");
	char *cause = NULL;
	struct holder hd;
	struct store *db = NULL;
	int64_t t0, dt;

	/* An exclusive lock keeps even readers out. */
	make_db(path);
	hold(&hd, path, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE");
	t0 = clock_mono_ms();
	expect_refusal(path, &fast, "database is locked (waited 200ms)");
	dt = clock_mono_ms() - t0;
	assert_true(dt >= 150 && dt < 5000);
	release(&hd);

	/* An old database needs a write to migrate. */
	raw_exec(old, "PRAGMA journal_mode = WAL; CREATE TABLE legacy (x)");
	hold(&hd, old, "BEGIN IMMEDIATE; INSERT INTO legacy VALUES (1)");
	expect_refusal(old, &fast, "database is locked (waited 200ms)");
	release(&hd);
	assert_int_equal(store_open(&db, old, &fast, &cause), 0);
	assert_int_equal(query1(db, "PRAGMA user_version"), 7);
	store_close(db);

	/* A write lock held past the timeout fails db_begin clearly. */
	assert_int_equal(store_open(&db, path, &fast, &cause), 0);
	hold(&hd, path, "BEGIN IMMEDIATE");
	assert_int_equal(store_begin(db, &cause), -BERR_DB);
	assert_string_equal(cause, "cannot begin transaction: database is "
				   "locked (waited 200ms)");
	free(cause);
	cause = NULL;
	release(&hd);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	store_close(db);
	free(path);
	free(old);
}

/*
 * Run fn as an unprivileged user in a child (root ignores file modes).
 * fn returns NULL or a failure message.
 */
static void
unprivileged(const char *dir, const char *(*fn)(const char *))
{
	const char *err;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0) {
			if (chown(dir, NOBODY, NOBODY) != 0 ||
			    setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 ||
			    setuid(NOBODY) != 0) {
				perror("dropping privileges");
				_exit(2);
			}
		}
		err = fn(dir);
		if (err != NULL) {
			fprintf(stderr, "unprivileged: %s\n", err);
			_exit(1);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static const char *
refused_with(const char *path, const struct store_options *opts,
	     const char *msg)
{
	static char buf[512];
	struct store *db = NULL;
	char *cause = NULL, *want;
	int rc;

	rc = store_open(&db, path, opts, &cause);
	want = xasprintf("cannot open database %s: %s", path, msg);
	if (rc != -BERR_DB || cause == NULL || strcmp(cause, want) != 0) {
		snprintf(buf, sizeof buf, "rc %d, cause \"%s\", want \"%s\"",
			 rc, cause ? cause : "(null)", want);
		free(want);
		free(cause);
		store_close(db);
		return buf;
	}
	free(want);
	free(cause);
	return NULL;
}

static const char *
refused(const char *path, const char *msg)
{
	return refused_with(path, NULL, msg);
}

static const char *
readonly_checks(const char *dir)
{
	char *path = xasprintf("%s/baton.db", dir);
	char *fresh = xasprintf("%s/fresh.db", dir);
	char *sub = xasprintf("%s/sub/baton.db", dir);
	char *cause = NULL, *before = NULL, *after = NULL;
	size_t blen = 0, alen = 0;
	const char *err = NULL;
	struct store *db = NULL;

	if (store_open(&db, path, NULL, &cause) != 0) {
		err = "cannot create the database";
		goto out;
	}
	store_close(db);
	before = file_read(path, 1 << 24, &blen);

	chmod(path, 0444);
	if ((err = refused(path, "read-only file")) != NULL)
		goto out;
	if (!no_side_files(path)) {
		err = "read-only file: side files were created";
		goto out;
	}
	after = file_read(path, 1 << 24, &alen);
	if (after == NULL || alen != blen || memcmp(before, after, blen)) {
		err = "read-only file: the file changed";
		goto out;
	}

	chmod(path, 0644);
	chmod(dir, 0555);
	if ((err = refused(path, "read-only directory")) != NULL)
		goto out;
	if (!no_side_files(path)) {
		err = "read-only directory: side files were created";
		goto out;
	}
	if ((err = refused(fresh, "read-only directory")) != NULL)
		goto out;
	if (file_exists(fresh)) {
		err = "read-only directory: the file was created";
		goto out;
	}
	/* The parent cannot be created either. */
	if ((err = refused_with(sub, &mkdir_opts, "permission denied")) != NULL)
		goto out;
out:
	chmod(dir, 0755);
	free(before);
	free(after);
	free(path);
	free(fresh);
	free(sub);
	return err;
}

static void
test_refuse_readonly(void **state)
{
	unprivileged(*state, readonly_checks);
}

static void
test_disk_full(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL, *big, *sql;
	struct store *db = NULL;
	int i, rc = 0;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	/* Let the file grow by two pages at most. */
	sql = xasprintf("PRAGMA max_page_count = %lld",
			(long long)query1(db, "PRAGMA page_count") + 2);
	assert_int_equal(sqlite3_exec(SQ(db)->h, sql, NULL, NULL, NULL),
			 SQLITE_OK);
	free(sql);
	big = xmalloc(3001);
	memset(big, 'z', 3000);
	big[3000] = '\0';
	assert_int_equal(store_begin(db, &cause), 0);
	for (i = 0; i < 100 && rc == 0; i++)
		rc = add_event(db, "big", big, &cause);
	assert_int_equal(rc, -BERR_DB);
	assert_string_equal(cause, "cannot record event: disk full");
	free(cause);
	cause = NULL;
	store_rollback(db);
	/* The connection is still usable afterwards. */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(add_event(db, "small", "x", &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	free(big);
	store_close(db);
	free(path);
}

/* Start n children at once on fn; all must exit 0. */
static void
race(int n, int (*fn)(const char *, int), const char *path)
{
	int go[2], status, i, failed = 0;
	pid_t pids[32];
	char c;

	assert_true(n <= 32);
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(go[1]);
			while (read(go[0], &c, 1) == -1 && errno == EINTR)
				;
			_exit(fn(path, i));
		}
	}
	close(go[0]);
	close(go[1]); /* EOF is the starting signal */
	for (i = 0; i < n; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	assert_int_equal(failed, 0);
}

static int
child_open(const char *path, int i)
{
	struct store *db = NULL;
	char *cause = NULL;

	(void)i;
	if (store_open(&db, path, &mkdir_opts, &cause) != 0) {
		fprintf(stderr, "child %d: %s\n", i, cause);
		return 1;
	}
	store_close(db);
	return 0;
}

static void
check_migrated(const char *path)
{
	struct store *db = NULL;
	char *cause = NULL;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(query1(db, "PRAGMA user_version"), 7);
	assert_int_equal(query1(db, "SELECT count(*) FROM sqlite_schema WHERE "
				    "name = 'tasks'"),
			 1);
	store_close(db);
}

static void
test_concurrent_migrate(void **state)
{
	char *path;
	int round;

	for (round = 0; round < 5; round++) {
		/* A database that does not exist yet. */
		path = xasprintf("%s/fresh%d/baton.db", (char *)*state, round);
		race(8, child_open, path);
		check_migrated(path);
		free(path);

		/* An old one (schema 0, rollback journal). */
		path = xasprintf("%s/old%d.db", (char *)*state, round);
		raw_exec(path, "CREATE TABLE legacy (x)");
		race(8, child_open, path);
		check_migrated(path);
		free(path);
	}
}

/* The schema of version 1, as baton wrote it (db/sqlite/schema.sql). */
extern const char baton_schema_sql[];

/*
 * A version-1 database (before runs.answer) opens, is migrated to the
 * current schema, keeps its rows, and records and reads answers.
 */
static void
test_migrate_answer(void **state)
{
	char *path = test_path(*state, "v1.db"), *cause = NULL;
	struct store *db = NULL;
	struct db_run *runs = NULL;
	struct db_task t = {0};
	size_t n = 0;
	int found = 0;

	raw_exec(path, baton_schema_sql);
	raw_exec(path, "PRAGMA user_version = 1;"
		       "INSERT INTO tasks (prompt, workdir, project, "
		       "created_at) VALUES ('p', '/w', '/w', 1);"
		       "INSERT INTO runs (task_id, attempt, iteration, "
		       "started_at, error) VALUES (1, 1, 1, 2, 'old');");
	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(query1(db, "PRAGMA user_version"), 7);
	assert_int_equal(store_run_list(db, 1, &runs, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_string_equal(runs[0].error, "old");
	assert_null(runs[0].answer);
	assert_int_equal(store_task_get(db, 1, &t, &found, &cause), 0);
	assert_true(found);
	assert_null(t.answer);
	/* migration 3: a task from before has no retries of its own */
	assert_int_equal(t.retries, -1);
	assert_true(t.max_cost == 0);
	db_task_release(&t);

	runs[0].answer = xstrdup("the answer");
	runs[0].ended_at = 3;
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_run_end(db, &runs[0], 0, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	db_runs_free(runs, n);
	store_close(db);

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(store_run_list(db, 1, &runs, &n, &cause), 0);
	assert_string_equal(runs[0].answer, "the answer");
	assert_int_equal(store_task_get(db, 1, &t, &found, &cause), 0);
	assert_string_equal(t.answer, "the answer");
	db_task_release(&t);
	db_runs_free(runs, n);
	store_close(db);
	free(path);
}

#define WRITERS 6
#define WRITES	150

static int
child_write(const char *path, int i)
{
	struct store *db = NULL;
	char *cause = NULL;
	int n;

	if (store_open(&db, path, NULL, &cause) != 0)
		goto fail;
	for (n = 0; n < WRITES; n++) {
		if (store_begin(db, &cause) != 0)
			goto fail;
		/* Read then write in one transaction: with a deferred BEGIN
		 * this would be the classic SQLITE_BUSY deadlock. */
		if (query1(db, "SELECT count(*) FROM events") < 0)
			return 1;
		if (add_event(db, "w", NULL, &cause) != 0) {
			store_rollback(db);
			goto fail;
		}
		if (store_commit(db, &cause) != 0)
			goto fail;
	}
	if (store_commits(db) != WRITES)
		return 1;
	store_close(db);
	return 0;
fail:
	fprintf(stderr, "writer %d: %s\n", i, cause);
	return 1;
}

static void
test_contention(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL;
	struct store *db = NULL;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	store_close(db);
	race(WRITERS, child_write, path);
	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(query1(db, "SELECT count(*) FROM events"),
			 WRITERS * WRITES);
	store_close(db);
	free(path);
}

static void
test_transactions(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL;
	struct store *db = NULL;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	store_rollback(db); /* none open: fine */
	store_rollback(NULL);
	assert_int_equal(store_commit(db, &cause), -BERR_DB);
	assert_non_null(cause);
	free(cause);
	cause = NULL;

	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_begin(db, &cause), -BERR_DB);
	assert_non_null(strstr(cause, "already open"));
	free(cause);
	cause = NULL;
	assert_int_equal(add_event(db, "gone", NULL, &cause), 0);
	store_rollback(db);
	assert_int_equal(query1(db, "SELECT count(*) FROM events"), 0);
	assert_int_equal(store_commits(db), 0);

	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(add_event(db, "kept", NULL, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	assert_int_equal(store_commits(db), 1);

	/* Closing with a transaction open rolls it back. */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(add_event(db, "lost", NULL, &cause), 0);
	store_close(db);
	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(query1(db, "SELECT count(*) FROM events"), 1);

	/* Foreign keys are enforced. */
	assert_int_equal(sqlite3_exec(SQ(db)->h,
				      "INSERT INTO session_chain (session_id, "
				      "agent_session_id, edge, created_at) "
				      "VALUES ('nope', 'x', 'first', 0)",
				      NULL, NULL, NULL),
			 SQLITE_CONSTRAINT_FOREIGNKEY);
	store_close(db);
	free(path);
}

/* Connections sharing a write lock queue on it, and always release it. */
static void
test_write_lock(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct store_options o = {.busy_timeout_ms = 200, .write_lock = &lock};
	struct store *a = NULL, *b = NULL;
	int64_t t0;

	assert_int_equal(store_open(&a, path, &o, &cause), 0);
	assert_int_equal(store_open(&b, path, &o, &cause), 0);
	assert_int_equal(store_begin(a, &cause), 0);
	assert_int_equal(pthread_mutex_trylock(&lock), EBUSY);
	t0 = clock_mono_ms();
	assert_int_equal(store_begin(b, &cause), -BERR_DB);
	assert_true(clock_mono_ms() - t0 >= 150);
	assert_non_null(strstr(cause, "database is locked"));
	free(cause);
	cause = NULL;
	assert_int_equal(add_event(a, "a", NULL, &cause), 0);
	assert_int_equal(store_commit(a, &cause), 0);

	assert_int_equal(store_begin(b, &cause), 0);
	store_rollback(b);
	assert_int_equal(store_begin(a, &cause), 0);
	store_close(a); /* with a transaction open */
	assert_int_equal(store_begin(b, &cause), 0);
	assert_int_equal(store_commit(b, &cause), 0);
	assert_int_equal(pthread_mutex_trylock(&lock), 0);
	pthread_mutex_unlock(&lock);
	assert_int_equal(query1(b, "SELECT count(*) FROM events"), 1);
	store_close(b);
	pthread_mutex_destroy(&lock);
	free(path);
}

static const char sql_a[] = "SELECT ?1";
static const char sql_b[] = "SELECT ?1";

static void
test_stmt_cache(void **state)
{
	struct store *db = NULL;
	sqlite3_stmt *a, *a2, *b, *st[200];
	char *cause = NULL, (*texts)[32];
	int i;

	(void)state;
	assert_int_equal(store_open(&db, ":memory:", NULL, &cause), 0);
	a = db_stmt(SQ(db), sql_a, &cause);
	assert_non_null(a);
	db_bind_text(a, 1, "hello");
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	/* Same pointer: same statement, reset and with bindings cleared. */
	a2 = db_stmt(SQ(db), sql_a, &cause);
	assert_ptr_equal(a, a2);
	assert_int_equal(sqlite3_step(a2), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(a2, 0), SQLITE_NULL);
	sqlite3_reset(a2);
	/* Same text at another address: another statement. */
	b = db_stmt(SQ(db), sql_b, &cause);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	db_bind_text(b, 1, NULL);
	assert_int_equal(sqlite3_step(b), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(b, 0), SQLITE_NULL);
	sqlite3_reset(b);

	/* Many statements: each found again. */
	texts = xcalloc(200, sizeof *texts);
	for (i = 0; i < 200; i++) {
		snprintf(texts[i], sizeof texts[i], "SELECT %d", i);
		st[i] = db_stmt(SQ(db), texts[i], &cause);
		assert_non_null(st[i]);
	}
	for (i = 0; i < 200; i++) {
		assert_ptr_equal(db_stmt(SQ(db), texts[i], &cause), st[i]);
		assert_int_equal(sqlite3_step(st[i]), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st[i], 0), i);
	}
	assert_ptr_equal(db_stmt(SQ(db), sql_a, &cause), a);

	/* A bad statement is an error with a cause, not a crash. */
	assert_null(db_stmt(SQ(db), "SELECT FROM nowhere", &cause));
	assert_non_null(strstr(cause, "cannot prepare statement: "));
	free(cause);
	store_close(db);
	free(texts);
}

/* Migration 7 drops the indexes no statement needs any more. */
static void
test_migrate_drops_indexes(void **state)
{
	char *path = test_path(*state, "v6.db"), *cause = NULL;
	struct store *db = NULL;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	store_close(db);
	raw_exec(path, "CREATE INDEX tasks_pending ON tasks(id) WHERE "
		       "status = 'pending';"
		       "CREATE INDEX tasks_runner ON tasks(runner_id) WHERE "
		       "status = 'running';"
		       "CREATE INDEX runs_open ON runs(runner_id) WHERE "
		       "ended_at IS NULL;"
		       "PRAGMA user_version = 6;");
	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	assert_int_equal(query1(db, "PRAGMA user_version"), 7);
	assert_int_equal(query1(db, "SELECT count(*) FROM sqlite_schema WHERE "
				    "name IN ('tasks_pending', "
				    "'tasks_runner', 'runs_open')"),
			 0);
	assert_int_equal(query1(db, "SELECT count(*) FROM sqlite_schema WHERE "
				    "name IN ('tasks_status', 'runs_task')"),
			 2);
	store_close(db);
	free(path);
}

/*
 * Query plans at a million rows (docs/performance.md §5): the claim's
 * statements, the count of pending tasks and the reaper's must stay
 * index searches after migration 7 dropped tasks_pending, tasks_runner
 * and runs_open.  Without sqlite_stat1 SQLite's planner does not look at
 * how many rows a table has, so the plan of a small table is the plan
 * of a big one; with statistics (a user's ANALYZE or PRAGMA optimize)
 * it is, and sqlite_stat1 is filled here with what ANALYZE writes for
 * a million tasks, as bench/mkrows makes them (history: all completed
 * but a few pending and running; pending: all pending, in one
 * milestone).  Each statement is taken as this connection prepared it
 * (sqlite3_next_stmt, sqlite3_sql): the exact text the store runs.
 */
static const char *const plan_stats[] = {
	/* history: 1000000 completed, 1000 pending, 2 running */
	"DELETE FROM sqlite_stat1;"
	"INSERT INTO sqlite_stat1 VALUES"
	" ('tasks', 'tasks_status', '1001002 333668 1'),"
	" ('tasks', 'tasks_queue', '1000 1000 1'),"
	" ('tasks', 'tasks_milestone', '1000 1000 1'),"
	" ('tasks', 'tasks_session', '1001000 1'),"
	" ('tasks', 'sqlite_autoindex_tasks_1', '1001002 1'),"
	" ('runs', 'runs_task', '1000002 1 1'),"
	" ('runs', 'runs_session', '1000002 1'),"
	" ('runs', 'runs_batch', '1000002 1000'),"
	" ('sessions', 'sessions_status', '1000002 500001'),"
	" ('sessions', 'sqlite_autoindex_sessions_1', '1000002 1');"
	"ANALYZE sqlite_schema;",
	/* pending: 1000000 pending tasks of one milestone */
	"DELETE FROM sqlite_stat1;"
	"INSERT INTO sqlite_stat1 VALUES"
	" ('tasks', 'tasks_status', '1000000 1000000 1'),"
	" ('tasks', 'tasks_queue', '1000000 1000000 1'),"
	" ('tasks', 'tasks_milestone', '1000000 1000000 1'),"
	" ('tasks', 'sqlite_autoindex_tasks_1', '1000000 1'),"
	" ('runs', 'runs_task', '1 1 1');"
	"ANALYZE sqlite_schema;",
};

/* EXPLAIN QUERY PLAN of every statement db has prepared: no full scan
 * of a table (a SEARCH, or a SCAN of a subquery's result); returns the
 * plan lines of the statement whose text contains key, joined. */
static char *
plans_checked(struct store *db, const char *key, const char *scenario)
{
	sqlite3 *h = SQ(db)->h;
	sqlite3_stmt *st = NULL, *ep;
	char *q, *keyed = xstrdup(""), *tmp;
	const char *sql, *d;

	while ((st = sqlite3_next_stmt(h, st)) != NULL) {
		sql = sqlite3_sql(st);
		if (sql == NULL || strncmp(sql, "EXPLAIN", 7) == 0)
			continue;
		q = xasprintf("EXPLAIN QUERY PLAN %s", sql);
		assert_int_equal(sqlite3_prepare_v2(h, q, -1, &ep, NULL),
				 SQLITE_OK);
		while (sqlite3_step(ep) == SQLITE_ROW) {
			d = (const char *)sqlite3_column_text(ep, 3);
			if (strncmp(d, "SCAN ", 5) == 0 &&
			    strncmp(d, "SCAN CONSTANT", 13) != 0)
				fail_msg("%s: %s: %s", scenario, sql, d);
			if (strstr(sql, key) != NULL) {
				tmp = xasprintf("%s%s\n", keyed, d);
				free(keyed);
				keyed = tmp;
			}
		}
		sqlite3_finalize(ep);
		free(q);
	}
	return keyed;
}

/* The claim, the count and the reaper's statements, run once so that
 * the connection has them prepared (the reap and the claim rolled back). */
static void
plan_run_statements(struct store *db, int64_t runner, int64_t milestone)
{
	char *cause = NULL;
	int64_t id, n, epoch;
	struct db_orphan *orphans = NULL;
	size_t norphans = 0;

	assert_int_equal(store_task_next(db, 0, 0, &id, &cause), 0);
	assert_int_equal(store_task_next(db, milestone, 0, &id, &cause), 0);
	assert_int_equal(id, 1);
	assert_int_equal(store_task_count_pending(db, 0, &n, &cause), 0);
	assert_int_equal(store_task_count_pending(db, milestone, &n, &cause),
			 0);
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_task_start(db, 1, runner, NULL, NULL, NULL, 5,
					  &epoch, &cause),
			 0);
	assert_int_equal(store_task_finish(db, 1, epoch, TASK_COMPLETED, 1, 0,
					   NULL, NULL, 6, &cause),
			 0);
	assert_int_equal(store_runner_reap(db, runner, 7, 0, 0, &orphans,
					   &norphans, &cause),
			 0);
	free(orphans);
	store_rollback(db);
}

static void
test_plans_at_a_million_rows(void **state)
{
	char *path = test_path(*state, "plan.db"), *cause = NULL, *plan;
	struct store *db = NULL;
	struct db_runner r = {0};
	int64_t runner;
	size_t i;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	/* the indexes migration 7 dropped are not made anew */
	assert_int_equal(query1(db, "SELECT count(*) FROM sqlite_schema WHERE "
				    "name IN ('tasks_pending', "
				    "'tasks_runner', 'runs_open')"),
			 0);
	assert_int_equal(sqlite3_exec(SQ(db)->h,
				      "INSERT INTO milestones (name, "
				      "created_at) VALUES ('m', 1);"
				      "INSERT INTO tasks (prompt, workdir, "
				      "project, milestone_id, queue, "
				      "created_at) VALUES ('p', '/', '/', 1, "
				      "'m:1', 1);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	r.pid = 1;
	r.host = (char *)"h";
	r.proc_start = 1;
	r.started_at = 1;
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_runner_insert(db, &r, &runner, &cause), 0);
	assert_int_equal(store_commit(db, &cause), 0);
	/* ANALYZE makes sqlite_stat1 */
	assert_int_equal(sqlite3_exec(SQ(db)->h, "ANALYZE", NULL, NULL, NULL),
			 SQLITE_OK);
	for (i = 0; i <= sizeof plan_stats / sizeof plan_stats[0]; i++) {
		if (i > 0)
			assert_int_equal(sqlite3_exec(SQ(db)->h,
						      plan_stats[i - 1], NULL,
						      NULL, NULL),
					 SQLITE_OK);
		else
			assert_int_equal(sqlite3_exec(SQ(db)->h,
						      "DELETE FROM "
						      "sqlite_stat1; ANALYZE "
						      "sqlite_schema",
						      NULL, NULL, NULL),
					 SQLITE_OK);
		plan_run_statements(db, runner, 1);
		/* the claim's pick: the lowest pending id, in tasks_status */
		plan = plans_checked(db, "ORDER BY t.id LIMIT 1",
				     i == 0 ? "no statistics"
					    : plan_stats[i - 1]);
		if (strstr(plan, "SEARCH t USING INDEX tasks_status "
				 "(status=? AND id>?)") == NULL)
			fail_msg("claim: %s", plan);
		free(plan);
		/* the reaper's open runs: through runs_task */
		plan = plans_checked(db, "coalesce(pid, 0)", "reaper");
		if (strstr(plan, "runs_task") == NULL ||
		    strstr(plan, "tasks_status") == NULL)
			fail_msg("reaper: %s", plan);
		free(plan);
	}
	store_close(db);
	free(path);
}

/* Events of kind in db. */
static int64_t
events_of(struct store *db, const char *kind)
{
	sqlite3_stmt *st;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(SQ(db)->h,
					    "SELECT count(*) FROM events "
					    "WHERE kind = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/*
 * Savepoints run as cached prepared statements (issue 12): used again
 * and again, nested, released and rolled back, they still keep and undo
 * what they should; and an error still says which verb failed.
 */
static void
test_savepoints_cached(void **state)
{
	char *path = test_path(*state, "baton.db"), *cause = NULL;
	struct store *db = NULL;
	int i;

	assert_int_equal(store_open(&db, path, NULL, &cause), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(store_begin(db, &cause), 0);
		assert_int_equal(store_savepoint(db, "claim", &cause), 0);
		assert_int_equal(add_event(db, "kept", NULL, &cause), 0);
		assert_int_equal(store_savepoint(db, "next", &cause), 0);
		assert_int_equal(add_event(db, "undone", NULL, &cause), 0);
		store_savepoint_rollback(db, "next");
		assert_int_equal(store_savepoint_release(db, "claim", &cause),
				 0);
		assert_int_equal(store_savepoint(db, "claim", &cause), 0);
		assert_int_equal(add_event(db, "undone", NULL, &cause), 0);
		store_savepoint_rollback(db, "claim");
		assert_int_equal(store_commit(db, &cause), 0);
		assert_int_equal(events_of(db, "kept"), i + 1);
		assert_int_equal(events_of(db, "undone"), 0);
	}
	/* no such savepoint: an error naming the verb */
	assert_int_equal(store_begin(db, &cause), 0);
	assert_int_equal(store_savepoint_release(db, "next", &cause), -BERR_DB);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "RELEASE failed: no such savepoint"));
	free(cause);
	cause = NULL;
	/* and the cached statement still works after its failure */
	assert_int_equal(store_savepoint(db, "next", &cause), 0);
	assert_int_equal(store_savepoint_release(db, "next", &cause), 0);
	store_rollback(db);
	store_close(db);
	free(path);
}

int
main(void)
{
#define T(f)                                                                   \
	cmocka_unit_test_setup_teardown(f, test_tmpdir_setup,                  \
					test_tmpdir_teardown)
	const struct CMUnitTest tests[] = {
		T(test_fresh),
		T(test_options),
		T(test_memory),
		T(test_reopen),
		T(test_savepoints_cached),
		T(test_modes),
		T(test_existing_dir_kept),
		T(test_refuse_directory),
		T(test_refuse_symlink),
		T(test_symlinked_parent_ok),
		T(test_refuse_not_a_db),
		T(test_refuse_corrupt),
		T(test_integrity),
		T(test_refuse_newer),
		T(test_wal_checkpoint),
		T(test_refuse_locked),
		T(test_refuse_readonly),
		T(test_disk_full),
		T(test_concurrent_migrate),
		T(test_migrate_answer),
		T(test_contention),
		T(test_transactions),
		T(test_write_lock),
		T(test_stmt_cache),
		T(test_migrate_drops_indexes),
		T(test_plans_at_a_million_rows),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
