/* control/watcher.h - the watcher thread: Kubernetes API -> store -> route table -> publish.
 * Threads: tt_watcher_start/_stop from the main thread; everything else (libcurl, cJSON, the
 * store, the model build, the publish callback) runs on the watcher thread it starts.
 * Flow: one reflector per kind (Ingress, IngressClass, Service, EndpointSlice, TLS Secret)
 * lists and watches through one libcurl multi handle. Nothing is published until every kind
 * has listed once; then the first table goes out at once. Later changes are debounced: a
 * build starts |debounce_ms| after the last change, but never later than |debounce_max_ms|
 * after the first unbuilt one, so a steady stream of events cannot starve publishing.
 * Every rebuild is logged with its cause and duration; problems with objects are logged once
 * per (object, reason), not once per rebuild. */
#ifndef TT_CONTROL_WATCHER_H
#define TT_CONTROL_WATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "k8s/kubeconfig.h"
#include "model/build.h"
#include "route/route.h"

/* Takes the caller's reference to |t| (tether passes it on to tt_proxy_publish). Called on
 * the watcher thread. */
typedef void (*tt_watcher_publish_cb)(void *ud, struct tt_route_table *t);

struct tt_watcher_config {
    const struct tt_k8s_conn *conn;      /* borrowed; must outlive the watcher */
    const char *watch_namespace;         /* NULL: all namespaces */
    const struct tt_model_config *model; /* borrowed; must outlive the watcher */
    uint32_t debounce_ms;                /* default 5 */
    uint32_t debounce_max_ms;            /* default 50 */
    uint32_t backoff_initial_ms;         /* reflector backoff; 0 = 800 (tests shorten it) */
    tt_watcher_publish_cb publish;
    void *ud;
};

struct tt_watcher;

/* Starts the thread. 0, or a negative code with |err| set. */
int tt_watcher_start(struct tt_watcher **out, const struct tt_watcher_config *cfg,
                     struct tt_err *err);
/* Stops the thread (transfers are aborted), joins it and frees everything. NULL: no-op. */
void tt_watcher_stop(struct tt_watcher *w);
/* A snapshot for /metrics, refreshed by the watcher thread after each round of I/O. */
#define TT_WATCHER_KINDS 5
struct tt_watcher_stats {
    struct {
        const char *kind; /* "Ingress", ... (static) */
        bool synced;
        uint64_t objects, lists, watches, events, relists, errors;
    } kinds[TT_WATCHER_KINDS];
    uint64_t rebuilds;
    int64_t last_publish_unix; /* wall-clock seconds; 0 before the first */
    uint64_t last_build_us;
    uint64_t reported_problems; /* distinct (object, reason) reports of the last build */
};
/* Any thread. */
void tt_watcher_stats(struct tt_watcher *w, struct tt_watcher_stats *out);

/* True once every kind has listed once and the first table was published. Any thread. */
bool tt_watcher_synced(const struct tt_watcher *w);

#endif
