/*
 * Project config trust (SPEC §8).  A project's ./baton.yaml comes with
 * the repository it is in: someone else wrote it.  It is layered on the
 * user's own config, and it may not add or change what an agent runs
 * (an agent's kind, command, args or env, a new profile, or the
 * database, whose tasks `work` runs) until the user trusts it with
 * `baton config trust`, like direnv's allow.  Trust is recorded by the
 * file's real path and the SHA-256 of its content, one "HASH PATH" line
 * each in $XDG_CONFIG_HOME/baton/trusted: editing the file (a `git
 * pull`) makes it untrusted again.
 */
/* realpath() is XSI. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config-internal.h"
#include "lib/file.h"
#include "lib/fsafe.h"
#include "lib/sha256.h"
#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

#define MAX_TRUST_LIST (4 * 1024 * 1024)

/* See config-internal.h. */
void
cfg_copy_for_trust(struct config *dst, const struct config *src)
{
	const struct agent_profile *a;
	struct agent_profile *d;
	size_t i;

	memset(dst, 0, sizeof *dst);
	dst->db.path = xstrdup_or_null(src->db.path);
	dst->nagents = src->nagents;
	dst->agents = xcalloc(src->nagents + 1, sizeof *dst->agents);
	for (i = 0; i < src->nagents; i++) {
		a = &src->agents[i];
		d = &dst->agents[i];
		d->name = xstrdup(a->name);
		d->kind = a->kind;
		d->command = strv_dup(a->command);
		d->args = strv_dup(a->args);
		d->env = strv_dup(a->env);
	}
}

static int
strv_same(char *const *a, char *const *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return strv_len(a) == strv_len(b);
	for (i = 0; a[i] != NULL && b[i] != NULL; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	}
	return a[i] == NULL && b[i] == NULL;
}

/* The keys that decide what runs and differ between before and after. */
static void
changed_keys(const struct config *before, const struct config *after,
	     struct strvec *keys)
{
	const struct agent_profile *a, *b;
	size_t i;

	if ((before->db.path == NULL) != (after->db.path == NULL) ||
	    (after->db.path != NULL &&
	     strcmp(before->db.path, after->db.path) != 0))
		strvec_push(keys, "db.path");
	for (i = 0; i < after->nagents; i++) {
		a = &after->agents[i];
		b = config_agent(before, a->name);
		if (b == NULL) {
			strvec_pushf(keys, "agents.%s (a new profile)",
				     a->name);
			continue;
		}
		if (a->kind != b->kind)
			strvec_pushf(keys, "agents.%s.kind", a->name);
		if (!strv_same(a->command, b->command))
			strvec_pushf(keys, "agents.%s.command", a->name);
		if (!strv_same(a->args, b->args))
			strvec_pushf(keys, "agents.%s.args", a->name);
		if (!strv_same(a->env, b->env))
			strvec_pushf(keys, "agents.%s.env", a->name);
	}
}

/* See config.h. */
char *
config_trust_list_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/baton/trusted", xdg);
	if (home != NULL && home[0] != '\0')
		return xasprintf("%s/.config/baton/trusted", home);
	return NULL;
}

/*
 * The trust list, whole (empty if there is none), or NULL with *cause:
 * unreadable, or writable by someone else (who could then trust files
 * for us).
 */
static char *
read_trust_list(const char *list, char **cause)
{
	struct stat st;
	char *buf, *why;
	size_t len = 0;

	if (lstat(list, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return xstrdup("");
		*cause = xasprintf("cannot read %s: %s", list, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("cannot use %s: not a regular file", list);
		return NULL;
	}
	if ((why = fsafe_problem(&st, 0)) != NULL) {
		*cause = xasprintf("cannot use %s: it is %s; another user "
				   "could trust files for you (make it yours "
				   "and 'chmod 600' it)",
				   list, why);
		free(why);
		return NULL;
	}
	if ((buf = file_read(list, MAX_TRUST_LIST, &len)) == NULL) {
		*cause = xasprintf("cannot read %s: %s", list, strerror(errno));
		return NULL;
	}
	return buf;
}

/*
 * What the list says of real: 2 trusted with this hash, 1 trusted with
 * another (the file changed since), 0 not at all.
 */
static int
trust_state(const char *buf, const char *real, const char *hash)
{
	const char *line = buf, *nl, *sp;
	size_t rlen = strlen(real);
	int found = 0;

	for (; *line != '\0'; line = *nl ? nl + 1 : nl) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		sp = memchr(line, ' ', (size_t)(nl - line));
		if (sp == NULL || sp - line != 64 ||
		    (size_t)(nl - sp - 1) != rlen ||
		    memcmp(sp + 1, real, rlen) != 0)
			continue;
		if (memcmp(line, hash, 64) == 0)
			return 2;
		found = 1;
	}
	return found;
}

/* See config-internal.h. */
int
cfg_trust_check(const struct config *before, const struct config *after,
		const char *name, const char *buf, size_t len, char **cause)
{
	struct strvec keys;
	char hash[65], *real = NULL, *list = NULL, *tl = NULL, *what;
	int state = 0, rc = -1;

	strvec_init(&keys);
	changed_keys(before, after, &keys);
	if (keys.n == 0) {
		rc = 0;
		goto out;
	}
	sha256_hex(buf, len, hash);
	if ((real = realpath(name, NULL)) == NULL) {
		*cause = xasprintf("cannot resolve %s: %s", name,
				   strerror(errno));
		goto out;
	}
	list = config_trust_list_path();
	if (list != NULL && (tl = read_trust_list(list, cause)) == NULL)
		goto out;
	if (tl != NULL && (state = trust_state(tl, real, hash)) == 2) {
		rc = 0;
		goto out;
	}
	what = text_join((const char *const *)keys.v);
	*cause = xasprintf(
		"%s is not trusted%s and changes what agents run "
		"(%s); read it, then run 'baton config trust "
		"%s' (or name it with --config)",
		real, state == 1 ? " (it changed since you trusted it)" : "",
		what, real);
	free(what);
out:
	strvec_release(&keys);
	free(real);
	free(list);
	free(tl);
	return rc;
}

/* The list with real's line (if any) replaced by "hash real". */
static char *
updated_list(const char *old, const char *real, const char *hash)
{
	struct strbuf sb;
	const char *line = old, *nl, *sp;
	size_t rlen = strlen(real);

	strbuf_init(&sb);
	for (; *line != '\0'; line = *nl ? nl + 1 : nl) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		sp = memchr(line, ' ', (size_t)(nl - line));
		if (sp != NULL && (size_t)(nl - sp - 1) == rlen &&
		    memcmp(sp + 1, real, rlen) == 0)
			continue;
		if (nl > line) {
			strbuf_add(&sb, line, (size_t)(nl - line));
			strbuf_add(&sb, "\n", 1);
		}
	}
	strbuf_addf(&sb, "%s %s\n", hash, real);
	return strbuf_detach(&sb);
}

/* Replace list with text, atomically (a new file renamed over it). */
static int
write_list(const char *list, const char *text, char **cause)
{
	char *dir = xstrdup(list), *slash = strrchr(dir, '/'), *tmp = NULL;
	size_t len = strlen(text), off = 0;
	ssize_t w;
	int fd = -1, rc = -1;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (file_mkdir_p(dir, 0700) != 0) {
			*cause = xasprintf("cannot create %s: %s", dir,
					   strerror(errno));
			goto out;
		}
	}
	tmp = xasprintf("%s.%ld.tmp", list, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd == -1)
		goto fail;
	while (off < len) {
		w = write(fd, text + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, list) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	*cause = xasprintf("cannot write %s: %s", list, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(dir);
	return rc;
}

/* See config.h. */
int
config_trust(const char *file, char **real_out, char hash[65], char **cause)
{
	struct config cfg;
	char *buf, *real = NULL, *list = NULL, *old = NULL, *text;
	size_t len = 0;
	int err = 0, rc = -1;

	*real_out = NULL;
	if ((buf = cfg_read_file(file, &len, &err, cause)) == NULL) {
		if (err == ENOENT || err == ENOTDIR)
			*cause = xasprintf("cannot read config %s: %s", file,
					   strerror(err));
		return -1;
	}
	/* a file that does not load is not worth trusting */
	if (config_load_string(&cfg, file, buf, len, cause) != 0)
		goto out;
	config_release(&cfg);
	if ((real = realpath(file, NULL)) == NULL) {
		*cause = xasprintf("cannot resolve %s: %s", file,
				   strerror(errno));
		goto out;
	}
	if (strchr(real, '\n') != NULL) {
		*cause = xasprintf("cannot trust %s: a newline in its path",
				   file);
		goto out;
	}
	if ((list = config_trust_list_path()) == NULL) {
		*cause = xstrdup("cannot trust a file: neither "
				 "XDG_CONFIG_HOME nor HOME is set");
		goto out;
	}
	if ((old = read_trust_list(list, cause)) == NULL)
		goto out;
	sha256_hex(buf, len, hash);
	text = updated_list(old, real, hash);
	rc = write_list(list, text, cause);
	free(text);
out:
	if (rc == 0)
		*real_out = real;
	else
		free(real);
	free(buf);
	free(list);
	free(old);
	return rc;
}
