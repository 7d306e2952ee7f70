#ifndef BATON_YAML_TAG_H
#define BATON_YAML_TAG_H

#include <stddef.h>

#include <yaml.h>

/*
 * The explicit tag of a libyaml event (a scalar, a list or a mapping),
 * as the file spelled it ("!!python/object", "!custom", "!"), into buf;
 * NULL when it has none.  The config and task files refuse tags: they
 * mean nothing to baton, and in other YAML loaders they construct
 * objects, so a file that carries one was not written for baton.
 */
const char *yaml_event_tag(const yaml_event_t *ev, char *buf, size_t size);

#endif
