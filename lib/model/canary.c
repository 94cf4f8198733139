/* model/canary.c - the canary annotations, read and validated the way ingress-nginx's canary
 * parser (internal/ingress/annotations/canary/main.go) and its validators do
 * (spec/ingress-nginx-annotations.md §3.1): canary is a Go bool, the weights are Go's Atoi of
 * the raw value, header, header value and cookie take the basic character class with spaces
 * skipped for the check, the header pattern the path-regex class without spaces. Each bad value
 * is reported and counts as absent, and canary configuration without canary: "true" is
 * reported and dropped as a whole ("configured but not enabled"). Whether the pattern compiles
 * is the builder's business (it compiles it once per table). */
#include "model/annotations.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model/internal.h"

/* ingress-nginx's IsValidRegex adds these to the basic class. */
#define REGEX_CHARS "^$[](){}*+?|&=\\"
#define BASIC       "may only hold A-Z a-z 0-9 - . _ ~ / :; ignored"

/* A string annotation: the trimmed value (inner spaces kept, as ingress-nginx's parseString
 * does), or an empty slice when absent or bad. */
static struct tt_slice text(const struct tt_model__ann *a, const char *name, const char *extra,
                            bool skip_space, const char *why)
{
    char key[TT_MODEL__KEY_MAX];
    const char *v = tt_model__ann_get(a, name, key, sizeof(key));

    if (v == NULL)
        return tt_slice_make(NULL, 0);
    if (!tt_model__chars_ok(v, extra, skip_space)) {
        tt_model__ann_bad(a, key, v, why);
        return tt_slice_make(NULL, 0);
    }
    return tt_model__go_trim(v);
}

/* An integer annotation: |def| when absent or bad (reported). */
static int64_t integer(const struct tt_model__ann *a, const char *name, int64_t def,
                       const char *why)
{
    char key[TT_MODEL__KEY_MAX];
    const char *v = tt_model__ann_get(a, name, key, sizeof(key));
    int64_t n;

    if (v == NULL)
        return def;
    if (!tt_model__go_atoi(v, &n)) {
        tt_model__ann_bad(a, key, v, why);
        return def;
    }
    return n;
}

/* The weight and total the balancer uses: total = |total| when above 100, else 100; weight
 * clamped to 0..total. A total beyond uint32 is brought down to UINT32_MAX and the weight
 * with it, so the share stays what was asked for (to within 1 in 4 billion). */
static void weights(int64_t weight, int64_t total, uint32_t *w_out, uint32_t *t_out)
{
    uint64_t t = total > 100 ? (uint64_t)total : 100;
    uint64_t w = weight > 0 ? (uint64_t)weight : 0;

    if (w > t)
        w = t;
    if (t > UINT32_MAX) {
        w = (uint64_t)((unsigned __int128)w * UINT32_MAX / t);
        t = UINT32_MAX;
    }
    *w_out = (uint32_t)w;
    *t_out = (uint32_t)t;
}

/* snprintf at |*len| into |buf| of |cap| bytes; a result that does not fit is cut, and
 * |*len| never passes cap - 1. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len + 1 >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

/* Whether annotation key |k| is one a canary Ingress inherits from its primary (spec §3.4)
 * although tether applies it on ordinary Ingresses. */
static bool inherited(const char *k, const char *prefix)
{
    size_t n = strlen(prefix);

    if (strncmp(k, prefix, n) != 0 || k[n] != '/')
        return false;
    k += n + 1;
    return strcmp(k, "affinity") == 0 || strcmp(k, "affinity-mode") == 0 ||
           strncmp(k, "session-cookie-", 15) == 0 || strcmp(k, "proxy-body-size") == 0;
}

/* One report naming the inherited annotations the canary Ingress sets. */
static void report_inherited(const struct tt_model__ann *a)
{
    const struct tt_k8s_meta *m = &a->ing->meta;
    char reason[512] = "";
    size_t len = 0;
    int k = 0;

    if (a->report == NULL)
        return;
    for (size_t i = 0; i < m->n_annotations; i++) {
        if (!inherited(m->annotations[i].key, a->prefix))
            continue;
        append(reason, sizeof(reason), &len, "%s%s", k > 0 ? ", " : "annotations ",
               m->annotations[i].key);
        k++;
    }
    if (k == 0)
        return;
    append(reason, sizeof(reason), &len,
           " %s not used on a canary Ingress: the primary rule's settings apply (its "
           "affinity too, unless %s/affinity-canary-behavior is legacy)",
           k > 1 ? "are" : "is", a->prefix);
    a->report(a->ud, "Ingress", a->ing->key, reason);
}

void tt_model_canary_parse(const struct tt_k8s_object *ing, const char *prefix,
                           tt_model_reject_cb report, void *ud, struct tt_model_canary *out)
{
    static const char *const behaviors[] = {"sticky", "legacy"};
    const struct tt_model__ann a = {ing, prefix, report, ud};
    char key[TT_MODEL__KEY_MAX];
    const char *v;
    bool enabled = false;
    int64_t weight, total;
    int i;

    memset(out, 0, sizeof(*out));
    if ((v = tt_model__ann_get(&a, "canary", key, sizeof(key))) != NULL &&
        !tt_model__go_bool(v, &enabled)) {
        tt_model__ann_bad(&a, key, v, "is not true or false; using false");
        enabled = false;
    }
    weight = integer(&a, "canary-weight", 0, "is not an integer; using 0");
    total = integer(&a, "canary-weight-total", 100, "is not an integer; using 100");
    out->header = text(&a, "canary-by-header", NULL, true, BASIC);
    out->header_value = text(&a, "canary-by-header-value", NULL, true, BASIC);
    out->header_pattern =
        text(&a, "canary-by-header-pattern", REGEX_CHARS, false,
             "may only hold A-Z a-z 0-9 - . _ ~ / : ^ $ [ ] ( ) { } * + ? | & = \\; ignored");
    out->cookie = text(&a, "canary-by-cookie", NULL, true, BASIC);

    if (!enabled) {
        /* ingress-nginx: errors.NewInvalidAnnotationConfiguration("canary", "configured but
         * not enabled"); the Ingress then has no canary config at all. */
        const char *set[5];
        size_t n = 0;
        if (weight > 0)
            set[n++] = "canary-weight";
        if (out->header.len > 0)
            set[n++] = "canary-by-header";
        if (out->header_value.len > 0)
            set[n++] = "canary-by-header-value";
        if (out->header_pattern.len > 0)
            set[n++] = "canary-by-header-pattern";
        if (out->cookie.len > 0)
            set[n++] = "canary-by-cookie";
        if (n > 0 && report != NULL) {
            char reason[512] = "";
            size_t len = 0;
            for (size_t k = 0; k < n; k++)
                append(reason, sizeof(reason), &len, "%s%s/%s", k > 0 ? ", " : "", prefix, set[k]);
            append(reason, sizeof(reason), &len,
                   " set but %s/canary is not \"true\" (configured but not enabled): ignored, "
                   "the Ingress is an ordinary one",
                   prefix);
            report(ud, "Ingress", ing->key, reason);
        }
        memset(out, 0, sizeof(*out));
        return;
    }
    out->enabled = true;
    /* Read here only for canaries: tt_model_affinity_parse reads (and reports) it for the
     * ordinary Ingresses, where it changes nothing. */
    if ((v = tt_model__ann_get(&a, "affinity-canary-behavior", key, sizeof(key))) != NULL) {
        if ((i = tt_model__option(v, behaviors, 2, false)) >= 0)
            out->behavior = i == 1 ? TT_ROUTE_CANARY_LEGACY : TT_ROUTE_CANARY_STICKY;
        else
            tt_model__ann_bad(&a, key, v, "is not sticky or legacy; using sticky");
    }
    weights(weight, total, &out->weight, &out->weight_total);
    report_inherited(&a);
}
