/*
 * Saturating counts and amounts (see num.h).
 */
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
