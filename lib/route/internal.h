/* route/internal.h - what the files of lib/route share and nobody else may see: the layout of a
 * finished table, the open-addressing index used for hosts and backend names, and the host and
 * path helpers. Threads: as route.h (builder helpers on the builder's thread, the rest any).
 * Invariants: a table is one block from tt_malloc; every pointer in it points into that block,
 * except those to attached objects (owned[]), which the last unref releases before the block. */
#ifndef TT_ROUTE_INTERNAL_H
#define TT_ROUTE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "route/route.h"

/* Longest host accepted in a rule: a DNS name is at most 253 characters (RFC 1035 §2.3.4, and
 * Kubernetes' IsDNS1123Subdomain), the "*." of a wildcard included. */
#define TT_ROUTE__HOST_MAX 253
/* Longest rule path accepted. Request heads are capped at 32 KiB, so longer never matches. */
#define TT_ROUTE__PATH_MAX 8192

/* One slot of an open-addressing index: the key's hash and the entry index plus one (0 marks
 * an empty slot). Keeping the hash lets a rehash work without looking at the keys. */
struct tt_route__slot {
    uint32_t hash;
    uint32_t idx1;
};

/* Power-of-two array of slots kept at most half full, so probes stay short. */
struct tt_route__index {
    struct tt_route__slot *slots;
    uint32_t mask; /* capacity - 1; 0 with slots == NULL when empty */
    uint32_t count;
};

/* A rule as the table stores it. |pub| comes first: tt_route_match hands out &pub. */
struct tt_route__rule {
    struct tt_route_rule pub;
    const char *key; /* Exact: the path as written; Prefix: normalized (see path_normalize) */
    uint32_t key_len;
};

/* A host entry: the rules for one host, sorted so that the first match is the answer, and that
 * host's default backend. Entry 0 of a table is the any-host entry, whose default is the
 * table default. */
struct tt_route__host {
    const char *name; /* exact: the host; wildcard: the parent domain (after "*.") */
    uint32_t name_len;
    uint32_t first_rule;
    uint32_t n_rules;
    const struct tt_route_backend *def_backend; /* NULL: no default for this host */
    struct tt_route_policy def_policy;
};

/* An object a builder or table owns (tt_route_builder_attach). */
struct tt_route__owned {
    void *obj;
    tt_route_release_fn release;
};

struct tt_route_table {
    atomic_uint refs;
    uint64_t generation;
    struct tt_route_backend *backends;
    uint32_t n_backends;
    uint32_t n_rules;
    struct tt_route__rule *rules;
    struct tt_route__host *hosts; /* [0] is the any-host entry */
    uint32_t n_hosts;
    struct tt_route__index exact;  /* host name -> hosts[] */
    struct tt_route__index wild;   /* parent domain of "*.parent" -> hosts[] */
    struct tt_route__owned *owned; /* released by the last unref */
    uint32_t n_owned;
};

/* FNV-1a over the ASCII-lower-cased bytes, so a request Host hashes like its stored form. */
static inline uint32_t tt_route__hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        h = (h ^ c) * 16777619u;
    }
    return h;
}

/* Makes room for |n| entries in |ix| (rehashing what is there). Returns 0 or TT_ENOMEM; on
 * failure |ix| is unchanged. */
int tt_route__index_reserve(struct tt_route__index *ix, uint32_t n);
/* Inserts entry |idx| under |hash|; room must have been reserved. Never fails. */
void tt_route__index_put(struct tt_route__index *ix, uint32_t hash, uint32_t idx);
void tt_route__index_dispose(struct tt_route__index *ix);

/* Checks a rule host and writes its lower-case form to |out| (room for TT_ROUTE__HOST_MAX + 1
 * bytes) and its length to |*out_len|. |in| must be non-empty. Sets |*wildcard| for "*.x".
 * Returns 0 or TT_EINVAL with the reason in |err|. */
int tt_route__host_check(const char *in, char *out, size_t *out_len, bool *wildcard,
                         struct tt_err *err);

/* Reduces a request Host to the name to look up: drops ":port" and one trailing dot. Returns
 * false when it cannot name any rule host (empty, an IP literal, a malformed port), in which
 * case only the any-host rules apply. |out| points into |in|. Never allocates. */
bool tt_route__req_host(struct tt_slice in, struct tt_slice *out);

/* Checks a rule path: starts with '/', at most TT_ROUTE__PATH_MAX bytes, no control bytes,
 * spaces, '?' or '#' (a request path never holds them, so such a rule could never match).
 * Returns 0 or TT_EINVAL with the reason in |err|. */
int tt_route__path_check(const char *path, size_t len, struct tt_err *err);

/* Writes the Prefix form of |path| to |out| (room for |len| + 1 bytes): empty elements dropped,
 * one '/' before each element, no trailing slash, so "/" becomes "". Returns its length. */
size_t tt_route__path_normalize(const char *path, size_t len, char *out);

/* Prefix match (Ingress spec): the elements of the normalized rule |rule| are a prefix of the
 * elements of |path|, comparing whole elements. Never allocates. */
bool tt_route__prefix_match(const char *rule, size_t rule_len, const char *path, size_t len);

#endif
