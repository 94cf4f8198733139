/* base/alloc.c - allocation wrappers with an outstanding-block counter and fault injection. */
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long outstanding;
static atomic_long alloc_count;
static long fail_at = -1; /* -1: not read yet, 0: never fail */

static int should_fail(void)
{
    if (fail_at < 0) {
        const char *e = getenv("TT_ALLOC_FAIL_AT");
        fail_at = e != NULL ? strtol(e, NULL, 10) : 0;
        if (fail_at < 0)
            fail_at = 0;
    }
    if (fail_at == 0)
        return 0;
    return atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed) + 1 == fail_at;
}

void *tt_malloc(size_t n)
{
    void *p;
    if (should_fail())
        return NULL;
    if ((p = malloc(n == 0 ? 1 : n)) != NULL)
        atomic_fetch_add_explicit(&outstanding, 1, memory_order_relaxed);
    return p;
}

void *tt_calloc(size_t count, size_t n)
{
    void *p;
    if (should_fail())
        return NULL;
    if ((p = calloc(count == 0 ? 1 : count, n == 0 ? 1 : n)) != NULL)
        atomic_fetch_add_explicit(&outstanding, 1, memory_order_relaxed);
    return p;
}

void *tt_realloc(void *p, size_t n)
{
    void *q;
    if (p == NULL)
        return tt_malloc(n);
    if (should_fail())
        return NULL;
    q = realloc(p, n == 0 ? 1 : n);
    return q;
}

char *tt_strndup(const char *s, size_t n)
{
    char *d = tt_malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *tt_strdup(const char *s)
{
    return tt_strndup(s, strlen(s));
}

void tt_free(void *p)
{
    if (p == NULL)
        return;
    atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
    free(p);
}

long tt_alloc_outstanding(void)
{
    return atomic_load_explicit(&outstanding, memory_order_relaxed);
}
