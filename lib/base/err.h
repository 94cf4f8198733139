/* base/err.h - error codes and the reason buffer the control plane logs.
 * Threads: any. TT_E* share the negative-errno space with libuv's UV_E*, so a uv_* return
 * value passes through unchanged; tt_strerror() names ours and plain errnos. */
#ifndef TT_BASE_ERR_H
#define TT_BASE_ERR_H

#include <errno.h>

enum {
    TT_OK = 0,
    TT_ENOMEM = -ENOMEM,
    TT_EINVAL = -EINVAL,
    TT_ENOENT = -ENOENT,
    TT_ERANGE = -ERANGE,
    TT_EIO = -EIO,
    TT_EEXIST = -EEXIST,
    /* Project-specific codes live below every errno value. */
    TT_EPARSE = -4200, /* malformed input document */
    TT_ESKIP = -4201,  /* valid input we deliberately ignore */
};

struct tt_err {
    int code;
    char msg[160];
};

/* Formats msg into |err| (when not NULL) and returns |code|, so callers write
 * `return tt_err_set(err, TT_EINVAL, "...")`. */
int tt_err_set(struct tt_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Static description of a TT_E* or negative errno code. Never NULL. */
const char *tt_strerror(int code);

#endif
