/* test/unit/k8s/test_store.c - the object store: upsert/replace/delete, ordered iteration,
 * the Service -> EndpointSlice index and the change counter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/leakcheck.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "k8s/store.h"


static struct tt_k8s_object *make(enum tt_k8s_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static struct tt_k8s_object *make(enum tt_k8s_kind kind, const char *fmt, ...)
{
    char buf[2048];
    struct tt_k8s_object *o = NULL;
    struct tt_err err;
    va_list ap;
    cJSON *j;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    j = cJSON_Parse(buf);
    assert_non_null(j);
    if (tt_k8s_decode(kind, j, &o, &err) != 0)
        fail_msg("decode: %s", err.msg);
    cJSON_Delete(j);
    return o;
}

static struct tt_k8s_object *svc(const char *ns, const char *name, const char *rv)
{
    return make(TT_K8S_SERVICE, "{'metadata':{'name':'%s','namespace':'%s'%s%s%s}}", name, ns,
                rv ? ",'resourceVersion':'" : "", rv ? rv : "", rv ? "'" : "");
}

static struct tt_k8s_object *slice(const char *ns, const char *name, const char *service)
{
    if (service == NULL)
        return make(TT_K8S_ENDPOINT_SLICE,
                    "{'metadata':{'name':'%s','namespace':'%s'},'addressType':'IPv4'}", name, ns);
    return make(TT_K8S_ENDPOINT_SLICE,
                "{'metadata':{'name':'%s','namespace':'%s','labels':"
                "{'kubernetes.io/service-name':'%s'}},'addressType':'IPv4'}",
                name, ns, service);
}

static void test_upsert_lookup_order(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    const char *keys[] = {"a/x", "b/a", "b/b", "c/a"};

    assert_non_null(s);
    assert_int_equal(tt_k8s_store_changes(s), 0);
    assert_int_equal(tt_k8s_store_upsert(s, svc("c", "a", NULL)), 0);
    assert_int_equal(tt_k8s_store_upsert(s, svc("b", "b", NULL)), 0);
    assert_int_equal(tt_k8s_store_upsert(s, svc("a", "x", NULL)), 0);
    assert_int_equal(tt_k8s_store_upsert(s, svc("b", "a", NULL)), 0);
    assert_int_equal(tt_k8s_store_changes(s), 4);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 4);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_INGRESS), 0);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(tt_k8s_store_at(s, TT_K8S_SERVICE, i)->key, keys[i]);
    assert_null(tt_k8s_store_at(s, TT_K8S_SERVICE, 4));
    assert_string_equal(tt_k8s_store_get(s, TT_K8S_SERVICE, "b/b")->meta.name, "b");
    assert_string_equal(tt_k8s_store_get_ns(s, TT_K8S_SERVICE, "c", "a")->key, "c/a");
    assert_null(tt_k8s_store_get(s, TT_K8S_SERVICE, "b/c"));
    assert_null(tt_k8s_store_get(s, TT_K8S_INGRESS, "b/b"));
    assert_null(tt_k8s_store_get(s, TT_K8S_KIND_NONE, "b/b"));
    assert_null(tt_k8s_store_get(s, TT_K8S_KIND_COUNT, "b/b"));

    /* Cluster-scoped kinds are keyed by name alone. */
    assert_int_equal(
        tt_k8s_store_upsert(s, make(TT_K8S_INGRESS_CLASS, "{'metadata':{'name':'tether'}}")), 0);
    assert_non_null(tt_k8s_store_get(s, TT_K8S_INGRESS_CLASS, "tether"));
    assert_non_null(tt_k8s_store_get_ns(s, TT_K8S_INGRESS_CLASS, "ignored", "tether"));
    tt_k8s_store_free(s);
    tt_k8s_store_free(NULL);
}

static void test_replace_delete_changes(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    const struct tt_k8s_object *o;

    assert_int_equal(tt_k8s_store_upsert(s, svc("ns", "web", "1")), 0);
    assert_int_equal(tt_k8s_store_changes(s), 1);
    /* Same resourceVersion: replaced, but nothing changed as far as builds go. */
    assert_int_equal(tt_k8s_store_upsert(s, svc("ns", "web", "1")), 0);
    assert_int_equal(tt_k8s_store_changes(s), 1);
    assert_int_equal(tt_k8s_store_upsert(s, svc("ns", "web", "2")), 0);
    assert_int_equal(tt_k8s_store_changes(s), 2);
    o = tt_k8s_store_get(s, TT_K8S_SERVICE, "ns/web");
    assert_string_equal(o->meta.resource_version, "2");
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 1);
    /* No resourceVersion (manifests): always a change. */
    assert_int_equal(tt_k8s_store_upsert(s, svc("ns", "web", NULL)), 0);
    assert_int_equal(tt_k8s_store_upsert(s, svc("ns", "web", NULL)), 0);
    assert_int_equal(tt_k8s_store_changes(s), 4);

    assert_int_equal(tt_k8s_store_delete(s, TT_K8S_SERVICE, "ns/nope"), TT_ENOENT);
    assert_int_equal(tt_k8s_store_delete(s, TT_K8S_INGRESS, "ns/web"), TT_ENOENT);
    assert_int_equal(tt_k8s_store_delete(s, TT_K8S_KIND_NONE, "ns/web"), TT_ENOENT);
    assert_int_equal(tt_k8s_store_changes(s), 4);
    assert_int_equal(tt_k8s_store_delete(s, TT_K8S_SERVICE, "ns/web"), 0);
    assert_int_equal(tt_k8s_store_changes(s), 5);
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_SERVICE), 0);
    assert_null(tt_k8s_store_get(s, TT_K8S_SERVICE, "ns/web"));

    /* An object that is not valid for the store is freed and refused. */
    struct tt_k8s_object *bad = tt_calloc(1, sizeof(*bad));
    assert_int_equal(tt_k8s_store_upsert(s, bad), TT_EINVAL);
    tt_k8s_store_free(s);
}

static void expect_slices(const struct tt_k8s_store *s, const char *ns, const char *service,
                          const char *want)
{
    const struct tt_k8s_object *const *v = NULL;
    size_t n = tt_k8s_store_service_slices(s, ns, service, &v);
    char got[256] = "";
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(got, ",");
        strcat(got, v[i]->meta.name);
    }
    assert_string_equal(got, want);
}

static void test_slice_index(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();

    expect_slices(s, "ns", "web", "");
    assert_int_equal(tt_k8s_store_upsert(s, slice("ns", "web-b", "web")), 0);
    assert_int_equal(tt_k8s_store_upsert(s, slice("ns", "web-a", "web")), 0);
    assert_int_equal(tt_k8s_store_upsert(s, slice("ns", "webx-a", "webx")), 0);
    assert_int_equal(tt_k8s_store_upsert(s, slice("other", "web-c", "web")), 0);
    assert_int_equal(tt_k8s_store_upsert(s, slice("ns", "loose", NULL)), 0);
    assert_int_equal(tt_k8s_store_upsert(s, slice("ns", "we-a", "we")), 0);
    expect_slices(s, "ns", "web", "web-a,web-b");
    expect_slices(s, "ns", "webx", "webx-a");
    expect_slices(s, "ns", "we", "we-a");
    expect_slices(s, "other", "web", "web-c");
    expect_slices(s, "ns", "nope", "");
    expect_slices(s, "zz", "web", "");
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_ENDPOINT_SLICE), 6);

    /* A slice relabelled to another Service moves in the index. */
    assert_int_equal(tt_k8s_store_upsert(s, slice("ns", "web-a", "webx")), 0);
    expect_slices(s, "ns", "web", "web-b");
    expect_slices(s, "ns", "webx", "web-a,webx-a");
    /* Losing the label drops it from the index but keeps it in the store. */
    assert_int_equal(tt_k8s_store_upsert(s, slice("ns", "web-b", NULL)), 0);
    expect_slices(s, "ns", "web", "");
    assert_int_equal(tt_k8s_store_delete(s, TT_K8S_ENDPOINT_SLICE, "ns/webx-a"), 0);
    expect_slices(s, "ns", "webx", "web-a");
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_ENDPOINT_SLICE), 5);
    tt_k8s_store_free(s);
}

/* Many objects in reverse and in order stay sorted and findable. */
static void test_many(void **state)
{
    (void)state;
    struct tt_k8s_store *s = tt_k8s_store_new();
    char name[32], key[48];

    for (int i = 999; i >= 0; i -= 2) {
        snprintf(name, sizeof(name), "s%04d", i);
        assert_int_equal(tt_k8s_store_upsert(s, slice("ns", name, i % 3 ? "a" : "b")), 0);
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf(name, sizeof(name), "s%04d", i);
        assert_int_equal(tt_k8s_store_upsert(s, slice("ns", name, i % 3 ? "a" : "b")), 0);
    }
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_ENDPOINT_SLICE), 1000);
    for (size_t i = 1; i < 1000; i++)
        assert_true(strcmp(tt_k8s_store_at(s, TT_K8S_ENDPOINT_SLICE, i - 1)->key,
                           tt_k8s_store_at(s, TT_K8S_ENDPOINT_SLICE, i)->key) < 0);
    const struct tt_k8s_object *const *v;
    size_t na = tt_k8s_store_service_slices(s, "ns", "a", &v);
    size_t nb = tt_k8s_store_service_slices(s, "ns", "b", &v);
    assert_int_equal(na + nb, 1000);
    assert_int_equal(nb, 334);
    for (int i = 0; i < 1000; i += 7) {
        snprintf(key, sizeof(key), "ns/s%04d", i);
        assert_int_equal(tt_k8s_store_delete(s, TT_K8S_ENDPOINT_SLICE, key), 0);
    }
    assert_int_equal(tt_k8s_store_count(s, TT_K8S_ENDPOINT_SLICE), 1000 - 143);
    tt_k8s_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upsert_lookup_order, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_replace_delete_changes, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_slice_index, tt_test_leak_setup, tt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_many, tt_test_leak_setup, tt_test_leak_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
