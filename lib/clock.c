#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/xmalloc.h"

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
clock_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* Milliseconds from an arbitrary start; only differences mean anything. */
int64_t
clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t
clock_boot_ms(void)
{
#ifdef CLOCK_BOOTTIME
	return clock_ms(CLOCK_BOOTTIME);
#else
	return clock_ms(CLOCK_MONOTONIC);
#endif
}

/* The units of a duration, largest first: each may appear once, in this
 * order ("1h30m", "2m30s", "1s500ms"). */
static const struct {
	const char *name;
	int64_t mult;
} duration_units[] = {
	{"w", 7 * MS_PER_D}, {"d", MS_PER_D}, {"h", MS_PER_H},
	{"m", MS_PER_M},     {"s", MS_PER_S}, {"ms", 1},
};
#define N_DURATION_UNITS (sizeof duration_units / sizeof duration_units[0])

/* Digits at *p into *v; their count, or -1 on overflow.  *scale is
 * 10 to the count, for a fraction (of at most 9 digits). */
static int
take_number(const char **p, int64_t *v, int64_t *scale)
{
	int n = 0;

	*v = 0;
	*scale = 1;
	for (; isdigit((unsigned char)**p); (*p)++, n++) {
		if (*v > (INT64_MAX - (**p - '0')) / 10)
			return -1;
		*v = *v * 10 + (**p - '0');
		if (n < 9)
			*scale *= 10;
	}
	return n;
}

/* The unit at *p, at index first or after; advances *p.  -1 if none. */
static int
take_unit(const char **p, size_t first)
{
	size_t i, len;

	for (i = first; i < N_DURATION_UNITS; i++) {
		/* "min" is "m" too: "5min", "1h30min" (the spelling;
		 * SPEC §6 lists "15m") */
		if (strcmp(duration_units[i].name, "m") == 0 &&
		    strncmp(*p, "min", 3) == 0) {
			*p += 3;
			return (int)i;
		}
		len = strlen(duration_units[i].name);
		/* "m" must not take the "m" of "ms" */
		if (strncmp(*p, duration_units[i].name, len) == 0 &&
		    !(len == 1 && (*p)[0] == 'm' && (*p)[1] == 's')) {
			*p += len;
			return (int)i;
		}
	}
	return -1;
}

/*
 * One "<number>[.<fraction>]<unit>" at *p, the unit at index first or
 * after, added to *total.  Returns the unit's index, or -1.
 */
static int
take_part(const char **p, size_t first, int64_t *total)
{
	int64_t whole, frac = 0, scale, fscale = 1, ms, part;
	int u, n;

	if (take_number(p, &whole, &scale) <= 0)
		return -1;
	if (**p == '.') {
		(*p)++;
		n = take_number(p, &frac, &fscale);
		if (n <= 0 || n > 9)
			return -1;
	}
	if ((u = take_unit(p, first)) < 0)
		return -1;
	ms = duration_units[u].mult;
	if (whole > INT64_MAX / ms)
		return -1;
	part = whole * ms;
	/* the fraction must come to whole milliseconds: 1.5h, 0.25s */
	if (frac != 0) {
		if (frac > INT64_MAX / ms || frac * ms % fscale != 0 ||
		    frac * ms / fscale > INT64_MAX - part)
			return -1;
		part += frac * ms / fscale;
	}
	if (part > INT64_MAX - *total)
		return -1;
	*total += part;
	return u;
}

/*
 * Returns 0 and the duration in *ms, or -1 (with *ms untouched).  A
 * bare number is seconds; otherwise one or more parts "<n>[.<f>]<unit>",
 * units w d h m (or min) s ms each at most once, largest first.
 */
int
duration_parse(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t total = 0, v, scale;
	size_t next = 0;
	int u;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	/* "90": seconds */
	if (take_number(&p, &v, &scale) > 0 && *p == '\0') {
		if (v > INT64_MAX / MS_PER_S)
			return -1;
		*ms = v * MS_PER_S;
		return 0;
	}
	for (p = s; *p != '\0'; next = (size_t)u + 1) {
		if (next >= N_DURATION_UNITS ||
		    (u = take_part(&p, next, &total)) < 0)
			return -1;
	}
	*ms = total;
	return 0;
}

char *
duration_error(const char *shown)
{
	return xasprintf("invalid duration '%s': use e.g. 90s, 15m, 1h30m, "
			 "1.5h",
			 shown);
}

/* The shortest exact spelling of ms ("0s", "90s", "15m", "250ms"), to free. */
char *
duration_format(int64_t ms)
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
time_rfc3339(int64_t ms, char *buf, size_t len)
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
time_parse(const char *s, int64_t *ms)
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

/* ---- times for people ---- */

void
time_ago(int64_t delta_ms, char *buf, size_t len)
{
	int64_t s = delta_ms / MS_PER_S;

	if (s < 1)
		snprintf(buf, len, "just now");
	else if (s < 60)
		snprintf(buf, len, "%llds ago", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm ago", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh ago", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lldd ago", (long long)(s / 86400));
}

void
time_local(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)(ms / MS_PER_S);
	char zone[16];

	if (ms == 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
		snprintf(buf, len, "-");
		return;
	}
	/* a zone name where there is one ("UTC", "CET"), else "+0100" */
	if (strftime(zone, sizeof zone, "%Z", &tm) == 0 || zone[0] == '\0' ||
	    strchr(zone, ' ') != NULL)
		strftime(zone, sizeof zone, "%z", &tm);
	snprintf(buf + strlen(buf), len - strlen(buf), " %s", zone);
}
