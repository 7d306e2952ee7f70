#ifndef BATON_CMD_H
#define BATON_CMD_H

#include <stdio.h>

#include "core/baton.h"

/* What the dispatcher sets up before calling .exec. */
#define CMD_NEEDS_CONFIG 0x1 /* load the configuration (exit 3 on error) */
#define CMD_NEEDS_DB	 0x3 /* open the database (implies config; exit 4) */
#define CMD_READONLY	 0x4 /* does not change tasks (documentation) */
#define CMD_JSON	 0x8 /* prints JSON with --json; else --json is refused */
/* With CMD_NEEDS_DB: only look (completion): no reaping of dead runners,
 * and a database that does not exist is not created (b->db stays NULL). */
#define CMD_PEEK 0x10
/* Reaping dead runners when the database opens is a write: if it fails
 * (disk full, read-only file system) the command warns and goes on to
 * show what is stored.  Implied by CMD_READONLY. */
#define CMD_REAP_WARN 0x20

struct option;

/*
 * One command.  exec gets argv with argv[0] the command's own name and
 * global options already removed, and returns the process exit status
 * (SPEC §7).  Commands with .subcmds have no .exec of their own.
 */
struct cmd_entry {
	const char *name;
	const char
		*usage; /* after "baton NAME ", e.g. "[-j N] [--until-empty]" */
	const char *summary; /* one line for `baton help` */
	const char *help;    /* option list for `baton NAME --help`, or NULL */
	int flags;
	int (*exec)(struct baton *, int argc, char **argv);
	const struct cmd_entry *const *subcmds; /* NULL-terminated, sorted */
	/* The long options exec parses (for completion and "did you mean");
	 * NULL for none. */
	const struct option *options;
};

/* Exit codes (SPEC §7). */
#define EXIT_OK	      0
#define EXIT_FAILED   1
#define EXIT_USAGE    2
#define EXIT_CONFIG   3
#define EXIT_DB	      4
#define EXIT_TIMEOUT  124
#define EXIT_NOEXEC   126
#define EXIT_NOTFOUND 127

/* Print "baton: <message>" to stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "baton: warning: <message>" to stderr unless quiet. */
void cmd_warn(struct baton *, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A usage error for entry: "baton: <message>" and the usage line on
 * stderr.  Returns EXIT_USAGE for the caller to return.
 */
int cmd_usage_error(const struct cmd_entry *, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * After getopt_long() returned '?': report the option argv[optind - 1]
 * as unknown or as missing its value.  Returns EXIT_USAGE.
 */
int cmd_option_error(const struct cmd_entry *, char **argv,
		     const struct option *longopts);

/*
 * getopt_long() taking long options by their exact names only: an
 * abbreviation ("--time" for "--timeout") is returned as '?' with
 * argv[optind - 1] the word, for cmd_option_error().
 */
int cmd_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* Print entry's full help to fp. */
void cmd_print_help(const struct cmd_entry *, const char *parent, FILE *fp);

/* Map a negated berr (core/baton.h) to an exit code. */
int cmd_exit_code(int err);

/*
 * Report a write error on stdout (full disk, closed pipe) as an error;
 * returns rc, or EXIT_FAILED if stdout had an error.  Called by main().
 */
int cmd_finish_stdout(int rc);

/*
 * What the dispatcher does before exec for flags (CMD_NEEDS_CONFIG,
 * CMD_NEEDS_DB, CMD_PEEK), for commands that decide late: loads into
 * cfg and sets b->cfg, b->db.  Returns EXIT_OK, or prints why and
 * returns the exit status.  cmd_teardown() undoes it either way.
 */
int cmd_setup(struct baton *, int flags, struct config *cfg);
void cmd_teardown(struct baton *, struct config *cfg);

/* The global options, for completion: NULL-terminated. */
extern const struct option cmd_global_options[];

/* Dispatch argv (global options already removed) against the table. */
int cmd_dispatch(struct baton *, int argc, char **argv);

/* The table, alphabetised; NULL-terminated. */
extern const struct cmd_entry *const cmd_table[];

#endif
