/*
 * Secrets out of text: known values and well-known token shapes become
 * "[REDACTED]" (see redact.h).  A hand-written scan rather than regular
 * expressions: one pass over the text, at each byte a look at the
 * values starting with that byte and at the few token prefixes.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "lib/redact.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

extern char **environ;

struct redactor {
	char **values; /* longest first, so that a longer secret wins */
	size_t *lens;
	size_t n;
	unsigned char first[256]; /* some value starts with this byte */
	unsigned char shape[256]; /* some token shape, or "Bearer", does */
};

static void shapes_first(struct redactor *);

/* Upper-case globs: the NAME is upper-cased before matching. */
static const char *const secret_names[] = {
	"*_API_KEY",  "*_TOKEN",	 "*_SECRET",	 "*_SECRET_*",
	"*PASSWORD*", "ANTHROPIC_*KEY*", "OPENAI_*KEY*",
};

int
redact_secret_name(const char *name)
{
	char *up = xstrdup(name), *p;
	size_t i;
	int hit = 0;

	for (p = up; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	for (i = 0; !hit && i < sizeof secret_names / sizeof secret_names[0];
	     i++)
		hit = fnmatch(secret_names[i], up, 0) == 0;
	free(up);
	return hit;
}

static void
add_value(struct redactor *r, const char *v, size_t len)
{
	size_t i;

	if (len < REDACT_MIN_LEN)
		return;
	for (i = 0; i < r->n; i++)
		if (r->lens[i] == len && memcmp(r->values[i], v, len) == 0)
			return;
	r->values = xreallocarray(r->values, r->n + 1, sizeof *r->values);
	r->lens = xreallocarray(r->lens, r->n + 1, sizeof *r->lens);
	r->values[r->n] = xstrndup(v, len);
	r->lens[r->n] = len;
	r->n++;
	r->first[(unsigned char)v[0]] = 1;
}

/* Longest first; insertion sort, the lists are short. */
static void
sort_values(struct redactor *r)
{
	size_t i, j, len;
	char *v;

	for (i = 1; i < r->n; i++) {
		v = r->values[i];
		len = r->lens[i];
		for (j = i; j > 0 && r->lens[j - 1] < len; j--) {
			r->values[j] = r->values[j - 1];
			r->lens[j] = r->lens[j - 1];
		}
		r->values[j] = v;
		r->lens[j] = len;
	}
}

struct redactor *
redactor_new_env(const char *const *extra_values, const char *const *envp)
{
	struct redactor *r = xcalloc(1, sizeof *r);
	const char *eq;
	char *name;
	size_t i;

	for (i = 0; extra_values != NULL && extra_values[i] != NULL; i++)
		add_value(r, extra_values[i], strlen(extra_values[i]));
	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		if ((eq = strchr(envp[i], '=')) == NULL)
			continue;
		name = xstrndup(envp[i], (size_t)(eq - envp[i]));
		if (redact_secret_name(name))
			add_value(r, eq + 1, strlen(eq + 1));
		free(name);
	}
	sort_values(r);
	shapes_first(r);
	return r;
}

struct redactor *
redactor_new(const char *const *extra_values)
{
	return redactor_new_env(extra_values, (const char *const *)environ);
}

void
redactor_free(struct redactor *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		free(r->values[i]);
	free(r->values);
	free(r->lens);
	free(r);
}

/* ---- token shapes ---- */

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* A byte a token is made of: a token is not cut out of a longer word. */
static int
is_word(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '-';
}

/* The bytes of s[0..len) that are alnum or in extra. */
static size_t
run_of(const char *s, size_t len, const char *extra)
{
	size_t n = 0;

	while (n < len && (is_alnum((unsigned char)s[n]) ||
			   (s[n] != '\0' && strchr(extra, s[n]) != NULL)))
		n++;
	return n;
}

/*
 * One token shape: a prefix, the bytes its body is made of and the
 * shortest body that counts (a shorter one is a word like "sk-learn").
 */
static const struct shape {
	const char *prefix;
	const char *body; /* besides alnum */
	size_t min;
} shapes[] = {
	{"sk-", "_-", 20},	  {"ghp_", "", 20},   {"gho_", "", 20},
	{"ghu_", "", 20},	  {"ghs_", "", 20},   {"ghr_", "", 20},
	{"github_pat_", "_", 20}, {"xoxa-", "-", 10}, {"xoxb-", "-", 10},
	{"xoxp-", "-", 10},	  {"xoxr-", "-", 10}, {"xoxs-", "-", 10},
};

/* The bytes a token shape, the AWS key id or "Bearer" starts with. */
static void
shapes_first(struct redactor *r)
{
	size_t i;

	for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		r->shape[(unsigned char)shapes[i].prefix[0]] = 1;
	r->shape['A'] = 1;
	r->shape['b'] = r->shape['B'] = 1;
}

/* The length of the token shape at s[0..len), or 0. */
static size_t
token_at(const char *s, size_t len)
{
	size_t i, pl, n;

	for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		pl = strlen(shapes[i].prefix);
		if (len < pl || memcmp(s, shapes[i].prefix, pl) != 0)
			continue;
		n = run_of(s + pl, len - pl, shapes[i].body);
		if (n >= shapes[i].min)
			return pl + n;
	}
	/* AWS access key id: AKIA and exactly 16 upper-case or digits */
	if (len >= 20 && memcmp(s, "AKIA", 4) == 0) {
		for (n = 4; n < 20; n++)
			if (!((s[n] >= 'A' && s[n] <= 'Z') ||
			      (s[n] >= '0' && s[n] <= '9')))
				return 0;
		if (len == 20 || !is_word((unsigned char)s[20]))
			return 20;
	}
	return 0;
}

/*
 * "Bearer <token>" (any case) at s[0..len): *keep is the length of
 * "Bearer " and its blanks, the return value that plus the token's; 0
 * if there is none.
 */
static size_t
bearer_at(const char *s, size_t len, size_t *keep)
{
	static const char word[] = "bearer";
	size_t i, n;

	if (len < 7)
		return 0;
	for (i = 0; i < 6; i++)
		if ((s[i] | 0x20) != word[i])
			return 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == 6)
		return 0;
	n = run_of(s + i, len - i, "._~+/=-");
	if (n < REDACT_MIN_LEN)
		return 0;
	*keep = i;
	return i + n;
}

/* The length of the known value at s[0..len), or 0. */
static size_t
value_at(const struct redactor *r, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->lens[i] <= len &&
		    memcmp(s, r->values[i], r->lens[i]) == 0)
			return r->lens[i];
	return 0;
}

/*
 * Most bytes start nothing: the first-byte tests keep the scan at a few
 * instructions a byte (an agent printing 1 GB of NULs or binary data is
 * redacted at memory speed, not at 13 MB/s as when every non-word byte
 * was tried against every shape).
 */
char *
redact_mem(const struct redactor *r, const char *s, size_t len, size_t *out_len)
{
	struct strbuf sb;
	size_t i = 0, done = 0, n, keep;
	unsigned char c;

	strbuf_init(&sb);
	while (r != NULL && i < len) {
		c = (unsigned char)s[i];
		keep = n = 0;
		if (r->first[c])
			n = value_at(r, s + i, len - i);
		if (n == 0 && r->shape[c] &&
		    (i == 0 || !is_word((unsigned char)s[i - 1])) &&
		    (n = token_at(s + i, len - i)) == 0)
			n = bearer_at(s + i, len - i, &keep);
		if (n == 0) {
			i++;
			continue;
		}
		strbuf_add(&sb, s + done, i + keep - done);
		strbuf_adds(&sb, REDACT_MARK);
		i += n;
		done = i;
	}
	strbuf_add(&sb, s + done, len - done);
	*out_len = sb.len;
	return strbuf_detach(&sb);
}

char *
redact(const struct redactor *r, const char *s)
{
	size_t n;

	if (s == NULL)
		return NULL;
	return redact_mem(r, s, strlen(s), &n);
}
