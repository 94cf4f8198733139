/* route/route.h - immutable routing table snapshots and host/path matching.
 * Threads: a builder is used by one thread (the watcher, or main at startup). A finished table
 * is read-only and may be matched, ref'd and unref'd from any thread; the last unref frees it.
 * Invariants: every string and array a table hands out lives in the table's own memory, and
 * every object attached to it (tt_route_builder_attach: the affinity rings and key maps) is
 * owned by it; all of it stays valid while the caller holds a reference. Matching never
 * allocates. */
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
    /* The address exactly as the control plane gave it (the EndpointSlice's text, not
     * re-canonicalised) and the port: what affinity node ids are made of, since those bytes
     * are hashed (spec/affinity-cookie-algorithms.md §1.2). Of several spellings of one
     * address+port, the first one added is kept. */
    char address[INET6_ADDRSTRLEN];
    uint16_t port;
};

/* A Service port resolved to its ready endpoints. */
struct tt_route_backend {
    const char *name;             /* "ns/svc:port" (port as written in the Ingress) */
    uint32_t index;               /* 0..tt_route_table_backend_count()-1, dense */
    uint32_t n_endpoints;         /* 0: answer 503 */
    const struct tt_route_endpoint *endpoints;
};

enum tt_route_affinity_mode {
    TT_ROUTE_AFFINITY_BALANCED = 0, /* affinity-mode: balanced (the default): the ring */
    TT_ROUTE_AFFINITY_PERSISTENT,   /* affinity-mode: persistent: the key map */
};

enum tt_route_samesite {
    TT_ROUTE_SAMESITE_UNSET = 0, /* no SameSite attribute */
    TT_ROUTE_SAMESITE_NONE,      /* SameSite=None */
    TT_ROUTE_SAMESITE_LAX,       /* SameSite=Lax */
    TT_ROUTE_SAMESITE_STRICT,    /* SameSite=Strict */
};

enum tt_route_canary_affinity {
    TT_ROUTE_CANARY_STICKY = 0, /* affinity-canary-behavior: sticky (the default) */
    TT_ROUTE_CANARY_LEGACY,     /* affinity-canary-behavior: legacy */
};

struct tt_affinity; /* balance/affinity.h; opaque to the route table, which only owns it */

/* Cookie affinity of one rule (spec/ingress-nginx-annotations.md §1-2), scoped to the rule's
 * host+path: two rules on one Service each have their own settings. When |enabled| is false
 * every other field is zero except |canary_behavior|. When it is true, cookie_name and path
 * are non-empty, state is non-NULL, and the strings hold no control byte or ';' (so they can
 * go into a Set-Cookie header as they are). In a table the strings point into the table's
 * memory and are also NUL-terminated. */
struct tt_route_affinity {
    bool enabled;                     /* affinity: cookie */
    enum tt_route_affinity_mode mode; /* affinity-mode */
    struct tt_slice cookie_name;      /* session-cookie-name; default INGRESSCOOKIE */
    struct tt_slice path;             /* Path attribute: session-cookie-path, else the rule's
                                       * path as written in the Ingress */
    struct tt_slice domain;           /* session-cookie-domain; len 0: no Domain attribute */
    enum tt_route_samesite samesite;  /* session-cookie-samesite */
    bool conditional_samesite_none;   /* session-cookie-conditional-samesite-none */
    bool secure;                      /* session-cookie-secure: always add Secure; false: add
                                       * it only when the request came over TLS */
    bool change_on_failure;           /* session-cookie-change-on-failure */
    bool has_expires;                 /* session-cookie-expires given: */
    bool has_max_age;                 /* session-cookie-max-age given: */
    int64_t expires;                  /* Expires = now + this many seconds (may be <= 0;
                                       * the caller clamps the sum) */
    int64_t max_age;                  /* Max-Age=<this> (may be <= 0) */
    enum tt_route_canary_affinity canary_behavior; /* read from a canary Ingress */
    /* The rule's backend's affinity state, built over exactly that backend's endpoints:
     * tt_affinity_lookup/choose return an index into rule->backend->endpoints. Owned by the
     * table (attached with tt_route_builder_attach); rules with the same backend and mode
     * may share one. */
    const struct tt_affinity *state;
};

/* Most canaries one rule takes (tt_route_builder_add_canary refuses more). */
#define TT_ROUTE_MAX_CANARIES 64

/* One canary Ingress attached to a primary rule (spec/ingress-nginx-annotations.md §3): which
 * requests it takes and how its sessions stick. Strings are copied into the table (and are
 * NUL-terminated there); an empty slice means the rule is not set. */
struct tt_route_canary {
    const struct tt_route_backend *backend; /* the canary's Service port (set by the table) */
    const char *ingress;                    /* "ns/name" of the canary Ingress (set by the table) */
    struct tt_slice header;         /* canary-by-header: a header name as written */
    struct tt_slice header_value;   /* canary-by-header-value: exact, case-sensitive */
    struct tt_slice header_pattern; /* canary-by-header-pattern (for logs); used when no value */
    /* The compiled pattern (a pcre2_code, attached to the builder), or NULL when the pattern
     * did not compile: a request carrying the header then goes to the primary at once. */
    const void *header_regex;
    struct tt_slice cookie;         /* canary-by-cookie: a cookie name */
    uint32_t weight;                /* canary-weight, 0..weight_total */
    uint32_t weight_total;          /* canary-weight-total when above 100, else 100 */
    /* Sticky canary (affinity-canary-behavior: sticky under a sticky primary): the primary's
     * cookie settings with |state| built over this canary's endpoints. Disabled otherwise. */
    struct tt_route_affinity affinity;
};

/* Per-rule behaviour that comes from annotations and flags; copied into the table (strings
 * included). */
struct tt_route_policy {
    uint64_t max_body;            /* request body limit in bytes (proxy-body-size); 0 = none */
    struct tt_route_affinity affinity;
};

struct tt_route_rule {
    const char *host;             /* lower-case; "" = any host; "*.foo.com" = wildcard */
    const char *path;
    uint32_t path_len;
    enum tt_path_type type;
    const struct tt_route_backend *backend;
    const char *ingress;          /* "ns/name" of the Ingress that declared it, for logs */
    struct tt_route_policy policy;
    /* Canary Ingresses attached to this rule, in the order they were added (oldest first). */
    const struct tt_route_canary *canaries;
    uint32_t n_canaries;
};

struct tt_route_match {
    const struct tt_route_rule *rule;       /* NULL when a default backend answered */
    const struct tt_route_backend *backend; /* NULL: nothing matched, answer 404 */
    const struct tt_route_policy *policy;   /* non-NULL whenever backend is */
};

/* Input to the builder for one endpoint. |ip| is a numeric IPv4 or IPv6 address; its text
 * is kept as given in tt_route_endpoint.address. */
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

/* The endpoints backend |backend| has, in the order the table will have them (index i here is
 * endpoints[i] of the table's backend), as add_backend copied and deduplicated them; their
 * |id| is still NULL. Lets the caller build per-endpoint state, such as affinity rings, before
 * finishing. Borrowed from |b| until it is finished or freed. Sets *n to the count; returns
 * NULL with *n = 0 when there are none or |backend| is not an index add_backend returned. */
const struct tt_route_endpoint *tt_route_builder_backend_endpoints(const struct tt_route_builder *b,
                                                                   int backend, size_t *n);

/* Releases an object attached to a builder. */
typedef void (*tt_route_release_fn)(void *obj);

/* Hands |obj| to the builder: the table it becomes owns it, and |release|(obj) runs exactly
 * once, when the table's last reference goes, or when the builder is freed or finish fails.
 * Use it for objects that policies point to (tt_route_affinity.state). Takes |obj| in every
 * case: on TT_ENOMEM it has already been released. NULL |obj| is a no-op. Returns 0 or
 * TT_ENOMEM. */
int tt_route_builder_attach(struct tt_route_builder *b, void *obj, tt_route_release_fn release);

/* Adds a path rule. |host| NULL or "" means any host; a wildcard must be "*." followed by at
 * least one more label. Host matching is case-insensitive (stored lower-case); path matching is
 * case-sensitive. Exact and Prefix paths must start with '/'. When the same host, path and type
 * were already added, the first one wins and TT_EEXIST is returned, so callers add Ingresses in
 * precedence order (oldest first). |policy| NULL means all-zero; it is copied, its strings
 * too, so the caller's memory may go after the call. An enabled affinity must satisfy the
 * invariants of struct tt_route_affinity, with |state| attached to this builder; a disabled
 * one is stored zeroed (canary_behavior kept). Returns 0, TT_EINVAL (reason in |err|),
 * TT_EEXIST or TT_ENOMEM. */
int tt_route_builder_add_rule(struct tt_route_builder *b, const char *host, const char *path,
                              enum tt_path_type type, int backend, const char *ingress,
                              const struct tt_route_policy *policy, struct tt_err *err);

/* The rule a canary would attach to: same host (as written, lower-cased; NULL or "" for the
 * rules without a host), same path type, and the same path (Exact: as written; Prefix and
 * ImplementationSpecific: the same normalized path, as add_rule compares). Sets *policy and
 * *backend and returns 0, or TT_ENOENT when there is no such rule. *policy is borrowed from
 * |b| until the next add_rule (which may move the rules), finish or free; until then it also
 * identifies the rule. Never allocates, so TT_ENOENT never stands for out of memory. */
int tt_route_builder_find_rule(const struct tt_route_builder *b, const char *host,
                               const char *path, enum tt_path_type type,
                               const struct tt_route_policy **policy, int *backend);

/* Attaches canary |canary| (backend index |backend|, Ingress |ingress|) to the rule
 * tt_route_builder_find_rule finds for host, path and type. |canary->backend| and
 * |->ingress| are ignored; its strings are copied; |->header_regex| and an enabled
 * |->affinity.state| must be attached to this builder. Returns 0, TT_ENOENT (no such rule:
 * a canary never creates routes), TT_EINVAL (the rule's own backend is |backend|, the rule has
 * TT_ROUTE_MAX_CANARIES already, or a bad affinity; reason in |err|) or TT_ENOMEM. */
int tt_route_builder_add_canary(struct tt_route_builder *b, const char *host, const char *path,
                                enum tt_path_type type, int backend, const char *ingress,
                                const struct tt_route_canary *canary, struct tt_err *err);

/* Sets the backend used when a host matched but no path did (|host| non-empty), or when
 * nothing matched at all (|host| NULL or ""). |policy| as for add_rule. First call for a
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
