#ifndef BATON_TASKFILE_H
#define BATON_TASKFILE_H

#include <stddef.h>

#include "core/task.h"

/*
 * Read a task file for `add --from` (SPEC §6): a YAML list of mappings
 * (.yaml, .yml), JSON Lines (.jsonl, .ndjson) or CSV with a header row
 * (.csv); other names are sniffed from the first non-blank character
 * ('-' or '[' YAML list... '{' JSON Lines, else CSV).  Keys are the task
 * options without dashes: prompt agent model session new_session
 * milestone workdir timeout check max_iterations title key (and
 * prompt_file, force_agent, allow_foreign_session).  Every record gets
 * origin "FILE:LINE".  The whole file is checked first: an unknown key,
 * a wrong type, a record that is not a mapping, a malformed line, a
 * missing prompt is an error "FILE:LINE: message" and nothing is
 * returned.  A relative workdir or prompt_file is taken relative to the
 * file's directory; stdin ("-") is named <stdin> in messages.  Returns 0 with *specs (caller frees each with
 * task_spec_release, then the array), or -1 with *cause.
 */
int taskfile_load(const char *path, struct task_spec **specs, size_t *n,
		  char **cause);

#endif
