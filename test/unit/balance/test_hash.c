/* test/unit/balance/test_hash.c - the hashes and names of lib/balance: CRC-32 check values and
 * the per-point ring derivation (spec §2.1-2.2, §6.2.4), MD5 against RFC 1321 and against
 * mbedTLS, backend_key and persistent keys from the Appendix A vectors (§6.2.1, §6.2.5), node
 * ids (§1.2, including balancer.lua's unescaped-dot pattern) and backend names (§1.1). */
/* cmocka.h needs these four first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <mbedtls/md5.h>
#include <stdio.h>
#include <string.h>

#include "balance/affinity.h"
#include "unit/leakcheck.h"
#include "vectors.h"

static uint32_t crc(const char *s)
{
    return tt_affinity_crc32(s, strlen(s));
}

static void test_crc32_check_values(void **state)
{
    (void)state;
    /* CRC-32/ISO-HDLC catalogue check value and the empty string (§2.1). */
    assert_int_equal(crc("123456789"), 0xcbf43926u);
    assert_int_equal(tt_affinity_crc32(NULL, 0), 0);
    assert_int_equal(crc(""), 0);
    /* zlib.crc32 values of well-known strings. */
    assert_int_equal(crc("a"), 0xe8b7be43u);
    assert_int_equal(crc("The quick brown fox jumps over the lazy dog"), 0x414fa339u);
    /* T01 of §6.2.2 and the node-id CRCs of §6.2.4. */
    assert_int_equal(crc("1700000001.123.4821.77310"), 0x0b788495u);
    assert_int_equal(crc("10.0.0.1:8080"), 0x29d2e7eeu);
    assert_int_equal(crc("10.0.0.2:8080"), 0xaf469540u);
    assert_int_equal(crc("10.0.0.3:8080"), 0x641a46e5u);
}

/* §6.2.4: the first four points of each E1 node in generation order, derived here from the
 * definition h_k = crc32(id ++ le32(h_{k-1})), h_-1 = 0, with the 4 bytes built by hand. */
static void test_ring_point_derivation(void **state)
{
    static const struct {
        const char *id;
        uint32_t p[4];
    } want[] = {
        {"10.0.0.1:8080", {1257574595u, 3454619437u, 151149429u, 1024940826u}},
        {"10.0.0.2:8080", {2713889728u, 1522520565u, 1959925967u, 2042607072u}},
        {"10.0.0.3:8080", {1308672254u, 678583229u, 3914146918u, 4077448585u}},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint32_t prev = 0;
        size_t len = strlen(want[i].id);
        for (int k = 0; k < 4; k++) {
            unsigned char buf[64];
            memcpy(buf, want[i].id, len);
            buf[len] = (unsigned char)prev;
            buf[len + 1] = (unsigned char)(prev >> 8);
            buf[len + 2] = (unsigned char)(prev >> 16);
            buf[len + 3] = (unsigned char)(prev >> 24);
            prev = tt_affinity_crc32(buf, len + 4);
            assert_int_equal(prev, want[i].p[k]);
        }
    }
    /* h0 of 10.0.0.1:8080 in hex, as the spec's example writes it. */
    assert_int_equal(want[0].p[0], 0x4af510c3u);
}

/* The ring built by lib/balance holds exactly those points: every generated point of a node
 * appears in its sorted ring. */
static void test_ring_contains_derived_points(void **state)
{
    const char *id = "10.0.0.1:8080";
    struct tt_affinity_node node = {tt_slice_cstr(id), 7};
    struct tt_affinity_ring *r;
    uint32_t prev = 0, last = 0;
    (void)state;

    assert_non_null(r = tt_affinity_ring_new(&node, 1));
    assert_int_equal(tt_affinity_ring_points(r), 160);
    assert_int_equal(tt_affinity_ring_nodes(r), 1);
    for (size_t pos = 0; pos < 160; pos++) {
        uint32_t h, index;
        struct tt_slice got;
        tt_affinity_ring_point(r, pos, &h, &index, &got);
        assert_true(pos == 0 || h >= last);
        assert_int_equal(index, 7);
        assert_true(tt_slice_eq(got, tt_slice_cstr(id)));
        last = h;
    }
    for (int k = 0; k < 160; k++) {
        unsigned char buf[32];
        uint32_t h;
        memcpy(buf, id, 13);
        for (int b = 0; b < 4; b++)
            buf[13 + b] = (unsigned char)(prev >> (8 * b));
        prev = tt_affinity_crc32(buf, 17);
        tt_affinity_ring_point(r, tt_affinity_ring_find(r, prev), &h, NULL, NULL);
        assert_int_equal(h, prev);
    }
    tt_affinity_ring_free(r);
}

static void md5_of(const char *s, char out[33])
{
    tt_affinity_md5hex(out, s, strlen(s));
}

static void test_md5_rfc1321(void **state)
{
    static const struct {
        const char *in, *hex;
    } suite[] = {
        /* RFC 1321 Appendix A.5. */
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890"
         "1234567890"
         "1234567890"
         "1234567890"
         "1234567890"
         "1234567890"
         "1234567890"
         "1234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
        /* §6.2.1: md5hex of the backend names. */
        {"default-deno-hello-service-8000", "5db5802615bed350d8ac42b41ea226e1"},
        {"default-echo-80", "f1241c50f466f3a97d0a03214be54ad0"},
        {"upstream-default-backend", "31fee400b0cbe65ea6e2c63efe9c27e7"},
        {"default-echo-http", "9f085333fed00d46d1be6847c2b8f8a6"},
        /* §6.2.2 T25 is md5("hello"). */
        {"hello", "5d41402abc4b2a76b9719d911017c592"},
    };
    char out[33];
    (void)state;

    for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
        md5_of(suite[i].in, out);
        assert_string_equal(out, suite[i].hex);
    }
}

/* Every length 0..300 (all padding cases) and every split of the input into two updates,
 * against mbedTLS's MD5 as an independent implementation. */
static void test_md5_against_mbedtls(void **state)
{
    unsigned char buf[300];
    uint64_t seed = 42;
    (void)state;

    for (size_t len = 0; len <= sizeof(buf); len++) {
        unsigned char ref[16];
        char want[33], got[33];
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)vec_rand(&seed);
        assert_int_equal(mbedtls_md5_ret(buf, len, ref), 0);
        for (int i = 0; i < 16; i++)
            snprintf(want + 2 * i, 3, "%02x", ref[i]);
        tt_affinity_md5hex(got, buf, len);
        assert_string_equal(got, want);
        if (len == 130 || len == 64 || len == 55 || len == 56) {
            /* Two keys built from pieces must equal the one-shot digest of the join. */
            for (size_t cut = 0; cut <= len; cut++) {
                char k[33];
                char name[300], id[300];
                memcpy(name, buf, cut);
                memcpy(id, buf + cut, len - cut);
                tt_affinity_make_persistent_key(k, tt_slice_make(name, cut),
                                                tt_slice_make(id, len - cut));
                assert_string_equal(k, want);
            }
        }
    }
}

static void test_backend_keys_from_vectors(void **state)
{
    cJSON *root = vec_load();
    const cJSON *e;
    int n = 0;
    (void)state;

    cJSON_ArrayForEach(e, vec_get(root, "backend_keys"))
    {
        char key[33], inner[33], joined[256];
        tt_affinity_make_backend_key(key, tt_slice_cstr(e->string));
        assert_string_equal(key, e->valuestring);
        /* The definition spelled out: md5hex(md5hex(name) ++ name). */
        md5_of(e->string, inner);
        snprintf(joined, sizeof(joined), "%s%s", inner, e->string);
        md5_of(joined, inner);
        assert_string_equal(inner, e->valuestring);
        n++;
    }
    assert_int_equal(n, 4);
    /* §1.3's worked example. */
    {
        char key[33];
        tt_affinity_make_backend_key(key, TT_SLICE_LIT("default-echo-80"));
        assert_string_equal(key, "df61074cff0dc933beb37e1d8124ac6f");
    }
    cJSON_Delete(root);
}

static void test_persistent_keys_from_vectors(void **state)
{
    cJSON *root = vec_load();
    const char *backend = vec_str(root, "backend_name");
    const cJSON *set, *e;
    int n = 0;
    (void)state;

    assert_string_equal(backend, "default-deno-hello-service-8000");
    cJSON_ArrayForEach(set, vec_get(root, "persistent_keys"))
    {
        cJSON_ArrayForEach(e, set)
        {
            char key[33];
            tt_affinity_make_persistent_key(key, tt_slice_cstr(backend), tt_slice_cstr(e->string));
            assert_string_equal(key, e->valuestring);
            n++;
        }
    }
    assert_int_equal(n, 31);
    cJSON_Delete(root);
}

static void node_id_is(const char *addr, unsigned port, const char *want)
{
    char buf[TT_AFFINITY_NODE_ID_SIZE];
    int n = tt_affinity_node_id(buf, sizeof(buf), tt_slice_cstr(addr), (uint16_t)port);

    if (n < 0 || strcmp(buf, want) != 0)
        fail_msg("node_id(%s, %u) = %d \"%s\", want \"%s\"", addr, port, n, n < 0 ? "" : buf, want);
    assert_int_equal((size_t)n, strlen(want));
}

static void test_node_id(void **state)
{
    char buf[TT_AFFINITY_NODE_ID_SIZE];
    char longv6[] = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"; /* 45 characters */
    (void)state;

    node_id_is("10.0.0.1", 8080, "10.0.0.1:8080");
    node_id_is("10.1.0.20", 8000, "10.1.0.20:8000");
    node_id_is("255.255.255.255", 65535, "255.255.255.255:65535");
    node_id_is("10.0.0.1", 0, "10.0.0.1:0");
    /* IPv6 text is bracketed and kept as given (no re-canonicalisation). */
    node_id_is("fd00:10:244::1", 8080, "[fd00:10:244::1]:8080");
    node_id_is("FD00:0010:0244:0:0:0:0:1", 80, "[FD00:0010:0244:0:0:0:0:1]:80");
    node_id_is("::ffff:10.0.0.1", 80, "[::ffff:10.0.0.1]:80");
    node_id_is("::1", 443, "[::1]:443");
    /* balancer.lua's test is "^%d+.%d+.%d+.%d+$" with unescaped dots: any single byte
     * separates the groups, and anything else is bracketed. */
    node_id_is("1a2b3c4", 80, "1a2b3c4:80");
    node_id_is("1234567", 80, "1234567:80");
    node_id_is("10.0.0", 80, "[10.0.0]:80");
    node_id_is("10.0.0.1.2", 80, "[10.0.0.1.2]:80");
    node_id_is("10..0.1", 80, "[10..0.1]:80");
    node_id_is("10.0.0.", 80, "[10.0.0.]:80");
    node_id_is(".10.0.0.1", 80, "[.10.0.0.1]:80");
    node_id_is("010.000.000.001", 80, "010.000.000.001:80");
    node_id_is("", 80, "[]:80");
    node_id_is("example.com", 80, "[example.com]:80");
    node_id_is(longv6, 65535, "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535");
    assert_int_equal(strlen("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535") + 1, 54);
    /* Too small a buffer, an over-long address. */
    assert_int_equal(tt_affinity_node_id(buf, 13, TT_SLICE_LIT("10.0.0.1"), 8080), TT_ERANGE);
    assert_int_equal(tt_affinity_node_id(buf, 14, TT_SLICE_LIT("10.0.0.1"), 8080), 13);
    assert_int_equal(tt_affinity_node_id(NULL, 0, TT_SLICE_LIT("10.0.0.1"), 8080), TT_ERANGE);
    memset(buf, '1', sizeof(buf));
    assert_int_equal(tt_affinity_node_id(buf, sizeof(buf), tt_slice_make(buf, 64), 1), TT_ERANGE);
}

static void test_backend_name(void **state)
{
    char buf[64];
    (void)state;

    assert_int_equal(tt_affinity_backend_name(buf, sizeof(buf), TT_SLICE_LIT("default"),
                                              TT_SLICE_LIT("echo"), TT_SLICE_LIT("80")),
                     15);
    assert_string_equal(buf, "default-echo-80");
    tt_affinity_backend_name(buf, sizeof(buf), TT_SLICE_LIT("default"), TT_SLICE_LIT("echo"),
                             TT_SLICE_LIT("http"));
    assert_string_equal(buf, "default-echo-http");
    tt_affinity_backend_name(buf, sizeof(buf), TT_SLICE_LIT("default"),
                             TT_SLICE_LIT("deno-hello-service"), TT_SLICE_LIT("8000"));
    assert_string_equal(buf, "default-deno-hello-service-8000");
    tt_affinity_backend_name(buf, sizeof(buf), TT_SLICE_LIT("ns"), TT_SLICE_LIT(""),
                             TT_SLICE_LIT("80"));
    assert_string_equal(buf, "ns-INVALID");
    assert_int_equal(tt_affinity_backend_name(buf, 15, TT_SLICE_LIT("default"),
                                              TT_SLICE_LIT("echo"), TT_SLICE_LIT("80")),
                     TT_ERANGE);
    assert_int_equal(tt_affinity_backend_name(buf, 16, TT_SLICE_LIT("default"),
                                              TT_SLICE_LIT("echo"), TT_SLICE_LIT("80")),
                     15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_values),
        cmocka_unit_test(test_ring_point_derivation),
        cmocka_unit_test_setup_teardown(test_ring_contains_derived_points, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test(test_md5_rfc1321),
        cmocka_unit_test(test_md5_against_mbedtls),
        cmocka_unit_test_setup_teardown(test_backend_keys_from_vectors, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_persistent_keys_from_vectors, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test(test_node_id),
        cmocka_unit_test(test_backend_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
