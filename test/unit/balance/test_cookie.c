/* test/unit/balance/test_cookie.c - reading the cookie: the 20 Appendix A header cases run
 * through scanner, split, affinitized test and the per-attempt decision (§6.2.6); the same
 * cases cut into several Cookie headers at every "; "; lua-resty-cookie's quirks one by one;
 * the scanner against a direct transcription of get_cookie_table over random headers; the
 * value split (§4.3) and format (§4.1). */
/* cmocka.h needs these four first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

#include "balance/affinity.h"
#include "unit/leakcheck.h"
#include "vectors.h"

static const struct tt_slice name = TT_SLICE_LIT("INGRESSCOOKIE");

static void assert_piece(struct tt_slice got, const char *want, const char *what, const char *id)
{
    if (want == NULL) {
        if (got.len != 0)
            fail_msg("%s: %s = \"%.*s\", want none", id, what, (int)got.len, got.ptr);
        return;
    }
    if (!tt_slice_eq(got, tt_slice_cstr(want)))
        fail_msg("%s: %s = \"%.*s\", want \"%s\"", id, what, (int)got.len, got.ptr, want);
}

/* Cuts |text| at every "; " into separate headers (nginx joins repeated Cookie headers with
 * "; ", so the scanner must see the same thing either way). Returns the count. */
static size_t cut_headers(const char *text, struct tt_slice *out, size_t cap)
{
    size_t n = 0;
    const char *p = text, *q;

    while ((q = strstr(p, "; ")) != NULL && n + 1 < cap) {
        out[n++] = tt_slice_make(p, (size_t)(q - p));
        p = q + 2;
    }
    out[n++] = tt_slice_cstr(p);
    return n;
}

/* cookie_parsing C01-C20: backend default-deno-hello-service-8000, balanced, endpoint set E1. */
static void test_cookie_vectors(void **state)
{
    cJSON *root = vec_load();
    const cJSON *c;
    struct vec_set e1;
    struct tt_affinity *a;
    uint64_t seed = 1;
    int checked = 0, multi = 0;
    (void)state;

    vec_set_load(root, "E1", &e1);
    assert_non_null(a = tt_affinity_new(TT_AFFINITY_BALANCED,
                                        tt_slice_cstr(vec_str(root, "backend_name")), e1.nodes,
                                        e1.n));
    cJSON_ArrayForEach(c, vec_get(root, "cookie_parsing"))
    {
        const char *id = vec_str(c, "id"), *header = vec_str_or_null(c, "cookie_header");
        const char *routed = vec_str_or_null(c, "routed_E1_balanced");
        bool affinitized = cJSON_IsTrue(vec_get(c, "is_affinitized"));
        bool issued = cJSON_IsTrue(vec_get(c, "new_cookie_issued"));
        struct tt_slice headers[16];
        size_t nh = 0;
        struct tt_affinity_cookie ck;
        struct tt_affinity_choice ch;
        bool usable;

        if (header != NULL)
            headers[nh++] = tt_slice_cstr(header);
        usable = tt_affinity_cookie_parse(name, headers, nh, &ck);
        assert_piece(ck.upstream_key, vec_str_or_null(c, "upstream_key"), "upstream_key", id);
        assert_piece(ck.backend_key, vec_str_or_null(c, "backend_key"), "backend_key", id);
        assert_int_equal(usable, vec_str_or_null(c, "upstream_key") != NULL);
        assert_int_equal(tt_affinity_is_affinitized(a, ck.backend_key), affinitized);
        tt_affinity_choose(a, ck.upstream_key, false, NULL, 0, vec_rand, &seed, &ch);
        assert_int_equal(ch.issue, issued);
        if (routed != NULL) {
            assert_int_equal(ch.index, vec_set_find(&e1, routed));
        } else {
            /* A random pick and a fresh "<token>|<backend_key>" value. */
            assert_true(ch.index >= 0 && (size_t)ch.index < e1.n);
            assert_int_equal(ch.value_len, TT_AFFINITY_TOKEN_LEN + 1 + TT_AFFINITY_KEY_LEN);
            assert_int_equal(ch.value[TT_AFFINITY_TOKEN_LEN], '|');
            assert_string_equal(ch.value + TT_AFFINITY_TOKEN_LEN + 1,
                                "ef2c5dc5fe4d202a037964d893c45720");
            assert_int_equal(tt_affinity_lookup(a, tt_slice_make(ch.value, TT_AFFINITY_TOKEN_LEN)),
                             ch.index);
        }
        /* The same request with its Cookie header sent as several headers (C15 is two). */
        if (header != NULL && strstr(header, "; ") != NULL) {
            struct tt_affinity_cookie ck2;
            nh = cut_headers(header, headers, 16);
            assert_true(nh >= 2);
            assert_int_equal(tt_affinity_cookie_parse(name, headers, nh, &ck2), usable);
            assert_piece(ck2.upstream_key, vec_str_or_null(c, "upstream_key"), "upstream_key", id);
            assert_piece(ck2.backend_key, vec_str_or_null(c, "backend_key"), "backend_key", id);
            multi++;
        }
        checked++;
    }
    assert_int_equal(checked, 20);
    print_message("    %d cookie header vectors reproduced (%d also as several headers)\n", checked,
                  multi);
    tt_affinity_free(a);
    cJSON_Delete(root);
}

/* find() over |n| headers given as C strings; returns the value or NULL when not found. */
static const char *find_in(const char *want, const char *const *texts, size_t n)
{
    static char out[256];
    struct tt_slice h[8], v;

    for (size_t i = 0; i < n; i++)
        h[i] = tt_slice_cstr(texts[i]);
    if (!tt_affinity_cookie_find(tt_slice_cstr(want), h, n, &v))
        return NULL;
    assert_true(v.len < sizeof(out));
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    return out;
}

#define FIND(want, ...)                                                                            \
    find_in(want, (const char *const[]){__VA_ARGS__},                                              \
            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void expect_at(int line, const char *got, const char *want)
{
    if (want == NULL && got != NULL)
        fail_msg("line %d: found \"%s\", want not found", line, got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("line %d: found %s%s%s, want \"%s\"", line, got ? "\"" : "", got ? got : "nothing",
                 got ? "\"" : "", want);
}

#define expect(got, want) expect_at(__LINE__, got, want)

/* §4.2 step by step, and what follows from nginx joining headers with "; ". */
static void test_scanner_quirks(void **state)
{
    struct tt_slice v;
    (void)state;

    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=v"), "v");
    expect(FIND("INGRESSCOOKIE", "  \t INGRESSCOOKIE=v"), "v");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE"), NULL);
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=v;INGRESSCOOKIE"), "v"); /* fragment ignored */
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=v=w;x"), "v=w");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=%22v%22"), "%22v%22");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=\"v w\""), "\"v");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=;x=1"), "");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE= v"), "");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE =v"), NULL);     /* name "INGRESSCOOKIE " */
    expect(FIND("INGRESSCOOKIE", "a=1 ;INGRESSCOOKIE=v"), NULL); /* name ";INGRESSCOOKIE" */
    expect(FIND(";b", "a=1 ;b=2"), "2");
    expect(FIND("INGRESSCOOKIE", "a=1;INGRESSCOOKIE=v"), "v");
    expect(FIND("INGRESSCOOKIE", "a=1\tINGRESSCOOKIE=v"), "v");
    expect(FIND("INGRESSCOOKIE", "a b=1; INGRESSCOOKIE=v"), "v");
    expect(FIND("a b", "a b=1; INGRESSCOOKIE=v"), "1");
    expect(FIND("INGRESSCOOKIE", "xINGRESSCOOKIE=v; INGRESSCOOKIEx=w"), NULL);
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=1; INGRESSCOOKIE=2; INGRESSCOOKIE=3"), "3");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=1; INGRESSCOOKIE=; a=b"), "");
    expect(FIND("", "=v; a=1"), "v");
    expect(FIND("", "a=1"), NULL);
    expect(FIND("a=b", "a=b=c"), NULL);
    /* Several headers behave as their "; " join. */
    expect(FIND("INGRESSCOOKIE", "a=1", "INGRESSCOOKIE=v"), "v");
    expect(FIND("INGRESSCOOKIE", "foo", "INGRESSCOOKIE=v"), NULL); /* "foo; INGRESSCOOKIE" */
    expect(FIND("INGRESSCOOKIE", "INGRESS", "COOKIE=v"), NULL);    /* "INGRESS; COOKIE" */
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=v", "INGRESSCOOKIE=w"), "w");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=v", ""), "v");
    /* An empty first header makes the join start with "; ", which begins a name. */
    expect(FIND("INGRESSCOOKIE", "", "INGRESSCOOKIE=v"), NULL);
    expect(FIND("; INGRESSCOOKIE", "", "INGRESSCOOKIE=v"), "v");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=", "x=1"), "");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=v;", "a=1"), "v");
    expect(FIND("INGRESSCOOKIE", "a=1;", "INGRESSCOOKIE=v"), NULL); /* "a=1;; INGRESS..." */
    expect(FIND("; INGRESSCOOKIE", "a=1;", "INGRESSCOOKIE=v"), "v");
    expect(FIND("INGRESSCOOKIE", "INGRESSCOOKIE=v", "x"), "v");
    /* Bytes are bytes: NUL and high bytes inside values and names. */
    {
        const char text[] = "INGRESSCOOKIE=a\0b\xff; c=d";
        struct tt_slice h = tt_slice_make(text, sizeof(text) - 1);
        assert_true(tt_affinity_cookie_find(name, &h, 1, &v));
        assert_int_equal(v.len, 4);
        assert_memory_equal(v.ptr, "a\0b\xff", 4);
    }
    /* No headers at all (C20); a miss leaves *value alone. */
    v = TT_SLICE_LIT("untouched");
    assert_false(tt_affinity_cookie_find(name, NULL, 0, &v));
    assert_true(tt_slice_eq(v, TT_SLICE_LIT("untouched")));
}

/* get_cookie_table of lua-resty-cookie transcribed as directly as possible (1-based indexes
 * kept), over the joined header; returns whether |want| is in the table and its value. */
static bool reference_find(const char *t, size_t len, const char *want, size_t want_len, size_t *vs,
                           size_t *vl)
{
    enum { KEY = 1, VALUE = 2, SP = 3 } state = SP;
    size_t i = 1, j = 1, key_i = 0, key_l = 0;
    bool have_key = false, found = false;

#define BYTE(x) ((unsigned char)t[(x)-1])
    while (j <= len) {
        if (state == KEY) {
            if (BYTE(j) == '=') {
                key_i = i;
                key_l = j - i;
                have_key = true;
                state = VALUE;
                i = j + 1;
            }
        } else if (state == VALUE) {
            if (BYTE(j) == ';' || BYTE(j) == ' ' || BYTE(j) == '\t') {
                if (key_l == want_len && memcmp(t + key_i - 1, want, want_len) == 0) {
                    found = true;
                    *vs = i - 1;
                    *vl = j - i;
                }
                have_key = false;
                state = SP;
                i = j + 1;
            }
        } else if (BYTE(j) != ' ' && BYTE(j) != '\t') {
            state = KEY;
            i = j;
            j = j - 1;
        }
        j = j + 1;
    }
#undef BYTE
    if (have_key && key_l == want_len && memcmp(t + key_i - 1, want, want_len) == 0) {
        found = true;
        *vs = i - 1;
        *vl = len - (i - 1);
    }
    return found;
}

/* Random headers over a small alphabet rich in the scanner's special bytes, cut into up to four
 * Cookie headers: our result equals the reference's over the "; " join, byte for byte. */
static void test_scanner_against_reference(void **state)
{
    static const char alphabet[] = "ab=; \t|\"=;ab";
    static const char *const names[] = {"a", "ab", "b", "", "a b", ";a", "ba"};
    uint64_t seed = 12345;
    int found = 0;
    const int rounds = 200000;
    (void)state;

    for (int k = 0; k < rounds; k++) {
        char parts[4][24], joined[128];
        struct tt_slice h[4], v;
        size_t nh = 1 + vec_rand(&seed) % 4, jl = 0, vs = 0, vl = 0;
        const char *want = names[vec_rand(&seed) % 7];
        bool ours, ref;

        for (size_t p = 0; p < nh; p++) {
            size_t len = vec_rand(&seed) % 20;
            for (size_t b = 0; b < len; b++)
                parts[p][b] = alphabet[vec_rand(&seed) % (sizeof(alphabet) - 1)];
            h[p] = tt_slice_make(parts[p], len);
            if (p > 0) {
                memcpy(joined + jl, "; ", 2);
                jl += 2;
            }
            memcpy(joined + jl, parts[p], len);
            jl += len;
        }
        ours = tt_affinity_cookie_find(tt_slice_cstr(want), h, nh, &v);
        ref = reference_find(joined, jl, want, strlen(want), &vs, &vl);
        if (ours != ref || (ours && !tt_slice_eq(v, tt_slice_make(joined + vs, vl))))
            fail_msg("round %d: name \"%s\" in \"%.*s\": ours %d \"%.*s\", reference %d \"%.*s\"",
                     k, want, (int)jl, joined, ours, ours ? (int)v.len : 0, ours ? v.ptr : "", ref,
                     (int)vl, joined + vs);
        if (ours) {
            /* The value lies inside one of the headers. */
            bool inside = false;
            for (size_t p = 0; p < nh; p++)
                inside = inside || (v.ptr >= h[p].ptr && v.ptr + v.len <= h[p].ptr + h[p].len);
            assert_true(inside);
            found++;
        }
    }
    print_message("    %d random headers agree with the reference scanner (%d found)\n", rounds,
                  found);
}

static void split_is(const char *value, const char *up, const char *bk)
{
    struct tt_affinity_cookie c;
    bool ok = tt_affinity_value_split(tt_slice_cstr(value), &c);

    assert_int_equal(ok, up != NULL);
    assert_piece(c.upstream_key, up, "upstream_key", value);
    assert_piece(c.backend_key, bk, "backend_key", value);
}

static void test_value_split_and_format(void **state)
{
    char out[TT_AFFINITY_VALUE_SIZE];
    (void)state;

    split_is("tok|bk", "tok", "bk");
    split_is("|tok||bk|extra", "tok", "bk");
    split_is("tok", "tok", NULL);
    split_is("tok|", "tok", NULL);
    split_is("|tok", "tok", NULL);
    split_is("||a||b||", "a", "b");
    split_is("a|b|c|d", "a", "b");
    split_is("", NULL, NULL);
    split_is("|", NULL, NULL);
    split_is("|||", NULL, NULL);
    split_is("\"t|k\"", "\"t", "k\"");
    split_is(" | ", " ", " ");
    {
        struct tt_affinity_cookie c;
        assert_false(tt_affinity_value_split(tt_slice_make(NULL, 0), &c));
    }
    /* §4.1: "<upstream_key>|<backend_key>", raw. */
    assert_int_equal(tt_affinity_value_format(out, sizeof(out),
                                              TT_SLICE_LIT("7ac8b04bc2f10abf286b869b2ae7fa50"),
                                              TT_SLICE_LIT("ef2c5dc5fe4d202a037964d893c45720")),
                     65);
    assert_string_equal(out, "7ac8b04bc2f10abf286b869b2ae7fa50|ef2c5dc5fe4d202a037964d893c45720");
    assert_int_equal(sizeof(out), 66);
    assert_int_equal(tt_affinity_value_format(out, 65,
                                              TT_SLICE_LIT("7ac8b04bc2f10abf286b869b2ae7fa50"),
                                              TT_SLICE_LIT("ef2c5dc5fe4d202a037964d893c45720")),
                     TT_ERANGE);
    assert_int_equal(
        tt_affinity_value_format(out, 2, tt_slice_make(NULL, 0), tt_slice_make(NULL, 0)), 1);
    assert_string_equal(out, "|");
    assert_int_equal(tt_affinity_value_format(NULL, 0, TT_SLICE_LIT("a"), TT_SLICE_LIT("b")),
                     TT_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cookie_vectors, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test(test_scanner_quirks),
        cmocka_unit_test(test_scanner_against_reference),
        cmocka_unit_test(test_value_split_and_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
