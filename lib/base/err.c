/* base/err.c - error helpers and the always-on assertion handler. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int tt_err_set(struct tt_err *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

const char *tt_strerror(int code)
{
    switch (code) {
    case TT_OK:
        return "success";
    case TT_EPARSE:
        return "malformed input";
    case TT_ESKIP:
        return "ignored";
    default:
        return code < 0 && code > -4096 ? strerror(-code) : "unknown error";
    }
}

void tt__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"assertion failed\",\"expr\":\"%s\",\"at\":\"%s:%d\"}\n",
            expr, file, line);
    abort();
}
