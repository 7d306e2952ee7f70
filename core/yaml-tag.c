/*
 * Explicit YAML tags, which the config (config-yaml.c) and task files
 * (taskfile.c) refuse.  libyaml hands them over resolved: "!!x" is
 * "tag:yaml.org,2002:x"; shown back as the user wrote it.
 */
#include <stdio.h>
#include <string.h>

#include "core/yaml-tag.h"
#include "lib/text.h"

#define CORE_SCHEMA "tag:yaml.org,2002:"

/* See yaml-tag.h. */
const char *
yaml_event_tag(const yaml_event_t *ev, char *buf, size_t size)
{
	const yaml_char_t *t = NULL;
	const char *s;
	char shown[64];

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		t = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		t = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		t = ev->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (t == NULL)
		return NULL;
	s = (const char *)t;
	if (strncmp(s, CORE_SCHEMA, strlen(CORE_SCHEMA)) == 0) {
		s += strlen(CORE_SCHEMA);
		snprintf(buf, size, "!!%s",
			 text_shown(s, strlen(s), 40, shown));
	} else
		snprintf(buf, size, "%s", text_shown(s, strlen(s), 40, shown));
	return buf;
}
