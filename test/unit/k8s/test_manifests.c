/* test/unit/k8s/test_manifests.c - loading manifests: a file, a folder, multi-document YAML,
 * List kinds, JSON streams, unparseable documents, rejected and ignored objects, and the YAML
 * scalar rules. Fixtures live in $TT_FIXTURES (default test/unit/fixtures; run from the repo
 * root). Log lines are captured by pointing stderr at a temporary file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/leakcheck.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "k8s/manifests.h"
#include "k8s/yaml.h"

static int saved_stderr = -1;
static char capture_path[64];
static char logs[1 << 16];

static int setup(void **state)
{
    (void)state;
    tt_log_configure("info,k8s=debug");
    tt_test_leaks_begin();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_test_leaks_end();
    return 0;
}

static const char *fixture(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("TT_FIXTURES");
    snprintf(buf, sizeof(buf), "%s/manifests/%s", dir != NULL ? dir : "test/unit/fixtures", name);
    return buf;
}

static void capture_begin(void)
{
    int fd;
    snprintf(capture_path, sizeof(capture_path), "/tmp/tt-manifests-XXXXXX");
    assert_true((fd = mkstemp(capture_path)) != -1);
    fflush(stderr);
    saved_stderr = dup(2);
    assert_true(dup2(fd, 2) != -1);
    close(fd);
}

/* Restores stderr, leaves the captured lines in |logs| and echoes them for debugging. */
static void capture_end(void)
{
    FILE *f;
    size_t n;
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    assert_non_null(f = fopen(capture_path, "r"));
    n = fread(logs, 1, sizeof(logs) - 1, f);
    logs[n] = '\0';
    fclose(f);
    unlink(capture_path);
    fputs(logs, stderr);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int load(struct tt_k8s_store *s, const char *name, struct tt_err *err)
{
    int rc;
    memset(err, 0, sizeof(*err));
    capture_begin();
    rc = tt_k8s_manifests_load(s, fixture(name), err);
    capture_end();
    return rc;
}

static const struct tt_k8s_object *get(const struct tt_k8s_store *s, enum tt_k8s_kind kind,
                                       const char *key)
{
    const struct tt_k8s_object *o = tt_k8s_store_get(s, kind, key);
    if (o == NULL)
        fail_msg("%s %s not in the store", tt_k8s_kind_name(kind), key);
    return o;
}

static void test_single_file(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_err err;

    assert_int_equal(load(s, "single.yaml", &err), 0);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 2);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_INGRESS), 1);
    const struct tt_k8s_object *svc = get(s, TT_K8S_SERVICE, "shop/web");
    assert_int_equal(svc->u.service.ports[0].port, 80); /* a YAML number */
    assert_string_equal(svc->u.service.ports[0].target_port_name, "web");
    get(s, TT_K8S_SERVICE, "default/plain"); /* namespace defaulted */
    const struct tt_k8s_object *ing = get(s, TT_K8S_INGRESS, "shop/web");
    assert_string_equal(
        tt_k8s_meta_annotation(&ing->meta, "nginx.ingress.kubernetes.io/proxy-body-size"), "8m");
    assert_string_equal(ing->u.ingress.rules[0].paths[0].backend.port_name, "http");
    /* Namespace and Deployment are ignored quietly: debug lines, no warnings. */
    assert_int_equal(count(logs, "\"object ignored\""), 2);
    assert_int_equal(count(logs, "\"level\":\"warn\""), 0);
    assert_int_equal(count(logs, "\"manifests loaded\""), 1);
    assert_int_equal(count(logs, "\"objects\":3"), 1);
    tt_k8s_store_free(s);
}

static void test_folder(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_err err;

    /* .hidden.yaml and nested/broken.yaml are unparseable: loading them would fail. */
    assert_int_equal(load(s, "folder", &err), 0);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 2);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_INGRESS), 1);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_ENDPOINT_SLICE), 2);
    /* 05-override.yaml loads first, so 10-services.yaml's Service a replaces it. */
    assert_null(tt_k8s_meta_label(&get(s, TT_K8S_SERVICE, "one/a")->meta, "from"));
    const struct tt_k8s_object *const *v;
    assert_int_equal(tt_k8s_store_service_slices(s, "one", "b", &v), 1);
    assert_string_equal(v[0]->u.slice.endpoints[0].addresses[0], "10.0.0.2");
    assert_int_equal(count(logs, "\"files\":4"), 1);
    assert_int_equal(count(logs, "\"level\":\"warn\""), 0);
    tt_k8s_store_free(s);
}

static void test_lists(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_err err;

    assert_int_equal(load(s, "list.yaml", &err), 0);
    get(s, TT_K8S_SERVICE, "l/from-list");
    assert_string_equal(get(s, TT_K8S_INGRESS_CLASS, "tether")->u.ingress_class.controller,
                        "tether.dev/ingress-controller");
    /* IngressList items have no kind; the list's kind names it. */
    assert_string_equal(get(s, TT_K8S_INGRESS, "l/typed")->u.ingress.default_backend.service,
                        "from-list");
    assert_int_equal(count(logs, "\"object ignored\""), 2); /* Deployment, DeploymentList item */
    assert_int_equal(count(logs, "\"level\":\"warn\""), 0);

    assert_int_equal(load(s, "list.json", &err), 0);
    assert_int_equal(get(s, TT_K8S_SERVICE, "json/j2")->u.service.ports[0].port, 81);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 3);
    tt_k8s_store_free(s);
}

static void test_bad_objects(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_err err;

    assert_int_equal(load(s, "bad-objects.yaml", &err), 0);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 1);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_INGRESS), 0);
    get(s, TT_K8S_SERVICE, "bad/good");
    /* One line per rejected object, naming kind, object and reason. */
    assert_int_equal(count(logs, "\"object rejected\""), 5);
    assert_int_equal(count(logs, "\"level\":\"warn\""), 5);
    assert_int_equal(count(logs, "\"kind\":\"Ingress\",\"object\":\"bad/wrong-spec\","
                                 "\"reason\":\"spec: expected an object\""),
                     1);
    assert_int_equal(count(logs, "\"object\":\"bad/bad-port\",\"reason\":\"spec.ports[0].port: "
                                 "70000 is out of range 1..65535\""),
                     1);
    assert_int_equal(count(logs, "\"reason\":\"document is not a mapping\""), 1);
    assert_int_equal(count(logs, "\"object\":\"no-kind\",\"reason\":\"kind: missing\""), 1);
    assert_int_equal(
        count(logs, "metadata.annotations[\\\"nginx.ingress.kubernetes.io/proxy-connect-timeout"
                    "\\\"]: expected a string value"),
        1);
    assert_int_equal(count(logs, "bad-objects.yaml"), 6); /* 5 rejections + summary */
    tt_k8s_store_free(s);
}

static void test_unparseable(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_err err;

    assert_int_equal(load(s, "broken.yaml", &err), TT_EPARSE);
    assert_non_null(strstr(err.msg, "broken.yaml: line "));
    /* Parsing happens before anything is stored: the valid first document is not loaded. */
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 0);
    assert_int_equal(tt_k8s_store_changes(s), 0);

    assert_int_equal(load(s, "broken.json", &err), TT_EPARSE);
    assert_non_null(strstr(err.msg, "broken.json: line 3: invalid JSON"));
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 0);

    assert_int_equal(load(s, "does-not-exist.yaml", &err), -ENOENT);
    assert_non_null(strstr(err.msg, "does-not-exist.yaml"));
    tt_k8s_store_free(s);
}

static void test_anchors(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_err err;

    assert_int_equal(load(s, "anchors.yaml", &err), 0);
    const struct tt_k8s_object *a = get(s, TT_K8S_SERVICE, "y/anchored");
    assert_string_equal(tt_k8s_meta_annotation(&a->meta, "tier"), "web");
    const struct tt_k8s_object *m = get(s, TT_K8S_SERVICE, "y/merged");
    assert_string_equal(tt_k8s_meta_label(&m->meta, "app"), "shop");
    assert_string_equal(tt_k8s_meta_label(&m->meta, "tier"), "api"); /* explicit key wins */
    tt_k8s_store_free(s);
}

static void test_empty_folder(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    struct tt_err err = {0};
    char dir[] = "/tmp/tt-empty-XXXXXX";

    assert_non_null(mkdtemp(dir));
    capture_begin();
    assert_int_equal(tt_k8s_manifests_load(s, dir, &err), 0);
    capture_end();
    assert_int_equal(count(logs, "\"files\":0"), 1);
    rmdir(dir);
    tt_k8s_store_free(s);
}

/* ---- YAML scalars and limits ---- */

static cJSON *yaml(const char *text, int want_rc, const char *want_msg)
{
    cJSON *docs = NULL;
    struct tt_err err = {0};
    int rc = tt_k8s_yaml_parse(text, strlen(text), &docs, &err);
    if (rc != want_rc || (want_msg != NULL && strstr(err.msg, want_msg) == NULL))
        fail_msg("rc=%d msg=\"%s\", wanted %d \"%s\" for: %s", rc, err.msg, want_rc,
                 want_msg ? want_msg : "", text);
    return docs;
}

static void expect_yaml(const char *text, const char *want_json)
{
    cJSON *docs = yaml(text, 0, NULL);
    char *got = cJSON_PrintUnformatted(docs);
    assert_string_equal(got, want_json);
    cJSON_free(got);
    cJSON_Delete(docs);
}

static void test_yaml_scalars(void **state)
{
    (void)state;
    expect_yaml("a: 80\nb: \"80\"\nc: '80'\nd: !!str 80\ne: 08\n",
                "[{\"a\":80,\"b\":\"80\",\"c\":\"80\",\"d\":\"80\",\"e\":8}]");
    expect_yaml("t: true\nT: True\nf: FALSE\ny: yes\nn: no\non: on\n",
                "[{\"t\":true,\"T\":true,\"f\":false,\"y\":\"yes\",\"n\":\"no\",\"on\":\"on\"}]");
    expect_yaml("a: ~\nb: null\nc:\nd: NULL\ne: 'null'\n",
                "[{\"a\":null,\"b\":null,\"c\":null,\"d\":null,\"e\":\"null\"}]");
    expect_yaml("a: 1.5\nb: -2\nc: 0x1F\nd: 0o17\ne: 1e3\nf: +3\ng: 1.2.3\nh: 0x\n",
                "[{\"a\":1.5,\"b\":-2,\"c\":31,\"d\":15,\"e\":1000,\"f\":3,\"g\":\"1.2.3\","
                "\"h\":\"0x\"}]");
    expect_yaml("v: 8m\nw: 2024-01-01T00:00:00Z\nx: |\n  line\ny: >-\n  folded\n  text\n",
                "[{\"v\":\"8m\",\"w\":\"2024-01-01T00:00:00Z\",\"x\":\"line\\n\","
                "\"y\":\"folded text\"}]");
    expect_yaml("80: http\n", "[{\"80\":\"http\"}]");
    expect_yaml("", "[]");
    expect_yaml("# comment only\n", "[]");
    expect_yaml("---\n---\na: 1\n---\n", "[null,{\"a\":1},null]");
    expect_yaml("{\"json\": [1, \"two\", {\"x\": null}]}", "[{\"json\":[1,\"two\",{\"x\":null}]}]");
    expect_yaml("a: &x [1, 2]\nb: *x\n", "[{\"a\":[1,2],\"b\":[1,2]}]");
    expect_yaml("base: &b {p: 1, q: 2}\nm:\n  <<: [*b, {r: 3}]\n  q: 9\n",
                "[{\"base\":{\"p\":1,\"q\":2},\"m\":{\"q\":9,\"p\":1,\"r\":3}}]");
    expect_yaml("'<<': 1\n", "[{\"<<\":1}]");
}

static void test_yaml_errors(void **state)
{
    (void)state;
    yaml("a: 1\na: 2\n", TT_EPARSE, "line 2 column 4: duplicate mapping key");
    yaml("a: [1\n", TT_EPARSE, "line 2 column 1: ");
    yaml("a: *missing\n", TT_EPARSE, "alias to an unknown anchor");
    yaml("? [a]\n: b\n", TT_EPARSE, "complex mapping keys are not supported");
    yaml("*a : b\n", TT_EPARSE, NULL);
    yaml("a: \"x\\0y\"\n", TT_EPARSE, "NUL character");
    yaml("a: <<\n<<: 1\n", TT_EPARSE, "merge key << needs a mapping");
    yaml("a: b\n\t- c\n", TT_EPARSE, NULL);

    char deep[256];
    memset(deep, '[', 70);
    memset(deep + 70, ']', 70);
    deep[140] = '\0';
    yaml(deep, TT_ERANGE, "nested deeper than 64 levels");

    /* Billion laughs: nine levels of nine aliases each would be 387 million nodes. */
    yaml("a: &a [x,x,x,x,x,x,x,x,x]\n"
         "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
         "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
         "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
         "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
         "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
         "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
         "i: [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
         TT_ERANGE, "document too large");

    /* Aliases cannot nest past the depth limit either. */
    char nest[512];
    int n = snprintf(nest, sizeof(nest), "a: &a ");
    for (int i = 0; i < 40; i++)
        nest[n++] = '[';
    for (int i = 0; i < 40; i++)
        nest[n++] = ']';
    n += snprintf(nest + n, sizeof(nest) - (size_t)n,
                  "\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]"
                  "]]]]]]]]]]]]]]]]]]]]\n");
    yaml(nest, TT_ERANGE, "through an alias");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unparseable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
