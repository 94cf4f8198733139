/* balance/affinity.h - ingress-nginx compatible cookie affinity: node ids, backend_key,
 * the balanced consistent-hash ring, the persistent key map, the Cookie header scanner and the
 * per-attempt decision, bit for bit as spec/affinity-cookie-algorithms.md describes them.
 * Threads: any. Builders (_new) run where the route table is built; the objects they return are
 * immutable, so lookups may run on any thread with no locking. Nothing here logs.
 * Invariants: lookups, cookie scanning, splitting and choosing never allocate; everything that
 * can be is precomputed by the builders. Endpoint "indexes" are the caller's own numbers
 * (e.g. positions in tt_route_backend.endpoints) and are handed back unchanged. */
#ifndef TT_BALANCE_AFFINITY_H
#define TT_BALANCE_AFFINITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

#define TT_AFFINITY_KEY_LEN    32  /* lowercase MD5 hex: backend_key and persistent keys */
#define TT_AFFINITY_TOKEN_LEN  16  /* balanced tokens tether issues: 16 lowercase hex chars */
#define TT_AFFINITY_POINTS     160 /* ring points per node (lua-resty-balancer, weight 1) */
#define TT_AFFINITY_MAX_NODES  (1u << 20) /* builders refuse more (no Service comes close) */
#define TT_AFFINITY_PICK_TRIES 20         /* balanced pick_new attempts (sticky_balanced.lua) */
/* "<upstream_key>|<backend_key>" plus NUL; the persistent key is the longer upstream_key. */
#define TT_AFFINITY_VALUE_SIZE (TT_AFFINITY_KEY_LEN + 1 + TT_AFFINITY_KEY_LEN + 1)
/* "[" + 45-char IPv6 text + "]:" + 5 port digits + NUL, rounded up. */
#define TT_AFFINITY_NODE_ID_SIZE 64

enum tt_affinity_mode {
    TT_AFFINITY_BALANCED = 0, /* affinity-mode: balanced (the default) */
    TT_AFFINITY_PERSISTENT,   /* affinity-mode: persistent */
};

/* One endpoint as the builders see it. |id| is the node id (§1.2, see tt_affinity_node_id) and
 * is only read during the build; |index| is what lookups return for it. Ids are compared as
 * bytes; two nodes with the same id are one node, and the first one's index is kept. */
struct tt_affinity_node {
    struct tt_slice id;
    uint32_t index;
};

/* The caller's random source: each call returns 64 fresh random bits. Used only when a new
 * cookie is issued; it needs no cryptographic strength (ingress-nginx uses math.random), but
 * every bit should be random. Tests pass a seeded generator to be deterministic. */
typedef uint64_t (*tt_affinity_rand_fn)(void *ctx);

/* ---- hashes and names (pure functions; no allocation) ---- */

/* CRC-32/ISO-HDLC (zlib, PNG): crc32("123456789") == 0xcbf43926, crc32("") == 0. */
uint32_t tt_affinity_crc32(const void *p, size_t n);

/* Writes the 32 lowercase hex digits of MD5(p[0..n)) to |out| and a NUL at out[32]. */
void tt_affinity_md5hex(char out[TT_AFFINITY_KEY_LEN + 1], const void *p, size_t n);

/* backend_key = md5hex(md5hex(name) ++ name) (§1.3); 32 hex digits and a NUL into |out|. */
void tt_affinity_make_backend_key(char out[TT_AFFINITY_KEY_LEN + 1], struct tt_slice backend_name);

/* Persistent key of a node = md5hex(backend_name ++ node_id) (§3); 32 hex digits and a NUL. */
void tt_affinity_make_persistent_key(char out[TT_AFFINITY_KEY_LEN + 1],
                                     struct tt_slice backend_name, struct tt_slice node_id);

/* Formats the node id of an endpoint (§1.2): "<address>:<port>" when |address| matches
 * balancer.lua's IPv4 test (Lua pattern "^%d+.%d+.%d+.%d+$", whose dots match any byte), else
 * "[<address>]:<port>". |address| must be the EndpointSlice text unchanged (it is hashed, so
 * an IPv6 address must not be re-canonicalised). Writes at most |cap| bytes including a NUL.
 * Returns the length without the NUL, or TT_ERANGE when it does not fit (nothing useful is
 * written then). TT_AFFINITY_NODE_ID_SIZE is enough for any IPv4 or IPv6 text. */
int tt_affinity_node_id(char *buf, size_t cap, struct tt_slice address, uint16_t port);

/* Formats the ingress-nginx backend (upstream) name "<ns>-<service>-<port>" (§1.1), where
 * |port| is the Ingress backend's port as written: the number in decimal, else the name. An
 * empty |service| gives "<ns>-INVALID". Same return convention as tt_affinity_node_id. */
int tt_affinity_backend_name(char *buf, size_t cap, struct tt_slice ns, struct tt_slice service,
                             struct tt_slice port);

/* ---- balanced mode: the consistent-hash ring (§2) ---- */

struct tt_affinity_ring; /* opaque, immutable */

/* Builds the ring of |n| nodes: 160 points per distinct node id, point k hashing
 * id ++ le32(point k-1) (point -1 = 0), sorted by hash; equal hashes of different nodes are
 * ordered by node id bytes (the original's order there is LuaJIT's table order, which cannot
 * be reproduced, §2.2). The result does not depend on the order of |nodes|. |nodes| is only
 * read; the ring copies the ids. n == 0 gives an empty ring. Returns NULL on out of memory or
 * on invalid input (n > TT_AFFINITY_MAX_NODES, an index > INT32_MAX); free with
 * tt_affinity_ring_free. */
struct tt_affinity_ring *tt_affinity_ring_new(const struct tt_affinity_node *nodes, size_t n);
void tt_affinity_ring_free(struct tt_affinity_ring *r); /* NULL is a no-op */

/* The endpoint a token routes to: the owner of the first point whose hash is >= crc32(token),
 * wrapping to the first point (§2.3). Any token maps somewhere, including an empty one.
 * Returns the node's index, or TT_ENOENT when the ring is empty. */
int tt_affinity_ring_lookup(const struct tt_affinity_ring *r, struct tt_slice token);

/* Issues a new balanced token (§2.4): up to TT_AFFINITY_PICK_TRIES random tokens until one
 * routes to an index not in excluded[0..n_excluded) (the endpoints this request already
 * tried; NULL when n_excluded is 0). On success writes the token (TT_AFFINITY_TOKEN_LEN hex
 * digits, a NUL after them) to |token| and returns the index; returns TT_ENOENT when the ring
 * is empty or every try hit an excluded endpoint (no peer: answer 502). */
int tt_affinity_ring_pick(const struct tt_affinity_ring *r, const uint32_t *excluded,
                          size_t n_excluded, tt_affinity_rand_fn rnd, void *rnd_ctx,
                          char token[TT_AFFINITY_TOKEN_LEN + 1]);

/* Introspection, for tests and debugging. */
size_t tt_affinity_ring_points(const struct tt_affinity_ring *r); /* 160 x distinct nodes */
size_t tt_affinity_ring_nodes(const struct tt_affinity_ring *r);  /* distinct nodes */
/* Position (0..points-1) of the point a hash maps to; precondition: the ring is not empty. */
size_t tt_affinity_ring_find(const struct tt_affinity_ring *r, uint32_t hash);
/* Point |pos| (< points): its hash, its node's index and its node id (borrowed from |r|). */
void tt_affinity_ring_point(const struct tt_affinity_ring *r, size_t pos, uint32_t *hash,
                            uint32_t *index, struct tt_slice *id);

/* ---- persistent mode: key -> endpoint map (§3) ---- */

struct tt_affinity_keymap; /* opaque, immutable */

/* Builds the map md5hex(backend_name ++ id) -> index for |n| nodes (distinct ids; a repeated
 * id keeps its first index). Arguments are only read. n == 0 gives an empty map. Returns NULL
 * on out of memory or invalid input (as tt_affinity_ring_new); free with
 * tt_affinity_keymap_free. */
struct tt_affinity_keymap *tt_affinity_keymap_new(struct tt_slice backend_name,
                                                  const struct tt_affinity_node *nodes, size_t n);
void tt_affinity_keymap_free(struct tt_affinity_keymap *m); /* NULL is a no-op */

/* Exact, case-sensitive match of |key| against the current nodes' keys. Returns the index, or
 * TT_ENOENT for anything else (pod gone, other backend, a balanced token, garbage). */
int tt_affinity_keymap_lookup(const struct tt_affinity_keymap *m, struct tt_slice key);

/* Chooses a node uniformly at random among those whose index is not in excluded[], writes
 * its key (32 hex digits and a NUL) to |key| and returns its index; TT_ENOENT when none is
 * left. Calls |rnd| at most once. */
int tt_affinity_keymap_pick(const struct tt_affinity_keymap *m, const uint32_t *excluded,
                            size_t n_excluded, tt_affinity_rand_fn rnd, void *rnd_ctx,
                            char key[TT_AFFINITY_KEY_LEN + 1]);

size_t tt_affinity_keymap_nodes(const struct tt_affinity_keymap *m); /* distinct nodes */

/* ---- the Cookie header (§4.2, §4.3) ---- */

/* Finds cookie |name| the way lua-resty-cookie reads nginx's $http_cookie: the |n| header
 * values are scanned as if joined with "; " (how nginx joins repeated Cookie headers). Name
 * match is exact and case-sensitive, the last occurrence wins, a name runs to the next '='
 * (it may contain ';' and spaces), a value ends at ';', SP, HTAB or the end, and nothing is
 * unquoted or decoded. Returns true and sets *value to a slice into one of |headers| (possibly
 * empty) when found; false leaves *value untouched. Never allocates. */
bool tt_affinity_cookie_find(struct tt_slice name, const struct tt_slice *headers, size_t n,
                             struct tt_slice *value);

/* A cookie value split on '|' with empty pieces dropped (§4.3): upstream_key = first piece,
 * backend_key = second piece; len 0 means absent. Pieces past the second are ignored. */
struct tt_affinity_cookie {
    struct tt_slice upstream_key;
    struct tt_slice backend_key;
};

/* Splits |value|; returns false (both pieces absent) when it has no non-empty piece, which
 * counts as no cookie. The pieces point into |value|. */
bool tt_affinity_value_split(struct tt_slice value, struct tt_affinity_cookie *out);

/* tt_affinity_cookie_find then tt_affinity_value_split; false when there is no usable cookie
 * (out is then all absent). */
bool tt_affinity_cookie_parse(struct tt_slice name, const struct tt_slice *headers, size_t n,
                              struct tt_affinity_cookie *out);

/* Writes "<upstream_key>|<backend_key>" and a NUL (§4.1) into |out| of |cap| bytes; returns the
 * length without the NUL or TT_ERANGE. TT_AFFINITY_VALUE_SIZE fits every value issued here. */
int tt_affinity_value_format(char *out, size_t cap, struct tt_slice upstream_key,
                             struct tt_slice backend_key);

/* ---- one backend's affinity: everything precomputed, one call per attempt (§4.4) ---- */

struct tt_affinity; /* opaque, immutable */

/* Builds the backend's affinity state for |mode|: its backend_key and its ring (balanced) or
 * key map (persistent) over |nodes|. Arguments are only read. Returns NULL on out of memory or
 * invalid input (as tt_affinity_ring_new), else a state holding one reference; release it with
 * tt_affinity_free. */
struct tt_affinity *tt_affinity_new(enum tt_affinity_mode mode, struct tt_slice backend_name,
                                    const struct tt_affinity_node *nodes, size_t n);
/* Another reference to |a| (which stays immutable), so that several route tables can share
 * one state while its endpoints do not change. Any thread. */
struct tt_affinity *tt_affinity_ref(const struct tt_affinity *a);
/* Releases one reference; the last frees the state. Any thread. NULL is a no-op. */
void tt_affinity_free(struct tt_affinity *a);

enum tt_affinity_mode tt_affinity_mode(const struct tt_affinity *a);
/* The backend's 32-digit backend_key, NUL-terminated, owned by |a|. */
const char *tt_affinity_backend_key(const struct tt_affinity *a);

/* Whether a cookie's backend_key names this backend: the canary/primary pinning test (§4.4).
 * An absent (empty) backend_key never matches. */
bool tt_affinity_is_affinitized(const struct tt_affinity *a, struct tt_slice backend_key);

/* Endpoint of an existing cookie's upstream_key: ring lookup (balanced; any non-empty key maps
 * somewhere) or exact key match (persistent). TT_ENOENT when absent (len 0), unknown
 * (persistent) or when there are no nodes. */
int tt_affinity_lookup(const struct tt_affinity *a, struct tt_slice upstream_key);

/* The decision for one balancer attempt. */
struct tt_affinity_choice {
    int index;  /* endpoint index; TT_ENOENT: no peer (502) */
    bool issue; /* a new cookie was made: Set-Cookie <name>=value, if the request's
                 * (host, Ingress path) registers this cookie */
    size_t value_len;
    char value[TT_AFFINITY_VALUE_SIZE]; /* "<upstream_key>|<backend_key>" when issue */
};

/* §4.4 for one attempt: look |upstream_key| (len 0 = no cookie) up; when that gives no peer,
 * or when |repick| (this attempt follows a failed one AND session-cookie-change-on-failure),
 * pick a new endpoint avoiding excluded[0..n_excluded) (indexes already tried by this
 * request) and make a new cookie value. Fills |out| and returns out->index. |rnd| is called
 * only when a new endpoint has to be picked. Exclusion compares indexes where the original
 * compares node id strings from $upstream_addr; ids and indexes correspond one to one. */
int tt_affinity_choose(const struct tt_affinity *a, struct tt_slice upstream_key, bool repick,
                       const uint32_t *excluded, size_t n_excluded, tt_affinity_rand_fn rnd,
                       void *rnd_ctx, struct tt_affinity_choice *out);

#endif
