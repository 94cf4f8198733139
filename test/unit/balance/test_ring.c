/* test/unit/balance/test_ring.c - the balanced ring against every Appendix A vector (30 tokens x
 * E1-E4 with CRC and ring index, the boundary tokens, the ring listing digests, the tie cases,
 * the pick_new samples), then properties: a lookup equals a linear scan, input order and
 * duplicates do not matter, scale-up moves about (n-c)/n of the keys and only to new nodes,
 * scale-down moves only the removed node's keys, new tokens follow ring shares. */
/* cmocka.h needs these four first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "balance/affinity.h"
#include "unit/leakcheck.h"
#include "vectors.h"

static struct tt_affinity_ring *ring_of(const struct vec_set *s)
{
    struct tt_affinity_ring *r = tt_affinity_ring_new(s->nodes, s->n);
    assert_non_null(r);
    return r;
}

static int lookup(const struct tt_affinity_ring *r, const char *token)
{
    return tt_affinity_ring_lookup(r, tt_slice_cstr(token));
}

static struct tt_slice point_id(const struct tt_affinity_ring *r, size_t pos)
{
    struct tt_slice id;
    tt_affinity_ring_point(r, pos, NULL, NULL, &id);
    return id;
}

static uint32_t point_hash(const struct tt_affinity_ring *r, size_t pos)
{
    uint32_t h;
    tt_affinity_ring_point(r, pos, &h, NULL, NULL);
    return h;
}

static void assert_id(struct tt_slice got, const char *want)
{
    if (!tt_slice_eq(got, tt_slice_cstr(want)))
        fail_msg("node %.*s, want %s", (int)got.len, got.ptr, want);
}

static const char *const set_names[] = {"E1", "E2", "E3", "E4"};

static void ring_shares(const struct tt_affinity_ring *r, size_t n, double *share);

/* ---- Appendix A vectors ---- */

/* balanced.<set>.<token id>: CRC, ring index and node for all 30 tokens in all four sets. */
static void test_balanced_vectors(void **state)
{
    cJSON *root = vec_load();
    const cJSON *tokens = vec_get(root, "tokens");
    int checked = 0;
    (void)state;

    for (size_t s = 0; s < 4; s++) {
        struct vec_set set;
        struct tt_affinity_ring *r;
        const cJSON *v;

        vec_set_load(root, set_names[s], &set);
        r = ring_of(&set);
        assert_int_equal(tt_affinity_ring_points(r), 160 * set.n);
        assert_int_equal(tt_affinity_ring_nodes(r), set.n);
        cJSON_ArrayForEach(v, vec_get(vec_get(root, "balanced"), set_names[s]))
        {
            const char *token = vec_str(tokens, v->string);
            const char *node = vec_str(v, "node");
            uint32_t crc = tt_affinity_crc32(token, strlen(token));
            size_t pos = tt_affinity_ring_find(r, crc);

            if (crc != vec_u32(v, "crc32") || pos != vec_u32(v, "ring_index"))
                fail_msg("%s %s: crc %u index %zu, want %u %u", set_names[s], v->string, crc, pos,
                         vec_u32(v, "crc32"), vec_u32(v, "ring_index"));
            assert_id(point_id(r, pos), node);
            assert_int_equal(lookup(r, token), vec_set_find(&set, node));
            checked++;
        }
        tt_affinity_ring_free(r);
    }
    assert_int_equal(checked, 120);
    print_message("    %d balanced token vectors reproduced\n", checked);
    cJSON_Delete(root);
}

/* balanced_edge_cases: each token's CRC really sits on the edge its case names. */
static void test_edge_vectors(void **state)
{
    cJSON *root = vec_load();
    const cJSON *e;
    int checked = 0;
    (void)state;

    cJSON_ArrayForEach(e, vec_get(root, "balanced_edge_cases"))
    {
        struct vec_set set;
        struct tt_affinity_ring *r;
        const char *kind = vec_str(e, "case"), *token = vec_str(e, "token");
        uint32_t crc = tt_affinity_crc32(token, strlen(token));
        size_t pos, np;

        vec_set_load(root, vec_str(e, "set"), &set);
        r = ring_of(&set);
        np = tt_affinity_ring_points(r);
        pos = tt_affinity_ring_find(r, crc);
        assert_int_equal(crc, vec_u32(e, "crc32"));
        assert_int_equal(pos, vec_u32(e, "ring_index"));
        assert_id(point_id(r, pos), vec_str(e, "node"));
        assert_int_equal(lookup(r, token), vec_set_find(&set, vec_str(e, "node")));
        if (strcmp(kind, "W_ABOVE_MAX") == 0) {
            assert_true(crc > point_hash(r, np - 1));
            assert_int_equal(pos, 0);
        } else if (strcmp(kind, "W_BELOW_MIN") == 0) {
            assert_true(crc < point_hash(r, 0));
            assert_int_equal(pos, 0);
        } else if (strcmp(kind, "X_EQ_POINT") == 0) {
            /* '>' instead of '>=' would pick the next point, which is another node's. */
            assert_int_equal(crc, point_hash(r, pos));
            assert_false(tt_slice_eq(point_id(r, pos), point_id(r, pos + 1)));
        } else if (strcmp(kind, "X_POINT_MINUS1") == 0) {
            assert_int_equal(crc, point_hash(r, pos) - 1);
        } else if (strcmp(kind, "X_POINT_PLUS1") == 0) {
            assert_int_equal(crc, point_hash(r, pos - 1) + 1);
        } else {
            fail_msg("unknown edge case %s", kind);
        }
        tt_affinity_ring_free(r);
        checked++;
    }
    assert_int_equal(checked, 20);
    cJSON_Delete(root);
}

/* ring_digests: MD5 of "<hash> <node id>\n" per point proves the whole ring is identical. */
static void test_ring_digests(void **state)
{
    cJSON *root = vec_load();
    (void)state;

    for (size_t s = 0; s < 4; s++) {
        const cJSON *d = vec_get(vec_get(root, "ring_digests"), set_names[s]);
        struct vec_set set;
        struct tt_affinity_ring *r;
        size_t np, cap, len = 0;
        char *listing, md5[33];

        vec_set_load(root, set_names[s], &set);
        r = ring_of(&set);
        np = tt_affinity_ring_points(r);
        assert_int_equal(np, vec_u32(d, "points"));
        cap = np * 96;
        assert_non_null(listing = malloc(cap));
        for (size_t i = 0; i < np; i++) {
            uint32_t h;
            struct tt_slice id;
            tt_affinity_ring_point(r, i, &h, NULL, &id);
            len += (size_t)snprintf(listing + len, cap - len, "%u %.*s\n", h, (int)id.len, id.ptr);
        }
        tt_affinity_md5hex(md5, listing, len);
        assert_string_equal(md5, vec_str(d, "md5_of_listing"));
        free(listing);
        tt_affinity_ring_free(r);
    }
    cJSON_Delete(root);
}

/* tie_cases: rings where two nodes share a hash. The original orders them by LuaJIT's pairs();
 * tether by node id bytes. Both agree on every recorded case, whatever the input order. */
static void test_tie_cases(void **state)
{
    cJSON *root = vec_load();
    const cJSON *t;
    int checked = 0;
    (void)state;

    cJSON_ArrayForEach(t, vec_get(root, "tie_cases"))
    {
        struct vec_set set;
        struct tt_affinity_ring *r;
        const char *token = vec_str(t, "token");
        uint32_t tied = vec_u32(t, "tied_hash"), crc = tt_affinity_crc32(token, strlen(token));
        size_t pos, same = 0;

        vec_set_from_array(&set, vec_get(t, "endpoints_in_input_order"));
        r = ring_of(&set);
        assert_int_equal(crc, vec_u32(t, "crc32"));
        pos = tt_affinity_ring_find(r, crc);
        assert_int_equal(point_hash(r, pos), tied);
        for (size_t i = pos; i < tt_affinity_ring_points(r) && point_hash(r, i) == tied; i++)
            same++;
        assert_true(same >= 2);
        assert_false(tt_slice_eq(point_id(r, pos), point_id(r, pos + 1)));
        assert_id(point_id(r, pos), vec_str(t, "chosen"));
        assert_int_equal(lookup(r, token), vec_set_find(&set, vec_str(t, "chosen")));
        tt_affinity_ring_free(r);
        checked++;
    }
    assert_int_equal(checked, 7);
    cJSON_Delete(root);
}

/* pick_new_examples: the sampled tokens route as recorded; with all but one node excluded
 * only that node (or no peer, when 20 tries miss it) comes back; with all excluded, none. */
static void test_pick_new_examples(void **state)
{
    cJSON *root = vec_load();
    uint64_t seed = 1;
    int checked = 0;
    (void)state;

    for (size_t s = 0; s < 4; s++) {
        const cJSON *ex = vec_get(vec_get(root, "pick_new_examples"), set_names[s]), *t;
        const cJSON *one = vec_get(ex, "pick_new_all_but_one_excluded");
        struct vec_set set;
        struct tt_affinity_ring *r;
        uint32_t excl[VEC_MAX_NODES];
        size_t ne = 0;
        int survivor, hits = 0, misses = 0;
        char token[TT_AFFINITY_TOKEN_LEN + 1];

        vec_set_load(root, set_names[s], &set);
        r = ring_of(&set);
        cJSON_ArrayForEach(t, vec_get(ex, "tokens"))
        {
            assert_int_equal(lookup(r, vec_str(t, "token")),
                             vec_set_find(&set, vec_str(t, "node")));
            checked++;
        }
        survivor = vec_set_find(&set, vec_str(one, "survivor"));
        assert_string_equal(vec_str(one, "picked"), vec_str(one, "survivor"));
        for (size_t i = 0; i < set.n; i++) {
            if ((int)i != survivor)
                excl[ne++] = (uint32_t)i;
        }
        for (int k = 0; k < 2000; k++) {
            int got = tt_affinity_ring_pick(r, excl, ne, vec_rand, &seed, token);
            if (got == survivor)
                hits++;
            else if (got == TT_ENOENT)
                misses++;
            else
                fail_msg("%s: picked excluded node %d", set_names[s], got);
        }
        {
            /* A try lands on the survivor with its ring share p; all 20 miss with (1-p)^20. */
            double share[VEC_MAX_NODES], q;
            ring_shares(r, set.n, share);
            q = pow(1 - share[survivor], TT_AFFINITY_PICK_TRIES);
            print_message("    %s all-but-%s excluded: %d picked, %d no peer (expected %.1f)\n",
                          set_names[s], vec_str(one, "survivor"), hits, misses, q * 2000);
            assert_true(hits > 0);
            assert_true(fabs(misses / 2000.0 - q) < 4 * sqrt(q * (1 - q) / 2000) + 0.001);
        }
        /* All excluded: never a peer. */
        excl[ne++] = (uint32_t)survivor;
        assert_string_equal(vec_str(ex, "pick_new_all_excluded"), "nil");
        for (int k = 0; k < 100; k++)
            assert_int_equal(tt_affinity_ring_pick(r, excl, ne, vec_rand, &seed, token), TT_ENOENT);
        tt_affinity_ring_free(r);
    }
    assert_int_equal(checked, 12);
    cJSON_Delete(root);
}

/* §2.3: "10 of our 30 fixed tokens move from E1 to E2", and only to the two new nodes. */
static void test_e1_to_e2_moves(void **state)
{
    cJSON *root = vec_load();
    const cJSON *tokens = vec_get(root, "tokens"), *t;
    struct vec_set e1, e2;
    struct tt_affinity_ring *r1, *r2;
    int moved = 0;
    (void)state;

    vec_set_load(root, "E1", &e1);
    vec_set_load(root, "E2", &e2);
    r1 = ring_of(&e1);
    r2 = ring_of(&e2);
    cJSON_ArrayForEach(t, tokens)
    {
        int a = lookup(r1, t->valuestring), b = lookup(r2, t->valuestring);
        if (strcmp(e1.ids[a], e2.ids[b]) != 0) {
            moved++;
            assert_true(strcmp(e2.ids[b], "10.0.0.4:8080") == 0 ||
                        strcmp(e2.ids[b], "10.0.0.5:8080") == 0);
        }
    }
    assert_int_equal(moved, 10);
    tt_affinity_ring_free(r1);
    tt_affinity_ring_free(r2);
    cJSON_Delete(root);
}

/* ---- behaviour ---- */

static void assert_same_ring(const struct tt_affinity_ring *a, const struct tt_affinity_ring *b)
{
    assert_int_equal(tt_affinity_ring_points(a), tt_affinity_ring_points(b));
    for (size_t i = 0; i < tt_affinity_ring_points(a); i++) {
        assert_int_equal(point_hash(a, i), point_hash(b, i));
        assert_true(tt_slice_eq(point_id(a, i), point_id(b, i)));
    }
}

/* §4.5: the ring depends only on the set of node ids. Duplicates collapse (first index kept);
 * the index handed back is the caller's, whatever it is. */
static void test_order_and_duplicates(void **state)
{
    cJSON *root = vec_load();
    struct vec_set e3, shuffled, dup;
    struct tt_affinity_ring *base, *r;
    uint64_t seed = 7;
    (void)state;

    vec_set_load(root, "E3", &e3);
    base = ring_of(&e3);
    for (int round = 0; round < 5; round++) {
        shuffled = e3;
        for (size_t i = shuffled.n - 1; i > 0; i--) {
            size_t j = (size_t)(vec_rand(&seed) % (i + 1));
            char tmp[TT_AFFINITY_NODE_ID_SIZE];
            memcpy(tmp, shuffled.ids[i], sizeof(tmp));
            memcpy(shuffled.ids[i], shuffled.ids[j], sizeof(tmp));
            memcpy(shuffled.ids[j], tmp, sizeof(tmp));
        }
        for (size_t i = 0; i < shuffled.n; i++) {
            shuffled.nodes[i].id = tt_slice_cstr(shuffled.ids[i]);
            shuffled.nodes[i].index = (uint32_t)(1000 + i);
        }
        r = ring_of(&shuffled);
        assert_same_ring(base, r);
        /* Same node for every token, reported with the shuffled set's own index. */
        for (int k = 0; k < 200; k++) {
            char tok[32];
            snprintf(tok, sizeof(tok), "tok-%d", k);
            assert_string_equal(e3.ids[lookup(base, tok)], shuffled.ids[lookup(r, tok) - 1000]);
        }
        tt_affinity_ring_free(r);
    }
    /* Every node twice (second copies with other indexes): same ring, first indexes. */
    dup = e3;
    for (size_t i = 0; i < e3.n; i++) {
        vec_set_add(&dup, e3.ids[i]);
        dup.nodes[dup.n - 1].index = (uint32_t)(500 + i);
    }
    r = ring_of(&dup);
    assert_int_equal(tt_affinity_ring_nodes(r), e3.n);
    assert_same_ring(base, r);
    for (size_t i = 0; i < tt_affinity_ring_points(r); i++) {
        uint32_t a, b;
        tt_affinity_ring_point(base, i, NULL, &a, NULL);
        tt_affinity_ring_point(r, i, NULL, &b, NULL);
        assert_int_equal(a, b);
    }
    tt_affinity_ring_free(r);
    tt_affinity_ring_free(base);
    cJSON_Delete(root);
}

static void test_empty_and_invalid(void **state)
{
    struct tt_affinity_ring *r;
    struct tt_affinity_node big = {TT_SLICE_LIT("10.0.0.1:80"), (uint32_t)INT32_MAX + 1u};
    struct tt_affinity_node ok = {TT_SLICE_LIT("10.0.0.1:80"), (uint32_t)INT32_MAX};
    char token[TT_AFFINITY_TOKEN_LEN + 1];
    uint64_t seed = 3;
    (void)state;

    assert_non_null(r = tt_affinity_ring_new(NULL, 0));
    assert_int_equal(tt_affinity_ring_points(r), 0);
    assert_int_equal(tt_affinity_ring_nodes(r), 0);
    assert_int_equal(tt_affinity_ring_lookup(r, TT_SLICE_LIT("x")), TT_ENOENT);
    assert_int_equal(tt_affinity_ring_pick(r, NULL, 0, vec_rand, &seed, token), TT_ENOENT);
    tt_affinity_ring_free(r);
    tt_affinity_ring_free(NULL);
    assert_null(tt_affinity_ring_new(&big, 1));
    assert_null(tt_affinity_ring_new(&ok, (size_t)TT_AFFINITY_MAX_NODES + 1));
    assert_non_null(r = tt_affinity_ring_new(&ok, 1));
    assert_int_equal(tt_affinity_ring_lookup(r, TT_SLICE_LIT("x")), INT32_MAX);
    /* An empty token is a token too: crc32("") = 0 -> ring[0] (T21). */
    assert_int_equal(tt_affinity_ring_lookup(r, tt_slice_make(NULL, 0)), INT32_MAX);
    tt_affinity_ring_free(r);
    /* An empty node id is just bytes. */
    {
        struct tt_affinity_node empty = {tt_slice_make(NULL, 0), 0};
        assert_non_null(r = tt_affinity_ring_new(&empty, 1));
        assert_int_equal(tt_affinity_ring_lookup(r, TT_SLICE_LIT("x")), 0);
        tt_affinity_ring_free(r);
    }
}

/* The binary search equals the definition: first point >= h, else point 0. */
static void test_lookup_equals_linear_scan(void **state)
{
    uint64_t seed = 11;
    int checked = 0;
    (void)state;

    for (size_t n = 1; n <= 40; n += 3) {
        struct vec_set set;
        struct tt_affinity_ring *r;
        size_t np;
        vec_set_random(&set, n, &seed);
        r = ring_of(&set);
        np = tt_affinity_ring_points(r);
        for (size_t k = 0; k < 4 * np + 100; k++) {
            uint32_t h, want = 0;
            size_t p = k / 4;
            if (p < np) {
                /* Each point's hash, one below, one above, and a random value. */
                uint32_t base = point_hash(r, p);
                h = k % 4 == 0   ? base
                    : k % 4 == 1 ? base - 1
                    : k % 4 == 2 ? base + 1
                                 : (uint32_t)vec_rand(&seed);
            } else {
                h = k % 2 ? 0 : UINT32_MAX - (uint32_t)(k % 3);
            }
            for (size_t i = 0; i < np; i++) {
                if (point_hash(r, i) >= h) {
                    want = (uint32_t)i;
                    break;
                }
            }
            assert_int_equal(tt_affinity_ring_find(r, h), want);
            checked++;
        }
        /* Sorted ascending. */
        for (size_t i = 1; i < np; i++)
            assert_true(point_hash(r, i - 1) <= point_hash(r, i));
        tt_affinity_ring_free(r);
    }
    print_message("    %d lookups equal the linear-scan definition\n", checked);
}

/* Each node's share of the hash space: the arc ending at each of its points. */
static void ring_shares(const struct tt_affinity_ring *r, size_t n, double *share)
{
    size_t np = tt_affinity_ring_points(r);
    for (size_t i = 0; i < n; i++)
        share[i] = 0;
    for (size_t i = 0; i < np; i++) {
        uint32_t h, index, prev = point_hash(r, i == 0 ? np - 1 : i - 1);
        tt_affinity_ring_point(r, i, &h, &index, NULL);
        share[index] += (double)(uint32_t)(h - prev) / 4294967296.0;
    }
}

static void random_token(char *tok, size_t cap, uint64_t *seed, int style)
{
    uint64_t r = vec_rand(seed);
    if (style == 0) /* ingress-nginx's own format */
        snprintf(tok, cap, "%u.%03u.%u.%u", 1700000000u + (unsigned)(r % 100000000u),
                 (unsigned)((r >> 27) % 1000u), (unsigned)((r >> 37) % 65536u),
                 1u + (unsigned)((r >> 11) % 999999u));
    else
        snprintf(tok, cap, "%016llx", (unsigned long long)r);
}

/* Scale-up from c to n nodes: a key either stays or moves to one of the new nodes, and about
 * (n-c)/n of the keys move (the new nodes' ring share). */
static void test_scale_up_moves_about_n_minus_c_over_n(void **state)
{
    static const size_t pairs[][2] = {{1, 2},   {3, 5},   {5, 10},  {10, 11},
                                      {20, 25}, {20, 40}, {50, 100}};
    const int keys = 10000;
    uint64_t seed = 2024;
    (void)state;

    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
        size_t c = pairs[p][0], n = pairs[p][1];
        struct vec_set big, small;
        struct tt_affinity_ring *rs, *rb;
        double share[VEC_MAX_NODES], new_share = 0, want = (double)(n - c) / (double)n;
        int moved = 0;

        vec_set_random(&big, n, &seed);
        small = big;
        small.n = c;
        rs = ring_of(&small);
        rb = ring_of(&big);
        ring_shares(rb, n, share);
        for (size_t i = c; i < n; i++)
            new_share += share[i];
        for (int k = 0; k < keys; k++) {
            char tok[64];
            int a, b;
            random_token(tok, sizeof(tok), &seed, k % 2);
            a = lookup(rs, tok);
            b = lookup(rb, tok);
            if (a != b) {
                moved++;
                if ((size_t)b < c)
                    fail_msg("%zu->%zu: %s moved between two old nodes (%d -> %d)", c, n, tok, a,
                             b);
            }
        }
        print_message("    scale %zu->%zu: %.4f of %d keys moved, new nodes' ring share %.4f, "
                      "(n-c)/n = %.4f\n",
                      c, n, (double)moved / keys, keys, new_share, want);
        /* The moved fraction is the new nodes' share up to sampling noise (4 sigma). */
        assert_true(fabs((double)moved / keys - new_share) <
                    4 * sqrt(new_share * (1 - new_share) / keys) + 1e-9);
        /* 160 points per node keep that share near (n-c)/n. */
        assert_true(fabs(new_share - want) < 0.05);
        tt_affinity_ring_free(rs);
        tt_affinity_ring_free(rb);
    }
}

/* Scale-down by one node: exactly that node's keys move, each to some surviving node. */
static void test_scale_down_moves_only_removed(void **state)
{
    uint64_t seed = 99;
    (void)state;

    for (size_t n = 2; n <= 30; n += 7) {
        struct vec_set all, rest;
        struct tt_affinity_ring *ra, *rr;
        size_t gone = n / 2;
        int moved = 0, owned = 0;

        vec_set_random(&all, n, &seed);
        rest.n = 0;
        for (size_t i = 0; i < n; i++) {
            if (i != gone) {
                vec_set_add(&rest, all.ids[i]);
                rest.nodes[rest.n - 1].index = (uint32_t)i; /* keep the big set's numbering */
            }
        }
        ra = ring_of(&all);
        rr = ring_of(&rest);
        for (int k = 0; k < 5000; k++) {
            char tok[64];
            int a, b;
            random_token(tok, sizeof(tok), &seed, 1);
            a = lookup(ra, tok);
            b = lookup(rr, tok);
            owned += (size_t)a == gone;
            moved += a != b;
            assert_true((size_t)a == gone || a == b);
            assert_true((size_t)b != gone);
        }
        assert_int_equal(moved, owned);
        print_message("    scale %zu->%zu: %.4f of 5000 keys moved (1/n = %.4f)\n", n, n - 1,
                      moved / 5000.0, 1.0 / (double)n);
        tt_affinity_ring_free(ra);
        tt_affinity_ring_free(rr);
    }
}

/* New tokens: 16 lowercase hex digits, routed where they say, spread like the ring shares;
 * exclusions are honoured. */
static void test_pick_follows_ring_shares(void **state)
{
    cJSON *root = vec_load();
    struct vec_set e3;
    struct tt_affinity_ring *r;
    double share[VEC_MAX_NODES], chi2 = 0;
    int count[VEC_MAX_NODES] = {0};
    const int picks = 40000;
    uint64_t seed = 5;
    uint32_t excl[2] = {3, 17};
    char token[TT_AFFINITY_TOKEN_LEN + 1];
    (void)state;

    vec_set_load(root, "E3", &e3);
    r = ring_of(&e3);
    ring_shares(r, e3.n, share);
    for (int k = 0; k < picks; k++) {
        int got = tt_affinity_ring_pick(r, NULL, 0, vec_rand, &seed, token);
        assert_true(got >= 0 && (size_t)got < e3.n);
        assert_int_equal(strlen(token), TT_AFFINITY_TOKEN_LEN);
        assert_int_equal(strspn(token, "0123456789abcdef"), TT_AFFINITY_TOKEN_LEN);
        assert_int_equal(lookup(r, token), got);
        count[got]++;
    }
    for (size_t i = 0; i < e3.n; i++) {
        double expect = share[i] * picks;
        chi2 += (count[i] - expect) * (count[i] - expect) / expect;
    }
    /* 19 degrees of freedom: P(chi2 > 43.8) = 0.001. */
    print_message("    E3 pick vs ring share: chi2 = %.1f (19 dof)\n", chi2);
    assert_true(chi2 < 43.8);
    for (int k = 0; k < 2000; k++) {
        int got = tt_affinity_ring_pick(r, excl, 2, vec_rand, &seed, token);
        assert_true(got != 3 && got != 17);
    }
    tt_affinity_ring_free(r);
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_balanced_vectors, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_edge_vectors, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_ring_digests, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_tie_cases, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_pick_new_examples, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_e1_to_e2_moves, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_order_and_duplicates, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_invalid, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_lookup_equals_linear_scan, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_scale_up_moves_about_n_minus_c_over_n,
                                        tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_scale_down_moves_only_removed, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_pick_follows_ring_shares, tt_test_leak_setup, tt_test_leak_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
