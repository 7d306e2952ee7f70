/*
 * The store: opening (with the file checks SQLite does not do for us),
 * pragmas, migrations, transactions and the statement cache.
 */
/* realpath() is XSI. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/fsafe.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "db/sqlite/internal.h"

extern const char baton_schema_sql[];

static void write_unlock(struct db *db);

/* Bytes a checkpointed write-ahead log is truncated to (64 MiB). */
#define WAL_LIMIT "67108864"

/* What opening a file needs of the store options. */
struct open_ctx {
	int create_dir, shared_group;
};

/*
 * Migration N (counting from 1) takes a database from user_version N-1
 * to N.  Append only: a released migration is never edited.  The
 * version is set by a constant statement because PRAGMA arguments
 * cannot be bound.
 */
static const struct migration {
	const char *sql;
	const char *set_version;
} migrations[] = {
	{baton_schema_sql, "PRAGMA user_version = 1"},
	/* 2: the agent's final answer of each run (SPEC §3); the indexes
	 * prune and session gc need (a database made by schema 1 before
	 * they were part of it lacks them; tasks made there keep ids
	 * without AUTOINCREMENT, which only a rebuild could add) */
	{"ALTER TABLE runs ADD COLUMN answer TEXT;"
	 "CREATE INDEX IF NOT EXISTS sessions_predecessor ON "
	 "sessions(predecessor) WHERE predecessor IS NOT NULL;"
	 "CREATE INDEX IF NOT EXISTS session_chain_run ON "
	 "session_chain(run_id) WHERE run_id IS NOT NULL;"
	 "CREATE INDEX IF NOT EXISTS tasks_session ON tasks(session_id) "
	 "WHERE session_id IS NOT NULL;"
	 "CREATE INDEX IF NOT EXISTS runs_session ON runs(session_id) "
	 "WHERE session_id IS NOT NULL;",
	 "PRAGMA user_version = 2"},
	/* 3: the batch (one `work` or `run`) a runner is and each run of
	 * it was started by (stats --batch) */
	{"ALTER TABLE runners ADD COLUMN batch_id TEXT;"
	 "ALTER TABLE runs ADD COLUMN batch_id TEXT;"
	 "CREATE INDEX runs_batch ON runs(batch_id) "
	 "WHERE batch_id IS NOT NULL;",
	 "PRAGMA user_version = 3"},
	/* 4: task retries and budgets (SPEC §3, §6); NULL retries: not
	 * set, decided at the task's claim */
	{"ALTER TABLE tasks ADD COLUMN retries INTEGER;"
	 "ALTER TABLE tasks ADD COLUMN max_cost REAL;",
	 "PRAGMA user_version = 4"},
	/* 5: fenced leases (SPEC §5, docs/leases.md): each claim of a task
	 * and each lease of a session takes the next epoch, and every later
	 * write of the runner names it */
	{"ALTER TABLE tasks ADD COLUMN lease_epoch INTEGER NOT NULL "
	 "DEFAULT 0;"
	 "ALTER TABLE sessions ADD COLUMN lease_epoch INTEGER NOT NULL "
	 "DEFAULT 0;",
	 "PRAGMA user_version = 5"},
	/* 6: the database's id (SPEC §9: its files live in a directory
	 * named for it), a mark on a database that had files in the old
	 * shared layout (<dir>/logs, <dir>/sessions) to move, and runs
	 * whose output passed logs.max_bytes (SPEC §3) */
	{"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) "
	 "WITHOUT ROWID;"
	 "INSERT INTO meta VALUES ('id', lower(hex(randomblob(4))) || '-' || "
	 "lower(hex(randomblob(2))) || '-4' || "
	 "substr(lower(hex(randomblob(2))), 2) || '-' || "
	 "substr('89ab', 1 + (abs(random()) % 4), 1) || "
	 "substr(lower(hex(randomblob(2))), 2) || '-' || "
	 "lower(hex(randomblob(6))));"
	 "INSERT INTO meta SELECT 'legacy_files', '1' WHERE "
	 "EXISTS (SELECT 1 FROM runs) OR EXISTS (SELECT 1 FROM sessions);"
	 "ALTER TABLE runs ADD COLUMN output_truncated INTEGER NOT NULL "
	 "DEFAULT 0;",
	 "PRAGMA user_version = 6"},
	/* 7: fewer B-trees to write per task (docs/performance.md):
	 * tasks_status (status, id) answers the claim as tasks_pending did,
	 * and the reaper finds a runner's tasks and open runs through
	 * tasks_status and runs_task instead of tasks_runner and runs_open.
	 * The schema of migration 1 no longer makes them. */
	{"DROP INDEX IF EXISTS tasks_pending;"
	 "DROP INDEX IF EXISTS tasks_runner;"
	 "DROP INDEX IF EXISTS runs_open;",
	 "PRAGMA user_version = 7"},
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

#define DEFAULT_BUSY_TIMEOUT_MS 10000

/* SQLite's file header starts with these 16 bytes. */
static const char sqlite_magic[16] = "SQLite format 3";

/* The newest schema version this binary knows. */
int
sqlite_schema_version(void)
{
	return N_MIGRATIONS;
}

/* strerror() in the lower case of our messages; caller frees. */
static char *
errno_msg(int err)
{
	char *s = xstrdup(strerror(err));

	if (s[0] != '\0' && isupper((unsigned char)s[0]) &&
	    !isupper((unsigned char)s[1]))
		s[0] = (char)tolower((unsigned char)s[0]);
	return s;
}

/* The message for a SQLite result code; busy_ms > 0 adds "(waited ...)". */
static char *
sqlite_msg(sqlite3 *h, int rc, int64_t busy_ms)
{
	char *d, *s;

	switch (rc & 0xff) {
	case SQLITE_FULL:
		return xstrdup("disk full");
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		if (busy_ms <= 0)
			return xstrdup("database is locked");
		d = duration_format(busy_ms);
		s = xasprintf("database is locked (waited %s)", d);
		free(d);
		return s;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return xstrdup("database disk image is malformed");
	case SQLITE_READONLY:
		if (rc == SQLITE_READONLY_DIRECTORY)
			return xstrdup("read-only directory");
		return xstrdup("read-only file");
	case SQLITE_IOERR:
		/* Growing -shm or -wal on a full file system. */
		if (h != NULL && (sqlite3_system_errno(h) == ENOSPC ||
				  sqlite3_system_errno(h) == EDQUOT))
			return xstrdup("disk full");
		break;
	case SQLITE_CANTOPEN:
		if (h != NULL && sqlite3_system_errno(h) == ENOMEM)
			oom();
		if (h != NULL && sqlite3_system_errno(h) != 0)
			return errno_msg(sqlite3_system_errno(h));
		break;
	case SQLITE_NOMEM:
		oom();
	}
	if (h != NULL)
		return xstrdup(sqlite3_errmsg(h));
	return xstrdup(sqlite3_errstr(rc));
}

/* The connection's busy timeout, for messages (0 if unknown). */
static int64_t
busy_timeout_of(sqlite3 *h)
{
	sqlite3_stmt *st = NULL;
	int64_t ms = 0;

	if (sqlite3_prepare_v2(h, "PRAGMA busy_timeout", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ms = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return ms;
}

/*
 * Sets *cause from the connection's last error, "what: message", and
 * returns -BERR_DB.  Must be called before the failed statement is
 * reset or finalized.
 */
int
db_fail(struct db *db, const char *what, char **cause)
{
	int rc = sqlite3_extended_errcode(db->h);
	char *msg;

	db->busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
	if (db->busy)
		msg = sqlite_msg(db->h, rc, busy_timeout_of(db->h));
	else
		msg = sqlite_msg(db->h, rc, 0);
	if (what != NULL && *what != '\0')
		*cause = xasprintf("%s: %s", what, msg);
	else
		*cause = xstrdup(msg);
	free(msg);
	return -BERR_DB;
}

static int
open_error(char **cause, const char *path, const char *msg)
{
	*cause = xasprintf("cannot open database %s: %s", path, msg);
	return -BERR_DB;
}

static int
open_errno(char **cause, const char *path, int err)
{
	char *msg;

	if (err == ENOMEM)
		oom();
	msg = errno_msg(err);
	open_error(cause, path, msg);
	free(msg);
	return -BERR_DB;
}

static int
open_sqlite_error(char **cause, const char *path, sqlite3 *h, int rc,
		  int64_t busy_ms)
{
	char *msg = sqlite_msg(h, rc, busy_ms);

	open_error(cause, path, msg);
	free(msg);
	return -BERR_DB;
}

static int
newer_error(char **cause, const char *path, int64_t v)
{
	*cause = xasprintf("cannot open database %s: it was written by a "
			   "newer baton (schema %lld, this baton knows %d)",
			   path, (long long)v, N_MIGRATIONS);
	return -BERR_DB;
}

/* The directory holding path ("." for a bare name); caller frees. */
static char *
parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	while (slash > path && slash[-1] == '/')
		slash--;
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* 1 if path exists (without following a final symlink), 0 if not, -1. */
static int
exists(const char *path, struct stat *st)
{
	if (lstat(path, st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/*
 * The SQLite file header, if the file has one.  Returns 0 for an empty
 * file or one that starts like a database, else a message.
 */
static const char *
check_header(sqlite3 *h)
{
	sqlite3_file *f = NULL;
	sqlite3_int64 size = 0;
	char hdr[100];
	int n, rc;

	/* Through SQLite's own handle: opening and closing another fd on the
	 * file would drop every POSIX lock this process holds on it (another
	 * thread's connection), and a peer closing last would then checkpoint
	 * and delete the WAL under our feet. */
	if (sqlite3_file_control(h, "main", SQLITE_FCNTL_FILE_POINTER, &f) !=
		    SQLITE_OK ||
	    f == NULL || f->pMethods == NULL)
		return NULL;
	if (f->pMethods->xFileSize(f, &size) != SQLITE_OK || size <= 0)
		return NULL;
	n = size < (sqlite3_int64)sizeof hdr ? (int)size : (int)sizeof hdr;
	rc = f->pMethods->xRead(f, hdr, n, 0);
	if (rc != SQLITE_OK)
		return NULL; /* let SQLite report it */
	if (memcmp(hdr, sqlite_magic, n < 16 ? (size_t)n : 16) != 0)
		return "file is not a database";
	if (n < (int)sizeof hdr)
		return "database disk image is malformed";
	return NULL;
}

/*
 * path does not exist: create its directory if need be (and allowed),
 * then the file, mode 0600 (0660 for a shared group) whatever the umask.
 * Returns 0, -BERR_DB with *cause, or 1 if another process created it
 * first (look at it again).
 */
static int
create_file(const char *path, const char *dir, const struct open_ctx *oc,
	    int *tries, char **cause)
{
	mode_t mode = oc->shared_group ? 0660 : 0600;
	struct stat st;
	int e, fd, rc = -BERR_DB;

	if ((e = exists(dir, &st)) == -1)
		return open_errno(cause, path, errno);
	if (e == 0 && !oc->create_dir) {
		*cause = xasprintf("cannot open database %s: directory %s does "
				   "not exist (baton creates only the "
				   "default one; mkdir it first)",
				   path, dir);
		return -BERR_DB;
	}
	if (e == 0 && file_mkdir_p(dir, 0700) != 0)
		return open_errno(cause, path, errno);
	if (access(dir, W_OK) != 0) {
		if (errno == EACCES || errno == EROFS || errno == EPERM)
			return open_error(cause, path, "read-only directory");
		return open_errno(cause, path, errno);
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  mode);
	if (fd == -1 && errno == EEXIST && ++*tries < 3)
		return 1; /* another process was quicker */
	if (fd == -1)
		return open_errno(cause, path, errno);
	if (fchmod(fd, mode) != 0)
		open_errno(cause, path, errno);
	else
		rc = 0;
	close(fd);
	return rc;
}

/*
 * The database or its -wal or -shm (file, with st): refused if another
 * user could write it (SPEC §9: its tasks run as whoever runs `work`).
 * Returns 0 or -BERR_DB with *cause.
 */
static int
check_owner(const char *path, const char *file, const struct stat *st,
	    const struct open_ctx *oc, char **cause)
{
	char *why = fsafe_problem(st, oc->shared_group);

	if (why == NULL)
		return 0;
	*cause = xasprintf("cannot open database %s: %s is %s; another user "
			   "could add tasks that run as you (make it yours "
			   "and 'chmod 600' it, or set db.shared_group: true "
			   "for a database a group shares)",
			   path, file, why);
	free(why);
	return -BERR_DB;
}

/*
 * Once the database is open: make it and its -wal and -shm private to
 * us (or our group) if others can read them and they are ours.  After
 * the checks, so that a refused database is never touched; SQLite
 * creates -wal and -shm with the database's mode, so they follow.
 */
static void
tighten_files(const char *path, const struct open_ctx *oc)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	struct stat st;
	mode_t loose;
	char *f;
	size_t i;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		f = xasprintf("%s%s", path, sfx[i]);
		if (lstat(f, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_uid == geteuid()) {
			loose = fsafe_loose_bits(&st, oc->shared_group);
			if (loose != 0)
				(void)chmod(f, st.st_mode & 07777 & ~loose);
		}
		free(f);
	}
}

/* path's -wal and -shm: no symlinks, writable, or a writable directory
 * to create them in.  Returns 0 or -BERR_DB with *cause. */
static int
check_sidecars(const char *path, const char *dir, const struct open_ctx *oc,
	       char **cause)
{
	static const char *const sfx[] = {"-wal", "-shm"};
	struct stat sst;
	char *side = NULL;
	int rc = -BERR_DB, e, need_dir = 0;
	size_t i;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		free(side);
		side = xasprintf("%s%s", path, sfx[i]);
		if ((e = exists(side, &sst)) == -1) {
			open_errno(cause, side, errno);
			goto out;
		}
		if (e == 0) {
			need_dir = 1;
			continue;
		}
		if (S_ISLNK(sst.st_mode)) {
			*cause = xasprintf("cannot open database %s: %s is a "
					   "symbolic link (refusing to "
					   "follow it)",
					   path, side);
			goto out;
		}
		if (check_owner(path, side, &sst, oc, cause) != 0)
			goto out;
		if (access(side, W_OK) != 0) {
			open_error(cause, path, "read-only file");
			goto out;
		}
	}
	if (need_dir && access(dir, W_OK) != 0) {
		open_error(cause, path, "read-only directory");
		goto out;
	}
	rc = 0;
out:
	free(side);
	return rc;
}

/* path exists, and st is its lstat(): a regular file we may read and
 * write, and so may its -wal and -shm.  Returns 0 or -BERR_DB. */
static int
check_file(const char *path, const char *dir, const struct stat *st,
	   const struct open_ctx *oc, char **cause)
{
	if (S_ISDIR(st->st_mode))
		return open_error(cause, path, "is a directory");
	if (S_ISLNK(st->st_mode))
		return open_error(cause, path,
				  "is a symbolic link (refusing to follow it)");
	if (!S_ISREG(st->st_mode))
		return open_error(cause, path, "not a regular file");
	if (check_owner(path, path, st, oc, cause) != 0)
		return -BERR_DB;
	if (access(path, R_OK) != 0)
		return open_errno(cause, path, errno);
	if (access(path, W_OK) != 0) {
		if (errno == EACCES || errno == EROFS || errno == EPERM)
			return open_error(cause, path, "read-only file");
		return open_errno(cause, path, errno);
	}
	return check_sidecars(path, dir, oc, cause);
}

/* SPEC §10: dir must be on a local file system.  0 or -BERR_DB. */
static int
check_local(const char *path, const char *dir, char **cause)
{
	const char *fs = fsafe_remote_fs(dir);

	if (fs == NULL)
		return 0;
	*cause = xasprintf("cannot open database %s: it is on a %s file "
			   "system, where SQLite's write-ahead log is not "
			   "safe (its shared memory and locks are not "
			   "shared between hosts); put it on a local disk",
			   path, fs);
	return -BERR_DB;
}

/*
 * Everything SQLite would otherwise get wrong or do silently, before it
 * touches the file: a directory or symlink at path, a file that is not
 * a database, a read-only file or directory (SQLite would create -wal
 * and -shm, or open read-only), and creating the parent directory and
 * the file with modes that do not depend on the umask.  *real is the
 * path for SQLite (caller frees): the parent directory resolved, so that
 * SQLITE_OPEN_NOFOLLOW, which refuses a symlink anywhere in the path,
 * still guards the file itself without refusing a symlinked $HOME.
 */
static int
prepare_file(const char *path, const struct open_ctx *oc, char **real,
	     char **cause)
{
	struct stat st;
	char *dir = parent_of(path), *rdir;
	const char *base = strrchr(path, '/');
	int rc = -BERR_DB, e, tries = 0;

	*real = NULL;
	base = base == NULL ? path : base + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		open_error(cause, path, "is a directory");
		goto out;
	}
	/* before anything is created, and again once the directory is */
	if (check_local(path, dir, cause) != 0)
		goto out;
	do {
		if ((e = exists(path, &st)) == -1) {
			open_errno(cause, path, errno);
			goto out;
		}
		if (e == 0)
			rc = create_file(path, dir, oc, &tries, cause);
		else
			rc = check_file(path, dir, &st, oc, cause);
	} while (rc == 1);
	if (rc != 0)
		goto out;
	if ((rc = check_local(path, dir, cause)) != 0)
		goto out;
	if ((rdir = realpath(dir, NULL)) == NULL) {
		rc = open_errno(cause, path, errno);
		goto out;
	}
	*real = xasprintf("%s/%s", strcmp(rdir, "/") == 0 ? "" : rdir, base);
	free(rdir);
out:
	free(dir);
	return rc;
}

/* One integer from a statement with no parameters. */
/*
 * SQLite's process-wide settings, before its first connection: no memory
 * statistics (baton reads none), which otherwise take a global mutex
 * around every one of SQLite's allocations, a few hundred a task.
 * sqlite3_config() refuses (SQLITE_MISUSE) once SQLite is initialised,
 * which is harmless.
 */
static pthread_once_t config_once = PTHREAD_ONCE_INIT;

static void
sqlite_config(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int
query_int(sqlite3 *h, const char *sql, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*v = 0;
		rc = SQLITE_OK;
	}
out:
	/* Keep the step's error code: finalize would repeat it anyway. */
	sqlite3_finalize(st);
	return rc;
}

/* journal_mode as SQLite reports it after asking for mode (or NULL). */
static int
journal_mode(sqlite3 *h, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st = NULL;
	const char *t;
	int rc;

	buf[0] = '\0';
	rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if ((t = db_col_cstr(st, 0)) != NULL)
			snprintf(buf, len, "%s", t);
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/*
 * Switches to WAL, which needs an exclusive lock.  A peer that is
 * already in WAL mode holds a shared lock as long as it is connected,
 * and this connection's idea of the journal mode can be stale, so
 * rather than wait on one attempt (which could never succeed), try in
 * short slices, re-reading the header in between, until busy_ms.
 */
static int
use_wal(sqlite3 *h, const char *path, int64_t busy_ms, char **cause)
{
	int64_t deadline = clock_mono_ms() + busy_ms, n;
	int rc, slice = busy_ms < 100 ? (int)busy_ms : 100;
	char mode[32];

	for (;;) {
		/* A read refreshes the pager's view of the file header. */
		rc = query_int(h, "PRAGMA user_version", &n);
		if (rc == SQLITE_OK)
			rc = journal_mode(h, "PRAGMA journal_mode", mode,
					  sizeof mode);
		if (rc == SQLITE_OK && strcmp(mode, "wal") == 0)
			break;
		if (rc == SQLITE_OK) {
			sqlite3_busy_timeout(h, slice);
			rc = journal_mode(h, "PRAGMA journal_mode = WAL", mode,
					  sizeof mode);
			sqlite3_busy_timeout(h, (int)busy_ms);
		}
		if (rc == SQLITE_OK && strcmp(mode, "wal") == 0)
			break;
		if (rc == SQLITE_OK) {
			*cause = xasprintf("cannot open database %s: cannot "
					   "use write-ahead logging (journal "
					   "mode is %s)",
					   path, mode);
			return -BERR_DB;
		}
		if ((rc & 0xff) != SQLITE_BUSY || clock_mono_ms() >= deadline)
			return open_sqlite_error(cause, path, h, rc, busy_ms);
		sqlite3_sleep(5); /* in case it failed without waiting */
	}
	return 0;
}

/*
 * Brings the database to this binary's schema: one BEGIN IMMEDIATE
 * transaction, re-reading user_version inside it so that of several
 * processes opening an old database at once exactly one migrates.
 */
static int
migrate(sqlite3 *h, const char *path, int64_t busy_ms, char **cause)
{
	int64_t v = 0;
	int rc, ret = -BERR_DB, newer = 0, code;
	char *msg;

	rc = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return open_sqlite_error(cause, path, h, rc, busy_ms);
	if ((rc = query_int(h, "PRAGMA user_version", &v)) != SQLITE_OK)
		goto out;
	if (v > N_MIGRATIONS) {
		newer_error(cause, path, v);
		newer = 1;
		goto out;
	}
	for (; v < N_MIGRATIONS; v++) {
		rc = sqlite3_exec(h, migrations[v].sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto out;
		rc = sqlite3_exec(h, migrations[v].set_version, NULL, NULL,
				  NULL);
		if (rc != SQLITE_OK)
			goto out;
	}
	rc = sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		ret = 0;
out:
	if (ret != 0 && !newer) {
		code = sqlite3_extended_errcode(h);
		msg = sqlite_msg(h, code, busy_ms);
		/* Say which migration broke, unless the cause is the
		 * disk or a lock rather than the SQL. */
		switch (code & 0xff) {
		case SQLITE_FULL:
		case SQLITE_BUSY:
		case SQLITE_LOCKED:
		case SQLITE_CORRUPT:
		case SQLITE_NOTADB:
		case SQLITE_READONLY:
		case SQLITE_IOERR:
			open_error(cause, path, msg);
			break;
		default:
			*cause = xasprintf("cannot open database %s: migrating "
					   "to schema %lld: %s",
					   path, (long long)v + 1, msg);
		}
		free(msg);
	}
	/* An error (disk full, busy on COMMIT) can leave it open. */
	if (ret != 0 && !sqlite3_get_autocommit(h))
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/*
 * Reads only: a file that is not a database, a corrupt schema, an
 * exclusive lock and a newer schema all show up here, before the
 * switch to WAL (which writes) could change anything.  *v is the
 * schema version.  Returns 0 or -BERR_DB with *cause.
 */
static int
read_version(sqlite3 *h, const char *path, int64_t busy_ms, int64_t *v,
	     char **cause)
{
	int64_t n;
	int rc;

	rc = query_int(h, "SELECT count(*) FROM sqlite_schema", &n);
	if (rc == SQLITE_OK)
		rc = query_int(h, "PRAGMA user_version", v);
	if (rc != SQLITE_OK)
		return open_sqlite_error(cause, path, h, rc, busy_ms);
	if (*v > N_MIGRATIONS)
		return newer_error(cause, path, *v);
	if (*v < 0) {
		*cause = xasprintf("cannot open database %s: unknown schema "
				   "version %lld",
				   path, (long long)*v);
		return -BERR_DB;
	}
	return 0;
}

/* WAL (for a file) and the connection's pragmas.  Returns 0 or -BERR_DB
 * with *cause. */
static int
set_pragmas(sqlite3 *h, const char *path, int memory, int64_t busy_ms,
	    const struct store_options *opts, char **cause)
{
	int rc;

	if (!memory && use_wal(h, path, busy_ms, cause) != 0)
		return -BERR_DB;
	rc = sqlite3_exec(h,
			  opts != NULL && opts->synchronous_full
				  ? "PRAGMA synchronous = FULL"
				  : "PRAGMA synchronous = NORMAL",
			  NULL, NULL, NULL);
	/* 2 MiB of page cache per connection: a long `work` would fill a
	 * bigger one, and peak RSS would grow with the database, at no
	 * measurable gain in speed (bench/notes.md). */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h,
				  "PRAGMA foreign_keys = ON;"
				  "PRAGMA temp_store = MEMORY;"
				  "PRAGMA cache_size = -2048;"
				  /* a log emptied by a checkpoint is cut
				   * back to this, not kept at its peak
				   * (SPEC §5) */
				  "PRAGMA journal_size_limit = " WAL_LIMIT,
				  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return open_sqlite_error(cause, path, h, rc, busy_ms);
	return 0;
}

/* Did h fail for want of space?  (The -shm or -wal could not grow.) */
static int
failed_full(sqlite3 *h)
{
	int e = sqlite3_system_errno(h);

	return e == ENOSPC || e == EDQUOT ||
	       (sqlite3_extended_errcode(h) & 0xff) == SQLITE_FULL;
}

/*
 * The database at real (already checked by prepare_file) opened
 * read-only and immutable: no -wal, -shm or lock is touched, so it
 * works on a full disk; what a writer has not checkpointed yet is not
 * seen.  Only a database of this binary's schema.  NULL if it fails.
 */
static sqlite3 *
open_snapshot(const char *real)
{
	struct strbuf uri;
	sqlite3 *h = NULL;
	const char *p;
	int64_t v = -1;

	strbuf_init(&uri);
	strbuf_adds(&uri, "file:");
	for (p = real; *p != '\0'; p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			strbuf_addf(&uri, "%%%02X", (unsigned char)*p);
		else
			strbuf_add(&uri, p, 1);
	}
	strbuf_adds(&uri, "?immutable=1");
	pthread_once(&config_once, sqlite_config);
	if (sqlite3_open_v2(uri.buf, &h,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
				    SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    query_int(h, "PRAGMA user_version", &v) != SQLITE_OK ||
	    v != N_MIGRATIONS) {
		sqlite3_close(h);
		h = NULL;
	}
	strbuf_release(&uri);
	return h;
}

/*
 * Opens the database: file checks first (nothing is created or changed
 * for a refusal), then read the schema and user_version before anything
 * writes, then the pragmas and migrations.  *out is the caller's to
 * store_close().
 */
int
sqlite_store_open(struct store **out, const char *path,
		  const struct store_options *opts, char **cause)
{
	struct open_ctx oc = {0};
	struct db *db = NULL;
	sqlite3 *h = NULL;
	int64_t busy_ms = DEFAULT_BUSY_TIMEOUT_MS, v = 0;
	int rc, memory, ret = -BERR_DB, os_err = 0;
	char *real = NULL;
	const char *bad;

	*out = NULL;
	if (opts != NULL && opts->busy_timeout_ms > 0)
		busy_ms = opts->busy_timeout_ms;
	if (busy_ms > INT_MAX)
		busy_ms = INT_MAX;
	if (path == NULL || *path == '\0') {
		*cause = xstrdup("cannot open database: empty path");
		return -BERR_DB;
	}
	memory = strcmp(path, ":memory:") == 0;
	if (opts != NULL) {
		oc.create_dir = opts->create_dir;
		oc.shared_group = opts->shared_group;
	}
	if (!memory && prepare_file(path, &oc, &real, cause) != 0) {
		os_err = errno;
		goto out;
	}

	pthread_once(&config_once, sqlite_config);
	rc = sqlite3_open_v2(memory ? path : real, &h,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		open_sqlite_error(cause, path, h, rc, busy_ms);
		goto out;
	}
	sqlite3_extended_result_codes(h, 1);
	sqlite3_busy_timeout(h, (int)busy_ms);
	if (!memory && (bad = check_header(h)) != NULL) {
		open_error(cause, path, bad);
		goto out;
	}
	if (read_version(h, path, busy_ms, &v, cause) != 0 ||
	    set_pragmas(h, path, memory, busy_ms, opts, cause) != 0)
		goto out;
	if (v < N_MIGRATIONS && migrate(h, path, busy_ms, cause) != 0)
		goto out;

	if (!memory)
		tighten_files(real, &oc);
ok:
	db = xcalloc(1, sizeof *db);
	db->base.impl = &sqlite_store_impl;
	db->h = h;
	db->busy_ms = busy_ms;
	db->write_lock = opts != NULL ? opts->write_lock : NULL;
	db->path = xstrdup(path);
	h = NULL;
	*out = &db->base;
	ret = 0;
out:
	if (ret != 0 && h != NULL && !memory && opts != NULL &&
	    opts->snapshot != NULL && failed_full(h)) {
		sqlite3_close(h);
		if ((h = open_snapshot(real)) != NULL) {
			*opts->snapshot = 1;
			free(*cause);
			*cause = NULL;
			goto ok;
		}
	}
	if (ret != 0 && h != NULL)
		os_err = sqlite3_system_errno(h);
	if (h != NULL)
		sqlite3_close(h);
	free(real);
	/* for a caller that waits out a lack of descriptors (store.h) */
	errno = ret != 0 ? os_err : errno;
	return ret;
}

/* Finalizes the cached statements and closes; NULL-safe. */
void
sqlite_close(struct store *store)
{
	struct db *db = (struct db *)store;
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < DB_STMT_CACHE; i++)
		sqlite3_finalize(db->cache[i].stmt);
	if (db->in_txn || !sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	write_unlock(db);
	sqlite3_close(db->h);
	for (i = 0; i < DB_SAVEPOINT_SQL; i++)
		free(db->savepoint_sql[i]);
	free(db->path);
	free(db);
}

/* The path given to sqlite_store_open(); borrowed. */
const char *
sqlite_path(const struct store *store)
{
	const struct db *db = (const struct db *)store;
	return db->path;
}

static size_t
cache_slot(const char *sql)
{
	uint64_t x = (uint64_t)(uintptr_t)sql;

	/* Fibonacci hashing; string literals are not well spread. */
	x *= UINT64_C(0x9e3779b97f4a7c15);
	return (size_t)(x >> 32) % DB_STMT_CACHE;
}

/*
 * The cached statement for sql (keyed by its address), reset with no
 * bindings; prepared on first use.  NULL with *cause on error.
 */
sqlite3_stmt *
db_stmt(struct db *db, const char *sql, char **cause)
{
	size_t i, slot = 0, start = cache_slot(sql);
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	int rc;

	for (i = 0; i < DB_STMT_CACHE; i++) {
		slot = (start + i) % DB_STMT_CACHE;
		if (db->cache[slot].sql == sql) {
			st = db->cache[slot].stmt;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
		if (db->cache[slot].sql == NULL)
			break;
	}
	if (i == DB_STMT_CACHE)
		fatal("statement cache full (%d statements)", DB_STMT_CACHE);
	rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
				&tail);
	if (rc != SQLITE_OK) {
		db_fail(db, "cannot prepare statement", cause);
		return NULL;
	}
	if (st == NULL)
		fatal("empty SQL statement: \"%s\"", sql);
	while (tail != NULL && isspace((unsigned char)*tail))
		tail++;
	if (tail != NULL && *tail != '\0')
		fatal("more than one SQL statement in \"%s\"", sql);
	db->cache[slot].sql = sql;
	db->cache[slot].stmt = st;
	return st;
}

/*
 * Steps st until SQLITE_DONE (rows, e.g. from RETURNING, are skipped)
 * and resets it.  0, or -BERR_DB with *cause "what: message".
 */
int
db_step_count(struct db *db, sqlite3_stmt *st, int64_t *n, const char *what,
	      char **cause)
{
	int rc = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(db, what, cause);
	sqlite3_reset(st);
	return rc;
}

int
db_step_done(struct db *db, sqlite3_stmt *st, const char *what, char **cause)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		db_fail(db, what, cause);
		sqlite3_reset(st);
		return -BERR_DB;
	}
	sqlite3_reset(st);
	return 0;
}

int
db_step_fenced(struct db *db, sqlite3_stmt *st, int64_t epoch, const char *what,
	       char **cause)
{
	if (db_step_done(db, st, what, cause) != 0)
		return -BERR_DB;
	if (epoch != 0 && sqlite3_changes(db->h) == 0) {
		*cause = xasprintf("%s: lost lease", what);
		return -BERR_LEASE;
	}
	return 0;
}

/* Binds a copy of s, or NULL. */
void
db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	int rc;

	if (s == NULL)
		rc = sqlite3_bind_null(st, idx);
	else
		rc = sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
	/* The copy SQLITE_TRANSIENT makes can fail: a value silently
	 * bound NULL would be stored as NULL (issue 13 #11). */
	if (rc == SQLITE_NOMEM)
		oom();
	if (rc != SQLITE_OK)
		fatal("binding parameter %d: %s", idx, sqlite3_errstr(rc));
}

const char *
db_col_cstr(sqlite3_stmt *st, int col)
{
	const unsigned char *t;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	if ((t = sqlite3_column_text(st, col)) == NULL)
		oom();
	return (const char *)t;
}

/* A copy of the column (NULL for SQL NULL); caller frees. */
char *
db_col_text(sqlite3_stmt *st, int col)
{
	const char *t = db_col_cstr(st, col);
	size_t n;
	char *s;

	if (t == NULL)
		return NULL;
	n = (size_t)sqlite3_column_bytes(st, col);
	s = xmalloc(n + 1);
	memcpy(s, t, n);
	s[n] = '\0';
	return s;
}

/*
 * Takes the process's write lock, waiting at most the busy timeout as
 * SQLite would for another process.  0, or -BERR_DB with *cause.
 */
static int
write_lock(struct db *db, char **cause)
{
	struct timespec until;
	char *d;
	int rc;

	if (db->write_lock == NULL)
		return 0;
	/* Free nearly always: no clock read then. */
	if (pthread_mutex_trylock(db->write_lock) == 0) {
		db->holds_write_lock = 1;
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(db->busy_ms / 1000);
	until.tv_nsec += (long)(db->busy_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	if ((rc = pthread_mutex_timedlock(db->write_lock, &until)) != 0) {
		d = duration_format(db->busy_ms);
		db->busy = 1;
		*cause = xasprintf("cannot begin transaction: database is "
				   "locked (waited %s)",
				   d);
		free(d);
		return -BERR_DB;
	}
	db->holds_write_lock = 1;
	return 0;
}

static void
write_unlock(struct db *db)
{
	if (db->holds_write_lock) {
		db->holds_write_lock = 0;
		pthread_mutex_unlock(db->write_lock);
	}
}

static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";

/*
 * Starts a write transaction.  Contention waits for the busy timeout;
 * past it the error says "database is locked".  Nesting is an error.
 */
int
sqlite_begin(struct store *store, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	db->busy = 0;
	if (db->in_txn || !sqlite3_get_autocommit(db->h)) {
		*cause = xstrdup("cannot begin transaction: one is already "
				 "open");
		return -BERR_DB;
	}
	if ((st = db_stmt(db, sql_begin, cause)) == NULL)
		return -BERR_DB;
	if (write_lock(db, cause) != 0)
		return -BERR_DB;
	if (db_step_done(db, st, "cannot begin transaction", cause) != 0) {
		write_unlock(db);
		return -BERR_DB;
	}
	db->in_txn = 1;
	return 0;
}

/*
 * Commits the open transaction.  On failure the transaction is rolled
 * back, so afterwards none is open either way.
 */
int
sqlite_commit(struct store *store, char **cause)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;

	if (!db->in_txn) {
		*cause = xstrdup("cannot commit: no transaction is open");
		return -BERR_DB;
	}
	if ((st = db_stmt(db, sql_commit, cause)) == NULL) {
		sqlite_rollback(&db->base);
		return -BERR_DB;
	}
	if (db_step_done(db, st, "cannot commit", cause) != 0) {
		sqlite_rollback(&db->base);
		return -BERR_DB;
	}
	db->in_txn = 0;
	write_unlock(db);
	db->commits++;
	return 0;
}

/* Rolls back the open transaction, if any; NULL-safe. */
void
sqlite_rollback(struct store *store)
{
	struct db *db = (struct db *)store;
	sqlite3_stmt *st;
	char *cause = NULL;

	if (db == NULL)
		return;
	db->in_txn = 0;
	if (sqlite3_get_autocommit(db->h)) {
		write_unlock(db);
		return;
	}
	if ((st = db_stmt(db, sql_rollback, &cause)) == NULL ||
	    db_step_done(db, st, NULL, &cause) != 0) {
		/* Statements still running keep it open; close them. */
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	}
	write_unlock(db);
	free(cause);
}

/*
 * PRAGMA integrity_check: *ok 1 if it said "ok", else 0 with its lines
 * in *report (caller frees).
 */
int
sqlite_integrity_check(struct store *store, int *ok, char **report,
		       char **cause)
{
	struct db *db = (struct db *)store;
	static const char sql[] = "PRAGMA integrity_check";
	struct strbuf sb;
	sqlite3_stmt *st;
	const char *t;
	int rc, rows = 0;

	*ok = 0;
	*report = NULL;
	if ((st = db_stmt(db, sql, cause)) == NULL)
		return -BERR_DB;
	strbuf_init(&sb);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = db_col_cstr(st, 0);
		if (rows++ > 0)
			strbuf_adds(&sb, "\n");
		strbuf_adds(&sb, t != NULL ? t : "");
	}
	if (rc != SQLITE_DONE) {
		db_fail(db, "cannot check database integrity", cause);
		sqlite3_reset(st);
		strbuf_release(&sb);
		return -BERR_DB;
	}
	sqlite3_reset(st);
	if (rows == 1 && strcmp(sb.buf, "ok") == 0) {
		*ok = 1;
		strbuf_release(&sb);
	} else
		*report = strbuf_detach(&sb);
	return 0;
}

/* Write transactions committed through db_commit() on this connection. */
uint64_t
sqlite_commits(const struct store *store)
{
	const struct db *db = (const struct db *)store;
	return db->commits;
}

/*
 * The write-ahead log's size and, after a checkpoint, its frames.  The
 * checkpoint runs with no busy wait (a TRUNCATE one would otherwise
 * wait the whole busy timeout for a reader that may hold on for hours)
 * and under this process's write lock, so that our own threads queue
 * for it rather than meet SQLITE_BUSY.
 */
int
sqlite_wal(struct store *store, enum store_checkpoint mode, struct store_wal *w,
	   char **cause)
{
	struct db *db = (struct db *)store;
	struct stat st;
	char *wal;
	int rc = SQLITE_OK, log = -1, done = -1, m;

	memset(w, 0, sizeof *w);
	w->frames = w->checkpointed = -1;
	if (mode != STORE_CKPT_NONE && !db->in_txn) {
		m = mode == STORE_CKPT_TRUNCATE ? SQLITE_CHECKPOINT_TRUNCATE
						: SQLITE_CHECKPOINT_PASSIVE;
		if (write_lock(db, cause) != 0)
			return -BERR_DB;
		sqlite3_busy_timeout(db->h, 0);
		rc = sqlite3_wal_checkpoint_v2(db->h, NULL, m, &log, &done);
		sqlite3_busy_timeout(db->h, (int)db->busy_ms);
		write_unlock(db);
		if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
			w->busy = 1;
		else if (rc != SQLITE_OK)
			return db_fail(db, "cannot checkpoint the database",
				       cause);
		w->frames = log;
		w->checkpointed = done;
		if (log > done)
			w->busy = 1;
	}
	wal = xasprintf("%s-wal", db->path);
	if (stat(wal, &st) == 0)
		w->bytes = (int64_t)st.st_size;
	free(wal);
	return 0;
}

int
sqlite_busy(const struct store *store)
{
	return ((const struct db *)store)->busy;
}
