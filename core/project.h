#ifndef BATON_PROJECT_H
#define BATON_PROJECT_H

/*
 * The project a directory belongs to (SPEC §1): the realpath of its git
 * top-level (found by walking up for ".git"), or its realpath outside
 * git.  Returns NULL with errno set if the directory cannot be resolved.
 */
char *project_of(const char *dir);

#endif
