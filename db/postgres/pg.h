#ifndef BATON_PG_H
#define BATON_PG_H

/*
 * The PostgreSQL engine of the store (SPEC §10): what db/store.c needs
 * to pick it.  Nothing here names libpq-fe.h.
 */
struct store;
struct store_options;

/* db/store.h's store_open() for a postgres:// or postgresql:// URL. */
int pg_store_open(struct store **out, const char *url,
		  const struct store_options *, char **cause);

/* The schema version this binary writes (the row of baton_schema). */
int pg_schema_version(void);

#endif
