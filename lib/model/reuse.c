/* model/reuse.c - affinity states carried from one build to the next.
 *
 * A consistent-hash ring costs about 14 us per endpoint to build (160 CRC-32 points each, then
 * a sort), and every EndpointSlice or Ingress change rebuilds the whole table: 200 sticky
 * Services of 100 pods would add 300 ms to every rebuild. Rings and key maps are immutable
 * and a pure function of (upstream name, mode, node ids in order), so a rebuild takes another
 * reference to the previous build's state whenever that triple is unchanged, and only the
 * backends whose endpoints changed pay for a new one.
 *
 * Threads: the builder's thread. The states themselves are shared with route tables that
 * workers hold; their reference counts are atomic (balance/affinity.h). */
#include "model/reuse.h"

#include <string.h>

#include "base/alloc.h"
#include "base/base.h"
#include "base/hash.h"

struct entry {
    char *name;  /* upstream name; NULL = empty slot */
    int mode;    /* enum tt_route_affinity_mode */
    char *sig;   /* node ids in index order, each followed by '\n' */
    size_t sig_len;
    struct tt_affinity *state; /* one reference held by the entry */
};

struct generation {
    struct entry *slots; /* open addressing; cap is a power of two, at most half full */
    size_t cap, n;
};

struct tt_model_reuse {
    struct generation prev; /* what the last successful build used: looked up */
    struct generation next; /* what the running build uses: becomes prev on commit */
};

static size_t hash_key(struct tt_slice name, int mode)
{
    return (size_t)tt_hash_bytes(name.ptr, name.len, TT_HASH_SEED ^ (uint64_t)mode);
}

static void entry_dispose(struct entry *e)
{
    tt_free(e->name);
    tt_free(e->sig);
    tt_affinity_free(e->state);
    memset(e, 0, sizeof(*e));
}

static void generation_dispose(struct generation *g)
{
    for (size_t i = 0; i < g->cap; i++)
        if (g->slots[i].name != NULL)
            entry_dispose(&g->slots[i]);
    tt_free(g->slots);
    memset(g, 0, sizeof(*g));
}

static struct entry *find(const struct generation *g, struct tt_slice name, int mode)
{
    if (g->cap == 0)
        return NULL;
    for (size_t i = hash_key(name, mode) & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
        struct entry *e = &g->slots[i];
        if (e->name == NULL)
            return NULL;
        if (e->mode == mode && strlen(e->name) == name.len &&
            memcmp(e->name, name.ptr, name.len) == 0)
            return e;
    }
}

static void place(struct entry *slots, size_t cap, struct entry e)
{
    size_t i = hash_key(tt_slice_cstr(e.name), e.mode) & (cap - 1);
    while (slots[i].name != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = e;
}

static int grow(struct generation *g)
{
    size_t cap = g->cap == 0 ? 16 : g->cap * 2;
    struct entry *slots = tt_calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return TT_ENOMEM;
    for (size_t i = 0; i < g->cap; i++)
        if (g->slots[i].name != NULL)
            place(slots, cap, g->slots[i]);
    tt_free(g->slots);
    g->slots = slots;
    g->cap = cap;
    return 0;
}

struct tt_model_reuse *tt_model_reuse_new(void)
{
    return tt_calloc(1, sizeof(struct tt_model_reuse));
}

void tt_model_reuse_free(struct tt_model_reuse *r)
{
    if (r == NULL)
        return;
    generation_dispose(&r->prev);
    generation_dispose(&r->next);
    tt_free(r);
}

size_t tt_model_reuse_count(const struct tt_model_reuse *r)
{
    return r->prev.n;
}

struct tt_affinity *tt_model__reuse_take(struct tt_model_reuse *r, struct tt_slice name, int mode,
                                         struct tt_slice sig)
{
    const struct entry *e = find(&r->prev, name, mode);
    if (e == NULL || e->sig_len != sig.len || memcmp(e->sig, sig.ptr, sig.len) != 0)
        return NULL;
    return tt_affinity_ref(e->state);
}

int tt_model__reuse_keep(struct tt_model_reuse *r, struct tt_slice name, int mode,
                         struct tt_slice sig, const struct tt_affinity *state)
{
    struct entry e = {0};

    if (find(&r->next, name, mode) != NULL)
        return 0; /* one state per upstream and mode per build; the first one stays */
    if ((r->next.n + 1) * 2 > r->next.cap && grow(&r->next) != 0)
        return TT_ENOMEM;
    if ((e.name = tt_malloc(name.len + 1)) == NULL || (e.sig = tt_malloc(sig.len + 1)) == NULL) {
        tt_free(e.name);
        return TT_ENOMEM;
    }
    memcpy(e.name, name.ptr, name.len);
    e.name[name.len] = '\0';
    memcpy(e.sig, sig.ptr, sig.len);
    e.sig[sig.len] = '\0';
    e.sig_len = sig.len;
    e.mode = mode;
    e.state = tt_affinity_ref(state);
    place(r->next.slots, r->next.cap, e);
    r->next.n++;
    return 0;
}

void tt_model__reuse_commit(struct tt_model_reuse *r, bool built)
{
    if (built) {
        generation_dispose(&r->prev);
        r->prev = r->next;
    } else {
        generation_dispose(&r->next);
    }
    memset(&r->next, 0, sizeof(r->next));
}
