/* balance/ring.c - balanced affinity: lua-resty-balancer's chash ring as ingress-nginx's
 * sticky_balanced uses it (spec/affinity-cookie-algorithms.md §2). 160 points per node, each
 * point the CRC-32 of the node id followed by the previous point little-endian; lookup is a
 * lower bound on the sorted hashes with wrap-around. */
#include "balance/affinity.h"

#include <stdlib.h>
#include <string.h>

#include "balance/internal.h"
#include "base/alloc.h"
#include "base/base.h"

/* One allocation: the struct, then hash[points], owner[points], node_index[nodes],
 * id_off[nodes], id_len[nodes], then the id bytes. Slots are node ranks in id byte order. */
struct tt_affinity_ring {
    size_t n_points;
    size_t n_nodes;
    const uint32_t *hash;       /* ascending; ties of different nodes in id order */
    const uint32_t *owner;      /* node slot of each point */
    const uint32_t *node_index; /* caller's index of each slot */
    const uint32_t *id_off, *id_len;
    const char *ids;
};

struct sorted_node {
    struct tt_slice id;
    uint32_t index;
    size_t pos; /* input position: the first of equal ids wins */
};

static int slice_cmp(struct tt_slice a, struct tt_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;

    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

static int cmp_node(const void *x, const void *y)
{
    const struct sorted_node *a = x, *b = y;
    int c = slice_cmp(a->id, b->id);

    if (c != 0)
        return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos ? 1 : 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return a < b ? -1 : a > b ? 1 : 0;
}

/* Sorts a copy of |nodes| by id and drops repeated ids, keeping the first; returns the distinct
 * count, or (size_t)-1 on out of memory. *out is NULL when n == 0. */
static size_t sort_unique(const struct tt_affinity_node *nodes, size_t n, struct sorted_node **out)
{
    struct sorted_node *s;
    size_t m = 0;

    *out = NULL;
    if (n == 0)
        return 0;
    if ((s = tt_malloc(n * sizeof(*s))) == NULL)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        s[i] = (struct sorted_node){nodes[i].id, nodes[i].index, i};
    qsort(s, n, sizeof(*s), cmp_node);
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && slice_cmp(s[m - 1].id, s[i].id) == 0)
            continue;
        s[m++] = s[i];
    }
    *out = s;
    return m;
}

struct tt_affinity_ring *tt_affinity_ring_new(const struct tt_affinity_node *nodes, size_t n)
{
    struct tt_affinity_ring *r = NULL;
    struct sorted_node *s = NULL;
    uint64_t *pts = NULL;
    size_t nn, np, text = 0, size;
    uint32_t *hash, *owner, *node_index, *id_off, *id_len;
    char *ids;

    if (n > TT_AFFINITY_MAX_NODES)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].index > (uint32_t)INT32_MAX || nodes[i].id.len > (size_t)UINT32_MAX)
            return NULL;
    }
    if ((nn = sort_unique(nodes, n, &s)) == (size_t)-1)
        goto fail;
    np = nn * TT_AFFINITY_POINTS;
    for (size_t i = 0; i < nn; i++)
        text += s[i].id.len;
    if (text > (size_t)UINT32_MAX)
        goto fail;
    size = sizeof(*r) + (2 * np + 3 * nn) * sizeof(uint32_t) + text;
    if ((r = tt_malloc(size)) == NULL)
        goto fail;
    hash = (uint32_t *)(r + 1);
    owner = hash + np;
    node_index = owner + np;
    id_off = node_index + nn;
    id_len = id_off + nn;
    ids = (char *)(id_len + nn);
    *r = (struct tt_affinity_ring){np, nn, hash, owner, node_index, id_off, id_len, ids};

    text = 0;
    for (size_t i = 0; i < nn; i++) {
        node_index[i] = s[i].index;
        id_off[i] = (uint32_t)text;
        id_len[i] = (uint32_t)s[i].id.len;
        if (s[i].id.len > 0)
            memcpy(ids + text, s[i].id.ptr, s[i].id.len);
        text += s[i].id.len;
    }
    if (np > 0 && (pts = tt_malloc(np * sizeof(*pts))) == NULL)
        goto fail;
    for (size_t i = 0; i < nn; i++) {
        /* The original keeps the CRC register of the id and continues it over 4 bytes per
         * point, which equals crc32(id ++ le32(prev)) (§2.2). The bytes are built with shifts so
         * the result does not depend on the host's byte order. */
        uint32_t base = tt_affinity__crc32_update(0xffffffffu, s[i].id.ptr, s[i].id.len);
        uint32_t prev = 0;
        for (size_t k = 0; k < TT_AFFINITY_POINTS; k++) {
            uint8_t le[4] = {(uint8_t)prev, (uint8_t)(prev >> 8), (uint8_t)(prev >> 16),
                             (uint8_t)(prev >> 24)};
            prev = tt_affinity__crc32_update(base, le, 4) ^ 0xffffffffu;
            /* Sorting hash:slot as one integer orders ties between nodes by id (the slot is
             * the id's rank); ties inside one node are indistinguishable. */
            pts[i * TT_AFFINITY_POINTS + k] = (uint64_t)prev << 32 | (uint64_t)i;
        }
    }
    if (np > 0)
        qsort(pts, np, sizeof(*pts), cmp_u64);
    for (size_t i = 0; i < np; i++) {
        hash[i] = (uint32_t)(pts[i] >> 32);
        owner[i] = (uint32_t)pts[i];
    }
    tt_free(pts);
    tt_free(s);
    return r;
fail:
    tt_free(pts);
    tt_free(s);
    tt_free(r);
    return NULL;
}

void tt_affinity_ring_free(struct tt_affinity_ring *r)
{
    tt_free(r);
}

size_t tt_affinity_ring_find(const struct tt_affinity_ring *r, uint32_t h)
{
    size_t lo = 0, hi = r->n_points;

    TT_DASSERT(r->n_points > 0);
    /* Lower bound: the first point with hash >= h; past the end wraps to 0 (§2.3). The
     * original's interpolation guess plus linear scan lands on the same point. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->hash[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == r->n_points ? 0 : lo;
}

int tt_affinity_ring_lookup(const struct tt_affinity_ring *r, struct tt_slice token)
{
    if (r->n_points == 0)
        return TT_ENOENT;
    return (int)
        r->node_index[r->owner[tt_affinity_ring_find(r, tt_affinity_crc32(token.ptr, token.len))]];
}

static bool is_excluded(uint32_t index, const uint32_t *excluded, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (excluded[i] == index)
            return true;
    }
    return false;
}

int tt_affinity_ring_pick(const struct tt_affinity_ring *r, const uint32_t *excluded,
                          size_t n_excluded, tt_affinity_rand_fn rnd, void *rnd_ctx,
                          char token[TT_AFFINITY_TOKEN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";

    if (r->n_points == 0)
        return TT_ENOENT;
    /* Any non-empty token without '|', ';', whitespace or '"' is routed the same way by
     * ingress-nginx (§2.4), so 64 random bits in hex stand in for "<now+i>.<pid>.<rand>". */
    for (int attempt = 0; attempt < TT_AFFINITY_PICK_TRIES; attempt++) {
        uint64_t v = rnd(rnd_ctx);
        int index;
        for (int i = TT_AFFINITY_TOKEN_LEN - 1; i >= 0; i--, v >>= 4)
            token[i] = hex[v & 15];
        token[TT_AFFINITY_TOKEN_LEN] = '\0';
        index = tt_affinity_ring_lookup(r, tt_slice_make(token, TT_AFFINITY_TOKEN_LEN));
        if (!is_excluded((uint32_t)index, excluded, n_excluded))
            return index;
    }
    return TT_ENOENT;
}

size_t tt_affinity_ring_points(const struct tt_affinity_ring *r)
{
    return r->n_points;
}

size_t tt_affinity_ring_nodes(const struct tt_affinity_ring *r)
{
    return r->n_nodes;
}

void tt_affinity_ring_point(const struct tt_affinity_ring *r, size_t pos, uint32_t *hash,
                            uint32_t *index, struct tt_slice *id)
{
    uint32_t slot;

    TT_ASSERT(pos < r->n_points);
    slot = r->owner[pos];
    if (hash != NULL)
        *hash = r->hash[pos];
    if (index != NULL)
        *index = r->node_index[slot];
    if (id != NULL)
        *id = tt_slice_make(r->ids + r->id_off[slot], r->id_len[slot]);
}
