/* route/builder.c - collects backends, rules and defaults, then packs them into a table.
 * The builder grows ordinary heap arrays while the control plane adds Ingresses one by one;
 * finish() sizes everything once and copies it into a single block, so a published table is
 * one allocation that any thread can release with one tt_free. Every add_* call either fully
 * succeeds or leaves the builder as it was, so a rejected or out-of-memory rule can never leave
 * behind a half-made host entry that would change which host a request selects. Policies are
 * copied with their strings, and objects attached to the builder (affinity state) pass to the
 * table, which releases them with its last reference. */
#include "route/internal.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base.h"

#define NONE UINT32_MAX

struct build_backend {
    char *name; /* "ns/svc:port" */
    size_t name_len;
    uint32_t hash;
    struct tt_route_endpoint *eps; /* id still NULL: set when the table is packed */
    uint32_t n_eps;
};

/* A policy as the builder keeps it: the caller's, its affinity strings copied into |strs|. */
struct build_policy {
    struct tt_route_policy pub; /* slices point into strs */
    char *strs;                 /* NULL when the affinity is disabled */
};

/* A canary as the builder keeps it: the caller's, its strings copied into |strs|. */
struct build_canary {
    struct tt_route_canary pub; /* slices point into strs; backend and ingress unset */
    uint32_t backend;
    char *ingress;
    char *strs;
};

struct build_rule {
    char *path;
    uint32_t path_len;
    char *norm; /* Prefix and ImplementationSpecific: normalized path; Exact: NULL */
    uint32_t norm_len;
    enum tt_path_type type;
    uint32_t backend;
    uint32_t seq; /* insertion order within the host, the final tie-breaker */
    char *ingress;
    struct build_policy policy;
    struct build_canary *canaries; /* in the order they were added */
    uint32_t n_canaries;
    uint32_t cap_canaries;
};

struct build_host {
    char *name; /* lower-case, "*." kept for wildcards; NULL for the any-host entry */
    size_t name_len;
    bool wildcard;
    uint32_t hash;
    struct build_rule *rules;
    uint32_t n_rules;
    uint32_t cap_rules;
    bool has_default;
    uint32_t def_backend;
    struct build_policy def_policy;
};

struct tt_route_builder {
    struct build_backend *backends;
    uint32_t n_backends;
    uint32_t cap_backends;
    struct tt_route__index backend_ix; /* name -> backends[] */
    struct build_host *hosts;          /* [0] is the any-host entry */
    uint32_t n_hosts;
    uint32_t cap_hosts;
    struct tt_route__index host_ix; /* name as written ("*.x" for wildcards) -> hosts[] */
    uint32_t n_rules;
    uint32_t n_canaries;
    struct tt_route__owned *owned; /* attached objects, released unless a table takes them */
    uint32_t n_owned;
    uint32_t cap_owned;
};

/* Makes room for |need| elements of |size| bytes in the array that |arrp| points to (any
 * object pointer; memcpy keeps this free of type punning). On failure nothing changes. */
static int grow(void *arrp, uint32_t *cap, uint32_t need, size_t size)
{
    uint32_t n = *cap != 0 ? *cap : 4;
    void *arr;
    void *p;

    if (need <= *cap)
        return 0;
    while (n < need) {
        if (n > UINT32_MAX / 2)
            return TT_ENOMEM;
        n *= 2;
    }
    memcpy(&arr, arrp, sizeof(arr));
    if ((size_t)n > SIZE_MAX / size || (p = tt_realloc(arr, (size_t)n * size)) == NULL)
        return TT_ENOMEM;
    memcpy(arrp, &p, sizeof(p));
    *cap = n;
    return 0;
}

static uint32_t find_host(const struct tt_route_builder *b, const char *name, size_t len,
                          uint32_t hash)
{
    const struct tt_route__index *ix = &b->host_ix;

    if (ix->slots == NULL)
        return NONE;
    for (uint32_t i = hash & ix->mask; ix->slots[i].idx1 != 0; i = (i + 1) & ix->mask) {
        const struct build_host *h = &b->hosts[ix->slots[i].idx1 - 1];
        if (ix->slots[i].hash == hash && h->name_len == len && memcmp(h->name, name, len) == 0)
            return ix->slots[i].idx1 - 1;
    }
    return NONE;
}

static uint32_t find_backend(const struct tt_route_builder *b, const char *name, size_t len,
                             uint32_t hash)
{
    const struct tt_route__index *ix = &b->backend_ix;

    if (ix->slots == NULL)
        return NONE;
    for (uint32_t i = hash & ix->mask; ix->slots[i].idx1 != 0; i = (i + 1) & ix->mask) {
        const struct build_backend *be = &b->backends[ix->slots[i].idx1 - 1];
        if (ix->slots[i].hash == hash && be->name_len == len && memcmp(be->name, name, len) == 0)
            return ix->slots[i].idx1 - 1;
    }
    return NONE;
}

/* Adds a host entry with room for |rules_cap| rules. All-or-nothing. */
static int add_host(struct tt_route_builder *b, const char *name, size_t len, bool wildcard,
                    uint32_t hash, uint32_t rules_cap, uint32_t *idx)
{
    struct build_host h = {0};

    if (b->n_hosts == UINT32_MAX - 1 ||
        grow(&b->hosts, &b->cap_hosts, b->n_hosts + 1, sizeof(*b->hosts)) != 0 ||
        tt_route__index_reserve(&b->host_ix, b->host_ix.count + 1) != 0)
        return TT_ENOMEM;
    if ((h.name = tt_strndup(name, len)) == NULL)
        goto fail;
    if (rules_cap > 0 && (h.rules = tt_malloc(rules_cap * sizeof(*h.rules))) == NULL)
        goto fail;
    h.name_len = len;
    h.wildcard = wildcard;
    h.hash = hash;
    h.cap_rules = rules_cap;
    *idx = b->n_hosts;
    b->hosts[b->n_hosts++] = h;
    tt_route__index_put(&b->host_ix, hash, *idx);
    return 0;
fail:
    tt_free(h.name);
    return TT_ENOMEM;
}

static void rule_dispose(struct build_rule *r)
{
    tt_free(r->path);
    tt_free(r->norm);
    tt_free(r->ingress);
    tt_free(r->policy.strs);
    for (uint32_t i = 0; i < r->n_canaries; i++) {
        tt_free(r->canaries[i].ingress);
        tt_free(r->canaries[i].strs);
    }
    tt_free(r->canaries);
}

/* Whether |s| can be written into a Set-Cookie header as it is: no control byte and no ';'
 * (RFC 6265 §4.1.1: cookie-av values exclude both), and for a cookie name no '=' either. */
static bool cookie_text_ok(struct tt_slice s, bool name)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x20 || c == 0x7f || c == ';' || (name && c == '='))
            return false;
    }
    return true;
}

/* Checks the parts of |p| that a table's readers rely on; |what| names the rule or default.
 * "Bad" strings hold a byte cookie_text_ok refuses. */
static int affinity_check(const struct tt_route_affinity *a, const char *what,
                          struct tt_err *err)
{
    if (a->canary_behavior != TT_ROUTE_CANARY_STICKY &&
        a->canary_behavior != TT_ROUTE_CANARY_LEGACY)
        return tt_err_set(err, TT_EINVAL, "%s: unknown affinity-canary-behavior %d", what,
                          (int)a->canary_behavior);
    if (!a->enabled)
        return 0;
    if (a->mode != TT_ROUTE_AFFINITY_BALANCED && a->mode != TT_ROUTE_AFFINITY_PERSISTENT)
        return tt_err_set(err, TT_EINVAL, "%s: unknown affinity mode %d", what, (int)a->mode);
    if (a->samesite > TT_ROUTE_SAMESITE_STRICT)
        return tt_err_set(err, TT_EINVAL, "%s: unknown SameSite value %d", what, (int)a->samesite);
    if (a->state == NULL)
        return tt_err_set(err, TT_EINVAL, "%s: affinity without its state", what);
    if (a->cookie_name.len == 0 || a->cookie_name.ptr == NULL ||
        !cookie_text_ok(a->cookie_name, true))
        return tt_err_set(err, TT_EINVAL, "%s: affinity cookie name is empty or bad", what);
    if (a->path.len == 0 || a->path.ptr == NULL || !cookie_text_ok(a->path, false))
        return tt_err_set(err, TT_EINVAL, "%s: affinity cookie path is empty or bad", what);
    if ((a->domain.len > 0 && a->domain.ptr == NULL) || !cookie_text_ok(a->domain, false))
        return tt_err_set(err, TT_EINVAL, "%s: affinity cookie domain is bad", what);
    return 0;
}

static int policy_check(const struct tt_route_policy *p, const char *what, struct tt_err *err)
{
    return affinity_check(&p->affinity, what, err);
}

/* Room the strings of an affinity take: each string and a NUL. */
static size_t affinity_strs_len(const struct tt_route_affinity *a)
{
    return a->enabled ? a->cookie_name.len + 1 + a->path.len + 1 + a->domain.len + 1 : 0;
}

static size_t policy_strs_len(const struct tt_route_policy *p)
{
    return affinity_strs_len(&p->affinity);
}

/* Room a canary's strings take (its Ingress name apart). */
static size_t canary_strs_len(const struct tt_route_canary *c)
{
    return c->header.len + 1 + c->header_value.len + 1 + c->header_pattern.len + 1 +
           c->cookie.len + 1 + affinity_strs_len(&c->affinity);
}

/* Bump allocator over the string area of the block being filled. */
static const char *put_str(char **at, const char *s, size_t n)
{
    char *p = *at;
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    *at = p + n + 1;
    return p;
}

static struct tt_slice put_slice(char **at, struct tt_slice s)
{
    return tt_slice_make(put_str(at, s.ptr, s.len), s.len);
}

/* Copies an affinity's strings to |at| (affinity_strs_len bytes) and points it at the copies. */
static void affinity_put_strs(struct tt_route_affinity *a, char **at)
{
    if (!a->enabled)
        return;
    a->cookie_name = put_slice(at, a->cookie_name);
    a->path = put_slice(at, a->path);
    a->domain = put_slice(at, a->domain);
}

static void policy_put_strs(struct tt_route_policy *p, char **at)
{
    affinity_put_strs(&p->affinity, at);
}

static void canary_put_strs(struct tt_route_canary *c, char **at)
{
    c->header = put_slice(at, c->header);
    c->header_value = put_slice(at, c->header_value);
    c->header_pattern = put_slice(at, c->header_pattern);
    c->cookie = put_slice(at, c->cookie);
    affinity_put_strs(&c->affinity, at);
}

/* Copies a checked policy (NULL: all zero) into |out|, its strings into a new block. A
 * disabled affinity is stored zeroed except for its canary behaviour. */
static int policy_copy(struct build_policy *out, const struct tt_route_policy *in)
{
    char *at;

    memset(out, 0, sizeof(*out));
    if (in == NULL)
        return 0;
    out->pub = *in;
    if (!in->affinity.enabled) {
        memset(&out->pub.affinity, 0, sizeof(out->pub.affinity));
        out->pub.affinity.canary_behavior = in->affinity.canary_behavior;
        return 0;
    }
    if ((out->strs = tt_malloc(policy_strs_len(in))) == NULL)
        return TT_ENOMEM;
    at = out->strs;
    policy_put_strs(&out->pub, &at);
    return 0;
}

struct tt_route_builder *tt_route_builder_new(void)
{
    struct tt_route_builder *b;

    if ((b = tt_calloc(1, sizeof(*b))) == NULL)
        return NULL;
    if (grow(&b->hosts, &b->cap_hosts, 1, sizeof(*b->hosts)) != 0) {
        tt_free(b);
        return NULL;
    }
    memset(&b->hosts[0], 0, sizeof(b->hosts[0]));
    b->n_hosts = 1;
    return b;
}

void tt_route_builder_free(struct tt_route_builder *b)
{
    if (b == NULL)
        return;
    for (uint32_t i = 0; i < b->n_backends; i++) {
        tt_free(b->backends[i].name);
        tt_free(b->backends[i].eps);
    }
    for (uint32_t i = 0; i < b->n_hosts; i++) {
        for (uint32_t j = 0; j < b->hosts[i].n_rules; j++)
            rule_dispose(&b->hosts[i].rules[j]);
        tt_free(b->hosts[i].rules);
        tt_free(b->hosts[i].name);
        tt_free(b->hosts[i].def_policy.strs);
    }
    for (uint32_t i = b->n_owned; i > 0; i--)
        b->owned[i - 1].release(b->owned[i - 1].obj);
    tt_free(b->owned);
    tt_free(b->backends);
    tt_free(b->hosts);
    tt_route__index_dispose(&b->backend_ix);
    tt_route__index_dispose(&b->host_ix);
    tt_free(b);
}

/* Parses one endpoint; false when the ip is not a numeric IPv4 or IPv6 address. */
static bool parse_endpoint(const struct tt_route_endpoint_spec *spec, struct tt_route_endpoint *ep)
{
    char ip[INET6_ADDRSTRLEN];

    memset(ep, 0, sizeof(*ep));
    /* inet_pton accepts no text longer than INET6_ADDRSTRLEN - 1 anyway. */
    if (spec->ip == NULL || strlen(spec->ip) >= sizeof(ep->address))
        return false;
    memcpy(ep->address, spec->ip, strlen(spec->ip) + 1);
    ep->port = spec->port;
    if (inet_pton(AF_INET, spec->ip, &((struct sockaddr_in *)&ep->addr)->sin_addr) == 1) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ep->addr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(spec->port);
        ep->addr_len = sizeof(*sin);
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(ep->text, sizeof(ep->text), "%s:%u", ip, (unsigned)spec->port);
        return true;
    }
    if (inet_pton(AF_INET6, spec->ip, &((struct sockaddr_in6 *)&ep->addr)->sin6_addr) == 1) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->addr;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(spec->port);
        ep->addr_len = sizeof(*sin6);
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        snprintf(ep->text, sizeof(ep->text), "[%s]:%u", ip, (unsigned)spec->port);
        return true;
    }
    memset(ep, 0, sizeof(*ep));
    return false;
}

const struct tt_route_endpoint *tt_route_builder_backend_endpoints(const struct tt_route_builder *b,
                                                                   int backend, size_t *n)
{
    TT_ASSERT(b != NULL && n != NULL);
    *n = 0;
    if (backend < 0 || (uint32_t)backend >= b->n_backends)
        return NULL;
    *n = b->backends[backend].n_eps;
    return b->backends[backend].eps;
}

int tt_route_builder_attach(struct tt_route_builder *b, void *obj, tt_route_release_fn release)
{
    TT_ASSERT(b != NULL && release != NULL);
    if (obj == NULL)
        return 0;
    if (b->n_owned == UINT32_MAX - 1 ||
        grow(&b->owned, &b->cap_owned, b->n_owned + 1, sizeof(*b->owned)) != 0) {
        release(obj);
        return TT_ENOMEM;
    }
    b->owned[b->n_owned++] = (struct tt_route__owned){obj, release};
    return 0;
}

/* Copies the endpoints that parse, dropping repeats of the same address and port; the first
 * occurrence keeps its place so the order the control plane gave survives. */
static int copy_endpoints(const struct tt_route_endpoint_spec *eps, size_t n_eps,
                          struct tt_route_endpoint **out, uint32_t *n_out)
{
    struct tt_route_endpoint *arr = NULL;
    struct tt_route__index seen = {0};
    uint32_t n = 0;

    *out = NULL;
    *n_out = 0;
    if (n_eps == 0)
        return 0;
    if (n_eps > UINT32_MAX / 4 || (arr = tt_calloc(n_eps, sizeof(*arr))) == NULL ||
        tt_route__index_reserve(&seen, (uint32_t)n_eps) != 0)
        goto fail;
    for (size_t i = 0; i < n_eps; i++) {
        struct tt_route_endpoint *ep = &arr[n];
        uint32_t hash;
        bool dup = false;

        if (!parse_endpoint(&eps[i], ep))
            continue;
        /* Both sockaddr forms were zeroed before filling, so bytes compare as values. */
        hash = tt_route__hash((const char *)&ep->addr, ep->addr_len);
        for (uint32_t s = hash & seen.mask; seen.slots[s].idx1 != 0; s = (s + 1) & seen.mask) {
            const struct tt_route_endpoint *o = &arr[seen.slots[s].idx1 - 1];
            if (seen.slots[s].hash == hash && o->addr_len == ep->addr_len &&
                memcmp(&o->addr, &ep->addr, ep->addr_len) == 0) {
                dup = true;
                break;
            }
        }
        if (dup)
            continue;
        tt_route__index_put(&seen, hash, n);
        n++;
    }
    tt_route__index_dispose(&seen);
    if (n == 0) {
        tt_free(arr);
        arr = NULL;
    }
    *out = arr;
    *n_out = n;
    return 0;
fail:
    tt_route__index_dispose(&seen);
    tt_free(arr);
    return TT_ENOMEM;
}

int tt_route_builder_add_backend(struct tt_route_builder *b, const char *ns, const char *service,
                                 const char *port, const struct tt_route_endpoint_spec *eps,
                                 size_t n_eps)
{
    struct build_backend be = {0};
    size_t len;
    uint32_t idx;

    TT_ASSERT(b != NULL);
    ns = ns != NULL ? ns : "";
    service = service != NULL ? service : "";
    port = port != NULL ? port : "";
    len = strlen(ns) + 1 + strlen(service) + 1 + strlen(port);
    if ((be.name = tt_malloc(len + 1)) == NULL)
        goto fail;
    snprintf(be.name, len + 1, "%s/%s:%s", ns, service, port);
    be.name_len = len;
    be.hash = tt_route__hash(be.name, len);
    if ((idx = find_backend(b, be.name, len, be.hash)) != NONE) {
        tt_free(be.name);
        return (int)idx;
    }
    if (b->n_backends >= INT_MAX ||
        grow(&b->backends, &b->cap_backends, b->n_backends + 1, sizeof(*b->backends)) != 0 ||
        tt_route__index_reserve(&b->backend_ix, b->backend_ix.count + 1) != 0)
        goto fail;
    if (copy_endpoints(eps, eps != NULL ? n_eps : 0, &be.eps, &be.n_eps) != 0)
        goto fail;
    idx = b->n_backends++;
    b->backends[idx] = be;
    tt_route__index_put(&b->backend_ix, be.hash, idx);
    return (int)idx;
fail:
    tt_free(be.name);
    return TT_ENOMEM;
}

static const char *type_name(enum tt_path_type type)
{
    switch (type) {
    case TT_PATH_EXACT:
        return "Exact";
    case TT_PATH_PREFIX:
        return "Prefix";
    case TT_PATH_IMPL_SPECIFIC:
        return "ImplementationSpecific";
    }
    return "?";
}

/* Checks |host| into |out|; NULL and "" (any host) give length 0. */
static int check_host(const char *host, char *out, size_t *len, bool *wildcard, struct tt_err *err)
{
    *len = 0;
    *wildcard = false;
    out[0] = '\0';
    if (host == NULL || host[0] == '\0')
        return 0;
    return tt_route__host_check(host, out, len, wildcard, err);
}

/* Whether rule |o| is the rule (type, path): Prefix "/foo" and "/foo/" select the same
 * requests, so they are the same rule; Exact paths compare as written. */
static bool rule_same(const struct build_rule *o, enum tt_path_type type, const char *path,
                      size_t path_len, const char *norm, size_t norm_len)
{
    if (o->type != type)
        return false;
    if (type == TT_PATH_EXACT)
        return o->path_len == path_len && memcmp(o->path, path, path_len) == 0;
    return o->norm_len == norm_len && memcmp(o->norm, norm, norm_len) == 0;
}

/* Whether tt_route__path_normalize(|path|) is |norm|, without writing it out. */
static bool norm_equals(const char *norm, size_t norm_len, const char *path, size_t len)
{
    size_t o = 0;
    size_t i = 0;

    while (i < len) {
        size_t e;
        if (path[i] == '/') {
            i++;
            continue;
        }
        for (e = i; e < len && path[e] != '/'; e++)
            ;
        if (o >= norm_len || norm[o] != '/' || norm_len - o - 1 < e - i ||
            memcmp(norm + o + 1, path + i, e - i) != 0)
            return false;
        o += 1 + (e - i);
        i = e;
    }
    return o == norm_len;
}

/* The builder rule for (host, path, type), or NULL. Never allocates, so "not found" never
 * stands for "out of memory". */
static struct build_rule *find_rule(const struct tt_route_builder *b, const char *host,
                                    const char *path, enum tt_path_type type)
{
    char name[TT_ROUTE__HOST_MAX + 1];
    size_t name_len, path_len;
    bool wildcard;
    uint32_t h_idx = 0;
    struct tt_err err;

    if (path == NULL || check_host(host, name, &name_len, &wildcard, &err) != 0)
        return NULL;
    if (name_len > 0)
        h_idx = find_host(b, name, name_len, tt_route__hash(name, name_len));
    if (h_idx == NONE)
        return NULL;
    path_len = strlen(path);
    for (uint32_t i = 0; i < b->hosts[h_idx].n_rules; i++) {
        struct build_rule *o = &b->hosts[h_idx].rules[i];
        if (o->type != type)
            continue;
        if (type == TT_PATH_EXACT ? o->path_len == path_len && memcmp(o->path, path, path_len) == 0
                                  : norm_equals(o->norm, o->norm_len, path, path_len))
            return o;
    }
    return NULL;
}

int tt_route_builder_find_rule(const struct tt_route_builder *b, const char *host,
                               const char *path, enum tt_path_type type,
                               const struct tt_route_policy **policy, int *backend)
{
    const struct build_rule *r = find_rule(b, host, path, type);
    if (r == NULL)
        return TT_ENOENT;
    *policy = &r->policy.pub;
    *backend = (int)r->backend;
    return 0;
}

int tt_route_builder_add_canary(struct tt_route_builder *b, const char *host, const char *path,
                                enum tt_path_type type, int backend, const char *ingress,
                                const struct tt_route_canary *canary, struct tt_err *err)
{
    struct build_rule *r = find_rule(b, host, path, type);
    struct build_canary c = {0};
    char *at;
    int rc;

    if (r == NULL)
        return tt_err_set(err, TT_ENOENT, "no rule %s%s (%s) to be a canary of",
                          host != NULL && host[0] != '\0' ? host : "(any host)",
                          path != NULL ? path : "", type_name(type));
    if (backend < 0 || (uint32_t)backend >= b->n_backends)
        return tt_err_set(err, TT_EINVAL, "canary of %s: unknown backend %d", r->path, backend);
    if ((uint32_t)backend == r->backend)
        return tt_err_set(err, TT_EINVAL, "canary of %s%s uses the rule's own backend %s",
                          host != NULL ? host : "", r->path, b->backends[backend].name);
    if (r->n_canaries == TT_ROUTE_MAX_CANARIES)
        return tt_err_set(err, TT_EINVAL, "rule %s%s already has %d canaries, the most one rule takes",
                          host != NULL ? host : "", r->path, TT_ROUTE_MAX_CANARIES);
    if ((rc = affinity_check(&canary->affinity, "canary", err)) != 0)
        return rc;
    if (grow(&r->canaries, &r->cap_canaries, r->n_canaries + 1, sizeof(*r->canaries)) != 0 ||
        (c.ingress = tt_strdup(ingress != NULL ? ingress : "")) == NULL ||
        (c.strs = tt_malloc(canary_strs_len(canary))) == NULL) {
        tt_free(c.ingress);
        return tt_err_set(err, TT_ENOMEM, "out of memory");
    }
    c.pub = *canary;
    c.pub.backend = NULL;
    c.pub.ingress = NULL;
    if (c.pub.weight_total < 100)
        c.pub.weight_total = 100;
    if (c.pub.weight > c.pub.weight_total)
        c.pub.weight = c.pub.weight_total;
    c.backend = (uint32_t)backend;
    at = c.strs;
    canary_put_strs(&c.pub, &at);
    r->canaries[r->n_canaries++] = c;
    b->n_canaries++;
    return 0;
}

int tt_route_builder_add_rule(struct tt_route_builder *b, const char *host, const char *path,
                              enum tt_path_type type, int backend, const char *ingress,
                              const struct tt_route_policy *policy, struct tt_err *err)
{
    char name[TT_ROUTE__HOST_MAX + 1];
    size_t name_len;
    bool wildcard;
    uint32_t hash = 0;
    uint32_t h_idx = 0;
    size_t path_len;
    struct build_rule r = {0};
    struct build_host *h;
    int rc;

    TT_ASSERT(b != NULL);
    ingress = ingress != NULL ? ingress : "";
    if ((rc = check_host(host, name, &name_len, &wildcard, err)) != 0)
        return rc;
    if (type != TT_PATH_EXACT && type != TT_PATH_PREFIX && type != TT_PATH_IMPL_SPECIFIC)
        return tt_err_set(err, TT_EINVAL, "rule for %s: unknown path type %d",
                          name_len > 0 ? name : "any host", (int)type);
    if (path == NULL)
        return tt_err_set(err, TT_EINVAL, "rule for %s: no path", name_len > 0 ? name : "any host");
    path_len = strlen(path);
    if ((rc = tt_route__path_check(path, path_len, err)) != 0)
        return rc;
    if (backend < 0 || (uint32_t)backend >= b->n_backends)
        return tt_err_set(err, TT_EINVAL, "rule %s%s: unknown backend %d", name, path, backend);
    if (policy != NULL) {
        char what[TT_ROUTE__HOST_MAX + 96];
        snprintf(what, sizeof(what), "rule %s%.64s", name, path);
        if ((rc = policy_check(policy, what, err)) != 0)
            return rc;
    }

    r.type = type;
    r.backend = (uint32_t)backend;
    r.path_len = (uint32_t)path_len;
    if (type != TT_PATH_EXACT) {
        if ((r.norm = tt_malloc(path_len + 1)) == NULL)
            goto fail;
        r.norm_len = (uint32_t)tt_route__path_normalize(path, path_len, r.norm);
    }

    if (name_len > 0) {
        hash = tt_route__hash(name, name_len);
        h_idx = find_host(b, name, name_len, hash);
    }
    if (h_idx != NONE) {
        h = &b->hosts[h_idx];
        for (uint32_t i = 0; i < h->n_rules; i++) {
            const struct build_rule *o = &h->rules[i];
            if (rule_same(o, type, path, path_len, r.norm, r.norm_len)) {
                rule_dispose(&r);
                return tt_err_set(err, TT_EEXIST, "rule %s%s (%s): already declared by %s", name,
                                  path, type_name(type), o->ingress);
            }
        }
    }

    if ((r.path = tt_strndup(path, path_len)) == NULL || (r.ingress = tt_strdup(ingress)) == NULL ||
        policy_copy(&r.policy, policy) != 0)
        goto fail;
    if (h_idx == NONE) {
        if (add_host(b, name, name_len, wildcard, hash, 4, &h_idx) != 0)
            goto fail;
    } else if (grow(&b->hosts[h_idx].rules, &b->hosts[h_idx].cap_rules, b->hosts[h_idx].n_rules + 1,
                    sizeof(struct build_rule)) != 0) {
        goto fail;
    }
    h = &b->hosts[h_idx];
    r.seq = h->n_rules;
    h->rules[h->n_rules++] = r;
    b->n_rules++;
    return 0;
fail:
    rule_dispose(&r);
    return tt_err_set(err, TT_ENOMEM, "rule %s%s: out of memory", name, path);
}

int tt_route_builder_set_default(struct tt_route_builder *b, const char *host, int backend,
                                 const struct tt_route_policy *policy, struct tt_err *err)
{
    char name[TT_ROUTE__HOST_MAX + 1];
    size_t name_len;
    bool wildcard;
    uint32_t hash = 0;
    uint32_t h_idx = 0;
    struct build_host *h;
    struct build_policy pol;
    int rc;

    TT_ASSERT(b != NULL);
    if ((rc = check_host(host, name, &name_len, &wildcard, err)) != 0)
        return rc;
    if (backend < 0 || (uint32_t)backend >= b->n_backends)
        return tt_err_set(err, TT_EINVAL, "default for %s: unknown backend %d",
                          name_len > 0 ? name : "any host", backend);
    if (policy != NULL) {
        char what[TT_ROUTE__HOST_MAX + 32];
        snprintf(what, sizeof(what), "default for %s", name_len > 0 ? name : "any host");
        if ((rc = policy_check(policy, what, err)) != 0)
            return rc;
    }
    if (name_len > 0) {
        hash = tt_route__hash(name, name_len);
        h_idx = find_host(b, name, name_len, hash);
    }
    if (h_idx != NONE && b->hosts[h_idx].has_default)
        return tt_err_set(err, TT_EEXIST, "default for %s: already set",
                          name_len > 0 ? name : "any host");
    if (policy_copy(&pol, policy) != 0)
        return tt_err_set(err, TT_ENOMEM, "default for %s: out of memory", name);
    if (h_idx == NONE && add_host(b, name, name_len, wildcard, hash, 0, &h_idx) != 0) {
        tt_free(pol.strs);
        return tt_err_set(err, TT_ENOMEM, "default for %s: out of memory", name);
    }
    h = &b->hosts[h_idx];
    h->has_default = true;
    h->def_backend = (uint32_t)backend;
    h->def_policy = pol;
    return 0;
}

/* Longest first; on equal length Exact first (Ingress spec: "Exact beats Prefix"); then the
 * order of addition, which makes qsort's unstable order irrelevant. For Prefix the length is
 * that of the normalized path, so "/foo/" ties with Exact "/foo" and loses, as the spec's
 * table wants. An Exact rule that matches a request is never shorter than a Prefix rule that
 * matches it, so sorting by these lengths is the same as "longest matching path wins". */
static int cmp_rules(const void *pa, const void *pb)
{
    const struct build_rule *a = pa;
    const struct build_rule *b = pb;
    uint32_t la = a->type == TT_PATH_EXACT ? a->path_len : a->norm_len;
    uint32_t lb = b->type == TT_PATH_EXACT ? b->path_len : b->norm_len;

    if (la != lb)
        return la > lb ? -1 : 1;
    if ((a->type == TT_PATH_EXACT) != (b->type == TT_PATH_EXACT))
        return a->type == TT_PATH_EXACT ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

static size_t align_up(size_t n)
{
    const size_t a = alignof(max_align_t);
    return (n + a - 1) & ~(a - 1);
}

static uint32_t index_cap(uint32_t n)
{
    uint32_t cap = 2;
    while (cap / 2 < n)
        cap *= 2;
    return cap;
}

struct tt_route_table *tt_route_builder_finish(struct tt_route_builder *b, uint64_t generation)
{
    struct tt_route_table *t = NULL;
    size_t n_eps = 0;
    size_t strs = 0;
    uint32_t n_exact = 0;
    uint32_t n_wild = 0;
    size_t off_be, off_ep, off_rule, off_can, off_host, off_exact, off_wild, off_own, off_str, size;
    struct tt_route_canary *can_at;
    struct tt_route_endpoint *ep_at;
    struct tt_route__rule *rule_at;
    char *str_at;
    char *block;

    if (b == NULL)
        return NULL;
    /* Pass 1: measure. Everything below is already in memory, so these sums cannot overflow
     * in a way that matters before the allocation itself fails. */
    for (uint32_t i = 0; i < b->n_backends; i++) {
        const struct build_backend *be = &b->backends[i];
        strs += be->name_len + 1;
        n_eps += be->n_eps;
        for (uint32_t j = 0; j < be->n_eps; j++)
            strs += be->name_len + 1 + strlen(be->eps[j].text) + 1;
    }
    for (uint32_t i = 0; i < b->n_hosts; i++) {
        const struct build_host *h = &b->hosts[i];
        strs += h->name_len + 1;
        if (h->has_default)
            strs += policy_strs_len(&h->def_policy.pub);
        if (i > 0 && h->wildcard)
            n_wild++;
        else if (i > 0)
            n_exact++;
        for (uint32_t j = 0; j < h->n_rules; j++) {
            const struct build_rule *r = &h->rules[j];
            strs += r->path_len + 1 + strlen(r->ingress) + 1 + policy_strs_len(&r->policy.pub);
            if (r->type != TT_PATH_EXACT)
                strs += r->norm_len + 1;
            for (uint32_t k = 0; k < r->n_canaries; k++)
                strs += strlen(r->canaries[k].ingress) + 1 + canary_strs_len(&r->canaries[k].pub);
        }
    }
    off_be = align_up(sizeof(*t));
    off_ep = align_up(off_be + b->n_backends * sizeof(struct tt_route_backend));
    off_rule = align_up(off_ep + n_eps * sizeof(struct tt_route_endpoint));
    off_can = align_up(off_rule + b->n_rules * sizeof(struct tt_route__rule));
    off_host = align_up(off_can + b->n_canaries * sizeof(struct tt_route_canary));
    off_exact = align_up(off_host + b->n_hosts * sizeof(struct tt_route__host));
    off_wild = align_up(off_exact + index_cap(n_exact) * sizeof(struct tt_route__slot));
    off_own = align_up(off_wild + index_cap(n_wild) * sizeof(struct tt_route__slot));
    off_str = align_up(off_own + b->n_owned * sizeof(struct tt_route__owned));
    size = off_str + strs;
    if ((block = tt_calloc(1, size)) == NULL)
        goto out;

    /* Pass 2: fill. */
    t = (struct tt_route_table *)block;
    atomic_init(&t->refs, 1);
    t->generation = generation;
    t->backends = (struct tt_route_backend *)(block + off_be);
    t->n_backends = b->n_backends;
    t->rules = (struct tt_route__rule *)(block + off_rule);
    t->n_rules = b->n_rules;
    t->hosts = (struct tt_route__host *)(block + off_host);
    t->n_hosts = b->n_hosts;
    t->exact = (struct tt_route__index){(struct tt_route__slot *)(block + off_exact),
                                        index_cap(n_exact) - 1, 0};
    t->wild = (struct tt_route__index){(struct tt_route__slot *)(block + off_wild),
                                       index_cap(n_wild) - 1, 0};
    /* The table owns the attached objects from here on; the builder must not release them. */
    t->owned = (struct tt_route__owned *)(block + off_own);
    t->n_owned = b->n_owned;
    if (b->n_owned > 0)
        memcpy(t->owned, b->owned, b->n_owned * sizeof(*b->owned));
    b->n_owned = 0;
    ep_at = (struct tt_route_endpoint *)(block + off_ep);
    rule_at = t->rules;
    can_at = (struct tt_route_canary *)(block + off_can);
    str_at = block + off_str;

    for (uint32_t i = 0; i < b->n_backends; i++) {
        const struct build_backend *be = &b->backends[i];
        struct tt_route_backend *tb = &t->backends[i];
        tb->name = put_str(&str_at, be->name, be->name_len);
        tb->index = i;
        tb->n_endpoints = be->n_eps;
        tb->endpoints = be->n_eps > 0 ? ep_at : NULL;
        for (uint32_t j = 0; j < be->n_eps; j++) {
            size_t tl = strlen(be->eps[j].text);
            char *id = str_at;
            *ep_at = be->eps[j];
            memcpy(id, be->name, be->name_len);
            id[be->name_len] = '@';
            memcpy(id + be->name_len + 1, be->eps[j].text, tl + 1);
            str_at += be->name_len + 1 + tl + 1;
            ep_at->id = id;
            ep_at++;
        }
    }
    for (uint32_t i = 0; i < b->n_hosts; i++) {
        struct build_host *h = &b->hosts[i];
        struct tt_route__host *th = &t->hosts[i];
        const char *full = put_str(&str_at, h->name != NULL ? h->name : "", h->name_len);

        th->name = h->wildcard ? full + 2 : full;
        th->name_len = (uint32_t)(h->wildcard ? h->name_len - 2 : h->name_len);
        th->first_rule = (uint32_t)(rule_at - t->rules);
        th->n_rules = h->n_rules;
        if (h->has_default) {
            th->def_backend = &t->backends[h->def_backend];
            th->def_policy = h->def_policy.pub;
            policy_put_strs(&th->def_policy, &str_at);
        }
        if (i > 0)
            tt_route__index_put(h->wildcard ? &t->wild : &t->exact,
                                tt_route__hash(th->name, th->name_len), i);
        if (h->n_rules > 1)
            qsort(h->rules, h->n_rules, sizeof(*h->rules), cmp_rules);
        for (uint32_t j = 0; j < h->n_rules; j++) {
            const struct build_rule *r = &h->rules[j];
            struct tt_route__rule *tr = rule_at++;
            tr->pub.host = full;
            tr->pub.path = put_str(&str_at, r->path, r->path_len);
            tr->pub.path_len = r->path_len;
            tr->pub.type = r->type;
            tr->pub.backend = &t->backends[r->backend];
            tr->pub.ingress = put_str(&str_at, r->ingress, strlen(r->ingress));
            tr->pub.policy = r->policy.pub;
            policy_put_strs(&tr->pub.policy, &str_at);
            tr->pub.canaries = r->n_canaries > 0 ? can_at : NULL;
            tr->pub.n_canaries = r->n_canaries;
            for (uint32_t k = 0; k < r->n_canaries; k++) {
                const struct build_canary *bc = &r->canaries[k];
                *can_at = bc->pub;
                can_at->backend = &t->backends[bc->backend];
                can_at->ingress = put_str(&str_at, bc->ingress, strlen(bc->ingress));
                canary_put_strs(can_at, &str_at);
                can_at++;
            }
            if (r->type == TT_PATH_EXACT) {
                tr->key = tr->pub.path;
                tr->key_len = r->path_len;
            } else {
                tr->key = put_str(&str_at, r->norm, r->norm_len);
                tr->key_len = r->norm_len;
            }
        }
    }
    TT_ASSERT(str_at == block + size);
out:
    tt_route_builder_free(b);
    return t;
}
