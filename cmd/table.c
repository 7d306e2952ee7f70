/*
 * Tables and lists on a terminal: safe text, widths, colour, and JSON
 * arrays streamed a row at a time (cmd/table.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/table.h"
#include "lib/display.h"
#include "lib/xmalloc.h"

enum tone
cmd_task_tone(enum task_status st)
{
	switch (st) {
	case TASK_FAILED:
	case TASK_TIMED_OUT:
		return TONE_RED;
	case TASK_COMPLETED:
		return TONE_GREEN;
	case TASK_RUNNING:
		return TONE_YELLOW;
	case TASK_CANCELLED:
	case TASK_INTERRUPTED:
		return TONE_DIM;
	default:
		return TONE_PLAIN;
	}
}

enum tone
cmd_session_tone(enum session_status st)
{
	switch (st) {
	case SESSION_ACTIVE:
		return TONE_GREEN;
	case SESSION_ABANDONED:
		return TONE_RED;
	case SESSION_EXPIRED:
		return TONE_DIM;
	default:
		return TONE_PLAIN;
	}
}

int
cmd_color_wanted(int no_color_option)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (no_color_option || (nc != NULL && *nc != '\0'))
		return 0;
	if (term != NULL && strcmp(term, "dumb") == 0)
		return 0;
	return isatty(STDOUT_FILENO);
}

size_t
cmd_columns(void)
{
	size_t n = display_columns(STDOUT_FILENO);

	return n > 0 ? n : DISPLAY_NOLIMIT;
}

static const char *
sgr(enum tone t)
{
	switch (t) {
	case TONE_RED:
		return "\033[31m";
	case TONE_GREEN:
		return "\033[32m";
	case TONE_YELLOW:
		return "\033[33m";
	case TONE_DIM:
		return "\033[2m";
	default:
		return NULL;
	}
}

void
cmd_cell(const struct baton *b, const char *s, size_t width, size_t pad,
	 enum tone t)
{
	char *text = display_fit(s, width);
	const char *on = b->color ? sgr(t) : NULL;
	size_t w = display_width(text);

	if (on != NULL)
		fputs(on, stdout);
	fputs(text, stdout);
	if (on != NULL)
		fputs("\033[m", stdout);
	for (; w < pad; w++)
		putchar(' ');
	free(text);
}

char *
cmd_status_word(const struct baton *b, enum task_status st)
{
	const char *on = b->color ? sgr(cmd_task_tone(st)) : NULL;

	if (on == NULL)
		return xstrdup(task_status_name(st));
	return xasprintf("%s%s\033[m", on, task_status_name(st));
}

void
cmd_json_list_begin(struct json_list *l)
{
	l->n = 0;
	l->err = 0;
	fputc('[', stdout);
}

/* Each element as cmd_print_json() would indent it inside the array. */
void
cmd_json_list_add(struct json_list *l, json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER), *p;

	json_decref(v);
	if (s == NULL) {
		l->err = 1;
		return;
	}
	fputs(l->n++ > 0 ? ",\n  " : "\n  ", stdout);
	/* a JSON text holds no raw newline but its own indentation */
	for (p = s; *p != '\0'; p++) {
		putchar(*p);
		if (*p == '\n')
			fputs("  ", stdout);
	}
	free(s);
}

int
cmd_json_list_end(struct json_list *l)
{
	fputs(l->n > 0 ? "\n]\n" : "]\n", stdout);
	return l->err || ferror(stdout) ? -1 : 0;
}
