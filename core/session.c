/*
 * Choosing the session a task runs in (SPEC §2: S2, S8–S12).
 */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/session.h"
#include "core/xmalloc.h"
#include "db/db.h"

void
session_choice_release(struct session_choice *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->agent);
	free(c->model);
	strvec_release(&c->notes);
	memset(c, 0, sizeof *c);
}

/* S11: creating one more active session must stay within the limit. */
static int
check_capacity(struct baton *b, struct db *db, char **cause)
{
	int64_t n;
	int rc;

	if ((rc = db_session_count_active(db, &n, cause)) != 0)
		return rc;
	if (n >= b->cfg->sessions.max_active) {
		*cause = xasprintf("cannot create a session: %lld active "
				   "sessions is the limit (sessions.max_active"
				   "); close some with 'baton session close' "
				   "or 'baton session gc'",
				   (long long)b->cfg->sessions.max_active);
		return -BERR_FAIL;
	}
	return 0;
}

/* Insert a new active session row; s->id may be preset (a UUID given). */
static int
create_session(struct baton *b, struct db *db, struct db_session *s,
	       int64_t now, char **cause)
{
	char id[37];
	int rc;

	if ((rc = check_capacity(b, db, cause)) != 0)
		return rc;
	if (s->id == NULL) {
		util_uuid_new(id);
		s->id = xstrdup(id);
	}
	if (s->os_user == NULL)
		s->os_user = util_user_name();
	s->created_at = now;
	if ((rc = db_session_insert(db, s, cause)) != 0)
		return rc;
	return db_event(db, "create", s->id, 0, 0, b->runner_id, s->kind, now,
			cause);
}

/*
 * S10: a session idle past the TTL is expired on use, and a fresh one
 * takes over its name or milestone with the old one as predecessor.
 */
static int
expire_and_succeed(struct baton *b, struct db *db, struct db_session *s,
		   int64_t now, struct strvec *notes, char **cause)
{
	struct db_session next = {0};
	char *detail;
	int rc;

	if ((rc = db_session_set_status(db, s->id, "expired", now, cause)))
		return rc;
	detail = xasprintf("idle since %lld ms", (long long)s->last_used_at);
	rc = db_event(db, "expire", s->id, 0, 0, b->runner_id, detail, now,
		      cause);
	free(detail);
	if (rc != 0)
		return rc;
	next.kind = xstrdup(s->kind);
	next.name = xstrdup_or_null(s->name);
	next.milestone_id = s->milestone_id;
	next.agent = xstrdup(s->agent);
	next.model = xstrdup_or_null(s->model);
	next.project = xstrdup(s->project);
	next.workdir = xstrdup(s->workdir);
	next.predecessor = xstrdup(s->id);
	if ((rc = create_session(b, db, &next, now, cause)) != 0)
		goto out;
	if (s->milestone_id != 0 &&
	    (rc = db_milestone_set_session(db, s->milestone_id, next.id,
					   cause)) != 0)
		goto out;
	strvec_pushf(notes, "session %s%s%s expired after being idle longer "
		     "than sessions.ttl; continuing in new session %s",
		     s->name ? s->name : s->id, s->name ? " " : "",
		     s->name ? "" : "", next.id);
	db_session_release(s);
	*s = next;
	memset(&next, 0, sizeof next);
out:
	db_session_release(&next);
	return rc;
}

static int
is_expired(struct baton *b, const struct db_session *s, int64_t now)
{
	return strcmp(s->status, "active") == 0 &&
	       s->last_used_at + b->cfg->sessions.ttl_ms < now;
}

/* S12: bound to the project and OS user that created it. */
static int
check_isolation(struct baton *b, struct db *db, const struct db_task *t,
		const struct db_session *s, int64_t now, struct strvec *notes,
		char **cause)
{
	char *user = util_user_name(), *detail = NULL;
	int rc = 0;

	if (strcmp(s->project, t->project) == 0 &&
	    strcmp(s->os_user, user) == 0)
		goto out;
	if (strcmp(s->project, t->project) != 0)
		detail = xasprintf("session %s belongs to project %s, not %s",
				   s->name ? s->name : s->id, s->project,
				   t->project);
	else
		detail = xasprintf("session %s belongs to user %s, not %s",
				   s->name ? s->name : s->id, s->os_user, user);
	if (!t->allow_foreign) {
		*cause = xasprintf("%s (use --allow-foreign-session to use it "
				   "anyway)", detail);
		rc = -BERR_FAIL;
		goto out;
	}
	strvec_pushf(notes, "%s; used anyway (--allow-foreign-session)",
		     detail);
	rc = db_event(db, "foreign", s->id, t->id, 0, b->runner_id, detail,
		      now, cause);
out:
	free(user);
	free(detail);
	return rc;
}

/* S9: the session pins agent and model; --force-agent re-pins. */
static int
pin_agent(struct baton *b, struct db *db, const struct db_task *t,
	  const struct db_session *s, int64_t now,
	  struct session_choice *out, char **cause)
{
	int agent_differs = t->agent != NULL && strcmp(t->agent, s->agent);
	int model_differs = t->model != NULL &&
			    (s->model == NULL || strcmp(t->model, s->model));
	char *detail;
	int rc;

	out->agent = xstrdup(s->agent);
	out->model = xstrdup_or_null(s->model);
	if (!agent_differs && !model_differs)
		return 0;
	if (!t->force_agent) {
		strvec_pushf(&out->notes, "session %s is pinned to agent %s%s%s;"
			     " task %lld asked for %s%s%s and runs on the "
			     "pinned ones (--force-agent re-pins)",
			     s->name ? s->name : s->id, s->agent,
			     s->model ? " model " : "", s->model ? s->model : "",
			     (long long)t->id, t->agent ? t->agent : s->agent,
			     t->model ? " model " : "", t->model ? t->model : "");
		return 0;
	}
	free(out->agent);
	free(out->model);
	out->agent = xstrdup(t->agent ? t->agent : s->agent);
	out->model = xstrdup_or_null(t->model ? t->model
				     : agent_differs ? NULL : s->model);
	detail = xasprintf("%s/%s -> %s/%s", s->agent,
			   s->model ? s->model : "-", out->agent,
			   out->model ? out->model : "-");
	rc = db_event(db, "repin", s->id, t->id, 0, b->runner_id, detail, now,
		      cause);
	free(detail);
	if (rc != 0)
		return rc;
	return db_session_repin(db, s->id, out->agent, out->model, cause);
}

static char *
default_model(struct baton *b, const char *agent)
{
	const struct agent_profile *p = config_agent(b->cfg, agent);

	return p != NULL ? xstrdup_or_null(p->model) : NULL;
}

/* A brand-new session of kind for task t. */
static int
new_session(struct baton *b, struct db *db, const struct db_task *t,
	    const char *kind, const char *id, const char *name,
	    int64_t milestone_id, int64_t now, struct session_choice *out,
	    char **cause)
{
	struct db_session s = {0};
	int rc;

	s.id = xstrdup_or_null(id);
	s.kind = xstrdup(kind);
	s.name = xstrdup_or_null(name);
	s.milestone_id = milestone_id;
	s.agent = xstrdup(t->agent ? t->agent : b->cfg->defaults.agent);
	s.model = t->model ? xstrdup(t->model) : default_model(b, s.agent);
	s.project = xstrdup(t->project);
	s.workdir = xstrdup(t->workdir);
	if ((rc = create_session(b, db, &s, now, cause)) == 0) {
		out->id = xstrdup(s.id);
		out->agent = xstrdup(s.agent);
		out->model = xstrdup_or_null(s.model);
		out->created = 1;
		out->temp = strcmp(kind, "temp") == 0;
	}
	db_session_release(&s);
	return rc;
}

/* Use an existing session s for t: expiry, isolation, pinning. */
static int
use_session(struct baton *b, struct db *db, const struct db_task *t,
	    struct db_session *s, int64_t now, struct session_choice *out,
	    char **cause)
{
	int rc;

	if (is_expired(b, s, now) &&
	    (rc = expire_and_succeed(b, db, s, now, &out->notes, cause)))
		return rc;
	if (strcmp(s->status, "active") != 0) {
		*cause = xasprintf("session %s is %s; start a new one with "
				   "'baton session init' or drop --session",
				   s->name ? s->name : s->id, s->status);
		return -BERR_FAIL;
	}
	if ((rc = check_isolation(b, db, t, s, now, &out->notes, cause)))
		return rc;
	if ((rc = pin_agent(b, db, t, s, now, out, cause)) != 0)
		return rc;
	out->id = xstrdup(s->id);
	out->temp = strcmp(s->kind, "temp") == 0;
	if ((rc = db_session_touch(db, s->id, now, cause)) != 0)
		return rc;
	return db_event(db, "resume", s->id, t->id, 0, b->runner_id, NULL,
			now, cause);
}

int
session_select(struct baton *b, struct db *db, const struct db_task *t,
	       int64_t now, struct session_choice *out, char **cause)
{
	struct db_session s = {0};
	struct db_milestone m = {0};
	char *lower = NULL;
	int found = 0, rc;

	memset(out, 0, sizeof *out);
	strvec_init(&out->notes);
	if (t->session_req != NULL) {
		if (util_is_uuid(t->session_req)) {
			lower = util_uuid_lower(t->session_req);
			rc = db_session_get(db, lower, &s, &found, cause);
		} else
			rc = db_session_get_by_name(db, t->session_req, &s,
						    &found, cause);
		if (rc != 0)
			goto out;
		if (!found)
			rc = new_session(b, db, t, "named", lower,
					 lower ? NULL : t->session_req, 0, now,
					 out, cause);
		else
			rc = use_session(b, db, t, &s, now, out, cause);
		goto out;
	}
	if (t->new_session || t->milestone_id == 0) {
		rc = new_session(b, db, t, "temp", NULL, NULL, 0, now, out,
				 cause);
		goto out;
	}
	if ((rc = db_milestone_get_id(db, t->milestone_id, &m, &found, cause)))
		goto out;
	if (!found || strcmp(m.session_mode, "per-task") == 0) {
		rc = new_session(b, db, t, "temp", NULL, NULL, 0, now, out,
				 cause);
		goto out;
	}
	found = 0;
	if (m.session_id != NULL &&
	    (rc = db_session_get(db, m.session_id, &s, &found, cause)))
		goto out;
	if (found && (strcmp(s.status, "active") == 0 || is_expired(b, &s, now)))
		rc = use_session(b, db, t, &s, now, out, cause);
	else if (found && strcmp(s.status, "expired") == 0) {
		rc = expire_and_succeed(b, db, &s, now, &out->notes, cause);
		if (rc == 0)
			rc = use_session(b, db, t, &s, now, out, cause);
	} else {
		rc = new_session(b, db, t, "milestone", NULL, NULL, m.id, now,
				 out, cause);
		if (rc == 0)
			rc = db_milestone_set_session(db, m.id, out->id,
						      cause);
	}
out:
	if (rc != 0) {
		strvec_release(&out->notes);
		session_choice_release(out);
		strvec_init(&out->notes);
	}
	free(lower);
	db_session_release(&s);
	db_milestone_release(&m);
	return rc;
}

int
session_ensure(struct baton *b, struct db *db, const char *name_or_uuid,
	       const char *agent, const char *model, const char *workdir,
	       int64_t now, char **id, int *created, char **cause)
{
	struct db_session s = {0};
	char *lower = NULL;
	int found, rc;

	*id = NULL;
	*created = 0;
	if (util_is_uuid(name_or_uuid)) {
		lower = util_uuid_lower(name_or_uuid);
		rc = db_session_get(db, lower, &s, &found, cause);
	} else
		rc = db_session_get_by_name(db, name_or_uuid, &s, &found,
					    cause);
	if (rc != 0)
		goto out;
	if (found) {
		/* S8: init never wipes; just touch it. */
		*id = xstrdup(s.id);
		rc = db_session_touch(db, s.id, now, cause);
		goto out;
	}
	db_session_release(&s);
	s.id = lower;
	lower = NULL;
	s.kind = xstrdup("named");
	s.name = s.id == NULL ? xstrdup(name_or_uuid) : NULL;
	s.agent = xstrdup(agent ? agent : b->cfg->defaults.agent);
	s.model = model ? xstrdup(model) : default_model(b, s.agent);
	s.workdir = xstrdup(workdir);
	s.project = util_project_of(workdir);
	if (s.project == NULL)
		s.project = xstrdup(workdir);
	if ((rc = create_session(b, db, &s, now, cause)) == 0) {
		*id = xstrdup(s.id);
		*created = 1;
	}
out:
	free(lower);
	db_session_release(&s);
	return rc;
}
