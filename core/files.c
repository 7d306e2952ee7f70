/*
 * The directory of a database's files (SPEC §9); see files.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/baton.h"
#include "core/files.h"
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
