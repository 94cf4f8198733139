/* balance/setcookie.c - the affinity cookie's Set-Cookie value as ingress-nginx writes it.
 * Sources (read, not copied): ingress-nginx rootfs/etc/nginx/lua/balancer/sticky.lua
 * (set_cookie: which attributes, secure fallback, conditional SameSite), util/same_site.lua
 * (the User-Agent rules), lua-resty-cookie's bake (attribute order and spelling, SameSite only
 * when exactly Strict/Lax/None), nginx's ngx_http_cookie_time and ngx_gmtime (the date), and
 * LuaJIT's lj_strfmt_num (how a Lua number is written by "..", i.e. %.14g rounding half up). */
#include "balance/setcookie.h"

#include <limits.h>
#include <string.h>

/* Last second ngx_gmtime represents: 9999-12-31 23:59:59 is day 2932896, second 86399. */
#define LAST_DAY 2932896

/* An append-only cursor that counts everything but stores only what fits with a NUL. */
struct out {
    char *buf;
    size_t cap;
    size_t len;
};

static void put(struct out *o, const char *p, size_t n)
{
    if (n > 0 && o->len < o->cap && n < o->cap - o->len)
        memcpy(o->buf + o->len, p, n);
    o->len = o->len + n >= o->len ? o->len + n : SIZE_MAX; /* saturate, never wrap */
}

static void put_slice(struct out *o, struct tt_slice s)
{
    put(o, s.ptr, s.len);
}

#define PUT_LIT(o, s) put((o), (s), sizeof(s) - 1)

/* ---- the date (ngx_http_cookie_time over ngx_gmtime) ---- */

static char *two(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

size_t tt_setcookie_cookie_time(char out[TT_SETCOOKIE_DATE_SIZE], int64_t t)
{
    static const char week[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    uint64_t days, sec;
    unsigned doe, yoe, doy, mp, mday, mon, year;
    char *p = out;

    if (t < 0)
        t = 0;
    days = (uint64_t)t / 86400;
    sec = (uint64_t)t % 86400;
    if (days > LAST_DAY) {
        days = LAST_DAY;
        sec = 86399;
    }
    /* Civil from days (H. Hinnant's algorithm) for days >= 0: shift the epoch to 0000-03-01
     * so that leap days fall at the end of each year, then split into 400-year eras. */
    {
        uint64_t z = days + 719468;
        uint64_t era = z / 146097;
        doe = (unsigned)(z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        mday = doy - (153 * mp + 2) / 5 + 1;
        mon = mp < 10 ? mp + 3 : mp - 9;
        year = (unsigned)(era * 400 + yoe) + (mon <= 2);
    }
    memcpy(p, week[(4 + days) % 7], 3); /* 1970-01-01 was a Thursday */
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = two(p, mday);
    *p++ = '-';
    memcpy(p, months[mon - 1], 3);
    p += 3;
    *p++ = '-';
    if (year > 2037) { /* nginx: "Netscape 3.x does not understand 4-digit years" */
        p = two(p, year / 100);
        p = two(p, year % 100);
    } else {
        p = two(p, year % 100);
    }
    *p++ = ' ';
    p = two(p, (unsigned)(sec / 3600));
    *p++ = ':';
    p = two(p, (unsigned)(sec / 60 % 60));
    *p++ = ':';
    p = two(p, (unsigned)(sec % 60));
    memcpy(p, " GMT", 5);
    return (size_t)(p + 4 - out);
}

/* ---- Max-Age (a Lua number concatenated into a string) ---- */

static size_t put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* Writes |n| as LuaJIT writes the double tonumber() makes of it: "%.14g", with the 14-digit
 * rounding done half up on the exact value (lj_strfmt_wfnum adds 5 below the last digit).
 * Below 1e14 that is the integer itself. At most 20 bytes, no NUL. */
static size_t lua_number(char out[24], int64_t n)
{
    double d = (double)n; /* the int64 rounds to the nearest double, as tonumber does */
    uint64_t m = n < 0 ? (uint64_t)(-d) : (uint64_t)d; /* |d| <= 2^63 fits */
    char digits[20];
    size_t k, keep, len = 0;
    unsigned exp;

    if (n < 0)
        out[len++] = '-';
    if (m < 100000000000000ull)
        return len + put_u64(out + len, m);
    k = put_u64(digits, m); /* 15..19 digits */
    exp = (unsigned)k - 1;
    if (digits[14] >= '5') { /* round half up at 14 significant digits */
        size_t i = 14;
        while (i > 0 && digits[i - 1] == '9')
            digits[--i] = '0';
        if (i == 0) { /* 99999999999999.5e+x -> 1e+(x+1) */
            digits[0] = '1';
            exp++;
        } else {
            digits[i - 1]++;
        }
    }
    keep = 14;
    while (keep > 1 && digits[keep - 1] == '0')
        keep--;
    out[len++] = digits[0];
    if (keep > 1) {
        out[len++] = '.';
        memcpy(out + len, digits + 1, keep - 1);
        len += keep - 1;
    }
    out[len++] = 'e';
    out[len++] = '+';
    len += put_u64(out + len, exp); /* 14..19: always two digits */
    return len;
}

/* ---- the User-Agent rules (util/same_site.lua) ---- */

static bool has(struct tt_slice s, const char *lit, size_t n)
{
    return s.len >= n && memmem(s.ptr, s.len, lit, n) != NULL;
}

#define HAS(s, lit) has((s), (lit), sizeof(lit) - 1)

bool tt_setcookie_samesite_none_incompatible(struct tt_slice ua)
{
    if (ua.len == 0)
        return false;
    /* Chrome 51-66 reject SameSite=None; ingress-nginx approximates them by the first digit
     * of the major version (4x, 5x, 6x, also 4, 5, 6 and 400+). */
    if (HAS(ua, "Chrome/4") || HAS(ua, "Chrome/5") || HAS(ua, "Chrome/6"))
        return true;
    /* iOS 12 and macOS 10.14 Safari treat None as Strict (WebKit bug 198181). */
    if (HAS(ua, "CPU iPhone OS 12") || HAS(ua, "iPad; CPU OS 12"))
        return true;
    return HAS(ua, "Macintosh") && HAS(ua, "Intel Mac OS X 10_14") && HAS(ua, "Safari") &&
           !HAS(ua, "Chrome");
}

/* ---- the header value ---- */

int tt_setcookie_format(char *buf, size_t cap, const struct tt_route_affinity *a,
                        struct tt_slice value, bool request_is_tls, struct tt_slice user_agent,
                        int64_t now_unix)
{
    struct out o = {buf, cap, 0};
    char tmp[32];
    size_t n;

    put_slice(&o, a->cookie_name);
    PUT_LIT(&o, "=");
    put_slice(&o, value);
    if (a->has_expires) {
        int64_t t;
        if (__builtin_add_overflow(now_unix, a->expires, &t))
            t = a->expires > 0 ? INT64_MAX : INT64_MIN;
        n = tt_setcookie_cookie_time(tmp, t);
        PUT_LIT(&o, "; Expires=");
        put(&o, tmp, n);
    }
    if (a->has_max_age) {
        n = lua_number(tmp, a->max_age);
        PUT_LIT(&o, "; Max-Age=");
        put(&o, tmp, n);
    }
    if (a->domain.len > 0) {
        PUT_LIT(&o, "; Domain=");
        put_slice(&o, a->domain);
    }
    /* sticky.lua always passes a path (the annotation, else $location_path, never nil), and
     * bake writes it even when empty. */
    PUT_LIT(&o, "; Path=");
    put_slice(&o, a->path);
    if (a->secure || request_is_tls)
        PUT_LIT(&o, "; Secure");
    PUT_LIT(&o, "; HttpOnly");
    switch (a->samesite) {
    case TT_ROUTE_SAMESITE_NONE:
        if (!a->conditional_samesite_none || !tt_setcookie_samesite_none_incompatible(user_agent))
            PUT_LIT(&o, "; SameSite=None");
        break;
    case TT_ROUTE_SAMESITE_LAX:
        PUT_LIT(&o, "; SameSite=Lax");
        break;
    case TT_ROUTE_SAMESITE_STRICT:
        PUT_LIT(&o, "; SameSite=Strict");
        break;
    case TT_ROUTE_SAMESITE_UNSET:
        break;
    }
    if (o.len >= cap || o.len > INT_MAX) {
        if (cap > 0)
            buf[0] = '\0';
        return TT_ERANGE;
    }
    buf[o.len] = '\0';
    return (int)o.len;
}
