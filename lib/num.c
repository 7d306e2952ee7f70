/*
 * Saturating counts and amounts (see num.h).
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/num.h"

int64_t
num_count(int64_t v)
{
	if (v < 0)
		return 0;
	return v > NUM_COUNT_MAX ? NUM_COUNT_MAX : v;
}

int64_t
num_count_of(double v)
{
	if (!(v > 0)) /* NaN too */
		return 0;
	if (v >= (double)NUM_COUNT_MAX)
		return NUM_COUNT_MAX;
	return (int64_t)v;
}

int64_t
num_count_add(int64_t a, int64_t b)
{
	/* both at most 2^53 - 1: the sum fits in an int64_t */
	return num_count(num_count(a) + num_count(b));
}

double
num_usd(double v)
{
	if (!(v > 0)) /* NaN too */
		return 0;
	return v > NUM_USD_MAX ? NUM_USD_MAX : v;
}

double
num_usd_add(double a, double b)
{
	return num_usd(num_usd(a) + num_usd(b));
}

/*
 * strtod() and printf("%g") in the C locale whatever the process's
 * LC_NUMERIC, so "1.25" means the same everywhere.
 */
static locale_t
c_numeric_begin(locale_t *old)
{
	locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);

	*old = (locale_t)0;
	if (c != (locale_t)0)
		*old = uselocale(c);
	return c;
}

static void
c_numeric_end(locale_t c, locale_t old)
{
	if (c == (locale_t)0)
		return;
	uselocale(old);
	freelocale(c);
}

/* digits [. digits] [e [+-] digits], nothing else (no inf, nan, hex). */
static int
decimal_syntax(const char *s)
{
	size_t n = 0;

	while (*s >= '0' && *s <= '9')
		s++, n++;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++, n++;
	}
	if (n == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* See num.h. */
int
num_parse_decimal(const char *s, double *out)
{
	locale_t c, old;
	char *end;
	double v;
	int saved;

	if (!decimal_syntax(s))
		return -1;
	c = c_numeric_begin(&old);
	errno = 0;
	v = strtod(s, &end);
	saved = errno;
	c_numeric_end(c, old);
	if (saved != 0 || *end != '\0' || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* See num.h. */
void
num_format_decimal(double v, char *buf, size_t size)
{
	locale_t c, old;
	char fixed[64];
	int prec;

	c = c_numeric_begin(&old);
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (strchr(buf, 'e') != NULL) {
		for (prec = 0; prec <= 17; prec++) {
			snprintf(fixed, sizeof fixed, "%.*f", prec, v);
			if (strtod(fixed, NULL) == v)
				break;
		}
		if (prec <= 17 && strlen(fixed) <= 12 && strlen(fixed) < size)
			memcpy(buf, fixed, strlen(fixed) + 1);
	}
	c_numeric_end(c, old);
}
