/* base/slice.h - non-owning byte ranges (haproxy's ist, h2o's iovec).
 * Threads: any. A slice is valid only while the memory it points into is. */
#ifndef TT_BASE_SLICE_H
#define TT_BASE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct tt_slice {
    const char *ptr;
    size_t len;
};

#define TT_SLICE_LIT(s) ((struct tt_slice){(s), sizeof(s) - 1})

static inline struct tt_slice tt_slice_make(const char *p, size_t n)
{
    return (struct tt_slice){p, n};
}

static inline struct tt_slice tt_slice_cstr(const char *s)
{
    return (struct tt_slice){s, s != NULL ? strlen(s) : 0};
}

static inline bool tt_slice_eq(struct tt_slice a, struct tt_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* ASCII case-insensitive equality (header names, host names). */
bool tt_slice_eq_nocase(struct tt_slice a, struct tt_slice b);

/* Trims optional whitespace (SP / HTAB) on both ends. */
struct tt_slice tt_slice_trim(struct tt_slice s);

/* Parses a non-negative decimal that fits in uint64 with no sign, spaces or overflow.
 * Returns 0 and sets *out, or -1. */
int tt_slice_to_u64(struct tt_slice s, unsigned long long *out);

#endif
