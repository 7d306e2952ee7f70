/* realpath() is XSI. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/xmalloc.h"

static void
close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/*
 * Every file baton reads back (an agent's result file and transcripts,
 * its own logs, which an agent can reach) must be a regular file (SPEC
 * §3): never followed through a symlink, and never able to block.
 * O_NONBLOCK makes open() of a FIFO return at once instead of waiting
 * for a writer; the fstat() then refuses it.  Returns the fd, or -1
 * with errno (ELOOP: a symlink; FILE_ENOTREG: not a regular file).
 */
int
file_open_read(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path,
		  O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) != 0) {
		close_keep_errno(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : FILE_ENOTREG;
		return -1;
	}
	return fd;
}

/* read() that retries on EINTR; returns bytes read, 0 at EOF, -1. */
static ssize_t
read_some(int fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r == -1 && errno == EINTR);
	return r;
}

const char *
file_strerror(int err)
{
	switch (err) {
	case ELOOP:
		return "is a symbolic link (not followed)";
	case FILE_ENOTREG:
		return "not a regular file";
	case EEXIST:
		return "already exists (not overwritten)";
	}
	return xstrerror(err); /* ENOMEM: oom() */
}

/*
 * Wait until fd (non-blocking) has something to read; a signal ends
 * the wait with EINTR rather than being retried, so that it can stop
 * baton.  0 or -1 with errno.
 */
static int
wait_readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, -1) == -1)
		return -1;
	return 0;
}

/*
 * All of fd (which it closes), NUL-terminated, into a buffer the
 * caller frees; *len (if given) excludes the NUL.  A non-blocking fd
 * (a pipe) is waited for with wait_readable().  NULL with errno set
 * (EFBIG if larger than max).
 */
static char *
read_fd(int fd, size_t max, size_t *len)
{
	size_t n = 0, cap = 4096;
	char *buf;
	ssize_t r;

	buf = xmalloc(cap);
	for (;;) {
		if (cap - n < 2) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN && wait_readable(fd) == 0)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;

fail:
	close_keep_errno(fd);
	free(buf);
	return NULL;
}

/*
 * Whole file, NUL-terminated, caller frees; *len (if given) excludes the
 * NUL.  NULL with errno set (EFBIG if larger than max).
 */
char *
file_read(const char *path, size_t max, size_t *len)
{
	int fd;

	if ((fd = file_open_read(path)) == -1)
		return NULL;
	return read_fd(fd, max, len);
}

char *
file_read_input(const char *path, size_t max, size_t *len)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: open() of a FIFO does not wait for a writer, and a
	 * read with none gives EOF. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) != 0) {
		close_keep_errno(fd);
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return NULL;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	return read_fd(fd, max, len);
}

/* The last max bytes of a file (all of it if shorter); caller frees. */
char *
file_read_tail(const char *path, size_t max)
{
	struct stat st;
	size_t n = 0, cap;
	char *buf;
	ssize_t r;
	int fd;

	if ((fd = file_open_read(path)) == -1)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uintmax_t)st.st_size > max)
		lseek(fd, st.st_size - (off_t)max, SEEK_SET);
	/* Read in a window of 2*max so a file that grows or a pipe still
	 * leaves just its last max bytes. */
	cap = 2 * max + 2;
	buf = xmalloc(cap);
	for (;;) {
		r = read_some(fd, buf + n, cap - n - 1);
		if (r == -1) {
			close_keep_errno(fd);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max && cap - n - 1 == 0) {
			memmove(buf, buf + n - max, max);
			n = max;
		}
	}
	close(fd);
	if (n > max) {
		memmove(buf, buf + n - max, max);
		n = max;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * The first line without its newline (or "\r\n"), cut at max bytes;
 * caller frees.  NULL with errno if unreadable, ENODATA if empty.
 */
char *
file_read_first_line(const char *path, size_t max)
{
	size_t n = 0;
	char *buf, *nl;
	ssize_t r;
	int fd;

	if ((fd = file_open_read(path)) == -1)
		return NULL;
	buf = xmalloc(max + 1);
	while (n < max) {
		r = read_some(fd, buf + n, max - n);
		if (r == -1) {
			close_keep_errno(fd);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		if (memchr(buf + n, '\n', (size_t)r) != NULL) {
			n += (size_t)r;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (n == 0) {
		free(buf);
		errno = ENODATA;
		return NULL;
	}
	buf[n] = '\0';
	if ((nl = memchr(buf, '\n', n)) != NULL) {
		*nl = '\0';
		n = (size_t)(nl - buf);
	}
	if (n > 0 && buf[n - 1] == '\r')
		buf[n - 1] = '\0';
	return buf;
}

int
file_create(const char *path, int extra_flags)
{
	int fd;

	do
		fd = open(path,
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
				  extra_flags,
			  0600);
	while (fd == -1 && errno == EINTR);
	if (fd == -1)
		return -1;
	/* The umask may have taken bits away (it cannot add any). */
	if (fchmod(fd, 0600) != 0) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/*
 * Creates path (never one that exists, never through a symlink) with
 * mode 0600 and writes all of buf.  Returns 0 or -1 with errno.
 */
int
file_write(const char *path, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t w;
	int fd;

	if ((fd = file_create(path, 0)) == -1)
		return -1;
	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			close_keep_errno(fd);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	if (close(fd) != 0)
		return -1;
	return 0;
}

static int
mkdir_failed(const char *path)
{
	struct stat st;

	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int
mkdir_one(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		return chmod(path, mode); /* whatever the umask */
	return mkdir_failed(path);
}

/*
 * Creates path and its missing parents; only the directories it creates
 * get mode (exactly, whatever the umask).  0, or -1 with errno.
 */
int
file_mkdir_p(const char *path, unsigned int mode)
{
	char *copy, *p;
	int rc = -1;

	if (path == NULL || *path == '\0') {
		errno = ENOENT;
		return -1;
	}
	/* Usually only the last component is missing: try it first. */
	if (mkdir(path, mode) == 0)
		return chmod(path, mode);
	if (errno != ENOENT)
		return mkdir_failed(path);
	copy = xstrdup(path);
	for (p = copy + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir_one(copy, mode) != 0)
			goto out;
		*p = '/';
	}
	rc = mkdir_one(copy, mode);
out:
	free(copy);
	return rc;
}

int
file_mkdir_own(const char *path, unsigned int mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return chmod(path, mode); /* whatever the umask */
	if (errno != EEXIST)
		return -1;
	if (lstat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (st.st_uid != geteuid()) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static void
usage_add(struct file_usage *u, const struct stat *st)
{
	if (u == NULL)
		return;
	if (S_ISDIR(st->st_mode))
		u->dirs++;
	else
		u->files++;
	u->bytes += (int64_t)st->st_blocks * 512;
}

/* Empty directory fd (which it closes) of every entry, depth first. */
static int
remove_below(int fd, int dry_run, struct file_usage *u)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	struct stat st;
	int sub, rc = 0, saved = 0;

	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT)
				rc = -1, saved = errno;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			sub = openat(fd, e->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
			if (sub == -1 || remove_below(sub, dry_run, u) != 0) {
				rc = -1, saved = errno;
				continue;
			}
		}
		if (!dry_run &&
		    unlinkat(fd, e->d_name,
			     S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
		    errno != ENOENT) {
			rc = -1, saved = errno;
			continue;
		}
		usage_add(u, &st);
	}
	if (errno != 0 && rc == 0)
		rc = -1, saved = errno;
	closedir(d);
	errno = saved;
	return rc;
}

int
file_remove_tree(const char *path, int dry_run, struct file_usage *u)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		fd = open(path,
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1 || remove_below(fd, dry_run, u) != 0)
			return -1;
		if (!dry_run && rmdir(path) != 0 && errno != ENOENT)
			return -1;
	} else if (!dry_run && unlink(path) != 0 && errno != ENOENT)
		return -1;
	usage_add(u, &st);
	return 0;
}
