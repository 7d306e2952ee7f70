#ifndef BATON_CONFIG_INTERNAL_H
#define BATON_CONFIG_INTERNAL_H

/*
 * What the files of the configuration share, and nothing outside
 * core/config*.c includes (tests aside):
 *
 *   config.c         finding and reading files, the environment, the
 *                    public functions of config.h
 *   config-yaml.c    libyaml's events into a small tree of nodes, and
 *                    the "file:line:col: message" errors at its nodes
 *   config-keys.c    the key tables, the one loop that applies a mapping
 *                    through a table, the value parsers
 *   config-agents.c  agent profiles (agents:)
 *   config-show.c    config_show()
 *   config-trust.c   what a project's ./baton.yaml may change untrusted,
 *                    and `baton config trust`
 */

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define CFG_MAX_FILE_SIZE (1024 * 1024)
#define PROJECT_CONFIG	  "baton.yaml" /* in the current directory */
#define CFG_MAX_SHOWN	  40 /* bytes of a bad value quoted in a message */
#define CFG_SHOWN_BUF	  (CFG_MAX_SHOWN + 8)

/* ---- the tree (config-yaml.c) ---- */

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

/*
 * Values remembered while a file is applied, for the checks that involve
 * two keys once all of it is in (cfg_check_whole()).
 */
enum cfg_mark {
	MARK_NONE,
	MARK_AGENT,	  /* defaults.agent */
	MARK_RETRY_BASE,  /* retry.base */
	MARK_RETRY_MAX,	  /* retry.max */
	MARK_HEARTBEAT,	  /* runner.heartbeat */
	MARK_STALE_AFTER, /* runner.stale_after */
	MARK_COUNT
};

/* State while applying one file. */
struct parse {
	const char *file;
	char *cause; /* the first error, "file:line:col: message" */
	size_t nodes;
	const struct node *marks[MARK_COUNT]; /* NULL: not in the file */
};

/*
 * Parse buf[0..len) into a tree; *rootp is NULL for an empty stream.
 * Aliases, a second document, deep nesting, too many values and NUL
 * bytes are refused.  Returns 0, or -1 with p->cause set.
 */
int cfg_build_tree(struct parse *p, const char *buf, size_t len,
		   struct node **rootp);

/* Free n and everything under it; NULL-safe. */
void cfg_node_free(struct node *n);

/* Non-zero if n is a plain YAML null: "", "~", "null", "Null", "NULL". */
int cfg_is_null(const struct node *n);

/*
 * Record "file:line:col: message" in p->cause unless an error is already
 * there (later errors are consequences).  Both return -1.
 */
int cfg_fail_at(struct parse *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int cfg_fail(struct parse *p, const struct node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * s as it goes into a message: at most CFG_MAX_SHOWN bytes (cut on a
 * UTF-8 boundary), control characters as '?', written into buf.
 */
const char *cfg_shown(const char *s, char *buf, size_t size);

/* "a mapping", "a list" or the quoted scalar, for "got %s". */
const char *cfg_describe(const struct node *n, char *buf, size_t size);

/* ---- keys and values (config-keys.c) ---- */

/* How a key's value is read and where it is stored. */
enum key_type {
	KEY_INT,      /* int, a whole number in [min, max] */
	KEY_BOOL,     /* int, true or false */
	KEY_DURATION, /* int64_t milliseconds, at least min */
	KEY_STRING,   /* char *, non-empty, null refused */
	KEY_OPTIONAL, /* char *, non-empty, or null for none */
	KEY_PATH,     /* char *, "~/" expanded, null for none */
	KEY_CHOICE,   /* int, the index of the value in choices */
	KEY_PRICE,    /* double, a number >= 0: USD per million tokens */
	KEY_LIST,     /* char ** (NULL-terminated), a list of strings */
	KEY_SECTION,  /* a nested mapping of section's keys, same base */
	KEY_CUSTOM,   /* parse() does it all */
};

struct section;

/*
 * One key of a table.  offset is where the value lives in the struct the
 * table applies to (struct config, struct agent_profile...).  Use the
 * CFG_* macros of config-keys.c: they check at compile time that the
 * member has the C type the key type stores.
 */
struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	long long min, max;	    /* KEY_INT; KEY_DURATION: min only */
	const char *const *choices; /* KEY_CHOICE, NULL-terminated */
	/* KEY_SECTION: its keys' offsets are into the same struct (the
	 * sections of struct config are anonymous structs within it). */
	const struct section *section;
	/* KEY_CUSTOM: apply value v (of key k) at path to base. */
	int (*parse)(struct parse *p, const struct node *k,
		     const struct node *v, const char *path, void *base);
	enum cfg_mark mark; /* remember the value node for cfg_check_whole */
};

/*
 * offsetof(S, m), where member m must have the C type T: wiring a key to a
 * member of another type does not compile.
 */
#define CFG_FIELD(S, m, T)                                                     \
	(offsetof(S, m) + 0 * sizeof(_Generic(((S *)0)->m, T : 1)))

/* Table entries for a key called n stored in member m of struct S. */
#define CFG_INT(S, n, m, lo, hi)                                               \
	{                                                                      \
		.name = (n), .type = KEY_INT, .offset = CFG_FIELD(S, m, int),  \
		.min = (lo), .max = (hi)                                       \
	}
#define CFG_BOOL(S, n, m)                                                      \
	{                                                                      \
		.name = (n), .type = KEY_BOOL, .offset = CFG_FIELD(S, m, int)  \
	}
#define CFG_DURATION(S, n, m, lo, mk)                                          \
	{                                                                      \
		.name = (n), .type = KEY_DURATION,                             \
		.offset = CFG_FIELD(S, m, int64_t), .min = (lo), .mark = (mk)  \
	}
#define CFG_STRING(S, n, m, mk)                                                \
	{                                                                      \
		.name = (n), .type = KEY_STRING,                               \
		.offset = CFG_FIELD(S, m, char *), .mark = (mk)                \
	}
#define CFG_OPTIONAL(S, n, m)                                                  \
	{                                                                      \
		.name = (n), .type = KEY_OPTIONAL,                             \
		.offset = CFG_FIELD(S, m, char *)                              \
	}
#define CFG_PATH(S, n, m)                                                      \
	{                                                                      \
		.name = (n), .type = KEY_PATH,                                 \
		.offset = CFG_FIELD(S, m, char *)                              \
	}
#define CFG_CHOICE(S, n, m, c)                                                 \
	{                                                                      \
		.name = (n), .type = KEY_CHOICE,                               \
		.offset = CFG_FIELD(S, m, int), .choices = (c)                 \
	}
#define CFG_PRICE(S, n, m)                                                     \
	{                                                                      \
		.name = (n), .type = KEY_PRICE,                                \
		.offset = CFG_FIELD(S, m, double)                              \
	}
#define CFG_LIST(S, n, m)                                                      \
	{                                                                      \
		.name = (n), .type = KEY_LIST,                                 \
		.offset = CFG_FIELD(S, m, char **)                             \
	}
#define CFG_SECTION(n, sec)                                                    \
	{                                                                      \
		.name = (n), .type = KEY_SECTION, .section = &(sec)            \
	}
/* offset: the member fn fills, so that every key names its place. */
#define CFG_CUSTOM(S, n, m, fn)                                                \
	{                                                                      \
		.name = (n), .type = KEY_CUSTOM, .offset = offsetof(S, m),     \
		.parse = (fn)                                                  \
	}
#define CFG_END                                                                \
	{                                                                      \
		.name = NULL                                                   \
	}

/* A mapping of keys: a section of the file. */
struct section {
	const char *name;	/* its path in messages; NULL at the top */
	const struct key *keys; /* ends with a NULL name */
	/* A scalar in place of the mapping sets this key (db: PATH). */
	const char *scalar_key;
};

/* The top of the file: every key of struct config, agents: included. */
extern const struct section cfg_root_section;

/* The keys of an agent profile (into struct agent_profile). */
extern const struct section cfg_agent_section;

/* The key called name in keys, or NULL. */
const struct key *cfg_key_find(const struct key *keys, const char *name);

/*
 * Report key (not among keys) as unknown in where (NULL: the top), with
 * the closest valid key or the list of them.  Returns -1.
 */
int cfg_unknown_key(struct parse *p, const struct node *key, const char *where,
		    const struct key *keys);

/*
 * n must be a mapping whose keys are strings, each once; where names it
 * in messages (NULL: the top).  Returns 0 or -1.
 */
int cfg_check_map(struct parse *p, const struct node *n, const char *where);

/*
 * Apply the pairs of the mapping n (checked with cfg_check_map()) in file
 * order through keys, storing into base; where is the mapping's path
 * (NULL at the top).  Stops at the first unknown key or bad value.
 * Returns 0 or -1.
 */
int cfg_apply_keys(struct parse *p, const struct node *n, const char *where,
		   const struct key *keys, void *base);

/*
 * Apply section sec from n to base: null changes nothing, a scalar sets
 * sec->scalar_key when there is one, else n must be a mapping.
 */
int cfg_apply_section(struct parse *p, const struct node *n,
		      const struct section *sec, void *base);

/*
 * Apply the whole file (root may be NULL: empty) to cfg, then the checks
 * that involve two keys.  Returns 0 or -1 with p->cause.
 */
int cfg_apply_root(struct parse *p, const struct node *root,
		   struct config *cfg);

/* Value parsers: 0, or -1 with p->cause naming path. */
int cfg_want_scalar(struct parse *p, const struct node *n, const char *path,
		    const char *what);
int cfg_get_string(struct parse *p, const struct node *n, const char *path,
		   char **out);
int cfg_get_strv(struct parse *p, const struct node *n, const char *path,
		 int allow_one, char ***out);

/*
 * A path with a leading "~/" (or just "~") expanded with $HOME.  Returns
 * the new string, or NULL with *why set (static text) if HOME is unset.
 */
char *cfg_expand_home(const char *s, const char **why);

/* The strings of the NULL-terminated v as "a, b or c"; caller frees. */
char *cfg_join_or(const char *const *v);

/* ---- agent profiles (config-agents.c) ---- */

/* agents: in the file, added to (or replacing) cfg's profiles. */
int cfg_apply_agents(struct parse *p, const struct node *k,
		     const struct node *n, const char *path, void *base);

/* A built-in profile; arg (one extra argument) may be NULL. */
void cfg_profile_builtin(struct agent_profile *ap, const char *name,
			 enum agent_kind kind, const char *command,
			 const char *model, const char *arg);

/* Free what ap owns and zero it. */
void cfg_profile_release(struct agent_profile *ap);

/* ---- files and trust (config.c, config-trust.c) ---- */

/*
 * Read config file path whole (at most 1 MiB), refusing one that
 * another user owns or that group or others can write.  Returns the
 * NUL-terminated buffer (caller frees) and its length in *len; or NULL
 * with *err ENOENT or ENOTDIR for a missing file (*cause unset), else
 * with *cause set.
 */
char *cfg_read_file(const char *path, size_t *len, int *err, char **cause);

/* What cfg_trust_check() compares, copied from src into dst (release
 * it with config_release()). */
void cfg_copy_for_trust(struct config *dst, const struct config *src);

/*
 * after is before with the project file name (content buf[0..len))
 * applied.  If it changed what an agent runs (a profile's kind,
 * command, args or env, a new profile, db.path), name must be trusted
 * with its current content.  Returns 0, or -1 with *cause naming the
 * keys and the command that trusts it.
 */
int cfg_trust_check(const struct config *before, const struct config *after,
		    const char *name, const char *buf, size_t len,
		    char **cause);

#endif
