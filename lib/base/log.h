/* base/log.h - JSON-lines logging: one object per line, one write(2) per line.
 * Threads: any. Operational lines go to stderr, access lines (tt_log_begin_access) to stdout.
 * A line is built in a fixed 4 KiB buffer on the caller's stack, truncated (and marked
 * "trunc":true) if longer, so lines from different threads never interleave (PIPE_BUF).
 * Levels come from TT_LOG, e.g. "info" or "warn,proxy=debug"; a disabled begin costs a compare. */
#ifndef TT_BASE_LOG_H
#define TT_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"

enum tt_log_level {
    TT_LOG_DEBUG = 0,
    TT_LOG_INFO,
    TT_LOG_WARN,
    TT_LOG_ERROR,
    TT_LOG_OFF,
};

struct tt_logline {
    char buf[4096];
    size_t len;
    int fd;
    bool trunc;
};

/* Reads TT_LOG. Safe to call more than once; the last call wins. Call before threads start. */
void tt_log_configure(const char *spec);
bool tt_log_enabled(enum tt_log_level level, const char *mod);

/* Starts a line with ts, level, mod, msg. Returns false (and writes nothing) when disabled. */
bool tt_log_begin(struct tt_logline *l, enum tt_log_level level, const char *mod, const char *msg);
/* Starts an access line on stdout: {"ts":..,"type":"access". Returns false when access logs
 * are off (TT_LOG contains access=off). */
bool tt_log_begin_access(struct tt_logline *l);
void tt_log_str(struct tt_logline *l, const char *key, const char *val);
void tt_log_slice(struct tt_logline *l, const char *key, struct tt_slice val);
void tt_log_int(struct tt_logline *l, const char *key, long long val);
void tt_log_double(struct tt_logline *l, const char *key, double val);
void tt_log_bool(struct tt_logline *l, const char *key, bool val);
void tt_log_end(struct tt_logline *l);

/* One-call helper for simple lines: tt_logf(TT_LOG_INFO, "cmd", "listening", "port=%d", 80)
 * puts the formatted text in a "detail" field. */
void tt_logf(enum tt_log_level level, const char *mod, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
