#ifndef BATON_SQLITE_H
#define BATON_SQLITE_H

/*
 * The SQLite engine of the store (SPEC §5, §9, §10): what db/store.c
 * needs to pick it.  Nothing here names sqlite3.h.
 */
struct store;
struct store_options;

/* db/store.h's store_open() for a file path. */
int sqlite_store_open(struct store **out, const char *path,
		      const struct store_options *, char **cause);

/* The schema version this binary writes (PRAGMA user_version). */
int sqlite_schema_version(void);

#endif
