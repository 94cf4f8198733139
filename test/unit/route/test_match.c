/* test/unit/route/test_match.c - route table: the Ingress path table row by row, host
 * selection (exact, wildcard, any host, no fallback), defaults, duplicates, rejected input,
 * endpoints (raw address text kept), reference counting across threads, policies (affinity
 * settings copied into the table, checked, attached objects released with the table), a
 * 10k-host table, and every out-of-memory point of a small build (the test re-runs itself
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

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "route/route.h"

/* ---- helpers ---- */

static struct tt_route_match match(const struct tt_route_table *t, const char *host,
                                   const char *path)
{
    return tt_route_match(t, tt_slice_cstr(host), tt_slice_cstr(path));
}

/* A backend "default/<svc>:80" with one endpoint. */
static int add_svc(struct tt_route_builder *b, const char *svc)
{
    struct tt_route_endpoint_spec ep = {"10.0.0.1", 80};
    int i = tt_route_builder_add_backend(b, "default", svc, "80", &ep, 1);

    assert_true(i >= 0);
    return i;
}

static void add_ok(struct tt_route_builder *b, const char *host, const char *path,
                   enum tt_path_type type, int backend)
{
    struct tt_err err = {0};
    int rc = tt_route_builder_add_rule(b, host, path, type, backend, "default/ing", NULL, &err);

    if (rc != 0)
        fail_msg("add_rule(%s, %s): %d %s", host != NULL ? host : "(any)", path, rc, err.msg);
}

static void default_ok(struct tt_route_builder *b, const char *host, int backend)
{
    struct tt_err err = {0};
    int rc = tt_route_builder_set_default(b, host, backend, NULL, &err);

    if (rc != 0)
        fail_msg("set_default(%s): %d %s", host != NULL ? host : "(any)", rc, err.msg);
}

static enum tt_path_type type_of(char c)
{
    return c == 'E' ? TT_PATH_EXACT : c == 'P' ? TT_PATH_PREFIX : TT_PATH_IMPL_SPECIFIC;
}

static char letter_of(enum tt_path_type type)
{
    return type == TT_PATH_EXACT ? 'E' : type == TT_PATH_PREFIX ? 'P' : 'I';
}

/* ---- paths: spec/kubernetes-api.md §2.1, the Ingress concept page's table ---- */

struct path_case {
    const char *rules; /* space-separated: type letter (E, P, I) followed by the path */
    const char *request;
    const char *want; /* winning rule as "<letter><path>", or NULL: the default answers */
};

static const struct path_case path_cases[] = {
    /* | Prefix | / | any | yes | */
    {"P/", "/", "P/"},
    {"P/", "/foo", "P/"},
    {"P/", "/aaa/bbb/ccc/", "P/"},
    {"P/", "//", "P/"},
    {"P/", "", "P/"},
    /* | Exact | /foo | /foo | yes | */
    {"E/foo", "/foo", "E/foo"},
    /* | Exact | /foo | /bar, /foo/ | no | */
    {"E/foo", "/bar", NULL},
    {"E/foo", "/foo/", NULL},
    /* | Exact | /foo/ | /foo | no | */
    {"E/foo/", "/foo", NULL},
    /* | Prefix | /foo | /foo, /foo/ | yes | */
    {"P/foo", "/foo", "P/foo"},
    {"P/foo", "/foo/", "P/foo"},
    /* | Prefix | /foo/ | /foo, /foo/ | yes | */
    {"P/foo/", "/foo", "P/foo/"},
    {"P/foo/", "/foo/", "P/foo/"},
    /* | Prefix | /aaa/bb | /aaa/bbb | no | */
    {"P/aaa/bb", "/aaa/bbb", NULL},
    /* | Prefix | /aaa/bbb | /aaa/bbb, /aaa/bbb/, /aaa/bbb/ccc | yes | */
    {"P/aaa/bbb", "/aaa/bbb", "P/aaa/bbb"},
    {"P/aaa/bbb", "/aaa/bbb/", "P/aaa/bbb"},
    {"P/aaa/bbb", "/aaa/bbb/ccc", "P/aaa/bbb"},
    /* | Prefix | /aaa/bbb/ | /aaa/bbb | yes | */
    {"P/aaa/bbb/", "/aaa/bbb", "P/aaa/bbb/"},
    /* | Prefix | /aaa/bbb | /aaa/bbbxyz | no | */
    {"P/aaa/bbb", "/aaa/bbbxyz", NULL},
    /* | Prefix | /, /aaa | /aaa/ccc | yes -> /aaa | */
    {"P/ P/aaa", "/aaa/ccc", "P/aaa"},
    {"P/aaa P/", "/aaa/ccc", "P/aaa"},
    /* | Prefix | /, /aaa, /aaa/bbb | /aaa/bbb | yes -> /aaa/bbb | */
    {"P/ P/aaa P/aaa/bbb", "/aaa/bbb", "P/aaa/bbb"},
    {"P/aaa/bbb P/aaa P/", "/aaa/bbb", "P/aaa/bbb"},
    /* | Prefix | /, /aaa, /aaa/bbb | /ccc | yes -> / | */
    {"P/ P/aaa P/aaa/bbb", "/ccc", "P/"},
    /* | Prefix | /aaa | /ccc | no -> default backend | */
    {"P/aaa", "/ccc", NULL},
    /* | Mixed | /foo Prefix + /foo Exact | /foo | yes -> Exact | (both orders) */
    {"P/foo E/foo", "/foo", "E/foo"},
    {"E/foo P/foo", "/foo", "E/foo"},
    {"P/foo E/foo", "/foo/x", "P/foo"},
    /* Beyond the table. Case matters in paths. */
    {"P/foo", "/FOO", NULL},
    {"E/foo", "/Foo", NULL},
    /* Empty elements in the request are dropped for Prefix, not for Exact. */
    {"P/aaa/bbb", "//aaa///bbb//ccc", "P/aaa/bbb"},
    {"E/aaa/bbb", "/aaa//bbb", NULL},
    {"P//aaa//bbb//", "/aaa/bbb/c", "P//aaa//bbb//"},
    /* Element boundaries. */
    {"P/foo", "/foobar", NULL},
    {"P/foo", "/fo", NULL},
    {"P/foo/bar", "/foo", NULL},
    /* A longer Exact beats a shorter Prefix; a longer Prefix beats a shorter Exact's miss. */
    {"P/foo E/foo/", "/foo/", "E/foo/"},
    {"E/foo P/foo/bar", "/foo/bar", "P/foo/bar"},
    /* Prefix "/foo/" ties with Exact "/foo": Exact wins. */
    {"P/foo/ E/foo", "/foo", "E/foo"},
    /* ImplementationSpecific is Prefix; on a tie with Prefix the first added wins. */
    {"I/foo", "/foo/bar", "I/foo"},
    {"I/foo", "/foobar", NULL},
    {"I/foo P/foo", "/foo", "I/foo"},
    {"P/foo I/foo", "/foo", "P/foo"},
    {"I/foo E/foo", "/foo", "E/foo"},
    {"I/ I/a/b P/a", "/a/b/c", "I/a/b"},
    /* Longest wins whatever the order of addition. */
    {"P/a P/a/b/c P/a/b E/a/b/c/d P/", "/a/b/c/d", "E/a/b/c/d"},
    {"P/a P/a/b/c P/a/b E/a/b/c/d P/", "/a/b/c/x", "P/a/b/c"},
    {"P/a P/a/b/c P/a/b E/a/b/c/d P/", "/a/bc", "P/a"},
    /* Paths are not decoded: that is the caller's job. */
    {"P/a/b", "/a%2Fb", NULL},
};

static void test_path_table(void **state)
{
    long start = tt_alloc_outstanding();
    (void)state;

    for (size_t c = 0; c < sizeof(path_cases) / sizeof(path_cases[0]); c++) {
        const struct path_case *pc = &path_cases[c];
        struct tt_route_builder *b = tt_route_builder_new();
        struct tt_route_table *t;
        struct tt_route_match m;
        char rules[256];
        char *save = NULL;
        int be, def;

        assert_non_null(b);
        be = add_svc(b, "svc");
        def = add_svc(b, "default-backend");
        snprintf(rules, sizeof(rules), "%s", pc->rules);
        for (char *tok = strtok_r(rules, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
            add_ok(b, NULL, tok + 1, type_of(tok[0]), be);
        default_ok(b, NULL, def);
        assert_non_null(t = tt_route_builder_finish(b, 1));

        m = match(t, "example.com", pc->request);
        if (pc->want == NULL) {
            if (m.rule != NULL)
                fail_msg("case %zu rules [%s] request %s: want default, got %c%s", c, pc->rules,
                         pc->request, letter_of(m.rule->type), m.rule->path);
            assert_non_null(m.backend);
            assert_string_equal(m.backend->name, "default/default-backend:80");
        } else {
            char got[128];
            if (m.rule == NULL)
                fail_msg("case %zu rules [%s] request %s: want %s, got the default", c, pc->rules,
                         pc->request, pc->want);
            snprintf(got, sizeof(got), "%c%s", letter_of(m.rule->type), m.rule->path);
            if (strcmp(got, pc->want) != 0)
                fail_msg("case %zu rules [%s] request %s: want %s, got %s", c, pc->rules,
                         pc->request, pc->want, got);
            assert_ptr_equal(m.backend, m.rule->backend);
            assert_ptr_equal(m.policy, &m.rule->policy);
            assert_int_equal(m.rule->path_len, strlen(m.rule->path));
        }
        tt_route_table_unref(t);
    }
    assert_int_equal(tt_alloc_outstanding(), start);
}

static void test_no_match_is_404(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    struct tt_route_match m;
    (void)state;

    add_ok(b, NULL, "/aaa", TT_PATH_PREFIX, add_svc(b, "a"));
    assert_non_null(t = tt_route_builder_finish(b, 1));
    m = match(t, "example.com", "/ccc");
    assert_null(m.rule);
    assert_null(m.backend);
    assert_null(m.policy);
    /* A NULL slice is an empty one. */
    m = tt_route_match(t, (struct tt_slice){NULL, 0}, (struct tt_slice){NULL, 0});
    assert_null(m.backend);
    m = tt_route_match(t, (struct tt_slice){NULL, 0}, TT_SLICE_LIT("/aaa"));
    assert_non_null(m.rule);
    tt_route_table_unref(t);
}

/* ---- hosts ---- */

static struct tt_route_table *host_table(void)
{
    struct tt_route_builder *b = tt_route_builder_new();
    int exact = add_svc(b, "exact");
    int wild = add_svc(b, "wild");
    int any = add_svc(b, "any");
    int upper = add_svc(b, "upper");

    add_ok(b, "a.foo.com", "/", TT_PATH_PREFIX, exact);
    add_ok(b, "*.foo.com", "/", TT_PATH_PREFIX, wild);
    add_ok(b, NULL, "/", TT_PATH_PREFIX, any);
    add_ok(b, "Mixed.Example.COM", "/", TT_PATH_PREFIX, upper);
    return tt_route_builder_finish(b, 1);
}

static const char *host_of(const struct tt_route_table *t, const char *host)
{
    struct tt_route_match m = match(t, host, "/x");
    return m.backend != NULL ? m.backend->name : "(none)";
}

static void test_host_exact_and_case(void **state)
{
    struct tt_route_table *t = host_table();
    struct tt_route_match m;
    (void)state;

    assert_string_equal(host_of(t, "a.foo.com"), "default/exact:80");
    assert_string_equal(host_of(t, "A.FOO.COM"), "default/exact:80");
    assert_string_equal(host_of(t, "mixed.example.com"), "default/upper:80");
    assert_string_equal(host_of(t, "MIXED.example.com"), "default/upper:80");
    /* Stored lower-case. */
    m = match(t, "mixed.example.com", "/");
    assert_string_equal(m.rule->host, "mixed.example.com");
    m = match(t, "a.foo.com", "/");
    assert_string_equal(m.rule->host, "a.foo.com");
    assert_string_equal(m.rule->ingress, "default/ing");
    tt_route_table_unref(t);
}

static void test_host_port_and_dot(void **state)
{
    struct tt_route_table *t = host_table();
    (void)state;

    assert_string_equal(host_of(t, "a.foo.com:8080"), "default/exact:80");
    assert_string_equal(host_of(t, "a.foo.com:"), "default/exact:80");
    assert_string_equal(host_of(t, "a.foo.com."), "default/exact:80");
    assert_string_equal(host_of(t, "A.Foo.Com.:443"), "default/exact:80");
    assert_string_equal(host_of(t, "b.foo.com.:443"), "default/wild:80");
    /* Whatever is not a name falls to the any-host rules. */
    assert_string_equal(host_of(t, "a.foo.com:http"), "default/any:80");
    assert_string_equal(host_of(t, "a.foo.com:80:80"), "default/any:80");
    assert_string_equal(host_of(t, "[::1]:8080"), "default/any:80");
    assert_string_equal(host_of(t, "[fd00::1]"), "default/any:80");
    assert_string_equal(host_of(t, "fd00::1"), "default/any:80");
    assert_string_equal(host_of(t, "10.0.0.1:80"), "default/any:80");
    assert_string_equal(host_of(t, ""), "default/any:80");
    assert_string_equal(host_of(t, ":80"), "default/any:80");
    assert_string_equal(host_of(t, "."), "default/any:80");
    assert_string_equal(host_of(t, "a.foo.com.."), "default/any:80");
    tt_route_table_unref(t);
}

static void test_host_wildcard(void **state)
{
    struct tt_route_table *t = host_table();
    struct tt_route_match m;
    (void)state;

    assert_string_equal(host_of(t, "b.foo.com"), "default/wild:80");
    assert_string_equal(host_of(t, "B.FOO.COM:80"), "default/wild:80");
    assert_string_equal(host_of(t, "xn--80ak6aa92e.foo.com"), "default/wild:80");
    /* Exactly one label: not zero, not two, not an empty one. */
    assert_string_equal(host_of(t, "foo.com"), "default/any:80");
    assert_string_equal(host_of(t, "a.b.foo.com"), "default/any:80");
    assert_string_equal(host_of(t, ".foo.com"), "default/any:80");
    assert_string_equal(host_of(t, "bfoo.com"), "default/any:80");
    assert_string_equal(host_of(t, "b.foo.co"), "default/any:80");
    m = match(t, "b.foo.com", "/");
    assert_string_equal(m.rule->host, "*.foo.com");
    tt_route_table_unref(t);
}

static void test_host_precedence_no_fallback(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    struct tt_route_match m;
    int exact = add_svc(b, "exact");
    int wild = add_svc(b, "wild");
    int any = add_svc(b, "any");
    (void)state;

    add_ok(b, "a.foo.com", "/api", TT_PATH_PREFIX, exact);
    add_ok(b, "*.foo.com", "/", TT_PATH_PREFIX, wild);
    add_ok(b, "*.foo.com", "/web", TT_PATH_EXACT, wild);
    add_ok(b, NULL, "/", TT_PATH_PREFIX, any);
    assert_non_null(t = tt_route_builder_finish(b, 1));

    assert_string_equal(match(t, "a.foo.com", "/api/v1").backend->name, "default/exact:80");
    /* a.foo.com was selected and has no rule for /web: no retry under *.foo.com or any host,
     * and there is no default anywhere, so 404. */
    m = match(t, "a.foo.com", "/web");
    assert_null(m.rule);
    assert_null(m.backend);
    assert_null(m.policy);
    assert_string_equal(match(t, "b.foo.com", "/web").backend->name, "default/wild:80");
    assert_string_equal(match(t, "foo.com", "/web").backend->name, "default/any:80");
    assert_string_equal(match(t, "other.org", "/api").backend->name, "default/any:80");
    tt_route_table_unref(t);

    /* Same again with a wildcard host that has only an Exact rule: its misses do not reach
     * the any-host rules either. */
    b = tt_route_builder_new();
    wild = add_svc(b, "wild");
    any = add_svc(b, "any");
    add_ok(b, "*.foo.com", "/only", TT_PATH_EXACT, wild);
    add_ok(b, NULL, "/", TT_PATH_PREFIX, any);
    assert_non_null(t = tt_route_builder_finish(b, 1));
    assert_string_equal(match(t, "x.foo.com", "/only").backend->name, "default/wild:80");
    assert_null(match(t, "x.foo.com", "/other").backend);
    assert_string_equal(match(t, "x.bar.com", "/other").backend->name, "default/any:80");
    tt_route_table_unref(t);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    struct tt_route_match m;
    struct tt_route_policy pol = {.max_body = 1234};
    struct tt_route_policy gpol = {.max_body = 99};
    struct tt_err err = {0};
    int site = add_svc(b, "site");
    int host_def = add_svc(b, "host-default");
    int global = add_svc(b, "global-default");
    int other = add_svc(b, "other");
    (void)state;

    add_ok(b, "foo.com", "/app", TT_PATH_PREFIX, site);
    add_ok(b, "bar.com", "/app", TT_PATH_PREFIX, site);
    add_ok(b, NULL, "/any", TT_PATH_PREFIX, site);
    assert_int_equal(tt_route_builder_set_default(b, "FOO.com", host_def, &pol, &err), 0);
    assert_int_equal(tt_route_builder_set_default(b, "", global, &gpol, &err), 0);
    /* First call wins. */
    assert_int_equal(tt_route_builder_set_default(b, "foo.com", other, NULL, &err), TT_EEXIST);
    assert_non_null(strstr(err.msg, "already set"));
    assert_int_equal(tt_route_builder_set_default(b, NULL, other, NULL, &err), TT_EEXIST);
    /* A host that only has a default is still a host entry. */
    default_ok(b, "only-default.com", host_def);
    default_ok(b, "*.wild.com", other);
    assert_int_equal(tt_route_builder_set_default(b, "bad..com", other, NULL, &err), TT_EINVAL);
    assert_int_equal(tt_route_builder_set_default(b, "x.com", 42, NULL, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "unknown backend"));
    assert_int_equal(tt_route_builder_set_default(b, "x.com", -1, NULL, &err), TT_EINVAL);
    assert_non_null(t = tt_route_builder_finish(b, 1));

    /* Host matched, path did not: the host's default, with its policy. */
    m = match(t, "foo.com", "/nope");
    assert_null(m.rule);
    assert_string_equal(m.backend->name, "default/host-default:80");
    assert_int_equal(m.policy->max_body, 1234);
    /* Host without its own default: the table default, not the any-host rules. */
    m = match(t, "bar.com", "/any");
    assert_null(m.rule);
    assert_string_equal(m.backend->name, "default/global-default:80");
    assert_int_equal(m.policy->max_body, 99);
    /* Nothing matched at all. */
    m = match(t, "unknown.com", "/nope");
    assert_null(m.rule);
    assert_string_equal(m.backend->name, "default/global-default:80");
    /* The any-host rules still answer unknown hosts. */
    assert_non_null(match(t, "unknown.com", "/any/x").rule);
    m = match(t, "only-default.com", "/any");
    assert_null(m.rule);
    assert_string_equal(m.backend->name, "default/host-default:80");
    assert_int_equal(m.policy->max_body, 0);
    assert_string_equal(match(t, "q.wild.com", "/").backend->name, "default/other:80");
    assert_string_equal(match(t, "wild.com", "/").backend->name, "default/global-default:80");
    tt_route_table_unref(t);
}

/* ---- duplicates ---- */

static void test_duplicates(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    struct tt_route_match m;
    struct tt_err err = {0};
    int first = add_svc(b, "first");
    int second = add_svc(b, "second");
    (void)state;

    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/a", TT_PATH_PREFIX, first, "ns/old", NULL, &err),
        0);
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/a", TT_PATH_PREFIX, second, "ns/new", NULL, &err),
        TT_EEXIST);
    assert_non_null(strstr(err.msg, "ns/old"));
    /* Same host in another case, and the same Prefix written with a trailing slash. */
    assert_int_equal(
        tt_route_builder_add_rule(b, "FOO.COM", "/a", TT_PATH_PREFIX, second, "ns/new", NULL, &err),
        TT_EEXIST);
    assert_int_equal(tt_route_builder_add_rule(b, "foo.com", "/a/", TT_PATH_PREFIX, second,
                                               "ns/new", NULL, &err),
                     TT_EEXIST);
    /* Different type, host or path: not duplicates. */
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/a", TT_PATH_EXACT, second, "ns/new", NULL, &err),
        0);
    assert_int_equal(tt_route_builder_add_rule(b, "foo.com", "/a", TT_PATH_IMPL_SPECIFIC, second,
                                               "ns/new", NULL, &err),
                     0);
    assert_int_equal(
        tt_route_builder_add_rule(b, "bar.com", "/a", TT_PATH_PREFIX, second, "ns/new", NULL, &err),
        0);
    assert_int_equal(
        tt_route_builder_add_rule(b, NULL, "/a", TT_PATH_PREFIX, second, "ns/new", NULL, &err), 0);
    assert_int_equal(
        tt_route_builder_add_rule(b, "", "/a", TT_PATH_PREFIX, second, "ns/new", NULL, &err),
        TT_EEXIST);
    assert_int_equal(tt_route_builder_add_rule(b, "foo.com", "/a/b", TT_PATH_PREFIX, second,
                                               "ns/new", NULL, &err),
                     0);
    /* Exact compares the path as written. */
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/a/", TT_PATH_EXACT, second, "ns/new", NULL, &err),
        0);
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/a/", TT_PATH_EXACT, first, "ns/new", NULL, &err),
        TT_EEXIST);
    assert_non_null(t = tt_route_builder_finish(b, 1));
    assert_int_equal(tt_route_table_rule_count(t), 7);

    m = match(t, "foo.com", "/a/x");
    assert_string_equal(m.backend->name, "default/first:80");
    assert_string_equal(m.rule->ingress, "ns/old");
    assert_int_equal(m.rule->type, TT_PATH_PREFIX);
    tt_route_table_unref(t);
}

/* ---- rejected input ---- */

struct bad_case {
    const char *host;
    const char *path;
    int type;
    const char *reason; /* substring of err.msg */
};

static const struct bad_case bad_cases[] = {
    {"*", "/", TT_PATH_PREFIX, "wildcard needs a domain"},
    {"*.", "/", TT_PATH_PREFIX, "empty label"},
    {"a.*.com", "/", TT_PATH_PREFIX, "only allowed as the whole first label"},
    {"*.*.com", "/", TT_PATH_PREFIX, "only allowed as the whole first label"},
    {"*foo.com", "/", TT_PATH_PREFIX, "whole first label"},
    {"foo*.com", "/", TT_PATH_PREFIX, "whole first label"},
    {"1.2.3.4", "/", TT_PATH_PREFIX, "IP addresses are not allowed"},
    {"*.1.2.3.4", "/", TT_PATH_PREFIX, "IP addresses are not allowed"},
    {"[::1]", "/", TT_PATH_PREFIX, "IP addresses are not allowed"},
    {"fd00::1", "/", TT_PATH_PREFIX, "IP addresses are not allowed"},
    {"foo.com:80", "/", TT_PATH_PREFIX, "port is not allowed"},
    {"foo..com", "/", TT_PATH_PREFIX, "empty label"},
    {".foo.com", "/", TT_PATH_PREFIX, "empty label"},
    {"foo.com.", "/", TT_PATH_PREFIX, "empty label"},
    {"fo_o.com", "/", TT_PATH_PREFIX, "invalid character '_'"},
    {"foo .com", "/", TT_PATH_PREFIX, "invalid character 0x20"},
    {"foo\n.com", "/", TT_PATH_PREFIX, "invalid character 0x0a"},
    {"foo.com/x", "/", TT_PATH_PREFIX, "invalid character '/'"},
    {"-foo.com", "/", TT_PATH_PREFIX, "start and end with a letter or digit"},
    {"foo-.com", "/", TT_PATH_PREFIX, "start and end with a letter or digit"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "/", TT_PATH_PREFIX,
     "longer than 63"},
    {NULL, "foo", TT_PATH_PREFIX, "must start with '/'"},
    {NULL, "foo", TT_PATH_EXACT, "must start with '/'"},
    {NULL, "foo", TT_PATH_IMPL_SPECIFIC, "must start with '/'"},
    {NULL, "", TT_PATH_IMPL_SPECIFIC, "must start with '/'"},
    {NULL, "", TT_PATH_PREFIX, "must start with '/'"},
    {NULL, NULL, TT_PATH_PREFIX, "no path"},
    {NULL, "/a b", TT_PATH_PREFIX, "0x20"},
    {NULL, "/a?b=1", TT_PATH_EXACT, "0x3f"},
    {NULL, "/a#frag", TT_PATH_EXACT, "0x23"},
    {NULL, "/a\tb", TT_PATH_PREFIX, "0x09"},
    {NULL, "/a", 7, "unknown path type"},
    {NULL, "/a", -1, "unknown path type"},
};

static void test_invalid_input(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    char longhost[300];
    char longpath[8200];
    struct tt_err err;
    int be = add_svc(b, "svc");
    int any = add_svc(b, "any");
    (void)state;

    for (size_t c = 0; c < sizeof(bad_cases) / sizeof(bad_cases[0]); c++) {
        const struct bad_case *bc = &bad_cases[c];
        int rc;
        memset(&err, 0, sizeof(err));
        rc = tt_route_builder_add_rule(b, bc->host, bc->path, (enum tt_path_type)bc->type, be,
                                       "ns/ing", NULL, &err);
        if (rc != TT_EINVAL || err.code != TT_EINVAL || strstr(err.msg, bc->reason) == NULL)
            fail_msg("case %zu host %s path %s: rc %d msg \"%s\", want \"%s\"", c,
                     bc->host ? bc->host : "(any)", bc->path ? bc->path : "(null)", rc, err.msg,
                     bc->reason);
    }
    /* Too long: a 254-character host, and a path over the cap. */
    memset(longhost, 'a', sizeof(longhost));
    for (int i = 63; i < 254; i += 64)
        longhost[i] = '.';
    longhost[254] = '\0';
    assert_int_equal(
        tt_route_builder_add_rule(b, longhost, "/", TT_PATH_PREFIX, be, NULL, NULL, &err),
        TT_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 253"));
    longhost[253] = '\0'; /* 253 is fine */
    assert_int_equal(
        tt_route_builder_add_rule(b, longhost, "/", TT_PATH_PREFIX, be, NULL, NULL, &err), 0);
    longpath[0] = '/';
    memset(longpath + 1, 'p', sizeof(longpath) - 2);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(
        tt_route_builder_add_rule(b, NULL, longpath, TT_PATH_PREFIX, be, NULL, NULL, &err),
        TT_EINVAL);
    /* Unknown backends. */
    assert_int_equal(tt_route_builder_add_rule(b, NULL, "/x", TT_PATH_PREFIX, 2, NULL, NULL, &err),
                     TT_EINVAL);
    assert_non_null(strstr(err.msg, "unknown backend 2"));
    assert_int_equal(
        tt_route_builder_add_rule(b, NULL, "/x", TT_PATH_PREFIX, -12, NULL, NULL, &err), TT_EINVAL);
    /* Valid hosts whose rule is rejected for another reason. */
    assert_int_equal(
        tt_route_builder_add_rule(b, "valid.org", "nope", TT_PATH_PREFIX, be, NULL, NULL, &err),
        TT_EINVAL);
    assert_int_equal(
        tt_route_builder_add_rule(b, "valid.org", "/", TT_PATH_PREFIX, 99, NULL, NULL, &err),
        TT_EINVAL);
    assert_int_equal(tt_route_builder_set_default(b, "valid.org", 99, NULL, &err), TT_EINVAL);
    /* NULL err is allowed. */
    assert_int_equal(tt_route_builder_add_rule(b, "*", "/", TT_PATH_PREFIX, be, NULL, NULL, NULL),
                     TT_EINVAL);
    /* Upper case is not an error: it is lower-cased. */
    add_ok(b, "UPPER.Example.com", "/", TT_PATH_PREFIX, be);
    add_ok(b, "*.WILD.com", "/", TT_PATH_PREFIX, be);
    add_ok(b, "*.com", "/", TT_PATH_PREFIX, be);
    add_ok(b, "0-9.a-b.com", "/", TT_PATH_PREFIX, be);
    add_ok(b, "1.2.3.4.com", "/", TT_PATH_PREFIX, be);
    add_ok(b, "localhost", "/", TT_PATH_PREFIX, be);
    add_ok(b, NULL, "/", TT_PATH_PREFIX, any);
    assert_non_null(t = tt_route_builder_finish(b, 1));
    assert_int_equal(tt_route_table_rule_count(t), 8);
    /* A rejected rule leaves no host entry behind, so valid.org is still any-host territory
     * (a stray entry would select the host and answer 404 instead). */
    assert_string_equal(match(t, "valid.org", "/").backend->name, "default/any:80");
    assert_string_equal(match(t, "upper.example.com", "/").backend->name, "default/svc:80");
    assert_string_equal(match(t, "x.wild.com", "/").backend->name, "default/svc:80");
    assert_string_equal(match(t, "example.com", "/").backend->name, "default/svc:80");
    tt_route_table_unref(t);
}

/* ---- endpoints and backends ---- */

static void test_endpoints(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    const struct tt_route_backend *be;
    const struct tt_route_endpoint *ep;
    const struct sockaddr_in *sin;
    const struct sockaddr_in6 *sin6;
    char ip[INET6_ADDRSTRLEN];
    const struct tt_route_endpoint_spec eps[] = {
        {"10.0.0.1", 8080},
        {"fd00::1", 8080},
        {"10.0.0.1", 8080},    /* duplicate */
        {"FD00:0:0::1", 8080}, /* same address, other spelling */
        {"10.0.0.1", 9090},    /* other port: kept */
        {"not-an-ip", 80},
        {"", 80},
        {NULL, 80},
        {"10.0.0.256", 80},
        {"fe80::1%eth0", 80},
        {"10.0.0.2:80", 80},
        {" 10.0.0.3", 80},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535},
        {"::ffff:10.1.2.3", 1},
    };
    const struct tt_route_endpoint_spec one = {"192.168.1.1", 80};
    int a, again, empty, none;
    (void)state;

    a = tt_route_builder_add_backend(b, "shop", "web", "http", eps, sizeof(eps) / sizeof(eps[0]));
    assert_int_equal(a, 0);
    /* Same name: same index, the new endpoints are ignored. */
    again = tt_route_builder_add_backend(b, "shop", "web", "http", &one, 1);
    assert_int_equal(again, 0);
    empty = tt_route_builder_add_backend(b, "shop", "web", "8080", NULL, 0);
    assert_int_equal(empty, 1);
    none = tt_route_builder_add_backend(b, "shop", "db", "5432", eps + 5, 6);
    assert_int_equal(none, 2);
    assert_non_null(t = tt_route_builder_finish(b, 5));

    assert_int_equal(tt_route_table_backend_count(t), 3);
    assert_null(tt_route_table_backend(t, 3));
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(tt_route_table_backend(t, i)->index, i);
    be = tt_route_table_backend(t, 0);
    assert_string_equal(be->name, "shop/web:http");
    assert_int_equal(be->n_endpoints, 5);

    ep = &be->endpoints[0];
    sin = (const struct sockaddr_in *)&ep->addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 8080);
    assert_int_equal(ep->addr_len, sizeof(struct sockaddr_in));
    assert_string_equal(inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)), "10.0.0.1");
    assert_string_equal(ep->text, "10.0.0.1:8080");
    assert_string_equal(ep->id, "shop/web:http@10.0.0.1:8080");
    assert_string_equal(ep->address, "10.0.0.1");
    assert_int_equal(ep->port, 8080);

    ep = &be->endpoints[1];
    sin6 = (const struct sockaddr_in6 *)&ep->addr;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 8080);
    assert_int_equal(ep->addr_len, sizeof(struct sockaddr_in6));
    assert_string_equal(inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)), "fd00::1");
    assert_string_equal(ep->text, "[fd00::1]:8080");
    assert_string_equal(ep->id, "shop/web:http@[fd00::1]:8080");
    assert_string_equal(ep->address, "fd00::1"); /* "FD00:0:0::1" came later: a duplicate */

    assert_string_equal(be->endpoints[2].text, "10.0.0.1:9090");
    assert_string_equal(be->endpoints[3].text, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    assert_string_equal(be->endpoints[3].id,
                        "shop/web:http@[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
    assert_string_equal(be->endpoints[4].text, "[::ffff:10.1.2.3]:1");
    assert_string_equal(be->endpoints[3].address, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_int_equal(be->endpoints[3].port, 65535);

    be = tt_route_table_backend(t, 1);
    assert_string_equal(be->name, "shop/web:8080");
    assert_int_equal(be->n_endpoints, 0);
    be = tt_route_table_backend(t, 2);
    assert_string_equal(be->name, "shop/db:5432");
    assert_int_equal(be->n_endpoints, 0);
    assert_int_equal(tt_route_table_generation(t), 5);
    tt_route_table_unref(t);
}

/* ---- reference counting, empty table, policies ---- */

static void test_refcount_no_leak(void **state)
{
    long start = tt_alloc_outstanding();
    struct tt_route_builder *b;
    struct tt_route_table *t;
    struct tt_route_table *t2;
    (void)state;

    b = tt_route_builder_new();
    add_ok(b, "foo.com", "/", TT_PATH_PREFIX, add_svc(b, "a"));
    t = tt_route_builder_finish(b, 9);
    assert_ptr_equal(tt_route_table_ref(t), t);
    assert_ptr_equal(tt_route_table_ref(t), t);
    tt_route_table_unref(t);
    tt_route_table_unref(t);
    assert_string_equal(match(t, "foo.com", "/").backend->name, "default/a:80");
    tt_route_table_unref(t);
    assert_int_equal(tt_alloc_outstanding(), start);

    /* An unfinished builder frees everything it collected. */
    b = tt_route_builder_new();
    add_ok(b, "foo.com", "/", TT_PATH_PREFIX, add_svc(b, "a"));
    add_ok(b, "*.foo.com", "/", TT_PATH_PREFIX, add_svc(b, "b"));
    default_ok(b, "bar.com", 0);
    tt_route_builder_free(b);
    assert_int_equal(tt_alloc_outstanding(), start);

    /* NULL is a no-op everywhere it may appear. */
    tt_route_builder_free(NULL);
    tt_route_table_unref(NULL);
    assert_null(tt_route_table_ref(NULL));
    assert_null(tt_route_builder_finish(NULL, 1));
    assert_null(match(NULL, "foo.com", "/").backend);

    /* Empty table. */
    t2 = tt_route_table_empty(42);
    assert_non_null(t2);
    assert_int_equal(tt_route_table_generation(t2), 42);
    assert_int_equal(tt_route_table_backend_count(t2), 0);
    assert_int_equal(tt_route_table_rule_count(t2), 0);
    assert_null(tt_route_table_backend(t2, 0));
    assert_null(match(t2, "foo.com", "/").backend);
    assert_null(match(t2, "", "").rule);
    tt_route_table_unref(t2);
    assert_int_equal(tt_alloc_outstanding(), start);
}

struct worker_arg {
    struct tt_route_table *t;
    int iterations;
    int hits;
};

static void *do_match_loop(void *p)
{
    struct worker_arg *a = p;

    for (int i = 0; i < a->iterations; i++) {
        struct tt_route_table *t = tt_route_table_ref(a->t);
        struct tt_route_match m = match(t, (i & 1) ? "a.foo.com" : "b.foo.com", "/x");
        if (m.backend != NULL && strcmp(m.backend->name, "default/exact:80") == 0)
            a->hits++;
        tt_route_table_unref(t);
    }
    return NULL;
}

/* Takes over one reference and drops it last, after the main thread dropped its own. */
static void *do_last_unref(void *p)
{
    struct worker_arg *a = p;

    for (int i = 0; i < a->iterations; i++)
        if (match(a->t, "a.foo.com", "/").backend != NULL)
            a->hits++;
    tt_route_table_unref(a->t);
    return NULL;
}

static void test_refcount_threads(void **state)
{
    long start = tt_alloc_outstanding();
    struct tt_route_table *t = host_table();
    struct worker_arg args[4];
    pthread_t th[4];
    (void)state;

    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){t, 20000, 0};
        assert_int_equal(pthread_create(&th[i], NULL, do_match_loop, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].hits, 10000);
    }
    /* Hand a reference to a thread, drop ours: the thread frees the table. */
    args[0] = (struct worker_arg){tt_route_table_ref(t), 1000, 0};
    assert_int_equal(pthread_create(&th[0], NULL, do_last_unref, &args[0]), 0);
    tt_route_table_unref(t);
    assert_int_equal(pthread_join(th[0], NULL), 0);
    assert_int_equal(args[0].hits, 1000);
    assert_int_equal(tt_alloc_outstanding(), start);
}

static void test_policy_copied(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    struct tt_route_policy pol = {.max_body = 1 << 20};
    struct tt_route_match m;
    struct tt_err err;
    int be = add_svc(b, "svc");
    (void)state;

    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/up", TT_PATH_PREFIX, be, "ns/a", &pol, &err), 0);
    pol.max_body = 7; /* the builder copied it */
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/small", TT_PATH_EXACT, be, "ns/b", &pol, &err),
        0);
    pol.max_body = 0xdeadbeef;
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/none", TT_PATH_PREFIX, be, "ns/c", NULL, &err),
        0);
    assert_non_null(t = tt_route_builder_finish(b, 1));
    m = match(t, "foo.com", "/up/load");
    assert_int_equal(m.policy->max_body, 1 << 20);
    assert_ptr_equal(m.policy, &m.rule->policy);
    assert_int_equal(match(t, "foo.com", "/small").policy->max_body, 7);
    assert_int_equal(match(t, "foo.com", "/none").policy->max_body, 0);
    assert_null(match(t, "foo.com", "/other").policy);
    tt_route_table_unref(t);
}

/* ---- scale ---- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ---- affinity settings, attached objects, the builder's endpoint view ---- */

static int released;

static void release_counted(void *obj)
{
    released++;
    tt_free(obj);
}

/* A stand-in for a tt_affinity: the table only owns and releases it. */
static struct tt_affinity *fake_state(struct tt_route_builder *b)
{
    void *obj = tt_malloc(16);
    assert_non_null(obj);
    assert_int_equal(tt_route_builder_attach(b, obj, release_counted), 0);
    return obj;
}

static void test_builder_endpoints_view(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    const struct tt_route_endpoint_spec eps[] = {
        {"10.0.0.2", 80}, {"FD00:0:0::1", 81}, {"junk", 1}, {"10.0.0.2", 80}, {"fd00::1", 81},
    };
    const struct tt_route_endpoint *v;
    struct tt_route_table *t;
    size_t n = 99;
    int a, none;
    (void)state;

    a = tt_route_builder_add_backend(b, "ns", "a", "80", eps, 5);
    none = tt_route_builder_add_backend(b, "ns", "b", "80", NULL, 0);
    v = tt_route_builder_backend_endpoints(b, a, &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].address, "10.0.0.2");
    assert_string_equal(v[0].text, "10.0.0.2:80");
    assert_int_equal(v[0].port, 80);
    assert_null(v[0].id);
    /* Raw text kept (node ids hash it); the canonical form is only for logs. */
    assert_string_equal(v[1].address, "FD00:0:0::1");
    assert_string_equal(v[1].text, "[fd00::1]:81");
    assert_int_equal(v[1].port, 81);
    assert_null(tt_route_builder_backend_endpoints(b, none, &n));
    assert_int_equal(n, 0);
    n = 7;
    assert_null(tt_route_builder_backend_endpoints(b, 2, &n));
    assert_int_equal(n, 0);
    assert_null(tt_route_builder_backend_endpoints(b, -1, &n));

    /* The table has them in the same order. */
    assert_non_null(t = tt_route_builder_finish(b, 1));
    assert_string_equal(tt_route_table_backend(t, (size_t)a)->endpoints[1].address, "FD00:0:0::1");
    assert_string_equal(tt_route_table_backend(t, (size_t)a)->endpoints[1].id,
                        "ns/a:80@[fd00::1]:81");
    tt_route_table_unref(t);
}

static struct tt_route_policy sticky_policy(struct tt_affinity *st, char *name, char *path,
                                            char *domain)
{
    struct tt_route_policy pol = {.max_body = 5};
    pol.affinity.enabled = true;
    pol.affinity.mode = TT_ROUTE_AFFINITY_PERSISTENT;
    pol.affinity.cookie_name = tt_slice_cstr(name);
    pol.affinity.path = tt_slice_cstr(path);
    pol.affinity.domain = tt_slice_cstr(domain);
    pol.affinity.samesite = TT_ROUTE_SAMESITE_LAX;
    pol.affinity.conditional_samesite_none = true;
    pol.affinity.secure = true;
    pol.affinity.change_on_failure = true;
    pol.affinity.has_expires = true;
    pol.affinity.expires = -1;
    pol.affinity.has_max_age = true;
    pol.affinity.max_age = 3600;
    pol.affinity.canary_behavior = TT_ROUTE_CANARY_LEGACY;
    pol.affinity.state = st;
    return pol;
}

static bool in_caller(const char *p, const char *buf, size_t n)
{
    return p >= buf && p < buf + n;
}

static void test_affinity_policy(void **state)
{
    long start = tt_alloc_outstanding();
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    struct tt_route_policy pol;
    const struct tt_route_affinity *a;
    struct tt_affinity *st, *st2;
    char name[32] = "SESSION", path[32] = "/shop", domain[32] = "example.com";
    struct tt_err err;
    int be = add_svc(b, "svc");
    (void)state;

    released = 0;
    st = fake_state(b);
    st2 = fake_state(b);
    pol = sticky_policy(st, name, path, domain);
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/shop", TT_PATH_PREFIX, be, "ns/a", &pol, &err),
        0);
    /* The caller's strings may change or go: the builder copied them. */
    snprintf(name, sizeof(name), "OTHER");
    snprintf(path, sizeof(path), "/cart");
    domain[0] = '\0';
    pol = sticky_policy(st2, name, path, domain);
    pol.affinity.mode = TT_ROUTE_AFFINITY_BALANCED;
    pol.affinity.samesite = TT_ROUTE_SAMESITE_UNSET;
    pol.affinity.has_expires = false;
    pol.affinity.expires = 0;
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/cart", TT_PATH_EXACT, be, "ns/b", &pol, &err), 0);
    /* Disabled: stored zeroed whatever the rest says, except the canary behaviour. */
    pol.affinity.enabled = false;
    pol.affinity.cookie_name = TT_SLICE_LIT("x;y");
    pol.affinity.state = NULL;
    assert_int_equal(
        tt_route_builder_add_rule(b, "foo.com", "/plain", TT_PATH_PREFIX, be, "ns/c", &pol, &err),
        0);
    pol = sticky_policy(st, name, path, domain);
    assert_int_equal(tt_route_builder_set_default(b, "foo.com", be, &pol, &err), 0);
    memset(name, 'Z', sizeof(name) - 1);
    memset(path, 'Z', sizeof(path) - 1);
    assert_non_null(t = tt_route_builder_finish(b, 1));
    assert_int_equal(released, 0);

    a = &match(t, "foo.com", "/shop/x").policy->affinity;
    assert_true(a->enabled);
    assert_int_equal(a->mode, TT_ROUTE_AFFINITY_PERSISTENT);
    assert_int_equal(a->cookie_name.len, 7);
    assert_string_equal(a->cookie_name.ptr, "SESSION"); /* NUL-terminated too */
    assert_string_equal(a->path.ptr, "/shop");
    assert_int_equal(a->path.len, 5);
    assert_string_equal(a->domain.ptr, "example.com");
    assert_int_equal(a->domain.len, 11);
    assert_false(in_caller(a->cookie_name.ptr, name, sizeof(name)));
    assert_int_equal(a->samesite, TT_ROUTE_SAMESITE_LAX);
    assert_true(a->conditional_samesite_none && a->secure && a->change_on_failure);
    assert_true(a->has_expires && a->has_max_age);
    assert_int_equal(a->expires, -1);
    assert_int_equal(a->max_age, 3600);
    assert_int_equal(a->canary_behavior, TT_ROUTE_CANARY_LEGACY);
    assert_ptr_equal(a->state, st);
    assert_int_equal(match(t, "foo.com", "/shop").policy->max_body, 5);

    a = &match(t, "foo.com", "/cart").policy->affinity;
    assert_true(a->enabled);
    assert_int_equal(a->mode, TT_ROUTE_AFFINITY_BALANCED);
    assert_string_equal(a->cookie_name.ptr, "OTHER");
    assert_string_equal(a->path.ptr, "/cart");
    assert_int_equal(a->domain.len, 0);
    assert_non_null(a->domain.ptr);
    assert_string_equal(a->domain.ptr, "");
    assert_int_equal(a->samesite, TT_ROUTE_SAMESITE_UNSET);
    assert_false(a->has_expires);
    assert_ptr_equal(a->state, st2);

    a = &match(t, "foo.com", "/plain").policy->affinity;
    assert_false(a->enabled);
    assert_int_equal(a->cookie_name.len, 0);
    assert_null(a->cookie_name.ptr);
    assert_null(a->state);
    assert_false(a->secure || a->has_max_age);
    assert_int_equal(a->canary_behavior, TT_ROUTE_CANARY_LEGACY);

    a = &match(t, "foo.com", "/elsewhere").policy->affinity; /* the host default */
    assert_true(a->enabled);
    assert_string_equal(a->cookie_name.ptr, "OTHER");
    assert_string_equal(a->path.ptr, "/cart");
    assert_ptr_equal(a->state, st);

    /* The last reference releases every attached object, once. */
    tt_route_table_ref(t);
    tt_route_table_unref(t);
    assert_int_equal(released, 0);
    tt_route_table_unref(t);
    assert_int_equal(released, 2);
    assert_int_equal(tt_alloc_outstanding(), start);

    /* An unfinished builder releases them too; NULL attaches nothing. */
    released = 0;
    b = tt_route_builder_new();
    fake_state(b);
    fake_state(b);
    assert_int_equal(tt_route_builder_attach(b, NULL, release_counted), 0);
    tt_route_builder_free(b);
    assert_int_equal(released, 2);
    assert_int_equal(tt_alloc_outstanding(), start);
}

static void test_affinity_policy_rejected(void **state)
{
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    struct tt_affinity *st = fake_state(b);
    int be = add_svc(b, "svc");
    static const struct {
        const char *name, *path, *domain;
        int mode, samesite, canary;
        bool no_state;
        const char *why;
    } cases[] = {
        {"", "/", "", 0, 0, 0, false, "cookie name is empty or bad"},
        {"a=b", "/", "", 0, 0, 0, false, "cookie name"},
        {"a;b", "/", "", 0, 0, 0, false, "cookie name"},
        {"a\nb", "/", "", 0, 0, 0, false, "cookie name"},
        {"a\x7f", "/", "", 0, 0, 0, false, "cookie name"},
        {"n", "", "", 0, 0, 0, false, "cookie path is empty or bad"},
        {"n", "/a;b", "", 0, 0, 0, false, "cookie path"},
        {"n", "/a\r\nSet-Cookie: x=y", "", 0, 0, 0, false, "cookie path"},
        {"n", "/", "a.com; Secure", 0, 0, 0, false, "cookie domain"},
        {"n", "/", "a\tb", 0, 0, 0, false, "cookie domain"},
        {"n", "/", "", 2, 0, 0, false, "unknown affinity mode 2"},
        {"n", "/", "", 0, 4, 0, false, "unknown SameSite value 4"},
        {"n", "/", "", 0, 0, 2, false, "unknown affinity-canary-behavior 2"},
        {"n", "/", "", 0, 0, 0, true, "affinity without its state"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tt_route_policy pol = {0};
        struct tt_err err = {0};
        char host[32];
        int rc;

        pol.affinity.enabled = true;
        pol.affinity.cookie_name = tt_slice_cstr(cases[i].name);
        pol.affinity.path = tt_slice_cstr(cases[i].path);
        pol.affinity.domain = tt_slice_cstr(cases[i].domain);
        pol.affinity.mode = (enum tt_route_affinity_mode)cases[i].mode;
        pol.affinity.samesite = (enum tt_route_samesite)cases[i].samesite;
        pol.affinity.canary_behavior = (enum tt_route_canary_affinity)cases[i].canary;
        pol.affinity.state = cases[i].no_state ? NULL : st;
        snprintf(host, sizeof(host), "h%zu.com", i);
        rc = tt_route_builder_add_rule(b, host, "/", TT_PATH_PREFIX, be, "ns/i", &pol, &err);
        if (rc != TT_EINVAL || strstr(err.msg, cases[i].why) == NULL)
            fail_msg("case %zu: rc %d \"%s\", wanted EINVAL \"%s\"", i, rc, err.msg, cases[i].why);
        assert_true(strstr(err.msg, "rule h") == err.msg);
        memset(&err, 0, sizeof(err));
        assert_int_equal(tt_route_builder_set_default(b, host, be, &pol, &err), TT_EINVAL);
        assert_non_null(strstr(err.msg, "default for h"));
    }
    /* A disabled affinity is not looked at, but its canary behaviour is. */
    {
        struct tt_route_policy pol = {0};
        struct tt_err err = {0};
        pol.affinity.canary_behavior = (enum tt_route_canary_affinity)7;
        assert_int_equal(
            tt_route_builder_add_rule(b, "x.com", "/", TT_PATH_PREFIX, be, "ns/i", &pol, &err),
            TT_EINVAL);
    }
    assert_non_null(t = tt_route_builder_finish(b, 1));
    assert_int_equal(tt_route_table_rule_count(t), 0);
    tt_route_table_unref(t);
}

static void test_10k_hosts(void **state)
{
    enum { N_HOSTS = 10000, N_WILD = 1000, N_BACKENDS = 1000 };
    long start = tt_alloc_outstanding();
    struct tt_route_builder *b = tt_route_builder_new();
    struct tt_route_table *t;
    char host[64];
    char svc[32];
    double t0, t1;
    int any;
    (void)state;

    for (int i = 0; i < N_BACKENDS; i++) {
        snprintf(svc, sizeof(svc), "svc%04d", i);
        assert_int_equal(add_svc(b, svc), i);
    }
    any = add_svc(b, "any");
    for (int i = 0; i < N_HOSTS; i++) {
        snprintf(host, sizeof(host), "h%05d.example.com", i);
        add_ok(b, host, "/", TT_PATH_PREFIX, i % N_BACKENDS);
        add_ok(b, host, "/api", TT_PATH_EXACT, (i + 1) % N_BACKENDS);
    }
    for (int i = 0; i < N_WILD; i++) {
        snprintf(host, sizeof(host), "*.w%04d.example.org", i);
        add_ok(b, host, "/", TT_PATH_PREFIX, i % N_BACKENDS);
    }
    add_ok(b, NULL, "/", TT_PATH_PREFIX, any);
    t0 = now_ns();
    assert_non_null(t = tt_route_builder_finish(b, 3));
    t1 = now_ns();
    print_message("    finish: %.1f ms\n", (t1 - t0) / 1e6);
    assert_int_equal(tt_route_table_rule_count(t), 2 * N_HOSTS + N_WILD + 1);
    assert_int_equal(tt_route_table_backend_count(t), N_BACKENDS + 1);

    t0 = now_ns();
    for (int i = 0; i < N_HOSTS; i++) {
        struct tt_route_match m;
        snprintf(host, sizeof(host), "H%05d.Example.com:443", i);
        m = match(t, host, "/api");
        assert_non_null(m.rule);
        assert_int_equal(m.rule->type, TT_PATH_EXACT);
        assert_int_equal(m.backend->index, (uint32_t)((i + 1) % N_BACKENDS));
        assert_int_equal(strncasecmp(m.rule->host, host, strlen(m.rule->host)), 0);
        m = match(t, host, "/api/v2");
        assert_int_equal(m.backend->index, (uint32_t)(i % N_BACKENDS));
    }
    for (int i = 0; i < N_WILD; i++) {
        struct tt_route_match m;
        snprintf(host, sizeof(host), "x.w%04d.example.org", i);
        m = match(t, host, "/");
        assert_int_equal(m.backend->index, (uint32_t)(i % N_BACKENDS));
        assert_string_equal(m.rule->host + 2, host + 2);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(host, sizeof(host), "miss%d.example.com", i);
        assert_int_equal(match(t, host, "/").backend->index, (uint32_t)any);
    }
    t1 = now_ns();
    print_message("    %d matches: %.0f ns each\n", 2 * N_HOSTS + N_WILD + 1000,
                  (t1 - t0) / (2 * N_HOSTS + N_WILD + 1000));
    tt_route_table_unref(t);
    assert_int_equal(tt_alloc_outstanding(), start);
}

/* ---- out of memory: every allocation of a small build fails once, in a child process ---- */

static int oom_scenario(void)
{
    const struct tt_route_endpoint_spec eps[] = {{"10.0.0.1", 80}, {"fd00::2", 81}};
    long start = tt_alloc_outstanding();
    struct tt_route_builder *b;
    struct tt_route_table *t;
    struct tt_route_policy pol = {0};
    void *obj;
    bool hit = false;
    bool ok[6];
    int a, c, att;

    if ((b = tt_route_builder_new()) == NULL)
        return tt_alloc_outstanding() == start ? OOM_HANDLED : OOM_LEAK;
    a = tt_route_builder_add_backend(b, "ns", "a", "80", eps, 2);
    c = tt_route_builder_add_backend(b, "ns", "c", "http", eps + 1, 1);
    hit = a == TT_ENOMEM || c == TT_ENOMEM;
    /* A sticky rule: its strings are copied and the attached object travels to the table. */
    if ((obj = tt_malloc(8)) == NULL) {
        hit = true;
        att = TT_ENOMEM;
    } else {
        att = tt_route_builder_attach(b, obj, tt_free);
        hit = hit || att != 0;
    }
    pol.affinity.enabled = att == 0;
    pol.affinity.cookie_name = TT_SLICE_LIT("INGRESSCOOKIE");
    pol.affinity.path = TT_SLICE_LIT("/a");
    pol.affinity.domain = TT_SLICE_LIT("foo.com");
    pol.affinity.state = obj;
    ok[0] =
        tt_route_builder_add_rule(b, "foo.com", "/a", TT_PATH_PREFIX, a, "ns/i", &pol, NULL) == 0;
    ok[1] =
        tt_route_builder_add_rule(b, "foo.com", "/b", TT_PATH_EXACT, c, "ns/i", NULL, NULL) == 0;
    ok[2] =
        tt_route_builder_add_rule(b, "*.bar.com", "/", TT_PATH_PREFIX, c, "ns/j", NULL, NULL) == 0;
    ok[3] =
        tt_route_builder_add_rule(b, NULL, "/", TT_PATH_IMPL_SPECIFIC, a, NULL, NULL, NULL) == 0;
    ok[4] = tt_route_builder_set_default(b, "foo.com", c, &pol, NULL) == 0;
    ok[5] = tt_route_builder_set_default(b, NULL, a, NULL, NULL) == 0;
    for (int i = 0; i < 6; i++)
        hit = hit || !ok[i];
    if ((t = tt_route_builder_finish(b, 1)) == NULL) {
        hit = true;
    } else {
        /* Whatever was accepted must route. */
        struct tt_route_match m;
        if (ok[0] && ((m = match(t, "foo.com", "/a/1")).rule == NULL ||
                      strcmp(m.rule->path, "/a") != 0 || m.policy->affinity.enabled != (att == 0) ||
                      (att == 0 && (strcmp(m.policy->affinity.domain.ptr, "foo.com") != 0 ||
                                    m.policy->affinity.state != obj))))
            return OOM_WRONG;
        if (ok[1] &&
            ((m = match(t, "foo.com", "/b")).rule == NULL || strcmp(m.rule->path, "/b") != 0))
            return OOM_WRONG;
        if (ok[2] && match(t, "x.bar.com", "/q").rule == NULL)
            return OOM_WRONG;
        if (ok[3] && match(t, "other.com", "/q").rule == NULL)
            return OOM_WRONG;
        if (ok[4] && ((m = match(t, "foo.com", "/zz")).backend == NULL ||
                      (att == 0 && strcmp(m.policy->affinity.cookie_name.ptr, "INGRESSCOOKIE"))))
            return OOM_WRONG;
        if (a >= 0 && tt_route_table_backend(t, (size_t)a)->n_endpoints != 2)
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
        cmocka_unit_test(test_path_table),
        cmocka_unit_test(test_no_match_is_404),
        cmocka_unit_test(test_host_exact_and_case),
        cmocka_unit_test(test_host_port_and_dot),
        cmocka_unit_test(test_host_wildcard),
        cmocka_unit_test(test_host_precedence_no_fallback),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_refcount_no_leak),
        cmocka_unit_test(test_refcount_threads),
        cmocka_unit_test(test_policy_copied),
        cmocka_unit_test(test_builder_endpoints_view),
        cmocka_unit_test(test_affinity_policy),
        cmocka_unit_test(test_affinity_policy_rejected),
        cmocka_unit_test(test_10k_hosts),
        cmocka_unit_test(test_out_of_memory),
    };

    if (argc == 2 && strcmp(argv[1], "--oom-scenario") == 0)
        return tt_test_oom_exit(oom_scenario());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
