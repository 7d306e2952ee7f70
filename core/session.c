/*
 * Choosing the session a task runs in (SPEC §2: S2, S8–S12), and the
 * session commands' operations (init, reset, close, gc).
 *
 * Everything here runs inside the caller's write transaction: a session
 * row is created, expired, re-pinned or touched in the same transaction
 * that claims the task, so that it is committed before any agent starts
 * (S1) and two baton processes never pick differently.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/project.h"
#include "core/session.h"
#include "agents/agent.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/id.h"
#include "lib/strbuf.h"
#include "lib/sys.h"
#include "lib/xmalloc.h"

/*
 * What is asked of a session: by a task (session_select) or by
 * `session init` (session_ensure).
 */
struct req {
	int64_t task_id;     /* 0 for init */
	const char *agent;   /* asked for, or NULL */
	const char *model;   /* asked for, or NULL */
	const char *project; /* where the request comes from (S12) */
	const char *workdir;
	int force_agent, allow_foreign;
	int init; /* session init: no resume event, no re-pin */
};

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

char *
session_label(const struct db_session *s)
{
	if (s->name != NULL)
		return xasprintf("%s (%s)", s->name, s->id);
	return xstrdup(s->id);
}

int
session_leased(const struct db_session *s, int64_t now)
{
	return s->lease_runner != 0 && s->lease_expires >= now;
}

/* S10: idle past the TTL, and not in use by a running task. */
static int
idle_expired(struct baton *b, const struct db_session *s, int64_t now)
{
	return s->status == SESSION_ACTIVE && !session_leased(s, now) &&
	       s->last_used_at + b->cfg->sessions.ttl_ms < now;
}

/* A rough human duration for messages: "3s", "4m05s", "2h10m", "3d04h". */
static char *
human_duration(int64_t ms)
{
	long long sec = ms < 0 ? 0 : (long long)(ms / 1000);

	if (sec < 60)
		return xasprintf("%llds", sec);
	if (sec < 3600)
		return xasprintf("%lldm%02llds", sec / 60, sec % 60);
	if (sec < 86400)
		return xasprintf("%lldh%02lldm", sec / 3600, sec / 60 % 60);
	return xasprintf("%lldd%02lldh", sec / 86400, sec / 3600 % 24);
}

static char *
default_model(struct baton *b, const char *agent)
{
	const struct agent_profile *p = config_agent(b->cfg, agent);

	return p != NULL ? xstrdup_or_null(p->model) : NULL;
}

/* S11: creating one more active session must stay within the limit. */
static int
check_capacity(struct baton *b, struct store *db, int64_t *full, char **cause)
{
	int64_t n;
	int rc;

	if ((rc = store_session_count_active(db, b->cfg->sessions.max_active,
					     &n, cause)) != 0)
		return rc;
	if (n >= b->cfg->sessions.max_active) {
		if (full != NULL)
			*full = n;
		*cause = xasprintf("cannot create a session: %lld sessions are "
				   "active and sessions.max_active is %d; "
				   "close some with 'baton session close' or "
				   "'baton session gc', or raise the limit",
				   (long long)n, b->cfg->sessions.max_active);
		return -BERR_FAIL;
	}
	return 0;
}

/*
 * Insert a new active session row (s->id may be preset: a UUID given)
 * and its "create" event.  *full (may be NULL): see check_capacity.
 */
static int
create_row(struct baton *b, struct store *db, struct db_session *s,
	   int64_t task_id, int64_t now, int64_t *full, char **cause)
{
	struct strbuf d;
	char id[37];
	int rc;

	if ((rc = check_capacity(b, db, full, cause)) != 0)
		return rc;
	if (s->id == NULL) {
		id_uuid_new(id);
		s->id = xstrdup(id);
	}
	if (s->os_user == NULL)
		s->os_user = sys_user_name();
	s->status = SESSION_ACTIVE;
	s->resumable = 1;
	s->created_at = now;
	s->last_used_at = now;
	if ((rc = store_session_insert(db, s, cause)) != 0)
		return rc;
	strbuf_init(&d);
	strbuf_adds(&d, session_kind_name(s->kind));
	if (s->name != NULL)
		strbuf_addf(&d, " %s", s->name);
	if (s->milestone_id != 0)
		strbuf_addf(&d, " of milestone %lld",
			    (long long)s->milestone_id);
	strbuf_addf(&d, ", agent %s", s->agent);
	if (s->model != NULL)
		strbuf_addf(&d, ", model %s", s->model);
	if (s->predecessor != NULL)
		strbuf_addf(&d, ", successor of %s", s->predecessor);
	rc = store_event(db, EVENT_CREATE, s->id, task_id, 0, b->runner_id,
			 d.buf, now, cause);
	strbuf_release(&d);
	return rc;
}

static void
choose(struct session_choice *out, const struct db_session *s)
{
	free(out->id);
	free(out->agent);
	free(out->model);
	out->id = xstrdup(s->id);
	out->agent = xstrdup(s->agent);
	out->model = xstrdup_or_null(s->model);
	out->temp = s->kind == SESSION_TEMP;
}

/* A brand-new session of kind for the request. */
static int
new_session(struct baton *b, struct store *db, const struct req *r,
	    enum session_kind kind, const char *id, const char *name,
	    int64_t milestone_id, int64_t now, struct session_choice *out,
	    char **cause)
{
	struct db_session s = {0};
	int rc;

	s.id = xstrdup_or_null(id);
	s.kind = kind;
	s.name = xstrdup_or_null(name);
	s.milestone_id = milestone_id;
	s.agent = xstrdup(r->agent ? r->agent : b->cfg->defaults.agent);
	s.model = r->model ? xstrdup(r->model) : default_model(b, s.agent);
	s.project = xstrdup(r->project);
	s.workdir = xstrdup(r->workdir);
	rc = create_row(b, db, &s, r->task_id, now, &out->full, cause);
	if (rc == 0 && milestone_id != 0)
		rc = store_milestone_set_session(db, milestone_id, s.id, cause);
	if (rc == 0) {
		choose(out, &s);
		out->created = 1;
	}
	db_session_release(&s);
	return rc;
}

/* S12: bound to the project and OS user that created it. */
static int
check_isolation(struct baton *b, struct store *db, const struct req *r,
		const struct db_session *s, int64_t now, struct strvec *notes,
		char **cause)
{
	char *user = sys_user_name(), *detail = NULL, *label;
	int rc = 0;

	if (strcmp(s->project, r->project) == 0 &&
	    strcmp(s->os_user, user) == 0)
		goto out;
	label = session_label(s);
	if (strcmp(s->project, r->project) != 0)
		detail = xasprintf("session %s belongs to project %s, not to "
				   "project %s",
				   label, s->project, r->project);
	else
		detail = xasprintf("session %s belongs to user %s, not to "
				   "user %s",
				   label, s->os_user, user);
	free(label);
	if (!r->allow_foreign) {
		*cause = xasprintf("%s (--allow-foreign-session uses it "
				   "anyway)",
				   detail);
		rc = -BERR_FAIL;
		goto out;
	}
	strvec_pushf(notes, "%s; used anyway (--allow-foreign-session)",
		     detail);
	rc = store_event(db, EVENT_FOREIGN, s->id, r->task_id, 0, b->runner_id,
			 detail, now, cause);
out:
	free(user);
	free(detail);
	return rc;
}

/* "agent A, model M" or "agent A" */
static char *
pins(const char *agent, const char *model)
{
	if (model != NULL)
		return xasprintf("agent %s, model %s", agent, model);
	return xasprintf("agent %s", agent);
}

/* S9: the session pins agent and model; --force-agent re-pins. */
static int
pin_agent(struct baton *b, struct store *db, const struct req *r,
	  struct db_session *s, int64_t now, struct session_choice *out,
	  char **cause)
{
	int agent_differs = r->agent != NULL && strcmp(r->agent, s->agent);
	int model_differs = r->model != NULL &&
			    (s->model == NULL || strcmp(r->model, s->model));
	char *label, *had, *asked, *now_pins, *model;
	int rc = 0;

	choose(out, s);
	if (!agent_differs && !model_differs)
		return 0;
	label = session_label(s);
	had = pins(s->agent, s->model);
	asked = pins(r->agent ? r->agent : s->agent, r->model ? r->model
						     : agent_differs
							     ? NULL
							     : s->model);
	if (r->init) {
		strvec_pushf(&out->notes,
			     "session %s is pinned to %s; "
			     "--agent/--model ignored (a task with "
			     "--force-agent re-pins it)",
			     label, had);
		goto out;
	}
	if (!r->force_agent) {
		strvec_pushf(&out->notes,
			     "session %s is pinned to %s; task "
			     "%lld asked for %s and runs on %s "
			     "(--force-agent re-pins)",
			     label, had, (long long)r->task_id, asked, had);
		goto out;
	}
	model = r->model	? xstrdup(r->model)
		: agent_differs ? default_model(b, r->agent)
				: xstrdup_or_null(s->model);
	free(s->agent);
	s->agent = xstrdup(r->agent ? r->agent : s->agent);
	free(s->model);
	s->model = model;
	now_pins = pins(s->agent, s->model);
	strvec_pushf(&out->notes,
		     "session %s re-pinned from %s to %s "
		     "(--force-agent)",
		     label, had, now_pins);
	free(asked);
	asked = xasprintf("%s -> %s", had, now_pins);
	free(now_pins);
	if ((rc = store_session_repin(db, s->id, s->agent, s->model, cause)))
		goto out;
	rc = store_event(db, EVENT_REPIN, s->id, r->task_id, 0, b->runner_id,
			 asked, now, cause);
	choose(out, s);
out:
	free(label);
	free(had);
	free(asked);
	return rc;
}

/*
 * A fresh session that takes over old's name or milestone (S10), with
 * old as its predecessor when it expired (pred); then the pins apply
 * to it as to any session in use.
 */
static int
successor(struct baton *b, struct store *db, const struct req *r,
	  const struct db_session *old, int pred, int64_t now,
	  struct session_choice *out, char **cause)
{
	struct db_session s = {0};
	int rc;

	s.kind = old->kind;
	s.name = xstrdup_or_null(old->name);
	s.milestone_id = old->milestone_id;
	s.agent = xstrdup(old->agent);
	s.model = xstrdup_or_null(old->model);
	s.project = xstrdup(old->project);
	s.workdir = xstrdup(old->workdir);
	s.predecessor = pred ? xstrdup(old->id) : NULL;
	if ((rc = create_row(b, db, &s, r->task_id, now, &out->full, cause)) !=
	    0)
		goto out;
	if (s.milestone_id != 0 &&
	    (rc = store_milestone_set_session(db, s.milestone_id, s.id, cause)))
		goto out;
	if ((rc = pin_agent(b, db, r, &s, now, out, cause)) != 0)
		goto out;
	out->created = 1;
out:
	db_session_release(&s);
	return rc;
}

/*
 * An ended temp session named by its UUID (`run --continue` picks one):
 * a new temp session, its successor, goes on with its conversation: its
 * chain starts at s's head (edge resume), so that its first run resumes
 * it.  It is closed when its task ends, like any temp session (S7).
 */
static int
continue_temp(struct baton *b, struct store *db, const struct req *r,
	      const struct db_session *s, int64_t now,
	      struct session_choice *out, char **cause)
{
	char *detail;
	int rc;

	if ((rc = successor(b, db, r, s, 1, now, out, cause)) != 0)
		return rc;
	if ((rc = store_session_push_head(db, out->id, 0, s->head, EDGE_RESUME,
					  0, now, cause)) != 0)
		return rc;
	detail = xasprintf("continues the conversation of session %s at %s",
			   s->id, s->head);
	rc = store_event(db, EVENT_CONTINUE, out->id, r->task_id, 0,
			 b->runner_id, detail, now, cause);
	free(detail);
	return rc;
}

/*
 * Use the existing session s for the request: isolation first (a
 * foreign request must not even expire it), then expiry, then the
 * status, the pins, and the touch that every use makes.  A closed
 * session is replaced by a fresh one of the same name or milestone when
 * replace_closed; otherwise it is an error.
 */
static int
use_session(struct baton *b, struct store *db, const struct req *r,
	    struct db_session *s, int replace_closed, int64_t now,
	    struct session_choice *out, char **cause)
{
	char *label, *idle = NULL, *ttl = NULL, *detail;
	int rc;

	if ((rc = check_isolation(b, db, r, s, now, &out->notes, cause)))
		return rc;
	label = session_label(s);
	if (idle_expired(b, s, now)) {
		idle = human_duration(now - s->last_used_at);
		ttl = duration_format(b->cfg->sessions.ttl_ms);
		detail = xasprintf("idle for %s, longer than sessions.ttl "
				   "(%s)",
				   idle, ttl);
		rc = store_session_set_status(db, s->id, SESSION_EXPIRED, now,
					      cause);
		if (rc == 0)
			rc = store_event(db, EVENT_EXPIRE, s->id, r->task_id, 0,
					 b->runner_id, detail, now, cause);
		free(detail);
		if (rc == 0)
			rc = successor(b, db, r, s, 1, now, out, cause);
		if (rc == 0)
			strvec_pushf(&out->notes,
				     "session %s expired (idle "
				     "for %s, longer than sessions.ttl %s); "
				     "continuing in new session %s",
				     label, idle, ttl, out->id);
		goto out;
	}
	if (s->status == SESSION_EXPIRED) {
		rc = successor(b, db, r, s, 1, now, out, cause);
		if (rc == 0)
			strvec_pushf(&out->notes,
				     "session %s has expired; "
				     "continuing in new session %s",
				     label, out->id);
		goto out;
	}
	if (s->status != SESSION_ACTIVE && s->kind == SESSION_TEMP &&
	    s->head != NULL && !r->init) {
		rc = continue_temp(b, db, r, s, now, out, cause);
		goto out;
	}
	if (s->status != SESSION_ACTIVE) {
		if (!replace_closed) {
			*cause = xasprintf("session %s is %s; start a new one "
					   "with another name or without "
					   "--session",
					   label,
					   session_status_name(s->status));
			rc = -BERR_FAIL;
			goto out;
		}
		rc = successor(b, db, r, s, 0, now, out, cause);
		if (rc == 0)
			strvec_pushf(&out->notes,
				     "session %s is %s; "
				     "starting new session %s",
				     label, session_status_name(s->status),
				     out->id);
		goto out;
	}
	if ((rc = pin_agent(b, db, r, s, now, out, cause)) != 0)
		goto out;
	if ((rc = store_session_touch(db, s->id, now, cause)) != 0 || r->init)
		goto out;
	rc = store_event(db, EVENT_RESUME, s->id, r->task_id, 0, b->runner_id,
			 NULL, now, cause);
out:
	free(label);
	free(idle);
	free(ttl);
	return rc;
}

/*
 * A session named by its UUID has no name for a successor to take over
 * (S10): from an expired one, follow the successors to the newest, so
 * that the UUID keeps leading to one conversation rather than a new
 * session at every use.  A closed successor ends the walk.
 */
static int
follow_successors(struct store *db, struct db_session *s, char **cause)
{
	struct db_session next = {0};
	int found, hops, rc;

	for (hops = 0; hops < 1000 && s->status == SESSION_EXPIRED; hops++) {
		if ((rc = store_session_get_successor(db, s->id, &next, &found,
						      cause)) != 0)
			return rc;
		if (!found)
			break;
		db_session_release(s);
		*s = next;
		memset(&next, 0, sizeof next);
	}
	return 0;
}

/* --session NAME|UUID (tasks) and `session init NAME|UUID`. */
static int
use_named(struct baton *b, struct store *db, const struct req *r,
	  const char *ref, int64_t now, struct session_choice *out,
	  char **cause)
{
	struct db_session s = {0};
	char *lower = NULL, *label;
	int found, rc;

	if (id_is_uuid(ref)) {
		lower = id_uuid_lower(ref);
		if ((rc = store_session_get(db, lower, &s, &found, cause)) !=
			    0 ||
		    (found && (rc = follow_successors(db, &s, cause)) != 0))
			goto out;
		if (found)
			rc = use_session(b, db, r, &s, 0, now, out, cause);
		else
			rc = new_session(b, db, r, SESSION_NAMED, lower, NULL,
					 0, now, out, cause);
		goto out;
	}
	if ((rc = store_session_get_latest_by_name(db, ref, &s, &found, cause)))
		goto out;
	if (found &&
	    (s.status == SESSION_ACTIVE || s.status == SESSION_EXPIRED)) {
		rc = use_session(b, db, r, &s, 0, now, out, cause);
		goto out;
	}
	rc = new_session(b, db, r, SESSION_NAMED, NULL, ref, 0, now, out,
			 cause);
	if (rc == 0 && found) {
		label = session_label(&s);
		strvec_pushf(&out->notes,
			     "session %s is %s; started new "
			     "session %s (%s)",
			     label, session_status_name(s.status), ref,
			     out->id);
		free(label);
	}
out:
	free(lower);
	db_session_release(&s);
	return rc;
}

/* The milestone's session, created on first use (S2). */
static int
use_milestone(struct baton *b, struct store *db, const struct req *r,
	      int64_t milestone_id, int64_t now, struct session_choice *out,
	      char **cause)
{
	struct db_milestone m = {0};
	struct db_session s = {0};
	int found, rc;

	if ((rc = store_milestone_get_id(db, milestone_id, &m, &found, cause)))
		return rc;
	if (!found || strcmp(m.session_mode, "per-task") == 0) {
		rc = new_session(b, db, r, SESSION_TEMP, NULL, NULL, 0, now,
				 out, cause);
		goto out;
	}
	found = 0;
	if (m.session_id != NULL &&
	    (rc = store_session_get(db, m.session_id, &s, &found, cause)))
		goto out;
	if (found)
		rc = use_session(b, db, r, &s, 1, now, out, cause);
	else
		rc = new_session(b, db, r, SESSION_MILESTONE, NULL, NULL, m.id,
				 now, out, cause);
out:
	db_session_release(&s);
	db_milestone_release(&m);
	return rc;
}

static void
choice_start(struct session_choice *out)
{
	memset(out, 0, sizeof *out);
	strvec_init(&out->notes);
}

/* On failure the caller sees an empty (zeroed) choice but for full. */
static void
choice_end(struct session_choice *out, int rc)
{
	int64_t full = out->full;

	if (rc != 0) {
		session_choice_release(out);
		out->full = full;
	}
}

int
session_select(struct baton *b, struct store *db, const struct db_task *t,
	       int64_t now, struct session_choice *out, char **cause)
{
	struct req r = {0};
	int rc;

	choice_start(out);
	r.task_id = t->id;
	r.agent = t->agent;
	r.model = t->model;
	r.project = t->project;
	r.workdir = t->workdir;
	r.force_agent = t->force_agent;
	r.allow_foreign = t->allow_foreign;
	if (t->session_req != NULL)
		rc = use_named(b, db, &r, t->session_req, now, out, cause);
	else if (t->new_session || t->milestone_id == 0)
		rc = new_session(b, db, &r, SESSION_TEMP, NULL, NULL, 0, now,
				 out, cause);
	else
		rc = use_milestone(b, db, &r, t->milestone_id, now, out, cause);
	choice_end(out, rc);
	return rc;
}

int
session_ensure(struct baton *b, struct store *db, const struct session_init *in,
	       int64_t now, struct session_choice *out, char **cause)
{
	struct req r = {0};
	char *project;
	int rc;

	memset(out, 0, sizeof *out);
	if (!id_is_uuid(in->ref) && !session_name_valid(in->ref)) {
		*cause = xasprintf("invalid session '%s': give a UUID or a "
				   "name of 1 to 64 characters from A-Z a-z "
				   "0-9 . _ -",
				   in->ref);
		return -BERR_USAGE;
	}
	if (in->agent != NULL && config_agent(b->cfg, in->agent) == NULL) {
		*cause = xasprintf("unknown agent '%s' (see 'baton config "
				   "show' for the profiles)",
				   in->agent);
		return -BERR_USAGE;
	}
	choice_start(out);
	project = project_of(in->workdir);
	if (project == NULL)
		project = xstrdup(in->workdir);
	r.agent = in->agent;
	r.model = in->model;
	r.project = project;
	r.workdir = in->workdir;
	r.allow_foreign = in->allow_foreign;
	r.init = 1;
	rc = use_named(b, db, &r, in->ref, now, out, cause);
	choice_end(out, rc);
	free(project);
	return rc;
}

/* Lower-case hex digits and dashes: could be the start of an id. */
static int
is_id_prefix(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F') || *s == '-'))
			return 0;
	}
	return n >= 4 && n < 36;
}

int
session_lookup(struct store *db, const char *ref, struct db_session *s,
	       char **cause)
{
	char *lower;
	int found = 0, rc;

	memset(s, 0, sizeof *s);
	if (id_is_uuid(ref)) {
		lower = id_uuid_lower(ref);
		rc = store_session_get(db, lower, s, &found, cause);
		free(lower);
		if (rc != 0)
			return rc;
	} else if (session_name_valid(ref)) {
		if ((rc = store_session_get_latest_by_name(db, ref, s, &found,
							   cause)) != 0)
			return rc;
	}
	if (!found && is_id_prefix(ref)) {
		lower = id_uuid_lower(ref);
		rc = store_session_get_by_prefix(db, lower, s, &found, cause);
		free(lower);
		if (rc != 0)
			return rc;
		if (found == 2) {
			*cause = xasprintf("session id prefix '%s' is "
					   "ambiguous: give more of the id",
					   ref);
			return -BERR_USAGE;
		}
	}
	if (!found) {
		*cause = xasprintf("no session '%s' (see 'baton session list "
				   "--all')",
				   ref);
		return -BERR_USAGE;
	}
	return 0;
}

int
session_last_used(struct store *db, const char *project, char **id,
		  char **cause)
{
	struct db_session s = {0};
	char *user = sys_user_name();
	int found, rc;

	*id = NULL;
	rc = store_session_get_last_used(db, project, user, &s, &found, cause);
	free(user);
	if (rc != 0)
		return rc;
	if (!found) {
		*cause = xasprintf("no conversation found to continue in "
				   "project %s: start one without --continue",
				   project);
		return -BERR_USAGE;
	}
	*id = s.id;
	s.id = NULL;
	db_session_release(&s);
	return 0;
}

/* Refuse to change a session a running task holds (S6). */
static int
refuse_leased(const struct db_session *s, int64_t now, const char *what,
	      char **cause)
{
	char *label;

	if (!session_leased(s, now))
		return 0;
	label = session_label(s);
	*cause = xasprintf("cannot %s session %s: task %lld is using it; "
			   "try again when it has ended",
			   what, label, (long long)s->lease_task);
	free(label);
	return -BERR_FAIL;
}

static int
reset_in_txn(struct baton *b, struct store *db, const char *ref, int64_t now,
	     struct db_session *s, char **cause)
{
	struct db_chain_link *chain = NULL;
	char *label, *detail;
	size_t n = 0;
	int found, rc;

	if ((rc = session_lookup(db, ref, s, cause)) != 0)
		return rc;
	if ((rc = refuse_leased(s, now, "reset", cause)) != 0)
		return rc;
	if (s->status != SESSION_ACTIVE) {
		label = session_label(s);
		*cause = xasprintf("cannot reset session %s: it is %s", label,
				   session_status_name(s->status));
		free(label);
		return -BERR_FAIL;
	}
	if ((rc = store_session_chain(db, s->id, &chain, &n, cause)) != 0)
		return rc;
	db_chain_free(chain, n);
	detail = xasprintf("wiped head %s, %zu chain link%s, %lld turn%s, "
			   "%lld input and %lld output tokens, $%.4f, "
			   "%d resume failure%s",
			   s->head ? s->head : "(none)", n, n == 1 ? "" : "s",
			   (long long)s->turns, s->turns == 1 ? "" : "s",
			   (long long)s->input_tokens,
			   (long long)s->output_tokens, s->cost_usd,
			   s->resume_failures,
			   s->resume_failures == 1 ? "" : "s");
	rc = store_session_reset(db, s->id, now, cause);
	if (rc == 0)
		rc = store_event(db, EVENT_RESET, s->id, 0, 0, b->runner_id,
				 detail, now, cause);
	free(detail);
	if (rc != 0)
		return rc;
	label = xstrdup(s->id);
	db_session_release(s);
	rc = store_session_get(db, label, s, &found, cause);
	free(label);
	return rc;
}

static int
close_in_txn(struct baton *b, struct store *db, const char *ref, int64_t now,
	     int *already, struct db_session *s, char **cause)
{
	char *id;
	int found, rc;

	*already = 0;
	if ((rc = session_lookup(db, ref, s, cause)) != 0)
		return rc;
	if (s->status != SESSION_ACTIVE) {
		*already = 1;
		return 0;
	}
	if ((rc = refuse_leased(s, now, "close", cause)) != 0)
		return rc;
	if ((rc = store_session_set_status(db, s->id, SESSION_CLOSED, now,
					   cause)) ||
	    (rc = store_event(db, EVENT_CLOSE, s->id, 0, 0, b->runner_id,
			      "baton session close", now, cause)))
		return rc;
	id = xstrdup(s->id);
	db_session_release(s);
	rc = store_session_get(db, id, s, &found, cause);
	free(id);
	return rc;
}

/* `session fork`: can parent's agent branch a conversation?  0 or
 * -BERR_FAIL with *cause naming the agent. */
static int
check_forkable(struct baton *b, const struct db_session *parent,
	       const char *label, char **cause)
{
	const struct agent_profile *p = config_agent(b->cfg, parent->agent);
	const struct agent_impl *impl = p ? agent_impl_find(p->kind) : NULL;
	const char *kind = p ? agent_kind_name(p->kind) : NULL;

	if (p == NULL) {
		*cause = xasprintf("cannot fork session %s: its agent %s is "
				   "not in the configuration",
				   label, parent->agent);
		return -BERR_FAIL;
	}
	if (impl == NULL || !impl->can_fork) {
		if (strcmp(kind, p->name) == 0)
			*cause = xasprintf("cannot fork session %s: the %s "
					   "agent cannot branch a "
					   "conversation",
					   label, kind);
		else
			*cause = xasprintf("cannot fork session %s: the %s "
					   "agent (profile %s) cannot branch "
					   "a conversation",
					   label, kind, p->name);
		return -BERR_FAIL;
	}
	if (parent->head == NULL) {
		*cause = xasprintf("cannot fork session %s: it has no "
				   "conversation yet",
				   label);
		return -BERR_FAIL;
	}
	return 0;
}

/* S8 for `session fork`: NEW must be a free name or an unused UUID. */
static int
check_new_ref(struct store *db, const char *ref, char **cause)
{
	struct db_session s = {0};
	char *lower = NULL, *label;
	int found = 0, rc;

	if (id_is_uuid(ref)) {
		lower = id_uuid_lower(ref);
		rc = store_session_get(db, lower, &s, &found, cause);
		free(lower);
	} else if (session_name_valid(ref)) {
		rc = store_session_get_latest_by_name(db, ref, &s, &found,
						      cause);
		found = found && s.status == SESSION_ACTIVE;
	} else {
		*cause = xasprintf("invalid session '%s': give a UUID or a "
				   "name of 1 to 64 characters from A-Z a-z "
				   "0-9 . _ -",
				   ref);
		return -BERR_USAGE;
	}
	if (rc == 0 && found) {
		label = session_label(&s);
		*cause = xasprintf("cannot fork into %s: session %s exists "
				   "(give a new name)",
				   ref, label);
		free(label);
		rc = -BERR_FAIL;
	}
	db_session_release(&s);
	return rc;
}

/* The fork's row: parent's pins, project and workdir (the conversation
 * is found from there), its head as the first link, edge fork. */
static int
fork_in_txn(struct baton *b, struct store *db, const char *ref,
	    const char *new_ref, int64_t now, struct db_session *out,
	    char **cause)
{
	struct db_session p = {0};
	char *label = NULL, *detail = NULL;
	int rc;

	if ((rc = check_new_ref(db, new_ref, cause)) != 0 ||
	    (rc = session_lookup(db, ref, &p, cause)) != 0)
		goto out;
	label = session_label(&p);
	if ((rc = check_forkable(b, &p, label, cause)) != 0)
		goto out;
	out->kind = SESSION_NAMED;
	if (id_is_uuid(new_ref))
		out->id = id_uuid_lower(new_ref);
	else
		out->name = xstrdup(new_ref);
	out->agent = xstrdup(p.agent);
	out->model = xstrdup_or_null(p.model);
	out->project = xstrdup(p.project);
	out->workdir = xstrdup(p.workdir);
	out->predecessor = xstrdup(p.id);
	if ((rc = create_row(b, db, out, 0, now, NULL, cause)) != 0 ||
	    (rc = store_session_push_head(db, out->id, 0, p.head, EDGE_FORK, 0,
					  now, cause)) != 0)
		goto out;
	detail = xasprintf("fork of session %s at %s", label, p.head);
	if ((rc = store_event(db, EVENT_FORK, out->id, 0, 0, b->runner_id,
			      detail, now, cause)) != 0)
		goto out;
	free(detail);
	detail = xasprintf("forked into session %s (%s)", new_ref, out->id);
	rc = store_event(db, EVENT_FORK, p.id, 0, 0, b->runner_id, detail, now,
			 cause);
out:
	free(label);
	free(detail);
	db_session_release(&p);
	return rc;
}

/* Sessions gathered first, changed after: no writes under a read. */
struct gather {
	struct db_session *v;
	size_t n, cap;
};

static int
gather_one(void *arg, const struct db_session *s)
{
	struct gather *g = arg;
	struct db_session *c;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = xreallocarray(g->v, g->cap, sizeof *g->v);
	}
	c = &g->v[g->n++];
	*c = *s;
	c->id = xstrdup(s->id);
	c->name = xstrdup_or_null(s->name);
	c->agent = xstrdup_or_null(s->agent);
	c->model = xstrdup_or_null(s->model);
	c->project = xstrdup_or_null(s->project);
	c->workdir = xstrdup_or_null(s->workdir);
	c->os_user = xstrdup_or_null(s->os_user);
	c->head = xstrdup_or_null(s->head);
	c->predecessor = xstrdup_or_null(s->predecessor);
	c->metadata = xstrdup_or_null(s->metadata);
	return 0;
}

static void
gather_release(struct gather *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		db_session_release(&g->v[i]);
	free(g->v);
	memset(g, 0, sizeof *g);
}

static int
gc_in_txn(struct baton *b, struct store *db, int64_t now, int dry_run,
	  void (*fn)(void *, const char *, const struct db_session *),
	  void *arg, char **cause)
{
	struct db_session_filter f = {0};
	struct gather g = {0};
	char *idle = NULL, *detail;
	size_t i;
	int rc;

	/* expire: active, idle past the TTL, not in use */
	f.idle_before = now - b->cfg->sessions.ttl_ms;
	f.now = now;
	if ((rc = store_session_each(db, &f, gather_one, &g, cause)) != 0)
		goto out;
	for (i = 0; i < g.n; i++) {
		if (!dry_run) {
			idle = human_duration(now - g.v[i].last_used_at);
			detail = xasprintf("session gc: idle for %s", idle);
			free(idle);
			rc = store_session_set_status(
				db, g.v[i].id, SESSION_EXPIRED, now, cause);
			if (rc == 0)
				rc = store_event(db, EVENT_EXPIRE, g.v[i].id, 0,
						 0, b->runner_id, detail, now,
						 cause);
			free(detail);
			if (rc != 0)
				goto out;
		}
		fn(arg, "expire", &g.v[i]);
	}
	gather_release(&g);

	/* prune: ended longer than the retention ago */
	memset(&f, 0, sizeof f);
	f.closed_before = now - b->cfg->sessions.retention_ms;
	f.now = now;
	if ((rc = store_session_each(db, &f, gather_one, &g, cause)) != 0)
		goto out;
	for (i = 0; i < g.n; i++) {
		if (!dry_run) {
			rc = store_session_delete(db, g.v[i].id, cause);
			if (rc == 0)
				rc = store_event(
					db, EVENT_PRUNE, g.v[i].id, 0, 0,
					b->runner_id,
					session_status_name(g.v[i].status), now,
					cause);
			if (rc != 0)
				goto out;
		}
		fn(arg, "prune", &g.v[i]);
	}
out:
	gather_release(&g);
	return rc;
}

static int
remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) != 0 ? -1 : 0;
	return unlink(path) != 0 && errno != ENOENT ? -1 : 0;
}

int
session_dir_remove(const char *files_dir, const char *id)
{
	char *path;
	int rc;

	if (!id_is_uuid(id)) {
		errno = EINVAL;
		return -1;
	}
	path = xasprintf("%s/sessions/%s", files_dir, id);
	/* Mostly empty (a trivial task's): one rmdir() rather than the
	 * six system calls of a walk.  Anything else (not empty, a symlink
	 * or a file in its place) is walked as before. */
	if (rmdir(path) == 0 || errno == ENOENT) {
		free(path);
		return 0;
	}
	rc = nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	if (rc != 0 && errno == ENOENT)
		rc = 0;
	free(path);
	return rc;
}

/* ---- the state-changing session commands, one transaction each ---- */

int
session_init(struct baton *b, const struct session_init *in,
	     struct session_choice *out, char **cause)
{
	int rc;

	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = session_ensure(b, b->db, in, clock_now_ms(), out, cause)) ==
		    0)
		rc = store_commit(b->db, cause);
	if (rc != 0)
		store_rollback(b->db);
	return rc;
}

int
session_fork(struct baton *b, const char *ref, const char *new_ref, int64_t now,
	     struct db_session *s, char **cause)
{
	char *id;
	int found, rc;

	memset(s, 0, sizeof *s);
	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = fork_in_txn(b, b->db, ref, new_ref, now, s, cause)) == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		db_session_release(s);
		return rc;
	}
	id = s->id;
	s->id = NULL;
	db_session_release(s);
	rc = store_session_get(b->db, id, s, &found, cause);
	free(id);
	return rc;
}

int
session_reset(struct baton *b, const char *ref, int64_t now,
	      struct db_session *s, char **cause)
{
	int rc;

	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = reset_in_txn(b, b->db, ref, now, s, cause)) == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		db_session_release(s);
	}
	return rc;
}

int
session_close(struct baton *b, const char *ref, int64_t now, int *already,
	      struct db_session *s, char **cause)
{
	int rc;

	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = close_in_txn(b, b->db, ref, now, already, s, cause)) == 0)
		rc = store_commit(b->db, cause);
	if (rc != 0) {
		store_rollback(b->db);
		db_session_release(s);
	}
	return rc;
}

struct gc_pass {
	void (*fn)(void *, const char *, const struct db_session *);
	void *arg;
	struct strvec pruned;
};

static void
gc_note(void *arg, const char *action, const struct db_session *s)
{
	struct gc_pass *g = arg;

	if (strcmp(action, "prune") == 0)
		strvec_push(&g->pruned, s->id);
	g->fn(g->arg, action, s);
}

int
session_gc(struct baton *b, int64_t now, int dry_run,
	   void (*fn)(void *arg, const char *action,
		      const struct db_session *s),
	   void *arg, struct strvec *warnings, char **cause)
{
	struct gc_pass g = {.fn = fn, .arg = arg};
	size_t i;
	int rc;

	strvec_init(&g.pruned);
	if ((rc = store_begin(b->db, cause)) == 0 &&
	    (rc = gc_in_txn(b, b->db, now, dry_run, gc_note, &g, cause)) == 0 &&
	    !dry_run)
		rc = store_commit(b->db, cause);
	store_rollback(b->db); /* a dry run changed nothing: end it */
	/* the rows are gone: now their directories may go too */
	for (i = 0; rc == 0 && !dry_run && i < g.pruned.n; i++) {
		if (session_dir_remove(b->files_dir, g.pruned.v[i]) != 0)
			strvec_pushf(
				warnings, "cannot remove %s/sessions/%s: %s",
				b->files_dir, g.pruned.v[i], strerror(errno));
	}
	strvec_release(&g.pruned);
	return rc;
}
