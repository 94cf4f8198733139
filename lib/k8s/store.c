/* k8s/store.c - per-kind sorted arrays of decoded objects plus a Service -> EndpointSlice index.
 * Threads: the store's owner only (see store.h).
 * Sorted arrays rather than a hash: iteration must be deterministic, lookups are a binary
 * search, and inserts are cheap in the common case because the apiserver lists in key order. */
#include "k8s/store.h"

#include <string.h>

#include "base/alloc.h"
#include "base/base.h"

struct vec {
    struct tt_k8s_object **v;
    size_t n;
    size_t cap;
};

struct tt_k8s_store {
    struct vec kinds[TT_K8S_KIND_COUNT];
    struct vec slices_by_service; /* slices with a service-name label, by (ns, service, name) */
    uint64_t changes;
};

static int vec_reserve(struct vec *v, size_t extra)
{
    struct tt_k8s_object **nv;
    size_t cap;

    if (v->n + extra <= v->cap)
        return 0;
    cap = v->cap < 16 ? 16 : v->cap * 2;
    while (cap < v->n + extra)
        cap *= 2;
    if ((nv = tt_realloc(v->v, cap * sizeof(*nv))) == NULL)
        return TT_ENOMEM;
    v->v = nv;
    v->cap = cap;
    return 0;
}

static void vec_insert(struct vec *v, size_t at, struct tt_k8s_object *o)
{
    memmove(&v->v[at + 1], &v->v[at], (v->n - at) * sizeof(*v->v));
    v->v[at] = o;
    v->n++;
}

static void vec_remove(struct vec *v, size_t at)
{
    memmove(&v->v[at], &v->v[at + 1], (v->n - at - 1) * sizeof(*v->v));
    v->n--;
}

/* First index whose key is >= |key|; *found when equal. */
static size_t find_key(const struct vec *v, const char *key, bool *found)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v->v[mid]->key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < v->n && strcmp(v->v[lo]->key, key) == 0;
    return lo;
}

static int cmp_slice(const struct tt_k8s_object *o, const char *ns, const char *svc,
                     const char *name)
{
    int c;
    if ((c = strcmp(o->meta.ns, ns)) != 0)
        return c;
    if ((c = strcmp(o->u.slice.service_name, svc)) != 0)
        return c;
    return strcmp(o->meta.name, name);
}

static size_t find_slice(const struct vec *v, const char *ns, const char *svc, const char *name)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_slice(v->v[mid], ns, svc, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool indexed_slice(const struct tt_k8s_object *o)
{
    return o->kind == TT_K8S_ENDPOINT_SLICE && o->u.slice.service_name != NULL &&
           o->meta.ns != NULL;
}

static void index_remove(struct tt_k8s_store *s, const struct tt_k8s_object *o)
{
    struct vec *ix = &s->slices_by_service;
    size_t at = find_slice(ix, o->meta.ns, o->u.slice.service_name, o->meta.name);
    /* Keys are unique per kind, so the triple finds exactly this object. */
    TT_ASSERT(at < ix->n && ix->v[at] == o);
    vec_remove(ix, at);
}

struct tt_k8s_store *tt_k8s_store_new(void)
{
    return tt_calloc(1, sizeof(struct tt_k8s_store));
}

void tt_k8s_store_free(struct tt_k8s_store *s)
{
    if (s == NULL)
        return;
    for (int k = 0; k < TT_K8S_KIND_COUNT; k++) {
        for (size_t i = 0; i < s->kinds[k].n; i++)
            tt_k8s_object_free(s->kinds[k].v[i]);
        tt_free(s->kinds[k].v);
    }
    tt_free(s->slices_by_service.v);
    tt_free(s);
}

static bool same_version(const struct tt_k8s_object *a, const struct tt_k8s_object *b)
{
    const char *ra = a->meta.resource_version, *rb = b->meta.resource_version;
    return ra != NULL && rb != NULL && ra[0] != '\0' && strcmp(ra, rb) == 0;
}

int tt_k8s_store_upsert(struct tt_k8s_store *s, struct tt_k8s_object *o)
{
    struct tt_k8s_object *old = NULL;
    struct vec *v;
    bool found;
    size_t at;
    int rc;

    if (o->kind <= TT_K8S_KIND_NONE || o->kind >= TT_K8S_KIND_COUNT || o->key == NULL ||
        o->meta.name == NULL || (tt_k8s_kind_namespaced(o->kind) && o->meta.ns == NULL)) {
        rc = TT_EINVAL;
        goto fail;
    }
    v = &s->kinds[o->kind];
    at = find_key(v, o->key, &found);
    /* Reserve everything first so nothing can fail once the store starts changing. */
    if ((!found && (rc = vec_reserve(v, 1)) != 0) ||
        (indexed_slice(o) && (rc = vec_reserve(&s->slices_by_service, 1)) != 0))
        goto fail;
    if (found) {
        old = v->v[at];
        if (indexed_slice(old))
            index_remove(s, old);
        v->v[at] = o;
    } else {
        vec_insert(v, at, o);
    }
    if (indexed_slice(o)) {
        struct vec *ix = &s->slices_by_service;
        vec_insert(ix, find_slice(ix, o->meta.ns, o->u.slice.service_name, o->meta.name), o);
    }
    if (old == NULL || !same_version(old, o))
        s->changes++;
    tt_k8s_object_free(old);
    return 0;
fail:
    tt_k8s_object_free(o);
    return rc;
}

int tt_k8s_store_delete(struct tt_k8s_store *s, enum tt_k8s_kind kind, const char *key)
{
    struct tt_k8s_object *o;
    struct vec *v;
    bool found;
    size_t at;

    if (kind <= TT_K8S_KIND_NONE || kind >= TT_K8S_KIND_COUNT || key == NULL)
        return TT_ENOENT;
    v = &s->kinds[kind];
    at = find_key(v, key, &found);
    if (!found)
        return TT_ENOENT;
    o = v->v[at];
    if (indexed_slice(o))
        index_remove(s, o);
    vec_remove(v, at);
    tt_k8s_object_free(o);
    s->changes++;
    return 0;
}

const struct tt_k8s_object *tt_k8s_store_get(const struct tt_k8s_store *s, enum tt_k8s_kind kind,
                                             const char *key)
{
    bool found;
    size_t at;

    if (kind <= TT_K8S_KIND_NONE || kind >= TT_K8S_KIND_COUNT || key == NULL)
        return NULL;
    at = find_key(&s->kinds[kind], key, &found);
    return found ? s->kinds[kind].v[at] : NULL;
}

const struct tt_k8s_object *tt_k8s_store_get_ns(const struct tt_k8s_store *s, enum tt_k8s_kind kind,
                                                const char *ns, const char *name)
{
    char buf[256 + 64];
    size_t nl, nsl;

    if (!tt_k8s_kind_namespaced(kind))
        return tt_k8s_store_get(s, kind, name);
    /* Valid names are at most 253 bytes and namespaces 63, so a longer one cannot exist. */
    nsl = strlen(ns);
    nl = strlen(name);
    if (nsl > 63 || nl > 253)
        return NULL;
    memcpy(buf, ns, nsl);
    buf[nsl] = '/';
    memcpy(buf + nsl + 1, name, nl + 1);
    return tt_k8s_store_get(s, kind, buf);
}

size_t tt_k8s_store_count(const struct tt_k8s_store *s, enum tt_k8s_kind kind)
{
    if (kind <= TT_K8S_KIND_NONE || kind >= TT_K8S_KIND_COUNT)
        return 0;
    return s->kinds[kind].n;
}

const struct tt_k8s_object *tt_k8s_store_at(const struct tt_k8s_store *s, enum tt_k8s_kind kind,
                                            size_t i)
{
    if (i >= tt_k8s_store_count(s, kind))
        return NULL;
    return s->kinds[kind].v[i];
}

size_t tt_k8s_store_service_slices(const struct tt_k8s_store *s, const char *ns,
                                   const char *service, const struct tt_k8s_object *const **out)
{
    const struct vec *ix = &s->slices_by_service;
    size_t first = find_slice(ix, ns, service, ""), end = first;

    while (end < ix->n && strcmp(ix->v[end]->meta.ns, ns) == 0 &&
           strcmp(ix->v[end]->u.slice.service_name, service) == 0)
        end++;
    if (end == first) {
        *out = NULL; /* ix->v may be NULL, and NULL + 0 is undefined */
        return 0;
    }
    *out = (const struct tt_k8s_object *const *)(ix->v + first);
    return end - first;
}

uint64_t tt_k8s_store_changes(const struct tt_k8s_store *s)
{
    return s->changes;
}
