/*
 * baton log TASK [-f] [--run N] [--stderr]: the agent's output.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/common.h"
#include "core/output.h"
#include "lib/file.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_log_entry;

/* Copy from fd to stdout until EOF; returns -1 on a write error. */
static int
copy_out(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	}
	return fflush(stdout) == 0 ? 0 : -1;
}

static int
task_state(struct baton *b, int64_t id, int64_t *last_run, int *running,
	   char **cause)
{
	struct db_task t = {0};
	struct db_run *runs = NULL;
	size_t n = 0;
	int found, rc;

	if ((rc = store_task_get(b->db, id, &t, &found, cause)) != 0)
		return rc;
	*running = found && !task_status_final(t.status);
	db_task_release(&t);
	if ((rc = store_run_list(b->db, id, &runs, &n, cause)) != 0)
		return rc;
	*last_run = n > 0 ? runs[n - 1].id : 0;
	db_runs_free(runs, n);
	return found ? 0 : 1;
}

/* What log is following, and where it got to. */
struct tail {
	struct baton *b;
	int64_t id;
	long long run; /* --run N; 0: the last run */
	int follow;
	int err;     /* --stderr */
	int fd;	     /* the log being printed, or -1 */
	int64_t cur; /* the run fd belongs to */
	char *path;  /* fd's file */
	/* not on this machine: cur's output is read from the database
	 * (SPEC §10), from offset pos on */
	int db;
	int64_t pos;
};

enum { OPT_RUN = 256, OPT_STDERR };
static const struct option log_options[] = {
	{"follow", no_argument, NULL, 'f'},
	{"run", required_argument, NULL, OPT_RUN},
	{"stderr", no_argument, NULL, OPT_STDERR},
	{NULL, 0, NULL, 0},
};

/* Read the options and the task id into t.  Returns -1 to go on, or an
 * exit status. */
static int
parse_options(struct tail *t, int argc, char **argv)
{
	int c, rc;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "f", log_options)) != -1) {
		switch (c) {
		case 'f':
			t->follow = 1;
			break;
		case OPT_RUN:
			if (text_parse_int(optarg, 1, INT64_MAX, &t->run) != 0)
				return cmd_usage_error(&cmd_log_entry,
						       "invalid run '%s'",
						       optarg);
			break;
		case OPT_STDERR:
			t->err = 1;
			break;
		default:
			return cmd_option_error(&cmd_log_entry, argv,
						log_options);
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(&cmd_log_entry, "give one task id");
	if ((rc = cmd_parse_task_id(&cmd_log_entry, argv[optind], &t->id)))
		return rc;
	return -1;
}

/*
 * Whether the database's files are on this machine: then a run's log
 * that is not there is empty (a log, and the task's logs/<task>/, are
 * made with their first byte), and one of a database whose files are
 * elsewhere is not.
 */
static int
logs_here(const struct tail *t)
{
	struct stat st;

	return lstat(t->b->files_dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * run's log is not on this machine: print what the database keeps of
 * it (SPEC §10) past t->pos, as it is written while the run goes.
 * *found: the store keeps output and has the run.  Returns -1 to go on,
 * or an exit status.
 */
static int
db_print(struct tail *t, int64_t run, int *found)
{
	char *cause = NULL, *data = NULL;
	size_t len = 0;

	if (output_read(t->b->db, run, t->err ? "err" : "out", &t->pos, &data,
			&len, found, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		free(data);
		return EXIT_FAILED;
	}
	free(data);
	return -1;
}

/* What is new of the run followed in the database. */
static int
db_copy(struct tail *t)
{
	int found;

	return db_print(t, t->cur, &found);
}

/* run's log is not here: from the database if it keeps the output,
 * else say so (or, with -f, look again later).  Returns -1 to go on, or
 * an exit status. */
static int
from_db(struct tail *t, int64_t run)
{
	int found = 0, rc;

	t->pos = 0;
	if ((rc = db_print(t, run, &found)) >= 0)
		return rc;
	if (!found && !t->follow && !logs_here(t)) {
		cmd_error("cannot open %s: %s", t->path, strerror(ENOENT));
		return EXIT_FAILED;
	}
	if (found) {
		t->cur = run;
		t->db = 1;
	}
	return -1;
}

/* Followed in the database but nothing of it came yet: the run's file
 * may still be made here (its row comes first), and it has all of it. */
static void
db_to_file(struct tail *t)
{
	if (!t->db || t->pos != 0 || !t->follow)
		return;
	if ((t->fd = file_open_read(t->path)) >= 0)
		t->db = 0;
}

/* A new run: finish the old file, open run's.  Returns -1 to go on, or
 * an exit status. */
static int
open_run(struct tail *t, int64_t run)
{
	if (t->fd >= 0) {
		copy_out(t->fd);
		close(t->fd);
	} else if (t->db)
		(void)db_copy(t); /* the rest of the run before */
	t->db = 0;
	free(t->path);
	t->path = xasprintf("%s/logs/%lld/%lld.%s", t->b->files_dir,
			    (long long)t->id, (long long)run,
			    t->err ? "err" : "out");
	t->fd = file_open_read(t->path);
	if (t->fd < 0 && errno == ENOENT)
		return from_db(t, run);
	if (t->fd < 0 && (!t->follow || errno != ENOENT)) {
		cmd_error("cannot open %s: %s", t->path, file_strerror(errno));
		return EXIT_FAILED;
	}
	if (t->fd >= 0)
		t->cur = run;
	return -1;
}

/* Print what is new in the log.  Returns -1 to look again later, or an
 * exit status. */
static int
tail_once(struct tail *t)
{
	char *cause = NULL;
	int64_t last = 0;
	int running = 0, rc;

	rc = task_state(t->b, t->id, &last, &running, &cause);
	if (rc < 0) {
		cmd_error("%s", cause);
		free(cause);
		return EXIT_DB;
	}
	if (rc > 0) {
		cmd_error("no task %lld", (long long)t->id);
		return EXIT_USAGE;
	}
	if (t->run != 0)
		last = t->run;
	if (last != t->cur && last != 0 && (rc = open_run(t, last)) >= 0)
		return rc;
	db_to_file(t);
	if (t->fd >= 0 && copy_out(t->fd) != 0)
		return EXIT_FAILED;
	if (t->db && (rc = db_copy(t)) >= 0)
		return rc;
	if (!t->follow || !running || t->run != 0) {
		if (last == 0 && !t->follow && t->b->verbosity >= 0)
			fprintf(stderr, "baton: task %lld has not run yet\n",
				(long long)t->id);
		if (!t->follow || !running)
			return EXIT_OK;
	}
	return -1;
}

static int
log_exec(struct baton *b, int argc, char **argv)
{
	struct tail t = {.b = b, .fd = -1};
	struct pollfd p;
	int rc;

	if ((rc = parse_options(&t, argc, argv)) >= 0)
		return rc;
	if (cmd_signals_install(b) != 0)
		return EXIT_FAILED;
	p.fd = b->stop_fd;
	p.events = POLLIN;
	while ((rc = tail_once(&t)) < 0) {
		if (poll(&p, 1, 200) > 0) {
			rc = cmd_signal_exit();
			break;
		}
	}
	if (t.fd >= 0)
		close(t.fd);
	free(t.path);
	return rc;
}

const struct cmd_entry cmd_log_entry = {
	.name = "log",
	.usage = "TASK [-f] [--run N] [--stderr]",
	.summary = "print a task's agent output",
	.help = "options:\n"
		"  -f, --follow   keep printing while the task runs, until it "
		"ends\n"
		"  --run N        that run (default: the latest)\n"
		"  --stderr       the agent's standard error instead of its "
		"output\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY,
	.exec = log_exec,
	.options = log_options,
};
