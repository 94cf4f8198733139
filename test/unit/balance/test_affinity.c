/* test/unit/balance/test_affinity.c - one backend's affinity object: the per-attempt decision
 * of §4.4 in both modes (existing cookie, none, unknown key, change-on-failure with tried
 * endpoints, no peer), the re-issued Set-Cookie values of Appendix A's pick_new_examples, the
 * canary pinning test, and every out-of-memory point of the builders (the test re-runs itself
 * with TT_ALLOC_FAIL_AT=N). */
/* cmocka.h needs these four first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/oomsweep.h"
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "balance/affinity.h"
#include "base/alloc.h"
#include "unit/leakcheck.h"
#include "vectors.h"

static const struct tt_slice backend = TT_SLICE_LIT("default-deno-hello-service-8000");
static const char *const bk = "ef2c5dc5fe4d202a037964d893c45720";

static struct tt_affinity *affinity_of(enum tt_affinity_mode mode, const struct vec_set *s)
{
    struct tt_affinity *a = tt_affinity_new(mode, backend, s->nodes, s->n);
    assert_non_null(a);
    assert_int_equal(tt_affinity_mode(a), mode);
    assert_string_equal(tt_affinity_backend_key(a), bk);
    return a;
}

static void e1(struct vec_set *s)
{
    s->n = 0;
    vec_set_add(s, "10.0.0.1:8080");
    vec_set_add(s, "10.0.0.2:8080");
    vec_set_add(s, "10.0.0.3:8080");
}

static void test_balanced_choose(void **state)
{
    struct vec_set set;
    struct tt_affinity *a;
    struct tt_affinity_choice ch;
    uint64_t seed = 1;
    uint32_t tried[3];
    (void)state;

    e1(&set);
    a = affinity_of(TT_AFFINITY_BALANCED, &set);
    /* An existing token routes without a new cookie, whatever its pod's fate (T01 -> .1). */
    assert_int_equal(tt_affinity_choose(a, TT_SLICE_LIT("1700000001.123.4821.77310"), false, NULL,
                                        0, vec_rand, &seed, &ch),
                     0);
    assert_false(ch.issue);
    assert_int_equal(ch.value_len, 0);
    assert_string_equal(ch.value, "");
    /* Garbage is a token too. */
    assert_int_equal(
        tt_affinity_choose(a, TT_SLICE_LIT("\"garbage"), false, NULL, 0, vec_rand, &seed, &ch),
        tt_affinity_lookup(a, TT_SLICE_LIT("\"garbage")));
    assert_false(ch.issue);
    /* No cookie: a new token whose route is the answer. */
    assert_true(
        tt_affinity_choose(a, tt_slice_make(NULL, 0), false, NULL, 0, vec_rand, &seed, &ch) >= 0);
    assert_true(ch.issue);
    assert_int_equal(ch.value_len, 16 + 1 + 32);
    assert_int_equal(strlen(ch.value), ch.value_len);
    assert_int_equal(tt_affinity_lookup(a, tt_slice_make(ch.value, 16)), ch.index);
    assert_string_equal(ch.value + 17, bk);
    /* Change-on-failure: a retry re-picks away from what was tried and re-issues. */
    tried[0] = 0;
    for (int k = 0; k < 500; k++) {
        tt_affinity_choose(a, TT_SLICE_LIT("1700000001.123.4821.77310"), true, tried, 1, vec_rand,
                           &seed, &ch);
        assert_true(ch.index == 1 || ch.index == 2);
        assert_true(ch.issue);
    }
    /* Without change-on-failure the retry goes back to the pinned endpoint. */
    assert_int_equal(tt_affinity_choose(a, TT_SLICE_LIT("1700000001.123.4821.77310"), false, tried,
                                        1, vec_rand, &seed, &ch),
                     0);
    assert_false(ch.issue);
    /* Everything tried: no peer, no cookie. */
    tried[1] = 1;
    tried[2] = 2;
    assert_int_equal(
        tt_affinity_choose(a, tt_slice_make(NULL, 0), true, tried, 3, vec_rand, &seed, &ch),
        TT_ENOENT);
    assert_false(ch.issue);
    assert_int_equal(ch.index, TT_ENOENT);
    tt_affinity_free(a);
}

static void test_persistent_choose(void **state)
{
    struct vec_set set;
    struct tt_affinity *a;
    struct tt_affinity_choice ch;
    uint64_t seed = 2;
    uint32_t tried[3] = {1, 0, 2};
    int seen[3] = {0};
    (void)state;

    e1(&set);
    a = affinity_of(TT_AFFINITY_PERSISTENT, &set);
    /* Known key: its endpoint, no new cookie. */
    assert_int_equal(tt_affinity_choose(a, TT_SLICE_LIT("a7efae195b9d0aa947a7172336862e43"), false,
                                        NULL, 0, vec_rand, &seed, &ch),
                     1);
    assert_false(ch.issue);
    /* Unknown key (the spec's example) or a balanced token: uniform re-pick, new cookie. */
    for (int k = 0; k < 300; k++) {
        const char *key = k % 2 ? "00000000000000000000000000000000" : "1700000001.123.4821.77310";
        char want[TT_AFFINITY_VALUE_SIZE], pk[33];
        assert_true(
            tt_affinity_choose(a, tt_slice_cstr(key), false, NULL, 0, vec_rand, &seed, &ch) >= 0);
        assert_true(ch.issue);
        tt_affinity_make_persistent_key(pk, backend, set.nodes[ch.index].id);
        snprintf(want, sizeof(want), "%s|%s", pk, bk);
        assert_string_equal(ch.value, want);
        assert_int_equal(ch.value_len, 65);
        assert_int_equal(tt_affinity_lookup(a, tt_slice_make(ch.value, 32)), ch.index);
        seen[ch.index]++;
    }
    assert_true(seen[0] > 50 && seen[1] > 50 && seen[2] > 50);
    /* A retry with change-on-failure moves even a valid key, away from what was tried. */
    for (int k = 0; k < 100; k++) {
        tt_affinity_choose(a, TT_SLICE_LIT("a7efae195b9d0aa947a7172336862e43"), true, tried, 1,
                           vec_rand, &seed, &ch);
        assert_true(ch.issue && ch.index != 1);
    }
    assert_int_equal(
        tt_affinity_choose(a, tt_slice_make(NULL, 0), true, tried, 3, vec_rand, &seed, &ch),
        TT_ENOENT);
    assert_false(ch.issue);
    tt_affinity_free(a);

    /* No endpoints: never a peer. */
    assert_non_null(a = tt_affinity_new(TT_AFFINITY_PERSISTENT, backend, NULL, 0));
    assert_int_equal(
        tt_affinity_choose(a, tt_slice_make(NULL, 0), false, NULL, 0, vec_rand, &seed, &ch),
        TT_ENOENT);
    tt_affinity_free(a);
    assert_non_null(a = tt_affinity_new(TT_AFFINITY_BALANCED, backend, NULL, 0));
    assert_int_equal(tt_affinity_lookup(a, TT_SLICE_LIT("x")), TT_ENOENT);
    assert_int_equal(tt_affinity_choose(a, TT_SLICE_LIT("x"), false, NULL, 0, vec_rand, &seed, &ch),
                     TT_ENOENT);
    assert_false(ch.issue);
    tt_affinity_free(a);
    tt_affinity_free(NULL);
}

/* pick_new_examples.<set>.persistent_unknown_key_reissue: once the random pick lands on the
 * recorded endpoint, the cookie made is the original's Set-Cookie value, byte for byte. */
static void test_reissue_vectors(void **state)
{
    static const char *const sets[] = {"E1", "E2", "E3", "E4"};
    cJSON *root = vec_load();
    int checked = 0;
    (void)state;

    for (size_t s = 0; s < 4; s++) {
        const cJSON *re = vec_get(vec_get(vec_get(root, "pick_new_examples"), sets[s]),
                                  "persistent_unknown_key_reissue");
        const char *set_cookie = vec_str(re, "set_cookie");
        int picked;
        struct vec_set set;
        struct tt_affinity *a;
        struct tt_affinity_choice ch;
        char header[256];
        uint64_t seed = 0;

        vec_set_load(root, sets[s], &set);
        picked = vec_set_find(&set, vec_str(re, "picked"));
        a = affinity_of(TT_AFFINITY_PERSISTENT, &set);
        do {
            tt_affinity_choose(a, TT_SLICE_LIT("00000000000000000000000000000000"), false, NULL, 0,
                               vec_rand, &seed, &ch);
            assert_true(ch.issue);
        } while (ch.index != picked);
        /* Attributes are the proxy's business; the defaults of the example are Path=/ and
         * HttpOnly. */
        snprintf(header, sizeof(header), "INGRESSCOOKIE=%s; Path=/; HttpOnly", ch.value);
        assert_string_equal(header, set_cookie);
        tt_affinity_free(a);
        checked++;
    }
    assert_int_equal(checked, 4);
    cJSON_Delete(root);
}

/* §4.4: a cookie pins to the primary when its backend_key is the primary's, to the canary when
 * it is the canary's, and to neither without one or with another backend's (C14). */
static void test_canary_pinning(void **state)
{
    struct vec_set set;
    struct tt_affinity *primary, *canary;
    char key[33];
    (void)state;

    e1(&set);
    primary = affinity_of(TT_AFFINITY_BALANCED, &set);
    assert_non_null(canary = tt_affinity_new(TT_AFFINITY_BALANCED, TT_SLICE_LIT("default-echo-80"),
                                             set.nodes, set.n));
    assert_string_equal(tt_affinity_backend_key(canary), "df61074cff0dc933beb37e1d8124ac6f");
    assert_true(tt_affinity_is_affinitized(primary, tt_slice_cstr(bk)));
    assert_false(tt_affinity_is_affinitized(canary, tt_slice_cstr(bk)));
    assert_true(
        tt_affinity_is_affinitized(canary, TT_SLICE_LIT("df61074cff0dc933beb37e1d8124ac6f")));
    assert_false(tt_affinity_is_affinitized(primary, tt_slice_make(NULL, 0)));
    assert_false(
        tt_affinity_is_affinitized(primary, TT_SLICE_LIT("EF2C5DC5FE4D202A037964D893C45720")));
    assert_false(tt_affinity_is_affinitized(primary, tt_slice_make(bk, 31)));
    snprintf(key, sizeof(key), "%s", bk);
    key[31] = '1';
    assert_false(tt_affinity_is_affinitized(primary, tt_slice_cstr(key)));
    tt_affinity_free(primary);
    tt_affinity_free(canary);
}

/* ---- out of memory ---- */

/* Runs every builder once; reports whether an allocation failed, was handled cleanly (NULL, no
 * leak) and whatever was built still works. */
static int oom_scenario(void)
{
    struct vec_set set;
    long start = tt_alloc_outstanding();
    bool hit = false;
    struct tt_affinity_ring *r;
    struct tt_affinity_keymap *m;
    struct tt_affinity *a;

    e1(&set);
    vec_set_add(&set, "10.0.0.1:8080"); /* a duplicate: the dedup path too */
    if ((r = tt_affinity_ring_new(set.nodes, set.n)) == NULL) {
        hit = true;
    } else {
        if (tt_affinity_ring_points(r) != 480 ||
            tt_affinity_ring_lookup(r, TT_SLICE_LIT("1700000001.123.4821.77310")) != 0)
            return OOM_WRONG;
        tt_affinity_ring_free(r);
    }
    if ((m = tt_affinity_keymap_new(backend, set.nodes, set.n)) == NULL) {
        hit = true;
    } else {
        if (tt_affinity_keymap_lookup(m, TT_SLICE_LIT("827a75a33e145e309d6573c4077001d9")) != 2)
            return OOM_WRONG;
        tt_affinity_keymap_free(m);
    }
    for (int mode = 0; mode < 2; mode++) {
        if ((a = tt_affinity_new((enum tt_affinity_mode)mode, backend, set.nodes, set.n)) == NULL) {
            hit = true;
            continue;
        }
        if (tt_affinity_lookup(a, mode ? TT_SLICE_LIT("827a75a33e145e309d6573c4077001d9")
                                       : TT_SLICE_LIT("1700000001.123.4821.77310")) !=
            (mode ? 2 : 0))
            return OOM_WRONG;
        tt_affinity_free(a);
    }
    if (tt_alloc_outstanding() != start)
        return OOM_LEAK;
    return hit ? OOM_HANDLED : OOM_DONE;
}

static void test_out_of_memory(void **state)
{
    (void)state;
    int handled = tt_test_oom_sweep(NULL, 100);

    /* ring: 3 allocations, keymap: 1, balanced affinity: 1 + 3, persistent: 1 + 1. */
    assert_int_equal(handled, 10);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_balanced_choose, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_persistent_choose, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_reissue_vectors, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_canary_pinning, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test(test_out_of_memory),
    };

    if (argc == 2 && strcmp(argv[1], "--oom-scenario") == 0)
        return tt_test_oom_exit(oom_scenario());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
