#ifndef BATON_OUTPUT_H
#define BATON_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * Agents' output kept in the database while a run goes (SPEC §10), for
 * a store that keeps it (store_has_output): `log`, `log -f`, `report`
 * on a machine that does not have the run's files read it from there.
 *
 * What is kept of each stream, at most max bytes (logs.db_max_bytes),
 * is at any time what the end of the run keeps: all of it up to max,
 * else its first max/2 bytes, a marker saying how many were dropped and
 * its last max - max/2 bytes.  A live writer cannot know the tail in
 * advance, so the tail rolls: each write adds the new bytes and drops
 * the oldest of the tail.
 */

/*
 * The writer of one run: NULL when db keeps no output or max <= 0.
 * epoch is the task's lease (every write is fenced by it).  Owned by the
 * caller: output_writer_free().
 */
struct output_writer *output_writer_new(struct store *db, int64_t run_id,
					int64_t epoch, int64_t max);
void output_writer_free(struct output_writer *);

/*
 * len bytes of stream (0 stdout, 1 stderr), exactly what goes to the
 * run's log file (redacted, capped at logs.max_bytes), held until the
 * next write; a lot held (OUTPUT_FLUSH_BYTES) is written at once.  now
 * is clock_mono_ms().  0, or the store's error (-BERR_LEASE: the lease
 * is lost and nothing more is written).  NULL w: nothing.
 */
int output_add(struct output_writer *w, int stream, const char *buf, size_t len,
	       int64_t now, char **cause);

/*
 * While the run goes: write what is held if OUTPUT_FLUSH_MS passed
 * since the last write (one statement per stream with output, none when
 * there is none).  Returns as output_add().
 */
int output_tick(struct output_writer *w, int64_t now, char **cause);

/*
 * At the run's end, inside the caller's transaction: write what is
 * held.  Once that transaction is committed, output_done() forgets it
 * (a transaction rolled back and tried again writes it again).
 */
int output_flush(struct output_writer *w, char **cause);
void output_done(struct output_writer *w);

/*
 * What is kept of run's stream ("out" or "err") from offset *pos on, as
 * text to print: the chunks, with the marker line where bytes were
 * dropped (the gap of a capped run, or what rolled out of the tail
 * since *pos).  *pos moves past it.  *data (NUL-terminated) and *len
 * are the caller's; *found as store_run_output_get().  0 or the store's
 * error.
 */
int output_read(struct store *db, int64_t run_id, const char *stream,
		int64_t *pos, char **data, size_t *len, int *found,
		char **cause);

#endif
