#ifndef BATON_CMD_TABLE_H
#define BATON_CMD_TABLE_H

#include <jansson.h>
#include <stddef.h>

#include "core/baton.h"
#include "db/store-names.h"

/*
 * What cmd/ prints to a terminal: text from the database or an agent
 * made safe (lib/display.h), fitted to the terminal's width, status
 * words in colour, and lists streamed a row at a time.
 */

/* Colours for status words; TONE_PLAIN is the terminal's own. */
enum tone { TONE_PLAIN, TONE_RED, TONE_GREEN, TONE_YELLOW, TONE_DIM };

enum tone cmd_task_tone(enum task_status);
enum tone cmd_session_tone(enum session_status);

/*
 * Whether to colour stdout: it is a terminal, --no-color was not given,
 * NO_COLOR is unset or empty and TERM is not "dumb".
 */
int cmd_color_wanted(int no_color_option);

/* The width tables on stdout fit in; DISPLAY_NOLIMIT for none. */
size_t cmd_columns(void);

/*
 * Print s to stdout made safe and cut to width columns (NULL: "-";
 * DISPLAY_NOLIMIT: not cut), then spaces up to pad columns.  In tone
 * when b->color: its escape sequences are not counted as columns.
 */
void cmd_cell(const struct baton *b, const char *s, size_t width, size_t pad,
	      enum tone);

/* A task status word for a message line, coloured when b->color;
 * caller frees. */
char *cmd_status_word(const struct baton *b, enum task_status);

/*
 * A JSON array printed one element at a time, the way cmd_print_json()
 * prints a whole one: begin, add each (takes the reference), end.
 * Returns 0 or -1 for a write error.
 */
struct json_list {
	long long n;
	int err;
};
void cmd_json_list_begin(struct json_list *);
void cmd_json_list_add(struct json_list *, json_t *);
int cmd_json_list_end(struct json_list *);

#endif
