/* route/index.c - the open-addressing index behind host lookup and backend-name dedupe.
 * The index stores only hashes and entry numbers; callers compare keys themselves while
 * probing, so the same code serves the builder's maps and the finished table. */
#include "route/internal.h"

#include <string.h>

#include "base/alloc.h"

int tt_route__index_reserve(struct tt_route__index *ix, uint32_t n)
{
    struct tt_route__slot *slots;
    uint32_t cap = 8;

    /* At most half full: with linear probing that keeps the expected probe count below two
     * even for a miss. */
    while (cap / 2 < n) {
        if (cap > UINT32_MAX / 4)
            return TT_ENOMEM;
        cap *= 2;
    }
    if (ix->slots != NULL && cap <= ix->mask + 1)
        return 0;
    if ((slots = tt_calloc(cap, sizeof(*slots))) == NULL)
        return TT_ENOMEM;
    if (ix->slots != NULL) {
        struct tt_route__index bigger = {slots, cap - 1, 0};
        for (uint32_t i = 0; i <= ix->mask; i++)
            if (ix->slots[i].idx1 != 0)
                tt_route__index_put(&bigger, ix->slots[i].hash, ix->slots[i].idx1 - 1);
        tt_free(ix->slots);
    }
    ix->slots = slots;
    ix->mask = cap - 1;
    return 0;
}

void tt_route__index_put(struct tt_route__index *ix, uint32_t hash, uint32_t idx)
{
    uint32_t i = hash & ix->mask;

    while (ix->slots[i].idx1 != 0)
        i = (i + 1) & ix->mask;
    ix->slots[i].hash = hash;
    ix->slots[i].idx1 = idx + 1;
    ix->count++;
}

void tt_route__index_dispose(struct tt_route__index *ix)
{
    tt_free(ix->slots);
    memset(ix, 0, sizeof(*ix));
}
