/* proxy/canary.c - primary or canary for one request (spec/ingress-nginx-annotations.md §3.2,
 * §3.6): the affinity pin first, then each canary's header and cookie rules in the order the
 * canaries were added, then one weighted draw shared by all of them.
 *
 * With one canary this is ingress-nginx's decision exactly. With several (tether lets several
 * canary Ingresses attach to one rule), a rule that sends "to the primary at once" (header or
 * cookie "never", a pattern that cannot be matched) rules out only its own canary; the draw
 * is made once over the largest total, and each remaining canary owns the next |weight|
 * numbers of it in order.
 *
 * Threads: a worker loop. Never allocates: the PCRE2 match data is the worker's. */
#include "proxy/internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "base/base.h"

static const char *const reason_names[] = {
    [TT_CANARY_NOT_APPLICABLE] = NULL, [TT_CANARY_NONE] = "none",
    [TT_CANARY_PINNED] = "pinned",     [TT_CANARY_HEADER] = "header",
    [TT_CANARY_COOKIE] = "cookie",     [TT_CANARY_WEIGHT] = "weight",
};

const char *tt_canary__reason_name(enum tt_canary_reason r)
{
    return (size_t)r < TT_ARRAY_SIZE(reason_names) ? reason_names[r] : NULL;
}

/* PCRE2's default match limit (10 million) lets a pattern like ^(a+)+$ hold a worker for
 * half a second on a 41-byte header; 100k steps is far above what a header pattern needs
 * and bounds that to about 2 ms. Hitting it is a match error: the request goes to the
 * primary, as ingress-nginx sends it there on any regex error. */
#define REGEX_MATCH_LIMIT 100000

int tt_canary__worker_init(struct tt_worker *w)
{
    w->regex_md = pcre2_match_data_create(1, NULL);
    w->regex_mctx = pcre2_match_context_create(NULL);
    if (w->regex_md == NULL || w->regex_mctx == NULL) {
        tt_canary__worker_dispose(w);
        return TT_ENOMEM;
    }
    pcre2_set_match_limit(w->regex_mctx, REGEX_MATCH_LIMIT);
    return 0;
}

void tt_canary__worker_dispose(struct tt_worker *w)
{
    pcre2_match_data_free(w->regex_md); /* NULL is a no-op */
    pcre2_match_context_free(w->regex_mctx);
    w->regex_md = NULL;
    w->regex_mctx = NULL;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* nginx's $http_<name>: the annotation's '_' and '-' both match '-', any case; a request
 * header whose name holds '_' is dropped by nginx (underscores_in_headers off), so never
 * matches. */
static bool header_name_matches(struct tt_slice req_name, struct tt_slice ann)
{
    if (req_name.len != ann.len)
        return false;
    for (size_t i = 0; i < ann.len; i++) {
        unsigned char r = lower((unsigned char)req_name.ptr[i]);
        unsigned char a = lower((unsigned char)ann.ptr[i]);
        if (r == '_' || r != (a == '_' ? '-' : a))
            return false;
    }
    return true;
}

/* The first header of that name, like $http_<name>. */
static bool find_header(const struct tt_http_head *req, struct tt_slice name, struct tt_slice *out)
{
    for (uint32_t i = 0; i < req->n_fields; i++)
        if (header_name_matches(tt_http_field_name(req, i), name)) {
            *out = tt_http_field_value(req, i);
            return true;
        }
    return false;
}

/* nginx's $cookie_<name>: the first cookie of that name (compared without case) over all
 * Cookie headers; the value runs to the next ';'. */
static bool find_cookie(const struct tt_http_head *req, struct tt_slice name, struct tt_slice *out)
{
    for (uint32_t i = 0; i < req->n_fields; i++) {
        struct tt_slice v;
        const char *p, *end;
        if (!tt_slice_eq_nocase(tt_http_field_name(req, i), TT_SLICE_LIT("cookie")))
            continue;
        v = tt_http_field_value(req, i);
        for (p = v.ptr, end = v.ptr + v.len; p < end;) {
            const char *semi = memchr(p, ';', (size_t)(end - p)), *stop = semi ? semi : end;
            const char *eq;
            while (p < stop && (*p == ' ' || *p == '\t'))
                p++;
            eq = memchr(p, '=', (size_t)(stop - p));
            if (eq != NULL && (size_t)(eq - p) == name.len &&
                tt_slice_eq_nocase(tt_slice_make(p, name.len), name)) {
                *out = tt_slice_make(eq + 1, (size_t)(stop - eq - 1));
                return true;
            }
            p = stop + 1;
        }
    }
    return false;
}

/* The ruled-out set below is one bit per canary. */
_Static_assert(TT_ROUTE_MAX_CANARIES <= 64, "one uint64_t bit per canary");

/* What a canary's header and cookie rules say about this request. */
enum verdict { FALL_THROUGH = 0, TO_CANARY, RULED_OUT };

static enum verdict header_rule(const struct tt_route_canary *c, const struct tt_http_head *req,
                                struct tt_worker *w)
{
    struct tt_slice v;
    int rc;

    if (c->header.len == 0 || !find_header(req, c->header, &v))
        return FALL_THROUGH;
    if (c->header_value.len > 0)
        return tt_slice_eq(v, c->header_value) ? TO_CANARY : FALL_THROUGH;
    if (c->header_pattern.len > 0) {
        if (c->header_regex == NULL)
            return RULED_OUT; /* ingress-nginx: a regex error sends the request to the primary */
        rc = pcre2_match(c->header_regex, (PCRE2_SPTR)v.ptr, v.len, 0, 0, w->regex_md,
                         w->regex_mctx);
        if (rc >= 0)
            return TO_CANARY;
        return rc == PCRE2_ERROR_NOMATCH ? FALL_THROUGH : RULED_OUT;
    }
    if (tt_slice_eq(v, TT_SLICE_LIT("always")))
        return TO_CANARY;
    if (tt_slice_eq(v, TT_SLICE_LIT("never")))
        return RULED_OUT;
    return FALL_THROUGH;
}

static enum verdict cookie_rule(const struct tt_route_canary *c, const struct tt_http_head *req)
{
    struct tt_slice v;

    if (c->cookie.len == 0 || !find_cookie(req, c->cookie, &v))
        return FALL_THROUGH;
    if (tt_slice_eq(v, TT_SLICE_LIT("always")))
        return TO_CANARY;
    if (tt_slice_eq(v, TT_SLICE_LIT("never")))
        return RULED_OUT;
    return FALL_THROUGH;
}

static bool live(const struct tt_route_canary *c)
{
    return c->backend != NULL && c->backend->n_endpoints > 0;
}

enum tt_canary_reason tt_canary__choose(const struct tt_route_rule *rule,
                                        const struct tt_http_head *req, struct tt_worker *w,
                                        const struct tt_route_canary **out)
{
    const struct tt_route_affinity *pa = &rule->policy.affinity;
    struct tt_affinity_cookie cookie = {{NULL, 0}, {NULL, 0}};
    uint64_t ruled_out = 0; /* bit i: canary i may not take this request */
    uint32_t n = rule->n_canaries, total = 0, r, upto = 0;
    bool any = false;

    *out = NULL;
    if (rule->n_canaries == 0)
        return TT_CANARY_NOT_APPLICABLE;
    /* 1. A session pinned to the primary stays there, ahead of every rule. Canaries are only
     * sticky under a sticky primary, with its cookie. */
    if (pa->enabled) {
        /* Read as the sticky balancer reads it. Out of memory reads as no cookie (not
         * pinned); the sticky start that follows then answers 503. */
        if (tt_sticky__read_cookie(pa->cookie_name, req, &cookie) != 0)
            memset(&cookie, 0, sizeof(cookie));
        if (tt_affinity_is_affinitized(pa->state, cookie.backend_key))
            return TT_CANARY_PINNED;
    }
    /* 2. Canaries without endpoints take nothing. */
    for (uint32_t i = 0; i < n; i++)
        any = any || live(&rule->canaries[i]);
    if (!any)
        return TT_CANARY_NONE;
    /* 3. A session pinned to a canary stays there. */
    for (uint32_t i = 0; i < n; i++) {
        const struct tt_route_canary *c = &rule->canaries[i];
        if (live(c) && c->affinity.enabled &&
            tt_affinity_is_affinitized(c->affinity.state, cookie.backend_key)) {
            *out = c;
            return TT_CANARY_PINNED;
        }
    }
    /* 4, 5. Header, then cookie, canary by canary. */
    for (uint32_t i = 0; i < n; i++) {
        const struct tt_route_canary *c = &rule->canaries[i];
        enum verdict v;
        if (!live(c))
            continue;
        if ((v = header_rule(c, req, w)) == TO_CANARY) {
            *out = c;
            return TT_CANARY_HEADER;
        }
        if (v == RULED_OUT) {
            ruled_out |= 1ull << i;
            if (rule->n_canaries == 1)
                return TT_CANARY_HEADER;
            continue;
        }
        if ((v = cookie_rule(c, req)) == TO_CANARY) {
            *out = c;
            return TT_CANARY_COOKIE;
        }
        if (v == RULED_OUT) {
            ruled_out |= 1ull << i;
            if (rule->n_canaries == 1)
                return TT_CANARY_COOKIE;
        }
    }
    /* 6. One draw r in 1..T; canary i owns the next weight_i numbers after those before it. */
    for (uint32_t i = 0; i < n; i++)
        if (live(&rule->canaries[i]))
            total = TT_MAX(total, rule->canaries[i].weight_total);
    r = (uint32_t)(tt_worker__rand(w) % total) + 1;
    for (uint32_t i = 0; i < n; i++) {
        const struct tt_route_canary *c = &rule->canaries[i];
        if (!live(c))
            continue;
        upto += c->weight;
        if (r <= upto) {
            if (ruled_out & (1ull << i))
                break;
            *out = c;
            return TT_CANARY_WEIGHT;
        }
    }
    return upto > 0 ? TT_CANARY_WEIGHT : TT_CANARY_NONE; /* the draw kept it on the primary */
}
