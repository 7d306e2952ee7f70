/*
 * baton: run tasks through coding agents, keeping every task, run and
 * session in SQLite.  main() strips the global options (SPEC §6), which
 * may stand before or after the command, and hands the rest to the
 * dispatcher in cmd.c.
 */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/common.h"
#include "cmd/table.h"
#include "core/files.h"
#include "lib/xmalloc.h"

struct globals {
	const char *db;
	const char *config;
	int quiet, verbose, json, no_color, version;
};

/*
 * Take the global options out of argv wherever they are, up to a "--".
 * Returns the new argc, or -1 with a message printed for a global option
 * missing its value.
 */
static int
strip_globals(int argc, char **argv, struct globals *g)
{
	int i, n = 1;
	int done = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (done || a[0] != '-') {
			argv[n++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			done = 1;
			argv[n++] = argv[i];
			continue;
		}
		if (strcmp(a, "--db") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				cmd_error("option '%s' needs a value", a);
				return -1;
			}
			if (a[2] == 'd')
				g->db = argv[++i];
			else
				g->config = argv[++i];
		} else if (strncmp(a, "--db=", 5) == 0)
			g->db = a + 5;
		else if (strncmp(a, "--config=", 9) == 0)
			g->config = a + 9;
		else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
			g->quiet = 1;
		else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
			g->verbose = 1;
		else if (strcmp(a, "--json") == 0)
			g->json = 1;
		else if (strcmp(a, "--no-color") == 0)
			g->no_color = 1;
		else if (strcmp(a, "--version") == 0 && n == 1)
			g->version = 1;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

int
main(int argc, char **argv)
{
	struct globals g = {0};
	struct baton b = {0};
	int rc;

	/* An agent or a reader that goes away must not kill baton: writes
	 * to a closed pipe fail with EPIPE and are reported. */
	signal(SIGPIPE, SIG_IGN);
	cmd_signals_reset();
	/* jansson out of memory would read as bad JSON (an agent's result
	 * taken for garbage) or a missing field: make it oom() instead. */
	json_set_alloc_funcs(xmalloc, free);
	pthread_mutex_init(&b.write_lock, NULL);
	/* Commands report bad options themselves, naming the command. */
	opterr = 0;

	argc = strip_globals(argc, argv, &g);
	if (argc < 0)
		return cmd_finish_stdout(EXIT_USAGE);
	if (g.version) {
		printf("baton %s\n", BATON_VERSION);
		return cmd_finish_stdout(EXIT_OK);
	}

	b.verbosity = g.quiet ? -1 : g.verbose ? 1 : 0;
	b.json = g.json;
	b.color = cmd_color_wanted(g.no_color);
	b.stop_fd = -1;
	b.stop_wfd = -1;
	b.db_path = xstrdup_or_null(g.db);
	/* --config wins over BATON_CONFIG; config_load() reads the env. */
	b.config_path = g.config;

	rc = cmd_dispatch(&b, argc - 1, argv + 1);
	if (b.files_dir != NULL)
		files_session_dirs_drain(&b);
	free(b.db_path);
	free(b.state_dir);
	free(b.files_dir);
	return cmd_finish_stdout(rc);
}
