/* base/time.h - monotonic clock helpers.
 * Threads: any. */
#ifndef TT_BASE_TIME_H
#define TT_BASE_TIME_H

#include <stdint.h>

/* Monotonic milliseconds / nanoseconds since an arbitrary start. */
uint64_t tt_now_ms(void);
uint64_t tt_now_ns(void);

#endif
