/*
 * baton log TASK [-f] [--run N] [--stderr]: the agent's output.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
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

static int
log_exec(struct baton *b, int argc, char **argv)
{
	enum { OPT_RUN = 256, OPT_STDERR };
	static const struct option longopts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"run", required_argument, NULL, OPT_RUN},
		{"stderr", no_argument, NULL, OPT_STDERR},
		{NULL, 0, NULL, 0},
	};
	struct pollfd p;
	char *cause = NULL, *path = NULL;
	long long run = 0;
	int64_t id, last = 0, cur = 0;
	int c, follow = 0, err = 0, fd = -1, running = 0, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "f", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = 1;
			break;
		case OPT_RUN:
			if (text_parse_int(optarg, 1, INT64_MAX, &run) != 0)
				return cmd_usage_error(&cmd_log_entry,
						       "invalid run '%s'",
						       optarg);
			break;
		case OPT_STDERR:
			err = 1;
			break;
		default:
			return cmd_option_error(&cmd_log_entry, argv, longopts);
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(&cmd_log_entry, "give one task id");
	if ((rc = cmd_parse_task_id(&cmd_log_entry, argv[optind], &id)))
		return rc;
	if (cmd_signals_install(b) != 0)
		return EXIT_FAILED;
	p.fd = b->stop_fd;
	p.events = POLLIN;
	for (;;) {
		rc = task_state(b, id, &last, &running, &cause);
		if (rc < 0) {
			cmd_error("%s", cause);
			free(cause);
			rc = EXIT_DB;
			break;
		}
		if (rc > 0) {
			cmd_error("no task %lld", (long long)id);
			rc = EXIT_USAGE;
			break;
		}
		if (run != 0)
			last = run;
		if (last != cur && last != 0) {
			/* a new run: finish the old file, open the next */
			if (fd >= 0) {
				copy_out(fd);
				close(fd);
			}
			free(path);
			path = xasprintf("%s/logs/%lld/%lld.%s", b->state_dir,
					 (long long)id, (long long)last,
					 err ? "err" : "out");
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 && (!follow || errno != ENOENT)) {
				cmd_error("cannot open %s: %s", path,
					  strerror(errno));
				rc = EXIT_FAILED;
				break;
			}
			if (fd >= 0)
				cur = last;
		}
		if (fd >= 0 && copy_out(fd) != 0) {
			rc = EXIT_FAILED;
			break;
		}
		if (!follow || !running || run != 0) {
			if (last == 0 && !follow && b->verbosity >= 0)
				fprintf(stderr,
					"baton: task %lld has not run "
					"yet\n",
					(long long)id);
			rc = EXIT_OK;
			if (!follow || !running)
				break;
		}
		if (poll(&p, 1, 200) > 0) {
			rc = cmd_signal_exit();
			break;
		}
	}
	if (fd >= 0)
		close(fd);
	free(path);
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
};
