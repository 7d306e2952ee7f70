/*
 * Turning what the user wrote into a task row (SPEC §6 TASK OPTIONS).
 */
#include <errno.h>
#include <poll.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/task.h"
#include "core/project.h"
#include "core/session.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/id.h"
#include "lib/num.h"
#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"
#include "db/store.h"

/* A prompt can be large, but not unbounded: 64 MiB. */
#define PROMPT_MAX (64u << 20)

void
task_spec_release(struct task_spec *s)
{
	if (s == NULL)
		return;
	free(s->prompt);
	free(s->prompt_file);
	free(s->agent);
	free(s->model);
	free(s->session);
	free(s->milestone);
	free(s->workdir);
	free(s->timeout);
	free(s->check);
	free(s->max_iterations);
	free(s->title);
	free(s->key);
	free(s->retries);
	free(s->max_cost);
	free(s->origin);
	memset(s, 0, sizeof *s);
}

int
task_parse_id(const char *s, int64_t *id)
{
	long long v;

	if (text_parse_int(s, 1, INT64_MAX, &v) != 0)
		return -1;
	*id = v;
	return 0;
}

static int
bad(const struct task_spec *s, char **cause, char *msg)
{
	if (s->origin != NULL) {
		*cause = xasprintf("%s: %s", s->origin, msg);
		free(msg);
	} else
		*cause = msg;
	return -BERR_USAGE;
}

static char *
read_stdin(size_t *len)
{
	struct strbuf sb;
	char buf[65536];
	ssize_t n;

	strbuf_init(&sb);
	while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			strbuf_release(&sb);
			return NULL;
		}
		strbuf_add(&sb, buf, (size_t)n);
		if (sb.len > PROMPT_MAX) {
			strbuf_release(&sb);
			errno = EFBIG;
			return NULL;
		}
	}
	*len = sb.len;
	return strbuf_detach(&sb);
}

static int
is_blank(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	}
	return 1;
}

/* The prompt from the file named, or from stdin for "-"; 0 or
 * -BERR_USAGE. */
static int
read_prompt(const struct task_spec *s, const char *file, struct db_task *t,
	    char **cause)
{
	int in = strcmp(file, "-") == 0;
	size_t len;

	t->prompt =
		in ? read_stdin(&len) : file_read_input(file, PROMPT_MAX, &len);
	if (t->prompt == NULL && in)
		return bad(s, cause,
			   xasprintf("cannot read the prompt from standard "
				     "input: %s",
				     xstrerror(errno)));
	if (t->prompt == NULL)
		return bad(s, cause,
			   xasprintf("cannot read prompt file %s: %s", file,
				     file_strerror(errno)));
	if (strlen(t->prompt) != len)
		return bad(s, cause,
			   in ? xstrdup("the prompt on standard input "
					"contains a NUL byte")
			      : xasprintf("prompt file %s contains a NUL byte",
					  file));
	return 0;
}

/* t->prompt from the words, the prompt file or stdin; 0 or
 * -BERR_USAGE. */
static int
resolve_prompt(const struct task_spec *s, struct db_task *t, char **cause)
{
	const char *file = s->prompt_file;
	int rc;

	if (s->prompt_file != NULL && s->prompt != NULL)
		return bad(s, cause,
			   xstrdup("give a prompt or --prompt-file, "
				   "not both"));
	if (file == NULL && s->prompt == NULL && s->prompt_stdin) {
		/* `echo 'fix it' | baton run`; a terminal would just wait */
		if (isatty(STDIN_FILENO))
			return bad(s, cause,
				   xstrdup("no prompt: give a PROMPT, pipe "
					   "one on standard input or use "
					   "--prompt-file FILE"));
		file = "-";
	}
	if (file != NULL) {
		if ((rc = read_prompt(s, file, t, cause)) != 0)
			return rc;
	} else if (s->prompt != NULL)
		t->prompt = xstrdup(s->prompt);
	if (t->prompt == NULL || is_blank(t->prompt))
		return bad(s, cause,
			   xstrdup("empty prompt: give the task as "
				   "words, --prompt-file FILE or "
				   "--prompt-file - for stdin"));
	return 0;
}

/* Where it runs: t->workdir (a realpath) and t->project; 0 or
 * -BERR_USAGE. */
static int
resolve_workdir(const struct task_spec *s, struct db_task *t, char **cause)
{
	struct stat sb;

	if (s->workdir != NULL) {
		if (stat(s->workdir, &sb) != 0)
			return bad(s, cause,
				   xasprintf("workdir %s: %s", s->workdir,
					     xstrerror(errno)));
		if (!S_ISDIR(sb.st_mode))
			return bad(s, cause,
				   xasprintf("workdir %s: not a "
					     "directory",
					     s->workdir));
	}
	t->workdir = realpath(s->workdir ? s->workdir : ".", NULL);
	if (t->workdir == NULL)
		return bad(s, cause,
			   xasprintf("workdir %s: %s",
				     s->workdir ? s->workdir : ".",
				     xstrerror(errno)));
	t->project = project_of(t->workdir);
	if (t->project == NULL)
		t->project = xstrdup(t->workdir);
	return 0;
}

/* Which agent: a profile of cfg, if named; 0 or -BERR_USAGE. */
static int
resolve_agent(const struct config *cfg, const struct task_spec *s,
	      struct db_task *t, char **cause)
{
	if (s->agent != NULL && config_agent(cfg, s->agent) == NULL)
		return bad(s, cause,
			   xasprintf("unknown agent '%s' (see 'baton "
				     "config show' for the profiles)",
				     s->agent));
	t->agent = xstrdup_or_null(s->agent);
	t->model = xstrdup_or_null(s->model);
	t->force_agent = s->force_agent;
	t->allow_foreign = s->allow_foreign;
	return 0;
}

/* `add --from`: the milestones its tasks named so far, so that a
 * thousand tasks of one milestone look it up once. */
#define MILESTONES_KEPT 64
struct milestones {
	char *name[MILESTONES_KEPT];
	int64_t id[MILESTONES_KEPT];
	int n;
};

static void
milestones_release(struct milestones *ms)
{
	while (ms->n > 0)
		free(ms->name[--ms->n]);
}

/* t->milestone_id for s->milestone, created if it does not exist (ms, if
 * not NULL, the ones known); 0, -BERR_USAGE or the store's error. */
static int
resolve_milestone(struct store *db, const struct task_spec *s,
		  struct db_task *t, struct milestones *ms, char **cause)
{
	struct db_milestone m = {0};
	int found, existed, rc, i;

	if (!session_name_valid(s->milestone))
		return bad(s, cause,
			   xasprintf("invalid milestone name '%s': use "
				     "1 to 64 characters from A-Z a-z "
				     "0-9 . _ -",
				     s->milestone));
	for (i = 0; ms != NULL && i < ms->n; i++)
		if (strcmp(ms->name[i], s->milestone) == 0) {
			t->milestone_id = ms->id[i];
			return 0;
		}
	if ((rc = store_milestone_get(db, s->milestone, &m, &found, cause)) !=
	    0)
		goto out;
	if (!found) {
		m.name = xstrdup(s->milestone);
		if ((rc = store_milestone_insert(db, &m, clock_now_ms(),
						 &existed, cause)) != 0)
			goto out;
	}
	t->milestone_id = m.id;
	if (ms != NULL && ms->n < MILESTONES_KEPT) {
		ms->name[ms->n] = xstrdup(s->milestone);
		ms->id[ms->n++] = m.id;
	}
out:
	db_milestone_release(&m);
	return rc;
}

/* --continue: the session of the project's last conversation, as if
 * named by its UUID; 0, -BERR_USAGE or the store's error. */
static int
resolve_continue(struct store *db, const struct task_spec *s, struct db_task *t,
		 char **cause)
{
	const char *other = s->session	     ? "--session"
			    : s->new_session ? "--new-session"
			    : s->milestone   ? "--milestone"
					     : NULL;

	if (other != NULL)
		return bad(s, cause,
			   xasprintf("--continue and %s exclude each other",
				     other));
	return session_last_used(db, t->project, &t->session_req, cause);
}

/* Which session, which milestone, and so which queue; 0, -BERR_USAGE or
 * the store's error. */
static int
resolve_session(struct store *db, const struct task_spec *s, struct db_task *t,
		struct milestones *ms, char **cause)
{
	int rc;

	if (s->session != NULL && s->new_session)
		return bad(s, cause,
			   xstrdup("--session and --new-session "
				   "exclude each other"));
	if (s->continue_last && (rc = resolve_continue(db, s, t, cause)) != 0)
		return rc;
	if (s->session != NULL) {
		if (id_is_uuid(s->session))
			t->session_req = id_uuid_lower(s->session);
		else if (session_name_valid(s->session))
			t->session_req = xstrdup(s->session);
		else
			return bad(s, cause,
				   xasprintf("invalid session '%s': give a "
					     "UUID or a name of 1 to 64 "
					     "characters from A-Z a-z 0-9 . "
					     "_ -",
					     s->session));
	}
	t->new_session = s->new_session;
	if (s->milestone != NULL &&
	    (rc = resolve_milestone(db, s, t, ms, cause)) != 0)
		return rc;
	/* S6: tasks of one milestone, or one named session, run in order
	 * and one at a time. */
	if (t->milestone_id != 0)
		t->queue = xasprintf("m:%lld", (long long)t->milestone_id);
	else if (t->session_req != NULL)
		t->queue = xasprintf("%s:%s",
				     id_is_uuid(t->session_req) ? "u" : "s",
				     t->session_req);
	return 0;
}

/* The longest bad value a message shows. */
#define SHOWN_MAX 80

/* --timeout (a task file's timeout:): a duration greater than 0; 0 or
 * -BERR_USAGE. */
static int
resolve_timeout(const struct task_spec *s, int64_t *out, char **cause)
{
	const char *what = s->origin != NULL ? "timeout" : "--timeout";
	char shown[SHOWN_MAX + 4], *why, *msg;
	int64_t ms;

	text_shown(s->timeout, strlen(s->timeout), SHOWN_MAX, shown);
	if (duration_parse(s->timeout, &ms) != 0) {
		why = duration_error(shown);
		msg = xasprintf("%s: %s", what, why);
		free(why);
		return bad(s, cause, msg);
	}
	if (ms == 0)
		return bad(s, cause,
			   xasprintf("%s: expected a duration greater than 0, "
				     "got '%s'",
				     what, shown));
	*out = ms;
	return 0;
}

/* --retries and --max-cost (task file retries:, max_cost:); 0 or
 * -BERR_USAGE. */
static int
resolve_budget(const struct task_spec *s, struct db_task *t, char **cause)
{
	char shown[SHOWN_MAX + 4];
	long long n;
	double d;

	t->retries = -1; /* not set: decided when it runs */
	if (s->retries != NULL) {
		if (text_parse_int(s->retries, 0, 1000, &n) != 0)
			return bad(s, cause,
				   xasprintf("invalid --retries '%s': give a "
					     "whole number from 0 to 1000",
					     s->retries));
		t->retries = (int)n;
	}
	if (s->max_cost == NULL)
		return 0;
	/* the parser of sessions.max_cost: no hex, inf or nan */
	if (num_parse_decimal(s->max_cost, &d) != 0 || d <= 0) {
		text_shown(s->max_cost, strlen(s->max_cost), SHOWN_MAX, shown);
		return bad(s, cause,
			   xasprintf("invalid --max-cost '%s': give an amount "
				     "in USD greater than 0, like 2.50",
				     shown));
	}
	t->max_cost = d;
	return 0;
}

/* Timeout, check, iterations, attempts, title and key; 0 or
 * -BERR_USAGE. */
static int
resolve_limits(const struct config *cfg, const struct task_spec *s,
	       struct db_task *t, char **cause)
{
	long long n;
	int rc;

	if (s->timeout != NULL &&
	    (rc = resolve_timeout(s, &t->timeout_ms, cause)) != 0)
		return rc;
	t->check_cmd = xstrdup_or_null(s->check);
	if (s->check != NULL && is_blank(s->check))
		return bad(s, cause, xstrdup("empty --check command"));
	t->max_iterations = s->check ? cfg->defaults.max_iterations : 1;
	if (s->max_iterations != NULL) {
		if (text_parse_int(s->max_iterations, 1, 1000, &n) != 0)
			return bad(s, cause,
				   xasprintf("invalid --max-iterations '%s': "
					     "give a whole number from 1 to "
					     "1000",
					     s->max_iterations));
		t->max_iterations = (int)n;
	}
	t->max_attempts = cfg->defaults.max_attempts;
	t->title = xstrdup_or_null(s->title);
	t->key = xstrdup_or_null(s->key);
	if (s->key != NULL && s->key[0] == '\0')
		return bad(s, cause, xstrdup("empty --key"));
	return 0;
}

int
task_attempts_of(const struct db_task *t, int requeue_interrupted)
{
	int of, least;

	switch (t->status) {
	case TASK_COMPLETED:
	case TASK_FAILED:
	case TASK_CANCELLED:
	case TASK_TIMED_OUT:
		return t->attempts;
	case TASK_INTERRUPTED:
		if (!requeue_interrupted || t->attempts >= t->max_attempts)
			return t->attempts;
		return t->max_attempts;
	default:
		break;
	}
	/* a failure or a timeout runs it again retries times; only an
	 * interruption, requeued by the runner, goes to max_attempts */
	of = 1 + (t->retries > 0 ? t->retries : 0);
	if (requeue_interrupted && t->max_attempts > of)
		of = t->max_attempts;
	least = t->attempts + (t->status == TASK_PENDING);
	return of < least ? least : of;
}

/* task_spec_resolve() with the milestones ms knows (or NULL). */
static int
spec_resolve(struct baton *b, struct store *db, const struct task_spec *s,
	     struct db_task *t, struct milestones *ms, char **cause)
{
	int rc;

	memset(t, 0, sizeof *t);
	if ((rc = resolve_prompt(s, t, cause)) != 0 ||
	    (rc = resolve_workdir(s, t, cause)) != 0 ||
	    (rc = resolve_agent(b->cfg, s, t, cause)) != 0 ||
	    (rc = resolve_session(db, s, t, ms, cause)) != 0 ||
	    (rc = resolve_limits(b->cfg, s, t, cause)) != 0 ||
	    (rc = resolve_budget(s, t, cause)) != 0)
		db_task_release(t);
	return rc;
}

/* Check spec and fill in *t (see task.h); *t is empty on an error. */
int
task_spec_resolve(struct baton *b, struct store *db, const struct task_spec *s,
		  struct db_task *t, char **cause)
{
	return spec_resolve(b, db, s, t, NULL, cause);
}

int
task_add(struct baton *b, const struct task_spec *spec, struct db_task *t,
	 int *existed, char **cause)
{
	int64_t id;
	int found, rc;

	*existed = 0;
	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = task_spec_resolve(b, b->db, spec, t, cause)) == 0 &&
	    (rc = store_task_insert(b->db, t, clock_now_ms(), existed,
				    cause)) == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		db_task_release(t);
		return rc;
	}
	if (*existed) {
		/* the task the key names, as it is */
		id = t->id;
		db_task_release(t);
		if ((rc = store_task_get(b->db, id, t, &found, cause)) != 0)
			return rc;
	}
	return 0;
}

/*
 * Every spec resolved first, in order (a bad one: nothing inserted),
 * then inserted all at once (store_task_insert_many: a few round trips
 * for thousands of tasks on a server).
 */
int
task_add_all(struct baton *b, const struct task_spec *specs, size_t n,
	     int64_t *ids, size_t *added, char **cause)
{
	struct db_task *ts = xcalloc(n ? n : 1, sizeof *ts);
	int *existed = xcalloc(n ? n : 1, sizeof *existed);
	struct milestones ms = {0};
	size_t i, done = 0;
	int rc;

	*added = 0;
	if ((rc = store_begin(b->db, cause)) != 0)
		goto out;
	for (; done < n; done++) {
		if ((rc = spec_resolve(b, b->db, &specs[done], &ts[done], &ms,
				       cause)) != 0)
			break;
		ts[done].created_at = clock_now_ms();
	}
	if (rc == 0)
		rc = store_task_insert_many(b->db, ts, n, existed, cause);
	if (rc == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		goto out;
	}
	for (i = 0; i < n; i++) {
		ids[i] = ts[i].id;
		*added += !existed[i];
	}
out:
	for (i = 0; i < done; i++)
		db_task_release(&ts[i]);
	milestones_release(&ms);
	free(existed);
	free(ts);
	return rc;
}

unsigned
task_retryable_mask(void)
{
	unsigned m = 0;
	int i;

	for (i = 0; i < TASK_NSTATUS; i++) {
		if (task_status_retryable((enum task_status)i))
			m |= 1u << i;
	}
	return m;
}

int
task_retry(struct baton *b, const int64_t *ids, size_t n,
	   struct task_change *out, char **cause)
{
	struct db_task t = {0};
	size_t i;
	int rc;

	memset(out, 0, n * sizeof *out);
	if ((rc = store_begin(b->db, cause)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		out[i].id = ids[i];
		rc = store_task_get(b->db, ids[i], &t, &out[i].found, cause);
		if (rc != 0 || !out[i].found)
			continue;
		out[i].was = t.status;
		db_task_release(&t);
		if (task_status_retryable(out[i].was))
			rc = store_task_requeue(b->db, ids[i],
						task_retryable_mask(),
						&out[i].changed, cause);
	}
	if (rc == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		memset(out, 0, n * sizeof *out);
	}
	return rc;
}

int
task_cancel(struct baton *b, int64_t id, struct task_change *out, char **cause)
{
	int rc;

	memset(out, 0, sizeof *out);
	out->id = id;
	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = store_task_cancel(b->db, id, clock_now_ms(), &out->found,
				    &out->was, cause)) == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		return rc;
	}
	out->changed = out->found &&
		       (out->was == TASK_PENDING || out->was == TASK_RUNNING);
	return 0;
}

int64_t
task_kill_grace_ms(struct baton *b, const char *agent)
{
	const struct agent_profile *p;

	p = agent != NULL ? config_agent(b->cfg, agent) : NULL;
	if (p != NULL && p->kill_grace_ms > 0)
		return p->kill_grace_ms;
	return b->cfg->defaults.kill_grace_ms;
}

int
task_wait_end(struct baton *b, int64_t id, enum task_status *final)
{
	struct db_task t = {0};
	int64_t end, grace;
	char *cause = NULL;
	int found;

	if (store_task_get(b->db, id, &t, &found, &cause) != 0) {
		free(cause);
		return 0;
	}
	grace = task_kill_grace_ms(b, found ? t.agent : NULL);
	db_task_release(&t);
	end = clock_mono_ms() + grace + TASK_WAIT_SLACK_MS;
	while (clock_mono_ms() < end) {
		if (store_task_get(b->db, id, &t, &found, &cause) != 0) {
			free(cause);
			return 0;
		}
		if (!found || t.status != TASK_RUNNING) {
			*final = found ? t.status : TASK_CANCELLED;
			db_task_release(&t);
			return 1;
		}
		db_task_release(&t);
		poll(NULL, 0, 100);
	}
	return 0;
}
