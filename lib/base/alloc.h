/* base/alloc.h - the one allocation path of tether.
 * Threads: any. Every allocation in lib/ and cmd/ goes through these wrappers so that test
 * builds can count outstanding blocks and make the Nth allocation fail (TT_ALLOC_FAIL_AT=N,
 * read once at first use), the way curl's torture tests do. */
#ifndef TT_BASE_ALLOC_H
#define TT_BASE_ALLOC_H

#include <stddef.h>

/* Same contracts as the libc functions: NULL on failure, tt_free(NULL) is a no-op. */
void *tt_malloc(size_t n);
void *tt_calloc(size_t count, size_t n);
void *tt_realloc(void *p, size_t n);
char *tt_strdup(const char *s);
/* Copies at most n bytes of s and NUL-terminates; s need not be NUL-terminated. */
char *tt_strndup(const char *s, size_t n);
void tt_free(void *p);

/* Number of live blocks handed out by the wrappers (counts only; cheap relaxed atomics). */
long tt_alloc_outstanding(void);

#endif
