/*
 * baton report [--junit FILE] [--github] [--milestone M]: what CI
 * systems read.  --junit: JUnit XML, one testcase per task.  --github:
 * GitHub Actions annotations for the failed tasks on stdout and a
 * Markdown summary for $GITHUB_STEP_SUMMARY.  The decisions (names,
 * escaping, where the summary goes) are in docs/ci.md.
 *
 * Everything a task holds may be hostile (a title, an agent's output):
 * each output has one writer that keeps it well-formed whatever the
 * bytes, built on utf8_next() and cp_shown().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/common.h"
#include "core/output.h"
#include "lib/clock.h"
#include "lib/file.h"
#include "lib/id.h"
#include "lib/strbuf.h"
#include "lib/sys.h"
#include "lib/xmalloc.h"

const struct cmd_entry cmd_report_entry;

#define LOG_TAIL     4096	    /* bytes of each log in a failure */
#define NAME_BYTES   200	    /* of a testcase name, before "…" */
#define SUMMARY_ROWS 100	    /* failed tasks in the Markdown summary */
#define REPLACEMENT  "\xef\xbf\xbd" /* U+FFFD */

/* ---- text that stays text ---- */

/*
 * The code point at p (n > 0 bytes left) into *cp; U+FFFD for a byte
 * that does not start a valid UTF-8 sequence (overlong forms and
 * surrogates included).  Returns the bytes it took, 1 for a bad one.
 */
static size_t
utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len, i;

	*cp = 0xfffd;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, c = p[0] & 0x0f, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07, min = 0x10000;
	else
		return 1;
	if (len > n)
		return 1;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 1;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 1;
	*cp = c;
	return len;
}

/*
 * Whether cp may be written as it is: not a C0 control other than tab,
 * LF and CR, not DEL or a C1 control (terminal escapes: ESC, CSI), not
 * a noncharacter XML 1.0 forbids.  The rest become U+FFFD.
 */
static int
cp_shown(uint32_t cp)
{
	if (cp == '\t' || cp == '\n' || cp == '\r')
		return 1;
	return cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f) && cp != 0xfffe &&
	       cp != 0xffff && cp != 0xfffd;
}

enum text_mode {
	XML_TEXT, /* element content */
	XML_ATTR, /* a double-quoted attribute: line breaks kept as refs */
	GH_DATA,  /* a workflow command's message */
	GH_PROP,  /* a workflow command's property value */
	MD_CELL,  /* a Markdown table cell: one line, no markup */
};

/* The escape of ASCII c in mode, or NULL to write c as it is. */
static const char *
escape_of(int c, enum text_mode mode)
{
	switch (mode) {
	case XML_TEXT:
	case XML_ATTR:
		if (c == '&')
			return "&amp;";
		if (c == '<')
			return "&lt;";
		if (c == '>')
			return "&gt;";
		if (c == '"')
			return "&quot;";
		if (c == '\'')
			return "&apos;";
		if (c == '\r')
			return "&#13;";
		if (mode == XML_ATTR && (c == '\n' || c == '\t'))
			return c == '\n' ? "&#10;" : "&#9;";
		return NULL;
	case GH_DATA:
	case GH_PROP:
		if (c == '%' || c == '\r' || c == '\n')
			return c == '%' ? "%25" : c == '\r' ? "%0D" : "%0A";
		if (mode == GH_PROP && (c == ':' || c == ','))
			return c == ':' ? "%3A" : "%2C";
		return NULL;
	case MD_CELL:
		if (c == '\t' || c == '\n' || c == '\r')
			return " ";
		return NULL; /* punctuation: see md_punct() */
	}
	return NULL;
}

/* ASCII punctuation: CommonMark makes any of it literal with a
 * backslash before it, | inside a table cell included. */
static int
md_punct(uint32_t cp)
{
	return cp > 0x20 && cp < 0x7f && !(cp >= '0' && cp <= '9') &&
	       !((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
}

/* Write the n bytes at s to fp as text of mode (see enum text_mode). */
static void
put_text(FILE *fp, const char *s, size_t n, enum text_mode mode)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *e;
	uint32_t cp;
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = utf8_next(p + i, n - i, &cp);
		if (!cp_shown(cp))
			fputs(REPLACEMENT, fp);
		else if (cp < 0x80 && (e = escape_of((int)cp, mode)) != NULL)
			fputs(e, fp);
		else if (mode == MD_CELL && md_punct(cp))
			fprintf(fp, "\\%c", (int)cp);
		else
			fwrite(p + i, 1, k, fp);
	}
}

static void
put_str(FILE *fp, const char *s, enum text_mode mode)
{
	if (s != NULL)
		put_text(fp, s, strlen(s), mode);
}

/*
 * The n bytes at s as one line of at most NAME_BYTES (then "…"): tabs
 * and line breaks become spaces, what cp_shown() refuses U+FFFD, ends
 * trimmed.  The caller frees.
 */
static char *
one_line(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	struct strbuf sb;
	uint32_t cp;
	size_t i, k;

	strbuf_init(&sb);
	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	for (; i < n && sb.len < NAME_BYTES; i += k) {
		k = utf8_next(p + i, n - i, &cp);
		if (cp == '\t' || cp == '\n' || cp == '\r')
			strbuf_adds(&sb, " ");
		else if (!cp_shown(cp))
			strbuf_adds(&sb, REPLACEMENT);
		else
			strbuf_add(&sb, p + i, k);
	}
	while (sb.len > 0 && sb.buf[sb.len - 1] == ' ')
		sb.buf[--sb.len] = '\0';
	if (i < n)
		strbuf_adds(&sb, "\xe2\x80\xa6");
	return strbuf_detach(&sb);
}

/* ---- one task ---- */

/* A set of strings, for names already given (open addressing). */
struct nameset {
	char **slot;
	size_t cap, n; /* cap: 0 or a power of two */
};

static size_t
hash_str(const char *s)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)h;
}

static void
nameset_put(struct nameset *h, char *key)
{
	size_t i = hash_str(key) & (h->cap - 1);

	while (h->slot[i] != NULL)
		i = (i + 1) & (h->cap - 1);
	h->slot[i] = key;
	h->n++;
}

/* Add key; 1 if it was not there, 0 if it was. */
static int
nameset_add(struct nameset *h, const char *key)
{
	struct nameset old = *h;
	size_t i;

	for (i = hash_str(key) & (h->cap - 1); h->cap > 0 && h->slot[i];
	     i = (i + 1) & (h->cap - 1))
		if (strcmp(h->slot[i], key) == 0)
			return 0;
	if (2 * (h->n + 1) > h->cap) {
		h->cap = old.cap == 0 ? 64 : old.cap * 2;
		h->slot = xcalloc(h->cap, sizeof *h->slot);
		h->n = 0;
		for (i = 0; i < old.cap; i++)
			if (old.slot[i] != NULL)
				nameset_put(h, old.slot[i]);
		free(old.slot);
	}
	nameset_put(h, xstrdup(key));
	return 1;
}

static void
nameset_free(struct nameset *h)
{
	size_t i;

	for (i = 0; i < h->cap; i++)
		free(h->slot[i]);
	free(h->slot);
}

struct report {
	struct baton *b;
	int junit, github;
	const char *ms;
	FILE *cases, *notes, *rows; /* testcases, annotations, table rows */
	long long tests, failures, errors, skipped, nfailed;
	long long by_status[TASK_NSTATUS];
	double time;
	int64_t first; /* the earliest start (else creation) */
	struct nameset names;
};

/* What a report says of one task besides its row. */
struct entry {
	char *name, *cls;
	struct db_run *runs;
	size_t nruns;
};

/* The task's key, else its title, else the first line of its prompt
 * that is not blank: stable wherever the task is added. */
static char *
task_name(const struct db_task *t)
{
	const char *p, *e;

	if (t->key != NULL && *t->key != '\0')
		return one_line(t->key, strlen(t->key));
	if (t->title != NULL && *t->title != '\0')
		return one_line(t->title, strlen(t->title));
	for (p = t->prompt != NULL ? t->prompt : ""; *p != '\0'; p = e + 1) {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if (p + strspn(p, " \t\r") < e)
			return one_line(p, (size_t)(e - p));
		if (*e == '\0')
			break;
	}
	return xstrdup("(empty prompt)");
}

/* The milestone, else the session's name, else "baton". */
static char *
task_class(struct report *r, const struct db_task *t)
{
	struct db_session s = {0};
	char *cause = NULL, *cls = NULL;
	const char *req = t->session_req;
	int found = 0;

	if (t->milestone != NULL)
		return one_line(t->milestone, strlen(t->milestone));
	if (req != NULL && *req != '\0' && !id_is_uuid(req))
		return one_line(req, strlen(req));
	if (req != NULL && *req != '\0' &&
	    store_session_get(r->b->db, req, &s, &found, &cause) == 0 &&
	    found && s.name != NULL)
		cls = one_line(s.name, strlen(s.name));
	free(cause);
	db_session_release(&s);
	return cls != NULL ? cls : xstrdup("baton");
}

/* name, or name (2), (3) ... : the first not yet given in its class. */
static char *
unique_name(struct report *r, const char *cls, char *name)
{
	char *key = xasprintf("%s\n%s", cls, name), *alt;
	int k;

	for (k = 2; !nameset_add(&r->names, key); k++) {
		free(key);
		alt = xasprintf("%s (%d)", name, k);
		key = xasprintf("%s\n%s", cls, alt);
		if (nameset_add(&r->names, key)) {
			free(name);
			name = alt;
			break;
		}
		free(alt);
	}
	free(key);
	return name;
}

/* The log tail of a task: its last run's ext file, at most LOG_TAIL
 * bytes from a character's start.  NULL if there is none. */
struct tail {
	char *buf;
	size_t len;
	long long size; /* of the whole file */
};

/* The log is not on this machine: the tail of what the database kept
 * of it (SPEC §10), if anything. */
static void
tail_from_db(struct report *r, int64_t run_id, const char *ext, struct tail *tl)
{
	char *cause = NULL, *data = NULL;
	size_t len = 0, off;
	int64_t pos = 0;
	int found = 0;

	if (output_read(r->b->db, run_id,
			strcmp(ext, "err") == 0 ? "err" : "out", &pos, &data,
			&len, &found, &cause) != 0 ||
	    !found) {
		free(cause);
		free(data);
		return;
	}
	off = len > LOG_TAIL ? len - LOG_TAIL : 0;
	tl->size = (long long)len;
	tl->len = len - off;
	tl->buf = xmalloc(tl->len + 1);
	memcpy(tl->buf, data + off, tl->len);
	free(data);
}

static void
read_tail(struct report *r, const struct entry *e, const char *ext,
	  struct tail *tl)
{
	const struct db_run *run = &e->runs[e->nruns - 1];
	struct stat st;
	char *path;
	ssize_t n;
	size_t skip = 0;
	int fd;

	path = xasprintf("%s/logs/%lld/%lld.%s", r->b->files_dir,
			 (long long)run->task_id, (long long)run->id, ext);
	fd = file_open_read(path);
	free(path);
	if (fd == -1) {
		tail_from_db(r, run->id, ext, tl);
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	tl->size = (long long)st.st_size;
	if (st.st_size > LOG_TAIL)
		lseek(fd, st.st_size - LOG_TAIL, SEEK_SET);
	tl->buf = xmalloc(LOG_TAIL);
	while (tl->len < LOG_TAIL &&
	       ((n = read(fd, tl->buf + tl->len, LOG_TAIL - tl->len)) > 0 ||
		(n == -1 && errno == EINTR)))
		tl->len += n > 0 ? (size_t)n : 0;
	close(fd);
	/* cut through a character: start at the next one */
	while (tl->size > LOG_TAIL && skip < 3 && skip < tl->len &&
	       ((unsigned char)tl->buf[skip] & 0xc0) == 0x80)
		skip++;
	memmove(tl->buf, tl->buf + skip, tl->len - skip);
	tl->len -= skip;
}

/* "reason: error", or the one of them there is, or the status.  A
 * reason that only repeats the status ("failed") is left out. */
static char *
task_message(const struct db_task *t)
{
	const char *reason = t->reason, *error = t->error;
	size_t n = reason != NULL ? strlen(reason) : 0;

	if (reason != NULL && error != NULL &&
	    strcmp(reason, task_status_name(t->status)) != 0 &&
	    !(strncmp(error, reason, n) == 0 && error[n] == ':'))
		return xasprintf("%s: %s", reason, error);
	if (error != NULL)
		return xstrdup(error);
	return xstrdup(reason != NULL ? reason : task_status_name(t->status));
}

/* ---- JUnit ---- */

static void
xml_property(FILE *fp, const char *name, const char *value)
{
	fprintf(fp, "        <property name=\"%s\" value=\"", name);
	put_str(fp, value, XML_ATTR);
	fputs("\"/>\n", fp);
}

static void
junit_properties(FILE *fp, const struct db_task *t, const struct entry *e)
{
	struct strbuf sb;
	char buf[64];
	size_t i;

	fputs("      <properties>\n", fp);
	snprintf(buf, sizeof buf, "%lld", (long long)t->id);
	xml_property(fp, "task_id", buf);
	if (t->key != NULL)
		xml_property(fp, "key", t->key);
	xml_property(fp, "status", task_status_name(t->status));
	snprintf(buf, sizeof buf, "%d", t->attempts);
	xml_property(fp, "attempts", buf);
	strbuf_init(&sb);
	for (i = 0; i < e->nruns; i++) {
		const char *o = resume_outcome_name(e->runs[i].resume_outcome);

		strbuf_addf(&sb, "%s%s", i > 0 ? "," : "", o ? o : "none");
	}
	xml_property(fp, "resume_outcomes", sb.buf != NULL ? sb.buf : "");
	strbuf_release(&sb);
	snprintf(buf, sizeof buf, "%lld", (long long)t->input_tokens);
	xml_property(fp, "input_tokens", buf);
	snprintf(buf, sizeof buf, "%lld", (long long)t->output_tokens);
	xml_property(fp, "output_tokens", buf);
	snprintf(buf, sizeof buf, "%.6f", t->cost_usd);
	xml_property(fp, "cost_usd", buf);
	if (t->session_id != NULL)
		xml_property(fp, "session_id", t->session_id);
	fputs("      </properties>\n", fp);
}

/* One log tail inside a failure's body. */
static void
junit_tail(FILE *fp, const char *what, const struct tail *tl)
{
	if (tl->buf == NULL || tl->len == 0)
		return;
	if (tl->size > (long long)tl->len)
		fprintf(fp, "--- %s (last %zu of %lld bytes) ---\n", what,
			tl->len, tl->size);
	else
		fprintf(fp, "--- %s ---\n", what);
	put_text(fp, tl->buf, tl->len, XML_TEXT);
	if (tl->buf[tl->len - 1] != '\n')
		fputc('\n', fp);
}

/* <failure> (failed, timed_out) or <error> (cancelled, interrupted):
 * reason as type, the message, and the stderr and stdout tails. */
static void
junit_failure(struct report *r, const struct db_task *t, const struct entry *e)
{
	int failure = t->status == TASK_FAILED || t->status == TASK_TIMED_OUT;
	const char *tag = failure ? "failure" : "error";
	struct tail out = {0}, err = {0};
	char *msg = task_message(t);

	if (e->nruns > 0) {
		read_tail(r, e, "err", &err);
		read_tail(r, e, "out", &out);
	}
	fprintf(r->cases, "      <%s type=\"", tag);
	put_str(r->cases,
		t->reason != NULL ? t->reason : task_status_name(t->status),
		XML_ATTR);
	fputs("\" message=\"", r->cases);
	put_str(r->cases, msg, XML_ATTR);
	fputs("\">", r->cases);
	junit_tail(r->cases, "stderr", &err);
	junit_tail(r->cases, "stdout", &out);
	fprintf(r->cases, "</%s>\n", tag);
	free(msg);
	free(out.buf);
	free(err.buf);
}

static void
junit_case(struct report *r, const struct db_task *t, const struct entry *e)
{
	FILE *fp = r->cases;
	double secs = 0;

	if (t->started_at && t->finished_at)
		secs = (double)(t->finished_at - t->started_at) / 1000;
	r->time += secs;
	fputs("    <testcase classname=\"", fp);
	put_str(fp, e->cls, XML_ATTR);
	fputs("\" name=\"", fp);
	put_str(fp, e->name, XML_ATTR);
	fprintf(fp, "\" time=\"%.3f\">\n", secs);
	junit_properties(fp, t, e);
	if (!task_status_final(t->status)) {
		r->skipped++;
		fprintf(fp, "      <skipped message=\"%s\"/>\n",
			task_status_name(t->status));
	} else if (t->status != TASK_COMPLETED) {
		if (t->status == TASK_FAILED || t->status == TASK_TIMED_OUT)
			r->failures++;
		else
			r->errors++;
		junit_failure(r, t, e);
	}
	fputs("    </testcase>\n", fp);
}

/* ---- GitHub Actions ---- */

/* ::error title=NAME::task ID STATUS: MESSAGE, then the stderr tail. */
static void
github_note(struct report *r, const struct db_task *t, const struct entry *e)
{
	struct tail err = {0};
	char *msg = task_message(t);

	if (e->nruns > 0)
		read_tail(r, e, "err", &err);
	fputs("::error title=", r->notes);
	put_str(r->notes, e->name, GH_PROP);
	fprintf(r->notes, "::task %lld %s: ", (long long)t->id,
		task_status_name(t->status));
	put_str(r->notes, msg, GH_DATA);
	if (err.len > 0) {
		put_str(r->notes, "\n--- stderr ---\n", GH_DATA);
		put_text(r->notes, err.buf, err.len, GH_DATA);
	}
	fputc('\n', r->notes);
	free(msg);
	free(err.buf);
}

/* | id | name | status | reason | duration | cost | */
static void
github_row(struct report *r, const struct db_task *t, const struct entry *e)
{
	char d[32] = "-";

	if (++r->nfailed > SUMMARY_ROWS)
		return;
	if (t->started_at && t->finished_at)
		cmd_format_elapsed(t->finished_at - t->started_at, d, sizeof d);
	fprintf(r->rows, "| %lld | ", (long long)t->id);
	put_str(r->rows, e->name, MD_CELL);
	fprintf(r->rows, " | %s | ", task_status_name(t->status));
	put_str(r->rows, t->reason != NULL ? t->reason : "", MD_CELL);
	fprintf(r->rows, " | %s | $%.4f |\n", d, t->cost_usd);
}

/* ---- the pass over the tasks ---- */

static int
each_task(void *arg, const struct db_task *t)
{
	struct report *r = arg;
	struct entry e = {0};
	char *cause = NULL;
	int64_t at = t->started_at ? t->started_at : t->created_at;

	r->tests++;
	r->by_status[t->status]++;
	if (at != 0 && (r->first == 0 || at < r->first))
		r->first = at;
	if (store_run_list(r->b->db, t->id, &e.runs, &e.nruns, &cause) != 0)
		free(cause); /* a report without logs is still a report */
	e.cls = task_class(r, t);
	e.name = unique_name(r, e.cls, task_name(t));
	if (r->junit)
		junit_case(r, t, &e);
	if (r->github && task_status_final(t->status) &&
	    t->status != TASK_COMPLETED) {
		if (t->status == TASK_FAILED || t->status == TASK_TIMED_OUT)
			github_note(r, t, &e);
		github_row(r, t, &e);
	}
	db_runs_free(e.runs, e.nruns);
	free(e.name);
	free(e.cls);
	return ferror(r->cases) || ferror(r->notes) || ferror(r->rows);
}

/* The testcases, annotations and rows of the tasks f selects into
 * out[0..2] (the caller frees them) and their totals into r.  Returns
 * -1 to go on, or an exit status. */
static int
collect(struct report *r, const struct db_task_filter *f, char *out[3],
	size_t len[3])
{
	char *cause = NULL;
	int rc = -1;

	r->cases = open_memstream(&out[0], &len[0]);
	r->notes = open_memstream(&out[1], &len[1]);
	r->rows = open_memstream(&out[2], &len[2]);
	if (r->cases == NULL || r->notes == NULL || r->rows == NULL) {
		cmd_error("cannot allocate the report");
		rc = EXIT_FAILED;
	} else if (store_task_each(r->b->db, f, each_task, r, &cause) != 0) {
		cmd_error("%s", cause);
		free(cause);
		rc = EXIT_DB;
	}
	if (r->cases != NULL && fclose(r->cases) != 0 && rc < 0)
		rc = EXIT_FAILED;
	if (r->notes != NULL && fclose(r->notes) != 0 && rc < 0)
		rc = EXIT_FAILED;
	if (r->rows != NULL && fclose(r->rows) != 0 && rc < 0)
		rc = EXIT_FAILED;
	if (rc == EXIT_FAILED)
		cmd_error("cannot allocate the report");
	r->cases = r->notes = r->rows = NULL;
	return rc;
}

/* The whole report, the testcases in buf, to fp; ferror(fp) says if it
 * failed. */
static void
write_xml(FILE *fp, const struct report *r, const char *buf, size_t len)
{
	char ts[40], *host = sys_host_name();

	/* UTC to the second, without a zone: docs/ci.md */
	time_rfc3339(r->first != 0 ? r->first : clock_now_ms(), ts, sizeof ts);
	ts[19] = '\0';
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(fp,
		"<testsuites name=\"baton\" tests=\"%lld\" failures=\"%lld\" "
		"errors=\"%lld\" time=\"%.3f\">\n",
		r->tests, r->failures, r->errors, r->time);
	fputs("  <testsuite name=\"", fp);
	put_str(fp, r->ms != NULL ? r->ms : "baton", XML_ATTR);
	fprintf(fp,
		"\" tests=\"%lld\" failures=\"%lld\" errors=\"%lld\" "
		"skipped=\"%lld\" time=\"%.3f\" timestamp=\"%s\" hostname=\"",
		r->tests, r->failures, r->errors, r->skipped, r->time, ts);
	put_str(fp, host, XML_ATTR);
	fputs("\">\n", fp);
	fwrite(buf, 1, len, fp);
	fputs("  </testsuite>\n</testsuites>\n", fp);
	free(host);
}

/* Write the report to file; an exit status. */
static int
write_file(const char *file, const struct report *r, const char *buf,
	   size_t len)
{
	char *tmp;
	FILE *fp;
	int rc = EXIT_OK;

	/* Write beside the target and rename: no half-written report. */
	tmp = xasprintf("%s.tmp.%ld", file, (long)getpid());
	if ((fp = fopen(tmp, "w")) == NULL) {
		cmd_error("cannot write %s: %s", file, strerror(errno));
		rc = EXIT_FAILED;
		goto out;
	}
	write_xml(fp, r, buf, len);
	if (ferror(fp) | fclose(fp)) {
		cmd_error("cannot write %s: %s", file, strerror(errno));
		unlink(tmp);
		rc = EXIT_FAILED;
		goto out;
	}
	if (rename(tmp, file) != 0) {
		cmd_error("cannot write %s: %s", file, strerror(errno));
		unlink(tmp);
		rc = EXIT_FAILED;
		goto out;
	}
out:
	free(tmp);
	return rc;
}

/* The Markdown summary: counts by status, then the tasks that did not
 * complete (the first SUMMARY_ROWS of them), whose rows are in rows. */
static void
write_summary(FILE *fp, const struct report *r, const char *rows, size_t len)
{
	int i;

	fputs("\n### baton report", fp);
	if (r->ms != NULL) {
		fputs(": milestone ", fp);
		put_str(fp, r->ms, MD_CELL);
	}
	fprintf(fp, "\n\n%lld task%s, %lld did not complete\n\n", r->tests,
		r->tests == 1 ? "" : "s", r->nfailed);
	if (r->tests > 0)
		fputs("| status | tasks |\n|---|---:|\n", fp);
	for (i = 0; i < TASK_NSTATUS; i++)
		if (r->by_status[i] != 0)
			fprintf(fp, "| %s | %lld |\n",
				task_status_name((enum task_status)i),
				r->by_status[i]);
	if (r->nfailed == 0)
		return;
	fputs("\n| id | name | status | reason | duration | cost |\n"
	      "|---:|---|---|---|---:|---:|\n",
	      fp);
	fwrite(rows, 1, len, fp);
	if (r->nfailed > SUMMARY_ROWS)
		fprintf(fp,
			"\n%lld more: `baton status --status "
			"failed,timed_out,cancelled,interrupted`\n",
			r->nfailed - SUMMARY_ROWS);
}

/* The annotations on stdout, the summary appended to
 * $GITHUB_STEP_SUMMARY (stdout when it is unset); an exit status. */
static int
write_github(const struct report *r, const char *notes, size_t nlen,
	     const char *rows, size_t rlen)
{
	const char *path = getenv("GITHUB_STEP_SUMMARY");
	FILE *fp;
	int fd;

	fwrite(notes, 1, nlen, stdout);
	if (path == NULL || *path == '\0') {
		write_summary(stdout, r, rows, rlen);
		return EXIT_OK;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd == -1 || (fp = fdopen(fd, "a")) == NULL) {
		cmd_error("cannot write %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return EXIT_FAILED;
	}
	write_summary(fp, r, rows, rlen);
	if (ferror(fp) | fclose(fp)) {
		cmd_error("cannot write %s: %s", path, strerror(errno));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

enum { OPT_JUNIT = 256, OPT_MS, OPT_GITHUB };
static const struct option report_options[] = {
	{"junit", required_argument, NULL, OPT_JUNIT},
	{"milestone", required_argument, NULL, OPT_MS},
	{"github", no_argument, NULL, OPT_GITHUB},
	{NULL, 0, NULL, 0},
};

/* Read the options into *file and r.  Returns -1 to go on, or an exit
 * status. */
static int
parse_options(int argc, char **argv, const char **file, struct report *r)
{
	int c;

	optind = 0;
	while ((c = cmd_getopt(argc, argv, "", report_options)) != -1) {
		if (c == OPT_JUNIT)
			*file = optarg;
		else if (c == OPT_MS)
			r->ms = optarg;
		else if (c == OPT_GITHUB)
			r->github = 1;
		else
			return cmd_option_error(&cmd_report_entry, argv,
						report_options);
	}
	r->junit = *file != NULL;
	if (!r->junit && !r->github)
		return cmd_usage_error(&cmd_report_entry,
				       "give --junit FILE, --github or both");
	if (optind < argc)
		return cmd_usage_error(&cmd_report_entry,
				       "unexpected argument '%s'",
				       argv[optind]);
	return -1;
}

static int
report_exec(struct baton *b, int argc, char **argv)
{
	struct db_task_filter f = {0};
	struct report r = {0};
	const char *file = NULL;
	char *buf[3] = {NULL, NULL, NULL};
	size_t len[3] = {0, 0, 0};
	int rc;

	if ((rc = parse_options(argc, argv, &file, &r)) >= 0)
		return rc;
	if (r.ms != NULL && (rc = cmd_milestone_id(b, &cmd_report_entry, r.ms,
						   &f.milestone_id)) != 0)
		return rc;
	r.b = b;
	if ((rc = collect(&r, &f, buf, len)) >= 0)
		goto out;
	rc = EXIT_OK;
	if (r.junit && (rc = write_file(file, &r, buf[0], len[0])) != EXIT_OK)
		goto out;
	if (r.junit && b->verbosity >= 0)
		printf("wrote %s: %lld tests, %lld failures, %lld errors, "
		       "%lld skipped\n",
		       file, r.tests, r.failures, r.errors, r.skipped);
	if (r.github)
		rc = write_github(&r, buf[1], len[1], buf[2], len[2]);
out:
	nameset_free(&r.names);
	free(buf[0]);
	free(buf[1]);
	free(buf[2]);
	return rc;
}

const struct cmd_entry cmd_report_entry = {
	.name = "report",
	.usage = "[--junit FILE] [--github] [--milestone M]",
	.summary = "reports for CI: JUnit XML, GitHub Actions annotations",
	.help = "options:\n"
		"  --junit FILE    write JUnit XML to FILE (replaced "
		"atomically): one\n"
		"                  testcase per task, named by its key, else "
		"its title,\n"
		"                  else its prompt's first line; completed "
		"tasks pass,\n"
		"                  failed and timed_out ones are failures, "
		"cancelled and\n"
		"                  interrupted ones errors, pending and "
		"running ones\n"
		"                  skipped; failures carry the reason and the "
		"tails of\n"
		"                  the agent's stderr and stdout\n"
		"  --github        ::error annotations on stdout for failed "
		"and timed_out\n"
		"                  tasks, and a Markdown summary appended to "
		"the file\n"
		"                  $GITHUB_STEP_SUMMARY names (stdout when it "
		"is unset)\n"
		"  --milestone M   only the tasks of milestone M\n",
	.flags = CMD_NEEDS_DB | CMD_READONLY,
	.exec = report_exec,
	.options = report_options,
};
