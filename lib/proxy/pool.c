/* proxy/pool.c - per-worker idle upstream connections, keyed by stable endpoint id, so a new
 * route table never drops a kept-alive connection (DESIGN §1). */
#include "proxy/internal.h"

#include <string.h>

#include "base/hash.h"

static unsigned bucket_of(const char *id)
{
    return (unsigned)(tt_hash_str(id, TT_HASH_SEED) % TT_POOL_BUCKETS);
}

struct tt_upconn *tt_pool__take(struct tt_worker *w, const char *id)
{
    struct tt_upconn **pp = &w->pool[bucket_of(id)];
    for (; *pp != NULL; pp = &(*pp)->pool_next) {
        struct tt_upconn *u = *pp;
        if (strcmp(u->id, id) == 0) {
            *pp = u->pool_next;
            u->pool_next = NULL;
            u->pooled = false;
            return u;
        }
    }
    return NULL;
}

void tt_pool__put(struct tt_worker *w, struct tt_upconn *u)
{
    struct tt_upconn **head = &w->pool[bucket_of(u->id)];
    unsigned same = 0;
    for (struct tt_upconn *x = *head; x != NULL; x = x->pool_next)
        if (strcmp(x->id, u->id) == 0)
            same++;
    if (same >= w->cfg->upstream_keepalive || w->draining) {
        tt_upconn__close(u);
        return;
    }
    u->pooled = true;
    u->pool_next = *head; /* most recently used first: warm connections get reused */
    *head = u;
}

void tt_pool__remove(struct tt_worker *w, struct tt_upconn *u)
{
    struct tt_upconn **pp = &w->pool[bucket_of(u->id)];
    for (; *pp != NULL; pp = &(*pp)->pool_next) {
        if (*pp == u) {
            *pp = u->pool_next;
            u->pool_next = NULL;
            u->pooled = false;
            return;
        }
    }
}

void tt_pool__close_all(struct tt_worker *w)
{
    for (unsigned i = 0; i < TT_POOL_BUCKETS; i++) {
        while (w->pool[i] != NULL) {
            struct tt_upconn *u = w->pool[i];
            w->pool[i] = u->pool_next;
            u->pool_next = NULL;
            u->pooled = false;
            tt_upconn__close(u);
        }
    }
}
