#ifndef BATON_FILES_H
#define BATON_FILES_H

struct baton;

/*
 * The database's own directory (SPEC §9): logs/<task>/<run>.* and
 * sessions/<id>/ live in <dir of the database>/<name>.files-<id>, where
 * <id> is the UUID stored in the database.  Two databases side by side
 * never share a file, and a database created anew (a new id) never
 * reads what its predecessor of the same name left.
 *
 * Sets b->files_dir (b->db open).  A database that had files in the
 * shared layout of older releases (<dir>/logs, <dir>/sessions) gets
 * them moved into its directory once, when move_legacy is set; a move
 * that fails is put in *warning (the caller frees) and tried again the
 * next time.  Returns 0, or -BERR_DB with *cause.
 */
int files_setup(struct baton *b, int move_legacy, char **warning, char **cause);

/*
 * Create (as needed) <files_dir>/<sub>/<name> and the directories above
 * it, mode 0700, refusing any that is a symlink or not ours; name NULL:
 * <files_dir>/<sub> alone.  *path is the caller's to free.  0 or -1 with
 * *cause.
 *
 * made (may be NULL): the caller's memory that <files_dir> and
 * <files_dir>/<sub> were made or checked, set here; when it is set they
 * are only lstat()ed (still directories, not symlinks: else the whole
 * check runs again, and refuses a symlink), not made and checked with
 * six system calls a task; when <name> cannot be made for want of them
 * (a prune, by hand), they are made again.
 */
int files_mkdir(const char *files_dir, const char *sub, const char *name,
		int *made, char **path, char **cause);

/*
 * A temp session's directory, <files_dir>/sessions/<id>, as files_mkdir()
 * makes it, but taken from the directories earlier temp sessions of this
 * process left empty when it can (a rename, not an inode made and one
 * freed a task: on ext4 without a journal each directory made scans
 * past every inode freed in the last minute).  One taken is a real
 * directory (no symlink), empty, 0700; anything else found in the pool
 * is removed and a directory made instead.
 */
int files_session_dir(struct baton *b, const char *id, int *made, char **path,
		      char **cause);
/* A temp session's directory at its end: into the pool (renamed to
 * sessions/.free-<pid>-<n>, about FREE_DIRS_MAX at most), else removed as
 * session_dir_remove() does.  0, or -1 with errno. */
int files_session_dir_done(struct baton *b, const char *id);
/* Remove the pool's directories: when the process is done with them. */
void files_session_dirs_drain(struct baton *b);

#endif
