#ifndef BATON_LIB_CLOCK_H
#define BATON_LIB_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Clocks, durations and times: nothing here knows baton's rules. */

/* Milliseconds since the epoch, from the real-time clock. */
int64_t clock_now_ms(void);
/* Milliseconds from the monotonic clock, for measuring intervals. */
int64_t clock_mono_ms(void);
/* The same, but counting time suspended too (CLOCK_BOOTTIME where there
 * is one): how long this process may have been away. */
int64_t clock_boot_ms(void);

/*
 * Parse a duration: "90" (seconds), or parts "<n>[.<f>]<unit>" with the
 * units w d h m s ms each at most once, largest first: "90s", "15m",
 * "1h30m", "1.5h", "2d", "1w", "250ms".  A fraction must come to whole
 * milliseconds.  Returns 0 and stores milliseconds, or -1 for anything
 * else (negative, empty, blanks, other units, trailing garbage,
 * overflow).
 */
int duration_parse(const char *, int64_t *ms);
/*
 * The one message for a bad duration, the same wherever one is read:
 * "invalid duration 'shown': use e.g. 90s, 15m, 1h30m, 1.5h".  shown is
 * the value as it may be printed.  Caller frees.
 */
char *duration_error(const char *shown);
/* Format milliseconds as the shortest exact duration ("90s", "15m"); caller frees. */
char *duration_format(int64_t ms);

/* Format ms-since-epoch as RFC 3339 UTC ("2026-11-21T17:00:03.123Z") into buf (>= 32 bytes). */
void time_rfc3339(int64_t ms, char *buf, size_t len);
/* Parse RFC 3339 / "YYYY-MM-DD[THH:MM[:SS]]" UTC; returns 0 or -1. */
int time_parse(const char *, int64_t *ms);

/* How long ago delta_ms was, for lists: "just now", "12s ago", "3m ago",
 * "2h ago", "5d ago", into buf. */
void time_ago(int64_t delta_ms, char *buf, size_t len);
/* ms-since-epoch as local time with its zone, "2026-12-03 07:34:12 UTC"
 * or "... +0100", into buf (>= 40 bytes); "-" for 0. */
void time_local(int64_t ms, char *buf, size_t len);

#endif
