/*
 * The configuration (SPEC §8): built-in defaults, then one YAML file on
 * top of them key by key, then the environment.
 *
 * The file is untrusted input.  It is read whole (at most 1 MiB), turned
 * into a small tree by libyaml's event parser with limits on depth and
 * size, aliases refused (no billion laughs), and then applied to the
 * defaults.  Every complaint is "file:line:col: message" with libyaml's
 * 1-based mark of the offending key or value.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "core/config.h"
#include "lib/clock.h"
#include "lib/strbuf.h"
#include "lib/text.h"
#include "lib/xmalloc.h"

#define MAX_FILE_SIZE (1024 * 1024)
#define MAX_DEPTH     32
#define MAX_NODES     100000
#define MAX_SHOWN     40 /* bytes of a bad value quoted in a message */
#define MAX_NAME      64 /* agent profile names */

/* Words that make a key's value a secret for config_show(). */
static const char *const secret_words[] = {
	"token",  "key",  "secret",	"password",
	"passwd", "auth", "credential", NULL,
};

enum ntype { N_SCALAR, N_MAP, N_SEQ };

/* One node of the parsed file. */
struct node {
	enum ntype type;
	int line, col;	    /* 1-based */
	char *value;	    /* scalars: NUL-terminated, no NUL inside */
	int plain;	    /* plain scalar: "~" is null, "'~'" is not */
	struct node **kids; /* mappings: key, value, key, value, ... */
	size_t n, cap;
};

/* State while applying one file. */
struct parse {
	const char *file;
	char *cause;
	size_t nodes;
	/* Nodes for the checks that involve two keys; NULL if not set. */
	const struct node *agent, *retry_base, *retry_max, *heartbeat,
		*stale_after;
};

static int fail_at(struct parse *, int, int, const char *, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct parse *, const struct node *, const char *, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the first error only: later ones are consequences. */
static int
fail_at(struct parse *p, int line, int col, const char *fmt, ...)
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

static int
fail(struct parse *p, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int rc;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	rc = fail_at(p, n->line, n->col, "%s", msg);
	free(msg);
	return rc;
}

/*
 * A bad value as it goes into a message: at most MAX_SHOWN bytes (cut on
 * a UTF-8 boundary), control characters as '?'.
 */
static const char *
shown(const char *s, char *buf, size_t size)
{
	return text_shown(s, strlen(s),
			  size - 4 < MAX_SHOWN ? size - 4 : MAX_SHOWN, buf);
}

static const char *
describe(const struct node *n, char *buf, size_t size)
{
	char tmp[MAX_SHOWN + 8];

	if (n->type == N_MAP)
		return "a mapping";
	if (n->type == N_SEQ)
		return "a list";
	snprintf(buf, size, "'%s'", shown(n->value, tmp, sizeof tmp));
	return buf;
}

/* ---- the tree ---- */

static void
node_free(struct node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
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
is_null(const struct node *n)
{
	const char *v = n->value;

	if (n->type != N_SCALAR || !n->plain)
		return 0;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static int
syntax_error(struct parse *p, const yaml_parser_t *yp, const char *buf,
	     size_t len)
{
	const char *problem = yp->problem ? yp->problem : "invalid YAML";
	size_t l, c;
	int line, col;

	if (yp->error == YAML_MEMORY_ERROR)
		fatal("out of memory parsing %s", p->file);
	if (yp->error == YAML_READER_ERROR) {
		text_line_col(buf, len, yp->problem_offset, &l, &c);
		line = l > INT_MAX ? INT_MAX : (int)l;
		col = c > INT_MAX ? INT_MAX : (int)c;
		if (yp->problem_value != -1)
			return fail_at(p, line, col, "%s (byte 0x%02X)",
				       problem, (unsigned)yp->problem_value);
		return fail_at(p, line, col, "%s", problem);
	}
	line = (int)(yp->problem_mark.line > INT_MAX - 1
			     ? INT_MAX
			     : yp->problem_mark.line + 1);
	col = (int)(yp->problem_mark.column > INT_MAX - 1
			    ? INT_MAX
			    : yp->problem_mark.column + 1);
	if (yp->context != NULL)
		return fail_at(p, line, col, "%s (%s at line %zu)", problem,
			       yp->context, yp->context_mark.line + 1);
	return fail_at(p, line, col, "%s", problem);
}

/*
 * Parse buf into a tree.  *rootp is NULL for an empty stream.  Aliases,
 * a second document, deep nesting and NUL bytes are refused here, before
 * anything looks at the values.
 */
static int
build_tree(struct parse *p, const char *buf, size_t len, struct node **rootp)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	struct node *stack[MAX_DEPTH], *root = NULL, *n;
	int depth = 0, docs = 0, done = 0, rc = -1;
	const yaml_mark_t *m;

	if (!yaml_parser_initialize(&yp))
		fatal("out of memory initialising libyaml");
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&yp, &ev)) {
			syntax_error(p, &yp, buf, len);
			goto out;
		}
		m = &ev.start_mark;
		n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				fail_at(p, (int)m->line + 1, (int)m->column + 1,
					"more than one YAML document");
				goto out_event;
			}
			break;
		case YAML_ALIAS_EVENT:
			fail_at(p, (int)m->line + 1, (int)m->column + 1,
				"aliases are not supported");
			goto out_event;
		case YAML_SCALAR_EVENT:
			if (memchr(ev.data.scalar.value, '\0',
				   ev.data.scalar.length) != NULL) {
				fail_at(p, (int)m->line + 1, (int)m->column + 1,
					"NUL bytes are not allowed in values");
				goto out_event;
			}
			n = node_new(N_SCALAR, m);
			n->value = xmalloc(ev.data.scalar.length + 1);
			memcpy(n->value, ev.data.scalar.value,
			       ev.data.scalar.length);
			n->value[ev.data.scalar.length] = '\0';
			n->plain =
				ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == MAX_DEPTH) {
				fail_at(p, (int)m->line + 1, (int)m->column + 1,
					"nesting deeper than %d levels",
					MAX_DEPTH);
				goto out_event;
			}
			n = node_new(ev.type == YAML_MAPPING_START_EVENT
					     ? N_MAP
					     : N_SEQ,
				     m);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (n != NULL) {
			if (++p->nodes > MAX_NODES) {
				node_free(n);
				fail_at(p, (int)m->line + 1, (int)m->column + 1,
					"more than %d values", MAX_NODES);
				goto out_event;
			}
			if (depth == 0)
				root = n;
			else
				node_add(stack[depth - 1], n);
			if (n->type != N_SCALAR)
				stack[depth++] = n;
		}
		yaml_event_delete(&ev);
	}
	*rootp = root;
	root = NULL;
	rc = 0;
	goto out;
out_event:
	yaml_event_delete(&ev);
out:
	node_free(root);
	yaml_parser_delete(&yp);
	return rc;
}

/* ---- checking keys ---- */

/* The strings of the NULL-terminated v as "a, b or c"; caller frees. */
static char *
join_or(const char *const *v)
{
	struct strbuf sb;
	size_t i, n = 0;

	while (v[n] != NULL)
		n++;
	strbuf_init(&sb);
	for (i = 0; i < n; i++) {
		if (i > 0)
			strbuf_adds(&sb, i + 1 == n ? " or " : ", ");
		strbuf_adds(&sb, v[i]);
	}
	return strbuf_detach(&sb);
}

static int
unknown_key(struct parse *p, const struct node *key, const char *where,
	    const char *const *valid)
{
	char buf[MAX_SHOWN + 8], *list;
	const char *s = text_closest(key->value, valid, 2);
	const char *name = shown(key->value, buf, sizeof buf);
	int rc;

	if (where == NULL && s != NULL)
		return fail(p, key, "unknown key '%s' (did you mean '%s'?)",
			    name, s);
	if (s != NULL)
		return fail(p, key,
			    "unknown key '%s' in %s (did you mean '%s'?)", name,
			    where, s);
	list = text_join(valid);
	if (where == NULL)
		rc = fail(p, key, "unknown key '%s' (expected one of: %s)",
			  name, list);
	else
		rc = fail(p, key,
			  "unknown key '%s' in %s (expected one of: %s)", name,
			  where, list);
	free(list);
	return rc;
}

struct keyref {
	const char *key;
	size_t idx;
};

static int
keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * n must be a mapping whose keys are strings, each once.  Sorting finds
 * duplicates in n log n, so a hostile file of many keys cannot stall us;
 * the duplicate reported is the first one in the file.
 */
static int
check_map(struct parse *p, const struct node *n, const char *where)
{
	struct keyref *refs;
	size_t i, npairs, start, dup = SIZE_MAX, first = 0;
	char buf[MAX_SHOWN + 8];
	int rc = 0;

	if (n->type != N_MAP)
		return fail(p, n, "%s: expected a mapping, got %s",
			    where ? where : "configuration",
			    describe(n, buf, sizeof buf));
	npairs = n->n / 2;
	for (i = 0; i < npairs; i++) {
		if (n->kids[2 * i]->type != N_SCALAR)
			return fail(p, n->kids[2 * i],
				    "%s: expected a string as key, got %s",
				    where ? where : "configuration",
				    describe(n->kids[2 * i], buf, sizeof buf));
	}
	if (npairs < 2)
		return 0;
	refs = xcalloc(npairs, sizeof *refs);
	for (i = 0; i < npairs; i++) {
		refs[i].key = n->kids[2 * i]->value;
		refs[i].idx = i;
	}
	qsort(refs, npairs, sizeof *refs, keyref_cmp);
	/* runs of equal keys are ordered by position: start is the first */
	for (i = 1, start = 0; i < npairs; i++) {
		if (strcmp(refs[i].key, refs[start].key) != 0) {
			start = i;
			continue;
		}
		if (refs[i].idx < dup)
			dup = refs[i].idx, first = refs[start].idx;
	}
	if (dup != SIZE_MAX)
		rc = fail(p, n->kids[2 * dup],
			  "duplicate key '%s' (first at line %d)",
			  shown(n->kids[2 * dup]->value, buf, sizeof buf),
			  n->kids[2 * first]->line);
	free(refs);
	return rc;
}

/* ---- values ---- */

static int
want_scalar(struct parse *p, const struct node *n, const char *path,
	    const char *what)
{
	char buf[MAX_SHOWN + 8];

	if (n->type == N_SCALAR)
		return 0;
	return fail(p, n, "%s: expected %s, got %s", path, what,
		    describe(n, buf, sizeof buf));
}

/* A string value; null is refused. */
static int
get_string(struct parse *p, const struct node *n, const char *path, char **out)
{
	if (want_scalar(p, n, path, "a string") != 0)
		return -1;
	if (is_null(n) || n->value[0] == '\0')
		return fail(p, n, "%s: expected a non-empty string", path);
	free(*out);
	*out = xstrdup(n->value);
	return 0;
}

static int
get_count(struct parse *p, const struct node *n, const char *path,
	  long long min, long long max, int *out)
{
	char buf[MAX_SHOWN + 8];
	long long v;

	if (n->type == N_SCALAR &&
	    text_parse_int(n->value, min, max, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	if (max == INT_MAX)
		return fail(p, n, "%s: expected a whole number ≥ %lld, got %s",
			    path, min, describe(n, buf, sizeof buf));
	return fail(p, n,
		    "%s: expected a whole number between %lld and %lld, got %s",
		    path, min, max, describe(n, buf, sizeof buf));
}

/* A duration of at least min_ms. */
static int
get_duration(struct parse *p, const struct node *n, const char *path,
	     int64_t min_ms, int64_t *out)
{
	char buf[MAX_SHOWN + 8];
	int64_t ms;

	if (n->type != N_SCALAR || duration_parse(n->value, &ms) != 0)
		return fail(p, n,
			    "%s: expected a duration like 90s, 15m, 2h "
			    "or 1d, got %s",
			    path, describe(n, buf, sizeof buf));
	if (ms < min_ms)
		return fail(p, n,
			    "%s: expected a duration greater than 0, got %s",
			    path, describe(n, buf, sizeof buf));
	*out = ms;
	return 0;
}

static int
get_bool(struct parse *p, const struct node *n, const char *path, int *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", NULL};
	static const char *const no[] = {"false", "False", "FALSE", NULL};
	char buf[MAX_SHOWN + 8];
	size_t i;

	if (n->type == N_SCALAR) {
		for (i = 0; yes[i] != NULL; i++) {
			if (strcmp(n->value, yes[i]) == 0) {
				*out = 1;
				return 0;
			}
			if (strcmp(n->value, no[i]) == 0) {
				*out = 0;
				return 0;
			}
		}
	}
	return fail(p, n, "%s: expected true or false, got %s", path,
		    describe(n, buf, sizeof buf));
}

/*
 * strtod() and printf("%g") in the C locale whatever the process's
 * LC_NUMERIC, so "1.25" means the same everywhere.
 */
static locale_t
c_numeric_begin(locale_t *old)
{
	locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);

	*old = (locale_t)0;
	if (c != (locale_t)0)
		*old = uselocale(c);
	return c;
}

static void
c_numeric_end(locale_t c, locale_t old)
{
	if (c == (locale_t)0)
		return;
	uselocale(old);
	freelocale(c);
}

/* digits [. digits] [e [+-] digits], nothing else (no inf, nan, hex). */
static int
decimal_syntax(const char *s)
{
	size_t n = 0;

	while (*s >= '0' && *s <= '9')
		s++, n++;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++, n++;
	}
	if (n == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static int
parse_decimal(const char *s, double *out)
{
	locale_t c, old;
	char *end;
	double v;
	int saved;

	if (!decimal_syntax(s))
		return -1;
	c = c_numeric_begin(&old);
	errno = 0;
	v = strtod(s, &end);
	saved = errno;
	c_numeric_end(c, old);
	if (saved != 0 || *end != '\0' || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

/*
 * The shortest "%g" that reads back as v, or plain decimals ("10", not
 * "1e+01") when they read back too and are not much longer.
 */
static void
format_decimal(double v, char *buf, size_t size)
{
	locale_t c, old;
	char fixed[64];
	int prec;

	c = c_numeric_begin(&old);
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (strchr(buf, 'e') != NULL) {
		for (prec = 0; prec <= 17; prec++) {
			snprintf(fixed, sizeof fixed, "%.*f", prec, v);
			if (strtod(fixed, NULL) == v)
				break;
		}
		if (prec <= 17 && strlen(fixed) <= 12 && strlen(fixed) < size)
			memcpy(buf, fixed, strlen(fixed) + 1);
	}
	c_numeric_end(c, old);
}

static int
get_price(struct parse *p, const struct node *n, const char *path, double *out)
{
	char buf[MAX_SHOWN + 8];

	if (n->type == N_SCALAR && parse_decimal(n->value, out) == 0)
		return 0;
	return fail(p, n,
		    "%s: expected a number ≥ 0 (USD per million "
		    "tokens), got %s",
		    path, describe(n, buf, sizeof buf));
}

/*
 * A path with a leading "~/" (or just "~") expanded with $HOME.  Returns
 * the new string, or NULL with *why set (static text) if HOME is unset.
 */
static char *
expand_home(const char *s, const char **why)
{
	const char *home;

	if (s[0] != '~' || (s[1] != '\0' && s[1] != '/'))
		return xstrdup(s);
	home = getenv("HOME");
	if (home == NULL || home[0] == '\0') {
		*why = "cannot expand '~': HOME is not set";
		return NULL;
	}
	return xasprintf("%s%s", home, s + 1);
}

static int
get_path(struct parse *p, const struct node *n, const char *path, char **out)
{
	const char *why = NULL;
	char *s = NULL;

	if (want_scalar(p, n, path, "a path") != 0)
		return -1;
	if (is_null(n)) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (n->value[0] == '\0')
		return fail(p, n, "%s: expected a non-empty path", path);
	s = expand_home(n->value, &why);
	if (s == NULL)
		return fail(p, n, "%s: %s", path, why);
	free(*out);
	*out = s;
	return 0;
}

/* ---- agent profiles ---- */

static void
profile_release(struct agent_profile *ap)
{
	free(ap->name);
	strv_free(ap->command);
	free(ap->model);
	strv_free(ap->args);
	strv_free(ap->env);
	free(ap->file);
	memset(ap, 0, sizeof *ap);
}

static void
profile_builtin(struct agent_profile *ap, const char *name,
		enum agent_kind kind, const char *command, const char *model,
		const char *arg)
{
	struct strvec sv;

	memset(ap, 0, sizeof *ap);
	ap->name = xstrdup(name);
	ap->kind = kind;
	if (command != NULL) {
		strvec_init(&sv);
		strvec_push(&sv, command);
		ap->command = sv.v;
	}
	ap->model = xstrdup_or_null(model);
	strvec_init(&sv);
	if (arg != NULL)
		strvec_push(&sv, arg);
	ap->args = sv.v;
	strvec_init(&sv);
	ap->env = sv.v;
	ap->use_session_persistence = 1;
}

static int
valid_agent_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_NAME)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == n;
}

static int
valid_env_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_") == n;
}

/* A list of strings (or one string, when allow_one) into a new strv. */
static int
get_strv(struct parse *p, const struct node *n, const char *path, int allow_one,
	 char ***out)
{
	struct strvec sv;
	char buf[MAX_SHOWN + 8];
	size_t i;

	strvec_init(&sv);
	if (n->type == N_SCALAR && allow_one && !is_null(n)) {
		strvec_push(&sv, n->value);
		goto done;
	}
	if (n->type == N_SCALAR && is_null(n))
		goto done;
	if (n->type != N_SEQ) {
		strvec_release(&sv);
		return fail(p, n, "%s: expected a list of strings, got %s",
			    path, describe(n, buf, sizeof buf));
	}
	for (i = 0; i < n->n; i++) {
		if (n->kids[i]->type != N_SCALAR || is_null(n->kids[i])) {
			strvec_release(&sv);
			return fail(p, n->kids[i],
				    "%s: expected a string, got %s", path,
				    is_null(n->kids[i])
					    ? "null"
					    : describe(n->kids[i], buf,
						       sizeof buf));
		}
		strvec_push(&sv, n->kids[i]->value);
	}
done:
	strv_free(*out);
	*out = sv.v;
	return 0;
}

static int
get_env(struct parse *p, const struct node *n, const char *path, char ***out)
{
	struct strvec sv;
	char buf[MAX_SHOWN + 8];
	const struct node *k, *v;
	size_t i;

	if (is_null(n))
		return 0;
	if (check_map(p, n, path) != 0)
		return -1;
	strvec_init(&sv);
	for (i = 0; i + 1 < n->n; i += 2) {
		k = n->kids[i];
		v = n->kids[i + 1];
		if (!valid_env_name(k->value)) {
			strvec_release(&sv);
			return fail(p, k, "%s: invalid variable name '%s'",
				    path, shown(k->value, buf, sizeof buf));
		}
		if (v->type != N_SCALAR) {
			strvec_release(&sv);
			return fail(p, v, "%s.%s: expected a string, got %s",
				    path, k->value,
				    describe(v, buf, sizeof buf));
		}
		strvec_pushf(&sv, "%s=%s", k->value,
			     is_null(v) ? "" : v->value);
	}
	strv_free(*out);
	*out = sv.v;
	return 0;
}

static int
get_agent_price(struct parse *p, const struct node *n, const char *path,
		struct agent_price *pr)
{
	static const char *const keys[] = {"input", "cached_input", "output",
					   NULL};
	const struct node *k, *v;
	char *kp;
	size_t i;
	int rc = 0;

	memset(pr, 0, sizeof *pr);
	if (is_null(n))
		return 0;
	if (check_map(p, n, path) != 0)
		return -1;
	pr->set = 1;
	for (i = 0; rc == 0 && i + 1 < n->n; i += 2) {
		k = n->kids[i];
		v = n->kids[i + 1];
		kp = xasprintf("%s.%s", path, k->value);
		if (strcmp(k->value, "input") == 0)
			rc = get_price(p, v, kp, &pr->input);
		else if (strcmp(k->value, "cached_input") == 0)
			rc = get_price(p, v, kp, &pr->cached_input);
		else if (strcmp(k->value, "output") == 0)
			rc = get_price(p, v, kp, &pr->output);
		else
			rc = unknown_key(p, k, path, keys);
		free(kp);
	}
	return rc;
}

/* command: for claude and codex, one program name. */
static int
get_program(struct parse *p, const struct node *n, const char *path,
	    char ***out)
{
	char buf[MAX_SHOWN + 8];
	const struct node *v = n;

	if (n->type == N_SEQ && n->n == 1)
		v = n->kids[0];
	if (v->type != N_SCALAR || is_null(v) || v->value[0] == '\0')
		return fail(p, n,
			    "%s: expected a program name or a "
			    "one-element list, got %s",
			    path,
			    is_null(v) ? "null" : describe(n, buf, sizeof buf));
	return get_strv(p, v, path, 1, out);
}

static int
parse_agent(struct parse *p, const struct node *name, const struct node *n,
	    struct agent_profile *ap)
{
	static const char *const keys[] = {
		"kind",	 "command", "model",	  "args",
		"env",	 "timeout", "kill_grace", "use_session_persistence",
		"price", NULL};
	char buf[MAX_SHOWN + 8], *path = NULL, *kp = NULL, *list = NULL;
	const char *kinds[AGENT_KIND_COUNT + 1];
	const struct node *k, *v, *kind = NULL, *command = NULL;
	const char *s;
	size_t i, j;
	int rc = -1;

	memset(ap, 0, sizeof *ap);
	ap->args = xcalloc(1, sizeof *ap->args);
	ap->env = xcalloc(1, sizeof *ap->env);
	ap->use_session_persistence = 1;
	ap->name = xstrdup(name->value);
	ap->file = xstrdup(p->file);
	ap->line = name->line;
	ap->col = name->col;
	if (!valid_agent_name(name->value)) {
		fail(p, name,
		     "agents: invalid profile name '%s' (up to %d "
		     "letters, digits, '.', '_' or '-')",
		     shown(name->value, buf, sizeof buf), MAX_NAME);
		goto out;
	}
	path = xasprintf("agents.%s", name->value);
	if (is_null(n)) {
		fail(p, n, "%s: expected a mapping with at least 'kind'", path);
		goto out;
	}
	if (check_map(p, n, path) != 0)
		goto out;
	for (i = 0; i + 1 < n->n; i += 2) {
		k = n->kids[i];
		for (j = 0; keys[j] != NULL; j++) {
			if (strcmp(k->value, keys[j]) == 0)
				break;
		}
		if (keys[j] == NULL) {
			unknown_key(p, k, path, keys);
			goto out;
		}
		if (strcmp(k->value, "kind") == 0)
			kind = n->kids[i + 1];
		else if (strcmp(k->value, "command") == 0)
			command = n->kids[i + 1];
	}
	for (j = 0; j < AGENT_KIND_COUNT; j++)
		kinds[j] = agent_kind_name((enum agent_kind)j);
	kinds[j] = NULL;
	if (kind == NULL) {
		list = text_join(kinds);
		fail(p, n, "%s: missing 'kind' (one of %s)", path, list);
		goto out;
	}
	kp = xasprintf("%s.kind", path);
	if (want_scalar(p, kind, kp, "a kind") != 0)
		goto out;
	if (agent_kind_parse(kind->value, &ap->kind) != 0) {
		s = text_closest(kind->value, kinds, 2);
		list = join_or(kinds);
		if (s != NULL)
			fail(p, kind,
			     "%s: unknown kind '%s' (did you mean '%s'?)", kp,
			     shown(kind->value, buf, sizeof buf), s);
		else
			fail(p, kind, "%s: unknown kind '%s' (expected %s)", kp,
			     shown(kind->value, buf, sizeof buf), list);
		goto out;
	}

	for (i = 0; i + 1 < n->n; i += 2) {
		k = n->kids[i];
		v = n->kids[i + 1];
		free(kp);
		kp = xasprintf("%s.%s", path, k->value);
		if (strcmp(k->value, "kind") == 0)
			rc = 0;
		else if (strcmp(k->value, "command") == 0) {
			if (ap->kind == AGENT_KIND_SHELL)
				rc = fail(p, k,
					  "%s: a shell profile runs the "
					  "prompt with /bin/sh and takes no "
					  "command",
					  kp);
			else if (ap->kind == AGENT_KIND_COMMAND) {
				rc = get_strv(p, v, kp, 1, &ap->command);
				if (rc == 0 && ap->command[0] == NULL)
					rc = fail(p, v,
						  "%s: expected a "
						  "non-empty list",
						  kp);
				else if (rc == 0 && ap->command[0][0] == '\0')
					rc = fail(p, v,
						  "%s: the program name "
						  "is empty",
						  kp);
			} else
				rc = get_program(p, v, kp, &ap->command);
		} else if (strcmp(k->value, "model") == 0) {
			if (is_null(v)) {
				rc = 0;
			} else
				rc = get_string(p, v, kp, &ap->model);
		} else if (strcmp(k->value, "args") == 0)
			rc = get_strv(p, v, kp, 0, &ap->args);
		else if (strcmp(k->value, "env") == 0)
			rc = get_env(p, v, kp, &ap->env);
		else if (strcmp(k->value, "timeout") == 0)
			rc = get_duration(p, v, kp, 1, &ap->timeout_ms);
		else if (strcmp(k->value, "kill_grace") == 0)
			rc = get_duration(p, v, kp, 1, &ap->kill_grace_ms);
		else if (strcmp(k->value, "use_session_persistence") == 0)
			rc = get_bool(p, v, kp, &ap->use_session_persistence);
		else
			rc = get_agent_price(p, v, kp, &ap->price);
		if (rc != 0)
			goto out;
	}
	rc = -1;
	if (command == NULL && ap->kind == AGENT_KIND_COMMAND) {
		fail(p, n,
		     "%s: a command profile needs 'command' (the "
		     "program and its arguments as a list)",
		     path);
		goto out;
	}
	if (command == NULL && ap->kind != AGENT_KIND_SHELL) {
		/* claude and codex: the binary is named like the kind */
		ap->command = xcalloc(2, sizeof *ap->command);
		ap->command[0] = xstrdup(agent_kind_name(ap->kind));
	}
	rc = 0;
out:
	if (rc != 0)
		profile_release(ap);
	free(list);
	free(kp);
	free(path);
	return rc;
}

static int
profile_cmp(const void *a, const void *b)
{
	const struct agent_profile *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Add ap to cfg (which takes it over), replacing a profile of that name. */
static void
add_profile(struct config *cfg, struct agent_profile *ap)
{
	size_t i;

	for (i = 0; i < cfg->nagents; i++) {
		if (strcmp(cfg->agents[i].name, ap->name) == 0) {
			profile_release(&cfg->agents[i]);
			cfg->agents[i] = *ap;
			memset(ap, 0, sizeof *ap);
			return;
		}
	}
	cfg->agents = xreallocarray(cfg->agents, cfg->nagents + 1,
				    sizeof *cfg->agents);
	cfg->agents[cfg->nagents++] = *ap;
	memset(ap, 0, sizeof *ap);
	qsort(cfg->agents, cfg->nagents, sizeof *cfg->agents, profile_cmp);
}

static int
apply_agents(struct parse *p, const struct node *n, struct config *cfg)
{
	struct agent_profile ap;
	size_t i;

	if (is_null(n))
		return 0;
	if (check_map(p, n, "agents") != 0)
		return -1;
	for (i = 0; i + 1 < n->n; i += 2) {
		if (parse_agent(p, n->kids[i], n->kids[i + 1], &ap) != 0)
			return -1;
		add_profile(cfg, &ap);
	}
	return 0;
}

/* ---- the sections ---- */

/*
 * Look key up in valid; if it is not there, report it.  Returns the index
 * or -1.
 */
static int
lookup(struct parse *p, const struct node *key, const char *where,
       const char *const *valid)
{
	int i;

	for (i = 0; valid[i] != NULL; i++) {
		if (strcmp(key->value, valid[i]) == 0)
			return i;
	}
	unknown_key(p, key, where, valid);
	return -1;
}

static int
apply_db(struct parse *p, const struct node *n, struct config *cfg)
{
	static const char *const keys[] = {"path", "synchronous",
					   "busy_timeout", NULL};
	char buf[MAX_SHOWN + 8];
	const struct node *v;
	size_t i;
	int rc = 0;

	if (n->type == N_SCALAR)
		return get_path(p, n, "db", &cfg->db.path);
	if (check_map(p, n, "db") != 0)
		return -1;
	for (i = 0; rc == 0 && i + 1 < n->n; i += 2) {
		v = n->kids[i + 1];
		switch (lookup(p, n->kids[i], "db", keys)) {
		case 0:
			rc = get_path(p, v, "db.path", &cfg->db.path);
			break;
		case 1:
			if (v->type == N_SCALAR &&
			    strcmp(v->value, "normal") == 0)
				cfg->db.synchronous_full = 0;
			else if (v->type == N_SCALAR &&
				 strcmp(v->value, "full") == 0)
				cfg->db.synchronous_full = 1;
			else
				rc = fail(p, v,
					  "db.synchronous: expected "
					  "normal or full, got %s",
					  describe(v, buf, sizeof buf));
			break;
		case 2:
			rc = get_duration(p, v, "db.busy_timeout", 0,
					  &cfg->db.busy_timeout_ms);
			break;
		default:
			rc = -1;
		}
	}
	return rc;
}

static int
apply_defaults(struct parse *p, const struct node *n, struct config *cfg)
{
	static const char *const keys[] = {"agent",	     "timeout",
					   "max_attempts",   "kill_grace",
					   "max_iterations", NULL};
	const struct node *v;
	size_t i;
	int rc = 0;

	if (is_null(n))
		return 0;
	if (check_map(p, n, "defaults") != 0)
		return -1;
	for (i = 0; rc == 0 && i + 1 < n->n; i += 2) {
		v = n->kids[i + 1];
		switch (lookup(p, n->kids[i], "defaults", keys)) {
		case 0:
			rc = get_string(p, v, "defaults.agent",
					&cfg->defaults.agent);
			p->agent = v;
			break;
		case 1:
			rc = get_duration(p, v, "defaults.timeout", 1,
					  &cfg->defaults.timeout_ms);
			break;
		case 2:
			rc = get_count(p, v, "defaults.max_attempts", 1,
				       INT_MAX, &cfg->defaults.max_attempts);
			break;
		case 3:
			rc = get_duration(p, v, "defaults.kill_grace", 0,
					  &cfg->defaults.kill_grace_ms);
			break;
		case 4:
			rc = get_count(p, v, "defaults.max_iterations", 1,
				       INT_MAX, &cfg->defaults.max_iterations);
			break;
		default:
			rc = -1;
		}
	}
	return rc;
}

static int
apply_retry(struct parse *p, const struct node *n, struct config *cfg)
{
	static const char *const keys[] = {"attempts", "base", "max", NULL};
	const struct node *v;
	size_t i;
	int rc = 0;

	if (is_null(n))
		return 0;
	if (check_map(p, n, "retry") != 0)
		return -1;
	for (i = 0; rc == 0 && i + 1 < n->n; i += 2) {
		v = n->kids[i + 1];
		switch (lookup(p, n->kids[i], "retry", keys)) {
		case 0:
			rc = get_count(p, v, "retry.attempts", 1, INT_MAX,
				       &cfg->retry.attempts);
			break;
		case 1:
			rc = get_duration(p, v, "retry.base", 1,
					  &cfg->retry.base_ms);
			p->retry_base = v;
			break;
		case 2:
			rc = get_duration(p, v, "retry.max", 1,
					  &cfg->retry.max_ms);
			p->retry_max = v;
			break;
		default:
			rc = -1;
		}
	}
	return rc;
}

static int
apply_sessions(struct parse *p, const struct node *n, struct config *cfg)
{
	static const char *const keys[] = {
		"ttl", "max_active", "resume_failure_limit", "retention", NULL};
	const struct node *v;
	size_t i;
	int rc = 0;

	if (is_null(n))
		return 0;
	if (check_map(p, n, "sessions") != 0)
		return -1;
	for (i = 0; rc == 0 && i + 1 < n->n; i += 2) {
		v = n->kids[i + 1];
		switch (lookup(p, n->kids[i], "sessions", keys)) {
		case 0:
			rc = get_duration(p, v, "sessions.ttl", 1,
					  &cfg->sessions.ttl_ms);
			break;
		case 1:
			rc = get_count(p, v, "sessions.max_active", 1, INT_MAX,
				       &cfg->sessions.max_active);
			break;
		case 2:
			rc = get_count(p, v, "sessions.resume_failure_limit", 1,
				       INT_MAX,
				       &cfg->sessions.resume_failure_limit);
			break;
		case 3:
			rc = get_duration(p, v, "sessions.retention", 0,
					  &cfg->sessions.retention_ms);
			break;
		default:
			rc = -1;
		}
	}
	return rc;
}

static int
apply_runner(struct parse *p, const struct node *n, struct config *cfg)
{
	static const char *const keys[] = {"heartbeat", "stale_after",
					   "requeue_interrupted", NULL};
	const struct node *v;
	size_t i;
	int rc = 0;

	if (is_null(n))
		return 0;
	if (check_map(p, n, "runner") != 0)
		return -1;
	for (i = 0; rc == 0 && i + 1 < n->n; i += 2) {
		v = n->kids[i + 1];
		switch (lookup(p, n->kids[i], "runner", keys)) {
		case 0:
			rc = get_duration(p, v, "runner.heartbeat", 1,
					  &cfg->runner.heartbeat_ms);
			p->heartbeat = v;
			break;
		case 1:
			rc = get_duration(p, v, "runner.stale_after", 1,
					  &cfg->runner.stale_after_ms);
			p->stale_after = v;
			break;
		case 2:
			rc = get_bool(p, v, "runner.requeue_interrupted",
				      &cfg->runner.requeue_interrupted);
			break;
		default:
			rc = -1;
		}
	}
	return rc;
}

/* The checks that involve more than one key, once the file is applied. */
static int
check_whole(struct parse *p, struct config *cfg)
{
	char *a = NULL, *b = NULL;
	int rc = 0;

	if (p->agent != NULL &&
	    config_agent(cfg, cfg->defaults.agent) == NULL) {
		char buf[MAX_SHOWN + 8], *names;
		struct strvec sv;
		size_t i;

		strvec_init(&sv);
		for (i = 0; i < cfg->nagents; i++)
			strvec_push(&sv, cfg->agents[i].name);
		names = text_join((const char *const *)sv.v);
		rc = fail(p, p->agent,
			  "defaults.agent: no agent profile "
			  "named '%s' (profiles: %s)",
			  shown(cfg->defaults.agent, buf, sizeof buf), names);
		free(names);
		strvec_release(&sv);
		return rc;
	}
	if ((p->retry_base != NULL || p->retry_max != NULL) &&
	    cfg->retry.max_ms < cfg->retry.base_ms) {
		a = duration_format(cfg->retry.max_ms);
		b = duration_format(cfg->retry.base_ms);
		rc = fail(p, p->retry_max ? p->retry_max : p->retry_base,
			  "retry.max (%s) is less than retry.base (%s)", a, b);
		goto out;
	}
	if ((p->heartbeat != NULL || p->stale_after != NULL) &&
	    cfg->runner.stale_after_ms <= cfg->runner.heartbeat_ms) {
		a = duration_format(cfg->runner.stale_after_ms);
		b = duration_format(cfg->runner.heartbeat_ms);
		rc = fail(p, p->stale_after ? p->stale_after : p->heartbeat,
			  "runner.stale_after (%s) must be longer than "
			  "runner.heartbeat (%s)",
			  a, b);
		goto out;
	}
out:
	free(a);
	free(b);
	return rc;
}

static int
apply_root(struct parse *p, const struct node *root, struct config *cfg)
{
	static const char *const keys[] = {
		"db",	  "workers",	    "defaults", "retry", "sessions",
		"runner", "iterate_prompt", "agents",	NULL};
	const struct node *v;
	size_t i;
	int rc = 0;

	if (root == NULL || is_null(root))
		return 0;
	if (check_map(p, root, NULL) != 0)
		return -1;
	for (i = 0; rc == 0 && i + 1 < root->n; i += 2) {
		v = root->kids[i + 1];
		switch (lookup(p, root->kids[i], NULL, keys)) {
		case 0:
			rc = is_null(v) ? 0 : apply_db(p, v, cfg);
			break;
		case 1:
			rc = get_count(p, v, "workers", 1, INT_MAX,
				       &cfg->workers);
			break;
		case 2:
			rc = apply_defaults(p, v, cfg);
			break;
		case 3:
			rc = apply_retry(p, v, cfg);
			break;
		case 4:
			rc = apply_sessions(p, v, cfg);
			break;
		case 5:
			rc = apply_runner(p, v, cfg);
			break;
		case 6:
			rc = get_string(p, v, "iterate_prompt",
					&cfg->iterate_prompt);
			break;
		case 7:
			rc = apply_agents(p, v, cfg);
			break;
		default:
			rc = -1;
		}
	}
	if (rc == 0)
		rc = check_whole(p, cfg);
	return rc;
}

/* ---- public ---- */

/* Fills cfg with the built-in defaults (config.yaml says the same). */
void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->db.path = NULL;
	cfg->db.synchronous_full = 0;
	cfg->db.busy_timeout_ms = 10 * 1000;
	cfg->workers = 2;
	cfg->defaults.agent = xstrdup("shell");
	cfg->defaults.timeout_ms = 30 * 60 * 1000;
	cfg->defaults.max_attempts = 2;
	cfg->defaults.kill_grace_ms = 5 * 1000;
	cfg->defaults.max_iterations = 3;
	cfg->retry.attempts = 3;
	cfg->retry.base_ms = 2 * 1000;
	cfg->retry.max_ms = 60 * 1000;
	cfg->sessions.ttl_ms = (int64_t)24 * 60 * 60 * 1000;
	cfg->sessions.max_active = 1000;
	cfg->sessions.resume_failure_limit = 3;
	cfg->sessions.retention_ms = (int64_t)30 * 24 * 60 * 60 * 1000;
	cfg->runner.heartbeat_ms = 5 * 1000;
	cfg->runner.stale_after_ms = 60 * 1000;
	cfg->runner.requeue_interrupted = 0;
	cfg->iterate_prompt = xstrdup("The check `{check}` failed with exit "
				      "code {exit_code}:\n{output}\nFix it.");

	/* sorted by name */
	cfg->nagents = 3;
	cfg->agents = xcalloc(cfg->nagents, sizeof *cfg->agents);
	profile_builtin(&cfg->agents[0], "claude", AGENT_KIND_CLAUDE, "claude",
			"sonnet", "--permission-mode=acceptEdits");
	profile_builtin(&cfg->agents[1], "codex", AGENT_KIND_CODEX, "codex",
			NULL, NULL);
	cfg->agents[1].price.set = 1;
	cfg->agents[1].price.input = 1.25;
	cfg->agents[1].price.cached_input = 0.125;
	cfg->agents[1].price.output = 10;
	profile_builtin(&cfg->agents[2], "shell", AGENT_KIND_SHELL, NULL, NULL,
			NULL);
}

/* Frees everything cfg owns and zeroes it; NULL-safe. */
void
config_release(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->db.path);
	free(cfg->defaults.agent);
	free(cfg->iterate_prompt);
	for (i = 0; i < cfg->nagents; i++)
		profile_release(&cfg->agents[i]);
	free(cfg->agents);
	memset(cfg, 0, sizeof *cfg);
}

/* The profile called name (borrowed from cfg), or NULL. */
const struct agent_profile *
config_agent(const struct config *cfg, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < cfg->nagents; i++) {
		if (strcmp(cfg->agents[i].name, name) == 0)
			return &cfg->agents[i];
	}
	return NULL;
}

/*
 * Defaults, then buf (named name in messages) on top.  Returns 0, or -1
 * with *cause set and cfg released.
 */
int
config_load_string(struct config *cfg, const char *name, const char *buf,
		   size_t len, char **cause)
{
	struct parse p = {0};
	struct node *root = NULL;
	int rc = -1;

	config_defaults(cfg);
	p.file = name;
	if (len > MAX_FILE_SIZE) {
		p.cause = xasprintf("cannot read config %s: larger than 1 MiB",
				    name);
		goto out;
	}
	if (build_tree(&p, buf, len, &root) != 0)
		goto out;
	if (apply_root(&p, root, cfg) != 0)
		goto out;
	cfg->path = xstrdup(name);
	rc = 0;
out:
	node_free(root);
	if (rc != 0) {
		config_release(cfg);
		if (p.cause == NULL)
			p.cause = xasprintf("%s: invalid configuration", name);
		*cause = p.cause;
	}
	return rc;
}

/*
 * Read a whole config file of at most MAX_FILE_SIZE bytes.  Opened
 * non-blocking so that a FIFO without a writer cannot hang us.  Returns
 * the buffer, or NULL with *err set to an errno value (EFBIG: too big).
 */
static char *
read_config(const char *path, size_t *lenp, int *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, flags;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		*err = errno;
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		*err = errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		*err = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && st.st_size > MAX_FILE_SIZE) {
		*err = EFBIG;
		goto fail;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags != -1)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*err = errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MAX_FILE_SIZE) {
			*err = EFBIG;
			goto fail;
		}
	}
	close(fd);
	if (buf == NULL)
		buf = xmalloc(1);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/*
 * Load path on top of the defaults.  Returns 0, 1 if the file does not
 * exist and may be skipped (must_exist false; cfg then holds the
 * defaults), or -1 with *cause set and cfg released.
 */
static int
load_path(struct config *cfg, const char *path, int must_exist, char **cause)
{
	char *buf;
	size_t len = 0;
	int err = 0, rc;

	buf = read_config(path, &len, &err);
	if (buf == NULL) {
		if (!must_exist && (err == ENOENT || err == ENOTDIR)) {
			config_defaults(cfg);
			return 1;
		}
		memset(cfg, 0, sizeof *cfg);
		if (err == EFBIG)
			*cause = xasprintf("cannot read config %s: larger than "
					   "1 MiB",
					   path);
		else
			*cause = xasprintf("cannot read config %s: %s", path,
					   strerror(err));
		return -1;
	}
	rc = config_load_string(cfg, path, buf, len, cause);
	free(buf);
	return rc;
}

/* See config.h: defaults plus one file, no resolution, no environment. */
int
config_load_file(struct config *cfg, const char *path, char **cause)
{
	return load_path(cfg, path, 1, cause);
}

static int
apply_env(struct config *cfg, char **cause)
{
	const char *v, *why = NULL;
	char buf[MAX_SHOWN + 8], *s;
	long long n;
	int64_t ms;

	v = getenv("BATON_DB");
	if (v != NULL) {
		if (v[0] == '\0') {
			*cause = xstrdup("BATON_DB: expected a non-empty path");
			return -1;
		}
		s = expand_home(v, &why);
		if (s == NULL) {
			*cause = xasprintf("BATON_DB: %s", why);
			return -1;
		}
		free(cfg->db.path);
		cfg->db.path = s;
	}
	v = getenv("BATON_SESSION_TTL");
	if (v != NULL) {
		if (duration_parse(v, &ms) != 0 || ms <= 0) {
			*cause = xasprintf("BATON_SESSION_TTL: expected a "
					   "duration like 90s, 15m, 2h or 1d, "
					   "got '%s'",
					   shown(v, buf, sizeof buf));
			return -1;
		}
		cfg->sessions.ttl_ms = ms;
	}
	v = getenv("BATON_WORKERS");
	if (v != NULL) {
		if (text_parse_int(v, 1, INT_MAX, &n) != 0) {
			*cause = xasprintf("BATON_WORKERS: expected a whole "
					   "number ≥ 1, got '%s'",
					   shown(v, buf, sizeof buf));
			return -1;
		}
		cfg->workers = (int)n;
	}
	return 0;
}

/* See config.h for the order in which files are looked for. */
int
config_load(struct config *cfg, const char *explicit_path, char **cause)
{
	const char *env = getenv("BATON_CONFIG"), *xdg, *home;
	char *path = NULL;
	int rc;

	if (explicit_path != NULL)
		rc = load_path(cfg, explicit_path, 1, cause);
	else if (env != NULL && env[0] != '\0')
		rc = load_path(cfg, env, 1, cause);
	else {
		rc = load_path(cfg, "baton.yaml", 0, cause);
		if (rc == 1) {
			config_release(cfg);
			xdg = getenv("XDG_CONFIG_HOME");
			home = getenv("HOME");
			if (xdg != NULL && xdg[0] == '/')
				path = xasprintf("%s/baton/config.yaml", xdg);
			else if (home != NULL && home[0] != '\0')
				path = xasprintf("%s/.config/baton/config.yaml",
						 home);
			if (path != NULL)
				rc = load_path(cfg, path, 0, cause);
			else
				config_defaults(cfg);
			free(path);
		}
	}
	if (rc < 0)
		return -1;
	if (apply_env(cfg, cause) != 0) {
		config_release(cfg);
		return -1;
	}
	return 0;
}

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
strv_eq(char *const *a, char *const *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return strv_len(a) == strv_len(b);
	for (i = 0; a[i] != NULL && b[i] != NULL; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	}
	return a[i] == NULL && b[i] == NULL;
}

static int
profile_eq(const struct agent_profile *a, const struct agent_profile *b)
{
	if (!streq(a->name, b->name) || a->kind != b->kind ||
	    !streq(a->model, b->model) || !strv_eq(a->command, b->command) ||
	    !strv_eq(a->args, b->args) || !strv_eq(a->env, b->env))
		return 0;
	if (a->timeout_ms != b->timeout_ms ||
	    a->kill_grace_ms != b->kill_grace_ms ||
	    a->use_session_persistence != b->use_session_persistence ||
	    a->price.set != b->price.set)
		return 0;
	if (a->price.set && (a->price.input != b->price.input ||
			     a->price.cached_input != b->price.cached_input ||
			     a->price.output != b->price.output))
		return 0;
	return 1;
}

/* Non-zero if a and b hold the same settings (path and marks aside). */
int
config_equal(const struct config *a, const struct config *b)
{
	size_t i;

	if (!streq(a->db.path, b->db.path) ||
	    a->db.synchronous_full != b->db.synchronous_full ||
	    a->db.busy_timeout_ms != b->db.busy_timeout_ms ||
	    a->workers != b->workers)
		return 0;
	if (!streq(a->defaults.agent, b->defaults.agent) ||
	    a->defaults.timeout_ms != b->defaults.timeout_ms ||
	    a->defaults.max_attempts != b->defaults.max_attempts ||
	    a->defaults.kill_grace_ms != b->defaults.kill_grace_ms ||
	    a->defaults.max_iterations != b->defaults.max_iterations)
		return 0;
	if (a->retry.attempts != b->retry.attempts ||
	    a->retry.base_ms != b->retry.base_ms ||
	    a->retry.max_ms != b->retry.max_ms)
		return 0;
	if (a->sessions.ttl_ms != b->sessions.ttl_ms ||
	    a->sessions.max_active != b->sessions.max_active ||
	    a->sessions.resume_failure_limit !=
		    b->sessions.resume_failure_limit ||
	    a->sessions.retention_ms != b->sessions.retention_ms)
		return 0;
	if (a->runner.heartbeat_ms != b->runner.heartbeat_ms ||
	    a->runner.stale_after_ms != b->runner.stale_after_ms ||
	    a->runner.requeue_interrupted != b->runner.requeue_interrupted)
		return 0;
	if (!streq(a->iterate_prompt, b->iterate_prompt) ||
	    a->nagents != b->nagents)
		return 0;
	for (i = 0; i < a->nagents; i++) {
		if (!profile_eq(&a->agents[i], &b->agents[i]))
			return 0;
	}
	return 1;
}

/* ---- config show ---- */

struct emitter {
	yaml_emitter_t e;
	int failed;
};

static void
emit(struct emitter *em, yaml_event_t *ev)
{
	/* libyaml owns the event from here, emitted or not */
	if (em->failed) {
		yaml_event_delete(ev);
		return;
	}
	if (!yaml_emitter_emit(&em->e, ev))
		em->failed = 1;
}

/*
 * Strings that a YAML reader would take for null, a boolean or a number
 * are quoted, so that other tools read them back as strings too.
 */
static int
needs_quotes(const char *s)
{
	static const char *const words[] = {
		"",	"~",	 "null",  "Null",  "NULL", "true", "True",
		"TRUE", "false", "False", "FALSE", "yes",  "Yes",  "YES",
		"no",	"No",	 "NO",	  "on",	   "On",   "ON",   "off",
		"Off",	"OFF",	 "y",	  "Y",	   "n",	   "N",	   NULL};
	size_t i;

	for (i = 0; words[i] != NULL; i++) {
		if (strcmp(s, words[i]) == 0)
			return 1;
	}
	return strspn(s, "0123456789+-.eE_:xXoOabcdefABCDEF") == strlen(s) &&
	       strpbrk(s, "0123456789") != NULL;
}

static void
emit_scalar_style(struct emitter *em, const char *s, yaml_scalar_style_t st)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
					  (yaml_char_t *)(uintptr_t)s,
					  (int)strlen(s), 1, 1, st))
		fatal("out of memory emitting YAML");
	emit(em, &ev);
}

static void
emit_plain(struct emitter *em, const char *s)
{
	emit_scalar_style(em, s, YAML_PLAIN_SCALAR_STYLE);
}

static void
emit_string(struct emitter *em, const char *s)
{
	emit_scalar_style(em, s,
			  needs_quotes(s) || strpbrk(s, "\n\t\r") != NULL
				  ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
				  : YAML_ANY_SCALAR_STYLE);
}

static void
emit_map_start(struct emitter *em, int flow)
{
	yaml_event_t ev;

	if (!yaml_mapping_start_event_initialize(
		    &ev, NULL, NULL, 1,
		    flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE))
		fatal("out of memory emitting YAML");
	emit(em, &ev);
}

static void
emit_map_end(struct emitter *em)
{
	yaml_event_t ev;

	yaml_mapping_end_event_initialize(&ev);
	emit(em, &ev);
}

static int
looks_secret(const char *key)
{
	size_t i, j, n = strlen(key), w;

	for (i = 0; secret_words[i] != NULL; i++) {
		w = strlen(secret_words[i]);
		for (j = 0; j + w <= n; j++) {
			if (strncasecmp(key + j, secret_words[i], w) == 0)
				return 1;
		}
	}
	return 0;
}

static void
emit_kv_string(struct emitter *em, const char *key, const char *val)
{
	emit_plain(em, key);
	if (looks_secret(key))
		emit_scalar_style(em, "***", YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	else
		emit_string(em, val);
}

static void
emit_kv_int(struct emitter *em, const char *key, long long v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lld", v);
	emit_plain(em, key);
	emit_plain(em, buf);
}

static void
emit_kv_duration(struct emitter *em, const char *key, int64_t ms)
{
	char *s = duration_format(ms);

	emit_plain(em, key);
	emit_plain(em, s);
	free(s);
}

static void
emit_kv_double(struct emitter *em, const char *key, double v)
{
	char buf[64];

	format_decimal(v, buf, sizeof buf);
	emit_plain(em, key);
	emit_plain(em, buf);
}

/* "--api-key=sk-..." is shown as "--api-key=***". */
static void
emit_arg(struct emitter *em, const char *arg)
{
	size_t n = strcspn(arg, "=");
	char *name, *masked;

	if (arg[n] != '=') {
		emit_string(em, arg);
		return;
	}
	name = xstrndup(arg, n);
	if (looks_secret(name)) {
		masked = xasprintf("%s=***", name);
		emit_string(em, masked);
		free(masked);
	} else
		emit_string(em, arg);
	free(name);
}

static void
emit_strv(struct emitter *em, const char *key, char *const *v)
{
	yaml_event_t ev;

	emit_plain(em, key);
	if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						  YAML_FLOW_SEQUENCE_STYLE))
		fatal("out of memory emitting YAML");
	emit(em, &ev);
	for (; *v != NULL; v++)
		emit_arg(em, *v);
	yaml_sequence_end_event_initialize(&ev);
	emit(em, &ev);
}

static void
emit_profile(struct emitter *em, const struct agent_profile *ap)
{
	char **e, *name;
	size_t n;

	emit_string(em, ap->name);
	emit_map_start(em, 0);
	emit_kv_string(em, "kind", agent_kind_name(ap->kind));
	if (ap->command != NULL && ap->command[0] != NULL) {
		if (ap->kind == AGENT_KIND_COMMAND)
			emit_strv(em, "command", ap->command);
		else
			emit_kv_string(em, "command", ap->command[0]);
	}
	if (ap->model != NULL)
		emit_kv_string(em, "model", ap->model);
	if (ap->args != NULL && ap->args[0] != NULL)
		emit_strv(em, "args", ap->args);
	if (ap->env != NULL && ap->env[0] != NULL) {
		emit_plain(em, "env");
		emit_map_start(em, 0);
		for (e = ap->env; *e != NULL; e++) {
			n = strcspn(*e, "=");
			name = xstrndup(*e, n);
			/* every env value is masked: they carry API keys */
			emit_string(em, name);
			emit_scalar_style(em, "***",
					  YAML_DOUBLE_QUOTED_SCALAR_STYLE);
			free(name);
		}
		emit_map_end(em);
	}
	if (ap->timeout_ms != 0)
		emit_kv_duration(em, "timeout", ap->timeout_ms);
	if (ap->kill_grace_ms != 0)
		emit_kv_duration(em, "kill_grace", ap->kill_grace_ms);
	emit_plain(em, "use_session_persistence");
	emit_plain(em, ap->use_session_persistence ? "true" : "false");
	if (ap->price.set) {
		emit_plain(em, "price");
		emit_map_start(em, 1);
		emit_kv_double(em, "input", ap->price.input);
		emit_kv_double(em, "cached_input", ap->price.cached_input);
		emit_kv_double(em, "output", ap->price.output);
		emit_map_end(em);
	}
	emit_map_end(em);
}

static int
write_handler(void *data, unsigned char *buf, size_t size)
{
	FILE *fp = data;

	return fwrite(buf, 1, size, fp) == size;
}

/*
 * Prints cfg as YAML that loads back to the same settings, except that
 * every env: value, every value under a secret-looking key and the value
 * of a secret-looking "--name=value" argument is "***".
 * Returns 0, or -1 on a write error.
 */
int
config_show(const struct config *cfg, FILE *fp)
{
	struct emitter em = {0};
	yaml_event_t ev;
	size_t i;

	if (!yaml_emitter_initialize(&em.e))
		fatal("out of memory initialising libyaml");
	yaml_emitter_set_output(&em.e, write_handler, fp);
	yaml_emitter_set_unicode(&em.e, 1);
	yaml_emitter_set_width(&em.e, -1);
	yaml_emitter_set_indent(&em.e, 2);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	emit(&em, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	emit(&em, &ev);
	emit_map_start(&em, 0);

	emit_plain(&em, "db");
	emit_map_start(&em, 0);
	emit_plain(&em, "path");
	if (cfg->db.path == NULL)
		emit_plain(&em, "~");
	else
		emit_string(&em, cfg->db.path);
	emit_plain(&em, "synchronous");
	emit_plain(&em, cfg->db.synchronous_full ? "full" : "normal");
	emit_kv_duration(&em, "busy_timeout", cfg->db.busy_timeout_ms);
	emit_map_end(&em);

	emit_kv_int(&em, "workers", cfg->workers);

	emit_plain(&em, "defaults");
	emit_map_start(&em, 0);
	emit_kv_string(&em, "agent", cfg->defaults.agent);
	emit_kv_duration(&em, "timeout", cfg->defaults.timeout_ms);
	emit_kv_int(&em, "max_attempts", cfg->defaults.max_attempts);
	emit_kv_duration(&em, "kill_grace", cfg->defaults.kill_grace_ms);
	emit_kv_int(&em, "max_iterations", cfg->defaults.max_iterations);
	emit_map_end(&em);

	emit_plain(&em, "retry");
	emit_map_start(&em, 0);
	emit_kv_int(&em, "attempts", cfg->retry.attempts);
	emit_kv_duration(&em, "base", cfg->retry.base_ms);
	emit_kv_duration(&em, "max", cfg->retry.max_ms);
	emit_map_end(&em);

	emit_plain(&em, "sessions");
	emit_map_start(&em, 0);
	emit_kv_duration(&em, "ttl", cfg->sessions.ttl_ms);
	emit_kv_int(&em, "max_active", cfg->sessions.max_active);
	emit_kv_int(&em, "resume_failure_limit",
		    cfg->sessions.resume_failure_limit);
	emit_kv_duration(&em, "retention", cfg->sessions.retention_ms);
	emit_map_end(&em);

	emit_plain(&em, "runner");
	emit_map_start(&em, 0);
	emit_kv_duration(&em, "heartbeat", cfg->runner.heartbeat_ms);
	emit_kv_duration(&em, "stale_after", cfg->runner.stale_after_ms);
	emit_plain(&em, "requeue_interrupted");
	emit_plain(&em, cfg->runner.requeue_interrupted ? "true" : "false");
	emit_map_end(&em);

	emit_kv_string(&em, "iterate_prompt", cfg->iterate_prompt);

	emit_plain(&em, "agents");
	emit_map_start(&em, 0);
	for (i = 0; i < cfg->nagents; i++)
		emit_profile(&em, &cfg->agents[i]);
	emit_map_end(&em);

	emit_map_end(&em);
	yaml_document_end_event_initialize(&ev, 1);
	emit(&em, &ev);
	yaml_stream_end_event_initialize(&ev);
	emit(&em, &ev);
	if (!em.failed && !yaml_emitter_flush(&em.e))
		em.failed = 1;
	yaml_emitter_delete(&em.e);
	if (em.failed || fflush(fp) != 0 || ferror(fp))
		return -1;
	return 0;
}
