/*
 * The configuration (SPEC §8): built-in defaults, then the YAML file the
 * user named, or the user's own with the project's ./baton.yaml layered
 * on top (config-trust.c says what that one may change), key by key,
 * then the environment.
 *
 * The file is untrusted input.  It is read whole (at most 1 MiB), turned
 * into a small tree (config-yaml.c) with limits on depth and size, and
 * then applied to the defaults through the key tables (config-keys.c,
 * config-agents.c).  Every complaint is "file:line:col: message" with
 * libyaml's 1-based mark of the offending key or value.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config-internal.h"
#include "lib/clock.h"
#include "lib/fsafe.h"
#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

/* ---- public ---- */

/* Fills cfg with the built-in defaults (config.yaml says the same). */
void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->db.path = NULL;
	cfg->db.url = NULL;
	cfg->db.synchronous_full = 0;
	cfg->db.busy_timeout_ms = 10 * 1000;
	cfg->db.shared_group = 0;
	cfg->db.wal_warn_mib = 128;
	cfg->db.final_write_timeout_ms = 10 * 60 * 1000;
	cfg->workers = 2;
	cfg->defaults.agent = xstrdup("shell");
	cfg->defaults.timeout_ms = 30 * 60 * 1000;
	cfg->defaults.max_attempts = 2;
	cfg->defaults.kill_grace_ms = 5 * 1000;
	cfg->defaults.max_iterations = 3;
	cfg->defaults.retries = 0;
	cfg->retry.attempts = 3;
	cfg->retry.base_ms = 2 * 1000;
	cfg->retry.max_ms = 60 * 1000;
	cfg->sessions.ttl_ms = (int64_t)24 * 60 * 60 * 1000;
	cfg->sessions.max_active = 1000;
	cfg->sessions.resume_failure_limit = 3;
	cfg->sessions.retention_ms = (int64_t)30 * 24 * 60 * 60 * 1000;
	cfg->sessions.keep_temp_dirs = 0;
	cfg->sessions.max_cost = 0;
	cfg->logs.retention_ms = 0;
	cfg->runner.heartbeat_ms = 5 * 1000;
	cfg->runner.stale_after_ms = 60 * 1000;
	cfg->runner.requeue_interrupted = 0;
	cfg->logs.redact = 1;
	cfg->logs.max_bytes = 256 << 20;
	cfg->logs.db_max_bytes = 1024 * 1024;
	cfg->iterate_prompt = xstrdup("The check `{check}` failed with exit "
				      "code {exit_code}:\n{output}\nFix it.");

	/* sorted by name */
	cfg->nagents = 3;
	cfg->agents = xcalloc(cfg->nagents, sizeof *cfg->agents);
	cfg_profile_builtin(&cfg->agents[0], "claude", AGENT_KIND_CLAUDE,
			    "claude", "sonnet",
			    "--permission-mode=acceptEdits");
	cfg_profile_builtin(&cfg->agents[1], "codex", AGENT_KIND_CODEX, "codex",
			    NULL, NULL);
	cfg->agents[1].price.set = 1;
	cfg->agents[1].price.input = 1.25;
	cfg->agents[1].price.cached_input = 0.125;
	cfg->agents[1].price.output = 10;
	cfg_profile_builtin(&cfg->agents[2], "shell", AGENT_KIND_SHELL, NULL,
			    NULL, NULL);
}

/* Frees everything cfg owns and zeroes it; NULL-safe. */
void
config_release(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->db.path);
	free(cfg->db.url);
	free(cfg->defaults.agent);
	free(cfg->iterate_prompt);
	for (i = 0; i < cfg->nagents; i++)
		cfg_profile_release(&cfg->agents[i]);
	free(cfg->agents);
	memset(cfg, 0, sizeof *cfg);
}

/* The profile called name (borrowed from cfg), or NULL. */
const struct agent_profile *
config_agent(const struct config *cfg, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < cfg->nagents; i++) {
		if (strcmp(cfg->agents[i].name, name) == 0)
			return &cfg->agents[i];
	}
	return NULL;
}

/*
 * buf (named name in messages) on top of what cfg holds.  Returns 0, or
 * -1 with *cause set (cfg is then half-applied: release it).
 */
static int
apply_buffer(struct config *cfg, const char *name, const char *buf, size_t len,
	     char **cause)
{
	struct parse p = {0};
	struct node *root = NULL;
	int rc = -1;

	p.file = name;
	if (len > CFG_MAX_FILE_SIZE) {
		p.cause = xasprintf("cannot read config %s: larger than 1 MiB",
				    name);
		goto out;
	}
	if (cfg_build_tree(&p, buf, len, &root) != 0)
		goto out;
	if (cfg_apply_root(&p, root, cfg) != 0)
		goto out;
	rc = 0;
out:
	cfg_node_free(root);
	if (rc != 0) {
		if (p.cause == NULL)
			p.cause = xasprintf("%s: invalid configuration", name);
		*cause = p.cause;
	}
	return rc;
}

/*
 * Defaults, then buf (named name in messages) on top.  Returns 0, or -1
 * with *cause set and cfg released.
 */
int
config_load_string(struct config *cfg, const char *name, const char *buf,
		   size_t len, char **cause)
{
	config_defaults(cfg);
	if (apply_buffer(cfg, name, buf, len, cause) != 0) {
		config_release(cfg);
		return -1;
	}
	free(cfg->path);
	cfg->path = xstrdup(name);
	return 0;
}

/*
 * Read a whole config file of at most CFG_MAX_FILE_SIZE bytes.  Opened
 * non-blocking so that a FIFO without a writer cannot hang us.  Returns
 * the buffer, or NULL with *err set to an errno value (EFBIG: too big).
 */
static char *
read_config(const char *path, size_t *lenp, int *err, struct stat *stp)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, flags;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		*err = errno;
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		*err = errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		*err = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && st.st_size > CFG_MAX_FILE_SIZE) {
		*err = EFBIG;
		goto fail;
	}
	*stp = st;
	flags = fcntl(fd, F_GETFL);
	if (flags != -1)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*err = errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CFG_MAX_FILE_SIZE) {
			*err = EFBIG;
			goto fail;
		}
	}
	close(fd);
	if (buf == NULL)
		buf = xmalloc(1);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/*
 * Read the config file path whole, refusing one another user could
 * write (SPEC §8: it decides what runs as us; ssh refuses such a
 * config the same way).  Returns the buffer (caller frees), or NULL
 * with *err = ENOENT or ENOTDIR for a missing file and *cause unset,
 * else with *cause set.
 */
char *
cfg_read_file(const char *path, size_t *len, int *err, char **cause)
{
	struct stat st;
	char *buf, *why;

	*err = 0;
	buf = read_config(path, len, err, &st);
	if (buf == NULL) {
		if (*err == ENOENT || *err == ENOTDIR)
			return NULL;
		if (*err == EFBIG)
			*cause = xasprintf("cannot read config %s: larger than "
					   "1 MiB",
					   path);
		else
			*cause = xasprintf("cannot read config %s: %s", path,
					   strerror(*err));
		return NULL;
	}
	/* /dev/null is root's and 0666, and holds nothing */
	why = S_ISCHR(st.st_mode) ? NULL : fsafe_problem(&st, 0);
	if (why != NULL) {
		*cause = xasprintf("cannot use config %s: it is %s; another "
				   "user could change what baton runs as you "
				   "(make it yours and 'chmod go-w' it)",
				   path, why);
		free(why);
		free(buf);
		*err = EPERM;
		return NULL;
	}
	return buf;
}

/*
 * Load path on top of the defaults.  Returns 0, 1 if the file does not
 * exist and may be skipped (must_exist false; cfg then holds the
 * defaults), or -1 with *cause set and cfg released.
 */
static int
load_path(struct config *cfg, const char *path, int must_exist, char **cause)
{
	char *buf;
	size_t len = 0;
	int err = 0, rc;

	buf = cfg_read_file(path, &len, &err, cause);
	if (buf == NULL) {
		if (err == ENOENT || err == ENOTDIR) {
			if (!must_exist) {
				config_defaults(cfg);
				return 1;
			}
			*cause = xasprintf("cannot read config %s: %s", path,
					   strerror(err));
		}
		memset(cfg, 0, sizeof *cfg);
		return -1;
	}
	rc = config_load_string(cfg, path, buf, len, cause);
	free(buf);
	return rc;
}

/* See config.h: defaults plus one file, no resolution, no environment. */
int
config_load_file(struct config *cfg, const char *path, char **cause)
{
	return load_path(cfg, path, 1, cause);
}

static int
apply_env(struct config *cfg, char **cause)
{
	const char *v, *why = NULL;
	char buf[CFG_SHOWN_BUF], *s;
	long long n;
	int64_t ms;

	v = getenv("BATON_DB");
	if (v != NULL) {
		if (v[0] == '\0') {
			*cause = xstrdup("BATON_DB: expected a non-empty path");
			return -1;
		}
		s = cfg_expand_home(v, &why);
		if (s == NULL) {
			*cause = xasprintf("BATON_DB: %s", why);
			return -1;
		}
		free(cfg->db.path);
		cfg->db.path = s;
		/* the environment wins over the file's db.url too */
		free(cfg->db.url);
		cfg->db.url = NULL;
	}
	v = getenv("BATON_SESSION_TTL");
	if (v != NULL) {
		if (duration_parse(v, &ms) != 0) {
			s = duration_error(cfg_shown(v, buf, sizeof buf));
			*cause = xasprintf("BATON_SESSION_TTL: %s", s);
			free(s);
			return -1;
		}
		if (ms <= 0) {
			*cause = xasprintf("BATON_SESSION_TTL: expected a "
					   "duration greater than 0, got '%s'",
					   cfg_shown(v, buf, sizeof buf));
			return -1;
		}
		cfg->sessions.ttl_ms = ms;
	}
	v = getenv("BATON_WORKERS");
	if (v != NULL) {
		if (text_parse_int(v, 1, INT_MAX, &n) != 0) {
			*cause = xasprintf("BATON_WORKERS: expected a whole "
					   "number ≥ 1, got '%s'",
					   cfg_shown(v, buf, sizeof buf));
			return -1;
		}
		cfg->workers = (int)n;
	}
	return 0;
}

/* The user's own config file, or NULL without HOME; caller frees. */
static char *
user_config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/baton/config.yaml", xdg);
	if (home != NULL && home[0] != '\0')
		return xasprintf("%s/.config/baton/config.yaml", home);
	return NULL;
}

/*
 * The project's ./baton.yaml (buf) on top of the user's config (cfg):
 * what it may not change until trusted is checked against cfg as it
 * was (SPEC §8).  Returns 0 or -1 with *cause (cfg is then released).
 */
static int
layer_project(struct config *cfg, const char *buf, size_t len, char **cause)
{
	struct config before;
	char *user = cfg->path;
	int rc;

	cfg_copy_for_trust(&before, cfg);
	cfg->path = NULL;
	rc = apply_buffer(cfg, PROJECT_CONFIG, buf, len, cause);
	if (rc == 0)
		rc = cfg_trust_check(&before, cfg, PROJECT_CONFIG, buf, len,
				     cause);
	config_release(&before);
	if (rc != 0) {
		free(user);
		config_release(cfg);
		return -1;
	}
	cfg->path = user != NULL ? xasprintf("%s, %s", user, PROJECT_CONFIG)
				 : xstrdup(PROJECT_CONFIG);
	free(user);
	return 0;
}

/*
 * No file named by the user: their own config (if any) on the
 * defaults, then ./baton.yaml (if any) layered on top.
 */
static int
load_layers(struct config *cfg, char **cause)
{
	char *path = user_config_path(), *buf;
	size_t len = 0;
	int rc = 1, err = 0;

	if (path != NULL)
		rc = load_path(cfg, path, 0, cause);
	else
		config_defaults(cfg);
	free(path);
	if (rc < 0)
		return -1;
	buf = cfg_read_file(PROJECT_CONFIG, &len, &err, cause);
	if (buf == NULL) {
		if (err == ENOENT || err == ENOTDIR)
			return 0;
		config_release(cfg);
		return -1;
	}
	rc = layer_project(cfg, buf, len, cause);
	free(buf);
	return rc;
}

/*
 * See config.h for the order in which files are looked for.  A file the
 * user named (--config, BATON_CONFIG) is the whole configuration and is
 * trusted: the user chose it.
 */
int
config_load(struct config *cfg, const char *explicit_path, char **cause)
{
	const char *env = getenv("BATON_CONFIG");
	int rc;

	if (explicit_path != NULL)
		rc = load_path(cfg, explicit_path, 1, cause);
	else if (env != NULL && env[0] != '\0')
		rc = load_path(cfg, env, 1, cause);
	else
		rc = load_layers(cfg, cause);
	if (rc < 0)
		return -1;
	if (apply_env(cfg, cause) != 0) {
		config_release(cfg);
		return -1;
	}
	return 0;
}

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
strv_eq(char *const *a, char *const *b)
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

static int
profile_eq(const struct agent_profile *a, const struct agent_profile *b)
{
	if (!streq(a->name, b->name) || a->kind != b->kind ||
	    !streq(a->model, b->model) || !strv_eq(a->command, b->command) ||
	    !strv_eq(a->args, b->args) || !strv_eq(a->env, b->env))
		return 0;
	if (a->timeout_ms != b->timeout_ms ||
	    a->kill_grace_ms != b->kill_grace_ms ||
	    a->use_session_persistence != b->use_session_persistence ||
	    a->price.set != b->price.set)
		return 0;
	if (a->price.set && (a->price.input != b->price.input ||
			     a->price.cached_input != b->price.cached_input ||
			     a->price.output != b->price.output))
		return 0;
	return 1;
}

/* Non-zero if a and b hold the same settings (path and marks aside). */
int
config_equal(const struct config *a, const struct config *b)
{
	size_t i;

	if (!streq(a->db.path, b->db.path) || !streq(a->db.url, b->db.url) ||
	    a->db.synchronous_full != b->db.synchronous_full ||
	    a->db.busy_timeout_ms != b->db.busy_timeout_ms ||
	    a->db.shared_group != b->db.shared_group ||
	    a->db.wal_warn_mib != b->db.wal_warn_mib ||
	    a->db.final_write_timeout_ms != b->db.final_write_timeout_ms ||
	    a->workers != b->workers)
		return 0;
	if (!streq(a->defaults.agent, b->defaults.agent) ||
	    a->defaults.timeout_ms != b->defaults.timeout_ms ||
	    a->defaults.max_attempts != b->defaults.max_attempts ||
	    a->defaults.kill_grace_ms != b->defaults.kill_grace_ms ||
	    a->defaults.max_iterations != b->defaults.max_iterations ||
	    a->defaults.retries != b->defaults.retries)
		return 0;
	if (a->retry.attempts != b->retry.attempts ||
	    a->retry.base_ms != b->retry.base_ms ||
	    a->retry.max_ms != b->retry.max_ms)
		return 0;
	if (a->sessions.ttl_ms != b->sessions.ttl_ms ||
	    a->sessions.max_active != b->sessions.max_active ||
	    a->sessions.resume_failure_limit !=
		    b->sessions.resume_failure_limit ||
	    a->sessions.retention_ms != b->sessions.retention_ms ||
	    a->sessions.keep_temp_dirs != b->sessions.keep_temp_dirs ||
	    a->sessions.max_cost != b->sessions.max_cost ||
	    a->logs.retention_ms != b->logs.retention_ms ||
	    a->logs.redact != b->logs.redact ||
	    a->logs.max_bytes != b->logs.max_bytes ||
	    a->logs.db_max_bytes != b->logs.db_max_bytes)
		return 0;
	if (a->runner.heartbeat_ms != b->runner.heartbeat_ms ||
	    a->runner.stale_after_ms != b->runner.stale_after_ms ||
	    a->runner.requeue_interrupted != b->runner.requeue_interrupted)
		return 0;
	if (!streq(a->iterate_prompt, b->iterate_prompt) ||
	    a->nagents != b->nagents)
		return 0;
	for (i = 0; i < a->nagents; i++) {
		if (!profile_eq(&a->agents[i], &b->agents[i]))
			return 0;
	}
	return 1;
}
