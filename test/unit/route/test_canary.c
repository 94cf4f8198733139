/* test/unit/route/test_canary.c - canaries in the route table: tt_route_builder_find_rule
 * (host as written and any-host, Exact as written vs Prefix normalized, pathType must agree,
 * long paths), tt_route_builder_add_canary (no rule, the rule's own backend, unknown backend,
 * bad affinity rejected; strings copied; several canaries kept in the order added; weights
 * clamped to the total and totals up to 100 read as 100; the pattern and affinity state passed
 * through and released with the table), and every out-of-memory point of a small build with
 * canaries (the test re-runs itself with TT_ALLOC_FAIL_AT=N). */
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

#include "base/alloc.h"
#include "route/route.h"

static long start_allocs;

static int setup(void **state)
{
    (void)state;
    start_allocs = tt_alloc_outstanding();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(tt_alloc_outstanding(), start_allocs);
    return 0;
}

static struct tt_route_match match(const struct tt_route_table *t, const char *host,
                                   const char *path)
{
    return tt_route_match(t, tt_slice_cstr(host), tt_slice_cstr(path));
}

/* A backend "ns/<svc>:80" with one endpoint. */
static int add_svc(struct tt_route_builder *b, const char *svc)
{
    struct tt_route_endpoint_spec ep = {"10.0.0.1", 80};
    int i = tt_route_builder_add_backend(b, "ns", svc, "80", &ep, 1);

    assert_true(i >= 0);
    return i;
}

static void add_rule(struct tt_route_builder *b, const char *host, const char *path,
                     enum tt_path_type type, int backend, const struct tt_route_policy *pol)
{
    struct tt_err err = {0};
    int rc = tt_route_builder_add_rule(b, host, path, type, backend, "ns/primary", pol, &err);

    if (rc != 0)
        fail_msg("add_rule(%s, %s): %d %s", host != NULL ? host : "(any)", path, rc, err.msg);
}

/* Whether find_rule finds a rule for (host, path, type), and which backend it has. */
static int found(const struct tt_route_builder *b, const char *host, const char *path,
                 enum tt_path_type type)
{
    const struct tt_route_policy *pol = NULL;
    int backend = -7;
    int rc = tt_route_builder_find_rule(b, host, path, type, &pol, &backend);

    if (rc == TT_ENOENT)
        return -1;
    assert_int_equal(rc, 0);
    assert_non_null(pol);
    return backend;
}

static int released;

static void release_counted(void *obj)
{
    released++;
    tt_free(obj);
}

static void *attached(struct tt_route_builder *b)
{
    void *obj = tt_malloc(16);
    assert_non_null(obj);
    assert_int_equal(tt_route_builder_attach(b, obj, release_counted), 0);
    return obj;
}

/* ---- find_rule ---- */

static void test_find_rule(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_policy pol = {.max_body = 77};
    const struct tt_route_policy *got = NULL;
    char long_path[2048];
    int x, y, z, w, backend = -1;
    (void)state;

    assert_non_null(b);
    x = add_svc(b, "x");
    y = add_svc(b, "y");
    z = add_svc(b, "z");
    w = add_svc(b, "w");
    add_rule(b, "Foo.com", "/app/", TT_PATH_PREFIX, x, &pol);
    add_rule(b, "foo.com", "/app/", TT_PATH_EXACT, y, NULL);
    add_rule(b, "foo.com", "/impl", TT_PATH_IMPL_SPECIFIC, z, NULL);
    add_rule(b, NULL, "/", TT_PATH_PREFIX, w, NULL);
    add_rule(b, "*.wild.com", "/w", TT_PATH_PREFIX, z, NULL);
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    add_rule(b, "foo.com", long_path, TT_PATH_PREFIX, y, NULL);

    /* Prefix: the normalized path, as add_rule compares ("/app", "/app/", "//app//"). */
    assert_int_equal(found(b, "foo.com", "/app", TT_PATH_PREFIX), x);
    assert_int_equal(found(b, "foo.com", "/app/", TT_PATH_PREFIX), x);
    assert_int_equal(found(b, "foo.com", "//app//", TT_PATH_PREFIX), x);
    assert_int_equal(found(b, "foo.com", "/ap", TT_PATH_PREFIX), -1);
    assert_int_equal(found(b, "foo.com", "/app/x", TT_PATH_PREFIX), -1);
    assert_int_equal(found(b, "foo.com", "/appx", TT_PATH_PREFIX), -1);
    /* Exact: as written. */
    assert_int_equal(found(b, "foo.com", "/app/", TT_PATH_EXACT), y);
    assert_int_equal(found(b, "foo.com", "/app", TT_PATH_EXACT), -1);
    /* The path type must agree: ImplementationSpecific is not Prefix here. */
    assert_int_equal(found(b, "foo.com", "/impl", TT_PATH_IMPL_SPECIFIC), z);
    assert_int_equal(found(b, "foo.com", "/impl", TT_PATH_PREFIX), -1);
    assert_int_equal(found(b, "foo.com", "/impl", TT_PATH_EXACT), -1);
    /* Hosts: case-insensitive, as written (no wildcard or any-host fallback). */
    assert_int_equal(found(b, "FOO.COM", "/app", TT_PATH_PREFIX), x);
    assert_int_equal(found(b, "bar.com", "/", TT_PATH_PREFIX), -1);
    assert_int_equal(found(b, "foo.com", "/", TT_PATH_PREFIX), -1);
    assert_int_equal(found(b, NULL, "/", TT_PATH_PREFIX), w);
    assert_int_equal(found(b, "", "/", TT_PATH_PREFIX), w);
    assert_int_equal(found(b, NULL, "/app", TT_PATH_PREFIX), -1);
    assert_int_equal(found(b, "*.wild.com", "/w/", TT_PATH_PREFIX), z);
    assert_int_equal(found(b, "a.wild.com", "/w", TT_PATH_PREFIX), -1);
    assert_int_equal(found(b, "bad host", "/", TT_PATH_PREFIX), -1);
    assert_int_equal(found(b, "foo.com", NULL, TT_PATH_PREFIX), -1);
    /* Long paths need no scratch memory. */
    assert_int_equal(found(b, "foo.com", long_path, TT_PATH_PREFIX), y);
    long_path[100] = '/';
    assert_int_equal(found(b, "foo.com", long_path, TT_PATH_PREFIX), -1);

    assert_int_equal(
        tt_route_builder_find_rule(b, "foo.com", "/app", TT_PATH_PREFIX, &got, &backend), 0);
    assert_int_equal(got->max_body, 77);
    assert_int_equal(backend, x);
    tt_route_builder_free(b);
}

/* ---- add_canary ---- */

static void test_add_canary_rejected(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_canary c = {.weight = 10};
    struct tt_route_table *t;
    struct tt_err err = {0};
    int p, q;
    (void)state;

    p = add_svc(b, "p");
    q = add_svc(b, "q");
    add_rule(b, "a.com", "/", TT_PATH_PREFIX, p, NULL);

    /* A canary never makes a rule. */
    assert_int_equal(
        tt_route_builder_add_canary(b, "b.com", "/", TT_PATH_PREFIX, q, "ns/c", &c, &err),
        TT_ENOENT);
    assert_non_null(strstr(err.msg, "no rule b.com/ (Prefix)"));
    assert_int_equal(tt_route_builder_add_canary(b, NULL, "/", TT_PATH_PREFIX, q, "ns/c", &c, &err),
                     TT_ENOENT);
    assert_non_null(strstr(err.msg, "(any host)"));
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/", TT_PATH_EXACT, q, "ns/c", &c, &err),
        TT_ENOENT);
    /* Not the rule's own backend, nor an unknown one. */
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/", TT_PATH_PREFIX, p, "ns/c", &c, &err),
        TT_EINVAL);
    assert_non_null(strstr(err.msg, "own backend ns/p:80"));
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/", TT_PATH_PREFIX, 9, "ns/c", &c, &err),
        TT_EINVAL);
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/", TT_PATH_PREFIX, -1, "ns/c", &c, &err),
        TT_EINVAL);
    /* A sticky canary needs its state and good cookie strings. */
    c.affinity.enabled = true;
    c.affinity.cookie_name = TT_SLICE_LIT("C");
    c.affinity.path = TT_SLICE_LIT("/");
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/", TT_PATH_PREFIX, q, "ns/c", &c, &err),
        TT_EINVAL);
    assert_non_null(strstr(err.msg, "canary: affinity without its state"));
    c.affinity.state = attached(b);
    c.affinity.cookie_name = TT_SLICE_LIT("a;b");
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/", TT_PATH_PREFIX, q, "ns/c", &c, &err),
        TT_EINVAL);
    memset(&c.affinity, 0, sizeof(c.affinity));
    c.affinity.canary_behavior = (enum tt_route_canary_affinity)3;
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/", TT_PATH_PREFIX, q, "ns/c", &c, &err),
        TT_EINVAL);
    memset(&c.affinity, 0, sizeof(c.affinity));
    /* One rule takes TT_ROUTE_MAX_CANARIES: the data plane keeps one bit per canary. */
    add_rule(b, "full.com", "/", TT_PATH_PREFIX, p, NULL);
    for (int i = 0; i < TT_ROUTE_MAX_CANARIES; i++)
        assert_int_equal(
            tt_route_builder_add_canary(b, "full.com", "/", TT_PATH_PREFIX, q, "ns/c", &c, &err), 0);
    assert_int_equal(
        tt_route_builder_add_canary(b, "full.com", "/", TT_PATH_PREFIX, q, "ns/c", &c, &err),
        TT_EINVAL);
    assert_non_null(strstr(err.msg, "already has 64 canaries"));

    /* Nothing of that reached the table. */
    released = 0;
    assert_non_null(t = tt_route_builder_finish(b, 1));
    assert_int_equal(match(t, "a.com", "/x").rule->n_canaries, 0);
    assert_int_equal(match(t, "full.com", "/").rule->n_canaries, TT_ROUTE_MAX_CANARIES);
    assert_null(match(t, "a.com", "/x").rule->canaries);
    tt_route_table_unref(t);
    assert_int_equal(released, 1);
}

static bool in_caller(const char *p, const char *buf, size_t n)
{
    return p >= buf && p < buf + n;
}

static void test_add_canary_copied_in_order(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    char header[16] = "X-Canary", value[16] = "yes", pattern[16] = "^v[0-9]+$", cookie[16] = "beta",
         ingress[16] = "ns/c1", name[16] = "SID", path[16] = "/app";
    struct tt_route_canary c = {0};
    const struct tt_route_rule *r;
    struct tt_route_table *t;
    struct tt_err err = {0};
    void *regex, *state1;
    int p, q1, q2, q3;
    (void)state;

    released = 0;
    p = add_svc(b, "p");
    q1 = add_svc(b, "q1");
    q2 = add_svc(b, "q2");
    q3 = add_svc(b, "q3");
    add_rule(b, "a.com", "/app", TT_PATH_PREFIX, p, NULL);
    add_rule(b, "a.com", "/other", TT_PATH_PREFIX, p, NULL);
    regex = attached(b);
    state1 = attached(b);

    c.header = tt_slice_cstr(header);
    c.header_value = tt_slice_cstr(value);
    c.header_pattern = tt_slice_cstr(pattern);
    c.header_regex = regex;
    c.cookie = tt_slice_cstr(cookie);
    c.weight = 30;
    c.weight_total = 1000;
    c.backend = (const struct tt_route_backend *)&c; /* ignored */
    c.ingress = "ignored";
    c.affinity.enabled = true;
    c.affinity.mode = TT_ROUTE_AFFINITY_PERSISTENT;
    c.affinity.cookie_name = tt_slice_cstr(name);
    c.affinity.path = tt_slice_cstr(path);
    c.affinity.domain = TT_SLICE_LIT("a.com");
    c.affinity.secure = true;
    c.affinity.state = state1;
    assert_int_equal(
        tt_route_builder_add_canary(b, "A.com", "/app/", TT_PATH_PREFIX, q1, ingress, &c, &err), 0);
    /* The caller's memory may change or go. */
    memset(header, 'Z', sizeof(header) - 1);
    memset(value, 'Z', sizeof(value) - 1);
    memset(pattern, 'Z', sizeof(pattern) - 1);
    memset(cookie, 'Z', sizeof(cookie) - 1);
    memset(name, 'Z', sizeof(name) - 1);
    memset(path, 'Z', sizeof(path) - 1);
    snprintf(ingress, sizeof(ingress), "ns/c2");
    /* Second and third: no rules but a weight; then a total at or below 100 and a weight
     * above the total. */
    memset(&c, 0, sizeof(c));
    c.weight = 5;
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/app", TT_PATH_PREFIX, q2, ingress, &c, &err), 0);
    c.weight = 250;
    c.weight_total = 50;
    c.affinity.canary_behavior = TT_ROUTE_CANARY_LEGACY;
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/app", TT_PATH_PREFIX, q3, NULL, &c, &err), 0);
    /* The same canary backend twice is the caller's choice (the model never does it). */
    c.weight = 7;
    c.weight_total = 5000;
    assert_int_equal(
        tt_route_builder_add_canary(b, "a.com", "/app", TT_PATH_PREFIX, q3, "ns/c4", &c, &err), 0);
    assert_non_null(t = tt_route_builder_finish(b, 1));

    r = match(t, "a.com", "/app/x").rule;
    assert_non_null(r);
    assert_int_equal(r->n_canaries, 4);
    assert_ptr_equal(r->canaries[0].backend, tt_route_table_backend(t, (size_t)q1));
    assert_string_equal(r->canaries[0].ingress, "ns/c1");
    assert_false(in_caller(r->canaries[0].ingress, ingress, sizeof(ingress)));
    assert_string_equal(r->canaries[0].header.ptr, "X-Canary");
    assert_int_equal(r->canaries[0].header.len, 8);
    assert_string_equal(r->canaries[0].header_value.ptr, "yes");
    assert_string_equal(r->canaries[0].header_pattern.ptr, "^v[0-9]+$");
    assert_ptr_equal(r->canaries[0].header_regex, regex);
    assert_string_equal(r->canaries[0].cookie.ptr, "beta");
    assert_false(in_caller(r->canaries[0].cookie.ptr, cookie, sizeof(cookie)));
    assert_int_equal(r->canaries[0].weight, 30);
    assert_int_equal(r->canaries[0].weight_total, 1000);
    assert_true(r->canaries[0].affinity.enabled);
    assert_int_equal(r->canaries[0].affinity.mode, TT_ROUTE_AFFINITY_PERSISTENT);
    assert_string_equal(r->canaries[0].affinity.cookie_name.ptr, "SID");
    assert_string_equal(r->canaries[0].affinity.path.ptr, "/app");
    assert_string_equal(r->canaries[0].affinity.domain.ptr, "a.com");
    assert_true(r->canaries[0].affinity.secure);
    assert_ptr_equal(r->canaries[0].affinity.state, state1);

    assert_ptr_equal(r->canaries[1].backend, tt_route_table_backend(t, (size_t)q2));
    assert_string_equal(r->canaries[1].ingress, "ns/c2");
    /* Unset strings are empty, NUL-terminated and in the table. */
    assert_int_equal(r->canaries[1].header.len, 0);
    assert_non_null(r->canaries[1].header.ptr);
    assert_string_equal(r->canaries[1].header.ptr, "");
    assert_int_equal(r->canaries[1].cookie.len, 0);
    assert_null(r->canaries[1].header_regex);
    assert_int_equal(r->canaries[1].weight, 5);
    assert_int_equal(r->canaries[1].weight_total, 100); /* 0 means the default */
    assert_false(r->canaries[1].affinity.enabled);
    assert_null(r->canaries[1].affinity.state);

    assert_string_equal(r->canaries[2].ingress, "");
    assert_int_equal(r->canaries[2].weight_total, 100); /* totals up to 100 are 100 */
    assert_int_equal(r->canaries[2].weight, 100);       /* clamped to the total */
    assert_int_equal(r->canaries[2].affinity.canary_behavior, TT_ROUTE_CANARY_LEGACY);
    assert_int_equal(r->canaries[3].weight, 7);
    assert_int_equal(r->canaries[3].weight_total, 5000);
    assert_string_equal(r->canaries[3].ingress, "ns/c4");

    /* Only that rule has them, on that host. */
    assert_int_equal(match(t, "a.com", "/other").rule->n_canaries, 0);
    assert_int_equal(released, 0);
    tt_route_table_unref(t);
    assert_int_equal(released, 2);
}

/* Canaries survive the table's sorting of rules: each stays with its own rule. */
static void test_canaries_follow_their_rule(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_canary c = {0};
    struct tt_route_table *t;
    struct tt_err err = {0};
    char path[32];
    int p, q[8];
    (void)state;

    p = add_svc(b, "p");
    for (int i = 0; i < 8; i++) {
        char svc[16];
        snprintf(svc, sizeof(svc), "q%d", i);
        q[i] = add_svc(b, svc);
        /* Added shortest first; the table sorts them longest first. */
        snprintf(path, sizeof(path), "/%.*s", i + 1, "abcdefgh");
        add_rule(b, "a.com", path, i % 2 == 0 ? TT_PATH_PREFIX : TT_PATH_EXACT, p, NULL);
    }
    for (int i = 7; i >= 0; i--) {
        snprintf(path, sizeof(path), "/%.*s", i + 1, "abcdefgh");
        for (int k = 0; k <= i % 3; k++) {
            c.weight = (uint32_t)(10 * i + k);
            assert_int_equal(tt_route_builder_add_canary(
                                 b, "a.com", path, i % 2 == 0 ? TT_PATH_PREFIX : TT_PATH_EXACT,
                                 q[(i + k) % 8], "ns/c", &c, &err),
                             0);
        }
    }
    assert_non_null(t = tt_route_builder_finish(b, 1));
    for (int i = 0; i < 8; i++) {
        const struct tt_route_rule *r;
        snprintf(path, sizeof(path), "/%.*s", i + 1, "abcdefgh");
        r = match(t, "a.com", path).rule;
        assert_non_null(r);
        assert_int_equal(r->path_len, (uint32_t)(i + 2));
        assert_int_equal(r->n_canaries, (uint32_t)(i % 3 + 1));
        for (uint32_t k = 0; k < r->n_canaries; k++) {
            assert_int_equal(r->canaries[k].weight, 10 * (uint32_t)i + k);
            assert_ptr_equal(r->canaries[k].backend,
                             tt_route_table_backend(t, (size_t)q[(i + (int)k) % 8]));
        }
    }
    tt_route_table_unref(t);
}

/* ---- out of memory ---- */

static int oom_scenario(void)
{
    long start = tt_alloc_outstanding();
    struct tt_route_builder *b;
    struct tt_route_table *t;
    struct tt_route_canary c = {0};
    struct tt_route_policy pol = {0};
    void *obj = NULL;
    bool hit = false, ok_rule, ok[3];
    int p, q1, q2, att = TT_ENOMEM;

    if ((b = tt_route_builder_new()) == NULL)
        return tt_alloc_outstanding() == start ? OOM_HANDLED : OOM_LEAK;
    p = tt_route_builder_add_backend(b, "ns", "p", "80", NULL, 0);
    q1 = tt_route_builder_add_backend(b, "ns", "q1", "80", NULL, 0);
    q2 = tt_route_builder_add_backend(b, "ns", "q2", "http", NULL, 0);
    hit = p < 0 || q1 < 0 || q2 < 0;
    if ((obj = tt_malloc(8)) != NULL)
        att = tt_route_builder_attach(b, obj, tt_free);
    hit = hit || att != 0;
    ok_rule =
        tt_route_builder_add_rule(b, "a.com", "/x", TT_PATH_PREFIX, p, "ns/i", &pol, NULL) == 0;
    hit = hit || !ok_rule;
    c.header = TT_SLICE_LIT("X-Canary");
    c.cookie = TT_SLICE_LIT("beta");
    c.weight = 10;
    c.affinity.enabled = att == 0;
    c.affinity.cookie_name = TT_SLICE_LIT("C");
    c.affinity.path = TT_SLICE_LIT("/x");
    c.affinity.state = att == 0 ? obj : NULL;
    ok[0] =
        tt_route_builder_add_canary(b, "a.com", "/x/", TT_PATH_PREFIX, q1, "ns/c1", &c, NULL) == 0;
    memset(&c.affinity, 0, sizeof(c.affinity));
    ok[1] =
        tt_route_builder_add_canary(b, "a.com", "/x", TT_PATH_PREFIX, q2, "ns/c2", &c, NULL) == 0;
    ok[2] =
        tt_route_builder_add_canary(b, "a.com", "/y", TT_PATH_PREFIX, q2, "ns/c3", &c, NULL) == 0;
    if (ok[2]) /* no rule /y: never */
        return OOM_WRONG;
    hit = hit || !ok[0] || !ok[1];
    if ((t = tt_route_builder_finish(b, 1)) == NULL) {
        hit = true;
    } else {
        const struct tt_route_rule *r = ok_rule ? match(t, "a.com", "/x").rule : NULL;
        uint32_t n = (uint32_t)ok[0] + (uint32_t)ok[1];
        if (ok_rule && (r == NULL || r->n_canaries != n))
            return OOM_WRONG;
        if (ok[0] && (strcmp(r->canaries[0].ingress, "ns/c1") != 0 ||
                      strcmp(r->canaries[0].header.ptr, "X-Canary") != 0 ||
                      r->canaries[0].affinity.enabled != (att == 0)))
            return OOM_WRONG;
        if (ok[1] && strcmp(r->canaries[n - 1].ingress, "ns/c2") != 0)
            return OOM_WRONG;
        tt_route_table_unref(t);
    }
    if (tt_alloc_outstanding() != start)
        return OOM_LEAK;
    return hit ? OOM_HANDLED : OOM_DONE;
}

static void test_out_of_memory(void **state)
{
    (void)state;
    int handled = tt_test_oom_sweep(NULL, 500);

    assert_true(handled > 10);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_find_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_canary_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_canary_copied_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canaries_follow_their_rule, setup, teardown),
        cmocka_unit_test(test_out_of_memory),
    };

    if (argc == 2 && strcmp(argv[1], "--oom-scenario") == 0)
        return tt_test_oom_exit(oom_scenario());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
