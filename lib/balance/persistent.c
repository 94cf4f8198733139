/* balance/persistent.c - persistent affinity (sticky_persistent.lua, util/nodemap.lua): each
 * node's key is md5hex(backend_name ++ node_id) and a cookie names its node by that key
 * exactly (spec/affinity-cookie-algorithms.md §3). An open-addressing table answers lookups;
 * the keys are MD5 digests, so their leading hex digits are already a uniform hash. */
#include "balance/affinity.h"

#include <string.h>

#include "balance/internal.h"
#include "base/alloc.h"

#define EMPTY UINT32_MAX

struct entry {
    char key[TT_AFFINITY_KEY_LEN];
    uint32_t index;
};

/* One allocation: the struct, then slot[mask + 1], then entry[n_nodes]. */
struct tt_affinity_keymap {
    size_t n_nodes;
    uint32_t mask;
    const uint32_t *slot;        /* entry position, or EMPTY */
    const struct entry *entries; /* distinct keys in input order */
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* keys are lowercase: 'A'-'F' cannot match */
}

/* The first 8 hex digits as a number; false when |key| cannot be a key at all. */
static bool key_hash(const char *key, size_t len, uint32_t *h)
{
    uint32_t v = 0;

    if (len != TT_AFFINITY_KEY_LEN)
        return false;
    for (int i = 0; i < 8; i++) {
        int d = hexval(key[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    *h = v;
    return true;
}

/* Probes for |key|; returns its slot, or the empty slot where it would go. */
static uint32_t probe(const struct tt_affinity_keymap *m, const struct entry *entries,
                      const uint32_t *slot, const char *key, uint32_t h)
{
    uint32_t i = h & m->mask;

    while (slot[i] != EMPTY && memcmp(entries[slot[i]].key, key, TT_AFFINITY_KEY_LEN) != 0)
        i = (i + 1) & m->mask;
    return i;
}

struct tt_affinity_keymap *tt_affinity_keymap_new(struct tt_slice backend_name,
                                                  const struct tt_affinity_node *nodes, size_t n)
{
    struct tt_affinity_keymap *m;
    size_t slots = 2, size;
    uint32_t *slot;
    struct entry *entries;
    size_t used = 0;

    if (n > TT_AFFINITY_MAX_NODES)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].index > (uint32_t)INT32_MAX)
            return NULL;
    }
    /* At most half full, so probes stay short. */
    while (slots < 2 * n)
        slots *= 2;
    size = sizeof(*m) + slots * sizeof(uint32_t) + n * sizeof(struct entry);
    if ((m = tt_malloc(size)) == NULL)
        return NULL;
    slot = (uint32_t *)(m + 1);
    entries = (struct entry *)(slot + slots);
    *m = (struct tt_affinity_keymap){0, (uint32_t)(slots - 1), slot, entries};
    for (size_t i = 0; i < slots; i++)
        slot[i] = EMPTY;
    for (size_t i = 0; i < n; i++) {
        char key[TT_AFFINITY_KEY_LEN + 1];
        uint32_t h = 0, at;

        tt_affinity_make_persistent_key(key, backend_name, nodes[i].id);
        (void)key_hash(key, TT_AFFINITY_KEY_LEN, &h); /* always hex */
        at = probe(m, entries, slot, key, h);
        if (slot[at] != EMPTY)
            continue; /* the same node id again: the first index stays */
        memcpy(entries[used].key, key, TT_AFFINITY_KEY_LEN);
        entries[used].index = nodes[i].index;
        slot[at] = (uint32_t)used++;
    }
    m->n_nodes = used;
    return m;
}

void tt_affinity_keymap_free(struct tt_affinity_keymap *m)
{
    tt_free(m);
}

int tt_affinity_keymap_lookup(const struct tt_affinity_keymap *m, struct tt_slice key)
{
    uint32_t h, at;

    if (!key_hash(key.ptr, key.len, &h))
        return TT_ENOENT;
    at = probe(m, m->entries, m->slot, key.ptr, h);
    return m->slot[at] == EMPTY ? TT_ENOENT : (int)m->entries[m->slot[at]].index;
}

static bool is_excluded(uint32_t index, const uint32_t *excluded, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (excluded[i] == index)
            return true;
    }
    return false;
}

int tt_affinity_keymap_pick(const struct tt_affinity_keymap *m, const uint32_t *excluded,
                            size_t n_excluded, tt_affinity_rand_fn rnd, void *rnd_ctx,
                            char key[TT_AFFINITY_KEY_LEN + 1])
{
    uint32_t allowed = 0, k;

    for (size_t i = 0; i < m->n_nodes; i++)
        allowed += !is_excluded(m->entries[i].index, excluded, n_excluded);
    if (allowed == 0)
        return TT_ENOENT;
    /* Uniform among the allowed nodes (§3: "chosen uniformly at random"). */
    k = tt_affinity__below(rnd(rnd_ctx), allowed);
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (is_excluded(m->entries[i].index, excluded, n_excluded))
            continue;
        if (k-- == 0) {
            memcpy(key, m->entries[i].key, TT_AFFINITY_KEY_LEN);
            key[TT_AFFINITY_KEY_LEN] = '\0';
            return (int)m->entries[i].index;
        }
    }
    return TT_ENOENT; /* not reached */
}

size_t tt_affinity_keymap_nodes(const struct tt_affinity_keymap *m)
{
    return m->n_nodes;
}
