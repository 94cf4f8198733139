/* k8s/store.h - the controller's cache of decoded objects, per kind, keyed by "ns/name"
 * ("name" for cluster-scoped kinds), fed by manifests or by list/watch events alike.
 * Threads: single-threaded by contract: the watcher thread (or main at startup) owns a store;
 * the route builder reads it on that same thread.
 * Invariants: iteration is in key order (strcmp), so builds are deterministic; EndpointSlices
 * are also indexed by namespace + kubernetes.io/service-name label; every mutation that may
 * change the content bumps a change counter. */
#ifndef TT_K8S_STORE_H
#define TT_K8S_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "k8s/objects.h"

struct tt_k8s_store; /* opaque */

/* Returns a new empty store, or NULL on out of memory. */
struct tt_k8s_store *tt_k8s_store_new(void);
/* Frees the store and every object in it; NULL is a no-op. */
void tt_k8s_store_free(struct tt_k8s_store *s);

/* Inserts |o| under (o->kind, o->key), replacing and freeing an object already there. The
 * store takes |o| in every case: on TT_ENOMEM it is freed and the store is unchanged.
 * Returns 0 or TT_ENOMEM (TT_EINVAL for an object without a valid kind or key, also freed).
 * Pointers previously returned for the replaced object become invalid. */
int tt_k8s_store_upsert(struct tt_k8s_store *s, struct tt_k8s_object *o);

/* Removes and frees the object; returns 0, or TT_ENOENT when there was none. */
int tt_k8s_store_delete(struct tt_k8s_store *s, enum tt_k8s_kind kind, const char *key);

/* Borrowed lookups, valid until the next mutation of the store; NULL when absent. |ns| is
 * ignored for cluster-scoped kinds. */
const struct tt_k8s_object *tt_k8s_store_get(const struct tt_k8s_store *s, enum tt_k8s_kind kind,
                                             const char *key);
const struct tt_k8s_object *tt_k8s_store_get_ns(const struct tt_k8s_store *s, enum tt_k8s_kind kind,
                                                const char *ns, const char *name);

/* Iteration in key order: for (i = 0; i < count; i++) o = tt_k8s_store_at(s, kind, i). */
size_t tt_k8s_store_count(const struct tt_k8s_store *s, enum tt_k8s_kind kind);
const struct tt_k8s_object *tt_k8s_store_at(const struct tt_k8s_store *s, enum tt_k8s_kind kind,
                                            size_t i);

/* The EndpointSlices of Service ns/service (label kubernetes.io/service-name), ordered by
 * slice name. Sets *out to a borrowed array (valid until the next mutation) and returns its
 * length; 0 when there are none. */
size_t tt_k8s_store_service_slices(const struct tt_k8s_store *s, const char *ns,
                                   const char *service, const struct tt_k8s_object *const **out);

/* Monotonic counter, bumped by every upsert and successful delete. An upsert carrying the same
 * non-empty resourceVersion as the object it replaces does not count: the apiserver guarantees
 * the content is unchanged (relists resend every object). */
uint64_t tt_k8s_store_changes(const struct tt_k8s_store *s);

#endif
