/* route/route.h - immutable routing table snapshots and host/path matching.
 * Threads: a builder is used by one thread (the watcher, or main at startup). A finished table
 * is read-only and may be matched, ref'd and unref'd from any thread; the last unref frees it.
 * Invariants: every string and array a table hands out lives in the table's own memory and
 * stays valid while the caller holds a reference. Matching never allocates. */
#ifndef TT_ROUTE_ROUTE_H
#define TT_ROUTE_ROUTE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"
#include "base/slice.h"

enum tt_path_type {
    TT_PATH_EXACT = 0,
    TT_PATH_PREFIX,
    TT_PATH_IMPL_SPECIFIC, /* matched as Prefix; documented in README */
};

struct tt_route_endpoint {
    struct sockaddr_storage addr; /* AF_INET or AF_INET6 with port set */
    socklen_t addr_len;
    char text[56];                /* "10.0.0.1:8080" or "[fd00::1]:8080", for logs */
    const char *id;               /* stable id "ns/svc:port@ip:port"; key for per-worker state */
};

/* A Service port resolved to its ready endpoints. */
struct tt_route_backend {
    const char *name;             /* "ns/svc:port" (port as written in the Ingress) */
    uint32_t index;               /* 0..tt_route_table_backend_count()-1, dense */
    uint32_t n_endpoints;         /* 0: answer 503 */
    const struct tt_route_endpoint *endpoints;
};

/* Per-rule behaviour that comes from annotations and flags; copied into the table. Later
 * issues add the affinity and canary policies here. */
struct tt_route_policy {
    uint64_t max_body;            /* request body limit in bytes (proxy-body-size); 0 = none */
};

struct tt_route_rule {
    const char *host;             /* lower-case; "" = any host; "*.foo.com" = wildcard */
    const char *path;
    uint32_t path_len;
    enum tt_path_type type;
    const struct tt_route_backend *backend;
    const char *ingress;          /* "ns/name" of the Ingress that declared it, for logs */
    struct tt_route_policy policy;
};

struct tt_route_match {
    const struct tt_route_rule *rule;       /* NULL when a default backend answered */
    const struct tt_route_backend *backend; /* NULL: nothing matched, answer 404 */
    const struct tt_route_policy *policy;   /* non-NULL whenever backend is */
};

/* Input to the builder for one endpoint. |ip| is a numeric IPv4 or IPv6 address. */
struct tt_route_endpoint_spec {
    const char *ip;
    uint16_t port;
};

struct tt_route_builder;
struct tt_route_table; /* opaque */

/* Returns NULL on out of memory. */
struct tt_route_builder *tt_route_builder_new(void);
/* Frees an unfinished builder; NULL is a no-op. */
void tt_route_builder_free(struct tt_route_builder *b);

/* Adds a backend named "ns/svc:port" (or returns the index of the one already added under that
 * name; endpoints are then ignored). Endpoints are copied, deduplicated by address+port;
 * ones whose ip does not parse are skipped. Returns the backend index (>= 0) or TT_ENOMEM. */
int tt_route_builder_add_backend(struct tt_route_builder *b, const char *ns, const char *service,
                                 const char *port, const struct tt_route_endpoint_spec *eps,
                                 size_t n_eps);

/* Adds a path rule. |host| NULL or "" means any host; a wildcard must be "*." followed by at
 * least one more label. Host matching is case-insensitive (stored lower-case); path matching is
 * case-sensitive. Exact and Prefix paths must start with '/'. When the same host, path and type
 * were already added, the first one wins and TT_EEXIST is returned, so callers add Ingresses in
 * precedence order (oldest first). |policy| NULL means all-zero. Returns 0, TT_EINVAL (reason in |err|), TT_EEXIST or
 * TT_ENOMEM. */
int tt_route_builder_add_rule(struct tt_route_builder *b, const char *host, const char *path,
                              enum tt_path_type type, int backend, const char *ingress,
                              const struct tt_route_policy *policy, struct tt_err *err);

/* Sets the backend used when a host matched but no path did (|host| non-empty), or when
 * nothing matched at all (|host| NULL or ""). |policy| NULL means all-zero. First call for a
 * given host wins: returns TT_EEXIST afterwards. */
int tt_route_builder_set_default(struct tt_route_builder *b, const char *host, int backend,
                                 const struct tt_route_policy *policy, struct tt_err *err);

/* Turns the builder into a table with refcount 1; the builder is consumed either way.
 * Returns NULL on out of memory. */
struct tt_route_table *tt_route_builder_finish(struct tt_route_builder *b, uint64_t generation);

/* Host is the request's Host (port allowed, stripped here; case-insensitive), path the URL path
 * without the query. Host selection: exact host, then the wildcard for its parent domain, then
 * rules without a host. Within the chosen host, the longest matching path wins and Exact beats
 * Prefix on a tie (Ingress spec). No path matches: that host's default, then the table default.
 * A host entry found but no match is not retried under a less specific host (ingress-nginx
 * server-block semantics). */
struct tt_route_match tt_route_match(const struct tt_route_table *t, struct tt_slice host,
                                     struct tt_slice path);

struct tt_route_table *tt_route_table_ref(struct tt_route_table *t);
void tt_route_table_unref(struct tt_route_table *t); /* NULL is a no-op */
uint64_t tt_route_table_generation(const struct tt_route_table *t);
size_t tt_route_table_backend_count(const struct tt_route_table *t);
const struct tt_route_backend *tt_route_table_backend(const struct tt_route_table *t, size_t i);
size_t tt_route_table_rule_count(const struct tt_route_table *t);

/* An empty table (404 for everything), refcount 1; NULL on out of memory. */
struct tt_route_table *tt_route_table_empty(uint64_t generation);

#endif
