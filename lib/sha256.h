#ifndef BATON_LIB_SHA256_H
#define BATON_LIB_SHA256_H

#include <stddef.h>

/*
 * SHA-256 (FIPS 180-4) of buf[0..len) as 64 lower-case hex digits and a
 * NUL, into out.  What `baton config trust` records of a file.
 */
void sha256_hex(const void *buf, size_t len, char out[65]);

#endif
