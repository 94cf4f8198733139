/* model/build.c - store -> route table: class selection, ordering, backend resolution
 * (Ingress port -> Service port -> EndpointSlice port -> endpoints) and annotations.
 * Threads: the store's owner. Every build starts from scratch; backends are resolved once per
 * build (cached by name), and each problem is reported once per Ingress. Affinity state
 * (ring or key map) is built once per backend and mode and attached to the table; each sticky
 * rule points at its backend's and carries its own cookie settings (host+path scope).
 * Canary Ingresses (spec/ingress-nginx-annotations.md §3.3) come in a second pass, once every
 * ordinary Ingress has made its rules: each of their paths attaches to the primary rule of the
 * same host, path and pathType (never making routes of its own), so the order in which the
 * store holds primary and canary does not matter, and the split applies to that host+path
 * only. A header pattern is compiled once per canary Ingress and build. */
#include "model/build.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "balance/affinity.h"
#include "base/alloc.h"
#include "base/base.h"
#include "base/buf.h"
#include "base/hash.h"
#include "base/log.h"
#include "model/annotations.h"
#include "model/internal.h"
#include "model/reuse.h"

#define ANN_LEGACY_CLASS "kubernetes.io/ingress.class"

/* One resolved backend of this build. */
struct bentry {
    char *name;          /* "ns/svc:port"; NULL = empty slot */
    int index;           /* in the route builder */
    char *reason;        /* why it has no endpoints on purpose (NULL when resolved) */
    size_t reported_for; /* 1 + index of the last Ingress this reason was reported for */
};

struct build {
    const struct tt_k8s_store *s;
    struct tt_model_config cfg; /* defaults filled in */
    struct tt_route_builder *b;
    tt_model_reject_cb on_reject;
    void *ud;
    const struct tt_k8s_object *ing; /* the Ingress being translated */
    size_t ing_seq;                  /* its position, for bentry.reported_for */
    struct bentry *cache;
    size_t cache_cap; /* power of two */
    size_t cache_n;
    struct tt_route_endpoint_spec *eps; /* scratch for resolve() */
    size_t eps_cap;
    bool default_class; /* one of our IngressClasses is the cluster default */
    /* Affinity state per builder backend index and mode, borrowed: the builder owns it. */
    struct tt_affinity *(*aff)[2];
    size_t aff_cap;
    struct tt_affinity_node *nodes; /* scratch for affinity_state() */
    char (*node_ids)[TT_AFFINITY_NODE_ID_SIZE];
    size_t nodes_cap;
    struct tt_model_reuse *reuse;   /* the caller's; NULL: build every state */
    struct tt_buf sig;              /* scratch: node ids joined, the reuse key */
    /* Our Ingresses, oldest first, and their canary annotations (parsed once per build). */
    const struct tt_k8s_object **ours;
    struct tt_model_canary *canary;
    size_t n_ours;
    /* Primary rules (by their builder policy, which identifies a rule) the canary Ingress
     * being built has attached which backend to, so that it attaches once per pair. */
    struct attached {
        const struct tt_route_policy *rule;
        int backend;
    } *att;
    size_t att_n, att_cap;
    /* PCRE2 contexts allocating through tt_malloc, made on first use. */
    pcre2_general_context *pcre_gc;
    pcre2_compile_context *pcre_cc;
};

void tt_model_config_init(struct tt_model_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->default_max_body = TT_MODEL_DEFAULT_MAX_BODY;
}

static void config_fill(struct tt_model_config *out, const struct tt_model_config *in)
{
    if (in != NULL)
        *out = *in;
    else
        tt_model_config_init(out);
    if (out->ingress_class == NULL)
        out->ingress_class = TT_MODEL_DEFAULT_INGRESS_CLASS;
    if (out->controller_class == NULL)
        out->controller_class = TT_MODEL_DEFAULT_CONTROLLER_CLASS;
    if (out->annotations_prefix == NULL)
        out->annotations_prefix = TT_MODEL_DEFAULT_ANNOTATIONS;
}

static void report(struct build *bd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct build *bd, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    if (bd->on_reject == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    bd->on_reject(bd->ud, "Ingress", bd->ing->key, reason);
}

/* ---- sizes ---- */

int tt_model_parse_size(const char *s, uint64_t *out)
{
    struct tt_slice v = tt_slice_trim(tt_slice_cstr(s));
    unsigned long long n;
    unsigned shift = 0;

    if (v.len > 0) {
        switch (v.ptr[v.len - 1]) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            break;
        }
        if (shift != 0)
            v.len--;
    }
    if (tt_slice_to_u64(v, &n) != 0 || n > (UINT64_MAX >> shift))
        return TT_EINVAL;
    *out = (uint64_t)n << shift;
    return 0;
}

/* ---- class selection ---- */

static bool class_is_ours(const struct tt_k8s_store *s, const struct tt_model_config *cfg,
                          const char *name, const char **why)
{
    const struct tt_k8s_object *c = tt_k8s_store_get(s, TT_K8S_INGRESS_CLASS, name);
    if (c == NULL) {
        *why = "spec.ingressClassName names no existing IngressClass";
        return false;
    }
    *why = "spec.ingressClassName names an IngressClass of another controller";
    return c->u.ingress_class.controller != NULL &&
           strcmp(c->u.ingress_class.controller, cfg->controller_class) == 0;
}

static bool have_default_class(const struct tt_k8s_store *s, const struct tt_model_config *cfg)
{
    for (size_t i = 0; i < tt_k8s_store_count(s, TT_K8S_INGRESS_CLASS); i++) {
        const struct tt_k8s_object *c = tt_k8s_store_at(s, TT_K8S_INGRESS_CLASS, i);
        if (c->u.ingress_class.is_default && c->u.ingress_class.controller != NULL &&
            strcmp(c->u.ingress_class.controller, cfg->controller_class) == 0)
            return true;
    }
    return false;
}

static bool is_ours(const struct tt_k8s_store *s, const struct tt_model_config *cfg,
                    bool default_class, const struct tt_k8s_object *ing, const char **why)
{
    const char *cls = ing->u.ingress.class_name;
    const char *ann = tt_k8s_meta_annotation(&ing->meta, ANN_LEGACY_CLASS);
    const char *cls_why = NULL;

    if (cls != NULL && cls[0] == '\0')
        cls = NULL;
    if (ann != NULL && ann[0] == '\0')
        ann = NULL;
    if (cls != NULL && class_is_ours(s, cfg, cls, &cls_why))
        return true;
    if (ann != NULL && strcmp(ann, cfg->ingress_class) == 0)
        return true;
    if (cls == NULL && ann == NULL && (cfg->watch_without_class || default_class))
        return true;
    if (why != NULL)
        *why = cls_why != NULL ? cls_why
               : ann != NULL   ? "annotation kubernetes.io/ingress.class names another class"
                               : "no class, and no IngressClass of ours is the default";
    return false;
}

bool tt_model_ingress_is_ours(const struct tt_k8s_store *s, const struct tt_model_config *cfg,
                              const struct tt_k8s_object *ing, const char **why)
{
    struct tt_model_config c;
    config_fill(&c, cfg);
    return is_ours(s, &c, have_default_class(s, &c), ing, why);
}

/* ---- backend cache ---- */

static size_t hash_str(const char *s)
{
    return (size_t)tt_hash_str(s, TT_HASH_SEED);
}

static struct bentry *cache_find(struct build *bd, const char *name)
{
    if (bd->cache_cap == 0)
        return NULL;
    for (size_t i = hash_str(name) & (bd->cache_cap - 1);; i = (i + 1) & (bd->cache_cap - 1)) {
        struct bentry *e = &bd->cache[i];
        if (e->name == NULL)
            return NULL;
        if (strcmp(e->name, name) == 0)
            return e;
    }
}

static void cache_place(struct bentry *tab, size_t cap, struct bentry e)
{
    size_t i = hash_str(e.name) & (cap - 1);
    while (tab[i].name != NULL)
        i = (i + 1) & (cap - 1);
    tab[i] = e;
}

/* Takes |e|'s strings, also on failure. */
static int cache_put(struct build *bd, struct bentry e)
{
    if ((bd->cache_n + 1) * 2 > bd->cache_cap) {
        size_t cap = bd->cache_cap < 64 ? 64 : bd->cache_cap * 2;
        struct bentry *tab = tt_calloc(cap, sizeof(*tab));
        if (tab == NULL) {
            tt_free(e.name);
            tt_free(e.reason);
            return TT_ENOMEM;
        }
        for (size_t i = 0; i < bd->cache_cap; i++)
            if (bd->cache[i].name != NULL)
                cache_place(tab, cap, bd->cache[i]);
        tt_free(bd->cache);
        bd->cache = tab;
        bd->cache_cap = cap;
    }
    cache_place(bd->cache, bd->cache_cap, e);
    bd->cache_n++;
    return 0;
}

static void cache_dispose(struct build *bd)
{
    for (size_t i = 0; i < bd->cache_cap; i++) {
        tt_free(bd->cache[i].name);
        tt_free(bd->cache[i].reason);
    }
    tt_free(bd->cache);
    bd->cache = NULL;
}

/* ---- resolution (spec/kubernetes-api.md §2.4) ---- */

static int push_ep(struct build *bd, size_t *n, const char *ip, uint16_t port)
{
    if (*n == bd->eps_cap) {
        size_t cap = bd->eps_cap < 16 ? 16 : bd->eps_cap * 2;
        struct tt_route_endpoint_spec *v = tt_realloc(bd->eps, cap * sizeof(*v));
        if (v == NULL)
            return TT_ENOMEM;
        bd->eps = v;
        bd->eps_cap = cap;
    }
    bd->eps[(*n)++] = (struct tt_route_endpoint_spec){ip, port};
    return 0;
}

/* Collects the endpoints of the Service port |pname| into bd->eps: ready ones, or, when there
 * are none, serving+terminating ones (kube-proxy's graceful-drain fallback; ingress-nginx has
 * none and answers 503, so no affinity compatibility is at stake there). The ip strings are
 * borrowed from the store. Returns 0 or TT_ENOMEM. */
static int collect_endpoints(struct build *bd, const char *ns, const char *svc, const char *pname,
                             size_t *n_out)
{
    const struct tt_k8s_object *const *slices;
    size_t n_slices = tt_k8s_store_service_slices(bd->s, ns, svc, &slices);
    size_t n = 0;
    int rc;

    *n_out = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++) {
        for (size_t i = 0; i < n_slices; i++) {
            const struct tt_k8s_endpoint_slice *sl = &slices[i]->u.slice;
            uint16_t port = 0;
            if (sl->address_type != TT_K8S_ADDR_IPV4 && sl->address_type != TT_K8S_ADDR_IPV6)
                continue; /* FQDN slices would need DNS; nothing else is routable */
            for (size_t p = 0; p < sl->n_ports && port == 0; p++)
                if (strcmp(sl->ports[p].name, pname) == 0 &&
                    strcmp(sl->ports[p].protocol, "TCP") == 0)
                    port = sl->ports[p].port;
            if (port == 0)
                continue;
            for (size_t e = 0; e < sl->n_endpoints; e++) {
                const struct tt_k8s_slice_endpoint *ep = &sl->endpoints[e];
                bool take = pass == 0 ? ep->ready : ep->serving && ep->terminating;
                /* Every address, as ingress-nginx takes them (endpointslices.go), so an
                 * affinity ring has exactly its nodes; controller-made slices have one.
                 * Duplicates (a pod briefly in two slices) are merged by the builder. */
                for (size_t k = 0; take && k < ep->n_addresses; k++)
                    if ((rc = push_ep(bd, &n, ep->addresses[k], port)) != 0)
                        return rc;
            }
        }
    }
    *n_out = n;
    return 0;
}

/* Returns the builder index of backend |be| in namespace |ns|, adding it on first use, or
 * TT_ENOMEM. Reports why it has no endpoints, once per Ingress. */
static int backend(struct build *bd, const char *ns, const struct tt_k8s_ingress_backend *be)
{
    char port[16], name[512], reason[400] = "";
    const char *pstr = be->port_name;
    const struct tt_k8s_object *so;
    const struct tt_k8s_service_port *sp = NULL;
    struct bentry *e, ne = {0};
    size_t n_eps = 0;
    int rc, idx;

    if (pstr == NULL) {
        snprintf(port, sizeof(port), "%u", (unsigned)be->port_number);
        pstr = port;
    }
    snprintf(name, sizeof(name), "%s/%s:%s", ns, be->service, pstr);
    if ((e = cache_find(bd, name)) != NULL) {
        if (e->reason != NULL && e->reported_for != bd->ing_seq + 1) {
            e->reported_for = bd->ing_seq + 1;
            report(bd, "%s", e->reason);
        }
        return e->index;
    }

    so = tt_k8s_store_get_ns(bd->s, TT_K8S_SERVICE, ns, be->service);
    if (so == NULL) {
        snprintf(reason, sizeof(reason), "service %s/%s not found", ns, be->service);
    } else if (strcmp(so->u.service.type, "ExternalName") == 0) {
        snprintf(reason, sizeof(reason),
                 "service %s/%s is of type ExternalName, which is not supported", ns, be->service);
    } else {
        for (size_t i = 0; i < so->u.service.n_ports && sp == NULL; i++) {
            const struct tt_k8s_service_port *p = &so->u.service.ports[i];
            if (be->port_name != NULL ? strcmp(p->name, be->port_name) == 0
                                      : p->port == be->port_number)
                sp = p;
        }
        if (sp == NULL && be->port_name != NULL)
            snprintf(reason, sizeof(reason), "service %s/%s has no port named %s", ns, be->service,
                     be->port_name);
        else if (sp == NULL)
            snprintf(reason, sizeof(reason), "service %s/%s has no port %u", ns, be->service,
                     (unsigned)be->port_number);
    }
    if (sp != NULL && (rc = collect_endpoints(bd, ns, be->service, sp->name, &n_eps)) != 0)
        return rc;
    if ((idx = tt_route_builder_add_backend(bd->b, ns, be->service, pstr, bd->eps, n_eps)) < 0)
        return idx;
    ne.index = idx;
    ne.reported_for = bd->ing_seq + 1;
    if ((ne.name = tt_strdup(name)) == NULL ||
        (reason[0] != '\0' && (ne.reason = tt_strdup(reason)) == NULL)) {
        tt_free(ne.name);
        return TT_ENOMEM;
    }
    if ((rc = cache_put(bd, ne)) != 0)
        return rc;
    if (reason[0] != '\0')
        report(bd, "%s", reason);
    return idx;
}

/* ---- one Ingress ---- */

static enum tt_path_type path_type(enum tt_k8s_path_type t)
{
    switch (t) {
    case TT_K8S_PATH_EXACT:
        return TT_PATH_EXACT;
    case TT_K8S_PATH_PREFIX:
        return TT_PATH_PREFIX;
    default:
        return TT_PATH_IMPL_SPECIFIC;
    }
}

static const char *type_name(enum tt_path_type t)
{
    return t == TT_PATH_EXACT ? "Exact" : t == TT_PATH_PREFIX ? "Prefix" : "ImplementationSpecific";
}

static void ingress_policy(struct build *bd, struct tt_route_policy *pol)
{
    char key[320];
    const char *v;
    uint64_t size;

    pol->max_body = bd->cfg.default_max_body;
    snprintf(key, sizeof(key), "%s/proxy-body-size", bd->cfg.annotations_prefix);
    if ((v = tt_k8s_meta_annotation(&bd->ing->meta, key)) == NULL)
        return;
    if (tt_model_parse_size(v, &size) != 0) {
        report(bd, "annotation %s: \"%.64s\" is not a size (like 8m, 512k or 1g); using %llu bytes",
               key, v, (unsigned long long)pol->max_body);
        return;
    }
    pol->max_body = size;
}

/* ---- affinity ---- */

static void release_affinity(void *obj)
{
    tt_affinity_free(obj);
}

/* The affinity state of builder backend |idx| (Ingress backend |be| of this Ingress) in
 * |mode|, built on first use over exactly the endpoints the table will give that backend:
 * node i is endpoints[i], named from its raw EndpointSlice address and port
 * (spec/affinity-cookie-algorithms.md §1.2) under the ingress-nginx upstream name (§1.1).
 * Sets *out (NULL when the backend has more endpoints than a ring may hold; reported).
 * Returns 0 or TT_ENOMEM. */
static int affinity_state(struct build *bd, int idx, const struct tt_k8s_ingress_backend *be,
                          enum tt_route_affinity_mode mode, const struct tt_affinity **out)
{
    const struct tt_route_endpoint *eps;
    struct tt_slice sig;
    char port[16], *name = NULL;
    size_t n, name_cap;
    struct tt_affinity *a;
    int len, rc = TT_ENOMEM;

    *out = NULL;
    if ((size_t)idx >= bd->aff_cap) {
        size_t cap = bd->aff_cap < 16 ? 16 : bd->aff_cap;
        struct tt_affinity *(*v)[2];
        while (cap <= (size_t)idx)
            cap *= 2;
        if ((v = tt_realloc(bd->aff, cap * sizeof(*v))) == NULL)
            return TT_ENOMEM;
        memset(v + bd->aff_cap, 0, (cap - bd->aff_cap) * sizeof(*v));
        bd->aff = v;
        bd->aff_cap = cap;
    }
    if ((*out = bd->aff[idx][mode]) != NULL)
        return 0;

    eps = tt_route_builder_backend_endpoints(bd->b, idx, &n);
    if (n > TT_AFFINITY_MAX_NODES) {
        report(bd,
               "service %s/%s has %zu endpoints, more than affinity supports (%u); its paths "
               "are not sticky",
               bd->ing->meta.ns, be->service, n, (unsigned)TT_AFFINITY_MAX_NODES);
        return 0;
    }
    if (n > bd->nodes_cap) {
        struct tt_affinity_node *nodes;
        char(*ids)[TT_AFFINITY_NODE_ID_SIZE];
        if ((nodes = tt_realloc(bd->nodes, n * sizeof(*nodes))) == NULL)
            return TT_ENOMEM;
        bd->nodes = nodes;
        if ((ids = tt_realloc(bd->node_ids, n * sizeof(*ids))) == NULL)
            return TT_ENOMEM;
        bd->node_ids = ids;
        bd->nodes_cap = n;
    }
    tt_buf_reset(&bd->sig);
    for (size_t i = 0; i < n; i++) {
        len = tt_affinity_node_id(bd->node_ids[i], sizeof(bd->node_ids[i]),
                                  tt_slice_cstr(eps[i].address), eps[i].port);
        TT_ASSERT(len > 0); /* an address inet_pton took is at most 45 bytes */
        bd->nodes[i] =
            (struct tt_affinity_node){tt_slice_make(bd->node_ids[i], (size_t)len), (uint32_t)i};
        if (tt_buf_append(&bd->sig, bd->node_ids[i], (size_t)len) != 0 ||
            tt_buf_append(&bd->sig, "\n", 1) != 0)
            return TT_ENOMEM;
    }
    if (be->port_name == NULL)
        snprintf(port, sizeof(port), "%u", (unsigned)be->port_number);
    name_cap = strlen(bd->ing->meta.ns) + strlen(be->service) +
               strlen(be->port_name != NULL ? be->port_name : port) + 16;
    if ((name = tt_malloc(name_cap)) == NULL)
        goto out;
    len = tt_affinity_backend_name(name, name_cap, tt_slice_cstr(bd->ing->meta.ns),
                                   tt_slice_cstr(be->service),
                                   tt_slice_cstr(be->port_name != NULL ? be->port_name : port));
    TT_ASSERT(len >= 0);
    sig = tt_slice_make(bd->sig.data != NULL ? bd->sig.data : "", bd->sig.len);
    if (bd->reuse == NULL ||
        (a = tt_model__reuse_take(bd->reuse, tt_slice_make(name, (size_t)len), (int)mode, sig)) ==
            NULL)
        a = tt_affinity_new(mode == TT_ROUTE_AFFINITY_PERSISTENT ? TT_AFFINITY_PERSISTENT
                                                                 : TT_AFFINITY_BALANCED,
                            tt_slice_make(name, (size_t)len), bd->nodes, n);
    if (a == NULL || tt_route_builder_attach(bd->b, a, release_affinity) != 0)
        goto out; /* n is in range, so only memory can have failed; attach released |a| */
    if (bd->reuse != NULL) /* best effort: on failure the next build makes its own */
        (void)tt_model__reuse_keep(bd->reuse, tt_slice_make(name, (size_t)len), (int)mode, sig, a);
    bd->aff[idx][mode] = a;
    *out = a;
    rc = 0;
out:
    tt_free(name);
    return rc;
}

/* The policy of one path of this Ingress: the Ingress-wide |pol| plus, when it is sticky, the
 * rule's cookie Path (session-cookie-path, else |path| as written: ingress-nginx's
 * $location_path) and its backend's affinity state. */
static int path_policy(struct build *bd, const struct tt_route_policy *pol, const char *path,
                       int idx, const struct tt_k8s_ingress_backend *be,
                       struct tt_route_policy *out)
{
    struct tt_route_affinity *a = &out->affinity;
    int rc;

    *out = *pol;
    if (!a->enabled)
        return 0;
    if (a->path.len == 0) {
        /* A ';' would end the attribute early; "/" still sends the cookie back. (Control
         * bytes and spaces cannot get here: the route builder refuses such paths.) */
        if (strchr(path, ';') != NULL) {
            report(bd,
                   "path \"%.64s\" cannot be a cookie Path (it holds ';'); its affinity cookie "
                   "gets Path=/ (set %s/session-cookie-path)",
                   path, bd->cfg.annotations_prefix);
            path = "/";
        }
        a->path = tt_slice_cstr(path);
    }
    if ((rc = affinity_state(bd, idx, be, a->mode, &a->state)) != 0)
        return rc;
    if (a->state == NULL) { /* too many endpoints: reported, not sticky */
        memset(a, 0, sizeof(*a));
        a->canary_behavior = pol->affinity.canary_behavior;
    }
    return 0;
}

/* True when an earlier rule of this Ingress has the same host (its default is ours then). */
static bool host_seen_before(const struct tt_k8s_ingress *ing, size_t r)
{
    for (size_t i = 0; i < r; i++)
        if (ing->rules[i].host != NULL && strcasecmp(ing->rules[i].host, ing->rules[r].host) == 0)
            return true;
    return false;
}

static int do_default_backend(struct build *bd, const struct tt_route_policy *ing_pol)
{
    const struct tt_k8s_ingress *ing = &bd->ing->u.ingress;
    struct tt_route_policy def = *ing_pol;
    const struct tt_route_policy *pol = &def;
    struct tt_err err = {0};
    int idx, rc;

    /* ingress-nginx registers no cookie location for a defaultBackend (spec §2.6): it never
     * issues cookies, and its upstream is sticky only through some path. */
    memset(&def.affinity, 0, sizeof(def.affinity));
    def.affinity.canary_behavior = ing_pol->affinity.canary_behavior;

    if (ing->default_backend_invalid != NULL) {
        report(bd, "%s", ing->default_backend_invalid);
        return 0;
    }
    if ((idx = backend(bd, bd->ing->meta.ns, &ing->default_backend)) < 0)
        return idx;
    for (size_t r = 0; r < ing->n_rules; r++) {
        if (ing->rules[r].host == NULL)
            continue;
        rc = tt_route_builder_set_default(bd->b, ing->rules[r].host, idx, pol, &err);
        if (rc == TT_ENOMEM)
            return rc;
        if (rc == TT_EEXIST && host_seen_before(ing, r))
            continue;
        if (rc != 0)
            report(bd, "spec.defaultBackend: host \"%.253s\": %s%s", ing->rules[r].host, err.msg,
                   rc == TT_EEXIST ? " by an older Ingress" : "");
    }
    /* The table-wide default: the oldest Ingress with a defaultBackend keeps it. */
    rc = tt_route_builder_set_default(bd->b, NULL, idx, pol, &err);
    return rc == TT_ENOMEM ? rc : 0;
}

static int do_ingress(struct build *bd)
{
    const struct tt_k8s_ingress *ing = &bd->ing->u.ingress;
    struct tt_route_policy pol = {0}, ppol;
    struct tt_err err;
    int idx, rc;

    ingress_policy(bd, &pol);
    tt_model_affinity_parse(bd->ing, bd->cfg.annotations_prefix, bd->on_reject, bd->ud,
                            &pol.affinity);
    if (ing->has_default_backend && (rc = do_default_backend(bd, &pol)) != 0)
        return rc;
    for (size_t r = 0; r < ing->n_rules; r++) {
        const struct tt_k8s_ingress_rule *rule = &ing->rules[r];
        for (size_t p = 0; p < rule->n_paths; p++) {
            const struct tt_k8s_ingress_path *ip = &rule->paths[p];
            /* An ImplementationSpecific path may be omitted: it then matches everything. */
            const char *path = ip->path != NULL ? ip->path : "/";

            if (ip->invalid != NULL) {
                report(bd, "spec.rules[%zu].http.paths[%zu]: %s", r, p, ip->invalid);
                continue;
            }
            if ((idx = backend(bd, bd->ing->meta.ns, &ip->backend)) < 0)
                return idx;
            if ((rc = path_policy(bd, &pol, path, idx, &ip->backend, &ppol)) != 0)
                return rc;
            memset(&err, 0, sizeof(err));
            rc = tt_route_builder_add_rule(bd->b, rule->host, path, path_type(ip->type), idx,
                                           bd->ing->key, &ppol, &err);
            if (rc == TT_ENOMEM)
                return rc;
            if (rc != 0) /* the builder's reason names the host, the path and the owner */
                report(bd, "spec.rules[%zu].http.paths[%zu]: %s", r, p, err.msg);
        }
    }
    return 0;
}

/* ---- canary Ingresses ---- */

/* pcre2_compile error 121, "failed to allocate heap memory" (ERR21; compile errors are
 * COMPILE_ERROR_BASE 100 + n and have no public names). */
#define PCRE2_COMPILE_NO_MEMORY 121

static void *pcre_alloc(PCRE2_SIZE n, void *ud)
{
    (void)ud;
    return tt_malloc(n);
}

static void pcre_release(void *p, void *ud)
{
    (void)ud;
    tt_free(p);
}

static void release_regex(void *obj)
{
    pcre2_code_free(obj);
}

/* Compiles the canary's canary-by-header-pattern with PCRE2's defaults (unanchored,
 * case-sensitive, no UTF: what ingress-nginx's ngx.re.match does with no options), JIT-compiled
 * when the platform allows it, and attaches the code to the table, so that the data plane
 * matches without compiling. The code allocates through tt_malloc, so match data made from it
 * does too. Sets *out, to NULL when the pattern does not compile (reported with PCRE2's message
 * and offset: a request carrying the header then goes to the primary). Returns 0 or
 * TT_ENOMEM. */
static int compile_pattern(struct build *bd, struct tt_slice pattern, const void **out)
{
    char key[TT_MODEL__KEY_MAX];
    PCRE2_UCHAR msg[160];
    PCRE2_SIZE off = 0;
    pcre2_code *code;
    int ec = 0, rc;

    *out = NULL;
    if (bd->pcre_cc == NULL) {
        if (bd->pcre_gc == NULL &&
            (bd->pcre_gc = pcre2_general_context_create(pcre_alloc, pcre_release, NULL)) == NULL)
            return TT_ENOMEM;
        if ((bd->pcre_cc = pcre2_compile_context_create(bd->pcre_gc)) == NULL)
            return TT_ENOMEM;
    }
    code = pcre2_compile((PCRE2_SPTR)pattern.ptr, pattern.len, 0, &ec, &off, bd->pcre_cc);
    if (code == NULL) {
        if (ec == PCRE2_COMPILE_NO_MEMORY)
            return TT_ENOMEM;
        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", ec);
        snprintf(key, sizeof(key), "%s/canary-by-header-pattern", bd->cfg.annotations_prefix);
        report(bd,
               "annotation %s: \"%.*s%s\" is not a valid PCRE pattern (%s at offset %zu); "
               "requests carrying the header go to the primary",
               key, (int)(pattern.len > 64 ? 64 : pattern.len), pattern.ptr,
               pattern.len > 64 ? "..." : "", (const char *)msg, (size_t)off);
        return 0;
    }
    /* Best effort: without JIT (no memory, or a platform that forbids it) pcre2_match
     * interprets the same code. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    if ((rc = tt_route_builder_attach(bd->b, code, release_regex)) != 0)
        return rc; /* attach released |code| */
    *out = code;
    return 0;
}

/* Attaches the canary Ingress being built (bd->ing, annotations |c|, request rules |base|),
 * with its Ingress backend |be|, to the primary rule for |host|, |path| and |type|, once per
 * rule and backend. |field| names the Ingress field for reports ("spec.rules[0].http.paths[1]");
 * NULL is the catch-all (spec.defaultBackend), which tries every primary rule without a host
 * and passes quietly over those it cannot take. The canary's Service is resolved in the canary
 * Ingress's namespace; a sticky primary (affinity-canary-behavior sticky) gives the canary the
 * primary rule's cookie settings over the state (ring or key map, in the primary's mode) of
 * the canary's own backend, named with the canary's upstream name. Sets *attached when it
 * attached. Returns 0 or TT_ENOMEM. */
static int attach(struct build *bd, const struct tt_model_canary *c,
                  const struct tt_route_canary *base, const char *host, const char *path,
                  enum tt_path_type type, const struct tt_k8s_ingress_backend *be,
                  const char *field, bool *attached)
{
    const struct tt_route_policy *ppol = NULL;
    struct tt_route_affinity prim;
    struct tt_route_canary can = *base;
    struct tt_err err = {0};
    bool any_host = host == NULL || host[0] == '\0';
    int pidx = -1, idx, rc;

    if (tt_route_builder_find_rule(bd->b, host, path, type, &ppol, &pidx) != 0) {
        if (field != NULL)
            report(bd, "%s: no primary rule %s%.253s%s path %.64s (%s); the canary is not used",
                   field, any_host ? "without a host" : "for host ", any_host ? "" : host,
                   any_host ? " for" : ",", path, type_name(type));
        return 0;
    }
    /* A copy: the builder's policy is only borrowed. Its strings stay where they are. */
    prim = ppol->affinity;
    if ((idx = backend(bd, bd->ing->meta.ns, be)) < 0)
        return idx;
    if (idx == pidx) {
        if (field != NULL)
            report(bd,
                   "%s: the canary's backend (service %.253s) is the one the primary rule for "
                   "%.253s%.64s already uses; the canary is not used",
                   field, be->service, any_host ? "" : host, path);
        return 0;
    }
    for (size_t k = 0; k < bd->att_n; k++)
        if (bd->att[k].rule == ppol && bd->att[k].backend == idx)
            return 0; /* "/foo" and "/foo/" (Prefix) are one rule; so is the catch-all's */

    memset(&can.affinity, 0, sizeof(can.affinity));
    can.affinity.canary_behavior = c->behavior;
    if (prim.enabled && c->behavior == TT_ROUTE_CANARY_STICKY) {
        const struct tt_affinity *state = NULL;
        if ((rc = affinity_state(bd, idx, be, prim.mode, &state)) != 0)
            return rc;
        if (state != NULL) { /* NULL: too many endpoints for a ring (reported); not sticky */
            can.affinity = prim;
            can.affinity.canary_behavior = TT_ROUTE_CANARY_STICKY;
            can.affinity.state = state;
        }
    }
    if (bd->att_n == bd->att_cap) {
        size_t cap = bd->att_cap < 8 ? 8 : bd->att_cap * 2;
        struct attached *v = tt_realloc(bd->att, cap * sizeof(*v));
        if (v == NULL)
            return TT_ENOMEM;
        bd->att = v;
        bd->att_cap = cap;
    }
    rc = tt_route_builder_add_canary(bd->b, host, path, type, idx, bd->ing->key, &can, &err);
    if (rc == TT_ENOMEM)
        return rc;
    if (rc != 0) { /* e.g. the rule has TT_ROUTE_MAX_CANARIES already */
        report(bd, "%s: %s", field != NULL ? field : "spec.defaultBackend", err.msg);
        return 0;
    }
    bd->att[bd->att_n++] = (struct attached){ppol, idx};
    *attached = true;
    return 0;
}

/* spec.defaultBackend of a canary Ingress: ingress-nginx makes it a catch-all alternative for
 * every location of the "_" server, i.e. of the rules without a host. Here it attaches to each
 * primary rule without a host (of every ordinary Ingress, oldest first) that does not already
 * use that backend. */
static int do_canary_default(struct build *bd, const struct tt_model_canary *c,
                             const struct tt_route_canary *base)
{
    const struct tt_k8s_ingress *ing = &bd->ing->u.ingress;
    bool attached = false;
    int rc;

    if (ing->default_backend_invalid != NULL) {
        report(bd, "%s", ing->default_backend_invalid);
        return 0;
    }
    for (size_t i = 0; i < bd->n_ours; i++) {
        const struct tt_k8s_ingress *pi = &bd->ours[i]->u.ingress;
        if (bd->canary[i].enabled)
            continue;
        for (size_t r = 0; r < pi->n_rules; r++) {
            const struct tt_k8s_ingress_rule *rule = &pi->rules[r];
            if (rule->host != NULL && rule->host[0] != '\0')
                continue;
            for (size_t p = 0; p < rule->n_paths; p++) {
                const struct tt_k8s_ingress_path *ip = &rule->paths[p];
                if (ip->invalid != NULL)
                    continue;
                rc = attach(bd, c, base, NULL, ip->path != NULL ? ip->path : "/",
                            path_type(ip->type), &ing->default_backend, NULL, &attached);
                if (rc != 0)
                    return rc;
            }
        }
    }
    if (!attached)
        report(bd, "spec.defaultBackend: there is no primary rule without a host (that does not "
                   "already use this backend) for it to be a catch-all canary of; the canary is "
                   "not used");
    return 0;
}

/* One canary Ingress: its paths attach to primary rules, then its defaultBackend; it makes no
 * rules or defaults of its own. Its proxy-body-size and affinity annotations are not read: the
 * primary rule's policy applies (spec §3.4). */
static int do_canary(struct build *bd, const struct tt_model_canary *c)
{
    const struct tt_k8s_ingress *ing = &bd->ing->u.ingress;
    struct tt_route_canary base = {0};
    char field[96];
    bool attached = false;
    int rc;

    bd->att_n = 0;
    base.header = c->header;
    base.header_value = c->header_value;
    base.header_pattern = c->header_pattern;
    base.cookie = c->cookie;
    base.weight = c->weight;
    base.weight_total = c->weight_total;
    /* The pattern is only ever consulted for a header rule without a value (§3.2). */
    if (c->header.len > 0 && c->header_value.len == 0 && c->header_pattern.len > 0 &&
        (rc = compile_pattern(bd, c->header_pattern, &base.header_regex)) != 0)
        return rc;
    for (size_t r = 0; r < ing->n_rules; r++) {
        const struct tt_k8s_ingress_rule *rule = &ing->rules[r];
        for (size_t p = 0; p < rule->n_paths; p++) {
            const struct tt_k8s_ingress_path *ip = &rule->paths[p];

            snprintf(field, sizeof(field), "spec.rules[%zu].http.paths[%zu]", r, p);
            if (ip->invalid != NULL) {
                report(bd, "%s: %s", field, ip->invalid);
                continue;
            }
            rc = attach(bd, c, &base, rule->host, ip->path != NULL ? ip->path : "/",
                        path_type(ip->type), &ip->backend, field, &attached);
            if (rc != 0)
                return rc;
        }
    }
    if (ing->has_default_backend && (rc = do_canary_default(bd, c, &base)) != 0)
        return rc;
    return 0;
}

/* ---- the build ---- */

static int cmp_age(const void *pa, const void *pb)
{
    const struct tt_k8s_object *a = *(const struct tt_k8s_object *const *)pa;
    const struct tt_k8s_object *b = *(const struct tt_k8s_object *const *)pb;
    if (a->meta.creation_ts != b->meta.creation_ts)
        return a->meta.creation_ts < b->meta.creation_ts ? -1 : 1;
    return strcmp(a->key, b->key);
}

struct tt_route_table *tt_model_build(const struct tt_k8s_store *s,
                                      const struct tt_model_config *cfg, uint64_t generation,
                                      struct tt_model_reuse *reuse, tt_model_reject_cb on_reject,
                                      void *ud)
{
    struct build bd = {.s = s, .on_reject = on_reject, .ud = ud, .reuse = reuse};
    const struct tt_k8s_object **ours = NULL;
    size_t n_ing = tt_k8s_store_count(s, TT_K8S_INGRESS), n = 0;
    struct tt_route_table *t = NULL;

    config_fill(&bd.cfg, cfg);
    tt_buf_init(&bd.sig, SIZE_MAX);
    bd.default_class = have_default_class(s, &bd.cfg);
    if ((bd.b = tt_route_builder_new()) == NULL ||
        (ours = tt_calloc(n_ing > 0 ? n_ing : 1, sizeof(*ours))) == NULL)
        goto out;
    for (size_t i = 0; i < n_ing; i++) {
        const struct tt_k8s_object *ing = tt_k8s_store_at(s, TT_K8S_INGRESS, i);
        const char *why = NULL;
        if (is_ours(s, &bd.cfg, bd.default_class, ing, &why))
            ours[n++] = ing;
        else if (bd.cfg.on_ignore != NULL)
            bd.cfg.on_ignore(ud, "Ingress", ing->key, why);
    }
    /* Oldest first, so the oldest Ingress wins conflicts (spec §2.1). */
    qsort(ours, n, sizeof(*ours), cmp_age);
    if ((bd.canary = tt_calloc(n > 0 ? n : 1, sizeof(*bd.canary))) == NULL)
        goto out;
    bd.ours = ours;
    bd.n_ours = n;
    for (size_t i = 0; i < n; i++)
        tt_model_canary_parse(ours[i], bd.cfg.annotations_prefix, on_reject, ud, &bd.canary[i]);
    /* Ordinary Ingresses make the rules; then canaries attach to them (oldest first too). */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (bd.canary[i].enabled != (pass == 1))
                continue;
            bd.ing = ours[i];
            bd.ing_seq = i;
            if ((pass == 0 ? do_ingress(&bd) : do_canary(&bd, &bd.canary[i])) != 0)
                goto out; /* only TT_ENOMEM gets here */
        }
    }
    t = tt_route_builder_finish(bd.b, generation);
    bd.b = NULL; /* consumed either way */
out:
    tt_route_builder_free(bd.b);
    tt_free(ours);
    tt_free(bd.eps);
    tt_free(bd.aff);
    tt_free(bd.nodes);
    tt_free(bd.node_ids);
    tt_buf_dispose(&bd.sig);
    tt_free(bd.canary);
    tt_free(bd.att);
    pcre2_compile_context_free(bd.pcre_cc);
    pcre2_general_context_free(bd.pcre_gc);
    cache_dispose(&bd);
    if (reuse != NULL)
        tt_model__reuse_commit(reuse, t != NULL);
    return t;
}

/* ---- logging callbacks ---- */

void tt_model_log_reject(void *ud, const char *kind, const char *object, const char *reason)
{
    struct tt_logline l;
    const char *msg = strncmp(reason, "spec.", 5) == 0 ? "path skipped" : "ingress rejected";
    (void)ud;
    if (tt_log_begin(&l, TT_LOG_WARN, "model", msg)) {
        tt_log_str(&l, "kind", kind);
        tt_log_str(&l, "object", object);
        tt_log_str(&l, "reason", reason);
        tt_log_end(&l);
    }
}

void tt_model_log_ignore(void *ud, const char *kind, const char *object, const char *reason)
{
    struct tt_logline l;
    (void)ud;
    if (tt_log_begin(&l, TT_LOG_DEBUG, "model", "ingress ignored")) {
        tt_log_str(&l, "kind", kind);
        tt_log_str(&l, "object", object);
        tt_log_str(&l, "reason", reason);
        tt_log_end(&l);
    }
}
