/* proxy/proxy.h - the libuv data plane: worker loops, listeners, and route-table publishing.
 * Threads: tt_proxy_start/_shutdown/_wait/_free from the main thread; tt_proxy_publish from any
 * one thread at a time (main at startup, the watcher later). Each worker loop runs on its own
 * thread with its own SO_REUSEPORT listener, upstream keep-alive pools and round-robin state;
 * the only cross-thread traffic is a mutex-guarded pending-table slot plus uv_async_send. */
#ifndef TT_PROXY_PROXY_H
#define TT_PROXY_PROXY_H

/* Most connect attempts per request (--proxy-next-upstream-tries): sticky requests remember
 * every endpoint they tried. */
#define TT_PROXY_MAX_TRIES 32

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "route/route.h"

struct tt_proxy_config {
    const char *bind_address;        /* "0.0.0.0", "127.0.0.1", "::" */
    int http_port;
    int workers;                     /* >= 1 */
    uint64_t client_header_timeout_ms;
    uint64_t client_body_timeout_ms;
    uint64_t client_send_timeout_ms;
    uint64_t keepalive_timeout_ms;
    uint64_t proxy_connect_timeout_ms;
    uint64_t proxy_read_timeout_ms;
    uint64_t proxy_send_timeout_ms;
    uint64_t shutdown_grace_ms;
    size_t max_header_bytes;         /* whole request head; over it: 431 */
    uint32_t max_headers;            /* header count; over it: 431 */
    size_t max_uri_bytes;            /* request target; over it: 414 */
    uint32_t upstream_keepalive;     /* idle connections kept per endpoint and worker */
    uint64_t upstream_keepalive_timeout_ms;
    uint32_t upstream_keepalive_requests;
    uint32_t proxy_next_upstream_tries; /* connect attempts per request, 1..TT_PROXY_MAX_TRIES */
};

/* Counters summed over workers, for /metrics. */
struct tt_proxy_stats {
    uint64_t connections_accepted;
    uint64_t connections_active;
    uint64_t requests;
    uint64_t responses_by_class[6]; /* index status/100; [0] = connection errors */
    uint64_t upstream_connects;
    uint64_t upstream_reuses;
    uint64_t upstream_connect_failures;
    uint64_t affinity[5];           /* sticky decisions: [1] hit, [2] new, [3] rebind,
                                     * [4] failover ([0] unused) */
};

struct tt_proxy;

void tt_proxy_config_defaults(struct tt_proxy_config *cfg);

/* Binds one listener per worker (SO_REUSEPORT) and starts the worker threads. |cfg| is copied
 * except bind_address, which must outlive the proxy. Returns 0 or a negative code with a
 * reason in |err| (e.g. address in use). Workers answer 503 until the first publish. */
int tt_proxy_start(struct tt_proxy **out, const struct tt_proxy_config *cfg, struct tt_err *err);

/* Hands |t| to every worker (takes the caller's reference). Requests in flight finish on the
 * table they started with; the old table is freed when its last request ends. */
void tt_proxy_publish(struct tt_proxy *p, struct tt_route_table *t);

/* True once a table has been published. Any thread. */
bool tt_proxy_ready(const struct tt_proxy *p);
uint64_t tt_proxy_generation(const struct tt_proxy *p);
void tt_proxy_stats(const struct tt_proxy *p, struct tt_proxy_stats *out);

/* Starts a graceful stop: listeners close, idle connections close, requests in flight finish
 * for up to shutdown_grace_ms, then everything is closed. Returns at once. */
void tt_proxy_shutdown(struct tt_proxy *p);
/* Joins the worker threads (after tt_proxy_shutdown). */
void tt_proxy_wait(struct tt_proxy *p);
void tt_proxy_free(struct tt_proxy *p); /* NULL is a no-op; call after wait */

#endif
