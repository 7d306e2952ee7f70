#ifndef BATON_LIB_FILE_H
#define BATON_LIB_FILE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* errno of a read refused because the path is not a regular file. */
#define FILE_ENOTREG ENODEV

/*
 * strerror() for the errors of these functions, saying what they mean
 * here: ELOOP "is a symbolic link (not followed)", FILE_ENOTREG "not a
 * regular file", EEXIST "already exists (not overwritten)".
 */
const char *file_strerror(int err);

/*
 * The readers below are for files baton reads back after an agent could
 * have touched them (result files, transcripts, logs: SPEC §3): the
 * path must name a regular file, opened O_NOFOLLOW|O_NONBLOCK, so that
 * a symlink (ELOOP) or a FIFO, socket or device (FILE_ENOTREG) is
 * refused at once and nothing can block.
 *
 * Read a whole small file (at most max bytes; more is an error).
 * Returns a NUL-terminated buffer the caller frees, or NULL with errno set.
 */
char *file_read(const char *path, size_t max, size_t *len);
/* The same checks, for a caller that reads itself: the fd (O_CLOEXEC,
 * O_NONBLOCK, read-only) or -1 with errno. */
int file_open_read(const char *path);
/*
 * A file the user named (--config, add --from FILE, a prompt file):
 * symlinks are followed and a pipe is read (bash's <(...) is a
 * /dev/fd/N symlink to one), but nothing blocks uninterruptibly: a FIFO
 * with no writer reads as empty, and a signal while waiting for a slow
 * writer ends the read with EINTR.  Otherwise as file_read().
 */
char *file_read_input(const char *path, size_t max, size_t *len);
/* The last max bytes of a file (NUL-terminated, caller frees), or NULL with errno. */
char *file_read_tail(const char *path, size_t max);
/* The first line of a file, without newline, at most max bytes; NULL if none. */
char *file_read_first_line(const char *path, size_t max);
/*
 * Create path (mode 0600, O_EXCL|O_NOFOLLOW: an existing file or a
 * planted symlink is refused with EEXIST, never followed or truncated)
 * and write all of buf to it.  0 or -1 with errno.
 */
int file_write(const char *path, const void *buf, size_t len);
/* open() for a new file of baton's own: O_WRONLY|O_CREAT|O_EXCL|
 * O_NOFOLLOW|O_CLOEXEC (plus extra flags), mode 0600 whatever the
 * umask.  The fd, or -1 with errno. */
int file_create(const char *path, int extra_flags);
/*
 * mkdir one directory with mode; one that exists is fine if it is a
 * real directory (not a symlink to one) owned by us.  0 or -1 with
 * errno (ENOTDIR for a symlink or other file, EPERM for a directory of
 * another user).
 */
int file_mkdir_own(const char *path, unsigned int mode);
/* mkdir -p with the given mode for each directory it creates; 0 or -1 (errno). */
int file_mkdir_p(const char *path, unsigned int mode);

/* What a tree holds or held: regular files and the like, directories,
 * and the disk space they take (st_blocks, like du). */
struct file_usage {
	int64_t files, dirs, bytes;
};

/*
 * Remove path and everything below it, never following a symlink (one
 * is removed as it is), adding what went to *u (if not NULL).  With
 * dry_run nothing is removed and *u says what would go.  A path that
 * does not exist is not an error.  Returns 0 or -1 with errno (what
 * could be removed is gone).
 */
int file_remove_tree(const char *path, int dry_run, struct file_usage *u);

#endif
