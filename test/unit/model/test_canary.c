/* test/unit/model/test_canary.c - canary Ingresses -> route table
 * (spec/ingress-nginx-annotations.md §3): every canary annotation's valid and invalid values (each
 * bad value reported once and treated as absent), "configured but not enabled", the merge (same
 * host, path and pathType; mismatches not attached; no primary leaves 404; several canaries in
 * creation order whatever the store's order; the primary created after the canary; the split scoped
 * to the matched host+path), the header pattern compiled once (and a pattern that does not
 * compile), sticky and legacy canaries under a sticky primary (the canary's own affinity
 * annotations unused), rings shared and reused across builds, the defaultBackend catch-all, class
 * selection, leaks, and every out-of-memory point of a build with canaries (the test re-runs itself
 * with TT_ALLOC_FAIL_AT=N). */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/oomsweep.h"
/* clang-format on */

#include "unit/leakcheck.h"
#include "unit/model/fixtures.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/affinity.h"
#include "base/alloc.h"
#include "model/annotations.h"
#include "model/build.h"

#define P "nginx.ingress.kubernetes.io/"

/* Service shop/<name> (http:80 -> 3000) with |n| endpoints 10.<net>.0.1 ... */
static void add_svc(struct tt_k8s_store *s, const char *name, int net, int n)
{
    char eps[1024] = "";
    size_t len = 0;

    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(eps + len, sizeof(eps) - len, "%s{'addresses':['10.%d.0.%d']}",
                                i > 0 ? "," : "", net, i + 1);
    add(s,
        "{'kind':'Service','metadata':{'name':'%s','namespace':'shop'},'spec':{'ports':["
        "{'name':'http','port':80,'targetPort':3000}]}}",
        name);
    add(s,
        "{'kind':'EndpointSlice','metadata':{'name':'%s-1','namespace':'shop','labels':"
        "{'kubernetes.io/service-name':'%s'}},'addressType':'IPv4',"
        "'ports':[{'name':'http','port':3000}],'endpoints':[%s]}",
        name, name, eps);
}

/* One rule: host (NULL: none) with one path to Service |svc| port 80. */
static const char *rule(const char *host, const char *path, const char *type, const char *svc)
{
    static char bufs[16][512];
    static int i;
    char *b = bufs[i++ % 16];
    char h[300] = "";

    if (host != NULL)
        snprintf(h, sizeof(h), "'host':'%s',", host);
    snprintf(b, 512,
             "{%s'http':{'paths':[{'path':'%s','pathType':'%s','backend':{'service':{'name':'%s',"
             "'port':{'number':80}}}}]}}",
             h, path, type, svc);
    return b;
}

#define CANARY "'" P "canary':'true'"

static const struct tt_route_rule *rule_of(const struct tt_route_table *t, const char *host,
                                           const char *path)
{
    struct tt_route_match m = tt_route_match(t, tt_slice_cstr(host), tt_slice_cstr(path));
    if (m.rule == NULL)
        fail_msg("%s%s: no rule", host, path);
    return m.rule;
}

static struct tt_route_table *build(const struct tt_k8s_store *s)
{
    struct tt_route_table *t = tt_model_build(s, NULL, 1, NULL, on_reject, &reports);
    assert_non_null(t);
    return t;
}

/* ---- parsing ---- */

/* Parses the canary annotations of an Ingress with annotations |ann| (JSON members). The
 * slices in *c point into the object, which lives until the next call or parse_done(). */
static struct tt_k8s_object *parsed;

static void parse_done(void)
{
    tt_k8s_object_free(parsed);
    parsed = NULL;
}

static void parse(const char *ann, struct tt_model_canary *c)
{
    parse_done();
    parsed =
        ingress_obj("{'kind':'Ingress','metadata':{'name':'c','namespace':'shop','annotations':"
                    "{%s}},'spec':{'rules':[]}}",
                    ann);
    clear_reports();
    tt_model_canary_parse(parsed, "nginx.ingress.kubernetes.io", on_reject, &reports, c);
}

/* One line for a parsed canary, for table rows. */
static const char *describe(const struct tt_model_canary *c)
{
    static char out[512];

    if (!c->enabled) {
        bool zero = c->header.len == 0 && c->header_value.len == 0 && c->header_pattern.len == 0 &&
                    c->cookie.len == 0 && c->weight == 0 && c->weight_total == 0 &&
                    c->behavior == 0;
        return zero ? "off" : "off NOT-ZERO";
    }
    snprintf(out, sizeof(out), "on h=%.*s v=%.*s p=%.*s c=%.*s w=%u/%u %s", (int)c->header.len,
             c->header.ptr != NULL ? c->header.ptr : "", (int)c->header_value.len,
             c->header_value.ptr != NULL ? c->header_value.ptr : "", (int)c->header_pattern.len,
             c->header_pattern.ptr != NULL ? c->header_pattern.ptr : "", (int)c->cookie.len,
             c->cookie.ptr != NULL ? c->cookie.ptr : "", (unsigned)c->weight,
             (unsigned)c->weight_total,
             c->behavior == TT_ROUTE_CANARY_LEGACY ? "legacy" : "sticky");
    return out;
}

struct parse_case {
    const char *ann;    /* JSON members */
    const char *want;   /* describe() */
    const char *report; /* NULL: no report; else the one report's text (a substring) */
};

static void run_cases(const struct parse_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tt_model_canary c;
        parse(cases[i].ann, &c);
        if (strcmp(describe(&c), cases[i].want) != 0)
            fail_msg("case %zu {%s}: got \"%s\", want \"%s\"", i, cases[i].ann, describe(&c),
                     cases[i].want);
        if (cases[i].report == NULL && n_reports != 0)
            fail_msg("case %zu {%s}: unexpected report %s", i, cases[i].ann, reports);
        if (cases[i].report != NULL && (n_reports != 1 || strstr(reports, cases[i].report) == NULL))
            fail_msg("case %zu {%s}: wanted one report \"%s\", got %d:\n%s", i, cases[i].ann,
                     cases[i].report, n_reports, reports);
        if (cases[i].report != NULL && strstr(reports, "Ingress shop/c: ") != reports)
            fail_msg("case %zu: report names the Ingress: %s", i, reports);
    }
    parse_done();
}

#define DEF "on h= v= p= c= w=0/100 sticky"

static void test_canary_flag(void **state)
{
    static const struct parse_case cases[] = {
        {"", "off", NULL},
        {CANARY, DEF, NULL},
        {"'" P "canary':'1'", DEF, NULL},
        {"'" P "canary':'t'", DEF, NULL},
        {"'" P "canary':'T'", DEF, NULL},
        {"'" P "canary':'TRUE'", DEF, NULL},
        {"'" P "canary':'True'", DEF, NULL},
        {"'" P "canary':'false'", "off", NULL},
        {"'" P "canary':'0'", "off", NULL},
        {"'" P "canary':'F'", "off", NULL},
        {"'" P "canary':'FALSE'", "off", NULL},
        {"'" P "canary':''", "off", NULL},
        {"'" P "canary':'  '", "off", NULL},
        {"'" P "canary':'yes'", "off",
         "annotation " P "canary: \"yes\" is not true or false; using false"},
        {"'" P "canary':' true'", "off", "annotation " P "canary: \" true\" is not true or false"},
        {"'" P "canary':'tRUE'", "off", "\"tRUE\" is not true or false"},
        {"'other.prefix/canary':'true'", "off", NULL},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_strings(void **state)
{
#define BASIC_BAD "may only hold A-Z a-z 0-9 - . _ ~ / :; ignored"
    static const struct parse_case cases[] = {
        /* canary-by-header: the basic class; spaces skipped for the check, kept inside. */
        {CANARY ",'" P "canary-by-header':'X-Canary'", "on h=X-Canary v= p= c= w=0/100 sticky",
         NULL},
        {CANARY ",'" P "canary-by-header':'  X-Canary '", "on h=X-Canary v= p= c= w=0/100 sticky",
         NULL},
        {CANARY ",'" P "canary-by-header':'X Canary'", "on h=X Canary v= p= c= w=0/100 sticky",
         NULL},
        {CANARY ",'" P "canary-by-header':'aZ09-._~/:'", "on h=aZ09-._~/: v= p= c= w=0/100 sticky",
         NULL},
        {CANARY ",'" P "canary-by-header':'X Canary!'", DEF,
         "annotation " P "canary-by-header: \"X Canary!\" " BASIC_BAD},
        {CANARY ",'" P "canary-by-header':'X-C;x'", DEF, "\"X-C;x\" " BASIC_BAD},
        {CANARY ",'" P "canary-by-header':'X\\tC'", DEF, BASIC_BAD},
        {CANARY ",'" P "canary-by-header':'X\\nC'", DEF, BASIC_BAD},
        {CANARY ",'" P "canary-by-header':'   '", DEF, NULL},
        /* canary-by-header-value: the same class. */
        {CANARY ",'" P "canary-by-header-value':'east-us'", "on h= v=east-us p= c= w=0/100 sticky",
         NULL},
        {CANARY ",'" P "canary-by-header-value':' a b '", "on h= v=a b p= c= w=0/100 sticky", NULL},
        {CANARY ",'" P "canary-by-header-value':'east@us'", DEF,
         "annotation " P "canary-by-header-value: \"east@us\" " BASIC_BAD},
        {CANARY ",'" P "canary-by-header-value':'a=b'", DEF, BASIC_BAD},
        /* canary-by-cookie: the same class. */
        {CANARY ",'" P "canary-by-cookie':'beta_user'", "on h= v= p= c=beta_user w=0/100 sticky",
         NULL},
        {CANARY ",'" P "canary-by-cookie':'ck;x'", DEF,
         "annotation " P "canary-by-cookie: \"ck;x\" " BASIC_BAD},
        {CANARY ",'" P "canary-by-cookie':'a,b'", DEF, BASIC_BAD},
        /* canary-by-header-pattern: the path-regex class, no spaces. */
        {CANARY ",'" P "canary-by-header-pattern':'^v[0-9]+$'",
         "on h= v= p=^v[0-9]+$ c= w=0/100 sticky", NULL},
        {CANARY ",'" P "canary-by-header-pattern':'(a|b){2}*?&=\\\\d.~/:-_'",
         "on h= v= p=(a|b){2}*?&=\\d.~/:-_ c= w=0/100 sticky", NULL},
        {CANARY ",'" P "canary-by-header-pattern':'a b'", DEF,
         "annotation " P "canary-by-header-pattern: \"a b\" may only hold A-Z a-z 0-9 - . _ ~ "
         "/ : ^ $ [ ] ( ) { } * + ? | & = \\; ignored"},
        {CANARY ",'" P "canary-by-header-pattern':' ^a'", DEF, "\" ^a\" may only hold"},
        {CANARY ",'" P "canary-by-header-pattern':'a,b'", DEF, "\"a,b\" may only hold"},
        {CANARY ",'" P "canary-by-header-pattern':'a%'", DEF, "\"a%\" may only hold"},
        {CANARY ",'" P "canary-by-header-pattern':'a#b'", DEF, "\"a#b\" may only hold"},
        /* A long bad value is cut in the report. */
        {CANARY ",'" P "canary-by-cookie':'"
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'",
         DEF, "aaaa...\" " BASIC_BAD},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
#undef BASIC_BAD
}

static void test_weights(void **state)
{
#define W(w, t)     "on h= v= p= c= w=" #w "/" #t " sticky"
#define WEIGHT(v)   CANARY ",'" P "canary-weight':'" v "'"
#define TOTAL(w, t) CANARY ",'" P "canary-weight':'" w "','" P "canary-weight-total':'" t "'"
    static const struct parse_case cases[] = {
        {WEIGHT("10"), W(10, 100), NULL},
        {WEIGHT("+10"), W(10, 100), NULL},
        {WEIGHT("010"), W(10, 100), NULL},
        {WEIGHT("0"), W(0, 100), NULL},
        {WEIGHT("-0"), W(0, 100), NULL},
        {WEIGHT("-5"), W(0, 100), NULL}, /* valid for Atoi; never routes */
        {WEIGHT("100"), W(100, 100), NULL},
        {WEIGHT("150"), W(100, 100), NULL}, /* above the total: always */
        {WEIGHT("9223372036854775807"), W(100, 100), NULL},
        {WEIGHT("10.5"), W(0, 100),
         "annotation " P "canary-weight: \"10.5\" is not an integer; "
         "using 0"},
        {WEIGHT("10%"), W(0, 100), "\"10%\" is not an integer"},
        {WEIGHT(" 10"), W(0, 100), "\" 10\" is not an integer"},
        {WEIGHT("10 "), W(0, 100), "\"10 \" is not an integer"},
        {WEIGHT("1e3"), W(0, 100), "\"1e3\" is not an integer"},
        {WEIGHT("0x10"), W(0, 100), "\"0x10\" is not an integer"},
        {WEIGHT("1_000"), W(0, 100), "\"1_000\" is not an integer"},
        {WEIGHT("+"), W(0, 100), "\"+\" is not an integer"},
        {WEIGHT("--1"), W(0, 100), "\"--1\" is not an integer"},
        {WEIGHT("9223372036854775808"), W(0, 100), "is not an integer"},
        {WEIGHT(""), W(0, 100), NULL},
        /* canary-weight-total: only totals above 100 count. */
        {TOTAL("300", "1000"), W(300, 1000), NULL},
        {TOTAL("1000", "1000"), W(1000, 1000), NULL},
        {TOTAL("1001", "1000"), W(1000, 1000), NULL},
        {TOTAL("0", "1000"), W(0, 1000), NULL},
        {TOTAL("50", "101"), W(50, 101), NULL},
        {TOTAL("50", "100"), W(50, 100), NULL},
        {TOTAL("50", "60"), W(50, 100), NULL},
        {TOTAL("80", "0"), W(80, 100), NULL},
        {TOTAL("80", "-1000"), W(80, 100), NULL},
        {TOTAL("80", "+200"), W(80, 200), NULL},
        {TOTAL("80", "1e3"), W(80, 100),
         "annotation " P "canary-weight-total: \"1e3\" is not an integer; using 100"},
        {TOTAL("80", "200.0"), W(80, 100), "\"200.0\" is not an integer; using 100"},
        /* Beyond 32 bits the share is kept. */
        {TOTAL("5000000000", "10000000000"), W(2147483647, 4294967295), NULL},
        {TOTAL("1", "9223372036854775807"), W(0, 4294967295), NULL},
        {TOTAL("9223372036854775807", "9223372036854775807"), W(4294967295, 4294967295), NULL},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
#undef W
#undef WEIGHT
#undef TOTAL
}

static void test_not_enabled(void **state)
{
#define NOT_ENABLED "set but " P "canary is not \"true\" (configured but not enabled)"
    static const struct parse_case cases[] = {
        {"'" P "canary-weight':'10'", "off", P "canary-weight " NOT_ENABLED},
        {"'" P "canary':'false','" P "canary-by-header':'X'", "off",
         P "canary-by-header " NOT_ENABLED},
        {"'" P "canary-by-header-value':'v'", "off", P "canary-by-header-value " NOT_ENABLED},
        {"'" P "canary-by-header-pattern':'^v'", "off", P "canary-by-header-pattern " NOT_ENABLED},
        {"'" P "canary-by-cookie':'ck'", "off", P "canary-by-cookie " NOT_ENABLED},
        {"'" P "canary':'0','" P "canary-weight':'5','" P "canary-by-cookie':'ck','" P
         "canary-by-header':'X'",
         "off", P "canary-weight, " P "canary-by-header, " P "canary-by-cookie " NOT_ENABLED},
        /* Not the weight total, a zero or negative weight, or values that were bad anyway. */
        {"'" P "canary-weight-total':'1000'", "off", NULL},
        {"'" P "canary-weight':'0'", "off", NULL},
        {"'" P "canary-weight':'-3'", "off", NULL},
        {"'" P "canary-by-header':'   '", "off", NULL},
        {"'" P "canary-weight':'10%'", "off", "\"10%\" is not an integer"},
        /* affinity-canary-behavior is tt_model_affinity_parse's on ordinary Ingresses. */
        {"'" P "affinity-canary-behavior':'sometimes'", "off", NULL},
    };
    struct tt_model_canary c;
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));

    /* A bad canary value and configuration: two reports. */
    parse("'" P "canary':'yes','" P "canary-by-header-pattern':'x'", &c);
    assert_false(c.enabled);
    assert_int_equal(n_reports, 2);
    expect_report("annotation " P "canary: \"yes\" is not true or false; using false");
    expect_report(P "canary-by-header-pattern " NOT_ENABLED);
    parse_done();
#undef NOT_ENABLED
}

static void test_behavior_and_inherited(void **state)
{
    static const struct parse_case cases[] = {
        {CANARY ",'" P "affinity-canary-behavior':'legacy'", "on h= v= p= c= w=0/100 legacy", NULL},
        {CANARY ",'" P "affinity-canary-behavior':' sticky '", DEF, NULL},
        {CANARY ",'" P "affinity-canary-behavior':'Legacy'", DEF,
         "annotation " P "affinity-canary-behavior: \"Legacy\" is not sticky or legacy; using "
         "sticky"},
        {CANARY ",'" P "affinity-canary-behavior':'sometimes'", DEF, "\"sometimes\""},
        /* What a canary Ingress takes from its primary is named once, in one report. */
        {CANARY ",'" P "affinity':'cookie','" P "session-cookie-name':'X','" P
                "proxy-body-size':'1k','" P "affinity-mode':'persistent'",
         DEF,
         "annotations " P "affinity, " P "session-cookie-name, " P "proxy-body-size, " P
         "affinity-mode are not used on a canary Ingress: the primary rule's settings apply"},
        {CANARY ",'" P "session-cookie-path':'/x;'", DEF,
         "annotations " P "session-cookie-path is not used on a canary Ingress"},
        {CANARY ",'" P "canary-weight':'5','" P "use-regex':'true','x/affinity':'cookie'",
         "on h= v= p= c= w=5/100 sticky", NULL},
        {"'" P "affinity':'cookie'", "off", NULL},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- merging ---- */

/* Primary "web" and canary Services; a primary Ingress on a.com. */
static struct tt_k8s_store *base_store(void)
{
    struct tt_k8s_store *s = new_store();
    add_svc(s, "web", 1, 2);
    add_svc(s, "v2", 2, 2);
    add_svc(s, "v3", 3, 1);
    return s;
}

static void test_merge(void **state)
{
    struct tt_k8s_store *s = base_store();
    struct tt_route_table *t;
    const struct tt_route_rule *r;
    char rules[2048];
    (void)state;

    snprintf(rules, sizeof(rules), "%s,%s,%s,%s,%s", rule("a.com", "/", "Prefix", "web"),
             rule("a.com", "/app", "Prefix", "web"), rule("a.com", "/exact", "Exact", "web"),
             rule("a.com", "/impl", "ImplementationSpecific", "web"),
             rule(NULL, "/any", "Prefix", "web"));
    add_ingress(s, "main", "2024-01-01T00:00:00Z", "", rules);
    /* Attaches: same host (any case), path (Prefix normalized) and type; host-less to host-less. */
    snprintf(rules, sizeof(rules), "%s,%s,%s,%s,%s", rule("A.com", "/", "Prefix", "v2"),
             rule("a.com", "/app/", "Prefix", "v2"), rule("a.com", "/exact", "Exact", "v2"),
             rule("a.com", "/impl", "ImplementationSpecific", "v2"),
             rule(NULL, "/any", "Prefix", "v2"));
    add_ingress(s, "good", "2024-01-02T00:00:00Z",
                CANARY ",'" P "canary-weight':'30','" P "canary-by-header':'X-Canary','" P
                       "canary-by-cookie':'beta'",
                rules);
    /* Does not: another type, an Exact path written otherwise, another host, host vs none. */
    snprintf(rules, sizeof(rules), "%s,%s,%s,%s,%s,%s", rule("a.com", "/", "Exact", "v3"),
             rule("a.com", "/app", "Exact", "v3"), rule("a.com", "/exact/", "Exact", "v3"),
             rule("a.com", "/impl", "Prefix", "v3"), rule("b.com", "/", "Prefix", "v3"),
             rule(NULL, "/", "Prefix", "v3"));
    add_ingress(s, "bad", "2024-01-03T00:00:00Z", CANARY ",'" P "canary-weight':'100'", rules);
    t = build(s);

    /* The canaries made no rules: the primary's five are all there is. */
    assert_int_equal(tt_route_table_rule_count(t), 5);
    for (const char *const *p = (const char *const[]){"/", "/app/x", "/exact", "/impl", NULL};
         *p != NULL; p++) {
        r = rule_of(t, "a.com", *p);
        assert_string_equal(r->ingress, "shop/main");
        assert_int_equal(r->n_canaries, 1);
        assert_string_equal(r->canaries[0].ingress, "shop/good");
        assert_string_equal(r->canaries[0].backend->name, "shop/v2:80");
        assert_int_equal(r->canaries[0].backend->n_endpoints, 2);
        assert_int_equal(r->canaries[0].weight, 30);
        assert_int_equal(r->canaries[0].weight_total, 100);
        assert_string_equal(r->canaries[0].header.ptr, "X-Canary");
        assert_int_equal(r->canaries[0].header_value.len, 0);
        assert_int_equal(r->canaries[0].header_pattern.len, 0);
        assert_null(r->canaries[0].header_regex);
        assert_string_equal(r->canaries[0].cookie.ptr, "beta");
        assert_false(r->canaries[0].affinity.enabled);
    }
    r = rule_of(t, "other.com", "/any");
    assert_int_equal(r->n_canaries, 1);
    assert_string_equal(r->canaries[0].ingress, "shop/good");
    /* b.com has no rule of its own: 404, canary or not. */
    assert_null(tt_route_match(t, TT_SLICE_LIT("b.com"), TT_SLICE_LIT("/")).backend);
    assert_null(tt_route_match(t, TT_SLICE_LIT("x.com"), TT_SLICE_LIT("/")).backend);

    assert_int_equal(n_reports, 6);
    expect_report("Ingress shop/bad: spec.rules[0].http.paths[0]: no primary rule for host a.com, "
                  "path / (Exact); the canary is not used");
    expect_report("Ingress shop/bad: spec.rules[1].http.paths[0]: no primary rule for host a.com, "
                  "path /app (Exact)");
    expect_report("spec.rules[2].http.paths[0]: no primary rule for host a.com, path /exact/ "
                  "(Exact)");
    expect_report("spec.rules[3].http.paths[0]: no primary rule for host a.com, path /impl "
                  "(Prefix)");
    expect_report("spec.rules[4].http.paths[0]: no primary rule for host b.com, path / (Prefix)");
    expect_report("spec.rules[5].http.paths[0]: no primary rule without a host for path / "
                  "(Prefix); the canary is not used");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* Canaries alone make nothing: their hosts answer 404 (spec §3.5). */
static void test_no_primary(void **state)
{
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;
    (void)state;

    add_svc(s, "v2", 2, 1);
    add_ingress(s, "c", "2024-01-01T00:00:00Z", CANARY ",'" P "canary-by-header':'X'",
                rule("a.com", "/", "Prefix", "v2"));
    add(s, "{'kind':'Ingress','metadata':{'name':'d','namespace':'shop','annotations':{" CANARY
           "}},'spec':{'ingressClassName':'tether','defaultBackend':{'service':{'name':'v2',"
           "'port':{'number':80}}}}}");
    t = build(s);
    assert_int_equal(tt_route_table_rule_count(t), 0);
    assert_null(tt_route_match(t, TT_SLICE_LIT("a.com"), TT_SLICE_LIT("/")).backend);
    assert_null(tt_route_match(t, TT_SLICE_LIT("b.com"), TT_SLICE_LIT("/")).backend);
    /* Never resolved: no backend at all. */
    assert_int_equal(tt_route_table_backend_count(t), 0);
    assert_int_equal(n_reports, 2);
    expect_report("Ingress shop/c: spec.rules[0].http.paths[0]: no primary rule for host a.com, "
                  "path / (Prefix); the canary is not used");
    expect_report("Ingress shop/d: spec.defaultBackend: there is no primary rule without a host");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* Several canaries on one rule, in creation order (then namespace/name), whatever order the
 * store holds them in, and whether the primary is older or younger than they are. */
static void test_order(void **state)
{
    static const char *const orders[][4] = {
        {"main", "c1", "c2", "c3"},
        {"c3", "c2", "c1", "main"},
        {"c2", "main", "c3", "c1"},
    };
    (void)state;

    for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
        struct tt_k8s_store *s = base_store();
        struct tt_route_table *t;
        const struct tt_route_rule *r;

        add_svc(s, "v4", 4, 1);
        for (int i = 0; i < 4; i++) {
            const char *n = orders[o][i];
            if (strcmp(n, "main") == 0) /* the youngest of all */
                add_ingress(s, "main", "2024-03-01T00:00:00Z", "",
                            rule("a.com", "/", "Prefix", "web"));
            else if (strcmp(n, "c1") == 0)
                add_ingress(s, "c1", "2024-01-01T00:00:00Z", CANARY ",'" P "canary-weight':'10'",
                            rule("a.com", "/", "Prefix", "v2"));
            else if (strcmp(n, "c2") == 0) /* same age as c3: the name decides */
                add_ingress(s, "c2", "2024-02-01T00:00:00Z", CANARY ",'" P "canary-weight':'20'",
                            rule("a.com", "/", "Prefix", "v3"));
            else
                add_ingress(s, "c3", "2024-02-01T00:00:00Z", CANARY ",'" P "canary-weight':'30'",
                            rule("a.com", "/", "Prefix", "v4"));
        }
        t = build(s);
        r = rule_of(t, "a.com", "/");
        assert_string_equal(r->ingress, "shop/main");
        assert_string_equal(r->backend->name, "shop/web:80");
        assert_int_equal(r->n_canaries, 3);
        assert_string_equal(r->canaries[0].ingress, "shop/c1");
        assert_string_equal(r->canaries[0].backend->name, "shop/v2:80");
        assert_int_equal(r->canaries[0].weight, 10);
        assert_string_equal(r->canaries[1].ingress, "shop/c2");
        assert_string_equal(r->canaries[1].backend->name, "shop/v3:80");
        assert_string_equal(r->canaries[2].ingress, "shop/c3");
        assert_string_equal(r->canaries[2].backend->name, "shop/v4:80");
        assert_int_equal(n_reports, 0);
        tt_route_table_unref(t);
        tt_k8s_store_free(s);
    }
}

/* ingress-nginx #4692: another host on the primary Service gets no split; nor does another
 * path. One canary Ingress with rules for two hosts attaches to each. */
static void test_scope(void **state)
{
    struct tt_k8s_store *s = base_store();
    struct tt_route_table *t;
    char rules[1024];
    (void)state;

    snprintf(rules, sizeof(rules), "%s,%s,%s,%s", rule("a.com", "/", "Prefix", "web"),
             rule("a.com", "/api", "Prefix", "web"), rule("b.com", "/", "Prefix", "web"),
             rule("c.com", "/", "Prefix", "web"));
    add_ingress(s, "main", "2024-01-01T00:00:00Z", "", rules);
    snprintf(rules, sizeof(rules), "%s,%s", rule("a.com", "/", "Prefix", "v2"),
             rule("c.com", "/", "Prefix", "v2"));
    add_ingress(s, "canary", "2024-01-02T00:00:00Z", CANARY ",'" P "canary-weight':'50'", rules);
    t = build(s);
    assert_int_equal(rule_of(t, "a.com", "/x")->n_canaries, 1);
    assert_int_equal(rule_of(t, "a.com", "/api")->n_canaries, 0);
    assert_int_equal(rule_of(t, "b.com", "/")->n_canaries, 0);
    assert_int_equal(rule_of(t, "c.com", "/")->n_canaries, 1);
    assert_int_equal(n_reports, 0);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* The canary's backend must differ from the rule's; its Service may be missing (no endpoints:
 * the data plane keeps everything on the primary); two of its paths on one rule attach once;
 * bad paths are reported. */
static void test_backend_cases(void **state)
{
    struct tt_k8s_store *s = base_store();
    struct tt_route_table *t;
    const struct tt_route_rule *r;
    char rules[1024];
    (void)state;

    snprintf(rules, sizeof(rules), "%s,%s,%s", rule("a.com", "/", "Prefix", "web"),
             rule("a.com", "/gone", "Prefix", "web"), rule("a.com", "/two", "Prefix", "web"));
    add_ingress(s, "main", "2024-01-01T00:00:00Z", "", rules);
    snprintf(rules, sizeof(rules), "%s,%s,%s,%s,%s", rule("a.com", "/", "Prefix", "web"),
             rule("a.com", "/gone", "Prefix", "missing"), rule("a.com", "/two", "Prefix", "v2"),
             rule("a.com", "/two/", "Prefix", "v2"), rule("a.com", "/two", "Prefix", "v3"));
    add_ingress(s, "canary", "2024-01-02T00:00:00Z", CANARY, rules);
    add(s,
        "{'kind':'Ingress','metadata':{'name':'badpath','namespace':'shop','annotations':{" CANARY
        "}},'spec':{'ingressClassName':'tether','rules':[{'host':'a.com','http':{'paths':[{"
        "'path':'/','pathType':'Sometimes','backend':{'service':{'name':'v2','port':{"
        "'number':80}}}}]}}]}}");
    t = build(s);
    assert_int_equal(rule_of(t, "a.com", "/")->n_canaries, 0);
    r = rule_of(t, "a.com", "/gone");
    assert_int_equal(r->n_canaries, 1);
    assert_string_equal(r->canaries[0].backend->name, "shop/missing:80");
    assert_int_equal(r->canaries[0].backend->n_endpoints, 0);
    r = rule_of(t, "a.com", "/two");
    assert_int_equal(r->n_canaries, 2);
    assert_string_equal(r->canaries[0].backend->name, "shop/v2:80");
    assert_string_equal(r->canaries[1].backend->name, "shop/v3:80");
    assert_int_equal(n_reports, 3);
    expect_report("Ingress shop/canary: spec.rules[0].http.paths[0]: the canary's backend (service "
                  "web) is the one the primary rule for a.com/ already uses; the canary is not "
                  "used");
    expect_report("Ingress shop/canary: service shop/missing not found");
    expect_report("Ingress shop/badpath: spec.rules[0].http.paths[0]: pathType");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* Class selection applies to canaries; a canary is never also a primary; canary configuration
 * without canary: "true" makes an ordinary Ingress, which loses to an older one. */
static void test_class_and_not_enabled(void **state)
{
    struct tt_k8s_store *s = base_store();
    struct tt_route_table *t;
    const struct tt_route_rule *r;
    (void)state;

    add_ingress(s, "main", "2024-01-01T00:00:00Z", "", rule("a.com", "/", "Prefix", "web"));
    add(s,
        "{'kind':'Ingress','metadata':{'name':'theirs','namespace':'shop','annotations':{" CANARY
        "}},'spec':{'ingressClassName':'nginx','rules':[%s]}}",
        rule("a.com", "/", "Prefix", "v2"));
    add(s,
        "{'kind':'Ingress','metadata':{'name':'legacy-class','namespace':'shop',"
        "'annotations':{" CANARY ",'kubernetes.io/ingress.class':'tether'}},'spec':{'rules':"
        "[%s]}}",
        rule("a.com", "/", "Prefix", "v3"));
    add(s,
        "{'kind':'Ingress','metadata':{'name':'no-class','namespace':'shop','annotations':{" CANARY
        "}},'spec':{'rules':[%s]}}",
        rule("a.com", "/", "Prefix", "v3"));
    add_ingress(s, "plain", "2024-01-05T00:00:00Z",
                "'" P "canary-weight':'100','" P "canary-by-header':'X'",
                rule("a.com", "/", "Prefix", "v2"));
    add_ingress(s, "plain-own", "2024-01-06T00:00:00Z", "'" P "canary-weight':'100'",
                rule("own.com", "/", "Prefix", "v2"));
    add_ingress(s, "canary-own", "2024-01-07T00:00:00Z", CANARY,
                rule("canary.com", "/", "Prefix", "v2"));
    t = build(s);
    r = rule_of(t, "a.com", "/");
    assert_string_equal(r->ingress, "shop/main");
    assert_int_equal(r->n_canaries, 1);
    assert_string_equal(r->canaries[0].ingress, "shop/legacy-class");
    r = rule_of(t, "own.com", "/");
    assert_string_equal(r->ingress, "shop/plain-own");
    assert_int_equal(r->n_canaries, 0);
    assert_null(tt_route_match(t, TT_SLICE_LIT("canary.com"), TT_SLICE_LIT("/")).backend);
    assert_int_equal(tt_route_table_rule_count(t), 2);
    assert_int_equal(count(reports, "configured but not enabled"), 2);
    expect_report("Ingress shop/plain: " P "canary-weight, " P "canary-by-header set but");
    expect_report("Ingress shop/plain-own: " P "canary-weight set but");
    expect_report("Ingress shop/plain: spec.rules[0].http.paths[0]: rule a.com/ (Prefix): "
                  "already declared by shop/main");
    expect_report("Ingress shop/canary-own: spec.rules[0].http.paths[0]: no primary rule for host "
                  "canary.com");
    assert_int_equal(n_reports, 4);
    assert_int_equal(count(reports, "theirs"), 0);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* ---- the header pattern ---- */

static bool pattern_matches(const void *code, const char *subject)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc;

    assert_non_null(md);
    rc = pcre2_match(code, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    assert_true(rc >= 0 || rc == PCRE2_ERROR_NOMATCH);
    return rc >= 0;
}

static void test_pattern(void **state)
{
    struct tt_k8s_store *s = base_store();
    struct tt_route_table *t;
    const struct tt_route_rule *r1, *r2;
    char rules[1024];
    (void)state;

    snprintf(rules, sizeof(rules), "%s,%s,%s,%s,%s", rule("a.com", "/", "Prefix", "web"),
             rule("a.com", "/b", "Prefix", "web"), rule("c.com", "/", "Prefix", "web"),
             rule("d.com", "/", "Prefix", "web"), rule("e.com", "/", "Prefix", "web"));
    add_ingress(s, "main", "2024-01-01T00:00:00Z", "", rules);
    /* One pattern for both paths, compiled once. */
    snprintf(rules, sizeof(rules), "%s,%s", rule("a.com", "/", "Prefix", "v2"),
             rule("a.com", "/b", "Prefix", "v2"));
    add_ingress(s, "good", "2024-01-02T00:00:00Z",
                CANARY ",'" P "canary-by-header':'X-Version','" P
                       "canary-by-header-pattern':'v[2-3]|^beta$'",
                rules);
    add_ingress(s, "broken", "2024-01-02T00:00:00Z",
                CANARY ",'" P "canary-by-header':'X-Version','" P "canary-by-header-pattern':'v2('",
                rule("c.com", "/", "Prefix", "v2"));
    /* Not compiled where it is never consulted: a value wins, or no header is named. */
    add_ingress(s, "valued", "2024-01-02T00:00:00Z",
                CANARY ",'" P "canary-by-header':'X-Version','" P "canary-by-header-value':'v2','" P
                       "canary-by-header-pattern':'v2('",
                rule("d.com", "/", "Prefix", "v2"));
    add_ingress(s, "headless", "2024-01-02T00:00:00Z",
                CANARY ",'" P "canary-by-header-pattern':'v2('",
                rule("e.com", "/", "Prefix", "v2"));
    t = build(s);

    r1 = rule_of(t, "a.com", "/");
    r2 = rule_of(t, "a.com", "/b");
    assert_non_null(r1->canaries[0].header_regex);
    assert_ptr_equal(r1->canaries[0].header_regex, r2->canaries[0].header_regex);
    assert_string_equal(r1->canaries[0].header_pattern.ptr, "v[2-3]|^beta$");
    /* Unanchored and case-sensitive. */
    assert_true(pattern_matches(r1->canaries[0].header_regex, "v2"));
    assert_true(pattern_matches(r1->canaries[0].header_regex, "xv3y"));
    assert_true(pattern_matches(r1->canaries[0].header_regex, "beta"));
    assert_false(pattern_matches(r1->canaries[0].header_regex, "V2"));
    assert_false(pattern_matches(r1->canaries[0].header_regex, "xbeta"));
    assert_false(pattern_matches(r1->canaries[0].header_regex, ""));

    r1 = rule_of(t, "c.com", "/");
    assert_int_equal(r1->n_canaries, 1);
    assert_null(r1->canaries[0].header_regex);
    assert_string_equal(r1->canaries[0].header_pattern.ptr, "v2(");
    assert_string_equal(r1->canaries[0].header.ptr, "X-Version");
    for (const char *const *h = (const char *const[]){"d.com", "e.com", NULL}; *h != NULL; h++) {
        r1 = rule_of(t, *h, "/");
        assert_int_equal(r1->n_canaries, 1);
        assert_null(r1->canaries[0].header_regex);
        assert_string_equal(r1->canaries[0].header_pattern.ptr, "v2(");
    }
    assert_int_equal(n_reports, 1);
    expect_report("Ingress shop/broken: annotation " P "canary-by-header-pattern: \"v2(\" is not a "
                  "valid PCRE pattern (missing closing parenthesis at offset 3); requests "
                  "carrying the header go to the primary");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* ---- canary x affinity (spec §3.6) ---- */

#define STICKY_PRIMARY                                                                             \
    "'" P "affinity':'cookie','" P "affinity-mode':'persistent','" P                               \
    "session-cookie-name':'SID','" P "session-cookie-domain':'a.com','" P                          \
    "session-cookie-samesite':'Lax','" P "session-cookie-max-age':'3600','" P                      \
    "session-cookie-secure':'true','" P "proxy-body-size':'8m'"

static void expect_backend_key(const struct tt_affinity *a, const char *upstream)
{
    char key[TT_AFFINITY_KEY_LEN + 1];
    tt_affinity_make_backend_key(key, tt_slice_cstr(upstream));
    assert_string_equal(tt_affinity_backend_key(a), key);
}

static void test_sticky_and_legacy(void **state)
{
    struct tt_k8s_store *s = base_store();
    struct tt_route_table *t;
    const struct tt_route_rule *r;
    const struct tt_route_affinity *pa, *ca;
    char rules[1024];
    (void)state;

    snprintf(rules, sizeof(rules), "%s,%s,%s", rule("a.com", "/app", "Prefix", "web"),
             rule("b.com", "/", "Prefix", "web"), rule("c.com", "/", "Prefix", "v3"));
    add_ingress(s, "main", "2024-01-01T00:00:00Z", STICKY_PRIMARY, rules);
    add_ingress(s, "plain", "2024-01-01T00:00:00Z", "", rule("p.com", "/", "Prefix", "web"));
    /* Sticky (the default): its own affinity and body size annotations are not used. */
    add_ingress(s, "sticky", "2024-01-02T00:00:00Z",
                CANARY ",'" P "canary-weight':'10','" P "affinity':'cookie','" P
                       "session-cookie-name':'OWN','" P "affinity-mode':'balanced','" P
                       "proxy-body-size':'1k'",
                rule("a.com", "/app", "Prefix", "v2"));
    add_ingress(s, "legacy", "2024-01-02T00:00:00Z",
                CANARY ",'" P "affinity-canary-behavior':'legacy'",
                rule("b.com", "/", "Prefix", "v2"));
    /* The canary Service is also a sticky primary elsewhere (c.com uses v3; here v2 again). */
    add_ingress(s, "primary-v2", "2024-01-01T00:00:00Z", STICKY_PRIMARY,
                rule("v2.com", "/", "Prefix", "v2"));
    /* Not sticky when the primary is not. */
    add_ingress(s, "on-plain", "2024-01-02T00:00:00Z", CANARY, rule("p.com", "/", "Prefix", "v3"));
    t = build(s);

    r = rule_of(t, "a.com", "/app");
    pa = &r->policy.affinity;
    ca = &r->canaries[0].affinity;
    assert_true(pa->enabled);
    assert_int_equal(r->policy.max_body, 8 << 20); /* the primary's */
    assert_true(ca->enabled);
    assert_int_equal(ca->mode, TT_ROUTE_AFFINITY_PERSISTENT);
    assert_string_equal(ca->cookie_name.ptr, "SID");
    assert_string_equal(ca->path.ptr, "/app");
    assert_string_equal(ca->domain.ptr, "a.com");
    assert_int_equal(ca->samesite, TT_ROUTE_SAMESITE_LAX);
    assert_true(ca->secure && ca->has_max_age && !ca->has_expires);
    assert_int_equal(ca->max_age, 3600);
    assert_int_equal(ca->canary_behavior, TT_ROUTE_CANARY_STICKY);
    /* The canary's own state: persistent, over its endpoints, named with its upstream. */
    assert_non_null(ca->state);
    assert_ptr_not_equal(ca->state, pa->state);
    assert_int_equal(tt_affinity_mode(ca->state), TT_AFFINITY_PERSISTENT);
    expect_backend_key(pa->state, "shop-web-80");
    expect_backend_key(ca->state, "shop-v2-80");
    {
        char key[TT_AFFINITY_KEY_LEN + 1];
        tt_affinity_make_persistent_key(key, TT_SLICE_LIT("shop-v2-80"),
                                        TT_SLICE_LIT("10.2.0.2:3000"));
        assert_int_equal(tt_affinity_lookup(ca->state, tt_slice_cstr(key)), 1);
        assert_string_equal(r->canaries[0].backend->endpoints[1].address, "10.2.0.2");
    }
    /* Shared with the rule where v2 is a sticky primary in the same mode. */
    assert_ptr_equal(ca->state, rule_of(t, "v2.com", "/")->policy.affinity.state);

    r = rule_of(t, "b.com", "/");
    assert_true(r->policy.affinity.enabled);
    assert_false(r->canaries[0].affinity.enabled);
    assert_null(r->canaries[0].affinity.state);
    assert_int_equal(r->canaries[0].affinity.canary_behavior, TT_ROUTE_CANARY_LEGACY);
    assert_int_equal(r->canaries[0].affinity.cookie_name.len, 0);

    r = rule_of(t, "p.com", "/");
    assert_false(r->policy.affinity.enabled);
    assert_false(r->canaries[0].affinity.enabled);
    assert_null(r->canaries[0].affinity.state);

    assert_int_equal(n_reports, 1);
    expect_report("Ingress shop/sticky: annotations " P "affinity, " P "session-cookie-name, " P
                  "affinity-mode, " P "proxy-body-size are not used on a canary Ingress");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* Rebuilds share the canary's ring when nothing of it changed, and make a new one when its
 * endpoints did; the old table keeps working on its own. */
static void test_reuse(void **state)
{
    struct tt_k8s_store *s = base_store();
    struct tt_model_reuse *reuse = tt_model_reuse_new();
    struct tt_route_table *t1, *t2, *t3;
    const struct tt_affinity *c1;
    (void)state;

    assert_non_null(reuse);
    add_ingress(s, "main", "2024-01-01T00:00:00Z", "'" P "affinity':'cookie'",
                rule("a.com", "/", "Prefix", "web"));
    add_ingress(s, "canary", "2024-01-02T00:00:00Z", CANARY, rule("a.com", "/", "Prefix", "v2"));
    t1 = tt_model_build(s, NULL, 1, reuse, on_reject, &reports);
    assert_non_null(t1);
    assert_int_equal(tt_model_reuse_count(reuse), 2);
    c1 = rule_of(t1, "a.com", "/")->canaries[0].affinity.state;
    assert_non_null(c1);
    assert_int_equal(tt_affinity_mode(c1), TT_AFFINITY_BALANCED);

    t2 = tt_model_build(s, NULL, 2, reuse, on_reject, &reports);
    assert_non_null(t2);
    assert_ptr_equal(rule_of(t2, "a.com", "/")->canaries[0].affinity.state, c1);
    assert_ptr_equal(rule_of(t2, "a.com", "/")->policy.affinity.state,
                     rule_of(t1, "a.com", "/")->policy.affinity.state);

    add_svc(s, "v2", 2, 3); /* the canary scales */
    t3 = tt_model_build(s, NULL, 3, reuse, on_reject, &reports);
    assert_non_null(t3);
    assert_ptr_not_equal(rule_of(t3, "a.com", "/")->canaries[0].affinity.state, c1);
    assert_ptr_equal(rule_of(t3, "a.com", "/")->policy.affinity.state,
                     rule_of(t1, "a.com", "/")->policy.affinity.state);
    assert_int_equal(rule_of(t3, "a.com", "/")->canaries[0].backend->n_endpoints, 3);
    tt_route_table_unref(t2);
    tt_route_table_unref(t3);
    tt_model_reuse_free(reuse);
    assert_true(tt_affinity_lookup(c1, TT_SLICE_LIT("token")) >= 0);
    tt_route_table_unref(t1);
    assert_int_equal(n_reports, 0);
    tt_k8s_store_free(s);
}

/* ---- spec.defaultBackend on a canary: a catch-all for the rules without a host ---- */

static void test_default_backend(void **state)
{
    struct tt_k8s_store *s = base_store();
    struct tt_route_table *t;
    const struct tt_route_rule *r;
    char rules[1024];
    (void)state;

    snprintf(rules, sizeof(rules), "%s,%s,%s", rule(NULL, "/", "Prefix", "web"),
             rule(NULL, "/api", "Exact", "web"), rule("a.com", "/", "Prefix", "web"));
    add_ingress(s, "main", "2024-01-01T00:00:00Z", "", rules);
    add_ingress(s, "other", "2024-01-02T00:00:00Z", "", rule(NULL, "/v2", "Prefix", "v2"));
    /* Catch-all on v2, plus an explicit path on the "/" rule with v3. */
    add(s,
        "{'kind':'Ingress','metadata':{'name':'catch','namespace':'shop','creationTimestamp':"
        "'2024-01-03T00:00:00Z','annotations':{" CANARY ",'" P "canary-weight':'5'}},'spec':{"
        "'ingressClassName':'tether','defaultBackend':{'service':{'name':'v2','port':{'number':"
        "80}}},'rules':[%s,%s]}}",
        rule(NULL, "/", "Prefix", "v3"), rule(NULL, "/api", "Exact", "v2"));
    t = build(s);

    r = rule_of(t, "x.com", "/");
    assert_int_equal(r->n_canaries, 2);
    assert_string_equal(r->canaries[0].backend->name, "shop/v3:80"); /* its path first */
    assert_string_equal(r->canaries[1].backend->name, "shop/v2:80"); /* then the catch-all */
    assert_int_equal(r->canaries[1].weight, 5);
    r = rule_of(t, "x.com", "/api");
    assert_int_equal(r->n_canaries, 1); /* path and catch-all: once */
    assert_string_equal(r->canaries[0].backend->name, "shop/v2:80");
    assert_int_equal(rule_of(t, "x.com", "/v2")->n_canaries, 0); /* its own backend */
    assert_int_equal(rule_of(t, "a.com", "/")->n_canaries, 0);   /* a host of its own */
    /* Never a default of any kind. */
    assert_null(tt_route_match(t, TT_SLICE_LIT("a.com"), TT_SLICE_LIT("/")).rule->canaries);
    assert_int_equal(n_reports, 0);
    tt_route_table_unref(t);

    /* Nothing to attach to: reported. A bad defaultBackend: reported. */
    add(s,
        "{'kind':'Ingress','metadata':{'name':'main','namespace':'shop','creationTimestamp':"
        "'2024-01-01T00:00:00Z'},'spec':{'ingressClassName':'tether','rules':[%s]}}",
        rule("a.com", "/", "Prefix", "web"));
    add(s,
        "{'kind':'Ingress','metadata':{'name':'other','namespace':'shop','creationTimestamp':"
        "'2024-01-01T00:00:00Z'},'spec':{'ingressClassName':'tether','rules':[%s]}}",
        rule(NULL, "/", "Prefix", "v2"));
    add(s, "{'kind':'Ingress','metadata':{'name':'broken','namespace':'shop','annotations':{" CANARY
           "}},'spec':{'ingressClassName':'tether','defaultBackend':{'service':{'name':'v2','port':"
           "{'name':''}}}}}");
    clear_reports();
    t = build(s);
    /* Its explicit path (v3) still attaches to the other Ingress's "/" (v2); the catch-all's
     * backend is that rule's own. */
    r = rule_of(t, "x.com", "/");
    assert_int_equal(r->n_canaries, 1);
    assert_string_equal(r->canaries[0].backend->name, "shop/v3:80");
    assert_int_equal(n_reports, 3);
    expect_report(
        "Ingress shop/catch: spec.defaultBackend: there is no primary rule without a host "
        "(that does not already use this backend) for it to be a catch-all canary of; "
        "the canary is not used");
    expect_report("Ingress shop/catch: spec.rules[1].http.paths[0]: no primary rule without a host "
                  "for path /api (Exact)");
    expect_report("Ingress shop/broken: spec.defaultBackend.service.port.name: empty\n");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* ---- out of memory ---- */

static bool oom_table_ok(const struct tt_route_table *t, const char *long_path)
{
    struct tt_route_match a = tt_route_match(t, TT_SLICE_LIT("a.com"), TT_SLICE_LIT("/"));
    struct tt_route_match l = tt_route_match(t, TT_SLICE_LIT("a.com"), tt_slice_cstr(long_path));
    struct tt_route_match x = tt_route_match(t, TT_SLICE_LIT("x.com"), TT_SLICE_LIT("/any"));

    return a.rule != NULL && a.rule->n_canaries == 1 && l.rule != NULL && l.rule->n_canaries == 1 &&
           x.rule != NULL && x.rule->n_canaries == 1 && a.rule->canaries[0].header_regex != NULL &&
           a.rule->canaries[0].header_regex == x.rule->canaries[0].header_regex &&
           a.rule->canaries[0].affinity.enabled &&
           strcmp(a.rule->canaries[0].affinity.cookie_name.ptr, "SID") == 0 &&
           a.rule->canaries[0].weight == 20 &&
           tt_affinity_lookup(a.rule->canaries[0].affinity.state, TT_SLICE_LIT("tok")) == 0 &&
           strcmp(a.rule->canaries[0].backend->name, "shop/v2:80") == 0;
}

static int oom_scenario(void)
{
    long start = tt_alloc_outstanding();
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_route_table *t = NULL, *t2 = NULL;
    struct tt_model_reuse *r;
    char long_path[700];
    int rc = OOM_HANDLED;

    if (s == NULL)
        return tt_alloc_outstanding() == start ? OOM_HANDLED : OOM_LEAK;
    memset(long_path, 'p', sizeof(long_path) - 1);
    long_path[0] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    r = tt_model_reuse_new();
    if (try_add(s, "{'kind':'IngressClass','metadata':{'name':'tether'},'spec':{'controller':"
                   "'tether.dev/ingress-controller'}}") != 0 ||
        try_add(s, "{'kind':'Service','metadata':{'name':'web','namespace':'shop'},'spec':{"
                   "'ports':[{'name':'http','port':80,'targetPort':3000}]}}") != 0 ||
        try_add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-1','namespace':'shop',"
                   "'labels':{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
                   "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':"
                   "['10.0.0.1']},{'addresses':['10.0.0.2']}]}") != 0 ||
        try_add(s, "{'kind':'Service','metadata':{'name':'v2','namespace':'shop'},'spec':{"
                   "'ports':[{'name':'http','port':80,'targetPort':3000}]}}") != 0 ||
        try_add(s, "{'kind':'EndpointSlice','metadata':{'name':'v2-1','namespace':'shop',"
                   "'labels':{'kubernetes.io/service-name':'v2'}},'addressType':'IPv4',"
                   "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':"
                   "['10.0.1.1']}]}") != 0 ||
        try_add(s,
                "{'kind':'Ingress','metadata':{'name':'main','namespace':'shop',"
                "'creationTimestamp':'2024-01-02T00:00:00Z','annotations':{'" P
                "affinity':'cookie','" P "session-cookie-name':'SID'}},'spec':{"
                "'ingressClassName':'tether','rules':[{'host':'a.com','http':{'paths':[{'path':"
                "'/','pathType':'Prefix','backend':{'service':{'name':'web','port':{'number':"
                "80}}}},{'path':'%s','pathType':'Prefix','backend':{'service':{'name':'web',"
                "'port':{'number':80}}}}]}},{'http':{'paths':[{'path':'/any','pathType':"
                "'Prefix','backend':{'service':{'name':'web','port':{'number':80}}}}]}}]}}",
                long_path) != 0 ||
        try_add(s,
                "{'kind':'Ingress','metadata':{'name':'canary','namespace':'shop',"
                "'creationTimestamp':'2024-01-01T00:00:00Z','annotations':{" CANARY ",'" P
                "canary-weight':'20','" P "canary-by-header':'X-V','" P
                "canary-by-header-pattern':'^v[0-9]+$'}},'spec':{'ingressClassName':'tether',"
                "'defaultBackend':{'service':{'name':'v2','port':{'number':80}}},"
                "'rules':[{'host':'a.com','http':{'paths':[{'path':'/','pathType':'Prefix',"
                "'backend':{'service':{'name':'v2','port':{'number':80}}}},{'path':'%s/',"
                "'pathType':'Prefix','backend':{'service':{'name':'v2','port':{'number':"
                "80}}}}]}}]}}",
                long_path) != 0)
        goto out;
    /* Two builds through one reuse, as in test_affinity; both must be right. */
    if (r == NULL || (t = tt_model_build(s, NULL, 1, r, NULL, NULL)) == NULL)
        goto out;
    if (!oom_table_ok(t, long_path)) {
        rc = OOM_WRONG;
        goto out;
    }
    if ((t2 = tt_model_build(s, NULL, 2, r, NULL, NULL)) == NULL)
        goto out;
    rc = oom_table_ok(t2, long_path) ? OOM_DONE : OOM_WRONG;
out:
    tt_route_table_unref(t);
    tt_route_table_unref(t2);
    tt_model_reuse_free(r);
    tt_k8s_store_free(s);
    if (rc != OOM_WRONG && tt_alloc_outstanding() != start)
        return OOM_LEAK;
    return rc;
}

static void test_out_of_memory(void **state)
{
    (void)state;
    int handled = tt_test_oom_sweep(NULL, 4000);

    assert_true(handled > 50);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_canary_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_behavior_and_inherited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_primary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_class_and_not_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sticky_and_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_backend, setup, teardown),
        cmocka_unit_test(test_out_of_memory),
    };

    if (argc == 2 && strcmp(argv[1], "--oom-scenario") == 0)
        return tt_test_oom_exit(oom_scenario());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
