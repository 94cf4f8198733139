/* balance/internal.h - helpers shared by the files of lib/balance only: the raw CRC-32
 * register (the ring continues it over 4 bytes per point) and an incremental MD5 (keys hash
 * concatenations without building them). Threads: any; no state. */
#ifndef TT_BALANCE_INTERNAL_H
#define TT_BALANCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32/ISO-HDLC register update without the final XOR: start from 0xffffffff, feed bytes,
 * XOR the result with 0xffffffff to get the CRC. */
uint32_t tt_affinity__crc32_update(uint32_t reg, const void *p, size_t n);

/* MD5 (RFC 1321). */
struct tt_affinity__md5 {
    uint32_t state[4];
    uint64_t length; /* bytes fed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
};

void tt_affinity__md5_init(struct tt_affinity__md5 *c);
void tt_affinity__md5_update(struct tt_affinity__md5 *c, const void *p, size_t n);
/* Finishes and writes 32 lowercase hex digits and a NUL. */
void tt_affinity__md5_hex(struct tt_affinity__md5 *c, char out[33]);

/* Maps 64 random bits to 0..n-1 (n > 0) by multiply-shift; the bias is below n / 2^64. */
static inline uint32_t tt_affinity__below(uint64_t r, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)r * n) >> 64);
}

#endif
