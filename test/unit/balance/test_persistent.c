/* test/unit/balance/test_persistent.c - the persistent key map: every Appendix A key routes to
 * its node (§6.2.5), anything else is "not found", keys survive scale-up and scale-down of
 * other pods (the e2e scenario 5 -> 15 -> 0 -> 2 included), the re-issue after an unknown key is
 * uniform over the allowed nodes and formats as the original's Set-Cookie value. */
/* cmocka.h needs these four first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "balance/affinity.h"
#include "unit/leakcheck.h"
#include "vectors.h"

static const struct tt_slice backend = TT_SLICE_LIT("default-deno-hello-service-8000");

static struct tt_affinity_keymap *map_of(const struct vec_set *s)
{
    struct tt_affinity_keymap *m = tt_affinity_keymap_new(backend, s->nodes, s->n);
    assert_non_null(m);
    assert_int_equal(tt_affinity_keymap_nodes(m), s->n);
    return m;
}

static int lookup(const struct tt_affinity_keymap *m, const char *key)
{
    return tt_affinity_keymap_lookup(m, tt_slice_cstr(key));
}

/* persistent_keys.<set>: each key names its node in its own set. */
static void test_vector_keys_route(void **state)
{
    static const char *const sets[] = {"E1", "E2", "E3", "E4"};
    cJSON *root = vec_load();
    int checked = 0;
    (void)state;

    for (size_t s = 0; s < 4; s++) {
        struct vec_set set;
        struct tt_affinity_keymap *m;
        const cJSON *e;

        vec_set_load(root, sets[s], &set);
        m = map_of(&set);
        cJSON_ArrayForEach(e, vec_get(vec_get(root, "persistent_keys"), sets[s]))
        {
            assert_int_equal(lookup(m, e->valuestring), vec_set_find(&set, e->string));
            checked++;
        }
        tt_affinity_keymap_free(m);
    }
    assert_int_equal(checked, 31);
    print_message("    %d persistent key vectors route to their node\n", checked);
    cJSON_Delete(root);
}

/* Unknown keys: the spec's all-zero example, near misses of a real key, keys of another
 * backend, balanced tokens, garbage. */
static void test_unknown_keys(void **state)
{
    cJSON *root = vec_load();
    struct vec_set e1;
    struct tt_affinity_keymap *m;
    char key[40], other[33];
    const char *k1 = "7ac8b04bc2f10abf286b869b2ae7fa50"; /* 10.0.0.1:8080 */
    (void)state;

    vec_set_load(root, "E1", &e1);
    m = map_of(&e1);
    assert_int_equal(lookup(m, k1), 0);
    assert_int_equal(lookup(m, "00000000000000000000000000000000"), TT_ENOENT);
    /* Case-sensitive: the same key in upper case is unknown. */
    for (size_t i = 0; i < 32; i++)
        key[i] = (char)toupper((unsigned char)k1[i]);
    key[32] = '\0';
    assert_int_equal(lookup(m, key), TT_ENOENT);
    /* No prefix matching, no trailing garbage, every single-digit change. */
    assert_int_equal(tt_affinity_keymap_lookup(m, tt_slice_make(k1, 31)), TT_ENOENT);
    snprintf(key, sizeof(key), "%sx", k1);
    assert_int_equal(lookup(m, key), TT_ENOENT);
    snprintf(key, sizeof(key), " %s", k1);
    assert_int_equal(tt_affinity_keymap_lookup(m, tt_slice_make(key, 32)), TT_ENOENT);
    for (size_t i = 0; i < 32; i++) {
        snprintf(key, sizeof(key), "%s", k1);
        key[i] = key[i] == '0' ? '1' : '0';
        assert_int_equal(lookup(m, key), TT_ENOENT);
    }
    /* The same node under another backend name has another key. */
    tt_affinity_make_persistent_key(other, TT_SLICE_LIT("default-echo-80"),
                                    TT_SLICE_LIT("10.0.0.1:8080"));
    assert_string_not_equal(other, k1);
    assert_int_equal(lookup(m, other), TT_ENOENT);
    assert_int_equal(lookup(m, "1700000001.123.4821.77310"), TT_ENOENT);
    assert_int_equal(lookup(m, ""), TT_ENOENT);
    assert_int_equal(tt_affinity_keymap_lookup(m, tt_slice_make(NULL, 0)), TT_ENOENT);
    assert_int_equal(lookup(m, "\"7ac8b04bc2f10abf286b869b2ae7fa5"), TT_ENOENT);
    tt_affinity_keymap_free(m);
    cJSON_Delete(root);
}

/* §3: "scaling never moves existing sessions". E1 keys still route in E2; a pod added one at a
 * time from 5 to 15 keeps every earlier key; scaled to 0 and back to 2 new pods, old keys are
 * unknown (the e2e assertion: a different pod answers and the cookie is re-pinned). */
static void test_stable_under_scaling(void **state)
{
    cJSON *root = vec_load();
    struct vec_set e1, e2, grow, fresh;
    struct tt_affinity_keymap *m;
    const cJSON *e;
    char keys[15][33];
    uint64_t seed = 77;
    (void)state;

    vec_set_load(root, "E1", &e1);
    vec_set_load(root, "E2", &e2);
    m = map_of(&e2);
    cJSON_ArrayForEach(e, vec_get(vec_get(root, "persistent_keys"), "E1"))
        assert_string_equal(e2.ids[lookup(m, e->valuestring)], e->string);
    tt_affinity_keymap_free(m);

    vec_set_random(&grow, 15, &seed);
    for (size_t i = 0; i < 15; i++)
        tt_affinity_make_persistent_key(keys[i], backend, grow.nodes[i].id);
    for (size_t n = 5; n <= 15; n++) {
        struct vec_set part = grow;
        part.n = n;
        m = map_of(&part);
        for (size_t i = 0; i < 15; i++)
            assert_int_equal(lookup(m, keys[i]), i < n ? (int)i : TT_ENOENT);
        tt_affinity_keymap_free(m);
    }
    assert_non_null(m = tt_affinity_keymap_new(backend, NULL, 0));
    assert_int_equal(tt_affinity_keymap_nodes(m), 0);
    assert_int_equal(lookup(m, keys[0]), TT_ENOENT);
    {
        char key[33];
        assert_int_equal(tt_affinity_keymap_pick(m, NULL, 0, vec_rand, &seed, key), TT_ENOENT);
    }
    tt_affinity_keymap_free(m);
    vec_set_random(&fresh, 2, &seed);
    m = map_of(&fresh);
    for (size_t i = 0; i < 15; i++)
        assert_int_equal(lookup(m, keys[i]), TT_ENOENT);
    tt_affinity_keymap_free(m);
    cJSON_Delete(root);
}

/* The pick is uniform over the nodes not excluded and returns the picked node's key. */
static void test_pick_uniform_and_excluding(void **state)
{
    uint64_t seed = 31337;
    struct vec_set set;
    struct tt_affinity_keymap *m;
    const int picks = 60000;
    int count[VEC_MAX_NODES] = {0};
    uint32_t excl[3] = {2, 5, 999};
    double chi2 = 0, expect;
    char key[33], want[33];
    (void)state;

    vec_set_random(&set, 8, &seed);
    m = map_of(&set);
    for (int k = 0; k < picks; k++) {
        int got = tt_affinity_keymap_pick(m, excl, 3, vec_rand, &seed, key);
        assert_true(got >= 0 && got < 8 && got != 2 && got != 5);
        tt_affinity_make_persistent_key(want, backend, set.nodes[got].id);
        assert_string_equal(key, want);
        assert_int_equal(lookup(m, key), got);
        count[got]++;
    }
    expect = picks / 6.0;
    for (int i = 0; i < 8; i++) {
        if (i != 2 && i != 5)
            chi2 += (count[i] - expect) * (count[i] - expect) / expect;
    }
    /* 5 degrees of freedom: P(chi2 > 20.5) = 0.001. */
    print_message("    persistent pick over 6 allowed of 8: chi2 = %.2f (5 dof)\n", chi2);
    assert_true(chi2 < 20.5);
    /* Everything excluded: no peer. */
    {
        uint32_t all[8];
        for (uint32_t i = 0; i < 8; i++)
            all[i] = i;
        assert_int_equal(tt_affinity_keymap_pick(m, all, 8, vec_rand, &seed, key), TT_ENOENT);
        /* All but one: always that one. */
        all[6] = 100;
        for (int k = 0; k < 50; k++)
            assert_int_equal(tt_affinity_keymap_pick(m, all, 8, vec_rand, &seed, key), 6);
    }
    tt_affinity_keymap_free(m);
}

/* Duplicated ids are one node (first index); caller indexes are opaque. */
static void test_duplicates_and_indexes(void **state)
{
    struct vec_set set;
    struct tt_affinity_keymap *m;
    char key[33];
    struct tt_affinity_node big = {TT_SLICE_LIT("10.0.0.1:80"), (uint32_t)INT32_MAX + 1u};
    uint64_t seed = 9;
    int seen[2] = {0};
    (void)state;

    set.n = 0;
    vec_set_add(&set, "10.0.0.1:8080");
    vec_set_add(&set, "10.0.0.2:8080");
    vec_set_add(&set, "10.0.0.1:8080");
    set.nodes[0].index = 40;
    set.nodes[1].index = 41;
    set.nodes[2].index = 42;
    assert_non_null(m = tt_affinity_keymap_new(backend, set.nodes, set.n));
    assert_int_equal(tt_affinity_keymap_nodes(m), 2);
    assert_int_equal(lookup(m, "7ac8b04bc2f10abf286b869b2ae7fa50"), 40);
    assert_int_equal(lookup(m, "a7efae195b9d0aa947a7172336862e43"), 41);
    for (int k = 0; k < 200; k++) {
        int got = tt_affinity_keymap_pick(m, NULL, 0, vec_rand, &seed, key);
        assert_true(got == 40 || got == 41);
        seen[got - 40]++;
    }
    assert_true(seen[0] > 0 && seen[1] > 0);
    tt_affinity_keymap_free(m);
    tt_affinity_keymap_free(NULL);
    assert_null(tt_affinity_keymap_new(backend, &big, 1));
}

/* A large map: every key found, lookups of random keys never are. */
static void test_large_map(void **state)
{
    struct tt_affinity_node *nodes;
    char(*ids)[24];
    struct tt_affinity_keymap *m;
    const size_t n = 5000;
    uint64_t seed = 4;
    (void)state;

    assert_non_null(nodes = calloc(n, sizeof(*nodes)));
    assert_non_null(ids = calloc(n, sizeof(*ids)));
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "10.%zu.%zu.%zu:8080", i >> 16, (i >> 8) & 255, i & 255);
        nodes[i] = (struct tt_affinity_node){tt_slice_cstr(ids[i]), (uint32_t)i};
    }
    assert_non_null(m = tt_affinity_keymap_new(backend, nodes, n));
    assert_int_equal(tt_affinity_keymap_nodes(m), n);
    for (size_t i = 0; i < n; i++) {
        char key[33];
        tt_affinity_make_persistent_key(key, backend, nodes[i].id);
        assert_int_equal(lookup(m, key), (int)i);
    }
    for (int k = 0; k < 10000; k++) {
        char key[33];
        snprintf(key, sizeof(key), "%016llx%016llx", (unsigned long long)vec_rand(&seed),
                 (unsigned long long)vec_rand(&seed));
        assert_int_equal(lookup(m, key), TT_ENOENT);
    }
    tt_affinity_keymap_free(m);
    free(ids);
    free(nodes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vector_keys_route, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keys, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_stable_under_scaling, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_pick_uniform_and_excluding, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_and_indexes, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_large_map, tt_test_leak_setup, tt_test_leak_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
