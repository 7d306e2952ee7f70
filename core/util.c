/* realpath() is XSI. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "core/util.h"
#include "core/xmalloc.h"

#define MS_PER_S 1000LL
#define MS_PER_M (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_M)
#define MS_PER_D (24 * MS_PER_H)

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		fatal("clock_gettime: %s", strerror(errno));
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the epoch. */
int64_t
util_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* Milliseconds from an arbitrary start; only differences mean anything. */
int64_t
util_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/*
 * Returns 0 and the duration in *ms, or -1 (with *ms untouched).  Only
 * unsigned decimal digits followed by at most one lower-case unit.
 */
int
util_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *name;
		int64_t mult;
	} units[] = {
		{"", MS_PER_S},	 {"ms", 1},	  {"s", MS_PER_S},
		{"m", MS_PER_M}, {"h", MS_PER_H}, {"d", MS_PER_D},
	};
	int64_t n = 0;
	const char *p;
	size_t i;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (p = s; isdigit((unsigned char)*p); p++) {
		if (n > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(p, units[i].name) != 0)
			continue;
		if (n > INT64_MAX / units[i].mult)
			return -1;
		*ms = n * units[i].mult;
		return 0;
	}
	return -1;
}

/* The shortest exact spelling of ms ("0s", "90s", "15m", "250ms"), to free. */
char *
util_format_duration(int64_t ms)
{
	if (ms == 0)
		return xstrdup("0s");
	if (ms % MS_PER_D == 0)
		return xasprintf("%lldd", (long long)(ms / MS_PER_D));
	if (ms % MS_PER_H == 0)
		return xasprintf("%lldh", (long long)(ms / MS_PER_H));
	if (ms % MS_PER_M == 0)
		return xasprintf("%lldm", (long long)(ms / MS_PER_M));
	if (ms % MS_PER_S == 0)
		return xasprintf("%llds", (long long)(ms / MS_PER_S));
	return xasprintf("%lldms", (long long)ms);
}

/* 0 and *out, or -1 for anything that is not one whole number in range. */
int
util_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes and a NUL) into buf. */
void
util_rfc3339(int64_t ms, char *buf, size_t len)
{
	int64_t days, rem, y;
	int m, d;

	days = ms / MS_PER_D;
	rem = ms % MS_PER_D;
	if (rem < 0) {
		rem += MS_PER_D;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 (long long)y, m, d, (int)(rem / MS_PER_H),
		 (int)(rem / MS_PER_M % 60), (int)(rem / MS_PER_S % 60),
		 (int)(rem % 1000));
}

/* Reads exactly n digits at *p into *v and advances *p; -1 if not digits. */
static int
take_digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30,
				 31, 31, 30, 31, 30, 31};

	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return dm[m - 1];
}

/*
 * Accepts "YYYY-MM-DD", then optionally "THH:MM", ":SS", ".fraction" and
 * "Z" or "+HH:MM"/"-HH:MM"; a time without an offset is UTC.  'T' may be
 * 't' or a space.  Returns 0 and *ms, or -1.
 */
int
util_parse_time(const char *s, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, oh, om, sign, i;
	int64_t off = 0, t;
	const char *p = s;

	if (s == NULL)
		return -1;
	if (take_digits(&p, 4, &y) != 0 || *p++ != '-' ||
	    take_digits(&p, 2, &mo) != 0 || *p++ != '-' ||
	    take_digits(&p, 2, &d) != 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (take_digits(&p, 2, &h) != 0 || *p++ != ':' ||
		    take_digits(&p, 2, &mi) != 0)
			return -1;
		if (*p == ':') {
			p++;
			if (take_digits(&p, 2, &sec) != 0)
				return -1;
			if (*p == '.') {
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				for (i = 0; isdigit((unsigned char)*p); i++) {
					if (i < 3)
						frac = frac * 10 + (*p - '0');
					p++;
				}
				for (; i < 3; i++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (take_digits(&p, 2, &oh) != 0 || *p++ != ':' ||
			    take_digits(&p, 2, &om) != 0 || oh > 23 || om > 59)
				return -1;
			off = sign * (oh * MS_PER_H + om * MS_PER_M);
		}
	}
	if (*p != '\0')
		return -1;
	t = days_from_civil(y, mo, d) * MS_PER_D + h * MS_PER_H +
	    mi * MS_PER_M + sec * MS_PER_S + frac;
	*ms = t - off;
	return 0;
}

/*
 * Fills buf (>= 37 bytes) with a new lower-case UUID, version 7 (RFC
 * 9562): 48 bits of Unix time in milliseconds, then 74 random bits from
 * libuuid.  Ids made later sort later, so the session rows and the
 * indexes keyed by session id grow at their right edge instead of at a
 * random page, which keeps the cost per task flat as the database grows
 * (docs/performance.md, section 5).
 */
void
util_uuid_new(char *buf)
{
	uint64_t ms = (uint64_t)util_now_ms();
	uuid_t u;
	int i;

	uuid_generate_random(u);
	for (i = 0; i < 6; i++)
		u[i] = (unsigned char)(ms >> (40 - 8 * i));
	u[6] = (unsigned char)(0x70 | (u[6] & 0x0f)); /* version 7 */
	u[8] = (unsigned char)(0x80 | (u[8] & 0x3f)); /* variant 10 */
	uuid_unparse_lower(u, buf);
}

/* Non-zero if s has the 8-4-4-4-12 hex shape. */
int
util_is_uuid(const char *s)
{
	int i;

	if (s == NULL)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return s[36] == '\0';
}

/* A lower-case copy of s; caller frees. */
char *
util_uuid_lower(const char *s)
{
	char *p, *copy = xstrdup(s);

	for (p = copy; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return copy;
}

/* The edit distance of a and b, or SIZE_MAX if either is too long. */
static size_t
levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, tmp;
	size_t row[UTIL_CLOSEST_MAX + 1];

	if (la > UTIL_CLOSEST_MAX || lb > UTIL_CLOSEST_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *
util_closest(const char *word, const char *const *candidates,
	     size_t max_distance)
{
	const char *best = NULL;
	size_t d, bestd = SIZE_MAX;

	for (; *candidates != NULL; candidates++) {
		d = levenshtein(word, *candidates);
		if (d < bestd) {
			bestd = d;
			best = *candidates;
		}
	}
	/* as far off as the word is long is no typo of it ("x" ~ "y") */
	if (best == NULL || bestd > max_distance || bestd >= strlen(word))
		return NULL;
	return best;
}

const char *
util_shown(const char *s, size_t len, size_t max, char *buf)
{
	size_t i, n = len;
	int cut = 0;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = 1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cut) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

char *
util_join(const char *const *v)
{
	struct strbuf sb;

	strbuf_init(&sb);
	for (; *v != NULL; v++) {
		if (sb.len > 0)
			strbuf_adds(&sb, ", ");
		strbuf_adds(&sb, *v);
	}
	return strbuf_detach(&sb);
}

void
util_line_col(const char *buf, size_t len, size_t off, size_t *line,
	      size_t *col)
{
	size_t i, l = 1, c = 1;

	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else
			c++;
	}
	*line = l;
	*col = c;
}

/* Non-zero for [A-Za-z0-9._-]{1,64} that does not look like a UUID. */
int
util_is_session_name(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64)
			return 0;
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	}
	/* A 36-character 8-4-4-4-12 string is meant as a UUID, valid or
	 * not: a typo in one must not quietly become a new named session. */
	if (i == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
	    s[23] == '-')
		return 0;
	return 1;
}

static int
open_read(const char *path)
{
	int fd;

	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd == -1 && errno == EINTR);
	return fd;
}

/* read() that retries on EINTR; returns bytes read, 0 at EOF, -1. */
static ssize_t
read_some(int fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r == -1 && errno == EINTR);
	return r;
}

static void
close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/*
 * Whole file, NUL-terminated, caller frees; *len (if given) excludes the
 * NUL.  NULL with errno set (EFBIG if larger than max).
 */
char *
util_read_file(const char *path, size_t max, size_t *len)
{
	size_t n = 0, cap = 4096;
	char *buf;
	ssize_t r;
	int fd;

	if ((fd = open_read(path)) == -1)
		return NULL;
	buf = xmalloc(cap);
	for (;;) {
		if (cap - n < 2) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		r = read_some(fd, buf + n, cap - n - 1);
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;

fail:
	close_keep_errno(fd);
	free(buf);
	return NULL;
}

/* The last max bytes of a file (all of it if shorter); caller frees. */
char *
util_read_tail(const char *path, size_t max)
{
	struct stat st;
	size_t n = 0, cap;
	char *buf;
	ssize_t r;
	int fd;

	if ((fd = open_read(path)) == -1)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uintmax_t)st.st_size > max)
		lseek(fd, st.st_size - (off_t)max, SEEK_SET);
	/* Read in a window of 2*max so a file that grows or a pipe still
	 * leaves just its last max bytes. */
	cap = 2 * max + 2;
	buf = xmalloc(cap);
	for (;;) {
		r = read_some(fd, buf + n, cap - n - 1);
		if (r == -1) {
			close_keep_errno(fd);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max && cap - n - 1 == 0) {
			memmove(buf, buf + n - max, max);
			n = max;
		}
	}
	close(fd);
	if (n > max) {
		memmove(buf, buf + n - max, max);
		n = max;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * The first line without its newline (or "\r\n"), cut at max bytes;
 * caller frees.  NULL with errno if unreadable, ENODATA if empty.
 */
char *
util_read_first_line(const char *path, size_t max)
{
	size_t n = 0;
	char *buf, *nl;
	ssize_t r;
	int fd;

	if ((fd = open_read(path)) == -1)
		return NULL;
	buf = xmalloc(max + 1);
	while (n < max) {
		r = read_some(fd, buf + n, max - n);
		if (r == -1) {
			close_keep_errno(fd);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		if (memchr(buf + n, '\n', (size_t)r) != NULL) {
			n += (size_t)r;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (n == 0) {
		free(buf);
		errno = ENODATA;
		return NULL;
	}
	buf[n] = '\0';
	if ((nl = memchr(buf, '\n', n)) != NULL) {
		*nl = '\0';
		n = (size_t)(nl - buf);
	}
	if (n > 0 && buf[n - 1] == '\r')
		buf[n - 1] = '\0';
	return buf;
}

/*
 * Creates (or truncates) path with mode 0600 and writes all of buf.
 * Returns 0 or -1 with errno.
 */
int
util_write_file(const char *path, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t w;
	int fd;

	do
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (fd == -1 && errno == EINTR);
	if (fd == -1)
		return -1;
	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1) {
			close_keep_errno(fd);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	if (close(fd) != 0)
		return -1;
	return 0;
}

static int
mkdir_failed(const char *path)
{
	struct stat st;

	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int
mkdir_one(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		return chmod(path, mode); /* whatever the umask */
	return mkdir_failed(path);
}

/*
 * Creates path and its missing parents; only the directories it creates
 * get mode (exactly, whatever the umask).  0, or -1 with errno.
 */
int
util_mkdir_p(const char *path, unsigned int mode)
{
	char *copy, *p;
	int rc = -1;

	if (path == NULL || *path == '\0') {
		errno = ENOENT;
		return -1;
	}
	/* Usually only the last component is missing: try it first. */
	if (mkdir(path, mode) == 0)
		return chmod(path, mode);
	if (errno != ENOENT)
		return mkdir_failed(path);
	copy = xstrdup(path);
	for (p = copy + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir_one(copy, mode) != 0)
			goto out;
		*p = '/';
	}
	rc = mkdir_one(copy, mode);
out:
	free(copy);
	return rc;
}

static void
strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t want;

	if (extra > SIZE_MAX - sb->len - 1)
		fatal("strbuf too large");
	want = sb->len + extra + 1;
	if (want <= sb->cap)
		return;
	if (sb->cap == 0)
		sb->cap = 64;
	while (sb->cap < want)
		sb->cap = sb->cap > SIZE_MAX / 2 ? want : sb->cap * 2;
	sb->buf = xrealloc(sb->buf, sb->cap);
}

/* An empty string: buf is always a valid NUL-terminated string. */
void
strbuf_init(struct strbuf *sb)
{
	sb->len = 0;
	sb->cap = 0;
	sb->buf = NULL;
	strbuf_grow(sb, 0);
	sb->buf[0] = '\0';
}

/* Frees the buffer; the strbuf may be init'ed again.  NULL-safe. */
void
strbuf_release(struct strbuf *sb)
{
	if (sb == NULL)
		return;
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

/* Appends n bytes (which may contain NULs). */
void
strbuf_add(struct strbuf *sb, const void *p, size_t n)
{
	strbuf_grow(sb, n);
	if (n > 0)
		memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

/* Appends a C string. */
void
strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

/* Appends printf-formatted text. */
void
strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("vsnprintf: %s", strerror(errno));
	strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	sb->len += (size_t)n;
}

/* The string, now the caller's to free; the strbuf is left empty. */
char *
strbuf_detach(struct strbuf *sb)
{
	char *p = sb->buf;

	if (p == NULL)
		p = xstrdup("");
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return p;
}

/* An empty vector: v is always a valid NULL-terminated array. */
void
strvec_init(struct strvec *sv)
{
	sv->n = 0;
	sv->cap = 4;
	sv->v = xcalloc(sv->cap, sizeof *sv->v);
}

static void
strvec_push_owned(struct strvec *sv, char *s)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap < 4 ? 4 : sv->cap * 2;
		sv->v = xreallocarray(sv->v, sv->cap, sizeof *sv->v);
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

/* Appends a copy of s. */
void
strvec_push(struct strvec *sv, const char *s)
{
	strvec_push_owned(sv, xstrdup(s));
}

/* Appends a printf-formatted string. */
void
strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	strvec_push_owned(sv, s);
}

/* Frees every string and the array; NULL-safe, may be init'ed again. */
void
strvec_release(struct strvec *sv)
{
	size_t i;

	if (sv == NULL)
		return;
	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

/* A deep copy the caller frees with strv_free(); NULL in, NULL out. */
char **
strv_dup(char *const *v)
{
	size_t i, n;
	char **copy;

	if (v == NULL)
		return NULL;
	n = strv_len(v);
	copy = xcalloc(n + 1, sizeof *copy);
	for (i = 0; i < n; i++)
		copy[i] = xstrdup(v[i]);
	return copy;
}

/* Frees a NULL-terminated array and its strings; NULL-safe. */
void
strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Number of strings before the NULL; 0 for NULL. */
size_t
strv_len(char *const *v)
{
	size_t n = 0;

	if (v == NULL)
		return 0;
	while (v[n] != NULL)
		n++;
	return n;
}

static char *user_name;
static pthread_once_t user_name_once = PTHREAD_ONCE_INIT;

/* Reads the password database (a file, or NSS) once per process. */
static void
user_name_init(void)
{
	struct passwd pw, *res = NULL;
	long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = sz > 0 ? (size_t)sz : 1024;
	uid_t uid = getuid();
	char *buf = NULL, *name = NULL;
	int rc;

	for (;;) {
		buf = xrealloc(buf, len);
		rc = getpwuid_r(uid, &pw, buf, len, &res);
		if (rc != ERANGE || len > 1024 * 1024)
			break;
		len *= 2;
	}
	if (rc == 0 && res != NULL && pw.pw_name != NULL && *pw.pw_name != '\0')
		name = xstrdup(pw.pw_name);
	else
		name = xasprintf("%lu", (unsigned long)uid);
	free(buf);
	user_name = name;
}

/* The login name of the real uid, or the uid as a number; caller frees. */
char *
util_user_name(void)
{
	pthread_once(&user_name_once, user_name_init);
	return xstrdup(user_name);
}

/* This host's name (or "localhost" if it has none); caller frees. */
char *
util_host_name(void)
{
	char buf[256];
	struct utsname u;

	if (gethostname(buf, sizeof buf) == 0) {
		buf[sizeof buf - 1] = '\0';
		if (buf[0] != '\0')
			return xstrdup(buf);
	}
	if (uname(&u) == 0 && u.nodename[0] != '\0')
		return xstrdup(u.nodename);
	return xstrdup("localhost");
}

static int
has_git(const char *dir)
{
	struct stat st;
	char *p;
	int found;

	p = xasprintf("%s/.git", strcmp(dir, "/") == 0 ? "" : dir);
	found = stat(p, &st) == 0 &&
		(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));
	free(p);
	return found;
}

/*
 * The realpath of the nearest directory at or above dir holding a .git
 * directory or file, else the realpath of dir; caller frees.  NULL with
 * errno if dir cannot be resolved.
 */
char *
util_project_of(const char *dir)
{
	char *real, *cur, *slash;
	struct stat st;

	if ((real = realpath(dir, NULL)) == NULL)
		return NULL;
	if (stat(real, &st) != 0) {
		free(real);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		free(real);
		errno = ENOTDIR;
		return NULL;
	}
	cur = xstrdup(real);
	for (;;) {
		if (has_git(cur)) {
			free(real);
			return cur;
		}
		if (strcmp(cur, "/") == 0)
			break;
		slash = strrchr(cur, '/');
		if (slash == cur)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(cur);
	return real;
}
