/* test/unit/model/test_affinity.c - the session-affinity annotations -> route policies:
 * every annotation's default, valid and invalid values (each bad value reported exactly once
 * and treated as absent), the cookie Path default from the matched path, per host+path scope
 * (two Ingresses on one Service with different cookie paths keep their own policies), the
 * ring and key map built from real Service/EndpointSlice objects routing the spec's vectors
 * (test/unit/fixtures/affinity-vectors.json) to the right endpoint index through the table,
 * node ids from the raw address text, the ready set, leaks, and every out-of-memory point of
 * a build with affinity (the test re-runs itself with TT_ALLOC_FAIL_AT=N). */
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "balance/affinity.h"
#include "base/alloc.h"
#include "model/annotations.h"
#include "model/build.h"
#include "unit/balance/vectors.h"

#define P "nginx.ingress.kubernetes.io/"

/* Service shop/web (http:80 -> 3000) with endpoints 10.0.0.1 and 10.0.0.2. */
static void add_web(struct tt_k8s_store *s)
{
    add(s, "{'kind':'Service','metadata':{'name':'web','namespace':'shop'},'spec':{'ports':["
           "{'name':'http','port':80,'targetPort':3000}]}}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-1','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':3000}],"
           "'endpoints':[{'addresses':['10.0.0.1']},{'addresses':['10.0.0.2']}]}");
}

static const char *pth(const char *path, const char *type, const char *svc, const char *port)
{
    static char bufs[8][256];
    static int i;
    char *b = bufs[i++ % 8];
    if (path != NULL)
        snprintf(b, 256,
                 "{'path':'%s','pathType':'%s','backend':{'service':{'name':'%s','port':%s}}}",
                 path, type, svc, port);
    else
        snprintf(b, 256, "{'pathType':'%s','backend':{'service':{'name':'%s','port':%s}}}", type,
                 svc, port);
    return b;
}

static const struct tt_route_affinity *aff(const struct tt_route_table *t, const char *host,
                                           const char *path)
{
    struct tt_route_match m = tt_route_match(t, tt_slice_cstr(host), tt_slice_cstr(path));
    if (m.policy == NULL)
        fail_msg("%s%s: no match", host, path);
    return &m.policy->affinity;
}

static const struct tt_route_backend *backend_of(const struct tt_route_table *t, const char *host,
                                                 const char *path)
{
    struct tt_route_match m = tt_route_match(t, tt_slice_cstr(host), tt_slice_cstr(path));
    assert_non_null(m.backend);
    return m.backend;
}

/* One line for a parsed affinity, so table rows can say what they expect. */
static const char *describe(const struct tt_route_affinity *a)
{
    static char out[512];
    static const char *const ss[] = {"-", "None", "Lax", "Strict"};
    char ex[32] = "-", ma[32] = "-";

    if (!a->enabled) {
        snprintf(out, sizeof(out), "off%s%s",
                 a->canary_behavior == TT_ROUTE_CANARY_LEGACY ? " legacy" : "",
                 a->cookie_name.len != 0 || a->path.len != 0 || a->domain.len != 0 ||
                         a->samesite != 0 || a->conditional_samesite_none || a->secure ||
                         a->change_on_failure || a->has_expires || a->has_max_age ||
                         a->expires != 0 || a->max_age != 0 || a->mode != 0
                     ? " NOT-ZERO"
                     : "");
        return out;
    }
    if (a->has_expires)
        snprintf(ex, sizeof(ex), "%lld", (long long)a->expires);
    if (a->has_max_age)
        snprintf(ma, sizeof(ma), "%lld", (long long)a->max_age);
    snprintf(out, sizeof(out),
             "%s name=%.*s path=%.*s domain=%.*s samesite=%s csn=%d secure=%d cof=%d expires=%s "
             "max-age=%s%s",
             a->mode == TT_ROUTE_AFFINITY_PERSISTENT ? "persistent" : "balanced",
             (int)a->cookie_name.len, a->cookie_name.ptr, (int)a->path.len,
             a->path.ptr != NULL ? a->path.ptr : "", (int)a->domain.len,
             a->domain.ptr != NULL ? a->domain.ptr : "", ss[a->samesite],
             a->conditional_samesite_none, a->secure, a->change_on_failure, ex, ma,
             a->canary_behavior == TT_ROUTE_CANARY_LEGACY ? " legacy" : "");
    return out;
}

#define DEFAULTS                                                                                   \
    "balanced name=INGRESSCOOKIE path= domain= samesite=- csn=0 secure=0 cof=0 expires=- "         \
    "max-age=-"

/* ---- the annotations one by one (tt_model_affinity_parse) ---- */

struct ann_case {
    const char *anns;   /* JSON members, ' for " */
    const char *want;   /* describe() of the result */
    const char *report; /* the one reason expected (after "Ingress shop/i: "), or NULL */
};

static void run_cases(const struct ann_case *cases, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++) {
        struct tt_k8s_object *o =
            ingress_obj("{'kind':'Ingress','metadata':{'name':'i','namespace':'shop',"
                        "'annotations':{%s}},'spec':{}}",
                        cases[i].anns);
        struct tt_route_affinity a;
        char line[1024];

        clear_reports();
        memset(&a, 0xa5, sizeof(a));
        tt_model_affinity_parse(o, prefix, on_reject, &reports, &a);
        if (strcmp(describe(&a), cases[i].want) != 0)
            fail_msg("case %zu {%s}:\n  got  %s\n  want %s", i, cases[i].anns, describe(&a),
                     cases[i].want);
        assert_null(a.state);
        snprintf(line, sizeof(line), "Ingress shop/i: %s\n",
                 cases[i].report != NULL ? cases[i].report : "");
        if (cases[i].report == NULL ? n_reports != 0 : n_reports != 1 || strcmp(reports, line) != 0)
            fail_msg("case %zu {%s}: reports:\n%s  wanted %s", i, cases[i].anns, reports,
                     cases[i].report != NULL ? line : "none");
        tt_k8s_object_free(o);
    }
}

static void test_affinity_and_mode(void **state)
{
    (void)state;
    static const struct ann_case cases[] = {
        {"", "off", NULL},
        {"'" P "affinity':'cookie'", DEFAULTS, NULL},
        {"'" P "affinity':'  cookie\\t'", DEFAULTS, NULL},
        {"'" P "affinity':''", "off", NULL},
        {"'" P "affinity':'   '", "off", NULL},
        {"'" P "affinity':'Cookie'", "off",
         "annotation " P "affinity: \"Cookie\" is not cookie; ignored (no affinity)"},
        {"'" P "affinity':'ip'", "off",
         "annotation " P "affinity: \"ip\" is not cookie; ignored (no affinity)"},
        {"'" P "affinity':'cookie cookie'", "off",
         "annotation " P "affinity: \"cookie cookie\" is not cookie; ignored (no affinity)"},
        /* Another prefix's keys are foreign. */
        {"'tether.dev/affinity':'cookie'", "off", NULL},
        {"'" P "affinity':'cookie','" P "affinity-mode':'balanced'", DEFAULTS, NULL},
        {"'" P "affinity':'cookie','" P "affinity-mode':' persistent '",
         "persistent name=INGRESSCOOKIE path= domain= samesite=- csn=0 secure=0 cof=0 "
         "expires=- max-age=-",
         NULL},
        {"'" P "affinity':'cookie','" P "affinity-mode':'Persistent'", DEFAULTS,
         "annotation " P "affinity-mode: \"Persistent\" is not balanced or persistent; using "
         "balanced"},
        {"'" P "affinity':'cookie','" P "affinity-mode':'sticky'", DEFAULTS,
         "annotation " P "affinity-mode: \"sticky\" is not balanced or persistent; using "
         "balanced"},
        /* Mode and canary behaviour are read (and checked) whatever affinity says. */
        {"'" P "affinity-mode':'persistent'", "off", NULL},
        {"'" P "affinity-mode':'random'", "off",
         "annotation " P "affinity-mode: \"random\" is not balanced or persistent; using "
         "balanced"},
        {"'" P "affinity-canary-behavior':'legacy'", "off legacy", NULL},
        {"'" P "affinity-canary-behavior':'sticky'", "off", NULL},
        {"'" P "affinity-canary-behavior':'Legacy'", "off",
         "annotation " P "affinity-canary-behavior: \"Legacy\" is not sticky or legacy; using "
         "sticky"},
        {"'" P "affinity':'cookie','" P "affinity-canary-behavior':'legacy'", DEFAULTS " legacy",
         NULL},
        /* session-cookie-* keys are not read without affinity: cookie, so never reported. */
        {"'" P "session-cookie-samesite':'Loose','" P "session-cookie-name':'a;b','" P
         "session-cookie-expires':'x'",
         "off", NULL},
        /* session-cookie-hash was removed in 0.24: ignored, whatever it holds. */
        {"'" P "affinity':'cookie','" P "session-cookie-hash':'sha1'", DEFAULTS, NULL},
        {"'" P "affinity':'cookie','" P "session-cookie-hash':'$$bogus;'", DEFAULTS, NULL},
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]), "nginx.ingress.kubernetes.io");
}

#define ON   "'" P "affinity':'cookie',"
#define WITH "balanced name="

static void test_cookie_strings(void **state)
{
    (void)state;
    static const struct ann_case cases[] = {
        /* session-cookie-name: A-Z a-z 0-9 - . _ ~ / :, spaces skipped in the check. */
        {ON "'" P "session-cookie-name':'route'",
         WITH "route path= domain= samesite=- csn=0 secure=0 cof=0 expires=- max-age=-", NULL},
        {ON "'" P "session-cookie-name':'Az09-._~/:'",
         WITH "Az09-._~/: path= domain= samesite=- csn=0 secure=0 cof=0 expires=- max-age=-", NULL},
        {ON "'" P "session-cookie-name':'  SERVERID '",
         WITH "SERVERID path= domain= samesite=- csn=0 secure=0 cof=0 expires=- max-age=-", NULL},
        {ON "'" P "session-cookie-name':'a b'",
         WITH "a b path= domain= samesite=- csn=0 secure=0 cof=0 expires=- max-age=-", NULL},
        {ON "'" P "session-cookie-name':''", DEFAULTS, NULL},
        {ON "'" P "session-cookie-name':'a=b'", DEFAULTS,
         "annotation " P "session-cookie-name: \"a=b\" may only hold A-Z a-z 0-9 - . _ ~ / :; "
         "using INGRESSCOOKIE"},
        {ON "'" P "session-cookie-name':'a;b'", DEFAULTS,
         "annotation " P "session-cookie-name: \"a;b\" may only hold A-Z a-z 0-9 - . _ ~ / :; "
         "using INGRESSCOOKIE"},
        {ON "'" P "session-cookie-name':'a,b'", DEFAULTS,
         "annotation " P "session-cookie-name: \"a,b\" may only hold A-Z a-z 0-9 - . _ ~ / :; "
         "using INGRESSCOOKIE"},
        {ON "'" P "session-cookie-name':'\\tname'", DEFAULTS,
         "annotation " P "session-cookie-name: \"\tname\" may only hold A-Z a-z 0-9 - . _ ~ / "
         ":; using INGRESSCOOKIE"},
        {ON "'" P "session-cookie-name':'caf\\u00e9'", DEFAULTS,
         "annotation " P "session-cookie-name: \"caf\xc3\xa9\" may only hold A-Z a-z 0-9 - . _ "
         "~ / :; using INGRESSCOOKIE"},
        /* session-cookie-path: the same plus , ? & =. */
        {ON "'" P "session-cookie-path':'/app'",
         WITH "INGRESSCOOKIE path=/app domain= samesite=- csn=0 secure=0 cof=0 expires=- "
              "max-age=-",
         NULL},
        {ON "'" P "session-cookie-path':' /a?b=c&d,e:f '",
         WITH "INGRESSCOOKIE path=/a?b=c&d,e:f domain= samesite=- csn=0 secure=0 cof=0 "
              "expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-path':'/a;b'", DEFAULTS,
         "annotation " P "session-cookie-path: \"/a;b\" may only hold A-Z a-z 0-9 - . _ ~ / : "
         ", ? & =; using the Ingress path"},
        {ON "'" P "session-cookie-path':'/(.*)'", DEFAULTS,
         "annotation " P "session-cookie-path: \"/(.*)\" may only hold A-Z a-z 0-9 - . _ ~ / : "
         ", ? & =; using the Ingress path"},
        {ON "'" P "session-cookie-path':'/a%20b'", DEFAULTS,
         "annotation " P "session-cookie-path: \"/a%20b\" may only hold A-Z a-z 0-9 - . _ ~ / : "
         ", ? & =; using the Ingress path"},
        /* session-cookie-domain: as the name. */
        {ON "'" P "session-cookie-domain':'.example.com'",
         WITH "INGRESSCOOKIE path= domain=.example.com samesite=- csn=0 secure=0 cof=0 "
              "expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-domain':'example.com;Secure'", DEFAULTS,
         "annotation " P "session-cookie-domain: \"example.com;Secure\" may only hold A-Z a-z "
         "0-9 - . _ ~ / :; ignored (no Domain)"},
        {ON "'" P "session-cookie-domain':'a,b'", DEFAULTS,
         "annotation " P "session-cookie-domain: \"a,b\" may only hold A-Z a-z 0-9 - . _ ~ / :; "
         "ignored (no Domain)"},
        /* A long bad value is cut in the report. */
        {ON "'" P "session-cookie-domain':'"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;'",
         DEFAULTS,
         "annotation " P "session-cookie-domain: "
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" may only hold "
         "A-Z a-z 0-9 - . _ ~ / :; ignored (no Domain)"},
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]), "nginx.ingress.kubernetes.io");
}

static void test_samesite_and_flags(void **state)
{
    (void)state;
    static const struct ann_case cases[] = {
        {ON "'" P "session-cookie-samesite':'None'",
         WITH "INGRESSCOOKIE path= domain= samesite=None csn=0 secure=0 cof=0 expires=- "
              "max-age=-",
         NULL},
        {ON "'" P "session-cookie-samesite':'Lax'",
         WITH "INGRESSCOOKIE path= domain= samesite=Lax csn=0 secure=0 cof=0 expires=- "
              "max-age=-",
         NULL},
        {ON "'" P "session-cookie-samesite':'Strict'",
         WITH "INGRESSCOOKIE path= domain= samesite=Strict csn=0 secure=0 cof=0 expires=- "
              "max-age=-",
         NULL},
        /* Any case passes ingress-nginx's validator; we emit the canonical spelling. */
        {ON "'" P "session-cookie-samesite':' lax '",
         WITH "INGRESSCOOKIE path= domain= samesite=Lax csn=0 secure=0 cof=0 expires=- "
              "max-age=-",
         NULL},
        {ON "'" P "session-cookie-samesite':'NONE'",
         WITH "INGRESSCOOKIE path= domain= samesite=None csn=0 secure=0 cof=0 expires=- "
              "max-age=-",
         NULL},
        {ON "'" P "session-cookie-samesite':'sTrIcT'",
         WITH "INGRESSCOOKIE path= domain= samesite=Strict csn=0 secure=0 cof=0 expires=- "
              "max-age=-",
         NULL},
        {ON "'" P "session-cookie-samesite':'Loose'", DEFAULTS,
         "annotation " P "session-cookie-samesite: \"Loose\" is not None, Lax or Strict; "
         "ignored"},
        {ON "'" P "session-cookie-samesite':'no'", DEFAULTS,
         "annotation " P "session-cookie-samesite: \"no\" is not None, Lax or Strict; ignored"},
        /* Booleans: Go's strconv.ParseBool on the raw value. */
        {ON "'" P "session-cookie-secure':'true'",
         WITH "INGRESSCOOKIE path= domain= samesite=- csn=0 secure=1 cof=0 expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-secure':'1'",
         WITH "INGRESSCOOKIE path= domain= samesite=- csn=0 secure=1 cof=0 expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-secure':'t'",
         WITH "INGRESSCOOKIE path= domain= samesite=- csn=0 secure=1 cof=0 expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-secure':'T'",
         WITH "INGRESSCOOKIE path= domain= samesite=- csn=0 secure=1 cof=0 expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-secure':'TRUE'",
         WITH "INGRESSCOOKIE path= domain= samesite=- csn=0 secure=1 cof=0 expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-secure':'True'",
         WITH "INGRESSCOOKIE path= domain= samesite=- csn=0 secure=1 cof=0 expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-secure':'false'", DEFAULTS, NULL},
        {ON "'" P "session-cookie-secure':'0'", DEFAULTS, NULL},
        {ON "'" P "session-cookie-secure':'f'", DEFAULTS, NULL},
        {ON "'" P "session-cookie-secure':'F'", DEFAULTS, NULL},
        {ON "'" P "session-cookie-secure':'FALSE'", DEFAULTS, NULL},
        {ON "'" P "session-cookie-secure':'False'", DEFAULTS, NULL},
        {ON "'" P "session-cookie-secure':'yes'", DEFAULTS,
         "annotation " P "session-cookie-secure: \"yes\" is not true or false; using false"},
        {ON "'" P "session-cookie-secure':' true'", DEFAULTS,
         "annotation " P "session-cookie-secure: \" true\" is not true or false; using false"},
        {ON "'" P "session-cookie-secure':'tRUE'", DEFAULTS,
         "annotation " P "session-cookie-secure: \"tRUE\" is not true or false; using false"},
        {ON "'" P "session-cookie-conditional-samesite-none':'true','" P
            "session-cookie-samesite':'None'",
         WITH "INGRESSCOOKIE path= domain= samesite=None csn=1 secure=0 cof=0 expires=- "
              "max-age=-",
         NULL},
        {ON "'" P "session-cookie-conditional-samesite-none':'on'", DEFAULTS,
         "annotation " P "session-cookie-conditional-samesite-none: \"on\" is not true or "
         "false; using false"},
        {ON "'" P "session-cookie-change-on-failure':'true'",
         WITH "INGRESSCOOKIE path= domain= samesite=- csn=0 secure=0 cof=1 expires=- max-age=-",
         NULL},
        {ON "'" P "session-cookie-change-on-failure':'False'", DEFAULTS, NULL},
        {ON "'" P "session-cookie-change-on-failure':'2'", DEFAULTS,
         "annotation " P "session-cookie-change-on-failure: \"2\" is not true or false; using "
         "false"},
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]), "nginx.ingress.kubernetes.io");
}

static void test_expires_max_age(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        const char *got; /* describe()'s number, NULL: invalid */
    } values[] = {
        {"3600", "3600"},
        {"0", "0"},
        {"-1", "-1"},
        {" 60 ", "60"},
        {"007", "7"},
        {"172800", "172800"},
        {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"},
        {"0abc", NULL}, /* passes ingress-nginx's loose regex, then breaks in Lua */
        {"x12", NULL},
        {"1.5", NULL},
        {"1e3", NULL},
        {"+5", NULL},
        {"-", NULL},
        {"1 0", NULL},
        {"9223372036854775808", NULL},
        {"-9223372036854775809", NULL},
        {"99999999999999999999999", NULL},
    };
    static const char *const names[] = {"session-cookie-expires", "session-cookie-max-age"};

    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            char anns[256], want[256], report[256];
            struct ann_case c = {anns, want, NULL};
            snprintf(anns, sizeof(anns), ON "'" P "%s':'%s'", names[k], values[i].value);
            if (values[i].got != NULL) {
                snprintf(want, sizeof(want),
                         WITH "INGRESSCOOKIE path= domain= samesite=- csn=0 secure=0 cof=0 "
                              "expires=%s max-age=%s",
                         k == 0 ? values[i].got : "-", k == 1 ? values[i].got : "-");
            } else {
                snprintf(want, sizeof(want), "%s", DEFAULTS);
                snprintf(report, sizeof(report),
                         "annotation " P "%s: \"%s\" is not a whole number of seconds; ignored",
                         names[k], values[i].value);
                c.report = report;
            }
            run_cases(&c, 1, "nginx.ingress.kubernetes.io");
        }
    }
}

static void test_all_at_once_and_prefix(void **state)
{
    (void)state;
    static const struct ann_case cases[] = {
        {"'tether.dev/affinity':'cookie','tether.dev/affinity-mode':'persistent',"
         "'tether.dev/session-cookie-name':'SID','tether.dev/session-cookie-path':'/p',"
         "'tether.dev/session-cookie-domain':'example.org',"
         "'tether.dev/session-cookie-samesite':'Strict',"
         "'tether.dev/session-cookie-conditional-samesite-none':'1',"
         "'tether.dev/session-cookie-secure':'true',"
         "'tether.dev/session-cookie-change-on-failure':'t',"
         "'tether.dev/session-cookie-expires':'172800','tether.dev/session-cookie-max-age':'-5',"
         "'tether.dev/affinity-canary-behavior':'legacy','" P "session-cookie-name':'foreign'",
         "persistent name=SID path=/p domain=example.org samesite=Strict csn=1 secure=1 cof=1 "
         "expires=172800 max-age=-5 legacy",
         NULL},
        {"'tether.dev/affinity':'cookie','tether.dev/session-cookie-samesite':'Loose'", DEFAULTS,
         "annotation tether.dev/session-cookie-samesite: \"Loose\" is not None, Lax or Strict; "
         "ignored"},
    };
    run_cases(cases, sizeof(cases) / sizeof(cases[0]), "tether.dev");
}

/* ---- through tt_model_build ---- */

/* Every bad value of one Ingress is reported once, however many paths and hosts it has, and
 * each is treated as absent. */
static void test_reported_once_per_ingress(void **state)
{
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;
    char rules[1024];
    static const char *const bad[] = {
        "annotation " P "affinity-mode: \"fast\" is not balanced or persistent; using balanced",
        "annotation " P "session-cookie-name: \"a;b\" may only hold",
        "annotation " P "session-cookie-path: \"/x y;\" may only hold",
        "annotation " P "session-cookie-domain: \"d=\" may only hold",
        "annotation " P "session-cookie-samesite: \"Loose\" is not None, Lax or Strict; ignored",
        "annotation " P "session-cookie-conditional-samesite-none: \"yes\" is not true or false",
        "annotation " P "session-cookie-secure: \"on\" is not true or false",
        "annotation " P "session-cookie-change-on-failure: \"y\" is not true or false",
        "annotation " P "session-cookie-expires: \"1d\" is not a whole number of seconds",
        "annotation " P "session-cookie-max-age: \"x12\" is not a whole number of seconds",
        "annotation " P "affinity-canary-behavior: \"STICKY\" is not sticky or legacy",
    };
    (void)state;

    add_web(s);
    snprintf(rules, sizeof(rules),
             "{'host':'a.example.com','http':{'paths':[%s,%s]}},"
             "{'host':'b.example.com','http':{'paths':[%s]}}",
             pth("/one", "Prefix", "web", "{'number':80}"),
             pth("/two", "Exact", "web", "{'name':'http'}"),
             pth("/", "Prefix", "web", "{'number':80}"));
    add_ingress(s, "i", "2024-01-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "affinity-mode':'fast','" P
                "session-cookie-name':'a;b','" P "session-cookie-path':'/x y;','" P
                "session-cookie-domain':'d=','" P "session-cookie-samesite':'Loose','" P
                "session-cookie-conditional-samesite-none':'yes','" P
                "session-cookie-secure':'on','" P "session-cookie-change-on-failure':'y','" P
                "session-cookie-expires':'1d','" P "session-cookie-max-age':'x12','" P
                "affinity-canary-behavior':'STICKY'",
                rules);
    t = tt_model_build(s, NULL, 1, NULL, on_reject, &reports);
    assert_non_null(t);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (count(reports, bad[i]) != 1)
            fail_msg("\"%s\" reported %d times in:\n%s", bad[i], count(reports, bad[i]), reports);
    assert_int_equal(n_reports, (int)(sizeof(bad) / sizeof(bad[0])));
    assert_int_equal(count(reports, "Ingress shop/i: annotation "), n_reports);
    /* Everything fell back: the defaults, with each rule's own path. */
    assert_string_equal(describe(aff(t, "a.example.com", "/one/x")),
                        WITH "INGRESSCOOKIE path=/one domain= samesite=- csn=0 secure=0 cof=0 "
                             "expires=- max-age=-");
    assert_string_equal(describe(aff(t, "a.example.com", "/two")),
                        WITH "INGRESSCOOKIE path=/two domain= samesite=- csn=0 secure=0 cof=0 "
                             "expires=- max-age=-");
    assert_string_equal(describe(aff(t, "b.example.com", "/z")),
                        WITH "INGRESSCOOKIE path=/ domain= samesite=- csn=0 secure=0 cof=0 "
                             "expires=- max-age=-");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

static void test_path_default(void **state)
{
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;
    char rules[2048];
    (void)state;

    add_web(s);
    snprintf(rules, sizeof(rules), "{'host':'a','http':{'paths':[%s,%s,%s,%s,%s]}}",
             pth("/app", "Prefix", "web", "{'number':80}"),
             pth("/x/y", "Exact", "web", "{'number':80}"),
             pth("/impl", "ImplementationSpecific", "web", "{'number':80}"),
             pth("/trailing/", "Prefix", "web", "{'number':80}"),
             pth("/semi;colon", "Prefix", "web", "{'number':80}"));
    add_ingress(s, "i", "2024-01-01T00:00:00Z", "'" P "affinity':'cookie'", rules);
    /* An ImplementationSpecific path may be left out: "/" (ingress-nginx's root location). */
    snprintf(rules, sizeof(rules), "{'host':'b','http':{'paths':[%s]}}",
             pth(NULL, "ImplementationSpecific", "web", "{'number':80}"));
    add_ingress(s, "j", "2024-01-01T00:00:00Z", "'" P "affinity':'cookie'", rules);
    /* session-cookie-path replaces every path's default. */
    snprintf(rules, sizeof(rules), "{'host':'c','http':{'paths':[%s,%s]}}",
             pth("/one", "Prefix", "web", "{'number':80}"),
             pth("/two", "Prefix", "web", "{'number':80}"));
    add_ingress(s, "k", "2024-01-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "session-cookie-path':'/'", rules);
    /* use-regex without session-cookie-path: ingress-nginx's warning, the path as written. */
    snprintf(rules, sizeof(rules), "{'host':'d','http':{'paths':[%s,%s]}}",
             pth("/api/(.*)", "ImplementationSpecific", "web", "{'number':80}"),
             pth("/v[0-9]+", "ImplementationSpecific", "web", "{'number':80}"));
    add_ingress(s, "regex", "2024-01-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "use-regex':'true'", rules);
    snprintf(rules, sizeof(rules), "{'host':'e','http':{'paths':[%s]}}",
             pth("/api/(.*)", "ImplementationSpecific", "web", "{'number':80}"));
    add_ingress(s, "regex-ok", "2024-01-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "use-regex':'true','" P
                "session-cookie-path':'/api'",
                rules);
    snprintf(rules, sizeof(rules), "{'host':'f','http':{'paths':[%s]}}",
             pth("/api", "ImplementationSpecific", "web", "{'number':80}"));
    add_ingress(s, "no-regex", "2024-01-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "use-regex':'false'", rules);
    /* A defaultBackend never issues cookies (no location registered, spec §2.6). */
    add(s,
        "{'kind':'Ingress','metadata':{'name':'def','namespace':'shop','creationTimestamp':"
        "'2024-01-01T00:00:00Z','annotations':{'" P "affinity':'cookie','" P
        "affinity-canary-behavior':'legacy'}},'spec':{'ingressClassName':'tether',"
        "'defaultBackend':{'service':{'name':'web','port':{'number':80}}},"
        "'rules':[{'host':'g','http':{'paths':[%s]}}]}}",
        pth("/g", "Prefix", "web", "{'number':80}"));
    t = tt_model_build(s, NULL, 1, NULL, on_reject, &reports);
    assert_non_null(t);

    assert_string_equal(aff(t, "a", "/app/1")->path.ptr, "/app");
    assert_string_equal(aff(t, "a", "/x/y")->path.ptr, "/x/y");
    assert_string_equal(aff(t, "a", "/impl/z")->path.ptr, "/impl");
    assert_string_equal(aff(t, "a", "/trailing")->path.ptr, "/trailing/");
    assert_string_equal(aff(t, "a", "/semi;colon")->path.ptr, "/");
    assert_int_equal(count(reports, "Ingress shop/i: path \"/semi;colon\" cannot be a cookie "
                                    "Path (it holds ';'); its affinity cookie gets Path=/ (set " P
                                    "session-cookie-path)\n"),
                     1);
    assert_string_equal(aff(t, "b", "/anything")->path.ptr, "/");
    assert_string_equal(aff(t, "c", "/one")->path.ptr, "/");
    assert_string_equal(aff(t, "c", "/two")->path.ptr, "/");
    assert_string_equal(aff(t, "d", "/api/(.*)")->path.ptr, "/api/(.*)");
    assert_string_equal(aff(t, "d", "/v[0-9]+")->path.ptr, "/v[0-9]+");
    assert_int_equal(count(reports, "Ingress shop/regex: annotation " P
                                    "session-cookie-path should be set when " P
                                    "use-regex is true; the cookie Path is each path as "
                                    "written\n"),
                     1);
    assert_string_equal(aff(t, "e", "/api/(.*)")->path.ptr, "/api");
    assert_string_equal(aff(t, "f", "/api")->path.ptr, "/api");
    assert_true(aff(t, "g", "/g")->enabled);
    assert_string_equal(describe(aff(t, "g", "/other")), "off legacy");
    assert_string_equal(describe(aff(t, "nowhere", "/")), "off legacy"); /* table default */
    assert_int_equal(n_reports, 2);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* ingress-nginx #14042: two Ingresses on one Service with different cookie paths. There the
 * last one's settings win for the whole upstream; here each rule keeps its own. */
static void test_scope_per_rule(void **state)
{
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;
    const struct tt_route_affinity *a, *b, *c, *d;
    (void)state;

    add_web(s);
    add_ingress(s, "app", "2024-01-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "session-cookie-path':'/app','" P
                "session-cookie-name':'APP'",
                "{'host':'shop.example.com','http':{'paths':[{'path':'/app','pathType':'Prefix',"
                "'backend':{'service':{'name':'web','port':{'number':80}}}}]}}");
    add_ingress(s, "api", "2024-02-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "session-cookie-path':'/api','" P
                "session-cookie-max-age':'60'",
                "{'host':'shop.example.com','http':{'paths':[{'path':'/api','pathType':'Prefix',"
                "'backend':{'service':{'name':'web','port':{'number':80}}}}]}}");
    add_ingress(s, "store", "2024-03-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "affinity-mode':'persistent'",
                "{'host':'shop.example.com','http':{'paths':[{'path':'/store','pathType':"
                "'Prefix','backend':{'service':{'name':'web','port':{'number':80}}}}]}}");
    add_ingress(s, "plain", "2024-04-01T00:00:00Z", "",
                "{'host':'shop.example.com','http':{'paths':[{'path':'/plain','pathType':"
                "'Prefix','backend':{'service':{'name':'web','port':{'number':80}}}}]}}");
    t = tt_model_build(s, NULL, 1, NULL, on_reject, &reports);
    assert_non_null(t);
    assert_int_equal(n_reports, 0);
    a = aff(t, "shop.example.com", "/app/x");
    b = aff(t, "shop.example.com", "/api/x");
    c = aff(t, "shop.example.com", "/store");
    d = aff(t, "shop.example.com", "/plain");
    assert_string_equal(describe(a), WITH "APP path=/app domain= samesite=- csn=0 secure=0 "
                                          "cof=0 expires=- max-age=-");
    assert_string_equal(describe(b), WITH "INGRESSCOOKIE path=/api domain= samesite=- csn=0 "
                                          "secure=0 cof=0 expires=- max-age=60");
    assert_string_equal(describe(c), "persistent name=INGRESSCOOKIE path=/store domain= "
                                     "samesite=- csn=0 secure=0 cof=0 expires=- max-age=-");
    assert_string_equal(describe(d), "off");
    /* One backend: the two balanced rules share its ring, the persistent one has its map. */
    assert_ptr_equal(backend_of(t, "shop.example.com", "/app"),
                     backend_of(t, "shop.example.com", "/store"));
    assert_ptr_equal(a->state, b->state);
    assert_true(a->state != c->state);
    assert_int_equal(tt_affinity_mode(a->state), TT_AFFINITY_BALANCED);
    assert_int_equal(tt_affinity_mode(c->state), TT_AFFINITY_PERSISTENT);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

/* ---- the spec's vectors through real objects ---- */

/* default/deno-hello-service port 8000 -> 8080: backend default-deno-hello-service-8000, the
 * name the vectors were made with. Two Ingresses: host "b" balanced, host "p" persistent. */
static void add_deno(struct tt_k8s_store *s)
{
    add(s, "{'kind':'Service','metadata':{'name':'deno-hello-service','namespace':'default'},"
           "'spec':{'ports':[{'name':'http','port':8000,'targetPort':8080}]}}");
    add(s, "{'kind':'Ingress','metadata':{'name':'bal','namespace':'default','annotations':{'" P
           "affinity':'cookie'}},'spec':{'ingressClassName':'tether','rules':[{'host':'b','http':"
           "{'paths':[{'path':'/','pathType':'Prefix','backend':{'service':{'name':"
           "'deno-hello-service','port':{'number':8000}}}}]}}]}}");
    add(s, "{'kind':'Ingress','metadata':{'name':'per','namespace':'default','annotations':{'" P
           "affinity':'cookie','" P "affinity-mode':'persistent'}},'spec':{'ingressClassName':"
           "'tether','rules':[{'host':'p','http':{'paths':[{'path':'/','pathType':'Prefix',"
           "'backend':{'service':{'name':'deno-hello-service','port':{'number':8000}}}}]}}]}}");
}

/* The node id the spec gives an endpoint of the table (IPv6 bracketed, §1.2). */
static const char *node_of(const struct tt_route_endpoint *ep)
{
    static char id[TT_AFFINITY_NODE_ID_SIZE];
    assert_true(tt_affinity_node_id(id, sizeof(id), tt_slice_cstr(ep->address), ep->port) > 0);
    return id;
}

static void check_vectors(const struct tt_route_table *t, const cJSON *root, const char *set)
{
    const struct tt_route_backend *be = backend_of(t, "b", "/");
    const struct tt_affinity *bal = aff(t, "b", "/")->state;
    const struct tt_affinity *per = aff(t, "p", "/")->state;
    const cJSON *tokens = vec_get(root, "tokens");
    const cJSON *e;
    int checked = 0;

    assert_ptr_equal(be, backend_of(t, "p", "/"));
    assert_non_null(bal);
    assert_non_null(per);
    assert_string_equal(tt_affinity_backend_key(bal),
                        vec_str(vec_get(root, "backend_keys"), "default-deno-hello-service-8000"));
    assert_string_equal(tt_affinity_backend_key(per), tt_affinity_backend_key(bal));
    /* Balanced: every token lands on the endpoint ingress-nginx picked, by index. */
    cJSON_ArrayForEach(e, vec_get(vec_get(root, "balanced"), set))
    {
        const char *token = vec_str(tokens, e->string);
        int idx;
        if (token[0] == '\0')
            continue; /* an empty value is no cookie (§4.3) */
        idx = tt_affinity_lookup(bal, tt_slice_cstr(token));
        assert_true(idx >= 0 && (uint32_t)idx < be->n_endpoints);
        if (strcmp(node_of(&be->endpoints[idx]), vec_str(e, "node")) != 0)
            fail_msg("%s %s: endpoint %d is %s, wanted %s", set, e->string, idx,
                     node_of(&be->endpoints[idx]), vec_str(e, "node"));
        checked++;
    }
    assert_true(checked >= 29);
    /* Persistent: every node's key finds that node's index, also through choose(). */
    checked = 0;
    cJSON_ArrayForEach(e, vec_get(vec_get(root, "persistent_keys"), set))
    {
        struct tt_affinity_choice ch;
        int idx = tt_affinity_lookup(per, tt_slice_cstr(e->valuestring));
        assert_true(idx >= 0 && (uint32_t)idx < be->n_endpoints);
        assert_string_equal(node_of(&be->endpoints[idx]), e->string);
        assert_int_equal(
            tt_affinity_choose(per, tt_slice_cstr(e->valuestring), false, NULL, 0, NULL, NULL, &ch),
            idx);
        assert_false(ch.issue);
        checked++;
    }
    assert_int_equal(checked, (int)be->n_endpoints);
}

static void test_vectors_through_table(void **state)
{
    cJSON *root;
    struct tt_k8s_store *s;
    struct tt_route_table *t;
    (void)state;

    root = vec_load();
    s = new_store();
    add_deno(s);
    /* E1 = 10.0.0.{1,2,3}:8080, spread over two slices in shuffled order, with a repeat and
     * with endpoints that are not ready (which ingress-nginx leaves out of the ring). */
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'deno-a','namespace':'default','labels':"
           "{'kubernetes.io/service-name':'deno-hello-service'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':8080}],'endpoints':["
           "{'addresses':['10.0.0.3']},"
           "{'addresses':['10.0.0.9'],'conditions':{'ready':false}},"
           "{'addresses':['10.0.0.8'],'conditions':{'ready':false,'serving':true,"
           "'terminating':true}},"
           "{'addresses':['10.0.0.1'],'conditions':{'ready':true}}]}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'deno-b','namespace':'default','labels':"
           "{'kubernetes.io/service-name':'deno-hello-service'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':8080}],'endpoints':["
           "{'addresses':['10.0.0.1']},{'addresses':['10.0.0.2']}]}");
    t = tt_model_build(s, NULL, 1, NULL, on_reject, &reports);
    assert_non_null(t);
    assert_int_equal(backend_of(t, "b", "/")->n_endpoints, 3);
    check_vectors(t, root, "E1");
    tt_route_table_unref(t);

    /* E4: the same backend on IPv6, node ids bracketed. */
    tt_k8s_store_delete(s, TT_K8S_ENDPOINT_SLICE, "default/deno-b");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'deno-a','namespace':'default','labels':"
           "{'kubernetes.io/service-name':'deno-hello-service'}},'addressType':'IPv6',"
           "'ports':[{'name':'http','port':8080}],'endpoints':["
           "{'addresses':['fd00:10:244::2']},{'addresses':['fd00:10:244::3']},"
           "{'addresses':['fd00:10:244::1']}]}");
    t = tt_model_build(s, NULL, 2, NULL, on_reject, &reports);
    assert_non_null(t);
    check_vectors(t, root, "E4");
    tt_route_table_unref(t);
    assert_int_equal(n_reports, 0);
    tt_k8s_store_free(s);
    cJSON_Delete(root);
}

/* Node ids hash the EndpointSlice's address text as written, not its canonical form. */
static void test_node_ids_from_raw_address(void **state)
{
    cJSON *root;
    struct tt_k8s_store *s;
    struct tt_route_table *t;
    const struct tt_affinity *per;
    const struct tt_route_backend *be;
    char key[TT_AFFINITY_KEY_LEN + 1];
    int idx;
    (void)state;

    root = vec_load();
    s = new_store();
    add_deno(s);
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'deno-a','namespace':'default','labels':"
           "{'kubernetes.io/service-name':'deno-hello-service'}},'addressType':'IPv6',"
           "'ports':[{'name':'http','port':8080}],'endpoints':["
           "{'addresses':['fd00:10:244:0::1']},{'addresses':['fd00:10:244::2']}]}");
    t = tt_model_build(s, NULL, 1, NULL, on_reject, &reports);
    assert_non_null(t);
    be = backend_of(t, "p", "/");
    per = aff(t, "p", "/")->state;
    tt_affinity_make_persistent_key(key, TT_SLICE_LIT("default-deno-hello-service-8000"),
                                    TT_SLICE_LIT("[fd00:10:244:0::1]:8080"));
    idx = tt_affinity_lookup(per, tt_slice_cstr(key));
    assert_true(idx >= 0);
    assert_string_equal(be->endpoints[idx].address, "fd00:10:244:0::1");
    assert_string_equal(be->endpoints[idx].text, "[fd00:10:244::1]:8080"); /* for logs */
    /* The canonical spelling's key is another node's, which does not exist here. */
    assert_int_equal(tt_affinity_lookup(
                         per, tt_slice_cstr(vec_str(vec_get(vec_get(root, "persistent_keys"), "E4"),
                                                    "[fd00:10:244::1]:8080"))),
                     TT_ENOENT);
    assert_true(tt_affinity_lookup(
                    per, tt_slice_cstr(vec_str(vec_get(vec_get(root, "persistent_keys"), "E4"),
                                               "[fd00:10:244::2]:8080"))) >= 0);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
    cJSON_Delete(root);
}

/* The ring holds the ready endpoints, every address of each, and nothing else. */
static void test_ready_set(void **state)
{
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;
    const struct tt_route_backend *be;
    const struct tt_affinity *per;
    char key[TT_AFFINITY_KEY_LEN + 1];
    static const struct {
        const char *node;
        bool in;
    } nodes[] = {
        {"10.0.0.1:8080", true},  {"10.0.0.4:8080", true},  {"10.0.0.5:8080", true},
        {"10.0.0.6:8080", true},  {"10.0.0.9:8080", false}, {"10.0.0.8:8080", false},
        {"10.0.0.1:9999", false},
    };
    (void)state;

    add_deno(s);
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'deno-a','namespace':'default','labels':"
           "{'kubernetes.io/service-name':'deno-hello-service'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':8080}],'endpoints':["
           "{'addresses':['10.0.0.1']},"
           "{'addresses':['10.0.0.4','10.0.0.5']},"
           "{'addresses':['10.0.0.6'],'conditions':{'serving':false}},"
           "{'addresses':['10.0.0.9'],'conditions':{'ready':false}},"
           "{'addresses':['10.0.0.8'],'conditions':{'ready':false,'serving':true,"
           "'terminating':true}}]}");
    t = tt_model_build(s, NULL, 1, NULL, on_reject, &reports);
    assert_non_null(t);
    be = backend_of(t, "p", "/");
    per = aff(t, "p", "/")->state;
    assert_int_equal(be->n_endpoints, 4);
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        int idx;
        tt_affinity_make_persistent_key(key, TT_SLICE_LIT("default-deno-hello-service-8000"),
                                        tt_slice_cstr(nodes[i].node));
        idx = tt_affinity_lookup(per, tt_slice_cstr(key));
        if ((idx >= 0) != nodes[i].in)
            fail_msg("%s: lookup %d", nodes[i].node, idx);
        if (idx >= 0)
            assert_string_equal(be->endpoints[idx].text, nodes[i].node);
    }
    tt_route_table_unref(t);

    /* No endpoints at all: still a (empty) state, so the proxy needs no special case; every
     * lookup says no peer, and the backend answers 503 anyway. */
    tt_k8s_store_delete(s, TT_K8S_ENDPOINT_SLICE, "default/deno-a");
    t = tt_model_build(s, NULL, 2, NULL, on_reject, &reports);
    assert_non_null(t);
    assert_int_equal(backend_of(t, "b", "/")->n_endpoints, 0);
    assert_non_null(aff(t, "b", "/")->state);
    assert_int_equal(tt_affinity_lookup(aff(t, "b", "/")->state, TT_SLICE_LIT("T")), TT_ENOENT);
    tt_route_table_unref(t);
    /* A missing Service: the same, plus the usual report. */
    tt_k8s_store_delete(s, TT_K8S_SERVICE, "default/deno-hello-service");
    t = tt_model_build(s, NULL, 3, NULL, on_reject, &reports);
    assert_non_null(t);
    assert_non_null(aff(t, "p", "/")->state);
    tt_route_table_unref(t);
    assert_int_equal(n_reports, 2);
    tt_k8s_store_free(s);
}

/* ---- out of memory: every allocation of store setup and build fails once, in a child ---- */

/* Rebuilds share the ring or key map of every sticky backend whose upstream name, mode and
 * endpoints (in order) did not change, and make new ones for the rest; the states stay valid
 * while any table uses them, whatever the reuse does next. */
static void test_reuse_across_builds(void **state)
{
    struct tt_k8s_store *s = new_store();
    struct tt_model_reuse *r = tt_model_reuse_new();
    struct tt_route_table *t1, *t2, *t3, *t4;
    char rules[1024];
    (void)state;

    assert_non_null(r);
    add_web(s);
    add(s, "{'kind':'Service','metadata':{'name':'api','namespace':'shop'},'spec':{'ports':["
           "{'name':'http','port':80,'targetPort':3000}]}}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'api-1','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'api'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':['10.0.1.1']}]}");
    snprintf(rules, sizeof(rules), "{'host':'a','http':{'paths':[%s,%s]}}",
             pth("/web", "Prefix", "web", "{'number':80}"),
             pth("/api", "Prefix", "api", "{'number':80}"));
    add_ingress(s, "i", "2024-01-01T00:00:00Z", "'" P "affinity':'cookie'", rules);
    t1 = tt_model_build(s, NULL, 1, r, on_reject, &reports);
    assert_non_null(t1);
    assert_int_equal(tt_model_reuse_count(r), 2);

    /* Nothing changed: both states are the first build's. */
    t2 = tt_model_build(s, NULL, 2, r, on_reject, &reports);
    assert_non_null(t2);
    assert_ptr_equal(aff(t2, "a", "/web")->state, aff(t1, "a", "/web")->state);
    assert_ptr_equal(aff(t2, "a", "/api")->state, aff(t1, "a", "/api")->state);

    /* api scales: its ring is new and maps over three nodes; web's is still shared. */
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'api-1','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'api'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':['10.0.1.1']},"
           "{'addresses':['10.0.1.2']},{'addresses':['10.0.1.3']}]}");
    t3 = tt_model_build(s, NULL, 3, r, on_reject, &reports);
    assert_non_null(t3);
    assert_ptr_equal(aff(t3, "a", "/web")->state, aff(t1, "a", "/web")->state);
    assert_ptr_not_equal(aff(t3, "a", "/api")->state, aff(t2, "a", "/api")->state);
    {
        bool seen[3] = {false, false, false};
        char tok[16];
        for (int i = 0; i < 200; i++) {
            int idx;
            snprintf(tok, sizeof(tok), "t%d", i);
            idx = tt_affinity_lookup(aff(t3, "a", "/api")->state, tt_slice_cstr(tok));
            assert_true(idx >= 0 && idx < 3);
            seen[idx] = true;
        }
        assert_true(seen[0] && seen[1] && seen[2]);
    }
    /* The old tables keep working on their own states after the reuse moved on. */
    tt_route_table_unref(t2);
    assert_int_equal(tt_affinity_lookup(aff(t1, "a", "/api")->state, TT_SLICE_LIT("t1")), 0);

    /* Persistent mode is another state of the same upstream. */
    add_ingress(s, "i", "2024-01-01T00:00:00Z",
                "'" P "affinity':'cookie','" P "affinity-mode':'persistent'", rules);
    t4 = tt_model_build(s, NULL, 4, r, on_reject, &reports);
    assert_non_null(t4);
    assert_int_equal(tt_affinity_mode(aff(t4, "a", "/web")->state), TT_AFFINITY_PERSISTENT);
    assert_int_equal(tt_model_reuse_count(r), 2);
    tt_route_table_unref(t1);
    tt_route_table_unref(t3);
    tt_model_reuse_free(r); /* before the last table: the states outlive the reuse */
    assert_int_equal(tt_affinity_mode(aff(t4, "a", "/api")->state), TT_AFFINITY_PERSISTENT);
    tt_route_table_unref(t4);
    assert_int_equal(n_reports, 0);
    tt_k8s_store_free(s);
}

static int oom_scenario(void)
{
    long start = tt_alloc_outstanding();
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_route_table *t = NULL, *t2 = NULL;
    struct tt_model_reuse *r;
    int rc = OOM_HANDLED;

    if (s == NULL)
        return tt_alloc_outstanding() == start ? OOM_HANDLED : OOM_LEAK;
    r = tt_model_reuse_new();
    if (try_add(s, "{'kind':'IngressClass','metadata':{'name':'tether'},'spec':{'controller':"
                   "'tether.dev/ingress-controller'}}") != 0 ||
        try_add(s, "{'kind':'Service','metadata':{'name':'web','namespace':'shop'},'spec':{"
                   "'ports':[{'name':'http','port':80,'targetPort':3000}]}}") != 0 ||
        try_add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-1','namespace':'shop',"
                   "'labels':{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
                   "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':"
                   "['10.0.0.1']},{'addresses':['10.0.0.2','10.0.0.3']}]}") != 0 ||
        try_add(s, "{'kind':'Ingress','metadata':{'name':'a','namespace':'shop','annotations':"
                   "{'" P "affinity':'cookie','" P "session-cookie-name':'A','" P
                   "session-cookie-domain':'example.com'}},'spec':{'ingressClassName':'tether',"
                   "'defaultBackend':{'service':{'name':'web','port':{'number':80}}},"
                   "'rules':[{'host':'a','http':{'paths':[{'path':'/x','pathType':'Prefix',"
                   "'backend':{'service':{'name':'web','port':{'number':80}}}},{'path':'/y',"
                   "'pathType':'Exact','backend':{'service':{'name':'web','port':"
                   "{'name':'http'}}}}]}}]}}") != 0 ||
        try_add(s, "{'kind':'Ingress','metadata':{'name':'b','namespace':'shop','annotations':"
                   "{'" P "affinity':'cookie','" P "affinity-mode':'persistent'}},'spec':{"
                   "'ingressClassName':'tether','rules':[{'host':'b','http':{'paths':[{"
                   "'path':'/','pathType':'Prefix','backend':{'service':{'name':'web','port':"
                   "{'number':80}}}}]}}]}}") != 0)
        goto out;
    /* Two builds through one reuse: the second shares what the first made, or, when the
     * first could not record it, makes its own. */
    if (r == NULL || (t = tt_model_build(s, NULL, 1, r, NULL, NULL)) == NULL ||
        (t2 = tt_model_build(s, NULL, 2, r, NULL, NULL)) == NULL)
        goto out;
    tt_route_table_unref(t);
    t = t2;
    t2 = NULL;
    {
        struct tt_route_match x = tt_route_match(t, TT_SLICE_LIT("a"), TT_SLICE_LIT("/x"));
        struct tt_route_match y = tt_route_match(t, TT_SLICE_LIT("a"), TT_SLICE_LIT("/y"));
        struct tt_route_match b = tt_route_match(t, TT_SLICE_LIT("b"), TT_SLICE_LIT("/"));
        if (x.backend == NULL || y.backend == NULL || b.backend == NULL ||
            !x.policy->affinity.enabled || x.backend->n_endpoints != 3 ||
            strcmp(x.policy->affinity.cookie_name.ptr, "A") != 0 ||
            strcmp(x.policy->affinity.domain.ptr, "example.com") != 0 ||
            strcmp(y.policy->affinity.path.ptr, "/y") != 0 ||
            tt_affinity_mode(b.policy->affinity.state) != TT_AFFINITY_PERSISTENT ||
            tt_affinity_lookup(x.policy->affinity.state, TT_SLICE_LIT("tok")) < 0 ||
            tt_affinity_lookup(y.policy->affinity.state, TT_SLICE_LIT("tok")) < 0)
            rc = OOM_WRONG;
        else
            rc = OOM_DONE;
    }
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
    int handled = tt_test_oom_sweep(NULL, 3000);

    assert_true(handled > 20);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_affinity_and_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookie_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_samesite_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expires_max_age, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_at_once_and_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reported_once_per_ingress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_per_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vectors_through_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_ids_from_raw_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse_across_builds, setup, teardown),
        cmocka_unit_test(test_out_of_memory),
    };

    if (argc == 2 && strcmp(argv[1], "--oom-scenario") == 0)
        return tt_test_oom_exit(oom_scenario());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
