/* test/fuzz/fuzz_k8s_object.c - libFuzzer target: bytes -> JSON (or, failing that, YAML) ->
 * decode as every watched kind -> store -> tt_model_build -> free. A top-level array is a set
 * of objects, so Ingresses can reach their Services and EndpointSlices. Invariants checked:
 * no crash, no sanitizer report, and every allocation returned (tt_alloc_outstanding). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/log.h"
#include "k8s/objects.h"
#include "k8s/store.h"
#include "k8s/yaml.h"
#include "model/build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t n_reports;

static void *hook_malloc(size_t n)
{
    return tt_malloc(n);
}

static void on_report(void *ud, const char *kind, const char *object, const char *reason)
{
    (void)ud;
    /* Touch every string: they must be valid, NUL-terminated memory. */
    n_reports += (kind[0] != 0) + (object[0] != 0) + (reason[0] != 0);
}

static void feed(struct tt_k8s_store *s, const cJSON *obj)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(obj, "items");
    /* A List's items, as the manifests loader and API lists deliver them. */
    if (cJSON_IsArray(items))
        for (const cJSON *it = items->child; it != NULL; it = it->next)
            for (int k = TT_K8S_KIND_NONE; k < TT_K8S_KIND_COUNT; k++) {
                struct tt_k8s_object *o = NULL;
                if (tt_k8s_decode((enum tt_k8s_kind)k, it, &o, NULL) == 0)
                    tt_k8s_store_upsert(s, o);
            }
    for (int k = TT_K8S_KIND_NONE; k < TT_K8S_KIND_COUNT; k++) {
        struct tt_k8s_object *o = NULL;
        struct tt_err err = {0};
        if (tt_k8s_decode((enum tt_k8s_kind)k, obj, &o, &err) == 0)
            tt_k8s_store_upsert(s, o); /* takes o */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    struct tt_k8s_store *s = NULL;
    struct tt_model_config cfg;
    struct tt_route_table *t;
    struct tt_err err = {0};
    cJSON *root;
    long before;

    if (!init) {
        cJSON_Hooks h = {hook_malloc, tt_free};
        cJSON_InitHooks(&h);
        tt_log_configure("off");
        init = true;
    }
    before = tt_alloc_outstanding();
    if ((root = cJSON_ParseWithLength((const char *)data, size)) == NULL &&
        tt_k8s_yaml_parse((const char *)data, size, &root, &err) != 0)
        goto out;
    if ((s = tt_k8s_store_new()) == NULL)
        goto out;
    if (cJSON_IsArray(root)) {
        for (const cJSON *it = root->child; it != NULL; it = it->next) {
            feed(s, it);
            /* YAML documents that are arrays of objects, too. */
            if (cJSON_IsArray(it))
                for (const cJSON *in = it->child; in != NULL; in = in->next)
                    feed(s, in);
        }
    } else {
        feed(s, root);
    }

    tt_model_config_init(&cfg);
    cfg.watch_without_class = true;
    cfg.on_ignore = on_report;
    if ((t = tt_model_build(s, &cfg, 1, NULL, on_report, NULL)) == NULL)
        abort(); /* only out of memory may fail, and nothing fails allocations here */
    tt_route_table_unref(t);
    for (size_t i = 0; i < tt_k8s_store_count(s, TT_K8S_INGRESS); i++)
        tt_model_ingress_is_ours(s, NULL, tt_k8s_store_at(s, TT_K8S_INGRESS, i), NULL);

    /* Delete every other object of each kind, then build again with the defaults. */
    for (int k = TT_K8S_KIND_NONE + 1; k < TT_K8S_KIND_COUNT; k++)
        for (size_t i = 0; i < tt_k8s_store_count(s, (enum tt_k8s_kind)k); i++)
            tt_k8s_store_delete(s, (enum tt_k8s_kind)k,
                                tt_k8s_store_at(s, (enum tt_k8s_kind)k, i)->key);
    if ((t = tt_model_build(s, NULL, 2, NULL, NULL, NULL)) == NULL)
        abort();
    tt_route_table_unref(t);
out:
    tt_k8s_store_free(s);
    cJSON_Delete(root);
    if (tt_alloc_outstanding() != before)
        abort(); /* a leak through the tt_ allocators */
    return 0;
}
