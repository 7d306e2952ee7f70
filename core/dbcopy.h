#ifndef BATON_DBCOPY_H
#define BATON_DBCOPY_H

#include <stdint.h>

struct baton;

/*
 * baton db copy SRC DST: every task, run, session, chain link, event,
 * milestone and runner of the store at src into the empty store at dst
 * (a path or a URL each, any engines), with their ids, in one
 * transaction of dst's.  rows[i] counts the rows of store_copy_tables[i]
 * (room for 8).  src must exist; dst is created if it is an SQLite file.
 */
int db_copy(struct baton *b, const char *src, const char *dst, int64_t *rows,
	    char **cause);

#endif
