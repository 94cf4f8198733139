/* model/annotations.h - Ingress annotations -> policy settings, with ingress-nginx's names,
 * values, defaults and validation (spec/ingress-nginx-annotations.md §1, §3.1): the session
 * affinity family and the canary family. Keys are "<prefix>/<name>", prefix from
 * --annotations-prefix.
 * Threads: the store's owner (watcher, or main at startup), like model/build.h.
 * Invariants: nothing here logs or allocates. A bad value is reported once through the callback
 * (naming the annotation and the value) and then treated as absent; the Ingress is kept. */
#ifndef TT_MODEL_ANNOTATIONS_H
#define TT_MODEL_ANNOTATIONS_H

#include "k8s/objects.h"
#include "model/build.h"
#include "route/route.h"

#define TT_MODEL_AFFINITY_COOKIE "INGRESSCOOKIE" /* session-cookie-name default */

/* Parses the affinity annotations of Ingress |ing| (annotation prefix |prefix|, e.g.
 * "nginx.ingress.kubernetes.io") into *out, which is fully overwritten:
 *   affinity                        "cookie" (case-sensitive, blanks trimmed) -> enabled
 *   affinity-mode                   "balanced" | "persistent" (case-sensitive); balanced
 *   affinity-canary-behavior        "sticky" | "legacy" (case-sensitive); sticky
 * These three are read whatever |affinity| says; the rest only when it is "cookie":
 *   session-cookie-name             chars A-Z a-z 0-9 - . _ ~ / : (spaces skipped in the
 *                                   check, inner ones kept); INGRESSCOOKIE
 *   session-cookie-path             chars as the name plus , ? & =; unset (out->path len 0:
 *                                   the caller uses each rule's path as written)
 *   session-cookie-domain           chars as the name; unset (no Domain)
 *   session-cookie-samesite         None | Lax | Strict in any case; unset (no SameSite)
 *   session-cookie-expires, -max-age  decimal integer seconds, optional '-', int64; unset
 *   session-cookie-secure, -conditional-samesite-none, -change-on-failure
 *                                   Go strconv.ParseBool (1 t T TRUE true True, 0 f F FALSE
 *                                   false False; no blanks); false
 *   session-cookie-hash             ignored whatever its value (removed in ingress-nginx 0.24)
 * A value that is empty or only blanks counts as absent and is not reported. With affinity
 * on, use-regex "true" and no session-cookie-path, ingress-nginx's warning is reported too.
 * The strings in *out point into |ing|'s annotation values or static memory (valid while
 * |ing| is); out->state is NULL. |report| (may be NULL) gets |ud|, "Ingress" and ing->key. */
void tt_model_affinity_parse(const struct tt_k8s_object *ing, const char *prefix,
                             tt_model_reject_cb report, void *ud, struct tt_route_affinity *out);

/* The canary annotations of one Ingress (spec/ingress-nginx-annotations.md §3.1). */
struct tt_model_canary {
    bool enabled; /* canary is true: a canary Ingress; every other field is zero otherwise */
    struct tt_slice header;         /* canary-by-header; len 0: not set */
    struct tt_slice header_value;   /* canary-by-header-value */
    struct tt_slice header_pattern; /* canary-by-header-pattern, not compiled here */
    struct tt_slice cookie;         /* canary-by-cookie */
    uint32_t weight;                /* canary-weight, clamped to 0..weight_total */
    uint32_t weight_total;          /* canary-weight-total when above 100, else 100 */
    enum tt_route_canary_affinity behavior; /* affinity-canary-behavior */
};

/* Parses the canary annotations of Ingress |ing| (prefix as above) into *out, which is fully
 * overwritten:
 *   canary                     Go strconv.ParseBool of the raw value; false
 *   canary-by-header, -by-header-value, -by-cookie
 *                              chars A-Z a-z 0-9 - . _ ~ / : (spaces skipped in the check,
 *                              inner ones kept, surrounding blanks trimmed); unset
 *   canary-by-header-pattern   chars A-Z a-z 0-9 - . _ ~ / : ^ $ [ ] ( ) { } * + ? | & = \
 *                              (no spaces); unset
 *   canary-weight              Go strconv.Atoi of the raw value (optional sign, digits; "10.5",
 *                              "10%", " 10" are bad); 0. Negative counts as 0, above the total
 *                              as the total.
 *   canary-weight-total        as canary-weight; 100. Only values above 100 are used (a smaller
 *                              one gives 100, as ingress-nginx's balancer does); one above
 *                              UINT32_MAX is scaled down to it together with the weight.
 *   affinity-canary-behavior   "sticky" | "legacy" (case-sensitive, blanks trimmed); sticky
 * A bad value is reported once (annotation and value) and treated as absent, as in
 * tt_model_affinity_parse; an empty or blank value counts as absent. "Configured but not
 * enabled" (ingress-nginx's canary parser): when canary is not true (absent, false or bad) but
 * canary-weight > 0 or any of -by-header, -by-header-value, -by-header-pattern, -by-cookie is
 * set, that is reported once and *out says not enabled: the Ingress is an ordinary one
 * (canary-weight-total alone does not count). When enabled, the annotations tether applies to
 * ordinary Ingresses but a canary Ingress takes from its primary (affinity, affinity-mode,
 * session-cookie-*, proxy-body-size; spec §3.4) are reported once, in one line, as not used.
 * The strings in *out point into |ing|'s annotation values. |report| (may be NULL) gets |ud|,
 * "Ingress" and ing->key. */
void tt_model_canary_parse(const struct tt_k8s_object *ing, const char *prefix,
                           tt_model_reject_cb report, void *ud, struct tt_model_canary *out);

#endif
