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
