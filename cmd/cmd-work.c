/*
 * baton work [-j N] [--milestone M] [--max-tasks N] [--until-empty]:
 * run pending tasks, N at a time, each worker a thread with its own
 * database connection.  Several `baton work` processes may share one
 * database: claims are atomic (orch_claim).
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/common.h"
#include "core/config.h"
#include "core/orchestrator.h"
#include "core/runner.h"
#include "lib/clock.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_work_entry;

struct work {
	struct baton *b;
	int64_t milestone_id;
	char *scope; /* the milestone's session: each worker's prior (S3) */
	long long max_tasks; /* 0: no limit */
	int until_empty;
	int tty;
	pthread_mutex_t lock;
	long long claimed;
	int running, exited_workers, nworkers;
	long long completed, failed, other;
	int stop;
	int exit_rc; /* worst error of baton's own */
	int bar_shown;
	int64_t started_ms;
	int wake[2]; /* written once when stop is set: wakes idle workers */
};

struct worker {
	struct work *w;
	pthread_t thread;
	int index;
};

static void
clear_bar(struct work *w)
{
	if (w->tty && w->bar_shown) {
		fputs("\r\033[K", stderr);
		w->bar_shown = 0;
	}
}

/* One line per finished task (above the progress bar on a TTY). */
static void
report(struct work *w, int64_t id, const struct orch_result *r)
{
	if (w->b->verbosity < 0)
		return;
	clear_bar(w);
	if (r->error != NULL)
		fprintf(stdout, "task %lld %s: %s\n", (long long)id, r->status,
			r->error);
	else
		fprintf(stdout, "task %lld %s\n", (long long)id, r->status);
	fflush(stdout);
}

static void
notify(void *arg, int64_t task_id, const char *msg)
{
	struct work *w = arg;

	pthread_mutex_lock(&w->lock);
	clear_bar(w);
	if (w->b->verbosity >= 0)
		fprintf(stderr, "baton: task %lld: %s\n", (long long)task_id,
			msg);
	pthread_mutex_unlock(&w->lock);
}

/* A task that may not run (S11, S12) was failed at its claim. */
static void
refused(void *arg, int64_t task_id, const char *why)
{
	struct work *w = arg;

	pthread_mutex_lock(&w->lock);
	w->failed++;
	if (w->b->verbosity >= 0) {
		clear_bar(w);
		printf("task %lld failed: %s\n", (long long)task_id, why);
		fflush(stdout);
	}
	pthread_mutex_unlock(&w->lock);
}

/* With w->lock held. */
static void
set_stop(struct work *w)
{
	if (!w->stop) {
		w->stop = 1;
		if (w->wake[1] >= 0 && write(w->wake[1], "x", 1) < 0) {
			/* the idle workers time out instead */
		}
	}
}

static int
stopping(struct work *w)
{
	struct pollfd p = {.fd = w->b->stop_fd, .events = POLLIN};

	return w->stop || poll(&p, 1, 0) > 0;
}

static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	struct work *w = wk->w;
	struct baton *b = w->b;
	struct pollfd p[2] = {{.fd = b->stop_fd, .events = POLLIN},
			      {.fd = w->wake[0], .events = POLLIN}};
	struct orch o;
	struct orch_result res;
	struct db *db = NULL;
	char *cause = NULL;
	int64_t id, pending;
	int rc;

	if ((rc = runner_db_open(b, &db, &cause)) != 0)
		goto fail;
	orch_init(&o, b, db);
	o.notify = notify;
	o.notify_arg = w;
	o.scope = xstrdup_or_null(w->scope);
	o.scope_milestone = w->milestone_id;
	o.refused = refused;
	o.fail_at = getenv("BATON_TEST_FAIL_AT");
	for (;;) {
		pthread_mutex_lock(&w->lock);
		if (stopping(w) ||
		    (w->max_tasks > 0 && w->claimed >= w->max_tasks)) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		w->claimed++;
		pthread_mutex_unlock(&w->lock);

		rc = orch_claim(&o, w->milestone_id, &id, &cause);
		if (rc == 0 && id == 0) {
			pthread_mutex_lock(&w->lock);
			w->claimed--;
			pthread_mutex_unlock(&w->lock);
			if (w->until_empty) {
				rc = db_task_count_pending(db, w->milestone_id,
							   &pending, &cause);
				if (rc != 0)
					break;
				pthread_mutex_lock(&w->lock);
				if (pending == 0 && w->running == 0)
					set_stop(w);
				pthread_mutex_unlock(&w->lock);
			}
			/* nothing to start now: wait a little */
			if (poll(p, 2, 100) > 0 && p[0].revents != 0)
				break;
			continue;
		}
		if (rc != 0)
			break;
		pthread_mutex_lock(&w->lock);
		w->running++;
		pthread_mutex_unlock(&w->lock);

		rc = orch_execute(&o, id, &res, &cause);

		pthread_mutex_lock(&w->lock);
		w->running--;
		if (strcmp(res.status, "completed") == 0)
			w->completed++;
		else if (strcmp(res.status, "failed") == 0 ||
			 strcmp(res.status, "timed_out") == 0)
			w->failed++;
		else
			w->other++;
		report(w, id, &res);
		pthread_mutex_unlock(&w->lock);
		orch_result_release(&res);
		if (rc == -BERR_DB)
			break;
		if (rc != 0) {
			/* baton's own error, already recorded on the task */
			notify(w, id, cause);
			free(cause);
			cause = NULL;
			rc = 0;
		}
	}
	orch_release(&o);
fail:
	pthread_mutex_lock(&w->lock);
	if (rc != 0) {
		clear_bar(w);
		cmd_error("%s", cause ? cause : "worker failed");
		if (w->exit_rc == 0)
			w->exit_rc = cmd_exit_code(rc);
		set_stop(w);
	}
	w->exited_workers++;
	pthread_mutex_unlock(&w->lock);
	free(cause);
	db_close(db);
	return NULL;
}

static void
draw_bar(struct work *w)
{
	char *cause = NULL;
	int64_t pending = 0;
	long long done, total;
	int width = 24, fill, i;
	char el[32];

	if (db_task_count_pending(w->b->db, w->milestone_id, &pending,
				  &cause) != 0) {
		free(cause);
		return;
	}
	pthread_mutex_lock(&w->lock);
	done = w->completed + w->failed + w->other;
	total = done + w->running + pending;
	fill = total > 0 ? (int)(done * width / total) : 0;
	cmd_format_elapsed(clock_now_ms() - w->started_ms, el, sizeof el);
	fputs("\r\033[K[", stderr);
	for (i = 0; i < width; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %lld/%lld done, %d running, %lld failed, %s", done,
		total, w->running, w->failed, el);
	w->bar_shown = 1;
	fflush(stderr);
	pthread_mutex_unlock(&w->lock);
}

static int
work_exec(struct baton *b, int argc, char **argv)
{
	enum { OPT_MS = 256, OPT_MAX, OPT_UNTIL };
	static const struct option longopts[] = {
		{"jobs", required_argument, NULL, 'j'},
		{"milestone", required_argument, NULL, OPT_MS},
		{"max-tasks", required_argument, NULL, OPT_MAX},
		{"until-empty", no_argument, NULL, OPT_UNTIL},
		{NULL, 0, NULL, 0},
	};
	struct work w;
	struct worker *workers = NULL;
	struct runner runner;
	struct db_milestone m = {0};
	struct pollfd p;
	char *cause = NULL;
	const char *ms = NULL;
	long long jobs;
	int c, i, found, rc, all_exited;

	memset(&w, 0, sizeof w);
	w.b = b;
	jobs = b->cfg->workers;
	optind = 0;
	while ((c = getopt_long(argc, argv, "j:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (text_parse_int(optarg, 1, 256, &jobs) != 0)
				return cmd_usage_error(&cmd_work_entry,
						       "invalid -j '%s': give "
						       "a number from 1 to 256",
						       optarg);
			break;
		case OPT_MS:
			ms = optarg;
			break;
		case OPT_MAX:
			if (text_parse_int(optarg, 1, LLONG_MAX,
					   &w.max_tasks) != 0)
				return cmd_usage_error(&cmd_work_entry,
						       "invalid --max-tasks "
						       "'%s': give a number "
						       "of 1 or more",
						       optarg);
			break;
		case OPT_UNTIL:
			w.until_empty = 1;
			break;
		default:
			return cmd_option_error(&cmd_work_entry, argv,
						longopts);
		}
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_work_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	if (ms != NULL) {
		if ((rc = db_milestone_get(b->db, ms, &m, &found, &cause))) {
			cmd_error("%s", cause);
			free(cause);
			return EXIT_DB;
		}
		if (!found)
			return cmd_usage_error(&cmd_work_entry,
					       "no milestone '%s' (see 'baton "
					       "milestone list')",
					       ms);
		w.milestone_id = m.id;
		w.scope = xstrdup_or_null(m.session_id);
		db_milestone_release(&m);
	}
	w.tty = isatty(STDERR_FILENO) && b->verbosity >= 0;
	w.started_ms = clock_now_ms();
	w.nworkers = (int)jobs;
	pthread_mutex_init(&w.lock, NULL);

	if (cmd_signals_install(b) != 0) {
		cmd_error("cannot set up signal handling");
		return EXIT_FAILED;
	}
	if ((rc = runner_start(&runner, b, &cause)) != 0) {
		cmd_error("%s", cause);
		free(cause);
		free(w.scope);
		return cmd_exit_code(rc);
	}
	/* Without it idle workers notice a stop within 100 ms. */
	if (pipe(w.wake) != 0) {
		w.wake[0] = w.wake[1] = -1;
	} else {
		fcntl(w.wake[0], F_SETFD, FD_CLOEXEC);
		fcntl(w.wake[1], F_SETFD, FD_CLOEXEC);
		fcntl(w.wake[1], F_SETFL, O_NONBLOCK);
	}
	workers = xcalloc((size_t)jobs, sizeof *workers);
	for (i = 0; i < jobs; i++) {
		workers[i].w = &w;
		workers[i].index = i;
		if (pthread_create(&workers[i].thread, NULL, worker_main,
				   &workers[i]) != 0) {
			cmd_error("cannot start worker %d", i + 1);
			pthread_mutex_lock(&w.lock);
			set_stop(&w);
			w.exit_rc = EXIT_FAILED;
			w.nworkers = i;
			pthread_mutex_unlock(&w.lock);
			jobs = i;
			break;
		}
	}
	p.fd = b->stop_fd;
	p.events = POLLIN;
	/* Without a progress bar there is nothing to do but wait: the
	 * workers watch stop_fd themselves. */
	while (w.tty) {
		pthread_mutex_lock(&w.lock);
		all_exited = w.exited_workers >= w.nworkers;
		pthread_mutex_unlock(&w.lock);
		if (all_exited)
			break;
		draw_bar(&w);
		poll(&p, 0, 200);
	}
	for (i = 0; i < jobs; i++)
		pthread_join(workers[i].thread, NULL);
	free(workers);
	if (w.tty) {
		draw_bar(&w);
		fputc('\n', stderr);
	}
	runner_stop(&runner);
	pthread_mutex_destroy(&w.lock);
	if (w.wake[0] >= 0) {
		close(w.wake[0]);
		close(w.wake[1]);
	}
	free(w.scope);

	if (b->verbosity >= 0 && !w.tty)
		fprintf(stderr,
			"baton: %lld completed, %lld failed, %lld "
			"other\n",
			w.completed, w.failed, w.other);
	if (cmd_signal_received())
		return cmd_signal_exit();
	if (w.exit_rc != 0)
		return w.exit_rc;
	return w.failed + w.other > 0 ? EXIT_FAILED : EXIT_OK;
}

const struct cmd_entry cmd_work_entry = {
	.name = "work",
	.usage = "[-j N] [--milestone M] [--max-tasks N] [--until-empty]",
	.summary = "run pending tasks, N at a time",
	.help = "options:\n"
		"  -j, --jobs N       run up to N tasks at a time (default: "
		"workers)\n"
		"  --milestone M      only tasks of milestone M, in order\n"
		"  --max-tasks N      stop after starting N tasks\n"
		"  --until-empty      exit when no pending task is left "
		"(default:\n"
		"                     keep waiting for new tasks until "
		"interrupted)\n"
		"\nA progress bar on a terminal, one line per finished task "
		"otherwise.\n"
		"Exit status 0 if every task it ran completed, 1 otherwise.\n",
	.flags = CMD_NEEDS_DB,
	.exec = work_exec,
};
