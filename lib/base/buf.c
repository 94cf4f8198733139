/* base/buf.c - capped growable buffers. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"

void tt_buf_init(struct tt_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void tt_buf_dispose(struct tt_buf *b)
{
    tt_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int tt_buf_reserve(struct tt_buf *b, size_t n)
{
    size_t need, ncap;
    char *p;

    if (n > b->max || b->len > b->max - n)
        return TT_ERANGE;
    need = b->len + n;
    if (need <= b->cap)
        return 0;
    ncap = b->cap != 0 ? b->cap : 256;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max)
        ncap = b->max;
    if ((p = tt_realloc(b->data, ncap)) == NULL)
        return TT_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int tt_buf_append(struct tt_buf *b, const void *p, size_t n)
{
    int rc;
    if (n == 0)
        return 0;
    if ((rc = tt_buf_reserve(b, n)) != 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int tt_buf_append_str(struct tt_buf *b, const char *s)
{
    return tt_buf_append(b, s, strlen(s));
}

int tt_buf_printf(struct tt_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TT_EINVAL;
    if ((rc = tt_buf_reserve(b, (size_t)n + 1)) != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void tt_buf_consume(struct tt_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
