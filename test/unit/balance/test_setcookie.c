/* test/unit/balance/test_setcookie.c - the affinity Set-Cookie writer: every re-issued
 * Set-Cookie string of the Appendix A vectors rebuilt through tt_affinity_choose and
 * tt_setcookie_format; every attribute combination against an independent snprintf model of
 * lua-resty-cookie's bake; literal strings; ngx.cookie_time across the epoch, leap years,
 * 2038, the 4-digit-year switch and the 9999 clamp (plus a sweep against gmtime_r); Max-Age as
 * LuaJIT writes numbers; every too-small buffer (exact-size heap buffers, so ASan sees any
 * overflow); and real User-Agent strings for each SameSite=None rule of util/same_site.lua. */
/* cmocka.h needs these four first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "balance/affinity.h"
#include "balance/setcookie.h"
#include "base/base.h"
#include "unit/leakcheck.h"
#include "vectors.h"

/* The defaults when only "affinity: cookie" is given, on path "/". */
static struct tt_route_affinity defaults(void)
{
    struct tt_route_affinity a;
    memset(&a, 0, sizeof(a));
    a.enabled = true;
    a.cookie_name = TT_SLICE_LIT("INGRESSCOOKIE");
    a.path = TT_SLICE_LIT("/");
    return a;
}

static const struct tt_slice no_ua = {NULL, 0};

/* Formats into a heap buffer of exactly |cap| bytes (so ASan catches any write past it). */
static int format_exact(size_t cap, char *copy, size_t copy_cap, const struct tt_route_affinity *a,
                        struct tt_slice value, bool tls, struct tt_slice ua, int64_t now)
{
    char *b = cap > 0 ? malloc(cap) : NULL;
    int rc;

    if (cap > 0)
        assert_non_null(b);
    rc = tt_setcookie_format(b, cap, a, value, tls, ua, now);
    if (rc >= 0) {
        assert_true((size_t)rc < cap);
        assert_int_equal(b[rc], '\0');
        assert_int_equal(strlen(b), (size_t)rc);
        assert_true((size_t)rc < copy_cap);
        memcpy(copy, b, (size_t)rc + 1);
    } else if (cap > 0) {
        assert_int_equal(b[0], '\0');
    }
    free(b);
    return rc;
}

static void expect(const char *want, const struct tt_route_affinity *a, const char *value, bool tls,
                   const char *ua, int64_t now)
{
    char got[1024];
    struct tt_slice u = ua != NULL ? tt_slice_cstr(ua) : no_ua;
    int rc = format_exact(strlen(want) + 1, got, sizeof(got), a, tt_slice_cstr(value), tls, u, now);
    if (rc < 0)
        fail_msg("format failed (%d), want \"%s\"", rc, want);
    if (strcmp(got, want) != 0)
        fail_msg("got  \"%s\"\nwant \"%s\"", got, want);
}

/* ---- Appendix A: every set_cookie string, wherever it appears ---- */

static int n_reissued;

static void check_reissue(const cJSON *root, const char *set_name, const cJSON *obj)
{
    struct vec_set s;
    struct tt_affinity *aff;
    struct tt_affinity_choice ch;
    struct tt_route_affinity a = defaults();
    uint32_t excluded[VEC_MAX_NODES];
    size_t n_ex = 0;
    uint64_t seed = 7;
    int picked;

    vec_set_load(root, set_name, &s);
    picked = vec_set_find(&s, vec_str(obj, "picked"));
    assert_non_null(aff = tt_affinity_new(TT_AFFINITY_PERSISTENT,
                                          tt_slice_cstr(vec_str(root, "backend_name")), s.nodes,
                                          s.n));
    /* The original picked at random; excluding every other node makes the pick certain. */
    for (size_t i = 0; i < s.n; i++) {
        if ((int)i != picked)
            excluded[n_ex++] = (uint32_t)i;
    }
    assert_int_equal(tt_affinity_choose(aff, TT_SLICE_LIT("00000000000000000000000000000000"),
                                        false, excluded, n_ex, vec_rand, &seed, &ch),
                     picked);
    assert_true(ch.issue);
    expect(vec_str(obj, "set_cookie"), &a, ch.value, false, NULL, 1700000000);
    /* A Secure-less, SameSite-less default cookie does not depend on the User-Agent. */
    expect(vec_str(obj, "set_cookie"), &a, ch.value, false,
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) Version/12.1.2 Safari/605.1.15",
           1700000000);
    tt_affinity_free(aff);
    n_reissued++;
}

/* Walks the whole document: any object with a "set_cookie" member is a re-issue example. */
static void walk(const cJSON *root, const cJSON *node, const char *set_name)
{
    const cJSON *c;

    if (cJSON_IsObject(node) && cJSON_GetObjectItemCaseSensitive(node, "set_cookie") != NULL) {
        if (set_name == NULL)
            fail_msg("set_cookie outside an endpoint set");
        check_reissue(root, set_name, node);
    }
    cJSON_ArrayForEach(c, node)
    {
        const char *sn = set_name;
        if (c->string != NULL &&
            cJSON_GetObjectItemCaseSensitive(vec_get(root, "endpoint_sets"), c->string) != NULL)
            sn = c->string;
        walk(root, c, sn);
    }
}

static void test_reissue_vectors(void **state)
{
    cJSON *root = vec_load();
    (void)state;

    n_reissued = 0;
    walk(root, root, NULL);
    assert_int_equal(n_reissued, 4); /* E1-E4 persistent_unknown_key_reissue */
    cJSON_Delete(root);
}

/* ---- literal strings ---- */

static void test_literals(void **state)
{
    struct tt_route_affinity a = defaults();
    const char *v = "1700000001.123.4821.77310|5d41402abc4b2a76b9719d911017c592";
    (void)state;

    /* spec/ingress-nginx-annotations.md §2.2 and affinity-cookie-algorithms.md §4.1 */
    expect("INGRESSCOOKIE=1700000001.123.4821.77310|5d41402abc4b2a76b9719d911017c592; Path=/; "
           "HttpOnly",
           &a, v, false, NULL, 0);
    expect("INGRESSCOOKIE=7ac8b04bc2f10abf286b869b2ae7fa50|ef2c5dc5fe4d202a037964d893c45720; "
           "Path=/; HttpOnly",
           &a, "7ac8b04bc2f10abf286b869b2ae7fa50|ef2c5dc5fe4d202a037964d893c45720", false, NULL, 0);
    expect("INGRESSCOOKIE=t|k; Path=/; Secure; HttpOnly", &a, "t|k", true, NULL, 0);

    a.cookie_name = TT_SLICE_LIT("route");
    a.path = TT_SLICE_LIT("/app");
    a.domain = TT_SLICE_LIT(".example.com");
    a.has_expires = true;
    a.expires = 172800;
    a.has_max_age = true;
    a.max_age = 172800;
    a.secure = true;
    a.samesite = TT_ROUTE_SAMESITE_STRICT;
    expect("route=t|k; Expires=Thu, 16-Nov-23 22:13:20 GMT; Max-Age=172800; "
           "Domain=.example.com; Path=/app; Secure; HttpOnly; SameSite=Strict",
           &a, "t|k", false, NULL, 1700000000);
    a.samesite = TT_ROUTE_SAMESITE_LAX;
    a.secure = false;
    expect("route=t|k; Expires=Thu, 16-Nov-23 22:13:20 GMT; Max-Age=172800; "
           "Domain=.example.com; Path=/app; HttpOnly; SameSite=Lax",
           &a, "t|k", false, NULL, 1700000000);

    /* Zero and negative: Expires = now or earlier (clamped at the epoch), Max-Age as given. */
    a = defaults();
    a.has_expires = true;
    a.has_max_age = true;
    expect("INGRESSCOOKIE=v; Expires=Tue, 14-Nov-23 22:13:20 GMT; Max-Age=0; Path=/; HttpOnly", &a,
           "v", false, NULL, 1700000000);
    a.expires = -1;
    a.max_age = -1;
    expect("INGRESSCOOKIE=v; Expires=Tue, 14-Nov-23 22:13:19 GMT; Max-Age=-1; Path=/; HttpOnly", &a,
           "v", false, NULL, 1700000000);
    a.expires = -1700000001;
    expect("INGRESSCOOKIE=v; Expires=Thu, 01-Jan-70 00:00:00 GMT; Max-Age=-1; Path=/; HttpOnly", &a,
           "v", false, NULL, 1700000000);
    a.expires = INT64_MIN;
    expect("INGRESSCOOKIE=v; Expires=Thu, 01-Jan-70 00:00:00 GMT; Max-Age=-1; Path=/; HttpOnly", &a,
           "v", false, NULL, 1700000000);
    a.expires = INT64_MAX; /* saturates, then ngx_gmtime's 9999 clamp */
    a.max_age = INT64_MAX;
    expect("INGRESSCOOKIE=v; Expires=Fri, 31-Dec-9999 23:59:59 GMT; "
           "Max-Age=9.2233720368548e+18; Path=/; HttpOnly",
           &a, "v", false, NULL, 1700000000);
    /* A cookie that outlives 2037 gets a 4-digit year. */
    a.expires = 31536000 * 15;
    a.has_max_age = false;
    expect("INGRESSCOOKIE=v; Expires=Wed, 10-Nov-2038 22:13:20 GMT; Path=/; HttpOnly", &a, "v",
           false, NULL, 1700000000);

    /* An empty value and an empty path are written as they are (bake's "" is truthy). */
    a = defaults();
    a.path = tt_slice_make(NULL, 0);
    expect("INGRESSCOOKIE=; Path=; HttpOnly", &a, "", false, NULL, 0);
}

/* ---- every attribute combination against a model of bake ---- */

static const char *const uas[2] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 12_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/12.0 Mobile/15E148 Safari/604.1",
};

static void model_date(char *out, size_t cap, time_t t)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    int year;

    assert_non_null(gmtime_r(&t, &tm));
    year = tm.tm_year + 1900;
    snprintf(out, cap, "%s, %02d-%s-%02d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
             mo[tm.tm_mon], year > 2037 ? year : year % 100, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void model(char *out, size_t cap, const struct tt_route_affinity *a, const char *value,
                  bool tls, int ua, int64_t now)
{
    static const char *const ss[] = {NULL, "None", "Lax", "Strict"};
    const char *samesite = ss[a->samesite];
    char date[64] = "", maxage[32] = "";
    int n;

    if (a->has_expires)
        model_date(date, sizeof(date), (time_t)(now + a->expires));
    if (a->has_max_age)
        snprintf(maxage, sizeof(maxage), "%lld", (long long)a->max_age);
    /* sticky.lua: drop None for the (known) incompatible agent, uas[1] */
    if (a->conditional_samesite_none && a->samesite == TT_ROUTE_SAMESITE_NONE && ua == 1)
        samesite = NULL;
    n = snprintf(out, cap, "%.*s=%s%s%s%s%s%s%.*s; Path=%.*s%s; HttpOnly%s%s",
                 (int)a->cookie_name.len, a->cookie_name.ptr, value,
                 a->has_expires ? "; Expires=" : "", date, a->has_max_age ? "; Max-Age=" : "",
                 maxage, a->domain.len ? "; Domain=" : "", (int)a->domain.len,
                 a->domain.ptr != NULL ? a->domain.ptr : "", (int)a->path.len, a->path.ptr,
                 a->secure || tls ? "; Secure" : "", samesite ? "; SameSite=" : "",
                 samesite ? samesite : "");
    assert_true(n > 0 && (size_t)n < cap);
}

static void test_combinations(void **state)
{
    static const int64_t expires[] = {0, 3600, -60, 86400 * 365 * 20};
    static const int64_t maxages[] = {0, 3600, -1, 172800};
    int count = 0;
    (void)state;

    for (unsigned bits = 0; bits < 1u << 10; bits++) {
        struct tt_route_affinity a = defaults();
        bool tls = bits & 1;
        int ua = (bits >> 1) & 1;
        char want[1024], got[1024];
        int rc;

        a.secure = (bits >> 2) & 1;
        a.conditional_samesite_none = (bits >> 3) & 1;
        a.samesite = (enum tt_route_samesite)((bits >> 4) & 3);
        a.has_expires = (bits >> 6) & 1;
        a.has_max_age = (bits >> 7) & 1;
        a.expires = expires[(bits >> 8) & 3];
        a.max_age = maxages[(bits >> 8) & 3];
        if (bits & 512) {
            a.domain = TT_SLICE_LIT("example.com");
            a.path = TT_SLICE_LIT("/shop/cart");
            a.cookie_name = TT_SLICE_LIT("a.b_c~d/e:f");
        }
        model(want, sizeof(want), &a, "tok|bk", tls, ua, 1700000000);
        rc = format_exact(strlen(want) + 1, got, sizeof(got), &a, TT_SLICE_LIT("tok|bk"), tls,
                          tt_slice_cstr(uas[ua]), 1700000000);
        if (rc < 0 || strcmp(got, want) != 0)
            fail_msg("bits %#x: got \"%s\" (%d)\nwant \"%s\"", bits, rc < 0 ? "" : got, rc, want);
        /* One byte less never fits. */
        assert_int_equal(format_exact(strlen(want), got, sizeof(got), &a, TT_SLICE_LIT("tok|bk"),
                                      tls, tt_slice_cstr(uas[ua]), 1700000000),
                         TT_ERANGE);
        count++;
    }
    assert_int_equal(count, 1024);
}

/* ---- Expires dates ---- */

static void test_cookie_time(void **state)
{
    static const struct {
        int64_t t;
        const char *want;
    } cases[] = {
        {INT64_MIN, "Thu, 01-Jan-70 00:00:00 GMT"},
        {-1, "Thu, 01-Jan-70 00:00:00 GMT"},
        {0, "Thu, 01-Jan-70 00:00:00 GMT"},
        {86399, "Thu, 01-Jan-70 23:59:59 GMT"},
        {68169599, "Mon, 28-Feb-72 23:59:59 GMT"},
        {68169600, "Tue, 29-Feb-72 00:00:00 GMT"},
        {946684799, "Fri, 31-Dec-99 23:59:59 GMT"},
        {946684800, "Sat, 01-Jan-00 00:00:00 GMT"},
        {951782400, "Tue, 29-Feb-00 00:00:00 GMT"}, /* 2000: divisible by 400, a leap year */
        {951868799, "Tue, 29-Feb-00 23:59:59 GMT"},
        {978307199, "Sun, 31-Dec-00 23:59:59 GMT"},
        {1078012800, "Sun, 29-Feb-04 00:00:00 GMT"},
        {1700000000, "Tue, 14-Nov-23 22:13:20 GMT"},
        {1709210096, "Thu, 29-Feb-24 12:34:56 GMT"},
        {2145916799, "Thu, 31-Dec-37 23:59:59 GMT"}, /* last 2-digit year */
        {2145916800, "Fri, 01-Jan-2038 00:00:00 GMT"},
        {2147483647, "Tue, 19-Jan-2038 03:14:07 GMT"}, /* INT32_MAX */
        {2147483648, "Tue, 19-Jan-2038 03:14:08 GMT"},
        {2208988800, "Sun, 01-Jan-2040 00:00:00 GMT"},
        {4102444799, "Thu, 31-Dec-2099 23:59:59 GMT"},
        {4102444800, "Fri, 01-Jan-2100 00:00:00 GMT"},
        {4107542399, "Sun, 28-Feb-2100 23:59:59 GMT"}, /* 2100: not a leap year */
        {4107542400, "Mon, 01-Mar-2100 00:00:00 GMT"},
        {13574563200, "Tue, 29-Feb-2400 00:00:00 GMT"}, /* 2400: leap */
        {32503679999, "Tue, 31-Dec-2999 23:59:59 GMT"},
        {32503680000, "Wed, 01-Jan-3000 00:00:00 GMT"},
        {253402300799, "Fri, 31-Dec-9999 23:59:59 GMT"}, /* ngx_gmtime's last second */
        {253402300800, "Fri, 31-Dec-9999 23:59:59 GMT"},
        {INT64_MAX, "Fri, 31-Dec-9999 23:59:59 GMT"},
    };
    char got[TT_SETCOOKIE_DATE_SIZE];
    (void)state;

    for (size_t i = 0; i < TT_ARRAY_SIZE(cases); i++) {
        size_t n = tt_setcookie_cookie_time(got, cases[i].t);
        if (strcmp(got, cases[i].want) != 0 || n != strlen(cases[i].want))
            fail_msg("t=%lld: got \"%s\", want \"%s\"", (long long)cases[i].t, got, cases[i].want);
    }
}

/* Every day from 1970 to 2500 at a varying second, and random seconds up to 9999, against
 * gmtime_r (test-only reference). */
static void test_cookie_time_sweep(void **state)
{
    uint64_t seed = 42;
    char got[TT_SETCOOKIE_DATE_SIZE], want[64];
    (void)state;

    for (int64_t d = 0; d < 194000; d++) {
        int64_t t = d * 86400 + (d * 7919) % 86400;
        tt_setcookie_cookie_time(got, t);
        model_date(want, sizeof(want), (time_t)t);
        if (strcmp(got, want) != 0)
            fail_msg("t=%lld: got \"%s\", want \"%s\"", (long long)t, got, want);
    }
    for (int i = 0; i < 200000; i++) {
        int64_t t = (int64_t)(vec_rand(&seed) % 253402300800ull);
        tt_setcookie_cookie_time(got, t);
        model_date(want, sizeof(want), (time_t)t);
        if (strcmp(got, want) != 0)
            fail_msg("t=%lld: got \"%s\", want \"%s\"", (long long)t, got, want);
    }
}

/* ---- Max-Age as LuaJIT writes a number ---- */

static void max_age_is(int64_t v, const char *want)
{
    struct tt_route_affinity a = defaults();
    char full[128];

    a.has_max_age = true;
    a.max_age = v;
    snprintf(full, sizeof(full), "INGRESSCOOKIE=v; Max-Age=%s; Path=/; HttpOnly", want);
    expect(full, &a, "v", false, NULL, 0);
}

static void test_max_age(void **state)
{
    uint64_t seed = 9;
    (void)state;

    max_age_is(0, "0");
    max_age_is(1, "1");
    max_age_is(-1, "-1");
    max_age_is(3600, "3600");
    max_age_is(99999999999999, "99999999999999");
    max_age_is(-99999999999999, "-99999999999999");
    max_age_is(100000000000000, "1e+14");
    max_age_is(100000000000004, "1e+14");
    max_age_is(100000000000005, "1.0000000000001e+14"); /* LuaJIT rounds ties up */
    max_age_is(-100000000000005, "-1.0000000000001e+14");
    max_age_is(123456789012345, "1.2345678901235e+14"); /* glibc: ...234e+14 */
    max_age_is(123456789012355, "1.2345678901236e+14");
    max_age_is(999999999999995, "1e+15");
    max_age_is(999999999999994, "9.9999999999999e+14");
    max_age_is(123456789012345678, "1.2345678901235e+17");
    max_age_is(INT64_MAX, "9.2233720368548e+18");
    max_age_is(INT64_MIN, "-9.2233720368548e+18");
    /* Away from ties, glibc's %.14g (half even) and LuaJIT's (half up) agree. */
    for (int i = 0; i < 20000; i++) {
        int64_t v = (int64_t)(vec_rand(&seed) >> (vec_rand(&seed) % 64));
        char want[64];
        if (vec_rand(&seed) & 1)
            v = -v;
        snprintf(want, sizeof(want), "%.14g", (double)v);
        if (strchr(want, 'e') != NULL) {
            /* skip exact ties: digit 15 of the double's integer value is 5, rest zero */
            char dig[32];
            snprintf(dig, sizeof(dig), "%.0f", (double)(v < 0 ? -(double)v : (double)v));
            if (dig[14] == '5' && strspn(dig + 15, "0") == strlen(dig + 15))
                continue;
        }
        max_age_is(v, want);
    }
}

/* ---- buffer too small ---- */

static void test_erange(void **state)
{
    struct tt_route_affinity a = defaults();
    char want[1024], got[1024];
    int len;
    (void)state;

    a.cookie_name = TT_SLICE_LIT("SESSIONAFFINITY");
    a.domain = TT_SLICE_LIT("sub.example.com");
    a.path = TT_SLICE_LIT("/a/b/c");
    a.has_expires = true;
    a.expires = INT64_MAX; /* 4-digit year: the longest date */
    a.has_max_age = true;
    a.max_age = INT64_MIN; /* the longest number: 20 bytes */
    a.samesite = TT_ROUTE_SAMESITE_STRICT;
    len = format_exact(sizeof(got), want, sizeof(want), &a,
                       TT_SLICE_LIT("96bdfc5835caf4aa02b3ba42215f5975|"
                                    "ef2c5dc5fe4d202a037964d893c45720"),
                       true, no_ua, 0);
    assert_true(len > 0);
    /* The longest attributes take 122 bytes with the NUL: within TT_SETCOOKIE_EXTRA. */
    assert_int_equal((size_t)len + 1, a.cookie_name.len + 65 + a.path.len + a.domain.len + 122);
    assert_true(122 <= TT_SETCOOKIE_EXTRA);
    for (size_t cap = 0; cap <= (size_t)len; cap++) {
        assert_int_equal(format_exact(cap, got, sizeof(got), &a,
                                      TT_SLICE_LIT("96bdfc5835caf4aa02b3ba42215f5975|"
                                                   "ef2c5dc5fe4d202a037964d893c45720"),
                                      true, no_ua, 0),
                         TT_ERANGE);
    }
    assert_int_equal(format_exact((size_t)len + 1, got, sizeof(got), &a,
                                  TT_SLICE_LIT("96bdfc5835caf4aa02b3ba42215f5975|"
                                               "ef2c5dc5fe4d202a037964d893c45720"),
                                  true, no_ua, 0),
                     len);
    assert_string_equal(got, want);
    /* NULL with cap 0 is only measured against, never written. */
    assert_int_equal(tt_setcookie_format(NULL, 0, &a, TT_SLICE_LIT("v"), false, no_ua, 0),
                     TT_ERANGE);
}

/* ---- User-Agent rules ---- */

struct ua_case {
    const char *why;
    const char *ua;
    bool incompatible;
};

static const struct ua_case ua_cases[] = {
    /* Rule 1-3: "Chrome/4", "Chrome/5", "Chrome/6" anywhere. */
    {"Chrome 51 (Chromium's list)",
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/51.0.2704.103 Safari/537.36",
     true},
    {"Chrome 58 on ChromeOS",
     "Mozilla/5.0 (X11; CrOS i686 9334.72.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/58.0.3029.140 Safari/537.36",
     true},
    {"Chrome 66 on Windows",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/66.0.3359.181 Safari/537.36",
     true},
    {"Chromium 66 on Ubuntu",
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu "
     "Chromium/66.0.3359.181 Chrome/66.0.3359.181 Safari/537.36",
     true},
    {"Android WebView, Chrome 56",
     "Mozilla/5.0 (Linux; Android 7.1.1; Moto E (4) Build/NCQS26.69-64-3) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Chrome/56.0.2924.87 Mobile Safari/537.36",
     true},
    {"UC Browser 12.10 on Android (Chrome/57 inside)",
     "Mozilla/5.0 (Linux; U; Android 8.1.0; en-US; Nexus 6P Build/OPM7.181205.001) "
     "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/57.0.2987.108 "
     "UCBrowser/12.10.2.1164 Mobile Safari/537.36",
     true},
    {"UC Browser 12.13.2 (fixed per Chromium, but still Chrome/57: incompatible here)",
     "Mozilla/5.0 (Linux; U; Android 9; en-US; SM-G960F Build/PPR1.180610.011) "
     "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/57.0.2987.108 "
     "UCBrowser/12.13.2.1208 Mobile Safari/537.36",
     true},
    {"Chrome 49 on XP (ignores SameSite per Chromium; incompatible here)",
     "Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/49.0.2623.112 Safari/537.36",
     true},
    {"Chrome 67 (fixed per Chromium; incompatible here)",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/67.0.3396.99 Safari/537.36",
     true},
    {"Chrome 69", "Mozilla/5.0 (X11; Linux x86_64) Chrome/69.0.3497.100 Safari/537.36", true},
    {"HeadlessChrome 60",
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/60.0.3112.78 Safari/537.36",
     true},
    {"Chrome 4", "Mozilla/5.0 (Windows; U; Windows NT 6.1) Chrome/4.0.249.0 Safari/532.5", true},
    {"a future Chrome 400 (substring rule)", "Mozilla/5.0 Chrome/400.0.0.0 Safari/537.36", true},
    {"Chrome/5 after a NUL byte", "x\0Chrome/5", true}, /* length fixed below */
    {"Chrome 80",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/80.0.3987.132 Safari/537.36",
     false},
    {"Chrome 120",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     false},
    {"Chrome 39", "Mozilla/5.0 (Windows NT 6.1) Chrome/39.0.2171.95 Safari/537.36", false},
    {"Chrome 79 / Opera 66 on macOS 10.14",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/79.0.3945.130 Safari/537.36 OPR/66.0.3515.72",
     false},
    {"Edge 80 on Windows",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/80.0.3987.149 Safari/537.36 Edg/80.0.361.69",
     false},
    {"lower-case chrome/51 (case-sensitive)", "mozilla/5.0 chrome/51.0", false},
    {"Chrome 51 without a slash", "Chrome 51.0", false},
    {"Chrome on iOS 13 (CriOS, no Chrome/)",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 13_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/80.0.3987.95 Mobile/15E148 Safari/604.1",
     false},

    /* Rule 4-5: "CPU iPhone OS 12", "iPad; CPU OS 12". */
    {"Safari on iOS 12.1",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 12_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/12.0 Mobile/15E148 Safari/604.1",
     true},
    {"Chrome on iOS 12 (CriOS)",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 12_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/70.0.3538.75 Mobile/15E148 Safari/605.1",
     true},
    {"Facebook in-app browser on iOS 12.4.1",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 12_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/239.0.0.41.96;FBBV/172617862]",
     true},
    {"iPod touch on iOS 12",
     "Mozilla/5.0 (iPod touch; CPU iPhone OS 12_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/12.0 Mobile/15E148 Safari/604.1",
     true},
    {"Safari on iPad iOS 12.4",
     "Mozilla/5.0 (iPad; CPU OS 12_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/12.1.2 Mobile/15E148 Safari/604.1",
     true},
    {"Safari on iOS 13.3.1",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 13_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/13.0.5 Mobile/15E148 Safari/604.1",
     false},
    {"Safari on iOS 11.4",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 11_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/11.0 Mobile/15E148 Safari/604.1",
     false},
    {"Safari on iPad iOS 13.3",
     "Mozilla/5.0 (iPad; CPU OS 13_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/13.0.4 Mobile/15E148 Safari/604.1",
     false},
    {"iOS 12 spelled with a dot (not a real UA; exact substring)", "CPU iPhone OS 12.1", true},
    {"iPad iOS 12 without the '; '", "iPad CPU OS 12_4", false},

    /* Rule 6: macOS 10.14 Safari: Macintosh + Intel Mac OS X 10_14 + Safari, no Chrome. */
    {"Safari 12.1.2 on macOS 10.14.6",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/12.1.2 Safari/605.1.15",
     true},
    {"Safari 13 on macOS 10.14",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/13.0 Safari/605.1.15",
     true},
    {"Chrome 80 on macOS 10.14",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/80.0.3987.132 Safari/537.36",
     false},
    {"Chrome 66 on macOS 10.14 (rule 3)",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/66.0.3359.181 Safari/537.36",
     true},
    {"Firefox 72 on macOS 10.14",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.14; rv:72.0) Gecko/20100101 Firefox/72.0", false},
    {"embedded WKWebView on macOS 10.14 (in Chromium's list, not in ingress-nginx's)",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko)",
     false},
    {"Safari 14 on macOS 10.15.7",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/14.0 Safari/605.1.15",
     false},
    {"Safari 11 on macOS 10.13",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_3) AppleWebKit/604.5.6 (KHTML, like Gecko) "
     "Version/11.0.3 Safari/604.5.6",
     false},
    {"10_14 and Safari but no Macintosh", "Mozilla/5.0 (Intel Mac OS X 10_14) Safari/605.1.15",
     false},

    /* Others. */
    {"curl", "curl/7.88.1", false},
    {"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     false},
    {"Firefox 120 on Linux",
     "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", false},
    {"empty", "", false},
};

static void test_user_agents(void **state)
{
    int pos = 0, neg = 0;
    (void)state;

    for (size_t i = 0; i < TT_ARRAY_SIZE(ua_cases); i++) {
        const struct ua_case *c = &ua_cases[i];
        struct tt_slice ua = tt_slice_cstr(c->ua);
        struct tt_route_affinity a = defaults();
        char got[1024];

        if (strcmp(c->why, "Chrome/5 after a NUL byte") == 0)
            ua = tt_slice_make(c->ua, 10);
        if (tt_setcookie_samesite_none_incompatible(ua) != c->incompatible)
            fail_msg("%s: want %s", c->why, c->incompatible ? "incompatible" : "compatible");
        c->incompatible ? pos++ : neg++;

        /* Through the writer: None goes only when conditional mode meets such an agent. */
        a.samesite = TT_ROUTE_SAMESITE_NONE;
        a.conditional_samesite_none = true;
        assert_true(format_exact(256, got, sizeof(got), &a, TT_SLICE_LIT("v"), true, ua, 0) > 0);
        assert_string_equal(got, c->incompatible ? "INGRESSCOOKIE=v; Path=/; Secure; HttpOnly"
                                                 : "INGRESSCOOKIE=v; Path=/; Secure; HttpOnly; "
                                                   "SameSite=None");
        a.conditional_samesite_none = false;
        assert_true(format_exact(256, got, sizeof(got), &a, TT_SLICE_LIT("v"), true, ua, 0) > 0);
        assert_string_equal(got, "INGRESSCOOKIE=v; Path=/; Secure; HttpOnly; SameSite=None");
        /* Lax and Strict never depend on the agent. */
        a.conditional_samesite_none = true;
        a.samesite = TT_ROUTE_SAMESITE_LAX;
        assert_true(format_exact(256, got, sizeof(got), &a, TT_SLICE_LIT("v"), false, ua, 0) > 0);
        assert_string_equal(got, "INGRESSCOOKIE=v; Path=/; HttpOnly; SameSite=Lax");
    }
    assert_false(tt_setcookie_samesite_none_incompatible(no_ua)); /* no User-Agent header */
    assert_true(pos >= 20 && neg >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reissue_vectors, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_literals, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_combinations, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_time, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_time_sweep, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_max_age, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_erange, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_user_agents, tt_test_leak_setup, tt_test_leak_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
