/* balance/affinity.c - one backend's cookie affinity: the backend_key and the ring or key map
 * built once per endpoint set, and the per-attempt decision of sticky.lua's balance()
 * (spec/affinity-cookie-algorithms.md §4.4). */
#include "balance/affinity.h"

#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base.h"

struct tt_affinity {
    atomic_uint refs; /* tables and the model's reuse cache share one state */
    enum tt_affinity_mode mode;
    char backend_key[TT_AFFINITY_KEY_LEN + 1];
    struct tt_affinity_ring *ring;     /* balanced only; owned */
    struct tt_affinity_keymap *keymap; /* persistent only; owned */
};

struct tt_affinity *tt_affinity_new(enum tt_affinity_mode mode, struct tt_slice backend_name,
                                    const struct tt_affinity_node *nodes, size_t n)
{
    struct tt_affinity *a;

    if ((a = tt_calloc(1, sizeof(*a))) == NULL)
        return NULL;
    atomic_init(&a->refs, 1);
    a->mode = mode;
    tt_affinity_make_backend_key(a->backend_key, backend_name);
    if (mode == TT_AFFINITY_PERSISTENT)
        a->keymap = tt_affinity_keymap_new(backend_name, nodes, n);
    else
        a->ring = tt_affinity_ring_new(nodes, n);
    if (a->keymap == NULL && a->ring == NULL) {
        tt_free(a);
        return NULL;
    }
    return a;
}

struct tt_affinity *tt_affinity_ref(const struct tt_affinity *a)
{
    struct tt_affinity *m = (struct tt_affinity *)a; /* only the count changes */
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void tt_affinity_free(struct tt_affinity *a)
{
    if (a == NULL || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    tt_affinity_ring_free(a->ring);
    tt_affinity_keymap_free(a->keymap);
    tt_free(a);
}

enum tt_affinity_mode tt_affinity_mode(const struct tt_affinity *a)
{
    return a->mode;
}

const char *tt_affinity_backend_key(const struct tt_affinity *a)
{
    return a->backend_key;
}

bool tt_affinity_is_affinitized(const struct tt_affinity *a, struct tt_slice backend_key)
{
    return backend_key.len == TT_AFFINITY_KEY_LEN &&
           memcmp(backend_key.ptr, a->backend_key, TT_AFFINITY_KEY_LEN) == 0;
}

int tt_affinity_lookup(const struct tt_affinity *a, struct tt_slice upstream_key)
{
    if (upstream_key.len == 0)
        return TT_ENOENT;
    if (a->mode == TT_AFFINITY_PERSISTENT)
        return tt_affinity_keymap_lookup(a->keymap, upstream_key);
    return tt_affinity_ring_lookup(a->ring, upstream_key);
}

int tt_affinity_choose(const struct tt_affinity *a, struct tt_slice upstream_key, bool repick,
                       const uint32_t *excluded, size_t n_excluded, tt_affinity_rand_fn rnd,
                       void *rnd_ctx, struct tt_affinity_choice *out)
{
    char key[TT_AFFINITY_KEY_LEN + 1];
    int index, len;

    out->issue = false;
    out->value_len = 0;
    out->value[0] = '\0';
    if (!repick && (index = tt_affinity_lookup(a, upstream_key)) >= 0)
        return out->index = index;
    if (a->mode == TT_AFFINITY_PERSISTENT)
        index = tt_affinity_keymap_pick(a->keymap, excluded, n_excluded, rnd, rnd_ctx, key);
    else
        index = tt_affinity_ring_pick(a->ring, excluded, n_excluded, rnd, rnd_ctx, key);
    if (index >= 0) {
        len = tt_affinity_value_format(out->value, sizeof(out->value), tt_slice_cstr(key),
                                       tt_slice_make(a->backend_key, TT_AFFINITY_KEY_LEN));
        TT_DASSERT(len > 0);
        out->value_len = (size_t)len;
        out->issue = true;
    }
    return out->index = index;
}
