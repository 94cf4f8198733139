/* test/fuzz/fuzz_k8s_watch.c - libFuzzer target: a reflector fed an arbitrary LIST body and
 * an arbitrary watch stream in arbitrary chunks, then a model build over what reached the
 * store. Input layout: byte 0 picks the kind, byte 1 the chunk size, then the LIST body up to
 * the first NUL byte, then the watch stream. Invariants: no crash, no sanitizer report, every
 * allocation returned, and the reflector always asks for a next request. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "k8s/reflector.h"
#include "k8s/store.h"
#include "model/build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *hook_malloc(size_t n)
{
    return tt_malloc(n);
}

static void on_change(void *ud, enum tt_k8s_kind kind, const char *key, const char *what)
{
    (void)ud;
    (void)kind;
    if (key[0] == '\0' && what[0] == '\0')
        abort();
}

static void on_reject(void *ud, enum tt_k8s_kind kind, const char *key, const char *reason)
{
    (void)ud;
    (void)kind;
    if (key[0] == '\0' || reason == NULL)
        abort();
}

static void exchange(struct tt_k8s_reflector *r, uint64_t *now, const uint8_t *body, size_t len,
                     size_t step)
{
    struct tt_k8s_request req;
    uint64_t wake;

    while (!tt_k8s_reflector_poll(r, *now, &req, &wake)) {
        if (wake == UINT64_MAX)
            abort(); /* not in flight, yet waiting for a response */
        *now = wake;
    }
    tt_k8s_reflector_response_status(r, 200, 0);
    for (size_t off = 0; off < len; off += step)
        if (tt_k8s_reflector_response_data(r, (const char *)body + off,
                                           off + step > len ? len - off : step) != 0)
            break;
    *now += 2000;
    tt_k8s_reflector_response_end(r, *now, NULL, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    struct tt_k8s_reflector_config cfg = {.on_change = on_change, .on_reject = on_reject};
    struct tt_k8s_store *s;
    struct tt_k8s_reflector *r;
    struct tt_route_table *t;
    const uint8_t *nul;
    uint64_t now = 1000;
    size_t step, list_len;
    long before;

    if (!init) {
        cJSON_Hooks h = {hook_malloc, tt_free};
        cJSON_InitHooks(&h);
        tt_log_configure("off");
        init = true;
    }
    if (size < 2)
        return 0;
    before = tt_alloc_outstanding();
    cfg.kind = (enum tt_k8s_kind)(1 + data[0] % (TT_K8S_KIND_COUNT - 1));
    cfg.page_limit = 2;
    step = 1 + data[1];
    data += 2;
    size -= 2;
    nul = memchr(data, 0, size);
    list_len = nul ? (size_t)(nul - data) : size;

    if ((s = tt_k8s_store_new()) == NULL || (r = tt_k8s_reflector_new(&cfg, s, 1)) == NULL)
        abort();
    exchange(r, &now, data, list_len, step);
    if (nul != NULL)
        exchange(r, &now, nul + 1, size - list_len - 1, step);
    /* Whatever happened, the reflector has a next step. */
    {
        struct tt_k8s_request req;
        uint64_t wake;
        if (!tt_k8s_reflector_poll(r, UINT64_MAX - 1, &req, &wake))
            abort();
    }
    if ((t = tt_model_build(s, NULL, 1, NULL, NULL, NULL)) == NULL)
        abort();
    tt_route_table_unref(t);
    tt_k8s_reflector_free(r);
    tt_k8s_store_free(s);
    if (tt_alloc_outstanding() != before)
        abort();
    return 0;
}
