/* base/strset.h - a set of strings (open addressing, FNV-1a), for remembering what was
 * already logged so that a rebuild repeats no warning.
 * Threads: one owner at a time. Strings are copied in. */
#ifndef TT_BASE_STRSET_H
#define TT_BASE_STRSET_H

#include <stdbool.h>
#include <stddef.h>

struct tt_strset {
    char **slots; /* NULL = empty, TOMBSTONE = deleted */
    size_t cap;   /* a power of two, or 0 */
    size_t used;  /* live + tombstones */
    size_t count; /* live */
};

void tt_strset_init(struct tt_strset *s);
void tt_strset_dispose(struct tt_strset *s);
bool tt_strset_has(const struct tt_strset *s, const char *str);
/* Adds a copy of |str|. Returns 1 when added, 0 when already there, TT_ENOMEM. */
int tt_strset_add(struct tt_strset *s, const char *str);
/* Removes |str|; true when it was there. */
bool tt_strset_remove(struct tt_strset *s, const char *str);
/* Removes every string that starts with |prefix|; returns how many. O(capacity). */
size_t tt_strset_remove_prefix(struct tt_strset *s, const char *prefix);
/* Swaps the contents of two sets (cheap: for "this build's set becomes the previous one"). */
void tt_strset_swap(struct tt_strset *a, struct tt_strset *b);
/* Removes everything, keeping the table. */
void tt_strset_clear(struct tt_strset *s);

#endif
