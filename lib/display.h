#ifndef BATON_LIB_DISPLAY_H
#define BATON_LIB_DISPLAY_H

#include <stddef.h>

/*
 * Text from a database or an agent made safe for a terminal.  Valid
 * UTF-8 is kept; an invalid byte is shown as \xNN; a control character
 * (C0 with ESC and DEL, C1 U+0080-U+009F) and a bidirectional override
 * are shown escaped: \e \n \t \r, \x07, \u0085, \u202e.  What comes out
 * is one line that cannot move the cursor or change the terminal.
 */

/* No limit, for display_fit()'s width. */
#define DISPLAY_NOLIMIT ((size_t)-1)

/* s made safe (NULL: "-"); caller frees. */
char *display_safe(const char *s);

/*
 * s made safe and cut to at most width terminal columns on a character
 * boundary, ending in "…" when cut (wide characters count 2 columns,
 * combining marks 0).  width DISPLAY_NOLIMIT: not cut.  Caller frees.
 */
char *display_fit(const char *s, size_t width);

/* The columns display_safe(s) takes on a terminal. */
size_t display_width(const char *s);

/*
 * The width of the terminal on fd: its window size, else $COLUMNS,
 * else 80 when fd is a terminal; 0 (no limit) when fd is not a
 * terminal and COLUMNS is not set.
 */
size_t display_columns(int fd);

/* "1,234,567" into buf (>= 28 bytes).  Returns buf. */
const char *display_count(long long n, char *buf, size_t len);

#endif
