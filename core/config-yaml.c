/*
 * The config file as a tree: libyaml's event parser turns the untrusted
 * text into a small tree of nodes, with limits on depth and size and
 * aliases refused (no billion laughs), before anything looks at the
 * values.  Every complaint is "file:line:col: message" with libyaml's
 * 1-based mark of the offending key or value.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/config-internal.h"
#include "core/yaml-tag.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

#define MAX_DEPTH 32
#define MAX_NODES 100000

/* Record the first error only: later ones are consequences. */
int
cfg_fail_at(struct parse *p, int line, int col, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (p->cause != NULL)
		return -1;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	p->cause = xasprintf("%s:%d:%d: %s", p->file, line, col, msg);
	free(msg);
	return -1;
}

/* cfg_fail_at() at n's mark. */
int
cfg_fail(struct parse *p, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int rc;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	rc = cfg_fail_at(p, n->line, n->col, "%s", msg);
	free(msg);
	return rc;
}

/* A bad value for a message, into buf; returns buf. */
const char *
cfg_shown(const char *s, char *buf, size_t size)
{
	return text_shown(s, strlen(s),
			  size - 4 < CFG_MAX_SHOWN ? size - 4 : CFG_MAX_SHOWN,
			  buf);
}

/* What n is, for "got %s": static text or buf. */
const char *
cfg_describe(const struct node *n, char *buf, size_t size)
{
	char tmp[CFG_SHOWN_BUF];

	if (n->type == N_MAP)
		return "a mapping";
	if (n->type == N_SEQ)
		return "a list";
	snprintf(buf, size, "'%s'", cfg_shown(n->value, tmp, sizeof tmp));
	return buf;
}

/* Frees n and its kids; NULL-safe. */
void
cfg_node_free(struct node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		cfg_node_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

/* Non-zero for a plain null scalar; a quoted '~' is a string. */
int
cfg_is_null(const struct node *n)
{
	const char *v = n->value;

	if (n->type != N_SCALAR || !n->plain)
		return 0;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static struct node *
node_new(enum ntype type, const yaml_mark_t *m)
{
	struct node *n = xcalloc(1, sizeof *n);

	n->type = type;
	n->line = m->line >= INT_MAX ? INT_MAX : (int)m->line + 1;
	n->col = m->column >= INT_MAX ? INT_MAX : (int)m->column + 1;
	return n;
}

static void
node_add(struct node *parent, struct node *kid)
{
	if (parent->n == parent->cap) {
		parent->cap = parent->cap == 0 ? 8 : parent->cap * 2;
		parent->kids = xreallocarray(parent->kids, parent->cap,
					     sizeof *parent->kids);
	}
	parent->kids[parent->n++] = kid;
}

static int
syntax_error(struct parse *p, const yaml_parser_t *yp, const char *buf,
	     size_t len)
{
	const char *problem = yp->problem ? yp->problem : "invalid YAML";
	size_t l, c;
	int line, col;

	if (yp->error == YAML_MEMORY_ERROR)
		oom();
	if (yp->error == YAML_READER_ERROR) {
		text_line_col(buf, len, yp->problem_offset, &l, &c);
		line = l > INT_MAX ? INT_MAX : (int)l;
		col = c > INT_MAX ? INT_MAX : (int)c;
		if (yp->problem_value != -1)
			return cfg_fail_at(p, line, col, "%s (byte 0x%02X)",
					   problem,
					   (unsigned)yp->problem_value);
		return cfg_fail_at(p, line, col, "%s", problem);
	}
	line = (int)(yp->problem_mark.line > INT_MAX - 1
			     ? INT_MAX
			     : yp->problem_mark.line + 1);
	col = (int)(yp->problem_mark.column > INT_MAX - 1
			    ? INT_MAX
			    : yp->problem_mark.column + 1);
	if (yp->context != NULL)
		return cfg_fail_at(p, line, col, "%s (%s at line %zu)", problem,
				   yp->context, yp->context_mark.line + 1);
	return cfg_fail_at(p, line, col, "%s", problem);
}

/* The tree while it is built: the mappings and lists still open. */
struct builder {
	struct node *stack[MAX_DEPTH];
	struct node *root;
	int depth, docs, done;
};

static int
fail_mark(struct parse *p, const yaml_mark_t *m, const char *what)
{
	return cfg_fail_at(p, (int)m->line + 1, (int)m->column + 1, "%s", what);
}

/* A scalar event as a node, or NULL with p->cause for a NUL byte. */
static struct node *
scalar_node(struct parse *p, const yaml_event_t *ev)
{
	struct node *n;
	size_t len = ev->data.scalar.length;

	if (memchr(ev->data.scalar.value, '\0', len) != NULL) {
		fail_mark(p, &ev->start_mark,
			  "NUL bytes are not allowed in values");
		return NULL;
	}
	n = node_new(N_SCALAR, &ev->start_mark);
	n->value = xmalloc(len + 1);
	memcpy(n->value, ev->data.scalar.value, len);
	n->value[len] = '\0';
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return n;
}

/* Hang the new node n where it belongs; b takes it over. */
static int
builder_add(struct parse *p, struct builder *b, struct node *n,
	    const yaml_mark_t *m)
{
	if (++p->nodes > MAX_NODES) {
		cfg_node_free(n);
		return cfg_fail_at(p, (int)m->line + 1, (int)m->column + 1,
				   "more than %d values", MAX_NODES);
	}
	if (b->depth == 0)
		b->root = n;
	else
		node_add(b->stack[b->depth - 1], n);
	if (n->type != N_SCALAR)
		b->stack[b->depth++] = n;
	return 0;
}

/* One event into b.  Returns 0, or -1 with p->cause. */
static int
take_event(struct parse *p, struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	const char *tag;
	struct node *n;
	char buf[64];

	if ((tag = yaml_event_tag(ev, buf, sizeof buf)) != NULL)
		return cfg_fail_at(p, (int)m->line + 1, (int)m->column + 1,
				   "YAML tags are not supported ('%s')", tag);
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		b->done = 1;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1)
			return fail_mark(p, m, "more than one YAML document");
		return 0;
	case YAML_ALIAS_EVENT:
		return fail_mark(p, m, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		if ((n = scalar_node(p, ev)) == NULL)
			return -1;
		return builder_add(p, b, n, m);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth == MAX_DEPTH)
			return cfg_fail_at(
				p, (int)m->line + 1, (int)m->column + 1,
				"nesting deeper than %d levels", MAX_DEPTH);
		n = node_new(ev->type == YAML_MAPPING_START_EVENT ? N_MAP
								  : N_SEQ,
			     m);
		return builder_add(p, b, n, m);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return 0;
	default:
		return 0;
	}
}

/* See config-internal.h: the whole text into a tree, or -1. */
int
cfg_build_tree(struct parse *p, const char *buf, size_t len,
	       struct node **rootp)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	struct builder b;
	int rc = -1;

	memset(&b, 0, sizeof b);
	if (!yaml_parser_initialize(&yp))
		oom();
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	while (!b.done) {
		if (!yaml_parser_parse(&yp, &ev)) {
			syntax_error(p, &yp, buf, len);
			goto out;
		}
		if (take_event(p, &b, &ev) != 0) {
			yaml_event_delete(&ev);
			goto out;
		}
		yaml_event_delete(&ev);
	}
	*rootp = b.root;
	b.root = NULL;
	rc = 0;
out:
	cfg_node_free(b.root);
	yaml_parser_delete(&yp);
	return rc;
}
