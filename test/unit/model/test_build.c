/* test/unit/model/test_build.c - store -> route table: class selection, backend resolution
 * (port number/name, named targetPort, several slices, readiness, terminating fallback),
 * missing Service/port reporting, skipped paths, conflicts, defaultBackend, proxy-body-size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/leakcheck.h"
#include "unit/model/fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "model/build.h"

static char ignores[4096];

/* The shared setup, and no ignores yet. */
static int setup_build(void **state)
{
    ignores[0] = '\0';
    return setup(state);
}

static void on_ignore(void *ud, const char *kind, const char *object, const char *reason)
{
    size_t n = strlen(ignores);
    (void)ud;
    snprintf(ignores + n, sizeof(ignores) - n, "%s %s: %s\n", kind, object, reason);
}

static void add_class(struct tt_k8s_store *s, const char *name, const char *controller,
                      bool is_default)
{
    add(s,
        "{'kind':'IngressClass','metadata':{'name':'%s','annotations':"
        "{'ingressclass.kubernetes.io/is-default-class':'%s'}},'spec':{'controller':'%s'}}",
        name, is_default ? "true" : "false", controller);
}

/* A Service with ports http:80->web and metrics:9090, and one slice for it. */
static void add_web(struct tt_k8s_store *s)
{
    add(s, "{'kind':'Service','metadata':{'name':'web','namespace':'shop'},'spec':{'ports':["
           "{'name':'http','port':80,'targetPort':'web'},"
           "{'name':'metrics','port':9090,'targetPort':9100}]}}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-1','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':3000},{'name':'metrics','port':9100}],"
           "'endpoints':[{'addresses':['10.0.0.1']},{'addresses':['10.0.0.2'],"
           "'conditions':{'ready':true}}]}");
}

/* An Ingress in namespace shop with one rule for |host| whose paths are |paths| (JSON). */
static void add_host_ingress(struct tt_k8s_store *s, const char *name, const char *ts,
                             const char *annotations, const char *host, const char *paths)
{
    add(s,
        "{'kind':'Ingress','metadata':{'name':'%s','namespace':'shop',"
        "'creationTimestamp':'%s','annotations':{%s}},"
        "'spec':{'ingressClassName':'tether','rules':[{'host':'%s','http':{'paths':[%s]}}]}}",
        name, ts, annotations, host, paths);
}

static const char *pth(const char *path, const char *type, const char *svc, const char *port)
{
    static char bufs[8][256];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 256, "{'path':'%s','pathType':'%s','backend':{'service':{'name':'%s','port':%s}}}",
             path, type, svc, port);
    return b;
}

static struct tt_route_table *build(const struct tt_k8s_store *s, const struct tt_model_config *cfg)
{
    struct tt_route_table *t = tt_model_build(s, cfg, 7, NULL, on_reject, &reports);
    assert_non_null(t);
    assert_int_equal(tt_route_table_generation(t), 7);
    return t;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "backend-name=ep1,ep2" (endpoints sorted), "404" when nothing matched. */
static const char *route(const struct tt_route_table *t, const char *host, const char *path)
{
    static char out[1024];
    const char *eps[64];
    struct tt_route_match m = tt_route_match(t, tt_slice_cstr(host), tt_slice_cstr(path));
    size_t n;

    if (m.backend == NULL)
        return "404";
    n = m.backend->n_endpoints;
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        eps[i] = m.backend->endpoints[i].text;
    qsort(eps, n, sizeof(eps[0]), cmp_str);
    snprintf(out, sizeof(out), "%s=", m.backend->name);
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "," : "", eps[i]);
    return out;
}

static uint64_t max_body(const struct tt_route_table *t, const char *host, const char *path)
{
    struct tt_route_match m = tt_route_match(t, tt_slice_cstr(host), tt_slice_cstr(path));
    assert_non_null(m.policy);
    return m.policy->max_body;
}

/* ---- class selection ---- */

static void test_class_selection(void **state)
{
    (void)state;
    static const struct {
        const char *class_name; /* NULL: absent */
        const char *annotation; /* NULL: absent */
        bool without_class;
        bool ours_default;  /* our IngressClass "tether" is the default */
        bool other_default; /* the "nginx" class of another controller is the default */
        const char *cfg_class;
        bool ours;
    } cases[] = {
        {"tether", NULL, false, false, false, NULL, true},
        {"tether-alt", NULL, false, false, false, NULL, true}, /* any class of our controller */
        {"nginx", NULL, false, false, false, NULL, false},
        {"missing", NULL, true, true, false, NULL, false},
        {NULL, "tether", false, false, false, NULL, true},
        {NULL, "nginx", true, true, false, NULL, false},
        {NULL, NULL, false, false, false, NULL, false},
        {NULL, NULL, true, false, false, NULL, true},
        {NULL, NULL, false, true, false, NULL, true},
        {NULL, NULL, false, false, true, NULL, false},
        {"nginx", "tether", false, false, false, NULL, true},
        {NULL, "nginx", false, false, false, "nginx", true},
        {NULL, "tether", false, false, false, "nginx", false},
        {"", "", true, false, false, NULL, true}, /* empty values count as absent */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tt_k8s_store *s = tt_k8s_store_new();
        struct tt_model_config cfg;
        struct tt_route_table *t;
        char spec_class[64] = "", ann[96] = "";
        const char *why = "unset";

        tt_model_config_init(&cfg);
        cfg.watch_without_class = cases[i].without_class;
        cfg.ingress_class = cases[i].cfg_class;
        cfg.on_ignore = on_ignore;
        ignores[0] = '\0';
        add_class(s, "tether", "tether.dev/ingress-controller", cases[i].ours_default);
        add_class(s, "tether-alt", "tether.dev/ingress-controller", false);
        add_class(s, "nginx", "k8s.io/ingress-nginx", cases[i].other_default);
        add_web(s);
        if (cases[i].class_name != NULL)
            snprintf(spec_class, sizeof(spec_class), "'ingressClassName':'%s',",
                     cases[i].class_name);
        if (cases[i].annotation != NULL)
            snprintf(ann, sizeof(ann), "'kubernetes.io/ingress.class':'%s'", cases[i].annotation);
        add(s,
            "{'kind':'Ingress','metadata':{'name':'i','namespace':'shop','annotations':{%s}},"
            "'spec':{%s'rules':[{'http':{'paths':[%s]}}]}}",
            ann, spec_class, pth("/", "Prefix", "web", "{'number':80}"));
        t = build(s, &cfg);
        if ((tt_route_table_rule_count(t) == 1) != cases[i].ours)
            fail_msg("case %zu: rules=%zu, wanted ours=%d", i, tt_route_table_rule_count(t),
                     cases[i].ours);
        assert_int_equal(
            tt_model_ingress_is_ours(s, &cfg, tt_k8s_store_get(s, TT_K8S_INGRESS, "shop/i"), &why),
            cases[i].ours);
        /* Not ours: ignored silently (no report), but with a reason for a debug line. */
        assert_int_equal(strstr(ignores, "Ingress shop/i: ") != NULL, !cases[i].ours);
        if (!cases[i].ours)
            assert_string_not_equal(why, "unset");
        assert_int_equal(n_reports, 0);
        tt_route_table_unref(t);
        tt_k8s_store_free(s);
    }
}

/* ---- resolution ---- */

static void test_resolve_number_and_name(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;

    add_web(s);
    add_host_ingress(s, "i", "2024-01-01T00:00:00Z", "", "shop.example.com",
                     "{'path':'/num','pathType':'Prefix','backend':{'service':{'name':'web','port':"
                     "{'number':80}}}},"
                     "{'path':'/name','pathType':'Exact','backend':{'service':{'name':'web','port':"
                     "{'name':'http'}}}},"
                     "{'path':'/metrics','pathType':'Prefix','backend':{'service':{'name':'web',"
                     "'port':{'number':9090}}}},"
                     "{'pathType':'ImplementationSpecific','backend':{'service':{'name':'web',"
                     "'port':{'name':'metrics'}}}}");
    t = build(s, NULL);
    /* Port 80 has the named targetPort "web": the slice's port "http" (3000) is what counts. */
    assert_string_equal(route(t, "shop.example.com", "/num/x"),
                        "shop/web:80=10.0.0.1:3000,10.0.0.2:3000");
    assert_string_equal(route(t, "SHOP.example.com:8080", "/name"),
                        "shop/web:http=10.0.0.1:3000,10.0.0.2:3000");
    assert_string_equal(route(t, "shop.example.com", "/name/x"),
                        "shop/web:metrics=10.0.0.1:9100,10.0.0.2:9100");
    assert_string_equal(route(t, "shop.example.com", "/metrics"),
                        "shop/web:9090=10.0.0.1:9100,10.0.0.2:9100");
    assert_string_equal(route(t, "other.example.com", "/num"), "404");
    assert_int_equal(tt_route_table_backend_count(t), 4);
    assert_int_equal(tt_route_table_rule_count(t), 4);
    assert_int_equal(n_reports, 0);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

static void test_multiple_slices(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;

    add_web(s);
    /* A second slice (one endpoint also in web-1: deduplicated), an IPv6 one, an FQDN one
     * (skipped), a slice without the http port (skipped), one of another namespace and one
     * of another Service. */
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-2','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':3000}],"
           "'endpoints':[{'addresses':['10.0.0.3']},{'addresses':['10.0.0.2']}]}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-v6','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'web'}},'addressType':'IPv6',"
           "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':['fd00::1']}]}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-fqdn','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'web'}},'addressType':'FQDN',"
           "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':['pod.example']}]}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-udp','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':3000,'protocol':'UDP'}],"
           "'endpoints':[{'addresses':['10.0.0.9']}]}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'web-x','namespace':'other','labels':"
           "{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':['10.9.9.9']}]}");
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'webx-1','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'webx'}},'addressType':'IPv4',"
           "'ports':[{'name':'http','port':3000}],'endpoints':[{'addresses':['10.8.8.8']}]}");
    add_host_ingress(s, "i", "2024-01-01T00:00:00Z", "", "a",
                     pth("/", "Prefix", "web", "{'number':80}"));
    t = build(s, NULL);
    assert_string_equal(route(t, "a", "/"),
                        "shop/web:80=10.0.0.1:3000,10.0.0.2:3000,10.0.0.3:3000,[fd00::1]:3000");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

static void test_readiness_and_fallback(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;

    add(s, "{'kind':'Service','metadata':{'name':'app','namespace':'shop'},'spec':{'ports':["
           "{'port':80}]}}");
    /* Unnamed Service port: slice port name "" (absent) matches it. */
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'app-1','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'app'}},'addressType':'IPv4','ports':[{'port':8080}],"
           "'endpoints':["
           "{'addresses':['10.0.1.1'],'conditions':{'ready':true}},"
           "{'addresses':['10.0.1.2'],'conditions':{}},"
           "{'addresses':['10.0.1.3'],'conditions':{'ready':false,'serving':true,"
           "'terminating':true}},"
           "{'addresses':['10.0.1.4'],'conditions':{'ready':false}},"
           "{'addresses':[]}]}");
    add_host_ingress(s, "i", "2024-01-01T00:00:00Z", "", "a",
                     pth("/", "Prefix", "app", "{'number':80}"));
    t = build(s, NULL);
    assert_string_equal(route(t, "a", "/"), "shop/app:80=10.0.1.1:8080,10.0.1.2:8080");
    tt_route_table_unref(t);

    /* Nothing ready: serving && terminating endpoints take over (graceful drain). */
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'app-1','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'app'}},'addressType':'IPv4','ports':[{'port':8080}],"
           "'endpoints':["
           "{'addresses':['10.0.1.3'],'conditions':{'ready':false,'serving':true,"
           "'terminating':true}},"
           "{'addresses':['10.0.1.5'],'conditions':{'ready':false,'terminating':true}},"
           "{'addresses':['10.0.1.6'],'conditions':{'ready':false,'serving':false,"
           "'terminating':true}},"
           "{'addresses':['10.0.1.4'],'conditions':{'ready':false}}]}");
    t = build(s, NULL);
    assert_string_equal(route(t, "a", "/"), "shop/app:80=10.0.1.3:8080,10.0.1.5:8080");
    tt_route_table_unref(t);

    /* Nothing at all: the backend exists with 0 endpoints (503) and that is not reported. */
    add(s, "{'kind':'EndpointSlice','metadata':{'name':'app-1','namespace':'shop','labels':"
           "{'kubernetes.io/service-name':'app'}},'addressType':'IPv4','ports':[{'port':8080}],"
           "'endpoints':[{'addresses':['10.0.1.4'],'conditions':{'ready':false}}]}");
    t = build(s, NULL);
    assert_string_equal(route(t, "a", "/"), "shop/app:80=");
    assert_int_equal(n_reports, 0);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

static void test_missing_service_and_ports(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;

    add_web(s);
    add(s, "{'kind':'Service','metadata':{'name':'db','namespace':'shop'},'spec':{'type':"
           "'ExternalName','externalName':'db.example.com'}}");
    add_host_ingress(s, "i", "2024-01-01T00:00:00Z", "", "a",
                     "{'path':'/x','pathType':'Prefix','backend':{'service':{'name':'nope','port':"
                     "{'number':80}}}},"
                     "{'path':'/y','pathType':'Prefix','backend':{'service':{'name':'nope','port':"
                     "{'number':80}}}},"
                     "{'path':'/g','pathType':'Prefix','backend':{'service':{'name':'web','port':"
                     "{'name':'grpc'}}}},"
                     "{'path':'/p','pathType':'Prefix','backend':{'service':{'name':'web','port':"
                     "{'number':81}}}},"
                     "{'path':'/db','pathType':'Prefix','backend':{'service':{'name':'db','port':"
                     "{'number':5432}}}},"
                     "{'path':'/ok','pathType':'Prefix','backend':{'service':{'name':'web','port':"
                     "{'number':80}}}}");
    t = build(s, NULL);
    /* The paths stay routed, to backends with no endpoints: the data plane answers 503. */
    assert_string_equal(route(t, "a", "/x"), "shop/nope:80=");
    assert_string_equal(route(t, "a", "/y"), "shop/nope:80=");
    assert_string_equal(route(t, "a", "/g"), "shop/web:grpc=");
    assert_string_equal(route(t, "a", "/p"), "shop/web:81=");
    assert_string_equal(route(t, "a", "/db"), "shop/db:5432=");
    assert_string_equal(route(t, "a", "/ok"), "shop/web:80=10.0.0.1:3000,10.0.0.2:3000");
    /* One report per problem, not per path. */
    assert_int_equal(n_reports, 4);
    expect_report("Ingress shop/i: service shop/nope not found\n");
    expect_report("Ingress shop/i: service shop/web has no port named grpc\n");
    expect_report("Ingress shop/i: service shop/web has no port 81\n");
    expect_report("Ingress shop/i: service shop/db is of type ExternalName, which is not "
                  "supported\n");
    tt_route_table_unref(t);

    /* A second Ingress using the same missing Service is told too. */
    add_host_ingress(s, "j", "2024-01-02T00:00:00Z", "", "b",
                     pth("/", "Prefix", "nope", "{'number':80}"));
    clear_reports();
    t = build(s, NULL);
    assert_int_equal(n_reports, 5);
    expect_report("Ingress shop/j: service shop/nope not found\n");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

static void test_bad_path_skipped(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;

    add_web(s);
    add_host_ingress(s, "i", "2024-01-01T00:00:00Z", "", "a",
                     "{'path':'/bad','pathType':'Regex','backend':{'service':{'name':'web','port':"
                     "{'number':80}}}},"
                     "{'path':'/zero','pathType':'Prefix','backend':{'service':{'name':'web',"
                     "'port':{'number':0}}}},"
                     "{'path':'/good','pathType':'Prefix','backend':{'service':{'name':'web',"
                     "'port':{'number':80}}}}");
    add(s,
        "{'kind':'Ingress','metadata':{'name':'wild','namespace':'shop'},'spec':{"
        "'ingressClassName':'tether','rules':[{'host':'*','http':{'paths':[%s]}}]}}",
        pth("/", "Prefix", "web", "{'number':80}"));
    t = build(s, NULL);
    assert_string_equal(route(t, "a", "/good"), "shop/web:80=10.0.0.1:3000,10.0.0.2:3000");
    assert_string_equal(route(t, "a", "/bad"), "404");
    assert_string_equal(route(t, "a", "/zero"), "404");
    assert_int_equal(tt_route_table_rule_count(t), 1);
    expect_report("Ingress shop/i: spec.rules[0].http.paths[0]: pathType: \"Regex\" is not "
                  "Exact, Prefix or ImplementationSpecific\n");
    expect_report("Ingress shop/i: spec.rules[0].http.paths[1]: backend.service.port.number: 0 "
                  "is out of range 1..65535\n");
    /* The builder's own validation (a bare "*" host) is reported the same way. */
    expect_report("Ingress shop/wild: spec.rules[0].http.paths[0]: ");
    assert_int_equal(n_reports, 3);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

static void test_conflict_oldest_wins(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;

    add_web(s);
    add(s, "{'kind':'Service','metadata':{'name':'new','namespace':'shop'},'spec':{'ports':["
           "{'port':80}]}}");
    /* "z-old" sorts last by name but is the oldest, so it keeps the rule. */
    add_host_ingress(s, "a-new", "2024-06-01T00:00:00Z", "", "a",
                     pth("/", "Prefix", "new", "{'number':80}"));
    add_host_ingress(s, "z-old", "2024-01-01T00:00:00Z", "", "a",
                     pth("/", "Prefix", "web", "{'number':80}"));
    t = build(s, NULL);
    assert_string_equal(route(t, "a", "/"), "shop/web:80=10.0.0.1:3000,10.0.0.2:3000");
    assert_int_equal(n_reports, 1);
    expect_report("Ingress shop/a-new: spec.rules[0].http.paths[0]: ");
    expect_report("shop/z-old");
    tt_route_table_unref(t);

    /* Same age: namespace/name decides. */
    add_host_ingress(s, "a-new", "2024-01-01T00:00:00Z", "", "a",
                     pth("/", "Prefix", "new", "{'number':80}"));
    t = build(s, NULL);
    assert_string_equal(route(t, "a", "/"), "shop/new:80=");
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

static void test_default_backend(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t;

    add_web(s);
    add(s, "{'kind':'Service','metadata':{'name':'fallback','namespace':'shop'},'spec':{'ports':"
           "[{'port':8080}]}}");
    add(s,
        "{'kind':'Ingress','metadata':{'name':'first','namespace':'shop','creationTimestamp':"
        "'2024-01-01T00:00:00Z'},'spec':{'ingressClassName':'tether',"
        "'defaultBackend':{'service':{'name':'fallback','port':{'number':8080}}},"
        "'rules':[{'host':'a','http':{'paths':[%s]}},{'host':'a'},{'host':'c'}]}}",
        pth("/app", "Prefix", "web", "{'number':80}"));
    add(s,
        "{'kind':'Ingress','metadata':{'name':'second','namespace':'shop','creationTimestamp':"
        "'2024-02-01T00:00:00Z'},'spec':{'ingressClassName':'tether',"
        "'defaultBackend':{'service':{'name':'web','port':{'number':80}}},"
        "'rules':[{'host':'b','http':{'paths':[%s]}},{'host':'c'}]}}",
        pth("/app", "Prefix", "web", "{'number':80}"));
    add(s, "{'kind':'Ingress','metadata':{'name':'third','namespace':'shop'},'spec':{"
           "'ingressClassName':'tether','defaultBackend':{'service':{'name':'web','port':"
           "{'name':''}}}}}");
    t = build(s, NULL);
    assert_string_equal(route(t, "a", "/app"), "shop/web:80=10.0.0.1:3000,10.0.0.2:3000");
    assert_string_equal(route(t, "a", "/other"), "shop/fallback:8080=");
    /* b's own default is "second"'s; unknown hosts get the oldest defaultBackend. */
    assert_string_equal(route(t, "b", "/other"), "shop/web:80=10.0.0.1:3000,10.0.0.2:3000");
    assert_string_equal(route(t, "nowhere", "/"), "shop/fallback:8080=");
    assert_string_equal(route(t, "c", "/"), "shop/fallback:8080=");
    /* "third" has no creationTimestamp (epoch 0) so it is processed first. */
    expect_report("Ingress shop/third: spec.defaultBackend.service.port.name: empty\n");
    expect_report("Ingress shop/second: spec.defaultBackend: host \"c\": ");
    assert_int_equal(n_reports, 2);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);
}

static void test_proxy_body_size(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_model_config cfg;
    struct tt_route_table *t;
    static const struct {
        const char *value;
        uint64_t want;
    } cases[] = {
        {"8m", 8u << 20}, {"8M", 8u << 20}, {"1g", 1u << 30},   {"512k", 512u << 10},
        {"100", 100},     {"0", 0},         {" 2m ", 2u << 20}, {"8mb", 1u << 20},
        {"-1", 1u << 20}, {"", 1u << 20},   {"1.5m", 1u << 20}, {"99999999999g", 1u << 20},
    };
    char host[16], ann[128];

    add_web(s);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(host, sizeof(host), "h%zu", i);
        snprintf(ann, sizeof(ann), "'nginx.ingress.kubernetes.io/proxy-body-size':'%s'",
                 cases[i].value);
        add_host_ingress(s, host, "2024-01-01T00:00:00Z", ann, host,
                         pth("/", "Prefix", "web", "{'number':80}"));
    }
    add_host_ingress(s, "none", "2024-01-01T00:00:00Z", "", "none",
                     pth("/", "Prefix", "web", "{'number':80}"));
    t = build(s, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(host, sizeof(host), "h%zu", i);
        if (max_body(t, host, "/") != cases[i].want)
            fail_msg("\"%s\": %llu, wanted %llu", cases[i].value,
                     (unsigned long long)max_body(t, host, "/"), (unsigned long long)cases[i].want);
    }
    assert_int_equal(max_body(t, "none", "/"), 1u << 20);
    assert_int_equal(n_reports, 5);
    expect_report("Ingress shop/h7: annotation nginx.ingress.kubernetes.io/proxy-body-size: "
                  "\"8mb\" is not a size (like 8m, 512k or 1g); using 1048576 bytes\n");
    tt_route_table_unref(t);

    /* Another prefix and default: the nginx.ingress.kubernetes.io annotations are then foreign. */
    tt_model_config_init(&cfg);
    cfg.annotations_prefix = "tether.dev";
    cfg.default_max_body = 0;
    add_host_ingress(s, "custom", "2024-01-01T00:00:00Z", "'tether.dev/proxy-body-size':'3k'",
                     "custom", pth("/", "Prefix", "web", "{'number':80}"));
    t = build(s, &cfg);
    assert_int_equal(max_body(t, "custom", "/"), 3072);
    assert_int_equal(max_body(t, "h0", "/"), 0);
    tt_route_table_unref(t);
    tt_k8s_store_free(s);

    uint64_t v = 0;
    assert_int_equal(tt_model_parse_size("16g", &v), 0);
    assert_int_equal(v, 16ull << 30);
    assert_int_equal(tt_model_parse_size("17179869184", &v), 0);
    assert_int_equal(v, 17179869184ull);
    assert_int_equal(tt_model_parse_size("k", &v), TT_EINVAL);
    assert_int_equal(tt_model_parse_size("18446744073709551615", &v), 0);
    assert_int_equal(tt_model_parse_size("18446744073709551616", &v), TT_EINVAL);
    assert_int_equal(tt_model_parse_size("17179869184g", &v), TT_EINVAL);
    assert_int_equal(tt_model_parse_size("1t", &v), TT_EINVAL);
}

static void test_empty_and_deterministic(void **state)
{
    (void)state;
    struct tt_k8s_store *s = new_store();
    struct tt_route_table *t = tt_model_build(s, NULL, 1, NULL, NULL, NULL);

    assert_non_null(t);
    assert_int_equal(tt_route_table_rule_count(t), 0);
    assert_string_equal(route(t, "a", "/"), "404");
    tt_route_table_unref(t);

    add_web(s);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "i%02d", i);
        add_host_ingress(s, name, "2024-01-01T00:00:00Z", "", i % 2 ? "a" : "b",
                         pth(i % 3 ? "/x" : "/y", "Prefix", "web", "{'number':80}"));
    }
    struct tt_route_table *t1 = tt_model_build(s, NULL, 1, NULL, NULL, NULL);
    struct tt_route_table *t2 = tt_model_build(s, NULL, 2, NULL, NULL, NULL);
    assert_int_equal(tt_route_table_rule_count(t1), tt_route_table_rule_count(t2));
    assert_int_equal(tt_route_table_rule_count(t1), 4);
    assert_int_equal(tt_route_table_backend_count(t1), 1);
    assert_string_equal(tt_route_match(t1, tt_slice_cstr("a"), tt_slice_cstr("/x")).rule->ingress,
                        "shop/i01");
    assert_string_equal(tt_route_match(t2, tt_slice_cstr("b"), tt_slice_cstr("/y")).rule->ingress,
                        "shop/i00");
    tt_route_table_unref(t1);
    tt_route_table_unref(t2);
    tt_k8s_store_free(s);

    /* The ready-made callbacks just log (WARN / DEBUG lines on stderr). */
    tt_log_configure("warn");
    tt_model_log_reject(NULL, "Ingress", "ns/x", "spec.rules[0].http.paths[0]: test");
    tt_model_log_reject(NULL, "Ingress", "ns/x", "service ns/y not found");
    tt_model_log_ignore(NULL, "Ingress", "ns/x", "not ours");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_class_selection, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_number_and_name, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_multiple_slices, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_readiness_and_fallback, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_missing_service_and_ports, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_bad_path_skipped, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_oldest_wins, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_default_backend, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_body_size, setup_build, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_deterministic, setup_build, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
