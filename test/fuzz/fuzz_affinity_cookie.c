/* test/fuzz/fuzz_affinity_cookie.c - the affinity cookie path over arbitrary bytes: the Cookie
 * scanner against a direct transcription of lua-resty-cookie's get_cookie_table, the '|' split,
 * the per-attempt decision in both modes, ring and key map lookups, and the node-id IPv4 test
 * against a backtracking matcher of the Lua pattern. Input: byte 0 chooses the cookie name
 * (values 6 and 7: the name is the bytes up to the first '\n'), the rest is up to 8 Cookie
 * headers separated by '\n'. Any disagreement traps. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balance/affinity.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const char *const names[] = {"INGRESSCOOKIE", "route", "a", "", "a b", ";a"};

static struct tt_affinity *balanced, *persistent;

static void build_once(void)
{
    static const char *const ids[] = {"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080",
                                      "[fd00:10:244::1]:8080"};
    struct tt_affinity_node nodes[4];

    if (balanced != NULL)
        return;
    for (uint32_t i = 0; i < 4; i++)
        nodes[i] = (struct tt_affinity_node){tt_slice_cstr(ids[i]), i};
    balanced = tt_affinity_new(TT_AFFINITY_BALANCED, TT_SLICE_LIT("default-echo-80"), nodes, 4);
    persistent = tt_affinity_new(TT_AFFINITY_PERSISTENT, TT_SLICE_LIT("default-echo-80"), nodes, 4);
    CHECK(balanced != NULL && persistent != NULL);
}

static uint64_t next_rand(void *ctx)
{
    uint64_t *s = ctx;
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* lua-resty-cookie get_cookie_table, 1-based as in Lua, keeping only |want|'s last value. */
static bool reference_find(const char *t, size_t len, const char *want, size_t want_len, size_t *vs,
                           size_t *vl)
{
    enum { KEY = 1, VALUE = 2, SP = 3 } state = SP;
    size_t i = 1, j = 1, key_i = 0, key_l = 0;
    bool have_key = false, found = false;

    while (j <= len) {
        unsigned char c = (unsigned char)t[j - 1];
        if (state == KEY) {
            if (c == '=') {
                key_i = i;
                key_l = j - i;
                have_key = true;
                state = VALUE;
                i = j + 1;
            }
        } else if (state == VALUE) {
            if (c == ';' || c == ' ' || c == '\t') {
                if (key_l == want_len && memcmp(t + key_i - 1, want, want_len) == 0) {
                    found = true;
                    *vs = i - 1;
                    *vl = j - i;
                }
                have_key = false;
                state = SP;
                i = j + 1;
            }
        } else if (c != ' ' && c != '\t') {
            state = KEY;
            i = j;
            j = j - 1;
        }
        j = j + 1;
    }
    if (have_key && key_l == want_len && memcmp(t + key_i - 1, want, want_len) == 0) {
        found = true;
        *vs = i - 1;
        *vl = len - (i - 1);
    }
    return found;
}

/* "^%d+.%d+.%d+.%d+$" by backtracking, as Lua's matcher does it. */
static bool lua_match(const char *s, size_t n, int group)
{
    size_t k = 0;

    while (k < n && s[k] >= '0' && s[k] <= '9')
        k++;
    for (; k >= 1; k--) {
        if (group == 3 && k == n)
            return true;
        if (group < 3 && k < n && lua_match(s + k + 1, n - k - 1, group + 1))
            return true;
    }
    return false;
}

static void check_choice(const struct tt_affinity *a, struct tt_slice key, bool repick,
                         const uint32_t *tried, size_t n_tried, uint64_t *seed)
{
    struct tt_affinity_choice ch;
    int got = tt_affinity_choose(a, key, repick, tried, n_tried, next_rand, seed, &ch);

    CHECK(got == ch.index);
    CHECK(got == TT_ENOENT || (got >= 0 && got < 4));
    CHECK(!ch.issue || got >= 0);
    if (!ch.issue) {
        CHECK(ch.value_len == 0);
        if (!repick && key.len > 0 && got >= 0)
            CHECK(tt_affinity_lookup(a, key) == got);
        return;
    }
    for (size_t i = 0; i < n_tried; i++)
        CHECK(tried[i] != (uint32_t)got);
    CHECK(ch.value_len == strlen(ch.value));
    {
        /* A value tether issues reads back to the same endpoint through the same scanner. */
        struct tt_slice h = tt_slice_make(ch.value, ch.value_len);
        struct tt_affinity_cookie c;
        CHECK(tt_affinity_value_split(h, &c));
        CHECK(tt_slice_eq(c.backend_key, tt_slice_cstr(tt_affinity_backend_key(a))));
        CHECK(tt_affinity_lookup(a, c.upstream_key) == got);
        CHECK(memchr(ch.value, ';', ch.value_len) == NULL);
        CHECK(memchr(ch.value, ' ', ch.value_len) == NULL);
        CHECK(memchr(ch.value, '"', ch.value_len) == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tt_slice headers[8], name, value;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    size_t nh = 0, jl = 0, vs = 0, vl = 0;
    char *joined;
    bool ours, ref;
    uint64_t seed;
    uint32_t tried[3];

    build_once();
    if (size == 0)
        return 0;
    if (data[0] % 8 < 6) {
        name = tt_slice_cstr(names[data[0] % 8]);
    } else {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        name = tt_slice_make(p, nl != NULL ? (size_t)(nl - p) : (size_t)(end - p));
        p = nl != NULL ? nl + 1 : end;
    }
    while (nh < 8) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || nh == 7) {
            headers[nh++] = tt_slice_make(p, (size_t)(end - p));
            break;
        }
        headers[nh++] = tt_slice_make(p, (size_t)(nl - p));
        p = nl + 1;
    }

    /* Scanner vs reference over the "; " join. */
    if ((joined = malloc(size + 2 * nh + 1)) == NULL)
        return 0;
    for (size_t i = 0; i < nh; i++) {
        if (i > 0) {
            memcpy(joined + jl, "; ", 2);
            jl += 2;
        }
        if (headers[i].len > 0)
            memcpy(joined + jl, headers[i].ptr, headers[i].len);
        jl += headers[i].len;
    }
    ours = tt_affinity_cookie_find(name, headers, nh, &value);
    ref = reference_find(joined, jl, name.ptr, name.len, &vs, &vl);
    CHECK(ours == ref);
    if (ours)
        CHECK(tt_slice_eq(value, tt_slice_make(joined + vs, vl)));
    free(joined);

    /* Split, then decide in both modes as a first attempt and as a change-on-failure retry. */
    seed = tt_affinity_crc32(data, size);
    tried[0] = data[0] & 3;
    tried[1] = (data[0] >> 2) & 3;
    tried[2] = (data[0] >> 4) & 3;
    if (ours) {
        struct tt_affinity_cookie c;
        bool usable = tt_affinity_value_split(value, &c);
        CHECK(usable == (c.upstream_key.len > 0));
        CHECK(c.backend_key.len == 0 || usable);
        CHECK(memchr(c.upstream_key.ptr == NULL ? "" : c.upstream_key.ptr, '|',
                     c.upstream_key.len) == NULL);
        CHECK(memchr(c.backend_key.ptr == NULL ? "" : c.backend_key.ptr, '|', c.backend_key.len) ==
              NULL);
        for (int m = 0; m < 2; m++) {
            const struct tt_affinity *a = m ? persistent : balanced;
            check_choice(a, c.upstream_key, false, NULL, 0, &seed);
            check_choice(a, c.upstream_key, true, tried, 1 + data[0] % 3, &seed);
            (void)tt_affinity_is_affinitized(a, c.backend_key);
        }
        /* Balanced: a non-empty key always routes. */
        if (usable)
            CHECK(tt_affinity_lookup(balanced, c.upstream_key) >= 0);
        /* Node ids: the IPv4 test equals Lua's pattern. */
        if (value.len < 40) {
            char id[TT_AFFINITY_NODE_ID_SIZE];
            int n = tt_affinity_node_id(id, sizeof(id), value, 8080);
            bool v4 = lua_match(value.ptr, value.len, 0);
            CHECK(n == (int)value.len + (v4 ? 0 : 2) + 5);
            CHECK((id[0] == '[') == !v4);
            CHECK(memcmp(id + n - 5, ":8080", 5) == 0);
        }
    }
    check_choice(balanced, tt_slice_make(NULL, 0), false, NULL, 0, &seed);
    (void)tt_affinity_lookup(balanced, tt_slice_make((const char *)data, size));
    (void)tt_affinity_lookup(persistent, tt_slice_make((const char *)data, size));
    return 0;
}
