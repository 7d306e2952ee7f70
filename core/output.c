/*
 * Agents' output kept in the database while a run goes; see output.h.
 *
 * Each stream is held in two pieces until it is written: the head (the
 * bytes below max/2, kept for good once written) and the tail (at most
 * the last max - max/2 bytes: older ones could never be kept, so memory
 * stays within max whatever the agent prints and however long the
 * database is away).  A write sends both pieces and drops the tail's
 * rows that fell out of the window, in one statement.
 */
#include <stdlib.h>
#include <string.h>

#include "core/output.h"
#include "db/store.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

/* Write what is held once a second while the run goes (a follower's
 * delay), or sooner when this much is held, but not more often than
 * OUTPUT_MIN_MS. */
#define OUTPUT_FLUSH_MS	   1000
#define OUTPUT_FLUSH_BYTES (64 * 1024)
#define OUTPUT_MIN_MS	   100

/* Bytes of a stream from pos on, not in the database yet. */
struct output_piece {
	int64_t pos;
	char *buf;
	size_t len, cap;
};

struct output_stream {
	int64_t total; /* bytes of the stream so far */
	struct output_piece head, tail;
};

struct output_writer {
	struct store *db;
	int64_t run_id, epoch;
	int64_t head_max, tail_max; /* max/2, max - max/2 */
	int64_t last;		    /* clock_mono_ms() of the last write */
	int dead;		    /* the lease is lost: write nothing */
	struct output_stream s[2];
};

static const char *const stream_names[] = {"out", "err"};

struct output_writer *
output_writer_new(struct store *db, int64_t run_id, int64_t epoch, int64_t max)
{
	struct output_writer *w;

	if (!store_has_output(db) || max <= 0 || run_id == 0)
		return NULL;
	w = xcalloc(1, sizeof *w);
	w->db = db;
	w->run_id = run_id;
	w->epoch = epoch;
	w->head_max = max / 2;
	w->tail_max = max - max / 2;
	w->last = clock_mono_ms();
	return w;
}

void
output_writer_free(struct output_writer *w)
{
	int i;

	if (w == NULL)
		return;
	for (i = 0; i < 2; i++) {
		free(w->s[i].head.buf);
		free(w->s[i].tail.buf);
	}
	free(w);
}

static void
piece_add(struct output_piece *p, const char *buf, size_t len)
{
	if (p->len + len > p->cap) {
		p->cap = p->cap * 2 > p->len + len ? p->cap * 2 : p->len + len;
		p->buf = xrealloc(p->buf, p->cap);
	}
	memcpy(p->buf + p->len, buf, len);
	p->len += len;
}

/* Keep the last max bytes of p (of a stream now total long). */
static void
piece_keep_last(struct output_piece *p, size_t max, int64_t total)
{
	if (p->len > max) {
		memmove(p->buf, p->buf + (p->len - max), max);
		p->len = max;
	}
	p->pos = total - (int64_t)p->len;
}

static size_t
held(const struct output_writer *w)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 2; i++)
		n += w->s[i].head.len + w->s[i].tail.len;
	return n;
}

/* Write stream i's held pieces (not forgotten: see forget()). */
static int
write_stream(struct output_writer *w, int i, char **cause)
{
	struct output_stream *s = &w->s[i];
	struct db_output_put o = {0};
	int64_t drop_to = s->total - w->tail_max;
	int rc;

	if (s->head.len == 0 && s->tail.len == 0)
		return 0;
	o.run_id = w->run_id;
	o.stream = stream_names[i];
	o.epoch = w->epoch;
	o.pos[0] = s->head.pos;
	o.data[0] = s->head.buf;
	o.len[0] = s->head.len;
	o.pos[1] = s->tail.pos;
	o.data[1] = s->tail.buf;
	o.len[1] = s->tail.len;
	o.keep_head = w->head_max;
	o.drop_to = drop_to > w->head_max ? drop_to : w->head_max;
	rc = store_run_output_put(w->db, &o, cause);
	if (rc == -BERR_LEASE)
		w->dead = 1;
	return rc;
}

/* Stream i's held pieces are in the database. */
static void
forget(struct output_writer *w, int i)
{
	w->s[i].head.len = 0;
	w->s[i].tail.len = 0;
}

/*
 * Write what is held now while the run goes: each stream in a statement
 * of its own, both in one transaction that writes only this run's rows
 * (fenced by the task's epoch), so without the store-wide write lock
 * (store_begin_own): chatty agents on many runners do not queue their
 * output behind each other's claims.
 */
static int
write_now(struct output_writer *w, int64_t now, char **cause)
{
	int i, rc;

	w->last = now;
	if ((rc = store_begin_own(w->db, cause)) != 0)
		return rc;
	for (i = 0; i < 2 && rc == 0; i++)
		rc = write_stream(w, i, cause);
	if (rc == 0)
		rc = store_commit(w->db, cause);
	if (rc != 0) {
		store_rollback(w->db);
		return rc;
	}
	forget(w, 0);
	forget(w, 1);
	return 0;
}

int
output_add(struct output_writer *w, int stream, const char *buf, size_t len,
	   int64_t now, char **cause)
{
	struct output_stream *s;
	size_t n;

	if (w == NULL || w->dead || len == 0)
		return 0;
	s = &w->s[stream != 0];
	if (s->total < w->head_max) {
		n = (size_t)(w->head_max - s->total);
		if (n > len)
			n = len;
		if (s->head.len == 0)
			s->head.pos = s->total;
		piece_add(&s->head, buf, n);
		s->total += (int64_t)n;
		buf += n;
		len -= n;
	}
	if (len > 0) {
		s->total += (int64_t)len;
		if (len > (size_t)w->tail_max) {
			buf += len - (size_t)w->tail_max;
			len = (size_t)w->tail_max;
		}
		piece_add(&s->tail, buf, len);
		piece_keep_last(&s->tail, (size_t)w->tail_max, s->total);
	}
	if (held(w) >= OUTPUT_FLUSH_BYTES && now - w->last >= OUTPUT_MIN_MS)
		return write_now(w, now, cause);
	return 0;
}

int
output_tick(struct output_writer *w, int64_t now, char **cause)
{
	if (w == NULL || w->dead || held(w) == 0 ||
	    now - w->last < OUTPUT_FLUSH_MS)
		return 0;
	return write_now(w, now, cause);
}

int
output_flush(struct output_writer *w, char **cause)
{
	int i, rc;

	if (w == NULL || w->dead)
		return 0;
	for (i = 0; i < 2; i++) {
		if ((rc = write_stream(w, i, cause)) != 0)
			return rc;
	}
	return 0;
}

void
output_done(struct output_writer *w)
{
	if (w == NULL)
		return;
	forget(w, 0);
	forget(w, 1);
}

/* The line in place of bytes the database does not keep. */
static void
add_marker(struct strbuf *sb, int64_t dropped)
{
	strbuf_addf(sb,
		    "\n[... %lld bytes of output not kept in the database; "
		    "the log file has them ...]\n",
		    (long long)dropped);
}

int
output_read(struct store *db, int64_t run_id, const char *stream, int64_t *pos,
	    char **data, size_t *len, int *found, char **cause)
{
	struct db_output_chunk *c = NULL;
	struct strbuf sb;
	size_t n = 0, i, skip;
	int rc;

	*data = NULL;
	*len = 0;
	rc = store_run_output_get(db, run_id, stream, *pos, &c, &n, found,
				  cause);
	if (rc != 0)
		return rc;
	strbuf_init(&sb);
	for (i = 0; i < n; i++) {
		if (c[i].pos > *pos)
			add_marker(&sb, c[i].pos - *pos);
		skip = c[i].pos < *pos ? (size_t)(*pos - c[i].pos) : 0;
		if (skip < c[i].len)
			strbuf_add(&sb, c[i].data + skip, c[i].len - skip);
		*pos = c[i].pos + (int64_t)c[i].len;
	}
	db_output_chunks_free(c, n);
	*len = sb.len;
	*data = strbuf_detach(&sb);
	return 0;
}
