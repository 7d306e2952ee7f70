/*
 * The directory of a database's files (SPEC §9); see files.h.
 */
#define _GNU_SOURCE /* getdents64() */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/baton.h"
#include "core/files.h"
#include "core/session.h"
#include "db/store.h"
#include "lib/err.h"
#include "lib/file.h"
#include "lib/id.h"
#include "lib/xmalloc.h"

/* Move <state>/<sub> of the old layout to <files>/<sub>: 0 or -1. */
static int
move_one(struct baton *b, const char *sub, char **warning)
{
	char *from = xasprintf("%s/%s", b->state_dir, sub);
	char *to = xasprintf("%s/%s", b->files_dir, sub);
	struct stat st;
	int rc = 0;

	if (lstat(from, &st) != 0 || !S_ISDIR(st.st_mode))
		goto out; /* nothing to move */
	if (lstat(to, &st) == 0) {
		*warning = xasprintf("files of the old layout left in %s: "
				     "%s exists already",
				     from, to);
		rc = -1;
		goto out;
	}
	if (file_mkdir_own(b->files_dir, 0700) != 0 || rename(from, to) != 0) {
		*warning = xasprintf("cannot move %s to %s: %s", from, to,
				     file_strerror(errno));
		rc = -1;
	}
out:
	free(from);
	free(to);
	return rc;
}

/* The old shared layout's logs/ and sessions/ into our directory. */
static void
move_legacy_files(struct baton *b, char **warning)
{
	char *cause = NULL;

	if (move_one(b, "logs", warning) != 0 ||
	    move_one(b, "sessions", warning) != 0)
		return;
	if (store_meta_delete(b->db, "legacy_files", &cause) != 0) {
		*warning = cause;
		return;
	}
}

int
files_setup(struct baton *b, int move_legacy, char **warning, char **cause)
{
	const char *base = strrchr(b->db_path, '/');
	char *id = NULL, *legacy = NULL;
	int rc;

	*warning = NULL;
	base = base != NULL ? base + 1 : b->db_path;
	/* a URL (postgres://…) names no file: its state directory is its own
	 * already, and its tail may hold parameters not fit for a name */
	if (strstr(b->db_path, "://") != NULL)
		base = "pg";
	if ((rc = store_meta_get(b->db, "id", &id, cause)) != 0)
		return rc;
	if (id == NULL || !id_is_uuid(id)) {
		*cause = xasprintf("database %s has no valid id", b->db_path);
		free(id);
		return -BERR_DB;
	}
	free(b->files_dir);
	b->files_dir = xasprintf("%s/%s.files-%s", b->state_dir, base, id);
	free(id);
	if (!move_legacy)
		return 0;
	if ((rc = store_meta_get(b->db, "legacy_files", &legacy, cause)) != 0)
		return rc;
	if (legacy != NULL)
		move_legacy_files(b, warning);
	free(legacy);
	return 0;
}

/* Non-zero if path is a directory itself, not a symlink to one. */
static int
real_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
files_mkdir(const char *files_dir, const char *sub, const char *name, int *made,
	    char **path, char **cause)
{
	char *p = NULL;
	int rc = -1;

	*path = NULL;
	if (made != NULL && *made) {
		/* made and checked before: still no symlink in their place
		 * (SPEC §9), two lstat()s instead of the whole check */
		p = xasprintf("%s/%s", files_dir, sub);
		if (!real_dir(files_dir) || !real_dir(p))
			*made = 0;
		free(p);
		p = NULL;
	}
again:
	if (made == NULL || !*made) {
		p = xstrdup(files_dir);
		if (file_mkdir_own(p, 0700) != 0)
			goto fail;
		free(p);
		p = xasprintf("%s/%s", files_dir, sub);
		if (file_mkdir_own(p, 0700) != 0)
			goto fail;
		free(p);
		if (made != NULL)
			*made = 1;
	}
	if (name == NULL) {
		*path = xasprintf("%s/%s", files_dir, sub);
		return 0;
	}
	p = xasprintf("%s/%s/%s", files_dir, sub, name);
	if (file_mkdir_own(p, 0700) != 0) {
		/* removed since (a prune, by hand): made again */
		if (errno != ENOENT || made == NULL || !*made)
			goto fail;
		*made = 0;
		free(p);
		goto again;
	}
	*path = p;
	return 0;
fail:
	*cause = xasprintf("cannot create %s: %s", p,
			   errno == ENOTDIR ? "not a directory (a symlink "
					      "or a file is in the way)"
			   : errno == EPERM ? "owned by another user"
					    : file_strerror(errno));
	free(p);
	return rc;
}

/* ---- the pool of empty temp-session directories ---- */

/* At most this many kept: about one a worker is enough, as each task
 * gives one back as it ends and the next takes one as it starts. */
#define FREE_DIRS_MAX 64

static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;

/* Is the directory fd empty (only "." and "..")?  Made 0700 on the way
 * (its agent may have changed it).  fd is closed.  One getdents64():
 * with room for any third entry after the two, the kernel would have
 * put it in (readdir() calls it again to see the end: one system call
 * more a task). */
static int
dir_empty(int fd)
{
	union {
		char b[1024];
		uint64_t align;
	} u;
	ssize_t n =
		fchmod(fd, 0700) == 0 ? getdents64(fd, u.b, sizeof u.b) : -1;
	ssize_t at = 0;
	const struct dirent64 *e;
	int empty = n >= 0 && n <= (ssize_t)sizeof u.b - 512;

	while (empty && at < n) {
		e = (const struct dirent64 *)(u.b + at);
		empty = e->d_reclen > 0 && (strcmp(e->d_name, ".") == 0 ||
					    strcmp(e->d_name, "..") == 0);
		at += e->d_reclen;
	}
	close(fd);
	return empty;
}

/* What pool entry path holds, removed: a directory with what is in it,
 * or a file or symlink in its place (never followed). */
static void
discard(const char *path)
{
	(void)file_remove_tree(path, 0, NULL);
}

/* Does the pool hold any? */
static int
have_free(struct baton *b)
{
	int any;

	pthread_mutex_lock(&free_lock);
	any = b->nfree_dirs > 0;
	pthread_mutex_unlock(&free_lock);
	return any;
}

/* Take a pooled directory as sessions/<id>: 0, or -1 (none fit). */
static int
take_free(struct baton *b, const char *id)
{
	char *name = NULL, *from, *to;
	int fd, rc = -1;

	pthread_mutex_lock(&free_lock);
	if (b->nfree_dirs > 0)
		name = b->free_dirs[--b->nfree_dirs];
	pthread_mutex_unlock(&free_lock);
	if (name == NULL)
		return -1;
	from = xasprintf("%s/sessions/%s", b->files_dir, name);
	to = xasprintf("%s/sessions/%s", b->files_dir, id);
	fd = open(from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* a leftover of its agent's may have written in it since */
	if (fd >= 0 && dir_empty(fd) && rename(from, to) == 0)
		rc = 0;
	else
		discard(from);
	free(from);
	free(to);
	free(name);
	return rc;
}

int
files_session_dir(struct baton *b, const char *id, int *made, char **path,
		  char **cause)
{
	char *sessions;
	int ok;

	if (*made && have_free(b)) {
		/* as files_mkdir(): still no symlink in their place */
		sessions = xasprintf("%s/sessions", b->files_dir);
		ok = real_dir(b->files_dir) && real_dir(sessions);
		free(sessions);
		if (ok && take_free(b, id) == 0) {
			*path = xasprintf("%s/sessions/%s", b->files_dir, id);
			return 0;
		}
	}
	return files_mkdir(b->files_dir, "sessions", id, made, path, cause);
}

int
files_session_dir_done(struct baton *b, const char *id)
{
	char *from, *to, *name = NULL;
	int kept = 0;

	if (!id_is_uuid(id)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&free_lock);
	if (b->nfree_dirs < FREE_DIRS_MAX)
		name = xasprintf(".free-%ld-%u", (long)getpid(), b->free_seq++);
	pthread_mutex_unlock(&free_lock);
	if (name != NULL) {
		from = xasprintf("%s/sessions/%s", b->files_dir, id);
		to = xasprintf("%s/sessions/%s", b->files_dir, name);
		/* whatever is there: take_free() checks it */
		kept = rename(from, to) == 0;
		free(from);
		free(to);
	}
	if (kept) {
		/* the cap was looked at before the rename: workers giving
		 * theirs back at once may take it one each past it */
		pthread_mutex_lock(&free_lock);
		b->free_dirs = xreallocarray(b->free_dirs, b->nfree_dirs + 1,
					     sizeof *b->free_dirs);
		b->free_dirs[b->nfree_dirs++] = name;
		pthread_mutex_unlock(&free_lock);
		return 0;
	}
	free(name);
	return session_dir_remove(b->files_dir, id);
}

void
files_session_dirs_drain(struct baton *b)
{
	char *path;

	pthread_mutex_lock(&free_lock);
	while (b->nfree_dirs > 0) {
		path = xasprintf("%s/sessions/%s", b->files_dir,
				 b->free_dirs[--b->nfree_dirs]);
		free(b->free_dirs[b->nfree_dirs]);
		if (rmdir(path) != 0 && errno != ENOENT)
			discard(path);
		free(path);
	}
	free(b->free_dirs);
	b->free_dirs = NULL;
	pthread_mutex_unlock(&free_lock);
}
