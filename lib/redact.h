#ifndef BATON_LIB_REDACT_H
#define BATON_LIB_REDACT_H

#include <stddef.h>

/*
 * Secrets out of text (SPEC §3 "Secrets"): a redactor knows a set of
 * secret values and replaces them, and well-known token shapes, with
 * REDACT_MARK.  Built once (per agent profile and worker: the values
 * depend on the profile), used on every string baton stores or prints.
 *
 * Secret values are the caller's extra_values plus the values of the
 * environment variables whose name says they are secret (see
 * redact_secret_name()).  Values shorter than REDACT_MIN_LEN bytes are
 * ignored: "yes", "1234" or a user name would replace ordinary words.
 *
 * Token shapes, taken whole where they start a word: sk-... (Anthropic
 * sk-ant-..., OpenAI sk-..., sk-proj-...), ghp_/gho_/ghu_/ghs_/ghr_...
 * and github_pat_... (GitHub), xoxb-/xoxp-... (Slack), AKIA + 16 (AWS
 * access key id), and the token after "Bearer ".
 */

#define REDACT_MARK    "[REDACTED]"
#define REDACT_MIN_LEN 8

struct redactor;

/*
 * A redactor for the NULL-terminated extra_values (may be NULL) and the
 * secret-named variables of environ.  The caller frees it with
 * redactor_free(); the strings are copied.
 */
struct redactor *redactor_new(const char *const *extra_values);

/* The same with envp ("NAME=VALUE", NULL-terminated) for environ. */
struct redactor *redactor_new_env(const char *const *extra_values,
				  const char *const *envp);

/* NULL-safe. */
void redactor_free(struct redactor *);

/*
 * A copy of s with every secret replaced by REDACT_MARK; the caller
 * frees.  A NULL redactor (redaction turned off) gives a plain copy; a
 * NULL s gives NULL.
 */
char *redact(const struct redactor *, const char *s);

/*
 * The same for s[0..len), which may hold NULs: the result is
 * NUL-terminated and its length is in *out_len.
 */
char *redact_mem(const struct redactor *, const char *s, size_t len,
		 size_t *out_len);

/*
 * Whether an environment variable called name holds a secret by its
 * name (ignoring case): *_API_KEY, *_TOKEN, *_SECRET, *_SECRET_*,
 * *PASSWORD*, ANTHROPIC_*KEY*, OPENAI_*KEY*.
 */
int redact_secret_name(const char *name);

#endif
