/*
 * `baton db backup` and `baton db vacuum` for SQLite.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

/* Pages copied per backup step (4 MiB of 4 KiB pages). */
#define BACKUP_STEP_PAGES 1024

static int
exec_fail(struct db *db, const char *sql, const char *what, char **cause)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, what, cause);
	return 0;
}

/* Remove a copy that failed half way, with SQLite's side files. */
static void
remove_copy(const char *path)
{
	static const char *const sfx[] = {"", "-journal", "-wal", "-shm"};
	char *p;
	size_t i;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		p = xasprintf("%s%s", path, sfx[i]);
		unlink(p);
		free(p);
	}
}

/* Copy every page of db into dst, a step at a time. */
static int
copy_pages(struct db *db, sqlite3 *dst, const char *path, char **cause)
{
	sqlite3_backup *bk;
	int rc;

	bk = sqlite3_backup_init(dst, "main", db->h, "main");
	if (bk == NULL) {
		*cause = xasprintf("cannot back up to %s: %s", path,
				   sqlite3_errmsg(dst));
		return -BERR_DB;
	}
	do {
		rc = sqlite3_backup_step(bk, BACKUP_STEP_PAGES);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(10);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(bk);
	if (rc != SQLITE_DONE) {
		*cause = xasprintf("cannot back up to %s: %s", path,
				   sqlite3_errstr(rc));
		return -BERR_DB;
	}
	return 0;
}

/*
 * The copy is made from one read transaction held on the source for
 * all the steps: in WAL mode it blocks no writer, and the steps never
 * restart because another process wrote meanwhile (they would, with
 * the snapshot taken afresh at each step).
 */
int
sqlite_backup(struct store *store, const char *path, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3 *dst = NULL;
	int fd, rc;

	if (db->in_txn) {
		*cause = xstrdup("cannot back up inside a transaction");
		return -BERR_DB;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd == -1) {
		*cause = xasprintf("cannot create %s: %s", path,
				   strerror(errno));
		return errno == EEXIST ? -BERR_USAGE : -BERR_FAIL;
	}
	close(fd);
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		*cause = xasprintf("cannot open %s: %s", path,
				   dst ? sqlite3_errmsg(dst) : "out of memory");
		rc = -BERR_DB;
		goto out;
	}
	if ((rc = exec_fail(db, "BEGIN", "cannot back up", cause)) != 0)
		goto out;
	rc = exec_fail(db, "SELECT count(*) FROM sqlite_schema",
		       "cannot back up", cause);
	if (rc == 0)
		rc = copy_pages(db, dst, path, cause);
	sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
out:
	if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && rc == 0) {
		*cause = xasprintf("cannot close %s", path);
		rc = -BERR_DB;
	}
	if (rc != 0)
		remove_copy(path);
	return rc;
}

/* Bytes of the database file and its WAL. */
static int64_t
disk_size(const char *path)
{
	struct stat st;
	char *wal = xasprintf("%s-wal", path);
	int64_t n = 0;

	if (stat(path, &st) == 0)
		n += st.st_size;
	if (stat(wal, &st) == 0)
		n += st.st_size;
	free(wal);
	return n;
}

int
sqlite_vacuum(struct store *store, int64_t *before, int64_t *after,
	      char **cause)
{
	struct db *db = (struct db *)store;
	int rc;

	if (db->in_txn) {
		*cause = xstrdup("cannot vacuum inside a transaction");
		return -BERR_DB;
	}
	*before = disk_size(db->path);
	if ((rc = exec_fail(db, "VACUUM", "cannot vacuum", cause)) == 0)
		rc = exec_fail(db, "PRAGMA wal_checkpoint(TRUNCATE)",
			       "cannot checkpoint", cause);
	*after = disk_size(db->path);
	return rc;
}

static const char sql_meta_get[] = "SELECT value FROM meta WHERE key = ?1";

int
sqlite_meta_get(struct store *store, const char *key, char **value,
		char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	*value = NULL;
	if ((st = db_stmt(db, sql_meta_get, cause)) == NULL)
		return -BERR_DB;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		*value = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, "cannot read the database's id", cause);
	return 0;
}

int
sqlite_meta_delete(struct store *store, const char *key, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite_begin(store, cause)) != 0)
		return rc;
	if ((st = db_stmt(db, "DELETE FROM meta WHERE key = ?1", cause)) ==
	    NULL) {
		sqlite_rollback(store);
		return -BERR_DB;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		rc = db_fail(db, "cannot update the database", cause);
		sqlite_rollback(store);
		return rc;
	}
	return sqlite_commit(store, cause);
}
