/* base/hash.h - FNV-1a 64, the project's one hash for in-memory indexes (open addressing,
 * pool buckets). Not for anything an attacker could aim at for more than slower probing: every
 * index that uses it stays at most half full and compares keys.
 * Threads: any. Pure functions. */
#ifndef TT_BASE_HASH_H
#define TT_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The FNV offset basis; XOR something into it to hash a key that has more than bytes. */
#define TT_HASH_SEED 0xcbf29ce484222325ull

static inline uint64_t tt_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static inline uint64_t tt_hash_str(const char *s, uint64_t seed)
{
    uint64_t h = seed;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

#endif
