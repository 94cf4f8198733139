/* k8s/reflector.h - client-go's list-then-watch protocol for one kind, as a state machine.
 * Threads: the watcher thread, which owns the reflector and the store it feeds.
 * The reflector knows nothing about sockets: it says which request to make next
 * (tt_k8s_reflector_poll), and is fed that request's status, body bytes and end. So the
 * protocol is unit-tested with scripted responses, and the transport (k8s/client.c, libcurl)
 * stays free of protocol decisions.
 * Protocol (spec/kubernetes-api.md §1.5):
 *   LIST  resourceVersion "0" first (any cached state), limit/continue paging; the store is
 *         replaced by the complete list, so objects deleted during a gap are removed.
 *   WATCH from the list's resourceVersion with bookmarks and timeoutSeconds in [min, 2 min);
 *         events are applied to the store as each line arrives; the last resourceVersion seen
 *         (events and bookmarks) is where the next watch starts.
 *   A watch that ends cleanly, or is cut after it delivered something, is re-opened at once
 *   from the last version. ERROR 410 (Expired/Gone), HTTP 410 and 504 "too large" lead to a
 *   relist: first "not older than" the last version, then, after another 410, a consistent
 *   read (""). Any other failure backs off exponentially with jitter (0.8 s doubling to 30 s,
 *   reset after 2 min without errors, at least Retry-After) and relists - except refused
 *   connections and 429 on a watch, which re-watch from the last version.
 * Bad objects: an object that does not decode is removed from the store (the API holds the
 * new, bad version: serving the old one would be stale) and reported once through on_reject.
 * A line that is not a watch event ends the stream: skipping it could lose an update. */
#ifndef TT_K8S_REFLECTOR_H
#define TT_K8S_REFLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/objects.h"
#include "k8s/store.h"

/* Store changes, for the rebuild's log line: |what| is "ADDED", "MODIFIED", "DELETED",
 * "relist" (an object that appeared, changed or vanished across a relist) or "rejected". */
typedef void (*tt_k8s_change_cb)(void *ud, enum tt_k8s_kind kind, const char *key,
                                 const char *what);
/* An object that failed to decode; |key| is "ns/name" (or "?" when the object has none). */
typedef void (*tt_k8s_object_reject_cb)(void *ud, enum tt_k8s_kind kind, const char *key,
                                        const char *reason);

struct tt_k8s_reflector_config {
    enum tt_k8s_kind kind;
    const char *ns;              /* NULL: all namespaces (ignored for cluster-scoped kinds) */
    uint32_t page_limit;         /* LIST limit; default 500 */
    uint32_t watch_timeout_s;    /* timeoutSeconds is drawn from [this, 2x this); default 300 */
    uint32_t backoff_initial_ms; /* default 800 */
    uint32_t backoff_max_ms;     /* default 30000 */
    uint32_t backoff_reset_ms;   /* default 120000 */
    size_t max_list_bytes;       /* one LIST page; default 512 MiB */
    tt_k8s_change_cb on_change;
    tt_k8s_object_reject_cb on_reject;
    void *ud;
};

enum tt_k8s_request_type { TT_K8S_REQ_LIST, TT_K8S_REQ_WATCH };

struct tt_k8s_request {
    enum tt_k8s_request_type type;
    const char *path;   /* path and query, e.g. "/api/v1/services?limit=500&resourceVersion=0";
                           owned by the reflector, valid until the response ends */
    uint32_t timeout_s; /* the whole exchange's deadline; a watch's is timeoutSeconds + 30 s,
                           so a half-open connection cannot hold the reflector forever */
};

struct tt_k8s_reflector;

/* Zeroed fields of |cfg| take the defaults. |seed| feeds the jitter. NULL on out of memory. */
struct tt_k8s_reflector *tt_k8s_reflector_new(const struct tt_k8s_reflector_config *cfg,
                                              struct tt_k8s_store *store, uint64_t seed);
void tt_k8s_reflector_free(struct tt_k8s_reflector *r);

/* Asks for the next request at time |now_ms|. Returns true with *req filled when one should
 * start now. Otherwise false with *wake_ms the time to ask again (UINT64_MAX while a
 * response is in progress). */
bool tt_k8s_reflector_poll(struct tt_k8s_reflector *r, uint64_t now_ms,
                           struct tt_k8s_request *req, uint64_t *wake_ms);

/* The response's status line has arrived. |retry_after_s| is Retry-After (0 when absent). */
void tt_k8s_reflector_response_status(struct tt_k8s_reflector *r, int http_status,
                                      uint32_t retry_after_s);
/* Body bytes. Returns 0 to go on, non-zero when the reflector is done with this response
 * (ERROR event, bad line, body too large): the transport should then abort the transfer and
 * still call _end. */
int tt_k8s_reflector_response_data(struct tt_k8s_reflector *r, const char *data, size_t len);
/* The exchange is over. |transport_error| is 0 for a complete response, else a short text
 * ("connection refused", "timeout", "partial transfer", ...); |refused| is true when no
 * connection could be made at all. Decides the next state. */
void tt_k8s_reflector_response_end(struct tt_k8s_reflector *r, uint64_t now_ms,
                                   const char *transport_error, bool refused);

/* Makes the pending retry happen at |now_ms| instead of after its backoff, keeping the
 * backoff level. For the transport, when a 401 was answered with a token that has since been
 * replaced (a rotated token file): waiting would only delay a request that will now succeed. */
void tt_k8s_reflector_retry_now(struct tt_k8s_reflector *r, uint64_t now_ms);

/* True once a complete LIST has been applied (stays true across relists). */
bool tt_k8s_reflector_synced(const struct tt_k8s_reflector *r);
enum tt_k8s_kind tt_k8s_reflector_kind(const struct tt_k8s_reflector *r);
/* The resourceVersion the next watch would start from; "" before the first list. */
const char *tt_k8s_reflector_rv(const struct tt_k8s_reflector *r);
/* Counters for /metrics and tests. */
struct tt_k8s_reflector_stats {
    uint64_t lists, watches, events, relists, errors;
};
void tt_k8s_reflector_stats(const struct tt_k8s_reflector *r, struct tt_k8s_reflector_stats *out);

/* The collection path of a kind: "/apis/networking.k8s.io/v1/ingresses", or with |ns|
 * ".../namespaces/<ns>/ingresses" (ignored for cluster-scoped kinds). NULL for NONE. Writes
 * into |buf| of |size| bytes; returns |buf| or NULL when it does not fit. */
const char *tt_k8s_collection_path(enum tt_k8s_kind kind, const char *ns, char *buf, size_t size);

#endif
