/* model/affinity.c - the session-affinity annotations, read and validated the way
 * ingress-nginx's sessionaffinity parser and its validators do (spec/ingress-nginx-annotations.md
 * §1.1): every validator sees the raw value; option lists trim blanks first, character classes
 * skip spaces, booleans are Go's strconv.ParseBool of the raw value. One deliberate fix: the
 * expires/max-age regex `(^0|-?[1-9]\d*$)` is not anchored at both ends and lets "0abc" or
 * "x12" through to a Lua tonumber() that then fails per request, so we accept only whole
 * decimal numbers (the spec's recommendation). SameSite is mapped case-insensitively to its
 * canonical spelling, where ingress-nginx passes "lax" through and the cookie library drops it
 * (spec §5: do better). */
#include "model/annotations.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/internal.h"

/* A whole number of seconds: blanks trimmed, optional '-', decimal digits, within int64. */
static bool seconds(const char *raw, int64_t *out)
{
    struct tt_slice v = tt_model__go_trim(raw);
    bool neg = v.len > 0 && v.ptr[0] == '-';
    uint64_t n = 0;
    size_t i = neg ? 1 : 0;

    if (i == v.len)
        return false;
    for (; i < v.len; i++) {
        unsigned d = (unsigned)(unsigned char)v.ptr[i] - '0';
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    if (n > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return false;
    *out = neg ? (int64_t)(0 - n) : (int64_t)n;
    return true;
}

/* A boolean annotation: false when absent; a bad value is reported and counts as false. */
static bool flag(const struct tt_model__ann *a, const char *name)
{
    char key[TT_MODEL__KEY_MAX];
    const char *v = tt_model__ann_get(a, name, key, sizeof(key));
    bool b = false;

    if (v != NULL && !tt_model__go_bool(v, &b)) {
        tt_model__ann_bad(a, key, v, "is not true or false; using false");
        b = false;
    }
    return b;
}

/* session-cookie-expires / -max-age into *has and *val. */
static void secs(const struct tt_model__ann *a, const char *name, bool *has, int64_t *val)
{
    char key[TT_MODEL__KEY_MAX];
    const char *v = tt_model__ann_get(a, name, key, sizeof(key));

    *has = false;
    *val = 0;
    if (v == NULL)
        return;
    if (!seconds(v, val)) {
        tt_model__ann_bad(a, key, v, "is not a whole number of seconds; ignored");
        *val = 0;
        return;
    }
    *has = true;
}

/* A string checked by tt_model__chars_ok (spaces skipped): the trimmed value (inner spaces kept,
 * as ingress-nginx does), or an empty slice when absent or bad. */
static struct tt_slice text(const struct tt_model__ann *a, const char *name, const char *extra,
                            const char *why)
{
    char key[TT_MODEL__KEY_MAX];
    const char *v = tt_model__ann_get(a, name, key, sizeof(key));

    if (v == NULL)
        return tt_slice_make(NULL, 0);
    if (!tt_model__chars_ok(v, extra, true)) {
        tt_model__ann_bad(a, key, v, why);
        return tt_slice_make(NULL, 0);
    }
    return tt_model__go_trim(v);
}

void tt_model_affinity_parse(const struct tt_k8s_object *ing, const char *prefix,
                             tt_model_reject_cb report, void *ud, struct tt_route_affinity *out)
{
    static const char *const types[] = {"cookie"};
    static const char *const modes[] = {"balanced", "persistent"};
    static const char *const behaviors[] = {"sticky", "legacy"};
    static const char *const samesites[] = {"none", "lax", "strict"};
    const struct tt_model__ann a = {ing, prefix, report, ud};
    char key[TT_MODEL__KEY_MAX], key2[TT_MODEL__KEY_MAX];
    const char *v;
    int i;

    memset(out, 0, sizeof(*out));
    if ((v = tt_model__ann_get(&a, "affinity", key, sizeof(key))) != NULL) {
        if (tt_model__option(v, types, 1, false) == 0)
            out->enabled = true;
        else
            tt_model__ann_bad(&a, key, v, "is not cookie; ignored (no affinity)");
    }
    if ((v = tt_model__ann_get(&a, "affinity-mode", key, sizeof(key))) != NULL) {
        if ((i = tt_model__option(v, modes, 2, false)) >= 0)
            out->mode = i == 1 ? TT_ROUTE_AFFINITY_PERSISTENT : TT_ROUTE_AFFINITY_BALANCED;
        else
            tt_model__ann_bad(&a, key, v, "is not balanced or persistent; using balanced");
    }
    if ((v = tt_model__ann_get(&a, "affinity-canary-behavior", key, sizeof(key))) != NULL) {
        if ((i = tt_model__option(v, behaviors, 2, false)) >= 0)
            out->canary_behavior = i == 1 ? TT_ROUTE_CANARY_LEGACY : TT_ROUTE_CANARY_STICKY;
        else
            tt_model__ann_bad(&a, key, v, "is not sticky or legacy; using sticky");
    }
    if (!out->enabled) {
        /* ingress-nginx reads no session-cookie-* key then, so none is reported either. */
        out->mode = TT_ROUTE_AFFINITY_BALANCED;
        return;
    }

#define BASIC "may only hold A-Z a-z 0-9 - . _ ~ / :"
    out->cookie_name =
        text(&a, "session-cookie-name", NULL, BASIC "; using " TT_MODEL_AFFINITY_COOKIE);
    if (out->cookie_name.len == 0)
        out->cookie_name = TT_SLICE_LIT(TT_MODEL_AFFINITY_COOKIE);
    out->path = text(&a, "session-cookie-path", ",?&=", BASIC " , ? & =; using the Ingress path");
    out->domain = text(&a, "session-cookie-domain", NULL, BASIC "; ignored (no Domain)");
#undef BASIC
    if ((v = tt_model__ann_get(&a, "session-cookie-samesite", key, sizeof(key))) != NULL) {
        if ((i = tt_model__option(v, samesites, 3, true)) >= 0)
            out->samesite = (enum tt_route_samesite)(TT_ROUTE_SAMESITE_NONE + i);
        else
            tt_model__ann_bad(&a, key, v, "is not None, Lax or Strict; ignored");
    }
    out->conditional_samesite_none = flag(&a, "session-cookie-conditional-samesite-none");
    out->secure = flag(&a, "session-cookie-secure");
    out->change_on_failure = flag(&a, "session-cookie-change-on-failure");
    secs(&a, "session-cookie-expires", &out->has_expires, &out->expires);
    secs(&a, "session-cookie-max-age", &out->has_max_age, &out->max_age);

    /* controller.go: "session-cookie-path should be set when use-regex is true". The path is
     * then taken as written, as ingress-nginx does (tether matches it literally anyway). */
    if (out->path.len == 0 && (v = tt_model__ann_get(&a, "use-regex", key, sizeof(key))) != NULL) {
        bool regex = false;
        if (tt_model__go_bool(v, &regex) && regex && report != NULL) {
            char reason[1024];
            snprintf(key2, sizeof(key2), "%s/session-cookie-path", prefix);
            snprintf(reason, sizeof(reason),
                     "annotation %s should be set when %s is true; the cookie Path is each "
                     "path as written",
                     key2, key);
            report(ud, "Ingress", ing->key, reason);
        }
    }
}
