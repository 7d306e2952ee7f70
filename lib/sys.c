#include <sys/utsname.h>

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
