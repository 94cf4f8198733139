/* base/base.h - small helpers every module uses: container_of, array sizes, likely/unlikely.
 * Threads: any. No state. */
#ifndef TT_BASE_BASE_H
#define TT_BASE_BASE_H

#include <stddef.h>

#define TT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define tt_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define TT_LIKELY(x)     __builtin_expect(!!(x), 1)
#define TT_UNLIKELY(x)   __builtin_expect(!!(x), 0)
#define TT_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define TT_MAX(a, b)     ((a) > (b) ? (a) : (b))

/* Always-on invariant check: a violation would corrupt memory, so abort loudly. */
#define TT_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (TT_UNLIKELY(!(cond)))                                                                  \
            tt__assert_fail(#cond, __FILE__, __LINE__);                                            \
    } while (0)

/* Hot-path check: compiled only in debug and sanitizer builds (NDEBUG unset). */
#ifdef NDEBUG
#define TT_DASSERT(cond) ((void)0)
#else
#define TT_DASSERT(cond) TT_ASSERT(cond)
#endif

void tt__assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#endif
