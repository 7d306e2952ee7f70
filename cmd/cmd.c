/*
 * The command table, dispatch, usage and the setup that .flags ask for.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/config.h"
#include "core/files.h"
#include "core/runner.h"

#include "lib/file.h"
#include "lib/text.h"
#include "lib/xmalloc.h"
#include "db/store.h"

extern const struct cmd_entry cmd_add_entry;
extern const struct cmd_entry cmd_cancel_entry;
extern const struct cmd_entry cmd_completion_entry;
extern const struct cmd_entry cmd_config_entry;
extern const struct cmd_entry cmd_db_entry;
extern const struct cmd_entry cmd_doctor_entry;
extern const struct cmd_entry cmd_help_entry;
extern const struct cmd_entry cmd_log_entry;
extern const struct cmd_entry cmd_milestone_entry;
extern const struct cmd_entry cmd_prune_entry;
extern const struct cmd_entry cmd_report_entry;
extern const struct cmd_entry cmd_retry_entry;
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_session_entry;
extern const struct cmd_entry cmd_show_entry;
extern const struct cmd_entry cmd_stats_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_work_entry;

/* Alphabetical; exact names only, so a new command never breaks a script. */
/* One a line, so that adding a command is adding a line. */
/* clang-format off */
const struct cmd_entry *const cmd_table[] = {
	&cmd_add_entry,
	&cmd_cancel_entry,
	&cmd_completion_entry,
	&cmd_config_entry,
	&cmd_db_entry,
	&cmd_doctor_entry,
	&cmd_help_entry,
	&cmd_log_entry,
	&cmd_milestone_entry,
	&cmd_prune_entry,
	&cmd_report_entry,
	&cmd_retry_entry,
	&cmd_run_entry,
	&cmd_session_entry,
	&cmd_show_entry,
	&cmd_stats_entry,
	&cmd_status_entry,
	&cmd_work_entry,
	NULL,
};

/* What main() takes out of argv (SPEC §6), for completion and hints. */
const struct option cmd_global_options[] = {
	{"config", required_argument, NULL, 0},
	{"db", required_argument, NULL, 0},
	{"help", no_argument, NULL, 0},
	{"json", no_argument, NULL, 0},
	{"no-color", no_argument, NULL, 0},
	{"quiet", no_argument, NULL, 0},
	{"verbose", no_argument, NULL, 0},
	{"version", no_argument, NULL, 0},
	{NULL, 0, NULL, 0},
};
/* clang-format on */

/* One line on stderr after what stdout holds so far: prefix, message. */
static void vmessage(const char *, const char *, va_list)
	__attribute__((format(printf, 2, 0)));

static void
vmessage(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cmd_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("baton: ", fmt, ap);
	va_end(ap);
}

void
cmd_warn(struct baton *b, const char *fmt, ...)
{
	va_list ap;

	if (b->verbosity < 0)
		return;
	va_start(ap, fmt);
	vmessage("baton: warning: ", fmt, ap);
	va_end(ap);
}

/* The name of the command whose table holds e ("" at the top). */
static const char *
parent_of(const struct cmd_entry *e)
{
	const struct cmd_entry *const *t, *const *s;

	for (t = cmd_table; *t != NULL; t++) {
		for (s = (*t)->subcmds; s != NULL && *s != NULL; s++) {
			if (*s == e)
				return (*t)->name;
		}
	}
	return "";
}

int
cmd_usage_error(const struct cmd_entry *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("baton: ", fmt, ap);
	va_end(ap);
	if (e != NULL)
		fprintf(stderr, "usage: baton %s%s%s%s%s\n", parent_of(e),
			parent_of(e)[0] ? " " : "", e->name,
			e->usage[0] ? " " : "", e->usage);
	return EXIT_USAGE;
}

/*
 * The long option word (without dashes, len bytes) most likely meant:
 * the one option it is a prefix of, else the closest by edit distance
 * among longopts and the global options.  NULL for none.
 */
static const char *
closest_option(const char *word, size_t len, const struct option *longopts)
{
	const char *names[128], *hit = NULL, *best;
	const struct option *o;
	char w[TEXT_CLOSEST_MAX + 1];
	size_t n = 0, prefixed = 0, i;

	if (len == 0 || len > TEXT_CLOSEST_MAX)
		return NULL;
	for (o = longopts; o != NULL && o->name != NULL && n < 120; o++)
		names[n++] = o->name;
	for (o = cmd_global_options; o->name != NULL && n < 127; o++)
		names[n++] = o->name;
	names[n] = NULL;
	for (i = 0; i < n; i++) {
		if (strlen(names[i]) > len &&
		    strncmp(names[i], word, len) == 0) {
			hit = names[i];
			prefixed++;
		}
	}
	if (prefixed == 1)
		return hit;
	memcpy(w, word, len);
	w[len] = '\0';
	best = text_closest(w, names, 2);
	return best;
}

int
cmd_option_error(const struct cmd_entry *e, char **argv,
		 const struct option *longopts)
{
	const char *arg = argv[optind - 1], *hint;
	const struct option *o;
	size_t len;

	/* A short option missing its value was the last word: "-c x"
	 * with -c unknown must not read as "-c needs a value". */
	if (optopt != 0 && arg[0] == '-' && arg[1] != '-')
		return cmd_usage_error(
			e, "option '-%c' %s", optopt,
			argv[optind] == NULL && arg[strlen(arg) - 1] == optopt
				? "needs a value"
				: "is unknown");
	if (strncmp(arg, "--", 2) != 0)
		return cmd_usage_error(e, "unknown option '%s'", arg);
	len = strcspn(arg + 2, "=");
	for (o = longopts; o != NULL && o->name != NULL; o++) {
		if (strlen(o->name) != len || strncmp(o->name, arg + 2, len))
			continue;
		if (o->has_arg == required_argument)
			return cmd_usage_error(e, "option '--%s' needs a value",
					       o->name);
		if (o->has_arg == no_argument)
			return cmd_usage_error(
				e, "option '--%s' takes no value", o->name);
	}
	hint = closest_option(arg + 2, len, longopts);
	if (hint != NULL)
		return cmd_usage_error(e,
				       "unknown option '%.*s' (did you mean "
				       "'--%s'?)",
				       (int)len + 2, arg, hint);
	return cmd_usage_error(e, "unknown option '%.*s'", (int)len + 2, arg);
}

int
cmd_getopt(int argc, char **argv, const char *shortopts,
	   const struct option *longopts)
{
	const char *word;
	int idx = -1, c, separate;
	size_t len;

	c = getopt_long(argc, argv, shortopts, longopts, &idx);
	if (c == -1 || c == '?' || c == ':' || idx < 0)
		return c;
	/* "--name VALUE" leaves optind past the value */
	separate = longopts[idx].has_arg != no_argument && optarg != NULL &&
		   optind >= 2 && optarg == argv[optind - 1];
	word = argv[optind - 1 - separate];
	len = strcspn(word + 2, "=");
	if (strncmp(word, "--", 2) == 0 && strlen(longopts[idx].name) == len &&
	    strncmp(word + 2, longopts[idx].name, len) == 0)
		return c;
	/* getopt_long took an abbreviation: baton does not (SPEC §6) */
	optind -= separate;
	optopt = 0;
	return '?';
}

void
cmd_print_help(const struct cmd_entry *e, const char *parent, FILE *fp)
{
	const struct cmd_entry *const *s;
	const char *p = parent ? parent : "";
	const char *sp = parent ? " " : "";

	fprintf(fp, "usage: baton %s%s%s%s%s\n\n%s\n", p, sp, e->name,
		e->usage[0] ? " " : "", e->usage, e->summary);
	if (e->subcmds != NULL) {
		fputs("\ncommands:\n", fp);
		for (s = e->subcmds; *s != NULL; s++)
			fprintf(fp, "  %-10s %s\n", (*s)->name, (*s)->summary);
		fprintf(fp, "\nSee 'baton %s%s%s COMMAND --help'.\n", p, sp,
			e->name);
	}
	if (e->help != NULL)
		fprintf(fp, "\n%s", e->help);
}

int
cmd_exit_code(int err)
{
	if (err >= 0)
		return EXIT_OK;
	switch (-err) {
	case BERR_USAGE:
		return EXIT_USAGE;
	case BERR_CONFIG:
		return EXIT_CONFIG;
	case BERR_DB:
		return EXIT_DB;
	case BERR_NOEXEC:
		return EXIT_NOEXEC;
	case BERR_NOBIN:
		return EXIT_NOTFOUND;
	default:
		return EXIT_FAILED;
	}
}

int
cmd_finish_stdout(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		/* EPIPE from a reader that went away (| head) is not worth
		 * a message, but is still not success. */
		if (errno != EPIPE)
			cmd_error("cannot write to standard output: %s",
				  strerror(errno));
		return rc == EXIT_OK ? EXIT_FAILED : rc;
	}
	return rc;
}

static const struct cmd_entry *
find(const struct cmd_entry *const *table, const char *name)
{
	for (; *table != NULL; table++) {
		if (strcmp((*table)->name, name) == 0)
			return *table;
	}
	return NULL;
}

/* " (did you mean 'PREFIXNAME'?)" for a name not in table, or "". */
static const char *
suggest(const struct cmd_entry *const *table, const char *prefix,
	const char *name, char *buf, size_t len)
{
	const char *names[64], *best;
	size_t n = 0;

	for (; *table != NULL && n < 63; table++)
		names[n++] = (*table)->name;
	names[n] = NULL;
	best = text_closest(name, names, 2);
	if (best == NULL)
		return "";
	snprintf(buf, len, " (did you mean '%s%s'?)", prefix, best);
	return buf;
}

static int
wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/*
 * The database path: --db, else config (BATON_DB applied), else XDG.
 * *dflt is set for the last: only its directory is created (SPEC §9).
 */
static char *
resolve_db_path(struct baton *b, int *dflt)
{
	const char *xdg, *home;

	*dflt = 0;
	if (b->db_path != NULL)
		return xstrdup(b->db_path);
	if (b->cfg->db.url != NULL)
		return xstrdup(b->cfg->db.url);
	if (b->cfg->db.path != NULL)
		return xstrdup(b->cfg->db.path);
	*dflt = 1;
	xdg = getenv("XDG_STATE_HOME");
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/baton/baton.db", xdg);
	home = getenv("HOME");
	if (home == NULL || home[0] == '\0')
		home = "/";
	return xasprintf("%s/.local/state/baton/baton.db", home);
}

/*
 * The directory of a database's files (logs/, sessions/): next to an
 * SQLite file; for a URL, this machine's state directory, one per
 * database (pg-HASH of the URL without its password).
 */
static char *
state_dir_of(const char *path)
{
	char *dir, *def, *shown, *slash;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	const char *p;

	if (store_is_url(path)) {
		def = xstrdup(getenv("XDG_STATE_HOME") != NULL &&
					      getenv("XDG_STATE_HOME")[0] == '/'
				      ? getenv("XDG_STATE_HOME")
				      : "");
		if (def[0] == '\0') {
			free(def);
			p = getenv("HOME");
			def = xasprintf("%s/.local/state",
					p != NULL && p[0] != '\0' ? p : "");
		}
		shown = text_url_mask(path);
		for (p = shown; *p; p++)
			h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
		dir = xasprintf("%s/baton/pg-%016llx", def,
				(unsigned long long)h);
		free(shown);
		free(def);
		return dir;
	}
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return dir;
}

/* Open the database for a command that asked for it, into b->db. */
static int
open_db(struct baton *b, int flags)
{
	struct store_options opts = {0};
	char *cause = NULL, *warning = NULL, *path;
	int snapshot = 0;
	int rc, dflt;

	path = resolve_db_path(b, &dflt);
	free(b->db_path);
	b->db_path = path;
	free(b->state_dir);
	b->state_dir = state_dir_of(path);
	if ((flags & CMD_PEEK) && !store_is_url(path) &&
	    access(path, F_OK) != 0)
		return EXIT_OK;
	if (store_is_url(path) && file_mkdir_p(b->state_dir, 0700) != 0) {
		cmd_error("cannot create %s: %s", b->state_dir,
			  strerror(errno));
		return EXIT_DB;
	}

	opts.synchronous_full = b->cfg->db.synchronous_full;
	opts.busy_timeout_ms = b->cfg->db.busy_timeout_ms;
	opts.reconnect_ms = b->cfg->runner.stale_after_ms;
	opts.write_lock = &b->write_lock;
	opts.create_dir = dflt;
	opts.shared_group = b->cfg->db.shared_group;
	if (flags & (CMD_READONLY | CMD_REAP_WARN))
		opts.snapshot = &snapshot;
	if (store_open(&b->db, path, &opts, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	if (snapshot)
		cmd_warn(b,
			 "the disk is full: %s opened read-only, as of its "
			 "last checkpoint",
			 path);
	rc = files_setup(b, (flags & CMD_PEEK) == 0, &warning, &cause);
	if (rc != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	if (warning != NULL) {
		cmd_warn(b, "%s", warning);
		free(warning);
	}
	if (flags & CMD_PEEK)
		return EXIT_OK;
	/* Any command that opens the database reaps dead runners (SPEC §5). */
	rc = runner_reap(b, &cause);
	if (rc != 0 && (flags & (CMD_READONLY | CMD_REAP_WARN))) {
		/* Show what is stored: a dead runner's tasks still look
		 * running until a command that can write reaps them. */
		cmd_warn(b,
			 "cannot reap dead runners (%s): their tasks may "
			 "still show as running",
			 cause);
		free(cause);
		return EXIT_OK;
	}
	if (rc != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	return EXIT_OK;
}

int
cmd_setup(struct baton *b, int flags, struct config *cfg)
{
	char *cause = NULL;

	if ((flags & CMD_NEEDS_CONFIG) == 0)
		return EXIT_OK;
	if (config_load(cfg, b->config_path, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_CONFIG;
	}
	b->cfg = cfg;
	if ((flags & CMD_NEEDS_DB) != CMD_NEEDS_DB)
		return EXIT_OK;
	return open_db(b, flags);
}

void
cmd_teardown(struct baton *b, struct config *cfg)
{
	store_close(b->db);
	b->db = NULL;
	b->cfg = NULL;
	config_release(cfg);
}

static int
run_entry(struct baton *b, const struct cmd_entry *e, const char *parent,
	  int argc, char **argv)
{
	struct config cfg = {0};
	const struct cmd_entry *sub;
	char prefix[64], hint[160];
	int rc;

	if (e->subcmds != NULL) {
		if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0 ||
		    strcmp(argv[1], "help") == 0) {
			if (argc < 2) {
				cmd_print_help(e, parent, stderr);
				return EXIT_USAGE;
			}
			cmd_print_help(e, parent, stdout);
			return EXIT_OK;
		}
		sub = find(e->subcmds, argv[1]);
		if (sub == NULL) {
			snprintf(prefix, sizeof prefix, "%s ", e->name);
			cmd_error("unknown command '%s %s'%s", e->name, argv[1],
				  suggest(e->subcmds, prefix, argv[1], hint,
					  sizeof hint));
			fprintf(stderr,
				"usage: baton %s COMMAND; see 'baton %s "
				"--help'\n",
				e->name, e->name);
			return EXIT_USAGE;
		}
		return run_entry(b, sub, e->name, argc - 1, argv + 1);
	}
	if (wants_help(argc, argv)) {
		cmd_print_help(e, parent, stdout);
		return EXIT_OK;
	}
	/* --json where a command has structured output (SPEC §6); a
	 * script must not take text it cannot parse for an answer */
	if (b->json && (e->flags & CMD_JSON) == 0)
		return cmd_usage_error(e, "'baton %s%s%s' has no JSON output",
				       parent ? parent : "", parent ? " " : "",
				       e->name);
	rc = cmd_setup(b, e->flags, &cfg);
	if (rc == EXIT_OK)
		rc = e->exec(b, argc, argv);
	cmd_teardown(b, &cfg);
	return rc;
}

/* `baton help [CMD [SUB]]` */
static int
cmd_help_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *const *t;
	const struct cmd_entry *e, *sub;
	char prefix[64], hint[160];

	(void)b;
	if (argc < 2) {
		printf("usage: baton [--db PATH] [--config PATH] [-q] [-v] "
		       "[--json] [--no-color] COMMAND [ARGS]\n\n"
		       "Run tasks through coding agents; every task, run and "
		       "session is kept in SQLite.\n\ncommands:\n");
		for (t = cmd_table; *t != NULL; t++)
			printf("  %-10s %s\n", (*t)->name, (*t)->summary);
		printf("\nSee 'baton help COMMAND' or 'baton COMMAND --help';"
		       " 'man baton' for the manual.\n");
		return EXIT_OK;
	}
	e = find(cmd_table, argv[1]);
	if (e == NULL)
		return cmd_usage_error(
			&cmd_help_entry, "unknown command '%s'%s", argv[1],
			suggest(cmd_table, "", argv[1], hint, sizeof hint));
	if (argc > 2 && e->subcmds != NULL) {
		sub = find(e->subcmds, argv[2]);
		snprintf(prefix, sizeof prefix, "%s ", e->name);
		if (sub == NULL)
			return cmd_usage_error(
				&cmd_help_entry, "unknown command '%s %s'%s",
				argv[1], argv[2],
				suggest(e->subcmds, prefix, argv[2], hint,
					sizeof hint));
		cmd_print_help(sub, e->name, stdout);
		return EXIT_OK;
	}
	cmd_print_help(e, NULL, stdout);
	return EXIT_OK;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.usage = "[COMMAND [SUBCOMMAND]]",
	.summary = "show help for baton or one command",
	.exec = cmd_help_exec,
};

int
cmd_dispatch(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *e;
	char hint[160];

	if (argc < 1) {
		cmd_help_exec(b, 1, (char *[]){(char *)"help", NULL});
		return EXIT_USAGE;
	}
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)
		return cmd_help_exec(b, 1, argv);
	e = find(cmd_table, argv[0]);
	if (e == NULL) {
		if (argv[0][0] == '-')
			cmd_error("unknown option '%s'", argv[0]);
		else
			cmd_error("unknown command '%s'%s", argv[0],
				  suggest(cmd_table, "", argv[0], hint,
					  sizeof hint));
		fprintf(stderr, "usage: baton [GLOBAL OPTIONS] COMMAND [ARGS]; "
				"see 'baton help'\n");
		return EXIT_USAGE;
	}
	return run_entry(b, e, NULL, argc, argv);
}
