/* test/unit/balance/vectors.h - shared by the lib/balance tests: loads the vectors of
 * spec/affinity-cookie-algorithms.md Appendix A (copied verbatim to
 * test/unit/fixtures/affinity-vectors.json; $TT_FIXTURES overrides the folder), turns an
 * endpoint set into builder nodes, and a seeded random source. Include after <cmocka.h> and
 * leakcheck.h; load in a test body after tt_test_leaks_begin() so cJSON uses tt_ allocators. */
#ifndef TT_TEST_UNIT_BALANCE_VECTORS_H
#define TT_TEST_UNIT_BALANCE_VECTORS_H

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/affinity.h"

#define VEC_MAX_NODES 128

static inline cJSON *vec_load(void)
{
    char path[4096];
    const char *dir = getenv("TT_FIXTURES");
    FILE *f;
    long len;
    char *text;
    cJSON *root;

    snprintf(path, sizeof(path), "%s/affinity-vectors.json",
             dir != NULL ? dir : "test/unit/fixtures");
    if ((f = fopen(path, "rb")) == NULL)
        fail_msg("cannot open %s (run from the repository root or set TT_FIXTURES)", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    root = cJSON_Parse(text);
    free(text);
    if (root == NULL)
        fail_msg("%s: not valid JSON", path);
    return root;
}

static inline const cJSON *vec_get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        fail_msg("vectors: no member \"%s\"", key);
    return v;
}

static inline const char *vec_str(const cJSON *o, const char *key)
{
    const cJSON *v = vec_get(o, key);
    if (!cJSON_IsString(v))
        fail_msg("vectors: \"%s\" is not a string", key);
    return v->valuestring;
}

/* A string member, or NULL when it is JSON null. */
static inline const char *vec_str_or_null(const cJSON *o, const char *key)
{
    const cJSON *v = vec_get(o, key);
    return cJSON_IsNull(v) ? NULL : vec_str(o, key);
}

static inline uint32_t vec_u32(const cJSON *o, const char *key)
{
    const cJSON *v = vec_get(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 4294967295.0)
        fail_msg("vectors: \"%s\" is not a uint32", key);
    return (uint32_t)v->valuedouble;
}

/* An endpoint set of node ids; node i has index i and id ids[i]. */
struct vec_set {
    size_t n;
    char ids[VEC_MAX_NODES][TT_AFFINITY_NODE_ID_SIZE];
    struct tt_affinity_node nodes[VEC_MAX_NODES];
};

static inline void vec_set_add(struct vec_set *s, const char *id)
{
    assert_true(s->n < VEC_MAX_NODES);
    assert_true(strlen(id) < TT_AFFINITY_NODE_ID_SIZE);
    snprintf(s->ids[s->n], sizeof(s->ids[s->n]), "%s", id);
    s->nodes[s->n].id = tt_slice_cstr(s->ids[s->n]);
    s->nodes[s->n].index = (uint32_t)s->n;
    s->n++;
}

static inline void vec_set_from_array(struct vec_set *s, const cJSON *arr)
{
    const cJSON *e;
    s->n = 0;
    assert_true(cJSON_IsArray(arr));
    cJSON_ArrayForEach(e, arr)
    {
        assert_true(cJSON_IsString(e));
        vec_set_add(s, e->valuestring);
    }
}

/* endpoint_sets.<name> of the vectors. */
static inline void vec_set_load(const cJSON *root, const char *name, struct vec_set *s)
{
    vec_set_from_array(s, vec_get(vec_get(root, "endpoint_sets"), name));
}

static inline int vec_set_find(const struct vec_set *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->ids[i], id) == 0)
            return (int)i;
    }
    fail_msg("node %s is not in the set", id);
    return -1;
}

/* splitmix64: a seeded tt_affinity_rand_fn; ctx points at the uint64_t state. */
static inline uint64_t vec_rand(void *ctx)
{
    uint64_t *s = ctx;
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random IPv4 endpoint set of n distinct nodes "10.a.b.c:8080". */
static inline void vec_set_random(struct vec_set *s, size_t n, uint64_t *seed)
{
    s->n = 0;
    while (s->n < n) {
        char id[TT_AFFINITY_NODE_ID_SIZE];
        uint64_t r = vec_rand(seed);
        bool dup = false;
        snprintf(id, sizeof(id), "10.%u.%u.%u:8080", (unsigned)(r & 255),
                 (unsigned)((r >> 8) & 255), (unsigned)((r >> 16) & 255));
        for (size_t i = 0; i < s->n; i++)
            dup = dup || strcmp(s->ids[i], id) == 0;
        if (!dup)
            vec_set_add(s, id);
    }
}

#endif
