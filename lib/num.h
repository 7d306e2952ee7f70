#ifndef BATON_LIB_NUM_H
#define BATON_LIB_NUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Counts and amounts that come from outside (what an agent reports:
 * tokens, turns, durations, cost) and their sums, kept in range: never
 * negative, never NaN or infinite, never past a cap, whatever was
 * reported or added up.  A count saturates at NUM_COUNT_MAX (2^53 - 1:
 * still exact as a JSON number in any reader, and far below INT64_MAX,
 * so that a sum of two never overflows); an amount in USD at
 * NUM_USD_MAX.
 */
#define NUM_COUNT_MAX ((int64_t)9007199254740991) /* 2^53 - 1 */
#define NUM_USD_MAX   1e12

/* v clamped to [0, NUM_COUNT_MAX]. */
int64_t num_count(int64_t v);
/* A count from a double: NaN and below 0 give 0; past the cap, the cap. */
int64_t num_count_of(double v);
/* a + b on counts, each clamped first, saturating at NUM_COUNT_MAX. */
int64_t num_count_add(int64_t a, int64_t b);
/* v clamped to [0, NUM_USD_MAX]; NaN gives 0, +inf the cap. */
double num_usd(double v);
/* a + b on amounts, each clamped first, saturating at NUM_USD_MAX. */
double num_usd_add(double a, double b);

/*
 * An amount as a person writes it, the one parser for money on the
 * command line and in the configuration: digits with an optional
 * fraction and exponent (5, 0.30, .5, 1e2), read in the C locale
 * whatever LC_NUMERIC says.  No sign, space, hex, inf or nan.  0 and
 * *out, or -1 (out of range too).
 */
int num_parse_decimal(const char *s, double *out);

/*
 * v as the shortest "%g" that reads back as v (plain decimals when not
 * much longer), in the C locale whatever LC_NUMERIC says.
 */
void num_format_decimal(double v, char *buf, size_t size);

#endif
