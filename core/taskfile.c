/*
 * Task files for `baton add --from` (SPEC §6): a YAML list of mappings,
 * JSON Lines or CSV with a header row, turned into task_specs that
 * cmd-add.c resolves and inserts in one transaction.
 *
 * STYLE.md says only core/config.c includes yaml.h.  Task files are the
 * second reader of user-written YAML, and the lead decided they may
 * include it too: a record is a flat mapping of scalars, read straight
 * from libyaml's events with no tree, so sharing config.c's node tree
 * would buy nothing.
 *
 * The file is untrusted input.  It is read whole (at most 64 MiB) and
 * holds at most MAX_TASKS records.  YAML anchors and aliases are refused
 * (no billion laughs), and nothing may nest below a record's values, so
 * depth never exceeds two however the file is built.  Every message is
 * "FILE:LINE: message" (YAML syntax errors "FILE:LINE:COL: message"),
 * bytes quoted from the file are cut short and stripped of control
 * characters, and the first error in file order wins.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "core/taskfile.h"
#include "core/yaml-tag.h"
#include "lib/file.h"
#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

#define MAX_FILE_SIZE ((size_t)64 << 20)
#define MAX_TASKS     1000000
#define MAX_SHOWN     40 /* bytes of a bad key or value quoted in a message */

enum ktype {
	K_STRING,  /* any string */
	K_NUMBER,  /* a string, or a whole number in JSON */
	K_DECIMAL, /* a string, or any number in JSON (max_cost) */
	K_BOOL,	   /* true/false (yes/no; 1/0 in CSV) */
};

/* The keys of a record: the task options without dashes. */
static const struct key {
	const char *name;
	enum ktype type;
	size_t off; /* of a char * (strings) or an int (booleans) */
} keys[] = {
	{"prompt", K_STRING, offsetof(struct task_spec, prompt)},
	{"prompt_file", K_STRING, offsetof(struct task_spec, prompt_file)},
	{"agent", K_STRING, offsetof(struct task_spec, agent)},
	{"model", K_STRING, offsetof(struct task_spec, model)},
	{"session", K_STRING, offsetof(struct task_spec, session)},
	{"new_session", K_BOOL, offsetof(struct task_spec, new_session)},
	{"milestone", K_STRING, offsetof(struct task_spec, milestone)},
	{"workdir", K_STRING, offsetof(struct task_spec, workdir)},
	{"timeout", K_NUMBER, offsetof(struct task_spec, timeout)},
	{"check", K_STRING, offsetof(struct task_spec, check)},
	{"max_iterations", K_NUMBER,
	 offsetof(struct task_spec, max_iterations)},
	{"retries", K_NUMBER, offsetof(struct task_spec, retries)},
	{"max_cost", K_DECIMAL, offsetof(struct task_spec, max_cost)},
	{"title", K_STRING, offsetof(struct task_spec, title)},
	{"key", K_STRING, offsetof(struct task_spec, key)},
	{"force_agent", K_BOOL, offsetof(struct task_spec, force_agent)},
	{"allow_foreign_session", K_BOOL,
	 offsetof(struct task_spec, allow_foreign)},
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* State while reading one file. */
struct loader {
	const char *file; /* for messages: the path as given, or <stdin> */
	char *dir;	  /* the file's directory; NULL: the current one */
	int from_stdin;
	struct task_spec *specs;
	size_t n, cap;
	char *cause; /* the first error */
};

static int fail(struct loader *, size_t, const char *, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_at(struct loader *, size_t, size_t, const char *, ...)
	__attribute__((format(printf, 4, 5)));
static int vfail(struct loader *, size_t, size_t, const char *, va_list)
	__attribute__((format(printf, 4, 0)));

/* ---- messages ---- */

/* s (len bytes) as it goes into a message, in buf (>= MAX_SHOWN + 4). */
static const char *
shown(const char *s, size_t len, char *buf)
{
	return text_shown(s, len, MAX_SHOWN, buf);
}

/*
 * Record the first error as "FILE:LINE:COL: message", leaving out the
 * column if col is 0 and the line too if line is 0.  Returns -1.
 */
static int
vfail(struct loader *ld, size_t line, size_t col, const char *fmt, va_list ap)
{
	char *msg;

	if (ld->cause != NULL)
		return -1;
	msg = xvasprintf(fmt, ap);
	if (line == 0)
		ld->cause = xasprintf("%s: %s", ld->file, msg);
	else if (col == 0)
		ld->cause = xasprintf("%s:%zu: %s", ld->file, line, msg);
	else
		ld->cause =
			xasprintf("%s:%zu:%zu: %s", ld->file, line, col, msg);
	free(msg);
	return -1;
}

static int
fail(struct loader *ld, size_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ld, line, 0, fmt, ap);
	va_end(ap);
	return -1;
}

static int
fail_at(struct loader *ld, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ld, line, col, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- keys ---- */

/*
 * The key called name (len bytes), or NULL after an error naming it as
 * a "key" or a "column" (what).
 */
static const struct key *
find_key(struct loader *ld, const char *name, size_t len, size_t line,
	 const char *what)
{
	char buf[MAX_SHOWN + 4];
	const char *names[NKEYS + 1];
	const char *s;
	char *list;
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (strlen(keys[i].name) == len &&
		    memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
		names[i] = keys[i].name;
	}
	names[NKEYS] = NULL;
	shown(name, len, buf);
	if (memchr(name, '\0', len) == NULL &&
	    (s = text_closest(name, names, 2)) != NULL) {
		fail(ld, line, "unknown %s '%s' (did you mean '%s'?)", what,
		     buf, s);
		return NULL;
	}
	list = text_join(names);
	fail(ld, line, "unknown %s '%s' (expected one of: %s)", what, buf,
	     list);
	free(list);
	return NULL;
}

/* Mark k as given in *seen; an error if it was given already. */
static int
take_key(struct loader *ld, const struct key *k, unsigned *seen, size_t line,
	 const char *what)
{
	unsigned bit = 1u << (k - keys);

	if (*seen & bit)
		return fail(ld, line, "duplicate %s '%s'", what, k->name);
	*seen |= bit;
	return 0;
}

static char **
str_field(struct task_spec *spec, const struct key *k)
{
	return (char **)(void *)((char *)spec + k->off);
}

static int *
bool_field(struct task_spec *spec, const struct key *k)
{
	return (int *)(void *)((char *)spec + k->off);
}

/* Store len bytes of v as the value of string key k. */
static int
set_string(struct loader *ld, struct task_spec *spec, const struct key *k,
	   const char *v, size_t len, size_t line)
{
	if (memchr(v, '\0', len) != NULL)
		return fail(ld, line, "%s: NUL bytes are not allowed", k->name);
	free(*str_field(spec, k));
	*str_field(spec, k) = xstrndup(v, len);
	return 0;
}

/* Parse a boolean word: 1, 0, or -1 if it is none (numbers as well when
 * digits, for CSV). */
static int
parse_bool(const char *v, size_t len, int digits)
{
	static const char *const yes[] = {"true", "yes"};
	static const char *const no[] = {"false", "no"};
	size_t i;

	while (len > 0 && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (digits && len == 1 && (*v == '1' || *v == '0'))
		return *v == '1';
	for (i = 0; i < 2; i++) {
		if (strlen(yes[i]) == len && strncasecmp(v, yes[i], len) == 0)
			return 1;
		if (strlen(no[i]) == len && strncasecmp(v, no[i], len) == 0)
			return 0;
	}
	return -1;
}

static int
set_bool(struct loader *ld, struct task_spec *spec, const struct key *k,
	 const char *v, size_t len, int digits, size_t line)
{
	char buf[MAX_SHOWN + 4];
	int b = parse_bool(v, len, digits);

	if (b < 0)
		return fail(ld, line, "%s: expected true or false, got '%s'",
			    k->name, shown(v, len, buf));
	*bool_field(spec, k) = b;
	return 0;
}

/* ---- records ---- */

/* A fresh record starting at line, or NULL after an error. */
static struct task_spec *
new_record(struct loader *ld, size_t line)
{
	struct task_spec *spec;

	if (ld->n == MAX_TASKS) {
		fail(ld, line, "more than %d tasks in one file", MAX_TASKS);
		return NULL;
	}
	if (ld->n == ld->cap) {
		ld->cap = ld->cap == 0 ? 64 : ld->cap * 2;
		ld->specs =
			xreallocarray(ld->specs, ld->cap, sizeof *ld->specs);
	}
	spec = &ld->specs[ld->n++];
	memset(spec, 0, sizeof *spec);
	spec->origin = xasprintf("%s:%zu", ld->file, line);
	return spec;
}

static int
is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
			return 0;
	}
	return 1;
}

/* A path in the file is relative to the file's directory: rewrite it so
 * that it works from the current one. */
static void
rebase(const struct loader *ld, char **path)
{
	const char *sep;
	char *p = *path;

	if (p == NULL || p[0] == '\0' || p[0] == '/' || ld->dir == NULL)
		return;
	sep = ld->dir[strlen(ld->dir) - 1] == '/' ? "" : "/";
	*path = xasprintf("%s%s%s", ld->dir, sep, p);
	free(p);
}

/* Checks once a record is complete (it started at line). */
static int
finish_record(struct loader *ld, struct task_spec *spec, size_t line)
{
	if (spec->prompt_file == NULL) {
		if (spec->prompt == NULL)
			return fail(ld, line,
				    "missing prompt (give prompt or "
				    "prompt_file)");
		if (is_blank(spec->prompt, strlen(spec->prompt)))
			return fail(ld, line, "empty prompt");
	} else if (strcmp(spec->prompt_file, "-") == 0) {
		if (ld->from_stdin)
			return fail(ld, line,
				    "prompt_file '-' reads stdin, but the task "
				    "file is read from stdin");
	} else
		rebase(ld, &spec->prompt_file);
	rebase(ld, &spec->workdir);
	return 0;
}

/* ---- YAML ---- */

static size_t
mark_line(const yaml_mark_t *m)
{
	return m->line + 1;
}

static int
yaml_syntax_error(struct loader *ld, const yaml_parser_t *yp, const char *buf,
		  size_t len)
{
	const char *problem = yp->problem ? yp->problem : "invalid YAML";
	size_t line, col;

	if (yp->error == YAML_MEMORY_ERROR)
		oom();
	if (yp->error == YAML_READER_ERROR) {
		text_line_col(buf, len, yp->problem_offset, &line, &col);
		if (yp->problem_value != -1)
			return fail_at(ld, line, col, "%s (byte 0x%02X)",
				       problem, (unsigned)yp->problem_value);
		return fail_at(ld, line, col, "%s", problem);
	}
	line = yp->problem_mark.line + 1;
	col = yp->problem_mark.column + 1;
	if (yp->context != NULL)
		return fail_at(ld, line, col, "%s (%s at line %zu)", problem,
			       yp->context, yp->context_mark.line + 1);
	return fail_at(ld, line, col, "%s", problem);
}

static const char *
yaml_what(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	default:
		return "a single value";
	}
}

static int
yaml_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static int
yaml_has_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return ev->data.scalar.anchor != NULL;
	case YAML_SEQUENCE_START_EVENT:
		return ev->data.sequence_start.anchor != NULL;
	case YAML_MAPPING_START_EVENT:
		return ev->data.mapping_start.anchor != NULL;
	default:
		return 0;
	}
}

/* Where load_yaml() is in the file, and the record being read. */
struct ystate {
	enum {
		Y_STREAM, /* before a document */
		Y_ROOT,	  /* expecting the top-level list */
		Y_ITEM,	  /* in the list: expecting a record */
		Y_KEY,	  /* in a record: expecting a key */
		Y_VALUE,  /* expecting the value of key */
		Y_END,	  /* expecting the end of the document */
	} state;
	int docs;
	struct task_spec *spec;
	const struct key *key;
	unsigned seen;
	size_t start;
};

static int
yaml_value(struct loader *ld, struct ystate *y, const yaml_event_t *ev,
	   size_t line)
{
	const struct key *k = y->key;
	const char *v;
	size_t len;

	y->state = Y_KEY;
	if (ev->type != YAML_SCALAR_EVENT)
		return fail(ld, line, "%s: expected %s, got %s", k->name,
			    k->type == K_BOOL ? "true or false"
					      : "a single value",
			    yaml_what(ev));
	if (yaml_is_null(ev))
		return 0;
	v = (const char *)ev->data.scalar.value;
	len = ev->data.scalar.length;
	if (k->type == K_BOOL)
		return set_bool(ld, y->spec, k, v, len, 0, line);
	return set_string(ld, y->spec, k, v, len, line);
}

/* One event of the document; 1 at the end of the stream, 0, -1. */
static int
yaml_event(struct loader *ld, struct ystate *y, const yaml_event_t *ev)
{
	size_t line = mark_line(&ev->start_mark);
	const char *tag;
	char buf[64];

	if ((tag = yaml_event_tag(ev, buf, sizeof buf)) != NULL)
		return fail_at(ld, line, ev->start_mark.column + 1,
			       "YAML tags are not supported ('%s')", tag);
	if (ev->type == YAML_ALIAS_EVENT || yaml_has_anchor(ev))
		return fail(ld, line,
			    "YAML anchors and aliases are not supported in "
			    "task files");
	switch (y->state) {
	case Y_STREAM:
		if (ev->type == YAML_STREAM_END_EVENT)
			return 1;
		if (ev->type == YAML_DOCUMENT_START_EVENT) {
			if (++y->docs > 1)
				return fail(ld, line,
					    "more than one YAML document (put "
					    "all tasks in one list)");
			y->state = Y_ROOT;
		}
		return 0;
	case Y_ROOT:
		if (ev->type == YAML_SEQUENCE_START_EVENT) {
			y->state = Y_ITEM;
			return 0;
		}
		if (ev->type == YAML_SCALAR_EVENT && yaml_is_null(ev)) {
			y->state = Y_END;
			return 0;
		}
		return fail(ld, line, "expected a list of tasks, got %s",
			    yaml_what(ev));
	case Y_ITEM:
		if (ev->type == YAML_SEQUENCE_END_EVENT) {
			y->state = Y_END;
			return 0;
		}
		if (ev->type != YAML_MAPPING_START_EVENT)
			return fail(ld, line,
				    "expected a task (a mapping of task "
				    "options), got %s",
				    yaml_what(ev));
		if ((y->spec = new_record(ld, line)) == NULL)
			return -1;
		y->start = line;
		y->seen = 0;
		y->state = Y_KEY;
		return 0;
	case Y_KEY:
		if (ev->type == YAML_MAPPING_END_EVENT) {
			y->state = Y_ITEM;
			return finish_record(ld, y->spec, y->start);
		}
		if (ev->type != YAML_SCALAR_EVENT)
			return fail(ld, line, "expected a key, got %s",
				    yaml_what(ev));
		y->key = find_key(ld, (const char *)ev->data.scalar.value,
				  ev->data.scalar.length, line, "key");
		if (y->key == NULL ||
		    take_key(ld, y->key, &y->seen, line, "key"))
			return -1;
		y->state = Y_VALUE;
		return 0;
	case Y_VALUE:
		return yaml_value(ld, y, ev, line);
	case Y_END:
		if (ev->type == YAML_DOCUMENT_END_EVENT)
			y->state = Y_STREAM;
		return 0;
	}
	return 0;
}

static int
load_yaml(struct loader *ld, const char *buf, size_t len)
{
	struct ystate y = {0};
	yaml_parser_t yp;
	yaml_event_t ev;
	int r = 0;

	if (!yaml_parser_initialize(&yp))
		oom();
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	while (r == 0) {
		if (!yaml_parser_parse(&yp, &ev)) {
			r = yaml_syntax_error(ld, &yp, buf, len);
			break;
		}
		r = yaml_event(ld, &y, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	return r < 0 ? -1 : 0;
}

/* ---- JSON Lines ---- */

static const char *
json_what(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown value";
}

static int
json_value(struct loader *ld, struct task_spec *spec, const struct key *k,
	   const json_t *v, size_t line)
{
	char num[32];
	double d;

	if (json_is_null(v))
		return 0;
	if (k->type == K_BOOL) {
		if (!json_is_boolean(v))
			return fail(ld, line,
				    "%s: expected true or false, got %s",
				    k->name, json_what(v));
		*bool_field(spec, k) = json_is_true(v);
		return 0;
	}
	if (k->type == K_DECIMAL && json_is_number(v)) {
		snprintf(num, sizeof num, "%.15g", json_number_value(v));
		return set_string(ld, spec, k, num, strlen(num), line);
	}
	if (k->type == K_NUMBER && json_is_integer(v)) {
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return set_string(ld, spec, k, num, strlen(num), line);
	}
	if (k->type == K_NUMBER && json_is_real(v)) {
		/* 90.0 or 1e3 is a whole number; 1.5 is not */
		d = json_real_value(v);
		if (d > -1e15 && d < 1e15 && d == (double)(long long)d) {
			snprintf(num, sizeof num, "%lld", (long long)d);
			return set_string(ld, spec, k, num, strlen(num), line);
		}
		return fail(ld, line,
			    "%s: expected a string or a whole number, got "
			    "a number with a fraction",
			    k->name);
	}
	if (!json_is_string(v))
		return fail(ld, line, "%s: expected %s, got %s", k->name,
			    k->type != K_STRING ? "a string or a number"
						: "a string",
			    json_what(v));
	return set_string(ld, spec, k, json_string_value(v),
			  json_string_length(v), line);
}

/* The jansson error, its control characters (from the input) as '?'. */
static void
json_fail(struct loader *ld, const json_error_t *err, size_t line)
{
	static const char dup[] = "duplicate object key";
	char text[sizeof err->text];
	size_t i;

	for (i = 0; i < sizeof text - 1 && err->text[i] != '\0'; i++) {
		unsigned char c = (unsigned char)err->text[i];

		text[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	text[i] = '\0';
	if (json_error_code(err) == json_error_duplicate_key &&
	    strncmp(text, dup, sizeof dup - 1) == 0)
		fail(ld, line, "duplicate key%s", text + sizeof dup - 1);
	else
		fail(ld, line, "not a JSON object: %s", text);
}

static int
json_record(struct loader *ld, const char *s, size_t len, size_t line)
{
	struct task_spec *spec;
	const struct key *k;
	json_error_t err;
	const char *name;
	json_t *o, *v;
	unsigned seen = 0;
	int rc = -1;

	if ((o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &err)) == NULL) {
		json_fail(ld, &err, line);
		return -1;
	}
	if (!json_is_object(o)) {
		fail(ld, line,
		     "not a JSON object: got %s (one task object a line)",
		     json_what(o));
		goto out;
	}
	if ((spec = new_record(ld, line)) == NULL)
		goto out;
	json_object_foreach(o, name, v)
	{
		if ((k = find_key(ld, name, strlen(name), line, "key")) == NULL)
			goto out;
		if (take_key(ld, k, &seen, line, "key") != 0)
			goto out;
		if (json_value(ld, spec, k, v, line) != 0)
			goto out;
	}
	rc = finish_record(ld, spec, line);
out:
	json_decref(o);
	return rc;
}

static int
load_jsonl(struct loader *ld, const char *buf, size_t len)
{
	const char *s, *nl;
	size_t off = 0, line = 0, n;

	while (off < len) {
		s = buf + off;
		nl = memchr(s, '\n', len - off);
		n = nl != NULL ? (size_t)(nl - s) : len - off;
		off += n + (nl != NULL);
		line++;
		if (is_blank(s, n))
			continue;
		if (json_record(ld, s, n, line) != 0)
			return -1;
	}
	return 0;
}

/* ---- CSV ---- */

/* Non-zero if s is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF). */
static int
utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n, j;
	uint32_t cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (j = 1; j <= n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n + 1;
	}
	return 1;
}

/* A CSV reader over the whole file (RFC 4180, LF or CRLF). */
struct csv {
	const char *buf;
	size_t len, pos;
	size_t line; /* of buf[pos] */
};

/* Skip lines with nothing but spaces on them. */
static void
csv_skip_blank(struct csv *c)
{
	size_t i;

	for (;;) {
		for (i = c->pos; i < c->len; i++) {
			if (c->buf[i] != ' ' && c->buf[i] != '\t' &&
			    c->buf[i] != '\r')
				break;
		}
		if (i == c->len) {
			c->pos = i;
			return;
		}
		if (c->buf[i] != '\n')
			return;
		c->pos = i + 1;
		c->line++;
	}
}

/*
 * The next cell into sb; *last is set if it ends its record (which
 * started at line start).  Returns 0 or -1.
 */
static int
csv_cell(struct loader *ld, struct csv *c, size_t start, struct strbuf *sb,
	 int *last)
{
	const char *p, *q, *end = c->buf + c->len;

	sb->len = 0;
	sb->buf[0] = '\0';
	p = c->buf + c->pos;
	if (p < end && *p == '"') {
		for (p++;;) {
			q = memchr(p, '"', (size_t)(end - p));
			if (q == NULL)
				return fail(ld, start,
					    "unterminated quoted field");
			strbuf_add(sb, p, (size_t)(q - p));
			for (; p < q; p++)
				c->line += *p == '\n';
			p = q + 1;
			if (p < end && *p == '"') {
				strbuf_add(sb, "\"", 1);
				p++;
				continue;
			}
			break;
		}
		if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n')
			p++;
		if (p < end && *p != ',' && *p != '\n')
			return fail(ld, c->line,
				    "unexpected text after the closing quote "
				    "of a field");
	} else {
		for (q = p; q < end && *q != ',' && *q != '\n'; q++)
			;
		strbuf_add(sb, p, (size_t)(q - p));
		if (sb->len > 0 && sb->buf[sb->len - 1] == '\r' &&
		    (q == end || *q == '\n'))
			sb->buf[--sb->len] = '\0';
		p = q;
	}
	*last = p == end || *p == '\n';
	if (p < end && *p == '\n')
		c->line++;
	if (p < end)
		p++;
	c->pos = (size_t)(p - c->buf);
	return 0;
}

static void
trim(struct strbuf *sb)
{
	size_t i = 0;

	while (sb->len > 0 &&
	       (sb->buf[sb->len - 1] == ' ' || sb->buf[sb->len - 1] == '\t'))
		sb->buf[--sb->len] = '\0';
	while (i < sb->len && (sb->buf[i] == ' ' || sb->buf[i] == '\t'))
		i++;
	memmove(sb->buf, sb->buf + i, sb->len - i + 1);
	sb->len -= i;
}

/* The header row: which key each column is.  Returns 0 or -1. */
static int
csv_header(struct loader *ld, struct csv *c, const struct key **cols,
	   size_t *ncols, struct strbuf *sb)
{
	size_t start = c->line, n = 0;
	unsigned seen = 0;
	int last = 0;

	while (!last) {
		if (csv_cell(ld, c, start, sb, &last) != 0)
			return -1;
		trim(sb);
		if (sb->len == 0)
			return fail(ld, start,
				    "empty column name (column %zu of the "
				    "header)",
				    n + 1);
		if (!utf8_valid(sb->buf, sb->len))
			return fail(ld, start, "invalid UTF-8 in the header");
		cols[n] = find_key(ld, sb->buf, sb->len, start, "column");
		if (cols[n] == NULL ||
		    take_key(ld, cols[n], &seen, start, "column") != 0)
			return -1;
		/* every column is a different key */
		if (++n > NKEYS)
			fatal("csv_header: more columns than keys");
	}
	*ncols = n;
	return 0;
}

/* One row, its first ncols cells kept in cells.  Returns 0 or -1. */
static int
csv_row(struct loader *ld, struct csv *c, const struct key **cols, size_t ncols,
	struct strvec *cells, struct strbuf *sb)
{
	struct task_spec *spec;
	size_t start = c->line, n = 0, i;
	int last = 0;

	strvec_release(cells);
	strvec_init(cells);
	while (!last) {
		if (csv_cell(ld, c, start, sb, &last) != 0)
			return -1;
		if (n++ < ncols)
			strvec_push(cells, sb->buf);
	}
	if (n != ncols)
		return fail(ld, start, "expected %zu fields, got %zu", ncols,
			    n);
	if ((spec = new_record(ld, start)) == NULL)
		return -1;
	for (i = 0; i < ncols; i++) {
		const char *v = cells->v[i];
		size_t len = strlen(v);

		if (len == 0)
			continue;
		if (!utf8_valid(v, len))
			return fail(ld, start, "%s: invalid UTF-8",
				    cols[i]->name);
		if (cols[i]->type == K_BOOL) {
			if (set_bool(ld, spec, cols[i], v, len, 1, start))
				return -1;
		} else if (set_string(ld, spec, cols[i], v, len, start) != 0)
			return -1;
	}
	return finish_record(ld, spec, start);
}

static int
load_csv(struct loader *ld, const char *buf, size_t len)
{
	const struct key *cols[NKEYS + 1];
	struct csv c = {buf, len, 0, 1};
	struct strvec cells;
	struct strbuf sb;
	const char *nul, *p;
	size_t ncols = 0;
	int rc = -1;

	if ((nul = memchr(buf, '\0', len)) != NULL) {
		for (p = buf; p < nul; p++)
			c.line += *p == '\n';
		return fail(ld, c.line,
			    "NUL byte in the file (is it a text file?)");
	}
	strbuf_init(&sb);
	strvec_init(&cells);
	csv_skip_blank(&c);
	if (c.pos == c.len) {
		rc = 0;
		goto out;
	}
	if (csv_header(ld, &c, cols, &ncols, &sb) != 0)
		goto out;
	for (;;) {
		csv_skip_blank(&c);
		if (c.pos == c.len)
			break;
		if (csv_row(ld, &c, cols, ncols, &cells, &sb) != 0)
			goto out;
	}
	rc = 0;
out:
	strvec_release(&cells);
	strbuf_release(&sb);
	return rc;
}

/* ---- the file ---- */

enum format { F_YAML, F_JSONL, F_CSV };

static const char bom[] = "\xef\xbb\xbf";

/* By extension, else by the first character that is not blank or in a
 * '#' comment line. */
static enum format
format_of(const char *path, const char *buf, size_t len)
{
	const char *base = strrchr(path, '/'), *ext;
	size_t i = 0;

	base = base != NULL ? base + 1 : path;
	if ((ext = strrchr(base, '.')) != NULL) {
		ext++;
		if (strcasecmp(ext, "yaml") == 0 || strcasecmp(ext, "yml") == 0)
			return F_YAML;
		if (strcasecmp(ext, "jsonl") == 0 ||
		    strcasecmp(ext, "ndjson") == 0 ||
		    strcasecmp(ext, "json") == 0)
			return F_JSONL;
		if (strcasecmp(ext, "csv") == 0)
			return F_CSV;
	}
	if (len >= 3 && memcmp(buf, bom, 3) == 0)
		i = 3;
	while (i < len) {
		if (buf[i] == '#') {
			while (i < len && buf[i] != '\n')
				i++;
		} else if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
			   buf[i] == '\n')
			i++;
		else
			break;
	}
	if (i == len || buf[i] == '-' || buf[i] == '[')
		return F_YAML;
	if (buf[i] == '{')
		return F_JSONL;
	return F_CSV;
}

/* All of stdin, at most max bytes; NULL with errno. */
static char *
read_stdin(size_t max, size_t *len)
{
	struct strbuf sb;
	char buf[65536];
	ssize_t r;

	strbuf_init(&sb);
	for (;;) {
		r = read(STDIN_FILENO, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			strbuf_release(&sb);
			return NULL;
		}
		if (r == 0)
			break;
		strbuf_add(&sb, buf, (size_t)r);
		if (sb.len > max) {
			strbuf_release(&sb);
			errno = EFBIG;
			return NULL;
		}
	}
	*len = sb.len;
	return strbuf_detach(&sb);
}

/* The directory part of path, or NULL for a bare name. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return NULL;
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/*
 * Read path ("-": stdin) as a YAML, JSON Lines or CSV task file.  See
 * taskfile.h.  On success *specs (n of them) and their strings are the
 * caller's; on error *cause is, and *specs is NULL.
 */
int
taskfile_load(const char *path, struct task_spec **specs, size_t *n,
	      char **cause)
{
	struct loader ld = {0};
	enum format fmt;
	const char *body;
	char *buf = NULL;
	size_t len = 0, i;
	int rc = -1;

	*specs = NULL;
	*n = 0;
	*cause = NULL;
	ld.from_stdin = strcmp(path, "-") == 0;
	ld.file = ld.from_stdin ? "<stdin>" : path;
	if (ld.from_stdin)
		buf = read_stdin(MAX_FILE_SIZE, &len);
	else
		buf = file_read_input(path, MAX_FILE_SIZE, &len);
	if (buf == NULL) {
		if (errno == EFBIG)
			ld.cause = xasprintf("cannot read task file %s: "
					     "larger than 64 MiB",
					     ld.file);
		else
			ld.cause = xasprintf("cannot read task file %s: %s",
					     ld.file, file_strerror(errno));
		goto out;
	}
	if (!ld.from_stdin)
		ld.dir = dir_of(path);
	body = buf;
	fmt = format_of(path, buf, len);
	/* libyaml knows about byte order marks, the others do not */
	if (fmt != F_YAML && len >= 3 && memcmp(buf, bom, 3) == 0) {
		body += 3;
		len -= 3;
	}
	if (fmt == F_YAML)
		rc = load_yaml(&ld, body, len);
	else if (fmt == F_JSONL)
		rc = load_jsonl(&ld, body, len);
	else
		rc = load_csv(&ld, body, len);
	if (rc == 0 && ld.n == 0)
		rc = fail(&ld, 0, "no tasks in file");
out:
	if (rc != 0) {
		for (i = 0; i < ld.n; i++)
			task_spec_release(&ld.specs[i]);
		free(ld.specs);
		*cause = ld.cause;
	} else {
		*specs = ld.specs;
		*n = ld.n;
	}
	free(ld.dir);
	free(buf);
	return rc;
}
