/* base/buf.h - growable byte buffers with a hard cap (curl's dynbuf).
 * Threads: a buffer belongs to one thread at a time. Appending past |max| fails with TT_ERANGE
 * and leaves the contents unchanged, so callers can answer 431/413 or apply backpressure. */
#ifndef TT_BASE_BUF_H
#define TT_BASE_BUF_H

#include <stddef.h>

#include "base/slice.h"

struct tt_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;
};

void tt_buf_init(struct tt_buf *b, size_t max);
void tt_buf_dispose(struct tt_buf *b); /* frees data; the buffer can be reused after init */
/* Ensures room for |n| more bytes. 0, TT_ENOMEM or TT_ERANGE (cap reached). */
int tt_buf_reserve(struct tt_buf *b, size_t n);
int tt_buf_append(struct tt_buf *b, const void *p, size_t n);
static inline int tt_buf_append_slice(struct tt_buf *b, struct tt_slice s)
{
    return tt_buf_append(b, s.ptr, s.len);
}
int tt_buf_append_str(struct tt_buf *b, const char *s);
int tt_buf_printf(struct tt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Removes the first |n| bytes (n <= len). */
void tt_buf_consume(struct tt_buf *b, size_t n);
static inline void tt_buf_reset(struct tt_buf *b)
{
    b->len = 0;
}

#endif
