#include <sys/resource.h>
#include <sys/utsname.h>

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/sys.h"
#include "lib/xmalloc.h"

static char *user_name;

static pthread_once_t user_name_once = PTHREAD_ONCE_INIT;

/* Reads the password database (a file, or NSS) once per process. */
static void
user_name_init(void)
{
	struct passwd pw, *res = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = sz > 0 ? (size_t)sz : 1024;
	uid_t uid = getuid();
	char *buf = NULL, *name = NULL;
	int rc;

	for (;;) {
		buf = xrealloc(buf, len);
		rc = getpwuid_r(uid, &pw, buf, len, &res);
		if (rc != ERANGE || len > 1024 * 1024)
			break;
		len *= 2;
	}
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
