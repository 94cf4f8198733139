/* model/annotations.h - Ingress annotations -> policy settings, with ingress-nginx's names,
 * values, defaults and validation (spec/ingress-nginx-annotations.md §1). Today: the session
 * affinity family. Keys are "<prefix>/<name>", prefix from --annotations-prefix.
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

#endif
