/* model/build.h - the translator: store of Kubernetes objects -> immutable route table.
 * Threads: the thread that owns the store (watcher, or main at startup). The result is an
 * ordinary route table that may then be published to any thread.
 * Invariants: a build is a pure function of the store and the config (deterministic order:
 * oldest Ingress first, then namespace/name), it never logs itself (it reports through the
 * callback), and it never fails for bad input: bad parts are skipped and reported. */
#ifndef TT_MODEL_BUILD_H
#define TT_MODEL_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/store.h"
#include "route/route.h"

#define TT_MODEL_DEFAULT_INGRESS_CLASS    "tether"
#define TT_MODEL_DEFAULT_CONTROLLER_CLASS "tether.dev/ingress-controller"
#define TT_MODEL_DEFAULT_ANNOTATIONS      "nginx.ingress.kubernetes.io"
#define TT_MODEL_DEFAULT_MAX_BODY         (1024 * 1024) /* ingress-nginx's proxy-body-size */

/* Reports a problem with one object. |kind| is a Kubernetes kind ("Ingress"), |object| its
 * "ns/name", |reason| one sentence. Reasons about one path or the defaultBackend (which was
 * then skipped) start with the field, "spec.rules[i].http.paths[j]" or "spec.defaultBackend";
 * reasons about a whole Ingress (unresolvable Service or port: the path answers 503; an
 * invalid annotation: the default is used) do not. All strings are borrowed for the call. */
typedef void (*tt_model_reject_cb)(void *ud, const char *kind, const char *object,
                                   const char *reason);

struct tt_model_config {
    const char *ingress_class;      /* --ingress-class; NULL means the default above */
    const char *controller_class;   /* --controller-class; NULL means the default above */
    bool watch_without_class;       /* --watch-ingress-without-class */
    const char *annotations_prefix; /* --annotations-prefix; NULL means the default above */
    uint64_t default_max_body;      /* bytes; 0 = unlimited (tt_model_config_init: 1 MiB) */
    /* Optional: told about every Ingress that is not ours and why, for a DEBUG line. Gets
     * the build's |ud|. */
    tt_model_reject_cb on_ignore;
};

/* Fills |cfg| with the flag defaults (default_max_body = 1 MiB, other strings NULL = default). */
void tt_model_config_init(struct tt_model_config *cfg);

/* Affinity states (rings, key maps) carried from one build to the next: a build given the
 * previous build's reuse shares the state of every sticky backend whose upstream name, mode
 * and endpoints (in order) are unchanged instead of building it again (a ring costs ~14 us
 * per endpoint). Owned by whoever calls tt_model_build; only ever touched by that thread. */
struct tt_model_reuse;
struct tt_model_reuse *tt_model_reuse_new(void); /* NULL on out of memory */
void tt_model_reuse_free(struct tt_model_reuse *r); /* NULL is a no-op */
/* States the last successful build recorded (for tests and debugging). */
size_t tt_model_reuse_count(const struct tt_model_reuse *r);

/* Translates every Ingress of our class in |s| into a new table with |generation| and
 * refcount 1, which the caller owns. |cfg| NULL means tt_model_config_init's defaults.
 * |on_reject| (may be NULL) is called with |ud| for every skipped path, unresolvable backend,
 * rule conflict (the oldest Ingress keeps the rule) and invalid annotation.
 * Class selection: an Ingress is ours when spec.ingressClassName names an IngressClass whose
 * spec.controller is cfg->controller_class, or its kubernetes.io/ingress.class annotation is
 * cfg->ingress_class, or it has neither and either cfg->watch_without_class is set or one of
 * our IngressClasses has ingressclass.kubernetes.io/is-default-class: "true".
 * Backends are named "ns/svc:80" or "ns/svc:http", and resolved per spec/kubernetes-api.md
 * §2.4: Service port by number or name, then the EndpointSlice ports of that port's name
 * (TCP), endpoints with ready != false (every address, as ingress-nginx takes them; IPv4/IPv6
 * slices only), or if none are ready the serving+terminating ones. A missing Service or port
 * gives a backend with no endpoints (503) and a report. spec.defaultBackend becomes the
 * default of each host of that Ingress, and the table-wide default when no older Ingress set
 * one.
 * Annotations: proxy-body-size, and the session-affinity family (model/annotations.h), which
 * applies to each path of the Ingress on its own: a sticky rule's policy.affinity carries the
 * Ingress's cookie settings, the cookie Path (session-cookie-path, else that path as written)
 * and the state (ring or key map) of that rule's backend, built over exactly the backend's
 * endpoints so that its indexes are positions in backend->endpoints; the table owns it.
 * defaultBackend policies are never sticky (ingress-nginx issues no cookie there).
 * Canaries (spec/ingress-nginx-annotations.md §3; annotations in model/annotations.h): an
 * Ingress of ours with canary "true" makes no rules or defaults. After every other Ingress
 * (oldest first) has made its rules, each canary Ingress (oldest first, then namespace/name)
 * attaches each of its paths to the primary rule with the same host (as written; a path
 * without a host to the rules without a host), path and pathType, as a tt_route_canary with
 * its own backend (resolved in its namespace) after those attached before it; a path with no
 * such rule, or whose backend is the rule's own, is reported and not used. Its
 * spec.defaultBackend attaches in the same way to every primary rule without a host (ingress-
 * nginx's catch-all alternative for the "_" server), quietly skipping rules on that backend.
 * The rule's policy stays the primary's; the canary Ingress's own proxy-body-size and
 * affinity annotations are not applied (reported once). Under a sticky primary rule and
 * affinity-canary-behavior sticky, the canary gets the rule's cookie settings with the state
 * of its own backend in the rule's mode (named with its ingress-nginx upstream name); legacy,
 * or a primary that is not sticky, leaves it without affinity. canary-by-header-pattern is
 * compiled once per canary Ingress (PCRE2 defaults: unanchored, case-sensitive), JIT-compiled
 * when possible and attached to the table as header_regex, only where the data plane consults
 * it (a header named, no header value); one that does not compile is reported and gives
 * header_regex NULL with header_pattern kept.
 * |reuse| (may be NULL) carries those states between builds, see above; a failed build leaves
 * it as it was.
 * Returns NULL only on out of memory; the store is only read. */
struct tt_route_table *tt_model_build(const struct tt_k8s_store *s,
                                      const struct tt_model_config *cfg, uint64_t generation,
                                      struct tt_model_reuse *reuse, tt_model_reject_cb on_reject,
                                      void *ud);

/* True when the Ingress |ing| (kind TT_K8S_INGRESS) is ours by the rules above; for status
 * writes. When false and |why| is not NULL, *why points to a static explanation. */
bool tt_model_ingress_is_ours(const struct tt_k8s_store *s, const struct tt_model_config *cfg,
                              const struct tt_k8s_object *ing, const char **why);

/* Parses an nginx size ("8m", "512k", "1g", "1024", "0"; units k/m/g in either case, powers
 * of 1024; surrounding blanks allowed). Returns 0 and sets *out, or TT_EINVAL (also on
 * overflow). 0 means unlimited where it is used for proxy-body-size. */
int tt_model_parse_size(const char *s, uint64_t *out);

/* Ready-made callbacks for tt_model_build (|ud| unused): one WARN line, module "model", msg
 * "path skipped" (reason starts with "spec.") or "ingress rejected", fields kind, object,
 * reason; and one DEBUG line "ingress ignored" for cfg->on_ignore. */
void tt_model_log_reject(void *ud, const char *kind, const char *object, const char *reason);
void tt_model_log_ignore(void *ud, const char *kind, const char *object, const char *reason);

#endif
