/* test/unit/http/test_head.c - header accumulation across split spans, limits, hop-by-hop
 * rules, token lists, request-target splitting and Host validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/alloc.h"
#include "http/http.h"

static bool eq(struct tt_slice s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

static void test_split_spans(void **state)
{
    struct tt_http_head h;
    long before = tt_alloc_outstanding();
    (void)state;
    tt_http_head_init(&h, 4096, 10);
    assert_int_equal(tt_http_head_url(&h, "/a", 2, 100), TT_HEAD_OK);
    assert_int_equal(tt_http_head_url(&h, "/b?x", 4, 100), TT_HEAD_OK);
    assert_int_equal(tt_http_head_name(&h, "Ho", 2), TT_HEAD_OK);
    assert_int_equal(tt_http_head_name(&h, "st", 2), TT_HEAD_OK);
    assert_int_equal(tt_http_head_value(&h, "exa", 3), TT_HEAD_OK);
    assert_int_equal(tt_http_head_value(&h, "mple.com", 8), TT_HEAD_OK);
    assert_int_equal(tt_http_head_name(&h, "X-A", 3), TT_HEAD_OK);
    assert_int_equal(tt_http_head_value(&h, "1", 1), TT_HEAD_OK);
    assert_true(eq(tt_http_head_url_slice(&h), "/a/b?x"));
    assert_int_equal(h.n_fields, 2);
    assert_true(eq(tt_http_field_name(&h, 0), "Host"));
    assert_true(eq(tt_http_field_value(&h, 0), "example.com"));
    assert_int_equal(tt_http_head_find(&h, TT_SLICE_LIT("x-a"), 0), 1);
    assert_int_equal(tt_http_head_find(&h, TT_SLICE_LIT("x-b"), 0), -1);
    tt_http_head_reset(&h);
    assert_int_equal(h.n_fields, 0);
    tt_http_head_dispose(&h);
    assert_int_equal(tt_alloc_outstanding(), before);
}

static void test_limits(void **state)
{
    struct tt_http_head h;
    char big[200];
    (void)state;
    memset(big, 'a', sizeof(big));
    tt_http_head_init(&h, 128, 2);
    assert_int_equal(tt_http_head_url(&h, big, 50, 40), TT_HEAD_URI_TOO_LONG);
    tt_http_head_reset(&h);
    assert_int_equal(tt_http_head_name(&h, "a", 1), TT_HEAD_OK);
    assert_int_equal(tt_http_head_value(&h, big, 200), TT_HEAD_TOO_LARGE);
    tt_http_head_reset(&h);
    assert_int_equal(tt_http_head_name(&h, "a", 1), TT_HEAD_OK);
    assert_int_equal(tt_http_head_name(&h, "b", 1), TT_HEAD_OK); /* same field, next piece */
    assert_int_equal(tt_http_head_value(&h, "1", 1), TT_HEAD_OK);
    assert_int_equal(tt_http_head_name(&h, "c", 1), TT_HEAD_OK);
    assert_int_equal(tt_http_head_value(&h, "1", 1), TT_HEAD_OK);
    assert_int_equal(tt_http_head_name(&h, "d", 1), TT_HEAD_TOO_MANY);
    tt_http_head_dispose(&h);
}

static void test_hop_by_hop(void **state)
{
    (void)state;
    assert_true(tt_http_is_hop_by_hop(TT_SLICE_LIT("Connection")));
    assert_true(tt_http_is_hop_by_hop(TT_SLICE_LIT("KEEP-ALIVE")));
    assert_true(tt_http_is_hop_by_hop(TT_SLICE_LIT("proxy-connection")));
    assert_true(tt_http_is_hop_by_hop(TT_SLICE_LIT("TE")));
    assert_true(tt_http_is_hop_by_hop(TT_SLICE_LIT("Transfer-Encoding")));
    assert_true(tt_http_is_hop_by_hop(TT_SLICE_LIT("Upgrade")));
    assert_true(tt_http_is_hop_by_hop(TT_SLICE_LIT("Trailer")));
    assert_false(tt_http_is_hop_by_hop(TT_SLICE_LIT("Content-Length")));
    assert_false(tt_http_is_hop_by_hop(TT_SLICE_LIT("Trailers")));
    assert_true(tt_http_list_has(TT_SLICE_LIT("keep-alive, X-Foo"), TT_SLICE_LIT("x-foo")));
    assert_true(tt_http_list_has(TT_SLICE_LIT(" upgrade "), TT_SLICE_LIT("Upgrade")));
    assert_false(tt_http_list_has(TT_SLICE_LIT("x-foobar"), TT_SLICE_LIT("x-foo")));
    assert_false(tt_http_list_has(TT_SLICE_LIT(""), TT_SLICE_LIT("x")));
}

static void test_split_target(void **state)
{
    struct tt_slice host, path;
    (void)state;
    assert_int_equal(tt_http_split_target(TT_SLICE_LIT("/a/b?q=1"), &host, &path), 0);
    assert_true(eq(path, "/a/b"));
    assert_int_equal(host.len, 0);
    assert_int_equal(tt_http_split_target(TT_SLICE_LIT("http://Ex.com:8080/x?y"), &host, &path),
                     0);
    assert_true(eq(host, "Ex.com:8080"));
    assert_true(eq(path, "/x"));
    assert_int_equal(tt_http_split_target(TT_SLICE_LIT("http://ex.com"), &host, &path), 0);
    assert_true(eq(path, "/"));
    assert_int_equal(tt_http_split_target(TT_SLICE_LIT("*"), &host, &path), 0);
    assert_int_equal(tt_http_split_target(TT_SLICE_LIT("ex.com:80"), &host, &path), -1);
    assert_int_equal(tt_http_split_target(TT_SLICE_LIT("http://u@ex.com/"), &host, &path), -1);
    assert_int_equal(tt_http_split_target(TT_SLICE_LIT("ftp://ex.com/"), &host, &path), -1);
}

static void test_host(void **state)
{
    struct tt_slice h;
    (void)state;
    assert_int_equal(tt_http_host_strip_port(TT_SLICE_LIT("a.example.com:8080"), &h), 0);
    assert_true(eq(h, "a.example.com"));
    assert_int_equal(tt_http_host_strip_port(TT_SLICE_LIT("[::1]:80"), &h), 0);
    assert_true(eq(h, "[::1]"));
    assert_int_equal(tt_http_host_strip_port(TT_SLICE_LIT("a b"), &h), -1);
    assert_int_equal(tt_http_host_strip_port(TT_SLICE_LIT("a:8x"), &h), -1);
    assert_int_equal(tt_http_host_strip_port(TT_SLICE_LIT("a/b"), &h), -1);
    assert_int_equal(tt_http_host_strip_port(TT_SLICE_LIT("[::1"), &h), -1);
}

static void check_norm(const char *in, const char *want)
{
    char out[64];
    long n = tt_http_normalize_path(tt_slice_cstr(in), out, sizeof(out));
    if (want == NULL) {
        assert_int_equal(n, -1);
        return;
    }
    assert_true(n >= 0);
    out[n] = '\0';
    assert_string_equal(out, want);
}

static void test_normalize(void **state)
{
    (void)state;
    check_norm("/a/b", "/a/b");
    check_norm("/", "/");
    check_norm("//", "/");
    check_norm("/a//b", "/a/b");
    check_norm("/a/./b", "/a/b");
    check_norm("/a/../b", "/b");
    check_norm("/public/../admin", "/admin");
    check_norm("/a/b/..", "/a/");
    check_norm("/a/.", "/a/");
    check_norm("/a/b/../../c", "/c");
    check_norm("/a%2Fb", "/a/b");
    check_norm("/%61dmin", "/admin");
    check_norm("/a/.b/..c", "/a/.b/..c");
    check_norm("/..", NULL);
    check_norm("/a/../..", NULL);
    check_norm("/%2e%2e/x", NULL);
    check_norm("/%00", NULL);
    check_norm("/%zz", NULL);
    check_norm("/%4", NULL);
    check_norm("a/b", NULL);
    assert_false(tt_http_path_needs_normalizing(TT_SLICE_LIT("/a/b.c/d")));
    assert_true(tt_http_path_needs_normalizing(TT_SLICE_LIT("/a/./d")));
    assert_true(tt_http_path_needs_normalizing(TT_SLICE_LIT("/a//d")));
    assert_true(tt_http_path_needs_normalizing(TT_SLICE_LIT("/a%20")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_spans), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hop_by_hop),  cmocka_unit_test(test_split_target),
        cmocka_unit_test(test_host),        cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
