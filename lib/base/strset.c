/* base/strset.c - open-addressing string set with linear probing and tombstones. */
#include "base/strset.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"

static char tombstone_byte;
#define TOMBSTONE (&tombstone_byte)

static uint64_t hash(const char *s)
{
    return tt_hash_str(s, TT_HASH_SEED);
}

void tt_strset_init(struct tt_strset *s)
{
    memset(s, 0, sizeof *s);
}

void tt_strset_clear(struct tt_strset *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i] != NULL && s->slots[i] != TOMBSTONE)
            tt_free(s->slots[i]);
        s->slots[i] = NULL;
    }
    s->used = s->count = 0;
}

void tt_strset_dispose(struct tt_strset *s)
{
    tt_strset_clear(s);
    tt_free(s->slots);
    tt_strset_init(s);
}

/* Index of |str|, or SIZE_MAX. */
static size_t find(const struct tt_strset *s, const char *str)
{
    if (s->cap == 0)
        return SIZE_MAX;
    for (size_t i = hash(str) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == NULL)
            return SIZE_MAX;
        if (s->slots[i] != TOMBSTONE && strcmp(s->slots[i], str) == 0)
            return i;
    }
}

bool tt_strset_has(const struct tt_strset *s, const char *str)
{
    return find(s, str) != SIZE_MAX;
}

static void put(char **slots, size_t cap, char *str)
{
    size_t i = hash(str) & (cap - 1);
    while (slots[i] != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = str;
}

static int grow(struct tt_strset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 16;
    char **slots;

    /* Rehashing in place of a table full of tombstones keeps the size. */
    if (s->count * 4 < s->cap)
        cap = s->cap;
    if ((slots = tt_calloc(cap, sizeof *slots)) == NULL)
        return TT_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i] != NULL && s->slots[i] != TOMBSTONE)
            put(slots, cap, s->slots[i]);
    tt_free(s->slots);
    s->slots = slots;
    s->cap = cap;
    s->used = s->count;
    return 0;
}

int tt_strset_add(struct tt_strset *s, const char *str)
{
    char *copy;

    if (tt_strset_has(s, str))
        return 0;
    if ((s->used + 1) * 4 > s->cap * 3 && grow(s) != 0)
        return TT_ENOMEM;
    if ((copy = tt_strdup(str)) == NULL)
        return TT_ENOMEM;
    put(s->slots, s->cap, copy);
    s->used++;
    s->count++;
    return 1;
}

bool tt_strset_remove(struct tt_strset *s, const char *str)
{
    size_t i = find(s, str);

    if (i == SIZE_MAX)
        return false;
    tt_free(s->slots[i]);
    s->slots[i] = TOMBSTONE;
    s->count--;
    return true;
}

size_t tt_strset_remove_prefix(struct tt_strset *s, const char *prefix)
{
    size_t n = strlen(prefix), removed = 0;

    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i] != NULL && s->slots[i] != TOMBSTONE &&
            strncmp(s->slots[i], prefix, n) == 0) {
            tt_free(s->slots[i]);
            s->slots[i] = TOMBSTONE;
            s->count--;
            removed++;
        }
    }
    return removed;
}

void tt_strset_swap(struct tt_strset *a, struct tt_strset *b)
{
    struct tt_strset t = *a;
    *a = *b;
    *b = t;
}
