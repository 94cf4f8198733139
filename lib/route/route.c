/* route/route.c - the read side of a finished table: host selection, path matching, the
 * reference count and the accessors. Nothing here allocates or writes to the table except the
 * reference count, so any number of threads may match against one table at once. */
#include "route/route.h"

#include <string.h>

#include "base/alloc.h"
#include "base/base.h"
#include "route/internal.h"

static const struct tt_route__host *lookup(const struct tt_route_table *t,
                                           const struct tt_route__index *ix, struct tt_slice name)
{
    uint32_t hash = tt_route__hash(name.ptr, name.len);

    /* The index is never more than half full, so a miss ends at an empty slot quickly. */
    for (uint32_t i = hash & ix->mask; ix->slots[i].idx1 != 0; i = (i + 1) & ix->mask) {
        const struct tt_route__host *h = &t->hosts[ix->slots[i].idx1 - 1];
        if (ix->slots[i].hash == hash &&
            tt_slice_eq_nocase(tt_slice_make(h->name, h->name_len), name))
            return h;
    }
    return NULL;
}

/* Exact host, then the wildcard for the parent domain, then the any-host entry. */
static const struct tt_route__host *select_host(const struct tt_route_table *t,
                                                struct tt_slice host)
{
    const struct tt_route__host *h;
    struct tt_slice name;
    const char *dot;

    if (!tt_route__req_host(host, &name))
        return &t->hosts[0];
    if ((h = lookup(t, &t->exact, name)) != NULL)
        return h;
    /* "*.foo.com" covers exactly one non-empty label in front of "foo.com" (Ingress API). */
    dot = memchr(name.ptr, '.', name.len);
    if (dot != NULL && dot != name.ptr && dot + 1 < name.ptr + name.len) {
        struct tt_slice parent = tt_slice_make(dot + 1, (size_t)(name.ptr + name.len - dot - 1));
        if ((h = lookup(t, &t->wild, parent)) != NULL)
            return h;
    }
    return &t->hosts[0];
}

struct tt_route_match tt_route_match(const struct tt_route_table *t, struct tt_slice host,
                                     struct tt_slice path)
{
    struct tt_route_match m = {NULL, NULL, NULL};
    const struct tt_route__host *h;

    if (t == NULL)
        return m;
    /* A NULL pointer must not reach memcmp, even with length 0. */
    if (path.ptr == NULL)
        path = TT_SLICE_LIT("");
    h = select_host(t, host);
    /* Rules are sorted so that the first one that matches is the answer (see cmp_rules). */
    for (uint32_t i = 0; i < h->n_rules; i++) {
        const struct tt_route__rule *r = &t->rules[h->first_rule + i];
        bool hit = r->pub.type == TT_PATH_EXACT
                       ? path.len == r->key_len && memcmp(path.ptr, r->key, r->key_len) == 0
                       : tt_route__prefix_match(r->key, r->key_len, path.ptr, path.len);
        if (hit) {
            m.rule = &r->pub;
            m.backend = r->pub.backend;
            m.policy = &r->pub.policy;
            return m;
        }
    }
    /* No retry under a less specific host: like an ingress-nginx server block, the host that
     * was selected answers, with its own default or else the table's. */
    if (h->def_backend == NULL)
        h = &t->hosts[0];
    if (h->def_backend != NULL) {
        m.backend = h->def_backend;
        m.policy = &h->def_policy;
    }
    return m;
}

struct tt_route_table *tt_route_table_ref(struct tt_route_table *t)
{
    if (t != NULL)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void tt_route_table_unref(struct tt_route_table *t)
{
    unsigned prev;

    if (t == NULL)
        return;
    /* acq_rel: our reads of the table happen before the free, and the thread that frees sees
     * every other thread's last use (the usual shared_ptr argument). */
    prev = atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel);
    TT_ASSERT(prev > 0);
    if (prev == 1) {
        for (uint32_t i = t->n_owned; i > 0; i--)
            t->owned[i - 1].release(t->owned[i - 1].obj);
        tt_free(t); /* one block: see tt_route_builder_finish */
    }
}

uint64_t tt_route_table_generation(const struct tt_route_table *t)
{
    return t != NULL ? t->generation : 0;
}

size_t tt_route_table_backend_count(const struct tt_route_table *t)
{
    return t != NULL ? t->n_backends : 0;
}

const struct tt_route_backend *tt_route_table_backend(const struct tt_route_table *t, size_t i)
{
    return t != NULL && i < t->n_backends ? &t->backends[i] : NULL;
}

size_t tt_route_table_rule_count(const struct tt_route_table *t)
{
    return t != NULL ? t->n_rules : 0;
}

struct tt_route_table *tt_route_table_empty(uint64_t generation)
{
    struct tt_route_builder *b = tt_route_builder_new();

    return b != NULL ? tt_route_builder_finish(b, generation) : NULL;
}
