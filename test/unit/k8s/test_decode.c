/* test/unit/k8s/test_decode.c - decoding of every watched kind: fields, defaults, and hostile
 * input (wrong types, missing fields, huge values, bad base64) that must fail cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/leakcheck.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "k8s/objects.h"


/* JSON written with single quotes for readability; ' becomes ". */
static cJSON *parse(const char *text)
{
    char buf[8192];
    size_t n = strlen(text);
    cJSON *j;
    assert_true(n < sizeof(buf));
    for (size_t i = 0; i <= n; i++)
        buf[i] = text[i] == '\'' ? '"' : text[i];
    j = cJSON_Parse(buf);
    if (j == NULL)
        fail_msg("bad test JSON near: %s", cJSON_GetErrorPtr());
    return j;
}

static int decode(enum tt_k8s_kind kind, const char *text, struct tt_k8s_object **o,
                  struct tt_err *err)
{
    cJSON *j = parse(text);
    int rc;
    memset(err, 0, sizeof(*err));
    rc = tt_k8s_decode(kind, j, o, err);
    cJSON_Delete(j);
    return rc;
}

/* Expects decoding to fail with |code| and a reason containing |needle|. */
static void expect_fail(enum tt_k8s_kind kind, const char *text, int code, const char *needle)
{
    struct tt_k8s_object *o = (struct tt_k8s_object *)1;
    struct tt_err err;
    int rc = decode(kind, text, &o, &err);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("rc=%d msg=\"%s\", wanted rc=%d with \"%s\" for %s", rc, err.msg, code, needle,
                 text);
    assert_null(o);
}

static struct tt_k8s_object *expect_ok(enum tt_k8s_kind kind, const char *text)
{
    struct tt_k8s_object *o = NULL;
    struct tt_err err;
    int rc = decode(kind, text, &o, &err);
    if (rc != 0)
        fail_msg("rc=%d msg=\"%s\" for %s", rc, err.msg, text);
    assert_non_null(o);
    return o;
}

static void test_ingress_full(void **state)
{
    (void)state;
    struct tt_k8s_object *o = expect_ok(
        TT_K8S_KIND_NONE,
        "{'apiVersion':'networking.k8s.io/v1','kind':'Ingress',"
        " 'metadata':{'name':'web','namespace':'shop','uid':'u-1','resourceVersion':'42',"
        "  'creationTimestamp':'2024-05-01T10:00:00Z',"
        "  'annotations':{'nginx.ingress.kubernetes.io/proxy-body-size':'8m',"
        "   'kubectl.kubernetes.io/last-applied-configuration':'{}'},"
        "  'labels':{'app':'web'}},"
        " 'spec':{'ingressClassName':'tether',"
        "  'defaultBackend':{'service':{'name':'fallback','port':{'number':8080}}},"
        "  'rules':[{'host':'shop.example.com','http':{'paths':["
        "    "
        "{'path':'/"
        "','pathType':'Prefix','backend':{'service':{'name':'web','port':{'name':'http'}}}},"
        "    "
        "{'path':'/"
        "api','pathType':'Exact','backend':{'service':{'name':'api','port':{'number':80}}}}]}},"
        "   {'http':{'paths':[{'pathType':'ImplementationSpecific',"
        "     'backend':{'service':{'name':'any','port':{'number':1}}}}]}},"
        "   {'host':'only-host.example.com'}],"
        "  'tls':[{'hosts':['shop.example.com'],'secretName':'shop-tls'},{}]},"
        " 'status':{'loadBalancer':{}}}");
    const struct tt_k8s_ingress *ing = &o->u.ingress;

    assert_int_equal(o->kind, TT_K8S_INGRESS);
    assert_string_equal(o->key, "shop/web");
    assert_string_equal(o->meta.ns, "shop");
    assert_string_equal(o->meta.name, "web");
    assert_string_equal(o->meta.uid, "u-1");
    assert_string_equal(o->meta.resource_version, "42");
    assert_int_equal(o->meta.creation_ts, 1714557600);
    assert_int_equal(o->meta.n_annotations, 1); /* last-applied dropped */
    assert_string_equal(
        tt_k8s_meta_annotation(&o->meta, "nginx.ingress.kubernetes.io/proxy-body-size"), "8m");
    assert_null(
        tt_k8s_meta_annotation(&o->meta, "kubectl.kubernetes.io/last-applied-configuration"));
    assert_string_equal(tt_k8s_meta_label(&o->meta, "app"), "web");
    assert_string_equal(ing->class_name, "tether");
    assert_true(ing->has_default_backend);
    assert_null(ing->default_backend_invalid);
    assert_string_equal(ing->default_backend.service, "fallback");
    assert_int_equal(ing->default_backend.port_number, 8080);
    assert_int_equal(ing->n_rules, 3);
    assert_string_equal(ing->rules[0].host, "shop.example.com");
    assert_int_equal(ing->rules[0].n_paths, 2);
    assert_string_equal(ing->rules[0].paths[0].path, "/");
    assert_int_equal(ing->rules[0].paths[0].type, TT_K8S_PATH_PREFIX);
    assert_null(ing->rules[0].paths[0].invalid);
    assert_string_equal(ing->rules[0].paths[0].backend.service, "web");
    assert_string_equal(ing->rules[0].paths[0].backend.port_name, "http");
    assert_int_equal(ing->rules[0].paths[0].backend.port_number, 0);
    assert_int_equal(ing->rules[0].paths[1].type, TT_K8S_PATH_EXACT);
    assert_int_equal(ing->rules[0].paths[1].backend.port_number, 80);
    assert_null(ing->rules[0].paths[1].backend.port_name);
    assert_null(ing->rules[1].host);
    assert_null(ing->rules[1].paths[0].path);
    assert_int_equal(ing->rules[1].paths[0].type, TT_K8S_PATH_IMPL_SPECIFIC);
    assert_null(ing->rules[1].paths[0].invalid);
    assert_int_equal(ing->rules[2].n_paths, 0);
    assert_int_equal(ing->n_tls, 2);
    assert_int_equal(ing->tls[0].n_hosts, 1);
    assert_string_equal(ing->tls[0].hosts[0], "shop.example.com");
    assert_string_equal(ing->tls[0].secret_name, "shop-tls");
    assert_int_equal(ing->tls[1].n_hosts, 0);
    assert_null(ing->tls[1].secret_name);
    tt_k8s_object_free(o);
}

static void test_ingress_defaults(void **state)
{
    (void)state;
    /* No namespace (kubectl's default), null timestamp and annotations, empty host, no spec. */
    struct tt_k8s_object *o = expect_ok(
        TT_K8S_INGRESS, "{'metadata':{'name':'a','creationTimestamp':null,'annotations':null},"
                        " 'spec':{'rules':[{'host':'','http':{'paths':null}}]}}");
    assert_string_equal(o->key, "default/a");
    assert_int_equal(o->meta.creation_ts, 0);
    assert_null(o->meta.uid);
    assert_null(o->meta.resource_version);
    assert_int_equal(o->meta.n_annotations, 0);
    assert_null(o->u.ingress.class_name);
    assert_false(o->u.ingress.has_default_backend);
    assert_int_equal(o->u.ingress.n_rules, 1);
    assert_null(o->u.ingress.rules[0].host);
    tt_k8s_object_free(o);

    o = expect_ok(TT_K8S_INGRESS, "{'kind':'Ingress','metadata':{'name':'b'}}");
    assert_int_equal(o->u.ingress.n_rules, 0);
    tt_k8s_object_free(o);
}

/* Each bad path is kept, marked invalid with a reason; the good path next to it is fine. */
static void test_ingress_bad_paths(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        const char *reason;
    } cases[] = {
        {"{'path':'/a','backend':{'service':{'name':'s','port':{'number':80}}}}",
         "pathType: missing"},
        {"{'path':'/a','pathType':'Regex','backend':{'service':{'name':'s','port':{'number':80}}}}",
         "pathType: \"Regex\" is not Exact, Prefix or ImplementationSpecific"},
        {"{'path':'/a','pathType':7,'backend':{'service':{'name':'s','port':{'number':80}}}}",
         "pathType: expected a string"},
        {"{'path':'a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':80}}}}",
         "path: must start with \"/\""},
        {"{'pathType':'Exact','backend':{'service':{'name':'s','port':{'number':80}}}}",
         "path: missing"},
        {"{'path':['/"
         "a'],'pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':80}}}}",
         "path: expected a string"},
        {"{'path':'/a','pathType':'Prefix'}", "backend: missing"},
        {"{'path':'/a','pathType':'Prefix','backend':'svc'}", "backend: expected an object"},
        {"{'path':'/a','pathType':'Prefix','backend':{'resource':{'kind':'Bucket','name':'b'}}}",
         "backend.resource: not supported"},
        {"{'path':'/a','pathType':'Prefix','backend':{'service':{'port':{'number':80}}}}",
         "backend.service.name: missing"},
        {"{'path':'/a','pathType':'Prefix','backend':{'service':{'name':'a/"
         "b','port':{'number':80}}}}",
         "backend.service.name: \"a/b\" is not a valid name"},
        {"{'path':'/a','pathType':'Prefix','backend':{'service':{'name':'s'}}}",
         "backend.service.port: missing"},
        {"{'path':'/a','pathType':'Prefix','backend':{'service':{'name':'s','port':{}}}}",
         "backend.service.port: needs a name or a number"},
        {"{'path':'/"
         "a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':80,'name':'http'"
         "}}}}",
         "backend.service.port: both name and number are set"},
        {"{'path':'/a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':0}}}}",
         "backend.service.port.number: 0 is out of range 1..65535"},
        {"{'path':'/"
         "a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':65536}}}}",
         "backend.service.port.number: 65536 is out of range 1..65535"},
        {"{'path':'/"
         "a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':-80}}}}",
         "out of range"},
        {"{'path':'/"
         "a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':1e300}}}}",
         "out of range"},
        {"{'path':'/"
         "a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':80.5}}}}",
         "backend.service.port.number: expected an integer"},
        {"{'path':'/"
         "a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'number':'80'}}}}",
         "backend.service.port.number: expected a number"},
        {"{'path':'/a','pathType':'Prefix','backend':{'service':{'name':'s','port':{'name':''}}}}",
         "backend.service.port.name: empty"},
        {"'not an object'", "expected an object"},
    };
    char json[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tt_k8s_object *o;
        const struct tt_k8s_ingress_rule *r;
        snprintf(json, sizeof(json),
                 "{'kind':'Ingress','metadata':{'name':'x'},'spec':{'rules':[{'host':'h','http':"
                 "{'paths':[%s,{'path':'/ok','pathType':'Prefix','backend':{'service':"
                 "{'name':'ok','port':{'number':80}}}}]}}]}}",
                 cases[i].path);
        o = expect_ok(TT_K8S_KIND_NONE, json);
        r = &o->u.ingress.rules[0];
        assert_int_equal(r->n_paths, 2);
        if (r->paths[0].invalid == NULL || strstr(r->paths[0].invalid, cases[i].reason) == NULL)
            fail_msg("case %zu: invalid=\"%s\", wanted \"%s\"", i,
                     r->paths[0].invalid ? r->paths[0].invalid : "(null)", cases[i].reason);
        assert_null(r->paths[1].invalid);
        assert_string_equal(r->paths[1].backend.service, "ok");
        tt_k8s_object_free(o);
    }

    /* A bad defaultBackend is marked the same way. */
    struct tt_k8s_object *o =
        expect_ok(TT_K8S_INGRESS, "{'metadata':{'name':'d'},'spec':{'defaultBackend':{'service':{'"
                                  "name':'s','port':{'number':99999}}}}}");
    assert_true(o->u.ingress.has_default_backend);
    assert_non_null(o->u.ingress.default_backend_invalid);
    assert_non_null(strstr(o->u.ingress.default_backend_invalid,
                           "spec.defaultBackend.service.port.number: 99999 is out of range"));
    tt_k8s_object_free(o);
}

static void test_ingress_hostile(void **state)
{
    (void)state;
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a'},'spec':'x'}", TT_EINVAL,
                "spec: expected an object");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a'},'spec':{'rules':{}}}", TT_EINVAL,
                "spec.rules: expected an array");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a'},'spec':{'rules':[{},3]}}", TT_EINVAL,
                "spec.rules[1]: expected an object");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a'},'spec':{'rules':[{'host':5}]}}",
                TT_EINVAL, "spec.rules[0].host: expected a string");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a'},'spec':{'rules':[{'http':[]}]}}",
                TT_EINVAL, "spec.rules[0].http: expected an object");
    expect_fail(TT_K8S_INGRESS,
                "{'metadata':{'name':'a'},'spec':{'rules':[{'http':{'paths':{}}}]}}", TT_EINVAL,
                "spec.rules[0].http.paths: expected an array");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a'},'spec':{'ingressClassName':true}}",
                TT_EINVAL, "spec.ingressClassName: expected a string");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a'},'spec':{'tls':[{'hosts':[1]}]}}",
                TT_EINVAL, "spec.tls[0].hosts[0]: expected a string");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a','annotations':[]}}", TT_EINVAL,
                "metadata.annotations: expected an object");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a','annotations':{'x/y':80}}}", TT_EINVAL,
                "metadata.annotations[\"x/y\"]: expected a string value");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a','labels':{'x':true}}}", TT_EINVAL,
                "metadata.labels[\"x\"]: expected a string value");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a','creationTimestamp':'yesterday'}}",
                TT_EINVAL, "metadata.creationTimestamp: \"yesterday\" is not RFC 3339");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a','creationTimestamp':12}}", TT_EINVAL,
                "metadata.creationTimestamp: expected a string");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a','resourceVersion':12}}", TT_EINVAL,
                "metadata.resourceVersion: expected a string");
}

/* Counts beyond the caps are refused, not allocated. */
static void test_ingress_huge(void **state)
{
    (void)state;
    struct tt_k8s_object *o = (struct tt_k8s_object *)1;
    struct tt_err err;
    cJSON *j = parse("{'metadata':{'name':'big'},'spec':{'rules':[]}}");
    cJSON *rules =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "spec"), "rules");
    for (int i = 0; i <= TT_K8S_MAX_ITEMS; i++)
        cJSON_AddItemToArray(rules, cJSON_CreateObject());
    assert_int_equal(tt_k8s_decode(TT_K8S_INGRESS, j, &o, &err), TT_EINVAL);
    assert_null(o);
    assert_non_null(strstr(err.msg, "spec.rules: more than 10000 entries"));
    cJSON_Delete(j);

    /* Paths are capped across rules: two rules of 6000 paths. */
    j = parse("{'metadata':{'name':'big'},'spec':{'rules':[{'http':{'paths':[]}},"
              "{'http':{'paths':[]}}]}}");
    rules = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "spec"), "rules");
    for (cJSON *r = rules->child; r != NULL; r = r->next) {
        cJSON *paths =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "http"), "paths");
        for (int i = 0; i < 6000; i++)
            cJSON_AddItemToArray(paths, cJSON_CreateObject());
    }
    assert_int_equal(tt_k8s_decode(TT_K8S_INGRESS, j, &o, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "more than 10000 paths in total"));
    cJSON_Delete(j);

    /* A 64 KiB + 1 string. */
    struct tt_buf b;
    tt_buf_init(&b, 1 << 20);
    assert_int_equal(tt_buf_append_str(&b, "{\"metadata\":{\"name\":\"a\"},\"spec\":"
                                           "{\"ingressClassName\":\""),
                     0);
    for (int i = 0; i <= TT_K8S_MAX_STRING; i++)
        assert_int_equal(tt_buf_append(&b, "x", 1), 0);
    assert_int_equal(tt_buf_append(&b, "\"}}", 4), 0);
    j = cJSON_Parse(b.data);
    tt_buf_dispose(&b);
    assert_int_equal(tt_k8s_decode(TT_K8S_INGRESS, j, &o, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "spec.ingressClassName: longer than 65536 bytes"));
    cJSON_Delete(j);

    /* Annotations over 256 KiB in total (5 x 60 KiB). */
    j = parse("{'metadata':{'name':'a','annotations':{}}}");
    cJSON *ann = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metadata"),
                                                  "annotations");
    static char big[60 * 1024 + 1];
    memset(big, 'v', sizeof(big) - 1);
    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        cJSON_AddStringToObject(ann, key, big);
    }
    assert_int_equal(tt_k8s_decode(TT_K8S_INGRESS, j, &o, &err), TT_EINVAL);
    assert_non_null(strstr(err.msg, "metadata.annotations: larger than"));
    cJSON_Delete(j);
}

static void test_kind_and_meta(void **state)
{
    (void)state;
    expect_fail(TT_K8S_KIND_NONE, "{'metadata':{'name':'a'}}", TT_EINVAL, "kind: missing");
    expect_fail(TT_K8S_KIND_NONE, "{'kind':'Deployment','metadata':{'name':'a'}}", TT_ESKIP,
                "not watched");
    expect_fail(TT_K8S_KIND_NONE, "{'kind':'','metadata':{'name':'a'}}", TT_EINVAL, "kind: empty");
    expect_fail(TT_K8S_KIND_NONE, "{'kind':['Ingress'],'metadata':{'name':'a'}}", TT_EINVAL,
                "kind: expected a string");
    expect_fail(TT_K8S_SERVICE, "{'kind':'Ingress','metadata':{'name':'a'}}", TT_EINVAL,
                "kind: expected Service, got \"Ingress\"");
    expect_fail(TT_K8S_KIND_NONE,
                "{'kind':'Ingress','apiVersion':'extensions/v1beta1','metadata':{'name':'a'}}",
                TT_EINVAL, "apiVersion: \"extensions/v1beta1\" is not supported for Ingress");
    expect_fail(TT_K8S_INGRESS, "[1,2]", TT_EINVAL, "object: expected a JSON object");
    expect_fail(TT_K8S_INGRESS, "{'spec':{}}", TT_EINVAL, "metadata: missing");
    expect_fail(TT_K8S_INGRESS, "{'metadata':'x'}", TT_EINVAL, "metadata: expected an object");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{}}", TT_EINVAL, "metadata.name: missing");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':7}}", TT_EINVAL,
                "metadata.name: expected a string");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a/b'}}", TT_EINVAL,
                "metadata.name: \"a/b\" is not a valid name");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'Web'}}", TT_EINVAL, "not a valid name");
    expect_fail(TT_K8S_INGRESS, "{'metadata':{'name':'a','namespace':'x.y'}}", TT_EINVAL,
                "metadata.namespace: \"x.y\" is not a valid name");
    expect_fail(TT_K8S_KIND_COUNT, "{'metadata':{'name':'a'}}", TT_EINVAL, "invalid kind");

    assert_string_equal(tt_k8s_kind_name(TT_K8S_ENDPOINT_SLICE), "EndpointSlice");
    assert_string_equal(tt_k8s_kind_name(TT_K8S_KIND_COUNT), "");
    assert_int_equal(tt_k8s_kind_from_name("IngressClass"), TT_K8S_INGRESS_CLASS);
    assert_int_equal(tt_k8s_kind_from_name("ingress"), TT_K8S_KIND_NONE);
    assert_int_equal(tt_k8s_kind_from_name(NULL), TT_K8S_KIND_NONE);
}

static void test_ingress_class(void **state)
{
    (void)state;
    struct tt_k8s_object *o = expect_ok(
        TT_K8S_KIND_NONE,
        "{'apiVersion':'networking.k8s.io/v1','kind':'IngressClass','metadata':{'name':'tether',"
        "'namespace':'ignored','annotations':{'ingressclass.kubernetes.io/"
        "is-default-class':'true'}},"
        "'spec':{'controller':'tether.dev/ingress-controller'}}");
    assert_int_equal(o->kind, TT_K8S_INGRESS_CLASS);
    assert_string_equal(o->key, "tether");
    assert_null(o->meta.ns);
    assert_string_equal(o->u.ingress_class.controller, "tether.dev/ingress-controller");
    assert_true(o->u.ingress_class.is_default);
    tt_k8s_object_free(o);

    o = expect_ok(TT_K8S_INGRESS_CLASS, "{'metadata':{'name':'other','annotations':"
                                        "{'ingressclass.kubernetes.io/is-default-class':'True'}}}");
    assert_null(o->u.ingress_class.controller);
    assert_false(o->u.ingress_class.is_default); /* only the exact string "true" */
    tt_k8s_object_free(o);
    expect_fail(TT_K8S_INGRESS_CLASS, "{'metadata':{'name':'c'},'spec':{'controller':1}}",
                TT_EINVAL, "spec.controller: expected a string");
}

static void test_service(void **state)
{
    (void)state;
    struct tt_k8s_object *o = expect_ok(
        TT_K8S_KIND_NONE,
        "{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','namespace':'shop'},"
        "'spec':{'selector':{'app':'web'},'ports':["
        "{'name':'http','port':80,'targetPort':'web'},"
        "{'name':'metrics','port':9090,'targetPort':9091,'protocol':'UDP'},"
        "{'port':443}]}}");
    const struct tt_k8s_service *s = &o->u.service;
    assert_string_equal(o->key, "shop/web");
    assert_string_equal(s->type, "ClusterIP");
    assert_null(s->external_name);
    assert_int_equal(s->n_ports, 3);
    assert_string_equal(s->ports[0].name, "http");
    assert_int_equal(s->ports[0].port, 80);
    assert_string_equal(s->ports[0].target_port_name, "web");
    assert_int_equal(s->ports[0].target_port, 0);
    assert_string_equal(s->ports[0].protocol, "TCP");
    assert_int_equal(s->ports[1].target_port, 9091);
    assert_string_equal(s->ports[1].protocol, "UDP");
    assert_string_equal(s->ports[2].name, "");
    assert_null(s->ports[2].target_port_name);
    tt_k8s_object_free(o);

    o = expect_ok(TT_K8S_SERVICE, "{'metadata':{'name':'db'},'spec':{'type':'ExternalName',"
                                  "'externalName':'db.example.com'}}");
    assert_string_equal(o->u.service.type, "ExternalName");
    assert_string_equal(o->u.service.external_name, "db.example.com");
    assert_int_equal(o->u.service.n_ports, 0);
    tt_k8s_object_free(o);

    o = expect_ok(TT_K8S_SERVICE, "{'metadata':{'name':'nospec'}}");
    assert_string_equal(o->u.service.type, "ClusterIP");
    tt_k8s_object_free(o);

    expect_fail(TT_K8S_SERVICE,
                "{'metadata':{'name':'s'},'spec':{'ports':[{'port':80},{'port':0}]}}", TT_EINVAL,
                "spec.ports[1].port: 0 is out of range 1..65535");
    expect_fail(TT_K8S_SERVICE, "{'metadata':{'name':'s'},'spec':{'ports':[{'name':'x'}]}}",
                TT_EINVAL, "spec.ports[0].port: missing");
    expect_fail(TT_K8S_SERVICE, "{'metadata':{'name':'s'},'spec':{'ports':[{'port':'80'}]}}",
                TT_EINVAL, "spec.ports[0].port: expected a number");
    expect_fail(TT_K8S_SERVICE,
                "{'metadata':{'name':'s'},'spec':{'ports':[{'port':80,'targetPort':true}]}}",
                TT_EINVAL, "spec.ports[0].targetPort: expected a number");
    expect_fail(TT_K8S_SERVICE,
                "{'metadata':{'name':'s'},'spec':{'ports':[{'port':80,'targetPort':-1}]}}",
                TT_EINVAL, "spec.ports[0].targetPort: -1 is out of range");
    expect_fail(TT_K8S_SERVICE, "{'metadata':{'name':'s'},'spec':{'ports':['http']}}", TT_EINVAL,
                "spec.ports[0]: expected an object");
    expect_fail(TT_K8S_SERVICE, "{'metadata':{'name':'s'},'spec':{'type':1}}", TT_EINVAL,
                "spec.type: expected a string");
}

static void test_endpoint_slice(void **state)
{
    (void)state;
    struct tt_k8s_object *o =
        expect_ok(TT_K8S_KIND_NONE,
                  "{'apiVersion':'discovery.k8s.io/v1','kind':'EndpointSlice',"
                  "'metadata':{'name':'web-abc','namespace':'shop','labels':"
                  "{'kubernetes.io/service-name':'web'}},'addressType':'IPv4',"
                  "'ports':[{'name':'http','port':8080,'protocol':'TCP'},{'name':'x','port':null}],"
                  "'endpoints':["
                  "{'addresses':['10.0.0.1']},"
                  "{'addresses':['10.0.0.2','10.0.0.3'],'conditions':{'ready':false,'serving':true,"
                  "'terminating':true}},"
                  "{'addresses':['10.0.0.4'],'conditions':{'ready':null,'serving':false}}]}");
    const struct tt_k8s_endpoint_slice *sl = &o->u.slice;
    assert_string_equal(o->key, "shop/web-abc");
    assert_string_equal(sl->service_name, "web");
    assert_int_equal(sl->address_type, TT_K8S_ADDR_IPV4);
    assert_int_equal(sl->n_ports, 2);
    assert_string_equal(sl->ports[0].name, "http");
    assert_int_equal(sl->ports[0].port, 8080);
    assert_int_equal(sl->ports[1].port, 0);
    assert_string_equal(sl->ports[1].protocol, "TCP");
    assert_int_equal(sl->n_endpoints, 3);
    /* nil conditions: ready and serving true, terminating false */
    assert_true(sl->endpoints[0].ready);
    assert_true(sl->endpoints[0].serving);
    assert_false(sl->endpoints[0].terminating);
    assert_int_equal(sl->endpoints[1].n_addresses, 2);
    assert_string_equal(sl->endpoints[1].addresses[1], "10.0.0.3");
    assert_false(sl->endpoints[1].ready);
    assert_true(sl->endpoints[1].serving);
    assert_true(sl->endpoints[1].terminating);
    assert_true(sl->endpoints[2].ready);
    assert_false(sl->endpoints[2].serving);
    tt_k8s_object_free(o);

    o = expect_ok(TT_K8S_ENDPOINT_SLICE, "{'metadata':{'name':'orphan'},'addressType':'FQDN'}");
    assert_null(o->u.slice.service_name);
    assert_int_equal(o->u.slice.address_type, TT_K8S_ADDR_FQDN);
    assert_int_equal(o->u.slice.n_endpoints, 0);
    tt_k8s_object_free(o);
    o = expect_ok(TT_K8S_ENDPOINT_SLICE, "{'metadata':{'name':'n'},'addressType':'IPv7'}");
    assert_int_equal(o->u.slice.address_type, TT_K8S_ADDR_OTHER);
    tt_k8s_object_free(o);

    expect_fail(TT_K8S_ENDPOINT_SLICE, "{'metadata':{'name':'s'}}", TT_EINVAL,
                "addressType: missing");
    expect_fail(
        TT_K8S_ENDPOINT_SLICE,
        "{'metadata':{'name':'s'},'addressType':'IPv4','endpoints':[{'addresses':['1.1.1.1'],"
        "'conditions':{'ready':'yes'}}]}",
        TT_EINVAL, "endpoints[0].conditions.ready: expected true or false");
    expect_fail(
        TT_K8S_ENDPOINT_SLICE,
        "{'metadata':{'name':'s'},'addressType':'IPv4','endpoints':[{'addresses':'1.1.1.1'}]}",
        TT_EINVAL, "endpoints[0].addresses: expected an array");
    expect_fail(TT_K8S_ENDPOINT_SLICE,
                "{'metadata':{'name':'s'},'addressType':'IPv4','endpoints':[{'addresses':[1]}]}",
                TT_EINVAL, "endpoints[0].addresses[0]: expected a string");
    expect_fail(TT_K8S_ENDPOINT_SLICE,
                "{'metadata':{'name':'s'},'addressType':'IPv4','ports':[{'port':70000}]}",
                TT_EINVAL, "ports[0].port: 70000 is out of range");
    expect_fail(TT_K8S_ENDPOINT_SLICE,
                "{'metadata':{'name':'s','labels':{'kubernetes.io/service-name':1}},"
                "'addressType':'IPv4'}",
                TT_EINVAL, "metadata.labels[\"kubernetes.io/service-name\"]");

    /* More than 100 addresses on one endpoint. */
    cJSON *j =
        parse("{'metadata':{'name':'s'},'addressType':'IPv4','endpoints':[{'addresses':[]}]}");
    cJSON *addrs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "endpoints"), 0), "addresses");
    struct tt_err err;
    for (int i = 0; i < 101; i++)
        cJSON_AddItemToArray(addrs, cJSON_CreateString("10.0.0.1"));
    o = (struct tt_k8s_object *)1;
    assert_int_equal(tt_k8s_decode(TT_K8S_ENDPOINT_SLICE, j, &o, &err), TT_EINVAL);
    assert_null(o);
    assert_non_null(strstr(err.msg, "endpoints[0].addresses: more than 100 entries"));
    cJSON_Delete(j);
}

static void test_secret(void **state)
{
    (void)state;
    /* "-----BEGIN CERT-----\n" and "key" */
    struct tt_k8s_object *o = expect_ok(
        TT_K8S_KIND_NONE,
        "{'apiVersion':'v1','kind':'Secret','type':'kubernetes.io/tls','metadata':{'name':'tls'},"
        "'data':{'tls.crt':'LS0tLS1CRUdJTiBDRVJULS0tLS0K','tls.key':'a2V5','ca.crt':'!!'}}");
    const struct tt_k8s_secret *s = &o->u.secret;
    assert_string_equal(s->type, "kubernetes.io/tls");
    assert_int_equal(s->tls_crt_len, 21);
    assert_memory_equal(s->tls_crt, "-----BEGIN CERT-----\n", 21);
    assert_int_equal(s->tls_key_len, 3);
    assert_string_equal((const char *)s->tls_key, "key");
    tt_k8s_object_free(o);

    o = expect_ok(TT_K8S_SECRET, "{'metadata':{'name':'empty'}}");
    assert_string_equal(o->u.secret.type, "Opaque");
    assert_null(o->u.secret.tls_crt);
    tt_k8s_object_free(o);

    expect_fail(TT_K8S_SECRET, "{'metadata':{'name':'s'},'data':{'tls.crt':'not base64!'}}",
                TT_EINVAL, "data[\"tls.crt\"]: invalid base64");
    expect_fail(TT_K8S_SECRET, "{'metadata':{'name':'s'},'data':{'tls.key':'a2V'}}", TT_EINVAL,
                "data[\"tls.key\"]: invalid base64");
    expect_fail(TT_K8S_SECRET, "{'metadata':{'name':'s'},'data':{'tls.key':7}}", TT_EINVAL,
                "data[\"tls.key\"]: expected a string");
    expect_fail(TT_K8S_SECRET, "{'metadata':{'name':'s'},'data':[]}", TT_EINVAL,
                "data: expected an object");
}

static void test_base64(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out; /* NULL: invalid */
    } cases[] = {
        {"", ""},
        {"Zg==", "f"},
        {"Zm8=", "fo"},
        {"Zm9v", "foo"},
        {"Zm9v\r\nYmFy", "foobar"},
        {"Zm9vYg==\n", "foob"},
        {"Zg=", NULL},
        {"Z===", NULL},
        {"Zm9v=", NULL},
        {"Zg==Zg==", NULL},
        {"Zm9", NULL},
        {"Zm 9v", NULL},
        {"Zm9v-_", NULL},
        {"=Zg=", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char *out = NULL;
        size_t len = 0;
        int rc = tt_k8s_base64_decode(cases[i].in, strlen(cases[i].in), &out, &len);
        if (cases[i].out == NULL) {
            if (rc != TT_EINVAL)
                fail_msg("case %zu (%s): rc=%d, wanted TT_EINVAL", i, cases[i].in, rc);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu (%s): rc=%d", i, cases[i].in, rc);
        assert_int_equal(len, strlen(cases[i].out));
        assert_string_equal((char *)out, cases[i].out);
        tt_free(out);
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t t = -1;
    assert_int_equal(tt_k8s_parse_time("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(tt_k8s_parse_time("2024-02-29T23:59:59Z", &t), 0);
    assert_int_equal(t, 1709251199);
    assert_int_equal(tt_k8s_parse_time("2024-05-01T12:00:00.123456+02:00", &t), 0);
    assert_int_equal(t, 1714557600);
    assert_int_equal(tt_k8s_parse_time("2024-05-01t09:30:00-00:30", &t), 0);
    assert_int_equal(t, 1714557600);
    assert_int_equal(tt_k8s_parse_time("1969-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, -1);
    static const char *const bad[] = {
        "",
        "2024-05-01",
        "2024-05-01T10:00:00",
        "2024-13-01T10:00:00Z",
        "2023-02-29T10:00:00Z",
        "2024-04-31T10:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T10:00:00.Z",
        "2024-05-01T10:00:00+0200",
        "2024-05-01T10:00:00Zjunk",
        "20x4-05-01T10:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (tt_k8s_parse_time(bad[i], &t) != TT_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
}

/* An IPv6 slice round-trips and frees without leaks; freeing NULL is a no-op. */
static void test_ipv6_slice_and_free_null(void **state)
{
    (void)state;
    struct tt_k8s_object *o = expect_ok(
        TT_K8S_ENDPOINT_SLICE,
        "{'metadata':{'name':'s','namespace':'n','labels':{'kubernetes.io/service-name':'x'},"
        "'annotations':{'a':'b'}},'addressType':'IPv6','ports':[{'port':1}],"
        "'endpoints':[{'addresses':['fd00::1']}]}");
    assert_int_equal(o->u.slice.address_type, TT_K8S_ADDR_IPV6);
    assert_string_equal(o->u.slice.endpoints[0].addresses[0], "fd00::1");
    tt_k8s_object_free(o);
    tt_k8s_object_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingress_full, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_ingress_defaults, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_ingress_bad_paths, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_ingress_hostile, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_ingress_huge, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_kind_and_meta, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_ingress_class, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_service, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_slice, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_secret, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_base64, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_parse_time, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_slice_and_free_null, tt_test_leak_setup, tt_test_leak_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
