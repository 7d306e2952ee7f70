#ifndef BATON_LIB_TEXT_H
#define BATON_LIB_TEXT_H

#include <stddef.h>

/*
 * Parse a whole decimal number in [min, max] with an end pointer check.
 * Returns 0 or -1.
 */
int text_parse_int(const char *, long long min, long long max, long long *out);

/*
 * The candidate closest to word in edit distance (Levenshtein), for a
 * "did you mean" hint: the first of the NULL-terminated candidates at
 * the smallest distance, if that is at most max_distance and less than
 * word's length; else NULL.  Words and candidates longer than
 * TEXT_CLOSEST_MAX bytes match nothing.  Returns one of candidates
 * (borrowed).
 */
#define TEXT_CLOSEST_MAX 64
const char *text_closest(const char *word, const char *const *candidates,
			 size_t max_distance);

/*
 * A bad value as it goes into a message: s[0..len) cut to at most max
 * bytes on a UTF-8 boundary (then "..." added), control characters and
 * NULs as '?', into buf (max + 4 bytes at least).  Returns buf.
 */
const char *text_shown(const char *s, size_t len, size_t max, char *buf);

/* The strings of the NULL-terminated v joined by ", "; caller frees. */
char *text_join(const char *const *v);

/*
 * The line and column (both from 1) of byte off of buf[0..len), as an
 * editor counts them: a byte past len counts as at len.
 */
void text_line_col(const char *buf, size_t len, size_t off, size_t *line,
		   size_t *col);

/* A copy of s with every byte that is not part of valid UTF-8 replaced
 * by U+FFFD (what JSON and XML can carry); the caller frees. */
char *text_utf8_clean(const char *s);

/*
 * A copy of url with its password replaced by "***": the one in
 * "scheme://user:PASSWORD@host" and any "password=" parameter.  Anything
 * that is not a URL is copied as is.  The caller frees.
 */
char *text_url_mask(const char *url);

#endif
