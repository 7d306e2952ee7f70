#ifndef BATON_LIB_FILE_H
#define BATON_LIB_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read a whole small file (at most max bytes; more is an error).
 * Returns a NUL-terminated buffer the caller frees, or NULL with errno set.
 */
char *file_read(const char *path, size_t max, size_t *len);
/* The last max bytes of a file (NUL-terminated, caller frees), or NULL with errno. */
char *file_read_tail(const char *path, size_t max);
/* The first line of a file, without newline, at most max bytes; NULL if none. */
char *file_read_first_line(const char *path, size_t max);
/* Write all of buf to a new file created with mode 0600 (O_EXCL not used). */
int file_write(const char *path, const void *buf, size_t len);
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
