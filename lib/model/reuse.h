/* model/reuse.h - internal to lib/model: how a build takes and records affinity states in the
 * caller's struct tt_model_reuse (public half in model/build.h).
 * Threads: the builder's thread. */
#ifndef TT_MODEL_REUSE_H
#define TT_MODEL_REUSE_H

#include <stdbool.h>

#include "balance/affinity.h"
#include "base/slice.h"
#include "model/build.h"

/* A new reference to the state the last successful build made for upstream |name| in |mode|
 * (enum tt_route_affinity_mode) when it was built over exactly the node ids |sig| (each id
 * followed by '\n', in endpoint index order); NULL otherwise. */
struct tt_affinity *tt_model__reuse_take(struct tt_model_reuse *r, struct tt_slice name, int mode,
                                         struct tt_slice sig);

/* Records |state| (the reuse takes its own reference) as what this build uses for |name|,
 * |mode| and |sig|. 0, or TT_ENOMEM, after which the state is simply not reused next time. */
int tt_model__reuse_keep(struct tt_model_reuse *r, struct tt_slice name, int mode,
                         struct tt_slice sig, const struct tt_affinity *state);

/* Ends a build: when |built|, what it recorded replaces what the previous build recorded
 * (states no table uses any more are released); otherwise its records are dropped. */
void tt_model__reuse_commit(struct tt_model_reuse *r, bool built);

#endif
