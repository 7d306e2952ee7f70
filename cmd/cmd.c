/*
 * The command table, dispatch, usage and the setup that .flags ask for.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/config.h"
#include "core/runner.h"

#include "lib/xmalloc.h"
#include "db/store.h"

extern const struct cmd_entry cmd_add_entry;
extern const struct cmd_entry cmd_cancel_entry;
extern const struct cmd_entry cmd_config_entry;
extern const struct cmd_entry cmd_doctor_entry;
extern const struct cmd_entry cmd_help_entry;
extern const struct cmd_entry cmd_log_entry;
extern const struct cmd_entry cmd_milestone_entry;
extern const struct cmd_entry cmd_report_entry;
extern const struct cmd_entry cmd_retry_entry;
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_session_entry;
extern const struct cmd_entry cmd_show_entry;
extern const struct cmd_entry cmd_stats_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_work_entry;

/* Alphabetical; exact names only, so a new command never breaks a script. */
const struct cmd_entry *const cmd_table[] = {
	&cmd_add_entry,	      &cmd_cancel_entry,
	&cmd_config_entry,    &cmd_doctor_entry,
	&cmd_help_entry,      &cmd_log_entry,
	&cmd_milestone_entry, &cmd_report_entry,
	&cmd_retry_entry,     &cmd_run_entry,
	&cmd_session_entry,   &cmd_show_entry,
	&cmd_stats_entry,     &cmd_status_entry,
	&cmd_work_entry,      NULL,
};

/* One line on stderr after what stdout holds so far: prefix, message. */
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

int
cmd_option_error(const struct cmd_entry *e, char **argv,
		 const struct option *longopts)
{
	const char *arg = argv[optind - 1];
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
	if (strncmp(arg, "--", 2) == 0) {
		len = strcspn(arg + 2, "=");
		for (o = longopts; o != NULL && o->name != NULL; o++) {
			if (strlen(o->name) == len &&
			    strncmp(o->name, arg + 2, len) == 0 &&
			    o->has_arg == required_argument)
				return cmd_usage_error(
					e, "option '--%s' needs a value",
					o->name);
			if (strlen(o->name) == len &&
			    strncmp(o->name, arg + 2, len) == 0 &&
			    o->has_arg == no_argument)
				return cmd_usage_error(
					e, "option '--%s' takes no value",
					o->name);
		}
	}
	return cmd_usage_error(e, "unknown option '%s'", arg);
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

/* The database path: --db, else config (BATON_DB applied), else XDG. */
static char *
resolve_db_path(struct baton *b)
{
	const char *xdg, *home;

	if (b->db_path != NULL)
		return xstrdup(b->db_path);
	if (b->cfg->db.path != NULL)
		return xstrdup(b->cfg->db.path);
	xdg = getenv("XDG_STATE_HOME");
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/baton/baton.db", xdg);
	home = getenv("HOME");
	if (home == NULL || home[0] == '\0')
		home = "/";
	return xasprintf("%s/.local/state/baton/baton.db", home);
}

static int
setup(struct baton *b, const struct cmd_entry *e, struct config *cfg)
{
	struct store_options opts = {0};
	char *cause = NULL, *path, *slash;
	int rc;

	if ((e->flags & CMD_NEEDS_CONFIG) == 0)
		return EXIT_OK;
	if (config_load(cfg, b->config_path, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_CONFIG;
	}
	b->cfg = cfg;
	if ((e->flags & CMD_NEEDS_DB) != CMD_NEEDS_DB)
		return EXIT_OK;

	path = resolve_db_path(b);
	free(b->db_path);
	b->db_path = path;
	free(b->state_dir);
	b->state_dir = xstrdup(path);
	slash = strrchr(b->state_dir, '/');
	if (slash == NULL) {
		free(b->state_dir);
		b->state_dir = xstrdup(".");
	} else if (slash == b->state_dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	opts.synchronous_full = cfg->db.synchronous_full;
	opts.busy_timeout_ms = cfg->db.busy_timeout_ms;
	opts.write_lock = &b->write_lock;
	if (store_open(&b->db, path, &opts, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	/* Any command that opens the database reaps dead runners (SPEC §5). */
	rc = runner_reap(b, &cause);
	if (rc != 0) {
		cmd_error("%s", cause);
		free(cause);
		return cmd_exit_code(rc);
	}
	return EXIT_OK;
}

static int
run_entry(struct baton *b, const struct cmd_entry *e, const char *parent,
	  int argc, char **argv)
{
	struct config cfg = {0};
	const struct cmd_entry *sub;
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
			cmd_error("unknown command '%s %s'", e->name, argv[1]);
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
	rc = setup(b, e, &cfg);
	if (rc == EXIT_OK)
		rc = e->exec(b, argc, argv);
	store_close(b->db);
	b->db = NULL;
	b->cfg = NULL;
	config_release(&cfg);
	return rc;
}

/* `baton help [CMD [SUB]]` */
static int
cmd_help_exec(struct baton *b, int argc, char **argv)
{
	const struct cmd_entry *const *t;
	const struct cmd_entry *e, *sub;

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
		return cmd_usage_error(&cmd_help_entry, "unknown command '%s'",
				       argv[1]);
	if (argc > 2 && e->subcmds != NULL) {
		sub = find(e->subcmds, argv[2]);
		if (sub == NULL)
			return cmd_usage_error(&cmd_help_entry,
					       "unknown command '%s %s'",
					       argv[1], argv[2]);
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
			cmd_error("unknown command '%s'", argv[0]);
		fprintf(stderr, "usage: baton [GLOBAL OPTIONS] COMMAND [ARGS]; "
				"see 'baton help'\n");
		return EXIT_USAGE;
	}
	return run_entry(b, e, NULL, argc, argv);
}
