#include <sys/resource.h>
#include <sys/utsname.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/sys.h"
#include "lib/xmalloc.h"

static char *user_name;

static pthread_once_t user_name_once = PTHREAD_ONCE_INIT;

/*
 * The name of uid in /etc/passwd read as a plain file, or NULL.  Not
 * through NSS first: glibc's NSS set-up crashes (SIGSEGV, or an assertion
 * in nss_database.c) when an allocation fails inside it (issue 13 #11);
 * a plain read fails cleanly.  Out of memory is oom().
 */
static char *
passwd_file_name(uid_t uid)
{
	FILE *fp = fopen("/etc/passwd", "re");
	char *line = NULL, *name = NULL;
	size_t cap = 0;

	if (fp == NULL) {
		if (errno == ENOMEM)
			oom();
		return NULL;
	}
	errno = 0;
	while (name == NULL && getline(&line, &cap, fp) != -1) {
		char *c1 = strchr(line, ':'), *c2, *end;
		unsigned long u;

		if (c1 == NULL || c1 == line ||
		    (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		errno = 0;
		u = strtoul(c2 + 1, &end, 10);
		if (end == c2 + 1 || *end != ':' || errno != 0 || u != uid)
			continue;
		name = xstrndup(line, (size_t)(c1 - line));
	}
	if (name == NULL && errno == ENOMEM)
		oom();
	free(line);
	fclose(fp);
	return name;
}

/* Reads the password database (the file, else NSS) once per process. */
static void
user_name_init(void)
{
	struct passwd pw, *res = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = sz > 0 ? (size_t)sz : 1024;
	uid_t uid = getuid();
	char *buf = NULL, *name;
	int rc;

	if ((user_name = passwd_file_name(uid)) != NULL)
		return;
	for (;;) {
		buf = xrealloc(buf, len);
		rc = getpwuid_r(uid, &pw, buf, len, &res);
		if (rc != ERANGE || len > 1024 * 1024)
			break;
		len *= 2;
	}
	/* not the uid as a number for want of memory: a session's owner
	 * would change */
	if (rc == ENOMEM)
		oom();
	if (rc == 0 && res != NULL && pw.pw_name != NULL && *pw.pw_name != '\0')
		name = xstrdup(pw.pw_name);
	else
		name = xasprintf("%lu", (unsigned long)uid);
	free(buf);
	user_name = name;
}

/* The login name of the real uid, or the uid as a number; caller frees. */
char *
sys_user_name(void)
{
	pthread_once(&user_name_once, user_name_init);
	return xstrdup(user_name);
}

/* This host's name (or "localhost" if it has none); caller frees. */
char *
sys_host_name(void)
{
	char buf[256];
	struct utsname u;

	if (gethostname(buf, sizeof buf) == 0) {
		buf[sizeof buf - 1] = '\0';
		if (buf[0] != '\0')
			return xstrdup(buf);
	}
	if (uname(&u) == 0 && u.nodename[0] != '\0')
		return xstrdup(u.nodename);
	return xstrdup("localhost");
}

/* Non-zero if process pid has real (a resolved path) open. */
static int
has_open(const char *pid, const char *real)
{
	char dir[64], link[PATH_MAX], *fd;
	struct dirent *e;
	ssize_t n;
	DIR *d;
	int found = 0;

	snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		fd = xasprintf("%s/%s", dir, e->d_name);
		n = readlink(fd, link, sizeof link - 1);
		free(fd);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, real) == 0;
	}
	closedir(d);
	return found;
}

/* See sys.h. */
int
sys_file_openers(const char *path, struct strvec *out, int max)
{
	char *real = realpath(path, NULL), *comm, *f;
	char self[32];
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (real == NULL)
		return 0;
	snprintf(self, sizeof self, "%ld", (long)getpid());
	if ((d = opendir("/proc")) == NULL) {
		free(real);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' ||
		    strcmp(e->d_name, self) == 0 || !has_open(e->d_name, real))
			continue;
		if (n++ >= max)
			continue;
		f = xasprintf("/proc/%s/comm", e->d_name);
		comm = file_read_first_line(f, 64);
		free(f);
		strvec_pushf(out, "%s (%s)", e->d_name,
			     comm != NULL ? comm : "?");
		free(comm);
	}
	closedir(d);
	free(real);
	return n;
}

int
sys_resource_errno(int err)
{
	return err == EMFILE || err == ENFILE || err == EAGAIN || err == ENOMEM;
}

/* The soft limit of resource as text, or NULL if unlimited/unknown. */
static char *
limit_of(int resource)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return NULL;
	return xasprintf("%llu", (unsigned long long)rl.rlim_cur);
}

char *
sys_resource_text(int err)
{
	const char *what = NULL, *how = NULL;
	char *text, *limit = NULL, *lower, *s;

	if (err == EMFILE) {
		limit = limit_of(RLIMIT_NOFILE);
		what = "open files";
		how = "ulimit -n";
	} else if (err == EAGAIN) {
		limit = limit_of(RLIMIT_NPROC);
		what = "processes";
		how = "ulimit -u";
	} else if (err == ENOMEM) {
		limit = limit_of(RLIMIT_AS);
		what = "address space (KiB)";
		how = "ulimit -v";
		if (limit != NULL) {
			s = xasprintf("%llu", strtoull(limit, NULL, 10) / 1024);
			free(limit);
			limit = s;
		}
	}
	lower = xstrdup(strerror(err));
	if (lower[0] >= 'A' && lower[0] <= 'Z')
		lower[0] = (char)(lower[0] - 'A' + 'a');
	if (err == ENFILE)
		text = xasprintf("%s (the system-wide limit, fs.file-max)",
				 lower);
	else if (limit != NULL)
		text = xasprintf("%s (the limit on %s, %s, is %s)", lower, what,
				 how, limit);
	else
		text = xstrdup(lower);
	free(lower);
	free(limit);
	return text;
}
