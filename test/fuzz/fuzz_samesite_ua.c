/* test/fuzz/fuzz_samesite_ua.c - the affinity Set-Cookie writer over arbitrary bytes: the
 * SameSite=None User-Agent rules against a naive byte-by-byte transcription of
 * util/same_site.lua, the writer's output shape for the decoded settings, every buffer size
 * around the exact one (heap buffers of exactly that size, so ASan sees an overflow), and
 * ngx.cookie_time against a year-by-year reference. Input: byte 0 flags (TLS, secure,
 * conditional, SameSite x2, has_expires, has_max_age, domain), bytes 1-24 expires, max_age and
 * now as little-endian int64, byte 25 a buffer-size offset, the rest the User-Agent. Any
 * disagreement traps. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balance/setcookie.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define HEAD 26

static bool contains(const uint8_t *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && p[i + j] == (uint8_t)lit[j])
            j++;
        if (j == m)
            return true;
    }
    return false;
}

static bool ref_incompatible(const uint8_t *p, size_t n)
{
    if (contains(p, n, "Chrome/4") || contains(p, n, "Chrome/5") || contains(p, n, "Chrome/6"))
        return true;
    if (contains(p, n, "CPU iPhone OS 12") || contains(p, n, "iPad; CPU OS 12"))
        return true;
    return contains(p, n, "Macintosh") && contains(p, n, "Intel Mac OS X 10_14") &&
           contains(p, n, "Safari") && !contains(p, n, "Chrome");
}

static int64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return (int64_t)v;
}

/* Year, month, day, second of day by walking years and months from 1970, with ngx_gmtime's
 * clamps. */
static void ref_date(int64_t t, unsigned *y, unsigned *mo, unsigned *d, unsigned *wd, unsigned *sod)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t days;

    if (t < 0)
        t = 0;
    days = t / 86400;
    *sod = (unsigned)(t % 86400);
    if (days > 2932896) {
        days = 2932896;
        *sod = 86399;
    }
    *wd = (unsigned)((4 + days) % 7);
    for (*y = 1970;; (*y)++) {
        bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
        if (days < 365 + leap)
            break;
        days -= 365 + leap;
    }
    for (*mo = 0;; (*mo)++) {
        bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
        unsigned len = mdays[*mo] + (*mo == 1 && leap);
        if (days < len)
            break;
        days -= len;
    }
    *d = (unsigned)days + 1;
}

static char *two(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static void check_date(int64_t t)
{
    static const char week[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char s[TT_SETCOOKIE_DATE_SIZE], want[64], *p = want;
    unsigned y, mo, d, wd, sod;
    size_t n = tt_setcookie_cookie_time(s, t);

    ref_date(t, &y, &mo, &d, &wd, &sod);
    memcpy(p, week + 3 * wd, 3);
    memcpy(p + 3, ", ", 2);
    p = two(p + 5, d);
    *p++ = '-';
    memcpy(p, months + 3 * mo, 3);
    p += 3;
    *p++ = '-';
    if (y > 2037)
        p = two(p, y / 100);
    p = two(p, y % 100);
    *p++ = ' ';
    p = two(p, sod / 3600);
    *p++ = ':';
    p = two(p, sod / 60 % 60);
    *p++ = ':';
    p = two(p, sod % 60);
    memcpy(p, " GMT", 5);
    CHECK(n == strlen(s) && strcmp(s, want) == 0);
}

static int format_into(size_t cap, char *copy, const struct tt_route_affinity *a,
                       struct tt_slice ua, bool tls, int64_t now)
{
    char *b = cap > 0 ? malloc(cap) : NULL;
    int rc;

    if (cap > 0 && b == NULL)
        return -1000;
    rc = tt_setcookie_format(b, cap, a, TT_SLICE_LIT("tok|bk"), tls, ua, now);
    if (rc >= 0) {
        CHECK((size_t)rc < cap && b[rc] == '\0');
        if (copy != NULL)
            memcpy(copy, b, (size_t)rc + 1);
    } else {
        CHECK(rc == TT_ERANGE && (cap == 0 || b[0] == '\0'));
    }
    free(b);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t head[HEAD] = {0};
    struct tt_route_affinity a;
    struct tt_slice ua;
    bool tls, none_expected;
    int64_t now;
    char full[512], other[512];
    int len, rc;
    size_t cap;

    memcpy(head, data, size < HEAD ? size : HEAD);
    ua = size > HEAD ? tt_slice_make((const char *)data + HEAD, size - HEAD)
                     : tt_slice_make(NULL, 0);

    CHECK(tt_setcookie_samesite_none_incompatible(ua) ==
          (ua.len > 0 && ref_incompatible((const uint8_t *)ua.ptr, ua.len)));

    memset(&a, 0, sizeof(a));
    a.enabled = true;
    a.cookie_name = TT_SLICE_LIT("INGRESSCOOKIE");
    a.path = TT_SLICE_LIT("/p");
    tls = head[0] & 1;
    a.secure = head[0] & 2;
    a.conditional_samesite_none = head[0] & 4;
    a.samesite = (enum tt_route_samesite)((head[0] >> 3) & 3);
    a.has_expires = head[0] & 32;
    a.has_max_age = head[0] & 64;
    if (head[0] & 128)
        a.domain = TT_SLICE_LIT("example.com");
    a.expires = get64(head + 1);
    a.max_age = get64(head + 9);
    now = get64(head + 17);

    check_date(a.expires);
    check_date(now);

    len = format_into(sizeof(full), full, &a, ua, tls, now);
    CHECK(len > 0 && (size_t)len + 1 <= 13 + 6 + 2 + 11 + TT_SETCOOKIE_EXTRA);
    CHECK(strncmp(full, "INGRESSCOOKIE=tok|bk", 20) == 0);
    CHECK(strstr(full, "; HttpOnly") != NULL);
    CHECK((strstr(full, "; Secure") != NULL) == (a.secure || tls));
    CHECK((strstr(full, "; Expires=") != NULL) == a.has_expires);
    CHECK((strstr(full, "; Max-Age=") != NULL) == a.has_max_age);
    none_expected = a.samesite == TT_ROUTE_SAMESITE_NONE &&
                    !(a.conditional_samesite_none && ua.len > 0 &&
                      ref_incompatible((const uint8_t *)ua.ptr, ua.len));
    CHECK((strstr(full, "; SameSite=None") != NULL) == none_expected);
    for (int i = 0; i < len; i++)
        CHECK(full[i] >= 0x20 && full[i] < 0x7f);

    /* Exact size fits, one less does not, and a random size agrees with both. */
    CHECK(format_into((size_t)len + 1, other, &a, ua, tls, now) == len);
    CHECK(strcmp(other, full) == 0);
    CHECK(format_into((size_t)len, NULL, &a, ua, tls, now) == TT_ERANGE);
    cap = head[25] % ((size_t)len + 2);
    rc = format_into(cap, other, &a, ua, tls, now);
    CHECK(cap > (size_t)len ? rc == len && strcmp(other, full) == 0 : rc == TT_ERANGE);
    return 0;
}
