/* base/log.c - JSON-lines logger. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_MODS 16

static enum tt_log_level default_level = TT_LOG_INFO;
static bool access_on = true;
static struct {
    char name[16];
    enum tt_log_level level;
} mods[MAX_MODS];
static int n_mods;

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

static int parse_level(const char *s, size_t n, enum tt_log_level *out)
{
    for (int i = 0; i <= TT_LOG_OFF; i++) {
        if (strlen(level_names[i]) == n && strncmp(level_names[i], s, n) == 0) {
            *out = (enum tt_log_level)i;
            return 0;
        }
    }
    return -1;
}

void tt_log_configure(const char *spec)
{
    const char *p = spec;
    default_level = TT_LOG_INFO;
    access_on = true;
    n_mods = 0;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        enum tt_log_level lv;
        if (eq == NULL) {
            if (parse_level(p, n, &lv) == 0)
                default_level = lv;
        } else if ((size_t)(eq - p) == 6 && strncmp(p, "access", 6) == 0) {
            access_on = !(n - 7 == 3 && strncmp(eq + 1, "off", 3) == 0);
        } else if (parse_level(eq + 1, n - (size_t)(eq - p) - 1, &lv) == 0 && n_mods < MAX_MODS &&
                   (size_t)(eq - p) < sizeof(mods[0].name)) {
            memcpy(mods[n_mods].name, p, (size_t)(eq - p));
            mods[n_mods].name[eq - p] = '\0';
            mods[n_mods].level = lv;
            n_mods++;
        }
        p = end != NULL ? end + 1 : NULL;
    }
}

bool tt_log_enabled(enum tt_log_level level, const char *mod)
{
    for (int i = 0; i < n_mods; i++)
        if (strcmp(mods[i].name, mod) == 0)
            return level >= mods[i].level && mods[i].level != TT_LOG_OFF;
    return level >= default_level && default_level != TT_LOG_OFF;
}

/* Everything up to LIMIT is content; the bytes after it are reserved for a closing quote and
 * `,"trunc":true}` plus the newline, so a truncated line is still one valid JSON object. */
#define LIMIT (sizeof(((struct tt_logline *)0)->buf) - 24)

static bool room(const struct tt_logline *l, size_t n)
{
    return !l->trunc && l->len + n <= LIMIT;
}

static void put_raw(struct tt_logline *l, const char *s, size_t n)
{
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static size_t escape_char(unsigned char c, char esc[6])
{
    static const char hex[] = "0123456789abcdef";
    if (c == '"' || c == '\\') {
        esc[0] = '\\';
        esc[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        return 6;
    }
    esc[0] = (char)c;
    return 1;
}

/* Writes a quoted, escaped string; on reaching LIMIT it stops early but still closes the
 * quote (the reserve guarantees room) and marks the line truncated. */
static void put_escaped(struct tt_logline *l, const char *s, size_t n)
{
    put_raw(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char esc[6];
        size_t e = escape_char((unsigned char)s[i], esc);
        if (l->len + e > LIMIT) {
            l->trunc = true;
            break;
        }
        put_raw(l, esc, e);
    }
    put_raw(l, "\"", 1);
}

/* Writes `,"key":` only when it and at least |value_min| bytes of value fit, so no key is left
 * without a value. Keys are program literals and need no escaping. */
static bool put_key(struct tt_logline *l, const char *key, size_t value_min)
{
    size_t k = strlen(key);
    if (!room(l, k + 4 + value_min)) {
        l->trunc = true;
        return false;
    }
    put_raw(l, ",\"", 2);
    put_raw(l, key, k);
    put_raw(l, "\":", 2);
    return true;
}

static void put_ts(struct tt_logline *l)
{
    struct timespec ts;
    struct tm tm;
    char tmp[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(tmp, sizeof(tmp), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000);
    put_raw(l, tmp, (size_t)n);
}

bool tt_log_begin(struct tt_logline *l, enum tt_log_level level, const char *mod, const char *msg)
{
    if (!tt_log_enabled(level, mod))
        return false;
    l->len = 0;
    l->trunc = false;
    l->fd = 2;
    put_ts(l);
    tt_log_str(l, "level", level_names[level]);
    tt_log_str(l, "mod", mod);
    tt_log_str(l, "msg", msg);
    return true;
}

bool tt_log_begin_access(struct tt_logline *l)
{
    if (!access_on)
        return false;
    l->len = 0;
    l->trunc = false;
    l->fd = 1;
    put_ts(l);
    tt_log_str(l, "type", "access");
    return true;
}

void tt_log_str(struct tt_logline *l, const char *key, const char *val)
{
    if (!put_key(l, key, 4))
        return;
    if (val == NULL)
        put_raw(l, "null", 4);
    else
        put_escaped(l, val, strlen(val));
}

void tt_log_slice(struct tt_logline *l, const char *key, struct tt_slice val)
{
    if (put_key(l, key, 2))
        put_escaped(l, val.ptr != NULL ? val.ptr : "", val.len);
}

void tt_log_int(struct tt_logline *l, const char *key, long long val)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%lld", val);
    if (put_key(l, key, (size_t)n))
        put_raw(l, tmp, (size_t)n);
}

void tt_log_double(struct tt_logline *l, const char *key, double val)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof(tmp), "%.3f", val);
    if (put_key(l, key, (size_t)n))
        put_raw(l, tmp, (size_t)n);
}

void tt_log_bool(struct tt_logline *l, const char *key, bool val)
{
    if (put_key(l, key, 5))
        put_raw(l, val ? "true" : "false", val ? 4 : 5);
}

void tt_log_end(struct tt_logline *l)
{
    if (l->trunc) {
        memcpy(l->buf + l->len, ",\"trunc\":true", 13); /* the reserve always fits it */
        l->len += 13;
    }
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    /* One write keeps lines whole; a short write to a full pipe is rare and only loses log. */
    ssize_t rc = write(l->fd, l->buf, l->len);
    (void)rc;
}

void tt_logf(enum tt_log_level level, const char *mod, const char *msg, const char *fmt, ...)
{
    struct tt_logline l;
    char detail[1024];
    va_list ap;
    if (!tt_log_begin(&l, level, mod, msg))
        return;
    if (fmt != NULL && *fmt != '\0') {
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        tt_log_str(&l, "detail", detail);
    }
    tt_log_end(&l);
}
