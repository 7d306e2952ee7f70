#ifndef BATON_UTIL_H
#define BATON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Milliseconds since the epoch, from the real-time clock. */
int64_t util_now_ms(void);
/* Milliseconds from the monotonic clock, for measuring intervals. */
int64_t util_mono_ms(void);

/*
 * Parse a duration: "90" (seconds), "90s", "15m", "2h", "1d", "250ms".
 * Returns 0 and stores milliseconds, or -1 for anything else (negative,
 * empty, trailing garbage, overflow).
 */
int util_parse_duration(const char *, int64_t *ms);
/* Format milliseconds as the shortest exact duration ("90s", "15m"); caller frees. */
char *util_format_duration(int64_t ms);

/*
 * Parse a whole decimal number in [min, max] with an end pointer check.
 * Returns 0 or -1.
 */
int util_parse_int(const char *, long long min, long long max, long long *out);

/* Format ms-since-epoch as RFC 3339 UTC ("2026-11-21T17:00:03.123Z") into buf (>= 32 bytes). */
void util_rfc3339(int64_t ms, char *buf, size_t len);
/* Parse RFC 3339 / "YYYY-MM-DD[THH:MM[:SS]]" UTC; returns 0 or -1. */
int util_parse_time(const char *, int64_t *ms);

/* A fresh random lower-case UUID into buf (>= 37 bytes). */
void util_uuid_new(char *buf);
/* Non-zero if s is a UUID in canonical 8-4-4-4-12 hex form (either case). */
int util_is_uuid(const char *s);
/* Lower-case copy of a UUID; caller frees. */
char *util_uuid_lower(const char *s);
/* Non-zero if s is a valid session name: [A-Za-z0-9._-]{1,64}, not UUID-shaped. */
int util_is_session_name(const char *s);

/*
 * The candidate closest to word in edit distance (Levenshtein), for a
 * "did you mean" hint: the first of the NULL-terminated candidates at
 * the smallest distance, if that is at most max_distance and less than
 * word's length; else NULL.  Words and candidates longer than
 * UTIL_CLOSEST_MAX bytes match nothing.  Returns one of candidates
 * (borrowed).
 */
#define UTIL_CLOSEST_MAX 64
const char *util_closest(const char *word, const char *const *candidates,
			 size_t max_distance);

/*
 * A bad value as it goes into a message: s[0..len) cut to at most max
 * bytes on a UTF-8 boundary (then "..." added), control characters and
 * NULs as '?', into buf (max + 4 bytes at least).  Returns buf.
 */
const char *util_shown(const char *s, size_t len, size_t max, char *buf);

/* The strings of the NULL-terminated v joined by ", "; caller frees. */
char *util_join(const char *const *v);

/*
 * The line and column (both from 1) of byte off of buf[0..len), as an
 * editor counts them: a byte past len counts as at len.
 */
void util_line_col(const char *buf, size_t len, size_t off, size_t *line,
		   size_t *col);

/*
 * Read a whole small file (at most max bytes; more is an error).
 * Returns a NUL-terminated buffer the caller frees, or NULL with errno set.
 */
char *util_read_file(const char *path, size_t max, size_t *len);
/* The last max bytes of a file (NUL-terminated, caller frees), or NULL with errno. */
char *util_read_tail(const char *path, size_t max);
/* The first line of a file, without newline, at most max bytes; NULL if none. */
char *util_read_first_line(const char *path, size_t max);
/* Write all of buf to a new file created with mode 0600 (O_EXCL not used). */
int util_write_file(const char *path, const void *buf, size_t len);
/* mkdir -p with the given mode for each directory it creates; 0 or -1 (errno). */
int util_mkdir_p(const char *path, unsigned int mode);

/* Growable string. */
struct strbuf {
	char *buf;
	size_t len, cap;
};
void strbuf_init(struct strbuf *);
void strbuf_release(struct strbuf *);
void strbuf_add(struct strbuf *, const void *, size_t);
void strbuf_adds(struct strbuf *, const char *);
void strbuf_addf(struct strbuf *, const char *, ...)
	__attribute__((format(printf, 2, 3)));
/* Detach the buffer (never NULL); caller frees. */
char *strbuf_detach(struct strbuf *);

/* NULL-terminated vector of strings, each owned by the vector. */
struct strvec {
	char **v;
	size_t n, cap;
};
void strvec_init(struct strvec *);
void strvec_push(struct strvec *, const char *);
void strvec_pushf(struct strvec *, const char *, ...)
	__attribute__((format(printf, 2, 3)));
void strvec_release(struct strvec *);
/* Deep copy of a NULL-terminated array; NULL in, NULL out. */
char **strv_dup(char *const *);
void strv_free(char **);
size_t strv_len(char *const *);

/* Name of the user running baton (from the uid), caller frees. */
char *util_user_name(void);
/* This host's name, caller frees. */
char *util_host_name(void);

/*
 * The project a directory belongs to: the realpath of its git top-level
 * (found by walking up for ".git"), or its realpath outside git.
 * Returns NULL with errno set if the directory cannot be resolved.
 */
char *util_project_of(const char *dir);

#endif
